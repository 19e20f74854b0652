/*
 * subject.h: NATS subject syntax (protocol doc §2.1): validation of SUB and
 * PUB subjects, wildcard matching, and the "covers" test used by subscribe
 * permissions.  Pure functions over (pointer, length); no I/O, no
 * allocation, shared by the daemon and the client.
 */
#ifndef SUBJECT_H
#define SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the first token of s: the bytes before the first '.', or len
 * if there is none.  To walk a subject:
 *
 *	for (;;) {
 *		n = subject_token_len(s, len);
 *		... token is s[0..n) ...
 *		if (n == len)
 *			break;
 *		s += n + 1;
 *		len -= n + 1;
 *	}
 *
 * A trailing '.' thus yields a last, empty token.
 */
size_t	subject_token_len(const char *s, size_t len);

/*
 * A valid SUB subject: one or more non-empty tokens separated by '.', no
 * space, tab, CR or LF, and '>' only as the last token.  '*' and '>' are
 * wildcards only as whole tokens: "foo*" and "f>o" are literal tokens.
 */
bool	subject_valid_sub(const char *s, size_t len);

/* A valid PUB subject: the same lexical rules, and no wildcard token. */
bool	subject_valid_pub(const char *s, size_t len);

/*
 * True if no token is exactly "*" or ">".  Says nothing about validity;
 * meant for subjects already checked by subject_valid_sub.
 */
bool	subject_is_literal(const char *s, size_t len);

/*
 * Does the subscription pattern match the published subject?  The
 * published subject is taken literally: a published token "*" or ">" is an
 * ordinary token, so it is matched only by a '*' or '>' in the pattern,
 * never by a literal token.  A published subject with an empty token
 * ("foo..bar", "foo.", "") matches nothing (nats-server#1860), and so does
 * a pattern that isn't a valid SUB subject.  Published tokens are not
 * otherwise checked (the parser never hands over whitespace).
 */
bool	subject_matches(const char *pattern, size_t plen,
	    const char *subject, size_t slen);

/*
 * Permissions: does pattern (an allow or deny entry, wildcards allowed)
 * cover every subject the subscription sub could match?  "foo.>" covers
 * "foo.bar", "foo.*" and "foo.>"; "foo.bar" doesn't cover "foo.*".  Unlike
 * a literal match, a '*' in pattern doesn't cover a '>' in sub ("foo.*"
 * doesn't cover "foo.>", which also receives "foo.a.b"): nats-server would
 * accept that one, we refuse it because it would leak subjects the entry
 * doesn't allow.  False if either isn't a valid SUB subject.
 */
bool	subject_pattern_covers(const char *pattern, size_t plen,
	    const char *sub, size_t slen);

#endif
