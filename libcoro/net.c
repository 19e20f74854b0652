/*
 * net.c: TCP and Unix-domain stream sockets: connecting, listening and
 * accepting, each connection becoming a coro_stream.
 *
 * Host names are resolved with getaddrinfo() on the loop's default
 * executor, since it blocks; numeric hosts with numeric ports are
 * resolved inline.  A connect is started non-blocking, the socket turned
 * into a stream (registered once) and the task waits for it to become
 * writable, then reads SO_ERROR.  A listener registers its fd once
 * (EV_READ|EV_PERSIST|EV_ET) with a readiness flag and a wait queue of
 * acceptors, like a stream's read side.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "coro-internal.h"
#include "stream-internal.h"

/* A full Unix backlog sends no event when it drains, so retry. */
#define UNIX_CONNECT_RETRY_MS	10

struct coro_listener {
	coro_loop	*loop;
	int		 fd;		/* -1 once closed */
	struct event	*ev;		/* EV_READ|EV_PERSIST|EV_ET */
	bool		 readable;	/* cleared on EAGAIN only */
	bool		 closed;
	/* accepts in progress; the last to leave frees a closed one */
	int		 busy;
	struct coro__waitq q;		/* tasks waiting in coro_accept */
	/* the Unix socket file we made and its identity, so that close
	 * never unlinks the socket of a server started after us */
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
};

/* ---- name resolution ---- */

struct resolve_job {
	const char		*host;
	const char		*port;
	struct addrinfo		 hints;
	struct addrinfo		*res;
	int			 rc;
	int			 syserr;
};

static int
gai_to_errno(int rc, int syserr)
{
	switch (rc) {
	case 0:
		return 0;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return syserr != 0 ? -syserr : -EIO;
	case EAI_SERVICE:
	case EAI_BADFLAGS:
	case EAI_FAMILY:
	case EAI_SOCKTYPE:
		return -EINVAL;
	default:	/* EAI_NONAME, EAI_NODATA, EAI_FAIL, EAI_ADDRFAMILY */
		return -ENOENT;
	}
}

/* Runs on an executor thread: touches nothing but the job. */
static void *
resolve_work(void *arg)
{
	struct resolve_job *j = arg;

	j->rc = getaddrinfo(j->host, j->port, &j->hints, &j->res);
	if (j->rc == EAI_SYSTEM)
		j->syserr = errno;
	return NULL;
}

