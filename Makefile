# The two commands of the README live here: `make demo` runs the whole chain with the kiosk in demo mode,
# `make test` runs the whole test suite. Each sets up what it needs on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-headless test system-deps demo-deps bench clean pi-check pi-deps

$(STAMP): pyproject.toml $(wildcard */__init__.py)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[kiosk,central,test]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps.sh

demo-deps:
	bash .ci/system-deps.sh --demo

# The whole chain: broker (shipped TLS config), ingest, web app, sync agent and the kiosk
# (seeds/demo_chain.py); Ctrl-C stops all of it.
demo: demo-deps $(STAMP)
	$(BIN)/python -m seeds.demo_chain

demo-headless: demo-deps $(STAMP)
	$(BIN)/python -m seeds.demo_chain --headless

# Three workers on the two cores: each takes whole test files (their module-scoped servers and
# chains stay with one worker); the tests wait on brokers, servers, app frames and child
# processes, so even three keep the cores busy only part of the time (user+sys CPU averaged
# 1.57 of the 2 cores). On 2026-12-06/07: 8:26, 8:35 and 8:27 (a fresh clone's CI) against two
# workers' 9:32-10:09 the same evening, all passing but one test that waited 0.5 s for a frame
# (fixed). Tried before on 2026-12-04: 9:09, 9:50, and 11:37 against 11:22, with the sync
# agent's SIGKILL test (since made to wait for the drain) and the demo tests failing then; a
# test that fails only under load is a test to fix. PYTEST_ARGS="-n 0 …" runs in one process.
PYTEST_ARGS ?= -n 3 --dist loadfile --no-loadscope-reorder
# Bytecode kept (an environment may say PYTHONDONTWRITEBYTECODE): the tests start hundreds of
# Python processes (kiosk-central, ingest, the web app, the kiosk), and each compiled the
# project's modules again (0.35 s of CPU for the web app's).
test: system-deps $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: system-deps $(STAMP)
	$(BIN)/python -m benchmarks

# The kiosk on the Pi's architecture: an emulated Debian 12 arm64 userland (tests/pi/pi-check.sh),
# cached in ~/.cache/kundpuls/pi-root.tar (PI_CACHE_DIR to move it, PI_REBUILD=1 to rebuild).
pi-deps:
	@command -v debootstrap >/dev/null && command -v qemu-aarch64-static >/dev/null && command -v Xvfb >/dev/null \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static debootstrap xvfb)

pi-check: pi-deps
	bash tests/pi/pi-check.sh

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts benchmarks/out
