/*
 * fuzz-plan.c - sync-plan's input on arbitrary bytes, through the code
 * sync-plan runs: the listings read whole (lib/listing.c), each folder
 * loaded again from its offset, and the merge (lib/plan.c) of each remote
 * folder with the local folder of the same name.
 *
 * The input: one byte of options, then the remote listing, a line "%%",
 * the local listing (without that line, the same bytes are both).  Option
 * bits: 1 and 2, read the remote (local) listing as from a pipe, so that
 * it goes through the temporary copy; 4 and 8, the local (remote) side is
 * readonly; 16, no sync_deletes.
 *
 * Nothing may crash; a listing the first pass accepted loads back folder
 * by folder as it counted it, in the order the merge wants; every action
 * of the merge points at the messages sync-plan prints it from.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "listing.h"
#include "maildir.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct pipe_like {
	const uint8_t	*p;
	size_t		 n, off;
};

static ssize_t
pipe_read(void *cookie, char *buf, size_t size)
{
	struct pipe_like *c = cookie;
	size_t n = c->n - c->off < size ? c->n - c->off : size;

	memcpy(buf, c->p + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

/* A stream over p: seekable, or one that cannot seek, like a pipe. */
static FILE *
stream(const uint8_t *p, size_t n, int as_pipe, struct pipe_like *c)
{
	cookie_io_functions_t io = { pipe_read, NULL, NULL, NULL };

	if (!as_pipe && n > 0)
		return fmemopen((void *)p, n, "r");
	c->p = p;
	c->n = n;
	c->off = 0;
	return fopencookie(c, "r", io);
}

/* Folder i loads back as the first pass counted it, as the merge wants. */
static void
load(struct listing *l, size_t i, struct listing_msgs *m)
{
	size_t k;

	if (listing_load(l, i, m) == -1)
		abort();
	if (l->side == LISTING_REMOTE) {
		if (m->nr != l->f[i].nmsgs || m->nl != 0)
			abort();
		for (k = 1; k < m->nr; k++)
			if (m->r[k - 1].uid > m->r[k].uid ||
			    (m->r[k - 1].uid == m->r[k].uid &&
			    l->f[i].error == NULL))
				abort();
		for (k = 0; k < m->nv; k++)
			if (m->v[k].lo == 0 || m->v[k].lo > m->v[k].hi ||
			    (k > 0 && (uint64_t)m->v[k - 1].hi + 1 >=
			    m->v[k].lo))
				abort();
		return;
	}
	if (m->nl != l->f[i].nmsgs || m->nr != 0 || m->nv != 0)
		abort();
	for (k = 0; k < m->nl; k++) {
		/* known UIDs ascending, then the new ones */
		if (k > 0 && m->l[k].uid != 0 && (m->l[k - 1].uid == 0 ||
		    m->l[k - 1].uid > m->l[k].uid))
			abort();
		if (m->l[k].ref >= m->paths.len ||
		    memchr(m->paths.s + m->l[k].ref, '\0',
		    m->paths.len - m->l[k].ref) == NULL)
			abort();
	}
}

