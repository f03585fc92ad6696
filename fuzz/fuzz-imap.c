/*
 * fuzz-imap.c - the IMAP response parser on arbitrary server output: it
 * must never crash, whatever the size of each read; the responses (or the
 * error) must not depend on how the bytes were split; the sink must get
 * exactly the bytes each literal announced, and a final call once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "imap-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct src {
	const uint8_t	*data;
	size_t		 len, off;
	size_t		 nread;		/* reads so far */
	int		 small;		/* reads of 1 to 7 bytes */
};

static ssize_t
src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	size_t k = s->len - s->off;

	if (k > n)
		k = n;
	if (s->small && k > 1 + s->nread % 7)
		k = 1 + s->nread % 7;
	s->nread++;
	memcpy(buf, s->data + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

struct count {
	uint64_t	 h;		/* hash of everything seen */
	uint64_t	 got;		/* bytes of the current literal */
	int		 open;
	size_t		 calls;
	size_t		 fail_at;	/* fail on this call, 0: never */
};

static void
hash(struct count *c, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		c->h = (c->h ^ s[i]) * 1099511628211ull;
}

static int
sink(void *ctx, uint32_t msgno, const char *item, uint32_t uid,
    uint64_t total, const char *data, size_t n, int final)
{
	struct count *c = ctx;

	if (++c->calls == c->fail_at)
		return -1;
	if (!c->open) {
		c->open = 1;
		c->got = 0;
		hash(c, &msgno, sizeof(msgno));
		hash(c, item, strlen(item) + 1);
		hash(c, &uid, sizeof(uid));
		hash(c, &total, sizeof(total));
	}
	if (data == NULL || (!final && n == 0))
		abort();
	hash(c, data, n);
	c->got += n;
	if (c->got > total || (final && c->got != total))
		abort();
	if (final)
		c->open = 0;
	return 0;
}

static void
walk(struct count *c, const struct ival *v)
{
	uint64_t w;
	uint32_t u;
	size_t i;

	hash(c, &v->kind, sizeof(v->kind));
	switch (v->kind) {
	case IV_ATOM:
	case IV_STRING:
		if (v->s == NULL || v->s[v->len] != '\0' || ival_str(v) != v->s)
			abort();
		hash(c, v->s, v->len);
		if (ival_u64(v, &w) == 0)
			hash(c, &w, sizeof(w));
		if (ival_u32(v, &u) == 0 && (ival_u64(v, &w) != 0 || w != u))
			abort();
		break;
	case IV_NIL:
		if (ival_str(v) != NULL)
			abort();
		break;
	case IV_LIST:
		if (v->n > 0 && v->items == NULL)
			abort();
		for (i = 0; i < v->n; i++)
			walk(c, &v->items[i]);
		(void)ival_get(v, "UID");
		(void)ival_get(v, "BODY[]");
		break;
	case IV_STREAMED:
		hash(c, &v->len, sizeof(v->len));
		break;
	default:
		abort();
	}
}

static void
walk_resp(struct count *c, const struct iresp *r)
{
	hash(c, &r->kind, sizeof(r->kind));
	hash(c, &r->status, sizeof(r->status));
	if (r->text == NULL || (r->kind == IR_TAGGED && r->tag == NULL) ||
	    (r->kind != IR_CONTINUE && r->name == NULL) ||
	    r->args.kind != IV_LIST || r->code_args.kind != IV_LIST)
		abort();
	hash(c, r->text, strlen(r->text) + 1);
	if (r->tag)
		hash(c, r->tag, strlen(r->tag) + 1);
	if (r->name)
		hash(c, r->name, strlen(r->name) + 1);
	if (r->code)
		hash(c, r->code, strlen(r->code) + 1);
	if (r->has_number)
		hash(c, &r->number, sizeof(r->number));
	walk(c, &r->code_args);
	walk(c, &r->args);
}

/* Parse everything; the hash of what was seen. */
static uint64_t
run(const uint8_t *data, size_t size, int small, size_t fail_at)
{
	struct src s = { data, size, 0, 0, small };
	struct count c = { 14695981039346656037ull, 0, 0, 0, fail_at };
	struct imap_parser *p;
	struct iresp *r;
	const char *e;
	char *esc;
	int rv;

	if ((p = imap_parser_new(src_read, &s)) == NULL)
		return 0;
	imap_parser_set_sink(p, sink, &c);
	while ((rv = imap_parser_next(p, &r)) == 1)
		walk_resp(&c, r);
	hash(&c, &rv, sizeof(rv));
	if (rv == -1) {
		if ((e = imap_parser_error(p)) == NULL || strchr(e, '\n'))
			abort();
		hash(&c, e, strlen(e));
		if ((esc = imap_escape(e, strlen(e), 16)) != NULL)
			free(esc);
	} else if (c.open)
		abort();
	if (imap_parser_next(p, &r) != rv)
		abort();
	imap_parser_free(p);
	return c.h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (run(data, size, 0, 0) != run(data, size, 1, 0))
		abort();
	(void)run(data, size, 0, 2);
	return 0;
}
