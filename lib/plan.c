/*
 * plan.c - the three-way merge of one folder (see plan.h and sync-plan(1)).
 *
 * Per flag, the merge is OfflineIMAP's two flag passes folded into one:
 * the remote pass runs first and the local pass then compares against the
 * status it left, so a flag takes R's value where R changed it since T,
 * else L's.  A flag with no IMAP meaning is the local side's alone: the
 * remote is taken to hold what the status holds.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static const char letters[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

plan_flags
plan_flag(int c)
{
	if (c >= '0' && c <= '9')
		return (plan_flags)1 << (c - '0');
	if (c >= 'A' && c <= 'Z')
		return (plan_flags)1 << (c - 'A' + 10);
	if (c == '_')
		return (plan_flags)1 << 36;
	if (c >= 'a' && c <= 'z')
		return (plan_flags)1 << (c - 'a' + 37);
	return 0;
}

plan_flags
plan_flags_parse(const char *s, size_t n)
{
	plan_flags f = 0;
	size_t i;

	for (i = 0; i < n; i++)
		f |= plan_flag((unsigned char)s[i]);
	return f;
}

char *
plan_flags_str(plan_flags f, char *buf)
{
	size_t i, k = 0;

	for (i = 0; i < sizeof(letters) - 1; i++)
		if (f & ((plan_flags)1 << i))
			buf[k++] = letters[i];
	buf[k] = '\0';
	return buf;
}

const char *
plan_kind_name(enum plan_kind k)
{
	static const char *names[PK_NKINDS] = {
		"fetch", "upload", "flags-local", "flags-remote",
		"delete-local", "delete-remote", "status", "forget", "skip"
	};

	return (unsigned)k < PK_NKINDS ? names[k] : "?";
}

void
plan_result_reset(struct plan_result *res)
{
	res->n = 0;
	memset(res->count, 0, sizeof(res->count));
	res->lowest = 0;
}

void
plan_result_free(struct plan_result *res)
{
	free(res->a);
	memset(res, 0, sizeof(*res));
}

static int
add(struct plan_result *res, enum plan_kind kind, uint32_t uid,
    plan_flags from, plan_flags to, long ri, long li)
{
	struct plan_action *a;

	if (res->n == res->cap) {
		size_t cap = res->cap ? res->cap * 2 : 64;

		if ((a = reallocarray(res->a, cap, sizeof(*a))) == NULL)
			return -1;
		res->a = a;
		res->cap = cap;
	}
	a = &res->a[res->n++];
	a->kind = kind;
	a->uid = uid;
	a->why = 0;
	a->from = from;
	a->to = to;
	a->ri = ri;
	a->li = li;
	res->count[kind]++;
	return 0;
}

static int
skip(struct plan_result *res, uint32_t uid, int why)
{
	if (add(res, PK_SKIP, uid, 0, 0, -1, -1) == -1)
		return -1;
	res->a[res->n - 1].why = why;
	return 0;
}

/* Both sides hold the message: merge the flags. */
static int
merge_flags(const struct plan_folder *pf, struct plan_result *res,
    uint32_t uid, plan_flags r, plan_flags t, plan_flags l, long ri, long li)
{
	plan_flags m = pf->mapped, reff, result, newl, newr, newt;

	reff = (r & m) | (t & ~m);
	/* R's value where R changed since T, else L's */
	result = (reff & (reff ^ t)) | (l & ~(reff ^ t));
	newl = pf->local_ro ? l : result;
	newr = pf->remote_ro ? reff : result;
	/* the status records what both sides agree on; where a readonly
	 * side keeps them apart it keeps its old value, so that the next
	 * plan sees the same difference */
	newt = (((newl & newr) | (t & (newl ^ newr))) & m) | (newl & ~m);
	if (newl != l && add(res, PK_FLAGS_LOCAL, uid, l, newl, ri, li) == -1)
		return -1;
	if ((newr & m) != (r & m) && add(res, PK_FLAGS_REMOTE, uid, r & m,
	    newr & m, ri, li) == -1)
		return -1;
	if (newt != t && add(res, PK_STATUS, uid, t, newt, ri, li) == -1)
		return -1;
	return 0;
}

static int
vanished(const struct plan_folder *pf, size_t *vi, uint32_t uid)
{
	while (*vi < pf->nvanished && pf->vanished[*vi].hi < uid)
		(*vi)++;
	return *vi < pf->nvanished && pf->vanished[*vi].lo <= uid;
}

/* Is uid in one of the sorted, disjoint ranges? */
static int
in_ranges(const struct plan_range *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].hi < uid)
			lo = mid + 1;
		else if (v[mid].lo > uid)
			hi = mid;
		else
			return 1;
	}
	return 0;
}

size_t
plan_remote_count(const struct plan_folder *pf)
{
	size_t i = 0, j = 0, n = 0;
	uint32_t u;

	while (i < pf->nt || j < pf->nr) {
		if (j == pf->nr || (i < pf->nt && pf->t[i].uid < pf->r[j].uid))
			u = pf->t[i++].uid;
		else if (i == pf->nt || pf->r[j].uid < pf->t[i].uid)
			u = pf->r[j++].uid;
		else {
			u = pf->r[j++].uid;
			i++;
		}
		if (!in_ranges(pf->vanished, pf->nvanished, u))
			n++;
	}
	return n;
}

