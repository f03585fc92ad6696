/* maildir.c - Maildir folders, names, flags and delivery, OfflineIMAP's way */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <md5.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "maildir.h"
#include "run.h"
#include "util.h"

static int __attribute__((format(printf, 2, 3)))
fail(char **err, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) == -1)
		*err = NULL;
	va_end(ap);
	errno = e;
	return -1;
}

/* ---- folder names and paths ---- */

static int
special(const char *s, size_t n)
{
	return n == 3 && (memcmp(s, "cur", 3) == 0 || memcmp(s, "new", 3) == 0 ||
	    memcmp(s, "tmp", 3) == 0);
}

int
maildir_name_check(const char *name, char sep, char **why)
{
	const char *p, *c;
	size_t n;

	*why = NULL;
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(why, "folder \"%s\": holds a control "
			    "character", name);
	if (*name == '\0')
		return 0;
	if (*name == '/')
		return fail(why, "folder \"%s\": is an absolute path", name);
	if (sep != '/') {
		if (strchr(name, '/'))
			return fail(why, "folder \"%s\": holds a \"/\" but the "
			    "local separator is \"%c\"", name, sep);
		n = strlen(name);
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return fail(why, "folder \"%s\": is a \"%s\" component",
			    name, name);
		if (special(name, n))
			return fail(why, "folder \"%s\": \"%s\" is a Maildir "
			    "directory, not a folder", name, name);
		return 0;
	}
	for (c = name;; c = p + 1) {
		p = strchr(c, '/');
		n = p ? (size_t)(p - c) : strlen(c);
		if (n == 0)
			return fail(why, "folder \"%s\": has an empty component",
			    name);
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' &&
		    c[1] == '.'))
			return fail(why, "folder \"%s\": has a \"%.*s\" "
			    "component", name, (int)n, c);
		if (special(c, n))
			return fail(why, "folder \"%s\": \"%.*s\" is a Maildir "
			    "directory, not a folder component", name, (int)n, c);
		if (p == NULL)
			break;
	}
	return 0;
}

char *
maildir_folder_path(const char *root, const char *name, char sep, char **why)
{
	char *s;

	if (maildir_name_check(name, sep, why) == -1)
		return NULL;
	if (asprintf(&s, "%s%s%s", root, *name ? "/" : "", name) == -1) {
		fail(why, "folder \"%s\": %s", name, strerror(errno));
		return NULL;
	}
	return s;
}

static int
mkdir_one(const char *path, char **err)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return fail(err, "mkdir %s: %s", path, strerror(errno));
}

