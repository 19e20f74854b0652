/*
 * test_cluster_ops.c: the operational side of corobusd clusters, on
 * loopback with libnats:
 *
 * - cluster.tls: two nodes with certificates from one CA (IP SAN
 *   127.0.0.1, serverAuth and clientAuth) route and carry messages; a
 *   third node whose certificate comes from another CA registers with
 *   neither, and their logs say why ("route: TLS handshake with ..
 *   failed"), on the dialing side and on the accepting side; plain text
 *   on a TLS route port gets no INFO and is cut.
 * - cluster.routes on SIGHUP: a route added joins two nodes, a route
 *   removed closes the connection it dialed ("route removed") and the
 *   peer drops its interest (no responders), and is not redialed; added
 *   again, it comes back.
 * - cluster.permissions: import limits the RS+ a node sends, export the
 *   RS+ it accepts; checked with messages and with /routez?subs=1.
 * - cluster.max_pending: a fake peer (raw TCP, route protocol) that
 *   subscribes to slow.> and stops reading is closed as a slow route,
 *   while a local subscriber gets a 20 MB flood whole and in order, a
 *   client's PINGs are answered promptly and the RSS stays bounded.
 *
 * Every assertion reads corobusd's own log lines, so under
 * COROBUS_CLUSTER_REFERENCE=1 (nats-server nodes) the file skips.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

#define FLOOD_MSGS	20000
#define FLOOD_SIZE	1024		/* 20 MB in all */
#define PONG_MS		1000		/* a PING's answer during the flood */
#define RSS_MAX_KB	(100 * 1024)

static char	 certs[128];	/* the TLS test's certificates */

/* ---- helpers ---- */

/* Waits until n's log has logged "reload: applied" count times; fails
 * on "reload failed". */
static void
wait_reload(struct cl_node *n, int count)
{
	int64_t deadline = h_now_ms() + 5000;

	while (cl_log_count(n, "reload: applied") < count) {
		if (cl_log_count(n, "reload failed") > 0 ||
		    h_now_ms() >= deadline) {
			cl_node_dump(n);
			fail_msg("%s: no reload #%d", n->name, count);
		}
		h_nap(20);
	}
}

/* Waits until text is in n's log; fails (with the log) otherwise. */
static void
wait_log(struct cl_node *n, const char *text, int timeout_ms)
{
	if (!h_daemon_log_wait(n->d, text, timeout_ms)) {
		cl_node_dump(n);
		fail_msg("%s did not log \"%s\" within %d ms", n->name, text,
		    timeout_ms);
	}
}

static void
must_not_log(struct cl_node *n, const char *text)
{
	if (cl_log_count(n, text) > 0) {
		cl_node_dump(n);
		fail_msg("%s logged \"%s\"", n->name, text);
	}
}

/* Publishes "probe" on subject from pub until sub gets one (the
 * interest has travelled); fails after CL_MESH_MS. */
static void
probe(natsConnection *pub, const char *subject, natsSubscription *sub)
{
	int64_t deadline = h_now_ms() + CL_MESH_MS;
	natsMsg *m = NULL;

	for (;;) {
		NOK(natsConnection_PublishString(pub, subject, "probe"));
		NOK(natsConnection_FlushTimeout(pub, CL_MS));
		if (natsSubscription_NextMsg(&m, sub, 50) == NATS_OK)
			break;
		if (h_now_ms() >= deadline)
			fail_msg("%s never crossed the route", subject);
	}
	natsMsg_Destroy(m);
}

/* The next message on sub that is not a probe must be data. */
static void
expect_after_probes(natsSubscription *sub, const char *data)
{
	natsMsg *m = NULL;
	natsStatus s;

	for (;;) {
		if ((s = natsSubscription_NextMsg(&m, sub, CL_MS)) != NATS_OK)
			fail_msg("no \"%s\" on %s (%s)", data,
			    natsSubscription_GetSubject(sub),
			    natsStatus_GetText(s));
		if (natsMsg_GetDataLength(m) != 5 ||
		    memcmp(natsMsg_GetData(m), "probe", 5) != 0)
			break;
		natsMsg_Destroy(m);
		m = NULL;
	}
	if (natsMsg_GetDataLength(m) != (int)strlen(data) ||
	    memcmp(natsMsg_GetData(m), data, strlen(data)) != 0)
		fail_msg("on %s: \"%.*s\", not \"%s\"",
		    natsSubscription_GetSubject(sub), natsMsg_GetDataLength(m),
		    natsMsg_GetData(m), data);
	natsMsg_Destroy(m);
}

