#!/bin/sh
# Runs kvclient-cli against a real redis-server on a free loopback port: SET/GET, INCR, expiry,
# DEL, a missing key, 1000 pipelined INCR, and a refused connection. Prints PASS/FAIL per check
# and exits non-zero on any failure. Without redis-server (and no way to install it) it prints
# SKIP and exits 0. The server is always stopped.
#   usage: sh scripts/redis-integration.sh BUILD_DIR
set -u
BUILD=${1:-build}

CLI=$BUILD/examples/kvclient/kvclient-cli
if [ ! -x "$CLI" ]; then
    CLI=$(find "$BUILD" -type f -name kvclient-cli -perm -u+x 2>/dev/null | head -n 1)
fi
if [ -z "$CLI" ] || [ ! -x "$CLI" ]; then
    echo "FAIL kvclient-cli not found under $BUILD (build it first)"
    exit 1
fi

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "redis-server missing: installing it with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            redis-server >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                    --no-install-recommends redis-server >/dev/null 2>&1; }
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "SKIP kvclient_redis_integration: redis-server is not installed and could not be" \
            "installed (as root: apt-get install -y redis-server)"
        exit 0
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvredis.XXXXXX")
PID=""
stop_server() {
    [ -n "$PID" ] || return 0
    kill "$PID" 2>/dev/null
    i=0
    while kill -0 "$PID" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=""
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start redis-server on the first port that works; a port in use makes it exit at once.
PORT=""
base=$((20000 + $$ % 1000 * 10))
for try in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
    p=$((base + try * 7))
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    PID=$!
    # Up to 5 s for PING to answer, as long as the server lives.
    i=0
    while [ $i -lt 50 ] && kill -0 "$PID" 2>/dev/null; do
        if [ "$("$CLI" -p "$p" -t 500 PING 2>/dev/null)" = "PONG" ]; then
            PORT=$p
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] && break
    stop_server
done
if [ -z "$PORT" ]; then
    echo "FAIL could not start redis-server on a free port"
    tail -n 20 "$WORK/redis.log" 2>/dev/null
    exit 1
fi
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PORT"

FAILS=0
# check NAME EXPECTED_OUTPUT EXPECTED_EXIT CMD...: runs kvclient-cli, compares stdout and status.
check() {
    name=$1
    want=$2
    want_rc=$3
    shift 3
    got=$("$CLI" -p "$PORT" "$@" 2>"$WORK/err")
    rc=$?
    if [ "$got" = "$want" ] && [ "$rc" -eq "$want_rc" ]; then
        echo "PASS $name"
    else
        echo "FAIL $name: got [$got] exit $rc, want [$want] exit $want_rc"
        sed 's/^/    stderr: /' "$WORK/err"
        FAILS=$((FAILS + 1))
    fi
}

check "PING" "PONG" 0 PING
check "SET" "OK" 0 SET kv:a hello
check "GET after SET" "hello" 0 GET kv:a
check "SET binary-ish value with spaces" "OK" 0 SET kv:b "two words"
check "GET it back" "two words" 0 GET kv:b
check "INCR new key" "(integer) 1" 0 INCR kv:n
check "INCR again" "(integer) 2" 0 INCR kv:n
check "INCR of a string is an error reply" \
    "(error) ERR value is not an integer or out of range" 1 INCR kv:a
# 1 s: a sanitizer build on a loaded machine can take longer than 200 ms to start the next GET
check "SET with PX 1000" "OK" 0 SET kv:e temp PX 1000
check "GET before expiry" "temp" 0 GET kv:e
sleep 1.2
check "GET after expiry" "(nil)" 0 GET kv:e
check "DEL existing key" "(integer) 1" 0 DEL kv:a
check "GET deleted key" "(nil)" 0 GET kv:a
check "DEL missing key" "(integer) 0" 0 DEL kv:a
check "GET missing key" "(nil)" 0 GET kv:missing
check "several commands in one run" "OK
v
(integer) 1" 0 SET kv:m v -- GET kv:m -- DEL kv:m
check "pipeline of 1000 INCR" "(integer) 1000" 0 -t 10000 --pipeline 1000
check "counter after the pipeline" "1000" 0 GET pipe:counter

# A closed port: the one our server listened on, once it is stopped.
stop_server
got=$("$CLI" -p "$PORT" PING 2>"$WORK/err")
rc=$?
if [ "$rc" -ne 0 ] && grep -qi "refused" "$WORK/err"; then
    echo "PASS connect to a closed port fails: $(cat "$WORK/err")"
else
    echo "FAIL connect to a closed port: exit $rc, stdout [$got], stderr [$(cat "$WORK/err")]"
    FAILS=$((FAILS + 1))
fi

if [ "$FAILS" -ne 0 ]; then
    echo "kvclient_redis_integration: $FAILS check(s) failed"
    exit 1
fi
echo "kvclient_redis_integration: all checks passed"
exit 0
