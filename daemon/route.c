/*
 * route.c: clusters.  corobusd speaks nats-server 2.9's route protocol
 * (docs/nats-protocol.md §3), so its nodes form a full mesh with each
 * other and with nats-server nodes.
 *
 * A route is a struct client with c->route set: it shares the output
 * buffer, the flush, the writer task and the keepalive of a client, and
 * has its own reader (route_main) with the route verbs.  The peer's
 * interest (RS+) lives in the sublist as that client's subscriptions
 * (pubsub.c), so a publish matches local and remote interest at once and
 * one RMSG goes to each route with matching interest.
 *
 * Routes come from the seeds of the config (dialed forever, with
 * backoff), from the cluster listener, and from gossip: when a peer
 * registers, its INFO is forwarded to the other peers, which dial it
 * (implicit routes, retried connect_retries times).  A second
 * connection to a peer is closed, the first stays; a seed does not dial
 * a peer that is connected already.
 *
 * Local interest is counted here per "subject" and "subject queue", so
 * that a subject is advertised once (RS+ on 0 -> 1, RS- on 1 -> 0) and a
 * queue group with its member count as weight.  Messages from a route
 * are never forwarded to another route (the one-hop rule).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "corobusd.h"
#include "hash.h"
#include "log.h"
#include "passwd.h"
#include "subject.h"

#define ROUTE_DIAL_TIMEOUT_MS	2000
#define ROUTE_BACKOFF_MIN_MS	1000	/* nats-server redials each second */
#define ROUTE_BACKOFF_MAX_MS	5000
#define ROUTE_WAIT_PEER_MS	1000	/* recheck of a seed whose peer is
					   connected another way */
#define ROUTE_CONTROL_LINE	(64 * 1024)	/* RMSG names many queues */
#define ROUTE_ACCOUNT		"$G"	/* the only account corobusd has */

/* ---- local interest: what RS+ has told the peers ---- */

struct interest {
	struct interest	*next;
	uint32_t	 count;		/* local subscriptions */
	size_t		 subject_len;
	size_t		 queue_len;	/* 0: plain */
	char		 key[];		/* subject, NUL, queue, NUL */
};

struct interest_table {
	struct interest	**slots;
	size_t		 cap, n;
};

/* ---- dialers and connections ---- */

/* Something we dial: a configured seed (forever) or a server learned by
 * gossip (connect_retries times). */
struct seed {
	struct cluster		*cl;
	char			*url;		/* as configured, or built */
	char			 disp[320];	/* url without credentials */
	struct conf_route_url	 u;
	bool			 implicit;
	bool			 removed;	/* by a reload */
	char			 peer_id[64];	/* once known */
	char			 last_close[64];	/* why its last route
						   ended */
	struct route		*route;		/* the live connection */
	coro_task		*task;
	TAILQ_ENTRY(seed)	 link;
};

struct route {
	struct cluster		*cl;
	struct client		*c;
	struct seed		*seed;		/* when we dialed it */
	uint64_t		 rid;
	bool			 solicited;
	bool			 got_connect;	/* acceptor: CONNECT checked */
	bool			 got_info;
	bool			 registered;
	bool			 was_registered;	/* ever: logs its close */
	bool			 headers;
	bool			 ldm;
	char			 remote_id[64];
	char			*remote_name;
	char			 remote_host[64];	/* its INFO host, port */
	int			 remote_port;
	char			**urls;		/* its client URLs */
	size_t			 nurls;
	coro_timer		*auth_timer;
	int64_t			 start;
	TAILQ_ENTRY(route)	 link;
};

TAILQ_HEAD(route_list, route);
TAILQ_HEAD(seed_list, seed);

/* Client URLs learned from the peers, counted (two routes to one server
 * can name the same URL). */
struct url_ref {
	char		*url;
	unsigned	 refs;
};

struct cluster {
	struct server		*srv;
	coro_listener		*l;
	coro_task		*accept_task;
	char			 listen[128];
	struct route_list	 routes;	/* every connection */
	size_t			 nregistered;
	struct seed_list	 seeds;
	coro_group		*dialers;
	struct interest_table	 interest;
	struct url_ref		*urls;
	size_t			 nurls;
	struct ssl_ctx_st	*tls_server;	/* NULL: plain routes */
	struct ssl_ctx_st	*tls_client;
	uint64_t		 next_rid;
	char			*perm_sig;	/* import and export, to see a
						   reload change them */
	bool			 stopping;
};

static void	route_register(struct route *);
static char	*perm_signature(const struct conf_cluster *);
static void	seed_start(struct cluster *, const char *url,
		    const struct conf_route_url *, bool implicit,
		    const char *peer_id);

static const struct conf_cluster *
ccf(const struct cluster *cl)
{
	return &cl->srv->conf->cluster;
}

/* ---- interest table ---- */

static uint64_t
key_hash(const char *subject, size_t slen, const char *queue, size_t qlen)
{
	return hash_fnv(hash_fnv(hash_fnv(HASH_FNV_INIT, subject, slen), " ",
	    1), queue, qlen);
}

static struct interest **
interest_slot(struct interest_table *t, const char *subject, size_t slen,
    const char *queue, size_t qlen)
{
	struct interest **pp;

	pp = &t->slots[key_hash(subject, slen, queue, qlen) & (t->cap - 1)];
	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->subject_len == slen && (*pp)->queue_len == qlen &&
		    memcmp((*pp)->key, subject, slen) == 0 &&
		    (qlen == 0 || memcmp((*pp)->key + slen + 1, queue,
		    qlen) == 0))
			break;
	return pp;
}

static int
interest_grow(struct interest_table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64, i;
	struct interest **n, *e, *next;

	if ((n = calloc(ncap, sizeof(*n))) == NULL)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		for (e = t->slots[i]; e != NULL; e = next) {
			uint64_t h = key_hash(e->key, e->subject_len,
			    e->key + e->subject_len + 1, e->queue_len);

			next = e->next;
			e->next = n[h & (ncap - 1)];
			n[h & (ncap - 1)] = e;
		}
	}
	free(t->slots);
	t->slots = n;
	t->cap = ncap;
	return 0;
}

