/*
 * tls.c: TLS on streams with OpenSSL 3, driven directly on the stream's
 * non-blocking fd.  The stream keeps plaintext in its evbuffers; upgrading
 * swaps its plain transport for this one and runs the handshake.
 *
 * OpenSSL talks to the socket through a small BIO of ours rather than its
 * socket BIO: it sends with MSG_NOSIGNAL (the socket BIO uses write() and
 * a reset peer would raise SIGPIPE), clears the stream's readiness flags
 * on EAGAIN exactly like the plain transport, and first hands OpenSSL any
 * bytes the plain stream had already read (a ClientHello arriving right
 * behind a STARTTLS line).  Every SSL call is preceded by ERR_clear_error()
 * and followed by SSL_get_error() before anything can suspend: the error
 * queue is per thread, shared by every task of the loop.  WANT_READ waits
 * for readability and WANT_WRITE for writability, whichever call asked.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "coro-internal.h"
#include "stream-internal.h"

#define TLS_READ_SIZE	16384	/* one record's worth of plaintext */
#define TLS_WRITE_SIZE	16384
#define TLS_CLOSE_MS	1000	/* close_notify budget when closing */
#define TLS_MODES	(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | \
			 SSL_MODE_ENABLE_PARTIAL_WRITE)

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

/* ---- the BIO between OpenSSL and the stream's fd ---- */

static int
tls_bio_write(BIO *b, const char *buf, int len)
{
	struct coro_stream *s = BIO_get_data(b);
	ssize_t n;
	int err;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (!s->writable) {
		BIO_set_retry_write(b);
		return -1;
	}
	do
		n = send(s->fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK) {
			s->writable = false;
			BIO_set_retry_write(b);
		} else
			s->tls_syserr = err;
		return -1;
	}
	return (int)n;
}

static int
tls_bio_read(BIO *b, char *buf, int len)
{
	struct coro_stream *s = BIO_get_data(b);
	ssize_t n;
	int err;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (s->tls_pre != NULL && evbuffer_get_length(s->tls_pre) > 0)
		return evbuffer_remove(s->tls_pre, buf, (size_t)len);
	if (!s->readable) {
		BIO_set_retry_read(b);
		return -1;
	}
	do
		n = recv(s->fd, buf, (size_t)len, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK) {
			s->readable = false;
			BIO_set_retry_read(b);
		} else
			s->tls_syserr = err;
		return -1;
	}
	if (n == 0)
		s->tls_bio_eof = true;
	return (int)n;
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct coro_stream *s = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		/* OpenSSL 3 tells an unexpected EOF from a syscall error by
		 * asking this after a read returned 0. */
		return s != NULL && s->tls_bio_eof;
	case BIO_CTRL_PENDING:
		return s != NULL && s->tls_pre != NULL ?
		    (long)evbuffer_get_length(s->tls_pre) : 0;
	default:
		return 0;
	}
}

static int
tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
tls_bio_init(void)
{
	BIO_METHOD *m;

	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "libcoro stream");
	if (m == NULL)
		return;
	if (BIO_meth_set_write(m, tls_bio_write) != 1 ||
	    BIO_meth_set_read(m, tls_bio_read) != 1 ||
	    BIO_meth_set_ctrl(m, tls_bio_ctrl) != 1 ||
	    BIO_meth_set_create(m, tls_bio_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	tls_bio_method = m;
}

/* ---- errors ---- */

/* Turns SSL_get_error()'s answer into our convention, recording the
 * reason for coro_tls_error(): -EAGAIN with s->want set, 0 for a
 * close_notify from the peer, else a negative errno that sticks. */
static int
tls_result(struct coro_stream *s, int e)
{
	char buf[128];
	unsigned long code;
	long vr;
	const char *why;
	int err;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		s->want = CORO_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		s->want = CORO_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (s->tls_syserr != 0) {
			err = -s->tls_syserr;
			snprintf(s->tls_err, sizeof(s->tls_err), "%s",
			    strerror_r(s->tls_syserr, buf, sizeof(buf)));
		} else {
			err = -ECONNRESET;
			snprintf(s->tls_err, sizeof(s->tls_err),
			    "unexpected eof while reading");
		}
		break;
	case SSL_ERROR_SSL:
		code = ERR_peek_error();
		err = -EPROTO;
		if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING)
			err = -ECONNRESET;	/* no close_notify */
		if ((why = ERR_reason_error_string(code)) == NULL) {
			ERR_error_string_n(code, buf, sizeof(buf));
			why = buf;
		}
		vr = SSL_get_verify_result(s->ssl);
		if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) ==
		    SSL_R_CERTIFICATE_VERIFY_FAILED && vr != X509_V_OK)
			snprintf(s->tls_err, sizeof(s->tls_err), "%s: %s", why,
			    X509_verify_cert_error_string(vr));
		else
			snprintf(s->tls_err, sizeof(s->tls_err), "%s", why);
		break;
	default:
		err = -EPROTO;
		snprintf(s->tls_err, sizeof(s->tls_err),
		    "SSL_get_error() said %d", e);
		break;
	}
	ERR_clear_error();
	/* OpenSSL forbids further calls, SSL_shutdown() included */
	s->tls_fatal = err;
	return err;
}

