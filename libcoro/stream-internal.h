/*
 * stream-internal.h: the body of struct coro_stream, shared by stream.c
 * (buffers, waiting, plain sockets and pipes), net.c (which makes streams
 * out of connected sockets) and tls.c (which swaps the transport for one
 * driving OpenSSL on the same fd).
 *
 * A stream registers its fd once with the loop's event_base, edge
 * triggered and persistent, and keeps one readiness flag and one wait
 * queue per direction.  A transport's read or write makes one attempt;
 * when it cannot progress it says which direction it needs (a TLS write
 * may need the fd readable) and the generic code waits for that flag.
 */
#ifndef LIBCORO_STREAM_INTERNAL_H
#define LIBCORO_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "coro-internal.h"

struct coro__stream_ops {
	/* One attempt to add bytes to s->in: the count, 0 at end of
	 * stream, -EAGAIN after setting s->want, or a negative errno. */
	ssize_t	(*read)(struct coro_stream *s);
	/* One attempt to read into the caller's buffer while s->in is
	 * empty (saves the copy through s->in): as read. */
	ssize_t	(*recv)(struct coro_stream *s, void *buf, size_t len);
	/* One attempt to send the head of s->out, draining what was sent:
	 * the count, -EAGAIN after setting s->want, or a negative errno. */
	ssize_t	(*write)(struct coro_stream *s);
	/* One attempt to send len bytes of buf directly, bypassing s->out
	 * (which is empty): the count, -EAGAIN after setting s->want, or a
	 * negative errno.  A retry after -EAGAIN passes the same bytes
	 * again, perhaps moved and with more after them (TLS needs that). */
	ssize_t	(*send)(struct coro_stream *s, const void *buf, size_t len);
	/* Shuts the write side once s->out is empty.  May suspend. */
	int	(*shutdown)(struct coro_stream *s, int64_t deadline);
	/* Last words before the fd closes (TLS close_notify) and release
	 * of the transport's state; in_task tells whether it may wait. */
	void	(*close)(struct coro_stream *s, bool in_task);
};

struct coro_stream {
	coro_loop	*loop;
	int		 fd;		/* -1 once closed */
	/* EV_READ|EV_WRITE|EV_CLOSED|EV_PERSIST|EV_ET, added once */
	struct event	*ev;
	bool		 is_socket;	/* send with MSG_NOSIGNAL */
	/* Set by the event callback, cleared when a syscall said EAGAIN
	 * or a read came back short (unless rdhup): with edge triggering
	 * a new edge follows every clear. */
	bool		 readable;
	bool		 writable;
	bool		 rdhup;		/* EV_CLOSED seen: a FIN or reset
					   may wait behind the data */
	bool		 eof;		/* end of stream seen */
	bool		 wshut;		/* write side shut */
	bool		 closed;	/* coro_stream_close() was called */
	int		 want;		/* direction, after -EAGAIN */
	int		 send_want;	/* want after a direct send's
					   -EAGAIN; 0 = none yet */
	/* calls in progress; the last to leave frees a closed stream */
	int		 busy;
	coro_task	*closer;	/* the task closing, which may wait */
	struct coro__waitq rq;		/* tasks waiting for readable */
	struct coro__waitq wq;		/* tasks waiting for writable */
	struct evbuffer	*in;		/* received plaintext */
	char		*spill;		/* a direct read's overflow,
					   STREAM_SPILL bytes, made on
					   first use */
	struct evbuffer	*out;		/* plaintext to send */
	const struct coro__stream_ops *ops;

	/* TLS (tls.c); ssl is NULL on plain streams. */
	struct ssl_st	*ssl;
	/* ciphertext read before the upgrade, fed to OpenSSL first */
	struct evbuffer	*tls_pre;
	/* sticky error after a fatal SSL failure (no SSL call may
	 * follow, SSL_shutdown included), or 0 */
	int		 tls_fatal;
	int		 tls_syserr;	/* errno seen by the BIO */
	bool		 tls_bio_eof;	/* the BIO read EOF */
	bool		 tls_done;	/* handshake completed */
	bool		 tls_shut;	/* close_notify sent */
	char		 tls_err[256];	/* coro_tls_error() */
};

/* Waits until the fd is ready in direction dir (CORO_READ or CORO_WRITE)
 * as far as the flags know; 0, -ETIMEDOUT, -ECANCELED or -EBADF once the
 * stream is closed by another task.  May suspend. */
CORO_HIDDEN int coro__stream_wait(struct coro_stream *s, int dir,
    int64_t deadline);
/* Marks a call in progress / ended; the end frees a closed stream. */
CORO_HIDDEN void coro__stream_enter(struct coro_stream *s);
CORO_HIDDEN void coro__stream_leave(struct coro_stream *s);
/* Sends the whole output buffer through the current transport. */
CORO_HIDDEN int coro__stream_flush(struct coro_stream *s, int64_t deadline);

#endif /* LIBCORO_STREAM_INTERNAL_H */
