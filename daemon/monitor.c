/*
 * monitor.c: the HTTP monitoring endpoint (monitoring.address, default
 * 127.0.0.1:8240), served by libevent's evhttp on the daemon's own loop.
 *
 * The JSON endpoints answer what nats-server's answer, under the same
 * field names, so NATS dashboards and tools read them: /varz (the server,
 * its limits and counters), /connz (connections, paged and sorted, with
 * their subscriptions on request), /subsz (the subscription index),
 * /healthz; /metrics gives the same counters in the Prometheus text
 * format, and / a page of links.  GET only; a bad query parameter is a
 * 400 with a plain-text reason, an unknown path a 404.  With
 * monitoring.user and monitoring.password set, every request needs them
 * (HTTP basic authentication).
 *
 * Handlers run as libevent callbacks, outside any task: they read the
 * server's state, build the answer and send it without suspending.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "corobusd.h"
#include "log.h"
#include "subject.h"

#define MON_BACKLOG		64
#define MON_TIMEOUT_S		10	/* s for a request to arrive */
#define MON_MAX_HEADERS		8192
#define MON_DEFAULT_LIMIT	1024
#define MON_CPU_SAMPLE_MS	500	/* shortest interval of a CPU% */

enum mon_path {
	MP_ROOT, MP_VARZ, MP_CONNZ, MP_SUBSZ, MP_HEALTHZ, MP_METRICS,
	MP_ROUTEZ, MP_N
};

struct monitor {
	struct server	*srv;
	struct evhttp	*http;
	char		*host, *port;	/* as configured */
	char		 name[128];	/* "127.0.0.1:8240", as bound */
	int		 bound_port;
	int64_t		 conf_loaded;	/* coro_now() at the load */
	uint64_t	 requests[MP_N];
	/* the CPU share between two samples */
	int64_t		 cpu_at;	/* coro_now() at the sample */
	double		 cpu_secs;	/* user + system time then */
	double		 cpu_pct;
};

/* One request being answered. */
struct mreq {
	struct monitor		*m;
	struct server		*srv;
	struct evhttp_request	*req;
	struct evkeyvalq	 q;
	int64_t			 mono;		/* coro_now() */
	int64_t			 wall_ns;	/* CLOCK_REALTIME */
	char			 err[160];	/* the 400's reason */
};

/* ---- small helpers ---- */

static int64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* RFC 3339 with nanoseconds, UTC, as Go prints time.Time in JSON. */
static json_t *
json_time(int64_t ns)
{
	char buf[64];
	struct tm tm;
	time_t t = (time_t)(ns / 1000000000);

	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long long)(ns % 1000000000));
	return json_string(buf);
}

/* The wall-clock time of a coro_now() reading, in ns. */
static int64_t
wall_of(const struct mreq *r, int64_t mono)
{
	return r->wall_ns - (r->mono - mono) * 1000000;
}

/* "1y2d3h4m5s" from the largest unit down, as nats-server's myUptime. */
static json_t *
json_uptime(int64_t ms)
{
	int64_t s = ms / 1000;
	int64_t y = s / (365 * 86400), d, h, m;
	char buf[128];

	s -= y * 365 * 86400;
	d = s / 86400;
	s -= d * 86400;
	h = s / 3600;
	s -= h * 3600;
	m = s / 60;
	s -= m * 60;
	if (y > 0)
		snprintf(buf, sizeof(buf), "%lldy%lldd%lldh%lldm%llds",
		    (long long)y, (long long)d, (long long)h, (long long)m,
		    (long long)s);
	else if (d > 0)
		snprintf(buf, sizeof(buf), "%lldd%lldh%lldm%llds",
		    (long long)d, (long long)h, (long long)m, (long long)s);
	else if (h > 0)
		snprintf(buf, sizeof(buf), "%lldh%lldm%llds", (long long)h,
		    (long long)m, (long long)s);
	else if (m > 0)
		snprintf(buf, sizeof(buf), "%lldm%llds", (long long)m,
		    (long long)s);
	else
		snprintf(buf, sizeof(buf), "%llds", (long long)s);
	return json_string(buf);
}

static json_t *
json_u64(uint64_t v)
{
	return json_integer((json_int_t)(v > (uint64_t)INT64_MAX ?
	    (uint64_t)INT64_MAX : v));
}

static void
set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v);
}

/* Resident set size in bytes, from /proc; 0 if unknown. */
static uint64_t
rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f;
	int n;

	if ((f = fopen("/proc/self/statm", "re")) == NULL)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Percent of one core used since the previous sample (since the start
 * for the first), as nats-server's "cpu". */
