/* remote.c - from a [Repository X] section to a logged-in connection */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readpassphrase.h>

#include "config.h"
#include "imap.h"
#include "remote.h"
#include "run.h"
#include "util.h"

static int
rfail(struct remote *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
rfail(struct remote *r, const char *fmt, ...)
{
	va_list ap;

	free(r->err);
	va_start(ap, fmt);
	if (vasprintf(&r->err, fmt, ap) == -1)
		r->err = NULL;
	va_end(ap);
	return -1;
}

char *
remote_of_account(struct config *cfg, const char *account, char **err)
{
	char *sect, *repo = NULL;
	int rv;

	*err = NULL;
	if (asprintf(&sect, "Account %s", account) == -1)
		return NULL;
	if (!config_has_section(cfg, sect)) {
		if (asprintf(err, "no account \"%s\" ([%s] is missing)",
		    account, sect) == -1)
			*err = NULL;
	} else if ((rv = config_value(cfg, sect, "remoterepository", &repo))
	    == -1) {
		*err = strdup(config_errmsg(cfg));
	} else if (rv == 0) {
		if (asprintf(err, "[%s] has no remoterepository", sect) == -1)
			*err = NULL;
	}
	free(sect);
	return repo;
}

/* A value: the *eval option (Python) wins over the plain one. */
static int
get_evaluated(struct remote *r, const char *key, char **out)
{
	char evalkey[64], *expr = NULL, *pyfile = NULL, *err = NULL;
	int rv;

	*out = NULL;
	snprintf(evalkey, sizeof(evalkey), "%seval", key);
	if ((rv = config_value(r->cfg, r->section, evalkey, &expr)) == -1)
		return rfail(r, "%s", config_errmsg(r->cfg));
	if (rv == 1) {
		char what[128];

		if (config_value(r->cfg, "general", "pythonfile", &pyfile)
		    == -1) {
			free(expr);
			return rfail(r, "%s", config_errmsg(r->cfg));
		}
		snprintf(what, sizeof(what), "[%s] %s", r->section, evalkey);
		rv = run_python(expr, pyfile, what, key, out, &err);
		free(expr);
		free(pyfile);
		if (rv == -1) {
			rfail(r, "%s", err ? err : "python3 failed");
			free(err);
			return -1;
		}
		return 1;
	}
	if ((rv = config_value(r->cfg, r->section, key, out)) == -1)
		return rfail(r, "%s", config_errmsg(r->cfg));
	return rv;
}

static int
get_opt(struct remote *r, const char *key, char **out)
{
	int rv = config_value(r->cfg, r->section, key, out);

	if (rv == -1)
		return rfail(r, "%s", config_errmsg(r->cfg));
	return rv;
}

static int
get_bool(struct remote *r, const char *sect, const char *key, int *out)
{
	int rv = config_bool(r->cfg, sect, key, out);

	if (rv == -1)
		return rfail(r, "%s", config_errmsg(r->cfg));
	return rv;
}

/* netrc(5) tokens, with Python's quoting ("..." and backslash escapes). */
static char *
netrc_token(const char **pp)
{
	const char *p = *pp;
	struct sb b = { 0 };

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
	    *p == ',')
		p++;
	if (*p == '\0') {
		*pp = p;
		return NULL;
	}
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			sb_addc(&b, *p);
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && !strchr(" \t\n\r", *p); p++) {
			if (*p == '\\' && p[1])
				p++;
			sb_addc(&b, *p);
		}
	}
	*pp = p;
	if (b.s == NULL)
		sb_add(&b, "", 0);
	return b.s;
}

int
netrc_lookup(const char *path, const char *host, char **login,
    char **password)
{
	FILE *fp;
	struct sb all = { 0 };
	char buf[4096], *tok;
	const char *p;
	size_t n;
	int inmatch = 0, found = 0, isdefault;

	*login = *password = NULL;
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		sb_add(&all, buf, n);
	fclose(fp);
	if (all.s == NULL)
		return 0;
	p = all.s;
	while ((tok = netrc_token(&p)) != NULL) {
		if (strcmp(tok, "machine") == 0 || (isdefault =
		    strcmp(tok, "default") == 0)) {
			if (found)
				break;
			if (strcmp(tok, "machine") == 0) {
				free(tok);
				tok = netrc_token(&p);
				inmatch = tok && strcmp(tok, host) == 0;
			} else
				inmatch = 1;
			if (inmatch)
				found = 1;
		} else if (strcmp(tok, "macdef") == 0) {
			/* a macro runs to the next empty line */
			const char *e = strstr(p, "\n\n");

			p = e ? e + 2 : p + strlen(p);
		} else if (inmatch && (strcmp(tok, "login") == 0 ||
		    strcmp(tok, "password") == 0 ||
		    strcmp(tok, "account") == 0)) {
			char **dst = tok[0] == 'l' ? login : tok[0] == 'p' ?
			    password : NULL;
			char *v = netrc_token(&p);

			if (dst && *dst == NULL)
				*dst = v;
			else {
				if (v)
					explicit_bzero(v, strlen(v));
				free(v);
			}
		}
		free(tok);
	}
	free(tok);
	sb_wipe(&all);
	return found;
}

