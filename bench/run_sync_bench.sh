#!/usr/bin/env bash
# Sync benchmark: vorpal vs bandersnatch against a generated upstream served by
# nginx over TLS on 127.0.0.1. See bench/README.md.
#
#   ./bench/run_sync_bench.sh [--quick] [--projects N] [--tools vorpal,bandersnatch]
#                             [--runs R] [--seed S] [--bs-api simple|xmlrpc] [--no-wrk]
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
RUNS=1

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) PROJECTS=300 ;;
        --projects) PROJECTS="$2"; shift ;;
        --tools) TOOLS="$2"; shift ;;
        --seed) SEED="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
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

[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is needed (its EPOCHREALTIME clock times each step)"
mkdir -p "$WORK" "$RESULTS"
# The real interpreter, not a version-manager shim: the XML-RPC server's pid
# must be the process that serves, so that cleanup can stop it.
PY="$(python3 -c 'import sys; print(sys.executable)')"

# Big deletions are kept out of the timed window: on ext4 without a journal (as
# here) new inodes are allocated slowly for 60-360 s after many inodes were freed
# (ext4 skips "recently deleted" inodes), which would tax whichever tool runs next.
# Old trees are renamed into TRASH and removed after the last measurement.
TRASH="$WORK/trash"
trash() { for p in "$@"; do [ -e "$p" ] && mkdir -p "$TRASH" && mv "$p" "$TRASH/$(basename "$p").$$.$RANDOM"; done; true; }
QUIET_AFTER_DELETE=360
if [ -d "$TRASH" ]; then
    log "removing $TRASH left by an interrupted run"
    rm -rf "$TRASH"; date +%s >"$WORK/.last-delete"
fi

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
        "$PY" -m venv "$BS_VENV"
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

PRISTINE="$WORK/upstream-pristine"
log "generating $PROJECTS projects (seed $SEED) for $BASE"
trash "$UP" "$PRISTINE"
"$PY" "$HERE/gen_upstream.py" --projects "$PROJECTS" --seed "$SEED" --out "$PRISTINE" --base-url "$BASE" >&2
# Each run starts from a hard-linked copy: --mutate only adds files and replaces
# pages by rename, so the pristine tree is never modified.
cp -al "$PRISTINE" "$UP"
state() { "$PY" -c "import json,sys; print(json.load(open('$UP/state.json'))[sys.argv[1]])" "$1"; }
DS_FILES="$(state release_files)"; DS_META="$(state metadata_files)"; DS_BYTES="$(state release_bytes)"

"$PY" "$HERE/xmlrpc_server.py" --data "$UP/xmlrpc.json" --port "$XPORT" >"$WORK/xmlrpc.log" 2>&1 &
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
# After a HUP nginx starts new workers that read serials.map again. Under the
# write load of a mutation that can take more than a few seconds, so wait up to
# a minute and repeat the HUP now and then in case one was missed mid-reload.
reload_upstream() {
    local i
    kill -HUP "$NGINX_PID"
    for i in $(seq 300); do
        [ "$(root_serial)" = "$(state last_serial)" ] && return 0
        [ $((i % 75)) = 0 ] && kill -HUP "$NGINX_PID"
        sleep 0.2
    done
    die "nginx did not serve the new serials within 60 s of the reload"
}
xmlrpc_last() {
    "${CURL[@]}" -H 'Content-Type: text/xml' --data \
        '<?xml version="1.0"?><methodCall><methodName>changelog_last_serial</methodName><params/></methodCall>' \
        "$BASE/pypi"
}
for _ in $(seq 50); do XR="$(xmlrpc_last)"; case "$XR" in *"<int>"*) break ;; esac; sleep 0.2; done
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
        bandersnatch) cat >"$WORK/bandersnatch.conf" <<CONF
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
CONF
        ;;
        vorpal) cat >"$WORK/vorpal.toml" <<CONF
[mirror]
directory = "$dir"
master = "$BASE"
workers = 10
download-concurrency = 32
CONF
        ;;
    esac
}

tool_cmd() {
    case "$1" in
        bandersnatch) echo env SSL_CERT_FILE="$CA" "$BS_VENV/bin/bandersnatch" -c "$WORK/bandersnatch.conf" mirror ;;
        vorpal) echo "$VORPAL" sync -c "$WORK/vorpal.toml" --cert "$CA" ;;
    esac
}