/* A message published on pub_nc reaches sub (fresh, on subject). */
static void
crosses(natsConnection *pub_nc, natsConnection *sub_nc, const char *subject,
    const char *data)
{
	natsSubscription *sub = cl_sub(sub_nc, subject, NULL);

	cl_sync(pub_nc, sub_nc);
	NOK(natsConnection_PublishString(pub_nc, subject, data));
	NOK(natsConnection_FlushTimeout(pub_nc, CL_MS));
	cl_expect(sub, subject, data);
	cl_unsub(sub);
}

/* ---- cluster.tls ---- */

static void
tls_conf(struct cl_node *n, const char *cert, const char *ca)
{
	snprintf(n->cextra, sizeof(n->cextra),
	    "  tls: { cert: \"%s/%s.pem\", key: \"%s/%s.key\", "
	    "ca: \"%s/%s.pem\" }\n", certs, cert, certs, cert, certs, ca);
}

static int
tls_teardown(void **state)
{
	int rc = cl_teardown(state);

	if (certs[0] != '\0' && h_rm_dir(certs) != 0)
		rc = -1;
	certs[0] = '\0';
	return rc;
}

static void
test_tls_routes(void **state)
{
	struct cl_node *A, *B, *C, *ab[2];
	natsConnection *na, *nb;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct h_conn *pc;
	char want[160], *line;

	(void)state;
	snprintf(certs, sizeof(certs), "/tmp/corobus-ctls-XXXXXX");
	if (mkdtemp(certs) == NULL) {
		certs[0] = '\0';
		fail_msg("mkdtemp failed");
	}
	/* one certificate for both nodes of CA "ca", the rogue's from
	 * "ca2"; the rogue trusts both CAs, so that its certificate is
	 * what stops it */
	if (h_make_certs(certs, "ca ca && ca ca2 && "
	    "crt node /CN=node 'subjectAltName=IP:127.0.0.1' ca 2 "
	    "'extendedKeyUsage=serverAuth,clientAuth' && "
	    "crt rogue /CN=node 'subjectAltName=IP:127.0.0.1' ca2 2 "
	    "'extendedKeyUsage=serverAuth,clientAuth' && "
	    "cat ca.pem ca2.pem > both.pem") != 0)
		fail_msg("cannot make the certificates");
	A = cl_node_new(CL_COROBUSD, "ta");
	B = cl_node_new(CL_COROBUSD, "tb");
	C = cl_node_new(CL_COROBUSD, "tc");
	tls_conf(A, "node", "ca");
	tls_conf(B, "node", "ca");
	tls_conf(C, "rogue", "both");
	cl_node_seed(B, A);
	cl_node_seed(A, C);	/* A's client side meets C's certificate */
	cl_node_seed(C, A);	/* A's and B's server sides meet it */
	cl_node_seed(C, B);
	cl_node_start(A);
	cl_node_start(B);
	cl_node_start(C);
	snprintf(want, sizeof(want), "listening for routes on 127.0.0.1:%d "
	    "(tls)", A->rport);
	wait_log(A, want, CL_MS);
	ab[0] = A;
	ab[1] = B;
	cl_wait_mesh(ab, 2, CL_MESH_MS);

	/* messages both ways over the TLS route */
	na = cl_connect(A);
	nb = cl_connect(B);
	crosses(na, nb, "tls.ab", "a to b");
	crosses(nb, na, "tls.ba", "b to a");

	/* C's certificate is refused where A dials it (A's verification
	 * of a server) and where C dials A and B (their verification of a
	 * client) */
	snprintf(want, sizeof(want), "route: TLS handshake with "
	    "127.0.0.1:%d failed", C->rport);
	wait_log(A, want, 5000);
	wait_log(B, "route: TLS handshake with 127.0.0.1:", 5000);
	{
		int64_t deadline = h_now_ms() + 5000;

		/* a failed handshake on A from an address other than C's
		 * route port: C's dial */
		while (cl_log_count(A, "route: TLS handshake with ") <=
		    cl_log_count(A, want)) {
			if (h_now_ms() >= deadline) {
				cl_node_dump(A);
				fail_msg("A logged no failed handshake of a "
				    "route that C dialed");
			}
			h_nap(50);
		}
	}

	/* plain text on B's TLS route port: nothing in the clear, and the
	 * connection is cut, logged with its address */
	pc = h_conn_tcp(B->rport);
	line = h_line(pc, 300);
	if (line != NULL)
		fail_msg("a plain-text peer got \"%s\"", line);
	h_sendf(pc, "CONNECT {\"echo\":true,\"verbose\":false,"
	    "\"pedantic\":false,\"tls_required\":false,\"headers\":true,"
	    "\"name\":\"NPLAIN\",\"cluster\":\"%s\"}\r\n", CL_NAME);
	assert_true(h_eof(pc, 5000));
	assert_int_equal(getsockname(pc->fd, (struct sockaddr *)&sin, &len),
	    0);
	snprintf(want, sizeof(want), "route: TLS handshake with "
	    "127.0.0.1:%d failed", ntohs(sin.sin_port));
	h_conn_close(pc);
	wait_log(B, want, CL_MS);

	/* C is in no one's routes, and A and B only in each other's */
	assert_int_equal(cl_log_count(C, "route: registered"), 0);
	assert_int_equal(cl_log_routes(A, C), 0);
	assert_int_equal(cl_log_routes(B, C), 0);
	assert_int_equal(cl_log_count(A, "route: registered"), 1);
	assert_int_equal(cl_log_count(B, "route: registered"), 1);
	assert_int_equal(cl_routez_count(A), 1);
	assert_int_equal(cl_routez_count(B), 1);
	/* and A-B still carries */
	crosses(na, nb, "tls.after", "still");
}

