/*
 * tls.c: TLS on NATS listeners (protocol doc §2.9): each listener's
 * server context, rebuilt from the files on reload and swapped for new
 * connections (an SSL object holds a reference to its context, so open
 * connections keep theirs); the upgrade of a connection after the plain
 * INFO (or before it, TLS-first) under the handshake timeout; and the
 * names a client certificate offers for tls.map: email, DNS and URI
 * subject alternative names, then the subject DN written as RFC 2253.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "corobusd.h"
#include "log.h"

static const unsigned char tls_session_ctx[] = "corobusd";

static bool
tls_on(const struct conf_tls *t)
{
	return t->cert != NULL && t->cert[0] != '\0';
}

/* The first OpenSSL error, or the errno of an unreadable file. */
static void
tls_reason(char *buf, size_t len, const char *what, const char *path)
{
	unsigned long e = ERR_peek_error();
	char ebuf[256];

	if (path != NULL && access(path, R_OK) == -1)
		snprintf(buf, len, "%s %s: %s", what, path, strerror(errno));
	else if (e != 0) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(buf, len, "%s %s: %s", what, path ? path : "", ebuf);
	} else
		snprintf(buf, len, "%s %s: cannot load", what,
		    path ? path : "");
	ERR_clear_error();
}

SSL_CTX *
tls_ctx_new(const struct conf_tls *t, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx;
	int mode;

	if (access(t->cert, R_OK) == -1 || access(t->key, R_OK) == -1) {
		tls_reason(err, errlen, access(t->cert, R_OK) == -1 ?
		    "certificate" : "key", access(t->cert, R_OK) == -1 ?
		    t->cert : t->key);
		return NULL;
	}
	if ((ctx = coro_tls_server_ctx_new(t->cert, t->key)) == NULL) {
		snprintf(err, errlen, "certificate %s, key %s: not a PEM "
		    "certificate chain and its key (%s)", t->cert, t->key,
		    errno == EINVAL ? "or they do not match" : strerror(errno));
		return NULL;
	}
	SSL_CTX_set_session_id_context(ctx, tls_session_ctx,
	    sizeof(tls_session_ctx) - 1);
	if (t->verify == CONF_TLS_VERIFY_NONE)
		return ctx;
	if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1) {
		tls_reason(err, errlen, "CA file", t->ca);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if ((names = SSL_load_client_CA_file(t->ca)) != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	mode = SSL_VERIFY_PEER;
	if (t->verify == CONF_TLS_VERIFY_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return ctx;
}

int
tls_check(const struct conf *conf, char *err, size_t errlen)
{
	struct conf_tls ct;
	char msg[512];
	SSL_CTX *ctx;
	size_t i;

	for (i = 0; i < conf->nlisteners; i++) {
		if (!tls_on(&conf->listeners[i].tls))
			continue;
		if ((ctx = tls_ctx_new(&conf->listeners[i].tls, msg,
		    sizeof(msg))) == NULL) {
			snprintf(err, errlen, "listeners[%zu].tls: %s", i,
			    msg);
			return -1;
		}
		SSL_CTX_free(ctx);
	}
	if (!tls_on(&conf->cluster.tls))
		return 0;
	/* routes verify each other, so the CA file is read as well (the
	 * loader made sure there is one) */
	ct = conf->cluster.tls;
	ct.verify = CONF_TLS_VERIFY_REQUIRED;
	if ((ctx = tls_ctx_new(&ct, msg, sizeof(msg))) == NULL) {
		snprintf(err, errlen, "cluster.tls: %s", msg);
		return -1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

int
tls_listener_init(struct listener *L)
{
	char msg[512];
	SSL_CTX *ctx;

	if (!tls_on(&L->cl->tls))
		return 0;
	if ((ctx = tls_ctx_new(&L->cl->tls, msg, sizeof(msg))) == NULL) {
		log_error("listener %s: tls: %s", L->name, msg);
		return -1;
	}
	L->tls_ctx = ctx;
	return 0;
}

void
tls_listener_fini(struct listener *L)
{
	SSL_CTX_free(L->tls_ctx);
	L->tls_ctx = NULL;
}

void
tls_reload(struct server *srv)
{
	struct listener *L;
	char msg[512];
	SSL_CTX *ctx;
	size_t i;

	for (i = 0; i < srv->nlisteners; i++) {
		L = &srv->listeners[i];
		if (!tls_on(&L->cl->tls)) {
			if (L->tls_ctx != NULL)
				log_notice("listener %s: tls off for new "
				    "connections", L->name);
			tls_listener_fini(L);
			continue;
		}
		if ((ctx = tls_ctx_new(&L->cl->tls, msg, sizeof(msg))) ==
		    NULL) {
			log_error("reload: listener %s: tls: %s; keeping the "
			    "previous certificate", L->name, msg);
			continue;
		}
		SSL_CTX_free(L->tls_ctx);
		L->tls_ctx = ctx;
		log_info("listener %s: tls certificate, key and CA reloaded",
		    L->name);
	}
}

/* ---- the handshake ---- */

int
tls_accept(struct client *c)
{
	static const char timeout_err[] =
	    "-ERR 'Secure Connection - TLS Required'\r\n";
	struct listener *L = c->listener;
	SSL_CTX *ctx = L->tls_ctx;
	int err;

	if (ctx == NULL || !SSL_CTX_up_ref(ctx))
		return -1;
	err = coro_tls_server(c->s, ctx, coro_deadline_in(
	    L->cl->tls.handshake_timeout));
	SSL_CTX_free(ctx);
	if (err == 0) {
		log_debug("client: tls cid=%llu %s %s",
		    (unsigned long long)c->cid, SSL_get_version(
		    coro_stream_ssl(c->s)), SSL_get_cipher_name(
		    coro_stream_ssl(c->s)));
		return 0;
	}
	if (err == -ETIMEDOUT) {
		/* in plain text: the client never started TLS */
		if (!L->cl->tls.first)
			(void)send(coro_stream_fd(c->s), timeout_err,
			    sizeof(timeout_err) - 1, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
		log_info("client: tls handshake timeout cid=%llu addr=%s",
		    (unsigned long long)c->cid, c->addr);
		client_close(c, "TLS handshake timeout", 0);
	} else if (err != -ECANCELED) {
		log_info("client: tls handshake failed cid=%llu addr=%s: %s",
		    (unsigned long long)c->cid, c->addr,
		    coro_tls_error(c->s)[0] != '\0' ? coro_tls_error(c->s) :
		    strerror(-err));
		client_close(c, "TLS handshake failed", 0);
	}
	return -1;
}

/* ---- certificate mapping ---- */

/* Calls fn on each name of the peer certificate, in nats-server's
 * order, until it returns true: that name (malloc'd) or NULL. */
static char *
cert_names(X509 *x, bool (*fn)(void *, const char *), void *arg)
{
	static const int types[] = { GEN_EMAIL, GEN_DNS, GEN_URI };
	GENERAL_NAMES *sans;
	const GENERAL_NAME *gn;
	char *found = NULL, *dn;
	size_t t;
	int i, len;
	BIO *b;

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (t = 0; t < sizeof(types) / sizeof(types[0]) && found == NULL;
	    t++) {
		for (i = 0; i < sk_GENERAL_NAME_num(sans) && found == NULL;
		    i++) {
			const ASN1_IA5STRING *s;
			char *name;

			gn = sk_GENERAL_NAME_value(sans, i);
			if (gn->type != types[t])
				continue;
			s = gn->d.ia5;
			len = ASN1_STRING_length(s);
			if (len <= 0 || (name = strndup((const char *)
			    ASN1_STRING_get0_data(s), (size_t)len)) == NULL)
				continue;
			if (strlen(name) == (size_t)len && fn(arg, name))
				found = name;
			else
				free(name);
		}
	}
	GENERAL_NAMES_free(sans);
	if (found != NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return found;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0 && (len = (int)BIO_pending(b)) > 0 &&
	    (dn = calloc(1, (size_t)len + 1)) != NULL) {
		if (BIO_read(b, dn, len) == len && fn(arg, dn))
			found = dn;
		else
			free(dn);
	}
	BIO_free(b);
	return found;
}

static bool
is_user(void *arg, const char *name)
{
	return auth_cert_user(arg, name);
}

void
tls_map_user(struct client *c)
{
	SSL *ssl = coro_stream_ssl(c->s);
	X509 *x;

	if (ssl == NULL || !c->listener->cl->tls.map ||
	    (x = SSL_get1_peer_certificate(ssl)) == NULL)
		return;
	if (SSL_get_verify_result(ssl) == X509_V_OK) {
		free(c->cert_user);
		c->cert_user = cert_names(x, is_user, c->srv);
		if (c->cert_user != NULL)
			log_debug("client: cid=%llu certificate maps to "
			    "user \"%s\"", (unsigned long long)c->cid,
			    c->cert_user);
	}
	X509_free(x);
}
