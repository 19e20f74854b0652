/*
 * cmd-reply.c: "corobus reply": answer the requests sent to a subject,
 * with a fixed body, the request's own body (--echo), or the standard
 * output of a command (--command, run by /bin/sh with the request body
 * on its standard input and in $COROBUS_REQUEST_BODY, the subject in
 * $COROBUS_REQUEST_SUBJECT).  Requests are answered one at a time, in
 * arrival order; it runs until interrupted or -C requests are answered,
 * reconnecting when the server goes away.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "client.h"
#include "session.h"

extern char **environ;

enum { OPT_ECHO = 256, OPT_COMMAND, OPT_QUEUE, OPT_HELP };

static const struct option reply_opts[] = {
	{ "echo", no_argument, NULL, OPT_ECHO },
	{ "command", required_argument, NULL, OPT_COMMAND },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "count", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

struct feed {
	coro_process		*p;
	const struct session_msg *m;
	int64_t			 deadline;
};

/* Writes the request body to the command's stdin, then closes it; a
 * task of its own, so a command that writes before it reads can't
 * deadlock us. */
static int
feed_main(void *arg)
{
	struct feed *f = arg;
	coro_stream *in = coro_process_stdin(f->p);

	if (in != NULL && f->m->len > 0)
		(void)coro_stream_write_all(in, f->m->data, f->m->len,
		    f->deadline);
	coro_process_close_stdin(f->p);
	return 0;
}

/* envp for the command: ours without the COROBUS_REQUEST_ variables,
 * plus the request's (malloc'd strings in extra[2]). */
