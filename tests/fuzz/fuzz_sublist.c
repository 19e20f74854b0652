/*
 * fuzz_sublist.c: libFuzzer target for the subject index.  The input is a
 * program of inserts, removes, weight changes, cache resizes and matches
 * over a small pool of subscriptions; every match is checked against brute
 * force (subject_matches over the pool), and a result is read again after
 * the pool changed under it.  Any disagreement aborts.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Idaemon \
 *	    tests/fuzz/fuzz_sublist.c daemon/sublist.c daemon/subject.c
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subject.h"
#include "sublist.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Reads of a held result land here, so they can't be optimised away. */
static volatile size_t sink;

#define NSLOTS	32
#define MAXSUBJ	24

struct fsub {
	struct sublist_sub	 s;
	char			 subj[MAXSUBJ];
	bool			 in;
	bool			 seen;
};

struct input {
	const uint8_t		*p;
	size_t			 len;
};

static uint8_t
next(struct input *in)
{
	if (in->len == 0)
		return 0;
	in->len--;
	return *in->p++;
}

/*
 * Mostly the characters that matter to the syntax, so that valid and
 * nearly valid subjects are common; the odd byte is taken raw.
 */
static size_t
make_subject(struct input *in, char *buf)
{
	static const char alpha[] = "ab.*>.a*b.>c. .";
	size_t i, n = next(in) % MAXSUBJ;
	uint8_t b;

	for (i = 0; i < n; i++) {
		b = next(in);
		buf[i] = b < 240 ? alpha[b % (sizeof(alpha) - 1)] : (char)b;
	}
	return n;
}

static void
check(const struct sublist_result *r, struct fsub *pool, const char *s,
    size_t len)
{
	const struct sublist_group *g;
	struct fsub *f;
	size_t i, j, k, got = 0, want = 0;
	uint64_t w;

	if (r == NULL)
		abort();	/* no allocation failures here */
	for (i = 0; i < NSLOTS; i++)
		pool[i].seen = false;
	for (i = 0; i < r->nplain; i++) {
		f = (struct fsub *)r->plain[i];
		if (f < pool || f >= pool + NSLOTS || !f->in || f->seen ||
		    f->s.queue != NULL)
			abort();
		f->seen = true;
		got++;
	}
	for (j = 0; j < r->ngroups; j++) {
		g = &r->groups[j];
		if (g->nmembers == 0)
			abort();
		for (k = 0; k < j; k++)
			if (r->groups[k].queue_len == g->queue_len &&
			    memcmp(r->groups[k].queue, g->queue,
			    g->queue_len) == 0)
				abort();
		for (i = 0, w = 0; i < g->nmembers; i++) {
			f = (struct fsub *)g->members[i];
			if (f < pool || f >= pool + NSLOTS || !f->in ||
			    f->seen || f->s.queue_len != g->queue_len ||
			    memcmp(f->s.queue, g->queue, g->queue_len) != 0)
				abort();
			f->seen = true;
			w += f->s.weight;
			got++;
		}
		if (g->total_weight != (w > UINT32_MAX ? UINT32_MAX : w))
			abort();
		for (i = 0; i < 4; i++)
			if (sublist_group_pick(g, (uint32_t)(i * 977)) == NULL)
				abort();
	}
	for (i = 0; i < NSLOTS; i++) {
		if (!pool[i].in || !subject_matches(pool[i].s.subject,
		    pool[i].s.subject_len, s, len))
			continue;
		want++;
		if (!pool[i].seen)
			abort();
	}
	if (got != want)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *queues[] = { "q1", "q2", "q" };
	static const size_t caches[] = { SUBLIST_CACHE_MAX, 0, 1, 3 };
	struct input in = { data, size };
	struct fsub pool[NSLOTS];
	struct sublist *sl;
	const struct sublist_result *r, *held = NULL;
	struct fsub *f;
	char subj[MAXSUBJ];
	size_t len, i, n;
	uint8_t op;
	int rc;

	memset(pool, 0, sizeof(pool));
	if ((sl = sublist_new()) == NULL)
		abort();
	while (in.len > 0) {
		op = next(&in);
		f = &pool[next(&in) % NSLOTS];
		switch (op % 5) {
		case 0:
		case 1:
			if (f->in) {
				if (sublist_remove(sl, &f->s) != 0)
					abort();
				f->in = false;
				break;
			}
			memset(&f->s, 0, sizeof(f->s));
			len = make_subject(&in, f->subj);
			f->s.subject = f->subj;
			f->s.subject_len = len;
			if (op & 0x80) {
				f->s.queue = queues[op % 3];
				f->s.queue_len = strlen(f->s.queue);
			}
			f->s.weight = 1 + next(&in) % 4;
			rc = sublist_insert(sl, &f->s);
			if (rc != (subject_valid_sub(f->subj, len) ? 0 :
			    -EINVAL))
				abort();
			f->in = rc == 0;
			break;
		case 2:
			if (f->in && sublist_set_weight(sl, &f->s,
			    1 + next(&in) % 1000) != 0)
				abort();
			if (op & 0x40)
				sublist_set_cache_max(sl, caches[op % 4]);
			break;
		default:
			len = make_subject(&in, subj);
			r = sublist_match(sl, subj, len);
			check(r, pool, subj, len);
			/*
			 * Keep one result across later operations and read it
			 * all again: it must stay valid memory.
			 */
			if (op & 0x20) {
				sublist_result_unref(held);
				held = sublist_result_ref(r);
			}
			break;
		}
		if (held != NULL) {
			for (i = 0, n = 0; i < held->ngroups; i++)
				n += held->groups[i].nmembers +
				    held->groups[i].queue[0];
			for (i = 0; i < held->nplain; i++)
				n += (size_t)held->plain[i] & 1;
			sink = n;
		}
		for (i = 0, n = 0; i < NSLOTS; i++)
			n += pool[i].in;
		if (sublist_count(sl) != n)
			abort();
	}
	sublist_result_unref(held);
	sublist_free(sl);
	return 0;
}
