/*
 * test_proto.c: the NATS wire parser and encoder (daemon/proto.c).
 *
 * Callbacks write each operation as a line of text into a log ("PUB
 * s=foo r= p=hello"), so a test compares one string; the same log of a
 * stream fed whole, cut in two at every offset and fed byte by byte must
 * be identical, final status included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto.h"

struct rec {
	struct buf	 log;
	int		 nops;
	int		 stop_after;	/* stop (PROTO_ESTOP) after this many
					   ops; 0 = never */
};

static void
log_str(struct rec *r, const char *tag, struct proto_str s)
{
	assert_int_equal(buf_append_str(&r->log, tag), 0);
	assert_int_equal(buf_append(&r->log, s.ptr, s.len), 0);
}

static void
log_text(struct rec *r, const char *t)
{
	assert_int_equal(buf_append_str(&r->log, t), 0);
}

static int
rec_end(struct rec *r)
{
	log_text(r, "\n");
	r->nops++;
	if (r->stop_after != 0 && r->nops >= r->stop_after)
		return PROTO_ESTOP;
	return 0;
}

static const char *
op_name(enum proto_op op)
{
	switch (op) {
	case PROTO_OP_PUB: return "PUB";
	case PROTO_OP_HPUB: return "HPUB";
	case PROTO_OP_MSG: return "MSG";
	case PROTO_OP_HMSG: return "HMSG";
	case PROTO_OP_RMSG: return "RMSG";
	case PROTO_OP_RHMSG: return "RHMSG";
	case PROTO_OP_LMSG: return "LMSG";
	case PROTO_OP_SUB: return "SUB";
	case PROTO_OP_UNSUB: return "UNSUB";
	case PROTO_OP_RS_PLUS: return "RS+";
	case PROTO_OP_RS_MINUS: return "RS-";
	case PROTO_OP_LS_PLUS: return "LS+";
	case PROTO_OP_LS_MINUS: return "LS-";
	default: return "?";
	}
}

static int
cb_connect(void *arg, const char *json, size_t len)
{
	struct rec *r = arg;

	log_str(r, "CONNECT ", (struct proto_str){ json, len });
	return rec_end(r);
}

static int
cb_info(void *arg, const char *json, size_t len)
{
	struct rec *r = arg;

	log_str(r, "INFO ", (struct proto_str){ json, len });
	return rec_end(r);
}

static int
cb_msg(void *arg, const struct proto_msg *m)
{
	struct rec *r = arg;
	struct proto_str list = m->queues, tok;
	char n[32];
	bool first = true;

	log_text(r, op_name(m->op));
	if (m->origin.ptr != NULL)
		log_str(r, " o=", m->origin);
	if (m->account.ptr != NULL)
		log_str(r, " a=", m->account);
	log_str(r, " s=", m->subject);
	if (m->op == PROTO_OP_MSG || m->op == PROTO_OP_HMSG)
		log_str(r, " i=", m->sid);
	log_str(r, " r=", m->reply);
	if (m->nqueues > 0) {
		snprintf(n, sizeof(n), " q%u=", m->nqueues);
		log_text(r, n);
		while (proto_next_token(&list, &tok)) {
			log_str(r, first ? "" : ",", tok);
			first = false;
		}
	}
	if (m->op != PROTO_OP_PUB && m->op != PROTO_OP_MSG &&
	    m->op != PROTO_OP_RMSG)
		log_str(r, " h=", m->hdr);
	log_str(r, " p=", m->payload);
	return rec_end(r);
}

static int
cb_sub(void *arg, const struct proto_sub *s)
{
	struct rec *r = arg;
	char n[64];

	log_text(r, op_name(s->op));
	if (s->origin.ptr != NULL)
		log_str(r, " o=", s->origin);
	if (s->account.ptr != NULL)
		log_str(r, " a=", s->account);
	if (s->subject.ptr != NULL)
		log_str(r, " s=", s->subject);
	if (s->queue.ptr != NULL)
		log_str(r, " q=", s->queue);
	if (s->sid.ptr != NULL)
		log_str(r, " i=", s->sid);
	if (s->queue.ptr != NULL && (s->op == PROTO_OP_RS_PLUS ||
	    s->op == PROTO_OP_LS_PLUS)) {
		snprintf(n, sizeof(n), " w=%u", s->weight);
		log_text(r, n);
	}
	if (s->has_max) {
		snprintf(n, sizeof(n), " max=%u%s", s->max_msgs,
		    s->bad_max ? "!" : "");
		log_text(r, n);
	}
	return rec_end(r);
}

static int
cb_ping(void *arg)
{
	log_text(arg, "PING");
	return rec_end(arg);
}

static int
cb_pong(void *arg)
{
	log_text(arg, "PONG");
	return rec_end(arg);
}

static int
cb_ok(void *arg)
{
	log_text(arg, "+OK");
	return rec_end(arg);
}

static int
cb_err(void *arg, const char *text, size_t len)
{
	log_str(arg, "-ERR ", (struct proto_str){ text, len });
	return rec_end(arg);
}

static const struct proto_ops rec_ops = {
	.connect = cb_connect,
	.info = cb_info,
	.pub = cb_msg,
	.msg = cb_msg,
	.sub = cb_sub,
	.unsub = cb_sub,
	.ping = cb_ping,
	.pong = cb_pong,
	.ok = cb_ok,
	.err = cb_err,
};

/*
 * Feeds in[0, len) to a fresh parser in pieces ending at cuts[] (then the
 * rest), through a contiguous buffer as a connection would, and returns
 * the log plus a final "= <status> <consumed> <left>" line.  Returns a
 * malloc'ed string.
 */
static char *
feed_cuts(enum proto_mode mode, size_t mcl, size_t mpay, const char *in,
    size_t len, const size_t *cuts, size_t ncuts, size_t *outlen)
{
	struct proto_parser p;
	struct rec r;
	struct buf rb;
	size_t pos = 0, next, total = 0, ci = 0;
	ssize_t n = 0;
	char tail[96], *out;

	proto_parser_init(&p, mode);
	if (mcl != (size_t)-1)
		p.max_control_line = mcl;
	if (mpay != (size_t)-1)
		p.max_payload = mpay;
	memset(&r, 0, sizeof(r));
	buf_init(&r.log, 1 << 24);
	buf_init(&rb, 1 << 24);
	while (pos < len || (pos == 0 && len == 0)) {
		next = ci < ncuts ? cuts[ci++] : len;
		if (next < pos)
			next = pos;
		assert_int_equal(buf_append(&rb, in + pos, next - pos), 0);
		pos = next;
		n = proto_parse(&p, buf_data(&rb), buf_len(&rb), &rec_ops, &r);
		if (n < 0) {
			total += proto_parser_consumed(&p);
			break;
		}
		assert_true((size_t)n <= buf_len(&rb));
		total += (size_t)n;
		buf_consume(&rb, (size_t)n);
		if (len == 0)
			break;
	}
	snprintf(tail, sizeof(tail), "= %zd %zu %zu\n", n < 0 ? n : 0, total,
	    n < 0 ? 0 : buf_len(&rb));
	log_text(&r, tail);
	assert_int_equal(buf_append(&r.log, "", 1), 0);
	out = malloc(buf_len(&r.log));
	assert_non_null(out);
	memcpy(out, buf_data(&r.log), buf_len(&r.log));
	if (outlen != NULL)
		*outlen = buf_len(&r.log) - 1;
	buf_release(&r.log);
	buf_release(&rb);
	return out;
}

