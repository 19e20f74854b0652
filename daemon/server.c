/*
 * server.c: the server as a whole: listeners and their accept tasks,
 * the once-per-iteration flush of client output, the INFO it sends, and
 * its life cycle: reload (SIGHUP), log reopen (SIGUSR1), lame duck
 * (SIGUSR2) and graceful shutdown (SIGTERM, SIGINT).
 */
#include "config.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "corobusd.h"
#include "log.h"

#define SHUTDOWN_FLUSH_MS	2000	/* to get queued output out */
#define SHUTDOWN_JOIN_MS	5000	/* for readers to end */
#define LISTEN_BACKLOG		511

/* ---- randomness ---- */

uint32_t
server_random(struct server *srv)
{
	/* xorshift64*: queue member picks need speed, not secrecy */
	uint64_t x = srv->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	srv->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static void
make_server_id(char *id, size_t size)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char rnd[64];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t x = (uint64_t)coro_now() ^ (uint64_t)getpid() << 32;

		for (i = 0; i < sizeof(rnd); i++, x = x * 6364136223846793005ULL + 1)
			rnd[i] = (unsigned char)(x >> 56);
	}
	/* nats-server ids are 56 characters starting with N */
	id[0] = 'N';
	for (i = 1; i < size - 1 && i < 56; i++)
		id[i] = b32[rnd[i] & 31];
	id[i] = '\0';
}

/* ---- output ---- */

static void
server_flush_cb(void *arg)
{
	struct server *srv = arg;
	struct client *c;

	srv->flush_queued = false;
	while ((c = TAILQ_FIRST(&srv->dirty)) != NULL) {
		TAILQ_REMOVE(&srv->dirty, c, dirty_link);
		c->dirty = false;
		if (!c->closing)
			client_flush(c);
	}
}

void
server_mark_dirty(struct server *srv, struct client *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	TAILQ_INSERT_TAIL(&srv->dirty, c, dirty_link);
	if (!srv->flush_queued &&
	    coro_call_soon(srv->loop, server_flush_cb, srv) == 0)
		srv->flush_queued = true;
}

/* ---- INFO ---- */

char *
server_info_json(struct server *srv, struct client *c, bool ldm)
{
	json_t *o;
	char *s;

	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:b, s:I}",
	    "server_id", srv->server_id,
	    "server_name", srv->server_name,
	    "version", COROBUSD_NATS_VERSION,
	    "proto", 1,
	    "go", "corobusd " PACKAGE_VERSION,
	    "host", srv->host,
	    "port", srv->port,
	    "headers", 1,
	    "max_payload", (json_int_t)srv->conf->limits.max_payload);
	if (o == NULL)
		return NULL;
	if (c != NULL) {
		json_object_set_new(o, "client_id",
		    json_integer((json_int_t)c->cid));
		if (c->ip[0] != '\0')
			json_object_set_new(o, "client_ip", json_string(c->ip));
	}
	if (c != NULL && auth_client_must_connect(c))
		json_object_set_new(o, "auth_required", json_true());
	if (c != NULL && c->listener != NULL && c->listener->tls_ctx != NULL) {
		json_object_set_new(o, "tls_required", json_true());
		if (c->listener->cl->tls.verify == CONF_TLS_VERIFY_REQUIRED)
			json_object_set_new(o, "tls_verify", json_true());
	}
	if (ldm)
		json_object_set_new(o, "ldm", json_true());
	route_info_urls(srv, o, ldm);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* ---- listeners ---- */

void
server_peer_name(const struct sockaddr_storage *ss, socklen_t len,
    const char *local, char *addr, size_t addrsize, char *ip, size_t ipsize)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	ip[0] = '\0';
	if (len == 0 || ss->ss_family == AF_UNIX) {
		snprintf(addr, addrsize, "%s", local);
		return;
	}
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)ipsize);
		snprintf(addr, addrsize, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)ipsize);
		/* an IPv4 client of a dual-stack socket */
		if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
		snprintf(addr, addrsize, strchr(ip, ':') ? "[%s]:%u" : "%s:%u",
		    ip, ntohs(sin6->sin6_port));
	}
}

