# One command each, from nothing: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
READY := $(VENV)/.ready
SHARED_TIKTOKEN := $(abspath ../shared/assets/tiktoken-cache)

.PHONY: run test bench

$(READY): requirements.txt requirements-dev.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $(READY)

run: $(READY)
	$(VENV)/bin/python -m streamlit run streamlit_app.py

test: $(READY)
	TIKTOKEN_CACHE_DIR=$${TIKTOKEN_CACHE_DIR:-$(SHARED_TIKTOKEN)} $(VENV)/bin/python -m pytest

bench: $(READY)
	for b in bench/bench_*.py; do $(VENV)/bin/python $$b || exit 1; done

# Download catalog models and every tiktoken encoding while online, so a lecture runs offline.
MODELS ?= gpt2 SmolLM2-135M SmolLM2-135M-Instruct
.PHONY: prepare
prepare: $(READY)
	$(VENV)/bin/python -m lib.prepare $(MODELS)
