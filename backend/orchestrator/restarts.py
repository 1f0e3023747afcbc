"""When the supervisor restarts a crashed instance, as pure functions (no clock, no database, no runtime).

A failure is the process exiting, or being killed, while its instance was starting or running and no
operator had asked it to stop. The instance's restart policy, how many restarts it already had and when
the failure was noticed decide: restart now, restart later (after an exponential back-off, capped), or
give up and stay in error. `InstanceService.evaluate` gathers the inputs and applies the decision; the
rules know nothing of the runtime's kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.domain.instances import RestartPolicy
from backend.orchestrator.lifecycle import State
from backend.runtimes.base import exit_words

HEALTHY_AFTER = 60.0  # s running after which earlier crashes no longer count against the retries
GIVE_UP_LOG_LINES = 5  # lines of the process's log in the reason of an instance given up on


class Action(StrEnum):
    NONE = "none"          # the policy is never: the instance stays in error
    NOW = "now"
    LATER = "later"
    GIVE_UP = "give_up"    # the retries are used up: the instance stays in error


@dataclass(frozen=True)
class RestartDecision:
    action: Action
    at: float | None    # when the restart happens (NOW and LATER)
    reason: str         # the error's reason: the exit in words, with what happens next


def backoff(policy: RestartPolicy, restarts: int) -> float:
    """The delay before restart number `restarts + 1`: the base delay doubled per earlier restart, capped."""
    return min(policy.max_backoff_s, policy.backoff_s * 2 ** min(restarts, 32))


def decide_restart(policy: RestartPolicy, restarts: int, failed_at: float, now: float, exit_words: str,
                   operator_stopped: bool = False) -> RestartDecision:
    """What to do about a process that ended at `failed_at`, after `restarts` restarts in a row.

    `exit_words` is the exit as the runtime reports it ("killed by SIGKILL: last line"); the reason
    returned starts with it. An instance the operator was stopping is never restarted.
    """
    if operator_stopped or policy.policy == "never":
        return RestartDecision(Action.NONE, None, exit_words)
    if restarts >= policy.max_retries:
        used = f"after {restarts} restart{'' if restarts == 1 else 's'}" if restarts else "(restarts: 0 allowed)"
        return RestartDecision(Action.GIVE_UP, None, f"{exit_words}; gave up {used}")
    at = failed_at + backoff(policy, restarts)
    action = Action.NOW if now >= at else Action.LATER
    return RestartDecision(action, at, f"{exit_words}; restart {restarts + 1} of {policy.max_retries} "
                                       f"in {backoff(policy, restarts):g} s")


def restart_words(restarts: int, policy: RestartPolicy, exit_code: int | None) -> str:
    """The reason of the supervisor's ERROR -> STARTING: "restart 1 of 3 after the process was killed by SIGKILL"."""
    words = exit_words(exit_code)
    ended = f"was {words}" if words.startswith("killed") else words
    return f"restart {restarts} of {policy.max_retries} after the process {ended}"


def restarts_after(restarts: int, state: State, state_since: float, now: float) -> int:
    """The count once the instance has run healthily for HEALTHY_AFTER seconds: back to 0."""
    if state == State.RUNNING and now - state_since >= HEALTHY_AFTER:
        return 0
    return restarts


def with_log_lines(reason: str, lines: list[str]) -> str:
    """A give-up reason with the process's last log lines, so the operator sees why without opening the log."""
    return f"{reason}; last log lines: {' | '.join(lines)}" if lines else reason
