/*
 * test_helpers.h: what every libcoro unit test needs: cmocka, and a way to
 * run one task body to completion on a fresh loop.
 */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coro.h"

/* Runs fn(arg) as a task on a new loop, frees the loop, returns the
 * task's status. */
static inline int
run_task(coro_fn fn, void *arg)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t;
	int err;

	assert_non_null(loop);
	t = coro_spawn(loop, fn, arg, &(coro_spawn_opts){ .name = "test" });
	assert_non_null(t);
	err = coro_loop_run_until_complete(loop, t, NULL);
	coro_task_unref(t);
	coro_loop_free(loop);
	return err;
}

#endif
