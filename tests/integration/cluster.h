/*
 * cluster.h: clusters of corobusd and nats-server nodes on loopback for
 * the cluster tests (test_cluster, test_cluster_mixed, test_cluster_ops),
 * driven with the NATS C client.
 *
 * A node is a corobusd (started through the harness, its log in its
 * directory) or a nats-server (its configuration and log file in a
 * harness directory, started with h_nats_server_start).  Each node has
 * fixed client, route and monitoring ports, picked once, so that it can
 * be killed and restarted on the same addresses.  Route state is read
 * from corobusd's log ("route: registered name=..", "route: closed
 * name=..") and, for nats-server, from its /routez.
 *
 * With COROBUS_CLUSTER_REFERENCE=1 in the environment every node that a
 * test asks to be a corobusd is a nats-server instead: the same tests
 * then check themselves against the reference implementation (the
 * corobusd-only assertions, on its log lines, are left out).
 *
 * libnats connections and subscriptions made with cl_connect() and
 * cl_sub() are tracked and destroyed by cl_teardown(), which then runs
 * h_test_teardown().
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <sys/types.h>

#include <stdbool.h>

#include <nats/nats.h>

#include "harness.h"

#define CL_MS		3000	/* for a message, a flush, a request */
#define CL_MESH_MS	10000	/* for a cluster to form */
#define CL_NAME		"c1"	/* the cluster name */

enum cl_kind { CL_COROBUSD, CL_NATS };

struct cl_node {
	enum cl_kind	 kind;
	char		 name[16];	/* server_name, unique */
	int		 port;		/* client listener */
	int		 rport;		/* route listener */
	int		 mport;		/* monitoring (HTTP) */
	char		 routes[512];	/* seed URLs, comma-separated */
	char		 extra[512];	/* more configuration, top level */
	char		 cextra[512];	/* more keys of the cluster
					   section, each line indented */
	char		 auth_user[32];	/* cluster.authorization of its */
	char		 auth_pass[32];	/* route listener; "": none */
	struct h_daemon	*d;		/* corobusd; for nats-server only
					   its directory */
	pid_t		 pid;		/* nats-server; -1 when not running */
	char		 id[64];	/* server_id, once learnt */
};

#define NOK(expr) do {							\
	natsStatus s_ = (expr);						\
	if (s_ != NATS_OK)						\
		fail_msg("%s:%d: %s: %s (%s)", __FILE__, __LINE__,	\
		    #expr, natsStatus_GetText(s_),			\
		    nats_GetLastError(NULL));				\
} while (0)

/* The nats-server binary ($NATS_SERVER, $PATH, /usr/sbin, /usr/bin), or
 * NULL. */
const char	*cl_nats_server(void);
/* True when corobusd nodes are replaced by nats-server ones. */
bool		 cl_reference(void);

/* A node of kind (CL_COROBUSD may become CL_NATS, see above) on fresh
 * ports; nothing runs yet.  Freed by the test's teardown unless
 * cl_share() was called after it was made. */
struct cl_node	*cl_node_new(enum cl_kind, const char *name);
/* Adds seed as a configured route of n, with seed's route credentials
 * (auth_user, auth_pass) in the URL if it has them. */
void		 cl_node_seed(struct cl_node *n, const struct cl_node *seed);
/* The same with the credentials given (user NULL: none). */
void		 cl_node_seed_creds(struct cl_node *n,
		    const struct cl_node *seed, const char *user,
		    const char *pass);
/* Writes the configuration and starts the node; returns once it
 * accepts clients, and learns its server_id. */
void		 cl_node_start(struct cl_node *);
/* Writes the node's configuration (routes, extra, cextra) again, for
 * a reload. */
void		 cl_node_write_conf(struct cl_node *);
/* SIGKILL, reaped; the harness is told it was on purpose. */
void		 cl_node_kill9(struct cl_node *);
/* A clean stop (SIGTERM), which must succeed. */
void		 cl_node_stop(struct cl_node *);
bool		 cl_node_running(struct cl_node *);
/* The node's log of the current run (malloc'd; "" when none). */
char		*cl_node_log(struct cl_node *);
/* Prints the node's log (for a failing test). */
void		 cl_node_dump(struct cl_node *);
/* Occurrences of text in the current run's log. */
int		 cl_log_count(struct cl_node *, const char *text);
/* Marks every node made so far as the group's (kept until
 * cl_group_teardown()). */
void		 cl_share(void);

/* ---- routes ---- */

/* Waits until n has (up) or has not (!up) a route to peer: for a
 * corobusd, its log shows a "route: registered name=<peer> ... addr=X"
 * line with no "route: closed name=<peer> addr=X" after it; for a
 * nats-server, peer's server_id is (not) among the remote_id of its
 * /routez.  The time it took in ms, or -1 on timeout. */
