/*
 * cluster.c: corobusd and nats-server nodes in clusters on loopback, and
 * the libnats helpers the cluster tests share (see cluster.h).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cluster.h"

#define MAX_NODES	16
#define MAX_CONNS	64
#define MAX_SUBS	256

struct tracked_node {
	struct cl_node	*n;
	bool		 shared;
};

static struct tracked_node	 nodes[MAX_NODES];
static size_t			 nnodes;
static natsConnection		*conns[MAX_CONNS];
static natsSubscription		*subs[MAX_SUBS];
static size_t			 nconns, nsubs;
static unsigned int		 sync_seq;

/* ---- binaries ---- */

const char *
cl_nats_server(void)
{
	static const char *const fixed[] = { "/usr/sbin/nats-server",
	    "/usr/bin/nats-server", "/usr/local/bin/nats-server" };
	const char *env = getenv("NATS_SERVER"), *p;
	size_t i;

	if (env != NULL && *env != '\0')
		return access(env, X_OK) == 0 ? env : NULL;
	if ((p = h_nats_server_path()) != NULL)
		return p;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], X_OK) == 0)
			return fixed[i];
	return NULL;
}

bool
cl_reference(void)
{
	const char *env = getenv("COROBUS_CLUSTER_REFERENCE");

	return env != NULL && strcmp(env, "1") == 0;
}

/* ---- nodes ---- */

struct cl_node *
cl_node_new(enum cl_kind kind, const char *name)
{
	struct cl_node *n;

	if (nnodes == MAX_NODES)
		fail_msg("too many nodes");
	if (kind == CL_COROBUSD && cl_reference())
		kind = CL_NATS;
	if (kind == CL_NATS && cl_nats_server() == NULL)
		fail_msg("nats-server is not installed");
	if ((n = calloc(1, sizeof(*n))) == NULL)
		fail_msg("out of memory");
	n->kind = kind;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->pid = -1;
	/* three distinct free ports */
	n->port = h_free_port();
	do
		n->rport = h_free_port();
	while (n->rport == n->port);
	do
		n->mport = h_free_port();
	while (n->mport == n->port || n->mport == n->rport);
	/* its directory; for a nats-server, "corobus.yaml" holds its
	 * configuration and "stderr.log" its log, the names the harness
	 * removes even after a fatal signal */
	n->d = h_daemon_new();
	nodes[nnodes].n = n;
	nodes[nnodes].shared = false;
	nnodes++;
	return n;
}

void
cl_node_seed(struct cl_node *n, const struct cl_node *seed)
{
	cl_node_seed_creds(n, seed, seed->auth_user[0] != '\0' ?
	    seed->auth_user : NULL, seed->auth_pass);
}

void
cl_node_seed_creds(struct cl_node *n, const struct cl_node *seed,
    const char *user, const char *pass)
{
	char url[160];

	if (user != NULL)
		snprintf(url, sizeof(url), "nats-route://%s:%s@127.0.0.1:%d",
		    user, pass, seed->rport);
	else
		snprintf(url, sizeof(url), "nats-route://127.0.0.1:%d",
		    seed->rport);
	if (strlen(n->routes) + strlen(url) + 2 >= sizeof(n->routes))
		fail_msg("too many routes");
	if (n->routes[0] != '\0')
		strcat(n->routes, ",");
	strcat(n->routes, url);
}

/* The seeds as a list of quoted strings, for YAML or nats-server. */
static void
routes_list(const struct cl_node *n, char *out, size_t size)
{
	char copy[sizeof(n->routes)], *tok, *save = NULL;
	size_t len = 0;

	out[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", n->routes);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		len += (size_t)snprintf(out + len, size - len, "%s\"%s\"",
		    len > 0 ? ", " : "", tok);
}