/* Passwords: OfflineIMAP's order, with remotepasscmd beside the eval. */
static char *
lookup_password(void *ctx, char **err)
{
	struct remote *r = ctx;
	char *pw = NULL, *file = NULL, *cmd = NULL, *e = NULL;
	const char *netrcs[2];
	char *home = getenv("HOME"), *hn = NULL;
	int i, rv;

	*err = NULL;
	if ((rv = get_opt(r, "remotepasscmd", &cmd)) == 1) {
		rv = run_first_line(cmd, &pw, &e);
		free(cmd);
		if (rv == -1) {
			if (asprintf(err, "[%s] remotepasscmd: %s", r->section,
			    e ? e : "failed") == -1)
				*err = NULL;
			free(e);
			return NULL;
		}
		return pw;
	}
	if (rv == -1 || (rv = get_evaluated(r, "remotepass", &pw)) == -1) {
		*err = strdup(r->err ? r->err : "password lookup failed");
		return NULL;
	}
	if (rv == 1)
		return pw;
	if ((rv = get_opt(r, "remotepassfile", &file)) == -1) {
		*err = strdup(r->err);
		return NULL;
	}
	if (rv == 1) {
		FILE *fp = fopen(file, "r");
		size_t cap = 0;
		ssize_t n;

		if (fp == NULL) {
			if (asprintf(err, "remotepassfile %s: %s", file,
			    strerror(errno)) == -1)
				*err = NULL;
			free(file);
			return NULL;
		}
		n = getline(&pw, &cap, fp);
		fclose(fp);
		free(file);
		if (n == -1) {
			free(pw);
			*err = strdup("remotepassfile is empty");
			return NULL;
		}
		/* OfflineIMAP strips the line */
		while (n > 0 && strchr(" \t\r\n", pw[n - 1]))
			pw[--n] = '\0';
		return pw;
	}
	if (home && asprintf(&hn, "%s/.netrc", home) == -1)
		hn = NULL;
	netrcs[0] = hn;
	netrcs[1] = "/etc/netrc";
	for (i = 0; i < 2; i++) {
		char *login = NULL;

		if (netrcs[i] == NULL || r->host == NULL)
			continue;
		if (netrc_lookup(netrcs[i], r->host, &login, &pw) && pw &&
		    (login == NULL || strcmp(login, r->user) == 0)) {
			free(login);
			free(hn);
			return pw;
		}
		free(login);
		if (pw)
			explicit_bzero(pw, strlen(pw));
		free(pw);
		pw = NULL;
	}
	free(hn);
	/* last, the terminal */
	{
		char buf[1024], prompt[512];

		snprintf(prompt, sizeof(prompt), "Enter password for user "
		    "'%s': ", r->user);
		if (readpassphrase(prompt, buf, sizeof(buf), RPP_REQUIRE_TTY)
		    == NULL) {
			if (asprintf(err, "no password for %s@%s: set "
			    "remotepass, remotepassfile, remotepasscmd or "
			    "remotepasseval in [%s], or use ~/.netrc (and no "
			    "terminal to ask on)", r->user, r->host ? r->host :
			    "tunnel", r->section) == -1)
				*err = NULL;
			return NULL;
		}
		pw = strdup(buf);
		explicit_bzero(buf, sizeof(buf));
		return pw;
	}
}


/*
 * The password, looked up once per process: a process with several
 * connections (imap-idle) runs remotepasscmd, or asks, only once.
 */
static char *
get_password(void *ctx, char **err)
{
	struct remote *r = ctx;
	char *pw;

	if (r->pwcache == NULL) {
		if ((pw = lookup_password(ctx, err)) == NULL)
			return NULL;
		r->pwcache = pw;
	}
	if ((pw = strdup(r->pwcache)) == NULL)
		*err = strdup("out of memory");
	return pw;
}

