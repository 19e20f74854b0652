/*
 * test_udp_transport.c: the datagram transport of corobusd (listeners
 * with protocol: datagram), through real UDP and TCP sockets on
 * loopback: publishing by datagram to TCP subscribers, leases that
 * deliver TCP publishes as MSG datagrams, their refresh and expiry, the
 * size limit, garbage, amplification, floods, the rate and lease
 * limits, spoofed sources (as root, with a raw socket) and tokens.
 * Counters are read from /varz.  Every wait is bounded.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define QUIET_JSON	"{\"verbose\":false,\"pedantic\":false," \
			"\"protocol\":1,\"headers\":true," \
			"\"auth_token\":\"s3cret\"}"
#define SHORT_MS	300	/* to show that nothing arrives */

/* A daemon with a TCP listener, a datagram listener and monitoring;
 * extra is more top-level YAML. */
struct udpd {
	struct h_daemon	*d;
	int		 tcp, udp, http;
};

/* ---- helpers ---- */

/* The port in the first log line holding marker: the number after the
 * last ':' before the marker ("127.0.0.1:PORT (datagram)"), or right
 * after a marker that ends in ':'. */
static int
log_port(struct h_daemon *d, const char *marker)
{
	char *text = NULL, *p, *q;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int port = -1;

	if ((f = fopen(d->log, "r")) == NULL)
		fail_msg("%s: %s", d->log, strerror(errno));
	fseek(f, d->log_start, SEEK_SET);
	while ((n = getline(&text, &cap, f)) > 0) {
		if ((p = strstr(text, marker)) == NULL)
			continue;
		if (marker[strlen(marker) - 1] == ':')
			q = p + strlen(marker);
		else
			for (q = p; q > text && q[-1] != ':'; q--)
				;
		port = atoi(q);
		break;
	}
	free(text);
	fclose(f);
	if (port <= 0)
		fail_msg("no \"%s\" line in the log", marker);
	return port;
}

static void
udpd_start(struct udpd *u, const char *extra)
{
	u->d = h_daemon_new();
	h_daemon_conf(u->d,
	    "listeners:\n"
	    "  - { protocol: nats, address: \"127.0.0.1:0\" }\n"
	    "  - { protocol: datagram, address: \"127.0.0.1:0\" }\n"
	    "monitoring: { address: \"127.0.0.1:0\" }\n"
	    "%s\n", extra);
	h_daemon_start(u->d, NULL);
	u->tcp = u->d->port;
	u->udp = log_port(u->d, " (datagram)");
	u->http = log_port(u->d, "monitoring on http://127.0.0.1:");
}

