/*
 * test_chat.c: "corobus chat" ($COROBUS) against real corobusd daemons
 * on loopback, driven through pseudo-terminals (forkpty), as a person
 * would: a line typed in one client shows in the others with the
 * sender's nick, /who lists the members, /msg reaches only its target,
 * /nick, /me, /part and /join are announced, windows switch, what peers
 * send cannot drive the terminal, a daemon restart is survived (status
 * lines, rejoin, lines flow again).  Then the scripted mode (stdin and
 * stdout not terminals: plain lines, EOF is /quit), usage errors, nick
 * collisions, colours and the history file; and, when nats-server is
 * installed, the same chat through it.
 *
 * Every client runs in its own session with PR_SET_PDEATHSIG and is
 * killed by the test's teardown; every wait is bounded.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS		5000	/* for an expected line */
#define RUN_MS		10000	/* for a scripted run to end */
#define QUIET_MS	300	/* "nothing more arrives" */

/* A chat client: on a pty (fd is the master), or on pipes (scripted). */
struct chat {
	pid_t		 pid;
	int		 fd;		/* pty master, or its stdout pipe */
	int		 errfd;		/* stderr pipe (scripted), or -1 */
	char		*out, *err;	/* all it wrote, NUL-terminated */
	size_t		 outlen, errlen;
	size_t		 mark;		/* expect_new() looks after this */
	bool		 eof;
	bool		 done;
	int		 status;
	struct chat	*next;
};

static struct chat	*chats;
static struct h_daemon	*shared;
static char		 tmpdir[64];
static pid_t		 natsd = -1;

/* ---- helpers ---- */

