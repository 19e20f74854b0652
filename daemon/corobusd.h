/*
 * corobusd.h: the daemon's program header: the server, its client
 * connections and their subscriptions, and the prototypes of each file,
 * grouped by file.  Modules without I/O (proto, subject, sublist, conf,
 * buf, log) have their own headers and are tested alone.
 *
 * One process, one thread, one libcoro loop.  Each listener has an accept
 * task; each client connection has a reader task that parses what the
 * client sends and delivers what it publishes straight into the
 * subscribers' output buffers.  Output is written once per loop iteration
 * by a flush callback, and only a connection that cannot take its output
 * at once gets a writer task, which waits under the write deadline.
 */
#ifndef COROBUSD_H
#define COROBUSD_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coro.h"
#include "conf.h"
#include "buf.h"
#include "perm.h"
#include "proto.h"
#include "sublist.h"

#define COROBUSD_NATS_VERSION	"2.9.25"	/* what INFO advertises */

struct auth;
struct client;
struct cluster;
struct route;
struct dgram;
struct dgram_lease;
struct monitor;

/* A client's subscription.  Lives in the client's sid table and in the
 * server's sublist while active; once removed it is parked on the
 * server's graveyard until no delivery can still see it (sublist results
 * are snapshots). */
struct csub {
	struct sublist_sub	 ss;		/* ss.owner is the client
						   (or the lease) */
	struct client		*c;		/* NULL for a lease's */
	struct dgram_lease	*lease;		/* a datagram subscriber's
						   (dgram.c), or NULL */
	uint64_t		 delivered;
	uint64_t		 max;		/* auto-unsubscribe; 0 = none */
	bool			 dead;		/* removed from index and table */
	struct csub		*hnext;		/* sid table chain / graveyard */
	size_t			 sid_len;
	char			 strings[];	/* subject, queue, sid, each
						   NUL-terminated */
};

static inline const char *
csub_sid(const struct csub *s)
{
	return s->strings + s->ss.subject_len + 1 +
	    (s->ss.queue != NULL ? s->ss.queue_len + 1 : 0);
}

struct client_stats {
	uint64_t	in_msgs, out_msgs, in_bytes, out_bytes;
};

struct client {
	struct server		*srv;
	uint64_t		 cid;
	coro_stream		*s;
	coro_task		*reader;
	coro_task		*writer;	/* running only while output
						   waits for the socket */
	struct proto_parser	 parser;
	char			 addr[160];	/* "ip:port" or "unix:path" */
	char			 ip[48];
	/* CONNECT options; defaults as nats-server (verbose, pedantic and
	 * echo on until CONNECT says otherwise) */
	bool			 connected;	/* CONNECT seen */
	bool			 verbose, pedantic, echo;
	bool			 headers, no_responders;
	int			 protocol;
	char			*name, *lang, *version;
	/* subscriptions by sid */
	struct csub		**subs;
	size_t			 nsubs, subs_cap;
	/* output, capped at max_pending; sent by server_flush, or by the
	 * writer task when the socket is full */
	struct buf		 out;
	bool			 dirty;
	TAILQ_ENTRY(client)	 dirty_link;
	bool			 closing;
	const char		*close_reason;
	bool			 pong_sent;	/* first PONG: pings may start */
	/* keepalive */
	coro_timer		*ping_timer;
	unsigned		 pings_out;
	int64_t			 last_in;	/* ms of the last message in */
	bool			 in_active;	/* an op other than PONG in
						   the batch being parsed */
	bool			 rtt_known;
	int64_t			 start;		/* coro_now() at accept */
	struct client_stats	 stats;
	/* TLS and authentication (tls.c, auth.c) */
	struct listener		*listener;	/* accepted on */
	coro_timer		*auth_timer;	/* CONNECT due */
	char			*user;		/* authenticated as; NULL */
	int			 auth_kind;	/* AUTH_* */
	char			*cert_user;	/* a mapped certificate's */
	unsigned int		 peer_uid;	/* a Unix peer's */
	bool			 peer_uid_set;
	/* permissions (perm.c): NULL allows everything */
	const struct perm	*perm;
	struct perm_cache	*pcache;
	struct perm_resps	 resps;
	/* limits of its kind (client_limits): a route has its own */
	int64_t			 write_deadline;
	int64_t			 ping_interval;
	unsigned int		 ping_max;
	/* a route to another server (route.c), NULL for a client; a
	 * route's subscriptions are the peer's interest, keyed (as sid)
	 * by "subject" or "subject queue" */
	struct route		*route;
	TAILQ_ENTRY(client)	 link;
};

