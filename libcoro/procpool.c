/*
 * procpool.c: a pool of forked worker processes for CPU-bound jobs
 * (ProcessPoolExecutor).
 *
 * C cannot send a closure to another process, so the jobs are a table of
 * named functions known before the fork; a request names a job by its
 * index in that table and carries bytes, a reply carries a status and
 * bytes.  Each worker talks over its own socketpair, one request at a
 * time; idle workers wait in a coro_queue, so run() is "take a worker,
 * send, receive, give it back".  A worker whose job is abandoned mid-way
 * (deadline, cancellation) or that dies is killed, reaped and replaced,
 * so the pool keeps its size and a late reply can never be read as the
 * answer to the next request.
 *
 * Frames, in host byte order (both ends are the same binary):
 *   request  u32 job index, u32 length, payload
 *   reply    i32 status,    u32 length, payload (empty unless status 0)
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "coro-internal.h"

#define PROCPOOL_MAX_PAYLOAD	(64u * 1024 * 1024)
#define PROCPOOL_MAX_PROCS	256
/* the job runs on this in the child, not on the forking task's stack */
#define PROCPOOL_CHILD_STACK	(8u * 1024 * 1024)
/* how long free() lets a worker exit on EOF before SIGKILL */
#define PROCPOOL_EXIT_GRACE_MS	1000

struct procpool_worker {
	pid_t		 pid;		/* -1 when the slot is empty */
	coro_stream	*s;		/* our end of the socketpair */
};

struct procpool_job {
	char		*name;
	coro_job_fn	 fn;
};

struct coro_procpool {
	coro_loop		*loop;
	struct procpool_job	*jobs;		/* names copied */
	size_t			 njobs;
	struct procpool_worker	*workers;
	unsigned		 nprocs;
	coro_queue		*idle;		/* procpool_worker pointers */
	pid_t			*zombies;	/* killed, not yet reaped */
	size_t			 nzombies;	/* at most nprocs */
};

/* ---- the child ---- */

/* Set before switching to the child's own stack; a child has one thread. */
static struct {
	const struct procpool_job *jobs;
	size_t		 njobs;
	int		 fd;
} procpool_child;

/* Reads exactly len bytes: 1, 0 at end of file before any byte, -1. */
static int
procpool_child_read(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, p + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 && done == 0 ? 0 : -1;
		done += (size_t)n;
	}
	return 1;
}

static int
procpool_child_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The worker's loop; never returns.  Exits 0 when the parent closes its
 * end, 1 on a broken or malformed stream. */
static void
procpool_child_main(void)
{
	const struct procpool_job *jobs = procpool_child.jobs;
	size_t njobs = procpool_child.njobs;
	int fd = procpool_child.fd, r;
	uint32_t req[2], idx, len;
	uint32_t rep[2];
	int32_t status;
	void *in, *out;
	size_t outlen;

	for (;;) {
		if ((r = procpool_child_read(fd, req, sizeof(req))) <= 0)
			_exit(r == 0 ? 0 : 1);
		idx = req[0];
		len = req[1];
		if (len > PROCPOOL_MAX_PAYLOAD)
			_exit(1);
		if ((in = malloc(len ? len : 1)) == NULL)
			_exit(1);
		if (len > 0 && procpool_child_read(fd, in, len) <= 0)
			_exit(1);
		out = NULL;
		outlen = 0;
		if (idx >= njobs)
			status = -ENOENT;
		else
			status = jobs[idx].fn(in, len, &out, &outlen);
		free(in);
		if (status > 0)
			status = -EINVAL;	/* not a negative errno */
		if (status == 0 && outlen > PROCPOOL_MAX_PAYLOAD)
			status = -EMSGSIZE;
		if (status == 0 && outlen > 0 && out == NULL)
			status = -EINVAL;
		if (status != 0)
			outlen = 0;
		rep[0] = (uint32_t)status;
		rep[1] = (uint32_t)outlen;
		if (procpool_child_write(fd, rep, sizeof(rep)) == -1 ||
		    procpool_child_write(fd, out, outlen) == -1)
			_exit(1);
		free(out);
	}
}

