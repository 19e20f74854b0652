/*
 * test_cluster.c: three corobusd nodes routed to each other on loopback,
 * each given one seed (B seeds A, C seeds B: C finds A by gossip), and
 * driven with the NATS C client: the full mesh and its /routez, pub/sub
 * across nodes with wildcards, exactly-once delivery, queue groups
 * (exactly once cluster-wide, spread by weight, local members first),
 * request/reply and no responders across the cluster, per-publisher
 * order, connect_urls in the client INFO, a node killed with SIGKILL
 * (its interest dropped, its return), and a seed restarted under its
 * peers (they redial it and send their interest again).
 *
 * The nodes are shared by the tests, which run in order: the last two
 * kill and restart nodes.  Route events are read from the daemons'
 * logs ("route: registered name=..", "route: closed name=..").  With
 * COROBUS_CLUSTER_REFERENCE=1 the nodes are nats-server 2.9 instead
 * (see cluster.h), which checks the tests themselves.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cluster.h"

#define NNODES	3

static struct cl_node	*A, *B, *C;
static struct cl_node	*all[NNODES];

/* ---- helpers ---- */

static bool
is_corobusd(struct cl_node *n)
{
	return n->kind == CL_COROBUSD;
}

/* The route to peer in n's /routez (query may be ""), as a new JSON
 * reference, or NULL; *count gets num_routes. */
static json_t *
routez_route(struct cl_node *n, const char *query, struct cl_node *peer,
    int *count)
{
	char path[64], *body;
	json_t *j, *r, *found = NULL;
	size_t i;

	snprintf(path, sizeof(path), "/routez%s", query);
	body = cl_http_get(n, path);
	if (body == NULL)
		fail_msg("%s: GET %s failed", n->name, path);
	if ((j = json_loads(body, 0, NULL)) == NULL)
		fail_msg("%s: %s is not JSON: %s", n->name, path, body);
	free(body);
	*count = (int)json_integer_value(json_object_get(j, "num_routes"));
	json_array_foreach(json_object_get(j, "routes"), i, r) {
		const char *id = json_string_value(json_object_get(r,
		    "remote_id"));

		if (id != NULL && strcmp(id, peer->id) == 0) {
			found = json_incref(r);
			break;
		}
	}
	json_decref(j);
	return found;
}

