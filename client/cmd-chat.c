/*
 * cmd-chat.c: "corobus chat": an interactive chat in rooms, over plain
 * NATS subjects (chat.c has the protocol).  This file is the command:
 * its options, the start (connect, pick a nick nobody uses, join the
 * rooms), the slash commands, and the main task, which takes lines from
 * the input task (chat-term.c) and session events off one queue, so
 * that whatever suspends (publishing, flushing, probing a nick) happens
 * here, one line at a time.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "chat.h"
#include "client.h"
#include "session.h"

#define CHAT_QUIT_MS	2000	/* to flush the part notices */

enum { OPT_COLOR = 256, OPT_HELP };

static const struct option chat_opts[] = {
	{ "nick", required_argument, NULL, 'n' },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

struct chat_cmd {
	const char	*name;
	const char	*alias;
	const char	*args;
	const char	*help;
	/* 1 to quit, else 0 */
	int		(*fn)(struct chat *, char *args);
};

static const struct chat_cmd	chat_cmds[];
static struct chat		*the_chat;	/* for Tab completion */

/* ---- names ---- */

/* The default nick: $USER with what is not allowed made '_'. */
static void
default_nick(char out[CHAT_NAME_MAX + 1])
{
	const char *u = getenv("USER");
	size_t n = 0;

	if (u == NULL)
		u = getenv("LOGNAME");
	for (; u != NULL && u[n] != '\0' && n < CHAT_NAME_MAX; n++) {
		out[n] = u[n];
		out[n + 1] = '\0';
		if (!chat_valid_name(out))
			out[n] = '_';
	}
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "guest");
}

/* Tab completion: the commands, then the nicks seen. */
static const char *
complete(size_t i)
{
	static char word[24];
	size_t ncmds;

	for (ncmds = 0; chat_cmds[ncmds].name != NULL; ncmds++)
		;
	if (i < ncmds) {
		snprintf(word, sizeof(word), "/%s", chat_cmds[i].name);
		return word;
	}
	i -= ncmds;
	if (the_chat == NULL || i >= the_chat->nknown)
		return NULL;
	return the_chat->known[i] != NULL ? the_chat->known[i] : "";
}

/* ---- commands ---- */

/* Splits the first word off s: returns it, *rest the remainder. */
static char *
word(char *s, char **rest)
{
	char *w;

	while (*s == ' ' || *s == '\t')
		s++;
	w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (rest != NULL)
		*rest = s;
	return w;
}

static int
cmd_join(struct chat *c, char *args)
{
	char name[CHAT_NAME_MAX + 1], *rest, *w = word(args, &rest);

	if (*w == '\0' || *rest != '\0') {
		chat_notice(c, "usage: /join ROOM");
		return 0;
	}
	if (chat_room_name(w, name) == -1) {
		chat_notice(c, "bad room name \"%s\": 1 to %d letters, "
		    "digits, _ or -", w, CHAT_NAME_MAX);
		return 0;
	}
	chat_join(c, name);
	return 0;
}

static int
cmd_part(struct chat *c, char *args)
{
	char name[CHAT_NAME_MAX + 1], first[CHAT_NAME_MAX + 2];
	const char *reason = args;
	size_t i = c->active, n;

	if (c->nrooms == 0) {
		chat_notice(c, "you are in no room");
		return 0;
	}
	/* "/part [ROOM] [REASON]": a first word naming a joined room */
	n = strcspn(args, " \t");
	if (n > 0 && n < sizeof(first)) {
		memcpy(first, args, n);
		first[n] = '\0';
		if (chat_room_name(first, name) == 0 &&
		    chat_room_find(c, name, &i) != NULL)
			reason += strspn(args + n, " \t") + n;
		else if (first[0] == '#') {
			chat_notice(c, "you are not in %s", first);
			return 0;
		}
	}
	chat_part(c, i, *reason != '\0' ? reason : NULL);
	return 0;
}