/* ---- cluster.routes on reload ---- */

static void
test_reload_routes(void **state)
{
	struct cl_node *A, *B;
	natsConnection *na, *nb;
	natsSubscription *sb, *svc = NULL;
	natsMsg *m = NULL;
	natsStatus s;
	char want[200], *reply;

	(void)state;
	A = cl_node_new(CL_COROBUSD, "ra");
	B = cl_node_new(CL_COROBUSD, "rb");
	cl_node_start(A);
	cl_node_start(B);
	h_nap(200);
	assert_int_equal(cl_log_count(A, "route: registered"), 0);
	assert_int_equal(cl_log_count(B, "route: registered"), 0);

	/* a route added: B dials A */
	cl_node_seed(B, A);
	cl_node_write_conf(B);
	h_daemon_signal(B->d, SIGHUP);
	wait_reload(B, 1);
	if (cl_wait_route(B, A, true, CL_MESH_MS) < 0 ||
	    cl_wait_route(A, B, true, CL_MESH_MS) < 0) {
		cl_node_dump(A);
		cl_node_dump(B);
		fail_msg("no route after the reload");
	}
	snprintf(want, sizeof(want), "route: registered name=ra id=%s "
	    "addr=127.0.0.1:%d (dialed)", A->id, A->rport);
	wait_log(B, want, CL_MS);
	na = cl_connect(A);
	nb = cl_connect(B);
	crosses(na, nb, "rl.ab", "one");
	crosses(nb, na, "rl.ba", "two");
	/* interest on B that A is to forget: a subscriber, a responder */
	sb = cl_sub(nb, "rl.x", NULL);
	NOK(natsConnection_Subscribe(&svc, nb, "rl.svc", cl_on_request,
	    (void *)"rb"));
	cl_track(svc);
	cl_sync(na, nb);
	reply = cl_request(na, "rl.svc", "q");
	assert_string_equal(reply, "rb: q");
	free(reply);
	NOK(natsConnection_PublishString(na, "rl.x", "before"));
	cl_expect(sb, "rl.x", "before");

	/* the route removed: B closes it, A drops B's interest */
	B->routes[0] = '\0';
	cl_node_write_conf(B);
	h_daemon_signal(B->d, SIGHUP);
	wait_reload(B, 2);
	snprintf(want, sizeof(want), "route: closed name=ra "
	    "addr=127.0.0.1:%d reason=\"route removed\"", A->rport);
	wait_log(B, want, CL_MS);
	if (cl_wait_route(A, B, false, CL_MS) < 0) {
		cl_node_dump(A);
		fail_msg("A kept its route to B");
	}
	s = natsConnection_RequestString(&m, na, "rl.svc", "q", CL_MS);
	natsMsg_Destroy(m);
	m = NULL;
	if (s != NATS_NO_RESPONDERS)
		fail_msg("request to B's responder from A: %s, not no "
		    "responders", natsStatus_GetText(s));
	NOK(natsConnection_PublishString(na, "rl.x", "after"));
	NOK(natsConnection_FlushTimeout(na, CL_MS));
	cl_expect_none(sb, 300);
	/* and not redialed: past the first backoff, still apart */
	h_nap(1500);
	assert_int_equal(cl_log_routes(B, A), 0);
	assert_int_equal(cl_log_routes(A, B), 0);
	assert_int_equal(cl_log_count(B, "route: registered"), 1);
	assert_int_equal(cl_log_count(A, "route: registered"), 1);
	assert_int_equal(cl_routez_count(A), 0);
	assert_int_equal(cl_routez_count(B), 0);
	cl_expect_none(sb, 50);

	/* added back: the cluster forms again and B's interest returns */
	cl_node_seed(B, A);
	cl_node_write_conf(B);
	h_daemon_signal(B->d, SIGHUP);
	wait_reload(B, 3);
	if (cl_wait_route(B, A, true, CL_MESH_MS) < 0 ||
	    cl_wait_route(A, B, true, CL_MESH_MS) < 0) {
		cl_node_dump(A);
		cl_node_dump(B);
		fail_msg("no route after the route came back");
	}
	cl_sync(na, nb);
	reply = cl_request(na, "rl.svc", "again");
	assert_string_equal(reply, "rb: again");
	free(reply);
	NOK(natsConnection_PublishString(na, "rl.x", "back"));
	cl_expect(sb, "rl.x", "back");
	must_not_log(A, "reload failed");
}

