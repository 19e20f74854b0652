/*
 * test_nats_client.c: corobusd driven by the NATS C client (libnats), as
 * applications use it: publish and subscribe, wildcards, queue groups,
 * request/reply and no responders, headers, flush, drain, echo off,
 * per-publisher order, large payloads and reconnecting after a restart.
 *
 * One daemon serves every test but the reconnect one, which restarts its
 * own.  Connections and subscriptions a test makes are tracked and
 * destroyed by its teardown, so a failed assertion leaks nothing.
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "harness.h"

#define NATS_MS		2000	/* for a message or a flush */
#define MAX_TRACKED	32

static struct h_daemon		*shared;
static natsConnection		*conns[MAX_TRACKED];
static natsSubscription		*subs[MAX_TRACKED];
static size_t			 nconns, nsubs;

/* ---- helpers ---- */

#define NOK(expr) do {							\
	natsStatus s_ = (expr);						\
	if (s_ != NATS_OK)						\
		fail_msg("%s: %s (%s)", #expr, natsStatus_GetText(s_),	\
		    nats_GetLastError(NULL));				\
} while (0)

static natsSubscription *
track_sub(natsSubscription *sub)
{
	if (nsubs == MAX_TRACKED)
		fail_msg("too many subscriptions");
	subs[nsubs++] = sub;
	return sub;
}

/* A connection to port; opts may be NULL.  Tracked. */
static natsConnection *
connect_opts(int port, natsOptions *opts)
{
	natsOptions *own = NULL;
	natsConnection *nc = NULL;
	char url[64];

	if (nconns == MAX_TRACKED)
		fail_msg("too many connections");
	if (opts == NULL) {
		NOK(natsOptions_Create(&own));
		opts = own;
	}
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	NOK(natsOptions_SetURL(opts, url));
	NOK(natsOptions_SetTimeout(opts, NATS_MS));
	if (natsConnection_Connect(&nc, opts) != NATS_OK) {
		natsOptions_Destroy(own);
		fail_msg("connect %s: %s", url, nats_GetLastError(NULL));
	}
	natsOptions_Destroy(own);
	conns[nconns++] = nc;
	return nc;
}

static natsConnection *
connect_to(int port)
{
	return connect_opts(port, NULL);
}

static natsSubscription *
sub_sync(natsConnection *nc, const char *subject)
{
	natsSubscription *sub = NULL;

	NOK(natsConnection_SubscribeSync(&sub, nc, subject));
	return track_sub(sub);
}

/* The next message must be on subject with data. */
static void
expect_msg(natsSubscription *sub, const char *subject, const char *data)
{
	natsMsg *m = NULL;

	NOK(natsSubscription_NextMsg(&m, sub, NATS_MS));
	assert_string_equal(natsMsg_GetSubject(m), subject);
	assert_int_equal(natsMsg_GetDataLength(m), (int)strlen(data));
	assert_memory_equal(natsMsg_GetData(m), data, strlen(data));
	natsMsg_Destroy(m);
}

static void
expect_none(natsSubscription *sub, int ms)
{
	natsMsg *m = NULL;

	assert_int_equal(natsSubscription_NextMsg(&m, sub, ms), NATS_TIMEOUT);
}

static int
pending(natsSubscription *sub)
{
	int msgs = 0, bytes = 0;

	NOK(natsSubscription_GetPending(sub, &msgs, &bytes));
	return msgs;
}

static int
nats_teardown(void **state)
{
	while (nsubs > 0)
		natsSubscription_Destroy(subs[--nsubs]);
	while (nconns > 0) {
		natsConnection_Close(conns[--nconns]);
		natsConnection_Destroy(conns[nconns]);
	}
	return h_test_teardown(state);
}

/* ---- tests ---- */

