"""Which output line names a dead process's error (backend/runtimes/exit_reason.py)."""
from __future__ import annotations

from backend.runtimes.exit_reason import error_line

TRACEBACK = """\
2026-01-01 10:00:00,000 INFO hive.runtime: starting 2 strategies
Traceback (most recent call last):
  File "/app/hive_core/loader.py", line 40, in load
    module = import_module(name)
             ^^^^^^^^^^^^^^^^^^^
  File "/data/strategies/broken.py", line 3, in <module>
    config = {"depth": 1}[key]
KeyError: 'missing'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/hive_core/cli.py", line 80, in main
    run(config)
hive_core.loader.StrategyLoadError: strategy broken: KeyError: 'missing'
2026-01-01 10:00:00,100 INFO hive.runtime: closing the venue connection
2026-01-01 10:00:00,101 INFO hive.runtime: bye
""".splitlines()


def test_the_exception_line_of_the_last_traceback_beats_the_lines_logged_after_it() -> None:
    assert error_line(TRACEBACK, 1) == "hive_core.loader.StrategyLoadError: strategy broken: KeyError: 'missing'"


def test_a_bare_exception_name_and_a_frame_without_source_line() -> None:
    lines = ["Traceback (most recent call last):", 'File "<frozen runpy>", line 198, in _run_module_as_main',
             "MemoryError: cannot allocate", "shutting down"]
    assert error_line(lines, 1) == "MemoryError: cannot allocate"
    assert error_line(["Traceback (most recent call last):", 'File "x.py", line 1, in f', "f()",
                       "KeyboardInterrupt"], -2) == "KeyboardInterrupt"


def test_without_a_traceback_the_last_error_line_names_it() -> None:
    lines = ["2026-01-01 10:00:00,000 ERROR hive.venue: venue unreachable: connection refused",
             "2026-01-01 10:00:01,000 INFO hive.runtime: bye"]
    assert error_line(lines, 2) == lines[0]


def test_a_signal_without_an_error_is_its_own_reason_and_an_exit_code_keeps_the_last_line() -> None:
    routine = ["2026-01-01 10:00:00,000 INFO hive.strategy.mm1: quoting 100.1 / 100.3"]
    assert error_line(routine, -9) == ""
    assert error_line(["usage: hive_core run --config FILE", "error: the config file is missing"], 2) == \
        "error: the config file is missing"
    assert error_line([], 1) == ""
