/*
 * test_net.c: TCP over IPv4, IPv6 and dual-stack listeners, a name
 * resolved on the executor, Unix sockets (mode, stale files, unlink on
 * close), refused connections, accept deadlines and a listener closed
 * under a blocked acceptor.  Everything runs on loopback with deadlines.
 *
 * Checks inside tasks use CHECK*, which record the first failure and
 * return from the task; the test then fails with the recorded message.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_helpers.h"

/* ---- an echo server: one connection, lines echoed until EOF ---- */

struct server {
	coro_listener		*l;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	int			 lines;
};

static int
echo_server(void *arg)
{
	struct server *srv = arg;
	coro_stream *s;
	char line[128];
	ssize_t n;

	CHECK_EQ(coro_accept(srv->l, &s, &srv->peer, &srv->peerlen,
	    coro_deadline_in(3000)), 0);
	while ((n = coro_stream_read_line(s, line, sizeof(line),
	    coro_deadline_in(3000))) > 0) {
		srv->lines++;
		CHECK_EQ(coro_stream_write_all(s, line, (size_t)n,
		    coro_deadline_in(3000)), 0);
	}
	coro_stream_close(s);
	CHECK_EQ(n, 0);
	return 0;
}

/* Connects (host:port, or path when host is NULL), echoes two lines. */
static int
echo_client(const char *host, const char *port, const char *path)
{
	coro_stream *c;
	char buf[128];
	socklen_t len = sizeof(int);
	int nodelay = 0;

	if (path != NULL)
		CHECK_EQ(coro_unix_connect(here(), path, coro_deadline_in(3000),
		    &c), 0);
	else {
		CHECK_EQ(coro_tcp_connect(here(), host, port,
		    coro_deadline_in(3000), &c), 0);
		CHECK_EQ(getsockopt(coro_stream_fd(c), IPPROTO_TCP,
		    TCP_NODELAY, &nodelay, &len), 0);
		CHECK(nodelay != 0);
	}
	CHECK_EQ(coro_stream_write_all(c, "ping\n", 5, coro_deadline_in(3000)),
	    0);
	CHECK_EQ(coro_stream_read_line(c, buf, sizeof(buf),
	    coro_deadline_in(3000)), 5);
	CHECK(strcmp(buf, "ping\n") == 0);
	CHECK_EQ(coro_stream_write_all(c, "pong\n", 5, coro_deadline_in(3000)),
	    0);
	CHECK_EQ(coro_stream_read_line(c, buf, sizeof(buf),
	    coro_deadline_in(3000)), 5);
	CHECK(strcmp(buf, "pong\n") == 0);
	CHECK_EQ(coro_stream_shutdown(c, coro_deadline_in(3000)), 0);
	CHECK_EQ(coro_stream_read(c, buf, sizeof(buf), coro_deadline_in(3000)),
	    0);
	coro_stream_close(c);
	return 0;
}

struct tcp_case {
	const char	*listen_host;
	const char	*connect_host;
	int		 family;	/* of the peer the server sees */
};

static int
tcp_echo_body(void *arg)
{
	struct tcp_case *tc = arg;
	struct server srv;
	coro_task *t;
	char port[16];
	int err;

	memset(&srv, 0, sizeof(srv));
	CHECK_EQ(coro_tcp_listen(here(), tc->listen_host, "0", 16, &srv.l), 0);
	CHECK(coro_listener_port(srv.l) > 0);
	CHECK(coro_listener_fd(srv.l) >= 0);
	snprintf(port, sizeof(port), "%d", coro_listener_port(srv.l));
	CHECK((t = coro_spawn(here(), echo_server, &srv, NULL)) != NULL);
	err = echo_client(tc->connect_host, port, NULL);
	CHECK_EQ(err, 0);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(3000)), 0);
	coro_task_unref(t);
	CHECK_EQ(srv.lines, 2);
	CHECK_EQ(srv.peer.ss_family, tc->family);
	CHECK(srv.peerlen > 0);
	coro_listener_close(srv.l);
	return 0;
}

static void
test_net_tcp4_echo(void **state)
{
	struct tcp_case tc = { "127.0.0.1", "127.0.0.1", AF_INET };

	(void)state;
	run_checked(tcp_echo_body, &tc);
}