static char *
get_token(void *ctx, char **err)
{
	struct remote *r = ctx;
	char *tok = NULL, *cmd = NULL, *e = NULL;
	int rv;

	*err = NULL;
	if ((rv = get_opt(r, "oauth2_access_token_cmd", &cmd)) == 1) {
		rv = run_first_line(cmd, &tok, &e);
		free(cmd);
		if (rv == -1) {
			if (asprintf(err, "oauth2_access_token_cmd: %s",
			    e ? e : "failed") == -1)
				*err = NULL;
			free(e);
			return NULL;
		}
		return tok;
	}
	if (rv == -1 || get_evaluated(r, "oauth2_access_token", &tok) == -1) {
		*err = strdup(r->err ? r->err : "token lookup failed");
		return NULL;
	}
	if (tok) {
		size_t n = strlen(tok);

		while (n > 0 && tok[n - 1] == '\n')
			tok[--n] = '\0';
	}
	return tok;
}

/* ssl_version / tls_level to a libtls protocol list. */
static int
protocols(struct remote *r)
{
	char *ver = NULL, *level = NULL;
	int rv = -1;

	if (get_opt(r, "ssl_version", &ver) == -1 ||
	    get_opt(r, "tls_level", &level) == -1)
		goto out;
	if (ver) {
		static const struct { const char *v, *p; } map[] = {
			{ "tls1", "tlsv1.0" }, { "tls1_1", "tlsv1.1" },
			{ "tls1_2", "tlsv1.2" }, { "tls1_3", "tlsv1.3" },
			{ "ssl23", "all" }, { NULL, NULL } };
		int i;

		for (i = 0; map[i].v; i++)
			if (strcmp(map[i].v, ver) == 0)
				break;
		if (map[i].v == NULL) {
			rfail(r, "[%s] ssl_version: \"%s\" is not supported "
			    "(tls1, tls1_1, tls1_2, tls1_3 or ssl23)",
			    r->section, ver);
			goto out;
		}
		r->protocols = strdup(map[i].p);
	} else if (level && strcmp(level, "tls_compat") != 0 &&
	    strcmp(level, "tls_no_ssl") != 0 &&
	    strcmp(level, "tls_secure") != 0) {
		rfail(r, "[%s] tls_level: \"%s\" is not one of tls_compat, "
		    "tls_no_ssl, tls_secure", r->section, level);
		goto out;
	}
	/* without ssl_version, libtls's default (TLS 1.2 and 1.3) */
	rv = 0;
out:
	free(ver);
	free(level);
	return rv;
}