static void
interest_free(struct interest_table *t)
{
	struct interest *e, *next;
	size_t i;

	for (i = 0; i < t->cap; i++)
		for (e = t->slots[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Does one of list's subjects cover subject (an empty list: all)? */
static bool
covered(char *const *list, size_t n, const char *subject, size_t len)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (subject_pattern_covers(list[i], strlen(list[i]), subject,
		    len))
			return true;
	return false;
}

/* cluster.permissions.import: may we ask the peers for subject? */
static bool
import_ok(const struct cluster *cl, const char *subject, size_t len)
{
	return covered(ccf(cl)->import, ccf(cl)->nimport, subject, len);
}

/* cluster.permissions.export: may a peer have subject's messages? */
static bool
export_ok(const struct cluster *cl, const char *subject, size_t len)
{
	return covered(ccf(cl)->export, ccf(cl)->nexport, subject, len);
}

/* Appends RS+ (count > 0) or RS- for e to route r. */
static void
put_interest(struct route *r, const struct interest *e)
{
	struct proto_str acc = PROTO_STR(ROUTE_ACCOUNT);
	struct proto_str su = { e->key, e->subject_len };
	struct proto_str qu = { e->queue_len ? e->key + e->subject_len + 1 :
	    NULL, e->queue_len };
	int err;

	if (r->c->closing || !r->registered)
		return;
	if (e->count > 0)
		err = proto_put_rs_plus(&r->c->out, acc, su, qu, e->count);
	else
		err = proto_put_rs_minus(&r->c->out, acc, su, qu);
	client_appended(r->c, err);
}

void
route_interest(struct server *srv, const struct sublist_sub *ss, int delta)
{
	struct cluster *cl = srv->cluster;
	struct interest_table *t;
	struct interest **pp, *e;
	struct route *r;
	size_t qlen = ss->queue != NULL ? ss->queue_len : 0;
	bool changed;

	if (cl == NULL)
		return;
	t = &cl->interest;
	if (t->cap == 0 && interest_grow(t) != 0)
		return;
	pp = interest_slot(t, ss->subject, ss->subject_len, ss->queue, qlen);
	if ((e = *pp) == NULL) {
		if (delta < 0)
			return;
		if (t->n + 1 > t->cap && interest_grow(t) == 0)
			pp = interest_slot(t, ss->subject, ss->subject_len,
			    ss->queue, qlen);
		if ((e = calloc(1, sizeof(*e) + ss->subject_len + 1 + qlen +
		    1)) == NULL)
			return;
		memcpy(e->key, ss->subject, ss->subject_len);
		if (qlen > 0)
			memcpy(e->key + ss->subject_len + 1, ss->queue, qlen);
		e->subject_len = ss->subject_len;
		e->queue_len = qlen;
		*pp = e;
		t->n++;
	}
	if (delta > 0)
		e->count++;
	else if (e->count > 0)
		e->count--;
	/* a plain subject is news only at 0 <-> 1; a queue group's
	 * weight is its member count, so every change is news */
	changed = qlen > 0 || (delta > 0 ? e->count == 1 : e->count == 0);
	if (changed && import_ok(cl, e->key, e->subject_len))
		TAILQ_FOREACH(r, &cl->routes, link)
			put_interest(r, e);
	if (e->count == 0) {
		*pp = e->next;
		free(e);
		t->n--;
	}
}

/* All local interest to a route that just registered. */
static void
send_all_interest(struct route *r)
{
	struct interest_table *t = &r->cl->interest;
	struct interest *e;
	size_t i;

	for (i = 0; i < t->cap; i++)
		for (e = t->slots[i]; e != NULL; e = e->next)
			if (import_ok(r->cl, e->key, e->subject_len))
				put_interest(r, e);
}

/* ---- client URLs (connect_urls) ---- */

/* Our own client URLs: the first TCP listener, or one per interface
 * address when it listens on every address. */
static void
own_urls(struct server *srv, json_t *a)
{
	struct ifaddrs *ifa, *i;
	char ip[INET6_ADDRSTRLEN], url[INET6_ADDRSTRLEN + 16];

	if (srv->port == 0)
		return;
	if (strcmp(srv->host, "0.0.0.0") != 0 && strcmp(srv->host, "::") != 0
	    && srv->host[0] != '\0') {
		snprintf(url, sizeof(url), strchr(srv->host, ':') ?
		    "[%s]:%d" : "%s:%d", srv->host, srv->port);
		json_array_append_new(a, json_string(url));
		return;
	}
	if (getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    (void *)i->ifa_addr)->sin_addr, ip, sizeof(ip));
		else if (i->ifa_addr->sa_family == AF_INET6 &&
		    strcmp(srv->host, "::") == 0 &&
		    !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)
		    (void *)i->ifa_addr)->sin6_addr))
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    (void *)i->ifa_addr)->sin6_addr, ip, sizeof(ip));
		else
			continue;
		snprintf(url, sizeof(url), strchr(ip, ':') ? "[%s]:%d" :
		    "%s:%d", ip, srv->port);
		json_array_append_new(a, json_string(url));
	}
	freeifaddrs(ifa);
}

void
route_info_urls(struct server *srv, void *json, bool ldm)
{
	struct cluster *cl = srv->cluster;
	json_t *a;
	size_t i;

	if (cl == NULL)
		return;
	json_object_set_new(json, "cluster", json_string(ccf(cl)->name));
	if (ccf(cl)->no_advertise || (a = json_array()) == NULL)
		return;
	/* in lame duck, only the others: clients are to move there */
	if (!ldm)
		own_urls(srv, a);
	for (i = 0; i < cl->nurls; i++)
		json_array_append_new(a, json_string(cl->urls[i].url));
	json_object_set_new(json, "connect_urls", a);
}

/* The set of URLs changed: an async INFO to the clients that take it. */
static void
urls_changed(struct cluster *cl)
{
	struct client *c;

	if (ccf(cl)->no_advertise)
		return;
	TAILQ_FOREACH(c, &cl->srv->clients, link)
		if (c->protocol >= 1 && c->pong_sent && !c->closing)
			client_send_info(c, cl->srv->lame_duck);
}

static bool
url_add(struct cluster *cl, const char *url)
{
	struct url_ref *n;
	size_t i;

	for (i = 0; i < cl->nurls; i++)
		if (strcmp(cl->urls[i].url, url) == 0) {
			cl->urls[i].refs++;
			return false;
		}
	if ((n = realloc(cl->urls, (cl->nurls + 1) * sizeof(*n))) == NULL)
		return false;
	cl->urls = n;
	if ((n[cl->nurls].url = strdup(url)) == NULL)
		return false;
	n[cl->nurls++].refs = 1;
	return true;
}

static bool
url_del(struct cluster *cl, const char *url)
{
	size_t i;

	for (i = 0; i < cl->nurls; i++) {
		if (strcmp(cl->urls[i].url, url) != 0)
			continue;
		if (--cl->urls[i].refs > 0)
			return false;
		free(cl->urls[i].url);
		cl->urls[i] = cl->urls[--cl->nurls];
		return true;
	}
	return false;
}

/* Counts r's URLs in (add) or out of the set; tells clients of changes. */
static void
route_urls_apply(struct route *r, bool add)
{
	bool changed = false;
	size_t i;

	for (i = 0; i < r->nurls; i++)
		changed |= add ? url_add(r->cl, r->urls[i]) :
		    url_del(r->cl, r->urls[i]);
	if (changed)
		urls_changed(r->cl);
}

static void
route_urls_free(struct route *r)
{
	size_t i;

	for (i = 0; i < r->nurls; i++)
		free(r->urls[i]);
	free(r->urls);
	r->urls = NULL;
	r->nurls = 0;
}

