#!/usr/bin/env bash
# rampart vs Debian's nginx on this machine, in one run: req/s, p50/p99 latency and proxy CPU time
# per request under wrk, and RSS per idle keep-alive connection. Usage and method: benches/README.md.
#
#   benches/compare.sh [--quick] [--rounds N] [--duration SECS] [--proxies "nginx rampart"]
#                      [--scenarios a,b] [--idle N] [--no-build] [--keep] [--baseline BIN]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/benches"
NGINX_PORT=${NGINX_PORT:-18080}
RAMPART_PORT=${RAMPART_PORT:-18081}
BACKEND_PORT=${BACKEND_PORT:-19001}
BACKEND="127.0.0.1:$BACKEND_PORT"
BACKEND2_PORT=${BACKEND2_PORT:-19002}   # the second peer of the two-upstream scenarios
BACKEND2="127.0.0.1:$BACKEND2_PORT"
ROUNDS=3          # A/B rounds per scenario
DURATION=10       # seconds per measured wrk run
WARMUP=1          # seconds of unmeasured wrk load after each proxy start
CONNS=50          # wrk connections
IDLE_N=10000      # connections held by the idle-memory scenario
PROXIES="nginx rampart"
ONLY=""           # comma-separated scenario names; empty = all
BUILD=1
KEEP=0
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
RAMPART=${RAMPART_BIN:-$ROOT/target/release/rampart}
BACKEND_BIN="$ROOT/target/release/rampart-backend"
IDLE_BIN="$ROOT/target/release/examples/idle_clients"

# Load scenarios, one per line: name|nginx template|rampart template|path|extra wrk arguments.
# Templates live in benches/nginx/ and benches/rampart/; the extra arguments are word-split by
# `eval`, so quote inside them. A path written `https:/PATH` is fetched over TLS (the templates
# listen with `ssl` on the certificate the script generates: @CERT@, @KEY@). A path written `h2c:/PATH`
# is loaded by h2load over cleartext HTTP/2 (prior knowledge), `h2:/PATH` over TLS with ALPN h2,
# with $H2_CONNS connections of $H2_STREAMS concurrent streams each (h2load reports the mean
# request time, shown as p50, and no p99). To add one, add a line (and templates if the config differs), e.g.
#   "proxy-close-1k|proxy.conf.in|proxy.toml.in|/size/1024|-H 'Connection: close'"
SCENARIOS=(
  "proxy-keepalive-1k|proxy.conf.in|proxy.toml.in|/size/1024|"
  "upstream-keepalive|upstream-keepalive.conf.in|upstream-keepalive.toml.in|/size/1024|"
  "ip-hash|ip-hash.conf.in|ip-hash.toml.in|/size/1024|"
  "proxy-keepalive-1k-metrics|proxy.conf.in|proxy-metrics.toml.in|/size/1024|"
  "static-1k|static.conf.in|static.toml.in|/1k.bin|"
  "static-1m|static.conf.in|static.toml.in|/1m.bin|"
  "static-1k-nocache|static-nocache.conf.in|static-nocache.toml.in|/1k.bin|"
  "static-1m-nocache|static-nocache.conf.in|static-nocache.toml.in|/1m.bin|"
  "gzip-100k-l1|gzip1.conf.in|gzip1.toml.in|/100k.html|-H 'Accept-Encoding: gzip'"
  "gzip-100k-l2|gzip2.conf.in|gzip2.toml.in|/100k.html|-H 'Accept-Encoding: gzip'"
  "gzip-proxy-100k-l1|gzip-proxy1.conf.in|gzip-proxy1.toml.in|/page/102400|-H 'Accept-Encoding: gzip'"
  "gzip-proxy-100k-l2|gzip-proxy2.conf.in|gzip-proxy2.toml.in|/page/102400|-H 'Accept-Encoding: gzip'"
  "tls-handshake|tls-handshake.conf.in|tls-handshake.toml.in|https:/1k.bin|-H 'Connection: close'"
  "tls-keepalive-1k|tls.conf.in|tls.toml.in|https:/1k.bin|"
  "h2c-static-1k|h2c-static.conf.in|h2c-static.toml.in|h2c:/1k.bin|"
  "h2c-proxy-1k|h2c-proxy.conf.in|h2c-proxy.toml.in|h2c:/size/1024|"
  "h2-static-1k|h2-static.conf.in|h2-static.toml.in|h2:/1k.bin|"
  "h2-proxy-1k|h2-proxy.conf.in|h2-proxy.toml.in|h2:/size/1024|"
)
H2_CONNS=16       # h2load connections of the HTTP/2 scenarios
H2_STREAMS=10     # h2load concurrent streams per connection
# The idle-memory scenario (idle-10k by default) is run after the load scenarios; see run_idle.

