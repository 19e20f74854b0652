/*
 * test_stack.c: a task that overflows its stack dies on the guard page
 * with a message naming it (in a child process), instead of corrupting
 * memory; and stacks are reused.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "test_helpers.h"

static volatile int limit = 1 << 30;

/* Bounded only by a limit the compiler cannot see through. */
static int __attribute__((noinline))
recurse(int n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	pad[511] = (char)n;
	if (n >= limit)
		return 0;
	return recurse(n + 1) + pad[0] + pad[511];
}

static int
overflow(void *arg)
{
	(void)arg;
	return recurse(0);
}

static void
test_stack_overflow_names_the_task(void **state)
{
	int pfd[2], status;
	char buf[512];
	ssize_t n, len = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		coro_loop *loop;
		coro_task *t;

		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		loop = coro_loop_new();
		t = coro_spawn(loop, overflow, NULL,
		    &(coro_spawn_opts){ .name = "deep-recursion" });
		coro_loop_run_until_complete(loop, t, NULL);
		_exit(0);	/* not reached */
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_non_null(strstr(buf,
	    "stack overflow in task 'deep-recursion'"));
}

static int
touch(void *arg)
{
	volatile char buf[1024];

	buf[0] = 1;
	*(uintptr_t *)arg = (uintptr_t)buf;
	return buf[0] == 1 ? 0 : -EIO;
}

static void
test_stack_reused_from_pool(void **state)
{
	coro_loop *loop = coro_loop_new();
	uintptr_t first = 0, second = 0;
	coro_task *t;

	(void)state;
	t = coro_spawn(loop, touch, &first, NULL);
	coro_loop_run_until_complete(loop, t, NULL);
	coro_task_unref(t);
	t = coro_spawn(loop, touch, &second, NULL);
	coro_loop_run_until_complete(loop, t, NULL);
	coro_task_unref(t);
	/* the same pooled stack: the same frame address */
	assert_true(first != 0);
	assert_true(first == second);
	coro_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stack_overflow_names_the_task),
		cmocka_unit_test(test_stack_reused_from_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
