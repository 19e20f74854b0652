/*
 * test_buf.c: the growable byte buffer (daemon/buf.c): appends, consume
 * and compaction, reserve/commit, the hard cap, shrinking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "buf.h"

static void
test_buf_append_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_len(&b), 0);
	assert_null(buf_data(&b));
	assert_int_equal(buf_append(&b, "hello ", 6), 0);
	assert_int_equal(buf_append_str(&b, "world"), 0);
	assert_int_equal(buf_len(&b), 11);
	assert_memory_equal(buf_data(&b), "hello world", 11);
	buf_consume(&b, 6);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_data(&b), "world", 5);
	/* Consuming everything rewinds to the front. */
	buf_consume(&b, 5);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(b.off, 0);
	assert_int_equal(b.len, 0);
	/* Appending nothing is fine, even at the cap. */
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	buf_release(&b);
	assert_null(b.data);
}

static void
test_buf_cap_enforced(void **state)
{
	struct buf b;
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, big, 60), 0);
	assert_int_equal(b.cap, 64);
	/* All or nothing: a refused append leaves the bytes alone. */
	assert_int_equal(buf_append(&b, big, 5), -ENOBUFS);
	assert_int_equal(buf_len(&b), 60);
	assert_int_equal(buf_append(&b, big, 4), 0);
	assert_int_equal(buf_append(&b, big, 1), -ENOBUFS);
	assert_int_equal(buf_reserve(&b, (size_t)-1), -ENOBUFS);
	assert_int_equal(buf_len(&b), 64);
	/* Consumed bytes free room: compaction, no growth. */
	buf_consume(&b, 10);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.cap, 64);
	assert_int_equal(buf_len(&b), 64);
	assert_memory_equal(buf_data(&b) + 54, "0123456789", 10);
	buf_release(&b);

	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
	buf_release(&b);
}

static void
test_buf_grows_by_doubling(void **state)
{
	struct buf b;
	char chunk[300];
	int i;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	buf_init(&b, BUF_NOLIMIT);
	assert_int_equal(buf_append(&b, chunk, 1), 0);
	assert_int_equal(b.cap, BUF_MIN_ALLOC);
	for (i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(buf_len(&b), 3001);
	assert_int_equal(b.cap, 4096);
	buf_release(&b);
}

static void
test_buf_reserve_commit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(buf_reserve(&b, 100), 0);
	assert_true(buf_avail(&b) >= 100);
	memcpy(buf_tail(&b), "abc", 3);
	buf_commit(&b, 3);
	assert_int_equal(buf_len(&b), 3);
	assert_memory_equal(buf_data(&b), "abc", 3);
	/* A reserve after a consume slides the bytes to the front. */
	buf_consume(&b, 1);
	assert_int_equal(buf_reserve(&b, buf_avail(&b) + 1), 0);
	assert_int_equal(b.off, 0);
	assert_memory_equal(buf_data(&b), "bc", 2);
	buf_reset(&b);
	assert_int_equal(buf_len(&b), 0);
	buf_release(&b);
}

static void
test_buf_compact_and_shrink(void **state)
{
	static char big[5000];
	struct buf b;

	(void)state;
	memset(big, 'z', sizeof(big));
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.cap, 8192);
	buf_consume(&b, 4990);
	buf_compact(&b);
	assert_int_equal(b.off, 0);
	assert_int_equal(buf_len(&b), 10);
	assert_int_equal(buf_shrink(&b, 0), 0);
	assert_int_equal(b.cap, BUF_MIN_ALLOC);
	assert_int_equal(buf_len(&b), 10);
	assert_memory_equal(buf_data(&b), big, 10);
	/* Never below what is held. */
	assert_int_equal(buf_append(&b, big, 1000), 0);
	assert_int_equal(buf_shrink(&b, 0), 0);
	assert_int_equal(b.cap, 1010);
	buf_release(&b);
}

static void
test_buf_new_free(void **state)
{
	struct buf *b;

	(void)state;
	buf_free(NULL);
	b = buf_new(16);
	assert_non_null(b);
	assert_int_equal(buf_append(b, "0123456789abcdef", 16), 0);
	assert_int_equal(buf_append(b, "x", 1), -ENOBUFS);
	buf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_consume),
		cmocka_unit_test(test_buf_cap_enforced),
		cmocka_unit_test(test_buf_grows_by_doubling),
		cmocka_unit_test(test_buf_reserve_commit),
		cmocka_unit_test(test_buf_compact_and_shrink),
		cmocka_unit_test(test_buf_new_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
