/*
 * test_client.c: corobus(1), the command-line client, run as a program
 * ($COROBUS) against real corobusd daemons on loopback: pub -> sub
 * (payload, headers, JSON, stdin lines, counts), queue groups, req with
 * reply (fixed body, --echo, --command), and every error path with its
 * message and exit status: usage, bad URL, unreachable and unresolvable
 * servers, timeouts, no responders, refused credentials, -ERR and broken
 * handshakes (from a scripted fake server), the client configuration
 * file; then failover between URLs and reconnecting after a restart.
 * When nats-server is installed, the client is also checked against it
 * (pub/sub, request/reply, auth, permissions); otherwise those tests are
 * skipped.
 *
 * Client processes are tracked and killed by each test's teardown.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS		10000	/* for a client run to end */
#define MAX_ARGS	40

struct proc {
	pid_t		 pid;
	int		 outfd, errfd;	/* -1 at EOF */
	char		*out, *err;	/* NUL-terminated */
	size_t		 outlen, errlen;
	int		 status;	/* wait status once done */
	bool		 done;
	struct proc	*next;
};

static struct proc	*procs;
static struct h_daemon	*shared;
static char		 shared_url[64];
static char		 tmpdir[64];
static pid_t		 natsd = -1;	/* a nats-server we started */

/* ---- helpers ---- */

/* Reads what is there (waiting up to ms) and reaps the process once
 * both pipes are at EOF. */
static void
pump(struct proc *p, int ms)
{
	static char buf[4096];
	struct pollfd pfd[2];
	ssize_t n;
	int nfd = 0, i;

	if (p->outfd != -1) {
		pfd[nfd].fd = p->outfd;
		pfd[nfd++].events = POLLIN;
	}
	if (p->errfd != -1) {
		pfd[nfd].fd = p->errfd;
		pfd[nfd++].events = POLLIN;
	}
	if (nfd > 0 && poll(pfd, (nfds_t)nfd, ms) > 0) {
		for (i = 0; i < nfd; i++) {
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n > 0 && pfd[i].fd == p->outfd)
				h_append(&p->out, &p->outlen, buf, (size_t)n);
			else if (n > 0)
				h_append(&p->err, &p->errlen, buf, (size_t)n);
			else if (n == 0 || errno != EINTR) {
				close(pfd[i].fd);
				if (pfd[i].fd == p->outfd)
					p->outfd = -1;
				else
					p->errfd = -1;
			}
		}
	} else if (nfd == 0 && ms > 0)
		h_nap(ms < 10 ? ms : 10);
	if (!p->done && p->outfd == -1 && p->errfd == -1 &&
	    waitpid(p->pid, &p->status, ms > 0 ? 0 : WNOHANG) == p->pid)
		p->done = true;
}

/* Starts $COROBUS [-L url] args...; input (may be NULL) is its stdin. */
static struct proc *
start_v(const char *input, const char *url, va_list ap)
{
	const char *argv[MAX_ARGS + 4];
	struct proc *p;
	size_t n = 1;

	if (url != NULL) {
		argv[n++] = "-L";
		argv[n++] = url;
	}
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		if (++n == MAX_ARGS)
			fail_msg("too many arguments");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fail_msg("out of memory");
	h_append(&p->out, &p->outlen, "", 0);
	h_append(&p->err, &p->errlen, "", 0);
	p->pid = h_corobus_spawn(argv, input, NULL, &p->outfd, &p->errfd);
	p->next = procs;
	procs = p;
	return p;
}

static struct proc *
start(const char *input, const char *url, ...) __attribute__((sentinel));

static struct proc *
start(const char *input, const char *url, ...)
{
	struct proc *p;
	va_list ap;

	va_start(ap, url);
	p = start_v(input, url, ap);
	va_end(ap);
	return p;
}

/* Waits for the process to end: its exit status, or -1 when it had to
 * be killed after ms. */
static int
finish(struct proc *p, int ms)
{
	int64_t deadline = h_now_ms() + ms;

	while (!p->done) {
		if (h_now_ms() >= deadline) {
			kill(p->pid, SIGKILL);
			while (!p->done)
				pump(p, 100);
			print_error("client killed after %d ms; stdout:\n%s\n"
			    "stderr:\n%s\n", ms, p->out, p->err);
			return -1;
		}
		pump(p, 20);
	}
	return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

/* SIGTERM, then finish: the exit status. */
static int
stop(struct proc *p)
{
	if (!p->done)
		kill(p->pid, SIGTERM);
	return finish(p, 5000);
}

/* Waits until text shows in its stderr (err) or stdout. */
static bool
wait_text(struct proc *p, bool err, const char *text, int ms)
{
	int64_t deadline = h_now_ms() + ms;

	for (;;) {
		if (strstr(err ? p->err : p->out, text) != NULL)
			return true;
		if (p->done || h_now_ms() >= deadline)
			return false;
		pump(p, 20);
	}
}

static void
expect_text(struct proc *p, bool err, const char *text, int ms)
{
	if (!wait_text(p, err, text, ms))
		fail_msg("no \"%s\" on %s within %d ms; stdout:\n%s\n"
		    "stderr:\n%s", text, err ? "stderr" : "stdout", ms,
		    p->out, p->err);
}

/* Whether text holds line as a whole line. */
static int
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return 1;
	return 0;
}

/* Counts lines of its stdout. */
static size_t
lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

static void
proc_free(struct proc *p)
{
	if (!p->done) {
		kill(p->pid, SIGKILL);
		while (!p->done)
			pump(p, 100);
	}
	if (p->outfd != -1)
		close(p->outfd);
	if (p->errfd != -1)
		close(p->errfd);
	free(p->out);
	free(p->err);
	free(p);
}

/* A run to the end: exit status; stdout and stderr stay in *pp. */
static int
run(struct proc **pp, const char *input, const char *url, ...)
    __attribute__((sentinel));

static int
run(struct proc **pp, const char *input, const char *url, ...)
{
	va_list ap;

	va_start(ap, url);
	*pp = start_v(input, url, ap);
	va_end(ap);
	return finish(*pp, RUN_MS);
}

