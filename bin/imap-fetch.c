/*
 * imap-fetch - download messages by UID from the remote folders of an
 * account into its local Maildir, over one login, pipelined, each body
 * streamed from the socket into tmp/ (CRLF made LF, nothing else changed),
 * made durable a batch at a time, then renamed into place under
 * OfflineIMAP's file names.  One record per message tells what happened.
 */
#include <err.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imap.h"
#include "maildir.h"
#include "mutf7.h"
#include "record.h"
#include "remote.h"
#include "run.h"
#include "util.h"

#define CHUNK	500		/* UIDs per UID FETCH */

struct want {
	uint32_t	 uid;
	char		*flags;		/* Maildir letters, NULL: ask */
	int		 done;		/* a body arrived */
};

struct job {
	char		*name;		/* remote, as the account sees it */
	char		 delim[8];
	uint32_t	 uidvalidity;	/* from the input, 0: unknown */
	struct want	*w;
	size_t		 n, cap;
};

static struct rec_writer out;
static struct config *cfg;
static struct remote rem;
static struct imap *im;
static struct maildir_kwmap kw;
static struct maildir_opts mopts;
static char *root, *localsect, *pyfile, *rnametrans, *lnametrans;
static char sep = '.';
static int trace, status = EXIT_OK;

static struct job *listing;	/* learning a folder's delimiter */

/* While a folder's bodies stream in. */
static struct job *cur;
static uint32_t cur_uidvalidity;
static char cur_fmd5[MD_FMD5_LEN + 1];
static char *cur_dir;
static struct maildir_delivery *dl;
static struct maildir_batch *batch;
static uint32_t *batch_uids;
static size_t nbatch, capbatch;
static int pending_cr, dl_failed;
static char *dl_err;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imap-fetch [-dz] -a account [-c file] "
	    "[-k [section:]option=value] [folder uid ...]\n");
	exit(EXIT_FAIL);
}

static void flush_batch(void);

/*
 * The connection failed: the messages received whole are kept (made
 * durable and renamed in, as any batch), the one cut short is removed
 * from tmp/, and the exit status says to try again.
 */
static void __attribute__((noreturn))
lost(void)
{
	if (dl) {
		maildir_deliver_abort(dl);
		dl = NULL;
	}
	flush_batch();
	fflush(stdout);
	errx(imap_errkind(im) == IMAP_ERR_RETRY ? EXIT_RETRY : EXIT_FAIL,
	    "%s", imap_error(im));
}

