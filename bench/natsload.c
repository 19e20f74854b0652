/*
 * natsload.c: a load generator for NATS-protocol servers (corobusd,
 * nats-server), one process on one libcoro loop, raw TCP sockets.
 *
 * Modes: pubsub (1 pub -> 1 sub), fanout (1 -> N subscribers), queue
 * (1 -> N members of one queue group), mpub (M pubs -> 1 sub), reqrep
 * (K requesters, one request outstanding each, one responder) and idle
 * (N connections holding one SUB each, to weigh the server's memory).
 *
 * Publishers send prebuilt batches of PUB frames with one send each;
 * subscribers read big chunks and scan MSG frames by their size field,
 * never looking into payloads.  A window bounds the messages in flight
 * (published, not yet delivered), so a publisher never outruns the
 * server without limit; a run ends when every expected delivery has
 * arrived, or when deliveries stall (a subscriber was cut off as a slow
 * consumer: reported as lost and slow) or at the timeout.  Our own CPU
 * use (getrusage) and, with --pid, the server's (/proc) are reported next
 * to the figures.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "coro.h"

#define READ_CHUNK	(256 * 1024)	/* read buffer of a busy conn */
#define READ_MIN_ROOM	(64 * 1024)	/* room kept for one read */
#define BATCH_BYTES	(64 * 1024)	/* PUB frames per send */
#define STALL_MS	2000		/* no delivery this long: stop */
#define REPLY_TIMEOUT_MS 5000		/* a request without reply: lost */
#define IDLE_WORKERS	64		/* tasks opening idle conns */
#define IDLE_SETTLE_MS	1000		/* before the RSS is read */
#define CONNECT_TIMEOUT_MS 10000

enum mode {
	MODE_PUBSUB, MODE_FANOUT, MODE_QUEUE, MODE_MPUB, MODE_REQREP,
	MODE_IDLE
};

static const char *const mode_names[] = {
	"pubsub", "fanout", "queue", "mpub", "reqrep", "idle"
};

struct opts {
	char		 host[256];
	char		 port[16];
	enum mode	 mode;
	uint64_t	 msgs;		/* per publisher */
	size_t		 size;		/* payload bytes */
	int		 subs, pubs, clients;
	double		 seconds;	/* reqrep run, idle hold */
	double		 timeout;	/* throughput modes: whole run */
	size_t		 window;	/* delivered bytes in flight */
	pid_t		 pid;		/* the server: CPU, RSS */
	bool		 json;
};

struct run;

/* One connection to the server.  rbuf[0, rlen) holds what was read and
 * not yet scanned (at most one partial frame after a scan). */
struct nconn {
	struct run	*run;
	coro_stream	*s;
	int		 fd;
	int		 id;
	char		*rbuf;
	size_t		 rlen, rcap;
	unsigned	 full_reads;	/* reads in a row without waiting */
	bool		 closed;	/* closed by the server */
	bool		 ping_due;	/* the server PINGed: PONG owed */
	unsigned	 pongs;
	uint64_t	 msgs;		/* MSG frames received */
	uint64_t	 bytes;		/* their payload bytes */
	char		*wbuf;		/* responder: replies */
	size_t		 wlen, wcap;
};

