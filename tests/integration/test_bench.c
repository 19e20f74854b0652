/*
 * test_bench.c: "corobus bench" ($COROBUS) against a real corobusd on a
 * free loopback port: every mode runs a small count and its --json
 * object has the documented fields, every expected delivery and nothing
 * lost; sub and reply meet a pub and a req run by another process;
 * --csv appends rows under one header; a bad mode, an option that does
 * not fit the mode and an unreachable server fail with one line and
 * their exit codes (64, 69).
 *
 * Each run's standard output and error go to files in a temporary
 * directory; runs still going are killed by the test's teardown.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS		30000	/* for a bench run to end */
#define MAX_ARGS	32
#define MAX_RUNS	8

/* A run of the client: its pid and where its output goes. */
struct brun {
	pid_t	 pid;
	char	 out[128], err[128];
	int	 status;		/* exit status once done, or -1 */
	bool	 done;
};

static struct h_daemon	*daemon_;
static char		 url[64];
static char		 tmpdir[64];
static struct brun	 runs[MAX_RUNS];
static int		 nruns;

/* The documented fields of the --json object, in their order. */
static const char *const json_keys[] = {
	"mode", "server", "subject", "size", "pubs", "subs", "clients",
	"msgs", "deliveries", "expected", "elapsed_s", "msgs_per_s",
	"deliveries_per_s", "MB_per_s", "req_per_s", "p50_us", "p90_us",
	"p99_us", "p999_us", "max_us", "lost", "slow", "errors", "open",
	"connect_s", "conns_per_s", "gen_cpu_pct", "srv_cpu_pct",
	"srv_rss_kb", "rss_before_kb", "rss_after_kb", "bytes_per_conn",
	"interrupted", "timed_out", "last_error"
};

/* ---- helpers ---- */

/* The whole of a file (malloc'd, NUL-terminated; "" when missing). */
static char *
slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ch;

	if ((f = fopen(path, "r")) == NULL)
		return strdup("");
	while ((ch = fgetc(f)) != EOF) {
		if ((buf = realloc(buf, len + 2)) == NULL)
			fail_msg("out of memory");
		buf[len++] = (char)ch;
	}
	fclose(f);
	if (buf == NULL)
		return strdup("");
	buf[len] = '\0';
	return buf;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Starts $COROBUS -L url (unless target is NULL: then the arguments name
 * the server) and the NULL-terminated arguments. */
