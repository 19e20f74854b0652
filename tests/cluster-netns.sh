#!/bin/sh
# cluster-netns.sh: a network partition between two corobusd cluster
# nodes.  Two network namespaces joined by a veth pair (10.231.0.1 and
# 10.231.0.2, which exist only inside them), one corobusd in each (B
# seeds A), the corobus client run inside the namespaces.  The route
# forms; the link goes down for longer than ping_interval * ping_max;
# both nodes notice (they log the route closed) and go on serving their
# own clients; the link comes back and the route with it, by itself;
# then a message crosses each way exactly once, and each node has one
# route to the other.
#
# Run by automake with top_builddir, COROBUSD and COROBUS in the
# environment.  Exit 0 passed, 1 failed, 77 skipped: without the
# privilege to create network namespaces (CAP_NET_ADMIN) or veth pairs.
# The namespaces and the daemons go whatever happens (trap).

top_builddir=${top_builddir:-.}
COROBUSD=${COROBUSD:-$top_builddir/daemon/corobusd}
COROBUS=${COROBUS:-$top_builddir/client/corobus}
LC_ALL=C
export LC_ALL
PING_INTERVAL=1	# seconds, in both configurations
PING_MAX=2

nsa=corobus-a-$$
nsb=corobus-b-$$
# interface names: at most 15 bytes
va=cbpa$$
vb=cbpb$$
ipa=10.231.0.1
ipb=10.231.0.2
pids=
made_a=no
made_b=no
tmp=

t0=$(date +%s)
say() { echo "# [$(( $(date +%s) - t0 ))s] $*"; }
skip() { echo "skipped: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/a.log "$tmp"/b.log; do
		[ -f "$f" ] || continue
		echo "---- $f ----"
		cat "$f"
	done
	exit 1
}

cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	[ "$made_a" = yes ] && ip netns del "$nsa" 2>/dev/null
	[ "$made_b" = yes ] && ip netns del "$nsb" 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

command -v ip >/dev/null 2>&1 ||
	skip "needs ip(8) (Debian package iproute2) to create network namespaces"
for f in "$COROBUSD" "$COROBUS"; do
	[ -x "$f" ] || fail "$f is not built"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/corobus-netns.XXXXXX") || exit 1
# the client reads no user configuration
XDG_CONFIG_HOME=$tmp
export XDG_CONFIG_HOME
unset COROBUS_URL COROBUS_CONTEXT COROBUS_PASSWORD

if ! ip netns add "$nsa" 2>"$tmp/err"; then
	skip "needs CAP_NET_ADMIN to create network namespaces" \
	    "(ip netns add: $(cat "$tmp/err"))"
fi
made_a=yes
ip netns add "$nsb" || fail "ip netns add $nsb"
made_b=yes
if ! ip link add "$va" netns "$nsa" type veth peer name "$vb" \
    netns "$nsb" 2>"$tmp/err"; then
	skip "needs CAP_NET_ADMIN to create network namespaces and a veth" \
	    "pair (ip link add: $(cat "$tmp/err"))"
fi
ip -n "$nsa" addr add "$ipa/24" dev "$va" &&
	ip -n "$nsb" addr add "$ipb/24" dev "$vb" &&
	ip -n "$nsa" link set lo up && ip -n "$nsb" link set lo up &&
	ip -n "$nsa" link set "$va" up && ip -n "$nsb" link set "$vb" up ||
	fail "cannot set the veth pair up"

# ---- helpers ----

# waitlog FILE TEXT TENTHS: TEXT appears in FILE within TENTHS/10 s
waitlog() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$3" ] && return 1
		sleep 0.1
	done
	return 0
}
# count FILE TEXT: lines of FILE with TEXT
count() {
	grep -cF -- "$2" "$1" 2>/dev/null
}
# cb NS ARGS...: the client in namespace NS, on that node's loopback
# listener
cb() {
	ns=$1
	shift
	ip netns exec "$ns" "$COROBUS" -L nats://127.0.0.1:4240 --quiet \
	    --timeout 2s "$@"
}

# conf NAME IP [SEED]: a node's configuration
conf() {
	cat <<EOF
server_name: "$1"
listeners:
  - { address: "127.0.0.1:4240" }
  - { address: "$2:4240" }
monitoring: { address: "" }
cluster:
  name: part
  address: "$2:6240"
  ping_interval: ${PING_INTERVAL}s
  ping_max: $PING_MAX
EOF
	[ -n "$3" ] && echo "  routes: [ \"nats-route://$3:6240\" ]"
}

start() {
	ip netns exec "$1" "$COROBUSD" -c "$2" >"$3" 2>&1 &
	pids="$pids $!"
	waitlog "$3" " ready: " 50 || fail "corobusd in $1 did not start"
}