/* Reads what the client wrote (waiting up to ms), reaps it at the end. */
static void
pump(struct chat *c, int ms)
{
	static char buf[4096];
	struct pollfd pfd[2];
	nfds_t n = 0, i;
	ssize_t got;

	if (!c->eof) {
		pfd[n].fd = c->fd;
		pfd[n++].events = POLLIN;
	}
	if (c->errfd != -1) {
		pfd[n].fd = c->errfd;
		pfd[n++].events = POLLIN;
	}
	if (n > 0 && poll(pfd, n, ms) > 0) {
		for (i = 0; i < n; i++) {
			if ((pfd[i].revents &
			    (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got > 0 && pfd[i].fd == c->fd)
				h_append(&c->out, &c->outlen, buf, (size_t)got);
			else if (got > 0)
				h_append(&c->err, &c->errlen, buf, (size_t)got);
			else if (got == 0 || errno != EINTR) {
				/* a pty master says EIO once the child is
				 * gone */
				if (pfd[i].fd == c->fd)
					c->eof = true;
				else {
					close(c->errfd);
					c->errfd = -1;
				}
			}
		}
	} else if (n == 0 && ms > 0)
		h_nap(ms < 10 ? ms : 10);
	if (!c->done && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
		c->done = true;
}

static struct chat *
chat_new(void)
{
	struct chat *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fail_msg("out of memory");
	c->errfd = -1;
	h_append(&c->out, &c->outlen, "", 0);
	h_append(&c->err, &c->errlen, "", 0);
	c->next = chats;
	chats = c;
	return c;
}

/* The child's environment: no user configuration or history, a known
 * terminal; colours off unless color. */
static void
child_env(int color)
{
	char path[128];

	setenv("TERM", "xterm", 1);
	setenv("HOME", tmpdir, 1);
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	setenv("XDG_STATE_HOME", path, 1);
	if (color)
		unsetenv("NO_COLOR");
	else
		setenv("NO_COLOR", "1", 1);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

#define MAX_ARGS	24

/*
 * Starts "corobus -L 127.0.0.1:port chat ARGS..." on a pseudo-terminal
 * (NULL-terminated args), with colours when color.
 */
static struct chat *
pty_start_v(int port, int color, va_list ap)
{
	struct winsize ws = { 50, 200, 0, 0 };
	const char *argv[MAX_ARGS + 6];
	char url[64];
	pid_t parent = getpid();
	struct chat *c = chat_new();
	size_t n = 0;
	int fl;

	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	argv[n++] = h_corobus_path();
	argv[n++] = "-L";
	argv[n++] = url;
	argv[n++] = "chat";
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		if (++n == MAX_ARGS)
			fail_msg("too many arguments");
	if ((c->pid = forkpty(&c->fd, NULL, NULL, &ws)) == -1)
		fail_msg("forkpty: %s", strerror(errno));
	if (c->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(127);
		child_env(color);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	if ((fl = fcntl(c->fd, F_GETFD)) != -1)
		(void)fcntl(c->fd, F_SETFD, fl | FD_CLOEXEC);
	return c;
}

static struct chat *
pty_start(int port, int color, ...) __attribute__((sentinel));

static struct chat *
pty_start(int port, int color, ...)
{
	struct chat *c;
	va_list ap;

	va_start(ap, color);
	c = pty_start_v(port, color, ap);
	va_end(ap);
	return c;
}

/* Whether text shows in what it wrote after from, within ms. */
static bool
wait_text(struct chat *c, size_t from, const char *text, int ms)
{
	int64_t deadline = h_now_ms() + ms;

	for (;;) {
		if (from <= c->outlen && strstr(c->out + from, text) != NULL)
			return true;
		if (c->eof || h_now_ms() >= deadline)
			return false;
		pump(c, 20);
	}
}

/* Its output with escape sequences shown, for failure messages. */
static const char *
shown(const struct chat *c)
{
	static char buf[16384];
	size_t i, n = 0, start;

	start = c->outlen > 4000 ? c->outlen - 4000 : 0;
	for (i = start; i < c->outlen && n + 8 < sizeof(buf); i++) {
		if (c->out[i] == '\033') {
			memcpy(buf + n, "\\e", 2);
			n += 2;
		} else if (c->out[i] != '\r')
			buf[n++] = c->out[i];
	}
	buf[n] = '\0';
	return buf;
}

/* Fails unless text shows within WAIT_MS (after the mark). */
static void
expect_text(struct chat *c, const char *text)
{
	if (!wait_text(c, c->mark, text, WAIT_MS))
		fail_msg("no \"%s\" within %d ms; output:\n%s\nstderr:\n%s",
		    text, WAIT_MS, shown(c), c->err);
}

/* From now on, expect_text() only looks at what comes next. */
static void
mark(struct chat *c)
{
	pump(c, 0);
	c->mark = c->outlen;
}

static void
type(struct chat *c, const char *keys)
{
	size_t len = strlen(keys);
	ssize_t w;

	while (len > 0) {
		if ((w = write(c->fd, keys, len)) <= 0)
			fail_msg("typing: %s", strerror(errno));
		keys += w;
		len -= (size_t)w;
	}
}

/* Types a line and waits for the client to have taken it: the line is
 * wiped and the prompt drawn again. */
static void
say(struct chat *c, const char *line)
{
	mark(c);
	type(c, line);
	type(c, "\r");
	if (!wait_text(c, c->mark, "\033[J", WAIT_MS))
		fail_msg("\"%s\" was not taken; output:\n%s", line, shown(c));
}

/* Waits for the client to end: its exit status, or -1 after ms. */
static int
finish(struct chat *c, int ms)
{
	int64_t deadline = h_now_ms() + ms;

	while (!c->done) {
		if (h_now_ms() >= deadline) {
			kill(c->pid, SIGKILL);
			while (!c->done)
				pump(c, 50);
			print_error("client killed after %d ms; output:\n%s\n"
			    "stderr:\n%s\n", ms, shown(c), c->err);
			return -1;
		}
		pump(c, 20);
	}
	/* the rest of its output */
	while (!c->eof || c->errfd != -1) {
		pump(c, 50);
		if (h_now_ms() >= deadline + 1000)
			break;
	}
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}

static void
chat_free(struct chat *c)
{
	if (!c->done) {
		kill(c->pid, SIGKILL);
		while (!c->done)
			pump(c, 50);
	}
	close(c->fd);
	if (c->errfd != -1)
		close(c->errfd);
	free(c->out);
	free(c->err);
	free(c);
}

/* A client that has joined its rooms (its own join notice shows). */
static struct chat *
joined(struct chat *c, const char *nick, const char *room)
{
	char want[96];

	snprintf(want, sizeof(want), "-!- %s has joined #%s", nick, room);
	expect_text(c, want);
	/* and the /who of the join has answered */
	expect_text(c, "-!- #");
	mark(c);
	return c;
}

#define JOIN(port, nick, room)						\
	joined(pty_start((port), 0, "-n", (nick), (room),		\
	    (char *)NULL), (nick), (room))

/*
 * Runs "corobus -L 127.0.0.1:port chat ARGS..." with pipes: input is its
 * whole stdin (then EOF).  Returns the client once it has ended.
 */
static struct chat *
script(int port, const char *input, ...) __attribute__((sentinel));

/* The child side of script(): its own session, the test environment. */
static void
script_child(void)
{
	(void)setsid();
	child_env(0);
}

static struct chat *
script(int port, const char *input, ...)
{
	const char *argv[MAX_ARGS + 6];
	char url[64];
	struct chat *c = chat_new();
	size_t n = 1;
	va_list ap;

	snprintf(url, sizeof(url), "127.0.0.1:%d", port);
	argv[n++] = "-L";
	argv[n++] = url;
	argv[n++] = "chat";
	va_start(ap, input);
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		if (++n == MAX_ARGS)
			fail_msg("too many arguments");
	va_end(ap);
	c->pid = h_corobus_spawn(argv, input, script_child, &c->fd,
	    &c->errfd);
	return c;
}

/* Whether the text holds a line matching the extended regex re. */
static bool
has_line_re(const char *text, const char *re)
{
	regex_t rx;
	bool found;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) != 0)
		fail_msg("bad regex %s", re);
	found = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
	return found;
}

#define assert_line(c, re) do {						\
	if (!has_line_re((c)->out, (re)))				\
		fail_msg("no line matching %s in:\n%s\nstderr:\n%s",	\
		    (re), (c)->out, (c)->err);				\
} while (0)

static size_t
count_text(const char *text, const char *what)
{
	size_t n = 0;

	for (; (text = strstr(text, what)) != NULL; text++)
		n++;
	return n;
}

/* ---- two and three clients ---- */

static void
test_chat_two_clients(void **state)
{
	int port = shared->port;
	struct chat *a, *b;

	(void)state;
	a = JOIN(port, "alice", "two");
	b = JOIN(port, "bob", "two");
	expect_text(a, "-!- bob has joined #two");
	/* the prompt shows the room and the nick */
	assert_non_null(strstr(b->out, "[#two] bob> "));

	mark(a);
	say(b, "hi alice");
	expect_text(a, "<bob> hi alice");
	/* the sender sees its own line, formatted */
	expect_text(b, "<bob> hi alice");

	/* a line typed while another arrives is not broken */
	mark(b);
	type(a, "hel");
	pump(a, 100);
	say(b, "are you there?");
	expect_text(a, "<bob> are you there?");
	/* redrawn below it, as it was */
	expect_text(a, "[#two] alice> hel");
	mark(b);
	type(a, "lo bob\r");
	expect_text(b, "<alice> hello bob");

	mark(b);
	say(a, "/me waves");
	expect_text(b, "* alice waves");

	/* a line that starts with "/" */
	mark(b);
	say(a, "//etc/passwd is a path");
	expect_text(b, "<alice> /etc/passwd is a path");

	/* no colours with NO_COLOR */
	assert_null(strstr(a->out, "\033[38;5;"));

	mark(b);
	say(a, "/quit see you");
	assert_int_equal(finish(a, WAIT_MS), 0);
	expect_text(b, "-!- alice has left #two (see you)");
	/* the terminal is left clean: no prompt on the last line */
	assert_null(strstr(a->out + a->outlen - 3, "> "));
	mark(b);
	type(b, "\004");			/* Ctrl-D */
	assert_int_equal(finish(b, WAIT_MS), 0);
}

static void
test_chat_three_clients(void **state)
{
	int port = shared->port;
	struct chat *a, *b, *c;

	(void)state;
	a = JOIN(port, "ann", "three");
	b = JOIN(port, "ben", "three");
	c = JOIN(port, "cat", "three");
	expect_text(a, "-!- cat has joined #three");
	expect_text(b, "-!- cat has joined #three");

	/* a line reaches both others */
	mark(a);
	mark(b);
	say(c, "hello everyone");
	expect_text(a, "<cat> hello everyone");
	expect_text(b, "<cat> hello everyone");

	/* /who lists the members, sorted, with a count */
	say(a, "/who");
	expect_text(a, "-!- #three: ann ben cat (3 users)");

	/* /msg reaches its target only */
	mark(a);
	mark(c);
	say(b, "/msg ann psst, a secret");
	expect_text(b, "-> *ann* psst, a secret");
	expect_text(a, "*ben* psst, a secret");
	say(b, "after the secret");
	expect_text(c, "<ben> after the secret");
	assert_null(strstr(c->out, "psst"));

	/* to nobody */
	mark(b);
	say(b, "/m nobody hello?");
	expect_text(b, "-!- no such nick: nobody");

	/* /nick is announced, once, and the new nick is used */
	mark(a);
	mark(b);
	say(c, "/nick kit");
	expect_text(c, "-!- you are now known as kit");
	expect_text(a, "-!- cat is now known as kit");
	expect_text(b, "-!- cat is now known as kit");
	expect_text(c, "[#three] kit> ");
	say(c, "renamed");
	expect_text(a, "<kit> renamed");
	/* a nick in use is refused */
	mark(c);
	say(c, "/nick ann");
	expect_text(c, "-!- nick ann is taken");
	/* private messages follow the nick */
	mark(c);
	say(a, "/msg kit still there?");
	expect_text(c, "*ann* still there?");
	assert_int_equal(count_text(a->out, "cat is now known as kit"), 1);

	/* /part and /join are announced */
	mark(a);
	say(b, "/part lunch");
	expect_text(a, "-!- ben has left #three (lunch)");
	expect_text(b, "[] ben> ");
	mark(a);
	say(b, "/join #three");
	expect_text(a, "-!- ben has joined #three");
	say(a, "/who three");
	expect_text(a, "-!- #three: ann ben kit (3 users)");

	/* unknown commands get a hint */
	say(a, "/frobnicate");
	expect_text(a, "-!- unknown command /frobnicate (/help lists them)");
	say(a, "/help");
	expect_text(a, "/msg NICK TEXT");
	expect_text(a, "/quit [REASON]");
}

static void
test_chat_windows(void **state)
{
	int port = shared->port;
	struct chat *a, *b;

	(void)state;
	a = pty_start(port, 0, "-n", "dan", "win1", "#win2",
	    (char *)NULL);
	expect_text(a, "-!- dan has joined #win1");
	expect_text(a, "-!- dan has joined #win2");
	/* the first room is active */
	expect_text(a, "[#win1] dan> ");
	b = JOIN(port, "eve", "win2");

	/* a line of a room that is not the active one is tagged */
	mark(a);
	say(b, "over here");
	expect_text(a, "#win2 <eve> over here");

	say(a, "/window 2");
	expect_text(a, "[#win2] dan> ");
	mark(b);
	say(a, "now in win2");
	expect_text(b, "<dan> now in win2");
	mark(a);
	say(b, "untagged");
	expect_text(a, "<eve> untagged");
	assert_null(strstr(a->out, "#win2 <eve> untagged"));

	say(a, "/win #win1");
	expect_text(a, "[#win1] dan> ");
	say(a, "/window");
	expect_text(a, "-!- windows: 1:#win1* 2:#win2");
	say(a, "/j win3");
	expect_text(a, "-!- dan has joined #win3");
	expect_text(a, "[#win3] dan> ");
	/* /part names a room */
	mark(b);
	say(a, "/part win2 bye");
	expect_text(b, "-!- dan has left #win2 (bye)");
	say(a, "/join bad.room");
	expect_text(a, "-!- bad room name \"bad.room\"");
}

/* What peers send cannot drive the terminal: C0 controls show as ^X,
 * C1 and bidi overrides as '?'; a payload that is not ours shows as
 * plain text from "?". */
static void
test_chat_neutralises(void **state)
{
	int port = shared->port;
	struct chat *a;
	struct h_conn *raw;
	const char *evil = "{\"nick\":\"m\\u001b[2Jal\",\"kind\":\"msg\","
	    "\"text\":\"red \\u001b[31mtext\\u0007 \\u009b1m \\u202egnp\"}";
	char line[512], *text;

	(void)state;
	a = JOIN(port, "fay", "evil");
	raw = h_client(port);
	snprintf(line, sizeof(line), "PUB chat.room.evil %zu\r\n%s\r\n",
	    strlen(evil), evil);
	h_sendf(raw, "%s", line);
	h_sendf(raw, "PUB chat.room.evil 11\r\nplain hello\r\n");
	h_sendf(raw, "PUB chat.room.evil 6\r\nbin\001\033x\r\n");
	expect_text(a, "<m^[[2Jal> red ^[[31mtext^G ?1m ?gnp");
	expect_text(a, "<?> plain hello");
	expect_text(a, "<?> bin^A^[x");
	assert_null(strstr(a->out, "\033[31m"));
	assert_null(strstr(a->out, "\033[2J"));
	assert_null(strstr(a->out, "\a"));
	/* a plain NATS client can answer /who */
	h_sendf(raw, "SUB chat.presence.evil 1\r\nPING\r\n");
	h_expect(raw, "PONG", H_IO_MS);
	say(a, "/who");
	if ((text = h_until_re(raw, "^MSG chat\\.presence\\.evil 1 _INBOX\\.",
	    H_IO_MS)) == NULL)
		fail_msg("no presence request");
	free(text);
	h_conn_close(raw);
}

/* ---- the daemon restarts ---- */

static void
test_chat_restart(void **state)
{
	struct h_daemon *d = h_daemon_run("");
	int port = d->port;
	struct chat *a, *b;

	(void)state;
	a = JOIN(port, "gus", "rs");
	b = JOIN(port, "hal", "rs");
	expect_text(a, "-!- hal has joined #rs");
	mark(a);
	say(b, "before");
	expect_text(a, "<hal> before");

	mark(a);
	mark(b);
	assert_int_equal(h_daemon_stop(d), 0);
	expect_text(a, "-!- disconnected, reconnecting...");
	expect_text(b, "-!- disconnected, reconnecting...");
	expect_text(a, "[#rs] gus (offline)> ");
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:%d\"}]\n", port);
	h_daemon_start(d, NULL);
	assert_int_equal(d->port, port);
	expect_text(a, "-!- reconnected to");
	expect_text(b, "-!- reconnected to");
	/* rejoined (announced again), and lines flow both ways */
	expect_text(a, "-!- gus has joined #rs");
	expect_text(b, "-!- hal has joined #rs");
	mark(a);
	mark(b);
	say(b, "after the restart");
	expect_text(a, "<hal> after the restart");
	say(a, "welcome back");
	expect_text(b, "<gus> welcome back");
	say(a, "/who");
	expect_text(a, "-!- #rs: gus hal (2 users)");
}

/* ---- without a terminal ---- */

static void
test_chat_scripted(void **state)
{
	int port = shared->port;
	struct chat *a, *s;

	(void)state;
	a = JOIN(port, "ivy", "script");
	s = script(port, "hello from a script\n/me beeps\n/who\n"
	    "/msg ivy private words\n/frob\n", "-n", "robot", "script",
	    (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 0);
	/* plain lines: no prompt, no escape sequences */
	assert_null(strchr(s->out, '\033'));
	assert_null(strstr(s->out, "] robot> "));
	assert_line(s, "^[0-9]{2}:[0-9]{2} -!- connected to 127\\.0\\.0\\.1:"
	    "[0-9]+ as robot$");
	assert_line(s, "^[0-9]{2}:[0-9]{2} -!- robot has joined #script$");
	assert_line(s, "^[0-9]{2}:[0-9]{2} <robot> hello from a script$");
	assert_line(s, "^[0-9]{2}:[0-9]{2} \\* robot beeps$");
	assert_line(s, "^[0-9]{2}:[0-9]{2} -!- #script: ivy robot "
	    "\\(2 users\\)$");
	assert_line(s, "^[0-9]{2}:[0-9]{2} -> \\*ivy\\* private words$");
	assert_line(s, "^[0-9]{2}:[0-9]{2} -!- unknown command /frob");
	/* EOF is /quit */
	assert_line(s, "^[0-9]{2}:[0-9]{2} -!- robot has left #script$");
	assert_string_equal(s->err, "");

	expect_text(a, "-!- robot has joined #script");
	expect_text(a, "<robot> hello from a script");
	expect_text(a, "* robot beeps");
	expect_text(a, "*robot* private words");
	expect_text(a, "-!- robot has left #script");

	/* a script reads what others say */
	mark(a);
	s = script(port, "", "-n", "listener", "script", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_line(s, "-!- #script: ivy listener \\(2 users\\)$");
}

static void
test_chat_nick_taken(void **state)
{
	int port = shared->port;
	struct chat *s;

	(void)state;
	(void)JOIN(port, "jo", "taken");
	s = script(port, "hi\n", "-n", "jo", "taken", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_line(s, "-!- nick jo is taken: you are jo_$");
	assert_line(s, "<jo_> hi$");
}

static void
test_chat_usage(void **state)
{
	struct chat *s;

	(void)state;
	s = script(shared->port, "", "-n", "bad nick", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 64);
	assert_non_null(strstr(s->err, "corobus chat: -n: bad nick "
	    "\"bad nick\""));
	assert_non_null(strstr(s->err, "usage: corobus chat "));
	s = script(shared->port, "", "room.with.dots", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 64);
	assert_non_null(strstr(s->err, "bad room name \"room.with.dots\""));
	s = script(shared->port, "", "--color", "purple", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 64);
	s = script(shared->port, "", "--frob", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 64);
	assert_non_null(strstr(s->err, "unknown option --frob"));
}

static void
test_chat_unreachable(void **state)
{
	struct h_daemon *d = h_daemon_run("");
	int port = d->port;
	struct chat *s;

	(void)state;
	assert_int_equal(h_daemon_stop(d), 0);
	s = script(port, "", "-n", "x", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 69);
	assert_non_null(strstr(s->err, "corobus: cannot connect to "));
	assert_string_equal(s->out, "");
}

/* Colours on a terminal, and the history file. */
static void
test_chat_colors_history(void **state)
{
	int port = shared->port;
	struct chat *a;
	char path[160], *text = NULL;
	size_t len = 0;
	FILE *f;
	int ch;

	(void)state;
	a = pty_start(port, 1, "-n", "kim", "hue", (char *)NULL);
	expect_text(a, "has joined #hue");
	/* one colour per nick from the 256-colour palette */
	expect_text(a, "\033[38;5;");
	say(a, "remember this line");
	expect_text(a, "> remember this line");
	say(a, " but never this secretword");
	say(a, "/quit");
	assert_int_equal(finish(a, WAIT_MS), 0);
	snprintf(path, sizeof(path), "%s/state/corobus/chat_history", tmpdir);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while ((ch = fgetc(f)) != EOF) {
		char c = (char)ch;

		h_append(&text, &len, &c, 1);
	}
	fclose(f);
	/* libedit writes spaces as \040 */
	if (strstr(text, "remember") == NULL ||
	    strstr(text, "secretword") != NULL)
		fail_msg("history file:\n%s", text);
	free(text);

	/* --color never wins on a terminal */
	a = pty_start(port, 1, "--color", "never", "-n", "lee", "hue",
	    (char *)NULL);
	joined(a, "lee", "hue");
	assert_null(strstr(a->out, "\033[38;5;"));
}

/* ---- against nats-server ---- */

/* nats-server on $PATH, or in /usr/sbin (NULL when neither). */
static const char *
which_nats_server(void)
{
	const char *bin = h_nats_server_path();

	if (bin == NULL && access("/usr/sbin/nats-server", X_OK) == 0)
		bin = "/usr/sbin/nats-server";
	return bin;
}

static void
test_chat_nats_server(void **state)
{
	const char *bin = which_nats_server();
	char portstr[16];
	struct chat *a, *s;
	int port;

	(void)state;
	if (bin == NULL)
		skip();
	port = h_free_port();
	snprintf(portstr, sizeof(portstr), "%d", port);
	h_nats_server_start(&natsd, bin, port, "-a", "127.0.0.1", "-p",
	    portstr, (char *)NULL);

	a = JOIN(port, "nat", "n");
	s = script(port, "over nats-server\n/who\n/msg nat hush\n"
	    "/msg nobody x\n", "-n", "srv", "n", (char *)NULL);
	assert_int_equal(finish(s, RUN_MS), 0);
	assert_line(s, "-!- #n: nat srv \\(2 users\\)$");
	assert_line(s, "-!- no such nick: nobody$");
	expect_text(a, "<srv> over nats-server");
	expect_text(a, "*srv* hush");
	expect_text(a, "-!- srv has left #n");
}

/* ---- setup ---- */

static int
teardown(void **state)
{
	struct chat *c;

	while ((c = chats) != NULL) {
		chats = c->next;
		chat_free(c);
	}
	h_nats_server_stop(&natsd);
	return h_test_teardown(state);
}

static int
group_setup(void **state)
{
	(void)state;
	shared = h_daemon_shared();
	return 0;
}

#define T(f)	cmocka_unit_test_teardown(f, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_chat_two_clients),
		T(test_chat_three_clients),
		T(test_chat_windows),
		T(test_chat_neutralises),
		T(test_chat_restart),
		T(test_chat_scripted),
		T(test_chat_nick_taken),
		T(test_chat_usage),
		T(test_chat_unreachable),
		T(test_chat_colors_history),
		T(test_chat_nats_server),
	};
	int rc;

	/* XDG_CONFIG_HOME is set in each client (child_env()) */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/corobus-chat.XXXXXX");
	if (h_client_env(tmpdir, false) == -1)
		return 1;
	rc = cmocka_run_group_tests(tests, group_setup, h_group_teardown);
	if (h_rm_dir(tmpdir) != 0)
		fprintf(stderr, "test_chat: could not remove %s\n", tmpdir);
	return rc;
}