# Per tool.step: space-separated values, one per run.
declare -A WALL CPU RSS RC
add() { local -n arr="$1"; arr[$2]="${arr[$2]:+${arr[$2]} }$3"; }
run_step() { # tool step run
    local t="$1" s="$2" r="$3" out="$WORK/time.$1.$2.$3" logf="$WORK/log.$1.$2.$3"
    sync
    log "run $r: $t $s sync"
    local rc=0 w u sy m t0 t1
    # Wall time from bash's microsecond clock: /usr/bin/time's %e comes in steps of
    # 10 ms, about 4% of a 5% incremental. time(1) still gives CPU and peak RSS.
    t0=$EPOCHREALTIME
    # shellcheck disable=SC2046
    /usr/bin/time -f '%U %S %M' -o "$out" $(tool_cmd "$t") >"$logf" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    w=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
    read -r u sy m < <(tail -1 "$out")
    add WALL "$t.$s" "$w"
    add CPU "$t.$s" "$(awk -v u="$u" -v s="$sy" 'BEGIN{printf "%.2f", u+s}')"
    add RSS "$t.$s" "$(awk -v m="$m" 'BEGIN{printf "%.1f", m/1024}')"
    add RC "$t.$s" "$rc"
    log "run $r: $t $s: wall ${w}s user ${u}s sys ${sy}s rss $((m / 1024))MB exit $rc (log: $logf)"
    [ "$rc" = 0 ] || tail -5 "$logf" | sed 's/^/    /' >&2
}

IFS=',' read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    case "$t" in vorpal|bandersnatch) ;; *) die "unknown tool $t" ;; esac
    write_configs "$t"
done

