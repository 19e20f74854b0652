/*
 * proto.c: NATS wire protocol parser and encoder (see proto.h).
 *
 * The parser works on whole frames in the caller's buffer rather than
 * byte by byte with a copy of split arguments: a control line is at most
 * max_control_line bytes, so rescanning it when more bytes arrive is
 * cheap, and the state kept between calls (how far the pending line is
 * known to be clean, the pending frame's size) only saves work.  A
 * payload is never scanned: once its size is known the frame waits until
 * it is whole and only the two bytes after it are checked.
 *
 * Every check on a control line is defined as the first violation met
 * reading left to right (a bad verb letter, a missing WS after the verb,
 * a '\r' followed by anything but '\n', the byte that makes a part too
 * long), so a stream cut anywhere gives the same operations and the same
 * error as the stream read whole.  Argument errors are decided when the
 * line is complete, payload errors when the frame is.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include "proto.h"

#define ROUTE_MAX_CONTROL_LINE	65536
#define ROUTE_MAX_PAYLOAD	(64 * 1024 * 1024)

/* How the bytes after a verb are read. */
enum verb_kind {
	VK_ARGS,		/* WS required, then WS-separated arguments */
	VK_TEXT,		/* no WS required; the rest is one text */
	VK_NONE,		/* everything up to '\n' is ignored */
};

struct verb {
	const char	*name;		/* upper case */
	uint8_t		 len;
	uint8_t		 kind;
	uint8_t		 op;
};

#define VERB(n, k, o)	{ n, sizeof(n) - 1, k, o }

/* No verb of a mode is a prefix of another one of the same mode. */
static const struct verb server_verbs[] = {
	VERB("PUB", VK_ARGS, PROTO_OP_PUB),
	VERB("HPUB", VK_ARGS, PROTO_OP_HPUB),
	VERB("SUB", VK_ARGS, PROTO_OP_SUB),
	VERB("UNSUB", VK_ARGS, PROTO_OP_UNSUB),
	VERB("PING", VK_NONE, PROTO_OP_PING),
	VERB("PONG", VK_NONE, PROTO_OP_PONG),
	VERB("CONNECT", VK_TEXT, PROTO_OP_CONNECT),
};

static const struct verb client_verbs[] = {
	VERB("MSG", VK_ARGS, PROTO_OP_MSG),
	VERB("HMSG", VK_ARGS, PROTO_OP_HMSG),
	VERB("PING", VK_NONE, PROTO_OP_PING),
	VERB("PONG", VK_NONE, PROTO_OP_PONG),
	VERB("+OK", VK_NONE, PROTO_OP_OK),
	VERB("-ERR", VK_ARGS, PROTO_OP_ERR),
	VERB("INFO", VK_TEXT, PROTO_OP_INFO),
};

