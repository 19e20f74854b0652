/*
 * test_procpool.c: process pools (procpool.c): jobs run in parallel in
 * different workers, bytes make the round trip, unknown jobs and job
 * errors are reported, and a worker that crashes, overruns its deadline
 * or is abandoned by a cancelled task is replaced so that the pool keeps
 * working.  Every pool is freed with no child left behind.
 *
 * Tasks record what they saw and the asserts run on the test's stack
 * after the loop is done.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_helpers.h"

/* ---- the jobs, run in the workers ---- */

static int
job_echo(const void *in, size_t inlen, void **out, size_t *outlen)
{
	if ((*out = malloc(inlen ? inlen : 1)) == NULL)
		return -ENOMEM;
	memcpy(*out, in, inlen);
	*outlen = inlen;
	return 0;
}

/* Sleeps 300 ms and answers with the worker's pid. */
static int
job_pid(const void *in, size_t inlen, void **out, size_t *outlen)
{
	pid_t pid = getpid();

	(void)in;
	(void)inlen;
	sleep_ms(300);
	if ((*out = malloc(sizeof(pid))) == NULL)
		return -ENOMEM;
	memcpy(*out, &pid, sizeof(pid));
	*outlen = sizeof(pid);
	return 0;
}

static int
job_fail(const void *in, size_t inlen, void **out, size_t *outlen)
{
	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	return -EDOM;
}

static int
job_exit(const void *in, size_t inlen, void **out, size_t *outlen)
{
	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	_exit(3);
}

static int
job_abort(const void *in, size_t inlen, void **out, size_t *outlen)
{
	struct rlimit rl = { 0, 0 };

	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	setrlimit(RLIMIT_CORE, &rl);	/* no core file from the test */
	abort();
}

static int
job_slow(const void *in, size_t inlen, void **out, size_t *outlen)
{
	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	sleep_ms(5000);
	return 0;
}

static const coro_job jobs[] = {
	{ "echo", job_echo },
	{ "pid", job_pid },
	{ "fail", job_fail },
	{ "exit", job_exit },
	{ "abort", job_abort },
	{ "slow", job_slow },
};
#define NJOBS	(sizeof(jobs) / sizeof(jobs[0]))

/* Whether we still have any child: every worker must have been reaped. */
static bool
children_left(void)
{
	return !(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}

/* Runs "echo" once: 0 when the pool answered correctly. */
static int
echo_ok(coro_procpool *pp)
{
	void *out = NULL;
	size_t outlen = 0;
	int err;

	err = coro_procpool_run(pp, "echo", "ping", 4, &out, &outlen,
	    coro_deadline_in(5000));
	if (err == 0 && (outlen != 4 || memcmp(out, "ping", 4) != 0))
		err = -EPROTO;
	free(out);
	return err;
}

/* ---- parallel ---- */

struct pid_call {
	coro_procpool	*pp;
	int		 err;
	pid_t		 pid;
};

static int
pid_task(void *arg)
{
	struct pid_call *c = arg;
	void *out = NULL;
	size_t outlen = 0;

	c->err = coro_procpool_run(c->pp, "pid", NULL, 0, &out, &outlen,
	    coro_deadline_in(5000));
	if (c->err == 0 && outlen == sizeof(pid_t))
		memcpy(&c->pid, out, sizeof(pid_t));
	else if (c->err == 0)
		c->err = -EPROTO;
	free(out);
	return c->err;
}

/* Gathers two "pid" jobs: 0 when both ran at once in different workers. */
static int
two_in_parallel(coro_procpool *pp, int64_t *elapsed, pid_t pids[2])
{
	struct pid_call c[2];
	coro_task *t[2];
	coro_future *f[2];
	int64_t t0;
	int i, err;

	memset(c, 0, sizeof(c));
	t0 = coro_now();
	for (i = 0; i < 2; i++) {
		c[i].pp = pp;
		if ((t[i] = coro_spawn(coro_loop_current(), pid_task, &c[i],
		    NULL)) == NULL)
			return -ENOMEM;
		f[i] = coro_task_future(t[i]);
	}
	err = coro_gather(f, 2, CORO_GATHER_WAIT_ALL, coro_deadline_in(5000));
	*elapsed = coro_now() - t0;
	for (i = 0; i < 2; i++) {
		pids[i] = c[i].pid;
		coro_task_unref(t[i]);
	}
	return err;
}

struct parallel_state {
	int	new_ok, err;
	int64_t	elapsed;
	pid_t	pids[2];
};

static int
parallel_main(void *arg)
{
	struct parallel_state *s = arg;
	coro_procpool *pp;

	if ((pp = coro_procpool_new(coro_loop_current(), 2, jobs,
	    NJOBS)) == NULL)
		return -ENOMEM;
	s->new_ok = 1;
	s->err = two_in_parallel(pp, &s->elapsed, s->pids);
	coro_procpool_free(pp);
	return 0;
}

static void
test_procpool_jobs_run_in_parallel(void **state)
{
	struct parallel_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(parallel_main, &s), 0);
	assert_true(s.new_ok);
	assert_int_equal(s.err, 0);
	assert_true(s.pids[0] > 0 && s.pids[1] > 0);
	assert_int_not_equal(s.pids[0], s.pids[1]);
	assert_int_not_equal(s.pids[0], getpid());
	/* one after the other would take 600 ms */
	assert_true(s.elapsed >= 290 && s.elapsed < 550);
	assert_false(children_left());
}

