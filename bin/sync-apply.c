/*
 * sync-apply - carry out a sync plan (sync-plan(1)) on both sides of an
 * account and record each completed action in the status databases, in
 * an order that no crash can turn into a lost or doubled message:
 *
 *   downloads	tmp/, durable, renamed in, then the status row;
 *   uploads	an intent row (the server's UIDNEXT, the size and
 *		Message-ID) committed first, APPEND, the local file renamed
 *		to carry its UID (directory fsynced), then the status row
 *		and the intent removed: a rerun finds an upload the crash
 *		left unrecorded instead of sending it twice;
 *   flags	UID STORE per identical change, UNCHANGEDSINCE where the
 *		server has CONDSTORE; local renames; then the status;
 *   deletions	\Deleted then UID EXPUNGE of exactly those UIDs; unlink;
 *		then the status row removed.
 *
 * Every action checks that the world is still what the plan expected.
 */
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fetch.h"
#include "imap.h"
#include "maildir.h"
#include "message.h"
#include "mutf7.h"
#include "record.h"
#include "remote.h"
#include "status.h"
#include "util.h"

enum akind {
	A_FETCH, A_UPLOAD, A_FLAGS_LOCAL, A_FLAGS_REMOTE, A_DELETE_LOCAL,
	A_DELETE_REMOTE, A_STATUS, A_FORGET
};
static const char *const kindname[] = {
	"fetch", "upload", "flags-local", "flags-remote", "delete-local",
	"delete-remote", "status", "forget"
};

enum astate { AS_PENDING, AS_DONE, AS_SKIPPED, AS_FAILED };

struct act {
	enum akind	 kind;
	uint32_t	 uid;		/* 0: a new local message */
	char		*from, *to;	/* Maildir letters; NULL: "-" */
	char		*path;		/* relative to the folder */
	uint64_t	 modseq;
	enum astate	 state;
	unsigned long	 line;
};

struct folder {
	uint32_t	 uidvalidity;
	char		 fmd5[MD_FMD5_LEN + 1];
	char		*remote, *local, *spath;
	struct act	*a;
	size_t		 n, cap;
	/* while it is applied */
	char		*dir;
	struct status	*st;
	uint32_t	 sel_uidvalidity, sel_uidnext;
	size_t		 ndone, nskipped, nfailed;
};

static struct rec_writer out;
static struct config *cfg;
static struct remote rem;
static struct imap *im;
static struct maildir_kwmap kw;
static struct maildir_opts mopts;
static char *account, *root, *metadata, *rrepo;
static char sep = '.';
static int trace, dry, doexpunge = 1, status = EXIT_OK, lost_conn;
static unsigned long steps, stop_at;
static volatile sig_atomic_t stopping;	/* TERM, INT, HUP: after this folder */

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* What untagged responses tell while a command runs. */
static struct folder *selecting;
/*
 * The folder applied after this one (read ahead in the plan), and the one
 * whose SELECT went out early: sent once the folder before it has sent its
 * last command, it overlaps that folder's last round trip.  Nothing is
 * sent to it before its SELECT is answered and its UIDVALIDITY checked.
 */
static struct folder *upcoming, *presel;
static uint32_t presel_tag;
static uint32_t *found;		/* SEARCH results, or FETCH candidates */
static size_t nfound, capfound;
static int collecting;		/* 1 SEARCH, 2 FETCH size and date */
static uint64_t want_size;
static long long want_date;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sync-apply [-dnpz] -a account [-c file] "
	    "[-k [section:]option=value] [plan]\n");
	exit(EXIT_FAIL);
}

/*
 * Test hook: OI_TEST_APPLY_STOP=N kills the process (SIGKILL, nothing
 * flushed or cleaned up) after its Nth durable step, so that tests can
 * crash a sync at every point of it.
 */
static void
step(void)
{
	if (stop_at && ++steps >= stop_at) {
		fflush(stdout);
		kill(getpid(), SIGKILL);
	}
}

static void
outcome(struct folder *f, struct act *a, enum astate st, const char *detail)
{
	static const char *const word[] = { "pending", "done", "skipped",
	    "failed" };

	a->state = st;
	if (st == AS_DONE)
		f->ndone++;
	else if (st == AS_SKIPPED)
		f->nskipped++;
	else if (st == AS_FAILED) {
		f->nfailed++;
		status = EXIT_FAIL;
	}
	rec_puts(&out, dry ? "would" : word[st]);
	rec_puts(&out, kindname[a->kind]);
	if (a->uid)
		rec_putu(&out, a->uid);
	else
		rec_puts(&out, "none");
	rec_puts(&out, detail ? detail : "");
	rec_end(&out);
}

static void
outcomef(struct folder *f, struct act *a, enum astate st, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
static void
outcomef(struct folder *f, struct act *a, enum astate st, const char *fmt,
    ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		err(EXIT_FAIL, "vasprintf");
	va_end(ap);
	outcome(f, a, st, s);
	free(s);
}

/* Every pending action of the folder (of one kind, or all: -1). */
static void
settle(struct folder *f, int kind, enum astate st, const char *why)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->a[i].state == AS_PENDING && (kind == -1 ||
		    f->a[i].kind == (enum akind)kind))
			outcome(f, &f->a[i], st, why);
}

static void
folder_error(const char *why, const char *name)
{
	rec_puts(&out, "error");
	rec_puts(&out, why);
	rec_puts(&out, name);
	rec_end(&out);
	status = EXIT_FAIL;
}

static void
db_check(struct folder *f, int rv)
{
	if (rv == -1)
		errx(EXIT_FAIL, "%s: %s", f->spath, status_error(f->st));
}

static void
commit(struct folder *f)
{
	db_check(f, status_commit(f->st));
	step();
	db_check(f, status_begin(f->st));
}

/* ---- the connection ---- */

static int
on_untagged(void *ctx, struct imap *c, const struct iresp *r)
{
	const struct ival *v;
	uint32_t u;
	size_t i;

	(void)ctx;
	(void)c;
	if (selecting && r->status != IS_NONE && r->code && r->code_args.n) {
		if (strcmp(r->code, "UIDVALIDITY") == 0)
			ival_u32(&r->code_args.items[0],
			    &selecting->sel_uidvalidity);
		else if (strcmp(r->code, "UIDNEXT") == 0)
			ival_u32(&r->code_args.items[0],
			    &selecting->sel_uidnext);
	}
	if (r->name == NULL || !collecting)
		return 0;
	if (collecting == 1 && strcmp(r->name, "SEARCH") == 0) {
		for (i = 0; i < r->args.n; i++)
			if (ival_u32(&r->args.items[i], &u) == 0) {
				if (nfound == capfound) {
					capfound = capfound ? capfound * 2 : 16;
					found = xreallocarray(found, capfound,
					    sizeof(*found));
				}
				found[nfound++] = u;
			}
	} else if (collecting == 2 && strcmp(r->name, "FETCH") == 0 &&
	    r->args.n == 1) {
		const struct ival *sz, *dt;
		uint32_t size;

		if ((v = ival_get(&r->args.items[0], "UID")) == NULL ||
		    ival_u32(v, &u) == -1 ||
		    (sz = ival_get(&r->args.items[0], "RFC822.SIZE")) == NULL ||
		    ival_u32(sz, &size) == -1 ||
		    (dt = ival_get(&r->args.items[0], "INTERNALDATE")) == NULL ||
		    ival_str(dt) == NULL)
			return 0;
		if (size != want_size ||
		    msg_parse_internaldate(ival_str(dt)) != want_date)
			return 0;
		if (nfound == capfound) {
			capfound = capfound ? capfound * 2 : 16;
			found = xreallocarray(found, capfound, sizeof(*found));
		}
		found[nfound++] = u;
	}
	return 0;
}

/* The connection is gone: say so; the caller stops after this folder. */
static int
lost(void)
{
	if (!lost_conn)
		warnx("%s", imap_error(im));
	lost_conn = imap_errkind(im) == IMAP_ERR_RETRY ? EXIT_RETRY :
	    EXIT_FAIL;
	return -1;
}

static int
connect_once(void)
{
	int retry;

	if (im)
		return lost_conn ? -1 : 0;
	if ((im = remote_connect(&rem, trace ? stderr : NULL, &retry)) ==
	    NULL) {
		warnx("%s", rem.err);
		lost_conn = retry ? EXIT_RETRY : EXIT_FAIL;
		return -1;
	}
	imap_set_untagged(im, on_untagged, NULL);
	return 0;
}

/*
 * -p: log in now, while the plan is still being made (the driver starts
 * sync-apply beside the listings, the plan then comes through a FIFO).
 * A failure is not reported here: the first folder that needs the server
 * tries again and says why.
 */
static void
preconnect(void)
{
	int retry;

	if ((im = remote_connect(&rem, trace ? stderr : NULL, &retry)) !=
	    NULL)
		imap_set_untagged(im, on_untagged, NULL);
}

static char *
raw_name(const char *name)
{
	char *raw = rem.utf8names ? mutf7_encode(name) : strdup(name);

	if (raw == NULL)
		errx(EXIT_FAIL, "\"%s\": not UTF-8", name);
	return raw;
}

static char *
reply_text(const struct imap_reply *rep)
{
	char *s;

	if (asprintf(&s, "%s%s%s%s", rep->code ? "[" : "", rep->code ?
	    rep->code : "", rep->code ? "] " : "", rep->text) == -1)
		err(EXIT_FAIL, "asprintf");
	return s;
}

/* Whether a folder's actions need the server, and to write there. */
static int
needs_remote(const struct folder *f, int *rw)
{
	size_t i;
	int need = 0;

	*rw = 0;
	for (i = 0; i < f->n; i++) {
		switch (f->a[i].kind) {
		case A_UPLOAD:
		case A_FLAGS_REMOTE:
		case A_DELETE_REMOTE:
			*rw = 1;
			/* FALLTHROUGH */
		case A_FETCH:
			need = 1;
			break;
		default:
			break;
		}
	}
	return need;
}