static const struct verb route_verbs[] = {
	VERB("RMSG", VK_ARGS, PROTO_OP_RMSG),
	VERB("HMSG", VK_ARGS, PROTO_OP_RHMSG),
	VERB("LMSG", VK_ARGS, PROTO_OP_LMSG),
	VERB("RS+", VK_ARGS, PROTO_OP_RS_PLUS),
	VERB("RS-", VK_ARGS, PROTO_OP_RS_MINUS),
	VERB("LS+", VK_ARGS, PROTO_OP_LS_PLUS),
	VERB("LS-", VK_ARGS, PROTO_OP_LS_MINUS),
	VERB("PING", VK_NONE, PROTO_OP_PING),
	VERB("PONG", VK_NONE, PROTO_OP_PONG),
	VERB("+OK", VK_NONE, PROTO_OP_OK),
	VERB("-ERR", VK_ARGS, PROTO_OP_ERR),
	VERB("INFO", VK_TEXT, PROTO_OP_INFO),
	VERB("CONNECT", VK_TEXT, PROTO_OP_CONNECT),
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Tokens of an argument part: the first ARGV_HEAD and the last 3, which
 * is all any verb needs (a route message's queue list is taken as one
 * span from its first token, in head, to its last, in tail).
 */
#define ARGV_HEAD	8

struct argv {
	struct proto_str head[ARGV_HEAD];
	struct proto_str tail[3];	/* tail[2] is the last token */
	size_t		 n;
};

static const struct {
	int		 code;
	const char	*text;
	bool		 closes;
} errors[] = {
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
	{ PROTO_ETLSREQUIRED, "Secure Connection - TLS Required", true },
	{ PROTO_EMAXCONN, "maximum connections exceeded", true },
	{ PROTO_EPROTOCOL, "invalid client protocol", true },
	{ PROTO_ENORESPONDERS, "no responders requires headers support",
	    true },
	{ PROTO_ESTALE, "Stale Connection", true },
	{ PROTO_EROUTEPORT, "attempted to connect to route port", true },
	{ PROTO_EAUTHEXPIRED, "User Authentication Expired", true },
	{ PROTO_ESUBJECT, "Invalid Subject", false },
	{ PROTO_EPUBSUBJECT, "Invalid Publish Subject", false },
	{ PROTO_EMAXSUBS, "maximum subscriptions exceeded", false },
	{ PROTO_EPERMPUB, "Permissions Violation for Publish to", false },
	{ PROTO_EPERMSUB, "Permissions Violation for Subscription to",
	    false },
	{ PROTO_EPERMREPLY, "Permissions Violation for Publish with Reply of",
	    false },
};

static const char digits2[200] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

void
proto_parser_init(struct proto_parser *p, enum proto_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	if (mode == PROTO_SERVER) {
		p->max_control_line = PROTO_MAX_CONTROL_LINE;
		p->max_payload = PROTO_MAX_PAYLOAD;
	} else {
		p->max_control_line = ROUTE_MAX_CONTROL_LINE;
		p->max_payload = ROUTE_MAX_PAYLOAD;
	}
}

void
proto_parser_reset(struct proto_parser *p)
{
	p->scan = p->need = p->consumed = 0;
	p->error = 0;
}

size_t
proto_parser_consumed(const struct proto_parser *p)
{
	return p->consumed;
}

size_t
proto_parser_need(const struct proto_parser *p)
{
	return p->need;
}

const char *
proto_error_text(int code)
{
	size_t i;

	for (i = 0; i < NITEMS(errors); i++)
		if (errors[i].code == code)
			return errors[i].text;
	return NULL;
}

bool
proto_error_closes(int code)
{
	size_t i;

	for (i = 0; i < NITEMS(errors); i++)
		if (errors[i].code == code)
			return errors[i].closes;
	return true;
}

int32_t
proto_parse_size(const char *s, size_t len)
{
	int32_t v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool
proto_next_token(struct proto_str *list, struct proto_str *tok)
{
	const char *p, *end, *t;

	if (list->len == 0)
		return false;
	p = list->ptr;
	end = p + list->len;
	while (p < end && is_ws(*p))
		p++;
	if (p == end) {
		list->ptr += list->len;
		list->len = 0;
		return false;
	}
	t = p;
	while (p < end && !is_ws(*p))
		p++;
	tok->ptr = t;
	tok->len = p - t;
	list->len = end - p;
	list->ptr = p;
	return true;
}

/*
 * Recognises the verb at the start of b.  Returns it (with *err 0), or
 * NULL with *err 0 when b is a prefix of some verb, or NULL with *err set
 * at the first byte that matches no verb.
 */
static const struct verb *
match_verb(enum proto_mode mode, const char *b, size_t n, int *err)
{
	const struct verb *v;
	size_t nv, i, k, lim;
	bool prefix = false;
	char c;

	switch (mode) {
	case PROTO_SERVER:
		v = server_verbs;
		nv = NITEMS(server_verbs);
		break;
	case PROTO_CLIENT:
		v = client_verbs;
		nv = NITEMS(client_verbs);
		break;
	default:
		v = route_verbs;
		nv = NITEMS(route_verbs);
		break;
	}
	*err = 0;
	/* The tables list the frequent verbs first. */
	for (k = 0; k < nv; k++) {
		lim = n < v[k].len ? n : v[k].len;
		for (i = 0; i < lim; i++) {
			c = b[i];
			if (c >= 'a' && c <= 'z')
				c -= 'a' - 'A';
			if (c != v[k].name[i])
				break;
		}
		if (i == v[k].len)
			return &v[k];
		if (i == n)
			prefix = true;
	}
	if (!prefix)
		*err = PROTO_EUNKNOWN;
	return NULL;
}

static void
split_args(const char *p, size_t len, struct argv *av)
{
	const char *end = p + len, *t;
	struct proto_str tok;

	av->n = 0;
	for (;;) {
		while (p < end && is_ws(*p))
			p++;
		if (p == end)
			break;
		t = p;
		while (p < end && !is_ws(*p))
			p++;
		tok.ptr = t;
		tok.len = p - t;
		if (av->n < ARGV_HEAD)
			av->head[av->n] = tok;
		av->tail[0] = av->tail[1];
		av->tail[1] = av->tail[2];
		av->tail[2] = tok;
		av->n++;
	}
}

/* Token i; only for i < ARGV_HEAD or i among the last 3. */
static inline struct proto_str
argv_at(const struct argv *av, size_t i)
{
	if (i < ARGV_HEAD)
		return av->head[i];
	return av->tail[3 - (av->n - i)];
}

/* The span from the start of token i to the end of token j (i <= j). */
static struct proto_str
argv_span(const struct argv *av, size_t i, size_t j)
{
	struct proto_str a = argv_at(av, i), b = argv_at(av, j), s;

	s.ptr = a.ptr;
	s.len = (b.ptr + b.len) - a.ptr;
	return s;
}

/*
 * Route messages: [origin] account subject [reply | + reply q... | q...]
 * sizes.  o is 1 when an origin leads, nsz the number of sizes.
 */
static int
route_msg_args(const struct argv *av, size_t o, size_t nsz,
    struct proto_msg *m)
{
	struct proto_str mark;
	size_t k, q0, q1;

	if (av->n < o + 2 + nsz)
		return PROTO_EARGS;
	k = av->n - o - nsz;
	if (o)
		m->origin = argv_at(av, 0);
	m->account = argv_at(av, o);
	m->subject = argv_at(av, o + 1);
	if (k == 3)
		m->reply = argv_at(av, o + 2);
	if (k < 4)
		return 0;
	mark = argv_at(av, o + 2);
	if (mark.len != 1 || (mark.ptr[0] != '+' && mark.ptr[0] != '|'))
		return PROTO_EARGS;
	q0 = o + 3;
	if (mark.ptr[0] == '+') {
		m->reply = argv_at(av, o + 3);
		q0++;
	}
	q1 = av->n - nsz;	/* one past the last queue */
	if (q0 < q1) {
		m->queues = argv_span(av, q0, q1 - 1);
		m->nqueues = q1 - q0;
	}
	return 0;
}

/*
 * Reads the sizes at the end of a message line and checks them against
 * the limit.  *hdr is -1 when the verb has no header size.
 */
static int
msg_sizes(const struct proto_parser *p, const struct argv *av, bool hashdr,
    int32_t *hdr, int32_t *total)
{
	*hdr = -1;
	if (hashdr) {
		*hdr = proto_parse_size(av->tail[1].ptr, av->tail[1].len);
		if (*hdr < 0)
			return PROTO_ENUMBER;
	}
	*total = proto_parse_size(av->tail[2].ptr, av->tail[2].len);
	if (*total < 0)
		return PROTO_ENUMBER;
	if (hashdr && *hdr > *total)
		return PROTO_EHDRSIZE;
	if (p->max_payload != 0 && (size_t)*total > p->max_payload)
		return PROTO_EPAYLOAD;
	return 0;
}

/*
 * Fills a message from its control line, *hdr (-1: none) and *total with
 * its sizes.
 */
static int
msg_line(const struct proto_parser *p, enum proto_op op, const char *arg,
    size_t alen, struct proto_msg *m, int32_t *hdr, int32_t *total)
{
	static const struct proto_msg zero;
	struct argv av;
	bool hashdr;
	int rc;

	split_args(arg, alen, &av);
	*m = zero;
	m->op = op;
	hashdr = op == PROTO_OP_HPUB || op == PROTO_OP_HMSG ||
	    op == PROTO_OP_RHMSG || op == PROTO_OP_LMSG;
	switch (op) {
	case PROTO_OP_PUB:
	case PROTO_OP_HPUB:
		if (av.n != 2u + hashdr && av.n != 3u + hashdr)
			return PROTO_EARGS;
		m->subject = av.head[0];
		if (av.n == 3u + hashdr)
			m->reply = av.head[1];
		break;
	case PROTO_OP_MSG:
	case PROTO_OP_HMSG:
		if (av.n != 3u + hashdr && av.n != 4u + hashdr)
			return PROTO_EARGS;
		m->subject = av.head[0];
		m->sid = av.head[1];
		if (av.n == 4u + hashdr)
			m->reply = av.head[2];
		break;
	case PROTO_OP_RMSG:
	case PROTO_OP_RHMSG:
		if ((rc = route_msg_args(&av, 0, 1 + hashdr, m)) != 0)
			return rc;
		break;
	default:	/* PROTO_OP_LMSG */
		if ((rc = route_msg_args(&av, 1, 2, m)) != 0)
			return rc;
		break;
	}
	return msg_sizes(p, &av, hashdr, hdr, total);
}

/* SUB, UNSUB, RS+, RS-, LS+, LS- */
static int
sub_line(enum proto_op op, const char *arg, size_t alen,
    struct proto_sub *s)
{
	static const struct proto_sub zero;
	struct argv av;
	int32_t v;
	size_t o;

	split_args(arg, alen, &av);
	*s = zero;
	s->op = op;
	switch (op) {
	case PROTO_OP_SUB:
		if (av.n != 2 && av.n != 3)
			return PROTO_EARGS;
		s->subject = av.head[0];
		if (av.n == 3)
			s->queue = av.head[1];
		s->sid = av.tail[2];
		return 0;
	case PROTO_OP_UNSUB:
		if (av.n != 1 && av.n != 2)
			return PROTO_EARGS;
		s->sid = av.head[0];
		if (av.n == 2) {
			s->has_max = true;
			v = proto_parse_size(av.head[1].ptr, av.head[1].len);
			if (v < 0)
				s->bad_max = true;
			else
				s->max_msgs = (uint32_t)v;
		}
		return 0;
	case PROTO_OP_RS_PLUS:
	case PROTO_OP_LS_PLUS:
		o = op == PROTO_OP_LS_PLUS;
		if (av.n != o + 2 && av.n != o + 4)
			return PROTO_EARGS;
		if (o)
			s->origin = av.head[0];
		s->account = av.head[o];
		s->subject = av.head[o + 1];
		if (av.n == o + 4) {
			s->queue = av.head[o + 2];
			v = proto_parse_size(av.head[o + 3].ptr,
			    av.head[o + 3].len);
			if (v < 0)
				return PROTO_ENUMBER;
			s->weight = (uint32_t)v;
		}
		return 0;
	default:	/* RS-, LS- */
		if (av.n != 2 && av.n != 3)
			return PROTO_EARGS;
		s->account = av.head[0];
		s->subject = av.head[1];
		if (av.n == 3)
			s->queue = av.head[2];
		return 0;
	}
}

/*
 * Finds the end of the control line of a VK_ARGS or VK_TEXT verb whose
 * name is b[0, vlen).  Returns 1 with the argument part (WS trimmed on
 * both sides) in *arg and the '\n' offset in *nlp, 0 when more bytes are
 * needed, or a negative error.
 */
static int
scan_args_line(struct proto_parser *p, const char *b, size_t n,
    size_t vlen, struct proto_str *arg, size_t *nlp)
{
	size_t max = p->max_control_line, s, start, end, nl, lim, cut;
	const char *q, *cr;
	int err = 0;

	s = vlen;
	while (s < n && is_ws(b[s]))
		s++;
	if (max != 0 && s - vlen > max)
		return PROTO_ECTLLINE;
	if (s == n)
		return 0;
	start = p->scan > s ? p->scan : s;
	q = memchr(b + start, '\n', n - start);
	end = q != NULL ? (size_t)(q - b) : n;
	nl = end;

	/* The first stray '\r' and the first byte over the limit. */
	cut = n + 1;
	cr = memchr(b + start, '\r', end - start);
	if (cr != NULL && (size_t)(cr - b) + 1 < end) {
		cut = (cr - b) + 1;
		err = PROTO_EUNKNOWN;
	}
	if (max != 0) {
		lim = s + max;
		if (lim < end && lim < cut && b[lim] != '\r') {
			cut = lim;
			err = PROTO_ECTLLINE;
		}
	}
	if (err != 0)
		return err;
	if (q == NULL) {
		p->scan = (b[n - 1] == '\r') ? n - 1 : n;
		return 0;
	}
	end = nl;
	if (end > s && b[end - 1] == '\r')
		end--;
	while (end > s && is_ws(b[end - 1]))
		end--;
	arg->ptr = b + s;
	arg->len = end - s;
	*nlp = nl;
	return 1;
}

/* Finds the '\n' ending a VK_NONE line; same returns as above. */
static int
scan_none_line(struct proto_parser *p, const char *b, size_t n,
    size_t vlen, size_t *nlp)
{
	size_t max = p->max_control_line, start;
	const char *q;

	start = p->scan > vlen ? p->scan : vlen;
	q = memchr(b + start, '\n', n - start);
	if (q == NULL) {
		if (max != 0 && n - vlen > max + 1)
			return PROTO_ECTLLINE;
		p->scan = n;
		return 0;
	}
	if (max != 0 && (size_t)(q - b) - vlen > max + 1)
		return PROTO_ECTLLINE;
	*nlp = q - b;
	return 1;
}

/*
 * A message whose control line ends at b[nl]: waits for the whole frame,
 * checks its end and reports it.  Returns the frame length, 0 or an
 * error; *stop gets what the callback said.
 */
static ssize_t
finish_msg(struct proto_parser *p, const char *b, size_t n, size_t nl,
    struct proto_msg *m, int32_t hdr, int32_t total,
    const struct proto_ops *ops, void *arg, int *stop)
{
	size_t body = nl + 1, flen = body + (size_t)total + 2;
	int (*cb)(void *, const struct proto_msg *);

	if (n < flen) {
		p->need = flen;
		return 0;
	}
	if (b[flen - 2] != '\r' || b[flen - 1] != '\n')
		return PROTO_EBADEND;
	if (hdr > 0) {
		m->hdr.ptr = b + body;
		m->hdr.len = (size_t)hdr;
		body += (size_t)hdr;
		total -= hdr;
	}
	m->payload.ptr = b + body;
	m->payload.len = (size_t)total;
	cb = (m->op == PROTO_OP_PUB || m->op == PROTO_OP_HPUB) ? ops->pub :
	    ops->msg;
	if (cb != NULL)
		*stop = cb(arg, m);
	return (ssize_t)flen;
}

/*
 * Parses the frame at the start of b[0, n).  Returns its length, 0 when
 * it is incomplete, or a parse error; *stop gets a callback's verdict.
 */
static ssize_t
parse_frame(struct proto_parser *p, const char *b, size_t n,
    const struct proto_ops *ops, void *arg, int *stop)
{
	const struct verb *v;
	struct proto_str a = { NULL, 0 };
	struct proto_msg m;
	struct proto_sub s;
	int32_t hdr, total;
	size_t nl = 0;
	int rc;

	if ((v = match_verb(p->mode, b, n, &rc)) == NULL)
		return rc;
	switch (v->kind) {
	case VK_NONE:
		rc = scan_none_line(p, b, n, v->len, &nl);
		break;
	case VK_ARGS:
		if (n == v->len)
			return 0;
		if (!is_ws(b[v->len]))
			return PROTO_EUNKNOWN;
		/* FALLTHROUGH */
	default:
		rc = scan_args_line(p, b, n, v->len, &a, &nl);
		break;
	}
	if (rc <= 0)
		return rc;

	switch (v->op) {
	case PROTO_OP_PING:
		if (ops->ping != NULL)
			*stop = ops->ping(arg);
		break;
	case PROTO_OP_PONG:
		if (ops->pong != NULL)
			*stop = ops->pong(arg);
		break;
	case PROTO_OP_OK:
		if (ops->ok != NULL)
			*stop = ops->ok(arg);
		break;
	case PROTO_OP_CONNECT:
		if (ops->connect != NULL)
			*stop = ops->connect(arg, a.ptr, a.len);
		break;
	case PROTO_OP_INFO:
		if (ops->info != NULL)
			*stop = ops->info(arg, a.ptr, a.len);
		break;
	case PROTO_OP_ERR:
		if (a.len >= 2 && a.ptr[0] == '\'' && a.ptr[a.len - 1] == '\'') {
			a.ptr++;
			a.len -= 2;
		}
		if (ops->err != NULL)
			*stop = ops->err(arg, a.ptr, a.len);
		break;
	case PROTO_OP_SUB:
	case PROTO_OP_RS_PLUS:
	case PROTO_OP_LS_PLUS:
		if ((rc = sub_line(v->op, a.ptr, a.len, &s)) != 0)
			return rc;
		if (ops->sub != NULL)
			*stop = ops->sub(arg, &s);
		break;
	case PROTO_OP_UNSUB:
	case PROTO_OP_RS_MINUS:
	case PROTO_OP_LS_MINUS:
		if ((rc = sub_line(v->op, a.ptr, a.len, &s)) != 0)
			return rc;
		if (ops->unsub != NULL)
			*stop = ops->unsub(arg, &s);
		break;
	default:
		rc = msg_line(p, v->op, a.ptr, a.len, &m, &hdr, &total);
		if (rc != 0)
			return rc;
		return finish_msg(p, b, n, nl, &m, hdr, total, ops, arg, stop);
	}
	return (ssize_t)nl + 1;
}

ssize_t
proto_parse(struct proto_parser *p, const char *buf, size_t len,
    const struct proto_ops *ops, void *arg)
{
	size_t off = 0;
	ssize_t r;
	int stop;

	p->consumed = 0;
	if (p->error != 0)
		return p->error;
	if (p->need != 0 && len < p->need)
		return 0;
	while (off < len) {
		stop = 0;
		r = parse_frame(p, buf + off, len - off, ops, arg, &stop);
		if (r == 0)
			break;
		if (r < 0) {
			p->consumed = off;
			p->error = (int)r;
			return r;
		}
		off += (size_t)r;
		p->scan = p->need = 0;
		if (stop < 0) {
			p->consumed = off;
			return stop;
		}
	}
	p->consumed = off;
	return (ssize_t)off;
}

/*
 * Encoder.  Every function sizes its frame first, reserves it once and
 * then copies the pieces in, so a frame is appended whole or not at all.
 */

size_t
proto_utoa(char *dst, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);
	size_t n;

	while (v >= 100) {
		p -= 2;
		memcpy(p, digits2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digits2 + 2 * v, 2);
	} else
		*--p = (char)('0' + v);
	n = tmp + sizeof(tmp) - p;
	memcpy(dst, p, n);
	return n;
}

static inline char *
put(char *d, const void *s, size_t n)
{
	if (n > 0)
		memcpy(d, s, n);
	return d + n;
}

/* Appends the fixed frame s. */
static int
put_fixed(struct buf *b, const char *s, size_t n)
{
	return buf_append(b, s, n);
}

/* verb SP json [tail] CRLF */
static int
put_text_line(struct buf *b, const char *verb, size_t vlen,
    const char *json, size_t len, const char *tail, size_t tlen)
{
	size_t n = vlen + len + tlen + 2;
	char *d;
	int rc;

	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = buf_tail(b);
	d = put(d, verb, vlen);
	d = put(d, json, len);
	d = put(d, tail, tlen);
	put(d, "\r\n", 2);
	buf_commit(b, n);
	return 0;
}

int
proto_put_info(struct buf *b, const char *json, size_t len)
{
	return put_text_line(b, "INFO ", 5, json, len, " ", 1);
}

int
proto_put_connect(struct buf *b, const char *json, size_t len)
{
	return put_text_line(b, "CONNECT ", 8, json, len, NULL, 0);
}

int
proto_put_ping(struct buf *b)
{
	return put_fixed(b, "PING\r\n", 6);
}

int
proto_put_pong(struct buf *b)
{
	return put_fixed(b, "PONG\r\n", 6);
}

int
proto_put_ok(struct buf *b)
{
	return put_fixed(b, "+OK\r\n", 5);
}

int
proto_put_err(struct buf *b, const char *text, size_t len)
{
	return put_text_line(b, "-ERR '", 6, text, len, "'", 1);
}

int
proto_put_error(struct buf *b, int code)
{
	const char *t;

	if ((t = proto_error_text(code)) == NULL)
		return -EINVAL;
	return proto_put_err(b, t, strlen(t));
}

/*
 * Quotes s like Go's %q (strconv.Quote): printable ASCII and valid UTF-8
 * as is, '"' and '\\' escaped, C escapes for \a\b\f\n\r\t\v, \xNN for
 * other control bytes and for invalid UTF-8, \u00NN for C1 controls.
 * With dst NULL, only counts.  Returns the quoted length.
 */
static size_t
quote_go(char *dst, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n = 0, k, sl;
	char esc[6];
	unsigned c;
	uint32_t r;

#define EMIT(p, l) do {							\
	if (dst != NULL)						\
		memcpy(dst + n, (p), (l));				\
	n += (l);							\
} while (0)
	EMIT("\"", 1);
	while (i < len) {
		c = s[i];
		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\') {
				esc[0] = '\\';
				esc[1] = (char)c;
				EMIT(esc, 2);
			} else
				EMIT(&s[i], 1);
			i++;
			continue;
		}
		if (c < 0x80) {
			esc[0] = '\\';
			switch (c) {
			case '\a': esc[1] = 'a'; break;
			case '\b': esc[1] = 'b'; break;
			case '\f': esc[1] = 'f'; break;
			case '\n': esc[1] = 'n'; break;
			case '\r': esc[1] = 'r'; break;
			case '\t': esc[1] = 't'; break;
			case '\v': esc[1] = 'v'; break;
			default: esc[1] = 0; break;
			}
			if (esc[1] != 0) {
				EMIT(esc, 2);
				i++;
				continue;
			}
			goto hexbyte;
		}
		/* A UTF-8 sequence: length, range and continuation bytes. */
		if (c >= 0xc2 && c <= 0xdf) {
			sl = 2;
			r = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			sl = 3;
			r = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			sl = 4;
			r = c & 0x07;
		} else
			goto hexbyte;
		if (i + sl > len)
			goto hexbyte;
		for (k = 1; k < sl; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto hexbyte;
			r = (r << 6) | (s[i + k] & 0x3f);
		}
		if ((sl == 3 && (r < 0x800 || (r >= 0xd800 && r <= 0xdfff))) ||
		    (sl == 4 && (r < 0x10000 || r > 0x10ffff)))
			goto hexbyte;
		if (r < 0xa0) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[r >> 4];
			esc[5] = hex[r & 15];
			EMIT(esc, 6);
		} else
			EMIT(&s[i], sl);
		i += sl;
		continue;
 hexbyte:
		esc[0] = '\\';
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 15];
		EMIT(esc, 4);
		i++;
	}
	EMIT("\"", 1);
