/*
 * conf_value.c: one configuration value, as text and as C.  No YAML.
 *
 * Turns the text of a scalar, after ${VAR} expansion (also here), into
 * the field a struct conf_key points at: counts, sizes with IEC units,
 * durations, octal modes, enums, paths, and host:port or [v6]:port
 * addresses, bounds checked; route URLs and subjects in the lists that
 * hold them (cluster.routes, cluster.permissions).  Formats sizes and
 * durations back.  Frees, compares, copies and moves one key's value
 * (lists item by item), and writes it for conf_dump, quoted and escaped
 * so that conf_load reads the same value back.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf-internal.h"

/*
 * Strings.
 */

char *
conf_value_path_join(const char *dir, const char *rel)
{
	char *s;

	if (dir == NULL || rel[0] == '/')
		return strdup(rel);
	if (asprintf(&s, "%s/%s", dir, rel) == -1)
		return NULL;
	return s;
}

int
conf_value_dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		return -1;
	return 0;
}

/*
 * Scalars: parse and format.  Parsers take the expanded text and
 * write a message (without key or position) on error.
 */

/* Reads decimal digits; NULL if there are none.  *ovf on overflow. */
const char *
conf_value_scan_uint(const char *s, uint64_t *v, bool *ovf)
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

	if ((p = conf_value_scan_uint(s, &n, &ovf)) == NULL) {
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

void
conf_value_format_size(uint64_t b, char *buf, size_t len)
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
		if ((q = conf_value_scan_uint(p, &n, &ovf)) == NULL) {
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

void
conf_value_format_duration(int64_t ms, char *buf, size_t len)
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

int
conf_value_parse_port(const char *s, char *msg, size_t len)
{
	uint64_t n;
	bool ovf;
	const char *p = conf_value_scan_uint(s, &n, &ovf);

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
	    (r = conf_value_parse_port(port, msg, len)) != 0)
		goto fail;
	*hostp = host;
	*portp = port;
	return 0;
 fail:
	free(host);
	free(port);
	return r;
}

/* Wildcard hosts: "" is every address, 0.0.0.0 every IPv4, :: every IPv6. */
bool
conf_value_hosts_clash(const char *a, const char *b)
{
	bool a6 = strchr(a, ':') != NULL, b6 = strchr(b, ':') != NULL;

	if (strcmp(a, b) == 0 || *a == '\0' || *b == '\0')
		return true;
	if ((strcmp(a, "0.0.0.0") == 0 && !b6) ||
	    (strcmp(b, "0.0.0.0") == 0 && !a6))
		return true;
	return (strcmp(a, "::") == 0 && b6) || (strcmp(b, "::") == 0 && a6);
}

/*
 * Cluster values: route URLs, subjects, advertised addresses.
 */

#define ROUTE_DEFAULT_PORT	"6240"

/* Where the parts of a route URL sit in it, as written (user and
 * password still percent-encoded).  A part not given has length 0. */
struct route_parts {
	size_t	user, userlen;
	size_t	pass, passlen;
	size_t	host, hostlen;		/* inside the brackets */
	bool	bracketed;
	bool	has_port;
	size_t	port, portlen;
};

static bool
scheme_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/*
 * [scheme://][user[:password]@]host[:port][/]: splits url without
 * copying, so that parsing and conf_dump's redaction agree on where the
 * password is.  The authority ends at the first '/', as in RFC 3986 and
 * Go's net/url (nats-server's parser), and its userinfo at the last '@'.
 */
static int
route_split(const char *url, struct route_parts *rp, char *msg, size_t len)
{
	const char *p, *e, *at, *colon, *close, *hp;
	size_t n;

	memset(rp, 0, sizeof(*rp));
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(msg, len, "route URL contains a space or a "
			    "control character");
			return -EINVAL;
		}
	/* a scheme is letters, digits, '+', '-', '.' before "://" */
	n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+-.");
	p = url;
	if (n > 0 && strncmp(url + n, "://", 3) == 0) {
		if (!scheme_is(url, n, "nats-route") &&
		    !scheme_is(url, n, "nats") && !scheme_is(url, n, "route")) {
			snprintf(msg, len, "unknown scheme '%.*s' (use "
			    "nats-route://, nats:// or route://)",
			    (int)(n > 32 ? 32 : n), url);
			return -EINVAL;
		}
		p = url + n + 3;
	}
	/* the rest is not echoed: it may be the end of a password with a
	 * raw '/' */
	e = p + strcspn(p, "/?#");
	if (*e != '\0' && !(*e == '/' && e[1] == '\0')) {
		if (strchr(e, '@') != NULL)
			snprintf(msg, len, "'%c' in the user name or password "
			    "(percent-encode it)", *e);
		else
			snprintf(msg, len, "unexpected '%c' after the host (a "
			    "route URL has no path, query or fragment)", *e);
		return -EINVAL;
	}
	/* userinfo: the last '@', so a raw '@' in a password still works */
	for (at = NULL, hp = p; hp < e; hp++)
		if (*hp == '@')
			at = hp;
	hp = p;
	if (at != NULL) {
		colon = memchr(p, ':', at - p);
		rp->user = p - url;
		rp->userlen = (colon != NULL ? colon : at) - p;
		if (colon != NULL) {
			rp->pass = colon + 1 - url;
			rp->passlen = at - colon - 1;
		}
		if (rp->userlen == 0) {
			snprintf(msg, len, "empty user name before '@'");
			return -EINVAL;
		}
		hp = at + 1;
	}
	if (hp[0] == '[') {
		if ((close = memchr(hp, ']', e - hp)) == NULL) {
			snprintf(msg, len, "missing ']' after the IPv6 "
			    "address");
			return -EINVAL;
		}
		rp->bracketed = true;
		rp->host = hp + 1 - url;
		rp->hostlen = close - hp - 1;
		colon = close + 1 < e ? close + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			snprintf(msg, len, "unexpected '%c' after ']'",
			    *colon);
			return -EINVAL;
		}
	} else {
		colon = memchr(hp, ':', e - hp);
		rp->host = hp - url;
		rp->hostlen = (colon != NULL ? colon : e) - hp;
		if (colon != NULL && memchr(colon + 1, ':', e - colon - 1) !=
		    NULL) {
			snprintf(msg, len, "an IPv6 address needs brackets, "
			    "e.g. nats-route://[::1]:" ROUTE_DEFAULT_PORT);
			return -EINVAL;
		}
	}
	if (rp->hostlen == 0) {
		snprintf(msg, len, "empty host");
		return -EINVAL;
	}
	if (colon != NULL) {
		rp->has_port = true;
		rp->port = colon + 1 - url;
		rp->portlen = e - colon - 1;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into dst (size dstlen, NUL-terminated). */
static int
pct_decode(const char *s, size_t n, char *dst, size_t dstlen,
    const char *what, char *msg, size_t len)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%') {
			hi = lo = -1;
			if (i + 2 < n) {
				hi = hexval((unsigned char)s[i + 1]);
				lo = hexval((unsigned char)s[i + 2]);
			}
			if (hi < 0 || lo < 0) {
				snprintf(msg, len, "bad percent-encoding in "
				    "the %s (%%XX, two hex digits)", what);
				return -EINVAL;
			}
			c = (char)(hi << 4 | lo);
			if (c == '\0') {
				snprintf(msg, len, "%%00 in the %s", what);
				return -EINVAL;
			}
			i += 2;
		}
		if (o + 1 >= dstlen) {
			snprintf(msg, len, "%s longer than %zu bytes", what,
			    dstlen - 1);
			return -EINVAL;
		}
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