static void
procpool_close_from(int lowfd)
{
	long max;
	int fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
		return;
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) < 0 || max > 65536)
		max = 65536;
	for (fd = lowfd; fd < max; fd++)
		close(fd);
}

/*
 * Right after fork.  The child keeps stdin/stdout/stderr and its socket
 * only: every other inherited fd (the loop's epoll fd, other workers'
 * sockets, the application's connections) would otherwise stay open in
 * it, and a peer would never see those connections close.  Then it
 * leaves the forking task's small stack for a fresh one.
 */
static void
procpool_child_start(const struct procpool_job *jobs, size_t njobs, int fd)
{
	struct sigaction sa;
	sigset_t none;
	ucontext_t uc;
	void *stack;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* some refuse: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* output the parent had buffered is the parent's to write */
	__fpurge(stdout);
	__fpurge(stderr);

	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			_exit(1);
		fd = 3;
	}
	procpool_close_from(4);
	procpool_child.jobs = jobs;
	procpool_child.njobs = njobs;
	procpool_child.fd = fd;

	stack = mmap(NULL, PROCPOOL_CHILD_STACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED || getcontext(&uc) == -1)
		procpool_child_main();
	uc.uc_stack.ss_sp = stack;
	uc.uc_stack.ss_size = PROCPOOL_CHILD_STACK;
	uc.uc_link = NULL;
	makecontext(&uc, procpool_child_main, 0);
	setcontext(&uc);
	_exit(1);
}

/* ---- the parent ---- */

static void
procpool_reap_zombies(coro_procpool *pp, int flags)
{
	size_t i = 0;
	pid_t r;

	while (i < pp->nzombies) {
		do
			r = waitpid(pp->zombies[i], NULL, flags);
		while (r == -1 && errno == EINTR);
		if (r == 0) {
			i++;
			continue;
		}
		/* reaped, or not ours any more (ECHILD) */
		pp->zombies[i] = pp->zombies[--pp->nzombies];
	}
}

/* Forks the worker of slot w; 0 or a negative errno. */
static int
procpool_fork(coro_procpool *pp, struct procpool_worker *w)
{
	int sv[2], fl, err;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -errno;
	if ((pid = fork()) == -1) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		close(sv[0]);
		procpool_child_start(pp->jobs, pp->njobs, sv[1]);
		_exit(1);
	}
	close(sv[1]);
	/* only our end is non-blocking: it is a separate open file */
	if ((fl = fcntl(sv[0], F_GETFL)) == -1 ||
	    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (w->s = coro_stream_from_fd(pp->loop, sv[0])) == NULL) {
		err = errno != 0 ? -errno : -ENOMEM;
		close(sv[0]);	/* the child sees EOF and exits */
		waitpid(pid, NULL, 0);
		return err;
	}
	w->pid = pid;
	return 0;
}

/* Kills the worker of slot w (its state is unknown, e.g. mid-job); reaps
 * it if it is already gone, else leaves it for later reaping. */
static void
procpool_kill(coro_procpool *pp, struct procpool_worker *w)
{
	pid_t r;

	if (w->s != NULL) {
		coro_stream_close(w->s);
		w->s = NULL;
	}
	if (w->pid == -1)
		return;
	kill(w->pid, SIGKILL);
	do
		r = waitpid(w->pid, NULL, WNOHANG);
	while (r == -1 && errno == EINTR);
	/* dying takes a moment (a core dump may be written): do not block
	 * the loop on it */
	if (r == 0 && pp->nzombies < pp->nprocs)
		pp->zombies[pp->nzombies++] = w->pid;
	else if (r == 0)
		waitpid(w->pid, NULL, 0);	/* rare: many dying at once */
	w->pid = -1;
}

