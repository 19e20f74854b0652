/*
 * test_conf.c: the YAML configuration loader.  Defaults; the shipped
 * sample and man page against the key table; every key, type, unit and
 * bound; error positions; aliases, variables, includes and conf.d;
 * listener forms; reload diffs; dump round trips; overrides.
 *
 * Fixtures live in tests/data/conf under $top_srcdir (read only, for
 * distcheck); files the tests make go to a mkdtemp() directory.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "conf.h"

#ifndef CONF_DEFAULT_LOG_FILE
#define CONF_DEFAULT_LOG_FILE	"/var/log/corobus/corobus.log"
#endif
#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR	"tests/data/conf"
#endif

static char	*data_dir;	/* fixtures */
static char	*sample_path;	/* conf/corobus.yaml */
static char	*man_path;	/* man/corobus.yaml.5 */

/* A fixture's path; the returned string lives until the next 8 calls. */
static const char *
fx(const char *rel)
{
	static char buf[8][PATH_MAX];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", data_dir, rel);
	return buf[i];
}

static struct conf *
load_ok(const char *path)
{
	struct conf_error err;
	struct conf *c = NULL;

	if (conf_load(path, &c, &err) != 0)
		fail_msg("%s: %s", path, err.text);
	assert_non_null(c);
	return c;
}

/* Loads yaml as if it were the file tests/data/conf/inline.yaml. */
static struct conf *
buf_ok(const char *yaml)
{
	struct conf_error err;
	struct conf *c = NULL;

	if (conf_load_buffer(fx("inline.yaml"), yaml, strlen(yaml), 0, &c,
	    &err) != 0)
		fail_msg("%s\n---\n%s", err.text, yaml);
	assert_non_null(c);
	return c;
}

/* Expects yaml to fail with a message containing want. */
static void
buf_err(const char *yaml, const char *want)
{
	struct conf_error err;
	struct conf *c = NULL;

	if (conf_load_buffer(fx("inline.yaml"), yaml, strlen(yaml), 0, &c,
	    &err) == 0) {
		conf_free(c);
		fail_msg("accepted:\n%s", yaml);
	}
	assert_null(c);
	if (strstr(err.text, want) == NULL)
		fail_msg("error '%s' lacks '%s'\n---\n%s", err.text, want,
		    yaml);
}

static void
file_err(const char *rel, const char *want)
{
	struct conf_error err;
	struct conf *c = NULL;

	if (conf_load(fx(rel), &c, &err) == 0) {
		conf_free(c);
		fail_msg("%s accepted", rel);
	}
	if (strstr(err.text, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err.text, want);
}

static char *
dump(const struct conf *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);

	assert_non_null(fp);
	assert_int_equal(conf_dump(c, fp), 0);
	fclose(fp);
	return s;
}

static char *
read_all(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	if (fp == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	s = malloc(n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
assert_same_as_defaults(const struct conf *c)
{
	struct conf *d;
	char *a, *b;

	assert_int_equal(conf_defaults(&d), 0);
	a = dump(c);
	b = dump(d);
	assert_string_equal(a, b);
	free(a);
	free(b);
	conf_free(d);
}

static void
test_conf_defaults(void **state)
{
	struct conf *c;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_null(c->path);
	assert_string_equal(c->server_name, "");
	assert_int_equal(c->nlisteners, 1);
	assert_int_equal(c->listeners[0].proto, CONF_PROTO_NATS);
	assert_string_equal(c->listeners[0].host, "127.0.0.1");
	assert_string_equal(c->listeners[0].port, "4240");
	assert_null(c->listeners[0].unix_path);
	assert_int_equal(c->listeners[0].line, 0);
	assert_int_equal(c->limits.max_connections, 65536);
	assert_int_equal(c->limits.max_payload, 1 << 20);
	assert_int_equal(c->limits.max_control_line, 4096);
	assert_int_equal(c->limits.max_subscriptions, 0);
	assert_int_equal(c->limits.max_pending, 64 << 20);
	assert_int_equal(c->limits.write_deadline, 10000);
	assert_int_equal(c->limits.ping_interval, 120000);
	assert_int_equal(c->limits.ping_max, 2);
	assert_int_equal(c->limits.auth_timeout, 2000);
	assert_int_equal(c->lame_duck_duration, 120000);
	assert_int_equal(c->lame_duck_grace_period, 10000);
	assert_int_equal(c->log.target, CONF_LOG_STDERR);
	assert_int_equal(c->log.level, CONF_LOG_INFO);
	assert_string_equal(c->log.file, CONF_DEFAULT_LOG_FILE);
	conf_free(c);
	conf_free(NULL);
}

static void
test_conf_empty_file_is_defaults(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok(fx("empty.yaml"));
	assert_string_equal(c->path, fx("empty.yaml"));
	assert_same_as_defaults(c);
	conf_free(c);
	c = buf_ok("");
	assert_same_as_defaults(c);
	conf_free(c);
	c = buf_ok("limits:\nlog:\nlisteners:\ninclude:\nserver_name:\n");
	assert_same_as_defaults(c);
	conf_free(c);
}

/*
 * Uncomments the sample's settings: '#' then the YAML line as it would be,
 * "#key: value", "#  key: value", "#  - key: value".  Prose has one space
 * after the '#' ("# unit: ...") and stays a comment, as do examples that
 * are not "key:" lines ("#     - { ... }").
 */
static char *
uncomment(const char *text)
{
	char *out = strdup(text), *line, *p, *save = NULL, *res;
	size_t n = 0;
	FILE *fp = open_memstream(&res, &n);

	assert_non_null(out);
	assert_non_null(fp);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		p = line + 1;
		if (line[0] == '#' && !(p[0] == ' ' && p[1] != ' ')) {
			while (*p == ' ')
				p++;
			if (p[0] == '-' && p[1] == ' ')
				p += 2;
			if (*p >= 'a' && *p <= 'z') {
				p += strspn(p, "abcdefghijklmnopqrstuvwxyz_");
				if (*p == ':' && (p[1] == ' ' ||
				    p[1] == '\0')) {
					fprintf(fp, "%s\n", line + 1);
					continue;
				}
			}
		}
		fprintf(fp, "%s\n", line);
	}
	fclose(fp);
	free(out);
	return res;
}

static void
test_conf_sample_loads_and_equals_defaults(void **state)
{
	struct conf_error err;
	struct conf *c;
	char *text, *active;
	size_t i;
	const char *key, *def;

	(void)state;
	c = load_ok(sample_path);
	assert_same_as_defaults(c);
	conf_free(c);

	/* Every commented-out value really is the default. */
	text = read_all(sample_path);
	active = uncomment(text);
	if (conf_load_buffer(sample_path, active, strlen(active), 0, &c,
	    &err) != 0)
		fail_msg("uncommented sample: %s", err.text);
	assert_same_as_defaults(c);
	conf_free(c);
	/* ... and every key is there, active, with its default. */
	for (i = 0; (key = conf_key_info(i, &def, NULL)) != NULL; i++) {
		const char *leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 :
		    key;
		char want[128];

		snprintf(want, sizeof(want), "%s:", leaf);
		if (strstr(active, want) == NULL)
			fail_msg("sample lacks key %s", key);
		if (def != NULL && strstr(active, def) == NULL)
			fail_msg("sample lacks default %s of %s", def, key);
	}
	free(active);
	free(text);
}

static void
test_conf_man_page_documents_every_key(void **state)
{
	char *man = read_all(man_path), *at, *end, *from, save, want[128];
	const char *key, *def, *leaf, *next;
	size_t i;
	int reload;

	(void)state;
	for (i = 0; (key = conf_key_info(i, &def, &reload)) != NULL; i++) {
		leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
		/* a section ("limits") is named; its keys are listed */
		snprintf(want, sizeof(want), "%s.", key);
		if ((next = conf_key_info(i + 1, NULL, NULL)) != NULL &&
		    strncmp(next, want, strlen(want)) == 0) {
			snprintf(want, sizeof(want), "\n.Ic %s\n", key);
			if (strstr(man, want) == NULL)
				fail_msg("man page lacks '.Ic %s'", key);
			continue;
		}
		/* a section's key is looked for after the section is named:
		 * listeners[].address and monitoring.address share a leaf */
		from = man;
		if (leaf != key && strchr(key, '[') == NULL) {
			snprintf(want, sizeof(want), "\n.Ic %.*s\n",
			    (int)(leaf - 1 - key), key);
			if ((at = strstr(man, want)) != NULL)
				from = at;
		}
		snprintf(want, sizeof(want), "\n.It Ic %s ", leaf);
		if ((at = strstr(from, want)) == NULL)
			fail_msg("man page lacks '.It Ic %s'", leaf);
		at++;
		if ((end = strstr(at, "\n.It ")) == NULL)
			end = at + strlen(at);
		save = *end;
		*end = '\0';
		if (strstr(at, "Reload: ") == NULL)
			fail_msg("man page: %s has no Reload", key);
		if (strchr(key, '[') == NULL && strstr(at, reload ?
		    "Reload: yes" : "Reload: no") == NULL)
			fail_msg("man page: wrong Reload for %s", key);
		if (strstr(at, "efault") == NULL)
			fail_msg("man page: %s has no default", key);
		if (def != NULL && strstr(at, def) == NULL)
			fail_msg("man page: %s lacks default %s", key, def);
		*end = save;
	}
	free(man);
}

static void
test_conf_each_key_parsed(void **state)
{
	struct conf *c;
	char *dir, *want;

	(void)state;
	c = load_ok(fx("good-all.yaml"));
	assert_string_equal(c->server_name, "hub-1");
	assert_int_equal(c->nlisteners, 3);
	assert_string_equal(c->listeners[0].host, "0.0.0.0");
	assert_string_equal(c->listeners[0].port, "4250");
	assert_int_equal(c->listeners[0].line, 4);
	assert_int_equal(c->listeners[0].col, 5);
	assert_string_equal(c->listeners[0].file, fx("good-all.yaml"));
	assert_string_equal(c->listeners[1].host, "::1");
	assert_string_equal(c->listeners[1].port, "4251");
	assert_null(c->listeners[2].host);
	assert_null(c->listeners[2].port);
	assert_string_equal(c->listeners[2].unix_path,
	    "/run/corobus/test.sock");
	assert_int_equal(c->listeners[2].mode, 0600);
	assert_int_equal(c->limits.max_connections, 1000);
	assert_int_equal(c->limits.max_payload, 512 * 1024);
	assert_int_equal(c->limits.max_control_line, 8192);
	assert_int_equal(c->limits.max_subscriptions, 100);
	assert_int_equal(c->limits.max_pending, 32 << 20);
	assert_int_equal(c->limits.write_deadline, 5000);
	assert_int_equal(c->limits.ping_interval, 30000);
	assert_int_equal(c->limits.ping_max, 3);
	assert_int_equal(c->limits.auth_timeout, 500);
	assert_int_equal(c->lame_duck_duration, 60000);
	assert_int_equal(c->lame_duck_grace_period, 5000);
	assert_int_equal(c->log.target, CONF_LOG_FILE);
	assert_int_equal(c->log.level, CONF_LOG_DEBUG);
	/* relative to the file's directory, made absolute */
	dir = realpath(data_dir, NULL);
	assert_non_null(dir);
	assert_true(asprintf(&want, "%s/corobus.log", dir) > 0);
	assert_string_equal(c->log.file, want);
	free(want);
	free(dir);
	conf_free(c);

	c = load_ok(fx("flow.yaml"));
	assert_int_equal(c->nlisteners, 2);
	assert_string_equal(c->listeners[1].unix_path,
	    "/run/corobus/corobus.sock");
	assert_int_equal(c->listeners[1].mode, 0660);
	assert_int_equal(c->limits.max_payload, 2 << 20);
	assert_int_equal(c->limits.ping_interval, 90000);
	assert_int_equal(c->log.target, CONF_LOG_JOURNAL);
	assert_int_equal(c->log.level, CONF_LOG_TRACE);
	conf_free(c);
}

static void
test_conf_enums(void **state)
{
	static const char *const targets[] = {
		"stderr", "file", "syslog", "journal"
	};
	static const char *const levels[] = {
		"error", "warning", "notice", "info", "debug", "trace"
	};
	struct conf *c;
	char y[128];
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(y, sizeof(y), "log: { target: %s }\n", targets[i]);
		c = buf_ok(y);
		assert_int_equal(c->log.target, (int)i);
		conf_free(c);
	}
	for (i = 0; i < 6; i++) {
		snprintf(y, sizeof(y), "log: { level: %s }\n", levels[i]);
		c = buf_ok(y);
		assert_int_equal(c->log.level, (int)i);
		conf_free(c);
	}
	buf_err("log: { level: verbose }\n",
	    "inline.yaml:1:15: log.level: 'verbose' is not one of error, "
	    "warning, notice, info, debug, trace");
	buf_err("log: { target: Stderr }\n", "log.target:");
	buf_err("log: { target: file, file: \"\" }\n",
	    "log.file: required when log.target is file");
	buf_err("listeners: [ { protocol: mqtt, address: \":1\" } ]\n",
	    "listeners[0].protocol: 'mqtt' is not one of nats");
}

static void
test_conf_sizes(void **state)
{
	static const struct {
		const char	*text;
		uint64_t	 bytes;
	} good[] = {
		{ "65536", 65536 }, { "65536B", 65536 }, { "64KiB", 65536 },
		{ "1MiB", 1 << 20 }, { "3 MiB", 3 << 20 },
		{ "1GiB", 1ULL << 30 }, { "64GiB", 64ULL << 30 },
		{ "\"128KiB\"", 128 << 10 }, { "00100KiB", 100 << 10 },
	};
	static const struct {
		const char	*text;
		const char	*want;
	} bad[] = {
		{ "1MB", "unknown unit 'MB' (use B, KiB, MiB, GiB or TiB)" },
		{ "1k", "unknown unit" },
		{ "1kib", "unknown unit" },
		{ "1.5MiB", "fractions are not supported" },
		{ "-1MiB", "is not a size" },
		{ "MiB", "is not a size" },
		{ "\"\"", "is not a size" },
		{ "1TiB", "must be from 64KiB to 64GiB" },
		{ "1KiB", "must be from 64KiB to 64GiB" },
		{ "99999999999999999999", "is too large" },
		{ "17179869184GiB", "is too large" },
		{ "1MiB1", "unknown unit" },
	};
	struct conf *c;
	char y[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(y, sizeof(y), "limits:\n  max_payload: 1\n"
		    "  max_pending: %s\n", good[i].text);
		c = buf_ok(y);
		assert_int_equal(c->limits.max_pending, good[i].bytes);
		conf_free(c);
	}
	c = buf_ok("limits: { max_payload: 1, max_control_line: 256B }\n");
	assert_int_equal(c->limits.max_payload, 1);
	assert_int_equal(c->limits.max_control_line, 256);
	conf_free(c);
	c = buf_ok("limits: { max_payload: 64MiB }\n");
	assert_int_equal(c->limits.max_payload, 64 << 20);
	conf_free(c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "limits:\n  max_payload: 1\n"
		    "  max_pending: %s\n", bad[i].text);
		buf_err(y, bad[i].want);
		buf_err(y, "inline.yaml:3:16: limits.max_pending: ");
	}
	buf_err("limits: { max_payload: 0 }\n", "must be from 1B to 64MiB");
	buf_err("limits: { max_control_line: 255 }\n",
	    "must be from 256B to 1MiB");
}