int		 cl_wait_route(struct cl_node *n, struct cl_node *peer,
		    bool up, int timeout_ms);
/* Waits until every running node has a route to every other one, then
 * checks that none has more than one per pair; fails the test
 * (printing the logs) otherwise. */
void		 cl_wait_mesh(struct cl_node **nodes, int count,
		    int timeout_ms);
/* Routes from a corobusd to peer that are up by its log (as
 * cl_wait_route() reads it). */
int		 cl_log_routes(struct cl_node *n, struct cl_node *peer);
/* "route: closed" lines in a corobusd's log for routes it never
 * logged as registered (same addr): a route that was never up did not
 * go. */
int		 cl_log_stray_closes(struct cl_node *);
/* Checks the route log lines of every corobusd among ns[0..n) (the
 * others are skipped): at least n - 1 "route: registered" lines, and for
 * each other node one route up and a "route: registered name=<its name>
 * id=<its id> addr=127.0.0.1:" line; fails the test (printing the log)
 * otherwise. */
void		 cl_check_route_logs(struct cl_node **ns, int n);
/* GET path on the node's monitoring port: the body (malloc'd), or NULL
 * unless the status is 200. */
char		*cl_http_get(struct cl_node *, const char *path);
/* num_routes of the node's /routez, or -1 if it did not answer. */
int		 cl_routez_count(struct cl_node *);
/* Whether subject is in the subscriptions_list of n's route to peer
 * in its /routez?subs=1: 1, 0 (no such route either), or -1 if it did
 * not answer. */
int		 cl_routez_has_sub(struct cl_node *n, struct cl_node *peer,
		    const char *subject);

/* ---- libnats ---- */

/* A tracked connection to the node, that neither reconnects nor
 * wanders to another server. */
natsConnection	*cl_connect(struct cl_node *);
/* Tracked synchronous subscriptions, without pending limits; queue may
 * be NULL. */
natsSubscription *cl_sub(natsConnection *, const char *subject,
		    const char *queue);
/* Tracks an async subscription made by the caller. */
natsSubscription *cl_track(natsSubscription *);
/* Destroys a tracked subscription now (unsubscribes). */
void		 cl_unsub(natsSubscription *);
/* Waits until what sub_nc subscribed so far is known where pub_nc
 * publishes: a subscription made now on sub_nc (its interest travels
 * after the earlier ones, in order, on every route) gets a probe
 * published on pub_nc.  Fails the test after timeout_ms. */
void		 cl_sync(natsConnection *pub_nc, natsConnection *sub_nc);
/* The next message on sub must have subject (NULL: any) and data. */
void		 cl_expect(natsSubscription *, const char *subject,
		    const char *data);
/* Nothing more on sub within ms. */
void		 cl_expect_none(natsSubscription *, int ms);
/* Responder callback for natsConnection_Subscribe: replies
 * "<closure>: <data>" (closure a node name string, or NULL for "re"). */
void		 cl_on_request(natsConnection *, natsSubscription *,
		    natsMsg *, void *closure);
/* A request that must be answered within CL_MS: the reply's data
 * (malloc'd). */
char		*cl_request(natsConnection *, const char *subject,
		    const char *data);
/* Messages on sub whose subject starts with prefix, until quiet_ms
 * pass without one or max arrive: their data as integers counted in
 * seen[0..n) (out-of-range ones fail the test); returns how many. */
int		 cl_collect(natsSubscription *, const char *prefix,
		    int *seen, int n, int max, int quiet_ms);

/* Messages from several subscriptions into one seen[] (data = index):
 * until the total reaches want and then quiet_ms pass with nothing
 * more, or 10 s pass.  got[i] counts those of subs[i]; returns the
 * total. */
int		 cl_collect_many(natsSubscription **subs, int nsubs, int *seen,
		    int n, int *got, int want, int quiet_ms);
/* Fails unless every index of seen[0..n) was seen exactly once. */
void		 cl_assert_once(const int *seen, int n, const char *what);
/* Publishes data "from" .. "to - 1" on subject, then flushes. */
void		 cl_publish_seq(natsConnection *, const char *subject,
		    int from, int to);
/* The client INFO line of a node, in a buffer of its own that the next
 * call reuses. */
const char	*cl_client_info(struct cl_node *);
/* Whether an INFO line lists the node's client address. */
bool		 cl_lists_url(const char *info, struct cl_node *);

/* cmocka teardowns: the tracked libnats objects, then the harness's
 * (and for the group, the nodes). */
int		 cl_teardown(void **state);
int		 cl_group_teardown(void **state);

#endif
