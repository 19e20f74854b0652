/*
 * perm.h: publish and subscribe permissions (protocol doc §2.11),
 * compiled from a struct conf_perms, and the per-connection state that
 * goes with them: a cache of publish decisions and the reply subjects a
 * connection may answer (allow_responses).  No I/O, no clock: callers
 * pass the time.
 */
#ifndef PERM_H
#define PERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct perm_entry {
	char		*subject;
	size_t		 subject_len;
	char		*queue;		/* NULL: plain, any queue */
	size_t		 queue_len;
};

struct perm_list {
	struct perm_entry	*v;
	size_t			 n;
	bool			 set;	/* an allow list was given */
};

struct perm {
	struct perm_list	 pub_allow, pub_deny, sub_allow, sub_deny;
	bool			 responses;
	unsigned int		 resp_max;
	int64_t			 resp_expires;	/* ms */
};

/* Compiles p; NULL with the reason in err (a bad subject, or out of
 * memory). */
struct perm	*perm_new(const struct conf_perms *p, char *err,
		    size_t errlen);
void		 perm_free(struct perm *);

/* Publish: (no allow list, or an allow entry matches) and no deny entry
 * matches the literal subject.  NULL p allows everything. */
bool		 perm_pub_ok(const struct perm *, const char *subject,
		    size_t len);
/* Subscribe: the subject (wildcards taken as written) must be covered by
 * an allow entry whose queue part fits, and by no deny entry.  queue
 * NULL for a plain subscription. */
bool		 perm_sub_ok(const struct perm *, const char *subject,
		    size_t len, const char *queue, size_t qlen);
/* Delivery to a wildcard subscription that overlaps a deny entry: false
 * when a deny entry matches the published subject. */
bool		 perm_deliver_ok(const struct perm *, const char *subject,
		    size_t len, const char *queue, size_t qlen);

/* A direct-mapped cache of publish decisions, per connection. */
#define PERM_CACHE_SIZE		64
#define PERM_CACHE_SUBJECT	64	/* longer subjects are not cached */

struct perm_cache {
	struct {
		uint8_t	 len;		/* 0: empty */
		bool	 ok;
		char	 subject[PERM_CACHE_SUBJECT];
	} e[PERM_CACHE_SIZE];
};

bool		 perm_pub_cached(const struct perm *, struct perm_cache *,
		    const char *subject, size_t len);
void		 perm_cache_clear(struct perm_cache *);

/* Reply subjects a connection received and may publish to (at most
 * resp_max times, until it expires). */
struct perm_resp {
	char		*subject;
	size_t		 len;
	unsigned int	 left;
	int64_t		 expires;
};

#define PERM_RESP_MAX	4096	/* per connection, oldest dropped */

struct perm_resps {
	struct perm_resp	*v;
	size_t			 n, cap;
};

/* Records that a message with reply subject reply went to the
 * connection (only when p->responses).  0, or -1 out of memory. */
int		 perm_resp_add(const struct perm *, struct perm_resps *,
		    const char *reply, size_t len, int64_t now);
/* A publish to subject uses one response allowance: true if there was
 * one. */
bool		 perm_resp_take(struct perm_resps *, const char *subject,
		    size_t len, int64_t now);
void		 perm_resps_free(struct perm_resps *);

#endif
