#!/usr/bin/env bash
# Sync benchmark: vorpal vs bandersnatch against a generated upstream served by
# nginx over TLS on 127.0.0.1. See bench/README.md.
#
#   ./bench/run_sync_bench.sh [--quick] [--projects N] [--tools vorpal,bandersnatch]
#                             [--seed S] [--bs-api simple|xmlrpc] [--no-wrk]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
WORK="$HERE/work"
RESULTS="$HERE/results"

PROJECTS=5000
TOOLS="vorpal,bandersnatch"
SEED=1
BS_API=simple
RUN_WRK=1
MUTATE_PCT=5

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) PROJECTS=300 ;;
        --projects) PROJECTS="$2"; shift ;;
        --tools) TOOLS="$2"; shift ;;
        --seed) SEED="$2"; shift ;;
        --bs-api) BS_API="$2"; shift ;;
        --no-wrk) RUN_WRK=0 ;;
        -h|--help) sed -n 2,7p "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

has_tool() { case ",$TOOLS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$WORK" "$RESULTS"

# ---- prerequisites (idempotent) -------------------------------------------
need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

BS_VENV="$WORK/bs-venv"
if has_tool bandersnatch; then
    if ! "$BS_VENV/bin/python" -c 'import bandersnatch' >/dev/null 2>&1; then
        log "creating $BS_VENV with the newest bandersnatch that installs here"
        python3 -m venv "$BS_VENV"
        "$BS_VENV/bin/pip" install -q --upgrade pip >/dev/null
        "$BS_VENV/bin/pip" install -q bandersnatch
    fi
    BS_VERSION="$("$BS_VENV/bin/python" -c 'import bandersnatch; print(bandersnatch.__version__)')"
    log "bandersnatch $BS_VERSION"
fi

VORPAL="$ROOT/target/release/vorpal"
if has_tool vorpal; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    "$VORPAL" sync --help >/dev/null 2>&1 || die "$VORPAL has no 'sync' command yet (merge main?)"
    VORPAL_VERSION="$("$VORPAL" --version 2>/dev/null || echo vorpal)"
    VORPAL_COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD)"
fi

# ---- test PKI ---------------------------------------------------------------
TLS="$WORK/tls"
if [ ! -s "$TLS/server.pem" ]; then
    log "making a test CA and a server certificate for 127.0.0.1/localhost"
    mkdir -p "$TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 3650 -subj "/CN=vorpal bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
        "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" >"$TLS/server.ext"
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
        -CAcreateserial -out "$TLS/server.pem" -days 825 -extfile "$TLS/server.ext" 2>/dev/null
fi
CA="$TLS/ca.pem"

# ---- upstream + servers -----------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
XPORT="$(free_port)"
BASE="https://127.0.0.1:$PORT"
UP="$WORK/upstream"

PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

log "generating $PROJECTS projects (seed $SEED) for $BASE"
rm -rf "$UP"
python3 "$HERE/gen_upstream.py" --projects "$PROJECTS" --seed "$SEED" --out "$UP" --base-url "$BASE" >&2
state() { python3 -c "import json,sys; print(json.load(open('$UP/state.json'))[sys.argv[1]])" "$1"; }
DS_FILES="$(state release_files)"; DS_META="$(state metadata_files)"; DS_BYTES="$(state release_bytes)"

python3 "$HERE/xmlrpc_server.py" --data "$UP/xmlrpc.json" --port "$XPORT" >"$WORK/xmlrpc.log" 2>&1 &
PIDS+=($!)

mkdir -p "$WORK/nginx-tmp"
sed -e "s#@USER@#$(id -un)#g" -e "s#@WORK@#$WORK#g" -e "s#@PORT@#$PORT#g" \
    -e "s#@XMLRPC_PORT@#$XPORT#g" -e "s#@WEB@#$UP/web#g" -e "s#@SERIALS@#$UP/serials.map#g" \
    -e "s#@CERT@#$TLS/server.pem#g" -e "s#@KEY@#$TLS/server.key#g" \
    "$HERE/nginx.conf.template" >"$WORK/nginx.conf"
"$NGINX" -t -c "$WORK/nginx.conf" -p "$WORK" >/dev/null 2>&1 ||
    { "$NGINX" -t -c "$WORK/nginx.conf" -p "$WORK"; die "nginx config test failed"; }
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
NGINX_PID=$!

