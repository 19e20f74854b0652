/*
 * test_monitor.c: corobusd's HTTP monitoring endpoint, scraped while
 * clients publish and subscribe: /varz counters move by what was sent,
 * /connz pages, sorts and lists subscriptions, /subsz follows the index,
 * /healthz answers, /metrics is well-formed Prometheus text with the same
 * numbers; bad parameters get 400, unknown paths 404, other methods 405;
 * basic authentication; a reload that moves or turns off the endpoint;
 * a monitoring port in use stops the start-up.
 *
 * Each test starts its own daemon (the counters are exact), listening
 * and monitoring on ports it picks.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

#define MON_CONF	"listeners: [{address: \"127.0.0.1:0\"}]\n" \
			"monitoring: {address: \"127.0.0.1:0\"}\n"

struct resp {
	int	 status;
	char	 ctype[128];
	char	 allow[32];
	char	 www_auth[64];
	char	*body;
	size_t	 len;
};

/* ---- helpers ---- */

static void
nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The monitoring port of the daemon's last "monitoring on" line. */
static int
mon_port(struct h_daemon *d)
{
	const char *key = "monitoring on http://127.0.0.1:";
	char *text = NULL, *p, *last = NULL;
	size_t cap = 0, n;
	FILE *f;
	int port;

	assert_true(h_daemon_log_wait(d, key, H_START_MS));
	assert_non_null(f = fopen(d->log, "r"));
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	for (p = text; (p = strstr(p, key)) != NULL; p++)
		last = p;
	assert_non_null(last);
	port = atoi(last + strlen(key));
	free(text);
	assert_true(port > 0);
	return port;
}

static struct h_daemon *
mon_daemon(const char *extra)
{
	struct h_daemon *d = h_daemon_new();

	h_daemon_conf(d, MON_CONF "%s\n", extra);
	h_daemon_start(d, NULL);
	return d;
}

static void
resp_free(struct resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r);
}

static void
header_value(const char *line, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) == 0 && line[n] == ':')
		snprintf(out, size, "%s", line + n + 1 + (line[n + 1] == ' '));
}

/* One HTTP/1.1 request with Connection: close; extra is more header
 * lines, each ending in CRLF. */
static struct resp *
http(int port, const char *method, const char *target, const char *extra)
{
	struct h_conn *c = h_conn_tcp(port);
	struct resp *r;
	char *line, clen[32] = "";

	assert_non_null(r = calloc(1, sizeof(*r)));
	h_sendf(c, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n%s\r\n", method, target,
	    extra != NULL ? extra : "");
	assert_non_null(line = h_line(c, H_IO_MS));
	assert_int_equal(strncmp(line, "HTTP/1.1 ", 9), 0);
	r->status = atoi(line + 9);
	free(line);
	while ((line = h_line(c, H_IO_MS)) != NULL && line[0] != '\0') {
		header_value(line, "Content-Type", r->ctype, sizeof(r->ctype));
		header_value(line, "Content-Length", clen, sizeof(clen));
		header_value(line, "Allow", r->allow, sizeof(r->allow));
		header_value(line, "WWW-Authenticate", r->www_auth,
		    sizeof(r->www_auth));
		free(line);
	}
	assert_non_null(line);
	free(line);
	assert_true(clen[0] != '\0');
	r->len = (size_t)atol(clen);
	assert_non_null(r->body = calloc(1, r->len + 1));
	if (strcmp(method, "HEAD") != 0)
		assert_int_equal(h_bytes(c, r->body, r->len, H_IO_MS), 0);
	h_conn_close(c);
	return r;
}

/* GET path: the JSON object of a 200 answer. */
static json_t *
get_json(int port, const char *path)
{
	struct resp *r = http(port, "GET", path, NULL);
	json_error_t jerr;
	json_t *o;

	if (r->status != 200)
		fail_msg("GET %s: status %d: %s", path, r->status, r->body);
	assert_non_null(strstr(r->ctype, "application/json"));
	if ((o = json_loadb(r->body, r->len, 0, &jerr)) == NULL)
		fail_msg("GET %s: bad JSON (%s): %s", path, jerr.text, r->body);
	assert_true(json_is_object(o));
	resp_free(r);
	return o;
}

static long long
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("\"%s\" is not an integer", key);
	return (long long)json_integer_value(v);
}

