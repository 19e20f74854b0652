/*
 * cmd-pub.c: "corobus pub": publish one message (from the command line,
 * a file or stdin), the same message several times (-C, --sleep), or one
 * message per line of stdin (-l).  Flags follow mosquitto_pub.  It ends
 * with a PING/PONG barrier, so a zero exit status means the server has
 * handled every message and refused none (a permission -ERR is 77).
 *
 * Stdin is read with plain read(2), after coro_wait_fd() when stdin can
 * be polled, so the session's tasks keep running while a terminal or a
 * pipe is silent.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "subject.h"
#include "client.h"
#include "session.h"

#define PUB_MAX_HEADERS	64

enum { OPT_REPLY = 256, OPT_SLEEP, OPT_HELP };

static const struct option pub_opts[] = {
	{ "topic", required_argument, NULL, 't' },
	{ "message", required_argument, NULL, 'm' },
	{ "file", required_argument, NULL, 'f' },
	{ "stdin-file", no_argument, NULL, 's' },
	{ "stdin-line", no_argument, NULL, 'l' },
	{ "null-message", no_argument, NULL, 'n' },
	{ "header", required_argument, NULL, 'H' },
	{ "reply", required_argument, NULL, OPT_REPLY },
	{ "count", required_argument, NULL, 'C' },
	{ "sleep", required_argument, NULL, OPT_SLEEP },
	{ "repeat-delay", required_argument, NULL, OPT_SLEEP },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/*
 * Reads some of fd into b: the count, 0 at end of file, -1 on error.
 * Waits on the loop first when fd can be polled.  May suspend.
 */
static ssize_t
read_some(int fd, struct buf *b)
{
	static bool pollable = true;
	ssize_t n;
	int rc;

	if (buf_reserve(b, 64 * 1024) != 0) {
		errno = ENOMEM;
		return -1;
	}
	if (pollable) {
		rc = coro_wait_fd(fd, CORO_READ, CORO_NEVER);
		if (rc == -ECANCELED) {
			errno = ECANCELED;
			return -1;
		}
		if (rc < 0)	/* a regular file or /dev/null */
			pollable = false;
	}
	while ((n = read(fd, buf_tail(b), buf_avail(b))) == -1 &&
	    errno == EINTR)
		;
	if (n > 0)
		buf_commit(b, (size_t)n);
	return n;
}

/* The whole of fd into b: 0, or -1 with errno. */
static int
read_all(int fd, struct buf *b)
{
	ssize_t n;

	while ((n = read_some(fd, b)) > 0)
		;
	return n == 0 ? 0 : -1;
}

static int
pub_publish(struct session *s, const char *subject, const char *reply,
    const char *hdr, size_t hdrlen, const char *data, size_t len)
{
	int rc;

	rc = session_publish(s, subject, reply, hdr, hdrlen, data, len);
	if (rc == -ECANCELED)
		return EX_OK;
	if (rc != 0)
		return session_fail(s);
	return EX_OK;
}

/* One message per line of stdin. */
static int
pub_lines(struct session *s, const char *subject, const char *reply,
    const char *hdr, size_t hdrlen, int64_t sleep_ms)
{
	struct buf b;
	char *nl, *line;
	size_t len;
	ssize_t n;
	bool eof = false;
	int rc = EX_OK;

	buf_init(&b, 64 * 1024 * 1024);
	while (rc == EX_OK && !eof && !coro_cancelled()) {
		if ((n = read_some(STDIN_FILENO, &b)) < 0) {
			if (errno == ECANCELED)
				break;
			rc = cli_fail(EX_IOERR, "stdin: %s", strerror(errno));
			break;
		}
		eof = n == 0;
		while (rc == EX_OK && buf_len(&b) > 0) {
			line = buf_data(&b);
			nl = memchr(line, '\n', buf_len(&b));
			if (nl == NULL && !eof)
				break;
			len = nl != NULL ? (size_t)(nl - line) : buf_len(&b);
			if (len > 0 && line[len - 1] == '\r')
				len--;
			rc = pub_publish(s, subject, reply, hdr, hdrlen, line,
			    len);
			buf_consume(&b, nl != NULL ? (size_t)(nl - line) + 1 :
			    buf_len(&b));
			if (rc == EX_OK && sleep_ms > 0 &&
			    coro_sleep(sleep_ms) != 0)
				eof = true;
		}
	}
	buf_release(&b);
	return rc;
}