#undef EMIT
	return n;
}

int
proto_put_err_perm(struct buf *b, int code, struct proto_str subject,
    struct proto_str queue)
{
	static const char uq[] = " using queue ";
	const char *t;
	size_t tl, sl, ql = 0, n;
	char *d;
	int rc;

	if (code != PROTO_EPERMPUB && code != PROTO_EPERMSUB &&
	    code != PROTO_EPERMREPLY)
		return -EINVAL;
	t = proto_error_text(code);
	tl = strlen(t);
	sl = quote_go(NULL, subject.ptr, subject.len);
	if (code == PROTO_EPERMSUB && queue.len > 0)
		ql = sizeof(uq) - 1 + quote_go(NULL, queue.ptr, queue.len);
	n = 6 + tl + 1 + sl + ql + 3;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = buf_tail(b);
	d = put(d, "-ERR '", 6);
	d = put(d, t, tl);
	*d++ = ' ';
	d += quote_go(d, subject.ptr, subject.len);
	if (ql > 0) {
		d = put(d, uq, sizeof(uq) - 1);
		d += quote_go(d, queue.ptr, queue.len);
	}
	put(d, "'\r\n", 3);
	buf_commit(b, n);
	return 0;
}

/*
 * The common shape of message frames:
 *   verb SP f1 SP f2 [SP f3] [SP reply] [SP hdr] SP total CRLF
 *   [header block] payload CRLF
 * with absent (len 0) fields left out.  queues, when given, are inserted
 * after reply (already formatted by the caller of put_frame).
 */
