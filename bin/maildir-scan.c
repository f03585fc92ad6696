/*
 * maildir-scan - the local side of a sync as records: the folders of a
 * Maildir tree (the account's local repository, or a directory given),
 * and the messages of folders (UID, flags, file) read from the file
 * names exactly as OfflineIMAP reads them.  No file is opened; a stat per
 * file only when sizes are asked for.
 */
#include <sys/mman.h>
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

#include <md5.h>

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

/*
 * -C: the listings of an earlier scan (saved by the driver after a
 * complete sync), each after its folder's stamp: the device, inode,
 * mtime and ctime of cur/ and new/, which every file created, removed or
 * renamed in them changes.  A folder whose stamp is the same now is not
 * read again: its listing is copied from the state, with the mode
 * "same".  A stamp is only given when both directories are older than
 * RACY seconds, so that a change in the same clock tick as the scan is
 * never hidden; and with the fingerprint of everything else a listing
 * depends on (the configuration, -s, the version).
 */
#define RACY	2
#define STATE_VERSION	"maildir-scan state 1"

struct old {
	const char	*local, *name, *fmd5, *count, *stamp;
	size_t		 llen, nlen, flen, clen, slen;
	const char	*rest;		/* the stamp line up to the end line */
	size_t		 restlen;
	int		 used;
};

static char *stbuf;		/* the state, mapped */
static size_t stlen;
static struct old *olds;
static size_t nolds;
static char fprint[MD5_DIGEST_STRING_LENGTH];
static struct timespec t0;
static int Cflag;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: maildir-scan [-msz] [-A maxage] [-L bytes] "
	    "[-S yyyy-mm-dd] [-U uid]\n"
	    "                    -a account [-C state] [-c file] "
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

/* The next line of buf[*pos..len) (without its LF), or NULL at the end. */
static const char *
next_line(const char *buf, size_t len, size_t *pos, size_t *n)
{
	const char *p = buf + *pos, *e;

	if (*pos >= len)
		return NULL;
	if ((e = memchr(p, '\n', len - *pos)) == NULL)
		return NULL;	/* a last line without LF: torn, unused */
	*n = (size_t)(e - p);
	*pos += *n + 1;
	return p;
}

/* The fields of a line, split at TABs (as written: quoted, if at all). */
static size_t
split(const char *p, size_t n, const char **f, size_t *fl, size_t max)
{
	size_t k = 0;
	const char *e = p + n, *t;

	while (k < max) {
		t = memchr(p, '\t', (size_t)(e - p));
		f[k] = p;
		fl[k] = t ? (size_t)(t - p) : (size_t)(e - p);
		k++;
		if (t == NULL)
			break;
		p = t + 1;
	}
	return k;
}

/* Read the state of -C: the blocks that can be used again.  A missing
 * file is an empty state; one that is not a listing is ignored. */
static void
load_state(const char *path)
{
	static const char hdr[] = "#format maildir-messages 1.";
	size_t len, pos = 0, n, nf, fl[8], nmsg = 0;
	const char *line, *f[8];
	struct old cur;
	struct stat st;
	int in = 0, fd;
	void *m;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			warn("%s", path);
		return;
	}
	/* mapped, not read: the blocks used are copied out from the page
	 * cache once */
	if (fstat(fd, &st) == -1) {
		warn("%s", path);
		close(fd);
		return;
	}
	if (st.st_size <= 0 || (unsigned long long)st.st_size > SIZE_MAX) {
		close(fd);
		return;
	}
	len = (size_t)st.st_size;
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		warn("%s", path);
		return;
	}
	stbuf = m;
	stlen = len;
	if ((line = next_line(stbuf, len, &pos, &n)) == NULL ||
	    n < sizeof(hdr) - 1 || memcmp(line, hdr, sizeof(hdr) - 1) != 0)
		return;
	memset(&cur, 0, sizeof(cur));
	while ((line = next_line(stbuf, len, &pos, &n)) != NULL) {
		if (n > 8 && memcmp(line, "mailbox\t", 8) == 0) {
			in = 0;
			if (split(line, n, f, fl, 8) != 6)
				continue;
			memset(&cur, 0, sizeof(cur));
			cur.fmd5 = f[1], cur.flen = fl[1];
			cur.count = f[2], cur.clen = fl[2];
			cur.local = f[4], cur.llen = fl[4];
			cur.name = f[5], cur.nlen = fl[5];
			in = 1;
		} else if (in == 1) {
			/* the stamp must come first, or the block is not
			 * used */
			in = 0;
			if (n > 6 && memcmp(line, "stamp\t", 6) == 0) {
				cur.stamp = line, cur.slen = n;
				cur.rest = line;
				nmsg = 0;
				in = 2;
			}
		} else if (in == 2 && n > 4 && memcmp(line, "end\t", 4) == 0) {
			char num[24];

			in = 0;
			nf = split(line, n, f, fl, 3);
			/* the end's count must be the mailbox record's, and
			 * the number of msg records */
			snprintf(num, sizeof(num), "%zu", nmsg);
			if (nf != 3 || fl[1] != cur.clen ||
			    memcmp(f[1], cur.count, cur.clen) != 0 ||
			    strlen(num) != cur.clen ||
			    memcmp(num, cur.count, cur.clen) != 0)
				continue;
			cur.restlen = (size_t)(line + n + 1 - cur.rest);
			olds = xreallocarray(olds, nolds + 1, sizeof(*olds));
			olds[nolds++] = cur;
		} else if (in == 2 && n > 4 && memcmp(line, "msg\t", 4) == 0)
			nmsg++;
		else if (in == 2 && !(n > 10 &&
		    memcmp(line, "duplicate\t", 10) == 0))
			in = 0;	/* anything else: not a block to use */
	}
}

