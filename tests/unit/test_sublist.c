/*
 * test_sublist.c: the subject index.  Literal, '*', '>' and mixed
 * patterns; queue groups merged by name across patterns; weighted picks;
 * the result cache never answering with a removed sub or missing a new
 * one; results surviving removals made while they are delivered; 100,000
 * subscriptions; and a seeded random cross-check against a brute-force
 * matcher (subject_matches over every subscription).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subject.h"
#include "sublist.h"

#define S(x)	(x), strlen(x)

/* A caller's subscription, as the daemon would embed it. */
struct tsub {
	struct sublist_sub	 s;		/* first: results cast back */
	char			 subj[96];
	char			 queue[16];
	bool			 in;		/* inserted, per the test */
	int			 mark;		/* seen in the result checked */
};

static void
tsub_init(struct tsub *t, const char *subj, const char *queue,
    uint32_t weight, void *owner)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->subj, sizeof(t->subj), "%s", subj);
	t->s.subject = t->subj;
	t->s.subject_len = strlen(t->subj);
	if (queue != NULL) {
		snprintf(t->queue, sizeof(t->queue), "%s", queue);
		t->s.queue = t->queue;
		t->s.queue_len = strlen(t->queue);
	}
	t->s.weight = weight;
	t->s.owner = owner;
}

static void
tsub_insert(struct sublist *sl, struct tsub *t)
{
	assert_int_equal(sublist_insert(sl, &t->s), 0);
	t->in = true;
}

static void
tsub_remove(struct sublist *sl, struct tsub *t)
{
	assert_int_equal(sublist_remove(sl, &t->s), 0);
	t->in = false;
}

static bool
result_has_plain(const struct sublist_result *r, const struct tsub *t)
{
	size_t i;

	for (i = 0; i < r->nplain; i++)
		if (r->plain[i] == &t->s)
			return true;
	return false;
}

static const struct sublist_group *
result_group(const struct sublist_result *r, const char *queue)
{
	size_t i;

	for (i = 0; i < r->ngroups; i++)
		if (r->groups[i].queue_len == strlen(queue) &&
		    memcmp(r->groups[i].queue, queue, strlen(queue)) == 0)
			return &r->groups[i];
	return NULL;
}

static bool
group_has(const struct sublist_group *g, const struct tsub *t)
{
	size_t i;

	for (i = 0; g != NULL && i < g->nmembers; i++)
		if (g->members[i] == &t->s)
			return true;
	return false;
}

/*
 * Checks r against brute force over subs[0..n): exactly the inserted subs
 * that subject_matches, each once, plain ones in plain, queue ones in the
 * one group of their name, with the group's weights summed.
 */
static void
check_result(const struct sublist_result *r, struct tsub *subs, size_t n,
    const char *subject, size_t slen)
{
	const struct sublist_group *g;
	struct tsub *t;
	uint64_t w;
	size_t i, j, k, want = 0, got = 0;

	assert_non_null(r);
	for (i = 0; i < n; i++)
		subs[i].mark = 0;
	for (i = 0; i < r->nplain; i++) {
		t = (struct tsub *)r->plain[i];
		assert_true(t >= subs && t < subs + n);
		assert_true(t->in);
		assert_int_equal(t->s.queue_len, 0);
		assert_int_equal(t->mark, 0);
		t->mark = 1;
		got++;
	}
	for (j = 0; j < r->ngroups; j++) {
		g = &r->groups[j];
		assert_true(g->nmembers > 0);
		for (k = 0; k < j; k++)
			assert_false(r->groups[k].queue_len == g->queue_len &&
			    memcmp(r->groups[k].queue, g->queue,
			    g->queue_len) == 0);
		for (i = 0, w = 0; i < g->nmembers; i++) {
			t = (struct tsub *)g->members[i];
			assert_true(t >= subs && t < subs + n);
			assert_true(t->in);
			assert_int_equal(t->s.queue_len, g->queue_len);
			assert_memory_equal(t->s.queue, g->queue,
			    g->queue_len);
			assert_int_equal(t->mark, 0);
			t->mark = 1;
			w += t->s.weight;
			got++;
		}
		assert_int_equal(g->total_weight,
		    w > UINT32_MAX ? UINT32_MAX : w);
	}
	for (i = 0; i < n; i++) {
		if (!subs[i].in || !subject_matches(subs[i].s.subject,
		    subs[i].s.subject_len, subject, slen))
			continue;
		want++;
		if (subs[i].mark != 1)
			fail_msg("sub %zu '%s' not in result for '%.*s'", i,
			    subs[i].subj, (int)slen, subject);
	}
	assert_int_equal(got, want);
}

