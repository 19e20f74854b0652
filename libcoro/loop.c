/*
 * loop.c: the event loop: one per thread, owning a libevent event_base,
 * the ready queue, the stack pool and the live tasks.
 *
 * The scheduler owns the outer loop.  Each iteration runs the batch of
 * ready entries (resumed tasks, call_soon callbacks) that were queued when
 * it began, then polls libevent once: without blocking when more work is
 * ready, else until an event arrives.  So I/O is polled between batches
 * and a task that keeps yielding cannot starve sockets or timers (libevent
 * 2.1 alone runs events activated during its active pass in the same pass,
 * see libcoro-notes.md 3e).  libevent callbacks only queue tasks; tasks are
 * resumed here, on the loop's stack, never from inside a callback.
 *
 * Other threads reach a loop only through coro_call_soon_threadsafe: a
 * locked list and an eventfd the loop polls like any other fd.  So the
 * event_base is never touched by two threads and runs without locks.
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "coro-internal.h"

_Thread_local coro_loop *coro__tls_loop;

struct coro__xcall {
	struct coro__xcall	*next;
	coro_cb			 cb;
	void			*arg;
};

struct coro__signal {
	struct coro__signal	*next;
	struct event		*ev;
	void			(*cb)(int, void *);
	void			*arg;
	int			 signo;
};

/* a call_soon entry */
struct soon {
	struct coro__runnable	 run;
	coro_cb			 cb;
	void			*arg;
};

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

/* libevent's own warnings (e.g. epoll refusing a regular file) would
 * reach stderr; libcoro reports errors through return values instead. */
