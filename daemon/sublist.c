/*
 * sublist.c: the subject index, a token trie with a result cache.
 *
 * Each trie node stands for one token position of some subscription
 * subjects.  Its children are a hash table of literal tokens plus two
 * slots, '*' (pwc) and '>' (fwc); the subscriptions whose subject ends at
 * a node hang off it, plain ones in a list and queue ones in groups keyed
 * by queue name.  A match walks the literal and '*' branches token by
 * token (iteratively: daemon tasks run on 64 KiB stacks and a subject may
 * have thousands of tokens) and takes every '>' met on the way.
 *
 * Results are built into one refcounted block and cached by published
 * subject.  A literal subscription can only change the result of its own
 * subject, so inserting or removing one drops that one cache entry; a
 * wildcard one bumps a generation that makes every cached entry stale
 * (recomputed on its next lookup).  The last result handed out keeps a
 * reference, so it outlives any insert or remove done while delivering it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "subject.h"
#include "sublist.h"

/*
 * Key of a hash table entry.  It is the first member of every struct kept
 * in a table (nodes, queue groups, cached results), so a table slot can be
 * cast back to its owner.
 */
struct sl_key {
	const char	*key;		/* the owner's own copy */
	size_t		 len;
	uint32_t	 hash;		/* sl_hash(key, len) */
};

/*
 * Open addressing with linear probing and backward-shift deletion, so no
 * tombstones: a lookup stops at the first empty slot.
 */
struct sl_tab {
	struct sl_key	**slots;	/* NULL iff cap == 0 */
	uint32_t	  cap;		/* 0 or a power of two */
	uint32_t	  n;		/* 4 * n <= 3 * cap */
};

struct sublist_node {
	struct sl_key		 tok;	/* first: the key in parent's kids
					 * (literal children only) */
	struct sublist_node	*parent;	/* NULL only for the root */
	struct sl_tab		 kids;	/* literal token -> child */
	struct sublist_node	*pwc;	/* '*' child */
	struct sublist_node	*fwc;	/* '>' child; never has children */
	struct sublist_sub	*plain;	/* plain subs ending here */
	size_t			 nplain;	/* length of that list */
	struct sl_tab		 queues;	/* queue name -> qgroup */
	char			 name[];	/* the token, NUL-terminated */
};

/* The queue subs with one queue name ending at one node. */
struct sublist_qgroup {
	struct sl_key		 qname;	/* first: key in node's queues */
	struct sublist_sub	*members;	/* never empty while linked */
	size_t			 nmembers;
	uint64_t		 weight;	/* sum of members' weights */
	char			 name[];
};

/*
 * A match result: this header, then in the same allocation the arrays the
 * public struct points to, the queue names and the subject (the key).
 * Nothing in it points into the trie or a subscription's strings, so it
 * stays readable whatever happens to the index.
 */
struct sl_result {
	struct sl_key		 subj;	/* first: key in the cache */
	uint64_t		 gen;	/* sl->wild_gen when built */
	uint32_t		 refs;	/* cache + current + callers */
	struct sublist_result	 pub;
};

/* A pending branch of the match walk: node, and the subject left. */
struct sl_frame {
	struct sublist_node	*node;
	const char		*s;	/* >= 1 non-empty token */
	size_t			 len;
};

struct sublist {
	struct sublist_node	*root;	/* lives as long as the index */
	size_t			 count;	/* inserted subscriptions */
	uint32_t		 seed;	/* hash seed, per index */
	uint64_t		 rng;	/* xorshift state, never 0 */

	struct sl_tab		 cache;	/* subject -> sl_result */
	size_t			 cache_max;	/* cache.n <= cache_max */
	/* Bumped by each wildcard change: older cached results are stale. */
	uint64_t		 wild_gen;
	/* The last result returned, holding one reference; or NULL. */
	struct sl_result	*current;

	/* Scratch reused by every match, grown on demand. */
	struct sl_frame		*stack;
	size_t			 stack_cap;
	struct sublist_node	**hits;	/* nodes with subs that match */
	size_t			 hits_cap;
	struct sublist_qgroup	**qhits;	/* their queue groups */
	size_t			 qhits_cap;

	uint64_t		 matches, cache_hits, inserts, removes;
};

/* The result of a subject with an empty token: never freed nor cached. */
static struct sl_result sl_empty;

