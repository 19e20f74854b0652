/*
 * test_perm.c: permissions (protocol doc §2.11): publish allow and deny
 * with wildcards, subscribe coverage taken literally, queue-aware
 * entries, delivery filtering of wildcard subscriptions that overlap a
 * deny entry, allow_responses (first reply allowed, the second not, and
 * expiry), the publish cache, and the refusal of bad entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perm.h"

#define S(x)	(x), strlen(x)

/* A struct conf_perms from NULL-terminated lists of literals. */
struct lists {
	const char	*pa[8], *pd[8], *sa[8], *sd[8];
};

static size_t
count(const char *const *v)
{
	size_t n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

static struct perm *
compile(const struct lists *l, int responses, char *err, size_t errlen)
{
	struct conf_perms p;

	memset(&p, 0, sizeof(p));
	p.pub_allow = (char **)(uintptr_t)l->pa;
	p.npub_allow = count(l->pa);
	p.pub_deny = (char **)(uintptr_t)l->pd;
	p.npub_deny = count(l->pd);
	p.sub_allow = (char **)(uintptr_t)l->sa;
	p.nsub_allow = count(l->sa);
	p.sub_deny = (char **)(uintptr_t)l->sd;
	p.nsub_deny = count(l->sd);
	p.responses = responses;
	p.responses_max = 1;
	p.responses_expires = 1000;
	return perm_new(&p, err, errlen);
}

static struct perm *
must(const struct lists *l, int responses)
{
	char err[256];
	struct perm *p = compile(l, responses, err, sizeof(err));

	if (p == NULL)
		fail_msg("perm_new: %s", err);
	return p;
}

static bool
pub(const struct perm *p, const char *s)
{
	return perm_pub_ok(p, S(s));
}

static bool
sub(const struct perm *p, const char *s, const char *q)
{
	return perm_sub_ok(p, S(s), q, q != NULL ? strlen(q) : 0);
}

static void
test_perm_null_allows_everything(void **state)
{
	(void)state;
	assert_true(pub(NULL, "a.b"));
	assert_true(sub(NULL, ">", NULL));
	assert_true(perm_deliver_ok(NULL, S("x"), NULL, 0));
}

static void
test_perm_publish_allow_deny(void **state)
{
	struct lists l = { .pa = { "chat.>", "svc.*.ping", NULL },
	    .pd = { "chat.secret", "chat.admin.>", NULL } };
	struct perm *p = must(&l, 0);

	(void)state;
	assert_true(pub(p, "chat.room"));
	assert_true(pub(p, "chat.room.x"));
	assert_true(pub(p, "svc.a.ping"));
	assert_false(pub(p, "svc.a.b.ping"));
	assert_false(pub(p, "chat"));
	assert_false(pub(p, "other"));
	/* deny wins */
	assert_false(pub(p, "chat.secret"));
	assert_false(pub(p, "chat.admin.x"));
	assert_true(pub(p, "chat.admin"));
	/* a published wildcard token is literal */
	assert_false(pub(p, "svc.*.pong"));
	perm_free(p);
}

static void
test_perm_publish_deny_only(void **state)
{
	struct lists l = { .pd = { "secret.>", NULL } };
	struct perm *p = must(&l, 0);

	(void)state;
	assert_true(pub(p, "anything"));
	assert_false(pub(p, "secret.x"));
	perm_free(p);
}

static void
test_perm_subscribe_literal_coverage(void **state)
{
	struct lists l = { .sa = { "foo.>", "bar.baz", NULL } };
	struct perm *p = must(&l, 0);

	(void)state;
	assert_true(sub(p, "foo.bar", NULL));
	assert_true(sub(p, "foo.*", NULL));
	assert_true(sub(p, "foo.>", NULL));
	assert_true(sub(p, "bar.baz", NULL));
	assert_false(sub(p, "bar.*", NULL));	/* not covered */
	assert_false(sub(p, ">", NULL));
	assert_false(sub(p, "foo", NULL));
	perm_free(p);
}

static void
test_perm_subscribe_deny_and_overlap(void **state)
{
	struct lists l = { .sd = { "foo.secret", NULL } };
	struct perm *p = must(&l, 0);

	(void)state;
	assert_false(sub(p, "foo.secret", NULL));
	assert_false(sub(p, "foo.secret", "q"));
	/* overlapping wildcards are accepted ... */
	assert_true(sub(p, "foo.>", NULL));
	assert_true(sub(p, "foo.*", NULL));
	/* ... and the denied subject is filtered at delivery */
	assert_false(perm_deliver_ok(p, S("foo.secret"), NULL, 0));
	assert_true(perm_deliver_ok(p, S("foo.public"), NULL, 0));
	perm_free(p);
}

static void
test_perm_queue_entries(void **state)
{
	struct lists a = { .sa = { "foo", NULL } };
	struct lists b = { .sa = { "foo v1", NULL } };
	struct lists c = { .sa = { "foo", "foo v1", NULL } };
	struct lists d = { .sa = { "foo v.*", NULL } };
	struct lists e = { .sd = { "foo v1", NULL } };
	struct perm *p;

	(void)state;
	p = must(&a, 0);		/* plain or any queue */
	assert_true(sub(p, "foo", NULL));
	assert_true(sub(p, "foo", "v1"));
	assert_true(sub(p, "foo", "v2"));
	perm_free(p);
	p = must(&b, 0);		/* only queue v1 */
	assert_false(sub(p, "foo", NULL));
	assert_true(sub(p, "foo", "v1"));
	assert_false(sub(p, "foo", "v2"));
	perm_free(p);
	p = must(&c, 0);		/* plain, or queue v1 */
	assert_true(sub(p, "foo", NULL));
	assert_true(sub(p, "foo", "v1"));
	perm_free(p);
	p = must(&d, 0);		/* queue wildcards */
	assert_true(sub(p, "foo", "v.1"));
	assert_false(sub(p, "foo", "w"));
	perm_free(p);
	p = must(&e, 0);		/* deny a queue only */
	assert_true(sub(p, "foo", NULL));
	assert_true(sub(p, "foo", "v2"));
	assert_false(sub(p, "foo", "v1"));
	perm_free(p);
}

static void
test_perm_bad_entries(void **state)
{
	struct lists a = { .pa = { "foo..bar", NULL } };
	struct lists b = { .sd = { "foo.>.x", NULL } };
	char err[256];

	(void)state;
	assert_null(compile(&a, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "publish.allow"));
	assert_non_null(strstr(err, "foo..bar"));
	assert_null(compile(&b, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "subscribe.deny"));
}

static void
test_perm_responses(void **state)
{
	struct lists l = { .sa = { "svc", NULL } };
	struct perm *p = must(&l, 1);
	struct perm_resps r;

	(void)state;
	memset(&r, 0, sizeof(r));
	/* allow_responses without a publish allow list: only responses */
	assert_false(pub(p, "anything"));
	assert_int_equal(perm_resp_add(p, &r, S("_INBOX.1"), 100), 0);
	assert_true(perm_resp_take(&r, S("_INBOX.1"), 200));
	assert_false(perm_resp_take(&r, S("_INBOX.1"), 201));	/* max 1 */
	assert_false(perm_resp_take(&r, S("_INBOX.2"), 201));
	/* expiry */
	assert_int_equal(perm_resp_add(p, &r, S("_INBOX.3"), 100), 0);
	assert_false(perm_resp_take(&r, S("_INBOX.3"), 1100));
	/* nothing kept for a connection without allow_responses */
	perm_resps_free(&r);
	perm_free(p);
	p = must(&l, 0);
	assert_int_equal(perm_resp_add(p, &r, S("_INBOX.4"), 0), 0);
	assert_int_equal(r.n, 0);
	perm_resps_free(&r);
	perm_free(p);
}

static void
test_perm_cache(void **state)
{
	struct lists l = { .pa = { "ok.>", NULL } };
	struct perm *p = must(&l, 0);
	struct perm_cache *c = calloc(1, sizeof(*c));
	char longsub[200];
	int i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 3; i++) {
		assert_true(perm_pub_cached(p, c, S("ok.a")));
		assert_false(perm_pub_cached(p, c, S("no.a")));
	}
	memset(longsub, 'x', sizeof(longsub) - 1);
	memcpy(longsub, "ok.", 3);
	longsub[sizeof(longsub) - 1] = '\0';
	assert_true(perm_pub_cached(p, c, S(longsub)));
	perm_cache_clear(c);
	assert_true(perm_pub_cached(p, c, S("ok.a")));
	free(c);
	perm_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perm_null_allows_everything),
		cmocka_unit_test(test_perm_publish_allow_deny),
		cmocka_unit_test(test_perm_publish_deny_only),
		cmocka_unit_test(test_perm_subscribe_literal_coverage),
		cmocka_unit_test(test_perm_subscribe_deny_and_overlap),
		cmocka_unit_test(test_perm_queue_entries),
		cmocka_unit_test(test_perm_bad_entries),
		cmocka_unit_test(test_perm_responses),
		cmocka_unit_test(test_perm_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
