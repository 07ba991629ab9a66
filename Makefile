# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test lint check bench clean docs soak
.PHONY: test-pythons dist

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# aiotao and, beside it, the demo app `make run` serves (demo/: aiotao-demo)
$(STAMP): $(BIN)/python pyproject.toml setup.py demo/pyproject.toml
	$(BIN)/pip install -q -e '.[dev]' -e ./demo
	touch $(STAMP)

install: $(STAMP)

# Servers and browsers the tests drive for real.  As root they are installed
# from Debian; otherwise the tests that need them fail naming the package.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else \
		echo "make test: not root, so not installing:$$missing (apt-get install them)"; \
	fi

lint: install
	$(BIN)/ruff check aiotao demo tests bench devtools
	$(BIN)/ruff format --check aiotao demo tests bench devtools
	$(BIN)/mypy

test: install system-deps lint
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-pythons

# The install, scaffold and core-pipeline tests on every other supported
# Python found here (devtools/pythons.py), each in a .venv-3.X of its own.
OTHER_PYTHONS_TESTS := tests/test_*.py tests/mappers tests/serving tests/testing \
	tests/scaffolds tests/test_packaging.py
test-pythons: install
	@pythons="$$($(BIN)/python devtools/pythons.py)"; \
	[ -n "$$pythons" ] || echo "make test-pythons: no other supported Python found here"; \
	for python in $$pythons; do \
		version=$$($$python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
		echo "make test-pythons: Python $$version ($$python)"; \
		$(MAKE) --no-print-directory install PYTHON=$$python VENV=.venv-$$version || exit 1; \
		.venv-$$version/bin/pytest -p no:cacheprovider $(OTHER_PYTHONS_TESTS) || exit 1; \
	done

# The release: sdist and wheel in dist/ (the tests install the wheel).
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# The development MongoDB (SecantusDB, data in var/mongodb) runs for as long
# as gunicorn does; Ctrl-C stops both.  make run PORT=8080 MONGO_PORT=27018
PORT ?= 6543
MONGO_PORT ?= 27017
MONGO_DATA ?= var/mongodb
run: install
	$(BIN)/python devtools/mongodb.py run --data $(MONGO_DATA) --port $(MONGO_PORT) -- \
		$(BIN)/gunicorn --paste development.ini --bind 127.0.0.1:$(PORT)

# The reliability suite at full counts (1,000 slowloris, 500 stalled
# websockets...): minutes, not for CI.
soak: install system-deps
	AIOTAO_SOAK=1 $(BIN)/pytest tests/reliability -s

# The documentation, warnings as errors (the test suite builds it too).
docs: install
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# Speed, side by side with peers in one run (ratios; the machine is shared).
# The tables of docs/performance.rst are rewritten (docs/bench/*.txt).
bench: install
	$(BIN)/pip install -q -e '.[bench]'
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk; } || \
		{ echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	@mkdir -p docs/bench
	$(BIN)/python bench/pipeline.py | tee docs/bench/pipeline.txt
	@if command -v valgrind >/dev/null 2>&1; then \
		$(BIN)/python bench/instructions.py --table docs/bench/instructions.txt; \
	else echo "make bench: no valgrind, instruction counts skipped (apt-get install valgrind)"; fi
	$(BIN)/python bench/servers.py --table docs/bench/servers.txt

clean:
	rm -rf $(VENV) .venv-3.* var build dist docs/_build *.egg-info .pytest_cache .mypy_cache .ruff_cache
