/*
 * coro.h: the one public header of libcoro, a coroutine/task core on
 * libevent 2.1 (the asyncio model in C).
 *
 * A loop (one per thread) owns a libevent event_base and schedules tasks:
 * C functions running on their own stacks, so any function they call may
 * suspend.  Every blocking call takes an absolute deadline in milliseconds
 * of CORO_CLOCK (coro_now()), or CORO_NEVER, and suspends only the calling
 * task.  Every blocking call is also a cancellation point.
 *
 * Errors are returned as 0 (or a count) on success and a negative errno
 * value on failure (-ETIMEDOUT, -ECANCELED, ...); libcoro never touches
 * the global errno on purpose and never prints.
 *
 * "May suspend" in a comment below means the call can only be made from a
 * task; called on the loop's own stack it returns -EPERM.
 *
 * All types are opaque; see libcoro(3) for the full contract.
 */
#ifndef LIBCORO_CORO_H
#define LIBCORO_CORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CORO_API __attribute__((visibility("default")))
#else
#define CORO_API
#endif

struct event_base;
struct evbuffer;
struct ssl_ctx_st;
struct ssl_st;

typedef struct coro_loop coro_loop;
typedef struct coro_task coro_task;
typedef struct coro_future coro_future;
typedef struct coro_group coro_group;
typedef struct coro_timer coro_timer;
typedef struct coro_queue coro_queue;
typedef struct coro_stream coro_stream;
typedef struct coro_listener coro_listener;
typedef struct coro_udp coro_udp;
typedef struct coro_process coro_process;
typedef struct coro_executor coro_executor;
typedef struct coro_procpool coro_procpool;

/* A task body: returns 0 on success or a negative errno value. */
typedef int (*coro_fn)(void *arg);
/* A plain callback run on the loop's stack; it must not suspend. */
typedef void (*coro_cb)(void *arg);

/* ---- time ------------------------------------------------------------ */

#define CORO_NEVER ((int64_t)-1)

/* Monotonic clock in milliseconds; deadlines are absolute values of it. */
CORO_API int64_t coro_now(void);
/* coro_now() + ms, or CORO_NEVER when ms < 0. */
CORO_API int64_t coro_deadline_in(int64_t ms);

/* ---- the loop ---------------------------------------------------------- */

/* Creates the calling thread's loop (one per thread: -EBUSY semantics are
 * reported as NULL with errno EBUSY if the thread already has one). */
CORO_API coro_loop *coro_loop_new(void);
/* Cancels every live task, runs the loop until they have all ended (their
 * deferred cleanups run), then frees stacks, executors and the base. */
CORO_API void coro_loop_free(coro_loop *loop);
/* The calling thread's loop, or NULL. */
CORO_API coro_loop *coro_loop_current(void);
CORO_API struct event_base *coro_loop_base(coro_loop *loop);

/* Runs until coro_loop_stop() (run_forever).  Returns 0. */
CORO_API int coro_loop_run(coro_loop *loop);
/* Runs until the task has ended; returns its status (0, -ECANCELED, or
 * the error it returned) and stores its result in *value if not NULL. */
CORO_API int coro_loop_run_until_complete(coro_loop *loop, coro_task *task,
    void **value);
/* Makes coro_loop_run() return after the current batch.  Safe to call
 * from a signal callback, a task or a callback; not from other threads
 * (use coro_call_soon_threadsafe(loop, coro_loop_stop_cb, loop)). */
CORO_API void coro_loop_stop(coro_loop *loop);
CORO_API void coro_loop_stop_cb(void *loop);
/* Number of tasks spawned on the loop that have not ended yet. */
CORO_API size_t coro_loop_tasks(coro_loop *loop);

/* Calls cb(signo, arg) on the loop whenever signo arrives.  Only one
 * loop per process can receive signals (libevent's rule): use the main
 * thread's loop. */
CORO_API int coro_loop_add_signal(coro_loop *loop, int signo,
    void (*cb)(int signo, void *arg), void *arg);
/* SIGINT and SIGTERM cancel every task of the loop; coro_loop_run() then
 * returns once they have all ended.  A second signal while shutting down
 * restores the default action, so a third one kills the process. */
CORO_API int coro_loop_stop_on_signals(coro_loop *loop);
/* The signal that stopped the loop through coro_loop_stop_on_signals(),
 * or 0. */
