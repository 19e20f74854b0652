/*
 * bench_switch.h: the switch round trip, measured on copies of
 * libcoro/ctx.c (and switch.S) built into the benchmark in each mode:
 * switch_asm.c with the assembly switch, switch_ucontext.c with
 * swapcontext(3).  The loop itself is in switch_loop.h.
 */
#ifndef BENCH_SWITCH_H
#define BENCH_SWITCH_H

/* Runs iters round trips (resume a fiber, which yields straight back:
 * two switches) and returns ns per round trip, or -1 when this build has
 * no such switch (asm on a --with-coro-switch=ucontext build) or the
 * fiber's stack could not be mapped. */
double	bench_switch_asm(long iters);
double	bench_switch_ucontext(long iters);

#endif /* BENCH_SWITCH_H */
