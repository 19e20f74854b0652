/*
 * test_stream.c: streams over socketpairs and pipes: reading some, exact,
 * until a delimiter and by line; end of stream at each point; writes big
 * enough to fill the socket and make flush suspend; deadlines;
 * cancellation of and close under a blocked reader; coro_wait_fd.
 *
 * Checks inside tasks use CHECK*, which record the first failure and
 * return from the task (a cmocka assert would longjmp off the task's
 * stack); the test then fails with the recorded message.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "test_helpers.h"

/* A socketpair: s wraps sv[0], peer is the raw sv[1]. */
struct pair {
	coro_stream	*s;
	int		 peer;
};

static int
pair_open(struct pair *p)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -errno;
	if ((p->s = coro_stream_from_fd(here(), sv[0])) == NULL) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	p->peer = sv[1];
	return 0;
}

static void
pair_close(struct pair *p)
{
	coro_stream_close(p->s);
	if (p->peer != -1)
		close(p->peer);
}

static int
send_str(int fd, const char *str)
{
	size_t n = strlen(str);

	return write(fd, str, n) == (ssize_t)n ? 0 : -EIO;
}

/* ---- reading ---- */

static int
read_some_body(void *arg)
{
	struct pair p;
	char buf[64];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(send_str(p.peer, "hello"), 0);
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf),
	    coro_deadline_in(2000)), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	/* a short read leaves the rest for the next one */
	CHECK_EQ(send_str(p.peer, "abcdef"), 0);
	CHECK_EQ(coro_stream_read(p.s, buf, 3, CORO_NEVER), 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf), CORO_NEVER), 3);
	CHECK(memcmp(buf, "def", 3) == 0);
	CHECK_EQ(coro_stream_read(p.s, buf, 0, CORO_NEVER), 0);
	pair_close(&p);
	return 0;
}

static void
test_stream_read_some(void **state)
{
	(void)state;
	run_checked(read_some_body, NULL);
}

struct dribble {
	int		 fd;
	const char	*parts[4];
	bool		 close_after;
};

/* Writes each part 10 ms apart, then maybe closes the fd. */
static int
dribble_body(void *arg)
{
	struct dribble *d = arg;
	int i;

	for (i = 0; i < 4 && d->parts[i] != NULL; i++) {
		CHECK_EQ(coro_sleep(10), 0);
		CHECK_EQ(send_str(d->fd, d->parts[i]), 0);
	}
	if (d->close_after) {
		close(d->fd);
		d->fd = -1;
	}
	return 0;
}

static int
read_exact_split_body(void *arg)
{
	struct dribble d = { .parts = { "ab", "cde", "fghij", NULL } };
	struct pair p;
	coro_task *t;
	char buf[16];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	d.fd = p.peer;
	t = coro_spawn(here(), dribble_body, &d, NULL);
	CHECK(t != NULL);
	CHECK_EQ(coro_stream_read_exact(p.s, buf, 8, coro_deadline_in(2000)),
	    8);
	CHECK(memcmp(buf, "abcdefgh", 8) == 0);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), 0);
	coro_task_unref(t);
	CHECK_EQ(coro_stream_read_exact(p.s, buf, 2, coro_deadline_in(2000)),
	    2);
	CHECK(memcmp(buf, "ij", 2) == 0);
	pair_close(&p);
	return 0;
}

static void
test_stream_read_exact_split_writes(void **state)
{
	(void)state;
	run_checked(read_exact_split_body, NULL);
}

static int
read_exact_eof_body(void *arg)
{
	struct pair p;
	char buf[16];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(send_str(p.peer, "abc"), 0);
	close(p.peer);
	p.peer = -1;
	CHECK_EQ(coro_stream_read_exact(p.s, buf, 10, coro_deadline_in(2000)),
	    -EPIPE);
	/* what came is still there, then the end */
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf), CORO_NEVER), 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	CHECK_EQ(coro_stream_read_exact(p.s, buf, 10, CORO_NEVER), 0);
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf), CORO_NEVER), 0);
	pair_close(&p);
	return 0;
}

