/*
 * test_tls.c: TLS listeners (protocol doc §2.9) against clients that
 * speak it for real: libnats with user and password, the corobus client
 * over tls://, the openssl command for TLS-first.  Refusals are checked
 * on both sides (the client's error and the daemon's log): a server
 * certificate from an unknown CA, an expired one, one for another host
 * name, plain text on a TLS port, a silent client (the handshake
 * timeout's -ERR), client certificates required or optional, missing or
 * from an unknown CA; certificates mapped to users (email SAN, subject
 * DN) with their permissions; a certificate reload that keeps the live
 * connections; and the configuration errors of -t.  The certificates
 * are made at set-up time with $OPENSSL in a temporary directory.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "harness.h"

#define NATS_MS		3000

static char	 certs[128];		/* the set-up's directory */
static char	 pwhash[256];		/* of "tls-pw" */

#define NOK(expr) do {							\
	natsStatus s_ = (expr);						\
	if (s_ != NATS_OK)						\
		fail_msg("%s: %s (%s)", #expr, natsStatus_GetText(s_),	\
		    nats_GetLastError(NULL));				\
} while (0)

static const char *
cert(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", certs, name);
	return buf[i];
}

static void
nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- certificates ---- */

static int
make_certs(void **state)
{
	const char *bin = getenv("COROBUSD");
	char *out, *nl;

	(void)state;
	snprintf(certs, sizeof(certs), "/tmp/corobus-tls-XXXXXX");
	if (mkdtemp(certs) == NULL || bin == NULL)
		return -1;
	/* two CAs; server certificates: good, expired, other name, from
	 * CA 2; client certificates: email SAN, DN only, from CA 2 */
	if (h_make_certs(certs, "ca ca && ca ca2 && "
	    "crt server /CN=localhost 'subjectAltName=DNS:localhost,"
	    "IP:127.0.0.1' ca 2 && "
	    "crt expired /CN=localhost 'subjectAltName=DNS:localhost,"
	    "IP:127.0.0.1' ca -1 && "
	    "crt wrongname /CN=wrong.example 'subjectAltName=DNS:wrong.example'"
	    " ca 2 && "
	    "crt server2 /CN=localhost 'subjectAltName=DNS:localhost,"
	    "IP:127.0.0.1' ca2 2 && "
	    "crt client /O=acme/CN=svc 'subjectAltName=email:svc@acme.example'"
	    " ca 2 && "
	    "crt client2 /O=acme/CN=dn-user 'basicConstraints=CA:FALSE' "
	    "ca 2 && "
	    "crt rogue /O=acme/CN=svc 'subjectAltName=email:svc@acme.example'"
	    " ca2 2 && cat ca.pem ca2.pem > both.pem") != 0)
		return -1;
	if (h_shell(&out, "printf 'tls-pw\\n' | %s --hash-password",
	    bin) != 0 || strncmp(out, "$y$", 3) != 0) {
		fprintf(stderr, "--hash-password: %s\n", out);
		free(out);
		return -1;
	}
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	snprintf(pwhash, sizeof(pwhash), "%s", out);
	free(out);
	return 0;
}

static int
remove_certs(void **state)
{
	char *out;

	(void)state;
	if (certs[0] != '\0')
		h_shell(&out, "rm -rf %s", certs), free(out);
	return h_cleanup();
}

/* A daemon with one TLS listener (tls: the listener's tls mapping body)
 * and the auth section auth ("" for none). */
static struct h_daemon *
tls_daemon(const char *tls, const char *auth)
{
	struct h_daemon *d = h_daemon_new();

	h_daemon_conf(d, "listeners:\n  - address: \"127.0.0.1:0\"\n"
	    "    tls: { %s }\n%s\n", tls, auth);
	h_daemon_start(d, NULL);
	return d;
}

static char *
server_tls(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "cert: %s/%s.pem, key: %s/%s.key", certs,
	    name, certs, name);
	return buf;
}

/* ---- libnats ---- */

static char	 async_err[256];

static void
on_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
    void *closure)
{
	(void)sub;
	(void)closure;
	snprintf(async_err, sizeof(async_err), "%s: %s",
	    natsStatus_GetText(err), nats_GetLastError(NULL) ?
	    nats_GetLastError(NULL) : "");
	(void)nc;
}

/* Options for a TLS connection to port trusting ca, with a client
 * certificate (NULL: none) and user/password (NULL: none). */