/* ---- cluster.permissions ---- */

static void
test_permissions(void **state)
{
	struct cl_node *A, *B, *ab[2];
	natsConnection *na, *nb;
	natsSubscription *a_in, *a_other, *b_out, *b_secret;

	(void)state;
	A = cl_node_new(CL_COROBUSD, "pa");
	B = cl_node_new(CL_COROBUSD, "pb");
	snprintf(A->cextra, sizeof(A->cextra), "  permissions: { import: "
	    "[ \"in.>\" ], export: [ \"out.>\" ] }\n");
	cl_node_seed(B, A);
	cl_node_start(A);
	cl_node_start(B);
	ab[0] = A;
	ab[1] = B;
	cl_wait_mesh(ab, 2, CL_MESH_MS);
	na = cl_connect(A);
	nb = cl_connect(B);
	/* the refused interest first, so that it is processed before the
	 * allowed one that the probes wait for */
	a_other = cl_sub(na, "other.x", NULL);
	a_in = cl_sub(na, "in.x", NULL);
	b_secret = cl_sub(nb, "secret.z", NULL);
	b_out = cl_sub(nb, "out.y", NULL);
	NOK(natsConnection_FlushTimeout(na, CL_MS));
	NOK(natsConnection_FlushTimeout(nb, CL_MS));

	/* import: A asks B for in.x only */
	probe(nb, "in.x", a_in);
	NOK(natsConnection_PublishString(nb, "other.x", "not imported"));
	NOK(natsConnection_PublishString(nb, "in.x", "imported"));
	NOK(natsConnection_FlushTimeout(nb, CL_MS));
	expect_after_probes(a_in, "imported");
	cl_expect_none(a_other, 300);

	/* export: A takes B's interest in out.y only */
	probe(na, "out.y", b_out);
	NOK(natsConnection_PublishString(na, "secret.z", "not exported"));
	NOK(natsConnection_PublishString(na, "out.y", "exported"));
	NOK(natsConnection_FlushTimeout(na, CL_MS));
	expect_after_probes(b_out, "exported");
	cl_expect_none(b_secret, 300);

	/* the interest each side holds for the other, as /routez shows
	 * it: B has A's in.x but no other.x (A never sent it); A has B's
	 * out.y but not secret.z (A dropped it) */
	assert_int_equal(cl_routez_has_sub(B, A, "in.x"), 1);
	assert_int_equal(cl_routez_has_sub(B, A, "other.x"), 0);
	assert_int_equal(cl_routez_has_sub(A, B, "out.y"), 1);
	assert_int_equal(cl_routez_has_sub(A, B, "secret.z"), 0);

	/* local delivery on either side is not the routes' business */
	NOK(natsConnection_PublishString(na, "other.x", "local"));
	cl_expect(a_other, "other.x", "local");
	NOK(natsConnection_PublishString(nb, "secret.z", "local"));
	cl_expect(b_secret, "secret.z", "local");
}