static int
cmd_window(struct chat *c, char *args)
{
	char name[CHAT_NAME_MAX + 1], line[CHAT_MAX_ROOMS * 40], *w, *end;
	unsigned long n;
	size_t i, len = 0;

	w = word(args, NULL);
	if (*w == '\0') {
		line[0] = '\0';
		for (i = 0; i < c->nrooms; i++)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    " %zu:#%s%s", i + 1, c->rooms[i]->name,
			    i == c->active ? "*" : "");
		chat_notice(c, "windows:%s", c->nrooms > 0 ? line : " none");
		return 0;
	}
	n = strtoul(w, &end, 10);
	if (*end == '\0' && n >= 1 && n <= c->nrooms)
		c->active = n - 1;
	else if (chat_room_name(w, name) == 0 &&
	    chat_room_find(c, name, &i) != NULL)
		c->active = i;
	else {
		chat_notice(c, "no window %s", w);
		return 0;
	}
	chat_set_prompt(c);
	return 0;
}

static int
cmd_nick(struct chat *c, char *args)
{
	char *rest, *w = word(args, &rest);
	struct session_sub *sub;
	size_t i;

	if (*w == '\0' || *rest != '\0') {
		chat_notice(c, "usage: /nick NAME");
		return 0;
	}
	if (!chat_valid_name(w)) {
		chat_notice(c, "bad nick \"%s\": 1 to %d letters, digits, "
		    "_ or -", w, CHAT_NAME_MAX);
		return 0;
	}
	if (strcmp(w, c->nick) == 0)
		return 0;
	if (chat_nick_taken(c, w)) {
		chat_notice(c, "nick %s is taken", w);
		return 0;
	}
	if ((sub = chat_user_sub(c, w)) == NULL) {
		chat_notice(c, "cannot take %s: %s", w, session_error(c->s));
		return 0;
	}
	session_unsubscribe(c->user);
	c->user = sub;
	/* announced under the old nick, with the new one as text */
	for (i = 0; i < c->nrooms; i++)
		(void)chat_send_room(c, c->rooms[i], "nick", w);
	snprintf(c->nick, sizeof(c->nick), "%s", w);
	chat_notice(c, "you are now known as %s", c->nick);
	chat_set_prompt(c);
	return 0;
}

static int
cmd_msg(struct chat *c, char *args)
{
	char subject[64], reply[80], *text, *to = word(args, &text);
	struct chat_line l;
	size_t slot;
	FILE *f;

	if (*to == '\0' || *text == '\0') {
		chat_notice(c, "usage: /msg NICK TEXT");
		return 0;
	}
	if (!chat_valid_name(to)) {
		chat_notice(c, "no such nick: %s", to);
		return 0;
	}
	snprintf(subject, sizeof(subject), "chat.user.%s", to);
	slot = c->pmnext++ % CHAT_PMS;
	c->pms[slot].id = ++c->seq;
	snprintf(c->pms[slot].nick, sizeof(c->pms[slot].nick), "%s", to);
	snprintf(reply, sizeof(reply), "%s.m%u", c->inbox, c->pms[slot].id);
	if (strcmp(to, c->nick) != 0 &&
	    chat_send(c, subject, reply, "msg", text) != 0)
		return 0;
	if ((f = chat_line_begin(&l)) == NULL)
		return 0;
	fputs("-> *", f);
	chat_put_nick(f, to);
	fputs("* ", f);
	chat_put_text(f, text, strlen(text));
	chat_line_end(&l);
	if (strcmp(to, c->nick) == 0 && (f = chat_line_begin(&l)) != NULL) {
		fputc('*', f);
		chat_put_nick(f, to);
		fputs("* ", f);
		chat_put_text(f, text, strlen(text));
		chat_line_end(&l);
	}
	return 0;
}