static char *
feed(enum proto_mode mode, const char *in, size_t len)
{
	return feed_cuts(mode, (size_t)-1, (size_t)-1, in, len, NULL, 0,
	    NULL);
}

/* Parses s whole and compares the log with want. */
static void
check_lim(enum proto_mode mode, size_t mcl, size_t mpay, const char *in,
    size_t len, const char *want)
{
	char *got = feed_cuts(mode, mcl, mpay, in, len, NULL, 0, NULL);

	if (strcmp(got, want) != 0)
		fail_msg("input \"%.*s\"\n got: %s\nwant: %s", (int)len, in,
		    got, want);
	free(got);
}

#define CHECK(mode, s, want)						\
	check_lim(mode, (size_t)-1, (size_t)-1, s, sizeof(s) - 1, want)
#define CHECK_LIM(mode, mcl, mpay, s, want)				\
	check_lim(mode, mcl, mpay, s, sizeof(s) - 1, want)

/* Whole, every two-piece cut and byte by byte give the same log. */
static void
check_splits(enum proto_mode mode, size_t mcl, size_t mpay, const char *in,
    size_t len)
{
	char *whole, *got;
	size_t cut, *cuts, wlen, glen;

	whole = feed_cuts(mode, mcl, mpay, in, len, NULL, 0, &wlen);
	for (cut = 0; cut <= len; cut++) {
		got = feed_cuts(mode, mcl, mpay, in, len, &cut, 1, &glen);
		if (glen != wlen || memcmp(got, whole, wlen) != 0)
			fail_msg("cut at %zu:\n got: %s\nwant: %s", cut, got,
			    whole);
		free(got);
	}
	cuts = malloc((len + 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (cut = 0; cut <= len; cut++)
		cuts[cut] = cut;
	got = feed_cuts(mode, mcl, mpay, in, len, cuts, len + 1, &glen);
	if (glen != wlen || memcmp(got, whole, wlen) != 0)
		fail_msg("byte by byte:\n got: %s\nwant: %s", got, whole);
	free(got);
	free(cuts);
	free(whole);
}

static void
test_proto_connect_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_SERVER, "CONNECT {\"verbose\":false}\r\n",
	    "CONNECT {\"verbose\":false}\n= 0 27 0\n");
	CHECK(PROTO_SERVER, "CONNECT{}\r\n", "CONNECT {}\n= 0 11 0\n");
	CHECK(PROTO_SERVER, "connect \t {\"a\": 1}  \t\n",
	    "CONNECT {\"a\": 1}\n= 0 22 0\n");
	CHECK(PROTO_SERVER, "CoNnEcT\r\n", "CONNECT \n= 0 9 0\n");
}

static void
test_proto_pub_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_SERVER, "PUB greet 5\r\nhello\r\n",
	    "PUB s=greet r= p=hello\n= 0 20 0\n");
	CHECK(PROTO_SERVER, "PUB ping _INBOX.x.1 0\r\n\r\n",
	    "PUB s=ping r=_INBOX.x.1 p=\n= 0 25 0\n");
	CHECK(PROTO_SERVER, "pUb foo  bar\t 5 \r\nhello\r\n",
	    "PUB s=foo r=bar p=hello\n= 0 25 0\n");
	CHECK(PROTO_SERVER, "PUB foo 2\nhi\r\n", "PUB s=foo r= p=hi\n= 0 14 0\n");
	CHECK(PROTO_SERVER, "PUB foo 000000002\r\nhi\r\n",
	    "PUB s=foo r= p=hi\n= 0 23 0\n");
}

static void
test_proto_hpub_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_SERVER,
	    "HPUB jobs.new 25 29\r\nNATS/1.0\r\nTrace-Id: 7\r\n\r\nping\r\n",
	    "HPUB s=jobs.new r= h=NATS/1.0\r\nTrace-Id: 7\r\n\r\n p=ping\n"
	    "= 0 52 0\n");
	CHECK(PROTO_SERVER, "hpub a r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
	    "HPUB s=a r=r h=NATS/1.0\r\n\r\n p=\n= 0 30 0\n");
	/* A header size of 0 means no headers. */
	CHECK(PROTO_SERVER, "HPUB a 0 2\r\nhi\r\n",
	    "HPUB s=a r= h= p=hi\n= 0 16 0\n");
}

static void
test_proto_sub_unsub_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_SERVER, "SUB foo 1\r\n", "SUB s=foo i=1\n= 0 11 0\n");
	CHECK(PROTO_SERVER, "SUB foo.* workers 22\r\n",
	    "SUB s=foo.* q=workers i=22\n= 0 22 0\n");
	CHECK(PROTO_SERVER, "UNSUB 1\r\n", "UNSUB i=1\n= 0 9 0\n");
	CHECK(PROTO_SERVER, "unsub 7 10\r\n", "UNSUB i=7 max=10\n= 0 12 0\n");
	CHECK(PROTO_SERVER, "UNSUB 7 0\r\n", "UNSUB i=7 max=0\n= 0 11 0\n");
	/* A bad max_msgs unsubscribes at once. */
	CHECK(PROTO_SERVER, "UNSUB 7 x\r\n", "UNSUB i=7 max=0!\n= 0 11 0\n");
	CHECK(PROTO_SERVER, "UNSUB 7 1234567890\r\n",
	    "UNSUB i=7 max=0!\n= 0 20 0\n");
	CHECK(PROTO_SERVER, "UNSUB 7 -1\r\n", "UNSUB i=7 max=0!\n= 0 12 0\n");
}

static void
test_proto_ping_pong_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_SERVER, "PING\r\nPONG\r\nping\npong\n",
	    "PING\nPONG\nPING\nPONG\n= 0 22 0\n");
	/* Everything up to '\n' is ignored, '\r' included. */
	CHECK(PROTO_SERVER, "PING foo\r\nPINGX\r\nPONG\rjunk\n",
	    "PING\nPING\nPONG\n= 0 27 0\n");
	CHECK(PROTO_CLIENT, "+OK\r\n+ok junk\n", "+OK\n+OK\n= 0 14 0\n");
}

