/*
 * clientconf.c: the client configuration file, client.yaml in
 * $XDG_CONFIG_HOME/corobus/ (or ~/.config/corobus/): default server,
 * credentials and TLS files for corobus(1), and named contexts that
 * override them (natscli's contexts; mosquitto's per-user defaults file).
 *
 *	server: nats://broker.example:4222     # or a list
 *	user: alice
 *	password: s3cret
 *	token: t0ken
 *	name: alice-laptop
 *	timeout: 5s
 *	tls: { ca: ca.pem, capath: certs/, cert: me.pem, key: me.key,
 *	       required: true, insecure: false }
 *	context: prod                          # the default context
 *	contexts:
 *	  prod: { server: tls://prod.example:4222, token: xyz }
 *
 * As in corobus.yaml(5): unknown keys and wrong types are errors reported
 * as file:line:col (libyaml marks), anchors and aliases are refused, and
 * relative paths resolve against the file's directory.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <yaml.h>

#include "client.h"

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
	enum ytype	  type;
	char		 *val;		/* scalar */
	struct ynode	**kids;		/* map: key, value, key, value... */
	size_t		  n;
	size_t		  line, col;
};

struct yctx {
	const char	*path;
	char		 dir[PATH_MAX];
	char		 err[512];
};

static void
ynode_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->val);
	free(n);
}

static int	yerr(struct yctx *, size_t line, size_t col,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
yerr(struct yctx *y, size_t line, size_t col, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(y->err, sizeof(y->err), "%s:%zu:%zu: %s", y->path, line,
	    col, msg);
	return -1;
}

static int
kid_add(struct ynode *p, struct ynode *k)
{
	struct ynode **n;

	if ((n = reallocarray(p->kids, p->n + 1, sizeof(*n))) == NULL)
		return -1;
	p->kids = n;
	p->kids[p->n++] = k;
	return 0;
}

/* Builds the node that starts with ev (consumed); NULL on error. */
static struct ynode *
parse_node(struct yctx *y, yaml_parser_t *p, yaml_event_t *ev, int depth)
{
	struct ynode *n, *k;
	yaml_event_t e;
	yaml_event_type_t end;
	const char *anchor = NULL;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		n->type = Y_SCALAR;
		n->val = strdup((const char *)ev->data.scalar.value);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		n->type = Y_MAP;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		n->type = Y_SEQ;
		break;
	case YAML_ALIAS_EVENT:
		yerr(y, n->line, n->col, "YAML aliases are not accepted");
		goto fail;
	default:
		yerr(y, n->line, n->col, "unexpected YAML event");
		goto fail;
	}
	yaml_event_delete(ev);
	if (anchor != NULL) {
		/* already deleted: only test for presence */
		yerr(y, n->line, n->col, "YAML anchors are not accepted");
		goto fail;
	}
	if (n->type == Y_SCALAR)
		return n;
	if (depth > 8) {
		yerr(y, n->line, n->col, "nested too deep");
		goto fail;
	}
	end = n->type == Y_MAP ? YAML_MAPPING_END_EVENT :
	    YAML_SEQUENCE_END_EVENT;
	for (;;) {
		if (!yaml_parser_parse(p, &e)) {
			yerr(y, p->problem_mark.line + 1,
			    p->problem_mark.column + 1, "%s", p->problem);
			goto fail;
		}
		if (e.type == end) {
			yaml_event_delete(&e);
			return n;
		}
		if ((k = parse_node(y, p, &e, depth + 1)) == NULL)
			goto fail;
		if (n->type == Y_MAP && n->n % 2 == 0 && k->type != Y_SCALAR) {
			yerr(y, k->line, k->col, "keys must be scalars");
			ynode_free(k);
			goto fail;
		}
		if (kid_add(n, k) == -1) {
			ynode_free(k);
			goto fail;
		}
	}
 fail:
	ynode_free(n);
	return NULL;
}