/* r's URLs from an INFO's connect_urls. */
static void
route_urls_set(struct route *r, json_t *info)
{
	json_t *a = json_object_get(info, "connect_urls"), *v;
	size_t i;

	route_urls_free(r);
	if (!json_is_array(a) || json_array_size(a) == 0)
		return;
	if ((r->urls = calloc(json_array_size(a), sizeof(char *))) == NULL)
		return;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && (r->urls[r->nurls] =
		    strdup(json_string_value(v))) != NULL)
			r->nurls++;
}

/* ---- INFO and CONNECT ---- */

/* "host:port" into its parts (brackets of an IPv6 literal dropped). */
static bool
split_hostport(const char *hp, char *host, size_t hostsize, int *port)
{
	const char *colon = strrchr(hp, ':');
	size_t n;

	if (colon == NULL)
		return false;
	n = (size_t)(colon - hp);
	if (n > 1 && hp[0] == '[' && hp[n - 1] == ']') {
		hp++;
		n -= 2;
	}
	if (n >= hostsize)
		return false;
	memcpy(host, hp, n);
	host[n] = '\0';
	*port = atoi(colon + 1);
	return *port > 0 && *port < 65536;
}

/* {"allow": [subjects]} */
static json_t *
perm_json(char *const *list, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(list[i]));
	return json_pack("{s:o}", "allow", a);
}