int
maildir_create(const char *root, const char *name, char sep, char **err)
{
	static const char *sub[] = { "cur", "new", "tmp" };
	char *path, *p;
	size_t i;
	int rv = -1;

	*err = NULL;
	if ((path = maildir_folder_path(root, name, sep, err)) == NULL)
		return -1;
	/* every ancestor, the root included, as os.makedirs does */
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_one(path, err) == -1)
			goto out;
		*p = '/';
	}
	if (mkdir_one(path, err) == -1)
		goto out;
	for (i = 0; i < 3; i++) {
		char *s;

		if (asprintf(&s, "%s/%s", path, sub[i]) == -1) {
			fail(err, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (mkdir_one(s, err) == -1) {
			free(s);
			goto out;
		}
		free(s);
	}
	rv = 0;
out:
	free(path);
	return rv;
}

/* os.path.isdir(dir/name/sub) */
static int
isdir_at(int dfd, const char *rel)
{
	struct stat st;

	return fstatat(dfd, rel, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static int
has_cnt(int dfd, const char *rel)
{
	static const char *sub[] = { "cur", "new", "tmp" };
	struct sb s = { 0 };
	int i, ok = 1;

	for (i = 0; i < 3 && ok; i++) {
		sb_reset(&s);
		if (sb_printf(&s, "%s%s%s", rel, *rel ? "/" : "", sub[i]) == -1) {
			ok = -1;
			break;
		}
		ok = isdir_at(dfd, s.s);
	}
	sb_free(&s);
	return ok;
}

struct flist {
	struct maildir_folder	*v;
	size_t			 n, cap;
	char			**bad;
	size_t			 nbad;
};

static int
flist_add(struct flist *l, const char *name, char sep)
{
	char *why;

	if (maildir_name_check(name, sep, &why) == -1) {
		char **nb;

		free(why);
		if ((nb = reallocarray(l->bad, l->nbad + 1, sizeof(*nb))) ==
		    NULL)
			return -1;
		l->bad = nb;
		if ((l->bad[l->nbad] = strdup(name)) == NULL)
			return -1;
		l->nbad++;
		return 0;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct maildir_folder *nv;

		if ((nv = reallocarray(l->v, nc, sizeof(*nv))) == NULL)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	if ((l->v[l->n].name = strdup(name)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* _getfolders_scandir: rel is relative to the root ("" for the root) */
static int
scandir_rec(int rootfd, const char *rel, char sep, struct flist *l,
    int depth, char **err)
{
	DIR *d;
	struct dirent *e;
	struct sb sub = { 0 };
	int fd, rv = 0;

	fd = openat(rootfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		if (*rel == '\0')
			return fail(err, "cannot read the Maildir root: %s",
			    strerror(errno));
		return 0;	/* gone meanwhile, or not readable: no folder */
	}
	while ((e = readdir(d)) != NULL) {
		const char *nm = e->d_name;
		int isdir, real;

		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 ||
		    special(nm, strlen(nm)))
			continue;
		sb_reset(&sub);
		if (sb_printf(&sub, "%s%s%s", rel, *rel ? "/" : "", nm) == -1) {
			rv = fail(err, "%s", strerror(errno));
			break;
		}
		if (e->d_type == DT_DIR)
			isdir = real = 1;
		else if (e->d_type == DT_UNKNOWN) {
			struct stat st;

			real = fstatat(rootfd, sub.s, &st, AT_SYMLINK_NOFOLLOW)
			    == 0 && S_ISDIR(st.st_mode);
			isdir = real || isdir_at(rootfd, sub.s);
		} else {
			real = 0;
			isdir = e->d_type == DT_LNK && isdir_at(rootfd, sub.s);
		}
		if (!isdir)
			continue;
		if (has_cnt(rootfd, sub.s) == 1 && flist_add(l, sub.s, sep)
		    == -1) {
			rv = fail(err, "%s", strerror(errno));
			break;
		}
		/* symbolic links are not followed down: no loops */
		if (sep == '/' && real && depth < 256 &&
		    (rv = scandir_rec(rootfd, sub.s, sep, l, depth + 1, err))
		    == -1)
			break;
	}
	closedir(d);
	sb_free(&sub);
	return rv;
}

static int
folder_cmp(const void *a, const void *b)
{
	return strcmp(((const struct maildir_folder *)a)->name,
	    ((const struct maildir_folder *)b)->name);
}

void
maildir_folders_free(struct maildir_folder *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].visible);
	}
	free(v);
}

int
maildir_folders(const char *root, char sep, struct maildir_folder **out,
    size_t *n, char ***bad, size_t *nbad, char **err)
{
	struct flist l = { 0 };
	int rootfd, rv;
	size_t i;

	*err = NULL;
	*out = NULL;
	*n = 0;
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return fail(err, "%s: %s", root, strerror(errno));
	rv = has_cnt(rootfd, "");
	if (rv == 1 && flist_add(&l, "", sep) == -1)
		rv = fail(err, "%s", strerror(errno));
	if (rv != -1)
		rv = scandir_rec(rootfd, "", sep, &l, 0, err);
	close(rootfd);
	if (rv == -1) {
		maildir_folders_free(l.v, l.n);
		run_free_list(l.bad, l.nbad);
		return -1;
	}
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), folder_cmp);
	for (i = 0; i < l.n; i++)
		maildir_fmd5(l.v[i].name, strlen(l.v[i].name), l.v[i].fmd5);
	*out = l.v;
	*n = l.n;
	if (bad) {
		*bad = l.bad;
		*nbad = l.nbad;
	} else
		run_free_list(l.bad, l.nbad);
	return 0;
}

void
maildir_fmd5(const char *visible, size_t len, char out[MD_FMD5_LEN + 1])
{
	MD5Data((const uint8_t *)visible, len, out);
}

int
maildir_nametrans(struct maildir_folder *v, size_t n, const char *expr,
    const char *pythonfile, char sep, char **err)
{
	char **names = NULL, **res = NULL;
	size_t i;

	*err = NULL;
	if (expr != NULL && n > 0) {
		if ((names = calloc(n, sizeof(*names))) == NULL)
			return fail(err, "nametrans: %s", strerror(errno));
		for (i = 0; i < n; i++)
			names[i] = v[i].name;
		if (run_python_map(expr, pythonfile, "nametrans", names, n,
		    &res, err) == -1) {
			free(names);
			return -1;
		}
		free(names);
	}
	for (i = 0; i < n; i++) {
		char *vis = res ? res[i] : strdup(v[i].name);

		if (res)
			res[i] = NULL;
		if (vis == NULL) {
			run_free_list(res, n);
			return fail(err, "nametrans: %s", strerror(errno));
		}
		if (vis[0] == sep && vis[1] == '\0')
			vis[0] = '\0';
		free(v[i].visible);
		v[i].visible = vis;
		maildir_fmd5(vis, strlen(vis), v[i].fmd5);
	}
	run_free_list(res, n);
	return 0;
}

/* ---- message file names ---- */

static int
wordc(int c)
{
	return isascii(c) && (isalnum(c) || c == '_');
}

void
maildir_parse_name(const char *name, size_t len, const char *fmd5,
    int winsep, struct maildir_name *m)
{
	const char *p, *end = name + len;
	char info[3] = { winsep ? '!' : ':', '2', ',' };
	size_t flen = fmd5 ? strlen(fmd5) : 0;

	memset(m, 0, sizeof(*m));
	m->stamp = -1;
	for (p = name; p < end && !isdigit((unsigned char)*p); p++)
		;
	if (p < end) {
		m->stamp = 0;
		for (; p < end && isdigit((unsigned char)*p); p++)
			m->stamp = m->stamp > (LLONG_MAX - 9) / 10 ? LLONG_MAX :
			    m->stamp * 10 + (*p - '0');
	}
	for (p = name; (p = memmem(p, (size_t)(end - p), ",FMD5=", 6)) != NULL;
	    p += 6) {
		if (m->fmd5 == MN_NOFMD5)
			m->fmd5 = MN_OTHER;
		if (flen && (size_t)(end - p - 6) >= flen &&
		    memcmp(p + 6, fmd5, flen) == 0) {
			m->fmd5 = MN_OURS;
			break;
		}
	}
	if (m->fmd5 == MN_OURS)
		for (p = name; (p = memmem(p, (size_t)(end - p), ",U=", 3)) !=
		    NULL; p += 3) {
			const char *d = p + 3;
			unsigned long long u = 0;

			if (d >= end || !isdigit((unsigned char)*d))
				continue;
			for (; d < end && isdigit((unsigned char)*d); d++)
				u = u > UINT32_MAX ? u : u * 10 + (unsigned)(*d -
				    '0');
			if (u == 0 || u > UINT32_MAX)
				m->baduid = 1;
			else
				m->uid = (uint32_t)u;
			break;
		}
	if ((p = memmem(name, len, info, 3)) != NULL) {
		m->hasinfo = 1;
		m->flags = p + 3;
		for (p += 3; p < end && wordc((unsigned char)*p); p++)
			;
		m->flagslen = (size_t)(p - m->flags);
	} else
		m->flags = end;
}

/* _gettimeseq: a counter per distinct time value, for this process. */
static struct {
	long long	*key;
	unsigned	*val;
	unsigned char	*used;
	size_t		 cap, n;
} seq;

static size_t
seq_slot(long long k, size_t cap)
{
	unsigned long long h = (unsigned long long)k * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 20) & (cap - 1);

	while (seq.used[i] && seq.key[i] != k)
		i = (i + 1) & (cap - 1);
	return i;
}

