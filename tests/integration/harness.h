/*
 * harness.h: what the integration tests share: a real corobusd started
 * from $COROBUSD with a YAML file in a temporary directory, on a port it
 * picks itself (learnt from its log), and raw client sockets that read
 * lines, byte counts and EOF under deadlines.
 *
 * Everything made here (daemons, their directories, sockets) is
 * registered: h_test_teardown() frees what the current test made, and an
 * atexit handler frees the rest, so a failing assertion never leaves a
 * daemon or a file behind.  A daemon also dies with the test process
 * (PR_SET_PDEATHSIG).  The functions fail the current cmocka test when
 * something they need does not work (the daemon does not start, a socket
 * cannot connect).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define H_START_MS	5000	/* for a daemon to listen */
#define H_STOP_MS	5000	/* for a daemon to exit after SIGTERM */
#define H_IO_MS		2000	/* default wait for an expected line */

struct h_daemon {
	pid_t		 pid;		/* -1 when not running */
	char		 dir[128];	/* mkdtemp directory */
	char		 conf[160];	/* dir/corobus.yaml */
	char		 log[160];	/* dir/stderr.log: its stderr */
	long		 log_start;	/* offset where the current run began */
	int		 port;		/* first TCP listener; 0 if none */
	bool		 shared;	/* freed by its owner, not per test */
	bool		 exited_badly;	/* a run ended with status != 0 */
	struct h_daemon	*next;
};

struct h_conn {
	int		 fd;
	char		*buf;		/* bytes read; buf[off..len) unread */
	size_t		 off, len, cap;
	bool		 eof;
	bool		 shared;
	struct h_conn	*next;
};

/* ---- daemons ---- */

/* Makes a temporary directory for a daemon; nothing runs yet. */
struct h_daemon	*h_daemon_new(void);
/* Writes the configuration file (printf format).  Unless the text
 * mentions monitoring, it is turned off (its default port is fixed). */
