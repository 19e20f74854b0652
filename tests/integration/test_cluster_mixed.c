/*
 * test_cluster_mixed.c: corobusd and nats-server 2.9 in one cluster, on
 * loopback, driven with the NATS C client.  Two clusters, one after the
 * other:
 *   (a) "join nats": nats-server N1 and N2 (N2 seeds N1) form a
 *       cluster, then corobusd X joins it with N1 as its only seed (it
 *       finds N2 by gossip, and N2 dials it);
 *   (b) "join corobus": corobusd X1 and X2 (X2 seeds X1) form a
 *       cluster, then nats-server N joins with X1 as its only seed.
 * In each: the full mesh (nats-server's /routez, corobusd's log),
 * connect_urls, pub/sub both ways with wildcards and headers, queue
 * groups exactly once across the mix, request/reply and no responders
 * across, per-publisher order, and the joining node killed with
 * SIGKILL and restarted.  Last, route credentials between the two
 * implementations, both ways, on nodes of their own.
 *
 * Skipped (exit 77) without nats-server.  With
 * COROBUS_CLUSTER_REFERENCE=1 every node is a nats-server (cluster.h).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define NN	3

static struct cl_node	*g[NN];		/* the current cluster */
static const char	*gname;		/* (a) or (b) */

/* ---- helpers ---- */

static const char *
kind_name(struct cl_node *n)
{
	return n->kind == CL_COROBUSD ? "corobusd" : "nats-server";
}

/* A node of the current cluster of kind, else -1. */
static int
first_of(enum cl_kind kind)
{
	int i;

	for (i = 0; i < NN; i++)
		if (g[i]->kind == kind)
			return i;
	return -1;
}

/* ---- tests ---- */

static void
test_mix_mesh(void **state)
{
	int i;

	(void)state;
	print_message("cluster %s: %s %s, %s %s, %s %s\n", gname, g[0]->name,
	    kind_name(g[0]), g[1]->name, kind_name(g[1]), g[2]->name,
	    kind_name(g[2]));
	/* checked by cl_wait_mesh; here to be plain */
	for (i = 0; i < NN; i++)
		if (g[i]->kind == CL_NATS)
			assert_int_equal(cl_routez_count(g[i]), NN - 1);
	cl_check_route_logs(g, NN);
}

static void
test_mix_connect_urls(void **state)
{
	const char *info;
	int i, j;

	(void)state;
	for (i = 0; i < NN; i++) {
		info = cl_client_info(g[i]);
		for (j = 0; j < NN; j++)
			if (j != i && !cl_lists_url(info, g[j]))
				fail_msg("%s (%s): connect_urls lacks %s (%s) "
				    "127.0.0.1:%d: %s", g[i]->name,
				    kind_name(g[i]), g[j]->name,
				    kind_name(g[j]), g[j]->port, info);
	}
}

static void
test_mix_pubsub(void **state)
{
	/* every node subscribes three ways and publishes: each of its
	 * subscriptions gets each node's message once */
	static const char *const subjects[] = { "mx.x", "mx.*", "mx.>" };
	enum { NS = 3 };
	natsConnection *nc[NN];
	natsSubscription *sub[NN][NS];
	int seen[NN], i, p, k, got;
	char data[8];

	(void)state;
	for (i = 0; i < NN; i++) {
		nc[i] = cl_connect(g[i]);
		for (k = 0; k < NS; k++)
			sub[i][k] = cl_sub(nc[i], subjects[k], NULL);
	}
	for (p = 0; p < NN; p++)
		for (i = 0; i < NN; i++)
			cl_sync(nc[p], nc[i]);
	for (p = 0; p < NN; p++) {
		snprintf(data, sizeof(data), "%d", p);
		NOK(natsConnection_PublishString(nc[p], "mx.x", data));
		NOK(natsConnection_PublishString(nc[p], "mx.no.match.x",
		    "for mx.> only"));
		NOK(natsConnection_FlushTimeout(nc[p], CL_MS));
	}
	for (i = 0; i < NN; i++)
		for (k = 0; k < NS; k++) {
			memset(seen, 0, sizeof(seen));
			got = cl_collect(sub[i][k], "mx.x", seen, NN, 100,
			    300);
			if (got != NN || seen[0] != 1 || seen[1] != 1 ||
			    seen[2] != 1)
				fail_msg("%s on %s (%s): %d messages (from %s "
				    "%d, %s %d, %s %d), want one from each",
				    subjects[k], g[i]->name, kind_name(g[i]),
				    got, g[0]->name, seen[0], g[1]->name,
				    seen[1], g[2]->name, seen[2]);
		}
}