static void
test_stream_read_exact_eof_midway_epipe(void **state)
{
	(void)state;
	run_checked(read_exact_eof_body, NULL);
}

static int
read_until_body(void *arg)
{
	struct dribble d = { .parts = { "line1\nli", "ne2\r", "\nrest", NULL },
	    .close_after = true };
	struct pair p;
	coro_task *t;
	char buf[64];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	d.fd = p.peer;
	p.peer = -1;
	t = coro_spawn(here(), dribble_body, &d, NULL);
	CHECK(t != NULL);
	CHECK_EQ(coro_stream_read_line(p.s, buf, sizeof(buf),
	    coro_deadline_in(2000)), 6);
	CHECK(strcmp(buf, "line1\n") == 0);
	/* the delimiter arrives split over two writes */
	CHECK_EQ(coro_stream_read_until(p.s, buf, sizeof(buf), "\r\n", 2,
	    coro_deadline_in(2000)), 7);
	CHECK(memcmp(buf, "line2\r\n", 7) == 0);
	/* "rest" then end of stream: a partial line */
	CHECK_EQ(coro_stream_read_line(p.s, buf, sizeof(buf),
	    coro_deadline_in(2000)), -EPIPE);
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf), CORO_NEVER), 4);
	CHECK_EQ(coro_stream_read_line(p.s, buf, sizeof(buf), CORO_NEVER), 0);
	CHECK_EQ(buf[0], '\0');
	CHECK_EQ(coro_stream_read_until(p.s, buf, sizeof(buf), "", 0,
	    CORO_NEVER), -EINVAL);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), 0);
	coro_task_unref(t);
	pair_close(&p);
	return 0;
}

static void
test_stream_read_until_and_line(void **state)
{
	(void)state;
	run_checked(read_until_body, NULL);
}

static int
read_until_enobufs_body(void *arg)
{
	struct pair p;
	char buf[64];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(send_str(p.peer, "0123456789"), 0);
	CHECK_EQ(coro_stream_read_until(p.s, buf, 8, "\n", 1,
	    coro_deadline_in(2000)), -ENOBUFS);
	/* the bytes stay buffered; with room the line is found */
	CHECK_EQ(evbuffer_get_length(coro_stream_input(p.s)), 10);
	CHECK_EQ(send_str(p.peer, "\n"), 0);
	/* read_line keeps one byte for the NUL */
	CHECK_EQ(coro_stream_read_line(p.s, buf, 11, coro_deadline_in(2000)),
	    -ENOBUFS);
	CHECK_EQ(coro_stream_read_line(p.s, buf, 12, coro_deadline_in(2000)),
	    11);
	CHECK(strcmp(buf, "0123456789\n") == 0);
	CHECK_EQ(coro_stream_read_line(p.s, buf, 1, CORO_NEVER), -EINVAL);
	pair_close(&p);
	return 0;
}

static void
test_stream_read_until_enobufs(void **state)
{
	(void)state;
	run_checked(read_until_enobufs_body, NULL);
}

static int
fill_body(void *arg)
{
	struct pair p;

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(send_str(p.peer, "xyz"), 0);
	CHECK_EQ(coro_stream_fill(p.s, coro_deadline_in(2000)), 3);
	CHECK_EQ(evbuffer_get_length(coro_stream_input(p.s)), 3);
	CHECK(memcmp(evbuffer_pullup(coro_stream_input(p.s), 3), "xyz", 3) ==
	    0);
	close(p.peer);
	p.peer = -1;
	CHECK_EQ(coro_stream_fill(p.s, coro_deadline_in(2000)), 0);
	pair_close(&p);
	return 0;
}

static void
test_stream_fill_into_input(void **state)
{
	(void)state;
	run_checked(fill_body, NULL);
}

/* ---- writing ---- */

#define BIG	(4 * 1024 * 1024)

struct big {
	coro_stream	*rd;
	size_t		 got;
	bool		 bad;
	bool		 flushed;	/* the writer's flush returned */
	size_t		 got_before_flushed;
};