static void
merge(const struct listing_folder *rf, const struct listing_msgs *rm,
    const struct listing_folder *lf, const struct listing_msgs *lm,
    int opt)
{
	static struct plan_result res;
	struct plan_tmsg *t;
	struct plan_folder pf;
	size_t i, nt = 0;
	uint32_t last = 0;
	int uploads = 0;

	/* a status of the local UIDs, each once, with the local flags */
	if ((t = calloc(lm->nl + 1, sizeof(*t))) == NULL)
		return;
	for (i = 0; i < lm->nl && lm->l[i].uid != 0; i++)
		if (nt == 0 || t[nt - 1].uid != lm->l[i].uid) {
			t[nt].uid = lm->l[i].uid;
			t[nt++].flags = lm->l[i].flags;
		}
	memset(&pf, 0, sizeof(pf));
	pf.r = rm->r;
	pf.nr = rm->nr;
	pf.rmode = rf->mode;
	pf.vanished = rm->v;
	pf.nvanished = rm->nv;
	pf.l = lm->l;
	pf.nl = lm->nl;
	pf.lmode = lf->mode;
	pf.t = t;
	pf.nt = nt;
	pf.mapped = plan_flags_parse("DFRSTa", 6);
	pf.local_ro = (opt & 4) != 0;
	pf.remote_ro = (opt & 8) != 0;
	pf.local_deletes = pf.remote_deletes = (opt & 16) == 0;
	if (plan_merge(&pf, &res) == -1) {
		free(t);
		return;
	}
	for (i = 0; i < res.n; i++) {
		const struct plan_action *a = &res.a[i];
		int needr = a->kind == PK_FETCH, needl = a->kind == PK_UPLOAD ||
		    a->kind == PK_FLAGS_LOCAL || a->kind == PK_DELETE_LOCAL;

		if (a->ri >= (long)pf.nr || a->li >= (long)pf.nl ||
		    (needr && a->ri < 0) || (needl && a->li < 0))
			abort();
		if ((a->kind == PK_FETCH || a->kind == PK_FLAGS_LOCAL ||
		    a->kind == PK_DELETE_LOCAL) && pf.local_ro)
			abort();
		if ((a->kind == PK_UPLOAD || a->kind == PK_FLAGS_REMOTE ||
		    a->kind == PK_DELETE_REMOTE) && pf.remote_ro)
			abort();
		/* by UID, then the new local messages */
		if (a->kind == PK_UPLOAD && a->uid == 0)
			uploads = 1;
		else if (uploads || a->uid < last)
			abort();
		else
			last = a->uid;
	}
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct listing_msgs rm, lm;
	static char label[] = "$Label1";
	struct maildir_kwmap kw;
	struct listing rl, ll;
	struct pipe_like rc, lc;
	const uint8_t *rp, *lp, *sep;
	size_t rn, ln, i, j;
	FILE *rfp = NULL, *lfp = NULL;
	int opt;

	if (size == 0)
		return 0;
	opt = data[0];
	rp = lp = data + 1;
	rn = ln = size - 1;
	if ((sep = memmem(rp, rn, "\n%%\n", 4)) != NULL) {
		rn = (size_t)(sep - rp) + 1;
		lp = sep + 4;
		ln = size - 1 - rn - 3;
	}
	memset(&kw, 0, sizeof(kw));
	kw.kw[0] = label;
	memset(&rl, 0, sizeof(rl));
	memset(&ll, 0, sizeof(ll));
	if ((rfp = stream(rp, rn, opt & 1, &rc)) == NULL ||
	    (lfp = stream(lp, ln, opt & 2, &lc)) == NULL)
		goto done;
	/* a failure always says why */
	if (listing_read(&rl, rfp, "remote", LISTING_REMOTE, &kw) == -1) {
		if (strcmp(listing_error(&rl), "unknown error") == 0)
			abort();
		goto done;
	}
	if (listing_read(&ll, lfp, "local", LISTING_LOCAL, NULL) == -1) {
		if (strcmp(listing_error(&ll), "unknown error") == 0)
			abort();
		goto done;
	}
	for (j = 0; j < ll.n; j++)
		load(&ll, j, &lm);
	for (i = 0; i < rl.n; i++) {
		load(&rl, i, &rm);
		if (rl.f[i].error != NULL)
			continue;
		for (j = 0; j < ll.n; j++)
			if (ll.f[j].error == NULL &&
			    strcmp(ll.f[j].local, rl.f[i].name) == 0)
				break;
		if (j == ll.n)
			continue;
		load(&ll, j, &lm);
		merge(&rl.f[i], &rm, &ll.f[j], &lm, opt);
	}
done:
	listing_free(&rl);
	listing_free(&ll);
	if (rfp != NULL)
		fclose(rfp);
	if (lfp != NULL)
		fclose(lfp);
	return 0;
}