static void
test_conf_durations(void **state)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} good[] = {
		{ "1500ms", 1500 }, { "1s", 1000 }, { "45s", 45000 },
		{ "2m", 120000 }, { "1h", 3600000 }, { "1m30s", 90000 },
		{ "1h1m1s1ms", 3661001 }, { "24h", 86400000 },
		{ "\"90s\"", 90000 },
	};
	static const struct {
		const char	*text;
		const char	*want;
	} bad[] = {
		{ "30", "missing unit (ms, s, m or h)" },
		{ "1.5s", "fractions are not supported" },
		{ "-1s", "is not a duration" },
		{ "5x", "unknown unit (use ms, s, m or h)" },
		{ "5sec", "is not a duration" },
		{ "s", "is not a duration" },
		{ "1d", "unknown unit" },
		{ "25h", "must be from 1s to 24h" },
		{ "999ms", "must be from 1s to 24h" },
		{ "99999999999999999999s", "is too large" },
		{ "9999999999999999h", "is too large" },
		{ "", "missing value (expected a duration (e.g. 30s))" },
		{ "[1s]", "expected a duration (e.g. 30s), found a list" },
	};
	struct conf *c;
	char y[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(y, sizeof(y), "limits:\n  ping_interval: %s\n",
		    good[i].text);
		c = buf_ok(y);
		assert_int_equal(c->limits.ping_interval, good[i].ms);
		conf_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "limits:\n  ping_interval: %s\n",
		    bad[i].text);
		buf_err(y, bad[i].want);
		buf_err(y, "inline.yaml:2:");
	}
	c = buf_ok("lame_duck_grace_period: 0\nlame_duck_duration: 30s\n"
	    "limits: { write_deadline: 100ms, auth_timeout: 10m }\n");
	assert_int_equal(c->lame_duck_grace_period, 0);
	assert_int_equal(c->lame_duck_duration, 30000);
	assert_int_equal(c->limits.write_deadline, 100);
	assert_int_equal(c->limits.auth_timeout, 600000);
	conf_free(c);
	buf_err("lame_duck_duration: 29s\n",
	    "inline.yaml:1:21: lame_duck_duration: must be from 30s to 24h");
	buf_err("lame_duck_duration: 1m\nlame_duck_grace_period: 1m\n",
	    "inline.yaml:2:1: lame_duck_grace_period: grace period (1m) must "
	    "be shorter than lame_duck_duration (1m)");
}

static void
test_conf_unknown_key(void **state)
{
	struct conf_error err;
	struct conf *c = NULL;

	(void)state;
	assert_int_equal(conf_load(fx("bad-unknown-key.yaml"), &c, &err), -1);
	assert_null(c);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.col, 3);
	assert_int_equal(err.errnum, 0);
	assert_string_equal(strstr(err.text, "bad-unknown-key.yaml"),
	    "bad-unknown-key.yaml:3:3: limits.max_payloads: unknown key");
	assert_memory_equal(err.text, data_dir, strlen(data_dir));
	file_err("bad-unknown-top.yaml",
	    "bad-unknown-top.yaml:2:1: max_payload: unknown key");
	buf_err("limits.max_payload: 1MiB\n",
	    "inline.yaml:1:1: limits.max_payload: unknown key");
	buf_err("log: { level: info, colour: red }\n",
	    "inline.yaml:1:21: log.colour: unknown key");
	buf_err("listeners:\n  - { protocol: nats, port: 4240 }\n",
	    "inline.yaml:2:23: listeners[0].port: unknown key");
	buf_err("Server_Name: x\n", "Server_Name: unknown key");
	buf_err("? [a]\n: b\n", "inline.yaml:1:3: expected a key, found a "
	    "list");
	file_err("bad-duplicate.yaml", "bad-duplicate.yaml:3:3: log.level: "
	    "duplicate key (first at line 2)");
}