static int
big_reader(void *arg)
{
	struct big *b = arg;
	unsigned char *buf;
	ssize_t n, i;

	if ((buf = malloc(65536)) == NULL)
		return -ENOMEM;
	while ((n = coro_stream_read(b->rd, buf, 65536,
	    coro_deadline_in(5000))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((b->got + i) % 251))
				b->bad = true;
		b->got += (size_t)n;
		if (!b->flushed)
			b->got_before_flushed = b->got;
	}
	free(buf);
	return (int)n;
}

static int
big_write_body(void *arg)
{
	struct big b;
	unsigned char *data;
	coro_stream *w;
	coro_task *t;
	int sv[2], sz = 4096;
	size_t i;

	(void)arg;
	memset(&b, 0, sizeof(b));
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* small buffers so the flush surely meets EAGAIN */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	CHECK((w = coro_stream_from_fd(here(), sv[0])) != NULL);
	CHECK((b.rd = coro_stream_from_fd(here(), sv[1])) != NULL);
	CHECK((data = malloc(BIG)) != NULL);
	for (i = 0; i < BIG; i++)
		data[i] = (unsigned char)(i % 251);
	t = coro_spawn(here(), big_reader, &b, NULL);
	CHECK(t != NULL);
	/* write only buffers; nothing moves until the flush */
	CHECK_EQ(coro_stream_write(w, data, BIG), 0);
	CHECK_EQ(coro_stream_pending(w), BIG);
	CHECK_EQ(b.got, 0);
	CHECK_EQ(coro_stream_flush(w, coro_deadline_in(5000)), 0);
	b.flushed = true;
	CHECK_EQ(coro_stream_pending(w), 0);
	/* the reader ran while the writer was suspended in flush */
	CHECK(b.got_before_flushed > 0);
	/* write_all is write + flush; the pattern continues */
	CHECK_EQ(coro_stream_write_all(w, data + BIG % 251, 1000,
	    coro_deadline_in(5000)), 0);
	CHECK_EQ(coro_stream_shutdown(w, coro_deadline_in(5000)), 0);
	CHECK_EQ(coro_stream_write(w, "x", 1), -EPIPE);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(5000)), 0);
	coro_task_unref(t);
	CHECK_EQ(b.got, BIG + 1000);
	CHECK(!b.bad);
	free(data);
	coro_stream_close(w);
	coro_stream_close(b.rd);
	return 0;
}

static void
test_stream_large_write_flush_suspends(void **state)
{
	(void)state;
	run_checked(big_write_body, NULL);
}

static int
write_closed_peer_body(void *arg)
{
	struct pair p;
	int err;

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	close(p.peer);
	p.peer = -1;
	/* no SIGPIPE: the process would die here */
	err = coro_stream_write_all(p.s, "hello", 5, coro_deadline_in(2000));
	CHECK(err == -EPIPE || err == -ECONNRESET);
	pair_close(&p);
	return 0;
}

static void
test_stream_write_to_closed_peer_epipe(void **state)
{
	(void)state;
	run_checked(write_closed_peer_body, NULL);
}

static int
pipe_body(void *arg)
{
	coro_stream *r, *w;
	char buf[16];
	int fds[2];

	(void)arg;
	CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
	CHECK((r = coro_stream_from_fd(here(), fds[0])) != NULL);
	CHECK((w = coro_stream_from_fd(here(), fds[1])) != NULL);
	CHECK_EQ(coro_stream_write_all(w, "pipe\n", 5, coro_deadline_in(2000)),
	    0);
	CHECK_EQ(coro_stream_read_line(r, buf, sizeof(buf),
	    coro_deadline_in(2000)), 5);
	CHECK(strcmp(buf, "pipe\n") == 0);
	coro_stream_close(w);
	CHECK_EQ(coro_stream_read(r, buf, sizeof(buf), coro_deadline_in(2000)),
	    0);
	coro_stream_close(r);
	return 0;
}

static void
test_stream_pipe_roundtrip(void **state)
{
	(void)state;
	run_checked(pipe_body, NULL);
}

