/* config.c - OfflineIMAP's configuration file, as configparser reads it */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define MAX_DEPTH 10	/* configparser's MAX_INTERPOLATION_DEPTH */

struct copt {
	char		*key;
	char		*val;
	const char	*file;		/* NULL for -k overrides */
	unsigned	 line;
};

struct csect {
	char		*name;
	struct copt	*opt;
	size_t		 nopt;
	const char	*file;
	unsigned	 line;
};

struct config {
	struct csect	*sect;
	size_t		 nsect;
	struct csect	 dflt;		/* [DEFAULT] */
	char		**files;	/* names of files read */
	size_t		 nfiles;
	struct sb	 err;
};

static int
fail(struct config *c, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct config *c, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	sb_reset(&c->err);
	if (file && line)
		sb_printf(&c->err, "%s:%u: ", file, line);
	else if (file)
		sb_printf(&c->err, "%s: ", file);
	va_start(ap, fmt);
	sb_vprintf(&c->err, fmt, ap);
	va_end(ap);
	return -1;
}

static int
nomem(struct config *c)
{
	return fail(c, NULL, 0, "out of memory");
}

const char *
config_errmsg(const struct config *c)
{
	return c->err.len ? c->err.s : "unknown error";
}

struct config *
config_new(void)
{
	struct config *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->dflt.name = strdup("DEFAULT")) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
free_sect(struct csect *s)
{
	size_t i;

	for (i = 0; i < s->nopt; i++) {
		free(s->opt[i].key);
		free(s->opt[i].val);
	}
	free(s->opt);
	free(s->name);
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsect; i++)
		free_sect(&c->sect[i]);
	free(c->sect);
	free_sect(&c->dflt);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	sb_free(&c->err);
	free(c);
}

char *
config_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct sb b = { 0 };

	if (home == NULL || *home == '\0') {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : "/";
	}
	if (xdg && *xdg)
		sb_printf(&b, "%s/offlineimap/config", xdg);
	else
		sb_printf(&b, "%s/.config/offlineimap/config", home);
	if (b.s && access(b.s, F_OK) == 0)
		return b.s;
	sb_reset(&b);
	if (sb_printf(&b, "%s/.offlineimaprc", home) == -1) {
		sb_free(&b);
		return NULL;
	}
	return b.s;
}

static struct csect *
find_sect(const struct config *c, const char *name)
{
	size_t i;

	if (strcmp(name, "DEFAULT") == 0)
		return (struct csect *)&c->dflt;
	for (i = 0; i < c->nsect; i++)
		if (strcmp(c->sect[i].name, name) == 0)
			return &c->sect[i];
	return NULL;
}

static struct copt *
find_opt(const struct csect *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nopt; i++)
		if (strcmp(s->opt[i].key, key) == 0)
			return &s->opt[i];
	return NULL;
}

static struct csect *
add_sect(struct config *c, const char *name, size_t n, const char *file,
    unsigned line)
{
	struct csect *s;

	if ((s = reallocarray(c->sect, c->nsect + 1, sizeof(*s))) == NULL)
		return NULL;
	c->sect = s;
	s = &c->sect[c->nsect];
	memset(s, 0, sizeof(*s));
	if ((s->name = strndup(name, n)) == NULL)
		return NULL;
	s->file = file;
	s->line = line;
	c->nsect++;
	return s;
}

static struct copt *
add_opt(struct csect *s, const char *key, size_t klen, const char *file,
    unsigned line)
{
	struct copt *o;
	size_t i;

	if ((o = reallocarray(s->opt, s->nopt + 1, sizeof(*o))) == NULL)
		return NULL;
	s->opt = o;
	o = &s->opt[s->nopt];
	memset(o, 0, sizeof(*o));
	if ((o->key = strndup(key, klen)) == NULL)
		return NULL;
	for (i = 0; o->key[i]; i++)
		o->key[i] = (char)tolower((unsigned char)o->key[i]);
	o->file = file;
	o->line = line;
	s->nopt++;
	return o;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/* Trailing whitespace (and newlines) off a multi-line value. */
static void
rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (is_space((unsigned char)s[n - 1]) || s[n - 1] == '\n'))
		s[--n] = '\0';
}