/* ---- bytes ---- */

#define BIG	(1024 * 1024 + 7)

struct bytes_state {
	int	err_big, err_empty, err_huge;
	size_t	outlen_big, outlen_empty;
	int	same;
	int	out_empty_set;
};

static int
bytes_main(void *arg)
{
	struct bytes_state *s = arg;
	coro_procpool *pp;
	unsigned char *in;
	void *out = NULL;
	size_t i;

	if ((in = malloc(BIG)) == NULL)
		return -ENOMEM;
	for (i = 0; i < BIG; i++)
		in[i] = (unsigned char)(i * 31 + 7);
	if ((pp = coro_procpool_new(coro_loop_current(), 1, jobs,
	    NJOBS)) == NULL) {
		free(in);
		return -ENOMEM;
	}
	s->err_big = coro_procpool_run(pp, "echo", in, BIG, &out,
	    &s->outlen_big, coro_deadline_in(10000));
	s->same = out != NULL && s->outlen_big == BIG &&
	    memcmp(out, in, BIG) == 0;
	free(out);
	out = NULL;
	s->err_empty = coro_procpool_run(pp, "echo", NULL, 0, &out,
	    &s->outlen_empty, coro_deadline_in(5000));
	s->out_empty_set = out != NULL;
	free(out);
	/* rejected before anything is read from in */
	s->err_huge = coro_procpool_run(pp, "echo", in, (size_t)1 << 32,
	    NULL, NULL, coro_deadline_in(5000));
	coro_procpool_free(pp);
	free(in);
	return 0;
}

static void
test_procpool_payload_round_trip(void **state)
{
	struct bytes_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(bytes_main, &s), 0);
	assert_int_equal(s.err_big, 0);
	assert_int_equal(s.outlen_big, BIG);
	assert_true(s.same);
	assert_int_equal(s.err_empty, 0);
	assert_int_equal(s.outlen_empty, 0);
	assert_true(s.out_empty_set);
	assert_int_equal(s.err_huge, -EMSGSIZE);
	assert_false(children_left());
}

/* ---- errors ---- */

struct errors_state {
	int	err_unknown, err_fail, err_after;
	void	*out_fail;
};

static int
errors_main(void *arg)
{
	struct errors_state *s = arg;
	coro_procpool *pp;
	size_t outlen;

	if ((pp = coro_procpool_new(coro_loop_current(), 1, jobs,
	    NJOBS)) == NULL)
		return -ENOMEM;
	s->err_unknown = coro_procpool_run(pp, "no-such-job", "x", 1, NULL,
	    NULL, coro_deadline_in(5000));
	s->out_fail = (void *)(uintptr_t)1;
	s->err_fail = coro_procpool_run(pp, "fail", "x", 1, &s->out_fail,
	    &outlen, coro_deadline_in(5000));
	/* the worker is fine after a job error */
	s->err_after = echo_ok(pp);
	coro_procpool_free(pp);
	return 0;
}

static void
test_procpool_unknown_job_and_job_error(void **state)
{
	struct errors_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(errors_main, &s), 0);
	assert_int_equal(s.err_unknown, -ENOENT);
	assert_int_equal(s.err_fail, -EDOM);
	assert_null(s.out_fail);
	assert_int_equal(s.err_after, 0);
	assert_false(children_left());
}

/* ---- crashes ---- */

struct crash_state {
	int	err_exit, err_abort, err_after1, err_after2, err_par;
	int64_t	elapsed;
	pid_t	pids[2];
};

static int
crash_main(void *arg)
{
	struct crash_state *s = arg;
	coro_procpool *pp;

	if ((pp = coro_procpool_new(coro_loop_current(), 2, jobs,
	    NJOBS)) == NULL)
		return -ENOMEM;
	s->err_exit = coro_procpool_run(pp, "exit", NULL, 0, NULL, NULL,
	    coro_deadline_in(5000));
	s->err_after1 = echo_ok(pp);
	s->err_abort = coro_procpool_run(pp, "abort", NULL, 0, NULL, NULL,
	    coro_deadline_in(5000));
	s->err_after2 = echo_ok(pp);
	/* both workers are there again */
	s->err_par = two_in_parallel(pp, &s->elapsed, s->pids);
	coro_procpool_free(pp);
	return 0;
}

