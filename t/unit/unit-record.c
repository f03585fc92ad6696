/* unit-record.c - round trips and errors of the record reader and writer */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "util.h"
#include "tap.h"

#define S(lit) lit, sizeof(lit) - 1

/* Write the fields as one record, read it back, compare. */
static int
roundtrip(const char **f, const size_t *len, size_t nf, int flags)
{
	struct rec_writer w;
	struct rec_reader *r;
	struct rec *rec;
	char *buf = NULL;
	size_t blen = 0, i;
	FILE *fp;
	int good = 1;

	if ((fp = open_memstream(&buf, &blen)) == NULL)
		return 0;
	rec_writer_init(&w, fp, flags);
	for (i = 0; i < nf; i++)
		if (rec_put(&w, f[i], len[i]) == -1)
			good = 0;
	rec_end(&w);
	fclose(fp);
	/* the written record must hold no raw terminator or stray TAB */
	if (memchr(buf, (flags & REC_NUL) ? '\0' : '\n', blen - 1))
		good = 0;
	fp = fmemopen(buf, blen, "r");
	r = rec_reader_new(fp, "rt", flags);
	if (rec_read(r, &rec) != 1 || rec->nf != nf)
		good = 0;
	for (i = 0; good && i < nf; i++)
		if (rec->len[i] != len[i] || memcmp(rec->f[i], f[i], len[i]))
			good = 0;
	if (good && rec_read(r, &rec) != 0)
		good = 0;
	rec_reader_free(r);
	fclose(fp);
	free(buf);
	return good;
}

/* Write one record, return the bytes written. */
static char *
written(const char *a, size_t alen, int flags)
{
	struct rec_writer w;
	char *buf = NULL;
	size_t blen = 0;
	FILE *fp = open_memstream(&buf, &blen);

	rec_writer_init(&w, fp, flags);
	rec_puts(&w, "kind");
	rec_put(&w, a, alen);
	rec_end(&w);
	fclose(fp);
	return buf;
}

/* Read all of s; return the error message or "OK n" with n records. */
static char result[512];
static const char *
readall(const char *s, size_t n, int flags, const char *expect, unsigned maj)
{
	FILE *fp = fmemopen((void *)s, n, "r");
	struct rec_reader *r = rec_reader_new(fp, "in.txt", flags);
	struct rec *rec;
	int rv, count = 0;

	if (expect)
		rec_expect(r, expect, maj);
	while ((rv = rec_read(r, &rec)) == 1)
		count++;
	if (rv == -1)
		snprintf(result, sizeof(result), "%s", rec_error(r));
	else
		snprintf(result, sizeof(result), "OK %d", count);
	rec_reader_free(r);
	fclose(fp);
	return result;
}

