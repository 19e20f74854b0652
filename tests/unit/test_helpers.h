/*
 * test_helpers.h: what every libcoro unit test needs: cmocka, a way to
 * run one task body to completion on a fresh loop, and checks for use
 * inside tasks.
 *
 * A cmocka assert longjmps, which must not happen on a task's stack: a
 * task body checks with CHECK/CHECK_EQ instead, which record the first
 * failure and return from the task; run_checked() then fails the test
 * with the recorded message.
 */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

#define TASK_FAILED	(-10000)

/* The first failure recorded by CHECK* in this test binary. */
static inline char *
test_failure(void)
{
	static char failure[512];

	return failure;
}

#define CHECK(c) do {							\
	if (!(c)) {							\
		if (test_failure()[0] == '\0')				\
			snprintf(test_failure(), 512,			\
			    "%s:%d: CHECK(%s)", __FILE__, __LINE__, #c);\
		return TASK_FAILED;					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		if (test_failure()[0] == '\0')				\
			snprintf(test_failure(), 512,			\
			    "%s:%d: %s is %lld, expected %s = %lld",	\
			    __FILE__, __LINE__, #a, a_, #b, b_);	\
		return TASK_FAILED;					\
	}								\
} while (0)

/* run_task, then fail with what CHECK* recorded, if anything. */
static inline void
run_checked(coro_fn fn, void *arg)
{
	int err;

	test_failure()[0] = '\0';
	err = run_task(fn, arg);
	if (test_failure()[0] != '\0')
		fail_msg("%s", test_failure());
	assert_int_equal(err, 0);
}

/* The running task's loop. */
static inline coro_loop *
here(void)
{
	return coro_task_loop(coro_current());
}

static inline void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1)
		;
}

#endif
