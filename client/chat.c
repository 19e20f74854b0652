/*
 * chat.c: the rooms of "corobus chat" and its protocol, on plain NATS
 * subjects so that it works against nats-server too and any NATS client
 * can join in (corobus(1) documents it):
 *
 *	chat.room.ROOM		room lines: small JSON objects
 *				{"nick","text","ts","kind"}, kind one of
 *				msg, me, join, part, nick
 *	chat.presence.ROOM	/who: a request; every member answers with
 *				its nick (answers collected for 300 ms)
 *	chat.user.NICK		private messages to NICK; a "probe" there
 *				asks whether the nick is taken
 *
 * The connection says echo:false, so nobody gets their own lines back:
 * each client prints what it sends itself.  Private messages and
 * probes carry a reply subject under an inbox of ours, so the server's
 * no-responders status tells "no such nick" without anyone answering.
 * Lines from the server are printed from the session's callbacks, which
 * never suspend; a payload that is not such an object is shown as
 * plain text from "?".
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chat.h"
#include "client.h"
#include "session.h"

#define CHAT_PROBE_MS	500	/* how long a nick probe waits */

/* A /who collecting answers until its timer fires. */
struct who {
	struct chat	*chat;
	unsigned	 id;
	char		 room[CHAT_NAME_MAX + 1];
	char		**nicks;
	size_t		 n, cap;
	coro_timer	*timer;
	bool		 done;		/* printed; freed by the main task */
	struct who	*next;
};

/* ---- names ---- */

/* A nick or room name: 1 to 32 of A-Z a-z 0-9 _ -, one subject token. */
bool
chat_valid_name(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
		    s[n] == '-'))
			return false;
	return n > 0 && n <= CHAT_NAME_MAX;
}

/* A room as typed ("#dev" or "dev") into out: 0, or -1 if invalid. */
int
chat_room_name(const char *arg, char out[CHAT_NAME_MAX + 1])
{
	if (*arg == '#')
		arg++;
	if (!chat_valid_name(arg))
		return -1;
	strcpy(out, arg);
	return 0;
}

static void
remember_nick(struct chat *c, const char *nick)
{
	size_t i;

	if (!chat_valid_name(nick))
		return;
	for (i = 0; i < c->nknown; i++)
		if (c->known[i] != NULL && strcmp(c->known[i], nick) == 0)
			return;
	if (c->nknown < CHAT_KNOWN) {
		if ((c->known[c->nknown] = strdup(nick)) != NULL)
			c->nknown++;
		return;
	}
	free(c->known[c->knext]);
	c->known[c->knext] = strdup(nick);
	c->knext = (c->knext + 1) % CHAT_KNOWN;
}

/* ---- output ---- */

/* "HH:MM -!- text"; neutralised too, as it may quote the server. */
void
chat_notice(struct chat *c, const char *fmt, ...)
{
	struct chat_line l;
	va_list ap;
	char *text;
	int n;
	FILE *f;

	(void)c;
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((f = chat_line_begin(&l)) != NULL) {
		chat_put_notice(f);
		chat_put_text(f, text, (size_t)n);
		chat_line_end(&l);
	}
	free(text);
}

void
chat_set_prompt(struct chat *c)
{
	char p[2 * CHAT_NAME_MAX + 32];

	snprintf(p, sizeof(p), "[%s%s] %s%s> ", c->nrooms > 0 ? "#" : "",
	    c->nrooms > 0 ? c->rooms[c->active]->name : "", c->nick,
	    c->online ? "" : " (offline)");
	chat_term_prompt(p);
}

/* The tag of a room line when it is not the active room's. */
static void
room_tag(struct chat *c, FILE *f, const struct room *r)
{
	if (c->nrooms > 1 && c->rooms[c->active] != r)
		fprintf(f, "#%s ", r->name);
}

