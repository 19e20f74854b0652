/*
 * buf.c: growable byte buffer with a hard cap (see buf.h).
 *
 * Consuming only moves off; the bytes are slid back to the front lazily,
 * when a reserve would otherwise have to grow the storage, or at once when
 * the buffer becomes empty (off = len = 0 costs nothing).  So a read
 * buffer that is parsed and consumed frame by frame is copied at most once
 * per refill, and a write buffer drained by partial writes is not copied
 * at all until it has to take more bytes than fit behind its tail.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

struct buf *
buf_new(size_t max)
{
	struct buf *b;

	if ((b = malloc(sizeof(*b))) == NULL)
		return NULL;
	buf_init(b, max);
	return b;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	buf_release(b);
	free(b);
}

void
buf_compact(struct buf *b)
{
	size_t n = b->len - b->off;

	if (b->off == 0)
		return;
	if (n > 0)
		memmove(b->data, b->data + b->off, n);
	b->off = 0;
	b->len = n;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t used = b->len - b->off, want, ncap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (n > b->max || used > b->max - n)
		return -ENOBUFS;
	want = used + n;
	if (want <= b->cap) {
		buf_compact(b);
		return 0;
	}
	ncap = b->cap < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : b->cap;
	while (ncap < want)
		ncap = ncap > ((size_t)-1) / 2 ? want : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	buf_compact(b);
	if ((p = realloc(b->data, ncap)) == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *src, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

void
buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	b->len += n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len - b->off) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

int
buf_shrink(struct buf *b, size_t keep)
{
	size_t used = b->len - b->off, ncap;
	char *p;

	ncap = keep > used ? keep : used;
	if (ncap < BUF_MIN_ALLOC)
		ncap = BUF_MIN_ALLOC;
	if (ncap >= b->cap)
		return 0;
	buf_compact(b);
	if ((p = realloc(b->data, ncap)) == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}
