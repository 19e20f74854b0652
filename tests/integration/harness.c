/*
 * harness.c: real corobusd processes and raw sockets for the integration
 * tests (see harness.h).  A daemon's stderr goes to a file in its
 * temporary directory, which the harness reads for the "listening on"
 * lines (the real port behind 127.0.0.1:0) and for what a test expects
 * the daemon to log.  Every daemon and connection is on a list that the
 * test teardown, an atexit handler and a fatal-signal handler walk.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define H_MAX_ARGS	16

static struct h_daemon	*daemons;
static struct h_conn	*conns;
static bool		 registered;

/* ---- misc ---- */

int64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining(int64_t deadline)
{
	int64_t left = deadline - h_now_ms();

	return left > 0 ? (int)left : 0;
}

void
h_nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

long long
h_json_int(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

int
h_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fail_msg("socket: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

void
h_append(char **buf, size_t *len, const void *data, size_t n)
{
	char *nb;

	if ((nb = realloc(*buf, *len + n + 1)) == NULL)
		fail_msg("out of memory");
	memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
}

static char *
corobusd_path(void)
{
	char *p = getenv("COROBUSD");

	if (p == NULL || *p == '\0')
		fail_msg("COROBUSD is not set: run through `make check`, or "
		    "set it to the corobusd binary");
	return p;
}

static char	*log_text(struct h_daemon *);

/* ---- cleanup ---- */

/* Removes dir/name with async-signal-safe calls only. */
static void
unlink_in(const char *dir, const char *name)
{
	char path[sizeof(((struct h_daemon *)0)->dir) + 32];
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl + 1 + nl >= sizeof(path))
		return;
	memcpy(path, dir, dl);
	path[dl] = '/';
	memcpy(path + dl + 1, name, nl + 1);
	(void)unlink(path);
}

static void
on_fatal_signal(int sig)
{
	static const char *const files[] = { "corobus.yaml", "stderr.log",
	    "s.sock" };
	struct h_daemon *d;
	size_t i;

	/* only async-signal-safe calls: kill the daemons, remove the files
	 * the harness knows of */
	for (d = daemons; d != NULL; d = d->next) {
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			(void)waitpid(d->pid, NULL, 0);
		}
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			unlink_in(d->dir, files[i]);
		(void)rmdir(d->dir);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
h_atexit(void)
{
	(void)h_cleanup();
}

static void
h_register(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	size_t i;

	if (registered)
		return;
	registered = true;
	atexit(h_atexit);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal_signal);
	/* a server closing a socket must not kill the test */
	signal(SIGPIPE, SIG_IGN);
}

void
h_share_all(void)
{
	struct h_daemon *d;
	struct h_conn *c;

	for (d = daemons; d != NULL; d = d->next)
		d->shared = true;
	for (c = conns; c != NULL; c = c->next)
		c->shared = true;
}

/* Stops and frees d: 0 if it was stopped or had exited with status 0,
 * else -1 after printing its log (a crash, a sanitizer report). */
static int
daemon_finish(struct h_daemon *d)
{
	int status = h_daemon_stop(d), rc = 0;
	char *log;

	if (d->exited_badly || (status != 0 && (status == -1 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0))) {
		log = log_text(d);
		print_error("corobusd (%s) did not exit cleanly (status "
		    "0x%x); its log:\n%s\n", d->dir, status,
		    log != NULL ? log : "");
		free(log);
		rc = -1;
	}
	h_daemon_free(d);
	return rc;
}

int
h_test_teardown(void **state)
{
	struct h_daemon *d, *dn;
	struct h_conn *c, *cn;
	int rc = 0;

	(void)state;
	for (c = conns; c != NULL; c = cn) {
		cn = c->next;
		if (!c->shared)
			h_conn_close(c);
	}
	for (d = daemons; d != NULL; d = dn) {
		dn = d->next;
		if (!d->shared && daemon_finish(d) != 0)
			rc = -1;
	}
	return rc;
}

int
h_cleanup(void)
{
	int rc = 0;

	while (conns != NULL)
		h_conn_close(conns);
	while (daemons != NULL)
		if (daemon_finish(daemons) != 0)
			rc = -1;
	return rc;
}

int
h_group_teardown(void **state)
{
	(void)state;
	return h_cleanup();
}

/* ---- daemons ---- */

struct h_daemon *
h_daemon_new(void)
{
	struct h_daemon *d;
	const char *tmp = getenv("TMPDIR");

	h_register();
	/* Unix socket paths are short: a long TMPDIR is not used */
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fail_msg("out of memory");
	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "%s/corobus-it.XXXXXX", tmp);
	if (mkdtemp(d->dir) == NULL) {
		free(d);
		fail_msg("mkdtemp: %s", strerror(errno));
	}
	snprintf(d->conf, sizeof(d->conf), "%s/corobus.yaml", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/stderr.log", d->dir);
	d->next = daemons;
	daemons = d;
	return d;
}

const char *
h_daemon_path(struct h_daemon *d, const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	return path;
}

void
h_daemon_conf(struct h_daemon *d, const char *fmt, ...)
{
	va_list ap;
	char *text;
	FILE *f;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		fail_msg("out of memory");
	if ((f = fopen(d->conf, "w")) == NULL)
		fail_msg("%s: %s", d->conf, strerror(errno));
	fputs(text, f);
	/* monitoring is on by default, on a fixed port: off unless asked */
	if (strstr(text, "monitoring") == NULL)
		fputs("\nmonitoring: { address: \"\" }\n", f);
	free(text);
	if (fclose(f) != 0)
		fail_msg("%s: %s", d->conf, strerror(errno));
}

/* What the current run logged so far (malloc'd, NUL-terminated). */
static char *
log_text(struct h_daemon *d)
{
	FILE *f;
	char *s;
	long size;
	size_t n;

	if ((f = fopen(d->log, "r")) == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size < d->log_start)
		size = d->log_start;
	fseek(f, d->log_start, SEEK_SET);
	if ((s = malloc((size_t)(size - d->log_start) + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(s, 1, (size_t)(size - d->log_start), f);
	s[n] = '\0';
	fclose(f);
	return s;
}

bool
h_daemon_log_wait(struct h_daemon *d, const char *text, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	char *s;
	bool found;

	for (;;) {
		s = log_text(d);
		found = s != NULL && strstr(s, text) != NULL;
		free(s);
		if (found)
			return true;
		if (h_now_ms() >= deadline)
			return false;
		h_nap(10);
	}
}

/* fork and exec $COROBUSD argv with stdout and stderr on fd; the child
 * dies with the test process. */
static pid_t
spawn(char *const argv[], int fd)
{
	pid_t parent = getpid(), pid;
	sigset_t none;
	int null;

	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	/* the child: async-signal-safe calls only (libnats has threads) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if ((null = open("/dev/null", O_RDONLY)) != -1) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	execv(argv[0], argv);
	_exit(127);
}

/* The "listening on" lines of the current run, once "ready:" is logged:
 * d->port from the first TCP one.  True when the daemon is ready. */
static bool
parse_ready(struct h_daemon *d, const char *log)
{
	const char *p, *colon;

	if (strstr(log, " ready: ") == NULL)
		return false;
	for (p = log; (p = strstr(p, "listening on ")) != NULL; p++) {
		p += strlen("listening on ");
		if (strncmp(p, "unix:", 5) == 0)
			continue;
		/* "127.0.0.1:PORT (nats)" or "[::1]:PORT (nats)" */
		if ((colon = strstr(p, " (nats)")) == NULL)
			continue;
		while (colon > p && colon[-1] != ':')
			colon--;
		d->port = atoi(colon);
		break;
	}
	return true;
}

void
h_daemon_start(struct h_daemon *d, ...)
{
	static char opt_c[] = "-c";
	char *argv[H_MAX_ARGS + 4];
	int64_t deadline;
	struct stat st;
	va_list ap;
	size_t n = 0;
	char *log;
	int fd, status;

	if (d->pid > 0)
		fail_msg("daemon already running");
	argv[n++] = corobusd_path();
	argv[n++] = opt_c;
	argv[n++] = d->conf;
	va_start(ap, d);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		if (++n == H_MAX_ARGS) {
			va_end(ap);
			fail_msg("too many arguments");
		}
	va_end(ap);
	argv[n] = NULL;

	if ((fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		fail_msg("%s: %s", d->log, strerror(errno));
	d->log_start = fstat(fd, &st) == 0 ? (long)st.st_size : 0;
	d->port = 0;
	d->pid = spawn(argv, fd);
	close(fd);

	deadline = h_now_ms() + H_START_MS;
	for (;;) {
		if ((log = log_text(d)) != NULL && parse_ready(d, log)) {
			free(log);
			return;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = -1;
			print_error("corobusd exited at start-up (status "
			    "0x%x); its log:\n%s\n", status, log ? log : "");
			free(log);
			fail_msg("corobusd did not start");
		}
		free(log);
		if (h_now_ms() >= deadline)
			fail_msg("corobusd not ready within %d ms", H_START_MS);
		h_nap(5);
	}
}

struct h_daemon *
h_daemon_run(const char *extra)
{
	struct h_daemon *d = h_daemon_new();

	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n%s\n",
	    extra);
	h_daemon_start(d, NULL);
	return d;
}

struct h_daemon *
h_daemon_shared(void)
{
	struct h_daemon *d = h_daemon_run("");

	h_share_all();
	return d;
}

void
h_daemon_signal(struct h_daemon *d, int sig)
{
	if (d->pid <= 0)
		fail_msg("signal %d: daemon not running", sig);
	if (kill(d->pid, sig) == -1)
		fail_msg("kill %d: %s", sig, strerror(errno));
}

int
h_daemon_wait(struct h_daemon *d, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int status;
	pid_t r;

	if (d->pid <= 0)
		return -1;
	for (;;) {
		r = waitpid(d->pid, &status, WNOHANG);
		if (r == d->pid) {
			d->pid = -1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				d->exited_badly = true;
			return status;
		}
		if (r == -1 && errno != EINTR) {
			d->pid = -1;
			return -1;
		}
		if (h_now_ms() >= deadline)
			return -1;
		h_nap(5);
	}
}

int
h_daemon_stop(struct h_daemon *d)
{
	int status;

	if (d->pid <= 0)
		return 0;
	kill(d->pid, SIGTERM);
	if ((status = h_daemon_wait(d, H_STOP_MS)) != -1)
		return status;
	kill(d->pid, SIGKILL);
	while (waitpid(d->pid, &status, 0) == -1 && errno == EINTR)
		;
	d->pid = -1;
	return -1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

int
h_rm_dir(const char *dir)
{
	(void)nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return access(dir, F_OK) == 0 ? -1 : 0;
}

void
h_daemon_free(struct h_daemon *d)
{
	struct h_daemon **pp;

	if (d == NULL)
		return;
	(void)h_daemon_stop(d);
	(void)nftw(d->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	for (pp = &daemons; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	free(d);
}

long
h_daemon_rss_kb(struct h_daemon *d)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int
h_corobusd_run(char **out, ...)
{
	char *argv[H_MAX_ARGS + 2];
	int64_t deadline = h_now_ms() + H_START_MS;
	size_t n = 0, len = 0, cap = 4096;
	struct pollfd pfd;
	int p[2], status;
	va_list ap;
	ssize_t r;
	pid_t pid;
	char *buf;

	h_register();
	argv[n++] = corobusd_path();
	va_start(ap, out);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		if (++n == H_MAX_ARGS) {
			va_end(ap);
			fail_msg("too many arguments");
		}
	va_end(ap);
	argv[n] = NULL;
	if ((buf = malloc(cap)) == NULL)
		fail_msg("out of memory");
	if (pipe2(p, O_CLOEXEC) == -1)
		fail_msg("pipe: %s", strerror(errno));
	pid = spawn(argv, p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		if (len + 1024 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		if (poll(&pfd, 1, remaining(deadline)) <= 0)
			break;
		if ((r = read(p[0], buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);
	buf[len] = '\0';
	if (h_now_ms() >= deadline)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- shell commands and certificates ---- */

int
h_shell(char **out, const char *fmt, ...)
{
	char *cmd, buf[512];
	size_t len = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		fail_msg("out of memory");
	va_end(ap);
	if ((*out = calloc(1, 16384)) == NULL)
		fail_msg("out of memory");
	p = popen(cmd, "r");
	free(cmd);
	if (p == NULL)
		fail_msg("popen");
	while (fgets(buf, sizeof(buf), p) != NULL &&
	    len + strlen(buf) < 16383) {
		memcpy(*out + len, buf, strlen(buf));
		len += strlen(buf);
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *
h_openssl(void)
{
	const char *o = getenv("OPENSSL");

	return o != NULL && o[0] != '\0' ? o : "openssl";
}

int
h_make_certs(const char *dir, const char *script)
{
	char *out;
	int st;

	st = h_shell(&out, "exec 2>&1; cd '%s' && O='%s' && set -e && "
	    "ca() { $O req -x509 -newkey rsa:2048 -nodes -keyout $1.key "
	    "-out $1.pem -days 3 -subj /CN=$1; } && "
	    "crt() { n=$1 s=$2 e=$3 c=$4 d=$5; shift 5; "
	    "$O req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr "
	    "-subj \"$s\" && printf '%%s\\n' \"$e\" \"$@\" > $n.ext && "
	    "$O x509 -req -in $n.csr -CA $c.pem -CAkey $c.key "
	    "-CAcreateserial -out $n.pem -days $d -extfile $n.ext; } && "
	    "%s", dir, h_openssl(), script);
	if (st != 0)
		fprintf(stderr, "making certificates failed: %s\n", out);
	free(out);
	return st == 0 ? 0 : -1;
}

/* ---- corobus(1), the client ---- */

const char *
h_corobus_path(void)
{
	const char *p = getenv("COROBUS");

	if (p == NULL || *p == '\0')
		fail_msg("COROBUS is not set: run through `make check`, or "
		    "set it to the corobus binary");
	return p;
}

int
h_client_env(char *dir, bool config)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	if (config)
		setenv("XDG_CONFIG_HOME", dir, 1);
	unsetenv("COROBUS_URL");
	unsetenv("COROBUS_CONTEXT");
	unsetenv("COROBUS_PASSWORD");
	return 0;
}

pid_t
h_corobus_spawn(const char **argv, const char *input, void (*child)(void),
    int *outfd, int *errfd)
{
	int in[2], out[2], err[2];
	pid_t parent = getpid(), pid;
	size_t len;
	ssize_t w;

	argv[0] = h_corobus_path();
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1)
		fail_msg("pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(127);
		if (child != NULL)
			child();
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (input != NULL)
		for (len = strlen(input); len > 0; len -= (size_t)w,
		    input += w)
			if ((w = write(in[1], input, len)) <= 0)
				break;
	close(in[1]);
	*outfd = out[0];
	*errfd = err[0];
	return pid;
}

/* ---- nats-server ---- */

const char *
h_nats_server_path(void)
{
	static char path[512];
	const char *env = getenv("PATH");
	char *copy, *dir, *save = NULL;

	if (env == NULL || (copy = strdup(env)) == NULL)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/nats-server", dir);
		if (access(path, X_OK) == 0) {
			free(copy);
			return path;
		}
	}
	free(copy);
	return NULL;
}

void
h_nats_server_start(pid_t *pid, const char *bin, int port, ...)
{
	const char *argv[H_MAX_ARGS + 2];
	pid_t parent = getpid();
	int64_t deadline;
	size_t n = 0;
	va_list ap;
	int null;

	argv[n++] = bin;
	va_start(ap, port);
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		if (++n == H_MAX_ARGS) {
			va_end(ap);
			fail_msg("too many arguments");
		}
	va_end(ap);
	if ((*pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (*pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(127);
		if ((null = open("/dev/null", O_RDWR)) != -1) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (deadline = h_now_ms() + H_START_MS; h_now_ms() < deadline;
	    h_nap(20))
		if (h_try_connect(port) == 0)
			return;
	if (h_try_connect(port) != 0)
		fail_msg("nats-server did not listen on %d", port);
}

void
h_nats_server_stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		(void)waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

/* ---- raw connections ---- */

static struct h_conn *
conn_new(int fd)
{
	struct timeval tv = { 5, 0 };
	struct h_conn *c;

	/* a send to a server that stopped reading fails, never hangs */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		fail_msg("out of memory");
	}
	c->fd = fd;
	c->next = conns;
	conns = c;
	return c;
}

int
h_try_connect(int port)
{
	struct sockaddr_in sin;
	int fd, err = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err = -errno;
	close(fd);
	return err;
}

struct h_conn *
h_conn_tcp(int port)
{
	return h_conn_tcp_rcvbuf(port, 0);
}

struct h_conn *
h_conn_tcp_rcvbuf(int port, int rcvbuf)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	h_register();
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fail_msg("socket: %s", strerror(errno));
	/* before connect(2), so that the window is small from the start */
	if (rcvbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		int e = errno;

		close(fd);
		fail_msg("connect 127.0.0.1:%d: %s", port, strerror(e));
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return conn_new(fd);
}

struct h_conn *
h_conn_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	h_register();
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fail_msg("socket: %s", strerror(errno));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(fd);
		fail_msg("connect %s: %s", path, strerror(e));
	}
	return conn_new(fd);
}

void
h_conn_close(struct h_conn *c)
{
	struct h_conn **pp;

	if (c == NULL)
		return;
	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->fd);
	free(c->buf);
	free(c);
}

void
h_send(struct h_conn *c, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

void
h_sendf(struct h_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fail_msg("out of memory");
	h_send(c, s, (size_t)n);
	free(s);
}

/* Reads what is there, waiting until deadline: >0 bytes read, 0 at EOF
 * (or a reset), -1 on timeout. */
static ssize_t
fill(struct h_conn *c, int64_t deadline)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	ssize_t n;
	int r;

	if (c->eof)
		return 0;
	if (c->off > 0 && (c->off == c->len || c->off > c->cap / 2)) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->cap - c->len < 65536) {
		size_t ncap = c->cap ? c->cap * 2 : 131072;
		char *nb = realloc(c->buf, ncap);

		if (nb == NULL)
			fail_msg("out of memory");
		c->buf = nb;
		c->cap = ncap;
	}
	for (;;) {
		r = poll(&pfd, 1, remaining(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->eof = true;
			return 0;
		}
		c->len += (size_t)n;
		return n;
	}
}

char *
h_line(struct h_conn *c, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	char *nl, *line, *start;
	size_t n;

	for (;;) {
		start = c->buf + c->off;
		if (c->len > c->off &&
		    (nl = memchr(start, '\n', c->len - c->off)) != NULL) {
			n = (size_t)(nl - start);
			if (n > 0 && start[n - 1] == '\r')
				n--;
			if ((line = strndup(start, n)) == NULL)
				fail_msg("out of memory");
			c->off += (size_t)(nl - start) + 1;
			return line;
		}
		if (fill(c, deadline) <= 0)
			return NULL;
	}
}

void
h_expect(struct h_conn *c, const char *want, int timeout_ms)
{
	char *line = h_line(c, timeout_ms);

	if (line == NULL)
		fail_msg("expected \"%s\", got %s", want,
		    c->eof ? "EOF" : "nothing (timeout)");
	if (strcmp(line, want) != 0) {
		print_error("expected \"%s\", got \"%s\"\n", want, line);
		free(line);
		fail();
	}
	free(line);
}

char *
h_until_re(struct h_conn *c, const char *re, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	regex_t rx;
	char *line;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		fail_msg("bad regex %s", re);
	while ((line = h_line(c, remaining(deadline))) != NULL) {
		if (regexec(&rx, line, 0, NULL, 0) == 0)
			break;
		free(line);
	}
	regfree(&rx);
	return line;
}

int
h_bytes(struct h_conn *c, void *out, size_t n, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;

	while (c->len - c->off < n)
		if (fill(c, deadline) <= 0)
			return -1;
	if (out != NULL)
		memcpy(out, c->buf + c->off, n);
	c->off += n;
	return 0;
}

bool
h_eof(struct h_conn *c, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	ssize_t n;

	for (;;) {
		c->off = c->len;
		if ((n = fill(c, deadline)) == 0)
			return true;
		if (n < 0)
			return false;
	}
}

bool
h_quiet(struct h_conn *c, int ms)
{
	if (c->len > c->off || c->eof)
		return false;
	return fill(c, h_now_ms() + ms) < 0;
}

char *
h_handshake(struct h_conn *c, const char *connect_json)
{
	char *info, *line;

	if ((info = h_line(c, H_IO_MS)) == NULL)
		fail_msg("no INFO");
	if (strncmp(info, "INFO {", 6) != 0) {
		print_error("not an INFO: %s\n", info);
		free(info);
		fail();
	}
	h_sendf(c, "CONNECT %s\r\nPING\r\n", connect_json != NULL ?
	    connect_json : "{\"verbose\":false,\"pedantic\":false,"
	    "\"protocol\":1,\"headers\":true,\"no_responders\":true}");
	while ((line = h_line(c, H_IO_MS)) != NULL &&
	    strcmp(line, "+OK") == 0)
		free(line);
	if (line == NULL || strcmp(line, "PONG") != 0) {
		print_error("handshake: expected PONG, got %s\n",
		    line ? line : "nothing");
		free(line);
		free(info);
		fail();
	}
	free(line);
	return info;
}

struct h_conn *
h_client(int port)
{
	struct h_conn *c = h_conn_tcp(port);

	free(h_handshake(c, NULL));
	return c;
}
