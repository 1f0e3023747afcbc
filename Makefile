# The README's two commands: `make run` and `make test`. Both install what they need first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run test bench browser clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py hive_core/clock.py hive_core/scheduler.py hive_core/orders/rate_limit.py hive_core/market/local_book.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m hive_core info
	touch $(STAMP)

run: install
	$(PY) -m backend.launcher

# Debian's chromium drives the browser tests; Playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium' and try again"; exit 1; \
	  fi; }

test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf build *.egg-info hive_core/*.so hive_core/*.c hive_core/orders/*.so hive_core/orders/*.c \
	  hive_core/market/*.so hive_core/market/*.c test-artifacts