static void
test_procpool_crashed_worker_is_replaced(void **state)
{
	struct crash_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(crash_main, &s), 0);
	assert_int_equal(s.err_exit, -ECHILD);
	assert_int_equal(s.err_after1, 0);
	assert_int_equal(s.err_abort, -ECHILD);
	assert_int_equal(s.err_after2, 0);
	assert_int_equal(s.err_par, 0);
	assert_int_not_equal(s.pids[0], s.pids[1]);
	assert_true(s.elapsed < 550);
	assert_false(children_left());
}

/* ---- deadline and cancellation ---- */

struct slow_state {
	int	err_slow, err_after, err_cancel, err_after_cancel, err_par;
	int64_t	elapsed_slow, elapsed_par;
	pid_t	pids[2];
	coro_procpool *pp;
};

static int
slow_task(void *arg)
{
	struct slow_state *s = arg;

	return coro_procpool_run(s->pp, "slow", NULL, 0, NULL, NULL,
	    CORO_NEVER);
}

static int
slow_main(void *arg)
{
	struct slow_state *s = arg;
	coro_task *t;
	int64_t t0;

	if ((s->pp = coro_procpool_new(coro_loop_current(), 2, jobs,
	    NJOBS)) == NULL)
		return -ENOMEM;
	t0 = coro_now();
	s->err_slow = coro_procpool_run(s->pp, "slow", NULL, 0, NULL, NULL,
	    coro_deadline_in(100));
	s->elapsed_slow = coro_now() - t0;
	s->err_after = echo_ok(s->pp);

	if ((t = coro_spawn(coro_loop_current(), slow_task, s,
	    NULL)) == NULL)
		return -ENOMEM;
	coro_sleep(100);
	coro_cancel(t);
	s->err_cancel = coro_join(t, NULL, coro_deadline_in(5000));
	coro_task_unref(t);
	s->err_after_cancel = echo_ok(s->pp);
	s->err_par = two_in_parallel(s->pp, &s->elapsed_par, s->pids);
	coro_procpool_free(s->pp);
	return 0;
}

static void
test_procpool_deadline_and_cancel_replace_worker(void **state)
{
	struct slow_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(slow_main, &s), 0);
	assert_int_equal(s.err_slow, -ETIMEDOUT);
	assert_true(s.elapsed_slow >= 90 && s.elapsed_slow < 1000);
	assert_int_equal(s.err_after, 0);
	assert_int_equal(s.err_cancel, -ECANCELED);
	assert_int_equal(s.err_after_cancel, 0);
	assert_int_equal(s.err_par, 0);
	assert_int_not_equal(s.pids[0], s.pids[1]);
	assert_true(s.elapsed_par < 550);
	assert_false(children_left());
}

/* ---- waiting for an idle worker ---- */

struct busy_state {
	int	err_busy;
	coro_procpool *pp;
};

static int
busy_main(void *arg)
{
	struct busy_state *s = arg;
	struct slow_state slow;
	coro_task *t;

	memset(&slow, 0, sizeof(slow));
	if ((slow.pp = s->pp = coro_procpool_new(coro_loop_current(), 1,
	    jobs, NJOBS)) == NULL)
		return -ENOMEM;
	if ((t = coro_spawn(coro_loop_current(), slow_task, &slow,
	    NULL)) == NULL)
		return -ENOMEM;
	coro_sleep(50);
	/* the only worker is busy: no worker before the deadline */
	s->err_busy = coro_procpool_run(s->pp, "echo", "x", 1, NULL, NULL,
	    coro_deadline_in(100));
	coro_cancel(t);
	coro_join(t, NULL, coro_deadline_in(5000));
	coro_task_unref(t);
	coro_procpool_free(s->pp);
	return 0;
}

static void
test_procpool_no_idle_worker_times_out(void **state)
{
	struct busy_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(busy_main, &s), 0);
	assert_int_equal(s.err_busy, -ETIMEDOUT);
	assert_false(children_left());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procpool_jobs_run_in_parallel),
		cmocka_unit_test(test_procpool_payload_round_trip),
		cmocka_unit_test(test_procpool_unknown_job_and_job_error),
		cmocka_unit_test(test_procpool_crashed_worker_is_replaced),
		cmocka_unit_test(
		    test_procpool_deadline_and_cancel_replace_worker),
		cmocka_unit_test(test_procpool_no_idle_worker_times_out),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
