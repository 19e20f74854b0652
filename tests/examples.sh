#!/bin/sh
# examples.sh: runs every example program and checks what it prints, its
# exit status, and the order of its timings (bounds are generous: the
# machine may be busy).  One line per check, "ok - ..." or "not ok - ...";
# the exit status is 1 if any check failed.
#
# Environment: top_builddir (where examples/ was built; default .) and
# OPENSSL (the openssl program, for the TLS checks; skipped when unset).

top_builddir=${top_builddir:-.}
ex=$top_builddir/examples
failed=0
pids=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coro-examples.XXXXXX") || exit 1

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

ok() {
	echo "ok - $*"
}

not_ok() {
	echo "not ok - $*"
	failed=1
}

# check DESCRIPTION COMMAND...: one line for whether COMMAND succeeds.
check() {
	desc=$1
	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
}

# Milliseconds of a clock, from date(1) (whole seconds if %N is missing).
now_ms() {
	t=$(date +%s%N)
	case $t in
	*[!0-9]*)
		echo $(($(date +%s) * 1000)) ;;
	*)
		echo $((t / 1000000)) ;;
	esac
}

# start NAME COMMAND...: runs COMMAND in the background, its output in
# $tmp/NAME.out and $tmp/NAME.err; sets pid.
start() {
	name=$1
	shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids="$pids $pid"
}

# finish PID SECONDS: waits for PID, killing it after SECONDS; sets rc
# (124 on timeout).
finish() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ "$n" -lt $(($2 * 10)) ]; do
		sleep 0.1
		n=$((n + 1))
	done
	timedout=0
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1" 2>/dev/null
		timedout=1
	fi
	wait "$1"
	rc=$?
	[ "$timedout" -eq 1 ] && rc=124
	rest=
	for p in $pids; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	pids=$rest
}

# run NAME SECONDS COMMAND...: runs COMMAND to its end; sets rc and ms
# (how long it took).
run() {
	name=$1
	secs=$2
	shift 2
	t0=$(now_ms)
	start "$name" "$@"
	finish "$pid" "$secs"
	ms=$(($(now_ms) - t0))
}

# line_of PATTERN FILE: the number of the first line matching PATTERN,
# or 0.
line_of() {
	l=$(grep -n -e "$1" "$2" | head -n 1 | cut -d: -f1)
	echo "${l:-0}"
}

# before FILE A B: a line matching A comes before one matching B.
before() {
	a=$(line_of "$2" "$1")
	b=$(line_of "$3" "$1")
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$a" -lt "$b" ]
}

# in_range N LO HI: LO <= N < HI.
in_range() {
	[ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]
}

# distinct A B: two non-empty, different words.
distinct() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]
}

# failed_cleanly NAME: run NAME exited 1 with nothing on stdout and a
# one-line message on stderr.
failed_cleanly() {
	[ "$rc" -eq 1 ] && [ ! -s "$tmp/$1.out" ] &&
	    [ "$(wc -l <"$tmp/$1.err")" -eq 1 ]
}

