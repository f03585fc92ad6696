/*
 * listing.c - sync-plan's two listings, a folder at a time (listing.h).
 *
 * The first pass checks every record, so that a bad record anywhere is an
 * error before anything is planned, and finds the folder errors (no end
 * record, a wrong count, a UID listed twice) that sync-plan must know of
 * before its first folder.  The second pass, per folder, reads the same
 * records again from the folder's offset and keeps its messages.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listing.h"
#include "record.h"

#define SPOOL_CHUNK	65536

static int
fail(struct listing *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct listing *l, const char *fmt, ...)
{
	va_list ap;

	sb_reset(&l->err);
	va_start(ap, fmt);
	if (sb_vprintf(&l->err, fmt, ap) == -1) {
		sb_reset(&l->err);
		sb_adds(&l->err, "out of memory");
	}
	va_end(ap);
	return -1;
}

const char *
listing_error(const struct listing *l)
{
	const char *e;

	if (l->err.len > 0)
		return l->err.s;
	if (l->rr != NULL && (e = rec_error(l->rr)) != NULL)
		return e;
	return "unknown error";
}

static void *
grow(struct listing *l, void *p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 1024;
	if ((np = reallocarray(p, ncap, size)) == NULL) {
		fail(l, "out of memory");
		return NULL;
	}
	*cap = ncap;
	return np;
}

/*
 * A copy of an input that cannot seek, in an unlinked temporary file, at
 * its start; NULL with the error set.
 */
static FILE *
spool(struct listing *l, FILE *in)
{
	const char *dir = getenv("TMPDIR");
	char *path = NULL, *buf = NULL;
	FILE *fp = NULL;
	size_t n;
	int fd = -1;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if (asprintf(&path, "%s/listing.XXXXXX", dir) == -1) {
		path = NULL;
		fail(l, "out of memory");
		goto bad;
	}
	if ((fd = mkstemp(path)) == -1) {
		fail(l, "%s: cannot make a temporary file in %s to hold it: "
		    "%s", l->name, dir, strerror(errno));
		goto bad;
	}
	if (unlink(path) == -1) {
		fail(l, "%s: %s", path, strerror(errno));
		goto bad;
	}
	if ((fp = fdopen(fd, "w+")) == NULL) {
		fail(l, "%s: %s", path, strerror(errno));
		goto bad;
	}
	fd = -1;
	if ((buf = malloc(SPOOL_CHUNK)) == NULL) {
		fail(l, "out of memory");
		goto bad;
	}
	while ((n = fread(buf, 1, SPOOL_CHUNK, in)) > 0)
		if (fwrite(buf, 1, n, fp) != n)
			goto wbad;
	if (ferror(in)) {
		fail(l, "%s: read error: %s", l->name, strerror(errno));
		goto bad;
	}
	if (fflush(fp) == EOF)
		goto wbad;
	if (fseeko(fp, 0, SEEK_SET) == -1) {
		fail(l, "%s: %s", path, strerror(errno));
		goto bad;
	}
	free(buf);
	free(path);
	return fp;
wbad:
	fail(l, "%s: cannot copy it to a temporary file in %s: %s", l->name,
	    dir, strerror(errno));
bad:
	if (fp != NULL)
		fclose(fp);
	if (fd != -1)
		close(fd);
	free(buf);
	free(path);
	return NULL;
}

/* ---- fields ---- */

static int
need(struct listing *l, const struct rec *r, size_t n)
{
	size_t i;

	if (r->nf < n)
		return rec_fail(l->rr, "%s record with %zu fields, want %zu",
		    r->f[0], r->nf, n);
	for (i = 0; i < r->nf; i++)
		if (rec_cstr(l->rr, r, i) == -1)
			return -1;
	return 0;
}

static int
field_u32(struct listing *l, const struct rec *r, size_t i, uint32_t *out)
{
	unsigned long long v;

	if (rec_u64(l->rr, r, i, &v) == -1)
		return -1;
	if (v > UINT32_MAX)
		return rec_fail(l->rr, "field %zu of %s record is out of range",
		    i + 1, r->f[0]);
	*out = (uint32_t)v;
	return 0;
}