static void
test_conf_wrong_type(void **state)
{
	(void)state;
	file_err("bad-type.yaml", "bad-type.yaml:2:20: "
	    "limits.max_connections: 'lots' is not a whole number");
	file_err("bad-type-section.yaml", "bad-type-section.yaml:1:9: "
	    "limits: expected a mapping, found a scalar");
	buf_err("server_name: [a, b]\n",
	    "inline.yaml:1:14: server_name: expected a scalar, found a list");
	buf_err("log: { level: { a: b } }\n",
	    "log.level: expected a scalar, found a mapping");
	buf_err("listeners: { protocol: nats }\n",
	    "listeners: expected a list of mappings, found a mapping");
	buf_err("listeners: [ \"127.0.0.1:4240\" ]\n",
	    "inline.yaml:1:14: listeners[0]: expected a mapping, found a "
	    "scalar");
	buf_err("listeners: []\n", "listeners: empty list");
	buf_err("include: [ [a] ]\n", "include: expected a glob, found a "
	    "list");
	buf_err("- a\n- b\n", "inline.yaml:1:1: expected a mapping of keys, "
	    "found a list");
	buf_err("just a string\n", "expected a mapping of keys, found a "
	    "scalar");
	buf_err("limits: { max_subscriptions: 1e3 }\n",
	    "'1e3' is not a whole number");
	buf_err("limits: { ping_max: -1 }\n", "'-1' is not a whole number");
	buf_err("limits: { ping_max: 0x10 }\n", "is not a whole number");
	buf_err("limits: { ping_max: ~ }\n", "missing value");
	buf_err("server_name: !!str x\n", "inline.yaml:1:14: server_name: "
	    "YAML tags are not allowed");
	buf_err("server_name: \"a\\0b\"\n", "value contains a NUL byte");
	buf_err("server_name: a\n---\nserver_name: b\n",
	    "inline.yaml:2:1: only one YAML document");
	file_err("bad-syntax.yaml", "bad-syntax.yaml:3:2: syntax error: ");
	buf_err("\xff\xfe\xfd", "inline.yaml: byte ");
}

static void
test_conf_out_of_range(void **state)
{
	struct conf *c;

	(void)state;
	file_err("bad-range.yaml", "bad-range.yaml:2:16: limits.max_payload: "
	    "must be from 1B to 64MiB");
	buf_err("limits: { max_connections: 0 }\n",
	    "limits.max_connections: must be from 1 to 1000000");
	buf_err("limits: { max_connections: 1000001 }\n",
	    "must be from 1 to 1000000");
	buf_err("limits: { max_connections: 99999999999999999999999 }\n",
	    "must be from 1 to 1000000");
	buf_err("limits: { ping_max: 0 }\n", "must be from 1 to 1000");
	buf_err("limits: { write_deadline: 99ms }\n",
	    "must be from 100ms to 1h");
	buf_err("limits: { max_subscriptions: 1000000001 }\n",
	    "must be from 0 to 1000000000");
	c = buf_ok("limits: { max_connections: 1000000, max_subscriptions: "
	    "1000000000 }\n");
	assert_int_equal(c->limits.max_connections, 1000000);
	assert_int_equal(c->limits.max_subscriptions, 1000000000);
	conf_free(c);
}

static void
test_conf_payload_above_pending(void **state)
{
	struct conf *c;

	(void)state;
	file_err("bad-payload-pending.yaml", "bad-payload-pending.yaml:2:3: "
	    "limits.max_payload: max_payload (2MiB) must not exceed "
	    "max_pending (1MiB)");
	/* only max_pending set: the message points at it */
	buf_err("limits:\n  max_pending: 512KiB\n",
	    "inline.yaml:2:3: limits.max_pending: max_payload (1MiB) must "
	    "not exceed max_pending (512KiB)");
	c = buf_ok("limits: { max_payload: 2MiB, max_pending: 2MiB }\n");
	conf_free(c);
}

static void
test_conf_alias_anchor_rejected(void **state)
{
	(void)state;
	file_err("bad-alias.yaml", "bad-alias.yaml:2:16: limits.max_payload: "
	    "YAML anchors are not allowed");
	file_err("bad-anchor.yaml", "bad-anchor.yaml:1:6: log: YAML anchors "
	    "are not allowed");
	/* fails at the first anchor: no expansion, no time */
	file_err("bad-alias-bomb.yaml", "bad-alias-bomb.yaml:1:1: a: unknown "
	    "key");
	buf_err("limits:\n  max_payload: *p\n",
	    "inline.yaml:2:16: limits.max_payload: YAML aliases are not "
	    "allowed");
	buf_err("log: { level: &x info }\n", "YAML anchors are not allowed");
	buf_err("listeners: &l [ { protocol: nats, address: \":1\" } ]\n",
	    "listeners: YAML anchors are not allowed");
}

static void
test_conf_env_expansion(void **state)
{
	struct conf *c;

	(void)state;
	setenv("COROBUS_T_NAME", "alpha", 1);
	setenv("COROBUS_T_PORT", "4999", 1);
	setenv("COROBUS_T_EMPTY", "", 1);
	setenv("COROBUS_T_SIZE", "2MiB", 1);
	unsetenv("COROBUS_T_UNSET");
	c = buf_ok("server_name: \"${COROBUS_T_NAME}-${COROBUS_T_NAME}\"\n"
	    "listeners: [ { protocol: nats, address: \"[::]:${COROBUS_T_PORT}"
	    "\" } ]\nlimits: { max_payload: \"${COROBUS_T_SIZE}\" }\n");
	assert_string_equal(c->server_name, "alpha-alpha");
	assert_string_equal(c->listeners[0].host, "::");
	assert_string_equal(c->listeners[0].port, "4999");
	assert_int_equal(c->limits.max_payload, 2 << 20);
	conf_free(c);
	c = buf_ok("server_name: ${COROBUS_T_UNSET:-fall back}\n");
	assert_string_equal(c->server_name, "fall back");
	conf_free(c);
	c = buf_ok("server_name: \"${COROBUS_T_EMPTY:-was empty}\"\n");
	assert_string_equal(c->server_name, "was empty");
	conf_free(c);
	c = buf_ok("server_name: \"[${COROBUS_T_EMPTY}]\"\n");
	assert_string_equal(c->server_name, "[]");
	conf_free(c);
	c = buf_ok("server_name: \"${COROBUS_T_NAME:-x}${COROBUS_T_UNSET:-}"
	    "\"\n");
	assert_string_equal(c->server_name, "alpha");
	conf_free(c);
	c = buf_ok("server_name: \"cost $$5, $${NOT_A_VAR}, $$$$\"\n");
	assert_string_equal(c->server_name, "cost $5, ${NOT_A_VAR}, $$");
	conf_free(c);
	/* keys are not expanded */
	buf_err("${COROBUS_T_NAME}: 1\n", "${COROBUS_T_NAME}: unknown key");
	file_err("bad-unset-var.yaml", "bad-unset-var.yaml:1:14: "
	    "server_name: environment variable COROBUS_TEST_SURELY_UNSET is "
	    "not set");
	buf_err("server_name: $HOME\n", "'$' must start ${NAME} or be "
	    "doubled ($$)");
	buf_err("server_name: a$\n", "'$' must start");
	buf_err("server_name: \"${COROBUS_T_NAME\"\n", "expected '}' or ':-'");
	buf_err("server_name: \"${COROBUS_T_NAME:-x\"\n", "missing '}'");
	buf_err("server_name: \"${}\"\n", "bad variable name");
	buf_err("server_name: \"${1A}\"\n", "bad variable name");
	buf_err("server_name: \"${A-B}\"\n", "expected '}' or ':-'");
	buf_err("limits: { max_payload: \"${COROBUS_T_NAME}\" }\n",
	    "'alpha' is not a size");
	unsetenv("COROBUS_T_NAME");
	unsetenv("COROBUS_T_PORT");
	unsetenv("COROBUS_T_EMPTY");
	unsetenv("COROBUS_T_SIZE");
}

static void
test_conf_include_glob_relative(void **state)
{
	struct conf *c;
	const char *f;

	(void)state;
	c = load_ok(fx("include/main.yaml"));
	assert_string_equal(c->server_name, "from-extra");
	assert_int_equal(c->limits.max_payload, 3 << 20);
	assert_int_equal(c->limits.ping_max, 5);
	assert_int_equal(c->nlisteners, 2);
	assert_string_equal(c->listeners[0].port, "4301");
	assert_string_equal(c->listeners[1].port, "4302");
	f = c->listeners[1].file;
	assert_non_null(strstr(f, "/include/sub/../parts/extra.yml"));
	assert_non_null(strstr(c->log.file,
	    "/include/parts/logs/from-parts.log"));
	assert_true(c->log.file[0] == '/');
	conf_free(c);
	file_err("bad-include-missing.yaml", "bad-include-missing.yaml:1:12: "
	    "include: 'no-such-file.yaml': no such file");
	buf_err("include: \"\"\n", "include: empty glob");
	buf_err("log:\n  include: x.yaml\n", "log.include: unknown key");
}

static void
test_conf_include_disabled(void **state)
{
	struct conf_error err;
	struct conf *c = NULL;
	const char *y = "include: [ \"*.yaml\" ]\n";

	(void)state;
	assert_int_equal(conf_load_buffer("fuzz.yaml", y, strlen(y),
	    CONF_NO_INCLUDE, &c, &err), -1);
	assert_null(c);
	assert_string_equal(err.text, "fuzz.yaml:1:10: include: includes "
	    "are disabled here");
}