/* A UDP socket on 127.0.0.1, connected to the daemon's port. */
static int
udp_socket(int port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		fail_msg("socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

static void
udp_send(int fd, const void *p, size_t len)
{
	if (send(fd, p, len, 0) != (ssize_t)len)
		fail_msg("send: %s", strerror(errno));
}

static void
udp_put(int fd, const char *s)
{
	udp_send(fd, s, strlen(s));
}

/* One datagram within ms: its length, or -1. */
static ssize_t
udp_recv(int fd, char *buf, size_t size, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return recv(fd, buf, size, 0);
}

/* The next datagram must be exactly want. */
static void
udp_expect(int fd, const char *want)
{
	char buf[512];
	ssize_t n = udp_recv(fd, buf, sizeof(buf) - 1, H_IO_MS);

	if (n < 0) {
		fail_msg("no datagram; wanted \"%s\"", want);
		return;
	}
	buf[n] = '\0';
	assert_int_equal((size_t)n, strlen(want));
	assert_string_equal(buf, want);
}

static bool
udp_quiet(int fd, int ms)
{
	char buf[512];

	return udp_recv(fd, buf, sizeof(buf), ms) < 0;
}

/* A datagram that ends with PING: its PONG shows it was handled. */
static void
udp_sync(int fd, const char *frames)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%sPING\r\n", frames);
	udp_put(fd, buf);
	udp_expect(fd, "PONG\r\n");
}

/* GET path on the monitoring port: the body (malloc'd). */
static char *
http_get(int port, const char *path)
{
	struct h_conn *c = h_conn_tcp(port);
	char *text, *body, *line;
	size_t len = 0, cap = 65536;

	h_sendf(c, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	line = h_line(c, H_IO_MS);
	if (line == NULL || strstr(line, " 200 ") == NULL)
		fail_msg("GET %s: %s", path, line ? line : "no answer");
	free(line);
	if ((text = malloc(cap)) == NULL)
		fail();
	while (len < cap - 1 && h_bytes(c, text + len, 1, H_IO_MS) == 0)
		len++;
	text[len] = '\0';
	h_conn_close(c);
	if ((body = strstr(text, "\r\n\r\n")) == NULL)
		fail_msg("GET %s: no body", path);
	body = strdup(body + 4);
	free(text);
	return body;
}

/* A counter of /varz's "datagram" object. */
static long long
varz_dgram(struct udpd *u, const char *key)
{
	char *body = http_get(u->http, "/varz"), *o;
	long long v;

	if ((o = strstr(body, "\"datagram\"")) == NULL)
		fail_msg("/varz has no datagram object");
	v = h_json_int(o, key);
	free(body);
	return v;
}

static struct h_conn *
tcp_client(struct udpd *u)
{
	struct h_conn *c = h_conn_tcp(u->tcp);

	free(h_handshake(c, QUIET_JSON));
	return c;
}

static void
tcp_sync(struct h_conn *c)
{
	h_sendf(c, "PING\r\n");
	h_expect(c, "PONG", H_IO_MS);
}

/* The next frame on c must be MSG/HMSG line want with payload. */
static void
expect_msg(struct h_conn *c, const char *want, const char *payload)
{
	size_t len = strlen(payload);
	char buf[512];

	h_expect(c, want, H_IO_MS);
	assert_int_equal(h_bytes(c, buf, len + 2, H_IO_MS), 0);
	assert_memory_equal(buf, payload, len);
	assert_memory_equal(buf + len, "\r\n", 2);
}

/* ---- publishing by datagram ---- */

static void
test_udp_pub_reaches_tcp_sub(void **state)
{
	struct udpd u;
	struct h_conn *c;
	int fd;

	(void)state;
	udpd_start(&u, "");
	c = tcp_client(&u);
	h_sendf(c, "SUB foo.> 1\r\nSUB foo.q g 2\r\n");
	tcp_sync(c);
	fd = udp_socket(u.udp);
	/* several frames in one datagram, headers included */
	udp_put(fd, "PUB foo.a 5\r\nhello\r\n"
	    "PUB foo.b reply.x 3\r\nbye\r\n"
	    "HPUB foo.c 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n");
	expect_msg(c, "MSG foo.a 1 5", "hello");
	expect_msg(c, "MSG foo.b 1 reply.x 3", "bye");
	expect_msg(c, "HMSG foo.c 1 18 20", "NATS/1.0\r\nA: b\r\n\r\nhi");
	/* a queue group gets it once */
	udp_put(fd, "PUB foo.q 1\r\nq\r\n");
	h_expect(c, "MSG foo.q 1 1", H_IO_MS);
	free(h_line(c, H_IO_MS));
	h_expect(c, "MSG foo.q 2 1", H_IO_MS);
	free(h_line(c, H_IO_MS));
	assert_true(h_quiet(c, SHORT_MS));
	/* nothing comes back to the publisher */
	assert_true(udp_quiet(fd, 50));
	assert_int_equal(varz_dgram(&u, "published"), 4);
	assert_int_equal(varz_dgram(&u, "received"), 2);
	close(fd);
}

/* ---- subscribing by datagram ---- */

static void
test_udp_sub_gets_tcp_pub(void **state)
{
	struct udpd u;
	struct h_conn *c;
	static char buf[256];	/* static: ASan pads every array */
	int fd, other;

	(void)state;
	udpd_start(&u, "");
	c = tcp_client(&u);
	fd = udp_socket(u.udp);
	udp_sync(fd, "SUB bar.* 7\r\nSUB bar.x 8\r\n");
	assert_int_equal(varz_dgram(&u, "leases"), 1);
	h_sendf(c, "PUB bar.x 2\r\nhi\r\nHPUB bar.y 12 14\r\nNATS/1.0\r\n\r\nho\r\n");
	tcp_sync(c);
	/* one message per datagram, for each subscription */
	snprintf(buf, sizeof(buf), "MSG bar.x 7 2\r\nhi\r\n");
	{
		static char a[256], b[256];
		ssize_t n1, n2;

		n1 = udp_recv(fd, a, sizeof(a) - 1, H_IO_MS);
		n2 = udp_recv(fd, b, sizeof(b) - 1, H_IO_MS);
		assert_true(n1 > 0 && n2 > 0);
		a[n1] = b[n2] = '\0';
		/* either order of the two subscriptions */
		assert_true((strcmp(a, buf) == 0 &&
		    strcmp(b, "MSG bar.x 8 2\r\nhi\r\n") == 0) ||
		    (strcmp(b, buf) == 0 &&
		    strcmp(a, "MSG bar.x 8 2\r\nhi\r\n") == 0));
	}
	udp_expect(fd, "HMSG bar.y 7 12 14\r\nNATS/1.0\r\n\r\nho\r\n");
	/* a UDP publish reaches a UDP lease too */
	other = udp_socket(u.udp);
	udp_put(other, "PUB bar.z 1\r\nz\r\n");
	udp_expect(fd, "MSG bar.z 7 1\r\nz\r\n");
	/* UNSUB: no more for that sid; the last one ends the lease */
	udp_sync(fd, "UNSUB 8\r\n");
	h_sendf(c, "PUB bar.x 1\r\n1\r\n");
	udp_expect(fd, "MSG bar.x 7 1\r\n1\r\n");
	assert_true(udp_quiet(fd, SHORT_MS));
	udp_sync(fd, "UNSUB 7\r\n");
	assert_int_equal(varz_dgram(&u, "leases"), 0);
	h_sendf(c, "PUB bar.x 1\r\n2\r\n");
	tcp_sync(c);
	assert_true(udp_quiet(fd, SHORT_MS));
	/* UNSUB with a count: that many more, then gone */
	udp_sync(fd, "SUB bar.x 9\r\nUNSUB 9 2\r\n");
	h_sendf(c, "PUB bar.x 1\r\na\r\nPUB bar.x 1\r\nb\r\nPUB bar.x 1\r\nc\r\n");
	tcp_sync(c);
	udp_expect(fd, "MSG bar.x 9 1\r\na\r\n");
	udp_expect(fd, "MSG bar.x 9 1\r\nb\r\n");
	assert_true(udp_quiet(fd, SHORT_MS));
	close(other);
	close(fd);
}

static void
test_udp_lease_refresh_and_expiry(void **state)
{
	struct udpd u;
	struct h_conn *c;
	int64_t end;
	int fd, i;

	(void)state;
	udpd_start(&u, "datagram: { lease: 1s }");
	c = tcp_client(&u);
	fd = udp_socket(u.udp);
	udp_sync(fd, "SUB t 1\r\n");
	/* refreshed by PING (and by SUB again) for twice the lease */
	end = h_now_ms() + 2200;
	for (i = 0; h_now_ms() < end; i++) {
		usleep(250 * 1000);
		udp_sync(fd, i % 2 ? "SUB t 1\r\n" : "");
	}
	h_sendf(c, "PUB t 5\r\nalive\r\n");
	udp_expect(fd, "MSG t 1 5\r\nalive\r\n");
	assert_int_equal(varz_dgram(&u, "leases"), 1);
	/* left alone it expires, and nothing more is sent */
	usleep(1600 * 1000);
	assert_int_equal(varz_dgram(&u, "leases"), 0);
	h_sendf(c, "PUB t 4\r\ngone\r\n");
	tcp_sync(c);
	assert_true(udp_quiet(fd, SHORT_MS));
	close(fd);
}

/* ---- sizes ---- */

static void
test_udp_oversize_not_sent_and_counted(void **state)
{
	struct udpd u;
	struct h_conn *c;
	char big[400];
	int fd;

	(void)state;
	udpd_start(&u, "datagram: { max_datagram: 200 }");
	c = tcp_client(&u);
	fd = udp_socket(u.udp);
	udp_sync(fd, "SUB big 1\r\n");
	memset(big, 'x', 300);
	big[300] = '\0';
	h_sendf(c, "PUB big 300\r\n%s\r\n", big);
	/* 200 bytes in all: "MSG big 1 183\r\n" is 15, CRLF 2 */
	memset(big, 'y', 183);
	big[183] = '\0';
	h_sendf(c, "PUB big 183\r\n%s\r\n", big);
	memset(big, 'z', 184);
	big[184] = '\0';
	h_sendf(c, "PUB big 184\r\n%s\r\n", big);
	h_sendf(c, "PUB big 2\r\nok\r\n");
	tcp_sync(c);
	{
		char want[512];

		memset(big, 'y', 183);
		big[183] = '\0';
		snprintf(want, sizeof(want), "MSG big 1 183\r\n%s\r\n", big);
		assert_int_equal(strlen(want), 200);
		udp_expect(fd, want);
	}
	udp_expect(fd, "MSG big 1 2\r\nok\r\n");
	assert_true(udp_quiet(fd, SHORT_MS));
	assert_int_equal(varz_dgram(&u, "dropped_oversize"), 2);
	assert_int_equal(varz_dgram(&u, "delivered"), 2);
	close(fd);
}

/* ---- hostile input ---- */

static void
test_udp_garbage_ignored_and_counted(void **state)
{
	static const char *const junk[] = {
		"garbage\r\n",
		"PUB g 10\r\nshort\r\n",
		"PUB g 3\r\nabcd\r\n",
		"PUB g.* 1\r\nx\r\n",			/* wildcard */
		"PUB g 1\r\nx\r\nSUB\r\n",		/* good, then bad */
		"PUB g 1\r\nx\r\nPUB g 5\r\nab",	/* a cut frame */
		"PING",					/* no line end */
		"SUB g.. 1\r\n",			/* bad subject */
		"PUB g 1\r\nx\r\nCONNECT {}\r\n",	/* CONNECT not first */
		"CONNECT {nope\r\nPUB g 1\r\nx\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"RMSG $G g 1\r\nx\r\n",
		"",
	};
	struct udpd u;
	struct h_conn *c;
	size_t i;
	int fd;

	(void)state;
	udpd_start(&u, "");
	c = tcp_client(&u);
	h_sendf(c, "SUB g 1\r\n");
	tcp_sync(c);
	fd = udp_socket(u.udp);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		udp_send(fd, junk[i], i == 10 ? 11 : strlen(junk[i]));
	/* taken in order: the first delivery is the good one */
	udp_put(fd, "PUB g 4\r\ngood\r\n");
	expect_msg(c, "MSG g 1 4", "good");
	assert_true(h_quiet(c, SHORT_MS));
	/* errors are not answered */
	assert_true(udp_quiet(fd, 50));
	assert_int_equal(varz_dgram(&u, "dropped_garbage"),
	    (long long)(sizeof(junk) / sizeof(junk[0])));
	assert_int_equal(varz_dgram(&u, "published"), 1);
	close(fd);
}

static void
test_udp_no_amplification(void **state)
{
	static const char *const tiny[] = {
		"PING\n", "ping\n", "PING\r\n", "P\r\n", "SUB\r\n",
		"UNSUB 1\r\n", "PONG\r\n", "CONNECT {}\r\n", "x",
		"PING\r\nPING\r\nPING\r\n", "HPUB\r\n", "PUB a 0\r\n\r\n",
	};
	struct udpd u;
	char buf[512];
	ssize_t n;
	size_t i;
	int fd;

	(void)state;
	udpd_start(&u, "");
	for (i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
		/* a fresh address each time: no lease */
		fd = udp_socket(u.udp);
		udp_put(fd, tiny[i]);
		while ((n = udp_recv(fd, buf, sizeof(buf), 150)) >= 0)
			if ((size_t)n > strlen(tiny[i]))
				fail_msg("%zd bytes answered %zu (\"%s\")", n,
				    strlen(tiny[i]), tiny[i]);
		close(fd);
	}
	/* a 5-byte PING gets no 6-byte PONG; a 6-byte one does */
	fd = udp_socket(u.udp);
	udp_put(fd, "PING\n");
	assert_true(udp_quiet(fd, SHORT_MS));
	udp_put(fd, "PING\r\n");
	udp_expect(fd, "PONG\r\n");
	/* three PINGs in one datagram: one PONG */
	udp_put(fd, "PING\r\nPING\r\nPING\r\n");
	udp_expect(fd, "PONG\r\n");
	assert_true(udp_quiet(fd, 100));
	close(fd);
}

static void
test_udp_flood_leaves_daemon_responsive(void **state)
{
	static const char pub[] = "PUB flood 1\r\nx\r\n";
	struct udpd u;
	struct h_conn *c, *sub;
	long rss0, rss1;
	int64_t start, worst = 0, t;
	int fd, i, j, sent = 0;

	(void)state;
	udpd_start(&u, "datagram: { rate: 1000000, burst: 1000000 }");
	c = tcp_client(&u);
	sub = tcp_client(&u);
	h_sendf(sub, "SUB flood.x 1\r\n");
	tcp_sync(sub);
	rss0 = h_daemon_rss_kb(u.d);
	fd = udp_socket(u.udp);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	start = h_now_ms();
	/* 40 rounds of 1000 datagrams, bounded to 10 s in all; between
	 * rounds a TCP client must get its PONG promptly */
	for (i = 0; i < 40 && h_now_ms() - start < 10000; i++) {
		for (j = 0; j < 1000; j++) {
			if (j % 7 == 0) {
				if (send(fd, "junk\r\n", 6, 0) == 6)
					sent++;
			} else if (send(fd, pub, sizeof(pub) - 1, 0) ==
			    (ssize_t)sizeof(pub) - 1)
				sent++;
		}
		t = h_now_ms();
		tcp_sync(c);
		if (h_now_ms() - t > worst)
			worst = h_now_ms() - t;
	}
	assert_true(sent > 0);
	assert_true(worst < H_IO_MS);
	/* still delivering, and still counting */
	h_sendf(c, "PUB flood.x 2\r\nok\r\n");
	expect_msg(sub, "MSG flood.x 1 2", "ok");
	assert_true(varz_dgram(&u, "received") > 0);
	assert_true(varz_dgram(&u, "dropped_garbage") > 0);
	rss1 = h_daemon_rss_kb(u.d);
	if (rss0 > 0 && rss1 > 0)
		assert_true(rss1 - rss0 < 16 * 1024);
	print_message("flood: %d datagrams sent, worst PING %lld ms, rss "
	    "%ld -> %ld KiB\n", sent, (long long)worst, rss0, rss1);
	close(fd);
}

static void
test_udp_rate_limit_counted(void **state)
{
	struct udpd u;
	struct h_conn *c;
	long long pub, rate;
	int fd, i;

	(void)state;
	udpd_start(&u, "datagram: { rate: 10, burst: 20 }");
	c = tcp_client(&u);
	fd = udp_socket(u.udp);
	for (i = 0; i < 100; i++)
		udp_put(fd, "PUB r 1\r\nx\r\n");
	/* let the receive task catch up */
	for (i = 0; i < 50 && varz_dgram(&u, "received") < 100; i++)
		usleep(20 * 1000);
	pub = varz_dgram(&u, "published");
	rate = varz_dgram(&u, "dropped_rate");
	assert_int_equal(varz_dgram(&u, "received"), 100);
	assert_int_equal(pub + rate, 100);
	assert_true(pub >= 20 && pub <= 30);
	/* the bucket fills again */
	usleep(500 * 1000);
	h_sendf(c, "SUB r 1\r\n");
	tcp_sync(c);
	udp_put(fd, "PUB r 1\r\ny\r\n");
	expect_msg(c, "MSG r 1 1", "y");
	close(fd);
}

static void
test_udp_lease_limits(void **state)
{
	struct udpd u;
	struct h_conn *c;
	int fd[3], i;

	(void)state;
	udpd_start(&u, "datagram: { leases_per_source: 2, "
	    "subs_per_lease: 2 }");
	c = tcp_client(&u);
	for (i = 0; i < 3; i++)
		fd[i] = udp_socket(u.udp);
	udp_sync(fd[0], "SUB l 1\r\nSUB l 2\r\nSUB l 3\r\n");
	udp_sync(fd[1], "SUB l 1\r\n");
	/* a third address of the same IP: refused, and its 6-byte PING
	 * still gets its 6-byte PONG */
	udp_sync(fd[2], "SUB l 1\r\n");
	assert_int_equal(varz_dgram(&u, "leases"), 2);
	assert_int_equal(varz_dgram(&u, "dropped_limit"), 2);
	h_sendf(c, "PUB l 1\r\nm\r\n");
	udp_expect(fd[1], "MSG l 1 1\r\nm\r\n");
	{
		char a[64], b[64];
		ssize_t n1 = udp_recv(fd[0], a, sizeof(a) - 1, H_IO_MS);
		ssize_t n2 = udp_recv(fd[0], b, sizeof(b) - 1, H_IO_MS);

		assert_true(n1 > 0 && n2 > 0);
	}
	assert_true(udp_quiet(fd[0], SHORT_MS));
	assert_true(udp_quiet(fd[2], 50));
	for (i = 0; i < 3; i++)
		close(fd[i]);
}

/* A raw IPv4/UDP datagram from 127.0.0.1:sport (root only). */
static int
raw_send(int port, uint16_t sport, const char *payload)
{
	char pkt[512];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *uh = (struct udphdr *)(pkt + sizeof(*ip));
	size_t len = strlen(payload), total = sizeof(*ip) + sizeof(*uh) + len;
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) == -1)
		return -1;
	memset(pkt, 0, sizeof(pkt));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)total);
	ip->saddr = htonl(INADDR_LOOPBACK);
	ip->daddr = htonl(INADDR_LOOPBACK);
	uh->source = htons(sport);
	uh->dest = htons((uint16_t)port);
	uh->len = htons((uint16_t)(sizeof(*uh) + len));
	uh->check = 0;			/* none: allowed over IPv4 */
	memcpy(pkt + sizeof(*ip) + sizeof(*uh), payload, len);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(fd, pkt, total, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) != (ssize_t)total) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void
