# The two commands of README.md are `make run` and `make test`; both install what they need first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The functions' runtime (template.yaml: python3.12), found on PATH or through pyenv: the virtual environment of
# `make run` and `make test` uses it, and sam builds with it (tests/infra/test_runtime.py holds them equal).
PY312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v "$$p"; break; }; done)
REQUIRE_PY312 := "$(or $(PY312),false)" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null || { echo "Protu needs Python 3.12, the functions' runtime: install it (pyenv install 3.12, or your system's python3.12 package) or set PY312=/path/to/python3.12"; exit 1; }
# uv installs from uv.lock (every package pinned, with hashes); it lives in its own environment, pinned here.
UV_VERSION := 0.13.9
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Bytecode, kept out of the tree (these machines set PYTHONDONTWRITEBYTECODE): every Python process of a target
# (pytest's workers, the isolation run's one process per module, the CLI's subprocesses) otherwise compiles moto,
# botocore and the rest from source again, and pytest rewrites its plugins' assertions again: ~7 s of CPU each.
export PYTHONPYCACHEPREFIX := $(CURDIR)/.pycache
export PYTHONDONTWRITEBYTECODE :=
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# pip prints a warning per package for this machine's optional local indexes; keep the output readable.
QUIET_PIP := grep -v -e "is ignored: it is neither a file nor a directory" || true

.PHONY: help install lock layer-requirements chromium run test isolation audit bench lint fmt clean build

help:
	@echo "make run    - start the local Protu (cloud, API, webhooks, SPA) on http://127.0.0.1:$(PORT)"
	@echo "make test   - run the whole test suite, in a random order (ARGS=--random-order-seed=N repeats one)"
	@echo "make isolation - every test passes alone: the tests without the cloud, and modules alone (tests/isolation.py)"
	@echo "make bench  - performance figures as ratios against baselines measured in the same run"
	@echo "make lint   - ruff, cfn-lint and checkov (template.yaml as SAM transforms it, edge.yaml for us-east-1, dr.yaml)"
	@echo "make build  - sam build, then a core layer made for cold start (bytecode, no tools): .aws-sam/build"
	@echo "make lock   - update every pinned dependency (uv.lock) and the core layer's requirements.txt"
	@echo "make audit  - known vulnerabilities in what uv.lock pins (STRICT=1: fail when they could not be checked)"

$(UV):
	@$(REQUIRE_PY312)
	@echo "Installing uv $(UV_VERSION) into $(TOOLS) ..."
	@$(PY312) -m venv $(TOOLS) && $(TOOLS)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) 2>&1 | $(QUIET_PIP)

$(STAMP): pyproject.toml uv.lock | $(UV)
	@$(REQUIRE_PY312)
	@echo "Installing Python dependencies from uv.lock into $(VENV) (Python 3.12) ..."
	@$(UV) sync --locked --quiet --python $(PY312)
	@touch $@

install: $(STAMP)

# Update every pin (uv.lock) to the newest releases pyproject.toml allows, and the core layer's requirements with it.
lock: | $(UV)
	@$(REQUIRE_PY312)
	@$(UV) lock --upgrade --python $(PY312)
	@$(MAKE) --no-print-directory layer-requirements

layer-requirements: | $(UV)
	@$(UV) export --frozen --quiet --no-dev --no-emit-project --format requirements.txt --output-file layers/core/requirements.txt

# Browser tests drive Debian's Chromium (no browser download is possible here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests ..."; \
	  $(SUDO) apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

SAM_VENV := .venv-sam
# The SAM CLI, pinned, in an environment of its own (its dependencies are not the functions').
SAM_VERSION := 1.170.0

# sam build (no Docker: pip takes the wheels of the template's architecture, arm64), then infra/build.py: unused
# packages out, bytecode in: .aws-sam/build. ARCH=x86_64 builds the same for that architecture into
# .aws-sam/build-x86_64 (what tests/build imports on an x86_64 machine: arm64 wheels do not load there).
ARCH ?= arm64
BUILD_DIR := .aws-sam/build$(if $(filter arm64,$(ARCH)),,-$(ARCH))
build: install
	@$(REQUIRE_PY312)
	@$(SAM_VENV)/bin/sam --version 2>/dev/null | grep -q " $(SAM_VERSION)$$" || { echo "Installing aws-sam-cli $(SAM_VERSION) into $(SAM_VENV) ..."; $(PY312) -m venv $(SAM_VENV) && $(SAM_VENV)/bin/python -m pip install -q --disable-pip-version-check aws-sam-cli==$(SAM_VERSION) 2>&1 | $(QUIET_PIP); }
	@mkdir -p .aws-sam && sed -E 's/\barm64\b/$(ARCH)/' template.yaml > .aws-sam/template-$(ARCH).yaml
	@PATH="$$(dirname $(PY312)):$$PATH" $(SAM_VENV)/bin/sam build --template-file .aws-sam/template-$(ARCH).yaml --base-dir . --build-dir $(BUILD_DIR) --cache-dir .aws-sam/cache-$(ARCH) --cached --parallel >/dev/null
	@$(BIN)/python -m infra.build --python $(PY312) --build-dir $(BUILD_DIR)

run: install
	@PORT=$(PORT) $(BIN)/python -m infra.server

# In a random order (modules, and the tests within each); the seed is printed: ARGS=--random-order-seed=N repeats it.
test: install chromium
	@seed=$$RANDOM; echo "make test: random order, --random-order-seed=$$seed"; \
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --random-order-seed=$$seed $(ARGS)

# CI runs it before `make test`: about a minute and a half (ARGS=--all runs every module alone: about 15 minutes).
isolation: install
	@$(BIN)/python -m tests.isolation $(ARGS)

# Known vulnerabilities in every package uv.lock pins (pip-audit); "NOT CHECKED" when no service answered, which
# fails under STRICT=1 (infra/audit.py).
audit: install
	@$(BIN)/python -m infra.audit $(if $(filter 1,$(STRICT)),--strict)

bench: install
	@$(BIN)/python -m tests.bench

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/cfn-lint template.yaml && echo "cfn-lint: template.yaml clean"
	@$(BIN)/cfn-lint edge.yaml --regions us-east-1 && echo "cfn-lint: edge.yaml clean (us-east-1)"
	@$(BIN)/cfn-lint dr.yaml --regions eu-west-1 && echo "cfn-lint: dr.yaml clean (the DR region)"
	@$(BIN)/python -m infra.checkov

fmt: install
	@$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .pycache
