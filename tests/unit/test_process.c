/*
 * test_process.c: child processes (process.c): pipes to and from the
 * child, exit and signal statuses, the wait deadline, environment and
 * working directory, /dev/null, spawn failures and free reaping a running
 * child.
 *
 * Tasks record what they saw and the asserts run on the test's stack
 * after the loop is done.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND	0
#endif

#include "test_helpers.h"

/* Reads s to its end (or len - 1 bytes) into buf, NUL-terminated. */
static ssize_t
read_all(coro_stream *s, char *buf, size_t len, int64_t deadline)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1) {
		n = coro_stream_read(s, buf + got, len - 1 - got, deadline);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

struct run_state {
	int	spawn_err, write_err, wait_err, status;
	ssize_t	nread;
	char	out[256];
};

/* ---- cat ---- */

static int
cat_main(void *arg)
{
	struct run_state *s = arg;
	static const char *const argv[] = { "cat", NULL };
	coro_process_opts o = {
		.argv = argv,
		.stdin_mode = CORO_STDIO_PIPE,
		.stdout_mode = CORO_STDIO_PIPE,
	};
	coro_process *p;

	if ((s->spawn_err = coro_process_spawn(coro_loop_current(), &o,
	    &p)) != 0)
		return 0;
	if (coro_process_stdin(p) == NULL || coro_process_stdout(p) == NULL ||
	    coro_process_stderr(p) != NULL)
		s->write_err = -EINVAL;
	else
		s->write_err = coro_stream_write_all(coro_process_stdin(p),
		    "hello, cat\n", 11, coro_deadline_in(5000));
	coro_process_close_stdin(p);
	if (coro_process_stdout(p) != NULL)
		s->nread = read_all(coro_process_stdout(p), s->out,
		    sizeof(s->out), coro_deadline_in(5000));
	s->wait_err = coro_process_wait(p, &s->status, coro_deadline_in(5000));
	coro_process_free(p);
	return 0;
}

static void
test_process_cat_echoes_stdin(void **state)
{
	struct run_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(cat_main, &s), 0);
	assert_int_equal(s.spawn_err, 0);
	assert_int_equal(s.write_err, 0);
	assert_int_equal(s.nread, 11);
	assert_string_equal(s.out, "hello, cat\n");
	assert_int_equal(s.wait_err, 0);
	assert_true(WIFEXITED(s.status));
	assert_int_equal(WEXITSTATUS(s.status), 0);
}

/* ---- shell one-liners ---- */

struct sh_state {
	const char	*script;
	const char	*const *envp;
	const char	*cwd;
	enum coro_stdio	 in, out, err;
	bool		 read_stderr;
	struct run_state r;
};

static int
sh_main(void *arg)
{
	struct sh_state *s = arg;
	const char *argv[] = { "sh", "-c", s->script, NULL };
	coro_process_opts o = {
		.argv = argv,
		.envp = s->envp,
		.cwd = s->cwd,
		.stdin_mode = s->in,
		.stdout_mode = s->out,
		.stderr_mode = s->err,
	};
	coro_process *p;
	coro_stream *rs;

	if ((s->r.spawn_err = coro_process_spawn(coro_loop_current(), &o,
	    &p)) != 0)
		return 0;
	rs = s->read_stderr ? coro_process_stderr(p) : coro_process_stdout(p);
	if (rs != NULL)
		s->r.nread = read_all(rs, s->r.out, sizeof(s->r.out),
		    coro_deadline_in(5000));
	s->r.wait_err = coro_process_wait(p, &s->r.status,
	    coro_deadline_in(5000));
	coro_process_free(p);
	return 0;
}

static void
test_process_exit_status(void **state)
{
	struct sh_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.script = "exit 3";
	assert_int_equal(run_task(sh_main, &s), 0);
	assert_int_equal(s.r.spawn_err, 0);
	assert_int_equal(s.r.wait_err, 0);
	assert_true(WIFEXITED(s.r.status));
	assert_int_equal(WEXITSTATUS(s.r.status), 3);
}

static void
test_process_stderr_pipe(void **state)
{
	struct sh_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.script = "echo out; echo oops >&2";
	s.out = CORO_STDIO_NULL;
	s.err = CORO_STDIO_PIPE;
	s.read_stderr = true;
	assert_int_equal(run_task(sh_main, &s), 0);
	assert_int_equal(s.r.spawn_err, 0);
	assert_string_equal(s.r.out, "oops\n");
	assert_int_equal(s.r.wait_err, 0);
	assert_true(WIFEXITED(s.r.status));
	assert_int_equal(WEXITSTATUS(s.r.status), 0);
}