static void
match_check(struct sublist *sl, struct tsub *subs, size_t n,
    const char *subject)
{
	check_result(sublist_match(sl, S(subject)), subs, n, S(subject));
}

static void
test_sublist_literal_insert_match_remove(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[2];
	const struct sublist_result *r;

	(void)state;
	tsub_init(&t[0], "foo.bar", NULL, 1, NULL);
	tsub_init(&t[1], "foo.baz", NULL, 1, NULL);
	tsub_insert(sl, &t[0]);
	tsub_insert(sl, &t[1]);
	assert_int_equal(sublist_count(sl), 2);

	r = sublist_match(sl, S("foo.bar"));
	assert_int_equal(r->nplain, 1);
	assert_ptr_equal(r->plain[0], &t[0].s);
	assert_int_equal(r->ngroups, 0);
	assert_int_equal(sublist_match(sl, S("foo"))->nplain, 0);
	assert_int_equal(sublist_match(sl, S("foo.bar.baz"))->nplain, 0);
	assert_int_equal(sublist_match(sl, S("foo.ba"))->nplain, 0);

	tsub_remove(sl, &t[0]);
	assert_int_equal(sublist_match(sl, S("foo.bar"))->nplain, 0);
	assert_int_equal(sublist_match(sl, S("foo.baz"))->nplain, 1);
	assert_int_equal(sublist_remove(sl, &t[0].s), -ENOENT);
	tsub_remove(sl, &t[1]);
	assert_int_equal(sublist_count(sl), 0);
	sublist_free(sl);
}

static void
test_sublist_star_matches_one_token(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[3];

	(void)state;
	tsub_init(&t[0], "foo.*", NULL, 1, NULL);
	tsub_init(&t[1], "foo.*.baz", NULL, 1, NULL);
	tsub_init(&t[2], "*.*", NULL, 1, NULL);
	tsub_insert(sl, &t[0]);
	tsub_insert(sl, &t[1]);
	tsub_insert(sl, &t[2]);
	match_check(sl, t, 3, "foo.bar");
	assert_int_equal(sublist_match(sl, S("foo.bar"))->nplain, 2);
	match_check(sl, t, 3, "foo");
	assert_int_equal(sublist_match(sl, S("foo"))->nplain, 0);
	match_check(sl, t, 3, "foo.bar.baz");
	assert_int_equal(sublist_match(sl, S("foo.x.baz"))->nplain, 1);
	assert_int_equal(sublist_match(sl, S("foo.x.y.baz"))->nplain, 0);
	match_check(sl, t, 3, "a.b");
	match_check(sl, t, 3, "a.b.c");
	sublist_free(sl);
}

static void
test_sublist_tail_wildcard_matches(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[2];

	(void)state;
	tsub_init(&t[0], "foo.>", NULL, 1, NULL);
	tsub_init(&t[1], ">", NULL, 1, NULL);
	tsub_insert(sl, &t[0]);
	tsub_insert(sl, &t[1]);
	assert_int_equal(sublist_match(sl, S("foo.bar"))->nplain, 2);
	assert_int_equal(sublist_match(sl, S("foo.a.b.c"))->nplain, 2);
	assert_int_equal(sublist_match(sl, S("foo"))->nplain, 1);
	assert_int_equal(sublist_match(sl, S("bar.foo"))->nplain, 1);
	match_check(sl, t, 2, "foo.a.b.c");
	match_check(sl, t, 2, "foo");
	sublist_free(sl);
}

