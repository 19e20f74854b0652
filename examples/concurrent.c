/*
 * concurrent.c: the two tasks of sequential.c (one sleeps one second, the
 * other two), now spawned together and awaited with coro_gather(), the
 * asyncio.gather() of libcoro.  They sleep at the same time, so the total
 * is the longer of the two, about two seconds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "coro.h"

#define NSLEEPERS	2

struct sleeper {
	const char	*name;
	int64_t		 ms;
};

static int64_t start;

static double
elapsed(void)
{
	return (double)(coro_now() - start) / 1000.0;
}

/* A task: says when it starts, sleeps, says when it ends. */
static int
say_after(void *arg)
{
	const struct sleeper *s = arg;
	int err;

	printf("%5.2f s  %s: start, sleeping %.1f s\n", elapsed(), s->name,
	    (double)s->ms / 1000.0);
	if ((err = coro_sleep(s->ms)) != 0)
		return err;
	printf("%5.2f s  %s: end\n", elapsed(), s->name);
	return 0;
}

static int
concurrent(void *arg)
{
	static struct sleeper sleepers[NSLEEPERS] = {
		{ "first", 1000 },
		{ "second", 2000 },
	};
	coro_task *tasks[NSLEEPERS];
	coro_future *futs[NSLEEPERS];
	size_t i, n;
	int err;

	(void)arg;
	start = coro_now();
	for (n = 0; n < NSLEEPERS; n++) {
		tasks[n] = coro_spawn(coro_loop_current(), say_after,
		    &sleepers[n],
		    &(coro_spawn_opts){ .name = sleepers[n].name });
		if (tasks[n] == NULL) {
			err = -errno;
			goto out;
		}
		futs[n] = coro_task_future(tasks[n]);
	}
	/* both run now; wait for both, and if one fails stop the other */
	err = coro_gather(futs, n, CORO_GATHER_CANCEL_REST, CORO_NEVER);
	if (err == 0)
		printf("total: %.2f s\n", elapsed());
 out:
	for (i = 0; i < n; i++) {
		if (err != 0)
			coro_cancel(tasks[i]);
		coro_task_unref(tasks[i]);
	}
	return err;
}

int
main(int argc, char *argv[])
{
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: concurrent\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((err = coro_run(concurrent, NULL, NULL)) != 0) {
		fprintf(stderr, "concurrent: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
