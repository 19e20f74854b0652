/*
 * conf.h: corobusd's configuration as plain C values, and the calls that
 * load it from corobus.yaml (libyaml lives only in conf.c), check it, dump
 * it, apply command-line overrides and compare two generations on reload.
 *
 * Units: sizes are bytes (uint64_t), durations milliseconds (int64_t).
 * Every string is NUL-terminated and owned by the struct conf.
 *
 * Reload (SIGHUP): load a fresh struct with conf_load(); on error keep the
 * old one and log err.text.  On success re-apply the command-line
 * overrides, log each key conf_diff_restart() lists as "needs restart",
 * call conf_keep_restart() so those keys keep their running values, then
 * swap the pointers and conf_free() the old struct.
 */
#ifndef COROBUS_CONF_H
#define COROBUS_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_proto {
	CONF_PROTO_NATS = 0,		/* NATS client protocol, TCP or Unix */
	CONF_PROTO_DATAGRAM,		/* NATS frames in UDP datagrams */
};

enum conf_log_target {
	CONF_LOG_STDERR = 0,
	CONF_LOG_FILE,
	CONF_LOG_SYSLOG,
	CONF_LOG_JOURNAL,
};

/* In syslog order: a message is logged if its level <= the configured one. */
enum conf_log_level {
	CONF_LOG_ERROR = 0,
	CONF_LOG_WARNING,
	CONF_LOG_NOTICE,
	CONF_LOG_INFO,
	CONF_LOG_DEBUG,
	CONF_LOG_TRACE,
};

enum conf_tls_verify {
	CONF_TLS_VERIFY_NONE = 0,	/* no client certificate asked */
	CONF_TLS_VERIFY_OPTIONAL,	/* asked, checked when sent */
	CONF_TLS_VERIFY_REQUIRED,	/* asked, required, checked */
};

/* A listener's TLS; on when cert is not "".  Paths are absolute once
 * loaded.  Reload: the files are re-read and every field applies to new
 * connections. */
struct conf_tls {
	char		*cert;		/* certificate chain (PEM) */
	char		*key;		/* its private key (PEM) */
	char		*ca;		/* CAs for client certificates */
	int		 verify;	/* enum conf_tls_verify */
	int		 map;		/* bool: certificate -> user */
	int64_t		 handshake_timeout;	/* ms */
	int		 first;		/* bool: handshake before INFO */
};

/*
 * One listener.  Exactly one of (host, port) and unix_path is set.
 * host is "" for ":port" (every address: getaddrinfo(NULL, port,
 * AI_PASSIVE)), an IPv6 literal without brackets ("::1"), an IPv4
 * literal or a host name.  port is decimal, "0" to "65535".
 */
struct conf_listener {
	enum conf_proto	 proto;
	char		*host;		/* NULL for a Unix listener */
	char		*port;		/* NULL for a Unix listener */
	char		*unix_path;	/* NULL for a TCP listener */
	unsigned int	 mode;		/* Unix socket mode, default 0660 */
	struct conf_tls	 tls;
	char		*file;		/* its file, NULL if built in */
	int		 line, col;	/* 1-based; 0 if built in */
};

struct conf_limits {
	unsigned int	 max_connections;	/* 1..1000000 */
	uint64_t	 max_payload;		/* <= max_pending */
	uint64_t	 max_control_line;
	unsigned int	 max_subscriptions;	/* per conn., 0: no limit */
	uint64_t	 max_pending;		/* queued bytes per conn. */
	int64_t		 write_deadline;	/* ms */
	int64_t		 ping_interval;		/* ms */
	unsigned int	 ping_max;
	int64_t		 auth_timeout;		/* ms */
};

/* The HTTP monitoring endpoint; host and port are NULL when it is off
 * (address ""). */
struct conf_monitoring {
	char		*host;		/* "" for every address */
	char		*port;
	char		*user;		/* basic auth when not "" */
	char		*password;
};

/* The datagram (UDP) transport: leases and limits shared by every
 * datagram listener. */
