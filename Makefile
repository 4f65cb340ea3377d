# probe-nav: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_ARGS ?=

.PHONY: demo test lint bench screenshots clean venv venv-test

$(VENV)/.stamp-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(VENV)/.stamp-run $@

venv: $(VENV)/.stamp-run
venv-test: $(VENV)/.stamp-test

## demo: the main job on the built-in simulator (Ctrl-C to stop)
demo: venv
	$(PY) -m probe_nav demo $(DEMO_ARGS)

## test: lint and the whole test suite
test: venv-test lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

lint: venv-test
	$(PY) -m ruff check .

## bench: benchmarks that print their figures (not pass/fail)
bench: venv-test
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## screenshots: the console's main and training views for the docs (rendered offscreen)
screenshots: venv
	$(PY) -m probe_nav demo --screenshot docs/screenshots/training.png --after 20 --view training
	$(PY) -m probe_nav demo --screenshot docs/screenshots/main.png --after 20 --view main

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