static bool
jtrue(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* ---- tests ---- */

static void
test_mesh(void **state)
{
	(void)state;
	/* the group setup waited for the mesh; here its log lines */
	cl_check_route_logs(all, NNODES);
}

static void
test_routez(void **state)
{
	natsConnection *a = cl_connect(A), *b = cl_connect(B);
	json_t *r, *list, *s;
	int count, i, j;
	bool found = false;
	size_t k;

	(void)state;
	for (i = 0; i < NNODES; i++)
		for (j = 0; j < NNODES; j++) {
			if (i == j)
				continue;
			r = routez_route(all[i], "", all[j], &count);
			if (r == NULL)
				fail_msg("%s: no route to %s (%s) in /routez",
				    all[i]->name, all[j]->name, all[j]->id);
			assert_int_equal(count, NNODES - 1);
			assert_string_equal(json_string_value(
			    json_object_get(r, "ip")), "127.0.0.1");
			assert_true(json_integer_value(json_object_get(r,
			    "port")) > 0);
			assert_true(json_is_boolean(json_object_get(r,
			    "did_solicit")));
			assert_true(json_is_boolean(json_object_get(r,
			    "is_configured")));
			if (is_corobusd(all[i]))
				assert_string_equal(json_string_value(
				    json_object_get(r, "remote_name")),
				    all[j]->name);
			json_decref(r);
		}
	/* B dialled its seed A; A has no seeds and never dialled B */
	assert_non_null(r = routez_route(B, "", A, &count));
	assert_true(jtrue(r, "did_solicit"));
	assert_true(jtrue(r, "is_configured"));
	json_decref(r);
	assert_non_null(r = routez_route(A, "", B, &count));
	assert_false(jtrue(r, "did_solicit"));
	assert_false(jtrue(r, "is_configured"));
	json_decref(r);

	/* B's subscription shows on A's route to B */
	(void)cl_sub(b, "rz.probe", NULL);
	cl_sync(a, b);
	assert_non_null(r = routez_route(A, "?subs=1", B, &count));
	assert_true(json_integer_value(json_object_get(r,
	    "subscriptions")) >= 1);
	list = json_object_get(r, "subscriptions_list");
	json_array_foreach(list, k, s)
		if (json_is_string(s) &&
		    strcmp(json_string_value(s), "rz.probe") == 0)
			found = true;
	if (!found) {
		char *dump = json_dumps(r, JSON_INDENT(2));

		print_error("A's route to B: %s\n", dump);
		free(dump);
	}
	json_decref(r);
	assert_true(found);
}

static void
test_pubsub_across(void **state)
{
	natsConnection *nc[NNODES];
	natsSubscription *sub[NNODES];
	int seen[NNODES], i, p, got;
	char data[8];

	(void)state;
	for (i = 0; i < NNODES; i++) {
		nc[i] = cl_connect(all[i]);
		sub[i] = cl_sub(nc[i], "pa.x", NULL);
	}
	for (p = 0; p < NNODES; p++)
		for (i = 0; i < NNODES; i++)
			cl_sync(nc[p], nc[i]);
	/* every node publishes once: every node's subscriber gets the
	 * three */
	for (p = 0; p < NNODES; p++) {
		snprintf(data, sizeof(data), "%d", p);
		NOK(natsConnection_PublishString(nc[p], "pa.x", data));
		NOK(natsConnection_PublishString(nc[p], "pa.y", "nobody"));
		NOK(natsConnection_FlushTimeout(nc[p], CL_MS));
	}
	for (i = 0; i < NNODES; i++) {
		memset(seen, 0, sizeof(seen));
		got = cl_collect(sub[i], "pa.", seen, NNODES, 100, 300);
		if (got != NNODES)
			fail_msg("subscriber on %s got %d messages, not %d",
			    all[i]->name, got, NNODES);
		cl_assert_once(seen, NNODES, all[i]->name);
	}
}

static void
test_wildcards_across(void **state)
{
	static const char *const subjects[] = { "wc", "wc.a", "wc.a.b",
	    "wc.a.c", "wc.a.b.c", "wc.z" };
	enum { NSUBJ = 6 };
	/* which of the subjects each subscription gets */
	static const struct {
		const char	*subject;
		int		 node;	/* 1: B, 2: C */
		int		 want[NSUBJ];
	} cases[] = {
		{ "wc.*",	1, { 0, 1, 0, 0, 0, 1 } },
		{ "wc.>",	1, { 0, 1, 1, 1, 1, 1 } },
		{ "wc.*.c",	1, { 0, 0, 0, 1, 0, 0 } },
		{ ">",		1, { 1, 1, 1, 1, 1, 1 } },
		{ "wc.a.*",	2, { 0, 0, 1, 1, 0, 0 } },
		{ "*.*",	2, { 0, 1, 0, 0, 0, 1 } },
		{ "wc.a.b.c",	2, { 0, 0, 0, 0, 1, 0 } },
	};
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	natsConnection *a = cl_connect(A), *nc[NNODES];
	natsSubscription *sub[NCASES];
	int seen[NSUBJ], i, k, got, want;
	char data[8];

	(void)state;
	nc[0] = a;
	nc[1] = cl_connect(B);
	nc[2] = cl_connect(C);
	for (i = 0; i < NCASES; i++)
		sub[i] = cl_sub(nc[cases[i].node], cases[i].subject, NULL);
	cl_sync(a, nc[1]);
	cl_sync(a, nc[2]);
	for (k = 0; k < NSUBJ; k++) {
		snprintf(data, sizeof(data), "%d", k);
		NOK(natsConnection_PublishString(a, subjects[k], data));
	}
	NOK(natsConnection_FlushTimeout(a, CL_MS));
	for (i = 0; i < NCASES; i++) {
		memset(seen, 0, sizeof(seen));
		got = cl_collect(sub[i], "wc", seen, NSUBJ, 100, 300);
		for (want = 0, k = 0; k < NSUBJ; k++) {
			want += cases[i].want[k];
			if (seen[k] != cases[i].want[k])
				fail_msg("%s on %s: %s seen %d times, want %d",
				    cases[i].subject, all[cases[i].node]->name,
				    subjects[k], seen[k], cases[i].want[k]);
		}
		assert_int_equal(got, want);
	}
}

static void
test_exactly_once(void **state)
{
	enum { N = 1000 };
	natsConnection *a = cl_connect(A), *b = cl_connect(B);
	natsConnection *c = cl_connect(C), *c2 = cl_connect(C);
	natsSubscription *sub[5];
	const char *where[5] = { "A eo.x", "B eo.x", "B eo.*", "C eo.>",
	    "C eo.x" };
	int *seen, i, got;

	(void)state;
	sub[0] = cl_sub(a, "eo.x", NULL);
	sub[1] = cl_sub(b, "eo.x", NULL);
	sub[2] = cl_sub(b, "eo.*", NULL);
	sub[3] = cl_sub(c, "eo.>", NULL);
	sub[4] = cl_sub(c2, "eo.x", NULL);
	cl_sync(a, b);
	cl_sync(a, c);
	cl_sync(a, c2);
	cl_sync(b, a);
	cl_sync(b, c);
	cl_sync(b, c2);
	/* N from A, N from B */
	cl_publish_seq(a, "eo.x", 0, N);
	cl_publish_seq(b, "eo.x", N, 2 * N);
	assert_non_null(seen = calloc(2 * N, sizeof(*seen)));
	for (i = 0; i < 5; i++) {
		memset(seen, 0, 2 * N * sizeof(*seen));
		got = cl_collect(sub[i], "eo.", seen, 2 * N, 4 * N, 500);
		if (got != 2 * N) {
			free(seen);
			fail_msg("%s got %d messages, not %d", where[i], got,
			    2 * N);
		}
		cl_assert_once(seen, 2 * N, where[i]);
	}
	free(seen);
}

/* A queue group "workers" on "qwN.work" (N new for each call, so that
 * earlier members don't count), members[i] of them on node i; n
 * messages published on node pub: each exactly once cluster-wide.
 * got[i] gets node i's share; *plain_out, if not NULL, a plain
 * subscription on C to the same subject. */
static void
queue_round(const int members[NNODES], int pub, int n, int got[NNODES],
    natsSubscription **plain_out)
{
	static int round;
	natsConnection *pnc = cl_connect(all[pub]), *nc;
	natsSubscription *q[16];
	int owner[16], qgot[16] = { 0 }, nq = 0, i, j, total, *seen;
	char subject[32];

	snprintf(subject, sizeof(subject), "qw%d.work", ++round);

	for (i = 0; i < NNODES; i++)
		for (j = 0; j < members[i]; j++) {
			nc = cl_connect(all[i]);
			owner[nq] = i;
			q[nq++] = cl_sub(nc, subject, "workers");
			cl_sync(pnc, nc);
		}
	if (plain_out != NULL) {
		nc = cl_connect(C);
		*plain_out = cl_sub(nc, subject, NULL);
		cl_sync(pnc, nc);
	}
	cl_publish_seq(pnc, subject, 0, n);
	assert_non_null(seen = calloc((size_t)n, sizeof(*seen)));
	total = cl_collect_many(q, nq, seen, n, qgot, n, 500);
	for (i = 0; i < NNODES; i++)
		got[i] = 0;
	for (i = 0; i < nq; i++)
		got[owner[i]] += qgot[i];
	print_message("queue group: %d from %s to A %d, B %d, C %d\n", n,
	    all[pub]->name, got[0], got[1], got[2]);
	if (total != n) {
		free(seen);
		fail_msg("the group got %d messages, not %d", total, n);
	}
	cl_assert_once(seen, n, "queue group");
	free(seen);
}

static void
test_queue_exactly_once(void **state)
{
	/* members on all three nodes, published from one */
	static const int members[NNODES] = { 1, 2, 2 };
	int got[NNODES];

	(void)state;
	queue_round(members, 0, 3000, got, NULL);
}

static void
test_queue_spread(void **state)
{
	/* no member on the publisher's node: B and C share by weight, and
	 * a plain subscriber on C still gets every message once */
	static const int members[NNODES] = { 0, 1, 2 };
	natsSubscription *plain = NULL;
	int got[NNODES];
	static int seen[3000];

	(void)state;
	memset(seen, 0, sizeof(seen));
	queue_round(members, 0, 3000, got, &plain);
	assert_int_equal(got[0], 0);
	assert_true(got[1] > 0);
	assert_true(got[2] > 0);
	/* by weight 1:2, loosely */
	assert_true(got[2] > got[1] / 2);
	assert_int_equal(cl_collect(plain, "qw", seen, 3000, 6000, 300),
	    3000);
	cl_assert_once(seen, 3000, "plain subscriber beside the group");
}

static void
test_queue_local_first(void **state)
{
	static const int members[NNODES] = { 1, 1, 1 };
	int got[NNODES], pub;

	(void)state;
	for (pub = 0; pub < NNODES; pub++) {
		queue_round(members, pub, 1000, got, NULL);
		if (cl_reference()) {
			/* nats-server 2.9 picks among all members by
			 * weight at the origin: no local-first rule */
			print_message("reference: no local-first check\n");
			continue;
		}
		if (got[pub] != 1000)
			fail_msg("published on %s, its local member got %d of "
			    "1000 (A %d, B %d, C %d)", all[pub]->name,
			    got[pub], got[0], got[1], got[2]);
	}
}

static void
test_request_reply(void **state)
{
	natsConnection *a = cl_connect(A), *b = cl_connect(B);
	natsConnection *c = cl_connect(C);
	natsSubscription *sub = NULL;
	char data[32], want[48], *reply;
	int i, from_b = 0, from_c = 0;

	(void)state;
	/* a responder on C, requests from A */
	NOK(natsConnection_Subscribe(&sub, c, "rr.echo", cl_on_request,
	    C->name));
	cl_track(sub);
	cl_sync(a, c);
	for (i = 0; i < 20; i++) {
		snprintf(data, sizeof(data), "request %d", i);
		reply = cl_request(a, "rr.echo", data);
		snprintf(want, sizeof(want), "C: %s", data);
		assert_string_equal(reply, want);
		free(reply);
	}
	/* the other way: a responder on A, requests from C */
	sub = NULL;
	NOK(natsConnection_Subscribe(&sub, a, "rr.back", cl_on_request,
	    A->name));
	cl_track(sub);
	cl_sync(c, a);
	reply = cl_request(c, "rr.back", "x");
	assert_string_equal(reply, "A: x");
	free(reply);
	/* a queue of responders on B and C: each request answered */
	sub = NULL;
	NOK(natsConnection_QueueSubscribe(&sub, b, "rr.svc", "svc",
	    cl_on_request, B->name));
	cl_track(sub);
	sub = NULL;
	NOK(natsConnection_QueueSubscribe(&sub, c, "rr.svc", "svc",
	    cl_on_request, C->name));
	cl_track(sub);
	cl_sync(a, b);
	cl_sync(a, c);
	for (i = 0; i < 40; i++) {
		reply = cl_request(a, "rr.svc", "q");
		if (strcmp(reply, "B: q") == 0)
			from_b++;
		else if (strcmp(reply, "C: q") == 0)
			from_c++;
		else
			fail_msg("reply \"%s\"", reply);
		free(reply);
	}
	print_message("queue responders: B %d, C %d\n", from_b, from_c);
	assert_int_equal(from_b + from_c, 40);
	assert_true(from_b > 0 && from_c > 0);
}

static void
test_no_responders(void **state)
{
	natsConnection *a = cl_connect(A), *c = cl_connect(C);
	natsSubscription *sub = NULL;
	natsMsg *reply = NULL;
	int64_t t0, deadline;
	natsStatus s;
	char *r;

	(void)state;
	/* nobody anywhere: at once, though A has routes */
	t0 = h_now_ms();
	s = natsConnection_RequestString(&reply, a, "nr.none", "anyone?",
	    5000);
	if (s != NATS_NO_RESPONDERS)
		fail_msg("request to nobody: %s after %d ms, not no "
		    "responders", natsStatus_GetText(s),
		    (int)(h_now_ms() - t0));
	assert_true(h_now_ms() - t0 < 1000);
	assert_null(reply);

	/* a responder on C answers A */
	NOK(natsConnection_Subscribe(&sub, c, "nr.svc", cl_on_request,
	    C->name));
	cl_track(sub);
	cl_sync(a, c);
	r = cl_request(a, "nr.svc", "hi");
	assert_string_equal(r, "C: hi");
	free(r);

	/* it goes: A answers no responders again once C's RS- is in */
	cl_unsub(sub);
	NOK(natsConnection_FlushTimeout(c, CL_MS));
	for (deadline = h_now_ms() + CL_MS;; h_nap(20)) {
		s = natsConnection_RequestString(&reply, a, "nr.svc", "hi",
		    300);
		natsMsg_Destroy(reply);
		reply = NULL;
		if (s == NATS_NO_RESPONDERS)
			break;
		if (h_now_ms() >= deadline)
			fail_msg("after the responder left: %s, not no "
			    "responders", natsStatus_GetText(s));
	}
}

static void
test_order(void **state)
{
	enum { N = 10000 };
	natsConnection *p1 = cl_connect(A), *p2 = cl_connect(B);
	natsConnection *c = cl_connect(C), *a2 = cl_connect(A);
	natsSubscription *sub[2];
	const char *where[2] = { "C", "A" };
	int next[2], i, k, s, who;
	char data[16];

	(void)state;
	sub[0] = cl_sub(c, "or.>", NULL);
	sub[1] = cl_sub(a2, "or.>", NULL);
	cl_sync(p1, c);
	cl_sync(p2, c);
	cl_sync(p2, a2);
	for (i = 0; i < N; i++) {
		snprintf(data, sizeof(data), "%d", i);
		NOK(natsConnection_PublishString(p1, "or.1", data));
		NOK(natsConnection_PublishString(p2, "or.2", data));
	}
	NOK(natsConnection_FlushTimeout(p1, CL_MS));
	NOK(natsConnection_FlushTimeout(p2, CL_MS));
	for (s = 0; s < 2; s++) {
		next[0] = next[1] = 0;
		for (i = 0; i < 2 * N; i++) {
			natsMsg *m = NULL;
			natsStatus st;

			if ((st = natsSubscription_NextMsg(&m, sub[s],
			    CL_MS)) != NATS_OK)
				fail_msg("subscriber on %s: %s after %d and %d "
				    "messages", where[s],
				    natsStatus_GetText(st), next[0], next[1]);
			who = strcmp(natsMsg_GetSubject(m), "or.1") == 0 ?
			    0 : 1;
			k = atoi(natsMsg_GetData(m));
			if (k != next[who])
				fail_msg("subscriber on %s, publisher %d: got "
				    "%d, expected %d", where[s], who + 1, k,
				    next[who]);
			next[who]++;
			natsMsg_Destroy(m);
		}
		cl_expect_none(sub[s], 200);
	}
}

static void
test_connect_urls(void **state)
{
	natsConnection *a;
	char **servers = NULL, url[64];
	const char *info;
	int count = 0, i, j, k;
	bool found;

	(void)state;
	for (i = 0; i < NNODES; i++) {
		info = cl_client_info(all[i]);
		if (strstr(info, "\"connect_urls\"") == NULL)
			fail_msg("%s: no connect_urls in %s", all[i]->name,
			    info);
		for (j = 0; j < NNODES; j++)
			if (j != i && !cl_lists_url(info, all[j]))
				fail_msg("%s: connect_urls lacks %s's "
				    "127.0.0.1:%d: %s", all[i]->name,
				    all[j]->name, all[j]->port, info);
	}
	/* libnats learns the other two */
	a = cl_connect(A);
	NOK(natsConnection_GetDiscoveredServers(a, &servers, &count));
	for (j = 1; j < NNODES; j++) {
		snprintf(url, sizeof(url), "127.0.0.1:%d", all[j]->port);
		for (found = false, k = 0; k < count; k++)
			if (strstr(servers[k], url) != NULL)
				found = true;
		if (!found)
			fail_msg("libnats did not discover %s (%s)",
			    all[j]->name, url);
	}
	for (k = 0; k < count; k++)
		free(servers[k]);
	free(servers);
	/* a clustered nats-server 2.9 names its cluster in the client
	 * INFO (nats-protocol.md 1.3) */
	for (i = 0; i < NNODES; i++) {
		info = cl_client_info(all[i]);
		if (strstr(info, "\"cluster\":\"" CL_NAME "\"") == NULL)
			fail_msg("%s: no \"cluster\":\"%s\" in its client "
			    "INFO: %s", all[i]->name, CL_NAME, info);
	}
}

static void
test_kill9_rejoin(void **state)
{
	natsConnection *a = cl_connect(A), *b = cl_connect(B);
	natsConnection *c = cl_connect(C), *c2;
	natsSubscription *sub = NULL, *bsub, *csub;
	natsMsg *reply = NULL;
	char want[64], *r;
	const char *info;
	int ms, ms_b, i;
	natsStatus s;

	(void)state;
	/* a service only C has */
	NOK(natsConnection_Subscribe(&sub, c, "kc.svc", cl_on_request,
	    C->name));
	cl_track(sub);
	bsub = cl_sub(b, "kc.b", NULL);
	cl_sync(a, c);
	cl_sync(a, b);
	r = cl_request(a, "kc.svc", "up");
	assert_string_equal(r, "C: up");
	free(r);

	cl_node_kill9(C);
	/* A and B see the route go at once (loopback: no ping timeout) */
	ms = cl_wait_route(A, C, false, 5000);
	ms_b = cl_wait_route(B, C, false, 5000);
	print_message("route to the killed C closed on A after %d ms, on B "
	    "after %d ms\n", ms, ms_b);
	if (ms < 0 || ms_b < 0) {
		cl_node_dump(A);
		cl_node_dump(B);
		fail_msg("A or B kept its route to the killed C");
	}
	assert_true(ms < 1500 && ms_b < 1500);
	if (is_corobusd(A)) {
		snprintf(want, sizeof(want), "route: closed name=%s addr=",
		    C->name);
		assert_true(cl_log_count(A, want) >= 1);
		assert_true(cl_log_count(B, want) >= 1);
	}
	/* C's interest is gone from A: no responders, at once */
	s = natsConnection_RequestString(&reply, a, "kc.svc", "down", CL_MS);
	natsMsg_Destroy(reply);
	if (s != NATS_NO_RESPONDERS)
		fail_msg("request to the killed C's service: %s, not no "
		    "responders", natsStatus_GetText(s));
	/* A and B go on serving each other */
	for (i = 0; i < 3; i++)
		NOK(natsConnection_PublishString(a, "kc.b", "still here"));
	NOK(natsConnection_FlushTimeout(a, CL_MS));
	for (i = 0; i < 3; i++)
		cl_expect(bsub, "kc.b", "still here");
	cl_expect_none(bsub, 100);
	/* and A no longer tells clients of C */
	info = cl_client_info(A);
	if (cl_lists_url(info, C))
		fail_msg("A's connect_urls still lists the killed C: %s",
		    info);

	/* C back on the same ports: it rejoins both (seed B, then A by
	 * gossip) */
	cl_node_start(C);
	ms = cl_wait_route(C, A, true, CL_MESH_MS);
	ms_b = cl_wait_route(C, B, true, CL_MESH_MS);
	print_message("restarted C: route to A after %d ms, to B after %d "
	    "ms\n", ms, ms_b);
	if (ms < 0 || ms_b < 0 || cl_wait_route(A, C, true, CL_MS) < 0 ||
	    cl_wait_route(B, C, true, CL_MS) < 0) {
		cl_node_dump(A);
		cl_node_dump(B);
		cl_node_dump(C);
		fail_msg("the restarted C did not rejoin");
	}
	if (is_corobusd(A)) {
		/* registered again (a duplicate may have replaced a route
		 * once more), one up */
		snprintf(want, sizeof(want), "route: registered name=%s ",
		    C->name);
		assert_true(cl_log_count(A, want) >= 2);
		assert_true(cl_log_count(B, want) >= 2);
	}
	cl_wait_mesh(all, NNODES, CL_MESH_MS);
	/* its new subscriptions get what A publishes, once each */
	c2 = cl_connect(C);
	csub = cl_sub(c2, "kc.new", NULL);
	cl_sync(a, c2);
	for (i = 0; i < 3; i++)
		NOK(natsConnection_PublishString(a, "kc.new", "welcome"));
	NOK(natsConnection_FlushTimeout(a, CL_MS));
	for (i = 0; i < 3; i++)
		cl_expect(csub, "kc.new", "welcome");
	cl_expect_none(csub, 200);
	/* the service died with the old C */
	s = natsConnection_RequestString(&reply, a, "kc.svc", "again", CL_MS);
	natsMsg_Destroy(reply);
	assert_int_equal(s, NATS_NO_RESPONDERS);
	/* and A tells clients of C again */
	info = cl_client_info(A);
	if (!cl_lists_url(info, C)) {
		/* the INFO may lag the route a little */
		h_nap(500);
		info = cl_client_info(A);
	}
	if (!cl_lists_url(info, C))
		fail_msg("A's connect_urls lacks the restarted C: %s", info);
}

static void
test_seed_restart(void **state)
{
	enum { N = 5 };
	natsConnection *b = cl_connect(B), *c = cl_connect(C), *a;
	natsSubscription *bsub = cl_sub(b, "rd.x", NULL);
	natsSubscription *csub = cl_sub(c, "rd.x", NULL), *asub;
	int ms_b, ms_c, seen[N] = { 0 };
	char want[64];

	(void)state;
	/* A, B's seed, is killed; B and C see it go */
	cl_node_kill9(A);
	if (cl_wait_route(B, A, false, 5000) < 0 ||
	    cl_wait_route(C, A, false, 5000) < 0) {
		cl_node_dump(B);
		cl_node_dump(C);
		fail_msg("B or C kept its route to the killed A");
	}
	h_nap(300);
	/* back: B redials its configured seed (about every second), C
	 * hears of A from B */
	cl_node_start(A);
	ms_b = cl_wait_route(B, A, true, CL_MESH_MS);
	ms_c = cl_wait_route(C, A, true, CL_MESH_MS);
	print_message("restarted A: B's route back after %d ms, C's after "
	    "%d ms\n", ms_b, ms_c);
	if (ms_b < 0 || ms_c < 0) {
		cl_node_dump(A);
		cl_node_dump(B);
		cl_node_dump(C);
		fail_msg("the restarted seed A was not redialled");
	}
	assert_true(ms_b < 3000);
	cl_wait_mesh(all, NNODES, CL_MESH_MS);
	if (is_corobusd(B)) {
		snprintf(want, sizeof(want), "route: registered name=%s ",
		    A->name);
		assert_true(cl_log_count(B, want) >= 2);
	}
	/* B and C sent their old interest to the new A again */
	a = cl_connect(A);
	cl_sync(a, b);
	cl_sync(a, c);
	cl_publish_seq(a, "rd.x", 0, N);
	assert_int_equal(cl_collect(bsub, "rd.", seen, N, 2 * N, 300), N);
	cl_assert_once(seen, N, "B's subscription from before");
	memset(seen, 0, sizeof(seen));
	assert_int_equal(cl_collect(csub, "rd.", seen, N, 2 * N, 300), N);
	cl_assert_once(seen, N, "C's subscription from before");
	/* and the new A's interest reaches them */
	asub = cl_sub(a, "rd.back", NULL);
	cl_sync(b, a);
	cl_sync(c, a);
	NOK(natsConnection_PublishString(b, "rd.back", "from B"));
	NOK(natsConnection_FlushTimeout(b, CL_MS));
	cl_expect(asub, "rd.back", "from B");
	NOK(natsConnection_PublishString(c, "rd.back", "from C"));
	NOK(natsConnection_FlushTimeout(c, CL_MS));
	cl_expect(asub, "rd.back", "from C");
	cl_expect_none(asub, 200);
}

static void
test_route_auth(void **state)
{
	/* D's route listener wants r:s; E has them, F has a wrong
	 * password (nodes of this test only) */
	struct cl_node *d = cl_node_new(CL_COROBUSD, "D");
	struct cl_node *e = cl_node_new(CL_COROBUSD, "E");
	struct cl_node *f = cl_node_new(CL_COROBUSD, "F");
	struct cl_node *de[2];
	natsConnection *dc, *ec, *fc;
	natsSubscription *sub = NULL;
	natsMsg *reply = NULL;
	natsStatus s;
	char *r;

	(void)state;
	snprintf(d->auth_user, sizeof(d->auth_user), "r");
	snprintf(d->auth_pass, sizeof(d->auth_pass), "s");
	cl_node_seed(e, d);
	cl_node_seed_creds(f, d, "r", "wrong");
	cl_node_start(d);
	cl_node_start(e);
	cl_node_start(f);
	de[0] = d;
	de[1] = e;
	cl_wait_mesh(de, 2, CL_MESH_MS);
	dc = cl_connect(d);
	ec = cl_connect(e);
	fc = cl_connect(f);
	NOK(natsConnection_Subscribe(&sub, dc, "au.svc", cl_on_request,
	    d->name));
	cl_track(sub);
	cl_sync(ec, dc);
	r = cl_request(ec, "au.svc", "x");
	assert_string_equal(r, "D: x");
	free(r);
	/* F redials about every second and is refused each time */
	if (cl_wait_route(d, f, true, 2500) >= 0 ||
	    cl_wait_route(f, d, true, 0) >= 0) {
		cl_node_dump(d);
		cl_node_dump(f);
		fail_msg("a route with a wrong password was accepted");
	}
	s = natsConnection_RequestString(&reply, fc, "au.svc", "x", CL_MS);
	natsMsg_Destroy(reply);
	assert_int_equal(s, NATS_NO_RESPONDERS);
	/* and D still has E */
	assert_true(cl_wait_route(d, e, true, 0) >= 0);
}

static void
test_route_log_lines(void **state)
{
	int i, n;

	(void)state;
	/* after the kills and restarts above: every "route: closed" line
	 * is for a route that was logged registered; a duplicate
	 * connection dropped before it was ever up is no route going */
	for (i = 0; i < NNODES; i++) {
		if (!is_corobusd(all[i]))
			continue;
		if ((n = cl_log_stray_closes(all[i])) != 0) {
			cl_node_dump(all[i]);
			fail_msg("%s logged %d \"route: closed\" lines for "
			    "routes it never registered", all[i]->name, n);
		}
	}
}

/* ---- main ---- */

static int
group_setup(void **state)
{
	(void)state;
	A = cl_node_new(CL_COROBUSD, "A");
	B = cl_node_new(CL_COROBUSD, "B");
	C = cl_node_new(CL_COROBUSD, "C");
	all[0] = A;
	all[1] = B;
	all[2] = C;
	cl_node_seed(B, A);
	cl_node_seed(C, B);
	cl_node_start(A);
	cl_node_start(B);
	cl_node_start(C);
	cl_wait_mesh(all, NNODES, CL_MESH_MS);
	cl_share();
	return 0;
}

/* Lame duck on C: its peers stop listing it, so their clients get an
 * async INFO without C's URL; C's own clients are told to move (ldm).
 * Last: C is killed at the end. */
static void
test_lame_duck(void **state)
{
	struct h_conn *ca = h_conn_tcp(A->port), *cc = h_conn_tcp(C->port);
	natsConnection *na, *nb;
	natsSubscription *sub;
	char *line;
	int64_t deadline;

	(void)state;
	if (!is_corobusd(C))
		skip();
	free(h_handshake(ca, "{\"verbose\":false,\"protocol\":1}"));
	free(h_handshake(cc, "{\"verbose\":false,\"protocol\":1}"));
	h_daemon_signal(C->d, SIGUSR2);
	line = h_until_re(cc, "^INFO .*\"ldm\":true", CL_MS);
	if (line == NULL)
		fail_msg("C's client got no INFO with ldm");
	if (cl_lists_url(line, C))
		fail_msg("C in lame duck still offers itself: %s", line);
	free(line);
	/* A's client: an INFO that lists B but no longer C */
	deadline = h_now_ms() + CL_MS;
	for (;;) {
		line = h_until_re(ca, "^INFO ", (int)(deadline - h_now_ms()));
		if (line == NULL)
			fail_msg("A's client got no INFO without C");
		if (!cl_lists_url(line, C) && cl_lists_url(line, B))
			break;
		free(line);
	}
	free(line);
	/* routing among A and B goes on */
	na = cl_connect(A);
	nb = cl_connect(B);
	sub = cl_sub(nb, "ld.x", NULL);
	cl_sync(na, nb);
	NOK(natsConnection_PublishString(na, "ld.x", "still"));
	cl_expect(sub, "ld.x", "still");
	/* lame duck ignores SIGTERM for its whole duration (30 s at
	 * least): end it here rather than in the teardown */
	cl_node_kill9(C);
}

#define T(f)	cmocka_unit_test_teardown(f, cl_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mesh),
		T(test_routez),
		T(test_pubsub_across),
		T(test_wildcards_across),
		T(test_exactly_once),
		T(test_queue_exactly_once),
		T(test_queue_spread),
		T(test_queue_local_first),
		T(test_request_reply),
		T(test_no_responders),
		T(test_order),
		T(test_connect_urls),
		T(test_kill9_rejoin),
		T(test_seed_restart),
		T(test_route_log_lines),
		T(test_route_auth),
		T(test_lame_duck),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, group_setup, cl_group_teardown);
	nats_CloseAndWait(2000);
	return rc;
}
