# The README's two commands: `make run` and `make test`. Both install what they need first, with the exact
# versions of requirements.lock; `make test-unit` runs the fast layer of the tests, `make lint` ruff and mypy.
VENV   ?= .venv
PY     := $(VENV)/bin/python
LOCK   := requirements.lock
PYTEST_ARGS ?=
# Parallel test workers (pytest-xdist). Most tests wait on subprocesses, brokers and browsers rather than compute,
# so three share two cores well; tests that share one resource (the Docker engine) run in one worker in turn.
TEST_WORKERS ?= 3
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup
UNIT_LAYER := not integration and not e2e and not slow and not fault

# What running needs, and everything (every part, the ccxt venues, the test tools, the linters). One stamp per set,
# so a run-only install followed by `make test` still installs the test tools.
RUN_EXTRAS := backend,dashboard
ALL_EXTRAS := backend,dashboard,ccxt,bench,test,dev
INSTALL_INPUTS := pyproject.toml setup.py $(LOCK) hive_core/clock.py hive_core/scheduler.py \
  hive_core/orders/rate_limit.py hive_core/market/local_book.py hive_core/market/ws_frames.py

.PHONY: install install-all run test test-unit test-fault lint lock bench browser sandbox-tools docker-tools mqtt-tools base-image image broker-image up down clean

install: $(VENV)/.installed-run
install-all: $(VENV)/.installed-all

# $(1): the extras to install. The venv, pip, then Hive itself (editable, compiling the Cython hot paths).
define install_extras
	@echo "installing Hive's dependencies ($(1)) into $(VENV) (first run: about 1-2 minutes)..."
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(LOCK) --upgrade pip
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[$(1)]'
	$(PY) -m hive_core info
endef

$(VENV)/.installed-run: $(INSTALL_INPUTS)
	$(call install_extras,$(RUN_EXTRAS))
	touch $@

# Everything includes what running needs: both stamps.
$(VENV)/.installed-all: $(INSTALL_INPUTS)
	$(call install_extras,$(ALL_EXTRAS))
	touch $@ $(VENV)/.installed-run

run: install sandbox-tools
	$(PY) -m backend.launcher

# $(1): a shell test that holds when the tools are there; $(2): the Debian packages that bring them. Installed
# when the test fails (as root), else the command to run is printed and make stops.
define debian_packages
	@$(1) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); \
	  else \
	    echo "missing: run 'sudo apt-get install $(2)' and try again"; exit 1; \
	  fi; }
endef

# Debian's bubblewrap is the sandbox that imports uploaded strategies and isolates the process runtime's instances
# (prlimit and setpriv come with util-linux).
sandbox-tools:
	$(call debian_packages,command -v bwrap >/dev/null 2>&1,bubblewrap)

# Debian's chromium drives the browser tests; Playwright never downloads a browser of its own.
browser:
	$(call debian_packages,command -v chromium >/dev/null 2>&1,chromium)

# The Docker tests need Debian's engine, debootstrap (the base image), compose v1 and an sshd (the ssh:// host's
# test starts a private one).
docker-tools:
	$(call debian_packages,{ command -v dockerd && command -v debootstrap && command -v docker-compose \
	  && test -x /usr/sbin/sshd; } >/dev/null 2>&1,docker.io debootstrap docker-compose openssh-server)

# The broker ACL tests run the machine's Mosquitto on the files Hive writes for an external broker.
mqtt-tools:
	$(call debian_packages,test -x /usr/sbin/mosquitto,mosquitto)

# Images, built without pulling: the base from debootstrap (deploy/base/build.sh) unless BASE_IMAGE names
# another Debian bookworm with python3 (python:3.11-slim-bookworm, say), then the instance image.
BASE_IMAGE ?= $(or $(HIVE_IMAGE_BASE),hive/debian-python:bookworm)
HIVE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
base-image:
	@docker image inspect $(BASE_IMAGE) >/dev/null 2>&1 || deploy/base/build.sh

image: base-image
	docker build --network host --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg HIVE_VERSION=$(HIVE_VERSION) \
	  -f deploy/Dockerfile --target core -t hive/hive-core:$(HIVE_VERSION) .

# The broker container's image (Debian's Mosquitto); the backend builds it itself when it is missing.
broker-image: base-image
	docker build --network host --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg HIVE_VERSION=$(HIVE_VERSION) \
	  -f deploy/Dockerfile --target broker -t hive/hive-broker:$(HIVE_VERSION) .

# The stack of docker-compose.yml (broker, backend, dashboard): `make up` completes .env with generated secrets
# (mode 0600), builds the images (the instance image too, for the docker runtime), starts the stack, waits for
# every health check and prints the URLs and the login. `make down` stops and removes its containers (the data
# folder stays). COMPOSE is `docker compose` (v2) where installed, else Debian's docker-compose 1.29.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
STACK := $(COMPOSE) --env-file $(or $(HIVE_ENV_FILE),.env)
up: image
	python3 deploy/stack.py prepare
	python3 deploy/stack.py ports $(STACK)
	HIVE_IMAGE_BASE=$(BASE_IMAGE) HIVE_VERSION=$(HIVE_VERSION) $(STACK) up -d --build
	python3 deploy/stack.py wait $(STACK)

down:
	$(STACK) down

lint: install-all
	$(PY) -m ruff check .
	$(PY) -m mypy

# pytest's exit code 5 (no test ran) is non-zero, so make fails on it like on any failure. ruff and mypy run as tests
# (tests/test_lint.py), beside the others.
test: install-all browser sandbox-tools docker-tools mqtt-tools
	$(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)

test-unit: install-all sandbox-tools
	$(PY) -m pytest -m "$(UNIT_LAYER)" $(PYTEST_ARGS)

# The fault tests alone (make test runs them too): backends, brokers and bots killed or restarted on purpose.
test-fault: install-all browser sandbox-tools docker-tools mqtt-tools
	$(PY) -m pytest -m fault $(PARALLEL) $(PYTEST_ARGS)

# Regenerates requirements.lock from pyproject.toml with every extra. It keeps the pinned versions that still
# fit the ranges; `make lock LOCK_ARGS=--upgrade` moves everything to the newest releases in range.
LOCK_ARGS ?=
lock: install-all
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --all-extras --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o $(LOCK) pyproject.toml

bench: install-all
	$(PY) -m benchmarks

clean:
	rm -rf build *.egg-info hive_core/*.so hive_core/*.c hive_core/orders/*.so hive_core/orders/*.c \
	  hive_core/market/*.so hive_core/market/*.c test-artifacts
