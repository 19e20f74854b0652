/*
 * test_wire.c: corobusd on the wire, through raw sockets: INFO, verbose
 * and pedantic modes, pipelined and split frames, every protocol error
 * with its -ERR text and whether the connection stays, the limits, HMSG
 * and no responders, slow consumers, stale connections, reload, graceful
 * shutdown, lame duck, Unix sockets and the command line.
 *
 * One daemon with the default limits serves the tests that need nothing
 * special; a test that needs its own configuration or signals starts its
 * own daemon, which h_test_teardown() stops.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define QUIET_JSON	"{\"verbose\":false,\"pedantic\":false," \
			"\"protocol\":1,\"headers\":true}"

static struct h_daemon *shared;

/* ---- helpers ---- */

/* The next frame must be the control line want followed by payload. */
static void
expect_msg(struct h_conn *c, const char *want, const void *payload,
    size_t len)
{
	char *buf;

	h_expect(c, want, H_IO_MS);
	if ((buf = malloc(len + 2)) == NULL)
		fail();
	assert_int_equal(h_bytes(c, buf, len + 2, H_IO_MS), 0);
	assert_memory_equal(buf, payload, len);
	assert_memory_equal(buf + len, "\r\n", 2);
	free(buf);
}

static void
put(struct h_conn *c, const char *s)
{
	h_send(c, s, strlen(s));
}

/* PING must get PONG, proving everything before it was handled. */
static void
ping(struct h_conn *c)
{
	put(c, "PING\r\n");
	h_expect(c, "PONG", H_IO_MS);
}

static void
expect_err_close(struct h_conn *c, const char *err)
{
	h_expect(c, err, H_IO_MS);
	assert_true(h_eof(c, H_IO_MS));
}

/* ---- INFO, handshake, framing ---- */

static void
test_wire_info_fields(void **state)
{
	struct h_conn *c = h_conn_tcp(shared->port), *c2;
	char *info, *info2, *p;

	(void)state;
	info = h_line(c, H_IO_MS);
	assert_non_null(info);
	/* "INFO {...} ", one space before CRLF like nats-server */
	assert_true(strncmp(info, "INFO {", 6) == 0);
	assert_string_equal(info + strlen(info) - 2, "} ");
	p = strstr(info, "\"server_id\":\"N");
	assert_non_null(p);
	p += strlen("\"server_id\":\"");
	assert_int_equal(strchr(p, '"') - p, 56);
	assert_non_null(strstr(info, "\"version\":\"2."));
	assert_int_equal(h_json_int(info, "proto"), 1);
	assert_non_null(strstr(info, "\"headers\":true"));
	assert_int_equal(h_json_int(info, "max_payload"), 1048576);
	assert_true(h_json_int(info, "client_id") > 0);
	assert_non_null(strstr(info, "\"client_ip\":\"127.0.0.1\""));
	assert_int_equal(h_json_int(info, "port"), shared->port);
	assert_null(strstr(info, "\"ldm\""));
	/* each connection has its own id */
	c2 = h_conn_tcp(shared->port);
	info2 = h_line(c2, H_IO_MS);
	assert_non_null(info2);
	assert_true(h_json_int(info2, "client_id") > 0);
	assert_true(h_json_int(info2, "client_id") !=
	    h_json_int(info, "client_id"));
	free(info2);
	free(info);
}

static void
test_wire_verbose_ok(void **state)
{
	struct h_conn *c = h_conn_tcp(shared->port);

	(void)state;
	free(h_line(c, H_IO_MS));
	put(c, "CONNECT {\"verbose\":true,\"pedantic\":false}\r\n");
	h_expect(c, "+OK", H_IO_MS);
	put(c, "SUB vb.x 1\r\n");
	h_expect(c, "+OK", H_IO_MS);
	put(c, "PUB vb.x 2\r\nhi\r\n");
	h_expect(c, "+OK", H_IO_MS);
	expect_msg(c, "MSG vb.x 1 2", "hi", 2);
	put(c, "UNSUB 1\r\n");
	h_expect(c, "+OK", H_IO_MS);
	/* no +OK for PING; an unknown sid still gets +OK */
	put(c, "PING\r\nUNSUB 99\r\n");
	h_expect(c, "PONG", H_IO_MS);
	h_expect(c, "+OK", H_IO_MS);
	put(c, "PUB vb.x 2\r\nhi\r\nPING\r\n");
	h_expect(c, "+OK", H_IO_MS);
	h_expect(c, "PONG", H_IO_MS);
}

static void
test_wire_ping_pong(void **state)
{
	struct h_conn *c = h_client(shared->port);

	(void)state;
	ping(c);
	/* the rest of a PING line is ignored; verbs are case-insensitive */
	put(c, "PING foo\r\npInG\r\nping\n");
	h_expect(c, "PONG", H_IO_MS);
	h_expect(c, "PONG", H_IO_MS);
	h_expect(c, "PONG", H_IO_MS);
	/* a PONG gets no answer */
	put(c, "PONG\r\n");
	assert_true(h_quiet(c, 100));
}