/* The public part is handed out const; its owner is not. */
#define SL_RESULT(p)	\
	((struct sl_result *)((uintptr_t)(p) - offsetof(struct sl_result, pub)))

static uint32_t
sl_hash(uint32_t seed, const char *p, size_t len)
{
	uint64_t h, w;

	/* 8 bytes per multiply; strong enough for tokens and subjects. */
	h = (seed | (uint64_t)seed << 32) ^ (len * 0x9e3779b97f4a7c15ULL);
	while (len >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

static uint64_t
sl_random(struct sublist *sl)
{
	sl->rng ^= sl->rng << 13;
	sl->rng ^= sl->rng >> 7;
	sl->rng ^= sl->rng << 17;
	return sl->rng;
}

/*
 * Makes sure arr (of *cap elements) can hold need: returns arr, perhaps
 * moved, and updates *cap; NULL on ENOMEM, arr untouched.
 */
static void *
sl_reserve(void *arr, size_t *cap, size_t need, size_t elsize)
{
	void *p;
	size_t ncap;

	if (need <= *cap)
		return arr;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / elsize || (p = realloc(arr, ncap * elsize)) ==
	    NULL)
		return NULL;
	*cap = ncap;
	return p;
}

static struct sl_key *
sl_tab_find(const struct sl_tab *t, const char *k, size_t len, uint32_t h)
{
	struct sl_key *e;
	uint32_t i, mask;

	if (t->cap == 0)
		return NULL;
	mask = t->cap - 1;
	for (i = h & mask; (e = t->slots[i]) != NULL; i = (i + 1) & mask)
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, k, len) == 0)
			return e;
	return NULL;
}

/* Slot index of an entry known to be in t. */
static uint32_t
sl_tab_slot(const struct sl_tab *t, const struct sl_key *e)
{
	uint32_t i, mask = t->cap - 1;

	for (i = e->hash & mask; t->slots[i] != e; i = (i + 1) & mask)
		;
	return i;
}