struct conf_datagram {
	int64_t		 lease;			/* ms a lease lives unrefreshed */
	uint64_t	 max_datagram;		/* largest MSG datagram sent */
	unsigned int	 max_leases;		/* in all */
	unsigned int	 leases_per_source;	/* per source IP address */
	unsigned int	 subs_per_lease;
	unsigned int	 rate;			/* datagrams/s per source IP */
	unsigned int	 burst;			/* token bucket size */
};

/* Publish and subscribe permissions as written (perm.c compiles them).
 * An entry is a subject pattern; a subscribe entry may add " queue". */
struct conf_perms {
	char		**pub_allow, **pub_deny, **sub_allow, **sub_deny;
	size_t		 npub_allow, npub_deny, nsub_allow, nsub_deny;
	int		 responses;	/* bool: allow_responses */
	unsigned int	 responses_max;
	int64_t		 responses_expires;	/* ms */
};

struct conf_user {
	char		*user;
	char		*password;	/* crypt(5) hash or plain text */
	int		 has_perms;	/* bool: permissions given */
	struct conf_perms perms;
	char		*file;		/* where it was written */
	int		 line, col;
};

/* A Unix-socket peer's uid mapped to a user (SO_PEERCRED). */
struct conf_unix_user {
	unsigned int	 uid;
	char		*user;
	char		*file;
	int		 line, col;
};

/* Authentication: users (here and in password_file), a token, Unix
 * peers by uid, TLS certificates (a listener's tls.map).  Off when none
 * is configured. */
struct conf_auth {
	struct conf_user	*users;
	size_t			 nusers;
	char			*token;		/* "" none; hash or plain */
	char			*token_file;	/* "" none */
	char			*password_file;	/* "" none */
	char			*no_auth_user;	/* "" none */
	struct conf_perms	 default_perms;
	struct conf_unix_user	*unix_users;
	size_t			 nunix_users;
	int64_t			 timeout;	/* ms; 0: limits.auth_timeout */
};

/*
 * Clustering (routes to other corobusd or nats-server 2.9 nodes); on when
 * cluster.address is set.  Route URLs are kept as written and parsed with
 * conf_route_url_parse(), which the loader has already run on each.
 */
struct conf_cluster {
	char		*name;		/* cluster name; required when on */
	char		*host;		/* listen address; NULL when off */
	char		*port;
	char		*advertise;	/* "host:port" peers dial; "": the
					   listen address */
	int		 no_advertise;	/* bool: no client URLs in INFO */
	char		**routes;	/* seed route URLs */
	size_t		 nroutes;
	char		*user;		/* authorization of incoming routes: */
	char		*password;	/* "" none; password plain or hash */
	int64_t		 auth_timeout;	/* ms */
	struct conf_tls	 tls;		/* on when tls.cert is set; verify
					   and map unused */
	char		**import;	/* permissions.import: subjects we */
	size_t		 nimport;	/* take from routes (empty: all) */
	char		**export;	/* permissions.export: subjects we */
	size_t		 nexport;	/* send to routes (empty: all) */
	unsigned int	 connect_retries;	/* for gossiped routes */
	uint64_t	 max_pending;	/* queued bytes per route */
	int64_t		 write_deadline;	/* ms */
	int64_t		 ping_interval;	/* ms */
	unsigned int	 ping_max;
};

/* One route URL: [nats-route://|nats://][user[:password]@]host[:port],
 * host an IPv6 literal in brackets or not; port 6240 when absent. */
struct conf_route_url {
	char	host[256];	/* brackets removed */
	char	port[8];
	char	user[128];	/* "" none; percent-decoded */
	char	password[256];	/* "" none; percent-decoded */
};

struct conf_log {
	enum conf_log_target	 target;
	enum conf_log_level	 level;
	char			*file;		/* used when target is file */
};

struct conf {
	char			*path;		/* NULL for conf_defaults() */
	char			*server_name;	/* "": use the host name */
	struct conf_listener	*listeners;
	size_t			 nlisteners;	/* >= 1 */
	struct conf_limits	 limits;
	int64_t			 lame_duck_duration;	/* ms, >= 30 s */
	int64_t			 lame_duck_grace_period; /* ms, < duration */
	struct conf_monitoring	 monitoring;
	struct conf_datagram	 datagram;
	struct conf_auth	 auth;
	struct conf_cluster	 cluster;
	struct conf_log		 log;
};