static void
write_conf(struct cl_node *n)
{
	char routes[1024], auth[160] = "";
	FILE *f;

	routes_list(n, routes, sizeof(routes));
	if (n->auth_user[0] != '\0')
		snprintf(auth, sizeof(auth), n->kind == CL_COROBUSD ?
		    "  authorization: { user: \"%s\", password: \"%s\" }\n" :
		    "  authorization { user: \"%s\", password: \"%s\" }\n",
		    n->auth_user, n->auth_pass);
	if (n->kind == CL_COROBUSD) {
		h_daemon_conf(n->d,
		    "server_name: \"%s\"\n"
		    "listeners: [{address: \"127.0.0.1:%d\"}]\n"
		    "monitoring: { address: \"127.0.0.1:%d\" }\n"
		    "cluster:\n"
		    "  name: %s\n"
		    "  address: \"127.0.0.1:%d\"\n"
		    "  routes: [ %s ]\n"
		    "  ping_interval: 1s\n"
		    "  ping_max: 2\n"
		    "%s"
		    "%s"
		    "%s\n",
		    n->name, n->port, n->mport, CL_NAME, n->rport, routes,
		    auth, n->cextra, n->extra);
		return;
	}
	if ((f = fopen(n->d->conf, "w")) == NULL)
		fail_msg("%s: %s", n->d->conf, strerror(errno));
	fprintf(f,
	    "server_name: \"%s\"\n"
	    "listen: \"127.0.0.1:%d\"\n"
	    "http: \"127.0.0.1:%d\"\n"
	    "ping_interval: \"1s\"\n"
	    "ping_max: 2\n"
	    "log_file: \"%s\"\n"
	    "cluster {\n"
	    "  name: %s\n"
	    "  listen: \"127.0.0.1:%d\"\n"
	    "  routes: [ %s ]\n"
	    "%s"
	    "%s"
	    "}\n"
	    "%s\n",
	    n->name, n->port, n->mport, n->d->log, CL_NAME, n->rport, routes,
	    auth, n->cextra, n->extra);
	if (fclose(f) != 0)
		fail_msg("%s: %s", n->d->conf, strerror(errno));
}

void
cl_node_write_conf(struct cl_node *n)
{
	write_conf(n);
}

/* The client INFO's server_id. */
static void
learn_id(struct cl_node *n)
{
	struct h_conn *c = h_conn_tcp(n->port);
	char *info = h_line(c, CL_MS), *p, *q;

	if (info == NULL || (p = strstr(info, "\"server_id\":\"")) == NULL)
		fail_msg("%s: no INFO with a server_id", n->name);
	p += strlen("\"server_id\":\"");
	if ((q = strchr(p, '"')) == NULL || (size_t)(q - p) >= sizeof(n->id))
		fail_msg("%s: bad server_id in %s", n->name, info);
	memcpy(n->id, p, (size_t)(q - p));
	n->id[q - p] = '\0';
	free(info);
	h_conn_close(c);
}

void
cl_node_start(struct cl_node *n)
{
	struct stat st;

	write_conf(n);
	if (n->kind == CL_COROBUSD) {
		h_daemon_start(n->d, NULL);
		if (n->d->port != n->port)
			fail_msg("%s listens on %d, not %d", n->name,
			    n->d->port, n->port);
	} else {
		n->d->log_start = stat(n->d->log, &st) == 0 ?
		    (long)st.st_size : 0;
		h_nats_server_start(&n->pid, cl_nats_server(), n->port, "-c",
		    n->d->conf, (char *)NULL);
	}
	learn_id(n);
}

bool
cl_node_running(struct cl_node *n)
{
	return n->kind == CL_COROBUSD ? n->d->pid > 0 : n->pid > 0;
}

void
cl_node_kill9(struct cl_node *n)
{
	pid_t *pid = n->kind == CL_COROBUSD ? &n->d->pid : &n->pid;
	int status;

	if (*pid <= 0)
		fail_msg("%s is not running", n->name);
	if (kill(*pid, SIGKILL) == -1)
		fail_msg("kill %s: %s", n->name, strerror(errno));
	while (waitpid(*pid, &status, 0) == -1 && errno == EINTR)
		;
	*pid = -1;
}

void
cl_node_stop(struct cl_node *n)
{
	int status;

	if (n->kind == CL_NATS) {
		h_nats_server_stop(&n->pid);
		return;
	}
	status = h_daemon_stop(n->d);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cl_node_dump(n);
		fail_msg("%s did not stop cleanly (status 0x%x)", n->name,
		    status);
	}
}