log() { printf '%s\n' "$*" >&2; }
die() { log "compare.sh: $*"; exit 1; }

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1; DURATION=3 ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --duration) DURATION=${2:?}; shift ;;
    --proxies) PROXIES=${2:?}; shift ;;
    --scenarios) ONLY=${2:?}; shift ;;
    --idle) IDLE_N=${2:?}; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    --baseline) BASE_BIN=${2:?}; PROXIES="$PROXIES base"; shift ;;
    -h|--help) usage 0 ;;
    *) log "unknown option $1"; usage 2 ;;
  esac
  shift
done
for p in $PROXIES; do
  case "$p" in nginx|rampart|base) ;; *) die "--proxies: unknown proxy '$p' (want nginx and/or rampart)" ;; esac
done
wants_rampart() { case " $PROXIES " in *" rampart "*) return 0 ;; esac; return 1; }
selected() { [ -z "$ONLY" ] || case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- processes we own, and cleanup
PIDS=()
WORK=$(mktemp -d /tmp/rampart-bench.XXXXXX)
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then log "logs and configs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_gone PID: up to 5 s for PID to exit (reaping it if it is our child).
wait_gone() {
  local i
  for i in $(seq 50); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}

# stop PID: TERM, then KILL after 5 s; forgets the PID.
stop() {
  kill "$1" 2>/dev/null || true
  wait_gone "$1" || { kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# wait_listen PORT PID SECS: until something accepts on 127.0.0.1:PORT, while PID lives.
wait_listen() {
  local i
  for i in $(seq $(($3 * 10))); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: utime+stime of the whole process (all threads), fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------- setup
[ "$(uname -s)" = Linux ] || die "needs Linux (/proc, taskset)"
ulimit -n 20000 || die "cannot raise the open-file limit to 20000 (ulimit -Hn is $(ulimit -Hn))"
missing=()
[ -x "$NGINX" ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
fi
for tool in taskset ss curl openssl; do command -v "$tool" >/dev/null || die "$tool is missing"; done
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (proxy on CPU 0, wrk and backend on CPU 1)"
for port in $NGINX_PORT $RAMPART_PORT $BACKEND_PORT $BACKEND2_PORT; do
  port_free "$port" || die "port $port is in use; free it or edit the ports at the top of $0"
done

if [ "$BUILD" = 1 ]; then
  # The backend is the workspace member rampart-backend (backend/); -p names both packages.
  targets=(-p rampart-backend --bin rampart-backend -p rampart --example idle_clients)
  wants_rampart && targets+=(--bin rampart)
  log "building (release): ${targets[*]}"
  (cd "$ROOT" && cargo build --release "${targets[@]}") >&2 || die "cargo build failed"
fi
[ -x "$BACKEND_BIN" ] || die "$BACKEND_BIN missing (run without --no-build)"
[ -x "$IDLE_BIN" ] || die "$IDLE_BIN missing (run without --no-build)"
if wants_rampart; then
  [ -x "$RAMPART" ] || die "rampart binary $RAMPART missing; build it, or use --proxies nginx"
fi

# ---------------------------------------------------------------- proxies
RUN=0
PROXY_PID=""
# start_proxy NAME TEMPLATE: renders the config into a fresh dir, starts the proxy pinned to CPU 0,
# waits until it accepts connections; sets PROXY_PID and PROXY_PORT.
start_proxy() {
  local name=$1 template=$2 dir conf
  RUN=$((RUN + 1))
  dir="$WORK/$RUN-$name"
  mkdir -p "$dir"
  if [ "$name" = nginx ]; then
    PROXY_PORT=$NGINX_PORT
    conf="$dir/nginx.conf"
    render "$BENCH/nginx/$template" "$dir" "$PROXY_PORT" > "$conf"
    taskset -c 0 "$NGINX" -e "$dir/error.log" -p "$dir/" -c "$conf" >"$dir/stdout" 2>&1 &
  else
    PROXY_PORT=$RAMPART_PORT
    conf="$dir/rampart.toml"
    render "$BENCH/rampart/$template" "$dir" "$PROXY_PORT" > "$conf"
    local bin=$RAMPART
    [ "$name" = base ] && bin=$BASE_BIN
    taskset -c 0 "$bin" -c "$conf" >"$dir/stdout" 2>&1 &
  fi
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  if ! wait_listen "$PROXY_PORT" "$PROXY_PID" 10; then
    local how="still running"
    kill -0 "$PROXY_PID" 2>/dev/null || { wait "$PROXY_PID" && how="exited with status 0" || how="exited with status $?"; }
    log "$name did not accept connections on 127.0.0.1:$PROXY_PORT within 10 s ($how)."
    log "  command: $( [ "$name" = nginx ] && echo "$NGINX -p $dir/ -c $conf" || echo "$RAMPART -c $conf" )"
    log "  output:"; sed 's/^/    /' "$dir/stdout" >&2 || true
    [ -f "$dir/error.log" ] && { log "  error log:"; tail -n 20 "$dir/error.log" | sed 's/^/    /' >&2; }
    [ "$KEEP" = 1 ] || log "  (--keep keeps the config and logs)"
    [ "$name" = rampart ] && log "  (to measure nginx alone: $0 --proxies nginx)"
    exit 1
  fi
  if [ "$name" = rampart ] && [ ! -s "$dir/rampart.pid" ]; then
    log "warning: rampart listens but wrote no pid file $dir/rampart.pid"
  fi
}

# The document root of the static and gzip scenarios (same files for both proxies): 1 KiB and
# 1 MiB of bytes, and a 100 KiB HTML page of varied words (compresses like real markup).
STATIC="$WORK/static"
mkdir -p "$STATIC"
head -c 1024 /dev/urandom >"$STATIC/1k.bin"
head -c 1048576 /dev/urandom >"$STATIC/1m.bin"
# (Through a file, not a pipe into head: under pipefail, awk's SIGPIPE would end the script.)
awk 'BEGIN { srand(7); printf "<html><body>"; while (n < 102400) { w = sprintf("<p class=\"c%d\">word%d text %d</p>\n", int(rand()*50), int(rand()*997), int(rand()*100000)); printf "%s", w; n += length(w) } }' \
  >"$STATIC/100k.full"
head -c 102400 "$STATIC/100k.full" >"$STATIC/100k.html"
rm -f "$STATIC/100k.full"

# The certificate of the TLS scenarios (same for both proxies): ECDSA P-256, self-signed.
TLS_DIR="$WORK/tls"
mkdir -p "$TLS_DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>/dev/null || die "openssl could not make the TLS certificate"

render() {
  sed -e "s|@DIR@|$2|g" -e "s|@PORT@|$3|g" -e "s|@BACKEND@|$BACKEND|g" -e "s|@BACKEND2@|$BACKEND2|g" \
      -e "s|@STATIC@|$STATIC|g" -e "s|@CERT@|$TLS_DIR/cert.pem|g" -e "s|@KEY@|$TLS_DIR/key.pem|g" "$1"
}

# ---------------------------------------------------------------- the backend
log "starting backends on $BACKEND and $BACKEND2 (CPU 1)"
taskset -c 1 "$BACKEND_BIN" --listen "$BACKEND" --id b1 >"$WORK/backend.out" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
for _ in $(seq 100); do
  grep -q '^listening on' "$WORK/backend.out" 2>/dev/null && break
  kill -0 "$BACKEND_PID" 2>/dev/null || die "backend exited: $(cat "$WORK/backend.out")"
  sleep 0.1
done
grep -q '^listening on' "$WORK/backend.out" || die "backend did not start listening within 10 s"
taskset -c 1 "$BACKEND_BIN" --listen "$BACKEND2" --id b2 >"$WORK/backend2.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do
  grep -q '^listening on' "$WORK/backend2.out" 2>/dev/null && break
  sleep 0.1
done
grep -q '^listening on' "$WORK/backend2.out" || die "second backend did not start listening within 10 s"

# Fail early, before spending minutes on nginx, if rampart cannot serve the first scenario.
if wants_rampart; then
  IFS='|' read -r _ _ rtemplate _ _ <<<"${SCENARIOS[0]}"
  log "preflight: starting rampart once"
  start_proxy rampart "$rtemplate"
  curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/id" || die "rampart accepted but GET /id failed"
  stop "$PROXY_PID"
fi

# ---------------------------------------------------------------- load scenarios
RESULTS="$WORK/results.tsv"   # scenario proxy round rps p50_us p99_us cpu_us_per_req cpu_util errors
: > "$RESULTS"

# parse_wrk FILE: prints "requests rps p50_us p99_us errors" from wrk --latency output.
parse_wrk() {
  awk '
    function us(s,  v, u) { v = s + 0; u = s; sub(/^[0-9.]+/, "", u)
      if (u == "ms") return v * 1000; if (u == "s") return v * 1e6; if (u == "m") return v * 6e7; return v }
    /Latency Distribution/ { dist = 1; next }
    dist && $1 == "50%" { p50 = us($2) }
    dist && $1 == "99%" { p99 = us($2) }
    / requests in / { reqs = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Socket errors:/ { gsub(/,/, ""); errs += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errs += $NF }
    END { if (reqs == "" || rps == "") exit 1; printf "%s %s %s %s %d\n", reqs, rps, p50, p99, errs }
  ' "$1"
}

# parse_h2load FILE: prints "requests rps mean_us - errors" from h2load output.
parse_h2load() {
  awk '
    function us(s,  v, u) { v = s + 0; u = s; sub(/^[0-9.]+/, "", u)
      if (u == "ms") return v * 1000; if (u == "s") return v * 1e6; return v }
    /^finished in/ { rps = $4 }
    /^requests:/ { reqs = $2; errs += $10 + $12 + $14 }
    /^status codes:/ { errs += $5 + $7 + $9 }
    /^time for request:/ { mean = us($6) }
    END { if (reqs == "" || rps == "") exit 1; printf "%s %s %s - %d\n", reqs, rps, mean, errs }
  ' "$1"
}

# measure SCENARIO PROXY ROUND PATH EXTRA...: one fresh proxy, warm-up, one measured wrk run
# (h2load for the HTTP/2 paths).
measure() {
  local scen=$1 proxy=$2 round=$3 path=$4 template=$5; shift 5
  start_proxy "$proxy" "$template"
  local url="http://127.0.0.1:$PROXY_PORT$path" out="$WORK/$RUN-$proxy/wrk.txt" tool=wrk curl_mode=""
  case "$path" in
    https:*) url="https://127.0.0.1:$PROXY_PORT${path#https:}" ;;
    h2c:*) url="http://127.0.0.1:$PROXY_PORT${path#h2c:}"; tool=h2load; curl_mode=--http2-prior-knowledge ;;
    h2:*) url="https://127.0.0.1:$PROXY_PORT${path#h2:}"; tool=h2load; curl_mode=--http2 ;;
  esac
  curl -fsSk $curl_mode -o /dev/null "$url" || die "$proxy: GET $url failed"
  if [ "$tool" = h2load ]; then
    taskset -c 1 h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D"$WARMUP" "$@" "$url" >/dev/null 2>&1 || true
  else
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
  fi
  local t0 t1 s0 s1
  t0=$(cpu_ticks "$PROXY_PID"); s0=$(date +%s.%N)
  if [ "$tool" = h2load ]; then
    taskset -c 1 h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D"$DURATION" "$@" "$url" >"$out" 2>&1 \
      || die "h2load failed against $proxy: $(cat "$out")"
  else
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" >"$out" 2>&1 \
      || die "wrk failed against $proxy: $(cat "$out")"
  fi
  t1=$(cpu_ticks "$PROXY_PID"); s1=$(date +%s.%N)
  local reqs rps p50 p99 errs
  if [ "$tool" = h2load ]; then
    read -r reqs rps p50 p99 errs < <(parse_h2load "$out") || die "cannot parse h2load output $out"
  else
    read -r reqs rps p50 p99 errs < <(parse_wrk "$out") || die "cannot parse wrk output $out"
  fi
  [ "$reqs" -gt 0 ] || die "$proxy served no requests in $scen"
  stop "$PROXY_PID"
  local cpu util
  cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
  util=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", 100 * d / hz / (b - a) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$proxy" "$round" "$rps" "$p50" "$p99" "$cpu" "$util" "$errs" >> "$RESULTS"
  log "  round $round $proxy: $rps req/s, p50 ${p50}us, p99 ${p99}us, CPU ${cpu} us/req (${util}% of CPU 0), errors $errs"
}

for line in "${SCENARIOS[@]}"; do
  IFS='|' read -r scen ntemplate rtemplate path extra <<<"$line"
  selected "$scen" || continue
  eval "extra_args=($extra)"
  log "scenario $scen: $ROUNDS round(s) x ($PROXIES), ${DURATION}s each, wrk -c$CONNS $path ${extra}"
  for round in $(seq "$ROUNDS"); do
    for proxy in $PROXIES; do
      [ "$proxy" = nginx ] && template=$ntemplate || template=$rtemplate   # base: rampart's
      measure "$scen" "$proxy" "$round" "$path" "$template" "${extra_args[@]}"
    done
  done
done

# ---------------------------------------------------------------- idle connections
IDLE_NAME="idle-$((IDLE_N / 1000))k"
IDLE_RESULTS="$WORK/idle.tsv"    # proxy rss_before_kib rss_after_kib bytes_per_conn
: > "$IDLE_RESULTS"

# run_idle PROXY: RSS of a fresh proxy before and after IDLE_N idle keep-alive clients connect.
run_idle() {
  local proxy=$1 template
  [ "$proxy" = nginx ] && template=proxy.conf.in || template=proxy.toml.in   # base: rampart's
  start_proxy "$proxy" "$template"
  local dir="$WORK/$RUN-$proxy"
  # One request first, so one-time allocations are not charged to the idle connections.
  curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/" || die "$proxy: GET / failed"
  sleep 0.5
  local before after
  before=$(rss_kib "$PROXY_PID")
  mkfifo "$dir/hold"
  taskset -c 1 "$IDLE_BIN" "127.0.0.1:$PROXY_PORT" "$IDLE_N" / <"$dir/hold" >"$dir/idle.out" 2>"$dir/idle.err" &
  local ipid=$!
  PIDS+=("$ipid")
  exec 7>"$dir/hold"   # idle_clients holds its connections until this end closes
  local i
  for i in $(seq 1200); do
    grep -q '^ready' "$dir/idle.out" && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^ready' "$dir/idle.out"; then
    exec 7>&-
    die "$proxy: idle_clients did not get $IDLE_N idle connections: $(cat "$dir/idle.err")"
  fi
  sleep 1
  after=$(rss_kib "$PROXY_PID")
  local fds
  fds=$(find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  exec 7>&-
  wait_gone "$ipid" || stop "$ipid"
  local closed
  closed=$(awk '/^closed_by_peer/ { print $2 }' "$dir/idle.out")
  [ "${closed:-0}" = 0 ] || log "warning: $proxy closed $closed of the idle connections during the measurement"
  stop "$PROXY_PID"
  local per
  per=$(awk -v a="$after" -v b="$before" -v n="$IDLE_N" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
  printf '%s\t%s\t%s\t%s\n' "$proxy" "$before" "$after" "$per" >> "$IDLE_RESULTS"
  log "  $proxy: RSS ${before} KiB -> ${after} KiB with $IDLE_N idle connections ($fds fds open): $per bytes each"
}

if selected "$IDLE_NAME" || selected idle; then
  log "scenario $IDLE_NAME: RSS per idle keep-alive connection"
  for proxy in $PROXIES; do run_idle "$proxy"; done
fi

# ---------------------------------------------------------------- report
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# col SCEN PROXY FIELD: the median of one column of RESULTS.
col() { awk -F'\t' -v s="$1" -v p="$2" -v f="$3" '$1 == s && $2 == p { print $f }' "$RESULTS" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }'; }
row() { printf '%-20s %-24s %12s %12s %14s\n' "$@"; }

echo
echo "rampart vs nginx — $(date -u +%FT%TZ), $(uname -r), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'),"
echo "rampart $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'); $ROUNDS round(s) of ${DURATION}s, wrk -t1 -c$CONNS;" \
  "medians; CPU = proxy utime+stime per request"
row scenario metric nginx rampart rampart/nginx
for line in "${SCENARIOS[@]}"; do
  IFS='|' read -r scen _ _ _ _ <<<"$line"
  selected "$scen" || continue
  first=$scen
  for m in "req/s:4" "p50 latency (us):5" "p99 latency (us):6" "CPU per request (us):7" "CPU 0 busy (%):8" "errors:9"; do
    n=$(col "$scen" nginx "${m##*:}"); r=$(col "$scen" rampart "${m##*:}")
    row "$first" "${m%:*}" "$n" "$r" "$(ratio "$r" "$n")"
    if [ -n "${BASE_BIN:-}" ]; then
      b=$(col "$scen" base "${m##*:}")
      row "" "  baseline (rampart/base)" "" "$b" "$(ratio "$r" "$b")"
    fi
    first=""
  done
  # Paired per-round ratios of CPU per request: each round's pair ran back to back, so this
  # cancels slow drifts of the machine that the ratio of medians does not.
  paired=$(awk -F'\t' -v s="$scen" '$1 == s { c[$2 "," $3] = $7 }
    END { for (k in c) { split(k, a, ","); if (a[1] == "rampart" && c["nginx," a[2]] > 0) print c[k] / c["nginx," a[2]] } }' "$RESULTS" | median)
  [ "$paired" = - ] || paired=$(printf '%.3f' "$paired")
  row "" "CPU/req, paired ratio" "" "" "$paired"
  if [ -n "${BASE_BIN:-}" ]; then
    bpaired=$(awk -F'\t' -v s="$scen" '$1 == s { c[$2 "," $3] = $7 }
      END { for (k in c) { split(k, a, ","); if (a[1] == "rampart" && c["base," a[2]] > 0) print c[k] / c["base," a[2]] } }' "$RESULTS" | median)
    [ "$bpaired" = - ] || bpaired=$(printf '%.3f' "$bpaired")
    bnpaired=$(awk -F'\t' -v s="$scen" '$1 == s { c[$2 "," $3] = $7 }
      END { for (k in c) { split(k, a, ","); if (a[1] == "base" && c["nginx," a[2]] > 0) print c[k] / c["nginx," a[2]] } }' "$RESULTS" | median)
    [ "$bnpaired" = - ] || bnpaired=$(printf '%.3f' "$bnpaired")
    row "" "CPU/req paired, base/nginx" "" "" "$bnpaired"
    row "" "CPU/req paired, rampart/base" "" "" "$bpaired"
  fi
done
if [ -s "$IDLE_RESULTS" ]; then
  icol() { awk -F'\t' -v p="$1" -v f="$2" '$1 == p { print $f }' "$IDLE_RESULTS" | median; }
  first=$IDLE_NAME
  for m in "RSS before (KiB):2" "RSS after (KiB):3" "bytes per idle conn:4"; do
    n=$(icol nginx "${m##*:}"); r=$(icol rampart "${m##*:}")
    row "$first" "${m%:*}" "$n" "$r" "$(ratio "$r" "$n")"
    first=""
  done
fi
