/*
 * coro-internal.h: struct bodies and helpers shared between libcoro's
 * files.  Never installed; names shared between files start with coro__.
 *
 * The core of every blocking call is the waiter: a task records what it
 * waits on in a struct coro__waiter (usually on its own stack), links it
 * into some wait list, and calls coro__wait(), which suspends it until
 * coro__wake() is called on that waiter, by whoever the event is for, by
 * the task's deadline timer (-ETIMEDOUT) or by coro_cancel()
 * (-ECANCELED).  The waiter's unlink function takes it off the wait list
 * whichever way it was woken, so no list ever points at a task that has
 * moved on.
 */
#ifndef LIBCORO_CORO_INTERNAL_H
#define LIBCORO_CORO_INTERNAL_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>

#include "coro.h"

#if defined(CORO_SWITCH_UCONTEXT)
#include <ucontext.h>
#endif

#define CORO_HIDDEN __attribute__((visibility("hidden")))

/* ---- context switch (ctx.c, switch.S) ---- */

struct coro__ctx {
#if defined(CORO_SWITCH_UCONTEXT)
	ucontext_t	uc;
#elif defined(__x86_64__)
	void		*regs[8];	/* rbx rbp r12-r15 rsp rip */
#elif defined(__aarch64__)
	void		*regs[21];	/* x19-x30, sp, d8-d15 */
#else
#error "no context switch for this architecture: configure --with-coro-switch=ucontext"
#endif
};

/* A stack and the context running on it; the loop's own stack is a fiber
 * too (with no stack of ours).  The ASan fields follow
 * sanitizer/common_interface_defs.h. */
struct coro__fiber {
	struct coro__ctx ctx;
	void		*stack_lo;	/* usable stack, above the guard */
	size_t		 stack_size;
	void		*map;		/* whole mapping, guard included */
	size_t		 map_size;
	void		*asan_fake_stack;
	unsigned	 vg_id;		/* Valgrind's id for the stack */
};

/* Prepares ctx so that switching to it calls entry(arg) on the stack. */
CORO_HIDDEN void coro__ctx_init(struct coro__ctx *ctx, void *stack_lo,
    size_t size, void (*entry)(void *), void *arg);
/* Saves the current context in from and resumes to (tells ASan).  When
 * from_ends is set the current fiber never resumes. */
CORO_HIDDEN void coro__fiber_switch(struct coro__fiber *from,
    struct coro__fiber *to, int from_ends);
/* First thing on a new fiber: completes the ASan switch. */
CORO_HIDDEN void coro__fiber_started(struct coro__fiber *self,
    struct coro__fiber *from);

/* ---- stacks (stack.c) ---- */

CORO_HIDDEN int coro__stack_get(coro_loop *loop, size_t size,
    struct coro__fiber *f);
CORO_HIDDEN void coro__stack_put(coro_loop *loop, struct coro__fiber *f);
CORO_HIDDEN void coro__stack_pool_free(coro_loop *loop);
/* Installs the per-thread alternate signal stack and, once per process,
 * the SIGSEGV handler that names a task whose stack overflowed. */
CORO_HIDDEN int coro__overflow_guard_init(void);
CORO_HIDDEN void coro__overflow_guard_fini(void);

/* ---- ready queue entries ---- */

struct coro__runnable {
	TAILQ_ENTRY(coro__runnable) link;
	void	(*run)(struct coro__runnable *);
};
TAILQ_HEAD(coro__runq, coro__runnable);

/* ---- waiting ---- */

struct coro__waiter {
	coro_task	*task;
	int		 result;
	/* takes the waiter off what it waits on; called once by coro__wake */
	void		(*unlink)(struct coro__waiter *);
	void		*data;		/* for unlink */
	TAILQ_ENTRY(coro__waiter) link;
};
TAILQ_HEAD(coro__waitq, coro__waiter);

/* Suspends the running task until coro__wake(w); returns w->result, or
 * -ETIMEDOUT / -ECANCELED; -EPERM outside a task.  w->task, w->unlink and
 * w->data are set by the caller (task is filled in). */
CORO_HIDDEN int coro__wait(struct coro__waiter *w, int64_t deadline);
/* Readies w's task with result; ignored if w is no longer waited on. */
CORO_HIDDEN void coro__wake(struct coro__waiter *w, int result);
/* Wait on / wake a plain FIFO list of waiters. */
CORO_HIDDEN int coro__waitq_wait(struct coro__waitq *q, int64_t deadline);
CORO_HIDDEN int coro__waitq_wake_one(struct coro__waitq *q, int result);
CORO_HIDDEN void coro__waitq_wake_all(struct coro__waitq *q, int result);
/* Arms a timer event ms from now (not from libevent's cached time). */
struct event;
CORO_HIDDEN int coro__timer_add(struct event *ev, int64_t ms);
/* -EPERM outside a task, -ECANCELED if cancelled and not shielded, else 0:
 * the check every blocking call makes before trying its syscall. */
