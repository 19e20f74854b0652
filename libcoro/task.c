/*
 * task.c: tasks (coroutines on their own stacks) and the waiting core
 * every blocking call is built on.
 *
 * A task runs fn(arg) on its own stack.  It leaves the CPU only by waiting
 * (coro__wait: suspend until coro__wake, the task's deadline timer or a
 * cancellation), by yielding, or by ending.  The scheduler in loop.c
 * resumes it from the ready queue.  When fn returns, the task's deferred
 * cleanups run (still on its stack, so they may do shielded I/O), its
 * future completes, and it switches to the loop for the last time; the
 * loop then returns the stack to the pool (a task cannot free the stack
 * it stands on) and drops its reference.
 *
 * Cancellation is level-triggered, as in Trio and libdill: once
 * requested, the current wait ends with -ECANCELED and so does every later
 * one, except inside a shield.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "coro-internal.h"

int64_t
coro_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
coro_deadline_in(int64_t ms)
{
	return ms < 0 ? CORO_NEVER : coro_now() + ms;
}

coro_task *
coro_current(void)
{
	coro_loop *loop = coro__tls_loop;

	return loop != NULL ? loop->current : NULL;
}

static void
task_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	coro_task *t = arg;

	(void)fd;
	(void)what;
	if (t->waiter != NULL)
		coro__wake(t->waiter, -ETIMEDOUT);
}

/* The loop's reference and the stack go once the task has switched away
 * for the last time. */
static void
task_release(coro_task *t)
{
	coro_loop *loop = t->loop;

	coro__stack_put(loop, &t->fiber);
	LIST_REMOVE(t, live);
	loop->ntasks--;
	if (t->group != NULL)
		coro__group_task_ended(t->group, t);
	coro__loop_task_ended(loop);
	coro_task_unref(t);
}

static void
task_complete(coro_task *t, int status)
{
	if (status == -ECANCELED)
		coro__future_complete(&t->fut, CORO_CANCELLED, NULL, status);
	else if (status < 0)
		coro__future_complete(&t->fut, CORO_FAILED, NULL, status);
	else
		coro__future_complete(&t->fut, CORO_DONE, t->result, 0);
}

static void
task_entry(void *arg)
{
	coro_task *t = arg;
	coro_loop *loop = t->loop;
	int status;

	coro__fiber_started(&t->fiber, &loop->fiber);
	status = t->fn(t->arg);
	while (t->ndefers > 0) {
		struct coro__defer *d = &t->defers[--t->ndefers];

		d->fn(d->arg);
	}
	task_complete(t, status);
	t->state = CORO_TASK_ENDED;
	coro__fiber_switch(&t->fiber, &loop->fiber, 1);
	__builtin_unreachable();
}

static void
task_resume(struct coro__runnable *r)
{
	coro_task *t = (coro_task *)((char *)r - offsetof(coro_task, run));
	coro_loop *loop = t->loop;

	/* A task cancelled before it ever ran still runs (Trio, not
	 * asyncio): its first blocking call fails, and it can release
	 * what it was handed, such as an accepted connection. */
	t->state = CORO_TASK_RUNNING;
	loop->current = t;
	coro__fiber_switch(&loop->fiber, &t->fiber, 0);
	loop->current = NULL;
	if (t->state == CORO_TASK_ENDED)
		task_release(t);
}

