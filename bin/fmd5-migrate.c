/*
 * fmd5-migrate - rename Maildir files whose ,FMD5= is the old kind (md5 of
 * the folder name before the local nametrans, OfflineIMAP before 6.3.5) to
 * the current kind (after it), folder by folder, keeping UID, flags and
 * all the rest of the name.  Prints the renames as records; -n only
 * prints them, -f applies a reviewed list of them.  Stopping at any point
 * and running again finishes the job; nothing is renamed twice and no
 * file is ever replaced.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "maildir.h"
#include "record.h"
#include "util.h"

static struct rec_writer out;
static int nflag, status = EXIT_OK;
static struct maildir_repo mr;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: fmd5-migrate [-nz] -a account [-c file] "
	    "[-k [section:]option=value] [-f list] [folder ...]\n");
	exit(EXIT_FAIL);
}

/* Rename, never over an existing file: link, then unlink the old name. */
static int
rename_noreplace(const char *from, const char *to)
{
	if (link(from, to) == -1)
		return -1;
	if (unlink(from) == -1) {
		int e = errno;

		unlink(to);
		errno = e;
		return -1;
	}
	return 0;
}

/* A file of a folder, and what the folder holds under the new FMD5. */
struct file {
	char		*rel;		/* "cur/name" */
	uint32_t	 uid;
	int		 kind;		/* 0 other, 1 old FMD5, 2 new FMD5 */
};

struct folder_scan {
	const char	*old, *new;
	struct file	*f;
	size_t		 n, cap;
};

static int
collect(void *ctx, const char *sub, int dfd, const char *name, size_t len)
{
	struct folder_scan *fs = ctx;
	struct maildir_name mn;
	struct file *f;

	(void)dfd;
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 256;
		fs->f = xreallocarray(fs->f, fs->cap, sizeof(*fs->f));
	}
	f = &fs->f[fs->n];
	if (asprintf(&f->rel, "%s/%s", sub, name) == -1)
		err(EXIT_FAIL, "asprintf");
	maildir_parse_name(name, len, fs->new, mr.winsep, &mn);
	if (mn.fmd5 == MN_OURS) {
		f->kind = 2;
		f->uid = mn.uid;
	} else {
		maildir_parse_name(name, len, fs->old, mr.winsep, &mn);
		f->kind = mn.fmd5 == MN_OURS ? 1 : 0;
		f->uid = mn.uid;
	}
	fs->n++;
	return 0;
}

/* The name with FMD5=<old> made FMD5=<new> (the first occurrence). */
static char *
renamed(const char *rel, const char *old, const char *new)
{
	char pat[MD_FMD5_LEN + 8];
	const char *p;
	char *s;

	snprintf(pat, sizeof(pat), ",FMD5=%s", old);
	if ((p = strstr(rel, pat)) == NULL)
		return NULL;
	if (asprintf(&s, "%.*s,FMD5=%s%s", (int)(p - rel), rel, new,
	    p + strlen(pat)) == -1)
		err(EXIT_FAIL, "asprintf");
	return s;
}

static void
put(const char *kind, const char *a, const char *b, const char *c)
{
	rec_puts(&out, kind);
	rec_puts(&out, a);
	if (b)
		rec_puts(&out, b);
	if (c)
		rec_puts(&out, c);
	rec_end(&out);
}

static void
migrate_folder(const struct maildir_folder *fo)
{
	char oldmd5[MD_FMD5_LEN + 1], *dir, *why = NULL, *e = NULL;
	struct folder_scan fs = { 0 };
	size_t i, k, done = 0, conflicts = 0, already = 0;

	maildir_fmd5(fo->name, strlen(fo->name), oldmd5);
	if (strcmp(oldmd5, fo->fmd5) == 0)
		return;		/* no nametrans for this folder: nothing to do */
	if ((dir = maildir_folder_path(mr.root, fo->name, mr.sep, &why))
	    == NULL) {
		put("error", why ? why : "bad folder", fo->name, NULL);
		free(why);
		status = EXIT_FAIL;
		return;
	}
	fs.old = oldmd5;
	fs.new = fo->fmd5;
	if (maildir_each_file(dir, collect, &fs, &e) == -1) {
		put("error", e ? e : "cannot read the folder", fo->name, NULL);
		free(e);
		status = EXIT_FAIL;
		goto out;
	}
	rec_puts(&out, "folder");
	rec_puts(&out, oldmd5);
	rec_puts(&out, fo->fmd5);
	rec_puts(&out, fo->name);
	rec_end(&out);
	for (i = 0; i < fs.n; i++) {
		struct file *f = &fs.f[i];
		char *to, *pfrom, *pto;

		if (f->kind == 2)
			already++;
		if (f->kind != 1)
			continue;
		/* a file of the new kind with the same UID: OfflineIMAP's
		 * warning about migration; leave both alone */
		for (k = 0; f->uid && k < fs.n; k++)
			if (fs.f[k].kind == 2 && fs.f[k].uid == f->uid)
				break;
		if (f->uid && k < fs.n) {
			char num[16];

			snprintf(num, sizeof(num), "%u", f->uid);
			put("conflict", num, f->rel, fs.f[k].rel);
			warnx("%s: UID %u is in %s and in %s: left alone",
			    fo->name, f->uid, f->rel, fs.f[k].rel);
			conflicts++;
			status = EXIT_FAIL;
			continue;
		}
		if ((to = renamed(f->rel, oldmd5, fo->fmd5)) == NULL)
			continue;
		if (asprintf(&pfrom, "%s/%s", dir, f->rel) == -1 ||
		    asprintf(&pto, "%s/%s", dir, to) == -1)
			err(EXIT_FAIL, "asprintf");
		if (nflag || rename_noreplace(pfrom, pto) == 0) {
			char *a, *b;

			if (asprintf(&a, "%s%s%s", fo->name, *fo->name ? "/" :
			    "", f->rel) == -1 || asprintf(&b, "%s%s%s",
			    fo->name, *fo->name ? "/" : "", to) == -1)
				err(EXIT_FAIL, "asprintf");
			put("rename", a, b, NULL);
			free(a);
			free(b);
			done++;
		} else {
			put("error", strerror(errno), pfrom, NULL);
			status = EXIT_FAIL;
		}
		free(pfrom);
		free(pto);
		free(to);
	}
	rec_puts(&out, "end");
	rec_putu(&out, done);
	rec_putu(&out, conflicts);
	rec_putu(&out, already);
	rec_puts(&out, fo->name);
	rec_end(&out);
out:
	for (i = 0; i < fs.n; i++)
		free(fs.f[i].rel);
	free(fs.f);
	free(dir);
}

