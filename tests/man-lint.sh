#!/bin/sh
# man-lint.sh: lint every man page with mandoc, and check that libcoro(3)
# documents every public function of libcoro/coro.h (and no other).
#
# Run by automake with MANDOC and top_srcdir in the environment; by hand:
#   top_srcdir=. MANDOC=/usr/bin/mandoc sh tests/man-lint.sh
# Exit status: 0 all clean, 1 a warning or a function out of step,
# 77 (skipped) without mandoc.

top_srcdir=${top_srcdir:-.}
MANDOC=${MANDOC:-mandoc}
header="$top_srcdir/libcoro/coro.h"
page="$top_srcdir/man/libcoro.3"
status=0
LC_ALL=C
export LC_ALL

if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "# skip: mandoc not found ($MANDOC)"
	exit 77
fi

# ---- mandoc -T lint on every page ----

npages=0
top_builddir=${top_builddir:-$top_srcdir}
# pages made from .in files (paths substituted) are in the build tree
pages=$(ls "$top_srcdir"/man/*.[0-9] 2>/dev/null)
[ "$top_builddir" != "$top_srcdir" ] &&
    pages="$pages $(ls "$top_builddir"/man/*.[0-9] 2>/dev/null)"
for p in $pages; do
	[ -f "$p" ] || continue
	npages=$((npages + 1))
	out=$("$MANDOC" -T lint -W warning "$p" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		echo "ok - ${p##*/}"
	else
		echo "not ok - ${p##*/}"
		[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /'
		status=1
	fi
done
if [ $npages -eq 0 ]; then
	echo "not ok - no man pages in $top_srcdir/man"
	status=1
fi

# ---- coro.h and libcoro(3) in step ----

if [ ! -f "$header" ] || [ ! -f "$page" ]; then
	echo "not ok - missing $header or $page"
	exit 1
fi

tmp=${TMPDIR:-/tmp}/man-lint.$$
trap 'rm -f "$tmp".h "$tmp".m' EXIT HUP INT TERM

# Function names declared CORO_API: join each declaration up to its "("
# (the name may sit on the line after the return type), then take the
# identifier right before it.
awk '
	/^[ \t]*#/ { next }
	decl == "" && /^[ \t]*CORO_API[ \t]/ { decl = $0 }
	decl != "" && decl != $0 { decl = decl " " $0 }
	decl != "" && decl ~ /\(/ {
		sub(/\(.*/, "", decl)
		n = split(decl, w, /[^A-Za-z0-9_]+/)
		while (n > 0 && w[n] == "") n--
		if (n > 0) print w[n]
		decl = ""
	}
' "$header" | sort -u > "$tmp".h

# Names given to .Fn or .Fo anywhere in the page (also inside .It lines).
sed -n 's/^\.//p' "$page" |
	tr ' \t' '\n\n' |
	awk 'prev == "Fn" || prev == "Fo" { print } { prev = $0 }' |
	grep '^coro_' | sort -u > "$tmp".m

missing=$(comm -23 "$tmp".h "$tmp".m)
stale=$(comm -13 "$tmp".h "$tmp".m)
nfuncs=$(wc -l < "$tmp".h)
if [ "$nfuncs" -eq 0 ]; then
	echo "not ok - no CORO_API functions found in $header"
	status=1
elif [ -z "$missing" ]; then
	echo "ok - libcoro.3 documents all $nfuncs CORO_API functions"
else
	echo "not ok - libcoro.3 lacks .Fn/.Fo for CORO_API functions:"
	printf '%s\n' "$missing" | sed 's/^/#   /'
	status=1
fi
if [ -z "$stale" ]; then
	echo "ok - libcoro.3 names no function missing from coro.h"
else
	echo "not ok - libcoro.3 names functions coro.h does not declare:"
	printf '%s\n' "$stale" | sed 's/^/#   /'
	status=1
fi

exit $status
