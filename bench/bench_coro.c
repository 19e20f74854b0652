/*
 * bench_coro.c: figures for libcoro on this machine.  A program that
 * prints numbers, not a test: make check never runs it.
 *
 * Every figure is the median of RUNS runs (-n, default 5), each a timed
 * loop between CLOCK_MONOTONIC reads, warmed up first where it matters,
 * as in libcoro-notes.md part 3:
 *   1. switch round trip (resume + yield) with the asm and the ucontext
 *      switch, both built from libcoro/ctx.c into this program;
 *   2. spawn + join of a task whose stack comes from the pool;
 *   3. coro_queue hand-off between two tasks, capacity 1 and 64;
 *   4. wake-up cost per resume of K tasks that keep yielding;
 *   5. socketpair ping-pong, 64-byte messages, through coro_stream
 *      against raw libevent callbacks (series f of the notes);
 *   6. resident memory of 10,000 tasks suspended in coro_sleep.
 * A summary compares them with their targets.  -p pins the process to one
 * CPU, -q runs a tenth of the iterations, -b runs only the benchmarks
 * named (for perf and strace), --json prints only JSON.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "coro.h"
#include "bench_switch.h"

#define MSG_SIZE	64		/* ping-pong message */
#define MEM_TASKS	10000		/* suspended tasks measured */
#define MEM_BUF		512		/* stack each one touches */
#define FAR_AWAY	(24 * 3600 * 1000)	/* their sleep, ms */

/* Iterations per run at full size; -q divides them by QUICK_DIV. */
#define N_SWITCH_ASM	10000000L
#define N_SWITCH_UC	400000L
#define N_SPAWN		500000L
#define N_QUEUE		400000L
#define N_WAKE		2000000L	/* resumes per run, whatever K */
#define N_PINGPONG	100000L
#define WARM_PINGPONG	2000L
#define WARM_SPAWN	1000L
#define QUICK_DIV	10
#define MAX_RUNS	101

enum cmp { CMP_NONE, CMP_AT_MOST, CMP_AT_LEAST };

struct figure {
	const char	*key;		/* JSON name */
	const char	*what;		/* printed name */
	const char	*unit;
	int		 prec;		/* decimals printed */
	double		 median, min, max;
	enum cmp	 cmp;
	double		 target;
	bool		 valid;		/* false: not measured in this build */
};

#define MAX_FIGURES	16

static struct figure	 figures[MAX_FIGURES];
static int		 nfigures;
static int		 runs = 5;
static bool		 quick;
static bool		 json;