CURL=(curl -sS --cacert "$CA" --max-time 10)
for _ in $(seq 50); do "${CURL[@]}" -o /dev/null "$BASE/simple/" 2>/dev/null && break; sleep 0.2; done
root_serial() {
    "${CURL[@]}" -D - -o /dev/null -H 'Accept: application/vnd.pypi.simple.v1+json' "$BASE/simple/" |
        tr -d '\r' | awk -F': ' 'tolower($1)=="x-pypi-last-serial"{print $2}'
}
[ "$(root_serial)" = "$(state last_serial)" ] || die "nginx does not serve X-PyPI-Last-Serial on /simple/"
XR="$("${CURL[@]}" -H 'Content-Type: text/xml' --data \
    '<?xml version="1.0"?><methodCall><methodName>changelog_last_serial</methodName><params/></methodCall>' \
    "$BASE/pypi")"
case "$XR" in *"<int>$(state last_serial)</int>"*) ;; *) die "XML-RPC via nginx answered: $XR" ;; esac
log "nginx on $BASE (pid $NGINX_PID), XML-RPC on :$XPORT; dataset: $DS_FILES files, $DS_BYTES bytes"

# Warm the page cache so neither tool pays for the first cold read of the tree.
find "$UP/web" -type f -print0 | xargs -0 cat >/dev/null

# ---- wrk: the server's own limit -------------------------------------------
WRK_LUA="$WORK/wrk-report.lua"
cat >"$WRK_LUA" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %d %d\n", summary.requests, summary.bytes,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
wrk_run() { # url -> "req/s bytes/s errors"
    wrk -t2 -c64 -d10s --latency -s "$WRK_LUA" "$1" 2>&1 | awk '/^WRKRESULT/{printf "%.0f %.0f %d\n", $2/($4/1e6), $3/($4/1e6), $5}'
}
WRK_FILE_URL="$BASE$(state wrk_file)"
WRK_FILE_SIZE="$(state wrk_file_size)"
WRK_JSON_URL="$BASE/pypi/$(head -1 "$UP/serials.map" | cut -d' ' -f1)/json"
if [ "$RUN_WRK" = 1 ]; then
    log "wrk -t2 -c64 -d10s on $WRK_FILE_URL ($WRK_FILE_SIZE bytes)"
    read -r WRK_FILE_RPS WRK_FILE_BPS WRK_FILE_ERR < <(wrk_run "$WRK_FILE_URL")
    log "wrk -t2 -c64 -d10s on $WRK_JSON_URL"
    read -r WRK_JSON_RPS WRK_JSON_BPS WRK_JSON_ERR < <(wrk_run "$WRK_JSON_URL")
    log "wrk: file $WRK_FILE_RPS req/s $WRK_FILE_BPS B/s; json $WRK_JSON_RPS req/s $WRK_JSON_BPS B/s"
fi

# ---- the syncs ---------------------------------------------------------------
write_configs() {
    local t="$1" dir="$WORK/mirror-$1"
    case "$t" in
        bandersnatch) cat >"$WORK/bandersnatch.conf" <<EOF
[mirror]
directory = $dir
master = $BASE
storage-backend = filesystem
json = false
release-files = true
hash-index = false
simple-format = ALL
compare-method = hash
workers = 10
timeout = 30
global-timeout = 18000
stop-on-error = false
keep-index-versions = 0
api-method = $BS_API
EOF
        ;;
        vorpal) cat >"$WORK/vorpal.toml" <<EOF
[mirror]
directory = "$dir"
master = "$BASE"
workers = 10
download-concurrency = 32
EOF
        ;;
    esac
}

tool_cmd() {
    case "$1" in
        bandersnatch) echo env SSL_CERT_FILE="$CA" "$BS_VENV/bin/bandersnatch" -c "$WORK/bandersnatch.conf" mirror ;;
        vorpal) echo "$VORPAL" sync -c "$WORK/vorpal.toml" --cert "$CA" ;;
    esac
}

