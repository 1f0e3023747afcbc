"""The strategy library over HTTP: shipped examples, uploads (good and bad), versions."""
from __future__ import annotations

import pytest

from backend.client import BackendError

GOOD = '''from hive_core.strategy import Strategy


class Grid(Strategy):
    """A grid of resting orders."""

    def on_tick(self, now):
        pass
'''
GOOD_V2 = GOOD.replace("A grid of resting orders.", "A wider grid.")


def refused(call, *args) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call(*args)
    return raised.value


def test_list_shows_the_shipped_examples(client) -> None:
    strategies = {s["name"]: s for s in client.list_strategies()}
    assert strategies["market_maker"]["kind"] == "builtin" and strategies["market_maker"]["version"] is None
    assert "momentum" in strategies


def test_upload_stores_version_1_with_description_and_schema(client) -> None:
    detail = client.upload_strategy("grid.py", GOOD)
    assert (detail["name"], detail["kind"], detail["version"]) == ("grid", "uploaded", 1)
    assert detail["description"] == "A grid of resting orders."
    assert detail["source"] == GOOD and [v["version"] for v in detail["versions"]] == [1]
    listed = {s["name"]: s for s in client.list_strategies()}
    assert listed["grid"]["version"] == 1 and listed["grid"]["updated_at"]


def test_save_adds_versions_and_keeps_every_old_one(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    detail = client.save_strategy("grid", GOOD_V2)
    assert detail["version"] == 2 and detail["description"] == "A wider grid."
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert client.strategy_version("grid", 1)["source"] == GOOD
    assert client.strategy_version("grid", 2)["source"] == GOOD_V2
    assert client.save_strategy("grid", GOOD_V2)["version"] == 2  # unchanged source: no new version


def test_syntax_error_is_refused_with_its_line_and_nothing_is_stored(client) -> None:
    source = "from hive_core.strategy import Strategy\n\nclass B(Strategy:\n"
    error = refused(client.upload_strategy, "broken.py", source)
    assert (error.status, error.code) == (422, "invalid_strategy")
    assert error.message.startswith("SyntaxError at line 3:")
    assert "broken" not in {s["name"] for s in client.list_strategies()}
    assert refused(client.get_strategy, "broken").status == 404


def test_file_without_strategy_class_is_refused(client) -> None:
    error = refused(client.upload_strategy, "helper.py", "def helper():\n    return 1\n")
    assert error.code == "invalid_strategy" and "Strategy" in error.message


def test_file_failing_at_import_is_refused_with_hive_core_message(client) -> None:
    source = GOOD + "\nraise RuntimeError('needs a missing API key')\n"
    error = refused(client.upload_strategy, "needs_key.py", source)
    assert error.code == "invalid_strategy" and "needs a missing API key" in error.message
    assert "needs_key" not in {s["name"] for s in client.list_strategies()}


def test_bad_name_shipped_name_and_duplicate_are_refused(client) -> None:
    assert refused(client.upload_strategy, "my-grid.py", GOOD).code == "invalid_name"
    assert refused(client.upload_strategy, "grid.txt", GOOD).code == "invalid_strategy"
    shipped = refused(client.upload_strategy, "momentum.py", GOOD)
    assert (shipped.status, shipped.code) == (409, "name_taken")
    client.upload_strategy("grid.py", GOOD)
    duplicate = refused(client.upload_strategy, "grid.py", GOOD_V2)
    assert (duplicate.status, duplicate.code) == (409, "duplicate_name")


def test_save_refuses_bad_source_shipped_and_unknown_names(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    error = refused(client.save_strategy, "grid", "class X(:\n")
    assert error.code == "invalid_strategy" and error.message.startswith("SyntaxError at line 1")
    assert client.get_strategy("grid")["version"] == 1
    assert refused(client.save_strategy, "momentum", GOOD).code == "read_only"
    assert refused(client.save_strategy, "nothing", GOOD).status == 404
    assert refused(client.strategy_version, "grid", 7).status == 404