/* A line of a room, ours or a peer's. */
void
chat_show(struct chat *c, const struct room *r, const char *kind,
    const char *nick, const char *text)
{
	static const char *const kinds[] = {
		"msg", "me", "join", "part", "nick", NULL
	};
	struct chat_line l;
	size_t i;
	FILE *f;

	/* kinds this version does not know are left out */
	for (i = 0; kinds[i] != NULL && strcmp(kind, kinds[i]) != 0; i++)
		;
	if (kinds[i] == NULL || (f = chat_line_begin(&l)) == NULL)
		return;
	if (strcmp(kind, "msg") == 0) {
		room_tag(c, f, r);
		fputc('<', f);
		chat_put_nick(f, nick);
		fputs("> ", f);
		chat_put_text(f, text, strlen(text));
	} else if (strcmp(kind, "me") == 0) {
		room_tag(c, f, r);
		fputs("* ", f);
		chat_put_nick(f, nick);
		fputc(' ', f);
		chat_put_text(f, text, strlen(text));
	} else if (strcmp(kind, "join") == 0) {
		chat_put_notice(f);
		chat_put_nick(f, nick);
		fprintf(f, " has joined #%s", r->name);
	} else if (strcmp(kind, "part") == 0) {
		chat_put_notice(f);
		chat_put_nick(f, nick);
		fprintf(f, " has left #%s", r->name);
		if (*text != '\0') {
			fputs(" (", f);
			chat_put_text(f, text, strlen(text));
			fputc(')', f);
		}
	} else if (strcmp(kind, "nick") == 0) {
		chat_put_notice(f);
		chat_put_nick(f, nick);
		fputs(" is now known as ", f);
		chat_put_nick(f, text);
	}
	chat_line_end(&l);
}

/* ---- the wire ---- */

/*
 * Publishes {"nick","text","ts","kind"} (text omitted when NULL) on
 * subject.  0 or a negative errno, said on the screen.  May suspend.
 */
int
chat_send(struct chat *c, const char *subject, const char *reply,
    const char *kind, const char *text)
{
	json_t *o;
	char *p;
	int rc;

	if ((o = json_object()) == NULL)
		return -ENOMEM;
	json_object_set_new(o, "nick", json_string(c->nick));
	if (text != NULL)
		json_object_set_new(o, "text", json_string(text));
	json_object_set_new(o, "ts", json_integer((json_int_t)time(NULL)));
	json_object_set_new(o, "kind", json_string(kind));
	p = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (p == NULL)
		return -ENOMEM;
	rc = session_publish(c->s, subject, reply, NULL, 0, p, strlen(p));
	free(p);
	if (rc == -EMSGSIZE)
		chat_notice(c, "not sent: longer than the server allows (%zu "
		    "bytes)", session_max_payload(c->s));
	else if (rc == -ENOBUFS)
		chat_notice(c, "not sent: too much is waiting for the server");
	else if (rc != 0 && rc != -ECANCELED)
		chat_notice(c, "not sent: %s", strerror(-rc));
	return rc;
}

int
chat_send_room(struct chat *c, const struct room *r, const char *kind,
    const char *text)
{
	char subject[64];

	snprintf(subject, sizeof(subject), "chat.room.%s", r->name);
	return chat_send(c, subject, NULL, kind, text);
}

/*
 * A message of ours or of any NATS client: a JSON object with at least
 * "nick", or else plain text from "?".  Fills the pointers (borrowed
 * from *root, or from m) and returns the root to decref (may be NULL).
 */
static json_t *
decode(const struct session_msg *m, const char **kind, const char **nick,
    const char **text, size_t *textlen)
{
	json_t *root, *v;

	*kind = "msg";
	*nick = "?";
	*text = m->data;
	*textlen = m->len;
	root = json_loadb(m->data, m->len, 0, NULL);
	if (root == NULL || !json_is_object(root) ||
	    !json_is_string(json_object_get(root, "nick"))) {
		json_decref(root);
		return NULL;
	}
	*nick = json_string_value(json_object_get(root, "nick"));
	if (json_is_string(v = json_object_get(root, "kind")))
		*kind = json_string_value(v);
	if (json_is_string(v = json_object_get(root, "text"))) {
		*text = json_string_value(v);
		*textlen = json_string_length(v);
	} else {
		*text = "";
		*textlen = 0;
	}
	return root;
}

/* A peer's nick, cut to what is shown (buf is CHAT_PEER_NICK + 1). */
static const char *
peer_nick(const char *nick, char *buf)
{
	snprintf(buf, CHAT_PEER_NICK + 1, "%s", nick);
	return buf;
}

/* A peer's text as a string: NULs inside become spaces. */
static char *
peer_text(const char *text, size_t len)
{
	char *p;
	size_t i;

	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		p[i] = text[i] == '\0' ? ' ' : text[i];
	p[len] = '\0';
	return p;
}

