/*
 * test_task.c: spawning, results, cancellation at each kind of
 * suspension point, shields, deferred cleanups, sleep and yield.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "test_helpers.h"

static int order[16];
static int norder;

static int
record(void *arg)
{
	order[norder++] = (int)(intptr_t)arg;
	return 0;
}

static void
test_task_spawned_tasks_run_in_fifo_order(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t[5];
	int i;

	(void)state;
	norder = 0;
	for (i = 0; i < 5; i++)
		t[i] = coro_spawn(loop, record, (void *)(intptr_t)i, NULL);
	assert_int_equal(coro_loop_tasks(loop), 5);
	assert_int_equal(coro_loop_run_until_complete(loop, t[4], NULL), 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(order[i], i);
		coro_task_unref(t[i]);
	}
	assert_int_equal(coro_loop_tasks(loop), 0);
	coro_loop_free(loop);
}

static int
give_result(void *arg)
{
	coro_set_result(arg);
	return 0;
}

static int
fail_with(void *arg)
{
	return -(int)(intptr_t)arg;
}

static void
test_task_result_and_error_reach_the_awaiter(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *ok, *bad;
	void *v = NULL;

	(void)state;
	ok = coro_spawn(loop, give_result, (void *)"value", NULL);
	bad = coro_spawn(loop, fail_with, (void *)(intptr_t)EIO, NULL);
	assert_int_equal(coro_loop_run_until_complete(loop, ok, &v), 0);
	assert_string_equal(v, "value");
	assert_int_equal(coro_loop_run_until_complete(loop, bad, NULL), -EIO);
	assert_int_equal(coro_future_state(coro_task_future(bad)),
	    CORO_FAILED);
	assert_string_equal(coro_task_name(ok), "");
	coro_task_unref(ok);
	coro_task_unref(bad);
	coro_loop_free(loop);
}

struct cancel_probe {
	int	 sleep_err;
	int	 later_err;
	int	 cleanups[4];
	int	 ncleanups;
};

static void
cleanup_a(void *arg)
{
	struct cancel_probe *p = arg;

	p->cleanups[p->ncleanups++] = 1;
}

static void
cleanup_b(void *arg)
{
	struct cancel_probe *p = arg;

	p->cleanups[p->ncleanups++] = 2;
}

static int
sleeper(void *arg)
{
	struct cancel_probe *p = arg;

	coro_defer(cleanup_a, p);
	coro_defer(cleanup_b, p);
	p->sleep_err = coro_sleep(60000);
	/* level-triggered: every later blocking call fails too */
	p->later_err = coro_sleep(10);
	return p->sleep_err;
}

static int
cancel_sleeper(void *arg)
{
	struct cancel_probe *p = arg;
	coro_task *t = coro_spawn(coro_loop_current(), sleeper, p, NULL);
	int err;

	coro_sleep(20);
	coro_cancel(t);
	err = coro_join(t, NULL, coro_deadline_in(1000));
	coro_cancel(t);		/* harmless once ended */
	coro_task_unref(t);
	return err;
}

static void
test_task_cancel_wakes_sleep_and_runs_cleanups_lifo(void **state)
{
	struct cancel_probe p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(run_task(cancel_sleeper, &p), -ECANCELED);
	assert_int_equal(p.sleep_err, -ECANCELED);
	assert_int_equal(p.later_err, -ECANCELED);
	assert_int_equal(p.ncleanups, 2);
	assert_int_equal(p.cleanups[0], 2);
	assert_int_equal(p.cleanups[1], 1);
}

static int body_ran;

static int
first_checkpoint(void *arg)
{
	(void)arg;
	body_ran = 1;
	/* what it was handed is released here; then the first blocking
	 * call reports the cancellation */
	return coro_sleep(10);
}

static void
test_task_cancelled_before_start_meets_first_checkpoint(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t;

	(void)state;
	body_ran = 0;
	t = coro_spawn(loop, first_checkpoint, NULL, NULL);
	coro_cancel(t);
	assert_int_equal(coro_loop_run_until_complete(loop, t, NULL),
	    -ECANCELED);
	assert_int_equal(body_ran, 1);
	assert_int_equal(coro_future_state(coro_task_future(t)),
	    CORO_CANCELLED);
	coro_task_unref(t);
	coro_loop_free(loop);
}

struct shield_probe {
	int	 shielded_err;
	int64_t	 slept;
	int	 after_err;
};

static int
shielded(void *arg)
{
	struct shield_probe *p = arg;
	int64_t t0 = coro_now();

	coro_shield_begin();
	p->shielded_err = coro_sleep(100);
	coro_shield_end();
	p->slept = coro_now() - t0;
	p->after_err = coro_yield();
	return 0;
}

static int
cancel_shielded(void *arg)
{
	coro_task *t = coro_spawn(coro_loop_current(), shielded, arg, NULL);

	coro_sleep(10);
	coro_cancel(t);
	coro_join(t, NULL, CORO_NEVER);
	coro_task_unref(t);
	return 0;
}

