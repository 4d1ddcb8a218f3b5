#!/bin/sh
# Programs started separately in one world (docs/world.md, "Programs started separately"):
# ah-world owns the world at a unix socket path, and a server and a client started one after the
# other by this script with AH_WORLD=PATH join it.
#   twice:     the same lines at the same virtual instants on both runs, ah-world exits 0.
#   status:    a member exiting 3 makes ah-world exit 3.
#   no_owner:  AH_WORLD naming a path nobody listens on: a clear message and status 125, at once.
#   member_fails: a member's harness failure is ah-world's, naming the process; status 255.
#   too_few:   ah-world -n 2 with one program joining: a clear message and status 124.
set -u
case=$1
dir=$2
top=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() {
    echo "world_sep $case: FAILED: $*"
    for f in "$out"/*; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
}
# run N CLIENT: ah-world in the background, then the server, then the client, each by itself.
run() {
    sock=$out/world.sock
    "$top/ah-world" -v -n 2 "$sock" 2>"$out/owner$1" &
    owner=$!
    i=0
    while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    AH_WORLD=$sock "$dir/world_sep_server" 7431 >"$out/server$1" 2>&1 &
    server=$!
    AH_WORLD=$sock "$dir/$2" 7431 >"$out/client$1" 2>&1
    echo "client exit $?" >>"$out/client$1"
    wait $server
    echo "server exit $?" >>"$out/server$1"
    wait $owner
    echo "ah-world exit $?" >>"$out/owner$1"
}
case $case in
twice)
    start=$(date +%s%N)
    run 1 world_sep_client
    run 2 world_sep_client
    ms=$((($(date +%s%N) - start) / 1000000))
    for f in server client owner; do
        cmp -s "$out/${f}1" "$out/${f}2" || fail "the two runs differ ($f)"
    done
    grep -qx "server: PING at +50 ms" "$out/server1" || fail "no PING at +50 ms"
    grep -qx "server: QUIT at +2050 ms" "$out/server1" || fail "no QUIT at +2050 ms"
    grep -qx "client: PONG at +2050 ms (2000 ms after the connection)" "$out/client1" ||
        fail "no PONG 2000 ms after the connection"
    grep -qx "ah-world exit 0" "$out/owner1" || fail "ah-world did not exit 0"
    cat "$out/server1" "$out/client1" "$out/owner1"
    echo "world_sep twice: identical, $ms ms of wall time for both runs"
    ;;
status)
    run 1 world_sep_client_exit3
    grep -qx "ah-world exit 3" "$out/owner1" || fail "ah-world did not exit 3"
    cat "$out/owner1"
    echo "world_sep status: ah-world exits with its member's status"
    ;;
no_owner)
    AH_WORLD=$out/nobody.sock "$dir/world_sep_client" 7431 >"$out/client" 2>&1
    rc=$?
    [ $rc -eq 125 ] || fail "exit $rc, not 125"
    grep -q "AH_WORLD=$out/nobody.sock names no world" "$out/client" || fail "no message"
    cat "$out/client"
    ;;
member_fails)
    # a harness failure in a member started separately fails the world, naming the process
    sock=$out/world.sock
    "$top/ah-world" -n 2 "$sock" 2>"$out/owner" &
    owner=$!
    i=0
    while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    AH_WORLD=$sock "$dir/world_bad_server" 7431 >"$out/server" 2>&1 &
    AH_WORLD=$sock "$dir/world_sep_client" 7431 >"$out/client" 2>&1
    wait
    wait $owner
    rc=$?
    [ $rc -eq 255 ] || fail "ah-world exit $rc, not 255"
    cat "$out/server" "$out/owner"
    ;;
too_few)
    sock=$out/world.sock
    "$top/ah-world" -n 2 -t 1 "$sock" 2>"$out/owner" &
    owner=$!
    i=0
    while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    AH_WORLD=$sock "$dir/world_sep_server" 7431 >"$out/server" 2>&1
    echo "server exit $?" >>"$out/server"
    wait $owner
    rc=$?
    [ $rc -eq 124 ] || fail "ah-world exit $rc, not 124"
    cat "$out/owner"
    ;;
esac