/* ---- cluster.max_pending: a route that stops reading ---- */

static void
test_slow_route(void **state)
{
	static char payload[FLOOD_SIZE];
	struct cl_node *A;
	struct h_conn *fake, *pinger;
	natsConnection *np, *ns;
	natsSubscription *sub;
	natsMsg *m = NULL;
	char id[57], *info, *line, seq[16], want[64];
	long rss, rss_max = 0, rss0;
	int64_t t0, lat, lat_max = 0, t_flood;
	int i, rmsgs = 0;

	(void)state;
	A = cl_node_new(CL_COROBUSD, "sa");
	snprintf(A->cextra, sizeof(A->cextra), "  max_pending: 1MiB\n");
	cl_node_start(A);

	/* the fake peer: a small receive window, the route handshake as a
	 * dialer, interest in slow.> */
	memset(id, 'F', sizeof(id) - 1);
	memcpy(id, "NFAKE", 5);
	id[sizeof(id) - 1] = '\0';
	fake = h_conn_tcp_rcvbuf(A->rport, 4096);
	if ((info = h_line(fake, CL_MS)) == NULL ||
	    strncmp(info, "INFO {", 6) != 0)
		fail_msg("route port: no INFO but %s", info ? info : "nothing");
	assert_non_null(strstr(info, "\"cluster\":\"" CL_NAME "\""));
	free(info);
	h_sendf(fake, "CONNECT {\"echo\":true,\"verbose\":false,"
	    "\"pedantic\":false,\"tls_required\":false,\"headers\":true,"
	    "\"name\":\"%s\",\"cluster\":\"%s\"}\r\n", id, CL_NAME);
	h_sendf(fake, "INFO {\"server_id\":\"%s\",\"server_name\":\"fake\","
	    "\"version\":\"2.9.25\",\"proto\":2,\"host\":\"127.0.0.1\","
	    "\"port\":1,\"headers\":true,\"cluster\":\"%s\"}\r\n", id,
	    CL_NAME);
	/* PING after RS+: its PONG says the RS+ was taken */
	h_sendf(fake, "RS+ $G slow.>\r\nPING\r\n");
	if ((line = h_until_re(fake, "^PONG$", CL_MS)) == NULL) {
		cl_node_dump(A);
		fail_msg("the fake route got no PONG");
	}
	free(line);
	wait_log(A, "route: registered name=fake id=NFAKE", CL_MS);

	/* a local subscriber, a publisher, a client that PINGs */
	ns = cl_connect(A);
	sub = cl_sub(ns, "slow.x", NULL);
	NOK(natsConnection_FlushTimeout(ns, CL_MS));
	np = cl_connect(A);
	pinger = h_client(A->port);
	rss0 = h_daemon_rss_kb(A->d);

	/* the flood; from now on the fake reads nothing */
	memset(payload, 'x', sizeof(payload));
	t_flood = h_now_ms();
	for (i = 0; i < FLOOD_MSGS; i++) {
		snprintf(seq, sizeof(seq), "%08d", i);
		memcpy(payload, seq, 8);
		NOK(natsConnection_Publish(np, "slow.x", payload,
		    sizeof(payload)));
		if (i % 1000 != 999)
			continue;
		t0 = h_now_ms();
		h_send(pinger, "PING\r\n", 6);
		if ((line = h_line(pinger, PONG_MS)) == NULL ||
		    strcmp(line, "PONG") != 0) {
			cl_node_dump(A);
			fail_msg("PING after message %d: %s within %d ms", i,
			    line ? line : "no answer", PONG_MS);
		}
		free(line);
		if ((lat = h_now_ms() - t0) > lat_max)
			lat_max = lat;
		if ((rss = h_daemon_rss_kb(A->d)) > rss_max)
			rss_max = rss;
	}
	NOK(natsConnection_FlushTimeout(np, 10000));
	t_flood = h_now_ms() - t_flood;

	/* every message, in order, to the local subscriber */
	for (i = 0; i < FLOOD_MSGS; i++) {
		natsStatus s = natsSubscription_NextMsg(&m, sub, CL_MS);

		if (s != NATS_OK)
			fail_msg("local subscriber: message %d of %d: %s", i,
			    FLOOD_MSGS, natsStatus_GetText(s));
		snprintf(seq, sizeof(seq), "%08d", i);
		if (natsMsg_GetDataLength(m) != FLOOD_SIZE ||
		    memcmp(natsMsg_GetData(m), seq, 8) != 0)
			fail_msg("local subscriber: message %d is \"%.8s\" "
			    "(%d bytes)", i, natsMsg_GetData(m),
			    natsMsg_GetDataLength(m));
		natsMsg_Destroy(m);
		m = NULL;
	}
	cl_expect_none(sub, 100);
	if ((rss = h_daemon_rss_kb(A->d)) > rss_max)
		rss_max = rss;

	/* the fake route was cut as slow, and only it */
	wait_log(A, "route: closed name=fake addr=127.0.0.1:", 5000);
	if (cl_log_count(A, "reason=\"slow route (pending bytes)\"") != 1 &&
	    cl_log_count(A, "reason=\"slow route (write deadline)\"") != 1) {
		cl_node_dump(A);
		fail_msg("the fake route was not closed as a slow route");
	}
	must_not_log(A, "slow consumer");
	assert_int_equal(cl_routez_count(A), 0);
	/* its socket: the first messages, as RMSG in order, then EOF */
	while ((line = h_line(fake, 5000)) != NULL) {
		if (strncmp(line, "RMSG ", 5) == 0) {
			snprintf(want, sizeof(want), "RMSG $G slow.x %d",
			    FLOOD_SIZE);
			if (strcmp(line, want) != 0)
				fail_msg("the fake route got \"%s\"", line);
			free(line);
			if ((line = h_line(fake, 5000)) == NULL)
				break;
			snprintf(seq, sizeof(seq), "%08d", rmsgs);
			if (strlen(line) != FLOOD_SIZE ||
			    memcmp(line, seq, 8) != 0)
				fail_msg("the fake route's message %d is "
				    "\"%.8s\"", rmsgs, line);
			rmsgs++;
		}
		free(line);
	}
	assert_true(fake->eof);
	h_conn_close(fake);
	if (rmsgs == 0 || rmsgs >= FLOOD_MSGS)
		fail_msg("the fake route got %d messages of %d", rmsgs,
		    FLOOD_MSGS);
	print_message("flood: %d x %d bytes in %lld ms, PONG within %lld ms "
	    "at most, RSS %ld KiB before, %ld KiB at most; the fake route "
	    "got %d messages, then was closed for %s\n", FLOOD_MSGS,
	    FLOOD_SIZE, (long long)t_flood, (long long)lat_max, rss0, rss_max,
	    rmsgs, cl_log_count(A, "slow route (pending bytes)") ?
	    "pending bytes" : "its write deadline");
	if (rss_max < 0 || rss_max > RSS_MAX_KB)
		fail_msg("RSS %ld KiB during the flood, limit %d KiB", rss_max,
		    RSS_MAX_KB);

	/* A goes on serving */
	crosses(np, ns, "slow.after", "fine");
	h_send(pinger, "PING\r\n", 6);
	h_expect(pinger, "PONG", CL_MS);
}

