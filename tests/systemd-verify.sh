#!/bin/sh
# systemd-verify.sh: `systemd-analyze verify` on the units as built (the
# template through an instance, corobusd@node1), and
# `systemd-analyze security --offline` on the service, which must stay at
# an exposure of 2.0 or lower.  The units name the installed corobusd;
# the copies checked here name the built one, since verify wants an
# executable there.  Man pages are not looked up (--man=no): they are
# not installed yet.
#
# Run by automake with top_srcdir, top_builddir, COROBUSD and
# SYSTEMD_ANALYZE in the environment.  Exit 0 clean, 1 a problem,
# 77 (skipped) without systemd-analyze.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-$top_srcdir}
SYSTEMD_ANALYZE=${SYSTEMD_ANALYZE:-systemd-analyze}
COROBUSD=${COROBUSD:-$top_builddir/daemon/corobusd}
LC_ALL=C
export LC_ALL

if ! command -v "$SYSTEMD_ANALYZE" >/dev/null 2>&1; then
	echo "# skip: systemd-analyze not found (Debian package systemd)"
	exit 77
fi
service=$top_builddir/systemd/corobusd.service
template=$top_builddir/systemd/corobusd@.service
socket=$top_srcdir/systemd/corobusd.socket
for f in "$service" "$template" "$socket"; do
	[ -f "$f" ] || { echo "missing $f (make it first)"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/corobus-verify.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
# every absolute path ending in /corobusd: the built daemon
sed -e "s|/[^ =]*/corobusd |$COROBUSD |g" "$service" >"$tmp/corobusd.service"
sed -e "s|/[^ =]*/corobusd |$COROBUSD |g" "$template" >"$tmp/corobusd@.service"
cp "$socket" "$tmp/corobusd.socket"
status=0

echo "## systemd-analyze verify"
if ! (cd "$tmp" && "$SYSTEMD_ANALYZE" verify --man=no \
    "$tmp/corobusd.service" "$tmp/corobusd.socket" \
    "$tmp/corobusd@node1.service") >"$tmp/verify.log" 2>&1 ||
    grep -v -e '^$' "$tmp/verify.log" | grep -q .; then
	cat "$tmp/verify.log"
	echo "not ok: systemd-analyze verify"
	status=1
else
	echo "ok: systemd-analyze verify"
fi

echo "## systemd-analyze security"
if (cd "$tmp" && "$SYSTEMD_ANALYZE" security --offline=yes \
    --no-pager "$tmp/corobusd.service") >"$tmp/security.log" 2>&1; then
	pat='s/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
	level=$(sed -n "$pat" "$tmp/security.log")
	if [ -z "$level" ]; then
		cat "$tmp/security.log"
		echo "not ok: no exposure level"
		status=1
	elif awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
		echo "ok: exposure level $level (2.0 or lower)"
	else
		grep '✗' "$tmp/security.log"
		echo "not ok: exposure level $level is above 2.0"
		status=1
	fi
else
	# systemd before 250 has no --offline: the figure needs a newer one
	head -n 5 "$tmp/security.log"
	echo "# skip: systemd-analyze security --offline not supported"
fi
exit $status