char *
cl_node_log(struct cl_node *n)
{
	FILE *f;
	char *s;
	long size;
	size_t got;

	if ((f = fopen(n->d->log, "r")) == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size < n->d->log_start)
		size = n->d->log_start;
	fseek(f, n->d->log_start, SEEK_SET);
	if ((s = malloc((size_t)(size - n->d->log_start) + 1)) == NULL)
		fail_msg("out of memory");
	got = fread(s, 1, (size_t)(size - n->d->log_start), f);
	s[got] = '\0';
	fclose(f);
	return s;
}

void
cl_node_dump(struct cl_node *n)
{
	char *log = cl_node_log(n);

	/* not print_error(), which cuts at 1 KiB */
	fflush(stdout);
	fprintf(stderr, "---- %s (%s, client %d, route %d, monitoring %d) "
	    "log ----\n%s---- end of %s ----\n", n->name,
	    n->kind == CL_COROBUSD ? "corobusd" : "nats-server", n->port,
	    n->rport, n->mport, log, n->name);
	fflush(stderr);
	free(log);
}

int
cl_log_count(struct cl_node *n, const char *text)
{
	char *log = cl_node_log(n), *p;
	int count = 0;

	for (p = log; (p = strstr(p, text)) != NULL; p += strlen(text))
		count++;
	free(log);
	return count;
}

void
cl_share(void)
{
	size_t i;

	for (i = 0; i < nnodes; i++)
		nodes[i].shared = true;
	h_share_all();
}

/* ---- monitoring ---- */

