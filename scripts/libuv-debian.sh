# Sourced by scripts/libuv-matrix.sh and scripts/libuv-suite.sh: Debian's libuv source packages,
# fetched with a private sources list and built once, everything cached under $M (the caller sets
# ROOT, M=$BUILD/libuv-matrix and JOBS).
#
# apt runs with a private sources list, lists folder and cache under $M/apt: the system's apt
# configuration is never read for sources nor changed. A second run downloads and builds nothing.
# The network is needed on the first run only; when it is missing the caller fails (it is part of
# CI: a step that silently skips would pass without testing anything).
APT=$M/apt
mkdir -p "$M"

fail() {
    echo "$(basename "$0" .sh): $*" >&2
    exit 1
}

apt_private() {
    apt-get -q -o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" "$@"
}

apt_update() {
    [ -f "$APT/updated" ] && return 0
    command -v apt-get >/dev/null 2>&1 || fail "apt-get is needed to fetch Debian's libuv sources"
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
    for suite in bullseye bookworm trixie; do
        echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
    done >"$APT/sources.list"
    apt_private update >"$APT/update.log" 2>&1 || {
        tail -n 20 "$APT/update.log" >&2
        fail "apt-get update with the private sources list failed (no network?)"
    }
    touch "$APT/updated"
}

# The upstream tarball of Debian version $1, downloaded once into $M/src/$up.
fetch_source() {
    deb=$1
    up=${deb%%-*}
    dir=$M/src/$up
    orig=$dir/libuv1_$up.orig.tar.gz
    [ -f "$orig" ] && return 0
    apt_update
    mkdir -p "$dir"
    # The orig tarball is all we use. For some versions the .dsc is gone from the mirror (404)
    # while the tarball is there: apt then fails after downloading it, which is fine.
    (cd "$dir" && apt_private source --download-only "libuv1=$deb") >"$dir/source.log" 2>&1 || true
    [ -f "$orig" ] || {
        tail -n 20 "$dir/source.log" >&2
        fail "could not download libuv1=$deb's source (apt-get source --download-only)"
    }
}

# Builds libuv $up (shared library only, no tests) into the prefix $M/$up.
build_libuv() {
    up=$1
    prefix=$M/$up
    [ -f "$prefix/.built" ] && return 0
    src=$M/src/$up/libuv1-$up
    rm -rf "$src" "$M/src/$up/build" "$prefix"
    mkdir -p "$src"
    tar xzf "$M/src/$up/libuv1_$up.orig.tar.gz" -C "$src" --strip-components=1
    echo "building libuv $up"
    # No optimisation: the matrix needs libuv's behaviour, not its speed, and -O0 halves the
    # build time on a 2-core machine.
    cmake -S "$src" -B "$M/src/$up/build" -DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS=-O0 \
        -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF >"$M/src/$up/build.log" 2>&1 &&
        cmake --build "$M/src/$up/build" --target uv -j "$JOBS" >>"$M/src/$up/build.log" 2>&1 || {
        tail -n 30 "$M/src/$up/build.log" >&2
        fail "building libuv $up failed"
    }
    mkdir -p "$prefix/lib/pkgconfig"
    cp -R "$src/include" "$prefix/"
    cp -P "$M/src/$up/build"/libuv.so* "$prefix/lib/"
    cat >"$prefix/lib/pkgconfig/libuv.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libuv
Version: $up
Description: libuv $up, built from Debian's source package by scripts/libuv-matrix.sh
Libs: -L\${libdir} -luv -lpthread -ldl -lrt
Cflags: -I\${includedir}
PC
    touch "$prefix/.built"
}

