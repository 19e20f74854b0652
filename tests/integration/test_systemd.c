/*
 * test_systemd.c: corobusd under systemd's protocols, with the test
 * playing systemd: a datagram socket as $NOTIFY_SOCKET receives READY=1
 * once the port is bound, RELOADING=1 (with MONOTONIC_USEC) then READY=1
 * around a reload, STATUS=reload failed when the new file is bad,
 * STOPPING=1 on SIGTERM, and WATCHDOG=1 at half of $WATCHDOG_USEC; the
 * abstract namespace ('@') works too.  Socket activation runs corobusd
 * under systemd-socket-activate(1) (skipped without it): the inherited
 * TCP and Unix sockets serve the configured listeners, and one that no
 * listener wants is closed with a warning.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define CONF	"listeners: [{address: \"127.0.0.1:0\"}]\n"

/* ---- playing systemd's notification socket ---- */

static int
notify_open(const char *name, bool abstract)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	assert_true((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >=
	    0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(name) + 1 < sizeof(sun.sun_path));
	if (abstract) {
		memcpy(sun.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(name));
	} else {
		memcpy(sun.sun_path, name, strlen(name) + 1);
		len = sizeof(sun);
	}
	if (bind(fd, (struct sockaddr *)&sun, len) != 0)
		fail_msg("bind %s: %s", name, strerror(errno));
	return fd;
}