static void
usage(void)
{
	fprintf(stderr, "usage: bench_coro [-pq] [-b name,...] [-n runs] "
	    "[--json]\n"
	    "benchmarks: switch spawn queue wake pingpong memory\n");
	exit(2);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long
iters(long full)
{
	return quick ? full / QUICK_DIV : full;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	if (json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static const char *
verdict(const struct figure *f)
{
	if (!f->valid)
		return "n/a";
	switch (f->cmp) {
	case CMP_AT_MOST:
		return f->median <= f->target ? "PASS" : "MISS";
	case CMP_AT_LEAST:
		return f->median >= f->target ? "PASS" : "MISS";
	default:
		return "-";
	}
}

/* Records the median of v[0..n) (sorted in place) as a figure and prints
 * its line.  A negative sample means "not available in this build". */
static void
report(const char *key, const char *what, const char *unit, int prec,
    double *v, int n, enum cmp cmp, double target)
{
	struct figure *f;

	if (nfigures == MAX_FIGURES)
		errx(1, "too many figures");
	f = &figures[nfigures++];
	f->key = key;
	f->what = what;
	f->unit = unit;
	f->prec = prec;
	f->cmp = cmp;
	f->target = target;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	f->valid = n > 0 && v[0] >= 0;
	if (!f->valid) {
		say("%-40s %12s\n", what, "not built");
		return;
	}
	f->min = v[0];
	f->max = v[n - 1];
	f->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	say("%-40s %12.*f %-6s [%.*f .. %.*f]\n", what, prec, f->median, unit,
	    prec, f->min, prec, f->max);
}

/* Creates a loop, runs fn(arg) as its main task to the end, frees it. */
static void
with_loop(coro_fn fn, void *arg)
{
	coro_loop *loop;
	coro_task *t;
	int rc;

	if ((loop = coro_loop_new()) == NULL)
		err(1, "coro_loop_new");
	if ((t = coro_spawn(loop, fn, arg, NULL)) == NULL)
		err(1, "coro_spawn");
	if ((rc = coro_loop_run_until_complete(loop, t, NULL)) != 0)
		errx(1, "benchmark task: %s", strerror(-rc));
	coro_task_unref(t);
	coro_loop_free(loop);
}

static coro_task *
spawn(coro_fn fn, void *arg)
{
	coro_task *t;

	if ((t = coro_spawn(coro_loop_current(), fn, arg, NULL)) == NULL)
		err(1, "coro_spawn");
	return t;
}

static void
join(coro_task *t, int expect)
{
	int rc;

	if ((rc = coro_join(t, NULL, CORO_NEVER)) != expect)
		errx(1, "task ended with %d (%s), expected %d", rc,
		    strerror(-rc), expect);
	coro_task_unref(t);
}

/* ---- 1. switch round trip -------------------------------------------- */

static void
bench_switch(void)
{
	double asm_ns[MAX_RUNS], uc_ns[MAX_RUNS];
	int r;

	for (r = 0; r < runs; r++) {
		asm_ns[r] = bench_switch_asm(iters(N_SWITCH_ASM));
		uc_ns[r] = bench_switch_ucontext(iters(N_SWITCH_UC));
	}
	report("switch_asm_ns", "switch round trip, asm", "ns", 1, asm_ns,
	    runs, CMP_AT_MOST, 15);
	report("switch_ucontext_ns", "switch round trip, ucontext", "ns", 1,
	    uc_ns, runs, CMP_NONE, 0);
}

/* ---- 2. spawn + join ------------------------------------------------- */

struct spawn_run {
	long	n;
	double	ns;
};

static int
nop_task(void *arg)
{
	(void)arg;
	return 0;
}

static int
spawn_main(void *arg)
{
	struct spawn_run *sr = arg;
	int64_t t0 = 0;
	long i;

	/* the warm-up also fills the stack pool */
	for (i = -WARM_SPAWN; i < sr->n; i++) {
		if (i == 0)
			t0 = now_ns();
		join(spawn(nop_task, NULL), 0);
	}
	sr->ns = (double)(now_ns() - t0) / (double)sr->n;
	return 0;
}

static void
bench_spawn(void)
{
	struct spawn_run sr;
	double ns[MAX_RUNS];
	int r;

	for (r = 0; r < runs; r++) {
		sr.n = iters(N_SPAWN);
		with_loop(spawn_main, &sr);
		ns[r] = sr.ns;
	}
	report("spawn_join_ns", "spawn+join (pooled stack)", "ns", 1, ns, runs,
	    CMP_NONE, 0);
}

/* ---- 3. queue hand-off ----------------------------------------------- */

struct queue_run {
	coro_queue	*q;
	size_t		 cap;
	long		 n;
	int64_t		 t0, t1;
};

static int
producer_task(void *arg)
{
	struct queue_run *qr = arg;
	long i;
	int rc;

	qr->t0 = now_ns();
	for (i = 1; i <= qr->n; i++)
		if ((rc = coro_queue_put(qr->q, (void *)(intptr_t)i,
		    CORO_NEVER)) != 0)
			return rc;
	return 0;
}

static int
consumer_task(void *arg)
{
	struct queue_run *qr = arg;
	void *item;
	long i;
	int rc;

	for (i = 1; i <= qr->n; i++) {
		if ((rc = coro_queue_get(qr->q, &item, CORO_NEVER)) != 0)
			return rc;
		if ((intptr_t)item != i)
			errx(1, "queue: got item %ld, expected %ld",
			    (long)(intptr_t)item, i);
	}
	qr->t1 = now_ns();
	return 0;
}

static int
queue_main(void *arg)
{
	struct queue_run *qr = arg;
	coro_task *p, *c;

	if ((qr->q = coro_queue_new(coro_loop_current(), qr->cap)) == NULL)
		err(1, "coro_queue_new");
	p = spawn(producer_task, qr);
	c = spawn(consumer_task, qr);
	join(p, 0);
	join(c, 0);
	coro_queue_free(qr->q);
	return 0;
}

static void
bench_queue(void)
{
	static const struct {
		size_t		 cap;
		const char	*key, *what;
	} cases[] = {
		{ 1, "queue_cap1_ns", "queue put/get, capacity 1" },
		{ 64, "queue_cap64_ns", "queue put/get, capacity 64" },
	};
	struct queue_run qr;
	double ns[MAX_RUNS];
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (r = 0; r < runs; r++) {
			memset(&qr, 0, sizeof(qr));
			qr.cap = cases[i].cap;
			qr.n = iters(N_QUEUE);
			with_loop(queue_main, &qr);
			ns[r] = (double)(qr.t1 - qr.t0) / (double)qr.n;
		}
		report(cases[i].key, cases[i].what, "ns/item", 1, ns, runs,
		    CMP_NONE, 0);
	}
}

/* ---- 4. wake-ups of K yielding tasks --------------------------------- */

/* Each of K tasks yields M + 1 times.  The first yield lets all of them
 * start; the clock runs from task 0's return from it to its return from
 * the last one: M whole batches, K * M resumes.  (Stopping the clock in
 * a later task would count the first ones ending, stacks past the pool's
 * 256 being unmapped.) */
struct wake_run {
	long	k, m;
	bool	idle_fd;	/* an fd registered with the loop */
	int64_t	t0, t1;
};

static struct wake_run	*wake_cur;

static int
yield_task(void *arg)
{
	struct wake_run *wr = wake_cur;
	long idx = (long)(intptr_t)arg, j;
	int rc;

	for (j = 0; j <= wr->m; j++) {
		if ((rc = coro_yield()) != 0)
			return rc;
		if (idx == 0 && j == 0)
			wr->t0 = now_ns();
	}
	if (idx == 0)
		wr->t1 = now_ns();
	return 0;
}

static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	errx(1, "idle fd became readable");
}

static int
wake_main(void *arg)
{
	struct wake_run *wr = arg;
	struct event *ev = NULL;
	coro_task **t;
	int fds[2];
	long i;

	if ((t = calloc((size_t)wr->k, sizeof(*t))) == NULL)
		err(1, "calloc");
	/* With no event registered libevent skips epoll_wait; any real
	 * program has one, and then every batch polls once. */
	if (wr->idle_fd) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1)
			err(1, "socketpair");
		ev = event_new(coro_loop_base(coro_loop_current()), fds[0],
		    EV_READ | EV_PERSIST, idle_cb, NULL);
		if (ev == NULL || event_add(ev, NULL) == -1)
			errx(1, "event_new/event_add");
	}
	wake_cur = wr;
	for (i = 0; i < wr->k; i++)
		t[i] = spawn(yield_task, (void *)(intptr_t)i);
	for (i = 0; i < wr->k; i++)
		join(t[i], 0);
	free(t);
	if (ev != NULL) {
		event_free(ev);
		close(fds[0]);
		close(fds[1]);
	}
	return 0;
}