#define CONF_ERROR_MAX	1024

struct conf_error {
	/* "file:line:col: key: message", or "file: message" for a file
	 * that can't be read, or "key: message" for an override. */
	char	text[CONF_ERROR_MAX];
	int	line, col;	/* 1-based position, 0 if none */
	int	errnum;		/* errno of a failed open/read (ENOENT for a
				 * missing main file), 0 for a config error */
};

/* conf_load_buffer() flags */
#define CONF_NO_INCLUDE	0x1	/* "include:" is an error; no file is read */

/*
 * Loads path, its includes and the conf.d/ *.yaml beside it, checks the
 * result whole and sets *out (free with conf_free).  Returns 0, or -1 with
 * err filled and *out untouched.  Never prints, never exits.  A missing
 * main file is an error with err->errnum == ENOENT; falling back to
 * conf_defaults() is the caller's choice.
 */
int	conf_load(const char *path, struct conf **out, struct conf_error *err);

/*
 * As conf_load() for a YAML document in memory; name is used in messages
 * and its directory anchors relative paths and includes.  conf.d/ is not
 * read.  For tests and the fuzzer.
 */
int	conf_load_buffer(const char *name, const void *buf, size_t len,
	    int flags, struct conf **out, struct conf_error *err);

/* The built-in configuration (one NATS listener on 127.0.0.1:4240).
 * Returns 0, or -1 if out of memory. */
int	conf_defaults(struct conf **out);

/* Frees c and everything it owns; NULL is a no-op. */
void	conf_free(struct conf *c);

/*
 * Lists the restart-only keys whose values differ between old and new,
 * as "server_name", "listeners[0].address", "listeners[2]" (a listener
 * added or removed).  *keys is an array of *n strings (NULL if none);
 * free it with conf_keys_free().  Returns 0, or -1 if out of memory.
 */
int	conf_diff_restart(const struct conf *old, const struct conf *new,
	    char ***keys, size_t *n);
void	conf_keys_free(char **keys, size_t n);

/* Copies every restart-only value of old into new, so a reload keeps
 * them.  Returns 0, or -1 if out of memory (new unchanged). */
int	conf_keep_restart(struct conf *new, const struct conf *old);

/*
 * Writes c as YAML that conf_load() reads back to the same values
 * (corobusd -T).  Secrets are redacted.  Returns 0, or -1 on a write
 * error.
 */
int	conf_dump(const struct conf *c, FILE *fp);

/*
 * Sets one key from the command line, e.g. ("listeners[0].port", "4250"),
 * ("limits.max_payload", "2MiB"), ("log.level", "debug").  Listener
 * fields are protocol, address, host, port, unix and mode.  The value is
 * taken literally (no ${VAR}, relative paths stay relative) and checked
 * like the file's, and the whole config is re-checked; on error c is
 * unchanged.  Returns 0, or -1 with errno ENOENT (no such key or
 * listener), EINVAL (bad value, or a field the listener does not have) or
 * ERANGE (out of range, or inconsistent with another key).
 */
int	conf_apply_override(struct conf *c, const char *key,
	    const char *value);
/* The same, with the reason in err->text ("listeners[0].port: ..."). */
int	conf_apply_override_err(struct conf *c, const char *key,
	    const char *value, struct conf_error *err);

/* Parses a route URL (see struct conf_route_url): 0, or -1 with the
 * reason in err (which may be NULL) and *out zeroed.  Schemes:
 * nats-route://, nats://, route:// (any case) or none; a trailing '/' is
 * allowed, no other path.  port is written back without leading zeros.
 * The message never repeats the URL, which may hold a password. */
int	conf_route_url_parse(const char *url, struct conf_route_url *out,
	    char *err, size_t errlen);
/*
 * Walks the key table for tests and documentation: the i-th key's path
 * ("limits.max_payload", "listeners[].address"), its default as written
 * in YAML (NULL if none) and whether a reload applies it.  Returns NULL
 * past the end.
 */
const char *conf_key_info(size_t i, const char **def, int *reloadable);

#endif /* COROBUS_CONF_H */
