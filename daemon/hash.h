/*
 * hash.h: FNV-1a over bytes, for the daemon's small hash tables (sid
 * tables, interest counts, datagram sources, the publish cache), where
 * keys are short and a table is not exposed to chosen-key floods worse
 * than its owner's own traffic.  The subject index has its own, faster
 * hash (sublist.c).
 */
#ifndef COROBUS_HASH_H
#define COROBUS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_INIT	1469598103934665603ULL

/* Folds len bytes of p into h (start with HASH_FNV_INIT). */
static inline uint64_t
hash_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

#endif