static void
test_sublist_mixed_patterns(void **state)
{
	static const char *pats[] = {
		"a.b.c", "a.*.c", "a.>", "*.b.>", "*.*.*", ">", "a.b", "a.*",
		"*.b.c", "a.b.c.>", "x.y",
	};
	static const char *subjects[] = {
		"a.b.c", "a.b", "a", "a.x.c", "a.b.c.d", "z.b.c", "z.b.q.r",
		"x.y", "x.y.z", "a.*.c", "*.*.*", "a.>",
	};
	struct sublist *sl = sublist_new();
	struct tsub t[sizeof(pats) / sizeof(pats[0])];
	size_t i, n = sizeof(pats) / sizeof(pats[0]);

	(void)state;
	for (i = 0; i < n; i++) {
		tsub_init(&t[i], pats[i], NULL, 1, NULL);
		tsub_insert(sl, &t[i]);
	}
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
		match_check(sl, t, n, subjects[i]);
	/* a.b.c: a.b.c, a.*.c, a.>, *.b.>, *.*.*, >, *.b.c. */
	assert_int_equal(sublist_match(sl, S("a.b.c"))->nplain, 7);
	for (i = 0; i < n; i += 2)
		tsub_remove(sl, &t[i]);
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
		match_check(sl, t, n, subjects[i]);
	sublist_free(sl);
}

static void
test_sublist_overlapping_subs_of_one_owner_both_returned(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[3];
	int conn;
	const struct sublist_result *r;

	(void)state;
	tsub_init(&t[0], "foo.bar", NULL, 1, &conn);
	tsub_init(&t[1], "foo.*", NULL, 1, &conn);
	tsub_init(&t[2], "foo.bar", NULL, 1, &conn);	/* same subject */
	tsub_insert(sl, &t[0]);
	tsub_insert(sl, &t[1]);
	tsub_insert(sl, &t[2]);
	r = sublist_match(sl, S("foo.bar"));
	assert_int_equal(r->nplain, 3);
	assert_true(result_has_plain(r, &t[0]));
	assert_true(result_has_plain(r, &t[1]));
	assert_true(result_has_plain(r, &t[2]));
	sublist_free(sl);
}

static void
test_sublist_queue_groups_merge_across_patterns(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[6];
	const struct sublist_result *r;
	const struct sublist_group *g, *h;

	(void)state;
	tsub_init(&t[0], "foo.*", "g", 1, NULL);
	tsub_init(&t[1], "foo.>", "g", 1, NULL);
	tsub_init(&t[2], "foo.x", "g", 1, NULL);
	tsub_init(&t[3], "foo.x", "h", 1, NULL);
	tsub_init(&t[4], "foo.x", NULL, 1, NULL);
	tsub_init(&t[5], "foo.y", "g", 1, NULL);
	for (int i = 0; i < 6; i++)
		tsub_insert(sl, &t[i]);

	/* §2.2: SUB foo.* g and SUB foo.> g are one group for foo.x. */
	r = sublist_match(sl, S("foo.x"));
	check_result(r, t, 6, S("foo.x"));
	assert_int_equal(r->nplain, 1);
	assert_int_equal(r->ngroups, 2);
	g = result_group(r, "g");
	h = result_group(r, "h");
	assert_non_null(g);
	assert_non_null(h);
	assert_int_equal(g->nmembers, 3);
	assert_true(group_has(g, &t[0]) && group_has(g, &t[1]) &&
	    group_has(g, &t[2]));
	assert_int_equal(g->total_weight, 3);
	assert_null(g->cum_weight);
	assert_int_equal(h->nmembers, 1);
	assert_string_equal(g->queue, "g");	/* NUL-terminated copy */

	r = sublist_match(sl, S("foo.a.b"));
	assert_int_equal(r->ngroups, 1);
	assert_int_equal(r->groups[0].nmembers, 1);
	assert_ptr_equal(r->groups[0].members[0], &t[1].s);

	tsub_remove(sl, &t[1]);
	tsub_remove(sl, &t[3]);
	r = sublist_match(sl, S("foo.x"));
	check_result(r, t, 6, S("foo.x"));
	assert_int_equal(r->ngroups, 1);
	sublist_free(sl);
}