static natsOptions *
tls_opts(int port, const char *ca, const char *client, const char *user,
    const char *pw)
{
	natsOptions *o = NULL;
	char url[64], c[300], k[300];

	NOK(natsOptions_Create(&o));
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	NOK(natsOptions_SetURL(o, url));
	NOK(natsOptions_SetTimeout(o, NATS_MS));
	NOK(natsOptions_SetAllowReconnect(o, false));
	NOK(natsOptions_SetErrorHandler(o, on_error, NULL));
	if (ca != NULL) {
		NOK(natsOptions_SetSecure(o, true));
		NOK(natsOptions_LoadCATrustedCertificates(o, ca));
		NOK(natsOptions_SetExpectedHostname(o, "localhost"));
	}
	if (client != NULL) {
		snprintf(c, sizeof(c), "%s/%s.pem", certs, client);
		snprintf(k, sizeof(k), "%s/%s.key", certs, client);
		NOK(natsOptions_LoadCertificatesChain(o, c, k));
	}
	if (user != NULL)
		NOK(natsOptions_SetUserInfo(o, user, pw));
	return o;
}

static natsConnection *
nats_ok(natsOptions *o)
{
	natsConnection *nc = NULL;

	if (natsConnection_Connect(&nc, o) != NATS_OK)
		fail_msg("connect: %s", nats_GetLastError(NULL));
	natsOptions_Destroy(o);
	return nc;
}

/* The connection fails; libnats' error must contain want. */
static void
nats_refused(natsOptions *o, const char *want)
{
	natsConnection *nc = NULL;
	const char *e;

	if (natsConnection_Connect(&nc, o) == NATS_OK) {
		natsConnection_Destroy(nc);
		fail_msg("connected, expected \"%s\"", want);
	}
	e = nats_GetLastError(NULL);
	if (e == NULL || strcasestr(e, want) == NULL)
		fail_msg("error \"%s\", expected \"%s\"", e ? e : "", want);
	natsOptions_Destroy(o);
}

/* A message goes from nc to itself on subject. */
static void
roundtrip(natsConnection *nc, const char *subject)
{
	natsSubscription *sub = NULL;
	natsMsg *m = NULL;

	NOK(natsConnection_SubscribeSync(&sub, nc, subject));
	NOK(natsConnection_PublishString(nc, subject, "ping"));
	NOK(natsSubscription_NextMsg(&m, sub, NATS_MS));
	assert_string_equal(natsMsg_GetData(m), "ping");
	natsMsg_Destroy(m);
	natsSubscription_Destroy(sub);
}

static void
wait_async_err(const char *want)
{
	int i;

	for (i = 0; i < 300 && strstr(async_err, want) == NULL; i++)
		nap(10);
	if (strstr(async_err, want) == NULL)
		fail_msg("async error \"%s\", expected \"%s\"", async_err,
		    want);
}

/* ---- tests ---- */

static void
test_tls_libnats_user_password(void **state)
{
	char auth[512];
	struct h_daemon *d;
	natsConnection *nc;

	(void)state;
	snprintf(auth, sizeof(auth), "auth:\n  users:\n    - { user: alice, "
	    "password: \"%s\" }\n", pwhash);
	d = tls_daemon(server_tls("server"), auth);
	assert_true(h_daemon_log_wait(d, ": tls, client certificates not "
	    "asked", H_IO_MS));
	nc = nats_ok(tls_opts(d->port, cert("ca.pem"), NULL, "alice",
	    "tls-pw"));
	roundtrip(nc, "tls.hello");
	natsConnection_Destroy(nc);
	nats_refused(tls_opts(d->port, cert("ca.pem"), NULL, "alice",
	    "wrong"), "Authorization Violation");
	assert_true(h_daemon_log_wait(d, "bad password", H_IO_MS));
	assert_false(h_daemon_log_wait(d, "tls-pw", 0));
}