static void
test_proto_nats_c_quirks(void **state)
{
	(void)state;
	/* nats.c prints an empty queue name, and a space after the sid. */
	CHECK(PROTO_SERVER, "SUB foo  1\r\n", "SUB s=foo i=1\n= 0 12 0\n");
	CHECK(PROTO_SERVER, "UNSUB 1 \r\n", "UNSUB i=1\n= 0 10 0\n");
	CHECK(PROTO_SERVER, "CONNECT{}\r\n", "CONNECT {}\n= 0 11 0\n");
	CHECK(PROTO_SERVER, "PING foo\r\n", "PING\n= 0 10 0\n");
	CHECK(PROTO_SERVER, "SUB\tfoo\t\tq \t 1\t\r\n",
	    "SUB s=foo q=q i=1\n= 0 17 0\n");
	CHECK(PROTO_SERVER, "PUB\tfoo\t2\r\nhi\r\n",
	    "PUB s=foo r= p=hi\n= 0 15 0\n");
}

static void
test_proto_client_ops_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_CLIENT, "INFO {\"server_id\":\"X\"} \r\n",
	    "INFO {\"server_id\":\"X\"}\n= 0 25 0\n");
	CHECK(PROTO_CLIENT, "MSG foo.bar 1 reply.1 5\r\nhello\r\n",
	    "MSG s=foo.bar i=1 r=reply.1 p=hello\n= 0 32 0\n");
	CHECK(PROTO_CLIENT, "msg foo 9 2\r\nhi\r\n",
	    "MSG s=foo i=9 r= p=hi\n= 0 17 0\n");
	CHECK(PROTO_CLIENT, "HMSG foo.bar 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
	    "HMSG s=foo.bar i=1 r= h=NATS/1.0\r\n\r\n p=hi\n= 0 38 0\n");
	CHECK(PROTO_CLIENT, "HMSG a 1 r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
	    "HMSG s=a i=1 r=r h=NATS/1.0\r\n\r\n p=\n= 0 32 0\n");
	CHECK(PROTO_CLIENT, "-ERR 'Stale Connection'\r\n",
	    "-ERR Stale Connection\n= 0 25 0\n");
	CHECK(PROTO_CLIENT, "-err  'Permissions Violation for Publish to "
	    "\"x\"' \r\n",
	    "-ERR Permissions Violation for Publish to \"x\"\n= 0 51 0\n");
	CHECK(PROTO_CLIENT, "-ERR unquoted\r\n", "-ERR unquoted\n= 0 15 0\n");
	CHECK(PROTO_CLIENT, "PING\r\nPONG\r\n", "PING\nPONG\n= 0 12 0\n");
}

static void
test_proto_route_ops_parsed(void **state)
{
	(void)state;
	CHECK(PROTO_ROUTE, "RS+ $G foo\r\n", "RS+ a=$G s=foo\n= 0 12 0\n");
	CHECK(PROTO_ROUTE, "RS+ $G work wq 2\r\n",
	    "RS+ a=$G s=work q=wq w=2\n= 0 18 0\n");
	CHECK(PROTO_ROUTE, "RS- $G foo\r\nrs- $G work wq\r\n",
	    "RS- a=$G s=foo\nRS- a=$G s=work q=wq\n= 0 28 0\n");
	CHECK(PROTO_ROUTE, "LS+ c2 $G foo\r\nLS+ c2 $G foo q 3\r\n",
	    "LS+ o=c2 a=$G s=foo\nLS+ o=c2 a=$G s=foo q=q w=3\n= 0 34 0\n");
	CHECK(PROTO_ROUTE, "LS- $G foo q\r\n", "LS- a=$G s=foo q=q\n= 0 14 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G foo.bar 5\r\nhello\r\n",
	    "RMSG a=$G s=foo.bar r= p=hello\n= 0 26 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G foo.bar reply.1 5\r\nhello\r\n",
	    "RMSG a=$G s=foo.bar r=reply.1 p=hello\n= 0 34 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G work | wq 1\r\nx\r\n",
	    "RMSG a=$G s=work r= q1=wq p=x\n= 0 24 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G work + _R.1 q1  q2\tq3 1\r\nx\r\n",
	    "RMSG a=$G s=work r=_R.1 q3=q1,q2,q3 p=x\n= 0 36 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G work + _R.1 1\r\nx\r\n",
	    "RMSG a=$G s=work r=_R.1 p=x\n= 0 26 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G s | a b c d e f g h i j 1\r\nx\r\n",
	    "RMSG a=$G s=s r= q10=a,b,c,d,e,f,g,h,i,j p=x\n= 0 38 0\n");
	CHECK(PROTO_ROUTE, "HMSG $G foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
	    "RHMSG a=$G s=foo.bar r= h=NATS/1.0\r\n\r\n p=hi\n= 0 39 0\n");
	CHECK(PROTO_ROUTE, "HMSG $G f r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
	    "RHMSG a=$G s=f r=r h=NATS/1.0\r\n\r\n p=\n= 0 33 0\n");
	CHECK(PROTO_ROUTE, "HMSG $G f | q1 q2 0 1\r\nx\r\n",
	    "RHMSG a=$G s=f r= q2=q1,q2 h= p=x\n= 0 26 0\n");
	CHECK(PROTO_ROUTE, "HMSG $G f + r q 0 1\r\nx\r\n",
	    "RHMSG a=$G s=f r=r q1=q h= p=x\n= 0 24 0\n");
	CHECK(PROTO_ROUTE, "LMSG c2 $G f 0 1\r\nx\r\n",
	    "LMSG o=c2 a=$G s=f r= h= p=x\n= 0 21 0\n");
	CHECK(PROTO_ROUTE, "LMSG c2 $G f | q 0 1\r\nx\r\n",
	    "LMSG o=c2 a=$G s=f r= q1=q h= p=x\n= 0 25 0\n");
	CHECK(PROTO_ROUTE, "INFO {} \r\nCONNECT {}\r\n+OK\r\n-ERR 'x'\r\n"
	    "PING\r\nPONG\r\n",
	    "INFO {}\nCONNECT {}\n+OK\n-ERR x\nPING\nPONG\n= 0 49 0\n");
}

static const char session[] =
	"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n"
	"PING\r\n"
	"SUB foo  1\r\n"
	"SUB bar.* q 2\r\n"
	"PUB foo 5\r\nhello\r\n"
	"PUB foo reply.x 0\r\n\r\n"
	"pub\tfoo\t4\nab\r\n\r\n"
	"HPUB foo 25 29\r\nNATS/1.0\r\nTrace-Id: 7\r\n\r\nping\r\n"
	"HPUB bar.x r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	"UNSUB 1 \r\n"
	"UNSUB 2 5\r\n"
	"PONG\r\n"
	"PING foo\r\n";