int
conf_route_url_parse(const char *url, struct conf_route_url *out,
    char *err, size_t errlen)
{
	struct route_parts rp;
	char msg[256];
	uint64_t port;
	bool ovf;
	const char *p;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = route_split(url, &rp, msg, sizeof(msg))) != 0)
		goto fail;
	if (rp.hostlen >= sizeof(out->host)) {
		snprintf(msg, sizeof(msg), "host longer than %zu bytes",
		    sizeof(out->host) - 1);
		goto fail;
	}
	memcpy(out->host, url + rp.host, rp.hostlen);
	out->host[rp.hostlen] = '\0';
	if (check_host(out->host, rp.bracketed, msg, sizeof(msg)) != 0)
		goto fail;
	if (rp.has_port) {
		p = conf_value_scan_uint(url + rp.port, &port, &ovf);
		if (p != url + rp.port + rp.portlen || rp.portlen > 5 ||
		    ovf || port < 1 || port > 65535) {
			snprintf(msg, sizeof(msg), "port '%.*s' is not a "
			    "number from 1 to 65535",
			    (int)(rp.portlen > 16 ? 16 : rp.portlen),
			    url + rp.port);
			goto fail;
		}
		snprintf(out->port, sizeof(out->port), "%u",
		    (unsigned int)port);
	} else
		snprintf(out->port, sizeof(out->port), "%s",
		    ROUTE_DEFAULT_PORT);
	if (pct_decode(url + rp.user, rp.userlen, out->user,
	    sizeof(out->user), "user name", msg, sizeof(msg)) != 0 ||
	    pct_decode(url + rp.pass, rp.passlen, out->password,
	    sizeof(out->password), "password", msg, sizeof(msg)) != 0)
		goto fail;
	return 0;
 fail:
	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return -1;
}