static void
test_net_tcp6_echo(void **state)
{
	struct tcp_case tc = { "::1", "::1", AF_INET6 };

	(void)state;
	run_checked(tcp_echo_body, &tc);
}

static void
test_net_tcp_any_is_dual_stack(void **state)
{
	/* an IPv4 client of a "::" listener shows up v4-mapped */
	struct tcp_case a = { NULL, "127.0.0.1", AF_INET6 };
	struct tcp_case b = { "::", "::1", AF_INET6 };

	(void)state;
	run_checked(tcp_echo_body, &a);
	run_checked(tcp_echo_body, &b);
}

static void
test_net_tcp_connect_by_name(void **state)
{
	/* "localhost" goes through getaddrinfo on the executor; the
	 * dual-stack listener takes whichever address comes first */
	struct tcp_case tc = { NULL, "localhost", AF_INET6 };

	(void)state;
	run_checked(tcp_echo_body, &tc);
}

static int
refused_body(void *arg)
{
	coro_listener *l;
	coro_stream *c = (coro_stream *)&c;
	char port[16];

	(void)arg;
	CHECK_EQ(coro_tcp_listen(here(), "127.0.0.1", "0", 1, &l), 0);
	snprintf(port, sizeof(port), "%d", coro_listener_port(l));
	coro_listener_close(l);
	CHECK_EQ(coro_tcp_connect(here(), "127.0.0.1", port,
	    coro_deadline_in(3000), &c), -ECONNREFUSED);
	CHECK(c == NULL);
	CHECK_EQ(coro_tcp_connect(here(), "::1", port, coro_deadline_in(3000),
	    &c), -ECONNREFUSED);
	CHECK_EQ(coro_unix_connect(here(), "/nonexistent/libcoro.sock",
	    coro_deadline_in(3000), &c), -ENOENT);
	CHECK_EQ(coro_tcp_connect(here(), "127.0.0.1", NULL, CORO_NEVER, &c),
	    -EINVAL);
	CHECK_EQ(coro_tcp_listen(here(), "127.0.0.1", "0", 1, NULL), -EINVAL);
	return 0;
}

static void
test_net_connect_refused(void **state)
{
	(void)state;
	run_checked(refused_body, NULL);
}

/* ---- accept ---- */

struct acceptor {
	coro_listener	*l;
	bool		 started;
};

static int
blocked_acceptor(void *arg)
{
	struct acceptor *a = arg;
	coro_stream *s;

	a->started = true;
	return coro_accept(a->l, &s, NULL, NULL, CORO_NEVER);
}

static int
accept_close_body(void *arg)
{
	struct acceptor a = { 0 };
	coro_task *t;

	(void)arg;
	CHECK_EQ(coro_tcp_listen(here(), "127.0.0.1", "0", 1, &a.l), 0);
	CHECK((t = coro_spawn(here(), blocked_acceptor, &a, NULL)) != NULL);
	CHECK_EQ(coro_sleep(20), 0);
	CHECK(a.started);
	coro_listener_close(a.l);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), -EBADF);
	coro_task_unref(t);
	return 0;
}

static void
test_net_accept_after_close_ebadf(void **state)
{
	(void)state;
	run_checked(accept_close_body, NULL);
}

static int
accept_deadline_body(void *arg)
{
	coro_listener *l;
	coro_stream *s;
	coro_task *t;
	struct acceptor a = { 0 };
	int64_t t0;

	(void)arg;
	CHECK_EQ(coro_tcp_listen(here(), "127.0.0.1", "0", 1, &l), 0);
	t0 = coro_now();
	CHECK_EQ(coro_accept(l, &s, NULL, NULL, coro_deadline_in(30)),
	    -ETIMEDOUT);
	CHECK(coro_now() - t0 >= 25);
	/* cancelling a blocked acceptor leaves the listener usable */
	a.l = l;
	CHECK((t = coro_spawn(here(), blocked_acceptor, &a, NULL)) != NULL);
	CHECK_EQ(coro_sleep(10), 0);
	coro_cancel(t);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), -ECANCELED);
	coro_task_unref(t);
	coro_listener_close(l);
	return 0;
}

static void
test_net_accept_deadline_and_cancel(void **state)
{
	(void)state;
	run_checked(accept_deadline_body, NULL);
}