int
config_read_fp(struct config *c, FILE *fp, const char *name)
{
	struct csect *cur = NULL;
	struct copt *opt = NULL;	/* the option a continuation extends */
	size_t indent = (size_t)-1, cap = 0;
	char *line = NULL, **files;
	const char *fname;
	unsigned lineno = 0;
	ssize_t len;
	int rv = -1;

	if ((files = reallocarray(c->files, c->nfiles + 1, sizeof(*files)))
	    == NULL)
		return nomem(c);
	c->files = files;
	if ((files[c->nfiles] = strdup(name)) == NULL)
		return nomem(c);
	fname = files[c->nfiles++];

	while ((len = getline(&line, &cap, fp)) != -1) {
		size_t n = (size_t)len, b, e, lead;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			fail(c, fname, lineno, "NUL byte in line");
			goto out;
		}
		for (b = 0; b < n && (is_space((unsigned char)line[b])); b++)
			;
		for (e = n; e > b && is_space((unsigned char)line[e - 1]); e--)
			;
		lead = b;
		if (b < e && (line[b] == '#' || line[b] == ';'))
			continue;	/* a comment, even inside a value */
		if (b == e) {
			/* an empty line is part of a value if one follows */
			if (cur && opt) {
				struct sb v = { .s = opt->val,
				    .len = strlen(opt->val),
				    .cap = strlen(opt->val) + 1 };

				if (sb_addc(&v, '\n') == -1) {
					nomem(c);
					goto out;
				}
				opt->val = v.s;
			}
			continue;
		}
		line[e] = '\0';
		if (cur && opt && lead > indent) {
			struct sb v = { .s = opt->val, .len = strlen(opt->val),
			    .cap = strlen(opt->val) + 1 };

			if (sb_addc(&v, '\n') == -1 ||
			    sb_adds(&v, line + b) == -1) {
				nomem(c);
				goto out;
			}
			opt->val = v.s;
			continue;
		}
		indent = lead;
		if (line[b] == '[' && strrchr(line + b, ']') > line + b + 1) {
			const char *close = strrchr(line + b, ']');
			size_t hl = (size_t)(close - line - b - 1);
			struct csect *s;

			opt = NULL;
			if (hl == 7 && strncmp(line + b + 1, "DEFAULT", 7) == 0) {
				cur = &c->dflt;
				continue;
			}
			line[b + 1 + hl] = '\0';
			if ((s = find_sect(c, line + b + 1)) != NULL) {
				fail(c, fname, lineno, "section [%s] already "
				    "defined at %s:%u", s->name, s->file,
				    s->line);
				goto out;
			}
			if ((cur = add_sect(c, line + b + 1, hl, fname,
			    lineno)) == NULL) {
				nomem(c);
				goto out;
			}
			continue;
		}
		if (cur == NULL) {
			fail(c, fname, lineno, "option outside any section "
			    "(the file must start with a section such as "
			    "[general])");
			goto out;
		}
		size_t d = b + strcspn(line + b, "=:");
		size_t ke, vs;
		struct copt *old;
		char *key;

		if (line[d] == '\0') {
			fail(c, fname, lineno, "expected \"option = value\" or "
			    "\"[section]\", not \"%s\"", line + b);
			goto out;
		}
		for (ke = d; ke > b && is_space((unsigned char)line[ke - 1]);
		    ke--)
			;
		if (ke == b) {
			fail(c, fname, lineno, "option name missing before "
			    "'%c'", line[d]);
			goto out;
		}
		for (vs = d + 1; is_space((unsigned char)line[vs]); vs++)
			;
		if ((key = strndup(line + b, ke - b)) == NULL) {
			nomem(c);
			goto out;
		}
		for (size_t i = 0; key[i]; i++)
			key[i] = (char)tolower((unsigned char)key[i]);
		old = find_opt(cur, key);
		free(key);
		if (old) {
			fail(c, fname, lineno, "option '%s' already set in "
			    "[%s] at line %u", old->key, cur->name, old->line);
			goto out;
		}
		if ((opt = add_opt(cur, line + b, ke - b, fname, lineno))
		    == NULL || (opt->val = strdup(line + vs)) == NULL) {
			nomem(c);
			goto out;
		}
	}
	if (ferror(fp)) {
		fail(c, fname, 0, "read error: %s", strerror(errno));
		goto out;
	}
	rv = 0;
out:
	free(line);
	/* multi-line values lose trailing blank lines, as in configparser */
	for (size_t i = 0; i <= c->nsect; i++) {
		struct csect *s = i < c->nsect ? &c->sect[i] : &c->dflt;

		for (size_t j = 0; j < s->nopt; j++)
			if (s->opt[j].val)
				rstrip(s->opt[j].val);
	}
	return rv;
}

int
config_read(struct config *c, const char *path)
{
	FILE *fp;
	int rv;

	if ((fp = fopen(path, "r")) == NULL)
		return fail(c, path, 0, "%s", strerror(errno));
	rv = config_read_fp(c, fp, path);
	fclose(fp);
	return rv;
}