static void
test_sublist_queue_weights_pick(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[3];
	int local, route1, route2, counts[3] = { 0, 0, 0 };
	const struct sublist_result *r;
	const struct sublist_group *g;
	struct sublist_sub *s;
	uint32_t i;

	(void)state;
	tsub_init(&t[0], "work", "wq", 1, &local);
	tsub_init(&t[1], "work", "wq", 3, &route1);
	tsub_init(&t[2], "*", "wq", 6, &route2);
	for (i = 0; i < 3; i++)
		tsub_insert(sl, &t[i]);
	r = sublist_match(sl, S("work"));
	assert_int_equal(r->ngroups, 1);
	g = &r->groups[0];
	assert_int_equal(g->total_weight, 10);
	assert_non_null(g->cum_weight);

	/* Every value of random mod 10 once: picks are exactly 1:3:6. */
	for (i = 0; i < 10; i++) {
		s = sublist_group_pick(g, i + 1000 * 10);
		counts[(struct tsub *)s - t]++;
	}
	assert_int_equal(counts[0], 1);
	assert_int_equal(counts[1], 3);
	assert_int_equal(counts[2], 6);

	/* echo:false: never the publisher's own member. */
	for (i = 0; i < 100; i++) {
		s = sublist_group_pick_skip(g, i * 2654435761u, &local);
		assert_ptr_not_equal(s->owner, &local);
	}
	tsub_remove(sl, &t[1]);
	tsub_remove(sl, &t[2]);
	r = sublist_match(sl, S("work"));
	assert_null(sublist_group_pick_skip(&r->groups[0], 7, &local));
	assert_ptr_equal(sublist_group_pick(&r->groups[0], 7), &t[0].s);
	assert_null(r->groups[0].cum_weight);
	sublist_free(sl);
}

static void
test_sublist_uniform_pick_uses_every_member(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[4];
	const struct sublist_result *r;
	int seen[4] = { 0, 0, 0, 0 };
	uint32_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		tsub_init(&t[i], "q", "g", 1, NULL);
		tsub_insert(sl, &t[i]);
	}
	r = sublist_match(sl, S("q"));
	for (i = 0; i < 4; i++)
		seen[(struct tsub *)sublist_group_pick(&r->groups[0], i) -
		    t]++;
	for (i = 0; i < 4; i++)
		assert_int_equal(seen[i], 1);
	sublist_free(sl);
}

static void
test_sublist_set_weight_invalidates(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[2];
	const struct sublist_result *r;

	(void)state;
	tsub_init(&t[0], "work", "wq", 1, NULL);
	tsub_init(&t[1], "work.>", "wq", 2, NULL);
	tsub_insert(sl, &t[0]);
	tsub_insert(sl, &t[1]);
	assert_int_equal(sublist_match(sl, S("work.a"))->groups[0].total_weight,
	    2);
	assert_int_equal(sublist_set_weight(sl, &t[1].s, 5), 0);
	r = sublist_match(sl, S("work.a"));
	assert_int_equal(r->groups[0].total_weight, 5);
	assert_int_equal(sublist_set_weight(sl, &t[0].s, 4), 0);
	assert_int_equal(sublist_match(sl, S("work"))->groups[0].total_weight,
	    4);
	assert_int_equal(sublist_set_weight(sl, &t[0].s, 0), -EINVAL);
	tsub_remove(sl, &t[0]);
	assert_int_equal(sublist_set_weight(sl, &t[0].s, 2), -ENOENT);
	sublist_free(sl);
}

static void
test_sublist_cache_sees_inserts(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[4];
	struct sublist_stats st;
	const char *subj = "orders.eu.new";

	(void)state;
	tsub_init(&t[0], "orders.eu.new", NULL, 1, NULL);
	tsub_init(&t[1], "orders.*.new", NULL, 1, NULL);
	tsub_init(&t[2], "orders.eu.new", "g", 1, NULL);
	tsub_init(&t[3], "orders.>", "g", 1, NULL);

	match_check(sl, t, 4, subj);		/* caches "no interest" */
	match_check(sl, t, 4, subj);
	sublist_stats(sl, &st);
	assert_int_equal(st.cache_hits, 1);
	for (int i = 0; i < 4; i++) {
		tsub_insert(sl, &t[i]);
		match_check(sl, t, 4, subj);	/* miss: the new sub is there */
		match_check(sl, t, 4, subj);	/* hit, same answer */
		match_check(sl, t, 4, "orders.us.new");
	}
	sublist_stats(sl, &st);
	assert_true(st.cache_hits >= 5);
	assert_true(st.cache_entries >= 1);
	sublist_free(sl);
}

