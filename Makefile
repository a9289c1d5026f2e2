# The two commands: `make demo` (set up, export the default model, score a demo VCF) and
# `make test` (every test).  Both work on a fresh machine with Python 3.11, pip and venv.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export SEQSCORE_HOME ?= $(CURDIR)/.cache
SHARED ?= $(CURDIR)/../shared/data

.PHONY: all setup demo test test-py test-perl models bench clean

all: demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[cpu,export,serve,hail,test]'
	touch $@

setup: $(VENV)/.installed

# The demo needs only the runtime and the exporter (torch CPU), not Hail, Spark or the test tools.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[cpu,export]'
	touch $@

# Export the models from their pinned source wheels (pip download; sha256-checked).
models: setup
	$(BIN)/seqscore export spliceai
	$(BIN)/seqscore export cispliceai

demo: $(VENV)/.installed-demo
	$(BIN)/seqscore export spliceai
	$(BIN)/python -m hail_seqscore.demo
	@echo "Models are in $(SEQSCORE_HOME)/models. To use them from your shell:"
	@echo "  export SEQSCORE_HOME=$(SEQSCORE_HOME)"
	@echo "(without it, seqscore looks in ~/.cache/hail-seqscore and exports SpliceAI there on first use)"

test: models
	$(BIN)/python -m pytest -q --durations=15 tests
	@if [ -d vep_plugin/t ] && ls vep_plugin/t/*.t >/dev/null 2>&1; then \
		PATH=$(CURDIR)/$(BIN):$$PATH prove -j2 -r vep_plugin/t; fi

bench: models
	$(BIN)/python benchmarks/bench_score.py

clean:
	rm -rf $(VENV) .cache build *.egg-info
