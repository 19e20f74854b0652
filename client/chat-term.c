/*
 * chat-term.c: the terminal side of "corobus chat".
 *
 * On a terminal, libedit edits the input line (emacs keys, history,
 * Tab completion) through its readline-compatible callback interface:
 * a task waits for standard input with coro_wait_fd() and feeds
 * rl_callback_read_char() while bytes are there.  Lines from others are
 * printed above the input line: clear the rows the prompt and the input
 * occupy, print, then rl_forced_update_display() redraws what was being
 * typed.  A line just entered is wiped too, so the transcript only holds
 * formatted lines.  libedit never suspends, so nothing prints while it
 * is half-way through a key.
 *
 * Without a terminal, standard input is read line by line and every
 * line goes to standard output as it is, with no prompt.
 *
 * It also writes what peers send so that it cannot drive the terminal:
 * C0 controls as ^X, C1 controls, bidi overrides and invalid UTF-8 as
 * '?'; and picks one colour per nick from the 256-colour palette.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <editline/readline.h>

#include "chat.h"
#include "coro.h"

#define TERM_LINE_MAX	(64 * 1024)	/* longer input lines are split */
#define TERM_HISTORY	1000		/* lines kept in the history file */
#define TERM_STACK	(256 * 1024)	/* libedit and terminfo need room */

static struct {
	bool		 edit, color;
	bool		 active;	/* the handler is installed */
	bool		 eof;		/* CHAT_EV_EOF was sent */
	bool		 fresh_line;	/* a line was returned */
	coro_queue	*q;
	coro_task	*task;		/* reads the input */
	coro_task	*out;		/* prints (edit mode) */
	coro_queue	*outq;		/* struct out_item * for it */
	char		*prompt;
	char		*history;
	const char	*(*complete)(size_t);
	bool		 winch;		/* SIGWINCH handler registered */
} term;

/* 256-colour indices that read well on dark and light backgrounds. */
static const unsigned char nick_colors[] = {
	31, 32, 33, 34, 35, 36, 38, 40, 64, 70, 92, 99, 105, 125, 129,
	130, 134, 136, 160, 162, 166, 168, 172, 178, 202, 208
};

struct chat_ev *
chat_ev_new(enum chat_ev_type type, const char *text)
{
	struct chat_ev *ev;
	size_t len = text != NULL ? strlen(text) : 0;

	if ((ev = malloc(sizeof(*ev) + len + 1)) == NULL)
		return NULL;
	ev->type = type;
	memcpy(ev->text, text != NULL ? text : "", len);
	ev->text[len] = '\0';
	return ev;
}

static void
put_ev(enum chat_ev_type type, const char *text)
{
	struct chat_ev *ev;

	if (type == CHAT_EV_EOF) {
		if (term.eof)
			return;
		term.eof = true;
	}
	if ((ev = chat_ev_new(type, text)) != NULL &&
	    coro_queue_try_put(term.q, ev) != 0)
		free(ev);
}

/* ---- text ---- */

/* The length of the UTF-8 sequence at s (n bytes left), or 0 when it
 * is not one; *cp gets the code point. */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

void
chat_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s), len;
	uint32_t cp;

	while (n > 0) {
		if ((len = utf8_seq(p, n, &cp)) == 0) {
			*p = '?';
			len = 1;
		}
		p += len;
		n -= len;
	}
}

