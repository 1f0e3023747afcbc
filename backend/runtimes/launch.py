"""The tiny launcher every local instance runs under: `python -m backend.runtimes.launch EXIT_FILE -- CMD ...`.

It starts CMD as its child (same process group, same stdout/stderr), waits for it, and writes the
child's exit code to EXIT_FILE (negative: killed by that signal), so that the code survives a restart
of the backend, which is not the parent of its instances after it restarts.

The backend stops an instance by signalling the whole process group, so the launcher ignores
SIGTERM/SIGINT/SIGHUP itself: the child receives the signal exactly once, directly, and the launcher
stays to record how it ended. Only the standard library is used here.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _default_signals() -> None:
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m backend.runtimes.launch EXIT_FILE -- CMD ...", file=sys.stderr)
        return 2
    exit_file, command = argv[0], argv[2:]
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    try:
        child = subprocess.Popen(command, preexec_fn=_default_signals)
    except OSError as error:
        print(f"launch error: cannot run {command[0]}: {error.strerror}", file=sys.stderr, flush=True)
        code = 127
    else:
        code = child.wait()
    temporary = f"{exit_file}.tmp"
    with open(temporary, "w") as handle:
        handle.write(f"{code}\n")
    os.replace(temporary, exit_file)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