static void
test_mix_headers(void **state)
{
	natsConnection *nc[NN];
	natsSubscription *sub[NN];
	natsMsg *m = NULL, *got = NULL;
	const char *v = NULL;
	char subj[32], id[8];
	int p, i;

	(void)state;
	for (i = 0; i < NN; i++) {
		nc[i] = cl_connect(g[i]);
		sub[i] = cl_sub(nc[i], "mh.>", NULL);
	}
	for (p = 0; p < NN; p++)
		for (i = 0; i < NN; i++)
			if (i != p)
				cl_sync(nc[p], nc[i]);
	for (p = 0; p < NN; p++) {
		snprintf(subj, sizeof(subj), "mh.%s", g[p]->name);
		snprintf(id, sizeof(id), "%d", p);
		NOK(natsMsg_Create(&m, subj, NULL, "body", 4));
		NOK(natsMsgHeader_Set(m, "Trace-Id", id));
		NOK(natsMsgHeader_Add(m, "Multi", "a: b"));
		NOK(natsConnection_PublishMsg(nc[p], m));
		natsMsg_Destroy(m);
		m = NULL;
		NOK(natsConnection_FlushTimeout(nc[p], CL_MS));
		for (i = 0; i < NN; i++) {
			if (natsSubscription_NextMsg(&got, sub[i], CL_MS) !=
			    NATS_OK)
				fail_msg("headers from %s (%s) did not reach "
				    "%s (%s)", g[p]->name, kind_name(g[p]),
				    g[i]->name, kind_name(g[i]));
			assert_string_equal(natsMsg_GetSubject(got), subj);
			assert_int_equal(natsMsg_GetDataLength(got), 4);
			assert_memory_equal(natsMsg_GetData(got), "body", 4);
			NOK(natsMsgHeader_Get(got, "Trace-Id", &v));
			assert_string_equal(v, id);
			NOK(natsMsgHeader_Get(got, "Multi", &v));
			assert_string_equal(v, "a: b");
			natsMsg_Destroy(got);
			got = NULL;
		}
	}
	for (i = 0; i < NN; i++)
		cl_expect_none(sub[i], 100);
}

/* members[i] queue members on node i, n messages from node pub: exactly
 * once in all. */
static void
mix_queue_round(const int members[NN], int pub, int n)
{
	static int round;
	natsConnection *pnc = cl_connect(g[pub]), *nc;
	natsSubscription *q[16];
	int owner[16], qgot[16] = { 0 }, got[NN] = { 0 }, nq = 0, i, j,
	    total, *seen;
	char subject[32], what[96];

	snprintf(subject, sizeof(subject), "mq%d.work", ++round);
	for (i = 0; i < NN; i++)
		for (j = 0; j < members[i]; j++) {
			nc = cl_connect(g[i]);
			owner[nq] = i;
			q[nq++] = cl_sub(nc, subject, "workers");
			cl_sync(pnc, nc);
		}
	cl_publish_seq(pnc, subject, 0, n);
	assert_non_null(seen = calloc((size_t)n, sizeof(*seen)));
	total = cl_collect_many(q, nq, seen, n, qgot, n, 500);
	for (i = 0; i < nq; i++)
		got[owner[i]] += qgot[i];
	print_message("queue group: %d from %s (%s) to %s %d, %s %d, %s %d\n",
	    n, g[pub]->name, kind_name(g[pub]), g[0]->name, got[0],
	    g[1]->name, got[1], g[2]->name, got[2]);
	snprintf(what, sizeof(what), "queue group, published on %s",
	    g[pub]->name);
	if (total != n) {
		free(seen);
		fail_msg("%s: %d messages, not %d", what, total, n);
	}
	cl_assert_once(seen, n, what);
	free(seen);
	for (i = 0; i < NN; i++)
		if (members[i] == 0 && got[i] != 0)
			fail_msg("%s got queue messages without a member",
			    g[i]->name);
}

