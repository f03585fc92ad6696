/* record.c - reader and writer of the TAB-separated line records */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "util.h"

struct expect {
	char		*name;
	unsigned	 major;
};

struct rec_reader {
	FILE		*fp;
	int		 ownfp;		/* opened by rec_reader_open() */
	char		*name;
	int		 flags;
	char		*buf;		/* raw input */
	size_t		 cap, start, end;
	off_t		 base;		/* input offset of buf[0] */
	off_t		 last;		/* of the line last returned */
	int		 eof;
	unsigned long	 lineno;
	struct sb	 err;
	struct expect	*exp;
	size_t		 nexp;
	char		*fmt;		/* last #format seen */
	unsigned	 fmt_major;
	struct rec	 rec;
	size_t		 fcap;		/* room in rec.f / rec.len */
	char		*dec;		/* decoded fields */
	size_t		 deccap;
};

static int
seterr(struct rec_reader *r, const char *fmt, va_list ap)
{
	sb_reset(&r->err);
	if (sb_printf(&r->err, "%s:%lu: ", r->name, r->lineno) == -1 ||
	    sb_vprintf(&r->err, fmt, ap) == -1) {
		sb_reset(&r->err);
		sb_adds(&r->err, "out of memory");
	}
	return -1;
}

int
rec_fail(struct rec_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	seterr(r, fmt, ap);
	va_end(ap);
	return -1;
}