static void
test_tls_corobus_client(void **state)
{
	const char *bin = getenv("COROBUS");
	struct h_daemon *d;
	char auth[512], *out, *sout;
	FILE *sub;
	size_t n;
	int st;

	(void)state;
	assert_non_null(bin);
	snprintf(auth, sizeof(auth), "auth:\n  users:\n    - { user: alice, "
	    "password: \"%s\" }\n", pwhash);
	d = tls_daemon(server_tls("server"), auth);
	snprintf(auth, sizeof(auth), "%s -L tls://alice:tls-pw@localhost:%d "
	    "--cafile %s sub -C 1 -W 5s tls.cli 2>&1", bin, d->port,
	    cert("ca.pem"));
	assert_non_null(sub = popen(auth, "r"));
	nap(500);
	st = h_shell(&out, "%s -L tls://alice:tls-pw@localhost:%d --cafile %s "
	    "pub tls.cli hello-tls 2>&1", bin, d->port, cert("ca.pem"));
	assert_int_equal(st, 0);
	free(out);
	sout = calloc(1, 4096);
	n = fread(sout, 1, 4095, sub);
	assert_int_equal(WEXITSTATUS(pclose(sub)), 0);
	assert_true(n > 0);
	assert_non_null(strstr(sout, "hello-tls"));
	free(sout);
	/* a wrong password over TLS: refused, exit 77 */
	st = h_shell(&out, "%s -L tls://alice:nope@localhost:%d --cafile %s "
	    "pub tls.cli x 2>&1", bin, d->port, cert("ca.pem"));
	assert_int_equal(st, 77);
	assert_non_null(strstr(out, "Authorization Violation"));
	free(out);
}

/* The corobus client is refused with want in its message, and the
 * daemon logs a failed handshake with why. */
static void
client_refused(struct h_daemon *d, const char *ca, const char *want,
    const char *why)
{
	char *out;
	int st;

	st = h_shell(&out, "%s -L tls://localhost:%d --cafile %s pub x y 2>&1",
	    getenv("COROBUS"), d->port, ca);
	if (st == 0 || strstr(out, want) == NULL)
		fail_msg("corobus: status %d, wanted \"%s\" in: %s", st, want,
		    out);
	free(out);
	assert_true(h_daemon_log_wait(d, "tls handshake failed", H_IO_MS));
	if (why != NULL && !h_daemon_log_wait(d, why, H_IO_MS))
		fail_msg("daemon log lacks \"%s\"", why);
}

static void
test_tls_refusals(void **state)
{
	struct h_daemon *d;
	struct h_conn *c;
	char *info;

	(void)state;
	/* an unknown CA */
	d = tls_daemon(server_tls("server"), "");
	client_refused(d, cert("ca2.pem"), "certificate verify failed",
	    "unknown ca");
	nats_refused(tls_opts(d->port, cert("ca2.pem"), NULL, NULL, NULL),
	    "SSL handshake error");
	/* plain text on the TLS port */
	c = h_conn_tcp(d->port);
	info = h_line(c, H_IO_MS);
	assert_non_null(info);
	assert_non_null(strstr(info, "\"tls_required\":true"));
	free(info);
	h_sendf(c, "CONNECT {}\r\nPING\r\n");
	assert_true(h_eof(c, 5000));
	assert_true(h_daemon_log_wait(d, "wrong version number", H_IO_MS) ||
	    h_daemon_log_wait(d, "http request", 0) ||
	    h_daemon_log_wait(d, "tls handshake failed", 0));
	nats_refused(tls_opts(d->port, NULL, NULL, NULL, NULL),
	    "SSL handshake error");
	h_daemon_free(d);
	/* an expired certificate */
	d = tls_daemon(server_tls("expired"), "");
	client_refused(d, cert("ca.pem"), "certificate has expired",
	    "certificate expired");
	nats_refused(tls_opts(d->port, cert("ca.pem"), NULL, NULL, NULL),
	    "SSL handshake error");
	h_daemon_free(d);
	/* a certificate for another name */
	d = tls_daemon(server_tls("wrongname"), "");
	client_refused(d, cert("ca.pem"), "hostname mismatch", NULL);
	nats_refused(tls_opts(d->port, cert("ca.pem"), NULL, NULL, NULL),
	    "SSL handshake error");
}

static void
test_tls_handshake_timeout(void **state)
{
	char tls[600];
	struct h_daemon *d;
	struct h_conn *c;
	char *info;

	(void)state;
	snprintf(tls, sizeof(tls), "%s, handshake_timeout: 300ms",
	    server_tls("server"));
	d = tls_daemon(tls, "auth: { token: t, timeout: 100ms }");
	c = h_conn_tcp(d->port);
	info = h_line(c, H_IO_MS);
	assert_non_null(info);
	free(info);
	/* the auth timer starts after TLS: the TLS -ERR comes first */
	h_expect(c, "-ERR 'Secure Connection - TLS Required'", 3000);
	assert_true(h_eof(c, H_IO_MS));
	assert_true(h_daemon_log_wait(d, "tls handshake timeout", H_IO_MS));
	assert_false(h_daemon_log_wait(d, "authentication timeout", 0));
}

