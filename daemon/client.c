/*
 * client.c: one client connection, from accept to close.
 *
 * Its reader task sends INFO, then reads, parses (proto.c) and acts on
 * each operation in order; a publish is delivered to every subscriber
 * before the next operation is read, which keeps each publisher's order.
 * Output goes into c->out (capped at max_pending: past it the client is
 * a slow consumer and is cut off) and is sent once per loop iteration by
 * server_flush; when the socket is full, a writer task waits for it under
 * the write deadline.  A keepalive timer PINGs idle clients and closes
 * stale ones.  Closing removes the subscriptions at once and lets the
 * reader task end, flushing a last -ERR if there is one.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "corobusd.h"
#include "log.h"

#define CLIENT_CLOSE_FLUSH_MS	500	/* time to get a last -ERR out */
#define CLIENT_YIELD_BYTES	4096	/* a read this big: let others run */
#define CLIENT_OUT_KEEP		4096	/* an empty buffer shrinks to this
					   at the keepalive tick */
#define CLIENT_FIRST_PING_MS	2000	/* no PING before the first PONG,
					   unless the client is this slow */

static int client_main(void *);

/* ---- output ---- */

void
client_slow_consumer(struct client *c)
{
	if (c->closing)
		return;
	if (c->route != NULL) {
		client_close(c, "slow route (pending bytes)", 0);
		return;
	}
	if (c->connected)
		c->srv->stats.slow_consumers++;
	client_close(c, "slow consumer (pending bytes)", 0);
}

bool
client_appended(struct client *c, int err)
{
	if (err == 0) {
		server_mark_dirty(c->srv, c);
		return true;
	}
	client_slow_consumer(c);
	return false;
}

void
client_put_ok(struct client *c)
{
	client_appended(c, proto_put_ok(&c->out));
}

void
client_send_err(struct client *c, int code)
{
	if (proto_error_text(code) != NULL)
		client_appended(c, proto_put_error(&c->out, code));
	if (proto_error_closes(code))
		client_close(c, proto_error_text(code) != NULL ?
		    proto_error_text(code) : "protocol error", 0);
}

static int
client_encode_msg(struct client *c, const struct proto_msg *m)
{
	if (m->hdr.len > 0 && !c->headers)
		return proto_put_msg_nohdr(&c->out, m);
	return proto_put_msg(&c->out, m);
}

/* c->out is full: sends what the socket takes at once, as the flush at
 * the end of the batch would have (one big read can carry more than
 * max_pending for a subscriber that keeps up).  True if room was made. */
static bool
client_send_some(struct client *c)
{
	ssize_t n;

	if (c->writer != NULL || buf_len(&c->out) == 0)
		return false;
	n = coro_stream_send_nowait(c->s, buf_data(&c->out), buf_len(&c->out));
	if (n < 0) {
		client_close(c, "write error", 0);
		return false;
	}
	buf_consume(&c->out, (size_t)n);
	return n > 0;
}

bool
client_put_msg(struct client *c, const struct proto_msg *m)
{
	int err;

	if (c->closing)
		return false;
	if ((err = client_encode_msg(c, m)) == -ENOBUFS && client_send_some(c))
		err = client_encode_msg(c, m);
	return client_appended(c, err);
}

void
client_send_info(struct client *c, bool ldm)
{
	char *json = server_info_json(c->srv, c, ldm);

	if (json == NULL)
		return;
	client_appended(c, proto_put_info(&c->out, json, strlen(json)));
	free(json);
}

/*
 * The writer task: runs only while the socket cannot take c->out.  It
 * waits for room without holding a pointer into c->out, because the
 * deliveries made meanwhile append to it, and an append may compact or
 * reallocate it (sending from a stale pointer sent freed memory).
 */
