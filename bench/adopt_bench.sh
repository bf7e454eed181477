#!/usr/bin/env bash
# How long adopting an existing mirror tree takes: vorpal builds its state from the
# pages and files on disk (hashing every listed file) the first time it meets a
# tree without .vorpal/state.sqlite. Reports seconds per 10,000 files.
#
#   bench/adopt_bench.sh               # release build, 500 projects (10,000 files)
#   PROJECTS=1000 FILE_KB=32 bench/adopt_bench.sh
#
# The tree is made by a real vorpal sync (tests/verify.rs make_bench_mirror), then
# its state is removed so that it looks like a bandersnatch tree (pages, files,
# status). The adoption run points at an unreachable upstream: adoption happens
# first, then planning fails, which is expected and ignored here.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECTS=${PROJECTS:-500}
FILE_KB=${FILE_KB:-32}
OUT=${OUT:-bench/results-adopt.md}
cargo build -q --release --bin vorpal
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
VORPAL_BENCH_DIR=$dir VORPAL_BENCH_PROJECTS=$PROJECTS VORPAL_BENCH_FILE_KB=$FILE_KB \
  cargo test -q --test verify -- --ignored --exact make_bench_mirror >/dev/null
root=$dir/mirror
files=$(find "$root/web/packages" -type f | wc -l)
mb=$(du -sm --apparent-size "$root/web/packages" | cut -f1)
rm -rf "$root/.vorpal"
start=$(date +%s.%N)
target/release/vorpal -q --log-format json sync --directory "$root" \
  --master https://127.0.0.1:9 >/dev/null 2>"$dir/adopt.log" || true
end=$(date +%s.%N)
recorded=$(sqlite3 "$root/.vorpal/state.sqlite" 'select count(*) from files' 2>/dev/null || echo "?")
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
per10k=$(awk -v s="$secs" -v f="$files" 'BEGIN { printf "%.2f", (f > 0 ? s * 10000 / f : 0) }')
{
  echo "## Adoption of an existing tree ($(date -u +%Y-%m-%d), $(nproc) cores, release build)"
  echo
  echo "| files | MB | files recorded | wall s | s per 10k files |"
  echo "|---:|---:|---:|---:|---:|"
  echo "| $files | $mb | $recorded | $secs | $per10k |"
} | tee "$OUT"