static int
accept_loop(void *arg)
{
	struct listener *L = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	coro_stream *s;
	char addr[sizeof(((struct client *)0)->addr)], ip[64];
	int err;

	for (;;) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		err = coro_accept(L->l, &s, &ss, &len, CORO_NEVER);
		if (err == -ECANCELED || err == -EBADF)
			break;
		if (err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
		    err == -ENOMEM) {
			log_warnx("listener %s: accept: %s (raise LimitNOFILE "
			    "or max_connections)", L->name, strerror(-err));
			if (coro_sleep(100) != 0)
				break;
			continue;
		}
		if (err != 0) {
			log_warnx("listener %s: accept: %s", L->name,
			    strerror(-err));
			continue;
		}
		server_peer_name(&ss, len, L->name, addr, sizeof(addr), ip,
		    sizeof(ip));
		client_start(L->srv, L, s, addr, ip);
	}
	return 0;
}

int
server_listen(struct server *srv)
{
	size_t i;
	int err, fd;

	srv->listeners = calloc(srv->conf->nlisteners, sizeof(*srv->listeners));
	if (srv->listeners == NULL)
		return -ENOMEM;
	for (i = 0; i < srv->conf->nlisteners; i++) {
		struct conf_listener *cl = &srv->conf->listeners[i];
		struct listener *L = &srv->listeners[i];

		L->cl = cl;
		L->srv = srv;
		if (cl->proto == CONF_PROTO_DATAGRAM) {
			if ((err = dgram_listen(srv, L)) != 0) {
				log_error("listener %s:%s (datagram): %s",
				    cl->host, cl->port, strerror(-err));
				return err;
			}
			srv->nlisteners++;
			log_info("listening on %s (datagram)", L->name);
			continue;
		}
		/* a socket systemd passed us, else our own */
		fd = sdnotify_listen_take(cl->host, cl->port, cl->unix_path,
		    SOCK_STREAM);
		if (fd >= 0 && (err = coro_listener_from_fd(srv->loop, fd,
		    &L->l)) != 0)
			close(fd);
		if (cl->unix_path != NULL) {
			snprintf(L->name, sizeof(L->name), "unix:%s",
			    cl->unix_path);
			if (fd < 0)
				err = coro_unix_listen(srv->loop,
				    cl->unix_path, cl->mode, LISTEN_BACKLOG,
				    &L->l);
		} else {
			if (fd < 0)
				err = coro_tcp_listen(srv->loop, cl->host,
				    cl->port, LISTEN_BACKLOG, &L->l);
			if (err == 0)
				snprintf(L->name, sizeof(L->name),
				    strchr(cl->host ? cl->host : "", ':') ?
				    "[%s]:%d" : "%s:%d",
				    cl->host ? cl->host : "0.0.0.0",
				    coro_listener_port(L->l));
		}
		if (err != 0) {
			log_error("listener %s%s%s: %s",
			    cl->unix_path ? cl->unix_path :
			    (cl->host ? cl->host : ""),
			    cl->unix_path ? "" : ":",
			    cl->unix_path ? "" : cl->port, strerror(-err));
			return err;
		}
		srv->nlisteners++;
		if (srv->port == 0 && cl->unix_path == NULL) {
			snprintf(srv->host, sizeof(srv->host), "%s",
			    cl->host != NULL && cl->host[0] != '\0' ?
			    cl->host : "0.0.0.0");
			srv->port = coro_listener_port(L->l);
		}
		L->task = coro_spawn(srv->loop, accept_loop, L,
		    &(coro_spawn_opts){ .name = "accept",
		    .stack_size = 32 * 1024 });
		if (L->task == NULL)
			return -ENOMEM;
		if (tls_listener_init(L) != 0)
			return -EINVAL;
		log_info("listening on %s (nats)", L->name);
		if (L->tls_ctx != NULL)
			log_info("listener %s: tls%s, client certificates %s%s",
			    L->name, cl->tls.first ? " first" : "",
			    cl->tls.verify == CONF_TLS_VERIFY_REQUIRED ?
			    "required" : cl->tls.verify ==
			    CONF_TLS_VERIFY_OPTIONAL ? "optional" : "not asked",
			    cl->tls.map ? ", mapped to users" : "");
	}
	return 0;
}

