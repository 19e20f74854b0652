/*
 * stream.c: byte streams over a non-blocking fd (sockets, pipes), each
 * with an input and an output evbuffer, and coro_wait_fd() for fds that
 * no stream owns.
 *
 * The fd is registered once, EV_READ|EV_WRITE|EV_PERSIST|EV_ET, and the
 * event callback only sets a readiness flag and queues the tasks waiting
 * for that direction (coro__wake); nothing is resumed from the callback.
 * Every call tries its syscall first and waits only after EAGAIN, which
 * is also the only thing that clears a flag: a short read proves nothing
 * (the FIN may already have arrived with the data, and would never give
 * another edge).  The transport (plain here, TLS in tls.c) is a small
 * vtable, so the buffering and the waiting are written once.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "coro-internal.h"
#include "stream-internal.h"

#define STREAM_SPILL		4096	/* past a direct read's buffer */
#define STREAM_READ_SIZE	65536	/* bytes asked of one read */
#define STREAM_WRITE_IOV	16	/* buffer chunks given to one write */

static void
stream_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coro_stream *s = arg;

	(void)fd;
	if (what & EV_CLOSED)
		s->rdhup = true;
	if (what & (EV_READ | EV_CLOSED)) {
		s->readable = true;
		coro__waitq_wake_all(&s->rq, 0);
	}
	if (what & EV_WRITE) {
		s->writable = true;
		coro__waitq_wake_all(&s->wq, 0);
	}
}

/* ---- the plain transport ---- */

/* A read or write failed with errno: on EAGAIN the direction is not
 * ready any more (the next edge says when it is) and the caller waits
 * for it; anything else is the error. */
static ssize_t
io_failed(struct coro_stream *s, int dir)
{
	int err = errno;

	if (err != EAGAIN && err != EWOULDBLOCK)
		return -err;
	if (dir == CORO_READ)
		s->readable = false;
	else
		s->writable = false;
	s->want = dir;
	return -EAGAIN;
}

/* One read(2) or readv(2) of up to total bytes into iov; clears the
 * readable flag when the socket is drained. */
static ssize_t
plain_readv(struct coro_stream *s, struct iovec *iov, int niov, size_t total)
{
	ssize_t n;

	if (!s->readable) {
		s->want = CORO_READ;
		return -EAGAIN;
	}
	do
		n = niov == 1 ? read(s->fd, iov[0].iov_base, iov[0].iov_len) :
		    readv(s->fd, iov, niov);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return io_failed(s, CORO_READ);
	/* A short read drained the socket, and the next byte brings a new
	 * edge; not a FIN (or reset) that came with the data, but then
	 * EV_CLOSED said so. */
	if (s->is_socket && !s->rdhup && n > 0 && (size_t)n < total)
		s->readable = false;
	return n;
}

/* Reads into the caller's buffer, and what does not fit into spare room
 * at the end of s->in: so that a read which empties the socket comes
 * back short, and the next read needs no syscall to learn it. */
static ssize_t
plain_recv(struct coro_stream *s, void *buf, size_t len)
{
	struct iovec iov[2];
	ssize_t n;

	iov[0].iov_base = buf;
	iov[0].iov_len = len;
	if (!s->is_socket || (s->spill == NULL &&
	    (s->spill = malloc(STREAM_SPILL)) == NULL))
		return plain_readv(s, iov, 1, len);
	iov[1].iov_base = s->spill;
	iov[1].iov_len = STREAM_SPILL;
	if ((n = plain_readv(s, iov, 2, len + STREAM_SPILL)) <= (ssize_t)len)
		return n;
	if (evbuffer_add(s->in, s->spill, (size_t)n - len) == -1)
		return -ENOMEM;
	return (ssize_t)len;
}

/* Reads into fresh space at the end of s->in. */
static ssize_t
plain_read(struct coro_stream *s)
{
	struct evbuffer_iovec v;
	struct iovec iov;
	ssize_t n;

	if (!s->readable) {
		s->want = CORO_READ;
		return -EAGAIN;
	}
	if (evbuffer_reserve_space(s->in, STREAM_READ_SIZE, &v, 1) != 1)
		return -ENOMEM;
	iov.iov_base = v.iov_base;
	iov.iov_len = v.iov_len;
	if ((n = plain_readv(s, &iov, 1, v.iov_len)) <= 0)
		return n;
	v.iov_len = (size_t)n;
	if (evbuffer_commit_space(s->in, &v, 1) == -1)
		return -ENOMEM;
	return n;
}