static int
timeseq(long long t, unsigned *n)
{
	size_t i;

	if (seq.n * 2 >= seq.cap) {
		size_t nc = seq.cap ? seq.cap * 2 : 64, j;
		long long *ok = seq.key;
		unsigned *ov = seq.val;
		unsigned char *ou = seq.used;
		size_t oc = seq.cap;

		seq.key = calloc(nc, sizeof(*seq.key));
		seq.val = calloc(nc, sizeof(*seq.val));
		seq.used = calloc(nc, 1);
		if (!seq.key || !seq.val || !seq.used) {
			free(seq.key);
			free(seq.val);
			free(seq.used);
			seq.key = ok;
			seq.val = ov;
			seq.used = ou;
			return -1;
		}
		seq.cap = nc;
		for (j = 0; j < oc; j++)
			if (ou[j]) {
				i = seq_slot(ok[j], nc);
				seq.used[i] = 1;
				seq.key[i] = ok[j];
				seq.val[i] = ov[j];
			}
		free(ok);
		free(ov);
		free(ou);
	}
	i = seq_slot(t, seq.cap);
	if (seq.used[i])
		*n = ++seq.val[i];
	else {
		seq.used[i] = 1;
		seq.key[i] = t;
		*n = seq.val[i] = 0;
		seq.n++;
	}
	return 0;
}

static const char *
hostname(void)
{
	static char *host;
	char buf[HOST_NAME_MAX + 1];

	if (host)
		return host;
	if (gethostname(buf, sizeof(buf)) == -1)
		snprintf(buf, sizeof(buf), "localhost");
	buf[sizeof(buf) - 1] = '\0';
	if ((host = strdup(buf)) == NULL)
		return "localhost";
	return host;
}

static int
sorted_flags(struct sb *out, const char *flags)
{
	size_t start = out->len;

	if (sb_adds(out, flags ? flags : "") == -1)
		return -1;
	maildir_flags_norm(out->s + start);
	out->len = start + strlen(out->s + start);
	return 0;
}

int
maildir_name_make(struct sb *out, time_t t, uint32_t uid, const char *fmd5,
    const char *flags, int winsep)
{
	size_t start = out->len, i;
	unsigned n;

	if (timeseq((long long)t, &n) == -1)
		return -1;
	if (sb_printf(out, "%lld_%u.%ld.%s,U=%u,FMD5=%s%c2,", (long long)t, n,
	    (long)getpid(), hostname(), uid, fmd5, winsep ? '!' : ':') == -1 ||
	    sorted_flags(out, flags) == -1)
		return -1;
	for (i = start; i < out->len; i++)
		if (out->s[i] == '/')
			out->s[i] = '-';
	return 0;
}

int
maildir_name_setflags(struct sb *out, const char *name, const char *flags,
    int winsep)
{
	char info[3] = { winsep ? '!' : ':', '2', ',' };
	const char *p = memmem(name, strlen(name), info, 3);
	size_t keep = p ? (size_t)(p - name) : strlen(name);

	if (sb_add(out, name, keep) == -1 || sb_add(out, info, 3) == -1 ||
	    sorted_flags(out, flags) == -1)
		return -1;
	return 0;
}

/* ---- flags ---- */

void
maildir_flags_norm(char *s)
{
	unsigned char seen[256] = { 0 };
	size_t i, n = 0;
	int c;

	for (i = 0; s[i]; i++)
		seen[(unsigned char)s[i]] = 1;
	for (c = 1; c < 256; c++)
		if (seen[c])
			s[n++] = (char)c;
	s[n] = '\0';
}

int
maildir_kwmap_load(struct maildir_kwmap *m, struct config *cfg,
    const char *sect, char **err)
{
	char key[] = "customflag_a";
	int c, rv;

	memset(m, 0, sizeof(*m));
	*err = NULL;
	for (c = 0; c < 26; c++) {
		key[11] = (char)('a' + c);
		rv = config_get(cfg, sect, key, &m->kw[c]);
		if (rv == -1) {
			maildir_kwmap_free(m);
			return fail(err, "%s", config_errmsg(cfg));
		}
		if (rv == 0)
			m->kw[c] = NULL;
	}
	return 0;
}

void
maildir_kwmap_free(struct maildir_kwmap *m)
{
	int c;

	for (c = 0; c < 26; c++) {
		free(m->kw[c]);
		m->kw[c] = NULL;
	}
}

static const struct {
	char		 letter;
	const char	*imap;
} sysflags[] = {
	{ 'R', "\\Answered" }, { 'T', "\\Deleted" }, { 'D', "\\Draft" },
	{ 'F', "\\Flagged" }, { 'S', "\\Seen" },
};

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
maildir_flags_to_imap(const char *letters, const struct maildir_kwmap *m,
    struct sb *imap, struct sb *unmapped)
{
	const char *v[256];
	char *ls;
	size_t i, k, n = 0;

	if ((ls = strdup(letters)) == NULL)
		return -1;
	maildir_flags_norm(ls);
	for (i = 0; ls[i]; i++) {
		const char *f = NULL;

		for (k = 0; k < sizeof(sysflags) / sizeof(sysflags[0]); k++)
			if (sysflags[k].letter == ls[i])
				f = sysflags[k].imap;
		if (f == NULL && m && ls[i] >= 'a' && ls[i] <= 'z')
			f = m->kw[ls[i] - 'a'];
		if (f)
			v[n++] = f;
		else if (unmapped && sb_addc(unmapped, ls[i]) == -1) {
			free(ls);
			return -1;
		}
	}
	free(ls);
	qsort(v, n, sizeof(v[0]), strp_cmp);
	for (i = 0; i < n; i++)
		if (sb_printf(imap, "%s%s", i ? " " : "", v[i]) == -1)
			return -1;
	if (imap->s == NULL && sb_add(imap, "", 0) == -1)
		return -1;
	return 0;
}

int
maildir_flags_from_imap(const char *imap, const struct maildir_kwmap *m,
    struct sb *letters, struct sb *unmapped)
{
	const char *p = imap, *w;
	size_t start = letters->len, n, k;