/* Whether actions of a kind are still to be done in a folder. */
static int
pending(const struct folder *f, enum akind kind)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->a[i].kind == kind && f->a[i].state == AS_PENDING)
			return 1;
	return 0;
}

static uint32_t
send_select(struct folder *f, int rw)
{
	char *raw = raw_name(f->remote);
	uint32_t tag;

	selecting = f;
	f->sel_uidvalidity = f->sel_uidnext = 0;
	tag = imap_cmd(im, rw ? "SELECT %a" : "EXAMINE %a", raw);
	free(raw);
	return tag;
}

/*
 * The folder being applied has sent its last command: the next folder's
 * SELECT goes out now (the replies come in order, so its untagged data
 * cannot mix with this folder's).  Only on a connection that is up: the
 * next folder connects, and says why it could not, itself.
 */
static void
presend(void)
{
	const unsigned char *c;
	char *raw;
	int rw, lit = 0;

	if (upcoming == NULL || presel || dry || im == NULL || lost_conn ||
	    !needs_remote(upcoming, &rw))
		return;
	/* a name sent as a literal that waits for the server's "+" would
	 * read this folder's replies meanwhile: not early then */
	raw = raw_name(upcoming->remote);
	for (c = (const unsigned char *)raw; *c; c++)
		if (*c < 0x20 || *c >= 0x7f)
			lit = 1;
	free(raw);
	if (lit && !imap_has(im, "LITERAL+") && !imap_has(im, "LITERAL-"))
		return;
	if ((presel_tag = send_select(upcoming, rw)) == 0) {
		selecting = NULL;
		return;
	}
	presel = upcoming;
	/* out now, not with the next command: the round trip starts here */
	if (imap_flush(im) == -1)
		lost();
}

/* A folder that never got to use its early SELECT: the reply is read. */
static void
presel_drop(struct folder *f)
{
	struct imap_reply rep;

	if (presel != f)
		return;
	presel = NULL;
	if (imap_wait(im, presel_tag, &rep) == -1)
		lost();
	else
		imap_reply_free(&rep);
	selecting = NULL;
}

/* Run a command, collecting SEARCH or FETCH answers: 0 OK, 1 NO/BAD
 * (*why set), -1 lost. */
static int
run_collect(int what, char **why, const char *fmt, const char *arg)
{
	struct imap_reply rep;
	uint32_t tag;

	nfound = 0;
	collecting = what;
	tag = imap_cmd(im, fmt, arg);
	if (tag == 0 || imap_wait(im, tag, &rep) == -1) {
		collecting = 0;
		return lost();
	}
	collecting = 0;
	if (rep.status != IS_OK) {
		if (why)
			*why = reply_text(&rep);
		imap_reply_free(&rep);
		return 1;
	}
	imap_reply_free(&rep);
	return 0;
}

/* ---- UID sets ---- */

static int
cmpu32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted UIDs as an IMAP set. */
static void
uidset(struct sb *s, uint32_t *u, size_t n)
{
	size_t i, j;

	sb_reset(s);
	if (n > 1)
		qsort(u, n, sizeof(*u), cmpu32);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && u[j] <= u[j - 1] + 1; j++)
			;
		if (u[j - 1] == u[i])
			sb_printf(s, "%s%u", s->len ? "," : "", u[i]);
		else
			sb_printf(s, "%s%u:%u", s->len ? "," : "", u[i],
			    u[j - 1]);
	}
	if (s->s == NULL)
		err(EXIT_FAIL, "uidset");
}

/* Is uid in an IMAP set ("1,3:5")?  Used on [MODIFIED set]. */
static int
in_set(const char *set, uint32_t uid)
{
	const char *p = set;

	while (p && *p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return 0;
		if (*end == ':')
			b = strtoul(end + 1, &end, 10);
		if (a > b) {
			unsigned long t = a;

			a = b;
			b = t;
		}
		if (uid >= a && uid <= b)
			return 1;
		p = *end == ',' ? end + 1 : NULL;
	}
	return 0;
}

/* ---- local files ---- */

/* The file name without its info part (":2,..."): what flag changes
 * keep. */
static size_t
base_len(const char *name)
{
	const char *p = strstr(name, mopts.winsep ? "!2," : ":2,");

	return p ? (size_t)(p - name) : strlen(name);
}

struct seek {
	const char	*base;
	size_t		 blen;
	char		*found;
};

static int
seek_file(void *ctx, const char *sub, int dfd, const char *name, size_t len)
{
	struct seek *s = ctx;

	(void)dfd;
	(void)len;
	if (s->found == NULL && base_len(name) == s->blen &&
	    strncmp(name, s->base, s->blen) == 0 &&
	    asprintf(&s->found, "%s/%s", sub, name) == -1)
		err(EXIT_FAIL, "asprintf");
	return 0;
}

/*
 * The file a plan's PATH names now: as it is, or moved by a mail reader
 * that changed its flags (same base name, other info part or directory).
 * NULL when it is gone.
 */
static char *
locate(struct folder *f, const char *path)
{
	const char *name = strrchr(path, '/');
	struct seek s = { 0 };
	struct stat st;
	char *full, *e = NULL;

	if (asprintf(&full, "%s/%s", f->dir, path) == -1)
		err(EXIT_FAIL, "asprintf");
	if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
		free(full);
		return xstrdup(path);
	}
	free(full);
	s.base = name ? name + 1 : path;
	s.blen = base_len(s.base);
	if (maildir_each_file(f->dir, seek_file, &s, &e) == -1) {
		warnx("%s", e);
		free(e);
	}
	return s.found;
}

/* The flags of a file's name, sorted. */
static char *
name_flags(const char *rel)
{
	struct maildir_name mn;
	const char *name = strrchr(rel, '/');
	char *fl;

	name = name ? name + 1 : rel;
	maildir_parse_name(name, strlen(name), "", mopts.winsep, &mn);
	fl = xmalloc(mn.flagslen + 1);
	memcpy(fl, mn.flags ? mn.flags : "", mn.flagslen);
	fl[mn.flagslen] = '\0';
	maildir_flags_norm(fl);
	return fl;
}

