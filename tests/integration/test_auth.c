/*
 * test_auth.c: users and permissions against a real corobusd, spoken to
 * through raw sockets: passwords hashed with yescrypt and bcrypt (as
 * nats-server's tools write them), tokens, no_auth_user, the
 * authentication timeout (auth.timeout and limits.auth_timeout),
 * operations before CONNECT, Unix peers mapped by uid (SO_PEERCRED),
 * publish and subscribe permissions (deny, queue entries, a wildcard
 * overlapping a deny entry, allow_responses, default permissions), the
 * reload of users and permissions for live connections, password files
 * written by "corobus passwd", and each configuration error.  Every
 * failure is checked on the wire and in the daemon's log, and no secret
 * may appear in the log.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "passwd.h"

#define AUTH_VIOLATION	"-ERR 'Authorization Violation'"

static char *
hash(const char *pw, const char *method)
{
	char *h = passwd_hash(pw, method);

	if (h == NULL)
		fail_msg("passwd_hash failed");
	return h;
}

static char *
connect_json(const char *user, const char *pass, const char *token)
{
	char *s;

	if (asprintf(&s, "{\"verbose\":false,\"pedantic\":false,"
	    "\"protocol\":1,\"headers\":true%s%s%s%s%s%s%s%s%s}",
	    user ? ",\"user\":\"" : "", user ? user : "", user ? "\"" : "",
	    pass ? ",\"pass\":\"" : "", pass ? pass : "", pass ? "\"" : "",
	    token ? ",\"auth_token\":\"" : "", token ? token : "",
	    token ? "\"" : "") < 0)
		fail_msg("out of memory");
	return s;
}

/* Logged in as user (or with token): the connection, INFO in *info. */
static struct h_conn *
login(int port, const char *user, const char *pass, const char *token)
{
	struct h_conn *c = h_conn_tcp(port);
	char *j = connect_json(user, pass, token), *info;

	info = h_handshake(c, j);
	free(j);
	free(info);
	return c;
}

/* The CONNECT is refused: -ERR 'Authorization Violation', then EOF. */
static void
refused(int port, const char *user, const char *pass, const char *token)
{
	struct h_conn *c = h_conn_tcp(port);
	char *j = connect_json(user, pass, token), *info;

	info = h_line(c, H_IO_MS);
	assert_non_null(info);
	assert_non_null(strstr(info, "\"auth_required\":true"));
	free(info);
	h_sendf(c, "CONNECT %s\r\nPING\r\n", j);
	free(j);
	h_expect(c, AUTH_VIOLATION, 5000);
	assert_true(h_eof(c, H_IO_MS));
	h_conn_close(c);
}

static void
no_secret_logged(struct h_daemon *d, const char *secret)
{
	assert_false(h_daemon_log_wait(d, secret, 0));
}

/* A round trip proves the connection is open and all before it done. */
static void
ping(struct h_conn *c)
{
	h_send(c, "PING\r\n", 6);
	h_expect(c, "PONG", H_IO_MS);
}

static void
test_auth_password_yescrypt(void **state)
{
	char *h = hash("s3cret-y", NULL);
	struct h_daemon *d;
	struct h_conn *c;

	(void)state;
	d = h_daemon_new();
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "auth:\n  users:\n    - { user: alice, password: \"%s\" }\n", h);
	h_daemon_start(d, NULL);
	c = login(d->port, "alice", "s3cret-y", NULL);
	ping(c);
	refused(d->port, "alice", "wrong-pw", NULL);
	refused(d->port, "mallory", "s3cret-y", NULL);
	refused(d->port, NULL, NULL, NULL);
	assert_true(h_daemon_log_wait(d, "user=\"alice\": bad password",
	    H_IO_MS));
	assert_true(h_daemon_log_wait(d, "user=\"mallory\": no such user",
	    H_IO_MS));
	assert_true(h_daemon_log_wait(d, "no credentials", H_IO_MS));
	no_secret_logged(d, "s3cret-y");
	no_secret_logged(d, "wrong-pw");
	no_secret_logged(d, h);
	free(h);
}