static void
test_nats_pubsub(void **state)
{
	natsConnection *a = connect_to(shared->port);
	natsConnection *b = connect_to(shared->port);
	natsSubscription *sub = sub_sync(b, "ps.greet");

	(void)state;
	NOK(natsConnection_FlushTimeout(b, NATS_MS));
	NOK(natsConnection_PublishString(a, "ps.greet", "hello"));
	NOK(natsConnection_PublishString(a, "ps.other", "not for b"));
	NOK(natsConnection_Publish(a, "ps.greet", NULL, 0));
	expect_msg(sub, "ps.greet", "hello");
	expect_msg(sub, "ps.greet", "");
	expect_none(sub, 100);
}

static void
test_nats_wildcards(void **state)
{
	natsConnection *pub = connect_to(shared->port);
	natsConnection *nc = connect_to(shared->port);
	natsSubscription *star = sub_sync(nc, "wc.*");
	natsSubscription *tail = sub_sync(nc, "wc.>");
	natsSubscription *mid = sub_sync(nc, "wc.*.c");
	natsSubscription *all = sub_sync(nc, ">");

	(void)state;
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	NOK(natsConnection_PublishString(pub, "wc", "0"));
	NOK(natsConnection_PublishString(pub, "wc.a", "1"));
	NOK(natsConnection_PublishString(pub, "wc.a.b", "2"));
	NOK(natsConnection_PublishString(pub, "wc.a.c", "3"));
	NOK(natsConnection_PublishString(pub, "wc.a.b.c", "4"));
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	/* everything the publisher sent is now in nc's stream */
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	expect_msg(star, "wc.a", "1");
	expect_msg(tail, "wc.a", "1");
	expect_msg(tail, "wc.a.b", "2");
	expect_msg(tail, "wc.a.c", "3");
	expect_msg(tail, "wc.a.b.c", "4");
	expect_msg(mid, "wc.a.c", "3");
	assert_int_equal(pending(star), 0);
	assert_int_equal(pending(tail), 0);
	assert_int_equal(pending(mid), 0);
	/* ">" sees all five, and others' traffic maybe: at least ours */
	assert_true(pending(all) >= 5);
}

static void
test_nats_queue_groups(void **state)
{
	enum { MEMBERS = 3, N = 300 };
	natsConnection *pub = connect_to(shared->port), *nc[MEMBERS];
	natsSubscription *q[MEMBERS], *plain;
	int got[MEMBERS] = { 0 }, seen[N] = { 0 }, total = 0, i, k;
	int64_t deadline;
	char data[16];

	(void)state;
	for (i = 0; i < MEMBERS; i++) {
		nc[i] = connect_to(shared->port);
		q[i] = NULL;
		NOK(natsConnection_QueueSubscribeSync(&q[i], nc[i], "qg.work",
		    "workers"));
		track_sub(q[i]);
		NOK(natsConnection_FlushTimeout(nc[i], NATS_MS));
	}
	plain = sub_sync(pub, "qg.work");
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	for (i = 0; i < N; i++) {
		snprintf(data, sizeof(data), "%d", i);
		NOK(natsConnection_PublishString(pub, "qg.work", data));
	}
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	deadline = h_now_ms() + 5000;
	while (total < N && h_now_ms() < deadline) {
		for (i = 0; i < MEMBERS; i++) {
			natsMsg *m = NULL;

			if (natsSubscription_NextMsg(&m, q[i], 10) != NATS_OK)
				continue;
			k = atoi(natsMsg_GetData(m));
			assert_true(k >= 0 && k < N);
			seen[k]++;
			got[i]++;
			total++;
			natsMsg_Destroy(m);
		}
	}
	/* each message to exactly one member, and every member got some */
	assert_int_equal(total, N);
	for (k = 0; k < N; k++)
		assert_int_equal(seen[k], 1);
	print_message("queue group spread: %d %d %d\n", got[0], got[1],
	    got[2]);
	for (i = 0; i < MEMBERS; i++) {
		assert_true(got[i] > 0);
		expect_none(q[i], 50);
	}
	/* a plain subscriber on the same subject gets every one */
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	assert_int_equal(pending(plain), N);
}