static void
test_wire_pipelining(void **state)
{
	enum { N = 500 };
	struct h_conn *c = h_conn_tcp(shared->port);
	char *all, *p, want[64], pay[16];
	size_t cap = 64 * (N + 4);
	int i;

	(void)state;
	free(h_line(c, H_IO_MS));
	if ((all = malloc(cap)) == NULL)
		fail();
	p = all;
	p += sprintf(p, "CONNECT %s\r\nsub pipe.a  7\r\n", QUIET_JSON);
	for (i = 0; i < N; i++) {
		snprintf(pay, sizeof(pay), "%d", i);
		p += sprintf(p, "PUB pipe.a %zu\r\n%s\r\n", strlen(pay), pay);
	}
	p += sprintf(p, "PING\r\n");
	h_send(c, all, (size_t)(p - all));	/* one write */
	free(all);
	for (i = 0; i < N; i++) {
		snprintf(pay, sizeof(pay), "%d", i);
		snprintf(want, sizeof(want), "MSG pipe.a 7 %zu", strlen(pay));
		expect_msg(c, want, pay, strlen(pay));
	}
	h_expect(c, "PONG", H_IO_MS);
}

static void
test_wire_split_bytes(void **state)
{
	static const char hdr[] = "NATS/1.0\r\nK: v\r\n\r\n";
	struct h_conn *c = h_conn_tcp(shared->port);
	char frames[512], want[64];
	size_t i, len;

	(void)state;
	free(h_line(c, H_IO_MS));
	len = (size_t)snprintf(frames, sizeof(frames),
	    "CONNECT %s\r\nSUB split.* 3\r\nPUB split.a r.1 5\r\nhe\r\no\r\n"
	    "HPUB split.b %zu %zu\r\n%sxy\r\nPUB split.c 0\r\n\r\nPING\r\n",
	    QUIET_JSON, sizeof(hdr) - 1, sizeof(hdr) + 1, hdr);
	for (i = 0; i < len; i++) {
		h_send(c, frames + i, 1);
		if (i % 8 == 0)
			h_nap(1);	/* let the daemon read each piece */
	}
	expect_msg(c, "MSG split.a 3 r.1 5", "he\r\no", 5);
	snprintf(want, sizeof(want), "HMSG split.b 3 %zu %zu", sizeof(hdr) - 1,
	    sizeof(hdr) + 1);
	h_expect(c, want, H_IO_MS);
	{
		char buf[sizeof(hdr) + 3];

		assert_int_equal(h_bytes(c, buf, sizeof(hdr) + 3, H_IO_MS), 0);
		assert_memory_equal(buf, hdr, sizeof(hdr) - 1);
		assert_memory_equal(buf + sizeof(hdr) - 1, "xy\r\n", 4);
	}
	expect_msg(c, "MSG split.c 3 0", "", 0);
	h_expect(c, "PONG", H_IO_MS);
}

static void
test_wire_before_connect(void **state)
{
	struct h_conn *c = h_conn_tcp(shared->port);

	(void)state;
	free(h_line(c, H_IO_MS));
	/* no CONNECT: as if it were {}: verbose and pedantic on */
	put(c, "SUB early 1\r\nPUB early 2\r\nok\r\nPING\r\n");
	h_expect(c, "+OK", H_IO_MS);
	h_expect(c, "+OK", H_IO_MS);
	expect_msg(c, "MSG early 1 2", "ok", 2);
	h_expect(c, "PONG", H_IO_MS);
	put(c, "PUB early.* 0\r\n\r\n");
	h_expect(c, "-ERR 'Invalid Publish Subject'", H_IO_MS);
	h_expect(c, "+OK", H_IO_MS);
	ping(c);
}

/* what real clients send: any case, runs of spaces and tabs, trailing
 * blanks, bare LF */
static void
test_wire_whitespace(void **state)
{
	struct h_conn *c = h_client(shared->port);

	(void)state;
	put(c, "sub\tws.a  \t 1 \r\nSuB ws.b  q1   2\r\n"
	    "pUb  ws.a\t r.x  3 \r\nabc\r\npub ws.b 1\nz\r\n");
	expect_msg(c, "MSG ws.a 1 r.x 3", "abc", 3);
	expect_msg(c, "MSG ws.b 2 1", "z", 1);
	put(c, "unsub 1 \r\nUNSUB\t2\r\nPUB ws.a 0\r\n\r\n");
	ping(c);
	assert_true(h_quiet(c, 50));
}

/* ---- errors that close the connection ---- */

static void
test_wire_unknown_op(void **state)
{
	struct h_conn *c = h_client(shared->port), *other;

	(void)state;
	other = h_client(shared->port);
	put(c, "FOO bar\r\n");
	expect_err_close(c, "-ERR 'Unknown Protocol Operation'");
	/* route verbs are unknown on a client connection */
	c = h_client(shared->port);
	put(c, "RS+ $G foo\r\n");
	expect_err_close(c, "-ERR 'Unknown Protocol Operation'");
	/* never affects another connection */
	ping(other);
}