declare -A WALL CPU RSS RC
run_step() { # tool step
    local t="$1" s="$2" out="$WORK/time.$1.$2" logf="$WORK/log.$1.$2"
    sync
    log "$t: $s sync"
    local rc=0
    # shellcheck disable=SC2046
    /usr/bin/time -f '%e %U %S %M' -o "$out" $(tool_cmd "$t") >"$logf" 2>&1 || rc=$?
    read -r w u sy m < <(tail -1 "$out")
    WALL[$t.$s]="$w"
    CPU[$t.$s]="$(awk -v u="$u" -v s="$sy" 'BEGIN{printf "%.2f", u+s}')"
    RSS[$t.$s]="$(awk -v m="$m" 'BEGIN{printf "%.1f", m/1024}')"
    RC[$t.$s]="$rc"
    log "$t $s: wall ${w}s cpu ${CPU[$t.$s]}s rss ${RSS[$t.$s]}MB exit $rc (log: $logf)"
    [ "$rc" = 0 ] || tail -5 "$logf" | sed 's/^/    /' >&2
}

IFS=',' read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    case "$t" in vorpal|bandersnatch) ;; *) die "unknown tool $t" ;; esac
    rm -rf "$WORK/mirror-$t"
    write_configs "$t"
done

for t in "${TOOL_LIST[@]}"; do run_step "$t" full; done
for t in "${TOOL_LIST[@]}"; do run_step "$t" noop; done

log "mutating $MUTATE_PCT% of the projects"
python3 "$HERE/gen_upstream.py" --out "$UP" --mutate "$MUTATE_PCT" >&2
kill -HUP "$NGINX_PID" # re-read serials.map
for _ in $(seq 50); do [ "$(root_serial)" = "$(state last_serial)" ] && break; sleep 0.2; done
[ "$(root_serial)" = "$(state last_serial)" ] || die "nginx did not pick up the new serials"
MUT_PROJECTS="$(state mutated_last_round)"
for t in "${TOOL_LIST[@]}"; do run_step "$t" incr; done

# ---- verify: same release files as upstream, and as each other -------------
listing() { # dir -> "path size" lines for release files (no .metadata)
    (cd "$1" 2>/dev/null && find packages -type f ! -name '*.metadata' ! -name '*.tmp' -printf '%p %s\n' | LC_ALL=C sort) || true
}
listing "$UP/web" >"$WORK/list.upstream"
UP_N="$(wc -l <"$WORK/list.upstream")"
declare -A VERIFY META_N
for t in "${TOOL_LIST[@]}"; do
    listing "$WORK/mirror-$t/web" >"$WORK/list.$t"
    META_N[$t]="$(find "$WORK/mirror-$t/web/packages" -name '*.metadata' 2>/dev/null | wc -l)"
    if cmp -s "$WORK/list.upstream" "$WORK/list.$t"; then
        VERIFY[$t]="all $UP_N release files present with upstream sizes"
    else
        miss="$(comm -23 "$WORK/list.upstream" "$WORK/list.$t" | wc -l)"
        extra="$(comm -13 "$WORK/list.upstream" "$WORK/list.$t" | wc -l)"
        VERIFY[$t]="DIFFERS from upstream: $miss missing/wrong size, $extra extra (see $WORK/list.$t)"
    fi
    log "$t: ${VERIFY[$t]}; ${META_N[$t]} .metadata files"
done
SAME=""
if has_tool vorpal && has_tool bandersnatch; then
    if cmp -s "$WORK/list.vorpal" "$WORK/list.bandersnatch"; then
        SAME="identical release-file sets (paths and sizes) in both mirrors: $(wc -l <"$WORK/list.vorpal") files"
    else
        SAME="mirrors DIFFER: $(comm -3 "$WORK/list.vorpal" "$WORK/list.bandersnatch" | wc -l) paths differ"
    fi
    log "$SAME"
fi

# ---- report ----------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f×", a/b; else print "n/a" }'; }
cell() { local k="$1.$2"; [ -n "${WALL[$k]:-}" ] || { echo "| — | — | — | — "; return; }
    local note=""; [ "${RC[$k]}" = 0 ] || note=" (exit ${RC[$k]})"
    echo "| ${WALL[$k]}$note | ${CPU[$k]} | ${RSS[$k]} "; }