static int
from_fd_body(void *arg)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(sin);
	coro_listener *l;
	int fd, fd2;

	(void)arg;
	CHECK((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* not listening yet: refused */
	CHECK_EQ(coro_listener_from_fd(here(), fd, &l), -EINVAL);
	CHECK_EQ(listen(fd, 4), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	CHECK_EQ(coro_listener_from_fd(here(), fd, &l), 0);
	CHECK_EQ(coro_listener_port(l), ntohs(sin.sin_port));
	CHECK_EQ(coro_listener_addr(l, &ss, &len), 0);
	CHECK_EQ(ss.ss_family, AF_INET);
	CHECK_EQ(len, sizeof(struct sockaddr_in));
	coro_listener_close(l);
	/* the listener owned the fd */
	CHECK((fd2 = fcntl(fd, F_GETFD)) == -1);
	return 0;
}

static void
test_net_listener_from_fd(void **state)
{
	(void)state;
	run_checked(from_fd_body, NULL);
}

/* ---- Unix sockets ---- */

struct unix_case {
	char	dir[64];
	char	path[96];
};

static int
unix_echo_body(void *arg)
{
	struct unix_case *uc = arg;
	struct server srv;
	struct stat st;
	coro_task *t;

	memset(&srv, 0, sizeof(srv));
	CHECK_EQ(coro_unix_listen(here(), uc->path, 0600, 4, &srv.l), 0);
	CHECK_EQ(stat(uc->path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(coro_listener_port(srv.l), -EAFNOSUPPORT);
	CHECK((t = coro_spawn(here(), echo_server, &srv, NULL)) != NULL);
	CHECK_EQ(echo_client(NULL, NULL, uc->path), 0);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(3000)), 0);
	coro_task_unref(t);
	CHECK_EQ(srv.lines, 2);
	CHECK_EQ(srv.peer.ss_family, AF_UNIX);
	coro_listener_close(srv.l);
	/* the socket file went with the listener */
	CHECK_EQ(lstat(uc->path, &st), -1);
	return 0;
}

static void
unix_case_init(struct unix_case *uc)
{
	snprintf(uc->dir, sizeof(uc->dir), "/tmp/test_net.XXXXXX");
	assert_non_null(mkdtemp(uc->dir));
	snprintf(uc->path, sizeof(uc->path), "%s/sock", uc->dir);
}

static void
unix_case_fini(struct unix_case *uc)
{
	unlink(uc->path);
	assert_int_equal(rmdir(uc->dir), 0);
}

static void
test_net_unix_echo(void **state)
{
	struct unix_case uc;

	(void)state;
	unix_case_init(&uc);
	run_checked(unix_echo_body, &uc);
	unix_case_fini(&uc);
}

static int
unix_stale_body(void *arg)
{
	struct unix_case *uc = arg;
	struct sockaddr_un sun;
	coro_listener *l, *l2;
	int fd;

	/* a socket file nobody listens on: what a crash leaves behind */
	CHECK((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", uc->path);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	CHECK_EQ(coro_unix_listen(here(), uc->path, 0, 4, &l), 0);
	/* a live one is not stale */
	CHECK_EQ(coro_unix_listen(here(), uc->path, 0, 4, &l2), -EADDRINUSE);
	coro_listener_close(l);
	/* a file that is not a socket is left alone */
	CHECK((fd = open(uc->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	CHECK_EQ(coro_unix_listen(here(), uc->path, 0, 4, &l2), -EADDRINUSE);
	CHECK_EQ(access(uc->path, F_OK), 0);
	CHECK_EQ(unlink(uc->path), 0);
	return 0;
}

static void
test_net_unix_stale_socket_replaced(void **state)
{
	struct unix_case uc;

	(void)state;
	unix_case_init(&uc);
	run_checked(unix_stale_body, &uc);
	unix_case_fini(&uc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_net_tcp4_echo),
		cmocka_unit_test(test_net_tcp6_echo),
		cmocka_unit_test(test_net_tcp_any_is_dual_stack),
		cmocka_unit_test(test_net_tcp_connect_by_name),
		cmocka_unit_test(test_net_connect_refused),
		cmocka_unit_test(test_net_accept_after_close_ebadf),
		cmocka_unit_test(test_net_accept_deadline_and_cancel),
		cmocka_unit_test(test_net_listener_from_fd),
		cmocka_unit_test(test_net_unix_echo),
		cmocka_unit_test(test_net_unix_stale_socket_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
