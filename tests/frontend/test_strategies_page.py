"""Strategies page: library, upload (and its refusals), editor save, old versions."""
from __future__ import annotations

from backend.client import HiveClient
from tests.frontend.helpers import errors

PAGE = "pages/instances/strategies.py"


def _open(app):
    return app.switch_page(PAGE).run()


def _upload(at, filename: str, source: str):
    at.file_uploader[0].set_value((filename, source.encode(), "text/x-python"))
    at.run()
    return at.button(key="strategies_upload_submit").click().run()


def test_library_lists_the_shipped_strategies_with_description(app):
    at = _open(app)

    library = at.dataframe[0].value
    row = library[library["Name"] == "market_maker"].iloc[0]
    assert row["Kind"] == "shipped"
    assert row["Description"]


def test_upload_with_a_syntax_error_shows_the_python_error_and_its_line(app):
    at = _open(app)
    _upload(at, "broken.py", "x = 1\ndef broken(:\n    pass\n")

    [message] = errors(at)
    assert "Could not upload broken.py" in message
    assert "line 2" in message.lower()


def test_upload_then_save_a_new_version_and_view_the_old_one(app, backend):
    client = HiveClient(backend.url, backend.username, backend.password)
    source = client.get_strategy("market_maker")["source"]
    at = _open(app)

    _upload(at, "my_maker.py", source)
    assert not errors(at)
    assert at.selectbox(key="strategies_selected").value == "my_maker"
    assert "my_maker" in list(at.dataframe[0].value["Name"])

    tuned = source + "\n# tuned\n"
    at.session_state["strategies_editor_my_maker_1"] = tuned  # as if typed into the editor
    at.button(key="strategies_save").click().run()
    assert not errors(at)
    assert client.get_strategy("my_maker")["source"] == tuned
    versions = sorted(item["version"] for item in client.get_strategy("my_maker")["versions"])
    assert versions == [1, 2]

    at.selectbox(key="strategies_version_my_maker").select(1).run()
    assert at.code[-1].value.strip() == source.strip()
    at.button(key="strategies_restore").click().run()
    assert client.get_strategy("my_maker")["source"] == source
