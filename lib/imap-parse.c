/*
 * imap-parse.c - the IMAP response parser.
 *
 * The response being parsed stays whole in one buffer (streamed literals
 * apart), so a line is found with memchr and parsed with plain index
 * scans; the buffer only moves when it is refilled, which happens at the
 * end of a line or inside a literal.  Values are copied into an arena
 * that is reset for each response, and list items are gathered on a stack
 * and copied out when the list closes, so a FETCH listing costs no malloc
 * per response once the parser is warm.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-parse.h"
#include "util.h"

#define CHUNK		(64u * 1024)	/* the buffer's size to start with */
#define ROOM_MIN	(CHUNK / 4)	/* less room for a read: grow */
#define BUF_KEEP	(4 * CHUNK)	/* a larger buffer shrinks back */
#define BUF_MAX		(IMAP_LINE_MAX + 4 * CHUNK)
#define ARENA_BLK	(64u * 1024)
#define ARENA_BIG	(ARENA_BLK / 4)	/* gets a block of its own */
#define STACK_KEEP	65536		/* values kept between responses */
#define DEPTH_MAX	100		/* nested lists; bounds the recursion */
#define CTX_BEFORE	40		/* bytes shown in an error message */
#define CTX_AT		20

/* Byte classes */
#define C_ATOM	0x01	/* atom byte (']' is one; '[' opens a section) */
#define C_CODE	0x02	/* atom byte inside "[CODE ...]" (']' ends it) */
#define C_CTL	0x04

static const unsigned char cclass[256] = {
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 00 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 10 */
	0, 3, 0, 3, 3, 3, 3, 3, 0, 0, 3, 3, 3, 3, 3, 3,	/* 20 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 30 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 40 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 1, 3, 3,	/* 50 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 60 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 3, 3, 3, 4,	/* 70 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 80 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* 90 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* a0 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* b0 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* c0 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* d0 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* e0 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,	/* f0 */
};

/* Parse contexts */
#define CX_CODE		0x01	/* inside "[CODE ...]": ']' ends atoms */
#define CX_FETCH	0x02	/* the list after "* n FETCH" */

struct blk {
	struct blk	*next;
	size_t		 cap, used;
	max_align_t	 data[];
};

struct imap_parser {
	imap_read_fn	 rd;
	void		*rdctx;
	imap_sink_fn	 sink;
	void		*sinkctx;

	char		*buf;
	size_t		 cap, end;	/* buf[0, end) holds bytes read */
	size_t		 rstart;	/* the response being parsed */
	size_t		 dropped;	/* bytes of it gone from buf, streamed
					   literals apart */
	size_t		 pos;		/* the parse position */
	size_t		 eol;		/* end of the line: its CR or LF */
	size_t		 nl;		/* just past the line's LF */
	size_t		 scan;		/* no LF in [pos, scan) */
	int		 eof;

	int		 failed;
	int		 trial;		/* parsing code args: may fall back */
	int		 errsyntax;	/* the trial failed on syntax */
	struct sb	 err;

	struct blk	*arena;
	struct ival	*vs;		/* items of the lists being parsed */
	size_t		 vsn, vscap;
	size_t		 nvalues;	/* in this response */
	uint32_t	 msgno, uid;	/* of the FETCH response */
	struct iresp	 resp;
	char		 empty[1];
};

static int	fail(struct imap_parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	value(struct imap_parser *, int, int, struct ival *);

static int
up(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* s[0, n) equals t, ASCII case-insensitively */
static int
eqi(const char *s, size_t n, const char *t)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] == '\0' || up((unsigned char)s[i]) != up(t[i]))
			return 0;
	return t[n] == '\0';
}

/* The same for a string literal t, its length checked first. */
#define EQI(s, n, t)	((n) == sizeof(t) - 1 && eqi((s), (n), (t)))

static int
prefixi(const char *s, size_t n, const char *t)
{
	size_t i;

	for (i = 0; t[i] != '\0'; i++)
		if (i >= n || up((unsigned char)s[i]) != up(t[i]))
			return 0;
	return 1;
}