static struct want *
find_want(uint32_t uid)
{
	size_t lo = 0, hi = cur->n;

	while (lo < hi) {	/* the wants are sorted by UID */
		size_t mid = (lo + hi) / 2;

		if (cur->w[mid].uid == uid)
			return &cur->w[mid];
		if (cur->w[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
put_rec(const char *kind, uint32_t uid, const char *a, const char *b)
{
	rec_puts(&out, kind);
	rec_putu(&out, uid);
	if (a)
		rec_puts(&out, a);
	if (b)
		rec_puts(&out, b);
	rec_end(&out);
}

static char *
imap_to_letters(const char *imapflags)
{
	struct sb l = { 0 }, un = { 0 };

	if (maildir_flags_from_imap(imapflags, &kw, &l, &un) == -1)
		err(EXIT_FAIL, "flags");
	sb_free(&un);	/* keywords without a letter stay on the server */
	return l.s ? l.s : xstrdup("");
}

/* FLAGS of a FETCH response as text, "\Seen \Flagged". */
static char *
flags_text(const struct ival *fl)
{
	struct sb b = { 0 };
	size_t i;

	for (i = 0; fl && fl->kind == IV_LIST && i < fl->n; i++)
		if (ival_str(&fl->items[i]))
			sb_printf(&b, "%s%s", b.len ? " " : "",
			    ival_str(&fl->items[i]));
	return b.s ? b.s : xstrdup("");
}

static int
on_untagged(void *ctx, struct imap *c, const struct iresp *r)
{
	const struct ival *v;
	uint32_t uid;

	(void)ctx;
	(void)c;
	if (listing && r->name && strcmp(r->name, "LIST") == 0 &&
	    r->args.n >= 3 && ival_str(&r->args.items[1]))
		snprintf(listing->delim, sizeof(listing->delim), "%s",
		    ival_str(&r->args.items[1]));
	if (cur == NULL)
		return 0;
	if (r->status != IS_NONE && r->code &&
	    strcmp(r->code, "UIDVALIDITY") == 0 && r->code_args.n)
		ival_u32(&r->code_args.items[0], &cur_uidvalidity);
	if (r->name == NULL || strcmp(r->name, "FETCH") != 0 ||
	    r->args.n != 1 || (v = ival_get(&r->args.items[0], "UID")) == NULL ||
	    ival_u32(v, &uid) == -1)
		return 0;
	/* flags asked for ahead of the bodies */
	if ((v = ival_get(&r->args.items[0], "FLAGS")) != NULL) {
		struct want *w = find_want(uid);

		if (w && w->flags == NULL) {
			char *t = flags_text(v);

			w->flags = imap_to_letters(t);
			free(t);
		}
	}
	return 0;
}

/* Body pieces, CRLF made LF across piece boundaries. */
static int
sink(void *ctx, uint32_t msgno, const char *item, uint32_t uid,
    uint64_t total, const char *data, size_t n, int final)
{
	struct want *w;
	char *e = NULL;
	size_t i, start;

	(void)ctx;
	(void)msgno;
	(void)total;
	if (cur == NULL || strcmp(item, "BODY[]") != 0)
		return 0;
	if (dl == NULL && !dl_failed) {
		if (uid == 0 || (w = find_want(uid)) == NULL || w->done) {
			/* not ours (or the UID came after the body) */
			dl_failed = 1;
			free(dl_err);
			dl_err = xstrdup(uid == 0 ? "the server sent the body "
			    "before the UID" : "a body not asked for");
		} else if (maildir_deliver_begin(&dl, cur_dir, cur_fmd5, uid,
		    w->flags ? w->flags : "", &mopts, &e) == -1) {
			dl_failed = 1;
			free(dl_err);
			dl_err = e;
		}
		pending_cr = 0;
	}
	for (i = start = 0; dl && i < n; i++) {
		if (pending_cr) {
			pending_cr = 0;
			if (data[i] != '\n' && maildir_deliver_write(dl, "\r", 1,
			    &e) == -1)
				goto fail;
		}
		if (data[i] != '\r')
			continue;
		if (i > start && maildir_deliver_write(dl, data + start,
		    i - start, &e) == -1)
			goto fail;
		if (i + 1 < n) {
			if (data[i + 1] != '\n' && maildir_deliver_write(dl,
			    "\r", 1, &e) == -1)
				goto fail;
		} else
			pending_cr = 1;
		start = i + 1;
	}
	if (dl && n > start && maildir_deliver_write(dl, data + start,
	    n - start, &e) == -1)
		goto fail;
	if (!final)
		return 0;
	if (dl && pending_cr && maildir_deliver_write(dl, "\r", 1, &e) == -1)
		goto fail;
	if (dl) {
		if ((w = find_want(uid)) != NULL)
			w->done = 1;
		if (maildir_batch_add(batch, dl, &e) == -1) {
			dl = NULL;
			goto failed_add;
		}
		if (nbatch == capbatch) {
			capbatch = capbatch ? capbatch * 2 : 64;
			batch_uids = xreallocarray(batch_uids, capbatch,
			    sizeof(*batch_uids));
		}
		batch_uids[nbatch++] = uid;
		dl = NULL;
	} else {
		if (uid && (w = find_want(uid)) != NULL)
			w->done = 1;
		put_rec("failed", uid, dl_err ? dl_err : "delivery failed",
		    NULL);
		status = EXIT_FAIL;
	}
	dl_failed = 0;
	free(dl_err);
	dl_err = NULL;
	return 0;
fail:
	maildir_deliver_abort(dl);
	dl = NULL;
failed_add:
	dl_failed = 1;
	free(dl_err);
	dl_err = e;
	if (final) {
		put_rec("failed", uid, dl_err ? dl_err : "delivery failed",
		    NULL);
		status = EXIT_FAIL;
		dl_failed = 0;
		free(dl_err);
		dl_err = NULL;
	}
	return 0;
}

/* Make the batch durable and visible, and say so. */
static void
flush_batch(void)
{
	char *e = NULL;
	size_t i;

	if (nbatch == 0)
		return;
	maildir_batch_commit(batch, &e);
	free(e);
	for (i = 0; i < nbatch; i++) {
		const char *name, *why;
		struct want *w = find_want(batch_uids[i]);

		if (maildir_batch_result(batch, i, &name, &why) == 0)
			put_rec("stored", batch_uids[i], w && w->flags ?
			    w->flags : "", name);
		else {
			put_rec("failed", batch_uids[i], why, NULL);
			status = EXIT_FAIL;
		}
	}
	maildir_batch_free(batch);
	if ((batch = maildir_batch_new()) == NULL)
		err(EXIT_FAIL, "maildir_batch_new");
	nbatch = 0;
}

/* One name through a Python nametrans (NULL: as it is). */
static char *
translate(const char *expr, const char *name, const char *what)
{
	char *names[1] = { (char *)name }, **res, *e, *v;

	if (expr == NULL)
		return xstrdup(name);
	if (run_python_map(expr, pyfile, what, names, 1, &res, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "nametrans failed");
	v = res[0];
	res[0] = NULL;
	run_free_list(res, 1);
	return v;
}

/* A present UID in the local folder: no second copy. */
struct present {
	uint32_t	 uid;
	char		*path;
};
static struct present *present;
static size_t npresent, cappresent;

static int
note_present(void *ctx, const char *sub, int dfd, const char *name,
    size_t len)
{
	struct maildir_name mn;

	(void)ctx;
	(void)dfd;
	maildir_parse_name(name, len, cur_fmd5, mopts.winsep, &mn);
	if (mn.uid == 0 || find_want(mn.uid) == NULL)
		return 0;
	if (npresent == cappresent) {
		cappresent = cappresent ? cappresent * 2 : 64;
		present = xreallocarray(present, cappresent, sizeof(*present));
	}
	present[npresent].uid = mn.uid;
	if (asprintf(&present[npresent].path, "%s/%s", sub, name) == -1)
		err(EXIT_FAIL, "asprintf");
	npresent++;
	return 0;
}

static int
cmpwant(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void
fetch_folder(struct job *j)
{
	char *visible, *local, *lvis, *why = NULL, *e = NULL, *raw;
	struct imap_reply rep;
	uint32_t etag, *tags, *ftags;
	size_t i, k, nt = 0, count = 0, w;
	struct sb set = { 0 };
	int ask_flags = 0;

	if (j->n > 1)
		qsort(j->w, j->n, sizeof(*j->w), cmpwant);
	for (i = w = 0; i < j->n; i++) {	/* duplicates: once */
		if (w > 0 && j->w[w - 1].uid == j->w[i].uid) {
			free(j->w[i].flags);
			continue;
		}
		j->w[w++] = j->w[i];
	}
	j->n = w;
	cur = j;
	cur_uidvalidity = 0;

	/* the local folder, OfflineIMAP's way */
	visible = translate(rnametrans, j->name, "remote nametrans");
	local = xstrdup(visible);
	for (i = 0; j->delim[0] && local[i]; i++)
		if (local[i] == j->delim[0])
			local[i] = sep;
	lvis = translate(lnametrans, local, "local nametrans");
	maildir_fmd5(lvis, strlen(lvis), cur_fmd5);
	free(cur_dir);
	if ((cur_dir = maildir_folder_path(root, local, sep, &why)) == NULL ||
	    (access(cur_dir, F_OK) == -1 && maildir_create(root, local, sep,
	    &why) == -1)) {
		rec_puts(&out, "error");
		rec_puts(&out, why ? why : "bad folder");
		rec_puts(&out, j->name);
		rec_end(&out);
		status = EXIT_FAIL;
		goto out;
	}
	rec_puts(&out, "mailbox");
	rec_putu(&out, j->uidvalidity);
	rec_puts(&out, local);
	rec_puts(&out, j->name);
	rec_end(&out);

	/* what the folder holds already is not fetched again */
	for (i = 0; i < npresent; i++)
		free(present[i].path);
	npresent = 0;
	if (maildir_each_file(cur_dir, note_present, NULL, &e) == -1) {
		rec_puts(&out, "error");
		rec_puts(&out, e ? e : "cannot read the folder");
		rec_puts(&out, j->name);
		rec_end(&out);
		free(e);
		status = EXIT_FAIL;
		goto out;
	}
	for (i = 0; i < npresent; i++) {
		struct want *pw = find_want(present[i].uid);

		if (pw && !pw->done) {
			pw->done = 2;
			put_rec("present", present[i].uid, present[i].path,
			    NULL);
		}
	}
	for (i = 0; i < j->n; i++)
		if (!j->w[i].done && j->w[i].flags == NULL)
			ask_flags = 1;

	raw = rem.utf8names ? mutf7_encode(j->name) : xstrdup(j->name);
	if (raw == NULL)
		errx(EXIT_FAIL, "\"%s\": not UTF-8", j->name);
	etag = imap_cmd(im, "EXAMINE %a", raw);
	free(raw);
	/* the UID sets, each sent before any answer is read */
	tags = xcalloc(j->n / CHUNK + 2, sizeof(*tags));
	ftags = xcalloc(j->n / CHUNK + 2, sizeof(*ftags));
	for (i = 0; i < j->n; ) {
		uint32_t start, last;

		sb_reset(&set);
		for (k = 0; i < j->n && k < CHUNK; i++) {
			if (j->w[i].done)
				continue;
			start = last = j->w[i].uid;
			while (i + 1 < j->n && k + 1 < CHUNK &&
			    !j->w[i + 1].done && j->w[i + 1].uid == last + 1) {
				last = j->w[++i].uid;
				k++;
			}
			k++;
			if (start == last)
				sb_printf(&set, "%s%u", set.len ? "," : "", start);
			else
				sb_printf(&set, "%s%u:%u", set.len ? "," : "",
				    start, last);
		}
		if (set.len == 0)
			break;
		/* flags first where no record gave them: a file is named
		 * with its flags when its body arrives */
		if (ask_flags)
			ftags[nt] = imap_cmd(im, "UID FETCH %s (UID FLAGS)",
			    set.s);
		tags[nt++] = imap_cmd(im, "UID FETCH %s (UID BODY.PEEK[])",
		    set.s);
	}
	if (imap_wait(im, etag, &rep) == -1)
		lost();
	if (rep.status != IS_OK || (j->uidvalidity && cur_uidvalidity !=
	    j->uidvalidity)) {
		char *msg;

		if (rep.status != IS_OK) {
			if (asprintf(&msg, "%s%s%s%s", rep.code ? "[" : "",
			    rep.code ? rep.code : "", rep.code ? "] " : "",
			    rep.text) == -1)
				err(EXIT_FAIL, "asprintf");
		} else if (asprintf(&msg, "UIDVALIDITY is %u, not %u: the "
		    "UIDs asked for name other messages now", cur_uidvalidity,
		    j->uidvalidity) == -1)
			err(EXIT_FAIL, "asprintf");
		imap_reply_free(&rep);
		rec_puts(&out, "error");
		rec_puts(&out, msg);
		rec_puts(&out, j->name);
		rec_end(&out);
		free(msg);
		status = EXIT_FAIL;
		/* drain the fetches without storing anything */
		cur = NULL;
		for (i = 0; i < nt; i++) {
			if (ftags[i] && imap_wait(im, ftags[i], &rep) == 0)
				imap_reply_free(&rep);
			if (imap_wait(im, tags[i], &rep) == 0)
				imap_reply_free(&rep);
		}
		free(tags);
		free(ftags);
		goto out;
	}
	imap_reply_free(&rep);
	for (i = 0; i < nt; i++) {
		if (ftags[i]) {
			if (imap_wait(im, ftags[i], &rep) == -1)
				lost();
			imap_reply_free(&rep);
		}
		if (imap_wait(im, tags[i], &rep) == -1)
			lost();
		if (rep.status != IS_OK) {
			warnx("%s: UID FETCH: %s", j->name, rep.text);
			status = EXIT_FAIL;
		}
		imap_reply_free(&rep);
		flush_batch();
	}
	free(tags);
	free(ftags);
	for (i = 0; i < j->n; i++) {
		if (j->w[i].done == 1)
			count++;
		else if (!j->w[i].done)
			put_rec("gone", j->w[i].uid, NULL, NULL);
	}
	rec_puts(&out, "end");
	rec_putu(&out, count);
	rec_puts(&out, j->name);
	rec_end(&out);
out:
	sb_free(&set);
	free(visible);
	free(local);
	free(lvis);
	free(why);
	cur = NULL;
}

static void
job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		free(j->w[i].flags);
	free(j->w);
	free(j->name);
	memset(j, 0, sizeof(*j));
}

static void
job_add(struct job *j, uint32_t uid, char *flags)
{
	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 256;
		j->w = xreallocarray(j->w, j->cap, sizeof(*j->w));
	}
	j->w[j->n].uid = uid;
	j->w[j->n].flags = flags;
	j->w[j->n].done = 0;
	j->n++;
}

static void
connect_once(void)
{
	int retry;

	if (im)
		return;
	if ((im = remote_connect(&rem, trace ? stderr : NULL, &retry)) == NULL)
		errx(retry ? EXIT_RETRY : EXIT_FAIL, "%s", rem.err);
	imap_set_untagged(im, on_untagged, NULL);
	imap_set_sink(im, sink, NULL);
}

/* The delimiter of a folder given by name: one LIST. */
static void
learn_delim(struct job *j)
{
	struct imap_reply rep;
	char *raw = rem.utf8names ? mutf7_encode(j->name) : xstrdup(j->name);
	uint32_t tag;

	if (raw == NULL)
		errx(EXIT_FAIL, "\"%s\": not UTF-8", j->name);
	listing = j;
	tag = imap_cmd(im, "LIST \"\" %a", raw);
	free(raw);
	if (tag == 0 || imap_wait(im, tag, &rep) == -1)
		lost();
	imap_reply_free(&rep);
	listing = NULL;
}

/* imap-messages records on stdin: mailbox sets the folder, msg a UID. */
static void
from_records(void)
{
	struct rec_reader *r;
	struct rec *rec;
	struct job j = { 0 };
	int rv;

	if ((r = rec_reader_new(stdin, "stdin", 0)) == NULL)
		err(EXIT_FAIL, "rec_reader_new");
	rec_expect(r, "imap-messages", 1);
	while ((rv = rec_read(r, &rec)) == 1) {
		unsigned long long v;

		if (strcmp(rec->f[0], "mailbox") == 0) {
			if (rec->nf < 8 || rec_u64(r, rec, 1, &v) == -1 ||
			    rec_cstr(r, rec, 7) == -1 || rec_cstr(r, rec, 6) == -1)
				errx(EXIT_FAIL, "%s", rec_error(r) ? rec_error(r) :
				    "stdin: malformed mailbox record");
			if (j.name && j.n)
				fetch_folder(&j);
			job_free(&j);
			j.name = xstrdup(rec->f[7]);
			j.uidvalidity = (uint32_t)v;
			snprintf(j.delim, sizeof(j.delim), "%s", rec->f[6]);
		} else if (strcmp(rec->f[0], "msg") == 0) {
			if (j.name == NULL)
				errx(EXIT_FAIL, "stdin:%lu: msg before any "
				    "mailbox record", rec_lineno(r));
			if (rec->nf < 3 || rec_u64(r, rec, 1, &v) == -1 ||
			    v == 0 || v > UINT32_MAX || rec_cstr(r, rec, 2) == -1)
				errx(EXIT_FAIL, "%s", rec_error(r) ? rec_error(r) :
				    "stdin: malformed msg record");
			connect_once();
			job_add(&j, (uint32_t)v, imap_to_letters(rec->f[2]));
		}
	}
	if (rv == -1)
		errx(EXIT_FAIL, "%s", rec_error(r));
	if (j.name && j.n)
		fetch_folder(&j);
	job_free(&j);
	rec_reader_free(r);
}

static void
from_operands(int argc, char **argv)
{
	struct job j = { 0 };
	int i;

	j.name = xstrdup(argv[0]);
	for (i = 1; i < argc; i++) {
		unsigned long a, b;
		char *end;

		a = strtoul(argv[i], &end, 10);
		b = a;
		if (*end == ':')
			b = strtoul(end + 1, &end, 10);
		if (*end != '\0' || a == 0 || b < a || b > UINT32_MAX ||
		    b - a > 10000000)
			errx(EXIT_FAIL, "\"%s\": want a UID or a range such as "
			    "1:50", argv[i]);
		for (; a <= b; a++)
			job_add(&j, (uint32_t)a, NULL);
	}
	connect_once();
	learn_delim(&j);
	fetch_folder(&j);
	job_free(&j);
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *path = NULL, *account = NULL, *e, *repo;
	char *lrepo, *sepv = NULL;
	int ch, nk = 0, zflag = 0, b;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "a:c:dhk:z")) != -1) {
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
		case 'z':
			zflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (account == NULL || argc == 1)
		usage();
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);
	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if ((repo = remote_of_account(cfg, account, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (remote_init(&rem, cfg, repo, account) == -1)
		errx(EXIT_FAIL, "%s", rem.err);

	/* the local side */
	if (asprintf(&e, "Account %s", account) == -1)
		err(EXIT_FAIL, "asprintf");
	if (config_value(cfg, e, "localrepository", &lrepo) != 1)
		errx(EXIT_FAIL, "[%s] has no localrepository", e);
	if (config_bool(cfg, e, "maildir-windows-compatible", &b) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	mopts.winsep = b;
	free(e);
	if (asprintf(&localsect, "Repository %s", lrepo) == -1)
		err(EXIT_FAIL, "asprintf");
	if (config_value(cfg, localsect, "localfolders", &root) != 1)
		errx(EXIT_FAIL, "[%s] has no localfolders", localsect);
	if (config_value(cfg, localsect, "sep", &sepv) == -1 ||
	    config_value(cfg, localsect, "nametrans", &lnametrans) == -1 ||
	    config_value(cfg, rem.section, "nametrans", &rnametrans) == -1 ||
	    config_value(cfg, "general", "pythonfile", &pyfile) == -1 ||
	    config_bool(cfg, "general", "fsync", &mopts.fsync) == -1 ||
	    config_bool(cfg, localsect, "utime_from_header",
	    &mopts.utime_from_header) == -1 ||
	    config_bool(cfg, localsect, "filename_use_mail_timestamp",
	    &mopts.filename_use_mail_timestamp) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	if (sepv == NULL || strlen(sepv) != 1)
		errx(EXIT_FAIL, "[%s] sep must be one character", localsect);
	sep = sepv[0];
	if (maildir_kwmap_load(&kw, cfg, localsect, &e) == -1)
		errx(EXIT_FAIL, "%s", e);
	if ((batch = maildir_batch_new()) == NULL)
		err(EXIT_FAIL, "maildir_batch_new");

	rec_header(&out, "imap-fetch", 1, 0);
	if (argc > 0)
		from_operands(argc, argv);
	else
		from_records();
	if (im) {
		imap_logout(im);
		imap_free(im);
	}
	maildir_batch_free(batch);
	maildir_kwmap_free(&kw);
	remote_free(&rem);
	config_free(cfg);
	for (size_t i = 0; i < npresent; i++)
		free(present[i].path);
	free(present);
	free(batch_uids);
	free(cur_dir);
	free(repo);
	free(lrepo);
	free(localsect);
	free(root);
	free(sepv);
	free(pyfile);
	free(lnametrans);
	free(rnametrans);
	free(kopts);
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return status;
}