/* ---- the TLS transport ---- */

static ssize_t
tls_recv(struct coro_stream *s, void *buf, size_t len)
{
	size_t got;

	if (s->tls_fatal != 0)
		return s->tls_fatal;
	ERR_clear_error();
	s->tls_syserr = 0;
	if (SSL_read_ex(s->ssl, buf, len, &got) == 1)
		return (ssize_t)got;
	return tls_result(s, SSL_get_error(s->ssl, 0));
}

static ssize_t
tls_read(struct coro_stream *s)
{
	struct evbuffer_iovec v;
	ssize_t n;

	if (s->tls_fatal != 0)
		return s->tls_fatal;
	if (evbuffer_reserve_space(s->in, TLS_READ_SIZE, &v, 1) != 1)
		return -ENOMEM;
	if ((n = tls_recv(s, v.iov_base, v.iov_len)) <= 0)
		return n;
	v.iov_len = (size_t)n;
	if (evbuffer_commit_space(s->in, &v, 1) == -1)
		return -ENOMEM;
	return n;
}

static ssize_t
tls_write(struct coro_stream *s)
{
	unsigned char *p;
	size_t n, done;
	int err;

	if (s->tls_fatal != 0)
		return s->tls_fatal;
	if (s->tls_shut)
		return -EPIPE;
	if ((n = evbuffer_get_length(s->out)) > TLS_WRITE_SIZE)
		n = TLS_WRITE_SIZE;
	/* After WANT_WRITE OpenSSL wants the same bytes again: they are
	 * still at the head of s->out, maybe moved (MOVING_WRITE_BUFFER)
	 * or followed by more, never fewer. */
	if ((p = evbuffer_pullup(s->out, (ev_ssize_t)n)) == NULL)
		return -ENOMEM;
	ERR_clear_error();
	s->tls_syserr = 0;
	if (SSL_write_ex(s->ssl, p, n, &done) == 1) {
		evbuffer_drain(s->out, done);
		return (ssize_t)done;
	}
	err = tls_result(s, SSL_get_error(s->ssl, 0));
	return err == 0 ? -EPIPE : err;
}

static ssize_t
tls_send(struct coro_stream *s, const void *buf, size_t len)
{
	size_t done;
	int err;

	if (s->tls_fatal != 0)
		return s->tls_fatal;
	if (s->tls_shut)
		return -EPIPE;
	if (len > TLS_WRITE_SIZE)
		len = TLS_WRITE_SIZE;
	ERR_clear_error();
	s->tls_syserr = 0;
	if (SSL_write_ex(s->ssl, buf, len, &done) == 1)
		return (ssize_t)done;
	err = tls_result(s, SSL_get_error(s->ssl, 0));
	return err == 0 ? -EPIPE : err;
}

static int
tls_shutdown(struct coro_stream *s, int64_t deadline)
{
	int rc, err;

	if (s->tls_fatal != 0)
		return s->tls_fatal;
	while (!s->tls_shut) {
		ERR_clear_error();
		s->tls_syserr = 0;
		/* 0 once our close_notify is out; we do not wait for the
		 * peer's, the read side stays open */
		if ((rc = SSL_shutdown(s->ssl)) >= 0) {
			s->tls_shut = true;
			break;
		}
		err = tls_result(s, SSL_get_error(s->ssl, rc));
		if (err == 0) {
			s->tls_shut = true;
			break;
		}
		if (err != -EAGAIN)
			return err;
		if ((err = coro__stream_wait(s, s->want, deadline)) != 0)
			return err;
	}
	return 0;
}

static void
tls_close(struct coro_stream *s, bool in_task)
{
	if (s->tls_done && s->tls_fatal == 0 && !s->tls_shut) {
		if (in_task) {
			coro_shield_begin();
			(void)tls_shutdown(s, coro_deadline_in(TLS_CLOSE_MS));
			coro_shield_end();
		} else {
			/* on the loop's stack: one try, no waiting */
			ERR_clear_error();
			(void)SSL_shutdown(s->ssl);
			ERR_clear_error();
		}
	}
	SSL_free(s->ssl);	/* and the BIO */
	s->ssl = NULL;
	s->tls_fatal = -EBADF;
}

static const struct coro__stream_ops tls_ops = {
	.read = tls_read,
	.recv = tls_recv,
	.write = tls_write,
	.send = tls_send,
	.shutdown = tls_shutdown,
	.close = tls_close,
};

/* ---- upgrading a stream ---- */

static bool
is_ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
}