static void
test_auth_password_bcrypt(void **state)
{
	char *h = hash("bc-pass", "bcrypt");
	struct h_daemon *d = h_daemon_new();
	struct h_conn *c;

	(void)state;
	h[2] = 'a';	/* $2a$, as "nats server passwd" writes it */
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "auth:\n  users:\n    - { user: bob, password: \"%s\" }\n"
	    "    - { user: carl, password: plain-pw }\n", h);
	h_daemon_start(d, NULL);
	assert_true(h_daemon_log_wait(d, "user \"carl\" has a plain-text "
	    "password", H_IO_MS));
	c = login(d->port, "bob", "bc-pass", NULL);
	ping(c);
	refused(d->port, "bob", "bc-pass2", NULL);
	c = login(d->port, "carl", "plain-pw", NULL);
	ping(c);
	refused(d->port, "carl", "plain-p", NULL);
	no_secret_logged(d, "bc-pass");
	no_secret_logged(d, "plain-p");
	free(h);
}

static void
test_auth_token(void **state)
{
	struct h_daemon *d;
	struct h_conn *c;
	char *h = hash("tok-hashed", NULL);
	FILE *f;

	(void)state;
	d = h_daemon_run("auth: { token: tok-123 }");
	c = login(d->port, NULL, NULL, "tok-123");
	ping(c);
	refused(d->port, NULL, NULL, "tok-124");
	refused(d->port, NULL, NULL, NULL);
	assert_true(h_daemon_log_wait(d, "bad token", H_IO_MS));
	no_secret_logged(d, "tok-12");
	/* a hashed token in token_file */
	d = h_daemon_new();
	assert_non_null(f = fopen(h_daemon_path(d, "token"), "w"));
	fprintf(f, "%s\n", h);
	fclose(f);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "auth: { token_file: token }\n");
	h_daemon_start(d, NULL);
	c = login(d->port, NULL, NULL, "tok-hashed");
	ping(c);
	refused(d->port, NULL, NULL, "tok-hashe");
	free(h);
}

static void
test_auth_no_auth_user(void **state)
{
	struct h_daemon *d;
	struct h_conn *c;

	(void)state;
	d = h_daemon_run("auth:\n  no_auth_user: guest\n  users:\n"
	    "    - { user: guest, permissions: { publish: [ \"pub.>\" ] } }\n"
	    "    - { user: admin, password: adminpw }\n");
	c = login(d->port, NULL, NULL, NULL);
	h_sendf(c, "PUB pub.x 1\r\na\r\nPUB other 1\r\nb\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Publish to \"other\"'",
	    H_IO_MS);
	ping(c);
	/* credentials still count; the guest has no password */
	c = login(d->port, "admin", "adminpw", NULL);
	h_sendf(c, "PUB other 1\r\nb\r\n");
	ping(c);
	refused(d->port, "guest", "x", NULL);
}

static void
expect_timeout(struct h_daemon *d, int min_ms, int max_ms)
{
	struct h_conn *c = h_conn_tcp(d->port);
	int64_t t0 = h_now_ms();
	char *info = h_line(c, H_IO_MS);

	assert_non_null(info);
	free(info);
	h_expect(c, "-ERR 'Authentication Timeout'", max_ms);
	assert_true(h_now_ms() - t0 >= min_ms);
	assert_true(h_eof(c, H_IO_MS));
	assert_true(h_daemon_log_wait(d, "authentication timeout", H_IO_MS));
}

static void
test_auth_timeout(void **state)
{
	struct h_daemon *d;

	(void)state;
	d = h_daemon_run("auth: { token: t, timeout: 300ms }\n"
	    "limits: { auth_timeout: 10s }");
	expect_timeout(d, 250, 3000);
	/* without auth.timeout, limits.auth_timeout is the timeout */
	d = h_daemon_run("auth: { token: t }\nlimits: { auth_timeout: 200ms }");
	expect_timeout(d, 150, 3000);
}

static void
test_auth_ops_before_connect(void **state)
{
	static const char *const ops[] = {
		"PING\r\n", "SUB foo 1\r\n", "PUB foo 1\r\nx\r\n",
		"UNSUB 1\r\n",
	};
	struct h_daemon *d;
	struct h_conn *c;
	char *info;
	size_t i;

	(void)state;
	d = h_daemon_run("auth: { token: t }");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		c = h_conn_tcp(d->port);
		info = h_line(c, H_IO_MS);
		assert_non_null(info);
		free(info);
		h_sendf(c, "%s", ops[i]);
		h_expect(c, AUTH_VIOLATION, H_IO_MS);
		assert_true(h_eof(c, H_IO_MS));
		h_conn_close(c);
	}
	assert_true(h_daemon_log_wait(d, "operation before CONNECT",
	    H_IO_MS));
	/* without auth, operations before CONNECT are fine */
	d = h_daemon_run("");
	c = h_conn_tcp(d->port);
	info = h_line(c, H_IO_MS);
	assert_null(strstr(info, "auth_required"));
	free(info);
	ping(c);
}

