#!/usr/bin/env bash
# `vorpal serve` against nginx configured as bandersnatch documents, both over TLS on
# 127.0.0.1 and serving the same synced tree: wrk (64 connections) on a project page
# as JSON, as HTML and on a ~10 KB file; peak RSS of each server over the whole run;
# and `uv pip install` of 20 projects from each. See bench/SERVE.md.
#
#   bench/run_serve_bench.sh                        # 500 projects, 3 x 15 s per cell
#   RUNS=1 DURATION=5s PROJECTS=50 bench/run_serve_bench.sh   # a quick look
#   WORK=/tmp/sb KEEP=1 bench/run_serve_bench.sh    # keep (and reuse) mirror + certs
#
# Needs root for apt-get when nginx, wrk, GNU time or openssl are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PROJECTS=${PROJECTS:-500}
FILE_KB=${FILE_KB:-10}
DURATION=${DURATION:-15s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
UV_RUNS=${UV_RUNS:-3}
UV_PROJECTS=${UV_PROJECTS:-20}
NGINX_PORT=${NGINX_PORT:-28443}
VORPAL_PORT=${VORPAL_PORT:-28444}
ACCESS_LOG=${ACCESS_LOG:-off} # off: neither server logs requests; on: both log to a file
OUT=${OUT:-bench/results-serve.md}
KEEP=${KEEP:-}
WORK=${WORK:-}
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/vorpal-servebench.XXXXXX); fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

say() { echo "== $*" >&2; }

# --- tools -------------------------------------------------------------------
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/time ] || missing+=(time)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# shellcheck source=/dev/null
source scripts/test-tools.sh # pip/uv venv; exports VORPAL_TEST_UV, VORPAL_TEST_PYTHON
UV=$VORPAL_TEST_UV

say "building vorpal (release)"
cargo build -q --release --bin vorpal
BIN=$REPO/target/release/vorpal

# --- the synced mirror ---------------------------------------------------------
if [ ! -f "$WORK/mirror/web/simple/index.v1_json" ]; then
  say "syncing $PROJECTS generated projects into $WORK/mirror"
  VORPAL_BENCH_DIR=$WORK VORPAL_BENCH_PROJECTS=$PROJECTS VORPAL_BENCH_FILE_KB=$FILE_KB \
    cargo test -q --test verify -- --ignored --exact make_bench_mirror >/dev/null
fi
WEB=$WORK/mirror/web
n_projects=$(find "$WEB/simple" -mindepth 1 -maxdepth 1 -type d | wc -l)
n_files=$(find "$WEB/packages" -type f ! -name '*.metadata' | wc -l)
mb=$(du -sm --apparent-size "$WEB" | cut -f1)

# --- test PKI: a CA and a leaf for 127.0.0.1 / localhost ------------------------
TLS=$WORK/tls
if [ ! -f "$TLS/cert.pem" ]; then
  mkdir -p "$TLS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=vorpal bench CA" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$TLS/key.pem" -out "$TLS/leaf.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TLS/leaf.ext"
  openssl x509 -req -in "$TLS/leaf.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
    -days 30 -extfile "$TLS/leaf.ext" -out "$TLS/cert.pem" 2>/dev/null
fi
CA=$TLS/ca.pem

# --- start both servers --------------------------------------------------------
mkdir -p "$WORK/nginx/tmp" "$WORK/wrk"
if [ "$ACCESS_LOG" = on ]; then nginx_log="$WORK/nginx/access.log"; else nginx_log=off; fi
sed -e "s|@WORK@|$WORK|g" -e "s|@ROOT@|$WEB|g" -e "s|@PORT@|$NGINX_PORT|g" \
  -e "s|@ACCESS_LOG@|$nginx_log|g" bench/nginx-serve.conf.template >"$WORK/nginx/nginx.conf"
nginx -t -q -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"

if [ "$ACCESS_LOG" = on ]; then vorpal_log=(); else vorpal_log=(-q); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "$KEEP" ]; then rm -rf "$WORK"; else say "kept $WORK"; fi
}
trap cleanup EXIT

nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
pids+=("$NGINX_PID")
"$BIN" "${vorpal_log[@]}" -E serve --directory "$WORK/mirror" --listen "127.0.0.1:$VORPAL_PORT" \
  --tls-cert "$TLS/cert.pem" --tls-key "$TLS/key.pem" 2>"$WORK/vorpal.log" &
VORPAL_PID=$!
pids+=("$VORPAL_PID")