static int
num64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)((unsigned char)s[i] - '0');

		if (d > 9)
			return -1;
		/* only a 20th digit can overflow */
		if (i == 19 && (x > UINT64_MAX / 10 || x * 10 > UINT64_MAX - d))
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static int
num32(const char *s, size_t n, uint32_t *v)
{
	uint64_t x;

	if (num64(s, n, &x) == -1 || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* Errors */

static int
fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;
	int r;

	sb_reset(&p->err);
	va_start(ap, fmt);
	r = sb_vprintf(&p->err, fmt, ap);
	va_end(ap);
	if (r == -1) {
		sb_reset(&p->err);
		(void)sb_adds(&p->err, "out of memory");
	}
	p->failed = 1;
	p->errsyntax = 0;
	return -1;
}

/*
 * "malformed response: WHAT after "BYTES BEFORE" at "BYTES AT"", the bytes
 * escaped; while parsing the arguments of a response code (p->trial) only
 * note that the syntax was wrong, for the caller falls back to free text.
 */
static int
syntax(struct imap_parser *p, size_t at, const char *what)
{
	char *before = NULL, *next = NULL;
	size_t from;
	int r;

	if (p->trial) {
		p->errsyntax = 1;
		return -1;
	}
	from = at - p->rstart > CTX_BEFORE ? at - CTX_BEFORE : p->rstart;
	if ((before = imap_escape(p->buf + from, at - from, CTX_BEFORE)) ==
	    NULL || (at < p->eol && (next = imap_escape(p->buf + at,
	    p->eol - at, CTX_AT)) == NULL)) {
		free(before);
		return fail(p, "out of memory");
	}
	sb_reset(&p->err);
	r = sb_printf(&p->err, "malformed response: %s", what);
	if (r == 0 && (at > p->rstart || p->dropped > 0))
		r = sb_printf(&p->err, " after \"%s%s\"",
		    from > p->rstart || p->dropped > 0 ? "..." : "", before);
	if (r == 0)
		r = next ? sb_printf(&p->err, " at \"%s\"", next) :
		    sb_adds(&p->err, " at end of line");
	free(before);
	free(next);
	if (r == -1)
		return fail(p, "out of memory");
	p->failed = 1;
	p->errsyntax = 0;
	return -1;
}

static int
too_long(struct imap_parser *p)
{
	return fail(p, "response longer than %u bytes", IMAP_LINE_MAX);
}

static int
closed(struct imap_parser *p)
{
	return fail(p, "connection closed in the middle of a response");
}

/* Memory of one response */

static void *
arena_alloc(struct imap_parser *p, size_t n, size_t align)
{
	struct blk *b = p->arena, *nb;
	size_t off, cap;

	if (b != NULL) {
		off = (b->used + align - 1) & ~(align - 1);
		if (off <= b->cap && n <= b->cap - off) {
			b->used = off + n;
			return (char *)b->data + off;
		}
	}
	cap = n > ARENA_BIG ? n : ARENA_BLK;
	if (cap > SIZE_MAX - sizeof(*nb) ||
	    (nb = malloc(sizeof(*nb) + cap)) == NULL) {
		fail(p, "out of memory");
		return NULL;
	}
	nb->cap = cap;
	nb->used = n;
	if (n > ARENA_BIG && b != NULL) {
		/* keep filling the current block */
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		p->arena = nb;
	}
	return nb->data;
}

/* Free what the last response used, keeping one ordinary block. */
static void
arena_reset(struct imap_parser *p)
{
	struct blk *b, *next, *keep = NULL;

	for (b = p->arena; b != NULL; b = next) {
		next = b->next;
		if (keep == NULL && b->cap == ARENA_BLK) {
			keep = b;
			continue;
		}
		free(b);
	}
	if (keep != NULL) {
		keep->used = 0;
		keep->next = NULL;
	}
	p->arena = keep;
}

/* A NUL-terminated copy of s[0, n) in the arena, upper-cased if asked. */
static char *
astr(struct imap_parser *p, const char *s, size_t n, int upper)
{
	char *d;
	size_t i;

	if (n == SIZE_MAX) {
		fail(p, "out of memory");
		return NULL;
	}
	if ((d = arena_alloc(p, n + 1, 1)) == NULL)
		return NULL;
	if (upper) {
		for (i = 0; i < n; i++)
			d[i] = (char)up((unsigned char)s[i]);
	} else if (n > 0)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int
push(struct imap_parser *p, const struct ival *v)
{
	if (++p->nvalues > IMAP_VALUES_MAX)
		return fail(p, "response with more than %u values",
		    IMAP_VALUES_MAX);
	if (p->vsn == p->vscap) {
		size_t ncap = p->vscap ? p->vscap * 2 : 256;
		struct ival *nv;

		if ((nv = reallocarray(p->vs, ncap, sizeof(*nv))) == NULL)
			return fail(p, "out of memory");
		p->vs = nv;
		p->vscap = ncap;
	}
	p->vs[p->vsn++] = *v;
	return 0;
}

/* Make the values pushed since base a list, in the arena. */
static int
close_list(struct imap_parser *p, size_t base, struct ival *out)
{
	size_t n = p->vsn - base;

	out->kind = IV_LIST;
	out->s = NULL;
	out->len = 0;
	out->items = NULL;
	out->n = n;
	if (n > 0) {
		out->items = arena_alloc(p, n * sizeof(*out->items),
		    _Alignof(struct ival));
		if (out->items == NULL)
			return -1;
		memcpy(out->items, p->vs + base, n * sizeof(*out->items));
	}
	p->vsn = base;
	return 0;
}

/* Input */

/*
 * Read more at the end of the buffer, first moving the response being
 * parsed to the front.  1: read some, 0: end of stream, -1: error.
 */
static int
fill(struct imap_parser *p)
{
	ssize_t n;

	if (p->eof)
		return 0;
	if (p->rd == NULL)
		return fail(p, "read error: no source");
	if (p->rstart > 0) {
		size_t d = p->rstart;

		memmove(p->buf, p->buf + d, p->end - d);
		p->end -= d;
		p->pos -= d;
		p->scan = p->scan > d ? p->scan - d : 0;
		p->rstart = 0;
	}
	if (p->cap - p->end < ROOM_MIN) {
		size_t ncap = p->cap ? p->cap * 2 : CHUNK;
		char *nb;

		if (ncap > BUF_MAX && p->end + ROOM_MIN <= BUF_MAX)
			ncap = BUF_MAX;
		if ((nb = realloc(p->buf, ncap)) == NULL)
			return fail(p, "out of memory");
		p->buf = nb;
		p->cap = ncap;
	}
	for (;;) {
		errno = 0;
		n = p->rd(p->rdctx, p->buf + p->end, p->cap - p->end);
		if (n > 0)
			break;
		if (n == 0) {
			p->eof = 1;
			return 0;
		}
		if (errno != EINTR)
			return fail(p, "read error%s%s", errno ? ": " : "",
			    errno ? strerror(errno) : "");
	}
	if ((size_t)n > p->cap - p->end)
		return fail(p, "read error: the source returned too much");
	p->end += (size_t)n;
	return 1;
}

/* Bytes of the response up to offset i of buf. */
static size_t
resp_len(const struct imap_parser *p, size_t i)
{
	return i - p->rstart + p->dropped;
}

/*
 * Find the end of the line that starts at pos.  1: found (eol, nl set);
 * 0: clean end of stream (nothing of a response read); -1: error.
 */
static int
find_line(struct imap_parser *p)
{
	const char *lf;
	size_t i;

	p->scan = p->pos;
	for (;;) {
		if (p->end > p->scan && (lf = memchr(p->buf + p->scan, '\n',
		    p->end - p->scan)) != NULL) {
			i = (size_t)(lf - p->buf);
			if (resp_len(p, i + 1) > IMAP_LINE_MAX)
				return too_long(p);
			p->nl = i + 1;
			p->eol = i > p->pos && p->buf[i - 1] == '\r' ? i - 1 : i;
			return 1;
		}
		p->scan = p->end;
		if (resp_len(p, p->end) > IMAP_LINE_MAX)
			return too_long(p);
		switch (fill(p)) {
		case -1:
			return -1;
		case 0:
			return resp_len(p, p->end) == 0 ? 0 : closed(p);
		}
	}
}

/* The line after a literal. */
static int
next_line(struct imap_parser *p)
{
	switch (find_line(p)) {
	case -1:
		return -1;
	case 0:
		return closed(p);
	}
	return 0;
}

/* At least n bytes at pos. */
static int
ensure(struct imap_parser *p, size_t n)
{
	int r;

	if (resp_len(p, p->pos) > IMAP_LINE_MAX - n)
		return too_long(p);
	while (p->end - p->pos < n) {
		if ((r = fill(p)) == -1)
			return -1;
		if (r == 0)
			return closed(p);
	}
	return 0;
}

/* Literals */

/* "{N}" or "~{N}" at the end of the line; pos moves past the line. */
static int
litsize(struct imap_parser *p, uint64_t *size)
{
	const char *b = p->buf;
	size_t i = p->pos, start;
	uint64_t n = 0;

	if (b[i] == '~')
		i++;
	start = ++i;
	for (; i < p->eol && b[i] >= '0' && b[i] <= '9'; i++) {
		unsigned d = (unsigned)(b[i] - '0');

		if (n > (UINT64_MAX - d) / 10)
			return syntax(p, start, "literal size out of range");
		n = n * 10 + d;
	}
	if (i == start)
		return syntax(p, i, "expected a literal size");
	if (i < p->eol && b[i] == '+')
		return syntax(p, i, "non-synchronizing literal in a response");
	if (i >= p->eol || b[i] != '}')
		return syntax(p, i, "expected '}'");
	if (i + 1 != p->eol)
		return syntax(p, i + 1, "expected end of line after a literal "
		    "size");
	p->pos = p->nl;
	*size = n;
	return 0;
}

/* A literal kept in memory, then the line after it. */
static int
inmem(struct imap_parser *p, uint64_t size, struct ival *v)
{
	if (size > IMAP_LIT_MAX)
		return fail(p, "literal of %llu bytes is too large",
		    (unsigned long long)size);
	if (ensure(p, (size_t)size) == -1)
		return -1;
	v->kind = IV_STRING;
	if ((v->s = astr(p, p->buf + p->pos, (size_t)size, 0)) == NULL)
		return -1;
	v->len = (size_t)size;
	p->pos += (size_t)size;
	return next_line(p);
}

/*
 * A literal handed to the sink as it arrives.  Its bytes leave the buffer
 * as they are handed on: the last bytes of the response before them move
 * up over them (enough for the context of an error message; the rest is
 * dropped, only counted), so each piece costs the same whatever the
 * response's length.
 */
static int
stream(struct imap_parser *p, uint64_t size, const char *item)
{
	uint64_t left = size;
	size_t n, pre, keep;
	int r;

	do {
		if (p->end == p->pos && left > 0) {
			if ((r = fill(p)) == -1)
				return -1;
			if (r == 0)
				return closed(p);
			continue;
		}
		n = p->end - p->pos;
		if (n > left)
			n = (size_t)left;
		if (p->sink != NULL && p->sink(p->sinkctx, p->msgno, item,
		    p->uid, size, p->buf + p->pos, n, n == left) == -1)
			return fail(p, "the message sink failed");
		left -= n;
		pre = p->pos - p->rstart;
		keep = pre < CTX_BEFORE ? pre : CTX_BEFORE;
		memmove(p->buf + p->pos + n - keep, p->buf + p->pos - keep,
		    keep);
		p->dropped += pre - keep;
		p->pos += n;
		p->rstart = p->pos - keep;
	} while (left > 0);
	return 0;
}

/* Values */

static int
quoted(struct imap_parser *p, struct ival *v)
{
	const char *b = p->buf;
	size_t i, e = p->eol, n = 0;
	int esc = 0;
	char *d;

	for (i = p->pos + 1; i < e; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= e || (b[i + 1] != '"' && b[i + 1] != '\\'))
				return syntax(p, i, "bad escape in a quoted "
				    "string");
			i++;
			esc = 1;
		} else if (c == '\0')
			return syntax(p, i, "NUL byte in a quoted string");
		else if (c == '\r')
			return syntax(p, i, "CR in a quoted string");
		n++;
	}
	if (i >= e)
		return syntax(p, e, "unterminated quoted string");
	if ((d = arena_alloc(p, n + 1, 1)) == NULL)
		return -1;
	if (!esc)
		memcpy(d, b + p->pos + 1, n);
	else {
		size_t j, k = 0;

		for (j = p->pos + 1; j < i; j++) {
			if (b[j] == '\\')
				j++;
			d[k++] = b[j];
		}
	}
	d[n] = '\0';
	v->kind = IV_STRING;
	v->s = d;
	v->len = n;
	p->pos = i + 1;
	return 0;
}