/* A line for the active room (a message, or /me). */
static int
say(struct chat *c, const char *kind, const char *text)
{
	struct room *r;

	if (c->nrooms == 0) {
		chat_notice(c, "you are in no room: /join ROOM");
		return 0;
	}
	r = c->rooms[c->active];
	if (chat_send_room(c, r, kind, text) == 0)
		chat_show(c, r, kind, c->nick, text);
	return 0;
}

static int
cmd_me(struct chat *c, char *args)
{
	if (*args == '\0') {
		chat_notice(c, "usage: /me ACTION");
		return 0;
	}
	return say(c, "me", args);
}

static int
cmd_who(struct chat *c, char *args)
{
	char name[CHAT_NAME_MAX + 1], *w = word(args, NULL);
	int64_t deadline;

	if (*w == '\0') {
		if (c->nrooms == 0) {
			chat_notice(c, "usage: /who ROOM");
			return 0;
		}
		snprintf(name, sizeof(name), "%s", c->rooms[c->active]->name);
	} else if (chat_room_name(w, name) == -1) {
		chat_notice(c, "bad room name \"%s\"", w);
		return 0;
	}
	chat_who(c, name);
	/* the answer before the next line: scripts read it in order */
	deadline = coro_deadline_in(CHAT_WHO_MS + 200);
	while (chat_who_pending(c) && coro_now() < deadline)
		if (coro_sleep(10) != 0)
			break;
	return 0;
}

static int
cmd_help(struct chat *c, char *args)
{
	const struct chat_cmd *cmd;
	char left[48];

	(void)args;
	chat_notice(c, "commands:");
	for (cmd = chat_cmds; cmd->name != NULL; cmd++) {
		snprintf(left, sizeof(left), "/%s%s%s", cmd->name,
		    *cmd->args != '\0' ? " " : "", cmd->args);
		chat_notice(c, "  %-22s %s%s%s%s", left, cmd->help,
		    cmd->alias != NULL ? " (/" : "",
		    cmd->alias != NULL ? cmd->alias : "",
		    cmd->alias != NULL ? ")" : "");
	}
	chat_notice(c, "  %-22s %s", "//text",
	    "send a line that starts with /");
	chat_notice(c, "other lines go to the active room");
	return 0;
}

static int
cmd_quit(struct chat *c, char *args)
{
	(void)c;
	(void)args;
	return 1;
}

