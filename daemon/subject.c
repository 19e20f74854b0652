/*
 * subject.c: NATS subject syntax, protocol doc §2.1.
 *
 * A subject is tokens separated by '.'; '*' (one token) and '>' (one or
 * more tokens, last only) are wildcards when they are a whole token.  This
 * file owns the lexical checks, the reference matcher (the subject index in
 * sublist.c must agree with subject_matches; its tests and fuzzer check
 * exactly that) and the coverage test used for subscribe permissions.
 * Everything works on (pointer, length) pairs straight out of the parser's
 * buffer: nothing here needs a NUL or allocates.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "subject.h"

/* Whole-token wildcard tests; a token is never NUL-terminated. */
#define TOK_IS_PWC(t, n)	((n) == 1 && (t)[0] == '*')
#define TOK_IS_FWC(t, n)	((n) == 1 && (t)[0] == '>')

size_t
subject_token_len(const char *s, size_t len)
{
	const char *dot;

	if (len == 0)
		return 0;
	dot = memchr(s, '.', len);
	return dot == NULL ? len : (size_t)(dot - s);
}

/* True if s has an empty token: "", ".a", "a.", "a..b". */
static bool
subject_has_empty_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return true;
	for (i = 1; i < len; i++)
		if (s[i] == '.' && s[i - 1] == '.')
			return true;
	return false;
}

/*
 * The checks SUB and PUB subjects share; *wild is set if some token is a
 * wildcard.  One pass over the bytes, so it is cheap enough for every SUB.
 */
static bool
subject_check(const char *s, size_t len, bool *wild)
{
	size_t i, start;
	bool fwc_seen = false;

	*wild = false;
	if (len == 0)
		return false;
	for (i = 0, start = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			switch (s[i]) {
			case ' ':
			case '\t':
			case '\r':
			case '\n':
				return false;
			}
			continue;
		}
		/* s[start..i) is a token. */
		if (i == start || fwc_seen)
			return false;
		if (TOK_IS_PWC(s + start, i - start))
			*wild = true;
		else if (TOK_IS_FWC(s + start, i - start))
			*wild = fwc_seen = true;
		start = i + 1;
	}
	return true;
}

bool
subject_valid_sub(const char *s, size_t len)
{
	bool wild;

	return subject_check(s, len, &wild);
}

bool
subject_valid_pub(const char *s, size_t len)
{
	bool wild;

	return subject_check(s, len, &wild) && !wild;
}

bool
subject_is_literal(const char *s, size_t len)
{
	size_t n;

	for (;;) {
		n = subject_token_len(s, len);
		if (TOK_IS_PWC(s, n) || TOK_IS_FWC(s, n))
			return false;
		if (n == len)
			return true;
		s += n + 1;
		len -= n + 1;
	}
}

bool
subject_matches(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t pn, sn;

	if (!subject_valid_sub(p, plen) || subject_has_empty_token(s, slen))
		return false;
	for (;;) {
		pn = subject_token_len(p, plen);
		sn = subject_token_len(s, slen);
		/* A valid pattern has '>' last; and a subject token is here. */
		if (TOK_IS_FWC(p, pn))
			return true;
		if (!TOK_IS_PWC(p, pn) && (pn != sn || memcmp(p, s, pn) != 0))
			return false;
		if (pn == plen || sn == slen)
			return pn == plen && sn == slen;
		p += pn + 1;
		plen -= pn + 1;
		s += sn + 1;
		slen -= sn + 1;
	}
}

bool
subject_pattern_covers(const char *p, size_t plen, const char *s,
    size_t slen)
{
	size_t pn, sn;

	if (!subject_valid_sub(p, plen) || !subject_valid_sub(s, slen))
		return false;
	for (;;) {
		pn = subject_token_len(p, plen);
		sn = subject_token_len(s, slen);
		if (TOK_IS_FWC(p, pn))
			return true;
		if (TOK_IS_PWC(p, pn)) {
			/* One token can't stand for the many '>' receives. */
			if (TOK_IS_FWC(s, sn))
				return false;
		} else if (TOK_IS_PWC(s, sn) || TOK_IS_FWC(s, sn) ||
		    pn != sn || memcmp(p, s, pn) != 0)
			return false;
		if (pn == plen || sn == slen)
			return pn == plen && sn == slen;
		p += pn + 1;
		plen -= pn + 1;
		s += sn + 1;
		slen -= sn + 1;
	}
}