static long long
varz_int(int port, const char *key)
{
	json_t *o = get_json(port, "/varz");
	long long v = jint(o, key);

	json_decref(o);
	return v;
}

static void
expect_status(int port, const char *method, const char *target, int want)
{
	struct resp *r = http(port, method, target, NULL);

	if (r->status != want)
		fail_msg("%s %s: status %d, want %d: %s", method, target,
		    r->status, want, r->body);
	resp_free(r);
}

/* PING until PONG: everything sent before is handled (messages the
 * client receives meanwhile are skipped). */
static void
ping(struct h_conn *c)
{
	char *l;

	h_sendf(c, "PING\r\n");
	assert_non_null(l = h_until_re(c, "^PONG$", H_IO_MS));
	free(l);
}

/* A connected quiet client that says its name. */
static struct h_conn *
named_client(int port, const char *name)
{
	struct h_conn *c = h_conn_tcp(port);
	char json[256];

	snprintf(json, sizeof(json), "{\"verbose\":false,\"pedantic\":false,"
	    "\"protocol\":1,\"headers\":true,\"name\":\"%s\",\"lang\":\"C\","
	    "\"version\":\"9.9\"}", name);
	free(h_handshake(c, json));
	return c;
}

/* n PUBs of "hello" on subject, in one write. */
static void
publish(struct h_conn *c, const char *subject, int n)
{
	char one[128], *buf;
	size_t len, i;

	len = (size_t)snprintf(one, sizeof(one), "PUB %s 5\r\nhello\r\n",
	    subject);
	assert_non_null(buf = malloc(len * (size_t)n));
	for (i = 0; i < (size_t)n; i++)
		memcpy(buf + i * len, one, len);
	h_send(c, buf, len * (size_t)n);
	free(buf);
}

/* ---- tests ---- */

static void
test_monitor_healthz_and_root(void **state)
{
	struct h_daemon *d = mon_daemon("");
	int port = mon_port(d);
	struct resp *r;

	(void)state;
	r = http(port, "GET", "/healthz", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"status\":\"ok\"}\n");
	assert_non_null(strstr(r->ctype, "application/json"));
	resp_free(r);
	r = http(port, "GET", "/", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->ctype, "text/html"));
	assert_non_null(strstr(r->body, "varz"));
	resp_free(r);
	/* JSONP */
	r = http(port, "GET", "/healthz?callback=cb", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "cb({\"status\":\"ok\"})");
	resp_free(r);
}

static void
test_monitor_varz_counts_traffic(void **state)
{
	struct h_daemon *d = mon_daemon("limits: {max_payload: 512KiB}");
	int port = mon_port(d);
	struct h_conn *pub, *sub;
	long long in0, mid;
	json_t *o;
	int i;

	(void)state;
	o = get_json(port, "/varz");
	assert_string_equal(json_string_value(json_object_get(o,
	    "version")), "2.9.25");
	assert_int_equal(jint(o, "port"), d->port);
	assert_int_equal(jint(o, "max_payload"), 512 * 1024);
	assert_int_equal(jint(o, "max_connections"), 65536);
	assert_int_equal(jint(o, "ping_interval"), 120000000000LL);
	assert_int_equal(jint(o, "connections"), 0);
	assert_int_equal(jint(o, "total_connections"), 0);
	assert_int_equal(jint(o, "in_msgs"), 0);
	assert_true(jint(o, "mem") > 0);
	assert_true(json_is_number(json_object_get(o, "cpu")));
	assert_true(json_is_string(json_object_get(o, "uptime")));
	assert_true(json_is_string(json_object_get(o, "start")));
	assert_true(json_is_string(json_object_get(o, "now")));
	assert_true(json_is_string(json_object_get(o, "server_id")));
	json_decref(o);

	sub = h_client(d->port);
	pub = h_client(d->port);
	h_sendf(sub, "SUB foo 1\r\nSUB bar.* 2\r\n");
	ping(sub);
	assert_int_equal(varz_int(port, "connections"), 2);
	assert_int_equal(varz_int(port, "total_connections"), 2);
	assert_int_equal(varz_int(port, "subscriptions"), 2);

	/* scrape while a burst is still being handled */
	publish(pub, "foo", 3000);
	mid = varz_int(port, "in_msgs");
	assert_true(mid >= 0 && mid <= 3000);
	ping(pub);
	o = get_json(port, "/varz");
	assert_int_equal(jint(o, "in_msgs"), 3000);
	assert_int_equal(jint(o, "out_msgs"), 3000);
	assert_int_equal(jint(o, "in_bytes"), 3000 * 5);
	assert_int_equal(jint(o, "out_bytes"), 3000 * 5);
	in0 = jint(o, "in_msgs");
	json_decref(o);
	for (i = 0; i < 3000; i++) {
		char *l = h_line(sub, H_IO_MS);

		assert_non_null(l);
		assert_string_equal(l, "MSG foo 1 5");
		free(l);
		free(h_line(sub, H_IO_MS));
	}

	/* a message nobody wants counts in, not out */
	publish(pub, "nobody", 7);
	ping(pub);
	o = get_json(port, "/varz");
	assert_int_equal(jint(o, "in_msgs"), in0 + 7);
	assert_int_equal(jint(o, "out_msgs"), 3000);
	json_decref(o);

	/* closed connections keep their counts in the totals */
	h_conn_close(pub);
	for (i = 0; i < 200 && varz_int(port, "connections") != 1; i++)
		nap(10);
	o = get_json(port, "/varz");
	assert_int_equal(jint(o, "connections"), 1);
	assert_int_equal(jint(o, "total_connections"), 2);
	assert_int_equal(jint(o, "in_msgs"), in0 + 7);
	json_decref(o);
}

