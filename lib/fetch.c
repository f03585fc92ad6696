/* fetch.c - download messages by UID into a Maildir folder (see fetch.h) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "imap.h"
#include "maildir.h"
#include "util.h"

#define CHUNK	500		/* UIDs per UID FETCH */
#define BATCH_MSGS	4000	/* messages made durable at once, at most */
#define BATCH_BYTES	(128ULL << 20)	/* ... and bytes */

struct run {
	struct fetch_job	*j;
	uint32_t		 uidvalidity;	/* from the EXAMINE */
	struct maildir_delivery	*dl;		/* the body arriving */
	struct fetch_item	*dl_item;
	int			 pending_cr;	/* a CR ended the last piece */
	int			 dl_failed;
	char			*dl_err;
	struct maildir_batch	*batch;
	struct fetch_item	**inbatch;
	size_t			 nbatch, capbatch;
	uint64_t		 bytes;		/* in the batch */
	int			 oom;
	struct sb		 conv;		/* a piece, converted */
};

static int
cmpitem(const void *a, const void *b)
{
	const struct fetch_item *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

void
fetch_sort(struct fetch_item *it, size_t *n)
{
	size_t i, w;

	if (*n > 1)
		qsort(it, *n, sizeof(*it), cmpitem);
	for (i = w = 0; i < *n; i++) {
		if (w > 0 && it[w - 1].uid == it[i].uid) {
			free(it[i].flags);
			free(it[i].path);
			free(it[i].why);
			continue;
		}
		it[w++] = it[i];
	}
	*n = w;
}

void
fetch_items_free(struct fetch_item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(it[i].flags);
		free(it[i].path);
		free(it[i].why);
	}
	free(it);
}