static double
cpu_percent(struct monitor *m)
{
	int64_t now = coro_now();
	double secs;

	if (m->cpu_at != 0 && now - m->cpu_at < MON_CPU_SAMPLE_MS)
		return m->cpu_pct;
	secs = cpu_seconds();
	if (m->cpu_at == 0) {
		m->cpu_at = m->srv->start;
		m->cpu_secs = 0;
	}
	if (now > m->cpu_at)
		m->cpu_pct = 100.0 * (secs - m->cpu_secs) /
		    ((double)(now - m->cpu_at) / 1000.0);
	m->cpu_pct = (double)(int64_t)(m->cpu_pct * 100 + 0.5) / 100;
	m->cpu_at = now;
	m->cpu_secs = secs;
	return m->cpu_pct;
}

/* Message counters of the whole server: the closed connections' (kept
 * in srv->stats) plus the open ones'. */
static void
totals(struct server *srv, struct client_stats *t)
{
	struct client *c;

	t->in_msgs = srv->stats.in_msgs;
	t->out_msgs = srv->stats.out_msgs;
	t->in_bytes = srv->stats.in_bytes;
	t->out_bytes = srv->stats.out_bytes;
	TAILQ_FOREACH(c, &srv->clients, link) {
		t->in_msgs += c->stats.in_msgs;
		t->out_msgs += c->stats.out_msgs;
		t->in_bytes += c->stats.in_bytes;
		t->out_bytes += c->stats.out_bytes;
	}
	route_totals(srv, t);
}

/* Open connections that count (not those closing). */
static size_t
open_clients(struct server *srv)
{
	struct client *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &srv->clients, link)
		n += !c->closing;
	return n;
}

/* ---- query parameters ---- */

static int __attribute__((format(printf, 2, 3)))
bad(struct mreq *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return 400;
}

/* A boolean parameter: 1/true/0/false; "detail" too when allowed (2).
 * 0, or 400. */
static int
q_bool(struct mreq *r, const char *name, int *out, bool detail)
{
	const char *v = evhttp_find_header(&r->q, name);

	if (v == NULL)
		return 0;
	if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)
		*out = 1;
	else if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0)
		*out = 0;
	else if (detail && strcmp(v, "detail") == 0)
		*out = 2;
	else
		return bad(r, "%s: '%.64s' is not 1, true, 0, false%s", name, v,
		    detail ? " or detail" : "");
	return 0;
}

static int
q_uint(struct mreq *r, const char *name, uint64_t *out)
{
	const char *v = evhttp_find_header(&r->q, name);
	unsigned long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 ||
	    n > (unsigned long long)INT64_MAX)
		return bad(r, "%s: '%.64s' is not a whole number", name, v);
	*out = n;
	return 0;
}

/* ---- /varz ---- */

/* corobus's own: the datagram transport's counters (dgram.c). */
static json_t *
varz_datagram(struct server *srv)
{
	struct dgram_stats st;
	json_t *o = json_object();

	dgram_stats(srv, &st);
	set(o, "received", json_u64(st.received));
	set(o, "published", json_u64(st.published));
	set(o, "delivered", json_u64(st.delivered));
	set(o, "dropped_oversize", json_u64(st.dropped_oversize));
	set(o, "dropped_garbage", json_u64(st.dropped_garbage));
	set(o, "dropped_rate", json_u64(st.dropped_rate));
	set(o, "dropped_spoof", json_u64(st.dropped_spoof));
	set(o, "dropped_auth", json_u64(st.dropped_auth));
	set(o, "dropped_limit", json_u64(st.dropped_limit));
	set(o, "dropped_send", json_u64(st.dropped_send));
	set(o, "leases", json_u64(st.leases));
	return o;
}