static int
field_mode(struct listing *l, const char *s, enum plan_mode *mode, int *same)
{
	/* unchanged (remote) and same (local): as at the last complete sync */
	*same = strcmp(s, l->side == LISTING_REMOTE ? "unchanged" : "same") ==
	    0;
	if (strcmp(s, "full") == 0 ||
	    (l->side == LISTING_LOCAL && strcmp(s, "same") == 0))
		*mode = PLAN_FULL;
	else if (strcmp(s, "window") == 0)
		*mode = PLAN_WINDOW;
	else if (l->side == LISTING_REMOTE && (strcmp(s, "changed") == 0 ||
	    strcmp(s, "unchanged") == 0))
		*mode = PLAN_CHANGED;
	else
		return rec_fail(l->rr, "unknown listing mode \"%s\"", s);
	return 0;
}

/* A UID of a UID set: digits, 1 to 2^32-1. */
static const char *
set_uid(const char *s, uint32_t *uid)
{
	unsigned long long v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (unsigned)(*p - '0')) > UINT32_MAX)
			return NULL;
	if (p == s || v == 0)
		return NULL;
	*uid = (uint32_t)v;
	return p;
}

/* "1:5,7" of a vanished record, into m (NULL: check only). */
static int
uid_set(struct listing *l, const char *set, struct listing_msgs *m)
{
	const char *s = set;
	uint32_t lo, hi;

	while (*s != '\0') {
		if ((s = set_uid(s, &lo)) == NULL)
			goto bad;
		hi = lo;
		if (*s == ':' && (s = set_uid(s + 1, &hi)) == NULL)
			goto bad;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			goto bad;
		if (m != NULL) {
			struct plan_range *v;

			if ((v = grow(l, m->v, &m->vcap, m->nv,
			    sizeof(*m->v))) == NULL)
				return -1;
			m->v = v;
			m->v[m->nv].lo = lo < hi ? lo : hi;
			m->v[m->nv].hi = lo < hi ? hi : lo;
			m->nv++;
		}
	}
	return 0;
bad:
	return rec_fail(l->rr, "bad UID set \"%s\"", set);
}

/* A remote msg record: its UID and, with flags, the rest. */
static int
remote_msg(struct listing *l, const struct rec *r, struct plan_rmsg *m,
    int flags)
{
	unsigned long long modseq;

	if (need(l, r, 6) == -1 || field_u32(l, r, 1, &m->uid) == -1 ||
	    field_u32(l, r, 3, &m->size) == -1 ||
	    rec_u64(l->rr, r, 5, &modseq) == -1)
		return -1;
	m->modseq = modseq;
	m->flags = 0;
	if (!flags)
		return 0;
	sb_reset(&l->flags);
	if (maildir_flags_from_imap(r->f[2], l->kw, &l->flags, NULL) == -1)
		return fail(l, "out of memory");
	m->flags = plan_flags_parse(l->flags.s ? l->flags.s : "",
	    l->flags.len);
	return 0;
}

/* A local msg record's UID (0: none), in order after the n before it
 * (the last being prev): new messages last, the others ascending. */
static int
local_msg(struct listing *l, const struct rec *r, size_t n, uint32_t prev,
    uint32_t *uid)
{
	if (need(l, r, 6) == -1)
		return -1;
	if (strcmp(r->f[1], "none") == 0)
		*uid = 0;
	else if (field_u32(l, r, 1, uid) == -1)
		return -1;
	if (n > 0 && *uid != 0 && (prev == 0 || prev > *uid))
		return rec_fail(l->rr, "msg records out of UID order");
	return 0;
}

/* ---- the first pass ---- */

