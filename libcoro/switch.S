/*
 * switch.S: the context switch of libcoro for x86-64 (System V) and
 * AArch64 (AAPCS64).  A switch is a function call as far as the compiler
 * knows, so only the callee-saved registers are saved, into the struct
 * coro__ctx of the fiber being left; the other fiber's are loaded and we
 * jump to its saved resume address (an indirect jump predicts better
 * than a return on the other stack).  MXCSR and the x87 control word are
 * not saved: tasks must not change the floating-point environment.
 *
 * The trampoline is the first frame of every task stack.  It clears the
 * frame pointer and marks the return address undefined so that debuggers
 * end backtraces there, calls entry(arg) and never returns.
 */
#include "config.h"

#if !defined(CORO_SWITCH_UCONTEXT)

#if defined(__x86_64__)

	.text
	.globl	coro__ctx_switch
	.hidden	coro__ctx_switch
	.type	coro__ctx_switch, @function
	.p2align 4
/* void coro__ctx_switch(struct coro__ctx *from (rdi), struct coro__ctx *to (rsi)) */
coro__ctx_switch:
	.cfi_startproc
	movq	(%rsp), %rax		/* resume address = our return address */
	leaq	8(%rsp), %rcx		/* rsp as it will be after returning */
	movq	%rbx, 0(%rdi)
	movq	%rbp, 8(%rdi)
	movq	%r12, 16(%rdi)
	movq	%r13, 24(%rdi)
	movq	%r14, 32(%rdi)
	movq	%r15, 40(%rdi)
	movq	%rcx, 48(%rdi)
	movq	%rax, 56(%rdi)
	movq	0(%rsi), %rbx
	movq	8(%rsi), %rbp
	movq	16(%rsi), %r12
	movq	24(%rsi), %r13
	movq	32(%rsi), %r14
	movq	40(%rsi), %r15
	movq	48(%rsi), %rsp
	jmpq	*56(%rsi)
	.cfi_endproc
	.size	coro__ctx_switch, .-coro__ctx_switch

	.globl	coro__ctx_trampoline
	.hidden	coro__ctx_trampoline
	.type	coro__ctx_trampoline, @function
	.p2align 4
/* Entered by jmp with rsp 16-byte aligned, r12 = arg, r13 = entry. */
coro__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	coro__ctx_trampoline, .-coro__ctx_trampoline

#elif defined(__aarch64__)

	.text
	.globl	coro__ctx_switch
	.hidden	coro__ctx_switch
	.type	coro__ctx_switch, %function
	.p2align 4
/* void coro__ctx_switch(struct coro__ctx *from (x0), struct coro__ctx *to (x1)) */
coro__ctx_switch:
	.cfi_startproc
	mov	x9, sp
	stp	x19, x20, [x0, #0]
	stp	x21, x22, [x0, #16]
	stp	x23, x24, [x0, #32]
	stp	x25, x26, [x0, #48]
	stp	x27, x28, [x0, #64]
	stp	x29, x30, [x0, #80]
	str	x9, [x0, #96]
	stp	d8, d9, [x0, #104]
	stp	d10, d11, [x0, #120]
	stp	d12, d13, [x0, #136]
	stp	d14, d15, [x0, #152]
	ldp	x19, x20, [x1, #0]
	ldp	x21, x22, [x1, #16]
	ldp	x23, x24, [x1, #32]
	ldp	x25, x26, [x1, #48]
	ldp	x27, x28, [x1, #64]
	ldp	x29, x30, [x1, #80]
	ldr	x9, [x1, #96]
	ldp	d8, d9, [x1, #104]
	ldp	d10, d11, [x1, #120]
	ldp	d12, d13, [x1, #136]
	ldp	d14, d15, [x1, #152]
	mov	sp, x9
	br	x30
	.cfi_endproc
	.size	coro__ctx_switch, .-coro__ctx_switch

	.globl	coro__ctx_trampoline
	.hidden	coro__ctx_trampoline
	.type	coro__ctx_trampoline, %function
	.p2align 4
/* Entered with sp 16-byte aligned, x19 = arg, x20 = entry. */
coro__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x30, #0
	mov	x0, x19
	blr	x20
	brk	#0
	.cfi_endproc
	.size	coro__ctx_trampoline, .-coro__ctx_trampoline

#else
#error "no assembly context switch for this architecture: configure --with-coro-switch=ucontext"
#endif

#endif /* !CORO_SWITCH_UCONTEXT */

	.section .note.GNU-stack,"",%progbits
