"""The venue side of rate limiting: Binance-style fixed windows, counted per client IP.

Each configured rule is `(limit_type, interval_s, limit)`. Windows are fixed and aligned on the
epoch (a 1-minute window runs from :00 to :59), as on Binance. Every WS API request adds its weight
to the REQUEST_WEIGHT windows of its IP; order requests also add 1 to the ORDERS windows.

- REQUEST_WEIGHT over its limit: status 429, code -1003, `data.retryAfter` = end of that window (ms).
- A request sent by an IP that got a 429 and whose retryAfter has not passed yet: status 418 and a
  ban (`data.bannedUntil`), `ban_seconds` long and doubling on every further ban (Binance scales
  bans from 2 minutes to 3 days). While banned, every request gets 418.
- ORDERS over its limit: status 429, code -1015, for that order request only (no ban).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hive_core.config import RateLimitRule
from hive_core.market.wire import interval_fields

MAX_BAN_SECONDS = 3 * 86_400


@dataclass(slots=True)
class Verdict:
    """What the limiter says about one request: status 200 (go on), 429 or 418 with the error body."""

    status: int = 200
    code: int = 0
    msg: str = ""
    data: dict = field(default_factory=dict)


@dataclass(slots=True)
class _IpState:
    counts: dict = field(default_factory=dict)      # rule index -> (window start, count)
    retry_after: float = 0.0                        # epoch s: a request before this gets banned
    banned_until: float = 0.0
    bans: int = 0


class VenueLimits:
    """Fixed-window counters per IP for the configured rules; `check()` is O(number of rules)."""

    def __init__(self, rules: Iterable[RateLimitRule], *, ban_seconds: float = 120.0,
                 clock: Callable[[], float]) -> None:
        self.rules = list(rules)
        self.ban_seconds = ban_seconds
        self._clock = clock
        self._ips: dict[str, _IpState] = {}
        self.stats = {"requests": 0, "weight": 0, "orders": 0, "rejected_429": 0, "rejected_418": 0}

    def check(self, ip: str, weight: int, is_order: bool) -> Verdict:
        """Count one request of `weight` (and one order when `is_order`) and say whether it may run."""
        now = self._clock()
        state = self._ips.get(ip)
        if state is None:
            state = self._ips[ip] = _IpState()
        self.stats["requests"] += 1
        if now < state.banned_until:
            return self._banned(state, now)
        if now < state.retry_after:
            state.bans += 1
            length = min(self.ban_seconds * 2 ** (state.bans - 1), MAX_BAN_SECONDS)
            state.banned_until = now + length
            return self._banned(state, now)
        self.stats["weight"] += weight
        verdict = Verdict()
        for index, rule in enumerate(self.rules):
            if rule.limit_type != "REQUEST_WEIGHT":
                continue
            count, end = self._add(state, index, rule, weight, now)
            if count > rule.limit and verdict.status == 200:
                state.retry_after = end
                name, num = interval_fields(rule.interval_s)
                verdict = Verdict(429, -1003, f"Too much request weight used; current limit is {rule.limit} request "
                                  f"weight per {num} {name}. Please use WebSocket Streams for live updates to avoid "
                                  f"polling the API.", {"serverTime": _ms(now), "retryAfter": _ms(end)})
        if verdict.status != 200:
            self.stats["rejected_429"] += 1
            return verdict
        if is_order:
            self.stats["orders"] += 1
            for index, rule in enumerate(self.rules):
                if rule.limit_type != "ORDERS":
                    continue
                count, end = self._add(state, index, rule, 1, now)
                if count > rule.limit and verdict.status == 200:
                    name, num = interval_fields(rule.interval_s)
                    verdict = Verdict(429, -1015, f"Too many new orders; current limit is {rule.limit} orders per "
                                      f"{num} {name}.", {"serverTime": _ms(now), "retryAfter": _ms(end)})
            if verdict.status != 200:
                self.stats["rejected_429"] += 1
        return verdict

    def _banned(self, state: _IpState, now: float) -> Verdict:
        self.stats["rejected_418"] += 1
        until = _ms(state.banned_until)
        return Verdict(418, -1003, f"Way too much request weight used; IP banned until {until}. Please use "
                       f"WebSocket Streams for live updates to avoid bans.",
                       {"serverTime": _ms(now), "bannedUntil": until, "retryAfter": until})

    @staticmethod
    def _add(state: _IpState, index: int, rule: RateLimitRule, amount: int, now: float) -> tuple[int, float]:
        start = math.floor(now / rule.interval_s) * rule.interval_s
        held = state.counts.get(index)
        count = amount if held is None or held[0] != start else held[1] + amount
        state.counts[index] = (start, count)
        return count, start + rule.interval_s

    def count(self, ip: str, limit_type: str = "REQUEST_WEIGHT") -> int:
        """The current-window count of the first rule of `limit_type` for `ip` (0 when none)."""
        state = self._ips.get(ip)
        for index, rule in enumerate(self.rules):
            if rule.limit_type == limit_type:
                return self._current(state, index, rule)
        return 0

    def _current(self, state: _IpState | None, index: int, rule: RateLimitRule) -> int:
        if state is None:
            return 0
        held = state.counts.get(index)
        start = math.floor(self._clock() / rule.interval_s) * rule.interval_s
        return held[1] if held is not None and held[0] == start else 0

    def report(self, ip: str, include_orders: bool) -> list[dict]:
        """The `rateLimits` array of a response: each rule with this IP's current count."""
        state = self._ips.get(ip)
        out = []
        for index, rule in enumerate(self.rules):
            if rule.limit_type == "ORDERS" and not include_orders:
                continue
            name, num = interval_fields(rule.interval_s)
            out.append({"rateLimitType": rule.limit_type, "interval": name, "intervalNum": num,
                        "limit": rule.limit, "count": self._current(state, index, rule)})
        return out

    def published(self) -> list[dict]:
        """exchangeInfo.rateLimits."""
        out = []
        for rule in self.rules:
            name, num = interval_fields(rule.interval_s)
            out.append({"rateLimitType": rule.limit_type, "interval": name, "intervalNum": num, "limit": rule.limit})
        return out


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
