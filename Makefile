# The course's commands. Every target is idempotent: a second run skips what is done.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
E2E_STAMP := $(VENV)/.e2e-installed
SITE_STAMP := $(VENV)/.site-installed
PORT ?= 8888
LISTEN ?= auto
PORTABLE ?=
SCALE ?= quick
NB ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=
# The worked solutions, where the course has them (a course that hands out only the lectures
# deletes solutions/, and every target below works without it).
SOLUTIONS := $(wildcard solutions)
NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=300 \
	--nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help setup data lab test test-unit test-portable test-e2e course chapters slides site bench lint clean distclean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@[ -n "$(PYTHON)" ] || { echo "Python 3.11 or newer is needed: install it, or pass PYTHON=/path/to/python3.11"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[lab,test,bench]'
	@touch $@

setup: $(STAMP)  ## create .venv and install the course (once)

data: setup  ## prepare and verify Fashion-MNIST and the Kaggle CSVs in data/
	@$(BIN)/python -m d2lutils data

lab: data  ## serve JupyterLab: over SSH on an owner-only socket, else 127.0.0.1:PORT
	@$(BIN)/python -m tools.serve --port $(PORT) --listen $(LISTEN)

test: data  ## unit tests, then every notebook (lectures, solutions) under nbval at D2L_SCALE=smoke
	D2L_SCALE=smoke $(BIN)/python -m pytest tests notebooks $(SOLUTIONS) $(NBVAL) $(PYTEST_ARGS)

test-portable: data  ## nbval again under other CPU kernels and thread counts (PORTABLE=name for one)
	$(BIN)/python -m tools.portable $(foreach c,$(PORTABLE),--config $(c)) -- \
		notebooks $(SOLUTIONS) $(NBVAL) $(PYTEST_ARGS)

test-unit: data  ## the unit and structure tests alone (seconds)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

$(E2E_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[e2e]'
	@touch $@

slides: setup  ## offline reveal.js decks in build/slides/, solutions in build/slides/solutions/
	$(BIN)/python -m tools.slides $(NB)

$(SITE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[site]'
	@touch $@

site: $(SITE_STAMP)  ## the course as a static site in build/site/ (offline, file:// too), decks beside it
	@$(BIN)/python -m tools.site

test-e2e: $(E2E_STAMP) $(SITE_STAMP)  ## browser tests in headless Chromium: decks, live RISE, overflow, site
	$(BIN)/python -m tools.site
	$(BIN)/python -m pytest tests/e2e -m e2e -rs $(PYTEST_ARGS)

course: data  ## re-execute notebooks in place: make course SCALE=quick|full NB=notebooks/08-*.ipynb
	$(BIN)/python -m tools.run_notebooks --scale $(SCALE) $(NB)

chapters: data  ## training chapters as scripts, no Jupyter (GPU nodes), their results recorded: make chapters SCALE=full
	$(BIN)/python -m tools.chapters --record --scale $(SCALE) $(NB)

bench: data  ## ours vs the book's helpers (d2l==1.0.3, installed --no-deps); writes build/bench/
	@$(BIN)/python -c 'import d2l' 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --no-deps d2l==1.0.3
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

lint: setup  ## ruff over the package, tests, tools and notebooks
	$(BIN)/ruff check d2lutils tests tools benchmarks notebooks $(SOLUTIONS)

clean:  ## remove build outputs (keeps .venv and data/)
	rm -rf build .pytest_cache .ruff_cache notebooks/submission.csv

distclean: clean  ## also remove .venv and the data cache
	rm -rf $(VENV)
	find data -mindepth 1 ! -name README.md -delete