	for (;;) {
		char l = 0;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (w = p; *p && *p != ' '; p++)
			;
		n = (size_t)(p - w);
		for (k = 0; k < sizeof(sysflags) / sizeof(sysflags[0]); k++)
			if (strlen(sysflags[k].imap) == n &&
			    strncasecmp(sysflags[k].imap, w, n) == 0)
				l = sysflags[k].letter;
		if (l == 0 && n == 7 && strncasecmp(w, "\\Recent", 7) == 0)
			continue;
		for (k = 0; l == 0 && m && k < 26; k++)
			if (m->kw[k] && strlen(m->kw[k]) == n &&
			    memcmp(m->kw[k], w, n) == 0)
				l = (char)('a' + k);
		if (l) {
			if (sb_addc(letters, l) == -1)
				return -1;
		} else if (unmapped && sb_printf(unmapped, "%s%.*s",
		    unmapped->len ? " " : "", (int)n, w) == -1)
			return -1;
	}
	if (letters->s == NULL && sb_add(letters, "", 0) == -1)
		return -1;
	maildir_flags_norm(letters->s + start);
	letters->len = start + strlen(letters->s + start);
	return 0;
}

/* ---- dates ---- */

static long long
days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d -
	    1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (long long)doe - 719468;
}

static int
month_of(const char *s, size_t n)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int i;

	if (n < 3)
		return 0;
	for (i = 0; i < 12; i++)
		if (strncasecmp(s, months + i * 3, 3) == 0)
			return i + 1;
	return 0;
}

long long
maildir_parse_date(const char *s, size_t len)
{
	static const struct { const char *n; int off; } zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -500 }, { "EDT", -400 }, { "CST", -600 },
		{ "CDT", -500 }, { "MST", -700 }, { "MDT", -600 },
		{ "PST", -800 }, { "PDT", -700 },
	};
	const char *tok[8];
	size_t tl[8], nt = 0, i, k = 0;
	const char *p = s, *end = s + len;
	int day, mon, hh = 0, mm = 0, ss = 0, havetz = 0, tz = 0;
	long long year;

	while (p < end && nt < 8) {
		while (p < end && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p >= end)
			break;
		tok[nt] = p;
		while (p < end && !isspace((unsigned char)*p) && *p != ',')
			p++;
		tl[nt] = (size_t)(p - tok[nt]);
		nt++;
	}
	/* a day name first */
	if (nt > 0 && !isdigit((unsigned char)tok[0][0]) &&
	    month_of(tok[0], tl[0]) == 0)
		k = 1;
	if (nt - k < 4)
		return -1;
	if (isdigit((unsigned char)tok[k][0]) && (mon = month_of(tok[k + 1],
	    tl[k + 1])) != 0)
		day = atoi(tok[k]);
	else if ((mon = month_of(tok[k], tl[k])) != 0 &&
	    isdigit((unsigned char)tok[k + 1][0]))
		day = atoi(tok[k + 1]);
	else
		return -1;
	if (!isdigit((unsigned char)tok[k + 2][0]))
		return -1;
	year = atoll(tok[k + 2]);
	if (tl[k + 2] <= 2 || year < 100)
		year += year > 68 ? 1900 : 2000;
	if (sscanf(tok[k + 3], "%2d:%2d:%2d", &hh, &mm, &ss) < 2)
		return -1;
	if (day < 1 || day > 31 || hh > 24 || mm > 59 || ss > 61 ||
	    year > 9999)
		return -1;
	if (nt > k + 4) {
		const char *z = tok[k + 4];
		size_t zl = tl[k + 4];

		if ((z[0] == '+' || z[0] == '-') && zl == 5 &&
		    strspn(z + 1, "0123456789") >= 4) {
			tz = atoi(z + 1);
			if (z[0] == '-')
				tz = -tz;
			havetz = 1;
		} else
			for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
				if (strlen(zones[i].n) == zl &&
				    strncasecmp(zones[i].n, z, zl) == 0) {
					tz = zones[i].off;
					havetz = 1;
				}
	}
	if (!havetz) {
		struct tm tm = { 0 };
		time_t t;

		tm.tm_year = (int)year - 1900;
		tm.tm_mon = mon - 1;
		tm.tm_mday = day;
		tm.tm_hour = hh;
		tm.tm_min = mm;
		tm.tm_sec = ss;
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1)
			return -1;
		return (long long)t;
	}
	int sign = tz < 0 ? -1 : 1;

	tz = tz < 0 ? -tz : tz;
	return days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 +
	    ss - sign * ((tz / 100) * 3600 + (tz % 100) * 60);
}

/* The value of header h in a header block (unfolded); NULL if absent. */
static char *
header_value(const char *hdr, size_t len, const char *h)
{
	size_t hl = strlen(h), i = 0;
	struct sb v = { 0 };

	while (i < len) {
		size_t eol = i;

		while (eol < len && hdr[eol] != '\n')
			eol++;
		if (eol - i > hl && strncasecmp(hdr + i, h, hl) == 0 &&
		    hdr[i + hl] == ':') {
			size_t j = i + hl + 1;

			for (;;) {
				if (sb_add(&v, hdr + j, eol - j) == -1 ||
				    sb_addc(&v, ' ') == -1) {
					sb_free(&v);
					return NULL;
				}
				if (eol + 1 < len && (hdr[eol + 1] == ' ' ||
				    hdr[eol + 1] == '\t')) {
					j = eol + 1;
					for (eol = j; eol < len &&
					    hdr[eol] != '\n'; eol++)
						;
					continue;
				}
				break;
			}
			return v.s;
		}
		i = eol + 1;
	}
	return NULL;
}

static long long
header_date(const char *hdr, size_t len, const char *h)
{
	char *v = header_value(hdr, len, h);
	long long t;

	if (v == NULL)
		return -1;
	t = maildir_parse_date(v, strlen(v));
	free(v);
	return t;
}

/* ---- delivery ---- */

#define HDR_MAX	(256 * 1024)	/* the Date header is looked for up to here */