static void
listeners_close(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->nlisteners; i++) {
		struct listener *L = &srv->listeners[i];

		if (L->task != NULL) {
			coro_cancel(L->task);
			coro_task_unref(L->task);
			L->task = NULL;
		}
		if (L->l != NULL) {
			coro_listener_close(L->l);
			L->l = NULL;
		}
		if (L->u != NULL) {
			coro_udp_close(L->u);
			L->u = NULL;
		}
	}
}

/* ---- life cycle ---- */

static enum log_target
log_target_of(enum conf_log_target t)
{
	switch (t) {
	case CONF_LOG_FILE:
		return LOG_TARGET_FILE;
	case CONF_LOG_SYSLOG:
		return LOG_TARGET_SYSLOG;
	case CONF_LOG_JOURNAL:
		return LOG_TARGET_JOURNAL;
	default:
		return LOG_TARGET_STDERR;
	}
}

int
server_apply_log(struct server *srv, const struct conf *conf)
{
	enum log_target target = log_target_of(conf->log.target);
	enum log_level level = (enum log_level)conf->log.level;

	/* -v and -q outrank the file, at start and on every reload */
	if (srv->verbose >= 2)
		level = LOG_LEVEL_TRACE;
	else if (srv->verbose == 1 && level < LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	if (srv->quiet)
		level = LOG_LEVEL_ERROR;
	/* in the background stderr is /dev/null */
	if (srv->daemonized && target == LOG_TARGET_STDERR)
		target = LOG_TARGET_SYSLOG;
	return log_init(target, level, conf->log.file);
}

int
server_override_port(struct conf *conf, const char *port,
    struct conf_error *err)
{
	char key[64];
	size_t i;

	for (i = 0; i < conf->nlisteners; i++) {
		if (conf->listeners[i].proto != CONF_PROTO_NATS ||
		    conf->listeners[i].unix_path != NULL)
			continue;
		snprintf(key, sizeof(key), "listeners[%zu].port", i);
		return conf_apply_override_err(conf, key, port, err) == 0 ?
		    0 : -1;
	}
	snprintf(err->text, sizeof(err->text),
	    "the configuration has no NATS TCP listener");
	return -1;
}

void
server_reload(struct server *srv)
{
	struct conf_error cerr;
	struct conf *n;
	struct client *c;
	struct auth *nauth = NULL;
	char aerr[512];
	char **keys = NULL;
	size_t nkeys = 0, i;

	sdnotify_reloading();
	if (srv->conf_path == NULL) {
		log_notice("reload: no configuration file, nothing to do");
		sdnotify_ready(srv);
		return;
	}
	if (conf_load(srv->conf_path, &n, &cerr) != 0 ||
	    (srv->port_override != NULL &&
	    server_override_port(n, srv->port_override, &cerr) != 0)) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", cerr.text);
		sdnotify_reload_failed(cerr.text);
		return;
	}
	if (auth_load(n, &nauth, aerr, sizeof(aerr)) != 0) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", aerr);
		sdnotify_reload_failed(aerr);
		conf_free(n);
		return;
	}
	if (conf_diff_restart(srv->conf, n, &keys, &nkeys) == 0) {
		for (i = 0; i < nkeys; i++)
			log_warnx("reload: needs restart: %s", keys[i]);
		conf_keys_free(keys, nkeys);
	}
	if (conf_keep_restart(n, srv->conf) != 0) {
		log_error("reload failed: out of memory");
		sdnotify_reload_failed("out of memory");
		auth_free(nauth);
		conf_free(n);
		return;
	}
	for (i = 0; i < srv->nlisteners; i++)
		srv->listeners[i].cl = &n->listeners[i];
	conf_free(srv->conf);
	srv->conf = n;
	if (server_apply_log(srv, n) != 0)
		log_warn("log: cannot open %s, keeping the old log", n->log.file);
	TAILQ_FOREACH(c, &srv->clients, link)
		client_reload(c);
	tls_reload(srv);
	auth_reload(srv, nauth);
	monitor_reload(srv);
	route_reload(srv);
	log_info("reload: applied %s, %zu change%s need%s a restart",
	    srv->conf_path, nkeys, nkeys == 1 ? "" : "s",
	    nkeys == 1 ? "s" : "");
	sdnotify_ready(srv);
}