static void
test_process_stdin_null_reads_eof(void **state)
{
	struct sh_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	/* cat on /dev/null ends at once; a tty or inherited pipe would not
	 * be at EOF */
	s.script = "cat; echo end";
	s.in = CORO_STDIO_NULL;
	s.out = CORO_STDIO_PIPE;
	assert_int_equal(run_task(sh_main, &s), 0);
	assert_int_equal(s.r.spawn_err, 0);
	assert_string_equal(s.r.out, "end\n");
	assert_int_equal(WEXITSTATUS(s.r.status), 0);
}

static void
test_process_env_and_cwd_honoured(void **state)
{
	static const char *const envp[] = {
		"CORO_TEST_VAR=from-env", "PATH=/usr/bin:/bin", NULL
	};
	char tmpl[] = "/tmp/test_process.XXXXXX", *real, *want;
	struct sh_state s;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	real = realpath(tmpl, NULL);
	assert_non_null(real);
	memset(&s, 0, sizeof(s));
	s.script = "echo \"$CORO_TEST_VAR\"; echo \"${HOME-unset}\"; pwd -P";
	s.envp = envp;
	s.cwd = tmpl;
	s.out = CORO_STDIO_PIPE;
	assert_int_equal(run_task(sh_main, &s), 0);
	rmdir(tmpl);
	assert_int_equal(s.r.spawn_err, 0);
	len = strlen(real) + 32;
	want = malloc(len);
	assert_non_null(want);
	snprintf(want, len, "from-env\nunset\n%s\n", real);
	assert_string_equal(s.r.out, want);
	free(want);
	free(real);
	assert_int_equal(WEXITSTATUS(s.r.status), 0);
}

/* ---- deadline, kill ---- */

struct kill_state {
	int	spawn_err, wait1, kill_err, wait2, status, kill_after;
	int64_t	waited, total;
};

static int
kill_main(void *arg)
{
	struct kill_state *s = arg;
	static const char *const argv[] = { "sleep", "5", NULL };
	coro_process_opts o = { .argv = argv };
	coro_process *p;
	int64_t t0;

	t0 = coro_now();
	if ((s->spawn_err = coro_process_spawn(coro_loop_current(), &o,
	    &p)) != 0)
		return 0;
	s->wait1 = coro_process_wait(p, &s->status, coro_deadline_in(100));
	s->waited = coro_now() - t0;
	s->kill_err = coro_process_kill(p, SIGTERM);
	s->wait2 = coro_process_wait(p, &s->status, coro_deadline_in(5000));
	s->total = coro_now() - t0;
	/* reaped: no more signals */
	s->kill_after = coro_process_kill(p, SIGTERM);
	coro_process_free(p);
	return 0;
}

static void
test_process_wait_deadline_then_kill(void **state)
{
	struct kill_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(kill_main, &s), 0);
	assert_int_equal(s.spawn_err, 0);
	assert_int_equal(s.wait1, -ETIMEDOUT);
	assert_true(s.waited >= 90 && s.waited < 2000);
	assert_int_equal(s.kill_err, 0);
	assert_int_equal(s.wait2, 0);
	assert_true(WIFSIGNALED(s.status));
	assert_int_equal(WTERMSIG(s.status), SIGTERM);
	assert_true(s.total < 3000);
	assert_int_equal(s.kill_after, -ESRCH);
}

/* ---- two waiters ---- */

struct waiter_state {
	coro_process	*p;
	int		 err, status;
};

static int
waiter_task(void *arg)
{
	struct waiter_state *w = arg;

	w->err = coro_process_wait(w->p, &w->status, coro_deadline_in(5000));
	return 0;
}

struct two_state {
	int			spawn_err, join_err;
	struct waiter_state	w[2];
};

static int
two_main(void *arg)
{
	struct two_state *s = arg;
	static const char *const argv[] = {
		"sh", "-c", "sleep 0.2; exit 5", NULL
	};
	coro_process_opts o = { .argv = argv };
	coro_process *p;
	coro_task *t[2];
	int i;

	if ((s->spawn_err = coro_process_spawn(coro_loop_current(), &o,
	    &p)) != 0)
		return 0;
	for (i = 0; i < 2; i++) {
		s->w[i].p = p;
		s->w[i].err = -EINPROGRESS;
		if ((t[i] = coro_spawn(coro_loop_current(), waiter_task,
		    &s->w[i], NULL)) == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < 2; i++) {
		s->join_err |= coro_join(t[i], NULL, coro_deadline_in(5000));
		coro_task_unref(t[i]);
	}
	coro_process_free(p);
	return 0;
}

static void
test_process_two_waiters_both_see_exit(void **state)
{
	struct two_state s;
	int i;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(two_main, &s), 0);
	assert_int_equal(s.spawn_err, 0);
	assert_int_equal(s.join_err, 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(s.w[i].err, 0);
		assert_true(WIFEXITED(s.w[i].status));
		assert_int_equal(WEXITSTATUS(s.w[i].status), 5);
	}
}