url() { # tool, path
  if [ "$1" = nginx ]; then echo "https://127.0.0.1:$NGINX_PORT$2"; else echo "https://127.0.0.1:$VORPAL_PORT$2"; fi
}
for tool in nginx vorpal; do
  for _ in $(seq 100); do
    curl -sf --cacert "$CA" -o /dev/null "$(url $tool /simple/)" && break
    sleep 0.1
  done
  curl -sf --cacert "$CA" -o /dev/null "$(url $tool /simple/)" || {
    say "$tool did not come up on $(url $tool /)"
    cat "$WORK/vorpal.log" "$WORK/nginx/error.log" >&2 || true
    exit 1
  }
done

# --- endpoints: one project page and one ~10 KB file from it ---------------------
PROJECT=gen-7-0
# (sed, not head: head would close the pipe early and fail the pipeline under pipefail)
[ -f "$WEB/simple/$PROJECT/index.v1_json" ] || PROJECT=$(find "$WEB/simple" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | sed -n 1p)
FILE_PATH=$(find "$WEB/packages" -type f -name "${PROJECT//-/_}-*-py3-none-any.whl" | sort | sed -n 1p)
[ -n "$FILE_PATH" ] || FILE_PATH=$(find "$WEB/packages" -type f -name '*-py3-none-any.whl' | sort | sed -n 1p)
FILE_URL=${FILE_PATH#"$WEB"}
FILE_BYTES=$(stat -c %s "$FILE_PATH")
JSON_ACCEPT='application/vnd.pypi.simple.v1+json'
HTML_ACCEPT='text/html'
endpoint_path() { case $1 in json | html) echo "/simple/$PROJECT/" ;; file) echo "$FILE_URL" ;; esac; }
endpoint_accept() { case $1 in json) echo "$JSON_ACCEPT" ;; html) echo "$HTML_ACCEPT" ;; file) echo '*/*' ;; esac; }

# Both servers must send the same bytes with the same media type, or the
# comparison means nothing.
{
  echo "| endpoint | server | status | content-type | bytes | sha256 (first 12) |"
  echo "|---|---|---|---|---:|---|"
} >"$WORK/sanity.md"
for ep in json html file; do
  sums=()
  for tool in nginx vorpal; do
    body=$WORK/body.$tool.$ep
    read -r code ctype < <(curl -s --cacert "$CA" -H "Accept: $(endpoint_accept $ep)" -o "$body" \
      -w '%{http_code} %{content_type}\n' "$(url $tool "$(endpoint_path $ep)")")
    sum=$(sha256sum "$body" | cut -c1-12)
    sums+=("$sum")
    echo "| $ep | $tool | $code | $ctype | $(stat -c %s "$body") | $sum |" >>"$WORK/sanity.md"
    [ "$code" = 200 ] || { say "$tool answered $code for $ep"; exit 1; }
  done
  [ "${sums[0]}" = "${sums[1]}" ] || say "WARNING: nginx and vorpal bodies differ for $ep"
done
cipher() { # negotiated protocol and cipher ("New, TLSv1.3, Cipher is X")
  openssl s_client -connect "127.0.0.1:$1" -CAfile "$CA" -servername localhost </dev/null 2>/dev/null |
    awk '/^New, / {gsub(/,/, ""); print $2, $NF; exit}'
}
NGINX_CIPHER=$(cipher "$NGINX_PORT")
VORPAL_CIPHER=$(cipher "$VORPAL_PORT")