static void
test_wire_payload_mismatch(void **state)
{
	struct h_conn *c = h_client(shared->port);

	(void)state;
	put(c, "PUB foo 3\r\nabcd\r\n");
	expect_err_close(c, "-ERR 'Unknown Protocol Operation'");
	c = h_client(shared->port);
	put(c, "PUB foo 5\r\nab\r\n");	/* short: waits for more */
	assert_true(h_quiet(c, 100));
	put(c, "xyz\r\n");		/* "ab\r\nx" then "yz" */
	expect_err_close(c, "-ERR 'Unknown Protocol Operation'");
}

static void
test_wire_max_payload(void **state)
{
	struct h_conn *c = h_client(shared->port);

	(void)state;
	/* refused on the control line, before any payload byte */
	put(c, "PUB foo 1048577\r\n");
	expect_err_close(c, "-ERR 'Maximum Payload Violation'");
	c = h_client(shared->port);
	put(c, "HPUB foo 12 1048577\r\n");
	expect_err_close(c, "-ERR 'Maximum Payload Violation'");
}

static void
test_wire_control_line(void **state)
{
	struct h_conn *c = h_client(shared->port);
	char *line;

	(void)state;
	if ((line = malloc(5000)) == NULL)
		fail();
	memcpy(line, "SUB ", 4);
	memset(line + 4, 'a', 5000 - 4);
	/* a complete line */
	h_send(c, line, 5000 - 2);
	put(c, " 1\r\n");
	expect_err_close(c, "-ERR 'maximum control line exceeded'");
	/* a partial line, no LF: refused all the same */
	c = h_client(shared->port);
	h_send(c, line, 5000);
	expect_err_close(c, "-ERR 'maximum control line exceeded'");
	free(line);
}

static void
test_wire_connect_errors(void **state)
{
	struct h_conn *c = h_conn_tcp(shared->port);

	(void)state;
	free(h_line(c, H_IO_MS));
	put(c, "CONNECT {\"protocol\":2}\r\n");
	expect_err_close(c, "-ERR 'invalid client protocol'");
	c = h_conn_tcp(shared->port);
	free(h_line(c, H_IO_MS));
	put(c, "CONNECT {\"no_responders\":true}\r\n");
	expect_err_close(c, "-ERR 'no responders requires headers support'");
	/* JSON that does not parse: closed, with or without -ERR */
	c = h_conn_tcp(shared->port);
	free(h_line(c, H_IO_MS));
	put(c, "CONNECT {\"verbose\":\r\n");
	assert_true(h_eof(c, H_IO_MS));
	/* CONNECT needs no space after the verb */
	c = h_conn_tcp(shared->port);
	free(h_line(c, H_IO_MS));
	put(c, "CONNECT{\"verbose\":true}\r\n");
	h_expect(c, "+OK", H_IO_MS);
	ping(c);
}

/* wrong argument counts and bad numbers close the connection, and
 * nothing leaks to other connections */
static void
test_wire_bad_args(void **state)
{
	static const char *bad[] = { "PUB foo\r\n", "PUB foo -1\r\n",
	    "PUB foo 1x\r\n", "PUB foo 1234567890\r\n", "SUB foo\r\n",
	    "UNSUB\r\n", "HPUB foo 5 2\r\n", "PUB\r\n", "SUBfoo 1\r\n",
	    "\x01\x02\r\n", "MSG foo 1 1\r\nx\r\n" };
	struct h_conn *other = h_client(shared->port), *c;
	size_t i;

	(void)state;
	put(other, "SUB > 1\r\n");
	ping(other);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = h_client(shared->port);
		put(c, bad[i]);
		if (!h_eof(c, H_IO_MS))
			fail_msg("still open after %s", bad[i]);
		h_conn_close(c);
	}
	/* nothing was published, and the other connection is fine */
	ping(other);
	assert_true(h_quiet(other, 50));
}

/* ---- errors that keep the connection ---- */

static void
test_wire_invalid_sub(void **state)
{
	static const char *bad[] = { "foo..bar", "foo.", ".foo", "foo.>.bar",
	    ">.x" };
	struct h_conn *c = h_client(shared->port);
	char line[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "SUB %s %zu\r\n", bad[i], i + 1);
		h_send(c, line, strlen(line));
		h_expect(c, "-ERR 'Invalid Subject'", H_IO_MS);
	}
	/* still open and usable */
	put(c, "SUB inv.ok 9\r\nPUB inv.ok 1\r\nx\r\n");
	expect_msg(c, "MSG inv.ok 9 1", "x", 1);
	ping(c);
}

static void
test_wire_pedantic(void **state)
{
	struct h_conn *sub = h_client(shared->port);
	struct h_conn *pub = h_conn_tcp(shared->port);

	(void)state;
	free(h_handshake(pub, "{\"verbose\":false,\"pedantic\":true}"));
	put(sub, "SUB ped.> 1\r\nSUB ped.x 2\r\n");
	ping(sub);
	put(pub, "PUB ped.* 2\r\nhi\r\n");
	h_expect(pub, "-ERR 'Invalid Publish Subject'", H_IO_MS);
	ping(pub);
	/* still routed, matched literally: ped.> gets it, ped.x does not */
	expect_msg(sub, "MSG ped.* 1 2", "hi", 2);
	ping(sub);
	/* a valid subject gets no error */
	put(pub, "PUB ped.x 0\r\n\r\n");
	ping(pub);
}

