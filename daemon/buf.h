/*
 * buf.h: a growable byte buffer with a hard cap, used for the daemon's
 * per-connection read and write buffers and by the protocol encoder.
 *
 * The valid bytes are data[off, len): appends go at len, consumers take
 * from off.  Storage grows by doubling (at least BUF_MIN_ALLOC) but never
 * past max; before growing, a reserve slides the valid bytes back to the
 * front when that makes room.  No I/O, no global state.
 *
 * Errors are negative errno values: -ENOBUFS when the cap would be
 * exceeded, -ENOMEM when realloc fails.  On error the buffer is unchanged.
 */
#ifndef COROBUS_BUF_H
#define COROBUS_BUF_H

#include <stddef.h>

#define BUF_MIN_ALLOC	512
#define BUF_NOLIMIT	((size_t)-1)

struct buf {
	char		*data;		/* NULL until the first reserve */
	size_t		 off;		/* first valid byte; off <= len */
	size_t		 len;		/* one past the last valid byte */
	size_t		 cap;		/* allocated bytes; len <= cap <= max */
	size_t		 max;		/* hard cap on cap */
};

/* Initialises an empty buffer that will never hold more than max bytes. */
void	 buf_init(struct buf *, size_t max);
/* Frees the storage; the buffer is empty and can be reused. */
void	 buf_release(struct buf *);

/* Heap-allocated variants: buf_free(NULL) is a no-op. */
struct buf	*buf_new(size_t max);
void		 buf_free(struct buf *);

/*
 * Makes room for n more bytes after the valid ones (compacting or
 * growing).  Returns 0, -ENOBUFS (valid bytes + n > max) or -ENOMEM.
 */
int	 buf_reserve(struct buf *, size_t n);
/* Appends n bytes (all or nothing).  Same returns as buf_reserve. */
int	 buf_append(struct buf *, const void *, size_t n);
int	 buf_append_str(struct buf *, const char *);
/* Marks n bytes written at buf_tail() (after a reserve) as valid. */
void	 buf_commit(struct buf *, size_t n);
/* Drops n bytes from the front (n <= buf_len()); empties resets off. */
void	 buf_consume(struct buf *, size_t n);
/* Slides the valid bytes to the front of the storage. */
void	 buf_compact(struct buf *);
/* Drops every byte, keeps the storage. */
void	 buf_reset(struct buf *);
/*
 * Shrinks the storage to max(keep, valid bytes, BUF_MIN_ALLOC) when it is
 * bigger (adaptive read buffers give memory back after a burst).
 * Returns 0 or -ENOMEM (the buffer is then unchanged).
 */
int	 buf_shrink(struct buf *, size_t keep);

/* The valid bytes. */
static inline char *
buf_data(const struct buf *b)
{
	return b->data != NULL ? b->data + b->off : NULL;
}

static inline size_t
buf_len(const struct buf *b)
{
	return b->len - b->off;
}

/* Where the next byte goes, and how many fit there without a reserve. */
static inline char *
buf_tail(const struct buf *b)
{
	return b->data != NULL ? b->data + b->len : NULL;
}

static inline size_t
buf_avail(const struct buf *b)
{
	return b->cap - b->len;
}

#endif
