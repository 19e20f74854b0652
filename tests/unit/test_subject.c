/*
 * test_subject.c: subject syntax from protocol doc §2.1: every row of the
 * matching table, the valid and invalid SUB and PUB examples, literal
 * wildcards in published subjects, empty tokens, and the coverage test
 * used by subscribe permissions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "subject.h"

#define S(x)	(x), strlen(x)

static bool
matches(const char *pattern, const char *subject)
{
	return subject_matches(S(pattern), S(subject));
}

static bool
covers(const char *pattern, const char *sub)
{
	return subject_pattern_covers(S(pattern), S(sub));
}

static void
test_subject_token_len_walks_tokens(void **state)
{
	const char *s = "foo.bar.>";
	size_t len = strlen(s), n, ntok = 0;

	(void)state;
	assert_int_equal(subject_token_len(S("foo")), 3);
	assert_int_equal(subject_token_len(S("foo.bar")), 3);
	assert_int_equal(subject_token_len(S(".foo")), 0);
	assert_int_equal(subject_token_len(S("")), 0);
	for (;;) {
		n = subject_token_len(s, len);
		ntok++;
		if (n == len)
			break;
		s += n + 1;
		len -= n + 1;
	}
	assert_int_equal(ntok, 3);
	assert_memory_equal(s, ">", 1);
}

static void
test_subject_valid_sub_examples(void **state)
{
	static const char *good[] = {
		"foo", "foo.bar", "*", ">", "a.*.c", "a.>", "*.*", "foo.*.>",
		"foo*", "f>o", "foo.*bar", "$SYS.>", "_INBOX.abc.*", "a-b_c",
		"caf\xc3\xa9.x",
	};
	static const char *bad[] = {
		"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.x",
		"> ", "foo bar", "foo\tbar", "foo\r", "foo\nbar", "..", ">.>",
		"a.>.*",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(subject_valid_sub(S(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(subject_valid_sub(S(bad[i])));
}

static void
test_subject_valid_pub_rejects_wildcards(void **state)
{
	(void)state;
	assert_true(subject_valid_pub(S("foo.bar")));
	assert_true(subject_valid_pub(S("foo*")));
	assert_true(subject_valid_pub(S("f>o.x")));
	assert_true(subject_valid_pub(S("_INBOX.abc.1")));
	assert_false(subject_valid_pub(S("foo.*")));
	assert_false(subject_valid_pub(S("foo.>")));
	assert_false(subject_valid_pub(S("*")));
	assert_false(subject_valid_pub(S(">")));
	assert_false(subject_valid_pub(S("a.*.c")));
	assert_false(subject_valid_pub(S("foo..bar")));
	assert_false(subject_valid_pub(S("foo.")));
	assert_false(subject_valid_pub(S("")));
	assert_false(subject_valid_pub(S("foo bar")));
}

static void
test_subject_is_literal(void **state)
{
	(void)state;
	assert_true(subject_is_literal(S("foo.bar")));
	assert_true(subject_is_literal(S("foo*.b>")));
	assert_false(subject_is_literal(S("foo.*")));
	assert_false(subject_is_literal(S("*.foo")));
	assert_false(subject_is_literal(S("foo.>")));
	assert_false(subject_is_literal(S(">")));
}

/* The §2.1 table, one test per row. */
static void
test_subject_matches_literal_row(void **state)
{
	(void)state;
	assert_true(matches("foo.bar", "foo.bar"));
	assert_false(matches("foo.bar", "foo"));
	assert_false(matches("foo.bar", "foo.bar.baz"));
}

static void
test_subject_matches_star_row(void **state)
{
	(void)state;
	assert_true(matches("foo.*", "foo.bar"));
	assert_false(matches("foo.*", "foo"));
	assert_false(matches("foo.*", "foo.bar.baz"));
}

static void
test_subject_matches_middle_star_row(void **state)
{
	(void)state;
	assert_true(matches("foo.*.baz", "foo.x.baz"));
	assert_false(matches("foo.*.baz", "foo.x.y.baz"));
}

static void
test_subject_matches_tail_wildcard_row(void **state)
{
	(void)state;
	assert_true(matches("foo.>", "foo.bar"));
	assert_true(matches("foo.>", "foo.a.b.c"));
	assert_false(matches("foo.>", "foo"));
}

static void
test_subject_matches_full_wildcard_row(void **state)
{
	(void)state;
	assert_true(matches(">", "foo"));
	assert_true(matches(">", "foo.bar"));
	assert_true(matches(">", "a.b.c.d.e"));
	assert_true(matches(">", "$SYS.x"));
}

