/*
 * test_tls.c: TLS streams against certificates made at setup time with the
 * openssl command (a CA, a server certificate for localhost, 127.0.0.1
 * and ::1, and a second CA that signed nothing): handshake and echo over
 * TCP with a reader and a writer task sharing the SSL object, verification
 * failures (wrong CA, wrong name) with their reasons, a plain client
 * against a TLS server, STARTTLS with the ClientHello already buffered,
 * a peer vanishing without close_notify, and deadlines.
 *
 * Checks inside tasks use CHECK*, which record the first failure and
 * return from the task; the test then fails with the recorded message.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/ssl.h>

#include "test_helpers.h"

/* ---- certificates ---- */

static char dir[64];
static char ca_pem[128], ca2_pem[128], srv_pem[128], srv_key[128];

static int sh(const char *, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int
certs_setup(void **state)
{
	const char *ossl = getenv("OPENSSL");
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes";

	(void)state;
	if (ossl == NULL || *ossl == '\0')
		ossl = "openssl";
	snprintf(dir, sizeof(dir), "/tmp/test_tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
	snprintf(ca2_pem, sizeof(ca2_pem), "%s/ca2.pem", dir);
	snprintf(srv_pem, sizeof(srv_pem), "%s/srv.pem", dir);
	snprintf(srv_key, sizeof(srv_key), "%s/srv.key", dir);
	if (sh("%s req -x509 %s -keyout %s/ca.key -out %s -days 2 "
	    "-subj '/CN=libcoro test CA' 2>/dev/null", ossl, ec, dir,
	    ca_pem) != 0 ||
	    sh("%s req -x509 %s -keyout %s/ca2.key -out %s -days 2 "
	    "-subj '/CN=libcoro other CA' 2>/dev/null", ossl, ec, dir,
	    ca2_pem) != 0 ||
	    sh("%s req %s -keyout %s -out %s/srv.csr -subj /CN=localhost "
	    "-addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 "
	    "2>/dev/null", ossl, ec, srv_key, dir) != 0 ||
	    sh("%s x509 -req -in %s/srv.csr -CA %s -CAkey %s/ca.key "
	    "-CAcreateserial -out %s -days 2 -copy_extensions copy "
	    ">/dev/null 2>&1", ossl, dir, ca_pem, dir, srv_pem) != 0) {
		fprintf(stderr, "test_tls: could not make certificates with "
		    "%s\n", ossl);
		return -1;
	}
	return 0;
}

static int
certs_teardown(void **state)
{
	(void)state;
	return sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

/* ---- a server and a client ---- */

struct tls_case {
	const char	*cafile;	/* the client's */
	const char	*hostname;	/* what the client checks */
	bool		 plain_client;
	int		 client_err;	/* from coro_tls_client */
	const char	*client_why;	/* expected in coro_tls_error */
	int		 server_err;	/* from coro_tls_server */
	char		 server_why[256];
	size_t		 echo_bytes;	/* after the handshake */
	bool		 truncate;	/* no close_notify from client */
	coro_listener	*l;
};

static int
server_body(void *arg)
{
	struct tls_case *tc = arg;
	SSL_CTX *ctx;
	coro_stream *s;
	char *buf;
	ssize_t n;

	CHECK((ctx = coro_tls_server_ctx_new(srv_pem, srv_key)) != NULL);
	CHECK_EQ(coro_accept(tc->l, &s, NULL, NULL, coro_deadline_in(3000)),
	    0);
	tc->server_err = coro_tls_server(s, ctx, coro_deadline_in(3000));
	snprintf(tc->server_why, sizeof(tc->server_why), "%s",
	    coro_tls_error(s));
	if (tc->server_err == 0) {
		CHECK((buf = malloc(16384)) != NULL);
		/* echo until close_notify, then send ours */
		while ((n = coro_stream_read(s, buf, 16384,
		    coro_deadline_in(3000))) > 0)
			CHECK_EQ(coro_stream_write_all(s, buf, (size_t)n,
			    coro_deadline_in(3000)), 0);
		free(buf);
		if (tc->truncate) {
			CHECK_EQ(n, -ECONNRESET);
			CHECK(strstr(coro_tls_error(s), "unexpected eof") !=
			    NULL);
		} else {
			CHECK_EQ(n, 0);
			CHECK_EQ(coro_stream_shutdown(s,
			    coro_deadline_in(3000)), 0);
		}
	}
	coro_stream_close(s);
	SSL_CTX_free(ctx);
	return 0;
}

struct sink {
	coro_stream	*s;
	size_t		 got;
	bool		 bad;
};

/* The client's reader, beside its writer on the same SSL. */
static int
sink_body(void *arg)
{
	struct sink *k = arg;
	unsigned char *buf;
	ssize_t n, i;

	CHECK((buf = malloc(16384)) != NULL);
	while ((n = coro_stream_read(k->s, buf, 16384,
	    coro_deadline_in(3000))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((k->got + i) % 253))
				k->bad = true;
		k->got += (size_t)n;
	}
	free(buf);
	return (int)n;
}

static int
client_body(void *arg)
{
	struct tls_case *tc = arg;
	struct sink k = { 0 };
	SSL_CTX *ctx;
	coro_stream *c;
	coro_task *server, *reader;
	unsigned char *data;
	char port[16], buf[64];
	size_t i;
	int err;

	CHECK_EQ(coro_tcp_listen(here(), "127.0.0.1", "0", 4, &tc->l), 0);
	snprintf(port, sizeof(port), "%d", coro_listener_port(tc->l));
	CHECK((server = coro_spawn(here(), server_body, tc, NULL)) != NULL);
	CHECK((ctx = coro_tls_client_ctx_new(tc->cafile)) != NULL);
	CHECK_EQ(coro_tcp_connect(here(), "127.0.0.1", port,
	    coro_deadline_in(3000), &c), 0);
	if (tc->plain_client) {
		CHECK_EQ(coro_stream_write_all(c, "GET / HTTP/1.0\r\n\r\n", 18,
		    coro_deadline_in(3000)), 0);
		/* whatever comes back (an alert, or nothing), it ends */
		while ((err = (int)coro_stream_read(c, buf, sizeof(buf),
		    coro_deadline_in(3000))) > 0)
			;
		CHECK(err == 0 || err == -ECONNRESET);
		goto done;
	}
	err = coro_tls_client(c, ctx, tc->hostname, coro_deadline_in(3000));
	CHECK_EQ(err, tc->client_err);
	if (tc->client_why != NULL)
		CHECK(strstr(coro_tls_error(c), tc->client_why) != NULL);
	if (err != 0) {
		/* only close is left */
		CHECK_EQ(coro_stream_read(c, buf, sizeof(buf), CORO_NEVER),
		    err);
		goto done;
	}
	CHECK(coro_stream_ssl(c) != NULL);
	CHECK(SSL_version(coro_stream_ssl(c)) >= TLS1_2_VERSION);
	CHECK_EQ(coro_tls_error(c)[0], '\0');
	if (tc->truncate) {
		CHECK_EQ(coro_stream_write_all(c, "x", 1,
		    coro_deadline_in(3000)), 0);
		CHECK_EQ(coro_stream_read_exact(c, buf, 1,
		    coro_deadline_in(3000)), 1);
		/* gone without close_notify */
		CHECK_EQ(shutdown(coro_stream_fd(c), SHUT_RDWR), 0);
		goto done;
	}
	k.s = c;
	CHECK((reader = coro_spawn(here(), sink_body, &k, NULL)) != NULL);
	CHECK((data = malloc(tc->echo_bytes)) != NULL);
	for (i = 0; i < tc->echo_bytes; i++)
		data[i] = (unsigned char)(i % 253);
	/* more than the socket buffers hold: both sides must interleave */
	CHECK_EQ(coro_stream_write_all(c, data, tc->echo_bytes,
	    coro_deadline_in(5000)), 0);
	free(data);
	CHECK_EQ(coro_stream_shutdown(c, coro_deadline_in(3000)), 0);
	CHECK_EQ(coro_join(reader, NULL, coro_deadline_in(5000)), 0);
	coro_task_unref(reader);
	CHECK_EQ(k.got, tc->echo_bytes);
	CHECK(!k.bad);
 done:
	coro_stream_close(c);
	CHECK_EQ(coro_join(server, NULL, coro_deadline_in(3000)), 0);
	coro_task_unref(server);
	coro_listener_close(tc->l);
	SSL_CTX_free(ctx);
	return 0;
}

static void
test_tls_handshake_and_echo(void **state)
{
	struct tls_case tc = { .cafile = ca_pem, .hostname = "localhost",
	    .echo_bytes = 1024 * 1024 };

	(void)state;
	run_checked(client_body, &tc);
	assert_int_equal(tc.server_err, 0);
}

static void
test_tls_ip_address_verified(void **state)
{
	struct tls_case tc = { .cafile = ca_pem, .hostname = "127.0.0.1",
	    .echo_bytes = 100 };

	(void)state;
	run_checked(client_body, &tc);
	assert_int_equal(tc.server_err, 0);
}

static void
test_tls_wrong_ca_fails_verify(void **state)
{
	struct tls_case tc = { .cafile = ca2_pem, .hostname = "localhost",
	    .client_err = -EPROTO, .client_why = "verify" };

	(void)state;
	run_checked(client_body, &tc);
	/* the server hears the client's alert */
	assert_true(tc.server_err < 0);
}

static void
test_tls_wrong_hostname_fails(void **state)
{
	struct tls_case tc = { .cafile = ca_pem, .hostname = "example.com",
	    .client_err = -EPROTO, .client_why = "hostname mismatch" };

	(void)state;
	run_checked(client_body, &tc);
	assert_true(tc.server_err < 0);
}

static void
test_tls_plain_client_against_tls_server(void **state)
{
	struct tls_case tc = { .cafile = ca_pem, .plain_client = true };

	(void)state;
	run_checked(client_body, &tc);
	assert_int_equal(tc.server_err, -EPROTO);
	assert_true(tc.server_why[0] != '\0');
}

static void
test_tls_truncation_is_reset(void **state)
{
	struct tls_case tc = { .cafile = ca_pem, .hostname = "localhost",
	    .truncate = true };

	(void)state;
	run_checked(client_body, &tc);
	assert_int_equal(tc.server_err, 0);
}

/* ---- STARTTLS: the ClientHello is read with the command ---- */

struct starttls {
	coro_stream	*s;
	SSL_CTX		*ctx;
};

static int
starttls_client(void *arg)
{
	struct starttls *st = arg;
	char buf[64];

	CHECK_EQ(coro_stream_write_all(st->s, "STARTTLS\n", 9,
	    coro_deadline_in(3000)), 0);
	/* no reply awaited: the hello follows the command at once */
	CHECK_EQ(coro_tls_client(st->s, st->ctx, "localhost",
	    coro_deadline_in(3000)), 0);
	CHECK_EQ(coro_stream_write_all(st->s, "secret\n", 7,
	    coro_deadline_in(3000)), 0);
	CHECK_EQ(coro_stream_read_line(st->s, buf, sizeof(buf),
	    coro_deadline_in(3000)), 3);
	CHECK(strcmp(buf, "ok\n") == 0);
	return 0;
}

static int
starttls_body(void *arg)
{
	struct starttls cl;
	SSL_CTX *sctx;
	coro_stream *s;
	coro_task *t;
	char buf[64];
	int sv[2];

	(void)arg;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK((s = coro_stream_from_fd(here(), sv[0])) != NULL);
	CHECK((cl.s = coro_stream_from_fd(here(), sv[1])) != NULL);
	CHECK((cl.ctx = coro_tls_client_ctx_new(ca_pem)) != NULL);
	CHECK((sctx = coro_tls_server_ctx_new(srv_pem, srv_key)) != NULL);
	CHECK((t = coro_spawn(here(), starttls_client, &cl, NULL)) != NULL);
	CHECK_EQ(coro_sleep(50), 0);
	CHECK_EQ(coro_stream_read_line(s, buf, sizeof(buf),
	    coro_deadline_in(3000)), 9);
	CHECK(strcmp(buf, "STARTTLS\n") == 0);
	/* the hello came in the same read */
	CHECK(evbuffer_get_length(coro_stream_input(s)) > 0);
	CHECK(coro_stream_ssl(s) == NULL);
	CHECK_EQ(coro_tls_server(s, sctx, coro_deadline_in(3000)), 0);
	CHECK_EQ(coro_stream_read_line(s, buf, sizeof(buf),
	    coro_deadline_in(3000)), 7);
	CHECK(strcmp(buf, "secret\n") == 0);
	CHECK_EQ(coro_stream_write_all(s, "ok\n", 3, coro_deadline_in(3000)),
	    0);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(3000)), 0);
	coro_task_unref(t);
	/* a second upgrade is refused */
	CHECK_EQ(coro_tls_server(s, sctx, CORO_NEVER), -EINVAL);
	coro_stream_close(cl.s);
	coro_stream_close(s);
	SSL_CTX_free(cl.ctx);
	SSL_CTX_free(sctx);
	return 0;
}

static void
test_tls_starttls_keeps_buffered_hello(void **state)
{
	(void)state;
	run_checked(starttls_body, NULL);
}

/* ---- deadlines and argument errors ---- */

static int
deadline_body(void *arg)
{
	SSL_CTX *ctx;
	coro_stream *c;
	int sv[2];
	int64_t t0;

	(void)arg;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK((c = coro_stream_from_fd(here(), sv[0])) != NULL);
	CHECK((ctx = coro_tls_client_ctx_new(ca_pem)) != NULL);
	CHECK_EQ(coro_tls_client(c, NULL, NULL, CORO_NEVER), -EINVAL);
	CHECK(coro_stream_ssl(c) == NULL);
	CHECK_EQ(coro_tls_error(c)[0], '\0');
	/* the peer never answers the hello */
	t0 = coro_now();
	CHECK_EQ(coro_tls_client(c, ctx, "localhost", coro_deadline_in(100)),
	    -ETIMEDOUT);
	CHECK(coro_now() - t0 >= 90);
	CHECK(coro_stream_ssl(c) != NULL);
	coro_stream_close(c);
	close(sv[1]);
	SSL_CTX_free(ctx);
	return 0;
}

static void
test_tls_handshake_deadline(void **state)
{
	(void)state;
	run_checked(deadline_body, NULL);
}

static void
test_tls_ctx_bad_files(void **state)
{
	(void)state;
	errno = 0;
	assert_null(coro_tls_server_ctx_new("/nonexistent/cert.pem", srv_key));
	assert_int_equal(errno, ENOENT);
	/* a key that does not match the certificate */
	errno = 0;
	assert_null(coro_tls_server_ctx_new(srv_pem, ca_pem));
	assert_int_not_equal(errno, 0);
	errno = 0;
	assert_null(coro_tls_client_ctx_new("/nonexistent/ca.pem"));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(coro_tls_error(NULL), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_handshake_and_echo),
		cmocka_unit_test(test_tls_ip_address_verified),
		cmocka_unit_test(test_tls_wrong_ca_fails_verify),
		cmocka_unit_test(test_tls_wrong_hostname_fails),
		cmocka_unit_test(test_tls_plain_client_against_tls_server),
		cmocka_unit_test(test_tls_truncation_is_reset),
		cmocka_unit_test(test_tls_starttls_keeps_buffered_hello),
		cmocka_unit_test(test_tls_handshake_deadline),
		cmocka_unit_test(test_tls_ctx_bad_files),
	};

	return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
