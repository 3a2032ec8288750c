# The two commands: `make run` and `make test`. Both set up .venv from pyproject.toml with the
# pinned versions of constraints.txt, then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
RUN_ARGS ?=

.PHONY: run test lint types docs bench clean install dev browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e '.[plots]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/fairtwin run --scenario italy-synthetic --out runs/latest $(RUN_ARGS)

test: $(VENV)/.installed-dev browser
	FAIRTWIN_TEST_POSTGRES_URL="$${FAIRTWIN_TEST_POSTGRES_URL:-$$(scripts/test-postgres.sh)}" \
	  $(BIN)/python -m pytest -q

# Debian's Chromium for the browser test of the rating app (installed when we are root with
# apt-get, as on CI; elsewhere that one test is skipped with the reason).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test"; \
	    apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null; }; \
	  else echo "note: chromium not found and not installable here; the browser test will be skipped"; fi; }

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks

# static types of the package (CI: 0 errors)
types: $(VENV)/.installed-dev
	$(BIN)/python -m mypy src/fairtwin

# the documentation site into site/ (warnings are errors)
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_solvers.py

clean:
	rm -rf $(VENV) build site src/*.egg-info .pytest_cache