/*
 * An atom, number or NIL.  Outside a response code, "[...]" is part of an
 * atom and may hold spaces, parentheses and quoted strings, so that
 * BODY[HEADER.FIELDS (SUBJECT)]<0> is one atom.
 */
static int
atom(struct imap_parser *p, int ctx, struct ival *v)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	size_t i = p->pos, e = p->eol;
	unsigned char bit = (ctx & CX_CODE) ? C_CODE : C_ATOM;

	for (;;) {
		int q = 0, bs = 0;

		while (i < e && (cclass[b[i]] & bit))
			i++;
		if (i >= e || b[i] != '[' || bit == C_CODE)
			break;
		for (i++; i < e; i++) {
			if (cclass[b[i]] & C_CTL)
				return syntax(p, i, "control byte in an atom");
			if (bs)
				bs = 0;
			else if (q && b[i] == '\\')
				bs = 1;
			else if (b[i] == '"')
				q = !q;
			else if (!q && b[i] == ']')
				break;
		}
		if (i >= e)
			return syntax(p, e, "expected ']'");
		i++;
	}
	if (i < e && (cclass[b[i]] & C_CTL))
		return syntax(p, i, "control byte in an atom");
	if (i == p->pos)
		return syntax(p, i, "expected a value");
	if ((b[p->pos] | 0x20) == 'n' && EQI(p->buf + p->pos, i - p->pos,
	    "NIL")) {
		v->kind = IV_NIL;
		p->pos = i;
		return 0;
	}
	v->kind = IV_ATOM;
	if ((v->s = astr(p, p->buf + p->pos, i - p->pos, 0)) == NULL)
		return -1;
	v->len = i - p->pos;
	p->pos = i;
	return 0;
}

