/*
 * test_executor.c: thread pools (executor.c): results come back to the
 * loop, many jobs, the loop stays live while a job blocks, cancellation
 * before start drops a job, and a started job is waited for on timeout,
 * cancellation and executor_free.
 *
 * Checks that need the loop run inside tasks record what they saw; the
 * asserts run on the test's own stack once the loop is done, so a failure
 * never unwinds through a task's stack.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_helpers.h"

static void *
job_add_one(void *arg)
{
	return (void *)((intptr_t)arg + 1);
}

static void *
job_square(void *arg)
{
	intptr_t i = (intptr_t)arg;

	return (void *)(i * i);
}

/* A job that runs for ms (in arg) and says it finished. */
struct slow_job {
	long		ms;
	atomic_int	started, finished;
};

static void *
job_slow(void *arg)
{
	struct slow_job *j = arg;

	atomic_store(&j->started, 1);
	sleep_ms(j->ms);
	atomic_store(&j->finished, 1);
	return (void *)(intptr_t)42;
}

/* A job that blocks until released (bounded, so a broken test ends). */
struct gate {
	atomic_int	entered, open;
};

static void *
job_gate(void *arg)
{
	struct gate *g = arg;
	int i;

	atomic_store(&g->entered, 1);
	for (i = 0; i < 5000 && !atomic_load(&g->open); i++)
		sleep_ms(1);
	return NULL;
}

static void *
job_mark(void *arg)
{
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

/* ---- result ---- */

struct result_state {
	int	 err_default, err_own, err_await;
	void	*v_default, *v_own, *v_await;
};

static int
result_main(void *arg)
{
	struct result_state *s = arg;
	coro_executor *ex;
	coro_future *f;

	s->err_default = coro_run_in_executor(NULL, job_add_one,
	    (void *)(intptr_t)41, &s->v_default, coro_deadline_in(5000));
	if ((ex = coro_executor_new(coro_loop_current(), 2)) == NULL)
		return -ENOMEM;
	s->err_own = coro_run_in_executor(ex, job_add_one,
	    (void *)(intptr_t)99, &s->v_own, coro_deadline_in(5000));
	if ((f = coro_executor_submit(ex, job_add_one,
	    (void *)(intptr_t)7)) == NULL) {
		coro_executor_free(ex);
		return -ENOMEM;
	}
	s->err_await = coro_await(f, &s->v_await, coro_deadline_in(5000));
	coro_future_unref(f);
	coro_executor_free(ex);
	return 0;
}

static void
test_executor_result_comes_back(void **state)
{
	struct result_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(result_main, &s), 0);
	assert_int_equal(s.err_default, 0);
	assert_int_equal((intptr_t)s.v_default, 42);
	assert_int_equal(s.err_own, 0);
	assert_int_equal((intptr_t)s.v_own, 100);
	assert_int_equal(s.err_await, 0);
	assert_int_equal((intptr_t)s.v_await, 8);
}

/* ---- many jobs ---- */

#define NJOBS	1000

struct many_state {
	int	err;
	int	wrong;
	int	done;
};

static int
many_main(void *arg)
{
	struct many_state *s = arg;
	coro_future **futs;
	coro_executor *ex;
	intptr_t i;

	if ((futs = calloc(NJOBS, sizeof(*futs))) == NULL)
		return -ENOMEM;
	if ((ex = coro_executor_new(coro_loop_current(), 4)) == NULL) {
		free(futs);
		return -ENOMEM;
	}
	for (i = 0; i < NJOBS; i++) {
		if ((futs[i] = coro_executor_submit(ex, job_square,
		    (void *)i)) == NULL) {
			s->err = -ENOMEM;
			break;
		}
	}
	if (s->err == 0)
		s->err = coro_gather(futs, NJOBS, 0, coro_deadline_in(10000));
	for (i = 0; i < NJOBS && futs[i] != NULL; i++) {
		if (coro_future_state(futs[i]) == CORO_DONE) {
			s->done++;
			if ((intptr_t)coro_future_value(futs[i]) != i * i)
				s->wrong++;
		}
		coro_future_unref(futs[i]);
	}
	coro_executor_free(ex);
	free(futs);
	return 0;
}

static void
test_executor_thousand_jobs_complete(void **state)
{
	struct many_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(many_main, &s), 0);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.done, NJOBS);
	assert_int_equal(s.wrong, 0);
}

/* ---- the loop keeps running ---- */

struct ticker_state {
	bool	stop;
	int	ticks;
	int	err;
	int64_t	elapsed;
	void	*value;
};

static int
ticker(void *arg)
{
	struct ticker_state *s = arg;

	while (!s->stop) {
		if (coro_sleep(10) != 0)
			break;
		s->ticks++;
	}
	return 0;
}