static void
test_sublist_cache_forgets_removes(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[4];
	const char *subj = "orders.eu.new";
	int i;

	(void)state;
	tsub_init(&t[0], "orders.eu.new", NULL, 1, NULL);
	tsub_init(&t[1], "orders.*.new", NULL, 1, NULL);
	tsub_init(&t[2], "orders.eu.new", "g", 1, NULL);
	tsub_init(&t[3], ">", "g", 1, NULL);
	for (i = 0; i < 4; i++)
		tsub_insert(sl, &t[i]);
	for (i = 3; i >= 0; i--) {
		match_check(sl, t, 4, subj);
		match_check(sl, t, 4, "x");
		tsub_remove(sl, &t[i]);
		match_check(sl, t, 4, subj);	/* never the removed one */
		match_check(sl, t, 4, "x");
	}
	assert_int_equal(sublist_match(sl, S(subj))->nplain, 0);
	assert_int_equal(sublist_match(sl, S(subj))->ngroups, 0);
	sublist_free(sl);
}

static void
test_sublist_cache_bounded_and_optional(void **state)
{
	struct sublist *sl = sublist_new();
	struct sublist_stats st;
	struct tsub t;
	char subj[32];
	int i;

	(void)state;
	tsub_init(&t, "s.*", NULL, 1, NULL);
	tsub_insert(sl, &t);
	for (i = 0; i < 3 * SUBLIST_CACHE_MAX; i++) {
		snprintf(subj, sizeof(subj), "s.%d", i);
		check_result(sublist_match(sl, S(subj)), &t, 1, S(subj));
	}
	sublist_stats(sl, &st);
	assert_int_equal(st.cache_entries, SUBLIST_CACHE_MAX);
	assert_int_equal(st.cache_max, SUBLIST_CACHE_MAX);

	sublist_set_cache_max(sl, 0);
	sublist_stats(sl, &st);
	assert_int_equal(st.cache_entries, 0);
	for (i = 0; i < 100; i++)
		check_result(sublist_match(sl, S("s.x")), &t, 1, S("s.x"));
	sublist_stats(sl, &st);
	assert_int_equal(st.cache_entries, 0);
	assert_int_equal(st.matches, 3 * SUBLIST_CACHE_MAX + 100);
	sublist_free(sl);
}

/*
 * Delivery may remove subscriptions, its own or later ones in the result
 * (auto-unsubscribe, a slow consumer closed): the result stays readable
 * and complete until the next match, and the next match sees the
 * removals.
 */
static void
test_sublist_remove_during_iteration(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[8];
	const struct sublist_result *r;
	size_t i, delivered = 0;

	(void)state;
	for (i = 0; i < 8; i++) {
		tsub_init(&t[i], i % 2 ? "ev.*" : "ev.x", i < 4 ? NULL : "g",
		    1, NULL);
		tsub_insert(sl, &t[i]);
	}
	r = sublist_match(sl, S("ev.x"));
	assert_int_equal(r->nplain, 4);
	for (i = 0; i < r->nplain; i++) {
		if (!sublist_sub_inserted(r->plain[i]))
			continue;	/* closed by an earlier delivery */
		delivered++;
		/* This one is done, and its "connection" drops the rest. */
		tsub_remove(sl, (struct tsub *)r->plain[i]);
		if (i == 0)
			tsub_remove(sl, &t[2]);
	}
	assert_int_equal(delivered, 3);
	/* Removing every group member leaves the result intact. */
	for (i = 4; i < 8; i++)
		tsub_remove(sl, &t[i]);
	assert_int_equal(r->ngroups, 1);
	assert_int_equal(r->groups[0].nmembers, 4);
	assert_memory_equal(r->groups[0].queue, "g", 1);
	assert_non_null(sublist_group_pick(&r->groups[0], 3));

	r = sublist_match(sl, S("ev.x"));
	assert_int_equal(r->nplain, 0);
	assert_int_equal(r->ngroups, 0);
	assert_int_equal(sublist_count(sl), 0);
	sublist_free(sl);
}