static void
test_mix_queue(void **state)
{
	static const int everywhere[NN] = { 1, 2, 2 };
	int only[NN], pub, i, x = first_of(CL_COROBUSD),
	    n = first_of(CL_NATS);

	(void)state;
	/* members everywhere, published on each node */
	for (pub = 0; pub < NN; pub++)
		mix_queue_round(everywhere, pub, 1000);
	if (x < 0 || n < 0)
		return;
	/* members on the corobusd node(s) only, published on a
	 * nats-server; then the other way round */
	for (i = 0; i < NN; i++)
		only[i] = g[i]->kind == CL_COROBUSD ? 2 : 0;
	mix_queue_round(only, n, 1000);
	for (i = 0; i < NN; i++)
		only[i] = g[i]->kind == CL_NATS ? 2 : 0;
	mix_queue_round(only, x, 1000);
}

static void
test_mix_request_reply(void **state)
{
	natsConnection *nc[NN];
	natsSubscription *sub;
	char subj[32], data[32], want[64], *reply;
	int r, p, i, from[NN] = { 0 };

	(void)state;
	for (i = 0; i < NN; i++)
		nc[i] = cl_connect(g[i]);
	/* a responder on each node, requests from each other node */
	for (r = 0; r < NN; r++) {
		sub = NULL;
		snprintf(subj, sizeof(subj), "mr.%s", g[r]->name);
		NOK(natsConnection_Subscribe(&sub, nc[r], subj, cl_on_request,
		    g[r]->name));
		cl_track(sub);
	}
	for (p = 0; p < NN; p++)
		for (r = 0; r < NN; r++) {
			if (p == r)
				continue;
			cl_sync(nc[p], nc[r]);
			snprintf(subj, sizeof(subj), "mr.%s", g[r]->name);
			snprintf(data, sizeof(data), "from %s", g[p]->name);
			reply = cl_request(nc[p], subj, data);
			snprintf(want, sizeof(want), "%s: %s", g[r]->name,
			    data);
			assert_string_equal(reply, want);
			free(reply);
		}
	/* queue responders on every node; requests from each */
	for (r = 0; r < NN; r++) {
		sub = NULL;
		NOK(natsConnection_QueueSubscribe(&sub, nc[r], "mr.svc", "svc",
		    cl_on_request, g[r]->name));
		cl_track(sub);
	}
	for (p = 0; p < NN; p++)
		for (r = 0; r < NN; r++)
			cl_sync(nc[p], nc[r]);
	for (p = 0; p < NN; p++)
		for (i = 0; i < 20; i++) {
			reply = cl_request(nc[p], "mr.svc", "q");
			for (r = 0; r < NN; r++) {
				snprintf(want, sizeof(want), "%s: q",
				    g[r]->name);
				if (strcmp(reply, want) == 0)
					from[r]++;
			}
			free(reply);
		}
	print_message("queue responders: %s %d, %s %d, %s %d\n", g[0]->name,
	    from[0], g[1]->name, from[1], g[2]->name, from[2]);
	assert_int_equal(from[0] + from[1] + from[2], 3 * 20);
}