/* A path of a list stays under localfolders: relative, no "..", no empty
 * component, no control byte. */
static int
safe_rel(const char *p)
{
	const char *c;

	if (*p == '\0' || *p == '/')
		return 0;
	for (c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	for (c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 2 && strncmp(c, "..", 2) == 0))
			return 0;
	}
	return 1;
}

/* A reviewed list: rename records, paths relative to localfolders. */
static void
apply_list(const char *path)
{
	struct rec_reader *r;
	struct rec *rec;
	int rv;

	if ((r = rec_reader_open(path, 0)) == NULL)
		err(EXIT_FAIL, "%s", path);
	rec_expect(r, "fmd5-migrate", 1);
	while ((rv = rec_read(r, &rec)) == 1) {
		char *from, *to;
		int fe, te;

		if (strcmp(rec->f[0], "rename") != 0)
			continue;
		if (rec->nf != 3 || rec_cstr(r, rec, 1) == -1 ||
		    rec_cstr(r, rec, 2) == -1)
			errx(EXIT_FAIL, "%s", rec_error(r) ? rec_error(r) :
			    "malformed rename record");
		/* both paths must stay inside the root */
		if (!safe_rel(rec->f[1]) || !safe_rel(rec->f[2]))
			errx(EXIT_FAIL, "%s:%lu: a path that would leave "
			    "localfolders", path, rec_lineno(r));
		if (asprintf(&from, "%s/%s", mr.root, rec->f[1]) == -1 ||
		    asprintf(&to, "%s/%s", mr.root, rec->f[2]) == -1)
			err(EXIT_FAIL, "asprintf");
		fe = access(from, F_OK) == 0;
		te = access(to, F_OK) == 0;
		if (!fe && te)
			put("done", rec->f[1], rec->f[2], NULL);
		else if (!fe) {
			put("error", "no such file", rec->f[1], NULL);
			status = EXIT_FAIL;
		} else if (te) {
			put("error", "the new name exists already", rec->f[2],
			    NULL);
			status = EXIT_FAIL;
		} else if (nflag)
			put("rename", rec->f[1], rec->f[2], NULL);
		else if (rename_noreplace(from, to) == 0)
			put("rename", rec->f[1], rec->f[2], NULL);
		else {
			put("error", strerror(errno), rec->f[1], NULL);
			status = EXIT_FAIL;
		}
		free(from);
		free(to);
	}
	if (rv == -1)
		errx(EXIT_FAIL, "%s", rec_error(r));
	rec_reader_free(r);
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *path = NULL, *account = NULL, *list = NULL;
	char *e, **bad = NULL;
	struct maildir_folder *fv = NULL;
	size_t nf = 0, nbad = 0, i;
	struct config *cfg;
	int ch, nk = 0, zflag = 0, k;

	while ((ch = getopt(argc, argv, "a:c:f:hk:nz")) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'f':
			list = optarg;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'n':
			nflag = 1;
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
	if (account == NULL || (list && argc > 0))
		usage();
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);
	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (maildir_repo_load(&mr, cfg, account, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	rec_header(&out, "fmd5-migrate", 1, 0);
	if (list)
		apply_list(list);
	else {
		if (maildir_folders(mr.root, mr.sep, &fv, &nf, &bad, &nbad,
		    &e) == -1)
			errx(EXIT_FAIL, "%s", e ? e : "out of memory");
		if (maildir_nametrans(fv, nf, mr.nametrans, mr.pythonfile,
		    mr.sep, &e) == -1)
			errx(EXIT_FAIL, "%s", e ? e : "out of memory");
		for (k = 0; k < argc; k++) {
			for (i = 0; i < nf; i++)
				if (strcmp(fv[i].name, argv[k]) == 0)
					break;
			if (i == nf) {
				warnx("%s: no such local folder", argv[k]);
				status = EXIT_FAIL;
			}
		}
		for (i = 0; i < nf; i++) {
			for (k = 0; k < argc; k++)
				if (strcmp(fv[i].name, argv[k]) == 0)
					break;
			if (argc == 0 || k < argc)
				migrate_folder(&fv[i]);
		}
		maildir_folders_free(fv, nf);
		for (i = 0; i < nbad; i++)
			free(bad[i]);
		free(bad);
	}
	maildir_repo_free(&mr);
	config_free(cfg);
	free(kopts);
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return status;
}