/* Refills empty slots (the pool keeps its size); a slot whose fork fails
 * stays empty and is retried by the next run().  0 while at least one
 * worker lives, else the fork error. */
static int
procpool_refill(coro_procpool *pp)
{
	unsigned i, alive = 0;
	int err = 0, e;

	procpool_reap_zombies(pp, WNOHANG);
	for (i = 0; i < pp->nprocs; i++) {
		if (pp->workers[i].pid == -1) {
			if ((e = procpool_fork(pp, &pp->workers[i])) != 0) {
				err = e;
				continue;
			}
			/* capacity is nprocs: never full */
			coro_queue_try_put(pp->idle, &pp->workers[i]);
		}
		alive++;
	}
	return alive > 0 ? 0 : err;
}

static unsigned
procpool_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	if (n > PROCPOOL_MAX_PROCS)
		return PROCPOOL_MAX_PROCS;
	return (unsigned)n;
}

coro_procpool *
coro_procpool_new(coro_loop *loop, unsigned nprocs, const coro_job *jobs,
    size_t njobs)
{
	coro_procpool *pp;
	size_t i;
	int err;

	if ((loop == NULL && (loop = coro_loop_current()) == NULL) ||
	    (jobs == NULL && njobs > 0) || njobs > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < njobs; i++) {
		if (jobs[i].name == NULL || jobs[i].fn == NULL) {
			errno = EINVAL;
			return NULL;
		}
	}
	if (nprocs == 0)
		nprocs = procpool_ncpus();
	if (nprocs > PROCPOOL_MAX_PROCS)
		nprocs = PROCPOOL_MAX_PROCS;
	if ((pp = calloc(1, sizeof(*pp))) == NULL)
		return NULL;
	pp->loop = loop;
	pp->nprocs = nprocs;
	pp->njobs = njobs;
	if ((pp->jobs = calloc(njobs ? njobs : 1, sizeof(*pp->jobs))) == NULL ||
	    (pp->workers = calloc(nprocs, sizeof(*pp->workers))) == NULL ||
	    (pp->zombies = calloc(nprocs, sizeof(*pp->zombies))) == NULL ||
	    (pp->idle = coro_queue_new(loop, nprocs)) == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < nprocs; i++)
		pp->workers[i].pid = -1;
	for (i = 0; i < njobs; i++) {
		pp->jobs[i].fn = jobs[i].fn;
		if ((pp->jobs[i].name = strdup(jobs[i].name)) == NULL) {
			err = -ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < nprocs; i++) {
		if ((err = procpool_fork(pp, &pp->workers[i])) != 0)
			goto fail;
		coro_queue_try_put(pp->idle, &pp->workers[i]);
	}
	return pp;
 fail:
	coro_procpool_free(pp);
	errno = -err;
	return NULL;
}

static int
procpool_find(const coro_procpool *pp, const char *name, uint32_t *idx)
{
	size_t i;

	for (i = 0; i < pp->njobs; i++) {
		if (strcmp(pp->jobs[i].name, name) == 0) {
			*idx = (uint32_t)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* A stream error on a worker's socket: our own deadline or cancellation
 * as such, anything else means the worker is gone. */
static int
procpool_io_error(ssize_t r)
{
	if (r == -ETIMEDOUT || r == -ECANCELED)
		return (int)r;
	return -ECHILD;
}

/* One request/reply exchange on w; 0, the job's status, or an error
 * after which w is unusable. */
static int
procpool_exchange(struct procpool_worker *w, uint32_t idx, const void *in,
    size_t inlen, void **out, size_t *outlen, int64_t deadline, bool *broken)
{
	uint32_t req[2], rep[2];
	void *buf;
	ssize_t r;
	int err;

	*broken = true;
	req[0] = idx;
	req[1] = (uint32_t)inlen;
	if ((err = coro_stream_write(w->s, req, sizeof(req))) != 0)
		return err;
	if ((err = coro_stream_write_all(w->s, in, inlen, deadline)) != 0)
		return procpool_io_error(err);
	if ((r = coro_stream_read_exact(w->s, rep, sizeof(rep),
	    deadline)) != (ssize_t)sizeof(rep))
		return procpool_io_error(r < 0 ? r : -EPIPE);
	if ((int32_t)rep[0] > 0 || rep[1] > PROCPOOL_MAX_PAYLOAD ||
	    ((int32_t)rep[0] != 0 && rep[1] != 0))
		return -EPROTO;
	if ((int32_t)rep[0] != 0) {
		*broken = false;
		return (int32_t)rep[0];
	}
	/* malloc(0) may return NULL: keep a non-NULL result for callers
	 * that test *out */
	if ((buf = malloc(rep[1] ? rep[1] : 1)) == NULL)
		return -ENOMEM;
	if (rep[1] > 0 && (r = coro_stream_read_exact(w->s, buf, rep[1],
	    deadline)) != (ssize_t)rep[1]) {
		free(buf);
		return procpool_io_error(r < 0 ? r : -EPIPE);
	}
	*broken = false;
	*out = buf;
	*outlen = rep[1];
	return 0;
}

int
coro_procpool_run(coro_procpool *pp, const char *name, const void *in,
    size_t inlen, void **out, size_t *outlen, int64_t deadline)
{
	struct procpool_worker *w;
	void *item, *res = NULL;
	size_t reslen = 0;
	uint32_t idx;
	bool broken;
	int err;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if ((err = coro__checkpoint()) != 0)
		return err;
	if (name == NULL || (in == NULL && inlen > 0))
		return -EINVAL;
	if ((err = procpool_find(pp, name, &idx)) != 0)
		return err;
	if (inlen > PROCPOOL_MAX_PAYLOAD)
		return -EMSGSIZE;
	if ((err = procpool_refill(pp)) != 0)
		return err;
	if ((err = coro_queue_get(pp->idle, &item, deadline)) != 0)
		return err;
	w = item;
	err = procpool_exchange(w, idx, in, inlen, &res, &reslen, deadline,
	    &broken);
	if (broken) {
		procpool_kill(pp, w);
		procpool_refill(pp);
	} else {
		coro_queue_try_put(pp->idle, w);
	}
	if (err != 0)
		return err;
	if (out != NULL)
		*out = res;
	else
		free(res);
	if (outlen != NULL)
		*outlen = reslen;
	return 0;
}

void
coro_procpool_free(coro_procpool *pp)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int64_t until;
	unsigned i;
	size_t j;
	pid_t r;

	if (pp == NULL)
		return;
	/* EOF tells an idle worker to exit */
	for (i = 0; pp->workers != NULL && i < pp->nprocs; i++) {
		if (pp->workers[i].s != NULL) {
			coro_stream_close(pp->workers[i].s);
			pp->workers[i].s = NULL;
		}
	}
	until = coro_now() + PROCPOOL_EXIT_GRACE_MS;
	for (i = 0; pp->workers != NULL && i < pp->nprocs; i++) {
		if (pp->workers[i].pid == -1)
			continue;
		for (;;) {
			r = waitpid(pp->workers[i].pid, NULL, WNOHANG);
			if (r != 0 && !(r == -1 && errno == EINTR))
				break;
			if (r == 0 && coro_now() >= until) {
				/* stuck in a job: no more waiting */
				kill(pp->workers[i].pid, SIGKILL);
				waitpid(pp->workers[i].pid, NULL, 0);
				break;
			}
			nanosleep(&ts, NULL);
		}
	}
	if (pp->zombies != NULL)
		procpool_reap_zombies(pp, 0);
	if (pp->idle != NULL)
		coro_queue_free(pp->idle);
	for (j = 0; pp->jobs != NULL && j < pp->njobs; j++)
		free(pp->jobs[j].name);
	free(pp->jobs);
	free(pp->workers);
	free(pp->zombies);
	free(pp);
}