/* chat.room.ROOM: runs on the session's reader task. */
static void
on_room(const struct session_msg *m, void *arg)
{
	struct room *r = arg;
	struct chat *c = r->chat;
	const char *kind, *nick, *text;
	char nbuf[CHAT_PEER_NICK + 1], key[sizeof(c->last_rename)];
	char *t;
	size_t len;
	json_t *root;
	time_t now = time(NULL);

	root = decode(m, &kind, &nick, &text, &len);
	nick = peer_nick(nick, nbuf);
	if ((t = peer_text(text, len)) == NULL) {
		json_decref(root);
		return;
	}
	remember_nick(c, nick);
	if (strcmp(kind, "nick") == 0) {
		/* announced in each room we share: say it once */
		snprintf(key, sizeof(key), "%s %s", nick, t);
		if (strcmp(key, c->last_rename) == 0 &&
		    now - c->last_rename_at < 10)
			goto out;
		snprintf(c->last_rename, sizeof(c->last_rename), "%s", key);
		c->last_rename_at = now;
		remember_nick(c, t);
	}
	chat_show(c, r, kind, nick, t);
 out:
	free(t);
	json_decref(root);
}

/* chat.presence.ROOM: answer a /who with our nick. */
static void
on_presence(const struct session_msg *m, void *arg)
{
	struct room *r = arg;
	struct chat *c = r->chat;

	if (m->reply != NULL)
		(void)session_publish(c->s, m->reply, NULL, NULL, 0, c->nick,
		    strlen(c->nick));
}

/* chat.user.NICK: private messages, and probes for our nick. */
static void
on_user(const struct session_msg *m, void *arg)
{
	struct chat *c = arg;
	struct chat_line l;
	const char *kind, *nick, *text;
	char nbuf[CHAT_PEER_NICK + 1], *t;
	size_t len;
	json_t *root;
	FILE *f;

	root = decode(m, &kind, &nick, &text, &len);
	if (strcmp(kind, "probe") == 0) {
		if (m->reply != NULL)
			(void)session_publish(c->s, m->reply, NULL, NULL, 0,
			    c->nick, strlen(c->nick));
		json_decref(root);
		return;
	}
	nick = peer_nick(nick, nbuf);
	remember_nick(c, nick);
	if ((t = peer_text(text, len)) != NULL &&
	    (f = chat_line_begin(&l)) != NULL) {
		if (strcmp(kind, "me") == 0) {
			fputs("* ", f);
			chat_put_nick(f, nick);
			fputc(' ', f);
		} else {
			fputc('*', f);
			chat_put_nick(f, nick);
			fputs("* ", f);
		}
		chat_put_text(f, t, strlen(t));
		chat_line_end(&l);
	}
	free(t);
	json_decref(root);
}

static struct who *
who_find(struct chat *c, unsigned id)
{
	struct who *w;

	for (w = c->whos; w != NULL; w = w->next)
		if (w->id == id)
			return w;
	return NULL;
}

static void
who_add(struct who *w, const char *nick)
{
	char **nn;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->nicks[i], nick) == 0)
			return;
	if (w->n == w->cap) {
		if ((nn = reallocarray(w->nicks, w->cap + 16,
		    sizeof(*nn))) == NULL)
			return;
		w->nicks = nn;
		w->cap += 16;
	}
	if ((w->nicks[w->n] = strdup(nick)) != NULL)
		w->n++;
}

/* The inbox: answers to /who ("w<id>"), and the no-responders status
 * of private messages ("m<id>"). */
