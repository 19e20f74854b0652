/*
 * dgram.c: the datagram transport (listeners with protocol: datagram),
 * NATS frames in UDP datagrams.  corobusd(8), DATAGRAMS, is the contract.
 *
 * A datagram carries whole frames: PUB, HPUB (several per datagram),
 * SUB, UNSUB, PING, PONG, and, first, an optional CONNECT whose
 * auth_token is checked when authentication is on.  A datagram is taken
 * whole or not at all: it is checked in full (parse, subjects, auth)
 * before any frame acts.  A publish goes through pubsub_deliver() like a
 * client's, with no publisher (nothing to skip for echo).
 *
 * Subscribing makes a lease for the sender's address (ip:port): SUB,
 * UNSUB and PING from that address refresh it, and it ends when not
 * refreshed for datagram.lease.  Its subscriptions are struct csub with
 * c NULL and lease set; deliver() in pubsub.c hands them to
 * dgram_deliver(), which sends one MSG (HMSG) per datagram through the
 * socket the lease came in on, at once and without waiting: what does
 * not fit datagram.max_datagram, or the socket, is dropped and counted.
 *
 * Safety (no reflection, no amplification): nothing is ever answered
 * but PONG, and, before the address holds a lease, only when the PING
 * datagram was at least as big as the PONG; errors are counted, never
 * answered.  Each source IP address has a token bucket (datagram.rate,
 * datagram.burst) and a lease limit; a source port 0 or a broadcast,
 * multicast or unspecified source address is a spoof and dropped.  Every
 * drop is counted (/varz "datagram", /metrics).
 *
 * One receive task per listener; deliveries never suspend; a timer
 * expires leases and forgets idle sources while there are any.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "corobusd.h"
#include "hash.h"
#include "log.h"
#include "subject.h"

#define DGRAM_RECV_MAX		65536	/* the largest UDP payload fits */
#define DGRAM_BUCKETS		4096	/* hash buckets, sources and leases */
#define DGRAM_MAX_SOURCES	16384	/* source addresses tracked */
#define DGRAM_BATCH		64	/* datagrams before a yield */
#define DGRAM_SWEEP_MS		250	/* lease expiry resolution */

/* pass-1 verdicts, below PROTO_ESTOP */
#define DGRAM_EGARBAGE		(PROTO_ESTOP - 1)
#define DGRAM_EAUTH		(PROTO_ESTOP - 2)

static const char pong[] = "PONG\r\n";

/* A source IP address: its token bucket and its leases. */
struct dgram_source {
	uint8_t			 ip[16];	/* IPv4 as ::ffff:a.b.c.d */
	double			 tokens;
	int64_t			 seen;		/* coro_now() of the refill */
	unsigned		 nleases;
	struct dgram_source	*hnext;
};

/* A subscriber address and its subscriptions (csub, c NULL). */
struct dgram_lease {
	struct dgram		*d;
	struct dgram_source	*src;
	struct listener		*L;		/* the socket it talks on */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	uint8_t			 ip[16];
	uint16_t		 port;
	int64_t			 expires;
	struct csub		**subs;		/* nsubs <= subs_per_lease */
	size_t			 nsubs, subcap;
	struct dgram_lease	*hnext;
	TAILQ_ENTRY(dgram_lease) link;
};

TAILQ_HEAD(dgram_lease_list, dgram_lease);

struct dgram {
	struct server		*srv;
	struct dgram_source	*sources[DGRAM_BUCKETS];
	size_t			 nsources;
	struct dgram_lease	*bylease[DGRAM_BUCKETS];
	struct dgram_lease_list	 leases;
	size_t			 nleases;
	coro_timer		*sweep;		/* armed while either exists */
	struct buf		 out;		/* one MSG being encoded */
	struct dgram_stats	 stats;
};

/* One listener's receive task and the datagram it is handling. */
struct dgram_rx {
	struct dgram		*d;
	struct listener		*L;
	struct proto_parser	 parser;
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	uint8_t			 ip[16];
	uint16_t		 port;
	struct dgram_source	*src;
	size_t			 len;
	unsigned		 frames;
	bool			 auth_ok;
	bool			 ping;
	char			 buf[DGRAM_RECV_MAX];
};