static void
bench_wake(void)
{
	static const struct {
		long		 k;
		bool		 idle_fd;
		const char	*key, *what;
	} cases[] = {
		{ 1, false, "wake_k1_ns", "wake-up per resume, K = 1" },
		{ 100, false, "wake_k100_ns", "wake-up per resume, K = 100" },
		{ 10000, false, "wake_k10000_ns",
		    "wake-up per resume, K = 10000" },
		{ 1, true, "wake_k1_fd_ns",
		    "wake-up per resume, K = 1, idle fd" },
	};
	struct wake_run wr;
	double ns[MAX_RUNS];
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (r = 0; r < runs; r++) {
			memset(&wr, 0, sizeof(wr));
			wr.k = cases[i].k;
			wr.idle_fd = cases[i].idle_fd;
			wr.m = iters(N_WAKE) / wr.k;
			if (wr.m < 2)
				wr.m = 2;
			with_loop(wake_main, &wr);
			ns[r] = (double)(wr.t1 - wr.t0) /
			    (double)(wr.k * wr.m);
		}
		report(cases[i].key, cases[i].what, "ns", 1, ns, runs,
		    CMP_NONE, 0);
	}
}

/* ---- 5. socketpair ping-pong ----------------------------------------- */

static void
make_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1)
		err(1, "socketpair");
}