/* Our route INFO (nonce only in the first one). */
static char *
route_info_json(struct cluster *cl, bool first, bool ldm)
{
	struct server *srv = cl->srv;
	const struct conf_cluster *cc = ccf(cl);
	char host[256], ipurl[300];
	int port = cl->l != NULL ? coro_listener_port(cl->l) : 0;
	json_t *o, *a;
	char *s;

	snprintf(host, sizeof(host), "%s", cc->host != NULL &&
	    cc->host[0] != '\0' ? cc->host : "0.0.0.0");
	ipurl[0] = '\0';
	if (cc->advertise != NULL && cc->advertise[0] != '\0' &&
	    split_hostport(cc->advertise, host, sizeof(host), &port))
		snprintf(ipurl, sizeof(ipurl), strchr(host, ':') ?
		    "nats-route://[%s]:%d/" : "nats-route://%s:%d/", host,
		    port);
	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:b, s:I, s:s}",
	    "server_id", srv->server_id,
	    "server_name", srv->server_name,
	    "version", COROBUSD_NATS_VERSION,
	    "proto", 2,
	    "go", "corobusd " PACKAGE_VERSION,
	    "host", host,
	    "port", port,
	    "headers", 1,
	    "max_payload", (json_int_t)srv->conf->limits.max_payload,
	    "cluster", cc->name);
	if (o == NULL)
		return NULL;
	if (ipurl[0] != '\0')
		json_object_set_new(o, "ip", json_string(ipurl));
	if (cc->user[0] != '\0')
		json_object_set_new(o, "auth_required", json_true());
	/* the cluster permissions, as nats-server tells them */
	if (cc->nimport > 0)
		json_object_set_new(o, "import", perm_json(cc->import,
		    cc->nimport));
	if (cc->nexport > 0)
		json_object_set_new(o, "export", perm_json(cc->export,
		    cc->nexport));
	if (cl->tls_server != NULL) {
		json_object_set_new(o, "tls_required", json_true());
		json_object_set_new(o, "tls_verify", json_true());
	}
	if (!cc->no_advertise && (a = json_array()) != NULL) {
		if (!ldm)
			own_urls(srv, a);
		json_object_set_new(o, "connect_urls", a);
	}
	if (ldm)
		json_object_set_new(o, "ldm", json_true());
	if (first) {
		char nonce[24];
		uint32_t x = server_random(srv), y = server_random(srv);

		snprintf(nonce, sizeof(nonce), "%08x%08x", x, y);
		json_object_set_new(o, "nonce", json_string(nonce));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

static void
route_put_info(struct route *r, bool first, bool ldm)
{
	char *json = route_info_json(r->cl, first, ldm);

	if (json == NULL)
		return;
	client_appended(r->c, proto_put_info(&r->c->out, json, strlen(json)));
	free(json);
}

static void
route_put_connect(struct route *r)
{
	const struct conf_cluster *cc = ccf(r->cl);
	json_t *o;
	char *s;

	o = json_pack("{s:b, s:b, s:b, s:b, s:b, s:s, s:s, s:b}",
	    "echo", 1, "verbose", 0, "pedantic", 0,
	    "tls_required", r->cl->tls_client != NULL, "headers", 1,
	    "name", r->cl->srv->server_id, "cluster", cc->name,
	    "cluster_dynamic", 0);
	if (o == NULL)
		return;
	if (r->seed != NULL && r->seed->u.user[0] != '\0') {
		json_object_set_new(o, "user", json_string(r->seed->u.user));
		json_object_set_new(o, "pass",
		    json_string(r->seed->u.password));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL)
		return;
	client_appended(r->c, proto_put_connect(&r->c->out, s, strlen(s)));
	free(s);
}

/* -ERR with free text, then close. */
static void
route_refuse(struct route *r, const char *reason, const char *err)
{
	if (err != NULL && proto_put_err(&r->c->out, err, strlen(err)) == 0)
		server_mark_dirty(r->c->srv, r->c);
	log_info("route: refused addr=%s: %s", r->c->addr, reason);
	client_close(r->c, reason, 0);
}

/* ---- registration ---- */

static struct route *
route_find(struct cluster *cl, const char *id)
{
	struct route *r;

	TAILQ_FOREACH(r, &cl->routes, link)
		if (r->registered && strcmp(r->remote_id, id) == 0)
			return r;
	return NULL;
}

/* Tells the other peers about r's server (gossip), with its address as
 * we see it when its INFO gave none. */
static void
route_gossip(struct route *r, json_t *info)
{
	struct route *o;
	char ipurl[300], *s;

	if (json_object_get(info, "ip") == NULL && r->c->ip[0] != '\0') {
		snprintf(ipurl, sizeof(ipurl), strchr(r->c->ip, ':') ?
		    "nats-route://[%s]:%d/" : "nats-route://%s:%d/", r->c->ip,
		    r->remote_port);
		json_object_set_new(info, "ip", json_string(ipurl));
	}
	json_object_del(info, "nonce");
	if ((s = json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return;
	TAILQ_FOREACH(o, &r->cl->routes, link) {
		if (o == r || !o->registered || o->c->closing)
			continue;
		client_appended(o->c, proto_put_info(&o->c->out, s,
		    strlen(s)));
	}
	free(s);
}

static void
route_register(struct route *r)
{
	struct cluster *cl = r->cl;
	struct route *old = route_find(cl, r->remote_id);

	/*
	 * A second connection to a registered peer: the first one stays,
	 * as in nats-server (it may carry traffic already).  When both
	 * servers dial at once each may keep a different one and both
	 * close; the dialers then retry, apart by their jitter.
	 */
	if (old != NULL) {
		log_debug("route: duplicate route to %s addr=%s, keeping "
		    "addr=%s", r->remote_name, r->c->addr, old->c->addr);
		if (r->seed != NULL)
			snprintf(r->seed->peer_id, sizeof(r->seed->peer_id),
			    "%s", r->remote_id);
		client_close(r->c, "duplicate route", 0);
		return;
	}
	r->registered = r->was_registered = true;
	cl->nregistered++;
	if (r->seed != NULL)
		snprintf(r->seed->peer_id, sizeof(r->seed->peer_id), "%s",
		    r->remote_id);
	log_info("route: registered name=%s id=%s addr=%s%s", r->remote_name,
	    r->remote_id, r->c->addr, r->solicited ? " (dialed)" : "");
	send_all_interest(r);
	if (!r->ldm)
		route_urls_apply(r, true);
}

/* A server named by gossip: dial it unless it is us, connected, being
 * dialed already or one of the seeds. */
static void
route_implicit(struct cluster *cl, json_t *info, const char *id)
{
	struct conf_route_url u;
	const char *ip = json_string_value(json_object_get(info, "ip"));
	const char *host = json_string_value(json_object_get(info, "host"));
	json_t *port = json_object_get(info, "port");
	char url[320], err[128];
	struct seed *s;

	if (strcmp(id, cl->srv->server_id) == 0 || route_find(cl, id) != NULL)
		return;
	if (ip != NULL)
		snprintf(url, sizeof(url), "%s", ip);
	else if (host != NULL && json_is_integer(port))
		snprintf(url, sizeof(url), strchr(host, ':') ?
		    "nats-route://[%s]:%lld/" : "nats-route://%s:%lld/", host,
		    (long long)json_integer_value(port));
	else
		return;
	if (conf_route_url_parse(url, &u, err, sizeof(err)) != 0) {
		log_debug("route: gossip about %s: %s: %s", id, url, err);
		return;
	}
	TAILQ_FOREACH(s, &cl->seeds, link) {
		if (strcmp(s->peer_id, id) == 0)
			return;
		if (strcmp(s->u.host, u.host) == 0 &&
		    strcmp(s->u.port, u.port) == 0)
			return;
	}
	/* the seeds' credentials are the cluster's */
	if (!TAILQ_EMPTY(&cl->seeds)) {
		s = TAILQ_FIRST(&cl->seeds);
		snprintf(u.user, sizeof(u.user), "%s", s->u.user);
		snprintf(u.password, sizeof(u.password), "%s", s->u.password);
	}
	if (u.user[0] == '\0' && ccf(cl)->user[0] != '\0') {
		snprintf(u.user, sizeof(u.user), "%s", ccf(cl)->user);
		if (!passwd_is_hash(ccf(cl)->password))
			snprintf(u.password, sizeof(u.password), "%s",
			    ccf(cl)->password);
	}
	log_debug("route: learned of %s at %s", id, url);
	seed_start(cl, url, &u, true, id);
}

/* ---- the route verbs ---- */

static int
rop_connect(void *arg, const char *json, size_t len)
{
	struct client *c = arg;
	struct route *r = c->route;
	const struct conf_cluster *cc = ccf(r->cl);
	json_error_t jerr;
	const char *name, *user, *pass;
	char msg[512];
	json_t *o;

	if ((o = json_loadb(json, len, 0, &jerr)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		client_close(c, "invalid CONNECT", PROTO_EJSON);
		return PROTO_ESTOP;
	}
	if (json_object_get(o, "lang") != NULL) {
		json_decref(o);
		log_info("route: a client connected to the route port "
		    "addr=%s", c->addr);
		client_close(c, "client on the route port", PROTO_EROUTEPORT);
		return PROTO_ESTOP;
	}
	name = json_string_value(json_object_get(o, "cluster"));
	if (name == NULL || strcmp(name, cc->name) != 0) {
		snprintf(msg, sizeof(msg), "Rejecting connection, cluster "
		    "name \"%s\" does not match \"%s\"", name ? name : "",
		    cc->name);
		route_refuse(r, "cluster name mismatch", msg);
		json_decref(o);
		return PROTO_ESTOP;
	}
	if (cc->user[0] != '\0' && !r->got_connect) {
		user = json_string_value(json_object_get(o, "user"));
		pass = json_string_value(json_object_get(o, "pass"));
		if (user == NULL || pass == NULL ||
		    strcmp(user, cc->user) != 0 ||
		    !auth_check_secret(c, pass, cc->password)) {
			json_decref(o);
			if (!c->closing) {
				log_info("route: authorization failed "
				    "addr=%s", c->addr);
				client_close(c, "authorization violation",
				    PROTO_EAUTH);
			}
			return PROTO_ESTOP;
		}
	}
	json_decref(o);
	if (c->closing)
		return PROTO_ESTOP;
	r->got_connect = true;
	c->connected = true;
	if (r->auth_timer != NULL)
		coro_timer_stop(r->auth_timer);
	return 0;
}

static int
rop_info(void *arg, const char *json, size_t len)
{
	struct client *c = arg;
	struct route *r = c->route;
	struct cluster *cl = r->cl;
	json_error_t jerr;
	const char *id, *name, *cname, *host;
	json_t *o, *port;
	bool ldm;

	if ((o = json_loadb(json, len, 0, &jerr)) == NULL ||
	    !json_is_object(o) || (id = json_string_value(json_object_get(o,
	    "server_id"))) == NULL) {
		json_decref(o);
		route_refuse(r, "invalid INFO", NULL);
		return PROTO_ESTOP;
	}
	ldm = json_is_true(json_object_get(o, "ldm"));
	if (r->got_info) {
		if (strcmp(id, r->remote_id) != 0)
			route_implicit(cl, o, id);
		else if (ldm && !r->ldm) {
			/* the peer is going: its clients should not come */
			log_info("route: %s entered lame duck mode",
			    r->remote_name);
			r->ldm = true;
			route_urls_apply(r, false);
		} else if (!r->ldm && r->registered) {
			route_urls_apply(r, false);
			route_urls_set(r, o);
			route_urls_apply(r, true);
		}
		json_decref(o);
		return 0;
	}
	r->got_info = true;
	if (!r->solicited && ccf(cl)->user[0] != '\0' && !r->got_connect) {
		json_decref(o);
		client_close(c, "authorization violation", PROTO_EAUTH);
		return PROTO_ESTOP;
	}
	name = json_string_value(json_object_get(o, "server_name"));
	cname = json_string_value(json_object_get(o, "cluster"));
	host = json_string_value(json_object_get(o, "host"));
	port = json_object_get(o, "port");
	snprintf(r->remote_id, sizeof(r->remote_id), "%s", id);
	free(r->remote_name);
	r->remote_name = strdup(name != NULL ? name : id);
	snprintf(r->remote_host, sizeof(r->remote_host), "%s",
	    host != NULL ? host : "");
	r->remote_port = json_is_integer(port) ?
	    (int)json_integer_value(port) : 0;
	r->headers = json_is_true(json_object_get(o, "headers"));
	r->ldm = ldm;
	if (strcmp(id, cl->srv->server_id) == 0) {
		if (r->seed != NULL)
			snprintf(r->seed->peer_id, sizeof(r->seed->peer_id),
			    "%s", id);
		log_debug("route: addr=%s is this server", c->addr);
		client_close(c, "route to self", 0);
	} else if (cname != NULL && strcmp(cname, ccf(cl)->name) != 0) {
		log_warnx("route: addr=%s belongs to cluster \"%s\", not "
		    "\"%s\"", c->addr, cname, ccf(cl)->name);
		client_close(c, "cluster name mismatch", 0);
	} else if (name != NULL && strcmp(name, cl->srv->server_name) == 0) {
		log_error("route: addr=%s has our server_name \"%s\": "
		    "server names must differ", c->addr, name);
		client_close(c, "duplicate server name", 0);
	}
	if (c->closing) {
		json_decref(o);
		return PROTO_ESTOP;
	}
	route_urls_set(r, o);
	route_register(r);
	if (r->registered)
		route_gossip(r, o);
	json_decref(o);
	return c->closing ? PROTO_ESTOP : 0;
}

/* Interest of another account ($SYS from nats-server): not ours. */
static bool
our_account(const struct proto_str *acc)
{
	return acc->len == sizeof(ROUTE_ACCOUNT) - 1 &&
	    memcmp(acc->ptr, ROUTE_ACCOUNT, acc->len) == 0;
}

static int
rop_sub(void *arg, const struct proto_sub *ps)
{
	struct client *c = arg;
	struct route *r = c->route;

	c->in_active = true;
	if (!r->registered || !our_account(&ps->account))
		return 0;
	if (!export_ok(r->cl, ps->subject.ptr, ps->subject.len))
		return 0;
	if (pubsub_remote_sub(c, ps) != 0) {
		client_close(c, "out of memory", 0);
		return PROTO_ESTOP;
	}
	return 0;
}

static int
rop_unsub(void *arg, const struct proto_sub *ps)
{
	struct client *c = arg;

	c->in_active = true;
	if (c->route->registered && our_account(&ps->account))
		pubsub_remote_unsub(c, ps);
	return 0;
}

static int
rop_msg(void *arg, const struct proto_msg *m)
{
	struct client *c = arg;

	c->in_active = true;
	if (!c->route->registered || !our_account(&m->account))
		return 0;
	c->stats.in_msgs++;
	c->stats.in_bytes += m->payload.len + m->hdr.len;
	if (pubsub_deliver_routed(c->srv, m) < 0) {
		client_close(c, "out of memory", 0);
		return PROTO_ESTOP;
	}
	return c->closing ? PROTO_ESTOP : 0;
}

static int
rop_ping(void *arg)
{
	struct client *c = arg;

	c->in_active = true;
	client_appended(c, proto_put_pong(&c->out));
	return c->closing ? PROTO_ESTOP : 0;
}

static int
rop_pong(void *arg)
{
	struct client *c = arg;

	c->pings_out = 0;
	c->rtt_known = true;
	return 0;
}

static int
rop_err(void *arg, const char *text, size_t len)
{
	struct client *c = arg;

	log_warnx("route: addr=%s says -ERR '%.*s'", c->addr, (int)len, text);
	return 0;
}

static const struct proto_ops route_ops = {
	.connect = rop_connect,
	.info = rop_info,
	.msg = rop_msg,
	.sub = rop_sub,
	.unsub = rop_unsub,
	.ping = rop_ping,
	.pong = rop_pong,
	.err = rop_err,
};

/* ---- a route connection ---- */

bool
route_send_msg(struct client *rc, const struct proto_msg *m,
    const struct proto_str *queues, size_t nqueues)
{
	struct proto_msg rm = *m;

	if (rc->closing)
		return false;
	rm.account = PROTO_STR(ROUTE_ACCOUNT);
	if (m->hdr.len > 0 && !rc->route->headers) {
		rm.hdr.ptr = NULL;
		rm.hdr.len = 0;
	}
	if (!client_appended(rc, proto_put_rmsg(&rc->out, &rm, queues,
	    nqueues)))
		return false;
	rc->stats.out_msgs++;
	rc->stats.out_bytes += m->payload.len + m->hdr.len;
	return true;
}

void
route_limits(struct client *c)
{
	const struct conf_cluster *cc = &c->srv->conf->cluster;

	/* 2.9 doesn't limit route lines; ours are bounded but long */
	c->parser.max_control_line = ROUTE_CONTROL_LINE;
	c->parser.max_payload = 0;
	c->out.max = cc->max_pending;
	c->write_deadline = cc->write_deadline;
	c->ping_interval = cc->ping_interval;
	c->ping_max = cc->ping_max;
}

static void
route_auth_tick(void *arg)
{
	struct client *c = arg;

	if (c->closing || c->route->got_connect)
		return;
	log_info("route: authentication timeout addr=%s", c->addr);
	client_close(c, "authentication timeout", PROTO_EAUTHTIMEOUT);
}

static int
route_main(void *arg)
{
	struct client *c = arg;
	struct route *r = c->route;
	struct cluster *cl = r->cl;
	const struct conf_cluster *cc = ccf(cl);
	const char *reason = NULL;
	int err;

	if (cl->tls_server != NULL) {
		/* cluster TLS: the handshake first, both ways verified */
		err = r->solicited ? coro_tls_client(c->s, cl->tls_client,
		    r->seed->u.host, coro_deadline_in(cc->tls.handshake_timeout))
		    : coro_tls_server(c->s, cl->tls_server,
		    coro_deadline_in(cc->tls.handshake_timeout));
		if (err != 0) {
			log_warnx("route: TLS handshake with %s failed: %s",
			    c->addr, err == -EPROTO ? coro_tls_error(c->s) :
			    strerror(-err));
			reason = "TLS handshake failed";
			goto out;
		}
	}
	if (r->solicited) {
		route_put_connect(r);
		route_put_info(r, false, cl->srv->lame_duck);
	} else {
		route_put_info(r, true, cl->srv->lame_duck);
		if (cc->user[0] != '\0' && ((r->auth_timer = coro_timer_new(
		    cl->srv->loop, route_auth_tick, c)) == NULL ||
		    coro_timer_start(r->auth_timer, cc->auth_timeout) != 0)) {
			client_close(c, "out of memory", 0);
			goto out;
		}
	}
	c->pong_sent = true;	/* pings may start at once */
	if (c->ping_interval > 0)
		coro_timer_start_repeat(c->ping_timer, c->ping_interval);
	reason = client_serve(c, &route_ops);
 out:
	client_close(c, reason != NULL ? reason : "closed", 0);
	client_release(c);
	return 0;
}

/* A new route over s: its reader is started; NULL when out of memory
 * (s closed). */
static struct client *
route_conn_new(struct cluster *cl, coro_stream *s, const char *addr,
    const char *ip, struct seed *seed)
{
	struct server *srv = cl->srv;
	struct route *r;
	struct client *c;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		coro_stream_close(s);
		return NULL;
	}
	r->cl = cl;
	r->seed = seed;
	r->solicited = seed != NULL;
	r->rid = ++cl->next_rid;
	r->start = coro_now();
	if ((c = client_new(srv, NULL, s, addr, ip, r)) == NULL) {
		free(r);
		coro_stream_close(s);
		return NULL;
	}
	r->c = c;
	c->reader = coro_group_spawn(srv->clients_group, route_main, c,
	    &(coro_spawn_opts){ .name = "route" });
	if (c->reader == NULL) {
		coro_timer_free(c->ping_timer);
		buf_release(&c->out);
		free(c);
		free(r);
		coro_stream_close(s);
		return NULL;
	}
	if (seed != NULL)
		seed->route = r;
	TAILQ_INSERT_TAIL(&cl->routes, r, link);
	log_debug("route: %s addr=%s", seed != NULL ? "dialed" : "accepted",
	    addr);
	return c;
}

void
route_closed(struct client *c)
{
	struct route *r = c->route;
	struct cluster *cl = r->cl;

	/* its interest went with pubsub_client_gone; its URLs go now */
	if (r->registered) {
		r->registered = false;
		cl->nregistered--;
		if (!r->ldm)
			route_urls_apply(r, false);
	}
	if (r->auth_timer != NULL)
		coro_timer_stop(r->auth_timer);
}

void
route_release(struct client *c)
{
	struct route *r = c->route;
	struct server *srv = c->srv;

	if (r->was_registered)
		log_info("route: closed name=%s addr=%s reason=\"%s\" in=%llu "
		    "out=%llu", r->remote_name != NULL ? r->remote_name : "?",
		    c->addr, c->close_reason,
		    (unsigned long long)c->stats.in_msgs,
		    (unsigned long long)c->stats.out_msgs);
	else
		log_debug("route: closed name=%s addr=%s reason=\"%s\"",
		    r->remote_name != NULL ? r->remote_name : "?", c->addr,
		    c->close_reason);
	srv->stats.in_msgs += c->stats.in_msgs;
	srv->stats.out_msgs += c->stats.out_msgs;
	srv->stats.in_bytes += c->stats.in_bytes;
	srv->stats.out_bytes += c->stats.out_bytes;
	if (r->seed != NULL && r->seed->route == r) {
		r->seed->route = NULL;
		snprintf(r->seed->last_close, sizeof(r->seed->last_close),
		    "%s", c->close_reason);
	}
	TAILQ_REMOVE(&r->cl->routes, r, link);
	coro_timer_free(r->auth_timer);
	route_urls_free(r);
	free(r->remote_name);
	free(r);
	c->route = NULL;
}

/* ---- dialing ---- */

/* The URL of a seed without its credentials, for the log. */
static void
seed_display(const char *url, const struct conf_route_url *u, char *out,
    size_t size)
{
	(void)url;
	snprintf(out, size, strchr(u->host, ':') ? "nats-route://[%s]:%s" :
	    "nats-route://%s:%s", u->host, u->port);
}

static int64_t
backoff_ms(struct server *srv, unsigned fails)
{
	int64_t ms = ROUTE_BACKOFF_MIN_MS;

	while (fails-- > 1 && ms < ROUTE_BACKOFF_MAX_MS)
		ms = ms * 3 / 2;
	if (ms > ROUTE_BACKOFF_MAX_MS)
		ms = ROUTE_BACKOFF_MAX_MS;
	/* jitter, so that servers that lost each other don't redial in
	 * step and meet as duplicates */
	return ms + (int64_t)(server_random(srv) % (uint32_t)(ms / 5 + 1));
}

/* A registered peer whose route address (its INFO host and port, or the
 * address we reached it at) is the seed's: the seed's peer, so that a
 * seed does not dial a server that dialed us first. */
static void
seed_match_peer(struct seed *s)
{
	struct route *r;
	char port[16];

	TAILQ_FOREACH(r, &s->cl->routes, link) {
		if (!r->registered)
			continue;
		snprintf(port, sizeof(port), "%d", r->remote_port);
		if (strcmp(port, s->u.port) == 0 &&
		    (strcmp(r->remote_host, s->u.host) == 0 ||
		    strcmp(r->c->ip, s->u.host) == 0)) {
			snprintf(s->peer_id, sizeof(s->peer_id), "%s",
			    r->remote_id);
			return;
		}
	}
}

static int
seed_main(void *arg)
{
	struct seed *s = arg;
	struct cluster *cl = s->cl;
	struct server *srv = cl->srv;
	unsigned fails = 0, tries = 0;
	char addr[160];
	coro_stream *st;
	coro_task *reader;
	int err;

	while (!s->removed && !cl->stopping) {
		if (s->peer_id[0] != '\0' &&
		    strcmp(s->peer_id, srv->server_id) == 0) {
			log_info("route: %s is this server, not dialing it",
			    s->disp);
			break;
		}
		/* connected by the peer's dial: wait till that ends */
		if (s->peer_id[0] == '\0')
			seed_match_peer(s);
		if (s->peer_id[0] != '\0' && route_find(cl, s->peer_id)) {
			if (coro_sleep(ROUTE_WAIT_PEER_MS) != 0)
				break;
			fails = 0;
			continue;
		}
		tries++;
		err = coro_tcp_connect(srv->loop, s->u.host, s->u.port,
		    coro_deadline_in(ROUTE_DIAL_TIMEOUT_MS), &st);
		if (err == -ECANCELED)
			break;
		if (err != 0) {
			if (fails++ == 0)
				log_info("route: cannot connect to %s: %s "
				    "(retrying)", s->disp, strerror(-err));
			else
				log_debug("route: cannot connect to %s: %s",
				    s->disp, strerror(-err));
		} else {
			snprintf(addr, sizeof(addr), strchr(s->u.host, ':') ?
			    "[%s]:%s" : "%s:%s", s->u.host, s->u.port);
			if (route_conn_new(cl, st, addr, s->u.host, s) == NULL ||
			    s->route == NULL) {
				if (coro_sleep(ROUTE_BACKOFF_MIN_MS) != 0)
					break;
				continue;
			}
			reader = coro_task_ref(s->route->c->reader);
			err = coro_join(reader, NULL, CORO_NEVER);
			if (err == -ECANCELED) {
				coro_cancel(reader);
				coro_shield_begin();
				coro_join(reader, NULL, CORO_NEVER);
				coro_shield_end();
				coro_task_unref(reader);
				break;
			}
			coro_task_unref(reader);
			/* a route that worked is redialed at once */
			if (s->peer_id[0] != '\0')
				fails = 0, tries = 0;
			else if (fails++ == 0)
				/* connected, but refused before its INFO
				 * (TLS, credentials, cluster name) */
				log_info("route: %s closed during the handshake: "
				    "%s (retrying)", s->disp, s->last_close);
		}
		if (s->implicit && tries > ccf(cl)->connect_retries) {
			log_info("route: giving up on %s after %u tries",
			    s->disp, tries);
			break;
		}
		if (coro_sleep(backoff_ms(srv, fails)) != 0)
			break;
	}
	TAILQ_REMOVE(&cl->seeds, s, link);
	coro_task_unref(s->task);
	free(s->url);
	free(s);
	return 0;
}

static void
seed_start(struct cluster *cl, const char *url,
    const struct conf_route_url *u, bool implicit, const char *peer_id)
{
	struct seed *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->url = strdup(url)) == NULL) {
		free(s);
		return;
	}
	s->cl = cl;
	s->u = *u;
	seed_display(url, u, s->disp, sizeof(s->disp));
	s->implicit = implicit;
	if (peer_id != NULL)
		snprintf(s->peer_id, sizeof(s->peer_id), "%s", peer_id);
	s->task = coro_group_spawn(cl->dialers, seed_main, s,
	    &(coro_spawn_opts){ .name = "route-dial" });
	if (s->task == NULL) {
		free(s->url);
		free(s);
		return;
	}
	coro_task_ref(s->task);
	TAILQ_INSERT_TAIL(&cl->seeds, s, link);
}

static void
seeds_from_conf(struct cluster *cl)
{
	const struct conf_cluster *cc = ccf(cl);
	struct conf_route_url u;
	char err[256], disp[320];
	struct seed *s;
	size_t i;
	bool found;

	/* gone from the config: stop dialing, close what they dialed */
	TAILQ_FOREACH(s, &cl->seeds, link) {
		if (s->implicit || s->removed)
			continue;
		for (i = 0, found = false; i < cc->nroutes && !found; i++)
			found = strcmp(cc->routes[i], s->url) == 0;
		if (found)
			continue;
		s->removed = true;
		if (s->route != NULL)
			client_close(s->route->c, "route removed", 0);
		coro_cancel(s->task);
	}
	for (i = 0; i < cc->nroutes; i++) {
		found = false;
		TAILQ_FOREACH(s, &cl->seeds, link)
			if (!s->implicit && !s->removed &&
			    strcmp(s->url, cc->routes[i]) == 0)
				found = true;
		if (found)
			continue;
		if (conf_route_url_parse(cc->routes[i], &u, err,
		    sizeof(err)) != 0) {
			log_warnx("route: %s", err);
			continue;
		}
		seed_display(cc->routes[i], &u, disp, sizeof(disp));
		log_debug("route: seed %s", disp);
		seed_start(cl, cc->routes[i], &u, false, NULL);
	}
}

/* ---- the cluster listener ---- */

static int
route_accept_loop(void *arg)
{
	struct cluster *cl = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	coro_stream *s;
	char ip[64], addr[sizeof(((struct client *)0)->addr)];
	int err;

	for (;;) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		err = coro_accept(cl->l, &s, &ss, &len, CORO_NEVER);
		if (err == -ECANCELED || err == -EBADF)
			break;
		if (err != 0) {
			log_warnx("cluster %s: accept: %s", cl->listen,
			    strerror(-err));
			if (coro_sleep(100) != 0)
				break;
			continue;
		}
		server_peer_name(&ss, len, cl->listen, addr, sizeof(addr), ip,
		    sizeof(ip));
		if (cl->srv->lame_duck || cl->stopping) {
			coro_stream_close(s);
			continue;
		}
		route_conn_new(cl, s, addr, ip, NULL);
	}
	return 0;
}

