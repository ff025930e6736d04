#!/usr/bin/env bash
# Create (or reuse) the project-local .venv with the launcher and the CV worker installed (editable).
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.tao-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import tao_cv, tao_launcher" 2>/dev/null; then
  echo "setting up .venv (torch, torchvision, torch-pruning, onnxruntime, ...) — a few minutes the first time"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[cv,test]"
  echo "$want" > "$stamp"
fi
