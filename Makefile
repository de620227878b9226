# The two commands of the README:
#   make run    set up a fresh machine and materialize the whole asset graph on the bundled sample (offline)
#   make test   set up everything the tests need and run them
# Other targets: make ui (Dagster UI on http://127.0.0.1:3000), make train (after make run: the tiny CPU training
# and evaluation on the sample), make bench, make clean.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
VAR    := $(CURDIR)/var
export DAGSTER_HOME := $(VAR)/dagster_home
export VIRTUAL_ENV := $(CURDIR)/$(VENV)  # dg uses the project's venv, as if it were activated

.PHONY: run test train ui bench setup setup-dev setup-train browser home clean

run: setup home
	$(BIN)/dg launch --job build_corpus
	@echo
	@echo "Done. Materialized assets (Parquet): $(VAR)/assets/"
	@echo "The corpus and its dataset card:     $(VAR)/corpus/ (bimed_corpus.parquet, README.md)"
	@echo "Run history and lineage:            $(DAGSTER_HOME)"
	@echo "Browse them in the Dagster UI:      make ui   (then open http://127.0.0.1:3000)"

test: setup-dev browser home
	$(BIN)/pytest

# Base model → QLoRA adapter → evaluation report on what `make run` built: the tiny random Mixtral, a few CPU steps.
train: setup-train home
	$(BIN)/dg launch --job train_and_evaluate --config training_jobs/configs/sample_run.yaml
	@echo
	@echo "Done. Adapter, checkpoints and predictions: $(VAR)/training/"
	@echo "The evaluation report (tables, chart):       make ui, then Assets → evaluation_report"

ui: setup home
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: setup-dev
	$(BIN)/python bench/sources_loader.py

setup: $(VENV)/.core
setup-dev: $(VENV)/.dev
setup-train: $(VENV)/.train

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# torch is pinned in the `train` extra (installs the local CPU build; never the CUDA wheels); `k8s` for the
# tests of the GPU pod launch.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,train,k8s]'
	touch $@ $(VENV)/.core $(VENV)/.train

$(VENV)/.train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train]'
	touch $@ $(VENV)/.core

# Browser tests drive Debian's Chromium (Playwright's own browser download is not available offline).
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium chromium-driver >/dev/null; }

# A persistent Dagster home inside the project (git-ignored): history survives restarts.
home:
	@mkdir -p $(DAGSTER_HOME)
	@ln -sfn ../../dagster.yaml $(DAGSTER_HOME)/dagster.yaml

clean:
	rm -rf $(VAR)/assets
