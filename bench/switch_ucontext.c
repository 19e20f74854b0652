/*
 * switch_ucontext.c: libcoro/ctx.c compiled as by --with-coro-switch=
 * ucontext (swapcontext(3)), its symbols renamed so this copy sits
 * beside the assembly one, and the round-trip loop over it.
 */
#define CORO_SWITCH_UCONTEXT	1

#define coro__ctx_init		bench_uc_ctx_init
#define coro__fiber_switch	bench_uc_fiber_switch
#define coro__fiber_started	bench_uc_fiber_started

#include "../libcoro/ctx.c"

#define BENCH_SWITCH_FN		bench_switch_ucontext
#include "switch_loop.h"
