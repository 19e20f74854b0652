/*
 * fuzz_conf.c: libFuzzer target for the configuration loader.
 *
 * Loads the input as corobus.yaml from memory with includes disabled, so
 * no input makes it read other files.  A config that loads must dump to
 * YAML that loads back to the same dump, diff against the defaults and
 * take an override.  Errors must carry a message.  Never crash, never
 * leak (ASan's leak checker runs at exit and per input with
 * -detect_leaks=1).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Idaemon tests/fuzz/fuzz_conf.c daemon/conf.c daemon/conf_value.c \
 *       daemon/conf_include.c -lyaml -o fuzz_conf
 *   ./fuzz_conf -max_len=4096 tests/data/conf
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *
dump_str(const struct conf *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp;

	if ((fp = open_memstream(&s, &n)) == NULL)
		abort();
	if (conf_dump(c, fp) != 0)
		abort();
	fclose(fp);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_error err;
	struct conf *c = NULL, *d = NULL, *def = NULL;
	char *a, *b, **keys;
	size_t n;

	if (conf_load_buffer("fuzz.yaml", data, size, CONF_NO_INCLUDE, &c,
	    &err) != 0) {
		if (c != NULL || err.text[0] == '\0' ||
		    memchr(err.text, '\0', sizeof(err.text)) == NULL)
			abort();
		return 0;
	}

	/* The dump reads back as the same configuration. */
	a = dump_str(c);
	if (conf_load_buffer("fuzz.yaml", a, strlen(a), CONF_NO_INCLUDE, &d,
	    &err) != 0) {
		fprintf(stderr, "dump does not load: %s\n%s", err.text, a);
		abort();
	}
	b = dump_str(d);
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "dump changed:\n%s---\n%s", a, b);
		abort();
	}
	free(a);
	free(b);

	/* Reload helpers and an override. */
	if (conf_defaults(&def) != 0 ||
	    conf_diff_restart(def, c, &keys, &n) != 0)
		abort();
	conf_keys_free(keys, n);
	if (conf_keep_restart(d, def) != 0 ||
	    conf_diff_restart(def, d, &keys, &n) != 0 || n != 0)
		abort();
	conf_keys_free(keys, n);
	(void)conf_apply_override(c, "listeners[0].port", "4999");
	(void)conf_apply_override(c, "limits.max_payload", "2MiB");

	conf_free(def);
	conf_free(d);
	conf_free(c);
	return 0;
}