test_udp_spoofed_source_dropped(void **state)
{
	struct udpd u;
	struct h_conn *c;
	int i;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	udpd_start(&u, "");
	c = tcp_client(&u);
	h_sendf(c, "SUB s 1\r\n");
	tcp_sync(c);
	if (raw_send(u.udp, 0, "PUB s 5\r\nspoof\r\nSUB s 1\r\n") != 0 ||
	    raw_send(u.udp, 40000, "PUB s 4\r\nreal\r\n") != 0) {
		skip();
		return;
	}
	expect_msg(c, "MSG s 1 4", "real");
	for (i = 0; i < 50 && varz_dgram(&u, "dropped_spoof") < 1; i++)
		usleep(20 * 1000);
	assert_int_equal(varz_dgram(&u, "dropped_spoof"), 1);
	assert_int_equal(varz_dgram(&u, "leases"), 0);
	assert_true(h_quiet(c, SHORT_MS));
}

/* ---- authentication ---- */

static void
test_udp_auth_token_required(void **state)
{
	struct udpd u;
	struct h_conn *c;
	int fd;

	(void)state;
	/* a wrong token empties the source's bucket: a fast refill */
	udpd_start(&u, "auth: { token: s3cret }\n"
	    "datagram: { rate: 100000, burst: 10 }");
	c = tcp_client(&u);
	h_sendf(c, "SUB a 1\r\n");
	tcp_sync(c);
	fd = udp_socket(u.udp);
	udp_put(fd, "PUB a 2\r\nno\r\n");
	udp_put(fd, "CONNECT {\"auth_token\":\"wrong\"}\r\nPUB a 2\r\nno\r\n");
	h_nap(20);	/* the refill: burst/rate is 0.1 ms here */
	udp_put(fd, "CONNECT {\"auth_token\":\"s3cret\"}\r\nPUB a 3\r\nyes\r\n");
	expect_msg(c, "MSG a 1 3", "yes");
	/* no lease, no PONG without the token */
	udp_put(fd, "SUB a 2\r\nPING\r\n");
	assert_true(udp_quiet(fd, SHORT_MS));
	assert_int_equal(varz_dgram(&u, "dropped_auth"), 3);
	assert_int_equal(varz_dgram(&u, "leases"), 0);
	udp_sync(fd, "CONNECT {\"auth_token\":\"s3cret\"}\r\nSUB a 2\r\n");
	h_sendf(c, "PUB a 2\r\nok\r\n");
	udp_expect(fd, "MSG a 2 2\r\nok\r\n");
	close(fd);
}

