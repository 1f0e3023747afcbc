"""The strategy library over HTTP: shipped examples, uploads (good and bad), versions with their authors, new
from the starter, rename, delete, diff, roll back, and which instances use which version."""
from __future__ import annotations

import pytest

from backend.client import BackendError
from tests.backend.conftest import USERNAME
from tests.backend.test_api_instances import spec

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


def test_every_version_records_its_author_and_how_it_came_to_be(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    detail = client.save_strategy("grid", GOOD_V2)
    assert [(v["version"], v["created_by"], v["note"]) for v in detail["versions"]] == [
        (1, USERNAME, ""), (2, USERNAME, "")]
    assert client.strategy_version("grid", 2)["created_by"] == USERNAME


def test_new_strategy_starts_from_a_valid_starter_named_after_it(client) -> None:
    detail = client.new_strategy("my_grid")
    assert (detail["name"], detail["kind"], detail["version"]) == ("my_grid", "uploaded", 1)
    assert "class MyGrid(Strategy):" in detail["source"] and "log_every_ticks" in detail["source"]
    assert detail["description"].startswith("Logs the mid price")
    assert [(v["created_by"], v["note"]) for v in detail["versions"]] == [(USERNAME, "new from the starter template")]
    assert client.save_strategy("my_grid", detail["source"] + "\n# edited\n")["version"] == 2  # it saves as any other
    assert refused(client.new_strategy, "my_grid").code == "duplicate_name"
    assert refused(client.new_strategy, "market_maker").code == "name_taken"
    bad = refused(client.new_strategy, "1st-try")
    assert (bad.status, bad.code) == (422, "invalid_name")


def test_diff_between_two_versions_is_a_unified_diff(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    client.save_strategy("grid", GOOD_V2)
    diff = client.strategy_diff("grid", 1, 2)
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    lines = diff["diff"].splitlines()
    assert lines[:2] == ["--- grid.py v1", "+++ grid.py v2"]
    assert '-    """A grid of resting orders."""' in lines and '+    """A wider grid."""' in lines
    assert client.strategy_diff("grid", 2, 2)["diff"] == ""
    assert refused(client.strategy_diff, "grid", 1, 9).status == 404
    for huge in (0, 2**31, 10**30):  # refused as input, never taken to the store (SQLite cannot hold 10**30)
        assert refused(client.strategy_diff, "grid", 1, huge).status == 422
        assert refused(client.strategy_version, "grid", huge).status == 422


def test_roll_back_stores_the_old_source_as_a_new_noted_version(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    client.save_strategy("grid", GOOD_V2)
    restored = client.restore_strategy_version("grid", 1)
    assert (restored["version"], restored["source"], restored["description"]) == (3, GOOD, "A grid of resting orders.")
    assert [(v["version"], v["note"]) for v in restored["versions"]] == [(1, ""), (2, ""), (3, "restored from v1")]
    again = refused(client.restore_strategy_version, "grid", 1)  # v3 already has v1's source
    assert (again.status, again.code) == (409, "unchanged")
    assert refused(client.restore_strategy_version, "grid", 7).status == 404
    assert refused(client.restore_strategy_version, "momentum", 1).status == 404


def test_rename_keeps_every_version_and_frees_the_old_name(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    client.save_strategy("grid", GOOD_V2)
    renamed = client.rename_strategy("grid", "wide_grid")
    assert renamed["name"] == "wide_grid" and [v["version"] for v in renamed["versions"]] == [1, 2]
    assert client.strategy_version("wide_grid", 1)["source"] == GOOD
    assert refused(client.get_strategy, "grid").status == 404
    client.upload_strategy("grid.py", GOOD)  # the old name is free again
    assert refused(client.rename_strategy, "grid", "wide_grid").code == "duplicate_name"
    assert refused(client.rename_strategy, "grid", "momentum").code == "name_taken"
    assert refused(client.rename_strategy, "grid", "bad name").code == "invalid_name"
    assert refused(client.rename_strategy, "momentum", "mine").code == "read_only"
    assert refused(client.rename_strategy, "ghost", "mine").status == 404


def test_delete_removes_the_strategy_with_its_versions(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    client.delete_strategy("grid")
    assert "grid" not in {s["name"] for s in client.list_strategies()}
    assert refused(client.strategy_version, "grid", 1).status == 404
    assert refused(client.delete_strategy, "grid").status == 404
    assert refused(client.delete_strategy, "momentum").code == "read_only"


@pytest.mark.usefixtures("running_broker")
def test_the_instances_of_each_version_are_shown_and_block_rename_and_delete(client) -> None:
    client.upload_strategy("grid.py", GOOD)
    client.create_instance(spec("bot1", {"id": "g1", "strategy": "grid"}, start=False))
    client.save_strategy("grid", GOOD_V2)
    client.create_instance(spec("bot2", {"id": "g2", "strategy": "grid"}, start=False))
    detail = client.get_strategy("grid")
    assert detail["used_by"] == ["bot1", "bot2"]
    assert {v["version"]: v["instances"] for v in detail["versions"]} == {1: ["bot1"], 2: ["bot2"]}
    assert client.get_strategy("market_maker")["used_by"] == []
    for call, args in ((client.rename_strategy, ("grid", "grid2")), (client.delete_strategy, ("grid",))):
        error = refused(call, *args)
        assert (error.status, error.code) == (409, "in_use")
        assert "instances bot1, bot2 are configured with it" in error.message
    client.delete_instance("bot1")
    client.delete_instance("bot2")
    client.delete_strategy("grid")


def test_every_change_and_refusal_is_audited_with_its_author(client) -> None:
    client.new_strategy("grid")
    client.rename_strategy("grid", "grid2")
    refused(client.delete_strategy, "momentum")
    client.delete_strategy("grid2")
    entries = [(e["actor"], e["action"], e["outcome"], e["detail"]) for e in reversed(client.audit_log())
               if e["action"].startswith("strategy")]
    actor = f"user:{USERNAME}"
    assert entries == [
        (actor, "strategy new", "ok", "grid"),
        (actor, "strategy rename", "ok", "grid -> grid2"),
        (actor, "strategy delete", "refused", "momentum: 'momentum' is a shipped example and cannot be deleted"),
        (actor, "strategy delete", "ok", "grid2"),
    ]