static struct ynode *
load(struct yctx *y, FILE *f)
{
	yaml_parser_t p;
	yaml_event_t e;
	struct ynode *root = NULL;

	if (!yaml_parser_initialize(&p)) {
		snprintf(y->err, sizeof(y->err), "%s: out of memory", y->path);
		return NULL;
	}
	yaml_parser_set_input_file(&p, f);
	for (;;) {
		if (!yaml_parser_parse(&p, &e)) {
			yerr(y, p.problem_mark.line + 1,
			    p.problem_mark.column + 1, "%s", p.problem);
			ynode_free(root);
			root = NULL;
			break;
		}
		if (e.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		if (e.type == YAML_STREAM_START_EVENT ||
		    e.type == YAML_DOCUMENT_START_EVENT ||
		    e.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&e);
			continue;
		}
		if (root != NULL) {
			yerr(y, e.start_mark.line + 1, e.start_mark.column + 1,
			    "one YAML document only");
			yaml_event_delete(&e);
			ynode_free(root);
			root = NULL;
			break;
		}
		if ((root = parse_node(y, &p, &e, 0)) == NULL)
			break;
	}
	yaml_parser_delete(&p);
	if (root == NULL && y->err[0] == '\0') {
		/* an empty file: an empty mapping */
		root = calloc(1, sizeof(*root));
		if (root != NULL)
			root->type = Y_MAP;
	}
	return root;
}

/* ---- applying ---- */

static int
want_scalar(struct yctx *y, const char *key, struct ynode *v)
{
	if (v->type == Y_SCALAR)
		return 0;
	return yerr(y, v->line, v->col, "%s: expected a string", key);
}

static int
set_str(struct yctx *y, const char *key, struct ynode *v, char **dst)
{
	if (want_scalar(y, key, v) == -1)
		return -1;
	free(*dst);
	*dst = strdup(v->val);
	return 0;
}

static int
set_path(struct yctx *y, const char *key, struct ynode *v, char **dst)
{
	if (want_scalar(y, key, v) == -1)
		return -1;
	free(*dst);
	if (v->val[0] == '/' || v->val[0] == '\0')
		*dst = strdup(v->val);
	else if (asprintf(dst, "%s/%s", y->dir, v->val) == -1)
		*dst = NULL;
	return 0;
}

static int
set_bool(struct yctx *y, const char *key, struct ynode *v, int *dst)
{
	if (want_scalar(y, key, v) == -1)
		return -1;
	if (strcasecmp(v->val, "true") == 0 || strcasecmp(v->val, "yes") == 0)
		*dst = 1;
	else if (strcasecmp(v->val, "false") == 0 ||
	    strcasecmp(v->val, "no") == 0)
		*dst = 0;
	else
		return yerr(y, v->line, v->col, "%s: expected true or false",
		    key);
	return 0;
}

