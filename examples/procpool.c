/*
 * procpool.c: CPU-bound work in a process pool (asyncio's
 * run_in_executor with a ProcessPoolExecutor).  C cannot send a closure
 * to another process, so the jobs are registered by name before the
 * workers fork, and each takes bytes in and gives bytes out (here short
 * text lines).  Two tasks run one job each, "sum" over a range and
 * "primes" below a bound, and are gathered: the jobs run at once in two
 * workers, and each result comes back with the pid of its worker.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"

#define NJOBS	2

/* ---- the jobs: they run in the workers ---- */

/* Copies the input into a C string; jobs take at most a short line. */
static int
job_input(const void *in, size_t inlen, char *buf, size_t len)
{
	if (inlen >= len)
		return -EINVAL;
	memcpy(buf, in, inlen);
	buf[inlen] = '\0';
	return 0;
}

/* Replies "RESULT PID" in a buffer from malloc(), freed by the pool. */
static int
job_reply(uint64_t result, void **out, size_t *outlen)
{
	char *buf;
	int n;

	if ((buf = malloc(64)) == NULL)
		return -ENOMEM;
	n = snprintf(buf, 64, "%" PRIu64 " %ld", result, (long)getpid());
	*out = buf;
	*outlen = (size_t)n;
	return 0;
}

/* "LO HI": the sum of the integers in [LO, HI]. */
static int
job_sum(const void *in, size_t inlen, void **out, size_t *outlen)
{
	char buf[64];
	uint64_t lo, hi, i, sum = 0;
	int err;

	if ((err = job_input(in, inlen, buf, sizeof(buf))) != 0)
		return err;
	if (sscanf(buf, "%" SCNu64 " %" SCNu64, &lo, &hi) != 2 || lo > hi)
		return -EINVAL;
	for (i = lo; i <= hi; i++) {
		sum += i;
		/* keep the compiler from folding the loop into n(n+1)/2 */
		__asm__ volatile("" : "+r"(sum));
	}
	return job_reply(sum, out, outlen);
}

/* "N": how many primes are below N, by trial division. */
static int
job_primes(const void *in, size_t inlen, void **out, size_t *outlen)
{
	char buf[64];
	uint64_t n, i, d, count = 0;
	int err;

	if ((err = job_input(in, inlen, buf, sizeof(buf))) != 0)
		return err;
	if (sscanf(buf, "%" SCNu64, &n) != 1)
		return -EINVAL;
	for (i = 2; i < n; i++) {
		for (d = 2; d * d <= i; d++)
			if (i % d == 0)
				break;
		if (d * d > i)
			count++;
	}
	return job_reply(count, out, outlen);
}

static const coro_job jobs[NJOBS] = {
	{ "sum", job_sum },
	{ "primes", job_primes },
};

/* ---- the parent: tasks asking the pool ---- */

struct request {
	coro_procpool	*pp;
	const char	*job;
	const char	*input;
	const char	*what;		/* how to print the result */
};

static int
run_job(void *arg)
{
	const struct request *r = arg;
	void *out;
	size_t outlen;
	char buf[64];
	uint64_t result;
	long pid;
	int64_t t0;
	int err;

	t0 = coro_now();
	err = coro_procpool_run(r->pp, r->job, r->input, strlen(r->input),
	    &out, &outlen, coro_deadline_in(60 * 1000));
	if (err != 0) {
		fprintf(stderr, "procpool: job %s: %s\n", r->job,
		    strerror(-err));
		return err;
	}
	err = job_input(out, outlen, buf, sizeof(buf));
	free(out);
	if (err != 0 ||
	    sscanf(buf, "%" SCNu64 " %ld", &result, &pid) != 2) {
		fprintf(stderr, "procpool: job %s: bad reply\n", r->job);
		return -EPROTO;
	}
	printf("%s = %" PRIu64 " (worker pid %ld, %.2f s)\n", r->what,
	    result, pid, (double)(coro_now() - t0) / 1000.0);
	return 0;
}

static int
gather_jobs(void *arg)
{
	coro_procpool *pp = arg;
	struct request reqs[NJOBS] = {
		{ pp, "sum", "1 300000000", "sum of 1..300000000" },
		{ pp, "primes", "1000000", "primes below 1000000" },
	};
	coro_task *tasks[NJOBS];
	coro_future *futs[NJOBS];
	size_t i, n;
	int64_t t0;
	int err;

	t0 = coro_now();
	for (n = 0; n < NJOBS; n++) {
		tasks[n] = coro_spawn(coro_loop_current(), run_job, &reqs[n],
		    &(coro_spawn_opts){ .name = reqs[n].job });
		if (tasks[n] == NULL) {
			err = -errno;
			fprintf(stderr, "procpool: coro_spawn: %s\n",
			    strerror(-err));
			goto out;
		}
		futs[n] = coro_task_future(tasks[n]);
	}
	err = coro_gather(futs, n, CORO_GATHER_CANCEL_REST, CORO_NEVER);
	if (err == 0)
		printf("both done in %.2f s (parent pid %ld)\n",
		    (double)(coro_now() - t0) / 1000.0, (long)getpid());
 out:
	/* reqs lives on this stack: the tasks must end before we return */
	for (i = 0; i < n; i++) {
		if (err != 0) {
			coro_cancel(tasks[i]);
			coro_join(tasks[i], NULL, CORO_NEVER);
		}
		coro_task_unref(tasks[i]);
	}
	return err;
}

int
main(int argc, char *argv[])
{
	coro_loop *loop;
	coro_procpool *pp;
	coro_task *main_task;
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: procpool\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((loop = coro_loop_new()) == NULL) {
		fprintf(stderr, "procpool: coro_loop_new: %s\n",
		    strerror(errno));
		return 1;
	}
	if ((err = coro_loop_stop_on_signals(loop)) != 0) {
		fprintf(stderr, "procpool: %s\n", strerror(-err));
		coro_loop_free(loop);
		return 1;
	}
	/* fork the workers first, from the loop's own stack */
	if ((pp = coro_procpool_new(loop, NJOBS, jobs, NJOBS)) == NULL) {
		fprintf(stderr, "procpool: coro_procpool_new: %s\n",
		    strerror(errno));
		coro_loop_free(loop);
		return 1;
	}
	if ((main_task = coro_spawn(loop, gather_jobs, pp,
	    &(coro_spawn_opts){ .name = "main" })) == NULL) {
		err = -errno;
		fprintf(stderr, "procpool: coro_spawn: %s\n", strerror(-err));
	} else {
		/* the tasks print their own errors */
		err = coro_loop_run_until_complete(loop, main_task, NULL);
		coro_task_unref(main_task);
	}
	coro_procpool_free(pp);
	coro_loop_free(loop);
	return err != 0 ? 1 : 0;
}
