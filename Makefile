# ifnscore developer commands. On a fresh machine with Python >= 3.11 and pip:
#   make demo    create .venv, install ifnscore, score the bundled example cohort
#   make test    run the test suite (installs the test extras first)
#   make docs    build the documentation site offline, warnings as errors (docs/_build/html)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# Extras installed by `make test`; CI adds the peers (crosscheck) and the rest.
EXTRAS ?= test

.PHONY: demo test lint docs bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(subst +,$(comma),$*)]"
	@touch $@

comma := ,
install: $(VENV)/.installed-$(subst $(comma),+,$(EXTRAS))

demo: install
	$(BIN)/ifnscore demo

# `make test` also installs the optional readers and dask/zarr, so their tests run; CI
# (.ci/run) adds the peers (crosscheck), notebooks and docs. Tests of a missing extra skip.
TEST_EXTRAS = $(EXTRAS)$(comma)io$(comma)dask$(comma)zarr

test:
	$(MAKE) install EXTRAS="$(TEST_EXTRAS)"
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check ifnscore tests benchmarks
	$(BIN)/ruff format --check ifnscore
	$(BIN)/mypy ifnscore

# `make docs` installs the docs extra on top of EXTRAS (CI's EXTRAS already holds it).
DOCS_EXTRAS = $(if $(filter docs,$(subst $(comma), ,$(EXTRAS))),$(EXTRAS),$(EXTRAS)$(comma)docs)

docs:
	$(MAKE) install EXTRAS="$(DOCS_EXTRAS)"
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache docs/_build docs/generated ifnscore_demo_scores.csv