static int
shutdown_task(void *arg)
{
	struct server *srv = arg;
	struct client *c;
	int64_t deadline = coro_deadline_in(SHUTDOWN_FLUSH_MS);
	bool pending;

	listeners_close(srv);
	route_stop(srv);
	/* what was accepted goes out to connected subscribers first */
	do {
		pending = false;
		TAILQ_FOREACH(c, &srv->clients, link) {
			client_flush(c);
			if (buf_len(&c->out) > 0 && !c->closing)
				pending = true;
		}
	} while (pending && coro_sleep(10) == 0 && coro_now() < deadline);
	TAILQ_FOREACH(c, &srv->clients, link)
		client_close(c, "server shutdown", 0);
	coro_group_join(srv->clients_group,
	    coro_deadline_in(SHUTDOWN_JOIN_MS));
	coro_loop_stop(srv->loop);
	return 0;
}

void
server_shutdown(struct server *srv)
{
	coro_task *t;

	if (srv->stopping)
		return;
	srv->stopping = true;
	log_notice("shutting down");
	sdnotify_stopping("shutting down");
	if ((t = coro_spawn(srv->loop, shutdown_task, srv,
	    &(coro_spawn_opts){ .name = "shutdown" })) == NULL) {
		coro_loop_stop(srv->loop);
		return;
	}
	coro_task_unref(t);
}

/* Lame duck: no new clients; tell the current ones to go elsewhere, wait
 * the grace period, then close them spread over the rest of the
 * lame-duck duration, and stop. */
static int
lame_duck_task(void *arg)
{
	struct server *srv = arg;
	const struct conf *conf = srv->conf;
	int64_t spread = conf->lame_duck_duration - conf->lame_duck_grace_period;
	int64_t step;
	struct client *c;
	size_t n, batch, i;

	listeners_close(srv);
	route_lame_duck(srv);
	TAILQ_FOREACH(c, &srv->clients, link)
		if (c->protocol >= 1 && !c->closing)
			client_send_info(c, true);
	if (coro_sleep(conf->lame_duck_grace_period) != 0)
		return 0;
	/* spread the closes over the rest, at most a second apart, in
	 * batches when there are more clients than milliseconds */
	n = srv->nclients;
	batch = 1;
	step = n > 0 ? spread / (int64_t)n : 0;
	if (step > 1000)
		step = 1000;
	if (n > 0 && step < 1) {
		step = 1;
		batch = n / (size_t)(spread > 0 ? spread : 1) + 1;
	}
	for (;;) {
		i = 0;
		TAILQ_FOREACH(c, &srv->clients, link) {
			if (c->closing)
				continue;
			client_close(c, "lame duck", 0);
			if (++i == batch)
				break;
		}
		if (i == 0 || coro_sleep(step) != 0)
			break;
	}
	srv->lame_duck = false;
	server_shutdown(srv);
	return 0;
}

