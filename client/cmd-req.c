/*
 * cmd-req.c: "corobus req": send a request and print the reply's payload.
 * The exit status tells the outcomes apart: 0 with a reply, 75
 * (EX_TEMPFAIL) when none came in time, 69 (EX_UNAVAILABLE) when the
 * server says nobody listens on the subject (the 503 no-responders
 * status).  -C repeats the request, one reply per line.
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

enum { OPT_TIMEOUT = 256, OPT_RAW, OPT_HELP };

static const struct option req_opts[] = {
	{ "header", required_argument, NULL, 'H' },
	{ "message", required_argument, NULL, 'm' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "reply-timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "count", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

int
cmd_req(int argc, char **argv)
{
	const char *headers[REQ_MAX_HEADERS];
	const char *subject, *message = NULL;
	size_t nheaders = 0, hdrlen = 0;
	int64_t timeout_ms = -1;
	uint64_t count = 1, i;
	bool raw = false;
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
	for (i = 0, rc = EX_OK; i < count && rc == EX_OK; i++) {
		rc = session_request(s, subject, hdr, hdrlen, message,
		    strlen(message), coro_deadline_in(timeout_ms), &m);
		switch (rc) {
		case 0:
			fwrite(m->data, 1, m->len, stdout);
			if (!raw)
				fputc('\n', stdout);
			fflush(stdout);
			session_msg_free(m);
			rc = EX_OK;
			break;
		case -ETIMEDOUT:
			rc = cli_fail(EX_TEMPFAIL, "no reply on %s within %s",
			    subject, cli_fmt_duration(timeout_ms));
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