/* ---- deadlines, cancellation, close ---- */

static int
deadline_body(void *arg)
{
	struct pair p;
	char buf[8];
	int64_t t0;

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	t0 = coro_now();
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf), coro_deadline_in(50)),
	    -ETIMEDOUT);
	CHECK(coro_now() - t0 >= 45);
	CHECK(coro_now() - t0 < 2000);
	CHECK_EQ(coro_stream_read_exact(p.s, buf, 4, coro_deadline_in(20)),
	    -ETIMEDOUT);
	/* still usable */
	CHECK_EQ(send_str(p.peer, "ok"), 0);
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf),
	    coro_deadline_in(2000)), 2);
	pair_close(&p);
	return 0;
}

static void
test_stream_read_deadline_timeout(void **state)
{
	(void)state;
	run_checked(deadline_body, NULL);
}

struct blocked {
	coro_stream	*s;
	bool		 started;
};

static int
blocked_reader(void *arg)
{
	struct blocked *b = arg;
	char buf[8];

	b->started = true;
	return (int)coro_stream_read(b->s, buf, sizeof(buf), CORO_NEVER);
}

static int
cancel_body(void *arg)
{
	struct blocked b = { 0 };
	struct pair p;
	coro_task *t;
	char buf[8];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	b.s = p.s;
	CHECK((t = coro_spawn(here(), blocked_reader, &b, NULL)) != NULL);
	CHECK_EQ(coro_sleep(20), 0);
	CHECK(b.started);
	coro_cancel(t);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), -ECANCELED);
	coro_task_unref(t);
	/* the cancelled reader left no trace: the stream still works */
	CHECK_EQ(send_str(p.peer, "after"), 0);
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf),
	    coro_deadline_in(2000)), 5);
	CHECK(memcmp(buf, "after", 5) == 0);
	pair_close(&p);
	return 0;
}

static void
test_stream_cancel_blocked_read(void **state)
{
	(void)state;
	run_checked(cancel_body, NULL);
}

static int
close_wakes_body(void *arg)
{
	struct blocked b = { 0 };
	struct pair p;
	coro_task *t;
	void *v;

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	b.s = p.s;
	CHECK((t = coro_spawn(here(), blocked_reader, &b, NULL)) != NULL);
	CHECK_EQ(coro_sleep(20), 0);
	CHECK(b.started);
	coro_stream_close(p.s);
	CHECK_EQ(coro_join(t, &v, coro_deadline_in(2000)), -EBADF);
	coro_task_unref(t);
	close(p.peer);
	return 0;
}

static void
test_stream_close_wakes_reader_ebadf(void **state)
{
	(void)state;
	run_checked(close_wakes_body, NULL);
}

static int
cancelled_is_level_body(void *arg)
{
	struct pair p;
	char buf[8];

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(send_str(p.peer, "data"), 0);
	coro_cancel(coro_current());
	/* every blocking call of a cancelled task fails, even with data */
	CHECK_EQ(coro_stream_read(p.s, buf, sizeof(buf), CORO_NEVER),
	    -ECANCELED);
	CHECK_EQ(coro_stream_flush(p.s, CORO_NEVER), -ECANCELED);
	/* close needs no task state */
	pair_close(&p);
	return 0;
}

static void
test_stream_cancelled_task_fails_fast(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_task *t;

	(void)state;
	assert_non_null(loop);
	test_failure()[0] = '\0';
	t = coro_spawn(loop, cancelled_is_level_body, NULL, NULL);
	assert_non_null(t);
	assert_int_equal(coro_loop_run_until_complete(loop, t, NULL), 0);
	coro_task_unref(t);
	coro_loop_free(loop);
	if (test_failure()[0] != '\0')
		fail_msg("%s", test_failure());
}