static int
same_flags(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* ---- the phases of a folder ---- */

static void
fetch_report(void *ctx, struct fetch_item *it)
{
	struct folder *f = ctx;
	struct act *a = it->user;
	char *fl;

	switch (it->state) {
	case FS_STORED:
		db_check(f, status_put(f->st, it->uid, it->flags ?
		    it->flags : ""));
		outcome(f, a, AS_DONE, it->path);
		step();
		break;
	case FS_PRESENT:
		/* a download the status missed (a crash after the rename):
		 * the file's flags are what the status says we agreed on,
		 * so that a difference from the server's is synced next */
		fl = name_flags(it->path);
		db_check(f, status_put(f->st, it->uid, fl));
		free(fl);
		outcomef(f, a, AS_DONE, "%s (was there)", it->path);
		break;
	case FS_GONE:
		outcome(f, a, AS_SKIPPED, "no longer on the server");
		break;
	case FS_FAILED:
		outcome(f, a, AS_FAILED, it->why);
		break;
	case FS_WANT:
		break;
	}
}

static void
fetch_batch_done(void *ctx)
{
	commit(ctx);
}

/* The fetches are the folder's last commands: the next SELECT goes too. */
static void
fetch_sent(void *ctx)
{
	struct folder *f = ctx;

	if (!pending(f, A_FLAGS_REMOTE) && !pending(f, A_DELETE_REMOTE) &&
	    !pending(f, A_UPLOAD))
		presend();
}

static int
do_fetches(struct folder *f)
{
	struct fetch_job fj = { 0 };
	struct fetch_item *it;
	size_t i, n = 0;
	int rv;

	for (i = 0; i < f->n; i++)
		if (f->a[i].kind == A_FETCH && f->a[i].state == AS_PENDING)
			n++;
	if (n == 0)
		return 0;
	it = xcalloc(n, sizeof(*it));
	for (i = n = 0; i < f->n; i++)
		if (f->a[i].kind == A_FETCH && f->a[i].state == AS_PENDING) {
			it[n].uid = f->a[i].uid;
			it[n].flags = xstrdup(f->a[i].to ? f->a[i].to : "");
			it[n++].user = &f->a[i];
		}
	fetch_sort(it, &n);
	fj.im = im;
	fj.dir = f->dir;
	fj.fmd5 = f->fmd5;
	fj.mopts = &mopts;
	fj.kw = &kw;
	fj.items = it;
	fj.n = n;
	fj.report = fetch_report;
	fj.batch_done = fetch_batch_done;
	fj.sent = fetch_sent;
	fj.ctx = f;
	rv = fetch_run(&fj);
	imap_set_untagged(im, on_untagged, NULL);
	if (rv == 1)
		settle(f, A_FETCH, AS_FAILED, fj.err);
	free(fj.err);
	fetch_items_free(it, n);
	commit(f);
	return rv == -1 ? lost() : 0;
}

/* Letters to an IMAP flag list, "\Seen $Label1" (mapped letters only). */
static char *
imap_flags(const char *letters)
{
	struct sb i = { 0 }, un = { 0 };

	if (maildir_flags_to_imap(letters ? letters : "", &kw, &i, &un) == -1)
		err(EXIT_FAIL, "flags");
	sb_free(&un);
	return i.s ? i.s : xstrdup("");
}

/* Letters of a not in b. */
static char *
minus(const char *a, const char *b)
{
	char *r = xmalloc(strlen(a ? a : "") + 1);
	size_t n = 0;

	for (; a && *a; a++)
		if (b == NULL || strchr(b, *a) == NULL)
			r[n++] = *a;
	r[n] = '\0';
	return r;
}

struct group {
	char		*add, *del;	/* IMAP flag lists */
	uint32_t	*uids;
	struct act	**acts;
	size_t		 n;
	uint64_t	 maxmod, minmod;
	uint32_t	 tag1, tag2;
	char		*modified;	/* [MODIFIED set] of the first STORE */
	int		 failed;
	char		*why;
};

static struct group *
group_for(struct group **gs, size_t *ng, const char *add, const char *del)
{
	size_t i;

	for (i = 0; i < *ng; i++)
		if (strcmp((*gs)[i].add, add) == 0 &&
		    strcmp((*gs)[i].del, del) == 0)
			return &(*gs)[i];
	*gs = xreallocarray(*gs, *ng + 1, sizeof(**gs));
	memset(&(*gs)[*ng], 0, sizeof(**gs));
	(*gs)[*ng].add = xstrdup(add);
	(*gs)[*ng].del = xstrdup(del);
	(*gs)[*ng].minmod = UINT64_MAX;
	return &(*gs)[(*ng)++];
}

static void
group_add(struct group *g, struct act *a)
{
	g->uids = xreallocarray(g->uids, g->n + 1, sizeof(*g->uids));
	g->acts = xreallocarray(g->acts, g->n + 1, sizeof(*g->acts));
	g->uids[g->n] = a->uid;
	g->acts[g->n++] = a;
	if (a->modseq > g->maxmod)
		g->maxmod = a->modseq;
	if (a->modseq < g->minmod)
		g->minmod = a->modseq;
}

/* UID STORE set [(UNCHANGEDSINCE m)] +/-FLAGS.SILENT (list). */
static uint32_t
store(struct group *g, int plus, const char *flags, int conditional)
{
	struct sb set = { 0 }, cond = { 0 };
	uint32_t tag;

	uidset(&set, g->uids, g->n);
	if (conditional && imap_has(im, "CONDSTORE") && g->minmod > 0 &&
	    g->maxmod > 0)
		sb_printf(&cond, "(UNCHANGEDSINCE %llu) ",
		    (unsigned long long)g->maxmod);
	tag = imap_cmd(im, "UID STORE %s %s%sFLAGS.SILENT (%s)", set.s,
	    cond.s ? cond.s : "", plus ? "+" : "-", flags);
	sb_free(&set);
	sb_free(&cond);
	return tag;
}

static int
wait_store(struct group *g, uint32_t tag, int first)
{
	struct imap_reply rep;

	if (tag == 0 || imap_wait(im, tag, &rep) == -1)
		return lost();
	if (rep.status != IS_OK) {
		g->failed = 1;
		free(g->why);
		g->why = reply_text(&rep);
	} else if (first && rep.code && strncmp(rep.code, "MODIFIED ", 9) == 0)
		g->modified = xstrdup(rep.code + 9);
	imap_reply_free(&rep);
	step();
	return 0;
}

static void
group_free(struct group *gs, size_t ng)
{
	size_t i;

	for (i = 0; i < ng; i++) {
		free(gs[i].add);
		free(gs[i].del);
		free(gs[i].uids);
		free(gs[i].acts);
		free(gs[i].modified);
		free(gs[i].why);
	}
	free(gs);
}

/* Drop from a group the UIDs the server reported as changed. */
static void
group_prune(struct folder *f, struct group *g)
{
	size_t i, w;

	for (i = w = 0; i < g->n; i++) {
		if (g->modified && in_set(g->modified, g->uids[i])) {
			outcome(f, g->acts[i], AS_SKIPPED, "changed on the "
			    "server since the plan");
			continue;
		}
		if (g->failed) {
			outcome(f, g->acts[i], AS_FAILED, g->why);
			continue;
		}
		g->uids[w] = g->uids[i];
		g->acts[w++] = g->acts[i];
	}
	g->n = w;
}

static int
do_remote_flags(struct folder *f)
{
	struct group *gs = NULL;
	size_t ng = 0, i, k;
	int rv = -1, both;
	/* more commands to come in this folder after these */
	int more = pending(f, A_DELETE_REMOTE) || pending(f, A_UPLOAD);

	for (i = 0; i < f->n; i++) {
		struct act *a = &f->a[i];
		char *add, *del, *ai, *di;

		if (a->kind != A_FLAGS_REMOTE || a->state != AS_PENDING)
			continue;
		add = minus(a->to, a->from);
		del = minus(a->from, a->to);
		ai = imap_flags(add);
		di = imap_flags(del);
		if (*ai == '\0' && *di == '\0')
			outcome(f, a, AS_DONE, "nothing to change");
		else
			group_add(group_for(&gs, &ng, ai, di), a);
		free(add);
		free(del);
		free(ai);
		free(di);
	}
	/* first the removals (or the additions), conditional, pipelined */
	for (i = 0; i < ng; i++)
		if ((gs[i].tag1 = store(&gs[i], *gs[i].del == '\0', *gs[i].del ?
		    gs[i].del : gs[i].add, 1)) == 0) {
			lost();
			goto out;
		}
	for (i = 0, both = 0; i < ng; i++)
		if (*gs[i].del && *gs[i].add)
			both = 1;
	if (!both && !more)
		presend();
	for (i = 0; i < ng; i++)
		if (wait_store(&gs[i], gs[i].tag1, 1) == -1)
			goto out;
	for (i = 0; i < ng; i++)
		group_prune(f, &gs[i]);
	/* then the additions of the groups that had both, for the UIDs
	 * the first STORE changed */
	for (i = 0; i < ng; i++)
		if (*gs[i].del && *gs[i].add && gs[i].n &&
		    (gs[i].tag2 = store(&gs[i], 1, gs[i].add, 0)) == 0) {
			lost();
			goto out;
		}
	if (!more)
		presend();
	for (i = 0; i < ng; i++) {
		if (gs[i].tag2 && wait_store(&gs[i], gs[i].tag2, 0) == -1)
			goto out;
		for (k = 0; k < gs[i].n; k++)
			if (gs[i].failed)
				outcome(f, gs[i].acts[k], AS_FAILED, gs[i].why);
			else
				outcome(f, gs[i].acts[k], AS_DONE, NULL);
	}
	rv = 0;
out:
	group_free(gs, ng);
	return rv;
}

static int
do_remote_deletes(struct folder *f)
{
	struct group g = { 0 };
	struct imap_reply rep;
	struct sb set = { 0 };
	uint32_t tag, etag = 0;
	size_t i;
	int rv = -1, expunged = 0, uidplus;
	char *why = NULL;

	g.add = g.del = NULL;
	g.minmod = UINT64_MAX;
	for (i = 0; i < f->n; i++)
		if (f->a[i].kind == A_DELETE_REMOTE &&
		    f->a[i].state == AS_PENDING)
			group_add(&g, &f->a[i]);
	if (g.n == 0)
		return 0;
	/*
	 * With UIDPLUS the UID EXPUNGE goes out with the STORE: it removes
	 * only messages of the set that are \Deleted, and a UID the STORE
	 * left alone (changed on the server since the plan) is \Deleted only
	 * if another client marked it so, which asks for the same.
	 */
	uidplus = doexpunge && imap_has(im, "UIDPLUS");
	if ((tag = store(&g, 1, "\\Deleted", 1)) == 0)
		goto lost;
	if (uidplus) {
		uidset(&set, g.uids, g.n);
		if ((etag = imap_cmd(im, "UID EXPUNGE %s", set.s)) == 0)
			goto lost;
		if (!pending(f, A_UPLOAD))
			presend();
	}
	if (wait_store(&g, tag, 1) == -1)
		goto out;
	group_prune(f, &g);
	if (uidplus) {
		if (imap_wait(im, etag, &rep) == -1)
			goto lost;
		if (rep.status == IS_OK)
			expunged = 1;
		else
			why = reply_text(&rep);
		imap_reply_free(&rep);
	} else if (g.n == 0 || !doexpunge) {
		rv = 0;
		goto settle;
	} else {
		/* a folder-wide EXPUNGE only when every message marked
		 * \Deleted is one of ours: other clients' stay */
		int r = run_collect(1, &why, "UID SEARCH %s", "DELETED");
		size_t j, others = 0;

		if (r == -1)
			goto out;
		for (j = 0; r == 0 && j < nfound; j++)
			if (bsearch(&found[j], g.uids, g.n, sizeof(*g.uids),
			    cmpu32) == NULL)
				others++;
		if (r == 0 && others == 0) {
			if ((r = imap_simple(im, "EXPUNGE")) == -1) {
				lost();
				goto out;
			}
			if (r == 0)
				expunged = 1;
			else
				why = xstrdup(imap_error(im));
		} else if (r == 0 && asprintf(&why, "the server has no "
		    "UIDPLUS and %zu other messages are marked \\Deleted: "
		    "not expunging them", others) == -1)
			err(EXIT_FAIL, "asprintf");
	}
	step();
	rv = 0;
	goto settle;
lost:
	lost();
	goto out;
settle:
	for (i = 0; i < g.n; i++) {
		if (doexpunge && !expunged) {
			outcome(f, g.acts[i], AS_FAILED, why);
			continue;
		}
		db_check(f, status_delete(f->st, g.uids[i]));
		outcome(f, g.acts[i], AS_DONE, expunged ? "expunged" :
		    "marked \\Deleted");
	}
	commit(f);
out:
	free(why);
	sb_free(&set);
	free(g.uids);
	free(g.acts);
	free(g.modified);
	free(g.why);
	return rv;
}

/* ---- uploads ---- */

#define INTENT	"sync-apply upload "	/* status metadata key prefix */

/* Give the local file its UID and record it; the intent goes. */
static int
adopt(struct folder *f, struct act *a, const char *rel, const char *key,
    uint32_t uid, const char *how)
{
	char *fl = name_flags(rel), *nrel, *e;

	if (maildir_set_uid(f->dir, rel, uid, f->fmd5, fl, mopts.winsep,
	    mopts.fsync, &nrel, &e) == -1) {
		/* the server has it, the status does not: the intent stays
		 * and the next run adopts the copy instead of a second */
		outcome(f, a, AS_FAILED, e);
		free(e);
		free(fl);
		return -1;
	}
	step();
	db_check(f, status_put(f->st, uid, fl));
	db_check(f, status_del_meta(f->st, key));
	commit(f);
	outcomef(f, a, AS_DONE, "%u %s%s", uid, nrel, how);
	free(nrel);
	free(fl);
	return 0;
}

/*
 * An intent left by a run that did not finish: did its APPEND reach the
 * server?  With a header of ours, search for it; else a message at or
 * above the UIDNEXT of then with the same size and INTERNALDATE (and
 * Message-ID, when the file has one) that no other status row holds.
 * 1 with *uid, 0 not there, -1 lost.
 */
static int
recover(struct folder *f, const char *intent, const char *path,
    uint32_t *uid)
{
	unsigned long uidnext;
	unsigned long long size, date;
	char hdr[64] = "", *msgid, *why = NULL, *q;
	struct sb cmd = { 0 }, set = { 0 };
	int n = 0, r;
	size_t i;

	(void)path;
	if (sscanf(intent, "%lu %llu %llu %63s %n", &uidnext, &size, &date,
	    hdr, &n) < 4)
		return 0;
	msgid = (char *)intent + n;
	if (strcmp(hdr, "-") != 0) {
		sb_printf(&cmd, "HEADER X-OfflineIMAP \"%s\"", hdr);
		r = run_collect(1, &why, "UID SEARCH %s", cmd.s);
	} else {
		want_size = size;
		want_date = (long long)date;
		sb_printf(&cmd, "%lu:*", uidnext ? uidnext : 1);
		r = run_collect(2, &why, "UID FETCH %s (UID RFC822.SIZE "
		    "INTERNALDATE)", cmd.s);
		if (r == 0 && nfound && *msgid) {
			/* narrowed by Message-ID, quoted as a string */
			uidset(&set, found, nfound);
			sb_reset(&cmd);
			sb_printf(&cmd, "UID %s HEADER Message-ID \"", set.s);
			for (q = msgid; *q; q++)
				if (*q != '"' && *q != '\\' &&
				    (unsigned char)*q >= 0x20)
					sb_addc(&cmd, *q);
			sb_addc(&cmd, '"');
			r = run_collect(1, &why, "UID SEARCH %s", cmd.s);
		}
	}
	sb_free(&cmd);
	sb_free(&set);
	free(why);
	if (r == -1)
		return -1;
	if (r == 1 || nfound == 0)
		return 0;
	if (nfound > 1)
		qsort(found, nfound, sizeof(*found), cmpu32);
	for (i = 0; i < nfound; i++) {
		char *fl;
		int held = status_get(f->st, found[i], &fl);

		db_check(f, held);
		free(fl);
		if (held == 0 && found[i] >= uidnext) {
			*uid = found[i];
			return 1;
		}
	}
	return 0;
}

/*
 * An upload in flight: prepared (its intent in the status, its file open),
 * then its APPEND sent, then its reply read.  With LITERAL+ the APPENDs of
 * a batch go out one after the other and the replies are read after: the
 * intents of the whole batch are durable before the first APPEND, so a
 * crash anywhere leaves each message either not on the server or found
 * again by its intent.
 */
#define UP_BATCH	64		/* messages per batch */
#define UP_BYTES	(32u << 20)	/* bytes per batch, about */

struct upjob {
	struct act	*a;
	struct msgsrc	 m;
	char		*rel, *key, *intent;
	uint32_t	 tag;
};

static void
upjob_free(struct upjob *j)
{
	msgsrc_close(&j->m);
	free(j->rel);
	free(j->key);
	free(j->intent);
	memset(j, 0, sizeof(*j));
	j->m.fd = -1;
}

/*
 * 0 prepared; 1 settled already (adopted after a crash, skipped, failed);
 * -1 the connection is lost.  The intent is set, not committed.
 */
static int
up_prepare(struct folder *f, struct act *a, struct upjob *j)
{
	char *full = NULL, *intent = NULL, *e, hdr[48] = "-";
	uint32_t uid = 0;
	int r, have, uidplus = imap_has(im, "UIDPLUS");

	memset(j, 0, sizeof(*j));
	j->m.fd = -1;
	j->a = a;
	if ((j->rel = locate(f, a->path)) == NULL) {
		outcome(f, a, AS_SKIPPED, "the file is gone");
		return 1;
	}
	{
		const char *name = strrchr(j->rel, '/') + 1;

		if (asprintf(&j->key, INTENT "%.*s", (int)base_len(name),
		    name) == -1)
			err(EXIT_FAIL, "asprintf");
	}
	if (asprintf(&full, "%s/%s", f->dir, j->rel) == -1)
		err(EXIT_FAIL, "asprintf");
	db_check(f, have = status_get_meta(f->st, j->key, &intent));
	if (have == 1) {
		if ((r = recover(f, intent, j->rel, &uid)) == -1)
			goto lost;
		if (r == 1) {
			adopt(f, a, j->rel, j->key, uid,
			    " (found after a crash)");
			goto settled;
		}
	}
	if (!uidplus) {
		uint32_t crc = 0;

		if (msg_crc32(full, &crc) == -1) {
			outcomef(f, a, AS_FAILED, "%s: %s", full,
			    strerror(errno));
			goto settled;
		}
		snprintf(hdr, sizeof(hdr), "%u-%010u", crc,
		    (unsigned)arc4random_uniform(1000000000u));
	}
	{
		char *xh = NULL;

		/* without UIDPLUS, a header of ours, first in the uploaded
		 * copy, finds it again */
		if (strcmp(hdr, "-") != 0 && asprintf(&xh, "X-OfflineIMAP: %s",
		    hdr) == -1)
			err(EXIT_FAIL, "asprintf");
		r = msgsrc_open(&j->m, full, xh, &e);
		free(xh);
		if (r == -1) {
			j->m.fd = -1;
			outcome(f, a, AS_FAILED, e);
			free(e);
			goto settled;
		}
	}
	/* the intent, durable (the caller commits) before the APPEND */
	if (asprintf(&j->intent, "%u %llu %lld %s %s", f->sel_uidnext,
	    (unsigned long long)j->m.size, j->m.mtime, hdr,
	    j->m.msgid ? j->m.msgid : "") == -1)
		err(EXIT_FAIL, "asprintf");
	db_check(f, status_set_meta(f->st, j->key, j->intent));
	free(full);
	free(intent);
	return 0;
settled:
	free(full);
	free(intent);
	upjob_free(j);
	return 1;
lost:
	free(full);
	free(intent);
	upjob_free(j);
	return -1;
}

/* Its APPEND, literal and all; the file is closed after.  -1 lost. */
static int
up_send(struct folder *f, struct upjob *j)
{
	struct imap_literal lit;
	char date[40], *fl, *iflags, *raw;

	fl = name_flags(j->rel);
	iflags = imap_flags(fl);
	free(fl);
	msg_internaldate(j->m.mtime, date, sizeof(date));
	lit.len = j->m.size;
	lit.read = msgsrc_read;
	lit.ctx = &j->m;
	raw = raw_name(f->remote);
	j->tag = imap_cmd(im, "APPEND %a (%s) \"%s\" %L", raw, iflags, date,
	    &lit);
	free(raw);
	free(iflags);
	msgsrc_close(&j->m);
	return j->tag == 0 ? -1 : 0;
}

/* Its reply: the UID, the file renamed and recorded.  -1 lost. */
static int
up_finish(struct folder *f, struct upjob *j)
{
	struct imap_reply rep;
	uint32_t uid = 0;

	if (imap_wait(im, j->tag, &rep) == -1)
		return -1;
	step();
	if (rep.status != IS_OK) {
		/* refused (over quota, ...): nothing reached the server */
		char *why = reply_text(&rep);

		imap_reply_free(&rep);
		db_check(f, status_del_meta(f->st, j->key));
		commit(f);
		outcome(f, j->a, AS_FAILED, why);
		free(why);
		return 0;
	}
	if (imap_has(im, "UIDPLUS") && rep.code &&
	    strncmp(rep.code, "APPENDUID ", 10) == 0) {
		unsigned long v, u;

		if (sscanf(rep.code + 10, "%lu %lu", &v, &u) == 2 &&
		    v == f->uidvalidity && u > 0 && u <= UINT32_MAX)
			uid = (uint32_t)u;
	}
	imap_reply_free(&rep);
	if (uid == 0 && recover(f, j->intent, j->rel, &uid) == -1)
		return -1;
	if (uid == 0) {
		outcome(f, j->a, AS_FAILED, "uploaded, but the server did not "
		    "say its UID and it was not found; the next run looks "
		    "for it again");
		return 0;
	}
	adopt(f, j->a, j->rel, j->key, uid, "");
	return 0;
}

/*
 * Before anything is fetched: uploads a killed run left unrecorded are
 * found on the server and adopted, and the plan's fetch of that UID (the
 * listing saw it as new mail) is then not done: the message is here.
 */
static int
do_recoveries(struct folder *f)
{
	size_t i, k;

	for (i = 0; i < f->n; i++) {
		struct act *a = &f->a[i];
		char *rel, *key, *intent = NULL;
		const char *name;
		uint32_t uid = 0;
		int have, r;

		if (a->kind != A_UPLOAD || a->state != AS_PENDING ||
		    (rel = locate(f, a->path)) == NULL)
			continue;
		name = strrchr(rel, '/') + 1;
		if (asprintf(&key, INTENT "%.*s", (int)base_len(name), name)
		    == -1)
			err(EXIT_FAIL, "asprintf");
		db_check(f, have = status_get_meta(f->st, key, &intent));
		r = have == 1 ? recover(f, intent, rel, &uid) : 0;
		if (r == 1 && adopt(f, a, rel, key, uid, " (found after a "
		    "crash)") == 0)
			for (k = 0; k < f->n; k++)
				if (f->a[k].kind == A_FETCH &&
				    f->a[k].uid == uid &&
				    f->a[k].state == AS_PENDING)
					outcome(f, &f->a[k], AS_DONE, "it is "
					    "an upload of ours, found again");
		free(rel);
		free(key);
		free(intent);
		if (r == -1)
			return -1;
	}
	return 0;
}

/*
 * The uploads of a folder, in batches: the intents of a batch in one
 * commit, then its APPENDs, then their replies.  Without LITERAL+ each
 * literal waits for the server's "+": one message at a time.
 */
static int
do_uploads(struct folder *f)
{
	size_t i = 0, nj = 0, k, max = imap_has(im, "LITERAL+") ? UP_BATCH : 1;
	struct upjob *jobs = xreallocarray(NULL, max, sizeof(*jobs));
	uint64_t bytes;
	int r;

	while (i < f->n) {
		nj = 0;
		bytes = 0;
		for (; i < f->n && nj < max && bytes < UP_BYTES; i++) {
			if (f->a[i].kind != A_UPLOAD ||
			    f->a[i].state != AS_PENDING)
				continue;
			if ((r = up_prepare(f, &f->a[i], &jobs[nj])) == -1)
				goto lost;
			if (r == 0)
				bytes += jobs[nj++].m.size;
		}
		if (nj == 0)
			continue;
		commit(f);
		for (k = 0; k < nj; k++)
			if (up_send(f, &jobs[k]) == -1)
				goto lost;
		for (k = 0; k < nj; k++)
			if (up_finish(f, &jobs[k]) == -1)
				goto lost;
		for (k = 0; k < nj; k++)
			upjob_free(&jobs[k]);
	}
	free(jobs);
	return 0;
lost:
	/* the intents stay: the next run finds what reached the server */
	for (k = 0; k < nj; k++)
		upjob_free(&jobs[k]);
	free(jobs);
	return lost();
}

/* Intents of uploads that are settled (the file has its UID now, or is
 * gone) are dropped. */
static int
stale_intent(void *ctx, const char *key, const char *value)
{
	struct folder *f = ctx;
	char *rel, *path;
	size_t i;

	(void)value;
	for (i = 0; i < f->n; i++)	/* an upload of this run failed */
		if (f->a[i].kind == A_UPLOAD && f->a[i].state == AS_FAILED &&
		    f->a[i].path && strstr(f->a[i].path,
		    key + strlen(INTENT)) != NULL)
			return 0;
	if (asprintf(&path, "new/%s", key + strlen(INTENT)) == -1)
		err(EXIT_FAIL, "asprintf");
	rel = locate(f, path);
	free(path);
	if (rel == NULL) {
		/* only a file without a UID of ours is still to upload */
		db_check(f, status_del_meta(f->st, key));
	} else {
		struct maildir_name mn;
		const char *name = strrchr(rel, '/') + 1;

		maildir_parse_name(name, strlen(name), f->fmd5, mopts.winsep,
		    &mn);
		if (mn.uid != 0)
			db_check(f, status_del_meta(f->st, key));
	}
	free(rel);
	return 0;
}

/* ---- local changes ---- */

static void
do_local(struct folder *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		struct act *a = &f->a[i];
		char *rel, *cur, *nrel, *e, *full;

		if (a->state != AS_PENDING || (a->kind != A_FLAGS_LOCAL &&
		    a->kind != A_DELETE_LOCAL))
			continue;
		if ((rel = locate(f, a->path)) == NULL) {
			if (a->kind == A_DELETE_LOCAL) {
				db_check(f, status_delete(f->st, a->uid));
				outcome(f, a, AS_DONE, "already gone");
			} else
				outcome(f, a, AS_SKIPPED, "the file is gone");
			continue;
		}
		cur = name_flags(rel);
		if (a->kind == A_FLAGS_LOCAL) {
			if (same_flags(cur, a->to))
				outcome(f, a, AS_DONE, rel);
			else if (!same_flags(cur, a->from))
				outcomef(f, a, AS_SKIPPED, "flags changed "
				    "locally since the plan (%s)", cur);
			else if (maildir_set_flags(f->dir, rel, a->to ? a->to :
			    "", mopts.winsep, &nrel, &e) == -1) {
				outcome(f, a, AS_FAILED, e);
				free(e);
			} else {
				step();
				outcome(f, a, AS_DONE, nrel);
				free(nrel);
			}
		} else if (!same_flags(cur, a->from)) {
			outcomef(f, a, AS_SKIPPED, "flags changed locally "
			    "since the plan (%s)", cur);
		} else {
			if (asprintf(&full, "%s/%s", f->dir, rel) == -1)
				err(EXIT_FAIL, "asprintf");
			if (unlink(full) == -1 && errno != ENOENT)
				outcomef(f, a, AS_FAILED, "%s: %s", full,
				    strerror(errno));
			else {
				step();
				db_check(f, status_delete(f->st, a->uid));
				outcome(f, a, AS_DONE, rel);
			}
			free(full);
		}
		free(cur);
		free(rel);
	}
	commit(f);
}

