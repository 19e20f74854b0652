/*
 * bench.c: the load generator of "corobus bench", for NATS-protocol
 * servers (corobusd, nats-server): raw connections on the running libcoro
 * loop, never the session layer, so the figures are the server's.
 *
 * Publishers send prebuilt batches of PUB frames with one send each;
 * subscribers read big chunks and scan MSG frames by their size field,
 * never looking into payloads.  A window bounds the messages in flight
 * (published, not yet delivered), so a publisher never outruns the
 * server without limit; a run ends when every expected delivery has
 * arrived (publish only: when the server has answered a PING sent after
 * the last PUB), or when deliveries stall (a subscriber was cut off as a
 * slow consumer: reported as lost and slow), at the timeout, or on
 * SIGINT.  With the subscribers on another server (a cluster node),
 * probes are published until one crosses, then an end marker, before
 * the clock starts, so the route and the interest are up when it does.
 * Requesters keep one request outstanding each and time every
 * reply; responders echo the payload; idle connections hold one SUB
 * each, to weigh the server's memory.  Our own CPU use (getrusage) and,
 * given the server's pid, its CPU and resident set (/proc) are reported
 * next to the figures.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "bench.h"
#include "coro.h"

#define READ_CHUNK	(256 * 1024)	/* read buffer of a busy conn */
#define READ_MIN_ROOM	(64 * 1024)	/* room kept for one read */
#define BATCH_BYTES	(64 * 1024)	/* PUB frames per send */
#define STALL_MS	2000		/* no delivery this long: stop */
#define TICK_MS		20		/* the watcher's period */
#define PROGRESS_MS	1000
#define IDLE_WORKERS	64		/* tasks opening idle conns */
#define IDLE_SETTLE_MS	1000		/* before the RSS is read */
#define REPLY_GROUP	"corobus-bench"	/* queue group of responders */
#define PROBE_MS	100		/* between probes to a remote node */

const char *const bench_mode_names[BENCH_NMODES] = {
	"pub", "sub", "pubsub", "queue", "mpub", "req", "reply", "idle"
};

struct run;

/* One connection to the server.  rbuf[0, rlen) holds what was read and
 * not yet scanned (at most one partial frame after a scan). */
struct nconn {
	struct run	*run;
	coro_stream	*s;
	int		 fd;
	int		 id;
	bool		 tls;		/* reads go through the stream */
	char		*rbuf;
	size_t		 rlen, rcap;
	unsigned	 full_reads;	/* reads in a row without waiting */
	bool		 closed;	/* closed by the server */
	bool		 ping_due;	/* the server PINGed: PONG owed */
	unsigned	 pongs;
	bool		 pong_wait;	/* publisher: last PING sent */
	unsigned	 pong_base;
	uint64_t	 msgs;		/* MSG frames received */
	uint64_t	 bytes;		/* their payload bytes */
	uint64_t	 replies;	/* responder: replies queued */
	int		 probe;		/* 1: a probe came, 2: the marker */
	char		*wbuf;		/* responder: replies */
	size_t		 wlen, wcap;
};

struct run {
	const struct bench_opts	*o;
	struct bench_result	*res;
	coro_loop	*loop;
	/* the PUB batch: nbatch frames of framelen bytes */
	char		*batch;
	size_t		 framelen, nbatch;
	/* flow control: sent - delivered / fanout <= window (messages) */
	uint64_t	 sent, delivered, dbytes, expected, fanout, window;
	bool		 flow;
	coro_future	*wake;		/* publishers wait on it */
	int64_t		 t_start, t_first, t_end, t_last;	/* ns */
	double		 cpu_first, srv_first;	/* CPU s at t_first */
	double		 cpu_end, srv_end;	/* CPU s at t_end */
	bool		 stop;
	int		 subs_closed, pubs_closed, pubs_done;
	int		 errors;
	char		 last_error[256];
	/* req, reply */
	uint64_t	*lat;
	size_t		 nlat, lat_cap;
	uint64_t	 rr_left;	/* requests still to send, counted */
	bool		 rr_count;
	int64_t		 rr_end;	/* ns; 0: no time limit */
	int		 active;	/* requesters, responders running */
	/* idle */
	int		 next_idle;
	int		 idle_open;
	struct nconn	*conns;
	/* progress */
	int64_t		 next_progress;
};