/* The cids of a /connz answer, in order. */
static int
connz_cids(int port, const char *query, long long *cids, int max,
    json_t **out)
{
	char path[256];
	json_t *o, *a, *c;
	size_t i;
	int n;

	snprintf(path, sizeof(path), "/connz%s", query);
	o = get_json(port, path);
	a = json_object_get(o, "connections");
	assert_true(json_is_array(a));
	assert_int_equal(jint(o, "num_connections"), json_array_size(a));
	json_array_foreach(a, i, c) {
		if ((int)i < max)
			cids[i] = jint(c, "cid");
	}
	n = (int)json_array_size(a);
	if (out != NULL)
		*out = o;
	else
		json_decref(o);
	return n;
}

static void
test_monitor_connz(void **state)
{
	struct h_daemon *d = mon_daemon("");
	int port = mon_port(d);
	struct h_conn *a, *b, *c;
	long long cids[8];
	json_t *o, *conn, *list;

	(void)state;
	a = named_client(d->port, "alpha");	/* cid 1: publishes */
	b = named_client(d->port, "bravo");	/* cid 2: 1 sub */
	c = named_client(d->port, "charlie");	/* cid 3: 3 subs */
	h_sendf(b, "SUB foo 1\r\n");
	h_sendf(c, "SUB x 1\r\nSUB y q 2\r\nSUB foo 3\r\n");
	ping(b);
	ping(c);
	publish(a, "foo", 5);
	ping(a);

	assert_int_equal(connz_cids(port, "", cids, 8, &o), 3);
	assert_int_equal(jint(o, "total"), 3);
	assert_int_equal(jint(o, "offset"), 0);
	assert_int_equal(jint(o, "limit"), 1024);
	assert_true(cids[0] < cids[1] && cids[1] < cids[2]);
	conn = json_array_get(json_object_get(o, "connections"), 0);
	assert_string_equal(json_string_value(json_object_get(conn, "name")),
	    "alpha");
	assert_string_equal(json_string_value(json_object_get(conn, "lang")),
	    "C");
	assert_string_equal(json_string_value(json_object_get(conn, "ip")),
	    "127.0.0.1");
	assert_true(jint(conn, "port") > 0);
	assert_int_equal(jint(conn, "in_msgs"), 5);
	assert_int_equal(jint(conn, "in_bytes"), 25);
	assert_int_equal(jint(conn, "pending_bytes"), 0);
	assert_true(json_is_string(json_object_get(conn, "last_activity")));
	assert_null(json_object_get(conn, "subscriptions_list"));
	json_decref(o);

	/* sorting */
	connz_cids(port, "?sort=msgs_from", cids, 8, NULL);
	assert_int_equal(cids[0], 1);
	connz_cids(port, "?sort=subs", cids, 8, NULL);
	assert_int_equal(cids[0], 3);
	assert_int_equal(cids[1], 2);
	connz_cids(port, "?sort=msgs_to", cids, 8, NULL);
	assert_true(cids[0] == 2 || cids[0] == 3);	/* 5 each */
	assert_int_equal(cids[2], 1);
	connz_cids(port, "?sort=bytes_to", cids, 8, NULL);
	assert_int_equal(cids[2], 1);
	connz_cids(port, "?sort=start", cids, 8, NULL);
	assert_int_equal(cids[0], 1);

	/* paging */
	assert_int_equal(connz_cids(port, "?offset=1&limit=1", cids, 8, &o),
	    1);
	assert_int_equal(cids[0], 2);
	assert_int_equal(jint(o, "total"), 3);
	assert_int_equal(jint(o, "offset"), 1);
	assert_int_equal(jint(o, "limit"), 1);
	json_decref(o);
	assert_int_equal(connz_cids(port, "?offset=5", cids, 8, NULL), 0);
	assert_int_equal(connz_cids(port, "?cid=2", cids, 8, NULL), 1);
	assert_int_equal(cids[0], 2);

	/* subscriptions on request */
	connz_cids(port, "?cid=3&subs=1", cids, 8, &o);
	conn = json_array_get(json_object_get(o, "connections"), 0);
	assert_int_equal(jint(conn, "subscriptions"), 3);
	list = json_object_get(conn, "subscriptions_list");
	assert_true(json_is_array(list));
	assert_int_equal(json_array_size(list), 3);
	json_decref(o);
	connz_cids(port, "?cid=3&subs=detail", cids, 8, &o);
	conn = json_array_get(json_object_get(o, "connections"), 0);
	list = json_object_get(conn, "subscriptions_list_detail");
	assert_int_equal(json_array_size(list), 3);
	{
		json_t *s;
		size_t i;
		bool queue = false;

		json_array_foreach(list, i, s) {
			assert_true(json_is_string(json_object_get(s, "sid")));
			assert_int_equal(jint(s, "cid"), 3);
			if (json_object_get(s, "qgroup") != NULL) {
				assert_string_equal(json_string_value(
				    json_object_get(s, "qgroup")), "q");
				queue = true;
			}
		}
		assert_true(queue);
	}
	json_decref(o);
	h_conn_close(a);
	h_conn_close(b);
	h_conn_close(c);
}