listing() { # dir -> "path size" lines for release files (no .metadata)
    (cd "$1" 2>/dev/null && find packages -type f ! -name '*.metadata' ! -name '*.tmp' -printf '%p %s\n' | LC_ALL=C sort) || true
}
declare -A VERIFY META_N
SAME=""
for r in $(seq "$RUNS"); do
    if [ "$r" -gt 1 ]; then
        log "run $r: restoring the pristine upstream"
        trash "$UP"
        cp -al "$PRISTINE" "$UP"
        reload_upstream
    fi
    for t in "${TOOL_LIST[@]}"; do trash "$WORK/mirror-$t"; done
    if [ -s "$WORK/.last-delete" ]; then
        wait_s=$(($(cat "$WORK/.last-delete") + QUIET_AFTER_DELETE - $(date +%s)))
        if [ "$wait_s" -gt 0 ]; then
            log "waiting ${wait_s}s: the last bulk delete was under ${QUIET_AFTER_DELETE}s ago (ext4 inode allocation)"
            sleep "$wait_s"
        fi
    fi
    # The tools take turns going first: the first full sync of a run meets a
    # different page cache and inode-allocation state than the second.
    ORDER=("${TOOL_LIST[@]}")
    if [ $((r % 2)) = 0 ]; then
        ORDER=()
        for ((i = ${#TOOL_LIST[@]} - 1; i >= 0; i--)); do ORDER+=("${TOOL_LIST[$i]}"); done
    fi
    log "run $r: order ${ORDER[*]}"
    for t in "${ORDER[@]}"; do run_step "$t" full "$r"; done
    for t in "${ORDER[@]}"; do run_step "$t" noop "$r"; done

    log "run $r: mutating $MUTATE_PCT% of the projects"
    "$PY" "$HERE/gen_upstream.py" --out "$UP" --mutate "$MUTATE_PCT" >&2
    reload_upstream # re-read serials.map
    MUT_PROJECTS="$(state mutated_last_round)"
    for t in "${ORDER[@]}"; do run_step "$t" incr "$r"; done

    # Verify: each mirror holds exactly upstream's release files (path + size).
    listing "$UP/web" >"$WORK/list.upstream"
    UP_N="$(wc -l <"$WORK/list.upstream")"
    for t in "${TOOL_LIST[@]}"; do
        listing "$WORK/mirror-$t/web" >"$WORK/list.$t"
        META_N[$t]="$(find "$WORK/mirror-$t/web/packages" -name '*.metadata' 2>/dev/null | wc -l)"
        if cmp -s "$WORK/list.upstream" "$WORK/list.$t"; then
            v="all $UP_N release files present with upstream sizes"
        else
            miss="$(comm -23 "$WORK/list.upstream" "$WORK/list.$t" | wc -l)"
            extra="$(comm -13 "$WORK/list.upstream" "$WORK/list.$t" | wc -l)"
            v="DIFFERS from upstream: $miss of $UP_N missing or wrong size, $extra unexpected"
        fi
        VERIFY[$t]="${VERIFY[$t]:+${VERIFY[$t]}; }run $r: $v, ${META_N[$t]} .metadata files"
        log "run $r: $t: $v; ${META_N[$t]} .metadata files"
    done
    if has_tool vorpal && has_tool bandersnatch; then
        if cmp -s "$WORK/list.vorpal" "$WORK/list.bandersnatch"; then
            v="identical ($(wc -l <"$WORK/list.vorpal") files)"
        else
            v="DIFFER in $(comm -3 "$WORK/list.vorpal" "$WORK/list.bandersnatch" | wc -l) paths"
        fi
        SAME="${SAME:+$SAME; }run $r: $v"
        log "run $r: release-file sets of the two mirrors: $v"
    fi
done

# ---- report ----------------------------------------------------------------------
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END{ if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
med() { local -n arr="$1"; [ -n "${arr[$2]:-}" ] && echo "${arr[$2]}" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a > 0 && b > 0) printf "%.1f×", a/b; else print "n/a" }'; }
cell() {
    local k="$1.$2" note=""
    [ -n "${WALL[$k]:-}" ] || { echo "| — | — | — "; return; }
    case " ${RC[$k]} " in *" "[1-9]*) note=" (exit ${RC[$k]// /,})" ;; esac
    echo "| $(med WALL "$k")$note | $(med CPU "$k") | $(med RSS "$k") "
}
declare -A STEP_NAME=([full]="full sync" [noop]="no-op incremental" [incr]="incremental after $MUTATE_PCT% (${MUT_PROJECTS} projects) changed")
DATE="$(date -u +%Y-%m-%d)"
REPORT="$WORK/report.md"
mb() { awk -v b="$1" 'BEGIN{printf "%.1f MB", b/1e6}'; }
{
    echo "## Sync benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Measured on this machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr); $RUNS run(s), medians shown."
    echo "Dataset: $PROJECTS projects, $DS_FILES release files (+$DS_META .metadata), $(mb "$DS_BYTES") (seed $SEED); $UP_N release files after the mutation."
    echo "Server: nginx $("$NGINX" -v 2>&1 | sed 's#.*/##') over TLS (HTTP/2 and HTTP/1.1) on 127.0.0.1; XML-RPC from bench/xmlrpc_server.py behind it."
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
            echo "| ${STEP_NAME[$s]} | $(ratio "$(med WALL bandersnatch.$s)" "$(med WALL vorpal.$s)") | $(ratio "$(med CPU bandersnatch.$s)" "$(med CPU vorpal.$s)") |"
        done
        echo
        echo "Targets for vorpal: full sync ≥ 8× faster than bandersnatch → $(ratio "$(med WALL bandersnatch.full)" "$(med WALL vorpal.full)");" \
            "peak RSS ≤ 64 MB → $(med RSS vorpal.full) MB (full), $(med RSS vorpal.incr) MB (incremental);" \
            "no-op < 1 s → $(med WALL vorpal.noop) s; 5% incremental ≥ 8× faster → $(ratio "$(med WALL bandersnatch.incr)" "$(med WALL vorpal.incr)")."
    fi
    if [ "$RUN_WRK" = 1 ]; then
        echo
        echo "Server limit (wrk -t2 -c64 -d10s, same nginx, same run): $WRK_FILE_RPS req/s and $(mb "$WRK_FILE_BPS")/s on a ${WRK_FILE_SIZE}-byte file (errors $WRK_FILE_ERR); $WRK_JSON_RPS req/s and $(mb "$WRK_JSON_BPS")/s on a project JSON (errors $WRK_JSON_ERR)."
        echo
        echo "| tool | full sync files/s (release + .metadata) | % of wrk file req/s | full sync MB/s | % of wrk file MB/s |"
        echo "|---|---:|---:|---:|---:|"
        for t in "${TOOL_LIST[@]}"; do
            awk -v t="$t" -v f="$((DS_FILES + ${META_N[$t]:-0}))" -v b="$DS_BYTES" -v w="$(med WALL "$t.full")" \
                -v rr="$WRK_FILE_RPS" -v rb="$WRK_FILE_BPS" \
                'BEGIN{ if (w <= 0) { print "| " t " | n/a | | | |"; exit }
                        printf "| %s | %.0f | %.1f%% | %.1f | %.1f%% |\n", t, f/w, 100*f/w/rr, b/w/1e6, 100*b/w/rb }'
        done
        echo
        echo "files/s counts the initial release files plus the .metadata files that tool's mirror holds."
    fi
    echo
    echo "Verification (release files, path + size, excluding .metadata):"
    for t in "${TOOL_LIST[@]}"; do echo "- $t vs upstream: ${VERIFY[$t]}"; done
    [ -z "$SAME" ] || echo "- vorpal vs bandersnatch: $SAME"
    if [ "$RUNS" -gt 1 ]; then
        echo
        echo "Every run (wall s / CPU s / RSS MB):"
        for s in full noop incr; do for t in "${TOOL_LIST[@]}"; do
            echo "- $s $t: wall ${WALL[$t.$s]:-}; cpu ${CPU[$t.$s]:-}; rss ${RSS[$t.$s]:-}"
        done; done
    fi
    echo
} >"$REPORT"
cat "$REPORT"
cat "$REPORT" >>"$RESULTS/$DATE-sync.md"
log "appended to $RESULTS/$DATE-sync.md"
log "removing old trees"
rm -rf "$TRASH"
date +%s >"$WORK/.last-delete"
