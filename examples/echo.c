/*
 * echo.c: an echo server and its client, over TCP or a Unix socket, in
 * clear or with TLS (built as coro_echo, not to clash with echo(1)).
 *
 *   coro_echo server [--tcp HOST:PORT | --unix PATH] [--tls CERT KEY]
 *   coro_echo client [--tcp HOST:PORT | --unix PATH] [--tls CAFILE] MESSAGE...
 *
 * The server accepts in its main task and serves each connection in a
 * task of its own, owned by a coro_group, echoing lines back.  It prints
 * "listening on ADDR" (with the real port when given port 0) and logs
 * connections to stderr; SIGINT or SIGTERM cancel every task, and each
 * connection's deferred cleanup closes its stream.  The client sends each
 * MESSAGE as a line and prints each line echoed back.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "coro.h"

#define DEFAULT_ADDR	"127.0.0.1:7007"
#define LINE_LEN	4096		/* longest line, newline included */
#define HANDSHAKE_MS	(10 * 1000)
#define IO_MS		(10 * 1000)	/* a client's or a write's patience */
#define IDLE_MS		(5 * 60 * 1000)	/* a silent client is dropped */
#define BACKLOG		128

struct echo_opts {
	bool		 server;
	const char	*addr;		/* as given, for messages */
	char		 host[256];	/* --tcp HOST:PORT, split */
	const char	*port;
	const char	*path;		/* --unix PATH */
	const char	*cert, *key;	/* server --tls */
	const char	*cafile;	/* client --tls */
	SSL_CTX		*ctx;
	char		**msgs;
	int		 nmsgs;
	bool		 reported;	/* the error was printed already */
	char		 buf[LINE_LEN];	/* the client's line */
};

/* One connection of the server: the task's argument, freed by its
 * deferred cleanup. */
struct conn {
	coro_stream	*s;
	SSL_CTX		*ctx;
	unsigned long	 id;
	char		 peer[128];
	char		 buf[LINE_LEN];
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: coro_echo server [--tcp HOST:PORT | --unix PATH] "
	    "[--tls CERT KEY]\n"
	    "       coro_echo client [--tcp HOST:PORT | --unix PATH] "
	    "[--tls CAFILE] MESSAGE...\n");
	exit(status);
}

/* The reason a TLS call on s failed: OpenSSL's words if any. */
static const char *
tls_reason(coro_stream *s, int err)
{
	const char *why = coro_tls_error(s);

	return why != NULL && *why != '\0' ? why : strerror(-err);
}