struct maildir_delivery {
	int			 fd;
	char			*dir;		/* the folder */
	char			*base;		/* name in tmp/ */
	char			*fmd5;
	char			*flags;
	uint32_t		 uid;
	struct maildir_opts	 o;
	struct sb		 hdr;
	int			 hdr_done;
	int			 failed;
	unsigned long long	 written, enospc_at;
	dev_t			 dev;
	/* for batches */
	char			*final;
	char			*error;
};

static char *
tmppath(const struct maildir_delivery *d)
{
	char *s;

	if (asprintf(&s, "%s/tmp/%s", d->dir, d->base) == -1)
		return NULL;
	return s;
}

static void
delivery_free(struct maildir_delivery *d)
{
	if (d == NULL)
		return;
	if (d->fd != -1)
		close(d->fd);
	free(d->dir);
	free(d->base);
	free(d->fmd5);
	free(d->flags);
	free(d->final);
	free(d->error);
	sb_free(&d->hdr);
	free(d);
}

void
maildir_deliver_abort(struct maildir_delivery *d)
{
	char *p;

	if (d == NULL)
		return;
	if (d->base && (p = tmppath(d)) != NULL) {
		unlink(p);
		free(p);
	}
	delivery_free(d);
}

int
maildir_deliver_begin(struct maildir_delivery **out, const char *dir,
    const char *fmd5, uint32_t uid, const char *flags,
    const struct maildir_opts *o, char **err)
{
	struct maildir_delivery *d;
	struct sb nm = { 0 };
	struct stat st;
	const char *hook;
	int tries;

	*out = NULL;
	*err = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return fail(err, "%s: %s", dir, strerror(errno));
	d->fd = -1;
	d->o = *o;
	d->uid = uid;
	if ((d->dir = strdup(dir)) == NULL || (d->fmd5 = strdup(fmd5)) == NULL ||
	    (d->flags = strdup(flags ? flags : "")) == NULL) {
		fail(err, "%s: %s", dir, strerror(errno));
		delivery_free(d);
		return -1;
	}
	maildir_flags_norm(d->flags);
	d->hdr_done = !o->utime_from_header && !o->filename_use_mail_timestamp;
	/* the test hook, documented in maildir.h */
	if ((hook = getenv("OI_TEST_MAILDIR_ENOSPC")) != NULL)
		d->enospc_at = strtoull(hook, NULL, 10);
	for (tries = 0; tries < 7; tries++) {
		char *p;

		sb_reset(&nm);
		if (maildir_name_make(&nm, time(NULL), uid, fmd5, d->flags,
		    o->winsep) == -1) {
			fail(err, "%s: %s", dir, strerror(errno));
			break;
		}
		free(d->base);
		d->base = nm.s;
		nm.s = NULL;
		nm.len = nm.cap = 0;
		if ((p = tmppath(d)) == NULL) {
			fail(err, "%s: %s", dir, strerror(errno));
			break;
		}
		d->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (d->fd == -1 && errno != EEXIST)
			fail(err, "%s: %s", p, strerror(errno));
		free(p);
		if (d->fd != -1 || errno != EEXIST)
			break;
	}
	sb_free(&nm);
	if (d->fd == -1) {
		if (*err == NULL)
			fail(err, "%s/tmp: no unique file name after 7 tries",
			    dir);
		free(d->base);
		d->base = NULL;		/* not ours: not to be unlinked */
		delivery_free(d);
		return -1;
	}
	if (fstat(d->fd, &st) == 0)
		d->dev = st.st_dev;
	*out = d;
	return 0;
}

static void
collect_header(struct maildir_delivery *d, const char *p, size_t n)
{
	size_t from = d->hdr.len > 3 ? d->hdr.len - 3 : 0, i;

	if (d->hdr.len + n > HDR_MAX)
		n = HDR_MAX - d->hdr.len;
	if (sb_add(&d->hdr, p, n) == -1) {
		d->hdr_done = 1;
		sb_free(&d->hdr);
		return;
	}
	for (i = from; i + 1 < d->hdr.len; i++)
		if (d->hdr.s[i] == '\n' && (d->hdr.s[i + 1] == '\n' ||
		    (d->hdr.s[i + 1] == '\r' && i + 2 < d->hdr.len &&
		    d->hdr.s[i + 2] == '\n'))) {
			d->hdr.len = i + 1;
			d->hdr_done = 1;
			return;
		}
	if (d->hdr.len >= HDR_MAX)
		d->hdr_done = 1;
}

int
maildir_deliver_write(struct maildir_delivery *d, const void *buf, size_t n,
    char **err)
{
	const char *p = buf;
	size_t left = n;
	ssize_t r;

	*err = NULL;
	if (d->failed)
		return fail(err, "%s/tmp/%s: an earlier write failed", d->dir,
		    d->base);
	if (!d->hdr_done)
		collect_header(d, p, n);
	while (left > 0) {
		size_t chunk = left;

		if (d->enospc_at && d->written + chunk > d->enospc_at) {
			chunk = d->written < d->enospc_at ?
			    (size_t)(d->enospc_at - d->written) : 0;
			if (chunk == 0) {
				errno = ENOSPC;
				r = -1;
				goto bad;
			}
		}
		r = write(d->fd, p, chunk);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			goto bad;
		}
		p += r;
		left -= (size_t)r;
		d->written += (unsigned long long)r;
	}
	return 0;
bad:
	d->failed = 1;
	return fail(err, "%s/tmp/%s: %s", d->dir, d->base, strerror(errno));
}