int
plan_merge(const struct plan_folder *pf, struct plan_result *res)
{
	size_t ir = 0, il = 0, it = 0, vi = 0, nlu;
	uint64_t lowest = 0;

	plan_result_reset(res);
	for (nlu = 0; nlu < pf->nl && pf->l[nlu].uid != 0; nlu++)
		;
	/* OfflineIMAP's window: only UIDs from the lowest one the remote
	 * listed (else the lowest local one) are seen at all */
	if (pf->rmode == PLAN_WINDOW) {
		if (pf->nr > 0)
			lowest = pf->r[0].uid;
		else if (nlu > 0)
			lowest = pf->l[0].uid;
		else
			lowest = (uint64_t)UINT32_MAX + 1;
		res->lowest = lowest > UINT32_MAX ? UINT32_MAX : (uint32_t)lowest;
	}

	for (;;) {
		uint64_t u = (uint64_t)UINT32_MAX + 1;
		const struct plan_rmsg *r = NULL;
		const struct plan_tmsg *t = NULL;
		const struct plan_lmsg *l = NULL;
		long ri = -1, li = -1;
		struct plan_rmsg same = { 0, 0, 0, 0 };
		size_t ndup = 0;
		uint32_t uid;
		int rknown, lknown;

		if (ir < pf->nr && pf->r[ir].uid < u)
			u = pf->r[ir].uid;
		if (il < nlu && pf->l[il].uid < u)
			u = pf->l[il].uid;
		if (it < pf->nt && pf->t[it].uid < u)
			u = pf->t[it].uid;
		if (u > UINT32_MAX)
			break;
		uid = (uint32_t)u;
		if (ir < pf->nr && pf->r[ir].uid == uid) {
			r = &pf->r[ir];
			ri = (long)ir++;
		}
		while (il < nlu && pf->l[il].uid == uid) {
			if (l == NULL) {
				l = &pf->l[il];
				li = (long)il;
			}
			ndup++;
			il++;
		}
		if (it < pf->nt && pf->t[it].uid == uid)
			t = &pf->t[it++];
		if (u < lowest)
			continue;		/* outside the window: unseen */
		if (ndup > 1) {
			if (skip(res, uid, PS_DUPLICATE) == -1)
				return -1;
			continue;
		}

		/* what a missing message means depends on the listing */
		rknown = r != NULL || pf->rmode == PLAN_FULL;
		if (r == NULL && pf->rmode == PLAN_CHANGED) {
			if (vanished(pf, &vi, uid))
				rknown = 1;
			else if (t != NULL) {
				/* not listed, not vanished: unchanged */
				same.uid = uid;
				same.flags = t->flags;
				r = &same;
				rknown = 1;
			}
		}
		lknown = l != NULL || pf->lmode == PLAN_FULL;
		if (!rknown) {
			/* in a window or incremental listing, absent is
			 * not gone: a UID of ours may still be there */
			if (t == NULL && skip(res, uid, PS_UNKNOWN_REMOTE) == -1)
				return -1;
			continue;
		}
		if (!lknown) {
			if (r != NULL && t == NULL && !pf->local_ro &&
			    add(res, PK_FETCH, uid, 0, r->flags, ri, -1) == -1)
				return -1;
			continue;
		}

		if (r && t && l) {
			if (merge_flags(pf, res, uid, r->flags, t->flags,
			    l->flags, ri, li) == -1)
				return -1;
		} else if (r && t) {
			/* deleted locally */
			if (pf->local_deletes && !pf->remote_ro &&
			    add(res, PK_DELETE_REMOTE, uid, r->flags, 0, ri,
			    -1) == -1)
				return -1;
		} else if (t && l) {
			/* deleted on the remote */
			if (pf->remote_deletes && !pf->local_ro &&
			    add(res, PK_DELETE_LOCAL, uid, l->flags, 0, -1,
			    li) == -1)
				return -1;
		} else if (t) {
			if (add(res, PK_FORGET, uid, t->flags, 0, -1, -1) == -1)
				return -1;
		} else if (r && l) {
			/* a lost status: R's flags, then the local ones win */
			plan_flags m = pf->mapped;

			if (pf->local_ro && pf->remote_ro)
				continue;
			if (!pf->local_ro && !pf->remote_ro &&
			    (l->flags & m) != (r->flags & m) &&
			    add(res, PK_FLAGS_REMOTE, uid, r->flags & m,
			    l->flags & m, ri, li) == -1)
				return -1;
			if (add(res, PK_STATUS, uid, PLAN_ABSENT, pf->remote_ro ?
			    r->flags : l->flags, ri, li) == -1)
				return -1;
		} else if (r) {
			if (!pf->local_ro && add(res, PK_FETCH, uid, 0,
			    r->flags, ri, -1) == -1)
				return -1;
		} else if (l) {
			/* a UID of ours the remote does not know: new again */
			if (!pf->remote_ro && add(res, PK_UPLOAD, uid, 0,
			    l->flags, -1, li) == -1)
				return -1;
		}
	}
	for (il = nlu; il < pf->nl; il++)
		if (!pf->remote_ro && add(res, PK_UPLOAD, 0, 0, pf->l[il].flags,
		    -1, (long)il) == -1)
			return -1;
	return 0;
}