struct rec_reader *
rec_reader_new(FILE *fp, const char *name, int flags)
{
	struct rec_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fp = fp;
	r->flags = flags;
	if ((r->name = strdup(name ? name : "-")) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

struct rec_reader *
rec_reader_open(const char *path, int flags)
{
	struct rec_reader *r;
	FILE *fp;
	int e;

	if (strcmp(path, "-") == 0)
		return rec_reader_new(stdin, "stdin", flags);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if ((r = rec_reader_new(fp, path, flags)) == NULL) {
		e = errno;
		fclose(fp);
		errno = e;
		return NULL;
	}
	r->ownfp = 1;
	return r;
}

void
rec_reader_free(struct rec_reader *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->ownfp)
		fclose(r->fp);
	for (i = 0; i < r->nexp; i++)
		free(r->exp[i].name);
	free(r->exp);
	free(r->name);
	free(r->buf);
	free(r->fmt);
	free(r->rec.f);
	free(r->rec.len);
	free(r->dec);
	sb_free(&r->err);
	free(r);
}

int
rec_expect(struct rec_reader *r, const char *format, unsigned major)
{
	struct expect *e;
	char *n;

	if ((n = strdup(format)) == NULL)
		return -1;
	e = realloc(r->exp, (r->nexp + 1) * sizeof(*e));
	if (e == NULL) {
		free(n);
		return -1;
	}
	r->exp = e;
	e[r->nexp].name = n;
	e[r->nexp].major = major;
	r->nexp++;
	return 0;
}

const char *
rec_error(const struct rec_reader *r)
{
	return r->err.len ? r->err.s : NULL;
}

const char *
rec_format(const struct rec_reader *r, unsigned *major)
{
	if (major)
		*major = r->fmt_major;
	return r->fmt;
}

unsigned long
rec_lineno(const struct rec_reader *r)
{
	return r->lineno;
}

off_t
rec_offset(const struct rec_reader *r)
{
	return r->last;
}

int
rec_reader_seek(struct rec_reader *r, off_t off, unsigned long lineno)
{
	int fd = fileno(r->fp);

	/* the reader reads the descriptor itself (see fill) */
	if (fd == -1 ? fseeko(r->fp, off, SEEK_SET) == -1 :
	    lseek(fd, off, SEEK_SET) == -1)
		return -1;
	r->start = r->end = 0;
	r->eof = 0;
	r->base = r->last = off;
	r->lineno = lineno;
	return 0;
}

/*
 * Find the next raw line in the buffer, reading more as needed.  Returns 1
 * with the line and its length set (terminator excluded), 0 at a clean end, -1 on error.
 */
static int
next_line(struct rec_reader *r, char **line, size_t *len)
{
	int term = (r->flags & REC_NUL) ? '\0' : '\n';
	size_t scanned = 0;
	char *p;

	for (;;) {
		p = r->end - r->start > scanned ? memchr(r->buf + r->start +
		    scanned, term, r->end - r->start - scanned) : NULL;
		if (p != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(p - *line);
			r->last = r->base + (off_t)r->start;
			r->start += *len + 1;
			r->lineno++;
			if (*len > REC_MAXLEN)
				return rec_fail(r, "record longer than %d bytes",
				    REC_MAXLEN);
			return 1;
		}
		scanned = r->end - r->start;
		if (scanned > REC_MAXLEN) {
			r->lineno++;
			return rec_fail(r, "record longer than %d bytes",
			    REC_MAXLEN);
		}
		if (r->eof) {
			if (scanned == 0)
				return 0;
			r->lineno++;
			return rec_fail(r, "last record is not terminated "
			    "(truncated input?)");
		}
		if (r->start > 0) {
			r->base += (off_t)r->start;
			memmove(r->buf, r->buf + r->start, scanned);
			r->end = scanned;
			r->start = 0;
		}
		if (r->cap - r->end < 4096) {
			size_t ncap = r->cap ? r->cap * 2 : 65536;
			char *nb;

			if ((nb = realloc(r->buf, ncap)) == NULL)
				return rec_fail(r, "%s", strerror(errno));
			r->buf = nb;
			r->cap = ncap;
		}
		/* read(2), not fread(3): a record is handled as soon as it
		 * arrives through a pipe, not when a buffer is full */
		ssize_t n;
		int fd = fileno(r->fp);

		if (fd == -1) {		/* a memory stream, in the tests */
			n = (ssize_t)fread(r->buf + r->end, 1, r->cap - r->end,
			    r->fp);
			if (n == 0 && ferror(r->fp))
				n = -1;
		} else
			while ((n = read(fd, r->buf + r->end, r->cap -
			    r->end)) == -1 && errno == EINTR)
				;
		if (n == -1)
			return rec_fail(r, "read error: %s", strerror(errno));
		if (n == 0)
			r->eof = 1;
		r->end += (size_t)n;
	}
}

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int
add_field(struct rec_reader *r, char *start, size_t len)
{
	if (r->rec.nf == r->fcap) {
		size_t ncap = r->fcap ? r->fcap * 2 : 16;
		char **nf;
		size_t *nl;

		if ((nf = realloc(r->rec.f, ncap * sizeof(*nf))) == NULL)
			return -1;
		r->rec.f = nf;
		if ((nl = realloc(r->rec.len, ncap * sizeof(*nl))) == NULL)
			return -1;
		r->rec.len = nl;
		r->fcap = ncap;
	}
	r->rec.f[r->rec.nf] = start;
	r->rec.len[r->rec.nf] = len;
	r->rec.nf++;
	return 0;
}

/* Parse a decimal number at s[*i]; -1 if there is none or it overflows. */
static int
parse_uint(const char *s, size_t len, size_t *i, unsigned *v)
{
	size_t start = *i;
	unsigned n = 0;

	for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
		if (n > (UINT_MAX - 9) / 10)
			return -1;
		n = n * 10 + (unsigned)(s[*i] - '0');
	}
	*v = n;
	return *i > start ? 0 : -1;
}

/* "#format NAME MAJOR[.MINOR]" */
static int
header(struct rec_reader *r, const char *line, size_t len)
{
	size_t i = 8, nstart, nlen, k;
	unsigned major, minor;
	char *name;

	nstart = i;
	while (i < len && (isalnum((unsigned char)line[i]) ||
	    strchr("_.-", line[i]) != NULL))
		i++;
	nlen = i - nstart;
	if (nlen == 0 || nlen > 64 || i >= len || line[i] != ' ')
		return rec_fail(r, "malformed #format line "
		    "(want \"#format NAME MAJOR.MINOR\")");
	i++;
	if (parse_uint(line, len, &i, &major) == -1 ||
	    (i < len && line[i] == '.' &&
	    (i++, parse_uint(line, len, &i, &minor) == -1)))
		return rec_fail(r, "malformed version in #format line");
	if (i != len)
		return rec_fail(r, "trailing text in #format line");
	if ((name = strndup(line + nstart, nlen)) == NULL)
		return rec_fail(r, "out of memory");
	if (r->nexp) {
		for (k = 0; k < r->nexp; k++)
			if (strcmp(r->exp[k].name, name) == 0)
				break;
		if (k == r->nexp) {
			struct sb want = { 0 };
			size_t j;

			for (j = 0; j < r->nexp; j++)
				sb_printf(&want, "%s%s", j ? " or " : "",
				    r->exp[j].name);
			rec_fail(r, "records of format \"%s\", expected %s",
			    name, want.s ? want.s : "?");
			sb_free(&want);
			free(name);
			return -1;
		}
		if (major > r->exp[k].major) {
			rec_fail(r, "format %s version %u is newer than "
			    "this tool reads (%u)", name, major,
			    r->exp[k].major);
			free(name);
			return -1;
		}
	}
	free(r->fmt);
	r->fmt = name;
	r->fmt_major = major;
	return 0;
}