static int
client_writer(void *arg)
{
	struct client *c = arg;
	ssize_t n = 0;

	/* each wait gets the whole write deadline, as each flush does in
	 * nats-server: a reader that keeps taking bytes is not cut off */
	while (buf_len(&c->out) > 0 && !c->closing) {
		n = coro_stream_send_nowait(c->s, buf_data(&c->out),
		    buf_len(&c->out));
		if (n == 0)
			n = coro_stream_wait_send(c->s, coro_deadline_in(
			    c->write_deadline));
		if (n <= 0) {
			if (n < 0)
				break;
			continue;
		}
		buf_consume(&c->out, (size_t)n);
	}
	if (n == -ETIMEDOUT) {
		if (c->connected && c->route == NULL)
			c->srv->stats.slow_consumers++;
		client_close(c, c->route != NULL ? "slow route (write deadline)" :
		    "slow consumer (write deadline)", 0);
	} else if (n < 0 && n != -ECANCELED)
		client_close(c, "write error", 0);
	coro_task_unref(c->writer);
	c->writer = NULL;
	return 0;
}

void
client_flush(struct client *c)
{
	ssize_t n;

	if (c->writer != NULL || buf_len(&c->out) == 0)
		return;
	n = coro_stream_send_nowait(c->s, buf_data(&c->out), buf_len(&c->out));
	if (n < 0) {
		client_close(c, "write error", 0);
		return;
	}
	buf_consume(&c->out, (size_t)n);
	if (buf_len(&c->out) == 0)
		return;
	c->writer = coro_spawn(c->srv->loop, client_writer, c,
	    &(coro_spawn_opts){ .name = "client-writer" });
	if (c->writer == NULL)
		client_close(c, "out of memory", 0);
}

/* ---- close ---- */

void
client_close(struct client *c, const char *reason, int err)
{
	if (c->closing)
		return;
	if (err != 0 && proto_error_text(err) != NULL)
		(void)proto_put_error(&c->out, err);
	c->closing = true;
	c->close_reason = reason;
	/* no more deliveries from here on */
	pubsub_client_gone(c);
	if (c->route != NULL)
		route_closed(c);
	if (c->ping_timer != NULL)
		coro_timer_stop(c->ping_timer);
	if (c->auth_timer != NULL)
		coro_timer_stop(c->auth_timer);
	if (c->reader != coro_current())
		coro_cancel(c->reader);
}

void
client_release(struct client *c)
{
	struct server *srv = c->srv;

	if (!c->closing)
		client_close(c, "closed", 0);
	if (c->writer != NULL) {
		coro_task *w = coro_task_ref(c->writer);

		coro_cancel(w);
		coro_shield_begin();
		coro_join(w, NULL, CORO_NEVER);
		coro_shield_end();
		coro_task_unref(w);
	}
	/* a last -ERR, if any, within a short deadline (not after write
	 * errors: the socket is gone then) */
	if (buf_len(&c->out) > 0 && strcmp(c->close_reason, "write error") != 0 &&
	    strncmp(c->close_reason, "slow ", 5) != 0) {
		coro_shield_begin();
		(void)coro_stream_send(c->s, buf_data(&c->out),
		    buf_len(&c->out), coro_deadline_in(CLIENT_CLOSE_FLUSH_MS));
		coro_shield_end();
	}
	if (c->dirty) {
		TAILQ_REMOVE(&srv->dirty, c, dirty_link);
		c->dirty = false;
	}
	if (c->route != NULL) {
		route_release(c);
		goto out;
	}
	TAILQ_REMOVE(&srv->clients, c, link);
	srv->nclients--;
	/* the server's totals keep what the closed connections counted */
	srv->stats.in_msgs += c->stats.in_msgs;
	srv->stats.out_msgs += c->stats.out_msgs;
	srv->stats.in_bytes += c->stats.in_bytes;
	srv->stats.out_bytes += c->stats.out_bytes;
	log_info("client: closed cid=%llu addr=%s%s%s%s reason=\"%s\" "
	    "in=%llu out=%llu", (unsigned long long)c->cid, c->addr,
	    c->user != NULL ? " user=\"" : "", c->user != NULL ? c->user : "",
	    c->user != NULL ? "\"" : "", c->close_reason,
	    (unsigned long long)c->stats.in_msgs,
	    (unsigned long long)c->stats.out_msgs);
 out:
	coro_timer_free(c->ping_timer);
	coro_timer_free(c->auth_timer);
	coro_stream_close(c->s);
	buf_release(&c->out);
	free(c->user);
	free(c->cert_user);
	free(c->pcache);
	perm_resps_free(&c->resps);
	free(c->name);
	free(c->lang);
	free(c->version);
	free(c);
}

