/*
 * test_future.c: futures complete exactly once, done callbacks run later
 * on the loop and never inside resolve, await with deadlines, and gather
 * in its three modes.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "test_helpers.h"

static int cb_calls;
static bool inside_resolve;
static bool cb_ran_inside;

static void
count_cb(coro_future *f, void *arg)
{
	(void)f;
	(void)arg;
	cb_calls++;
	if (inside_resolve)
		cb_ran_inside = true;
}

static void
test_future_completes_once_and_callbacks_run_later(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_future *f = coro_future_new(loop);

	(void)state;
	cb_calls = 0;
	cb_ran_inside = false;
	assert_int_equal(coro_future_error(f), -EAGAIN);
	assert_int_equal(coro_future_on_done(f, count_cb, NULL), 0);
	inside_resolve = true;
	assert_int_equal(coro_future_resolve(f, (void *)"x"), 0);
	inside_resolve = false;
	assert_int_equal(cb_calls, 0);
	assert_int_equal(coro_future_resolve(f, NULL), -EINVAL);
	assert_int_equal(coro_future_fail(f, -EIO), -EINVAL);
	assert_int_equal(coro_future_cancel(f), -EINVAL);
	/* a callback added after completion is queued too */
	assert_int_equal(coro_future_on_done(f, count_cb, NULL), 0);
	coro_future_unref(f);	/* the callbacks keep it alive */
	coro_loop_free(loop);	/* runs what is queued */
	assert_int_equal(cb_calls, 2);
	assert_false(cb_ran_inside);
}

static void
resolve_later(void *arg)
{
	coro_future_resolve(arg, (void *)"later");
}

static int
await_resolved_later(void *arg)
{
	coro_future *f = coro_future_new(coro_loop_current());
	void *v = NULL;
	int err;

	(void)arg;
	coro_call_later(coro_loop_current(), 20, resolve_later, f);
	err = coro_await(f, &v, coro_deadline_in(2000));
	coro_future_unref(f);
	if (err != 0)
		return err;
	return strcmp(v, "later") == 0 ? 0 : -EIO;
}

static void
test_future_await_gets_value(void **state)
{
	(void)state;
	assert_int_equal(run_task(await_resolved_later, NULL), 0);
}

static int
await_fail_and_timeout(void *arg)
{
	coro_future *f = coro_future_new(coro_loop_current());
	int err;

	(void)arg;
	err = coro_await(f, NULL, coro_deadline_in(20));
	if (err != -ETIMEDOUT)
		return -EINVAL;
	/* the deadline left the future pending */
	if (coro_future_done(f))
		return -EINVAL;
	coro_future_fail(f, -ENOENT);
	err = coro_await(f, NULL, CORO_NEVER);
	coro_future_unref(f);
	return err;
}

static void
test_future_await_deadline_and_failure(void **state)
{
	(void)state;
	assert_int_equal(run_task(await_fail_and_timeout, NULL), -ENOENT);
}

static int
nap(void *arg)
{
	int ms = (int)(intptr_t)arg;
	int err;

	if (ms < 0)
		return (err = coro_sleep(-ms)) != 0 ? err : -EIO;
	if ((err = coro_sleep(ms)) != 0)
		return err;
	coro_set_result(arg);
	return 0;
}

struct gather_case {
	int	 flags;
	int	 ms[3];
	int	 want_err;
	int64_t	 min_ms, max_ms;
	enum coro_future_state want_state[3];
};

static int
run_gather(void *arg)
{
	struct gather_case *c = arg;
	coro_loop *loop = coro_loop_current();
	coro_task *t[3];
	coro_future *f[3];
	int64_t t0 = coro_now(), took;
	int i, err, ret = 0;

	for (i = 0; i < 3; i++) {
		t[i] = coro_spawn(loop, nap, (void *)(intptr_t)c->ms[i], NULL);
		f[i] = coro_task_future(t[i]);
	}
	err = coro_gather(f, 3, c->flags, coro_deadline_in(2000));
	took = coro_now() - t0;
	if (err != c->want_err)
		ret = -EPROTO;
	else if (took < c->min_ms || took > c->max_ms)
		ret = -ERANGE;
	for (i = 0; i < 3 && ret == 0; i++)
		if (coro_future_state(f[i]) != c->want_state[i])
			ret = -ECHILD;
	for (i = 0; i < 3; i++) {
		coro_cancel(t[i]);
		coro_join(t[i], NULL, CORO_NEVER);
		coro_task_unref(t[i]);
	}
	return ret;
}