coro_task *
coro_spawn(coro_loop *loop, coro_fn fn, void *arg,
    const coro_spawn_opts *opts)
{
	coro_task *t;
	int err;

	if (loop == NULL || fn == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	coro__future_init(&t->fut, loop);
	t->fut.refs = 2;		/* the caller's and the loop's */
	t->fut.task = t;
	t->loop = loop;
	t->fn = fn;
	t->arg = arg;
	if (opts != NULL && opts->name != NULL)
		snprintf(t->name, sizeof(t->name), "%s", opts->name);
	if ((t->timer = evtimer_new(loop->base, task_timer_cb, t)) == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	err = coro__stack_get(loop, opts != NULL ? opts->stack_size : 0,
	    &t->fiber);
	if (err != 0) {
		event_free(t->timer);
		free(t);
		errno = -err;
		return NULL;
	}
	coro__ctx_init(&t->fiber.ctx, t->fiber.stack_lo, t->fiber.stack_size,
	    task_entry, t);
	t->run.run = task_resume;
	t->state = CORO_TASK_NEW;
	LIST_INSERT_HEAD(&loop->live, t, live);
	loop->ntasks++;
	coro__ready(loop, &t->run);
	return t;
}

/* Called by coro_future_unref when the last reference goes. */
void
coro__task_free(coro_task *t)
{
	event_free(t->timer);
	free(t->defers);
	free(t);
}

coro_task *
coro_task_ref(coro_task *t)
{
	coro_future_ref(&t->fut);
	return t;
}

void
coro_task_unref(coro_task *t)
{
	if (t != NULL)
		coro_future_unref(&t->fut);
}

coro_loop *
coro_task_loop(const coro_task *t)
{
	return t->loop;
}

const char *
coro_task_name(const coro_task *t)
{
	return t->name;
}

coro_future *
coro_task_future(coro_task *t)
{
	return &t->fut;
}

void
coro_set_result(void *value)
{
	coro_task *t = coro_current();

	if (t != NULL)
		t->result = value;
}

void
coro_cancel(coro_task *t)
{
	if (t == NULL || t->state == CORO_TASK_ENDED)
		return;
	t->cancel_requested = true;
	if (t->state == CORO_TASK_WAITING && t->waiter != NULL &&
	    t->shield == 0)
		coro__wake(t->waiter, -ECANCELED);
}

bool
coro_cancelled(void)
{
	coro_task *t = coro_current();

	return t != NULL && t->cancel_requested;
}

void
coro_shield_begin(void)
{
	coro_task *t = coro_current();

	if (t != NULL)
		t->shield++;
}

void
coro_shield_end(void)
{
	coro_task *t = coro_current();

	if (t != NULL && t->shield > 0)
		t->shield--;
}

int
coro_defer(coro_cb fn, void *arg)
{
	coro_task *t = coro_current();

	if (t == NULL)
		return -EPERM;
	if (t->ndefers == t->capdefers) {
		size_t cap = t->capdefers ? t->capdefers * 2 : 4;
		struct coro__defer *d;

		if ((d = realloc(t->defers, cap * sizeof(*d))) == NULL)
			return -ENOMEM;
		t->defers = d;
		t->capdefers = cap;
	}
	t->defers[t->ndefers].fn = fn;
	t->defers[t->ndefers].arg = arg;
	t->ndefers++;
	return 0;
}

/* ---- waiting ---- */

int
coro__checkpoint(void)
{
	coro_task *t = coro_current();

	if (t == NULL)
		return -EPERM;
	if (t->cancel_requested && t->shield == 0)
		return -ECANCELED;
	return 0;
}

static void
waiter_unlink(struct coro__waiter *w)
{
	if (w->unlink != NULL) {
		w->unlink(w);
		w->unlink = NULL;
	}
}

int
coro__wait(struct coro__waiter *w, int64_t deadline)
{
	coro_task *t = coro_current();
	int err;

	if ((err = coro__checkpoint()) != 0) {
		waiter_unlink(w);
		return err;
	}
	if (deadline != CORO_NEVER) {
		int64_t left = deadline - coro_now();

		if (left <= 0) {
			waiter_unlink(w);
			return -ETIMEDOUT;
		}
		coro__timer_add(t->timer, left);
		t->timer_armed = true;
	}
	w->task = t;
	w->result = 0;
	t->waiter = w;
	t->state = CORO_TASK_WAITING;
	coro__fiber_switch(&t->fiber, &t->loop->fiber, 0);
	return w->result;
}

void
coro__wake(struct coro__waiter *w, int result)
{
	coro_task *t = w->task;

	if (t == NULL || t->waiter != w) {
		waiter_unlink(w);
		return;
	}
	t->waiter = NULL;
	waiter_unlink(w);
	if (t->timer_armed) {
		evtimer_del(t->timer);
		t->timer_armed = false;
	}
	w->result = result;
	t->state = CORO_TASK_READY;
	coro__ready(t->loop, &t->run);
}

static void
waitq_unlink(struct coro__waiter *w)
{
	TAILQ_REMOVE((struct coro__waitq *)w->data, w, link);
}

int
coro__waitq_wait(struct coro__waitq *q, int64_t deadline)
{
	struct coro__waiter w;
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	memset(&w, 0, sizeof(w));
	w.unlink = waitq_unlink;
	w.data = q;
	TAILQ_INSERT_TAIL(q, &w, link);
	return coro__wait(&w, deadline);
}

int
coro__waitq_wake_one(struct coro__waitq *q, int result)
{
	struct coro__waiter *w = TAILQ_FIRST(q);

	if (w == NULL)
		return 0;
	coro__wake(w, result);
	return 1;
}

void
coro__waitq_wake_all(struct coro__waitq *q, int result)
{
	struct coro__waiter *w;

	while ((w = TAILQ_FIRST(q)) != NULL)
		coro__wake(w, result);
}

/* ---- sleeping and yielding ---- */

int
coro_sleep_until(int64_t deadline)
{
	struct coro__waiter w;
	int err;

	if (deadline != CORO_NEVER && deadline <= coro_now())
		return coro_yield();
	memset(&w, 0, sizeof(w));
	err = coro__wait(&w, deadline);
	return err == -ETIMEDOUT ? 0 : err;
}

int
coro_sleep(int64_t ms)
{
	return coro_sleep_until(coro_deadline_in(ms < 0 ? 0 : ms));
}

int
coro_yield(void)
{
	coro_task *t = coro_current();
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	t->state = CORO_TASK_READY;
	coro__ready(t->loop, &t->run);
	coro__fiber_switch(&t->fiber, &t->loop->fiber, 0);
	return coro__checkpoint();
}

int
coro_join(coro_task *t, void **value, int64_t deadline)
{
	return coro_await(&t->fut, value, deadline);
}
