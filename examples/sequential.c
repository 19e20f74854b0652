/*
 * sequential.c: two tasks awaited one after the other.  The first sleeps
 * one second, the second two; each is spawned and joined before the next
 * one starts, so the total is the sum, about three seconds.  Compare with
 * concurrent.c, which runs the same two at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "coro.h"

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
sequential(void *arg)
{
	static struct sleeper sleepers[] = {
		{ "first", 1000 },
		{ "second", 2000 },
	};
	coro_task *t;
	size_t i;
	int err;

	(void)arg;
	start = coro_now();
	for (i = 0; i < sizeof(sleepers) / sizeof(sleepers[0]); i++) {
		t = coro_spawn(coro_loop_current(), say_after, &sleepers[i],
		    &(coro_spawn_opts){ .name = sleepers[i].name });
		if (t == NULL)
			return -errno;
		/* await it before starting the next one */
		err = coro_join(t, NULL, CORO_NEVER);
		coro_task_unref(t);
		if (err != 0)
			return err;
	}
	printf("total: %.2f s\n", elapsed());
	return 0;
}

int
main(int argc, char *argv[])
{
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: sequential\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((err = coro_run(sequential, NULL, NULL)) != 0) {
		fprintf(stderr, "sequential: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