#define assert_err(p, text) do {					\
	if (strcmp((p)->err, (text)) != 0)				\
		fail_msg("stderr:\n%s\nwanted:\n%s", (p)->err, (text));	\
} while (0)
#define assert_err_has(p, text) do {					\
	if (strstr((p)->err, (text)) == NULL)				\
		fail_msg("stderr:\n%s\nwanted it to contain:\n%s",	\
		    (p)->err, (text));					\
} while (0)
#define assert_out(p, text) do {					\
	if (strcmp((p)->out, (text)) != 0)				\
		fail_msg("stdout:\n%s\nwanted:\n%s\n(stderr: %s)",	\
		    (p)->out, (text), (p)->err);			\
} while (0)

/* Waits until a sub says it has subscribed. */
static struct proc *
subscribed(struct proc *p)
{
	expect_text(p, true, "corobus: subscribed to", 5000);
	return p;
}
#define SUB(url, ...)	subscribed(start(NULL, url, "sub", __VA_ARGS__, \
			    (char *)NULL))

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/*
 * A fake server on a free port that, for one connection, sends greeting
 * (NULL: nothing), then, after reading the client's first bytes, sends
 * answer and closes; with answer NULL it waits for the client to close.  Returns the port; the
 * child ends by itself.
 */
static int
fake_server(const char *greeting, const char *answer)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	static char buf[4096];
	pid_t parent = getpid(), pid;
	int lfd, fd, port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		fail_msg("socket: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(1);
		alarm(15);
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		if (greeting != NULL &&
		    write(fd, greeting, strlen(greeting)) < 0)
			_exit(1);
		if (answer != NULL) {
			/* answer, then close, as a server does after -ERR */
			if (read(fd, buf, sizeof(buf)) <= 0)
				_exit(0);
			if (write(fd, answer, strlen(answer)) < 0)
				_exit(1);
			_exit(0);
		}
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(lfd);
	/* reaped by the SIGCHLD default below, or at exit */
	return port;
}

#define INFO_LINE	"INFO {\"server_id\":\"FAKE\",\"version\":\"2.9.0\"," \
			"\"proto\":1,\"headers\":true,\"max_payload\":1048576}" \
			" \r\n"

/* ---- pub -> sub ---- */

static void
test_client_pub_sub_payload(void **state)
{
	struct proc *s, *p;

	(void)state;
	s = SUB(shared_url, "-C", "2", "ps.a");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "ps.a", "hello",
	    (char *)NULL), 0);
	assert_err(p, "");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-m", "world",
	    "ps.a", (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_out(s, "hello\nworld\n");
}

static void
test_client_pub_sub_verbose_nonewline(void **state)
{
	struct proc *s, *n, *p;

	(void)state;
	s = SUB(shared_url, "-v", "-C", "2", "vn.*");
	n = SUB(shared_url, "-N", "-C", "2", "vn.*");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "vn.one", "1",
	    (char *)NULL), 0);
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-n", "vn.two",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_int_equal(finish(n, RUN_MS), 0);
	assert_out(s, "vn.one 1\nvn.two \n");
	assert_out(n, "1");
}

static void
test_client_pub_sub_headers(void **state)
{
	struct proc *s, *j, *p;

	(void)state;
	s = SUB(shared_url, "--headers", "-C", "1", "hd.x");
	j = SUB(shared_url, "--json", "-C", "1", "hd.x");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-H", "Trace-Id: 7",
	    "-H", "K:  v w", "--reply", "hd.back", "hd.x", "ping",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_int_equal(finish(j, RUN_MS), 0);
	assert_out(s, "Trace-Id: 7\nK:  v w\nping\n");
	assert_out(j, "{\"data\":\"ping\",\"headers\":{\"K\":[\"v w\"],"
	    "\"Trace-Id\":[\"7\"]},\"reply\":\"hd.back\",\"size\":4,"
	    "\"subject\":\"hd.x\"}\n");
}

static void
test_client_sub_format(void **state)
{
	struct proc *s, *t, *p;
	long long sec, nsec;
	struct tm tm;
	int n = 0;

	(void)state;
	s = SUB(shared_url, "-C", "2", "-F",
	    "%t|%p|%l|%r|%x|%%|\\t|\\\\|%h%j\\n", "fm.x");
	/* the times in UTC, so that %I and %U can be compared */
	setenv("TZ", "UTC", 1);
	t = SUB(shared_url, "-C", "1", "--format", "%I %U", "fm.x");
	unsetenv("TZ");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-H", "Trace-Id: 7",
	    "--reply", "fm.back", "fm.x", "ping", (char *)NULL), 0);
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-n", "fm.x",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_int_equal(finish(t, RUN_MS), 0);
	assert_out(s, "fm.x|ping|4|fm.back|70696e67|%|\t|\\|Trace-Id: 7\n"
	    "{\"data\":\"ping\",\"headers\":{\"Trace-Id\":[\"7\"]},"
	    "\"reply\":\"fm.back\",\"size\":4,\"subject\":\"fm.x\"}\n"
	    "fm.x||0|||%|\t|\\|{\"data\":\"\",\"size\":0,"
	    "\"subject\":\"fm.x\"}\n");
	/* 2026-11-22T01:57:57+00:00 1795312677.265128340, no newline */
	memset(&tm, 0, sizeof(tm));
	if (sscanf(t->out, "%4d-%2d-%2dT%2d:%2d:%2d+00:00 %lld.%9lld%n",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, &sec, &nsec, &n) != 8 || (size_t)n != t->outlen ||
	    t->out[t->outlen - 10] != '.')
		fail_msg("-F '%%I %%U': \"%s\"", t->out);
	tm.tm_year -= 1900;
	tm.tm_mon--;
	assert_int_equal((long long)timegm(&tm), sec);
	assert_true(llabs(sec - (long long)time(NULL)) < 60);
}