void
chat_put_text(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	uint32_t cp;

	while (n > 0) {
		if ((len = utf8_seq(p, n, &cp)) == 0) {
			fputc('?', f);
			len = 1;
		} else if (cp == '\t')
			fputc(' ', f);
		else if (cp < 0x20 || cp == 0x7f) {
			fputc('^', f);
			fputc((int)(cp ^ 0x40), f);
		} else if ((cp >= 0x80 && cp <= 0x9f) ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			fputc('?', f);
		else
			fwrite(p, 1, len, f);
		p += len;
		n -= len;
	}
}

void
chat_put_nick(FILE *f, const char *nick)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	if (!term.color) {
		chat_put_text(f, nick, strlen(nick));
		return;
	}
	for (p = (const unsigned char *)nick; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	fprintf(f, "\033[38;5;%um", nick_colors[h % sizeof(nick_colors)]);
	chat_put_text(f, nick, strlen(nick));
	fputs("\033[0m", f);
}

void
chat_put_notice(FILE *f)
{
	fputs(term.color ? "\033[36m-!-\033[0m " : "-!- ", f);
}

bool
chat_term_color(void)
{
	return term.color;
}

/* Columns that the first n bytes of s take on the screen. */
static int
width(const char *s, size_t n)
{
	mbstate_t st;
	wchar_t wc;
	size_t len;
	int w = 0, cw;

	memset(&st, 0, sizeof(st));
	while (n > 0 && *s != '\0') {
		len = mbrtowc(&wc, s, n, &st);
		if (len == (size_t)-1 || len == (size_t)-2 || len == 0) {
			memset(&st, 0, sizeof(st));
			len = 1;
			cw = 1;
		} else if ((cw = wcwidth(wc)) < 0)
			cw = 1;
		w += cw;
		s += len;
		n -= len;
	}
	return w;
}

static int
columns(void)
{
	int rows = 0, cols = 0;

	rl_get_screen_size(&rows, &cols);
	return cols > 0 ? cols : 80;
}

/* ---- output ---- */

/* Puts the cursor at the start of the prompt's row and clears from
 * there to the end of the screen. */
static void
clear_input(void)
{
	size_t point = 0;
	int row;

	if (rl_line_buffer != NULL && rl_point > 0)
		point = strnlen(rl_line_buffer, (size_t)rl_point);
	row = (width(term.prompt, SIZE_MAX) +
	    width(rl_line_buffer != NULL ? rl_line_buffer : "", point)) /
	    columns();
	fputc('\r', stdout);
	if (row > 0)
		printf("\033[%dA", row);
	fputs("\033[J", stdout);
}

/* Prints now: above the input line when it is shown. */
static void
print_now(const char *line)
{
	if (term.active)
		clear_input();
	fputs(line, stdout);
	fputc('\n', stdout);
	if (term.active)
		rl_forced_update_display();
	fflush(stdout);
}

static void
prompt_now(char *prompt)
{
	if (term.active)
		clear_input();
	free(term.prompt);
	term.prompt = prompt;
	if (term.active) {
		rl_set_prompt(term.prompt);
		rl_forced_update_display();
		fflush(stdout);
	}
}

/*
 * In edit mode, output goes through a queue to a task of its own, with
 * a stack big enough for libedit's redisplay: lines come from session
 * callbacks and timers, whose stacks are small.
 */
struct out_item {
	bool	 prompt;
	char	 text[];
};

static void
enqueue(bool prompt, const char *text)
{
	struct out_item *it;
	size_t len = strlen(text);

	if ((it = malloc(sizeof(*it) + len + 1)) == NULL)
		return;
	it->prompt = prompt;
	memcpy(it->text, text, len + 1);
	if (coro_queue_try_put(term.outq, it) != 0)
		free(it);
}

static void
output(struct out_item *it)
{
	char *p;

	if (!it->prompt)
		print_now(it->text);
	else if ((p = strdup(it->text)) != NULL)
		prompt_now(p);
	free(it);
}

static int
output_main(void *arg)
{
	struct out_item *it;

	(void)arg;
	while (coro_queue_get(term.outq, (void **)&it, CORO_NEVER) == 0)
		output(it);
	return 0;
}

void
chat_term_print(const char *line)
{
	if (term.outq != NULL)
		enqueue(false, line);
	else
		print_now(line);
}

void
chat_term_prompt(const char *prompt)
{
	char *p;

	if (term.outq != NULL)
		enqueue(true, prompt);
	else if ((p = strdup(prompt)) != NULL)
		prompt_now(p);
}

FILE *
chat_line_begin(struct chat_line *l)
{
	char ts[16];
	time_t now = time(NULL);
	struct tm tm;

	l->buf = NULL;
	l->len = 0;
	if ((l->f = open_memstream(&l->buf, &l->len)) == NULL)
		return NULL;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%H:%M", &tm) == 0)
		strcpy(ts, "--:--");
	fprintf(l->f, term.color ? "\033[2m%s\033[0m " : "%s ", ts);
	return l->f;
}

void
chat_line_end(struct chat_line *l)
{
	if (l->f == NULL)
		return;
	if (fclose(l->f) == 0 && l->buf != NULL)
		chat_term_print(l->buf);
	free(l->buf);
	l->f = NULL;
	l->buf = NULL;
}

/* ---- libedit ---- */

/* Called by libedit with a whole line (ours to free), or NULL at
 * Ctrl-D on an empty line.  The terminal shows the prompt and the line,
 * then a new row: wipe them, the main task prints the result. */
static void
on_line(char *line)
{
	int rows;

	if (line == NULL) {
		put_ev(CHAT_EV_EOF, NULL);
		term.fresh_line = true;		/* no "^D" left shown */
		return;
	}
	rows = (width(term.prompt, SIZE_MAX) + width(line, SIZE_MAX)) /
	    columns() + 1;
	printf("\033[%dA\r\033[J", rows);
	fflush(stdout);
	/* like HISTCONTROL=ignorespace: a leading space keeps it out */
	if (line[0] != '\0' && line[0] != ' ')
		add_history(line);
	put_ev(CHAT_EV_LINE, line);
	free(line);
	term.fresh_line = true;
}

static char *
complete_word(const char *text, int state)
{
	static size_t i;
	size_t len = strlen(text);
	const char *w;

	if (state == 0)
		i = 0;
	if (term.complete == NULL)
		return NULL;
	while ((w = term.complete(i++)) != NULL)
		if (strncmp(w, text, len) == 0)
			return strdup(w);
	return NULL;
}

static void
on_winch(int signo, void *arg)
{
	(void)signo;
	(void)arg;
	if (term.active)
		rl_resize_terminal();
}

static int
edit_main(void *arg)
{
	int n, rc = 0;

	(void)arg;
	/* here, not on the caller's stack: reading terminfo takes room */
	rl_catch_signals = 0;	/* signals stay the loop's */
	rl_readline_name = "corobus";
	rl_instream = stdin;
	rl_outstream = stdout;
	rl_completion_entry_function = complete_word;
	using_history();
	stifle_history(TERM_HISTORY);
	if (term.history != NULL)
		(void)read_history(term.history);
	rl_callback_handler_install(term.prompt, on_line);
	term.active = true;
	fflush(stdout);
	for (;;) {
		if ((rc = coro_wait_fd(STDIN_FILENO, CORO_READ,
		    CORO_NEVER)) < 0)
			break;
		/* readable with nothing to read: the terminal hung up */
		if (ioctl(STDIN_FILENO, FIONREAD, &n) == -1 || n == 0)
			break;
		do {
			rl_callback_read_char();
			if (term.fresh_line) {
				/* this libedit keeps the line it returned
				 * until the next key: start a clean one */
				term.fresh_line = false;
				rl_callback_handler_remove();
				rl_callback_handler_install(term.prompt,
				    on_line);
				rl_point = rl_end = 0;
				fflush(stdout);
			}
		} while (term.active && !term.eof &&
		    ioctl(STDIN_FILENO, FIONREAD, &n) == 0 && n > 0);
	}
	if (rc != -ECANCELED)
		put_ev(CHAT_EV_EOF, NULL);
	return 0;
}

/* ---- plain lines ---- */

/* A line read without a terminal: CR LF ends it as well as LF. */
static void
put_line(char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	put_ev(CHAT_EV_LINE, line);
}

static int
lines_main(void *arg)
{
	static char buf[4096];
	char *line;
	size_t len = 0, i;
	ssize_t got;
	int rc;

	(void)arg;
	if ((line = malloc(TERM_LINE_MAX + 1)) == NULL) {
		put_ev(CHAT_EV_EOF, NULL);
		return -ENOMEM;
	}
	for (;;) {
		rc = coro_wait_fd(STDIN_FILENO, CORO_READ, CORO_NEVER);
		if (rc == -ECANCELED)
			break;
		/* a regular file cannot be polled: it never blocks */
		if (rc < 0 && coro_yield() == -ECANCELED)
			break;
		if ((got = read(STDIN_FILENO, buf, sizeof(buf))) == -1 &&
		    (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0) {
			if (len > 0)
				put_line(line, len);
			put_ev(CHAT_EV_EOF, NULL);
			break;
		}
		for (i = 0; i < (size_t)got; i++) {
			if (buf[i] != '\n') {
				line[len++] = buf[i];
				if (len < TERM_LINE_MAX)
					continue;
			}
			put_line(line, len);
			len = 0;
		}
	}
	free(line);
	return 0;
}

/* ---- start, stop ---- */

int
chat_term_start(const struct chat_term_opts *o)
{
	coro_spawn_opts so = { "chat-input", TERM_STACK };
	coro_loop *loop = coro_loop_current();

	memset(&term, 0, sizeof(term));
	term.edit = o->edit;
	term.color = o->color;
	term.q = o->q;
	term.complete = o->complete;
	if ((term.prompt = strdup(o->prompt != NULL ? o->prompt : "> ")) ==
	    NULL)
		return -ENOMEM;
	if (o->edit) {
		if (o->history != NULL &&
		    (term.history = strdup(o->history)) == NULL)
			return -ENOMEM;
		if (coro_loop_add_signal(loop, SIGWINCH, on_winch,
		    NULL) == 0)
			term.winch = true;
	}
	if (o->edit) {
		so.name = "chat-output";
		if ((term.outq = coro_queue_new(loop, 0)) == NULL ||
		    (term.out = coro_spawn(loop, output_main, NULL,
		    &so)) == NULL) {
			chat_term_stop();
			return -ENOMEM;
		}
		so.name = "chat-input";
	}
	term.task = coro_spawn(loop, o->edit ? edit_main : lines_main,
	    NULL, &so);
	if (term.task == NULL) {
		chat_term_stop();
		return -ENOMEM;
	}
	return 0;
}

/* mkdir -p for the history file's directory (not the file itself). */
static void
make_parent(const char *path)
{
	char *dir, *p;

	if ((dir = strdup(path)) == NULL)
		return;
	if ((p = strrchr(dir, '/')) != NULL && p != dir) {
		*p = '\0';
		for (p = dir + 1; *p != '\0'; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			(void)mkdir(dir, 0700);
			*p = '/';
		}
		(void)mkdir(dir, 0700);
	}
	free(dir);
}

void
chat_term_stop(void)
{
	struct out_item *it;
	int rc;

	/* what is queued is printed first (all of it, unless cancelled) */
	if (term.out != NULL) {
		coro_queue_close(term.outq);
		coro_shield_begin();
		(void)coro_join(term.out, NULL, coro_deadline_in(2000));
		coro_shield_end();
		coro_cancel(term.out);
		coro_task_unref(term.out);
		term.out = NULL;
	}
	if (term.task != NULL) {
		coro_cancel(term.task);
		coro_shield_begin();
		(void)coro_join(term.task, NULL, coro_deadline_in(2000));
		coro_shield_end();
		coro_task_unref(term.task);
		term.task = NULL;
	}
	if (term.active) {
		clear_input();
		rl_callback_handler_remove();
		term.active = false;
		fflush(stdout);
		if (term.history != NULL) {
			make_parent(term.history);
			if ((rc = write_history(term.history)) != 0)
				fprintf(stderr, "corobus: %s: %s\n",
				    term.history, strerror(rc));
		}
	}
	if (term.outq != NULL) {
		while (coro_queue_try_get(term.outq, (void **)&it) == 0)
			output(it);
		coro_queue_free(term.outq);
		term.outq = NULL;
	}
	free(term.prompt);
	free(term.history);
	term.prompt = term.history = NULL;
}