/* ---- failures ---- */

struct fail_state {
	int	err_path, err_abs, err_args;
	int	status_path, status_abs;
	coro_process *p;
};

/* Under valgrind glibc cannot report a failed exec from posix_spawnp:
 * the child exits 127 instead.  Reaps such a child. */
static void
fail_reap(int *err, coro_process **p, int *status)
{
	if (*err != 0)
		return;
	*status = -1;
	coro_process_wait(*p, status, coro_deadline_in(5000));
	coro_process_free(*p);
	*p = NULL;
}

static int
fail_main(void *arg)
{
	struct fail_state *s = arg;
	static const char *const missing[] = {
		"coro-no-such-program-xyzzy", NULL
	};
	static const char *const missing_abs[] = {
		"/nonexistent/coro-prog", NULL
	};
	coro_process_opts o = { .argv = missing };
	coro_process_opts none = { .argv = NULL };

	s->p = (coro_process *)(uintptr_t)1;	/* reset on failure */
	s->err_path = coro_process_spawn(coro_loop_current(), &o, &s->p);
	fail_reap(&s->err_path, &s->p, &s->status_path);
	o.argv = missing_abs;
	o.stdout_mode = CORO_STDIO_PIPE;
	s->err_abs = coro_process_spawn(coro_loop_current(), &o, &s->p);
	fail_reap(&s->err_abs, &s->p, &s->status_abs);
	s->err_args = coro_process_spawn(coro_loop_current(), &none, &s->p);
	return 0;
}

static void
test_process_spawn_missing_program_fails(void **state)
{
	struct fail_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(fail_main, &s), 0);
	if (RUNNING_ON_VALGRIND && s.err_path == 0 && s.err_abs == 0) {
		assert_true(WIFEXITED(s.status_path) &&
		    WEXITSTATUS(s.status_path) == 127);
		assert_true(WIFEXITED(s.status_abs) &&
		    WEXITSTATUS(s.status_abs) == 127);
	} else {
		assert_int_equal(s.err_path, -ENOENT);
		assert_int_equal(s.err_abs, -ENOENT);
	}
	assert_int_equal(s.err_args, -EINVAL);
	assert_null(s.p);
}

/* ---- free ---- */

struct free_state {
	int	spawn_err;
	pid_t	pid;
};

static int
free_main(void *arg)
{
	struct free_state *s = arg;
	static const char *const argv[] = { "sleep", "5", NULL };
	coro_process_opts o = {
		.argv = argv, .stdout_mode = CORO_STDIO_PIPE
	};
	coro_process *p;

	if ((s->spawn_err = coro_process_spawn(coro_loop_current(), &o,
	    &p)) != 0)
		return 0;
	s->pid = coro_process_pid(p);
	coro_process_free(p);
	return 0;
}

static void
test_process_free_reaps_running_child(void **state)
{
	struct free_state s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(run_task(free_main, &s), 0);
	assert_int_equal(s.spawn_err, 0);
	assert_true(s.pid > 0);
	/* killed and reaped: the pid is no child of ours any more */
	assert_int_equal(waitpid(s.pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
test_process_wait_outside_task_fails(void **state)
{
	static const char *const argv[] = { "true", NULL };
	coro_process_opts o = { .argv = argv };
	coro_loop *loop;
	coro_process *p;

	(void)state;
	loop = coro_loop_new();
	assert_non_null(loop);
	assert_int_equal(coro_process_spawn(loop, &o, &p), 0);
	assert_int_equal(coro_process_wait(p, NULL, CORO_NEVER), -EPERM);
	coro_process_free(p);
	coro_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_cat_echoes_stdin),
		cmocka_unit_test(test_process_exit_status),
		cmocka_unit_test(test_process_stderr_pipe),
		cmocka_unit_test(test_process_stdin_null_reads_eof),
		cmocka_unit_test(test_process_env_and_cwd_honoured),
		cmocka_unit_test(test_process_wait_deadline_then_kill),
		cmocka_unit_test(test_process_two_waiters_both_see_exit),
		cmocka_unit_test(test_process_spawn_missing_program_fails),
		cmocka_unit_test(test_process_free_reaps_running_child),
		cmocka_unit_test(test_process_wait_outside_task_fails),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