/* A route connection on A's route port: A's INFO, then lines. */
static struct h_conn *
route_peer(struct cl_node *A, char *id, size_t idsize)
{
	struct h_conn *c = h_conn_tcp(A->rport);
	char *info = h_line(c, CL_MS), *p, *q = NULL;

	if (info == NULL || strncmp(info, "INFO {", 6) != 0)
		fail_msg("route port: no INFO but %s", info ? info : "nothing");
	if (id != NULL) {
		if ((p = strstr(info, "\"server_id\":\"")) == NULL ||
		    (q = strchr(p + 13, '"')) == NULL ||
		    (size_t)(q - (p + 13)) >= idsize)
			fail_msg("no server_id in %s", info);
		memcpy(id, p + 13, (size_t)(q - (p + 13)));
		id[q - (p + 13)] = '\0';
	}
	free(info);
	return c;
}

/* What a route port refuses: a client, another cluster, a route to
 * itself, a second server with its name; and a seed that is itself. */
static void
test_refusals(void **state)
{
	struct cl_node *A;
	struct h_conn *c;
	char id[64];

	(void)state;
	A = cl_node_new(CL_COROBUSD, "rf");
	cl_node_seed(A, A);
	cl_node_start(A);
	wait_log(A, "is this server, not dialing it", CL_MESH_MS);
	must_not_log(A, "route: registered");

	/* a NATS client dialing the route port */
	c = route_peer(A, NULL, 0);
	h_sendf(c, "CONNECT {\"verbose\":false,\"lang\":\"C\","
	    "\"version\":\"3.0\"}\r\n");
	h_expect(c, "-ERR 'attempted to connect to route port'", CL_MS);
	assert_true(h_eof(c, CL_MS));
	h_conn_close(c);

	/* a route of another cluster */
	c = route_peer(A, NULL, 0);
	h_sendf(c, "CONNECT {\"echo\":true,\"verbose\":false,"
	    "\"name\":\"NOTHER\",\"cluster\":\"other\"}\r\n");
	h_expect(c, "-ERR 'Rejecting connection, cluster name \"other\" "
	    "does not match \"" CL_NAME "\"'", CL_MS);
	assert_true(h_eof(c, CL_MS));
	h_conn_close(c);

	/* A's own server_id: a route to itself */
	c = route_peer(A, id, sizeof(id));
	h_sendf(c, "CONNECT {\"echo\":true,\"verbose\":false,"
	    "\"name\":\"%s\",\"cluster\":\"%s\"}\r\n", id, CL_NAME);
	h_sendf(c, "INFO {\"server_id\":\"%s\",\"server_name\":\"x\","
	    "\"port\":1,\"cluster\":\"%s\"}\r\n", id, CL_NAME);
	assert_true(h_eof(c, CL_MS));
	h_conn_close(c);

	/* another server with A's name */
	c = route_peer(A, NULL, 0);
	h_sendf(c, "CONNECT {\"echo\":true,\"verbose\":false,"
	    "\"name\":\"NTWIN\",\"cluster\":\"%s\"}\r\n", CL_NAME);
	h_sendf(c, "INFO {\"server_id\":\"NTWIN\",\"server_name\":\"%s\","
	    "\"port\":1,\"cluster\":\"%s\"}\r\n", A->name, CL_NAME);
	assert_true(h_eof(c, CL_MS));
	h_conn_close(c);
	wait_log(A, "server names must differ", CL_MS);
	must_not_log(A, "route: registered");
}

#define T(f)	cmocka_unit_test_teardown(f, cl_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tls_routes, tls_teardown),
		T(test_reload_routes),
		T(test_permissions),
		T(test_slow_route),
		T(test_refusals),
	};
	int rc;

	if (cl_reference()) {
		printf("# skip: these tests read corobusd's log, which "
		    "nats-server nodes do not write\n");
		return 77;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	nats_CloseAndWait(2000);
	return rc;
}