CORO_API int coro_loop_stop_signal(coro_loop *loop);

/* asyncio.run(): new loop, stop on SIGINT/SIGTERM, run fn as the main task
 * until it ends, free the loop.  Returns the task's status. */
CORO_API int coro_run(coro_fn fn, void *arg, void **value);

/* ---- callbacks and timers ---------------------------------------------- */

/* Runs cb(arg) on the loop in a later batch, in FIFO order with resumed
 * tasks.  Returns 0 or -ENOMEM. */
CORO_API int coro_call_soon(coro_loop *loop, coro_cb cb, void *arg);
/* The same, from any thread (the loop is woken). */
CORO_API int coro_call_soon_threadsafe(coro_loop *loop, coro_cb cb,
    void *arg);
/* Runs cb(arg) once, ms milliseconds from now. */
CORO_API int coro_call_later(coro_loop *loop, int64_t ms, coro_cb cb,
    void *arg);
/* A reusable, cancellable timer owned by the caller. */
CORO_API coro_timer *coro_timer_new(coro_loop *loop, coro_cb cb, void *arg);
/* (Re)arms the timer to fire once after ms milliseconds, or every ms
 * milliseconds with coro_timer_start_repeat. */
CORO_API int coro_timer_start(coro_timer *t, int64_t ms);
CORO_API int coro_timer_start_repeat(coro_timer *t, int64_t ms);
CORO_API void coro_timer_stop(coro_timer *t);
CORO_API bool coro_timer_pending(const coro_timer *t);
CORO_API void coro_timer_free(coro_timer *t);

/* ---- tasks --------------------------------------------------------------- */

typedef struct coro_spawn_opts {
	const char *name;	/* copied; shown in logs, gdb, overflow message */
	size_t stack_size;	/* usable bytes; 0 = default (64 KiB) */
} coro_spawn_opts;

#define CORO_STACK_DEFAULT	(64 * 1024)
#define CORO_STACK_MIN		(16 * 1024)

/* Starts fn(arg) as a task; it first runs in a later batch.  Returns a
 * reference the caller must drop with coro_task_unref() (the loop keeps
 * its own until the task ends), or NULL (errno set) on failure. */
CORO_API coro_task *coro_spawn(coro_loop *loop, coro_fn fn, void *arg,
    const coro_spawn_opts *opts);
CORO_API coro_task *coro_task_ref(coro_task *t);
CORO_API void coro_task_unref(coro_task *t);
/* The running task, or NULL on the loop's own stack. */
CORO_API coro_task *coro_current(void);
CORO_API coro_loop *coro_task_loop(const coro_task *t);
CORO_API const char *coro_task_name(const coro_task *t);
/* The task viewed as a future (borrowed; lives as long as the task). */
CORO_API coro_future *coro_task_future(coro_task *t);
/* Sets the running task's result value, seen by its awaiters. */
CORO_API void coro_set_result(void *value);

/* Requests cancellation: the task's current or next blocking call returns
 * -ECANCELED, and so does every later one (level-triggered) unless it is
 * inside a shield.  A task that has not started yet still starts (so it
 * can release its argument) and meets the cancellation at its first
 * blocking call.  Harmless on an ended task. */
CORO_API void coro_cancel(coro_task *t);
/* Whether the running task has been asked to cancel. */
CORO_API bool coro_cancelled(void);
/* Between begin and end (they nest), blocking calls of the running task
 * are not interrupted by cancellation; give them their own deadline. */
CORO_API void coro_shield_begin(void);
CORO_API void coro_shield_end(void);
/* Registers fn(arg) to run when the running task ends for any reason,
 * last registered first, still on the task's stack.  Returns 0/-ENOMEM. */
CORO_API int coro_defer(coro_cb fn, void *arg);

/* Waits for the task to end (may suspend); = coro_await on its future. */
CORO_API int coro_join(coro_task *t, void **value, int64_t deadline);
/* Suspends until deadline; 0, or -ECANCELED.  May suspend. */
CORO_API int coro_sleep_until(int64_t deadline);
CORO_API int coro_sleep(int64_t ms);
/* Lets every other ready task run and the loop poll I/O once, then
 * resumes.  0 or -ECANCELED.  May suspend. */
CORO_API int coro_yield(void);

/* ---- futures ------------------------------------------------------------- */

