/*
 * test_passwd.c: password files and hashes: the "user:hash" parser
 * (comments, blank lines, CRLF, each error with its line), yescrypt and
 * bcrypt hashes made and verified, a bcrypt hash as nats-server's tools
 * write it ($2a$), plain-text comparison, and wrong passwords refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "passwd.h"

static void
test_passwd_parse(void **state)
{
	static const char text[] =
	    "# users\n"
	    "\n"
	    "alice:$y$j9T$abc$def\n"
	    "bob:$2b$11$xyz\r\n"
	    "carol:plain:with:colons\n"
	    "dave:last";
	struct passwd_entry *v;
	char err[128];
	size_t n;

	(void)state;
	assert_int_equal(passwd_parse(text, strlen(text), &v, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].user, "alice");
	assert_string_equal(v[0].hash, "$y$j9T$abc$def");
	assert_string_equal(v[1].user, "bob");
	assert_string_equal(v[1].hash, "$2b$11$xyz");
	assert_string_equal(v[2].user, "carol");
	assert_string_equal(v[2].hash, "plain:with:colons");
	assert_string_equal(v[3].hash, "last");
	passwd_entries_free(v, n);
}

static void
test_passwd_parse_errors(void **state)
{
	static const char *const bad[] = {
		"alice:x\nnocolon\n", "ok:x\n\n:nouser\n", "nohash:\n",
	};
	static const char *const where[] = {
		"line 2", "line 3", "line 1",
	};
	struct passwd_entry *v;
	char err[128];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(passwd_parse(bad[i], strlen(bad[i]), &v, &n,
		    err, sizeof(err)), -1);
		assert_non_null(strstr(err, where[i]));
		assert_non_null(strstr(err, "expected user:hash"));
	}
	assert_int_equal(passwd_load("/nonexistent/passwd", &v, &n, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_passwd_hash_and_verify(void **state)
{
	char *y, *b;

	(void)state;
	y = passwd_hash("s3cret", NULL);
	assert_non_null(y);
	assert_memory_equal(y, "$y$", 3);
	assert_true(passwd_is_hash(y));
	assert_true(passwd_verify("s3cret", y));
	assert_false(passwd_verify("s3cre", y));
	assert_false(passwd_verify("", y));
	b = passwd_hash("s3cret", "bcrypt");
	assert_non_null(b);
	assert_memory_equal(b, "$2b$11$", 7);
	assert_true(passwd_verify("s3cret", b));
	assert_false(passwd_verify("other", b));
	assert_null(passwd_hash("x", "md5"));
	/* nats-server's tools write $2a$: the same hash for ASCII */
	b[2] = 'a';
	assert_true(passwd_verify("s3cret", b));
	assert_false(passwd_verify("s3cret!", b));
	free(y);
	free(b);
}

static void
test_passwd_nats_bcrypt_and_plain(void **state)
{
	/* "password", hashed with bcrypt cost 10 as $2a$ */
	static const char h[] =
	    "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

	(void)state;
	assert_true(passwd_is_hash(h));
	assert_false(passwd_verify("wrong", h));
	assert_false(passwd_is_hash("plain"));
	assert_false(passwd_is_hash("$onlyone"));
	assert_true(passwd_verify("plain", "plain"));
	assert_false(passwd_verify("plain", "plain2"));
	assert_false(passwd_verify("plain2", "plain"));
	/* a broken hash never verifies */
	assert_false(passwd_verify("x", "$2a$10$short"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd_parse),
		cmocka_unit_test(test_passwd_parse_errors),
		cmocka_unit_test(test_passwd_hash_and_verify),
		cmocka_unit_test(test_passwd_nats_bcrypt_and_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