static void
test_client_sub_format_errors(void **state)
{
	struct proc *p;

	(void)state;
	assert_int_equal(run(&p, NULL, shared_url, "sub", "-F", "%t %q",
	    "x", (char *)NULL), 64);
	assert_err(p, "corobus sub: -F: unknown directive \"%q\" (%t %p %l "
	    "%r %I %U %x %j %h %%)\n");
	assert_int_equal(run(&p, NULL, shared_url, "sub", "-F", "%p\\r",
	    "x", (char *)NULL), 64);
	assert_err(p, "corobus sub: -F: unknown escape \"\\r\" (\\n \\t "
	    "\\\\)\n");
	assert_int_equal(run(&p, NULL, shared_url, "sub", "-F", "100%",
	    "x", (char *)NULL), 64);
	assert_err(p, "corobus sub: -F: a lone \"%\" ends the format (%% "
	    "for the character itself)\n");
	assert_int_equal(run(&p, NULL, shared_url, "sub", "-F", "%p", "-v",
	    "x", (char *)NULL), 64);
	assert_err_has(p, "corobus sub: -F replaces -v, -N, --headers and "
	    "--json: give it alone\n");
	assert_out(p, "");
}

static void
test_client_pub_stdin_and_count(void **state)
{
	struct proc *s, *p;
	char path[128];

	(void)state;
	s = SUB(shared_url, "-C", "8", "in.x");
	/* each line, the last one without its newline */
	assert_int_equal(run(&p, "a\nb b\r\n\nc", shared_url, "pub", "-l",
	    "in.x", (char *)NULL), 0);
	/* stdin as one message */
	assert_int_equal(run(&p, "x\ny", shared_url, "pub", "-s", "in.x",
	    (char *)NULL), 0);
	/* a count, with a pause */
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-C", "2",
	    "--sleep", "10ms", "in.x", "r", (char *)NULL), 0);
	/* a file */
	snprintf(path, sizeof(path), "%s/payload", tmpdir);
	write_file(path, "from file");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-f", path, "in.x",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_out(s, "a\nb b\n\nc\nx\ny\nr\nr\nfrom file\n");
}

static void
test_client_sub_several_subjects(void **state)
{
	struct proc *s, *p;

	(void)state;
	s = SUB(shared_url, "-v", "-C", "2", "ms.a", "ms.b");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "ms.b", "2",
	    (char *)NULL), 0);
	assert_int_equal(run(&p, NULL, shared_url, "pub", "ms.a", "1",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_out(s, "ms.b 2\nms.a 1\n");
}

static void
test_client_queue_groups(void **state)
{
	struct proc *a, *b, *p;
	char input[256], line[16];
	int64_t deadline;
	size_t i, na, nb;

	(void)state;
	a = SUB(shared_url, "--queue", "workers", "qg.job");
	b = SUB(shared_url, "--queue", "workers", "qg.job");
	input[0] = '\0';
	for (i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "m%zu\n", i);
		strcat(input, line);
	}
	assert_int_equal(run(&p, input, shared_url, "pub", "-l", "qg.job",
	    (char *)NULL), 0);
	deadline = h_now_ms() + 5000;
	while (lines(a->out) + lines(b->out) < 40 && h_now_ms() < deadline) {
		pump(a, 10);
		pump(b, 10);
	}
	h_nap(100);
	pump(a, 0);
	pump(b, 0);
	assert_int_equal(stop(a), 0);
	assert_int_equal(stop(b), 0);
	na = lines(a->out);
	nb = lines(b->out);
	assert_int_equal(na + nb, 40);
	/* disjoint, and together every message */
	for (i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "m%zu", i);
		assert_int_equal(has_line(a->out, line) +
		    has_line(b->out, line), 1);
	}
}

/* ---- request/reply ---- */

static void
test_client_req_reply_fixed(void **state)
{
	struct proc *r, *q;

	(void)state;
	r = start(NULL, shared_url, "reply", "-C", "2", "rr.fixed", "pong",
	    (char *)NULL);
	expect_text(r, true, "corobus: listening for requests on rr.fixed",
	    5000);
	assert_int_equal(run(&q, NULL, shared_url, "req", "rr.fixed", "ping",
	    (char *)NULL), 0);
	assert_out(q, "pong\n");
	assert_err(q, "");
	assert_int_equal(run(&q, NULL, shared_url, "req", "--raw", "rr.fixed",
	    (char *)NULL), 0);
	assert_out(q, "pong");
	assert_int_equal(finish(r, RUN_MS), 0);
}

static void
test_client_req_reply_echo_headers(void **state)
{
	struct proc *r, *q;

	(void)state;
	r = start(NULL, shared_url, "reply", "--echo", "-C", "1",
	    "--queue", "g", "rr.echo", (char *)NULL);
	expect_text(r, true, "listening for requests on rr.echo in queue "
	    "group g", 5000);
	assert_int_equal(run(&q, NULL, shared_url, "req", "-H", "A: b",
	    "rr.echo", "say this", (char *)NULL), 0);
	assert_out(q, "say this\n");
	assert_int_equal(finish(r, RUN_MS), 0);
}

static void
test_client_req_reply_command(void **state)
{
	struct proc *r, *q;

	(void)state;
	r = start(NULL, shared_url, "reply", "-C", "2", "--command",
	    "printf '%s|%s|' \"$COROBUS_REQUEST_BODY\" "
	    "\"$COROBUS_REQUEST_SUBJECT\"; tr a-z A-Z", "rr.cmd",
	    (char *)NULL);
	expect_text(r, true, "listening for requests on rr.cmd", 5000);
	assert_int_equal(run(&q, NULL, shared_url, "req", "rr.cmd", "abc",
	    (char *)NULL), 0);
	assert_out(q, "abc|rr.cmd|ABC\n");
	assert_int_equal(run(&q, NULL, shared_url, "req", "-C", "1",
	    "rr.cmd", "x y", (char *)NULL), 0);
	assert_out(q, "x y|rr.cmd|X Y\n");
	assert_int_equal(finish(r, RUN_MS), 0);
}

static void
test_client_reply_command_fails(void **state)
{
	struct proc *r, *q;

	(void)state;
	r = start(NULL, shared_url, "reply", "-C", "1", "--command",
	    "echo partial; exit 3", "rr.fail", (char *)NULL);
	expect_text(r, true, "listening for requests on rr.fail", 5000);
	assert_int_equal(run(&q, NULL, shared_url, "req", "rr.fail",
	    (char *)NULL), 0);
	assert_out(q, "partial\n\n");
	assert_int_equal(finish(r, RUN_MS), 0);
	assert_err_has(r, "corobus: --command: exited with status 3 "
	    "(replied with its output)\n");
}

