"""Inputs built from a JSON schema (a strategy's `params_schema`), so no form repeats a field list."""
from __future__ import annotations

import json
from typing import Any

import streamlit as st


def _kind(prop: dict) -> str:
    """The JSON type of a property; `anyOf [X, null]` (pydantic's Optional) counts as X."""
    if "enum" in prop:
        return "enum"
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None:
        options = [option for option in prop.get("anyOf", []) if option.get("type") != "null"]
        if options:
            return _kind(options[0])
        return "string"
    return kind


def _bound(prop: dict, name: str, exclusive: str, cast: type) -> Any:
    if name in prop:
        return cast(prop[name])
    if exclusive in prop and cast is int:  # x > 0 for an integer means x >= 1
        return int(prop[exclusive]) + (1 if exclusive == "exclusiveMinimum" else -1)
    return None


def _input(name: str, prop: dict, key: str) -> Any:
    label = prop.get("title") or name
    help_text = prop.get("description")
    default = prop.get("default")
    kind = _kind(prop)
    if kind == "enum":
        options = list(prop["enum"])
        index = options.index(default) if default in options else 0
        return st.selectbox(label, options, index=index, help=help_text, key=key)
    if kind == "boolean":
        return st.checkbox(label, value=bool(default), help=help_text, key=key)
    if kind == "integer":
        return st.number_input(
            label, value=None if default is None else int(default), step=1,
            min_value=_bound(prop, "minimum", "exclusiveMinimum", int),
            max_value=_bound(prop, "maximum", "exclusiveMaximum", int), help=help_text, key=key,
        )
    if kind == "number":
        value = None if default is None else float(default)
        return st.number_input(
            label, value=value, step=_step(value), format="%g",
            min_value=_bound(prop, "minimum", "exclusiveMinimum", float),
            max_value=_bound(prop, "maximum", "exclusiveMaximum", float), help=help_text, key=key,
        )
    if kind == "string":
        return st.text_input(label, value="" if default is None else str(default), help=help_text, key=key)
    # arrays and objects: typed as JSON
    raw = st.text_input(label, value="" if default is None else json.dumps(default),
                        help=(help_text or "") + " (JSON)", key=key)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw  # the backend names the field it cannot read


def _step(value: float | None) -> float:
    """A step of about a tenth of the default, so the +/- buttons make sensible moves."""
    if not value:
        return 0.01
    magnitude = abs(value) / 10
    step = 10 ** int(f"{magnitude:e}".split("e")[1])
    return float(step)


def param_inputs(schema: dict, key_prefix: str, per_row: int = 3) -> dict[str, Any]:
    """One input per property, each starting at its default; blank optional inputs are left out."""
    properties = list((schema.get("properties") or {}).items())
    values: dict[str, Any] = {}
    for start in range(0, len(properties), per_row):
        for column, (name, prop) in zip(st.columns(per_row), properties[start:start + per_row], strict=False):
            with column:
                value = _input(name, prop, key=f"{key_prefix}_{name}")
            if value is not None and value != "":
                values[name] = value
    return values
