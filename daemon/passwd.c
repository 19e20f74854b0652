/*
 * passwd.c: crypt(5) hashes through libxcrypt and "user:hash" files.
 * Secrets are compared with CRYPTO_memcmp, over SHA-256 digests when
 * plain text (so the time does not tell the length either), and wiped
 * from the work buffers.
 */
#include "config.h"

#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "passwd.h"

#define PASSWD_FILE_MAX		(16 << 20)
#define PASSWD_BCRYPT_COST	11

void
passwd_entries_free(struct passwd_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].user);
		if (v[i].hash != NULL)
			OPENSSL_cleanse(v[i].hash, strlen(v[i].hash));
		free(v[i].hash);
	}
	free(v);
}

int
passwd_parse(const char *text, size_t len, struct passwd_entry **out,
    size_t *n, char *err, size_t errlen)
{
	struct passwd_entry *v = NULL, *nv;
	const char *p = text, *end = text + len, *eol, *colon;
	size_t nv_n = 0, line = 0, l;

	while (p < end) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		l = (size_t)(eol - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l == 0 || p[0] == '#')
			goto next;
		if (memchr(p, '\0', l) != NULL) {
			snprintf(err, errlen, "line %zu: NUL byte", line);
			goto fail;
		}
		colon = memchr(p, ':', l);
		if (colon == NULL || colon == p || colon == p + l - 1) {
			snprintf(err, errlen, "line %zu: expected user:hash",
			    line);
			goto fail;
		}
		if ((nv = realloc(v, (nv_n + 1) * sizeof(*v))) == NULL)
			goto oom;
		v = nv;
		v[nv_n].user = strndup(p, (size_t)(colon - p));
		v[nv_n].hash = strndup(colon + 1, l - (size_t)(colon - p) - 1);
		nv_n++;
		if (v[nv_n - 1].user == NULL || v[nv_n - 1].hash == NULL)
			goto oom;
 next:
		p = eol + 1;
	}
	*out = v;
	*n = nv_n;
	return 0;
 oom:
	snprintf(err, errlen, "out of memory");
 fail:
	passwd_entries_free(v, nv_n);
	return -1;
}

int
passwd_load(const char *path, struct passwd_entry **out, size_t *n,
    char *err, size_t errlen)
{
	char *buf = NULL, msg[200];
	size_t len = 0;
	struct stat st;
	FILE *fp;
	int r = -1;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == -1 || st.st_size > PASSWD_FILE_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: cannot read (too big?)", path);
		goto out;
	}
	len = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((r = passwd_parse(buf, len, out, n, msg, sizeof(msg))) != 0)
		snprintf(err, errlen, "%s: %s", path, msg);
 out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	fclose(fp);
	return r;
}

char *
passwd_hash(const char *password, const char *method)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *prefix = NULL;
	unsigned long count = 0;
	char *h = NULL;

	if (method != NULL && strcmp(method, "bcrypt") == 0) {
		prefix = "$2b$";
		count = PASSWD_BCRYPT_COST;	/* 0 would mean cost 5 */
	} else if (method != NULL && strcmp(method, "yescrypt") != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (crypt_gensalt_rn(prefix, count, NULL, 0, salt,
	    sizeof(salt)) == NULL)
		return NULL;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return NULL;
	if (crypt_rn(password, salt, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*')
		h = strdup(cd->output);
	else
		errno = EINVAL;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return h;
}

bool
passwd_is_hash(const char *stored)
{
	return stored[0] == '$' && strchr(stored + 1, '$') != NULL;
}

static bool
plain_equal(const char *a, const char *b)
{
	unsigned char da[32], db[32];
	unsigned int la = 0, lb = 0;
	bool eq;

	if (EVP_Digest(a, strlen(a), da, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, strlen(b), db, &lb, EVP_sha256(), NULL) != 1)
		return false;
	eq = la == 32 && lb == 32 && CRYPTO_memcmp(da, db, 32) == 0;
	OPENSSL_cleanse(da, sizeof(da));
	OPENSSL_cleanse(db, sizeof(db));
	return eq;
}

bool
passwd_verify(const char *password, const char *stored)
{
	struct crypt_data *cd;
	size_t n;
	bool ok = false;

	if (!passwd_is_hash(stored))
		return plain_equal(password, stored);
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	if (crypt_rn(password, stored, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*') {
		n = strlen(stored);
		ok = strlen(cd->output) == n &&
		    CRYPTO_memcmp(cd->output, stored, n) == 0;
	}
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
passwd_read(const char *prompt, char *buf, size_t len)
{
	struct termios old, noecho;
	bool tty = isatty(STDIN_FILENO) == 1;
	size_t n;
	char *r;

	if (tty) {
		if (tcgetattr(STDIN_FILENO, &old) == -1)
			return -1;
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		noecho.c_lflag |= ICANON;
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == -1)
			return -1;
	}
	r = fgets(buf, (int)len, stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (r == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		OPENSSL_cleanse(buf, len);
		return -1;		/* too long */
	}
	buf[n] = '\0';
	return (int)n;
}

int
passwd_read_twice(char *buf, size_t len)
{
	char *again;
	int n, m;

	if ((n = passwd_read("Password: ", buf, len)) < 0)
		return -1;
	if (isatty(STDIN_FILENO) != 1)
		return n;
	if ((again = malloc(len)) == NULL)
		return -1;
	m = passwd_read("Reenter password: ", again, len);
	if (m != n || strcmp(buf, again) != 0)
		n = -2;
	OPENSSL_cleanse(again, len);
	free(again);
	return n;
}
