#!/bin/bash
# kvserver for real: the example server on the real libuv, over loopback, driven by bash's
# /dev/tcp as a plain line client (as redis-cli drives redis). Usage: real-test.sh path/to/kvserver
set -eu
bin=$1
dir=$(mktemp -d)
port=$((20000 + $$ % 20000))
"$bin" "$port" "$dir/kv.log" 2>"$dir/err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
done
ask() { # one request per connection: send a line, print the answer line
    exec 3<>/dev/tcp/127.0.0.1/$port
    printf '%s\r\n' "$1" >&3
    IFS= read -r line <&3
    exec 3>&-
    printf '%s\n' "${line%$'\r'}"
}
check() { got=$(ask "$1"); [ "$got" = "$2" ] || { echo "FAIL: $1 -> '$got', expected '$2'"; exit 1; }; echo "ok: $1 -> $got"; }
check "PING" "+PONG"
check "SET greeting hello world" "+OK"
check "GET greeting" "\$hello world"
check "DEL greeting" ":1"
check "GET greeting" "-ERR no such key"
check "SET kept 1" "+OK"
kill -TERM $pid
wait $pid
grep -q "SET kept 1" "$dir/kv.log" || { echo "FAIL: the log lacks the SET"; exit 1; }
# Restart on the same log: the value survived.
"$bin" "$port" "$dir/kv.log" 2>>"$dir/err" &
pid=$!
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
done
check "GET kept" "\$1"
kill -TERM $pid
wait $pid
echo "kvserver real test passed"
exit 0