static int
octal(unsigned char c)
{
	return c >= '0' && c <= '7';
}

int
rec_read(struct rec_reader *r, struct rec **out)
{
	int nul = r->flags & REC_NUL;
	char *line = NULL, *d;
	size_t len = 0, i;
	int rv;

	for (;;) {
		if ((rv = next_line(r, &line, &len)) != 1)
			return rv;
		if (len == 0)
			continue;
		if (line[0] == '#') {
			if (len >= 8 && memcmp(line, "#format ", 8) == 0 &&
			    header(r, line, len) == -1)
				return -1;
			continue;
		}
		break;
	}

	if (len + 1 > r->deccap) {
		size_t ncap = len + 1 < 256 ? 256 : len + 1;

		free(r->dec);
		if ((r->dec = malloc(ncap)) == NULL) {
			r->deccap = 0;
			return rec_fail(r, "out of memory");
		}
		r->deccap = ncap;
	}
	r->rec.nf = 0;
	d = r->dec;
	i = 0;
	for (;;) {
		char *fstart = d;

		if (i < len && line[i] == '"') {
			for (i++;; i++) {
				unsigned char c;

				if (i >= len)
					return rec_fail(r, "unterminated quoted "
					    "field %zu", r->rec.nf + 1);
				c = (unsigned char)line[i];
				if (c == '"')
					break;
				if (c != '\\') {
					if (!nul && is_ctl(c))
						return rec_fail(r, "control "
						    "byte 0x%02x in field %zu",
						    c, r->rec.nf + 1);
					*d++ = (char)c;
					continue;
				}
				if (++i >= len)
					return rec_fail(r, "unterminated quoted "
					    "field %zu", r->rec.nf + 1);
				c = (unsigned char)line[i];
				switch (c) {
				case '\\': case '"':
					*d++ = (char)c;
					break;
				case 't':
					*d++ = '\t';
					break;
				case 'n':
					*d++ = '\n';
					break;
				case 'r':
					*d++ = '\r';
					break;
				default:
					if (i + 2 < len && c <= '3' &&
					    octal(c) &&
					    octal((unsigned char)line[i + 1]) &&
					    octal((unsigned char)line[i + 2])) {
						*d++ = (char)((c - '0') << 6 |
						    (line[i + 1] - '0') << 3 |
						    (line[i + 2] - '0'));
						i += 2;
						break;
					}
					if (is_ctl(c))
						return rec_fail(r, "bad escape "
						    "\\0x%02x in field %zu", c,
						    r->rec.nf + 1);
					return rec_fail(r, "bad escape \\%c in "
					    "field %zu", c, r->rec.nf + 1);
				}
			}
			i++;	/* closing quote */
			if (i < len && line[i] != '\t')
				return rec_fail(r, "text after the closing "
				    "quote of field %zu", r->rec.nf + 1);
		} else {
			for (; i < len && line[i] != '\t'; i++) {
				unsigned char c = (unsigned char)line[i];

				if (!nul && is_ctl(c))
					return rec_fail(r, "control byte "
					    "0x%02x in field %zu (must be "
					    "quoted)", c, r->rec.nf + 1);
				*d++ = (char)c;
			}
		}
		*d++ = '\0';
		if (add_field(r, fstart, (size_t)(d - fstart - 1)) == -1)
			return rec_fail(r, "out of memory");
		if (i >= len)
			break;
		i++;	/* the TAB */
	}
	*out = &r->rec;
	sb_reset(&r->err);
	return 1;
}