/* ---- keepalive ---- */

static void
client_ping_tick(void *arg)
{
	struct client *c = arg;

	if (c->closing)
		return;
	/* An output buffer grown by a burst is kept while the traffic
	 * lasts (shrinking it after every flush made each burst pay for a
	 * fresh mapping and its page faults) and given back here. */
	if (buf_len(&c->out) == 0)
		buf_shrink(&c->out, CLIENT_OUT_KEEP);
	/* no PING before the handshake's first PONG (clients read that
	 * synchronously), unless the handshake takes too long */
	if (!c->pong_sent && coro_now() - c->start < CLIENT_FIRST_PING_MS)
		return;
	/* nats-server skips a client that showed activity recently */
	if (c->rtt_known && coro_now() - c->last_in < c->ping_interval)
		return;
	if (c->pings_out + 1 > c->ping_max) {
		client_close(c, "stale connection", PROTO_ESTALE);
		return;
	}
	c->pings_out++;
	client_appended(c, proto_put_ping(&c->out));
}

/* ---- authentication ---- */

static void
client_auth_tick(void *arg)
{
	struct client *c = arg;

	if (c->closing || c->connected)
		return;
	log_info("client: authentication timeout cid=%llu addr=%s",
	    (unsigned long long)c->cid, c->addr);
	client_close(c, "authentication timeout", PROTO_EAUTHTIMEOUT);
}

/* An operation before CONNECT while CONNECT is due: closes c. */
static bool
client_unauthorized(struct client *c)
{
	if (c->connected || c->auth_timer == NULL ||
	    !coro_timer_pending(c->auth_timer))
		return false;
	log_info("client: operation before CONNECT cid=%llu addr=%s",
	    (unsigned long long)c->cid, c->addr);
	client_close(c, "authorization violation", PROTO_EAUTH);
	return true;
}

/* ---- operations ---- */