#define ITEM_UID	1
#define ITEM_MESSAGE	2

/* What the value after this FETCH item name is. */
static int
fetch_item(const struct ival *name)
{
	const char *s = name->s;
	size_t n = name->len;

	if (name->kind != IV_ATOM)
		return 0;
	switch (s[0]) {
	case 'U': case 'u':
		return EQI(s, n, "UID") ? ITEM_UID : 0;
	case 'B': case 'b':
		return prefixi(s, n, "BODY[") || prefixi(s, n, "BINARY[") ?
		    ITEM_MESSAGE : 0;
	case 'R': case 'r':
		return EQI(s, n, "RFC822") || EQI(s, n, "RFC822.TEXT") ||
		    EQI(s, n, "RFC822.HEADER") ? ITEM_MESSAGE : 0;
	}
	return 0;
}

/*
 * The value of a FETCH item holding message data: a literal streams to
 * the sink, and so does a quoted string (in one piece), so that the caller
 * finds every message's bytes in one place.
 */
static int
message(struct imap_parser *p, const struct ival *name, int depth, int ctx,
    struct ival *v)
{
	const char *b = p->buf, *item;
	size_t i = p->pos;
	uint64_t size;
	int lit;

	lit = b[i] == '{' || (b[i] == '~' && i + 1 < p->eol && b[i + 1] == '{');
	if (!lit && b[i] != '"')
		return value(p, depth, ctx, v);
	if ((item = astr(p, name->s, name->len, 1)) == NULL)
		return -1;
	if (lit) {
		if (litsize(p, &size) == -1 || stream(p, size, item) == -1 ||
		    next_line(p) == -1)
			return -1;
	} else {
		if (quoted(p, v) == -1)
			return -1;
		size = v->len;
		if (p->sink != NULL && p->sink(p->sinkctx, p->msgno, item,
		    p->uid, size, v->s, v->len, 1) == -1)
			return fail(p, "the message sink failed");
	}
	v->kind = IV_STREAMED;
	v->s = NULL;
	v->len = (size_t)size;	/* size_t is 64 bits where this runs */
	v->items = NULL;
	v->n = 0;
	return 0;
}

