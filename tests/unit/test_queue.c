/*
 * test_queue.c: FIFO order, backpressure on a full queue, the try
 * variants, close waking every waiter, deadlines, and puts from other
 * threads into a thread-safe queue.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "test_helpers.h"

struct pc {
	coro_queue	*q;
	int		 n;
	int		 got[64];
	int		 ngot;
	int		 max_len;	/* largest length the producer saw */
};

static int
producer(void *arg)
{
	struct pc *p = arg;
	int i, err;

	for (i = 1; i <= p->n; i++) {
		if ((err = coro_queue_put(p->q, (void *)(intptr_t)i,
		    CORO_NEVER)) != 0)
			return err;
		if ((int)coro_queue_len(p->q) > p->max_len)
			p->max_len = (int)coro_queue_len(p->q);
	}
	coro_queue_close(p->q);
	return 0;
}

static int
consumer(void *arg)
{
	struct pc *p = arg;
	void *item;
	int err;

	while ((err = coro_queue_get(p->q, &item, CORO_NEVER)) == 0) {
		p->got[p->ngot++] = (int)(intptr_t)item;
		coro_sleep(1);		/* slower than the producer */
	}
	return err == -EPIPE ? 0 : err;
}

static void
test_queue_fifo_with_backpressure(void **state)
{
	coro_loop *loop = coro_loop_new();
	struct pc p;
	coro_task *a, *b;
	int i;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.q = coro_queue_new(loop, 3);
	p.n = 40;
	a = coro_spawn(loop, producer, &p, NULL);
	b = coro_spawn(loop, consumer, &p, NULL);
	assert_int_equal(coro_loop_run_until_complete(loop, b, NULL), 0);
	assert_int_equal(coro_loop_run_until_complete(loop, a, NULL), 0);
	assert_int_equal(p.ngot, 40);
	for (i = 0; i < 40; i++)
		assert_int_equal(p.got[i], i + 1);
	assert_true(p.max_len <= 3);
	coro_task_unref(a);
	coro_task_unref(b);
	coro_queue_free(p.q);
	coro_loop_free(loop);
}

static void
test_queue_try_variants(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_queue *q = coro_queue_new(loop, 2);
	void *item;

	(void)state;
	assert_int_equal(coro_queue_try_get(q, &item), -EAGAIN);
	assert_int_equal(coro_queue_try_put(q, (void *)1), 0);
	assert_int_equal(coro_queue_try_put(q, (void *)2), 0);
	assert_int_equal(coro_queue_try_put(q, (void *)3), -EAGAIN);
	assert_int_equal(coro_queue_len(q), 2);
	coro_queue_close(q);
	assert_true(coro_queue_closed(q));
	assert_int_equal(coro_queue_try_put(q, (void *)4), -EPIPE);
	/* what was queued before close is still there */
	assert_int_equal(coro_queue_try_get(q, &item), 0);
	assert_ptr_equal(item, (void *)1);
	assert_int_equal(coro_queue_try_get(q, &item), 0);
	assert_ptr_equal(item, (void *)2);
	assert_int_equal(coro_queue_try_get(q, &item), -EPIPE);
	coro_queue_free(q);
	coro_loop_free(loop);
}

static void
test_queue_unbounded_grows(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_queue *q = coro_queue_new(loop, 0);
	void *item;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(coro_queue_try_put(q, (void *)(intptr_t)i), 0);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(coro_queue_try_get(q, &item), 0);
		assert_int_equal((int)(intptr_t)item, i);
	}
	coro_queue_free(q);
	coro_loop_free(loop);
}

static int
blocked_getter(void *arg)
{
	void *item;

	return coro_queue_get(arg, &item, CORO_NEVER);
}

static int
close_wakes(void *arg)
{
	coro_loop *loop = coro_loop_current();
	coro_queue *q = coro_queue_new(loop, 1);
	coro_task *g1 = coro_spawn(loop, blocked_getter, q, NULL);
	coro_task *g2 = coro_spawn(loop, blocked_getter, q, NULL);
	int e1, e2;

	(void)arg;
	coro_sleep(10);
	coro_queue_close(q);
	e1 = coro_join(g1, NULL, coro_deadline_in(1000));
	e2 = coro_join(g2, NULL, coro_deadline_in(1000));
	coro_task_unref(g1);
	coro_task_unref(g2);
	coro_queue_free(q);
	return e1 == -EPIPE && e2 == -EPIPE ? 0 : -EIO;
}

