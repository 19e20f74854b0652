/*
 * forever.c: a loop that runs until told to stop (asyncio's
 * run_forever).  A task prints a line and sleeps one second; when it
 * ends, its done callback (coro_future_on_done) spawns its replacement,
 * and so on.  SIGINT or SIGTERM (coro_loop_stop_on_signals) cancels the
 * running task: its sleep returns -ECANCELED, its deferred cleanup
 * (coro_defer) runs and prints "cleanup", the loop returns and the
 * program prints "stopped" and exits 0.  With -n N it stops by itself
 * once the task renewed N times has ended.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"

struct forever {
	coro_loop	*loop;
	long		 max;		/* renewals before stopping, or -1 */
	long		 renewals;
	long		 serial;	/* number of the current task */
	int		 err;		/* first error, stops the loop */
};

static int	 spawn_next(struct forever *);

/* Runs when the task ends, however it ends.  A normal end reports itself
 * ("done"); the cleanup speaks up only when the task is torn down. */
static void
tick_cleanup(void *arg)
{
	struct forever *fv = arg;

	if (coro_cancelled())
		printf("task %ld: cancelled, cleanup\n", fv->serial);
}

static int
tick(void *arg)
{
	struct forever *fv = arg;
	int err;

	if ((err = coro_defer(tick_cleanup, fv)) != 0)
		return err;
	printf("task %ld: hello, sleeping 1 s\n", fv->serial);
	if ((err = coro_sleep(1000)) != 0)
		return err;
	printf("task %ld: done\n", fv->serial);
	return 0;
}

/* The done callback, on the loop's stack: renews the task. */
static void
tick_done(coro_future *f, void *arg)
{
	struct forever *fv = arg;
	int err;

	/* a cancelled task means we are shutting down: do not renew, the
	 * loop stops once no task is left */
	if (coro_future_state(f) == CORO_CANCELLED ||
	    coro_loop_stop_signal(fv->loop) != 0)
		return;
	if ((err = coro_future_error(f)) != 0) {
		fprintf(stderr, "forever: task %ld: %s\n", fv->serial,
		    strerror(-err));
		fv->err = err;
		coro_loop_stop(fv->loop);
		return;
	}
	if (fv->max >= 0 && fv->renewals >= fv->max) {
		printf("%ld renewal%s done, stopping\n", fv->renewals,
		    fv->renewals == 1 ? "" : "s");
		coro_loop_stop(fv->loop);
		return;
	}
	fv->renewals++;
	printf("renewal %ld: task %ld replaces task %ld\n", fv->renewals,
	    fv->serial + 1, fv->serial);
	if ((err = spawn_next(fv)) != 0) {
		fprintf(stderr, "forever: renewing: %s\n", strerror(-err));
		fv->err = err;
		coro_loop_stop(fv->loop);
	}
}

static int
spawn_next(struct forever *fv)
{
	coro_task *t;
	int err;

	if ((t = coro_spawn(fv->loop, tick, fv,
	    &(coro_spawn_opts){ .name = "tick" })) == NULL)
		return -errno;
	fv->serial++;
	err = coro_future_on_done(coro_task_future(t), tick_done, fv);
	if (err != 0)
		coro_cancel(t);
	/* the loop keeps the task alive until it ends */
	coro_task_unref(t);
	return err;
}

static void
usage(void)
{
	fprintf(stderr, "usage: forever [-n renewals]\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	struct forever fv = { .max = -1 };
	char *end;
	int ch, err, sig;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			fv.max = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    fv.max < 0) {
				fprintf(stderr, "forever: -n: bad count: %s\n",
				    optarg);
				usage();
			}
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((fv.loop = coro_loop_new()) == NULL) {
		fprintf(stderr, "forever: coro_loop_new: %s\n",
		    strerror(errno));
		return 1;
	}
	if ((err = coro_loop_stop_on_signals(fv.loop)) != 0 ||
	    (err = spawn_next(&fv)) != 0) {
		fprintf(stderr, "forever: %s\n", strerror(-err));
		coro_loop_free(fv.loop);
		return 1;
	}
	printf("running forever%s; Ctrl-C to stop\n",
	    fv.max >= 0 ? " (or until -n)" : "");
	coro_loop_run(fv.loop);
	sig = coro_loop_stop_signal(fv.loop);
	coro_loop_free(fv.loop);
	if (fv.err != 0)
		return 1;
	if (sig != 0)
		printf("stopped by %s\n", sig == SIGINT ? "SIGINT" :
		    sig == SIGTERM ? "SIGTERM" : "a signal");
	else
		printf("stopped\n");
	return 0;
}
