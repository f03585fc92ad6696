/*
 * maildir-scan - the local side of a sync as records: the folders of a
 * Maildir tree (the account's local repository, or a directory given),
 * and the messages of folders (UID, flags, file) read from the file
 * names exactly as OfflineIMAP reads them.  No file is opened; a stat per
 * file only when sizes are asked for.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "maildir.h"
#include "record.h"
#include "util.h"

struct msg {
	size_t		 off;		/* of "cur/name" in the arena */
	uint32_t	 uid;		/* 0: none */
	uint32_t	 len;
	size_t		 flags, flen;	/* in the arena */
	long long	 size, mtime;
	long long	 stamp;
};

static struct rec_writer out;
static struct sb arena;
static struct msg *msgs;
static size_t nmsgs, capmsgs;
static int sflag, winsep, status = EXIT_OK;
static long long maxsize = -1, mindate = -1, minuid = -1;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: maildir-scan [-msz] [-A maxage] [-L bytes] "
	    "[-S yyyy-mm-dd] [-U uid]\n"
	    "                    -a account [-c file] "
	    "[-k [section:]option=value] [folder ...]\n"
	    "       maildir-scan [-msw] [-A maxage] [-L bytes] "
	    "[-S yyyy-mm-dd] [-U uid]\n"
	    "                    -d dir [-t sep] [folder ...]\n");
	exit(EXIT_FAIL);
}

/* "YYYY-mm-dd" to local midnight, as time.mktime(strptime()) does. */
static long long
day_start(const char *s, const char *opt)
{
	struct tm tm = { 0 };
	int y, m, d;
	char c;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &c) != 3 || m < 1 ||
	    m > 12 || d < 1 || d > 31)
		errx(EXIT_FAIL, "%s %s: want a date as YYYY-MM-DD", opt, s);
	if (y < 1900)
		errx(EXIT_FAIL, "%s %s: the year is before 1900", opt, s);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		errx(EXIT_FAIL, "%s %s: not a date", opt, s);
	if (t > time(NULL))
		errx(EXIT_FAIL, "%s %s: the date is in the future", opt, s);
	return (long long)t;
}

/* OfflineIMAP's maxage: days (the UTC time then, read as local time, as
 * its mktime(gmtime()) does) or a date. */
static long long
maxage_start(const char *s)
{
	const char *e;
	long long n;
	struct tm tm;
	time_t t;

	n = strtonum(s, 1, 1000000, &e);
	if (e != NULL) {
		if (strchr(s, '-') == NULL)
			errx(EXIT_FAIL, "-A %s: want days or YYYY-MM-DD", s);
		return day_start(s, "-A");
	}
	t = time(NULL) - (time_t)n * 86400;
	if (gmtime_r(&t, &tm) == NULL)
		errx(EXIT_FAIL, "-A %s: out of range", s);
	tm.tm_isdst = 0;
	return (long long)mktime(&tm);
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;

	if (x->uid != y->uid) {
		if (x->uid == 0)
			return 1;
		if (y->uid == 0)
			return -1;
		return x->uid < y->uid ? -1 : 1;
	}
	return strcmp(arena.s + x->off, arena.s + y->off);
}

static void
put_error(const char *why, const char *name)
{
	warnx("%s", why);
	rec_puts(&out, "error");
	rec_puts(&out, why);
	rec_puts(&out, name);
	rec_end(&out);
	status = EXIT_FAIL;
}

struct scan {
	const char	*path;
	const char	*fmd5;
	char		*why;
};

/* One file of the folder into msgs. */
static int
add_file(void *ctx, const char *sub, int dfd, const char *name, size_t nl)
{
	struct scan *sc = ctx;
	struct maildir_name mn;
	struct msg *m;

	if (nmsgs == capmsgs) {
		capmsgs = capmsgs ? capmsgs * 2 : 1024;
		msgs = xreallocarray(msgs, capmsgs, sizeof(*msgs));
	}
	m = &msgs[nmsgs];
	m->size = m->mtime = -1;
	if (sflag || maxsize >= 0) {
		struct stat st;

		if (fstatat(dfd, name, &st, 0) == -1) {
			if (errno == ENOENT)
				return 0;	/* moved away meanwhile */
			if (asprintf(&sc->why, "%s/%s/%s: %s", sc->path, sub,
			    name, strerror(errno)) == -1)
				err(EXIT_FAIL, "asprintf");
			return -1;
		}
		m->size = (long long)st.st_size;
		m->mtime = (long long)st.st_mtim.tv_sec;
		if (maxsize >= 0 && m->size > maxsize)
			return 0;
	}
	maildir_parse_name(name, nl, sc->fmd5, winsep, &mn);
	m->uid = mn.uid;
	m->stamp = mn.stamp;
	m->off = arena.len;
	m->len = (uint32_t)(nl + 4);
	if (sb_printf(&arena, "%s/", sub) == -1 ||
	    sb_add(&arena, name, nl + 1) == -1)
		err(EXIT_FAIL, "out of memory");
	m->flags = m->off + 4 + (size_t)(mn.flags - name);
	m->flen = mn.flagslen;
	nmsgs++;
	return 0;
}

