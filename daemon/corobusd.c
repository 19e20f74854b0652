/*
 * corobusd.c: main: the command line, the configuration, and the server's
 * start.  `corobusd [-dqtTv] [-c file] [-p port]`, see corobusd(8).
 *
 * Exit codes follow sysexits(3): 64 bad usage, 78 bad configuration,
 * 71 a listener that cannot be bound (or another OS failure).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "corobusd.h"
#include "passwd.h"
#include "log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/corobus/corobus.yaml"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: corobusd [-dqtTvV] [-c file] [-p port]\n"
	    "  -c, --config FILE     configuration (default %s)\n"
	    "  -t, --test-config     check the configuration and exit\n"
	    "  -T, --dump-config     check, then print the effective "
	    "configuration\n"
	    "  -p, --port PORT       port of the first NATS TCP listener\n"
	    "  -d, --daemon          run in the background (not under "
	    "systemd)\n"
	    "  -v, --verbose         debug logging; twice: protocol trace\n"
	    "  -q, --quiet           errors only\n"
	    "  --hash-password[=bcrypt]  print a hash (yescrypt) of a "
	    "password read\n"
	    "                        without echo, for auth.users\n"
	    "  -V, --version         print the version and features\n"
	    "  -h, --help            this help\n", DEFAULT_CONFIG);
}

static int
daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static int
check_auth_tls(const struct conf *conf)
{
	struct auth *a;
	char err[1024];

	if (auth_load(conf, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "corobusd: %s\n", err);
		return -1;
	}
	auth_free(a);
	if (tls_check(conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "corobusd: %s\n", err);
		return -1;
	}
	return 0;
}

/* --hash-password: a hash for auth.users[].password or auth.token. */
static int
hash_password(const char *method)
{
	char pw[1024], *h;
	int n;

	if (method != NULL && strcmp(method, "bcrypt") != 0 &&
	    strcmp(method, "yescrypt") != 0) {
		fprintf(stderr, "corobusd: --hash-password: %s: use yescrypt "
		    "or bcrypt\n", method);
		return EX_USAGE;
	}
	if ((n = passwd_read_twice(pw, sizeof(pw))) == -2) {
		fprintf(stderr, "corobusd: the passwords differ\n");
		return EX_DATAERR;
	}
	if (n <= 0) {
		fprintf(stderr, "corobusd: no password read\n");
		return EX_DATAERR;
	}
	h = passwd_hash(pw, method);
	memset(pw, 0, sizeof(pw));
	if (h == NULL) {
		fprintf(stderr, "corobusd: hash: %s\n", strerror(errno));
		return EX_SOFTWARE;
	}
	printf("%s\n", h);
	free(h);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "dump-config", no_argument, NULL, 'T' },
		{ "port", required_argument, NULL, 'p' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "hash-password", optional_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *port = NULL;
	char *abspath = NULL;
	bool test = false, dump = false, daemon = false, quiet = false;
	int verbose = 0, ch, rc;
	struct conf_error cerr;
	struct conf *conf;
	struct server srv;

	memset(&srv, 0, sizeof(srv));
	while ((ch = getopt_long(argc, argv, "c:tTp:dvqVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'T':
			test = dump = true;
			break;
		case 'p':
			port = optarg;
			break;
		case 'd':
			daemon = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			quiet = true;
			break;
		case 'V':
			printf("corobusd %s\nfeatures: nats tcp unix systemd "
			    "monitoring tls auth%s\n",
			    PACKAGE_VERSION,
#ifdef CORO_ASAN
			    " asan"
#else
			    ""
#endif
			    );
			return 0;
		case 'H':
			return hash_password(optarg);
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "corobusd: unexpected argument: %s\n",
		    argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	/* the configuration: -c, else the default file, else built-in */
	if (conf_load(path != NULL ? path : DEFAULT_CONFIG, &conf, &cerr) != 0) {
		if (path != NULL || cerr.errnum != ENOENT) {
			fprintf(stderr, "corobusd: %s\n", cerr.text);
			return EX_CONFIG;
		}
		if (conf_defaults(&conf) != 0) {
			fprintf(stderr, "corobusd: out of memory\n");
			return EX_OSERR;
		}
	} else if (path == NULL)
		path = DEFAULT_CONFIG;
	if (port != NULL && server_override_port(conf, port, &cerr) != 0) {
		fprintf(stderr, "corobusd: -p %s: %s\n", port, cerr.text);
		conf_free(conf);
		return EX_CONFIG;
	}
	/* users, password and token files, TLS files: opened now */
	if (check_auth_tls(conf) != 0) {
		conf_free(conf);
		return EX_CONFIG;
	}
	/* reloads read the file again, after -d has changed directory */
	if (path != NULL && (abspath = realpath(path, NULL)) != NULL)
		path = abspath;
	if (test) {
		if (dump)
			conf_dump(conf, stdout);
		if (!quiet)
			fprintf(stderr, "corobusd: configuration OK%s%s\n",
			    path != NULL ? ": " : " (built-in defaults)",
			    path != NULL ? path : "");
		conf_free(conf);
		free(abspath);
		return 0;
	}

	srv.port_override = port;
	srv.verbose = verbose;
	srv.quiet = quiet;
	if (server_apply_log(&srv, conf) != 0) {
		fprintf(stderr, "corobusd: log file %s: %s\n", conf->log.file,
		    strerror(errno));
		conf_free(conf);
		free(abspath);
		return EX_CANTCREAT;
	}
	if (path != NULL)
		log_info("corobusd %s starting, configuration %s",
		    PACKAGE_VERSION, path);
	else
		log_info("corobusd %s starting: no configuration file (%s), "
		    "using the built-in defaults", PACKAGE_VERSION,
		    DEFAULT_CONFIG);

	if ((rc = server_init(&srv, conf, path)) != 0) {
		log_error("start-up failed: %s", strerror(-rc));
		server_fini(&srv);
		free(abspath);
		return EX_OSERR;
	}
	/* systemd's sockets first, then what they do not cover */
	(void)sdnotify_listen_init();
	if ((rc = server_listen(&srv)) != 0 || monitor_start(&srv) != 0 ||
	    route_start(&srv) != 0) {
		server_fini(&srv);
		free(abspath);
		return EX_OSERR;
	}
	sdnotify_listen_close_rest();
	if (daemon) {
		if (daemonize() != 0) {
			log_warn("daemon");
			server_fini(&srv);
			free(abspath);
			return EX_OSERR;
		}
		srv.daemonized = true;
		server_apply_log(&srv, srv.conf);
	}
	sdnotify_ready(&srv);
	if (sdnotify_watchdog_start(srv.loop) != 0)
		log_warnx("sdnotify: no watchdog timer");
	rc = server_run(&srv);
	server_fini(&srv);
	log_info("corobusd stopped");
	log_close();
	free(abspath);
	return rc;
}
