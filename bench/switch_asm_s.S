/*
 * switch_asm_s.S: libcoro/switch.S with the names switch_asm.c gives its
 * copy of ctx.c.  Empty on a --with-coro-switch=ucontext build.
 */
#define coro__ctx_switch	bench_asm_ctx_switch
#define coro__ctx_trampoline	bench_asm_ctx_trampoline

#include "../libcoro/switch.S"