static const char **
command_env(const struct session_msg *m, char *extra[2])
{
	const char **envp;
	size_t n = 0, i;

	for (i = 0; environ[i] != NULL; i++)
		;
	if ((envp = calloc(i + 3, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "COROBUS_REQUEST_", 16) != 0)
			envp[n++] = environ[i];
	if (asprintf(&extra[0], "COROBUS_REQUEST_BODY=%.*s", (int)m->len,
	    m->data) == -1)
		extra[0] = NULL;
	if (asprintf(&extra[1], "COROBUS_REQUEST_SUBJECT=%s",
	    m->subject) == -1)
		extra[1] = NULL;
	if (extra[0] != NULL)
		envp[n++] = extra[0];
	if (extra[1] != NULL)
		envp[n++] = extra[1];
	envp[n] = NULL;
	return envp;
}

/*
 * Runs command for request m; its standard output goes into out.
 * Returns 0, or -1 after saying why on stderr (no reply is sent then).
 * May suspend.
 */
static int
run_command(const char *command, const struct session_msg *m,
    int64_t timeout_ms, size_t max, struct buf *out)
{
	const char *argv[] = { "/bin/sh", "-c", command, NULL };
	int64_t deadline = coro_deadline_in(timeout_ms);
	coro_process_opts po;
	coro_process *p = NULL;
	coro_stream *so;
	coro_task *feeder = NULL;
	struct feed f;
	char *extra[2] = { NULL, NULL };
	const char **envp;
	coro_spawn_opts sp = { "reply-feed", 0 };
	ssize_t n;
	int rc = -1, status, err;

	if ((envp = command_env(m, extra)) == NULL) {
		cli_warnx("out of memory");
		return -1;
	}
	memset(&po, 0, sizeof(po));
	po.argv = argv;
	po.envp = envp;
	po.stdin_mode = CORO_STDIO_PIPE;
	po.stdout_mode = CORO_STDIO_PIPE;
	po.stderr_mode = CORO_STDIO_INHERIT;
	if ((err = coro_process_spawn(coro_loop_current(), &po, &p)) != 0) {
		cli_warnx("--command: cannot run /bin/sh: %s", strerror(-err));
		goto out;
	}
	f.p = p;
	f.m = m;
	f.deadline = deadline;
	feeder = coro_spawn(coro_loop_current(), feed_main, &f, &sp);
	so = coro_process_stdout(p);
	for (;;) {
		if (buf_reserve(out, 16 * 1024) != 0) {
			cli_warnx("--command: output bigger than the server's "
			    "max_payload (%zu), no reply sent", max);
			goto kill;
		}
		n = coro_stream_read(so, buf_tail(out), buf_avail(out),
		    deadline);
		if (n == 0)
			break;
		if (n < 0) {
			if (n == -ETIMEDOUT)
				cli_warnx("--command: no end of output within "
				    "%s, killed; no reply sent",
				    session_fmt_duration(timeout_ms));
			else if (n != -ECANCELED)
				cli_warnx("--command: %s", strerror((int)-n));
			goto kill;
		}
		buf_commit(out, (size_t)n);
	}
	if ((err = coro_process_wait(p, &status, deadline)) != 0) {
		if (err == -ETIMEDOUT)
			cli_warnx("--command: did not exit within %s, killed; "
			    "no reply sent", session_fmt_duration(timeout_ms));
		goto kill;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		cli_warnx("--command: exited with status %d (replied with "
		    "its output)", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		cli_warnx("--command: killed by signal %d (replied with its "
		    "output)", WTERMSIG(status));
	rc = 0;
	goto out;
 kill:
	(void)coro_process_kill(p, SIGKILL);
 out:
	if (feeder != NULL) {
		coro_cancel(feeder);
		coro_shield_begin();
		(void)coro_join(feeder, NULL, coro_deadline_in(1000));
		coro_shield_end();
		coro_task_unref(feeder);
	}
	coro_process_free(p);
	free(extra[0]);
	free(extra[1]);
	free(envp);
	return rc;
}

int
cmd_reply(int argc, char **argv)
{
	const char *subject, *body = NULL, *command = NULL, *group = NULL;
	bool echo = false;
	uint64_t count = 0, answered = 0;
	struct session_opts so;
	struct session *s = NULL;
	struct session_sub *sub;
	struct session_msg *m;
	struct buf out;
	int ch, rc, modes;

	buf_init(&out, BUF_NOLIMIT);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":C:", reply_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_ECHO:
			echo = true;
			break;
		case OPT_COMMAND:
			command = optarg;
			break;
		case OPT_QUEUE:
			group = optarg;
			break;
		case 'C':
			if (cli_parse_count(optarg, false, &count) == -1)
				return cli_usage_error("reply", "-C: \"%s\" is "
				    "not a count from 1 to 999999999",
				    optarg);
			break;
		case OPT_HELP:
			printf("usage: corobus reply %s\n",
			    cmd_find("reply")->usage);
			return EX_OK;
		case ':':
			return cli_usage_error("reply", "%s needs an "
			    "argument", argv[optind - 1]);
		default:
			return cli_usage_error("reply", "unknown option %s",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return cli_usage_error("reply", "no subject");
	subject = argv[0];
	if (argc > 1)
		body = argv[1];
	if (argc > 2)
		return cli_usage_error("reply", "too many arguments");
	modes = (body != NULL) + echo + (command != NULL);
	if (modes == 0)
		return cli_usage_error("reply", "give a BODY, --echo or "
		    "--command");
	if (modes > 1)
		return cli_usage_error("reply", "BODY, --echo and --command "
		    "exclude each other");
	if (command != NULL)
		/* a command that exits without reading its stdin */
		signal(SIGPIPE, SIG_IGN);

	if ((rc = cli_session_opts(&so, true)) != EX_OK)
		return rc;
	if ((s = session_new(&so)) == NULL || session_connect(s) != 0) {
		rc = session_fail(s);
		goto done;
	}
	if ((sub = session_subscribe(s, subject, group, NULL, NULL,
	    NULL)) == NULL) {
		rc = session_fail(s);
		goto done;
	}
	rc = session_flush(s, coro_deadline_in(so.timeout_ms));
	if (rc == -ECANCELED) {
		rc = EX_OK;
		goto done;
	}
	if (session_server_errors(s) > 0) {	/* already said */
		rc = session_exit_code(s);
		goto done;
	}
	if (rc != 0) {
		rc = rc == -ETIMEDOUT ? cli_fail(EX_TEMPFAIL, "%s did not "
		    "confirm the subscription within %s", session_url(s),
		    session_fmt_duration(so.timeout_ms)) : session_fail(s);
		goto done;
	}
	cli_status("listening for requests on %s%s%s", subject,
	    group != NULL ? " in queue group " : "",
	    group != NULL ? group : "");

	for (;;) {
		rc = session_sub_next(sub, &m, CORO_NEVER);
		if (rc == -ECANCELED) {
			rc = EX_OK;
			break;
		}
		if (rc != 0) {
			rc = session_exit_code(s) != EX_OK ? session_fail(s) :
			    cli_fail(EX_UNAVAILABLE, "connection closed");
			break;
		}
		if (m->reply == NULL) {
			cli_status("message on %s without a reply subject, "
			    "ignored", m->subject);
			session_msg_free(m);
			continue;
		}
		rc = 0;
		if (echo)
			rc = session_publish(s, m->reply, NULL, NULL, 0,
			    m->data, m->len);
		else if (body != NULL)
			rc = session_publish(s, m->reply, NULL, NULL, 0, body,
			    strlen(body));
		else {
			buf_reset(&out);
			out.max = session_max_payload(s);
			if (run_command(command, m, so.timeout_ms,
			    session_max_payload(s), &out) == 0)
				rc = session_publish(s, m->reply, NULL, NULL,
				    0, buf_len(&out) > 0 ? buf_data(&out) : "",
				    buf_len(&out));
		}
		session_msg_free(m);
		if (rc == -ECANCELED) {
			rc = EX_OK;
			break;
		}
		if (rc == -EMSGSIZE) {
			cli_warnx("%s", session_error(s));
			rc = 0;
		}
		if (rc != 0) {
			rc = session_fail(s);
			break;
		}
		if (count > 0 && ++answered >= count) {
			rc = session_flush(s, coro_deadline_in(so.timeout_ms));
			rc = rc == 0 || rc == -ECANCELED ? EX_OK :
			    session_fail(s);
			break;
		}
	}
 done:
	session_free(s);
	buf_release(&out);
	return rc;
}
