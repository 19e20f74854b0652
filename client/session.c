/*
 * session.c: one connection of the corobus client to a NATS-protocol
 * server (corobusd or nats-server), as session.h describes.
 *
 * Three tasks share the connection.  The caller's task connects and runs
 * the handshake itself; then a reader task parses what the server sends
 * (daemon/proto.c in PROTO_CLIENT mode, over our own read buffer, so a
 * message can be handed to a callback without a copy) and a writer task
 * sends the frames that publish, subscribe and flush append to s->out,
 * so everything queued in one loop iteration goes out in one write.
 *
 * When the connection is lost the reader either ends the session or, for
 * long-running commands, reconnects with backoff and jitter, sends the
 * subscriptions again, and then lets the writer send what was queued in
 * the meantime.  Frames that were queued but unsent when the connection
 * broke are dropped (at-most-once, like every NATS client), and flushes
 * waiting on them fail with -ENOTCONN.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "proto.h"
#include "subject.h"
#include "session.h"

#define SESSION_TIMEOUT_MS	5000
#define SESSION_OUT_MAX		(64u * 1024 * 1024)
#define SESSION_IN_MAX		(80u * 1024 * 1024)
#define SESSION_READ_CHUNK	(64 * 1024)
#define SESSION_UDP_MAX		65507	/* the largest UDP payload */

/* callback stops, below PROTO_ESTOP */
#define HS_GOT_INFO		(PROTO_ESTOP - 1)
#define HS_GOT_PONG		(PROTO_ESTOP - 2)
#define S_FATAL			(PROTO_ESTOP - 3)

struct server {
	char		*url;		/* shown in messages */
	char		*host;		/* NULL for a Unix socket */
	char		*port;
	char		*path;		/* Unix socket */
	bool		 tls;
	bool		 udp;		/* udp://: datagrams, no failover */
	char		*user;		/* from "user:pass@" or "token@" */
	char		*pass;
	char		*token;
};

struct request {
	struct request	*next;
	uint64_t	 token;
	coro_future	*f;		/* resolves with a struct session_msg * */
};

struct session_sub {
	struct session	*s;
	uint64_t	 sid;
	char		*subject;
	char		*group;		/* NULL: plain */
	session_msg_cb	 cb;
	void		*arg;
	coro_queue	*q;		/* queue mode */
	bool		 ownq;
	uint64_t	 count;
	uint64_t	 dropped;
};

struct session {
	struct session_opts o;		/* strings below are our copies */
	char		*user, *password, *token, *name;
	struct server	*servers;
	size_t		 nservers;
	size_t		 cur;		/* the server in use / tried last */
	coro_loop	*loop;
	struct ssl_ctx_st *ssl;

	coro_stream	*stream;	/* NULL when disconnected */
	bool		 connected;
	bool		 started;	/* session_connect succeeded once */
	bool		 dead;		/* closed for good */
	bool		 closing;
	bool		 handshaking;
	struct proto_parser parser;
	struct buf	 in;
	struct buf	 out;		/* frames the writer has yet to send */
	coro_task	*reader;
	coro_task	*writer;
	coro_queue	*wake;		/* capacity 1: the writer's doorbell */
	bool		 wake_pending;
	coro_queue	*drain;		/* tokens for publishers waiting */
	unsigned	 ndrain;
	coro_future	**pongs;	/* FIFO of flushes waiting for PONG */
	size_t		 npongs, pongcap;

	struct session_sub **subs;	/* by sid; NULL holes */
	size_t		 subcap;
	uint64_t	 next_sid;

	char		 inbox[40];	/* "_INBOX.<nuid>" once requested */
	struct session_sub *resp;
	struct request	*reqs;
	uint64_t	 next_token;

	/* from INFO */
	size_t		 max_payload;
	char		 version[32];
	bool		 info_tls_required, info_tls_available;
	bool		 info_auth_required;
	bool		 got_info;

	/* errors */
	char		 err[512];
	int		 excode;
	bool		 fatal;		/* no point reconnecting */
	unsigned	 nservererr;
	/* udp://: each publish is one datagram (corobusd(8), DATAGRAMS);
	 * with subscriptions, the writer sends the SUBs and the reader
	 * takes MSG datagrams (udp_writer_main, udp_reader_main) */
	coro_udp	*udp;
	struct sockaddr_storage udp_to;
	socklen_t	 udp_tolen;
};

static const struct proto_ops	session_ops;

/* ---- errors ---- */

