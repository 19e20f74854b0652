/*
 * cmd-bench.c: "corobus bench MODE [SUBJECT]": the load generator of the
 * performance table, against corobusd or any NATS server.  It parses the
 * options, checks the server with one session (so an unreachable server,
 * refused credentials or a bad URL fail as in every other command), then
 * hands the server's address, TLS context and CONNECT object to bench.c,
 * which opens its own raw connections.  While it runs, a progress line
 * goes to stderr; at the end, a summary table (or one JSON object with
 * --json) to stdout, and with --csv a row appended to a file.  The JSON
 * fields and exit codes are documented in corobus(1).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "client.h"
#include "session.h"
#include "subject.h"

#define BENCH_MSGS		1000000
#define BENCH_SIZE		128
#define BENCH_SECONDS_MS	5000
#define BENCH_TIMEOUT_MS	120000
#define BENCH_WINDOW		(16u << 20)
#define BENCH_IDLE_CLIENTS	1000
#define BENCH_MAX_CONNS		1000000
#define BENCH_SUBJECT		"corobus.bench"

/* which options a mode takes */
#define O_MSGS		0x01
#define O_SIZE		0x02
#define O_PUBS		0x04
#define O_SUBS		0x08
#define O_CLIENTS	0x10
#define O_SECONDS	0x20
#define O_WINDOW	0x40
#define O_NORESP	0x80
#define O_SUBSRV	0x100

static const unsigned mode_opts[BENCH_NMODES] = {
	[BENCH_PUB] = O_MSGS | O_SIZE | O_PUBS,
	[BENCH_SUB] = O_MSGS | O_SUBS,
	[BENCH_PUBSUB] = O_MSGS | O_SIZE | O_PUBS | O_SUBS | O_WINDOW |
	    O_SUBSRV,
	[BENCH_QUEUE] = O_MSGS | O_SIZE | O_PUBS | O_SUBS | O_WINDOW,
	[BENCH_MPUB] = O_MSGS | O_SIZE | O_PUBS | O_SUBS | O_WINDOW |
	    O_SUBSRV,
	[BENCH_REQ] = O_MSGS | O_SIZE | O_CLIENTS | O_SECONDS | O_NORESP,
	[BENCH_REPLY] = O_MSGS | O_CLIENTS | O_SECONDS,
	[BENCH_IDLE] = O_CLIENTS | O_SECONDS,
};

enum {
	OPT_MSGS = 256, OPT_SIZE, OPT_PUBS, OPT_SUBS, OPT_CLIENTS,
	OPT_SECONDS, OPT_TIMEOUT, OPT_WINDOW, OPT_PID, OPT_NORESP, OPT_JSON,
	OPT_CSV, OPT_NOPROGRESS, OPT_SUBSRV, OPT_HELP
};

static const struct option bench_opts_long[] = {
	{ "msgs", required_argument, NULL, OPT_MSGS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "pubs", required_argument, NULL, OPT_PUBS },
	{ "subs", required_argument, NULL, OPT_SUBS },
	{ "clients", required_argument, NULL, OPT_CLIENTS },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "no-responder", no_argument, NULL, OPT_NORESP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "no-progress", no_argument, NULL, OPT_NOPROGRESS },
	{ "sub-server", required_argument, NULL, OPT_SUBSRV },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

struct bench_cmd {
	struct bench_opts	 o;
	const char		*server;	/* as session_url() shows it */
	const char		*sub_server;	/* --sub-server, or NULL */
	bool			 json;
	const char		*csv;
	bool			 progress;
	bool			 tty;		/* stderr is a terminal */
	bool			 shown;		/* a progress line is up */
};

/* ---- values ---- */

/*
 * A number with an optional suffix: k and M multiply by 1000 and 10^6
 * (counts), or with bytes by 1024 and 1024^2 (also KiB, MiB).  0 and *v,
 * or -1 when it is not a number from min to max.
 */
static int
parse_num(const char *s, bool bytes, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long n;
	uint64_t mult = 1;
	char *ep;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &ep, 10);
	if (errno != 0)
		return -1;
	if (strcmp(ep, "k") == 0 || strcmp(ep, "K") == 0 ||
	    (bytes && strcmp(ep, "KiB") == 0))
		mult = bytes ? 1024 : 1000;
	else if (strcmp(ep, "M") == 0 || (bytes && strcmp(ep, "MiB") == 0))
		mult = bytes ? 1024 * 1024 : 1000000;
	else if (*ep != '\0')
		return -1;
	if (n > max / mult || n * mult < min)
		return -1;
	*v = n * mult;
	return 0;
}

static enum bench_mode
find_mode(const char *name)
{
	int i;

	for (i = 0; i < BENCH_NMODES; i++)
		if (strcmp(name, bench_mode_names[i]) == 0)
			return (enum bench_mode)i;
	return BENCH_NMODES;
}

/* "1,234,567" (static buffer, four at a time) */
static const char *
grouped(uint64_t v)
{
	static char bufs[4][32];
	static int which;
	char tmp[32], *b = bufs[which++ & 3];
	size_t len, i, j = 0;

	len = (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			b[j++] = ',';
		b[j++] = tmp[i];
	}
	b[j] = '\0';
	return b;
}

