"""PnL over time: realized (solid) and unrealized (dotted) per strategy, from `instance_performance`."""
from __future__ import annotations

import plotly.colors
import plotly.graph_objects as go
import streamlit as st

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