static void
test_sublist_result_ref_outlives_next_match(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[2];
	const struct sublist_result *a, *b;

	(void)state;
	tsub_init(&t[0], "a", NULL, 1, NULL);
	tsub_init(&t[1], "b", "q", 1, NULL);
	tsub_insert(sl, &t[0]);
	tsub_insert(sl, &t[1]);
	a = sublist_result_ref(sublist_match(sl, S("a")));
	tsub_remove(sl, &t[0]);			/* drops "a" from the cache */
	b = sublist_match(sl, S("b"));		/* releases "current" */
	sublist_set_cache_max(sl, 0);		/* and the cache's copy */
	assert_int_equal(a->nplain, 1);		/* still ours */
	assert_ptr_equal(a->plain[0], &t[0].s);
	assert_int_equal(b->ngroups, 1);
	sublist_result_unref(a);
	sublist_result_unref(sublist_result_ref(b));
	assert_int_equal(sublist_match(sl, S("a"))->nplain, 0);
	sublist_free(sl);
}

static void
test_sublist_rejects_bad_input(void **state)
{
	static const char *bad[] = {
		"", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.x", "a b",
	};
	struct sublist *sl = sublist_new();
	struct tsub t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tsub_init(&t, bad[i], NULL, 1, NULL);
		assert_int_equal(sublist_insert(sl, &t.s), -EINVAL);
		assert_false(sublist_sub_inserted(&t.s));
	}
	tsub_init(&t, "q", "g", 0, NULL);
	assert_int_equal(sublist_insert(sl, &t.s), -EINVAL);
	tsub_init(&t, "q", NULL, 0, NULL);	/* plain: weight unused */
	assert_int_equal(sublist_insert(sl, &t.s), 0);
	assert_int_equal(sublist_insert(sl, &t.s), -EEXIST);
	assert_int_equal(sublist_count(sl), 1);
	assert_int_equal(sublist_remove(sl, &t.s), 0);
	assert_int_equal(sublist_remove(sl, &t.s), -ENOENT);
	/* Removed structs can go back in. */
	assert_int_equal(sublist_insert(sl, &t.s), 0);
	assert_int_equal(sublist_count(sl), 1);
	sublist_free(sl);
	/* Freeing unlinks what was still inserted. */
	assert_false(sublist_sub_inserted(&t.s));
}

static void
test_sublist_empty_token_matches_nothing(void **state)
{
	static const char *subjects[] = {
		"", ".", "foo.", ".foo", "foo..bar", "foo.bar.",
	};
	struct sublist *sl = sublist_new();
	struct tsub t[3];
	const struct sublist_result *r;
	size_t i;

	(void)state;
	tsub_init(&t[0], ">", NULL, 1, NULL);
	tsub_init(&t[1], "foo.>", "g", 1, NULL);
	tsub_init(&t[2], "*.*.*", NULL, 1, NULL);
	for (i = 0; i < 3; i++)
		tsub_insert(sl, &t[i]);
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		r = sublist_match(sl, S(subjects[i]));
		assert_non_null(r);
		assert_int_equal(r->nplain, 0);
		assert_int_equal(r->ngroups, 0);
	}
	sublist_free(sl);
}

/* A published '*' is a token like any other: wildcards match it. */
static void
test_sublist_published_star_is_literal(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub t[5];
	size_t i;

	(void)state;
	tsub_init(&t[0], "foo.bar", NULL, 1, NULL);
	tsub_init(&t[1], "foo.*", NULL, 1, NULL);
	tsub_init(&t[2], "foo.>", NULL, 1, NULL);
	tsub_init(&t[3], "foo*", NULL, 1, NULL);
	tsub_init(&t[4], "*.bar", NULL, 1, NULL);
	for (i = 0; i < 5; i++)
		tsub_insert(sl, &t[i]);
	match_check(sl, t, 5, "foo.*");
	assert_int_equal(sublist_match(sl, S("foo.*"))->nplain, 2);
	match_check(sl, t, 5, "foo.>");
	match_check(sl, t, 5, "*.bar");
	assert_int_equal(sublist_match(sl, S("*.bar"))->nplain, 1);
	match_check(sl, t, 5, "foo*");
	assert_int_equal(sublist_match(sl, S("foo*"))->nplain, 1);
	match_check(sl, t, 5, "*");
	sublist_free(sl);
}

/* n tokens "tok" joined by '.', the last one replaced by last if set. */
static char *
repeat_subject(const char *tok, size_t n, const char *last)
{
	char *s = malloc(n * (strlen(tok) + 1) + 2), *p = s;
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = '.';
		p = stpcpy(p, i == n - 1 && last != NULL ? last : tok);
	}
	return s;
}