int
cmd_pub(int argc, char **argv)
{
	const char *headers[PUB_MAX_HEADERS];
	const char *subject = NULL, *message = NULL, *file = NULL;
	const char *reply = NULL;
	size_t nheaders = 0, hdrlen = 0, nsrc = 0;
	bool from_stdin = false, lines = false;
	uint64_t count = 1, i;
	int64_t sleep_ms = 0;
	struct session_opts so;
	struct session *s = NULL;
	char *hdr = NULL;
	struct buf body;
	int ch, rc, fd;

	buf_init(&body, BUF_NOLIMIT);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":t:m:f:slnH:C:", pub_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 't':
			if (subject != NULL)
				return cli_usage_error("pub", "one subject "
				    "only");
			subject = optarg;
			break;
		case 'm':
			message = optarg;
			nsrc++;
			break;
		case 'f':
			file = optarg;
			nsrc++;
			break;
		case 's':
			from_stdin = true;
			nsrc++;
			break;
		case 'l':
			lines = true;
			nsrc++;
			break;
		case 'n':	/* an empty message */
			nsrc++;
			break;
		case 'H':
			if (nheaders == PUB_MAX_HEADERS)
				return cli_usage_error("pub", "too many "
				    "headers");
			headers[nheaders++] = optarg;
			break;
		case OPT_REPLY:
			reply = optarg;
			break;
		case 'C':
			if (cli_parse_count(optarg, false, &count) == -1)
				return cli_usage_error("pub", "-C: \"%s\" is "
				    "not a count from 1 to 999999999",
				    optarg);
			break;
		case OPT_SLEEP:
			if (cli_parse_duration(optarg, &sleep_ms) == -1)
				return cli_usage_error("pub", "--sleep: bad "
				    "duration \"%s\"", optarg);
			break;
		case OPT_HELP:
			printf("usage: corobus pub %s\n",
			    cmd_find("pub")->usage);
			return EX_OK;
		case ':':
			return cli_usage_error("pub", "%s needs an argument",
			    argv[optind - 1]);
		default:
			return cli_usage_error("pub", "unknown option %s",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (subject == NULL) {
		if (argc == 0)
			return cli_usage_error("pub", "no subject");
		subject = *argv++;
		argc--;
	}
	if (argc > 0) {
		message = *argv++;
		argc--;
		nsrc++;
	}
	if (argc > 0)
		return cli_usage_error("pub", "too many arguments");
	if (nsrc == 0)
		return cli_usage_error("pub", "no message: give MESSAGE, -m, "
		    "-f, -s, -l or -n");
	if (nsrc > 1)
		return cli_usage_error("pub", "give one message source only");
	if (lines && count > 1)
		return cli_usage_error("pub", "-C repeats one message; it "
		    "does not go with -l");
	if (!subject_valid_pub(subject, strlen(subject)))
		return cli_fail(EX_DATAERR, "invalid subject \"%s\" (no "
		    "wildcards, spaces or empty tokens)", subject);
	if (reply != NULL && !subject_valid_pub(reply, strlen(reply)))
		return cli_fail(EX_DATAERR, "invalid reply subject \"%s\"",
		    reply);
	if (nheaders > 0 &&
	    (hdr = session_headers(headers, nheaders, &hdrlen)) == NULL)
		return cli_usage_error("pub", "-H: a header is \"Name: "
		    "value\" on one line");

	if (file != NULL) {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
			rc = cli_fail(errno == ENOENT ? EX_NOINPUT :
			    errno == EACCES ? EX_NOPERM : EX_IOERR, "%s: %s",
			    file, strerror(errno));
			goto out;
		}
		rc = read_all(fd, &body);
		close(fd);
		if (rc == -1) {
			rc = cli_fail(EX_IOERR, "%s: %s", file,
			    strerror(errno));
			goto out;
		}
	} else if (message != NULL)
		buf_append_str(&body, message);

	if ((rc = cli_session_opts(&so, false)) != EX_OK)
		goto out;
	if ((s = session_new(&so)) == NULL || session_connect(s) != 0) {
		rc = session_fail(s);
		goto out;
	}
	/* stdin is read once connected, so a slow pipe does not time out
	 * the handshake */
	if (from_stdin && read_all(STDIN_FILENO, &body) == -1) {
		rc = errno == ECANCELED ? EX_OK : cli_fail(EX_IOERR,
		    "stdin: %s", strerror(errno));
		goto out;
	}
	if (lines)
		rc = pub_lines(s, subject, reply, hdr, hdrlen, sleep_ms);
	else
		for (i = 0, rc = EX_OK; i < count && rc == EX_OK &&
		    !coro_cancelled(); i++) {
			rc = pub_publish(s, subject, reply, hdr, hdrlen,
			    buf_len(&body) > 0 ? buf_data(&body) : "",
			    buf_len(&body));
			if (rc == EX_OK && sleep_ms > 0 && i + 1 < count &&
			    coro_sleep(sleep_ms) != 0)
				break;
		}
	if (rc != EX_OK || coro_cancelled())
		goto out;
	rc = session_flush(s, coro_deadline_in(so.timeout_ms));
	if (rc == -ETIMEDOUT)
		rc = cli_fail(EX_TEMPFAIL, "%s did not confirm the messages "
		    "within %s", session_url(s),
		    session_fmt_duration(so.timeout_ms));
	else if (rc == -ECANCELED)
		rc = EX_OK;
	else if (session_server_errors(s) > 0)	/* already said */
		rc = session_exit_code(s);
	else if (rc != 0)
		rc = session_fail(s);
	else
		rc = EX_OK;
 out:
	session_free(s);
	free(hdr);
	buf_release(&body);
	return rc;
}
