/*
 * stack.c: task stacks and the stack-overflow guard.
 *
 * Each stack is an mmap'd region with one PROT_NONE guard page below the
 * usable part, so an overflow faults instead of silently writing into a
 * neighbour.  Creating one costs ~10 us of system calls here, so each loop
 * keeps a pool of free default-size stacks and creation costs ~10 ns.
 *
 * A SIGSEGV handler running on a per-thread alternate stack recognises a
 * fault in the running task's guard page and writes "stack overflow in
 * task 'NAME'" before letting the fault kill the process (core dump and
 * all).  Faults elsewhere go to whichever handler was there before.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro-internal.h"

#if defined(HAVE_VALGRIND_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif
#if defined(CORO_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#define POOL_MAX	256

static size_t
page_size(void)
{
	static size_t ps;

	if (ps == 0)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static int
stack_map(size_t size, struct coro__fiber *f)
{
	size_t ps = page_size();
	size_t usable = (size + ps - 1) & ~(ps - 1);
	void *map;

	map = mmap(NULL, usable + ps, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	if (mprotect(map, ps, PROT_NONE) == -1) {
		int err = -errno;

		munmap(map, usable + ps);
		return err;
	}
	f->map = map;
	f->map_size = usable + ps;
	f->stack_lo = (char *)map + ps;
	f->stack_size = usable;
#if defined(HAVE_VALGRIND_VALGRIND_H)
	f->vg_id = VALGRIND_STACK_REGISTER(f->stack_lo,
	    (char *)f->stack_lo + usable);
#endif
	return 0;
}

static void
stack_unmap(struct coro__fiber *f)
{
#if defined(CORO_ASAN)
	ASAN_UNPOISON_MEMORY_REGION(f->stack_lo, f->stack_size);
#endif
#if defined(HAVE_VALGRIND_VALGRIND_H)
	VALGRIND_STACK_DEREGISTER(f->vg_id);
#endif
	munmap(f->map, f->map_size);
	f->map = NULL;
}

static size_t
default_size(void)
{
#if defined(CORO_ASAN)
	/* ASan's redzones and fake frames roughly double stack use */
	return 2 * CORO_STACK_DEFAULT;
#else
	return CORO_STACK_DEFAULT;
#endif
}

int
coro__stack_get(coro_loop *loop, size_t size, struct coro__fiber *f)
{
	if (size == 0)
		size = default_size();
	if (size < CORO_STACK_MIN)
		size = CORO_STACK_MIN;
	if (size == default_size() && loop->npool > 0) {
		struct coro__fiber *p = &loop->pool[--loop->npool];

		f->map = p->map;
		f->map_size = p->map_size;
		f->stack_lo = p->stack_lo;
		f->stack_size = p->stack_size;
		f->vg_id = p->vg_id;
		return 0;
	}
	return stack_map(size, f);
}

void
coro__stack_put(coro_loop *loop, struct coro__fiber *f)
{
	if (f->map == NULL)
		return;
#if defined(CORO_ASAN)
	/* a task that ended mid-call leaves poisoned redzones behind */
	ASAN_UNPOISON_MEMORY_REGION(f->stack_lo, f->stack_size);
#endif
	if (f->stack_size == default_size() && loop->npool < POOL_MAX) {
		if (loop->npool == loop->cappool) {
			size_t cap = loop->cappool ? loop->cappool * 2 : 16;
			struct coro__fiber *p;

			p = realloc(loop->pool, cap * sizeof(*p));
			if (p == NULL) {
				stack_unmap(f);
				return;
			}
			loop->pool = p;
			loop->cappool = cap;
		}
		loop->pool[loop->npool++] = *f;
		f->map = NULL;
		return;
	}
	stack_unmap(f);
}

void
coro__stack_pool_free(coro_loop *loop)
{
	while (loop->npool > 0)
		stack_unmap(&loop->pool[--loop->npool]);
	free(loop->pool);
	loop->pool = NULL;
	loop->cappool = 0;
}

/* ---- overflow guard ---- */

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static _Thread_local void *altstack;

static void
write_str(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));

	(void)r;
}

static void
overflow_handler(int signo, siginfo_t *si, void *uctx)
{
	coro_loop *loop = coro__tls_loop;
	coro_task *t = loop != NULL ? loop->current : NULL;
	char *addr = si->si_addr;

	if (t != NULL && t->fiber.map != NULL && addr >= (char *)t->fiber.map &&
	    addr < (char *)t->fiber.stack_lo) {
		write_str("libcoro: stack overflow in task '");
		write_str(t->name[0] ? t->name : "(unnamed)");
		write_str("'\n");
		signal(SIGSEGV, SIG_DFL);
		return;		/* the fault repeats, now fatal */
	}
	/* not ours: hand it to whoever was there before */
	if (previous_segv.sa_flags & SA_SIGINFO) {
		if (previous_segv.sa_sigaction != NULL) {
			previous_segv.sa_sigaction(signo, si, uctx);
			return;
		}
	} else if (previous_segv.sa_handler != SIG_DFL &&
	    previous_segv.sa_handler != SIG_IGN) {
		previous_segv.sa_handler(signo);
		return;
	}
	signal(SIGSEGV, SIG_DFL);
	/* a fault repeats when we return; a SIGSEGV sent with kill(2) does
	 * not, so send it again */
	if (si->si_code <= 0)
		raise(SIGSEGV);
}

static void
install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = overflow_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &previous_segv);
}

int
coro__overflow_guard_init(void)
{
	stack_t ss, old;
	size_t size = 64 * 1024;

	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		goto handler;	/* the thread already has one: keep it */
	altstack = malloc(size);
	if (altstack == NULL)
		return -ENOMEM;
	ss.ss_sp = altstack;
	ss.ss_size = size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) == -1) {
		int err = -errno;

		free(altstack);
		altstack = NULL;
		return err;
	}
 handler:
	pthread_once(&handler_once, install_handler);
	return 0;
}

void
coro__overflow_guard_fini(void)
{
	stack_t ss;

	if (altstack == NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	free(altstack);
	altstack = NULL;
}