static void
test_subject_matches_star_star_row(void **state)
{
	(void)state;
	assert_true(matches("*.*", "a.b"));
	assert_false(matches("*.*", "a"));
	assert_false(matches("*.*", "a.b.c"));
}

static void
test_subject_matches_partial_tokens_are_literal(void **state)
{
	(void)state;
	assert_true(matches("foo*", "foo*"));
	assert_false(matches("foo*", "foobar"));
	assert_true(matches("f>o", "f>o"));
	assert_false(matches("f>o", "f.o"));
	assert_false(matches("foo.bar", "foo.baz"));
	assert_false(matches("foo.bar", "foo.barx"));
	assert_false(matches("foo", "Foo"));
}

/* A published '*' or '>' is an ordinary token: only wildcards match it. */
static void
test_subject_matches_published_wildcard_literally(void **state)
{
	(void)state;
	assert_true(matches("foo.*", "foo.*"));
	assert_true(matches("foo.>", "foo.*"));
	assert_true(matches("*.*", "foo.*"));
	assert_true(matches(">", "foo.*"));
	assert_false(matches("foo.bar", "foo.*"));
	assert_false(matches("foo.bar.baz", "foo.*"));
	assert_true(matches("foo.>", "foo.>"));
	assert_true(matches("foo.*", "foo.>"));
	assert_false(matches("foo.bar", "foo.>"));
	assert_false(matches("foo.bar.baz", "foo.>"));
}

static void
test_subject_matches_empty_token_matches_nothing(void **state)
{
	(void)state;
	assert_false(matches(">", "foo..bar"));
	assert_false(matches("foo.>", "foo..bar"));
	assert_false(matches("foo.*.bar", "foo..bar"));
	assert_false(matches("*", ""));
	assert_false(matches(">", ""));
	assert_false(matches(">", "."));
	assert_false(matches(">", ".foo"));
	assert_false(matches("foo.>", "foo."));
	assert_false(matches("*.*", "foo."));
}

static void
test_subject_matches_invalid_pattern_matches_nothing(void **state)
{
	(void)state;
	assert_false(matches("foo.>.bar", "foo.x.bar"));
	assert_false(matches("foo..bar", "foo..bar"));
	assert_false(matches("", ""));
	assert_false(matches("foo.", "foo.x"));
}

static void
test_subject_covers_permission_examples(void **state)
{
	(void)state;
	/* §2.11: allow foo.> permits foo.bar, foo.* and foo.>. */
	assert_true(covers("foo.>", "foo.bar"));
	assert_true(covers("foo.>", "foo.*"));
	assert_true(covers("foo.>", "foo.>"));
	assert_true(covers("foo.>", "foo.a.b.*"));
	assert_false(covers("foo.>", "foo"));
	assert_false(covers("foo.>", "bar.>"));
	assert_false(covers("foo.>", ">"));
	/* allow foo.bar doesn't permit foo.*. */
	assert_true(covers("foo.bar", "foo.bar"));
	assert_false(covers("foo.bar", "foo.*"));
	assert_false(covers("foo.bar", "foo.>"));
	assert_false(covers("foo.bar", "foo.baz"));
	/* '*' covers one token, literal or '*', never '>'. */
	assert_true(covers("foo.*", "foo.bar"));
	assert_true(covers("foo.*", "foo.*"));
	assert_false(covers("foo.*", "foo.>"));
	assert_false(covers("foo.*", "foo.bar.baz"));
	assert_true(covers("*.bar", "*.bar"));
	assert_true(covers(">", ">"));
	assert_true(covers(">", "*.*"));
	assert_false(covers("*", ">"));
	/* Invalid either way round covers nothing. */
	assert_false(covers("foo.>", "foo..x"));
	assert_false(covers("foo..>", "foo..x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject_token_len_walks_tokens),
		cmocka_unit_test(test_subject_valid_sub_examples),
		cmocka_unit_test(test_subject_valid_pub_rejects_wildcards),
		cmocka_unit_test(test_subject_is_literal),
		cmocka_unit_test(test_subject_matches_literal_row),
		cmocka_unit_test(test_subject_matches_star_row),
		cmocka_unit_test(test_subject_matches_middle_star_row),
		cmocka_unit_test(test_subject_matches_tail_wildcard_row),
		cmocka_unit_test(test_subject_matches_full_wildcard_row),
		cmocka_unit_test(test_subject_matches_star_star_row),
		cmocka_unit_test(
		    test_subject_matches_partial_tokens_are_literal),
		cmocka_unit_test(
		    test_subject_matches_published_wildcard_literally),
		cmocka_unit_test(
		    test_subject_matches_empty_token_matches_nothing),
		cmocka_unit_test(
		    test_subject_matches_invalid_pattern_matches_nothing),
		cmocka_unit_test(test_subject_covers_permission_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
