"""Strategies page: the library; upload and its refusal with the line quoted; the editor's save; New opens the
starter in the editor; the versions with their author; diff and roll back; rename and delete ask first and show
the refusal naming the instances; configuration templates made from the params schema, edited and deleted.
Typing in the editor itself is the browser's part (tests/e2e/test_strategies.py)."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from tests.frontend.helpers import errors, table_with

PAGE = "pages/instances/strategies.py"
EDITED = "\n# wider spread\n"

# One backend for the module's tests, on one xdist worker: each works on strategies, an instance and a template of
# its own names, and removes the template and the instance it made.
pytestmark = pytest.mark.xdist_group("frontend-strategies")


@pytest.fixture
def backend(module_backend):
    return module_backend


@pytest.fixture
def client(backend):
    hive = HiveClient(backend.url, backend.username, backend.password)
    yield hive
    hive.close()


def _open(app):
    return app.switch_page(PAGE).run()


def _codes(at) -> list[tuple[str, str]]:
    return [(block.language, block.value) for block in at.code]


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


def test_upload_with_a_syntax_error_shows_the_python_error_and_quotes_its_line(app):
    at = _open(app)
    _upload(at, "broken.py", "x = 1\ndef broken(:\n    pass\n")

    [message] = errors(at)
    assert "Could not upload broken.py" in message
    assert "line 2" in message.lower()
    assert any(block.value == "**Line 2:**" for block in at.markdown)
    assert ("python", "def broken(:") in _codes(at)


def test_upload_then_save_the_edited_source_as_a_new_version_or_refuse_it_with_its_line(app, client):
    source = client.get_strategy("market_maker")["source"]
    at = _open(app)

    _upload(at, "my_maker.py", source)
    assert not errors(at)
    assert at.selectbox(key="strategies_selected").value == "my_maker"
    assert "my_maker" in list(at.dataframe[0].value["Name"])

    tuned = source + "\n# tuned\n"
    at.session_state["strategies_editor_my_maker_1"] = tuned  # as if typed into the editor
    at.run()
    assert any("Unsaved changes" in caption.value for caption in at.caption)
    at.button(key="strategies_save").click().run()
    assert not errors(at)
    assert client.get_strategy("my_maker")["source"] == tuned
    assert [item["version"] for item in client.get_strategy("my_maker")["versions"]] == [1, 2]
    assert not any("Unsaved changes" in caption.value for caption in at.caption)  # the editor holds v2 now

    broken = tuned + "x = = 1\n"
    at.session_state["strategies_editor_my_maker_2"] = broken
    at.button(key="strategies_save").click().run()
    [message] = errors(at)
    line = len(broken.splitlines())
    assert "Could not save my_maker" in message and f"SyntaxError at line {line}" in message
    assert any(block.value == f"**Line {line}:**" for block in at.markdown) and ("python", "x = = 1") in _codes(at)
    assert client.get_strategy("my_maker")["version"] == 2


def test_new_strategy_opens_in_the_editor_then_diff_and_roll_back(app, backend, client):
    at = _open(app)
    at.text_input(key="strategies_new_name").input("my_grid")
    at.button(key="strategies_new_submit").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert at.selectbox(key="strategies_selected").value == "my_grid"
    versions = table_with(at, "Author")
    assert versions[["Version", "Author", "Note", "Run by"]].values.tolist() == [
        ["v1", backend.username, "new from the starter template", "–"]]
    assert any("One version so far" in caption.value for caption in at.caption)

    starter = client.get_strategy("my_grid")["source"]
    client.save_strategy("my_grid", starter + EDITED)  # what the editor's Save sends (typed in the e2e test)
    at.run()
    assert table_with(at, "Author")["Version"].tolist() == ["v2", "v1"]
    assert at.selectbox(key="strategies_diff_from_my_grid_2").value == 1
    [diff] = [value for language, value in _codes(at) if language == "diff"]
    assert diff.splitlines()[:2] == ["--- my_grid.py v1", "+++ my_grid.py v2"] and "+# wider spread" in diff

    at.button(key="strategies_rollback").click().run()
    assert any("Roll **my_grid** back to **v1**" in warning.value for warning in at.warning)
    assert client.get_strategy("my_grid")["version"] == 2  # nothing yet: it asks first
    at.button(key="strategies_rollback_yes").click().run()
    assert not errors(at), errors(at)
    versions = table_with(at, "Author")
    assert versions[["Version", "Note"]].values.tolist()[0] == ["v3", "restored from v1"]
    assert client.get_strategy("my_grid")["source"] == starter


def test_rename_and_delete_ask_first_and_a_refusal_names_the_instance(app, client):
    client.new_strategy("grid")
    client.start_broker()
    client.create_instance({"name": "bot1", "strategies": [{"id": "g1", "strategy": "grid"}], "start": False})
    at = _open(app)
    at.selectbox(key="strategies_selected").select("grid").run()
    assert any(caption.value == "Used by: bot1" for caption in at.caption)
    assert table_with(at, "Author")["Run by"].tolist() == ["bot1"]

    at.text_input(key="strategies_rename_to").input("grid2")
    at.button(key="strategies_rename").click().run()
    assert any("Rename **grid** to **grid2**?" in warning.value for warning in at.warning)
    at.button(key="strategies_confirm_yes").click().run()
    [message] = errors(at)
    assert "Could not rename grid to grid2" in message and "instance bot1 is configured with it" in message

    client.delete_instance("bot1")
    at.button(key="strategies_rename").click().run()
    at.button(key="strategies_confirm_yes").click().run()
    assert not errors(at), errors(at)
    assert at.selectbox(key="strategies_selected").value == "grid2"

    at.button(key="strategies_delete").click().run()
    at.button(key="strategies_confirm_cancel").click().run()
    assert "grid2" in {item["name"] for item in client.list_strategies()}
    at.button(key="strategies_delete").click().run()
    at.button(key="strategies_confirm_yes").click().run()
    assert not errors(at), errors(at)
    assert "grid2" not in {item["name"] for item in client.list_strategies()}
    assert "grid2" not in table_with(at, "Kind")["Name"].tolist()


def test_a_template_is_made_from_the_params_schema_edited_and_deleted(app, client):
    at = _open(app)
    assert at.selectbox(key="strategies_template").value == ""  # "New template"
    at.text_input(key="strategies_template_name").input("tight_mm")
    at.selectbox(key="strategies_template_strategy").select("market_maker").run()
    at.number_input(key="strategies_template_new_market_maker_spread_bps").set_value(4.0)
    at.button(key="strategies_template_save").click().run()
    assert not errors(at), errors(at)
    saved = client.get_config("tight_mm")
    assert saved["script_file_name"] == "market_maker.py" and saved["spread_bps"] == 4.0
    assert set(saved) - {"script_file_name"} == set(client.get_strategy("market_maker")["params_schema"]["properties"])
    templates = table_with(at, "Params")
    assert templates[["Name", "Strategy"]].values.tolist() == [["tight_mm", "market_maker"]]
    assert "spread_bps=4.0" in templates["Params"][0]

    assert at.selectbox(key="strategies_template").value == "tight_mm"  # the saved one is open for editing
    spread = at.number_input(key="strategies_template_tight_mm_market_maker_spread_bps")
    assert spread.value == 4.0  # the inputs start at the template's values
    spread.set_value(6.0)
    at.button(key="strategies_template_save").click().run()
    assert client.get_config("tight_mm")["spread_bps"] == 6.0

    at.button(key="strategies_template_delete").click().run()
    assert any("Delete the template **tight_mm**?" in warning.value for warning in at.warning)
    at.button(key="strategies_template_delete_yes").click().run()
    assert not errors(at), errors(at)
    assert client.list_configs() == []
    assert at.selectbox(key="strategies_template").value == ""