static ssize_t
plain_write(struct coro_stream *s)
{
	struct evbuffer_iovec v[STREAM_WRITE_IOV];
	struct iovec iov[STREAM_WRITE_IOV];
	struct msghdr mh;
	ssize_t n;
	int i, nv;

	if (!s->writable) {
		s->want = CORO_WRITE;
		return -EAGAIN;
	}
	nv = evbuffer_peek(s->out, -1, NULL, v, STREAM_WRITE_IOV);
	if (nv <= 0)
		return 0;
	if (nv > STREAM_WRITE_IOV)
		nv = STREAM_WRITE_IOV;
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	/* sendmsg() for sockets: MSG_NOSIGNAL turns a reset peer into
	 * EPIPE instead of killing the process with SIGPIPE. */
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)nv;
	do
		if (!s->is_socket)
			n = writev(s->fd, iov, nv);
		else if (nv == 1)
			n = send(s->fd, iov[0].iov_base, iov[0].iov_len,
			    MSG_NOSIGNAL);
		else
			n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return io_failed(s, CORO_WRITE);
	evbuffer_drain(s->out, (size_t)n);
	return n;
}

static ssize_t
plain_send(struct coro_stream *s, const void *buf, size_t len)
{
	ssize_t n;

	if (!s->writable) {
		s->want = CORO_WRITE;
		return -EAGAIN;
	}
	do
		n = s->is_socket ? send(s->fd, buf, len, MSG_NOSIGNAL) :
		    write(s->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return io_failed(s, CORO_WRITE);
	return n;
}

static int
plain_shutdown(struct coro_stream *s, int64_t deadline)
{
	(void)deadline;
	if (shutdown(s->fd, SHUT_WR) == -1)
		return -errno;
	return 0;
}

static const struct coro__stream_ops plain_ops = {
	.read = plain_read,
	.recv = plain_recv,
	.write = plain_write,
	.send = plain_send,
	.shutdown = plain_shutdown,
	.close = NULL,
};

/* ---- shared helpers ---- */

int
coro__stream_wait(struct coro_stream *s, int dir, int64_t deadline)
{
	bool *ready = dir == CORO_WRITE ? &s->writable : &s->readable;
	struct coro__waitq *q = dir == CORO_WRITE ? &s->wq : &s->rq;
	int err;

	for (;;) {
		/* A task readied just before another one closed the stream
		 * must not touch the fd again; only the closer may. */
		if (s->closed && s->closer != coro_current())
			return -EBADF;
		if (*ready)
			return 0;
		if ((err = coro__waitq_wait(q, deadline)) != 0)
			return err;
	}
}

static void
stream_free(struct coro_stream *s)
{
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	free(s->spill);
	if (s->tls_pre != NULL)
		evbuffer_free(s->tls_pre);
	free(s);
}

void
coro__stream_enter(struct coro_stream *s)
{
	s->busy++;
}

void
coro__stream_leave(struct coro_stream *s)
{
	if (--s->busy == 0 && s->closed && s->fd == -1)
		stream_free(s);
}

/* The entry of every call that may suspend: the cancellation point, then
 * a hold on the stream so a concurrent close cannot free it under us. */
static int
stream_begin(struct coro_stream *s)
{
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	if (s->closed)
		return -EBADF;
	coro__stream_enter(s);
	return 0;
}

/* One successful read from the transport: the count added to s->in, 0 at
 * end of stream (sticky), or a negative errno. */
static ssize_t
stream_fill(struct coro_stream *s, int64_t deadline)
{
	ssize_t n;
	int err;

	for (;;) {
		if (s->eof)
			return 0;
		n = s->ops->read(s);
		if (n == 0)
			s->eof = true;
		if (n != -EAGAIN)
			return n;
		if ((err = coro__stream_wait(s, s->want, deadline)) != 0)
			return err;
	}
}

int
coro__stream_flush(struct coro_stream *s, int64_t deadline)
{
	ssize_t n;
	int err;

	while (evbuffer_get_length(s->out) > 0) {
		n = s->ops->write(s);
		if (n == -EAGAIN) {
			if ((err = coro__stream_wait(s, s->want,
			    deadline)) != 0)
				return err;
		} else if (n < 0)
			return (int)n;
	}
	return 0;
}

/* ---- public ---- */

coro_stream *
coro_stream_from_fd(coro_loop *loop, int fd)
{
	struct coro_stream *s;
	socklen_t len;
	int flags, type, err;

	if (loop == NULL || fd < 0) {
		errno = loop == NULL ? EINVAL : EBADF;
		return NULL;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return NULL;
	if ((flags & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		err = ENOMEM;
		goto fail;
	}
	s->loop = loop;
	s->fd = fd;
	len = sizeof(type);
	s->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
	/* Optimistic: the first call tries its syscall and learns. */
	s->readable = s->writable = true;
	TAILQ_INIT(&s->rq);
	TAILQ_INIT(&s->wq);
	s->ops = &plain_ops;
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->ev = event_new(coro_loop_base(loop), fd,
	    EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET,
	    stream_event_cb, s);
	if (s->in == NULL || s->out == NULL || s->ev == NULL) {
		err = ENOMEM;
		goto fail;
	}
	if (event_add(s->ev, NULL) == -1) {
		/* epoll refuses regular files (EPERM) */
		err = errno != 0 ? errno : EINVAL;
		goto fail;
	}
	return s;
 fail:
	if (s != NULL) {
		if (s->ev != NULL)
			event_free(s->ev);
		if (s->in != NULL)
			evbuffer_free(s->in);
		if (s->out != NULL)
			evbuffer_free(s->out);
		free(s);
	}
	if ((flags & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, flags);
	errno = err;
	return NULL;
}

void
coro_stream_close(coro_stream *s)
{
	if (s == NULL || s->closed)
		return;
	s->closed = true;
	s->closer = coro_current();
	coro__stream_enter(s);
	coro__waitq_wake_all(&s->rq, -EBADF);
	coro__waitq_wake_all(&s->wq, -EBADF);
	if (s->ops->close != NULL)
		s->ops->close(s, s->closer != NULL);
	event_free(s->ev);
	s->ev = NULL;
	(void)close(s->fd);
	s->fd = -1;
	s->closer = NULL;
	coro__stream_leave(s);
}

int
coro_stream_fd(const coro_stream *s)
{
	return s->fd;
}

/* Reads straight into buf while nothing is buffered: up to len bytes,
 * at least min (or end of stream).  Returns the count; on end of stream
 * or an error, what came is put back into s->in, where the buffered
 * functions expect it, and the error (0 at end of stream) returned. */
static ssize_t
stream_recv_direct(struct coro_stream *s, char *buf, size_t min, size_t len,
    int64_t deadline)
{
	size_t got = 0;
	ssize_t n;
	int err;

	while (got < min) {
		if (s->eof)
			n = 0;
		else if ((n = s->ops->recv(s, buf + got, len - got)) > 0) {
			got += (size_t)n;
			if (evbuffer_get_length(s->in) > 0)
				break;	/* buf is full; the rest went there */
			continue;
		} else if (n == -EAGAIN) {
			if ((err = coro__stream_wait(s, s->want, deadline)) == 0)
				continue;
			n = err;
		}
		if (n == 0)
			s->eof = true;
		if (got > 0 && evbuffer_add(s->in, buf, got) == -1)
			return -ENOMEM;
		return n;
	}
	return (ssize_t)got;
}

ssize_t
coro_stream_read(coro_stream *s, void *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	if ((n = stream_begin(s)) != 0)
		return n;
	/* evbuffer_remove() returns an int */
	if (len > INT_MAX)
		len = INT_MAX;
	if (len > 0 && evbuffer_get_length(s->in) == 0)
		n = stream_recv_direct(s, buf, 1, len, deadline);
	else if (len > 0)
		n = evbuffer_remove(s->in, buf, len);
	coro__stream_leave(s);
	return n;
}

ssize_t
coro_stream_read_exact(coro_stream *s, void *buf, size_t len,
    int64_t deadline)
{
	ssize_t n;

	if (len > INT_MAX)
		return -EINVAL;
	if ((n = stream_begin(s)) != 0)
		return n;
	if (len > 0 && evbuffer_get_length(s->in) == 0) {
		n = stream_recv_direct(s, buf, len, len, deadline);
		if (n == 0 && evbuffer_get_length(s->in) > 0)
			n = -EPIPE;	/* what came stays buffered */
		coro__stream_leave(s);
		return n;
	}
	while (evbuffer_get_length(s->in) < len) {
		if ((n = stream_fill(s, deadline)) <= 0)
			break;
	}
	if (evbuffer_get_length(s->in) >= len)
		n = evbuffer_remove(s->in, buf, len);
	else if (n == 0 && evbuffer_get_length(s->in) > 0)
		n = -EPIPE;	/* what came stays buffered */
	coro__stream_leave(s);
	return n;
}

/* Where delim ends in s->in (its offset + delimlen), searching from
 * *scanned, or 0; advances *scanned past positions already ruled out. */
static size_t
stream_find(struct coro_stream *s, const char *delim, size_t delimlen,
    size_t *scanned)
{
	struct evbuffer_ptr start, p;
	size_t have = evbuffer_get_length(s->in);

	if (have < delimlen)
		return 0;
	if (evbuffer_ptr_set(s->in, &start, *scanned, EVBUFFER_PTR_SET) == -1)
		evbuffer_ptr_set(s->in, &start, 0, EVBUFFER_PTR_SET);
	p = evbuffer_search(s->in, delim, delimlen, &start);
	if (p.pos >= 0)
		return (size_t)p.pos + delimlen;
	*scanned = have - delimlen + 1;
	return 0;
}

ssize_t
coro_stream_read_until(coro_stream *s, void *buf, size_t len,
    const char *delim, size_t delimlen, int64_t deadline)
{
	size_t scanned = 0, end;
	ssize_t n;

	if (delim == NULL || delimlen == 0 || len > INT_MAX)
		return -EINVAL;
	if ((n = stream_begin(s)) != 0)
		return n;
	for (;;) {
		if ((end = stream_find(s, delim, delimlen, &scanned)) > 0) {
			n = end > len ? -ENOBUFS :
			    evbuffer_remove(s->in, buf, end);
			break;
		}
		if (evbuffer_get_length(s->in) >= len) {
			n = -ENOBUFS;
			break;
		}
		if ((n = stream_fill(s, deadline)) < 0)
			break;
		if (n == 0) {
			if (evbuffer_get_length(s->in) > 0)
				n = -EPIPE;
			break;
		}
	}
	coro__stream_leave(s);
	return n;
}

ssize_t
coro_stream_read_line(coro_stream *s, char *buf, size_t len,
    int64_t deadline)
{
	ssize_t n;

	/* Like fgets(): the '\n' is kept and a NUL added, so the line
	 * itself may be len - 1 bytes long. */
	if (len < 2)
		return -EINVAL;
	n = coro_stream_read_until(s, buf, len - 1, "\n", 1, deadline);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

ssize_t
coro_stream_fill(coro_stream *s, int64_t deadline)
{
	ssize_t n;

	if ((n = stream_begin(s)) != 0)
		return n;
	n = stream_fill(s, deadline);
	coro__stream_leave(s);
	return n;
}

struct evbuffer *
coro_stream_input(coro_stream *s)
{
	return s->in;
}

struct evbuffer *
coro_stream_output(coro_stream *s)
{
	return s->out;
}

int
coro_stream_write(coro_stream *s, const void *buf, size_t len)
{
	if (s->closed)
		return -EBADF;
	if (s->wshut)
		return -EPIPE;
	if (len > 0 && evbuffer_add(s->out, buf, len) == -1)
		return -ENOMEM;
	return 0;
}

int
coro_stream_flush(coro_stream *s, int64_t deadline)
{
	int err;

	if ((err = stream_begin(s)) != 0)
		return err;
	err = coro__stream_flush(s, deadline);
	coro__stream_leave(s);
	return err;
}

int
coro_stream_write_all(coro_stream *s, const void *buf, size_t len,
    int64_t deadline)
{
	const char *p = buf;
	ssize_t n;
	int err;

	/* Nothing queued, no other writer: send from the caller's buffer,
	 * and queue what is left only if that fails. */
	if (!s->closed && !s->wshut && evbuffer_get_length(s->out) == 0 &&
	    TAILQ_FIRST(&s->wq) == NULL) {
		while (len > 0) {
			if ((n = coro_stream_send(s, p, len, deadline)) < 0) {
				(void)coro_stream_write(s, p, len);
				return (int)n;
			}
			p += n;
			len -= (size_t)n;
		}
		return 0;
	}
	if ((err = coro_stream_write(s, buf, len)) != 0)
		return err;
	return coro_stream_flush(s, deadline);
}

ssize_t
coro_stream_flush_nowait(coro_stream *s)
{
	ssize_t n;

	if (s->closed)
		return -EBADF;
	/* a task inside a flush owns the transport: let it carry on */
	if (s->busy > 0 && TAILQ_FIRST(&s->wq) != NULL)
		return (ssize_t)evbuffer_get_length(s->out);
	coro__stream_enter(s);
	while (evbuffer_get_length(s->out) > 0) {
		if ((n = s->ops->write(s)) < 0) {
			if (n != -EAGAIN) {
				coro__stream_leave(s);
				return n;
			}
			break;
		}
	}
	n = (ssize_t)evbuffer_get_length(s->out);
	coro__stream_leave(s);
	return n;
}

ssize_t
coro_stream_send_nowait(coro_stream *s, const void *buf, size_t len)
{
	ssize_t n;

	if (s->closed)
		return -EBADF;
	if (s->wshut)
		return -EPIPE;
	/* bytes already in the output buffer go first; a task waiting to
	 * send owns the transport */
	if (evbuffer_get_length(s->out) > 0 || TAILQ_FIRST(&s->wq) != NULL)
		return 0;
	if (len == 0)
		return 0;
	coro__stream_enter(s);
	n = s->ops->send(s, buf, len);
	if (n == -EAGAIN)
		s->send_want = s->want;
	coro__stream_leave(s);
	return n == -EAGAIN ? 0 : n;
}

ssize_t
coro_stream_send(coro_stream *s, const void *buf, size_t len,
    int64_t deadline)
{
	ssize_t n;
	int err;

	if ((n = stream_begin(s)) != 0)
		return n;
	if (s->wshut)
		n = -EPIPE;
	else if ((n = coro__stream_flush(s, deadline)) == 0 && len > 0) {
		while ((n = s->ops->send(s, buf, len)) == -EAGAIN) {
			if ((err = coro__stream_wait(s, s->want,
			    deadline)) != 0) {
				n = err;
				break;
			}
		}
	}
	coro__stream_leave(s);
	return n;
}

int
coro_stream_wait_send(coro_stream *s, int64_t deadline)
{
	int err;

	if ((err = stream_begin(s)) != 0)
		return err;
	if (s->wshut)
		err = -EPIPE;
	else if ((err = coro__stream_flush(s, deadline)) == 0)
		err = coro__stream_wait(s, s->send_want != 0 ? s->send_want :
		    CORO_WRITE, deadline);
	coro__stream_leave(s);
	return err;
}

size_t
coro_stream_pending(coro_stream *s)
{
	return evbuffer_get_length(s->out);
}

int
coro_stream_shutdown(coro_stream *s, int64_t deadline)
{
	int err;

	if ((err = stream_begin(s)) != 0)
		return err;
	if (!s->wshut && (err = coro__stream_flush(s, deadline)) == 0 &&
	    (err = s->ops->shutdown(s, deadline)) == 0)
		s->wshut = true;
	coro__stream_leave(s);
	return err;
}

/* ---- one-shot waits ---- */

struct fd_wait {
	struct coro__waiter	 w;
	struct event		*ev;
	short			 events;
};

static void
fd_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fd_wait *fw = arg;
	int ready = what & (EV_READ | EV_WRITE);

	(void)fd;
	coro__wake(&fw->w, ready != 0 ? ready : fw->events);
}

static void
fd_wait_unlink(struct coro__waiter *w)
{
	struct fd_wait *fw = w->data;

	event_del(fw->ev);
}

int
coro_wait_fd(int fd, short events, int64_t deadline)
{
	struct fd_wait fw;
	coro_task *t;
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	events &= CORO_READ | CORO_WRITE;
	if (fd < 0 || events == 0)
		return -EINVAL;
	t = coro_current();
	memset(&fw, 0, sizeof(fw));
	fw.events = events;
	fw.w.unlink = fd_wait_unlink;
	fw.w.data = &fw;
	fw.ev = event_new(coro_loop_base(coro_task_loop(t)), fd, events,
	    fd_wait_cb, &fw);
	if (fw.ev == NULL)
		return -ENOMEM;
	if (event_add(fw.ev, NULL) == -1) {
		err = errno != 0 ? -errno : -EINVAL;
		event_free(fw.ev);
		return err;
	}
	err = coro__wait(&fw.w, deadline);
	event_free(fw.ev);
	return err;
}