static void
test_monitor_subsz(void **state)
{
	struct h_daemon *d = mon_daemon("");
	int port = mon_port(d);
	struct h_conn *c;
	json_t *o, *a;

	(void)state;
	o = get_json(port, "/subsz");
	assert_int_equal(jint(o, "num_subscriptions"), 0);
	assert_null(json_object_get(o, "subscriptions_list"));
	json_decref(o);
	c = h_client(d->port);
	h_sendf(c, "SUB foo.* 1\r\nSUB bar 2\r\nSUB baz 3\r\nUNSUB 3\r\n");
	publish(c, "foo.x", 4);
	ping(c);
	o = get_json(port, "/subsz");
	assert_int_equal(jint(o, "num_subscriptions"), 2);
	assert_int_equal(jint(o, "num_inserts"), 3);
	assert_int_equal(jint(o, "num_removes"), 1);
	assert_true(jint(o, "num_matches") >= 4);
	assert_true(json_is_number(json_object_get(o, "cache_hit_rate")));
	assert_true(json_number_value(json_object_get(o, "cache_hit_rate")) >
	    0.5);
	json_decref(o);
	o = get_json(port, "/subsz?subs=1&test=foo.bar");
	a = json_object_get(o, "subscriptions_list");
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 0), "subject")), "foo.*");
	assert_int_equal(jint(o, "total"), 1);
	json_decref(o);
	o = get_json(port, "/subscriptionsz?subs=1");
	assert_int_equal(json_array_size(json_object_get(o,
	    "subscriptions_list")), 2);
	json_decref(o);
}

/* Checks the Prometheus text format line by line; the value of the
 * sample named want (no labels), or -1. */
