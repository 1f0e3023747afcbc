"""Which line of a dead process's output says why it died.

The last line a process wrote is often unrelated to its end (a routine log line before a SIGKILL, or the
shutdown chatter after a traceback). The reason names the error instead: the exception line that closes the
last traceback, else the last line logged at ERROR or CRITICAL; a process killed by a signal without either
is explained by the signal alone, and one that exited with a code by its last line (a usage error, say).
"""
from __future__ import annotations

import re

TAIL_LINES = 60  # lines of the run's output searched for the error
TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")          # "ValueError: boom", "mod.Error: x", "KeyboardInterrupt"
_ERROR_LEVEL = re.compile(r"^(\S+ ){0,3}(ERROR|CRITICAL|FATAL)\b")  # hive_core: "<date> <time> ERROR name: message"
_MARKERS = re.compile(r"^[\s~^-]+$")                             # the carets under a frame's source (3.11+)


def error_line(lines: list[str], exit_code: int | None) -> str:
    """The line of `lines` (a run's last output lines, oldest first) that names the error; '' when none does."""
    lines = [line.strip() for line in lines if line.strip()]
    exception = _exception_line(lines)
    if exception:
        return exception
    for line in reversed(lines):
        if _ERROR_LEVEL.match(line):
            return line
    if exit_code is not None and exit_code < 0:
        return ""  # killed by a signal: the signal is the reason, not what the bot last logged
    return lines[-1] if lines else ""


def _exception_line(lines: list[str]) -> str:
    """The exception line of the last traceback in `lines`: the first line after its frames that is not
    the source line of a frame."""
    starts = [index for index, line in enumerate(lines) if line.startswith(TRACEBACK)]
    if not starts:
        return ""
    after_frame = False
    for line in lines[starts[-1] + 1:]:
        if line.startswith('File "'):
            after_frame = True
            continue
        if _MARKERS.match(line):
            continue
        if after_frame:
            after_frame = False
            if ": " not in line or not _EXCEPTION.match(line):
                continue  # the frame's source line
        if _EXCEPTION.match(line):
            return line
    return ""