enum coro_future_state {
	CORO_PENDING, CORO_DONE, CORO_FAILED, CORO_CANCELLED
};

/* A new pending future holding one reference for the caller. */
CORO_API coro_future *coro_future_new(coro_loop *loop);
CORO_API coro_future *coro_future_ref(coro_future *f);
CORO_API void coro_future_unref(coro_future *f);
/* Completes the future once; -EINVAL if it was already completed.
 * Awaiters are readied and done callbacks queued; none runs inside. */
CORO_API int coro_future_resolve(coro_future *f, void *value);
CORO_API int coro_future_fail(coro_future *f, int err /* < 0 */);
/* Cancels a plain future, or the task behind a task's future. */
CORO_API int coro_future_cancel(coro_future *f);
CORO_API enum coro_future_state coro_future_state(const coro_future *f);
CORO_API bool coro_future_done(const coro_future *f);
/* 0 if done, the error if failed, -ECANCELED, or -EAGAIN if pending. */
CORO_API int coro_future_error(const coro_future *f);
CORO_API void *coro_future_value(const coro_future *f);
/* Calls cb(f, arg) on the loop once f completes (queued with call_soon,
 * also when f is already complete). */
CORO_API int coro_future_on_done(coro_future *f,
    void (*cb)(coro_future *f, void *arg), void *arg);
/* Waits for f; returns coro_future_error() and stores the value.
 * -ETIMEDOUT at the deadline (f itself is left alone), -ECANCELED when
 * the waiting task is cancelled.  May suspend. */
CORO_API int coro_await(coro_future *f, void **value, int64_t deadline);

/* gather flags */
#define CORO_GATHER_CANCEL_REST	0x1	/* first error cancels the others and
					   waits for them to end */
#define CORO_GATHER_WAIT_ALL	0x2	/* wait for all whatever fails
					   (return_exceptions=True) */
/* Waits for n futures (tasks via coro_task_future).  Without flags, it
 * returns the first error as soon as it happens and leaves the others
 * running (asyncio); results are read with coro_future_value.  Returns 0
 * when all succeeded, else the first error to happen (by completion
 * order), -ETIMEDOUT or -ECANCELED (the others are then cancelled if
 * CORO_GATHER_CANCEL_REST).  May suspend. */
CORO_API int coro_gather(coro_future *const *futs, size_t n, int flags,
    int64_t deadline);

/* ---- groups (structured concurrency) ------------------------------------ */

CORO_API coro_group *coro_group_new(coro_loop *loop);
/* Spawns a task owned by the group.  The group holds the reference: the
 * pointer is borrowed and valid until the task ends (take one with
 * coro_task_ref() to keep it longer). */
CORO_API coro_task *coro_group_spawn(coro_group *g, coro_fn fn, void *arg,
    const coro_spawn_opts *opts);
/* The first task to fail (status other than 0, and not the -ECANCELED
 * of a sibling the group cancelled) cancels the others. */
CORO_API void coro_group_cancel(coro_group *g);
CORO_API size_t coro_group_size(const coro_group *g);
/* Waits for every task of the group, always: at the deadline or on
 * cancellation of the caller it cancels them and still waits.  Returns 0,
 * the first failure, -ETIMEDOUT or -ECANCELED.  May suspend. */
CORO_API int coro_group_join(coro_group *g, int64_t deadline);
/* Cancels and joins (from a task), or cancels and runs the loop until
 * they end (from the loop's stack), then frees. */
CORO_API void coro_group_free(coro_group *g);

/* ---- queues ------------------------------------------------------------- */

/* A FIFO of pointers between tasks of one loop; capacity 0 = unbounded. */
CORO_API coro_queue *coro_queue_new(coro_loop *loop, size_t capacity);
/* The same, and coro_queue_put_threadsafe may be called from any thread. */
CORO_API coro_queue *coro_queue_new_threadsafe(coro_loop *loop,
    size_t capacity);
/* Frees the queue (items left in it are not freed).  No task may be
 * waiting on it. */
CORO_API void coro_queue_free(coro_queue *q);
/* Blocks while full (backpressure).  -EPIPE once closed, -ETIMEDOUT,
 * -ECANCELED.  May suspend. */
CORO_API int coro_queue_put(coro_queue *q, void *item, int64_t deadline);
/* Blocks while empty.  After close, remaining items are still returned,
 * then -EPIPE.  May suspend. */