/* libcoro: a client task writes a message and reads the echo, a server
 * task echoes; each end a coro_stream. */
struct pp_run {
	coro_stream	*client, *server;
	long		 n;		/* timed round trips */
	int64_t		 t0, t1;
};

static int
pp_client(void *arg)
{
	struct pp_run *pp = arg;
	char msg[MSG_SIZE], back[MSG_SIZE];
	ssize_t got;
	long i;
	int rc;

	memset(msg, 'p', sizeof(msg));
	for (i = -WARM_PINGPONG; i < pp->n; i++) {
		if (i == 0)
			pp->t0 = now_ns();
		if ((rc = coro_stream_write_all(pp->client, msg, sizeof(msg),
		    CORO_NEVER)) != 0)
			return rc;
		if ((got = coro_stream_read_exact(pp->client, back,
		    sizeof(back), CORO_NEVER)) != (ssize_t)sizeof(back))
			return got < 0 ? (int)got : -EPIPE;
	}
	pp->t1 = now_ns();
	return 0;
}

static int
pp_server(void *arg)
{
	struct pp_run *pp = arg;
	char msg[MSG_SIZE];
	ssize_t got;
	long i;
	int rc;

	for (i = -WARM_PINGPONG; i < pp->n; i++) {
		if ((got = coro_stream_read_exact(pp->server, msg, sizeof(msg),
		    CORO_NEVER)) != (ssize_t)sizeof(msg))
			return got < 0 ? (int)got : -EPIPE;
		if ((rc = coro_stream_write_all(pp->server, msg, sizeof(msg),
		    CORO_NEVER)) != 0)
			return rc;
	}
	return 0;
}

static int
pp_main(void *arg)
{
	struct pp_run *pp = arg;
	coro_loop *loop = coro_loop_current();
	coro_task *c, *s;
	int fds[2];

	make_pair(fds);
	if ((pp->client = coro_stream_from_fd(loop, fds[0])) == NULL ||
	    (pp->server = coro_stream_from_fd(loop, fds[1])) == NULL)
		err(1, "coro_stream_from_fd");
	s = spawn(pp_server, pp);
	c = spawn(pp_client, pp);
	join(c, 0);
	join(s, 0);
	coro_stream_close(pp->client);
	coro_stream_close(pp->server);
	return 0;
}

/* Raw libevent, as f0et in the notes: each end a persistent
 * EV_READ|EV_ET event whose callback reads what is there (a short read
 * means drained: one message is in flight at a time) and answers every
 * whole message with a write. */
struct raw_end {
	struct raw_run	*run;
	int		 fd;
	bool		 client;
	struct event	*ev;
	size_t		 have;
	char		 buf[4 * MSG_SIZE];
};

struct raw_run {
	struct event_base	*base;
	struct raw_end		 c, s;
	long			 n, done;	/* round trips: wanted, done */
	int64_t			 t0, t1;
};

