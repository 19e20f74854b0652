/*
 * future.c: futures, awaiting them, and gather.
 *
 * A future completes once: done, failed with a negative errno, or
 * cancelled.  Completion readies every task waiting in coro_await and runs
 * the internal watchers (gather, groups, executors) synchronously, but
 * user done callbacks only ever run later from the loop (call_soon), so
 * no user code runs inside coro_future_resolve.  A task is a future whose
 * completion is its end; cancelling that future cancels the task.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro-internal.h"

struct coro__donecb {
	struct coro__donecb	*next;
	coro_future		*fut;
	void			(*cb)(coro_future *, void *);
	void			*arg;
};

void
coro__future_init(coro_future *f, coro_loop *loop)
{
	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->refs = 1;
	f->state = CORO_PENDING;
	TAILQ_INIT(&f->watchers);
	f->callbacks_tail = &f->callbacks;
}

coro_future *
coro_future_new(coro_loop *loop)
{
	coro_future *f;

	if (loop == NULL || (f = malloc(sizeof(*f))) == NULL)
		return NULL;
	coro__future_init(f, loop);
	return f;
}

coro_future *
coro_future_ref(coro_future *f)
{
	f->refs++;
	return f;
}

void
coro_future_unref(coro_future *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	if (f->task != NULL)
		coro__task_free(f->task);
	else
		free(f);
}

static void
donecb_run(void *arg)
{
	struct coro__donecb *d = arg;

	d->cb(d->fut, d->arg);
	coro_future_unref(d->fut);
	free(d);
}

static void
donecb_queue(struct coro__donecb *d)
{
	if (coro_call_soon(d->fut->loop, donecb_run, d) != 0) {
		/* out of memory: run it now rather than lose it */
		donecb_run(d);
	}
}

int
coro__future_complete(coro_future *f, enum coro_future_state state,
    void *value, int err)
{
	struct coro__fwatch *w;
	struct coro__donecb *d, *next;

	if (f->state != CORO_PENDING)
		return -EINVAL;
	f->state = state;
	f->value = value;
	f->err = err;
	/* a watcher may drop the last reference of another party: hold one */
	coro_future_ref(f);
	while ((w = TAILQ_FIRST(&f->watchers)) != NULL) {
		TAILQ_REMOVE(&f->watchers, w, link);
		w->notify(w, f);
	}
	d = f->callbacks;
	f->callbacks = NULL;
	f->callbacks_tail = &f->callbacks;
	for (; d != NULL; d = next) {
		next = d->next;
		donecb_queue(d);
	}
	coro_future_unref(f);
	return 0;
}

void
coro__fwatch_add(coro_future *f, struct coro__fwatch *w)
{
	TAILQ_INSERT_TAIL(&f->watchers, w, link);
}

void
coro__fwatch_del(coro_future *f, struct coro__fwatch *w)
{
	TAILQ_REMOVE(&f->watchers, w, link);
}

int
coro_future_resolve(coro_future *f, void *value)
{
	if (f->task != NULL)
		return -EINVAL;		/* a task completes by ending */
	return coro__future_complete(f, CORO_DONE, value, 0);
}

int
coro_future_fail(coro_future *f, int err)
{
	if (f->task != NULL)
		return -EINVAL;
	if (err >= 0)
		err = -EINVAL;
	return coro__future_complete(f, err == -ECANCELED ? CORO_CANCELLED :
	    CORO_FAILED, NULL, err);
}

int
coro_future_cancel(coro_future *f)
{
	if (f->state != CORO_PENDING)
		return -EINVAL;
	if (f->task != NULL) {
		coro_cancel(f->task);
		return 0;
	}
	return coro__future_complete(f, CORO_CANCELLED, NULL, -ECANCELED);
}

enum coro_future_state
coro_future_state(const coro_future *f)
{
	return f->state;
}

bool
coro_future_done(const coro_future *f)
{
	return f->state != CORO_PENDING;
}

int
coro_future_error(const coro_future *f)
{
	switch (f->state) {
	case CORO_PENDING:
		return -EAGAIN;
	case CORO_DONE:
		return 0;
	default:
		return f->err;
	}
}

void *
coro_future_value(const coro_future *f)
{
	return f->value;
}

int
coro_future_on_done(coro_future *f, void (*cb)(coro_future *, void *),
    void *arg)
{
	struct coro__donecb *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	d->fut = coro_future_ref(f);
	d->cb = cb;
	d->arg = arg;
	if (f->state != CORO_PENDING) {
		donecb_queue(d);
		return 0;
	}
	*f->callbacks_tail = d;
	f->callbacks_tail = &d->next;
	return 0;
}

