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

/* ---- misc ---- */

int64_t		 h_now_ms(void);
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
