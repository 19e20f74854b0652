/*
 * passwd.h: password hashes (libxcrypt) and password files, shared by
 * corobusd (auth.password_file, --hash-password) and corobus passwd.
 *
 * A password file holds "user:hash" lines as mosquitto_passwd writes
 * them; blank lines and lines starting with '#' are skipped.  A stored
 * password that starts with '$' and has a second '$' is a crypt(5) hash
 * ($y$ yescrypt, $2a$/$2b$ bcrypt as nats-server's tools make them, $6$
 * ...); anything else is plain text.
 */
#ifndef PASSWD_H
#define PASSWD_H

#include <stdbool.h>
#include <stddef.h>

struct passwd_entry {
	char	*user;
	char	*hash;
};

/* Parses text (len bytes) into *out, *n entries (free with
 * passwd_entries_free).  0, or -1 with "line N: reason" in err. */
int	 passwd_parse(const char *text, size_t len,
	    struct passwd_entry **out, size_t *n, char *err, size_t errlen);
/* Reads and parses a file: 0, or -1 with "path: reason" in err. */
int	 passwd_load(const char *path, struct passwd_entry **out, size_t *n,
	    char *err, size_t errlen);
void	 passwd_entries_free(struct passwd_entry *, size_t n);

/* A crypt(5) hash of password: method "yescrypt" (default, NULL) or
 * "bcrypt" (cost 11).  malloc'd, or NULL (errno). */
char	*passwd_hash(const char *password, const char *method);
bool	 passwd_is_hash(const char *stored);
/* Checks password against stored (a hash, or plain text compared in
 * constant time).  Slow for hashes: call it off the event loop. */
bool	 passwd_verify(const char *password, const char *stored);

/* Reads a password: with echo off after prompt (on stderr) when stdin
 * is a terminal, else one line of stdin.  The length, or -1 (EOF, too
 * long). */
int	 passwd_read(const char *prompt, char *buf, size_t len);
/* passwd_read twice (the second "Reenter ...") when stdin is a
 * terminal: the length, -1, or -2 when they differ. */
int	 passwd_read_twice(char *buf, size_t len);

#endif