/* ---- the status ---- */

static void
do_status(struct folder *f)
{
	uint32_t *open_uids = NULL;	/* UIDs with an action not done */
	size_t i, nopen = 0;

	for (i = 0; i < f->n; i++)
		if (f->a[i].kind != A_STATUS && f->a[i].kind != A_FORGET &&
		    f->a[i].state != AS_DONE) {
			if ((nopen & (nopen - 1)) == 0)
				open_uids = xreallocarray(open_uids,
				    nopen ? nopen * 2 : 1, sizeof(*open_uids));
			open_uids[nopen++] = f->a[i].uid;
		}
	if (nopen > 1)
		qsort(open_uids, nopen, sizeof(*open_uids), cmpu32);

	for (i = 0; i < f->n; i++) {
		struct act *a = &f->a[i];
		char *cur = NULL;
		int have;

		if (a->state != AS_PENDING || (a->kind != A_STATUS &&
		    a->kind != A_FORGET))
			continue;
		if (nopen && bsearch(&a->uid, open_uids, nopen,
		    sizeof(*open_uids), cmpu32) != NULL) {
			outcome(f, a, AS_SKIPPED, "an action for this UID "
			    "was not done");
			continue;
		}
		db_check(f, have = status_get(f->st, a->uid, &cur));
		if (a->kind == A_STATUS) {
			if (have && same_flags(cur, a->to))
				outcome(f, a, AS_DONE, "already");
			else if ((a->from == NULL && have) || (a->from &&
			    (!have || !same_flags(cur, a->from))))
				outcome(f, a, AS_SKIPPED, "the status moved on");
			else {
				db_check(f, status_put(f->st, a->uid, a->to ?
				    a->to : ""));
				outcome(f, a, AS_DONE, NULL);
			}
		} else {
			if (!have)
				outcome(f, a, AS_DONE, "already");
			else if (!same_flags(cur, a->from))
				outcome(f, a, AS_SKIPPED, "the status moved on");
			else {
				db_check(f, status_delete(f->st, a->uid));
				outcome(f, a, AS_DONE, NULL);
			}
		}
		free(cur);
	}
	free(open_uids);
	commit(f);
}