static void
test_tls_client_certificates(void **state)
{
	char tls[800];
	struct h_daemon *d;
	natsConnection *nc;
	natsSubscription *sub = NULL;
	natsMsg *m = NULL;

	(void)state;
	snprintf(tls, sizeof(tls), "%s, ca: %s, verify: required, map: true",
	    server_tls("server"), cert("ca.pem"));
	d = tls_daemon(tls, "auth:\n  users:\n"
	    "    - { user: svc@acme.example, permissions: { publish: "
	    "[ \"svc.>\" ], subscribe: [ \"svc.>\" ] } }\n"
	    "    - { user: \"CN=dn-user,O=acme\", permissions: { publish: "
	    "{ deny: [ \"svc.>\" ] } } }\n");
	/* required: without a certificate, or with a rogue one, refused */
	nats_refused(tls_opts(d->port, cert("ca.pem"), NULL, NULL, NULL), "");
	assert_true(h_daemon_log_wait(d, "did not return a certificate",
	    H_IO_MS));
	nats_refused(tls_opts(d->port, cert("ca.pem"), "rogue", NULL, NULL),
	    "");
	assert_true(h_daemon_log_wait(d, "certificate verify failed",
	    H_IO_MS));
	/* the email SAN maps to a user, who gets its permissions */
	nc = nats_ok(tls_opts(d->port, cert("ca.pem"), "client", NULL, NULL));
	roundtrip(nc, "svc.a");
	async_err[0] = '\0';
	NOK(natsConnection_PublishString(nc, "other", "x"));
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	wait_async_err("Permissions Violation for Publish to \"other\"");
	natsConnection_Destroy(nc);
	/* the subject DN, RFC 2253 style */
	nc = nats_ok(tls_opts(d->port, cert("ca.pem"), "client2", NULL,
	    NULL));
	NOK(natsConnection_SubscribeSync(&sub, nc, "dn.>"));
	NOK(natsConnection_PublishString(nc, "dn.x", "y"));
	NOK(natsSubscription_NextMsg(&m, sub, NATS_MS));
	natsMsg_Destroy(m);
	async_err[0] = '\0';
	NOK(natsConnection_PublishString(nc, "svc.x", "x"));
	NOK(natsConnection_FlushTimeout(nc, NATS_MS));
	wait_async_err("Permissions Violation for Publish to \"svc.x\"");
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	h_daemon_free(d);
	/* optional: no certificate is fine (then a password is needed) */
	snprintf(tls, sizeof(tls), "%s, ca: %s, verify: optional, map: true",
	    server_tls("server"), cert("ca.pem"));
	d = tls_daemon(tls, "auth:\n  users:\n"
	    "    - { user: svc@acme.example }\n"
	    "    - { user: pw-user, password: pw }\n");
	nc = nats_ok(tls_opts(d->port, cert("ca.pem"), NULL, "pw-user",
	    "pw"));
	roundtrip(nc, "opt.a");
	natsConnection_Destroy(nc);
	nats_refused(tls_opts(d->port, cert("ca.pem"), NULL, NULL, NULL),
	    "Authorization Violation");
	nc = nats_ok(tls_opts(d->port, cert("ca.pem"), "client", NULL, NULL));
	roundtrip(nc, "opt.b");
	natsConnection_Destroy(nc);
	nats_refused(tls_opts(d->port, cert("ca.pem"), "rogue", NULL, NULL),
	    "");
}

