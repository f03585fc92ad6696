/*
 * record.h - the line records every tool reads and writes.
 *
 * One record per line (or per NUL-terminated chunk with REC_NUL); fields
 * separated by one TAB; the first field names the record kind.  A field is
 * written as it is unless it holds an unusual byte, in which case it is
 * quoted: wrapped in double quotes, with \\ \" \t \n \r and \ooo (three
 * octal digits) for the other bytes.  Unusual means: any control byte
 * (0x00-0x1f, 0x7f) or a leading double quote; with REC_NUL, only TAB, NUL
 * and a leading double quote.  A backslash alone does not quote a field
 * (IMAP flags such as \Seen stay readable): only a quoted field is read
 * with escapes.  Bytes 0x80-0xff (UTF-8) are
 * never quoted.  A field that starts with a double quote is always read as
 * a quoted field.
 *
 * A line "#format NAME MAJOR[.MINOR]" names the format of the records that
 * follow; other lines starting with '#' are comments; empty lines are
 * skipped.  See offlineimap-tools(7).
 */
#ifndef OI_RECORD_H
#define OI_RECORD_H

#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>

#define REC_NUL		0x01	/* records end with NUL, not LF */
#define REC_MAXLEN	(1024 * 1024)	/* longest record a reader accepts */

struct rec {
	size_t	  nf;		/* number of fields, at least 1 */
	char	**f;		/* fields, each NUL-terminated ... */
	size_t	 *len;		/* ... and of this length (may hold NULs) */
};

struct rec_reader;

struct rec_reader *rec_reader_new(FILE *, const char *name, int flags);
/* A file by name ("-" is standard input), closed by rec_reader_free();
 * NULL with errno set. */
struct rec_reader *rec_reader_open(const char *path, int flags);
void	 rec_reader_free(struct rec_reader *);
/* Accept this format name up to this major version (call once per name).
 * Without any call, any format is accepted. */
int	 rec_expect(struct rec_reader *, const char *format, unsigned major);
/* 1: *out holds the next record (valid until the next call); 0: end of
 * input; -1: error, see rec_error(). */
int	 rec_read(struct rec_reader *, struct rec **out);
/* "name:line: what is wrong" for the last error. */
const char *rec_error(const struct rec_reader *);
/* Set an error about the record just read (for the tool's own checks);
 * returns -1. */
int	 rec_fail(struct rec_reader *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Format name and major version of the last header seen, or NULL / 0. */
const char *rec_format(const struct rec_reader *, unsigned *major);
unsigned long rec_lineno(const struct rec_reader *);
/* The input offset of the record last read: where its line starts,
 * counted from where the reader started until rec_reader_seek() gives it
 * a place in the input. */
off_t	 rec_offset(const struct rec_reader *);
/* Move to input offset off of a seekable input (the line there being
 * number lineno), dropping what was read ahead; -1 with errno set. */
int	 rec_reader_seek(struct rec_reader *, off_t off, unsigned long lineno);

/* Field helpers: parse field i as a number; -1 with rec_fail() set. */
int	 rec_u64(struct rec_reader *, const struct rec *, size_t i,
	    unsigned long long *);
/* Field i holds no NUL byte (so it can be used as a C string). */
int	 rec_cstr(struct rec_reader *, const struct rec *, size_t i);

struct rec_writer {
	FILE	*fp;
	int	 flags;
	int	 nfield;	/* fields written in the current record */
};

void	 rec_writer_init(struct rec_writer *, FILE *, int flags);
int	 rec_header(struct rec_writer *, const char *format, unsigned major,
	    unsigned minor);
int	 rec_put(struct rec_writer *, const void *, size_t);
int	 rec_puts(struct rec_writer *, const char *);
int	 rec_putu(struct rec_writer *, unsigned long long);
int	 rec_end(struct rec_writer *);

/* Quote one field into buf as the writer would (appends). */
struct sb;
int	 rec_quote(struct sb *, const void *, size_t, int flags);
/* Does this field need quoting under these flags? */
int	 rec_needs_quote(const void *, size_t, int flags);

#endif
