"""Charts over time: PnL per strategy (realized solid, unrealized dotted) from `instance_performance`, with a marker
at every start of the instance, an instance's resource use from `instance_resources`, and the broker's message rate,
clients, CPU and memory from `broker_metrics`. Times are local."""
from __future__ import annotations

import math

import plotly.colors
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from frontend import format as fmt

TIME_AXIS = {"type": "date", "title": {"text": "local time"}, "hoverformat": "%Y-%m-%d %H:%M:%S"}


def pnl_figure(points: list[dict], starts: list[float] | None = None) -> go.Figure:
    """`starts`: epoch seconds of the instance's starts, oldest first; each within the chart's time gets a dashed
    line labelled with its run number (the trades table's `run`)."""
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
    first = min((p["ts"] for p in points), default=None)
    for run, start in enumerate(starts or [], start=1):
        if first is not None and start >= first - 60:  # a start just before the first point still shows
            figure.add_vline(x=fmt.when(start), line={"dash": "dash", "color": "grey", "width": 1})
            figure.add_annotation(x=fmt.when(start), y=1, yref="paper", text=f"start {run}" if run == 1
                                  else f"restart (run {run})", showarrow=False, xanchor="left", yanchor="bottom",
                                  font={"size": 10, "color": "grey"})
    figure.update_layout(
        height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_title="PnL (quote)", xaxis=TIME_AXIS,
        legend={"orientation": "h", "y": -0.25}, hovermode="x unified",
    )
    return figure


def pnl_chart(points: list[dict], key: str, starts: list[float] | None = None) -> None:
    if not points:
        st.info("No PnL yet: it appears once the strategies report performance, usually within a minute of Running.")
        return
    st.plotly_chart(pnl_figure(points, starts), key=key)


def resources_figure(points: list[dict]) -> go.Figure:
    """CPU % on the left axis, memory (MiB) on the right; network in and out (MiB) when the runtime reports it."""
    series = sorted(points, key=lambda p: p["ts"])
    times = [fmt.when(p["ts"]) for p in series]
    with_network = any(p.get("network_rx_bytes") is not None for p in series)
    figure = make_subplots(rows=2 if with_network else 1, cols=1, shared_xaxes=True,
                           specs=[[{"secondary_y": True}]] + ([[{"secondary_y": False}]] if with_network else []))
    _cpu_and_memory(figure, times, series, row=1)
    if with_network:
        for field, name in (("network_rx_bytes", "network in (MiB)"), ("network_tx_bytes", "network out (MiB)")):
            figure.add_scatter(x=times, y=[_mib(p.get(field)) for p in series], name=name, mode="lines", row=2, col=1)
    figure.update_xaxes(type="date", hoverformat=TIME_AXIS["hoverformat"])
    figure.update_layout(height=380 if with_network else 260, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": -0.25}, hovermode="x unified")
    return figure


def _cpu_and_memory(figure: go.Figure, times: list, series: list[dict], row: int) -> None:
    """CPU % on the left axis of `row`, memory (MiB) on its right one."""
    figure.add_scatter(x=times, y=[p["cpu_percent"] for p in series], name="CPU %", mode="lines", row=row, col=1)
    figure.add_scatter(x=times, y=[_mib(p["memory_bytes"]) for p in series], name="memory (MiB)", mode="lines",
                       row=row, col=1, secondary_y=True)
    figure.update_yaxes(title_text="CPU %", rangemode="tozero", row=row, col=1, secondary_y=False)
    figure.update_yaxes(title_text="MiB", rangemode="tozero", row=row, col=1, secondary_y=True)


def broker_figure(points: list[dict]) -> go.Figure:
    """Messages received per second and connected clients above; the broker's CPU and memory below."""
    series = sorted(points, key=lambda p: p["ts"])
    times = [fmt.when(p["ts"]) for p in series]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           specs=[[{"secondary_y": True}], [{"secondary_y": True}]])
    figure.add_scatter(x=times, y=[p["messages_per_s"] for p in series], name="messages/s", mode="lines", row=1,
                       col=1)
    figure.add_scatter(x=times, y=[p["clients_connected"] for p in series], name="clients", mode="lines", row=1,
                       col=1, secondary_y=True, line={"shape": "hv"})
    figure.update_yaxes(title_text="messages/s", rangemode="tozero", row=1, col=1, secondary_y=False)
    most = max((p["clients_connected"] for p in series if p["clients_connected"] is not None), default=1)
    figure.update_yaxes(title_text="clients", rangemode="tozero", dtick=max(1, math.ceil(most / 4)), row=1, col=1,
                        secondary_y=True)  # whole clients
    _cpu_and_memory(figure, times, series, row=2)
    figure.update_xaxes(type="date", hoverformat=TIME_AXIS["hoverformat"])
    figure.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": -0.15}, hovermode="x unified")
    return figure


def _mib(value: float | None) -> float | None:
    return None if value is None else value / 2**20


def resources_chart(points: list[dict], key: str) -> None:
    if not points:
        st.info("No resource samples yet: they are taken every few seconds while the instance runs.")
        return
    st.plotly_chart(resources_figure(points), key=key)


def broker_chart(points: list[dict], key: str) -> None:
    if not points:
        st.info("No samples of the broker's figures yet: one is taken every few seconds while a broker runs.")
        return
    st.plotly_chart(broker_figure(points), key=key)