static void
test_client_req_timeout(void **state)
{
	struct proc *s, *q;

	(void)state;
	/* a subscriber that never answers */
	s = SUB(shared_url, "rq.silent");
	assert_int_equal(run(&q, NULL, shared_url, "req", "--timeout",
	    "300ms", "rq.silent", "hi", (char *)NULL), 75);
	assert_out(q, "");
	assert_err(q, "corobus: no reply on rq.silent within 300ms\n");
	/* the global --timeout is the default */
	assert_int_equal(run(&q, NULL, NULL, "-L", shared_url, "--timeout",
	    "0.2", "req", "rq.silent", (char *)NULL), 75);
	assert_err(q, "corobus: no reply on rq.silent within 200ms\n");
	assert_int_equal(stop(s), 0);
}

static void
test_client_req_no_responders(void **state)
{
	struct proc *q;

	(void)state;
	assert_int_equal(run(&q, NULL, shared_url, "req", "rq.nobody", "hi",
	    (char *)NULL), 69);
	assert_out(q, "");
	assert_err(q, "corobus: no responders on rq.nobody\n");
}

/* Starts a "reply -C 1 subject body" and waits until it listens. */
static struct proc *
responder(const char *subject, const char *body)
{
	struct proc *r;
	char want[128];

	r = start(NULL, shared_url, "reply", "-C", "1", subject, body,
	    (char *)NULL);
	snprintf(want, sizeof(want), "listening for requests on %s", subject);
	expect_text(r, true, want, 5000);
	return r;
}

static void
test_client_req_replies(void **state)
{
	struct proc *r[3], *q;
	int64_t t0;
	int i;

	(void)state;
	/* three responders, each in its own process and connection */
	r[0] = responder("rg.three", "one");
	r[1] = responder("rg.three", "two");
	r[2] = responder("rg.three", "three");
	t0 = h_now_ms();
	assert_int_equal(run(&q, NULL, shared_url, "req", "--replies", "3",
	    "--timeout", "5s", "rg.three", "hi", (char *)NULL), 0);
	/* done at the third reply, not at the timeout */
	assert_true(h_now_ms() - t0 < 4000);
	assert_int_equal(lines(q->out), 3);
	assert_true(has_line(q->out, "one"));
	assert_true(has_line(q->out, "two"));
	assert_true(has_line(q->out, "three"));
	assert_err(q, "");
	for (i = 0; i < 3; i++)
		assert_int_equal(finish(r[i], RUN_MS), 0);
}

static void
test_client_req_replies_timeout(void **state)
{
	struct proc *r[2], *s, *q;
	int64_t t0;

	(void)state;
	/* fewer than asked: what came, then exit 0 at the timeout */
	r[0] = responder("rg.two", "a");
	r[1] = responder("rg.two", "b");
	t0 = h_now_ms();
	assert_int_equal(run(&q, NULL, shared_url, "req", "--replies", "5",
	    "--reply-timeout", "500ms", "rg.two", (char *)NULL), 0);
	assert_true(h_now_ms() - t0 >= 450);
	assert_int_equal(lines(q->out), 2);
	assert_true(has_line(q->out, "a"));
	assert_true(has_line(q->out, "b"));
	assert_err(q, "");
	assert_int_equal(finish(r[0], RUN_MS), 0);
	assert_int_equal(finish(r[1], RUN_MS), 0);
	/* --replies 0: all that come until the timeout */
	r[0] = responder("rg.all", "x");
	assert_int_equal(run(&q, NULL, shared_url, "req", "--replies", "0",
	    "--timeout", "300ms", "--raw", "rg.all", (char *)NULL), 0);
	assert_out(q, "x");
	assert_int_equal(finish(r[0], RUN_MS), 0);
	/* none: 75; nobody listening: 69 */
	s = SUB(shared_url, "rg.silent");
	assert_int_equal(run(&q, NULL, shared_url, "req", "--replies", "2",
	    "--timeout", "300ms", "rg.silent", (char *)NULL), 75);
	assert_out(q, "");
	assert_err(q, "corobus: no reply on rg.silent within 300ms\n");
	assert_int_equal(stop(s), 0);
	assert_int_equal(run(&q, NULL, shared_url, "req", "--replies", "2",
	    "rg.nobody", (char *)NULL), 69);
	assert_err(q, "corobus: no responders on rg.nobody\n");
	assert_int_equal(run(&q, NULL, shared_url, "req", "--replies", "many",
	    "x", (char *)NULL), 64);
	assert_err_has(q, "corobus req: --replies: \"many\" is not a count "
	    "from 0 to 999999999\n");
}

/* ---- errors ---- */

