# School Phone Hub: `make demo` and `make test` set up everything from nothing on
# Debian 12 / Raspberry Pi OS bookworm: missing Debian packages, a .venv, the package.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Debian packages the hub needs to build and run (pjsua2 is compiled here, by
# scripts/build-pjsua2, as on the Pi), and those only the tests need.
APT_RUN  := python3 python3-venv python3-dev espeak-ng build-essential pkg-config swig \
            libasound2-dev libopus-dev libssl-dev uuid-dev
APT_TEST := postgresql kamailio kamailio-tls-modules baresip-core sip-tester openssl chromium \
            chromium-l10n shellcheck pulseaudio pulseaudio-utils libasound2-plugins nodejs
# make test-install builds Debian root file systems, one of them arm64 under emulation.
APT_TEST_INSTALL := mmdebstrap qemu-user-static binfmt-support arch-test gpg rsync
# It needs root (chroot, mounts); it reuses the pjsua2 wheel this user's make built.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo test test-install bench lint setup setup-test apt apt-test apt-test-install clean

demo: setup
	$(BIN)/phonehub demo

# Tests that share the cores run TEST_WORKERS at a time; those marked `alone` (sound and
# the wall clock measured, or every core taken) then run by themselves. Both parts always
# run, and either failing fails the target (tests/conftest.py says more).
TEST_WORKERS ?= 3

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not alone"; shared=$$?; \
	$(BIN)/pytest -m alone; alone=$$?; \
	[ $$shared -eq 0 ] && [ $$alone -eq 0 ]

# Proves scripts/install-raspberry-pi in throwaway Debian bookworm root file systems,
# amd64 and arm64 (scripts/test-install). Not part of `make test`: it needs root.
test-install: setup apt-test-install
	$(SUDO) env PHONEHUB_WHEEL_CACHE="$${PHONEHUB_WHEEL_CACHE:-$$HOME/.cache/phonehub/wheels}" \
	    PHONEHUB_SOURCE_CACHE="$${PHONEHUB_SOURCE_CACHE:-$$HOME/.cache/phonehub/sources}" \
	    scripts/test-install

# Measures speed and memory (bench/README.md); writes bench/results.md and .json.
bench: setup-test
	@scripts/apt-ensure strace
	$(BIN)/python -m bench

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: apt $(VENV)/.installed

setup-test: apt-test $(VENV)/.installed-test node_modules/.package-lock.json

# Install only what is missing, so a machine that has everything is left alone.
apt:
	@scripts/apt-ensure $(APT_RUN)

apt-test: apt
	@scripts/apt-ensure $(APT_TEST)
	@# A Node.js from outside Debian brings its own npm, which Debian's npm conflicts with.
	@command -v npm >/dev/null || scripts/apt-ensure npm

apt-test-install:
	@scripts/apt-ensure $(APT_TEST_INSTALL)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# pjsua2 comes from the pinned PJSIP source, built once into a cached wheel.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml scripts/build-pjsua2
	scripts/build-pjsua2 --python $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,postgresql]'
	@touch $@

# axe-core, pinned in package-lock.json, which the browser tests inject into each page.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache node_modules
