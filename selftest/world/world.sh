#!/bin/sh
# The client-spawns-its-server scenario of issue 25 (docs/world.md).
#   harness: both linked with the harness: exact virtual instants, twice, the same output, fast.
#   real:    both on real libuv: the same lines at about the same times.
set -u
case=$1
dir=$2
#   harness_ps, real_ps: the client starts the server with posix_spawn and waits for it with
#   SIGCHLD and waitpid (world_ping_client_ps).
client=world_ping_client
#   harness_fx, real_fx: the same with fork and execv (world_ping_client_fx).
#   harness_l1, _l2, _l3: fork and execl + wait4, execlp + waitid, execle + wait3.
case $case in
*_ps) client=world_ping_client_ps ;;
*_fx) client=world_ping_client_fx ;;
*_l[123]) client=world_ping_client_${case#harness_} ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() {
    echo "world $case: FAILED: $*"
    for f in "$out"/*; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
}
case $case in
harness | harness_ps | harness_fx | harness_l[123])
    start=$(date +%s%N)
    "$dir/$client" "$dir/world_ping_server" 7411 >"$out/1" 2>&1 || fail "run 1 exit $?"
    mid=$(date +%s%N)
    "$dir/$client" "$dir/world_ping_server" 7411 >"$out/2" 2>&1 || fail "run 2 exit $?"
    cat >"$out/want" <<'X'
connected at +50 ms
PONG at +2050 ms (2000 ms after the connection)
SLOW timed out at +7050 ms (5000 ms after PONG)
server exit 0 signal 15 at +7050 ms
done after 2 connect attempt(s)
X
    cmp -s "$out/1" "$out/want" || fail "run 1 differs from the expected timeline"
    cmp -s "$out/1" "$out/2" || fail "run 2 differs from run 1"
    ms=$(((mid - start) / 1000000))
    [ "$ms" -lt 1000 ] || fail "run 1 took $ms ms of wall time"
    echo "run 1: $ms ms of wall time"
    ;;
real | real_ps | real_fx)
    port=$((20000 + $$ % 20000))
    "$dir/${client}_real" "$dir/world_ping_server_real" $port >"$out/1" 2>&1 ||
        fail "exit $?"
    awk '
        { gsub(/\(/, "") }
        /^connected at/ { c = 1 }
        /^PONG at/ { d = $5 + 0; if (d >= 1990 && d < 2500) p = 1 }
        /^SLOW timed out/ { d = $7 + 0; if (d >= 4990 && d < 5500) s = 1 }
        /^server exit 0 signal 15/ { e = 1 }
        END { exit !(c && p && s && e) }' "$out/1" || fail "unexpected timeline"
    ;;
esac
cat "$out/1"
echo "world $case: ok"