struct run {
	struct opts	*o;
	coro_loop	*loop;
	char		 subject[64];
	/* the PUB batch: nbatch frames of framelen bytes */
	char		*batch;
	size_t		 framelen, nbatch;
	/* flow control: sent - delivered / fanout <= window (messages) */
	uint64_t	 sent, delivered, dbytes, expected, fanout, window;
	coro_future	*wake;		/* publishers wait on it */
	int64_t		 t_start, t_end, t_last;	/* ns */
	double		 cpu_end, srv_end; /* CPU s at t_end */
	bool		 stop;
	int		 subs_closed, pubs_closed, errors;
	char		 last_error[128];
	/* reqrep */
	uint64_t	*lat;
	size_t		 nlat, lat_cap;
	uint64_t	 rr_lost;
	int64_t		 rr_end;		/* ns */
	/* idle */
	int		 next_idle;
	int		 idle_open;
	struct nconn	*conns;
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

/* ---- output: one line of key=value, or one JSON object ---- */

struct out {
	bool	json;
	int	n;
};

static void
out_begin(struct out *w, bool json)
{
	w->json = json;
	w->n = 0;
	if (json)
		putchar('{');
}

static void
out_str(struct out *w, const char *k, const char *v)
{
	if (w->json)
		printf("%s\"%s\":\"%s\"", w->n ? "," : "", k, v);
	else
		printf("%s%s=%s", w->n ? " " : "", k, v);
	w->n++;
}

static void
out_num(struct out *w, const char *k, double v, int prec)
{
	if (w->json)
		printf("%s\"%s\":%.*f", w->n ? "," : "", k, prec, v);
	else
		printf("%s%s=%.*f", w->n ? " " : "", k, prec, v);
	w->n++;
}

static void
out_end(struct out *w)
{
	if (w->json)
		putchar('}');
	putchar('\n');
	fflush(stdout);
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
 * without registering the fd again) once it has none.  Returns the count,
 * 0 at end of stream, or a negative errno.  May suspend.
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
 * jumped over.  PING flags a PONG owed, PONG is counted, -ERR recorded.
 * Returns the MSG frames seen.
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
			snprintf(c->run->last_error,
			    sizeof(c->run->last_error), "%.*s",
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

/*
 * Connects, sends CONNECT, extra (SUBs) and PING, and waits for the PONG
 * that proves the server has taken them.  May suspend.
 */
static int
nconn_open(struct run *r, struct nconn *c, const char *extra)
{
	static const char connect[] = "CONNECT {\"verbose\":false,"
	    "\"pedantic\":false,\"echo\":true,\"headers\":false,"
	    "\"protocol\":1,\"lang\":\"C\",\"version\":\"natsload\","
	    "\"name\":\"natsload\"}\r\n";
	int64_t deadline = coro_deadline_in(CONNECT_TIMEOUT_MS);
	char hello[512];
	ssize_t n;
	int err;

	c->run = r;
	if ((err = coro_tcp_connect(r->loop, r->o->host, r->o->port,
	    deadline, &c->s)) != 0)
		return err;
	c->fd = coro_stream_fd(c->s);
	snprintf(hello, sizeof(hello), "%s%sPING\r\n", connect,
	    extra != NULL ? extra : "");
	if ((err = nconn_send(c, hello, strlen(hello))) != 0)
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

	while (!r->stop && flow_full(r, b, r->window)) {
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
			r->delivered += (uint64_t)n;
			r->dbytes += c->bytes - before;
			r->t_last = now_ns();
			if (r->t_end == 0 && r->delivered >= r->expected) {
				r->t_end = r->t_last;
				r->cpu_end = cpu_self();
				r->srv_end = cpu_pid(r->o->pid);
			}
			flow_release(r);
		}
		if (nconn_pong(c) != 0)
			break;
	}
	return 0;
}

/* Reads a publisher's connection: PINGs, -ERR, and its closing. */
static int
pub_reader(void *arg)
{
	struct nconn *c = arg;
	ssize_t n;

	while (!c->run->stop) {
		if ((n = nconn_read(c, CORO_NEVER)) <= 0) {
			if (n != -ECANCELED && !c->run->stop) {
				c->closed = true;
				c->run->pubs_closed++;
			}
			break;
		}
		nconn_scan(c, NULL);
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
			break;
		/* only this task writes on c: the reader flags PONGs */
		if (nconn_pong(c) != 0)
			break;
		r->sent += b;
		if ((err = nconn_send(c, r->batch, b * r->framelen)) != 0) {
			if (err != -ECANCELED)
				run_error(r, "publish", err);
			break;
		}
		sent += b;
	}
	return 0;
}

static int
build_batch(struct run *r)
{
	char line[160];
	size_t ll, i;
	char *p;

	ll = (size_t)snprintf(line, sizeof(line), "PUB %s %zu\r\n",
	    r->subject, r->o->size);
	r->framelen = ll + r->o->size + 2;
	r->nbatch = BATCH_BYTES / r->framelen;
	if (r->nbatch == 0)
		r->nbatch = 1;
	if ((r->batch = malloc(r->nbatch * r->framelen)) == NULL)
		return -ENOMEM;
	for (i = 0, p = r->batch; i < r->nbatch; i++) {
		memcpy(p, line, ll);
		memset(p + ll, 'x', r->o->size);
		memcpy(p + ll + r->o->size, "\r\n", 2);
		p += r->framelen;
	}
	return 0;
}

static int
run_throughput(struct run *r)
{
	struct opts *o = r->o;
	struct nconn *subs, *pubs;
	coro_group *g;
	char sub[256];
	double c0, s0, c1, s1, el, cel;
	size_t deliv_frame;
	int64_t deadline, last_seen;
	uint64_t last_delivered;
	int i, err = 0;
	struct out w;

	if ((err = build_batch(r)) != 0)
		return err;
	subs = calloc((size_t)o->subs, sizeof(*subs));
	pubs = calloc((size_t)o->pubs, sizeof(*pubs));
	g = coro_group_new(r->loop);
	if (subs == NULL || pubs == NULL || g == NULL)
		return -ENOMEM;
	r->fanout = o->mode == MODE_FANOUT ? (uint64_t)o->subs : 1;
	r->expected = o->msgs * (uint64_t)o->pubs * r->fanout;
	/* the window counts messages; it is given in delivered bytes */
	deliv_frame = r->framelen + 16;
	r->window = o->window / (deliv_frame * r->fanout);
	if (r->window < 2 * r->nbatch)
		r->window = 2 * r->nbatch;

	for (i = 0; i < o->subs; i++) {
		if (o->mode == MODE_QUEUE)
			snprintf(sub, sizeof(sub), "SUB %s natsload 1\r\n",
			    r->subject);
		else
			snprintf(sub, sizeof(sub), "SUB %s 1\r\n", r->subject);
		subs[i].id = i;
		if ((err = nconn_open(r, &subs[i], sub)) != 0 ||
		    (err = nconn_room(&subs[i], READ_CHUNK)) != 0) {
			run_error(r, "subscriber connect", err);
			goto out;
		}
	}
	for (i = 0; i < o->pubs; i++) {
		pubs[i].id = i;
		if ((err = nconn_open(r, &pubs[i], NULL)) != 0) {
			run_error(r, "publisher connect", err);
			goto out;
		}
	}
	for (i = 0; i < o->subs; i++)
		coro_group_spawn(g, sub_main, &subs[i], NULL);
	for (i = 0; i < o->pubs; i++)
		coro_group_spawn(g, pub_reader, &pubs[i], NULL);

	c0 = cpu_self();
	s0 = cpu_pid(o->pid);
	r->t_start = r->t_last = now_ns();
	for (i = 0; i < o->pubs; i++)
		coro_group_spawn(g, pub_main, &pubs[i], NULL);

	/* the end is stamped by the subscriber that sees it; this only
	 * watches for stalls and the timeout */
	deadline = r->t_start + (int64_t)(o->timeout * 1e9);
	last_delivered = 0;
	last_seen = now_ns();
	while (r->t_end == 0) {
		if ((err = coro_sleep(20)) != 0)
			break;
		if (r->delivered != last_delivered) {
			last_delivered = r->delivered;
			last_seen = now_ns();
		} else if (now_ns() - last_seen > (int64_t)STALL_MS * 1000000)
			break;
		if (now_ns() > deadline)
			break;
	}
	/* CPU use up to the last delivery; after a stall or the timeout,
	 * over the whole watch */
	if (r->t_end != 0) {
		c1 = r->cpu_end;
		s1 = r->srv_end;
		cel = (double)(r->t_end - r->t_start) / 1e9;
	} else {
		c1 = cpu_self();
		s1 = cpu_pid(o->pid);
		cel = (double)(now_ns() - r->t_start) / 1e9;
		r->t_end = r->t_last;
	}
	r->stop = true;
	el = (double)(r->t_end - r->t_start) / 1e9;
	if (el <= 0)
		el = 1e-9;
	if (cel <= 0)
		cel = 1e-9;

	out_begin(&w, o->json);
	out_str(&w, "mode", mode_names[o->mode]);
	out_num(&w, "size", (double)o->size, 0);
	out_num(&w, "pubs", o->pubs, 0);
	out_num(&w, "subs", o->subs, 0);
	out_num(&w, "msgs", (double)r->sent, 0);
	out_num(&w, "deliveries", (double)r->delivered, 0);
	out_num(&w, "elapsed_s", el, 3);
	out_num(&w, "msgs_per_s", (double)r->sent / el, 0);
	out_num(&w, "deliveries_per_s", (double)r->delivered / el, 0);
	out_num(&w, "MB_per_s", (double)r->dbytes / el / 1e6, 1);
	out_num(&w, "lost", (double)(r->expected - (r->delivered <
	    r->expected ? r->delivered : r->expected)), 0);
	out_num(&w, "slow", r->subs_closed, 0);
	out_num(&w, "errors", r->errors + r->pubs_closed, 0);
	out_num(&w, "gen_cpu_pct", 100 * (c1 - c0) / cel, 1);
	if (s0 >= 0 && s1 >= 0)
		out_num(&w, "srv_cpu_pct", 100 * (s1 - s0) / cel, 1);
	if (r->errors > 0)
		out_str(&w, "last_error", r->last_error);
	out_end(&w);
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
}

static int
responder_main(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	ssize_t n;
	int err;

	while (!r->stop) {
		if ((n = nconn_read(c, CORO_NEVER)) <= 0) {
			if (n != -ECANCELED && !r->stop)
				run_error(r, "responder read", n == 0 ?
				    ECONNRESET : (int)n);
			break;
		}
		nconn_scan(c, respond);
		if (c->wlen > 0) {
			err = nconn_send(c, c->wbuf, c->wlen);
			c->wlen = 0;
			if (err != 0)
				break;
		}
		if (nconn_pong(c) != 0)
			break;
	}
	return 0;
}

static int
requester_main(void *arg)
{
	struct nconn *c = arg;
	struct run *r = c->run;
	char line[160], *frame;
	size_t ll, flen;
	uint64_t got;
	int64_t t0;
	ssize_t n;
	int err = 0;

	ll = (size_t)snprintf(line, sizeof(line), "PUB %s _INBOX.natsload.%d."
	    "%d %zu\r\n", r->subject, (int)getpid(), c->id, r->o->size);
	flen = ll + r->o->size + 2;
	if ((frame = malloc(flen)) == NULL)
		return -ENOMEM;
	memcpy(frame, line, ll);
	memset(frame + ll, 'x', r->o->size);
	memcpy(frame + ll + r->o->size, "\r\n", 2);
	while (!r->stop && now_ns() < r->rr_end) {
		got = c->msgs;
		t0 = now_ns();
		if ((err = nconn_send(c, frame, flen)) != 0)
			break;
		while (c->msgs == got) {
			n = nconn_read(c, coro_deadline_in(REPLY_TIMEOUT_MS));
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
		if ((err = lat_add(r, (uint64_t)(now_ns() - t0))) != 0)
			break;
	}
	if (err == -ETIMEDOUT)
		r->rr_lost++;
	else if (err != 0 && err != -ECANCELED)
		run_error(r, "requester", err);
	free(frame);
	return 0;
}

static int
run_reqrep(struct run *r)
{
	struct opts *o = r->o;
	struct nconn *req, resp;
	coro_task **tasks;
	coro_group *g;
	char sub[256];
	double c0, s0, c1, s1, el;
	int64_t t0;
	int i, err = 0;
	struct out w;

	memset(&resp, 0, sizeof(resp));
	req = calloc((size_t)o->clients, sizeof(*req));
	tasks = calloc((size_t)o->clients, sizeof(*tasks));
	g = coro_group_new(r->loop);
	if (req == NULL || tasks == NULL || g == NULL)
		return -ENOMEM;
	snprintf(sub, sizeof(sub), "SUB %s 1\r\n", r->subject);
	if ((err = nconn_open(r, &resp, sub)) != 0) {
		run_error(r, "responder connect", err);
		goto out;
	}
	for (i = 0; i < o->clients; i++) {
		req[i].id = i;
		snprintf(sub, sizeof(sub), "SUB _INBOX.natsload.%d.%d 1\r\n",
		    (int)getpid(), i);
		if ((err = nconn_open(r, &req[i], sub)) != 0) {
			run_error(r, "requester connect", err);
			goto out;
		}
	}
	coro_group_spawn(g, responder_main, &resp, NULL);
	c0 = cpu_self();
	s0 = cpu_pid(o->pid);
	t0 = now_ns();
	r->rr_end = t0 + (int64_t)(o->seconds * 1e9);
	for (i = 0; i < o->clients; i++)
		tasks[i] = coro_task_ref(coro_group_spawn(g, requester_main,
		    &req[i], NULL));
	for (i = 0; i < o->clients; i++) {
		coro_join(tasks[i], NULL, CORO_NEVER);
		coro_task_unref(tasks[i]);
	}
	el = (double)(now_ns() - t0) / 1e9;
	c1 = cpu_self();
	s1 = cpu_pid(o->pid);
	r->stop = true;
	qsort(r->lat, r->nlat, sizeof(*r->lat), cmp_u64);

	out_begin(&w, o->json);
	out_str(&w, "mode", mode_names[o->mode]);
	out_num(&w, "size", (double)o->size, 0);
	out_num(&w, "clients", o->clients, 0);
	out_num(&w, "requests", (double)r->nlat, 0);
	out_num(&w, "elapsed_s", el, 3);
	out_num(&w, "req_per_s", (double)r->nlat / el, 0);
	out_num(&w, "p50_us", r->nlat ? r->lat[r->nlat / 2] / 1e3 : 0, 1);
	out_num(&w, "p99_us", r->nlat ? r->lat[r->nlat * 99 / 100] / 1e3 :
	    0, 1);
	out_num(&w, "p999_us", r->nlat ? r->lat[r->nlat * 999 / 1000] / 1e3 :
	    0, 1);
	out_num(&w, "max_us", r->nlat ? r->lat[r->nlat - 1] / 1e3 : 0, 1);
	out_num(&w, "lost", (double)r->rr_lost, 0);
	out_num(&w, "errors", r->errors, 0);
	out_num(&w, "gen_cpu_pct", 100 * (c1 - c0) / el, 1);
	if (s0 >= 0 && s1 >= 0)
		out_num(&w, "srv_cpu_pct", 100 * (s1 - s0) / el, 1);
	if (r->errors > 0)
		out_str(&w, "last_error", r->last_error);
	out_end(&w);
 out:
	r->stop = true;
	coro_group_free(g);
	nconn_close(&resp);
	for (i = 0; i < o->clients; i++)
		nconn_close(&req[i]);
	free(req);
	free(tasks);
	return err;
}

/* ---- idle connections ---- */

static int
idle_worker(void *arg)
{
	struct run *r = arg;
	struct nconn *c;
	char sub[160];
	int i, err;

	while ((i = r->next_idle) < r->o->clients && r->errors == 0) {
		r->next_idle++;
		c = &r->conns[i];
		c->id = i;
		snprintf(sub, sizeof(sub), "SUB %s.%d %d\r\n", r->subject, i,
		    i + 1);
		if ((err = nconn_open(r, c, sub)) != 0) {
			run_error(r, "idle connect", err);
			return 0;
		}
		/* it holds: no buffer needed any more */
		free(c->rbuf);
		c->rbuf = NULL;
		c->rlen = c->rcap = 0;
		r->idle_open++;
	}
	return 0;
}

static int
run_idle(struct run *r)
{
	struct opts *o = r->o;
	coro_group *g;
	long before, after;
	double c0, el;
	int64_t t0;
	int i, nw, err = 0;
	struct out w;

	r->conns = calloc((size_t)o->clients, sizeof(*r->conns));
	if (r->conns == NULL || (g = coro_group_new(r->loop)) == NULL)
		return -ENOMEM;
	before = rss_kb(o->pid);
	c0 = cpu_self();
	t0 = now_ns();
	nw = o->clients < IDLE_WORKERS ? o->clients : IDLE_WORKERS;
	for (i = 0; i < nw; i++)
		coro_group_spawn(g, idle_worker, r, &(coro_spawn_opts){
		    .name = "idle", .stack_size = CORO_STACK_MIN * 2 });
	err = coro_group_join(g, CORO_NEVER);
	el = (double)(now_ns() - t0) / 1e9;
	if (err == 0 && r->errors == 0)
		err = coro_sleep(IDLE_SETTLE_MS);
	after = rss_kb(o->pid);

	out_begin(&w, o->json);
	out_str(&w, "mode", mode_names[o->mode]);
	out_num(&w, "clients", o->clients, 0);
	out_num(&w, "open", r->idle_open, 0);
	out_num(&w, "connect_s", el, 3);
	out_num(&w, "conns_per_s", r->idle_open / el, 0);
	out_num(&w, "gen_cpu_pct", 100 * (cpu_self() - c0) / el, 1);
	if (before >= 0 && after >= 0) {
		out_num(&w, "rss_before_kb", (double)before, 0);
		out_num(&w, "rss_after_kb", (double)after, 0);
		out_num(&w, "bytes_per_conn", r->idle_open > 0 ?
		    (double)(after - before) * 1024 / r->idle_open : 0, 0);
	}
	out_num(&w, "errors", r->errors, 0);
	if (r->errors > 0)
		out_str(&w, "last_error", r->last_error);
	out_end(&w);

	if (err == 0 && o->seconds * 1000 > IDLE_SETTLE_MS)
		(void)coro_sleep((int64_t)(o->seconds * 1000) - IDLE_SETTLE_MS);
	coro_group_free(g);
	for (i = 0; i < o->clients; i++)
		nconn_close(&r->conns[i]);
	free(r->conns);
	return err;
}

/* ---- main ---- */

static int
natsload_main(void *arg)
{
	struct run *r = arg;
	int err;

	r->loop = coro_loop_current();
	switch (r->o->mode) {
	case MODE_REQREP:
		err = run_reqrep(r);
		break;
	case MODE_IDLE:
		err = run_idle(r);
		break;
	default:
		err = run_throughput(r);
		break;
	}
	if (r->errors > 0)
		fprintf(stderr, "natsload: %d errors, last: %s\n", r->errors,
		    r->last_error);
	return err != 0 ? err : (r->errors > 0 ? -EIO : 0);
}

static void
usage(void)
{
	fprintf(stderr,
"usage: natsload [--url host:port] [--mode mode] [--msgs n] [--size bytes]\n"
"                [--subs n] [--pubs n] [--clients n] [--seconds s]\n"
"                [--timeout s] [--window bytes] [--pid pid] [--json]\n"
"modes: pubsub (1->1), fanout (1->subs), queue (1->subs in one group),\n"
"       mpub (pubs->1), reqrep (clients requesters, one responder),\n"
"       idle (clients connections, one SUB each, held for seconds)\n");
	exit(2);
}

static double
num_arg(const char *s, double min)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || (*end != '\0' && strchr("kKmM", *end) == NULL) ||
	    v < min)
		usage();
	if (*end == 'k' || *end == 'K')
		v *= 1000;
	else if (*end == 'm' || *end == 'M')
		v *= 1000000;
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "mode", required_argument, NULL, 'm' },
		{ "msgs", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "subs", required_argument, NULL, 'S' },
		{ "pubs", required_argument, NULL, 'P' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "window", required_argument, NULL, 'w' },
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	struct run r;
	const char *url = "127.0.0.1:4222", *colon;
	int ch, subs = -1, pubs = -1, clients = -1;
	size_t i;

	memset(&o, 0, sizeof(o));
	o.mode = MODE_PUBSUB;
	o.msgs = 1000000;
	o.size = 128;
	o.pubs = 1;
	o.seconds = 5;
	o.timeout = 120;
	o.window = 16u << 20;
	while ((ch = getopt_long(argc, argv, "u:m:n:s:S:P:c:t:T:w:p:jh",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'm':
			for (i = 0; i < sizeof(mode_names) /
			    sizeof(mode_names[0]); i++)
				if (strcmp(optarg, mode_names[i]) == 0)
					break;
			if (i == sizeof(mode_names) / sizeof(mode_names[0]))
				usage();
			o.mode = (enum mode)i;
			break;
		case 'n':
			o.msgs = (uint64_t)num_arg(optarg, 1);
			break;
		case 's':
			o.size = (size_t)num_arg(optarg, 0);
			break;
		case 'S':
			subs = (int)num_arg(optarg, 1);
			break;
		case 'P':
			pubs = (int)num_arg(optarg, 1);
			break;
		case 'c':
			clients = (int)num_arg(optarg, 1);
			break;
		case 't':
			o.seconds = num_arg(optarg, 0.001);
			break;
		case 'T':
			o.timeout = num_arg(optarg, 0.001);
			break;
		case 'w':
			o.window = (size_t)num_arg(optarg, 1024);
			break;
		case 'p':
			o.pid = (pid_t)num_arg(optarg, 1);
			break;
		case 'j':
			o.json = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (strncmp(url, "nats://", 7) == 0)
		url += 7;
	if ((colon = strrchr(url, ':')) == NULL ||
	    (size_t)(colon - url) >= sizeof(o.host) ||
	    strlen(colon + 1) >= sizeof(o.port))
		usage();
	memcpy(o.host, url, (size_t)(colon - url));
	o.host[colon - url] = '\0';
	if (o.host[0] == '[' && o.host[strlen(o.host) - 1] == ']') {
		memmove(o.host, o.host + 1, strlen(o.host));
		o.host[strlen(o.host) - 1] = '\0';
	}
	snprintf(o.port, sizeof(o.port), "%s", colon + 1);
	switch (o.mode) {
	case MODE_PUBSUB:
		o.subs = 1;
		o.pubs = 1;
		break;
	case MODE_FANOUT:
	case MODE_QUEUE:
		o.subs = subs > 0 ? subs : 10;
		o.pubs = 1;
		break;
	case MODE_MPUB:
		o.subs = 1;
		o.pubs = pubs > 0 ? pubs : 4;
		break;
	case MODE_REQREP:
		o.clients = clients > 0 ? clients : 1;
		break;
	case MODE_IDLE:
		o.clients = clients > 0 ? clients : 10000;
		break;
	}

	memset(&r, 0, sizeof(r));
	r.o = &o;
	snprintf(r.subject, sizeof(r.subject), "natsload.%d.%s", (int)getpid(),
	    mode_names[o.mode]);
	ch = coro_run(natsload_main, &r, NULL);
	free(r.batch);
	free(r.lat);
	if (ch != 0 && r.errors == 0)
		fprintf(stderr, "natsload: %s\n", strerror(-ch));
	return ch == 0 ? 0 : 1;
}