static void
test_client_usage_errors(void **state)
{
	struct proc *p;

	(void)state;
	assert_int_equal(run(&p, NULL, shared_url, (char *)NULL), 64);
	assert_err_has(p, "corobus: no command given\n");
	assert_int_equal(run(&p, NULL, shared_url, "frob", (char *)NULL), 64);
	assert_err(p, "corobus: unknown command \"frob\" (see corobus "
	    "--help)\n");
	assert_int_equal(run(&p, NULL, NULL, "--bogus", "pub", (char *)NULL),
	    64);
	assert_err_has(p, "corobus: unknown option --bogus\n");
	assert_int_equal(run(&p, NULL, NULL, "-h", (char *)NULL), 64);
	assert_err_has(p, "corobus: option -h needs an argument\n");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "x.y", (char *)NULL),
	    64);
	assert_err_has(p, "corobus pub: no message: give MESSAGE, -m, -f, "
	    "-s, -l or -n\nusage: corobus pub ");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-m", "a", "x.y",
	    "b", (char *)NULL), 64);
	assert_err_has(p, "corobus pub: give one message source only\n");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-H", "nocolon",
	    "x.y", "b", (char *)NULL), 64);
	assert_err_has(p, "corobus pub: -H: a header is \"Name: value\"");
	assert_int_equal(run(&p, NULL, shared_url, "sub", "-C", "0", "x",
	    (char *)NULL), 64);
	assert_err_has(p, "corobus sub: -C: \"0\" is not a count");
	assert_int_equal(run(&p, NULL, shared_url, "sub", (char *)NULL), 64);
	assert_err_has(p, "corobus sub: no subject\n");
	assert_int_equal(run(&p, NULL, shared_url, "reply", "x",
	    (char *)NULL), 64);
	assert_err_has(p, "corobus reply: give a BODY, --echo or --command\n");
	assert_int_equal(run(&p, NULL, shared_url, "req", "--timeout", "soon",
	    "x", (char *)NULL), 64);
	assert_err_has(p, "corobus req: --timeout: bad duration \"soon\"\n");
	assert_int_equal(run(&p, NULL, NULL, "--timeout", "x", "pub",
	    (char *)NULL), 64);
	assert_err_has(p, "corobus: --timeout: bad duration \"x\"");
	assert_int_equal(run(&p, NULL, shared_url, "-p", "1", "pub", "x", "y",
	    (char *)NULL), 64);
	assert_err(p, "corobus: give the server either as a URL (-L, --url, "
	    "--server) or with -h/-p, not both\n");
}

static void
test_client_data_errors(void **state)
{
	struct proc *p;

	(void)state;
	assert_int_equal(run(&p, NULL, shared_url, "pub", "a..b", "x",
	    (char *)NULL), 65);
	assert_err(p, "corobus: invalid subject \"a..b\" (no wildcards, "
	    "spaces or empty tokens)\n");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "a.*", "x",
	    (char *)NULL), 65);
	assert_int_equal(run(&p, NULL, shared_url, "sub", "a.>.b",
	    (char *)NULL), 65);
	assert_err(p, "corobus: invalid subject \"a.>.b\"\n");
	assert_int_equal(run(&p, NULL, shared_url, "pub", "-f",
	    "/nonexistent/file", "a", (char *)NULL), 66);
	assert_err(p, "corobus: /nonexistent/file: No such file or "
	    "directory\n");
}

static void
test_client_bad_url(void **state)
{
	struct proc *p;

	(void)state;
	assert_int_equal(run(&p, NULL, "http://127.0.0.1:1", "pub", "a", "x",
	    (char *)NULL), 64);
	assert_err(p, "corobus: bad server URL \"http://127.0.0.1:1\": "
	    "unknown scheme (use nats://, tls://, corobus:// or unix://)\n");
	assert_int_equal(run(&p, NULL, "127.0.0.1:99999", "pub", "a", "x",
	    (char *)NULL), 64);
	assert_err(p, "corobus: bad server URL \"127.0.0.1:99999\": the port "
	    "must be a number from 1 to 65535\n");
	assert_int_equal(run(&p, NULL, "nats://", "sub", "a", (char *)NULL),
	    64);
	assert_err(p, "corobus: bad server URL \"nats://\": no host\n");
	assert_int_equal(run(&p, NULL, "unix://relative", "sub", "a",
	    (char *)NULL), 64);
	assert_err_has(p, "unix:// needs an absolute path");
	assert_int_equal(run(&p, NULL, NULL, "-p", "x", "pub", "a", "b",
	    (char *)NULL), 64);
	assert_err_has(p, "the port must be a number");
}

static void
test_client_unreachable(void **state)
{
	struct proc *p;
	char url[64], want[160];
	int port = h_free_port();

	(void)state;
	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, url, "pub", "a", "x", (char *)NULL),
	    69);
	snprintf(want, sizeof(want), "corobus: cannot connect to "
	    "127.0.0.1:%d: Connection refused\n", port);
	assert_err(p, want);
	/* -p, and a sub: no retrying at start */
	snprintf(url, sizeof(url), "%d", port);
	assert_int_equal(run(&p, NULL, NULL, "-p", url, "sub", "a",
	    (char *)NULL), 69);
	assert_err(p, want);
	/* a Unix socket that is not there */
	assert_int_equal(run(&p, NULL, NULL, "--unix", "/nonexistent.sock",
	    "pub", "a", "x", (char *)NULL), 69);
	assert_err(p, "corobus: cannot connect to unix:///nonexistent.sock: "
	    "No such file or directory\n");
}

static void
test_client_name_resolution(void **state)
{
	struct proc *p;

	(void)state;
	assert_int_equal(run(&p, NULL, "nats://nosuchhost.invalid:4222",
	    "pub", "a", "x", (char *)NULL), 68);
	assert_err_has(p, "corobus: nats://nosuchhost.invalid:4222: cannot "
	    "resolve host \"nosuchhost.invalid\"");
	assert_int_equal(lines(p->err), 1);
}