static void
raw_send(int fd, const char *msg)
{
	ssize_t w;

	if ((w = write(fd, msg, MSG_SIZE)) != MSG_SIZE)
		err(1, "raw write (%zd)", w);
}

static void
raw_cb(evutil_socket_t fd, short what, void *arg)
{
	struct raw_end *e = arg;
	struct raw_run *rr = e->run;
	size_t room;
	ssize_t n;

	(void)what;
	for (;;) {
		room = sizeof(e->buf) - e->have;
		if ((n = read(fd, e->buf + e->have, room)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			err(1, "raw read");
		}
		if (n == 0)
			errx(1, "raw read: end of stream");
		e->have += (size_t)n;
		while (e->have >= MSG_SIZE) {
			if (e->client) {
				rr->done++;
				if (rr->done == WARM_PINGPONG)
					rr->t0 = now_ns();
				if (rr->done == WARM_PINGPONG + rr->n) {
					rr->t1 = now_ns();
					event_base_loopbreak(rr->base);
					return;
				}
			}
			raw_send(fd, e->buf);
			e->have -= MSG_SIZE;
			memmove(e->buf, e->buf + MSG_SIZE, e->have);
		}
		if ((size_t)n < room)
			return;
	}
}

static void
raw_end_init(struct raw_run *rr, struct raw_end *e, int fd, bool client)
{
	e->run = rr;
	e->fd = fd;
	e->client = client;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		err(1, "fcntl");
	e->ev = event_new(rr->base, fd, EV_READ | EV_PERSIST | EV_ET, raw_cb,
	    e);
	if (e->ev == NULL || event_add(e->ev, NULL) == -1)
		errx(1, "event_new/event_add");
}

/* On a libcoro loop's base, so both variants run on the same kind of
 * event_base (libcoro turns on libevent's pthread locking). */
static void
raw_pingpong(struct raw_run *rr)
{
	coro_loop *loop;
	char msg[MSG_SIZE];
	int fds[2];

	if ((loop = coro_loop_new()) == NULL)
		err(1, "coro_loop_new");
	rr->base = coro_loop_base(loop);
	make_pair(fds);
	raw_end_init(rr, &rr->c, fds[0], true);
	raw_end_init(rr, &rr->s, fds[1], false);
	memset(msg, 'p', sizeof(msg));
	raw_send(fds[0], msg);
	if (event_base_loop(rr->base, 0) == -1)
		errx(1, "event_base_loop");
	event_free(rr->c.ev);
	event_free(rr->s.ev);
	close(fds[0]);
	close(fds[1]);
	coro_loop_free(loop);
}

static void
bench_pingpong(void)
{
	struct raw_run rr;
	struct pp_run pp;
	double co[MAX_RUNS], raw[MAX_RUNS], ratio[MAX_RUNS];
	int r;

	/* interleaved, so drift on a shared machine hits both alike */
	for (r = 0; r < runs; r++) {
		memset(&rr, 0, sizeof(rr));
		rr.n = iters(N_PINGPONG);
		raw_pingpong(&rr);
		raw[r] = (double)rr.n * 1e9 / (double)(rr.t1 - rr.t0);

		memset(&pp, 0, sizeof(pp));
		pp.n = iters(N_PINGPONG);
		with_loop(pp_main, &pp);
		co[r] = (double)pp.n * 1e9 / (double)(pp.t1 - pp.t0);
		ratio[r] = co[r] / raw[r];
	}
	report("pingpong_streams_rts", "ping-pong, libcoro streams", "rt/s", 0,
	    co, runs, CMP_NONE, 0);
	report("pingpong_raw_rts", "ping-pong, raw libevent EV_ET", "rt/s", 0,
	    raw, runs, CMP_NONE, 0);
	report("pingpong_ratio", "ping-pong streams/raw (paired runs)", "", 3,
	    ratio, runs, CMP_AT_LEAST, 0.9);
}

/* ---- 6. memory of suspended tasks ------------------------------------ */

/* VmRSS of this process in KiB, read without stdio (no FILE buffer
 * allocated between the two readings). */
static long
vm_rss_kib(void)
{
	static char buf[8192];
	ssize_t n;
	char *p;
	int fd;

	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		err(1, "/proc/self/status");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		errx(1, "/proc/self/status: empty");
	buf[n] = '\0';
	if ((p = strstr(buf, "\nVmRSS:")) == NULL)
		errx(1, "/proc/self/status: no VmRSS");
	return strtol(p + 7, NULL, 10);
}

struct mem_run {
	long	n, started;
	double	kib;		/* per task */
};

static int
sleeper_task(void *arg)
{
	struct mem_run *mr = arg;
	char buf[MEM_BUF];

	memset(buf, (int)mr->started, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
	mr->started++;
	return coro_sleep(FAR_AWAY);
}

static int
mem_main(void *arg)
{
	struct mem_run *mr = arg;
	coro_task **t;
	long before, after, i;

	if ((t = calloc((size_t)mr->n, sizeof(*t))) == NULL)
		err(1, "calloc");
	memset(t, 0, (size_t)mr->n * sizeof(*t));
	malloc_trim(0);
	before = vm_rss_kib();
	for (i = 0; i < mr->n; i++)
		t[i] = spawn(sleeper_task, mr);
	while (mr->started < mr->n)
		coro_yield();
	after = vm_rss_kib();
	mr->kib = (double)(after - before) / (double)mr->n;
	for (i = 0; i < mr->n; i++)
		coro_cancel(t[i]);
	for (i = 0; i < mr->n; i++)
		join(t[i], -ECANCELED);
	free(t);
	return 0;
}

static void
bench_memory(void)
{
	struct mem_run mr;
	double kib[MAX_RUNS];
	int r;

	for (r = 0; r < runs; r++) {
		memset(&mr, 0, sizeof(mr));
		mr.n = MEM_TASKS;
		with_loop(mem_main, &mr);
		malloc_trim(0);
		kib[r] = mr.kib;
	}
	report("memory_per_task_kib", "RSS per suspended task (10,000)", "KiB",
	    2, kib, runs, CMP_AT_MOST, 8);
}

/* ---- output ---------------------------------------------------------- */

static void
print_summary(void)
{
	const struct figure *f;
	char target[32];
	int i;

	printf("\n%-40s %12s %-8s %10s  %s\n", "summary", "median", "unit",
	    "target", "verdict");
	for (i = 0; i < nfigures; i++) {
		f = &figures[i];
		if (f->cmp == CMP_NONE)
			snprintf(target, sizeof(target), "-");
		else
			snprintf(target, sizeof(target), "%s %g",
			    f->cmp == CMP_AT_MOST ? "<=" : ">=", f->target);
		if (f->valid)
			printf("%-40s %12.*f %-8s %10s  %s\n", f->what,
			    f->prec, f->median, f->unit, target, verdict(f));
		else
			printf("%-40s %12s %-8s %10s  %s\n", f->what, "-",
			    f->unit, target, verdict(f));
	}
}

static void
print_json(int cpu)
{
	const struct figure *f;
	int i;

	printf("{\"runs\": %d, \"quick\": %s, \"cpu\": %d, \"figures\": [",
	    runs, quick ? "true" : "false", cpu);
	for (i = 0; i < nfigures; i++) {
		f = &figures[i];
		printf("%s\n  {\"key\": \"%s\", \"what\": \"%s\", "
		    "\"unit\": \"%s\", ", i ? "," : "", f->key, f->what,
		    f->unit);
		if (f->valid)
			printf("\"median\": %.*f, \"min\": %.*f, "
			    "\"max\": %.*f, ", f->prec + 2, f->median,
			    f->prec + 2, f->min, f->prec + 2, f->max);
		else
			printf("\"median\": null, \"min\": null, "
			    "\"max\": null, ");
		if (f->cmp == CMP_NONE)
			printf("\"target\": null, \"cmp\": null, "
			    "\"verdict\": null}");
		else
			printf("\"target\": %g, \"cmp\": \"%s\", "
			    "\"verdict\": \"%s\"}", f->target,
			    f->cmp == CMP_AT_MOST ? "<=" : ">=", verdict(f));
	}
	printf("\n]}\n");
}

/* Busy time of each CPU so far, from /proc/stat, in clock ticks (all
 * fields but idle and iowait); 0 for CPUs not listed. */
static void
cpu_busy(unsigned long long *busy, int ncpu)
{
	unsigned long long v[8];
	char line[512];
	FILE *fp;
	int cpu, i;

	memset(busy, 0, (size_t)ncpu * sizeof(*busy));
	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line,
		    "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu,
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		    &v[7]) != 9 || cpu < 0 || cpu >= ncpu)
			continue;
		for (i = 0; i < 8; i++)
			if (i != 3 && i != 4)
				busy[cpu] += v[i];
	}
	fclose(fp);
}

