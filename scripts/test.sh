#!/usr/bin/env bash
# Install what the tests need, then run formatting, lint and every test.
# Used by CI (.ci/run) and by people: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Python clients (pip, uv, bandersnatch) for the real-client tests, in a project-local venv.
# shellcheck source=scripts/test-tools.sh
source scripts/test-tools.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked --no-fail-fast "$@"
