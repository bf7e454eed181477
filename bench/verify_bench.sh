#!/usr/bin/env bash
# vorpal verify against sha256sum over the same files of a synced mirror, at two
# mirror sizes: wall time, throughput and peak RSS (GNU time). vorpal's memory
# should stay flat as the file count grows (it pages through its state).
#
#   bench/verify_bench.sh                 # release build, 100 and 400 projects
#   PROFILE=dev SIZES="50 200" bench/verify_bench.sh
#
# Each project has 5 releases x 4 files of ~FILE_KB KiB. The page cache is warm
# for both tools (each is run once before the measured run), so this compares
# hashing and I/O paths, not the disk. Results go to bench/results-verify.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
SIZES=${SIZES:-"100 400"}
FILE_KB=${FILE_KB:-32}
JOBS=$(nproc)
OUT=${OUT:-bench/results-verify.md}

if [ "$PROFILE" = dev ]; then BIN=target/debug/vorpal; else BIN=target/$PROFILE/vorpal; fi
cargo build -q --profile "$PROFILE" --bin vorpal

measure() { # label, command...: prints "seconds maxrss_kb"
  local label=$1; shift
  "$@" >/dev/null 2>&1 || true
  /usr/bin/time -f "%e %M" -o /tmp/verify_bench.time "$@" >/dev/null 2>&1 || true
  cat /tmp/verify_bench.time | tail -1
}

{
  echo "## vorpal verify vs sha256sum ($(date -u +%Y-%m-%d), $JOBS cores, profile $PROFILE)"
  echo
  echo "| files | MB | tool | wall s | MB/s | peak RSS MiB |"
  echo "|---:|---:|---|---:|---:|---:|"
} >"$OUT.tmp"

for n in $SIZES; do
  dir=$(mktemp -d)
  VORPAL_BENCH_DIR=$dir VORPAL_BENCH_PROJECTS=$n VORPAL_BENCH_FILE_KB=$FILE_KB \
    cargo test -q --test verify -- --ignored --exact make_bench_mirror >/dev/null
  pk=$dir/mirror/web/packages
  files=$(find "$pk" -type f | wc -l)
  mb=$(du -sm --apparent-size "$pk" | cut -f1)
  for tool in "vorpal verify" "sha256sum" "sha256sum -P$JOBS"; do
    case $tool in
      "vorpal verify") read -r s kb < <(measure v "$BIN" -q -c "$dir/vorpal.toml" verify --workers "$JOBS") ;;
      "sha256sum") read -r s kb < <(measure s sh -c "find '$pk' -type f -print0 | xargs -0 sha256sum") ;;
      *) read -r s kb < <(measure p sh -c "find '$pk' -type f -print0 | xargs -0 -P$JOBS -n 256 sha256sum") ;;
    esac
    rate=$(awk -v m="$mb" -v s="$s" 'BEGIN { printf "%.0f", (s > 0 ? m / s : 0) }')
    rss=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "| $files | $mb | $tool | $s | $rate | $rss |" >>"$OUT.tmp"
  done
  rm -rf "$dir"
done
mv "$OUT.tmp" "$OUT"
cat "$OUT"
