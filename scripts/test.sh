#!/usr/bin/env bash
# The test command: set up (or reuse) .venv; start a Docker engine and build the CV worker image when this
# machine allows it (root: installs Debian's docker.io); a headless Chromium for the report test (root: Debian's
# chromium); then run the whole test suite. Without an engine (or the disk space the image needs) the Docker tests
# skip and say why; without Chromium, the report's browser test does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
if bash scripts/docker_engine.sh; then
  bash scripts/build_images.sh || { rc=$?; [ $rc = 3 ] || exit $rc; echo "test.sh: so the Docker runtime tests will be skipped"; }
else
  echo "test.sh: no Docker engine, so the Docker runtime tests will be skipped"
fi
bash scripts/chromium.sh || echo "test.sh: so the report's browser test will be skipped"
exec .venv/bin/python -m pytest -q "$@"
