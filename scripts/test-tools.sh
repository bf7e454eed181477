#!/usr/bin/env bash
# Sourced by scripts/test.sh: installs the external tools tests use and exports where
# they are. Idempotent; quick when everything is already there.
set -euo pipefail
TOOLS_DIR="${VORPAL_TOOLS_DIR:-$PWD/target/test-tools}"
mkdir -p "$TOOLS_DIR"
export VORPAL_TOOLS_DIR="$TOOLS_DIR"
