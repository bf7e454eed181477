#!/usr/bin/env bash
# Sourced by scripts/test.sh: installs the external clients the tests drive (pip, uv,
# bandersnatch, in a project-local venv) and exports where they are. Idempotent and
# quick when everything is already there. Tests that need a tool fail under CI=true
# when it is missing; elsewhere they say they skipped.
set -euo pipefail
TOOLS_DIR="${VORPAL_TOOLS_DIR:-$PWD/target/test-tools}"
mkdir -p "$TOOLS_DIR"
export VORPAL_TOOLS_DIR="$TOOLS_DIR"

# Versions are pinned so that a test run means the same thing tomorrow.
PY_TOOLS=(pip==25.3 uv==0.13.9 bandersnatch==6.8.0)
VENV="$TOOLS_DIR/venv"
STAMP="$VENV/.installed-$(printf '%s ' "${PY_TOOLS[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  echo "== installing test clients into $VENV: ${PY_TOOLS[*]}"
  PYTHON="${PYTHON:-$(command -v python3 || true)}"
  if [ -z "$PYTHON" ]; then
    if command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
      PYTHON=$(command -v python3)
    else
      echo "python3 is needed for the real-client tests; install it and rerun" >&2
      exit 1
    fi
  fi
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade "${PY_TOOLS[@]}"
  touch "$STAMP"
fi
export VORPAL_TEST_PYTHON="$VENV/bin/python"
export VORPAL_TEST_PIP="$VENV/bin/pip"
export VORPAL_TEST_UV="$VENV/bin/uv"
export VORPAL_TEST_BANDERSNATCH="$VENV/bin/bandersnatch"
