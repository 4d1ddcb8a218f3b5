#!/bin/sh
# Runs one test of libuv's suite alone, in-process (`run-tests NAME NAME`: libuv's runner runs
# that test's main part without forking), and writes its exit status to OUT/NAME.rc and its
# output to OUT/NAME.log (scripts/libuv-suite.sh runs it under xargs -P).
#
#   run-one.sh BINARY SRC OUT SECONDS NAME [helper]
#
# With `helper`, the test is one that needs a helper process (a TEST_HELPER entry): libuv's runner
# runs it as it runs every test, `run-tests NAME`, starting the helper and then the test as two
# child processes of its own (fork and execve of the same binary), which on the harness join the
# runner's world (docs/world.md).
#
# Each test gets its own world, so that tests run side by side as libuv's runner runs them one
# after another: a network namespace with only a loopback (the fixed port 9123 of the real side's
# tests), a fresh /tmp (TEST_PIPENAME is /tmp/uv-test-sock) holding its working folder (the fs
# tests make files in the working folder; test/fixtures is linked in), and, since libuv's runner
# refuses to run as root, the user nobody. Without root (a developer's account) the test runs
# in a folder of its own under OUT, without the namespaces: the caller then runs the real side
# one test at a time. A test still running after SECONDS is killed: a hang is a failure.
bin=$1
src=$2
out=$3
secs=$4
name=$5
# the arguments of the run: the test's main part in-process, or libuv's runner with its processes
if [ "${6:-}" = helper ]; then part=; else part=$name; fi
if [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2016
    # A checkout under /tmp (a CI clone there) would vanish under the private /tmp: the top
    # folders of the binary and of the sources (two when a build folder lies beside the shared
    # sources) are bound back at the same paths, so the binary, its libuv and the sources stay
    # reachable.
    unshare -n -m --propagation private sh -c '
        keep=
        for p in "$1" "$2"; do
            case "$p" in /tmp/?*)
                t=$(echo "$p" | cut -d/ -f1-3)
                case " $keep " in *" $t "*) ;; *) keep="$keep $t" ;; esac ;;
            esac
        done
        if [ -n "$keep" ]; then
            mkdir -p /run/ah-suite-tmp && mount --bind /tmp /run/ah-suite-tmp || exit 97
        fi
        mount -t tmpfs tmpfs /tmp || exit 97
        for t in $keep; do
            mkdir -p "$t" && mount --bind "/run/ah-suite-tmp/${t#/tmp/}" "$t" || exit 97
        done
        ip link set lo up && mkdir /tmp/w &&
        ln -s "$2/test" /tmp/w/test && chown -R 65534:65534 /tmp/w && cd /tmp/w &&
        exec timeout -k 5 "$4" setpriv --reuid=65534 --regid=65534 --clear-groups \
            env HOME=/tmp/w TMPDIR=/tmp "$1" "$3" $5' \
        sh "$bin" "$src" "$name" "$secs" "$part" >"$out/$name.log" 2>&1
    rc=$?
else
    w=$out/w/$name
    rm -rf "$w"
    mkdir -p "$w"
    ln -s "$src/test" "$w/test"
    # shellcheck disable=SC2086
    (cd "$w" && exec timeout -k 5 "$secs" "$bin" "$name" $part) >"$out/$name.log" 2>&1
    rc=$?
    rm -rf "$w"
fi
echo "$rc" >"$out/$name.rc"