struct frame {
	const char		*verb;
	size_t			 vlen;
	struct proto_str	 f[3];	/* fields before the reply */
	struct proto_str	 reply;
	const struct proto_str	*qv;	/* queue names, or NULL */
	size_t			 qn;
	const struct proto_str	*qspan;	/* or a WS-separated list */
	char			 mark;	/* '+', '|' or 0 */
	bool			 hashdr;
	struct proto_str	 hdr;
	struct proto_str	 payload;
};

static int
put_frame(struct buf *b, const struct frame *fr)
{
	char nh[20], nt[20], *d;
	size_t lh = 0, lt, n, i, total;
	struct proto_str list, tok;
	int rc;

	total = fr->hdr.len + fr->payload.len;
	if (fr->hashdr)
		lh = proto_utoa(nh, fr->hdr.len);
	lt = proto_utoa(nt, total);
	n = fr->vlen;
	for (i = 0; i < 3; i++)
		if (fr->f[i].len > 0)
			n += 1 + fr->f[i].len;
	if (fr->mark != 0)
		n += 2;
	if (fr->reply.len > 0)
		n += 1 + fr->reply.len;
	for (i = 0; fr->qv != NULL && i < fr->qn; i++)
		n += 1 + fr->qv[i].len;
	if (fr->qspan != NULL) {
		list = *fr->qspan;
		while (proto_next_token(&list, &tok))
			n += 1 + tok.len;
	}
	if (fr->hashdr)
		n += 1 + lh;
	n += 1 + lt + 2 + total + 2;

	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = buf_tail(b);
	d = put(d, fr->verb, fr->vlen);
	for (i = 0; i < 3; i++) {
		if (fr->f[i].len > 0) {
			*d++ = ' ';
			d = put(d, fr->f[i].ptr, fr->f[i].len);
		}
	}
	if (fr->mark != 0) {
		*d++ = ' ';
		*d++ = fr->mark;
	}
	if (fr->reply.len > 0) {
		*d++ = ' ';
		d = put(d, fr->reply.ptr, fr->reply.len);
	}
	for (i = 0; fr->qv != NULL && i < fr->qn; i++) {
		*d++ = ' ';
		d = put(d, fr->qv[i].ptr, fr->qv[i].len);
	}
	if (fr->qspan != NULL) {
		list = *fr->qspan;
		while (proto_next_token(&list, &tok)) {
			*d++ = ' ';
			d = put(d, tok.ptr, tok.len);
		}
	}
	if (fr->hashdr) {
		*d++ = ' ';
		d = put(d, nh, lh);
	}
	*d++ = ' ';
	d = put(d, nt, lt);
	d = put(d, "\r\n", 2);
	d = put(d, fr->hdr.ptr, fr->hdr.len);
	d = put(d, fr->payload.ptr, fr->payload.len);
	put(d, "\r\n", 2);
	buf_commit(b, n);
	return 0;
}