/* Pins the process to the CPU, among those it may run on, that was the
 * least busy over the last 200 ms (others may be building on this
 * machine); returns that CPU. */
static int
pin_self(void)
{
	static unsigned long long b0[CPU_SETSIZE], b1[CPU_SETSIZE];
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	cpu_set_t set;
	int cpu, best = -1;

	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		err(1, "sched_getaffinity");
	cpu_busy(b0, CPU_SETSIZE);
	nanosleep(&pause, NULL);
	cpu_busy(b1, CPU_SETSIZE);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && (best == -1 ||
		    b1[cpu] - b0[cpu] < b1[best] - b0[best]))
			best = cpu;
	CPU_ZERO(&set);
	CPU_SET(best, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		err(1, "sched_setaffinity");
	return best;
}

static const struct bench {
	const char	*name;
	void		(*fn)(void);
} benches[] = {
	{ "switch", bench_switch },
	{ "spawn", bench_spawn },
	{ "queue", bench_queue },
	{ "wake", bench_wake },
	{ "pingpong", bench_pingpong },
	{ "memory", bench_memory },
};
#define NBENCHES	(sizeof(benches) / sizeof(benches[0]))

/* Marks the benchmarks named in the comma-separated list. */
static void
select_benches(char *list, bool *on)
{
	char *name;
	size_t i;

	while ((name = strsep(&list, ",")) != NULL) {
		for (i = 0; i < NBENCHES; i++)
			if (strcmp(name, benches[i].name) == 0)
				break;
		if (i == NBENCHES)
			usage();
		on[i] = true;
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int64_t start;
	bool on[NBENCHES], some = false, pin = false;
	char *end;
	size_t i;
	int ch, cpu = -1;

	memset(on, 0, sizeof(on));
	while ((ch = getopt_long(argc, argv, "b:n:pq", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'b':
			select_benches(optarg, on);
			some = true;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			runs = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || runs < 1 || runs > MAX_RUNS)
				errx(2, "-n: 1 to %d runs", MAX_RUNS);
			break;
		case 'p':
			pin = true;
			break;
		case 'q':
			quick = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (pin)
		cpu = pin_self();
	start = now_ns();
	say("libcoro bench: median of %d runs [min .. max]%s, ", runs,
	    quick ? ", quick" : "");
	if (pin)
		say("pinned to CPU %d (the least busy)\n", cpu);
	else
		say("not pinned\n");

	for (i = 0; i < NBENCHES; i++)
		if (!some || on[i])
			benches[i].fn();

	if (json)
		print_json(cpu);
	else {
		print_summary();
		printf("\n(%.1f s)\n", (double)(now_ns() - start) / 1e9);
	}
	return 0;
}