/* Thousands of tokens: the walk must not recurse per token. */
static void
test_sublist_deep_subjects(void **state)
{
	struct sublist *sl = sublist_new();
	struct sublist_sub a = { 0 }, b = { 0 }, c = { 0 };
	char *stars = repeat_subject("*", 3000, NULL);
	char *as = repeat_subject("a", 3000, NULL);
	char *a_gt = repeat_subject("a", 1500, ">");
	char *star_gt = repeat_subject("*", 1500, ">");

	(void)state;
	a.subject = stars;
	a.subject_len = strlen(stars);
	b.subject = a_gt;
	b.subject_len = strlen(a_gt);
	c.subject = star_gt;
	c.subject_len = strlen(star_gt);
	assert_int_equal(sublist_insert(sl, &a), 0);
	assert_int_equal(sublist_insert(sl, &b), 0);
	assert_int_equal(sublist_insert(sl, &c), 0);
	/* Published '*' tokens: only the wildcard patterns take them. */
	assert_int_equal(sublist_match(sl, S(stars))->nplain, 2);
	assert_int_equal(sublist_match(sl, S(as))->nplain, 3);
	assert_int_equal(sublist_remove(sl, &a), 0);
	assert_int_equal(sublist_match(sl, S(as))->nplain, 2);
	sublist_free(sl);
	free(stars);
	free(as);
	free(a_gt);
	free(star_gt);
}

/*
 * 100,000 subscriptions in groups of four: big.J.0, big.J.1, big.J.2 and
 * big.J.* (every other group as a queue sub).  Checked by counts, which
 * follow from the construction.
 */
#define BIG	100000

static void
test_sublist_100k_insert_match_remove(void **state)
{
	struct sublist *sl = sublist_new();
	struct tsub *t = calloc(BIG, sizeof(*t));
	const struct sublist_result *r;
	char subj[64], buf[64];
	size_t i, j, k;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < BIG; i++) {
		j = i / 4;
		k = i % 4;
		if (k == 3)
			snprintf(buf, sizeof(buf), "big.%zu.*", j);
		else
			snprintf(buf, sizeof(buf), "big.%zu.%zu", j, k);
		tsub_init(&t[i], buf, k == 3 && j % 2 ? "q" : NULL, 1, NULL);
		tsub_insert(sl, &t[i]);
	}
	assert_int_equal(sublist_count(sl), BIG);
	for (j = 0; j < BIG / 4; j++) {
		for (k = 0; k < 4; k++) {
			snprintf(subj, sizeof(subj), "big.%zu.%zu", j, k);
			r = sublist_match(sl, S(subj));
			assert_int_equal(r->nplain + r->ngroups,
			    k == 3 ? 1 : 2);
			assert_int_equal(r->ngroups, j % 2 ? 1 : 0);
			if (k < 3)
				assert_true(result_has_plain(r, &t[4 * j + k]));
		}
	}
	/* Remove the literal subs of even groups, then match again. */
	for (i = 0; i < BIG; i++)
		if ((i / 4) % 2 == 0 && i % 4 != 3)
			tsub_remove(sl, &t[i]);
	for (j = 0; j < BIG / 4; j++) {
		snprintf(subj, sizeof(subj), "big.%zu.1", j);
		r = sublist_match(sl, S(subj));
		assert_int_equal(r->nplain + r->ngroups, j % 2 ? 2 : 1);
	}
	for (i = 0; i < BIG; i++)
		if (t[i].in)
			tsub_remove(sl, &t[i]);
	assert_int_equal(sublist_count(sl), 0);
	r = sublist_match(sl, S("big.1.1"));
	assert_int_equal(r->nplain + r->ngroups, 0);
	sublist_free(sl);
	free(t);
}

static uint64_t rng_state;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* A random subject of 1..4 tokens from tokens[0..ntok), maybe bad. */
static void
random_subject(char *buf, size_t size, const char **tokens, size_t ntok)
{
	size_t i, n = 1 + rng() % 4;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strncat(buf, ".", size - strlen(buf) - 1);
		strncat(buf, tokens[rng() % ntok], size - strlen(buf) - 1);
	}
}

/*
 * Random inserts, removes and matches, every match checked against brute
 * force, with the cache at its default, tiny (constant eviction) and off.
 */