struct config *
config_load(const char *path, char *const *overrides, size_t n, char **err)
{
	struct config *c;
	char *dpath = NULL;
	size_t i;

	*err = NULL;
	if (path == NULL && (path = dpath = config_default_path()) == NULL) {
		*err = strdup("out of memory");
		return NULL;
	}
	if ((c = config_new()) == NULL) {
		free(dpath);
		*err = strdup("out of memory");
		return NULL;
	}
	if (access(path, F_OK) == -1) {
		if (asprintf(err, "config file '%s' does not exist", path) == -1)
			*err = NULL;
		goto fail;
	}
	if (config_read(c, path) == -1)
		goto failmsg;
	for (i = 0; i < n; i++)
		if (config_override(c, overrides[i]) == -1)
			goto failmsg;
	free(dpath);
	return c;
failmsg:
	*err = strdup(config_errmsg(c));
fail:
	free(dpath);
	config_free(c);
	return NULL;
}

/* configparser's check of a value about to be set. */
static int
valid_percent(const char *v)
{
	const char *p;

	for (p = v; (p = strchr(p, '%')) != NULL; ) {
		if (p[1] == '%') {
			p += 2;
			continue;
		}
		if (p[1] != '(')
			return 0;
		const char *q = strchr(p + 2, ')');

		if (q == NULL || q == p + 2 || q[1] != 's')
			return 0;
		p = q + 2;
	}
	return 1;
}

