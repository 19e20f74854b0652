#!/bin/sh
# setup.sh: set up, build and run corobus on Debian 12 (run as root or
# with sudo available).  Safe to run again: it installs only the Debian
# packages that are missing and rebuilds only what changed.
#
#   ./setup.sh run     install, build, run corobusd in the foreground
#   ./setup.sh test    install, build, run the whole test suite
#   ./setup.sh build   install and build only
#   ./setup.sh deps    install the Debian packages only
#
# Environment: BUILD_DIR (default ./build), CONFIGURE_FLAGS (extra
# ./configure arguments), JOBS (parallel make jobs, default: CPUs).
set -eu

cd "$(dirname "$0")"
SRC=$(pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
CONFIGURE_FLAGS=${CONFIGURE_FLAGS:-}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# What the build, the tests and the benchmarks need, by Debian package.
PACKAGES="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev openssl libyaml-dev libcmocka-dev libjansson-dev
libcrypt-dev
libedit-dev mandoc valgrind clang libclang-rt-14-dev libnats-dev xz-utils
systemd nats-server iproute2"

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		say "need root (or sudo) to run: $*"
		exit 77
	fi
}

deps() {
	missing=""
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed'; then
			missing="$missing $p"
		fi
	done
	if [ -z "$missing" ]; then
		say "all Debian packages present"
		return 0
	fi
	say "installing:$missing"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends $missing
}

build() {
	if [ ! -x "$SRC/configure" ] || [ "$SRC/configure.ac" -nt "$SRC/configure" ]; then
		say "autoreconf"
		"$SRC/autogen.sh"
	fi
	mkdir -p "$BUILD_DIR"
	cd "$BUILD_DIR"
	if [ ! -f config.status ] || [ "$SRC/configure" -nt config.status ]; then
		say "configure $CONFIGURE_FLAGS"
		# shellcheck disable=SC2086
		"$SRC/configure" $CONFIGURE_FLAGS
	fi
	say "make"
	make -j"$JOBS"
}

# Automake keeps each test's output in a .log file: show the cmocka
# summaries, the logs of failures, and a final "N passed, N failed" line.
report() {
	status=$1
	for log in $(find . -name '*.log' -path './tests/*' | sort); do
		trs=${log%.log}.trs
		[ -f "$trs" ] || continue
		printf '=== %s\n' "${log#./}"
		if grep -q '^:test-result: \(FAIL\|ERROR\|XPASS\)' "$trs"; then
			cat "$log"
		else
			grep -E '^\[(==========|  PASSED  |  FAILED  |  SKIPPED )\]|^(ok|not ok) ' "$log" || true
		fi
	done
	if [ -f test-suite.log ]; then
		sed -n '1,/^=/p' test-suite.log | grep -E '^# ' || true
	fi
	passed=0 failed=0
	for log in $(find . -name '*.log' -path './tests/*'); do
		p=$(grep -cE '^\[       OK \]|^ok ' "$log" || true)
		f=$(grep -cE '^\[  FAILED  \] [^0-9]|^\[  ERROR   \]|^not ok ' "$log" || true)
		passed=$((passed + p))
		failed=$((failed + f))
	done
	if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
		failed=1
	fi
	printf '%d passed, %d failed\n' "$passed" "$failed"
}

check() {
	cd "$BUILD_DIR"
	status=0
	make -j"$JOBS" check || status=$?
	report "$status"
	return "$status"
}

cmd=${1:-}
case "$cmd" in
deps)
	deps ;;
build)
	deps; build ;;
run)
	deps; build
	# the shipped defaults: /etc/corobus/corobus.yaml if installed,
	# else the built-in ones (NATS on 127.0.0.1:4240); Ctrl-C stops it
	say "running corobusd in the foreground (Ctrl-C stops it)"
	exec "$BUILD_DIR/daemon/corobusd" ;;
test)
	deps; build; check ;;
*)
	echo "usage: ./setup.sh run|test|build|deps" >&2
	exit 64 ;;
esac