declare -A STEP_NAME=([full]="full sync" [noop]="no-op incremental" [incr]="incremental after $MUTATE_PCT% (${MUT_PROJECTS} projects) changed")
DATE="$(date -u +%Y-%m-%d)"
REPORT="$WORK/report.md"
{
    echo "## Sync benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Measured on this machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)."
    echo "Dataset: $PROJECTS projects, $DS_FILES release files (+$DS_META .metadata), $(awk -v b="$DS_BYTES" 'BEGIN{printf "%.1f MB", b/1e6}') (seed $SEED); after mutation $UP_N release files."
    echo "Server: nginx $("$NGINX" -v 2>&1 | sed 's#.*/##') over TLS (HTTP/2 + HTTP/1.1) on 127.0.0.1, XML-RPC via a stdlib handler."
    has_tool vorpal && echo "vorpal: $VORPAL_VERSION (commit $VORPAL_COMMIT), workers = 10, download-concurrency = 32."
    has_tool bandersnatch && echo "bandersnatch: $BS_VERSION on Python $(python3 -c 'import platform; print(platform.python_version())'), workers = 10, api-method = $BS_API."
    echo
    echo "| step | tool | wall s | CPU s (user+sys) | peak RSS MB |"
    echo "|---|---|---:|---:|---:|"
    for s in full noop incr; do
        for t in "${TOOL_LIST[@]}"; do echo "| ${STEP_NAME[$s]} | $t $(cell "$t" "$s")|"; done
    done
    if has_tool vorpal && has_tool bandersnatch; then
        echo
        echo "| step | bandersnatch / vorpal wall | bandersnatch / vorpal CPU |"
        echo "|---|---:|---:|"
        for s in full noop incr; do
            echo "| ${STEP_NAME[$s]} | $(ratio "${WALL[bandersnatch.$s]:-0}" "${WALL[vorpal.$s]:-0}") | $(ratio "${CPU[bandersnatch.$s]:-0}" "${CPU[vorpal.$s]:-0}") |"
        done
        echo
        echo "Targets (vorpal): full sync ≥ 8× faster than bandersnatch: $(ratio "${WALL[bandersnatch.full]}" "${WALL[vorpal.full]}");" \
            "peak RSS ≤ 64 MB: ${RSS[vorpal.full]} MB (full), ${RSS[vorpal.incr]} MB (incr);" \
            "no-op < 1 s: ${WALL[vorpal.noop]} s; 5% incremental ≥ 8× faster: $(ratio "${WALL[bandersnatch.incr]}" "${WALL[vorpal.incr]}")."
    fi
    if [ "$RUN_WRK" = 1 ]; then
        echo
        echo "Server limit (wrk -t2 -c64 -d10s, same nginx, same run): $WRK_FILE_RPS req/s and $(awk -v b="$WRK_FILE_BPS" 'BEGIN{printf "%.1f MB/s", b/1e6}') on a ${WRK_FILE_SIZE}-byte file (errors $WRK_FILE_ERR); $WRK_JSON_RPS req/s on a project JSON (errors $WRK_JSON_ERR)."
        echo
        echo "| tool | full sync files/s (release + .metadata) | % of wrk req/s | MB/s | % of wrk MB/s |"
        echo "|---|---:|---:|---:|---:|"
        for t in "${TOOL_LIST[@]}"; do
            w="${WALL[$t.full]}"
            files=$((DS_FILES + ${META_N[$t]:-0}))
            awk -v t="$t" -v f="$files" -v b="$DS_BYTES" -v w="$w" -v rr="$WRK_FILE_RPS" -v rb="$WRK_FILE_BPS" \
                'BEGIN{ if (w <= 0) { print "| " t " | n/a | | | |"; exit }
                        printf "| %s | %.0f | %.1f%% | %.1f | %.1f%% |\n", t, f/w, 100*f/w/rr, b/w/1e6, 100*b/w/rb }'
        done
        echo "(files/s counts the release files of the initial dataset plus the .metadata files the tool ended with.)"
    fi
    echo
    echo "Verification:"
    for t in "${TOOL_LIST[@]}"; do echo "- $t: ${VERIFY[$t]}; ${META_N[$t]} .metadata files"; done
    [ -z "$SAME" ] || echo "- $SAME"
    echo
} >"$REPORT"
cat "$REPORT"
cat "$REPORT" >>"$RESULTS/$DATE-sync.md"
log "appended to $RESULTS/$DATE-sync.md"