/* ---- a folder ---- */

static int
select_folder(struct folder *f, int rw)
{
	struct imap_reply rep;
	char *why;
	uint32_t tag;

	if (presel == f) {
		tag = presel_tag;
		presel = NULL;
	} else
		tag = send_select(f, rw);
	if (tag == 0 || imap_wait(im, tag, &rep) == -1) {
		selecting = NULL;
		return lost();
	}
	selecting = NULL;
	if (rep.status != IS_OK) {
		why = reply_text(&rep);
		imap_reply_free(&rep);
		folder_error(why, f->remote);
		settle(f, -1, AS_FAILED, why);
		free(why);
		return 1;
	}
	imap_reply_free(&rep);
	if (f->sel_uidvalidity != f->uidvalidity) {
		char *msg;

		if (asprintf(&msg, "UIDVALIDITY is %u now, the plan was made "
		    "for %u: plan again", f->sel_uidvalidity, f->uidvalidity)
		    == -1)
			err(EXIT_FAIL, "asprintf");
		folder_error(msg, f->remote);
		settle(f, -1, AS_SKIPPED, msg);
		free(msg);
		return 1;
	}
	return 0;
}

static void
apply_folder(struct folder *f)
{
	char *e = NULL;
	size_t i;
	int need_remote = 0, rw = 0, r;
	uint32_t saved;

	rec_puts(&out, "folder");
	rec_puts(&out, f->remote);
	rec_puts(&out, f->local);
	rec_end(&out);
	f->ndone = f->nskipped = f->nfailed = 0;
	need_remote = needs_remote(f, &rw);
	if (dry) {
		for (i = 0; i < f->n; i++) {
			struct act *a = &f->a[i];

			if (a->kind == A_STATUS || a->kind == A_FORGET)
				outcomef(f, a, AS_DONE, "%s -> %s", a->from ?
				    a->from : "-", a->to ? a->to : "-");
			else if (a->kind == A_FLAGS_LOCAL ||
			    a->kind == A_FLAGS_REMOTE)
				outcomef(f, a, AS_DONE, "%s -> %s", a->from ?
				    a->from : "", a->to ? a->to : "");
			else
				outcome(f, a, AS_DONE, a->path ? a->path :
				    a->to ? a->to : a->from);
		}
		goto end;
	}
	/* nothing to do in a folder synced before: nothing to open */
	if (f->n == 0 && access(f->spath, F_OK) == 0 &&
	    validity_read(metadata, rrepo, f->remote, &saved, &e) == 1 &&
	    saved == f->uidvalidity)
		goto end;
	free(e);
	e = NULL;
	if ((f->dir = maildir_folder_path(root, f->local, sep, &e)) == NULL ||
	    status_open(&f->st, f->spath, ST_CREATE, &e) == -1) {
		folder_error(e ? e : "cannot open the folder", f->remote);
		settle(f, -1, AS_FAILED, e);
		free(e);
		goto end;
	}
	if (need_remote) {
		if (connect_once() == -1) {
			settle(f, -1, AS_SKIPPED, "not connected");
			goto end;
		}
		if ((r = select_folder(f, rw)) != 0)
			goto end;
	} else
		presend();
	/* OfflineIMAP's FolderValidity: saved once, then checked */
	r = validity_read(metadata, rrepo, f->remote, &saved, &e);
	/* an empty status takes the new UIDVALIDITY (OfflineIMAP's rule;
	 * sync-plan planned the folder only if the local side is empty) */
	if (r == 1 && saved != f->uidvalidity && status_count(f->st) == 0)
		r = 0;
	if (r == -1 || (r == 1 && saved != f->uidvalidity)) {
		char *msg = e;

		if (r == 1 && asprintf(&msg, "saved UIDVALIDITY %u, the plan "
		    "has %u: plan again", saved, f->uidvalidity) == -1)
			err(EXIT_FAIL, "asprintf");
		folder_error(msg, f->remote);
		settle(f, -1, AS_SKIPPED, msg);
		free(msg);
		goto end;
	}
	if (r == 0 && validity_write(metadata, rrepo, f->remote,
	    f->uidvalidity, mopts.fsync, &e) == -1) {
		folder_error(e, f->remote);
		settle(f, -1, AS_FAILED, e);
		free(e);
		goto end;
	}
	db_check(f, status_begin(f->st));
	if ((need_remote && (do_recoveries(f) == -1 || do_fetches(f) == -1 ||
	    do_remote_flags(f) == -1 || do_remote_deletes(f) == -1 ||
	    do_uploads(f) == -1))) {
		commit(f);
		settle(f, -1, AS_SKIPPED, "connection lost");
		db_check(f, status_commit(f->st));
		goto end;
	}
	presend();
	do_local(f);
	do_status(f);
	db_check(f, status_meta_prefix(f->st, INTENT, stale_intent, f));
	db_check(f, status_commit(f->st));
end:
	presel_drop(f);
	if (f->st)
		status_close(f->st);
	f->st = NULL;
	free(f->dir);
	f->dir = NULL;
	rec_puts(&out, "end");
	rec_puts(&out, f->remote);
	rec_putu(&out, f->ndone);
	rec_putu(&out, f->nskipped);
	rec_putu(&out, f->nfailed);
	rec_end(&out);
}

