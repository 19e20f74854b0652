/*
 * conf.c: corobus.yaml -> struct conf.  The only file that knows YAML.
 *
 * Every key is one row of conf_keys[] (Redis' static_configs[]): its
 * dotted path, type, bounds, default as written in YAML, whether a reload
 * applies it, and where its value lives in struct conf.  Parsing, defaults,
 * conf_dump, conf_diff_restart, overrides and conf_free all walk that
 * table, so a new key is a row plus a struct field.  Lists of mappings
 * (listeners) have a table of their own.
 *
 * libyaml's event API drives a small recursive descent over the schema;
 * an event that is not what the schema expects is an error at once, so
 * the descent never goes deeper than the schema.  Aliases, anchors and
 * tags are refused.  Files are merged in reading order: the main file,
 * its includes (depth first, after the file that names them), then
 * conf.d/ *.yaml; a later scalar replaces an earlier one, listeners
 * append.  Whole-config checks run once at the end.  Errors are returned
 * as text, never printed; the first one wins.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf.h"

#ifndef CONF_DEFAULT_LOG_FILE
#define CONF_DEFAULT_LOG_FILE	"/var/log/corobus/corobus.log"
#endif
#define CONF_DEFAULT_ADDRESS	"127.0.0.1:4240"
#define CONF_INCLUDE_DEPTH	8		/* the main file is depth 0 */
#define CONF_FILE_MAX		(4 << 20)	/* bytes per file */
#define CONF_KEY_MAX		64		/* longest key we look up */
#define KEYPATH_MAX		256		/* "listeners[12].address" */

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
};

#define CK_RELOAD	0x1	/* a reload applies a new value */
#define CK_SECRET	0x2	/* conf_dump prints it redacted */

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

static const char *const proto_names[] = { "nats", NULL };
static const char *const log_target_names[] = {
	"stderr", "file", "syslog", "journal", NULL
};
static const char *const log_level_names[] = {
	"error", "warning", "notice", "info", "debug", "trace", NULL
};

#define LF(f)	offsetof(struct conf_listener, f)
#define CF(f)	offsetof(struct conf, f)

/* Indices into listener_keys[]. */
#define LK_ADDRESS	1
#define LK_MODE		3

static const struct conf_key listener_keys[] = {
	{ "protocol", "listeners[].protocol", CT_ENUM, 0, LF(proto), 0,
	    0, 0, "nats", proto_names, NULL },
	{ "address", "listeners[].address", CT_ADDRESS, 0, LF(host),
	    LF(port), 0, 0, NULL, NULL, NULL },
	{ "unix", "listeners[].unix", CT_PATH, 0, LF(unix_path), 0,
	    0, 0, NULL, NULL, NULL },
	{ "mode", "listeners[].mode", CT_MODE, 0, LF(mode), 0,
	    0, 0777, "0660", NULL, NULL },
};

static int	listener_init(void *, const char *, int, int);
static int	listener_check(void *, const bool *, const char **, char *,
		    size_t);
static int	listener_copy(void *, const void *);
static void	listener_free(void *);
static bool	listener_skip(const void *, const struct conf_key *);

static const struct conf_list listener_list = {
	listener_keys, nitems(listener_keys), sizeof(struct conf_listener),
	listener_init, listener_check, listener_copy, listener_free,
	listener_skip
};

/* name, type, flags, field, min, max, default */
#define KEY(p, t, fl, f, lo, hi, d)	\
	{ p, NULL, t, fl, CF(f), 0, lo, hi, d, NULL, NULL }
#define ENUM(p, fl, f, names, d)	\
	{ p, NULL, CT_ENUM, fl, CF(f), 0, 0, 0, d, names, NULL }
#define SECTION(p)			\
	{ p, NULL, CT_SECTION, CK_RELOAD, 0, 0, 0, 0, NULL, NULL, NULL }

/* A section's keys follow it: conf_dump relies on the order. */
static const struct conf_key conf_keys[] = {
	KEY("server_name", CT_STRING, 0, server_name, 0, 0, ""),
	{ "listeners", NULL, CT_LIST, 0, CF(listeners), CF(nlisteners),
	    0, 0, CONF_DEFAULT_ADDRESS, NULL, &listener_list },
	SECTION("limits"),
	KEY("limits.max_connections", CT_COUNT, CK_RELOAD,
	    limits.max_connections, 1, 1000000, "65536"),
	KEY("limits.max_payload", CT_SIZE, CK_RELOAD,
	    limits.max_payload, 1, 64 * MiB, "1MiB"),
	KEY("limits.max_control_line", CT_SIZE, CK_RELOAD,
	    limits.max_control_line, 256, 1 * MiB, "4KiB"),
	KEY("limits.max_subscriptions", CT_COUNT, CK_RELOAD,
	    limits.max_subscriptions, 0, 1000000000, "0"),
	KEY("limits.max_pending", CT_SIZE, CK_RELOAD,
	    limits.max_pending, 64 * KiB, 64 * GiB, "64MiB"),
	KEY("limits.write_deadline", CT_DURATION, CK_RELOAD,
	    limits.write_deadline, 100, 1 * HOUR, "10s"),
	KEY("limits.ping_interval", CT_DURATION, CK_RELOAD,
	    limits.ping_interval, 1 * SEC, 24 * HOUR, "2m"),
	KEY("limits.ping_max", CT_COUNT, CK_RELOAD,
	    limits.ping_max, 1, 1000, "2"),
	KEY("limits.auth_timeout", CT_DURATION, CK_RELOAD,
	    limits.auth_timeout, 100, 10 * MIN, "2s"),
	KEY("lame_duck_duration", CT_DURATION, CK_RELOAD,
	    lame_duck_duration, 30 * SEC, 24 * HOUR, "2m"),
	KEY("lame_duck_grace_period", CT_DURATION, CK_RELOAD,
	    lame_duck_grace_period, 0, 1 * HOUR, "10s"),
	SECTION("log"),
	ENUM("log.target", CK_RELOAD, log.target, log_target_names,
	    "stderr"),
	ENUM("log.level", CK_RELOAD, log.level, log_level_names, "info"),
	KEY("log.file", CT_PATH, CK_RELOAD, log.file, 0, 0,
	    CONF_DEFAULT_LOG_FILE),
	{ "include", NULL, CT_INCLUDE, CK_RELOAD, 0, 0, 0, 0, NULL, NULL,
	    NULL },
};

#define NKEYS	nitems(conf_keys)

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
	struct mark		 set[NKEYS];	/* where each was last set */
};

struct include {
	char		*pattern;
	yaml_mark_t	 mark;
};

/* One YAML stream being parsed. */
struct yfile {
	struct load	*ld;
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	bool		 have_ev;
	const char	*name;		/* display name, owned by ld->names */
	char		*dir;		/* directory of name */
	int		 depth;
	struct include	*incs;
	size_t		 nincs;
};

/* Per-key state of one mapping being parsed. */
struct seen {
	bool		 set;
	yaml_mark_t	 mark;
};

static int	load_file(struct load *, const char *, int,
		    const struct mark *);
static int	check_conf(const struct conf *, const struct mark *,
		    struct conf_error *);

/*
 * Errors.
 */

static int verr(struct conf_error *, const char *, int, int, const char *,
    int, const char *, va_list) __attribute__((format(printf, 7, 0)));

static int
verr(struct conf_error *err, const char *file, int line, int col,
    const char *key, int errnum, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n = 0;

	if (err == NULL)
		return -1;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	err->text[0] = '\0';
	if (file != NULL && line > 0)
		n = snprintf(err->text, sizeof(err->text), "%s:%d:%d: ", file,
		    line, col);
	else if (file != NULL)
		n = snprintf(err->text, sizeof(err->text), "%s: ", file);
	if (n >= sizeof(err->text))
		n = sizeof(err->text) - 1;
	if (key != NULL)
		snprintf(err->text + n, sizeof(err->text) - n, "%s: %s", key,
		    msg);
	else
		snprintf(err->text + n, sizeof(err->text) - n, "%s", msg);
	err->line = file != NULL ? line : 0;
	err->col = file != NULL ? col : 0;
	err->errnum = errnum;
	return -1;
}

