/*
 * switch_loop.h: the switch round-trip loop.  Included by switch_asm.c
 * and switch_ucontext.c right after libcoro/ctx.c, so it drives that
 * copy of coro__fiber_switch (renamed by the includer) in the mode the
 * includer compiled it in.  BENCH_SWITCH_FN names the function defined.
 *
 * In libcoro coro__fiber_switch is only ever called from other files,
 * never inlined: here it is called through a pointer the compiler cannot
 * see through, for the same reason.
 */
#include <sys/mman.h>

#include <string.h>
#include <time.h>

#include "bench_switch.h"

#define SWITCH_STACK	(64 * 1024)
#define SWITCH_WARMUP	1000

typedef void (*switch_fn)(struct coro__fiber *, struct coro__fiber *, int);

static switch_fn volatile	 sw_switch = coro__fiber_switch;
static struct coro__fiber	 sw_main;	/* this stack */
static struct coro__fiber	 sw_fiber;	/* the one resumed */

/* The fiber: yields back at once, forever.  It is never resumed after
 * the measurement, and its stack is simply unmapped. */
static void
sw_entry(void *arg)
{
	switch_fn fn = sw_switch;

	(void)arg;
	coro__fiber_started(&sw_fiber, &sw_main);
	for (;;)
		fn(&sw_fiber, &sw_main, 0);
}

double
BENCH_SWITCH_FN(long iters)
{
	struct timespec t0, t1;
	switch_fn fn = sw_switch;
	void *stack;
	double ns;
	long i;

	if (iters <= 0)
		return -1;
	stack = mmap(NULL, SWITCH_STACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	memset(&sw_main, 0, sizeof(sw_main));
	memset(&sw_fiber, 0, sizeof(sw_fiber));
	sw_fiber.stack_lo = stack;
	sw_fiber.stack_size = SWITCH_STACK;
	coro__ctx_init(&sw_fiber.ctx, stack, SWITCH_STACK, sw_entry, NULL);
	for (i = 0; i < SWITCH_WARMUP; i++)
		fn(&sw_main, &sw_fiber, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < iters; i++)
		fn(&sw_main, &sw_fiber, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	munmap(stack, SWITCH_STACK);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec);
	return ns / (double)iters;
}