static int
ticker_main(void *arg)
{
	struct ticker_state *s = arg;
	struct slow_job j = { .ms = 200 };
	coro_task *t;
	int64_t t0;

	if ((t = coro_spawn(coro_loop_current(), ticker, s, NULL)) == NULL)
		return -ENOMEM;
	t0 = coro_now();
	s->err = coro_run_in_executor(NULL, job_slow, &j, &s->value,
	    coro_deadline_in(5000));
	s->elapsed = coro_now() - t0;
	s->stop = true;
	coro_join(t, NULL, coro_deadline_in(1000));
	coro_task_unref(t);
	return 0;
}

static void
test_executor_loop_runs_while_job_blocks(void **state)
{
	struct ticker_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(ticker_main, &s), 0);
	assert_int_equal(s.err, 0);
	assert_int_equal((intptr_t)s.value, 42);
	assert_true(s.elapsed >= 190);
	/* 200 ms of 10 ms ticks: a blocked loop would show none */
	assert_true(s.ticks >= 8);
}

/* ---- cancellation before start ---- */

struct cancel_state {
	struct gate	gate;
	atomic_int	ran_b;
	int		cancel_err, await_b, await_a, await_c;
	enum coro_future_state state_b;
};

static int
cancel_main(void *arg)
{
	struct cancel_state *s = arg;
	coro_executor *ex;
	coro_future *a, *b, *c;
	atomic_int ran_c;
	int i;

	atomic_init(&ran_c, 0);
	if ((ex = coro_executor_new(coro_loop_current(), 1)) == NULL)
		return -ENOMEM;
	a = coro_executor_submit(ex, job_gate, &s->gate);
	b = coro_executor_submit(ex, job_mark, &s->ran_b);
	if (a == NULL || b == NULL)
		return -ENOMEM;
	/* make sure the only thread is busy with a before b is cancelled */
	for (i = 0; i < 2000 && !atomic_load(&s->gate.entered); i++)
		coro_sleep(1);
	s->cancel_err = coro_future_cancel(b);
	s->state_b = coro_future_state(b);
	s->await_b = coro_await(b, NULL, coro_deadline_in(1000));
	atomic_store(&s->gate.open, 1);
	s->await_a = coro_await(a, NULL, coro_deadline_in(5000));
	/* c runs after the worker went past b */
	if ((c = coro_executor_submit(ex, job_mark, &ran_c)) == NULL)
		return -ENOMEM;
	s->await_c = coro_await(c, NULL, coro_deadline_in(5000));
	coro_future_unref(a);
	coro_future_unref(b);
	coro_future_unref(c);
	coro_executor_free(ex);
	return atomic_load(&ran_c) ? 0 : -EINVAL;
}

static void
test_executor_cancel_before_start_drops_job(void **state)
{
	struct cancel_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(cancel_main, &s), 0);
	assert_true(atomic_load(&s.gate.entered));
	assert_int_equal(s.cancel_err, 0);
	assert_int_equal(s.state_b, CORO_CANCELLED);
	assert_int_equal(s.await_b, -ECANCELED);
	assert_int_equal(s.await_a, 0);
	assert_int_equal(s.await_c, 0);
	assert_int_equal(atomic_load(&s.ran_b), 0);
}

/* ---- deadlines ---- */

struct deadline_state {
	struct slow_job	 job;
	int		 err;
	int64_t		 elapsed;
	int		 finished_on_return;
	void		*value;
	/* unstarted job */
	struct gate	 gate;
	atomic_int	 ran_b;
	int		 err_b;
	int64_t		 elapsed_b;
};

static int
deadline_main(void *arg)
{
	struct deadline_state *s = arg;
	coro_executor *ex;
	coro_future *a;
	int64_t t0;
	int i;

	/* started job: waited for although the deadline passed */
	s->job.ms = 200;
	t0 = coro_now();
	s->err = coro_run_in_executor(NULL, job_slow, &s->job, &s->value,
	    coro_deadline_in(50));
	s->elapsed = coro_now() - t0;
	s->finished_on_return = atomic_load(&s->job.finished);

	/* queued job: cancelled at the deadline, never runs */
	if ((ex = coro_executor_new(coro_loop_current(), 1)) == NULL)
		return -ENOMEM;
	if ((a = coro_executor_submit(ex, job_gate, &s->gate)) == NULL)
		return -ENOMEM;
	for (i = 0; i < 2000 && !atomic_load(&s->gate.entered); i++)
		coro_sleep(1);
	t0 = coro_now();
	s->err_b = coro_run_in_executor(ex, job_mark, &s->ran_b, NULL,
	    coro_deadline_in(50));
	s->elapsed_b = coro_now() - t0;
	atomic_store(&s->gate.open, 1);
	coro_await(a, NULL, coro_deadline_in(5000));
	coro_future_unref(a);
	coro_executor_free(ex);
	return 0;
}

