/*
 * session.h: one NATS-protocol connection of the corobus client, over
 * libcoro: connect (with failover between several servers), handshake,
 * a reader task that dispatches MSG/HMSG to subscriptions and answers
 * PINGs, a writer task that coalesces what was queued in one loop
 * iteration into one write, publish, subscribe, request/reply, flush, and
 * reconnecting with backoff when asked to.
 *
 * Every call that may suspend says so, and must then be made from a
 * task.  Errors are negative errno values; the session also keeps the
 * last error as one line of text and a sysexits(3) code (session_error(),
 * session_exit_code()), so a command does
 *
 *	if ((s = session_new(&o)) == NULL || session_connect(s) != 0)
 *		return session_fail(s);
 *
 * Strings passed in are copied if kept.  Messages handed to a callback
 * are borrowed for the call (session_msg_dup() keeps one); messages taken
 * from a queue are owned and freed with session_msg_free().
 */
#ifndef COROBUS_SESSION_H
#define COROBUS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coro.h"

struct ssl_ctx_st;
struct session;
struct session_sub;

/* session_request() when the server says nobody listens (503). */
#define SESSION_ENORESPONDERS	(-ESRCH)

enum session_event {
	SESSION_DISCONNECTED,	/* lost the server; reconnecting */
	SESSION_RECONNECTED,	/* connected again, subscriptions restored */
	SESSION_CLOSED,		/* gave up, or closed: no more messages */
	SESSION_SERVER_ERROR,	/* a non-fatal -ERR (permission) */
};

struct session_opts {
	/* Servers in order of preference: "nats://h:p", "tls://h:p",
	 * "corobus://h:p", "unix:///path", "h:p", "h" (each may also be a
	 * comma-separated list; "user:pass@" and "token@" are understood). */
	const char *const	*urls;
	size_t			 nurls;
	const char		*user;
	const char		*password;
	const char		*token;
	const char		*cafile;	/* NULL: the system store */
	const char		*capath;
	const char		*cert;		/* client certificate (PEM) */
	const char		*key;
	bool			 tls;		/* require TLS on every URL */
	bool			 insecure;	/* skip certificate checks */
	const char		*name;		/* CONNECT name */
	bool			 no_echo;	/* CONNECT echo:false */
	int64_t			 timeout_ms;	/* connect + handshake; default
						   for flush (0 = 5 s) */
	/* Reconnecting (long-running commands): backoff from wait_ms,
	 * doubling up to max_wait_ms, plus up to 20 % jitter; max_tries
	 * rounds over all servers (0 = forever).  Without reconnect a lost
	 * connection ends the session (SESSION_CLOSED). */
	bool			 reconnect;
	int64_t			 reconnect_wait_ms;	/* 0 = 100 ms */
	int64_t			 reconnect_max_wait_ms;	/* 0 = 2 s */
	unsigned		 reconnect_max_tries;
	/* Bytes a publisher may queue before it waits (0 = 4 MiB), and
	 * messages a subscription queue may hold before dropping (0 =
	 * 65536). */
	size_t			 max_pending_bytes;
	size_t			 max_pending_msgs;
	/* udp://: the server's subscription lease (its datagram.lease);
	 * the SUBs are sent again every third of it.  0: no subscribing
	 * on a udp:// URL, publishing only. */
	int64_t			 udp_lease_ms;
	/* Lifecycle events; NULL: "corobus: disconnected from X,
	 * reconnecting" and "corobus: reconnected to Y" on stderr unless
	 * quiet.  Runs on a session task; it must not suspend. */
	void			(*on_event)(struct session *,
				    enum session_event, const char *detail,
				    void *arg);
	void			*event_arg;
	bool			 quiet;
	int			 debug;		/* trace frames on stderr */
};

/*
 * A message.  subject, reply (NULL when none) and data are
 * NUL-terminated (data may also hold NULs: use len); hdr is the raw
 * header block ("NATS/1.0...\r\n\r\n"), NULL when none; status is the
 * code of the header's status line (503 for no responders), else 0.
 */
struct session_msg {
	struct session_sub	*sub;		/* valid while subscribed */
	const char		*subject;
	const char		*reply;
	const char		*hdr;
	size_t			 hdrlen;
	const char		*data;
	size_t			 len;
	int			 status;
};

/* A callback gets a borrowed message; it runs on the reader task and may
 * publish, but must not wait for the server (flush, request). */
typedef void	(*session_msg_cb)(const struct session_msg *, void *arg);

/* ---- lifecycle ---- */

/*
 * A session for o (copied), not connected yet: parses the URLs and loads
 * the TLS files.  NULL only when out of memory; on a bad URL or TLS file
 * it returns a session whose session_connect() fails at once with that
 * error (EX_USAGE, EX_NOINPUT, EX_CONFIG).
 */
struct session	*session_new(const struct session_opts *o);
/* A duration as people write it: "5s", "1.5s", "250ms" (static buffer). */
const char	*session_fmt_duration(int64_t ms);
/* Adds the credentials to a CONNECT object (a json_t *): user and pass
 * (pass "" when NULL) when user is set, auth_token when token is. */
void		 session_connect_creds(void *json, const char *user,
		    const char *pass, const char *token);
