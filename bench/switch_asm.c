/*
 * switch_asm.c: libcoro/ctx.c compiled in its assembly mode (with
 * switch_asm_s.S for libcoro/switch.S), its symbols renamed so this copy
 * sits beside the ucontext one, and the round-trip loop over it.
 */
#include "config.h"

#include "bench_switch.h"

#if defined(CORO_SWITCH_UCONTEXT)

/* configured --with-coro-switch=ucontext: no assembly switch built */
double
bench_switch_asm(long iters)
{
	(void)iters;
	return -1;
}

#else

#define coro__ctx_init		bench_asm_ctx_init
#define coro__fiber_switch	bench_asm_fiber_switch
#define coro__fiber_started	bench_asm_fiber_started
#define coro__ctx_switch	bench_asm_ctx_switch
#define coro__ctx_trampoline	bench_asm_ctx_trampoline

#include "../libcoro/ctx.c"

#define BENCH_SWITCH_FN		bench_switch_asm
#include "switch_loop.h"

#endif