static const char client_session[] =
	"INFO {\"server_id\":\"A\",\"max_payload\":1048576} \r\n"
	"+OK\r\n"
	"PONG\r\n"
	"MSG foo 1 5\r\nhello\r\n"
	"MSG foo 1 _INBOX.a 0\r\n\r\n"
	"HMSG foo 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	"HMSG foo 2 r.1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
	"PING\r\n"
	"-ERR 'Permissions Violation for Subscription to \"x\"'\r\n"
	"MSG a 3 4\r\n\r\n\r\n\r\n";

static const char route_session[] =
	"INFO {\"server_id\":\"B\",\"cluster\":\"c1\"} \r\n"
	"CONNECT {\"echo\":true}\r\n"
	"RS+ $SYS $SYS.REQ.>\r\n"
	"RS+ $G work wq 1\r\n"
	"RS+ $G work wq 2\r\n"
	"LS+ c2 $G foo\r\n"
	"RMSG $G foo.bar reply.1 5\r\nhello\r\n"
	"RMSG $G work | wq 1\r\nx\r\n"
	"RMSG $G work + r wq vq 2\r\nxy\r\n"
	"HMSG $G foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	"LMSG c2 $G foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"
	"RS- $G work wq\r\n"
	"LS- $G foo\r\n"
	"PING\r\nPONG\r\n+OK\r\n"
	"-ERR 'x'\r\n";

static void
test_proto_session_every_cut(void **state)
{
	char *got;

	(void)state;
	check_splits(PROTO_SERVER, (size_t)-1, (size_t)-1, session,
	    sizeof(session) - 1);
	check_splits(PROTO_CLIENT, (size_t)-1, (size_t)-1, client_session,
	    sizeof(client_session) - 1);
	check_splits(PROTO_ROUTE, (size_t)-1, (size_t)-1, route_session,
	    sizeof(route_session) - 1);
	/* And the sessions really parse whole, without error. */
	got = feed(PROTO_SERVER, session, sizeof(session) - 1);
	assert_non_null(strstr(got, "\n= 0 "));
	assert_int_equal(strstr(got, "UNSUB i=2 max=5\nPONG\nPING\n") != NULL,
	    1);
	free(got);
	got = feed(PROTO_CLIENT, client_session, sizeof(client_session) - 1);
	assert_non_null(strstr(got, "MSG s=a i=3 r= p=\r\n\r\n\n= 0 "));
	free(got);
	got = feed(PROTO_ROUTE, route_session, sizeof(route_session) - 1);
	assert_non_null(strstr(got, "RMSG a=$G s=work r=r q2=wq,vq p=xy\n"));
	assert_non_null(strstr(got, "-ERR x\n= 0 "));
	free(got);
}

static void
test_proto_errors_every_cut(void **state)
{
	static const char *bad[] = {
		"PING\r\nPUB foo 3\r\nabcd\r\n",
		"PING\r\nPUB foo 3\r\nabc\n\r\n",
		"SUB foo 1\r\nPUB foo x\r\n",
		"PUB foo\r\n",
		"PUX foo 1\r\n",
		"SUB foo 1\r\nSUB a\rb 2\r\n",
		"PUB foo 20\r\n",
		"PUB foo bar baz 1\r\nx\r\n",
		"CONNECT {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\r\n",
		"SUB                                             1\r\n",
		"PING 1234567890123456789012345678901234567890\r\n",
		"HPUB foo 3 2\r\nabc\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_splits(PROTO_SERVER, 32, 16, bad[i], strlen(bad[i]));
}

static void
test_proto_many_frames_one_buffer(void **state)
{
	struct proto_parser p;
	struct buf b;
	struct rec r;
	ssize_t n;
	int i;

	(void)state;
	buf_init(&b, 1 << 20);
	memset(&r, 0, sizeof(r));
	buf_init(&r.log, 1 << 24);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(buf_append_str(&b, "PUB foo 3\r\nabc\r\n"), 0);
		assert_int_equal(buf_append_str(&b, "PING\r\n"), 0);
	}
	assert_int_equal(buf_append_str(&b, "PUB foo 3\r\nab"), 0);
	proto_parser_init(&p, PROTO_SERVER);
	n = proto_parse(&p, buf_data(&b), buf_len(&b), &rec_ops, &r);
	assert_int_equal(n, 1000 * 22);
	assert_int_equal(r.nops, 2000);
	assert_int_equal(proto_parser_need(&p), 11 + 3 + 2);
	buf_release(&b);
	buf_release(&r.log);
}

static void
test_proto_need_skips_partial_payload(void **state)
{
	struct proto_parser p;
	struct rec r;
	char *frame;
	size_t flen;
	ssize_t n;

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.log, 1 << 20);
	frame = malloc(2048);
	assert_non_null(frame);
	memcpy(frame, "PUB big 1024\r\n", 14);
	memset(frame + 14, 'x', 1024);
	memcpy(frame + 14 + 1024, "\r\n", 2);
	flen = 14 + 1024 + 2;
	proto_parser_init(&p, PROTO_SERVER);
	assert_int_equal(proto_parser_need(&p), 0);
	assert_int_equal(proto_parse(&p, frame, 10, &rec_ops, &r), 0);
	assert_int_equal(proto_parser_need(&p), 0);
	assert_int_equal(proto_parse(&p, frame, 20, &rec_ops, &r), 0);
	assert_int_equal(proto_parser_need(&p), flen);
	assert_int_equal(proto_parse(&p, frame, flen - 1, &rec_ops, &r), 0);
	assert_int_equal(r.nops, 0);
	n = proto_parse(&p, frame, flen, &rec_ops, &r);
	assert_int_equal(n, flen);
	assert_int_equal(r.nops, 1);
	assert_int_equal(proto_parser_need(&p), 0);
	free(frame);
	buf_release(&r.log);
}