int
config_override(struct config *c, const char *arg)
{
	const char *eq = strchr(arg, '='), *colon;
	struct csect *s;
	struct copt *o;
	char *sect, *key;
	size_t i;

	if (eq == NULL)
		return fail(c, "-k", 0, "\"%s\": want [section:]option=value",
		    arg);
	colon = memchr(arg, ':', (size_t)(eq - arg));
	if (colon) {
		if ((sect = strndup(arg, (size_t)(colon - arg))) == NULL)
			return nomem(c);
		for (i = 0; sect[i]; i++)
			if (sect[i] == '_')
				sect[i] = ' ';
		colon++;
	} else {
		if ((sect = strdup("general")) == NULL)
			return nomem(c);
		colon = arg;
	}
	if (colon == eq) {
		free(sect);
		return fail(c, "-k", 0, "\"%s\": option name missing", arg);
	}
	if (!valid_percent(eq + 1)) {
		free(sect);
		return fail(c, "-k", 0, "\"%s\": a %% must be followed by %% or "
		    "(name)s", arg);
	}
	if ((s = find_sect(c, sect)) == NULL) {
		fail(c, "-k", 0, "\"%s\": no section [%s] in the "
		    "configuration", arg, sect);
		free(sect);
		return -1;
	}
	free(sect);
	if ((key = strndup(colon, (size_t)(eq - colon))) == NULL)
		return nomem(c);
	for (i = 0; key[i]; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	if ((o = find_opt(s, key)) == NULL &&
	    (o = add_opt(s, key, strlen(key), NULL, 0)) == NULL) {
		free(key);
		return nomem(c);
	}
	free(key);
	free(o->val);
	o->file = NULL;
	o->line = 0;
	if ((o->val = strdup(eq + 1)) == NULL)
		return nomem(c);
	return 0;
}

size_t
config_nsections(const struct config *c)
{
	return c->nsect;
}

const char *
config_section(const struct config *c, size_t i)
{
	return i < c->nsect ? c->sect[i].name : NULL;
}

int
config_has_section(const struct config *c, const char *name)
{
	return find_sect(c, name) != NULL;
}

unsigned
config_scope(const char *section)
{
	if (strcmp(section, "general") == 0)
		return SC_GENERAL;
	if (strcmp(section, "mbnames") == 0)
		return SC_MBNAMES;
	if (strncmp(section, "Account ", 8) == 0)
		return SC_ACCOUNT;
	if (strncmp(section, "Repository ", 11) == 0)
		return SC_REPO;
	return 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
config_keys(const struct config *c, const char *section, char ***keys,
    size_t *n)
{
	const struct csect *s = find_sect(c, section);
	size_t i, k = 0, total;
	char **v;

	*keys = NULL;
	*n = 0;
	if (s == NULL)
		return 0;
	total = s->nopt + (s == &c->dflt ? 0 : c->dflt.nopt);
	if ((v = calloc(total + 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < s->nopt; i++)
		if ((v[k++] = strdup(s->opt[i].key)) == NULL)
			goto nomem;
	if (s != &c->dflt)
		for (i = 0; i < c->dflt.nopt; i++)
			if (find_opt(s, c->dflt.opt[i].key) == NULL &&
			    (v[k++] = strdup(c->dflt.opt[i].key)) == NULL)
				goto nomem;
	qsort(v, k, sizeof(*v), cmpstr);
	*keys = v;
	*n = k;
	return 0;
nomem:
	config_free_list(v, k);
	return -1;
}

void
config_free_list(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const struct copt *
lookup(const struct config *c, const char *section, const char *key)
{
	const struct csect *s = find_sect(c, section);
	const struct copt *o;

	if (s && (o = find_opt(s, key)) != NULL)
		return o;
	return find_opt(&c->dflt, key);
}

static void
lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int
config_where(const struct config *c, const char *section, const char *key,
    const char **file, unsigned *line)
{
	const struct copt *o;
	char *k = strdup(key);

	if (k == NULL)
		return -1;
	lowercase(k);
	o = lookup(c, section, k);
	free(k);
	if (o == NULL)
		return 0;
	*file = o->file;
	*line = o->line;
	return 1;
}

static int
where_fail(struct config *c, const struct copt *o, const char *section,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* An error about an option, placed at its line. */
static int
where_fail(struct config *c, const struct copt *o, const char *section,
    const char *fmt, ...)
{
	va_list ap;

	sb_reset(&c->err);
	if (o->file)
		sb_printf(&c->err, "%s:%u: ", o->file, o->line);
	else
		sb_adds(&c->err, "-k: ");
	sb_printf(&c->err, "[%s] %s: ", section, o->key);
	va_start(ap, fmt);
	sb_vprintf(&c->err, fmt, ap);
	va_end(ap);
	return -1;
}

static int
interpolate(struct config *c, const char *section, const struct copt *o,
    const char *val, struct sb *out, int depth)
{
	const char *p = val;

	if (depth > MAX_DEPTH)
		return where_fail(c, o, section, "%%(...)s references nested "
		    "more than %d deep (a loop?)", MAX_DEPTH);
	while (*p) {
		const char *pct = strchr(p, '%');

		if (pct == NULL)
			return sb_adds(out, p) == -1 ? nomem(c) : 0;
		if (sb_add(out, p, (size_t)(pct - p)) == -1)
			return nomem(c);
		if (pct[1] == '%') {
			if (sb_addc(out, '%') == -1)
				return nomem(c);
			p = pct + 2;
			continue;
		}
		if (pct[1] != '(')
			return where_fail(c, o, section, "'%%' must be followed "
			    "by '%%' or '(' (write %%%% for a literal %%)");
		const char *close = strchr(pct + 2, ')');

		if (close == NULL || close == pct + 2 || close[1] != 's')
			return where_fail(c, o, section, "bad %%(name)s "
			    "reference \"%s\"", pct);
		char *name = strndup(pct + 2, (size_t)(close - pct - 2));
		const struct copt *ref;

		if (name == NULL)
			return nomem(c);
		lowercase(name);
		ref = lookup(c, section, name);
		if (ref == NULL) {
			where_fail(c, o, section, "%%(%s)s refers to an option "
			    "not set in [%s] or [DEFAULT]", name, section);
			free(name);
			return -1;
		}
		free(name);
		if (interpolate(c, section, o, ref->val, out, depth + 1) == -1)
			return -1;
		p = close + 2;
	}
	return 0;
}

static int
get_key(struct config *c, const char *section, const char *key, int raw,
    char **out, const struct copt **optp)
{
	const struct copt *o;
	struct sb b = { 0 };
	char *k;

	if ((k = strdup(key)) == NULL)
		return nomem(c);
	lowercase(k);
	o = lookup(c, section, k);
	free(k);
	if (optp)
		*optp = o;
	if (o == NULL)
		return 0;
	if (raw) {
		if ((*out = strdup(o->val)) == NULL)
			return nomem(c);
		return 1;
	}
	if (interpolate(c, section, o, o->val, &b, 1) == -1) {
		sb_free(&b);
		return -1;
	}
	if (b.s == NULL && (b.s = strdup("")) == NULL)
		return nomem(c);
	*out = b.s;
	return 1;
}

int
config_raw(struct config *c, const char *section, const char *key, char **out)
{
	return get_key(c, section, key, 1, out, NULL);
}

int
config_get(struct config *c, const char *section, const char *key, char **out)
{
	return get_key(c, section, key, 0, out, NULL);
}

int
config_parse_bool(const char *s)
{
	static const char *yes[] = { "1", "yes", "true", "on" };
	static const char *no[] = { "0", "no", "false", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Python's int(): optional sign, digits with single underscores between,
 * surrounding whitespace. */
static int
parse_long(const char *s, long *v)
{
	char *buf, *d, *end;
	const char *p;
	int digit = 0;

	while (isspace((unsigned char)*s))
		s++;
	if ((buf = malloc(strlen(s) + 1)) == NULL)
		return -1;
	d = buf;
	p = s;
	if (*p == '+' || *p == '-')
		*d++ = *p++;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p)) {
			*d++ = *p;
			digit = 1;
		} else if (*p == '_' && digit && isdigit((unsigned char)p[1]))
			continue;
		else
			break;
	}
	while (isspace((unsigned char)*p))
		p++;
	*d = '\0';
	if (*p != '\0' || !digit) {
		free(buf);
		return -1;
	}
	errno = 0;
	*v = strtol(buf, &end, 10);
	free(buf);
	return errno == ERANGE ? -1 : 0;
}

static int
parse_float(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(*v))
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	return *end == '\0' ? 0 : -1;
}

/* os.path.expanduser, then (unless tilde_only) os.path.expandvars. */
static int
expand_path(const char *in, int tilde_only, char **out)
{
	struct sb b = { 0 };
	const char *p = in;

	if (*p == '~') {
		size_t n = strcspn(p + 1, "/");
		const char *home = NULL;

		if (n == 0) {
			home = getenv("HOME");
			if (home == NULL || *home == '\0') {
				struct passwd *pw = getpwuid(getuid());

				home = pw ? pw->pw_dir : NULL;
			}
		} else {
			char *user = strndup(p + 1, n);
			struct passwd *pw;

			if (user == NULL)
				return -1;
			pw = getpwnam(user);
			free(user);
			home = pw ? pw->pw_dir : NULL;
		}
		if (home) {
			if (sb_adds(&b, home) == -1)
				goto nomem;
			p += 1 + n;
		}
	}
	while (*p) {
		if (!tilde_only && *p == '$') {
			const char *q = p + 1, *name = q;
			size_t n;
			int brace = *q == '{';

			if (brace)
				name = ++q;
			n = 0;
			while (isalnum((unsigned char)name[n]) || name[n] == '_')
				n++;
			if (n > 0 && (!brace || name[n] == '}')) {
				char *var = strndup(name, n);
				const char *val;

				if (var == NULL)
					goto nomem;
				val = getenv(var);
				free(var);
				if (val) {
					if (sb_adds(&b, val) == -1)
						goto nomem;
					p = name + n + (brace ? 1 : 0);
					continue;
				}
			}
		}
		if (sb_addc(&b, *p++) == -1)
			goto nomem;
	}
	if (b.s == NULL && (b.s = strdup("")) == NULL)
		return -1;
	*out = b.s;
	return 0;
nomem:
	sb_free(&b);
	return -1;
}

/* The repository type of a [Repository X] section, or NULL. */
static char *
repo_type(struct config *c, const char *section)
{
	char *t = NULL;

	if (config_scope(section) != SC_REPO)
		return NULL;
	if (get_key(c, section, "type", 0, &t, NULL) != 1)
		return NULL;
	return t;
}

static const struct opt_def *
def_for(struct config *c, const char *section, const char *key)
{
	unsigned scope = config_scope(section);
	const struct opt_def *d;
	char *k, *type;

	if (scope == 0 || (k = strdup(key)) == NULL)
		return NULL;
	lowercase(k);
	type = repo_type(c, section);
	d = opt_lookup(scope, type, k);
	free(type);
	free(k);
	return d;
}

/* Check and normalise a value by type. */
static int
typed(struct config *c, const char *section, const struct copt *o,
    const struct opt_def *d, char *val, char **out)
{
	long l;
	double f;
	int bv;

	*out = NULL;
	switch (d ? d->type : OPT_STRING) {
	case OPT_BOOL:
		if ((bv = config_parse_bool(val)) == -1) {
			if (o)
				where_fail(c, o, section, "\"%s\" is not a "
				    "boolean (yes/no, true/false, on/off, 1/0)",
				    val);
			else
				fail(c, NULL, 0, "[%s] %s: default \"%s\" is "
				    "not a boolean", section, d->key, val);
			free(val);
			return -1;
		}
		free(val);
		*out = strdup(bv ? "true" : "false");
		break;
	case OPT_INT:
		if (parse_long(val, &l) == -1) {
			if (o)
				where_fail(c, o, section, "\"%s\" is not a "
				    "whole number", val);
			free(val);
			return -1;
		}
		free(val);
		if (asprintf(out, "%ld", l) == -1)
			*out = NULL;
		break;
	case OPT_FLOAT:
		if (parse_float(val, &f) == -1) {
			if (o)
				where_fail(c, o, section, "\"%s\" is not a "
				    "number", val);
			free(val);
			return -1;
		}
		*out = val;
		return 0;
	case OPT_PATH:
	case OPT_TILDE:
		if (expand_path(val, d->type == OPT_TILDE, out) == -1)
			*out = NULL;
		free(val);
		break;
	default:
		*out = val;
		return 0;
	}
	return *out ? 0 : nomem(c);
}

int
config_value(struct config *c, const char *section, const char *key,
    char **out)
{
	const struct opt_def *d = def_for(c, section, key);
	const struct copt *o;
	char *val = NULL;
	int rv;

	rv = get_key(c, section, key, d && d->type == OPT_RAW, &val, &o);
	if (rv == -1)
		return -1;
	if (rv == 0) {
		if (d == NULL)
			return 0;
		switch (d->dflt) {
		case DF_PLAIN:
			if (d->def == NULL)
				return 0;
			if ((val = strdup(d->def)) == NULL)
				return nomem(c);
			break;
		case DF_GENERAL:
			return config_value(c, "general", key, out);
		case DF_PORT: {
			int ssl = 1;

			if (config_bool(c, section, "ssl", &ssl) == -1)
				return -1;
			if ((val = strdup(ssl ? "993" : "143")) == NULL)
				return nomem(c);
			break;
		}
		}
		o = NULL;
	}
	if (typed(c, section, o, d, val, out) == -1)
		return -1;
	return 1;
}

int
config_bool(struct config *c, const char *section, const char *key, int *out)
{
	char *v;
	int rv;

	if ((rv = config_value(c, section, key, &v)) != 1)
		return rv;
	*out = strcmp(v, "true") == 0 ? 1 : config_parse_bool(v);
	free(v);
	if (*out == -1)
		return fail(c, NULL, 0, "[%s] %s: not a boolean", section,
		    key);
	return 1;
}

int
config_long(struct config *c, const char *section, const char *key, long *out)
{
	char *v;
	int rv;

	if ((rv = config_value(c, section, key, &v)) != 1)
		return rv;
	if (parse_long(v, out) == -1) {
		fail(c, NULL, 0, "[%s] %s: \"%s\" is not a whole number",
		    section, key, v);
		free(v);
		return -1;
	}
	free(v);
	return 1;
}

static int
split_list(const char *s, char ***names, size_t *n)
{
	char **v = NULL;
	size_t k = 0;

	for (;;) {
		size_t w = strcspn(s, ","), b = 0, e = w;
		char **nv;

		while (b < e && isspace((unsigned char)s[b]))
			b++;
		while (e > b && isspace((unsigned char)s[e - 1]))
			e--;
		if (e > b) {
			if ((nv = reallocarray(v, k + 1, sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
			if ((v[k] = strndup(s + b, e - b)) == NULL)
				goto nomem;
			k++;
		}
		if (s[w] == '\0')
			break;
		s += w + 1;
	}
	*names = v;
	*n = k;
	return 0;
nomem:
	config_free_list(v, k);
	return -1;
}

int
config_accounts(struct config *c, const char *select, char ***names,
    size_t *n)
{
	const struct copt *o = NULL;
	char *list = NULL, **v;
	size_t k, i;
	int rv;

	*names = NULL;
	*n = 0;
	if (select == NULL) {
		rv = get_key(c, "general", "accounts", 0, &list, &o);
		if (rv == -1)
			return -1;
		if (rv == 0)
			return fail(c, c->nfiles ? c->files[0] : NULL, 0,
			    "[general] accounts is not set");
		select = list;
	}
	if (split_list(select, &v, &k) == -1) {
		free(list);
		return nomem(c);
	}
	free(list);
	if (k == 0) {
		config_free_list(v, k);
		return o ? where_fail(c, o, "general", "no account named") :
		    fail(c, "-a", 0, "no account named");
	}
	for (i = 0; i < k; i++) {
		struct sb sect = { 0 }, valid = { 0 };
		size_t j;

		if (sb_printf(&sect, "Account %s", v[i]) == -1) {
			config_free_list(v, k);
			return nomem(c);
		}
		if (find_sect(c, sect.s)) {
			sb_free(&sect);
			continue;
		}
		sb_free(&sect);
		for (j = 0; j < c->nsect; j++)
			if (config_scope(c->sect[j].name) == SC_ACCOUNT)
				sb_printf(&valid, "%s%s", valid.len ? ", " :
				    "", c->sect[j].name + 8);
		if (o)
			where_fail(c, o, "general", "account \"%s\" has no "
			    "[Account %s] section (accounts defined: %s)",
			    v[i], v[i], valid.s ? valid.s : "none");
		else
			fail(c, "-a", 0, "unknown account \"%s\" (accounts "
			    "defined: %s)", v[i], valid.s ? valid.s : "none");
		sb_free(&valid);
		config_free_list(v, k);
		return -1;
	}
	*names = v;
	*n = k;
	return 0;
}

/* Python's whitespace between the items of a list. */
static const char *
py_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
	    *p == '\f' || *p == '\v')
		p++;
	return p;
}

/* n hex digits at p; -1 if they are not there. */
static long
py_hex(const char *p, int n)
{
	long v = 0;
	int i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)p[i];

		if (!isxdigit(c))
			return -1;
		v = v * 16 + (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	return v;
}

/* A code point as UTF-8; -1 for a surrogate, NUL or out of range. */
static int
py_utf8(struct sb *b, long cp)
{
	if (cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return sb_add_utf8(b, cp) == -1 ? -2 : 0;
}

/*
 * One string literal at *pp into b.  NULL when done, else what is wrong
 * (at *pp); "" when out of memory.
 */
static const char *
py_string(const char **pp, struct sb *b)
{
	const char *p = *pp;
	int raw = 0, q, rv;
	long cp;

	if (*p == 'u' || *p == 'U')
		p++;
	else if (*p == 'r' || *p == 'R') {
		raw = 1;
		p++;
	}
	if (*p != '\'' && *p != '"')
		return "expected a quoted name";
	q = *p;
	if (p[1] == q && p[2] == q)
		return "a triple-quoted string is not a plain literal";
	if (sb_add(b, "", 0) == -1)
		return "";
	for (p++; *p != q; p++) {
		*pp = p;
		if (*p == '\0' || *p == '\n' || *p == '\r')
			return "unterminated string";
		if (*p != '\\') {
			if (sb_addc(b, *p) == -1)
				return "";
			continue;
		}
		if (p[1] == '\0')
			return "unterminated string";
		if (raw) {
			/* a backslash stays, and keeps the next byte from
			 * ending the string */
			if (sb_add(b, p, 2) == -1)
				return "";
			p++;
			continue;
		}
		rv = 0;
		switch (*++p) {
		case '\n':
			break;
		case '\r':
			if (p[1] == '\n')
				p++;
			break;
		case '\\': case '\'': case '"':
			rv = sb_addc(b, *p);
			break;
		case 'a': rv = sb_addc(b, '\a'); break;
		case 'b': rv = sb_addc(b, '\b'); break;
		case 'f': rv = sb_addc(b, '\f'); break;
		case 'n': rv = sb_addc(b, '\n'); break;
		case 'r': rv = sb_addc(b, '\r'); break;
		case 't': rv = sb_addc(b, '\t'); break;
		case 'v': rv = sb_addc(b, '\v'); break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7': {
			int k;

			for (cp = 0, k = 0; k < 3 && *p >= '0' && *p <= '7';
			    k++, p++)
				cp = cp * 8 + (*p - '0');
			p--;
			if ((rv = py_utf8(b, cp)) == -1)
				return "a NUL character in a name";
			break;
		}
		case 'x':
		case 'u':
		case 'U': {
			int nd = *p == 'x' ? 2 : *p == 'u' ? 4 : 8;

			if ((cp = py_hex(p + 1, nd)) == -1)
				return "a truncated \\x, \\u or \\U escape";
			if ((rv = py_utf8(b, cp)) == -1)
				return cp == 0 ? "a NUL character in a name" :
				    "an escape that is not a character";
			p += nd;
			break;
		}
		case 'N':
			return "a \\N{...} escape is not a plain literal";
		default:
			/* Python keeps an unknown escape as it is */
			rv = sb_add(b, p - 1, 2);
		}
		if (rv != 0)
			return "";
	}
	*pp = p + 1;
	return NULL;
}

int
config_pylist(const char *value, char ***names, size_t *n, char **err)
{
	const char *p = py_space(value), *why = NULL;
	char **v = NULL, **nv;
	size_t k = 0;
	struct sb b = { 0 };

	*names = NULL;
	*n = 0;
	*err = NULL;
	if (*p != '[') {
		why = "expected '['";
		goto bad;
	}
	p = py_space(p + 1);
	while (*p != ']') {
		sb_reset(&b);
		if ((why = py_string(&p, &b)) != NULL)
			goto bad;
		if ((nv = reallocarray(v, k + 1, sizeof(*v))) == NULL) {
			why = "";
			goto bad;
		}
		v = nv;
		if ((v[k] = malloc(b.len + 1)) == NULL) {
			why = "";
			goto bad;
		}
		memcpy(v[k++], b.s, b.len + 1);
		p = py_space(p);
		if (*p == ',')
			p = py_space(p + 1);
		else if (*p != ']') {
			why = "expected ',' or ']'";
			goto bad;
		}
	}
	p = py_space(p + 1);
	if (*p != '\0') {
		why = "text after the list";
		goto bad;
	}
	sb_free(&b);
	*names = v;
	*n = k;
	return 0;
bad:
	sb_free(&b);
	config_free_list(v, k);
	if (*why == '\0')
		return -1;
	{
		/* where: up to 20 bytes, as they are when printable */
		char at[21];
		size_t i;

		for (i = 0; i < 20 && p[i] != '\0'; i++)
			at[i] = isprint((unsigned char)p[i]) ? p[i] : '?';
		at[i] = '\0';
		if ((*p == '\0' ? asprintf(err, "not a list of quoted names: "
		    "%s at the end", why) : asprintf(err, "not a list of "
		    "quoted names: %s at \"%s%s\"", why, at, p[i] ? "..." :
		    "")) == -1)
			*err = NULL;
	}
	return -1;
}

static const char *repo_types[] = { "IMAP", "Gmail", "Maildir",
    "GmailMaildir", NULL };

int
config_check(struct config *c, void (*report)(const char *, int))
{
	int errors = 0;
	size_t i, j;

#define ERR() do { report(config_errmsg(c), 1); errors++; } while (0)

	for (i = 0; i <= c->nsect; i++) {
		struct csect *s = i < c->nsect ? &c->sect[i] : &c->dflt;
		unsigned scope = config_scope(s->name);
		char *type = NULL;

		if (scope == SC_REPO) {
			const struct copt *t = lookup(c, s->name, "type");
			char *tv = NULL;

			if (t == NULL) {
				fail(c, s->file, s->line, "[%s] has no type "
				    "(IMAP, Gmail, Maildir or GmailMaildir)",
				    s->name);
				ERR();
			} else if (get_key(c, s->name, "type", 0, &tv, NULL)
			    == -1) {
				ERR();
			} else {
				for (j = 0; repo_types[j]; j++)
					if (strcmp(tv, repo_types[j]) == 0)
						break;
				if (repo_types[j] == NULL) {
					where_fail(c, t, s->name, "unknown "
					    "repository type \"%s\" (IMAP, "
					    "Gmail, Maildir or GmailMaildir)",
					    tv);
					ERR();
					free(tv);
				} else
					type = tv;
			}
		}
		if (scope == SC_ACCOUNT) {
			static const char *need[] = { "localrepository",
			    "remoterepository" };

			for (j = 0; j < 2; j++) {
				char *r = NULL;
				struct sb rs = { 0 };
				int rv = get_key(c, s->name, need[j], 0, &r,
				    NULL);

				if (rv == -1) {
					ERR();
					continue;
				}
				if (rv == 0) {
					fail(c, s->file, s->line, "[%s] has no "
					    "%s", s->name, need[j]);
					ERR();
					continue;
				}
				sb_printf(&rs, "Repository %s", r);
				if (rs.s && !find_sect(c, rs.s)) {
					where_fail(c, lookup(c, s->name,
					    need[j]), s->name, "no section "
					    "[Repository %s]", r);
					ERR();
				}
				sb_free(&rs);
				free(r);
			}
		}
		for (j = 0; j < s->nopt; j++) {
			const struct copt *o = &s->opt[j];
			const struct opt_def *d = scope ?
			    opt_lookup(scope, type, o->key) : NULL;
			char *v = NULL, *tv = NULL;

			if (get_key(c, s->name, o->key, d && d->type == OPT_RAW,
			    &v, NULL) == -1) {
				ERR();
				continue;
			}
			if (scope && d == NULL) {
				where_fail(c, o, s->name, "unknown option "
				    "(ignored)");
				report(config_errmsg(c), 0);
			}
			if (d && typed(c, s->name, o, d, v, &tv) == -1) {
				ERR();
				continue;
			}
			if (d == NULL)
				free(v);
			free(tv);
		}
		free(type);
	}
	if (find_sect(c, "general") == NULL) {
		fail(c, c->nfiles ? c->files[0] : NULL, 0, "no [general] "
		    "section");
		ERR();
	} else {
		char **names;
		size_t n;

		if (config_accounts(c, NULL, &names, &n) == -1)
			ERR();
		else
			config_free_list(names, n);
	}
#undef ERR
	return errors;
}