/* Cluster TLS: one server context (verifying the peer's certificate)
 * and one client context (presenting ours). */
static int
route_tls_init(struct cluster *cl)
{
	const struct conf_cluster *cc = ccf(cl);
	struct conf_tls t = cc->tls;
	char err[512];

	if (cc->tls.cert == NULL || cc->tls.cert[0] == '\0')
		return 0;
	t.verify = CONF_TLS_VERIFY_REQUIRED;
	if ((cl->tls_server = tls_ctx_new(&t, err, sizeof(err))) == NULL) {
		log_error("cluster.tls: %s", err);
		return -EINVAL;
	}
	if ((cl->tls_client = coro_tls_client_ctx_new(cc->tls.ca)) == NULL ||
	    SSL_CTX_use_certificate_chain_file(cl->tls_client,
	    cc->tls.cert) != 1 || SSL_CTX_use_PrivateKey_file(cl->tls_client,
	    cc->tls.key, SSL_FILETYPE_PEM) != 1) {
		log_error("cluster.tls: cannot load %s, %s, %s", cc->tls.cert,
		    cc->tls.key, cc->tls.ca);
		return -EINVAL;
	}
	return 0;
}

static void
route_tls_fini(struct cluster *cl)
{
	SSL_CTX_free(cl->tls_server);
	SSL_CTX_free(cl->tls_client);
	cl->tls_server = cl->tls_client = NULL;
}

