/*
 * bench_sublist.c: rough figures for the subject index with 100,000
 * subscriptions: inserts/s, matches/s (literal subjects answered by the
 * cache, the same without cache, wildcard-only subjects without cache),
 * removes/s, and heap bytes per subscription (mallinfo2, glibc).
 *
 * 90% of the subscriptions are literal (acct.K.user.I), 10% have a '*'
 * (acct.K.*.I), plus four queue subs on acct.> that every subject hits.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sublist.h"

#define NSUBS		100000
#define NMATCH		1000000
#define HOT		1000		/* distinct subjects in the hot set */

struct bsub {
	struct sublist_sub	 s;
	char			 subj[48];
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t
heap_used(void)
{
	return mallinfo2().uordblks;
}

/* Matches n subjects from subj[] (cycling); returns the matched subs. */
static size_t
run_matches(struct sublist *sl, char (*subj)[48], size_t nsubj, size_t n,
    double *rate)
{
	const struct sublist_result *r;
	size_t i, hits = 0;
	double t0 = now();

	for (i = 0; i < n; i++) {
		r = sublist_match(sl, subj[i % nsubj], strlen(subj[i % nsubj]));
		if (r == NULL)
			abort();
		hits += r->nplain + r->ngroups;
	}
	*rate = n / (now() - t0);
	return hits;
}

int
main(void)
{
	static char lit[HOT][48], wild[HOT][48];
	struct bsub *b = calloc(NSUBS + 4, sizeof(*b));
	struct sublist *sl;
	struct sublist_stats st;
	size_t i, before, after, hits;
	double t0, rate;

	if (b == NULL)
		return 1;
	for (i = 0; i < NSUBS; i++) {
		if (i % 10 == 0)
			snprintf(b[i].subj, sizeof(b[i].subj), "acct.%zu.*.%zu",
			    i % 100, i);
		else
			snprintf(b[i].subj, sizeof(b[i].subj),
			    "acct.%zu.user.%zu", i % 100, i);
		b[i].s.subject = b[i].subj;
		b[i].s.subject_len = strlen(b[i].subj);
		b[i].s.weight = 1;
	}
	for (i = NSUBS; i < NSUBS + 4; i++) {
		b[i].s.subject = "acct.>";
		b[i].s.subject_len = 6;
		b[i].s.queue = "audit";
		b[i].s.queue_len = 5;
		b[i].s.weight = 1;
	}
	/* Subjects reaching a literal sub, and ones reaching only a '*'. */
	for (i = 0; i < HOT; i++) {
		size_t l = (i * 7919) % NSUBS, w = l - l % 10;

		if (l % 10 == 0)
			l++;
		snprintf(lit[i], sizeof(lit[i]), "acct.%zu.user.%zu", l % 100,
		    l);
		snprintf(wild[i], sizeof(wild[i]), "acct.%zu.user.%zu",
		    w % 100, w);
	}

	before = heap_used();
	if ((sl = sublist_new()) == NULL)
		return 1;
	t0 = now();
	for (i = 0; i < NSUBS + 4; i++)
		if (sublist_insert(sl, &b[i].s) != 0)
			return 1;
	printf("insert          %10.0f subs/s\n", (NSUBS + 4) / (now() - t0));
	after = heap_used();
	printf("memory          %10.1f bytes/sub (index only, cache empty;"
	    " caller's struct not counted)\n",
	    (double)(after - before) / (NSUBS + 4));

	hits = run_matches(sl, lit, HOT, NMATCH, &rate);
	printf("match literal   %10.0f /s  cached (%zu subs+groups hit)\n",
	    rate, hits);
	sublist_stats(sl, &st);
	printf("                cache: %zu entries, %.1f%% hits, +%.1f "
	    "bytes/sub\n", st.cache_entries,
	    100.0 * st.cache_hits / st.matches,
	    (double)(heap_used() - after) / (NSUBS + 4));

	hits = run_matches(sl, wild, HOT, NMATCH, &rate);
	printf("match wildcard  %10.0f /s  cached (%zu hit)\n", rate, hits);

	sublist_set_cache_max(sl, 0);
	hits = run_matches(sl, lit, HOT, NMATCH, &rate);
	printf("match literal   %10.0f /s  no cache (%zu hit)\n", rate, hits);
	hits = run_matches(sl, wild, HOT, NMATCH, &rate);
	printf("match wildcard  %10.0f /s  no cache (%zu hit)\n", rate, hits);
	sublist_set_cache_max(sl, SUBLIST_CACHE_MAX);

	/*
	 * Churn: remove and re-insert a sub (1 in 10 a wildcard) between
	 * matches of the hot literal set.
	 */
	t0 = now();
	for (i = 0; i < NMATCH / 10; i++) {
		struct bsub *x = &b[1 + (i * 7919) % (NSUBS - 1)];

		sublist_remove(sl, &x->s);
		sublist_insert(sl, &x->s);
		if (sublist_match(sl, lit[i % HOT], strlen(lit[i % HOT])) ==
		    NULL)
			return 1;
	}
	printf("churn           %10.0f (remove+insert+match)/s\n",
	    (NMATCH / 10) / (now() - t0));

	t0 = now();
	for (i = 0; i < NSUBS + 4; i++)
		if (sublist_remove(sl, &b[i].s) != 0)
			return 1;
	printf("remove          %10.0f subs/s\n", (NSUBS + 4) / (now() - t0));
	sublist_free(sl);
	free(b);
	return 0;
}