/* Splits HOST:PORT (or [V6]:PORT) into o->host and o->port. */
static int
split_hostport(struct echo_opts *o, const char *arg)
{
	const char *colon, *host = arg;
	size_t hostlen;

	if (*arg == '[') {
		const char *close = strchr(arg, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		host = arg + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		if ((colon = strrchr(arg, ':')) == NULL)
			return -1;
		hostlen = (size_t)(colon - arg);
		if (memchr(arg, ':', hostlen) != NULL)
			return -1;	/* an IPv6 address needs brackets */
	}
	if (hostlen >= sizeof(o->host) || colon[1] == '\0')
		return -1;
	memcpy(o->host, host, hostlen);
	o->host[hostlen] = '\0';
	o->port = colon + 1;
	return 0;
}

static void
parse_args(struct echo_opts *o, int argc, char *argv[])
{
	int i;

	if (argc < 2)
		usage(stderr, 64);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(stdout, 0);
	if (strcmp(argv[1], "server") == 0)
		o->server = true;
	else if (strcmp(argv[1], "client") != 0) {
		fprintf(stderr, "coro_echo: unknown command: %s\n", argv[1]);
		usage(stderr, 64);
	}
	for (i = 2; i < argc && argv[i][0] == '-'; i++) {
		const char *opt = argv[i];

		if (strcmp(opt, "--") == 0) {
			i++;
			break;
		} else if (strcmp(opt, "-h") == 0 ||
		    strcmp(opt, "--help") == 0) {
			usage(stdout, 0);
		} else if (strcmp(opt, "--tcp") == 0 && i + 1 < argc) {
			o->addr = argv[++i];
			o->path = NULL;
		} else if (strcmp(opt, "--unix") == 0 && i + 1 < argc) {
			o->path = o->addr = argv[++i];
		} else if (strcmp(opt, "--tls") == 0 && o->server &&
		    i + 2 < argc) {
			o->cert = argv[++i];
			o->key = argv[++i];
		} else if (strcmp(opt, "--tls") == 0 && !o->server &&
		    i + 1 < argc) {
			o->cafile = argv[++i];
		} else {
			fprintf(stderr, "coro_echo: %s: unknown option or "
			    "missing argument\n", opt);
			usage(stderr, 64);
		}
	}
	o->msgs = argv + i;
	o->nmsgs = argc - i;
	if (o->server && o->nmsgs != 0) {
		fprintf(stderr, "coro_echo: server: unexpected argument: "
		    "%s\n", o->msgs[0]);
		usage(stderr, 64);
	}
	if (!o->server && o->nmsgs == 0) {
		fprintf(stderr, "coro_echo: client: no message to send\n");
		usage(stderr, 64);
	}
	for (i = 0; i < o->nmsgs; i++) {
		if (strchr(o->msgs[i], '\n') != NULL ||
		    strlen(o->msgs[i]) >= LINE_LEN) {
			fprintf(stderr, "coro_echo: a message must be one line "
			    "of fewer than %d bytes\n", LINE_LEN);
			exit(64);
		}
	}
	if (o->addr == NULL)
		o->addr = DEFAULT_ADDR;
	if (o->path == NULL && split_hostport(o, o->addr) == -1) {
		fprintf(stderr, "coro_echo: --tcp %s: expected HOST:PORT\n",
		    o->addr);
		exit(64);
	}
	if (o->path == NULL && !o->server && o->host[0] == '\0') {
		fprintf(stderr, "coro_echo: --tcp %s: missing host\n",
		    o->addr);
		exit(64);
	}
}

/* ---- the server ---- */

static void
conn_free(void *arg)
{
	struct conn *c = arg;

	coro_stream_close(c->s);
	free(c);
}

/* Serves one connection.  Always returns 0: in a group, a failing task
 * would cancel its siblings, and one bad client must not end the others. */
static int
serve_conn(void *arg)
{
	struct conn *c = arg;
	char *buf = c->buf;
	unsigned long lines = 0;
	const char *why = "end of stream";
	ssize_t n;
	int err;

	if ((err = coro_defer(conn_free, c)) != 0) {
		conn_free(c);
		return 0;
	}
	fprintf(stderr, "c%lu %s: connected\n", c->id, c->peer);
	if (c->ctx != NULL && (err = coro_tls_server(c->s, c->ctx,
	    coro_deadline_in(HANDSHAKE_MS))) != 0) {
		fprintf(stderr, "c%lu %s: TLS handshake: %s\n", c->id,
		    c->peer, tls_reason(c->s, err));
		return 0;
	}
	for (;;) {
		n = coro_stream_read_line(c->s, buf, LINE_LEN,
		    coro_deadline_in(IDLE_MS));
		if (n == -ENOBUFS || n == -EPIPE) {
			/* a line too long, or a last one without newline:
			 * echo the bytes as they are */
			n = coro_stream_read(c->s, buf, LINE_LEN,
			    coro_deadline_in(IO_MS));
		}
		if (n == 0)
			break;
		if (n < 0) {
			why = n == -ECANCELED ? "server stopping" :
			    strerror((int)-n);
			break;
		}
		err = coro_stream_write_all(c->s, buf, (size_t)n,
		    coro_deadline_in(IO_MS));
		if (err != 0) {
			why = err == -ECANCELED ? "server stopping" :
			    strerror(-err);
			break;
		}
		lines++;
	}
	fprintf(stderr, "c%lu %s: closed, %lu line%s echoed (%s)\n", c->id,
	    c->peer, lines, lines == 1 ? "" : "s", why);
	return 0;
}

/* "HOST:PORT" of a socket address, numeric; "unix" for a Unix peer. */
static void
format_addr(const struct sockaddr_storage *ss, socklen_t len, char *buf,
    size_t buflen)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) {
		snprintf(buf, buflen, "unix");
		return;
	}
	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, buflen, "?");
		return;
	}
	snprintf(buf, buflen, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, serv);
}

