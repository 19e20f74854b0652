/*
 * cmd-sub.c: "corobus sub": subscribe to one or more subjects and print
 * each message as it comes: the payload and a newline by default, the
 * subject first with -v, the header lines first with --headers, or one
 * JSON object per line with --json (the format corobus(1) documents),
 * or as -F FORMAT says (mosquitto_sub's %-directives and \-escapes).
 * It exits 0 after -C messages, 75 when -W passes first, and otherwise
 * runs until interrupted, reconnecting and resubscribing when the server
 * goes away.  With a udp:// server the session subscribes by datagram,
 * renewing the lease (--lease) every third of it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "client.h"
#include "session.h"

#define SUB_MAX_SUBJECTS	64
#define SUB_LEASE_MS		30000	/* corobusd's datagram.lease */

enum { OPT_QUEUE = 256, OPT_HEADERS, OPT_JSON, OPT_LEASE, OPT_HELP };

static const struct option sub_opts[] = {
	{ "topic", required_argument, NULL, 't' },
	{ "count", required_argument, NULL, 'C' },
	{ "wait", required_argument, NULL, 'W' },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "headers", no_argument, NULL, OPT_HEADERS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "no-newline", no_argument, NULL, 'N' },
	{ "format", required_argument, NULL, 'F' },
	{ "lease", required_argument, NULL, OPT_LEASE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

struct sub_out {
	bool		 verbose, headers, json, newline;
	const char	*format;	/* -F, checked by format_check() */
};

/* The header lines of m after the version line, or the status line
 * itself when it carries a status: calls fn(line, len, arg) for each. */
static void
header_lines(const struct session_msg *m,
    void (*fn)(const char *, size_t, void *), void *arg)
{
	const char *p, *end, *eol;
	size_t len;
	bool first = true;

	if (m->hdr == NULL)
		return;
	end = m->hdr + m->hdrlen;
	for (p = m->hdr; p < end; p = eol + 1, first = false) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		len = (size_t)(eol - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0 || (first && m->status == 0))
			continue;
		fn(p, len, arg);
	}
}

static void
print_header(const char *line, size_t len, void *arg)
{
	(void)arg;
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
}

static void
json_header(const char *line, size_t len, void *arg)
{
	json_t *h = arg, *list;
	const char *colon = memchr(line, ':', len), *v;
	char name[256];
	size_t nlen;

	if (colon == NULL)
		return;
	nlen = (size_t)(colon - line);
	if (nlen >= sizeof(name))
		nlen = sizeof(name) - 1;
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	for (v = colon + 1; v < line + len && (*v == ' ' || *v == '\t'); v++)
		;
	if ((list = json_object_get(h, name)) == NULL) {
		list = json_array();
		json_object_set_new(h, name, list);
	}
	json_array_append_new(list, json_stringn(v,
	    (size_t)(line + len - v)));
}

/* The message as one line of JSON without a newline (malloc'd), or
 * NULL when out of memory. */
static char *
json_line(const struct session_msg *m)
{
	json_t *o, *h, *data;
	unsigned char *b64;
	char *line;
	int n;

	o = json_object();
	json_object_set_new(o, "subject", json_string(m->subject));
	if (m->reply != NULL)
		json_object_set_new(o, "reply", json_string(m->reply));
	if (m->hdr != NULL) {
		h = json_object();
		header_lines(m, json_header, h);
		if (json_object_size(h) > 0)
			json_object_set_new(o, "headers", h);
		else
			json_decref(h);
	}
	if (m->status != 0)
		json_object_set_new(o, "status", json_integer(m->status));
	json_object_set_new(o, "size", json_integer((json_int_t)m->len));
	/* text when it is UTF-8, else base64 */
	if ((data = json_stringn(m->data, m->len)) != NULL)
		json_object_set_new(o, "data", data);
	else if ((b64 = malloc(4 * ((m->len + 2) / 3) + 1)) != NULL) {
		n = EVP_EncodeBlock(b64, (const unsigned char *)m->data,
		    (int)m->len);
		json_object_set_new(o, "data_base64",
		    json_stringn((char *)b64, (size_t)n));
		free(b64);
	}
	line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return line;
}

static void
print_json(const struct session_msg *m)
{
	char *line;

	if ((line = json_line(m)) != NULL) {
		fputs(line, stdout);
		fputc('\n', stdout);
		free(line);
	}
}

/*
 * -F: walks fmt, printing for m (received at ts), or, with m NULL, only
 * checking it.  Returns 0, or -1 with the bad directive or escape in
 * bad[] ("%q", "\\q", or a lone "%" or "\\" at the end).
 */