int
proto_put_pub(struct buf *b, const struct proto_msg *m)
{
	struct frame fr;

	memset(&fr, 0, sizeof(fr));
	fr.hashdr = m->hdr.len > 0;
	fr.verb = fr.hashdr ? "HPUB" : "PUB";
	fr.vlen = fr.hashdr ? 4 : 3;
	fr.f[0] = m->subject;
	fr.reply = m->reply;
	if (fr.hashdr)
		fr.hdr = m->hdr;
	fr.payload = m->payload;
	return put_frame(b, &fr);
}

/*
 * The hot path of MSG (subject sid) and RMSG (account subject) without
 * headers or queues: "VERB a b [reply] size\r\npayload\r\n", written
 * directly rather than through put_frame.
 */
static int
put_direct(struct buf *b, const char *verb, size_t vlen, struct proto_str a,
    struct proto_str f, struct proto_str reply, struct proto_str payload)
{
	char nt[20], *d;
	size_t n, lt;
	int rc;

	lt = proto_utoa(nt, payload.len);
	n = vlen + a.len + 1 + f.len + 1 + lt + 2 + payload.len + 2;
	if (reply.len > 0)
		n += reply.len + 1;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = put(buf_tail(b), verb, vlen);
	d = put(d, a.ptr, a.len);
	*d++ = ' ';
	d = put(d, f.ptr, f.len);
	*d++ = ' ';
	if (reply.len > 0) {
		d = put(d, reply.ptr, reply.len);
		*d++ = ' ';
	}
	d = put(d, nt, lt);
	*d++ = '\r';
	*d++ = '\n';
	d = put(d, payload.ptr, payload.len);
	*d++ = '\r';
	*d = '\n';
	buf_commit(b, n);
	return 0;
}