/* fsync, utime, close: the file in tmp/ is complete and (if asked) on disk */
static int
finish_tmp(struct maildir_delivery *d, long long *date, char **err)
{
	*date = -1;
	if (d->o.utime_from_header || d->o.filename_use_mail_timestamp) {
		*date = header_date(d->hdr.s, d->hdr.len, "Date");
		if (d->o.utime_from_header && *date != -1) {
			struct timespec ts[2];

			ts[0].tv_sec = ts[1].tv_sec = (time_t)*date;
			ts[0].tv_nsec = ts[1].tv_nsec = 0;
			if (futimens(d->fd, ts) == -1)
				return fail(err, "%s/tmp/%s: set time: %s",
				    d->dir, d->base, strerror(errno));
		}
		if (d->o.filename_use_mail_timestamp && *date == -1)
			*date = header_date(d->hdr.s, d->hdr.len,
			    "Delivery-date");
		if (!d->o.filename_use_mail_timestamp)
			*date = -1;
	}
	if (d->o.fsync && fsync(d->fd) == -1)
		return fail(err, "%s/tmp/%s: fsync: %s", d->dir, d->base,
		    strerror(errno));
	if (close(d->fd) == -1) {
		d->fd = -1;
		return fail(err, "%s/tmp/%s: close: %s", d->dir, d->base,
		    strerror(errno));
	}
	d->fd = -1;
	return 0;
}

/* rename src to dst unless dst exists: 0, -1 (errno EEXIST if it did) */
static int
rename_noreplace(const char *src, const char *dst)
{
	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	/* a file system without RENAME_NOREPLACE: link fails on EEXIST */
	if (link(src, dst) == -1)
		return -1;
	if (unlink(src) == -1) {
		int e = errno;

		unlink(dst);
		errno = e;
		return -1;
	}
	return 0;
}