static struct fetch_item *
find(struct fetch_job *j, uint32_t uid)
{
	size_t lo = 0, hi = j->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (j->items[mid].uid == uid)
			return &j->items[mid];
		if (j->items[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

char *
fetch_letters(const struct maildir_kwmap *kw, const char *imapflags)
{
	struct sb l = { 0 }, un = { 0 };

	if (maildir_flags_from_imap(imapflags, kw, &l, &un) == -1) {
		sb_free(&l);
		sb_free(&un);
		return NULL;
	}
	sb_free(&un);
	return l.s ? l.s : strdup("");
}

/* FLAGS of a FETCH response as text, "\Seen \Flagged". */
static char *
flags_text(const struct ival *fl)
{
	struct sb b = { 0 };
	size_t i;

	for (i = 0; fl && fl->kind == IV_LIST && i < fl->n; i++)
		if (ival_str(&fl->items[i]) && sb_printf(&b, "%s%s", b.len ?
		    " " : "", ival_str(&fl->items[i])) == -1) {
			sb_free(&b);
			return NULL;
		}
	return b.s ? b.s : strdup("");
}

static void
set_failed(struct run *r, struct fetch_item *it, char *why)
{
	it->state = FS_FAILED;
	free(it->why);
	it->why = why ? why : strdup("delivery failed");
	if (r->j->report)
		r->j->report(r->j->ctx, it);
}

static int
on_untagged(void *ctx, struct imap *im, const struct iresp *resp)
{
	struct run *r = ctx;
	const struct ival *v;
	struct fetch_item *it;
	uint32_t uid;

	(void)im;
	if (resp->status != IS_NONE && resp->code &&
	    strcmp(resp->code, "UIDVALIDITY") == 0 && resp->code_args.n)
		ival_u32(&resp->code_args.items[0], &r->uidvalidity);
	if (resp->name == NULL || strcmp(resp->name, "FETCH") != 0 ||
	    resp->args.n != 1 ||
	    (v = ival_get(&resp->args.items[0], "UID")) == NULL ||
	    ival_u32(v, &uid) == -1)
		return 0;
	/* flags asked for ahead of the bodies: a file is named with its
	 * flags when its body arrives */
	if ((v = ival_get(&resp->args.items[0], "FLAGS")) != NULL &&
	    (it = find(r->j, uid)) != NULL && it->flags == NULL) {
		char *t = flags_text(v);

		if (t == NULL || (it->flags = fetch_letters(r->j->kw, t)) ==
		    NULL)
			r->oom = 1;
		free(t);
	}
	return 0;
}

static int
dl_write(struct run *r, const char *p, size_t n, char **e)
{
	return maildir_deliver_write(r->dl, p, n, e);
}

/* Body pieces, CRLF made LF across piece boundaries. */
static int
sink(void *ctx, uint32_t msgno, const char *item, uint32_t uid,
    uint64_t total, const char *data, size_t n, int final)
{
	struct run *r = ctx;
	struct fetch_job *j = r->j;
	struct fetch_item *it;
	char *e = NULL;
	size_t i, start;

	(void)msgno;
	(void)total;
	if (strcmp(item, "BODY[]") != 0)
		return 0;
	if (r->dl == NULL && !r->dl_failed) {
		r->dl_item = NULL;
		if (uid == 0 || (it = find(j, uid)) == NULL ||
		    it->state != FS_WANT) {
			/* not ours (or the UID came after the body) */
			r->dl_failed = 1;
			free(r->dl_err);
			r->dl_err = strdup(uid == 0 ? "the server sent the body "
			    "before the UID" : "a body not asked for");
		} else if (maildir_deliver_begin(&r->dl, j->dir, j->fmd5, uid,
		    it->flags ? it->flags : "", j->mopts, &e) == -1) {
			r->dl_failed = 1;
			r->dl_item = it;
			free(r->dl_err);
			r->dl_err = e;
		} else
			r->dl_item = it;
		r->pending_cr = 0;
	}
	/* one write per piece: the bytes with each CRLF made LF */
	sb_reset(&r->conv);
	if (r->dl && sb_grow(&r->conv, n + 1) == -1)
		return -1;
	if (r->dl && n > 0 && r->pending_cr) {
		r->pending_cr = 0;
		if (data[0] != '\n')
			r->conv.s[r->conv.len++] = '\r';
	}
	for (start = 0; r->dl && start < n; start = i + 1) {
		const char *cr = memchr(data + start, '\r', n - start);

		i = cr ? (size_t)(cr - data) : n;
		memcpy(r->conv.s + r->conv.len, data + start, i - start);
		r->conv.len += i - start;
		if (cr == NULL)
			break;
		if (i + 1 == n)
			r->pending_cr = 1;
		else if (data[i + 1] != '\n')
			r->conv.s[r->conv.len++] = '\r';
	}
	r->bytes += r->conv.len;
	if (r->dl && r->conv.len && dl_write(r, r->conv.s, r->conv.len, &e)
	    == -1)
		goto fail;
	if (!final)
		return 0;
	if (r->dl && r->pending_cr && dl_write(r, "\r", 1, &e) == -1)
		goto fail;
	if (r->dl) {
		if (maildir_batch_add(r->batch, r->dl, &e) == -1) {
			r->dl = NULL;
			goto fail_added;
		}
		r->dl = NULL;
		if (r->nbatch == r->capbatch) {
			size_t nc = r->capbatch ? r->capbatch * 2 : 64;
			struct fetch_item **p = reallocarray(r->inbatch, nc,
			    sizeof(*p));

			if (p == NULL)
				return -1;
			r->inbatch = p;
			r->capbatch = nc;
		}
		r->dl_item->state = FS_STORED;	/* durable at the flush */
		r->inbatch[r->nbatch++] = r->dl_item;
	} else if (r->dl_item) {
		set_failed(r, r->dl_item, r->dl_err);
		r->dl_err = NULL;
	}
	r->dl_failed = 0;
	free(r->dl_err);
	r->dl_err = NULL;
	return 0;
fail:
	maildir_deliver_abort(r->dl);
	r->dl = NULL;
fail_added:
	r->dl_failed = 1;
	free(r->dl_err);
	r->dl_err = e;
	if (final) {
		if (r->dl_item) {
			set_failed(r, r->dl_item, r->dl_err);
			r->dl_err = NULL;
		}
		r->dl_failed = 0;
		free(r->dl_err);
		r->dl_err = NULL;
	}
	return 0;
}

/* Make the batch durable and visible, and say so. */
static int
flush_batch(struct run *r)
{
	char *e = NULL;
	size_t i;

	if (r->nbatch == 0)
		return 0;
	maildir_batch_commit(r->batch, &e);
	free(e);
	for (i = 0; i < r->nbatch; i++) {
		struct fetch_item *it = r->inbatch[i];
		const char *name, *why;

		if (maildir_batch_result(r->batch, i, &name, &why) == 0) {
			free(it->path);
			if ((it->path = strdup(name)) == NULL)
				r->oom = 1;
			if (r->j->report)
				r->j->report(r->j->ctx, it);
		} else
			set_failed(r, it, strdup(why));
	}
	maildir_batch_free(r->batch);
	r->nbatch = 0;
	r->bytes = 0;
	if ((r->batch = maildir_batch_new()) == NULL)
		r->oom = 1;
	if (r->j->batch_done)
		r->j->batch_done(r->j->ctx);
	return r->oom ? -1 : 0;
}

/* What the folder holds already is not fetched again. */
static int
note_present(void *ctx, const char *sub, int dfd, const char *name,
    size_t len)
{
	struct run *r = ctx;
	struct maildir_name mn;
	struct fetch_item *it;

	(void)dfd;
	maildir_parse_name(name, len, r->j->fmd5, r->j->mopts->winsep, &mn);
	if (mn.uid == 0 || (it = find(r->j, mn.uid)) == NULL ||
	    it->state != FS_WANT)
		return 0;
	it->state = FS_PRESENT;
	free(it->path);
	if (asprintf(&it->path, "%s/%s", sub, name) == -1) {
		it->path = NULL;
		return -1;
	}
	return 0;
}

static char *
reply_text(const struct imap_reply *rep)
{
	char *msg;

	if (asprintf(&msg, "%s%s%s%s", rep->code ? "[" : "", rep->code ?
	    rep->code : "", rep->code ? "] " : "", rep->text) == -1)
		return NULL;
	return msg;
}

static void
run_end(struct run *r)
{
	if (r->dl)
		maildir_deliver_abort(r->dl);
	r->dl = NULL;
	maildir_batch_free(r->batch);
	free(r->inbatch);
	free(r->dl_err);
	sb_free(&r->conv);
	imap_set_untagged(r->j->im, NULL, NULL);
	imap_set_sink(r->j->im, NULL, NULL);
}

int
fetch_run(struct fetch_job *j)
{
	struct run r = { 0 };
	struct imap_reply rep;
	uint32_t etag = 0, *tags = NULL, *ftags = NULL;
	size_t i, k, nt = 0;
	struct sb set = { 0 };
	char *e = NULL;
	int ask_flags = 0, rv = -1;

	r.j = j;
	free(j->err);
	j->err = NULL;
	if ((r.batch = maildir_batch_new()) == NULL)
		goto oom;
	/* a download a killed run left in tmp/ is discarded: it is
	 * fetched again below, whole */
	if (maildir_clean_tmp(j->dir, j->fmd5, j->mopts->winsep, &k, &e) ==
	    -1) {
		j->err = e;
		run_end(&r);
		return 1;
	}
	if (maildir_each_file(j->dir, note_present, &r, &e) == -1) {
		j->err = e ? e : strdup("cannot read the folder");
		run_end(&r);
		return 1;
	}
	for (i = 0; i < j->n; i++) {
		if (j->items[i].state == FS_PRESENT && j->report)
			j->report(j->ctx, &j->items[i]);
		if (j->items[i].state == FS_WANT && j->items[i].flags == NULL)
			ask_flags = 1;
	}
	imap_set_untagged(j->im, on_untagged, &r);
	imap_set_sink(j->im, sink, &r);
	if (j->mailbox && (etag = imap_cmd(j->im, "EXAMINE %a", j->mailbox))
	    == 0)
		goto lost;
	/* the UID sets, each sent before any answer is read */
	if ((tags = calloc(j->n / CHUNK + 2, sizeof(*tags))) == NULL ||
	    (ftags = calloc(j->n / CHUNK + 2, sizeof(*ftags))) == NULL)
		goto oom;
	for (i = 0; i < j->n; ) {
		uint32_t start, last;

		sb_reset(&set);
		for (k = 0; i < j->n && k < CHUNK; i++) {
			if (j->items[i].state != FS_WANT)
				continue;
			start = last = j->items[i].uid;
			while (i + 1 < j->n && k + 1 < CHUNK &&
			    j->items[i + 1].state == FS_WANT &&
			    j->items[i + 1].uid == last + 1) {
				last = j->items[++i].uid;
				k++;
			}
			k++;
			if ((start == last ? sb_printf(&set, "%s%u", set.len ?
			    "," : "", start) : sb_printf(&set, "%s%u:%u",
			    set.len ? "," : "", start, last)) == -1)
				goto oom;
		}
		if (set.len == 0)
			break;
		if (ask_flags && (ftags[nt] = imap_cmd(j->im,
		    "UID FETCH %s (UID FLAGS)", set.s)) == 0)
			goto lost;
		if ((tags[nt++] = imap_cmd(j->im, "UID FETCH %s (UID "
		    "BODY.PEEK[])", set.s)) == 0)
			goto lost;
	}
	if (j->sent)
		j->sent(j->ctx);
	if (etag) {
		if (imap_wait(j->im, etag, &rep) == -1)
			goto lost;
		if (rep.status != IS_OK || (j->uidvalidity && r.uidvalidity !=
		    j->uidvalidity)) {
			if (rep.status != IS_OK)
				j->err = reply_text(&rep);
			else if (asprintf(&j->err, "UIDVALIDITY is %u, not %u: "
			    "the UIDs asked for name other messages now",
			    r.uidvalidity, j->uidvalidity) == -1)
				j->err = NULL;
			imap_reply_free(&rep);
			/* drain the fetches without storing anything */
			imap_set_sink(j->im, NULL, NULL);
			for (i = 0; i < nt; i++) {
				if (ftags[i] && imap_wait(j->im, ftags[i],
				    &rep) == 0)
					imap_reply_free(&rep);
				if (imap_wait(j->im, tags[i], &rep) == 0)
					imap_reply_free(&rep);
			}
			rv = 1;
			goto out;
		}
		imap_reply_free(&rep);
	}
	for (i = 0; i < nt; i++) {
		if (ftags[i]) {
			if (imap_wait(j->im, ftags[i], &rep) == -1)
				goto lost;
			imap_reply_free(&rep);
		}
		if (imap_wait(j->im, tags[i], &rep) == -1)
			goto lost;
		if (rep.status != IS_OK && j->err == NULL)
			j->err = reply_text(&rep);
		imap_reply_free(&rep);
		/* a batch is made durable with one syncfs: big batches,
		 * fewer waits for the disk */
		if ((r.nbatch >= BATCH_MSGS || r.bytes >= BATCH_BYTES ||
		    i + 1 == nt) && flush_batch(&r) == -1)
			goto oom;
	}
	for (i = 0; i < j->n; i++)
		if (j->items[i].state == FS_WANT) {
			/* a failed UID FETCH leaves its UIDs in doubt */
			if (j->err) {
				set_failed(&r, &j->items[i], strdup(j->err));
				continue;
			}
			j->items[i].state = FS_GONE;
			if (j->report)
				j->report(j->ctx, &j->items[i]);
		}
	rv = 0;
	goto out;
oom:
	imap_fail(j->im, IMAP_ERR_FATAL, "out of memory");
lost:
	/* what arrived whole is kept; the message cut short is removed */
	if (r.dl)
		maildir_deliver_abort(r.dl);
	r.dl = NULL;
	flush_batch(&r);
	rv = -1;
out:
	if (r.oom && rv == 0) {
		imap_fail(j->im, IMAP_ERR_FATAL, "out of memory");
		rv = -1;
	}
	sb_free(&set);
	free(tags);
	free(ftags);
	run_end(&r);
	return rv;
}
