/*
 * test_loop.c: run forever and stop, call_soon/call_later ordering,
 * timers, one loop per thread, coro_run, signals stopping the loop with
 * every task cancelled and its cleanups run, and loop_free doing the same.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "test_helpers.h"

static char trace[64];
static size_t ntrace;

static void
note(void *arg)
{
	trace[ntrace++] = *(const char *)arg;
	trace[ntrace] = '\0';
}

static void
test_loop_call_soon_fifo_and_call_later(void **state)
{
	coro_loop *loop = coro_loop_new();

	(void)state;
	ntrace = 0;
	coro_call_later(loop, 30, note, "c");
	coro_call_later(loop, 10, note, "b");
	coro_call_soon(loop, note, "a");
	coro_call_soon(loop, note, "A");
	coro_call_later(loop, 60, coro_loop_stop_cb, loop);
	assert_int_equal(coro_loop_run(loop), 0);
	assert_string_equal(trace, "aAbc");
	coro_loop_free(loop);
}

static int fired;

static void
count_fire(void *arg)
{
	(void)arg;
	fired++;
}

static void
test_loop_timer_repeat_stop_and_restart(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_timer *t = coro_timer_new(loop, count_fire, NULL);

	(void)state;
	fired = 0;
	assert_int_equal(coro_timer_start_repeat(t, 10), 0);
	assert_true(coro_timer_pending(t));
	coro_call_later(loop, 75, coro_loop_stop_cb, loop);
	coro_loop_run(loop);
	assert_true(fired >= 4 && fired <= 8);
	coro_timer_stop(t);
	assert_false(coro_timer_pending(t));
	fired = 0;
	coro_call_later(loop, 40, coro_loop_stop_cb, loop);
	coro_loop_run(loop);
	assert_int_equal(fired, 0);
	assert_int_equal(coro_timer_start(t, 5), 0);
	coro_call_later(loop, 40, coro_loop_stop_cb, loop);
	coro_loop_run(loop);
	assert_int_equal(fired, 1);
	coro_timer_free(t);
	coro_loop_free(loop);
}

static void
test_loop_one_per_thread(void **state)
{
	coro_loop *loop = coro_loop_new();

	(void)state;
	assert_ptr_equal(coro_loop_current(), loop);
	assert_null(coro_loop_new());
	assert_int_equal(errno, EBUSY);
	assert_non_null(coro_loop_base(loop));
	coro_loop_free(loop);
	assert_null(coro_loop_current());
}

static int
main_returns(void *arg)
{
	coro_set_result(arg);
	return coro_sleep(5);
}

static void
test_loop_coro_run_returns_main_status(void **state)
{
	void *v = NULL;

	(void)state;
	assert_int_equal(coro_run(main_returns, (void *)"r", &v), 0);
	assert_string_equal(v, "r");
	assert_null(coro_loop_current());
}

static int cleanups;

static void
count_cleanup(void *arg)
{
	(void)arg;
	cleanups++;
}

static int
forever_task(void *arg)
{
	int err;

	(void)arg;
	coro_defer(count_cleanup, NULL);
	while ((err = coro_sleep(10)) == 0)
		;
	return err;
}

static void
send_sigint(void *arg)
{
	(void)arg;
	raise(SIGINT);
}

static void
test_loop_sigint_cancels_tasks_and_stops(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *a, *b;

	(void)state;
	cleanups = 0;
	assert_int_equal(coro_loop_stop_on_signals(loop), 0);
	a = coro_spawn(loop, forever_task, NULL, NULL);
	b = coro_spawn(loop, forever_task, NULL, NULL);
	coro_call_later(loop, 30, send_sigint, NULL);
	assert_int_equal(coro_loop_run(loop), 0);
	assert_int_equal(coro_loop_stop_signal(loop), SIGINT);
	assert_int_equal(cleanups, 2);
	assert_int_equal(coro_loop_tasks(loop), 0);
	assert_int_equal(coro_future_error(coro_task_future(a)), -ECANCELED);
	assert_int_equal(coro_future_error(coro_task_future(b)), -ECANCELED);
	coro_task_unref(a);
	coro_task_unref(b);
	coro_loop_free(loop);
}

static void
test_loop_free_cancels_live_tasks(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t;

	(void)state;
	cleanups = 0;
	t = coro_spawn(loop, forever_task, NULL, NULL);
	coro_task_unref(t);
	coro_call_later(loop, 20, coro_loop_stop_cb, loop);
	coro_loop_run(loop);
	assert_int_equal(coro_loop_tasks(loop), 1);
	coro_loop_free(loop);
	assert_int_equal(cleanups, 1);
}

struct xthread {
	coro_loop	*loop;
	int		 calls;
};

static void
bump(void *arg)
{
	struct xthread *x = arg;

	if (++x->calls == 100)
		coro_loop_stop(x->loop);
}

static void *
from_thread(void *arg)
{
	struct xthread *x = arg;
	int i;

	for (i = 0; i < 100; i++)
		coro_call_soon_threadsafe(x->loop, bump, x);
	return NULL;
}

static void
test_loop_call_soon_threadsafe_wakes_the_loop(void **state)
{
	struct xthread x = { coro_loop_new(), 0 };
	pthread_t th;

	(void)state;
	pthread_create(&th, NULL, from_thread, &x);
	/* blocks in the poll until the other thread's calls arrive */
	coro_loop_run(x.loop);
	pthread_join(th, NULL);
	assert_int_equal(x.calls, 100);
	coro_loop_free(x.loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_call_soon_fifo_and_call_later),
		cmocka_unit_test(test_loop_timer_repeat_stop_and_restart),
		cmocka_unit_test(test_loop_one_per_thread),
		cmocka_unit_test(test_loop_coro_run_returns_main_status),
		cmocka_unit_test(test_loop_sigint_cancels_tasks_and_stops),
		cmocka_unit_test(test_loop_free_cancels_live_tasks),
		cmocka_unit_test(test_loop_call_soon_threadsafe_wakes_the_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
