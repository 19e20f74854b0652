/*
 * executor.c: thread pools for blocking work (run_in_executor).
 *
 * An executor is a fixed set of pthreads fed from one mutex+condvar job
 * queue.  A job's future lives on the loop and is only ever touched on the
 * loop's thread: a worker that has run a job (or skipped a cancelled one)
 * hands the job back with coro_call_soon_threadsafe(), and the loop side
 * resolves the future and frees the job.  Cancelling the future before a
 * worker picks the job up flips the job's atomic state so that the worker
 * skips it; once started, a job runs to its end and its result is dropped.
 * Workers block every signal, so signals keep going to the loop's thread
 * (libcoro-notes.md 5.8).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coro-internal.h"

#define EXECUTOR_DEFAULT_THREADS	4
#define EXECUTOR_MAX_THREADS		256

enum executor_job_state {
	JOB_QUEUED,		/* in the queue, may still be cancelled */
	JOB_RUNNING,		/* a worker called fn */
	JOB_FINISHED,		/* fn returned; result is valid */
	JOB_CANCELLED		/* cancelled before it started */
};

struct executor_job {
	TAILQ_ENTRY(executor_job) link;	/* in ex->queue, under ex->lock */
	coro_loop		*loop;
	coro_future		*fut;		/* the job's own reference */
	coro_work_fn		 fn;
	void			*arg;
	void			*result;	/* set by the worker */
	atomic_int		 state;		/* executor_job_state */
	/* loop thread only: the watch is on fut's list while watching */
	struct coro__fwatch	 watch;
	bool			 watching;
};
TAILQ_HEAD(executor_jobq, executor_job);

struct coro_executor {
	coro_loop		*loop;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* work or stop */
	struct executor_jobq	 queue;		/* under lock */
	bool			 stopping;	/* under lock */
	pthread_t		*threads;
	unsigned		 nthreads;	/* started */
};

/*
 * Loop side, after a worker let go of the job: resolve the future unless
 * somebody completed it first (it was cancelled), then free the job.
 */
static void
executor_job_done(void *arg)
{
	struct executor_job *job = arg;

	if (job->watching) {
		/* resolving below must not wake our own watch */
		coro__fwatch_del(job->fut, &job->watch);
		job->watching = false;
	}
	if (atomic_load(&job->state) == JOB_FINISHED &&
	    !coro_future_done(job->fut))
		coro_future_resolve(job->fut, job->result);
	coro_future_unref(job->fut);
	free(job);
}

/*
 * The future completed while the job was still ours to watch: anybody
 * but executor_job_done completing it means cancellation, so stop the job
 * if no worker has taken it.  The job itself stays queued; the worker
 * that reaches it skips it and hands it back to be freed.
 */
static void
executor_job_notify(struct coro__fwatch *w, coro_future *f)
{
	struct executor_job *job = w->data;
	int expected = JOB_QUEUED;

	(void)f;
	job->watching = false;	/* future.c took it off the list */
	atomic_compare_exchange_strong(&job->state, &expected, JOB_CANCELLED);
}

/* Hands a job back to its loop.  Retries on ENOMEM: an awaiter whose job
 * never comes back would hang forever, a short stall is the lesser evil. */
static void
executor_job_post(struct executor_job *job)
{
	struct timespec ts = { 0, 1000 * 1000 };

	while (coro_call_soon_threadsafe(job->loop, executor_job_done,
	    job) == -ENOMEM)
		nanosleep(&ts, NULL);
}

static void *
executor_worker(void *arg)
{
	coro_executor *ex = arg;
	struct executor_job *job;
	int expected;

	for (;;) {
		pthread_mutex_lock(&ex->lock);
		while (!ex->stopping && TAILQ_EMPTY(&ex->queue))
			pthread_cond_wait(&ex->cond, &ex->lock);
		if (ex->stopping) {
			/* queued jobs are dropped by the loop side */
			pthread_mutex_unlock(&ex->lock);
			return NULL;
		}
		job = TAILQ_FIRST(&ex->queue);
		TAILQ_REMOVE(&ex->queue, job, link);
		pthread_mutex_unlock(&ex->lock);

		expected = JOB_QUEUED;
		if (atomic_compare_exchange_strong(&job->state, &expected,
		    JOB_RUNNING)) {
			job->result = job->fn(job->arg);
			/* seq_cst store: the loop sees result once it sees
			 * FINISHED */
			atomic_store(&job->state, JOB_FINISHED);
		}
		executor_job_post(job);
	}
}

static unsigned
executor_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	if (n > EXECUTOR_MAX_THREADS)
		return EXECUTOR_MAX_THREADS;
	return (unsigned)n;
}

coro_executor *
coro_executor_new(coro_loop *loop, unsigned nthreads)
{
	coro_executor *ex;
	sigset_t all, old;
	unsigned i;
	int err = 0;

	if (loop == NULL && (loop = coro_loop_current()) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (nthreads == 0)
		nthreads = executor_ncpus();
	if (nthreads > EXECUTOR_MAX_THREADS)
		nthreads = EXECUTOR_MAX_THREADS;
	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return NULL;
	if ((ex->threads = calloc(nthreads, sizeof(*ex->threads))) == NULL) {
		free(ex);
		errno = ENOMEM;
		return NULL;
	}
	ex->loop = loop;
	TAILQ_INIT(&ex->queue);
	pthread_mutex_init(&ex->lock, NULL);
	pthread_cond_init(&ex->cond, NULL);

	/* threads inherit the mask: start them with every signal blocked,
	 * with no window in which one could land on a worker */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		if ((err = pthread_create(&ex->threads[i], NULL,
		    executor_worker, ex)) != 0)
			break;
		ex->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ex->nthreads == 0) {
		coro__executor_shutdown(ex);
		errno = err;
		return NULL;
	}
	/* fewer threads than asked for still make a working pool */
	return ex;
}