static void
test_proto_unknown_verbs(void **state)
{
	(void)state;
	CHECK(PROTO_SERVER, "FOO bar\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "PING\r\nPUBB foo 1\r\nx\r\n", "PING\n= -1 6 0\n");
	CHECK(PROTO_SERVER, "PIG\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "SUBX foo 1\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, " PING\r\n", "= -1 0 0\n");
	/* The error is found on the first bad byte, without a line end. */
	CHECK(PROTO_SERVER, "PX", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "PU", "= 0 0 2\n");
	/* Verbs that need WS fail right after the verb. */
	CHECK(PROTO_SERVER, "PUB\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "UNSUB\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "PUBfoo 1\r\n", "= -1 0 0\n");
	/* Route and server-to-client verbs on a client connection. */
	CHECK(PROTO_SERVER, "RS+ $G foo\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "RMSG $G foo 1\r\nx\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "LS+ c $G foo\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "INFO {}\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "MSG foo 1 1\r\nx\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "+OK\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "-ERR 'x'\r\n", "= -1 0 0\n");
	/* Client-only verbs elsewhere. */
	CHECK(PROTO_CLIENT, "PUB foo 1\r\nx\r\n", "= -1 0 0\n");
	CHECK(PROTO_CLIENT, "CONNECT {}\r\n", "= -1 0 0\n");
	CHECK(PROTO_CLIENT, "RS+ $G foo\r\n", "= -1 0 0\n");
	CHECK(PROTO_ROUTE, "PUB foo 1\r\nx\r\n", "= -1 0 0\n");
	CHECK(PROTO_ROUTE, "SUB foo 1\r\n", "= -1 0 0\n");
	CHECK(PROTO_ROUTE, "MSG foo 1 1\r\nx\r\n", "= -1 0 0\n");
	CHECK(PROTO_ROUTE, "RS* $G foo\r\n", "= -1 0 0\n");
	CHECK(PROTO_CLIENT, "-ERR\r\n", "= -1 0 0\n");
}

static void
test_proto_bad_args(void **state)
{
	(void)state;
	/* Bad, missing and 10-digit sizes. */
	CHECK(PROTO_SERVER, "PUB foo x\r\n", "= -6 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo -1\r\n", "= -6 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo 1234567890\r\n", "= -6 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo\r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "PUB \r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "HPUB foo x 5\r\n", "= -6 0 0\n");
	CHECK(PROTO_SERVER, "HPUB foo 5 x\r\n", "= -6 0 0\n");
	CHECK(PROTO_SERVER, "HPUB foo 5\r\n", "= -5 0 0\n");
	/* Too many and too few arguments. */
	CHECK(PROTO_SERVER, "PUB a b c 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "HPUB a b c 1 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "SUB foo\r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "SUB a b c d\r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "UNSUB \r\n", "= -5 0 0\n");
	CHECK(PROTO_SERVER, "UNSUB 1 2 3\r\n", "= -5 0 0\n");
	CHECK(PROTO_CLIENT, "MSG foo 1\r\n", "= -5 0 0\n");
	CHECK(PROTO_CLIENT, "MSG a b c d 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_CLIENT, "HMSG foo 1 1\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "RS+ $G\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "RS+ $G foo q\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "RS+ $G foo q x\r\n", "= -6 0 0\n");
	CHECK(PROTO_ROUTE, "RS- $G foo q x\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "LS+ c $G\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G f x q 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G f ++ q 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "HMSG $G f 1\r\nx\r\n", "= -5 0 0\n");
	CHECK(PROTO_ROUTE, "LMSG c $G 0 1\r\nx\r\n", "= -5 0 0\n");
	/* HPUB/HMSG: header size above the total. */
	CHECK(PROTO_SERVER, "HPUB foo 3 2\r\nab\r\n", "= -7 0 0\n");
	CHECK(PROTO_CLIENT, "HMSG foo 1 3 2\r\nab\r\n", "= -7 0 0\n");
	CHECK(PROTO_ROUTE, "HMSG $G foo 3 2\r\nab\r\n", "= -7 0 0\n");
	/* A stray '\r' inside a line. */
	CHECK(PROTO_SERVER, "SUB a\rb 1\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "SUB a b\r\r\n", "= -1 0 0\n");
	CHECK(PROTO_SERVER, "CONNECT {\r}\r\n", "= -1 0 0\n");
}

static void
test_proto_payload_end_checked(void **state)
{
	(void)state;
	/* Size mismatch: the bytes after the payload must be "\r\n". */
	CHECK(PROTO_SERVER, "PUB foo 3\r\nabcd\r\n", "= -2 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo 5\r\nabc\r\n", "= 0 0 16\n");
	CHECK(PROTO_SERVER, "PUB foo 5\r\nabc\r\nxy", "= -2 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo 3\r\nabc\n\r\n", "= -2 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo 3\r\nabc\rX", "= -2 0 0\n");
	CHECK(PROTO_SERVER, "PUB foo 0\r\nX\r\n", "= -2 0 0\n");
	CHECK(PROTO_CLIENT, "MSG foo 1 3\r\nabcd\r\n", "= -2 0 0\n");
	CHECK(PROTO_ROUTE, "RMSG $G foo 3\r\nabcd\r\n", "= -2 0 0\n");
	/* Only whole frames are judged: one byte short waits. */
	CHECK(PROTO_SERVER, "PUB foo 3\r\nabcX", "= 0 0 15\n");
	assert_string_equal(proto_error_text(PROTO_EBADEND),
	    "Unknown Protocol Operation");
}

static void
test_proto_control_line_limit(void **state)
{
	(void)state;
	/* The argument part may be exactly max_control_line bytes. */
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 789\r\n",
	    "SUB s=12345 i=789\n= 0 15 0\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 78901\r\n", "= -3 0 0\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 789\n",
	    "SUB s=12345 i=789\n= 0 14 0\n");
	/* Without any line end: fails as soon as one byte too many. */
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 789", "= 0 0 13\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 789\r", "= 0 0 14\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 7890", "= 0 0 14\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB 12345 78901", "= -3 0 0\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "CONNECT {\"x\":12345}", "= -3 0 0\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "CONNECT {\"x\":1234}\r\n",
	    "CONNECT {\"x\":1234}\n= 0 20 0\n");
	/* Runs of WS can't be used to make us buffer either. */
	CHECK_LIM(PROTO_SERVER, 10, 0, "SUB           ", "= -3 0 0\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "PING            ", "= -3 0 0\n");
	CHECK_LIM(PROTO_SERVER, 10, 0, "PING 123456789\r\n",
	    "PING\n= 0 16 0\n");
	/* The default: 4096. */
	{
		char *big = malloc(5000);
		char *got;

		assert_non_null(big);
		memcpy(big, "SUB ", 4);
		memset(big + 4, 'a', 4096);
		memcpy(big + 4 + 4096, "\r\n", 2);
		got = feed(PROTO_SERVER, big, 4 + 4096 + 2);
		assert_string_equal(got, "= -5 0 0\n");
		free(got);
		big[4 + 4096] = 'b';
		got = feed(PROTO_SERVER, big, 4 + 4096 + 1);
		assert_string_equal(got, "= -3 0 0\n");
		free(got);
		free(big);
	}
	assert_string_equal(proto_error_text(PROTO_ECTLLINE),
	    "maximum control line exceeded");
	assert_true(proto_error_closes(PROTO_ECTLLINE));
}

static void
test_proto_max_payload(void **state)
{
	(void)state;
	CHECK_LIM(PROTO_SERVER, 0, 4, "PUB foo 4\r\nabcd\r\n",
	    "PUB s=foo r= p=abcd\n= 0 17 0\n");
	/* Checked on the control line, before any payload arrived. */
	CHECK_LIM(PROTO_SERVER, 0, 4, "PUB foo 5\r\n", "= -4 0 0\n");
	CHECK_LIM(PROTO_SERVER, 0, 4, "HPUB foo 2 5\r\n", "= -4 0 0\n");
	CHECK_LIM(PROTO_SERVER, 0, 4, "HPUB foo 2 4\r\nabcd\r\n",
	    "HPUB s=foo r= h=ab p=cd\n= 0 20 0\n");
	CHECK(PROTO_SERVER, "PUB foo 1048577\r\n", "= -4 0 0\n");
	/* hdr > total wins over the payload limit, as in nats-server. */
	CHECK_LIM(PROTO_SERVER, 0, 4, "HPUB foo 9 5\r\n", "= -7 0 0\n");
	assert_string_equal(proto_error_text(PROTO_EPAYLOAD),
	    "Maximum Payload Violation");
}

static void
test_proto_empty_payload_split(void **state)
{
	static const char s[] = "PUB foo 0\r\n\r\nPUB bar 0\n\r\n";

	(void)state;
	CHECK(PROTO_SERVER, s, "PUB s=foo r= p=\nPUB s=bar r= p=\n= 0 25 0\n");
	check_splits(PROTO_SERVER, (size_t)-1, (size_t)-1, s, sizeof(s) - 1);
}

static void
test_proto_binary_payload(void **state)
{
	static const char s[] = "PUB b 9\r\n\r\n\0\r\nPUB\r\r\n";
	static const char want[] = "PUB s=b r= p=\r\n\0\r\nPUB\r\n= 0 20 0\n";
	char *got;
	size_t n;

	(void)state;
	got = feed_cuts(PROTO_SERVER, (size_t)-1, (size_t)-1, s, sizeof(s) - 1,
	    NULL, 0, &n);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(got, want, sizeof(want) - 1);
	free(got);
	check_splits(PROTO_SERVER, (size_t)-1, (size_t)-1, s, sizeof(s) - 1);
}

static int
stop_on_sub(void *arg, const struct proto_sub *s)
{
	(void)s;
	(*(int *)arg)++;
	return PROTO_ESTOP;
}

static void
test_proto_callback_stops(void **state)
{
	static const char s[] = "PING\r\nSUB a 1\r\nSUB b 2\r\n";
	struct proto_ops ops = { .sub = stop_on_sub };
	struct proto_parser p;
	int n = 0;

	(void)state;
	proto_parser_init(&p, PROTO_SERVER);
	assert_int_equal(proto_parse(&p, s, sizeof(s) - 1, &ops, &n),
	    PROTO_ESTOP);
	assert_int_equal(n, 1);
	assert_int_equal(proto_parser_consumed(&p), 15);
	/* Not sticky: resume after the frame that stopped. */
	assert_int_equal(proto_parse(&p, s + 15, sizeof(s) - 1 - 15, &ops,
	    &n), PROTO_ESTOP);
	assert_int_equal(n, 2);
	assert_int_equal(proto_parser_consumed(&p), 9);
	/* NULL callbacks skip frames. */
	ops.sub = NULL;
	assert_int_equal(proto_parse(&p, s, sizeof(s) - 1, &ops, &n),
	    sizeof(s) - 1);
	assert_int_equal(n, 2);
}

static void
test_proto_error_sticky(void **state)
{
	struct proto_parser p;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.log, 4096);
	proto_parser_init(&p, PROTO_SERVER);
	assert_int_equal(proto_parse(&p, "PING\r\nXX\r\n", 10, &rec_ops, &r),
	    PROTO_EUNKNOWN);
	assert_int_equal(proto_parser_consumed(&p), 6);
	assert_int_equal(proto_parse(&p, "PING\r\n", 6, &rec_ops, &r),
	    PROTO_EUNKNOWN);
	assert_int_equal(r.nops, 1);
	proto_parser_reset(&p);
	assert_int_equal(proto_parse(&p, "PING\r\n", 6, &rec_ops, &r), 6);
	assert_int_equal(r.nops, 2);
	buf_release(&r.log);
}

static void
test_proto_error_table(void **state)
{
	static const struct {
		int		 code;
		const char	*text;
		bool		 closes;
	} t[] = {
		{ PROTO_EUNKNOWN, "Unknown Protocol Operation", true },
		{ PROTO_EBADEND, "Unknown Protocol Operation", true },
		{ PROTO_ECTLLINE, "maximum control line exceeded", true },
		{ PROTO_EPAYLOAD, "Maximum Payload Violation", true },
		{ PROTO_EARGS, NULL, true },
		{ PROTO_ENUMBER, NULL, true },
		{ PROTO_EHDRSIZE, NULL, true },
		{ PROTO_EJSON, NULL, true },
		{ PROTO_ENOHEADERS, NULL, true },
		{ PROTO_EAUTH, "Authorization Violation", true },
		{ PROTO_EAUTHTIMEOUT, "Authentication Timeout", true },
		{ PROTO_ETLSREQUIRED, "Secure Connection - TLS Required",
		    true },
		{ PROTO_EMAXCONN, "maximum connections exceeded", true },
		{ PROTO_EPROTOCOL, "invalid client protocol", true },
		{ PROTO_ENORESPONDERS, "no responders requires headers support",
		    true },
		{ PROTO_ESTALE, "Stale Connection", true },
		{ PROTO_EROUTEPORT, "attempted to connect to route port",
		    true },
		{ PROTO_EAUTHEXPIRED, "User Authentication Expired", true },
		{ PROTO_ESUBJECT, "Invalid Subject", false },
		{ PROTO_EPUBSUBJECT, "Invalid Publish Subject", false },
		{ PROTO_EMAXSUBS, "maximum subscriptions exceeded", false },
		{ PROTO_ESTOP, NULL, true },
		{ -1000, NULL, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].text == NULL)
			assert_null(proto_error_text(t[i].code));
		else
			assert_string_equal(proto_error_text(t[i].code),
			    t[i].text);
		assert_int_equal(proto_error_closes(t[i].code), t[i].closes);
	}
}