char *
cl_http_get(struct cl_node *n, const char *path)
{
	struct h_conn *c;
	char *line, *body = NULL;
	size_t len = 0;
	long clen = -1;
	int status;
	char ch;

	if (h_try_connect(n->mport) != 0)
		return NULL;
	c = h_conn_tcp(n->mport);
	h_sendf(c, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	if ((line = h_line(c, CL_MS)) == NULL) {
		h_conn_close(c);
		return NULL;
	}
	status = strncmp(line, "HTTP/1.", 7) == 0 ? atoi(line + 9) : -1;
	free(line);
	while ((line = h_line(c, CL_MS)) != NULL && line[0] != '\0') {
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = atol(line + 15);
		free(line);
	}
	free(line);
	h_append(&body, &len, "", 0);
	while ((clen < 0 || (long)len < clen) &&
	    h_bytes(c, &ch, 1, CL_MS) == 0)
		h_append(&body, &len, &ch, 1);
	h_conn_close(c);
	if (status != 200) {
		free(body);
		return NULL;
	}
	return body;
}

int
cl_routez_count(struct cl_node *n)
{
	char *body = cl_http_get(n, "/routez");
	json_t *j;
	int count = -1;

	if (body == NULL)
		return -1;
	if ((j = json_loads(body, 0, NULL)) != NULL &&
	    json_is_integer(json_object_get(j, "num_routes")))
		count = (int)json_integer_value(json_object_get(j,
		    "num_routes"));
	json_decref(j);
	free(body);
	return count;
}

/* Whether peer's server_id is a remote_id in n's /routez: 1, 0, or -1
 * when it did not answer. */
static int
routez_has(struct cl_node *n, struct cl_node *peer)
{
	char *body = cl_http_get(n, "/routez");
	json_t *j, *r;
	size_t i;
	int found = -1;

	if (body == NULL)
		return -1;
	if ((j = json_loads(body, 0, NULL)) != NULL) {
		found = 0;
		json_array_foreach(json_object_get(j, "routes"), i, r)
			if (json_is_string(json_object_get(r, "remote_id")) &&
			    strcmp(json_string_value(json_object_get(r,
			    "remote_id")), peer->id) == 0)
				found = 1;
	}
	json_decref(j);
	free(body);
	return found;
}

int
cl_routez_has_sub(struct cl_node *n, struct cl_node *peer,
    const char *subject)
{
	char *body = cl_http_get(n, "/routez?subs=1");
	json_t *j, *r, *v;
	size_t i, k;
	int found = -1;

	if (body == NULL)
		return -1;
	if ((j = json_loads(body, 0, NULL)) != NULL) {
		found = 0;
		json_array_foreach(json_object_get(j, "routes"), i, r) {
			const char *id = json_string_value(json_object_get(r,
			    "remote_id"));

			if (id == NULL || strcmp(id, peer->id) != 0)
				continue;
			json_array_foreach(json_object_get(r,
			    "subscriptions_list"), k, v)
				if (json_is_string(v) && strcmp(
				    json_string_value(v), subject) == 0)
					found = 1;
		}
	}
	json_decref(j);
	free(body);
	return found;
}

/* The addr= value of a log line at p (the rest of the line), into out. */
static void
line_addr(const char *p, char *out, size_t size)
{
	const char *a, *eol = strchr(p, '\n');
	size_t len;

	out[0] = '\0';
	if ((a = strstr(p, " addr=")) == NULL || (eol != NULL && a > eol))
		return;
	a += strlen(" addr=");
	len = strcspn(a, " \n");
	if (len >= size)
		len = size - 1;
	memcpy(out, a, len);
	out[len] = '\0';
}

/* Routes to peer (NULL: any) that n's log shows up: a route is up from
 * its "route: registered name=P ... addr=X" line until a "route: closed
 * name=P addr=X" line with the same addr.  *stray (if not NULL) gets
 * the close lines that match no registered route. */
static int
log_routes_stray(struct cl_node *n, struct cl_node *peer, int *stray)
{
	enum { MAXR = 32 };
	char up[MAXR][48], addr[48], reg[64], closed[64], *log, *p;
	int nup = 0, i, strays = 0;

	snprintf(reg, sizeof(reg), "route: registered name=%s ",
	    peer != NULL ? peer->name : "");
	snprintf(closed, sizeof(closed), "route: closed name=%s ",
	    peer != NULL ? peer->name : "");
	if (peer == NULL) {
		/* any name */
		reg[strlen(reg) - 1] = '\0';
		closed[strlen(closed) - 1] = '\0';
	}
	log = cl_node_log(n);
	for (p = log; *p != '\0'; p = strchr(p, '\n') + 1) {
		char *eol = strchr(p, '\n'), *hit;

		if (eol == NULL)
			break;	/* a line still being written */
		if ((hit = strstr(p, reg)) != NULL && hit < eol) {
			line_addr(hit, addr, sizeof(addr));
			if (nup < MAXR)
				snprintf(up[nup++], sizeof(up[0]), "%s", addr);
		} else if ((hit = strstr(p, closed)) != NULL && hit < eol) {
			line_addr(hit, addr, sizeof(addr));
			for (i = 0; i < nup; i++)
				if (strcmp(up[i], addr) == 0)
					break;
			if (i < nup)
				memmove(up[i], up[i + 1],
				    (size_t)(--nup - i) * sizeof(up[0]));
			else
				strays++;
		}
	}
	free(log);
	if (stray != NULL)
		*stray = strays;
	return nup;
}

int
cl_log_routes(struct cl_node *n, struct cl_node *peer)
{
	return log_routes_stray(n, peer, NULL);
}

int
cl_log_stray_closes(struct cl_node *n)
{
	int stray;

	(void)log_routes_stray(n, NULL, &stray);
	return stray;
}

void
cl_check_route_logs(struct cl_node **ns, int n)
{
	char want[256];
	int i, j;

	for (i = 0; i < n; i++) {
		if (ns[i]->kind != CL_COROBUSD)
			continue;
		/* a registration per peer (two if a duplicate replaced
		 * one), with its name and id as the peer (nats-server too)
		 * gave them, and one route up to each */
		if (cl_log_count(ns[i], "route: registered ") < n - 1) {
			cl_node_dump(ns[i]);
			fail_msg("%s logged %d route registrations, not %d",
			    ns[i]->name, cl_log_count(ns[i],
			    "route: registered "), n - 1);
		}
		for (j = 0; j < n; j++) {
			if (i == j)
				continue;
			assert_int_equal(cl_log_routes(ns[i], ns[j]), 1);
			snprintf(want, sizeof(want), "route: registered name=%s "
			    "id=%s addr=127.0.0.1:", ns[j]->name, ns[j]->id);
			if (cl_log_count(ns[i], want) < 1) {
				cl_node_dump(ns[i]);
				fail_msg("%s: no \"%s\"", ns[i]->name, want);
			}
		}
	}
}

int
cl_wait_route(struct cl_node *n, struct cl_node *peer, bool up,
    int timeout_ms)
{
	int64_t t0 = h_now_ms();
	bool ok;

	for (;;) {
		if (n->kind == CL_COROBUSD)
			ok = up ? cl_log_routes(n, peer) >= 1 :
			    cl_log_routes(n, peer) <= 0;
		else
			ok = routez_has(n, peer) == (up ? 1 : 0);
		if (ok)
			return (int)(h_now_ms() - t0);
		if (h_now_ms() - t0 >= timeout_ms)
			return -1;
		h_nap(20);
	}
}

void
cl_wait_mesh(struct cl_node **ns, int count, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int i, j, left, running = 0, k;

	for (i = 0; i < count; i++)
		if (cl_node_running(ns[i]))
			running++;
	for (i = 0; i < count; i++)
		for (j = 0; j < count; j++) {
			if (i == j || !cl_node_running(ns[i]) ||
			    !cl_node_running(ns[j]))
				continue;
			left = (int)(deadline - h_now_ms());
			if (cl_wait_route(ns[i], ns[j], true,
			    left > 0 ? left : 0) < 0) {
				for (k = 0; k < count; k++)
					cl_node_dump(ns[k]);
				fail_msg("no route from %s to %s within %d ms",
				    ns[i]->name, ns[j]->name, timeout_ms);
			}
		}
	/* one route per pair, once the dust of simultaneous dials has
	 * settled */
	h_nap(300);
	for (i = 0; i < count; i++) {
		if (!cl_node_running(ns[i]))
			continue;
		for (j = 0; j < count; j++) {
			if (i == j || !cl_node_running(ns[j]) ||
			    ns[i]->kind != CL_COROBUSD)
				continue;
			if ((k = cl_log_routes(ns[i], ns[j])) != 1) {
				cl_node_dump(ns[i]);
				fail_msg("%s: %d routes to %s by its log "
				    "(registered and not closed), not 1",
				    ns[i]->name, k, ns[j]->name);
			}
		}
		if (ns[i]->kind == CL_NATS &&
		    (k = cl_routez_count(ns[i])) != running - 1) {
			cl_node_dump(ns[i]);
			fail_msg("%s: /routez num_routes %d, not %d",
			    ns[i]->name, k, running - 1);
		}
	}
}

/* ---- libnats ---- */

natsConnection *
cl_connect(struct cl_node *n)
{
	natsOptions *opts = NULL;
	natsConnection *nc = NULL;
	natsStatus s;
	char url[64];

	if (nconns == MAX_CONNS)
		fail_msg("too many connections");
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", n->port);
	NOK(natsOptions_Create(&opts));
	NOK(natsOptions_SetURL(opts, url));
	NOK(natsOptions_SetTimeout(opts, CL_MS));
	NOK(natsOptions_SetAllowReconnect(opts, false));
	NOK(natsOptions_SetMaxPendingMsgs(opts, 1000000));
	s = natsConnection_Connect(&nc, opts);
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		cl_node_dump(n);
		fail_msg("connect to %s (%s): %s", n->name, url,
		    nats_GetLastError(NULL));
	}
	conns[nconns++] = nc;
	return nc;
}

