# probe-nav: `make demo` and `make test` do all set-up on a fresh machine.
# Every install is held to constraints.txt, the exact versions the suite last passed with
# (`make upgrade` refreshes it and runs the suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
CONSTRAINTS ?= constraints.txt
DEMO_ARGS ?=
# pytest-xdist workers; "auto" is one per core. Many tests wait on a simulated device's own clock,
# so two workers per core keep both cores busy.
WORKERS ?= 4
PYTEST := QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n $(WORKERS)

# `make test-repeat 20` (or `make test-repeat N=20`): the number may be given as a second goal.
ifeq (test-repeat,$(firstword $(MAKECMDGOALS)))
  REPEAT := $(or $(word 2,$(MAKECMDGOALS)),$(N),20)
  $(eval $(word 2,$(MAKECMDGOALS)):;@:)
endif

.PHONY: demo test test-repeat lint typecheck bench screenshots soak mutate upgrade system-deps clean \
        venv venv-test

$(VENV)/.stamp-run: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $(VENV)/.stamp-run $@

venv: $(VENV)/.stamp-run
venv-test: $(VENV)/.stamp-test

## demo: the main job on the built-in simulator (Ctrl-C to stop)
demo: venv
	$(PY) -m probe_nav demo $(DEMO_ARGS)

## system-deps: the Debian packages the suite needs (installed as root; otherwise named in one line)
system-deps:
	@bash .ci/system-deps

## test: lint, type checks and the whole test suite, in parallel; prints the wall time
test: venv-test system-deps lint
	@start=$$(date +%s); $(PYTEST); status=$$?; \
	echo "make test: suite wall time $$(( $$(date +%s) - start )) s"; exit $$status

## test-repeat: the suite N times in a row (default 20); prints how many runs passed
test-repeat: venv-test system-deps
	@mkdir -p out/test-repeat; passed=0; \
	for i in $$(seq $(REPEAT)); do \
	    start=$$(date +%s); \
	    if $(PYTEST) -q -p no:cacheprovider > out/test-repeat/run-$$i.log 2>&1; then \
	        passed=$$((passed + 1)); result=passed; else result=FAILED; fi; \
	    echo "run $$i: $$result in $$(( $$(date +%s) - start )) s ($$(tail -n 1 out/test-repeat/run-$$i.log))"; \
	done; \
	echo "make test-repeat: $$passed of $(REPEAT) runs passed (logs in out/test-repeat/)"; \
	[ $$passed -eq $(REPEAT) ]

lint: venv-test typecheck
	$(PY) -m ruff check .

## typecheck: mypy on the processing core, the drivers and storage
typecheck: venv-test
	$(PY) tools/typecheck.py

## bench: benchmarks that print their figures (not pass/fail)
bench: venv-test
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## soak: the virtual operation (tests/e2e/test_virtual_operation.py) on Xvfb with sound, then
## the console kept scanning and painting for SOAK_S seconds (default 600); RSS must stay flat
SOAK_S ?= 600
soak: venv-test system-deps
	PROBE_NAV_SOAK_S=$(SOAK_S) $(PY) -m pytest -p no:cacheprovider --timeout 0 \
	    -q tests/e2e/test_virtual_operation.py

## mutate: mutation testing of probe_nav/core (not part of `make test`); prints the kill rate
mutate: venv-test
	$(PY) tools/mutate.py

## upgrade: resolve the newest allowed versions, run the suite on them, and keep them in
## constraints.txt only if it passes
upgrade:
	rm -rf .venv-upgrade
	$(PYTHON) -m venv .venv-upgrade
	.venv-upgrade/bin/python -m pip install --quiet --upgrade pip
	.venv-upgrade/bin/python -m pip install --quiet --upgrade -e '.[test,mutate]'
	.venv-upgrade/bin/python -m pip freeze --exclude-editable \
	    | sed '1i # Exact versions the suite passed with (make upgrade, Python $(shell $(PYTHON) -c "import platform; print(platform.python_version())")).' \
	    > constraints.new
	touch .venv-upgrade/.stamp-run .venv-upgrade/.stamp-test
	$(MAKE) test VENV=.venv-upgrade CONSTRAINTS=constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-upgrade
	@echo "make upgrade: constraints.txt refreshed; the suite passed on it (.venv follows it next run)"

## screenshots: the console's main and training views for the docs (rendered offscreen), and the
## training view on 1366x768, 1600x900 and 1920x1080 screens and on 1600x900 at 150 % scaling
SHOT = $(PY) -c 'import sys; from probe_nav.gui.app import render_screenshot as r; \
	w, h = map(int, sys.argv[3].split("x")); \
	r(sys.argv[1], sys.argv[2], 20.0, view="training", size=(w, h), scale=float(sys.argv[4]))'
screenshots: venv
	$(PY) -m probe_nav demo --screenshot docs/screenshots/training.png --after 20 --view training
	$(PY) -m probe_nav demo --screenshot docs/screenshots/main.png --after 20 --view main
	$(SHOT) docs/screenshots/console-1366x768.png rsl-dual-isotope 1366x768 1
	$(SHOT) docs/screenshots/console-1600x900.png sln-scan 1600x900 1
	$(SHOT) docs/screenshots/console-1920x1080.png sln-scan 1920x1080 1
	$(SHOT) docs/screenshots/console-1600x900@150.png sln-scan 1600x900 1.5

clean:
	rm -rf $(VENV) .venv-upgrade .pytest_cache .ruff_cache .mypy_cache .hypothesis build out \
	       mutants *.egg-info constraints.new