/* How a client proved who it is. */
#define AUTH_NONE	0	/* auth off */
#define AUTH_PASSWORD	1
#define AUTH_TOKEN	2
#define AUTH_NO_AUTH	3	/* no_auth_user */
#define AUTH_CERT	4	/* tls.map */
#define AUTH_UID	5	/* auth.unix_users */

TAILQ_HEAD(client_list, client);

struct listener {
	struct server		*srv;
	struct conf_listener	*cl;
	coro_listener		*l;
	coro_udp		*u;		/* a datagram listener's */
	coro_task		*task;		/* the accept (receive) loop */
	char			 name[128];	/* "127.0.0.1:4240", "unix:/path" */
	struct ssl_ctx_st	*tls_ctx;	/* for new connections; NULL:
						   plain */
};

/* in_msgs ... out_bytes: of the connections closed so far (client_free
 * adds each one's); the open ones keep theirs in client_stats. */
struct server_stats {
	uint64_t	in_msgs, out_msgs, in_bytes, out_bytes;
	uint64_t	slow_consumers;
	uint64_t	total_connections;
};

struct server {
	struct conf		*conf;
	const char		*conf_path;	/* NULL: built-in defaults */
	coro_loop		*loop;
	struct sublist		*sublist;
	struct listener		*listeners;
	size_t			 nlisteners;
	coro_group		*clients_group;	/* every client's reader */
	struct client_list	 clients;
	size_t			 nclients;
	uint64_t		 next_cid;
	char			 server_id[57];	/* N + 55 base32, as nats */
	char			*server_name;
	char			 host[64];	/* INFO host/port: first TCP */
	int			 port;		/* listener */
	struct server_stats	 stats;
	int64_t			 start;
	struct monitor		*monitor;	/* HTTP monitoring; NULL: off */
	struct auth		*auth;		/* users, token (auth.c) */
	struct dgram		*dgram;		/* datagram transport state;
						   NULL without its listeners */
	struct cluster		*cluster;	/* routes (route.c); NULL when
						   clustering is off */
	/* delivery */
	struct client_list	 dirty;		/* clients with output to send */
	bool			 flush_queued;
	int			 delivering;	/* nesting of publish calls */
	struct csub		*graveyard;	/* removed, not yet freed */
	uint64_t		 rng;
	/* what the command line said, kept for reloads */
	const char		*port_override;	/* -p */
	int			 verbose;	/* -v count */
	bool			 quiet;		/* -q */
	bool			 daemonized;	/* -d: stderr is /dev/null */
	/* lifecycle */
	bool			 lame_duck;
	bool			 stopping;
	int			 exit_code;
};

/* server.c */
int	 server_init(struct server *, struct conf *, const char *conf_path);
int	 server_listen(struct server *);
int	 server_run(struct server *);
void	 server_fini(struct server *);
/* Log target and level from conf and the command line; 0 or -1 (errno)
 * when the log file cannot be opened. */
int	 server_apply_log(struct server *, const struct conf *);
/* -p on conf: the port of its first NATS TCP listener; 0, or -1 with the
 * reason in err. */
int	 server_override_port(struct conf *, const char *port,
	    struct conf_error *err);
void	 server_reload(struct server *);
void	 server_lame_duck(struct server *);
void	 server_shutdown(struct server *);
/* The INFO line for a new client, as JSON text (malloc'd). */
char	*server_info_json(struct server *, struct client *, bool ldm);
void	 server_mark_dirty(struct server *, struct client *);
/* An accepted peer's "ip:port" ("[ip6]:port") and ip; a Unix peer's
 * addr is local, the listener's name. */
void	 server_peer_name(const struct sockaddr_storage *, socklen_t len,
	    const char *local, char *addr, size_t addrsize, char *ip,
	    size_t ipsize);
uint32_t server_random(struct server *);

/* client.c */
int	 client_start(struct server *, struct listener *, coro_stream *,
	    const char *addr, const char *ip);
/* A connection's common state, for client_start and the routes; NULL
 * when out of memory (s is then still the caller's). */
struct client *client_new(struct server *, struct listener *,
	    coro_stream *, const char *addr, const char *ip, struct route *);
/* Reads and parses with ops until the connection ends: the reason, or
 * NULL when it was closed by the server. */
const char *client_serve(struct client *, const struct proto_ops *ops);
/* Sends c->out now and waits for it (before a TLS handshake): 0, or -1
 * with c closed. */