static int
set_servers(struct yctx *y, struct ynode *v, struct clientconf *c)
{
	size_t i;

	for (i = 0; i < c->nservers; i++)
		free(c->servers[i]);
	free(c->servers);
	c->servers = NULL;
	c->nservers = 0;
	if (v->type == Y_SCALAR) {
		if ((c->servers = calloc(1, sizeof(char *))) == NULL)
			return -1;
		c->servers[c->nservers++] = strdup(v->val);
		return 0;
	}
	if (v->type != Y_SEQ)
		return yerr(y, v->line, v->col, "server: expected a URL or a "
		    "list of URLs");
	if ((c->servers = calloc(v->n + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < v->n; i++) {
		if (want_scalar(y, "server", v->kids[i]) == -1)
			return -1;
		c->servers[c->nservers++] = strdup(v->kids[i]->val);
	}
	return 0;
}

static int
apply_tls(struct yctx *y, struct ynode *m, struct clientconf *c)
{
	struct ynode *k, *v;
	size_t i;
	int rc;

	if (m->type != Y_MAP)
		return yerr(y, m->line, m->col, "tls: expected a mapping");
	for (i = 0; i + 1 < m->n; i += 2) {
		k = m->kids[i];
		v = m->kids[i + 1];
		if (strcmp(k->val, "ca") == 0)
			rc = set_path(y, "tls.ca", v, &c->cafile);
		else if (strcmp(k->val, "capath") == 0)
			rc = set_path(y, "tls.capath", v, &c->capath);
		else if (strcmp(k->val, "cert") == 0)
			rc = set_path(y, "tls.cert", v, &c->cert);
		else if (strcmp(k->val, "key") == 0)
			rc = set_path(y, "tls.key", v, &c->key);
		else if (strcmp(k->val, "required") == 0)
			rc = set_bool(y, "tls.required", v, &c->tls);
		else if (strcmp(k->val, "insecure") == 0)
			rc = set_bool(y, "tls.insecure", v, &c->insecure);
		else
			rc = yerr(y, k->line, k->col, "tls: unknown key "
			    "\"%s\"", k->val);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Applies the keys of mapping m; top: the file's top level, where
 * "context" and "contexts" are allowed too. */
static int
apply(struct yctx *y, struct ynode *m, struct clientconf *c, bool top,
    struct ynode **contexts, const char **defctx)
{
	struct ynode *k, *v;
	size_t i;
	int rc;

	if (m->type != Y_MAP)
		return yerr(y, m->line, m->col, "expected a mapping");
	for (i = 0; i + 1 < m->n; i += 2) {
		k = m->kids[i];
		v = m->kids[i + 1];
		if (strcmp(k->val, "server") == 0 ||
		    strcmp(k->val, "servers") == 0)
			rc = set_servers(y, v, c);
		else if (strcmp(k->val, "user") == 0)
			rc = set_str(y, "user", v, &c->user);
		else if (strcmp(k->val, "password") == 0)
			rc = set_str(y, "password", v, &c->password);
		else if (strcmp(k->val, "token") == 0)
			rc = set_str(y, "token", v, &c->token);
		else if (strcmp(k->val, "name") == 0)
			rc = set_str(y, "name", v, &c->name);
		else if (strcmp(k->val, "timeout") == 0) {
			if ((rc = want_scalar(y, "timeout", v)) == 0 &&
			    (cli_parse_duration(v->val, &c->timeout_ms) == -1 ||
			    c->timeout_ms == 0))
				rc = yerr(y, v->line, v->col, "timeout: bad "
				    "duration \"%s\"", v->val);
		} else if (strcmp(k->val, "tls") == 0)
			rc = apply_tls(y, v, c);
		else if (top && strcmp(k->val, "context") == 0) {
			if ((rc = want_scalar(y, "context", v)) == 0)
				*defctx = v->val;
		} else if (top && strcmp(k->val, "contexts") == 0) {
			if (v->type != Y_MAP)
				rc = yerr(y, v->line, v->col, "contexts: "
				    "expected a mapping of names");
			else {
				*contexts = v;
				rc = 0;
			}
		} else
			rc = yerr(y, k->line, k->col, "unknown key \"%s\"",
			    k->val);
		if (rc == -1)
			return -1;
	}
	return 0;
}

const char *
clientconf_path(void)
{
	static char path[PATH_MAX];
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (x != NULL && *x == '/')
		snprintf(path, sizeof(path), "%s/corobus/client.yaml", x);
	else if (home != NULL && *home != '\0')
		snprintf(path, sizeof(path), "%s/.config/corobus/client.yaml",
		    home);
	else
		return NULL;
	return path;
}

int
clientconf_load(const char *path, const char *context, struct clientconf *c)
{
	static struct yctx y;
	static char tmp[PATH_MAX];
	struct ynode *root, *contexts = NULL, *ctx = NULL;
	const char *defctx = NULL;
	size_t i;
	FILE *f;
	int rc = EX_OK;

	memset(&y, 0, sizeof(y));
	y.path = path;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && context == NULL)
			return EX_OK;
		return cli_fail(errno == ENOENT ? EX_CONFIG : EX_NOPERM,
		    "%s: %s", path, strerror(errno));
	}
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(y.dir, sizeof(y.dir), "%s", dirname(tmp));
	root = load(&y, f);
	fclose(f);
	if (root == NULL)
		return cli_fail(EX_CONFIG, "%s", y.err[0] != '\0' ? y.err :
		    "out of memory");
	if (apply(&y, root, c, true, &contexts, &defctx) == -1) {
		rc = cli_fail(EX_CONFIG, "%s", y.err);
		goto out;
	}
	if (context == NULL)
		context = defctx;
	if (context != NULL) {
		for (i = 0; contexts != NULL && i + 1 < contexts->n; i += 2)
			if (strcmp(contexts->kids[i]->val, context) == 0)
				ctx = contexts->kids[i + 1];
		if (ctx == NULL)
			rc = cli_fail(EX_CONFIG, "%s: no context \"%s\"", path,
			    context);
		else if (apply(&y, ctx, c, false, NULL, NULL) == -1)
			rc = cli_fail(EX_CONFIG, "%s", y.err);
	}
 out:
	ynode_free(root);
	return rc;
}