/*
 * Stops the workers, waiting for running jobs (their completions are
 * queued as threadsafe calls that the loop delivers later: the jobs own
 * everything those need), then cancels the futures of the jobs that never
 * started.  Runs on the loop's thread.
 */
void
coro__executor_shutdown(coro_executor *ex)
{
	struct executor_jobq dropped;
	struct executor_job *job;
	unsigned i;

	if (ex == NULL)
		return;
	if (ex->loop->executor == ex)
		ex->loop->executor = NULL;
	TAILQ_INIT(&dropped);
	pthread_mutex_lock(&ex->lock);
	ex->stopping = true;
	TAILQ_CONCAT(&dropped, &ex->queue, link);
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->lock);
	for (i = 0; i < ex->nthreads; i++)
		pthread_join(ex->threads[i], NULL);

	while ((job = TAILQ_FIRST(&dropped)) != NULL) {
		TAILQ_REMOVE(&dropped, job, link);
		if (job->watching) {
			coro__fwatch_del(job->fut, &job->watch);
			job->watching = false;
		}
		if (!coro_future_done(job->fut))
			coro_future_cancel(job->fut);
		coro_future_unref(job->fut);
		free(job);
	}
	pthread_cond_destroy(&ex->cond);
	pthread_mutex_destroy(&ex->lock);
	free(ex->threads);
	free(ex);
}

void
coro_executor_free(coro_executor *ex)
{
	coro__executor_shutdown(ex);
}

coro_executor *
coro_loop_executor(coro_loop *loop)
{
	if (loop == NULL && (loop = coro_loop_current()) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (loop->executor == NULL)
		loop->executor = coro_executor_new(loop,
		    EXECUTOR_DEFAULT_THREADS);
	return loop->executor;
}

/* Queues a job; returns it with its future, which holds one reference for
 * the caller.  NULL with errno set on failure. */
static struct executor_job *
executor_submit(coro_executor *ex, coro_work_fn fn, void *arg)
{
	struct executor_job *job;

	if (fn == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (ex == NULL && (ex = coro_loop_executor(NULL)) == NULL)
		return NULL;
	if (!pthread_equal(ex->loop->thread, pthread_self())) {
		/* the future belongs to the loop: only its thread may touch
		 * it */
		errno = EPERM;
		return NULL;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	if ((job->fut = coro_future_new(ex->loop)) == NULL) {
		free(job);
		errno = ENOMEM;
		return NULL;
	}
	coro_future_ref(job->fut);		/* the caller's */
	job->loop = ex->loop;
	job->fn = fn;
	job->arg = arg;
	atomic_init(&job->state, JOB_QUEUED);
	job->watch.notify = executor_job_notify;
	job->watch.data = job;
	coro__fwatch_add(job->fut, &job->watch);
	job->watching = true;

	pthread_mutex_lock(&ex->lock);
	TAILQ_INSERT_TAIL(&ex->queue, job, link);
	pthread_cond_signal(&ex->cond);
	pthread_mutex_unlock(&ex->lock);
	return job;
}

coro_future *
coro_executor_submit(coro_executor *ex, coro_work_fn fn, void *arg)
{
	struct executor_job *job;

	if ((job = executor_submit(ex, fn, arg)) == NULL)
		return NULL;
	return job->fut;
}

/*
 * On timeout or cancellation the job must not outlive this call while it
 * may still use arg: a job nobody has taken is cancelled (the worker will
 * skip it); a job already running is waited for, shielded and without a
 * deadline.  *value gets the job's result whenever the job ran to its
 * end, even when an error is returned, so that the caller can free it.
 */
int
coro_run_in_executor(coro_executor *ex, coro_work_fn fn, void *arg,
    void **value, int64_t deadline)
{
	struct executor_job *job;
	coro_future *f;
	void *v = NULL;
	int err, expected;

	if (value != NULL)
		*value = NULL;
	if ((err = coro__checkpoint()) != 0)
		return err;
	if ((job = executor_submit(ex, fn, arg)) == NULL)
		return errno != 0 ? -errno : -ENOMEM;
	f = job->fut;
	err = coro_await(f, &v, deadline);
	if (err != 0 && !coro_future_done(f)) {
		/*
		 * Only here is job still alive: executor_job_done resolves
		 * the future before it frees the job, and nobody but us
		 * can complete f.
		 */
		expected = JOB_QUEUED;
		if (atomic_compare_exchange_strong(&job->state, &expected,
		    JOB_CANCELLED)) {
			coro_future_cancel(f);
		} else {
			coro_shield_begin();
			coro_await(f, &v, CORO_NEVER);
			coro_shield_end();
		}
	}
	if (value != NULL && coro_future_state(f) == CORO_DONE)
		*value = v;
	coro_future_unref(f);
	return err;
}
