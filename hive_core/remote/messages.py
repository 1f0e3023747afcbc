"""Payloads of the bot wire protocol (docs/protocol.md), built as plain dicts and JSON text.

Only this module knows the field names on the wire; the bridge publishes what it builds.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from decimal import Decimal
from enum import Enum
from typing import Any

from hive_core.market.types import Order, OrderUpdate, Side, UpdateKind, split_pair


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _clean(value: Any) -> Any:
    """NaN and infinities are not JSON: send null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


_ENCODE = json.JSONEncoder(default=_default, allow_nan=False, separators=(", ", ": ")).encode


def to_json(payload: Any) -> str:
    """JSON primitives only: Decimal -> float, tuple -> list, Enum -> value, unknown -> str, NaN/inf -> null.

    The payload is encoded as it is first (C encoder, no copy); only when it holds a non-finite float
    is it walked and cleaned, then encoded again.
    """
    try:
        return _ENCODE(payload)
    except ValueError:
        return _ENCODE(_clean(payload))


def heartbeat(now: float) -> dict:
    return {"ts": int(now * 1_000_000)}


def status_update(kind: str, msg: str, now: float) -> dict:
    return {"timestamp": int(now * 1000), "type": kind, "msg": msg}


def log_message(record: logging.LogRecord, text: str) -> dict:
    return {"timestamp": record.created, "msg": text, "level_no": record.levelno,
            "level_name": record.levelname, "logger_name": record.name}


def notify_message(seq: int, msg: str, now: float, command: dict | None = None) -> dict:
    """Hummingbot's notification; `command` (Hive) is the structured report of a handled command."""
    message: dict[str, Any] = {"seq": seq, "timestamp": int(now), "msg": msg}
    if command is not None:
        message["command"] = command
    return message


def command_report(command: str, strategy: str | None, status: int, msg: str, origin: dict[str, str],
                   run: str) -> tuple[str, dict]:
    """The P/notify text and the `command` field (Hive) of a handled command.

    Text: `command stop for mm1 from commlib (reply_to rpc-1f2e): ok`, or `...: error: <reply msg>`;
    the parenthesis lists the header fields the request had (node_id, msg_id, reply_to). `run` tells
    this process's reports apart from those of an earlier run of the same instance (seq restarts at 1).
    """
    outcome = "ok" if status < 400 else "error"
    words = f"command {command}" + (f" for {strategy}" if strategy else "")
    words += f" from {origin.get('agent') or 'an unnamed sender'}"
    seen = [f"{name} {origin[name]}" for name in ("node_id", "msg_id", "reply_to") if name in origin]
    words += (f" ({', '.join(seen)})" if seen else "") + f": {outcome}" + (f": {msg}" if outcome == "error" else "")
    return words, {"name": command, "strategy": strategy, "outcome": outcome, "status": status,
                   "origin": dict(origin), "run": run}


def pnl_message(points: dict, now: float) -> dict:
    """P/pnl (hive extension): `strategies` maps each strategy id to its PnL figures."""
    return {"timestamp": now, "strategies": points}


def event_message(kind: str, data: dict, timestamp: float) -> dict:
    return {"timestamp": int(timestamp), "type": kind, "data": data}


def reply_envelope(data: dict, now: float) -> dict:
    return {"header": {"reply_to": "", "timestamp": int(now * 1000), "content_type": "json",
                       "encoding": "utf8", "agent": "commlib"},
            "data": data}


def order_event(update: OrderUpdate, controller_id: str) -> tuple[str, dict] | None:
    """The P/events message (type, data) for one order update, in Hummingbot's event names."""
    order: Order = update.order
    base, quote = split_pair(order.trading_pair)
    buy = order.side is Side.BUY
    common = {"timestamp": update.timestamp, "order_id": order.client_order_id}
    if update.kind is UpdateKind.FILLED and update.fill is not None:
        fill = update.fill
        data = {**common, "trading_pair": order.trading_pair, "trade_type": fill.side.value,
                "order_type": fill.order_type.value, "price": fill.price, "amount": fill.amount,
                # The whole fee is in flat_fees (in quote), so percent is 0, as Hummingbot's
                # AddedToCostTradeFee would say; fee_quote repeats the total for convenience.
                "trade_fee": {"percent": 0.0, "percent_token": quote,
                              "flat_fees": [{"token": quote, "amount": fill.fee_quote}]},
                "fee_quote": fill.fee_quote, "fee_rate": fill.fee_rate, "is_maker": fill.is_maker,
                "exchange_trade_id": fill.trade_id, "exchange_order_id": order.client_order_id,
                "leverage": 1, "position": "NIL", "controller_id": controller_id}
        return "OrderFilled", data
    if update.kind is UpdateKind.CREATED:
        data = {**common, "type": order.order_type.value, "trading_pair": order.trading_pair,
                "amount": order.amount, "price": order.price, "creation_timestamp": order.created_at,
                "exchange_order_id": order.client_order_id, "leverage": 1, "position": "NIL",
                "controller_id": controller_id}
        return ("BuyOrderCreated" if buy else "SellOrderCreated"), data
    if update.kind is UpdateKind.COMPLETED:
        data = {**common, "base_asset": base, "quote_asset": quote, "base_asset_amount": order.filled_amount,
                "quote_asset_amount": order.filled_quote, "order_type": order.order_type.value,
                "exchange_order_id": order.client_order_id, "controller_id": controller_id}
        return ("BuyOrderCompleted" if buy else "SellOrderCompleted"), data
    if update.kind is UpdateKind.CANCELLED:
        data = {**common, "exchange_order_id": order.client_order_id, "controller_id": controller_id}
        if update.reason:
            data["reason"] = update.reason
        return "OrderCancelled", data
    if update.kind is UpdateKind.REJECTED:
        data = {**common, "order_type": order.order_type.value, "error_message": update.reason or "",
                "controller_id": controller_id}
        return "OrderFailure", data
    return None