static void
test_wire_max_subscriptions(void **state)
{
	struct h_daemon *d = h_daemon_run("limits: {max_subscriptions: 3}");
	struct h_conn *c = h_client(d->port), *c2;

	(void)state;
	put(c, "SUB ms.1 1\r\nSUB ms.2 2\r\nSUB ms.3 3\r\n");
	ping(c);
	put(c, "SUB ms.4 4\r\n");
	h_expect(c, "-ERR 'maximum subscriptions exceeded'", H_IO_MS);
	/* open; sid 4 was not made; a free slot can be used again */
	put(c, "PUB ms.4 0\r\n\r\nUNSUB 1\r\nSUB ms.4 4\r\nPUB ms.4 0\r\n\r\n");
	expect_msg(c, "MSG ms.4 4 0", "", 0);
	ping(c);
	/* the limit is per connection */
	c2 = h_client(d->port);
	put(c2, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n");
	ping(c2);
}

static void
test_wire_max_connections(void **state)
{
	struct h_daemon *d = h_daemon_run("limits: {max_connections: 2}");
	struct h_conn *a = h_client(d->port), *b = h_client(d->port), *c;
	char *info;
	int tries;

	(void)state;
	c = h_conn_tcp(d->port);
	/* INFO first, then the refusal */
	info = h_line(c, H_IO_MS);
	assert_non_null(info);
	assert_true(strncmp(info, "INFO {", 6) == 0);
	free(info);
	expect_err_close(c, "-ERR 'maximum connections exceeded'");
	ping(a);
	ping(b);
	/* a slot freed is a slot usable */
	h_conn_close(b);
	for (tries = 0; tries < 50; tries++) {
		c = h_conn_tcp(d->port);
		info = h_line(c, H_IO_MS);
		free(info);
		if ((info = h_line(c, 100)) == NULL) {
			ping(c);
			break;
		}
		free(info);
		h_conn_close(c);
		h_nap(20);
	}
	assert_true(tries < 50);
}

static void
test_wire_unsub_max(void **state)
{
	struct h_conn *c = h_client(shared->port);

	(void)state;
	put(c, "SUB um.a 1\r\nUNSUB 1 2\r\n");
	put(c, "PUB um.a 1\r\n1\r\nPUB um.a 1\r\n2\r\nPUB um.a 1\r\n3\r\n");
	expect_msg(c, "MSG um.a 1 1", "1", 1);
	expect_msg(c, "MSG um.a 1 1", "2", 1);
	ping(c);	/* no third */
	/* counted from SUB: at or below what was delivered, gone at once */
	put(c, "SUB um.b 2\r\nPUB um.b 1\r\nx\r\nPUB um.b 1\r\ny\r\n");
	expect_msg(c, "MSG um.b 2 1", "x", 1);
	expect_msg(c, "MSG um.b 2 1", "y", 1);
	put(c, "UNSUB 2 1\r\nPUB um.b 1\r\nz\r\n");
	ping(c);
}

/* Counts the MSG frames (of any sid) on c until PONG. */
static int
count_msgs(struct h_conn *c)
{
	char *line, buf[64];
	int n = 0;

	put(c, "PING\r\n");
	while ((line = h_line(c, H_IO_MS)) != NULL) {
		if (strcmp(line, "PONG") == 0) {
			free(line);
			return n;
		}
		if (strncmp(line, "MSG ", 4) != 0)
			fail_msg("unexpected: %s", line);
		/* payloads here are 1 byte */
		assert_int_equal(h_bytes(c, buf, 3, H_IO_MS), 0);
		free(line);
		n++;
	}
	fail_msg("no PONG");
	return -1;
}

static void
test_wire_queue_semantics(void **state)
{
	enum { N = 100 };
	struct h_conn *a = h_conn_tcp(shared->port);
	struct h_conn *b = h_client(shared->port), *c = h_client(shared->port);
	struct h_conn *pub = h_client(shared->port);
	int i, nb, nc;

	(void)state;
	/* echo off: a pick of the publisher itself goes to another member */
	free(h_handshake(a, "{\"verbose\":false,\"pedantic\":false,"
	    "\"echo\":false}"));
	put(a, "SUB qs.e g 1\r\n");
	put(b, "SUB qs.e g 1\r\n");
	ping(a);
	ping(b);
	for (i = 0; i < N; i++)
		put(a, "PUB qs.e 1\r\nx\r\n");
	ping(a);
	assert_int_equal(count_msgs(a), 0);
	assert_int_equal(count_msgs(b), N);
	/* one group across overlapping subjects: one copy per message */
	put(b, "SUB qs.m.* h 2\r\n");
	put(c, "SUB qs.m.> h 2\r\nSUB qs.m.> 3\r\n");
	ping(b);
	ping(c);
	for (i = 0; i < N; i++)
		put(pub, "PUB qs.m.x 1\r\ny\r\n");
	ping(pub);
	nb = count_msgs(b);
	nc = count_msgs(c);
	/* c's plain sid 3 gets all N, the group h N in all */
	assert_int_equal(nb + nc, 2 * N);
	assert_true(nb > 0 && nc > N);
}

/* ---- headers and no responders ---- */

static void
test_wire_hmsg_and_strip(void **state)
{
	static const char hdr[] = "NATS/1.0\r\nA: b\r\n\r\n";
	struct h_conn *h = h_client(shared->port);
	struct h_conn *plain = h_conn_tcp(shared->port);
	struct h_conn *pub = h_client(shared->port);
	char buf[64], want[64];
	size_t hl = sizeof(hdr) - 1;

	(void)state;
	free(h_handshake(plain, "{\"verbose\":false,\"pedantic\":false,"
	    "\"headers\":false}"));
	put(h, "SUB hd.x 1\r\n");
	put(plain, "SUB hd.x 5\r\n");
	ping(h);
	ping(plain);
	h_sendf(pub, "HPUB hd.x rep %zu %zu\r\n%shi\r\n", hl, hl + 2, hdr);
	snprintf(want, sizeof(want), "HMSG hd.x 1 rep %zu %zu", hl, hl + 2);
	h_expect(h, want, H_IO_MS);
	assert_int_equal(h_bytes(h, buf, hl + 4, H_IO_MS), 0);
	assert_memory_equal(buf, hdr, hl);
	assert_memory_equal(buf + hl, "hi\r\n", 4);
	/* the header block is dropped for a client without headers */
	expect_msg(plain, "MSG hd.x 5 rep 2", "hi", 2);
	/* HPUB from a client that did not ask for headers: closed */
	h_sendf(plain, "HPUB hd.x %zu %zu\r\n%s\r\n", hl, hl, hdr);
	assert_true(h_eof(plain, H_IO_MS));
	ping(pub);
}

static void
test_wire_no_responders(void **state)
{
	struct h_conn *c = h_conn_tcp(shared->port), *old;
	char buf[18];

	(void)state;
	free(h_handshake(c, "{\"verbose\":false,\"pedantic\":false,"
	    "\"headers\":true,\"no_responders\":true}"));
	put(c, "SUB _INBOX.nr.* 9\r\nPUB nr.nobody _INBOX.nr.1 0\r\n\r\n");
	h_expect(c, "HMSG _INBOX.nr.1 9 16 16", H_IO_MS);
	assert_int_equal(h_bytes(c, buf, 18, H_IO_MS), 0);
	assert_memory_equal(buf, "NATS/1.0 503\r\n\r\n\r\n", 18);
	/* HPUB with a reply too */
	put(c, "HPUB nr.nobody _INBOX.nr.2 12 12\r\nNATS/1.0\r\n\r\n\r\n");
	h_expect(c, "HMSG _INBOX.nr.2 9 16 16", H_IO_MS);
	assert_int_equal(h_bytes(c, buf, 18, H_IO_MS), 0);
	/* without no_responders: nothing */
	old = h_conn_tcp(shared->port);
	free(h_handshake(old, QUIET_JSON));
	put(old, "SUB _INBOX.o.* 1\r\nPUB nr.nobody _INBOX.o.1 0\r\n\r\n");
	ping(old);
	assert_true(h_quiet(old, 100));
}

/* ---- slow consumers ---- */

/* A subscriber that never reads is cut off for the reason given; the
 * publisher (pausing pace_ms between batches of 64 KiB) and a reading
 * subscriber go on and get everything, and the daemon's resident memory
 * never grows by max_rss_kb. */
static void
slow_consumer(const char *limits, const char *reason, int pace_ms,
    long max_rss_kb)
{
	enum { SIZE = 1024, BATCH = 64, MIN_BATCHES = 32, MAX_BATCHES = 1024,
	    AFTER = 16 };
	struct h_daemon *d;
	struct h_conn *slow, *good, *pub;
	char *batch, *p, want[64], got[SIZE + 2], *asan, *env;
	long rss0, rss, rss1 = 0, seq = 0;
	int i, j, cut = -1;

	/* an AddressSanitizer build keeps freed memory in quarantine (256
	 * MiB by default), which would count as the daemon's: keep it small
	 * for this daemon (ignored by other builds) */
	asan = getenv("ASAN_OPTIONS");
	asan = asan != NULL ? strdup(asan) : NULL;
	if (asprintf(&env, "%s%squarantine_size_mb=1", asan ? asan : "",
	    asan && *asan ? ":" : "") < 0)
		fail();
	setenv("ASAN_OPTIONS", env, 1);
	free(env);
	d = h_daemon_run(limits);
	if (asan != NULL)
		setenv("ASAN_OPTIONS", asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(asan);

	/* the slow one: a small receive window, and it never reads */
	slow = h_conn_tcp_rcvbuf(d->port, 4096);
	free(h_handshake(slow, NULL));
	put(slow, "SUB sc.data 1\r\n");
	ping(slow);
	good = h_client(d->port);
	put(good, "SUB sc.data 2\r\n");
	ping(good);
	pub = h_client(d->port);
	rss0 = h_daemon_rss_kb(d);

	if ((batch = malloc(BATCH * (SIZE + 64))) == NULL)
		fail();
	snprintf(want, sizeof(want), "MSG sc.data 2 %d", SIZE);
	for (i = 0; i < MAX_BATCHES; i++) {
		p = batch;
		for (j = 0; j < BATCH; j++) {
			p += sprintf(p, "PUB sc.data %d\r\n%08ld", SIZE,
			    seq + j);
			memset(p, 'p', SIZE - 8);
			p += SIZE - 8;
			memcpy(p, "\r\n", 2);
			p += 2;
		}
		if (pace_ms > 0)
			h_nap(pace_ms);
		h_send(pub, batch, (size_t)(p - batch));
		if ((rss = h_daemon_rss_kb(d)) > rss1)
			rss1 = rss;
		/* the good subscriber reads everything, in order */
		for (j = 0; j < BATCH; j++, seq++) {
			char num[16];

			h_expect(good, want, H_IO_MS);
			assert_int_equal(h_bytes(good, got, SIZE + 2,
			    H_IO_MS), 0);
			snprintf(num, sizeof(num), "%08ld", seq);
			assert_memory_equal(got, num, 8);
			assert_memory_equal(got + SIZE, "\r\n", 2);
		}
		if (cut < 0 && h_daemon_log_wait(d, "slow consumer", 0))
			cut = i;
		if (cut >= 0 && i >= MIN_BATCHES && i >= cut + AFTER)
			break;
	}
	free(batch);
	print_message("%s: cut after batch %d of %d (%ld KiB sent); daemon "
	    "RSS %ld kB, at most %ld kB\n", reason, cut, i + 1, seq, rss0,
	    rss1);
	assert_true(cut >= 0);
	assert_true(h_daemon_log_wait(d, reason, 0));
	/* the publisher and the good subscriber are fine */
	ping(pub);
	ping(good);
	/* the slow one was closed, after what was already in flight */
	assert_true(h_eof(slow, 3000));
	assert_true(rss0 > 0 && rss1 > 0);
	assert_true(rss1 - rss0 < max_rss_kb);
}

static void
test_wire_slow_consumer_pending(void **state)
{
	(void)state;
	/* 64 KiB at most queued for the slow one */
	slow_consumer("limits: {max_pending: 64KiB, max_payload: 8KiB, "
	    "write_deadline: 10s}", "slow consumer (pending bytes)", 0,
	    16 * 1024);
}

static void
test_wire_slow_consumer_deadline(void **state)
{
	(void)state;
	/* room to queue, little time to write it: a publisher at about
	 * 20 MB/s fills the socket buffers, then the deadline expires long
	 * before max_pending is reached */
	slow_consumer("limits: {max_pending: 64MiB, write_deadline: 200ms}",
	    "slow consumer (write deadline)", 3, 16 * 1024);
}

/* ---- keepalive ---- */

/* ping_interval 1s, ping_max 2: a client that never answers gets PING,
 * PING, then -ERR 'Stale Connection' and is closed, about 3 s in; one
 * that answers lives on; one still in its handshake gets no PING for
 * 2 s (clients read the handshake's PONG synchronously). */
static void
test_wire_stale_connection(void **state)
{
	struct h_daemon *d = h_daemon_run(
	    "limits: {ping_interval: 1s, ping_max: 2}");
	struct h_conn *fresh = h_conn_tcp(d->port);
	int64_t t0 = h_now_ms(), deadline = t0 + 6000, first_ping = -1;
	struct h_conn *mute = h_client(d->port), *live = h_client(d->port);
	int pings = 0, live_pings = 0;
	bool closed = false, err = false;
	char *line;

	(void)state;
	free(h_line(fresh, H_IO_MS));	/* INFO, and no CONNECT yet */
	while ((!closed || first_ping < 0) && h_now_ms() < deadline) {
		if (!closed && (line = h_line(mute, 20)) != NULL) {
			if (strcmp(line, "PING") == 0) {
				assert_false(err);
				pings++;
			} else if (strcmp(line,
			    "-ERR 'Stale Connection'") == 0) {
				assert_int_equal(pings, 2);
				err = true;
				print_message("stale after %lld ms\n",
				    (long long)(h_now_ms() - t0));
				assert_true(h_now_ms() - t0 >= 2500);
				assert_true(h_now_ms() - t0 <= 5000);
			} else
				fail_msg("unexpected: %s", line);
			free(line);
		} else if (mute->eof)
			closed = true;
		/* the other one answers, and lives */
		while ((line = h_line(live, 0)) != NULL) {
			assert_string_equal(line, "PING");
			live_pings++;
			put(live, "PONG\r\n");
			free(line);
		}
		if (first_ping < 0 && (line = h_line(fresh, 0)) != NULL) {
			assert_string_equal(line, "PING");
			first_ping = h_now_ms() - t0;
			free(line);
		}
		if (closed && first_ping < 0)
			h_nap(20);
	}
	assert_true(closed);
	assert_true(err);
	assert_true(live_pings >= 2);
	/* still served: a PING gets its PONG (the daemon's own keepalive
	 * PINGs may come first, every second here) */
	put(live, "PING\r\n");
	while ((line = h_line(live, H_IO_MS)) != NULL &&
	    strcmp(line, "PING") == 0) {
		put(live, "PONG\r\n");
		free(line);
	}
	assert_non_null(line);
	assert_string_equal(line, "PONG");
	free(line);
	assert_true(h_daemon_log_wait(d, "stale connection", 1000));
	print_message("first PING before CONNECT after %lld ms\n",
	    (long long)first_ping);
	assert_true(first_ping >= 1900);
}

/* ---- signals ---- */

static void
test_wire_reload(void **state)
{
	struct h_daemon *d = h_daemon_run("limits: {max_payload: 1MiB}");
	struct h_conn *old = h_client(d->port), *old2 = h_client(d->port), *c;
	char *info;

	(void)state;
	put(old, "SUB rl 1\r\n");
	ping(old);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "limits: {max_payload: 2KiB}\n");
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "reload: applied", 2000));
	c = h_conn_tcp(d->port);
	info = h_handshake(c, NULL);
	assert_int_equal(h_json_int(info, "max_payload"), 2048);
	free(info);
	/* the existing connection stays, with its subscription */
	put(c, "PUB rl 3\r\nabc\r\n");
	expect_msg(old, "MSG rl 1 3", "abc", 3);
	ping(old);
	/* and the new limit applies to it too */
	h_sendf(old2, "PUB rl 4096\r\n");
	expect_err_close(old2, "-ERR 'Maximum Payload Violation'");

	/* an invalid file: the running configuration stays */
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "limits: {max_payload: banana}\n");
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "reload failed", 2000));
	assert_true(h_daemon_log_wait(d, "keeping the running", 10));
	c = h_conn_tcp(d->port);
	info = h_handshake(c, NULL);
	assert_int_equal(h_json_int(info, "max_payload"), 2048);
	free(info);
	ping(old);
}