static void	seterr(struct session *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

static void
seterr(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->excode = code;
}

const char *
session_error(const struct session *s)
{
	return s != NULL ? s->err : "out of memory";
}

int
session_exit_code(const struct session *s)
{
	return s != NULL ? s->excode : EX_OSERR;
}

int
session_fail(const struct session *s)
{
	if (s == NULL) {
		fprintf(stderr, "corobus: out of memory\n");
		return EX_OSERR;
	}
	if (s->excode == EX_OK)
		return EX_OK;
	fprintf(stderr, "corobus: %s\n", s->err);
	return s->excode;
}

void
session_connect_creds(void *json, const char *user, const char *pass,
    const char *token)
{
	if (user != NULL) {
		json_object_set_new(json, "user", json_string(user));
		json_object_set_new(json, "pass", json_string(pass != NULL ?
		    pass : ""));
	}
	if (token != NULL)
		json_object_set_new(json, "auth_token", json_string(token));
}

const char *
session_fmt_duration(int64_t ms)
{
	static char buf[32];

	if (ms % 1000 == 0)
		snprintf(buf, sizeof(buf), "%llds", (long long)(ms / 1000));
	else if (ms > 1000)
		snprintf(buf, sizeof(buf), "%.1fs", (double)ms / 1000);
	else
		snprintf(buf, sizeof(buf), "%lldms", (long long)ms);
	return buf;
}

static void
trace(const struct session *s, char dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
trace(const struct session *s, char dir, const char *fmt, ...)
{
	va_list ap;

	if (s->o.debug == 0)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "corobus: %c ", dir);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
event(struct session *s, enum session_event ev, const char *detail)
{
	if (s->o.on_event != NULL) {
		s->o.on_event(s, ev, detail, s->o.event_arg);
		return;
	}
	if (s->o.quiet && ev != SESSION_SERVER_ERROR)
		return;
	switch (ev) {
	case SESSION_DISCONNECTED:
		fprintf(stderr, "corobus: disconnected from %s, "
		    "reconnecting\n", detail);
		break;
	case SESSION_RECONNECTED:
		fprintf(stderr, "corobus: reconnected to %s\n", detail);
		break;
	case SESSION_SERVER_ERROR:
		fprintf(stderr, "corobus: server: %s\n", detail);
		break;
	case SESSION_CLOSED:
		break;
	}
}

/* ---- URLs ---- */

static void
server_clear(struct server *srv)
{
	free(srv->url);
	free(srv->host);
	free(srv->port);
	free(srv->path);
	free(srv->user);
	free(srv->pass);
	free(srv->token);
	memset(srv, 0, sizeof(*srv));
}

static char *
xstrndup(const char *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL) {
		fprintf(stderr, "corobus: out of memory\n");
		exit(EX_OSERR);
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * Parses one URL (see session.h) into srv.  Returns 0, or -1 with the
 * reason in why.
 */
static int
parse_url(const char *u, size_t ulen, bool force_tls, struct server *srv,
    const char **why)
{
	const char *p = u, *end = u + ulen, *sep, *at, *hp, *colon;
	const char *scheme = "corobus", *defport = "4240";
	size_t slen;
	long port;
	char *ep;

	memset(srv, 0, sizeof(*srv));
	srv->tls = force_tls;
	if (ulen == 0) {
		*why = "empty URL";
		return -1;
	}
	if ((sep = memmem(u, ulen, "://", 3)) != NULL) {
		slen = (size_t)(sep - u);
		p = sep + 3;
		if (slen == 4 && strncasecmp(u, "nats", 4) == 0) {
			scheme = "nats";
			defport = "4222";
		} else if (slen == 3 && strncasecmp(u, "tls", 3) == 0) {
			scheme = "tls";
			defport = "4222";
			srv->tls = true;
		} else if (slen == 7 && strncasecmp(u, "corobus", 7) == 0)
			;
		else if (slen == 4 && strncasecmp(u, "unix", 4) == 0) {
			if (p == end || *p != '/') {
				*why = "unix:// needs an absolute path "
				    "(unix:///path)";
				return -1;
			}
			goto unix_path;
		} else if (slen == 3 && strncasecmp(u, "udp", 3) == 0) {
			scheme = "udp";
			srv->udp = true;
		} else {
			*why = "unknown scheme (use nats://, tls://, "
			    "corobus:// or unix://)";
			return -1;
		}
	} else if (*p == '/')
		goto unix_path;

	/* [user[:pass]@]host[:port][/] */
	if (end > p && end[-1] == '/')
		end--;
	/* end >= p here; said in a way the compiler's bounds check sees */
	if (end > p && memchr(p, '/', (size_t)(end - p)) != NULL) {
		*why = "a server URL has no path";
		return -1;
	}
	hp = p;
	for (at = end; at > p; at--)
		if (at[-1] == '@')
			break;
	if (at > p) {
		hp = at;
		at--;
		if ((colon = memchr(p, ':', (size_t)(at - p))) != NULL) {
			srv->user = xstrndup(p, (size_t)(colon - p));
			srv->pass = xstrndup(colon + 1,
			    (size_t)(at - colon - 1));
		} else
			srv->token = xstrndup(p, (size_t)(at - p));
	}
	if (hp < end && *hp == '[') {
		if ((colon = memchr(hp, ']', (size_t)(end - hp))) == NULL) {
			*why = "unterminated [IPv6 address]";
			goto fail;
		}
		srv->host = xstrndup(hp + 1, (size_t)(colon - hp - 1));
		colon++;
		if (colon < end && *colon != ':') {
			*why = "junk after ]";
			goto fail;
		}
	} else {
		colon = memchr(hp, ':', (size_t)(end - hp));
		if (colon == NULL)
			colon = end;
		srv->host = xstrndup(hp, (size_t)(colon - hp));
	}
	if (srv->host[0] == '\0') {
		*why = "no host";
		goto fail;
	}
	if (colon < end) {
		colon++;
		port = strtol(colon, &ep, 10);
		if (colon == end || ep != end || !isdigit((unsigned char)*colon)
		    || port < 1 || port > 65535) {
			*why = "the port must be a number from 1 to 65535";
			goto fail;
		}
		srv->port = xstrndup(colon, (size_t)(end - colon));
	} else
		srv->port = xstrndup(defport, strlen(defport));
	/* shown as given: a bare host:port stays bare */
	if (asprintf(&srv->url, strchr(srv->host, ':') != NULL ?
	    "%s%s[%s]:%s" : "%s%s%s:%s", sep != NULL ? scheme : "",
	    sep != NULL ? "://" : "", srv->host, srv->port) == -1) {
		srv->url = NULL;
		*why = "out of memory";
		goto fail;
	}
	return 0;

 unix_path:
	srv->path = xstrndup(p, (size_t)(end - p));
	if (asprintf(&srv->url, "unix://%s", srv->path) == -1)
		srv->url = NULL;
	return 0;
 fail:
	server_clear(srv);
	return -1;
}

static int
add_servers(struct session *s, const char *list)
{
	const char *p = list, *comma, *why;
	struct server *n, srv;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (parse_url(p, len, s->o.tls, &srv, &why) == -1) {
			seterr(s, EX_USAGE, "bad server URL \"%.*s\": %s",
			    (int)len, p, why);
			s->fatal = true;
			return -1;
		}
		n = reallocarray(s->servers, s->nservers + 1, sizeof(*n));
		if (n == NULL) {
			server_clear(&srv);
			return -1;
		}
		s->servers = n;
		s->servers[s->nservers++] = srv;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

/* ---- TLS ---- */

static int
tls_file(struct session *s, const char *what, const char *path)
{
	if (path == NULL || access(path, R_OK) == 0)
		return 0;
	seterr(s, errno == EACCES ? EX_NOPERM : EX_NOINPUT, "%s %s: %s",
	    what, path, strerror(errno));
	s->fatal = true;
	return -1;
}

static const char *
ssl_errtext(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Builds the TLS context from the options (once). */
static int
tls_setup(struct session *s)
{
	SSL_CTX *ctx;

	if (s->ssl != NULL)
		return 0;
	if (tls_file(s, "CA file", s->o.cafile) == -1 ||
	    tls_file(s, "CA directory", s->o.capath) == -1 ||
	    tls_file(s, "certificate", s->o.cert) == -1 ||
	    tls_file(s, "key", s->o.key) == -1)
		return -1;
	if ((s->o.cert == NULL) != (s->o.key == NULL)) {
		seterr(s, EX_USAGE, "--cert and --key go together");
		s->fatal = true;
		return -1;
	}
	if ((ctx = coro_tls_client_ctx_new(s->o.cafile)) == NULL) {
		seterr(s, EX_CONFIG, "TLS: %s: %s",
		    s->o.cafile != NULL ? s->o.cafile : "system CA store",
		    ssl_errtext());
		s->fatal = true;
		return -1;
	}
	if (s->o.capath != NULL &&
	    SSL_CTX_load_verify_locations(ctx, NULL, s->o.capath) != 1) {
		seterr(s, EX_CONFIG, "TLS: %s: %s", s->o.capath,
		    ssl_errtext());
		goto fail;
	}
	if (s->o.cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, s->o.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, s->o.key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
		seterr(s, EX_CONFIG, "TLS: %s, %s: %s", s->o.cert, s->o.key,
		    ssl_errtext());
		goto fail;
	}
	if (s->o.insecure)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	s->ssl = ctx;
	return 0;
 fail:
	SSL_CTX_free(ctx);
	s->fatal = true;
	return -1;
}

struct ssl_ctx_st *
session_tls_ctx(struct session *s)
{
	return s->ssl;
}

/* ---- lifecycle ---- */

static char *
dupornull(const char *p)
{
	return p != NULL ? xstrndup(p, strlen(p)) : NULL;
}

struct session *
session_new(const struct session_opts *o)
{
	struct session *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *o;
	s->user = dupornull(o->user);
	s->password = dupornull(o->password);
	s->token = dupornull(o->token);
	s->name = dupornull(o->name);
	s->o.urls = NULL;
	s->o.nurls = 0;
	if (s->o.timeout_ms <= 0)
		s->o.timeout_ms = SESSION_TIMEOUT_MS;
	if (s->o.reconnect_wait_ms <= 0)
		s->o.reconnect_wait_ms = 100;
	if (s->o.reconnect_max_wait_ms <= 0)
		s->o.reconnect_max_wait_ms = 2000;
	if (s->o.max_pending_bytes == 0)
		s->o.max_pending_bytes = 4u * 1024 * 1024;
	if (s->o.max_pending_msgs == 0)
		s->o.max_pending_msgs = 65536;
	s->loop = coro_loop_current();
	s->max_payload = PROTO_MAX_PAYLOAD;
	s->next_sid = 1;
	s->excode = EX_OK;
	buf_init(&s->in, SESSION_IN_MAX);
	buf_init(&s->out, SESSION_OUT_MAX);
	proto_parser_init(&s->parser, PROTO_CLIENT);
	if (s->loop == NULL ||
	    (s->wake = coro_queue_new(s->loop, 1)) == NULL ||
	    (s->drain = coro_queue_new(s->loop, 0)) == NULL) {
		seterr(s, EX_OSERR, "cannot set up the event loop");
		s->fatal = true;
		return s;
	}
	for (i = 0; i < o->nurls; i++)
		if (add_servers(s, o->urls[i]) == -1)
			return s;
	if (s->nservers == 0) {
		seterr(s, EX_USAGE, "no server given");
		s->fatal = true;
		return s;
	}
	for (i = 0; i < s->nservers; i++)
		if (s->servers[i].tls && tls_setup(s) == -1)
			return s;
	return s;
}

/* ---- reading frames ---- */

/* Reads more bytes into s->in: 0, or a negative errno (-ECONNRESET at
 * end of stream). */
static int
fill(struct session *s, int64_t deadline)
{
	size_t need = proto_parser_need(&s->parser), have = buf_len(&s->in);
	size_t room = SESSION_READ_CHUNK;
	ssize_t n;

	if (need > have && need - have > room)
		room = need - have;
	if (buf_avail(&s->in) < room / 4 || buf_avail(&s->in) < need - have ||
	    buf_data(&s->in) == NULL)
		if (buf_reserve(&s->in, room) != 0)
			return -ENOBUFS;
	n = coro_stream_read(s->stream, buf_tail(&s->in), buf_avail(&s->in),
	    deadline);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ECONNRESET;
	buf_commit(&s->in, (size_t)n);
	return 0;
}

/* Parses what is buffered: 0, or what the parser or a callback
 * returned. */
static int
parse(struct session *s)
{
	ssize_t n;

	if (buf_len(&s->in) == 0)
		return 0;
	n = proto_parse(&s->parser, buf_data(&s->in), buf_len(&s->in),
	    &session_ops, s);
	if (n < 0) {
		buf_consume(&s->in, proto_parser_consumed(&s->parser));
		return (int)n;
	}
	buf_consume(&s->in, (size_t)n);
	return 0;
}

/* ---- callbacks ---- */

static void
writer_wake(struct session *s)
{
	if (s->wake_pending || s->writer == NULL)
		return;
	if (coro_queue_try_put(s->wake, s) == 0)
		s->wake_pending = true;
}

static int
on_info(void *arg, const char *js, size_t len)
{
	struct session *s = arg;
	json_t *root, *v;
	json_error_t jerr;

	trace(s, '<', "INFO %.*s", (int)len, js);
	if ((root = json_loadb(js, len, 0, &jerr)) == NULL ||
	    !json_is_object(root)) {
		json_decref(root);
		if (s->handshaking) {
			seterr(s, EX_PROTOCOL, "%s: bad INFO from the server",
			    s->servers[s->cur].url);
			return S_FATAL;
		}
		return 0;
	}
	if ((v = json_object_get(root, "max_payload")) != NULL &&
	    json_integer_value(v) > 0)
		s->max_payload = (size_t)json_integer_value(v);
	if ((v = json_object_get(root, "version")) != NULL &&
	    json_is_string(v))
		snprintf(s->version, sizeof(s->version), "%s",
		    json_string_value(v));
	if (s->handshaking) {
		s->info_tls_required = json_is_true(json_object_get(root,
		    "tls_required"));
		s->info_tls_available = json_is_true(json_object_get(root,
		    "tls_available"));
		s->info_auth_required = json_is_true(json_object_get(root,
		    "auth_required"));
	}
	json_decref(root);
	if (s->handshaking && !s->got_info) {
		s->got_info = true;
		return HS_GOT_INFO;
	}
	return 0;
}

static int
on_ping(void *arg)
{
	struct session *s = arg;

	trace(s, '<', "PING");
	if (proto_put_pong(&s->out) == 0) {
		trace(s, '>', "PONG");
		writer_wake(s);
	}
	return 0;
}

static int
on_pong(void *arg)
{
	struct session *s = arg;
	coro_future *f;

	trace(s, '<', "PONG");
	if (s->handshaking)
		return HS_GOT_PONG;
	if (s->npongs == 0)
		return 0;
	f = s->pongs[0];
	memmove(s->pongs, s->pongs + 1, (s->npongs - 1) * sizeof(*s->pongs));
	s->npongs--;
	(void)coro_future_resolve(f, NULL);
	coro_future_unref(f);
	return 0;
}

static int
on_ok(void *arg)
{
	trace(arg, '<', "+OK");
	return 0;
}

static bool
contains(const char *text, size_t len, const char *what)
{
	return memmem(text, len, what, strlen(what)) != NULL;
}

static int
on_err(void *arg, const char *text, size_t len)
{
	struct session *s = arg;
	const char *url = s->servers[s->cur].url;
	char detail[320];

	trace(s, '<', "-ERR '%.*s'", (int)len, text);
	/* the ones that keep the connection open (protocol doc §1.9) */
	if (contains(text, len, "Permissions Violation") ||
	    contains(text, len, "Invalid Subject") ||
	    contains(text, len, "Invalid Publish Subject") ||
	    contains(text, len, "maximum subscriptions exceeded")) {
		s->nservererr++;
		seterr(s, contains(text, len, "Permissions") ? EX_NOPERM :
		    contains(text, len, "Invalid") ? EX_DATAERR : EX_PROTOCOL,
		    "server: %.*s", (int)len, text);
		snprintf(detail, sizeof(detail), "%.*s", (int)len, text);
		event(s, SESSION_SERVER_ERROR, detail);
		return 0;
	}
	if (contains(text, len, "Authorization Violation") ||
	    contains(text, len, "Authentication Timeout") ||
	    contains(text, len, "Authentication Expired")) {
		if (s->info_auth_required && s->user == NULL &&
		    s->token == NULL && s->servers[s->cur].user == NULL &&
		    s->servers[s->cur].token == NULL)
			seterr(s, EX_NOPERM, "%s: authorization refused: the "
			    "server wants credentials (-u and -P, or "
			    "--token)", url);
		else
			seterr(s, EX_NOPERM, "%s: authorization refused "
			    "(%.*s)", url, (int)len, text);
		s->fatal = true;
	} else if (contains(text, len, "Stale Connection") ||
	    contains(text, len, "maximum connections exceeded")) {
		seterr(s, EX_UNAVAILABLE, "%s: server error: %.*s", url,
		    (int)len, text);
	} else {
		seterr(s, EX_PROTOCOL, "%s: server error: %.*s", url,
		    (int)len, text);
		s->fatal = s->handshaking;
	}
	return S_FATAL;
}

/* "NATS/1.0 503 ..." -> 503 */
static int
hdr_status(const char *h, size_t len)
{
	int code = 0;
	size_t i;

	if (len < 12 || memcmp(h, "NATS/1.0", 8) != 0 || h[8] != ' ')
		return 0;
	for (i = 9; i < len && i < 12 && isdigit((unsigned char)h[i]); i++)
		code = code * 10 + (h[i] - '0');
	return i == 12 ? code : 0;
}

static int
on_msg(void *arg, const struct proto_msg *pm)
{
	struct session *s = arg;
	struct session_sub *sub;
	struct session_msg m, *dup;
	char *base = buf_data(&s->in);
	uint64_t sid = 0;
	size_t i;

	if (s->o.debug > 0)
		trace(s, '<', "%s %.*s %.*s%s%.*s %zu", pm->op ==
		    PROTO_OP_HMSG ? "HMSG" : "MSG", (int)pm->subject.len,
		    pm->subject.ptr, (int)pm->sid.len, pm->sid.ptr,
		    pm->reply.len > 0 ? " " : "", (int)pm->reply.len,
		    pm->reply.ptr != NULL ? pm->reply.ptr : "",
		    pm->hdr.len + pm->payload.len);
	for (i = 0; i < pm->sid.len; i++) {
		if (!isdigit((unsigned char)pm->sid.ptr[i]) || i > 18)
			return 0;
		sid = sid * 10 + (uint64_t)(pm->sid.ptr[i] - '0');
	}
	if (sid >= s->subcap || (sub = s->subs[sid]) == NULL)
		return 0;
	/* NUL-terminate in place: each field is followed by a space or by
	 * the payload's "\r\n", all of it in our own read buffer */
	memset(&m, 0, sizeof(m));
	m.sub = sub;
	m.subject = base + (pm->subject.ptr - base);
	base[pm->subject.ptr - base + (ptrdiff_t)pm->subject.len] = '\0';
	if (pm->reply.len > 0) {
		m.reply = base + (pm->reply.ptr - base);
		base[pm->reply.ptr - base + (ptrdiff_t)pm->reply.len] = '\0';
	}
	if (pm->hdr.len > 0) {
		m.hdr = pm->hdr.ptr;
		m.hdrlen = pm->hdr.len;
		m.status = hdr_status(m.hdr, m.hdrlen);
	}
	m.data = base + (pm->payload.ptr - base);
	m.len = pm->payload.len;
	base[pm->payload.ptr - base + (ptrdiff_t)pm->payload.len] = '\0';
	sub->count++;
	if (sub->cb != NULL) {
		sub->cb(&m, sub->arg);
		return 0;
	}
	if (coro_queue_len(sub->q) >= s->o.max_pending_msgs) {
		if (sub->dropped++ == 0)
			fprintf(stderr, "corobus: %s: slow consumer, dropping "
			    "messages\n", sub->subject);
		return 0;
	}
	if ((dup = session_msg_dup(&m)) == NULL)
		return 0;
	if (coro_queue_try_put(sub->q, dup) != 0)
		session_msg_free(dup);
	return 0;
}

static const struct proto_ops session_ops = {
	.info = on_info,
	.msg = on_msg,
	.ping = on_ping,
	.pong = on_pong,
	.ok = on_ok,
	.err = on_err,
};

/* ---- connecting ---- */

static int
net_error(struct session *s, const struct server *srv, int err)
{
	if (srv->path == NULL && (err == -ENOENT || err == -EAGAIN)) {
		seterr(s, EX_NOHOST, "%s: cannot resolve host \"%s\"%s",
		    srv->url, srv->host, err == -EAGAIN ?
		    " (temporary failure in name resolution)" : "");
		return err;
	}
	if (err == -ETIMEDOUT)
		seterr(s, EX_UNAVAILABLE, "cannot connect to %s: connection "
		    "timed out", srv->url);
	else
		seterr(s, EX_UNAVAILABLE, "cannot connect to %s: %s",
		    srv->url, strerror(-err));
	return err;
}

/* Reads and parses until a callback says stop: its value, or an error
 * (set in s->err). */
static int
read_until(struct session *s, int64_t deadline, const char *what)
{
	const struct server *srv = &s->servers[s->cur];
	int rc;

	for (;;) {
		if ((rc = parse(s)) != 0) {
			if (rc <= PROTO_ESTOP)
				return rc;
			seterr(s, EX_PROTOCOL, "%s: not a NATS server (bad "
			    "frame while waiting for %s)", srv->url, what);
			return S_FATAL;
		}
		if ((rc = fill(s, deadline)) != 0) {
			if (rc == -ETIMEDOUT)
				seterr(s, EX_TEMPFAIL, "%s: no %s from the "
				    "server within %s", srv->url, what,
				    session_fmt_duration(s->o.timeout_ms));
			else if (rc == -ECANCELED)
				seterr(s, EX_TEMPFAIL, "interrupted");
			else if (rc == -ECONNRESET)
				seterr(s, EX_PROTOCOL, "%s: the server closed "
				    "the connection while we waited for %s",
				    srv->url, what);
			else
				seterr(s, EX_UNAVAILABLE, "%s: %s", srv->url,
				    strerror(-rc));
			return rc;
		}
	}
}

static int
send_connect(struct session *s, const struct server *srv, bool tls,
    int64_t deadline)
{
	const char *user = srv->user != NULL ? srv->user : s->user;
	const char *pass = srv->user != NULL ? srv->pass : s->password;
	const char *token = srv->token != NULL ? srv->token : s->token;
	struct buf b;
	json_t *o;
	char *js;
	int rc;

	o = json_pack("{s:b, s:b, s:b, s:s, s:s, s:i, s:b, s:b, s:b}",
	    "verbose", 0, "pedantic", 0, "tls_required", tls,
	    "lang", "C", "version", PACKAGE_VERSION, "protocol", 1,
	    "echo", !s->o.no_echo, "headers", 1, "no_responders", 1);
	if (o == NULL)
		return -ENOMEM;
	if (s->name != NULL)
		json_object_set_new(o, "name", json_string(s->name));
	session_connect_creds(o, user, pass, token);
	js = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (js == NULL)
		return -ENOMEM;
	trace(s, '>', "CONNECT {...%s%s}", user != NULL ? " user" : "",
	    token != NULL ? " token" : "");
	buf_init(&b, BUF_NOLIMIT);
	rc = proto_put_connect(&b, js, strlen(js));
	free(js);
	if (rc == 0)
		rc = proto_put_ping(&b);
	trace(s, '>', "PING");
	if (rc == 0)
		rc = coro_stream_write_all(s->stream, buf_data(&b),
		    buf_len(&b), deadline);
	buf_release(&b);
	return rc;
}

static void
drop_stream(struct session *s)
{
	if (s->stream != NULL) {
		coro_shield_begin();
		coro_stream_close(s->stream);
		coro_shield_end();
		s->stream = NULL;
	}
	buf_reset(&s->in);
	proto_parser_reset(&s->parser);
}

/* Connects to server i and runs the handshake: 0, or an error (set). */
static int
connect_one(struct session *s, size_t i)
{
	struct server *srv = &s->servers[i];
	int64_t deadline = coro_deadline_in(s->o.timeout_ms);
	bool tls;
	int rc;

	s->cur = i;
	if (srv->path != NULL)
		rc = coro_unix_connect(s->loop, srv->path, deadline,
		    &s->stream);
	else
		rc = coro_tcp_connect(s->loop, srv->host, srv->port, deadline,
		    &s->stream);
	if (rc != 0) {
		s->stream = NULL;
		if (rc == -ECANCELED)
			return rc;
		return net_error(s, srv, rc);
	}
	s->handshaking = true;
	s->got_info = false;
	if ((rc = read_until(s, deadline, "INFO")) != HS_GOT_INFO)
		goto fail;
	tls = srv->tls || s->info_tls_required;
	if (tls && !s->info_tls_required && !s->info_tls_available) {
		seterr(s, EX_PROTOCOL, "%s: the server does not offer TLS",
		    srv->url);
		rc = S_FATAL;
		goto fail;
	}
	if (tls) {
		if ((rc = tls_setup(s)) != 0)
			goto fail;
		/* nothing may follow INFO before the handshake */
		buf_reset(&s->in);
		rc = coro_tls_client(s->stream, s->ssl, srv->host, deadline);
		if (rc != 0) {
			if (rc == -ETIMEDOUT)
				seterr(s, EX_TEMPFAIL, "%s: TLS handshake timed "
				    "out", srv->url);
			else
				seterr(s, EX_PROTOCOL, "%s: TLS handshake "
				    "failed: %s", srv->url,
				    *coro_tls_error(s->stream) != '\0' ?
				    coro_tls_error(s->stream) :
				    strerror(-rc));
			goto fail;
		}
	}
	if ((rc = send_connect(s, srv, tls, deadline)) != 0) {
		net_error(s, srv, rc);
		goto fail;
	}
	if ((rc = read_until(s, deadline, "PONG")) != HS_GOT_PONG)
		goto fail;
	s->handshaking = false;
	s->connected = true;
	return 0;
 fail:
	s->handshaking = false;
	drop_stream(s);
	return rc < 0 ? rc : -EPROTO;
}

/* Appends src to the string in dst[size], truncating. */
static void
catstr(char *dst, size_t size, const char *src)
{
	size_t len = strlen(dst), n = strlen(src);

	if (len + 1 >= size)
		return;
	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(dst + len, src, n);
	dst[len + n] = '\0';
}

/* One round over every server, starting after the one in use: 0, or the
 * error of the last one tried. */
static int
connect_round(struct session *s, bool from_start)
{
	size_t i, first = from_start ? 0 : (s->cur + 1) % s->nservers;
	char errs[400] = "";
	int rc = -ECONNREFUSED;

	for (i = 0; i < s->nservers; i++) {
		rc = connect_one(s, (first + i) % s->nservers);
		if (rc == 0 || rc == -ECANCELED || s->fatal)
			return rc;
		if (s->nservers > 1) {
			if (errs[0] != '\0')
				catstr(errs, sizeof(errs), "; ");
			catstr(errs, sizeof(errs), s->err);
		}
	}
	if (s->nservers > 1) {
		/* the last server's exit code; every reason in the text */
		snprintf(s->err, sizeof(s->err), "no server available: %s",
		    errs);
	}
	return rc;
}

/* Sends SUB for every live subscription, before anything queued. */
static int
resubscribe(struct session *s)
{
	struct session_sub *sub;
	struct buf b;
	char sid[24];
	size_t i;
	int rc = 0;

	buf_init(&b, BUF_NOLIMIT);
	for (i = 1; i < s->subcap && rc == 0; i++) {
		if ((sub = s->subs[i]) == NULL)
			continue;
		snprintf(sid, sizeof(sid), "%" PRIu64, sub->sid);
		rc = proto_put_sub(&b, (struct proto_str){ sub->subject,
		    strlen(sub->subject) }, (struct proto_str){ sub->group,
		    sub->group != NULL ? strlen(sub->group) : 0 },
		    (struct proto_str){ sid, strlen(sid) });
	}
	if (rc == 0 && buf_len(&b) > 0)
		rc = coro_stream_write_all(s->stream, buf_data(&b),
		    buf_len(&b), coro_deadline_in(s->o.timeout_ms));
	buf_release(&b);
	return rc;
}

static int	writer_main(void *);
static int	reader_main(void *);

static coro_task *
spawn(struct session *s, coro_fn fn, const char *name)
{
	coro_spawn_opts so = { name, 0 };

	return coro_spawn(s->loop, fn, s, &so);
}

/*
 * udp://host:port: no connection and no handshake, a socket to send
 * PUB datagrams from (fire-and-forget: nothing comes back).
 */
static int
udp_open(struct session *s)
{
	struct server *srv = &s->servers[0];
	struct addrinfo hints, *res;
	int rc;

	if (s->nservers > 1) {
		seterr(s, EX_USAGE, "a udp:// URL stands alone");
		return -EINVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(srv->host, srv->port, &hints, &res)) != 0) {
		seterr(s, EX_NOHOST, "%s: %s", srv->url, gai_strerror(rc));
		return -ENOENT;
	}
	memcpy(&s->udp_to, res->ai_addr, res->ai_addrlen);
	s->udp_tolen = res->ai_addrlen;
	freeaddrinfo(res);
	if ((rc = coro_udp_open(s->loop, NULL, "0", &s->udp)) != 0) {
		seterr(s, EX_OSERR, "%s: %s", srv->url, strerror(-rc));
		return rc;
	}
	s->cur = 0;
	s->started = s->connected = true;
	return 0;
}

/* A datagram's first frame: CONNECT with the token, when there is one. */
static int
udp_put_connect(struct session *s, struct buf *b)
{
	const struct server *srv = &s->servers[0];
	const char *token = srv->token != NULL ? srv->token : s->token;
	json_t *o;
	char *js;
	int rc;

	if (token == NULL || *token == '\0')
		return 0;
	o = json_pack("{s:s}", "auth_token", token);
	js = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	rc = js != NULL ? proto_put_connect(b, js, strlen(js)) : -ENOMEM;
	free(js);
	return rc;
}

/* One PUB datagram, after CONNECT with the token when there is one. */
static int
udp_publish(struct session *s, const struct proto_msg *pm)
{
	const struct server *srv = &s->servers[0];
	struct buf b;
	ssize_t n;
	int rc;

	buf_init(&b, SESSION_UDP_MAX);
	rc = udp_put_connect(s, &b);
	if (rc == 0)
		rc = proto_put_pub(&b, pm);
	if (rc != 0) {
		buf_release(&b);
		seterr(s, EX_DATAERR, "message too big for a datagram");
		return -EMSGSIZE;
	}
	n = coro_udp_sendto(s->udp, buf_data(&b), buf_len(&b),
	    (struct sockaddr *)&s->udp_to, s->udp_tolen,
	    coro_deadline_in(s->o.timeout_ms));
	buf_release(&b);
	if (n < 0) {
		seterr(s, EX_IOERR, "%s: %s", srv->url, strerror((int)-n));
		return (int)n;
	}
	return 0;
}

int
session_connect(struct session *s)
{
	int rc;

	if (s->excode != EX_OK && s->fatal)
		return -EINVAL;
	if (s->started)
		return s->connected ? 0 : -ENOTCONN;
	if (s->nservers > 0 && s->servers[0].udp)
		return udp_open(s);
	if ((rc = connect_round(s, true)) != 0) {
		s->dead = true;
		return rc;
	}
	s->started = true;
	s->excode = EX_OK;
	s->err[0] = '\0';
	if ((s->writer = spawn(s, writer_main, "session-writer")) == NULL ||
	    (s->reader = spawn(s, reader_main, "session-reader")) == NULL) {
		seterr(s, EX_OSERR, "cannot start tasks");
		return -ENOMEM;
	}
	if (buf_len(&s->out) > 0)
		writer_wake(s);
	return 0;
}

/* ---- the writer ---- */

static void
drain_wake(struct session *s)
{
	while (s->ndrain > 0) {
		s->ndrain--;
		(void)coro_queue_try_put(s->drain, s);
	}
}

static int
writer_main(void *arg)
{
	struct session *s = arg;
	void *x;
	ssize_t n;

	for (;;) {
		if (coro_queue_get(s->wake, &x, CORO_NEVER) != 0)
			return 0;
		s->wake_pending = false;
		while (s->stream != NULL && buf_len(&s->out) > 0) {
			n = coro_stream_send_nowait(s->stream,
			    buf_data(&s->out), buf_len(&s->out));
			if (n > 0) {
				buf_consume(&s->out, (size_t)n);
				if (buf_len(&s->out) <
				    s->o.max_pending_bytes / 2)
					drain_wake(s);
				continue;
			}
			if (n == 0 && coro_stream_wait_send(s->stream,
			    CORO_NEVER) == 0)
				continue;
			/* broken: the reader sees it and cleans up */
			if (s->stream != NULL)
				(void)shutdown(coro_stream_fd(s->stream),
				    SHUT_RDWR);
			return 0;
		}
		drain_wake(s);
	}
}

/* ---- the reader ---- */

static void
fail_waiters(struct session *s, int err)
{
	struct request *r;
	size_t i;

	for (i = 0; i < s->npongs; i++) {
		(void)coro_future_fail(s->pongs[i], err);
		coro_future_unref(s->pongs[i]);
	}
	s->npongs = 0;
	if (s->dead)
		for (r = s->reqs; r != NULL; r = r->next)
			if (!coro_future_done(r->f))
				(void)coro_future_fail(r->f, err);
}

/* The connection is gone: stop the writer, drop the stream and what was
 * queued for it. */
static void
conn_lost(struct session *s)
{
	s->connected = false;
	if (s->writer != NULL) {
		coro_cancel(s->writer);
		coro_shield_begin();
		(void)coro_join(s->writer, NULL, coro_deadline_in(1000));
		coro_shield_end();
		coro_task_unref(s->writer);
		s->writer = NULL;
		s->wake_pending = false;
		while (coro_queue_try_get(s->wake, &(void *){ NULL }) == 0)
			;
	}
	drop_stream(s);
	buf_reset(&s->out);
	fail_waiters(s, -ENOTCONN);
	drain_wake(s);
}

static void
session_die(struct session *s)
{
	size_t i;

	s->dead = true;
	s->connected = false;
	fail_waiters(s, -ENOTCONN);
	for (i = 1; i < s->subcap; i++)
		if (s->subs[i] != NULL && s->subs[i]->q != NULL)
			coro_queue_close(s->subs[i]->q);
	drain_wake(s);
	event(s, SESSION_CLOSED, s->err);
}

static int
backoff_ms(struct session *s, unsigned round)
{
	int64_t ms = s->o.reconnect_wait_ms;
	uint32_t r;

	while (round-- > 0 && ms < s->o.reconnect_max_wait_ms)
		ms *= 2;
	if (ms > s->o.reconnect_max_wait_ms)
		ms = s->o.reconnect_max_wait_ms;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	return (int)(ms + (int64_t)(r % (uint32_t)(ms / 5 + 1)));
}

/* Reconnects with backoff: 0 once connected and resubscribed, else an
 * error that ends the session. */
static int
reconnect(struct session *s)
{
	unsigned round = 0;
	int rc;

	for (;;) {
		if ((rc = coro_sleep(backoff_ms(s, round))) != 0)
			return rc;
		rc = connect_round(s, false);
		if (rc == -ECANCELED || s->fatal)
			return rc != 0 ? rc : -EPROTO;
		if (rc == 0 && (rc = resubscribe(s)) != 0) {
			s->connected = false;
			drop_stream(s);
		}
		if (rc == 0)
			return 0;
		round++;
		if (s->o.reconnect_max_tries > 0 &&
		    round >= s->o.reconnect_max_tries)
			return rc;
	}
}

static int
reader_main(void *arg)
{
	struct session *s = arg;
	bool parse_err;
	char url[256];
	int rc;

	for (;;) {
		for (;;) {
			if ((parse_err = (rc = parse(s)) != 0))
				break;
			if ((rc = fill(s, CORO_NEVER)) != 0)
				break;
		}
		if (rc == -ECANCELED || coro_cancelled() || s->closing) {
			conn_lost(s);
			return 0;
		}
		snprintf(url, sizeof(url), "%s", s->servers[s->cur].url);
		if (parse_err && rc != S_FATAL)
			seterr(s, EX_PROTOCOL, "%s: protocol error from the "
			    "server", url);
		else if (!parse_err && rc == -ECONNRESET)
			seterr(s, EX_UNAVAILABLE, "connection to %s lost",
			    url);
		else if (!parse_err)
			seterr(s, EX_UNAVAILABLE, "connection to %s lost: %s",
			    url, strerror(-rc));
		conn_lost(s);
		if (!s->o.reconnect || s->fatal) {
			session_die(s);
			return 0;
		}
		event(s, SESSION_DISCONNECTED, url);
		if ((rc = reconnect(s)) != 0) {
			if (rc != -ECANCELED)
				session_die(s);
			return 0;
		}
		s->excode = EX_OK;
		s->err[0] = '\0';
		if ((s->writer = spawn(s, writer_main,
		    "session-writer")) == NULL) {
			seterr(s, EX_OSERR, "cannot start tasks");
			session_die(s);
			return 0;
		}
		writer_wake(s);
		drain_wake(s);
		event(s, SESSION_RECONNECTED, s->servers[s->cur].url);
	}
}

/* ---- udp:// subscriptions (corobusd(8), DATAGRAMS) ---- */

/*
 * The server keeps our subscriptions in a lease for this socket's
 * address while SUBs keep coming: the writer sends one datagram of
 * CONNECT (with the token), what was queued (UNSUBs, a flush's PING)
 * and a SUB for every subscription when woken and every third of the
 * lease, and the reader takes each datagram that comes from the server
 * as whole frames (MSG, HMSG, PONG).  Best-effort, at most once.
 */

/* One datagram: CONNECT, s->out (UNSUBs, PING), then a SUB, or with
 * unsub an UNSUB, for each subscription.  0 (also when there was nothing to
 * send or the send failed: the next round tries again), or -EMSGSIZE. */
static int
udp_send_subs(struct session *s, bool unsub)
{
	struct session_sub *sub;
	struct buf b;
	struct proto_str id;
	char sid[24];
	size_t i, nframes = 0;
	ssize_t n;
	int rc;

	buf_init(&b, SESSION_UDP_MAX);
	rc = udp_put_connect(s, &b);
	if (rc == 0 && buf_len(&s->out) > 0) {
		rc = buf_append(&b, buf_data(&s->out), buf_len(&s->out));
		nframes++;
	}
	buf_reset(&s->out);
	for (i = 1; rc == 0 && i < s->next_sid; i++) {
		if ((sub = s->subs[i]) == NULL)
			continue;
		snprintf(sid, sizeof(sid), "%" PRIu64, sub->sid);
		id = (struct proto_str){ sid, strlen(sid) };
		rc = unsub ? proto_put_unsub(&b, id, 0) :
		    proto_put_sub(&b, (struct proto_str){ sub->subject,
		    strlen(sub->subject) }, (struct proto_str){ sub->group,
		    sub->group != NULL ? strlen(sub->group) : 0 }, id);
		nframes++;
	}
	if (rc != 0 || nframes == 0) {
		buf_release(&b);
		return rc != 0 ? -EMSGSIZE : 0;
	}
	trace(s, '>', "%s datagram, %zu bytes", unsub ? "UNSUB" : "SUB",
	    buf_len(&b));
	n = coro_udp_sendto(s->udp, buf_data(&b), buf_len(&b),
	    (struct sockaddr *)&s->udp_to, s->udp_tolen,
	    coro_deadline_in(s->o.timeout_ms));
	if (n < 0)
		trace(s, '>', "not sent: %s", strerror((int)-n));
	buf_release(&b);
	return 0;
}

static int
udp_writer_main(void *arg)
{
	struct session *s = arg;
	int64_t refresh = CORO_NEVER;
	void *x;

	for (;;) {
		if (coro_queue_get(s->wake, &x, refresh) == -ECANCELED ||
		    coro_cancelled())
			return 0;
		s->wake_pending = false;
		if (udp_send_subs(s, false) != 0) {
			seterr(s, EX_DATAERR, "%s: the subscriptions do not "
			    "fit in a datagram", s->servers[0].url);
			session_die(s);
			return 0;
		}
		refresh = coro_deadline_in(s->o.udp_lease_ms / 3 > 0 ?
		    s->o.udp_lease_ms / 3 : 1);
	}
}

/* An address as IPv6 (IPv4 mapped) and port: false if neither. */
static bool
udp_addr(const struct sockaddr_storage *ss, uint8_t ip[16], uint16_t *port)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET6) {
		memcpy(ip, &sin6->sin6_addr, 16);
		*port = sin6->sin6_port;
		return true;
	}
	if (ss->ss_family != AF_INET)
		return false;
	memset(ip, 0, 10);
	ip[10] = ip[11] = 0xff;
	memcpy(ip + 12, &sin->sin_addr, 4);
	*port = sin->sin_port;
	return true;
}

static int
udp_reader_main(void *arg)
{
	struct session *s = arg;
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint8_t ip[16], sip[16];
	uint16_t port, sport;
	ssize_t n;

	if (!udp_addr(&s->udp_to, sip, &sport))
		return 0;
	for (;;) {
		buf_reset(&s->in);
		if (buf_reserve(&s->in, SESSION_UDP_MAX + 1) != 0)
			return 0;
		fromlen = sizeof(from);
		n = coro_udp_recvfrom(s->udp, buf_tail(&s->in),
		    buf_avail(&s->in), &from, &fromlen, CORO_NEVER);
		if (n == -ECANCELED || coro_cancelled())
			return 0;
		if (n < 0) {
			if (coro_sleep(100) != 0)
				return 0;
			continue;
		}
		/* only from the server; whole frames, a fault drops the
		 * rest of the datagram */
		if (!udp_addr(&from, ip, &port) || port != sport ||
		    memcmp(ip, sip, 16) != 0)
			continue;
		buf_commit(&s->in, (size_t)n);
		proto_parser_reset(&s->parser);
		(void)parse(s);
	}
}

static int
udp_subscribe(struct session *s)
{
	if (s->o.udp_lease_ms <= 0) {
		seterr(s, EX_USAGE, "a udp:// URL is for pub and sub only");
		return -EINVAL;
	}
	if (s->writer != NULL)
		return 0;
	if ((s->writer = spawn(s, udp_writer_main, "session-udp-writer")) ==
	    NULL || (s->reader = spawn(s, udp_reader_main,
	    "session-udp-reader")) == NULL) {
		seterr(s, EX_OSERR, "cannot start tasks");
		return -ENOMEM;
	}
	return 0;
}

/* Stops the tasks, sends the UNSUBs (best-effort), closes the socket. */
static void
udp_close(struct session *s)
{
	coro_task **t[2] = { &s->writer, &s->reader };
	bool subscribed = s->writer != NULL;
	size_t i;

	s->closing = true;
	coro_shield_begin();
	for (i = 0; i < 2; i++) {
		if (*t[i] == NULL)
			continue;
		coro_cancel(*t[i]);
		(void)coro_join(*t[i], NULL, coro_deadline_in(1000));
		coro_task_unref(*t[i]);
		*t[i] = NULL;
	}
	if (subscribed)		/* UNSUB what the server may have */
		(void)udp_send_subs(s, true);
	coro_shield_end();
	coro_udp_close(s->udp);
	s->udp = NULL;
	s->dead = true;
	s->connected = false;
}

void
session_close(struct session *s)
{
	if (s == NULL || s->closing)
		return;
	if (s->udp != NULL) {
		udp_close(s);
		return;
	}
	coro_shield_begin();
	/* after SIGINT the writer is gone too: nothing to wait for */
	if (s->connected && !s->dead && !coro_cancelled() &&
	    s->writer != NULL && buf_len(&s->out) > 0)
		(void)session_flush(s, coro_deadline_in(s->o.timeout_ms));
	s->closing = true;
	if (s->reader != NULL) {
		coro_cancel(s->reader);
		(void)coro_join(s->reader, NULL, coro_deadline_in(2000));
		coro_task_unref(s->reader);
		s->reader = NULL;
	}
	coro_shield_end();
	if (!s->dead) {
		if (s->connected || s->stream != NULL)
			conn_lost(s);
		s->dead = true;
		fail_waiters(s, -ENOTCONN);
	}
}

void
session_free(struct session *s)
{
	size_t i;
	void *x;

	if (s == NULL)
		return;
	session_close(s);
	for (i = 1; i < s->subcap; i++)
		if (s->subs[i] != NULL) {
			if (s->subs[i]->ownq) {
				while (coro_queue_try_get(s->subs[i]->q,
				    &x) == 0)
					session_msg_free(x);
				coro_queue_free(s->subs[i]->q);
			}
			free(s->subs[i]->subject);
			free(s->subs[i]->group);
			free(s->subs[i]);
		}
	free(s->subs);
	while (s->reqs != NULL) {
		struct request *r = s->reqs;

		s->reqs = r->next;
		coro_future_unref(r->f);
		free(r);
	}
	for (i = 0; i < s->nservers; i++)
		server_clear(&s->servers[i]);
	free(s->servers);
	/* flushes that timed out (a PONG that never came) leave these */
	for (i = 0; i < s->npongs; i++)
		coro_future_unref(s->pongs[i]);
	free(s->pongs);
	if (s->wake != NULL)
		coro_queue_free(s->wake);
	if (s->drain != NULL)
		coro_queue_free(s->drain);
	if (s->ssl != NULL)
		SSL_CTX_free(s->ssl);
	buf_release(&s->in);
	buf_release(&s->out);
	free(s->user);
	free(s->password);
	free(s->token);
	free(s->name);
	free(s);
}

bool
session_connected(const struct session *s)
{
	return s->connected;
}

const char *
session_url(const struct session *s)
{
	return s->started && s->nservers > 0 ? s->servers[s->cur].url : "";
}

size_t
session_max_payload(const struct session *s)
{
	return s->max_payload;
}

const char *
session_server_version(const struct session *s)
{
	return s->version;
}

unsigned
session_server_errors(const struct session *s)
{
	return s->nservererr;
}

/* ---- publishing ---- */

static int
can_queue(struct session *s)
{
	if (s->dead || s->closing) {
		if (s->excode == EX_OK)
			seterr(s, EX_UNAVAILABLE, "not connected");
		return -ENOTCONN;
	}
	return 0;
}

int
session_publish(struct session *s, const char *subject, const char *reply,
    const void *hdr, size_t hdrlen, const void *data, size_t len)
{
	struct proto_msg pm;
	int rc;
	void *x;

	if ((rc = can_queue(s)) != 0)
		return rc;
	if (hdrlen + len > s->max_payload) {
		seterr(s, EX_DATAERR, "message of %zu bytes is bigger than the "
		    "server's max_payload (%zu)", hdrlen + len,
		    s->max_payload);
		return -EMSGSIZE;
	}
	while (s->connected && buf_len(&s->out) > s->o.max_pending_bytes) {
		s->ndrain++;
		if ((rc = coro_queue_get(s->drain, &x, CORO_NEVER)) != 0)
			return rc;
		if ((rc = can_queue(s)) != 0)
			return rc;
	}
	memset(&pm, 0, sizeof(pm));
	pm.subject = (struct proto_str){ subject, strlen(subject) };
	if (reply != NULL)
		pm.reply = (struct proto_str){ reply, strlen(reply) };
	if (hdrlen > 0)
		pm.hdr = (struct proto_str){ hdr, hdrlen };
	pm.payload = (struct proto_str){ data, len };
	if (s->udp != NULL)
		return udp_publish(s, &pm);
	if ((rc = proto_put_pub(&s->out, &pm)) != 0) {
		seterr(s, EX_UNAVAILABLE, "too much data queued while "
		    "disconnected");
		return rc;
	}
	if (s->o.debug > 0)
		trace(s, '>', "%s %s%s%s %zu", hdrlen > 0 ? "HPUB" : "PUB",
		    subject, reply != NULL ? " " : "",
		    reply != NULL ? reply : "", hdrlen + len);
	writer_wake(s);
	return 0;
}

char *
session_headers(const char *const *lines, size_t n, size_t *len)
{
	struct buf b;
	const char *colon;
	size_t i;

	*len = 0;
	buf_init(&b, BUF_NOLIMIT);
	if (buf_append_str(&b, "NATS/1.0\r\n") != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((colon = strchr(lines[i], ':')) == NULL ||
		    colon == lines[i] || strpbrk(lines[i], "\r\n") != NULL)
			goto fail;
		if (buf_append_str(&b, lines[i]) != 0 ||
		    buf_append_str(&b, "\r\n") != 0)
			goto fail;
	}
	if (buf_append(&b, "\r\n\0", 3) != 0)
		goto fail;
	*len = buf_len(&b) - 1;
	return b.data;		/* off is 0: only appends */
 fail:
	buf_release(&b);
	return NULL;
}

int
session_msg_header(const struct session_msg *m, const char *name,
    const char **val, size_t *vlen)
{
	const char *p, *end, *eol, *colon;
	size_t nlen = strlen(name);

	if (m->hdr == NULL)
		return -ENOENT;
	end = m->hdr + m->hdrlen;
	/* skip the version line */
	if ((p = memchr(m->hdr, '\n', m->hdrlen)) == NULL)
		return -ENOENT;
	for (p++; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon != NULL && (size_t)(colon - p) == nlen &&
		    strncasecmp(p, name, nlen) == 0) {
			colon++;
			while (colon < eol && (*colon == ' ' || *colon == '\t'))
				colon++;
			*val = colon;
			*vlen = (size_t)(eol - colon);
			if (*vlen > 0 && colon[*vlen - 1] == '\r')
				(*vlen)--;
			return 0;
		}
	}
	return -ENOENT;
}

int
session_flush(struct session *s, int64_t deadline)
{
	coro_future **n, *f;
	int rc;

	if ((rc = can_queue(s)) != 0)
		return rc;
	/* udp: nothing to wait for when only publishing; else the PING
	 * goes out with the SUBs, and the PONG says they were taken */
	if (s->udp != NULL && s->writer == NULL)
		return 0;
	if (s->npongs == s->pongcap) {
		n = reallocarray(s->pongs, s->pongcap ? s->pongcap * 2 : 8,
		    sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		s->pongs = n;
		s->pongcap = s->pongcap ? s->pongcap * 2 : 8;
	}
	if ((f = coro_future_new(s->loop)) == NULL)
		return -ENOMEM;
	if ((rc = proto_put_ping(&s->out)) != 0) {
		coro_future_unref(f);
		return rc;
	}
	trace(s, '>', "PING");
	s->pongs[s->npongs++] = coro_future_ref(f);
	writer_wake(s);
	rc = coro_await(f, NULL, deadline);
	coro_future_unref(f);
	return rc;
}

/* ---- subscriptions ---- */

struct session_sub *
session_subscribe(struct session *s, const char *subject, const char *group,
    session_msg_cb cb, void *arg, coro_queue *q)
{
	struct session_sub *sub, **n;
	size_t cap;
	char sid[24];

	if (can_queue(s) != 0)
		return NULL;
	if (s->udp != NULL && udp_subscribe(s) != 0)
		return NULL;
	if (!subject_valid_sub(subject, strlen(subject))) {
		seterr(s, EX_DATAERR, "invalid subject \"%s\"", subject);
		return NULL;
	}
	if (group != NULL && (*group == '\0' ||
	    strpbrk(group, " \t\r\n") != NULL)) {
		seterr(s, EX_DATAERR, "invalid queue group \"%s\"", group);
		return NULL;
	}
	if (s->next_sid >= s->subcap) {
		cap = s->subcap ? s->subcap * 2 : 16;
		if ((n = reallocarray(s->subs, cap, sizeof(*n))) == NULL)
			return NULL;
		memset(n + s->subcap, 0, (cap - s->subcap) * sizeof(*n));
		s->subs = n;
		s->subcap = cap;
	}
	if ((sub = calloc(1, sizeof(*sub))) == NULL)
		return NULL;
	sub->s = s;
	sub->sid = s->next_sid;
	sub->subject = dupornull(subject);
	sub->group = dupornull(group);
	sub->cb = cb;
	sub->arg = arg;
	if (cb == NULL) {
		if (q == NULL) {
			if ((q = coro_queue_new(s->loop, 0)) == NULL)
				goto fail;
			sub->ownq = true;
		}
		sub->q = q;
	}
	snprintf(sid, sizeof(sid), "%" PRIu64, sub->sid);
	/* udp: the writer sends a SUB for every subscription */
	if (s->udp == NULL && proto_put_sub(&s->out, (struct proto_str){
	    subject, strlen(subject) }, (struct proto_str){ group,
	    group != NULL ? strlen(group) : 0 }, (struct proto_str){ sid,
	    strlen(sid) }) != 0)
		goto fail;
	trace(s, '>', "SUB %s%s%s %s", subject, group != NULL ? " " : "",
	    group != NULL ? group : "", sid);
	s->subs[s->next_sid++] = sub;
	writer_wake(s);
	return sub;
 fail:
	if (sub->ownq)
		coro_queue_free(sub->q);
	free(sub->subject);
	free(sub->group);
	free(sub);
	return NULL;
}

int
session_queue_next(coro_queue *q, struct session_msg **m, int64_t deadline)
{
	void *x;
	int rc;

	*m = NULL;
	if ((rc = coro_queue_get(q, &x, deadline)) != 0)
		return rc;
	*m = x;
	return 0;
}

int
session_sub_next(struct session_sub *sub, struct session_msg **m,
    int64_t deadline)
{
	if (sub->q == NULL)
		return -EINVAL;
	return session_queue_next(sub->q, m, deadline);
}

void
session_unsubscribe(struct session_sub *sub)
{
	struct session *s;
	char sid[24];
	void *x;

	if (sub == NULL)
		return;
	s = sub->s;
	snprintf(sid, sizeof(sid), "%" PRIu64, sub->sid);
	if (!s->dead && proto_put_unsub(&s->out, (struct proto_str){ sid,
	    strlen(sid) }, 0) == 0) {
		trace(s, '>', "UNSUB %s", sid);
		writer_wake(s);
	}
	s->subs[sub->sid] = NULL;
	if (sub->ownq) {
		while (coro_queue_try_get(sub->q, &x) == 0)
			session_msg_free(x);
		coro_queue_free(sub->q);
	}
	free(sub->subject);
	free(sub->group);
	free(sub);
}

const char *
session_sub_subject(const struct session_sub *sub)
{
	return sub->subject;
}

uint64_t
session_sub_count(const struct session_sub *sub)
{
	return sub->count;
}

uint64_t
session_sub_dropped(const struct session_sub *sub)
{
	return sub->dropped;
}

struct session_msg *
session_msg_dup(const struct session_msg *m)
{
	size_t slen = strlen(m->subject) + 1;
	size_t rlen = m->reply != NULL ? strlen(m->reply) + 1 : 0;
	struct session_msg *d;
	char *p;

	if ((d = malloc(sizeof(*d) + slen + rlen + m->hdrlen + m->len +
	    1)) == NULL)
		return NULL;
	*d = *m;
	p = (char *)(d + 1);
	memcpy(p, m->subject, slen);
	d->subject = p;
	p += slen;
	if (rlen > 0) {
		memcpy(p, m->reply, rlen);
		d->reply = p;
		p += rlen;
	}
	if (m->hdrlen > 0) {
		memcpy(p, m->hdr, m->hdrlen);
		d->hdr = p;
		p += m->hdrlen;
	}
	if (m->len > 0)
		memcpy(p, m->data, m->len);
	p[m->len] = '\0';
	d->data = p;
	return d;
}

void
session_msg_free(struct session_msg *m)
{
	free(m);
}

/* ---- request/reply ---- */

char *
session_new_inbox(char *buf, size_t len)
{
	static const char digits[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[22];
	char nuid[23];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)random();
	for (i = 0; i < sizeof(rnd); i++)
		nuid[i] = digits[rnd[i] % 62];
	nuid[22] = '\0';
	snprintf(buf, len, "_INBOX.%s", nuid);
	return buf;
}

static void
on_response(const struct session_msg *m, void *arg)
{
	struct session *s = arg;
	struct request **pp, *r;
	const char *tok;
	uint64_t token;
	char *ep;

	tok = m->subject + strlen(s->inbox) + 1;
	token = strtoull(tok, &ep, 10);
	if (*ep != '\0')
		return;
	for (pp = &s->reqs; (r = *pp) != NULL; pp = &r->next)
		if (r->token == token)
			break;
	if (r == NULL || coro_future_done(r->f))
		return;
	if (m->status == 503 && m->len == 0)
		(void)coro_future_fail(r->f, SESSION_ENORESPONDERS);
	else
		(void)coro_future_resolve(r->f, session_msg_dup(m));
}

int
session_request(struct session *s, const char *subject, const void *hdr,
    size_t hdrlen, const void *data, size_t len, int64_t deadline,
    struct session_msg **reply)
{
	struct request *r, **pp;
	char pattern[64], rsubj[64];
	void *val = NULL;
	int rc;

	*reply = NULL;
	if ((rc = can_queue(s)) != 0)
		return rc;
	if (s->resp == NULL) {
		session_new_inbox(s->inbox, sizeof(s->inbox));
		snprintf(pattern, sizeof(pattern), "%s.*", s->inbox);
		if ((s->resp = session_subscribe(s, pattern, NULL,
		    on_response, s, NULL)) == NULL)
			return -ENOMEM;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((r->f = coro_future_new(s->loop)) == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->token = ++s->next_token;
	snprintf(rsubj, sizeof(rsubj), "%s.%" PRIu64, s->inbox, r->token);
	r->next = s->reqs;
	s->reqs = r;
	rc = session_publish(s, subject, rsubj, hdr, hdrlen, data, len);
	if (rc == 0)
		rc = coro_await(r->f, &val, deadline);
	for (pp = &s->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	/* a reply that came with the timeout is still freed */
	if (rc != 0 && coro_future_state(r->f) == CORO_DONE)
		session_msg_free(coro_future_value(r->f));
	coro_future_unref(r->f);
	free(r);
	if (rc == 0)
		*reply = val;
	return rc;
}
