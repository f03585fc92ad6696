/*
 * status-tool - a test helper around lib/status.c:
 *   status-tool dump PATH          rows "UID<TAB>FLAGS", read-only
 *   status-tool write PATH         a new database from such rows on stdin
 *   status-tool open PATH          open to write (imports a legacy file,
 *                                  upgrades version 1) and dump
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status.h"

static int
row(void *ctx, uint32_t uid, const char *flags, long long mtime,
    const char *labels)
{
	(void)ctx;
	(void)mtime;
	(void)labels;
	printf("%" PRIu32 "\t%s\n", uid, flags);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct status *st;
	char *err, *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (argc != 3)
		errx(1, "usage: status-tool dump|write|open PATH");
	if (strcmp(argv[1], "dump") == 0 || strcmp(argv[1], "open") == 0) {
		if (status_open(&st, argv[2], argv[1][0] == 'd' ? ST_READONLY :
		    ST_CREATE, &err) == -1)
			errx(1, "%s", err);
		if (status_foreach(st, row, NULL) == -1)
			errx(1, "%s", status_error(st));
	} else if (strcmp(argv[1], "write") == 0) {
		if (access(argv[2], F_OK) == 0)
			errx(1, "%s exists", argv[2]);
		if (status_open(&st, argv[2], ST_CREATE, &err) == -1)
			errx(1, "%s", err);
		if (status_begin(st) == -1)
			errx(1, "%s", status_error(st));
		while ((n = getline(&line, &cap, stdin)) != -1) {
			char *tab = strchr(line, '\t');

			if (n > 0 && line[n - 1] == '\n')
				line[n - 1] = '\0';
			if (tab == NULL)
				errx(1, "bad row: %s", line);
			*tab = '\0';
			if (status_put(st, (uint32_t)strtoul(line, NULL, 10),
			    tab + 1) == -1)
				errx(1, "%s", status_error(st));
		}
		free(line);
		if (status_set_meta(st, "oi_written_by", "status-tool") == -1 ||
		    status_commit(st) == -1)
			errx(1, "%s", status_error(st));
	} else
		errx(1, "unknown command %s", argv[1]);
	status_close(st);
	return fflush(stdout) == EOF ? 1 : 0;
}