static void
test_mix_no_responders(void **state)
{
	natsConnection *nc;
	natsMsg *reply = NULL;
	int64_t t0;
	natsStatus s;
	int i;

	(void)state;
	for (i = 0; i < NN; i++) {
		nc = cl_connect(g[i]);
		t0 = h_now_ms();
		s = natsConnection_RequestString(&reply, nc, "mnr.nobody",
		    "?", 5000);
		natsMsg_Destroy(reply);
		reply = NULL;
		if (s != NATS_NO_RESPONDERS || h_now_ms() - t0 >= 1000)
			fail_msg("request to nobody on %s (%s): %s after %d "
			    "ms, want no responders at once", g[i]->name,
			    kind_name(g[i]), natsStatus_GetText(s),
			    (int)(h_now_ms() - t0));
	}
}

static void
test_mix_order(void **state)
{
	enum { N = 5000 };
	natsConnection *pub[NN], *snc[NN];
	natsSubscription *sub[NN];
	int next[NN], i, k, p, s, who;
	char data[16], subj[16];

	(void)state;
	for (i = 0; i < NN; i++) {
		pub[i] = cl_connect(g[i]);
		snc[i] = cl_connect(g[i]);
		sub[i] = cl_sub(snc[i], "mo.>", NULL);
	}
	for (p = 0; p < NN; p++)
		for (i = 0; i < NN; i++)
			cl_sync(pub[p], snc[i]);
	/* the three interleaved; every subscriber sees each one's in
	 * order */
	for (k = 0; k < N; k++) {
		snprintf(data, sizeof(data), "%d", k);
		for (p = 0; p < NN; p++) {
			snprintf(subj, sizeof(subj), "mo.%d", p);
			NOK(natsConnection_PublishString(pub[p], subj, data));
		}
	}
	for (p = 0; p < NN; p++)
		NOK(natsConnection_FlushTimeout(pub[p], CL_MS));
	for (s = 0; s < NN; s++) {
		for (p = 0; p < NN; p++)
			next[p] = 0;
		for (i = 0; i < NN * N; i++) {
			natsMsg *m = NULL;
			natsStatus st;

			if ((st = natsSubscription_NextMsg(&m, sub[s],
			    CL_MS)) != NATS_OK)
				fail_msg("subscriber on %s: %s after %d, %d, "
				    "%d", g[s]->name, natsStatus_GetText(st),
				    next[0], next[1], next[2]);
			who = atoi(natsMsg_GetSubject(m) + 3);
			assert_true(who >= 0 && who < NN);
			k = atoi(natsMsg_GetData(m));
			if (k != next[who])
				fail_msg("subscriber on %s, publisher on %s: "
				    "got %d, expected %d", g[s]->name,
				    g[who]->name, k, next[who]);
			next[who]++;
			natsMsg_Destroy(m);
		}
		cl_expect_none(sub[s], 100);
	}
}