static void
on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
    void *closure)
{
	char reply[256];
	int len;

	(void)sub;
	(void)closure;
	len = snprintf(reply, sizeof(reply), "re: %.*s",
	    natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
	if (natsMsg_GetReply(msg) != NULL)
		natsConnection_Publish(nc, natsMsg_GetReply(msg), reply, len);
	natsMsg_Destroy(msg);
}

static void
test_nats_request_reply(void **state)
{
	natsConnection *svc = connect_to(shared->port);
	natsConnection *cli = connect_to(shared->port);
	natsSubscription *sub = NULL;
	natsMsg *reply = NULL;
	char data[32], want[40];
	int i;

	(void)state;
	NOK(natsConnection_Subscribe(&sub, svc, "rr.echo", on_request, NULL));
	track_sub(sub);
	NOK(natsConnection_FlushTimeout(svc, NATS_MS));
	for (i = 0; i < 20; i++) {
		snprintf(data, sizeof(data), "request %d", i);
		NOK(natsConnection_RequestString(&reply, cli, "rr.echo", data,
		    NATS_MS));
		snprintf(want, sizeof(want), "re: %s", data);
		assert_int_equal(natsMsg_GetDataLength(reply),
		    (int)strlen(want));
		assert_memory_equal(natsMsg_GetData(reply), want,
		    strlen(want));
		natsMsg_Destroy(reply);
		reply = NULL;
	}
}

static void
test_nats_no_responders(void **state)
{
	natsConnection *nc = connect_to(shared->port);
	natsMsg *reply = NULL;
	int64_t t0 = h_now_ms();

	(void)state;
	assert_int_equal(natsConnection_RequestString(&reply, nc,
	    "nr.nobody.home", "anyone?", 5000), NATS_NO_RESPONDERS);
	assert_null(reply);
	/* at once, not after the timeout */
	assert_true(h_now_ms() - t0 < 1000);
}

static void
test_nats_headers(void **state)
{
	natsConnection *nc = connect_to(shared->port);
	natsSubscription *sub = sub_sync(nc, "hd.x");
	const char *v = NULL, **vals = NULL;
	natsMsg *m = NULL, *got = NULL;
	int n = 0;

	(void)state;
	NOK(natsMsg_Create(&m, "hd.x", NULL, "body", 4));
	NOK(natsMsgHeader_Set(m, "Trace-Id", "7"));
	NOK(natsMsgHeader_Add(m, "Multi", "a"));
	NOK(natsMsgHeader_Add(m, "Multi", "b: c"));
	NOK(natsConnection_PublishMsg(nc, m));
	natsMsg_Destroy(m);
	NOK(natsSubscription_NextMsg(&got, sub, NATS_MS));
	assert_int_equal(natsMsg_GetDataLength(got), 4);
	assert_memory_equal(natsMsg_GetData(got), "body", 4);
	NOK(natsMsgHeader_Get(got, "Trace-Id", &v));
	assert_string_equal(v, "7");
	NOK(natsMsgHeader_Values(got, "Multi", &vals, &n));
	assert_int_equal(n, 2);
	assert_string_equal(vals[0], "a");
	assert_string_equal(vals[1], "b: c");
	free((void *)vals);
	assert_int_equal(natsMsgHeader_Get(got, "Absent", &v), NATS_NOT_FOUND);
	natsMsg_Destroy(got);
}

static void
test_nats_flush(void **state)
{
	enum { N = 1000 };
	natsConnection *pub = connect_to(shared->port);
	natsConnection *nc = connect_to(shared->port);
	natsSubscription *sub = sub_sync(nc, "fl.x");
	int i;

	(void)state;
	NOK(natsSubscription_SetPendingLimits(sub, -1, -1));
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	for (i = 0; i < N; i++)
		NOK(natsConnection_PublishString(pub, "fl.x", "data"));
	/* the PONG proves the server handled every PUB before it, and the
	 * subscriber's PONG comes after every MSG queued to it */
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	assert_int_equal(pending(sub), N);
}

static atomic_int drained_count;

static void
on_count(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
    void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	atomic_fetch_add(&drained_count, 1);
	natsMsg_Destroy(msg);
}

static void
test_nats_drain(void **state)
{
	enum { N = 200 };
	natsConnection *pub = connect_to(shared->port);
	natsConnection *nc = connect_to(shared->port);
	natsConnection *nc2 = connect_to(shared->port);
	natsSubscription *sub = NULL, *sub2 = NULL;
	int64_t deadline;
	int i;

	(void)state;
	/* a subscription drained: what was published before is handled */
	atomic_store(&drained_count, 0);
	NOK(natsConnection_Subscribe(&sub, nc, "dr.sub", on_count, NULL));
	track_sub(sub);
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	for (i = 0; i < N; i++)
		NOK(natsConnection_PublishString(pub, "dr.sub", "x"));
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	NOK(natsSubscription_Drain(sub));
	NOK(natsSubscription_WaitForDrainCompletion(sub, NATS_MS));
	assert_int_equal(atomic_load(&drained_count), N);
	/* then it is closed (the library may take a moment) */
	for (deadline = h_now_ms() + 1000; h_now_ms() < deadline; h_nap(5))
		if (!natsSubscription_IsValid(sub))
			break;
	assert_false(natsSubscription_IsValid(sub));
	/* the connection still works */
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));

	/* a connection drained: its subscriptions too, then it closes */
	atomic_store(&drained_count, 0);
	NOK(natsConnection_Subscribe(&sub2, nc2, "dr.conn", on_count, NULL));
	track_sub(sub2);
	NOK(natsConnection_FlushTimeout(nc2, NATS_MS));
	for (i = 0; i < N; i++)
		NOK(natsConnection_PublishString(pub, "dr.conn", "y"));
	NOK(natsConnection_FlushTimeout(pub, NATS_MS));
	NOK(natsConnection_DrainTimeout(nc2, NATS_MS));
	for (deadline = h_now_ms() + 3000; h_now_ms() < deadline; h_nap(10))
		if (natsConnection_IsClosed(nc2))
			break;
	assert_true(natsConnection_IsClosed(nc2));
	assert_int_equal(atomic_load(&drained_count), N);
}