CORO_API int coro_queue_get(coro_queue *q, void **item, int64_t deadline);
/* Never suspend: -EAGAIN when full/empty, -EPIPE when closed. */
CORO_API int coro_queue_try_put(coro_queue *q, void *item);
CORO_API int coro_queue_try_get(coro_queue *q, void **item);
/* From any thread, for queues made with coro_queue_new_threadsafe. */
CORO_API int coro_queue_put_threadsafe(coro_queue *q, void *item);
/* Wakes every waiter (-EPIPE); later puts fail with -EPIPE. */
CORO_API void coro_queue_close(coro_queue *q);
CORO_API size_t coro_queue_len(coro_queue *q);
CORO_API bool coro_queue_closed(coro_queue *q);

/* ---- file descriptors and streams --------------------------------------- */

/* Waits until fd is readable (EV_READ 0x02) and/or writable (EV_WRITE
 * 0x04); returns the ready events or a negative errno.  For fds not owned
 * by a stream.  May suspend. */
#define CORO_READ	0x02
#define CORO_WRITE	0x04
CORO_API int coro_wait_fd(int fd, short events, int64_t deadline);

/* A stream owns a non-blocking fd registered with the loop once, plus an
 * input and an output buffer.  One task may read while another writes;
 * two tasks must not read (or write) at once. */
CORO_API coro_stream *coro_stream_from_fd(coro_loop *loop, int fd);
/* Closes the fd (TLS: sends close_notify first, shielded, bounded by a
 * short deadline) and frees the stream.  May suspend when TLS. */
CORO_API void coro_stream_close(coro_stream *s);
CORO_API int coro_stream_fd(const coro_stream *s);
/* Reads up to len bytes: what is buffered, else one read from the
 * peer.  Returns the count, 0 at end of stream, or a negative errno.
 * May suspend. */
CORO_API ssize_t coro_stream_read(coro_stream *s, void *buf, size_t len,
    int64_t deadline);
/* Exactly len bytes; 0 at end of stream before any byte, -EPIPE at end
 * of stream in the middle. */
CORO_API ssize_t coro_stream_read_exact(coro_stream *s, void *buf, size_t len,
    int64_t deadline);
/* Up to and including delim; the count, 0 at end of stream, -ENOBUFS if
 * len bytes came without delim (they stay buffered), -EPIPE at end of
 * stream after a partial line. */
CORO_API ssize_t coro_stream_read_until(coro_stream *s, void *buf, size_t len,
    const char *delim, size_t delimlen, int64_t deadline);
CORO_API ssize_t coro_stream_read_line(coro_stream *s, char *buf, size_t len,
    int64_t deadline);
/* Reads more into the input buffer: the count added, 0 at end of stream.
 * For parsers working on coro_stream_input() in place.  May suspend. */
CORO_API ssize_t coro_stream_fill(coro_stream *s, int64_t deadline);
CORO_API struct evbuffer *coro_stream_input(coro_stream *s);
CORO_API struct evbuffer *coro_stream_output(coro_stream *s);
/* Appends to the output buffer; never suspends. */
CORO_API int coro_stream_write(coro_stream *s, const void *buf, size_t len);
/* Sends the whole output buffer.  May suspend. */
CORO_API int coro_stream_flush(coro_stream *s, int64_t deadline);
/* Sends what can go without waiting; never suspends, so it may run on
 * the loop's stack.  Returns the bytes still pending or a negative errno
 * (-EPIPE when the peer is gone).  The write of a loop iteration that
 * coalesces many small writes. */
CORO_API ssize_t coro_stream_flush_nowait(coro_stream *s);
/* Send len bytes of the caller's buffer directly, without copying them
 * into the output buffer (which is sent first).  _nowait makes one
 * attempt and never suspends: the count sent, 0 when the socket is full
 * (or a task is already waiting to send), or a negative errno.  The other
 * waits until at least one byte went: the count, or a negative errno.
 * After a short send, pass the rest (TLS: the same bytes) again.  For
 * servers that keep their own output buffers. */
CORO_API ssize_t coro_stream_send_nowait(coro_stream *s, const void *buf,
    size_t len);
CORO_API ssize_t coro_stream_send(coro_stream *s, const void *buf,
    size_t len, int64_t deadline);