static int
list(struct imap_parser *p, int depth, int ctx, struct ival *out)
{
	size_t base = p->vsn;
	struct ival v;
	int fetch = ctx & CX_FETCH, r;

	if (depth > DEPTH_MAX)
		return syntax(p, p->pos, "lists nested more than 100 deep");
	ctx &= ~CX_FETCH;
	p->pos++;
	for (;;) {
		if (p->pos >= p->eol)
			return syntax(p, p->pos, "expected ')'");
		if (p->buf[p->pos] == ')')
			break;
		if (fetch && (p->vsn - base) % 2 == 1) {
			const struct ival *name = &p->vs[p->vsn - 1];

			switch (fetch_item(name)) {
			case ITEM_UID:
				r = value(p, depth, ctx, &v);
				if (r == 0 && v.kind == IV_ATOM)
					(void)num32(v.s, v.len, &p->uid);
				break;
			case ITEM_MESSAGE:
				r = message(p, name, depth, ctx, &v);
				break;
			default:
				r = value(p, depth, ctx, &v);
			}
		} else
			r = value(p, depth, ctx, &v);
		if (r == -1 || push(p, &v) == -1)
			return -1;
		if (p->pos < p->eol && p->buf[p->pos] == ' ')
			p->pos++;
		else if (p->pos < p->eol && p->buf[p->pos] != ')')
			return syntax(p, p->pos, "expected ' ' or ')'");
	}
	p->pos++;
	return close_list(p, base, out);
}

