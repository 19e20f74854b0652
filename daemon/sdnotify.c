/*
 * sdnotify.c: the two systemd protocols corobusd speaks, written from
 * their documentation (sd_notify(3), sd_listen_fds(3)) rather than linked
 * from libsystemd.
 *
 * Notification: one datagram per state change ("READY=1\nSTATUS=...") to
 * the AF_UNIX socket named by $NOTIFY_SOCKET, a path or, with a leading
 * '@', a name in the abstract namespace.  Without $NOTIFY_SOCKET every
 * call is a no-op.  With $WATCHDOG_USEC set (and $WATCHDOG_PID unset or
 * ours), a timer on the loop sends WATCHDOG=1 at half the interval.
 *
 * Socket activation: $LISTEN_PID must be our pid; $LISTEN_FDS sockets
 * start at fd 3, named by $LISTEN_FDNAMES.  Each configured listener
 * takes the socket whose getsockname() address and SO_TYPE match it (the
 * names only appear in the log); what no listener takes is closed with a
 * warning once start-up is over.  The variables are unset, so nothing
 * started later inherits them.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corobusd.h"
#include "log.h"

#define SD_LISTEN_FDS_START	3
#define SD_FDS_MAX		64	/* more is a misconfiguration */
#define SD_MSG_MAX		1024

struct sd_socket {
	int			 fd;		/* -1: taken or closed */
	int			 type;		/* SO_TYPE */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 name[64];	/* from LISTEN_FDNAMES */
};

static struct sd_socket	 sd_sockets[SD_FDS_MAX];
static size_t		 sd_nsockets;
static coro_timer	*sd_watchdog;

/* ---- notification ---- */

int
sdnotify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	char msg[SD_MSG_MAX];
	socklen_t len;
	va_list ap;
	size_t plen;
	ssize_t n;
	int fd, r;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((path[0] != '/' && path[0] != '@') ||
	    (plen = strlen(path)) >= sizeof(sun.sun_path))
		return -EAFNOSUPPORT;	/* vsock and friends: not ours */
	va_start(ap, fmt);
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(msg))
		return -EMSGSIZE;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract: no NUL at the end */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	n = sendto(fd, msg, (size_t)r, MSG_NOSIGNAL,
	    (const struct sockaddr *)&sun, len);
	r = n == -1 ? -errno : 0;
	(void)close(fd);
	if (r != 0)
		log_debug("sdnotify: %s: %s", path, strerror(-r));
	return r;
}

static uint64_t
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
sdnotify_ready(struct server *srv)
{
	(void)sdnotify("READY=1\nSTATUS=ready: %zu listener%s, %zu "
	    "client%s", srv->nlisteners,
	    srv->nlisteners == 1 ? "" : "s", srv->nclients,
	    srv->nclients == 1 ? "" : "s");
}

void
sdnotify_reloading(void)
{
	(void)sdnotify("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
	    (unsigned long long)monotonic_usec());
}

void
sdnotify_reload_failed(const char *why)
{
	char line[256];
	size_t i;

	/* one STATUS line: the message must not end the field early */
	snprintf(line, sizeof(line), "%s", why);
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	(void)sdnotify("READY=1\nSTATUS=reload failed: %s", line);
}

void
sdnotify_stopping(const char *status)
{
	(void)sdnotify("STOPPING=1\nSTATUS=%s", status);
}

static void
sdnotify_watchdog_tick(void *arg)
{
	(void)arg;
	(void)sdnotify("WATCHDOG=1");
}

int
sdnotify_watchdog_start(coro_loop *loop)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid;
	unsigned long long us;
	char *end;

	if (usec == NULL || getenv("NOTIFY_SOCKET") == NULL)
		return 0;
	pid = getenv("WATCHDOG_PID");
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	us = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || us == 0) {
		log_warnx("sdnotify: WATCHDOG_USEC=%s is not a number of "
		    "microseconds; no watchdog", usec);
		return 0;
	}
	if ((sd_watchdog = coro_timer_new(loop, sdnotify_watchdog_tick,
	    NULL)) == NULL)
		return -ENOMEM;
	/* half the interval, in ms, at least 1 */
	us /= 2000;
	if (coro_timer_start_repeat(sd_watchdog, us > 0 ? (int64_t)us : 1) !=
	    0)
		return -EINVAL;
	(void)sdnotify("WATCHDOG=1");
	log_info("sdnotify: watchdog every %llu ms", us > 0 ? us : 1);
	return 0;
}

/* ---- socket activation ---- */

/* The name of the i-th socket in LISTEN_FDNAMES (":"-separated). */
static void
fd_name(const char *names, size_t i, char *out, size_t size)
{
	const char *p = names, *q;

	out[0] = '\0';
	if (p == NULL)
		return;
	for (; i > 0 && p != NULL; i--)
		if ((p = strchr(p, ':')) != NULL)
			p++;
	if (p == NULL)
		return;
	q = strchr(p, ':');
	snprintf(out, size, "%.*s", (int)(q != NULL ? q - p : (long)strlen(p)),
	    p);
}