/* ---- the client ---- */

extern char **environ;

/* Runs $COROBUS with the arguments, its output to /dev/null: the exit
 * status, or -1. */
static int
corobus_run(char *const argv[])
{
	const char *bin = getenv("COROBUS");
	posix_spawn_file_actions_t fa;
	int64_t end = h_now_ms() + 10000;
	pid_t pid;
	int st;

	if (bin == NULL || *bin == '\0')
		return -2;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (h_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10 * 1000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_udp_client_pub(void **state)
{
	struct udpd u;
	struct h_conn *c;
	char url[64];
	char *pub[] = { "corobus", "-L", url, "pub", "u.a", "hello", NULL };
	char *sub[] = { "corobus", "-L", url, "sub", "-W", "200ms", "u.a",
	    NULL };
	int rc;

	(void)state;
	if (getenv("COROBUS") == NULL) {
		skip();
		return;
	}
	udpd_start(&u, "auth: { token: s3cret }");
	c = tcp_client(&u);
	h_sendf(c, "SUB u.a 1\r\n");
	tcp_sync(c);
	snprintf(url, sizeof(url), "udp://s3cret@127.0.0.1:%d", u.udp);
	rc = corobus_run(pub);
	assert_int_equal(rc, 0);
	expect_msg(c, "MSG u.a 1 5", "hello");
	/* sub takes udp:// too (test_client.c checks its output) */
	assert_int_equal(corobus_run(sub), 75);
}

/* ---- configuration ---- */

static void
test_udp_config_checks(void **state)
{
	struct h_daemon *d;
	char *out;

	(void)state;
	d = h_daemon_new();
	/* TCP and UDP may share a port */
	h_daemon_conf(d, "listeners:\n"
	    "  - { protocol: nats, address: \"127.0.0.1:4999\" }\n"
	    "  - { protocol: datagram, address: \"127.0.0.1:4999\" }\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 0);
	free(out);
	h_daemon_conf(d, "listeners:\n"
	    "  - { protocol: datagram, unix: /tmp/x.sock }\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, "datagram listener needs an address"));
	free(out);
	h_daemon_conf(d, "listeners:\n"
	    "  - { protocol: datagram, address: \"127.0.0.1:0\",\n"
	    "      tls: { cert: a.crt, key: a.key } }\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, "datagram listener has no TLS"));
	free(out);
	h_daemon_conf(d, "datagram: { max_datagram: 70000 }\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, "max_datagram"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_udp_pub_reaches_tcp_sub,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_sub_gets_tcp_pub,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_lease_refresh_and_expiry,
		    h_test_teardown),
		cmocka_unit_test_teardown(
		    test_udp_oversize_not_sent_and_counted, h_test_teardown),
		cmocka_unit_test_teardown(test_udp_garbage_ignored_and_counted,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_no_amplification,
		    h_test_teardown),
		cmocka_unit_test_teardown(
		    test_udp_flood_leaves_daemon_responsive, h_test_teardown),
		cmocka_unit_test_teardown(test_udp_rate_limit_counted,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_lease_limits,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_spoofed_source_dropped,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_auth_token_required,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_client_pub,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_udp_config_checks,
		    h_test_teardown),
	};
	int rc;

	rc = cmocka_run_group_tests_name("udp_transport", tests, NULL, NULL);
	if (h_cleanup() != 0 && rc == 0)
		rc = 1;
	return rc;
}