int	 client_send_now(struct client *);
/* The reader's last act: out of every list, a last flush, free. */
void	 client_release(struct client *);
/* Sets the parser and output limits of c's kind from the config. */
void	 client_limits(struct client *);
/* Closes the connection with a reason for the log; err, when not 0, is
 * a proto error code whose -ERR text is sent first (if it has one). */
void	 client_close(struct client *, const char *reason, int err);
/* After appending to c->out failed for want of room: close c as a slow
 * consumer. */
void	 client_slow_consumer(struct client *);
/* Sends what c->out holds without waiting; starts the writer task when
 * the socket is full. */
void	 client_flush(struct client *);
void	 client_send_err(struct client *, int code);
/* After an append to c->out that returned err: 0 marks c for the flush
 * and is true; a failure (the buffer is full: -ENOBUFS, or -ENOMEM)
 * means c cannot take more, and closes it as a slow consumer. */
bool	 client_appended(struct client *, int err);
void	 client_put_ok(struct client *);
/* Appends MSG (or HMSG when the client takes headers; the header block
 * is dropped otherwise) for m, whose sid is the subscription's; false
 * when the client is closing or just became a slow consumer. */
bool	 client_put_msg(struct client *, const struct proto_msg *m);
void	 client_send_info(struct client *, bool ldm);
/* Limits changed by a reload reach existing clients too. */
void	 client_reload(struct client *);

/* pubsub.c */
/* A route's RS+ (add, or a queue's new weight) and RS- (remove). */
int	 pubsub_remote_sub(struct client *route, const struct proto_sub *);
void	 pubsub_remote_unsub(struct client *route, const struct proto_sub *);
/* Delivers a message that came from a route: to local subscribers
 * only (the one-hop rule), and to the queue groups it names. */
int	 pubsub_deliver_routed(struct server *, const struct proto_msg *);
int	 pubsub_sub(struct client *, const struct proto_sub *);
int	 pubsub_unsub(struct client *, const struct proto_sub *);
int	 pubsub_pub(struct client *, const struct proto_msg *);
/* Delivers m to every matching subscription (one member per queue
 * group), those of skip excepted (echo off; NULL for a datagram): the
 * number of deliveries, or -ENOMEM.  Never suspends. */
int	 pubsub_deliver(struct server *, const struct client *skip,
	    const struct proto_msg *);
/* Removes every subscription of the client (on close). */
void	 pubsub_client_gone(struct client *);
/* After c's permissions changed: forgets the cached publish decisions
 * and removes, with a Permissions Violation each, the subscriptions they
 * no longer allow. */
void	 pubsub_perm_changed(struct client *);
/* Frees the subscriptions parked while deliveries could still see them. */
void	 pubsub_bury(struct server *);

/* dgram.c: the datagram (UDP) transport */
struct dgram_stats {
	uint64_t	received;		/* datagrams */
	uint64_t	published;		/* PUB/HPUB frames delivered */
	uint64_t	delivered;		/* MSG datagrams sent */
	uint64_t	dropped_oversize;	/* MSG > max_datagram */
	uint64_t	dropped_garbage;	/* unparseable datagrams */
	uint64_t	dropped_rate;		/* over a source's rate */
	uint64_t	dropped_spoof;		/* impossible source */
	uint64_t	dropped_auth;		/* no or a wrong token */
	uint64_t	dropped_limit;		/* lease or sub refused */
	uint64_t	dropped_send;		/* socket full: MSG lost */
	uint64_t	leases;			/* held now */
};

/* Opens L's socket (L->cl is a datagram listener) and starts its
 * receive task: 0 or -errno. */
int	 dgram_listen(struct server *, struct listener *);
/* Sends m to s's lease as one datagram, at once (deliver() in pubsub.c
 * calls it for a csub with a lease): false when dropped. */
bool	 dgram_deliver(struct csub *s, const struct proto_msg *m);
void	 dgram_stats(const struct server *, struct dgram_stats *);
/* Ends every lease; before the loop is freed. */
void	 dgram_fini(struct server *);

/* route.c: clusters of servers, nats-server's route protocol */
/* Opens the cluster listener and dials the seed routes: 0 or -errno. */
int	 route_start(struct server *);
/* Closes every route and stops dialing (shutdown). */
void	 route_stop(struct server *);
/* Frees the cluster, once the route readers have ended. */
void	 route_fini(struct server *);
/* Applies a reloaded configuration (routes, permissions, limits). */
void	 route_reload(struct server *);
/* Lame duck: tells the peers, so they tell their clients. */
void	 route_lame_duck(struct server *);
/* A local subscription came (delta 1) or went (-1): RS+/RS- to peers. */
void	 route_interest(struct server *, const struct sublist_sub *,
	    int delta);