static void
test_task_shield_defers_cancellation(void **state)
{
	struct shield_probe p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(run_task(cancel_shielded, &p), 0);
	assert_int_equal(p.shielded_err, 0);
	assert_true(p.slept >= 90);
	assert_int_equal(p.after_err, -ECANCELED);
}

static void
test_task_blocking_calls_outside_a_task_fail(void **state)
{
	coro_loop *loop = coro_loop_new();

	(void)state;
	assert_null(coro_current());
	assert_int_equal(coro_sleep(1), -EPERM);
	assert_int_equal(coro_yield(), -EPERM);
	assert_int_equal(coro_defer(cleanup_a, NULL), -EPERM);
	coro_loop_free(loop);
}

static int
await_self(void *arg)
{
	(void)arg;
	return coro_join(coro_current(), NULL, CORO_NEVER);
}

static void
test_task_joining_itself_is_a_deadlock_error(void **state)
{
	(void)state;
	assert_int_equal(run_task(await_self, NULL), -EDEADLK);
}

static int
join_with_deadline(void *arg)
{
	coro_task *t = coro_spawn(coro_loop_current(), sleeper, arg, NULL);
	int64_t t0 = coro_now();
	int err = coro_join(t, NULL, coro_deadline_in(30));

	if (coro_now() - t0 < 25)
		err = -EINVAL;
	/* the deadline leaves the task alone: it is still running */
	if (coro_future_done(coro_task_future(t)))
		err = -EINVAL;
	coro_cancel(t);
	coro_join(t, NULL, CORO_NEVER);
	coro_task_unref(t);
	return err;
}

static void
test_task_join_deadline_times_out(void **state)
{
	struct cancel_probe p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(run_task(join_with_deadline, &p), -ETIMEDOUT);
}

static int ticks;

static void
tick(void *arg)
{
	(void)arg;
	ticks++;
}

static int
busy_yielder(void *arg)
{
	int64_t until = coro_now() + 200;

	(void)arg;
	coro_call_later(coro_loop_current(), 10, tick, NULL);
	/* never sleeps: the timer must still fire between batches */
	while (ticks == 0 && coro_now() < until)
		coro_yield();
	return ticks == 1 ? 0 : -ETIMEDOUT;
}

static void
test_task_yield_does_not_starve_timers(void **state)
{
	(void)state;
	ticks = 0;
	assert_int_equal(run_task(busy_yielder, NULL), 0);
}

static int
sleep_measured(void *arg)
{
	int64_t t0 = coro_now();

	(void)arg;
	if (coro_sleep(50) != 0)
		return -EINVAL;
	return coro_now() - t0 >= 50 ? 0 : -EIO;
}

static void
test_task_sleep_lasts_at_least_its_time(void **state)
{
	(void)state;
	assert_int_equal(run_task(sleep_measured, NULL), 0);
}

static int
spawn_many(void *arg)
{
	coro_loop *loop = coro_loop_current();
	int i, err;

	(void)arg;
	/* pooled stacks: far more tasks over time than the pool holds */
	for (i = 0; i < 5000; i++) {
		coro_task *t = coro_spawn(loop, give_result, NULL, NULL);

		if (t == NULL)
			return -ENOMEM;
		err = coro_join(t, NULL, CORO_NEVER);
		coro_task_unref(t);
		if (err != 0)
			return err;
	}
	return 0;
}

static void
test_task_spawn_join_many(void **state)
{
	(void)state;
	assert_int_equal(run_task(spawn_many, NULL), 0);
}

static int
big_stack(void *arg)
{
	/* alloca: -Wframe-larger-than rightly refuses such arrays */
	size_t len = 100 * 1024;
	volatile char *buf = __builtin_alloca(len);

	(void)arg;
	buf[0] = 1;
	buf[len - 1] = 2;
	return buf[0] + buf[len - 1] == 3 ? 0 : -EIO;
}

static void
test_task_custom_stack_size(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t;

	(void)state;
	t = coro_spawn(loop, big_stack, NULL, &(coro_spawn_opts){
	    .name = "big", .stack_size = 256 * 1024 });
	assert_non_null(t);
	assert_string_equal(coro_task_name(t), "big");
	assert_int_equal(coro_loop_run_until_complete(loop, t, NULL), 0);
	coro_task_unref(t);
	coro_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_spawned_tasks_run_in_fifo_order),
		cmocka_unit_test(test_task_result_and_error_reach_the_awaiter),
		cmocka_unit_test(test_task_cancel_wakes_sleep_and_runs_cleanups_lifo),
		cmocka_unit_test(test_task_cancelled_before_start_meets_first_checkpoint),
		cmocka_unit_test(test_task_shield_defers_cancellation),
		cmocka_unit_test(test_task_blocking_calls_outside_a_task_fail),
		cmocka_unit_test(test_task_joining_itself_is_a_deadlock_error),
		cmocka_unit_test(test_task_join_deadline_times_out),
		cmocka_unit_test(test_task_yield_does_not_starve_timers),
		cmocka_unit_test(test_task_sleep_lasts_at_least_its_time),
		cmocka_unit_test(test_task_spawn_join_many),
		cmocka_unit_test(test_task_custom_stack_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
