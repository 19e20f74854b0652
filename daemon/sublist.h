/*
 * sublist.h: the subject index (nats-server's "sublist").  Maps a published
 * subject to the subscriptions that want it: plain ones, and queue groups
 * grouped by queue name (protocol doc §2.2), local or remote (route
 * entries with a queue weight, §3.3, §3.5).  No I/O; single-threaded: one
 * sublist belongs to one loop.
 */
#ifndef SUBLIST_H
#define SUBLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sublist;
struct sublist_node;
struct sublist_qgroup;

/*
 * One subscription.  The caller embeds it in its own subscription struct
 * and owns the memory; the index only links it in.  Before the first
 * sublist_insert the private fields must be zero (calloc, or a designated
 * initializer); sublist_remove leaves them zero again, so a struct may be
 * inserted again after removal.
 */
struct sublist_sub {
	/* Public: set by the caller before insert, constant while inserted. */
	const char		*subject;	/* a valid SUB subject */
	size_t			 subject_len;
	const char		*queue;		/* NULL or "": plain sub */
	size_t			 queue_len;
	/*
	 * Queue weight, >= 1 for queue subs (unused for plain ones): 1 for a
	 * local sub, the member count of the RS+ for a route's entry.  Change
	 * it only through sublist_set_weight while inserted.
	 */
	uint32_t		 weight;
	void			*owner;		/* connection or route */

	/* Private to sublist.c. */
	struct sublist_node	*sl_node;	/* NULL iff not inserted */
	struct sublist_qgroup	*sl_group;	/* NULL for plain subs */
	struct sublist_sub	*sl_next;	/* node's (or group's) list */
	struct sublist_sub	*sl_prev;
};

/*
 * A queue group in a match result: every matching subscription with that
 * queue name, whatever pattern it came from ("foo.* g" and "foo.> g" are
 * one group for "foo.x").
 */
struct sublist_group {
	const char		 *queue;	/* the result's own copy,
						 * NUL-terminated */
	size_t			  queue_len;
	struct sublist_sub	**members;	/* nmembers >= 1 */
	size_t			  nmembers;
	uint32_t		  total_weight;	/* sum of member weights,
						 * saturated at UINT32_MAX */
	/*
	 * NULL if every weight is 1; else running sums: members[i] takes
	 * the picks in [cum_weight[i-1], cum_weight[i]).
	 */
	const uint32_t		 *cum_weight;
};

/* What a published subject reaches.  Each subscription appears once. */
struct sublist_result {
	struct sublist_sub	**plain;
	size_t			  nplain;
	struct sublist_group	 *groups;
	size_t			  ngroups;
};

struct sublist_stats {
	uint64_t		 matches;	/* sublist_match calls */
	uint64_t		 cache_hits;	/* ... answered by the cache */
	uint64_t		 inserts;	/* successful inserts */
	uint64_t		 removes;	/* successful removes */
	size_t			 count;		/* subscriptions inserted now */
	size_t			 cache_entries;	/* results cached now */
	size_t			 cache_max;	/* 0 = cache disabled */
};

/* Default bound on cached results (one per published subject). */
#define SUBLIST_CACHE_MAX	4096

/* NULL on allocation failure.  The cache is on (SUBLIST_CACHE_MAX). */
struct sublist	*sublist_new(void);

/*
 * Frees the index and every cached result; subscriptions still inserted
 * are unlinked (their private fields zeroed) but not freed.  A result
 * held with sublist_result_ref is a block of its own: it stays readable
 * until its sublist_result_unref, which may come later.  NULL is a no-op.
 */
void		 sublist_free(struct sublist *);

/*
 * Bounds the result cache to max entries (0 disables it).  When full, a
 * random entry is evicted.  Shrinking drops the whole cache.  Worth
 * turning off where every published subject is new (high cardinality).
 */
void		 sublist_set_cache_max(struct sublist *, size_t max);

/*
 * Links sub in; sub->subject and sub->queue must stay valid and unchanged
 * until sublist_remove.  The same subject may be inserted many times, by
 * one owner or many.  Returns 0, -EINVAL (invalid subject, weight 0),
 * -EEXIST (this struct is already inserted) or -ENOMEM (nothing changed).
 */
int		 sublist_insert(struct sublist *, struct sublist_sub *);

/* Unlinks sub.  Returns 0, or -ENOENT if it isn't inserted. */
int		 sublist_remove(struct sublist *, struct sublist_sub *);

/*
 * Changes the weight of an inserted queue subscription (a route's RS+ with
 * a new count).  Returns 0, -EINVAL (weight 0) or -ENOENT.
 */
int		 sublist_set_weight(struct sublist *, struct sublist_sub *,
		    uint32_t weight);

/*
 * Matches a published subject, taken literally (subject_matches in
 * subject.h is the reference).  Returns NULL only on allocation failure
 * (the previous result is then kept until the next match); a subject with
 * an empty token gives an empty result.
 *
 * Lifetime: the result stays readable until the next sublist_match on
 * this sublist or sublist_free, whatever is inserted or removed meanwhile.
 * It is a snapshot: a subscription removed after the match (auto-unsub
 * after max_msgs, a slow consumer closed during delivery) is still listed.
 * So while delivering from a result, the caller must not free a
 * subscription the rest of the result may still list; it may remove it
 * from the index, and skip listed subs for which sublist_sub_inserted()
 * is false (or whose owner is closing).  To keep a result across another
 * sublist_match (a delivery that publishes in turn), take a reference.
 */
const struct sublist_result *
		 sublist_match(struct sublist *, const char *subject,
		    size_t len);

/* Keeps r alive past the next sublist_match; pair with _unref. */
const struct sublist_result *
		 sublist_result_ref(const struct sublist_result *r);
void		 sublist_result_unref(const struct sublist_result *r);

/* Is sub linked in an index?  Only meaningful while its memory is alive. */
bool		 sublist_sub_inserted(const struct sublist_sub *sub);

/*
 * Picks one member of g, weighted by weight (local members count 1, a
 * route entry counts its weight, §3.5).  random is a uniform 32-bit value
 * from the caller's PRNG, reduced modulo the total weight.  _skip avoids
 * members owned by skip (echo:false for the publisher's own queue subs):
 * if the weighted pick is one, the next member with another owner is
 * taken; NULL if every member is owned by skip.
 */
struct sublist_sub *
		 sublist_group_pick(const struct sublist_group *g,
		    uint32_t random);
struct sublist_sub *
		 sublist_group_pick_skip(const struct sublist_group *g,
		    uint32_t random, const void *skip);

size_t		 sublist_count(const struct sublist *);
void		 sublist_stats(const struct sublist *, struct sublist_stats *);

#endif
