/*
 * fuzz_proto.c: libFuzzer target for the wire parser (daemon/proto.c).
 *
 * Each input goes through every mode (server, client, route) with the
 * default limits and with tiny ones, three ways: whole, in chunks of
 * pseudo-random sizes (seeded from the input), and in chunks while
 * skipping calls until proto_parser_need() bytes are buffered, as a
 * connection would.  All three must report the same operations with the
 * same fields and end the same way.  Every pointer handed to a callback
 * must lie inside the buffer being parsed, and every message parsed whole
 * is re-encoded and must parse back to the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct rec {
	struct buf	 log;
	const char	*base;		/* the buffer being parsed */
	size_t		 blen;
	enum proto_mode	 mode;
	bool		 reencode;
};

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_proto: %s\n", what);
	abort();
}

static void
put_raw(struct rec *r, const void *p, size_t n)
{
	if (buf_append(&r->log, p, n) != 0)
		die("log full");
}

static void
put_num(struct rec *r, uint64_t v)
{
	put_raw(r, &v, sizeof(v));
}

/* A field: in bounds, then its length and bytes. */
static void
put_field(struct rec *r, struct proto_str s)
{
	if (s.ptr != NULL && (s.ptr < r->base || s.ptr + s.len >
	    r->base + r->blen))
		die("field outside the buffer");
	if (s.ptr == NULL && s.len != 0)
		die("absent field with a length");
	put_num(r, s.len);
	put_raw(r, s.ptr, s.len);
}

static void
log_msg(struct rec *r, const struct proto_msg *m)
{
	struct proto_str list = m->queues, tok;
	unsigned n = 0;

	put_num(r, m->op);
	put_field(r, m->origin);
	put_field(r, m->account);
	put_field(r, m->subject);
	put_field(r, m->sid);
	put_field(r, m->reply);
	put_field(r, m->queues);
	while (proto_next_token(&list, &tok)) {
		n++;
		put_field(r, tok);
	}
	if (n != m->nqueues)
		die("nqueues differs from the queue list");
	put_field(r, m->hdr);
	put_field(r, m->payload);
}

/* Message bytes independent of layout (queue list re-spaced). */
static void
log_msg_canon(struct buf *out, const struct proto_msg *m)
{
	struct proto_str list = m->queues, tok;
	const struct proto_str *f[] = { &m->origin, &m->account, &m->subject,
	    &m->sid, &m->reply, &m->hdr, &m->payload };
	size_t i;

	buf_append(out, &m->op, sizeof(m->op));
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		buf_append(out, &f[i]->len, sizeof(f[i]->len));
		buf_append(out, f[i]->ptr, f[i]->len);
	}
	while (proto_next_token(&list, &tok)) {
		buf_append(out, &tok.len, sizeof(tok.len));
		buf_append(out, tok.ptr, tok.len);
	}
}

static int
canon_cb(void *arg, const struct proto_msg *m)
{
	log_msg_canon(arg, m);
	return 0;
}

/* Encodes m back and checks that it parses to the same message. */
static void
reencode(enum proto_mode mode, const struct proto_msg *m)
{
	struct proto_ops ops = { .pub = canon_cb, .msg = canon_cb };
	struct proto_parser p;
	struct buf enc, a, b;
	int rc;

	/* LMSG isn't encoded, and a header size of 0 re-encodes as a
	 * plain PUB/MSG/RMSG. */
	if (m->op == PROTO_OP_LMSG)
		return;
	if ((m->op == PROTO_OP_HPUB || m->op == PROTO_OP_HMSG ||
	    m->op == PROTO_OP_RHMSG) && m->hdr.len == 0)
		return;
	buf_init(&enc, BUF_NOLIMIT);
	buf_init(&a, BUF_NOLIMIT);
	buf_init(&b, BUF_NOLIMIT);
	switch (m->op) {
	case PROTO_OP_PUB:
	case PROTO_OP_HPUB:
		rc = proto_put_pub(&enc, m);
		break;
	case PROTO_OP_MSG:
	case PROTO_OP_HMSG:
		rc = proto_put_msg(&enc, m);
		break;
	default:
		rc = proto_put_rmsg(&enc, m, NULL, 0);
		break;
	}
	if (rc != 0)
		die("encode failed");
	proto_parser_init(&p, mode);
	p.max_control_line = 0;
	p.max_payload = 0;
	if (proto_parse(&p, buf_data(&enc), buf_len(&enc), &ops, &b) !=
	    (ssize_t)buf_len(&enc))
		die("re-encoded message doesn't parse whole");
	log_msg_canon(&a, m);
	if (buf_len(&a) != buf_len(&b) ||
	    memcmp(buf_data(&a), buf_data(&b), buf_len(&a)) != 0)
		die("re-encoded message parses differently");
	buf_release(&enc);
	buf_release(&a);
	buf_release(&b);
}