/* Accepts until cancelled; a failure that will not pass is returned. */
static int
accept_loop(struct echo_opts *o, coro_listener *l, coro_group *g)
{
	struct sockaddr_storage peer;
	socklen_t peerlen;
	coro_stream *s;
	struct conn *c;
	unsigned long nconns = 0;
	int err;

	for (;;) {
		peerlen = sizeof(peer);
		err = coro_accept(l, &s, &peer, &peerlen, CORO_NEVER);
		if (err == -ECANCELED)
			return 0;
		if (err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
		    err == -ENOMEM || err == -ECONNABORTED) {
			/* out of something for now: breathe, go on */
			fprintf(stderr, "coro_echo: accept: %s\n",
			    strerror(-err));
			if (coro_sleep(100) != 0)
				return 0;
			continue;
		}
		if (err != 0) {
			fprintf(stderr, "coro_echo: accept: %s\n",
			    strerror(-err));
			return err;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			fprintf(stderr, "coro_echo: %s\n", strerror(ENOMEM));
			coro_stream_close(s);
			continue;
		}
		c->s = s;
		c->ctx = o->ctx;
		c->id = ++nconns;
		format_addr(&peer, peerlen, c->peer, sizeof(c->peer));
		if (coro_group_spawn(g, serve_conn, c,
		    &(coro_spawn_opts){ .name = "conn" }) == NULL) {
			fprintf(stderr, "coro_echo: c%lu: %s\n", c->id,
			    strerror(errno));
			conn_free(c);
		}
	}
}

static int
server_main(void *arg)
{
	struct echo_opts *o = arg;
	coro_loop *loop = coro_loop_current();
	coro_listener *l;
	coro_group *g;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char where[NI_MAXHOST + NI_MAXSERV + 4];
	int err, sig;

	if (o->path != NULL)
		err = coro_unix_listen(loop, o->path, 0, BACKLOG, &l);
	else
		err = coro_tcp_listen(loop, o->host, o->port, BACKLOG, &l);
	if (err != 0) {
		fprintf(stderr, "coro_echo: listen on %s: %s\n", o->addr,
		    strerror(-err));
		o->reported = true;
		return err;
	}
	if (o->path != NULL)
		snprintf(where, sizeof(where), "%s", o->path);
	else if ((err = coro_listener_addr(l, &ss, &sslen)) == 0)
		format_addr(&ss, sslen, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "%s", o->addr);
	printf("listening on %s\n", where);
	fflush(stdout);

	if ((g = coro_group_new(loop)) == NULL) {
		fprintf(stderr, "coro_echo: coro_group_new: %s\n",
		    strerror(errno));
		o->reported = true;
		coro_listener_close(l);
		return -ENOMEM;
	}
	err = accept_loop(o, l, g);
	if (err != 0)
		o->reported = true;
	/* stop accepting, then cancel and wait for every connection */
	coro_listener_close(l);
	coro_group_free(g);
	if ((sig = coro_loop_stop_signal(loop)) != 0)
		fprintf(stderr, "coro_echo: stopped by %s\n",
		    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" :
		    "a signal");
	return err;
}

/* ---- the client ---- */