static void
test_client_sub_wait_timeout(void **state)
{
	struct proc *p, *s, *q;

	(void)state;
	assert_int_equal(run(&p, NULL, shared_url, "sub", "-W", "300ms",
	    "-C", "1", "wt.none", (char *)NULL), 75);
	assert_out(p, "");
	assert_err(p, "corobus: subscribed to wt.none\ncorobus: timed out "
	    "after 300ms with 0 messages (fewer than -C)\n");
	/* one message of two, -W in seconds */
	s = SUB(shared_url, "-W", "1", "-C", "2", "wt.one");
	assert_int_equal(run(&q, NULL, shared_url, "pub", "wt.one", "1",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 75);
	assert_out(s, "1\n");
	assert_err_has(s, "corobus: timed out after 1s with 1 message "
	    "(fewer than -C)\n");
}

/* ---- sub over udp:// ---- */

static void
test_client_sub_udp(void **state)
{
	struct h_daemon *d;
	struct proc *s, *p;
	char tcp[64], udp[64], bad[64];
	int port = h_free_port();

	(void)state;
	d = h_daemon_new();
	h_daemon_conf(d, "listeners:\n"
	    "  - { address: \"127.0.0.1:0\" }\n"
	    "  - { protocol: datagram, address: \"127.0.0.1:%d\" }\n"
	    "auth: { token: s3cret }\n", port);
	h_daemon_start(d, NULL);
	snprintf(tcp, sizeof(tcp), "nats://s3cret@127.0.0.1:%d", d->port);
	snprintf(udp, sizeof(udp), "udp://s3cret@127.0.0.1:%d", port);
	snprintf(bad, sizeof(bad), "udp://wrong@127.0.0.1:%d", port);
	/* the PONG to the SUB datagram confirms it; the lease is renewed */
	s = SUB(udp, "-v", "-C", "2", "--lease", "600ms", "ud.*");
	assert_int_equal(run(&p, NULL, tcp, "pub", "ud.a", "one",
	    (char *)NULL), 0);
	h_nap(1000);
	assert_int_equal(run(&p, NULL, tcp, "pub", "ud.b", "two",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_out(s, "ud.a one\nud.b two\n");
	/* --json, and -W */
	s = SUB(udp, "--json", "-W", "1", "-C", "2", "ud.j");
	assert_int_equal(run(&p, NULL, tcp, "pub", "-H", "K: v", "ud.j",
	    "x", (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 75);
	assert_out(s, "{\"data\":\"x\",\"headers\":{\"K\":[\"v\"]},"
	    "\"size\":1,\"subject\":\"ud.j\"}\n");
	assert_err_has(s, "corobus: timed out after 1s with 1 message");
	/* a refused token: no PONG */
	assert_int_equal(run(&p, NULL, NULL, "--timeout", "500ms", "-L", bad,
	    "sub", "ud.x", (char *)NULL), 75);
	assert_err_has(p, "did not confirm the subscription");
	/* other commands do not take udp:// */
	assert_int_equal(run(&p, NULL, udp, "req", "ud.r", "x",
	    (char *)NULL), 64);
	assert_err(p, "corobus: a udp:// URL is for pub and sub only\n");
}

static void
test_client_auth_refused(void **state)
{
	struct proc *p;
	char url[64], want[200];
	int port;

	(void)state;
	port = fake_server("INFO {\"server_id\":\"F\",\"auth_required\":true,"
	    "\"proto\":1,\"headers\":true} \r\n",
	    "-ERR 'Authorization Violation'\r\n");
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, url, "pub", "a", "x", (char *)NULL),
	    77);
	snprintf(want, sizeof(want), "corobus: nats://127.0.0.1:%d: "
	    "authorization refused: the server wants credentials", port);
	assert_err_has(p, want);
	assert_int_equal(lines(p->err), 1);

	port = fake_server("INFO {\"server_id\":\"F\",\"auth_required\":true,"
	    "\"proto\":1,\"headers\":true} \r\n",
	    "-ERR 'Authorization Violation'\r\n");
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, NULL, "-L", url, "-u", "bob",
	    "-P", "bad", "sub", "a", (char *)NULL), 77);
	snprintf(want, sizeof(want), "corobus: nats://127.0.0.1:%d: "
	    "authorization refused (Authorization Violation)\n", port);
	assert_err(p, want);
}

static void
test_client_server_errors(void **state)
{
	struct proc *p;
	char url[64], want[200];
	int port;

	(void)state;
	/* an -ERR in the handshake */
	port = fake_server(INFO_LINE, "-ERR 'invalid client protocol'\r\n");
	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, url, "pub", "a", "x", (char *)NULL),
	    76);
	snprintf(want, sizeof(want), "corobus: 127.0.0.1:%d: server error: "
	    "invalid client protocol\n", port);
	assert_err(p, want);
	/* not a NATS server */
	port = fake_server("HTTP/1.1 400 Bad Request\r\n\r\n", NULL);
	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, url, "pub", "a", "x", (char *)NULL),
	    76);
	snprintf(want, sizeof(want), "corobus: 127.0.0.1:%d: not a NATS "
	    "server (bad frame while waiting for INFO)\n", port);
	assert_err(p, want);
	/* closed during the handshake */
	port = fake_server(INFO_LINE, "");
	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, url, "pub", "a", "x", (char *)NULL),
	    76);
	snprintf(want, sizeof(want), "corobus: 127.0.0.1:%d: the server "
	    "closed the connection while we waited for PONG\n", port);
	assert_err_has(p, "closed the connection while we waited for");
	/* silent: the handshake times out */
	port = fake_server(NULL, NULL);
	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, NULL, "-L", url, "--timeout", "300ms",
	    "pub", "a", "x", (char *)NULL), 75);
	snprintf(want, sizeof(want), "corobus: 127.0.0.1:%d: no INFO from the "
	    "server within 300ms\n", port);
	assert_err(p, want);
	/* TLS wanted, not offered */
	port = fake_server(INFO_LINE, NULL);
	snprintf(url, sizeof(url), "tls://127.0.0.1:%d", port);
	assert_int_equal(run(&p, NULL, url, "pub", "a", "x", (char *)NULL),
	    76);
	snprintf(want, sizeof(want), "corobus: tls://127.0.0.1:%d: the server "
	    "does not offer TLS\n", port);
	assert_err(p, want);
	/* a TLS file that is not there */
	assert_int_equal(run(&p, NULL, shared_url, "--tls", "--cafile",
	    "/nonexistent/ca.pem", "pub", "a", "x", (char *)NULL), 66);
	assert_err(p, "corobus: CA file /nonexistent/ca.pem: No such file or "
	    "directory\n");
}

/* ---- server resolution, client configuration file ---- */