static void
test_tls_reload_keeps_connections(void **state)
{
	struct h_daemon *d = h_daemon_new();
	natsConnection *nc;
	char *out, cp[256], ck[256];

	(void)state;
	snprintf(cp, sizeof(cp), "%s", h_daemon_path(d, "cur.pem"));
	snprintf(ck, sizeof(ck), "%s", h_daemon_path(d, "cur.key"));
	assert_int_equal(h_shell(&out, "cp %s %s && cp %s %s",
	    cert("server.pem"), cp, cert("server.key"), ck), 0);
	free(out);
	h_daemon_conf(d, "listeners:\n  - address: \"127.0.0.1:0\"\n"
	    "    tls: { cert: cur.pem, key: cur.key }\n");
	h_daemon_start(d, NULL);
	nc = nats_ok(tls_opts(d->port, cert("ca.pem"), NULL, NULL, NULL));
	roundtrip(nc, "before");
	/* a certificate from the other CA, same paths */
	assert_int_equal(h_shell(&out, "cp %s %s && cp %s %s",
	    cert("server2.pem"), cp, cert("server2.key"), ck), 0);
	free(out);
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "tls certificate, key and CA "
	    "reloaded", 5000));
	/* the live connection keeps going */
	roundtrip(nc, "after");
	natsConnection_Destroy(nc);
	/* new ones get the new certificate */
	nats_refused(tls_opts(d->port, cert("ca.pem"), NULL, NULL, NULL),
	    "SSL handshake error");
	nc = nats_ok(tls_opts(d->port, cert("ca2.pem"), NULL, NULL, NULL));
	roundtrip(nc, "new");
	natsConnection_Destroy(nc);
	/* a broken file on reload keeps the running certificate */
	assert_int_equal(h_shell(&out, "echo junk > %s", cp), 0);
	free(out);
	h_daemon_signal(d, SIGHUP);
	assert_true(h_daemon_log_wait(d, "keeping the previous certificate",
	    5000));
	nc = nats_ok(tls_opts(d->port, cert("ca2.pem"), NULL, NULL, NULL));
	natsConnection_Destroy(nc);
}

static void
test_tls_first(void **state)
{
	char tls[600], *out;
	struct h_daemon *d;

	(void)state;
	snprintf(tls, sizeof(tls), "%s, first: true", server_tls("server"));
	d = tls_daemon(tls, "");
	assert_true(h_daemon_log_wait(d, ": tls first", H_IO_MS));
	(void)h_shell(&out, "(printf 'CONNECT {\"verbose\":false}\\r\\n"
	    "PING\\r\\n'; sleep 1) | timeout 10 %s s_client -quiet "
	    "-no_ign_eof -connect "
	    "127.0.0.1:%d -servername localhost -CAfile %s "
	    "-verify_return_error 2>&1", h_openssl(), d->port,
	    cert("ca.pem"));
	if (strstr(out, "INFO {") == NULL || strstr(out, "PONG") == NULL)
		fail_msg("s_client: %s", out);
	/* TLS first: INFO comes encrypted, so it says tls_required */
	assert_non_null(strstr(out, "\"tls_required\":true"));
	free(out);
}

static void
conf_error(const char *tls, const char *want)
{
	struct h_daemon *d = h_daemon_new();
	char *out = NULL;
	int st;

	h_daemon_conf(d, "listeners:\n  - address: \"127.0.0.1:0\"\n"
	    "    tls: { %s }\n", tls);
	st = h_corobusd_run(&out, "-t", "-c", d->conf, NULL);
	if (st != 78 || out == NULL || strstr(out, want) == NULL)
		fail_msg("corobusd -t: status %d, wanted \"%s\" in: %s", st,
		    want, out ? out : "");
	free(out);
	h_daemon_free(d);
}

static void
test_tls_config_errors(void **state)
{
	char tls[800];

	(void)state;
	conf_error("cert: /nonexistent.pem, key: /nonexistent.key",
	    "certificate /nonexistent.pem: No such file");
	snprintf(tls, sizeof(tls), "cert: %s, key: %s", cert("server.pem"),
	    cert("client.key"));
	conf_error(tls, "or they do not match");
	snprintf(tls, sizeof(tls), "cert: %s", cert("server.pem"));
	conf_error(tls, "tls.cert and tls.key go together");
	snprintf(tls, sizeof(tls), "%s, verify: required",
	    server_tls("server"));
	conf_error(tls, "required when tls.verify is not none");
	snprintf(tls, sizeof(tls), "%s, map: true", server_tls("server"));
	conf_error(tls, "needs tls.verify optional or required");
	snprintf(tls, sizeof(tls), "%s, verify: optional, ca: /nonexistent",
	    server_tls("server"));
	conf_error(tls, "CA file /nonexistent");
	conf_error("verify: sometimes", "is not one of none, optional, "
	    "required");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tls_libnats_user_password,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_tls_corobus_client,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_tls_refusals, h_test_teardown),
		cmocka_unit_test_teardown(test_tls_handshake_timeout,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_tls_client_certificates,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_tls_reload_keeps_connections,
		    h_test_teardown),
		cmocka_unit_test_teardown(test_tls_first, h_test_teardown),
		cmocka_unit_test_teardown(test_tls_config_errors,
		    h_test_teardown),
	};

	nats_Open(-1);
	return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