static void
folder_clear(struct folder *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->a[i].from);
		free(f->a[i].to);
		free(f->a[i].path);
	}
	free(f->a);
	free(f->remote);
	free(f->local);
	free(f->spath);
	memset(f, 0, sizeof(*f));
}

/* ---- folder creation ---- */

static void
create_local(const char *remote, const char *local)
{
	char *dir = NULL, *e = NULL;
	int bad = 0;

	/* (also when the directory is there: a run killed in the middle of
	 * creating it leaves it without cur, new or tmp) */
	if (!dry && ((dir = maildir_folder_path(root, local, sep, &e)) ==
	    NULL || maildir_create(root, local, sep, &e) == -1))
		bad = 1;
	rec_puts(&out, dry ? "would" : bad ? "failed" : "done");
	rec_puts(&out, "create-local");
	rec_puts(&out, local);
	rec_puts(&out, bad ? (e ? e : "cannot create") : remote);
	rec_end(&out);
	if (bad) {
		status = EXIT_FAIL;
		warnx("create-local %s: %s", local, e ? e : "failed");
	}
	free(dir);
	free(e);
}

static void
create_remote(const char *local, const char *remote)
{
	struct imap_reply rep;
	char *raw, *why = NULL;
	uint32_t tag;

	if (dry) {
		rec_puts(&out, "would");
		rec_puts(&out, "create-remote");
		rec_puts(&out, remote);
		rec_puts(&out, local);
		rec_end(&out);
		return;
	}
	if (connect_once() == -1)
		return;
	raw = raw_name(remote);
	tag = imap_cmd(im, "CREATE %a", raw);
	if (tag == 0 || imap_wait(im, tag, &rep) == -1) {
		free(raw);
		lost();
		return;
	}
	if (rep.status != IS_OK && !(rep.code && strcmp(rep.code,
	    "ALREADYEXISTS") == 0))
		why = reply_text(&rep);
	imap_reply_free(&rep);
	if (why == NULL && rem.subscribedonly) {
		/* a listing of subscribed folders must see it */
		tag = imap_cmd(im, "SUBSCRIBE %a", raw);
		if (tag == 0 || imap_wait(im, tag, &rep) == -1) {
			free(raw);
			lost();
			return;
		}
		if (rep.status != IS_OK)
			why = reply_text(&rep);
		imap_reply_free(&rep);
	}
	free(raw);
	step();
	rec_puts(&out, why ? "failed" : "done");
	rec_puts(&out, "create-remote");
	rec_puts(&out, remote);
	rec_puts(&out, why ? why : local);
	rec_end(&out);
	if (why) {
		status = EXIT_FAIL;
		warnx("create-remote %s: %s", remote, why);
	}
	free(why);
}

/* ---- a renumbered folder ---- */

/*
 * The server gave a folder a new UIDVALIDITY: every UID of the status
 * and of the local file names means nothing now.  Messages are matched
 * by Message-ID and size (as sent, CRLF), as mbsync does; when every
 * local message with a UID matches exactly one on the server, the files
 * are renamed to the new UIDs, the status is rewritten and the new
 * UIDVALIDITY saved.  Otherwise nothing is changed.  Each step can be
 * repeated: the matching looks at contents, not at UIDs.
 */
struct rv_msg {
	char		*msgid;
	uint64_t	 size;
	uint32_t	 uid;		/* remote: the new; local: in the name */
	char		*path;		/* local */
	size_t		 twin;		/* matching entry + 1, 0 none */
};

struct rv_state {
	struct rv_msg	*r, *l;
	size_t		 nr, nl;
	struct sb	 hdr;		/* header fields of the response */
	uint32_t	 hmsgno;
	const char	*dir, *fmd5;
	char		*err;
};
static struct rv_state *rvs;

static int
rv_sink(void *ctx, uint32_t msgno, const char *item, uint32_t uid,
    uint64_t total, const char *data, size_t n, int final)
{
	(void)ctx;
	(void)uid;
	(void)total;
	(void)final;
	if (strncmp(item, "BODY[HEADER.FIELDS", 18) != 0)
		return 0;
	if (rvs->hmsgno != msgno) {
		sb_reset(&rvs->hdr);
		rvs->hmsgno = msgno;
	}
	if (rvs->hdr.len + n <= 65536 && sb_add(&rvs->hdr, data, n) == -1)
		return -1;
	return 0;
}

static int
rv_untagged(void *ctx, struct imap *c, const struct iresp *r)
{
	const struct ival *v;
	uint32_t uid, size;
	struct rv_msg *m;

	(void)ctx;
	(void)c;
	if (r->name == NULL || strcmp(r->name, "FETCH") != 0 || r->args.n != 1 ||
	    (v = ival_get(&r->args.items[0], "UID")) == NULL ||
	    ival_u32(v, &uid) == -1 ||
	    (v = ival_get(&r->args.items[0], "RFC822.SIZE")) == NULL ||
	    ival_u32(v, &size) == -1)
		return 0;
	rvs->r = xreallocarray(rvs->r, rvs->nr + 1, sizeof(*rvs->r));
	m = &rvs->r[rvs->nr++];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->size = size;
	if (rvs->hmsgno == r->number && rvs->hdr.len)
		m->msgid = msg_header_msgid(rvs->hdr.s, rvs->hdr.len);
	sb_reset(&rvs->hdr);
	rvs->hmsgno = 0;
	return 0;
}

static int
rv_local(void *ctx, const char *sub, int dfd, const char *name, size_t len)
{
	struct maildir_name mn;
	struct msgsrc src;
	struct rv_msg *m;
	char *path, *e;

	(void)ctx;
	(void)dfd;
	maildir_parse_name(name, len, rvs->fmd5, mopts.winsep, &mn);
	if (mn.uid == 0)
		return 0;	/* new here: uploaded by a later sync */
	if (asprintf(&path, "%s/%s/%s", rvs->dir, sub, name) == -1)
		err(EXIT_FAIL, "asprintf");
	if (msgsrc_open(&src, path, NULL, &e) == -1) {
		free(rvs->err);
		rvs->err = e;
		free(path);
		return -1;
	}
	rvs->l = xreallocarray(rvs->l, rvs->nl + 1, sizeof(*rvs->l));
	m = &rvs->l[rvs->nl++];
	memset(m, 0, sizeof(*m));
	m->uid = mn.uid;
	m->size = src.size;
	m->msgid = src.msgid;
	src.msgid = NULL;
	msgsrc_close(&src);
	free(path);
	if (asprintf(&m->path, "%s/%s", sub, name) == -1)
		err(EXIT_FAIL, "asprintf");
	return 0;
}