static void
test_conf_confd_implicit(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok(fx("confd/corobus.yaml"));
	assert_string_equal(c->server_name, "main");	/* .yml not read */
	assert_int_equal(c->limits.max_connections, 30);
	assert_int_equal(c->limits.ping_max, 4);
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].unix_path,
	    "/run/corobus/confd.sock");
	assert_int_equal(c->listeners[0].mode, 0660);
	assert_non_null(strstr(c->listeners[0].file,
	    "confd/conf.d/20-second.yaml"));
	conf_free(c);
	/* a buffer has no conf.d */
	c = buf_ok("server_name: x\n");
	assert_int_equal(c->limits.max_connections, 65536);
	conf_free(c);
	/* naming conf.d/ as well reads its files twice */
	file_err("confd-twice/corobus.yaml", "10-x.yaml: read twice (conf.d/ "
	    "is read implicitly)");
}

static char *
mktmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d;

	assert_true(asprintf(&d, "%s/test_conf.XXXXXX", t && *t ? t :
	    "/tmp") > 0);
	assert_non_null(mkdtemp(d));
	return d;
}

static void
test_conf_include_depth_limit(void **state)
{
	struct conf_error err;
	struct conf *c;
	char *dir, path[1024], text[64];
	int i;

	(void)state;
	dir = mktmpdir();
	/* d0 -> d1 -> ... -> d9 */
	for (i = 0; i <= 9; i++) {
		snprintf(path, sizeof(path), "%s/d%d.yaml", dir, i);
		if (i < 9)
			snprintf(text, sizeof(text), "include: d%d.yaml\n",
			    i + 1);
		else
			snprintf(text, sizeof(text), "limits: { ping_max: 9 }"
			    "\n");
		write_file(path, text);
	}
	/* d1..d9: the last is 8 deep */
	snprintf(path, sizeof(path), "%s/d1.yaml", dir);
	c = load_ok(path);
	assert_int_equal(c->limits.ping_max, 9);
	conf_free(c);
	/* d0..d9: one too many */
	snprintf(path, sizeof(path), "%s/d0.yaml", dir);
	assert_int_equal(conf_load(path, &c, &err), -1);
	if (strstr(err.text, "d8.yaml:1:10: include: includes nested deeper "
	    "than 8") == NULL)
		fail_msg("%s", err.text);
	for (i = 0; i <= 9; i++) {
		snprintf(path, sizeof(path), "%s/d%d.yaml", dir, i);
		unlink(path);
	}
	rmdir(dir);
	free(dir);
}

static void
test_conf_include_cycle(void **state)
{
	const char *y = "include: b.yaml\n";
	struct conf_error err;
	struct conf *c = NULL;

	(void)state;
	file_err("cycle/a.yaml", "cycle/b.yaml:1:12: include: ");
	file_err("cycle/a.yaml", "a.yaml' includes itself (include cycle)");
	file_err("self-include.yaml", "self-include.yaml:1:10: include: ");
	file_err("self-include.yaml", "includes itself (include cycle)");
	/* a buffer stands for the file it is named after */
	assert_int_equal(conf_load_buffer(fx("cycle/a.yaml"), y, strlen(y), 0,
	    &c, &err), -1);
	assert_non_null(strstr(err.text, "includes itself (include cycle)"));
}

static void
test_conf_missing_file(void **state)
{
	struct conf_error err;
	struct conf *c = NULL;

	(void)state;
	assert_int_equal(conf_load(fx("no-such.yaml"), &c, &err), -1);
	assert_null(c);
	assert_int_equal(err.errnum, ENOENT);
	assert_non_null(strstr(err.text, "no-such.yaml: No such file or "
	    "directory"));
	assert_int_equal(conf_load(data_dir, &c, &err), -1);
	assert_int_equal(err.errnum, EISDIR);
}

static void
test_conf_listener_forms(void **state)
{
	static const struct {
		const char	*addr;
		const char	*host, *port;
	} good[] = {
		{ "127.0.0.1:4240", "127.0.0.1", "4240" },
		{ "0.0.0.0:4240", "0.0.0.0", "4240" },
		{ ":4240", "", "4240" },
		{ "[::]:4240", "::", "4240" },
		{ "[::1]:0", "::1", "0" },
		{ "[fe80::1%eth0]:65535", "fe80::1%eth0", "65535" },
		{ "[2001:db8::42]:4222", "2001:db8::42", "4222" },
		{ "localhost:4240", "localhost", "4240" },
		{ "node-2.example.org:6240", "node-2.example.org", "6240" },
	};
	static const struct {
		const char	*addr;
		const char	*want;
	} bad[] = {
		{ "::1:4240", "an IPv6 address needs brackets" },
		{ "[::1]", "missing :port" },
		{ "[::1]4240", "missing :port" },
		{ "[::1:4240", "missing ']'" },
		{ "[nothex]:1", "'nothex' is not an IPv6 address" },
		{ "[127.0.0.1]:1", "is not an IPv6 address" },
		{ "[fe80::1%]:1", "is not an IPv6 address" },
		{ "[fe80::1%e\\\"$$]:1", "is not an IPv6 address" },
		{ "127.0.0.1", "missing :port" },
		{ "127.0.0.1:65536", "port '65536' is not a number" },
		{ "127.0.0.1:http", "port 'http' is not a number" },
		{ "127.0.0.1:", "port '' is not a number" },
		{ "1.2.3.256:1", "'1.2.3.256' is not an IPv4 address" },
		{ "under_score:1", "is not a host name or address" },
		{ "-bad:1", "is not a host name or address" },
	};
	struct conf *c;
	char y[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(y, sizeof(y), "listeners:\n  - protocol: nats\n"
		    "    address: \"%s\"\n", good[i].addr);
		c = buf_ok(y);
		assert_string_equal(c->listeners[0].host, good[i].host);
		assert_string_equal(c->listeners[0].port, good[i].port);
		conf_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "listeners:\n  - protocol: nats\n"
		    "    address: \"%s\"\n", bad[i].addr);
		buf_err(y, bad[i].want);
		buf_err(y, "inline.yaml:3:14: listeners[0].address: ");
	}
	/* protocol defaults to nats; unix with and without mode */
	c = buf_ok("listeners:\n  - address: \":1\"\n  - unix: /tmp/a.sock\n"
	    "  - unix: b.sock\n    mode: 600\n");
	assert_int_equal(c->listeners[0].proto, CONF_PROTO_NATS);
	assert_int_equal(c->listeners[1].mode, 0660);
	assert_string_equal(c->listeners[1].unix_path, "/tmp/a.sock");
	assert_int_equal(c->listeners[2].mode, 0600);
	assert_true(c->listeners[2].unix_path[0] == '/');
	assert_int_equal(c->listeners[2].line, 4);
	conf_free(c);
	buf_err("listeners:\n  - protocol: nats\n    address: \":1\"\n"
	    "    unix: /tmp/x.sock\n", "inline.yaml:4:5: listeners[0].unix: a "
	    "listener has either address or unix, not both");
	buf_err("listeners:\n  - protocol: nats\n",
	    "inline.yaml:2:5: listeners[0]: needs an address or a unix path");
	buf_err("listeners:\n  - address: \":1\"\n    mode: \"0600\"\n",
	    "inline.yaml:3:5: listeners[0].mode: only a unix listener has a "
	    "mode");
	buf_err("listeners:\n  - { unix: /x, mode: \"0999\" }\n",
	    "'0999' is not an octal mode");
	buf_err("listeners:\n  - { unix: /x, mode: \"01777\" }\n",
	    "mode 1777 is above 0777");
	buf_err("listeners:\n  - { unix: \"\" }\n", "listeners[0].unix: empty "
	    "path");
	buf_err("listeners:\n  - { unix: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaa }\n", "listeners[0].unix: path longer than 107 bytes");
	buf_err("listeners:\n  - { address: \":1\" }\n  - { address: \":1\", "
	    "address: \":2\" }\n", "listeners[1].address: duplicate key");
}

static void
test_conf_listener_clash(void **state)
{
	struct conf *c;

	(void)state;
	buf_err("listeners:\n  - { address: \"127.0.0.1:4240\" }\n"
	    "  - { address: \"127.0.0.1:4240\" }\n",
	    "inline.yaml:3:5: listeners[1]: same address as listeners[0] ");
	buf_err("listeners:\n  - { address: \"127.0.0.1:4240\" }\n"
	    "  - { address: \":4240\" }\n", "same address as listeners[0]");
	buf_err("listeners:\n  - { address: \"0.0.0.0:4240\" }\n"
	    "  - { address: \"10.0.0.1:4240\" }\n", "listeners[1]: same");
	buf_err("listeners:\n  - { address: \"[::]:4240\" }\n"
	    "  - { address: \"[::1]:4240\" }\n", "listeners[1]: same");
	buf_err("listeners:\n  - { unix: /run/a.sock }\n"
	    "  - { unix: /run/a.sock }\n", "listeners[1]: same");
	c = buf_ok("listeners:\n  - { address: \"127.0.0.1:0\" }\n"
	    "  - { address: \"127.0.0.1:0\" }\n"
	    "  - { address: \"127.0.0.1:4240\" }\n"
	    "  - { address: \"127.0.0.2:4240\" }\n"
	    "  - { address: \"[::1]:4240\" }\n"
	    "  - { address: \"0.0.0.0:4241\" }\n"
	    "  - { address: \"[::]:4241\" }\n"
	    "  - { unix: /run/a.sock }\n  - { unix: /run/b.sock }\n");
	assert_int_equal(c->nlisteners, 9);
	conf_free(c);
}