/* Move tmp/<base> into cur/ or new/; d->final gets "cur/<name>". */
static int
place(struct maildir_delivery *d, long long date, char **err)
{
	const char *sub = strchr(d->flags, 'S') ? "cur" : "new";
	char *src = tmppath(d), *dst = NULL;
	struct sb nm = { 0 };
	int tries, rv = -1;

	if (src == NULL)
		return fail(err, "%s: %s", d->dir, strerror(errno));
	for (tries = 0; tries < 7; tries++) {
		sb_reset(&nm);
		if (date != -1 || tries > 0) {
			if (maildir_name_make(&nm, date != -1 ? (time_t)date :
			    time(NULL), d->uid, d->fmd5, d->flags, d->o.winsep)
			    == -1)
				break;
		} else if (sb_adds(&nm, d->base) == -1)
			break;
		free(dst);
		if (asprintf(&dst, "%s/%s/%s", d->dir, sub, nm.s) == -1) {
			dst = NULL;
			break;
		}
		if (rename_noreplace(src, dst) == 0) {
			free(d->final);
			if (asprintf(&d->final, "%s/%s", sub, nm.s) == -1) {
				d->final = NULL;
				break;
			}
			rv = 0;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (rv == -1)
		fail(err, "%s: cannot move into %s/: %s", src, sub,
		    errno == EEXIST ? "no unique name" : strerror(errno));
	free(src);
	free(dst);
	sb_free(&nm);
	return rv;
}

static int
fsync_dir(const char *dir, const char *sub, char **err)
{
	char *p;
	int fd, rv = 0;

	if (asprintf(&p, "%s/%s", dir, sub) == -1)
		return fail(err, "%s: %s", dir, strerror(errno));
	if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		rv = fail(err, "%s: fsync: %s", p, strerror(errno));
	if (fd != -1)
		close(fd);
	free(p);
	return rv;
}

int
maildir_deliver_commit(struct maildir_delivery *d, char **name, char **err)
{
	long long date;

	*name = NULL;
	*err = NULL;
	if (d->failed) {
		fail(err, "%s/tmp/%s: a write failed", d->dir, d->base);
		maildir_deliver_abort(d);
		return -1;
	}
	if (finish_tmp(d, &date, err) == -1 || place(d, date, err) == -1) {
		maildir_deliver_abort(d);
		return -1;
	}
	/* the message is in place: a failed directory fsync is reported,
	 * but the file stays (it is complete) */
	if (d->o.fsync && fsync_dir(d->dir, strchr(d->flags, 'S') ? "cur" :
	    "new", err) == -1) {
		delivery_free(d);
		return -1;
	}
	*name = d->final;
	d->final = NULL;
	delivery_free(d);
	return 0;
}

/* ---- batches ---- */

struct maildir_batch {
	struct maildir_delivery	**v;
	size_t			  n, cap;
	long long		 *date;
};

struct maildir_batch *
maildir_batch_new(void)
{
	return calloc(1, sizeof(struct maildir_batch));
}

int
maildir_batch_add(struct maildir_batch *b, struct maildir_delivery *d,
    char **err)
{
	long long date;
	int fs;

	*err = NULL;
	if (d->failed) {
		fail(err, "%s/tmp/%s: a write failed", d->dir, d->base);
		maildir_deliver_abort(d);
		return -1;
	}
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 64;
		struct maildir_delivery **nv;
		long long *nd;

		if ((nv = reallocarray(b->v, nc, sizeof(*nv))) == NULL) {
			fail(err, "%s", strerror(errno));
			maildir_deliver_abort(d);
			return -1;
		}
		b->v = nv;
		if ((nd = reallocarray(b->date, nc, sizeof(*nd))) == NULL) {
			fail(err, "%s", strerror(errno));
			maildir_deliver_abort(d);
			return -1;
		}
		b->date = nd;
		b->cap = nc;
	}
	/* durability comes from one syncfs() in batch_commit() */
	fs = d->o.fsync;
	d->o.fsync = 0;
	if (finish_tmp(d, &date, err) == -1) {
		maildir_deliver_abort(d);
		return -1;
	}
	d->o.fsync = fs;
	b->date[b->n] = date;
	b->v[b->n++] = d;
	return 0;
}

int
maildir_batch_commit(struct maildir_batch *b, char **err)
{
	size_t i, j;
	int rv = 0;

	*err = NULL;
	/* one syncfs per file system that holds a message of the batch */
	for (i = 0; i < b->n; i++) {
		struct maildir_delivery *d = b->v[i];
		int fd;

		if (!d->o.fsync)
			continue;
		for (j = 0; j < i; j++)
			if (b->v[j]->o.fsync && b->v[j]->dev == d->dev)
				break;
		if (j < i)
			continue;
		if ((fd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		    -1 || syncfs(fd) == -1) {
			if (fd != -1)
				close(fd);
			/* nothing is renamed: nothing was made visible */
			fail(err, "%s: syncfs: %s", d->dir, strerror(errno));
			for (j = 0; j < b->n; j++) {
				struct maildir_delivery *x = b->v[j];

				if (x->error == NULL && (x->error =
				    strdup(*err ? *err : "syncfs failed")) ==
				    NULL)
					continue;
				if (x->final == NULL) {
					char *p = tmppath(x);

					if (p)
						unlink(p);
					free(p);
				}
			}
			return -1;
		}
		close(fd);
	}
	for (i = 0; i < b->n; i++) {
		struct maildir_delivery *d = b->v[i];
		char *e = NULL;

		if (d->final || d->error)
			continue;
		if (place(d, b->date[i], &e) == -1) {
			char *p = tmppath(d);

			if (p)
				unlink(p);
			free(p);
			d->error = e ? e : strdup("rename failed");
			rv = -1;
		}
	}
	/* each directory renamed into, once */
	for (i = 0; i < b->n; i++) {
		struct maildir_delivery *d = b->v[i];
		const char *sub = strchr(d->flags, 'S') ? "cur" : "new";
		char *e = NULL;

		if (!d->o.fsync || d->final == NULL)
			continue;
		for (j = 0; j < i; j++)
			if (b->v[j]->final && b->v[j]->o.fsync &&
			    strcmp(b->v[j]->dir, d->dir) == 0 &&
			    (strchr(b->v[j]->flags, 'S') != NULL) ==
			    (strchr(d->flags, 'S') != NULL))
				break;
		if (j < i)
			continue;
		if (fsync_dir(d->dir, sub, &e) == -1) {
			if (*err == NULL)
				*err = e;
			else
				free(e);
			rv = -1;
		}
	}
	if (rv == -1 && *err == NULL)
		fail(err, "some messages could not be delivered");
	return rv;
}

size_t
maildir_batch_count(const struct maildir_batch *b)
{
	return b->n;
}

int
maildir_batch_result(const struct maildir_batch *b, size_t i,
    const char **name, const char **err)
{
	*name = NULL;
	*err = NULL;
	if (i >= b->n)
		return -1;
	if (b->v[i]->final) {
		*name = b->v[i]->final;
		return 0;
	}
	*err = b->v[i]->error ? b->v[i]->error : "not delivered";
	return -1;
}

void
maildir_batch_free(struct maildir_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		/* never committed: the tmp file goes */
		if (b->v[i]->final == NULL && b->v[i]->error == NULL) {
			char *p = tmppath(b->v[i]);

			if (p)
				unlink(p);
			free(p);
		}
		delivery_free(b->v[i]);
	}
	free(b->v);
	free(b->date);
	free(b);
}

/* ---- flag changes ---- */

int
maildir_set_flags(const char *dir, const char *rel, const char *flags,
    int winsep, char **newrel, char **err)
{
	const char *base = strrchr(rel, '/');
	const char *sub;
	struct sb nm = { 0 };
	char *fl, *src = NULL, *dst = NULL;
	int rv = -1;

	*newrel = NULL;
	*err = NULL;
	base = base ? base + 1 : rel;
	if ((fl = strdup(flags)) == NULL)
		return fail(err, "%s: %s", rel, strerror(errno));
	maildir_flags_norm(fl);
	sub = strchr(fl, 'S') ? "cur" : "new";
	if (sb_printf(&nm, "%s/", sub) == -1 ||
	    maildir_name_setflags(&nm, base, fl, winsep) == -1 ||
	    asprintf(&src, "%s/%s", dir, rel) == -1 ||
	    asprintf(&dst, "%s/%s", dir, nm.s) == -1) {
		fail(err, "%s: %s", rel, strerror(errno));
		goto out;
	}
	if (strcmp(rel, nm.s) != 0 && rename_noreplace(src, dst) == -1) {
		fail(err, "cannot rename %s to %s: %s", src, nm.s,
		    strerror(errno));
		goto out;
	}
	*newrel = nm.s;
	nm.s = NULL;
	rv = 0;
out:
	free(fl);
	free(src);
	free(dst);
	sb_free(&nm);
	return rv;
}

int
maildir_each_file(const char *folderdir, maildir_file_fn fn, void *ctx,
    char **err)
{
	static const char *subs[] = { "new", "cur" };
	int i;

	*err = NULL;
	for (i = 0; i < 2; i++) {
		struct dirent *e;
		DIR *d = NULL;
		int dfd, rv = 0;
		char *dir;

		if (asprintf(&dir, "%s/%s", folderdir, subs[i]) == -1) {
			*err = strdup("out of memory");
			return -1;
		}
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
		    (d = fdopendir(dfd)) == NULL) {
			if (asprintf(err, "%s: %s", dir, strerror(errno)) == -1)
				*err = NULL;
			if (dfd != -1)
				close(dfd);
			free(dir);
			return -1;
		}
		errno = 0;
		while (rv == 0 && (e = readdir(d)) != NULL) {
			if (e->d_name[0] != '.')
				rv = fn(ctx, subs[i], dfd, e->d_name,
				    strlen(e->d_name));
			errno = 0;
		}
		if (rv == 0 && errno != 0) {
			if (asprintf(err, "%s: %s", dir, strerror(errno)) == -1)
				*err = NULL;
			rv = -1;
		}
		closedir(d);
		free(dir);
		if (rv == -1)
			return -1;
	}
	return 0;
}

