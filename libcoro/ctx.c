/*
 * ctx.c: preparing and switching execution contexts (fibers).
 *
 * The fast path is the assembly in switch.S; configure
 * --with-coro-switch=ucontext selects swapcontext(3) instead, for other
 * architectures and as a reference the test suite also runs against.
 * Every switch goes through coro__fiber_switch so that AddressSanitizer
 * is told which stack is live (without it, ASan reports wild pointers on
 * task stacks and stale redzones on reused ones).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "coro-internal.h"

#if defined(CORO_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(CORO_SWITCH_UCONTEXT)

/* makecontext passes int arguments only: split the pointers in halves. */
static void
ctx_ucontext_entry(unsigned fhi, unsigned flo, unsigned ahi, unsigned alo)
{
	void (*entry)(void *) = (void (*)(void *))
	    (((uintptr_t)fhi << 32) | (uintptr_t)flo);
	void *arg = (void *)(((uintptr_t)ahi << 32) | (uintptr_t)alo);

	entry(arg);
	__builtin_trap();
}

void
coro__ctx_init(struct coro__ctx *ctx, void *stack_lo, size_t size,
    void (*entry)(void *), void *arg)
{
	uintptr_t f = (uintptr_t)entry, a = (uintptr_t)arg;

	memset(ctx, 0, sizeof(*ctx));
	getcontext(&ctx->uc);
	ctx->uc.uc_stack.ss_sp = stack_lo;
	ctx->uc.uc_stack.ss_size = size;
	ctx->uc.uc_link = NULL;
	makecontext(&ctx->uc, (void (*)(void))ctx_ucontext_entry, 4,
	    (unsigned)(f >> 32), (unsigned)f, (unsigned)(a >> 32),
	    (unsigned)a);
}

static inline void
ctx_switch(struct coro__ctx *from, struct coro__ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

#else

void coro__ctx_switch(struct coro__ctx *from, struct coro__ctx *to)
    CORO_HIDDEN;
void coro__ctx_trampoline(void) CORO_HIDDEN;

void
coro__ctx_init(struct coro__ctx *ctx, void *stack_lo, size_t size,
    void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;

	memset(ctx, 0, sizeof(*ctx));
#if defined(__x86_64__)
	ctx->regs[2] = arg;			/* r12 */
	ctx->regs[3] = (void *)entry;		/* r13 */
	ctx->regs[6] = (void *)top;		/* rsp */
	ctx->regs[7] = (void *)coro__ctx_trampoline;
#elif defined(__aarch64__)
	ctx->regs[0] = arg;			/* x19 */
	ctx->regs[1] = (void *)entry;		/* x20 */
	ctx->regs[11] = (void *)coro__ctx_trampoline;	/* x30 */
	ctx->regs[12] = (void *)top;		/* sp */
#endif
}

static inline void
ctx_switch(struct coro__ctx *from, struct coro__ctx *to)
{
	coro__ctx_switch(from, to);
}

#endif

void
coro__fiber_switch(struct coro__fiber *from, struct coro__fiber *to,
    int from_ends)
{
#if defined(CORO_ASAN)
	const void *lo;
	size_t size;

	__sanitizer_start_switch_fiber(from_ends ? NULL :
	    &from->asan_fake_stack, to->stack_lo, to->stack_size);
	ctx_switch(&from->ctx, &to->ctx);
	/* back on from's stack: whoever switched to us is now suspended */
	__sanitizer_finish_switch_fiber(from->asan_fake_stack, &lo, &size);
#else
	(void)from_ends;
	ctx_switch(&from->ctx, &to->ctx);
#endif
}

void
coro__fiber_started(struct coro__fiber *self, struct coro__fiber *from)
{
#if defined(CORO_ASAN)
	const void *lo;
	size_t size;

	__sanitizer_finish_switch_fiber(NULL, &lo, &size);
	/* the loop's stack is not ours: learn its bounds from ASan */
	if (from->stack_lo == NULL) {
		from->stack_lo = (void *)(uintptr_t)lo;
		from->stack_size = size;
	}
#else
	(void)from;
#endif
	(void)self;
}