natsSubscription *
cl_track(natsSubscription *sub)
{
	if (nsubs == MAX_SUBS)
		fail_msg("too many subscriptions");
	subs[nsubs++] = sub;
	return sub;
}

natsSubscription *
cl_sub(natsConnection *nc, const char *subject, const char *queue)
{
	natsSubscription *sub = NULL;

	if (queue != NULL)
		NOK(natsConnection_QueueSubscribeSync(&sub, nc, subject,
		    queue));
	else
		NOK(natsConnection_SubscribeSync(&sub, nc, subject));
	NOK(natsSubscription_SetPendingLimits(sub, -1, -1));
	return cl_track(sub);
}

void
cl_unsub(natsSubscription *sub)
{
	size_t i;

	for (i = 0; i < nsubs; i++)
		if (subs[i] == sub) {
			subs[i] = subs[--nsubs];
			break;
		}
	(void)natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
}

void
cl_sync(natsConnection *pub_nc, natsConnection *sub_nc)
{
	natsSubscription *sub = NULL;
	int64_t deadline = h_now_ms() + CL_MESH_MS;
	natsMsg *m = NULL;
	char subject[64];

	snprintf(subject, sizeof(subject), "_clsync.%d.%u", (int)getpid(),
	    ++sync_seq);
	NOK(natsConnection_SubscribeSync(&sub, sub_nc, subject));
	NOK(natsConnection_FlushTimeout(sub_nc, CL_MS));
	for (;;) {
		NOK(natsConnection_PublishString(pub_nc, subject, "sync"));
		NOK(natsConnection_FlushTimeout(pub_nc, CL_MS));
		if (natsSubscription_NextMsg(&m, sub, 50) == NATS_OK)
			break;
		if (h_now_ms() >= deadline) {
			natsSubscription_Destroy(sub);
			fail_msg("interest of a subscriber did not reach the "
			    "publisher's server within %d ms", CL_MESH_MS);
		}
	}
	natsMsg_Destroy(m);
	(void)natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
}