static void
test_stream_outside_task_eperm(void **state)
{
	coro_loop *loop = coro_loop_new();
	coro_stream *s;
	char buf[4];
	int sv[2];

	(void)state;
	assert_non_null(loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = coro_stream_from_fd(loop, sv[0]);
	assert_non_null(s);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(coro_stream_read(s, buf, sizeof(buf), CORO_NEVER),
	    -EPERM);
	assert_int_equal(coro_stream_write(s, "y", 1), 0);
	assert_int_equal(coro_stream_flush(s, CORO_NEVER), -EPERM);
	assert_int_equal(coro_stream_fd(s), sv[0]);
	/* the fd was made non-blocking */
	assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	coro_stream_close(s);
	close(sv[1]);
	coro_loop_free(loop);
}

static void
test_stream_from_fd_rejects_bad_fds(void **state)
{
	coro_loop *loop = coro_loop_new();
	char path[] = "/tmp/test_stream.XXXXXX";
	int fd, flags;

	(void)state;
	assert_non_null(loop);
	errno = 0;
	assert_null(coro_stream_from_fd(loop, -1));
	assert_int_equal(errno, EBADF);
	/* epoll cannot watch a regular file; the fd stays the caller's */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	flags = fcntl(fd, F_GETFL);
	assert_null(coro_stream_from_fd(loop, fd));
	assert_int_not_equal(errno, 0);
	assert_int_equal(fcntl(fd, F_GETFL), flags);
	close(fd);
	coro_loop_free(loop);
}

/* ---- coro_wait_fd ---- */

struct later {
	int	fd;
};

static int
write_later(void *arg)
{
	struct later *l = arg;

	CHECK_EQ(coro_sleep(20), 0);
	CHECK_EQ(write(l->fd, "!", 1), 1);
	return 0;
}

static int
wait_fd_body(void *arg)
{
	struct later l;
	coro_task *t;
	int fds[2];
	char c;

	(void)arg;
	CHECK_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	CHECK_EQ(coro_wait_fd(fds[0], CORO_READ, coro_deadline_in(30)),
	    -ETIMEDOUT);
	l.fd = fds[1];
	CHECK((t = coro_spawn(here(), write_later, &l, NULL)) != NULL);
	CHECK_EQ(coro_wait_fd(fds[0], CORO_READ, coro_deadline_in(2000)),
	    CORO_READ);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), 0);
	coro_task_unref(t);
	CHECK_EQ(coro_wait_fd(fds[1], CORO_WRITE, coro_deadline_in(2000)),
	    CORO_WRITE);
	CHECK_EQ(coro_wait_fd(fds[1], 0, CORO_NEVER), -EINVAL);
	CHECK_EQ(coro_wait_fd(-1, CORO_READ, CORO_NEVER), -EINVAL);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

static void
test_stream_wait_fd(void **state)
{
	(void)state;
	run_checked(wait_fd_body, NULL);
}

/* flush_nowait writes what fits, leaves the rest, and never suspends. */
static int
flush_nowait_body(void *arg)
{
	struct pair p;
	static char big[1 << 20];
	static char sink[65536];
	ssize_t left, n;
	size_t got = 0;

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(fcntl(p.peer, F_SETFL, O_NONBLOCK), 0);
	memset(big, 'x', sizeof(big));
	CHECK_EQ(coro_stream_write(p.s, big, sizeof(big)), 0);
	left = coro_stream_flush_nowait(p.s);
	/* a socketpair buffers far less than 1 MiB */
	CHECK(left > 0 && left < (ssize_t)sizeof(big));
	while (got < sizeof(big)) {
		n = read(p.peer, sink, sizeof(sink));
		if (n > 0)
			got += (size_t)n;
		else
			CHECK(n == -1 && errno == EAGAIN);
		left = coro_stream_flush_nowait(p.s);
		CHECK(left >= 0);
		if (n <= 0)
			coro_sleep(1);
	}
	CHECK_EQ(coro_stream_flush_nowait(p.s), 0);
	CHECK_EQ(coro_stream_pending(p.s), 0);
	close(p.peer);
	/* the peer is gone: the error comes back, not a signal */
	CHECK_EQ(coro_stream_write(p.s, "y", 1), 0);
	CHECK_EQ(coro_stream_flush_nowait(p.s), -EPIPE);
	coro_stream_close(p.s);
	return 0;
}