static void
test_auth_unix_peercred(void **state)
{
	struct h_daemon *d = h_daemon_new();
	struct h_conn *c;
	char *info, sock[200];

	(void)state;
	snprintf(sock, sizeof(sock), "%s", h_daemon_path(d, "s.sock"));
	h_daemon_conf(d, "listeners:\n  - address: \"127.0.0.1:0\"\n"
	    "  - unix: %s\nauth:\n  users:\n    - { user: me, permissions: "
	    "{ publish: { deny: [ \"x\" ] } } }\n    - { user: other, "
	    "password: pw }\n  unix_users: [ { uid: %u, user: me } ]\n",
	    sock, (unsigned)getuid());
	h_daemon_start(d, NULL);
	c = h_conn_unix(sock);
	info = h_line(c, H_IO_MS);
	assert_non_null(info);
	assert_null(strstr(info, "auth_required"));
	free(info);
	h_sendf(c, "CONNECT {\"verbose\":false}\r\nPUB x 1\r\na\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Publish to \"x\"'",
	    H_IO_MS);
	ping(c);
	/* the same client over TCP has no uid to show */
	refused(d->port, NULL, NULL, NULL);
}

static void
test_perm_publish_deny(void **state)
{
	struct h_daemon *d;
	struct h_conn *p, *s;

	(void)state;
	d = h_daemon_run("auth:\n  users:\n    - { user: p, password: pw, "
	    "permissions: { publish: { allow: [ \"a.>\" ], deny: "
	    "[ \"a.secret\" ] } } }\n    - { user: s, password: pw }\n");
	s = login(d->port, "s", "pw", NULL);
	h_sendf(s, "SUB > 1\r\n");
	ping(s);
	p = login(d->port, "p", "pw", NULL);
	h_sendf(p, "PUB a.secret 2\r\nno\r\nPUB b 2\r\nno\r\nPUB a.ok 3\r\n"
	    "yes\r\n");
	h_expect(p, "-ERR 'Permissions Violation for Publish to "
	    "\"a.secret\"'", H_IO_MS);
	h_expect(p, "-ERR 'Permissions Violation for Publish to \"b\"'",
	    H_IO_MS);
	ping(p);
	/* the dropped ones never arrive; the allowed one does */
	h_expect(s, "MSG a.ok 1 3", H_IO_MS);
	h_expect(s, "yes", H_IO_MS);
	ping(s);
	assert_true(h_daemon_log_wait(d, "permissions violation", H_IO_MS));
}

static void
test_perm_subscribe_deny_and_queues(void **state)
{
	struct h_daemon *d;
	struct h_conn *c;

	(void)state;
	d = h_daemon_run("auth:\n  users:\n    - user: u\n      password: pw\n"
	    "      permissions:\n        subscribe:\n          allow: [ "
	    "\"foo.>\", \"q.a v1\", \"q.b\" ]\n          deny: [ "
	    "\"foo.secret\", \"q.b v9\" ]\n");
	c = login(d->port, "u", "pw", NULL);
	h_sendf(c, "SUB foo.secret 1\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Subscription to "
	    "\"foo.secret\"'", H_IO_MS);
	h_sendf(c, "SUB bar 2\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Subscription to "
	    "\"bar\"'", H_IO_MS);
	h_sendf(c, "SUB q.a 3\r\n");	/* only queue v1 */
	h_expect(c, "-ERR 'Permissions Violation for Subscription to "
	    "\"q.a\"'", H_IO_MS);
	h_sendf(c, "SUB q.a v2 4\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Subscription to "
	    "\"q.a\" using queue \"v2\"'", H_IO_MS);
	h_sendf(c, "SUB q.b v9 5\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Subscription to "
	    "\"q.b\" using queue \"v9\"'", H_IO_MS);
	/* allowed ones, and the connection stays open */
	h_sendf(c, "SUB q.a v1 6\r\nSUB q.b 7\r\nSUB foo.x 8\r\n"
	    "PUB q.a 1\r\na\r\n");
	h_expect(c, "MSG q.a 6 1", H_IO_MS);
	h_expect(c, "a", H_IO_MS);
	ping(c);
}