static void
test_mix_kill_joiner(void **state)
{
	/* the node that joined last (g[2]) is killed: the others drop its
	 * interest and its route, go on, and take it back */
	struct cl_node *j = g[2];
	natsConnection *a = cl_connect(g[0]), *b = cl_connect(g[1]);
	natsConnection *jc = cl_connect(j), *jc2;
	natsSubscription *sub = NULL, *bsub, *jsub;
	natsMsg *reply = NULL;
	natsStatus s;
	char *r;
	int i, seen[2] = { 0, 0 };

	(void)state;
	NOK(natsConnection_Subscribe(&sub, jc, "mk.svc", cl_on_request,
	    j->name));
	cl_track(sub);
	bsub = cl_sub(b, "mk.b", NULL);
	cl_sync(a, jc);
	cl_sync(b, jc);
	cl_sync(a, b);
	r = cl_request(a, "mk.svc", "up");
	free(r);

	cl_node_kill9(j);
	for (i = 0; i < 2; i++)
		if (cl_wait_route(g[i], j, false, 5000) < 0) {
			cl_node_dump(g[i]);
			fail_msg("%s (%s) kept its route to the killed %s",
			    g[i]->name, kind_name(g[i]), j->name);
		}
	s = natsConnection_RequestString(&reply, a, "mk.svc", "down", CL_MS);
	natsMsg_Destroy(reply);
	reply = NULL;
	if (s != NATS_NO_RESPONDERS)
		fail_msg("%s still routes to the killed %s: %s",
		    g[0]->name, j->name, natsStatus_GetText(s));
	s = natsConnection_RequestString(&reply, b, "mk.svc", "down", CL_MS);
	natsMsg_Destroy(reply);
	reply = NULL;
	if (s != NATS_NO_RESPONDERS)
		fail_msg("%s still routes to the killed %s: %s",
		    g[1]->name, j->name, natsStatus_GetText(s));
	NOK(natsConnection_PublishString(a, "mk.b", "still"));
	NOK(natsConnection_FlushTimeout(a, CL_MS));
	cl_expect(bsub, "mk.b", "still");

	/* back on the same ports, one seed: the mesh forms again */
	cl_node_start(j);
	cl_wait_mesh(g, NN, CL_MESH_MS);
	jc2 = cl_connect(j);
	jsub = cl_sub(jc2, "mk.new", NULL);
	cl_sync(a, jc2);
	cl_sync(b, jc2);
	NOK(natsConnection_PublishString(a, "mk.new", "0"));
	NOK(natsConnection_FlushTimeout(a, CL_MS));
	NOK(natsConnection_PublishString(b, "mk.new", "1"));
	NOK(natsConnection_FlushTimeout(b, CL_MS));
	/* once each, in either order: two publishers on two nodes */
	assert_int_equal(cl_collect(jsub, "mk.new", seen, 2, 10, 300), 2);
	cl_assert_once(seen, 2, "the rejoined node's subscription");
}

static void
test_mix_route_log_lines(void **state)
{
	int i, n;

	(void)state;
	/* every "route: closed" line of a corobusd is for a route it had
	 * logged registered (see test_cluster) */
	for (i = 0; i < NN; i++) {
		if (g[i]->kind != CL_COROBUSD)
			continue;
		if ((n = cl_log_stray_closes(g[i])) != 0) {
			cl_node_dump(g[i]);
			fail_msg("%s logged %d \"route: closed\" lines for "
			    "routes it never registered", g[i]->name, n);
		}
	}
}

/* One message from a's client to b's and back. */
static void
mix_cross(struct cl_node *a, struct cl_node *b)
{
	natsConnection *ac = cl_connect(a), *bc = cl_connect(b);
	natsSubscription *as = cl_sub(ac, "ma.x", NULL);
	natsSubscription *bs = cl_sub(bc, "ma.x", NULL);

	cl_sync(ac, bc);
	cl_sync(bc, ac);
	NOK(natsConnection_PublishString(ac, "ma.x", "from a"));
	NOK(natsConnection_FlushTimeout(ac, CL_MS));
	cl_expect(bs, "ma.x", "from a");
	cl_expect(as, "ma.x", "from a");
	NOK(natsConnection_PublishString(bc, "ma.x", "from b"));
	NOK(natsConnection_FlushTimeout(bc, CL_MS));
	cl_expect(as, "ma.x", "from b");
	cl_expect(bs, "ma.x", "from b");
	cl_expect_none(as, 100);
	cl_expect_none(bs, 100);
}