int
route_start(struct server *srv)
{
	const struct conf_cluster *cc = &srv->conf->cluster;
	struct cluster *cl;
	int err;

	if (cc->host == NULL || cc->port == NULL)
		return 0;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return -ENOMEM;
	cl->srv = srv;
	TAILQ_INIT(&cl->routes);
	TAILQ_INIT(&cl->seeds);
	srv->cluster = cl;
	cl->perm_sig = perm_signature(cc);
	if ((cl->dialers = coro_group_new(srv->loop)) == NULL)
		return -ENOMEM;
	if ((err = route_tls_init(cl)) != 0)
		return err;
	if ((err = coro_tcp_listen(srv->loop, cc->host, cc->port, 128,
	    &cl->l)) != 0) {
		log_error("cluster %s:%s: %s", cc->host, cc->port,
		    strerror(-err));
		return err;
	}
	snprintf(cl->listen, sizeof(cl->listen), strchr(cc->host, ':') ?
	    "[%s]:%d" : "%s:%d", cc->host[0] ? cc->host : "0.0.0.0",
	    coro_listener_port(cl->l));
	cl->accept_task = coro_spawn(srv->loop, route_accept_loop, cl,
	    &(coro_spawn_opts){ .name = "route-accept",
	    .stack_size = 32 * 1024 });
	if (cl->accept_task == NULL)
		return -ENOMEM;
	log_info("cluster \"%s\": listening for routes on %s%s", cc->name,
	    cl->listen, cl->tls_server != NULL ? " (tls)" : "");
	seeds_from_conf(cl);
	return 0;
}

