/*
 * test_switch.c: the context switch keeps what the ABI says a call keeps
 * (callee-saved integer and floating-point registers), enters tasks with
 * an ABI-aligned stack, and survives many interleaved switches.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test_helpers.h"

#define ROUNDS 1000

/* Many values live across each yield: the compiler keeps some in
 * callee-saved registers and spills the rest, so a switch that loses a
 * register corrupts one of them. */
static int
keep_values(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	volatile uint64_t sink;
	uint64_t a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11;
	uint64_t e = seed * 13, f = seed * 17, g = seed * 19, h = seed * 23;
	double x = (double)seed * 1.5, y = (double)seed * 2.5;
	double z = (double)seed * 3.5, w = (double)seed * 4.5;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		if (coro_yield() != 0)
			return -EINVAL;
		a += 1; b += 2; c += 3; d += 4; e += 5; f += 6; g += 7; h += 8;
		x += 1.0; y += 2.0; z += 3.0; w += 4.0;
	}
	sink = a + b;
	(void)sink;
	if (a != seed * 3 + ROUNDS || b != seed * 5 + 2 * ROUNDS ||
	    c != seed * 7 + 3 * ROUNDS || d != seed * 11 + 4 * ROUNDS ||
	    e != seed * 13 + 5 * ROUNDS || f != seed * 17 + 6 * ROUNDS ||
	    g != seed * 19 + 7 * ROUNDS || h != seed * 23 + 8 * ROUNDS)
		return -EIO;
	if (x != (double)seed * 1.5 + ROUNDS ||
	    y != (double)seed * 2.5 + 2 * ROUNDS ||
	    z != (double)seed * 3.5 + 3 * ROUNDS ||
	    w != (double)seed * 4.5 + 4 * ROUNDS)
		return -EIO;
	return 0;
}

static void
test_switch_callee_saved_registers_survive(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		t[i] = coro_spawn(loop, keep_values,
		    (void *)(uintptr_t)(1000 + 77 * i), NULL);
	for (i = 0; i < 4; i++) {
		assert_int_equal(coro_loop_run_until_complete(loop, t[i], NULL),
		    0);
		coro_task_unref(t[i]);
	}
	coro_loop_free(loop);
}

static int
aligned_entry(void *arg)
{
	char buf[64];
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);

	(void)arg;
	/* SysV and AAPCS64 both keep the frame 16-byte aligned */
	if (fp % 16 != 0)
		return -EFAULT;
	/* printf of a double uses aligned SSE stores on x86-64 */
	snprintf(buf, sizeof(buf), "%.3f", 3.14159);
	if (strcmp(buf, "3.142") != 0)
		return -EIO;
	if (coro_yield() != 0)
		return -EINVAL;
	fp = (uintptr_t)__builtin_frame_address(0);
	return fp % 16 == 0 ? 0 : -EFAULT;
}

static void
test_switch_entry_stack_is_aligned(void **state)
{
	(void)state;
	assert_int_equal(run_task(aligned_entry, NULL), 0);
}

static int
deep_then_yield(void *arg)
{
	int depth = *(int *)arg;
	volatile char pad[256];

	pad[0] = (char)depth;
	if (depth > 0) {
		int next = depth - 1;

		if (deep_then_yield(&next) != 0)
			return -EIO;
	} else if (coro_yield() != 0)
		return -EINVAL;
	return pad[0] == (char)depth ? 0 : -EIO;
}

static void
test_switch_from_deep_frames(void **state)
{
	int depth = 40;

	(void)state;
	assert_int_equal(run_task(deep_then_yield, &depth), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch_callee_saved_registers_survive),
		cmocka_unit_test(test_switch_entry_stack_is_aligned),
		cmocka_unit_test(test_switch_from_deep_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
