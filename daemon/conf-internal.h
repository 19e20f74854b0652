/*
 * conf-internal.h: what conf.c, conf_value.c and conf_include.c share.
 * Never installed; conf.h is the API.
 *
 * The key table's types, the state of one load, and the calls that cross
 * files, grouped by the file that defines them: conf__ names live in
 * conf.c, conf_value_ names in conf_value.c, conf_include_ names in
 * conf_include.c.  No libyaml here: only conf.c knows YAML.
 */
#ifndef COROBUS_CONF_INTERNAL_H
#define COROBUS_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define KiB	(1LL << 10)
#define MiB	(1LL << 20)
#define GiB	(1LL << 30)
#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define FIELD(base, off, type)	((type *)(void *)((char *)(base) + (off)))
/* type may itself be a pointer type: go through uintptr_t so that
 * "const type *" (const applies to the field, not what it points to)
 * does not trip -Wcast-qual */
#define CFIELD(base, off, type)	\
	((const type *)((uintptr_t)(base) + (off)))

enum ctype {
	CT_SECTION,	/* a mapping of the keys under path. */
	CT_STRING,	/* char * */
	CT_PATH,	/* char *, relative to the naming file's directory */
	CT_COUNT,	/* unsigned int, decimal */
	CT_SIZE,	/* uint64_t bytes: 64KiB, 1MiB, bare = bytes */
	CT_DURATION,	/* int64_t ms: 500ms, 30s, 2m, 1h30m */
	CT_ENUM,	/* int, index into names[] */
	CT_MODE,	/* unsigned int, octal string "0660" */
	CT_ADDRESS,	/* host:port -> char * at off, char * at off2 */
	CT_LIST,	/* sequence of mappings: array at off, count at off2 */
	CT_INCLUDE,	/* glob or list of globs; not stored */
	CT_BOOL,	/* int, true or false */
	CT_STRLIST,	/* a string or a list of strings: char ** at off,
			   size_t count at off2 */
};

#define CK_RELOAD	0x1	/* a reload applies a new value */
#define CK_SECRET	0x2	/* conf_dump prints it redacted */
#define CK_EMPTY	0x4	/* CT_ADDRESS: "" unsets it (NULL, NULL) */
#define CK_PRESENT	0x8	/* CT_SECTION: int at off is 1 when given */
#define CK_BOOLEAN	0x10	/* CT_SECTION: may also be true or false,
				   stored at off (with CK_PRESENT) */
#define CK_RAW		0x40	/* taken literally: no ${NAME} ($ in crypt
				   hashes) */
#define CK_SHORT	0x20	/* CT_SECTION: a list or a scalar is the
				   value of its first key */
/* Checked when set, so an error points at the item (the override path
 * checks them too): */
#define CK_ROUTE	0x80	/* CT_STRLIST: route URLs
				   (conf_route_url_parse); conf_dump
				   redacts their passwords */
#define CK_SUBJECT	0x100	/* CT_STRLIST: subjects, wildcards allowed */
#define CK_HOSTPORT	0x200	/* CT_STRING: "" or host:port with a host
				   and a port from 1 */

struct conf_key;

/* A list of mappings: the item's own key table and its extra fields. */
struct conf_list {
	const struct conf_key	*keys;
	size_t			 nkeys;
	size_t			 item_size;
	/* records where the item starts; 0 or -1 (out of memory) */
	int	(*item_init)(void *, const char *, int, int);
	/* checks an item once parsed; seen[] says which keys were given */
	int	(*item_check)(void *, const bool *, const char **, char *,
		    size_t);
	/* copies and frees the fields outside the key table */
	int	(*item_copy)(void *, const void *);
	void	(*item_free)(void *);
	/* true if conf_dump should leave this key of this item out */
	bool	(*item_skip)(const void *, const struct conf_key *);
};

struct conf_key {
	const char		*path;	/* "limits.max_payload" */
	const char		*doc;	/* documented path if not path */
	enum ctype		 type;
	int			 flags;
	size_t			 off, off2;
	int64_t			 min, max;
	const char		*def;	/* YAML text of the default, or NULL */
	const char *const	*names;	/* CT_ENUM, NULL-terminated */
	const struct conf_list	*list;	/* CT_LIST */
};

/* Where a value was set, for whole-config errors. */
struct mark {
	const char	*file;	/* NULL: not from a file */
	int		 line, col;
};

/* One conf_load: the struct being filled and the files read so far. */
struct load {
	struct conf		*conf;
	struct conf_error	*err;
	int			 flags;
	bool			 failed;
	char			**stack;	/* realpaths being read */
	size_t			 nstack;
	char			**done;		/* realpaths read */
	size_t			 ndone;
	char			**names;	/* display names, for marks */
	size_t			 nnames;
	struct mark		*set;		/* [NKEYS]: where each key was
						 * last set */
};

/* An include glob as written, and where. */
struct include {
	char		*pattern;
	struct mark	 from;
};

/* conf.c */
int	 conf__errf(struct conf_error *, const char *, int, int, const char *,
	    int, const char *, ...) __attribute__((format(printf, 7, 8)));
/* Records the first error of a load; later ones are consequences. */
int	 conf__lerr(struct load *, const struct mark *, const char *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
int	 conf__oom(struct load *);
int	 conf__push_str(char ***, size_t *, char *);
/* Parses one file's bytes (name for messages) at include depth depth. */
int	 conf__parse_buffer(struct load *, const char *name, const void *,
	    size_t, int depth);

/* conf_value.c */
char	*conf_value_path_join(const char *dir, const char *rel);
int	 conf_value_dup_str(char **, const char *);
const char	*conf_value_scan_uint(const char *, uint64_t *, bool *ovf);
void	 conf_value_format_size(uint64_t, char *, size_t);
void	 conf_value_format_duration(int64_t, char *, size_t);
int	 conf_value_parse_port(const char *, char *msg, size_t);
bool	 conf_value_hosts_clash(const char *, const char *);
int	 conf_value_expand(const char *, char **, char *msg, size_t);
void	 conf_value_free(const struct conf_key *, void *base);
int	 conf_value_set(const struct conf_key *, void *base, const char *,
	    const char *dir, char *msg, size_t);
int	 conf_value_strlist_add(const struct conf_key *, void *base,
	    const char *, char *msg, size_t);
int	 conf_value_set_defaults(const struct conf_key *, size_t, void *base);
bool	 conf_value_same(const struct conf_key *, const void *, const void *);
int	 conf_value_copy(const struct conf_key *, void *dst, const void *src);
void	 conf_value_move(const struct conf_key *, void *dst, void *src);
void	 conf_value_dump(FILE *, const struct conf_key *, const void *base);

/* conf_include.c */
char	*conf_include_file_dir(const char *);
int	 conf_include_run(struct load *, const struct include *, size_t,
	    const char *dir, int depth);
int	 conf_include_load_file(struct load *, const char *, int depth,
	    const struct mark *from);
int	 conf_include_load_confd(struct load *, const char *);

#endif /* COROBUS_CONF_INTERNAL_H */
