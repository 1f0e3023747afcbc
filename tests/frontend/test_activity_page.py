"""Activity page: the audit log with who, when, what and the result; the filters narrow it; CSV export."""
from __future__ import annotations

import httpx

from backend.client import HiveClient
from tests.frontend.helpers import errors, table_with

PAGE = "pages/events/activity.py"


def test_the_audit_log_is_listed_filtered_and_exported(app, backend):
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    client.publish_event("tv.signal.buy", {"size": 1}, "all")
    assert httpx.get(f"{backend.url}/auth/check", auth=("mallory", "guess")).status_code == 401
    client.close()

    at = app.switch_page(PAGE).run()
    assert not errors(at) and not at.exception
    rows = table_with(at, "Who").to_dict("records")
    assert [(row["Who"], row["Action"], row["Result"]) for row in rows][:2] == [
        ("login:'mallory' from 127.0.0.1", "login", "refused"), (f"user:{backend.username}", "event", "ok")]
    assert (f"user:{backend.username}", "broker", "start_requested") in [
        (row["Who"], row["Action"], row["Result"]) for row in rows]
    assert "tv.signal.buy" in rows[1]["What"]
    assert {"login", "event", "broker"} <= set(at.selectbox(key="activity_action").options)

    at.selectbox(key="activity_action").select("login").run()
    # the refused login, and the dashboard's own login (a session opened with the password) before it
    assert [(row["Who"], row["Result"]) for row in table_with(at, "Who").to_dict("records")] == [
        ("login:'mallory' from 127.0.0.1", "refused"), (f"user:{backend.username}", "ok")]
    at.selectbox(key="activity_action").select("any").run()
    at.text_input(key="activity_q").input("SIGNAL").run()
    assert [row["Action"] for row in table_with(at, "Who").to_dict("records")] == ["event"]
    at.text_input(key="activity_actor").input("nobody").run()
    assert any(c.value == "Nothing in the audit log matches these filters." for c in at.caption)

    at.text_input(key="activity_actor").input("").run()
    export = at.get("download_button")[0]
    assert export.proto.label == "Export CSV" and not export.proto.disabled