/* The fingerprint: the version, -s, the configuration file's bytes and
 * the overrides (a changed file or option may change a plan). */
static void
fingerprint(const char *cpath, char **kopts, int nk, const char *pyfile)
{
	MD5_CTX ctx;
	const char *files[2] = { cpath, pyfile };
	char buf[8192];
	ssize_t r;
	int i, fd;

	MD5Init(&ctx);
	MD5Update(&ctx, (const uint8_t *)VERSION, sizeof(VERSION));
	/* the listing's own version: raised when a file name is read
	 * differently, so that no old listing is used again */
	MD5Update(&ctx, (const uint8_t *)STATE_VERSION, sizeof(STATE_VERSION));
	for (i = 0; i < 2; i++) {
		if (files[i] == NULL)
			continue;
		MD5Update(&ctx, (const uint8_t *)files[i],
		    strlen(files[i]) + 1);
		if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			MD5Update(&ctx, (const uint8_t *)buf, (size_t)r);
		close(fd);
	}
	for (i = 0; i < nk; i++)
		MD5Update(&ctx, (const uint8_t *)kopts[i],
		    strlen(kopts[i]) + 1);
	MD5End(&ctx, fprint);
}

/* The folder's stamp record as it is written ("stamp\tFP\tCUR\tNEW"):
 * 1, or 0 when it cannot be trusted (a directory changed in the last
 * RACY seconds, or cannot be read: the folder is then read as usual). */
