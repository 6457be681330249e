#!/usr/bin/env bash
# Run the whole test suite: unit tests on tiny models, slow tests on the default model, browser tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not slow and not browser" for the fast ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
exec .venv/bin/python -m pytest "$@"