static int
value(struct imap_parser *p, int depth, int ctx, struct ival *v)
{
	const char *b = p->buf;
	size_t i = p->pos;
	uint64_t size;

	v->kind = IV_NIL;
	v->s = NULL;
	v->len = 0;
	v->items = NULL;
	v->n = 0;
	switch (b[i]) {
	case '(':
		return list(p, depth + 1, ctx, v);
	case '"':
		return quoted(p, v);
	case '~':
		if (i + 1 >= p->eol || b[i + 1] != '{')
			break;
		/* FALLTHROUGH */
	case '{':
		if (ctx & CX_CODE)
			break;
		if (litsize(p, &size) == -1)
			return -1;
		return inmem(p, size, v);
	}
	return atom(p, ctx, v);
}

/* The values up to the end of the line; the list stays on the stack. */
static int
values(struct imap_parser *p, int ctx, struct ival *out)
{
	size_t base = p->vsn;
	struct ival v;

	while (p->pos < p->eol) {
		if (value(p, 0, ctx, &v) == -1 || push(p, &v) == -1)
			return -1;
		if (p->pos < p->eol) {
			if (p->buf[p->pos] != ' ')
				return syntax(p, p->pos, "expected ' ' or end "
				    "of line");
			p->pos++;
		}
	}
	out->kind = IV_LIST;
	out->items = p->vsn > base ? p->vs + base : NULL;
	out->n = p->vsn - base;
	return 0;
}

/* Text up to the end of the line. */
static int
text(struct imap_parser *p, char **out)
{
	const char *s = p->buf + p->pos, *bad;
	size_t n = p->eol - p->pos;

	if ((bad = memchr(s, '\0', n)) != NULL)
		return syntax(p, (size_t)(bad - p->buf), "NUL byte in text");
	if ((bad = memchr(s, '\r', n)) != NULL)
		return syntax(p, (size_t)(bad - p->buf), "CR in text");
	if ((*out = astr(p, s, n, 0)) == NULL)
		return -1;
	p->pos = p->eol;
	return 0;
}

/* The run of atom bytes at pos (no sections). */
static size_t
span(const struct imap_parser *p, unsigned char bit)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	size_t i;

	for (i = p->pos; i < p->eol && (cclass[b[i]] & bit); i++)
		;
	return i - p->pos;
}

static int
code_args(struct imap_parser *p, struct ival *out)
{
	size_t base = p->vsn;
	struct ival v;

	for (;;) {
		if (p->pos >= p->eol)
			return syntax(p, p->pos, "unterminated response code");
		if (p->buf[p->pos] == ']')
			break;
		if (value(p, 0, CX_CODE, &v) == -1 || push(p, &v) == -1)
			return -1;
		if (p->pos < p->eol && p->buf[p->pos] == ' ')
			p->pos++;
		else if (p->pos < p->eol && p->buf[p->pos] != ']')
			return syntax(p, p->pos, "expected ' ' or ']'");
	}
	p->pos++;
	return close_list(p, base, out);
}

/*
 * "[CODE args]".  Arguments that do not parse as values are free text
 * (the grammar allows any text but ']' for unknown codes): they become one
 * string.
 */
static int
code(struct imap_parser *p)
{
	struct iresp *r = &p->resp;
	size_t n, save, base = p->vsn;
	const char *rb;
	struct ival v;
	int rv;

	p->pos++;
	if ((n = span(p, C_CODE)) == 0)
		return syntax(p, p->pos, "expected a response code");
	if ((r->code = astr(p, p->buf + p->pos, n, 1)) == NULL)
		return -1;
	p->pos += n;
	if (p->pos < p->eol && p->buf[p->pos] == ']') {
		p->pos++;
		return 0;
	}
	if (p->pos >= p->eol)
		return syntax(p, p->pos, "unterminated response code");
	if (p->buf[p->pos] != ' ')
		return syntax(p, p->pos, "expected ' ' or ']'");
	save = ++p->pos;
	p->trial = 1;
	rv = code_args(p, &r->code_args);
	p->trial = 0;
	if (rv == 0 || !p->errsyntax)
		return rv;
	p->errsyntax = 0;
	p->vsn = base;
	p->pos = save;
	if ((rb = memchr(p->buf + save, ']', p->eol - save)) == NULL)
		return syntax(p, p->eol, "unterminated response code");
	n = (size_t)(rb - (p->buf + save));
	if (memchr(p->buf + save, '\0', n) != NULL ||
	    memchr(p->buf + save, '\r', n) != NULL)
		return syntax(p, save, "control byte in a response code");
	v.kind = IV_STRING;
	v.items = NULL;
	v.n = 0;
	v.len = n;
	if ((v.s = astr(p, p->buf + save, n, 0)) == NULL ||
	    push(p, &v) == -1 || close_list(p, base, &r->code_args) == -1)
		return -1;
	p->pos = save + n + 1;
	return 0;
}