static struct brun *
start(const char *target, ...)
{
	const char *argv[MAX_ARGS + 4], *bin = h_corobus_path();
	pid_t parent = getpid();
	struct brun *b;
	va_list ap;
	int n = 0, fd;

	if (nruns == MAX_RUNS)
		fail_msg("too many runs in one test");
	b = &runs[nruns];
	memset(b, 0, sizeof(*b));
	b->status = -1;
	snprintf(b->out, sizeof(b->out), "%s/out.%d", tmpdir, nruns);
	snprintf(b->err, sizeof(b->err), "%s/err.%d", tmpdir, nruns);
	nruns++;
	argv[n++] = bin;
	if (target != NULL) {
		argv[n++] = "-L";
		argv[n++] = target;
	}
	va_start(ap, target);
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		if (++n == MAX_ARGS)
			fail_msg("too many arguments");
	va_end(ap);
	if ((b->pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (b->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(127);
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			dup2(fd, STDIN_FILENO);
		if ((fd = open(b->out, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) != -1)
			dup2(fd, STDOUT_FILENO);
		if ((fd = open(b->err, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) != -1)
			dup2(fd, STDERR_FILENO);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return b;
}

/* Waits for the run to end: its exit status (-1 when it had to be
 * killed, or died of a signal). */
static int
finish(struct brun *b, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	pid_t w;

	while (!b->done) {
		w = waitpid(b->pid, &b->status, WNOHANG);
		if (w == b->pid) {
			b->done = true;
			break;
		}
		if (h_now_ms() >= deadline) {
			kill(b->pid, SIGKILL);
			(void)waitpid(b->pid, &b->status, 0);
			b->done = true;
			print_error("run killed after %d ms\n", ms);
			return -1;
		}
		h_nap(10);
	}
	return WIFEXITED(b->status) ? WEXITSTATUS(b->status) : -1;
}

/* Waits until text shows in the run's stderr. */
static void
wait_err(struct brun *b, const char *text, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	char *e;

	for (;;) {
		e = slurp(b->err);
		if (strstr(e, text) != NULL) {
			free(e);
			return;
		}
		if (h_now_ms() >= deadline)
			fail_msg("no \"%s\" on stderr within %d ms:\n%s", text,
			    ms, e);
		free(e);
		h_nap(20);
	}
}

/* Checks a --json object: every field, deliveries == expected, nothing
 * lost, no errors, and msgs and deliveries as given (-1: not checked). */
static void
check_json(struct brun *b, const char *mode, long long msgs,
    long long deliveries)
{
	char *out = slurp(b->out), *err = slurp(b->err), key[64];
	size_t i;

	if (count_lines(out) != 1 || out[0] != '{')
		fail_msg("not one JSON line:\n%s\nstderr:\n%s", out, err);
	for (i = 0; i < sizeof(json_keys) / sizeof(json_keys[0]); i++) {
		snprintf(key, sizeof(key), "\"%s\":", json_keys[i]);
		if (strstr(out, key) == NULL)
			fail_msg("no field %s in %s", json_keys[i], out);
	}
	snprintf(key, sizeof(key), "\"mode\":\"%s\"", mode);
	if (strstr(out, key) == NULL)
		fail_msg("not mode %s: %s", mode, out);
	assert_int_equal(h_json_int(out, "deliveries"),
	    h_json_int(out, "expected"));
	assert_int_equal(h_json_int(out, "lost"), 0);
	assert_int_equal(h_json_int(out, "slow"), 0);
	assert_int_equal(h_json_int(out, "errors"), 0);
	assert_non_null(strstr(out, "\"interrupted\":false"));
	assert_non_null(strstr(out, "\"timed_out\":false"));
	assert_non_null(strstr(out, "\"last_error\":null"));
	if (msgs >= 0)
		assert_int_equal(h_json_int(out, "msgs"), msgs);
	if (deliveries >= 0)
		assert_int_equal(h_json_int(out, "deliveries"), deliveries);
	free(out);
	free(err);
}

/* Runs one self-contained mode to the end: exit 0 and the checks. */
static void
run_mode(const char *mode, long long msgs, long long deliveries, ...)
{
	const char *args[MAX_ARGS] = { NULL };
	struct brun *b;
	va_list ap;
	int n = 0;

	va_start(ap, deliveries);
	while ((args[n] = va_arg(ap, const char *)) != NULL && n < 20)
		n++;
	va_end(ap);
	b = start(url, "bench", mode, "--json", "--no-progress",
	    args[0], args[1], args[2], args[3], args[4], args[5],
	    args[6], args[7], (char *)NULL);
	if (finish(b, RUN_MS) != 0) {
		char *e = slurp(b->err), *o = slurp(b->out);

		fail_msg("bench %s exited %d:\nstdout:\n%s\nstderr:\n%s",
		    mode, WEXITSTATUS(b->status), o, e);
	}
	check_json(b, mode, msgs, deliveries);
}

/* ---- tests ---- */

static void
test_bench_throughput_modes(void **state)
{
	(void)state;
	run_mode("pub", 2000, 0, "--msgs", "2000", (char *)NULL);
	run_mode("pub", 4000, 0, "--msgs", "2000", "--pubs", "2",
	    (char *)NULL);
	run_mode("pubsub", 2000, 2000, "--msgs", "2000", (char *)NULL);
	/* fan-out: every subscriber gets every message */
	run_mode("pubsub", 2000, 6000, "--msgs", "2000", "--subs", "3",
	    "--size", "1k", (char *)NULL);
	/* a queue group: each message once */
	run_mode("queue", 2000, 2000, "--msgs", "2000", "--subs", "3",
	    (char *)NULL);
	run_mode("mpub", 4000, 4000, "--msgs", "2000", "--pubs", "2",
	    "--size", "16", (char *)NULL);
	/* an empty payload */
	run_mode("pubsub", 2000, 2000, "--msgs", "2000", "--size", "0",
	    (char *)NULL);
}

static void
test_bench_req_idle(void **state)
{
	char *out;
	struct brun *b;

	(void)state;
	run_mode("req", 2000, 2000, "--msgs", "2000", (char *)NULL);
	run_mode("req", 2000, 2000, "--msgs", "2000", "--clients", "4",
	    (char *)NULL);
	/* by time: as many as fit, all answered */
	run_mode("req", -1, -1, "--seconds", "0.3", "--clients", "2",
	    (char *)NULL);
	run_mode("idle", 0, 0, "--clients", "50", "--seconds", "0.2",
	    (char *)NULL);
	b = &runs[nruns - 1];
	out = slurp(b->out);
	assert_int_equal(h_json_int(out, "open"), 50);
	free(out);
	/* latency fields are numbers for req */
	b = &runs[0];
	out = slurp(b->out);
	assert_null(strstr(out, "\"p99_us\":null"));
	assert_non_null(strstr(out, "\"open\":null"));
	free(out);
}

static void
test_bench_sub_and_pub(void **state)
{
	struct brun *sub, *pub;

	(void)state;
	sub = start(url, "bench", "sub", "--json", "--msgs", "2000",
	    "tb.sub", (char *)NULL);
	wait_err(sub, "sub: waiting for messages on tb.sub", 5000);
	pub = start(url, "bench", "pub", "--json", "--no-progress", "--msgs",
	    "2000", "--size", "64", "tb.sub", (char *)NULL);
	assert_int_equal(finish(pub, RUN_MS), 0);
	assert_int_equal(finish(sub, RUN_MS), 0);
	check_json(pub, "pub", 2000, 0);
	check_json(sub, "sub", 0, 2000);
}

static void
test_bench_reply_and_req(void **state)
{
	struct brun *rep, *req;

	(void)state;
	rep = start(url, "bench", "reply", "--json", "--msgs", "2000",
	    "tb.svc", (char *)NULL);
	wait_err(rep, "reply: waiting for requests on tb.svc", 5000);
	req = start(url, "bench", "req", "--json", "--no-progress",
	    "--no-responder", "--msgs", "2000", "--clients", "2", "tb.svc",
	    (char *)NULL);
	assert_int_equal(finish(req, RUN_MS), 0);
	assert_int_equal(finish(rep, RUN_MS), 0);
	check_json(req, "req", 2000, 2000);
	check_json(rep, "reply", 2000, 2000);
}

static void
test_bench_csv(void **state)
{
	char path[128], *csv, *nl;
	struct brun *b;

	(void)state;
	snprintf(path, sizeof(path), "%s/bench.csv", tmpdir);
	unlink(path);
	b = start(url, "bench", "pubsub", "--no-progress", "--msgs", "2000",
	    "--csv", path, (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 0);
	b = start(url, "bench", "req", "--no-progress", "--msgs", "200",
	    "--csv", path, (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 0);
	csv = slurp(path);
	assert_int_equal(count_lines(csv), 3);
	assert_true(strncmp(csv, "time,mode,server,subject,size,", 30) == 0);
	nl = strchr(csv, '\n');
	assert_non_null(strstr(nl, ",pubsub,"));
	assert_non_null(strstr(nl, ",req,"));
	free(csv);
	/* the summary table went to stdout meanwhile */
	csv = slurp(b->out);
	assert_non_null(strstr(csv, "corobus bench req:"));
	assert_non_null(strstr(csv, "latency"));
	free(csv);
}

static void
test_bench_usage_errors(void **state)
{
	struct brun *b;
	char *e;

	(void)state;
	b = start(url, "bench", "fly", (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 64);
	e = slurp(b->err);
	assert_int_equal(count_lines(e), 1);
	assert_non_null(strstr(e, "corobus bench: unknown mode \"fly\""));
	free(e);
	b = start(url, "bench", (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 64);
	e = slurp(b->err);
	assert_int_equal(count_lines(e), 1);
	free(e);
	/* an option the mode does not take */
	b = start(url, "bench", "req", "--subs", "3", (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 64);
	e = slurp(b->err);
	assert_int_equal(count_lines(e), 1);
	assert_non_null(strstr(e, "--subs does not apply to mode req"));
	free(e);
	b = start(url, "bench", "pub", "--msgs", "lots", (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 64);
	/* a subject with a wildcard cannot be published to */
	b = start(url, "bench", "pub", "a.*", (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 65);
}

static void
test_bench_unreachable(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char target[64], want[128], *e;
	struct brun *b;
	int fd, port;

	(void)state;
	/* a port nobody listens on: bound, then closed */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		fail_msg("socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fail_msg("bind: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	close(fd);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	b = start(target, "bench", "pubsub", "--msgs", "10", (char *)NULL);
	assert_int_equal(finish(b, RUN_MS), 69);
	e = slurp(b->err);
	snprintf(want, sizeof(want), "corobus: cannot connect to "
	    "127.0.0.1:%d: Connection refused\n", port);
	assert_string_equal(e, want);
	free(e);
	/* nothing on stdout */
	e = slurp(b->out);
	assert_string_equal(e, "");
	free(e);
}

/* ---- setup ---- */

static int
teardown(void **state)
{
	int i;

	for (i = 0; i < nruns; i++)
		if (!runs[i].done) {
			kill(runs[i].pid, SIGKILL);
			(void)waitpid(runs[i].pid, &runs[i].status, 0);
		}
	nruns = 0;
	return h_test_teardown(state);
}

/* --sub-server: publishers on one node of a cluster, subscribers on
 * another; the run starts once a probe crossed the route.  Against a
 * server with no route to the publishers' it gives up with 75. */
static void
test_bench_sub_server(void **state)
{
	struct h_daemon *a = h_daemon_new(), *b = h_daemon_new();
	struct h_daemon *alone = h_daemon_run("");
	int ra = h_free_port(), rb = h_free_port();
	char ua[64], ub[64], ul[64];
	struct brun *r;

	(void)state;
	h_daemon_conf(a, "server_name: tb-a\nlisteners: [ { protocol: nats, "
	    "address: \"127.0.0.1:0\" } ]\ncluster: { name: tb, address: "
	    "\"127.0.0.1:%d\" }\n", ra);
	h_daemon_conf(b, "server_name: tb-b\nlisteners: [ { protocol: nats, "
	    "address: \"127.0.0.1:0\" } ]\ncluster: { name: tb, address: "
	    "\"127.0.0.1:%d\", routes: [ \"nats-route://127.0.0.1:%d\" ] }\n",
	    rb, ra);
	h_daemon_start(a, (char *)NULL);
	h_daemon_start(b, (char *)NULL);
	assert_true(h_daemon_log_wait(b, "route: registered name=tb-a", 5000));
	snprintf(ua, sizeof(ua), "127.0.0.1:%d", a->port);
	snprintf(ub, sizeof(ub), "nats://127.0.0.1:%d", b->port);
	snprintf(ul, sizeof(ul), "nats://127.0.0.1:%d", alone->port);
	r = start(ua, "bench", "pubsub", "--json", "--no-progress",
	    "--sub-server", ub, "--msgs", "2000", "--subs", "2",
	    (char *)NULL);
	assert_int_equal(finish(r, RUN_MS), 0);
	check_json(r, "pubsub", 2000, 4000);
	r = start(ua, "--timeout", "1s", "bench", "pubsub", "--no-progress",
	    "--sub-server", ul, "--msgs", "100", (char *)NULL);
	assert_int_equal(finish(r, RUN_MS), 75);
	wait_err(r, "reached the subscribers", 100);
}

static int
group_setup(void **state)
{
	(void)state;
	daemon_ = h_daemon_shared();
	snprintf(url, sizeof(url), "127.0.0.1:%d", daemon_->port);
	return 0;
}

#define T(f)	cmocka_unit_test_teardown(f, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bench_throughput_modes),
		T(test_bench_req_idle),
		T(test_bench_sub_and_pub),
		T(test_bench_reply_and_req),
		T(test_bench_csv),
		T(test_bench_usage_errors),
		T(test_bench_unreachable),
		T(test_bench_sub_server),
	};
	int rc;

	/* no user configuration, no inherited server or credentials */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/corobus-tb.XXXXXX");
	if (h_client_env(tmpdir, true) == -1)
		return 1;
	rc = cmocka_run_group_tests(tests, group_setup, h_group_teardown);
	if (h_rm_dir(tmpdir) != 0)
		fprintf(stderr, "test_bench: cannot remove %s\n", tmpdir);
	return rc;
}