/* Waits until a direct send can make progress: flushes the output
 * buffer, then waits for what the last coro_stream_send_nowait() lacked
 * (room in the socket; TLS may need the peer's bytes).  It holds no
 * pointer to the caller's bytes while it waits, so a server may go on
 * appending to (and moving) its own output buffer meanwhile, then send
 * from wherever the bytes are now.  0 or a negative errno (-ETIMEDOUT,
 * -ECANCELED, -EPIPE).  May suspend. */
CORO_API int coro_stream_wait_send(coro_stream *s, int64_t deadline);
/* write + flush. */
CORO_API int coro_stream_write_all(coro_stream *s, const void *buf,
    size_t len, int64_t deadline);
CORO_API size_t coro_stream_pending(coro_stream *s);
/* Flushes, then shuts the write side (TLS: close_notify). */
CORO_API int coro_stream_shutdown(coro_stream *s, int64_t deadline);

/* ---- TCP and Unix sockets ----------------------------------------------- */

/* Connects to host (a numeric address or a name, resolved on the default
 * executor) and port, trying each address in turn.  May suspend. */
CORO_API int coro_tcp_connect(coro_loop *loop, const char *host,
    const char *port, int64_t deadline, coro_stream **out);
/* Listens on host:port (host NULL or "" = any, "::" and IPv6 literals
 * work; port "0" = any free port). */
CORO_API int coro_tcp_listen(coro_loop *loop, const char *host,
    const char *port, int backlog, coro_listener **out);
CORO_API int coro_unix_connect(coro_loop *loop, const char *path,
    int64_t deadline, coro_stream **out);
/* Listens on path (a stale socket file is replaced); mode 0 = umask. */
CORO_API int coro_unix_listen(coro_loop *loop, const char *path,
    unsigned mode, int backlog, coro_listener **out);
/* Wraps an already listening socket (socket activation). */
CORO_API int coro_listener_from_fd(coro_loop *loop, int fd,
    coro_listener **out);
/* Accepts one connection; peer may be NULL.  May suspend. */
CORO_API int coro_accept(coro_listener *l, coro_stream **out,
    struct sockaddr_storage *peer, socklen_t *peerlen, int64_t deadline);
CORO_API int coro_listener_fd(const coro_listener *l);
/* The bound address; for an ephemeral port, the port chosen. */
CORO_API int coro_listener_addr(const coro_listener *l,
    struct sockaddr_storage *ss, socklen_t *len);
CORO_API int coro_listener_port(const coro_listener *l);
/* Closes; a task blocked in coro_accept gets -EBADF.  A Unix socket's
 * file is unlinked. */
CORO_API void coro_listener_close(coro_listener *l);

/* ---- TLS (OpenSSL 3) ----------------------------------------------------- */

/* A client context verifying peers (cafile NULL = system store), TLS 1.2
 * minimum; NULL on error. */
CORO_API struct ssl_ctx_st *coro_tls_client_ctx_new(const char *cafile);
/* A server context with a certificate chain and key; TLS 1.2 minimum. */
CORO_API struct ssl_ctx_st *coro_tls_server_ctx_new(const char *certfile,
    const char *keyfile);
/* Turns the stream into a TLS client (SNI and hostname check with
 * hostname unless NULL) and runs the handshake.  Verification failures
 * return -EPROTO with the reason in coro_tls_error().  May suspend. */
CORO_API int coro_tls_client(coro_stream *s, struct ssl_ctx_st *ctx,
    const char *hostname, int64_t deadline);
CORO_API int coro_tls_server(coro_stream *s, struct ssl_ctx_st *ctx,
    int64_t deadline);
/* The stream's SSL object, or NULL for plain streams. */
CORO_API struct ssl_st *coro_stream_ssl(coro_stream *s);
/* The last TLS failure of the stream, as text ("" when none). */
CORO_API const char *coro_tls_error(coro_stream *s);

/* ---- UDP ------------------------------------------------------------------ */

/* A datagram socket bound to host:port (NULL host = any, "0" = any port). */
CORO_API int coro_udp_open(coro_loop *loop, const char *host,
    const char *port, coro_udp **out);
/* Receives one datagram (truncated to len); its size, or negative.
 * May suspend. */
CORO_API ssize_t coro_udp_recvfrom(coro_udp *u, void *buf, size_t len,
    struct sockaddr_storage *from, socklen_t *fromlen, int64_t deadline);
