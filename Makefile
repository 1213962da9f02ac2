# SMBOS: `make up` runs the fleet, `make test` runs the tests. `make help` lists every target.

PYTHON ?= python3
VENV   ?= .venv
SMBOS  := $(VENV)/bin/smbos
# pytest keeps the modules it rewrites (tests, and plugins' packages such as hypothesis and anyio)
# as bytecode; where PYTHONDONTWRITEBYTECODE is set it would rewrite them all on every run.
PYTEST := PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pytest
STAMP  := $(VENV)/.installed

# Where NanoClaw comes from: a local checkout or tarball (NANOCLAW_SRC), or a git URL, ref and
# sub-folder; empty means smbos's default, the SMBOS fork of NanoClaw at its pinned commit.
NANOCLAW_SRC ?=
NANOCLAW_GIT ?=
NANOCLAW_REF ?=
NANOCLAW_SUBDIR ?=
CA_CERT      ?=
IMAGE        ?= smbos/nanoclaw:local
WAIT         ?= 180

.PHONY: help install check test test-fast test-real generate validate image up down ps demo demo-down bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

install: $(STAMP) ## Make .venv and install smbos with its test extras

check: $(STAMP) ## Static checks: ruff (lint, formatting) over the tree, mypy over smbos/
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

test: $(STAMP) check ## Run the static checks, then every test, the Docker smoke tests included
	$(PYTEST) -q -p no:cacheprovider

test-fast: $(STAMP) ## Run the tests that need no Docker engine
	$(PYTEST) -q -p no:cacheprovider -m "not docker and not browser"

test-real: $(STAMP) ## Run the real-runtime tier (real NanoClaw; SMBOS_NANOCLAW_SRC=dir|tarball|URL#REF:SUBDIR)
	$(PYTEST) -q -p no:cacheprovider -m real

validate: $(STAMP) ## Check every agent folder
	$(SMBOS) validate

generate: $(STAMP) ## Render compose/docker-compose.yml from agents/
	$(SMBOS) generate

SOURCE_ARGS = $(if $(NANOCLAW_SRC),--source $(NANOCLAW_SRC)) $(if $(NANOCLAW_GIT),--git $(NANOCLAW_GIT)) \
	$(if $(NANOCLAW_REF),--ref $(NANOCLAW_REF)) $(if $(NANOCLAW_SUBDIR),--subdir $(NANOCLAW_SUBDIR)) \
	$(if $(CA_CERT),--ca-cert $(CA_CERT))

image: $(STAMP) ## Build the runtime and per-turn agent images (default: the SMBOS fork of NanoClaw)
	$(SMBOS) build --tag $(IMAGE) $(SOURCE_ARGS)

up: $(STAMP) ## Validate, generate, build the images if missing, start every agent and wait until healthy
	$(SMBOS) up --wait-timeout $(WAIT) $(SOURCE_ARGS)

down: $(STAMP) ## Stop and remove the containers; keep every volume and memory file
	$(SMBOS) down

ps: $(STAMP) ## Show the state of every agent
	$(SMBOS) status

demo: $(STAMP) ## Run the whole portfolio offline on the NanoClaw stand-in (not NanoClaw)
	bash tests/docker/demo.sh up

demo-down: $(STAMP) ## Stop the demo fleet
	bash tests/docker/demo.sh down

bench: $(STAMP) ## Run the benchmarks under bench/ and print their figures
	for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean: ## Remove build output (never agents/, state/ or volumes)
	rm -rf build/ .pytest_cache/ .hypothesis/ .mypy_cache/ .ruff_cache/