static int
client_main(void *arg)
{
	struct echo_opts *o = arg;
	coro_loop *loop = coro_loop_current();
	coro_stream *s;
	char *buf = o->buf;
	ssize_t n;
	int i, err;

	o->reported = true;
	if (o->path != NULL)
		err = coro_unix_connect(loop, o->path,
		    coro_deadline_in(IO_MS), &s);
	else
		err = coro_tcp_connect(loop, o->host, o->port,
		    coro_deadline_in(IO_MS), &s);
	if (err != 0) {
		/* for TCP, -ENOENT means the name did not resolve */
		fprintf(stderr, "coro_echo: connect to %s: %s\n", o->addr,
		    err == -ENOENT && o->path == NULL ? "host not found" :
		    strerror(-err));
		return err;
	}
	if (o->ctx != NULL && (err = coro_tls_client(s, o->ctx,
	    o->path != NULL ? "localhost" : o->host,
	    coro_deadline_in(HANDSHAKE_MS))) != 0) {
		fprintf(stderr, "coro_echo: TLS with %s: %s\n", o->addr,
		    tls_reason(s, err));
		goto out;
	}
	for (i = 0; i < o->nmsgs; i++) {
		if ((err = coro_stream_write(s, o->msgs[i],
		    strlen(o->msgs[i]))) != 0 ||
		    (err = coro_stream_write_all(s, "\n", 1,
		    coro_deadline_in(IO_MS))) != 0) {
			fprintf(stderr, "coro_echo: sending to %s: %s\n",
			    o->addr, strerror(-err));
			goto out;
		}
		n = coro_stream_read_line(s, buf, LINE_LEN,
		    coro_deadline_in(IO_MS));
		if (n <= 0) {
			err = n == 0 ? -ECONNRESET : (int)n;
			fprintf(stderr, "coro_echo: reading from %s: %s\n",
			    o->addr, n == 0 ? "connection closed by server" :
			    strerror(-err));
			goto out;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			err = -EIO;
			fprintf(stderr, "coro_echo: stdout: %s\n",
			    strerror(errno));
			goto out;
		}
	}
	if ((err = coro_stream_shutdown(s, coro_deadline_in(IO_MS))) != 0)
		fprintf(stderr, "coro_echo: closing %s: %s\n", o->addr,
		    strerror(-err));
 out:
	coro_stream_close(s);
	return err;
}

int
main(int argc, char *argv[])
{
	static struct echo_opts o;	/* static: holds the client's line */
	int err;

	parse_args(&o, argc, argv);
	/* a peer gone mid-write must be an EPIPE, not the end of us */
	signal(SIGPIPE, SIG_IGN);

	/* errno: a file that cannot be read, else EINVAL for bad PEM */
	if (o.server && o.cert != NULL &&
	    (o.ctx = coro_tls_server_ctx_new(o.cert, o.key)) == NULL) {
		fprintf(stderr, "coro_echo: TLS certificate %s, key %s: %s\n",
		    o.cert, o.key, errno == EINVAL ?
		    "not a PEM certificate chain and its key" :
		    strerror(errno));
		return 1;
	}
	if (!o.server && o.cafile != NULL &&
	    (o.ctx = coro_tls_client_ctx_new(o.cafile)) == NULL) {
		fprintf(stderr, "coro_echo: TLS CA file %s: %s\n", o.cafile,
		    errno == EINVAL ? "no PEM certificate in it" :
		    strerror(errno));
		return 1;
	}
	err = coro_run(o.server ? server_main : client_main, &o, NULL);
	if (err != 0 && !o.reported)
		fprintf(stderr, "coro_echo: %s\n", strerror(-err));
	if (fflush(stdout) == EOF && err == 0) {
		fprintf(stderr, "coro_echo: stdout: %s\n", strerror(errno));
		err = -EIO;
	}
	SSL_CTX_free(o.ctx);
	return err != 0 ? 1 : 0;
}
