#!/usr/bin/env bash
# Start the app on the default model at http://127.0.0.1:7860 (extra arguments go to app.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python app.py "$@"
