#!/bin/sh
# sample-config.sh: corobusd -t accepts the shipped sample configuration
# (every key at its default, commented out) and the configuration that
# -T prints back for it, so the sample and the dump stay loadable.
set -u
d=${top_builddir:-.}/daemon/corobusd
sample=${top_builddir:-.}/conf/corobus.yaml
tmp=$(mktemp -d "${TMPDIR:-/tmp}/corobus-sample.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
if "$d" -t -c "$sample" 2>"$tmp/t.err" && grep -q 'configuration OK' "$tmp/t.err"; then
	echo "ok - corobusd -t on conf/corobus.yaml"
else
	echo "not ok - corobusd -t on conf/corobus.yaml"; cat "$tmp/t.err"
	fails=$((fails + 1))
fi
if "$d" -T -c "$sample" >"$tmp/dump.yaml" 2>/dev/null &&
    "$d" -t -c "$tmp/dump.yaml" 2>"$tmp/t2.err"; then
	echo "ok - corobusd -t on what -T prints"
else
	echo "not ok - corobusd -t on what -T prints"; cat "$tmp/t2.err"
	fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
