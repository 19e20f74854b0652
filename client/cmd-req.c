/*
 * cmd-req.c: "corobus req": send a request and print the reply's payload.
 * The exit status tells the outcomes apart: 0 with a reply, 75
 * (EX_TEMPFAIL) when none came in time, 69 (EX_UNAVAILABLE) when the
 * server says nobody listens on the subject (the 503 no-responders
 * status).  -C repeats the request, one reply per line.  --replies N
 * gathers up to N replies to each request (scatter-gather) through an
 * inbox of its own, printing each as it comes, until N came or the
 * timeout passed; one reply is enough for exit status 0.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "subject.h"
#include "client.h"
#include "session.h"

#define REQ_MAX_HEADERS	64

enum { OPT_TIMEOUT = 256, OPT_RAW, OPT_REPLIES, OPT_HELP };

static const struct option req_opts[] = {
	{ "header", required_argument, NULL, 'H' },
	{ "message", required_argument, NULL, 'm' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "reply-timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "count", required_argument, NULL, 'C' },
	{ "replies", required_argument, NULL, OPT_REPLIES },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* What one request is, for req_gather(). */
struct req_args {
	const char	*subject;
	const char	*hdr;
	size_t		 hdrlen;
	const char	*message;
	int64_t		 timeout_ms;
	uint64_t	 replies;	/* at most; 0: until the timeout */
	bool		 raw;
	bool		 canceled;	/* out: interrupted */
};

static void
print_reply(const struct session_msg *m, bool raw)
{
	fwrite(m->data, 1, m->len, stdout);
	if (!raw)
		fputc('\n', stdout);
	fflush(stdout);
}

/*
 * Scatter-gather: subscribes to a fresh inbox, publishes the request
 * with it as the reply subject, and prints the replies as they come
 * until a->replies came or the timeout passed.  The SUB goes out before
 * the PUB on the same connection, so the server knows the inbox before
 * any responder sees the request.  Returns the exit status: EX_OK with
 * at least one reply.  May suspend.
 */
static int
req_gather(struct session *s, struct req_args *a)
{
	struct session_sub *sub;
	struct session_msg *m;
	char inbox[64];
	uint64_t got = 0;
	int64_t deadline;
	int rc;

	session_new_inbox(inbox, sizeof(inbox));
	if ((sub = session_subscribe(s, inbox, NULL, NULL, NULL,
	    NULL)) == NULL)
		return session_fail(s);
	rc = session_publish(s, a->subject, inbox, a->hdr, a->hdrlen,
	    a->message, strlen(a->message));
	deadline = coro_deadline_in(a->timeout_ms);
	while (rc == 0 && (a->replies == 0 || got < a->replies)) {
		if ((rc = session_sub_next(sub, &m, deadline)) != 0)
			break;
		if (m->status == 503 && m->len == 0) {
			/* nobody subscribes: no reply will come */
			session_msg_free(m);
			if (got == 0)
				rc = SESSION_ENORESPONDERS;
			break;
		}
		print_reply(m, a->raw);
		session_msg_free(m);
		got++;
	}
	session_unsubscribe(sub);
	switch (rc) {
	case 0:
		return EX_OK;
	case -ETIMEDOUT:
		if (got > 0)
			return EX_OK;
		return cli_fail(EX_TEMPFAIL, "no reply on %s within %s",
		    a->subject, session_fmt_duration(a->timeout_ms));
	case SESSION_ENORESPONDERS:
		return cli_fail(EX_UNAVAILABLE, "no responders on %s",
		    a->subject);
	case -ECANCELED:
		a->canceled = true;
		return EX_OK;
	default:
		if (session_exit_code(s) != EX_OK)
			return session_fail(s);
		if (rc == -EPIPE || rc == -ENOTCONN)
			return cli_fail(EX_UNAVAILABLE, "connection closed");
		return cli_fail(EX_SOFTWARE, "request: %s", strerror(-rc));
	}
}