static void
test_perm_wildcard_overlap_filtered(void **state)
{
	struct h_daemon *d;
	struct h_conn *s, *p;

	(void)state;
	d = h_daemon_run("auth:\n  users:\n    - { user: s, password: pw, "
	    "permissions: { subscribe: { deny: [ \"foo.secret\" ] } } }\n"
	    "    - { user: p, password: pw }\n");
	s = login(d->port, "s", "pw", NULL);
	h_sendf(s, "SUB foo.> 1\r\n");
	ping(s);	/* accepted: no -ERR before the PONG */
	p = login(d->port, "p", "pw", NULL);
	h_sendf(p, "PUB foo.secret 1\r\nx\r\nPUB foo.public 1\r\ny\r\n");
	ping(p);
	h_expect(s, "MSG foo.public 1 1", H_IO_MS);
	h_expect(s, "y", H_IO_MS);
	ping(s);
}

/* A queue group whose member may not have a subject passes it to a
 * member that may: nothing is lost for the group. */
static void
test_perm_queue_member_filtered(void **state)
{
	struct h_daemon *d;
	struct h_conn *s, *t, *p;
	int i;

	(void)state;
	d = h_daemon_run("auth:\n  users:\n    - { user: s, password: pw, "
	    "permissions: { subscribe: { deny: [ \"foo.secret\" ] } } }\n"
	    "    - { user: p, password: pw }\n");
	s = login(d->port, "s", "pw", NULL);
	t = login(d->port, "p", "pw", NULL);
	h_sendf(s, "SUB foo.> g 1\r\n");
	h_sendf(t, "SUB foo.> g 2\r\n");
	ping(s);
	ping(t);
	p = login(d->port, "p", "pw", NULL);
	for (i = 0; i < 20; i++)
		h_sendf(p, "PUB foo.secret 1\r\n%d\r\n", i % 10);
	ping(p);
	for (i = 0; i < 20; i++) {
		char want[8];

		h_expect(t, "MSG foo.secret 2 1", H_IO_MS);
		snprintf(want, sizeof(want), "%d", i % 10);
		h_expect(t, want, H_IO_MS);
	}
	ping(t);
	ping(s);	/* s got none: the PONG comes first */
}

static void
test_perm_allow_responses(void **state)
{
	struct h_daemon *d;
	struct h_conn *svc, *req;

	(void)state;
	d = h_daemon_run("auth:\n  users:\n    - { user: svc, password: pw, "
	    "permissions: { subscribe: [ \"svc\" ], allow_responses: true } }\n"
	    "    - { user: req, password: pw }\n");
	svc = login(d->port, "svc", "pw", NULL);
	h_sendf(svc, "SUB svc 1\r\n");
	ping(svc);
	req = login(d->port, "req", "pw", NULL);
	h_sendf(req, "SUB _INBOX.r1 9\r\nPUB svc _INBOX.r1 2\r\nhi\r\n");
	ping(req);
	h_expect(svc, "MSG svc 1 _INBOX.r1 2", H_IO_MS);
	h_expect(svc, "hi", H_IO_MS);
	/* the first reply goes, the second is a violation */
	h_sendf(svc, "PUB _INBOX.r1 3\r\none\r\nPUB _INBOX.r1 3\r\ntwo\r\n");
	h_expect(svc, "-ERR 'Permissions Violation for Publish to "
	    "\"_INBOX.r1\"'", H_IO_MS);
	h_expect(req, "MSG _INBOX.r1 9 3", H_IO_MS);
	h_expect(req, "one", H_IO_MS);
	ping(req);
	/* nothing else may be published */
	h_sendf(svc, "PUB elsewhere 1\r\nx\r\n");
	h_expect(svc, "-ERR 'Permissions Violation for Publish to "
	    "\"elsewhere\"'", H_IO_MS);
	ping(svc);
}

static void
test_perm_default_permissions(void **state)
{
	struct h_daemon *d;
	struct h_conn *a, *b;

	(void)state;
	d = h_daemon_run("auth:\n  default_permissions:\n    publish: "
	    "{ deny: [ \"admin.>\" ] }\n  users:\n    - { user: a, "
	    "password: pw }\n    - { user: b, password: pw, permissions: "
	    "{ publish: [ \">\" ] } }\n");
	a = login(d->port, "a", "pw", NULL);
	h_sendf(a, "PUB admin.x 1\r\nx\r\n");
	h_expect(a, "-ERR 'Permissions Violation for Publish to "
	    "\"admin.x\"'", H_IO_MS);
	ping(a);
	b = login(d->port, "b", "pw", NULL);
	h_sendf(b, "PUB admin.x 1\r\nx\r\n");
	ping(b);
}