static void
test_stream_flush_nowait_partial(void **state)
{
	(void)state;
	run_checked(flush_nowait_body, NULL);
}

/* send_nowait and send write from the caller's memory; the output
 * buffer goes first. */
static int
send_direct_body(void *arg)
{
	struct pair p;
	static char big[1 << 20];
	static char sink[65536];
	char small[8];
	ssize_t n, sent;

	(void)arg;
	CHECK_EQ(pair_open(&p), 0);
	CHECK_EQ(fcntl(p.peer, F_SETFL, O_NONBLOCK), 0);
	/* buffered bytes first: send_nowait declines */
	CHECK_EQ(coro_stream_write(p.s, "ab", 2), 0);
	CHECK_EQ(coro_stream_send_nowait(p.s, "cd", 2), 0);
	CHECK_EQ(coro_stream_flush(p.s, coro_deadline_in(1000)), 0);
	CHECK_EQ(coro_stream_send_nowait(p.s, "cd", 2), 2);
	CHECK_EQ(read(p.peer, small, sizeof(small)), 4);
	CHECK(memcmp(small, "abcd", 4) == 0);
	/* fill the socket: a short send, then 0 */
	memset(big, 'z', sizeof(big));
	sent = coro_stream_send_nowait(p.s, big, sizeof(big));
	CHECK(sent > 0 && sent < (ssize_t)sizeof(big));
	CHECK_EQ(coro_stream_send_nowait(p.s, big + sent,
	    sizeof(big) - (size_t)sent), 0);
	/* wait_send waits for room without the bytes */
	CHECK_EQ(coro_stream_wait_send(p.s, coro_deadline_in(30)), -ETIMEDOUT);
	/* send waits for room; the deadline ends the wait */
	CHECK_EQ(coro_stream_send(p.s, big + sent, sizeof(big) - (size_t)sent,
	    coro_deadline_in(30)), -ETIMEDOUT);
	while ((n = read(p.peer, sink, sizeof(sink))) > 0)
		;
	CHECK_EQ(coro_stream_wait_send(p.s, coro_deadline_in(1000)), 0);
	n = coro_stream_send_nowait(p.s, big + sent, sizeof(big) -
	    (size_t)sent);
	CHECK(n > 0);
	sent += n;
	while ((n = read(p.peer, sink, sizeof(sink))) > 0)
		;
	n = coro_stream_send(p.s, big + sent, sizeof(big) - (size_t)sent,
	    coro_deadline_in(1000));
	CHECK(n > 0);
	close(p.peer);
	CHECK_EQ(coro_stream_send(p.s, "x", 1, coro_deadline_in(1000)), -EPIPE);
	coro_stream_close(p.s);
	return 0;
}

static void
test_stream_send_direct(void **state)
{
	(void)state;
	run_checked(send_direct_body, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_read_some),
		cmocka_unit_test(test_stream_read_exact_split_writes),
		cmocka_unit_test(test_stream_read_exact_eof_midway_epipe),
		cmocka_unit_test(test_stream_read_until_and_line),
		cmocka_unit_test(test_stream_read_until_enobufs),
		cmocka_unit_test(test_stream_fill_into_input),
		cmocka_unit_test(test_stream_large_write_flush_suspends),
		cmocka_unit_test(test_stream_write_to_closed_peer_epipe),
		cmocka_unit_test(test_stream_pipe_roundtrip),
		cmocka_unit_test(test_stream_read_deadline_timeout),
		cmocka_unit_test(test_stream_cancel_blocked_read),
		cmocka_unit_test(test_stream_close_wakes_reader_ebadf),
		cmocka_unit_test(test_stream_cancelled_task_fails_fast),
		cmocka_unit_test(test_stream_outside_task_eperm),
		cmocka_unit_test(test_stream_from_fd_rejects_bad_fds),
		cmocka_unit_test(test_stream_wait_fd),
		cmocka_unit_test(test_stream_flush_nowait_partial),
		cmocka_unit_test(test_stream_send_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
