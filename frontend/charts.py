"""Charts over time: PnL per strategy (realized solid, unrealized dotted) from `instance_performance`, and an
instance's resource use from `instance_resources`."""
from __future__ import annotations

import plotly.colors
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from frontend import format as fmt


def pnl_figure(points: list[dict]) -> go.Figure:
    figure = go.Figure()
    palette = plotly.colors.qualitative.Plotly
    strategies = sorted({point["strategy"] for point in points})
    for index, strategy in enumerate(strategies):
        series = sorted((p for p in points if p["strategy"] == strategy), key=lambda p: p["ts"])
        times = [fmt.when(p["ts"]) for p in series]
        colour = palette[index % len(palette)]
        figure.add_scatter(x=times, y=[p["realized"] for p in series], name=f"{strategy} realized",
                           mode="lines", line={"color": colour})
        figure.add_scatter(x=times, y=[p["unrealized"] for p in series], name=f"{strategy} unrealized",
                           mode="lines", line={"color": colour, "dash": "dot"})
    figure.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_title="PnL (quote)",
        legend={"orientation": "h", "y": -0.2}, hovermode="x unified",
    )
    return figure


def pnl_chart(points: list[dict], key: str) -> None:
    if not points:
        st.info("No PnL yet: it appears once the strategies report performance, usually within a minute of Running.")
        return
    st.plotly_chart(pnl_figure(points), key=key)


def resources_figure(points: list[dict]) -> go.Figure:
    """CPU % on the left axis, memory (MiB) on the right; network in and out (MiB) when the runtime reports it."""
    series = sorted(points, key=lambda p: p["ts"])
    times = [fmt.when(p["ts"]) for p in series]
    with_network = any(p.get("network_rx_bytes") is not None for p in series)
    figure = make_subplots(rows=2 if with_network else 1, cols=1, shared_xaxes=True,
                           specs=[[{"secondary_y": True}]] + ([[{"secondary_y": False}]] if with_network else []))
    figure.add_scatter(x=times, y=[p["cpu_percent"] for p in series], name="CPU %", mode="lines", row=1, col=1)
    figure.add_scatter(x=times, y=[_mib(p["memory_bytes"]) for p in series], name="memory (MiB)", mode="lines",
                       row=1, col=1, secondary_y=True)
    if with_network:
        for field, name in (("network_rx_bytes", "network in (MiB)"), ("network_tx_bytes", "network out (MiB)")):
            figure.add_scatter(x=times, y=[_mib(p.get(field)) for p in series], name=name, mode="lines", row=2, col=1)
    figure.update_yaxes(title_text="CPU %", rangemode="tozero", row=1, col=1, secondary_y=False)
    figure.update_yaxes(title_text="MiB", rangemode="tozero", row=1, col=1, secondary_y=True)
    figure.update_layout(height=380 if with_network else 260, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": -0.25}, hovermode="x unified")
    return figure


def _mib(value: float | None) -> float | None:
    return None if value is None else value / 2**20


def resources_chart(points: list[dict], key: str) -> None:
    if not points:
        st.info("No resource samples yet: they are taken every few seconds while the instance runs.")
        return
    st.plotly_chart(resources_figure(points), key=key)
