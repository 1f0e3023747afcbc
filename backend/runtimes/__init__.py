"""Where instances run: the `process` runtime (local subprocesses) now, `docker` later."""
