/*
 * test_group.c: structured concurrency: join waits for every task, the
 * first failure cancels the siblings, deadlines and cancellation of the
 * joiner still leave no task running.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "test_helpers.h"

static int finished;
static int cancelled;

static int
member(void *arg)
{
	int ms = (int)(intptr_t)arg;
	int err;

	if (ms < 0) {
		coro_sleep(-ms);
		return -EIO;
	}
	err = coro_sleep(ms);
	if (err == -ECANCELED)
		cancelled++;
	else
		finished++;
	return err;
}

static int
group_all_ok(void *arg)
{
	coro_group *g = coro_group_new(coro_loop_current());
	int err;

	(void)arg;
	coro_group_spawn(g, member, (void *)(intptr_t)30, NULL);
	coro_group_spawn(g, member, (void *)(intptr_t)10, NULL);
	coro_group_spawn(g, member, (void *)(intptr_t)20, NULL);
	if (coro_group_size(g) != 3)
		return -EINVAL;
	err = coro_group_join(g, CORO_NEVER);
	if (coro_group_size(g) != 0)
		err = -EINVAL;
	coro_group_free(g);
	return err;
}

static void
test_group_join_waits_for_all(void **state)
{
	(void)state;
	finished = cancelled = 0;
	assert_int_equal(run_task(group_all_ok, NULL), 0);
	assert_int_equal(finished, 3);
	assert_int_equal(cancelled, 0);
}

static int
group_one_fails(void *arg)
{
	coro_group *g = coro_group_new(coro_loop_current());
	int64_t t0 = coro_now();
	int err;

	(void)arg;
	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	coro_group_spawn(g, member, (void *)(intptr_t)-10, NULL);
	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	err = coro_group_join(g, CORO_NEVER);
	coro_group_free(g);
	if (coro_now() - t0 > 1000)
		return -ETIMEDOUT;
	return err;
}

static void
test_group_first_failure_cancels_siblings(void **state)
{
	(void)state;
	finished = cancelled = 0;
	assert_int_equal(run_task(group_one_fails, NULL), -EIO);
	assert_int_equal(cancelled, 2);
	assert_int_equal(finished, 0);
}

static int
group_deadline(void *arg)
{
	coro_group *g = coro_group_new(coro_loop_current());
	int err;

	(void)arg;
	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	err = coro_group_join(g, coro_deadline_in(20));
	/* join still waited: nothing is left running */
	if (coro_group_size(g) != 0)
		err = -EINVAL;
	coro_group_free(g);
	return err;
}

static void
test_group_join_deadline_cancels_and_waits(void **state)
{
	(void)state;
	finished = cancelled = 0;
	assert_int_equal(run_task(group_deadline, NULL), -ETIMEDOUT);
	assert_int_equal(cancelled, 2);
}

static int
joiner(void *arg)
{
	coro_group *g = arg;

	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	return coro_group_join(g, CORO_NEVER);
}

static int
cancel_joiner(void *arg)
{
	coro_group *g = coro_group_new(coro_loop_current());
	coro_task *t = coro_spawn(coro_loop_current(), joiner, g, NULL);
	int err;

	(void)arg;
	coro_sleep(20);
	coro_cancel(t);
	err = coro_join(t, NULL, coro_deadline_in(1000));
	if (coro_group_size(g) != 0)
		err = -EINVAL;
	coro_group_free(g);
	coro_task_unref(t);
	return err;
}

static void
test_group_cancelled_joiner_cancels_members(void **state)
{
	(void)state;
	finished = cancelled = 0;
	assert_int_equal(run_task(cancel_joiner, NULL), -ECANCELED);
	assert_int_equal(cancelled, 1);
}

static void
test_group_free_from_loop_stack(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_group *g = coro_group_new(loop);

	(void)state;
	finished = cancelled = 0;
	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	coro_group_spawn(g, member, (void *)(intptr_t)5000, NULL);
	/* let them start and block first */
	coro_call_later(loop, 20, coro_loop_stop_cb, loop);
	coro_loop_run(loop);
	coro_group_free(g);
	assert_int_equal(cancelled, 2);
	assert_int_equal(coro_loop_tasks(loop), 0);
	coro_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_join_waits_for_all),
		cmocka_unit_test(test_group_first_failure_cancels_siblings),
		cmocka_unit_test(test_group_join_deadline_cancels_and_waits),
		cmocka_unit_test(test_group_cancelled_joiner_cancels_members),
		cmocka_unit_test(test_group_free_from_loop_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