# deliver FROM_NS TO_NS TAG [TRIES]: a subscriber in TO_NS on part.TAG
# (and part.TAG.sync) gets probes from FROM_NS, one every 0.1 s, until
# one arrives (at most TRIES, default 40), then one message on part.TAG,
# which must arrive exactly once within a second.  Returns 1 when no
# probe crossed.
deliver() {
	tries=${4:-40}
	out=$tmp/$3.out
	: >"$out"
	cb "$2" sub -v -W 8 "part.$3" "part.$3.sync" >"$out" 2>"$out.err" &
	sub=$!
	i=0
	while ! grep -q "^part\.$3\.sync " "$out"; do
		i=$((i + 1))
		if [ "$i" -gt "$tries" ]; then
			kill "$sub" 2>/dev/null
			wait "$sub" 2>/dev/null
			return 1
		fi
		cb "$1" pub "part.$3.sync" probe >/dev/null 2>&1
		sleep 0.1
	done
	cb "$1" pub "part.$3" "msg-$3" >/dev/null 2>&1 ||
		fail "publish on part.$3 in $1"
	sleep 1
	kill "$sub" 2>/dev/null
	wait "$sub" 2>/dev/null
	n=$(count "$out" "part.$3 msg-$3")
	[ "$n" = 1 ] || fail "part.$3 from $1 to $2: received $n times" \
	    "(want exactly once): $(cat "$out")"
	return 0
}

# ---- the test ----

conf PA "$ipa" >"$tmp/a.yaml"
conf PB "$ipb" "$ipa" >"$tmp/b.yaml"
start "$nsa" "$tmp/a.yaml" "$tmp/a.log"
start "$nsb" "$tmp/b.yaml" "$tmp/b.log"
waitlog "$tmp/a.log" "route: registered name=PB " 100 &&
	waitlog "$tmp/b.log" "route: registered name=PA " 100 ||
	fail "no route between the namespaces"
say "route up"
deliver "$nsa" "$nsb" before || fail "nothing crossed A -> B before the partition"

# partition: both ends down, for longer than ping_interval * ping_max
ip -n "$nsa" link set "$va" down && ip -n "$nsb" link set "$vb" down ||
	fail "cannot take the link down"
say "partitioned"
limit=$(( (PING_INTERVAL * PING_MAX + 4) * 10 ))
waitlog "$tmp/a.log" "route: closed name=PB " "$limit" ||
	fail "A did not notice the partition within $((limit / 10)) s"
waitlog "$tmp/b.log" "route: closed name=PA " "$limit" ||
	fail "B did not notice the partition within $((limit / 10)) s"
say "both sides closed the route"
# each side serves its own clients
deliver "$nsa" "$nsa" local-a || fail "A stopped serving its own clients"
deliver "$nsb" "$nsb" local-b || fail "B stopped serving its own clients"
# and nothing crosses
if deliver "$nsa" "$nsb" cut 15; then
	fail "a message crossed the partition"
fi
say "served locally while partitioned"

# heal: B redials its seed by itself
ip -n "$nsa" link set "$va" up && ip -n "$nsb" link set "$vb" up ||
	fail "cannot bring the link up"
say "healed"
i=0
while [ "$(count "$tmp/b.log" "route: registered name=PA ")" -lt 2 ] ||
    [ "$(count "$tmp/a.log" "route: registered name=PB ")" -lt 2 ]; do
	i=$((i + 1))
	[ "$i" -gt 150 ] && fail "the route did not come back within 15 s"
	sleep 0.1
done
say "route back"
deliver "$nsa" "$nsb" after-ab || fail "nothing crossed A -> B after healing"
deliver "$nsb" "$nsa" after-ba || fail "nothing crossed B -> A after healing"
# one route per side (registered minus closed)
for side in "a PB" "b PA"; do
	set -- $side
	reg=$(count "$tmp/$1.log" "route: registered name=$2 ")
	cls=$(count "$tmp/$1.log" "route: closed name=$2 ")
	[ $((reg - cls)) = 1 ] ||
		fail "node $1: $reg routes registered to $2, $cls closed"
done
# a clean stop: SIGTERM, exit status 0 (a sanitizer report fails it)
for p in $pids; do
	kill -TERM "$p" 2>/dev/null
	i=0
	while kill -0 "$p" 2>/dev/null &&
	    [ -z "$(ps -o stat= -p "$p" | grep Z)" ]; do
		i=$((i + 1))
		[ "$i" -gt 50 ] && fail "corobusd $p did not stop on SIGTERM"
		sleep 0.1
	done
	wait "$p"
	st=$?
	[ "$st" = 0 ] || fail "corobusd $p exited with status $st"
done
pids=
say "passed"
echo "1 passed, 0 failed"
exit 0
