/*
 * sync-plan - the three-way merge as a plan a person can read: from the
 * remote records (imap-list -m), the local records (maildir-scan -m) and
 * the status databases (read only), print one action per line for
 * sync-apply.  No network, no writes.  It refuses to plan harm: a changed
 * UIDVALIDITY, an empty or missing local folder against a full status, a
 * mass deletion, an incomplete listing.  The listings are read a folder at
 * a time (lib/listing.c): memory holds the folders and one folder's
 * messages.
 */
#include <sys/stat.h>

#include <err.h>
#include <stdarg.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "listing.h"
#include "maildir.h"
#include "plan.h"
#include "record.h"
#include "run.h"
#include "status.h"
#include "util.h"

/* A remote folder of the listing, and what sync-plan makes of it. */
struct rfolder {
	const struct listing_folder *in;	/* its listing: name, error... */
	size_t		 idx;		/* in the remote listing */
	char		*visible;	/* after the remote nametrans */
	char		*lname;		/* the local folder it pairs with */
	char		 fmd5[MD_FMD5_LEN + 1];	/* of lname, if created */
	size_t		 pair;		/* 1 + its local folder's index */
	int		 sync;
};

struct lfolder {
	const struct listing_folder *in;
	size_t		 idx;
	int		 paired, sync;
};

static struct rec_writer out;
static struct listing rlist, llist;
static struct listing_msgs rmsgs, lmsgs;	/* one folder's */
static struct rfolder *rf;
static size_t nrf;
static struct lfolder *lf;
static size_t nlf;
static struct maildir_kwmap kwmap;
static int status = EXIT_OK;
static int relist;		/* a folder is to be listed whole */
static int Tflag;		/* -T: folders unchanged on both sides ... */
static struct timespec tstamp;	/* ... since this time are skipped */
static int qflag, Dflag;
static long long share = 50, minsize = 20;
static size_t totals[PK_NKINDS];

static struct {
	char	*metadata, *account, *pyfile, *localroot;
	char	*lrepo, *rrepo;
	char	 sep;
	int	 lro, rro, lcreate, rcreate, ldeletes, rdeletes;
	char	*rnametrans, *lnametrans, *rfilter, *lfilter, *rincludes;
} cf;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sync-plan [-Dq] -a account [-c file] "
	    "[-f folders] [-k [section:]option=value]\n"
	    "                 [-N count] [-P percent] [-T stamp] remote local\n");
	exit(EXIT_FAIL);
}

static void
grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 1024;
	*p = xreallocarray(*p, *cap, size);
}

/* ---- configuration ---- */

static void
cfg_str(struct config *c, const char *sect, const char *key, char **v,
    int typed)
{
	int rv = typed ? config_value(c, sect, key, v) :
	    config_get(c, sect, key, v);

	if (rv == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(c));
	if (rv == 0)
		*v = NULL;
}

static void
cfg_bool(struct config *c, const char *sect, const char *key, int *v)
{
	if (config_bool(c, sect, key, v) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(c));
}

