"""The process runtime: detached launch, exit codes that survive the backend, stop, re-adoption."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from backend.host import last_output_line
from backend.runtimes.process import ProcessRuntime, _bot_below, describe_exit
from tests.polling import wait_until

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent("""
    import signal, sys, time
    mode = sys.argv[1]
    if mode == "crash":
        print("ValueError: boom", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "traceback":  # the error, then unrelated lines as the bot shuts down
        def connect():
            raise RuntimeError("venue refused the API key")
        try:
            connect()
        except RuntimeError:
            import traceback
            traceback.print_exc()
        print("2026-01-01 10:00:00,000 INFO hive.runtime: closing the venue connection", flush=True)
        print("2026-01-01 10:00:00,001 INFO hive.runtime: bye", flush=True)
        sys.exit(1)
    if mode == "term":
        signal.signal(signal.SIGTERM, lambda *_: (print("graceful stop", flush=True), sys.exit(0)))
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("bot up", flush=True)
    while True:
        time.sleep(0.1)
""")


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    (tmp_path / "fake_bot.py").write_text(SCRIPT)
    directory = tmp_path / "instances" / "bot"
    directory.mkdir(parents=True)
    yield directory
    for process in psutil.process_iter(["cmdline"]):  # leftovers of this test only, by pid
        if str(tmp_path) in " ".join(process.info["cmdline"] or []):
            process.kill()


def start(instance_dir: Path, mode: str) -> tuple[ProcessRuntime, dict]:
    runtime = ProcessRuntime([sys.executable, str(instance_dir.parent.parent / "fake_bot.py"), mode])
    handle = runtime.start("bot", instance_dir, instance_dir / "config.yml")
    return runtime, handle


@pytest.mark.fault
def test_crash_exit_code_and_last_stderr_line_are_reported(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "crash")
    state = wait_until(lambda: (s := runtime.poll(handle)) and not s.alive and s, 10)
    assert state.exit_code == 3
    assert state.detail == "exited with code 3: ValueError: boom"
    assert (instance_dir / "exit_code").read_text().strip() == "3"


@pytest.mark.fault
def test_exit_code_survives_a_backend_restart(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "crash")
    wait_until(lambda: (instance_dir / "exit_code").exists(), 10)
    fresh = ProcessRuntime(runtime.core_argv)  # a new backend: not the parent, knows only the handle
    assert fresh.adopt(handle) is False
    assert fresh.poll(handle).detail == "exited with code 3: ValueError: boom"


def test_process_runs_detached_with_its_own_session_and_is_adopted_again(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "term")
    wait_until(lambda: "bot up" in (instance_dir / "process.log").read_text(), 10)
    assert handle["pid"] and handle["pid"] != handle["launcher_pid"]
    assert os.getsid(handle["launcher_pid"]) == handle["launcher_pid"] != os.getsid(0)
    fresh = ProcessRuntime(runtime.core_argv)
    assert fresh.adopt(handle) is True and fresh.poll(handle).alive
    wait_until(lambda: fresh.resources(handle).memory_bytes, 5)
    fresh.terminate(handle)
    state = wait_until(lambda: (s := fresh.poll(handle)) and not s.alive and s, 10)
    assert state.exit_code == 0 and state.detail == "exited with code 0: graceful stop"


@pytest.mark.fault
def test_a_run_lasts_until_its_keeper_has_written_the_exit_code(instance_dir: Path) -> None:
    """Under bwrap (root) the stop's SIGTERM ends bwrap at once; a run whose bot has stopped but whose keeper has not
    yet written the exit code is not over (a restart's new run would otherwise read that code as its own exit)."""
    runtime, handle = start(instance_dir, "term")
    wait_until(lambda: "bot up" in (instance_dir / "process.log").read_text(), 10)
    wait_until(lambda: handle.get("keeper_pid") or (runtime.poll(handle) and None), 10, message="the keeper found")
    os.kill(handle["keeper_pid"], signal.SIGSTOP)  # the keeper is slow to write the exit code
    try:
        runtime.terminate(handle)
        wait_until(lambda: not psutil.pid_exists(handle["pid"])
                   or psutil.Process(handle["pid"]).status() == psutil.STATUS_ZOMBIE, 10, message="the bot stopped")
        assert runtime.poll(handle).alive, "the keeper has not written the exit code yet"
    finally:
        os.kill(handle["keeper_pid"], signal.SIGCONT)
    state = wait_until(lambda: (s := runtime.poll(handle)) and not s.alive and s, 10)
    assert state.exit_code == 0 and state.detail == "exited with code 0: graceful stop"


@pytest.mark.fault
def test_sigkill_of_the_bot_is_reported_as_killed(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "idle")
    os.kill(handle["pid"], signal.SIGKILL)
    state = wait_until(lambda: (s := runtime.poll(handle)) and not s.alive and s, 10)
    assert state.exit_code == -9 and state.detail.startswith("killed by SIGKILL")


@pytest.mark.fault
def test_stubborn_process_is_killed_with_its_whole_group(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "stubborn")
    wait_until(lambda: "bot up" in (instance_dir / "process.log").read_text(), 10)
    runtime.terminate(handle)
    assert runtime.poll(handle).alive
    runtime.kill(handle)
    wait_until(lambda: not runtime.poll(handle).alive, 10)
    assert not psutil.pid_exists(handle["pid"]) or psutil.Process(handle["pid"]).status() == psutil.STATUS_ZOMBIE


@pytest.mark.fault
def test_crash_reason_names_the_exception_not_the_shutdown_lines_after_it(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "traceback")
    state = wait_until(lambda: (s := runtime.poll(handle)) and not s.alive and s, 10)
    assert state.detail == "exited with code 1: RuntimeError: venue refused the API key"


@pytest.mark.fault
def test_a_bot_killed_by_a_signal_is_explained_by_the_signal_not_its_last_log_line(instance_dir: Path) -> None:
    runtime, handle = start(instance_dir, "run")
    wait_until(lambda: "bot up" in (instance_dir / "process.log").read_text(), 10)
    wait_until(lambda: runtime.pid(handle) is not None and runtime.poll(handle).alive, 10)
    os.kill(handle["pid"], signal.SIGKILL)
    state = wait_until(lambda: (s := runtime.poll(handle)) and not s.alive and s, 10)
    assert state.detail == "killed by SIGKILL"


def test_last_line_comes_from_the_current_run_only(tmp_path: Path) -> None:
    log = tmp_path / "process.log"
    log.write_text("=== hive: run of bot at t1 ===\nold failure\n=== hive: run of bot at t2 ===\n")
    assert last_output_line(log) == ""
    assert describe_exit(0, "") == "exited with code 0"
    assert describe_exit(None, "x") == "exited (exit code unknown): x"
    assert describe_exit(-15, "") == "killed by SIGTERM"


PRYING_BOT = textwrap.dedent("""
    import os, sys, time
    print("uid", os.getuid(), os.getgid(), os.getgroups(), flush=True)
    for path in PATHS:
        try:
            open(path, "rb").read()
            print("READ", path, flush=True)
        except OSError as error:
            print("cannot read", path, type(error).__name__, flush=True)
    open("state.json", "w").write("{}")  # its own folder is writable
    print("done", flush=True)
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="instances get users of their own only when the backend runs as "
                    "root: run the tests as root (CI does) to check it")
def test_an_instance_runs_as_its_own_user_and_cannot_read_the_store_nor_another_instances_credentials(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "instances" / "alice").mkdir(parents=True)
    (data / "instances" / "bob").mkdir()
    data.chmod(0o700)
    store, secret = data / "hive.db", data / "instances" / "alice" / "credentials.json"
    for path in (store, secret):
        path.write_text("secret")
        path.chmod(0o600)
    (tmp_path / "prying_bot.py").write_text(f"PATHS = {[str(store), str(secret)]!r}\n{PRYING_BOT}")
    alice = ProcessRuntime([sys.executable, str(tmp_path / "prying_bot.py")])
    alice_handle = alice.start("alice", data / "instances" / "alice", data / "instances" / "alice" / "config.yml")
    bob = ProcessRuntime([sys.executable, str(tmp_path / "prying_bot.py")])
    handle = bob.start("bob", data / "instances" / "bob", data / "instances" / "bob" / "config.yml")
    try:
        state = wait_until(lambda: (s := bob.poll(handle)) and not s.alive and s, 10)
        log = (data / "instances" / "bob" / "process.log").read_text()
        assert state.exit_code == 0, log
        bob_uid, alice_uid = (data / "instances" / "bob").stat().st_uid, secret.stat().st_uid
        assert bob_uid != alice_uid and 0 not in (bob_uid, alice_uid)
        assert f"uid {bob_uid} {bob_uid} []" in log
        assert f"cannot read {store} FileNotFoundError" in log and f"cannot read {secret} FileNotFoundError" in log
        assert (data / "instances" / "bob" / "state.json").stat().st_uid == bob_uid
        assert (data / "instances" / "bob").stat().st_mode & 0o777 == 0o700
        assert secret.stat().st_mode & 0o777 == 0o600
    finally:
        wait_until(lambda: not alice.poll(alice_handle).alive, 10)


def test_the_bot_is_told_from_other_processes_below_the_launcher_by_its_own_command(tmp_path: Path) -> None:
    """Below the launcher there are other processes (bwrap's, setpriv's, ones caught mid-exec with no command
    line): the bot's pid is the one running `... run --config <its config>`, never merely "not the launcher"."""
    config = str(tmp_path / "config.yml")
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        other = subprocess.Popen(["sleep", "30"])
        bot = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "run", "--config", {config!r}])
        print(bot.pid, flush=True)
        time.sleep(30)
    """)
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
    try:
        assert launcher.stdout is not None
        bot_pid = int(launcher.stdout.readline())
        found = _bot_below(psutil.Process(launcher.pid), config)
        assert found is not None and found.pid == bot_pid
        assert _bot_below(psutil.Process(launcher.pid), str(tmp_path / "another.yml")) is None
    finally:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait(10)
