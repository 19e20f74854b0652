/*
 * conf.c: corobus.yaml -> struct conf.  The only file that knows YAML.
 *
 * Every key is one row of conf_keys[] (Redis' static_configs[]): path,
 * type, bounds, default as written in YAML, whether a reload applies it,
 * and its place in struct conf.  Parsing, defaults, conf_dump,
 * conf_diff_restart, overrides and conf_free walk that table, so a new key
 * is a row plus a struct field; listeners have a table of their own.
 * libyaml's events drive a recursive descent over the schema that refuses
 * aliases, anchors, tags and any unexpected event at once.  Files merge in
 * reading order (conf_include.c): a later scalar replaces an earlier one,
 * listeners append.  Whole-config checks run once at the end.  Errors are
 * returned as text, never printed; the first one wins.  Scalars as text
 * (sizes, durations, addresses, ${VAR}) are conf_value.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf.h"
#include "conf-internal.h"

#ifndef CONF_DEFAULT_LOG_FILE
#define CONF_DEFAULT_LOG_FILE	"/var/log/corobus/corobus.log"
#endif
#define CONF_DEFAULT_ADDRESS	"127.0.0.1:4240"
#define CONF_DEFAULT_MONITORING	"127.0.0.1:8240"
#define CONF_KEY_MAX		64		/* longest key we look up */
#define KEYPATH_MAX		256		/* "listeners[12].address" */