/* Queues m for a route, naming the queue groups picked there. */
bool	 route_send_msg(struct client *route, const struct proto_msg *m,
	    const struct proto_str *queues, size_t nqueues);
/* client.c's hooks: limits, close (interest and URLs go), last free. */
void	 route_limits(struct client *);
void	 route_closed(struct client *);
void	 route_release(struct client *);
/* Adds "connect_urls" to a client INFO object (a json_t *). */
void	 route_info_urls(struct server *, void *json, bool ldm);
size_t	 route_count(const struct server *);
/* Adds the open routes' message and byte counts to t (/varz totals). */
void	 route_totals(const struct server *, struct client_stats *t);
/* /varz's "cluster" object (a json_t *, new reference), NULL when off. */
void	*route_varz(struct server *);
/* The /routez document (a json_t *, new reference), NULL on error. */
void	*route_routez(struct server *, bool subs);

/* auth.c: users, passwords, tokens, Unix peers; permissions per user */
/* password against stored (plain or a crypt hash, checked on the
 * executor); suspends the calling task. */
bool	 auth_check_secret(struct client *, const char *password,
	    const char *stored);
/* Builds the users of conf (reads password_file and token_file): 0, or
 * -1 with the reason in err. */
int	 auth_load(const struct conf *, struct auth **, char *err,
	    size_t errlen);
void	 auth_free(struct auth *);
bool	 auth_required(const struct server *);
int64_t	 auth_timeout(const struct server *);
/* Is token (len bytes) the configured auth.token?  Constant time; false
 * when no token is configured.  For transports without CONNECT (the
 * datagram listener); a hashed token costs one hash per new token. */
bool	 auth_token_ok(struct server *, const char *token, size_t len);
/* At accept: a Unix peer's uid (SO_PEERCRED). */
void	 auth_accept(struct client *);
bool	 auth_client_must_connect(struct client *);
bool	 auth_cert_user(const struct server *, const char *name);
/* CONNECT's credentials (each NULL when absent): 0 and c's identity and
 * permissions set, or -1.  May suspend (hashes run on the executor). */
int	 auth_connect(struct client *, const char *user, const char *pass,
	    const char *token);
/* Swaps in n and re-applies it to every client; frees the old one. */
void	 auth_reload(struct server *, struct auth *n);

/* tls.c: listener contexts, the upgrade, certificate mapping */
struct ssl_ctx_st *tls_ctx_new(const struct conf_tls *, char *err,
	    size_t errlen);
/* Opens every TLS listener's files (corobusd -t): 0, or -1 and err. */
int	 tls_check(const struct conf *, char *err, size_t errlen);
int	 tls_listener_init(struct listener *);
void	 tls_listener_fini(struct listener *);
void	 tls_reload(struct server *);
/* The handshake under the listener's timeout: 0, or -1 with c closed. */
int	 tls_accept(struct client *);
/* tls.map: the user the client's certificate names, into c->cert_user. */
void	 tls_map_user(struct client *);

/* sdnotify.c: systemd's notification and socket activation protocols,
 * no-ops outside systemd */
/* Sends the state lines ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET: 0
 * (also when unset), or -errno. */
int	 sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 sdnotify_ready(struct server *);
void	 sdnotify_reloading(void);
void	 sdnotify_reload_failed(const char *why);
void	 sdnotify_stopping(const char *status);
/* WATCHDOG=1 at half of $WATCHDOG_USEC, when set. */
int	 sdnotify_watchdog_start(coro_loop *);
/* Takes the sockets of $LISTEN_FDS (when $LISTEN_PID is ours) and unsets
 * the variables: how many. */
int	 sdnotify_listen_init(void);
/* The inherited socket of the given type bound to host:port or
 * unix_path (ownership passes to the caller), or -1. */
int	 sdnotify_listen_take(const char *host, const char *port,
	    const char *unix_path, int type);
/* Closes, with a warning, the sockets nobody took. */
void	 sdnotify_listen_close_rest(void);
void	 sdnotify_fini(void);

/* monitor.c: HTTP monitoring (evhttp on the server's loop) */
/* Binds monitoring.address unless it is empty: 0, or -errno (logged). */
int	 monitor_start(struct server *);
/* After a reload: rebinds when the address changed. */
void	 monitor_reload(struct server *);
void	 monitor_stop(struct server *);

#endif