static int
put_msg(struct buf *b, const struct proto_msg *m, bool hdrs)
{
	struct frame fr;

	if (hdrs && m->hdr.len > 0) {
		memset(&fr, 0, sizeof(fr));
		fr.hashdr = true;
		fr.verb = "HMSG";
		fr.vlen = 4;
		fr.f[0] = m->subject;
		fr.f[1] = m->sid;
		fr.reply = m->reply;
		fr.hdr = m->hdr;
		fr.payload = m->payload;
		return put_frame(b, &fr);
	}

	return put_direct(b, "MSG ", 4, m->subject, m->sid, m->reply,
	    m->payload);
}

int
proto_put_msg(struct buf *b, const struct proto_msg *m)
{
	return put_msg(b, m, true);
}

int
proto_put_msg_nohdr(struct buf *b, const struct proto_msg *m)
{
	return put_msg(b, m, false);
}

int
proto_put_sub(struct buf *b, struct proto_str subject,
    struct proto_str queue, struct proto_str sid)
{
	size_t n = 4 + subject.len + 1 + sid.len + 2;
	char *d;
	int rc;

	if (queue.len > 0)
		n += queue.len + 1;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = put(buf_tail(b), "SUB ", 4);
	d = put(d, subject.ptr, subject.len);
	*d++ = ' ';
	if (queue.len > 0) {
		d = put(d, queue.ptr, queue.len);
		*d++ = ' ';
	}
	d = put(d, sid.ptr, sid.len);
	put(d, "\r\n", 2);
	buf_commit(b, n);
	return 0;
}