static int
cb_msg(void *arg, const struct proto_msg *m)
{
	struct rec *r = arg;

	log_msg(r, m);
	if (r->reencode)
		reencode(r->mode, m);
	return 0;
}

static int
cb_sub(void *arg, const struct proto_sub *s)
{
	struct rec *r = arg;

	put_num(r, s->op);
	put_field(r, s->origin);
	put_field(r, s->account);
	put_field(r, s->subject);
	put_field(r, s->queue);
	put_field(r, s->sid);
	put_num(r, s->weight);
	put_num(r, s->max_msgs);
	put_num(r, s->has_max * 2 + s->bad_max);
	return 0;
}

static int
cb_text(struct rec *r, enum proto_op op, const char *p, size_t n)
{
	put_num(r, op);
	put_field(r, (struct proto_str){ p, n });
	return 0;
}

static int
cb_connect(void *arg, const char *p, size_t n)
{
	return cb_text(arg, PROTO_OP_CONNECT, p, n);
}

static int
cb_info(void *arg, const char *p, size_t n)
{
	return cb_text(arg, PROTO_OP_INFO, p, n);
}

static int
cb_err(void *arg, const char *p, size_t n)
{
	return cb_text(arg, PROTO_OP_ERR, p, n);
}

static int
cb_ping(void *arg)
{
	put_num(arg, PROTO_OP_PING);
	return 0;
}

static int
cb_pong(void *arg)
{
	put_num(arg, PROTO_OP_PONG);
	return 0;
}

static int
cb_ok(void *arg)
{
	put_num(arg, PROTO_OP_OK);
	return 0;
}

static const struct proto_ops ops = {
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

enum feed_way {
	WHOLE,
	CHUNKS,
	CHUNKS_NEED,
};

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Feeds the input one way and leaves in r->log the operations followed by
 * the final status, the bytes consumed and the bytes left over.
 */
static void
run(const uint8_t *data, size_t size, enum proto_mode mode, bool small,
    enum feed_way way, uint64_t seed, struct rec *r)
{
	struct proto_parser p;
	struct buf rb;
	size_t pos = 0, chunk, total = 0;
	ssize_t n = 0;

	proto_parser_init(&p, mode);
	if (small) {
		p.max_control_line = 32;
		p.max_payload = 64;
	}
	buf_init(&r->log, BUF_NOLIMIT);
	r->mode = mode;
	r->reencode = way == WHOLE;
	buf_init(&rb, BUF_NOLIMIT);
	while (pos < size) {
		if (way == WHOLE)
			chunk = size;
		else if (next_rand(&seed) % 8 == 0)
			chunk = 1 + next_rand(&seed) % 200;
		else
			chunk = 1 + next_rand(&seed) % 7;
		if (chunk > size - pos)
			chunk = size - pos;
		if (buf_append(&rb, data + pos, chunk) != 0)
			die("read buffer full");
		pos += chunk;
		if (way == CHUNKS_NEED && proto_parser_need(&p) > buf_len(&rb))
			continue;
		r->base = buf_data(&rb);
		r->blen = buf_len(&rb);
		n = proto_parse(&p, buf_data(&rb), buf_len(&rb), &ops, r);
		if (n < 0) {
			total += proto_parser_consumed(&p);
			break;
		}
		if ((size_t)n > buf_len(&rb))
			die("consumed more than given");
		if (proto_parser_need(&p) != 0 &&
		    proto_parser_need(&p) <= buf_len(&rb) - (size_t)n)
			die("need already satisfied");
		total += (size_t)n;
		buf_consume(&rb, (size_t)n);
	}
	put_num(r, (uint64_t)(n < 0 ? n : 0));
	put_num(r, total);
	put_num(r, n < 0 ? 0 : buf_len(&rb));
	buf_release(&rb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum proto_mode modes[] = { PROTO_SERVER, PROTO_CLIENT,
	    PROTO_ROUTE };
	struct rec whole, pieces;
	uint64_t seed = 1469598103934665603ull;
	size_t i, m, s, w;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ull;
	if (seed == 0)
		seed = 1;
	for (m = 0; m < 3; m++) {
		for (s = 0; s < 2; s++) {
			run(data, size, modes[m], s, WHOLE, seed, &whole);
			for (w = CHUNKS; w <= CHUNKS_NEED; w++) {
				run(data, size, modes[m], s, w, seed + w,
				    &pieces);
				if (buf_len(&whole.log) != buf_len(&pieces.log) ||
				    memcmp(buf_data(&whole.log),
				    buf_data(&pieces.log),
				    buf_len(&whole.log)) != 0)
					die("pieces differ from whole");
				buf_release(&pieces.log);
			}
			buf_release(&whole.log);
		}
	}
	return 0;
}
