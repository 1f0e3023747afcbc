"""Activity page: the audit log, every operator action (logins and failed logins, creates, starts, stops, deletes,
uploads, broker actions, events, webhooks, commands to bots) with who, when, what and the result; filters, paging
and a CSV export of what the filters select."""
from __future__ import annotations

from datetime import date, datetime, time

import streamlit as st

from frontend import errors, session, tables

client = session.client()
ANY = "any"

st.title("Activity")
st.caption("Every operator action and every call from outside (webhooks, commands sent to bots over MQTT), newest "
           "first: who did it, when, what, and how it ended.")


def _epoch(day: object, end: bool) -> float | None:
    """The start of `day` (or its very end, for an `until`) in epoch seconds; None when no day is given."""
    if not isinstance(day, date):
        return None
    moment = datetime.combine(day, time.max if end else time.min)
    return moment.timestamp()


actions = errors.attempt("list the audited actions", client.audit_actions) or []
who, what, result = st.columns(3)
actor = who.text_input("Who", key="activity_actor", placeholder="admin, webhook:, mqtt:...")
action = what.selectbox("Action", [ANY, *actions], key="activity_action")
outcome = result.text_input("Result", key="activity_outcome", placeholder="ok, refused (409), unauthorized...")
instance_col, text_col, since_col, until_col = st.columns(4)
instance = instance_col.text_input("Instance", key="activity_instance")
text = text_col.text_input("Contains", key="activity_q", help="a text in who, action, result or what, any case")
since = since_col.date_input("From", key="activity_since")
until = until_col.date_input("To (included)", key="activity_until")
size, page_col = st.columns(2)
limit = size.selectbox("Entries per page", [50, 200, 1000], key="activity_limit")
page = page_col.number_input("Page", min_value=1, step=1, key="activity_page")

filters = {"actor": actor.strip() or None, "action": None if action == ANY else action,
           "outcome": outcome.strip() or None, "instance": instance.strip() or None, "q": text.strip() or None,
           "since": _epoch(since, end=False), "until": _epoch(until, end=True), "limit": int(limit),
           "offset": (int(page) - 1) * int(limit)}
entries = errors.attempt("read the audit log", lambda: client.audit_entries(**filters))  # (`action` is attempt's)
if entries is not None:
    frame = tables.audit_frame(entries)
    st.caption(f"{len(frame)} entr{'y' if len(frame) == 1 else 'ies'} on page {int(page)}"
               + (" (the next page may hold more)" if len(frame) == int(limit) else ""))
    tables.show_table(frame, "Nothing in the audit log matches these filters.", key="activity_table", height=600)
    tables.csv_download("Export CSV", tables.csv_bytes(entries), "hive-activity.csv", "activity_export",
                        basis=filters, disabled=frame.empty)