int
maildir_repo_load(struct maildir_repo *r, struct config *cfg,
    const char *account, char **err)
{
	char *sect = NULL, *repo = NULL, *type = NULL, *sepv = NULL;
	int rv, ret = -1;

	memset(r, 0, sizeof(*r));
	*err = NULL;
	if (asprintf(&sect, "Account %s", account) == -1) {
		sect = NULL;
		goto nomem;
	}
	if (!config_has_section(cfg, sect)) {
		if (asprintf(err, "no [%s] section in the configuration",
		    sect) == -1)
			*err = NULL;
		goto out;
	}
	if ((rv = config_value(cfg, sect, "localrepository", &repo)) != 1) {
		*err = strdup(rv == -1 ? config_errmsg(cfg) :
		    "the account has no localrepository");
		goto out;
	}
	if (config_bool(cfg, sect, "maildir-windows-compatible",
	    &r->winsep) == -1)
		goto cfgerr;
	if (asprintf(&r->section, "Repository %s", repo) == -1) {
		r->section = NULL;
		goto nomem;
	}
	if (!config_has_section(cfg, r->section)) {
		if (asprintf(err, "no [%s] section in the configuration",
		    r->section) == -1)
			*err = NULL;
		goto out;
	}
	if ((rv = config_value(cfg, r->section, "type", &type)) == -1)
		goto cfgerr;
	if (rv == 0 || (strcmp(type, "Maildir") != 0 &&
	    strcmp(type, "GmailMaildir") != 0)) {
		if (asprintf(err, "[%s] is not a Maildir repository (type = "
		    "%s)", r->section, rv ? type : "unset") == -1)
			*err = NULL;
		goto out;
	}
	if ((rv = config_value(cfg, r->section, "localfolders", &r->root))
	    != 1) {
		if (rv == -1)
			goto cfgerr;
		if (asprintf(err, "[%s] has no localfolders", r->section) == -1)
			*err = NULL;
		goto out;
	}
	if (config_value(cfg, r->section, "sep", &sepv) == -1 ||
	    config_get(cfg, r->section, "nametrans", &r->nametrans) == -1 ||
	    config_value(cfg, "general", "pythonfile", &r->pythonfile) == -1)
		goto cfgerr;
	if (sepv == NULL || strlen(sepv) != 1 ||
	    (unsigned char)sepv[0] < 0x20) {
		if (asprintf(err, "[%s] sep \"%s\": want one character",
		    r->section, sepv ? sepv : "") == -1)
			*err = NULL;
		goto out;
	}
	r->sep = sepv[0];
	ret = 0;
	goto out;
cfgerr:
	*err = strdup(config_errmsg(cfg));
	goto out;
nomem:
	*err = strdup("out of memory");
out:
	free(sect);
	free(repo);
	free(type);
	free(sepv);
	if (ret == -1)
		maildir_repo_free(r);
	return ret;
}

void
maildir_repo_free(struct maildir_repo *r)
{
	free(r->section);
	free(r->root);
	free(r->nametrans);
	free(r->pythonfile);
	memset(r, 0, sizeof(*r));
}

int
maildir_set_uid(const char *dir, const char *rel, uint32_t uid,
    const char *fmd5, const char *flags, int winsep, int dofsync,
    char **newrel, char **err)
{
	const char *slash = strrchr(rel, '/');
	struct sb nm = { 0 };
	char *src = NULL, *dst = NULL, *sub = NULL;
	int rv = -1;

	*newrel = NULL;
	*err = NULL;
	if (slash == NULL || (sub = strndup(rel, (size_t)(slash - rel))) ==
	    NULL || sb_printf(&nm, "%s/", sub) == -1 ||
	    maildir_name_make(&nm, time(NULL), uid, fmd5, flags, winsep) == -1 ||
	    asprintf(&src, "%s/%s", dir, rel) == -1 ||
	    asprintf(&dst, "%s/%s", dir, nm.s) == -1) {
		fail(err, "%s: %s", rel, slash ? strerror(errno) :
		    "not in cur/ or new/");
		goto out;
	}
	if (rename_noreplace(src, dst) == -1) {
		fail(err, "cannot rename %s to %s: %s", src, nm.s,
		    strerror(errno));
		goto out;
	}
	if (dofsync && fsync_dir(dir, sub, err) == -1)
		goto out;
	*newrel = nm.s;
	nm.s = NULL;
	rv = 0;
out:
	free(sub);
	free(src);
	free(dst);
	sb_free(&nm);
	return rv;
}

/* Was tmp/name left by a delivery of ours whose process is gone? */
static int
stale_tmp(const char *name, const char *fmd5, int winsep, time_t mtime)
{
	struct maildir_name mn;
	const char *host = hostname(), *p, *h;
	char *end;
	size_t hl = strlen(host), i;
	unsigned long pid;

	maildir_parse_name(name, strlen(name), fmd5, winsep, &mn);
	if (mn.fmd5 != MN_OURS || mn.uid == 0)
		return 0;
	/* older than 36 hours: any Maildir reader may remove it */
	if (time(NULL) - mtime > 36 * 3600)
		return 1;
	/* <time>_<n>.<pid>.<host>,U=... */
	if ((p = strchr(name, '.')) == NULL)
		return 0;
	pid = strtoul(p + 1, &end, 10);
	if (end == p + 1 || *end != '.' || pid == 0 || pid > INT_MAX)
		return 0;
	h = end + 1;
	for (i = 0; i < hl; i++)	/* '/' in the host name was made '-' */
		if (h[i] != (host[i] == '/' ? '-' : host[i]))
			return 0;
	if (strncmp(h + hl, ",U=", 3) != 0 || (pid_t)pid == getpid())
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

int
maildir_clean_tmp(const char *dir, const char *fmd5, int winsep,
    size_t *removed, char **err)
{
	struct dirent *de;
	struct stat st;
	char *tmp;
	DIR *d;
	int fd, rv = 0;

	*err = NULL;
	*removed = 0;
	if (asprintf(&tmp, "%s/tmp", dir) == -1)
		return fail(err, "%s: %s", dir, strerror(errno));
	if ((d = opendir(tmp)) == NULL) {
		rv = errno == ENOENT ? 0 : fail(err, "%s: %s", tmp,
		    strerror(errno));
		free(tmp);
		return rv;
	}
	fd = dirfd(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) ||
		    !stale_tmp(de->d_name, fmd5, winsep, st.st_mtime))
			continue;
		if (unlinkat(fd, de->d_name, 0) == -1 && errno != ENOENT) {
			rv = fail(err, "%s/%s: %s", tmp, de->d_name,
			    strerror(errno));
			break;
		}
		(*removed)++;
	}
	if (rv == 0 && errno != 0)
		rv = fail(err, "%s: %s", tmp, strerror(errno));
	closedir(d);
	free(tmp);
	return rv;
}
