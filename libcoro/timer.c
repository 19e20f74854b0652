/*
 * timer.c: plain callbacks at a later time (call_later) and reusable
 * timers owned by the caller.  Both run on the loop's stack and must not
 * suspend; to sleep inside a task use coro_sleep.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "coro-internal.h"

struct coro_timer {
	struct event	*ev;
	coro_cb		 cb;
	void		*arg;
	bool		 repeat;
};

static struct timeval
ms_to_tv(int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/*
 * Arms ev to fire ms from now.  libevent measures a timeout from the time
 * it cached when the current loop iteration began, which can be several
 * milliseconds old after a long batch of tasks; a 30 ms sleep would then
 * end after 27.  Refreshing the cache first makes "from now" mean now.
 */
int
coro__timer_add(struct event *ev, int64_t ms)
{
	struct timeval tv = ms_to_tv(ms);

	event_base_update_cache_time(event_get_base(ev));
	return event_add(ev, &tv) == 0 ? 0 : -EINVAL;
}

struct later {
	struct event	*ev;
	coro_cb		 cb;
	void		*arg;
};

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;
	coro_cb cb = l->cb;
	void *cbarg = l->arg;

	(void)fd;
	(void)what;
	event_free(l->ev);
	free(l);
	cb(cbarg);
}

int
coro_call_later(coro_loop *loop, int64_t ms, coro_cb cb, void *arg)
{
	struct later *l;

	if ((l = malloc(sizeof(*l))) == NULL)
		return -ENOMEM;
	if ((l->ev = evtimer_new(loop->base, later_cb, l)) == NULL) {
		free(l);
		return -ENOMEM;
	}
	l->cb = cb;
	l->arg = arg;
	coro__timer_add(l->ev, ms);
	return 0;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	coro_timer *t = arg;

	(void)fd;
	(void)what;
	t->cb(t->arg);
}

coro_timer *
coro_timer_new(coro_loop *loop, coro_cb cb, void *arg)
{
	coro_timer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	/* created as a one-shot; start_repeat re-assigns it persistent */
	if ((t->ev = event_new(loop->base, -1, 0, timer_cb, t)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static int
timer_arm(coro_timer *t, int64_t ms, bool repeat)
{
	struct event_base *base = event_get_base(t->ev);

	event_del(t->ev);
	if (repeat != t->repeat) {
		if (event_assign(t->ev, base, -1, repeat ? EV_PERSIST : 0,
		    timer_cb, t) == -1)
			return -EINVAL;
		t->repeat = repeat;
	}
	return coro__timer_add(t->ev, ms);
}

int
coro_timer_start(coro_timer *t, int64_t ms)
{
	return timer_arm(t, ms, false);
}

int
coro_timer_start_repeat(coro_timer *t, int64_t ms)
{
	return timer_arm(t, ms, true);
}

void
coro_timer_stop(coro_timer *t)
{
	event_del(t->ev);
}

bool
coro_timer_pending(const coro_timer *t)
{
	return event_pending(t->ev, EV_TIMEOUT, NULL) != 0;
}

void
coro_timer_free(coro_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}
