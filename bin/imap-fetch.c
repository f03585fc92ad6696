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
#include "fetch.h"
#include "imap.h"
#include "maildir.h"
#include "mutf7.h"
#include "record.h"
#include "remote.h"
#include "run.h"
#include "util.h"

struct job {
	char		*name;		/* remote, as the account sees it */
	char		 delim[8];
	uint32_t	 uidvalidity;	/* from the input, 0: unknown */
	struct fetch_item *w;
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

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imap-fetch [-dz] -a account [-c file] "
	    "[-k [section:]option=value] [folder uid ...]\n");
	exit(EXIT_FAIL);
}

/*
 * The connection failed: the messages received whole were kept (made
 * durable and renamed in, as any batch), the one cut short was removed
 * from tmp/, and the exit status says to try again.
 */
static void __attribute__((noreturn))
lost(void)
{
	fflush(stdout);
	errx(imap_errkind(im) == IMAP_ERR_RETRY ? EXIT_RETRY : EXIT_FAIL,
	    "%s", imap_error(im));
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
	char *l = fetch_letters(&kw, imapflags);

	if (l == NULL)
		err(EXIT_FAIL, "flags");
	return l;
}

static int
on_untagged(void *ctx, struct imap *c, const struct iresp *r)
{
	(void)ctx;
	(void)c;
	if (listing && r->name && strcmp(r->name, "LIST") == 0 &&
	    r->args.n >= 3 && ival_str(&r->args.items[1]))
		snprintf(listing->delim, sizeof(listing->delim), "%s",
		    ival_str(&r->args.items[1]));
	return 0;
}

/* One record per message as its fate is known. */
static void
report(void *ctx, struct fetch_item *it)
{
	size_t *count = ctx;

	switch (it->state) {
	case FS_STORED:
		put_rec("stored", it->uid, it->flags ? it->flags : "",
		    it->path);
		(*count)++;
		break;
	case FS_PRESENT:
		put_rec("present", it->uid, it->path, NULL);
		break;
	case FS_GONE:
		put_rec("gone", it->uid, NULL, NULL);
		break;
	case FS_FAILED:
		put_rec("failed", it->uid, it->why, NULL);
		status = EXIT_FAIL;
		break;
	case FS_WANT:
		break;
	}
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

static void
fetch_folder(struct job *j)
{
	char *visible, *local, *lvis, *why = NULL, *raw, *dir = NULL;
	char fmd5[MD_FMD5_LEN + 1];
	struct fetch_job fj = { 0 };
	size_t count = 0;
	int rv;

	fetch_sort(j->w, &j->n);

	/* the local folder, OfflineIMAP's way */
	visible = translate(rnametrans, j->name, "remote nametrans");
	local = xstrdup(visible);
	for (size_t i = 0; j->delim[0] && local[i]; i++)
		if (local[i] == j->delim[0])
			local[i] = sep;
	lvis = translate(lnametrans, local, "local nametrans");
	maildir_fmd5(lvis, strlen(lvis), fmd5);
	/* (also when the directory is there: one killed in the middle of
	 * creating it has no cur, new or tmp yet) */
	if ((dir = maildir_folder_path(root, local, sep, &why)) == NULL ||
	    maildir_create(root, local, sep, &why) == -1) {
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

	raw = rem.utf8names ? mutf7_encode(j->name) : xstrdup(j->name);
	if (raw == NULL)
		errx(EXIT_FAIL, "\"%s\": not UTF-8", j->name);
	fj.im = im;
	fj.mailbox = raw;
	fj.uidvalidity = j->uidvalidity;
	fj.dir = dir;
	fj.fmd5 = fmd5;
	fj.mopts = &mopts;
	fj.kw = &kw;
	fj.items = j->w;
	fj.n = j->n;
	fj.report = report;
	fj.ctx = &count;
	rv = fetch_run(&fj);
	free(raw);
	imap_set_untagged(im, on_untagged, NULL);
	if (rv == -1)
		lost();
	if (rv == 1) {
		rec_puts(&out, "error");
		rec_puts(&out, fj.err ? fj.err : "cannot fetch");
		rec_puts(&out, j->name);
		rec_end(&out);
		status = EXIT_FAIL;
	} else {
		if (fj.err) {
			warnx("%s: UID FETCH: %s", j->name, fj.err);
			status = EXIT_FAIL;
		}
		rec_puts(&out, "end");
		rec_putu(&out, count);
		rec_puts(&out, j->name);
		rec_end(&out);
	}
	free(fj.err);
out:
	free(visible);
	free(local);
	free(lvis);
	free(why);
	free(dir);
}

static void
job_free(struct job *j)
{
	fetch_items_free(j->w, j->n);
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
	memset(&j->w[j->n], 0, sizeof(j->w[j->n]));
	j->w[j->n].uid = uid;
	j->w[j->n].flags = flags;
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

	rec_header(&out, "imap-fetch", 1, 0);
	if (argc > 0)
		from_operands(argc, argv);
	else
		from_records();
	if (im) {
		imap_logout(im);
		imap_free(im);
	}
	maildir_kwmap_free(&kw);
	remote_free(&rem);
	config_free(cfg);
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