void
cl_expect(natsSubscription *sub, const char *subject, const char *data)
{
	natsMsg *m = NULL;
	natsStatus s;

	if ((s = natsSubscription_NextMsg(&m, sub, CL_MS)) != NATS_OK)
		fail_msg("no message (%s) on %s within %d ms, expected \"%s\"",
		    natsStatus_GetText(s), natsSubscription_GetSubject(sub),
		    CL_MS, data);
	if (subject != NULL)
		assert_string_equal(natsMsg_GetSubject(m), subject);
	assert_int_equal(natsMsg_GetDataLength(m), (int)strlen(data));
	assert_memory_equal(natsMsg_GetData(m), data, strlen(data));
	natsMsg_Destroy(m);
}

void
cl_expect_none(natsSubscription *sub, int ms)
{
	natsMsg *m = NULL;

	if (natsSubscription_NextMsg(&m, sub, ms) == NATS_OK) {
		print_error("unexpected message on %s: %s \"%.*s\"\n",
		    natsSubscription_GetSubject(sub), natsMsg_GetSubject(m),
		    natsMsg_GetDataLength(m), natsMsg_GetData(m));
		natsMsg_Destroy(m);
		fail();
	}
}

void
cl_on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
    void *closure)
{
	char reply[256];
	int len;

	(void)sub;
	len = snprintf(reply, sizeof(reply), "%s: %.*s",
	    closure != NULL ? (const char *)closure : "re",
	    natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
	if (natsMsg_GetReply(msg) != NULL)
		(void)natsConnection_Publish(nc, natsMsg_GetReply(msg), reply,
		    len);
	natsMsg_Destroy(msg);
}

char *
cl_request(natsConnection *nc, const char *subject, const char *data)
{
	natsMsg *reply = NULL;
	natsStatus s;
	char *out;

	s = natsConnection_RequestString(&reply, nc, subject, data, CL_MS);
	if (s != NATS_OK)
		fail_msg("request on %s: %s (%s)", subject,
		    natsStatus_GetText(s), nats_GetLastError(NULL));
	if ((out = strndup(natsMsg_GetData(reply),
	    (size_t)natsMsg_GetDataLength(reply))) == NULL)
		fail_msg("out of memory");
	natsMsg_Destroy(reply);
	return out;
}

int
cl_collect(natsSubscription *sub, const char *prefix, int *seen, int n,
    int max, int quiet_ms)
{
	natsMsg *m = NULL;
	int count = 0, k;

	while (count < max &&
	    natsSubscription_NextMsg(&m, sub, quiet_ms) == NATS_OK) {
		if (strncmp(natsMsg_GetSubject(m), prefix,
		    strlen(prefix)) == 0) {
			k = atoi(natsMsg_GetData(m));
			if (k < 0 || k >= n)
				fail_msg("message %d out of range on %s", k,
				    natsMsg_GetSubject(m));
			seen[k]++;
			count++;
		}
		natsMsg_Destroy(m);
		m = NULL;
	}
	return count;
}

/* ---- more libnats ---- */

/* Messages from several subscriptions into one seen[] (data = index):
 * until total reaches want and then quiet_ms pass with nothing more, or
 * the deadline.  got[i] counts those of subs[i]. */
int
cl_collect_many(natsSubscription **from, int nfrom, int *seen, int n,
    int *got, int want, int quiet_ms)
{
	int64_t deadline = h_now_ms() + 10000, quiet_since = -1;
	int total = 0, i, k;
	bool any;

	for (;;) {
		any = false;
		for (i = 0; i < nfrom; i++) {
			natsMsg *m = NULL;

			while (natsSubscription_NextMsg(&m, from[i], 1) ==
			    NATS_OK) {
				k = atoi(natsMsg_GetData(m));
				if (k < 0 || k >= n)
					fail_msg("data %d out of range", k);
				seen[k]++;
				got[i]++;
				total++;
				any = true;
				natsMsg_Destroy(m);
				m = NULL;
			}
		}
		if (any)
			quiet_since = -1;
		else if (total >= want) {
			if (quiet_since < 0)
				quiet_since = h_now_ms();
			else if (h_now_ms() - quiet_since >= quiet_ms)
				break;
		}
		if (h_now_ms() >= deadline)
			break;
		if (!any)
			h_nap(2);
	}
	return total;
}

/* Every index of seen[0..n) exactly once. */
void
cl_assert_once(const int *seen, int n, const char *what)
{
	int k, missing = 0, dup = 0, first = -1;

	for (k = 0; k < n; k++) {
		if (seen[k] == 0)
			missing++;
		if (seen[k] > 1)
			dup++;
		if (seen[k] != 1 && first < 0)
			first = k;
	}
	if (missing > 0 || dup > 0)
		fail_msg("%s: %d of %d messages missing, %d duplicated (first "
		    "bad: #%d seen %d times)", what, missing, n, dup, first,
		    seen[first]);
}

void
cl_publish_seq(natsConnection *nc, const char *subject, int from, int to)
{
	char data[16];
	int i;

	for (i = from; i < to; i++) {
		snprintf(data, sizeof(data), "%d", i);
		NOK(natsConnection_PublishString(nc, subject, data));
	}
	NOK(natsConnection_FlushTimeout(nc, CL_MS));
}

/* The client INFO line of a node (malloc'd). */
const char *
cl_client_info(struct cl_node *n)
{
	static char buf[8192];
	struct h_conn *c = h_conn_tcp(n->port);
	char *info = h_line(c, CL_MS);

	h_conn_close(c);
	if (info == NULL)
		fail_msg("%s: no INFO", n->name);
	snprintf(buf, sizeof(buf), "%s", info);
	free(info);
	if (strncmp(buf, "INFO ", 5) != 0)
		fail_msg("%s: not an INFO line: %s", n->name, buf);
	return buf;
}

bool
cl_lists_url(const char *info, struct cl_node *n)
{
	char url[64];

	snprintf(url, sizeof(url), "\"127.0.0.1:%d\"", n->port);
	return strstr(info, url) != NULL;
}

/* ---- teardown ---- */

static void
free_nodes(bool all)
{
	size_t i = 0;

	while (i < nnodes) {
		if (!all && nodes[i].shared) {
			i++;
			continue;
		}
		h_nats_server_stop(&nodes[i].n->pid);
		/* its directory (and corobusd) go with the harness's
		 * teardown */
		free(nodes[i].n);
		nodes[i] = nodes[--nnodes];
	}
}

int
cl_teardown(void **state)
{
	while (nsubs > 0)
		natsSubscription_Destroy(subs[--nsubs]);
	while (nconns > 0) {
		natsConnection_Close(conns[--nconns]);
		natsConnection_Destroy(conns[nconns]);
	}
	free_nodes(false);
	return h_test_teardown(state);
}

int
cl_group_teardown(void **state)
{
	int rc = cl_teardown(state);

	free_nodes(true);
	if (h_group_teardown(state) != 0)
		rc = -1;
	return rc;
}
