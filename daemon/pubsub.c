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
#include "log.h"
#include "subject.h"

/* ---- the sid table of a client ---- */

static uint64_t
sid_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
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

int
pubsub_sub(struct client *c, const struct proto_sub *ps)
{
	struct server *srv = c->srv;
	unsigned max = srv->conf->limits.max_subscriptions;
	struct csub *s, **pp;
	size_t qlen = ps->queue.ptr != NULL ? ps->queue.len : 0;
	char *p;

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
	if (c->nsubs + 1 > c->subs_cap && sid_table_grow(c) != 0)
		return -ENOMEM;
	s = calloc(1, sizeof(*s) + ps->subject.len + 1 + qlen + 1 +
	    ps->sid.len + 1);
	if (s == NULL)
		return -ENOMEM;
	p = s->strings;
	memcpy(p, ps->subject.ptr, ps->subject.len);
	s->ss.subject = p;
	s->ss.subject_len = ps->subject.len;
	p += ps->subject.len + 1;
	if (ps->queue.ptr != NULL) {
		memcpy(p, ps->queue.ptr, qlen);
		s->ss.queue = p;
		s->ss.queue_len = qlen;
		p += qlen + 1;
	}
	memcpy(p, ps->sid.ptr, ps->sid.len);
	s->sid_len = ps->sid.len;
	s->ss.weight = 1;
	s->ss.owner = c;
	s->c = c;
	if (sublist_insert(srv->sublist, &s->ss) != 0) {
		free(s);
		client_send_err(c, PROTO_ESUBJECT);
		return 0;
	}
	pp = sid_slot(c, ps->sid.ptr, ps->sid.len);
	*pp = s;
	c->nsubs++;
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

static struct sublist_sub *
pick_member(struct server *srv, const struct sublist_group *g,
    const struct client *skip)
{
	struct sublist_sub *ss;
	size_t i, start;

	ss = skip != NULL ?
	    sublist_group_pick_skip(g, server_random(srv), skip) :
	    sublist_group_pick(g, server_random(srv));
	if (ss != NULL && usable(ss))
		return ss;
	/* the pick is gone or closing: take the next usable member */
	start = server_random(srv) % g->nmembers;
	for (i = 0; i < g->nmembers; i++) {
		ss = g->members[(start + i) % g->nmembers];
		if (ss->owner != skip && usable(ss))
			return ss;
	}
	return NULL;
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

int
pubsub_deliver(struct server *srv, const struct client *skip,
    const struct proto_msg *m)
{
	const struct sublist_result *r;
	size_t i;
	int delivered = 0;

	if ((r = sublist_match(srv->sublist, m->subject.ptr,
	    m->subject.len)) == NULL)
		return -ENOMEM;
	srv->delivering++;
	r = sublist_result_ref(r);
	for (i = 0; i < r->nplain; i++) {
		struct sublist_sub *ss = r->plain[i];

		if (ss->owner == skip)
			continue;
		delivered += deliver((struct csub *)ss, m);
	}
	for (i = 0; i < r->ngroups; i++) {
		struct sublist_sub *ss = pick_member(srv, &r->groups[i], skip);

		if (ss != NULL)
			delivered += deliver((struct csub *)ss, m);
	}
	sublist_result_unref(r);
	if (--srv->delivering == 0 && srv->graveyard != NULL)
		pubsub_bury(srv);
	return delivered;
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
