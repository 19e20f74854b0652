/*
 * group.c: task groups, libcoro's structured concurrency (asyncio's
 * TaskGroup, Trio's nursery).
 *
 * A group owns the tasks spawned into it.  The first one to fail cancels
 * its siblings; join always waits for every task, even when the joiner is
 * cancelled or its deadline passes (it then cancels them first), so no
 * task outlives the scope that started it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "coro-internal.h"

struct coro_group {
	coro_loop		*loop;
	TAILQ_HEAD(, coro_task)	 tasks;		/* live members */
	size_t			 ntasks;
	int			 first_err;
	bool			 cancelling;	/* the group cancelled them */
	struct coro__waitq	 joiners;
};

coro_group *
coro_group_new(coro_loop *loop)
{
	coro_group *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->loop = loop;
	TAILQ_INIT(&g->tasks);
	TAILQ_INIT(&g->joiners);
	return g;
}

coro_task *
coro_group_spawn(coro_group *g, coro_fn fn, void *arg,
    const coro_spawn_opts *opts)
{
	coro_task *t;

	if ((t = coro_spawn(g->loop, fn, arg, opts)) == NULL)
		return NULL;
	t->group = g;
	TAILQ_INSERT_TAIL(&g->tasks, t, glink);
	g->ntasks++;
	if (g->cancelling)
		coro_cancel(t);
	/* the group holds the caller's reference until the task ends */
	return t;
}

void
coro_group_cancel(coro_group *g)
{
	coro_task *t;

	g->cancelling = true;
	TAILQ_FOREACH(t, &g->tasks, glink)
		coro_cancel(t);
}

size_t
coro_group_size(const coro_group *g)
{
	return g->ntasks;
}

void
coro__group_task_ended(coro_group *g, coro_task *t)
{
	int err = coro_future_error(&t->fut);

	TAILQ_REMOVE(&g->tasks, t, glink);
	g->ntasks--;
	t->group = NULL;
	if (err != 0 && !(err == -ECANCELED && g->cancelling) &&
	    g->first_err == 0) {
		g->first_err = err;
		coro_group_cancel(g);
	}
	if (g->ntasks == 0)
		coro__waitq_wake_all(&g->joiners, 0);
	coro_task_unref(t);
}

int
coro_group_join(coro_group *g, int64_t deadline)
{
	int err = 0;

	while (g->ntasks > 0) {
		err = coro__waitq_wait(&g->joiners, deadline);
		if (err == -EPERM)
			return err;
		if (err != 0)
			break;
	}
	if (g->ntasks > 0) {
		/* deadline or cancellation: stop them, and still wait */
		coro_group_cancel(g);
		coro_shield_begin();
		while (g->ntasks > 0)
			coro__waitq_wait(&g->joiners, CORO_NEVER);
		coro_shield_end();
	}
	if (g->first_err != 0)
		return g->first_err;
	return err;
}

static bool
group_empty(void *arg)
{
	return ((coro_group *)arg)->ntasks == 0;
}

void
coro_group_free(coro_group *g)
{
	if (g == NULL)
		return;
	if (g->ntasks > 0) {
		coro_group_cancel(g);
		if (coro_current() != NULL)
			coro_group_join(g, CORO_NEVER);
		else
			coro__loop_run_while(g->loop, group_empty, g);
	}
	free(g);
}
