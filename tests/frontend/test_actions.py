"""errors.run_action: one click is one action, even when Streamlit dispatches its callback in two runs (seen when
a fragment's timed rerun met the click: a strategy reloaded twice) or the operator double-clicks."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from frontend import errors


def _page() -> None:
    import streamlit as st

    from frontend import errors

    calls = st.session_state.setdefault("calls", [])

    def act(word: str) -> None:
        errors.run_action("test", f"act {word}", calls.append, word)

    st.button("A", key="a", on_click=act, args=("a",))
    st.button("B", key="b", on_click=act, args=("b",))


def test_the_same_action_right_after_it_ended_is_not_sent_again() -> None:
    at = AppTest.from_function(_page).run()
    at.button(key="a").click().run()
    at.button(key="a").click().run()   # the same click, dispatched again within REPEAT_SECONDS
    assert at.session_state["calls"] == ["a"]
    at.button(key="b").click().run()
    at.button(key="a").click().run()   # another action came between: sent
    assert at.session_state["calls"] == ["a", "b", "a"]
    assert not at.exception


def test_the_same_action_later_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "REPEAT_SECONDS", 0.0)
    at = AppTest.from_function(_page).run()
    at.button(key="a").click().run()
    at.button(key="a").click().run()
    assert at.session_state["calls"] == ["a", "a"]


def _failing_page() -> None:
    import streamlit as st

    from backend.client import BackendError
    from frontend import errors

    calls = st.session_state.setdefault("calls", [])

    def refuse(word: str) -> None:
        calls.append(word)
        raise BackendError(409, f"{word} refused")

    st.button("A", key="a", on_click=lambda: errors.run_action("test", "act a", refuse, "a"))


def test_a_failed_action_may_be_tried_again_at_once() -> None:
    at = AppTest.from_function(_failing_page).run()
    at.button(key="a").click().run()
    at.button(key="a").click().run()   # the operator fixed the cause and tries again
    assert at.session_state["calls"] == ["a", "a"]
    assert at.session_state["test_error"]["action"] == "act a"
