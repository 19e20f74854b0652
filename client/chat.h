/*
 * chat.h: what the three parts of "corobus chat" share.  cmd-chat.c
 * is the command: options, the main task, the slash commands.  chat.c
 * owns the rooms and the protocol on NATS subjects (corobus(1) documents
 * it).  chat-term.c owns the terminal: the libedit input line, lines
 * printed above it, history, colours, and neutralising what peers send.
 *
 * Everything runs on the one libcoro loop.  Functions that may suspend
 * say so and are called from the main task only; the others may run in
 * session callbacks and timers.
 */
#ifndef COROBUS_CHAT_H
#define COROBUS_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <time.h>

#include "coro.h"
#include "session.h"

#define CHAT_NAME_MAX	32	/* bytes of a nick or a room name */
#define CHAT_MAX_ROOMS	16
#define CHAT_WHO_MS	300	/* how long /who collects answers */
#define CHAT_PEER_NICK	64	/* longest nick of a peer shown */
#define CHAT_KNOWN	128	/* nicks remembered for Tab */
#define CHAT_PMS	8	/* private messages awaiting a 503 */

/* What the input side hands to the main task, through a coro_queue. */
enum chat_ev_type {
	CHAT_EV_LINE,		/* a line typed or read (text) */
	CHAT_EV_EOF,		/* end of input: Ctrl-D, or stdin closed */
	CHAT_EV_RECONNECTED,	/* the session is back: announce the rooms */
	CHAT_EV_CLOSED,		/* the session gave up */
};

struct chat_ev {
	enum chat_ev_type	 type;
	char			 text[];	/* NUL-terminated */
};

/* A new event (malloc'd; text may be NULL), or NULL when out of memory. */
struct chat_ev	*chat_ev_new(enum chat_ev_type, const char *text);

/* ---- the chat (chat.c) ---- */

struct chat;
struct who;

struct room {
	struct chat		*chat;
	char			 name[CHAT_NAME_MAX + 1];
	struct session_sub	*lines;		/* chat.room.NAME */
	struct session_sub	*presence;	/* chat.presence.NAME */
};

struct chat {
	struct session		*s;
	coro_queue		*q;		/* struct chat_ev * */
	char			 nick[CHAT_NAME_MAX + 1];
	struct room		*rooms[CHAT_MAX_ROOMS];
	size_t			 nrooms;
	size_t			 active;	/* < nrooms, if any */
	struct session_sub	*user;		/* chat.user.NICK */
	char			 inbox[48];	/* "_INBOX.<nuid>" */
	unsigned		 seq;		/* ids under the inbox */
	struct {
		unsigned	 id;
		char		 nick[CHAT_NAME_MAX + 1];
	}			 pms[CHAT_PMS];	/* "" when answered */
	size_t			 pmnext;
	struct who		*whos;
	bool			 online;
	bool			 closing;	/* ignore session events */
	char			 last_rename[2 * CHAT_PEER_NICK + 2];
	time_t			 last_rename_at;
	char			*known[CHAT_KNOWN];	/* nicks seen */
	size_t			 nknown, knext;
};

/* A nick or room name: 1 to 32 of A-Z a-z 0-9 _ -, one subject token. */
bool	 chat_valid_name(const char *);
/* A room as typed ("#dev" or "dev") into out: 0, or -1 if invalid. */
int	 chat_room_name(const char *arg, char out[CHAT_NAME_MAX + 1]);

