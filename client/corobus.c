/*
 * corobus.c: main() of corobus(1), the command-line client.  It parses
 * the global options (conventions.md §8: -h is the host, --help is
 * help), finds the command in cmd.c's table, and runs it as the main task
 * of a libcoro loop, so commands may suspend.  It also holds the helpers
 * every command uses: one-line messages on stderr, durations, counts, and
 * cli_session_opts(), which resolves the server and the credentials:
 * flags, then $COROBUS_URL, then the client configuration file and its
 * context, then the local Unix socket if present, then 127.0.0.1:4240.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "session.h"
#include "coro.h"

#ifndef COROBUS_SOCKET
#define COROBUS_SOCKET	"/run/corobus/corobus.sock"
#endif

struct cli_opts	cli = { .timeout_ms = -1 };

static struct clientconf	cconf = { .tls = -1, .insecure = -1,
				    .timeout_ms = -1 };
static const struct cmd_entry	*running;

/* ---- messages ---- */

void
cli_warnx(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("corobus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_status(const char *fmt, ...)
{
	va_list ap;

	if (cli.quiet)
		return;
	fputs("corobus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("corobus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cmd_entry *c = cmd_find(cmd);
	va_list ap;

	fprintf(stderr, "corobus %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c != NULL)
		fprintf(stderr, "usage: corobus %s %s\n", c->name, c->usage);
	return EX_USAGE;
}

/* ---- values ---- */

int
cli_parse_duration(const char *s, int64_t *ms)
{
	double v, mult = 1000;
	char *ep;

	errno = 0;
	v = strtod(s, &ep);
	if (ep == s || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	if (strcmp(ep, "ms") == 0)
		mult = 1;
	else if (*ep == '\0' || strcmp(ep, "s") == 0)
		mult = 1000;
	else if (strcmp(ep, "m") == 0)
		mult = 60000;
	else if (strcmp(ep, "h") == 0)
		mult = 3600000;
	else
		return -1;
	if (v * mult > (double)INT32_MAX * 1000)
		return -1;
	*ms = (int64_t)(v * mult + 0.5);
	return 0;
}

int
cli_parse_count(const char *s, bool zero_ok, uint64_t *n)
{
	unsigned long long v;
	char *ep;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (*ep != '\0' || errno != 0 || v > 999999999ULL ||
	    (v == 0 && !zero_ok))
		return -1;
	*n = v;
	return 0;
}

/* ---- server resolution ---- */

/* Reads a password from the terminal without echo (--askpass). */
static char *
askpass(void)
{
	static char pass[256];
	struct termios t, saved;
	int fd;
	FILE *f;
	size_t n;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1)
		return NULL;
	if ((f = fdopen(fd, "r+")) == NULL) {
		close(fd);
		return NULL;
	}
	fputs("Password: ", f);
	fflush(f);
	if (tcgetattr(fd, &saved) == 0) {
		t = saved;
		t.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &t);
	}
	if (fgets(pass, sizeof(pass), f) == NULL)
		pass[0] = '\0';
	(void)tcsetattr(fd, TCSAFLUSH, &saved);
	fputc('\n', f);
	fclose(f);
	n = strlen(pass);
	if (n > 0 && pass[n - 1] == '\n')
		pass[n - 1] = '\0';
	return pass;
}

int
cli_session_opts(struct session_opts *o, bool reconnect)
{
	static char *urls[64];
	static char hostport[300];
	static char unixurl[PATH_MAX + 8];
	const char *env, *path, *ctx;
	struct stat st;
	size_t n = 0, i;
	int rc;

	memset(o, 0, sizeof(*o));
	ctx = cli.context != NULL ? cli.context : getenv("COROBUS_CONTEXT");
	if (ctx != NULL && *ctx == '\0')
		ctx = NULL;
	path = clientconf_path();
	if (path != NULL &&
	    (rc = clientconf_load(path, ctx, &cconf)) != EX_OK)
		return rc;
	if (path == NULL && ctx != NULL)
		return cli_fail(EX_CONFIG, "context \"%s\": no client "
		    "configuration file (set XDG_CONFIG_HOME or HOME)", ctx);

	if (cli.nurls > 0 && (cli.host != NULL || cli.port != NULL))
		return cli_fail(EX_USAGE, "give the server either as a URL "
		    "(-L, --url, --server) or with -h/-p, not both");
	if (cli.unix_path != NULL && (cli.nurls > 0 || cli.host != NULL ||
	    cli.port != NULL))
		return cli_fail(EX_USAGE, "--unix excludes -L, -h and -p");
	if (cli.nurls > 0) {
		for (i = 0; i < cli.nurls && n < 63; i++)
			urls[n++] = cli.urls[i];
	} else if (cli.unix_path != NULL) {
		snprintf(unixurl, sizeof(unixurl), "unix://%s",
		    cli.unix_path);
		urls[n++] = unixurl;
	} else if (cli.host != NULL || cli.port != NULL) {
		const char *h = cli.host != NULL ? cli.host : "127.0.0.1";

		snprintf(hostport, sizeof(hostport),
		    strchr(h, ':') != NULL ? "[%s]:%s" : "%s:%s", h,
		    cli.port != NULL ? cli.port : "4240");
		urls[n++] = hostport;
	} else if ((env = getenv("COROBUS_URL")) != NULL && *env != '\0') {
		urls[n++] = (char *)(uintptr_t)env;
	} else if (cconf.nservers > 0) {
		for (i = 0; i < cconf.nservers && n < 63; i++)
			urls[n++] = cconf.servers[i];
	} else if (stat(COROBUS_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode)) {
		snprintf(unixurl, sizeof(unixurl), "unix://%s",
		    COROBUS_SOCKET);
		urls[n++] = unixurl;
	} else
		urls[n++] = (char *)(uintptr_t)"127.0.0.1:4240";
	urls[n] = NULL;
	o->urls = (const char *const *)urls;
	o->nurls = n;

	o->user = cli.user != NULL ? cli.user : cconf.user;
	o->password = cli.password;
	if (o->password == NULL && cli.askpass) {
		if ((o->password = askpass()) == NULL)
			return cli_fail(EX_NOINPUT, "--askpass: no terminal "
			    "to read the password from");
	}
	if (o->password == NULL && (env = getenv("COROBUS_PASSWORD")) != NULL)
		o->password = env;
	if (o->password == NULL && cli.user == NULL)
		o->password = cconf.password;
	if (o->password != NULL && o->user == NULL)
		return cli_fail(EX_USAGE, "a password needs a user (-u)");
	o->token = cli.token != NULL ? cli.token : cconf.token;
	o->cafile = cli.cafile != NULL ? cli.cafile : cconf.cafile;
	o->capath = cli.capath != NULL ? cli.capath : cconf.capath;
	o->cert = cli.cert != NULL ? cli.cert : cconf.cert;
	o->key = cli.key != NULL ? cli.key : cconf.key;
	o->tls = cli.tls || cconf.tls == 1;
	o->insecure = cli.insecure || cconf.insecure == 1;
	o->name = cli.name != NULL ? cli.name : cconf.name;
	o->timeout_ms = cli.timeout_ms >= 0 ? cli.timeout_ms :
	    cconf.timeout_ms >= 0 ? cconf.timeout_ms : CLI_TIMEOUT_MS;
	if (o->timeout_ms == 0)
		o->timeout_ms = CLI_TIMEOUT_MS;
	o->reconnect = reconnect;
	o->quiet = cli.quiet;
	o->debug = cli.debug;
	return EX_OK;
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: corobus [-dV] [-h host] [-p port] [-L url] "
	    "[-u user] [-P password]\n"
	    "               [-i name] [--timeout duration] [--tls] "
	    "[--cafile file] ... command [args]\n");
}

static void
help(void)
{
	size_t i;

	usage(stdout);
	printf("\nglobal options:\n"
	    "  -h, --host HOST        server host (default 127.0.0.1)\n"
	    "  -p, --port PORT        server port (default 4240)\n"
	    "  -L, --url, --server URL[,URL]  server URLs: nats://, tls://,"
	    " unix://, host:port\n"
	    "      --unix PATH        the server's Unix socket\n"
	    "  -u, --user USER        user name\n"
	    "  -P, --password PASS    password (prefer --askpass or "
	    "COROBUS_PASSWORD)\n"
	    "      --askpass          read the password from the terminal\n"
	    "      --token TOKEN      authentication token\n"
	    "      --tls              require TLS\n"
	    "      --cafile FILE, --capath DIR, --cert FILE, --key FILE\n"
	    "      --insecure         do not verify the server's "
	    "certificate\n"
	    "  -i, --id NAME          connection name\n"
	    "      --timeout DUR      connect and request timeout "
	    "(default 5s)\n"
	    "      --context NAME     context of the client configuration "
	    "file\n"
	    "  -d, --debug            trace the protocol on stderr\n"
	    "      --quiet            no status messages\n"
	    "      --color WHEN       auto, always or never\n"
	    "  -V, --version          print the version\n"
	    "      --help             this help\n"
	    "\ncommands:\n");
	for (i = 0; i < cmd_count; i++)
		printf("  %-6s %s\n", cmd_table[i].name,
		    cmd_table[i].summary);
	printf("\n\"corobus COMMAND --help\" shows a command's options; "
	    "see corobus(1).\n");
}

enum {
	OPT_UNIX = 256, OPT_ASKPASS, OPT_TOKEN, OPT_CAFILE, OPT_CAPATH,
	OPT_CERT, OPT_KEY, OPT_TLS, OPT_INSECURE, OPT_TIMEOUT, OPT_CONTEXT,
	OPT_QUIET, OPT_COLOR, OPT_HELP
};

static const struct option global_opts[] = {
	{ "host", required_argument, NULL, 'h' },
	{ "port", required_argument, NULL, 'p' },
	{ "url", required_argument, NULL, 'L' },
	{ "server", required_argument, NULL, 'L' },
	{ "unix", required_argument, NULL, OPT_UNIX },
	{ "user", required_argument, NULL, 'u' },
	{ "password", required_argument, NULL, 'P' },
	{ "askpass", no_argument, NULL, OPT_ASKPASS },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "tlsca", required_argument, NULL, OPT_CAFILE },
	{ "capath", required_argument, NULL, OPT_CAPATH },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "tlscert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "tlskey", required_argument, NULL, OPT_KEY },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "id", required_argument, NULL, 'i' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "context", required_argument, NULL, OPT_CONTEXT },
	{ "debug", no_argument, NULL, 'd' },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static int	bad_global(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static int
bad_global(const char *fmt, ...)
{
	va_list ap;

	fputs("corobus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EX_USAGE;
}

static int
parse_global(int argc, char **argv)
{
	static char *urls[64];
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:h:p:L:u:P:i:dV", global_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			cli.host = optarg;
			break;
		case 'p':
			cli.port = optarg;
			break;
		case 'L':
			if (cli.nurls == 63)
				return bad_global("too many URLs");
			urls[cli.nurls++] = optarg;
			cli.urls = urls;
			break;
		case OPT_UNIX:
			cli.unix_path = optarg;
			break;
		case 'u':
			cli.user = optarg;
			break;
		case 'P':
			cli.password = optarg;
			break;
		case OPT_ASKPASS:
			cli.askpass = true;
			break;
		case OPT_TOKEN:
			cli.token = optarg;
			break;
		case OPT_CAFILE:
			cli.cafile = optarg;
			break;
		case OPT_CAPATH:
			cli.capath = optarg;
			break;
		case OPT_CERT:
			cli.cert = optarg;
			break;
		case OPT_KEY:
			cli.key = optarg;
			break;
		case OPT_TLS:
			cli.tls = true;
			break;
		case OPT_INSECURE:
			cli.insecure = true;
			break;
		case 'i':
			cli.name = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_duration(optarg, &cli.timeout_ms) == -1 ||
			    cli.timeout_ms == 0)
				return bad_global("--timeout: bad duration "
				    "\"%s\" (e.g. 5s, 500ms)", optarg);
			break;
		case OPT_CONTEXT:
			cli.context = optarg;
			break;
		case 'd':
			cli.debug++;
			break;
		case OPT_QUIET:
			cli.quiet = true;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				cli.color = CLI_COLOR_AUTO;
			else if (strcmp(optarg, "always") == 0)
				cli.color = CLI_COLOR_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				cli.color = CLI_COLOR_NEVER;
			else
				return bad_global("--color: \"%s\" is not "
				    "auto, always or never", optarg);
			break;
		case 'V':
			printf("corobus %s\nfeatures: tls unix\n",
			    PACKAGE_VERSION);
			exit(EX_OK);
		case OPT_HELP:
			help();
			exit(EX_OK);
		case ':':
			if (optopt != 0)
				fprintf(stderr, "corobus: option -%c needs "
				    "an argument\n", optopt);
			else
				fprintf(stderr, "corobus: option %s needs "
				    "an argument\n", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "corobus: unknown option "
				    "-%c\n", optopt);
			else
				fprintf(stderr, "corobus: unknown option "
				    "%s\n", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	return EX_OK;
}

struct run {
	int	 argc;
	char	**argv;
	int	 status;
};

static int
run_main(void *arg)
{
	struct run *r = arg;

	r->status = running->exec(r->argc, r->argv);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct run r;
	int rc;

	if ((rc = parse_global(argc, argv)) != EX_OK)
		return rc;
	if (optind >= argc) {
		fprintf(stderr, "corobus: no command given\n");
		usage(stderr);
		return EX_USAGE;
	}
	if ((running = cmd_find(argv[optind])) == NULL) {
		fprintf(stderr, "corobus: unknown command \"%s\" (see "
		    "corobus --help)\n", argv[optind]);
		return EX_USAGE;
	}
	r.argc = argc - optind;
	r.argv = argv + optind;
	r.status = EX_SOFTWARE;
	optind = 0;	/* the command parses its own options afresh */
	opterr = 0;
	rc = coro_run(run_main, &r, NULL);
	if (rc == -ECANCELED)	/* SIGINT, SIGTERM before the command ended */
		return EX_OK;
	if (rc != 0) {
		fprintf(stderr, "corobus: %s\n", strerror(-rc));
		return EX_OSERR;
	}
	return r.status;
}