static void
test_executor_deadline_waits_for_started_job(void **state)
{
	struct deadline_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(deadline_main, &s), 0);
	assert_int_equal(s.err, -ETIMEDOUT);
	assert_true(s.elapsed >= 190);
	assert_true(s.finished_on_return);
	/* the job ran to its end: its result is handed over anyway */
	assert_int_equal((intptr_t)s.value, 42);

	assert_int_equal(s.err_b, -ETIMEDOUT);
	assert_true(s.elapsed_b < 1000);
	assert_int_equal(atomic_load(&s.ran_b), 0);
}

/* ---- cancellation of the waiting task ---- */

struct cancelled_state {
	struct slow_job	job;
	int		status;
	int		finished_at_end;
};

static int
cancelled_worker(void *arg)
{
	struct cancelled_state *s = arg;
	int err;

	err = coro_run_in_executor(NULL, job_slow, &s->job, NULL,
	    CORO_NEVER);
	s->finished_at_end = atomic_load(&s->job.finished);
	return err;
}

static int
cancelled_main(void *arg)
{
	struct cancelled_state *s = arg;
	coro_task *t;
	int i;

	s->job.ms = 200;
	if ((t = coro_spawn(coro_loop_current(), cancelled_worker, s,
	    NULL)) == NULL)
		return -ENOMEM;
	for (i = 0; i < 2000 && !atomic_load(&s->job.started); i++)
		coro_sleep(1);
	coro_cancel(t);
	s->status = coro_join(t, NULL, coro_deadline_in(5000));
	coro_task_unref(t);
	return 0;
}

static void
test_executor_cancelled_task_waits_for_started_job(void **state)
{
	struct cancelled_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(cancelled_main, &s), 0);
	assert_int_equal(s.status, -ECANCELED);
	assert_true(s.finished_at_end);
}

/* ---- executor_free ---- */

struct free_state {
	struct slow_job	 job;
	atomic_int	 ran_b;
	enum coro_future_state state_a, state_b;
	int		 err_a;
	void		*value_a;
};

static int
free_main(void *arg)
{
	struct free_state *s = arg;
	coro_executor *ex;
	coro_future *a, *b;
	int i;

	s->job.ms = 100;
	if ((ex = coro_executor_new(coro_loop_current(), 1)) == NULL)
		return -ENOMEM;
	a = coro_executor_submit(ex, job_slow, &s->job);
	b = coro_executor_submit(ex, job_mark, &s->ran_b);
	if (a == NULL || b == NULL)
		return -ENOMEM;
	for (i = 0; i < 2000 && !atomic_load(&s->job.started); i++)
		coro_sleep(1);
	/* waits for a, drops b */
	coro_executor_free(ex);
	s->state_b = coro_future_state(b);
	/* a's result reaches the loop after free returned */
	s->err_a = coro_await(a, &s->value_a, coro_deadline_in(5000));
	s->state_a = coro_future_state(a);
	coro_future_unref(a);
	coro_future_unref(b);
	return 0;
}

static void
test_executor_free_waits_running_and_drops_queued(void **state)
{
	struct free_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(free_main, &s), 0);
	assert_true(atomic_load(&s.job.finished));
	assert_int_equal(s.state_b, CORO_CANCELLED);
	assert_int_equal(atomic_load(&s.ran_b), 0);
	assert_int_equal(s.err_a, 0);
	assert_int_equal(s.state_a, CORO_DONE);
	assert_int_equal((intptr_t)s.value_a, 42);
}

/* ---- misuse ---- */

static void
test_executor_run_outside_task_fails(void **state)
{
	coro_loop *loop;
	void *v = (void *)1;

	(void)state;
	loop = coro_loop_new();
	assert_non_null(loop);
	/* may suspend: refused on the loop's own stack */
	assert_int_equal(coro_run_in_executor(NULL, job_add_one, NULL, &v,
	    CORO_NEVER), -EPERM);
	assert_null(v);
	assert_null(coro_executor_submit(NULL, NULL, NULL));
	coro_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_executor_result_comes_back),
		cmocka_unit_test(test_executor_thousand_jobs_complete),
		cmocka_unit_test(test_executor_loop_runs_while_job_blocks),
		cmocka_unit_test(test_executor_cancel_before_start_drops_job),
		cmocka_unit_test(test_executor_deadline_waits_for_started_job),
		cmocka_unit_test(
		    test_executor_cancelled_task_waits_for_started_job),
		cmocka_unit_test(
		    test_executor_free_waits_running_and_drops_queued),
		cmocka_unit_test(test_executor_run_outside_task_fails),
	};

	/* a hung test fails instead of stalling make check */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