static int
folder_error(struct listing *l, struct listing_folder *f, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static int
folder_error(struct listing *l, struct listing_folder *f, const char *fmt,
    ...)
{
	va_list ap;
	int rv;

	if (f->error != NULL)
		return 0;
	va_start(ap, fmt);
	rv = vasprintf(&f->error, fmt, ap);
	va_end(ap);
	if (rv == -1) {
		f->error = NULL;
		return fail(l, "out of memory");
	}
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
close_folder(struct listing *l)
{
	struct listing_folder *f;
	size_t i;

	if (l->n == 0)
		return 0;
	f = &l->f[l->n - 1];
	if (!l->ended && folder_error(l, f, "%s", l->side == LISTING_REMOTE ?
	    "the listing has no end record: incomplete" :
	    "the local listing has no end record: incomplete") == -1)
		return -1;
	if (!l->ascending && f->error == NULL) {
		qsort(l->uids, l->nuids, sizeof(*l->uids), uid_cmp);
		for (i = 1; i < l->nuids; i++)
			if (l->uids[i] == l->uids[i - 1])
				return folder_error(l, f, "a UID is listed "
				    "twice");
	}
	return 0;
}

static int
open_folder(struct listing *l, const struct rec *r)
{
	struct listing_folder *f;
	int mailbox = strcmp(r->f[0], "mailbox") == 0;

	if (close_folder(l) == -1)
		return -1;
	if (need(l, r, !mailbox ? 3 : l->side == LISTING_REMOTE ? 8 : 6) ==
	    -1)
		return -1;
	if ((f = grow(l, l->f, &l->cap, l->n, sizeof(*l->f))) == NULL)
		return -1;
	l->f = f;
	f = &l->f[l->n++];
	memset(f, 0, sizeof(*f));
	f->off = rec_offset(l->rr);
	f->lineno = rec_lineno(l->rr);
	l->ended = 0;
	l->ascending = 1;
	l->last = 0;
	l->nuids = 0;
	if (!mailbox) {
		/* an error record in place of the folder's */
		l->ended = 1;
		if ((f->name = strdup(r->f[2])) == NULL ||
		    (f->local = strdup(r->f[2])) == NULL ||
		    (f->delim = strdup("")) == NULL)
			return fail(l, "out of memory");
		return folder_error(l, f, "the %s listing failed: %s",
		    l->side == LISTING_REMOTE ? "remote" : "local", r->f[1]);
	}
	if (l->side == LISTING_REMOTE) {
		if (field_u32(l, r, 1, &f->uidvalidity) == -1 ||
		    field_u32(l, r, 4, &f->exists) == -1 ||
		    field_mode(l, r->f[5], &f->mode, &f->same) == -1)
			return -1;
		if ((f->delim = strdup(r->f[6])) == NULL ||
		    (f->name = strdup(r->f[7])) == NULL)
			return fail(l, "out of memory");
		return 0;
	}
	if (strlen(r->f[1]) != MD_FMD5_LEN)
		return rec_fail(l->rr, "bad FMD5 \"%s\"", r->f[1]);
	memcpy(f->fmd5, r->f[1], MD_FMD5_LEN + 1);
	if (field_mode(l, r->f[3], &f->mode, &f->same) == -1)
		return -1;
	if ((f->local = strdup(r->f[4])) == NULL ||
	    (f->name = strdup(r->f[5])) == NULL ||
	    (f->delim = strdup("")) == NULL)
		return fail(l, "out of memory");
	return 0;
}

/* A msg record of the folder being read. */
static int
count_msg(struct listing *l, struct listing_folder *f, const struct rec *r)
{
	struct plan_rmsg m;
	uint32_t *u, uid;

	if (l->side == LISTING_LOCAL) {
		if (local_msg(l, r, f->nmsgs, l->last, &uid) == -1)
			return -1;
		l->last = uid;
		f->nmsgs++;
		return 0;
	}
	if (remote_msg(l, r, &m, 0) == -1)
		return -1;
	if ((u = grow(l, l->uids, &l->uidcap, l->nuids, sizeof(*u))) == NULL)
		return -1;
	l->uids = u;
	l->uids[l->nuids++] = m.uid;
	if (f->nmsgs > 0 && m.uid <= l->last)
		l->ascending = 0;
	l->last = m.uid;
	f->nmsgs++;
	return 0;
}

static int
end_folder(struct listing *l, struct listing_folder *f, const struct rec *r)
{
	uint32_t n = 0;
	int match;

	if (need(l, r, 3) == -1)
		return -1;
	l->ended = 1;
	/* the remote end record names its folder, the local one does not */
	match = l->side == LISTING_LOCAL || strcmp(r->f[2], f->name) == 0;
	if (match) {
		if (field_u32(l, r, 1, &n) == -1)
			return -1;
		match = n == f->nmsgs;
	}
	if (match)
		return 0;
	return folder_error(l, f, "the %slisting's end record does not match "
	    "it (%s:%lu)", l->side == LISTING_REMOTE ? "" : "local ", l->name,
	    rec_lineno(l->rr));
}

int
listing_read(struct listing *l, FILE *fp, const char *name,
    enum listing_side side, const struct maildir_kwmap *kw)
{
	struct rec *r;
	off_t pos;
	int rv;

	l->side = side;
	l->kw = kw;
	if ((l->name = strdup(name)) == NULL)
		return fail(l, "out of memory");
	if ((pos = ftello(fp)) == -1 || fseeko(fp, pos, SEEK_SET) == -1) {
		if ((fp = l->spool = spool(l, fp)) == NULL)
			return -1;
		pos = 0;
	}
	if ((l->rr = rec_reader_new(fp, name, 0)) == NULL ||
	    rec_expect(l->rr, side == LISTING_REMOTE ? "imap-messages" :
	    "maildir-messages", 1) == -1)
		return fail(l, "out of memory");
	if (rec_reader_seek(l->rr, pos, 0) == -1)
		return fail(l, "%s: %s", name, strerror(errno));
	while ((rv = rec_read(l->rr, &r)) == 1) {
		const char *k = r->f[0];
		struct listing_folder *f = l->n ? &l->f[l->n - 1] : NULL;

		if (strcmp(k, "mailbox") == 0 || strcmp(k, "error") == 0) {
			if (open_folder(l, r) == -1)
				return -1;
		} else if (f == NULL || l->ended) {
			if (strcmp(k, "msg") == 0 || strcmp(k, "end") == 0 ||
			    (side == LISTING_REMOTE &&
			    strcmp(k, "vanished") == 0))
				return rec_fail(l->rr, "%s record outside a "
				    "mailbox", k);
		} else if (strcmp(k, "msg") == 0) {
			if (count_msg(l, f, r) == -1)
				return -1;
		} else if (strcmp(k, "vanished") == 0 &&
		    side == LISTING_REMOTE) {
			if (need(l, r, 2) == -1 ||
			    uid_set(l, r->f[1], NULL) == -1)
				return -1;
		} else if (strcmp(k, "end") == 0) {
			if (end_folder(l, f, r) == -1)
				return -1;
		}
	}
	if (rv == -1 || close_folder(l) == -1)
		return -1;
	free(l->uids);
	l->uids = NULL;
	l->nuids = l->uidcap = 0;
	return 0;
}

int
listing_open(struct listing *l, const char *path, enum listing_side side,
    const struct maildir_kwmap *kw)
{
	if (strcmp(path, "-") == 0)
		return listing_read(l, stdin, "stdin", side, kw);
	if ((l->own = fopen(path, "r")) == NULL)
		return fail(l, "%s: %s", path, strerror(errno));
	return listing_read(l, l->own, path, side, kw);
}

/* ---- the second pass ---- */

static int
rmsg_cmp(const void *a, const void *b)
{
	const struct plan_rmsg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct plan_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and join the vanished ranges. */
static void
join_ranges(struct listing_msgs *m)
{
	size_t i, k;

	if (m->nv > 1)
		qsort(m->v, m->nv, sizeof(*m->v), range_cmp);
	for (i = k = 0; i < m->nv; i++) {
		if (k > 0 && m->v[i].lo <= (uint64_t)m->v[k - 1].hi + 1) {
			if (m->v[i].hi > m->v[k - 1].hi)
				m->v[k - 1].hi = m->v[i].hi;
		} else
			m->v[k++] = m->v[i];
	}
	m->nv = k;
}

static int
load_msg(struct listing *l, const struct rec *r, struct listing_msgs *m)
{
	if (l->side == LISTING_REMOTE) {
		struct plan_rmsg *p;

		if ((p = grow(l, m->r, &m->rcap, m->nr, sizeof(*p))) == NULL)
			return -1;
		m->r = p;
		if (remote_msg(l, r, &m->r[m->nr], 1) == -1)
			return -1;
		m->nr++;
	} else {
		struct plan_lmsg *p;

		if ((p = grow(l, m->l, &m->lcap, m->nl, sizeof(*p))) == NULL)
			return -1;
		m->l = p;
		p = &m->l[m->nl];
		if (local_msg(l, r, m->nl, m->nl ? p[-1].uid : 0,
		    &p->uid) == -1)
			return -1;
		p->flags = plan_flags_parse(r->f[2], r->len[2]);
		p->ref = m->paths.len;
		if (sb_add(&m->paths, r->f[5], r->len[5] + 1) == -1)
			return fail(l, "out of memory");
		m->nl++;
	}
	return 0;
}

int
listing_load(struct listing *l, size_t i, struct listing_msgs *m)
{
	const struct listing_folder *f = &l->f[i];
	struct rec *r;
	size_t i2;
	int rv, sorted = 1;

	m->nr = m->nv = m->nl = 0;
	sb_reset(&m->paths);
	if (rec_reader_seek(l->rr, f->off, f->lineno - 1) == -1)
		return fail(l, "%s: %s", l->name, strerror(errno));
	if ((rv = rec_read(l->rr, &r)) == 1 &&
	    strcmp(r->f[0], "mailbox") != 0 && strcmp(r->f[0], "error") != 0)
		rv = 0;
	while (rv == 1 && (rv = rec_read(l->rr, &r)) == 1) {
		const char *k = r->f[0];

		if (strcmp(k, "mailbox") == 0 || strcmp(k, "error") == 0 ||
		    strcmp(k, "end") == 0)
			break;
		if (strcmp(k, "msg") == 0) {
			if (load_msg(l, r, m) == -1)
				return -1;
		} else if (strcmp(k, "vanished") == 0 &&
		    l->side == LISTING_REMOTE) {
			if (need(l, r, 2) == -1 ||
			    uid_set(l, r->f[1], m) == -1)
				return -1;
		}
	}
	if (rv == -1)
		return -1;
	if ((l->side == LISTING_REMOTE ? m->nr : m->nl) != f->nmsgs)
		return fail(l, "%s: changed while it was read (folder at line "
		    "%lu)", l->name, f->lineno);
	for (i2 = 1; i2 < m->nr && sorted; i2++)
		sorted = m->r[i2 - 1].uid < m->r[i2].uid;
	if (!sorted)
		qsort(m->r, m->nr, sizeof(*m->r), rmsg_cmp);
	join_ranges(m);
	return 0;
}

void
listing_msgs_free(struct listing_msgs *m)
{
	free(m->r);
	free(m->v);
	free(m->l);
	sb_free(&m->paths);
	memset(m, 0, sizeof(*m));
}

void
listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->f[i].name);
		free(l->f[i].local);
		free(l->f[i].delim);
		free(l->f[i].error);
	}
	free(l->f);
	free(l->name);
	rec_reader_free(l->rr);
	if (l->spool != NULL)
		fclose(l->spool);
	if (l->own != NULL)
		fclose(l->own);
	free(l->uids);
	sb_free(&l->flags);
	sb_free(&l->err);
	memset(l, 0, sizeof(*l));
}