static void
test_auth_reload(void **state)
{
	static const char conf1[] =
	    "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "auth:\n  users:\n    - { user: alice, password: pw }\n"
	    "    - { user: bob, password: pw }\n"
	    "    - { user: pub, password: pw }\n";
	static const char conf2[] =
	    "listeners: [{address: \"127.0.0.1:%d\"}]\n"
	    "auth:\n  users:\n    - { user: alice, password: pw, "
	    "permissions: { subscribe: { deny: [ \"chat.>\" ] } } }\n"
	    "    - { user: pub, password: pw }\n";
	struct h_daemon *d = h_daemon_new();
	struct h_conn *a, *b, *p;

	(void)state;
	h_daemon_conf(d, conf1);
	h_daemon_start(d, NULL);
	a = login(d->port, "alice", "pw", NULL);
	h_sendf(a, "SUB chat.x 1\r\nSUB other 2\r\n");
	ping(a);
	b = login(d->port, "bob", "pw", NULL);
	p = login(d->port, "pub", "pw", NULL);
	h_daemon_conf(d, conf2, d->port);
	h_daemon_signal(d, SIGHUP);
	/* alice loses the subscription, with the -ERR, and stays */
	h_expect(a, "-ERR 'Permissions Violation for Subscription to "
	    "\"chat.x\"'", 5000);
	ping(a);
	/* bob is gone */
	h_expect(b, AUTH_VIOLATION, H_IO_MS);
	assert_true(h_eof(b, H_IO_MS));
	assert_true(h_daemon_log_wait(d, "credentials gone after reload",
	    H_IO_MS));
	refused(d->port, "bob", "pw", NULL);
	/* what alice may still receive arrives, the rest does not */
	h_sendf(p, "PUB chat.x 1\r\nx\r\nPUB other 1\r\ny\r\n");
	ping(p);
	h_expect(a, "MSG other 2 1", H_IO_MS);
	h_expect(a, "y", H_IO_MS);
	ping(a);
	/* and a new SUB is checked against the new permissions */
	h_sendf(a, "SUB chat.y 3\r\n");
	h_expect(a, "-ERR 'Permissions Violation for Subscription to "
	    "\"chat.y\"'", H_IO_MS);
}

static void
test_auth_reload_bad_keeps_old(void **state)
{
	struct h_daemon *d = h_daemon_new();
	struct h_conn *c;

	(void)state;
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "auth: { users: [ { user: a, password: pw } ] }\n");
	h_daemon_start(d, NULL);
	c = login(d->port, "a", "pw", NULL);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:%d\"}]\n"
	    "auth: { users: [ { user: a, password: pw } ], no_auth_user: "
	    "ghost }\n", d->port);
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "reload failed", 5000));
	assert_true(h_daemon_log_wait(d, "auth.no_auth_user: no user "
	    "\"ghost\"", H_IO_MS));
	ping(c);
	c = login(d->port, "a", "pw", NULL);
	ping(c);
}