void
route_stop(struct server *srv)
{
	struct cluster *cl = srv->cluster;
	struct route *r;

	if (cl == NULL || cl->stopping)
		return;
	cl->stopping = true;
	if (cl->accept_task != NULL) {
		coro_cancel(cl->accept_task);
		coro_task_unref(cl->accept_task);
		cl->accept_task = NULL;
	}
	if (cl->l != NULL) {
		coro_listener_close(cl->l);
		cl->l = NULL;
	}
	if (cl->dialers != NULL)
		coro_group_cancel(cl->dialers);
	TAILQ_FOREACH(r, &cl->routes, link)
		client_close(r->c, "server shutdown", 0);
}

void
route_fini(struct server *srv)
{
	struct cluster *cl = srv->cluster;

	if (cl == NULL)
		return;
	route_stop(srv);
	if (cl->dialers != NULL)
		coro_group_free(cl->dialers);
	interest_free(&cl->interest);
	while (cl->nurls > 0)
		free(cl->urls[--cl->nurls].url);
	free(cl->urls);
	route_tls_fini(cl);
	free(cl->perm_sig);
	free(cl);
	srv->cluster = NULL;
}

/* The cluster permissions as one string, to compare generations. */
static char *
perm_signature(const struct conf_cluster *cc)
{
	size_t i, n = 2;
	char *s;

	for (i = 0; i < cc->nimport; i++)
		n += strlen(cc->import[i]) + 1;
	for (i = 0; i < cc->nexport; i++)
		n += strlen(cc->export[i]) + 1;
	if ((s = calloc(1, n)) == NULL)
		return NULL;
	for (i = 0; i < cc->nimport; i++)
		strcat(strcat(s, cc->import[i]), " ");
	strcat(s, "|");
	for (i = 0; i < cc->nexport; i++)
		strcat(strcat(s, cc->export[i]), " ");
	return s;
}