static char *
json_strdup(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static bool
json_bool(json_t *o, const char *key, bool def)
{
	json_t *v = json_object_get(o, key);

	return v == NULL || json_is_null(v) ? def : json_is_true(v);
}

static int
op_connect(void *arg, const char *json, size_t len)
{
	struct client *c = arg;
	json_error_t jerr;
	json_t *o, *proto;
	int err = 0;

	if ((o = json_loadb(json, len, 0, &jerr)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		client_close(c, "invalid CONNECT", PROTO_EJSON);
		return PROTO_EJSON;
	}
	if (!c->connected && auth_connect(c, json_string_value(
	    json_object_get(o, "user")), json_string_value(json_object_get(o,
	    "pass")), json_string_value(json_object_get(o,
	    "auth_token"))) != 0) {
		json_decref(o);
		if (!c->closing)
			client_close(c, "authorization violation",
			    PROTO_EAUTH);
		return PROTO_ESTOP;
	}
	if (c->closing) {
		json_decref(o);
		return PROTO_ESTOP;
	}
	if (json_object_get(o, "account") != NULL ||
	    json_object_get(o, "new_account") != NULL) {
		err = PROTO_EAUTH;
		goto out;
	}
	proto = json_object_get(o, "protocol");
	c->protocol = json_is_integer(proto) ?
	    (int)json_integer_value(proto) : 0;
	if (proto != NULL && !json_is_integer(proto))
		c->protocol = -1;
	if (c->protocol != 0 && c->protocol != 1) {
		err = PROTO_EPROTOCOL;
		goto out;
	}
	c->verbose = json_bool(o, "verbose", true);
	c->pedantic = json_bool(o, "pedantic", true);
	c->echo = json_bool(o, "echo", true);
	c->headers = json_bool(o, "headers", false);
	c->no_responders = json_bool(o, "no_responders", false);
	if (c->no_responders && !c->headers) {
		err = PROTO_ENORESPONDERS;
		goto out;
	}
	free(c->name);
	free(c->lang);
	free(c->version);
	c->name = json_strdup(o, "name");
	c->lang = json_strdup(o, "lang");
	c->version = json_strdup(o, "version");
	if (!c->connected)
		log_debug("client: connect cid=%llu name=\"%s\" lang=%s "
		    "version=%s", (unsigned long long)c->cid,
		    c->name ? c->name : "", c->lang ? c->lang : "",
		    c->version ? c->version : "");
	c->connected = true;
	if (c->auth_timer != NULL)
		coro_timer_stop(c->auth_timer);
	if (c->verbose)
		client_put_ok(c);
 out:
	json_decref(o);
	if (err != 0) {
		client_send_err(c, err);
		return err;
	}
	return 0;
}

static int
op_pub(void *arg, const struct proto_msg *m)
{
	struct client *c = arg;

	if (client_unauthorized(c))
		return PROTO_ESTOP;
	if (m->op == PROTO_OP_HPUB && !c->headers) {
		/* nats-server closes without a word */
		client_close(c, "HPUB without headers", PROTO_ENOHEADERS);
		return PROTO_ENOHEADERS;
	}
	c->in_active = true;
	if (pubsub_pub(c, m) != 0) {
		client_close(c, "out of memory", 0);
		return PROTO_ESTOP;
	}
	return c->closing ? PROTO_ESTOP : 0;
}

static int
op_sub(void *arg, const struct proto_sub *s)
{
	struct client *c = arg;

	if (client_unauthorized(c))
		return PROTO_ESTOP;
	c->in_active = true;
	if (pubsub_sub(c, s) != 0) {
		client_close(c, "out of memory", 0);
		return PROTO_ESTOP;
	}
	return c->closing ? PROTO_ESTOP : 0;
}

static int
op_unsub(void *arg, const struct proto_sub *s)
{
	struct client *c = arg;

	if (client_unauthorized(c))
		return PROTO_ESTOP;
	c->in_active = true;
	pubsub_unsub(c, s);
	return c->closing ? PROTO_ESTOP : 0;
}

static int
op_ping(void *arg)
{
	struct client *c = arg;

	if (client_unauthorized(c))
		return PROTO_ESTOP;
	c->in_active = true;
	client_appended(c, proto_put_pong(&c->out));
	c->pong_sent = true;
	return c->closing ? PROTO_ESTOP : 0;
}

static int
op_pong(void *arg)
{
	struct client *c = arg;

	if (client_unauthorized(c))
		return PROTO_ESTOP;
	c->pings_out = 0;
	c->rtt_known = true;
	return 0;
}

static const struct proto_ops client_ops = {
	.connect = op_connect,
	.pub = op_pub,
	.sub = op_sub,
	.unsub = op_unsub,
	.ping = op_ping,
	.pong = op_pong,
};

/* ---- the reader task ---- */

void
client_limits(struct client *c)
{
	const struct conf_limits *lim = &c->srv->conf->limits;

	if (c->route != NULL) {
		route_limits(c);
		return;
	}
	c->parser.max_control_line = lim->max_control_line;
	c->parser.max_payload = lim->max_payload;
	c->out.max = lim->max_pending;
	c->write_deadline = lim->write_deadline;
	c->ping_interval = lim->ping_interval;
	c->ping_max = lim->ping_max;
}

int
client_send_now(struct client *c)
{
	ssize_t n;

	while (buf_len(&c->out) > 0) {
		n = coro_stream_send_nowait(c->s, buf_data(&c->out),
		    buf_len(&c->out));
		if (n == 0)
			n = coro_stream_wait_send(c->s, coro_deadline_in(
			    c->write_deadline));
		if (n < 0) {
			client_close(c, "write error", 0);
			return -1;
		}
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

static const char *
read_error(const struct client *c, ssize_t n)
{
	switch (n) {
	case 0:
		return c->route != NULL ? "closed by the peer" :
		    "client closed";
	case -ECONNRESET:
		return "connection reset";
	case -ECANCELED:
		return "closed by the server";
	default:
		return "read error";
	}
}

const char *
client_serve(struct client *c, const struct proto_ops *ops)
{
	struct evbuffer *in = coro_stream_input(c->s);
	ssize_t n, r;
	size_t len;

	while (!c->closing) {
		n = coro_stream_fill(c->s, CORO_NEVER);
		if (n <= 0)
			return read_error(c, n);
		len = evbuffer_get_length(in);
		if (len < proto_parser_need(&c->parser))
			continue;
		r = proto_parse(&c->parser,
		    (const char *)evbuffer_pullup(in, (ev_ssize_t)len), len,
		    ops, c);
		evbuffer_drain(in, proto_parser_consumed(&c->parser));
		/* one clock read per batch, not one per message */
		if (c->in_active) {
			c->last_in = coro_now();
			c->in_active = false;
		}
		if (r < 0 && !c->closing) {
			client_send_err(c, (int)r);
			if (!c->closing)
				client_close(c, "protocol error", 0);
		}
		/* a big read means more is coming: let the flush and the
		 * other connections run first */
		if (n >= CLIENT_YIELD_BYTES && coro_yield() != 0)
			break;
	}
	return NULL;
}

static int
client_main(void *arg)
{
	struct client *c = arg;
	struct server *srv = c->srv;
	const char *reason = NULL;

	auth_accept(c);
	if (c->listener != NULL && c->listener->tls_ctx != NULL &&
	    c->listener->cl->tls.first) {
		/* TLS-first: the handshake, then INFO, encrypted */
		if (tls_accept(c) != 0)
			goto out;
		tls_map_user(c);
	}
	client_send_info(c, false);
	if (srv->nclients > srv->conf->limits.max_connections) {
		/* INFO first, then the refusal, as nats-server does */
		client_close(c, "maximum connections exceeded", PROTO_EMAXCONN);
		goto out;
	}
	if (c->listener != NULL && c->listener->tls_ctx != NULL &&
	    coro_stream_ssl(c->s) == NULL) {
		/* INFO in plain text, then the client's ClientHello */
		if (client_send_now(c) != 0 || tls_accept(c) != 0)
			goto out;
		tls_map_user(c);
	}
	/* the auth timer starts after TLS (nats-server#432) */
	if (auth_client_must_connect(c)) {
		if ((c->auth_timer = coro_timer_new(srv->loop,
		    client_auth_tick, c)) == NULL ||
		    coro_timer_start(c->auth_timer, auth_timeout(srv)) != 0) {
			client_close(c, "out of memory", 0);
			goto out;
		}
	} else
		(void)auth_connect(c, NULL, NULL, NULL);
	if (c->ping_interval > 0)
		coro_timer_start_repeat(c->ping_timer, c->ping_interval);
	reason = client_serve(c, &client_ops);
 out:
	client_close(c, reason != NULL ? reason : "closed", 0);
	client_release(c);
	return 0;
}

struct client *
client_new(struct server *srv, struct listener *L, coro_stream *s,
    const char *addr, const char *ip, struct route *route)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->srv = srv;
	c->s = s;
	c->listener = L;
	c->route = route;
	c->cid = ++srv->next_cid;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	c->verbose = c->pedantic = c->echo = true;
	c->start = c->last_in = coro_now();
	proto_parser_init(&c->parser, route != NULL ? PROTO_ROUTE :
	    PROTO_SERVER);
	buf_init(&c->out, srv->conf->limits.max_pending);
	client_limits(c);
	if ((c->ping_timer = coro_timer_new(srv->loop, client_ping_tick,
	    c)) == NULL) {
		buf_release(&c->out);
		free(c);
		return NULL;
	}
	return c;
}

int
client_start(struct server *srv, struct listener *L, coro_stream *s,
    const char *addr, const char *ip)
{
	struct client *c;

	if ((c = client_new(srv, L, s, addr, ip, NULL)) == NULL) {
		coro_stream_close(s);
		return -ENOMEM;
	}
	c->reader = coro_group_spawn(srv->clients_group, client_main, c,
	    &(coro_spawn_opts){ .name = "client" });
	if (c->reader == NULL) {
		coro_timer_free(c->ping_timer);
		coro_stream_close(s);
		free(c);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&srv->clients, c, link);
	srv->nclients++;
	srv->stats.total_connections++;
	log_info("client: connected cid=%llu addr=%s",
	    (unsigned long long)c->cid, c->addr);
	return 0;
}

void
client_reload(struct client *c)
{
	client_limits(c);
}