static double
check_prometheus(const char *text, const char *want)
{
	regex_t help, type, sample;
	regmatch_t m[3];
	static char typed[64][96];
	char *copy, *line, *save = NULL, name[96];
	size_t ntyped = 0, i;
	double found = -1;
	bool ok;

	assert_int_equal(regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) "
	    "[^\n]+$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
	    "(counter|gauge|histogram|summary|untyped)$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&sample, "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
	    "(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\",?)*\\})? "
	    "-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$", REG_EXTENDED), 0);
	assert_non_null(copy = strdup(text));
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&help, line, 0, NULL, 0) == 0)
			continue;
		if (regexec(&type, line, 3, m, 0) == 0) {
			assert_true(ntyped < 64);
			snprintf(typed[ntyped], sizeof(typed[0]), "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			/* a counter's name ends in _total */
			if (strncmp(line + m[2].rm_so, "counter", 7) == 0 &&
			    strstr(typed[ntyped], "_total") == NULL)
				fail_msg("counter without _total: %s", line);
			ntyped++;
			continue;
		}
		if (regexec(&sample, line, 2, m, 0) != 0)
			fail_msg("not Prometheus text: '%s'", line);
		snprintf(name, sizeof(name), "%.*s",
		    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		for (ok = false, i = 0; i < ntyped && !ok; i++)
			ok = strcmp(typed[i], name) == 0;
		if (!ok)
			fail_msg("sample before its TYPE: %s", line);
		if (strcmp(name, want) == 0 && line[strlen(name)] == ' ')
			found = strtod(line + strlen(name) + 1, NULL);
	}
	free(copy);
	regfree(&help);
	regfree(&type);
	regfree(&sample);
	return found;
}

static void
test_monitor_metrics(void **state)
{
	struct h_daemon *d = mon_daemon("server_name: \"q\\\"uote\"");
	int port = mon_port(d);
	struct h_conn *c;
	struct resp *r;

	(void)state;
	c = h_client(d->port);
	h_sendf(c, "SUB foo 1\r\n");
	publish(c, "foo", 11);
	ping(c);
	r = http(port, "GET", "/metrics", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->ctype, "text/plain; version=0.0.4"));
	assert_true(check_prometheus(r->body, "corobus_in_msgs_total") == 11);
	assert_true(check_prometheus(r->body, "corobus_out_msgs_total") == 11);
	assert_true(check_prometheus(r->body, "corobus_connections") == 1);
	assert_true(check_prometheus(r->body, "corobus_subscriptions") == 1);
	assert_true(check_prometheus(r->body, "corobus_in_bytes_total") == 55);
	assert_true(check_prometheus(r->body,
	    "process_resident_memory_bytes") > 0);
	/* the label value is escaped */
	assert_non_null(strstr(r->body, "server_name=\"q\\\"uote\""));
	resp_free(r);
	/* and it agrees with /varz */
	assert_int_equal(varz_int(port, "in_msgs"), 11);
}

static void
test_monitor_errors(void **state)
{
	struct h_daemon *d = mon_daemon("");
	int port = mon_port(d);
	struct resp *r;

	(void)state;
	expect_status(port, "GET", "/connz?limit=abc", 400);
	expect_status(port, "GET", "/connz?offset=-1", 400);
	expect_status(port, "GET", "/connz?sort=nope", 400);
	expect_status(port, "GET", "/connz?subs=maybe", 400);
	expect_status(port, "GET", "/connz?cid=x", 400);
	expect_status(port, "GET", "/connz?state=closed", 400);
	expect_status(port, "GET", "/subsz?subs=2", 400);
	expect_status(port, "GET", "/subsz?test=foo.*", 400);
	expect_status(port, "GET", "/varz?callback=alert(1)", 400);
	r = http(port, "GET", "/connz?sort=nope", NULL);
	assert_non_null(strstr(r->ctype, "text/plain"));
	assert_non_null(strstr(r->body, "sort"));
	resp_free(r);
	expect_status(port, "GET", "/nope", 404);
	expect_status(port, "GET", "/varz/extra", 404);
	r = http(port, "POST", "/varz", "Content-Length: 0\r\n");
	assert_int_equal(r->status, 405);
	assert_string_equal(r->allow, "GET");
	resp_free(r);
	expect_status(port, "DELETE", "/connz", 405);
	/* still fine afterwards */
	expect_status(port, "GET", "/connz?sort=cid&subs=true&auth=0", 200);
}