static int __attribute__((format(printf, 7, 8)))
errf(struct conf_error *err, const char *file, int line, int col,
    const char *key, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(err, file, line, col, key, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

/* Records the first error of a load; later ones are consequences. */
static int __attribute__((format(printf, 4, 5)))
lerr(struct load *ld, const struct mark *m, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	if (ld->failed)
		return -1;
	ld->failed = true;
	va_start(ap, fmt);
	if (m != NULL)
		verr(ld->err, m->file, m->line, m->col, key, 0, fmt, ap);
	else
		verr(ld->err, NULL, 0, 0, key, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int __attribute__((format(printf, 4, 5)))
yerr(struct yfile *y, const yaml_mark_t *ym, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	if (y->ld->failed)
		return -1;
	y->ld->failed = true;
	va_start(ap, fmt);
	verr(y->ld->err, y->name, (int)ym->line + 1, (int)ym->column + 1,
	    key, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int
oom(struct load *ld)
{
	if (!ld->failed) {
		ld->failed = true;
		errf(ld->err, NULL, 0, 0, NULL, ENOMEM, "out of memory");
	}
	return -1;
}

/*
 * Small string helpers.
 */

/* snprintf for key paths; they are short, and a long one is cut. */
static void __attribute__((format(printf, 3, 4)))
kfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int
push_str(char ***v, size_t *n, char *s)
{
	char **nv;

	if ((nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL)
		return -1;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static void
free_strs(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *
path_join(const char *dir, const char *rel)
{
	char *s;

	if (dir == NULL || rel[0] == '/')
		return strdup(rel);
	if (asprintf(&s, "%s/%s", dir, rel) == -1)
		return NULL;
	return s;
}

/* The absolute directory of path, or its dirname as given if that
 * directory can't be resolved. */
static char *
file_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d, *r;

	if (slash == NULL)
		d = strdup(".");
	else if (slash == path)
		d = strdup("/");
	else
		d = strndup(path, slash - path);
	if (d == NULL)
		return NULL;
	if ((r = realpath(d, NULL)) == NULL)
		return d;
	free(d);
	return r;
}

/* Escapes glob metacharacters so a directory name matches itself. */
static char *
glob_escape(const char *s)
{
	char *out, *p;

	if ((out = malloc(2 * strlen(s) + 1)) == NULL)
		return NULL;
	for (p = out; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			*p++ = '\\';
		*p++ = *s;
	}
	*p = '\0';
	return out;
}

static bool
has_glob_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Values: parse, format, compare, copy, free.  Parsers take the
 * expanded text and write a message (without key or position) on error.
 */

/* Reads decimal digits; NULL if there are none.  *ovf on overflow. */
static const char *
scan_uint(const char *s, uint64_t *v, bool *ovf)
{
	uint64_t n = 0;
	const char *p;

	*ovf = false;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			*ovf = true;
		else
			n = n * 10 + (uint64_t)(*p - '0');
	}
	*v = n;
	return p == s ? NULL : p;
}

static const struct {
	const char	*name;
	int		 shift;
} size_units[] = {
	{ "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
};

static int
parse_size(const char *s, uint64_t *out, char *msg, size_t len)
{
	const char *p;
	uint64_t n;
	bool ovf;
	size_t i;
	int shift = -1;

	if ((p = scan_uint(s, &n, &ovf)) == NULL) {
		snprintf(msg, len, "'%.64s' is not a size (e.g. 64KiB, 1MiB)",
		    s);
		return -EINVAL;
	}
	if (*p == '.') {
		snprintf(msg, len, "'%.64s': fractions are not supported, use "
		    "a smaller unit", s);
		return -EINVAL;
	}
	while (*p == ' ')
		p++;
	if (*p == '\0')
		shift = 0;
	for (i = 0; shift < 0 && i < nitems(size_units); i++)
		if (strcmp(p, size_units[i].name) == 0)
			shift = size_units[i].shift;
	if (shift < 0) {
		snprintf(msg, len, "'%.64s': unknown unit '%.16s' (use B, KiB, "
		    "MiB, GiB or TiB)", s, p);
		return -EINVAL;
	}
	if (ovf || n > (UINT64_MAX >> shift)) {
		snprintf(msg, len, "'%.64s' is too large", s);
		return -ERANGE;
	}
	*out = n << shift;
	return 0;
}

static void
format_size(uint64_t b, char *buf, size_t len)
{
	size_t i;

	for (i = nitems(size_units) - 1; i > 0; i--) {
		uint64_t u = 1ULL << size_units[i].shift;

		if (b >= u && b % u == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)(b / u), size_units[i].name);
			return;
		}
	}
	snprintf(buf, len, "%lluB", (unsigned long long)b);
}

static const struct {
	const char	*name;
	int64_t		 ms;
} duration_units[] = {	/* "ms" before "m" */
	{ "h", HOUR }, { "ms", 1 }, { "m", MIN }, { "s", SEC },
};

static int
parse_duration(const char *s, int64_t *out, char *msg, size_t len)
{
	const char *p = s, *q;
	int64_t total = 0, mult;
	uint64_t n;
	bool ovf;
	size_t i, ulen;

	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	do {
		if ((q = scan_uint(p, &n, &ovf)) == NULL) {
			snprintf(msg, len, "'%.64s' is not a duration (e.g. "
			    "500ms, 30s, 2m, 1h)", s);
			return -EINVAL;
		}
		if (*q == '.') {
			snprintf(msg, len, "'%.64s': fractions are not "
			    "supported, use a smaller unit", s);
			return -EINVAL;
		}
		mult = 0;
		ulen = 0;
		for (i = 0; mult == 0 && i < nitems(duration_units); i++) {
			ulen = strlen(duration_units[i].name);
			if (strncmp(q, duration_units[i].name, ulen) == 0)
				mult = duration_units[i].ms;
		}
		if (mult == 0) {
			if (*q == '\0')
				snprintf(msg, len, "'%.64s': missing unit (ms, "
				    "s, m or h)", s);
			else
				snprintf(msg, len, "'%.64s': unknown unit "
				    "(use ms, s, m or h)", s);
			return -EINVAL;
		}
		if (ovf || n > (uint64_t)(INT64_MAX / mult) ||
		    total > INT64_MAX - (int64_t)n * mult) {
			snprintf(msg, len, "'%.64s' is too large", s);
			return -ERANGE;
		}
		total += (int64_t)n * mult;
		p = q + ulen;
	} while (*p != '\0');
	*out = total;
	return 0;
}

static void
format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "0s");
	else if (ms % HOUR == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / HOUR));
	else if (ms % MIN == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / MIN));
	else if (ms % SEC == 0)
		snprintf(buf, len, "%llds", (long long)(ms / SEC));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
}

static int
parse_port(const char *s, char *msg, size_t len)
{
	uint64_t n;
	bool ovf;
	const char *p = scan_uint(s, &n, &ovf);

	if (p == NULL || *p != '\0' || ovf || n > 65535 || p - s > 5) {
		snprintf(msg, len, "port '%.64s' is not a number from 0 to "
		    "65535", s);
		return -EINVAL;
	}
	return 0;
}

/* Accepts "" (every address), IPv4 and IPv6 literals, host names. */
static int
check_host(const char *h, bool bracketed, char *msg, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];
	size_t n = strcspn(h, "%");
	const char *p;

	if (bracketed) {
		/* a zone ("%eth0") is an interface name */
		if (n == 0 || n >= sizeof(buf) || (h[n] == '%' &&
		    (h[n + 1] == '\0' || strspn(h + n + 1, "abcdefghijklmno"
		    "pqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		    strlen(h + n + 1))))
			goto bad6;
		memcpy(buf, h, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET6, buf, addr) != 1)
			goto bad6;
		return 0;
	}
	if (*h == '\0')
		return 0;
	if (strchr(h, ':') != NULL) {
		snprintf(msg, len, "an IPv6 address needs brackets, e.g. "
		    "[::1]:4240");
		return -EINVAL;
	}
	if (strspn(h, "0123456789.") == strlen(h)) {
		if (inet_pton(AF_INET, h, addr) != 1) {
			snprintf(msg, len, "'%.64s' is not an IPv4 address", h);
			return -EINVAL;
		}
		return 0;
	}
	for (p = h; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			break;
	if (*p != '\0' || strlen(h) > 253 || h[0] == '-' || h[0] == '.') {
		snprintf(msg, len, "'%.64s' is not a host name or address", h);
		return -EINVAL;
	}
	return 0;
 bad6:
	snprintf(msg, len, "'%.64s' is not an IPv6 address", h);
	return -EINVAL;
}

/* "host:port", "[v6]:port", ":port" -> host ("" for any) and port. */
static int
parse_address(const char *s, char **hostp, char **portp, char *msg,
    size_t len)
{
	const char *colon, *close;
	char *host = NULL, *port = NULL;
	bool br = s[0] == '[';
	int r;

	if (br) {
		if ((close = strchr(s, ']')) == NULL) {
			snprintf(msg, len, "'%.64s': missing ']'", s);
			return -EINVAL;
		}
		if (close[1] != ':') {
			snprintf(msg, len, "'%.64s': missing :port (e.g. "
			    "[::1]:4240)", s);
			return -EINVAL;
		}
		colon = close + 1;
		host = strndup(s + 1, close - s - 1);
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			snprintf(msg, len, "'%.64s': missing :port (e.g. "
			    "127.0.0.1:4240)", s);
			return -EINVAL;
		}
		host = strndup(s, colon - s);
	}
	if (host == NULL || (port = strdup(colon + 1)) == NULL) {
		r = -ENOMEM;
		snprintf(msg, len, "out of memory");
		goto fail;
	}
	if ((r = check_host(host, br, msg, len)) != 0 ||
	    (r = parse_port(port, msg, len)) != 0)
		goto fail;
	*hostp = host;
	*portp = port;
	return 0;
 fail:
	free(host);
	free(port);
	return r;
}

static int
parse_mode(const char *s, int64_t max, unsigned int *out, char *msg,
    size_t len)
{
	unsigned int v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '7' && p - s < 6; p++)
		v = v * 8 + (unsigned int)(*p - '0');
	if (p == s || *p != '\0') {
		snprintf(msg, len, "'%.64s' is not an octal mode (e.g. "
		    "\"0660\")", s);
		return -EINVAL;
	}
	if (v > max) {
		snprintf(msg, len, "mode %04o is above %04o", v,
		    (unsigned int)max);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

static void
format_bound(const struct conf_key *k, int64_t v, char *buf, size_t len)
{
	if (k->type == CT_SIZE)
		format_size((uint64_t)v, buf, len);
	else if (k->type == CT_DURATION)
		format_duration(v, buf, len);
	else
		snprintf(buf, len, "%lld", (long long)v);
}

static int
range_msg(const struct conf_key *k, char *msg, size_t len)
{
	char lo[32], hi[32];

	format_bound(k, k->min, lo, sizeof(lo));
	format_bound(k, k->max, hi, sizeof(hi));
	snprintf(msg, len, "must be from %s to %s", lo, hi);
	return -ERANGE;
}

/* Frees the strings a key owns in base; scalars are left alone. */
static void
free_value(const struct conf_key *k, void *base)
{
	const struct conf_list *l = k->list;
	size_t i, j, n;
	char *items;

	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
		free(*FIELD(base, k->off, char *));
		*FIELD(base, k->off, char *) = NULL;
		break;
	case CT_ADDRESS:
		free(*FIELD(base, k->off, char *));
		free(*FIELD(base, k->off2, char *));
		*FIELD(base, k->off, char *) = NULL;
		*FIELD(base, k->off2, char *) = NULL;
		break;
	case CT_LIST:
		items = *FIELD(base, k->off, char *);
		n = *FIELD(base, k->off2, size_t);
		for (i = 0; i < n; i++) {
			for (j = 0; j < l->nkeys; j++)
				free_value(&l->keys[j],
				    items + i * l->item_size);
			l->item_free(items + i * l->item_size);
		}
		free(items);
		*FIELD(base, k->off, char *) = NULL;
		*FIELD(base, k->off2, size_t) = 0;
		break;
	default:
		break;
	}
}

/*
 * Sets key k in base from text s.  A relative CT_PATH is joined to dir
 * (unless dir is NULL).  Returns 0 or a negative errno (EINVAL, ERANGE,
 * ENOMEM) with msg set; base is unchanged on error.
 */
static int
set_value(const struct conf_key *k, void *base, const char *s,
    const char *dir, char *msg, size_t len)
{
	uint64_t u;
	int64_t d;
	unsigned int m;
	char *str, *host, *port;
	bool ovf;
	const char *p;
	int r, i;

	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
		str = k->type == CT_PATH && *s != '\0' ? path_join(dir, s) :
		    strdup(s);
		if (str == NULL) {
			snprintf(msg, len, "out of memory");
			return -ENOMEM;
		}
		free(*FIELD(base, k->off, char *));
		*FIELD(base, k->off, char *) = str;
		return 0;
	case CT_COUNT:
		p = scan_uint(s, &u, &ovf);
		if (p == NULL || *p != '\0') {
			snprintf(msg, len, "'%.64s' is not a whole number", s);
			return -EINVAL;
		}
		if (ovf || u < (uint64_t)k->min || u > (uint64_t)k->max)
			return range_msg(k, msg, len);
		*FIELD(base, k->off, unsigned int) = (unsigned int)u;
		return 0;
	case CT_SIZE:
		if ((r = parse_size(s, &u, msg, len)) != 0)
			return r;
		if (u < (uint64_t)k->min || u > (uint64_t)k->max)
			return range_msg(k, msg, len);
		*FIELD(base, k->off, uint64_t) = u;
		return 0;
	case CT_DURATION:
		if ((r = parse_duration(s, &d, msg, len)) != 0)
			return r;
		if (d < k->min || d > k->max)
			return range_msg(k, msg, len);
		*FIELD(base, k->off, int64_t) = d;
		return 0;
	case CT_ENUM:
		for (i = 0; k->names[i] != NULL; i++)
			if (strcmp(s, k->names[i]) == 0) {
				*FIELD(base, k->off, int) = i;
				return 0;
			}
		r = snprintf(msg, len, "'%.64s' is not one of", s);
		for (i = 0; k->names[i] != NULL && r > 0 && (size_t)r < len;
		    i++)
			r += snprintf(msg + r, len - r, "%s %s",
			    i > 0 ? "," : "", k->names[i]);
		return -EINVAL;
	case CT_MODE:
		if ((r = parse_mode(s, k->max, &m, msg, len)) != 0)
			return r;
		*FIELD(base, k->off, unsigned int) = m;
		return 0;
	case CT_ADDRESS:
		if ((r = parse_address(s, &host, &port, msg, len)) != 0)
			return r;
		free_value(k, base);
		*FIELD(base, k->off, char *) = host;
		*FIELD(base, k->off2, char *) = port;
		return 0;
	default:
		snprintf(msg, len, "cannot be set to a single value");
		return -EINVAL;
	}
}

/* Sets every key of a table that has a default.  0 or -ENOMEM. */
static int
set_defaults(const struct conf_key *keys, size_t n, void *base)
{
	char msg[128];
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (keys[i].def == NULL || keys[i].type == CT_LIST)
			continue;
		if ((r = set_value(&keys[i], base, keys[i].def, NULL, msg,
		    sizeof(msg))) != 0)
			return r;
	}
	return 0;
}

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
same_value(const struct conf_key *k, const void *a, const void *b)
{
	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
		return same_str(*CFIELD(a, k->off, char *),
		    *CFIELD(b, k->off, char *));
	case CT_ADDRESS:
		return same_str(*CFIELD(a, k->off, char *),
		    *CFIELD(b, k->off, char *)) &&
		    same_str(*CFIELD(a, k->off2, char *),
		    *CFIELD(b, k->off2, char *));
	case CT_COUNT:
	case CT_MODE:
		return *CFIELD(a, k->off, unsigned int) ==
		    *CFIELD(b, k->off, unsigned int);
	case CT_SIZE:
		return *CFIELD(a, k->off, uint64_t) ==
		    *CFIELD(b, k->off, uint64_t);
	case CT_DURATION:
		return *CFIELD(a, k->off, int64_t) ==
		    *CFIELD(b, k->off, int64_t);
	case CT_ENUM:
		return *CFIELD(a, k->off, int) == *CFIELD(b, k->off, int);
	default:
		return true;
	}
}

static int
dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		return -1;
	return 0;
}

