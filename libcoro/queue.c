/*
 * queue.c: bounded FIFO queues of pointers between tasks (asyncio.Queue).
 *
 * A full queue suspends putters and an empty one getters, which gives
 * backpressure between producer and consumer tasks.  Closing wakes every
 * waiter with -EPIPE; items already queued can still be taken.  A
 * thread-safe queue also accepts items from other threads: those puts
 * never block, take the queue's mutex, and wake the loop's getters through
 * coro_call_soon_threadsafe.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "coro-internal.h"

struct coro_queue {
	coro_loop		*loop;
	void			**ring;
	size_t			 cap;		/* ring slots */
	size_t			 limit;		/* 0 = unbounded */
	size_t			 head, len;
	bool			 closed;
	bool			 threadsafe;
	bool			 wake_pending;	/* a cross-thread wake queued */
	bool			 freed;		/* free once that wake ran */
	pthread_mutex_t		 lock;
	struct coro__waitq	 getters, putters;
};

static coro_queue *
queue_new(coro_loop *loop, size_t capacity, bool threadsafe)
{
	coro_queue *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->loop = loop;
	q->limit = capacity;
	q->cap = capacity ? capacity : 16;
	if ((q->ring = calloc(q->cap, sizeof(*q->ring))) == NULL) {
		free(q);
		return NULL;
	}
	q->threadsafe = threadsafe;
	if (threadsafe)
		pthread_mutex_init(&q->lock, NULL);
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	return q;
}

coro_queue *
coro_queue_new(coro_loop *loop, size_t capacity)
{
	return queue_new(loop, capacity, false);
}

coro_queue *
coro_queue_new_threadsafe(coro_loop *loop, size_t capacity)
{
	return queue_new(loop, capacity, true);
}

static void
lock(coro_queue *q)
{
	if (q->threadsafe)
		pthread_mutex_lock(&q->lock);
}

static void
unlock(coro_queue *q)
{
	if (q->threadsafe)
		pthread_mutex_unlock(&q->lock);
}

static void
queue_destroy(coro_queue *q)
{
	if (q->threadsafe)
		pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}

void
coro_queue_free(coro_queue *q)
{
	bool later;

	if (q == NULL)
		return;
	lock(q);
	/* a wake from another thread may still be on its way to the loop */
	later = q->wake_pending;
	q->freed = true;
	unlock(q);
	if (!later)
		queue_destroy(q);
}

/* With the lock held: append if there is room. */
static int
ring_push(coro_queue *q, void *item)
{
	if (q->closed)
		return -EPIPE;
	if (q->limit != 0 && q->len >= q->limit)
		return -EAGAIN;
	if (q->len == q->cap) {
		size_t ncap = q->cap * 2, i;
		void **r;

		if ((r = malloc(ncap * sizeof(*r))) == NULL)
			return -ENOMEM;
		for (i = 0; i < q->len; i++)
			r[i] = q->ring[(q->head + i) % q->cap];
		free(q->ring);
		q->ring = r;
		q->cap = ncap;
		q->head = 0;
	}
	q->ring[(q->head + q->len) % q->cap] = item;
	q->len++;
	return 0;
}

static int
ring_pop(coro_queue *q, void **item)
{
	if (q->len == 0)
		return q->closed ? -EPIPE : -EAGAIN;
	*item = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return 0;
}

int
coro_queue_try_put(coro_queue *q, void *item)
{
	int err;

	lock(q);
	err = ring_push(q, item);
	unlock(q);
	if (err == 0)
		coro__waitq_wake_one(&q->getters, 0);
	return err;
}

int
coro_queue_try_get(coro_queue *q, void **item)
{
	int err;

	lock(q);
	err = ring_pop(q, item);
	unlock(q);
	if (err == 0)
		coro__waitq_wake_one(&q->putters, 0);
	return err;
}

/* A waiter that was woken but leaves without using the wake-up (it was
 * cancelled or timed out meanwhile) hands it to the next one, or an item
 * could sit in the queue while a getter sleeps. */
static int
pass_on(struct coro__waitq *wq, bool usable, int err)
{
	if (usable)
		coro__waitq_wake_one(wq, 0);
	return err;
}

int
coro_queue_put(coro_queue *q, void *item, int64_t deadline)
{
	int err;

	for (;;) {
		if ((err = coro__checkpoint()) != 0)
			break;
		if ((err = coro_queue_try_put(q, item)) != -EAGAIN)
			return err;
		if ((err = coro__waitq_wait(&q->putters, deadline)) != 0)
			break;
	}
	return pass_on(&q->putters,
	    q->limit == 0 || coro_queue_len(q) < q->limit, err);
}

int
coro_queue_get(coro_queue *q, void **item, int64_t deadline)
{
	int err;

	for (;;) {
		if ((err = coro__checkpoint()) != 0)
			break;
		if ((err = coro_queue_try_get(q, item)) != -EAGAIN)
			return err;
		if ((err = coro__waitq_wait(&q->getters, deadline)) != 0)
			break;
	}
	return pass_on(&q->getters, coro_queue_len(q) > 0, err);
}

static void
wake_getters(void *arg)
{
	coro_queue *q = arg;
	size_t n;

	lock(q);
	q->wake_pending = false;
	n = q->len;
	if (q->freed) {
		unlock(q);
		queue_destroy(q);
		return;
	}
	unlock(q);
	while (n-- > 0 && coro__waitq_wake_one(&q->getters, 0))
		;
}

int
coro_queue_put_threadsafe(coro_queue *q, void *item)
{
	bool wake;
	int err;

	if (!q->threadsafe)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	if ((err = ring_push(q, item)) == 0) {
		wake = !q->wake_pending;
		q->wake_pending = true;
	} else
		wake = false;
	pthread_mutex_unlock(&q->lock);
	if (wake && (err = coro_call_soon_threadsafe(q->loop, wake_getters,
	    q)) != 0) {
		pthread_mutex_lock(&q->lock);
		q->wake_pending = false;
		pthread_mutex_unlock(&q->lock);
	}
	return err;
}

void
coro_queue_close(coro_queue *q)
{
	lock(q);
	q->closed = true;
	unlock(q);
	coro__waitq_wake_all(&q->getters, 0);
	coro__waitq_wake_all(&q->putters, 0);
}

size_t
coro_queue_len(coro_queue *q)
{
	size_t n;

	lock(q);
	n = q->len;
	unlock(q);
	return n;
}

bool
coro_queue_closed(coro_queue *q)
{
	bool c;

	lock(q);
	c = q->closed;
	unlock(q);
	return c;
}