/*
 * Connects to the first server that answers, in order, and does the
 * handshake (INFO, TLS if asked or required, CONNECT, PING/PONG).
 * Returns 0, or a negative errno with session_error() set:
 * unreachable EX_UNAVAILABLE, name not found EX_NOHOST, refused
 * credentials EX_NOPERM, -ERR or broken handshake EX_PROTOCOL, timeout
 * EX_TEMPFAIL.  May suspend.
 */
int		 session_connect(struct session *);
/* Flushes what is queued (within the timeout), closes the connection,
 * stops the tasks.  May suspend.  The session stays readable. */
void		 session_close(struct session *);
/* Closes if needed and frees; NULL is a no-op.  May suspend. */
void		 session_free(struct session *);

/* The last error, one line without "corobus: " ("" when none). */
const char	*session_error(const struct session *);
/* Its sysexits code (EX_OK when none). */
int		 session_exit_code(const struct session *);
/* Prints "corobus: <error>" on stderr and returns the exit code; for a
 * NULL session (out of memory) EX_OSERR. */
int		 session_fail(const struct session *);

bool		 session_connected(const struct session *);
/* The server connected to ("nats://127.0.0.1:4240" form), or "". */
const char	*session_url(const struct session *);
/* From the server's INFO. */
size_t		 session_max_payload(const struct session *);
const char	*session_server_version(const struct session *);
/* Number of non-fatal -ERRs (permission violations) so far; the last
 * one's text is in session_error() with EX_NOPERM. */
unsigned	 session_server_errors(const struct session *);
struct ssl_ctx_st *session_tls_ctx(struct session *);

/* ---- publishing ---- */

/*
 * Queues a PUB (or HPUB when hdrlen > 0; hdr is a whole header block)
 * for the writer task.  reply may be NULL.  Waits while more than
 * max_pending_bytes are unsent.  0, -EMSGSIZE (bigger than max_payload),
 * -ENOTCONN (session closed), -ENOBUFS (too much queued while
 * disconnected), -ECANCELED.  May suspend.
 */
int	session_publish(struct session *, const char *subject,
	    const char *reply, const void *hdr, size_t hdrlen,
	    const void *data, size_t len);
/*
 * Builds a header block from "Name: value" lines (n may be 0): malloc'd,
 * length in *len; NULL with *len 0 on a line without ':' or with CR/LF.
 */
char	*session_headers(const char *const *lines, size_t n, size_t *len);
/* The value of the first header name (case-insensitive) of m: 0 and
 * *val (not NUL-terminated) / *vlen, or -ENOENT. */
int	 session_msg_header(const struct session_msg *, const char *name,
	    const char **val, size_t *vlen);
/* PING, then waits for the PONG: everything queued before was handled
 * by the server.  0, -ETIMEDOUT, -ENOTCONN.  May suspend. */
int	 session_flush(struct session *, int64_t deadline);

/* ---- subscriptions ---- */

/*
 * Subscribes to subject (wildcards allowed), in queue group group when
 * not NULL.  With cb, each message is passed to cb(msg, arg) on the
 * reader task; without, it is copied into q (a coro_queue of struct
 * session_msg *, shared by any number of subscriptions) or, when q is
 * NULL too, into the subscription's own queue (session_sub_next()).
 * Subscriptions survive reconnects.  NULL on error (-EINVAL bad subject
 * or group, -ENOTCONN, -ENOMEM) with session_error() set.  Never
 * suspends (the SUB is queued).  On a udp:// session (udp_lease_ms set)
 * the SUBs go out in one datagram, again every third of the lease, and
 * messages come as datagrams (best-effort, at most once); the UNSUBs go
 * out on close.
 */
struct session_sub *session_subscribe(struct session *, const char *subject,
	    const char *group, session_msg_cb cb, void *arg, coro_queue *q);
/*
 * The next message of a queue-mode subscription (owned: free it).
 * -ETIMEDOUT, -EPIPE once the session is closed, -ECANCELED.
 * May suspend.
 */
int	 session_sub_next(struct session_sub *, struct session_msg **,
	    int64_t deadline);
/* The same for a caller's queue. */
int	 session_queue_next(coro_queue *, struct session_msg **,
	    int64_t deadline);
/* Unsubscribes (UNSUB queued) and frees the subscription; messages of
 * it already queued stay valid.  NULL is a no-op. */
void	 session_unsubscribe(struct session_sub *);
const char	*session_sub_subject(const struct session_sub *);
/* Messages delivered to the subscription so far. */
uint64_t	 session_sub_count(const struct session_sub *);
/* Messages dropped because its queue was full. */
uint64_t	 session_sub_dropped(const struct session_sub *);

/* A message copied into one allocation; free with session_msg_free(). */
struct session_msg	*session_msg_dup(const struct session_msg *);
void			 session_msg_free(struct session_msg *);

/* ---- request/reply ---- */

/*
 * Fills buf (>= 32 bytes) with a new inbox subject "_INBOX.<nuid>" (22
 * random base-62 characters) and returns buf.
 */
char	*session_new_inbox(char *buf, size_t len);
/*
 * Publishes a request and waits for the first reply, through one
 * "_INBOX.<nuid>.*" subscription shared by every request of the session
 * and a token per request.  0 and *reply (owned), -ETIMEDOUT,
 * SESSION_ENORESPONDERS, -ENOTCONN, -ECANCELED.  May suspend.
 */
int	 session_request(struct session *, const char *subject,
	    const void *hdr, size_t hdrlen, const void *data, size_t len,
	    int64_t deadline, struct session_msg **reply);

#endif
