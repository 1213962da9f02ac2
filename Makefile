# SMBOS: `make up` runs the fleet, `make test` runs the tests. `make help` lists every target.

PYTHON ?= python3
VENV   ?= .venv
SMBOS  := $(VENV)/bin/smbos
PYTEST := $(VENV)/bin/python -m pytest
STAMP  := $(VENV)/.installed

# Where NanoClaw comes from: a local checkout (NANOCLAW_SRC) or a git URL and ref.
NANOCLAW_SRC ?=
NANOCLAW_GIT ?= https://github.com/qwibitai/nanoclaw.git
NANOCLAW_REF ?= main
IMAGE        ?= smbos/nanoclaw:local
WAIT         ?= 180

.PHONY: help install test test-fast generate validate image up down ps demo demo-down bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

install: $(STAMP) ## Make .venv and install smbos with its test extras

test: $(STAMP) ## Run every test, the Docker smoke tests included
	$(PYTEST) -q -p no:cacheprovider

test-fast: $(STAMP) ## Run the tests that need no Docker engine
	$(PYTEST) -q -p no:cacheprovider -m "not docker and not browser"

validate: $(STAMP) ## Check every agent folder
	$(SMBOS) validate

generate: $(STAMP) ## Render compose/docker-compose.yml from agents/
	$(SMBOS) generate

image: $(STAMP) ## Build the runtime image from Dockerfile.nanoclaw (NANOCLAW_SRC=dir or NANOCLAW_GIT/REF)
	$(SMBOS) build --tag $(IMAGE) $(if $(NANOCLAW_SRC),--source $(NANOCLAW_SRC),--git $(NANOCLAW_GIT) --ref $(NANOCLAW_REF))

up: $(STAMP) ## Validate, generate, build the image if missing, start every agent and wait until healthy
	$(SMBOS) up --wait-timeout $(WAIT) $(if $(NANOCLAW_SRC),--source $(NANOCLAW_SRC),--git $(NANOCLAW_GIT) --ref $(NANOCLAW_REF))

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
	rm -rf build/ .pytest_cache/ .hypothesis/