CORO_API ssize_t coro_udp_sendto(coro_udp *u, const void *buf, size_t len,
    const struct sockaddr *to, socklen_t tolen, int64_t deadline);
CORO_API int coro_udp_fd(const coro_udp *u);
CORO_API int coro_udp_port(const coro_udp *u);
CORO_API void coro_udp_close(coro_udp *u);

/* ---- subprocesses -------------------------------------------------------- */

enum coro_stdio {
	CORO_STDIO_INHERIT = 0, CORO_STDIO_PIPE, CORO_STDIO_NULL
};

typedef struct coro_process_opts {
	const char *const *argv;	/* argv[0] searched in PATH */
	const char *const *envp;	/* NULL = inherit */
	const char *cwd;		/* NULL = inherit */
	enum coro_stdio stdin_mode, stdout_mode, stderr_mode;
} coro_process_opts;

CORO_API int coro_process_spawn(coro_loop *loop, const coro_process_opts *o,
    coro_process **out);
CORO_API pid_t coro_process_pid(const coro_process *p);
/* Pipe streams (NULL unless CORO_STDIO_PIPE); owned by the process, or
 * closed early with coro_process_close_stdin(). */
CORO_API coro_stream *coro_process_stdin(coro_process *p);
CORO_API coro_stream *coro_process_stdout(coro_process *p);
CORO_API coro_stream *coro_process_stderr(coro_process *p);
CORO_API void coro_process_close_stdin(coro_process *p);
/* Waits for exit; *status as from waitpid.  May suspend. */
CORO_API int coro_process_wait(coro_process *p, int *status,
    int64_t deadline);
CORO_API int coro_process_kill(coro_process *p, int signo);
/* Frees; a child still running is killed (SIGKILL) and reaped. */
CORO_API void coro_process_free(coro_process *p);

/* ---- executors ----------------------------------------------------------- */

/* Work for a thread: runs on a pool thread, never touches the loop. */
typedef void *(*coro_work_fn)(void *arg);

/* A pool of nthreads worker threads (0 = number of CPUs) feeding results
 * back to loop. */
CORO_API coro_executor *coro_executor_new(coro_loop *loop, unsigned nthreads);
/* Waits for running jobs (from the loop's stack), drops queued ones. */
CORO_API void coro_executor_free(coro_executor *ex);
/* Queues fn(arg); the future (one reference for the caller) resolves with
 * fn's return value.  Cancelling the future drops a job that has not
 * started yet.  NULL ex = the loop's default executor. */
CORO_API coro_future *coro_executor_submit(coro_executor *ex, coro_work_fn fn,
    void *arg);
/* Submit and await: on timeout or cancellation a job that already started
 * is still waited for (arg stays in use until then).  May suspend. */
CORO_API int coro_run_in_executor(coro_executor *ex, coro_work_fn fn,
    void *arg, void **value, int64_t deadline);
/* The loop's default executor (made on first use). */
CORO_API coro_executor *coro_loop_executor(coro_loop *loop);

/* A process pool for CPU-bound work: C cannot send closures to another
 * process, so jobs are registered by name before the workers fork and
 * take bytes in and give bytes out. */
typedef int (*coro_job_fn)(const void *in, size_t inlen, void **out,
    size_t *outlen);
typedef struct coro_job {
	const char *name;
	coro_job_fn fn;		/* returns 0 or a negative errno; *out from
				   malloc(), freed by the pool */
} coro_job;

/* Forks nprocs workers (0 = number of CPUs) knowing jobs[0..njobs). */
CORO_API coro_procpool *coro_procpool_new(coro_loop *loop, unsigned nprocs,
    const coro_job *jobs, size_t njobs);
/* Runs job name on an idle worker: 0 and *out (malloc'd, caller frees)
 * or the job's error, -ENOENT for an unknown job, -ETIMEDOUT/-ECANCELED
 * (the worker is then replaced), -ECHILD if the worker died.
 * May suspend. */
CORO_API int coro_procpool_run(coro_procpool *pp, const char *name,
    const void *in, size_t inlen, void **out, size_t *outlen,
    int64_t deadline);
/* Stops the workers and reaps them. */
CORO_API void coro_procpool_free(coro_procpool *pp);

#ifdef __cplusplus
}
#endif

#endif /* LIBCORO_CORO_H */