static void
test_client_env_and_config(void **state)
{
	char dir[128], path[192], url[64];
	struct proc *p;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/corobus", tmpdir);
	(void)mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/client.yaml", dir);
	snprintf(url, sizeof(url), "127.0.0.1:%d", h_free_port());

	/* COROBUS_URL */
	setenv("COROBUS_URL", shared_url, 1);
	assert_int_equal(run(&p, NULL, NULL, "pub", "cf.x", "1",
	    (char *)NULL), 0);
	/* flags win over it */
	assert_int_equal(run(&p, NULL, url, "pub", "cf.x", "1",
	    (char *)NULL), 69);
	unsetenv("COROBUS_URL");

	/* the file, with a context chosen by flag, env and key */
	{
		char text[512];

		snprintf(text, sizeof(text), "server: %s\ntimeout: 2s\n"
		    "contexts:\n  dead: { server: [\"%s\"] }\n"
		    "  live: { server: %s, name: me }\n", url, url,
		    shared_url);
		write_file(path, text);
	}
	assert_int_equal(run(&p, NULL, NULL, "pub", "cf.x", "1",
	    (char *)NULL), 69);
	assert_int_equal(run(&p, NULL, NULL, "--context", "live", "pub",
	    "cf.x", "1", (char *)NULL), 0);
	setenv("COROBUS_CONTEXT", "live", 1);
	assert_int_equal(run(&p, NULL, NULL, "pub", "cf.x", "1",
	    (char *)NULL), 0);
	unsetenv("COROBUS_CONTEXT");
	assert_int_equal(run(&p, NULL, NULL, "--context", "nope", "pub",
	    "cf.x", "1", (char *)NULL), 78);
	{
		char want[256];

		snprintf(want, sizeof(want), "corobus: %s: no context "
		    "\"nope\"\n", path);
		assert_err(p, want);
	}

	/* errors with their position */
	write_file(path, "server: x\nsevrer: y\n");
	assert_int_equal(run(&p, NULL, NULL, "pub", "cf.x", "1",
	    (char *)NULL), 78);
	{
		char want[256];

		snprintf(want, sizeof(want), "corobus: %s:2:1: unknown key "
		    "\"sevrer\"\n", path);
		assert_err(p, want);
		write_file(path, "tls: { insecure: maybe }\n");
		assert_int_equal(run(&p, NULL, NULL, "pub", "cf.x", "1",
		    (char *)NULL), 78);
		snprintf(want, sizeof(want), "corobus: %s:1:18: tls.insecure: "
		    "expected true or false\n", path);
		assert_err(p, want);
		write_file(path, "a: &x 1\nb: *x\n");
		assert_int_equal(run(&p, NULL, NULL, "pub", "cf.x", "1",
		    (char *)NULL), 78);
		assert_err_has(p, "YAML anchors are not accepted");
	}
	unlink(path);
}

static void
test_client_version_help(void **state)
{
	struct proc *p;

	(void)state;
	assert_int_equal(run(&p, NULL, NULL, "-V", (char *)NULL), 0);
	assert_non_null(strstr(p->out, "corobus " PACKAGE_VERSION "\n"));
	assert_int_equal(run(&p, NULL, NULL, "--help", (char *)NULL), 0);
	assert_non_null(strstr(p->out, "commands:"));
	assert_int_equal(run(&p, NULL, NULL, "pub", "--help", (char *)NULL),
	    0);
	assert_non_null(strstr(p->out, "usage: corobus pub "));
}

/* ---- failover and reconnect ---- */