/* Encodes with fn into a buffer and compares the exact bytes. */
static void
check_bytes(struct buf *b, const char *want, size_t len)
{
	if (buf_len(b) != len || memcmp(buf_data(b), want, len) != 0)
		fail_msg("got \"%.*s\"\nwant \"%.*s\"", (int)buf_len(b),
		    buf_data(b), (int)len, want);
	buf_reset(b);
}

#define BYTES(b, s)	check_bytes(b, s, sizeof(s) - 1)

static void
test_proto_encode_exact(void **state)
{
	struct proto_msg m;
	struct proto_str qv[2] = { PROTO_STR("wq"), PROTO_STR("vq") };
	struct proto_str none = { NULL, 0 };
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(proto_put_info(&b, "{\"a\":1}", 7), 0);
	BYTES(&b, "INFO {\"a\":1} \r\n");
	assert_int_equal(proto_put_connect(&b, "{}", 2), 0);
	BYTES(&b, "CONNECT {}\r\n");
	proto_put_ping(&b);
	proto_put_pong(&b);
	proto_put_ok(&b);
	BYTES(&b, "PING\r\nPONG\r\n+OK\r\n");
	assert_int_equal(proto_put_error(&b, PROTO_ECTLLINE), 0);
	BYTES(&b, "-ERR 'maximum control line exceeded'\r\n");
	assert_int_equal(proto_put_error(&b, PROTO_EARGS), -EINVAL);
	assert_int_equal(buf_len(&b), 0);

	memset(&m, 0, sizeof(m));
	m.subject = PROTO_STR("foo.bar");
	m.sid = PROTO_STR("1");
	m.reply = PROTO_STR("reply.1");
	m.payload = PROTO_STR("hello");
	assert_int_equal(proto_put_msg(&b, &m), 0);
	BYTES(&b, "MSG foo.bar 1 reply.1 5\r\nhello\r\n");
	m.reply = none;
	m.hdr = PROTO_STR("NATS/1.0\r\n\r\n");
	m.payload = PROTO_STR("hi");
	assert_int_equal(proto_put_msg(&b, &m), 0);
	BYTES(&b, "HMSG foo.bar 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
	assert_int_equal(proto_put_msg_nohdr(&b, &m), 0);
	BYTES(&b, "MSG foo.bar 1 2\r\nhi\r\n");
	assert_int_equal(proto_put_pub(&b, &m), 0);
	BYTES(&b, "HPUB foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
	m.hdr = none;
	m.reply = PROTO_STR("_INBOX.x");
	m.payload = none;
	assert_int_equal(proto_put_pub(&b, &m), 0);
	BYTES(&b, "PUB foo.bar _INBOX.x 0\r\n\r\n");

	assert_int_equal(proto_put_sub(&b, PROTO_STR("foo"), none,
	    PROTO_STR("1")), 0);
	assert_int_equal(proto_put_sub(&b, PROTO_STR("foo"), PROTO_STR("q"),
	    PROTO_STR("2")), 0);
	assert_int_equal(proto_put_unsub(&b, PROTO_STR("1"), 0), 0);
	assert_int_equal(proto_put_unsub(&b, PROTO_STR("2"), 100), 0);
	BYTES(&b, "SUB foo 1\r\nSUB foo q 2\r\nUNSUB 1\r\nUNSUB 2 100\r\n");

	assert_int_equal(proto_put_rs_plus(&b, PROTO_STR("$G"),
	    PROTO_STR("foo"), none, 0), 0);
	assert_int_equal(proto_put_rs_plus(&b, PROTO_STR("$G"),
	    PROTO_STR("work"), PROTO_STR("wq"), 2), 0);
	assert_int_equal(proto_put_rs_minus(&b, PROTO_STR("$G"),
	    PROTO_STR("work"), PROTO_STR("wq")), 0);
	assert_int_equal(proto_put_rs_minus(&b, PROTO_STR("$G"),
	    PROTO_STR("foo"), none), 0);
	BYTES(&b, "RS+ $G foo\r\nRS+ $G work wq 2\r\nRS- $G work wq\r\n"
	    "RS- $G foo\r\n");

	memset(&m, 0, sizeof(m));
	m.account = PROTO_STR("$G");
	m.subject = PROTO_STR("work");
	m.payload = PROTO_STR("x");
	assert_int_equal(proto_put_rmsg(&b, &m, NULL, 0), 0);
	assert_int_equal(proto_put_rmsg(&b, &m, qv, 1), 0);
	m.reply = PROTO_STR("r");
	assert_int_equal(proto_put_rmsg(&b, &m, NULL, 0), 0);
	assert_int_equal(proto_put_rmsg(&b, &m, qv, 2), 0);
	m.queues = PROTO_STR(" a\t b ");
	m.nqueues = 2;
	m.hdr = PROTO_STR("NATS/1.0\r\n\r\n");
	assert_int_equal(proto_put_rmsg(&b, &m, NULL, 0), 0);
	BYTES(&b, "RMSG $G work 1\r\nx\r\n"
	    "RMSG $G work | wq 1\r\nx\r\n"
	    "RMSG $G work r 1\r\nx\r\n"
	    "RMSG $G work + r wq vq 1\r\nx\r\n"
	    "HMSG $G work + r a b 12 13\r\nNATS/1.0\r\n\r\nx\r\n");
	buf_release(&b);
}

static void
test_proto_encode_perm_errors(void **state)
{
	struct proto_str none = { NULL, 0 };
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(proto_put_err_perm(&b, PROTO_EPERMPUB,
	    PROTO_STR("foo.bar"), none), 0);
	BYTES(&b, "-ERR 'Permissions Violation for Publish to \"foo.bar\"'"
	    "\r\n");
	assert_int_equal(proto_put_err_perm(&b, PROTO_EPERMSUB,
	    PROTO_STR("foo"), PROTO_STR("q")), 0);
	BYTES(&b, "-ERR 'Permissions Violation for Subscription to \"foo\" "
	    "using queue \"q\"'\r\n");
	assert_int_equal(proto_put_err_perm(&b, PROTO_EPERMREPLY,
	    PROTO_STR("a\"b\\c\td\x01\x7f\xff\xc3\xa9\xc2\x85"), none), 0);
	BYTES(&b, "-ERR 'Permissions Violation for Publish with Reply of "
	    "\"a\\\"b\\\\c\\td\\x01\\x7f\\xff\xc3\xa9\\u0085\"'\r\n");
	assert_int_equal(proto_put_err_perm(&b, PROTO_ESUBJECT,
	    PROTO_STR("x"), none), -EINVAL);
	assert_int_equal(proto_put_err(&b, "Invalid Subject", 15), 0);
	BYTES(&b, "-ERR 'Invalid Subject'\r\n");
	buf_release(&b);
}

/* What the server encoder writes, a client parses back, and so on. */
static void
test_proto_encode_round_trips(void **state)
{
	struct proto_msg m;
	struct proto_str none = { NULL, 0 };
	struct proto_str qv[3] = { PROTO_STR("q1"), PROTO_STR("q2"),
	    PROTO_STR("q3") };
	struct buf b;
	char *got;

	(void)state;
	buf_init(&b, 1 << 20);

	/* server -> client */
	memset(&m, 0, sizeof(m));
	proto_put_info(&b, "{\"server_id\":\"A\"}", 17);
	proto_put_ok(&b);
	m.subject = PROTO_STR("foo");
	m.sid = PROTO_STR("7");
	m.payload = PROTO_STR("a\r\nb");
	proto_put_msg(&b, &m);
	m.reply = PROTO_STR("_INBOX.1");
	m.hdr = PROTO_STR("NATS/1.0 503\r\n\r\n");
	m.payload = none;
	proto_put_msg(&b, &m);
	proto_put_msg_nohdr(&b, &m);
	proto_put_ping(&b);
	proto_put_error(&b, PROTO_ESTALE);
	got = feed(PROTO_CLIENT, buf_data(&b), buf_len(&b));
	assert_string_equal(got, "INFO {\"server_id\":\"A\"}\n+OK\n"
	    "MSG s=foo i=7 r= p=a\r\nb\n"
	    "HMSG s=foo i=7 r=_INBOX.1 h=NATS/1.0 503\r\n\r\n p=\n"
	    "MSG s=foo i=7 r=_INBOX.1 p=\n"
	    "PING\n-ERR Stale Connection\n= 0 149 0\n");
	free(got);
	buf_reset(&b);

	/* client -> server */
	memset(&m, 0, sizeof(m));
	proto_put_connect(&b, "{\"verbose\":false}", 17);
	proto_put_sub(&b, PROTO_STR("foo.*"), none, PROTO_STR("1"));
	proto_put_sub(&b, PROTO_STR("foo.*"), PROTO_STR("g"), PROTO_STR("2"));
	m.subject = PROTO_STR("foo.x");
	m.payload = PROTO_STR("data");
	proto_put_pub(&b, &m);
	m.reply = PROTO_STR("r");
	m.hdr = PROTO_STR("NATS/1.0\r\nA: b\r\n\r\n");
	proto_put_pub(&b, &m);
	proto_put_unsub(&b, PROTO_STR("1"), 3);
	proto_put_pong(&b);
	got = feed(PROTO_SERVER, buf_data(&b), buf_len(&b));
	assert_string_equal(got, "CONNECT {\"verbose\":false}\n"
	    "SUB s=foo.* i=1\nSUB s=foo.* q=g i=2\n"
	    "PUB s=foo.x r= p=data\n"
	    "HPUB s=foo.x r=r h=NATS/1.0\r\nA: b\r\n\r\n p=data\n"
	    "UNSUB i=1 max=3\nPONG\n= 0 135 0\n");
	free(got);
	buf_reset(&b);

	/* route -> route */
	memset(&m, 0, sizeof(m));
	proto_put_info(&b, "{}", 2);
	proto_put_connect(&b, "{}", 2);
	proto_put_rs_plus(&b, PROTO_STR("$G"), PROTO_STR("w"),
	    PROTO_STR("q1"), 3);
	proto_put_rs_minus(&b, PROTO_STR("$G"), PROTO_STR("w"), none);
	m.account = PROTO_STR("$G");
	m.subject = PROTO_STR("w");
	m.payload = PROTO_STR("p");
	proto_put_rmsg(&b, &m, qv, 3);
	m.reply = PROTO_STR("r");
	m.hdr = PROTO_STR("NATS/1.0\r\n\r\n");
	proto_put_rmsg(&b, &m, qv, 1);
	proto_put_rmsg(&b, &m, NULL, 0);
	got = feed(PROTO_ROUTE, buf_data(&b), buf_len(&b));
	assert_string_equal(got, "INFO {}\nCONNECT {}\n"
	    "RS+ a=$G s=w q=q1 w=3\nRS- a=$G s=w\n"
	    "RMSG a=$G s=w r= q3=q1,q2,q3 p=p\n"
	    "RHMSG a=$G s=w r=r q1=q1 h=NATS/1.0\r\n\r\n p=p\n"
	    "RHMSG a=$G s=w r=r h=NATS/1.0\r\n\r\n p=p\n= 0 147 0\n");
	free(got);
	buf_release(&b);
}

static void
test_proto_encode_cap_is_all_or_nothing(void **state)
{
	struct proto_msg m;
	struct buf b;

	(void)state;
	buf_init(&b, 32);
	memset(&m, 0, sizeof(m));
	m.subject = PROTO_STR("foo");
	m.sid = PROTO_STR("1");
	m.payload = PROTO_STR("0123456789");
	assert_int_equal(proto_put_msg(&b, &m), 0);
	assert_int_equal(buf_len(&b), 26);
	assert_int_equal(proto_put_msg(&b, &m), -ENOBUFS);
	assert_int_equal(buf_len(&b), 26);
	assert_int_equal(proto_put_ping(&b), 0);
	assert_int_equal(proto_put_pong(&b), -ENOBUFS);
	assert_int_equal(buf_len(&b), 32);
	buf_release(&b);
}

static void
test_proto_utoa_and_sizes(void **state)
{
	static const uint64_t v[] = { 0, 7, 10, 99, 100, 101, 12345,
	    999999999, 4294967295u, UINT64_MAX };
	char got[24], want[24];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = proto_utoa(got, v[i]);
		got[n] = '\0';
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
		assert_string_equal(got, want);
	}
	assert_int_equal(proto_parse_size("0", 1), 0);
	assert_int_equal(proto_parse_size("999999999", 9), 999999999);
	assert_int_equal(proto_parse_size("1000000000", 10), -1);
	assert_int_equal(proto_parse_size("", 0), -1);
	assert_int_equal(proto_parse_size("+1", 2), -1);
	assert_int_equal(proto_parse_size("1 ", 2), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_connect_parsed),
		cmocka_unit_test(test_proto_pub_parsed),
		cmocka_unit_test(test_proto_hpub_parsed),
		cmocka_unit_test(test_proto_sub_unsub_parsed),
		cmocka_unit_test(test_proto_ping_pong_parsed),
		cmocka_unit_test(test_proto_nats_c_quirks),
		cmocka_unit_test(test_proto_client_ops_parsed),
		cmocka_unit_test(test_proto_route_ops_parsed),
		cmocka_unit_test(test_proto_session_every_cut),
		cmocka_unit_test(test_proto_errors_every_cut),
		cmocka_unit_test(test_proto_many_frames_one_buffer),
		cmocka_unit_test(test_proto_need_skips_partial_payload),
		cmocka_unit_test(test_proto_unknown_verbs),
		cmocka_unit_test(test_proto_bad_args),
		cmocka_unit_test(test_proto_payload_end_checked),
		cmocka_unit_test(test_proto_control_line_limit),
		cmocka_unit_test(test_proto_max_payload),
		cmocka_unit_test(test_proto_empty_payload_split),
		cmocka_unit_test(test_proto_binary_payload),
		cmocka_unit_test(test_proto_callback_stops),
		cmocka_unit_test(test_proto_error_sticky),
		cmocka_unit_test(test_proto_error_table),
		cmocka_unit_test(test_proto_encode_exact),
		cmocka_unit_test(test_proto_encode_perm_errors),
		cmocka_unit_test(test_proto_encode_round_trips),
		cmocka_unit_test(test_proto_encode_cap_is_all_or_nothing),
		cmocka_unit_test(test_proto_utoa_and_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
