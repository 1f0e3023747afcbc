"""Static checks of uploaded strategy files: before any of their code runs."""
from __future__ import annotations

import pytest

from backend.api.errors import status_of
from backend.errors import HiveError
from backend.strategies.validation import check_source, decode_source, name_from_filename

GOOD = "from hive_core.strategy import Strategy\n\nclass Mine(Strategy):\n    def on_tick(self, now):\n        pass\n"


def test_valid_strategy_passes() -> None:
    check_source(GOOD, "mine.py")


def test_strategy_deriving_through_an_alias_or_a_module_attribute_passes() -> None:
    check_source("from hive_core.strategy import Strategy as Base\nclass A(Base):\n    pass\n", "a.py")
    check_source("import hive_core.strategy as s\nclass A(s.Strategy):\n    pass\n", "a.py")
    check_source("from hive_core.strategy import Strategy\nclass Mid(Strategy):\n    pass\n"
                 "class A(Mid):\n    pass\n", "a.py")


def test_syntax_error_is_refused_with_its_line() -> None:
    with pytest.raises(HiveError) as raised:
        check_source("x = 1\n\ndef broken(:\n    pass\n", "bad.py")
    assert status_of(raised.value) == 422 and raised.value.code == "invalid_strategy"
    assert raised.value.detail.startswith("SyntaxError at line 3: ")


def test_file_without_strategy_class_is_refused() -> None:
    with pytest.raises(HiveError, match="no class deriving from Strategy"):
        check_source("class Helper:\n    pass\n", "helper.py")


@pytest.mark.parametrize("filename, expected", [("mine.py", "mine"), ("dir/sub/my_strat2.py", "my_strat2"),
                                                ("C:\\Users\\me\\mm.py", "mm")])
def test_name_is_the_file_stem(filename: str, expected: str) -> None:
    assert name_from_filename(filename) == expected


@pytest.mark.parametrize("filename, code", [("mine.txt", "invalid_strategy"), ("my-strat.py", "invalid_name"),
                                            ("9lives.py", "invalid_name"), (".py", "invalid_strategy")])
def test_bad_file_names_are_refused(filename: str, code: str) -> None:
    with pytest.raises(HiveError) as raised:
        name_from_filename(filename)
    assert (status_of(raised.value), raised.value.code) == (422, code)


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(HiveError, match="not UTF-8"):
        decode_source(b"\xff\xfe\x00")
