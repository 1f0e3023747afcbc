"""CPU and memory of a process (broker or instance): current value with a short trend line."""
from __future__ import annotations

import streamlit as st

import CONFIG
from frontend import format as fmt


def _remember(subject: str, cpu: float | None, memory: int | None) -> dict[str, list[float]]:
    history: dict[str, dict[str, list[float]]] = st.session_state["resource_history"]
    samples = history.setdefault(subject, {"cpu": [], "memory": []})
    if cpu is not None:
        samples["cpu"] = (samples["cpu"] + [float(cpu)])[-CONFIG.RESOURCE_SAMPLES:]
    if memory is not None:
        samples["memory"] = (samples["memory"] + [memory / 2**20])[-CONFIG.RESOURCE_SAMPLES:]
    return samples


def resource_metrics(subject: str, cpu: float | None, memory: int | None) -> None:
    """Two metrics side by side; `subject` names whose history the trend lines show (e.g. 'instance:bot1')."""
    samples = _remember(subject, cpu, memory)
    left, right = st.columns(2)
    left.metric("CPU", fmt.percent(cpu), chart_data=samples["cpu"] or None, border=True)
    right.metric("Memory", fmt.size(memory), chart_data=samples["memory"] or None, border=True)
