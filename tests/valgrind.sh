#!/bin/sh
# valgrind.sh BUILD_DIR: runs every libcoro unit test binary under Valgrind
# (memcheck, full leak check) and fails on any error or leak.  CI runs it
# after the plain build; ASan is the primary memory checker, this one also
# checks the stack registrations of the context switch.
set -u
build=${1:-build}
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
cd "$build" || exit 1
# the tests find their fixtures as under make check
top_builddir=$(pwd)
export top_srcdir top_builddir
fails=0
for t in tests/unit/test_*; do
	case "$t" in *.o|*.log|*.trs|*.c) continue ;; esac
	[ -x "$t" ] || continue
	log=$t.valgrind
	if ./libtool --mode=execute valgrind -q --error-exitcode=99 \
	    --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --trace-children=no "$t" >"$log" 2>&1; then
		echo "ok - valgrind $t"
	else
		echo "not ok - valgrind $t"
		tail -n 40 "$log"
		fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]