static void
test_nats_no_echo(void **state)
{
	natsOptions *opts = NULL;
	natsConnection *quiet, *other;
	natsSubscription *self, *peer;

	(void)state;
	NOK(natsOptions_Create(&opts));
	NOK(natsOptions_SetNoEcho(opts, true));
	quiet = connect_opts(shared->port, opts);
	natsOptions_Destroy(opts);
	other = connect_to(shared->port);
	self = sub_sync(quiet, "ne.x");
	peer = sub_sync(other, "ne.x");
	NOK(natsConnection_FlushTimeout(quiet, NATS_MS));
	NOK(natsConnection_FlushTimeout(other, NATS_MS));
	NOK(natsConnection_PublishString(quiet, "ne.x", "mine"));
	NOK(natsConnection_FlushTimeout(quiet, NATS_MS));
	/* others get it; its own subscription does not */
	expect_msg(peer, "ne.x", "mine");
	expect_none(self, 200);
	/* but it still hears others */
	NOK(natsConnection_PublishString(other, "ne.x", "yours"));
	expect_msg(self, "ne.x", "yours");
	expect_msg(peer, "ne.x", "yours");
}

static void
test_nats_order(void **state)
{
	enum { N = 20000 };
	natsConnection *p1 = connect_to(shared->port);
	natsConnection *p2 = connect_to(shared->port);
	natsConnection *nc = connect_to(shared->port);
	natsSubscription *sub = sub_sync(nc, "or.>");
	int next[2] = { 0, 0 }, i, k;
	char data[16];

	(void)state;
	NOK(natsSubscription_SetPendingLimits(sub, -1, -1));
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	/* two publishers interleaved: each one's order is kept */
	for (i = 0; i < N; i++) {
		snprintf(data, sizeof(data), "%d", i);
		NOK(natsConnection_PublishString(p1, "or.1", data));
		NOK(natsConnection_PublishString(p2, "or.2", data));
	}
	NOK(natsConnection_FlushTimeout(p1, NATS_MS));
	NOK(natsConnection_FlushTimeout(p2, NATS_MS));
	for (i = 0; i < 2 * N; i++) {
		natsMsg *m = NULL;
		int who;

		NOK(natsSubscription_NextMsg(&m, sub, NATS_MS));
		who = strcmp(natsMsg_GetSubject(m), "or.1") == 0 ? 0 : 1;
		k = atoi(natsMsg_GetData(m));
		if (k != next[who])
			fail_msg("publisher %d: got %d, expected %d", who + 1,
			    k, next[who]);
		next[who]++;
		natsMsg_Destroy(m);
	}
	assert_int_equal(next[0], N);
	assert_int_equal(next[1], N);
}