static enum istatus
status_of(const char *s, size_t n)
{
	if (EQI(s, n, "OK"))
		return IS_OK;
	if (EQI(s, n, "NO"))
		return IS_NO;
	if (EQI(s, n, "BAD"))
		return IS_BAD;
	if (EQI(s, n, "BYE"))
		return IS_BYE;
	if (EQI(s, n, "PREAUTH"))
		return IS_PREAUTH;
	return IS_NONE;
}

/* After OK, NO, ...: "[CODE args] text", both parts optional. */
static int
status_text(struct imap_parser *p)
{
	if (p->pos < p->eol) {
		if (p->buf[p->pos] != ' ')
			return syntax(p, p->pos, "expected ' '");
		p->pos++;
		if (p->pos < p->eol && p->buf[p->pos] == '[') {
			if (code(p) == -1)
				return -1;
			if (p->pos < p->eol && p->buf[p->pos] == ' ')
				p->pos++;
		}
	}
	return text(p, &p->resp.text);
}

/* A keyword of n bytes at pos: the response's name. */
static int
keyword(struct imap_parser *p, size_t n)
{
	size_t i = p->pos + n;
	int ctl = i < p->eol && (cclass[(unsigned char)p->buf[i]] & C_CTL);

	if (n == 0)
		return syntax(p, i, ctl ? "control byte in an atom" :
		    "expected a keyword");
	if (i < p->eol && p->buf[i] != ' ')
		return syntax(p, i, ctl ? "control byte in an atom" :
		    "expected ' '");
	if ((p->resp.name = astr(p, p->buf + p->pos, n, 1)) == NULL)
		return -1;
	p->pos = i;
	return 0;
}

/* "* [n] NAME values" or "* OK|NO|BAD|BYE|PREAUTH text" */
static int
untagged(struct imap_parser *p)
{
	struct iresp *r = &p->resp;
	size_t n;
	int ctx = 0;

	p->pos++;
	if (p->pos >= p->eol || p->buf[p->pos] != ' ')
		return syntax(p, p->pos, "expected ' '");
	p->pos++;
	n = span(p, C_ATOM);
	if (n > 0 && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9' &&
	    (p->pos + n == p->eol || p->buf[p->pos + n] == ' ')) {
		if (num32(p->buf + p->pos, n, &r->number) == -1)
			return syntax(p, p->pos, "expected a message number");
		r->has_number = 1;
		p->pos += n;
		if (p->pos >= p->eol)
			return syntax(p, p->pos, "expected ' '");
		p->pos++;
		n = span(p, C_ATOM);
	}
	if (keyword(p, n) == -1)
		return -1;
	if ((r->status = status_of(r->name, n)) != IS_NONE)
		return status_text(p);
	if (r->has_number && strcmp(r->name, "FETCH") == 0) {
		ctx = CX_FETCH;
		p->msgno = r->number;
	}
	if (p->pos < p->eol)
		p->pos++;
	return values(p, ctx, &r->args);
}

/* "tag OK|NO|BAD text" */
static int
tagged(struct imap_parser *p)
{
	struct iresp *r = &p->resp;
	size_t n;

	if ((n = span(p, C_ATOM)) == 0)
		return syntax(p, p->pos, "expected a tag, '*' or '+'");
	if ((r->tag = astr(p, p->buf + p->pos, n, 0)) == NULL)
		return -1;
	p->pos += n;
	if (p->pos >= p->eol || p->buf[p->pos] != ' ')
		return syntax(p, p->pos, "expected ' '");
	p->pos++;
	n = span(p, C_ATOM);
	if ((r->status = status_of(p->buf + p->pos, n)) == IS_NONE)
		return syntax(p, p->pos, "expected OK, NO, BAD, BYE or "
		    "PREAUTH");
	if ((r->name = astr(p, p->buf + p->pos, n, 1)) == NULL)
		return -1;
	p->pos += n;
	return status_text(p);
}