/* Copies one list item: table fields, then the list's own. */
static int
copy_item(const struct conf_list *l, void *dst, const void *src)
{
	const struct conf_key *k;
	size_t j;

	memcpy(dst, src, l->item_size);
	for (j = 0; j < l->nkeys; j++) {
		k = &l->keys[j];
		if (k->type == CT_STRING || k->type == CT_PATH ||
		    k->type == CT_ADDRESS)
			*FIELD(dst, k->off, char *) = NULL;
		if (k->type == CT_ADDRESS)
			*FIELD(dst, k->off2, char *) = NULL;
	}
	if (l->item_copy(dst, src) == -1)
		goto fail;
	for (j = 0; j < l->nkeys; j++) {
		k = &l->keys[j];
		if (k->type != CT_STRING && k->type != CT_PATH &&
		    k->type != CT_ADDRESS)
			continue;
		if (dup_str(FIELD(dst, k->off, char *),
		    *CFIELD(src, k->off, char *)) == -1)
			goto fail;
		if (k->type == CT_ADDRESS && dup_str(FIELD(dst, k->off2,
		    char *), *CFIELD(src, k->off2, char *)) == -1)
			goto fail;
	}
	return 0;
 fail:
	for (j = 0; j < l->nkeys; j++)
		free_value(&l->keys[j], dst);
	l->item_free(dst);
	return -1;
}

/* Replaces key k of dst with a deep copy of src's.  0, or -1 if out of
 * memory (dst unchanged). */
static int
copy_value(const struct conf_key *k, void *dst, const void *src)
{
	const struct conf_list *l = k->list;
	char *items, *s1 = NULL, *s2 = NULL;
	const char *sitems;
	size_t i, j, n;

	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
	case CT_ADDRESS:
		if (dup_str(&s1, *CFIELD(src, k->off, char *)) == -1)
			return -1;
		if (k->type == CT_ADDRESS && dup_str(&s2, *CFIELD(src,
		    k->off2, char *)) == -1) {
			free(s1);
			return -1;
		}
		free_value(k, dst);
		*FIELD(dst, k->off, char *) = s1;
		if (k->type == CT_ADDRESS)
			*FIELD(dst, k->off2, char *) = s2;
		return 0;
	case CT_LIST:
		n = *CFIELD(src, k->off2, size_t);
		sitems = *CFIELD(src, k->off, char *);
		if ((items = calloc(n ? n : 1, l->item_size)) == NULL)
			return -1;
		for (i = 0; i < n; i++) {
			if (copy_item(l, items + i * l->item_size,
			    sitems + i * l->item_size) == 0)
				continue;
			while (i-- > 0) {
				for (j = 0; j < l->nkeys; j++)
					free_value(&l->keys[j],
					    items + i * l->item_size);
				l->item_free(items + i * l->item_size);
			}
			free(items);
			return -1;
		}
		free_value(k, dst);
		*FIELD(dst, k->off, char *) = items;
		*FIELD(dst, k->off2, size_t) = n;
		return 0;
	case CT_COUNT:
	case CT_MODE:
		*FIELD(dst, k->off, unsigned int) =
		    *CFIELD(src, k->off, unsigned int);
		return 0;
	case CT_SIZE:
		*FIELD(dst, k->off, uint64_t) = *CFIELD(src, k->off, uint64_t);
		return 0;
	case CT_DURATION:
		*FIELD(dst, k->off, int64_t) = *CFIELD(src, k->off, int64_t);
		return 0;
	case CT_ENUM:
		*FIELD(dst, k->off, int) = *CFIELD(src, k->off, int);
		return 0;
	default:
		return 0;
	}
}