static int
folder_stamp(const char *path, struct sb *b)
{
	static const char *sub[2] = { "cur", "new" };
	struct stat st;
	int i, dfd;

	sb_reset(b);
	if (sb_printf(b, "stamp\t%s", fprint) == -1)
		err(EXIT_FAIL, "out of memory");
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	for (i = 0; i < 2; i++) {
		if (fstatat(dfd, sub[i], &st, 0) == -1 ||
		    st.st_mtim.tv_sec + RACY > t0.tv_sec ||
		    st.st_ctim.tv_sec + RACY > t0.tv_sec) {
			close(dfd);
			return 0;
		}
		if (sb_printf(b, "\t%llx.%llx.%lld.%09ld.%lld.%09ld",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino,
		    (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
		    (long long)st.st_ctim.tv_sec,
		    (long)st.st_ctim.tv_nsec) == -1)
			err(EXIT_FAIL, "out of memory");
	}
	close(dfd);
	return 1;
}

/* The block of the state for this folder with this stamp, or NULL. */
static struct old *
find_old(const struct maildir_folder *f, const struct sb *stamp)
{
	static struct sb ql, qn;
	size_t i;

	sb_reset(&ql);
	sb_reset(&qn);
	if (rec_quote(&ql, f->name, strlen(f->name), 0) == -1 ||
	    rec_quote(&qn, f->visible, strlen(f->visible), 0) == -1)
		err(EXIT_FAIL, "out of memory");
	for (i = 0; i < nolds; i++) {
		struct old *o = &olds[i];

		if (!o->used && o->llen == ql.len && o->nlen == qn.len &&
		    o->slen == stamp->len && o->flen == MD_FMD5_LEN &&
		    memcmp(o->local, ql.s, ql.len) == 0 &&
		    memcmp(o->name, qn.s, qn.len) == 0 &&
		    memcmp(o->stamp, stamp->s, stamp->len) == 0 &&
		    memcmp(o->fmd5, f->fmd5, MD_FMD5_LEN) == 0) {
			o->used = 1;
			return o;
		}
	}
	return NULL;
}

/* A folder about to be listed: its path, and with -C its stamp and the
 * block of the state it can use. */
struct prep {
	char		*path, *why;
	struct sb	 stamp;
	int		 stamped;
	struct old	*o;
};

static void
prepare(const char *root, char sep, const struct maildir_folder *f,
    struct prep *p)
{
	memset(p, 0, sizeof(*p));
	if ((p->path = maildir_folder_path(root, f->name, sep, &p->why)) ==
	    NULL)
		return;
	/* the stamp before the files: a change while they are read makes
	 * the next stamp differ */
	p->stamped = Cflag && folder_stamp(p->path, &p->stamp);
	if (p->stamped)
		p->o = find_old(f, &p->stamp);
}

static void
list_messages(const char *root, char sep, const struct maildir_folder *f,
    struct prep *pre)
{
	struct prep own;
	struct old *o;
	char *path, *why;
	struct sb fl = { 0 };
	size_t i, j;

	if (pre == NULL)
		prepare(root, sep, f, pre = &own);
	if ((path = pre->path) == NULL) {
		why = pre->why;
		put_error(why ? why : "out of memory", f->visible);
		free(why);
		return;
	}
	pre->path = NULL;
	if ((o = pre->o) != NULL) {
		free(path);
		sb_free(&pre->stamp);
		rec_puts(&out, "mailbox");
		rec_puts(&out, f->fmd5);
		rec_put(&out, o->count, o->clen);
		rec_puts(&out, "same");
		rec_puts(&out, f->name);
		rec_puts(&out, f->visible);
		rec_end(&out);
		if (fwrite(o->rest, 1, o->restlen, stdout) != o->restlen)
			err(EXIT_FAIL, "stdout");
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
	if (pre->stamped) {
		/* as find_old() compares it: written as it is */
		if (fwrite(pre->stamp.s, 1, pre->stamp.len, stdout) !=
		    pre->stamp.len || putchar('\n') == EOF)
			err(EXIT_FAIL, "stdout");
	}
	sb_free(&pre->stamp);
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
	char **kopts = NULL, *cpath = NULL, *account = NULL, *spath = NULL;
	char *root = NULL, *sepopt = NULL, *nametrans = NULL, *pyfile = NULL;
	char *e, **bad = NULL;
	struct maildir_folder *fv = NULL;
	size_t nf = 0, nbad = 0, i;
	int ch, nk = 0, k, mflag = 0, zflag = 0, wflag = 0;
	char sep;

	while ((ch = getopt(argc, argv, "A:a:C:c:d:hk:L:mS:st:U:wz")) != -1) {
		switch (ch) {
		case 'A':
			mindate = maxage_start(optarg);
			break;
		case 'C':
			spath = optarg;
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
	/* a state is of a whole listing, of one account */
	if (spath && (account == NULL || zflag || sflag || mindate >= 0 ||
	    maxsize >= 0 || minuid >= 0))
		errx(EXIT_FAIL, "-C goes with -a, and not with -A, -L, -S, -s, "
		    "-U or -z");
	if (clock_gettime(CLOCK_REALTIME, &t0) == -1)
		err(EXIT_FAIL, "clock_gettime");

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
		if (spath) {
			char *dp = cpath ? NULL : config_default_path();

			fingerprint(cpath ? cpath : dp, kopts, nk, pyfile);
			free(dp);
			Cflag = 1;
			load_state(spath);
		}
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
		rec_header(&out, "maildir-messages", 1, Cflag ? 1 : 0);
		if (argc == 0 && Cflag) {
			/* every folder's stamp first, to say at the top how
			 * many are as in the state */
			struct prep *pv = xreallocarray(NULL, nf ? nf : 1,
			    sizeof(*pv));
			size_t same = 0;

			for (i = 0; i < nf; i++) {
				prepare(root, sep, &fv[i], &pv[i]);
				same += pv[i].o != NULL;
			}
			printf("# same: %zu of %zu folders as in the "
			    "state\n", same, nf);
			for (i = 0; i < nf; i++)
				list_messages(root, sep, &fv[i], &pv[i]);
			free(pv);
		} else if (argc == 0)
			for (i = 0; i < nf; i++)
				list_messages(root, sep, &fv[i], NULL);
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
			list_messages(root, sep, &fv[i], NULL);
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
	free(olds);
	if (stbuf != NULL)
		munmap(stbuf, stlen);
	free(kopts);
	free(nametrans);
	free(pyfile);
	if (account) {
		free(root);
		free(sepopt);
	}
	return status;
}