int
rec_u64(struct rec_reader *r, const struct rec *rec, size_t i,
    unsigned long long *v)
{
	unsigned long long n = 0;
	const char *s;
	size_t k;

	if (i >= rec->nf)
		return rec_fail(r, "%s record has no field %zu", rec->f[0],
		    i + 1);
	s = rec->f[i];
	if (rec->len[i] == 0 || rec->len[i] > 20)
		goto bad;
	for (k = 0; k < rec->len[i]; k++) {
		if (s[k] < '0' || s[k] > '9')
			goto bad;
		if (n > (ULLONG_MAX - (unsigned)(s[k] - '0')) / 10)
			goto bad;
		n = n * 10 + (unsigned)(s[k] - '0');
	}
	*v = n;
	return 0;
bad:
	return rec_fail(r, "field %zu of %s record is not a number", i + 1,
	    rec->f[0]);
}

int
rec_cstr(struct rec_reader *r, const struct rec *rec, size_t i)
{
	if (i >= rec->nf)
		return rec_fail(r, "%s record has no field %zu", rec->f[0],
		    i + 1);
	if (memchr(rec->f[i], '\0', rec->len[i]) != NULL)
		return rec_fail(r, "field %zu of %s record holds a NUL byte",
		    i + 1, rec->f[0]);
	return 0;
}

/* Writer */

void
rec_writer_init(struct rec_writer *w, FILE *fp, int flags)
{
	w->fp = fp;
	w->flags = flags;
	w->nfield = 0;
}

int
rec_needs_quote(const void *p, size_t n, int flags)
{
	const unsigned char *s = p;
	size_t i;

	if (n > 0 && s[0] == '"')
		return 1;
	for (i = 0; i < n; i++) {
		if (flags & REC_NUL) {
			if (s[i] == '\t' || s[i] == '\0')
				return 1;
		} else if (is_ctl(s[i]))
			return 1;
	}
	return 0;
}

int
rec_quote(struct sb *b, const void *p, size_t n, int flags)
{
	const unsigned char *s = p;
	size_t i;

	if (!rec_needs_quote(p, n, flags))
		return sb_add(b, p, n);
	if (sb_addc(b, '"') == -1)
		return -1;
	for (i = 0; i < n; i++) {
		int r;

		switch (s[i]) {
		case '\\': r = sb_adds(b, "\\\\"); break;
		case '"': r = sb_adds(b, "\\\""); break;
		case '\t': r = sb_adds(b, "\\t"); break;
		case '\n': r = sb_adds(b, "\\n"); break;
		case '\r': r = sb_adds(b, "\\r"); break;
		default:
			if (is_ctl(s[i]))
				r = sb_printf(b, "\\%03o", s[i]);
			else
				r = sb_addc(b, s[i]);
		}
		if (r == -1)
			return -1;
	}
	return sb_addc(b, '"');
}

int
rec_put(struct rec_writer *w, const void *p, size_t n)
{
	if (w->nfield++ > 0 && putc('\t', w->fp) == EOF)
		return -1;
	if (!rec_needs_quote(p, n, w->flags))
		return n == 0 || fwrite(p, 1, n, w->fp) == n ? 0 : -1;

	struct sb b = { 0 };
	int rv = -1;

	if (rec_quote(&b, p, n, w->flags) == 0 &&
	    fwrite(b.s, 1, b.len, w->fp) == b.len)
		rv = 0;
	sb_free(&b);
	return rv;
}

int
rec_puts(struct rec_writer *w, const char *s)
{
	return rec_put(w, s, strlen(s));
}

int
rec_putu(struct rec_writer *w, unsigned long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", v);

	return rec_put(w, num, (size_t)n);
}

int
rec_end(struct rec_writer *w)
{
	w->nfield = 0;
	return putc((w->flags & REC_NUL) ? '\0' : '\n', w->fp) == EOF ? -1 : 0;
}

int
rec_header(struct rec_writer *w, const char *format, unsigned major,
    unsigned minor)
{
	if (fprintf(w->fp, "#format %s %u.%u", format, major, minor) < 0)
		return -1;
	return rec_end(w);
}