static int
format_walk(const char *fmt, const struct session_msg *m,
    const struct timespec *ts, char bad[3])
{
	const char *p;
	char tbuf[64], *line;
	struct tm tm;
	long off;
	size_t i;

	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%' && *p != '\\') {
			if (m != NULL)
				fputc(*p, stdout);
			continue;
		}
		bad[0] = p[0];
		bad[1] = p[1];
		bad[2] = '\0';
		if (*p == '\\') {
			switch (*++p) {
			case 'n':
				if (m != NULL)
					fputc('\n', stdout);
				break;
			case 't':
				if (m != NULL)
					fputc('\t', stdout);
				break;
			case '\\':
				if (m != NULL)
					fputc('\\', stdout);
				break;
			default:
				return -1;
			}
			continue;
		}
		switch (*++p) {
		case '%':
		case 't':
		case 'p':
		case 'l':
		case 'r':
		case 'I':
		case 'U':
		case 'x':
		case 'j':
		case 'h':
			break;
		default:
			return -1;
		}
		if (m == NULL)
			continue;
		switch (*p) {
		case '%':
			fputc('%', stdout);
			break;
		case 't':
			fputs(m->subject, stdout);
			break;
		case 'p':
			fwrite(m->data, 1, m->len, stdout);
			break;
		case 'l':
			printf("%zu", m->len);
			break;
		case 'r':
			if (m->reply != NULL)
				fputs(m->reply, stdout);
			break;
		case 'I':
			/* 2024-05-01T12:34:56+02:00 (strftime's %z has no
			 * colon) */
			if (localtime_r(&ts->tv_sec, &tm) == NULL ||
			    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S",
			    &tm) == 0)
				break;
			off = tm.tm_gmtoff / 60;
			printf("%s%c%02ld:%02ld", tbuf, off < 0 ? '-' : '+',
			    labs(off) / 60, labs(off) % 60);
			break;
		case 'U':
			printf("%lld.%09ld", (long long)ts->tv_sec,
			    ts->tv_nsec);
			break;
		case 'x':
			for (i = 0; i < m->len; i++)
				printf("%02x", (unsigned char)m->data[i]);
			break;
		case 'j':
			if ((line = json_line(m)) != NULL) {
				fputs(line, stdout);
				free(line);
			}
			break;
		case 'h':
			header_lines(m, print_header, NULL);
			break;
		}
	}
	return 0;
}

/* Whether fmt is a valid -F format: 0, or -1 after saying why. */
static int
format_check(const char *fmt)
{
	char bad[3];

	if (format_walk(fmt, NULL, NULL, bad) == 0)
		return 0;
	if (bad[1] == '\0')
		fprintf(stderr, "corobus sub: -F: a lone \"%s\" ends the "
		    "format (%s for the character itself)\n", bad,
		    bad[0] == '%' ? "%%" : "\\\\");
	else if (bad[0] == '%')
		fprintf(stderr, "corobus sub: -F: unknown directive \"%s\" "
		    "(%%t %%p %%l %%r %%I %%U %%x %%j %%h %%%%)\n", bad);
	else
		fprintf(stderr, "corobus sub: -F: unknown escape \"%s\" "
		    "(\\n \\t \\\\)\n", bad);
	return -1;
}

static void
print_msg(const struct sub_out *out, const struct session_msg *m)
{
	struct timespec ts;
	char bad[3];

	if (out->format != NULL) {
		clock_gettime(CLOCK_REALTIME, &ts);
		(void)format_walk(out->format, m, &ts, bad);
		return;
	}
	if (out->json) {
		print_json(m);
		return;
	}
	if (out->headers)
		header_lines(m, print_header, NULL);
	if (out->verbose)
		printf("%s ", m->subject);
	fwrite(m->data, 1, m->len, stdout);
	if (out->newline)
		fputc('\n', stdout);
}