static void
on_inbox(const struct session_msg *m, void *arg)
{
	struct chat *c = arg;
	const char *tok;
	char nick[CHAT_PEER_NICK + 1], *end;
	unsigned long id;
	struct who *w;
	json_t *root;
	size_t i, len;

	if (strlen(m->subject) <= strlen(c->inbox) + 1)
		return;
	tok = m->subject + strlen(c->inbox) + 1;
	id = strtoul(tok + 1, &end, 10);
	if (*end != '\0')
		return;
	if (tok[0] == 'm' && m->status == 503) {
		for (i = 0; i < CHAT_PMS; i++)
			if (c->pms[i].id == id && c->pms[i].nick[0] != '\0') {
				chat_notice(c, "no such nick: %s",
				    c->pms[i].nick);
				c->pms[i].nick[0] = '\0';
			}
		return;
	}
	if (tok[0] != 'w' || m->status != 0 ||
	    (w = who_find(c, (unsigned)id)) == NULL || w->done)
		return;
	/* a nick, or {"nick": ...} */
	root = json_loadb(m->data, m->len, 0, NULL);
	if (json_is_object(root) &&
	    json_is_string(json_object_get(root, "nick")))
		snprintf(nick, sizeof(nick), "%s",
		    json_string_value(json_object_get(root, "nick")));
	else {
		len = m->len < CHAT_PEER_NICK ? m->len : CHAT_PEER_NICK;
		for (i = 0; i < len; i++)
			nick[i] = m->data[i] == '\0' ? ' ' : m->data[i];
		while (len > 0 && (nick[len - 1] == '\n' ||
		    nick[len - 1] == '\r' || nick[len - 1] == ' '))
			len--;
		nick[len] = '\0';
	}
	json_decref(root);
	if (nick[0] != '\0') {
		who_add(w, nick);
		remember_nick(c, nick);
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct room *
chat_room_find(struct chat *c, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < c->nrooms; i++)
		if (strcmp(c->rooms[i]->name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return c->rooms[i];
		}
	return NULL;
}

/* The timer of a /who: print who answered.  Runs on the loop. */
static void
who_done(void *arg)
{
	struct who *w = arg;
	struct chat *c = w->chat;
	struct chat_line l;
	size_t i;
	FILE *f;

	if (chat_room_find(c, w->room, NULL) != NULL)
		who_add(w, c->nick);
	qsort(w->nicks, w->n, sizeof(*w->nicks), cmp_str);
	w->done = true;
	if ((f = chat_line_begin(&l)) == NULL)
		return;
	chat_put_notice(f);
	fprintf(f, "#%s:", w->room);
	for (i = 0; i < w->n; i++) {
		fputc(' ', f);
		chat_put_nick(f, w->nicks[i]);
	}
	if (w->n == 0)
		fputs(" nobody", f);
	else
		fprintf(f, " (%zu user%s)", w->n, w->n == 1 ? "" : "s");
	chat_line_end(&l);
}

static void
who_free(struct who *w)
{
	size_t i;

	coro_timer_free(w->timer);
	for (i = 0; i < w->n; i++)
		free(w->nicks[i]);
	free(w->nicks);
	free(w);
}

/* Frees the /who that have printed (all of them when all). */
void
chat_who_gc(struct chat *c, bool all)
{
	struct who **pw, *w;

	for (pw = &c->whos; (w = *pw) != NULL; ) {
		if (w->done || all) {
			*pw = w->next;
			who_free(w);
		} else
			pw = &w->next;
	}
}

bool
chat_who_pending(struct chat *c)
{
	struct who *w;

	for (w = c->whos; w != NULL; w = w->next)
		if (!w->done)
			return true;
	return false;
}

/* Asks chat.presence.ROOM who is there.  May suspend. */
void
chat_who(struct chat *c, const char *room)
{
	char subject[64], reply[80];
	struct who *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	w->chat = c;
	w->id = ++c->seq;
	snprintf(w->room, sizeof(w->room), "%s", room);
	if ((w->timer = coro_timer_new(coro_loop_current(), who_done,
	    w)) == NULL) {
		free(w);
		return;
	}
	w->next = c->whos;
	c->whos = w;
	snprintf(subject, sizeof(subject), "chat.presence.%s", room);
	snprintf(reply, sizeof(reply), "%s.w%u", c->inbox, w->id);
	if (session_publish(c->s, subject, reply, NULL, 0, c->nick,
	    strlen(c->nick)) != 0) {
		w->done = true;
		return;
	}
	coro_timer_start(w->timer, CHAT_WHO_MS);
}

/*
 * Whether someone uses nick: a probe on chat.user.NICK gets an answer
 * (taken) or the no-responders status (free); silence counts as free.
 * May suspend.
 */
bool
chat_nick_taken(struct chat *c, const char *nick)
{
	char subject[64], body[96];
	struct session_msg *m = NULL;
	int rc;

	snprintf(subject, sizeof(subject), "chat.user.%s", nick);
	snprintf(body, sizeof(body), "{\"nick\":\"%s\",\"kind\":\"probe\"}",
	    c->nick[0] != '\0' ? c->nick : nick);
	rc = session_request(c->s, subject, NULL, 0, body, strlen(body),
	    coro_deadline_in(CHAT_PROBE_MS), &m);
	session_msg_free(m);
	return rc == 0;
}

/* Subscribes to chat.user.NICK. */
struct session_sub *
chat_user_sub(struct chat *c, const char *nick)
{
	char subject[64];

	snprintf(subject, sizeof(subject), "chat.user.%s", nick);
	return session_subscribe(c->s, subject, NULL, on_user, c, NULL);
}

int
chat_inbox_sub(struct chat *c)
{
	char subject[64];

	session_new_inbox(c->inbox, sizeof(c->inbox));
	snprintf(subject, sizeof(subject), "%s.*", c->inbox);
	return session_subscribe(c->s, subject, NULL, on_inbox, c,
	    NULL) != NULL ? 0 : -1;
}

/* ---- rooms ---- */

/* Joins name and makes it active (or only makes it active).  May
 * suspend. */
void
chat_join(struct chat *c, const char *name)
{
	char subject[64];
	struct room *r;
	size_t i;

	if ((r = chat_room_find(c, name, &i)) != NULL) {
		c->active = i;
		chat_set_prompt(c);
		return;
	}
	if (c->nrooms == CHAT_MAX_ROOMS) {
		chat_notice(c, "too many rooms (%d): /part one first",
		    CHAT_MAX_ROOMS);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	r->chat = c;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(subject, sizeof(subject), "chat.room.%s", name);
	r->lines = session_subscribe(c->s, subject, NULL, on_room, r, NULL);
	snprintf(subject, sizeof(subject), "chat.presence.%s", name);
	r->presence = session_subscribe(c->s, subject, NULL, on_presence, r,
	    NULL);
	if (r->lines == NULL || r->presence == NULL) {
		chat_notice(c, "cannot join #%s: %s", name,
		    session_error(c->s));
		session_unsubscribe(r->lines);
		session_unsubscribe(r->presence);
		free(r);
		return;
	}
	c->rooms[c->nrooms] = r;
	c->active = c->nrooms++;
	/* the server has the subscriptions before anyone hears of us */
	if (c->online)
		(void)session_flush(c->s, coro_deadline_in(CLI_TIMEOUT_MS));
	(void)chat_send_room(c, r, "join", NULL);
	chat_show(c, r, "join", c->nick, "");
	chat_set_prompt(c);
	chat_who(c, name);
}

/* Leaves the room at i.  May suspend. */
void
chat_part(struct chat *c, size_t i, const char *reason)
{
	struct room *r = c->rooms[i];

	(void)chat_send_room(c, r, "part", reason);
	chat_show(c, r, "part", c->nick, reason != NULL ? reason : "");
	session_unsubscribe(r->lines);
	session_unsubscribe(r->presence);
	free(r);
	memmove(&c->rooms[i], &c->rooms[i + 1],
	    (c->nrooms - i - 1) * sizeof(c->rooms[0]));
	c->nrooms--;
	if (c->active > i || (c->active == i && c->active > 0 &&
	    c->active == c->nrooms))
		c->active--;
	if (c->nrooms == 0)
		c->active = 0;
	chat_set_prompt(c);
}

/* ---- session events (on a session task: must not suspend) ---- */

void
chat_on_event(struct session *s, enum session_event ev, const char *detail,
    void *arg)
{
	struct chat *c = arg;
	struct chat_ev *e = NULL;

	(void)s;
	if (c->closing)
		return;
	switch (ev) {
	case SESSION_DISCONNECTED:
		c->online = false;
		chat_notice(c, "disconnected, reconnecting...");
		chat_set_prompt(c);
		break;
	case SESSION_RECONNECTED:
		c->online = true;
		chat_notice(c, "reconnected to %s", detail);
		chat_set_prompt(c);
		e = chat_ev_new(CHAT_EV_RECONNECTED, NULL);
		break;
	case SESSION_SERVER_ERROR:
		chat_notice(c, "server: %s", detail);
		break;
	case SESSION_CLOSED:
		c->online = false;
		e = chat_ev_new(CHAT_EV_CLOSED, detail);
		break;
	}
	if (e != NULL && coro_queue_try_put(c->q, e) != 0)
		free(e);
}