CORO_HIDDEN int coro__checkpoint(void);

/* ---- futures ---- */

/* Internal synchronous observers of a future, run inside its completion
 * (await, gather, groups, executors). */
struct coro__fwatch {
	TAILQ_ENTRY(coro__fwatch) link;
	void	(*notify)(struct coro__fwatch *, coro_future *);
	void	*data;
};
TAILQ_HEAD(coro__fwatchq, coro__fwatch);

struct coro__donecb;

struct coro_future {
	coro_loop		*loop;
	int			 refs;
	enum coro_future_state	 state;
	int			 err;
	void			*value;
	coro_task		*task;		/* set when this is a task */
	struct coro__fwatchq	 watchers;
	struct coro__donecb	*callbacks;	/* user callbacks, in order */
	struct coro__donecb	**callbacks_tail;
};

CORO_HIDDEN void coro__future_init(struct coro_future *f, coro_loop *loop);
/* Completes f: state, value and err; notifies watchers, queues callbacks.
 * Returns -EINVAL if f was already complete. */
CORO_HIDDEN int coro__future_complete(coro_future *f,
    enum coro_future_state state, void *value, int err);
CORO_HIDDEN void coro__fwatch_add(coro_future *f, struct coro__fwatch *w);
CORO_HIDDEN void coro__fwatch_del(coro_future *f, struct coro__fwatch *w);

/* ---- tasks ---- */

enum coro__task_state {
	CORO_TASK_NEW, CORO_TASK_READY, CORO_TASK_RUNNING, CORO_TASK_WAITING,
	CORO_TASK_ENDED
};

struct coro__defer {
	coro_cb	 fn;
	void	*arg;
};

struct coro_task {
	struct coro_future	 fut;		/* a task is a future */
	coro_loop		*loop;
	coro_fn			 fn;
	void			*arg;
	struct coro__fiber	 fiber;
	struct coro__runnable	 run;
	enum coro__task_state	 state;
	bool			 cancel_requested;
	int			 shield;
	struct coro__waiter	*waiter;	/* what it waits on, if any */
	struct event		*timer;		/* deadline of the wait */
	bool			 timer_armed;	/* added for the current wait */
	void			*result;
	struct coro__defer	*defers;
	size_t			 ndefers, capdefers;
	coro_group		*group;
	TAILQ_ENTRY(coro_task)	 glink;		/* in its group */
	LIST_ENTRY(coro_task)	 live;		/* in loop->live */
	char			 name[32];
};

/* Frees a task whose last reference went (future.c calls it). */
CORO_HIDDEN void coro__task_free(coro_task *t);

/* ---- the loop ---- */

struct coro__xcall;
struct coro__signal;

struct coro_loop {
	struct event_base	*base;
	struct coro__runq	 ready;
	bool			 stop;		/* run() returns after batch */
	bool			 running;
	int			 stop_signal;
	bool			 stop_on_signals;
	bool			 shutting_down;	/* cancelling after a signal */
	struct coro__fiber	 fiber;		/* the loop's own stack */
	coro_task		*current;
	LIST_HEAD(, coro_task)	 live;
	size_t			 ntasks;
	/* stack pool: free guarded stacks of the default size */
	struct coro__fiber	*pool;
	size_t			 npool, cappool;
	/* calls from other threads */
	pthread_mutex_t		 xlock;
	struct coro__xcall	*xhead, **xtail;
	struct event		*xevent;	/* xfd readable */
	int			 xfd;		/* eventfd other threads write */
	struct coro__signal	*signals;
	coro_executor		*executor;	/* default, made on demand */
	pthread_t		 thread;
};

/* initial-exec: a %fs-relative load instead of a __tls_get_addr call
 * (libcoro is linked at start-up, not dlopen()ed) */
CORO_HIDDEN extern _Thread_local coro_loop *coro__tls_loop
    __attribute__((tls_model("initial-exec")));
/* Queues r at the tail of the ready queue. */
CORO_HIDDEN void coro__ready(coro_loop *loop, struct coro__runnable *r);
/* Runs the loop until done(arg) is true (or forever when done is NULL and
 * until coro_loop_stop). */
CORO_HIDDEN void coro__loop_run_while(coro_loop *loop,
    bool (*done)(void *), void *arg);

/* the loop's count of live tasks dropped (task.c calls it) */
CORO_HIDDEN void coro__loop_task_ended(coro_loop *loop);
/* groups: a member task ended (task.c calls it) */
CORO_HIDDEN void coro__group_task_ended(coro_group *g, coro_task *t);
/* executors: free the default executor (loop.c calls it) */
CORO_HIDDEN void coro__executor_shutdown(coro_executor *ex);

#endif /* LIBCORO_CORO_INTERNAL_H */