/* ---- time and resources ---- */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The server's user + system CPU seconds, or -1. */
static double
cpu_pid(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* fields after the command name, which may hold spaces */
	if ((p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The server's resident set in KiB, or -1. */
static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static double
pct(double used, double over)
{
	if (used < 0 || over <= 0)
		return -1;
	return 100 * used / over;
}

/* ---- progress ---- */

static void
progress(struct run *r, int64_t since, bool force)
{
	struct bench_progress p;
	int64_t now;

	if (r->o->progress == NULL)
		return;
	now = now_ns();
	if (!force && now < r->next_progress)
		return;
	r->next_progress = now + (int64_t)PROGRESS_MS * 1000000;
	memset(&p, 0, sizeof(p));
	p.elapsed_s = since > 0 ? (double)(now - since) / 1e9 : 0;
	p.sent = r->sent;
	p.delivered = r->delivered;
	p.expected = r->expected;
	p.open = r->idle_open;
	r->o->progress(&p, r->o->progress_arg);
}

/* ---- connections ---- */

static void
run_error(struct run *r, const char *what, int err)
{
	r->errors++;
	snprintf(r->last_error, sizeof(r->last_error), "%s: %s", what,
	    strerror(err < 0 ? -err : err));
}

/* Makes room for at least min bytes after rlen. */
static int
nconn_room(struct nconn *c, size_t min)
{
	size_t ncap;
	char *n;

	if (c->rcap - c->rlen >= min)
		return 0;
	ncap = c->rcap ? c->rcap : 4096;
	while (ncap - c->rlen < min)
		ncap *= 2;
	if ((n = realloc(c->rbuf, ncap)) == NULL)
		return -ENOMEM;
	c->rbuf = n;
	c->rcap = ncap;
	return 0;
}

/*
 * Reads what the server sent, appended to rbuf: straight from the socket
 * while it has data, and through the stream (which waits for readiness
 * without registering the fd again) once it has none; always through the
 * stream under TLS.  Returns the count, 0 at end of stream, or a
 * negative errno.  May suspend.
 */
static ssize_t
nconn_read(struct nconn *c, int64_t deadline)
{
	struct evbuffer *in = coro_stream_input(c->s);
	size_t have;
	ssize_t n;
	int err;

	if ((err = nconn_room(c, READ_MIN_ROOM)) != 0)
		return err;
	if (c->tls) {
		n = coro_stream_read(c->s, c->rbuf + c->rlen,
		    c->rcap - c->rlen, deadline);
		if (n > 0)
			c->rlen += (size_t)n;
		return n;
	}
	if (evbuffer_get_length(in) == 0) {
		n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n > 0) {
			c->rlen += (size_t)n;
			/* a busy socket never makes us wait: let the
			 * others run now and then */
			if (++c->full_reads >= 4) {
				c->full_reads = 0;
				if ((err = coro_yield()) != 0)
					return err;
			}
			return n;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		c->full_reads = 0;
		if ((n = coro_stream_fill(c->s, deadline)) <= 0)
			return n;
	}
	have = evbuffer_get_length(in);
	if ((err = nconn_room(c, have)) != 0)
		return err;
	n = evbuffer_remove(in, c->rbuf + c->rlen, have);
	if (n > 0)
		c->rlen += (size_t)n;
	return n;
}

static int
nconn_send(struct nconn *c, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = coro_stream_send(c->s, buf, len, CORO_NEVER);
		if (n < 0)
			return (int)n;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

typedef void (*msg_fn)(struct nconn *, const char *line, size_t linelen,
    const char *payload, size_t size);

/*
 * Scans the complete frames in rbuf and keeps a partial one.  A MSG frame
 * is "MSG subject sid [reply] size\r\n" + size bytes + "\r\n": its size
 * is the last field of the line, read backwards, and the payload is
 * jumped over.  PING flags a PONG owed, PONG is counted, -ERR recorded;
 * INFO and +OK are skipped.  Returns the MSG frames seen.
 */
static uint64_t
nconn_scan(struct nconn *c, msg_fn fn)
{
	char *p = c->rbuf, *end = c->rbuf + c->rlen, *nl, *q;
	uint64_t n = 0, bytes = 0;
	size_t size, mult, total;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (p[0] == 'M') {
			q = nl - 1;
			if (*q == '\r')
				q--;
			for (size = 0, mult = 1; q > p && *q >= '0' &&
			    *q <= '9'; q--, mult *= 10)
				size += (size_t)(*q - '0') * mult;
			total = (size_t)(nl + 1 - p) + size + 2;
			if ((size_t)(end - p) < total)
				break;
			if (fn != NULL)
				fn(c, p, (size_t)(nl - p), nl + 1, size);
			n++;
			bytes += size;
			p += total;
			continue;
		}
		if (strncmp(p, "PING", 4) == 0)
			c->ping_due = true;
		else if (strncmp(p, "PONG", 4) == 0)
			c->pongs++;
		else if (p[0] == '-') {
			c->run->errors++;
			c->run->res->server_errors++;
			snprintf(c->run->last_error,
			    sizeof(c->run->last_error), "server: %.*s",
			    (int)(nl - p - (nl > p && nl[-1] == '\r')), p);
		}
		p = nl + 1;
	}
	if (p > c->rbuf) {
		c->rlen = (size_t)(end - p);
		memmove(c->rbuf, p, c->rlen);
	}
	c->msgs += n;
	c->bytes += bytes;
	return n;
}

static int
nconn_pong(struct nconn *c)
{
	if (!c->ping_due)
		return 0;
	c->ping_due = false;
	return nconn_send(c, "PONG\r\n", 6);
}

/* Whether the INFO line says "tls_required": true. */
static bool
info_tls_required(const char *line, size_t len)
{
	static const char key[] = "\"tls_required\"";
	const char *p, *end = line + len;

	for (p = line; p + sizeof(key) - 1 <= end; p++) {
		if (memcmp(p, key, sizeof(key) - 1) != 0)
			continue;
		for (p += sizeof(key) - 1; p < end &&
		    (isspace((unsigned char)*p) || *p == ':'); p++)
			;
		return (size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0;
	}
	return false;
}

/*
 * Connects to t, reads INFO, starts TLS when asked or required, sends
 * CONNECT, extra (SUBs) and PING, and waits for the PONG that proves the
 * server has taken them.  May suspend.
 */
static int
nconn_open(struct run *r, struct nconn *c, const struct bench_target *t,
    const char *extra)
{
	int64_t deadline = coro_deadline_in(t->timeout_ms);
	char *hello, *nl;
	ssize_t n;
	int err, len;

	c->run = r;
	if (t->path != NULL)
		err = coro_unix_connect(r->loop, t->path, deadline, &c->s);
	else
		err = coro_tcp_connect(r->loop, t->host, t->port, deadline,
		    &c->s);
	if (err != 0) {
		c->s = NULL;
		return err;
	}
	c->fd = coro_stream_fd(c->s);
	/* the server speaks first; nothing follows INFO before CONNECT */
	while (c->rbuf == NULL ||
	    (nl = memchr(c->rbuf, '\n', c->rlen)) == NULL) {
		if ((n = nconn_read(c, deadline)) <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
	}
	if (strncmp(c->rbuf, "INFO", 4) != 0)
		return -EPROTO;
	if (t->tls || info_tls_required(c->rbuf, (size_t)(nl - c->rbuf))) {
		if (t->ssl == NULL)
			return -EPROTO;
		c->rlen = 0;
		if ((err = coro_tls_client(c->s, t->ssl, t->host,
		    deadline)) != 0)
			return err;
		c->tls = true;
	}
	c->rlen = 0;
	len = asprintf(&hello, "CONNECT %s\r\n%sPING\r\n", t->connect,
	    extra != NULL ? extra : "");
	if (len < 0)
		return -ENOMEM;
	err = nconn_send(c, hello, (size_t)len);
	free(hello);
	if (err != 0)
		return err;
	while (c->pongs == 0) {
		if ((n = nconn_read(c, deadline)) <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		nconn_scan(c, NULL);
		if (r->errors > 0)
			return -EPROTO;
	}
	return nconn_pong(c);
}

static void
nconn_close(struct nconn *c)
{
	if (c->s != NULL)
		coro_stream_close(c->s);
	c->s = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = c->rcap = 0;
	free(c->wbuf);
	c->wbuf = NULL;
}

/* ---- flow control ---- */

static bool
flow_full(struct run *r, uint64_t more, uint64_t limit)
{
	return r->sent + more > limit + r->delivered / r->fanout;
}

/* Waits until b more messages fit in the window.  May suspend. */
static int
flow_wait(struct run *r, uint64_t b)
{
	coro_future *f;
	int err;

	while (!r->stop && r->flow && flow_full(r, b, r->window)) {
		if (r->wake == NULL &&
		    (r->wake = coro_future_new(r->loop)) == NULL)
			return -ENOMEM;
		f = coro_future_ref(r->wake);
		err = coro_await(f, NULL, coro_deadline_in(100));
		coro_future_unref(f);
		if (err == -ECANCELED)
			return err;
	}
	return r->stop ? -ECANCELED : 0;
}

/* Wakes the publishers once the window is half empty. */
static void
flow_release(struct run *r)
{
	if (r->wake == NULL || flow_full(r, 0, r->window / 2))
		return;
	coro_future_resolve(r->wake, NULL);
	coro_future_unref(r->wake);
	r->wake = NULL;
}

/* ---- throughput modes ---- */

static void
stamp_end(struct run *r, int64_t t)
{
	r->t_end = t;
	r->cpu_end = cpu_self();
	r->srv_end = cpu_pid(r->o->pid);
}

static int
sub_main(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	uint64_t before;
	ssize_t n;

	while (!r->stop) {
		if ((n = nconn_read(c, CORO_NEVER)) <= 0) {
			if (n != -ECANCELED && !r->stop) {
				c->closed = true;
				r->subs_closed++;
			}
			break;
		}
		before = c->bytes;
		if ((n = (ssize_t)nconn_scan(c, NULL)) > 0) {
			r->t_last = now_ns();
			if (r->t_first == 0) {
				r->t_first = r->t_last;
				r->cpu_first = cpu_self();
				r->srv_first = cpu_pid(r->o->pid);
			}
			r->delivered += (uint64_t)n;
			r->dbytes += c->bytes - before;
			if (r->t_end == 0 && r->delivered >= r->expected)
				stamp_end(r, r->t_last);
			flow_release(r);
		}
		if (nconn_pong(c) != 0)
			break;
	}
	return 0;
}

/* Reads a publisher's connection: PINGs, PONGs, -ERR, and its closing. */
static int
pub_reader(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	ssize_t n;

	while (!r->stop) {
		if ((n = nconn_read(c, CORO_NEVER)) <= 0) {
			if (n != -ECANCELED && !r->stop) {
				c->closed = true;
				r->pubs_closed++;
			}
			break;
		}
		nconn_scan(c, NULL);
		if (c->pong_wait && c->pongs > c->pong_base) {
			c->pong_wait = false;
			if (++r->pubs_done == r->o->pubs && r->o->subs == 0)
				stamp_end(r, now_ns());
		}
	}
	return 0;
}

static int
pub_main(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	uint64_t sent = 0, b;
	int err;

	while (sent < r->o->msgs && !c->closed) {
		b = r->o->msgs - sent;
		if (b > r->nbatch)
			b = r->nbatch;
		if (flow_wait(r, b) != 0)
			return 0;
		/* only this task writes on c: the reader flags PONGs */
		if (nconn_pong(c) != 0)
			return 0;
		r->sent += b;
		if ((err = nconn_send(c, r->batch, b * r->framelen)) != 0) {
			if (err != -ECANCELED)
				run_error(r, "publish", err);
			return 0;
		}
		sent += b;
	}
	/* publish only: done when the server has handled them all */
	if (!c->closed && nconn_pong(c) == 0) {
		c->pong_base = c->pongs;
		c->pong_wait = true;
		if ((err = nconn_send(c, "PING\r\n", 6)) != 0 &&
		    err != -ECANCELED)
			run_error(r, "publish", err);
	}
	return 0;
}

static int
build_batch(struct run *r)
{
	const struct bench_opts *o = r->o;
	char *line, *p;
	size_t ll, i;
	int n;

	if ((n = asprintf(&line, "PUB %s %zu\r\n", o->subject, o->size)) < 0)
		return -ENOMEM;
	ll = (size_t)n;
	r->framelen = ll + o->size + 2;
	r->nbatch = BATCH_BYTES / r->framelen;
	if (r->nbatch == 0)
		r->nbatch = 1;
	if ((r->batch = malloc(r->nbatch * r->framelen)) == NULL) {
		free(line);
		return -ENOMEM;
	}
	for (i = 0, p = r->batch; i < r->nbatch; i++) {
		memcpy(p, line, ll);
		memset(p + ll, 'x', o->size);
		memcpy(p + ll + o->size, "\r\n", 2);
		p += r->framelen;
	}
	free(line);
	return 0;
}

/*
 * Watches a run until done(r) says it is over, deliveries stall (stall),
 * the timeout passes or the task is cancelled, reporting progress since
 * *since (which may be set meanwhile).
 */
static void
watch(struct run *r, bool (*done)(struct run *), bool stall,
    const int64_t *since)
{
	struct bench_result *res = r->res;
	int64_t deadline = 0, last_seen = now_ns();
	uint64_t last_delivered = 0;

	if (r->o->timeout_ms > 0)
		deadline = r->t_start + r->o->timeout_ms * 1000000;
	r->next_progress = now_ns() + (int64_t)PROGRESS_MS * 1000000;
	while (!done(r)) {
		if (coro_sleep(TICK_MS) != 0) {
			res->interrupted = true;
			break;
		}
		progress(r, *since, false);
		if (r->delivered != last_delivered) {
			last_delivered = r->delivered;
			last_seen = now_ns();
		} else if (stall && (r->o->mode != BENCH_SUB ||
		    r->t_first != 0) && now_ns() - last_seen > (int64_t)STALL_MS * 1000000)
			break;
		if (deadline != 0 && now_ns() > deadline) {
			res->timed_out = true;
			break;
		}
	}
}

/* The probes' MSG handler: "p" is a probe, "e" the end marker. */
static void
probe_seen(struct nconn *c, const char *line, size_t linelen,
    const char *payload, size_t size)
{
	(void)line;
	(void)linelen;
	if (size == 1 && payload[0] == 'e')
		c->probe = 2;
	else if (c->probe == 0)
		c->probe = 1;
}

static void
target_name(const struct bench_target *t, char *buf, size_t len)
{
	if (t->path != NULL)
		snprintf(buf, len, "unix://%s", t->path);
	else
		snprintf(buf, len, "%s:%s", t->host, t->port);
}

/*
 * The subscribers are on another server than the publisher: publishes
 * a probe on the subject every PROBE_MS until each subscriber has had
 * one (the route is up and the interest has crossed it), then an end
 * marker, and reads each subscriber's messages up to it, so that no
 * probe is left in flight when the clock starts.  Within the connect
 * timeout: else -ETIMEDOUT.  May suspend.  Not inlined: bench_run's
 * frame would pass the 4 KiB the ASan build allows.
 */
static __attribute__((noinline)) int
route_wait(struct run *r, struct nconn *subs, struct nconn *pub)
{
	const struct bench_opts *o = r->o;
	int64_t deadline = coro_deadline_in(o->target.timeout_ms), wait;
	char frame[512], a[80], b[80];
	ssize_t n;
	int i, k, err = 0, want;

	for (want = 1; want <= 2 && err == 0; want++) {
		k = snprintf(frame, sizeof(frame), "PUB %s 1\r\n%c\r\n",
		    o->subject, want == 1 ? 'p' : 'e');
		if (want == 2 && (err = nconn_send(pub, frame,
		    (size_t)k)) != 0)
			break;
		for (i = 0; i < o->subs && err == 0; i++) {
			while (err == 0 && subs[i].probe < want) {
				if (want == 1 && (err = nconn_send(pub, frame,
				    (size_t)k)) != 0)
					break;
				wait = coro_deadline_in(PROBE_MS);
				if (deadline != CORO_NEVER && wait > deadline)
					wait = deadline;
				n = nconn_read(&subs[i], wait);
				if (n == 0)
					err = -ECONNRESET;
				else if (n < 0 && n != -ETIMEDOUT)
					err = (int)n;
				else if (n > 0)
					nconn_scan(&subs[i], probe_seen);
				if (err == 0)
					err = nconn_pong(&subs[i]);
				if (err == 0 && r->errors > 0)
					err = -EPROTO;
				if (err == 0 && subs[i].probe < want &&
				    deadline != CORO_NEVER &&
				    coro_now() >= deadline)
					err = -ETIMEDOUT;
			}
		}
	}
	if (err == -ETIMEDOUT) {
		target_name(&o->target, a, sizeof(a));
		target_name(&o->sub_target, b, sizeof(b));
		snprintf(r->last_error, sizeof(r->last_error), "no message "
		    "published on %.70s reached the subscribers on %.70s within "
		    "%lld ms (no route, or no interest across it)", a, b,
		    (long long)o->target.timeout_ms);
	} else if (err != 0 && r->last_error[0] == '\0')
		run_error(r, "probe", err);
	for (i = 0; i < o->subs; i++) {
		subs[i].msgs = subs[i].bytes = 0;
		subs[i].probe = 0;
	}
	return err;
}

static bool
throughput_done(struct run *r)
{
	/* publish only: every publisher is done or gone */
	return r->t_end != 0 || (r->o->subs == 0 &&
	    r->pubs_done + r->pubs_closed >= r->o->pubs);
}

static int
run_throughput(struct run *r)
{
	const struct bench_opts *o = r->o;
	struct bench_result *res = r->res;
	const struct bench_target *st = &o->target;
	struct nconn *subs, *pubs;
	coro_group *g;
	char sub[512];
	double c0, s0, c1, s1, cel;
	bool remote = o->sub_target.host != NULL ||
	    o->sub_target.path != NULL;
	int64_t t0;
	int i, err = 0;

	if ((err = build_batch(r)) != 0)
		return err;
	subs = calloc((size_t)o->subs + 1, sizeof(*subs));
	pubs = calloc((size_t)o->pubs + 1, sizeof(*pubs));
	if (subs == NULL || pubs == NULL ||
	    (g = coro_group_new(r->loop)) == NULL) {
		free(subs);
		free(pubs);
		return -ENOMEM;
	}
	r->fanout = o->mode == BENCH_QUEUE || o->subs == 0 ? 1 :
	    (uint64_t)o->subs;
	if (o->mode == BENCH_SUB)
		r->expected = o->msgs * (uint64_t)o->subs;
	else if (o->subs > 0)
		r->expected = o->msgs * (uint64_t)o->pubs * r->fanout;
	/* the window counts messages; it is given in delivered bytes */
	r->flow = o->subs > 0 && o->pubs > 0;
	r->window = o->window / ((r->framelen + 16) * r->fanout);
	if (r->window < 2 * r->nbatch)
		r->window = 2 * r->nbatch;
	if (remote && o->subs > 0 && o->pubs > 0)
		st = &o->sub_target;

	for (i = 0; i < o->subs; i++) {
		if (o->mode == BENCH_QUEUE)
			snprintf(sub, sizeof(sub), "SUB %s %s 1\r\n",
			    o->subject, REPLY_GROUP);
		else
			snprintf(sub, sizeof(sub), "SUB %s 1\r\n", o->subject);
		subs[i].id = i;
		if ((err = nconn_open(r, &subs[i], st, sub)) != 0 ||
		    (err = nconn_room(&subs[i], READ_CHUNK)) != 0) {
			run_error(r, "subscriber connect", err);
			goto out;
		}
	}
	for (i = 0; i < o->pubs; i++) {
		pubs[i].id = i;
		if ((err = nconn_open(r, &pubs[i], &o->target, NULL)) != 0) {
			run_error(r, "publisher connect", err);
			goto out;
		}
	}
	if (st != &o->target && (err = route_wait(r, subs, &pubs[0])) != 0)
		goto out;
	for (i = 0; i < o->subs; i++)
		coro_group_spawn(g, sub_main, &subs[i], NULL);
	for (i = 0; i < o->pubs; i++)
		coro_group_spawn(g, pub_reader, &pubs[i], NULL);
	if (o->mode == BENCH_SUB)	/* "waiting for messages" */
		progress(r, 0, true);

	c0 = cpu_self();
	s0 = cpu_pid(o->pid);
	r->t_start = r->t_last = now_ns();
	for (i = 0; i < o->pubs; i++)
		coro_group_spawn(g, pub_main, &pubs[i], NULL);

	/* the end is stamped by the task that sees it; this watches for
	 * stalls, the timeout and signals */
	watch(r, throughput_done, o->subs > 0, o->mode == BENCH_SUB ?
	    &r->t_first : &r->t_start);
	r->stop = true;
	if (o->mode == BENCH_SUB) {
		/* from the first delivery on */
		t0 = r->t_first;
		c0 = r->cpu_first;
		s0 = r->srv_first;
	} else
		t0 = r->t_start;
	/* CPU use up to the last delivery; after a stall, the timeout or
	 * a signal, over the whole watch */
	if (r->t_end != 0) {
		c1 = r->cpu_end;
		s1 = r->srv_end;
		cel = (double)(r->t_end - t0) / 1e9;
	} else {
		c1 = cpu_self();
		s1 = cpu_pid(o->pid);
		cel = (double)(now_ns() - t0) / 1e9;
		r->t_end = o->subs > 0 ? r->t_last : now_ns();
	}
	if (t0 == 0) {		/* sub: nothing came */
		t0 = r->t_end;
		cel = 0;
	}
	if (res->interrupted) {
		/* what was sent is what could have arrived */
		if (o->mode == BENCH_SUB)
			r->expected = r->delivered;
		else if (o->subs > 0 && r->sent * r->fanout < r->expected)
			r->expected = r->sent * r->fanout;
	}
	res->elapsed_s = (double)(r->t_end - t0) / 1e9;
	res->gen_cpu_pct = pct(c1 - c0, cel);
	res->srv_cpu_pct = s0 >= 0 && s1 >= 0 ? pct(s1 - s0, cel) : -1;
	res->slow = r->subs_closed;
	res->errors += r->pubs_closed;
 out:
	r->stop = true;
	coro_group_free(g);
	for (i = 0; i < o->subs; i++)
		nconn_close(&subs[i]);
	for (i = 0; i < o->pubs; i++)
		nconn_close(&pubs[i]);
	free(subs);
	free(pubs);
	return err;
}

/* ---- request/reply ---- */

static int
lat_add(struct run *r, uint64_t ns)
{
	uint64_t *n;

	if (r->nlat == r->lat_cap) {
		r->lat_cap = r->lat_cap ? r->lat_cap * 2 : 65536;
		if ((n = realloc(r->lat, r->lat_cap * sizeof(*n))) == NULL)
			return -ENOMEM;
		r->lat = n;
	}
	r->lat[r->nlat++] = ns;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The latency at quantile q (0 to 1) of the sorted samples, in us. */
static double
lat_at(const struct run *r, double q)
{
	size_t i;

	if (r->nlat == 0)
		return 0;
	i = (size_t)((double)r->nlat * q);
	if (i >= r->nlat)
		i = r->nlat - 1;
	return (double)r->lat[i] / 1e3;
}

/* The responder's MSG handler: "MSG subject sid reply size" gets a PUB
 * of the same payload to reply, queued in wbuf. */
static void
respond(struct nconn *c, const char *line, size_t linelen,
    const char *payload, size_t size)
{
	const char *f[6], *p = line, *end = line + linelen;
	size_t fl[6], need, n = 0;
	char *nb;
	int k;

	if (end > line && end[-1] == '\r')
		end--;
	while (p < end && n < 6) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		f[n] = p;
		while (p < end && *p != ' ')
			p++;
		fl[n] = (size_t)(p - f[n]);
		n++;
	}
	if (n != 5)
		return;		/* no reply subject */
	need = 4 + fl[3] + 1 + 20 + 2 + size + 2;
	if (c->wcap - c->wlen < need) {
		size_t ncap = c->wcap ? c->wcap : 65536;

		while (ncap - c->wlen < need)
			ncap *= 2;
		if ((nb = realloc(c->wbuf, ncap)) == NULL)
			return;
		c->wbuf = nb;
		c->wcap = ncap;
	}
	k = snprintf(c->wbuf + c->wlen, c->wcap - c->wlen, "PUB %.*s %zu\r\n",
	    (int)fl[3], f[3], size);
	c->wlen += (size_t)k;
	memcpy(c->wbuf + c->wlen, payload, size);
	c->wlen += size;
	memcpy(c->wbuf + c->wlen, "\r\n", 2);
	c->wlen += 2;
	c->replies++;
}

static int
responder_main(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	uint64_t n0, k;
	ssize_t n;
	int err;

	while (!r->stop) {
		if ((n = nconn_read(c, CORO_NEVER)) <= 0) {
			if (n != -ECANCELED && !r->stop)
				run_error(r, "responder read", n == 0 ?
				    ECONNRESET : (int)n);
			break;
		}
		n0 = c->replies;
		/* reply mode counts the requests it got; req mode counts
		 * at the requesters */
		if ((k = nconn_scan(c, respond)) > 0 &&
		    r->o->mode == BENCH_REPLY) {
			r->t_last = now_ns();
			if (r->t_first == 0) {
				r->t_first = r->t_last;
				r->cpu_first = cpu_self();
				r->srv_first = cpu_pid(r->o->pid);
			}
			r->delivered += k;
			r->dbytes += c->bytes;
			c->bytes = 0;
		}
		if (c->wlen > 0) {
			err = nconn_send(c, c->wbuf, c->wlen);
			c->wlen = 0;
			if (err != 0)
				break;
			if (r->o->mode == BENCH_REPLY)
				r->sent += c->replies - n0;
		}
		if (nconn_pong(c) != 0)
			break;
	}
	if (r->o->mode == BENCH_REPLY)
		r->active--;
	return 0;
}

static int
requester_main(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	const struct bench_opts *o = r->o;
	char *frame, *line;
	size_t ll, flen;
	uint64_t got;
	int64_t t0;
	ssize_t n;
	int err = 0, k;

	k = asprintf(&line, "PUB %s _INBOX.bench.%d.%d %zu\r\n", o->subject,
	    (int)getpid(), c->id, o->size);
	if (k < 0) {
		r->active--;
		return 0;
	}
	ll = (size_t)k;
	flen = ll + o->size + 2;
	if ((frame = malloc(flen)) == NULL) {
		free(line);
		r->active--;
		return 0;
	}
	memcpy(frame, line, ll);
	memset(frame + ll, 'x', o->size);
	memcpy(frame + ll + o->size, "\r\n", 2);
	free(line);
	while (!r->stop && (!r->rr_count || r->rr_left > 0) &&
	    (r->rr_end == 0 || now_ns() < r->rr_end)) {
		if (r->rr_count)
			r->rr_left--;
		got = c->msgs;
		t0 = now_ns();
		r->sent++;
		if ((err = nconn_send(c, frame, flen)) != 0)
			break;
		while (c->msgs == got) {
			n = nconn_read(c, coro_deadline_in(o->reply_timeout_ms));
			if (n <= 0) {
				err = n == 0 ? -ECONNRESET : (int)n;
				break;
			}
			nconn_scan(c, NULL);
			if ((err = nconn_pong(c)) != 0)
				break;
		}
		if (err != 0)
			break;
		r->t_last = now_ns();
		r->delivered++;
		r->dbytes += o->size;
		if ((err = lat_add(r, (uint64_t)(r->t_last - t0))) != 0)
			break;
	}
	if (err == -ETIMEDOUT) {
		snprintf(r->last_error, sizeof(r->last_error), "no reply "
		    "within %lld ms", (long long)o->reply_timeout_ms);
	} else if (err != 0 && err != -ECANCELED && !r->stop)
		run_error(r, "requester", err);
	free(frame);
	r->active--;
	return 0;
}

static bool
rr_done(struct run *r)
{
	const struct bench_opts *o = r->o;

	if (r->active == 0)
		return true;
	/* reply: enough requests answered, or time is up */
	return o->mode == BENCH_REPLY && ((o->msgs > 0 &&
	    r->sent >= o->msgs) || (r->rr_end != 0 &&
	    now_ns() >= r->rr_end));
}

static int
run_reqrep(struct run *r)
{
	const struct bench_opts *o = r->o;
	struct bench_result *res = r->res;
	struct nconn *req = NULL, *resp = NULL;
	coro_group *g;
	char sub[512];
	double c0, s0, c1, s1, el;
	int64_t t0;
	int i, nresp, nreq, err = 0;

	nresp = o->mode == BENCH_REPLY ? o->clients : o->no_responder ? 0 : 1;
	nreq = o->mode == BENCH_REQ ? o->clients : 0;
	req = calloc((size_t)nreq + 1, sizeof(*req));
	resp = calloc((size_t)nresp + 1, sizeof(*resp));
	if (req == NULL || resp == NULL ||
	    (g = coro_group_new(r->loop)) == NULL) {
		free(req);
		free(resp);
		return -ENOMEM;
	}
	for (i = 0; i < nresp; i++) {
		snprintf(sub, sizeof(sub), "SUB %s %s 1\r\n", o->subject,
		    REPLY_GROUP);
		resp[i].id = i;
		if ((err = nconn_open(r, &resp[i], &o->target, sub)) != 0) {
			run_error(r, "responder connect", err);
			goto out;
		}
	}
	for (i = 0; i < nreq; i++) {
		req[i].id = i;
		snprintf(sub, sizeof(sub), "SUB _INBOX.bench.%d.%d 1\r\n",
		    (int)getpid(), i);
		if ((err = nconn_open(r, &req[i], &o->target, sub)) != 0) {
			run_error(r, "requester connect", err);
			goto out;
		}
	}
	r->rr_count = o->msgs > 0;
	r->rr_left = o->msgs;
	r->expected = o->msgs;
	c0 = cpu_self();
	s0 = cpu_pid(o->pid);
	r->t_start = t0 = now_ns();
	if (o->seconds_ms > 0)
		r->rr_end = t0 + o->seconds_ms * 1000000;
	/* active: the tasks whose end ends the run */
	for (i = 0; i < nresp; i++) {
		if (o->mode == BENCH_REPLY)
			r->active++;
		coro_group_spawn(g, responder_main, &resp[i], NULL);
	}
	for (i = 0; i < nreq; i++) {
		r->active++;
		coro_group_spawn(g, requester_main, &req[i], NULL);
	}
	if (o->mode == BENCH_REPLY)	/* "waiting for requests" */
		progress(r, 0, true);
	watch(r, rr_done, false, o->mode == BENCH_REPLY ? &r->t_first :
	    &r->t_start);
	r->stop = true;
	c1 = cpu_self();
	s1 = cpu_pid(o->pid);
	if (o->mode == BENCH_REPLY) {
		t0 = r->t_first;
		c0 = r->cpu_first;
		s0 = r->srv_first;
		el = t0 != 0 ? (double)(r->t_last - t0) / 1e9 : 0;
		if (o->msgs == 0 || res->interrupted)
			r->expected = r->delivered;
	} else {
		el = (double)(now_ns() - t0) / 1e9;
		if (!r->rr_count || res->interrupted)
			r->expected = r->sent;
	}
	if (r->nlat > 0)	/* lat is NULL when nothing was timed */
		qsort(r->lat, r->nlat, sizeof(*r->lat), cmp_u64);
	res->elapsed_s = el;
	res->gen_cpu_pct = t0 != 0 ? pct(c1 - c0, (double)(now_ns() - t0) /
	    1e9) : -1;
	res->srv_cpu_pct = t0 != 0 && s0 >= 0 && s1 >= 0 ?
	    pct(s1 - s0, (double)(now_ns() - t0) / 1e9) : -1;
	res->p50_us = lat_at(r, 0.50);
	res->p90_us = lat_at(r, 0.90);
	res->p99_us = lat_at(r, 0.99);
	res->p999_us = lat_at(r, 0.999);
	res->max_us = r->nlat ? (double)r->lat[r->nlat - 1] / 1e3 : 0;
 out:
	r->stop = true;
	coro_group_free(g);
	for (i = 0; i < nresp; i++)
		nconn_close(&resp[i]);
	for (i = 0; i < nreq; i++)
		nconn_close(&req[i]);
	free(req);
	free(resp);
	return err;
}

/* ---- idle connections ---- */

static int
idle_worker(void *arg)
{
	struct run *r = arg;
	struct nconn *c;
	char sub[512];
	int i, err;

	while ((i = r->next_idle) < r->o->clients && r->errors == 0 &&
	    !r->stop) {
		r->next_idle++;
		c = &r->conns[i];
		c->id = i;
		snprintf(sub, sizeof(sub), "SUB %s.%d %d\r\n", r->o->subject,
		    i, i + 1);
		if ((err = nconn_open(r, c, &r->o->target, sub)) != 0) {
			if (err != -ECANCELED)
				run_error(r, "idle connect", err);
			break;
		}
		/* it holds: no buffer needed any more */
		free(c->rbuf);
		c->rbuf = NULL;
		c->rlen = c->rcap = 0;
		r->idle_open++;
	}
	r->active--;
	return 0;
}

static bool
idle_done(struct run *r)
{
	return r->active == 0 || r->errors > 0;
}

static int
run_idle(struct run *r)
{
	const struct bench_opts *o = r->o;
	struct bench_result *res = r->res;
	coro_group *g;
	double c0;
	int64_t hold;
	int i, nw;

	r->conns = calloc((size_t)o->clients, sizeof(*r->conns));
	if (r->conns == NULL || (g = coro_group_new(r->loop)) == NULL) {
		free(r->conns);
		return -ENOMEM;
	}
	res->rss_before_kb = rss_kb(o->pid);
	c0 = cpu_self();
	r->t_start = now_ns();
	nw = o->clients < IDLE_WORKERS ? o->clients : IDLE_WORKERS;
	for (i = 0; i < nw; i++) {
		r->active++;
		coro_group_spawn(g, idle_worker, r, &(coro_spawn_opts){
		    .name = "idle", .stack_size = CORO_STACK_MIN * 2 });
	}
	watch(r, idle_done, false, &r->t_start);
	r->stop = true;
	res->connect_s = (double)(now_ns() - r->t_start) / 1e9;
	res->gen_cpu_pct = pct(cpu_self() - c0, res->connect_s);
	res->open = r->idle_open;
	progress(r, r->t_start, true);
	/* let the server settle, read its size, hold the rest */
	hold = o->seconds_ms;
	if (!res->interrupted && r->errors == 0) {
		if (coro_sleep(hold < IDLE_SETTLE_MS ? hold :
		    IDLE_SETTLE_MS) != 0)
			res->interrupted = true;
		hold -= IDLE_SETTLE_MS;
	}
	res->rss_after_kb = rss_kb(o->pid);
	if (!res->interrupted && r->errors == 0 && hold > 0 &&
	    coro_sleep(hold) != 0)
		res->interrupted = true;
	res->elapsed_s = (double)(now_ns() - r->t_start) / 1e9;
	coro_group_free(g);
	for (i = 0; i < o->clients; i++)
		nconn_close(&r->conns[i]);
	free(r->conns);
	return 0;
}

/* ---- the run ---- */

int
bench_run(const struct bench_opts *o, struct bench_result *res)
{
	struct run r;
	int err;

	memset(res, 0, sizeof(*res));
	res->gen_cpu_pct = res->srv_cpu_pct = -1;
	res->rss_before_kb = res->rss_after_kb = res->srv_rss_kb = -1;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.res = res;
	r.loop = coro_loop_current();
	switch (o->mode) {
	case BENCH_REQ:
	case BENCH_REPLY:
		err = run_reqrep(&r);
		break;
	case BENCH_IDLE:
		err = run_idle(&r);
		break;
	default:
		err = run_throughput(&r);
		break;
	}
	if (r.wake != NULL)
		coro_future_unref(r.wake);
	free(r.batch);
	free(r.lat);
	res->sent = r.sent;
	res->delivered = r.delivered;
	res->expected = r.expected;
	res->dbytes = r.dbytes;
	/* after a signal or the timeout, what is missing may still be on
	 * its way */
	res->lost = r.expected > r.delivered && !res->interrupted &&
	    !res->timed_out ? r.expected - r.delivered : 0;
	res->errors += r.errors;
	res->srv_rss_kb = rss_kb(o->pid);
	snprintf(res->last_error, sizeof(res->last_error), "%s",
	    r.last_error);
	return err;
}