int
main(void)
{
	const char *f[4];
	size_t len[4];
	char field[3], all[256];
	int b, flags, bad;
	char *s;

	/* every byte value, alone, inside, leading, in both modes */
	for (flags = 0; flags <= REC_NUL; flags += REC_NUL) {
		bad = 0;
		for (b = 0; b < 256; b++) {
			field[0] = 'a';
			field[1] = (char)b;
			field[2] = 'z';
			f[0] = "kind"; len[0] = 4;
			f[1] = field; len[1] = 3;
			f[2] = field + 1; len[2] = 1;
			f[3] = field + 1; len[3] = 2;
			if (!roundtrip(f, len, 4, flags)) {
				bad++;
				printf("# byte 0x%02x does not round-trip\n", b);
			}
		}
		ok(bad == 0, "every byte value round-trips (%s mode)",
		    flags ? "NUL" : "LF");
		for (b = 0; b < 256; b++)
			all[b] = (char)b;
		f[0] = "kind"; len[0] = 4;
		f[1] = all; len[1] = 256;
		f[2] = ""; len[2] = 0;
		ok(roundtrip(f, len, 3, flags), "all bytes in one field and an "
		    "empty field (%s mode)", flags ? "NUL" : "LF");
		f[1] = "\"quoted\""; len[1] = 8;
		f[2] = "\\"; len[2] = 1;
		ok(roundtrip(f, len, 3, flags), "leading quote and lone "
		    "backslash (%s mode)", flags ? "NUL" : "LF");
	}

	/* ordinary fields stay greppable */
	s = written("Work/My Folder/Gäste", strlen("Work/My Folder/Gäste"), 0);
	is_str(s, "kind\tWork/My Folder/Gäste\n", "spaces and UTF-8 unquoted");
	free(s);
	s = written("a\tb", 3, 0);
	is_str(s, "kind\t\"a\\tb\"\n", "TAB quoted as \\t");
	free(s);
	s = written("a\nb\rc\001d\177", 8, 0);
	is_str(s, "kind\t\"a\\nb\\rc\\001d\\177\"\n", "control bytes quoted");
	free(s);
	s = written("\\Seen \\Flagged", 14, 0);
	is_str(s, "kind\t\\Seen \\Flagged\n", "backslash alone not quoted");
	free(s);
	s = written("\"x", 2, 0);
	is_str(s, "kind\t\"\\\"x\"\n", "leading quote quoted");
	free(s);
	s = written("x\"y", 3, 0);
	is_str(s, "kind\tx\"y\n", "inner quote not quoted");
	free(s);
	s = written("a\nb", 3, REC_NUL);
	ok(s && memcmp(s, "kind\ta\nb\0", 9) == 0, "NUL mode keeps LF raw");
	free(s);

	/* headers and comments */
	is_str(readall(S("#format plan 1.0\n# a comment\n\nfetch\t1\n"), 0,
	    "plan", 1), "OK 1", "header, comment and blank line");
	is_str(readall(S("#format plan 2.1\nfetch\t1\n"), 0, "plan", 1),
	    "in.txt:1: format plan version 2 is newer than this tool reads (1)",
	    "newer major refused");
	is_str(readall(S("a\t1\n#format remote 1\nb\n"), 0, "plan", 1),
	    "in.txt:2: records of format \"remote\", expected plan",
	    "wrong format named");
	is_str(readall(S("#format plan\nfetch\n"), 0, NULL, 0),
	    "in.txt:1: malformed #format line (want \"#format NAME MAJOR.MINOR\")",
	    "header without version");
	is_str(readall(S("#format plan 1.x\n"), 0, NULL, 0),
	    "in.txt:1: malformed version in #format line", "bad version");
	is_str(readall(S("#format plan 1.2\nx\n"), 0, NULL, 0), "OK 1",
	    "any format accepted when none expected");

	/* malformed records */
	is_str(readall(S("a\t1\nb\t\"open\n"), 0, NULL, 0),
	    "in.txt:2: unterminated quoted field 2", "unterminated quote");
	is_str(readall(S("a\t\"x\\q\"\n"), 0, NULL, 0),
	    "in.txt:1: bad escape \\q in field 2", "bad escape");
	is_str(readall(S("a\t\"x\"y\n"), 0, NULL, 0),
	    "in.txt:1: text after the closing quote of field 2",
	    "text after the closing quote");
	is_str(readall(S("a\tb\r\n"), 0, NULL, 0),
	    "in.txt:1: control byte 0x0d in field 2 (must be quoted)",
	    "raw CR refused");
	is_str(readall(S("a\tb\nc\td"), 0, NULL, 0),
	    "in.txt:2: last record is not terminated (truncated input?)",
	    "truncated last record refused");
	is_str(readall(S("a\t\"\\400\"\n"), 0, NULL, 0),
	    "in.txt:1: bad escape \\4 in field 2", "octal escape above 0377");
	is_str(readall(S("a\t\"\\12\"\n"), 0, NULL, 0),
	    "in.txt:1: bad escape \\1 in field 2", "short octal escape");
	is_str(readall(S("a\tb\0c\td\0"), REC_NUL, NULL, 0), "OK 2",
	    "NUL-terminated records");
	is_str(readall(S("a\tb\0c\td"), REC_NUL, NULL, 0),
	    "in.txt:2: last record is not terminated (truncated input?)",
	    "truncated NUL record");

	/* a record longer than the limit is an error, not a crash */
	{
		size_t n = REC_MAXLEN + 10;
		char *big = malloc(n);

		memset(big, 'x', n);
		big[n - 1] = '\n';
		is_str(readall(big, n, 0, NULL, 0),
		    "in.txt:1: record longer than 1048576 bytes", "overlong record");
		free(big);
	}

	/* numbers */
	{
		static char num[] = "u\t123\t18446744073709551615\t"
		    "18446744073709551616\t-1\t\n";
		FILE *fp = fmemopen(num, sizeof(num) - 1, "r");
		struct rec_reader *r = rec_reader_new(fp, "n", 0);
		struct rec *rec;
		unsigned long long v = 0;

		ok(rec_read(r, &rec) == 1 && rec->nf == 6, "number record");
		ok(rec_u64(r, rec, 1, &v) == 0 && v == 123, "123");
		ok(rec_u64(r, rec, 2, &v) == 0 && v == 18446744073709551615ULL,
		    "UINT64_MAX");
		ok(rec_u64(r, rec, 3, &v) == -1, "overflow refused");
		is_str(rec_error(r), "n:1: field 4 of u record is not a number",
		    "overflow message");
		ok(rec_u64(r, rec, 4, &v) == -1, "negative refused");
		ok(rec_u64(r, rec, 5, &v) == -1, "empty refused");
		ok(rec_u64(r, rec, 6, &v) == -1, "missing field refused");
		rec_reader_free(r);
		fclose(fp);
	}
	/* by name: the reader owns and closes the file */
	{
		char path[] = "/tmp/unit-record.XXXXXX";
		int fd = mkstemp(path);
		struct rec_reader *r;
		struct rec *rec;

		if (fd != -1 && write(fd, "a\tb\n", 4) == 4)
			close(fd);
		r = rec_reader_open(path, 0);
		ok(r && rec_read(r, &rec) == 1 && rec->nf == 2 &&
		    rec_read(r, &rec) == 0, "rec_reader_open reads a file");
		rec_reader_free(r);
		unlink(path);
		errno = 0;
		ok(rec_reader_open(path, 0) == NULL && errno == ENOENT,
		    "a missing file is NULL with errno");
	}
	/* offsets, and reading again from one: past comments, past what was
	 * read ahead, with the line numbers of that place */
	{
		static char in[] = "#format x 1\na\t1\n# note\n\nb\t2\nc\t3\n";
		FILE *fp = fmemopen(in, sizeof(in) - 1, "r");
		struct rec_reader *r = rec_reader_new(fp, "o", 0);
		struct rec *rec;
		off_t ob = -1, oc = -1;

		ok(rec_read(r, &rec) == 1 && rec_offset(r) == 12, "offset of a");
		if (rec_read(r, &rec) == 1)
			ob = rec_offset(r);
		ok(ob == 24 && rec_lineno(r) == 5, "offset of b, past comments");
		if (rec_read(r, &rec) == 1)
			oc = rec_offset(r);
		ok(oc == 28 && rec_read(r, &rec) == 0, "offset of c, then the end");
		ok(rec_reader_seek(r, ob, 4) == 0 && rec_read(r, &rec) == 1 &&
		    strcmp(rec->f[0], "b") == 0 && rec_lineno(r) == 5 &&
		    rec_offset(r) == ob, "back to b");
		ok(rec_read(r, &rec) == 1 && strcmp(rec->f[1], "3") == 0 &&
		    rec_read(r, &rec) == 0, "and on to the end");
		ok(rec_reader_seek(r, oc, 5) == 0 && rec_read(r, &rec) == 1 &&
		    strcmp(rec->f[0], "c") == 0, "to c");
		ok(rec_fail(r, "x") == -1 && strcmp(rec_error(r), "o:6: x") == 0,
		    "line numbers from where it went");
		rec_reader_free(r);
		fclose(fp);
	}
	/* offsets past the first buffer's worth of input, and back */
	{
		struct sb big = { 0 };
		off_t off[40];
		FILE *fp;
		struct rec_reader *r;
		struct rec *rec;
		int i, good = 1;

		for (i = 0; i < 40000; i++)
			sb_printf(&big, "r\t%d\n", i);
		fp = fmemopen(big.s, big.len, "r");
		r = rec_reader_new(fp, "big", 0);
		for (i = 0; i < 40000 && good; i++) {
			good = rec_read(r, &rec) == 1 && atoi(rec->f[1]) == i;
			if (i % 1000 == 999)
				off[i / 1000] = rec_offset(r);
		}
		ok(good && big.len > 3 * 65536, "a long input read");
		for (i = 39; i >= 0 && good; i -= 3)
			good = rec_reader_seek(r, off[i], 1000UL * i + 999) ==
			    0 && rec_read(r, &rec) == 1 &&
			    atoi(rec->f[1]) == i * 1000 + 999 &&
			    rec_lineno(r) == 1000UL * i + 1000;
		ok(good, "every offset leads back to its record");
		rec_reader_free(r);
		fclose(fp);
		sb_free(&big);
	}
	return done_testing();
}