/* ---- await ---- */

struct await_state {
	struct coro__waiter	 waiter;
	struct coro__fwatch	 watch;
	coro_future		*fut;
};

static void
await_notify(struct coro__fwatch *w, coro_future *f)
{
	struct await_state *a = w->data;

	(void)f;
	a->fut = NULL;		/* the watch is already off the list */
	coro__wake(&a->waiter, 0);
}

static void
await_unlink(struct coro__waiter *w)
{
	struct await_state *a = w->data;

	if (a->fut != NULL) {
		coro__fwatch_del(a->fut, &a->watch);
		a->fut = NULL;
	}
}

int
coro_await(coro_future *f, void **value, int64_t deadline)
{
	struct await_state a;
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	if (f->state == CORO_PENDING) {
		if (f->task != NULL && f->task == coro_current())
			return -EDEADLK;	/* awaiting oneself */
		memset(&a, 0, sizeof(a));
		a.fut = f;
		a.watch.notify = await_notify;
		a.watch.data = &a;
		a.waiter.unlink = await_unlink;
		a.waiter.data = &a;
		coro__fwatch_add(f, &a.watch);
		/* the caller holds a reference for as long as this takes */
		if ((err = coro__wait(&a.waiter, deadline)) != 0)
			return err;
	}
	if (value != NULL)
		*value = f->value;
	return coro_future_error(f);
}

/* ---- gather ---- */

struct gather_item {
	struct coro__fwatch	 watch;
	struct gather_state	*g;
	coro_future		*fut;	/* NULL once it notified */
};

struct gather_state {
	struct coro__waiter	 waiter;
	struct gather_item	*items;
	size_t			 n, left;
	int			 flags;
	int			 first_err;
};

static void
gather_notify(struct coro__fwatch *w, coro_future *f)
{
	struct gather_item *it = w->data;
	struct gather_state *g = it->g;
	int err = coro_future_error(f);

	it->fut = NULL;
	g->left--;
	if (err != 0 && g->first_err == 0)
		g->first_err = err;
	if (g->left == 0 ||
	    (err != 0 && !(g->flags & CORO_GATHER_WAIT_ALL)))
		coro__wake(&g->waiter, 0);
}

static void
gather_detach(struct gather_state *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		if (g->items[i].fut != NULL) {
			coro__fwatch_del(g->items[i].fut, &g->items[i].watch);
			g->items[i].fut = NULL;
		}
	}
}

static void
gather_cancel_rest(coro_future *const *futs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (futs[i]->state == CORO_PENDING)
			coro_future_cancel(futs[i]);
}

/* Waits, shielded, for futures that were just cancelled to end. */
static void
gather_drain(coro_future *const *futs, size_t n)
{
	size_t i;

	coro_shield_begin();
	for (i = 0; i < n; i++)
		if (futs[i]->state == CORO_PENDING)
			coro_await(futs[i], NULL, CORO_NEVER);
	coro_shield_end();
}

int
coro_gather(coro_future *const *futs, size_t n, int flags, int64_t deadline)
{
	struct gather_state g;
	size_t i;
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	memset(&g, 0, sizeof(g));
	g.flags = flags;
	g.n = n;
	if ((g.items = calloc(n ? n : 1, sizeof(*g.items))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (futs[i]->state != CORO_PENDING) {
			err = coro_future_error(futs[i]);
			if (err != 0 && g.first_err == 0)
				g.first_err = err;
			continue;
		}
		g.items[i].g = &g;
		g.items[i].fut = futs[i];
		g.items[i].watch.notify = gather_notify;
		g.items[i].watch.data = &g.items[i];
		coro__fwatch_add(futs[i], &g.items[i].watch);
		g.left++;
	}
	err = 0;
	if (g.left > 0 && (g.first_err == 0 || (flags & CORO_GATHER_WAIT_ALL)))
		err = coro__wait(&g.waiter, deadline);
	gather_detach(&g);
	free(g.items);
	if (err == 0)
		err = g.first_err;
	if (err != 0 && (flags & CORO_GATHER_CANCEL_REST)) {
		gather_cancel_rest(futs, n);
		gather_drain(futs, n);
	} else if (err == -ECANCELED && coro_cancelled()) {
		/* asyncio: cancelling the gatherer cancels its children */
		gather_cancel_rest(futs, n);
	}
	return err;
}