/* Runs $COROBUS passwd args: the exit status; output in *out. */
static int
corobus_passwd(char **out, const char *args)
{
	const char *bin = getenv("COROBUS");
	char cmd[2048], buf[512];
	size_t len = 0;
	FILE *p;
	int st;

	if (bin == NULL)
		fail_msg("COROBUS is not set");
	snprintf(cmd, sizeof(cmd), "%s passwd %s </dev/null 2>&1", bin,
	    args);
	*out = calloc(1, 8192);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(buf, sizeof(buf), p) != NULL && len + strlen(buf) < 8191) {
		memcpy(*out + len, buf, strlen(buf));
		len += strlen(buf);
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_auth_password_file(void **state)
{
	struct h_daemon *d = h_daemon_new();
	char file[200], args[512], *out, *text;
	struct stat st;
	struct h_conn *c;
	FILE *f;
	long n;

	(void)state;
	snprintf(file, sizeof(file), "%s", h_daemon_path(d, "passwd"));
	snprintf(args, sizeof(args), "-b %s carol pw1", file);
	assert_int_equal(corobus_passwd(&out, args), 66);	/* no -c */
	assert_non_null(strstr(out, "-c creates it"));
	free(out);
	snprintf(args, sizeof(args), "-c -b %s carol pw1", file);
	assert_int_equal(corobus_passwd(&out, args), 0);
	free(out);
	snprintf(args, sizeof(args), "-b -H bcrypt %s dave pw2", file);
	assert_int_equal(corobus_passwd(&out, args), 0);
	free(out);
	snprintf(args, sizeof(args), "-b %s erin pw3", file);
	assert_int_equal(corobus_passwd(&out, args), 0);
	free(out);
	snprintf(args, sizeof(args), "-D %s erin", file);
	assert_int_equal(corobus_passwd(&out, args), 0);
	free(out);
	snprintf(args, sizeof(args), "-D %s nobody", file);
	assert_int_equal(corobus_passwd(&out, args), 65);
	assert_non_null(strstr(out, "no user \"nobody\""));
	free(out);
	snprintf(args, sizeof(args), "%s dave", file);	/* no password */
	assert_int_equal(corobus_passwd(&out, args), 65);
	free(out);
	snprintf(args, sizeof(args), "-b -H md5 %s x y", file);
	assert_int_equal(corobus_passwd(&out, args), 64);
	free(out);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_non_null(f = fopen(file, "r"));
	text = calloc(1, 4096);
	n = (long)fread(text, 1, 4095, f);
	fclose(f);
	assert_true(n > 0);
	assert_non_null(strstr(text, "carol:$y$"));
	assert_non_null(strstr(text, "dave:$2b$"));
	assert_null(strstr(text, "erin"));
	assert_null(strstr(text, "pw1"));
	free(text);
	h_daemon_conf(d, "listeners: [{address: \"127.0.0.1:0\"}]\n"
	    "auth: { password_file: passwd, users: [ { user: dave, "
	    "permissions: { publish: [ \"d.>\" ] } } ] }\n");
	h_daemon_start(d, NULL);
	c = login(d->port, "carol", "pw1", NULL);
	ping(c);
	c = login(d->port, "dave", "pw2", NULL);
	h_sendf(c, "PUB x 1\r\nx\r\n");
	h_expect(c, "-ERR 'Permissions Violation for Publish to \"x\"'",
	    H_IO_MS);
	refused(d->port, "carol", "pw2", NULL);
}

static void
config_error(const char *yaml, const char *want)
{
	struct h_daemon *d = h_daemon_new();
	char *out = NULL;
	int st;

	h_daemon_conf(d, "%s", yaml);
	st = h_corobusd_run(&out, "-t", "-c", d->conf, NULL);
	if (st != 78 || out == NULL || strstr(out, want) == NULL)
		fail_msg("corobusd -t: status %d, wanted \"%s\" in: %s", st,
		    want, out ? out : "");
	free(out);
	h_daemon_free(d);
}

static void
test_auth_config_errors(void **state)
{
	(void)state;
	config_error("auth: { password_file: /nonexistent/pw }",
	    "/nonexistent/pw: No such file");
	config_error("auth: { token_file: /nonexistent/tok }",
	    "auth.token_file: /nonexistent/tok");
	config_error("auth: { token: a, token_file: b }",
	    "auth.token and auth.token_file exclude each other");
	config_error("auth: { no_auth_user: ghost }",
	    "auth.no_auth_user: no user \"ghost\"");
	config_error("auth: { users: [ { user: a }, { user: a } ] }",
	    "user \"a\" defined twice");
	config_error("auth: { users: [ { password: x } ] }",
	    "needs a user name");
	config_error("auth: { users: [ { user: a, permissions: { publish: "
	    "[ \"a..b\" ] } } ] }", "invalid entry \"a..b\"");
	config_error("auth: { unix_users: [ { uid: 1, user: nobody } ] }",
	    "uid 1: no user \"nobody\"");
	config_error("auth: { users: [ { user: a, permissions: { "
	    "allow_responses: maybe } } ] }", "is not true or false");
	config_error("auth: { default_permissions: { publish: { allow: "
	    "[ [ x ] ] } } }", "expected a string");
}

static int
group_teardown(void **state)
{
	(void)state;
	return h_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_auth_password_yescrypt,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_password_bcrypt,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_token, h_test_teardown),
		cmocka_unit_test_teardown(test_auth_no_auth_user,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_timeout, h_test_teardown),
		cmocka_unit_test_teardown(test_auth_ops_before_connect,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_unix_peercred,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_perm_publish_deny,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_perm_subscribe_deny_and_queues,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_perm_queue_member_filtered,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_perm_wildcard_overlap_filtered,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_perm_allow_responses,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_perm_default_permissions,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_reload, h_test_teardown),
		cmocka_unit_test_teardown(test_auth_reload_bad_keeps_old,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_password_file,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_auth_config_errors,
		    h_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