# wait_listening NAME: waits for "listening on ..." from server NAME
# (pid); sets addr to what follows.
wait_listening() {
	n=0
	addr=
	while [ "$n" -lt 100 ]; do
		addr=$(sed -n 's/^listening on //p' "$tmp/$1.out")
		[ -n "$addr" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

for prog in hola sequential concurrent forever procpool coro_echo; do
	if [ ! -x "$ex/$prog" ]; then
		not_ok "$prog is built ($ex/$prog)"
		exit 1
	fi
done

# ---- hola ----
run hola 10 "$ex/hola"
printf 'Hola 1\nHola 2\nHola 3\n' >"$tmp/hola.want"
check "hola exits 0" [ "$rc" -eq 0 ]
check "hola prints three lines" cmp -s "$tmp/hola.want" "$tmp/hola.out"
check "hola takes >= 2 s ($ms ms)" [ "$ms" -ge 2000 ]

# ---- sequential: the sum of the sleeps ----
run sequential 15 "$ex/sequential"
check "sequential exits 0" [ "$rc" -eq 0 ]
check "sequential runs first, then second" \
    before "$tmp/sequential.out" 'first: end' 'second: start'
check "sequential prints its total" grep -q '^total: ' "$tmp/sequential.out"
check "sequential takes >= 3 s and < 4.5 s ($ms ms)" \
    in_range "$ms" 3000 4500

# ---- concurrent: the longest sleep ----
run concurrent 15 "$ex/concurrent"
check "concurrent exits 0" [ "$rc" -eq 0 ]
check "concurrent starts second before first ends" \
    before "$tmp/concurrent.out" 'second: start' 'first: end'
check "concurrent ends first, then second" \
    before "$tmp/concurrent.out" 'first: end' 'second: end'
check "concurrent prints its total" grep -q '^total: ' "$tmp/concurrent.out"
check "concurrent takes >= 2 s and < 3.5 s ($ms ms)" \
    in_range "$ms" 2000 3500

# ---- forever: renewals, then a signal ----
run forever-n 20 "$ex/forever" -n 2
check "forever -n 2 exits 0" [ "$rc" -eq 0 ]
check "forever -n 2 renews twice" \
    [ "$(grep -c '^renewal [0-9]*: ' "$tmp/forever-n.out")" -eq 2 ]
check "forever -n 2 runs three tasks" \
    [ "$(grep -c 'hello' "$tmp/forever-n.out")" -eq 3 ]
check "forever -n 2 prints stopped" grep -q '^stopped' "$tmp/forever-n.out"

start forever-int "$ex/forever"
sleep 1.5
kill -INT "$pid"
finish "$pid" 10
check "forever stops on SIGINT with status 0 (rc $rc)" [ "$rc" -eq 0 ]
check "forever renewed before SIGINT" grep -q '^renewal 1: ' \
    "$tmp/forever-int.out"
check "forever's cancelled task prints cleanup" \
    grep -q 'cleanup' "$tmp/forever-int.out"
check "forever prints stopped after cleanup" \
    before "$tmp/forever-int.out" 'cleanup' '^stopped'

start forever-term "$ex/forever"
sleep 0.5
kill -TERM "$pid"
finish "$pid" 10
check "forever stops on SIGTERM with status 0 (rc $rc)" [ "$rc" -eq 0 ]
check "forever prints cleanup and stopped on SIGTERM" \
    before "$tmp/forever-term.out" 'cleanup' '^stopped'

run forever-usage 5 "$ex/forever" -n x
check "forever -n x is a usage error (rc $rc)" [ "$rc" -eq 64 ]

# ---- procpool ----
run procpool 60 "$ex/procpool"
check "procpool exits 0" [ "$rc" -eq 0 ]
check "procpool prints the sum" \
    grep -q '^sum of 1\.\.300000000 = 45000000150000000 ' \
    "$tmp/procpool.out"
check "procpool prints the prime count" \
    grep -q '^primes below 1000000 = 78498 ' "$tmp/procpool.out"
pid1=$(sed -n 's/^sum .*worker pid \([0-9][0-9]*\).*/\1/p' \
    "$tmp/procpool.out")
pid2=$(sed -n 's/^primes .*worker pid \([0-9][0-9]*\).*/\1/p' \
    "$tmp/procpool.out")
check "procpool runs the jobs in two workers ($pid1, $pid2)" \
    distinct "$pid1" "$pid2"

# ---- echo ----
printf 'hello\ntwo words\n\nlast one\n' >"$tmp/echo.want"

# echo_check WHAT SERVERNAME CLIENT-OPTIONS...: runs the client with the
# messages of echo.want and compares what it prints.
echo_check() {
	what=$1
	shift
	run "client-$what" 15 "$ex/coro_echo" client "$@" \
	    hello 'two words' '' 'last one'
	check "echo client over $what exits 0 (rc $rc)" [ "$rc" -eq 0 ]
	check "echo client over $what prints the messages back" \
	    cmp -s "$tmp/echo.want" "$tmp/client-$what.out"
}

# stop_server WHAT SIGNAL: stops the server and checks it ended well.
stop_server() {
	kill "-$2" "$spid"
	finish "$spid" 10
	check "echo server over $1 stops on SIG$2 with status 0 (rc $rc)" \
	    [ "$rc" -eq 0 ]
	check "echo server over $1 logged the connection" \
	    grep -q 'connected' "$tmp/server-$1.err"
}

start server-tcp "$ex/coro_echo" server --tcp 127.0.0.1:0
spid=$pid
if wait_listening server-tcp; then
	port=${addr##*:}
	ok "echo server over tcp listens on $addr"
	echo_check tcp --tcp "127.0.0.1:$port"
	stop_server tcp TERM
	run client-refused 15 "$ex/coro_echo" client \
	    --tcp "127.0.0.1:$port" hello
	check "echo client to a stopped server fails with one line" \
	    failed_cleanly client-refused
else
	not_ok "echo server over tcp listens"
fi

sock=$tmp/echo.sock
start server-unix "$ex/coro_echo" server --unix "$sock"
spid=$pid
if wait_listening server-unix; then
	ok "echo server over unix listens on $addr"
	echo_check unix --unix "$sock"
	stop_server unix INT
	check "echo server over unix removes its socket" [ ! -e "$sock" ]
else
	not_ok "echo server over unix listens"
fi

if [ -n "$OPENSSL" ] && "$OPENSSL" version >/dev/null 2>&1; then
	(
		cd "$tmp" &&
		"$OPENSSL" req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout ca.key -out ca.pem -days 1 \
		    -subj "/CN=libcoro examples CA" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" &&
		"$OPENSSL" req -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout server.key -out server.csr -subj "/CN=localhost" \
		    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" &&
		"$OPENSSL" x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
		    -set_serial 2 -days 1 -copy_extensions copy \
		    -out server.pem &&
		"$OPENSSL" req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout other.key -out other.pem -days 1 \
		    -subj "/CN=another CA"
	) >"$tmp/openssl.log" 2>&1
	check "openssl makes a CA and a server certificate" [ $? -eq 0 ]

	start server-tls "$ex/coro_echo" server --tcp 127.0.0.1:0 \
	    --tls "$tmp/server.pem" "$tmp/server.key"
	spid=$pid
	if wait_listening server-tls; then
		port=${addr##*:}
		ok "echo server over tls listens on $addr"
		echo_check tls --tcp "127.0.0.1:$port" --tls "$tmp/ca.pem"
		echo_check tls-localhost --tcp "localhost:$port" \
		    --tls "$tmp/ca.pem"
		run client-badca 15 "$ex/coro_echo" client \
		    --tcp "127.0.0.1:$port" --tls "$tmp/other.pem" hello
		check "echo client rejects a server its CA did not sign" \
		    failed_cleanly client-badca
		stop_server tls TERM
	else
		not_ok "echo server over tls listens"
	fi
else
	ok "# SKIP echo over tls (no openssl program)"
fi

run echo-usage 5 "$ex/coro_echo" bogus
check "coro_echo bogus is a usage error (rc $rc)" [ "$rc" -eq 64 ]

exit "$failed"
