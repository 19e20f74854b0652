/*
 * process.c: child processes (create_subprocess_exec).
 *
 * A child is started with posix_spawnp(); each piped stdio becomes a
 * coro_stream on the parent's end of a pipe, /dev/null is opened by the
 * spawn's file actions.  The child gets default signal dispositions and an
 * empty signal mask, whatever the parent ignores or blocks.
 *
 * Waiting for the exit avoids SIGCHLD (a process-wide resource that the
 * application or another library may own): a pidfd becomes readable when
 * the child exits and is polled like any fd, then waitpid(WNOHANG) reaps.
 * Kernels without pidfd_open (before 5.3) fall back to polling waitpid
 * with a backoff of 1, 2, 4 .. 50 ms.  The pid stays ours until we reap
 * it, so kill() never hits a recycled pid.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro-internal.h"

#define PROCESS_POLL_MIN_MS	1
#define PROCESS_POLL_MAX_MS	50

extern char **environ;

struct coro_process {
	coro_loop	*loop;
	pid_t		 pid;
	int		 pidfd;		/* -1 when unsupported */
	bool		 reaped;
	int		 status;	/* from waitpid, once reaped */
	coro_stream	*in, *out, *err;
};

/* posix_spawnp() takes char *const[] for historical reasons only: it
 * never writes through them. */
static char *const *
process_strv(const char *const *v)
{
	union {
		const char *const	*c;
		char *const		*m;
	} u = { .c = v };

	return u.m;
}

static int
process_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd;

	/* the kernel sets close-on-exec on pidfds */
	if ((fd = syscall(SYS_pidfd_open, pid, 0)) >= 0)
		return (int)fd;
#endif
	return -1;
}

/* Moves fd above 2, so that dup2 onto the child's 0..2 in the file
 * actions always duplicates (and so clears close-on-exec). */
static int
process_fd_high(int fd)
{
	int nfd, saved;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	saved = errno;
	close(fd);
	errno = saved;
	return nfd;
}

/* One stdio slot: fds[0] the child's end, fds[1] the parent's, -1 if
 * none. */
static int
process_stdio_prepare(enum coro_stdio mode, int childfd,
    posix_spawn_file_actions_t *fa, int fds[2])
{
	int p[2], err;

	fds[0] = fds[1] = -1;
	switch (mode) {
	case CORO_STDIO_INHERIT:
		return 0;
	case CORO_STDIO_NULL:
		return -posix_spawn_file_actions_addopen(fa, childfd,
		    "/dev/null", childfd == 0 ? O_RDONLY : O_WRONLY, 0);
	case CORO_STDIO_PIPE:
		break;
	default:
		return -EINVAL;
	}
	if (pipe2(p, O_CLOEXEC) == -1)
		return -errno;
	p[0] = process_fd_high(p[0]);
	p[1] = process_fd_high(p[1]);
	if (p[0] == -1 || p[1] == -1) {
		err = -errno;
		if (p[0] != -1)
			close(p[0]);
		if (p[1] != -1)
			close(p[1]);
		return err;
	}
	/* stdin: the child reads p[0]; stdout/stderr: it writes p[1] */
	fds[0] = childfd == 0 ? p[0] : p[1];
	fds[1] = childfd == 0 ? p[1] : p[0];
	if ((err = posix_spawn_file_actions_adddup2(fa, fds[0],
	    childfd)) != 0) {
		close(p[0]);
		close(p[1]);
		fds[0] = fds[1] = -1;
		return -err;
	}
	return 0;
}