/* "HH:MM -!- text" (our own words: nothing to neutralise). */
void	 chat_notice(struct chat *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "[#room] nick> ", with " (offline)" while disconnected. */
void	 chat_set_prompt(struct chat *);
/* A line of room r, ours or a peer's: kind msg, me, join, part, nick. */
void	 chat_show(struct chat *, const struct room *r, const char *kind,
	    const char *nick, const char *text);

/* Subscribes to the inbox (answers to /who, no-responders of private
 * messages).  0, or -1 with session_error() set. */
int	 chat_inbox_sub(struct chat *);
/* Subscribes to chat.user.NICK, or NULL with session_error() set. */
struct session_sub *chat_user_sub(struct chat *, const char *nick);
/*
 * Publishes {"nick","text","ts","kind"} (text left out when NULL) on
 * subject, or on room r's subject.  0, or a negative errno that was
 * said on the screen.  May suspend.
 */
int	 chat_send(struct chat *, const char *subject, const char *reply,
	    const char *kind, const char *text);
int	 chat_send_room(struct chat *, const struct room *r,
	    const char *kind, const char *text);
/* Whether someone uses nick: a probe on chat.user.NICK is answered
 * (taken) or gets the no-responders status (free); silence counts as
 * free.  May suspend. */
bool	 chat_nick_taken(struct chat *, const char *nick);

/* The joined room called name (and its index), or NULL. */
struct room *chat_room_find(struct chat *, const char *name, size_t *idx);
/* Joins name and makes it active, or only makes it active.  May
 * suspend. */
void	 chat_join(struct chat *, const char *name);
/* Leaves the room at index i, saying reason (may be NULL).  May
 * suspend. */
void	 chat_part(struct chat *, size_t i, const char *reason);

/* /who ROOM: asks chat.presence.ROOM and prints who answered within
 * CHAT_WHO_MS.  May suspend. */
void	 chat_who(struct chat *, const char *room);
/* Whether a /who is still collecting. */
bool	 chat_who_pending(struct chat *);
/* Frees the /who that have printed (all of them when all). */
void	 chat_who_gc(struct chat *, bool all);

/* The session's on_event: status lines, and CHAT_EV_RECONNECTED /
 * CHAT_EV_CLOSED for the main task.  Never suspends. */
void	 chat_on_event(struct session *, enum session_event,
	    const char *detail,
	    void *arg);

/* ---- the command (cmd-chat.c) ---- */

int	 cmd_chat(int, char **);

/* ---- the terminal (chat-term.c) ---- */

struct chat_term_opts {
	bool		 edit;		/* libedit on a terminal */
	bool		 color;		/* ANSI colours in what is printed */
	const char	*history;	/* history file (edit mode), or NULL */
	coro_queue	*q;		/* receives struct chat_ev * */
	/* Tab completion: the i-th word that may be completed ("/join",
	 * a nick), NULL after the last. */
	const char	*(*complete)(size_t i);
	const char	*prompt;
};

/*
 * Starts reading standard input on a task of the current loop: with
 * libedit when o->edit, else line by line.  Returns 0 or a negative
 * errno.  Lines go to o->q as CHAT_EV_LINE, then one CHAT_EV_EOF.
 */
int	 chat_term_start(const struct chat_term_opts *o);
/* Stops reading, restores the terminal and saves the history.  May
 * suspend (it waits for the input task to end). */
void	 chat_term_stop(void);
/* Replaces the prompt (edit mode), redrawing the input line. */
void	 chat_term_prompt(const char *prompt);
/* Prints one line (no newline in it) above the input line. */
void	 chat_term_print(const char *line);
bool	 chat_term_color(void);

/*
 * A line being built: chat_line_begin() opens f and writes the time
 * stamp ("HH:MM "); chat_line_end() prints the line and frees it.
 */
struct chat_line {
	FILE	*f;
	char	*buf;
	size_t	 len;
};
FILE	*chat_line_begin(struct chat_line *);
void	 chat_line_end(struct chat_line *);

/* Writes text from a peer, with control characters shown as ^X, C1
 * controls, bidi overrides and bytes that are not UTF-8 as '?'. */
void	 chat_put_text(FILE *, const char *s, size_t len);
/* Writes a peer's nick (neutralised), in its colour when colours are
 * on. */
void	 chat_put_nick(FILE *, const char *nick);
/* Writes "-!- " (coloured when colours are on). */
void	 chat_put_notice(FILE *);
/* Replaces, in place, the bytes of s that are not UTF-8 with '?'. */
void	 chat_utf8_fix(char *s);

#endif