static void
test_future_gather_all_succeed(void **state)
{
	struct gather_case c = {
		0, { 30, 10, 20 }, 0, 28, 500,
		{ CORO_DONE, CORO_DONE, CORO_DONE } };

	(void)state;
	assert_int_equal(run_task(run_gather, &c), 0);
}

static void
test_future_gather_first_error_returns_early(void **state)
{
	/* asyncio: the error comes back at once, the others keep running */
	struct gather_case c = {
		0, { 300, -10, 20 }, -EIO, 8, 200,
		{ CORO_PENDING, CORO_FAILED, CORO_PENDING } };

	(void)state;
	assert_int_equal(run_task(run_gather, &c), 0);
}

static void
test_future_gather_cancel_rest(void **state)
{
	struct gather_case c = {
		CORO_GATHER_CANCEL_REST, { 300, -10, 500 }, -EIO, 8, 200,
		{ CORO_CANCELLED, CORO_FAILED, CORO_CANCELLED } };

	(void)state;
	assert_int_equal(run_task(run_gather, &c), 0);
}

static void
test_future_gather_wait_all(void **state)
{
	struct gather_case c = {
		CORO_GATHER_WAIT_ALL, { 60, -10, 30 }, -EIO, 55, 500,
		{ CORO_DONE, CORO_FAILED, CORO_DONE } };

	(void)state;
	assert_int_equal(run_task(run_gather, &c), 0);
}

static void
test_future_gather_deadline(void **state)
{
	struct gather_case c = {
		0, { 5000, 10, 5000 }, -ETIMEDOUT, 1900, 3000,
		{ CORO_PENDING, CORO_DONE, CORO_PENDING } };

	(void)state;
	assert_int_equal(run_task(run_gather, &c), 0);
}

struct parent_probe {
	coro_task	*child;
	int		 err;
};

static int
gather_one(void *arg)
{
	struct parent_probe *p = arg;
	coro_future *f;

	p->child = coro_spawn(coro_loop_current(), nap, (void *)(intptr_t)5000, NULL);
	f = coro_task_future(p->child);
	p->err = coro_gather(&f, 1, 0, CORO_NEVER);
	return p->err;
}

static int
cancel_gatherer(void *arg)
{
	struct parent_probe *p = arg;
	coro_task *t = coro_spawn(coro_loop_current(), gather_one, p, NULL);
	int err;

	coro_sleep(20);
	coro_cancel(t);
	coro_join(t, NULL, CORO_NEVER);
	/* cancelling the gatherer cancelled its child */
	err = coro_join(p->child, NULL, coro_deadline_in(1000));
	coro_task_unref(p->child);
	coro_task_unref(t);
	return err;
}

static void
test_future_gather_cancelled_cancels_children(void **state)
{
	struct parent_probe p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(run_task(cancel_gatherer, &p), -ECANCELED);
	assert_int_equal(p.err, -ECANCELED);
}

static void
test_future_cancel_plain_future(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_future *f = coro_future_new(loop);

	(void)state;
	assert_int_equal(coro_future_cancel(f), 0);
	assert_int_equal(coro_future_state(f), CORO_CANCELLED);
	assert_int_equal(coro_future_error(f), -ECANCELED);
	coro_future_unref(f);
	coro_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_future_completes_once_and_callbacks_run_later),
		cmocka_unit_test(test_future_await_gets_value),
		cmocka_unit_test(test_future_await_deadline_and_failure),
		cmocka_unit_test(test_future_gather_all_succeed),
		cmocka_unit_test(test_future_gather_first_error_returns_early),
		cmocka_unit_test(test_future_gather_cancel_rest),
		cmocka_unit_test(test_future_gather_wait_all),
		cmocka_unit_test(test_future_gather_deadline),
		cmocka_unit_test(test_future_gather_cancelled_cancels_children),
		cmocka_unit_test(test_future_cancel_plain_future),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