static int
process_stream(coro_loop *loop, int *fd, coro_stream **out)
{
	int fl;

	if (*fd == -1)
		return 0;
	if ((fl = fcntl(*fd, F_GETFL)) == -1 ||
	    fcntl(*fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -errno;
	if ((*out = coro_stream_from_fd(loop, *fd)) == NULL)
		return errno != 0 ? -errno : -ENOMEM;
	*fd = -1;			/* the stream owns it now */
	return 0;
}

int
coro_process_spawn(coro_loop *loop, const coro_process_opts *o,
    coro_process **out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t set;
	coro_process *p;
	int fds[3][2], i, err;
	char *const *envp;

	*out = NULL;
	if (o == NULL || o->argv == NULL || o->argv[0] == NULL)
		return -EINVAL;
	if (loop == NULL && (loop = coro_loop_current()) == NULL)
		return -EINVAL;
	for (i = 0; i < 3; i++)
		fds[i][0] = fds[i][1] = -1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->pidfd = -1;
	if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
		free(p);
		return -err;
	}
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		free(p);
		return -err;
	}

	/* the child must not inherit our ignored or blocked signals:
	 * SIGPIPE ignored would break every pipeline it writes to */
	sigemptyset(&set);
	if ((err = posix_spawnattr_setsigmask(&attr, &set)) != 0)
		goto fail;
	sigfillset(&set);
	if ((err = posix_spawnattr_setsigdefault(&attr, &set)) != 0)
		goto fail;
	if ((err = posix_spawnattr_setflags(&attr,
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
		goto fail;

	if ((err = -process_stdio_prepare(o->stdin_mode, 0, &fa,
	    fds[0])) != 0 ||
	    (err = -process_stdio_prepare(o->stdout_mode, 1, &fa,
	    fds[1])) != 0 ||
	    (err = -process_stdio_prepare(o->stderr_mode, 2, &fa,
	    fds[2])) != 0)
		goto fail;
	/* file actions run in the child before the exec: an argv[0] with a
	 * slash is taken relative to cwd */
	if (o->cwd != NULL) {
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
		if ((err = posix_spawn_file_actions_addchdir_np(&fa,
		    o->cwd)) != 0)
			goto fail;
#else
		err = ENOTSUP;		/* glibc before 2.29 */
		goto fail;
#endif
	}

	envp = o->envp != NULL ? process_strv(o->envp) : environ;
	/* glibc reports a failed exec (ENOENT, EACCES) here and reaps the
	 * child itself */
	if ((err = posix_spawnp(&p->pid, o->argv[0], &fa, &attr,
	    process_strv(o->argv), envp)) != 0)
		goto fail;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);

	p->pidfd = process_pidfd_open(p->pid);
	/* the child's ends are the child's now */
	for (i = 0; i < 3; i++) {
		if (fds[i][0] != -1)
			close(fds[i][0]);
		fds[i][0] = -1;
	}
	if ((err = -process_stream(loop, &fds[0][1], &p->in)) != 0 ||
	    (err = -process_stream(loop, &fds[1][1], &p->out)) != 0 ||
	    (err = -process_stream(loop, &fds[2][1], &p->err)) != 0) {
		for (i = 0; i < 3; i++)
			if (fds[i][1] != -1)
				close(fds[i][1]);
		/* the child is running: kill and reap it */
		coro_process_free(p);
		return -err;
	}
	*out = p;
	return 0;

 fail:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (i = 0; i < 3; i++) {
		if (fds[i][0] != -1)
			close(fds[i][0]);
		if (fds[i][1] != -1)
			close(fds[i][1]);
	}
	free(p);
	return -err;
}

pid_t
coro_process_pid(const coro_process *p)
{
	return p->pid;
}

coro_stream *
coro_process_stdin(coro_process *p)
{
	return p->in;
}

coro_stream *
coro_process_stdout(coro_process *p)
{
	return p->out;
}

coro_stream *
coro_process_stderr(coro_process *p)
{
	return p->err;
}

void
coro_process_close_stdin(coro_process *p)
{
	if (p->in != NULL) {
		coro_stream_close(p->in);
		p->in = NULL;
	}
}

/* Reaps the child if it has exited: 1 when reaped, 0 when still running,
 * or a negative errno. */
static int
process_try_reap(coro_process *p, int flags)
{
	pid_t r;
	int st;

	if (p->reaped)
		return 1;
	do
		r = waitpid(p->pid, &st, flags);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -errno;	/* ECHILD: someone else reaped it */
	if (r == 0)
		return 0;
	p->reaped = true;
	p->status = st;
	/* the pidfd stays open until free: another task may be polling it
	 * (it stays readable after the reap) */
	return 1;
}

int
coro_process_wait(coro_process *p, int *status, int64_t deadline)
{
	int64_t delay = PROCESS_POLL_MIN_MS, until;
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	while ((err = process_try_reap(p, WNOHANG)) == 0) {
		if (p->pidfd != -1) {
			/* readable once the child has exited */
			err = coro_wait_fd(p->pidfd, CORO_READ, deadline);
			if (err < 0)
				return err;
			continue;
		}
		if (deadline != CORO_NEVER && coro_now() >= deadline)
			return -ETIMEDOUT;
		until = coro_now() + delay;
		if (deadline != CORO_NEVER && until > deadline)
			until = deadline;
		if ((err = coro_sleep_until(until)) != 0)
			return err;
		delay *= 2;
		if (delay > PROCESS_POLL_MAX_MS)
			delay = PROCESS_POLL_MAX_MS;
	}
	if (err < 0)
		return err;
	if (status != NULL)
		*status = p->status;
	return 0;
}

int
coro_process_kill(coro_process *p, int signo)
{
	if (p->reaped)
		return -ESRCH;
	if (kill(p->pid, signo) == -1)
		return -errno;
	return 0;
}

void
coro_process_free(coro_process *p)
{
	if (p == NULL)
		return;
	coro_process_close_stdin(p);
	if (p->out != NULL)
		coro_stream_close(p->out);
	if (p->err != NULL)
		coro_stream_close(p->err);
	if (!p->reaped && process_try_reap(p, WNOHANG) == 0) {
		/* SIGKILL cannot be caught: the blocking reap is short */
		kill(p->pid, SIGKILL);
		process_try_reap(p, 0);
	}
	if (p->pidfd != -1)
		close(p->pidfd);
	free(p);
}
