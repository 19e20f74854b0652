/*
 * cmd-passwd.c: "corobus passwd": manage a password file of "user:hash"
 * lines (auth.password_file in corobus.yaml(5)), with mosquitto_passwd's
 * flags: -c creates (or empties) the file, -D deletes a user, -b takes
 * the password from the command line (batch), -H picks the hash
 * (yescrypt by default; bcrypt as nats-server's tools make it).  Without
 * -b the password is read twice with echo off.  The file is replaced
 * atomically (a temporary file beside it, renamed) with mode 0640.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "client.h"
#include "passwd.h"

#define PASSWD_MAX	1024

enum { OPT_HELP = 256 };

static const struct option passwd_opts[] = {
	{ "create", no_argument, NULL, 'c' },
	{ "delete", no_argument, NULL, 'D' },
	{ "batch", no_argument, NULL, 'b' },
	{ "hash", required_argument, NULL, 'H' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* Writes the entries to path through a temporary file and rename(2). */
static int
passwd_write(const char *path, const struct passwd_entry *v, size_t n)
{
	char *tmp = NULL, *dcopy;
	size_t i;
	FILE *fp;
	int fd;

	if ((dcopy = strdup(path)) == NULL ||
	    asprintf(&tmp, "%s/.%s.XXXXXX", dirname(dcopy),
	    strrchr(path, '/') ? strrchr(path, '/') + 1 : path) == -1) {
		free(dcopy);
		return cli_fail(EX_OSERR, "out of memory");
	}
	free(dcopy);
	if ((fd = mkstemp(tmp)) == -1) {
		cli_warnx("%s: %s", tmp, strerror(errno));
		free(tmp);
		return EX_CANTCREAT;
	}
	if (fchmod(fd, 0640) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		cli_warnx("%s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	for (i = 0; i < n; i++)
		fprintf(fp, "%s:%s\n", v[i].user, v[i].hash);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		cli_warnx("%s: %s", tmp, strerror(errno));
		fclose(fp);
		goto fail;
	}
	if (fclose(fp) != 0 || rename(tmp, path) == -1) {
		cli_warnx("%s: %s", path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
 fail:
	unlink(tmp);
	free(tmp);
	return EX_IOERR;
}

int
cmd_passwd(int argc, char **argv)
{
	struct passwd_entry *v = NULL, *nv;
	const char *file, *user, *method = NULL;
	char pw[PASSWD_MAX], err[512], *hash = NULL;
	bool create = false, del = false, batch = false;
	size_t n = 0, i;
	int ch, rc, len;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":cDbH:", passwd_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			create = true;
			break;
		case 'D':
			del = true;
			break;
		case 'b':
			batch = true;
			break;
		case 'H':
			if (strcmp(optarg, "yescrypt") != 0 &&
			    strcmp(optarg, "bcrypt") != 0)
				return cli_usage_error("passwd", "-H: \"%s\": "
				    "use yescrypt or bcrypt", optarg);
			method = optarg;
			break;
		case OPT_HELP:
			printf("usage: corobus passwd %s\n",
			    cmd_find("passwd")->usage);
			return 0;
		case ':':
			return cli_usage_error("passwd", "-%c needs a value",
			    optopt);
		default:
			return cli_usage_error("passwd", "unknown option");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != (batch ? 3 : 2))
		return cli_usage_error("passwd", batch ? "-b takes FILE USER "
		    "PASSWORD" : "expected FILE USER (the password is read "
		    "without echo; -b to give it)");
	if (create && del)
		return cli_usage_error("passwd", "-c and -D exclude each "
		    "other");
	file = argv[0];
	user = argv[1];
	if (user[0] == '\0' || strchr(user, ':') != NULL ||
	    strpbrk(user, "\r\n") != NULL)
		return cli_fail(EX_DATAERR, "passwd: bad user name \"%s\"",
		    user);
	if (!create && passwd_load(file, &v, &n, err, sizeof(err)) != 0)
		return cli_fail(access(file, F_OK) == -1 ? EX_NOINPUT :
		    EX_DATAERR, "passwd: %s%s", err, access(file, F_OK) ==
		    -1 ? " (-c creates it)" : "");
	for (i = 0; i < n; i++)
		if (strcmp(v[i].user, user) == 0)
			break;
	if (del) {
		if (i == n) {
			passwd_entries_free(v, n);
			return cli_fail(EX_DATAERR, "passwd: %s: no user "
			    "\"%s\"", file, user);
		}
		free(v[i].user);
		free(v[i].hash);
		v[i] = v[--n];
		rc = passwd_write(file, v, n);
		passwd_entries_free(v, n);
		return rc;
	}
	if (batch) {
		if (strlen(argv[2]) >= sizeof(pw)) {
			passwd_entries_free(v, n);
			return cli_fail(EX_DATAERR, "passwd: password too "
			    "long");
		}
		snprintf(pw, sizeof(pw), "%s", argv[2]);
		len = (int)strlen(pw);
	} else
		len = passwd_read_twice(pw, sizeof(pw));
	if (len <= 0) {
		passwd_entries_free(v, n);
		memset(pw, 0, sizeof(pw));
		return cli_fail(EX_DATAERR, "passwd: %s", len == -2 ?
		    "the passwords differ" : "no password");
	}
	hash = passwd_hash(pw, method);
	memset(pw, 0, sizeof(pw));
	if (hash == NULL) {
		passwd_entries_free(v, n);
		return cli_fail(EX_SOFTWARE, "passwd: hash: %s",
		    strerror(errno));
	}
	if (i == n) {
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL ||
		    (nv[n].user = strdup(user)) == NULL) {
			v = nv != NULL ? nv : v;
			free(hash);
			passwd_entries_free(v, n);
			return cli_fail(EX_OSERR, "out of memory");
		}
		v = nv;
		nv[n].hash = NULL;
		n++;
	}
	free(v[i].hash);
	v[i].hash = hash;
	rc = passwd_write(file, v, n);
	passwd_entries_free(v, n);
	return rc;
}