int
remote_init(struct remote *r, struct config *cfg, const char *repo,
    const char *account)
{
	char *pt = NULL, *tt = NULL, *v = NULL, *acct = NULL;
	int b, rv;
	long l;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	if (asprintf(&r->section, "Repository %s", repo) == -1)
		return rfail(r, "out of memory");
	if (!config_has_section(cfg, r->section))
		return rfail(r, "no section [%s]", r->section);
	if (get_opt(r, "type", &r->type) != 1)
		return r->err ? -1 : rfail(r, "[%s] has no type", r->section);
	if (strcmp(r->type, "IMAP") != 0 && strcmp(r->type, "Gmail") != 0)
		return rfail(r, "[%s] is of type %s, not IMAP or Gmail",
		    r->section, r->type);
	if (get_opt(r, "preauthtunnel", &pt) == -1 ||
	    get_opt(r, "transporttunnel", &tt) == -1)
		goto fail;
	if (pt && tt) {
		rfail(r, "[%s] sets both preauthtunnel and transporttunnel",
		    r->section);
		goto fail;
	}
	/* our own option (the driver sets it with -k): a connection lent by
	 * imap-hold, so the server's address and the user's are not needed */
	if (get_opt(r, "holdsocket", &r->holdsock) == -1)
		goto fail;
	if (r->holdsock && *r->holdsock == '\0') {
		free(r->holdsock);
		r->holdsock = NULL;
	}
	r->opts.socket = r->holdsock;
	if (pt && strcmp(r->type, "Gmail") == 0) {
		free(pt);	/* OfflineIMAP ignores it for Gmail */
		pt = NULL;
	}
	r->tunnel = pt ? pt : tt;
	r->opts.tunnel = r->tunnel;
	r->opts.preauth = pt != NULL;
	if (pt && tt == NULL)
		tt = NULL;
	else if (tt)
		pt = NULL;
	if (r->holdsock)
		rv = 0;
	else if ((rv = get_evaluated(r, "remotehost", &r->host)) == -1)
		goto fail;
	if (rv == 0 && r->tunnel == NULL && r->holdsock == NULL) {
		rfail(r, "[%s] has no remotehost", r->section);
		goto fail;
	}
	r->opts.host = r->host;
	if (get_bool(r, r->section, "ssl", &r->opts.ssl) == -1 ||
	    get_bool(r, r->section, "starttls", &r->opts.starttls) == -1)
		goto fail;
	if (get_evaluated(r, "remoteport", &r->port) == -1)
		goto fail;
	r->opts.port = r->port;
	if (get_opt(r, "sslcacertfile", &r->cafile) == -1)
		goto fail;
	if (r->cafile && strcmp(r->cafile, "OS-DEFAULT") == 0) {
		free(r->cafile);
		r->cafile = NULL;	/* libtls's default is the system's */
	} else if (r->cafile && r->holdsock == NULL &&
	    access(r->cafile, R_OK) == -1) {
		rfail(r, "[%s] sslcacertfile %s: %s", r->section, r->cafile,
		    strerror(errno));
		goto fail;
	}
	r->opts.cafile = r->cafile;
	if (get_opt(r, "cert_fingerprint", &r->fps) == -1)
		goto fail;
	r->opts.fingerprints = r->fps;
	r->opts.verify = 1;
	if (get_bool(r, r->section, "sslverify", &r->opts.verify) == -1)
		goto fail;
	if (protocols(r) == -1)
		goto fail;
	r->opts.protocols = r->protocols;
	if (get_opt(r, "sslclientcert", &r->cert) == -1 ||
	    get_opt(r, "sslclientkey", &r->key) == -1)
		goto fail;
	r->opts.clientcert = r->cert;
	r->opts.clientkey = r->key;
	if (config_long(cfg, "general", "socktimeout", &l) == -1) {
		rfail(r, "%s", config_errmsg(cfg));
		goto fail;
	}
	r->opts.timeout = l > 0 ? (int)l : 0;
	r->opts.family = AF_UNSPEC;
	if ((rv = get_bool(r, r->section, "ipv6", &b)) == -1)
		goto fail;
	if (rv == 1)
		r->opts.family = b ? AF_INET6 : AF_INET;

	if (get_opt(r, "auth_mechanisms", &r->mechs) == -1 ||
	    get_opt(r, "remote_identity", &r->identity) == -1)
		goto fail;
	if (r->holdsock)
		rv = 0;
	else if ((rv = get_evaluated(r, "remoteuser", &r->user)) == -1)
		goto fail;
	if (rv == 0 && r->host) {
		char *home = getenv("HOME"), *path, *pw = NULL;

		if (home && asprintf(&path, "%s/.netrc", home) != -1) {
			netrc_lookup(path, r->host, &r->user, &pw);
			free(path);
		}
		if (r->user == NULL)
			netrc_lookup("/etc/netrc", r->host, &r->user, &pw);
		if (pw)
			explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	r->auth.mechanisms = r->mechs;
	r->auth.user = r->user;
	r->auth.identity = r->identity;
	r->auth.password = get_password;
	r->auth.oauth2_token = get_token;
	r->auth.ctx = r;
	if (get_bool(r, r->section, "allow_plaintext_auth",
	    &r->auth.allow_plaintext) == -1)
		goto fail;
	if (get_bool(r, r->section, "usecompression", &r->compress) == -1)
		goto fail;
	if (get_opt(r, "reference", &r->reference) == -1 ||
	    get_bool(r, r->section, "subscribedonly", &r->subscribedonly) == -1)
		goto fail;
	if (account) {
		if (asprintf(&acct, "Account %s", account) == -1 ||
		    get_bool(r, acct, "utf8foldernames", &r->utf8names) == -1)
			goto fail;
	}
	free(acct);
	free(v);
	return 0;
fail:
	free(acct);
	free(v);
	if (r->err == NULL)
		rfail(r, "out of memory");
	return -1;
}

struct imap *
remote_connect(struct remote *r, FILE *trace, int *retry)
{
	struct imap *im;

	*retry = 0;
	r->opts.trace = trace;
	if ((im = imap_new(&r->opts)) == NULL) {
		rfail(r, "out of memory");
		return NULL;
	}
	/* a lent connection is logged in (imap_login does nothing) and
	 * local: compression would only cost */
	if (imap_connect(im) == -1 || imap_login(im, &r->auth) == -1 ||
	    (r->compress && r->opts.socket == NULL &&
	    imap_compress(im) == -1)) {
		*retry = imap_errkind(im) == IMAP_ERR_RETRY;
		rfail(r, "%s", imap_error(im));
		imap_free(im);
		return NULL;
	}
	return im;
}

void
remote_free(struct remote *r)
{
	free(r->section);
	free(r->type);
	free(r->reference);
	free(r->host);
	free(r->port);
	free(r->tunnel);
	free(r->cafile);
	free(r->fps);
	free(r->protocols);
	free(r->cert);
	free(r->key);
	free(r->mechs);
	free(r->user);
	free(r->identity);
	free(r->holdsock);
	free(r->err);
	if (r->pwcache) {
		explicit_bzero(r->pwcache, strlen(r->pwcache));
		free(r->pwcache);
	}
	memset(r, 0, sizeof(*r));
}