/* Read new/ then cur/ of one folder into msgs. */
static int
read_folder(const char *path, const char *fmd5, char **why)
{
	struct scan sc = { path, fmd5, NULL };

	nmsgs = 0;
	sb_reset(&arena);
	if (maildir_each_file(path, add_file, &sc, why) == -1) {
		if (sc.why) {
			free(*why);
			*why = sc.why;
		}
		return -1;
	}
	return 0;
}

/* maxage/startdate (with OfflineIMAP's re-inclusion of UIDs above the
 * lowest kept one) and min UID: drop what is outside the window. */
static void
apply_window(void)
{
	uint32_t lowest = 0;
	size_t i, k;

	if (minuid >= 0) {
		for (i = k = 0; i < nmsgs; i++)
			if (msgs[i].uid == 0 || msgs[i].uid >= minuid)
				msgs[k++] = msgs[i];
		nmsgs = k;
	}
	if (mindate < 0)
		return;
	for (i = 0; i < nmsgs; i++)
		if ((msgs[i].stamp == -1 || msgs[i].stamp >= mindate) &&
		    msgs[i].uid && (lowest == 0 || msgs[i].uid < lowest))
			lowest = msgs[i].uid;
	for (i = k = 0; i < nmsgs; i++)
		if (msgs[i].stamp == -1 || msgs[i].stamp >= mindate ||
		    (lowest && msgs[i].uid > lowest))
			msgs[k++] = msgs[i];
	nmsgs = k;
}

static void
put_num(long long v)
{
	if (v < 0)
		rec_puts(&out, "-");
	else
		rec_putu(&out, (unsigned long long)v);
}