int
proto_put_unsub(struct buf *b, struct proto_str sid, uint32_t max_msgs)
{
	char nm[20];
	size_t lm = 0, n;
	char *d;
	int rc;

	if (max_msgs > 0)
		lm = proto_utoa(nm, max_msgs);
	n = 6 + sid.len + (lm > 0 ? lm + 1 : 0) + 2;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = put(buf_tail(b), "UNSUB ", 6);
	d = put(d, sid.ptr, sid.len);
	if (lm > 0) {
		*d++ = ' ';
		d = put(d, nm, lm);
	}
	put(d, "\r\n", 2);
	buf_commit(b, n);
	return 0;
}

static int
put_rs(struct buf *b, const char *verb, struct proto_str account,
    struct proto_str subject, struct proto_str queue, bool weighted,
    uint32_t weight)
{
	char nw[20];
	size_t lw = 0, n;
	char *d;
	int rc;

	n = 4 + account.len + 1 + subject.len + 2;
	if (queue.len > 0) {
		n += 1 + queue.len;
		if (weighted) {
			lw = proto_utoa(nw, weight);
			n += 1 + lw;
		}
	}
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	d = put(buf_tail(b), verb, 4);
	d = put(d, account.ptr, account.len);
	*d++ = ' ';
	d = put(d, subject.ptr, subject.len);
	if (queue.len > 0) {
		*d++ = ' ';
		d = put(d, queue.ptr, queue.len);
		if (lw > 0) {
			*d++ = ' ';
			d = put(d, nw, lw);
		}
	}
	put(d, "\r\n", 2);
	buf_commit(b, n);
	return 0;
}