static int
sl_tab_resize(struct sl_tab *t, uint32_t cap)
{
	struct sl_key **slots, *e;
	uint32_t i, j;

	if ((slots = calloc(cap, sizeof(*slots))) == NULL)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if ((e = t->slots[i]) == NULL)
			continue;
		for (j = e->hash & (cap - 1); slots[j] != NULL;
		    j = (j + 1) & (cap - 1))
			;
		slots[j] = e;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Adds e, whose key must not be in t yet.  0 or -ENOMEM. */
static int
sl_tab_add(struct sl_tab *t, struct sl_key *e)
{
	uint32_t i, mask;

	if (4 * ((uint64_t)t->n + 1) > 3 * (uint64_t)t->cap) {
		if (t->cap >= UINT32_MAX / 2 + 1)
			return -ENOMEM;
		if (sl_tab_resize(t, t->cap ? 2 * t->cap : 4) != 0)
			return -ENOMEM;
	}
	mask = t->cap - 1;
	for (i = e->hash & mask; t->slots[i] != NULL; i = (i + 1) & mask)
		;
	t->slots[i] = e;
	t->n++;
	return 0;
}

/* Removes the entry in slot i; entries after it move back if they may. */
static void
sl_tab_del_slot(struct sl_tab *t, uint32_t i)
{
	struct sl_key *f;
	uint32_t j, k, mask = t->cap - 1;

	for (;;) {
		t->slots[i] = NULL;
		for (j = i;;) {
			j = (j + 1) & mask;
			if ((f = t->slots[j]) == NULL)
				goto done;
			k = f->hash & mask;
			/* f stays unless its home k lies outside (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->slots[i] = f;
		i = j;
	}
 done:
	if (--t->n == 0) {
		free(t->slots);
		t->slots = NULL;
		t->cap = 0;
	} else if (t->cap > 16 && 8 * t->n < t->cap)
		(void)sl_tab_resize(t, t->cap / 2);	/* or stay big */
}

static void
sl_tab_del(struct sl_tab *t, struct sl_key *e)
{
	sl_tab_del_slot(t, sl_tab_slot(t, e));
}

static void
sl_result_free(struct sl_result *r)
{
	if (r != &sl_empty && --r->refs == 0)
		free(r);
}

static void
sl_cache_clear(struct sublist *sl)
{
	uint32_t i;

	for (i = 0; i < sl->cache.cap; i++)
		if (sl->cache.slots[i] != NULL)
			sl_result_free((struct sl_result *)sl->cache.slots[i]);
	free(sl->cache.slots);
	memset(&sl->cache, 0, sizeof(sl->cache));
}

/* Drops the cached result of one published subject, if any. */
static void
sl_cache_drop(struct sublist *sl, const char *s, size_t len)
{
	struct sl_key *e;

	if (sl->cache.n == 0)
		return;
	if ((e = sl_tab_find(&sl->cache, s, len, sl_hash(sl->seed, s,
	    len))) == NULL)
		return;
	sl_tab_del(&sl->cache, e);
	sl_result_free((struct sl_result *)e);
}

/* Makes room for one more entry by evicting a random one. */
static void
sl_cache_evict(struct sublist *sl)
{
	uint32_t i, mask = sl->cache.cap - 1;

	for (i = sl_random(sl) & mask; sl->cache.slots[i] == NULL;
	    i = (i + 1) & mask)
		;
	sl_result_free((struct sl_result *)sl->cache.slots[i]);
	sl_tab_del_slot(&sl->cache, i);
}

/*
 * Keeps the cache from answering with a result that sub's insertion or
 * removal changed.
 */
static void
sl_invalidate(struct sublist *sl, const struct sublist_sub *sub)
{
	if (subject_is_literal(sub->subject, sub->subject_len))
		sl_cache_drop(sl, sub->subject, sub->subject_len);
	else
		sl->wild_gen++;
}

static struct sublist_node *
sl_node_new(struct sublist_node *parent, const char *tok, size_t len,
    uint32_t h)
{
	struct sublist_node *n;

	if ((n = calloc(1, sizeof(*n) + len + 1)) == NULL)
		return NULL;
	memcpy(n->name, tok, len);
	n->tok.key = n->name;
	n->tok.len = len;
	n->tok.hash = h;
	n->parent = parent;
	return n;
}

static bool
sl_node_empty(const struct sublist_node *n)
{
	return n->nplain == 0 && n->queues.n == 0 && n->kids.n == 0 &&
	    n->pwc == NULL && n->fwc == NULL;
}

/* Frees n and each ancestor left without subs or children. */
static void
sl_node_prune(struct sublist *sl, struct sublist_node *n)
{
	struct sublist_node *parent;

	while (n != sl->root && sl_node_empty(n)) {
		parent = n->parent;
		if (parent->pwc == n)
			parent->pwc = NULL;
		else if (parent->fwc == n)
			parent->fwc = NULL;
		else
			sl_tab_del(&parent->kids, &n->tok);
		free(n->kids.slots);
		free(n->queues.slots);
		free(n);
		n = parent;
	}
}

/* Child of n for token tok, created if missing; NULL on ENOMEM. */
static struct sublist_node *
sl_node_child(struct sublist *sl, struct sublist_node *n, const char *tok,
    size_t len)
{
	struct sublist_node *c, **slot = NULL;
	uint32_t h;

	if (len == 1 && tok[0] == '*')
		slot = &n->pwc;
	else if (len == 1 && tok[0] == '>')
		slot = &n->fwc;
	if (slot != NULL) {
		if (*slot == NULL)
			*slot = sl_node_new(n, tok, len, 0);
		return *slot;
	}
	h = sl_hash(sl->seed, tok, len);
	c = (struct sublist_node *)sl_tab_find(&n->kids, tok, len, h);
	if (c != NULL)
		return c;
	if ((c = sl_node_new(n, tok, len, h)) == NULL)
		return NULL;
	if (sl_tab_add(&n->kids, &c->tok) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void
sl_list_add(struct sublist_sub **head, struct sublist_sub *sub)
{
	sub->sl_prev = NULL;
	sub->sl_next = *head;
	if (*head != NULL)
		(*head)->sl_prev = sub;
	*head = sub;
}

static void
sl_list_del(struct sublist_sub **head, struct sublist_sub *sub)
{
	if (sub->sl_prev != NULL)
		sub->sl_prev->sl_next = sub->sl_next;
	else
		*head = sub->sl_next;
	if (sub->sl_next != NULL)
		sub->sl_next->sl_prev = sub->sl_prev;
}

static void
sl_sub_clear(struct sublist_sub *sub)
{
	sub->sl_node = NULL;
	sub->sl_group = NULL;
	sub->sl_next = sub->sl_prev = NULL;
}

struct sublist *
sublist_new(void)
{
	struct sublist *sl;
	uint64_t x;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	if ((sl->root = sl_node_new(NULL, "", 0, 0)) == NULL) {
		free(sl);
		return NULL;
	}
	/*
	 * Per-index seed, from addresses (ASLR) only: this file does no
	 * I/O.  It makes colliding tokens harder to choose in advance.
	 */
	x = (uint64_t)(uintptr_t)sl ^ ((uint64_t)(uintptr_t)&x << 17) ^
	    0x2545f4914f6cdd1dULL;
	sl->rng = x ? x : 1;
	sl->seed = (uint32_t)(sl_random(sl) >> 16);
	sl->cache_max = SUBLIST_CACHE_MAX;
	return sl;
}

void
sublist_free(struct sublist *sl)
{
	struct sublist_node *n, *c, *parent;
	struct sublist_qgroup *g;
	struct sublist_sub *sub, *next;
	uint32_t i;

	if (sl == NULL)
		return;
	if (sl->current != NULL)
		sl_result_free(sl->current);
	sl_cache_clear(sl);

	/*
	 * Depth-first without recursion: detach a child and go down, free a
	 * node once it has none left.  kids.cap counts down as the cursor.
	 */
	n = sl->root;
	while (n != NULL) {
		c = NULL;
		if (n->pwc != NULL) {
			c = n->pwc;
			n->pwc = NULL;
		} else if (n->fwc != NULL) {
			c = n->fwc;
			n->fwc = NULL;
		} else {
			while (c == NULL && n->kids.cap > 0)
				c = (struct sublist_node *)
				    n->kids.slots[--n->kids.cap];
		}
		if (c != NULL) {
			n = c;
			continue;
		}
		for (sub = n->plain; sub != NULL; sub = next) {
			next = sub->sl_next;
			sl_sub_clear(sub);
		}
		for (i = 0; i < n->queues.cap; i++) {
			if ((g = (struct sublist_qgroup *)n->queues.slots[i]) ==
			    NULL)
				continue;
			for (sub = g->members; sub != NULL; sub = next) {
				next = sub->sl_next;
				sl_sub_clear(sub);
			}
			free(g);
		}
		parent = n->parent;
		free(n->kids.slots);
		free(n->queues.slots);
		free(n);
		n = parent;
	}
	free(sl->stack);
	free(sl->hits);
	free(sl->qhits);
	free(sl);
}

void
sublist_set_cache_max(struct sublist *sl, size_t max)
{
	if (max < sl->cache.n)
		sl_cache_clear(sl);
	sl->cache_max = max;
}

int
sublist_insert(struct sublist *sl, struct sublist_sub *sub)
{
	struct sublist_node *n, *c;
	struct sublist_qgroup *g = NULL;
	const char *s = sub->subject;
	size_t len = sub->subject_len, tn;
	uint32_t h;

	if (sub->sl_node != NULL)
		return -EEXIST;
	if (s == NULL || !subject_valid_sub(s, len))
		return -EINVAL;
	if (sub->queue_len > 0 && sub->queue != NULL && sub->weight == 0)
		return -EINVAL;

	for (n = sl->root;; n = c) {
		tn = subject_token_len(s, len);
		if ((c = sl_node_child(sl, n, s, tn)) == NULL)
			goto fail;
		if (tn == len)
			break;
		s += tn + 1;
		len -= tn + 1;
	}
	n = c;

	if (sub->queue_len == 0 || sub->queue == NULL) {
		sl_list_add(&n->plain, sub);
		n->nplain++;
	} else {
		h = sl_hash(sl->seed, sub->queue, sub->queue_len);
		g = (struct sublist_qgroup *)sl_tab_find(&n->queues,
		    sub->queue, sub->queue_len, h);
		if (g == NULL) {
			if ((g = calloc(1, sizeof(*g) + sub->queue_len + 1)) ==
			    NULL)
				goto fail;
			memcpy(g->name, sub->queue, sub->queue_len);
			g->qname.key = g->name;
			g->qname.len = sub->queue_len;
			g->qname.hash = h;
			if (sl_tab_add(&n->queues, &g->qname) != 0) {
				free(g);
				goto fail;
			}
		}
		sl_list_add(&g->members, sub);
		g->nmembers++;
		g->weight += sub->weight;
	}
	sub->sl_node = n;
	sub->sl_group = g;
	sl->count++;
	sl->inserts++;
	sl_invalidate(sl, sub);
	return 0;
 fail:
	sl_node_prune(sl, n);		/* the nodes made for nothing */
	return -ENOMEM;
}

int
sublist_remove(struct sublist *sl, struct sublist_sub *sub)
{
	struct sublist_node *n = sub->sl_node;
	struct sublist_qgroup *g = sub->sl_group;

	if (n == NULL)
		return -ENOENT;
	if (g != NULL) {
		sl_list_del(&g->members, sub);
		g->weight -= sub->weight;
		if (--g->nmembers == 0) {
			sl_tab_del(&n->queues, &g->qname);
			free(g);
		}
	} else {
		sl_list_del(&n->plain, sub);
		n->nplain--;
	}
	sl_sub_clear(sub);
	sl_node_prune(sl, n);
	sl->count--;
	sl->removes++;
	sl_invalidate(sl, sub);
	return 0;
}

int
sublist_set_weight(struct sublist *sl, struct sublist_sub *sub,
    uint32_t weight)
{
	if (sub->sl_node == NULL)
		return -ENOENT;
	if (weight == 0)
		return -EINVAL;
	if (sub->sl_group != NULL) {
		sub->sl_group->weight -= sub->weight;
		sub->sl_group->weight += weight;
		sl_invalidate(sl, sub);
	}
	sub->weight = weight;
	return 0;
}

bool
sublist_sub_inserted(const struct sublist_sub *sub)
{
	return sub->sl_node != NULL;
}

static int
sl_hit(struct sublist *sl, size_t *nhits, struct sublist_node *n)
{
	void *p;

	if (n->nplain == 0 && n->queues.n == 0)
		return 0;
	if ((p = sl_reserve(sl->hits, &sl->hits_cap, *nhits + 1,
	    sizeof(*sl->hits))) == NULL)
		return -ENOMEM;
	sl->hits = p;
	sl->hits[(*nhits)++] = n;
	return 0;
}

/*
 * Collects in sl->hits the nodes whose subs match s (no empty token).
 * Each node is reached at most once: a node is one pattern, and a pattern
 * either matches or not.  Returns the count or -ENOMEM.
 */
static ssize_t
sl_walk(struct sublist *sl, const char *s, size_t len)
{
	struct sublist_node *n, *c;
	size_t nhits = 0, nf = 0, tn;
	bool last;
	void *p;

	if ((p = sl_reserve(sl->stack, &sl->stack_cap, 1,
	    sizeof(*sl->stack))) == NULL)
		return -ENOMEM;
	sl->stack = p;
	sl->stack[nf++] = (struct sl_frame){ sl->root, s, len };
	while (nf > 0) {
		nf--;
		n = sl->stack[nf].node;
		s = sl->stack[nf].s;
		len = sl->stack[nf].len;
		for (;;) {
			tn = subject_token_len(s, len);
			last = tn == len;
			if (n->fwc != NULL && sl_hit(sl, &nhits, n->fwc) != 0)
				return -ENOMEM;
			if (n->pwc != NULL) {
				if (last) {
					if (sl_hit(sl, &nhits, n->pwc) != 0)
						return -ENOMEM;
				} else {
					if ((p = sl_reserve(sl->stack,
					    &sl->stack_cap, nf + 1,
					    sizeof(*sl->stack))) == NULL)
						return -ENOMEM;
					sl->stack = p;
					sl->stack[nf++] = (struct sl_frame){
					    n->pwc, s + tn + 1, len - tn - 1 };
				}
			}
			if (n->kids.n == 0 ||
			    (c = (struct sublist_node *)sl_tab_find(&n->kids,
			    s, tn, sl_hash(sl->seed, s, tn))) == NULL)
				break;
			if (last) {
				if (sl_hit(sl, &nhits, c) != 0)
					return -ENOMEM;
				break;
			}
			n = c;
			s += tn + 1;
			len -= tn + 1;
		}
	}
	return (ssize_t)nhits;
}

static int
sl_qgroup_cmp(const void *a, const void *b)
{
	const struct sublist_qgroup *x = *(struct sublist_qgroup *const *)a;
	const struct sublist_qgroup *y = *(struct sublist_qgroup *const *)b;

	if (x->qname.len != y->qname.len)
		return x->qname.len < y->qname.len ? -1 : 1;
	return memcmp(x->name, y->name, x->qname.len);
}

static bool
sl_qgroup_same(const struct sublist_qgroup *x, const struct sublist_qgroup *y)
{
	return x->qname.len == y->qname.len &&
	    memcmp(x->name, y->name, x->qname.len) == 0;
}

/*
 * Builds the result for s into one allocation, refs 0.  Queue groups of
 * the hit nodes are sorted by name so that groups with one name, coming
 * from different patterns, are adjacent and become one result group.
 */
static struct sl_result *
sl_result_build(struct sublist *sl, const char *s, size_t len, uint32_t h)
{
	struct sl_result *r;
	struct sublist_node *n;
	struct sublist_qgroup *g;
	struct sublist_group *rg;
	struct sublist_sub *sub, **plain, **members;
	uint32_t *cum, i;
	uint64_t wsum, acc;
	size_t nhits, nq = 0, nplain = 0, ngroups = 0, nmembers = 0;
	size_t ncum = 0, names = 0, size, a, b, k, m;
	ssize_t walked;
	char *p;
	void *q;

	if ((walked = sl_walk(sl, s, len)) < 0)
		return NULL;
	nhits = (size_t)walked;
	for (k = 0; k < nhits; k++) {
		n = sl->hits[k];
		nplain += n->nplain;
		if (n->queues.n == 0)
			continue;
		if ((q = sl_reserve(sl->qhits, &sl->qhits_cap,
		    nq + n->queues.n, sizeof(*sl->qhits))) == NULL)
			return NULL;
		sl->qhits = q;
		for (i = 0; i < n->queues.cap; i++)
			if (n->queues.slots[i] != NULL)
				sl->qhits[nq++] = (struct sublist_qgroup *)
				    n->queues.slots[i];
	}
	if (nq > 1)
		qsort(sl->qhits, nq, sizeof(*sl->qhits), sl_qgroup_cmp);
	for (a = 0; a < nq; a = b) {
		wsum = m = 0;
		for (b = a; b < nq && sl_qgroup_same(sl->qhits[a],
		    sl->qhits[b]); b++) {
			m += sl->qhits[b]->nmembers;
			wsum += sl->qhits[b]->weight;
		}
		ngroups++;
		nmembers += m;
		names += sl->qhits[a]->qname.len + 1;
		if (wsum != m)
			ncum += m;
	}

	size = sizeof(*r) + (nplain + nmembers) * sizeof(*plain) +
	    ngroups * sizeof(*rg) + ncum * sizeof(*cum) + names + len + 1;
	if ((r = malloc(size)) == NULL)
		return NULL;
	plain = (struct sublist_sub **)(r + 1);
	rg = (struct sublist_group *)(plain + nplain);
	members = (struct sublist_sub **)(rg + ngroups);
	cum = (uint32_t *)(members + nmembers);
	p = (char *)(cum + ncum);

	r->refs = 0;
	r->gen = sl->wild_gen;
	r->pub.plain = plain;
	r->pub.nplain = nplain;
	r->pub.groups = rg;
	r->pub.ngroups = ngroups;
	for (k = 0; k < nhits; k++)
		for (sub = sl->hits[k]->plain; sub != NULL; sub = sub->sl_next)
			*plain++ = sub;

	for (a = 0; a < nq; a = b, rg++) {
		g = sl->qhits[a];
		memcpy(p, g->name, g->qname.len);
		p[g->qname.len] = '\0';
		rg->queue = p;
		rg->queue_len = g->qname.len;
		p += g->qname.len + 1;
		rg->members = members;
		wsum = m = 0;
		for (b = a; b < nq && sl_qgroup_same(g, sl->qhits[b]); b++) {
			for (sub = sl->qhits[b]->members; sub != NULL;
			    sub = sub->sl_next)
				*members++ = sub;
			m += sl->qhits[b]->nmembers;
			wsum += sl->qhits[b]->weight;
		}
		rg->nmembers = m;
		rg->total_weight = wsum > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)wsum;
		rg->cum_weight = NULL;
		if (wsum == m)
			continue;	/* all weights 1: uniform pick */
		rg->cum_weight = cum;
		for (k = 0, acc = 0; k < m; k++) {
			acc += rg->members[k]->weight;
			*cum++ = acc > UINT32_MAX ? UINT32_MAX : (uint32_t)acc;
		}
	}

	memcpy(p, s, len);
	p[len] = '\0';
	r->subj.key = p;
	r->subj.len = len;
	r->subj.hash = h;
	return r;
}

/* Does s have an empty token ("", ".a", "a.", "a..b")? */
static bool
sl_empty_token(const char *s, size_t len)
{
	const char *dot;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return true;
	for (dot = s; (dot = memchr(dot, '.', len - (size_t)(dot - s))) !=
	    NULL; dot++)
		if (dot[1] == '.')
			return true;
	return false;
}

const struct sublist_result *
sublist_match(struct sublist *sl, const char *s, size_t len)
{
	struct sl_result *r = NULL, *old = NULL;
	struct sl_key *e = NULL;
	uint32_t h;

	sl->matches++;
	if (sl_empty_token(s, len)) {
		r = &sl_empty;
		goto done;
	}
	h = sl_hash(sl->seed, s, len);
	if (sl->cache_max > 0 &&
	    (e = sl_tab_find(&sl->cache, s, len, h)) != NULL) {
		old = (struct sl_result *)e;
		if (old->gen == sl->wild_gen) {
			sl->cache_hits++;
			r = old;
			goto done;
		}
	}
	if ((r = sl_result_build(sl, s, len, h)) == NULL)
		return NULL;
	if (old != NULL) {
		/* Stale: the fresh result takes its slot. */
		sl->cache.slots[sl_tab_slot(&sl->cache, e)] = &r->subj;
		r->refs++;
		sl_result_free(old);
	} else if (sl->cache_max > 0) {
		if (sl->cache.n >= sl->cache_max)
			sl_cache_evict(sl);
		if (sl_tab_add(&sl->cache, &r->subj) == 0)
			r->refs++;
	}
 done:
	/* Take the new reference before dropping the old: they may match. */
	if (r != &sl_empty)
		r->refs++;
	if (sl->current != NULL)
		sl_result_free(sl->current);
	sl->current = r;
	return &r->pub;
}

const struct sublist_result *
sublist_result_ref(const struct sublist_result *pub)
{
	struct sl_result *r = SL_RESULT(pub);

	if (r != &sl_empty)
		r->refs++;
	return pub;
}

void
sublist_result_unref(const struct sublist_result *pub)
{
	if (pub != NULL)
		sl_result_free(SL_RESULT(pub));
}

/* Index into g->members of the weighted pick for random. */
static size_t
sl_group_pick_index(const struct sublist_group *g, uint32_t random)
{
	size_t lo, hi, mid;
	uint32_t target;

	if (g->cum_weight == NULL)
		return random % g->nmembers;
	target = random % g->total_weight;
	/* First member whose cumulative weight passes target. */
	for (lo = 0, hi = g->nmembers - 1; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (g->cum_weight[mid] > target)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct sublist_sub *
sublist_group_pick(const struct sublist_group *g, uint32_t random)
{
	if (g->nmembers == 0)
		return NULL;
	return g->members[sl_group_pick_index(g, random)];
}

struct sublist_sub *
sublist_group_pick_skip(const struct sublist_group *g, uint32_t random,
    const void *skip)
{
	size_t i, k;

	if (g->nmembers == 0)
		return NULL;
	i = sl_group_pick_index(g, random);
	for (k = 0; k < g->nmembers; k++) {
		if (g->members[i]->owner != skip)
			return g->members[i];
		if (++i == g->nmembers)
			i = 0;
	}
	return NULL;
}

size_t
sublist_count(const struct sublist *sl)
{
	return sl->count;
}

void
sublist_stats(const struct sublist *sl, struct sublist_stats *st)
{
	st->matches = sl->matches;
	st->cache_hits = sl->cache_hits;
	st->inserts = sl->inserts;
	st->removes = sl->removes;
	st->count = sl->count;
	st->cache_entries = sl->cache.n;
	st->cache_max = sl->cache_max;
}
