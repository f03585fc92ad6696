/*
 * fuzz-maildir.c - the Maildir file-name parser on arbitrary names: it
 * must never crash or read outside the name; its verdicts must be
 * consistent (a UID only with this folder's FMD5, flags inside the name),
 * and a name made from the parsed parts must parse back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FMD5	"7e33429f656f1e6e9d79b29c3f82c57e"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = (const char *)data;
	struct maildir_name m, m2;
	struct sb s = { 0 }, fl = { 0 };
	char *copy, *why;
	int win;

	for (win = 0; win < 2; win++) {
		maildir_parse_name(name, size, FMD5, win, &m);
		if (m.flags < name || m.flags + m.flagslen > name + size)
			abort();
		if (m.uid && m.fmd5 != MN_OURS)
			abort();
		if (m.uid && m.baduid)
			abort();
		if (!m.hasinfo && m.flagslen)
			abort();
		/* flags are word characters */
		if (sb_add(&fl, m.flags, m.flagslen) == -1)
			abort();
		if (fl.s)
			maildir_flags_norm(fl.s);
		if (m.uid && fl.s && maildir_name_make(&s, 1, m.uid, FMD5,
		    fl.s, win) == 0) {
			maildir_parse_name(s.s, s.len, FMD5, win, &m2);
			if (m2.uid != m.uid || m2.flagslen != strlen(fl.s) ||
			    memcmp(m2.flags, fl.s, m2.flagslen) != 0)
				abort();
		}
		sb_free(&s);
		sb_free(&fl);
	}
	/* the same bytes as a folder name: checked, never a path outside */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (maildir_name_check(copy, '/', &why) == 0) {
		size_t n = strlen(copy);

		if (copy[0] == '/' || strcmp(copy, "..") == 0 ||
		    strncmp(copy, "../", 3) == 0 || strstr(copy, "/../") ||
		    (n >= 3 && strcmp(copy + n - 3, "/..") == 0) ||
		    strstr(copy, "//"))
			abort();
	} else
		free(why);
	if (maildir_name_check(copy, '.', &why) == 0) {
		if (strchr(copy, '/') || strcmp(copy, "..") == 0)
			abort();
	} else
		free(why);
	(void)maildir_parse_date(copy, strlen(copy));
	free(copy);
	return 0;
}
