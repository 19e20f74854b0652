/*
 * auth.c: who a client is.  The users of auth.users and
 * auth.password_file, the token, Unix peers by uid (SO_PEERCRED) and TLS
 * certificates mapped to users (tls.c finds the names), with the
 * permissions each user gets (perm.c).
 *
 * A struct auth is built whole from a configuration (at start, by -t, on
 * every reload) and swapped in; clients point at its users' permissions,
 * so a reload moves every client to the new one before the old is freed,
 * dropping the subscriptions a client lost and the clients whose user
 * is gone.  Password hashes are checked on the loop's executor while the
 * client's reader task waits; nothing secret is ever logged.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "corobusd.h"
#include "log.h"
#include "passwd.h"
#include "perm.h"

#define AUTH_TOKEN_FILE_MAX	4096

struct auth_user {
	char		*name;
	char		*password;	/* NULL: no password login */
	struct perm	*perm;		/* NULL: allowed everything */
	bool		 own_perm;	/* perm is this user's, not the
					   default's */
};

struct auth_uid {
	unsigned int	 uid;
	char		*user;
};

struct auth {
	struct auth_user	*users;
	size_t			 nusers;
	char			*token;		/* NULL: none */
	/* the digest of the last token a hash accepted */
	unsigned char		 token_ok[32];
	bool			 token_ok_set;
	char			*no_auth_user;
	struct auth_uid		*uids;
	size_t			 nuids;
	struct perm		*default_perm;	/* NULL: none */
	bool			 required;
	bool			 map;		/* a listener maps certs */
	int64_t			 timeout;
};

/* ---- building ---- */

void
auth_free(struct auth *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nusers; i++) {
		free(a->users[i].name);
		if (a->users[i].password != NULL) {
			OPENSSL_cleanse(a->users[i].password,
			    strlen(a->users[i].password));
			free(a->users[i].password);
		}
		if (a->users[i].own_perm)
			perm_free(a->users[i].perm);
	}
	free(a->users);
	if (a->token != NULL) {
		OPENSSL_cleanse(a->token, strlen(a->token));
		free(a->token);
	}
	free(a->no_auth_user);
	for (i = 0; i < a->nuids; i++)
		free(a->uids[i].user);
	free(a->uids);
	perm_free(a->default_perm);
	free(a);
}

static struct auth_user *
find_user(const struct auth *a, const char *name)
{
	size_t i;

	if (a == NULL || name == NULL)
		return NULL;
	for (i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i].name, name) == 0)
			return &a->users[i];
	return NULL;
}

static bool
perms_given(const struct conf_perms *p)
{
	return p->npub_allow || p->npub_deny || p->nsub_allow ||
	    p->nsub_deny || p->responses;
}