static void
test_mix_auth(void **state)
{
	/* route credentials both ways between the two implementations
	 * (nodes of this test only): a corobusd dials a nats-server that
	 * wants r:s, a nats-server dials a corobusd that wants r:s, and a
	 * corobusd with a wrong password is refused by the nats-server */
	struct cl_node *na = cl_node_new(CL_NATS, "NA");
	struct cl_node *xa = cl_node_new(CL_COROBUSD, "XA");
	struct cl_node *xb = cl_node_new(CL_COROBUSD, "XB");
	struct cl_node *nb = cl_node_new(CL_NATS, "NB");
	struct cl_node *xw = cl_node_new(CL_COROBUSD, "XW");
	struct cl_node *pair[2];

	(void)state;
	snprintf(na->auth_user, sizeof(na->auth_user), "r");
	snprintf(na->auth_pass, sizeof(na->auth_pass), "s");
	snprintf(xb->auth_user, sizeof(xb->auth_user), "r");
	snprintf(xb->auth_pass, sizeof(xb->auth_pass), "s");
	cl_node_seed(xa, na);
	cl_node_seed(nb, xb);
	cl_node_seed_creds(xw, na, "r", "wrong");
	cl_node_start(na);
	cl_node_start(xb);
	cl_node_start(xa);
	cl_node_start(nb);
	cl_node_start(xw);
	pair[0] = na;
	pair[1] = xa;
	cl_wait_mesh(pair, 2, CL_MESH_MS);
	mix_cross(na, xa);
	pair[0] = xb;
	pair[1] = nb;
	cl_wait_mesh(pair, 2, CL_MESH_MS);
	mix_cross(xb, nb);
	if (cl_wait_route(na, xw, true, 2500) >= 0 ||
	    cl_wait_route(xw, na, true, 0) >= 0) {
		cl_node_dump(xw);
		fail_msg("nats-server took a corobusd route with a wrong "
		    "password");
	}
}

/* ---- groups ---- */

/* The group's cluster: nodes 1 and 2 seeded with node 0; 0 and 1 are
 * started and meshed before 2 joins. */
static int
setup_join(const char *name, enum cl_kind k0, const char *n0,
    enum cl_kind k1, const char *n1, enum cl_kind k2, const char *n2)
{
	gname = name;
	g[0] = cl_node_new(k0, n0);
	g[1] = cl_node_new(k1, n1);
	g[2] = cl_node_new(k2, n2);
	cl_node_seed(g[1], g[0]);
	cl_node_seed(g[2], g[0]);
	cl_node_start(g[0]);
	cl_node_start(g[1]);
	cl_wait_mesh(g, 2, CL_MESH_MS);
	cl_node_start(g[2]);
	cl_wait_mesh(g, NN, CL_MESH_MS);
	cl_share();
	return 0;
}

static int
setup_join_nats(void **state)
{
	(void)state;
	return setup_join("(a) corobusd joins nats-server", CL_NATS, "N1",
	    CL_NATS, "N2", CL_COROBUSD, "X");
}

static int
setup_join_corobus(void **state)
{
	(void)state;
	return setup_join("(b) nats-server joins corobusd", CL_COROBUSD,
	    "X1", CL_COROBUSD, "X2", CL_NATS, "N");
}

#define T(f)	cmocka_unit_test_teardown(f, cl_teardown)

int
main(void)
{
	const struct CMUnitTest join_nats[] = {
		T(test_mix_mesh),
		T(test_mix_connect_urls),
		T(test_mix_pubsub),
		T(test_mix_headers),
		T(test_mix_queue),
		T(test_mix_request_reply),
		T(test_mix_no_responders),
		T(test_mix_order),
		T(test_mix_kill_joiner),
		T(test_mix_route_log_lines),
	};
	const struct CMUnitTest join_corobus[] = {
		T(test_mix_mesh),
		T(test_mix_connect_urls),
		T(test_mix_pubsub),
		T(test_mix_headers),
		T(test_mix_queue),
		T(test_mix_request_reply),
		T(test_mix_no_responders),
		T(test_mix_order),
		T(test_mix_kill_joiner),
		T(test_mix_route_log_lines),
		T(test_mix_auth),
	};
	int rc;

	if (cl_nats_server() == NULL) {
		printf("# skip: nats-server is not installed (Debian package "
		    "nats-server): no mixed clusters to test\n");
		return 77;
	}
	rc = cmocka_run_group_tests(join_nats, setup_join_nats,
	    cl_group_teardown);
	rc |= cmocka_run_group_tests(join_corobus, setup_join_corobus,
	    cl_group_teardown);
	nats_CloseAndWait(2000);
	return rc;
}
