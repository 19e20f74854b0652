/*
 * perm.c: permissions as nats-server has them (protocol doc §2.11).
 *
 * Entries are few per user, so a list walked with subject_matches (publish,
 * delivery) and subject_pattern_covers (subscribe) does the job of
 * nats-server's per-user sublist; the per-connection cache spares the
 * walk for the subjects a publisher keeps using.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "perm.h"
#include "subject.h"

/* ---- compiling ---- */

static void
list_free(struct perm_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].subject);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* "subject" or, when queues is true, "subject queue". */
static int
list_compile(struct perm_list *l, char **src, size_t n, bool queues,
    const char *what, char *err, size_t errlen)
{
	struct perm_entry *e;
	const char *sp;
	size_t i;

	l->set = n > 0;
	if (n == 0)
		return 0;
	if ((l->v = calloc(n, sizeof(*l->v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		e = &l->v[l->n];
		if ((e->subject = strdup(src[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		l->n++;
		sp = strchr(e->subject, ' ');
		if (sp != NULL && queues) {
			e->subject_len = (size_t)(sp - e->subject);
			e->queue = e->subject + e->subject_len + 1;
			while (*e->queue == ' ')
				e->queue++;
			e->queue_len = strlen(e->queue);
			e->subject[e->subject_len] = '\0';
		} else
			e->subject_len = strlen(e->subject);
		if (!subject_valid_sub(e->subject, e->subject_len) ||
		    (e->queue != NULL && (e->queue_len == 0 ||
		    strchr(e->queue, ' ') != NULL))) {
			snprintf(err, errlen, "%s: invalid entry \"%s\"", what,
			    src[i]);
			return -1;
		}
	}
	return 0;
}

struct perm *
perm_new(const struct conf_perms *p, char *err, size_t errlen)
{
	struct perm *pm;

	if ((pm = calloc(1, sizeof(*pm))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (list_compile(&pm->pub_allow, p->pub_allow, p->npub_allow, false,
	    "publish.allow", err, errlen) == -1 ||
	    list_compile(&pm->pub_deny, p->pub_deny, p->npub_deny, false,
	    "publish.deny", err, errlen) == -1 ||
	    list_compile(&pm->sub_allow, p->sub_allow, p->nsub_allow, true,
	    "subscribe.allow", err, errlen) == -1 ||
	    list_compile(&pm->sub_deny, p->sub_deny, p->nsub_deny, true,
	    "subscribe.deny", err, errlen) == -1) {
		perm_free(pm);
		return NULL;
	}
	pm->responses = p->responses != 0;
	pm->resp_max = p->responses_max > 0 ? p->responses_max : 1;
	pm->resp_expires = p->responses_expires;
	/* responses without a publish allow list: only responses */
	if (pm->responses)
		pm->pub_allow.set = true;
	return pm;
}

void
perm_free(struct perm *pm)
{
	if (pm == NULL)
		return;
	list_free(&pm->pub_allow);
	list_free(&pm->pub_deny);
	list_free(&pm->sub_allow);
	list_free(&pm->sub_deny);
	free(pm);
}

/* ---- checks ---- */

static bool
list_matches(const struct perm_list *l, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (subject_matches(l->v[i].subject, l->v[i].subject_len, s,
		    len))
			return true;
	return false;
}

bool
perm_pub_ok(const struct perm *pm, const char *subject, size_t len)
{
	if (pm == NULL)
		return true;
	if (pm->pub_allow.set && !list_matches(&pm->pub_allow, subject, len))
		return false;
	return !list_matches(&pm->pub_deny, subject, len);
}

/* Does entry e's queue part fit the subscription's queue? */
static bool
queue_fits(const struct perm_entry *e, const char *queue, size_t qlen)
{
	if (e->queue == NULL)
		return true;		/* plain or any queue */
	if (queue == NULL)
		return false;		/* a queue entry: no plain sub */
	return subject_matches(e->queue, e->queue_len, queue, qlen);
}

bool
perm_sub_ok(const struct perm *pm, const char *subject, size_t len,
    const char *queue, size_t qlen)
{
	const struct perm_entry *e;
	size_t i;
	bool ok;

	if (pm == NULL)
		return true;
	if (pm->sub_allow.set) {
		ok = false;
		for (i = 0; i < pm->sub_allow.n && !ok; i++) {
			e = &pm->sub_allow.v[i];
			ok = queue_fits(e, queue, qlen) &&
			    subject_pattern_covers(e->subject, e->subject_len,
			    subject, len);
		}
		if (!ok)
			return false;
	}
	for (i = 0; i < pm->sub_deny.n; i++) {
		e = &pm->sub_deny.v[i];
		if (queue_fits(e, queue, qlen) && subject_pattern_covers(
		    e->subject, e->subject_len, subject, len))
			return false;
	}
	return true;
}

bool
perm_deliver_ok(const struct perm *pm, const char *subject, size_t len,
    const char *queue, size_t qlen)
{
	const struct perm_entry *e;
	size_t i;

	if (pm == NULL)
		return true;
	for (i = 0; i < pm->sub_deny.n; i++) {
		e = &pm->sub_deny.v[i];
		if (queue_fits(e, queue, qlen) && subject_matches(e->subject,
		    e->subject_len, subject, len))
			return false;
	}
	return true;
}

/* ---- the publish cache ---- */

static size_t
cache_slot(const char *s, size_t len)
{
	return hash_fnv(HASH_FNV_INIT, s, len) % PERM_CACHE_SIZE;
}

bool
perm_pub_cached(const struct perm *pm, struct perm_cache *c,
    const char *subject, size_t len)
{
	size_t i;
	bool ok;

	if (pm == NULL)
		return true;
	if (len == 0 || len > PERM_CACHE_SUBJECT)
		return perm_pub_ok(pm, subject, len);
	i = cache_slot(subject, len);
	if (c->e[i].len == len && memcmp(c->e[i].subject, subject, len) == 0)
		return c->e[i].ok;
	ok = perm_pub_ok(pm, subject, len);
	c->e[i].len = (uint8_t)len;
	c->e[i].ok = ok;
	memcpy(c->e[i].subject, subject, len);
	return ok;
}

void
perm_cache_clear(struct perm_cache *c)
{
	memset(c, 0, sizeof(*c));
}

/* ---- responses ---- */

static void
resp_remove(struct perm_resps *r, size_t i)
{
	free(r->v[i].subject);
	r->v[i] = r->v[--r->n];
}

int
perm_resp_add(const struct perm *pm, struct perm_resps *r,
    const char *reply, size_t len, int64_t now)
{
	struct perm_resp *nv;
	size_t i;
	char *s;

	if (pm == NULL || !pm->responses || len == 0)
		return 0;
	for (i = 0; i < r->n; i++) {
		if (r->v[i].expires <= now) {
			resp_remove(r, i--);
			continue;
		}
		if (r->v[i].len == len && memcmp(r->v[i].subject, reply,
		    len) == 0) {
			r->v[i].left = pm->resp_max;
			r->v[i].expires = now + pm->resp_expires;
			return 0;
		}
	}
	if (r->n >= PERM_RESP_MAX) {
		/* the oldest is the one expiring first */
		size_t old = 0;

		for (i = 1; i < r->n; i++)
			if (r->v[i].expires < r->v[old].expires)
				old = i;
		resp_remove(r, old);
	}
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 8;

		if ((nv = realloc(r->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		r->v = nv;
		r->cap = ncap;
	}
	if ((s = malloc(len + 1)) == NULL)
		return -1;
	memcpy(s, reply, len);
	s[len] = '\0';
	r->v[r->n].subject = s;
	r->v[r->n].len = len;
	r->v[r->n].left = pm->resp_max;
	r->v[r->n].expires = now + (pm->resp_expires > 0 ?
	    pm->resp_expires : INT64_MAX / 4);
	r->n++;
	return 0;
}

bool
perm_resp_take(struct perm_resps *r, const char *subject, size_t len,
    int64_t now)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (r->v[i].len != len || memcmp(r->v[i].subject, subject,
		    len) != 0)
			continue;
		if (r->v[i].expires <= now) {
			resp_remove(r, i);
			return false;
		}
		if (--r->v[i].left == 0)
			resp_remove(r, i);
		return true;
	}
	return false;
}

void
perm_resps_free(struct perm_resps *r)
{
	while (r->n > 0)
		resp_remove(r, r->n - 1);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