static void
test_wire_graceful_shutdown(void **state)
{
	enum { N = 2000 };
	struct h_daemon *d = h_daemon_run("");
	struct h_conn *sub, *pub = h_client(d->port);
	char *all, *p;
	int i, status;

	(void)state;
	/* a small window: most of it is still queued in the daemon */
	sub = h_conn_tcp_rcvbuf(d->port, 4096);
	free(h_handshake(sub, NULL));
	put(sub, "SUB gs 1\r\n");
	ping(sub);
	if ((all = malloc(N * 64)) == NULL)
		fail();
	p = all;
	for (i = 0; i < N; i++)
		p += sprintf(p, "PUB gs 40\r\n%040d\r\n", i);
	h_send(pub, all, (size_t)(p - all));
	free(all);
	ping(pub);	/* all accepted: queued for the subscriber */
	h_daemon_signal(d, SIGTERM);
	/* everything accepted reaches the subscriber before the close */
	for (i = 0; i < N; i++) {
		char got[42], exp[41];

		h_expect(sub, "MSG gs 1 40", H_IO_MS);
		assert_int_equal(h_bytes(sub, got, 42, H_IO_MS), 0);
		snprintf(exp, sizeof(exp), "%040d", i);
		assert_memory_equal(got, exp, 40);
	}
	assert_true(h_eof(sub, H_IO_MS));
	assert_true(h_eof(pub, H_IO_MS));
	status = h_daemon_wait(d, H_STOP_MS);
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_wire_lame_duck(void **state)
{
	struct h_daemon *d = h_daemon_run(
	    "lame_duck_duration: 30s\nlame_duck_grace_period: 1s");
	struct h_conn *p1 = h_client(d->port), *p0 = h_conn_tcp(d->port);
	int64_t t0, deadline;
	char *info;
	int status, err = 0;

	(void)state;
	free(h_handshake(p0, "{\"verbose\":false,\"pedantic\":false,"
	    "\"protocol\":0}"));
	h_daemon_signal(d, SIGUSR2);
	t0 = h_now_ms();
	/* protocol 1 clients hear of it */
	info = h_line(p1, H_IO_MS);
	assert_non_null(info);
	assert_true(strncmp(info, "INFO {", 6) == 0);
	assert_non_null(strstr(info, "\"ldm\":true"));
	free(info);
	/* the listener is closed */
	for (deadline = h_now_ms() + 1000; h_now_ms() < deadline; h_nap(10))
		if ((err = h_try_connect(d->port)) == -ECONNREFUSED)
			break;
	assert_int_equal(err, -ECONNREFUSED);
	/* SIGTERM is ignored in lame duck; clients stay for the grace */
	h_daemon_signal(d, SIGTERM);
	ping(p1);
	ping(p0);
	/* protocol 0 got no INFO */
	assert_true(h_quiet(p0, 50));
	/* then the clients are closed, one a second at most, and it ends */
	assert_true(h_eof(p1, 5000));
	assert_true(h_eof(p0, 5000));
	assert_true(h_now_ms() - t0 >= 900);
	status = h_daemon_wait(d, 5000);
	print_message("lame duck done in %lld ms\n",
	    (long long)(h_now_ms() - t0));
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- listeners and the command line ---- */

static void
test_wire_unix_socket(void **state)
{
	struct h_daemon *d = h_daemon_new();
	struct h_conn *sub, *pub;
	char path[256];
	struct stat st;
	char *info;

	(void)state;
	snprintf(path, sizeof(path), "%s", h_daemon_path(d, "s.sock"));
	h_daemon_conf(d, "listeners: [{unix: %s, mode: \"0600\"}]\n", path);
	h_daemon_start(d, NULL);
	assert_int_equal(d->port, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	sub = h_conn_unix(path);
	info = h_handshake(sub, NULL);
	assert_true(h_json_int(info, "client_id") > 0);
	free(info);
	pub = h_conn_unix(path);
	free(h_handshake(pub, NULL));
	put(sub, "SUB ux.> 1\r\n");
	ping(sub);
	put(pub, "PUB ux.a.b 4\r\nunix\r\n");
	expect_msg(sub, "MSG ux.a.b 1 4", "unix", 4);
	/* the socket file goes with the daemon */
	assert_int_equal(h_daemon_stop(d), 0);
	assert_int_equal(stat(path, &st), -1);
}

static void
test_wire_test_config(void **state)
{
	struct h_daemon *d = h_daemon_new();
	char *out;

	(void)state;
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "limits:\n  max_payload: 2MiB\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 0);
	assert_non_null(strstr(out, "configuration OK"));
	free(out);
	/* a wrong value: file:line:col and the key, exit 78 */
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "limits:\n  max_payload: banana\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, d->conf));
	assert_non_null(strstr(out, ":3:16:"));
	assert_non_null(strstr(out, "limits.max_payload"));
	free(out);
	/* an unknown key */
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "limits:\n  bogus: 1\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, ":3:3:"));
	assert_non_null(strstr(out, "limits.bogus"));
	free(out);
	/* a missing file named by -c is an error too */
	assert_int_equal(h_corobusd_run(&out, "-t", "-c",
	    h_daemon_path(d, "missing.yaml"), NULL), 78);
	free(out);
}

static void
test_wire_port_option(void **state)
{
	struct h_daemon *d = h_daemon_run("");
	char arg[16], want[64];
	int port = d->port;
	struct h_conn *c;

	(void)state;
	/* a port the system gave the first daemon, free again */
	assert_int_equal(h_daemon_stop(d), 0);
	snprintf(arg, sizeof(arg), "%d", port);
	h_daemon_start(d, "-p", arg, NULL);
	assert_int_equal(d->port, port);
	snprintf(want, sizeof(want), "listening on 127.0.0.1:%d (nats)", port);
	assert_true(h_daemon_log_wait(d, want, 10));
	c = h_client(port);
	ping(c);
}

static void
test_wire_version(void **state)
{
	char *out, want[64];

	(void)state;
	assert_int_equal(h_corobusd_run(&out, "-V", NULL), 0);
	snprintf(want, sizeof(want), "corobusd %s\n", PACKAGE_VERSION);
	assert_true(strncmp(out, want, strlen(want)) == 0);
	free(out);
	assert_int_equal(h_corobusd_run(&out, "--no-such-flag", NULL), 64);
	free(out);
}

/* ---- main ---- */

static int
group_setup(void **state)
{
	(void)state;
	shared = h_daemon_shared();
	return 0;
}

#define T(f)	cmocka_unit_test_teardown(f, h_test_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_wire_info_fields),
		T(test_wire_verbose_ok),
		T(test_wire_ping_pong),
		T(test_wire_pipelining),
		T(test_wire_split_bytes),
		T(test_wire_before_connect),
		T(test_wire_whitespace),
		T(test_wire_connect_errors),
		T(test_wire_bad_args),
		T(test_wire_unknown_op),
		T(test_wire_payload_mismatch),
		T(test_wire_max_payload),
		T(test_wire_control_line),
		T(test_wire_invalid_sub),
		T(test_wire_pedantic),
		T(test_wire_max_subscriptions),
		T(test_wire_max_connections),
		T(test_wire_unsub_max),
		T(test_wire_queue_semantics),
		T(test_wire_hmsg_and_strip),
		T(test_wire_no_responders),
		T(test_wire_slow_consumer_pending),
		T(test_wire_slow_consumer_deadline),
		T(test_wire_stale_connection),
		T(test_wire_reload),
		T(test_wire_graceful_shutdown),
		T(test_wire_lame_duck),
		T(test_wire_unix_socket),
		T(test_wire_test_config),
		T(test_wire_port_option),
		T(test_wire_version),
	};

	return cmocka_run_group_tests(tests, group_setup, h_group_teardown);
}