static json_t *
varz(struct mreq *r)
{
	struct server *srv = r->srv;
	const struct conf_limits *lim = &srv->conf->limits;
	const struct conf_monitoring *mc = &srv->conf->monitoring;
	struct client_stats t;
	struct sublist_stats ss;
	json_t *o, *req;
	static const char *const paths[MP_N] = {
		"/", "/varz", "/connz", "/subsz", "/healthz", "/metrics",
		"/routez"
	};
	size_t i;

	totals(srv, &t);
	sublist_stats(srv->sublist, &ss);
	o = json_object();
	set(o, "server_id", json_string(srv->server_id));
	set(o, "server_name", json_string(srv->server_name));
	set(o, "version", json_string(COROBUSD_NATS_VERSION));
	set(o, "proto", json_integer(1));
	set(o, "go", json_string("corobusd " PACKAGE_VERSION));
	set(o, "host", json_string(srv->host));
	set(o, "port", json_integer(srv->port));
	set(o, "auth_required", json_false());
	set(o, "tls_required", json_false());
	set(o, "tls_verify", json_false());
	set(o, "max_connections", json_integer(lim->max_connections));
	set(o, "max_subscriptions", json_integer(lim->max_subscriptions));
	set(o, "ping_interval", json_integer(lim->ping_interval * 1000000));
	set(o, "ping_max", json_integer(lim->ping_max));
	set(o, "http_host", json_string(mc->host != NULL ? mc->host : ""));
	set(o, "http_port", json_integer(r->m->bound_port));
	set(o, "http_base_path", json_string(""));
	set(o, "https_port", json_integer(0));
	set(o, "auth_timeout", json_real((double)lim->auth_timeout / 1000));
	set(o, "max_control_line", json_u64(lim->max_control_line));
	set(o, "max_payload", json_u64(lim->max_payload));
	set(o, "max_pending", json_u64(lim->max_pending));
	set(o, "write_deadline", json_integer(lim->write_deadline * 1000000));
	set(o, "start", json_time(wall_of(r, srv->start)));
	set(o, "now", json_time(r->wall_ns));
	set(o, "uptime", json_uptime(r->mono - srv->start));
	set(o, "mem", json_u64(rss_bytes()));
	set(o, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	set(o, "gomaxprocs", json_integer(1));
	set(o, "cpu", json_real(cpu_percent(r->m)));
	set(o, "connections", json_u64(open_clients(srv)));
	set(o, "total_connections", json_u64(srv->stats.total_connections));
	set(o, "routes", json_u64(route_count(srv)));
	if ((req = route_varz(srv)) != NULL)
		set(o, "cluster", req);
	set(o, "remotes", json_integer(0));
	set(o, "leafnodes", json_integer(0));
	set(o, "in_msgs", json_u64(t.in_msgs));
	set(o, "out_msgs", json_u64(t.out_msgs));
	set(o, "in_bytes", json_u64(t.in_bytes));
	set(o, "out_bytes", json_u64(t.out_bytes));
	set(o, "slow_consumers", json_u64(srv->stats.slow_consumers));
	set(o, "subscriptions", json_u64(ss.count));
	req = json_object();
	for (i = 0; i < MP_N; i++)
		set(req, paths[i], json_u64(r->m->requests[i]));
	set(o, "http_req_stats", req);
	set(o, "config_load_time", json_time(wall_of(r, r->m->conf_loaded)));
	set(o, "lame_duck", json_boolean(srv->lame_duck));
	set(o, "datagram", varz_datagram(srv));
	return o;
}

/* ---- /connz ---- */

enum conn_sort {
	SORT_CID, SORT_START, SORT_SUBS, SORT_PENDING, SORT_MSGS_TO,
	SORT_MSGS_FROM, SORT_BYTES_TO, SORT_BYTES_FROM, SORT_LAST, SORT_IDLE,
	SORT_UPTIME
};

static const char *const sort_names[] = {
	"cid", "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to",
	"bytes_from", "last", "idle", "uptime", NULL
};

/* The value a connection sorts by, larger first (except cid, start). */
static uint64_t
sort_value(const struct client *c, enum conn_sort by)
{
	switch (by) {
	case SORT_SUBS:
		return c->nsubs;
	case SORT_PENDING:
		return buf_len(&c->out);
	case SORT_MSGS_TO:
		return c->stats.out_msgs;
	case SORT_MSGS_FROM:
		return c->stats.in_msgs;
	case SORT_BYTES_TO:
		return c->stats.out_bytes;
	case SORT_BYTES_FROM:
		return c->stats.in_bytes;
	case SORT_LAST:
		return (uint64_t)c->last_in;
	case SORT_IDLE:		/* longest idle first */
		return UINT64_MAX - (uint64_t)c->last_in;
	case SORT_UPTIME:	/* oldest first */
		return UINT64_MAX - (uint64_t)c->start;
	default:
		return 0;
	}
}

static int
conn_cmp(const void *a, const void *b, void *arg)
{
	const struct client *x = *(struct client *const *)a;
	const struct client *y = *(struct client *const *)b;
	enum conn_sort by = *(const enum conn_sort *)arg;
	uint64_t vx, vy;

	if (by == SORT_START && x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (by != SORT_CID && by != SORT_START) {
		vx = sort_value(x, by);
		vy = sort_value(y, by);
		if (vx != vy)
			return vx > vy ? -1 : 1;
	}
	return x->cid < y->cid ? -1 : x->cid > y->cid;
}


/* One subscription as /connz?subs=detail and /subsz?subs=1 show it, in
 * nats-server's field names. */
static json_t *
sub_json(const struct client *c, const struct csub *s)
{
	json_t *d = json_object();

	set(d, "account", json_string("$G"));
	set(d, "subject", json_stringn(s->ss.subject, s->ss.subject_len));
	if (s->ss.queue != NULL && s->ss.queue_len > 0)
		set(d, "qgroup", json_stringn(s->ss.queue, s->ss.queue_len));
	set(d, "sid", json_stringn(csub_sid(s), s->sid_len));
	set(d, "msgs", json_u64(s->delivered));
	if (s->max != 0)
		set(d, "max", json_u64(s->max));
	set(d, "cid", json_u64(c->cid));
	return d;
}

static json_t *
client_subs(const struct client *c, int mode)
{
	json_t *a = json_array();
	const struct csub *s;
	size_t i;

	for (i = 0; i < c->subs_cap; i++)
		for (s = c->subs[i]; s != NULL; s = s->hnext) {
			if (s->dead)
				continue;
			if (mode != 2) {
				json_array_append_new(a, json_stringn(
				    s->ss.subject, s->ss.subject_len));
				continue;
			}
			json_array_append_new(a, sub_json(c, s));
		}
	return a;
}

static json_t *
conn_info(struct mreq *r, const struct client *c, int subs)
{
	const char *colon = strrchr(c->addr, ':');
	json_t *o = json_object();

	set(o, "cid", json_u64(c->cid));
	set(o, "kind", json_string("Client"));
	set(o, "type", json_string("nats"));
	set(o, "ip", json_string(c->ip));
	set(o, "port", json_integer(c->ip[0] != '\0' && colon != NULL ?
	    atoi(colon + 1) : 0));
	set(o, "start", json_time(wall_of(r, c->start)));
	set(o, "last_activity", json_time(wall_of(r, c->last_in)));
	set(o, "uptime", json_uptime(r->mono - c->start));
	set(o, "idle", json_uptime(r->mono - c->last_in));
	set(o, "pending_bytes", json_u64(buf_len(&c->out)));
	set(o, "in_msgs", json_u64(c->stats.in_msgs));
	set(o, "out_msgs", json_u64(c->stats.out_msgs));
	set(o, "in_bytes", json_u64(c->stats.in_bytes));
	set(o, "out_bytes", json_u64(c->stats.out_bytes));
	set(o, "subscriptions", json_u64(c->nsubs));
	if (c->name != NULL)
		set(o, "name", json_string(c->name));
	if (c->lang != NULL)
		set(o, "lang", json_string(c->lang));
	if (c->version != NULL)
		set(o, "version", json_string(c->version));
	if (subs == 1)
		set(o, "subscriptions_list", client_subs(c, 1));
	else if (subs == 2)
		set(o, "subscriptions_list_detail", client_subs(c, 2));
	return o;
}

static int
connz(struct mreq *r, json_t **out)
{
	struct server *srv = r->srv;
	const char *sort = evhttp_find_header(&r->q, "sort");
	const char *state = evhttp_find_header(&r->q, "state");
	uint64_t offset = 0, limit = MON_DEFAULT_LIMIT, cid = 0;
	enum conn_sort by = SORT_CID;
	struct client **v, *c;
	int subs = 0, auth = 0, code;
	size_t n = 0, i;
	json_t *o, *a;

	if ((code = q_bool(r, "subs", &subs, true)) != 0 ||
	    (code = q_bool(r, "auth", &auth, false)) != 0 ||
	    (code = q_uint(r, "offset", &offset)) != 0 ||
	    (code = q_uint(r, "limit", &limit)) != 0 ||
	    (code = q_uint(r, "cid", &cid)) != 0)
		return code;
	if (state != NULL && strcmp(state, "open") != 0)
		return bad(r, "state: '%.64s': corobusd keeps no closed "
		    "connections; only state=open", state);
	if (sort != NULL && sort[0] != '\0') {
		for (i = 0; sort_names[i] != NULL; i++)
			if (strcmp(sort, sort_names[i]) == 0)
				break;
		if (sort_names[i] == NULL)
			return bad(r, "sort: '%.64s' is not one of cid, start, "
			    "subs, pending, msgs_to, msgs_from, bytes_to, "
			    "bytes_from, last, idle, uptime", sort);
		by = (enum conn_sort)i;
	}
	if ((v = calloc(srv->nclients + 1, sizeof(*v))) == NULL)
		return 503;
	TAILQ_FOREACH(c, &srv->clients, link)
		if (!c->closing && (cid == 0 || c->cid == cid))
			v[n++] = c;
	qsort_r(v, n, sizeof(*v), conn_cmp, &by);
	o = json_object();
	set(o, "server_id", json_string(srv->server_id));
	set(o, "now", json_time(r->wall_ns));
	a = json_array();
	for (i = (size_t)offset; i < n && i - offset < limit; i++)
		json_array_append_new(a, conn_info(r, v[i], subs));
	set(o, "num_connections", json_integer((json_int_t)json_array_size(a)));
	set(o, "total", json_u64(n));
	set(o, "offset", json_u64(offset));
	set(o, "limit", json_u64(limit));
	set(o, "connections", a);
	free(v);
	*out = o;
	return 200;
}

/* ---- /subsz ---- */

static int
subsz(struct mreq *r, json_t **out)
{
	struct server *srv = r->srv;
	const char *test = evhttp_find_header(&r->q, "test");
	uint64_t offset = 0, limit = MON_DEFAULT_LIMIT, n = 0;
	struct sublist_stats ss;
	const struct client *c;
	const struct csub *s;
	int subs = 0, code;
	json_t *o, *a;
	size_t i;

	if ((code = q_bool(r, "subs", &subs, true)) != 0 ||
	    (code = q_uint(r, "offset", &offset)) != 0 ||
	    (code = q_uint(r, "limit", &limit)) != 0)
		return code;
	if (test != NULL && !subject_valid_pub(test, strlen(test)))
		return bad(r, "test: '%.64s' is not a literal subject", test);
	sublist_stats(srv->sublist, &ss);
	o = json_object();
	set(o, "num_subscriptions", json_u64(ss.count));
	set(o, "num_cache", json_u64(ss.cache_entries));
	set(o, "num_inserts", json_u64(ss.inserts));
	set(o, "num_removes", json_u64(ss.removes));
	set(o, "num_matches", json_u64(ss.matches));
	set(o, "cache_hit_rate", json_real(ss.matches > 0 ?
	    (double)ss.cache_hits / (double)ss.matches : 0.0));
	if (subs == 0) {
		*out = o;
		return 200;
	}
	a = json_array();
	TAILQ_FOREACH(c, &srv->clients, link) {
		if (c->closing)
			continue;
		for (i = 0; i < c->subs_cap; i++)
			for (s = c->subs[i]; s != NULL; s = s->hnext) {
				if (s->dead || (test != NULL &&
				    !subject_matches(s->ss.subject,
				    s->ss.subject_len, test, strlen(test))))
					continue;
				if (n++ < offset ||
				    json_array_size(a) >= limit)
					continue;
				json_array_append_new(a, sub_json(c, s));
			}
	}
	if (n > 0) {
		set(o, "server_id", json_string(srv->server_id));
		set(o, "now", json_time(r->wall_ns));
		set(o, "total", json_u64(n));
		set(o, "offset", json_u64(offset));
		set(o, "limit", json_u64(limit));
		set(o, "subscriptions_list", a);
	} else
		json_decref(a);
	*out = o;
	return 200;
}

/* ---- /routez ---- */

static int
routez(struct mreq *r, json_t **out)
{
	int subs = 0, code;
	json_t *o;

	if ((code = q_bool(r, "subs", &subs, true)) != 0)
		return code;
	if ((o = route_routez(r->srv, subs != 0)) == NULL)
		return 503;
	set(o, "now", json_time(r->wall_ns));
	*out = o;
	return 200;
}

/* ---- /metrics ---- */

static void
metric(struct evbuffer *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name,
	    help, name, type, name, (unsigned long long)v);
}

/* A label value with \, " and newline escaped. */
static void
label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
datagram_metrics(struct server *srv, struct evbuffer *b)
{
	static const char *const why[] = { "oversize", "garbage", "rate",
	    "spoof", "auth", "limit", "send" };
	struct dgram_stats st;
	uint64_t v[7];
	size_t i;

	dgram_stats(srv, &st);
	metric(b, "corobus_datagram_received_total", "counter",
	    "Datagrams received by the datagram listeners.", st.received);
	metric(b, "corobus_datagram_published_total", "counter",
	    "Messages published by datagram.", st.published);
	metric(b, "corobus_datagram_delivered_total", "counter",
	    "MSG datagrams sent to leases.", st.delivered);
	metric(b, "corobus_datagram_leases", "gauge",
	    "Datagram subscription leases held now.", st.leases);
	v[0] = st.dropped_oversize;
	v[1] = st.dropped_garbage;
	v[2] = st.dropped_rate;
	v[3] = st.dropped_spoof;
	v[4] = st.dropped_auth;
	v[5] = st.dropped_limit;
	v[6] = st.dropped_send;
	evbuffer_add_printf(b, "# HELP corobus_datagram_dropped_total "
	    "Datagrams dropped (or MSG datagrams not sent), by reason.\n"
	    "# TYPE corobus_datagram_dropped_total counter\n");
	for (i = 0; i < 7; i++)
		evbuffer_add_printf(b, "corobus_datagram_dropped_total"
		    "{reason=\"%s\"} %llu\n", why[i],
		    (unsigned long long)v[i]);
}

static void
metrics(struct mreq *r, struct evbuffer *b)
{
	struct server *srv = r->srv;
	const struct conf_limits *lim = &srv->conf->limits;
	struct client_stats t;
	struct sublist_stats ss;

	totals(srv, &t);
	sublist_stats(srv->sublist, &ss);
	evbuffer_add_printf(b, "# HELP corobus_info The server: version, "
	    "id and name.\n# TYPE corobus_info gauge\n"
	    "corobus_info{version=\"%s\",server_id=\"%s\",server_name=\"",
	    PACKAGE_VERSION, srv->server_id);
	label(b, srv->server_name);
	evbuffer_add_printf(b, "\"} 1\n");
	metric(b, "corobus_connections", "gauge",
	    "Client connections open now.", open_clients(srv));
	metric(b, "corobus_connections_total", "counter",
	    "Client connections accepted since the start.",
	    srv->stats.total_connections);
	metric(b, "corobus_subscriptions", "gauge",
	    "Subscriptions active now.", ss.count);
	metric(b, "corobus_in_msgs_total", "counter",
	    "Messages published by clients.", t.in_msgs);
	metric(b, "corobus_out_msgs_total", "counter",
	    "Messages delivered to clients.", t.out_msgs);
	metric(b, "corobus_in_bytes_total", "counter",
	    "Payload bytes published by clients, headers included.",
	    t.in_bytes);
	metric(b, "corobus_out_bytes_total", "counter",
	    "Payload bytes delivered to clients, headers included.",
	    t.out_bytes);
	metric(b, "corobus_slow_consumers_total", "counter",
	    "Connections closed as slow consumers.", srv->stats.slow_consumers);
	metric(b, "corobus_sublist_matches_total", "counter",
	    "Subject lookups in the subscription index.", ss.matches);
	metric(b, "corobus_sublist_cache_hits_total", "counter",
	    "Lookups answered by the index's cache.", ss.cache_hits);
	metric(b, "corobus_sublist_inserts_total", "counter",
	    "Subscriptions added to the index.", ss.inserts);
	metric(b, "corobus_sublist_removes_total", "counter",
	    "Subscriptions removed from the index.", ss.removes);
	metric(b, "corobus_sublist_cache_entries", "gauge",
	    "Results held in the index's cache.", ss.cache_entries);
	metric(b, "corobus_max_connections", "gauge",
	    "limits.max_connections.", lim->max_connections);
	metric(b, "corobus_max_payload_bytes", "gauge",
	    "limits.max_payload.", lim->max_payload);
	datagram_metrics(srv, b);
	metric(b, "corobus_lame_duck", "gauge",
	    "1 while in lame duck mode.", srv->lame_duck);
	metric(b, "corobus_uptime_seconds", "gauge",
	    "Seconds since the start.",
	    (uint64_t)(r->mono - srv->start) / 1000);
	evbuffer_add_printf(b, "# HELP process_cpu_seconds_total User and "
	    "system CPU time.\n# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.3f\n", cpu_seconds());
	metric(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size.", rss_bytes());
	evbuffer_add_printf(b, "# HELP process_start_time_seconds Start time "
	    "since the Unix epoch.\n# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.3f\n",
	    (double)wall_of(r, srv->start) / 1e9);
}

/* ---- requests ---- */

static const char root_page[] =
    "<!DOCTYPE html>\n<html><head><title>corobusd</title></head><body>\n"
    "<h1>corobusd monitoring</h1>\n<ul>\n"
    "<li><a href=\"varz\">varz</a>: the server</li>\n"
    "<li><a href=\"connz\">connz</a>: connections</li>\n"
    "<li><a href=\"routez\">routez</a>: cluster routes</li>\n"
    "<li><a href=\"subsz\">subsz</a>: subscriptions</li>\n"
    "<li><a href=\"healthz\">healthz</a>: health</li>\n"
    "<li><a href=\"metrics\">metrics</a>: Prometheus</li>\n"
    "</ul>\n</body></html>\n";

static void
send_text(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply(req, code, reason, b);
}

static void
send_error(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, code, reason);
		return;
	}
	evbuffer_add_printf(b, "%s\n", text);
	send_text(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static void
send_json(struct mreq *r, int code, json_t *o, bool compact)
{
	const char *cb = evhttp_find_header(&r->q, "callback");
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct evbuffer *b;
	char *s;

	s = json_dumps(o, compact ? JSON_COMPACT | JSON_PRESERVE_ORDER :
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (s == NULL || (b = evbuffer_new()) == NULL) {
		free(s);
		send_error(r->req, 503, "Service Unavailable", "out of memory");
		return;
	}
	evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
	if (cb != NULL)
		evbuffer_add_printf(b, "%s(%s)", cb, s);
	else
		evbuffer_add_printf(b, "%s\n", s);
	free(s);
	send_text(r->req, code, code == 200 ? "OK" : "Service Unavailable",
	    cb != NULL ? "application/javascript" : "application/json", b);
	evbuffer_free(b);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* "Basic " + base64(user ":" password), malloc'd. */
static char *
basic_credentials(const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password), n = ul + 1 + pl;
	unsigned char *in;
	char *out, *p;
	size_t i;
	uint32_t v;

	if ((in = malloc(n)) == NULL ||
	    (out = malloc(6 + (n + 2) / 3 * 4 + 1)) == NULL) {
		free(in);
		return NULL;
	}
	memcpy(in, user, ul);
	in[ul] = ':';
	memcpy(in + ul + 1, password, pl);
	memcpy(out, "Basic ", 6);
	p = out + 6;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*p++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*p = '\0';
	free(in);
	return out;
}

/* Compares without stopping at the first difference. */
static bool
same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static bool
authorized(struct mreq *r)
{
	const struct conf_monitoring *mc = &r->srv->conf->monitoring;
	const char *got;
	char *want;
	bool ok;

	if (mc->user == NULL || mc->user[0] == '\0')
		return true;
	got = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "Authorization");
	if (got == NULL || (want = basic_credentials(mc->user,
	    mc->password)) == NULL)
		return false;
	ok = same_secret(got, want);
	free(want);
	return ok;
}

static bool
callback_ok(const char *cb)
{
	if (cb == NULL)
		return true;
	if (*cb == '\0' || strlen(cb) > 64)
		return false;
	for (; *cb != '\0'; cb++)
		if (!((*cb >= 'a' && *cb <= 'z') ||
		    (*cb >= 'A' && *cb <= 'Z') || (*cb >= '0' && *cb <= '9') ||
		    *cb == '_' || *cb == '.' || *cb == '$'))
			return false;
	return true;
}

static enum mon_path
path_of(const char *path)
{
	static const struct {
		const char	*path;
		enum mon_path	 id;
	} paths[] = {
		{ "/", MP_ROOT }, { "/varz", MP_VARZ }, { "/connz", MP_CONNZ },
		{ "/subsz", MP_SUBSZ }, { "/subscriptionsz", MP_SUBSZ },
		{ "/healthz", MP_HEALTHZ }, { "/metrics", MP_METRICS },
		{ "/routez", MP_ROUTEZ },
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strcmp(path, paths[i].path) == 0)
			return paths[i].id;
	return MP_N;
}

static void
monitor_request(struct evhttp_request *req, void *arg)
{
	struct monitor *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct evbuffer *b;
	struct mreq r;
	enum mon_path id;
	json_t *o = NULL;
	int code = 200;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.srv = m->srv;
	r.req = req;
	r.mono = coro_now();
	r.wall_ns = wall_ns();
	TAILQ_INIT(&r.q);
	log_debug("monitor: %s %s", evhttp_request_get_command(req) ==
	    EVHTTP_REQ_GET ? "GET" : "(not GET)",
	    evhttp_request_get_uri(req));
	if (!authorized(&r)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Basic realm=\"corobus\"");
		send_error(req, 401, "Unauthorized", "authorization required");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET");
		send_error(req, 405, "Method Not Allowed", "GET only");
		return;
	}
	if (path == NULL || path[0] == '\0')
		path = "/";
	if ((id = path_of(path)) == MP_N) {
		send_error(req, 404, "Not Found", "not found; try /varz, "
		    "/connz, /routez, /subsz, /healthz or /metrics");
		return;
	}
	m->requests[id]++;
	if (query != NULL && evhttp_parse_query_str(query, &r.q) != 0) {
		send_error(req, 400, "Bad Request", "malformed query string");
		goto out;
	}
	if (!callback_ok(evhttp_find_header(&r.q, "callback"))) {
		send_error(req, 400, "Bad Request", "callback: not a "
		    "JavaScript name");
		goto out;
	}
	switch (id) {
	case MP_ROOT:
	case MP_METRICS:
		if ((b = evbuffer_new()) == NULL) {
			code = 503;
			break;
		}
		if (id == MP_ROOT) {
			evbuffer_add(b, root_page, sizeof(root_page) - 1);
			send_text(req, 200, "OK", "text/html; charset=utf-8",
			    b);
		} else {
			metrics(&r, b);
			send_text(req, 200, "OK",
			    "text/plain; version=0.0.4; charset=utf-8", b);
		}
		evbuffer_free(b);
		goto out;
	case MP_VARZ:
		o = varz(&r);
		break;
	case MP_CONNZ:
		code = connz(&r, &o);
		break;
	case MP_SUBSZ:
		code = subsz(&r, &o);
		break;
	case MP_ROUTEZ:
		code = routez(&r, &o);
		break;
	case MP_HEALTHZ:
		o = json_object();
		if (r.srv->lame_duck || r.srv->stopping) {
			set(o, "status", json_string("unavailable"));
			set(o, "error", json_string(r.srv->stopping ?
			    "shutting down" : "lame duck mode"));
			code = 503;
		} else
			set(o, "status", json_string("ok"));
		send_json(&r, code, o, true);
		goto out;
	default:
		break;
	}
	if (code == 400)
		send_error(req, 400, "Bad Request", r.err);
	else if (o == NULL)
		send_error(req, 503, "Service Unavailable", "out of memory");
	else
		send_json(&r, code, o, false);
 out:
	evhttp_clear_headers(&r.q);
}

/* ---- life cycle ---- */

/* A listening socket for host:port: systemd's, else a new one; -1 with
 * errno. */
static int
monitor_socket(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, on = 1, off = 0, err = EADDRNOTAVAIL, r;

	if ((fd = sdnotify_listen_take(host, port, NULL, SOCK_STREAM)) >= 0)
		return fd;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints,
	    &res)) != 0) {
		errno = r == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6 && host[0] == '\0')
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
			    sizeof(off));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, MON_BACKLOG) == 0)
			break;
		err = errno;
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = err;
	return fd;
}