static void
list_messages(const char *root, char sep, const struct maildir_folder *f)
{
	char *path, *why;
	struct sb fl = { 0 };
	size_t i, j;

	if ((path = maildir_folder_path(root, f->name, sep, &why)) == NULL) {
		put_error(why ? why : "out of memory", f->visible);
		free(why);
		return;
	}
	if (read_folder(path, f->fmd5, &why) == -1) {
		put_error(why, f->visible);
		free(why);
		free(path);
		return;
	}
	free(path);
	apply_window();
	if (nmsgs > 0)
		qsort(msgs, nmsgs, sizeof(*msgs), msg_cmp);
	rec_puts(&out, "mailbox");
	rec_puts(&out, f->fmd5);
	rec_putu(&out, nmsgs);
	rec_puts(&out, mindate >= 0 || minuid >= 0 || maxsize >= 0 ?
	    "window" : "full");
	rec_puts(&out, f->name);
	rec_puts(&out, f->visible);
	rec_end(&out);
	for (i = 0; i < nmsgs; i = j) {
		for (j = i + 1; j < nmsgs && msgs[i].uid &&
		    msgs[j].uid == msgs[i].uid; j++)
			;
		if (j - i > 1) {
			warnx("folder \"%s\": UID %u is held by %zu files: "
			    "%s, %s%s", f->visible, msgs[i].uid, j - i,
			    arena.s + msgs[i].off, arena.s + msgs[i + 1].off,
			    j - i > 2 ? ", ..." : "");
			rec_puts(&out, "duplicate");
			rec_putu(&out, msgs[i].uid);
			rec_putu(&out, j - i);
			rec_end(&out);
		}
		for (; i < j; i++) {
			const struct msg *m = &msgs[i];

			rec_puts(&out, "msg");
			if (m->uid)
				rec_putu(&out, m->uid);
			else
				rec_puts(&out, "none");
			/* OfflineIMAP's flags are a set: sorted, once each */
			sb_reset(&fl);
			if (sb_add(&fl, arena.s + m->flags, m->flen) == -1)
				err(EXIT_FAIL, "out of memory");
			maildir_flags_norm(fl.s);
			rec_puts(&out, fl.s);
			put_num(sflag ? m->size : -1);
			put_num(sflag ? m->mtime : -1);
			rec_put(&out, arena.s + m->off, m->len);
			rec_end(&out);
		}
	}
	sb_free(&fl);
	rec_puts(&out, "end");
	rec_putu(&out, nmsgs);
	rec_puts(&out, f->visible);
	rec_end(&out);
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *cpath = NULL, *account = NULL;
	char *root = NULL, *sepopt = NULL, *nametrans = NULL, *pyfile = NULL;
	char *e, **bad = NULL;
	struct maildir_folder *fv = NULL;
	size_t nf = 0, nbad = 0, i;
	int ch, nk = 0, k, mflag = 0, zflag = 0, wflag = 0;
	char sep;

	while ((ch = getopt(argc, argv, "A:a:c:d:hk:L:mS:st:U:wz")) != -1) {
		switch (ch) {
		case 'A':
			mindate = maxage_start(optarg);
			break;
		case 'a':
			account = optarg;
			break;
		case 'c':
			cpath = optarg;
			break;
		case 'd':
			root = optarg;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'L': {
			const char *es;

			maxsize = strtonum(optarg, 0, LLONG_MAX, &es);
			if (es)
				errx(EXIT_FAIL, "-L %s: %s", optarg, es);
			break;
		}
		case 'm':
			mflag = 1;
			break;
		case 'S':
			mindate = day_start(optarg, "-S");
			break;
		case 's':
			sflag = 1;
			break;
		case 't':
			sepopt = optarg;
			break;
		case 'U': {
			const char *es;

			minuid = strtonum(optarg, 1, UINT32_MAX, &es);
			if (es)
				errx(EXIT_FAIL, "-U %s: %s", optarg, es);
			break;
		}
		case 'w':
			wflag = 1;
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
	if ((account == NULL) == (root == NULL))
		usage();
	if (root && (cpath || nk))
		usage();
	if (account && (sepopt || wflag))
		usage();

	if (account) {
		struct maildir_repo mr;
		struct config *cfg;
		char *cerr;

		if ((cfg = config_load(cpath, kopts, (size_t)nk, &cerr)) == NULL)
			errx(EXIT_FAIL, "%s", cerr ? cerr : "out of memory");
		if (maildir_repo_load(&mr, cfg, account, &cerr) == -1)
			errx(EXIT_FAIL, "%s", cerr ? cerr : "out of memory");
		winsep = mr.winsep;
		root = xstrdup(mr.root);
		nametrans = mr.nametrans ? xstrdup(mr.nametrans) : NULL;
		pyfile = mr.pythonfile ? xstrdup(mr.pythonfile) : NULL;
		sepopt = malloc(2);
		if (sepopt == NULL)
			err(EXIT_FAIL, "malloc");
		sepopt[0] = mr.sep;
		sepopt[1] = '\0';
		maildir_repo_free(&mr);
		config_free(cfg);
	} else
		winsep = wflag;
	if (sepopt == NULL)
		sep = '.';
	else if (strlen(sepopt) != 1 || (unsigned char)sepopt[0] < 0x20)
		errx(EXIT_FAIL, "sep \"%s\": want one character", sepopt);
	else
		sep = sepopt[0];
	if (argc > 0)
		mflag = 1;

	static char obuf[65536];

	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);
	if (maildir_folders(root, sep, &fv, &nf, &bad, &nbad, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (maildir_nametrans(fv, nf, nametrans, pyfile, sep, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");

	if (!mflag) {
		rec_header(&out, "maildir-folders", 1, 0);
		rec_puts(&out, "root");
		rec_put(&out, &sep, 1);
		rec_puts(&out, root);
		rec_end(&out);
		for (i = 0; i < nf; i++) {
			rec_puts(&out, "folder");
			rec_puts(&out, fv[i].fmd5);
			rec_puts(&out, fv[i].name);
			rec_puts(&out, fv[i].visible);
			rec_end(&out);
		}
		for (i = 0; i < nbad; i++) {
			char *why;

			if (maildir_name_check(bad[i], sep, &why) == 0)
				continue;
			put_error(why ? why : "not a valid folder name", bad[i]);
			free(why);
		}
	} else {
		rec_header(&out, "maildir-messages", 1, 0);
		if (argc == 0)
			for (i = 0; i < nf; i++)
				list_messages(root, sep, &fv[i]);
		for (k = 0; k < argc; k++) {
			char *why;

			/* a name from elsewhere (a server, a plan) is checked
			 * before it is looked for */
			for (i = 0; i < nf; i++)
				if (strcmp(fv[i].visible, argv[k]) == 0)
					break;
			if (i == nf && maildir_name_check(argv[k], sep, &why) ==
			    -1) {
				char *w;

				if (asprintf(&w, "%s; refused", why ? why :
				    "invalid name") == -1)
					err(EXIT_FAIL, "asprintf");
				put_error(w, argv[k]);
				free(w);
				free(why);
				continue;
			}
			if (i == nf)
				for (i = 0; i < nf; i++)
					if (strcmp(fv[i].name, argv[k]) == 0)
						break;
			if (i == nf) {
				char *w;

				if (asprintf(&w, "folder \"%s\": no such "
				    "Maildir folder under %s", argv[k], root) ==
				    -1)
					err(EXIT_FAIL, "asprintf");
				put_error(w, argv[k]);
				free(w);
				continue;
			}
			list_messages(root, sep, &fv[i]);
		}
	}
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	maildir_folders_free(fv, nf);
	for (i = 0; i < nbad; i++)
		free(bad[i]);
	free(bad);
	free(msgs);
	sb_free(&arena);
	free(kopts);
	free(nametrans);
	free(pyfile);
	if (account) {
		free(root);
		free(sepopt);
	}
	return status;
}