/* The next datagram (malloc'd), or NULL after timeout_ms. */
static char *
notify_recv(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[2048];
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return NULL;
	if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* The next datagram must hold every NULL-terminated line given. */
static void
notify_expect(int fd, ...)
{
	char *msg = notify_recv(fd, H_IO_MS), *line;
	va_list ap;

	if (msg == NULL)
		fail_msg("no notification");
	va_start(ap, fd);
	while ((line = va_arg(ap, char *)) != NULL)
		if (strstr(msg, line) == NULL) {
			va_end(ap);
			fail_msg("notification '%s' lacks '%s'", msg, line);
		}
	va_end(ap);
	free(msg);
}

/* Starts d with NOTIFY_SOCKET (and more NAME=VALUE settings) set. */
static void
start_notified(struct h_daemon *d, const char *notify, const char *env)
{
	char *copy = NULL, *eq;

	setenv("NOTIFY_SOCKET", notify, 1);
	if (env != NULL) {
		assert_non_null(copy = strdup(env));
		assert_non_null(eq = strchr(copy, '='));
		*eq = '\0';
		setenv(copy, eq + 1, 1);
	}
	h_daemon_start(d, NULL);
	unsetenv("NOTIFY_SOCKET");
	if (copy != NULL)
		unsetenv(copy);
	free(copy);
}

/* ---- tests ---- */

static void
test_systemd_notify_life_cycle(void **state)
{
	struct h_daemon *d = h_daemon_new();
	char path[200], *msg;
	int fd, status;

	(void)state;
	snprintf(path, sizeof(path), "%s", h_daemon_path(d, "notify"));
	fd = notify_open(path, false);
	h_daemon_conf(d, CONF);
	start_notified(d, path, NULL);
	notify_expect(fd, "READY=1", "STATUS=ready: 1 listener", NULL);
	/* READY=1 means the port takes connections */
	assert_int_equal(h_try_connect(d->port), 0);

	/* a reload that works */
	h_daemon_signal(d, SIGHUP);
	notify_expect(fd, "RELOADING=1", "MONOTONIC_USEC=", NULL);
	notify_expect(fd, "READY=1", NULL);
	/* one that does not: the daemon goes on, and says why */
	h_daemon_conf(d, CONF "limits: {max_payload: banana}\n");
	h_daemon_signal(d, SIGHUP);
	notify_expect(fd, "RELOADING=1", NULL);
	notify_expect(fd, "READY=1", "STATUS=reload failed: ",
	    "limits.max_payload", NULL);
	free(h_handshake(h_conn_tcp(d->port), NULL));

	/* nothing else was said: no watchdog without WATCHDOG_USEC */
	assert_null(msg = notify_recv(fd, 100));

	h_daemon_signal(d, SIGTERM);
	notify_expect(fd, "STOPPING=1", NULL);
	status = h_daemon_wait(d, H_STOP_MS);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
}

static void
test_systemd_notify_abstract(void **state)
{
	struct h_daemon *d = h_daemon_new();
	char name[64], env[80];
	int fd, status;

	(void)state;
	snprintf(name, sizeof(name), "corobus-test-%ld-%ld", (long)getpid(),
	    (long)h_now_ms());
	snprintf(env, sizeof(env), "@%s", name);
	fd = notify_open(name, true);
	h_daemon_conf(d, CONF "lame_duck_grace_period: 0s\n");
	start_notified(d, env, NULL);
	notify_expect(fd, "READY=1", NULL);
	/* lame duck is a way out too; without clients it ends at once */
	h_daemon_signal(d, SIGUSR2);
	notify_expect(fd, "STOPPING=1", "STATUS=lame duck", NULL);
	notify_expect(fd, "STOPPING=1", "STATUS=shutting down", NULL);
	status = h_daemon_wait(d, H_STOP_MS);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
}

static void
test_systemd_watchdog(void **state)
{
	struct h_daemon *d = h_daemon_new();
	char path[200], *msg;
	int fd, n = 0;
	int64_t until;

	(void)state;
	snprintf(path, sizeof(path), "%s", h_daemon_path(d, "notify"));
	fd = notify_open(path, false);
	h_daemon_conf(d, CONF);
	start_notified(d, path, "WATCHDOG_USEC=100000");
	/* one at once, then one every 50 ms */
	until = h_now_ms() + 600;
	while (h_now_ms() < until &&
	    (msg = notify_recv(fd, (int)(until - h_now_ms()))) != NULL) {
		n += strstr(msg, "WATCHDOG=1") != NULL;
		free(msg);
	}
	if (n < 4)
		fail_msg("%d WATCHDOG=1 in 600 ms", n);
	h_daemon_stop(d);
	close(fd);
}

/* A free TCP port on 127.0.0.1 (bound, then released). */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static const char *
find_in_path(const char *name)
{
	static char found[512];
	const char *env = getenv("SYSTEMD_SOCKET_ACTIVATE");
	char *path, *dir, *save = NULL;

	if (env != NULL && *env != '\0' && access(env, X_OK) == 0)
		return env;
	if ((path = strdup(getenv("PATH") ? getenv("PATH") :
	    "/usr/bin:/bin")) == NULL)
		return NULL;
	for (dir = strtok_r(path, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof(found), "%s/%s", dir, name);
		if (access(found, X_OK) == 0) {
			free(path);
			return found;
		}
	}
	free(path);
	return NULL;
}

static void
test_systemd_socket_activation(void **state)
{
	struct h_daemon *d;
	const char *ssa = find_in_path("systemd-socket-activate");
	const char *corobusd = getenv("COROBUSD");
	char l1[64], l2[200], l3[64], sock[200];
	int port, stray, fd;
	struct h_conn *c;
	pid_t pid;

	(void)state;
	if (ssa == NULL) {
		print_message("# skip: systemd-socket-activate not found "
		    "(Debian package systemd)\n");
		skip();
	}
	assert_non_null(corobusd);
	d = h_daemon_new();
	port = free_port();
	stray = free_port();
	snprintf(sock, sizeof(sock), "%s", h_daemon_path(d, "s.sock"));
	snprintf(l1, sizeof(l1), "127.0.0.1:%d", port);
	snprintf(l2, sizeof(l2), "%s", sock);
	snprintf(l3, sizeof(l3), "127.0.0.1:%d", stray);
	h_daemon_conf(d, "listeners:\n"
	    "  - { address: \"127.0.0.1:%d\" }\n"
	    "  - { unix: \"%s\" }\n", port, sock);

	/* systemd-socket-activate binds, waits for a connection, then
	 * execs corobusd in its own process */
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND,
		    0600)) == -1)
			_exit(127);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
		signal(SIGTERM, SIG_DFL);
		execl(ssa, ssa, "-l", l1, "-l", l2, "-l", l3,
		    "--fdname=nats:local:stray", corobusd, "-c", d->conf,
		    (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	d->port = port;
	if (!h_daemon_log_wait(d, l3, H_START_MS))
		fail_msg("systemd-socket-activate did not listen");

	/* the first client wakes it up, on the inherited socket */
	c = h_client(port);
	assert_true(h_daemon_log_wait(d, " ready: ", H_START_MS));
	assert_true(h_daemon_log_wait(d, "socket activation: 3 sockets",
	    H_IO_MS));
	assert_true(h_daemon_log_wait(d, "socket activation: fd 3 (nats) "
	    "for 127.0.0.1:", H_IO_MS));
	assert_true(h_daemon_log_wait(d, "socket activation: fd 4 (local) "
	    "for /", H_IO_MS));
	assert_true(h_daemon_log_wait(d, "fd 5 (stray) matches no listener",
	    H_IO_MS));
	h_sendf(c, "PING\r\n");
	h_expect(c, "PONG", H_IO_MS);
	/* the Unix listener is systemd's socket too */
	free(h_handshake(h_conn_unix(sock), NULL));
	/* the stray socket is closed, and corobusd bound nothing else */
	assert_int_equal(h_try_connect(stray), -ECONNREFUSED);
	/* the stop is a normal one (the teardown checks the status) */
	h_conn_close(c);
}

static int
group_teardown(void **state)
{
	(void)state;
	return h_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_systemd_notify_life_cycle,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_systemd_notify_abstract,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_systemd_watchdog,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_systemd_socket_activation,
		    h_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