/*
 * Listeners.
 */

static int
listener_init(void *item, const char *file, int line, int col)
{
	struct conf_listener *li = item;

	li->line = line;
	li->col = col;
	if (file != NULL && (li->file = strdup(file)) == NULL)
		return -1;
	return set_defaults(listener_keys, nitems(listener_keys), item) == 0 ?
	    0 : -1;
}

static int
listener_check(void *item, const bool *seen, const char **subkey,
    char *msg, size_t len)
{
	struct conf_listener *li = item;
	struct sockaddr_un sun;

	*subkey = NULL;
	if (li->host != NULL && li->unix_path != NULL) {
		*subkey = "unix";
		snprintf(msg, len, "a listener has either address or unix, "
		    "not both");
		return -EINVAL;
	}
	if (li->host == NULL && li->unix_path == NULL) {
		snprintf(msg, len, "needs an address or a unix path");
		return -EINVAL;
	}
	if (li->unix_path != NULL && li->unix_path[0] == '\0') {
		*subkey = "unix";
		snprintf(msg, len, "empty path");
		return -EINVAL;
	}
	if (li->unix_path != NULL && strlen(li->unix_path) >=
	    sizeof(sun.sun_path)) {
		*subkey = "unix";
		snprintf(msg, len, "path longer than %zu bytes",
		    sizeof(sun.sun_path) - 1);
		return -EINVAL;
	}
	if (seen != NULL && seen[LK_MODE] && li->unix_path == NULL) {
		*subkey = "mode";
		snprintf(msg, len, "only a unix listener has a mode");
		return -EINVAL;
	}
	return 0;
}

static int
listener_copy(void *dst, const void *src)
{
	return dup_str(&((struct conf_listener *)dst)->file,
	    ((const struct conf_listener *)src)->file);
}

static void
listener_free(void *item)
{
	struct conf_listener *li = item;

	free(li->file);
	li->file = NULL;
}

static bool
listener_skip(const void *item, const struct conf_key *k)
{
	const struct conf_listener *li = item;

	if (k->off == LF(mode))
		return li->unix_path == NULL;
	if (k->type == CT_ADDRESS)
		return li->host == NULL;
	return k->type == CT_PATH && li->unix_path == NULL;
}

/*
 * YAML.
 */

/* ${NAME}, ${NAME:-default} (default if unset or empty), $$ -> $. */
static int
expand(const char *in, char **out, char *msg, size_t len)
{
	char *buf = NULL, *nb, name[256];
	const char *p = in, *add, *q, *e, *v;
	size_t n = 0, cap = 0, alen, nlen;

	while (*p != '\0') {
		if (*p != '$') {
			add = p;
			alen = strcspn(p, "$");
			p += alen;
		} else if (p[1] == '$') {
			add = "$";
			alen = 1;
			p += 2;
		} else if (p[1] != '{') {
			snprintf(msg, len, "'$' must start ${NAME} or be "
			    "doubled ($$)");
			goto fail;
		} else {
			q = p + 2;
			nlen = strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789_");
			if (nlen == 0 || (*q >= '0' && *q <= '9') ||
			    nlen >= sizeof(name)) {
				snprintf(msg, len, "bad variable name in "
				    "'%.32s'", p);
				goto fail;
			}
			memcpy(name, q, nlen);
			name[nlen] = '\0';
			q += nlen;
			v = getenv(name);
			if (*q == '}') {
				if (v == NULL) {
					snprintf(msg, len, "environment "
					    "variable %.64s is not set", name);
					goto fail;
				}
				e = q;
			} else if (q[0] == ':' && q[1] == '-') {
				if ((e = strchr(q + 2, '}')) == NULL) {
					snprintf(msg, len, "missing '}' in "
					    "'%.32s'", p);
					goto fail;
				}
			} else {
				snprintf(msg, len, "expected '}' or ':-' in "
				    "'%.32s'", p);
				goto fail;
			}
			if (v != NULL && (*v != '\0' || e == q)) {
				add = v;
				alen = strlen(v);
			} else {			/* the default */
				add = q + 2;
				alen = e - add;
			}
			p = e + 1;
		}
		if (n + alen + 1 > cap) {
			cap = (n + alen + 1) * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				snprintf(msg, len, "out of memory");
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + n, add, alen);
		n += alen;
	}
	if (buf == NULL && (buf = strdup("")) == NULL) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
 fail:
	free(buf);
	return -EINVAL;
}

static int
yparse_error(struct yfile *y)
{
	yaml_parser_t *p = &y->parser;
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR)
		return oom(y->ld);
	if (p->error == YAML_READER_ERROR) {
		m.line = 0;
		m.column = 0;
		if (!y->ld->failed) {
			y->ld->failed = true;
			errf(y->ld->err, y->name, 0, 0, NULL, 0, "byte %zu: %s",
			    p->problem_offset, p->problem ? p->problem :
			    "bad input");
		}
		return -1;
	}
	return yerr(y, &m, NULL, "syntax error: %s%s%s",
	    p->problem ? p->problem : "bad YAML", p->context ? " " : "",
	    p->context ? p->context : "");
}

/* The next event; refuses aliases, anchors and tags. */
static int
ynext(struct yfile *y, const char *key)
{
	yaml_char_t *anchor = NULL, *tag = NULL;

	if (y->have_ev) {
		yaml_event_delete(&y->ev);
		y->have_ev = false;
	}
	if (!yaml_parser_parse(&y->parser, &y->ev))
		return yparse_error(y);
	y->have_ev = true;
	switch (y->ev.type) {
	case YAML_ALIAS_EVENT:
		return yerr(y, &y->ev.start_mark, key, "YAML aliases are not "
		    "allowed");
	case YAML_SCALAR_EVENT:
		anchor = y->ev.data.scalar.anchor;
		tag = y->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = y->ev.data.sequence_start.anchor;
		tag = y->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = y->ev.data.mapping_start.anchor;
		tag = y->ev.data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		return yerr(y, &y->ev.start_mark, key, "YAML anchors are not "
		    "allowed");
	if (tag != NULL)
		return yerr(y, &y->ev.start_mark, key, "YAML tags are not "
		    "allowed");
	return 0;
}

static bool
ev_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *
ev_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	default:
		return ev_is_null(ev) ? "nothing" : "a scalar";
	}
}

static const char *
type_desc(const struct conf_key *k)
{
	switch (k->type) {
	case CT_SECTION:
		return "a mapping";
	case CT_LIST:
		return "a list of mappings";
	case CT_INCLUDE:
		return "a glob or a list of globs";
	case CT_SIZE:
		return "a size (e.g. 64KiB)";
	case CT_DURATION:
		return "a duration (e.g. 30s)";
	case CT_COUNT:
		return "a whole number";
	case CT_MODE:
		return "an octal mode (e.g. \"0660\")";
	case CT_ADDRESS:
		return "an address (host:port)";
	default:
		return "a scalar";
	}
}

static int
type_error(struct yfile *y, const struct conf_key *k, const char *dpath)
{
	return yerr(y, &y->ev.start_mark, dpath, "expected %s, found %s",
	    type_desc(k), ev_kind(&y->ev));
}

/* The current event's scalar text, checked for NUL bytes. */
static const char *
scalar_text(struct yfile *y, const char *dpath)
{
	const char *v = (const char *)y->ev.data.scalar.value;

	if (strlen(v) != y->ev.data.scalar.length) {
		yerr(y, &y->ev.start_mark, dpath, "value contains a NUL byte");
		return NULL;
	}
	return v;
}

static int	parse_mapping(struct yfile *, const struct conf_key *, size_t,
		    const char *, const char *, void *, struct seen *);

static int
parse_scalar(struct yfile *y, const struct conf_key *k, const char *dpath,
    void *base)
{
	char msg[256], *v;
	const char *raw;
	int r;

	if (y->ev.type != YAML_SCALAR_EVENT)
		return type_error(y, k, dpath);
	if (ev_is_null(&y->ev)) {
		if (k->type != CT_STRING && k->type != CT_PATH)
			return yerr(y, &y->ev.start_mark, dpath,
			    "missing value (expected %s)", type_desc(k));
		raw = "";
	} else if ((raw = scalar_text(y, dpath)) == NULL)
		return -1;
	if ((r = expand(raw, &v, msg, sizeof(msg))) != 0)
		return r == -ENOMEM ? oom(y->ld) :
		    yerr(y, &y->ev.start_mark, dpath, "%s", msg);
	r = set_value(k, base, v, y->dir, msg, sizeof(msg));
	free(v);
	if (r == -ENOMEM)
		return oom(y->ld);
	if (r != 0)
		return yerr(y, &y->ev.start_mark, dpath, "%s", msg);
	return 0;
}