static void
test_client_failover(void **state)
{
	char urls[160];
	struct proc *s, *p;

	(void)state;
	snprintf(urls, sizeof(urls), "127.0.0.1:%d,%s", h_free_port(),
	    shared_url);
	s = SUB(urls, "-C", "1", "fo.x");
	assert_int_equal(run(&p, NULL, urls, "pub", "fo.x", "over",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_out(s, "over\n");
	/* both dead: every reason on one line */
	snprintf(urls, sizeof(urls), "127.0.0.1:%d,127.0.0.1:%d", h_free_port(),
	    h_free_port());
	assert_int_equal(run(&p, NULL, urls, "pub", "fo.x", "x",
	    (char *)NULL), 69);
	assert_err_has(p, "corobus: no server available: cannot connect to "
	    "127.0.0.1:");
	assert_int_equal(lines(p->err), 1);
}

static void
test_client_reconnect(void **state)
{
	struct h_daemon *d = h_daemon_run("");
	struct proc *s, *r, *p;
	char url[64], want[128];
	int port = d->port;

	(void)state;
	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	s = SUB(url, "rc.x");
	r = start(NULL, url, "reply", "rc.svc", "up", (char *)NULL);
	expect_text(r, true, "listening for requests", 5000);
	assert_int_equal(run(&p, NULL, url, "pub", "rc.x", "before",
	    (char *)NULL), 0);
	expect_text(s, false, "before\n", 5000);

	assert_int_equal(h_daemon_stop(d), 0);
	snprintf(want, sizeof(want), "corobus: disconnected from %s, "
	    "reconnecting\n", url);
	expect_text(s, true, want, 5000);
	expect_text(r, true, want, 5000);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:%d\"}]\n", port);
	h_daemon_start(d, NULL);
	assert_int_equal(d->port, port);
	snprintf(want, sizeof(want), "corobus: reconnected to %s\n", url);
	expect_text(s, true, want, 5000);
	expect_text(r, true, want, 5000);
	/* resubscribed */
	assert_int_equal(run(&p, NULL, url, "pub", "rc.x", "after",
	    (char *)NULL), 0);
	expect_text(s, false, "after\n", 5000);
	assert_int_equal(run(&p, NULL, url, "req", "rc.svc", (char *)NULL), 0);
	assert_out(p, "up\n");
	assert_int_equal(stop(s), 0);
	assert_int_equal(stop(r), 0);
	assert_out(s, "before\nafter\n");
}

/* A short-lived command is not reconnected: it fails with the reason. */
static void
test_client_connection_lost(void **state)
{
	struct h_daemon *d = h_daemon_run("");
	struct proc *q;
	char url[64];

	(void)state;
	snprintf(url, sizeof(url), "127.0.0.1:%d", d->port);
	/* a subscriber that does not answer keeps req waiting */
	{
		struct proc *s = SUB(url, "cl.x");

		q = start(NULL, url, "req", "--timeout", "5s", "cl.x",
		    (char *)NULL);
		h_nap(300);
		assert_int_equal(h_daemon_stop(d), 0);
		assert_int_equal(finish(q, RUN_MS), 69);
		assert_err_has(q, "corobus: connection to ");
		assert_err_has(q, " lost\n");
		assert_int_equal(lines(q->err), 1);
		(void)stop(s);
	}
}

/* ---- nats-server ---- */

/* Starts nats-server on a free port with more configuration text:
 * its port. */
static int
nats_start(const char *more)
{
	const char *bin = h_nats_server_path();
	char conf[192], text[1024];
	int port = h_free_port();

	if (bin == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/nats.conf", tmpdir);
	snprintf(text, sizeof(text), "listen: 127.0.0.1:%d\n%s", port, more);
	write_file(conf, text);
	h_nats_server_start(&natsd, bin, port, "-c", conf, (char *)NULL);
	return port;
}

static void
test_client_nats_server(void **state)
{
	struct proc *s, *r, *q;
	char url[64];
	int port;

	(void)state;
	if (h_nats_server_path() == NULL) {
		print_message("skip: nats-server is not installed (the client "
		    "is checked against it when it is)\n");
		skip();
	}
	port = nats_start("");
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	s = SUB(url, "--headers", "-C", "2", "ns.>");
	assert_int_equal(run(&q, NULL, url, "pub", "-H", "K: V", "ns.a",
	    "one", (char *)NULL), 0);
	assert_int_equal(run(&q, "two\n", url, "pub", "-l", "ns.b",
	    (char *)NULL), 0);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_out(s, "K: V\none\ntwo\n");

	r = start(NULL, url, "reply", "--echo", "-C", "1", "ns.svc",
	    (char *)NULL);
	expect_text(r, true, "listening for requests", 5000);
	assert_int_equal(run(&q, NULL, url, "req", "ns.svc", "hi",
	    (char *)NULL), 0);
	assert_out(q, "hi\n");
	assert_int_equal(finish(r, RUN_MS), 0);
	assert_int_equal(run(&q, NULL, url, "req", "ns.none", (char *)NULL),
	    69);
	assert_err(q, "corobus: no responders on ns.none\n");
	h_nats_server_stop(&natsd);
}

static void
test_client_nats_server_auth(void **state)
{
	struct proc *q;
	char url[64], want[256];
	int port;

	(void)state;
	if (h_nats_server_path() == NULL) {
		print_message("skip: nats-server is not installed\n");
		skip();
	}
	port = nats_start("authorization {\n"
	    "  users: [\n"
	    "    { user: alice, password: secret,\n"
	    "      permissions: { publish: { deny: [\"secret.>\"] },\n"
	    "                     subscribe: { deny: [\"secret.>\"] } } }\n"
	    "  ]\n"
	    "}\n");
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	assert_int_equal(run(&q, NULL, url, "pub", "a", "x", (char *)NULL),
	    77);
	snprintf(want, sizeof(want), "corobus: %s: authorization refused: the "
	    "server wants credentials (-u and -P, or --token)\n", url);
	assert_err(q, want);
	assert_int_equal(run(&q, NULL, NULL, "-L", url, "-u", "alice", "-P",
	    "wrong", "pub", "a", "x", (char *)NULL), 77);
	snprintf(want, sizeof(want), "corobus: %s: authorization refused "
	    "(Authorization Violation)\n", url);
	assert_err(q, want);
	/* the password from the environment; credentials in the URL */
	setenv("COROBUS_PASSWORD", "secret", 1);
	assert_int_equal(run(&q, NULL, NULL, "-L", url, "-u", "alice", "pub",
	    "a", "x", (char *)NULL), 0);
	unsetenv("COROBUS_PASSWORD");
	snprintf(url, sizeof(url), "nats://alice:secret@127.0.0.1:%d", port);
	assert_int_equal(run(&q, NULL, url, "pub", "a", "x", (char *)NULL), 0);
	/* permission violations: 77, one line */
	assert_int_equal(run(&q, NULL, url, "pub", "secret.x", "x",
	    (char *)NULL), 77);
	assert_err(q, "corobus: server: Permissions Violation for Publish "
	    "to \"secret.x\"\n");
	assert_int_equal(run(&q, NULL, url, "sub", "secret.x", (char *)NULL),
	    77);
	assert_err(q, "corobus: server: Permissions Violation for "
	    "Subscription to \"secret.x\"\n");
	h_nats_server_stop(&natsd);
}

/* ---- main ---- */

static int
teardown(void **state)
{
	struct proc *p;

	while ((p = procs) != NULL) {
		procs = p->next;
		proc_free(p);
	}
	h_nats_server_stop(&natsd);
	return h_test_teardown(state);
}

static int
group_setup(void **state)
{
	(void)state;
	shared = h_daemon_shared();
	snprintf(shared_url, sizeof(shared_url), "127.0.0.1:%d",
	    shared->port);
	return 0;
}

#define T(f)	cmocka_unit_test_teardown(f, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_client_pub_sub_payload),
		T(test_client_pub_sub_verbose_nonewline),
		T(test_client_pub_sub_headers),
		T(test_client_sub_format),
		T(test_client_sub_format_errors),
		T(test_client_pub_stdin_and_count),
		T(test_client_sub_several_subjects),
		T(test_client_queue_groups),
		T(test_client_req_reply_fixed),
		T(test_client_req_reply_echo_headers),
		T(test_client_req_reply_command),
		T(test_client_reply_command_fails),
		T(test_client_req_timeout),
		T(test_client_req_no_responders),
		T(test_client_req_replies),
		T(test_client_req_replies_timeout),
		T(test_client_usage_errors),
		T(test_client_data_errors),
		T(test_client_bad_url),
		T(test_client_unreachable),
		T(test_client_name_resolution),
		T(test_client_sub_wait_timeout),
		T(test_client_sub_udp),
		T(test_client_auth_refused),
		T(test_client_server_errors),
		T(test_client_env_and_config),
		T(test_client_version_help),
		T(test_client_failover),
		T(test_client_reconnect),
		T(test_client_connection_lost),
		T(test_client_nats_server),
		T(test_client_nats_server_auth),
	};
	int rc;

	/* no user configuration, no inherited server or credentials */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/corobus-tc.XXXXXX");
	if (h_client_env(tmpdir, true) == -1)
		return 1;
	/* fake servers end by themselves: no zombies */
	signal(SIGCHLD, SIG_DFL);
	rc = cmocka_run_group_tests(tests, group_setup, h_group_teardown);
	(void)h_rm_dir(tmpdir);
	return rc;
}