static void
cross_check(size_t cache_max, uint64_t seed)
{
	static const char *ptok[] = {
		"a", "b", "c", "*", ">", "a", "b", "*",
	};
	static const char *stok[] = {
		"a", "b", "c", "d", "*", ">", "a", "b", "",
	};
	static const char *queues[] = { NULL, NULL, NULL, "q1", "q2" };
	enum { NSUBS = 600, NOPS = 6000 };
	struct sublist *sl = sublist_new();
	struct tsub *t = calloc(NSUBS, sizeof(*t));
	char buf[64];
	size_t i, op;
	int rc;

	assert_non_null(t);
	rng_state = seed;
	if (cache_max != SUBLIST_CACHE_MAX)
		sublist_set_cache_max(sl, cache_max);
	for (op = 0; op < NOPS; op++) {
		i = rng() % NSUBS;
		switch (rng() % 4) {
		case 0:
			if (t[i].in) {
				tsub_remove(sl, &t[i]);
				break;
			}
			random_subject(buf, sizeof(buf), ptok,
			    sizeof(ptok) / sizeof(ptok[0]));
			tsub_init(&t[i], buf, queues[rng() % 5],
			    1 + rng() % 3, NULL);
			rc = sublist_insert(sl, &t[i].s);
			if (subject_valid_sub(S(buf))) {
				assert_int_equal(rc, 0);
				t[i].in = true;
			} else
				assert_int_equal(rc, -EINVAL);
			break;
		case 1:
			if (t[i].in && t[i].s.queue != NULL && rng() % 2) {
				assert_int_equal(sublist_set_weight(sl,
				    &t[i].s, 1 + rng() % 5), 0);
			}
			/* FALLTHROUGH */
		default:
			random_subject(buf, sizeof(buf), stok,
			    sizeof(stok) / sizeof(stok[0]));
			match_check(sl, t, NSUBS, buf);
			break;
		}
	}
	for (i = 0; i < NSUBS; i++)
		if (t[i].in)
			tsub_remove(sl, &t[i]);
	assert_int_equal(sublist_count(sl), 0);
	sublist_free(sl);
	free(t);
}

static void
test_sublist_random_cross_check(void **state)
{
	(void)state;
	cross_check(SUBLIST_CACHE_MAX, 0x9e3779b97f4a7c15ULL);
	cross_check(SUBLIST_CACHE_MAX, 42);
}

static void
test_sublist_random_cross_check_small_cache(void **state)
{
	(void)state;
	cross_check(8, 7);
}

static void
test_sublist_random_cross_check_no_cache(void **state)
{
	(void)state;
	cross_check(0, 12345);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sublist_literal_insert_match_remove),
		cmocka_unit_test(test_sublist_star_matches_one_token),
		cmocka_unit_test(test_sublist_tail_wildcard_matches),
		cmocka_unit_test(test_sublist_mixed_patterns),
		cmocka_unit_test(
		    test_sublist_overlapping_subs_of_one_owner_both_returned),
		cmocka_unit_test(
		    test_sublist_queue_groups_merge_across_patterns),
		cmocka_unit_test(test_sublist_queue_weights_pick),
		cmocka_unit_test(test_sublist_uniform_pick_uses_every_member),
		cmocka_unit_test(test_sublist_set_weight_invalidates),
		cmocka_unit_test(test_sublist_cache_sees_inserts),
		cmocka_unit_test(test_sublist_cache_forgets_removes),
		cmocka_unit_test(test_sublist_cache_bounded_and_optional),
		cmocka_unit_test(test_sublist_remove_during_iteration),
		cmocka_unit_test(test_sublist_result_ref_outlives_next_match),
		cmocka_unit_test(test_sublist_rejects_bad_input),
		cmocka_unit_test(test_sublist_empty_token_matches_nothing),
		cmocka_unit_test(test_sublist_published_star_is_literal),
		cmocka_unit_test(test_sublist_deep_subjects),
		cmocka_unit_test(test_sublist_100k_insert_match_remove),
		cmocka_unit_test(test_sublist_random_cross_check),
		cmocka_unit_test(test_sublist_random_cross_check_small_cache),
		cmocka_unit_test(test_sublist_random_cross_check_no_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