static int
add_include(struct yfile *y, const char *dpath)
{
	char msg[256], *v;
	const char *raw;
	struct include *ni;
	int r;

	if (y->ev.type != YAML_SCALAR_EVENT || ev_is_null(&y->ev))
		return yerr(y, &y->ev.start_mark, dpath, "expected a glob, "
		    "found %s", ev_kind(&y->ev));
	if ((raw = scalar_text(y, dpath)) == NULL)
		return -1;
	if ((r = expand(raw, &v, msg, sizeof(msg))) != 0)
		return r == -ENOMEM ? oom(y->ld) :
		    yerr(y, &y->ev.start_mark, dpath, "%s", msg);
	if (*v == '\0') {
		free(v);
		return yerr(y, &y->ev.start_mark, dpath, "empty glob");
	}
	if ((ni = realloc(y->incs, (y->nincs + 1) * sizeof(*ni))) == NULL) {
		free(v);
		return oom(y->ld);
	}
	y->incs = ni;
	ni[y->nincs].pattern = v;
	ni[y->nincs].mark = y->ev.start_mark;
	y->nincs++;
	return 0;
}

static int
parse_include(struct yfile *y, const char *dpath)
{
	if (y->ld->flags & CONF_NO_INCLUDE)
		return yerr(y, &y->ev.start_mark, dpath, "includes are "
		    "disabled here");
	if (ev_is_null(&y->ev))
		return 0;
	if (y->ev.type != YAML_SEQUENCE_START_EVENT)
		return add_include(y, dpath);
	for (;;) {
		if (ynext(y, dpath) == -1)
			return -1;
		if (y->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (add_include(y, dpath) == -1)
			return -1;
	}
}

static int
parse_list(struct yfile *y, const struct conf_key *k, const char *dpath,
    void *base)
{
	const struct conf_list *l = k->list;
	char **itemsp = FIELD(base, k->off, char *), *ni, *item;
	size_t *np = FIELD(base, k->off2, size_t);
	char ipath[KEYPATH_MAX], msg[256];
	const char *sub;
	struct seen *seen;
	bool *given;
	yaml_mark_t start;
	size_t j, count = 0;
	int r;

	if (ev_is_null(&y->ev))
		return 0;
	if (y->ev.type != YAML_SEQUENCE_START_EVENT)
		return type_error(y, k, dpath);
	start = y->ev.start_mark;
	for (;; count++) {
		if (ynext(y, dpath) == -1)
			return -1;
		if (y->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		kfmt(ipath, sizeof(ipath), "%s[%zu]", dpath, *np);
		if (y->ev.type != YAML_MAPPING_START_EVENT)
			return yerr(y, &y->ev.start_mark, ipath, "expected a "
			    "mapping, found %s", ev_kind(&y->ev));
		if ((ni = realloc(*itemsp, (*np + 1) * l->item_size)) == NULL)
			return oom(y->ld);
		*itemsp = ni;
		item = ni + *np * l->item_size;
		memset(item, 0, l->item_size);
		(*np)++;
		if (l->item_init(item, y->name, (int)y->ev.start_mark.line + 1,
		    (int)y->ev.start_mark.column + 1) == -1)
			return oom(y->ld);
		start = y->ev.start_mark;
		if ((seen = calloc(l->nkeys, sizeof(*seen))) == NULL)
			return oom(y->ld);
		if ((given = calloc(l->nkeys, sizeof(*given))) == NULL) {
			free(seen);
			return oom(y->ld);
		}
		kfmt(ipath, sizeof(ipath), "%s[%zu].", dpath, *np - 1);
		r = parse_mapping(y, l->keys, l->nkeys, "", ipath, item, seen);
		for (j = 0; j < l->nkeys; j++)
			given[j] = seen[j].set;
		if (r == 0 && (r = l->item_check(item, given, &sub, msg,
		    sizeof(msg))) != 0) {
			ipath[strlen(ipath) - 1] = '\0';
			for (j = 0; sub != NULL && j < l->nkeys; j++)
				if (strcmp(l->keys[j].path, sub) == 0 &&
				    seen[j].set)
					start = seen[j].mark;
			if (sub != NULL)
				kfmt(ipath + strlen(ipath),
				    sizeof(ipath) - strlen(ipath), ".%s", sub);
			r = yerr(y, &start, ipath, "%s", msg);
		}
		free(given);
		free(seen);
		if (r != 0)
			return -1;
	}
	if (count == 0)
		return yerr(y, &start, dpath, "empty list (leave the key out "
		    "for the default)");
	return 0;
}

static const struct conf_key *
key_find(const struct conf_key *keys, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

static int
parse_value(struct yfile *y, const struct conf_key *keys, size_t nkeys,
    const struct conf_key *k, const char *dpath, void *base)
{
	char prefix[KEYPATH_MAX], dprefix[KEYPATH_MAX];

	switch (k->type) {
	case CT_SECTION:
		if (ev_is_null(&y->ev))
			return 0;
		if (y->ev.type != YAML_MAPPING_START_EVENT)
			return type_error(y, k, dpath);
		kfmt(prefix, sizeof(prefix), "%s.", k->path);
		kfmt(dprefix, sizeof(dprefix), "%s.", dpath);
		return parse_mapping(y, keys, nkeys, prefix, dprefix, base,
		    NULL);
	case CT_LIST:
		return parse_list(y, k, dpath, base);
	case CT_INCLUDE:
		return parse_include(y, dpath);
	default:
		return parse_scalar(y, k, dpath, base);
	}
}

/*
 * Parses a mapping whose keys are tprefix + name in keys[] into base;
 * dprefix names them in messages.  seen, if given, has one entry per key
 * and tells the caller which were set and where.
 */
static int
parse_mapping(struct yfile *y, const struct conf_key *keys, size_t nkeys,
    const char *tprefix, const char *dprefix, void *base,
    struct seen *seen)
{
	char tpath[KEYPATH_MAX], dpath[KEYPATH_MAX];
	struct seen *own = NULL;
	const struct conf_key *k;
	const char *name;
	yaml_mark_t km;
	size_t i;
	int r = -1;

	if (seen == NULL && (seen = own = calloc(nkeys, sizeof(*seen))) ==
	    NULL)
		return oom(y->ld);
	for (;;) {
		if (ynext(y, NULL) == -1)
			goto out;
		if (y->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (y->ev.type != YAML_SCALAR_EVENT) {
			yerr(y, &y->ev.start_mark, NULL, "expected a key, "
			    "found %s", ev_kind(&y->ev));
			goto out;
		}
		km = y->ev.start_mark;
		name = (const char *)y->ev.data.scalar.value;
		kfmt(dpath, sizeof(dpath), "%s%.*s", dprefix, CONF_KEY_MAX,
		    name);
		kfmt(tpath, sizeof(tpath), "%s%s", tprefix, name);
		k = NULL;
		if (strlen(name) == y->ev.data.scalar.length &&
		    strlen(name) <= CONF_KEY_MAX && strchr(name, '.') == NULL)
			k = key_find(keys, nkeys, tpath);
		if (k == NULL) {
			yerr(y, &km, dpath, "unknown key");
			goto out;
		}
		i = k - keys;
		if (seen[i].set) {
			yerr(y, &km, dpath, "duplicate key (first at line %d)",
			    (int)seen[i].mark.line + 1);
			goto out;
		}
		seen[i].set = true;
		seen[i].mark = km;
		if (ynext(y, dpath) == -1 ||
		    parse_value(y, keys, nkeys, k, dpath, base) == -1)
			goto out;
		if (keys == conf_keys) {
			y->ld->set[i].file = y->name;
			y->ld->set[i].line = (int)km.line + 1;
			y->ld->set[i].col = (int)km.column + 1;
		}
	}
	r = 0;
 out:
	free(own);
	return r;
}

static int
parse_stream(struct yfile *y)
{
	if (ynext(y, NULL) == -1 || ynext(y, NULL) == -1)
		return -1;
	if (y->ev.type == YAML_STREAM_END_EVENT)
		return 0;			/* empty, or only comments */
	if (ynext(y, NULL) == -1)		/* past DOCUMENT_START */
		return -1;
	if (y->ev.type == YAML_MAPPING_START_EVENT) {
		if (parse_mapping(y, conf_keys, NKEYS, "", "", y->ld->conf,
		    NULL) == -1)
			return -1;
	} else if (!ev_is_null(&y->ev))
		return yerr(y, &y->ev.start_mark, NULL, "expected a mapping "
		    "of keys, found %s", ev_kind(&y->ev));
	if (ynext(y, NULL) == -1 || ynext(y, NULL) == -1)
		return -1;
	if (y->ev.type != YAML_STREAM_END_EVENT)
		return yerr(y, &y->ev.start_mark, NULL, "only one YAML "
		    "document is allowed per file");
	return 0;
}

/* Keeps a display name alive for the marks that point at it. */
static const char *
keep_name(struct load *ld, const char *name)
{
	char *s;

	if ((s = strdup(name)) == NULL)
		return NULL;
	if (push_str(&ld->names, &ld->nnames, s) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

/* Reads the includes of one file, in order, sorted within each glob. */
static int
run_includes(struct yfile *y)
{
	struct mark from;
	char *edir = NULL, *pat;
	glob_t g;
	size_t i, j;
	int r;

	for (i = 0; i < y->nincs; i++) {
		from.file = y->name;
		from.line = (int)y->incs[i].mark.line + 1;
		from.col = (int)y->incs[i].mark.column + 1;
		pat = y->incs[i].pattern;
		if (pat[0] != '/') {
			free(edir);
			if ((edir = glob_escape(y->dir)) == NULL ||
			    (pat = path_join(edir, pat)) == NULL)
				goto nomem;
		}
		memset(&g, 0, sizeof(g));
		r = glob(pat, GLOB_NOSORT | GLOB_ERR, NULL, &g);
		if (pat != y->incs[i].pattern)
			free(pat);
		if (r == GLOB_NOSPACE) {
			globfree(&g);
			goto nomem;
		}
		if (r == GLOB_NOMATCH && !has_glob_magic(y->incs[i].pattern)) {
			globfree(&g);
			free(edir);
			return lerr(y->ld, &from, "include", "'%.200s': no "
			    "such file", y->incs[i].pattern);
		}
		if (r == GLOB_ABORTED) {
			globfree(&g);
			free(edir);
			return lerr(y->ld, &from, "include", "'%.200s': cannot "
			    "read directory", y->incs[i].pattern);
		}
		if (r == 0)
			qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
		for (j = 0; r == 0 && j < g.gl_pathc; j++)
			if (load_file(y->ld, g.gl_pathv[j], y->depth + 1,
			    &from) == -1)
				r = -1;
		globfree(&g);
		if (r == -1) {
			free(edir);
			return -1;
		}
	}
	free(edir);
	return 0;
 nomem:
	free(edir);
	return oom(y->ld);
}

static int
parse_buffer(struct load *ld, const char *name, const void *buf,
    size_t len, int depth)
{
	struct yfile y;
	size_t i;
	int r = -1;

	memset(&y, 0, sizeof(y));
	y.ld = ld;
	y.depth = depth;
	if ((y.name = keep_name(ld, name)) == NULL ||
	    (y.dir = file_dir(name)) == NULL)
		return oom(ld);
	if (!yaml_parser_initialize(&y.parser)) {
		free(y.dir);
		return oom(ld);
	}
	yaml_parser_set_input_string(&y.parser, buf, len);
	if (parse_stream(&y) == 0)
		r = run_includes(&y);
	if (y.have_ev)
		yaml_event_delete(&y.ev);
	yaml_parser_delete(&y.parser);
	for (i = 0; i < y.nincs; i++)
		free(y.incs[i].pattern);
	free(y.incs);
	free(y.dir);
	return r;
}

static int
read_file(const char *path, char **bufp, size_t *lenp)
{
	FILE *fp;
	char *buf;
	size_t n;
	int e;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		errno = ENOMEM;
		return -1;
	}
	n = fread(buf, 1, CONF_FILE_MAX + 1, fp);
	e = ferror(fp) ? errno : n > CONF_FILE_MAX ? EFBIG : 0;
	fclose(fp);
	if (e != 0) {
		free(buf);
		errno = e;
		return -1;
	}
	*bufp = buf;
	*lenp = n;
	return 0;
}

/*
 * Reads one file at include depth depth; from is where it was named
 * (NULL for the main file and conf.d).
 */
static int
load_file(struct load *ld, const char *path, int depth,
    const struct mark *from)
{
	char *real, *buf;
	size_t i, len;
	int r, e;

	if (depth > CONF_INCLUDE_DEPTH)
		return lerr(ld, from, "include", "includes nested deeper than "
		    "%d", CONF_INCLUDE_DEPTH);
	if ((real = realpath(path, NULL)) == NULL ||
	    read_file(real, &buf, &len) == -1) {
		e = errno;
		free(real);
		if (e == ENOMEM)
			return oom(ld);
		if (ld->failed)
			return -1;
		ld->failed = true;
		if (from != NULL)
			return errf(ld->err, from->file, from->line,
			    from->col, "include", e, "'%.200s': %s", path,
			    strerror(e));
		return errf(ld->err, path, 0, 0, NULL, e, "%s", strerror(e));
	}
	for (i = 0; i < ld->nstack; i++)
		if (strcmp(ld->stack[i], real) == 0) {
			free(real);
			free(buf);
			return lerr(ld, from, "include", "'%.200s' includes "
			    "itself (include cycle)", path);
		}
	for (i = 0; i < ld->ndone; i++)
		if (strcmp(ld->done[i], real) == 0) {
			free(real);
			free(buf);
			if (from != NULL)
				return lerr(ld, from, "include", "'%.200s' is "
				    "read twice", path);
			ld->failed = true;
			return errf(ld->err, path, 0, 0, NULL, 0, "read twice "
			    "(conf.d/ is read implicitly)");
		}
	if (push_str(&ld->stack, &ld->nstack, real) == -1) {
		free(real);
		free(buf);
		return oom(ld);
	}
	r = parse_buffer(ld, path, buf, len, depth);
	free(buf);
	ld->nstack--;
	if (push_str(&ld->done, &ld->ndone, real) == -1) {
		free(real);
		return oom(ld);
	}
	return r;
}

/* conf.d/ *.yaml beside the main file, in byte order. */
static int
load_confd(struct load *ld, const char *path)
{
	char *dir, *edir = NULL, *pat = NULL;
	struct stat st;
	glob_t g;
	size_t i;
	int r = 0;

	if ((dir = file_dir(path)) == NULL)
		return oom(ld);
	if (asprintf(&pat, "%s/conf.d", dir) == -1) {
		free(dir);
		return oom(ld);
	}
	if (stat(pat, &st) == -1 || !S_ISDIR(st.st_mode)) {
		free(pat);
		free(dir);
		return 0;
	}
	free(pat);
	pat = NULL;
	if ((edir = glob_escape(dir)) == NULL ||
	    asprintf(&pat, "%s/conf.d/*.yaml", edir) == -1) {
		free(edir);
		free(dir);
		return oom(ld);
	}
	memset(&g, 0, sizeof(g));
	r = glob(pat, GLOB_NOSORT | GLOB_ERR, NULL, &g);
	if (r == GLOB_NOSPACE)
		r = oom(ld);
	else if (r == GLOB_ABORTED) {
		ld->failed = true;
		r = errf(ld->err, dir, 0, 0, NULL, EACCES, "cannot read "
		    "conf.d/");
	}
	else if (r == 0) {
		qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
		for (i = 0; r == 0 && i < g.gl_pathc; i++)
			r = load_file(ld, g.gl_pathv[i], 1, NULL);
	} else
		r = 0;
	globfree(&g);
	free(pat);
	free(edir);
	free(dir);
	return r;
}

static struct conf *
conf_new(void)
{
	struct conf *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (set_defaults(conf_keys, NKEYS, c) != 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static int
add_default_listener(struct conf *c)
{
	const struct conf_key *k = key_find(conf_keys, NKEYS, "listeners");
	const struct conf_key *ak = &listener_keys[LK_ADDRESS];
	char msg[128];

	if ((c->listeners = calloc(1, sizeof(*c->listeners))) == NULL)
		return -1;
	c->nlisteners = 1;
	if (listener_init(c->listeners, NULL, 0, 0) == -1 ||
	    set_value(ak, c->listeners, k->def, NULL, msg, sizeof(msg)) != 0)
		return -1;
	return 0;
}

static void
load_done(struct load *ld)
{
	free_strs(ld->stack, ld->nstack);
	free_strs(ld->done, ld->ndone);
	free_strs(ld->names, ld->nnames);
}

/* Runs after every file: default listener, whole-config checks. */
static int
load_finish(struct load *ld, int r, struct conf **out)
{
	if (r == 0 && ld->conf->nlisteners == 0 &&
	    add_default_listener(ld->conf) == -1)
		r = oom(ld);
	if (r == 0 && check_conf(ld->conf, ld->set, ld->err) == -1)
		r = -1;
	load_done(ld);
	if (r != 0) {
		conf_free(ld->conf);
		return -1;
	}
	*out = ld->conf;
	return 0;
}

static int
load_init(struct load *ld, const char *path, int flags,
    struct conf_error *err)
{
	memset(ld, 0, sizeof(*ld));
	ld->err = err;
	ld->flags = flags;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if ((ld->conf = conf_new()) == NULL ||
	    (ld->conf->path = strdup(path)) == NULL) {
		conf_free(ld->conf);
		ld->conf = NULL;
		return oom(ld);
	}
	return 0;
}

int
conf_load(const char *path, struct conf **out, struct conf_error *err)
{
	struct load ld;
	int r;

	if (load_init(&ld, path, 0, err) == -1)
		return -1;
	r = load_file(&ld, path, 0, NULL);
	if (r == 0)
		r = load_confd(&ld, path);
	return load_finish(&ld, r, out);
}

int
conf_load_buffer(const char *name, const void *buf, size_t len, int flags,
    struct conf **out, struct conf_error *err)
{
	struct load ld;
	char *real;
	int r;

	if (load_init(&ld, name, flags, err) == -1)
		return -1;
	/* The buffer stands for name: a file including name is a cycle. */
	if ((real = realpath(name, NULL)) != NULL &&
	    push_str(&ld.stack, &ld.nstack, real) == -1) {
		free(real);
		r = oom(&ld);
	} else
		r = parse_buffer(&ld, name, buf, len, 0);
	return load_finish(&ld, r, out);
}

int
conf_defaults(struct conf **out)
{
	struct conf *c;

	if ((c = conf_new()) == NULL)
		return -1;
	if (add_default_listener(c) == -1) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		free_value(&conf_keys[i], c);
	free(c->path);
	free(c);
}

/*
 * Whole-config checks.
 */

static const struct mark *
mark_of(const struct mark *set, const char *path)
{
	const struct conf_key *k = key_find(conf_keys, NKEYS, path);

	if (set == NULL || k == NULL || set[k - conf_keys].file == NULL)
		return NULL;
	return &set[k - conf_keys];
}

static int __attribute__((format(printf, 5, 6)))
check_err(struct conf_error *err, const struct mark *set, const char *k1,
    const char *k2, const char *fmt, ...)
{
	const struct mark *m;
	const char *key = k1;
	va_list ap;

	if ((m = mark_of(set, k1)) == NULL && k2 != NULL &&
	    (m = mark_of(set, k2)) != NULL)
		key = k2;
	va_start(ap, fmt);
	if (m != NULL)
		verr(err, m->file, m->line, m->col, key, 0, fmt, ap);
	else
		verr(err, NULL, 0, 0, key, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* Wildcard hosts: "" is every address, 0.0.0.0 every IPv4, :: every IPv6. */
static bool
hosts_clash(const char *a, const char *b)
{
	bool a6 = strchr(a, ':') != NULL, b6 = strchr(b, ':') != NULL;

	if (strcmp(a, b) == 0 || *a == '\0' || *b == '\0')
		return true;
	if ((strcmp(a, "0.0.0.0") == 0 && !b6) ||
	    (strcmp(b, "0.0.0.0") == 0 && !a6))
		return true;
	return (strcmp(a, "::") == 0 && b6) || (strcmp(b, "::") == 0 && a6);
}

static int
check_listeners(const struct conf *c, struct conf_error *err)
{
	const struct conf_listener *a, *b;
	char key[48];
	size_t i, j;
	bool clash;

	for (j = 0; j < c->nlisteners; j++) {
		b = &c->listeners[j];
		for (i = 0; i < j; i++) {
			a = &c->listeners[i];
			if (a->unix_path != NULL && b->unix_path != NULL)
				clash = strcmp(a->unix_path, b->unix_path) == 0;
			else if (a->port != NULL && b->port != NULL)
				clash = strcmp(a->port, "0") != 0 &&
				    strcmp(a->port, b->port) == 0 &&
				    hosts_clash(a->host, b->host);
			else
				clash = false;
			if (!clash)
				continue;
			snprintf(key, sizeof(key), "listeners[%zu]", j);
			if (b->file != NULL && a->file != NULL)
				return errf(err, b->file, b->line, b->col, key,
				    0, "same address as listeners[%zu] (%s:%d)",
				    i, a->file, a->line);
			if (b->file != NULL)
				return errf(err, b->file, b->line, b->col, key,
				    0, "same address as listeners[%zu]", i);
			return errf(err, NULL, 0, 0, key, 0, "same address as "
			    "listeners[%zu]", i);
		}
	}
	return 0;
}

static int
check_conf(const struct conf *c, const struct mark *set,
    struct conf_error *err)
{
	const struct conf_limits *lm = &c->limits;
	char a[32], b[32];

	if (lm->max_payload > lm->max_pending) {
		format_size(lm->max_payload, a, sizeof(a));
		format_size(lm->max_pending, b, sizeof(b));
		return check_err(err, set, "limits.max_payload",
		    "limits.max_pending", "max_payload (%s) must not exceed "
		    "max_pending (%s)", a, b);
	}
	if (c->lame_duck_grace_period >= c->lame_duck_duration) {
		format_duration(c->lame_duck_grace_period, a, sizeof(a));
		format_duration(c->lame_duck_duration, b, sizeof(b));
		return check_err(err, set, "lame_duck_grace_period",
		    "lame_duck_duration", "grace period (%s) must be shorter "
		    "than lame_duck_duration (%s)", a, b);
	}
	if (c->log.target == CONF_LOG_FILE &&
	    (c->log.file == NULL || c->log.file[0] == '\0'))
		return check_err(err, set, "log.file", "log.target",
		    "required when log.target is file");
	return check_listeners(c, err);
}

/*
 * Reload support.
 */

static int push_key(char ***, size_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
push_key(char ***keys, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	if (push_str(keys, n, s) == -1) {
		free(s);
		return -1;
	}
	return 0;
}

int
conf_diff_restart(const struct conf *old, const struct conf *new,
    char ***keys, size_t *n)
{
	const struct conf_key *k, *sk;
	const struct conf_list *l;
	const char *ia, *ib;
	size_t i, j, na, nb;

	*keys = NULL;
	*n = 0;
	for (i = 0; i < NKEYS; i++) {
		k = &conf_keys[i];
		if (k->flags & CK_RELOAD)
			continue;
		if (k->type != CT_LIST) {
			if (!same_value(k, old, new) &&
			    push_key(keys, n, "%s", k->path) == -1)
				goto fail;
			continue;
		}
		l = k->list;
		na = *CFIELD(old, k->off2, size_t);
		nb = *CFIELD(new, k->off2, size_t);
		for (j = 0; j < na || j < nb; j++) {
			if (j >= na || j >= nb) {
				if (push_key(keys, n, "%s[%zu]", k->path, j) ==
				    -1)
					goto fail;
				continue;
			}
			ia = *CFIELD(old, k->off, char *) + j * l->item_size;
			ib = *CFIELD(new, k->off, char *) + j * l->item_size;
			for (sk = l->keys; sk < l->keys + l->nkeys; sk++)
				if (!same_value(sk, ia, ib) && push_key(keys,
				    n, "%s[%zu].%s", k->path, j, sk->path) ==
				    -1)
					goto fail;
		}
	}
	return 0;
 fail:
	conf_keys_free(*keys, *n);
	*keys = NULL;
	*n = 0;
	return -1;
}

void
conf_keys_free(char **keys, size_t n)
{
	free_strs(keys, n);
}

/* Moves key k's value from src to dst (freeing dst's) and clears src's. */
static void
move_value(const struct conf_key *k, void *dst, void *src)
{
	free_value(k, dst);
	switch (k->type) {
	case CT_LIST:
		*FIELD(dst, k->off2, size_t) = *FIELD(src, k->off2, size_t);
		*FIELD(src, k->off2, size_t) = 0;
		/* FALLTHROUGH */
	case CT_STRING:
	case CT_PATH:
	case CT_ADDRESS:
		*FIELD(dst, k->off, char *) = *FIELD(src, k->off, char *);
		*FIELD(src, k->off, char *) = NULL;
		if (k->type == CT_ADDRESS) {
			*FIELD(dst, k->off2, char *) =
			    *FIELD(src, k->off2, char *);
			*FIELD(src, k->off2, char *) = NULL;
		}
		break;
	default:
		copy_value(k, dst, src);	/* no allocation */
		break;
	}
}

int
conf_keep_restart(struct conf *new, const struct conf *old)
{
	struct conf tmp;
	size_t i;

	/* Copy into a scratch struct first, so failure leaves new alone. */
	memset(&tmp, 0, sizeof(tmp));
	for (i = 0; i < NKEYS; i++)
		if (!(conf_keys[i].flags & CK_RELOAD) &&
		    copy_value(&conf_keys[i], &tmp, old) == -1)
			goto fail;
	for (i = 0; i < NKEYS; i++)
		if (!(conf_keys[i].flags & CK_RELOAD))
			move_value(&conf_keys[i], new, &tmp);
	return 0;
 fail:
	for (i = 0; i < NKEYS; i++)
		free_value(&conf_keys[i], &tmp);
	return -1;
}

/*
 * conf_dump.
 */

/* UTF-8 sequence length at s and its code point, or 0 if invalid. */
static size_t
utf8_decode(const unsigned char *s, unsigned long *cp)
{
	size_t n, i;
	unsigned long v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 ||
	    v > 0x10ffff)) || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/*
 * A double-quoted YAML string that reads back as s: '$' doubled for our
 * expansion, and everything YAML would refuse or fold (C0, DEL, C1,
 * line and paragraph separators, BOM, U+FFFE/F) escaped.
 */
static void
dump_string(FILE *fp, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned long cp;
	size_t n;

	fputc('"', fp);
	while (*s != '\0') {
		if ((n = utf8_decode(s, &cp)) == 0) {
			fprintf(fp, "\\x%02x", *s++);
			continue;
		}
		if (cp == '"' || cp == '\\')
			fprintf(fp, "\\%c", (int)cp);
		else if (cp == '$')
			fputs("$$", fp);
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			fprintf(fp, "\\x%02lx", cp);
		else if (cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
		    cp == 0xfffe || cp == 0xffff)
			fprintf(fp, "\\u%04lx", cp);
		else
			fwrite(s, 1, n, fp);
		s += n;
	}
	fputc('"', fp);
}

static void
dump_value(FILE *fp, const struct conf_key *k, const void *base)
{
	char buf[64];
	const char *h;

	if (k->flags & CK_SECRET) {
		fputs("\"<redacted>\"", fp);
		return;
	}
	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
		dump_string(fp, *CFIELD(base, k->off, char *) ?
		    *CFIELD(base, k->off, char *) : "");
		break;
	case CT_ADDRESS:
		h = *CFIELD(base, k->off, char *);
		fprintf(fp, strchr(h, ':') ? "\"[%s]:%s\"" : "\"%s:%s\"", h,
		    *CFIELD(base, k->off2, char *));
		break;
	case CT_COUNT:
		fprintf(fp, "%u", *CFIELD(base, k->off, unsigned int));
		break;
	case CT_MODE:
		fprintf(fp, "\"%04o\"", *CFIELD(base, k->off, unsigned int));
		break;
	case CT_SIZE:
		format_size(*CFIELD(base, k->off, uint64_t), buf, sizeof(buf));
		fputs(buf, fp);
		break;
	case CT_DURATION:
		format_duration(*CFIELD(base, k->off, int64_t), buf,
		    sizeof(buf));
		fputs(buf, fp);
		break;
	case CT_ENUM:
		fputs(k->names[*CFIELD(base, k->off, int)], fp);
		break;
	default:
		break;
	}
}

static const char *
leaf(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot ? dot + 1 : path;
}

static int
indent_of(const char *path)
{
	int n = 0;

	for (; *path != '\0'; path++)
		n += *path == '.';
	return 2 * n;
}

int
conf_dump(const struct conf *c, FILE *fp)
{
	const struct conf_key *k, *sk;
	const struct conf_list *l;
	const char *item;
	size_t i, j, n;
	bool first;

	for (k = conf_keys; k < conf_keys + NKEYS; k++) {
		switch (k->type) {
		case CT_INCLUDE:
			break;
		case CT_SECTION:
			fprintf(fp, "%*s%s:\n", indent_of(k->path), "",
			    leaf(k->path));
			break;
		case CT_LIST:
			l = k->list;
			n = *CFIELD(c, k->off2, size_t);
			fprintf(fp, "%*s%s:%s\n", indent_of(k->path), "",
			    leaf(k->path), n == 0 ? " []" : "");
			for (i = 0; i < n; i++) {
				item = *CFIELD(c, k->off, char *) +
				    i * l->item_size;
				first = true;
				for (j = 0; j < l->nkeys; j++) {
					sk = &l->keys[j];
					if (l->item_skip(item, sk))
						continue;
					fprintf(fp, "%*s%s%s: ",
					    indent_of(k->path) + 2, "",
					    first ? "- " : "  ", sk->path);
					dump_value(fp, sk, item);
					fputc('\n', fp);
					first = false;
				}
			}
			break;
		default:
			fprintf(fp, "%*s%s: ", indent_of(k->path), "",
			    leaf(k->path));
			dump_value(fp, k, c);
			fputc('\n', fp);
			break;
		}
	}
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

/*
 * Overrides.
 */

/* The raw bytes of a key's fields, to restore a failed override. */
struct snapshot {
	unsigned char	a[sizeof(uint64_t)];
	char		*p2;
};

static size_t
value_size(const struct conf_key *k)
{
	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
	case CT_ADDRESS:
		return sizeof(char *);
	case CT_SIZE:
		return sizeof(uint64_t);
	case CT_DURATION:
		return sizeof(int64_t);
	case CT_ENUM:
		return sizeof(int);
	default:
		return sizeof(unsigned int);
	}
}

/* Saves k's value and detaches its strings, so set_value frees none. */
static void
snap_take(const struct conf_key *k, void *base, struct snapshot *s)
{
	memcpy(s->a, FIELD(base, k->off, char), value_size(k));
	s->p2 = NULL;
	if (k->type == CT_ADDRESS)
		s->p2 = *FIELD(base, k->off2, char *);
	if (k->type == CT_STRING || k->type == CT_PATH ||
	    k->type == CT_ADDRESS)
		*FIELD(base, k->off, char *) = NULL;
	if (k->type == CT_ADDRESS)
		*FIELD(base, k->off2, char *) = NULL;
}

static void
snap_restore(const struct conf_key *k, void *base, struct snapshot *s)
{
	free_value(k, base);
	memcpy(FIELD(base, k->off, char), s->a, value_size(k));
	if (k->type == CT_ADDRESS)
		*FIELD(base, k->off2, char *) = s->p2;
}

static void
snap_drop(const struct conf_key *k, struct snapshot *s)
{
	char *p;

	if (k->type == CT_STRING || k->type == CT_PATH ||
	    k->type == CT_ADDRESS) {
		memcpy(&p, s->a, sizeof(p));
		free(p);
	}
	free(s->p2);
}

static int
override_listener(struct conf *c, const char *key, const char *value,
    const char **fieldp, struct conf_listener **lip, char **addrp,
    struct conf_error *err)
{
	struct conf_listener *li;
	const char *p = key + strlen("listeners["), *field;
	char msg[256];
	uint64_t idx;
	bool ovf;
	int r;

	*addrp = NULL;
	p = scan_uint(p, &idx, &ovf);
	if (p == NULL || p[0] != ']' || p[1] != '.') {
		errno = ENOENT;
		return errf(err, NULL, 0, 0, key, 0, "expected "
		    "listeners[N].field");
	}
	if (ovf || idx >= c->nlisteners) {
		errno = ENOENT;
		return errf(err, NULL, 0, 0, key, 0, "there are %zu "
		    "listeners", c->nlisteners);
	}
	li = &c->listeners[idx];
	field = p + 2;
	if (strcmp(field, "port") == 0 || strcmp(field, "host") == 0 ||
	    strcmp(field, "address") == 0) {
		if (li->host == NULL) {
			errno = EINVAL;
			return errf(err, NULL, 0, 0, key, 0, "a unix listener "
			    "has no %s", field);
		}
		if (strcmp(field, "port") == 0 &&
		    (r = parse_port(value, msg, sizeof(msg))) != 0) {
			errno = -r;
			return errf(err, NULL, 0, 0, key, 0, "%s", msg);
		}
		/* Compose an address, so it goes through one parser. */
		if (strcmp(field, "address") == 0)
			r = asprintf(addrp, "%s", value);
		else if (strcmp(field, "port") == 0)
			r = asprintf(addrp, strchr(li->host, ':') ?
			    "[%s]:%s" : "%s:%s", li->host, value);
		else
			r = asprintf(addrp, strchr(value, ':') ? "[%s]:%s" :
			    "%s:%s", value, li->port);
		if (r == -1) {
			*addrp = NULL;
			errno = ENOMEM;
			return errf(err, NULL, 0, 0, key, ENOMEM,
			    "out of memory");
		}
		field = "address";
	} else if ((strcmp(field, "unix") == 0 ||
	    strcmp(field, "mode") == 0) && li->unix_path == NULL) {
		errno = EINVAL;
		return errf(err, NULL, 0, 0, key, 0, "a TCP listener has no "
		    "%s", field);
	}
	*fieldp = field;
	*lip = li;
	return 0;
}

int
conf_apply_override_err(struct conf *c, const char *key, const char *value,
    struct conf_error *err)
{
	const struct conf_key *k;
	struct conf_listener *li = NULL;
	struct snapshot snap;
	const char *field = NULL;
	char msg[256], *addr = NULL;
	void *base = c;
	int r;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (strncmp(key, "listeners[", strlen("listeners[")) == 0) {
		if (override_listener(c, key, value, &field, &li, &addr,
		    err) == -1)
			return -1;
		k = key_find(listener_keys, nitems(listener_keys), field);
		base = li;
		if (addr != NULL)
			value = addr;
	} else
		k = key_find(conf_keys, NKEYS, key);
	if (k == NULL || k->type == CT_SECTION || k->type == CT_LIST ||
	    k->type == CT_INCLUDE) {
		free(addr);
		errno = ENOENT;
		return errf(err, NULL, 0, 0, key, 0, k == NULL ?
		    "unknown key" : "not a single value");
	}
	snap_take(k, base, &snap);
	if ((r = set_value(k, base, value, NULL, msg, sizeof(msg))) != 0) {
		snap_restore(k, base, &snap);
		free(addr);
		errno = -r;
		return errf(err, NULL, 0, 0, key, r == -ENOMEM ? ENOMEM : 0,
		    "%s", msg);
	}
	free(addr);
	if (li != NULL && listener_check(li, NULL, &field, msg,
	    sizeof(msg)) != 0) {
		snap_restore(k, base, &snap);
		errno = EINVAL;
		return errf(err, NULL, 0, 0, key, 0, "%s", msg);
	}
	if (check_conf(c, NULL, err) == -1) {
		snap_restore(k, base, &snap);
		errno = ERANGE;
		return -1;
	}
	snap_drop(k, &snap);
	return 0;
}

int
conf_apply_override(struct conf *c, const char *key, const char *value)
{
	return conf_apply_override_err(c, key, value, NULL);
}

const char *
conf_key_info(size_t i, const char **def, int *reloadable)
{
	const struct conf_key *k;

	if (i < NKEYS)
		k = &conf_keys[i];
	else if (i < NKEYS + nitems(listener_keys))
		k = &listener_keys[i - NKEYS];
	else
		return NULL;
	if (def != NULL)
		*def = k->def;
	if (reloadable != NULL)
		*reloadable = i < NKEYS ? (k->flags & CK_RELOAD) != 0 : 0;
	return k->doc != NULL ? k->doc : k->path;
}