static bool
all_digits(const char *p)
{
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* Resolves host:port into *res.  Numeric addresses never block; names are
 * looked up on the executor when may_suspend, else inline (listening
 * happens at startup, often before any task runs). */
static int
net_resolve(coro_loop *loop, const char *host, const char *port, int socktype,
    int flags, bool may_suspend, int64_t deadline, struct addrinfo **res)
{
	struct resolve_job j;
	int err;

	memset(&j, 0, sizeof(j));
	j.host = host;
	j.port = port;
	j.hints.ai_family = AF_UNSPEC;
	j.hints.ai_socktype = socktype;
	if (all_digits(port)) {
		j.hints.ai_flags = flags | AI_NUMERICHOST | AI_NUMERICSERV;
		j.rc = getaddrinfo(host, port, &j.hints, &j.res);
		if (j.rc != EAI_NONAME) {
			err = gai_to_errno(j.rc, errno);
			goto done;
		}
	}
	j.hints.ai_flags = flags;
	if (!may_suspend) {
		resolve_work(&j);
		err = gai_to_errno(j.rc, j.syserr);
		goto done;
	}
	/* A job that started is waited for even on timeout, so j may live
	 * on this stack. */
	err = coro_run_in_executor(coro_loop_executor(loop), resolve_work, &j,
	    NULL, deadline);
	if (err == 0)
		err = gai_to_errno(j.rc, j.syserr);
 done:
	if (err == 0 && j.res == NULL)
		err = -ENOENT;
	if (err != 0 && j.res != NULL) {
		freeaddrinfo(j.res);
		j.res = NULL;
	}
	*res = j.res;
	return err;
}

/* ---- connecting ---- */

/* Connects the non-blocking socket fd (consumed) and makes it a stream. */
static int
sock_connect(coro_loop *loop, int fd, const struct sockaddr *sa,
    socklen_t salen, int64_t deadline, coro_stream **out)
{
	coro_stream *s;
	socklen_t len;
	int64_t next;
	int err, soerr;
	bool pending = false;

	for (;;) {
		if (connect(fd, sa, salen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS || err == EINTR) {
			pending = true;
			break;
		}
		if (err != EAGAIN || sa->sa_family != AF_UNIX) {
			err = -err;
			goto fail;
		}
		/* A Unix listener's backlog is full. */
		next = coro_deadline_in(UNIX_CONNECT_RETRY_MS);
		if (deadline != CORO_NEVER) {
			if (coro_now() >= deadline) {
				err = -ETIMEDOUT;
				goto fail;
			}
			if (deadline < next)
				next = deadline;
		}
		if ((err = coro_sleep_until(next)) != 0)
			goto fail;
	}
	if ((s = coro_stream_from_fd(loop, fd)) == NULL) {
		err = -errno;
		goto fail;
	}
	if (pending) {
		/* Registered while connecting: the edge of completion (or
		 * failure, EPOLLERR) is still to come. */
		s->writable = false;
		err = coro__stream_wait(s, CORO_WRITE, deadline);
		len = sizeof(soerr);
		if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == -1)
			err = -errno;
		else if (err == 0 && soerr != 0)
			err = -soerr;
		if (err != 0) {
			coro_stream_close(s);
			return err;
		}
	}
	*out = s;
	return 0;
 fail:
	(void)close(fd);
	return err;
}

int
coro_tcp_connect(coro_loop *loop, const char *host, const char *port,
    int64_t deadline, coro_stream **out)
{
	struct addrinfo *res, *ai;
	int err, fd, one = 1;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if ((err = coro__checkpoint()) != 0)
		return err;
	if (loop == NULL || host == NULL || port == NULL)
		return -EINVAL;
	if ((err = net_resolve(loop, host, port, SOCK_STREAM, 0, true,
	    deadline, &res)) != 0)
		return err;
	err = -ENOENT;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			err = -errno;
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		err = sock_connect(loop, fd, ai->ai_addr, ai->ai_addrlen,
		    deadline, out);
		/* the deadline covers all addresses */
		if (err == 0 || err == -ETIMEDOUT || err == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	return err;
}

static int
unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n;

	if (path == NULL || (n = strlen(path)) == 0)
		return -EINVAL;
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
coro_unix_connect(coro_loop *loop, const char *path, int64_t deadline,
    coro_stream **out)
{
	struct sockaddr_un sun;
	socklen_t len;
	int err, fd;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if ((err = coro__checkpoint()) != 0)
		return err;
	if (loop == NULL)
		return -EINVAL;
	if ((err = unix_addr(path, &sun, &len)) != 0)
		return err;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -errno;
	return sock_connect(loop, fd, (struct sockaddr *)&sun, len, deadline,
	    out);
}

/* ---- listening ---- */

static void
listener_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coro_listener *l = arg;

	(void)fd;
	if (what & EV_READ) {
		l->readable = true;
		coro__waitq_wake_all(&l->q, 0);
	}
}

/* Wraps the listening fd; on failure the caller still owns fd. */
static int
listener_new(coro_loop *loop, int fd, const char *path, coro_listener **out)
{
	struct coro_listener *l;
	struct stat st;
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -errno;
	if ((flags & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -errno;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->loop = loop;
	l->fd = fd;
	l->readable = true;
	TAILQ_INIT(&l->q);
	if (path != NULL) {
		if ((l->path = strdup(path)) == NULL)
			goto nomem;
		if (lstat(path, &st) == 0) {
			l->dev = st.st_dev;
			l->ino = st.st_ino;
		}
	}
	l->ev = event_new(coro_loop_base(loop), fd,
	    EV_READ | EV_PERSIST | EV_ET, listener_event_cb, l);
	if (l->ev == NULL)
		goto nomem;
	if (event_add(l->ev, NULL) == -1) {
		event_free(l->ev);
		free(l->path);
		free(l);
		return -EINVAL;
	}
	*out = l;
	return 0;
 nomem:
	free(l->path);
	free(l);
	return -ENOMEM;
}

static int
tcp_listen_ai(const struct addrinfo *ai, int backlog, int *fdp)
{
	const struct sockaddr_in6 *sin6;
	int fd, err, one = 1, v6only;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (ai->ai_family == AF_INET6) {
		/* "::" means every address, IPv4 too, whatever the
		 * net.ipv6.bindv6only sysctl says; other IPv6 addresses
		 * keep the system default. */
		sin6 = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
			v6only = 0;
			if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			    sizeof(v6only)) == -1)
				goto fail;
		}
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, backlog) == -1)
		goto fail;
	*fdp = fd;
	return 0;
 fail:
	err = -errno;
	(void)close(fd);
	return err;
}

int
coro_tcp_listen(coro_loop *loop, const char *host, const char *port,
    int backlog, coro_listener **out)
{
	struct addrinfo *res, *ai;
	bool any;
	int err, fd = -1;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (loop == NULL || port == NULL)
		return -EINVAL;
	if (backlog <= 0)
		backlog = SOMAXCONN;
	any = host == NULL || *host == '\0';
	err = net_resolve(loop, any ? "::" : host, port, SOCK_STREAM,
	    AI_PASSIVE, false, CORO_NEVER, &res);
	if (err == 0) {
		err = -ENOENT;
		for (ai = res; ai != NULL; ai = ai->ai_next)
			if ((err = tcp_listen_ai(ai, backlog, &fd)) == 0)
				break;
		freeaddrinfo(res);
	}
	if (any && err == -EAFNOSUPPORT) {
		/* no IPv6 on this host */
		if ((err = net_resolve(loop, "0.0.0.0", port, SOCK_STREAM,
		    AI_PASSIVE, false, CORO_NEVER, &res)) != 0)
			return err;
		err = tcp_listen_ai(res, backlog, &fd);
		freeaddrinfo(res);
	}
	if (err != 0)
		return err;
	if ((err = listener_new(loop, fd, NULL, out)) != 0)
		(void)close(fd);
	return err;
}