void
route_reload(struct server *srv)
{
	struct cluster *cl = srv->cluster;
	struct route *r;
	char *sig;

	if (cl == NULL || cl->stopping)
		return;
	sig = perm_signature(&srv->conf->cluster);
	if (sig != NULL && cl->perm_sig != NULL &&
	    strcmp(sig, cl->perm_sig) != 0) {
		/* the interest both ways depends on them: the routes
		 * reconnect (their dialers redial at once) and re-send it */
		log_notice("cluster: permissions changed, reconnecting the "
		    "routes");
		TAILQ_FOREACH(r, &cl->routes, link)
			client_close(r->c, "cluster permissions changed", 0);
	}
	if (sig != NULL) {
		free(cl->perm_sig);
		cl->perm_sig = sig;
	}
	TAILQ_FOREACH(r, &cl->routes, link)
		client_limits(r->c);
	route_tls_fini(cl);
	if (route_tls_init(cl) != 0)
		log_warnx("cluster.tls: keeping plain routes until fixed");
	seeds_from_conf(cl);
}

void
route_lame_duck(struct server *srv)
{
	struct cluster *cl = srv->cluster;
	struct route *r;

	if (cl == NULL)
		return;
	TAILQ_FOREACH(r, &cl->routes, link)
		if (r->registered && !r->c->closing)
			route_put_info(r, false, true);
}

void *
route_varz(struct server *srv)
{
	struct cluster *cl = srv->cluster;
	json_t *o, *a;
	struct seed *s;
	char host[256];
	int port = 0;

	if (cl == NULL)
		return NULL;
	if (cl->l != NULL)
		port = coro_listener_port(cl->l);
	snprintf(host, sizeof(host), "%s", ccf(cl)->host);
	o = json_pack("{s:s, s:s, s:i, s:i}", "name", ccf(cl)->name,
	    "addr", host, "cluster_port", port, "auth_timeout",
	    (int)(ccf(cl)->auth_timeout / 1000));
	if (o == NULL || (a = json_array()) == NULL)
		return o;
	TAILQ_FOREACH(s, &cl->seeds, link)
		if (!s->implicit) {
			json_array_append_new(a, json_string(s->disp));
		}
	json_object_set_new(o, "urls", a);
	if (cl->tls_server != NULL)
		json_object_set_new(o, "tls_required", json_true());
	return o;
}

void
route_totals(const struct server *srv, struct client_stats *t)
{
	const struct route *r;

	if (srv->cluster == NULL)
		return;
	TAILQ_FOREACH(r, &srv->cluster->routes, link) {
		t->in_msgs += r->c->stats.in_msgs;
		t->out_msgs += r->c->stats.out_msgs;
		t->in_bytes += r->c->stats.in_bytes;
		t->out_bytes += r->c->stats.out_bytes;
	}
}

size_t
route_count(const struct server *srv)
{
	return srv->cluster != NULL ? srv->cluster->nregistered : 0;
}

/* ---- /routez ---- */

void *
route_routez(struct server *srv, bool subs)
{
	struct cluster *cl = srv->cluster;
	json_t *o, *a, *ro, *sl;
	struct route *r;
	char host[64];
	int port;
	size_t i;

	o = json_pack("{s:s, s:s, s:i}", "server_id", srv->server_id,
	    "server_name", srv->server_name, "num_routes",
	    (int)route_count(srv));
	if (o == NULL || (a = json_array()) == NULL) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "routes", a);
	if (cl == NULL)
		return o;
	TAILQ_FOREACH(r, &cl->routes, link) {
		struct client *c = r->c;

		if (!r->registered)
			continue;
		if (!split_hostport(c->addr, host, sizeof(host), &port)) {
			snprintf(host, sizeof(host), "%s", c->ip);
			port = 0;
		}
		ro = json_pack("{s:I, s:s, s:s, s:b, s:b, s:s, s:i, "
		    "s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
		    "rid", (json_int_t)r->rid,
		    "remote_id", r->remote_id,
		    "remote_name", r->remote_name ? r->remote_name : "",
		    "did_solicit", r->solicited,
		    "is_configured", r->seed != NULL && !r->seed->implicit,
		    "ip", host, "port", port,
		    "pending_size", (json_int_t)buf_len(&c->out),
		    "rtt_ms", (json_int_t)0,
		    "in_msgs", (json_int_t)c->stats.in_msgs,
		    "out_msgs", (json_int_t)c->stats.out_msgs,
		    "in_bytes", (json_int_t)c->stats.in_bytes,
		    "out_bytes", (json_int_t)c->stats.out_bytes,
		    "subscriptions", (int)c->nsubs);
		if (ro == NULL)
			continue;
		json_object_del(ro, "rtt_ms");
		if (subs && (sl = json_array()) != NULL) {
			for (i = 0; i < c->subs_cap; i++) {
				struct csub *s;

				for (s = c->subs[i]; s != NULL; s = s->hnext)
					json_array_append_new(sl, json_string(
					    csub_sid(s)));
			}
			json_object_set_new(ro, "subscriptions_list", sl);
		}
		json_array_append_new(a, ro);
	}
	return o;
}