static int
rv_cmp(const void *a, const void *b)
{
	const struct rv_msg *x = a, *y = b;
	int c = strcmp(x->msgid ? x->msgid : "", y->msgid ? y->msgid : "");

	if (c)
		return c;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* Entries of v (sorted) equal to v[i]: how many. */
static size_t
rv_count(const struct rv_msg *v, size_t n, const struct rv_msg *k)
{
	const struct rv_msg *p = bsearch(k, v, n, sizeof(*v), rv_cmp);
	size_t c = 0, i;

	if (p == NULL)
		return 0;
	i = (size_t)(p - v);
	while (i > 0 && rv_cmp(&v[i - 1], k) == 0)
		i--;
	for (; i < n && rv_cmp(&v[i], k) == 0; i++)
		c++;
	return c;
}

struct rv_rows {
	uint32_t	*uid;
	char		**flags;
	size_t		 n;
};

static int
rv_row(void *ctx, uint32_t uid, const char *flags, long long mtime,
    const char *labels)
{
	struct rv_rows *t = ctx;

	(void)mtime;
	(void)labels;
	t->uid = xreallocarray(t->uid, t->n + 1, sizeof(*t->uid));
	t->flags = xreallocarray(t->flags, t->n + 1, sizeof(*t->flags));
	t->uid[t->n] = uid;
	t->flags[t->n++] = xstrdup(flags ? flags : "");
	return 0;
}

static void
revalidate(uint32_t newv, uint32_t oldv, const char *fmd5,
    const char *remote, const char *local, const char *spath)
{
	struct rv_state st = { 0 };
	struct rv_rows rows = { 0 };
	struct status *db = NULL;
	struct folder f = { 0 };
	struct imap_reply rep;
	char *e = NULL, *why = NULL;
	size_t i, unmatched = 0, renamed = 0, matched = 0;
	uint32_t tag;
	uint32_t saved;
	int rv;

	if (dry) {
		rec_puts(&out, "would");
		rec_puts(&out, "revalidate");
		rec_puts(&out, remote);
		rec_puts(&out, "match the messages by Message-ID and size");
		rec_end(&out);
		return;
	}
	rvs = &st;
	st.fmd5 = fmd5;
	f.remote = (char *)remote;
	f.uidvalidity = newv;
	if ((f.dir = maildir_folder_path(root, local, sep, &e)) == NULL) {
		why = e;
		goto out;
	}
	st.dir = f.dir;
	/* the saved UIDVALIDITY must still be the one the plan saw */
	if ((rv = validity_read(metadata, rrepo, remote, &saved, &e)) == -1) {
		why = e;
		goto out;
	}
	if (rv == 1 && saved == newv) {
		why = xstrdup("already done");
		goto out;
	}
	if (rv == 0 || saved != oldv) {
		why = xstrdup("the saved UIDVALIDITY is not the plan's: plan "
		    "again");
		goto out;
	}
	if (connect_once() == -1)
		goto out;
	if (select_folder(&f, 0) != 0 || f.sel_uidvalidity != newv) {
		why = xstrdup("the server's UIDVALIDITY is not the plan's");
		goto out;
	}
	imap_set_untagged(im, rv_untagged, NULL);
	imap_set_sink(im, rv_sink, NULL);
	tag = imap_cmd(im, "UID FETCH 1:* (UID RFC822.SIZE "
	    "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
	rv = (tag == 0 || imap_wait(im, tag, &rep) == -1) ? -1 : 0;
	imap_set_untagged(im, on_untagged, NULL);
	imap_set_sink(im, NULL, NULL);
	if (rv == -1) {
		lost();
		goto out;
	}
	if (rep.status != IS_OK) {
		why = reply_text(&rep);
		imap_reply_free(&rep);
		goto out;
	}
	imap_reply_free(&rep);
	if (maildir_each_file(f.dir, rv_local, NULL, &e) == -1) {
		why = e ? e : st.err;
		st.err = NULL;
		goto out;
	}
	if (st.nr > 1)
		qsort(st.r, st.nr, sizeof(*st.r), rv_cmp);
	if (st.nl > 1)
		qsort(st.l, st.nl, sizeof(*st.l), rv_cmp);
	for (i = 0; i < st.nl; i++) {
		struct rv_msg *m = &st.l[i], *p;

		if (m->msgid == NULL || rv_count(st.r, st.nr, m) != 1 ||
		    rv_count(st.l, st.nl, m) != 1) {
			unmatched++;
			continue;
		}
		p = bsearch(m, st.r, st.nr, sizeof(*st.r), rv_cmp);
		m->twin = (size_t)(p - st.r) + 1;
	}
	if (unmatched) {
		if (asprintf(&why, "%zu of %zu local messages have no "
		    "Message-ID, or one that is not unique, or no twin of "
		    "the same size on the server: nothing changed.  Way out: "
		    "move the local folder away, remove its status file and "
		    "FolderValidity, sync, compare", unmatched, st.nl) == -1)
			err(EXIT_FAIL, "asprintf");
		goto out;
	}
	/* the files first (a rerun matches them again), then the status,
	 * then the new UIDVALIDITY */
	for (i = 0; i < st.nl; i++) {
		struct rv_msg *m = &st.l[i];
		uint32_t nu = st.r[m->twin - 1].uid;
		char *fl, *nrel;

		matched++;
		if (nu == m->uid)
			continue;
		fl = name_flags(m->path);
		if (maildir_set_uid(f.dir, m->path, nu, fmd5, fl, mopts.winsep,
		    mopts.fsync, &nrel, &e) == -1) {
			free(fl);
			why = e;
			goto out;
		}
		free(fl);
		free(nrel);
		renamed++;
		step();
	}
	if (status_open(&db, spath, ST_CREATE, &e) == -1) {
		why = e;
		goto out;
	}
	if (status_foreach(db, rv_row, &rows) == -1 ||
	    status_begin(db) == -1) {
		why = xstrdup(status_error(db));
		goto out;
	}
	for (rv = 0, i = 0; rv == 0 && i < rows.n; i++)
		rv = status_delete(db, rows.uid[i]);
	for (i = 0; rv == 0 && i < st.nl; i++) {
		struct rv_msg *m = &st.l[i];
		const char *fl = NULL;
		char *nf = NULL;
		uint32_t *hit = rows.n ? bsearch(&m->uid, rows.uid, rows.n,
		    sizeof(*rows.uid), cmpu32) : NULL;

		/* the flags both sides agreed on, under the old UID */
		if (hit)
			fl = rows.flags[hit - rows.uid];
		else
			fl = nf = name_flags(m->path);
		rv = status_put(db, st.r[m->twin - 1].uid, fl);
		free(nf);
	}
	if (rv == -1 || status_commit(db) == -1) {
		why = xstrdup(status_error(db));
		status_rollback(db);
		goto out;
	}
	step();
	if (validity_write(metadata, rrepo, remote, newv, mopts.fsync, &e) ==
	    -1) {
		why = e;
		goto out;
	}
out:
	if (lost_conn && why == NULL)
		why = xstrdup("connection lost");
	rec_puts(&out, why ? "failed" : "done");
	rec_puts(&out, "revalidate");
	rec_puts(&out, remote);
	if (why)
		rec_puts(&out, why);
	else {
		char *d;

		if (asprintf(&d, "%zu matched by Message-ID and size, %zu "
		    "renamed; UIDVALIDITY %u saved", matched, renamed, newv) ==
		    -1)
			err(EXIT_FAIL, "asprintf");
		rec_puts(&out, d);
		free(d);
	}
	rec_end(&out);
	if (why) {
		warnx("%s: revalidate: %s", remote, why);
		status = EXIT_FAIL;
	}
	free(why);
	if (db)
		status_close(db);
	for (i = 0; i < rows.n; i++)
		free(rows.flags[i]);
	free(rows.uid);
	free(rows.flags);
	for (i = 0; i < st.nr; i++)
		free(st.r[i].msgid);
	for (i = 0; i < st.nl; i++) {
		free(st.l[i].msgid);
		free(st.l[i].path);
	}
	free(st.r);
	free(st.l);
	free(st.err);
	sb_free(&st.hdr);
	free(f.dir);
	rvs = NULL;
}

/* ---- reading the plan ---- */

static char *
flags_field(const char *s)
{
	char *r;

	if (strcmp(s, "-") == 0)
		return NULL;
	r = xstrdup(s);
	maildir_flags_norm(r);
	return r;
}

/*
 * The plan is read ahead of the folder being applied, up to the next folder
 * that needs the server (or up to something else than a folder, or the
 * end), so that a folder can send that one's SELECT early (presend).  At
 * most QUEUE_ACTS actions, or QUEUE_FOLDERS folders, wait read ahead.
 */
#define QUEUE_ACTS	4096
#define QUEUE_FOLDERS	1024

struct queue {
	struct folder	**f;
	size_t		  n, cap, acts;
};

/* Apply the first n folders of the queue, each knowing the next folder
 * of the queue that needs the server. */
static void
queue_apply(struct queue *q, size_t n)
{
	size_t i, j, done = 0;
	int rw;

	for (i = 0; i < n && !lost_conn && !stopping; i++) {
		for (j = i + 1; j < q->n && !needs_remote(q->f[j], &rw); j++)
			;
		upcoming = j < q->n ? q->f[j] : NULL;
		apply_folder(q->f[i]);
		upcoming = NULL;
		done = i + 1;
	}
	/* after a signal or a lost connection the rest is not applied */
	if (done < n)
		n = q->n;
	for (i = 0; i < n; i++) {
		q->acts -= q->f[i]->n;
		folder_clear(q->f[i]);
		free(q->f[i]);
	}
	memmove(q->f, q->f + n, (q->n - n) * sizeof(*q->f));
	q->n -= n;
}

/* A folder was read whole: apply what comes before the last folder of
 * the queue that needs the server. */
static void
queue_push(struct queue *q, struct folder *f)
{
	size_t last;
	int rw;

	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->f = xreallocarray(q->f, q->cap, sizeof(*q->f));
	}
	q->f[q->n++] = f;
	q->acts += f->n;
	if (q->acts > QUEUE_ACTS || q->n > QUEUE_FOLDERS) {
		queue_apply(q, q->n);
		return;
	}
	for (last = q->n - 1; last > 0 && !needs_remote(q->f[last], &rw);
	    last--)
		;
	if (last > 0)
		queue_apply(q, last);
}

/* A plan that cannot be read on: the whole folders before the bad
 * record are applied first (as when each is applied at its end). */
static void __attribute__((noreturn, format(printf, 2, 3)))
plan_bad(struct queue *q, const char *fmt, ...)
{
	va_list ap;

	queue_apply(q, q->n);
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	exit(EXIT_FAIL);
}

static void
read_plan(FILE *fp, const char *name)
{
	static const struct {
		const char	*name;
		enum akind	 kind;
		size_t		 nf;
	} kinds[] = {
		{ "fetch", A_FETCH, 4 },
		{ "upload", A_UPLOAD, 4 },
		{ "flags-local", A_FLAGS_LOCAL, 5 },
		{ "flags-remote", A_FLAGS_REMOTE, 5 },
		{ "delete-local", A_DELETE_LOCAL, 4 },
		{ "delete-remote", A_DELETE_REMOTE, 4 },
		{ "status", A_STATUS, 4 },
		{ "forget", A_FORGET, 3 },
	};
	struct rec_reader *r;
	struct rec *rec;
	/* a folder is applied once the next one is read too (or the plan
	 * goes on with something else, or ends): see presend() */
	struct queue q = { 0 };
	struct folder *f = xcalloc(1, sizeof(*f));
	int rv, infolder = 0;

	if ((r = rec_reader_new(fp, name, 0)) == NULL)
		err(EXIT_FAIL, "rec_reader_new");
	if (rec_expect(r, "sync-plan", 1) == -1)
		errx(EXIT_FAIL, "%s", rec_error(r));
	while (!lost_conn && !stopping && (rv = rec_read(r, &rec)) == 1) {
		const char *k = rec->f[0];
		unsigned long long v;
		size_t i;

		for (i = 0; i < rec->nf; i++)
			if (rec_cstr(r, rec, i) == -1)
				plan_bad(&q, "%s", rec_error(r));
		if (q.n && !infolder && strcmp(k, "folder") != 0 &&
		    strcmp(k, "refuse") != 0) {
			queue_apply(&q, q.n);
			if (lost_conn || stopping)
				break;
		}
		if (strcmp(k, "account") == 0) {
			if (rec->nf < 2 || strcmp(rec->f[1], account) != 0)
				plan_bad(&q, "%s:%lu: the plan is for account "
				    "\"%s\", not \"%s\"", name, rec_lineno(r),
				    rec->nf < 2 ? "" : rec->f[1], account);
			continue;
		}
		if (strcmp(k, "create-local") == 0 && rec->nf >= 3 && !infolder) {
			create_local(rec->f[1], rec->f[2]);
			continue;
		}
		if (strcmp(k, "create-remote") == 0 && rec->nf >= 3 && !infolder) {
			create_remote(rec->f[1], rec->f[2]);
			continue;
		}
		if (strcmp(k, "revalidate") == 0 && !infolder) {
			unsigned long long ov;

			if (rec->nf < 7 || rec_u64(r, rec, 1, &v) == -1 ||
			    rec_u64(r, rec, 2, &ov) == -1 || v == 0 ||
			    v > UINT32_MAX || ov == 0 || ov > UINT32_MAX ||
			    strlen(rec->f[3]) != MD_FMD5_LEN)
				plan_bad(&q, "%s:%lu: malformed revalidate "
				    "record", name, rec_lineno(r));
			revalidate((uint32_t)v, (uint32_t)ov, rec->f[3],
			    rec->f[4], rec->f[5], rec->f[6]);
			continue;
		}
		if (strcmp(k, "refuse") == 0)
			continue;	/* sync-plan said it already */
		if (strcmp(k, "folder") == 0) {
			if (infolder)
				plan_bad(&q, "%s:%lu: folder before the end "
				    "of the last one", name, rec_lineno(r));
			if (rec->nf < 6 || rec_u64(r, rec, 1, &v) == -1 ||
			    v == 0 || v > UINT32_MAX ||
			    strlen(rec->f[2]) != MD_FMD5_LEN)
				plan_bad(&q, "%s:%lu: malformed folder record",
				    name, rec_lineno(r));
			f->uidvalidity = (uint32_t)v;
			memcpy(f->fmd5, rec->f[2], MD_FMD5_LEN + 1);
			f->remote = xstrdup(rec->f[3]);
			f->local = xstrdup(rec->f[4]);
			f->spath = xstrdup(rec->f[5]);
			infolder = 1;
			continue;
		}
		if (strcmp(k, "end") == 0) {
			if (!infolder)
				plan_bad(&q, "%s:%lu: end outside a folder",
				    name, rec_lineno(r));
			infolder = 0;
			queue_push(&q, f);
			f = xcalloc(1, sizeof(*f));
			continue;
		}
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strcmp(k, kinds[i].name) == 0)
				break;
		if (i == sizeof(kinds) / sizeof(kinds[0]))
			plan_bad(&q, "%s:%lu: unknown record \"%s\"", name,
			    rec_lineno(r), k);
		if (!infolder)
			plan_bad(&q, "%s:%lu: %s outside a folder: not "
			    "applied", name, rec_lineno(r), k);
		if (rec->nf < kinds[i].nf)
			plan_bad(&q, "%s:%lu: %s needs %zu fields", name,
			    rec_lineno(r), k, kinds[i].nf);
		{
			struct act a = { 0 };

			a.kind = kinds[i].kind;
			a.line = rec_lineno(r);
			if (strcmp(rec->f[1], "none") == 0 && a.kind == A_UPLOAD)
				a.uid = 0;
			else if (rec_u64(r, rec, 1, &v) == -1 || v == 0 ||
			    v > UINT32_MAX)
				plan_bad(&q, "%s:%lu: bad UID \"%s\"", name,
				    rec_lineno(r), rec->f[1]);
			else
				a.uid = (uint32_t)v;
			switch (a.kind) {
			case A_FETCH:
			case A_UPLOAD:
				a.to = flags_field(rec->f[2]);
				if (a.kind == A_UPLOAD)
					a.path = xstrdup(rec->f[3]);
				break;
			case A_FLAGS_LOCAL:
			case A_FLAGS_REMOTE:
			case A_STATUS:
				a.from = flags_field(rec->f[2]);
				a.to = flags_field(rec->f[3]);
				if (a.kind == A_FLAGS_LOCAL)
					a.path = xstrdup(rec->f[4]);
				else if (a.kind == A_FLAGS_REMOTE) {
					if (rec_u64(r, rec, 4, &v) == -1)
						plan_bad(&q, "%s",
						    rec_error(r));
					a.modseq = v;
				}
				break;
			case A_DELETE_LOCAL:
				a.from = flags_field(rec->f[2]);
				a.path = xstrdup(rec->f[3]);
				break;
			case A_DELETE_REMOTE:
				a.from = flags_field(rec->f[2]);
				if (rec_u64(r, rec, 3, &v) == -1)
					plan_bad(&q, "%s", rec_error(r));
				a.modseq = v;
				break;
			case A_FORGET:
				a.from = flags_field(rec->f[2]);
				break;
			}
			if (a.path && (a.path[0] == '/' || strstr(a.path, "..") ||
			    (strncmp(a.path, "cur/", 4) != 0 &&
			    strncmp(a.path, "new/", 4) != 0) ||
			    strchr(a.path + 4, '/')))
				plan_bad(&q, "%s:%lu: path \"%s\" is not a "
				    "file in cur/ or new/", name, rec_lineno(r),
				    a.path);
			if (f->n == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 64;
				f->a = xreallocarray(f->a, f->cap, sizeof(*f->a));
			}
			f->a[f->n++] = a;
		}
	}
	/* the folders read ahead; also before a read error: they are whole */
	queue_apply(&q, q.n);
	free(q.f);
	/* an early SELECT of a folder not applied: its reply is not read */
	presel = selecting = NULL;
	if (stopping) {
		warnx("stopped by a signal: the folders after the last one "
		    "done are not applied");
		lost_conn = EXIT_RETRY;
	}
	if (!lost_conn && rv == -1)
		errx(EXIT_FAIL, "%s", rec_error(r));
	if (infolder && !lost_conn)
		errx(EXIT_FAIL, "%s: the plan ends inside folder \"%s\" (no "
		    "end record): not applied", name, f->remote);
	folder_clear(f);
	free(f);
	rec_reader_free(r);
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *path = NULL, *e, *repo;
	const char *stop;
	struct maildir_repo lr;
	FILE *fp = stdin;
	int ch, nk = 0, zflag = 0, pflag = 0;

	signal(SIGPIPE, SIG_IGN);
	{
		/* the first TERM, INT or HUP finishes the current folder;
		 * a second one ends the process at once (nothing is left
		 * half-written either way: see Crash safety) */
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop;
		sa.sa_flags = SA_RESTART | SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGTERM, &sa, NULL) == -1 ||
		    sigaction(SIGINT, &sa, NULL) == -1 ||
		    sigaction(SIGHUP, &sa, NULL) == -1)
			err(EXIT_FAIL, "sigaction");
	}
	while ((ch = getopt(argc, argv, "a:c:dhk:npz")) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'd':
			trace = 1;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		case 'p':
			pflag = 1;
			break;
		case 'z':
			zflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (account == NULL || argc > 1)
		usage();
	if ((stop = getenv("OI_TEST_APPLY_STOP")) != NULL)
		stop_at = strtoul(stop, NULL, 10);
	/* one record per line as it happens: progress for a reader */
	setvbuf(stdout, NULL, _IOLBF, 0);
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);
	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if ((repo = remote_of_account(cfg, account, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (remote_init(&rem, cfg, repo, account) == -1)
		errx(EXIT_FAIL, "%s", rem.err);
	rrepo = repo;
	if (config_bool(cfg, rem.section, "expunge", &doexpunge) == -1 ||
	    config_value(cfg, "general", "metadata", &metadata) != 1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	if (maildir_repo_load(&lr, cfg, account, &e) == -1)
		errx(EXIT_FAIL, "%s", e);
	root = lr.root;
	sep = lr.sep;
	mopts.winsep = lr.winsep;
	if (config_bool(cfg, "general", "fsync", &mopts.fsync) == -1 ||
	    config_bool(cfg, lr.section, "utime_from_header",
	    &mopts.utime_from_header) == -1 ||
	    config_bool(cfg, lr.section, "filename_use_mail_timestamp",
	    &mopts.filename_use_mail_timestamp) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	if (maildir_kwmap_load(&kw, cfg, lr.section, &e) == -1)
		errx(EXIT_FAIL, "%s", e);
	if (pflag && !dry)
		preconnect();
#ifdef __linux__
	/* -p: the plan comes through a FIFO its writer may never open (the
	 * driver killed): while nothing is read, the driver's end is ours
	 * (KILL: nothing is done yet, and a TERM would not end the open) */
	if (pflag && (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() == 1))
		pflag = 0;
#endif
	if (argc == 1 && strcmp(argv[0], "-") != 0 &&
	    (fp = fopen(argv[0], "r")) == NULL)
		err(EXIT_FAIL, "%s", argv[0]);
#ifdef __linux__
	if (pflag && prctl(PR_SET_PDEATHSIG, 0) == -1)
		err(EXIT_FAIL, "prctl");
#endif

	rec_header(&out, "sync-apply", 1, 0);
	read_plan(fp, argc == 1 ? argv[0] : "stdin");
	if (fp != stdin)
		fclose(fp);
	if (im) {
		if (!lost_conn)
			imap_logout(im);
		imap_free(im);
	}
	maildir_kwmap_free(&kw);
	maildir_repo_free(&lr);
	remote_free(&rem);
	config_free(cfg);
	free(found);
	free(repo);
	free(metadata);
	free(kopts);
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return lost_conn ? lost_conn : status;
}