static void
test_queue_close_wakes_all_waiters(void **state)
{
	(void)state;
	assert_int_equal(run_task(close_wakes, NULL), 0);
}

static int
deadlines(void *arg)
{
	coro_queue *q = coro_queue_new(coro_loop_current(), 1);
	void *item;
	int e1, e2;

	(void)arg;
	e1 = coro_queue_get(q, &item, coro_deadline_in(10));
	coro_queue_put(q, NULL, CORO_NEVER);
	e2 = coro_queue_put(q, NULL, coro_deadline_in(10));
	coro_queue_free(q);
	return e1 == -ETIMEDOUT && e2 == -ETIMEDOUT ? 0 : -EIO;
}

static void
test_queue_deadlines(void **state)
{
	(void)state;
	assert_int_equal(run_task(deadlines, NULL), 0);
}

struct getter {
	coro_queue	*q;
	int		 err;
	void		*item;
};

static int
getter(void *arg)
{
	struct getter *g = arg;

	g->err = coro_queue_get(g->q, &g->item, coro_deadline_in(1000));
	return 0;
}

static int
woken_getter_cancelled(void *arg)
{
	coro_loop *loop = coro_loop_current();
	struct getter a = { coro_queue_new(loop, 4), 1, NULL };
	struct getter b = { a.q, 1, NULL };
	coro_task *ta = coro_spawn(loop, getter, &a, NULL);
	coro_task *tb = coro_spawn(loop, getter, &b, NULL);

	(void)arg;
	coro_sleep(10);			/* both are waiting now */
	coro_queue_try_put(a.q, (void *)"x");	/* wakes a */
	coro_cancel(ta);		/* before a gets to run */
	coro_join(ta, NULL, CORO_NEVER);
	coro_join(tb, NULL, CORO_NEVER);
	coro_task_unref(ta);
	coro_task_unref(tb);
	coro_queue_free(a.q);
	/* the wake-up a could not use went to b */
	return a.err == -ECANCELED && b.err == 0 && b.item != NULL ? 0 : -EIO;
}

static void
test_queue_unused_wakeup_passes_to_next_getter(void **state)
{
	(void)state;
	assert_int_equal(run_task(woken_getter_cancelled, NULL), 0);
}

#define XITEMS 2000

static void *
thread_producer(void *arg)
{
	coro_queue *q = arg;
	intptr_t i;

	for (i = 1; i <= XITEMS; i++)
		while (coro_queue_put_threadsafe(q, (void *)i) == -EAGAIN)
			sched_yield();
	return NULL;
}

static int
threadsafe_consumer(void *arg)
{
	coro_queue *q = coro_queue_new_threadsafe(coro_loop_current(), 16);
	pthread_t th;
	intptr_t want = 1;
	void *item;
	int err = 0;

	(void)arg;
	/* a plain queue refuses puts from other threads */
	if (coro_queue_put_threadsafe(q, NULL) != 0)
		return -EINVAL;
	coro_queue_try_get(q, &item);
	pthread_create(&th, NULL, thread_producer, q);
	while (want <= XITEMS) {
		if ((err = coro_queue_get(q, &item, coro_deadline_in(5000)))
		    != 0)
			break;
		if ((intptr_t)item != want++) {
			err = -EIO;
			break;
		}
	}
	pthread_join(th, NULL);
	coro_queue_free(q);
	return err;
}

static void
test_queue_threadsafe_put_from_thread(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_queue *plain = coro_queue_new(loop, 1);

	(void)state;
	assert_int_equal(coro_queue_put_threadsafe(plain, NULL), -EINVAL);
	coro_queue_free(plain);
	coro_loop_free(loop);
	assert_int_equal(run_task(threadsafe_consumer, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_fifo_with_backpressure),
		cmocka_unit_test(test_queue_try_variants),
		cmocka_unit_test(test_queue_unbounded_grows),
		cmocka_unit_test(test_queue_close_wakes_all_waiters),
		cmocka_unit_test(test_queue_deadlines),
		cmocka_unit_test(test_queue_unused_wakeup_passes_to_next_getter),
		cmocka_unit_test(test_queue_threadsafe_put_from_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