/* Forget the last response; give back memory a big one took. */
static void
reset(struct imap_parser *p)
{
	arena_reset(p);
	if (p->vscap > STACK_KEEP) {
		free(p->vs);
		p->vs = NULL;
		p->vscap = 0;
	}
	p->vsn = 0;
	p->nvalues = 0;
	p->dropped = 0;
	p->msgno = p->uid = 0;
	memset(&p->resp, 0, sizeof(p->resp));
	p->resp.kind = IR_UNTAGGED;
	p->resp.status = IS_NONE;
	p->resp.code_args.kind = IV_LIST;
	p->resp.args.kind = IV_LIST;
	p->resp.text = p->empty;
	if (p->cap > BUF_KEEP && p->end - p->pos < CHUNK) {
		char *nb;

		memmove(p->buf, p->buf + p->pos, p->end - p->pos);
		p->end -= p->pos;
		p->pos = 0;
		if ((nb = realloc(p->buf, CHUNK)) != NULL) {
			p->buf = nb;
			p->cap = CHUNK;
		}
	}
}

/* Public interface */

struct imap_parser *
imap_parser_new(imap_read_fn rd, void *ctx)
{
	struct imap_parser *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->rd = rd;
	p->rdctx = ctx;
	return p;
}

void
imap_parser_free(struct imap_parser *p)
{
	if (p == NULL)
		return;
	arena_reset(p);
	free(p->arena);
	free(p->vs);
	free(p->buf);
	sb_free(&p->err);
	free(p);
}

void
imap_parser_set_reader(struct imap_parser *p, imap_read_fn rd, void *ctx)
{
	p->rd = rd;
	p->rdctx = ctx;
	p->eof = 0;
}

void
imap_parser_set_sink(struct imap_parser *p, imap_sink_fn fn, void *ctx)
{
	p->sink = fn;
	p->sinkctx = ctx;
}

int
imap_parser_next(struct imap_parser *p, struct iresp **out)
{
	struct iresp *r = &p->resp;
	int rv;

	*out = NULL;
	if (p->failed)
		return -1;
	reset(p);
	for (;;) {
		p->rstart = p->pos;
		if ((rv = find_line(p)) != 1)
			return rv;
		if (p->eol > p->pos)
			break;
		p->pos = p->nl;		/* an empty line */
	}
	switch (p->buf[p->pos]) {
	case '+':
		r->kind = IR_CONTINUE;
		p->pos++;
		if (p->pos < p->eol && p->buf[p->pos] == ' ')
			p->pos++;
		rv = text(p, &r->text);
		break;
	case '*':
		r->kind = IR_UNTAGGED;
		rv = untagged(p);
		break;
	default:
		r->kind = IR_TAGGED;
		rv = tagged(p);
	}
	if (rv == -1)
		return -1;
	p->pos = p->nl;
	*out = r;
	return 1;
}

const char *
imap_parser_error(const struct imap_parser *p)
{
	if (p->err.len > 0)
		return p->err.s;
	return p->failed ? "out of memory" : NULL;
}

size_t
imap_parser_buffered(const struct imap_parser *p)
{
	return p->end - p->pos;
}

/* Helpers */

const struct ival *
ival_get(const struct ival *l, const char *name)
{
	size_t i;

	if (l == NULL || l->kind != IV_LIST)
		return NULL;
	for (i = 0; i + 1 < l->n; i += 2)
		if (l->items[i].kind == IV_ATOM &&
		    eqi(l->items[i].s, l->items[i].len, name))
			return &l->items[i + 1];
	return NULL;
}

int
ival_u64(const struct ival *v, uint64_t *out)
{
	if (v == NULL || v->kind != IV_ATOM)
		return -1;
	return num64(v->s, v->len, out);
}

int
ival_u32(const struct ival *v, uint32_t *out)
{
	if (v == NULL || v->kind != IV_ATOM)
		return -1;
	return num32(v->s, v->len, out);
}

int
ival_is(const struct ival *v, const char *s)
{
	return v != NULL && v->kind == IV_ATOM && eqi(v->s, v->len, s);
}

const char *
ival_str(const struct ival *v)
{
	if (v == NULL || (v->kind != IV_ATOM && v->kind != IV_STRING))
		return NULL;
	return v->s;
}

char *
imap_escape(const char *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t m = n < max ? n : max, i;
	char *out, *d;

	if (m > (SIZE_MAX - 4) / 4)
		m = (SIZE_MAX - 4) / 4;
	if ((out = malloc(4 * m + 4)) == NULL)
		return NULL;
	d = out;
	for (i = 0; i < m; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			*d++ = (char)c;
		else {
			*d++ = '\\';
			*d++ = 'x';
			*d++ = hex[c >> 4];
			*d++ = hex[c & 0xf];
		}
	}
	if (n > m) {
		memcpy(d, "...", 3);
		d += 3;
	}
	*d = '\0';
	return out;
}