static void
test_monitor_basic_auth(void **state)
{
	struct h_daemon *d = h_daemon_new();
	struct resp *r;
	char *dump;
	int port;

	(void)state;
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "monitoring: {address: \"127.0.0.1:0\", user: ops, "
	    "password: \"s3cret\"}\n");
	h_daemon_start(d, NULL);
	port = mon_port(d);
	r = http(port, "GET", "/varz", NULL);
	assert_int_equal(r->status, 401);
	assert_non_null(strstr(r->www_auth, "Basic"));
	resp_free(r);
	/* ops:wrong */
	r = http(port, "GET", "/varz", "Authorization: Basic b3BzOndyb25n\r\n");
	assert_int_equal(r->status, 401);
	resp_free(r);
	/* ops:s3cret */
	r = http(port, "GET", "/varz",
	    "Authorization: Basic b3BzOnMzY3JldA==\r\n");
	assert_int_equal(r->status, 200);
	resp_free(r);
	/* -T hides the password */
	assert_int_equal(h_corobusd_run(&dump, "-T", "-c", d->conf, NULL), 0);
	assert_null(strstr(dump, "s3cret"));
	assert_non_null(strstr(dump, "<redacted>"));
	free(dump);
}

/* How many times the daemon's log says text. */
static int
log_count(struct h_daemon *d, const char *text)
{
	char *all = NULL, *p;
	size_t cap = 0;
	FILE *f;
	int n = 0;

	assert_non_null(f = fopen(d->log, "r"));
	if (getdelim(&all, &cap, '\0', f) > 0)
		for (p = all; (p = strstr(p, text)) != NULL; p++)
			n++;
	fclose(f);
	free(all);
	return n;
}

static void
test_monitor_reload(void **state)
{
	struct h_daemon *d = h_daemon_new();
	int port, i;

	(void)state;
	h_daemon_conf(d, MON_CONF);
	h_daemon_start(d, NULL);
	port = mon_port(d);
	expect_status(port, "GET", "/healthz", 200);
	assert_int_equal(log_count(d, "monitoring on http://"), 1);
	/* the same address: nothing moves */
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "reload: applied", H_IO_MS));
	expect_status(port, "GET", "/healthz", 200);
	assert_int_equal(log_count(d, "monitoring on http://"), 1);
	/* off */
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "monitoring: {address: \"\"}\n");
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "monitoring off", H_IO_MS));
	for (i = 0; i < 100 && h_try_connect(port) == 0; i++)
		nap(10);
	assert_int_equal(h_try_connect(port), -ECONNREFUSED);
	/* on again */
	h_daemon_conf(d, MON_CONF);
	h_daemon_signal(d, SIGHUP);
	for (i = 0; i < 200 && log_count(d, "monitoring on http://") < 2; i++)
		nap(10);
	assert_int_equal(log_count(d, "monitoring on http://"), 2);
	port = mon_port(d);
	expect_status(port, "GET", "/healthz", 200);
}

static void
test_monitor_port_in_use(void **state)
{
	struct h_daemon *d = h_daemon_new();
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *out;
	int fd, rc;

	(void)state;
	/* a port somebody holds */
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "monitoring: {address: \"127.0.0.1:%d\"}\n", ntohs(sin.sin_port));
	rc = h_corobusd_run(&out, "-c", d->conf, NULL);
	close(fd);
	assert_int_equal(rc, 71);
	assert_non_null(strstr(out, "monitoring 127.0.0.1:"));
	free(out);
	/* -t finds a clash with a listener without binding anything */
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:4999\"}]\n"
	    "monitoring: {address: \"127.0.0.1:4999\"}\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, "monitoring.address"));
	free(out);
	/* user without password */
	h_daemon_conf(d, "monitoring: {user: ops}\n");
	assert_int_equal(h_corobusd_run(&out, "-t", "-c", d->conf, NULL), 78);
	assert_non_null(strstr(out, "go together"));
	free(out);
}

static int
group_teardown(void **state)
{
	(void)state;
	return h_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_monitor_healthz_and_root,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_varz_counts_traffic,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_connz, h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_subsz, h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_metrics,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_errors, h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_basic_auth,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_reload, h_test_teardown),
		cmocka_unit_test_teardown(test_monitor_port_in_use,
		    h_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