void		 h_daemon_conf(struct h_daemon *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Starts corobusd -c conf plus the NULL-terminated extra arguments and
 * waits for "listening on"; learns d->port from a TCP listener line. */
void		 h_daemon_start(struct h_daemon *, ...)
		    __attribute__((sentinel));
/* A daemon with a default config listening on 127.0.0.1:0 (plus the
 * YAML text extra, top-level keys, which may be ""), started. */
struct h_daemon	*h_daemon_run(const char *extra);
void		 h_daemon_signal(struct h_daemon *, int sig);
/* Waits for the daemon to exit: its wait status, or -1 on timeout. */
int		 h_daemon_wait(struct h_daemon *, int timeout_ms);
/* SIGTERM, waitpid with a timeout, SIGKILL as a last resort: the wait
 * status (-1 if it had to be killed, 0 if it was not running). */
int		 h_daemon_stop(struct h_daemon *);
/* Stops it and removes its directory. */
void		 h_daemon_free(struct h_daemon *);
/* Waits for text in what the current run logged. */
bool		 h_daemon_log_wait(struct h_daemon *, const char *text,
		    int timeout_ms);
/* The path of name inside the daemon's directory (static buffer). */
const char	*h_daemon_path(struct h_daemon *, const char *name);
/* Resident set size of the daemon in KiB, from /proc; -1 if unknown. */
long		 h_daemon_rss_kb(struct h_daemon *);

/* Runs $COROBUSD with the NULL-terminated arguments, its output (stdout
 * and stderr together) in *out (malloc'd, NUL-terminated): the exit
 * status, or -1. */
int		 h_corobusd_run(char **out, ...) __attribute__((sentinel));

/* A daemon as h_daemon_run("") would make, shared by every test of the
 * group (h_share_all()): for group setups. */
struct h_daemon	*h_daemon_shared(void);
/* cmocka group teardown: h_cleanup(). */
int		 h_group_teardown(void **state);

/* ---- corobus(1), the client ---- */

/* $COROBUS, the client binary; fails the test when it is not set. */
const char	*h_corobus_path(void);
/* Forks $COROBUS with the NULL-terminated argv, whose argv[0] it sets to
 * h_corobus_path(): stdin a pipe that gets input (NULL: nothing) and is
 * then closed, stdout and stderr pipes whose read ends (close-on-exec)
 * go to *outfd and *errfd.  In the child, which dies with the test
 * process, child (may be NULL) runs first, then SIGPIPE, SIGINT and
 * SIGTERM are reset to their defaults.  Returns its pid; fails the test
 * when a pipe or the fork fails.  Reaping it is the caller's. */
/* Makes the directory dir (a mkdtemp(3) template, rewritten in place)
 * for the client's files and keeps the user's setup out of the clients
 * run from now on: COROBUS_URL, COROBUS_CONTEXT and COROBUS_PASSWORD are
 * unset, and XDG_CONFIG_HOME is dir when config.  0, or -1 (after a
 * perror) when the directory cannot be made. */
int		 h_client_env(char *dir, bool config);
pid_t		 h_corobus_spawn(const char **argv, const char *input,
		    void (*child)(void), int *outfd, int *errfd);

/* ---- nats-server ---- */

/* The first executable nats-server on $PATH (static buffer), or NULL. */
const char	*h_nats_server_path(void);
/* Runs bin (a nats-server) with the NULL-terminated arguments, stdin,
 * stdout and stderr on /dev/null; it dies with the test process.  *pid
 * is set as soon as it is forked, so that a teardown can stop it even
 * when this fails the test: when nothing accepts on 127.0.0.1:port
 * within H_START_MS. */
void		 h_nats_server_start(pid_t *pid, const char *bin, int port,
		    ...) __attribute__((sentinel));
/* SIGTERM and reaps *pid when it is > 0, then sets it to -1. */
void		 h_nats_server_stop(pid_t *pid);

/* ---- raw connections ---- */

struct h_conn	*h_conn_tcp(int port);
/* With a small SO_RCVBUF (a client that reads slowly fills up soon). */
struct h_conn	*h_conn_tcp_rcvbuf(int port, int rcvbuf);
struct h_conn	*h_conn_unix(const char *path);
/* connect(2) to 127.0.0.1:port: 0, or -errno (-ECONNREFUSED) */
int		 h_try_connect(int port);
void		 h_conn_close(struct h_conn *);
void		 h_send(struct h_conn *, const void *, size_t);
void		 h_sendf(struct h_conn *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Next line without its CRLF (malloc'd), NULL on timeout or EOF. */
char		*h_line(struct h_conn *, int timeout_ms);
/* Next line must be exactly want (fails the test otherwise). */
void		 h_expect(struct h_conn *, const char *want, int timeout_ms);
/* Skips lines until one matches the extended regex: that line
 * (malloc'd), or NULL on timeout or EOF. */
char		*h_until_re(struct h_conn *, const char *re, int timeout_ms);
/* Exactly n bytes into out: 0, or -1 on timeout or EOF. */
int		 h_bytes(struct h_conn *, void *out, size_t n, int timeout_ms);
/* Reads and drops everything until the server closes: true, or false
 * when timeout_ms passes first. */
bool		 h_eof(struct h_conn *, int timeout_ms);
/* True when nothing arrives within ms (no byte, no EOF). */
bool		 h_quiet(struct h_conn *, int ms);
/* Reads INFO, sends CONNECT with the JSON object (NULL: a quiet client,
 * headers on) and PING, skips +OK, expects PONG; the INFO line
 * (malloc'd). */
char		*h_handshake(struct h_conn *, const char *connect_json);
/* A connected quiet client on port. */
struct h_conn	*h_client(int port);

/* ---- shell commands and certificates ---- */

/* Runs the command (printf format) with sh -c, its standard output in
 * *out (malloc'd, NUL-terminated, at most 16 KiB; add 2>&1 for standard
 * error): its exit status, or -1 when it did not exit. */
int		 h_shell(char **out, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* $OPENSSL, or "openssl". */
const char	*h_openssl(void);
/* Runs script (sh, under set -e) in the directory dir, where it may
 * call two shell functions that run h_openssl():
 *   ca NAME                        a self-signed CA: NAME.pem and
 *                                  NAME.key (RSA 2048, 3 days)
 *   crt NAME SUBJECT EXT CA DAYS [EXT...]
 *                                  NAME.key and NAME.pem with the
 *                                  subject (as -subj) and the extension
 *                                  lines (as an -extfile), signed by CA
 *                                  for DAYS days (-1: expired)
 * 0, or -1 after printing the script's output. */
int		 h_make_certs(const char *dir, const char *script);

/* ---- misc ---- */

/* Removes dir and everything below it: 0, or -1 when it is still
 * there. */
int		 h_rm_dir(const char *dir);

int64_t		 h_now_ms(void);
/* Sleeps ms milliseconds (on after a signal). */
void		 h_nap(int ms);
/* A free loopback TCP port (nothing listens on it afterwards). */
int		 h_free_port(void);
/* Appends n bytes to the malloc'd buffer *buf of *len bytes, keeping
 * it NUL-terminated (an empty append makes "" of NULL). */
void		 h_append(char **buf, size_t *len, const void *data,
		    size_t n);
/* The integer value of "key": in a JSON line, or -1. */
long long	 h_json_int(const char *json, const char *key);
/* Marks everything made so far as shared (kept after h_test_teardown):
 * for group setups. */
void		 h_share_all(void);
/* cmocka teardown: frees the daemons and connections of this test;
 * fails (-1) when one of its daemons had exited, or now exits, with a
 * status other than 0 (a crash, a sanitizer report), printing its log. */
int		 h_test_teardown(void **state);
/* Frees everything, shared or not; -1 as h_test_teardown. */
int		 h_cleanup(void);

#endif
