/*
 * udp.c: datagram sockets.  Like a stream, the fd is registered once
 * (EV_READ|EV_WRITE|EV_PERSIST|EV_ET) with a readiness flag and a wait
 * queue per direction; a call tries recvfrom/sendto first and waits only
 * after EAGAIN.  There is no buffering: one call, one datagram.
 *
 * The address rules are those of coro_tcp_listen(): NULL, "" and "::"
 * bind every address, IPv4 included (an AF_INET6 socket with IPV6_V6ONLY
 * off; it receives IPv4 peers as ::ffff:a.b.c.d and Linux accepts plain
 * AF_INET destinations on it), falling back to 0.0.0.0 without IPv6.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "coro-internal.h"

struct coro_udp {
	coro_loop	*loop;
	int		 fd;		/* -1 once closed */
	struct event	*ev;		/* all events, added once, ET */
	bool		 readable;	/* cleared on EAGAIN only */
	bool		 writable;
	bool		 closed;
	/* calls in progress; the last to leave frees a closed socket */
	int		 busy;
	struct coro__waitq rq;
	struct coro__waitq wq;
};

static void
udp_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coro_udp *u = arg;

	(void)fd;
	if (what & EV_READ) {
		u->readable = true;
		coro__waitq_wake_all(&u->rq, 0);
	}
	if (what & EV_WRITE) {
		u->writable = true;
		coro__waitq_wake_all(&u->wq, 0);
	}
}

static int
udp_bind(const char *host, const char *port, int *fdp)
{
	struct addrinfo hints, *res, *ai;
	const struct sockaddr_in6 *sin6;
	int rc, fd, err, off = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	/* Never suspends, so names are resolved inline (at startup). */
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		switch (rc) {
		case EAI_MEMORY:
			return -ENOMEM;
		case EAI_AGAIN:
			return -EAGAIN;
		case EAI_SERVICE:
			return -EINVAL;
		case EAI_SYSTEM:
			return errno != 0 ? -errno : -EIO;
		default:
			return -ENOENT;
		}
	}
	err = -ENOENT;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = -errno;
			continue;
		}
		sin6 = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
		if ((ai->ai_family == AF_INET6 &&
		    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		    sizeof(off)) == -1) ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			err = -errno;
			(void)close(fd);
			continue;
		}
		*fdp = fd;
		err = 0;
		break;
	}
	freeaddrinfo(res);
	return err;
}

int
coro_udp_open(coro_loop *loop, const char *host, const char *port,
    coro_udp **out)
{
	struct coro_udp *u;
	bool any;
	int err, fd;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (loop == NULL)
		return -EINVAL;
	if (port == NULL || *port == '\0')
		port = "0";
	any = host == NULL || *host == '\0';
	err = udp_bind(any ? "::" : host, port, &fd);
	if (any && err == -EAFNOSUPPORT)
		err = udp_bind("0.0.0.0", port, &fd);
	if (err != 0)
		return err;
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		(void)close(fd);
		return -ENOMEM;
	}
	u->loop = loop;
	u->fd = fd;
	u->readable = u->writable = true;
	TAILQ_INIT(&u->rq);
	TAILQ_INIT(&u->wq);
	u->ev = event_new(coro_loop_base(loop), fd,
	    EV_READ | EV_WRITE | EV_PERSIST | EV_ET, udp_event_cb, u);
	if (u->ev == NULL || event_add(u->ev, NULL) == -1) {
		err = u->ev == NULL ? -ENOMEM : -EINVAL;
		if (u->ev != NULL)
			event_free(u->ev);
		free(u);
		(void)close(fd);
		return err;
	}
	*out = u;
	return 0;
}

static int
udp_begin(struct coro_udp *u)
{
	int err;

	if ((err = coro__checkpoint()) != 0)
		return err;
	if (u->closed)
		return -EBADF;
	u->busy++;
	return 0;
}

static void
udp_leave(struct coro_udp *u)
{
	if (--u->busy == 0 && u->closed)
		free(u);
}

ssize_t
coro_udp_recvfrom(coro_udp *u, void *buf, size_t len,
    struct sockaddr_storage *from, socklen_t *fromlen, int64_t deadline)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t n;
	int err;

	if ((err = udp_begin(u)) != 0)
		return err;
	for (;;) {
		if (u->closed) {
			n = -EBADF;
			break;
		}
		if (u->readable) {
			sl = sizeof(ss);
			/* a longer datagram is cut to len, the rest lost */
			n = recvfrom(u->fd, buf, len, 0,
			    (struct sockaddr *)&ss, &sl);
			if (n >= 0) {
				if (from != NULL)
					memcpy(from, &ss, sizeof(ss));
				if (fromlen != NULL)
					*fromlen = sl;
				break;
			}
			err = errno;
			if (err == EINTR)
				continue;
			if (err != EAGAIN && err != EWOULDBLOCK) {
				n = -err;
				break;
			}
			u->readable = false;
		}
		if ((err = coro__waitq_wait(&u->rq, deadline)) != 0) {
			n = err;
			break;
		}
	}
	udp_leave(u);
	return n;
}

ssize_t
coro_udp_sendto(coro_udp *u, const void *buf, size_t len,
    const struct sockaddr *to, socklen_t tolen, int64_t deadline)
{
	ssize_t n;
	int err;

	if (to == NULL)
		return -EINVAL;
	if ((err = udp_begin(u)) != 0)
		return err;
	for (;;) {
		if (u->closed) {
			n = -EBADF;
			break;
		}
		if (u->writable) {
			n = sendto(u->fd, buf, len, MSG_NOSIGNAL, to, tolen);
			if (n >= 0)
				break;
			err = errno;
			if (err == EINTR)
				continue;
			if (err != EAGAIN && err != EWOULDBLOCK) {
				n = -err;
				break;
			}
			u->writable = false;
		}
		if ((err = coro__waitq_wait(&u->wq, deadline)) != 0) {
			n = err;
			break;
		}
	}
	udp_leave(u);
	return n;
}

int
coro_udp_fd(const coro_udp *u)
{
	return u->fd;
}

int
coro_udp_port(const coro_udp *u)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (u->fd < 0)
		return -EBADF;
	if (getsockname(u->fd, (struct sockaddr *)&ss, &len) == -1)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

void
coro_udp_close(coro_udp *u)
{
	if (u == NULL || u->closed)
		return;
	u->closed = true;
	coro__waitq_wake_all(&u->rq, -EBADF);
	coro__waitq_wake_all(&u->wq, -EBADF);
	event_free(u->ev);
	u->ev = NULL;
	(void)close(u->fd);
	u->fd = -1;
	if (u->busy == 0)
		free(u);
}