static struct auth_user *
add_user(struct auth *a, const char *name, char *err, size_t errlen)
{
	struct auth_user *nv;

	if (find_user(a, name) != NULL) {
		snprintf(err, errlen, "auth: user \"%s\" defined twice", name);
		return NULL;
	}
	if ((nv = realloc(a->users, (a->nusers + 1) * sizeof(*nv))) == NULL)
		goto oom;
	a->users = nv;
	nv = &a->users[a->nusers];
	memset(nv, 0, sizeof(*nv));
	if ((nv->name = strdup(name)) == NULL)
		goto oom;
	a->nusers++;
	nv->perm = a->default_perm;
	return nv;
 oom:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* The token of token_file: its first line. */
static char *
read_token(const char *path, char *err, size_t errlen)
{
	char *buf, *nl;
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "auth.token_file: %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	/* on the heap: task stacks are small */
	if ((buf = malloc(AUTH_TOKEN_FILE_MAX)) == NULL) {
		fclose(fp);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, AUTH_TOKEN_FILE_MAX - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	if (buf[0] == '\0') {
		free(buf);
		snprintf(err, errlen, "auth.token_file: %s: empty", path);
		return NULL;
	}
	nl = strdup(buf);
	OPENSSL_cleanse(buf, AUTH_TOKEN_FILE_MAX);
	free(buf);
	if (nl == NULL)
		snprintf(err, errlen, "out of memory");
	return nl;
}

static int
load_users(struct auth *a, const struct conf_auth *ca, char *err,
    size_t errlen)
{
	const struct conf_user *cu;
	struct auth_user *u;
	char msg[200];
	size_t i;

	for (i = 0; i < ca->nusers; i++) {
		cu = &ca->users[i];
		if ((u = add_user(a, cu->user, err, errlen)) == NULL)
			return -1;
		if (cu->password != NULL && cu->password[0] != '\0') {
			if ((u->password = strdup(cu->password)) == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			if (!passwd_is_hash(u->password))
				log_warnx("auth: user \"%s\" has a plain-text "
				    "password; store a hash (corobusd "
				    "--hash-password)", u->name);
		}
		if (cu->has_perms) {
			if ((u->perm = perm_new(&cu->perms, msg,
			    sizeof(msg))) == NULL) {
				snprintf(err, errlen, "auth.users: %s: "
				    "permissions: %s", cu->user, msg);
				return -1;
			}
			u->own_perm = true;
		}
	}
	return 0;
}

static int
load_password_file(struct auth *a, const char *path, char *err,
    size_t errlen)
{
	struct passwd_entry *v;
	struct auth_user *u;
	size_t n, i;
	int r = -1;

	if (passwd_load(path, &v, &n, err, errlen) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		/* a user of auth.users without a password takes it from
		 * the file; the others are new users */
		if ((u = find_user(a, v[i].user)) != NULL &&
		    u->password != NULL) {
			snprintf(err, errlen, "auth.password_file: user \"%s\""
			    " already has a password", v[i].user);
			goto out;
		}
		if (u == NULL && (u = add_user(a, v[i].user, err,
		    errlen)) == NULL)
			goto out;
		u->password = v[i].hash;
		v[i].hash = NULL;
	}
	r = 0;
 out:
	passwd_entries_free(v, n);
	return r;
}

int
auth_load(const struct conf *conf, struct auth **out, char *err,
    size_t errlen)
{
	const struct conf_auth *ca = &conf->auth;
	struct auth *a;
	char msg[200];
	size_t i;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (perms_given(&ca->default_perms) && (a->default_perm =
	    perm_new(&ca->default_perms, msg, sizeof(msg))) == NULL) {
		snprintf(err, errlen, "auth.default_permissions: %s", msg);
		goto fail;
	}
	if (load_users(a, ca, err, errlen) != 0)
		goto fail;
	if (ca->password_file != NULL && ca->password_file[0] != '\0' &&
	    load_password_file(a, ca->password_file, err, errlen) != 0)
		goto fail;
	if (ca->token != NULL && ca->token[0] != '\0') {
		if ((a->token = strdup(ca->token)) == NULL)
			goto oom;
		if (!passwd_is_hash(a->token))
			log_warnx("auth: auth.token is plain text; a hash "
			    "(corobusd --hash-password) is safer in a file");
	} else if (ca->token_file != NULL && ca->token_file[0] != '\0' &&
	    (a->token = read_token(ca->token_file, err, errlen)) == NULL)
		goto fail;
	if (ca->no_auth_user != NULL && ca->no_auth_user[0] != '\0') {
		if (find_user(a, ca->no_auth_user) == NULL) {
			snprintf(err, errlen, "auth.no_auth_user: no user "
			    "\"%s\"", ca->no_auth_user);
			goto fail;
		}
		if ((a->no_auth_user = strdup(ca->no_auth_user)) == NULL)
			goto oom;
	}
	if (ca->nunix_users > 0 && (a->uids = calloc(ca->nunix_users,
	    sizeof(*a->uids))) == NULL)
		goto oom;
	for (i = 0; i < ca->nunix_users; i++) {
		if (find_user(a, ca->unix_users[i].user) == NULL) {
			snprintf(err, errlen, "auth.unix_users: uid %u: no "
			    "user \"%s\"", ca->unix_users[i].uid,
			    ca->unix_users[i].user);
			goto fail;
		}
		a->uids[i].uid = ca->unix_users[i].uid;
		if ((a->uids[i].user = strdup(ca->unix_users[i].user)) == NULL)
			goto oom;
		a->nuids++;
	}
	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].tls.map)
			a->map = true;
	a->required = a->nusers > 0 || a->token != NULL;
	a->timeout = ca->timeout > 0 ? ca->timeout : conf->limits.auth_timeout;
	*out = a;
	return 0;
 oom:
	snprintf(err, errlen, "out of memory");
 fail:
	auth_free(a);
	return -1;
}

/* ---- checks ---- */

bool
auth_required(const struct server *srv)
{
	return srv->auth != NULL && srv->auth->required;
}

int64_t
auth_timeout(const struct server *srv)
{
	return srv->auth != NULL ? srv->auth->timeout :
	    srv->conf->limits.auth_timeout;
}

static bool
digest(const char *s, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == 32;
}

bool
auth_token_ok(struct server *srv, const char *token, size_t len)
{
	struct auth *a = srv->auth;
	unsigned char d[32], want[32];
	char *t;
	bool ok;

	if (a == NULL || a->token == NULL || len == 0 ||
	    memchr(token, '\0', len) != NULL || !digest(token, len, d))
		return false;
	if (!passwd_is_hash(a->token)) {
		ok = digest(a->token, strlen(a->token), want) &&
		    CRYPTO_memcmp(d, want, sizeof(d)) == 0;
		OPENSSL_cleanse(want, sizeof(want));
		OPENSSL_cleanse(d, sizeof(d));
		return ok;
	}
	/* a hash: the last token it accepted is remembered by digest, so
	 * a busy sender costs one hash, not one per datagram */
	if (a->token_ok_set && CRYPTO_memcmp(d, a->token_ok, sizeof(d)) == 0)
		return true;
	if ((t = strndup(token, len)) == NULL)
		return false;
	ok = passwd_verify(t, a->token);
	OPENSSL_cleanse(t, len);
	free(t);
	if (ok) {
		memcpy(a->token_ok, d, sizeof(d));
		a->token_ok_set = true;
	}
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

/* One check for the executor; it owns copies of both strings. */
struct auth_job {
	char	*password;
	char	*stored;
	bool	 ok;
};

static void *
auth_job_run(void *arg)
{
	struct auth_job *j = arg;

	j->ok = passwd_verify(j->password, j->stored);
	return NULL;
}

static void
auth_job_free(struct auth_job *j)
{
	if (j->password != NULL) {
		OPENSSL_cleanse(j->password, strlen(j->password));
		free(j->password);
	}
	if (j->stored != NULL) {
		OPENSSL_cleanse(j->stored, strlen(j->stored));
		free(j->stored);
	}
}

bool
auth_check_secret(struct client *c, const char *password, const char *stored)
{
	struct auth_job j = { NULL, NULL, false };
	int err;

	if (!passwd_is_hash(stored))
		return passwd_verify(password, stored);
	if ((j.password = strdup(password)) == NULL ||
	    (j.stored = strdup(stored)) == NULL) {
		auth_job_free(&j);
		return false;
	}
	err = coro_run_in_executor(NULL, auth_job_run, &j, NULL,
	    coro_deadline_in(c->srv->conf->limits.auth_timeout + 10000));
	auth_job_free(&j);
	(void)c;
	return err == 0 && j.ok;
}

static void
set_identity(struct client *c, const struct auth_user *u, int kind)
{
	free(c->user);
	c->user = u != NULL ? strdup(u->name) : NULL;
	c->auth_kind = kind;
	c->perm = u != NULL ? u->perm : c->srv->auth != NULL ?
	    c->srv->auth->default_perm : NULL;
	pubsub_perm_changed(c);
}

/* The identity the transport gave (a mapped certificate, a Unix peer's
 * uid), found before CONNECT: its user, or NULL. */
static struct auth_user *
transport_user(struct client *c)
{
	struct auth *a = c->srv->auth;
	size_t i;

	if (c->cert_user != NULL)
		return find_user(a, c->cert_user);
	if (c->peer_uid_set && a != NULL)
		for (i = 0; i < a->nuids; i++)
			if (a->uids[i].uid == c->peer_uid)
				return find_user(a, a->uids[i].user);
	return NULL;
}

int
auth_connect(struct client *c, const char *user, const char *pass,
    const char *token)
{
	struct auth *a = c->srv->auth;
	struct auth_user *u;
	char *stored;
	bool ok;

	if (a == NULL || !a->required) {
		set_identity(c, transport_user(c), AUTH_NONE);
		return 0;
	}
	if (user == NULL && token == NULL) {
		if ((u = transport_user(c)) != NULL) {
			set_identity(c, u, c->cert_user != NULL ? AUTH_CERT :
			    AUTH_UID);
			return 0;
		}
		if ((u = find_user(a, a->no_auth_user)) != NULL) {
			set_identity(c, u, AUTH_NO_AUTH);
			return 0;
		}
		log_info("client: authentication failed cid=%llu addr=%s: "
		    "no credentials", (unsigned long long)c->cid, c->addr);
		return -1;
	}
	if (token != NULL && user == NULL) {
		ok = a->token != NULL && (stored = strdup(a->token)) != NULL;
		if (ok) {
			ok = auth_check_secret(c, token, stored);
			/* a reload meanwhile may have changed the token */
			if (ok && c->srv->auth != a)
				ok = c->srv->auth->token != NULL &&
				    strcmp(c->srv->auth->token, stored) == 0;
			OPENSSL_cleanse(stored, strlen(stored));
			free(stored);
		}
		if (!ok) {
			log_info("client: authentication failed cid=%llu "
			    "addr=%s: bad token", (unsigned long long)c->cid,
			    c->addr);
			return -1;
		}
		set_identity(c, NULL, AUTH_TOKEN);
		return 0;
	}
	u = find_user(a, user);
	if (u == NULL || u->password == NULL || pass == NULL) {
		log_info("client: authentication failed cid=%llu addr=%s "
		    "user=\"%s\": %s", (unsigned long long)c->cid, c->addr,
		    user, u == NULL ? "no such user" : "no password");
		return -1;
	}
	if ((stored = strdup(u->password)) == NULL)
		return -1;
	ok = auth_check_secret(c, pass, stored);
	/* the users may have been reloaded while the hash ran: the user
	 * must still exist with the password just checked */
	u = find_user(c->srv->auth, user);
	if (ok && (u == NULL || u->password == NULL ||
	    strcmp(u->password, stored) != 0))
		ok = false;
	OPENSSL_cleanse(stored, strlen(stored));
	free(stored);
	if (!ok) {
		log_info("client: authentication failed cid=%llu addr=%s "
		    "user=\"%s\": bad password", (unsigned long long)c->cid,
		    c->addr, user);
		return -1;
	}
	set_identity(c, u, AUTH_PASSWORD);
	return 0;
}

/* ---- at accept ---- */

void
auth_accept(struct client *c)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (c->listener == NULL || c->listener->cl->unix_path == NULL)
		return;
	if (getsockopt(coro_stream_fd(c->s), SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == 0 && len == sizeof(cr)) {
		c->peer_uid = (unsigned int)cr.uid;
		c->peer_uid_set = true;
	}
}

/* Does this client have to say who it is in CONNECT (auth_required in
 * its INFO)?  Not a Unix peer whose uid maps to a user. */
bool
auth_client_must_connect(struct client *c)
{
	return auth_required(c->srv) && transport_user(c) == NULL;
}

bool
auth_cert_user(const struct server *srv, const char *name)
{
	return find_user(srv->auth, name) != NULL;
}

/* ---- reload ---- */

/* Moves c to the new users: false if it has to go. */
static bool
auth_reapply(struct client *c, struct auth *n, struct auth *old)
{
	struct auth_user *u;

	if (!c->connected) {
		/* CONNECT will use the new users; until then the
		 * permissions of the transport's identity, or none */
		if ((u = transport_user(c)) != NULL) {
			c->perm = u->perm;
			return true;
		}
		if (c->auth_timer == NULL && n->required)
			return false;	/* accepted while auth was off */
		c->perm = n->required ? NULL : n->default_perm;
		return true;
	}
	switch (c->auth_kind) {
	case AUTH_NONE:
		if (n->required && transport_user(c) == NULL)
			return false;
		c->perm = n->default_perm;
		if ((u = transport_user(c)) != NULL)
			c->perm = u->perm;
		break;
	case AUTH_TOKEN:
		if (n->token == NULL || old == NULL || old->token == NULL ||
		    strcmp(n->token, old->token) != 0)
			return false;
		c->perm = n->default_perm;
		break;
	default:
		if ((u = find_user(n, c->user)) == NULL)
			return false;
		if (c->auth_kind == AUTH_PASSWORD && (u->password == NULL ||
		    old == NULL || find_user(old, c->user) == NULL ||
		    find_user(old, c->user)->password == NULL ||
		    strcmp(find_user(old, c->user)->password,
		    u->password) != 0))
			return false;	/* the password changed */
		c->perm = u->perm;
		break;
	}
	return true;
}

void
auth_reload(struct server *srv, struct auth *n)
{
	struct auth *old = srv->auth;
	struct client *c, *next;

	srv->auth = n;
	for (c = TAILQ_FIRST(&srv->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->closing)
			continue;
		if (!auth_reapply(c, n, old)) {
			log_info("client: cid=%llu user=\"%s\": credentials "
			    "gone after reload", (unsigned long long)c->cid,
			    c->user != NULL ? c->user : "");
			c->perm = NULL;
			client_close(c, "credentials revoked", PROTO_EAUTH);
			continue;
		}
		pubsub_perm_changed(c);
	}
	auth_free(old);
}