static void
test_nats_big_payload(void **state)
{
	enum { MIB = 1024 * 1024 };
	natsConnection *nc = connect_to(shared->port);
	natsSubscription *sub = sub_sync(nc, "big.x");
	natsMsg *m = NULL;
	char *data;
	int i;

	(void)state;
	assert_int_equal(natsConnection_GetMaxPayload(nc), MIB);
	if ((data = malloc(MIB + 1)) == NULL)
		fail();
	for (i = 0; i < MIB + 1; i++)
		data[i] = (char)(i * 7 + i / 251);
	NOK(natsConnection_Publish(nc, "big.x", data, MIB));
	NOK(natsSubscription_NextMsg(&m, sub, NATS_MS));
	assert_int_equal(natsMsg_GetDataLength(m), MIB);
	assert_memory_equal(natsMsg_GetData(m), data, MIB);
	natsMsg_Destroy(m);
	/* one byte more: the client refuses it from the server's INFO */
	assert_int_equal(natsConnection_Publish(nc, "big.x", data, MIB + 1),
	    NATS_MAX_PAYLOAD);
	free(data);
	/* nothing was sent, the connection is fine */
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	expect_none(sub, 100);
}

static atomic_int reconnects;

static void
on_reconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
	atomic_fetch_add(&reconnects, 1);
}

static void
test_nats_reconnect(void **state)
{
	struct h_daemon *d = h_daemon_run("");
	natsConnection *nc, *other;
	natsSubscription *sub;
	natsOptions *opts = NULL;
	int64_t deadline;
	int port = d->port;

	(void)state;
	atomic_store(&reconnects, 0);
	NOK(natsOptions_Create(&opts));
	NOK(natsOptions_SetMaxReconnect(opts, 1000));
	NOK(natsOptions_SetReconnectWait(opts, 50));
	NOK(natsOptions_SetReconnectJitter(opts, 0, 0));
	NOK(natsOptions_SetReconnectedCB(opts, on_reconnected, NULL));
	nc = connect_opts(port, opts);
	natsOptions_Destroy(opts);
	sub = sub_sync(nc, "rc.x");
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	NOK(natsConnection_PublishString(nc, "rc.x", "before"));
	expect_msg(sub, "rc.x", "before");

	/* a restart on the same port */
	assert_int_equal(h_daemon_stop(d), 0);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:%d\"}]\n", port);
	h_daemon_start(d, NULL);
	assert_int_equal(d->port, port);
	for (deadline = h_now_ms() + 5000; h_now_ms() < deadline; h_nap(10))
		if (atomic_load(&reconnects) > 0)
			break;
	assert_int_equal(atomic_load(&reconnects), 1);
	/* the subscription made before the restart works after it */
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	other = connect_to(port);
	NOK(natsConnection_PublishString(other, "rc.x", "after"));
	expect_msg(sub, "rc.x", "after");
}

/* ---- main ---- */

static int
group_setup(void **state)
{
	(void)state;
	shared = h_daemon_shared();
	return 0;
}

#define T(f)	cmocka_unit_test_teardown(f, nats_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_nats_pubsub),
		T(test_nats_wildcards),
		T(test_nats_queue_groups),
		T(test_nats_request_reply),
		T(test_nats_no_responders),
		T(test_nats_headers),
		T(test_nats_flush),
		T(test_nats_drain),
		T(test_nats_no_echo),
		T(test_nats_order),
		T(test_nats_big_payload),
		T(test_nats_reconnect),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, group_setup, h_group_teardown);
	nats_CloseAndWait(2000);
	return rc;
}