int
proto_put_rs_plus(struct buf *b, struct proto_str account,
    struct proto_str subject, struct proto_str queue, uint32_t weight)
{
	return put_rs(b, "RS+ ", account, subject, queue, true, weight);
}

int
proto_put_rs_minus(struct buf *b, struct proto_str account,
    struct proto_str subject, struct proto_str queue)
{
	return put_rs(b, "RS- ", account, subject, queue, false, 0);
}

int
proto_put_rmsg(struct buf *b, const struct proto_msg *m,
    const struct proto_str *queues, size_t nqueues)
{
	struct frame fr;
	bool hasq;

	if (m->hdr.len == 0 && (queues != NULL ? nqueues == 0 :
	    m->nqueues == 0 || m->queues.len == 0))
		return put_direct(b, "RMSG ", 5, m->account, m->subject,
		    m->reply, m->payload);
	memset(&fr, 0, sizeof(fr));
	fr.hashdr = m->hdr.len > 0;
	fr.verb = fr.hashdr ? "HMSG" : "RMSG";
	fr.vlen = 4;
	fr.f[0] = m->account;
	fr.f[1] = m->subject;
	if (queues != NULL) {
		hasq = nqueues > 0;
		fr.qv = queues;
		fr.qn = nqueues;
	} else {
		hasq = m->nqueues > 0 && m->queues.len > 0;
		if (hasq)
			fr.qspan = &m->queues;
	}
	if (hasq)
		fr.mark = m->reply.len > 0 ? '+' : '|';
	fr.reply = m->reply;
	if (fr.hashdr)
		fr.hdr = m->hdr;
	fr.payload = m->payload;
	return put_frame(b, &fr);
}
