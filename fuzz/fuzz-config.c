/*
 * fuzz-config.c - the configuration reader on arbitrary bytes: parse,
 * then look up and check every value, and read each as a Python list of
 * names (config_pylist); it must never crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
quiet(const char *msg, int is_error)
{
	(void)msg;
	(void)is_error;
}

/* Every value as a Python list literal (idlefolders). */
static void
pylist(const char *v)
{
	char **names, *e;
	size_t n;

	if (config_pylist(v, &names, &n, &e) == 0)
		config_free_list(names, n);
	else
		free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	FILE *fp;
	size_t i, j, n;
	char **keys, *v;

	if (size == 0 || (fp = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	if ((c = config_new()) == NULL) {
		fclose(fp);
		return 0;
	}
	if (config_read_fp(c, fp, "fuzz") == 0) {
		for (i = 0; i < config_nsections(c); i++) {
			const char *s = config_section(c, i);

			if (config_keys(c, s, &keys, &n) == -1)
				continue;
			for (j = 0; j < n; j++) {
				if (config_value(c, s, keys[j], &v) == 1)
					free(v);
				if (config_raw(c, s, keys[j], &v) == 1) {
					pylist(v);
					free(v);
				}
			}
			config_free_list(keys, n);
		}
		config_check(c, quiet);
		config_override(c, "general:x=%(y)s");
		if (config_accounts(c, NULL, &keys, &n) == 0)
			config_free_list(keys, n);
	}
	config_free(c);
	fclose(fp);
	return 0;
}