void
server_lame_duck(struct server *srv)
{
	coro_task *t;

	if (srv->lame_duck || srv->stopping)
		return;
	srv->lame_duck = true;
	sdnotify_stopping("lame duck mode");
	log_notice("entering lame duck mode: %lld ms grace, %lld ms in all",
	    (long long)srv->conf->lame_duck_grace_period,
	    (long long)srv->conf->lame_duck_duration);
	if ((t = coro_spawn(srv->loop, lame_duck_task, srv,
	    &(coro_spawn_opts){ .name = "lame-duck" })) == NULL) {
		server_shutdown(srv);
		return;
	}
	coro_task_unref(t);
}

static void
on_signal(int signo, void *arg)
{
	struct server *srv = arg;

	switch (signo) {
	case SIGHUP:
		server_reload(srv);
		break;
	case SIGUSR1:
		if (log_reopen() != 0)
			log_warn("log: reopen");
		else
			log_info("log file reopened");
		break;
	case SIGUSR2:
		server_lame_duck(srv);
		break;
	case SIGTERM:
	case SIGINT:
		if (srv->lame_duck)
			break;	/* nats-server ignores them in lame duck */
		if (srv->stopping) {
			log_notice("second signal: stopping now");
			coro_loop_stop(srv->loop);
			break;
		}
		server_shutdown(srv);
		break;
	}
}

int
server_init(struct server *srv, struct conf *conf, const char *conf_path)
{
	static const int sigs[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT };
	char host[256];
	char aerr[512];
	size_t i;

	/* the caller zeroed srv and set the command-line fields */
	srv->conf = conf;
	srv->conf_path = conf_path;
	srv->start = coro_now();
	TAILQ_INIT(&srv->clients);
	TAILQ_INIT(&srv->dirty);
	make_server_id(srv->server_id, sizeof(srv->server_id));
	if (getrandom(&srv->rng, sizeof(srv->rng), 0) != sizeof(srv->rng) ||
	    srv->rng == 0)
		srv->rng = (uint64_t)coro_now() * 2654435761ULL + 1;
	if (conf->server_name != NULL && conf->server_name[0] != '\0')
		srv->server_name = strdup(conf->server_name);
	else if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		/* cluster nodes need names of their own, also when several
		 * run on one host: the route port tells them apart */
		if (conf->cluster.port != NULL &&
		    asprintf(&srv->server_name, "%s:%s", host,
		    conf->cluster.port) == -1)
			srv->server_name = NULL;
		else if (conf->cluster.port == NULL)
			srv->server_name = strdup(host);
	} else
		srv->server_name = strdup(srv->server_id);
	if (srv->server_name == NULL)
		return -ENOMEM;
	if (auth_load(conf, &srv->auth, aerr, sizeof(aerr)) != 0) {
		log_error("%s", aerr);
		return -EINVAL;
	}
	if ((srv->loop = coro_loop_new()) == NULL)
		return -errno;
	if ((srv->sublist = sublist_new()) == NULL ||
	    (srv->clients_group = coro_group_new(srv->loop)) == NULL)
		return -ENOMEM;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (coro_loop_add_signal(srv->loop, sigs[i], on_signal, srv) != 0)
			return -EINVAL;
	return 0;
}

int
server_run(struct server *srv)
{
	log_notice("corobusd %s ready: server_id=%s name=%s", PACKAGE_VERSION,
	    srv->server_id, srv->server_name);
	coro_loop_run(srv->loop);
	return srv->exit_code;
}

void
server_fini(struct server *srv)
{
	size_t i;

	monitor_stop(srv);
	sdnotify_fini();
	listeners_close(srv);
	dgram_fini(srv);
	if (srv->loop != NULL) {
		/* ends every remaining task, the readers freeing their
		 * clients (and routes) on the way */
		route_stop(srv);
		coro_group_free(srv->clients_group);
		route_fini(srv);
		coro_loop_free(srv->loop);
	}
	pubsub_bury(srv);
	for (i = 0; i < srv->nlisteners; i++)
		tls_listener_fini(&srv->listeners[i]);
	auth_free(srv->auth);
	srv->auth = NULL;
	sublist_free(srv->sublist);
	free(srv->listeners);
	free(srv->server_name);
	conf_free(srv->conf);
}