# --- wrk ---------------------------------------------------------------------------
cpu_ticks() { # total utime+stime of the given pids and their threads
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
server_pids() {
  if [ "$1" = nginx ]; then echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; else echo "$VORPAL_PID"; fi
}
to_ms() { # wrk latency ("812.00us", "3.21ms", "1.02s") -> ms
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4; exit}' /proc/stat; } # user nice system (irq time is nobody's)
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
# On a shared machine, wait (a bounded time) for other work to calm down before a run.
QUIET_PCT=${QUIET_PCT:-20}
QUIET_WAIT=${QUIET_WAIT:-180}
wait_quiet() {
  local waited=0 b0 b1
  while [ "$waited" -lt "$QUIET_WAIT" ]; do
    b0=$(busy_ticks); sleep 1; b1=$(busy_ticks)
    [ $(((b1 - b0) * 100 / (HZ * NCPU))) -lt "$QUIET_PCT" ] && return 0
    waited=$((waited + 1))
  done
  say "machine still busy after ${QUIET_WAIT}s; measuring anyway"
}
echo "tool endpoint run rps p50_ms p99_ms errors cpu_us_per_req others_pct" >"$WORK/wrk.tsv"
for run in $(seq "$RUNS"); do
  # Alternate which server goes first so neither always gets the warmer machine.
  if [ $((run % 2)) = 1 ]; then order="nginx vorpal"; else order="vorpal nginx"; fi
  for ep in json html file; do
    for tool in $order; do
      out=$WORK/wrk/$tool-$ep-$run.txt
      wait_quiet
      # shellcheck disable=SC2046
      before=$(cpu_ticks $(server_pids "$tool"))
      busy0=$(busy_ticks)
      t0=$(date +%s.%N)
      /usr/bin/time -f "%U %S" -o "$out.time" \
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Accept: $(endpoint_accept $ep)" \
        "$(url "$tool" "$(endpoint_path "$ep")")" >"$out"
      t1=$(date +%s.%N)
      busy1=$(busy_ticks)
      # shellcheck disable=SC2046
      after=$(cpu_ticks $(server_pids "$tool"))
      # CPU used by anything but this server and wrk (other work on a shared machine),
      # as a share of all cores over the run: the noise indicator for the row.
      others=$(awk -v b0="$busy0" -v b1="$busy1" -v s0="$before" -v s1="$after" -v hz="$HZ" \
        -v w="$(tail -1 "$out.time")" -v t0="$t0" -v t1="$t1" -v n="$NCPU" 'BEGIN {
          split(w, x, " "); o = (b1 - b0) / hz - (s1 - s0) / hz - x[1] - x[2]
          if (o < 0) o = 0; printf "%.0f", 100 * o / ((t1 - t0) * n) }')
      rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
      total=$(awk '/requests in/ {print $1}' "$out")
      p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
      p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
      errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s;", $0}' "$out" | tr ' ' '_')
      cpu=$(awk -v a="$before" -v b="$after" -v hz="$HZ" -v n="$total" \
        'BEGIN { printf "%.1f", (n > 0 ? (b - a) / hz * 1e6 / n : 0) }')
      echo "$tool $ep $run $rps $p50 $p99 ${errs:-0} $cpu $others" | tr -s ' ' >>"$WORK/wrk.tsv"
      say "$tool $ep run $run: $rps req/s, p99 $p99 ms, server CPU $cpu us/req, others $others% ${errs:+($errs)}"
    done
  done
done

# --- uv pip install of a fixed set of projects --------------------------------------
UV_SET=$(find "$WEB/simple" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | sed -n "1,${UV_PROJECTS}p" | tr '\n' ' ')
echo "tool run seconds" >"$WORK/uv.tsv"
for run in $(seq "$UV_RUNS"); do
  if [ $((run % 2)) = 1 ]; then order="nginx vorpal"; else order="vorpal nginx"; fi
  for tool in $order; do
    wait_quiet
    target=$WORK/uv-target
    rm -rf "$target"
    # shellcheck disable=SC2086
    SSL_CERT_FILE=$CA /usr/bin/time -f %e -o "$WORK/uv.time" \
      "$UV" pip install -q --no-cache --python "$VORPAL_TEST_PYTHON" --target "$target" \
      --index-url "$(url $tool /simple/)" $UV_SET >"$WORK/uv.$tool.log" 2>&1 || {
      say "uv against $tool failed:"
      cat "$WORK/uv.$tool.log" >&2
      exit 1
    }
    got=$(find "$target" -maxdepth 1 -name '*.dist-info' | wc -l)
    [ "$got" = "$UV_PROJECTS" ] || { say "uv installed $got of $UV_PROJECTS from $tool"; exit 1; }
    s=$(tail -1 "$WORK/uv.time")
    echo "$tool $run $s" >>"$WORK/uv.tsv"
    say "uv pip install ($UV_PROJECTS projects) from $tool, run $run: $s s"
  done
done