static const struct chat_cmd chat_cmds[] = {
	{ "join", "j", "ROOM", "join ROOM, or switch to it", cmd_join },
	{ "part", "leave", "[ROOM] [REASON]", "leave ROOM (the active one)",
	    cmd_part },
	{ "window", "win", "[N|ROOM]", "switch rooms; list them",
	    cmd_window },
	{ "nick", NULL, "NAME", "change your nick", cmd_nick },
	{ "msg", "m", "NICK TEXT", "private message to NICK", cmd_msg },
	{ "me", NULL, "ACTION", "* nick ACTION", cmd_me },
	{ "who", "names", "[ROOM]", "who is in ROOM now", cmd_who },
	{ "help", NULL, "", "this list", cmd_help },
	{ "quit", "exit", "[REASON]", "leave every room and exit",
	    cmd_quit },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* A line typed: a command or a line for the room.  1 to quit.  May
 * suspend. */
static int
input(struct chat *c, char *line, char **quit_reason)
{
	const struct chat_cmd *cmd;
	char *name, *args;

	chat_utf8_fix(line);
	if (line[0] != '/' || line[1] == '/') {
		if (line[0] == '\0')
			return 0;
		return say(c, "msg", line[0] == '/' ? line + 1 : line);
	}
	name = word(line + 1, &args);
	for (cmd = chat_cmds; cmd->name != NULL; cmd++)
		if (strcasecmp(name, cmd->name) == 0 || (cmd->alias != NULL &&
		    strcasecmp(name, cmd->alias) == 0))
			break;
	if (cmd->name == NULL) {
		chat_notice(c, "unknown command /%s (/help lists them)", name);
		return 0;
	}
	if (cmd->fn(c, args) == 0)
		return 0;
	*quit_reason = *args != '\0' ? args : NULL;
	return 1;
}

/* ---- the command ---- */

/* $XDG_STATE_HOME/corobus/chat_history, ~/.local/state/... or NULL. */
static const char *
history_path(void)
{
	static char path[4096];
	const char *d;

	if ((d = getenv("XDG_STATE_HOME")) != NULL && *d == '/')
		snprintf(path, sizeof(path), "%s/corobus/chat_history", d);
	else if ((d = getenv("HOME")) != NULL && *d != '\0')
		snprintf(path, sizeof(path),
		    "%s/.local/state/corobus/chat_history", d);
	else
		return NULL;
	return path;
}

/* Takes a nick that nobody uses: nick, nick_, nick__, ...  May
 * suspend. */
static int
pick_nick(struct chat *c, const char *want)
{
	char try[CHAT_NAME_MAX + 1];
	size_t len;
	int i;

	snprintf(try, sizeof(try), "%s", want);
	for (i = 0; i < 5; i++) {
		if (!chat_nick_taken(c, try))
			break;
		if ((len = strlen(try)) < CHAT_NAME_MAX) {
			try[len] = '_';
			try[len + 1] = '\0';
		} else
			try[len - 1] = (char)('0' + i);
	}
	if (i == 5)
		return -1;
	snprintf(c->nick, sizeof(c->nick), "%s", try);
	if (strcmp(try, want) != 0)
		chat_notice(c, "nick %s is taken: you are %s", want, try);
	return 0;
}

/* /quit: part every room, send it all.  May suspend. */
static void
quit(struct chat *c, const char *reason)
{
	int64_t deadline = coro_deadline_in(CHAT_WHO_MS + 200);

	/* a script that ends with /who still gets the answer */
	while (chat_who_pending(c) && coro_now() < deadline)
		if (coro_sleep(20) != 0)
			return;
	while (c->nrooms > 0)
		chat_part(c, c->nrooms - 1, reason);
	if (c->online)
		(void)session_flush(c->s, coro_deadline_in(CHAT_QUIT_MS));
}

static int
chat_loop(struct chat *c)
{
	struct chat_ev *ev;
	char *reason = NULL;
	size_t i;
	int rc;

	for (;;) {
		chat_who_gc(c, false);
		if ((rc = coro_queue_get(c->q, (void **)&ev,
		    CORO_NEVER)) != 0)
			return EX_OK;	/* interrupted */
		switch (ev->type) {
		case CHAT_EV_LINE:
			if (input(c, ev->text, &reason)) {
				quit(c, reason);
				free(ev);
				return EX_OK;
			}
			break;
		case CHAT_EV_EOF:
			quit(c, NULL);
			free(ev);
			return EX_OK;
		case CHAT_EV_RECONNECTED:
			for (i = 0; i < c->nrooms; i++)
				if (chat_send_room(c, c->rooms[i], "join",
				    NULL) == 0)
					chat_show(c, c->rooms[i], "join",
					    c->nick, "");
			break;
		case CHAT_EV_CLOSED:
			chat_notice(c, "connection closed: %s", ev->text);
			free(ev);
			return session_exit_code(c->s) != EX_OK ?
			    session_exit_code(c->s) : EX_UNAVAILABLE;
		}
		free(ev);
	}
}

int
cmd_chat(int argc, char **argv)
{
	const char *nick = NULL, *nc;
	char rooms[CHAT_MAX_ROOMS][CHAT_NAME_MAX + 1];
	size_t nrooms = 0, i;
	enum cli_color color = cli.color;
	struct chat_term_opts to;
	struct session_opts so;
	struct chat c;
	struct chat_ev *ev;
	char want[CHAT_NAME_MAX + 1];
	bool edit, started = false;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":n:", chat_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (!chat_valid_name(optarg))
				return cli_usage_error("chat", "-n: bad nick "
				    "\"%s\" (1 to %d letters, digits, _ or -)",
				    optarg, CHAT_NAME_MAX);
			nick = optarg;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				color = CLI_COLOR_AUTO;
			else if (strcmp(optarg, "always") == 0)
				color = CLI_COLOR_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				color = CLI_COLOR_NEVER;
			else
				return cli_usage_error("chat", "--color: "
				    "\"%s\" is not auto, always or never",
				    optarg);
			break;
		case OPT_HELP:
			printf("usage: corobus chat %s\n",
			    cmd_find("chat")->usage);
			return EX_OK;
		case ':':
			return cli_usage_error("chat", "%s needs an argument",
			    argv[optind - 1]);
		default:
			return cli_usage_error("chat", "unknown option %s",
			    argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (chat_room_name(argv[optind], rooms[nrooms]) == -1)
			return cli_usage_error("chat", "bad room name \"%s\" "
			    "(1 to %d letters, digits, _ or -)",
			    argv[optind], CHAT_NAME_MAX);
		if (++nrooms == CHAT_MAX_ROOMS && optind + 1 < argc)
			return cli_usage_error("chat", "more than %d rooms",
			    CHAT_MAX_ROOMS);
	}
	if (nrooms == 0)
		strcpy(rooms[nrooms++], "lobby");

	(void)setlocale(LC_CTYPE, "");
	edit = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	nc = getenv("NO_COLOR");
	memset(&c, 0, sizeof(c));
	memset(&to, 0, sizeof(to));
	to.edit = edit;
	to.color = color == CLI_COLOR_ALWAYS || (color == CLI_COLOR_AUTO &&
	    isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0'));
	to.history = edit ? history_path() : NULL;
	to.complete = complete;

	if ((rc = cli_session_opts(&so, true)) != EX_OK)
		return rc;
	so.no_echo = true;
	so.on_event = chat_on_event;
	so.event_arg = &c;
	if ((c.q = coro_queue_new(coro_loop_current(), 0)) == NULL)
		return cli_fail(EX_OSERR, "out of memory");
	if ((c.s = session_new(&so)) == NULL ||
	    session_connect(c.s) != 0) {
		rc = session_fail(c.s);
		goto out;
	}
	c.online = true;
	the_chat = &c;
	if (chat_inbox_sub(&c) == -1) {
		rc = session_fail(c.s);
		goto out;
	}
	if (nick == NULL)
		default_nick(want);
	else
		snprintf(want, sizeof(want), "%s", nick);
	if (pick_nick(&c, want) == -1) {
		rc = cli_fail(EX_UNAVAILABLE, "the nick %s and the next ones "
		    "are taken: choose another with -n", want);
		goto out;
	}
	if ((c.user = chat_user_sub(&c, c.nick)) == NULL) {
		rc = session_fail(c.s);
		goto out;
	}
	to.q = c.q;
	if (chat_term_start(&to) != 0) {
		rc = cli_fail(EX_OSERR, "cannot start reading the input");
		goto out;
	}
	started = true;
	chat_notice(&c, "connected to %s as %s", session_url(c.s), c.nick);
	chat_set_prompt(&c);
	for (i = 0; i < nrooms; i++)
		chat_join(&c, rooms[i]);
	c.active = 0;
	chat_set_prompt(&c);
	rc = chat_loop(&c);
 out:
	if (started)
		chat_term_stop();
	c.closing = true;
	if (rc != EX_OK && started && c.s != NULL &&
	    session_exit_code(c.s) != EX_OK)
		cli_warnx("%s", session_error(c.s));
	chat_who_gc(&c, true);
	for (i = 0; i < c.nrooms; i++)
		free(c.rooms[i]);
	session_free(c.s);
	the_chat = NULL;
	for (i = 0; i < c.nknown; i++)
		free(c.known[i]);
	while (coro_queue_try_get(c.q, (void **)&ev) == 0)
		free(ev);
	coro_queue_free(c.q);
	return rc;
}