static const char *const proto_names[] = { "nats", "datagram", NULL };
static const char *const log_target_names[] = {
	"stderr", "file", "syslog", "journal", NULL
};
static const char *const tls_verify_names[] = {
	"none", "optional", "required", NULL
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
	/* TLS: on when tls.cert is set; the files are re-read on reload */
	{ "tls", "listeners[].tls", CT_SECTION, CK_RELOAD, 0, 0,
	    0, 0, NULL, NULL, NULL },
	{ "tls.cert", "listeners[].tls.cert", CT_PATH, CK_RELOAD,
	    LF(tls.cert), 0, 0, 0, "", NULL, NULL },
	{ "tls.key", "listeners[].tls.key", CT_PATH, CK_RELOAD,
	    LF(tls.key), 0, 0, 0, "", NULL, NULL },
	{ "tls.ca", "listeners[].tls.ca", CT_PATH, CK_RELOAD,
	    LF(tls.ca), 0, 0, 0, "", NULL, NULL },
	{ "tls.verify", "listeners[].tls.verify", CT_ENUM, CK_RELOAD,
	    LF(tls.verify), 0, 0, 0, "none", tls_verify_names, NULL },
	{ "tls.map", "listeners[].tls.map", CT_BOOL, CK_RELOAD,
	    LF(tls.map), 0, 0, 0, "false", NULL, NULL },
	{ "tls.handshake_timeout", "listeners[].tls.handshake_timeout",
	    CT_DURATION, CK_RELOAD, LF(tls.handshake_timeout), 0,
	    100, 10 * MIN, "2s", NULL, NULL },
	{ "tls.first", "listeners[].tls.first", CT_BOOL, 0,
	    LF(tls.first), 0, 0, 0, "false", NULL, NULL },
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

/* Permission keys under prefix pfx, fields at base + offsetof(perms). */
#define PF(f)	offsetof(struct conf_perms, f)
#define PERM_KEYS(pfx, base)						\
	{ pfx "publish", NULL, CT_SECTION, CK_RELOAD | CK_SHORT, 0, 0,	\
	    0, 0, NULL, NULL, NULL },					\
	{ pfx "publish.allow", NULL, CT_STRLIST, CK_RELOAD,		\
	    (base) + PF(pub_allow), (base) + PF(npub_allow), 0, 0, NULL,	\
	    NULL, NULL },						\
	{ pfx "publish.deny", NULL, CT_STRLIST, CK_RELOAD,		\
	    (base) + PF(pub_deny), (base) + PF(npub_deny), 0, 0, NULL,	\
	    NULL, NULL },						\
	{ pfx "subscribe", NULL, CT_SECTION, CK_RELOAD | CK_SHORT, 0, 0,	\
	    0, 0, NULL, NULL, NULL },					\
	{ pfx "subscribe.allow", NULL, CT_STRLIST, CK_RELOAD,		\
	    (base) + PF(sub_allow), (base) + PF(nsub_allow), 0, 0, NULL,	\
	    NULL, NULL },						\
	{ pfx "subscribe.deny", NULL, CT_STRLIST, CK_RELOAD,		\
	    (base) + PF(sub_deny), (base) + PF(nsub_deny), 0, 0, NULL,	\
	    NULL, NULL },						\
	{ pfx "allow_responses", NULL, CT_SECTION,			\
	    CK_RELOAD | CK_PRESENT | CK_BOOLEAN, (base) + PF(responses), 0,	\
	    0, 0, NULL, NULL, NULL },					\
	{ pfx "allow_responses.max", NULL, CT_COUNT, CK_RELOAD,		\
	    (base) + PF(responses_max), 0, 1, 1000000, "1", NULL, NULL },	\
	{ pfx "allow_responses.expires", NULL, CT_DURATION, CK_RELOAD,	\
	    (base) + PF(responses_expires), 0, 0, 24 * HOUR, "2m", NULL,	\
	    NULL }

#define UF(f)	offsetof(struct conf_user, f)

static const struct conf_key user_keys[] = {
	{ "user", NULL, CT_STRING, CK_RELOAD, UF(user), 0, 0, 0, "", NULL,
	    NULL },
	{ "password", NULL, CT_STRING, CK_RELOAD | CK_SECRET | CK_RAW,
	    UF(password), 0, 0, 0, "", NULL, NULL },
	{ "permissions", NULL, CT_SECTION, CK_RELOAD | CK_PRESENT,
	    UF(has_perms), 0, 0, 0, NULL, NULL, NULL },
	PERM_KEYS("permissions.", UF(perms)),
};

static int	user_init(void *, const char *, int, int);
static int	user_check(void *, const bool *, const char **, char *,
		    size_t);
static int	user_copy(void *, const void *);
static void	user_free(void *);
static bool	user_skip(const void *, const struct conf_key *);

static const struct conf_list user_list = {
	user_keys, nitems(user_keys), sizeof(struct conf_user),
	user_init, user_check, user_copy, user_free, user_skip
};

#define XF(f)	offsetof(struct conf_unix_user, f)

static const struct conf_key unix_user_keys[] = {
	{ "uid", NULL, CT_COUNT, CK_RELOAD, XF(uid), 0, 0, 4294967294LL,
	    "0", NULL, NULL },
	{ "user", NULL, CT_STRING, CK_RELOAD, XF(user), 0, 0, 0, "", NULL,
	    NULL },
};

static int	unix_user_init(void *, const char *, int, int);
static int	unix_user_check(void *, const bool *, const char **, char *,
		    size_t);
static int	unix_user_copy(void *, const void *);
static void	unix_user_free(void *);
static bool	unix_user_skip(const void *, const struct conf_key *);

static const struct conf_list unix_user_list = {
	unix_user_keys, nitems(unix_user_keys), sizeof(struct conf_unix_user),
	unix_user_init, unix_user_check, unix_user_copy, unix_user_free,
	unix_user_skip
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
	SECTION("monitoring"),
	{ "monitoring.address", NULL, CT_ADDRESS, CK_RELOAD | CK_EMPTY,
	    CF(monitoring.host), CF(monitoring.port), 0, 0,
	    CONF_DEFAULT_MONITORING, NULL, NULL },
	KEY("monitoring.user", CT_STRING, CK_RELOAD, monitoring.user, 0, 0,
	    ""),
	KEY("monitoring.password", CT_STRING, CK_RELOAD | CK_SECRET,
	    monitoring.password, 0, 0, ""),
	SECTION("datagram"),
	KEY("datagram.lease", CT_DURATION, CK_RELOAD, datagram.lease,
	    1 * SEC, 1 * HOUR, "30s"),
	KEY("datagram.max_datagram", CT_SIZE, CK_RELOAD,
	    datagram.max_datagram, 64, 65507, "1400"),
	KEY("datagram.max_leases", CT_COUNT, CK_RELOAD, datagram.max_leases,
	    1, 1000000, "4096"),
	KEY("datagram.leases_per_source", CT_COUNT, CK_RELOAD,
	    datagram.leases_per_source, 1, 65536, "16"),
	KEY("datagram.subs_per_lease", CT_COUNT, CK_RELOAD,
	    datagram.subs_per_lease, 1, 1024, "16"),
	KEY("datagram.rate", CT_COUNT, CK_RELOAD, datagram.rate, 1,
	    10000000, "1000"),
	KEY("datagram.burst", CT_COUNT, CK_RELOAD, datagram.burst, 1,
	    10000000, "2000"),
	SECTION("auth"),
	{ "auth.users", NULL, CT_LIST, CK_RELOAD, CF(auth.users),
	    CF(auth.nusers), 0, 0, NULL, NULL, &user_list },
	KEY("auth.token", CT_STRING, CK_RELOAD | CK_SECRET | CK_RAW,
	    auth.token, 0, 0, ""),
	KEY("auth.token_file", CT_PATH, CK_RELOAD, auth.token_file, 0, 0,
	    ""),
	KEY("auth.password_file", CT_PATH, CK_RELOAD, auth.password_file, 0,
	    0, ""),
	KEY("auth.no_auth_user", CT_STRING, CK_RELOAD, auth.no_auth_user, 0,
	    0, ""),
	SECTION("auth.default_permissions"),
	PERM_KEYS("auth.default_permissions.", CF(auth.default_perms)),
	{ "auth.unix_users", NULL, CT_LIST, CK_RELOAD, CF(auth.unix_users),
	    CF(auth.nunix_users), 0, 0, NULL, NULL, &unix_user_list },
	KEY("auth.timeout", CT_DURATION, CK_RELOAD, auth.timeout, 0,
	    10 * MIN, "0s"),
	/* Clustering.  The name and the listen address are restart-only:
	 * the route listener and every route are built on them. */
	SECTION("cluster"),
	KEY("cluster.name", CT_STRING, 0, cluster.name, 0, 0, ""),
	{ "cluster.address", NULL, CT_ADDRESS, CK_EMPTY, CF(cluster.host),
	    CF(cluster.port), 0, 0, "", NULL, NULL },
	KEY("cluster.advertise", CT_STRING, CK_RELOAD | CK_HOSTPORT,
	    cluster.advertise, 0, 0, ""),
	KEY("cluster.no_advertise", CT_BOOL, CK_RELOAD, cluster.no_advertise,
	    0, 0, "false"),
	{ "cluster.routes", NULL, CT_STRLIST, CK_RELOAD | CK_ROUTE,
	    CF(cluster.routes), CF(cluster.nroutes), 0, 0, NULL, NULL,
	    NULL },
	KEY("cluster.connect_retries", CT_COUNT, CK_RELOAD,
	    cluster.connect_retries, 0, 1000, "3"),
	KEY("cluster.max_pending", CT_SIZE, CK_RELOAD, cluster.max_pending,
	    1 * MiB, 64 * GiB, "256MiB"),
	KEY("cluster.write_deadline", CT_DURATION, CK_RELOAD,
	    cluster.write_deadline, 100, 1 * HOUR, "10s"),
	/* 100ms, below limits.ping_interval's 1s, so that tests can see a
	 * stale route quickly */
	KEY("cluster.ping_interval", CT_DURATION, CK_RELOAD,
	    cluster.ping_interval, 100, 24 * HOUR, "2m"),
	KEY("cluster.ping_max", CT_COUNT, CK_RELOAD, cluster.ping_max, 1,
	    1000, "2"),
	SECTION("cluster.authorization"),
	KEY("cluster.authorization.user", CT_STRING, CK_RELOAD, cluster.user,
	    0, 0, ""),
	KEY("cluster.authorization.password", CT_STRING,
	    CK_RELOAD | CK_SECRET | CK_RAW, cluster.password, 0, 0, ""),
	KEY("cluster.authorization.timeout", CT_DURATION, CK_RELOAD,
	    cluster.auth_timeout, 100, 10 * MIN, "2s"),
	SECTION("cluster.tls"),
	KEY("cluster.tls.cert", CT_PATH, CK_RELOAD, cluster.tls.cert, 0, 0,
	    ""),
	KEY("cluster.tls.key", CT_PATH, CK_RELOAD, cluster.tls.key, 0, 0, ""),
	KEY("cluster.tls.ca", CT_PATH, CK_RELOAD, cluster.tls.ca, 0, 0, ""),
	KEY("cluster.tls.handshake_timeout", CT_DURATION, CK_RELOAD,
	    cluster.tls.handshake_timeout, 100, 10 * MIN, "2s"),
	SECTION("cluster.permissions"),
	{ "cluster.permissions.import", NULL, CT_STRLIST,
	    CK_RELOAD | CK_SUBJECT, CF(cluster.import), CF(cluster.nimport),
	    0, 0, NULL, NULL, NULL },
	{ "cluster.permissions.export", NULL, CT_STRLIST,
	    CK_RELOAD | CK_SUBJECT, CF(cluster.export), CF(cluster.nexport),
	    0, 0, NULL, NULL, NULL },
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

int
conf__errf(struct conf_error *err, const char *file, int line, int col,
    const char *key, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(err, file, line, col, key, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

/* Records the first error of a load; later ones are consequences. */
int
conf__lerr(struct load *ld, const struct mark *m, const char *key,
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

int
conf__oom(struct load *ld)
{
	if (!ld->failed) {
		ld->failed = true;
		conf__errf(ld->err, NULL, 0, 0, NULL, ENOMEM, "out of memory");
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

int
conf__push_str(char ***v, size_t *n, char *s)
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
	return conf_value_set_defaults(listener_keys, nitems(listener_keys),
	    item) == 0 ? 0 : -1;
}

/* tls: cert and key go together; verify needs a ca, map a verify. */
static int
listener_check_tls(const struct conf_listener *li, const char **subkey,
    char *msg, size_t len)
{
	const struct conf_tls *t = &li->tls;
	bool cert = t->cert != NULL && t->cert[0] != '\0';
	bool key = t->key != NULL && t->key[0] != '\0';
	bool ca = t->ca != NULL && t->ca[0] != '\0';

	if (cert != key) {
		*subkey = cert ? "tls.key" : "tls.cert";
		snprintf(msg, len, "tls.cert and tls.key go together");
		return -EINVAL;
	}
	if (!cert && (ca || t->verify != CONF_TLS_VERIFY_NONE || t->map ||
	    t->first)) {
		*subkey = "tls.cert";
		snprintf(msg, len, "required by the other tls keys");
		return -EINVAL;
	}
	if (t->verify != CONF_TLS_VERIFY_NONE && !ca) {
		*subkey = "tls.ca";
		snprintf(msg, len, "required when tls.verify is not none");
		return -EINVAL;
	}
	if (t->map && t->verify == CONF_TLS_VERIFY_NONE) {
		*subkey = "tls.map";
		snprintf(msg, len, "needs tls.verify optional or required");
		return -EINVAL;
	}
	return 0;
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
	if (li->proto == CONF_PROTO_DATAGRAM && li->unix_path != NULL) {
		*subkey = "unix";
		snprintf(msg, len, "a datagram listener needs an address");
		return -EINVAL;
	}
	if (li->proto == CONF_PROTO_DATAGRAM && li->tls.cert != NULL &&
	    li->tls.cert[0] != '\0') {
		*subkey = "tls";
		snprintf(msg, len, "a datagram listener has no TLS");
		return -EINVAL;
	}
	if (seen != NULL && seen[LK_MODE] && li->unix_path == NULL) {
		*subkey = "mode";
		snprintf(msg, len, "only a unix listener has a mode");
		return -EINVAL;
	}
	return listener_check_tls(li, subkey, msg, len);
}

static int
listener_copy(void *dst, const void *src)
{
	return conf_value_dup_str(&((struct conf_listener *)dst)->file,
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
	if (strncmp(k->path, "tls", 3) == 0)
		return li->tls.cert == NULL || li->tls.cert[0] == '\0';
	if (k->type == CT_ADDRESS)
		return li->host == NULL;
	return k->type == CT_PATH && li->unix_path == NULL;
}

/*
 * Users and Unix users.
 */

static int
user_init(void *item, const char *file, int line, int col)
{
	struct conf_user *u = item;

	u->line = line;
	u->col = col;
	if (file != NULL && (u->file = strdup(file)) == NULL)
		return -1;
	return conf_value_set_defaults(user_keys, nitems(user_keys),
	    item) == 0 ? 0 : -1;
}

static int
user_check(void *item, const bool *seen, const char **subkey, char *msg,
    size_t len)
{
	struct conf_user *u = item;

	(void)seen;
	*subkey = NULL;
	if (u->user == NULL || u->user[0] == '\0') {
		snprintf(msg, len, "needs a user name");
		return -EINVAL;
	}
	if (strchr(u->user, ':') != NULL) {
		*subkey = "user";
		snprintf(msg, len, "a user name cannot contain ':'");
		return -EINVAL;
	}
	return 0;
}

static int
user_copy(void *dst, const void *src)
{
	return conf_value_dup_str(&((struct conf_user *)dst)->file,
	    ((const struct conf_user *)src)->file);
}

static void
user_free(void *item)
{
	struct conf_user *u = item;

	free(u->file);
	u->file = NULL;
}

static bool
user_skip(const void *item, const struct conf_key *k)
{
	const struct conf_user *u = item;

	if (strncmp(k->path, "permissions", 11) != 0)
		return false;
	if (!u->has_perms)
		return true;
	return strncmp(k->path, "permissions.allow_responses.", 28) == 0 &&
	    !u->perms.responses;
}

static int
unix_user_init(void *item, const char *file, int line, int col)
{
	struct conf_unix_user *x = item;

	x->line = line;
	x->col = col;
	if (file != NULL && (x->file = strdup(file)) == NULL)
		return -1;
	return conf_value_set_defaults(unix_user_keys,
	    nitems(unix_user_keys), item) == 0 ? 0 : -1;
}

static int
unix_user_check(void *item, const bool *seen, const char **subkey,
    char *msg, size_t len)
{
	struct conf_unix_user *x = item;

	*subkey = NULL;
	if (seen != NULL && !seen[0]) {
		snprintf(msg, len, "needs a uid");
		return -EINVAL;
	}
	if (x->user == NULL || x->user[0] == '\0') {
		snprintf(msg, len, "needs a user name");
		return -EINVAL;
	}
	return 0;
}

static int
unix_user_copy(void *dst, const void *src)
{
	return conf_value_dup_str(&((struct conf_unix_user *)dst)->file,
	    ((const struct conf_unix_user *)src)->file);
}

static void
unix_user_free(void *item)
{
	struct conf_unix_user *x = item;

	free(x->file);
	x->file = NULL;
}

static bool
unix_user_skip(const void *item, const struct conf_key *k)
{
	(void)item;
	(void)k;
	return false;
}

/*
 * YAML.
 */

static int
yparse_error(struct yfile *y)
{
	yaml_parser_t *p = &y->parser;
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR)
		return conf__oom(y->ld);
	if (p->error == YAML_READER_ERROR) {
		m.line = 0;
		m.column = 0;
		if (!y->ld->failed) {
			y->ld->failed = true;
			conf__errf(y->ld->err, y->name, 0, 0, NULL, 0,
			    "byte %zu: %s", p->problem_offset, p->problem ?
			    p->problem : "bad input");
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
	case CT_BOOL:
		return "true or false";
	case CT_STRLIST:
		return "a string or a list of strings";
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
static int	parse_value(struct yfile *, const struct conf_key *, size_t,
		    const struct conf_key *, const char *, void *);

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
	if (k->flags & CK_RAW) {
		if ((v = strdup(raw)) == NULL)
			return conf__oom(y->ld);
	} else if ((r = conf_value_expand(raw, &v, msg, sizeof(msg))) != 0)
		return r == -ENOMEM ? conf__oom(y->ld) :
		    yerr(y, &y->ev.start_mark, dpath, "%s", msg);
	r = conf_value_set(k, base, v, y->dir, msg, sizeof(msg));
	free(v);
	if (r == -ENOMEM)
		return conf__oom(y->ld);
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
	if ((r = conf_value_expand(raw, &v, msg, sizeof(msg))) != 0)
		return r == -ENOMEM ? conf__oom(y->ld) :
		    yerr(y, &y->ev.start_mark, dpath, "%s", msg);
	if (*v == '\0') {
		free(v);
		return yerr(y, &y->ev.start_mark, dpath, "empty glob");
	}
	if ((ni = realloc(y->incs, (y->nincs + 1) * sizeof(*ni))) == NULL) {
		free(v);
		return conf__oom(y->ld);
	}
	y->incs = ni;
	ni[y->nincs].pattern = v;
	ni[y->nincs].from.file = y->name;
	ni[y->nincs].from.line = (int)y->ev.start_mark.line + 1;
	ni[y->nincs].from.col = (int)y->ev.start_mark.column + 1;
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
			return conf__oom(y->ld);
		*itemsp = ni;
		item = ni + *np * l->item_size;
		memset(item, 0, l->item_size);
		(*np)++;
		if (l->item_init(item, y->name, (int)y->ev.start_mark.line + 1,
		    (int)y->ev.start_mark.column + 1) == -1)
			return conf__oom(y->ld);
		start = y->ev.start_mark;
		if ((seen = calloc(l->nkeys, sizeof(*seen))) == NULL)
			return conf__oom(y->ld);
		if ((given = calloc(l->nkeys, sizeof(*given))) == NULL) {
			free(seen);
			return conf__oom(y->ld);
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

/* A string or a sequence of strings, replacing what was there. */
static int
parse_strlist(struct yfile *y, const struct conf_key *k, const char *dpath,
    void *base)
{
	char msg[256], *v;
	const char *raw;
	int r;

	conf_value_free(k, base);
	if (ev_is_null(&y->ev))
		return 0;
	if (y->ev.type != YAML_SEQUENCE_START_EVENT)
		return parse_scalar(y, k, dpath, base);
	for (;;) {
		if (ynext(y, dpath) == -1)
			return -1;
		if (y->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (y->ev.type != YAML_SCALAR_EVENT || ev_is_null(&y->ev))
			return yerr(y, &y->ev.start_mark, dpath, "expected a "
			    "string, found %s", ev_kind(&y->ev));
		if ((raw = scalar_text(y, dpath)) == NULL)
			return -1;
		if ((r = conf_value_expand(raw, &v, msg, sizeof(msg))) != 0)
			return r == -ENOMEM ? conf__oom(y->ld) :
			    yerr(y, &y->ev.start_mark, dpath, "%s", msg);
		r = conf_value_strlist_add(k, base, v, msg, sizeof(msg));
		free(v);
		if (r == -ENOMEM)
			return conf__oom(y->ld);
		if (r != 0)
			return yerr(y, &y->ev.start_mark, dpath, "%s", msg);
	}
}

/* A section given as a scalar or a list: CK_BOOLEAN takes true or false,
 * CK_SHORT hands the value to the section's first key. */
static int
parse_section_short(struct yfile *y, const struct conf_key *keys,
    size_t nkeys, const struct conf_key *k, const char *dpath, void *base)
{
	struct conf_key bk;
	char sub[KEYPATH_MAX];

	if (k->flags & CK_BOOLEAN) {
		bk = *k;
		bk.type = CT_BOOL;
		return parse_scalar(y, &bk, dpath, base);
	}
	if ((k->flags & CK_SHORT) && k + 1 < keys + nkeys) {
		kfmt(sub, sizeof(sub), "%s.%s", dpath, strrchr(k[1].path, '.') +
		    1);
		return parse_value(y, keys, nkeys, k + 1, sub, base);
	}
	return type_error(y, k, dpath);
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
			return parse_section_short(y, keys, nkeys, k, dpath,
			    base);
		if (k->flags & CK_PRESENT)
			*FIELD(base, k->off, int) = 1;
		kfmt(prefix, sizeof(prefix), "%s.", k->path);
		kfmt(dprefix, sizeof(dprefix), "%s.", dpath);
		return parse_mapping(y, keys, nkeys, prefix, dprefix, base,
		    NULL);
	case CT_LIST:
		return parse_list(y, k, dpath, base);
	case CT_STRLIST:
		return parse_strlist(y, k, dpath, base);
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
		return conf__oom(y->ld);
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
	if (conf__push_str(&ld->names, &ld->nnames, s) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

int
conf__parse_buffer(struct load *ld, const char *name, const void *buf,
    size_t len, int depth)
{
	struct yfile y;
	size_t i;
	int r = -1;

	memset(&y, 0, sizeof(y));
	y.ld = ld;
	y.depth = depth;
	if ((y.name = keep_name(ld, name)) == NULL ||
	    (y.dir = conf_include_file_dir(name)) == NULL)
		return conf__oom(ld);
	if (!yaml_parser_initialize(&y.parser)) {
		free(y.dir);
		return conf__oom(ld);
	}
	yaml_parser_set_input_string(&y.parser, buf, len);
	if (parse_stream(&y) == 0)
		r = conf_include_run(ld, y.incs, y.nincs, y.dir, y.depth);
	if (y.have_ev)
		yaml_event_delete(&y.ev);
	yaml_parser_delete(&y.parser);
	for (i = 0; i < y.nincs; i++)
		free(y.incs[i].pattern);
	free(y.incs);
	free(y.dir);
	return r;
}

static struct conf *
conf_new(void)
{
	struct conf *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (conf_value_set_defaults(conf_keys, NKEYS, c) != 0) {
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
	    conf_value_set(ak, c->listeners, k->def, NULL, msg,
	    sizeof(msg)) != 0)
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
		r = conf__oom(ld);
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
load_init(struct load *ld, struct mark *set, const char *path, int flags,
    struct conf_error *err)
{
	memset(ld, 0, sizeof(*ld));
	memset(set, 0, NKEYS * sizeof(*set));
	ld->set = set;
	ld->err = err;
	ld->flags = flags;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if ((ld->conf = conf_new()) == NULL ||
	    (ld->conf->path = strdup(path)) == NULL) {
		conf_free(ld->conf);
		ld->conf = NULL;
		return conf__oom(ld);
	}
	return 0;
}

int
conf_load(const char *path, struct conf **out, struct conf_error *err)
{
	struct mark set[NKEYS];
	struct load ld;
	int r;

	if (load_init(&ld, set, path, 0, err) == -1)
		return -1;
	r = conf_include_load_file(&ld, path, 0, NULL);
	if (r == 0)
		r = conf_include_load_confd(&ld, path);
	return load_finish(&ld, r, out);
}

int
conf_load_buffer(const char *name, const void *buf, size_t len, int flags,
    struct conf **out, struct conf_error *err)
{
	struct mark set[NKEYS];
	struct load ld;
	char *real;
	int r;

	if (load_init(&ld, set, name, flags, err) == -1)
		return -1;
	/* The buffer stands for name: a file including name is a cycle. */
	if ((real = realpath(name, NULL)) != NULL &&
	    conf__push_str(&ld.stack, &ld.nstack, real) == -1) {
		free(real);
		r = conf__oom(&ld);
	} else
		r = conf__parse_buffer(&ld, name, buf, len, 0);
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
		conf_value_free(&conf_keys[i], c);
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

/* As check_err, but the message always names key (a key that is missing,
 * say); the position is key's if it was set, else at's. */
static int __attribute__((format(printf, 5, 6)))
check_err_key(struct conf_error *err, const struct mark *set,
    const char *key, const char *at, const char *fmt, ...)
{
	const struct mark *m;
	va_list ap;

	if ((m = mark_of(set, key)) == NULL && at != NULL)
		m = mark_of(set, at);
	va_start(ap, fmt);
	if (m != NULL)
		verr(err, m->file, m->line, m->col, key, 0, fmt, ap);
	else
		verr(err, NULL, 0, 0, key, 0, fmt, ap);
	va_end(ap);
	return -1;
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
			if ((a->proto == CONF_PROTO_DATAGRAM) !=
			    (b->proto == CONF_PROTO_DATAGRAM))
				clash = false;	/* UDP and TCP ports */
			else if (a->unix_path != NULL && b->unix_path != NULL)
				clash = strcmp(a->unix_path, b->unix_path) == 0;
			else if (a->port != NULL && b->port != NULL)
				clash = strcmp(a->port, "0") != 0 &&
				    strcmp(a->port, b->port) == 0 &&
				    conf_value_hosts_clash(a->host, b->host);
			else
				clash = false;
			if (!clash)
				continue;
			snprintf(key, sizeof(key), "listeners[%zu]", j);
			if (b->file != NULL && a->file != NULL)
				return conf__errf(err, b->file, b->line,
				    b->col, key, 0, "same address as "
				    "listeners[%zu] (%s:%d)", i, a->file,
				    a->line);
			if (b->file != NULL)
				return conf__errf(err, b->file, b->line,
				    b->col, key, 0, "same address as "
				    "listeners[%zu]", i);
			return conf__errf(err, NULL, 0, 0, key, 0, "same "
			    "address as listeners[%zu]", i);
		}
	}
	return 0;
}

/* The first TCP (stream) listener on the same address as host:port: its
 * index, or -1. */
static ssize_t
tcp_listener_clash(const struct conf *c, const char *host, const char *port)
{
	const struct conf_listener *li;
	size_t i;

	for (i = 0; i < c->nlisteners; i++) {
		li = &c->listeners[i];
		if (li->proto != CONF_PROTO_DATAGRAM && li->port != NULL &&
		    strcmp(li->port, port) == 0 &&
		    conf_value_hosts_clash(li->host, host))
			return (ssize_t)i;
	}
	return -1;
}

static int
check_monitoring(const struct conf *c, const struct mark *set,
    struct conf_error *err)
{
	const struct conf_monitoring *m = &c->monitoring;
	ssize_t i;

	if ((m->user == NULL || m->user[0] == '\0') !=
	    (m->password == NULL || m->password[0] == '\0'))
		return check_err(err, set, "monitoring.password",
		    "monitoring.user", "monitoring.user and "
		    "monitoring.password go together");
	if (m->port == NULL || strcmp(m->port, "0") == 0)
		return 0;
	if ((i = tcp_listener_clash(c, m->host, m->port)) >= 0)
		return check_err(err, set, "monitoring.address", NULL,
		    "same address as listeners[%zu]", (size_t)i);
	return 0;
}

static bool
unset(const char *s)
{
	return s == NULL || *s == '\0';
}

/* The route listener's address against the client listeners' and the
 * monitoring endpoint's (all TCP). */
static int
check_cluster_address(const struct conf *c, const struct mark *set,
    struct conf_error *err)
{
	const struct conf_cluster *cl = &c->cluster;
	ssize_t i;

	if (cl->port == NULL || strcmp(cl->port, "0") == 0)
		return 0;
	if ((i = tcp_listener_clash(c, cl->host, cl->port)) >= 0)
		return check_err(err, set, "cluster.address", NULL,
		    "same address as listeners[%zu]", (size_t)i);
	if (c->monitoring.port != NULL &&
	    strcmp(c->monitoring.port, cl->port) == 0 &&
	    conf_value_hosts_clash(c->monitoring.host, cl->host))
		return check_err(err, set, "cluster.address", NULL,
		    "same address as monitoring.address");
	return 0;
}

/* Keys that only make sense together; route URLs and subjects were
 * checked one by one as they were read. */
static int
check_cluster(const struct conf *c, const struct mark *set,
    struct conf_error *err)
{
	const struct conf_cluster *cl = &c->cluster;
	const struct conf_tls *t = &cl->tls;
	char a[32], b[32];

	if (cl->host != NULL && unset(cl->name))
		return check_err_key(err, set, "cluster.name",
		    "cluster.address", "required when cluster.address is "
		    "set");
	/* nats-server refuses these too: the name goes into INFO and
	 * CONNECT, and peers compare it */
	if (cl->name != NULL && strpbrk(cl->name, " \t\r\n") != NULL)
		return check_err(err, set, "cluster.name", NULL,
		    "must not contain white space");
	if (cl->host == NULL && cl->nroutes > 0)
		return check_err_key(err, set, "cluster.routes", NULL,
		    "needs cluster.address (clustering is off without it)");
	if (unset(cl->user) != unset(cl->password))
		return check_err_key(err, set, unset(cl->user) ?
		    "cluster.authorization.user" :
		    "cluster.authorization.password", unset(cl->user) ?
		    "cluster.authorization.password" :
		    "cluster.authorization.user", "cluster.authorization.user "
		    "and cluster.authorization.password go together");
	if (unset(t->cert) != unset(t->key))
		return check_err_key(err, set, unset(t->cert) ?
		    "cluster.tls.cert" : "cluster.tls.key", unset(t->cert) ?
		    "cluster.tls.key" : "cluster.tls.cert", "cluster.tls.cert "
		    "and cluster.tls.key go together");
	/* routes are servers and clients of each other: each side checks
	 * the other's certificate against ca */
	if (!unset(t->cert) && unset(t->ca))
		return check_err_key(err, set, "cluster.tls.ca",
		    "cluster.tls.cert", "required when cluster.tls.cert is "
		    "set (routes verify each other)");
	if (unset(t->cert) && !unset(t->ca))
		return check_err_key(err, set, "cluster.tls.cert",
		    "cluster.tls.ca", "required by cluster.tls.ca");
	/* a route must be able to queue the largest message a client may
	 * publish */
	if (c->limits.max_payload > cl->max_pending) {
		conf_value_format_size(c->limits.max_payload, a, sizeof(a));
		conf_value_format_size(cl->max_pending, b, sizeof(b));
		return check_err(err, set, "cluster.max_pending",
		    "limits.max_payload", "limits.max_payload (%s) must not "
		    "exceed cluster.max_pending (%s)", a, b);
	}
	return check_cluster_address(c, set, err);
}

static int
check_conf(const struct conf *c, const struct mark *set,
    struct conf_error *err)
{
	const struct conf_limits *lm = &c->limits;
	char a[32], b[32];

	if (lm->max_payload > lm->max_pending) {
		conf_value_format_size(lm->max_payload, a, sizeof(a));
		conf_value_format_size(lm->max_pending, b, sizeof(b));
		return check_err(err, set, "limits.max_payload",
		    "limits.max_pending", "max_payload (%s) must not exceed "
		    "max_pending (%s)", a, b);
	}
	if (c->lame_duck_grace_period >= c->lame_duck_duration) {
		conf_value_format_duration(c->lame_duck_grace_period, a,
		    sizeof(a));
		conf_value_format_duration(c->lame_duck_duration, b, sizeof(b));
		return check_err(err, set, "lame_duck_grace_period",
		    "lame_duck_duration", "grace period (%s) must be shorter "
		    "than lame_duck_duration (%s)", a, b);
	}
	if (c->log.target == CONF_LOG_FILE &&
	    (c->log.file == NULL || c->log.file[0] == '\0'))
		return check_err(err, set, "log.file", "log.target",
		    "required when log.target is file");
	if (check_listeners(c, err) == -1)
		return -1;
	if (c->auth.token != NULL && c->auth.token[0] != '\0' &&
	    c->auth.token_file != NULL && c->auth.token_file[0] != '\0')
		return check_err(err, set, "auth.token_file", "auth.token",
		    "auth.token and auth.token_file exclude each other");
	if (check_monitoring(c, set, err) == -1)
		return -1;
	return check_cluster(c, set, err);
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
	if (conf__push_str(keys, n, s) == -1) {
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
			if (!conf_value_same(k, old, new) &&
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
				if (!(sk->flags & CK_RELOAD) &&
				    !conf_value_same(sk, ia, ib) &&
				    push_key(keys, n, "%s[%zu].%s", k->path,
				    j, sk->path) == -1)
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

/* A list whose items have reloadable keys (listeners[].tls) and as many
 * items in both: the items keep their restart-only keys one by one. */
static bool
list_per_item(const struct conf_key *k, const struct conf *new,
    const struct conf *old)
{
	const struct conf_key *sk;

	if (k->type != CT_LIST || *CFIELD(new, k->off2, size_t) !=
	    *CFIELD(old, k->off2, size_t))
		return false;
	for (sk = k->list->keys; sk < k->list->keys + k->list->nkeys; sk++)
		if (sk->flags & CK_RELOAD)
			return true;
	return false;
}

int
conf_keep_restart(struct conf *new, const struct conf *old)
{
	const struct conf_key *k, *sk;
	const struct conf_list *l;
	struct conf tmp;
	size_t i, j, n;
	char *ni;
	const char *oi;

	/* Copy into a scratch struct first, so failure leaves new alone. */
	memset(&tmp, 0, sizeof(tmp));
	for (i = 0; i < NKEYS; i++)
		if (!(conf_keys[i].flags & CK_RELOAD) &&
		    !list_per_item(&conf_keys[i], new, old) &&
		    conf_value_copy(&conf_keys[i], &tmp, old) == -1)
			goto fail;
	/* per item: only scalars and strings, copied in place (a failure
	 * leaves new half done, and the caller drops it) */
	for (i = 0; i < NKEYS; i++) {
		k = &conf_keys[i];
		if ((k->flags & CK_RELOAD) || !list_per_item(k, new, old))
			continue;
		l = k->list;
		n = *CFIELD(old, k->off2, size_t);
		for (j = 0; j < n; j++) {
			ni = *FIELD(new, k->off, char *) + j * l->item_size;
			oi = *CFIELD(old, k->off, char *) + j * l->item_size;
			for (sk = l->keys; sk < l->keys + l->nkeys; sk++)
				if (!(sk->flags & CK_RELOAD) &&
				    conf_value_copy(sk, ni, oi) == -1)
					goto fail;
		}
	}
	for (i = 0; i < NKEYS; i++)
		if (!(conf_keys[i].flags & CK_RELOAD) &&
		    !list_per_item(&conf_keys[i], new, old))
			conf_value_move(&conf_keys[i], new, &tmp);
	return 0;
 fail:
	for (i = 0; i < NKEYS; i++)
		conf_value_free(&conf_keys[i], &tmp);
	return -1;
}

/*
 * conf_dump.
 */

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

/* A section switched off (allow_responses: false): its keys are left
 * out.  Returns true when k is one. */
static bool
dump_off_section(FILE *fp, const struct conf_key *k, const void *base,
    int indent, const char *lead)
{
	if (k->type != CT_SECTION || !(k->flags & CK_BOOLEAN) ||
	    *CFIELD(base, k->off, int))
		return false;
	fprintf(fp, "%*s%s%s: false\n", indent, "", lead, leaf(k->path));
	return true;
}

static bool
under(const struct conf_key *k, const struct conf_key *sec)
{
	size_t n = strlen(sec->path);

	return strncmp(k->path, sec->path, n) == 0 && k->path[n] == '.';
}

static void
dump_item(FILE *fp, const struct conf_key *lk, const char *item)
{
	const struct conf_list *l = lk->list;
	const struct conf_key *sk, *off = NULL;
	const char *lead = "- ";
	int indent;

	for (sk = l->keys; sk < l->keys + l->nkeys; sk++) {
		if (l->item_skip(item, sk) || (off != NULL && under(sk, off)))
			continue;
		indent = indent_of(lk->path) + 2 + (lead[0] == '-' ? 0 : 2) +
		    indent_of(sk->path);
		if (dump_off_section(fp, sk, item, indent, lead)) {
			off = sk;
		} else if (sk->type == CT_SECTION) {
			fprintf(fp, "%*s%s%s:\n", indent, "", lead,
			    leaf(sk->path));
		} else {
			fprintf(fp, "%*s%s%s: ", indent, "", lead,
			    leaf(sk->path));
			conf_value_dump(fp, sk, item);
			fputc('\n', fp);
		}
		lead = "";
	}
}

int
conf_dump(const struct conf *c, FILE *fp)
{
	const struct conf_key *k, *off = NULL;
	const struct conf_list *l;
	size_t i, n;

	for (k = conf_keys; k < conf_keys + NKEYS; k++) {
		if (off != NULL && under(k, off))
			continue;
		switch (k->type) {
		case CT_INCLUDE:
			break;
		case CT_SECTION:
			if (dump_off_section(fp, k, c, indent_of(k->path),
			    "")) {
				off = k;
				break;
			}
			fprintf(fp, "%*s%s:\n", indent_of(k->path), "",
			    leaf(k->path));
			break;
		case CT_LIST:
			l = k->list;
			n = *CFIELD(c, k->off2, size_t);
			/* an empty list reads back as a missing one */
			fprintf(fp, "%*s%s:\n", indent_of(k->path), "",
			    leaf(k->path));
			for (i = 0; i < n; i++)
				dump_item(fp, k, *CFIELD(c, k->off, char *) +
				    i * l->item_size);
			break;
		default:
			fprintf(fp, "%*s%s: ", indent_of(k->path), "",
			    leaf(k->path));
			conf_value_dump(fp, k, c);
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
	size_t		 n2;		/* a CT_STRLIST's count */
};

static size_t
value_size(const struct conf_key *k)
{
	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
	case CT_ADDRESS:
		return sizeof(char *);
	case CT_STRLIST:
		return sizeof(char **);
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

/* Saves k's value and detaches its strings, so conf_value_set frees none. */
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
	/* a list: setting it frees the old one, which we may restore */
	s->n2 = 0;
	if (k->type == CT_STRLIST) {
		s->n2 = *FIELD(base, k->off2, size_t);
		*FIELD(base, k->off, char **) = NULL;
		*FIELD(base, k->off2, size_t) = 0;
	}
}

static void
snap_restore(const struct conf_key *k, void *base, struct snapshot *s)
{
	conf_value_free(k, base);
	memcpy(FIELD(base, k->off, char), s->a, value_size(k));
	if (k->type == CT_ADDRESS)
		*FIELD(base, k->off2, char *) = s->p2;
	if (k->type == CT_STRLIST)
		*FIELD(base, k->off2, size_t) = s->n2;
}

static void
snap_drop(const struct conf_key *k, struct snapshot *s)
{
	char *p, **v;
	size_t i;

	if (k->type == CT_STRING || k->type == CT_PATH ||
	    k->type == CT_ADDRESS) {
		memcpy(&p, s->a, sizeof(p));
		free(p);
	}
	if (k->type == CT_STRLIST) {
		memcpy(&v, s->a, sizeof(v));
		for (i = 0; i < s->n2; i++)
			free(v[i]);
		free(v);
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
	p = conf_value_scan_uint(p, &idx, &ovf);
	if (p == NULL || p[0] != ']' || p[1] != '.') {
		errno = ENOENT;
		return conf__errf(err, NULL, 0, 0, key, 0, "expected "
		    "listeners[N].field");
	}
	if (ovf || idx >= c->nlisteners) {
		errno = ENOENT;
		return conf__errf(err, NULL, 0, 0, key, 0, "there are %zu "
		    "listeners", c->nlisteners);
	}
	li = &c->listeners[idx];
	field = p + 2;
	if (strcmp(field, "port") == 0 || strcmp(field, "host") == 0 ||
	    strcmp(field, "address") == 0) {
		if (li->host == NULL) {
			errno = EINVAL;
			return conf__errf(err, NULL, 0, 0, key, 0, "a unix "
			    "listener has no %s", field);
		}
		if (strcmp(field, "port") == 0 &&
		    (r = conf_value_parse_port(value, msg, sizeof(msg))) != 0) {
			errno = -r;
			return conf__errf(err, NULL, 0, 0, key, 0, "%s", msg);
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
			return conf__errf(err, NULL, 0, 0, key, ENOMEM,
			    "out of memory");
		}
		field = "address";
	} else if ((strcmp(field, "unix") == 0 ||
	    strcmp(field, "mode") == 0) && li->unix_path == NULL) {
		errno = EINVAL;
		return conf__errf(err, NULL, 0, 0, key, 0, "a TCP listener "
		    "has no %s", field);
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
		return conf__errf(err, NULL, 0, 0, key, 0, k == NULL ?
		    "unknown key" : "not a single value");
	}
	snap_take(k, base, &snap);
	if ((r = conf_value_set(k, base, value, NULL, msg, sizeof(msg))) != 0) {
		snap_restore(k, base, &snap);
		free(addr);
		errno = -r;
		return conf__errf(err, NULL, 0, 0, key, r == -ENOMEM ?
		    ENOMEM : 0, "%s", msg);
	}
	free(addr);
	if (li != NULL && listener_check(li, NULL, &field, msg,
	    sizeof(msg)) != 0) {
		snap_restore(k, base, &snap);
		errno = EINVAL;
		return conf__errf(err, NULL, 0, 0, key, 0, "%s", msg);
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
