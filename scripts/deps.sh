#!/bin/sh
# Installs the Debian packages asyncharness needs, if any is missing. As root it runs apt-get;
# otherwise it prints the exact command to run and fails. Nothing is downloaded from elsewhere.
set -eu

PACKAGES="cmake make ccache gcc clang clang-format pkg-config libuv1-dev libcmocka-dev valgrind redis-server libhiredis-dev libaio-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "asyncharness: missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "asyncharness: run this as root, then try again:"
    echo "    apt-get update && apt-get install -y --no-install-recommends$missing"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