/* ---- addresses ---- */

static uint64_t
dgram_hash(const uint8_t *ip, uint16_t port)
{
	uint8_t p[2] = { (uint8_t)(port & 0xff), (uint8_t)(port >> 8) };

	return hash_fnv(hash_fnv(HASH_FNV_INIT, ip, 16), p, 2);
}

/* The sender as 16 address bytes and a port; false for a spoof: port 0,
 * or an address no datagram can truly come from (unspecified, broadcast,
 * multicast, reserved). */
static bool
dgram_peer(const struct sockaddr_storage *ss, socklen_t len, uint8_t *ip,
    uint16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	static const uint8_t zero[16];

	if (ss->ss_family == AF_INET && len >= sizeof(*sin)) {
		memcpy(ip, mapped, 12);
		memcpy(ip + 12, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6 && len >= sizeof(*sin6)) {
		memcpy(ip, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	} else
		return false;
	if (*port == 0)
		return false;
	if (memcmp(ip, mapped, 12) == 0)
		/* 0/8, multicast 224/4, reserved and broadcast 240/4 */
		return ip[12] != 0 && ip[12] < 224;
	return memcmp(ip, zero, 16) != 0 && ip[0] != 0xff;
}

static void
dgram_peer_name(const uint8_t *ip, uint16_t port, char *buf, size_t size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	char a[INET6_ADDRSTRLEN];

	if (memcmp(ip, mapped, 12) == 0) {
		inet_ntop(AF_INET, ip + 12, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, ip, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, port);
	}
}

/* ---- sources: rate and lease limits per IP address ---- */

static void
dgram_arm(struct dgram *d)
{
	if (!coro_timer_pending(d->sweep))
		coro_timer_start_repeat(d->sweep, DGRAM_SWEEP_MS);
}

static struct dgram_source *
source_get(struct dgram *d, const uint8_t *ip, int64_t now)
{
	const struct conf_datagram *cd = &d->srv->conf->datagram;
	struct dgram_source **pp, *s;

	pp = &d->sources[dgram_hash(ip, 0) % DGRAM_BUCKETS];
	for (s = *pp; s != NULL; s = s->hnext)
		if (memcmp(s->ip, ip, 16) == 0)
			return s;
	if (d->nsources >= DGRAM_MAX_SOURCES ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->ip, ip, 16);
	s->tokens = cd->burst;
	s->seen = now;
	s->hnext = *pp;
	*pp = s;
	d->nsources++;
	dgram_arm(d);
	return s;
}

/* Takes one token from the source's bucket: false when it is empty. */
static bool
source_take(struct dgram *d, struct dgram_source *s, int64_t now)
{
	const struct conf_datagram *cd = &d->srv->conf->datagram;

	if (now > s->seen) {
		s->tokens += (double)(now - s->seen) * cd->rate / 1000.0;
		s->seen = now;
	}
	if (s->tokens > cd->burst)
		s->tokens = cd->burst;
	if (s->tokens < 1.0)
		return false;
	s->tokens -= 1.0;
	return true;
}

/* ---- leases ---- */

static struct dgram_lease **
lease_slot(struct dgram *d, const uint8_t *ip, uint16_t port)
{
	struct dgram_lease **pp;

	pp = &d->bylease[dgram_hash(ip, port) % DGRAM_BUCKETS];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->port == port && memcmp((*pp)->ip, ip, 16) == 0)
			break;
	return pp;
}

/* Out of the index, parked until no delivery can see it (as pubsub.c
 * does with a client's). */
static void
lease_retire_sub(struct dgram_lease *l, size_t i)
{
	struct server *srv = l->d->srv;
	struct csub *s = l->subs[i];

	l->subs[i] = l->subs[--l->nsubs];
	s->dead = true;
	sublist_remove(srv->sublist, &s->ss);
	route_interest(srv, &s->ss, -1);
	s->hnext = srv->graveyard;
	srv->graveyard = s;
	if (srv->delivering == 0)
		pubsub_bury(srv);
}

static void
lease_free(struct dgram_lease *l)
{
	struct dgram *d = l->d;
	struct dgram_lease **pp;

	while (l->nsubs > 0)
		lease_retire_sub(l, l->nsubs - 1);
	pp = lease_slot(d, l->ip, l->port);
	if (*pp == l)
		*pp = l->hnext;
	TAILQ_REMOVE(&d->leases, l, link);
	d->nleases--;
	l->src->nleases--;
	free(l->subs);
	free(l);
}

static void
lease_refresh(struct dgram_lease *l)
{
	l->expires = coro_now() + l->d->srv->conf->datagram.lease;
}

/* The lease of rx's sender, made when asked and the limits allow. */
static struct dgram_lease *
lease_get(struct dgram_rx *rx, bool create)
{
	struct dgram *d = rx->d;
	const struct conf_datagram *cd = &d->srv->conf->datagram;
	struct dgram_lease **pp, *l;
	char name[64];

	pp = lease_slot(d, rx->ip, rx->port);
	if ((l = *pp) != NULL || !create)
		return l;
	if (d->nleases >= cd->max_leases ||
	    rx->src->nleases >= cd->leases_per_source) {
		d->stats.dropped_limit++;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->d = d;
	l->src = rx->src;
	l->L = rx->L;
	memcpy(&l->addr, &rx->from, sizeof(l->addr));
	l->addrlen = rx->fromlen;
	memcpy(l->ip, rx->ip, 16);
	l->port = rx->port;
	*pp = l;
	TAILQ_INSERT_TAIL(&d->leases, l, link);
	d->nleases++;
	rx->src->nleases++;
	dgram_arm(d);
	dgram_peer_name(l->ip, l->port, name, sizeof(name));
	log_debug("datagram: lease for %s on %s", name, l->L->name);
	return l;
}

static size_t
lease_find_sid(const struct dgram_lease *l, const struct proto_str *sid)
{
	size_t i;

	for (i = 0; i < l->nsubs; i++)
		if (l->subs[i]->sid_len == sid->len &&
		    memcmp(csub_sid(l->subs[i]), sid->ptr, sid->len) == 0)
			break;
	return i;
}

static void
lease_sub(struct dgram_rx *rx, const struct proto_sub *ps)
{
	struct dgram *d = rx->d;
	struct dgram_lease *l;
	struct csub *s, **ns;
	size_t qlen = ps->queue.ptr != NULL ? ps->queue.len : 0, ncap;
	char *p;

	if ((l = lease_get(rx, true)) == NULL)
		return;
	lease_refresh(l);
	if (lease_find_sid(l, &ps->sid) < l->nsubs)
		return;		/* a refresh */
	if (l->nsubs >= d->srv->conf->datagram.subs_per_lease) {
		d->stats.dropped_limit++;
		goto out;
	}
	if (l->nsubs == l->subcap) {
		ncap = l->subcap ? l->subcap * 2 : 4;
		if ((ns = realloc(l->subs, ncap * sizeof(*ns))) == NULL)
			goto out;
		l->subs = ns;
		l->subcap = ncap;
	}
	s = calloc(1, sizeof(*s) + ps->subject.len + 1 + qlen + 1 +
	    ps->sid.len + 1);
	if (s == NULL)
		goto out;
	p = s->strings;
	memcpy(p, ps->subject.ptr, ps->subject.len);
	s->ss.subject = p;
	s->ss.subject_len = ps->subject.len;
	p += ps->subject.len + 1;
	if (qlen > 0) {
		memcpy(p, ps->queue.ptr, qlen);
		s->ss.queue = p;
		s->ss.queue_len = qlen;
		p += qlen + 1;
	}
	memcpy(p, ps->sid.ptr, ps->sid.len);
	s->sid_len = ps->sid.len;
	s->ss.weight = 1;
	s->ss.owner = l;
	s->lease = l;
	if (sublist_insert(d->srv->sublist, &s->ss) != 0) {
		free(s);
		goto out;
	}
	l->subs[l->nsubs++] = s;
	route_interest(d->srv, &s->ss, 1);
 out:
	/* a lease that never got a subscription is not kept */
	if (l->nsubs == 0)
		lease_free(l);
}

static void
lease_unsub(struct dgram_rx *rx, const struct proto_sub *ps)
{
	struct dgram_lease *l;
	size_t i;

	if ((l = lease_get(rx, false)) == NULL)
		return;
	lease_refresh(l);
	if ((i = lease_find_sid(l, &ps->sid)) == l->nsubs)
		return;
	if (ps->has_max && !ps->bad_max &&
	    ps->max_msgs > l->subs[i]->delivered)
		l->subs[i]->max = ps->max_msgs;
	else
		lease_retire_sub(l, i);
	if (l->nsubs == 0)
		lease_free(l);
}

/* ---- delivery ---- */

bool
dgram_deliver(struct csub *s, const struct proto_msg *m)
{
	struct dgram_lease *l = s->lease;
	struct dgram *d = l->d;
	struct proto_msg out = *m;
	struct listener *L = l->L;
	size_t i;

	if (s->dead || L->u == NULL)
		return false;
	out.sid.ptr = csub_sid(s);
	out.sid.len = s->sid_len;
	buf_reset(&d->out);
	d->out.max = d->srv->conf->datagram.max_datagram;
	if (proto_put_msg(&d->out, &out) != 0) {
		d->stats.dropped_oversize++;
		return false;
	}
	if (sendto(coro_udp_fd(L->u), buf_data(&d->out), buf_len(&d->out),
	    MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&l->addr,
	    l->addrlen) == -1) {
		d->stats.dropped_send++;
		return false;
	}
	d->stats.delivered++;
	s->delivered++;
	if (s->max != 0 && s->delivered >= s->max) {
		/* auto-unsubscribe reached; an empty lease is left to the
		 * sweep, since a delivery is in progress */
		for (i = 0; i < l->nsubs && l->subs[i] != s; i++)
			;
		if (i < l->nsubs)
			lease_retire_sub(l, i);
	}
	return true;
}

/* ---- expiry ---- */

static void
dgram_sweep(void *arg)
{
	struct dgram *d = arg;
	const struct conf_datagram *cd = &d->srv->conf->datagram;
	struct dgram_lease *l, *ln;
	struct dgram_source **pp, *s;
	int64_t now = coro_now(), full;
	char name[64];
	size_t i;

	for (l = TAILQ_FIRST(&d->leases); l != NULL; l = ln) {
		ln = TAILQ_NEXT(l, link);
		if (l->nsubs > 0 && l->expires > now)
			continue;
		dgram_peer_name(l->ip, l->port, name, sizeof(name));
		log_debug("datagram: lease for %s %s", name,
		    l->nsubs > 0 ? "expired" : "ended");
		lease_free(l);
	}
	/* a source whose bucket has filled up again is like a new one */
	full = (int64_t)cd->burst * 1000 / cd->rate + 1;
	for (i = 0; i < DGRAM_BUCKETS; i++) {
		for (pp = &d->sources[i]; (s = *pp) != NULL;) {
			if (s->nleases == 0 && now - s->seen >= full) {
				*pp = s->hnext;
				free(s);
				d->nsources--;
			} else
				pp = &s->hnext;
		}
	}
	if (d->nleases == 0 && d->nsources == 0)
		coro_timer_stop(d->sweep);
}

/* ---- receiving ---- */

static int
chk_frame(struct dgram_rx *rx)
{
	rx->frames++;
	if (!rx->auth_ok && auth_required(rx->d->srv))
		return DGRAM_EAUTH;
	return 0;
}

static int
chk_connect(void *arg, const char *json, size_t len)
{
	struct dgram_rx *rx = arg;
	json_t *o, *tok;
	bool ok, given;

	if (rx->frames++ != 0)
		return DGRAM_EGARBAGE;	/* CONNECT only comes first */
	if ((o = json_loadb(json, len, 0, NULL)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		return DGRAM_EGARBAGE;
	}
	tok = json_object_get(o, "auth_token");
	given = json_is_string(tok);
	ok = given && auth_token_ok(rx->d->srv, json_string_value(tok),
	    json_string_length(tok));
	json_decref(o);		/* tok goes with it */
	if (ok)
		rx->auth_ok = true;
	else if (auth_required(rx->d->srv)) {
		/* a wrong token (a hashed one costs a hash to check)
		 * empties the source's bucket, and more: refused for
		 * about burst/rate seconds */
		if (given)
			rx->src->tokens = -(double)
			    rx->d->srv->conf->datagram.burst;
		return DGRAM_EAUTH;
	}
	return 0;
}

static int
chk_pub(void *arg, const struct proto_msg *m)
{
	struct dgram_rx *rx = arg;

	if (!subject_valid_pub(m->subject.ptr, m->subject.len) ||
	    (m->reply.ptr != NULL &&
	    !subject_valid_pub(m->reply.ptr, m->reply.len)))
		return DGRAM_EGARBAGE;
	return chk_frame(rx);
}

static int
chk_sub(void *arg, const struct proto_sub *ps)
{
	struct dgram_rx *rx = arg;

	if (!subject_valid_sub(ps->subject.ptr, ps->subject.len) ||
	    (ps->queue.ptr != NULL && ps->queue.len == 0))
		return DGRAM_EGARBAGE;
	return chk_frame(rx);
}

static int
chk_unsub(void *arg, const struct proto_sub *ps)
{
	(void)ps;
	return chk_frame(arg);
}

static int
chk_ping(void *arg)
{
	return chk_frame(arg);
}

/* Pass 1: the whole datagram, checked before anything acts. */
static const struct proto_ops dgram_check_ops = {
	.connect = chk_connect,
	.pub = chk_pub,
	.sub = chk_sub,
	.unsub = chk_unsub,
	.ping = chk_ping,
	.pong = chk_ping,
};

static int
op_pub(void *arg, const struct proto_msg *m)
{
	struct dgram_rx *rx = arg;
	struct server *srv = rx->d->srv;

	rx->d->stats.published++;
	if (pubsub_deliver(srv, NULL, m) < 0)
		return PROTO_ESTOP;
	return 0;
}

static int
op_sub(void *arg, const struct proto_sub *ps)
{
	lease_sub(arg, ps);
	return 0;
}

static int
op_unsub(void *arg, const struct proto_sub *ps)
{
	lease_unsub(arg, ps);
	return 0;
}

static int
op_ping(void *arg)
{
	struct dgram_rx *rx = arg;
	struct dgram_lease *l;

	rx->ping = true;
	if ((l = lease_get(rx, false)) != NULL)
		lease_refresh(l);
	return 0;
}

/* Pass 2: acting on the frames. */
static const struct proto_ops dgram_ops = {
	.pub = op_pub,
	.sub = op_sub,
	.unsub = op_unsub,
	.ping = op_ping,
};

static void
dgram_handle(struct dgram_rx *rx)
{
	struct dgram *d = rx->d;
	const struct conf_limits *lim = &d->srv->conf->limits;
	ssize_t r;

	if (!dgram_peer(&rx->from, rx->fromlen, rx->ip, &rx->port)) {
		d->stats.dropped_spoof++;
		return;
	}
	if ((rx->src = source_get(d, rx->ip, coro_now())) == NULL ||
	    !source_take(d, rx->src, coro_now())) {
		d->stats.dropped_rate++;
		return;
	}
	rx->parser.max_control_line = lim->max_control_line;
	rx->parser.max_payload = lim->max_payload;
	rx->frames = 0;
	rx->auth_ok = false;
	rx->ping = false;
	proto_parser_reset(&rx->parser);
	r = proto_parse(&rx->parser, rx->buf, rx->len, &dgram_check_ops, rx);
	if (r == DGRAM_EAUTH) {
		d->stats.dropped_auth++;
		return;
	}
	if (r < 0 || (size_t)r != rx->len || rx->frames == 0) {
		d->stats.dropped_garbage++;
		return;
	}
	proto_parser_reset(&rx->parser);
	(void)proto_parse(&rx->parser, rx->buf, rx->len, &dgram_ops, rx);
	/* PONG, only if it is no bigger than what came, or to a lease */
	if (rx->ping && rx->L->u != NULL && (rx->len >= sizeof(pong) - 1 ||
	    lease_get(rx, false) != NULL))
		(void)sendto(coro_udp_fd(rx->L->u), pong, sizeof(pong) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&rx->from,
		    rx->fromlen);
}

static int
dgram_main(void *arg)
{
	struct dgram_rx *rx = arg;
	ssize_t n;
	unsigned batch = 0;

	for (;;) {
		if (rx->L->u == NULL)
			break;
		rx->fromlen = sizeof(rx->from);
		n = coro_udp_recvfrom(rx->L->u, rx->buf, sizeof(rx->buf),
		    &rx->from, &rx->fromlen, CORO_NEVER);
		if (n == -ECANCELED || n == -EBADF)
			break;
		if (n < 0) {
			/* ICMP errors of earlier sends surface here */
			if (n != -ECONNREFUSED && n != -EHOSTUNREACH &&
			    n != -ENETUNREACH)
				log_warnx("listener %s: recvfrom: %s",
				    rx->L->name, strerror((int)-n));
			continue;
		}
		rx->d->stats.received++;
		rx->len = (size_t)n;
		dgram_handle(rx);
		/* a flood must not starve the clients */
		if (++batch == DGRAM_BATCH) {
			batch = 0;
			if (coro_yield() != 0)
				break;
		}
	}
	free(rx);
	return 0;
}

/* ---- life cycle ---- */

static struct dgram *
dgram_get(struct server *srv)
{
	struct dgram *d;

	if (srv->dgram != NULL)
		return srv->dgram;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->srv = srv;
	TAILQ_INIT(&d->leases);
	buf_init(&d->out, 65536);
	if ((d->sweep = coro_timer_new(srv->loop, dgram_sweep, d)) == NULL) {
		free(d);
		return NULL;
	}
	srv->dgram = d;
	return d;
}

int
dgram_listen(struct server *srv, struct listener *L)
{
	struct conf_listener *cl = L->cl;
	struct dgram_rx *rx;
	struct dgram *d;
	int err;

	if ((d = dgram_get(srv)) == NULL)
		return -ENOMEM;
	if ((err = coro_udp_open(srv->loop, cl->host, cl->port, &L->u)) != 0)
		return err;
	snprintf(L->name, sizeof(L->name), strchr(cl->host ? cl->host : "",
	    ':') ? "[%s]:%d" : "%s:%d", cl->host && cl->host[0] != '\0' ?
	    cl->host : "0.0.0.0", coro_udp_port(L->u));
	if ((rx = calloc(1, sizeof(*rx))) == NULL)
		goto fail;
	rx->d = d;
	rx->L = L;
	proto_parser_init(&rx->parser, PROTO_SERVER);
	L->task = coro_spawn(srv->loop, dgram_main, rx,
	    &(coro_spawn_opts){ .name = "datagram" });
	if (L->task == NULL)
		goto fail;
	return 0;
 fail:
	free(rx);
	coro_udp_close(L->u);
	L->u = NULL;
	return -ENOMEM;
}

void
dgram_stats(const struct server *srv, struct dgram_stats *st)
{
	if (srv->dgram == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = srv->dgram->stats;
	st->leases = srv->dgram->nleases;
}

void
dgram_fini(struct server *srv)
{
	struct dgram *d = srv->dgram;
	struct dgram_source *s;
	struct dgram_lease *l;
	size_t i;

	if (d == NULL)
		return;
	while ((l = TAILQ_FIRST(&d->leases)) != NULL)
		lease_free(l);
	for (i = 0; i < DGRAM_BUCKETS; i++)
		while ((s = d->sources[i]) != NULL) {
			d->sources[i] = s->hnext;
			free(s);
		}
	coro_timer_free(d->sweep);
	buf_release(&d->out);
	free(d);
	srv->dgram = NULL;
}