static void
bound_name(struct monitor *m, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];

	m->name[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		m->bound_port = ntohs(sin->sin_port);
		snprintf(m->name, sizeof(m->name), "%s:%d", ip, m->bound_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		m->bound_port = ntohs(sin6->sin6_port);
		snprintf(m->name, sizeof(m->name), "[%s]:%d", ip,
		    m->bound_port);
	}
}

int
monitor_start(struct server *srv)
{
	const struct conf_monitoring *mc = &srv->conf->monitoring;
	struct monitor *m;
	int fd, err;

	if (mc->host == NULL || mc->port == NULL) {
		log_info("monitoring off (monitoring.address is empty)");
		return 0;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->host = strdup(mc->host)) == NULL ||
	    (m->port = strdup(mc->port)) == NULL ||
	    (m->http = evhttp_new(coro_loop_base(srv->loop))) == NULL) {
		err = ENOMEM;
		goto fail;
	}
	m->srv = srv;
	evhttp_set_timeout(m->http, MON_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, MON_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, MON_MAX_HEADERS);
	evhttp_set_gencb(m->http, monitor_request, m);
	if ((fd = monitor_socket(mc->host, mc->port)) == -1) {
		err = errno;
		goto fail;
	}
	if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		err = errno != 0 ? errno : ENOMEM;
		(void)close(fd);
		goto fail;
	}
	bound_name(m, fd);
	m->conf_loaded = srv->start;
	srv->monitor = m;
	log_info("monitoring on http://%s/", m->name);
	return 0;
 fail:
	log_error("monitoring %s%s%s:%s: %s", strchr(mc->host, ':') ? "[" : "",
	    mc->host, strchr(mc->host, ':') ? "]" : "", mc->port,
	    strerror(err));
	if (m != NULL) {
		if (m->http != NULL)
			evhttp_free(m->http);
		free(m->host);
		free(m->port);
		free(m);
	}
	errno = err;
	return -err;
}

void
monitor_stop(struct server *srv)
{
	struct monitor *m = srv->monitor;

	if (m == NULL)
		return;
	evhttp_free(m->http);
	free(m->host);
	free(m->port);
	free(m);
	srv->monitor = NULL;
}

void
monitor_reload(struct server *srv)
{
	const struct conf_monitoring *mc = &srv->conf->monitoring;
	struct monitor *m = srv->monitor;

	if (m == NULL && mc->host == NULL)
		return;
	if (m != NULL && mc->host != NULL && strcmp(m->host, mc->host) == 0 &&
	    strcmp(m->port, mc->port) == 0) {
		m->conf_loaded = coro_now();
		return;
	}
	/* the old socket goes first: the new address may share its port */
	monitor_stop(srv);
	if (monitor_start(srv) != 0)
		log_error("reload: monitoring stays off until the next "
		    "reload");
	else if (srv->monitor != NULL)
		srv->monitor->conf_loaded = coro_now();
}