/* "3.21M", "845k", "312" (static buffer, two at a time) */
static const char *
human(double v)
{
	static char bufs[2][32];
	static int which;
	char *b = bufs[which++ & 1];

	if (v >= 1e6)
		snprintf(b, 32, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(b, 32, "%.0fk", v / 1e3);
	else
		snprintf(b, 32, "%.0f", v);
	return b;
}

/* ---- the server ---- */

/*
 * Splits "host:port", "[v6]:port" or "host" (len bytes) into host and
 * port (defport when none).  0, or -1 when it does not fit.
 */
static int
split_hostport(const char *s, size_t len, const char *defport, char *host,
    size_t hsize, char *port, size_t psize)
{
	const char *end = s + len, *colon;

	if (len > 0 && end[-1] == '/')
		end--;
	if (s < end && *s == '[') {
		if ((colon = memchr(s, ']', (size_t)(end - s))) == NULL)
			return -1;
		if ((size_t)(colon - s - 1) >= hsize)
			return -1;
		memcpy(host, s + 1, (size_t)(colon - s - 1));
		host[colon - s - 1] = '\0';
		colon++;
	} else {
		if ((colon = memchr(s, ':', (size_t)(end - s))) == NULL)
			colon = end;
		if ((size_t)(colon - s) >= hsize)
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (colon < end && *colon == ':')
		colon++;
	if (colon >= end)
		snprintf(port, psize, "%s", defport);
	else if ((size_t)(end - colon) < psize) {
		memcpy(port, colon, (size_t)(end - colon));
		port[end - colon] = '\0';
	} else
		return -1;
	return 0;
}

/* The default port of a URL with this scheme ("" when none). */
static const char *
scheme_port(const char *scheme, size_t len)
{
	if ((len == 4 && strncasecmp(scheme, "nats", 4) == 0) ||
	    (len == 3 && strncasecmp(scheme, "tls", 3) == 0))
		return "4222";
	return "4240";
}

/*
 * Credentials written in the URL of the server in use ("user:pass@" or
 * "token@"): the first URL among the options that names host:port.
 */
static void
url_credentials(const struct session_opts *so, const char *host,
    const char *port, char **user, char **pass, char **token)
{
	const char *p, *e, *sep, *at, *hp;
	char h[256], pt[16];
	size_t i, len, slen;

	for (i = 0; i < so->nurls; i++) {
		for (p = so->urls[i]; *p != '\0'; p = *e == ',' ? e + 1 : e) {
			e = p + strcspn(p, ",");
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			len = (size_t)(e - p);
			while (len > 0 && (p[len - 1] == ' ' ||
			    p[len - 1] == '\t'))
				len--;
			slen = 0;
			if ((sep = memmem(p, len, "://", 3)) != NULL) {
				slen = (size_t)(sep - p);
				len -= slen + 3;
				hp = sep + 3;
			} else
				hp = p;
			for (at = hp + len; at > hp && at[-1] != '@'; at--)
				;
			if (at == hp || split_hostport(at, (size_t)(hp + len -
			    at), scheme_port(p, slen), h, sizeof(h), pt,
			    sizeof(pt)) == -1 || strcmp(h, host) != 0 ||
			    strcmp(pt, port) != 0)
				continue;
			at--;
			if ((sep = memchr(hp, ':', (size_t)(at - hp))) != NULL) {
				*user = strndup(hp, (size_t)(sep - hp));
				*pass = strndup(sep + 1, (size_t)(at - sep - 1));
			} else
				*token = strndup(hp, (size_t)(at - hp));
			return;
		}
	}
}

/* The CONNECT object of the bench connections (malloc'd), or NULL. */
static char *
connect_json(const struct session_opts *so, bool tls, const char *user,
    const char *pass, const char *token)
{
	json_t *o;
	char *js;

	o = json_pack("{s:b, s:b, s:b, s:b, s:b, s:i, s:s, s:s, s:s}",
	    "verbose", 0, "pedantic", 0, "tls_required", tls, "echo", 1,
	    "headers", 0, "protocol", 1, "lang", "C", "version",
	    PACKAGE_VERSION, "name", so->name != NULL ? so->name :
	    "corobus-bench");
	if (o == NULL)
		return NULL;
	session_connect_creds(o, user, pass, token);
	js = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return js;
}

/* ---- progress ---- */

static void
show_progress(const struct bench_progress *p, void *arg)
{
	struct bench_cmd *b = arg;
	enum bench_mode m = b->o.mode;
	double el = p->elapsed_s > 0 ? p->elapsed_s : 1e-9;
	char line[200];

	if (m == BENCH_IDLE)
		snprintf(line, sizeof(line), "idle: %d of %d connections "
		    "open", p->open, b->o.clients);
	else if ((m == BENCH_SUB || m == BENCH_REPLY) && p->delivered == 0)
		snprintf(line, sizeof(line), "%s: waiting for %s on %s",
		    bench_mode_names[m], m == BENCH_SUB ? "messages" :
		    "requests", b->o.subject);
	else if (m == BENCH_REQ || m == BENCH_REPLY)
		snprintf(line, sizeof(line), "%s: %.0f s, %s %s, %s/s",
		    bench_mode_names[m], p->elapsed_s, grouped(p->delivered),
		    m == BENCH_REQ ? "replies" : "requests",
		    human((double)p->delivered / el));
	else if (m == BENCH_PUB)
		snprintf(line, sizeof(line), "pub: %.0f s, %s published, "
		    "%s msgs/s", p->elapsed_s, grouped(p->sent),
		    human((double)p->sent / el));
	else if (m == BENCH_SUB)
		snprintf(line, sizeof(line), "sub: %.0f s, %s of %s "
		    "received, %s msgs/s", p->elapsed_s, grouped(p->delivered),
		    grouped(p->expected), human((double)p->delivered / el));
	else
		snprintf(line, sizeof(line), "%s: %.0f s, %s published, %s "
		    "of %s delivered, %s msgs/s, %s deliveries/s",
		    bench_mode_names[m], p->elapsed_s, grouped(p->sent),
		    grouped(p->delivered), grouped(p->expected),
		    human((double)p->sent / el),
		    human((double)p->delivered / el));
	if (b->tty)
		fprintf(stderr, "\r\033[K%s", line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
	b->shown = true;
}

/* ---- results: the fields of --json and --csv ---- */

enum fkind { F_NULL, F_INT, F_NUM, F_STR, F_BOOL };

struct field {
	const char	*key;
	enum fkind	 kind;
	int		 prec;		/* F_NUM */
	double		 num;		/* F_INT, F_NUM, F_BOOL */
	const char	*str;
};

/* The fields, in their documented order; NFIELDS of them. */
#define NFIELDS	35

static void
set_num(struct field *f, const char *key, enum fkind kind, int prec,
    double v, bool known)
{
	f->key = key;
	f->kind = known ? kind : F_NULL;
	f->prec = prec;
	f->num = v;
	f->str = NULL;
}

static void
set_str(struct field *f, const char *key, const char *v)
{
	f->key = key;
	f->kind = v != NULL ? F_STR : F_NULL;
	f->str = v;
}

static int
fields(const struct bench_cmd *b, const struct bench_result *r,
    struct field *f)
{
	const struct bench_opts *o = &b->o;
	bool rr = o->mode == BENCH_REQ || o->mode == BENCH_REPLY;
	bool idle = o->mode == BENCH_IDLE;
	bool pid = o->pid > 0;
	double el = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;
	double rate = (double)(o->mode == BENCH_SUB || rr ? r->delivered :
	    r->sent) / el;
	double bpc = r->open > 0 && r->rss_before_kb >= 0 &&
	    r->rss_after_kb >= 0 ? (double)(r->rss_after_kb -
	    r->rss_before_kb) * 1024 / r->open : -1;
	int n = 0;

	set_str(&f[n++], "mode", bench_mode_names[o->mode]);
	set_str(&f[n++], "server", b->server);
	set_str(&f[n++], "subject", o->subject);
	set_num(&f[n++], "size", F_INT, 0, (double)o->size, !idle &&
	    o->mode != BENCH_SUB && o->mode != BENCH_REPLY);
	set_num(&f[n++], "pubs", F_INT, 0, o->pubs, true);
	set_num(&f[n++], "subs", F_INT, 0, o->subs, true);
	set_num(&f[n++], "clients", F_INT, 0, o->clients, true);
	set_num(&f[n++], "msgs", F_INT, 0, (double)r->sent, true);
	set_num(&f[n++], "deliveries", F_INT, 0, (double)r->delivered, true);
	set_num(&f[n++], "expected", F_INT, 0, (double)r->expected, true);
	set_num(&f[n++], "elapsed_s", F_NUM, 3, r->elapsed_s, true);
	set_num(&f[n++], "msgs_per_s", F_NUM, 0, rate, !idle);
	set_num(&f[n++], "deliveries_per_s", F_NUM, 0,
	    (double)r->delivered / el, !idle);
	set_num(&f[n++], "MB_per_s", F_NUM, 1, (o->mode == BENCH_PUB ?
	    (double)r->sent * (double)o->size : (double)r->dbytes) / el / 1e6,
	    !idle);
	set_num(&f[n++], "req_per_s", F_NUM, 0, (double)r->delivered / el,
	    rr);
	set_num(&f[n++], "p50_us", F_NUM, 1, r->p50_us, o->mode == BENCH_REQ);
	set_num(&f[n++], "p90_us", F_NUM, 1, r->p90_us, o->mode == BENCH_REQ);
	set_num(&f[n++], "p99_us", F_NUM, 1, r->p99_us, o->mode == BENCH_REQ);
	set_num(&f[n++], "p999_us", F_NUM, 1, r->p999_us,
	    o->mode == BENCH_REQ);
	set_num(&f[n++], "max_us", F_NUM, 1, r->max_us, o->mode == BENCH_REQ);
	set_num(&f[n++], "lost", F_INT, 0, (double)r->lost, true);
	set_num(&f[n++], "slow", F_INT, 0, r->slow, true);
	set_num(&f[n++], "errors", F_INT, 0, r->errors, true);
	set_num(&f[n++], "open", F_INT, 0, r->open, idle);
	set_num(&f[n++], "connect_s", F_NUM, 3, r->connect_s, idle);
	set_num(&f[n++], "conns_per_s", F_NUM, 0, r->connect_s > 0 ?
	    r->open / r->connect_s : 0, idle);
	set_num(&f[n++], "gen_cpu_pct", F_NUM, 1, r->gen_cpu_pct,
	    r->gen_cpu_pct >= 0);
	set_num(&f[n++], "srv_cpu_pct", F_NUM, 1, r->srv_cpu_pct,
	    r->srv_cpu_pct >= 0 && !idle);
	set_num(&f[n++], "srv_rss_kb", F_INT, 0, (double)r->srv_rss_kb,
	    pid && r->srv_rss_kb >= 0);
	set_num(&f[n++], "rss_before_kb", F_INT, 0, (double)r->rss_before_kb,
	    idle && r->rss_before_kb >= 0);
	set_num(&f[n++], "rss_after_kb", F_INT, 0, (double)r->rss_after_kb,
	    idle && r->rss_after_kb >= 0);
	set_num(&f[n++], "bytes_per_conn", F_NUM, 0, bpc, idle && bpc > -1);
	set_num(&f[n++], "interrupted", F_BOOL, 0, r->interrupted, true);
	set_num(&f[n++], "timed_out", F_BOOL, 0, r->timed_out, true);
	set_str(&f[n++], "last_error", r->last_error[0] != '\0' ?
	    r->last_error : NULL);
	return n;
}

/* A JSON string (quotes included) on f. */
static void
put_json_str(FILE *fp, const char *s)
{
	json_t *j = json_string(s);
	char *d;

	if (j == NULL || (d = json_dumps(j, JSON_ENCODE_ANY)) == NULL) {
		fputs("null", fp);
		json_decref(j);
		return;
	}
	fputs(d, fp);
	free(d);
	json_decref(j);
}

static void
put_value(FILE *fp, const struct field *f, bool csv)
{
	switch (f->kind) {
	case F_NULL:
		if (!csv)
			fputs("null", fp);
		break;
	case F_INT:
		fprintf(fp, "%.0f", f->num);
		break;
	case F_NUM:
		fprintf(fp, "%.*f", f->prec, f->num);
		break;
	case F_BOOL:
		fputs(f->num != 0 ? "true" : "false", fp);
		break;
	case F_STR:
		if (!csv)
			put_json_str(fp, f->str);
		else if (strpbrk(f->str, ",\"\r\n") == NULL)
			fputs(f->str, fp);
		else {
			fputc('"', fp);
			for (const char *p = f->str; *p != '\0'; p++) {
				if (*p == '"')
					fputc('"', fp);
				fputc(*p, fp);
			}
			fputc('"', fp);
		}
		break;
	}
}

static void
print_json(const struct field *f, int n)
{
	int i;

	putchar('{');
	for (i = 0; i < n; i++) {
		printf("%s\"%s\":", i > 0 ? "," : "", f[i].key);
		put_value(stdout, &f[i], false);
	}
	printf("}\n");
}

/* Appends a row to file, after a header line when it is empty. */
static int
append_csv(const char *path, const struct field *f, int n)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *fp;
	int i;

	if ((fp = fopen(path, "a")) == NULL)
		return cli_fail(EX_CANTCREAT, "--csv %s: %s", path,
		    strerror(errno));
	if (ftell(fp) == 0) {
		fputs("time", fp);
		for (i = 0; i < n; i++)
			fprintf(fp, ",%s", f[i].key);
		fputc('\n', fp);
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs(stamp, fp);
	for (i = 0; i < n; i++) {
		fputc(',', fp);
		put_value(fp, &f[i], true);
	}
	fputc('\n', fp);
	if (fclose(fp) == EOF)
		return cli_fail(EX_IOERR, "--csv %s: %s", path,
		    strerror(errno));
	return EX_OK;
}

/* ---- the summary table ---- */

static void
row(const char *label, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
row(const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("%-16s", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
print_table(const struct bench_cmd *b, const struct bench_result *r)
{
	const struct bench_opts *o = &b->o;
	enum bench_mode m = o->mode;
	double el = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;

	switch (m) {
	case BENCH_PUB:
		printf("corobus bench pub: %d publisher%s, %zu B\n", o->pubs,
		    o->pubs == 1 ? "" : "s", o->size);
		break;
	case BENCH_SUB:
		printf("corobus bench sub: %d subscriber%s\n", o->subs,
		    o->subs == 1 ? "" : "s");
		break;
	case BENCH_REQ:
		printf("corobus bench req: %d requester%s, %s, %zu B\n",
		    o->clients, o->clients == 1 ? "" : "s", o->no_responder ?
		    "running responders" : "one responder", o->size);
		break;
	case BENCH_REPLY:
		printf("corobus bench reply: %d responder%s\n", o->clients,
		    o->clients == 1 ? "" : "s");
		break;
	case BENCH_IDLE:
		printf("corobus bench idle: %d connections, one subscription "
		    "each\n", o->clients);
		break;
	default:
		printf("corobus bench %s: %d publisher%s -> %d subscriber%s%s,"
		    " %zu B\n", bench_mode_names[m], o->pubs, o->pubs == 1 ?
		    "" : "s", o->subs, o->subs == 1 ? "" : "s",
		    m == BENCH_QUEUE ? " in one queue group" : "", o->size);
		break;
	}
	row("server", "%s", b->server);
	if (b->sub_server != NULL)
		row("sub server", "%s (the subscribers')", b->sub_server);
	row("subject", "%s%s", o->subject, m == BENCH_IDLE ? ".N" : "");
	if (m == BENCH_IDLE) {
		row("connections", "%d of %d open in %.3f s (%s/s)", r->open,
		    o->clients, r->connect_s, human(r->connect_s > 0 ?
		    r->open / r->connect_s : 0));
		if (r->rss_before_kb >= 0 && r->rss_after_kb >= 0 &&
		    r->open > 0)
			row("server memory", "%ld KiB -> %ld KiB, %.0f B per "
			    "connection", r->rss_before_kb, r->rss_after_kb,
			    (double)(r->rss_after_kb - r->rss_before_kb) *
			    1024 / r->open);
		row("held", "%.3f s", r->elapsed_s);
	} else {
		if (m == BENCH_REQ)
			row("requests", "%s sent, %s replies",
			    grouped(r->sent), grouped(r->delivered));
		else if (m == BENCH_REPLY)
			row("requests", "%s received, %s replies",
			    grouped(r->delivered), grouped(r->sent));
		else if (m == BENCH_PUB)
			row("messages", "%s published", grouped(r->sent));
		else if (m == BENCH_SUB)
			row("messages", "%s received of %s",
			    grouped(r->delivered), grouped(r->expected));
		else
			row("messages", "%s published, %s delivered of %s",
			    grouped(r->sent), grouped(r->delivered),
			    grouped(r->expected));
		row("elapsed", "%.3f s", r->elapsed_s);
		if (m == BENCH_REQ || m == BENCH_REPLY)
			row("requests/s", "%s", grouped((uint64_t)
			    ((double)r->delivered / el)));
		else {
			row("msgs/s", "%s", grouped((uint64_t)((double)(m ==
			    BENCH_SUB ? r->delivered : r->sent) / el)));
			if (m != BENCH_PUB && m != BENCH_SUB)
				row("deliveries/s", "%s", grouped((uint64_t)
				    ((double)r->delivered / el)));
		}
		if (m != BENCH_PUB)
			row("MB/s", "%.1f (payload received)",
			    (double)r->dbytes / el / 1e6);
		else
			row("MB/s", "%.1f (payload sent)",
			    (double)r->sent * (double)o->size / el / 1e6);
		if (m == BENCH_REQ)
			row("latency", "p50 %.0f us, p90 %.0f us, p99 %.0f us, "
			    "max %.0f us", r->p50_us, r->p90_us, r->p99_us,
			    r->max_us);
		row("lost", "%s", grouped(r->lost));
		if (m != BENCH_REQ && m != BENCH_REPLY && m != BENCH_PUB)
			row("slow consumers", "%d", r->slow);
	}
	row("errors", "%d%s%s", r->errors, r->last_error[0] != '\0' ?
	    ", last: " : "", r->last_error);
	if (r->gen_cpu_pct >= 0)
		row("bench CPU", "%.1f %% of one core", r->gen_cpu_pct);
	if (o->pid > 0) {
		if (r->srv_cpu_pct >= 0 && m != BENCH_IDLE)
			row("server CPU", "%.1f %% of one core (pid %d)",
			    r->srv_cpu_pct, (int)o->pid);
		if (r->srv_rss_kb >= 0)
			row("server RSS", "%s KiB", grouped((uint64_t)
			    r->srv_rss_kb));
		else
			row("server", "pid %d: not readable in /proc",
			    (int)o->pid);
	}
	if (r->interrupted)
		row("note", "interrupted: the figures cover the run so far");
	else if (r->timed_out)
		row("note", "stopped at --timeout %s",
		    session_fmt_duration(o->timeout_ms));
}

/* ---- the command ---- */

static int
bench_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "corobus bench: message" on one line: EX_USAGE. */
static int
bench_usage(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("corobus bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see corobus bench --help)\n", stderr);
	return EX_USAGE;
}

static void
bench_help(void)
{
	printf("usage: corobus bench %s\n"
	    "modes:\n"
	    "  pub      publish --msgs per publisher (--pubs)\n"
	    "  sub      count --msgs per subscriber (--subs)\n"
	    "  pubsub   --pubs -> --subs, each subscriber gets every "
	    "message\n"
	    "  queue    --pubs -> --subs in one queue group\n"
	    "  mpub     --pubs (default 4) -> one subscriber\n"
	    "  req      --clients requesters, one request each in flight\n"
	    "  reply    answer requests, --clients responders\n"
	    "  idle     --clients connections holding one subscription "
	    "each\n"
	    "options:\n"
	    "  --msgs N, --size BYTES, --pubs N, --subs N, --clients N,\n"
	    "  --seconds DUR, --timeout DUR, --window BYTES, --pid PID,\n"
	    "  --no-responder, --json, --csv FILE, --no-progress,\n"
	    "  --sub-server URL (pubsub, mpub: the subscribers connect "
	    "there,\n"
	    "  e.g. another node of a cluster, with the same credentials;"
	    " the\n"
	    "  clock starts once a probe has crossed, within the global "
	    "--timeout)\n"
	    "see corobus(1)\n", cmd_find("bench")->usage);
}

/*
 * --sub-server: "[nats://|tls://]host[:port]" or "unix://path", where
 * the subscribers go, with the publishers' CONNECT object and TLS
 * context (once b->o.target is set).
 */
static int
sub_target(struct bench_cmd *b, char *host, size_t hsize, char *port,
    size_t psize, char *path, size_t pathsize)
{
	const char *url = b->sub_server, *sep = strstr(url, "://");
	struct bench_target *t = &b->o.sub_target;

	*t = b->o.target;
	t->host = t->port = t->path = NULL;
	if (sep != NULL && strncmp(url, "unix://", 7) == 0) {
		if (sep[3] == '\0' || strlen(sep + 3) >= pathsize)
			goto bad;
		snprintf(path, pathsize, "%s", sep + 3);
		t->path = path;
		return EX_OK;
	}
	if (sep != NULL && strncasecmp(url, "nats://", 7) != 0 &&
	    strncasecmp(url, "tls://", 6) != 0)
		goto bad;
	if (sep != NULL && strncasecmp(url, "tls://", 6) == 0)
		t->tls = true;
	if (sep != NULL)
		sep += 3;
	else
		sep = url;
	if (*sep == '\0' || strchr(sep, '@') != NULL ||
	    split_hostport(sep, strlen(sep), "4222", host, hsize, port,
	    psize) == -1 || host[0] == '\0')
		goto bad;
	t->host = host;
	t->port = port;
	if (t->tls && t->ssl == NULL)
		return cli_fail(EX_USAGE, "bench: --sub-server %s: TLS needs "
		    "--tls or a tls:// server", url);
	return EX_OK;
 bad:
	return bench_usage("--sub-server: \"%s\" is not "
	    "[nats://|tls://]host[:port] or unix://path", url);
}

/* The exit status of a run that could not start. */
static int
start_failure(int err, const struct bench_result *r)
{
	const char *why = r->last_error[0] != '\0' ? r->last_error :
	    strerror(-err);

	switch (err) {
	case -ECANCELED:
		return EX_OK;
	case -ENOMEM:
	case -EMFILE:
	case -ENFILE:
		return cli_fail(EX_OSERR, "bench: %s", why);
	case -ETIMEDOUT:
		return cli_fail(EX_TEMPFAIL, "bench: %s", why);
	case -EPROTO:
		return cli_fail(EX_PROTOCOL, "bench: %s", why);
	default:
		return cli_fail(EX_UNAVAILABLE, "bench: %s", why);
	}
}

/* The exit status of a run that ran, with one line on stderr when it is
 * not 0. */
static int
run_status(const struct bench_cmd *b, const struct bench_result *r)
{
	enum bench_mode m = b->o.mode;
	const char *what = m == BENCH_REQ ? "replies" : m == BENCH_REPLY ?
	    "requests" : "messages";

	if (r->interrupted)
		return EX_OK;
	if (r->server_errors > 0)
		return cli_fail(EX_PROTOCOL, "bench: %s", r->last_error);
	if (r->errors > 0)
		return cli_fail(EX_UNAVAILABLE, "bench: %d error%s, last: %s",
		    r->errors, r->errors == 1 ? "" : "s", r->last_error);
	if (r->timed_out)
		return cli_fail(EX_TEMPFAIL, "bench: the run did not end "
		    "within --timeout %s: %s of %s expected %s came",
		    session_fmt_duration(b->o.timeout_ms), grouped(r->delivered),
		    grouped(r->expected), what);
	if (r->lost > 0 || r->slow > 0)
		return cli_fail(EX_TEMPFAIL, "bench: %s of %s expected %s "
		    "lost%s%s", grouped(r->lost), grouped(r->expected), what,
		    r->slow > 0 ? " (a subscriber was cut off as a slow "
		    "consumer)" : r->last_error[0] != '\0' ? ": " : "",
		    r->slow > 0 ? "" : r->last_error);
	return EX_OK;
}

/* Checks the options against the mode and fills in the defaults. */
static int
settle(struct bench_cmd *b, unsigned given, char *subject_buf, size_t len)
{
	struct bench_opts *o = &b->o;
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ O_MSGS, "--msgs" }, { O_SIZE, "--size" },
		{ O_PUBS, "--pubs" }, { O_SUBS, "--subs" },
		{ O_CLIENTS, "--clients" }, { O_SECONDS, "--seconds" },
		{ O_WINDOW, "--window" }, { O_NORESP, "--no-responder" },
		{ O_SUBSRV, "--sub-server" },
	};
	enum bench_mode m = o->mode;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((given & names[i].bit) && !(mode_opts[m] & names[i].bit))
			return bench_usage("%s does not apply to mode %s",
			    names[i].name, bench_mode_names[m]);
	if (!(given & O_MSGS))
		o->msgs = m == BENCH_REQ || m == BENCH_REPLY ||
		    m == BENCH_IDLE ? 0 : BENCH_MSGS;
	if (!(given & O_SIZE))
		o->size = m == BENCH_SUB || m == BENCH_REPLY ||
		    m == BENCH_IDLE ? 0 : BENCH_SIZE;
	if (!(mode_opts[m] & O_PUBS))
		o->pubs = 0;
	else if (!(given & O_PUBS))
		o->pubs = m == BENCH_MPUB ? 4 : 1;
	if (!(mode_opts[m] & O_SUBS))
		o->subs = 0;
	else if (!(given & O_SUBS))
		o->subs = m == BENCH_QUEUE ? 10 : 1;
	if (!(mode_opts[m] & O_CLIENTS))
		o->clients = 0;
	else if (!(given & O_CLIENTS))
		o->clients = m == BENCH_IDLE ? BENCH_IDLE_CLIENTS : 1;
	if (!(given & O_SECONDS))
		o->seconds_ms = m == BENCH_IDLE || (m == BENCH_REQ &&
		    !(given & O_MSGS)) ? BENCH_SECONDS_MS : 0;
	if (o->timeout_ms < 0)
		o->timeout_ms = m == BENCH_SUB || m == BENCH_REPLY ? 0 :
		    BENCH_TIMEOUT_MS + o->seconds_ms;
	if (o->subject == NULL) {
		/* the modes that meet another process share a subject */
		if (m == BENCH_PUB || m == BENCH_SUB || m == BENCH_REPLY ||
		    (m == BENCH_REQ && o->no_responder))
			o->subject = BENCH_SUBJECT;
		else {
			snprintf(subject_buf, len, "%s.%d", BENCH_SUBJECT,
			    (int)getpid());
			o->subject = subject_buf;
		}
	}
	if (m == BENCH_SUB ? !subject_valid_sub(o->subject,
	    strlen(o->subject)) : !subject_valid_pub(o->subject,
	    strlen(o->subject)))
		return cli_fail(EX_DATAERR, "bench: invalid subject \"%s\"%s",
		    o->subject, m == BENCH_SUB ? "" : " (no wildcards, "
		    "spaces or empty tokens)");
	return EX_OK;
}

int
cmd_bench(int argc, char **argv)
{
	struct bench_cmd b;
	struct bench_result res;
	struct session_opts so;
	struct session *s = NULL;
	struct field f[NFIELDS];
	char subject[64];
	/* static: cmd_bench runs once, and its frame is big (struct field
	 * f[]), past what the ASan build allows with these on it */
	static char host[256], port[16], path[256];
	static char shost[256], sport[16], spath[256];
	char *user = NULL, *pass = NULL, *token = NULL, *js = NULL;
	const char *url, *sep;
	unsigned given = 0;
	uint64_t v;
	int ch, rc, err, n;

	memset(&b, 0, sizeof(b));
	b.o.timeout_ms = -1;
	b.o.window = BENCH_WINDOW;
	b.progress = !cli.quiet;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", bench_opts_long,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_MSGS:
			if (parse_num(optarg, false, 1, UINT64_C(1) << 40,
			    &v) == -1)
				return bench_usage("--msgs: \"%s\" is not a "
				    "count (e.g. 100000, 500k, 2M)", optarg);
			b.o.msgs = v;
			given |= O_MSGS;
			break;
		case OPT_SIZE:
			if (parse_num(optarg, true, 0, 64u << 20, &v) == -1)
				return bench_usage("--size: \"%s\" is not a "
				    "size from 0 to 64M bytes", optarg);
			b.o.size = (size_t)v;
			given |= O_SIZE;
			break;
		case OPT_PUBS:
		case OPT_SUBS:
		case OPT_CLIENTS:
			if (parse_num(optarg, false, 1, BENCH_MAX_CONNS,
			    &v) == -1)
				return bench_usage("%s: \"%s\" is not a count "
				    "from 1 to %d", argv[optind - 1], optarg,
				    BENCH_MAX_CONNS);
			if (ch == OPT_PUBS) {
				b.o.pubs = (int)v;
				given |= O_PUBS;
			} else if (ch == OPT_SUBS) {
				b.o.subs = (int)v;
				given |= O_SUBS;
			} else {
				b.o.clients = (int)v;
				given |= O_CLIENTS;
			}
			break;
		case OPT_SECONDS:
			if (cli_parse_duration(optarg, &b.o.seconds_ms) == -1 ||
			    b.o.seconds_ms == 0)
				return bench_usage("--seconds: bad duration "
				    "\"%s\" (e.g. 5, 500ms, 2m)", optarg);
			given |= O_SECONDS;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_duration(optarg, &b.o.timeout_ms) == -1)
				return bench_usage("--timeout: bad duration "
				    "\"%s\" (e.g. 60, 2m; 0 for none)",
				    optarg);
			break;
		case OPT_WINDOW:
			if (parse_num(optarg, true, 1024, UINT64_C(1) << 32,
			    &v) == -1)
				return bench_usage("--window: \"%s\" is not a "
				    "size from 1K to 4096M bytes", optarg);
			b.o.window = (size_t)v;
			given |= O_WINDOW;
			break;
		case OPT_PID:
			if (parse_num(optarg, false, 1, INT32_MAX, &v) == -1)
				return bench_usage("--pid: \"%s\" is not a "
				    "process id", optarg);
			b.o.pid = (pid_t)v;
			break;
		case OPT_NORESP:
			b.o.no_responder = true;
			given |= O_NORESP;
			break;
		case OPT_JSON:
			b.json = true;
			break;
		case OPT_CSV:
			b.csv = optarg;
			break;
		case OPT_NOPROGRESS:
			b.progress = false;
			break;
		case OPT_SUBSRV:
			b.sub_server = optarg;
			given |= O_SUBSRV;
			break;
		case OPT_HELP:
			bench_help();
			return EX_OK;
		case ':':
			return bench_usage("%s needs an argument",
			    argv[optind - 1]);
		default:
			return bench_usage("unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bench_usage("no mode: give one of pub, sub, pubsub, "
		    "queue, mpub, req, reply, idle");
	if ((b.o.mode = find_mode(argv[optind])) == BENCH_NMODES)
		return bench_usage("unknown mode \"%s\": use pub, sub, "
		    "pubsub, queue, mpub, req, reply or idle", argv[optind]);
	if (optind + 1 < argc)
		b.o.subject = argv[optind + 1];
	if (optind + 2 < argc)
		return bench_usage("too many arguments");
	if ((rc = settle(&b, given, subject, sizeof(subject))) != EX_OK)
		return rc;

	/* one session checks the server, the credentials and TLS */
	if ((rc = cli_session_opts(&so, false)) != EX_OK)
		return rc;
	if ((s = session_new(&so)) == NULL || session_connect(s) != 0) {
		rc = session_fail(s);
		goto out;
	}
	b.o.target.timeout_ms = so.timeout_ms;
	b.o.reply_timeout_ms = so.timeout_ms;
	if ((size_t)b.o.size > session_max_payload(s)) {
		rc = bench_usage("--size %zu is more than the server's "
		    "max_payload (%zu)", b.o.size, session_max_payload(s));
		goto out;
	}
	url = session_url(s);
	b.server = url;
	if ((sep = strstr(url, "://")) != NULL &&
	    strncmp(url, "unix://", 7) == 0) {
		snprintf(path, sizeof(path), "%s", sep + 3);
		b.o.target.path = path;
	} else {
		if (sep != NULL)
			b.o.target.tls = strncmp(url, "tls://", 6) == 0;
		if (split_hostport(sep != NULL ? sep + 3 : url, strlen(sep !=
		    NULL ? sep + 3 : url), scheme_port(url, sep != NULL ?
		    (size_t)(sep - url) : 0), host, sizeof(host), port,
		    sizeof(port)) == -1) {
			rc = cli_fail(EX_SOFTWARE, "bench: cannot read the "
			    "server address \"%s\"", url);
			goto out;
		}
		b.o.target.host = host;
		b.o.target.port = port;
		url_credentials(&so, host, port, &user, &pass, &token);
	}
	b.o.target.tls = b.o.target.tls || so.tls;
	b.o.target.ssl = session_tls_ctx(s);
	js = connect_json(&so, b.o.target.tls, user != NULL ? user : so.user,
	    user != NULL ? pass : so.password, token != NULL ? token :
	    so.token);
	if (js == NULL) {
		rc = cli_fail(EX_OSERR, "out of memory");
		goto out;
	}
	b.o.target.connect = js;
	if (b.sub_server != NULL && (rc = sub_target(&b, shost,
	    sizeof(shost), sport, sizeof(sport), spath,
	    sizeof(spath))) != EX_OK)
		goto out;
	session_close(s);	/* keeps its TLS context */

	b.tty = isatty(STDERR_FILENO) == 1;
	if (b.progress) {
		b.o.progress = show_progress;
		b.o.progress_arg = &b;
	}
	err = bench_run(&b.o, &res);
	if (b.shown && b.tty)
		fputs("\r\033[K", stderr);
	if (err != 0) {
		rc = start_failure(err, &res);
		goto out;
	}
	n = fields(&b, &res, f);
	if (b.json)
		print_json(f, n);
	else
		print_table(&b, &res);
	if (fflush(stdout) == EOF) {
		rc = cli_fail(EX_IOERR, "stdout: %s", strerror(errno));
		goto out;
	}
	if (b.csv != NULL && (rc = append_csv(b.csv, f, n)) != EX_OK)
		goto out;
	rc = run_status(&b, &res);
 out:
	session_free(s);
	free(js);
	free(user);
	free(pass);
	free(token);
	return rc;
}