/*
 * A subject as subject.c's subject_valid_sub() takes it: tokens separated
 * by '.', none empty, no white space, '>' only as the last token.  A copy,
 * because the loader links alone (the fuzz target builds conf*.c only).
 */
static bool
valid_subject(const char *s)
{
	const char *tok = s, *p;

	for (p = s;; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			return false;
		if (*p != '.' && *p != '\0')
			continue;
		if (p == tok || (p - tok == 1 && *tok == '>' && *p != '\0'))
			return false;
		if (*p == '\0')
			return true;
		tok = p + 1;
	}
}

/* An address other servers dial: a host, and a port from 1. */
static int
check_hostport(const char *s, char *msg, size_t len)
{
	char *host, *port;
	int r;

	if ((r = parse_address(s, &host, &port, msg, len)) != 0)
		return r;
	if (*host == '\0') {
		snprintf(msg, len, "'%.64s': needs a host that other servers "
		    "can dial", s);
		r = -EINVAL;
	} else if (strspn(port, "0") == strlen(port)) {
		snprintf(msg, len, "'%.64s': port 0 cannot be dialled", s);
		r = -EINVAL;
	}
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
		conf_value_format_size((uint64_t)v, buf, len);
	else if (k->type == CT_DURATION)
		conf_value_format_duration(v, buf, len);
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

/* ${NAME}, ${NAME:-default} (default if unset or empty), $$ -> $. */
int
conf_value_expand(const char *in, char **out, char *msg, size_t len)
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

/*
 * A key's value in a struct: set, free, compare, copy, move.
 */

/* Frees the strings a key owns in base; scalars are left alone. */
void
conf_value_free(const struct conf_key *k, void *base)
{
	const struct conf_list *l = k->list;
	size_t i, j, n;
	char *items, **strs;

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
	case CT_STRLIST:
		strs = *FIELD(base, k->off, char **);
		n = *FIELD(base, k->off2, size_t);
		for (i = 0; i < n; i++)
			free(strs[i]);
		free(strs);
		*FIELD(base, k->off, char **) = NULL;
		*FIELD(base, k->off2, size_t) = 0;
		break;
	case CT_LIST:
		items = *FIELD(base, k->off, char *);
		n = *FIELD(base, k->off2, size_t);
		for (i = 0; i < n; i++) {
			for (j = 0; j < l->nkeys; j++)
				conf_value_free(&l->keys[j],
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
int
conf_value_set(const struct conf_key *k, void *base, const char *s,
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
		if ((k->flags & CK_HOSTPORT) && *s != '\0' &&
		    (r = check_hostport(s, msg, len)) != 0)
			return r;
		str = k->type == CT_PATH && *s != '\0' ?
		    conf_value_path_join(dir, s) : strdup(s);
		if (str == NULL) {
			snprintf(msg, len, "out of memory");
			return -ENOMEM;
		}
		free(*FIELD(base, k->off, char *));
		*FIELD(base, k->off, char *) = str;
		return 0;
	case CT_COUNT:
		p = conf_value_scan_uint(s, &u, &ovf);
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
	case CT_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
			*FIELD(base, k->off, int) = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
			*FIELD(base, k->off, int) = 0;
		else {
			snprintf(msg, len, "'%.64s' is not true or false", s);
			return -EINVAL;
		}
		return 0;
	case CT_STRLIST:
		if (*s == '\0') {
			snprintf(msg, len, "empty string");
			return -EINVAL;
		}
		conf_value_free(k, base);
		return conf_value_strlist_add(k, base, s, msg, len);
	case CT_ADDRESS:
		if (*s == '\0' && (k->flags & CK_EMPTY)) {
			conf_value_free(k, base);
			return 0;
		}
		if ((r = parse_address(s, &host, &port, msg, len)) != 0)
			return r;
		conf_value_free(k, base);
		*FIELD(base, k->off, char *) = host;
		*FIELD(base, k->off2, char *) = port;
		return 0;
	default:
		snprintf(msg, len, "cannot be set to a single value");
		return -EINVAL;
	}
}

/* Appends s to a CT_STRLIST.  0, or -EINVAL / -ENOMEM with msg set. */
int
conf_value_strlist_add(const struct conf_key *k, void *base, const char *s,
    char *msg, size_t len)
{
	char ***vp = FIELD(base, k->off, char **), **nv, *str;
	size_t *np = FIELD(base, k->off2, size_t);
	struct conf_route_url url;

	if (*s == '\0') {
		snprintf(msg, len, "empty string in the list");
		return -EINVAL;
	}
	if ((k->flags & CK_ROUTE) && conf_route_url_parse(s, &url, msg,
	    len) != 0)
		return -EINVAL;
	if ((k->flags & CK_SUBJECT) && !valid_subject(s)) {
		snprintf(msg, len, "'%.64s' is not a subject (tokens separated "
		    "by '.', wildcards * and >, > last)", s);
		return -EINVAL;
	}
	if ((str = strdup(s)) == NULL ||
	    (nv = realloc(*vp, (*np + 1) * sizeof(*nv))) == NULL) {
		free(str);
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	nv[(*np)++] = str;
	*vp = nv;
	return 0;
}

/* Sets every key of a table that has a default.  0 or -ENOMEM. */
int
conf_value_set_defaults(const struct conf_key *keys, size_t n, void *base)
{
	char msg[128];
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (keys[i].def == NULL || keys[i].type == CT_LIST)
			continue;
		if ((r = conf_value_set(&keys[i], base, keys[i].def, NULL, msg,
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
same_strlist(const char **a, size_t na, const char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

bool
conf_value_same(const struct conf_key *k, const void *a, const void *b)
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
	case CT_BOOL:
		return *CFIELD(a, k->off, int) == *CFIELD(b, k->off, int);
	case CT_STRLIST:
		return same_strlist(*CFIELD(a, k->off, char **),
		    *CFIELD(a, k->off2, size_t), *CFIELD(b, k->off, char **),
		    *CFIELD(b, k->off2, size_t));
	case CT_SECTION:
		if (k->flags & CK_PRESENT)
			return *CFIELD(a, k->off, int) ==
			    *CFIELD(b, k->off, int);
		return true;
	default:
		return true;
	}
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
		if (k->type == CT_STRLIST) {
			*FIELD(dst, k->off, char **) = NULL;
			*FIELD(dst, k->off2, size_t) = 0;
		}
	}
	if (l->item_copy(dst, src) == -1)
		goto fail;
	for (j = 0; j < l->nkeys; j++) {
		k = &l->keys[j];
		if (k->type == CT_STRLIST && conf_value_copy(k, dst, src) == -1)
			goto fail;
		if (k->type != CT_STRING && k->type != CT_PATH &&
		    k->type != CT_ADDRESS)
			continue;
		if (conf_value_dup_str(FIELD(dst, k->off, char *),
		    *CFIELD(src, k->off, char *)) == -1)
			goto fail;
		if (k->type == CT_ADDRESS && conf_value_dup_str(FIELD(dst,
		    k->off2, char *), *CFIELD(src, k->off2, char *)) == -1)
			goto fail;
	}
	return 0;
 fail:
	for (j = 0; j < l->nkeys; j++)
		conf_value_free(&l->keys[j], dst);
	l->item_free(dst);
	return -1;
}

/* Replaces key k of dst with a deep copy of src's.  0, or -1 if out of
 * memory (dst unchanged). */
int
conf_value_copy(const struct conf_key *k, void *dst, const void *src)
{
	const struct conf_list *l = k->list;
	char *items, *s1 = NULL, *s2 = NULL, **strs;
	const char *sitems;
	size_t i, j, n;

	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
	case CT_ADDRESS:
		if (conf_value_dup_str(&s1, *CFIELD(src, k->off, char *)) == -1)
			return -1;
		if (k->type == CT_ADDRESS && conf_value_dup_str(&s2,
		    *CFIELD(src, k->off2, char *)) == -1) {
			free(s1);
			return -1;
		}
		conf_value_free(k, dst);
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
					conf_value_free(&l->keys[j],
					    items + i * l->item_size);
				l->item_free(items + i * l->item_size);
			}
			free(items);
			return -1;
		}
		conf_value_free(k, dst);
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
	case CT_BOOL:
		*FIELD(dst, k->off, int) = *CFIELD(src, k->off, int);
		return 0;
	case CT_STRLIST:
		n = *CFIELD(src, k->off2, size_t);
		if ((strs = calloc(n ? n : 1, sizeof(*strs))) == NULL)
			return -1;
		for (i = 0; i < n; i++)
			if ((strs[i] = strdup((*CFIELD(src, k->off,
			    char **))[i])) == NULL) {
				while (i-- > 0)
					free(strs[i]);
				free(strs);
				return -1;
			}
		conf_value_free(k, dst);
		*FIELD(dst, k->off, char **) = n ? strs : NULL;
		*FIELD(dst, k->off2, size_t) = n;
		if (n == 0)
			free(strs);
		return 0;
	case CT_SECTION:
		if (k->flags & CK_PRESENT)
			*FIELD(dst, k->off, int) = *CFIELD(src, k->off, int);
		return 0;
	default:
		return 0;
	}
}

/* Moves key k's value from src to dst (freeing dst's) and clears src's. */
void
conf_value_move(const struct conf_key *k, void *dst, void *src)
{
	conf_value_free(k, dst);
	switch (k->type) {
	case CT_LIST:
	case CT_STRLIST:
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
		conf_value_copy(k, dst, src);	/* no allocation */
		break;
	}
}

/*
 * conf_dump: one value as YAML that reads back the same.
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
dump_chars(FILE *fp, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	unsigned long cp;
	size_t n;

	while (s < end) {
		if ((n = utf8_decode(s, &cp)) == 0 || n > (size_t)(end - s)) {
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
}

static void
dump_string(FILE *fp, const char *str)
{
	fputc('"', fp);
	dump_chars(fp, str, strlen(str));
	fputc('"', fp);
}

/* A route URL with its password redacted in place, so that the dump
 * still reads back as a route URL, and dumps again the same. */
static void
dump_route(FILE *fp, const char *url)
{
	struct route_parts rp;
	char msg[128];
	const char *rest;

	if (route_split(url, &rp, msg, sizeof(msg)) != 0 || rp.passlen == 0) {
		dump_string(fp, url);
		return;
	}
	rest = url + rp.pass + rp.passlen;
	fputc('"', fp);
	dump_chars(fp, url, rp.pass);
	fputs("<redacted>", fp);
	dump_chars(fp, rest, strlen(rest));
	fputc('"', fp);
}

void
conf_value_dump(FILE *fp, const struct conf_key *k, const void *base)
{
	char buf[64];
	const char *h;
	size_t i;

	if ((k->flags & CK_SECRET) && (k->type != CT_STRING ||
	    (*CFIELD(base, k->off, char *) != NULL &&
	    **CFIELD(base, k->off, char *) != '\0'))) {
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
		if ((h = *CFIELD(base, k->off, char *)) == NULL) {
			fputs("\"\"", fp);
			break;
		}
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
		conf_value_format_size(*CFIELD(base, k->off, uint64_t), buf,
		    sizeof(buf));
		fputs(buf, fp);
		break;
	case CT_DURATION:
		conf_value_format_duration(*CFIELD(base, k->off, int64_t), buf,
		    sizeof(buf));
		fputs(buf, fp);
		break;
	case CT_ENUM:
		fputs(k->names[*CFIELD(base, k->off, int)], fp);
		break;
	case CT_BOOL:
		fputs(*CFIELD(base, k->off, int) ? "true" : "false", fp);
		break;
	case CT_STRLIST:
		fputc('[', fp);
		for (i = 0; i < *CFIELD(base, k->off2, size_t); i++) {
			fputs(i > 0 ? ", " : " ", fp);
			if (k->flags & CK_ROUTE)
				dump_route(fp,
				    (*CFIELD(base, k->off, char **))[i]);
			else
				dump_string(fp,
				    (*CFIELD(base, k->off, char **))[i]);
		}
		fputs(i > 0 ? " ]" : "]", fp);
		break;
	default:
		break;
	}
}