int
sdnotify_listen_init(void)
{
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	struct sd_socket *s;
	long pid, nfds, i;
	socklen_t len;
	char *end;
	int flags;

	if (spid == NULL || sfds == NULL)
		goto out;
	pid = strtol(spid, &end, 10);
	if (*end != '\0' || pid != (long)getpid())
		goto out;	/* meant for another process */
	nfds = strtol(sfds, &end, 10);
	if (*end != '\0' || nfds < 0 || nfds > SD_FDS_MAX) {
		log_warnx("socket activation: LISTEN_FDS=%s ignored", sfds);
		goto out;
	}
	for (i = 0; i < nfds; i++) {
		s = &sd_sockets[sd_nsockets];
		s->fd = SD_LISTEN_FDS_START + (int)i;
		if ((flags = fcntl(s->fd, F_GETFD)) == -1)
			continue;
		(void)fcntl(s->fd, F_SETFD, flags | FD_CLOEXEC);
		fd_name(names, (size_t)i, s->name, sizeof(s->name));
		len = sizeof(s->type);
		s->len = sizeof(s->ss);
		if (getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &s->type, &len) ==
		    -1 || getsockname(s->fd, (struct sockaddr *)&s->ss,
		    &s->len) == -1) {
			log_warn("socket activation: fd %d (%s)", s->fd,
			    s->name[0] ? s->name : "unnamed");
			(void)close(s->fd);
			continue;
		}
		sd_nsockets++;
	}
	if (sd_nsockets > 0)
		log_info("socket activation: %zu socket%s from systemd",
		    sd_nsockets, sd_nsockets == 1 ? "" : "s");
 out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)sd_nsockets;
}

/* Whether a socket bound to ss serves host:port ("" = every address,
 * port "0" = any port). */
static bool
inet_matches(const struct sockaddr_storage *ss, const char *host,
    const char *port)
{
	struct addrinfo hints, *res, *ai;
	bool any_port = strcmp(port, "0") == 0, match = false;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res) !=
	    0)
		return false;
	for (ai = res; ai != NULL && !match; ai = ai->ai_next) {
		if (ai->ai_family != ss->ss_family)
			continue;
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ai->ai_addr;
			const struct sockaddr_in *b = (const void *)ss;

			match = a->sin_addr.s_addr == b->sin_addr.s_addr &&
			    (any_port || a->sin_port == b->sin_port);
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *a =
			    (const void *)ai->ai_addr;
			const struct sockaddr_in6 *b = (const void *)ss;

			match = memcmp(&a->sin6_addr, &b->sin6_addr,
			    sizeof(a->sin6_addr)) == 0 &&
			    (any_port || a->sin6_port == b->sin6_port);
		}
	}
	freeaddrinfo(res);
	return match;
}

int
sdnotify_listen_take(const char *host, const char *port,
    const char *unix_path, int type)
{
	struct sd_socket *s;
	const struct sockaddr_un *sun;
	size_t i;
	int fd;

	for (i = 0; i < sd_nsockets; i++) {
		s = &sd_sockets[i];
		if (s->fd < 0 || s->type != type)
			continue;
		if (unix_path != NULL) {
			sun = (const struct sockaddr_un *)&s->ss;
			if (s->ss.ss_family != AF_UNIX ||
			    s->len <= offsetof(struct sockaddr_un, sun_path) ||
			    strncmp(sun->sun_path, unix_path,
			    sizeof(sun->sun_path)) != 0)
				continue;
		} else if (host == NULL || port == NULL ||
		    (s->ss.ss_family != AF_INET &&
		    s->ss.ss_family != AF_INET6) ||
		    !inet_matches(&s->ss, host, port))
			continue;
		fd = s->fd;
		s->fd = -1;
		log_info("socket activation: fd %d%s%s%s for %s%s%s", fd,
		    s->name[0] ? " (" : "", s->name, s->name[0] ? ")" : "",
		    unix_path != NULL ? unix_path : host,
		    unix_path != NULL ? "" : ":",
		    unix_path != NULL ? "" : port);
		return fd;
	}
	return -1;
}

void
sdnotify_listen_close_rest(void)
{
	size_t i;

	for (i = 0; i < sd_nsockets; i++) {
		if (sd_sockets[i].fd < 0)
			continue;
		log_warnx("socket activation: fd %d%s%s%s matches no listener "
		    "of the configuration; closed", sd_sockets[i].fd,
		    sd_sockets[i].name[0] ? " (" : "", sd_sockets[i].name,
		    sd_sockets[i].name[0] ? ")" : "");
		(void)close(sd_sockets[i].fd);
		sd_sockets[i].fd = -1;
	}
	sd_nsockets = 0;
}

void
sdnotify_fini(void)
{
	sdnotify_listen_close_rest();
	coro_timer_free(sd_watchdog);
	sd_watchdog = NULL;
}