/* bind() said EADDRINUSE for path: removes the file if it is a socket
 * nobody listens on any more.  0 when removed, else -EADDRINUSE. */
static int
unix_remove_stale(const char *path, const struct sockaddr_un *sun,
    socklen_t len)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -EADDRINUSE;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, len);
	err = errno;
	(void)close(fd);
	/* accepted, or a full backlog (EAGAIN): somebody is there */
	if (rc == 0 || err != ECONNREFUSED)
		return -EADDRINUSE;
	if (unlink(path) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

int
coro_unix_listen(coro_loop *loop, const char *path, unsigned mode,
    int backlog, coro_listener **out)
{
	struct sockaddr_un sun;
	socklen_t len;
	int err, fd;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (loop == NULL)
		return -EINVAL;
	if ((err = unix_addr(path, &sun, &len)) != 0)
		return err;
	if (backlog <= 0)
		backlog = SOMAXCONN;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
		err = errno;
		if (err != EADDRINUSE ||
		    (err = -unix_remove_stale(path, &sun, len)) != 0)
			goto fail;
		if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
			err = errno;
			goto fail;
		}
	}
	if ((mode != 0 && chmod(path, (mode_t)mode) == -1) ||
	    listen(fd, backlog) == -1) {
		err = errno;
		(void)unlink(path);
		goto fail;
	}
	if ((err = -listener_new(loop, fd, path, out)) != 0) {
		(void)unlink(path);
		goto fail;
	}
	return 0;
 fail:
	(void)close(fd);
	return -err;
}

int
coro_listener_from_fd(coro_loop *loop, int fd, coro_listener **out)
{
	socklen_t len;
	int on = 0;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (loop == NULL || fd < 0)
		return -EINVAL;
	len = sizeof(on);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1)
		return -errno;
	if (!on)
		return -EINVAL;
	return listener_new(loop, fd, NULL, out);
}

static void
listener_free(struct coro_listener *l)
{
	free(l->path);
	free(l);
}

/* accept(2) errors that belong to one failed connection, not to the
 * listener: Linux passes pending network errors on through accept. */
static bool
accept_retry(int err)
{
	switch (err) {
	case ECONNABORTED:
	case EINTR:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

int
coro_accept(coro_listener *l, coro_stream **out, struct sockaddr_storage *peer,
    socklen_t *peerlen, int64_t deadline)
{
	struct sockaddr_storage ss;
	coro_stream *s;
	socklen_t sl;
	int err, fd, one = 1;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if ((err = coro__checkpoint()) != 0)
		return err;
	if (l->closed)
		return -EBADF;
	l->busy++;
	for (;;) {
		if (l->closed) {
			err = -EBADF;
			break;
		}
		if (l->readable) {
			sl = sizeof(ss);
			fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				if (ss.ss_family == AF_INET ||
				    ss.ss_family == AF_INET6)
					(void)setsockopt(fd, IPPROTO_TCP,
					    TCP_NODELAY, &one, sizeof(one));
				if ((s = coro_stream_from_fd(l->loop, fd)) ==
				    NULL) {
					err = -errno;
					(void)close(fd);
					break;
				}
				if (peer != NULL)
					memcpy(peer, &ss, sizeof(ss));
				if (peerlen != NULL)
					*peerlen = sl;
				*out = s;
				err = 0;
				break;
			}
			err = errno;
			if (err == EAGAIN || err == EWOULDBLOCK)
				l->readable = false;
			else if (accept_retry(err))
				continue;
			else {
				/* EMFILE, ENFILE, ENOBUFS...: the caller's */
				err = -err;
				break;
			}
		}
		if ((err = coro__waitq_wait(&l->q, deadline)) != 0)
			break;
	}
	if (--l->busy == 0 && l->closed)
		listener_free(l);
	return err;
}

int
coro_listener_fd(const coro_listener *l)
{
	return l->fd;
}

int
coro_listener_addr(const coro_listener *l, struct sockaddr_storage *ss,
    socklen_t *len)
{
	socklen_t n = sizeof(*ss);

	if (l->fd < 0)
		return -EBADF;
	memset(ss, 0, sizeof(*ss));
	if (getsockname(l->fd, (struct sockaddr *)ss, &n) == -1)
		return -errno;
	if (len != NULL)
		*len = n;
	return 0;
}

int
coro_listener_port(const coro_listener *l)
{
	struct sockaddr_storage ss;
	int err;

	if ((err = coro_listener_addr(l, &ss, NULL)) != 0)
		return err;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

void
coro_listener_close(coro_listener *l)
{
	struct stat st;

	if (l == NULL || l->closed)
		return;
	l->closed = true;
	coro__waitq_wake_all(&l->q, -EBADF);
	event_free(l->ev);
	l->ev = NULL;
	/* Only our own socket file: a new server may have replaced it. */
	if (l->path != NULL && lstat(l->path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		(void)unlink(l->path);
	(void)close(l->fd);
	l->fd = -1;
	if (l->busy == 0)
		listener_free(l);
}
