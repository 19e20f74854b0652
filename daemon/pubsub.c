/*
 * pubsub.c: SUB, UNSUB and PUB between a client connection and the
 * subject index, and message delivery.
 *
 * A published message is matched once (the sublist caches results) and
 * encoded straight into each subscriber's output buffer: every matching
 * plain subscription gets a copy with its own sid, every matching queue
 * group one copy for a member picked at random.  Delivery can remove
 * subscriptions (auto-unsubscribe, a slow consumer closed on the spot),
 * and a sublist result is a snapshot, so removed subscriptions are only
 * parked (the graveyard) and freed when no delivery is in progress.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "corobusd.h"
#include "hash.h"
#include "log.h"
#include "subject.h"

/* A route's "subject queue" keys up to this long are built on the
 * stack; longer ones on the heap. */
#define REMOTE_KEY_STACK	512

/* ---- the sid table of a client ---- */

static uint64_t
sid_hash(const char *s, size_t len)
{
	return hash_fnv(HASH_FNV_INIT, s, len);
}

static struct csub **
sid_slot(struct client *c, const char *sid, size_t len)
{
	struct csub **pp;

	if (c->subs_cap == 0)
		return NULL;
	pp = &c->subs[sid_hash(sid, len) & (c->subs_cap - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->sid_len == len && memcmp(csub_sid(*pp), sid, len) == 0)
			break;
	return pp;
}

static int
sid_table_grow(struct client *c)
{
	size_t ncap = c->subs_cap ? c->subs_cap * 2 : 4, i;
	struct csub **n, *s, *next;

	if ((n = calloc(ncap, sizeof(*n))) == NULL)
		return -ENOMEM;
	for (i = 0; i < c->subs_cap; i++) {
		for (s = c->subs[i]; s != NULL; s = next) {
			uint64_t h = sid_hash(csub_sid(s), s->sid_len);

			next = s->hnext;
			s->hnext = n[h & (ncap - 1)];
			n[h & (ncap - 1)] = s;
		}
	}
	free(c->subs);
	c->subs = n;
	c->subs_cap = ncap;
	return 0;
}

/* ---- removal ---- */

static void
csub_remove(struct server *srv, struct csub *s)
{
	struct csub **pp;

	if (s->dead)
		return;
	s->dead = true;
	sublist_remove(srv->sublist, &s->ss);
	if (s->c->route == NULL)
		route_interest(srv, &s->ss, -1);
	pp = sid_slot(s->c, csub_sid(s), s->sid_len);
	if (pp != NULL && *pp == s)
		*pp = s->hnext;
	s->c->nsubs--;
	/* a delivery in progress may still list it */
	s->hnext = srv->graveyard;
	srv->graveyard = s;
	if (srv->delivering == 0)
		pubsub_bury(srv);
}

void
pubsub_bury(struct server *srv)
{
	struct csub *s, *next;

	for (s = srv->graveyard; s != NULL; s = next) {
		next = s->hnext;
		free(s);
	}
	srv->graveyard = NULL;
}

void
pubsub_client_gone(struct client *c)
{
	size_t i;

	for (i = 0; i < c->subs_cap; i++)
		while (c->subs[i] != NULL)
			csub_remove(c->srv, c->subs[i]);
	free(c->subs);
	c->subs = NULL;
	c->subs_cap = 0;
}

/* ---- permissions ---- */

static void
perm_violation(struct client *c, int code, const char *subject,
    size_t len, const char *queue, size_t qlen)
{
	struct proto_str su = { subject, len }, qu = { queue, qlen };

	log_info("client: permissions violation cid=%llu user=\"%s\" %s "
	    "%.*s%s%.*s", (unsigned long long)c->cid,
	    c->user != NULL ? c->user : "", code == PROTO_EPERMPUB ?
	    "publish to" : "subscribe to", (int)len, subject,
	    queue != NULL ? " queue " : "", (int)qlen, queue ? queue : "");
	if (proto_put_err_perm(&c->out, code, su, qu) == 0)
		server_mark_dirty(c->srv, c);
	else
		client_slow_consumer(c);
}

void
pubsub_perm_changed(struct client *c)
{
	struct csub *s, *next;
	size_t i;

	if (c->perm != NULL && c->pcache == NULL)
		c->pcache = calloc(1, sizeof(*c->pcache));
	if (c->pcache != NULL)
		perm_cache_clear(c->pcache);
	if (c->perm == NULL)
		return;
	for (i = 0; i < c->subs_cap; i++) {
		for (s = c->subs[i]; s != NULL; s = next) {
			next = s->hnext;
			if (perm_sub_ok(c->perm, s->ss.subject,
			    s->ss.subject_len, s->ss.queue, s->ss.queue_len))
				continue;
			perm_violation(c, PROTO_EPERMSUB, s->ss.subject,
			    s->ss.subject_len, s->ss.queue, s->ss.queue_len);
			csub_remove(c->srv, s);
		}
	}
}

/* ---- SUB and UNSUB ---- */

/* A new subscription of c (a client's, or a route's remote interest)
 * in its sid table and the index: 0, -ENOMEM or -EINVAL (the index
 * refused the subject). */
static int
csub_add(struct client *c, struct proto_str subject, struct proto_str queue,
    struct proto_str sid, uint32_t weight)
{
	struct server *srv = c->srv;
	size_t qlen = queue.ptr != NULL ? queue.len : 0;
	struct csub *s, **pp;
	char *p;

	if (c->nsubs + 1 > c->subs_cap && sid_table_grow(c) != 0)
		return -ENOMEM;
	s = calloc(1, sizeof(*s) + subject.len + 1 + qlen + 1 + sid.len + 1);
	if (s == NULL)
		return -ENOMEM;
	p = s->strings;
	memcpy(p, subject.ptr, subject.len);
	s->ss.subject = p;
	s->ss.subject_len = subject.len;
	p += subject.len + 1;
	if (queue.ptr != NULL) {
		memcpy(p, queue.ptr, qlen);
		s->ss.queue = p;
		s->ss.queue_len = qlen;
		p += qlen + 1;
	}
	memcpy(p, sid.ptr, sid.len);
	s->sid_len = sid.len;
	s->ss.weight = weight;
	s->ss.owner = c;
	s->c = c;
	if (sublist_insert(srv->sublist, &s->ss) != 0) {
		free(s);
		return -EINVAL;
	}
	pp = sid_slot(c, sid.ptr, sid.len);
	*pp = s;
	c->nsubs++;
	if (c->route == NULL)
		route_interest(srv, &s->ss, 1);
	return 0;
}

int
pubsub_sub(struct client *c, const struct proto_sub *ps)
{
	struct server *srv = c->srv;
	unsigned max = srv->conf->limits.max_subscriptions;
	struct csub **pp;
	size_t qlen = ps->queue.ptr != NULL ? ps->queue.len : 0;
	int err;

	if (!subject_valid_sub(ps->subject.ptr, ps->subject.len) ||
	    (ps->queue.ptr != NULL && qlen == 0)) {
		client_send_err(c, PROTO_ESUBJECT);
		return 0;
	}
	if (!perm_sub_ok(c->perm, ps->subject.ptr, ps->subject.len,
	    ps->queue.ptr, qlen)) {
		perm_violation(c, PROTO_EPERMSUB, ps->subject.ptr,
		    ps->subject.len, ps->queue.ptr, qlen);
		return 0;
	}
	pp = sid_slot(c, ps->sid.ptr, ps->sid.len);
	if (pp != NULL && *pp != NULL)
		goto ok;	/* a live sid: ignored, as nats-server does */
	if (max != 0 && c->nsubs >= max) {
		client_send_err(c, PROTO_EMAXSUBS);
		return 0;
	}
	if ((err = csub_add(c, ps->subject, ps->queue, ps->sid, 1)) != 0) {
		if (err != -EINVAL)
			return err;
		client_send_err(c, PROTO_ESUBJECT);
		return 0;
	}
	log_trace("client: cid=%llu sub %.*s sid=%.*s",
	    (unsigned long long)c->cid, (int)ps->subject.len,
	    ps->subject.ptr, (int)ps->sid.len, ps->sid.ptr);
 ok:
	if (c->verbose)
		client_put_ok(c);
	return 0;
}

int
pubsub_unsub(struct client *c, const struct proto_sub *ps)
{
	struct csub **pp, *s;

	pp = sid_slot(c, ps->sid.ptr, ps->sid.len);
	if (pp != NULL && (s = *pp) != NULL) {
		/* max_msgs counts from SUB: at or below what was already
		 * delivered, the subscription goes at once */
		if (ps->has_max && !ps->bad_max && ps->max_msgs > s->delivered)
			s->max = ps->max_msgs;
		else
			csub_remove(c->srv, s);
	}
	if (c->verbose)
		client_put_ok(c);
	return 0;
}

/* ---- delivery ---- */

/* Appends one MSG/HMSG for subscription s to its client's output.
 * Returns false when the client could not take it. */
static bool
deliver(struct csub *s, const struct proto_msg *m)
{
	struct client *c = s->c;
	struct proto_msg out = *m;

	if (s->lease != NULL)
		return dgram_deliver(s, m);
	if (s->dead || c->closing)
		return false;
	/* a wildcard subscription overlapping a deny entry */
	if (c->perm != NULL && c->perm->sub_deny.n > 0 &&
	    !perm_deliver_ok(c->perm, m->subject.ptr, m->subject.len,
	    s->ss.queue, s->ss.queue_len))
		return false;
	if (m->reply.ptr != NULL && c->perm != NULL && c->perm->responses &&
	    perm_resp_add(c->perm, &c->resps, m->reply.ptr, m->reply.len,
	    coro_now()) != 0)
		return false;
	out.sid.ptr = csub_sid(s);
	out.sid.len = s->sid_len;
	if (!client_put_msg(c, &out))
		return false;
	c->stats.out_msgs++;
	c->stats.out_bytes += m->payload.len + m->hdr.len;
	if (s->max != 0 && ++s->delivered >= s->max)
		csub_remove(c->srv, s);
	else if (s->max == 0)
		s->delivered++;
	server_mark_dirty(c->srv, c);
	return true;
}

/* Can ss still take deliveries?  A lease's subscription (c NULL) can
 * while it is in the index. */
static bool
usable(const struct sublist_sub *ss)
{
	const struct csub *s = (const struct csub *)ss;

	return sublist_sub_inserted(ss) && (s->c == NULL || !s->c->closing);
}

/* May ss's client have m?  A wildcard queue subscription can overlap a
 * subject its user may not receive; the group then picks another
 * member rather than losing the message. */
static bool
takes(const struct sublist_sub *ss, const struct proto_msg *m)
{
	const struct csub *s = (const struct csub *)ss;
	const struct perm *perm = s->c != NULL ? s->c->perm : NULL;

	return perm == NULL || perm->sub_deny.n == 0 ||
	    perm_deliver_ok(perm, m->subject.ptr, m->subject.len,
	    ss->queue, ss->queue_len);
}

/* Is ss a peer server's interest (owned by a route)? */
static inline bool
remote(const struct sublist_sub *ss)
{
	const struct csub *s = (const struct csub *)ss;

	return s->c != NULL && s->c->route != NULL;
}

/*
 * One member of g for a message: a local member when there is one (at
 * random), else a route's entry picked by weight, so that each server
 * gets its share of the members in the whole cluster (§3.5).  Local
 * first keeps the message off the network when it can be served here,
 * as nats-server does.  only_local: for a message from a route (the
 * one-hop rule).
 */
static struct sublist_sub *
pick_member(struct server *srv, const struct sublist_group *g,
    const struct client *skip, const struct proto_msg *m, bool only_local)
{
	struct sublist_sub *ss;
	uint64_t total = 0;
	uint32_t pick;
	size_t i, start, n = g->nmembers;

	start = server_random(srv) % n;
	for (i = 0; i < n; i++) {
		ss = g->members[(start + i) % n];
		if (!remote(ss) && ss->owner != skip && usable(ss) &&
		    takes(ss, m))
			return ss;
	}
	if (only_local)
		return NULL;
	for (i = 0; i < n; i++)
		if (remote(g->members[i]) && usable(g->members[i]))
			total += g->members[i]->weight;
	if (total == 0)
		return NULL;
	pick = (uint32_t)(server_random(srv) % total);
	for (i = 0; i < n; i++) {
		ss = g->members[i];
		if (!remote(ss) || !usable(ss))
			continue;
		if (pick < ss->weight)
			return ss;
		pick -= ss->weight;
	}
	return NULL;
}

/*
 * The routes a message goes to: one RMSG per route however many of its
 * subscriptions match, naming the queue groups picked there.  Inline
 * room for the usual cluster; bigger ones spill to the heap.
 */
#define TARGETS_INLINE	16

struct target_queue {
	size_t			 route;		/* index in rc[] */
	struct proto_str	 queue;
};

struct targets {
	struct client		**rc;
	size_t			 nrc, caprc;
	struct target_queue	*q;
	size_t			 nq, capq;
	struct client		*rc_inline[TARGETS_INLINE];
	struct target_queue	 q_inline[TARGETS_INLINE];
};

static void
targets_init(struct targets *t)
{
	t->rc = t->rc_inline;
	t->caprc = TARGETS_INLINE;
	t->q = t->q_inline;
	t->capq = TARGETS_INLINE;
	t->nrc = t->nq = 0;
}

static void
targets_fini(struct targets *t)
{
	if (t->rc != t->rc_inline)
		free(t->rc);
	if (t->q != t->q_inline)
		free(t->q);
}

/* Grows an inline-or-heap array to hold one more element. */
static int
grow(void **arr, size_t *cap, size_t n, size_t size, void *inline_arr)
{
	void *p;

	if (n < *cap)
		return 0;
	if ((p = malloc(*cap * 2 * size)) == NULL)
		return -ENOMEM;
	memcpy(p, *arr, n * size);
	if (*arr != inline_arr)
		free(*arr);
	*arr = p;
	*cap *= 2;
	return 0;
}

/* The index of route rc in t, added if new; -1 when out of memory. */
static ssize_t
target_route(struct targets *t, struct client *rc)
{
	size_t i;

	for (i = 0; i < t->nrc; i++)
		if (t->rc[i] == rc)
			return (ssize_t)i;
	if (grow((void **)&t->rc, &t->caprc, t->nrc, sizeof(*t->rc),
	    t->rc_inline) != 0)
		return -1;
	t->rc[t->nrc] = rc;
	return (ssize_t)t->nrc++;
}

static void
target_queue(struct targets *t, struct client *rc, const char *queue,
    size_t len)
{
	ssize_t r = target_route(t, rc);

	if (r < 0 || grow((void **)&t->q, &t->capq, t->nq, sizeof(*t->q),
	    t->q_inline) != 0)
		return;
	t->q[t->nq].route = (size_t)r;
	t->q[t->nq].queue.ptr = queue;
	t->q[t->nq].queue.len = len;
	t->nq++;
}

/* One RMSG per target route: the number sent. */
static int
targets_send(struct targets *t, const struct proto_msg *m)
{
	struct proto_str qinline[TARGETS_INLINE], *qs = qinline;
	size_t i, j, n;
	int sent = 0;

	if (t->nq > TARGETS_INLINE &&
	    (qs = malloc(t->nq * sizeof(*qs))) == NULL)
		return 0;
	for (i = 0; i < t->nrc; i++) {
		for (j = n = 0; j < t->nq; j++)
			if (t->q[j].route == i)
				qs[n++] = t->q[j].queue;
		sent += route_send_msg(t->rc[i], m, qs, n);
	}
	if (qs != qinline)
		free(qs);
	return sent;
}

/* No responders: the publisher asked for it and has a plain
 * subscription on the reply subject, which gets a 503 status. */
static void
no_responders(struct client *c, const struct proto_msg *m)
{
	static const char hdr[] = "NATS/1.0 503\r\n\r\n";
	struct proto_msg st;
	size_t i;

	for (i = 0; i < c->subs_cap; i++) {
		struct csub *s;

		for (s = c->subs[i]; s != NULL; s = s->hnext) {
			if (s->ss.queue != NULL || !subject_matches(
			    s->ss.subject, s->ss.subject_len, m->reply.ptr,
			    m->reply.len))
				continue;
			memset(&st, 0, sizeof(st));
			st.op = PROTO_OP_HPUB;
			st.subject = m->reply;
			st.hdr.ptr = hdr;
			st.hdr.len = sizeof(hdr) - 1;
			st.payload.ptr = "";
			st.payload.len = 0;
			deliver(s, &st);
			return;
		}
	}
}

/* Is queue (len bytes) one of the names of a routed message's list? */
static bool
queue_named(const struct proto_msg *m, const char *queue, size_t len)
{
	struct proto_str list = m->queues, tok;

	while (proto_next_token(&list, &tok))
		if (tok.len == len && memcmp(tok.ptr, queue, len) == 0)
			return true;
	return false;
}

/*
 * Delivers m: to local subscribers, and, for a message published here
 * (routed false), to the routes with matching interest.  A message from
 * a route (routed true) goes to local subscribers only, and to the
 * queue groups it names (§3.5).
 */
static int
deliver_all(struct server *srv, const struct client *skip,
    const struct proto_msg *m, bool routed)
{
	const struct sublist_result *r;
	struct targets t;
	size_t i;
	int delivered = 0;

	if ((r = sublist_match(srv->sublist, m->subject.ptr,
	    m->subject.len)) == NULL)
		return -ENOMEM;
	srv->delivering++;
	r = sublist_result_ref(r);
	targets_init(&t);
	for (i = 0; i < r->nplain; i++) {
		struct sublist_sub *ss = r->plain[i];

		if (ss->owner == skip)
			continue;
		if (!remote(ss))
			delivered += deliver((struct csub *)ss, m);
		else if (!routed && usable(ss))
			(void)target_route(&t, ((struct csub *)ss)->c);
	}
	for (i = 0; i < r->ngroups; i++) {
		const struct sublist_group *g = &r->groups[i];
		struct sublist_sub *ss;

		if (routed && !queue_named(m, g->queue, g->queue_len))
			continue;
		if ((ss = pick_member(srv, g, skip, m, routed)) == NULL)
			continue;
		if (!remote(ss))
			delivered += deliver((struct csub *)ss, m);
		else
			target_queue(&t, ((struct csub *)ss)->c, g->queue,
			    g->queue_len);
	}
	if (t.nrc > 0)
		delivered += targets_send(&t, m);
	targets_fini(&t);
	sublist_result_unref(r);
	if (--srv->delivering == 0 && srv->graveyard != NULL)
		pubsub_bury(srv);
	return delivered;
}

int
pubsub_deliver(struct server *srv, const struct client *skip,
    const struct proto_msg *m)
{
	return deliver_all(srv, skip, m, false);
}

int
pubsub_deliver_routed(struct server *srv, const struct proto_msg *m)
{
	return deliver_all(srv, NULL, m, true);
}

/* ---- a route's remote interest ---- */

/* "subject" or "subject queue": the key of RS+ and RS- (§3.3), in buf
 * when it fits, else in a malloc'd block (*heap, freed by the caller);
 * NULL when out of memory. */
static char *
remote_key(const struct proto_sub *ps, char *buf, size_t size,
    size_t *len, char **heap)
{
	bool queue = ps->queue.ptr != NULL && ps->queue.len > 0;
	size_t n = ps->subject.len + (queue ? 1 + ps->queue.len : 0);
	char *key = buf;

	*heap = NULL;
	if (n > size && (key = *heap = malloc(n)) == NULL)
		return NULL;
	memcpy(key, ps->subject.ptr, ps->subject.len);
	if (queue) {
		key[ps->subject.len] = ' ';
		memcpy(key + ps->subject.len + 1, ps->queue.ptr, ps->queue.len);
	}
	*len = n;
	return key;
}

int
pubsub_remote_sub(struct client *rc, const struct proto_sub *ps)
{
	char buf[REMOTE_KEY_STACK], *heap;
	struct proto_str sid;
	struct csub **pp;
	bool queue = ps->queue.ptr != NULL && ps->queue.len > 0;
	uint32_t weight = queue && ps->weight > 0 ? ps->weight : 1;
	int err = 0;

	if (!subject_valid_sub(ps->subject.ptr, ps->subject.len))
		return 0;	/* not a subject we can hold: ignored */
	if ((sid.ptr = remote_key(ps, buf, sizeof(buf), &sid.len,
	    &heap)) == NULL)
		return -ENOMEM;
	pp = sid_slot(rc, sid.ptr, sid.len);
	if (pp != NULL && *pp != NULL) {
		/* a queue's new member count; a plain one again: no-op */
		if (queue)
			sublist_set_weight(rc->srv->sublist, &(*pp)->ss,
			    weight);
	} else if ((err = csub_add(rc, ps->subject, queue ? ps->queue :
	    (struct proto_str){ NULL, 0 }, sid, weight)) == -EINVAL)
		err = 0;
	free(heap);
	return err;
}

void
pubsub_remote_unsub(struct client *rc, const struct proto_sub *ps)
{
	char buf[REMOTE_KEY_STACK], *heap, *key;
	struct csub **pp;
	size_t n;

	if ((key = remote_key(ps, buf, sizeof(buf), &n, &heap)) == NULL)
		return;
	pp = sid_slot(rc, key, n);
	if (pp != NULL && *pp != NULL)
		csub_remove(rc->srv, *pp);
	free(heap);
}

int
pubsub_pub(struct client *c, const struct proto_msg *m)
{
	const struct client *skip = c->echo ? NULL : c;
	int delivered;

	c->stats.in_msgs++;
	c->stats.in_bytes += m->payload.len + m->hdr.len;
	if (c->perm != NULL && !(c->pcache != NULL ?
	    perm_pub_cached(c->perm, c->pcache, m->subject.ptr,
	    m->subject.len) : perm_pub_ok(c->perm, m->subject.ptr,
	    m->subject.len)) && !perm_resp_take(&c->resps, m->subject.ptr,
	    m->subject.len, coro_now())) {
		perm_violation(c, PROTO_EPERMPUB, m->subject.ptr,
		    m->subject.len, NULL, 0);
		return 0;	/* dropped; the connection stays */
	}
	if (c->pedantic && !subject_valid_pub(m->subject.ptr, m->subject.len))
		client_send_err(c, PROTO_EPUBSUBJECT);	/* still routed */
	if (c->verbose)
		client_put_ok(c);
	if ((delivered = pubsub_deliver(c->srv, skip, m)) < 0)
		return delivered;
	if (delivered == 0 && m->reply.ptr != NULL && c->no_responders)
		no_responders(c, m);
	return 0;
}
