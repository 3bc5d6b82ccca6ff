#!/usr/bin/env bash
# Drives rampart exactly as an nginx init script does, on an nginx.conf:
# start (daemon on: the command returns once ready), wait for the pid file,
# -s reload, mv + -s reopen, -s quit; checks each effect. Also -g.
# Usage: init_script.sh RAMPART_BINARY   (run by tests/init_script.rs)
set -euo pipefail
RAMPART=$1
P=$(mktemp -d /tmp/rampart-init-XXXXXX)
trap 'kill -9 $(cat "$P/logs/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$P"' EXIT
mkdir -p "$P/logs" "$P/conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_conf() { # $1 = text returned by /
cat > "$P/conf/nginx.conf" <<CONF
worker_processes 2;
pid logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log logs/access.log;
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "$1"; }
    }
}
CONF
}
get() { # prints the body of GET /
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' >&3
    sed '1,/^\r$/d' <&3
    exec 3<&-
}
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_until() { # $1 = description, $2.. = command
    local what=$1; shift
    for _ in $(seq 1 500); do "$@" && return 0; sleep 0.02; done
    fail "timed out waiting for $what"
}

write_conf one
"$RAMPART" -p "$P" -c conf/nginx.conf || fail "start returned non-zero"
PIDFILE="$P/logs/nginx.pid"
[ -s "$PIDFILE" ] || fail "no pid file after start returned"
PID=$(cat "$PIDFILE")
kill -0 "$PID" || fail "the daemon is not running"
[ "$(get)" = one ] || fail "first answer"

write_conf two
"$RAMPART" -p "$P" -c conf/nginx.conf -s reload || fail "-s reload"
wait_until "the reloaded config" bash -c "[ \"\$(exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'GET / HTTP/1.0\r\n\r\n' >&3; sed '1,/^\r\$/d' <&3)\" = two ]"
[ "$(cat "$PIDFILE")" = "$PID" ] || fail "reload changed the pid"

mv "$P/logs/access.log" "$P/logs/access.log.1"
"$RAMPART" -p "$P" -c conf/nginx.conf -s reopen || fail "-s reopen"
wait_until "a new access.log" test -e "$P/logs/access.log"
get >/dev/null
wait_until "a line in the new access.log" grep -q '"GET / HTTP/1.0" 200' "$P/logs/access.log"
grep -q '"GET / HTTP/1.0" 200' "$P/logs/access.log.1" || fail "old lines lost"

"$RAMPART" -p "$P" -c conf/nginx.conf -s quit || fail "-s quit"
wait_until "the daemon to exit" bash -c "! kill -0 $PID 2>/dev/null || grep -q '^[^ ]* ([^)]*) Z' /proc/$PID/stat"
wait_until "the pid file to go" test ! -e "$PIDFILE"

# -g: global directives from the command line; a duplicate is refused.
write_conf three
"$RAMPART" -p "$P" -c conf/nginx.conf -g 'daemon off;' &
FG=$!
wait_until "the foreground pid file" test -s "$PIDFILE"
[ "$(cat "$PIDFILE")" = "$FG" ] || fail "-g 'daemon off;' did not keep rampart in the foreground"
[ "$(get)" = three ] || fail "foreground answer"
kill -QUIT "$FG"; wait "$FG" || fail "QUIT exit status"
if "$RAMPART" -p "$P" -c conf/nginx.conf -g 'pid x.pid;' -t 2>"$P/err"; then fail "-g duplicate accepted"; fi
grep -q '"pid" directive is duplicate' "$P/err" || fail "duplicate message: $(cat "$P/err")"
echo "init script contract: ok"
