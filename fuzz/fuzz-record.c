/*
 * fuzz-record.c - the record reader on arbitrary bytes, in both modes:
 * it must never crash, and every record it accepts must come out of the
 * writer and back unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_roundtrip(const struct rec *rec, int flags)
{
	struct rec_writer w;
	struct rec_reader *r;
	struct rec *back;
	char *buf = NULL;
	size_t blen = 0, i;
	FILE *fp;

	if ((fp = open_memstream(&buf, &blen)) == NULL)
		return;
	rec_writer_init(&w, fp, flags);
	for (i = 0; i < rec->nf; i++)
		rec_put(&w, rec->f[i], rec->len[i]);
	rec_end(&w);
	fclose(fp);
	/* a record whose first field is empty or starts with '#' is read
	 * differently (blank line, comment): the writer's callers never
	 * produce those, so only check the others */
	if (rec->len[0] > 0 && rec->f[0][0] != '#' &&
	    !(rec->nf == 1 && rec->len[0] == 0)) {
		fp = fmemopen(buf, blen, "r");
		r = rec_reader_new(fp, "rt", flags);
		if (rec_read(r, &back) != 1 || back->nf != rec->nf)
			abort();
		for (i = 0; i < rec->nf; i++)
			if (back->len[i] != rec->len[i] ||
			    memcmp(back->f[i], rec->f[i], rec->len[i]) != 0)
				abort();
		rec_reader_free(r);
		fclose(fp);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int flags;

	for (flags = 0; flags <= REC_NUL; flags += REC_NUL) {
		FILE *fp = fmemopen((void *)data, size ? size : 1, "r");
		struct rec_reader *r;
		struct rec *rec;

		if (fp == NULL || size == 0) {
			if (fp)
				fclose(fp);
			return 0;
		}
		r = rec_reader_new(fp, "fuzz", flags);
		rec_expect(r, "plan", 1);
		while (rec_read(r, &rec) == 1)
			check_roundtrip(rec, flags);
		rec_reader_free(r);
		fclose(fp);
	}
	return 0;
}