static void
evlog_discard(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

static void
threads_init(void)
{
	struct sigaction sa;

	/* No evthread_use_pthreads(): no other thread ever calls libevent
	 * on a loop's base (they wake it through its eventfd), so the bases
	 * run without locks. */
	event_set_log_callback(evlog_discard);
	/* a write to a pipe whose reader is gone must fail with EPIPE, not
	 * kill the process; children get SIG_DFL back (process.c) */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static void
xevent_cb(evutil_socket_t fd, short what, void *arg)
{
	coro_loop *loop = arg;
	struct coro__xcall *x, *next;

	uint64_t n;

	(void)what;
	/* resets the eventfd; nothing to do if it was not set */
	if (fd >= 0 && read(fd, &n, sizeof(n)) == -1)
		n = 0;
	pthread_mutex_lock(&loop->xlock);
	x = loop->xhead;
	loop->xhead = NULL;
	loop->xtail = &loop->xhead;
	pthread_mutex_unlock(&loop->xlock);
	for (; x != NULL; x = next) {
		next = x->next;
		coro_call_soon(loop, x->cb, x->arg);
		free(x);
	}
}

coro_loop *
coro_loop_new(void)
{
	struct event_config *cfg;
	coro_loop *loop;

	if (coro__tls_loop != NULL) {
		errno = EBUSY;
		return NULL;
	}
	pthread_once(&threads_once, threads_init);
	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	loop->xfd = -1;
	if ((cfg = event_config_new()) == NULL)
		goto fail;
	/* PRECISE_TIMER: libevent otherwise reads CLOCK_MONOTONIC_COARSE,
	 * which lags by up to a kernel tick (4 ms at HZ=250), so a sleep
	 * measured with coro_now() could end that much early. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK |
	    EVENT_BASE_FLAG_PRECISE_TIMER);
	loop->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (loop->base == NULL)
		goto fail;
	if ((loop->xfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	loop->xevent = event_new(loop->base, loop->xfd, EV_READ | EV_PERSIST,
	    xevent_cb, loop);
	if (loop->xevent == NULL || event_add(loop->xevent, NULL) == -1)
		goto fail;
	if (coro__overflow_guard_init() != 0)
		goto fail;
	TAILQ_INIT(&loop->ready);
	LIST_INIT(&loop->live);
	pthread_mutex_init(&loop->xlock, NULL);
	loop->xtail = &loop->xhead;
	loop->thread = pthread_self();
	coro__tls_loop = loop;
	return loop;
 fail:
	if (loop->xevent != NULL)
		event_free(loop->xevent);
	if (loop->xfd != -1)
		close(loop->xfd);
	if (loop->base != NULL)
		event_base_free(loop->base);
	free(loop);
	errno = ENOMEM;
	return NULL;
}

coro_loop *
coro_loop_current(void)
{
	return coro__tls_loop;
}

struct event_base *
coro_loop_base(coro_loop *loop)
{
	return loop->base;
}

size_t
coro_loop_tasks(coro_loop *loop)
{
	return loop->ntasks;
}

void
coro__ready(coro_loop *loop, struct coro__runnable *r)
{
	TAILQ_INSERT_TAIL(&loop->ready, r, link);
}

static void
soon_run(struct coro__runnable *r)
{
	struct soon *s = (struct soon *)r;
	coro_cb cb = s->cb;
	void *arg = s->arg;

	free(s);
	cb(arg);
}

int
coro_call_soon(coro_loop *loop, coro_cb cb, void *arg)
{
	struct soon *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return -ENOMEM;
	s->run.run = soon_run;
	s->cb = cb;
	s->arg = arg;
	coro__ready(loop, &s->run);
	return 0;
}

int
coro_call_soon_threadsafe(coro_loop *loop, coro_cb cb, void *arg)
{
	struct coro__xcall *x;

	if ((x = malloc(sizeof(*x))) == NULL)
		return -ENOMEM;
	x->next = NULL;
	x->cb = cb;
	x->arg = arg;
	uint64_t one = 1;
	bool first;

	pthread_mutex_lock(&loop->xlock);
	first = loop->xhead == NULL;
	*loop->xtail = x;
	loop->xtail = &x->next;
	pthread_mutex_unlock(&loop->xlock);
	/* one wake-up per batch of calls: the loop drains the whole list */
	if (first && write(loop->xfd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		return -errno;
	return 0;
}

/* Runs what was ready when the batch began; later arrivals wait for the
 * next batch, after an I/O poll. */
static void
run_batch(coro_loop *loop)
{
	struct coro__runq batch;
	struct coro__runnable *r;

	TAILQ_INIT(&batch);
	TAILQ_CONCAT(&batch, &loop->ready, link);
	while ((r = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, r, link);
		r->run(r);
	}
}

void
coro__loop_run_while(coro_loop *loop, bool (*done)(void *), void *arg)
{
	bool was_running = loop->running;

	loop->running = true;
	for (;;) {
		if (done != NULL && done(arg))
			break;
		run_batch(loop);
		if (done != NULL ? done(arg) : loop->stop)
			break;
		event_base_loop(loop->base, TAILQ_EMPTY(&loop->ready) ?
		    EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY : EVLOOP_NONBLOCK);
	}
	loop->running = was_running;
}

int
coro_loop_run(coro_loop *loop)
{
	/* a stop requested before run() makes it run one batch (asyncio) */
	coro__loop_run_while(loop, NULL, NULL);
	loop->stop = false;
	loop->shutting_down = false;
	return 0;
}

static bool
task_ended(void *arg)
{
	return ((coro_task *)arg)->state == CORO_TASK_ENDED;
}

int
coro_loop_run_until_complete(coro_loop *loop, coro_task *task, void **value)
{
	coro__loop_run_while(loop, task_ended, task);
	if (value != NULL)
		*value = task->fut.value;
	return coro_future_error(&task->fut);
}

void
coro_loop_stop(coro_loop *loop)
{
	loop->stop = true;
	/* wake a poll that is blocked waiting for events */
	event_base_loopbreak(loop->base);
}

void
coro_loop_stop_cb(void *loop)
{
	coro_loop_stop(loop);
}

static void
signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coro__signal *s = arg;

	(void)fd;
	(void)what;
	s->cb(s->signo, s->arg);
}

int
coro_loop_add_signal(coro_loop *loop, int signo,
    void (*cb)(int signo, void *arg), void *arg)
{
	struct coro__signal *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->ev = evsignal_new(loop->base, signo, signal_cb, s);
	if (s->ev == NULL || evsignal_add(s->ev, NULL) == -1) {
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
		return -EINVAL;
	}
	s->cb = cb;
	s->arg = arg;
	s->signo = signo;
	s->next = loop->signals;
	loop->signals = s;
	return 0;
}

static void
cancel_all(coro_loop *loop)
{
	coro_task *t;

	LIST_FOREACH(t, &loop->live, live)
		coro_cancel(t);
}

static bool
no_tasks(void *arg)
{
	return ((coro_loop *)arg)->ntasks == 0;
}

/* After the first SIGINT/SIGTERM: cancel everything, and stop run() once
 * every task has ended; a second signal gives up waiting. */
static void
stop_when_idle(void *arg)
{
	coro_loop *loop = arg;

	if (loop->ntasks == 0)
		coro_loop_stop(loop);
}

static void
stop_signal_cb(int signo, void *arg)
{
	coro_loop *loop = arg;

	if (loop->shutting_down) {
		signal(signo, SIG_DFL);
		coro_loop_stop(loop);
		return;
	}
	loop->shutting_down = true;
	loop->stop_signal = signo;
	cancel_all(loop);
	if (loop->ntasks == 0)
		coro_loop_stop(loop);
}

void
coro__loop_task_ended(coro_loop *loop)
{
	if (loop->shutting_down && loop->ntasks == 0)
		coro_call_soon(loop, stop_when_idle, loop);
}

int
coro_loop_stop_on_signals(coro_loop *loop)
{
	int err;

	if (loop->stop_on_signals)
		return 0;
	if ((err = coro_loop_add_signal(loop, SIGINT, stop_signal_cb,
	    loop)) != 0)
		return err;
	if ((err = coro_loop_add_signal(loop, SIGTERM, stop_signal_cb,
	    loop)) != 0)
		return err;
	loop->stop_on_signals = true;
	return 0;
}

int
coro_loop_stop_signal(coro_loop *loop)
{
	return loop->stop_signal;
}

void
coro_loop_free(coro_loop *loop)
{
	struct coro__signal *s;
	struct coro__xcall *x;

	if (loop == NULL)
		return;
	/* every task ends the normal way: cancelled, cleanups run */
	cancel_all(loop);
	coro__loop_run_while(loop, no_tasks, loop);
	if (loop->executor != NULL) {
		coro__executor_shutdown(loop->executor);
		loop->executor = NULL;
	}
	/* callbacks queued by the last tasks (done callbacks, xcalls) */
	xevent_cb(-1, 0, loop);
	while (!TAILQ_EMPTY(&loop->ready))
		run_batch(loop);
	while ((s = loop->signals) != NULL) {
		loop->signals = s->next;
		event_free(s->ev);
		free(s);
	}
	while ((x = loop->xhead) != NULL) {
		loop->xhead = x->next;
		free(x);
	}
	event_free(loop->xevent);
	close(loop->xfd);
	event_base_free(loop->base);
	coro__stack_pool_free(loop);
	pthread_mutex_destroy(&loop->xlock);
	coro__overflow_guard_fini();
	if (coro__tls_loop == loop)
		coro__tls_loop = NULL;
	free(loop);
}

int
coro_run(coro_fn fn, void *arg, void **value)
{
	coro_loop *loop;
	coro_task *main_task;
	int err;

	if ((loop = coro_loop_new()) == NULL)
		return -errno;
	if ((err = coro_loop_stop_on_signals(loop)) != 0)
		goto out;
	if ((main_task = coro_spawn(loop, fn, arg,
	    &(coro_spawn_opts){ .name = "main" })) == NULL) {
		err = -errno;
		goto out;
	}
	err = coro_loop_run_until_complete(loop, main_task, value);
	coro_task_unref(main_task);
 out:
	coro_loop_free(loop);
	return err;
}
