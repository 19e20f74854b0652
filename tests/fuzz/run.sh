#!/bin/sh
# run.sh SECONDS [TARGET...]: builds each libFuzzer target with clang
# (AddressSanitizer + UBSan) and fuzzes it for SECONDS on a scratch copy
# of its seed corpus.  CI runs it briefly in the ASan job; run it longer
# by hand (tests/fuzz/run.sh 600 proto).  Exits non-zero on any finding.
set -u
secs=${1:-30}
shift 2>/dev/null || true
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
targets=${*:-proto sublist conf}
work=$(mktemp -d "${TMPDIR:-/tmp}/corobus-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
CLANG=${CLANG:-clang}
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror -I$top/daemon"
fails=0
for t in $targets; do
	case $t in
	proto) srcs="$top/daemon/proto.c $top/daemon/buf.c"; libs= ;;
	sublist) srcs="$top/daemon/sublist.c $top/daemon/subject.c"; libs= ;;
	conf) srcs="$top/daemon/conf.c $top/daemon/conf_value.c"
		srcs="$srcs $top/daemon/conf_include.c"
		libs="$(pkg-config --libs yaml-0.1)" ;;
	*) echo "not ok - fuzz $t: unknown target"; fails=$((fails + 1)); continue ;;
	esac
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS "$here/fuzz_$t.c" $srcs $libs -o "$work/fuzz_$t" \
	    2>"$work/$t.build"; then
		echo "not ok - fuzz $t: build failed"
		cat "$work/$t.build"
		fails=$((fails + 1))
		continue
	fi
	mkdir -p "$work/corpus_$t"
	[ -d "$here/corpus/$t" ] && cp "$here/corpus/$t"/* "$work/corpus_$t"/ 2>/dev/null
	if (cd "$work" && "./fuzz_$t" -max_total_time="$secs" -print_final_stats=0 \
	    "corpus_$t" >"$t.log" 2>&1); then
		runs=$(grep -o 'DONE.*runs in' "$work/$t.log" | tail -1)
		echo "ok - fuzz $t ${secs}s ${runs:-}"
	else
		echo "not ok - fuzz $t"
		tail -n 40 "$work/$t.log"
		fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]