static void
load_config(const char *path, char **kopts, size_t nk)
{
	struct config *c;
	char *sect, *e, *sep = NULL;

	if ((c = config_load(path, kopts, nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (asprintf(&sect, "Account %s", cf.account) == -1)
		err(EXIT_FAIL, "asprintf");
	if (!config_has_section(c, sect))
		errx(EXIT_FAIL, "no [%s] section in the configuration", sect);
	cfg_str(c, sect, "localrepository", &cf.lrepo, 1);
	cfg_str(c, sect, "remoterepository", &cf.rrepo, 1);
	if (cf.lrepo == NULL || cf.rrepo == NULL)
		errx(EXIT_FAIL, "[%s] needs localrepository and "
		    "remoterepository", sect);
	free(sect);
	cfg_str(c, "general", "metadata", &cf.metadata, 1);
	cfg_str(c, "general", "pythonfile", &cf.pyfile, 1);

	if (asprintf(&sect, "Repository %s", cf.lrepo) == -1)
		err(EXIT_FAIL, "asprintf");
	if (!config_has_section(c, sect))
		errx(EXIT_FAIL, "no [%s] section in the configuration", sect);
	cfg_str(c, sect, "localfolders", &cf.localroot, 1);
	cfg_str(c, sect, "sep", &sep, 1);
	cf.sep = '.';
	if (sep != NULL) {
		if (strlen(sep) != 1 || (unsigned char)sep[0] < 0x20)
			errx(EXIT_FAIL, "sep \"%s\": want one character", sep);
		cf.sep = sep[0];
		free(sep);
	}
	cfg_bool(c, sect, "readonly", &cf.lro);
	cfg_bool(c, sect, "createfolders", &cf.lcreate);
	cfg_bool(c, sect, "sync_deletes", &cf.ldeletes);
	cfg_str(c, sect, "nametrans", &cf.lnametrans, 0);
	cfg_str(c, sect, "folderfilter", &cf.lfilter, 0);
	if (maildir_kwmap_load(&kwmap, c, sect, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	free(sect);

	if (asprintf(&sect, "Repository %s", cf.rrepo) == -1)
		err(EXIT_FAIL, "asprintf");
	if (!config_has_section(c, sect))
		errx(EXIT_FAIL, "no [%s] section in the configuration", sect);
	cfg_bool(c, sect, "readonly", &cf.rro);
	cfg_bool(c, sect, "createfolders", &cf.rcreate);
	cfg_bool(c, sect, "sync_deletes", &cf.rdeletes);
	cfg_str(c, sect, "nametrans", &cf.rnametrans, 0);
	cfg_str(c, sect, "folderfilter", &cf.rfilter, 0);
	cfg_str(c, sect, "folderincludes", &cf.rincludes, 0);
	free(sect);
	config_free(c);
	if (cf.metadata == NULL)
		errx(EXIT_FAIL, "no [general] metadata");
	if (cf.localroot == NULL)
		cf.localroot = xstrdup("(localfolders)");
}

/* The letters customflag_* maps, and the system ones. */
static plan_flags
mapped_letters(void)
{
	plan_flags m = plan_flags_parse("DFRST", 5);
	int c;

	for (c = 0; c < 26; c++)
		if (kwmap.kw[c] != NULL)
			m |= plan_flag('a' + c);
	return m;
}

/* ---- names ---- */

static char *
swap_char(const char *s, char from, char to)
{
	char *r = xstrdup(s), *p;

	for (p = r; *p && from != to; p++)
		if (*p == from)
			*p = to;
	return r;
}

/* A delimiter as imap-list gives it: one character, or none. */
static char *
swap_sep(const char *s, const char *from, char to)
{
	if (from[0] == '\0' || from[1] != '\0')
		return xstrdup(s);
	return swap_char(s, from[0], to);
}

static char **
pymap(const char *expr, const char *what, char **names, size_t n)
{
	char **res, *e;

	if (run_python_map(expr, cf.pyfile, what, names, n, &res, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	return res;
}

/* A folderfilter over names: 1 keep, 0 drop, as bool() says. */
static int *
pyfilter(const char *expr, const char *what, char **names, size_t n)
{
	char *wrapped, **res;
	int *keep = xcalloc(n ? n : 1, sizeof(*keep));
	size_t i;

	if (expr == NULL || n == 0) {
		for (i = 0; i < n; i++)
			keep[i] = 1;
		return keep;
	}
	if (asprintf(&wrapped, "(lambda _f: (lambda _n: bool(_f(_n))))(%s)",
	    expr) == -1)
		err(EXIT_FAIL, "asprintf");
	res = pymap(wrapped, what, names, n);
	for (i = 0; i < n; i++)
		keep[i] = strcmp(res[i], "True") == 0;
	run_free_list(res, n);
	free(wrapped);
	return keep;
}

static char **
split_list(const char *s, size_t *n)
{
	char **v = NULL;

	*n = 0;
	while (*s) {
		size_t w = strcspn(s, "\n");

		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[*n] = xstrdup(s);
		v[(*n)++][w] = '\0';
		s += w;
		if (*s)
			s++;
	}
	return v;
}

/* ---- output ---- */

static void
put_refuse(const char *code, const char *why, const char *name)
{
	warnx("folder \"%s\": %s", name, why);
	rec_puts(&out, "refuse");
	rec_puts(&out, code);
	rec_puts(&out, why);
	rec_puts(&out, name);
	rec_end(&out);
	status = EXIT_FAIL;
}

static void
refusef(const char *code, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refusef(const char *code, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		err(EXIT_FAIL, "vasprintf");
	va_end(ap);
	put_refuse(code, s, name);
	free(s);
}

static void
put_flags(plan_flags f)
{
	char buf[PLAN_FLAGS_MAX];

	rec_puts(&out, plan_flags_str(f, buf));
}

/* A name in a "#" comment, quoted as in a record when it needs to be
 * (a control character, a leading quote): a folder name from the server
 * or from a directory must not end the comment and start a record of
 * its own.  Two at a time. */
static const char *
cname(const char *name)
{
	static struct sb b[2];
	static int k;
	struct sb *p;
	size_t n = strlen(name);

	if (!rec_needs_quote(name, n, 0))
		return name;
	p = &b[k ^= 1];
	sb_reset(p);
	if (rec_quote(p, name, n, 0) == -1)
		err(EXIT_FAIL, "out of memory");
	return p->s;
}

static void
put_counts(const char *what, const size_t *count)
{
	int k, any = 0;

	printf("# %s:", cname(what));
	for (k = 0; k < PK_NKINDS; k++)
		if (count[k]) {
			printf("%s %zu %s", any ? "," : "", count[k],
			    plan_kind_name((enum plan_kind)k));
			any = 1;
		}
	printf("%s\n", any ? "" : " nothing to do");
}

static void
put_actions(const struct plan_folder *pf, const struct plan_result *res)
{
	size_t i;

	for (i = 0; i < res->n; i++) {
		const struct plan_action *a = &res->a[i];
		const char *path = a->li >= 0 ? lmsgs.paths.s + pf->l[a->li].ref :
		    "";
		unsigned long long modseq = a->ri >= 0 ?
		    pf->r[a->ri].modseq : 0;

		if (a->kind == PK_SKIP) {
			printf("# skip %u: %s\n", a->uid,
			    a->why == PS_DUPLICATE ? "held by several local "
			    "files (see maildir-scan's duplicate record)" :
			    "not in the remote listing, which does not list "
			    "everything; a full listing decides");
			continue;
		}
		totals[a->kind]++;
		rec_puts(&out, plan_kind_name(a->kind));
		if (a->uid)
			rec_putu(&out, a->uid);
		else
			rec_puts(&out, "none");
		switch (a->kind) {
		case PK_FETCH:
			put_flags(a->to);
			rec_putu(&out, pf->r[a->ri].size);
			break;
		case PK_UPLOAD:
			put_flags(a->to);
			rec_puts(&out, path);
			break;
		case PK_FLAGS_LOCAL:
			put_flags(a->from);
			put_flags(a->to);
			rec_puts(&out, path);
			break;
		case PK_FLAGS_REMOTE:
			put_flags(a->from);
			put_flags(a->to);
			rec_putu(&out, modseq);
			break;
		case PK_DELETE_LOCAL:
			put_flags(a->from);
			rec_puts(&out, path);
			break;
		case PK_DELETE_REMOTE:
			put_flags(a->from);
			rec_putu(&out, modseq);
			break;
		case PK_STATUS:
			if (a->from & PLAN_ABSENT)
				rec_puts(&out, "-");
			else
				put_flags(a->from);
			put_flags(a->to);
			break;
		case PK_FORGET:
			put_flags(a->from);
			break;
		default:
			break;
		}
		rec_end(&out);
	}
}

/* ---- one folder ---- */

struct tload {
	struct plan_tmsg	*t;
	size_t			 n, cap;
};

static int
load_row(void *ctx, uint32_t uid, const char *flags, long long mtime,
    const char *labels)
{
	struct tload *tl = ctx;

	(void)mtime;
	(void)labels;
	grow((void **)&tl->t, &tl->cap, tl->n, sizeof(*tl->t));
	tl->t[tl->n].uid = uid;
	tl->t[tl->n].flags = plan_flags_parse(flags, strlen(flags));
	tl->n++;
	return 0;
}

/* Quick mode (OfflineIMAP 4.10): the remote count and the local UIDs and
 * flags all as the status has them. */
static int
quick_unchanged(const struct rfolder *r, const struct plan_folder *pf)
{
	size_t i;

	if (pf->rmode == PLAN_WINDOW || pf->lmode == PLAN_WINDOW)
		return 0;
	if (r->in->exists != pf->nt || pf->nl != pf->nt)
		return 0;
	for (i = 0; i < pf->nt; i++)
		if (pf->l[i].uid != pf->t[i].uid ||
		    pf->l[i].flags != pf->t[i].flags)
			return 0;
	return 1;
}

/* -T: the status written (or changed) no later than the stamp file, the
 * listing state saved after the last complete sync; else another program
 * may have changed it since, and the folder is planned in full. */
static int
status_older(const char *spath)
{
	struct stat st;
	const struct timespec *t[2];
	int i;

	if (stat(spath, &st) == -1)
		return 0;
	t[0] = &st.st_mtim;
	t[1] = &st.st_ctim;
	/* strictly older: one written in the same clock tick may be later */
	for (i = 0; i < 2; i++)
		if (t[i]->tv_sec > tstamp.tv_sec ||
		    (t[i]->tv_sec == tstamp.tv_sec &&
		    t[i]->tv_nsec >= tstamp.tv_nsec))
			return 0;
	return 1;
}

static void
plan_folder(struct rfolder *r, struct lfolder *l, int create)
{
	static struct plan_result res;
	static struct tload tl;
	struct plan_folder pf;
	struct status *st;
	const char *name = r->in->name;
	char *spath, *sname, *e, *lpath;
	uint32_t saved;
	long long dl, dr, lsize, rsize;
	int rv;

	sname = swap_sep(r->visible, r->in->delim, '.');
	if ((spath = status_path(cf.metadata, cf.account, sname)) == NULL)
		err(EXIT_FAIL, "out of memory");
	if (asprintf(&lpath, "%s/%s", cf.localroot, r->lname) == -1)
		err(EXIT_FAIL, "asprintf");
	if (r->in->error != NULL) {
		put_refuse("incomplete", r->in->error, name);
		goto done;
	}
	if (l != NULL && l->in->error != NULL) {
		put_refuse("incomplete", l->in->error, name);
		goto done;
	}
	/* unchanged on the server and in the Maildir since the last
	 * complete sync (the listings' states are saved only after one),
	 * with its status still there: nothing can be to do, and neither
	 * the status nor the messages are read */
	/* (and the saved UIDVALIDITY still the server's: else the full
	 * plan's recovery or refusal) */
	rv = 0;
	e = NULL;
	if (Tflag && r->in->same && l != NULL && l->in->same &&
	    status_older(spath)) {
		rv = validity_read(cf.metadata, cf.rrepo, name, &saved, &e) ==
		    1 && saved == r->in->uidvalidity;
		free(e);
		e = NULL;
	}
	if (rv) {
		printf("# %s: nothing to do (unchanged on both sides since "
		    "the last complete sync)\n", cname(name));
		rec_puts(&out, "folder");
		rec_putu(&out, r->in->uidvalidity);
		rec_puts(&out, l->in->fmd5);
		rec_puts(&out, name);
		rec_puts(&out, r->lname);
		rec_puts(&out, spath);
		rec_end(&out);
		rec_puts(&out, "end");
		rec_puts(&out, name);
		rec_end(&out);
		goto done;
	}
	if (status_open(&st, spath, ST_READONLY, &e) == -1) {
		refusef("status", name, "%s: %s; repair or move it away "
		    "(the folder is then synced as new)", spath,
		    e ? e : "cannot open");
		free(e);
		goto done;
	}
	tl.n = 0;
	if (status_foreach(st, load_row, &tl) == -1) {
		refusef("status", name, "%s: %s", spath, status_error(st));
		status_close(st);
		goto done;
	}
	status_close(st);

	rv = validity_read(cf.metadata, cf.rrepo, name, &saved, &e);
	if (rv == -1) {
		refusef("uidvalidity", name, "%s", e ? e : "out of memory");
		free(e);
		goto done;
	}
	/* both sides empty: the new UIDVALIDITY is simply taken
	 * (OfflineIMAP's rule; sync-apply saves it) */
	if (rv == 1 && saved != r->in->uidvalidity && tl.n == 0 &&
	    (l == NULL || l->in->nmsgs == 0))
		rv = 0;
	if (rv == 1 && saved != r->in->uidvalidity && l != NULL) {
		/* sync-apply matches the messages by Message-ID and size
		 * and renumbers the local side, or changes nothing; the
		 * folder is planned by the next run */
		printf("# %s: UIDVALIDITY %u, saved %u: the server "
		    "renumbered the folder; recovery by Message-ID and size\n",
		    cname(name), r->in->uidvalidity, saved);
		warnx("folder \"%s\": UIDVALIDITY is %u, the saved one is %u: "
		    "planned a recovery that matches the messages by "
		    "Message-ID and size; nothing else in it until then",
		    name, r->in->uidvalidity, saved);
		rec_puts(&out, "revalidate");
		rec_putu(&out, r->in->uidvalidity);
		rec_putu(&out, saved);
		rec_puts(&out, l ? l->in->fmd5 : r->fmd5);
		rec_puts(&out, name);
		rec_puts(&out, r->lname);
		rec_puts(&out, spath);
		rec_end(&out);
		goto done;
	}
	if (rv == 1 && saved != r->in->uidvalidity) {
		refusef("uidvalidity", name, "UIDVALIDITY is %u, the saved "
		    "one (Repository-%s/FolderValidity) is %u: the server "
		    "renumbered the folder, so no UID in %s means what it "
		    "meant; nothing is planned (no deletions, no duplicates). "
		    "Way out: move the local folder %s away, remove %s and the "
		    "FolderValidity file, sync again (everything is fetched "
		    "anew), then compare", r->in->uidvalidity, cf.rrepo,
		    saved, spath, lpath, spath);
		goto done;
	}
	if (l == NULL && tl.n > 0) {
		refusef("missing-local", name, "the local folder %s is "
		    "missing but the status %s holds %zu messages: a moved "
		    "Maildir or a metadata directory of another one; nothing "
		    "is planned.  Way out: fix localfolders, or remove the "
		    "status file to download the folder again", lpath, spath,
		    tl.n);
		goto done;
	}
	if (l == NULL && !create) {
		refusef("missing-local", name, "the local folder %s does "
		    "not exist and the local repository may not create it "
		    "(createfolders or readonly); create it, or filter the "
		    "folder out", lpath);
		goto done;
	}
	if (l != NULL && l->in->nmsgs == 0 && l->in->mode == PLAN_FULL &&
	    tl.n > 0) {
		refusef("empty-local", name, "the local folder %s is empty "
		    "but the status %s holds %zu messages: deleting them all "
		    "on the server is not planned.  Way out: if the mail "
		    "really is to go, delete it on the server; if the Maildir "
		    "was emptied by mistake, remove the status file to "
		    "download it again", lpath, spath, tl.n);
		goto done;
	}

	/* only now the folder's messages, read again from the listings */
	if (listing_load(&rlist, r->idx, &rmsgs) == -1)
		errx(EXIT_FAIL, "%s", listing_error(&rlist));
	if (l != NULL && listing_load(&llist, l->idx, &lmsgs) == -1)
		errx(EXIT_FAIL, "%s", listing_error(&llist));
	memset(&pf, 0, sizeof(pf));
	pf.r = rmsgs.r;
	pf.nr = rmsgs.nr;
	pf.rmode = r->in->mode;
	pf.vanished = rmsgs.v;
	pf.nvanished = rmsgs.nv;
	pf.l = l ? lmsgs.l : NULL;
	pf.nl = l ? lmsgs.nl : 0;
	pf.lmode = l ? l->in->mode : PLAN_FULL;
	pf.t = tl.t;
	pf.nt = tl.n;
	pf.mapped = mapped_letters();
	pf.local_ro = cf.lro;
	pf.remote_ro = cf.rro;
	pf.local_deletes = cf.ldeletes;
	pf.remote_deletes = cf.rdeletes;

	/* an incremental listing says enough only with the status of the
	 * last complete sync: else the folder is to be listed whole */
	if (pf.rmode == PLAN_CHANGED) {
		size_t n = plan_remote_count(&pf);

		if (n != r->in->exists) {
			printf("# %s: relist: the status and the changes "
			    "listed make %zu messages, the server has %u (the "
			    "status changed since the last sync): to be listed "
			    "whole\n", cname(name), n, r->in->exists);
			relist = 1;
			goto done;
		}
	}
	if (qflag && l != NULL && quick_unchanged(r, &pf)) {
		printf("# %s: skipped by -q (the counts and the local flags "
		    "are as the status has them)\n", cname(name));
		goto done;
	}
	if (plan_merge(&pf, &res) == -1)
		err(EXIT_FAIL, "out of memory");

	/* more than a share of a big folder deleted: ask first */
	dl = (long long)res.count[PK_DELETE_LOCAL];
	dr = (long long)res.count[PK_DELETE_REMOTE];
	lsize = (long long)pf.nl;
	rsize = (long long)(r->in->exists > pf.nr ? r->in->exists : pf.nr);
	if (!Dflag && ((lsize > minsize && dl * 100 > lsize * share) ||
	    (rsize > minsize && dr * 100 > rsize * share))) {
		int local = lsize > minsize && dl * 100 > lsize * share;

		refusef("mass-deletion", name, "the plan deletes %lld of "
		    "the %lld messages %s, more than %lld%%; nothing is "
		    "planned.  Way out: check both sides, then run with -D "
		    "(or raise -P or -N)", local ? dl : dr,
		    local ? lsize : rsize, local ? "in the local folder" :
		    "on the server", share);
		goto done;
	}

	if (l == NULL) {
		rec_puts(&out, "create-local");
		rec_puts(&out, name);
		rec_puts(&out, r->lname);
		rec_end(&out);
	}
	put_counts(name, res.count);
	rec_puts(&out, "folder");
	rec_putu(&out, r->in->uidvalidity);
	rec_puts(&out, l ? l->in->fmd5 : r->fmd5);
	rec_puts(&out, name);
	rec_puts(&out, r->lname);
	rec_puts(&out, spath);
	rec_end(&out);
	put_actions(&pf, &res);
	rec_puts(&out, "end");
	rec_puts(&out, name);
	rec_end(&out);
done:
	free(sname);
	free(spath);
	free(lpath);
}

/* ---- the folder structure (OfflineIMAP 4.3) ---- */

static struct rfolder *sorted_base;

static int
rf_order(const void *a, const void *b)
{
	const struct rfolder *x = &sorted_base[*(const size_t *)a];
	const struct rfolder *y = &sorted_base[*(const size_t *)b];
	int c = strcasecmp(x->visible, y->visible);

	return c ? c : strcmp(x->visible, y->visible);
}

static int
in_list(char **list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *cpath = NULL, *fopt = NULL;
	char **names, **vis, **lnames, **incl = NULL, **flist = NULL;
	char delim[2] = ".";
	int *rkeep, *lkeep, ch, nk = 0, rerrors = 0, lerrors = 0;
	size_t i, j, n, nincl = 0, nflist = 0, *order;
	const char *es;

	while ((ch = getopt(argc, argv, "a:c:Df:hk:N:P:qT:")) != -1) {
		switch (ch) {
		case 'a':
			cf.account = optarg;
			break;
		case 'c':
			cpath = optarg;
			break;
		case 'D':
			Dflag = 1;
			break;
		case 'f':
			fopt = optarg;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'N':
			minsize = strtonum(optarg, 0, LLONG_MAX / 200, &es);
			if (es)
				errx(EXIT_FAIL, "-N %s: %s", optarg, es);
			break;
		case 'P':
			share = strtonum(optarg, 0, 100, &es);
			if (es)
				errx(EXIT_FAIL, "-P %s: %s", optarg, es);
			break;
		case 'q':
			qflag = 1;
			break;
		case 'T': {
			struct stat st;

			struct timespec now;

			/* no such file, or one from the future (written
			 * while the clock was ahead): nothing is skipped */
			if (stat(optarg, &st) == 0 &&
			    clock_gettime(CLOCK_REALTIME, &now) == 0 &&
			    st.st_mtim.tv_sec <= now.tv_sec) {
				tstamp = st.st_mtim;
				Tflag = 1;
			}
			break;
		}
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || cf.account == NULL)
		usage();
	if (strcmp(argv[0], "-") == 0 && strcmp(argv[1], "-") == 0)
		errx(EXIT_FAIL, "remote and local cannot both be standard "
		    "input");
	load_config(cpath, kopts, (size_t)nk);
	if (listing_open(&rlist, argv[0], LISTING_REMOTE, &kwmap) == -1)
		errx(EXIT_FAIL, "%s", listing_error(&rlist));
	if (listing_open(&llist, argv[1], LISTING_LOCAL, NULL) == -1)
		errx(EXIT_FAIL, "%s", listing_error(&llist));
	nrf = rlist.n;
	rf = xcalloc(nrf + 1, sizeof(*rf));
	for (i = 0; i < nrf; i++) {
		rf[i].in = &rlist.f[i];
		rf[i].idx = i;
		if (rf[i].in->error)
			rerrors++;
	}
	nlf = llist.n;
	lf = xcalloc(nlf + 1, sizeof(*lf));
	for (i = 0; i < nlf; i++) {
		lf[i].in = &llist.f[i];
		lf[i].idx = i;
		if (lf[i].in->error)
			lerrors++;
	}
	for (i = 0; i < nrf; i++)
		if (rf[i].in->delim[0] != '\0' && rf[i].in->delim[1] == '\0') {
			delim[0] = rf[i].in->delim[0];
			break;
		}

	/* remote names: the listed ones, then the local folders' names as
	 * the server would have them (4.3's loop check) */
	n = nrf + nlf;
	names = xcalloc(n ? n : 1, sizeof(*names));
	for (i = 0; i < nrf; i++)
		names[i] = rf[i].in->name;
	for (i = 0; i < nlf; i++)
		names[nrf + i] = swap_char(lf[i].in->name, cf.sep, delim[0]);
	if (cf.rnametrans != NULL && n > 0)
		vis = pymap(cf.rnametrans, "nametrans", names, n);
	else {
		vis = xcalloc(n ? n : 1, sizeof(*vis));
		for (i = 0; i < n; i++)
			vis[i] = xstrdup(names[i]);
	}
	if (fopt != NULL) {
		/* -f replaces the remote folderfilter and folderincludes */
		char *p, *dup = xstrdup(fopt), *save = NULL;

		for (p = strtok_r(dup, ",", &save); p;
		    p = strtok_r(NULL, ",", &save)) {
			flist = xreallocarray(flist, nflist + 1,
			    sizeof(*flist));
			flist[nflist++] = xstrdup(p);
		}
		free(dup);
		rkeep = xcalloc(n ? n : 1, sizeof(*rkeep));
		for (i = 0; i < n; i++)
			rkeep[i] = in_list(flist, nflist, names[i]);
	} else {
		rkeep = pyfilter(cf.rfilter, "folderfilter", names, n);
		if (cf.rincludes != NULL && strcmp(cf.rincludes, "[]") != 0) {
			char *expr, **res, *empty = "";

			if (asprintf(&expr, "lambda _x: '\\n'.join(map(str, "
			    "(%s)))", cf.rincludes) == -1)
				err(EXIT_FAIL, "asprintf");
			res = pymap(expr, "folderincludes", &empty, 1);
			incl = split_list(res[0], &nincl);
			run_free_list(res, 1);
			free(expr);
			for (i = 0; i < n; i++)
				if (in_list(incl, nincl, names[i]))
					rkeep[i] = 1;
		}
	}
	for (i = 0; i < nrf; i++) {
		rf[i].visible = xstrdup(vis[i]);
		rf[i].lname = swap_sep(rf[i].visible, rf[i].in->delim, cf.sep);
		rf[i].sync = rkeep[i];
	}

	/* the local folderfilter sees local names: the existing folders',
	 * and those the remote folders would have */
	lnames = xcalloc(nlf + nrf + 1, sizeof(*lnames));
	for (i = 0; i < nlf; i++)
		lnames[i] = lf[i].in->local;
	for (i = 0; i < nrf; i++)
		lnames[nlf + i] = rf[i].lname;
	lkeep = pyfilter(cf.lfilter, "folderfilter", lnames, nlf + nrf);
	for (i = 0; i < nlf; i++)
		lf[i].sync = lkeep[i];
	for (i = 0; i < nrf; i++)
		if (!lkeep[nlf + i])
			rf[i].sync = 0;

	/* pair, and name the local folders still to be made */
	{
		char **want = xcalloc(nrf + 1, sizeof(*want)), **wvis;
		size_t nw = 0;

		for (i = 0; i < nrf; i++) {
			for (j = 0; j < nlf; j++)
				if (lf[j].in->error == NULL &&
				    strcmp(lf[j].in->local, rf[i].lname) == 0)
					break;
			if (j < nlf) {
				lf[j].paired = 1;
				rf[i].pair = j + 1;
			} else {
				rf[i].pair = 0;
				if (rf[i].sync)
					want[nw++] = rf[i].lname;
			}
		}
		if (cf.lnametrans != NULL && nw > 0)
			wvis = pymap(cf.lnametrans, "nametrans", want, nw);
		else {
			wvis = xcalloc(nw + 1, sizeof(*wvis));
			for (i = 0; i < nw; i++)
				wvis[i] = xstrdup(want[i]);
		}
		for (i = j = 0; i < nrf; i++) {
			const char *v;

			if (rf[i].pair || !rf[i].sync)
				continue;
			v = wvis[j++];
			if (v[0] == cf.sep && v[1] == '\0')
				v = "";
			maildir_fmd5(v, strlen(v), rf[i].fmd5);
		}
		run_free_list(wvis, nw);
		free(want);
	}

	static char obuf[65536];

	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	rec_writer_init(&out, stdout, 0);
	rec_header(&out, "sync-plan", 1, 0);
	rec_puts(&out, "account");
	rec_puts(&out, cf.account);
	rec_end(&out);

	order = xcalloc(nrf + 1, sizeof(*order));
	for (i = 0; i < nrf; i++)
		order[i] = i;
	sorted_base = rf;
	if (nrf > 1)
		qsort(order, nrf, sizeof(*order), rf_order);
	for (i = 0; i < nrf; i++) {
		struct rfolder *r = &rf[order[i]];
		struct lfolder *l = r->pair ? &lf[r->pair - 1] : NULL;

		if (!r->sync)
			continue;
		if (r->in->delim[0] != '\0' && r->in->delim[0] != cf.sep &&
		    strchr(r->visible, cf.sep) != NULL) {
			printf("# %s: skipped: its name holds the local "
			    "separator '%c'\n", cname(r->in->name), cf.sep);
			continue;
		}
		if (l == NULL && lerrors > 0) {
			refusef("incomplete", r->in->name, "no local listing of "
			    "%s/%s, and the local listing has errors: the "
			    "folder is not planned", cf.localroot, r->lname);
			continue;
		}
		plan_folder(r, l, cf.lcreate && !cf.lro);
	}

	/* local folders the server does not have */
	for (i = 0; i < nlf; i++) {
		const char *cand = names[nrf + i], *back;
		char *b;

		if (lf[i].in->error || lf[i].paired || !lf[i].sync)
			continue;
		for (j = 0; j < nrf; j++)
			if (strcmp(rf[j].in->name, cand) == 0)
				break;
		if (j < nrf)
			continue;
		if (!rkeep[nrf + i])
			continue;
		if (rerrors > 0) {
			printf("# local folder %s: not on the server's list, "
			    "which has errors: not created\n",
			    cname(lf[i].in->local));
			continue;
		}
		back = vis[nrf + i];
		b = swap_char(back, delim[0], cf.sep);
		if (strcmp(b, lf[i].in->local) != 0) {
			refusef("infinite-folder-creation", lf[i].in->local,
			    "INFINITE FOLDER CREATION DETECTED! Folder '%s' "
			    "(repository '%s') would be created as folder "
			    "'%s' (repository '%s'). The latter becomes '%s' "
			    "in return, leading to infinite folder creation "
			    "cycles. SOLUTION: 1) Do set your nametrans rules "
			    "on both repositories so they lead to identical "
			    "names if applied back and forth. 2) Or use "
			    "folderfilter settings on a repository to prevent "
			    "some folders from being created on the other "
			    "side.", lf[i].in->local, cf.lrepo, cand, cf.rrepo, b);
			free(b);
			continue;
		}
		free(b);
		if (!cf.rcreate || cf.rro) {
			printf("# local folder %s: not on the server; not "
			    "created (createfolders or readonly)\n",
			    cname(lf[i].in->local));
			continue;
		}
		printf("# %s: create on the server; its messages are planned "
		    "after the next listing\n", cname(cand));
		rec_puts(&out, "create-remote");
		rec_puts(&out, lf[i].in->local);
		rec_puts(&out, cand);
		rec_end(&out);
	}
	put_counts("total", totals);

	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	for (i = 0; i < nrf; i++) {
		free(rf[i].visible);
		free(rf[i].lname);
	}
	for (i = 0; i < nlf; i++)
		free(names[nrf + i]);
	free(rf);
	free(lf);
	free(names);
	run_free_list(vis, n);
	run_free_list(incl, nincl);
	run_free_list(flist, nflist);
	free(rkeep);
	free(lkeep);
	free(lnames);
	free(order);
	listing_msgs_free(&rmsgs);
	listing_msgs_free(&lmsgs);
	listing_free(&rlist);
	listing_free(&llist);
	maildir_kwmap_free(&kwmap);
	free(kopts);
	if (status == EXIT_OK && relist)
		status = EXIT_RETRY;
	return status;
}