static int
tls_setup(struct coro_stream *s, SSL_CTX *ctx, const char *hostname,
    bool server)
{
	SSL *ssl;
	BIO *bio;
	int ok = 1;

	if (pthread_once(&tls_bio_once, tls_bio_init) != 0 ||
	    tls_bio_method == NULL)
		return -ENOMEM;
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL)
		return -ENOMEM;
	if ((bio = BIO_new(tls_bio_method)) == NULL) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	BIO_set_data(bio, s);
	SSL_set_bio(ssl, bio, bio);
	SSL_set_mode(ssl, TLS_MODES);
	if (server)
		SSL_set_accept_state(ssl);
	else {
		SSL_set_connect_state(ssl);
		if (hostname != NULL && is_ip_literal(hostname))
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    hostname);
		else if (hostname != NULL)
			/* SSL_set_tlsext_host_name() casts away const */
			ok = SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
			    TLSEXT_NAMETYPE_host_name,
			    (void *)(uintptr_t)hostname) == 1 &&
			    SSL_set1_host(ssl, hostname) == 1;
	}
	if (ok != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return -EINVAL;
	}
	/* Ciphertext the plain transport already read belongs to OpenSSL. */
	if (evbuffer_get_length(s->in) > 0) {
		if ((s->tls_pre = evbuffer_new()) == NULL ||
		    evbuffer_add_buffer(s->tls_pre, s->in) == -1) {
			SSL_free(ssl);
			return -ENOMEM;
		}
	}
	s->ssl = ssl;
	s->ops = &tls_ops;
	s->tls_err[0] = '\0';
	return 0;
}

static int
tls_handshake(struct coro_stream *s, SSL_CTX *ctx, const char *hostname,
    bool server, int64_t deadline)
{
	int rc, err;

	if (s == NULL || ctx == NULL)
		return -EINVAL;
	if ((err = coro__checkpoint()) != 0)
		return err;
	if (s->closed)
		return -EBADF;
	if (s->ssl != NULL || s->wshut)
		return -EINVAL;
	coro__stream_enter(s);
	/* plaintext still queued goes out first (the reply to STARTTLS) */
	if ((err = coro__stream_flush(s, deadline)) != 0 ||
	    (err = tls_setup(s, ctx, hostname, server)) != 0)
		goto out;
	for (;;) {
		ERR_clear_error();
		s->tls_syserr = 0;
		if ((rc = SSL_do_handshake(s->ssl)) == 1) {
			s->tls_done = true;
			err = 0;
			break;
		}
		err = tls_result(s, SSL_get_error(s->ssl, rc));
		if (err == 0) {
			snprintf(s->tls_err, sizeof(s->tls_err),
			    "peer closed during the handshake");
			err = -EPROTO;
		}
		if (err != -EAGAIN)
			break;
		if ((err = coro__stream_wait(s, s->want, deadline)) != 0)
			break;
	}
	/* A half-done handshake leaves the stream good for close only. */
	if (err != 0 && s->tls_fatal == 0)
		s->tls_fatal = err;
 out:
	coro__stream_leave(s);
	return err;
}

int
coro_tls_client(coro_stream *s, SSL_CTX *ctx, const char *hostname,
    int64_t deadline)
{
	return tls_handshake(s, ctx, hostname, false, deadline);
}

int
coro_tls_server(coro_stream *s, SSL_CTX *ctx, int64_t deadline)
{
	return tls_handshake(s, ctx, NULL, true, deadline);
}

SSL *
coro_stream_ssl(coro_stream *s)
{
	return s->ssl;
}

const char *
coro_tls_error(coro_stream *s)
{
	return s != NULL ? s->tls_err : "";
}

/* ---- contexts ---- */

/* errno for a context that could not be made: a missing file says so. */
static void
ctx_fail(SSL_CTX *ctx, const char *f1, const char *f2)
{
	int err = EINVAL;

	if ((f1 != NULL && access(f1, R_OK) == -1) ||
	    (f2 != NULL && access(f2, R_OK) == -1))
		err = errno;
	ERR_clear_error();
	SSL_CTX_free(ctx);
	errno = err;
}

static SSL_CTX *
ctx_new(const SSL_METHOD *method)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL) {
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		ctx_fail(ctx, NULL, NULL);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, TLS_MODES);
	/* renegotiation would be one more way for a write to need a read,
	 * and one more attack surface */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return ctx;
}

SSL_CTX *
coro_tls_client_ctx_new(const char *cafile)
{
	SSL_CTX *ctx;
	int ok;

	if ((ctx = ctx_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cafile != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, cafile, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		ctx_fail(ctx, cafile, NULL);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
coro_tls_server_ctx_new(const char *certfile, const char *keyfile)
{
	SSL_CTX *ctx;

	if (certfile == NULL || keyfile == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((ctx = ctx_new(TLS_server_method())) == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ctx_fail(ctx, certfile, keyfile);
		return NULL;
	}
	return ctx;
}