int
cmd_req(int argc, char **argv)
{
	const char *headers[REQ_MAX_HEADERS];
	const char *subject, *message = NULL;
	size_t nheaders = 0, hdrlen = 0;
	int64_t timeout_ms = -1;
	uint64_t count = 1, replies = 0, i;
	bool raw = false, gather = false;
	struct req_args a;
	struct session_opts so;
	struct session *s = NULL;
	struct session_msg *m;
	char *hdr = NULL;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":H:m:C:", req_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (nheaders == REQ_MAX_HEADERS)
				return cli_usage_error("req", "too many "
				    "headers");
			headers[nheaders++] = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_duration(optarg, &timeout_ms) == -1 ||
			    timeout_ms == 0)
				return cli_usage_error("req", "--timeout: bad "
				    "duration \"%s\"", optarg);
			break;
		case OPT_RAW:
			raw = true;
			break;
		case 'C':
			if (cli_parse_count(optarg, false, &count) == -1)
				return cli_usage_error("req", "-C: \"%s\" is "
				    "not a count from 1 to 999999999",
				    optarg);
			break;
		case OPT_REPLIES:
			if (cli_parse_count(optarg, true, &replies) == -1)
				return cli_usage_error("req", "--replies: "
				    "\"%s\" is not a count from 0 to "
				    "999999999", optarg);
			gather = true;
			break;
		case OPT_HELP:
			printf("usage: corobus req %s\n",
			    cmd_find("req")->usage);
			return EX_OK;
		case ':':
			return cli_usage_error("req", "%s needs an argument",
			    argv[optind - 1]);
		default:
			return cli_usage_error("req", "unknown option %s",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return cli_usage_error("req", "no subject");
	subject = argv[0];
	if (argc > 1) {
		if (message != NULL)
			return cli_usage_error("req", "give the message once");
		message = argv[1];
	}
	if (argc > 2)
		return cli_usage_error("req", "too many arguments");
	if (message == NULL)
		message = "";
	if (!subject_valid_pub(subject, strlen(subject)))
		return cli_fail(EX_DATAERR, "invalid subject \"%s\" (no "
		    "wildcards, spaces or empty tokens)", subject);
	if (nheaders > 0 &&
	    (hdr = session_headers(headers, nheaders, &hdrlen)) == NULL)
		return cli_usage_error("req", "-H: a header is \"Name: "
		    "value\" on one line");

	if ((rc = cli_session_opts(&so, false)) != EX_OK)
		goto out;
	if (timeout_ms < 0)
		timeout_ms = so.timeout_ms;
	if ((s = session_new(&so)) == NULL || session_connect(s) != 0) {
		rc = session_fail(s);
		goto out;
	}
	if (gather) {
		a.subject = subject;
		a.hdr = hdr;
		a.hdrlen = hdrlen;
		a.message = message;
		a.timeout_ms = timeout_ms;
		a.replies = replies;
		a.raw = raw;
		a.canceled = false;
		for (i = 0, rc = EX_OK; i < count && rc == EX_OK &&
		    !a.canceled; i++)
			rc = req_gather(s, &a);
		goto out;
	}
	for (i = 0, rc = EX_OK; i < count && rc == EX_OK; i++) {
		rc = session_request(s, subject, hdr, hdrlen, message,
		    strlen(message), coro_deadline_in(timeout_ms), &m);
		switch (rc) {
		case 0:
			print_reply(m, raw);
			session_msg_free(m);
			rc = EX_OK;
			break;
		case -ETIMEDOUT:
			rc = cli_fail(EX_TEMPFAIL, "no reply on %s within %s",
			    subject, session_fmt_duration(timeout_ms));
			break;
		case SESSION_ENORESPONDERS:
			rc = cli_fail(EX_UNAVAILABLE, "no responders on %s",
			    subject);
			break;
		case -ECANCELED:
			rc = EX_OK;
			goto out;
		default:
			if (session_exit_code(s) != EX_OK)
				rc = session_fail(s);
			else
				rc = cli_fail(EX_SOFTWARE, "request: %s",
				    strerror(-rc));
			break;
		}
	}
 out:
	session_free(s);
	free(hdr);
	return rc;
}