# --- peak memory over the whole run --------------------------------------------------
hwm_kb() { # sum of VmHWM over the given pids
  local t=0 p v
  for p in "$@"; do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
VORPAL_HWM=$(hwm_kb "$VORPAL_PID")
NGINX_WORKERS=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
# shellcheck disable=SC2086
NGINX_HWM_WORKERS=$(hwm_kb $NGINX_WORKERS)
# shellcheck disable=SC2086
NGINX_HWM_ALL=$(hwm_kb "$NGINX_PID" $NGINX_WORKERS)

# --- report ----------------------------------------------------------------------------
median() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { # tool endpoint column -> median
  awk -v t="$1" -v e="$2" -v c="$3" 'NR > 1 && $1 == t && $2 == e {print $c}' "$WORK/wrk.tsv" | median
}
runs_of() { # tool endpoint column -> "a / b / c"
  awk -v t="$1" -v e="$2" -v c="$3" 'NR > 1 && $1 == t && $2 == e {printf "%s%s", (n++ ? " / " : ""), $c}' "$WORK/wrk.tsv"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { # value op limit
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { ok = (op == ">=" ? v >= l : v <= l); print (ok ? "met" : "**missed**") }'
}
uv_median() { awk -v t="$1" 'NR > 1 && $1 == t {print $3}' "$WORK/uv.tsv" | median; }
uv_runs() { awk -v t="$1" 'NR > 1 && $1 == t {printf "%s%s", (n++ ? " / " : ""), $3}' "$WORK/uv.tsv"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

{
  echo "## vorpal serve vs nginx ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r); wrk and both servers share these cores"
  echo "- vorpal $(git rev-parse --short HEAD) (release build); $(nginx -v 2>&1 | sed 's/^nginx version: //') with worker_processes auto ($(echo "$NGINX_WORKERS" | wc -w) workers), sendfile on; wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}'); uv $("$UV" --version | awk '{print $2}')"
  echo "- dataset: $n_projects projects (5 releases x 4 files each), $n_files files of ~$FILE_KB KiB plus their .metadata, $mb MiB under web/"
  echo "- TLS: nginx $NGINX_CIPHER; vorpal $VORPAL_CIPHER (same P-256 certificate)"
  echo "- access logs: $ACCESS_LOG for both ($([ "$ACCESS_LOG" = on ] && echo "nginx access_log and vorpal's info log to files" || echo "nginx access_log off, vorpal -q"))"
  echo "- wrk -t$THREADS -c$CONNS -d$DURATION --latency; $RUNS runs per cell, interleaved, medians below"
  echo "- endpoints: \`/simple/$PROJECT/\` with \`Accept: $JSON_ACCEPT\` (json) and \`Accept: $HTML_ACCEPT\` (html); \`$FILE_URL\` ($FILE_BYTES bytes, file)"
  echo
  echo "| endpoint | nginx req/s | vorpal req/s | vorpal/nginx | target | nginx p99 ms | vorpal p99 ms | vorpal/nginx | target |"
  echo "|---|---:|---:|---:|---|---:|---:|---:|---|"
  for ep in json html file; do
    nr=$(col nginx $ep 4); vr=$(col vorpal $ep 4)
    np=$(col nginx $ep 6); vp=$(col vorpal $ep 6)
    rr=$(ratio "$vr" "$nr"); pr=$(ratio "$vp" "$np")
    if [ $ep = file ]; then want=0.8; else want=1.0; fi
    echo "| $ep | $nr | $vr | $rr | >= $want: $(verdict "$rr" ">=" $want) | $np | $vp | $pr | <= 1.5: $(verdict "$pr" "<=" 1.5) |"
  done
  echo
  echo "Server CPU per request (utime + stime of the server's processes over the wrk run / requests), median:"
  echo
  echo "| endpoint | nginx us/req | vorpal us/req | vorpal/nginx |"
  echo "|---|---:|---:|---:|"
  for ep in json html file; do
    nc=$(col nginx $ep 8); vc=$(col vorpal $ep 8)
    echo "| $ep | $nc | $vc | $(ratio "$vc" "$nc") |"
  done
  echo
  echo "Peak RSS over the whole run (VmHWM at the end):"
  echo
  echo "| server | peak RSS MiB | target |"
  echo "|---|---:|---|"
  echo "| vorpal serve | $(mib "$VORPAL_HWM") | < 50: $(verdict "$(mib "$VORPAL_HWM")" "<=" 50) |"
  echo "| nginx workers (sum) | $(mib "$NGINX_HWM_WORKERS") | |"
  echo "| nginx master + workers | $(mib "$NGINX_HWM_ALL") | |"
  echo
  echo "\`uv pip install --no-cache --target <fresh dir>\` of $UV_PROJECTS projects ($(echo "$UV_SET" | awk '{print $1 " ... " $NF}')), seconds:"
  echo
  echo "| server | median s | runs |"
  echo "|---|---:|---|"
  echo "| nginx | $(uv_median nginx) | $(uv_runs nginx) |"
  echo "| vorpal | $(uv_median vorpal) | $(uv_runs vorpal) |"
  echo
  echo "Every run (req/s; p99 ms; CPU used by other processes on the machine during the run, % of all cores):"
  echo
  echo "| endpoint | server | req/s | p99 ms | others % | errors |"
  echo "|---|---|---|---|---|---|"
  for ep in json html file; do
    for tool in nginx vorpal; do
      errs=$(awk -v t=$tool -v e=$ep 'NR > 1 && $1 == t && $2 == e && $7 != "0" {print "yes"}' "$WORK/wrk.tsv" | sed -n 1p)
      echo "| $ep | $tool | $(runs_of $tool $ep 4) | $(runs_of $tool $ep 6) | $(runs_of $tool $ep 9) | ${errs:-none} |"
    done
  done
  echo
  echo "Both servers answered each endpoint with the same bytes:"
  echo
  cat "$WORK/sanity.md"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