static void
test_conf_diff_restart(void **state)
{
	struct conf *a, *b;
	char **keys;
	size_t n;

	(void)state;
	a = buf_ok("listeners:\n  - { address: \"127.0.0.1:4240\" }\n"
	    "  - { unix: /run/a.sock }\n");
	b = buf_ok("listeners:\n  - { address: \"127.0.0.1:4240\" }\n"
	    "  - { unix: /run/a.sock }\n"
	    "limits: { max_payload: 2MiB }\nlog: { level: debug }\n"
	    "lame_duck_duration: 5m\n");
	assert_int_equal(conf_diff_restart(a, b, &keys, &n), 0);
	assert_int_equal(n, 0);
	assert_null(keys);
	conf_free(b);

	b = buf_ok("server_name: other\nlisteners:\n"
	    "  - { address: \"127.0.0.1:4250\" }\n"
	    "  - { unix: /run/b.sock, mode: \"0600\" }\n"
	    "  - { address: \":1\" }\n");
	assert_int_equal(conf_diff_restart(a, b, &keys, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(keys[0], "server_name");
	assert_string_equal(keys[1], "listeners[0].address");
	assert_string_equal(keys[2], "listeners[1].unix");
	assert_string_equal(keys[3], "listeners[1].mode");
	assert_string_equal(keys[4], "listeners[2]");
	conf_keys_free(keys, n);
	assert_int_equal(conf_diff_restart(b, a, &keys, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(keys[4], "listeners[2]");
	conf_keys_free(keys, n);
	conf_keys_free(NULL, 0);
	conf_free(b);
	conf_free(a);
}

static void
test_conf_keep_restart(void **state)
{
	struct conf *a, *b;
	char **keys;
	size_t n;

	(void)state;
	a = buf_ok("server_name: one\nlisteners:\n"
	    "  - { address: \"127.0.0.1:4240\" }\n");
	b = buf_ok("server_name: two\nlisteners:\n"
	    "  - { address: \"[::1]:4250\" }\n  - { unix: /run/x.sock }\n"
	    "limits: { ping_max: 9 }\n");
	assert_int_equal(conf_keep_restart(b, a), 0);
	assert_string_equal(b->server_name, "one");
	assert_int_equal(b->nlisteners, 1);
	assert_string_equal(b->listeners[0].host, "127.0.0.1");
	assert_string_equal(b->listeners[0].port, "4240");
	assert_string_equal(b->listeners[0].file, a->listeners[0].file);
	assert_ptr_not_equal(b->listeners[0].file, a->listeners[0].file);
	assert_int_equal(b->limits.ping_max, 9);	/* reloadable: new */
	assert_int_equal(conf_diff_restart(a, b, &keys, &n), 0);
	assert_int_equal(n, 0);
	conf_free(a);
	conf_free(b);
}

static void
test_conf_dump_round_trip(void **state)
{
	static const char *const files[] = {
		"good-all.yaml", "flow.yaml", "include/main.yaml",
		"confd/corobus.yaml",
	};
	struct conf_error err;
	struct conf *c, *d;
	char *a, *b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		c = load_ok(fx(files[i]));
		a = dump(c);
		if (conf_load_buffer(fx("dumped.yaml"), a, strlen(a), 0, &d,
		    &err) != 0)
			fail_msg("%s: %s\n%s", files[i], err.text, a);
		b = dump(d);
		assert_string_equal(a, b);
		free(a);
		free(b);
		conf_free(c);
		conf_free(d);
	}
	/* strings that need quoting, escapes and $$ survive */
	c = buf_ok("server_name: \"a \\\"q\\\" $$x \\\\ \\t \\u00e9 \\u2028 "
	    "\\x85 \\x7f #c: \"\n");
	a = dump(c);
	assert_non_null(strstr(a, "server_name: \"a \\\"q\\\" $$x \\\\ \\x09 "
	    "\xc3\xa9 \\u2028 \\x85 \\x7f #c: \"\n"));
	if (conf_load_buffer(fx("dumped.yaml"), a, strlen(a), 0, &d,
	    &err) != 0)
		fail_msg("%s\n%s", err.text, a);
	assert_string_equal(d->server_name, c->server_name);
	free(a);
	conf_free(c);
	conf_free(d);
	/* the expected shape */
	c = load_ok(fx("flow.yaml"));
	a = dump(c);
	assert_non_null(strstr(a, "listeners:\n  - protocol: nats\n"
	    "    address: \"127.0.0.1:4240\"\n  - protocol: nats\n"
	    "    unix: \"/run/corobus/corobus.sock\"\n    mode: \"0660\"\n"
	    "limits:\n  max_connections: 65536\n  max_payload: 2MiB\n"));
	assert_non_null(strstr(a, "  ping_interval: 90s\n"));
	assert_non_null(strstr(a, "log:\n  target: journal\n  level: trace\n"));
	assert_null(strstr(a, "include"));
	free(a);
	conf_free(c);
}

static void
test_conf_override(void **state)
{
	struct conf_error err;
	struct conf *c;

	(void)state;
	c = buf_ok("listeners:\n  - { unix: /run/a.sock }\n"
	    "  - { address: \"[::1]:4240\" }\n"
	    "  - { address: \"127.0.0.1:4241\" }\n");
	assert_int_equal(conf_apply_override(c, "listeners[1].port", "4250"),
	    0);
	assert_string_equal(c->listeners[1].host, "::1");
	assert_string_equal(c->listeners[1].port, "4250");
	assert_int_equal(conf_apply_override(c, "listeners[2].host",
	    "::"), 0);
	assert_string_equal(c->listeners[2].host, "::");
	assert_string_equal(c->listeners[2].port, "4241");
	assert_int_equal(conf_apply_override(c, "listeners[2].address",
	    "10.1.2.3:99"), 0);
	assert_string_equal(c->listeners[2].host, "10.1.2.3");
	assert_string_equal(c->listeners[2].port, "99");
	assert_int_equal(conf_apply_override(c, "listeners[0].unix",
	    "/run/b.sock"), 0);
	assert_string_equal(c->listeners[0].unix_path, "/run/b.sock");
	assert_int_equal(conf_apply_override(c, "listeners[0].mode", "0600"),
	    0);
	assert_int_equal(c->listeners[0].mode, 0600);
	assert_int_equal(conf_apply_override(c, "limits.max_payload", "2MiB"),
	    0);
	assert_int_equal(c->limits.max_payload, 2 << 20);
	assert_int_equal(conf_apply_override(c, "log.level", "trace"), 0);
	assert_int_equal(c->log.level, CONF_LOG_TRACE);
	assert_int_equal(conf_apply_override(c, "server_name", "$x"), 0);
	assert_string_equal(c->server_name, "$x");	/* literal */
	assert_int_equal(conf_apply_override(c, "log.file", "rel.log"), 0);
	assert_string_equal(c->log.file, "rel.log");

	/* failures leave the value alone */
	errno = 0;
	assert_int_equal(conf_apply_override(c, "listeners[1].port", "70000"),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(c->listeners[1].port, "4250");
	assert_int_equal(conf_apply_override(c, "listeners[1].port",
	    "1]:2"), -1);
	assert_string_equal(c->listeners[1].port, "4250");
	assert_int_equal(conf_apply_override(c, "listeners[3].port", "1"),
	    -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(conf_apply_override(c, "listeners[0].port", "1"),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(conf_apply_override(c, "listeners[1].mode", "0600"),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(conf_apply_override(c, "listeners[1].colour", "1"),
	    -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(conf_apply_override(c, "listeners[x].port", "1"),
	    -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(conf_apply_override(c, "limits.nope", "1"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(conf_apply_override(c, "limits", "1"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(conf_apply_override(c, "listeners", "1"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(conf_apply_override(c, "limits.max_payload",
	    "100MiB"), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(conf_apply_override(c, "log.level", "loud"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(c->limits.max_payload, 2 << 20);
	/* whole-config checks */
	assert_int_equal(conf_apply_override_err(c, "limits.max_pending",
	    "1MiB", &err), -1);
	assert_int_equal(errno, ERANGE);
	assert_string_equal(err.text, "limits.max_payload: max_payload (2MiB) "
	    "must not exceed max_pending (1MiB)");
	assert_int_equal(c->limits.max_pending, 64 << 20);
	assert_int_equal(conf_apply_override_err(c, "listeners[2].port",
	    "4250", &err), 0);
	assert_int_equal(conf_apply_override_err(c, "listeners[2].host",
	    "::1", &err), -1);
	assert_non_null(strstr(err.text, "inline.yaml:4:5: listeners[2]: same "
	    "address as listeners[1] ("));
	assert_non_null(strstr(err.text, "inline.yaml:3)"));
	assert_string_equal(c->listeners[2].host, "10.1.2.3");
	assert_int_equal(conf_apply_override_err(c, "listeners[1].port",
	    "x", &err), -1);
	assert_string_equal(err.text, "listeners[1].port: port 'x' is not a "
	    "number from 0 to 65535");
	assert_int_equal(conf_apply_override_err(c, "listeners[0].unix", "",
	    &err), -1);
	assert_string_equal(err.text, "listeners[0].unix: empty path");
	assert_string_equal(c->listeners[0].unix_path, "/run/b.sock");
	conf_free(c);

	/* -p on the defaults */
	assert_int_equal(conf_defaults(&c), 0);
	assert_int_equal(conf_apply_override(c, "listeners[0].port", "0"), 0);
	assert_string_equal(c->listeners[0].host, "127.0.0.1");
	assert_string_equal(c->listeners[0].port, "0");
	conf_free(c);
}

/*
 * cluster:
 */

/* Every cluster key away from its default. */
static const char cluster_full[] =
    "cluster:\n"
    "  name: prod\n"
    "  address: \"0.0.0.0:6250\"\n"
    "  advertise: \"node-1.example.org:16250\"\n"
    "  no_advertise: true\n"
    "  routes:\n"
    "    - nats-route://node-2.example.org:6250\n"
    "    - nats-route://ruser:T0p%40ss@node-3:6251/\n"
    "    - \"[::1]\"\n"
    "  connect_retries: 0\n"
    "  max_pending: 1GiB\n"
    "  write_deadline: 2s\n"
    "  ping_interval: 100ms\n"
    "  ping_max: 5\n"
    "  authorization:\n"
    "    user: ruser\n"
    "    password: \"$2a$11$abcdefghijklmnopqrstuv\"\n"
    "    timeout: 500ms\n"
    "  tls:\n"
    "    cert: certs/route.pem\n"
    "    key: /etc/corobus/route.key\n"
    "    ca: ca.pem\n"
    "    handshake_timeout: 3s\n"
    "  permissions:\n"
    "    import: [ \"orders.>\", \"_INBOX.>\" ]\n"
    "    export: \"orders.*.created\"\n";

static void
assert_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n < m || strcmp(s + n - m, suffix) != 0 || s[0] != '/')
		fail_msg("'%s' is not an absolute path ending in '%s'", s,
		    suffix);
}

static void
test_conf_cluster_defaults(void **state)
{
	const struct conf_cluster *cl;
	struct conf *c;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	cl = &c->cluster;
	assert_string_equal(cl->name, "");
	assert_null(cl->host);
	assert_null(cl->port);
	assert_string_equal(cl->advertise, "");
	assert_int_equal(cl->no_advertise, 0);
	assert_null(cl->routes);
	assert_int_equal(cl->nroutes, 0);
	assert_string_equal(cl->user, "");
	assert_string_equal(cl->password, "");
	assert_int_equal(cl->auth_timeout, 2000);
	assert_string_equal(cl->tls.cert, "");
	assert_string_equal(cl->tls.key, "");
	assert_string_equal(cl->tls.ca, "");
	assert_int_equal(cl->tls.handshake_timeout, 2000);
	assert_int_equal(cl->nimport, 0);
	assert_int_equal(cl->nexport, 0);
	assert_int_equal(cl->connect_retries, 3);
	assert_int_equal(cl->max_pending, 256 << 20);
	assert_int_equal(cl->write_deadline, 10000);
	assert_int_equal(cl->ping_interval, 120000);
	assert_int_equal(cl->ping_max, 2);
	conf_free(c);
	/* an empty section, and clustering explicitly off */
	c = buf_ok("cluster:\n");
	assert_same_as_defaults(c);
	conf_free(c);
	c = buf_ok("cluster: { address: \"\", name: \"\", routes: [] }\n");
	assert_same_as_defaults(c);
	conf_free(c);
}

static void
test_conf_cluster_full(void **state)
{
	const struct conf_cluster *cl;
	struct conf *c;

	(void)state;
	c = buf_ok(cluster_full);
	cl = &c->cluster;
	assert_string_equal(cl->name, "prod");
	assert_string_equal(cl->host, "0.0.0.0");
	assert_string_equal(cl->port, "6250");
	assert_string_equal(cl->advertise, "node-1.example.org:16250");
	assert_int_equal(cl->no_advertise, 1);
	assert_int_equal(cl->nroutes, 3);
	/* kept as written: route.c parses them */
	assert_string_equal(cl->routes[0],
	    "nats-route://node-2.example.org:6250");
	assert_string_equal(cl->routes[1],
	    "nats-route://ruser:T0p%40ss@node-3:6251/");
	assert_string_equal(cl->routes[2], "[::1]");
	assert_int_equal(cl->connect_retries, 0);
	assert_int_equal(cl->max_pending, 1ULL << 30);
	assert_int_equal(cl->write_deadline, 2000);
	assert_int_equal(cl->ping_interval, 100);
	assert_int_equal(cl->ping_max, 5);
	assert_string_equal(cl->user, "ruser");
	/* taken literally, as auth.users passwords */
	assert_string_equal(cl->password, "$2a$11$abcdefghijklmnopqrstuv");
	assert_int_equal(cl->auth_timeout, 500);
	assert_suffix(cl->tls.cert, "/tests/data/conf/certs/route.pem");
	assert_string_equal(cl->tls.key, "/etc/corobus/route.key");
	assert_suffix(cl->tls.ca, "/tests/data/conf/ca.pem");
	assert_int_equal(cl->tls.handshake_timeout, 3000);
	assert_int_equal(cl->tls.verify, CONF_TLS_VERIFY_NONE);
	assert_int_equal(cl->nimport, 2);
	assert_string_equal(cl->import[0], "orders.>");
	assert_string_equal(cl->import[1], "_INBOX.>");
	assert_int_equal(cl->nexport, 1);
	assert_string_equal(cl->export[0], "orders.*.created");
	conf_free(c);

	/* the bounds */
	c = buf_ok("cluster: { connect_retries: 1000, max_pending: 64GiB, "
	    "write_deadline: 1h, ping_interval: 24h, ping_max: 1000 }\n");
	assert_int_equal(c->cluster.connect_retries, 1000);
	assert_int_equal(c->cluster.max_pending, 64ULL << 30);
	assert_int_equal(c->cluster.ping_interval, 24 * 3600 * 1000LL);
	conf_free(c);
	c = buf_ok("cluster: { max_pending: 1MiB, write_deadline: 100ms, "
	    "ping_max: 1, advertise: \"[2001:db8::1]:1\" }\n");
	assert_int_equal(c->cluster.max_pending, 1 << 20);
	assert_string_equal(c->cluster.advertise, "[2001:db8::1]:1");
	conf_free(c);
	/* TLS and authorization need no address (they wait for one) */
	c = buf_ok("cluster:\n  tls: { cert: /a.pem, key: /a.key, ca: /ca.pem "
	    "}\n  authorization: { user: u, password: p }\n");
	assert_null(c->cluster.host);
	assert_string_equal(c->cluster.tls.ca, "/ca.pem");
	conf_free(c);
}

static void
test_conf_cluster_errors(void **state)
{
	static const struct {
		const char	*yaml;
		const char	*want;
	} bad[] = {
		/* name and address */
		{ "cluster:\n  address: \"0.0.0.0:6240\"\n",
		  "inline.yaml:2:3: cluster.name: required when "
		  "cluster.address is set" },
		{ "cluster:\n  name: \"\"\n  address: \":6240\"\n",
		  "inline.yaml:2:3: cluster.name: required when "
		  "cluster.address is set" },
		{ "cluster:\n  name: a b\n  address: \":6240\"\n",
		  "inline.yaml:2:3: cluster.name: must not contain white "
		  "space" },
		{ "cluster:\n  name: x\n  address: \"0.0.0.0\"\n",
		  "inline.yaml:3:12: cluster.address: '0.0.0.0': missing "
		  ":port" },
		{ "cluster:\n  name: x\n  address: \"::1:6240\"\n",
		  "inline.yaml:3:12: cluster.address: an IPv6 address needs "
		  "brackets" },
		{ "cluster: { colour: red }\n",
		  "inline.yaml:1:12: cluster.colour: unknown key" },
		{ "cluster: { name: [a] }\n",
		  "inline.yaml:1:18: cluster.name: expected a scalar, found "
		  "a list" },
		/* routes */
		{ "cluster:\n  routes: [ \"nats-route://a:1\" ]\n",
		  "inline.yaml:2:3: cluster.routes: needs cluster.address "
		  "(clustering is off without it)" },
		{ "cluster:\n  name: x\n  address: \":6240\"\n  routes:\n"
		  "    - nats-route://ok:1\n    - http://x:1\n",
		  "inline.yaml:6:7: cluster.routes: unknown scheme 'http' "
		  "(use nats-route://, nats:// or route://)" },
		{ "cluster:\n  name: x\n  address: \":6240\"\n"
		  "  routes: \"nats-route://:1\"\n",
		  "inline.yaml:4:11: cluster.routes: empty host" },
		{ "cluster:\n  routes: [ \"nats-route://h:0\" ]\n",
		  "inline.yaml:2:13: cluster.routes: port '0' is not a number "
		  "from 1 to 65535" },
		{ "cluster:\n  routes: [ \"\" ]\n",
		  "inline.yaml:2:13: cluster.routes: empty string in the "
		  "list" },
		{ "cluster:\n  routes: [ [ x ] ]\n",
		  "inline.yaml:2:13: cluster.routes: expected a string, found "
		  "a list" },
		/* advertise */
		{ "cluster:\n  advertise: node-1\n",
		  "inline.yaml:2:14: cluster.advertise: 'node-1': missing "
		  ":port" },
		{ "cluster:\n  advertise: \":6240\"\n",
		  "inline.yaml:2:14: cluster.advertise: ':6240': needs a host "
		  "that other servers can dial" },
		{ "cluster:\n  advertise: \"h:00\"\n",
		  "inline.yaml:2:14: cluster.advertise: 'h:00': port 0 cannot "
		  "be dialled" },
		/* authorization */
		{ "cluster:\n  authorization:\n    user: r\n",
		  "inline.yaml:3:5: cluster.authorization.password: "
		  "cluster.authorization.user and "
		  "cluster.authorization.password go together" },
		{ "cluster:\n  authorization:\n    user: \"\"\n"
		  "    password: p\n",
		  "inline.yaml:3:5: cluster.authorization.user: "
		  "cluster.authorization.user and "
		  "cluster.authorization.password go together" },
		{ "cluster:\n  authorization: { timeout: 99ms }\n",
		  "inline.yaml:2:29: cluster.authorization.timeout: must be "
		  "from 100ms to 10m" },
		/* tls */
		{ "cluster:\n  tls:\n    cert: /a.pem\n    ca: /ca.pem\n",
		  "inline.yaml:3:5: cluster.tls.key: cluster.tls.cert and "
		  "cluster.tls.key go together" },
		{ "cluster:\n  tls:\n    key: /a.key\n    ca: /ca.pem\n",
		  "inline.yaml:3:5: cluster.tls.cert: cluster.tls.cert and "
		  "cluster.tls.key go together" },
		{ "cluster:\n  tls:\n    cert: /a.pem\n    key: /a.key\n",
		  "inline.yaml:3:5: cluster.tls.ca: required when "
		  "cluster.tls.cert is set (routes verify each other)" },
		{ "cluster:\n  tls:\n    ca: /ca.pem\n",
		  "inline.yaml:3:5: cluster.tls.cert: required by "
		  "cluster.tls.ca" },
		{ "cluster:\n  tls: { handshake_timeout: 11m }\n",
		  "inline.yaml:2:29: cluster.tls.handshake_timeout: must be "
		  "from 100ms to 10m" },
		{ "cluster:\n  tls: { verify: required }\n",
		  "inline.yaml:2:10: cluster.tls.verify: unknown key" },
		/* permissions */
		{ "cluster:\n  permissions:\n    import: [ \"a..b\" ]\n",
		  "inline.yaml:3:15: cluster.permissions.import: 'a..b' is "
		  "not a subject" },
		{ "cluster:\n  permissions:\n    export: [ ok, \"a.>.b\" ]\n",
		  "inline.yaml:3:19: cluster.permissions.export: 'a.>.b' is "
		  "not a subject" },
		{ "cluster:\n  permissions:\n    export: \"a b\"\n",
		  "inline.yaml:3:13: cluster.permissions.export: 'a b' is not "
		  "a subject" },
		{ "cluster:\n  permissions:\n    export: \"foo.\"\n",
		  "cluster.permissions.export: 'foo.' is not a subject" },
		{ "cluster:\n  permissions: { publish: [ x ] }\n",
		  "cluster.permissions.publish: unknown key" },
		/* ranges */
		{ "cluster: { connect_retries: 1001 }\n",
		  "inline.yaml:1:29: cluster.connect_retries: must be from 0 "
		  "to 1000" },
		{ "cluster: { max_pending: 512KiB }\n",
		  "cluster.max_pending: must be from 1MiB to 64GiB" },
		{ "cluster: { write_deadline: 99ms }\n",
		  "cluster.write_deadline: must be from 100ms to 1h" },
		{ "cluster: { ping_interval: 99ms }\n",
		  "cluster.ping_interval: must be from 100ms to 24h" },
		{ "cluster: { ping_max: 0 }\n",
		  "cluster.ping_max: must be from 1 to 1000" },
		{ "cluster: { no_advertise: maybe }\n",
		  "cluster.no_advertise: 'maybe' is not true or false" },
		/* against other keys */
		{ "limits: { max_payload: 2MiB }\n"
		  "cluster:\n  max_pending: 1MiB\n",
		  "inline.yaml:3:3: cluster.max_pending: limits.max_payload "
		  "(2MiB) must not exceed cluster.max_pending (1MiB)" },
		{ "listeners:\n  - { address: \":6240\" }\n"
		  "cluster:\n  name: x\n  address: \"127.0.0.1:6240\"\n",
		  "inline.yaml:5:3: cluster.address: same address as "
		  "listeners[0]" },
		{ "monitoring: { address: \"127.0.0.1:6240\" }\n"
		  "cluster:\n  name: x\n  address: \":6240\"\n",
		  "inline.yaml:4:3: cluster.address: same address as "
		  "monitoring.address" },
	};
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		buf_err(bad[i].yaml, bad[i].want);
	/* a datagram listener's port is UDP; port 0 is any free port */
	c = buf_ok("listeners:\n  - { address: \"127.0.0.1:4240\" }\n"
	    "  - { protocol: datagram, address: \"127.0.0.1:6240\" }\n"
	    "  - { address: \"127.0.0.1:0\" }\n"
	    "cluster: { name: x, address: \"127.0.0.1:6240\" }\n");
	conf_free(c);
	c = buf_ok("cluster: { name: x, address: \"127.0.0.1:0\" }\n"
	    "listeners: [ { address: \"127.0.0.1:0\" } ]\n");
	conf_free(c);
}

static void
test_conf_route_url(void **state)
{
	static const struct {
		const char	*url;
		const char	*host, *port, *user, *password;
	} good[] = {
		{ "nats-route://a.example.org:6250", "a.example.org", "6250",
		  "", "" },
		{ "nats-route://a.example.org", "a.example.org", "6240", "",
		  "" },
		{ "nats://10.0.0.1:4248/", "10.0.0.1", "4248", "", "" },
		{ "route://[::1]:7000", "::1", "7000", "", "" },
		{ "NATS-Route://h", "h", "6240", "", "" },
		{ "[fe80::1%eth0]", "fe80::1%eth0", "6240", "", "" },
		{ "host:1", "host", "1", "", "" },
		{ "h:00080", "h", "80", "", "" },
		{ "localhost/", "localhost", "6240", "", "" },
		{ "nats-route://ruser:T0p%40ss@node-2:65535", "node-2",
		  "65535", "ruser", "T0p@ss" },
		{ "nats-route://a%3Ab:p:w@h", "h", "6240", "a:b", "p:w" },
		{ "nats-route://u@h", "h", "6240", "u", "" },
		{ "nats-route://u:@h", "h", "6240", "u", "" },
		{ "nats-route://u:p@ss@[::1]", "::1", "6240", "u", "p@ss" },
		{ "nats-route://%75%2f:%e2%82%ac@h", "h", "6240", "u/",
		  "\xe2\x82\xac" },
	};
	static const struct {
		const char	*url;
		const char	*want;
	} bad[] = {
		{ "", "empty host" },
		{ "nats-route://", "empty host" },
		{ "nats-route://:6240", "empty host" },
		{ "nats-route://u:p@", "empty host" },
		{ "nats-route://u:p@:1", "empty host" },
		{ "http://h:1", "unknown scheme 'http' (use nats-route://, "
		  "nats:// or route://)" },
		{ "tls://h", "unknown scheme 'tls'" },
		{ "nats-route:/h", "unexpected '/' after the host" },
		{ "nats-route://@h", "empty user name before '@'" },
		{ "nats-route://:p@h", "empty user name before '@'" },
		{ "nats-route://h:0", "port '0' is not a number from 1 to "
		  "65535" },
		{ "nats-route://h:65536", "port '65536' is not a number" },
		{ "nats-route://h:123456", "port '123456' is not a number" },
		{ "nats-route://h:x", "port 'x' is not a number" },
		{ "nats-route://h:", "port '' is not a number" },
		{ "nats-route://h:1:2", "an IPv6 address needs brackets" },
		{ "nats-route://::1", "an IPv6 address needs brackets" },
		{ "nats-route://[::1", "missing ']' after the IPv6 address" },
		{ "nats-route://[::1]x", "unexpected 'x' after ']'" },
		{ "nats-route://[::1]:", "port '' is not a number" },
		{ "nats-route://[]:1", "empty host" },
		{ "nats-route://[nothex]", "'nothex' is not an IPv6 address" },
		{ "nats-route://[127.0.0.1]", "is not an IPv6 address" },
		{ "nats-route://h/path", "unexpected '/' after the host (a "
		  "route URL has no path, query or fragment)" },
		{ "nats-route://h?x=1", "unexpected '?' after the host" },
		{ "nats-route://h#f", "unexpected '#' after the host" },
		{ "nats-route://h//", "unexpected '/' after the host" },
		{ "nats-route://u:s/cr#t@h", "'/' in the user name or password "
		  "(percent-encode it)" },
		{ "nats-route://h x", "route URL contains a space or a control "
		  "character" },
		{ "nats-route://h\t", "contains a space" },
		{ "nats-route://u%zz@h", "bad percent-encoding in the user "
		  "name (%XX, two hex digits)" },
		{ "nats-route://u:%4@h", "bad percent-encoding in the "
		  "password" },
		{ "nats-route://u:%@h", "bad percent-encoding in the "
		  "password" },
		{ "nats-route://u:%00@h", "%00 in the password" },
		{ "nats-route://under_score", "'under_score' is not a host "
		  "name or address" },
		{ "nats-route://-h", "is not a host name or address" },
		{ "nats-route://1.2.3.256", "'1.2.3.256' is not an IPv4 "
		  "address" },
	};
	struct conf_route_url u;
	char err[256], url[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&u, 0xa5, sizeof(u));
		if (conf_route_url_parse(good[i].url, &u, err,
		    sizeof(err)) != 0)
			fail_msg("%s: %s", good[i].url, err);
		assert_string_equal(u.host, good[i].host);
		assert_string_equal(u.port, good[i].port);
		assert_string_equal(u.user, good[i].user);
		assert_string_equal(u.password, good[i].password);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(err, "untouched");
		memset(&u, 0xa5, sizeof(u));
		if (conf_route_url_parse(bad[i].url, &u, err,
		    sizeof(err)) == 0)
			fail_msg("accepted '%s'", bad[i].url);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("'%s': error '%s' lacks '%s'", bad[i].url, err,
			    bad[i].want);
		/* a password never shows in a message */
		assert_null(strstr(err, "cr#t"));
		/* nothing half parsed is left behind */
		assert_string_equal(u.host, "");
		assert_string_equal(u.password, "");
	}
	/* no error buffer, or a short one */
	assert_int_equal(conf_route_url_parse("x:0", &u, NULL, 0), -1);
	assert_int_equal(conf_route_url_parse("x:0", &u, err, 5), -1);
	assert_string_equal(err, "port");

	/* the parts' limits: host 255 bytes, user 127, password 255 */
	memset(url, 0, sizeof(url));
	strcpy(url, "nats-route://");
	memset(url + strlen(url), 'a', 256);
	assert_int_equal(conf_route_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "host longer than 255 bytes");
	url[strlen(url) - 3] = '\0';	/* 253: a host name's limit */
	assert_int_equal(conf_route_url_parse(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.host), 253);
	snprintf(url, sizeof(url), "nats-route://%0128d@h", 0);
	assert_int_equal(conf_route_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "user name longer than 127 bytes");
	snprintf(url, sizeof(url), "nats-route://%0127d@h", 0);
	assert_int_equal(conf_route_url_parse(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.user), 127);
	snprintf(url, sizeof(url), "nats-route://u:%0256d@h", 0);
	assert_int_equal(conf_route_url_parse(url, &u, err, sizeof(err)), -1);
	assert_string_equal(err, "password longer than 255 bytes");
	/* percent-encoded, the limit is on the decoded bytes */
	strcpy(url, "nats-route://u:");
	for (i = 0; i < 255; i++)
		strcat(url, "%41");
	strcat(url, "@h");
	assert_int_equal(conf_route_url_parse(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.password), 255);
}

static void
test_conf_cluster_dump(void **state)
{
	struct conf_error err;
	struct conf *c, *d;
	struct conf_route_url u;
	char *a, *b;

	(void)state;
	c = buf_ok(cluster_full);
	a = dump(c);
	assert_non_null(strstr(a, "cluster:\n  name: \"prod\"\n"
	    "  address: \"0.0.0.0:6250\"\n"
	    "  advertise: \"node-1.example.org:16250\"\n"
	    "  no_advertise: true\n"
	    "  routes: [ \"nats-route://node-2.example.org:6250\", "
	    "\"nats-route://ruser:<redacted>@node-3:6251/\", \"[::1]\" ]\n"
	    "  connect_retries: 0\n  max_pending: 1GiB\n"
	    "  write_deadline: 2s\n  ping_interval: 100ms\n  ping_max: 5\n"
	    "  authorization:\n    user: \"ruser\"\n"
	    "    password: \"<redacted>\"\n    timeout: 500ms\n  tls:\n"));
	assert_non_null(strstr(a, "    handshake_timeout: 3s\n"
	    "  permissions:\n    import: [ \"orders.>\", \"_INBOX.>\" ]\n"
	    "    export: [ \"orders.*.created\" ]\n"));
	/* no secret left in it */
	assert_null(strstr(a, "T0p"));
	assert_null(strstr(a, "$2a"));
	if (conf_load_buffer(fx("dumped.yaml"), a, strlen(a), 0, &d,
	    &err) != 0)
		fail_msg("%s\n%s", err.text, a);
	b = dump(d);
	assert_string_equal(a, b);
	assert_string_equal(d->cluster.routes[1],
	    "nats-route://ruser:<redacted>@node-3:6251/");
	assert_int_equal(conf_route_url_parse(d->cluster.routes[1], &u, NULL,
	    0), 0);
	assert_string_equal(u.password, "<redacted>");
	assert_string_equal(d->cluster.tls.cert, c->cluster.tls.cert);
	free(a);
	free(b);
	conf_free(d);
	conf_free(c);

	/* an empty password, '$' and '"' in a URL */
	c = buf_ok("cluster:\n  name: x\n  address: \":6240\"\n  routes:\n"
	    "    - nats-route://u:@h\n    - \"nats-route://u$$:p\\\"$$@h\"\n");
	assert_string_equal(c->cluster.routes[1], "nats-route://u$:p\"$@h");
	a = dump(c);
	assert_non_null(strstr(a, "  routes: [ \"nats-route://u:@h\", "
	    "\"nats-route://u$$:<redacted>@h\" ]\n"));
	if (conf_load_buffer(fx("dumped.yaml"), a, strlen(a), 0, &d,
	    &err) != 0)
		fail_msg("%s\n%s", err.text, a);
	b = dump(d);
	assert_string_equal(a, b);
	free(a);
	free(b);
	conf_free(d);
	conf_free(c);
}

static void
test_conf_cluster_reload(void **state)
{
	struct conf_error err;
	struct conf *a, *b;
	char **keys;
	size_t n;

	(void)state;
	a = buf_ok("cluster:\n  name: one\n  address: \":6240\"\n"
	    "  routes: [ \"nats-route://x:1\" ]\n");
	b = buf_ok("cluster:\n  name: one\n  address: \":6240\"\n"
	    "  routes: [ \"nats-route://y:1\", \"nats-route://z:1\" ]\n"
	    "  ping_max: 9\n  tls: { cert: /c, key: /k, ca: /ca }\n");
	assert_int_equal(conf_diff_restart(a, b, &keys, &n), 0);
	assert_int_equal(n, 0);
	conf_free(b);

	b = buf_ok("cluster:\n  name: two\n  address: \"[::]:6241\"\n"
	    "  routes: [ \"nats-route://y:1\" ]\n  ping_max: 9\n");
	assert_int_equal(conf_diff_restart(a, b, &keys, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0], "cluster.name");
	assert_string_equal(keys[1], "cluster.address");
	conf_keys_free(keys, n);
	assert_int_equal(conf_keep_restart(b, a), 0);
	assert_string_equal(b->cluster.name, "one");
	assert_string_equal(b->cluster.host, "");
	assert_string_equal(b->cluster.port, "6240");
	/* reloadable: the new values */
	assert_int_equal(b->cluster.nroutes, 1);
	assert_string_equal(b->cluster.routes[0], "nats-route://y:1");
	assert_int_equal(b->cluster.ping_max, 9);
	assert_int_equal(conf_diff_restart(a, b, &keys, &n), 0);
	assert_int_equal(n, 0);
	conf_free(b);

	/* clustering turned on by a reload: still off until a restart */
	assert_int_equal(conf_defaults(&b), 0);
	assert_int_equal(conf_diff_restart(b, a, &keys, &n), 0);
	assert_int_equal(n, 2);
	conf_keys_free(keys, n);
	conf_free(b);

	/* overrides: checked like the file, and undone on error */
	assert_int_equal(conf_apply_override_err(a, "cluster.routes",
	    "http://x", &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err.text, "cluster.routes: unknown scheme 'http' "
	    "(use nats-route://, nats:// or route://)");
	assert_int_equal(a->cluster.nroutes, 1);
	assert_string_equal(a->cluster.routes[0], "nats-route://x:1");
	assert_int_equal(conf_apply_override_err(a, "cluster.address", "",
	    &err), -1);
	assert_int_equal(errno, ERANGE);
	assert_string_equal(err.text, "cluster.routes: needs cluster.address "
	    "(clustering is off without it)");
	assert_string_equal(a->cluster.port, "6240");
	assert_int_equal(conf_apply_override(a, "cluster.routes",
	    "nats-route://w:2"), 0);
	assert_int_equal(a->cluster.nroutes, 1);
	assert_string_equal(a->cluster.routes[0], "nats-route://w:2");
	assert_int_equal(conf_apply_override(a, "cluster.address",
	    "127.0.0.1:7000"), 0);
	assert_string_equal(a->cluster.port, "7000");
	conf_free(a);

	assert_int_equal(conf_defaults(&a), 0);
	assert_int_equal(conf_apply_override_err(a, "cluster.address",
	    ":6240", &err), -1);
	assert_string_equal(err.text, "cluster.name: required when "
	    "cluster.address is set");
	assert_null(a->cluster.host);
	conf_free(a);
}

static int
setup(void **state)
{
	const char *top = getenv("top_srcdir");
	const char *build = getenv("top_builddir");

	(void)state;
	if (top == NULL || *top == '\0')
		top = ".";
	/* the sample and the man page are made from .in files at build
	 * time (paths substituted), so they sit in the build tree */
	if (build == NULL || *build == '\0')
		build = top;
	assert_true(asprintf(&data_dir, "%s/tests/data/conf", top) > 0);
	assert_true(asprintf(&sample_path, "%s/conf/corobus.yaml", build) > 0);
	assert_true(asprintf(&man_path, "%s/man/corobus.yaml.5", build) > 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(data_dir);
	free(sample_path);
	free(man_path);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_empty_file_is_defaults),
		cmocka_unit_test(test_conf_sample_loads_and_equals_defaults),
		cmocka_unit_test(test_conf_man_page_documents_every_key),
		cmocka_unit_test(test_conf_each_key_parsed),
		cmocka_unit_test(test_conf_enums),
		cmocka_unit_test(test_conf_sizes),
		cmocka_unit_test(test_conf_durations),
		cmocka_unit_test(test_conf_unknown_key),
		cmocka_unit_test(test_conf_wrong_type),
		cmocka_unit_test(test_conf_out_of_range),
		cmocka_unit_test(test_conf_payload_above_pending),
		cmocka_unit_test(test_conf_alias_anchor_rejected),
		cmocka_unit_test(test_conf_env_expansion),
		cmocka_unit_test(test_conf_include_glob_relative),
		cmocka_unit_test(test_conf_include_disabled),
		cmocka_unit_test(test_conf_confd_implicit),
		cmocka_unit_test(test_conf_include_depth_limit),
		cmocka_unit_test(test_conf_include_cycle),
		cmocka_unit_test(test_conf_missing_file),
		cmocka_unit_test(test_conf_listener_forms),
		cmocka_unit_test(test_conf_listener_clash),
		cmocka_unit_test(test_conf_diff_restart),
		cmocka_unit_test(test_conf_keep_restart),
		cmocka_unit_test(test_conf_dump_round_trip),
		cmocka_unit_test(test_conf_override),
		cmocka_unit_test(test_conf_cluster_defaults),
		cmocka_unit_test(test_conf_cluster_full),
		cmocka_unit_test(test_conf_cluster_errors),
		cmocka_unit_test(test_conf_route_url),
		cmocka_unit_test(test_conf_cluster_dump),
		cmocka_unit_test(test_conf_cluster_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
