/*
 * conf_include.c: which files a load reads, and reading them.  No YAML.
 *
 * include: globs are resolved against the naming file's directory and
 * read in order, sorted within each glob, depth first; conf.d/ *.yaml
 * beside the main file comes last, in byte order.  Refused: include
 * cycles, a file read twice, nesting deeper than CONF_INCLUDE_DEPTH and
 * files over CONF_FILE_MAX bytes.  Each file's bytes go to
 * conf__parse_buffer() in conf.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <errno.h>
#include <glob.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf-internal.h"

#define CONF_INCLUDE_DEPTH	8		/* the main file is depth 0 */
#define CONF_FILE_MAX		(4 << 20)	/* bytes per file */

/* The absolute directory of path, or its dirname as given if that
 * directory can't be resolved. */
char *
conf_include_file_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d, *r;

	if (slash == NULL)
		d = strdup(".");
	else if (slash == path)
		d = strdup("/");
	else
		d = strndup(path, slash - path);
	if (d == NULL)
		return NULL;
	if ((r = realpath(d, NULL)) == NULL)
		return d;
	free(d);
	return r;
}

/* Escapes glob metacharacters so a directory name matches itself. */
static char *
glob_escape(const char *s)
{
	char *out, *p;

	if ((out = malloc(2 * strlen(s) + 1)) == NULL)
		return NULL;
	for (p = out; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			*p++ = '\\';
		*p++ = *s;
	}
	*p = '\0';
	return out;
}

static bool
has_glob_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Reads the includes one file named, in order, sorted within each glob;
 * dir is that file's directory and depth its include depth.
 */
int
conf_include_run(struct load *ld, const struct include *incs, size_t nincs,
    const char *dir, int depth)
{
	char *edir = NULL, *pat;
	glob_t g;
	size_t i, j;
	int r;

	for (i = 0; i < nincs; i++) {
		pat = incs[i].pattern;
		if (pat[0] != '/') {
			free(edir);
			if ((edir = glob_escape(dir)) == NULL ||
			    (pat = conf_value_path_join(edir, pat)) == NULL)
				goto nomem;
		}
		memset(&g, 0, sizeof(g));
		r = glob(pat, GLOB_NOSORT | GLOB_ERR, NULL, &g);
		if (pat != incs[i].pattern)
			free(pat);
		if (r == GLOB_NOSPACE) {
			globfree(&g);
			goto nomem;
		}
		if (r == GLOB_NOMATCH && !has_glob_magic(incs[i].pattern)) {
			globfree(&g);
			free(edir);
			return conf__lerr(ld, &incs[i].from, "include",
			    "'%.200s': no such file", incs[i].pattern);
		}
		if (r == GLOB_ABORTED) {
			globfree(&g);
			free(edir);
			return conf__lerr(ld, &incs[i].from, "include",
			    "'%.200s': cannot read directory",
			    incs[i].pattern);
		}
		if (r == 0)
			qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
		for (j = 0; r == 0 && j < g.gl_pathc; j++)
			if (conf_include_load_file(ld, g.gl_pathv[j], depth + 1,
			    &incs[i].from) == -1)
				r = -1;
		globfree(&g);
		if (r == -1) {
			free(edir);
			return -1;
		}
	}
	free(edir);
	return 0;
 nomem:
	free(edir);
	return conf__oom(ld);
}

static int
read_file(const char *path, char **bufp, size_t *lenp)
{
	FILE *fp;
	char *buf;
	size_t n;
	int e;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		errno = ENOMEM;
		return -1;
	}
	n = fread(buf, 1, CONF_FILE_MAX + 1, fp);
	e = ferror(fp) ? errno : n > CONF_FILE_MAX ? EFBIG : 0;
	fclose(fp);
	if (e != 0) {
		free(buf);
		errno = e;
		return -1;
	}
	*bufp = buf;
	*lenp = n;
	return 0;
}

/*
 * Reads one file at include depth depth; from is where it was named
 * (NULL for the main file and conf.d).
 */
int
conf_include_load_file(struct load *ld, const char *path, int depth,
    const struct mark *from)
{
	char *real, *buf;
	size_t i, len;
	int r, e;

	if (depth > CONF_INCLUDE_DEPTH)
		return conf__lerr(ld, from, "include", "includes nested deeper "
		    "than %d", CONF_INCLUDE_DEPTH);
	if ((real = realpath(path, NULL)) == NULL ||
	    read_file(real, &buf, &len) == -1) {
		e = errno;
		free(real);
		if (e == ENOMEM)
			return conf__oom(ld);
		if (ld->failed)
			return -1;
		ld->failed = true;
		if (from != NULL)
			return conf__errf(ld->err, from->file, from->line,
			    from->col, "include", e, "'%.200s': %s", path,
			    strerror(e));
		return conf__errf(ld->err, path, 0, 0, NULL, e, "%s",
		    strerror(e));
	}
	for (i = 0; i < ld->nstack; i++)
		if (strcmp(ld->stack[i], real) == 0) {
			free(real);
			free(buf);
			return conf__lerr(ld, from, "include", "'%.200s' "
			    "includes itself (include cycle)", path);
		}
	for (i = 0; i < ld->ndone; i++)
		if (strcmp(ld->done[i], real) == 0) {
			free(real);
			free(buf);
			if (from != NULL)
				return conf__lerr(ld, from, "include",
				    "'%.200s' is read twice", path);
			ld->failed = true;
			return conf__errf(ld->err, path, 0, 0, NULL, 0, "read "
			    "twice (conf.d/ is read implicitly)");
		}
	if (conf__push_str(&ld->stack, &ld->nstack, real) == -1) {
		free(real);
		free(buf);
		return conf__oom(ld);
	}
	r = conf__parse_buffer(ld, path, buf, len, depth);
	free(buf);
	ld->nstack--;
	if (conf__push_str(&ld->done, &ld->ndone, real) == -1) {
		free(real);
		return conf__oom(ld);
	}
	return r;
}

/* conf.d/ *.yaml beside the main file, in byte order. */
int
conf_include_load_confd(struct load *ld, const char *path)
{
	char *dir, *edir = NULL, *pat = NULL;
	struct stat st;
	glob_t g;
	size_t i;
	int r = 0;

	if ((dir = conf_include_file_dir(path)) == NULL)
		return conf__oom(ld);
	if (asprintf(&pat, "%s/conf.d", dir) == -1) {
		free(dir);
		return conf__oom(ld);
	}
	if (stat(pat, &st) == -1 || !S_ISDIR(st.st_mode)) {
		free(pat);
		free(dir);
		return 0;
	}
	free(pat);
	pat = NULL;
	if ((edir = glob_escape(dir)) == NULL ||
	    asprintf(&pat, "%s/conf.d/*.yaml", edir) == -1) {
		free(edir);
		free(dir);
		return conf__oom(ld);
	}
	memset(&g, 0, sizeof(g));
	r = glob(pat, GLOB_NOSORT | GLOB_ERR, NULL, &g);
	if (r == GLOB_NOSPACE)
		r = conf__oom(ld);
	else if (r == GLOB_ABORTED) {
		ld->failed = true;
		r = conf__errf(ld->err, dir, 0, 0, NULL, EACCES, "cannot read "
		    "conf.d/");
	}
	else if (r == 0) {
		qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
		for (i = 0; r == 0 && i < g.gl_pathc; i++)
			r = conf_include_load_file(ld, g.gl_pathv[i], 1, NULL);
	} else
		r = 0;
	globfree(&g);
	free(pat);
	free(edir);
	free(dir);
	return r;
}