int
cmd_sub(int argc, char **argv)
{
	const char *subjects[SUB_MAX_SUBJECTS];
	const char *group = NULL;
	size_t nsubjects = 0, i;
	uint64_t count = 0, got = 0;
	int64_t wait_ms = -1, lease_ms = SUB_LEASE_MS, deadline;
	struct sub_out out = { false, false, false, true, NULL };
	struct session_opts so;
	struct session *s = NULL;
	struct session_msg *m;
	coro_queue *q = NULL;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":t:C:W:vNF:", sub_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 't':
			if (nsubjects == SUB_MAX_SUBJECTS)
				return cli_usage_error("sub", "too many "
				    "subjects");
			subjects[nsubjects++] = optarg;
			break;
		case 'C':
			if (cli_parse_count(optarg, false, &count) == -1)
				return cli_usage_error("sub", "-C: \"%s\" is "
				    "not a count from 1 to 999999999",
				    optarg);
			break;
		case 'W':
			if (cli_parse_duration(optarg, &wait_ms) == -1 ||
			    wait_ms == 0)
				return cli_usage_error("sub", "-W: bad "
				    "timeout \"%s\" (seconds, or 500ms, 2m)",
				    optarg);
			break;
		case OPT_QUEUE:
			group = optarg;
			break;
		case OPT_LEASE:
			if (cli_parse_duration(optarg, &lease_ms) == -1 ||
			    lease_ms == 0)
				return cli_usage_error("sub", "--lease: bad "
				    "duration \"%s\" (seconds, or 500ms, 2m)",
				    optarg);
			break;
		case 'v':
			out.verbose = true;
			break;
		case OPT_HEADERS:
			out.headers = true;
			break;
		case OPT_JSON:
			out.json = true;
			break;
		case 'N':
			out.newline = false;
			break;
		case 'F':
			if (format_check(optarg) == -1)
				return EX_USAGE;
			out.format = optarg;
			break;
		case OPT_HELP:
			printf("usage: corobus sub %s\n",
			    cmd_find("sub")->usage);
			return EX_OK;
		case ':':
			return cli_usage_error("sub", "%s needs an argument",
			    argv[optind - 1]);
		default:
			return cli_usage_error("sub", "unknown option %s",
			    argv[optind - 1]);
		}
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (nsubjects == SUB_MAX_SUBJECTS)
			return cli_usage_error("sub", "too many subjects");
		subjects[nsubjects++] = argv[i];
	}
	if (nsubjects == 0)
		return cli_usage_error("sub", "no subject");
	if (out.format != NULL && (out.verbose || out.headers || out.json ||
	    !out.newline))
		return cli_usage_error("sub", "-F replaces -v, -N, --headers "
		    "and --json: give it alone");

	if ((rc = cli_session_opts(&so, true)) != EX_OK)
		return rc;
	so.udp_lease_ms = lease_ms;	/* udp:// only */
	if ((s = session_new(&so)) == NULL || session_connect(s) != 0) {
		rc = session_fail(s);
		goto out;
	}
	if ((q = coro_queue_new(coro_loop_current(), 0)) == NULL) {
		rc = cli_fail(EX_OSERR, "out of memory");
		goto out;
	}
	for (i = 0; i < nsubjects; i++)
		if (session_subscribe(s, subjects[i], group, NULL, NULL,
		    q) == NULL) {
			rc = session_fail(s);
			goto out;
		}
	/* the server has the subscriptions, or said why not */
	deadline = wait_ms > 0 ? coro_deadline_in(wait_ms) : CORO_NEVER;
	rc = session_flush(s, coro_deadline_in(so.timeout_ms));
	if (rc == -ECANCELED) {
		rc = EX_OK;
		goto out;
	}
	if (rc == -ETIMEDOUT) {
		rc = cli_fail(EX_TEMPFAIL, "%s did not confirm the "
		    "subscription within %s", session_url(s),
		    session_fmt_duration(so.timeout_ms));
		goto out;
	}
	if (session_server_errors(s) > 0) {	/* already said */
		rc = session_exit_code(s);
		goto out;
	}
	if (rc != 0) {
		rc = session_fail(s);
		goto out;
	}
	if (nsubjects == 1)
		cli_status("subscribed to %s%s%s", subjects[0],
		    group != NULL ? " in queue group " : "",
		    group != NULL ? group : "");
	else
		cli_status("subscribed to %zu subjects%s%s", nsubjects,
		    group != NULL ? " in queue group " : "",
		    group != NULL ? group : "");

	for (;;) {
		rc = session_queue_next(q, &m, deadline);
		if (rc == -ECANCELED) {
			rc = EX_OK;
			break;
		}
		if (rc == -ETIMEDOUT) {
			rc = cli_fail(EX_TEMPFAIL, "timed out after %s with "
			    "%llu message%s%s", session_fmt_duration(wait_ms),
			    (unsigned long long)got, got == 1 ? "" : "s",
			    count > 0 ? " (fewer than -C)" : "");
			break;
		}
		if (rc != 0) {
			rc = session_exit_code(s) != EX_OK ? session_fail(s) :
			    cli_fail(EX_UNAVAILABLE, "connection closed");
			break;
		}
		print_msg(&out, m);
		session_msg_free(m);
		if (fflush(stdout) == EOF) {
			rc = cli_fail(EX_IOERR, "stdout: %s",
			    strerror(errno));
			break;
		}
		if (count > 0 && ++got >= count) {
			rc = EX_OK;
			break;
		} else if (count == 0)
			got++;
	}
 out:
	session_free(s);
	if (q != NULL) {
		while (coro_queue_try_get(q, (void **)&m) == 0)
			session_msg_free(m);
		coro_queue_free(q);
	}
	return rc;
}
