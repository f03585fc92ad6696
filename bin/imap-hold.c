/*
 * imap-hold - keep logged-in IMAP connections of one repository open
 * between syncs and lend them to the tools over a UNIX socket:
 * OfflineIMAP's holdconnectionopen.  A tool given holdsocket connects to
 * the socket, is greeted with PREAUTH and talks IMAP as to the server;
 * the broker relays the bytes both ways, follows the conversation (tags,
 * literals, the selected mailbox, ENABLE) and answers itself the
 * commands that would change the connection for the next borrower.
 * When the tool logs out, the connection goes back to the pool, with no
 * mailbox selected; when the tool goes away any other way, the state of
 * the connection is unknown and it is logged out and dropped.  Idle
 * connections get a NOOP every keepalive seconds.  One process, one
 * poll(2) loop; only logging in waits (at most socktimeout).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "imap.h"
#include "remote.h"
#include "util.h"

#define BACKLOG_MAX	(1024 * 1024)	/* pending bytes that stop reading
					   the other side */
#define READ_CHUNK	65536
#define READ_BUDGET	(4 * READ_CHUNK) /* per side and turn of the loop */
#define LINE_MAX_LEN	(64u * 1024 * 1024) /* one line, literals apart */
#define KEEPALIVE_DEF	1740		/* seconds: 29 minutes */
#define REPLY_WAIT	30		/* seconds, without socktimeout */
#define QUIT_MS		1000		/* for the LOGOUTs at the end */
#define CLOSE_MS	5000		/* for a client to take its last bytes */

/* A literal-aware line scanner for one direction of the conversation. */
struct scan {
	struct sb	 line;		/* the line (part) read so far */
	uint64_t	 lit;		/* literal bytes still to come */
	int		 inmsg;		/* a command or response continues
					   after its literal */
	int		 drop;		/* its bytes are not passed on */
};

enum ckind { K_OTHER, K_SELECT, K_UNSELECT, K_ENABLE, K_IDLE };

struct ctag {
	char		*tag;
	enum ckind	 kind;
};

struct conn;

struct client {
	int		 fd;
	unsigned	 id;
	struct conn	*c;		/* the connection lent, or NULL */
	struct sb	 out;		/* bytes for the client */
	size_t		 off;
	struct sb	 local;		/* our own answers, held until the
					   server is between responses */
	struct scan	 sc;
	struct ctag	*tags;		/* commands not yet completed */
	size_t		 ntags;
	char		*logout;	/* the tag of its LOGOUT */
	char		*litwait;	/* a command whose {N} awaits "+" */
	char		*enable;	/* an ENABLE sent on ... */
	struct sb	 extra;		/* ... with these on already */
	int		 told;		/* extra went out in * ENABLED */
	int		 idle;		/* IDLE under way */
	int		 more;		/* reading stopped before EAGAIN */
	int		 hup;		/* poll said it hung up */
	int		 closing;	/* send what is left, then close */
	long long	 close_by;
	int		 dead;
};

enum cstate { S_IDLE, S_BUSY, S_LENT, S_DEAD };
enum bcmd { B_NONE, B_NOOP, B_UNSELECT, B_LOGOUT };

struct conn {
	struct imap	*im;
	unsigned	 id;
	enum cstate	 st;
	struct client	*cl;
	struct scan	 sc;
	struct sb	 enabled;	/* " EXT EXT " upper-cased */
	int		 selected;	/* a mailbox is (or may be) selected */
	int		 tainted;	/* a borrower changed what we cannot
					   follow (NOTIFY): not lent again */
	int		 bye;		/* the server said BYE */
	int		 more;
	enum bcmd	 bcmd;		/* our own command in flight */
	char		 btag[16];
	long long	 due;		/* S_IDLE: NOOP; S_BUSY: its answer */
};

static struct conn **conns;
static size_t nconns;
static struct client **clients;
static size_t nclients;
static unsigned next_conn_id = 1, next_client_id = 1, next_htag = 1;
static int maxconn;
static long long keepalive_ms, reply_ms;
static FILE *trace;
static char *caps;			/* what a borrower is told */
static char *rbuf;			/* scratch for reads */
static int lfd = -1, sigfd[2] = { -1, -1 };
static char *sockpath;
static dev_t sock_dev;
static ino_t sock_ino;
static volatile sig_atomic_t got_signal;
static const char *who;			/* "Repository NAME" */
static struct config *cfg;
static struct remote rem;
static char *repo, **kopts;
/* -l: the login made at the start, when it failed: told to the first
 * tool instead of a second attempt */
static char *early_err;
static const char *early_code;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imap-hold [-d] [-c file] "
	    "[-k [section:]option=value] (-a account | -r repository)\n"
	    "                 -s socket [-l] [-n max]\n");
	exit(EXIT_FAIL);
}

static void
on_signal(int sig)
{
	int saved = errno;

	got_signal = sig;
	if (write(sigfd[1], "", 1) == -1) {
		/* the pipe is full: a wake-up is pending already */
	}
	errno = saved;
}

/* Notes for -d: what happened to the connections. */
static void
note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	va_list ap;

	if (trace == NULL)
		return;
	fprintf(trace, "imap-hold: %s: ", who);
	va_start(ap, fmt);
	vfprintf(trace, fmt, ap);
	va_end(ap);
	putc('\n', trace);
	fflush(trace);
}

/* One line of the trace, CRLF off, control bytes escaped. */
static void
trace_line(const char *dir, const char *p, size_t n)
{
	size_t i;

	if (trace == NULL)
		return;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	fputs(dir, trace);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f)
			fprintf(trace, "\\x%02x", c);
		else
			putc(c, trace);
	}
	putc('\n', trace);
	fflush(trace);
}

static void
oom(void)
{
	errx(EXIT_FAIL, "%s: out of memory", who);
}

static void
add(struct sb *b, const void *p, size_t n)
{
	if (sb_add(b, p, n) == -1)
		oom();
}

/* The literal a line part ends with: {N}, {N+} (or ~{N}); 0 if none. */
static int
part_literal(const char *s, size_t n, uint64_t *len, int *sync)
{
	size_t e = n, d;
	uint64_t v = 0;

	while (e > 0 && (s[e - 1] == '\n' || s[e - 1] == '\r'))
		e--;
	if (e < 3 || s[e - 1] != '}')
		return 0;
	e--;
	*sync = 1;
	if (s[e - 1] == '+') {
		*sync = 0;
		e--;
	}
	for (d = e; d > 0 && isdigit((unsigned char)s[d - 1]); d--)
		;
	if (d == e || d == 0 || s[d - 1] != '{' || e - d > 19)
		return 0;
	for (; d < e; d++)
		v = v * 10 + (uint64_t)(s[d] - '0');
	*len = v;
	return 1;
}

/* The n-th space-separated word of a line (from 0), or NULL. */
static char *
word(const char *s, size_t n, int nth, int upper)
{
	size_t i = 0, b;
	char *w;
	int k;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	for (k = 0;; k++) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			return NULL;
		for (b = i; i < n && s[i] != ' '; i++)
			;
		if (k == nth)
			break;
	}
	if ((w = strndup(s + b, i - b)) == NULL)
		oom();
	for (b = 0; upper && w[b]; b++)
		w[b] = (char)toupper((unsigned char)w[b]);
	return w;
}

static int
has_word(const struct sb *set, const char *w)
{
	const char *p;
	size_t n = strlen(w);

	for (p = set->s; p && (p = strstr(p, w)) != NULL; p++)
		if (p > set->s && p[-1] == ' ' && p[n] == ' ')
			return 1;
	return 0;
}

static void
add_word(struct sb *set, const char *w)
{
	if (set->len == 0)
		add(set, " ", 1);
	if (has_word(set, w))
		return;
	add(set, w, strlen(w));
	add(set, " ", 1);
}

/* The capabilities a borrower sees: none to log in, secure or compress
 * with, which would change the connection for the next one. */
static char *
filter_caps(const char *all)
{
	struct sb b = { 0 };
	const char *p = all;

	while (*p) {
		size_t n;

		p += strspn(p, " ");
		if ((n = strcspn(p, " ")) == 0)
			break;
		if (!((n == 8 && strncasecmp(p, "STARTTLS", 8) == 0) ||
		    (n == 13 && strncasecmp(p, "LOGINDISABLED", 13) == 0) ||
		    (n == 7 && strncasecmp(p, "SASL-IR", 7) == 0) ||
		    (n > 5 && strncasecmp(p, "AUTH=", 5) == 0) ||
		    (n > 9 && strncasecmp(p, "COMPRESS=", 9) == 0))) {
			if (b.len)
				add(&b, " ", 1);
			add(&b, p, n);
		}
		p += n;
	}
	if (b.s == NULL)
		add(&b, "", 0);
	return b.s;
}

static struct client *
client_new(int fd)
{
	struct client *cl = xcalloc(1, sizeof(*cl));

	cl->fd = fd;
	cl->id = next_client_id++;
	clients = xreallocarray(clients, nclients + 1, sizeof(*clients));
	clients[nclients++] = cl;
	return cl;
}

static void
client_send(struct client *cl, const char *p, size_t n)
{
	if (cl->fd == -1 || cl->dead)
		return;
	/* what was sent goes: the buffer does not grow without end */
	if (cl->off >= 65536 && cl->off * 2 >= cl->out.len) {
		memmove(cl->out.s, cl->out.s + cl->off, cl->out.len - cl->off);
		cl->out.len -= cl->off;
		cl->off = 0;
	}
	add(&cl->out, p, n);
}

static void
client_sendf(struct client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_sendf(struct client *cl, const char *fmt, ...)
{
	struct sb b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	if (sb_vprintf(&b, fmt, ap) == -1)
		oom();
	va_end(ap);
	client_send(cl, b.s, b.len);
	sb_free(&b);
}

static size_t
client_pending(const struct client *cl)
{
	return cl->out.len - cl->off;
}

/* Close once what is queued has gone out (or CLOSE_MS passed). */
static void
client_close(struct client *cl)
{
	if (cl->closing)
		return;
	cl->closing = 1;
	cl->close_by = now_ms() + CLOSE_MS;
	if (cl->c)
		cl->c->cl = NULL;
	cl->c = NULL;
	if (cl->fd != -1)
		shutdown(cl->fd, SHUT_RD);
	else
		cl->dead = 1;
}

/* A client refused a connection: BYE, with why, and close. */
static void
client_refuse(struct client *cl, const char *code, const char *why)
{
	struct sb b = { 0 };
	const char *p;

	/* one line: control bytes of an error message become spaces */
	for (p = why; *p; p++)
		sb_addc(&b, (unsigned char)*p < 0x20 ? ' ' : *p);
	client_sendf(cl, "* BYE [%s] imap-hold: %s: %s\r\n", code, who,
	    b.s ? b.s : "");
	sb_free(&b);
	client_close(cl);
}

static void
client_free(struct client *cl)
{
	size_t i;

	if (cl->fd != -1)
		close(cl->fd);
	sb_free(&cl->out);
	sb_free(&cl->local);
	sb_free(&cl->sc.line);
	for (i = 0; i < cl->ntags; i++)
		free(cl->tags[i].tag);
	free(cl->tags);
	free(cl->logout);
	free(cl->litwait);
	free(cl->enable);
	sb_free(&cl->extra);
	free(cl);
}

static void
conn_free(struct conn *c)
{
	imap_free(c->im);
	sb_free(&c->sc.line);
	sb_free(&c->enabled);
	free(c);
}

/* Our own command on the connection: tag H<n>, never a borrower's. */
static void conn_lost(struct conn *, const char *);

static void
conn_send(struct conn *c, const char *cmd, enum bcmd kind)
{
	struct sb b = { 0 };

	snprintf(c->btag, sizeof(c->btag), "H%u", next_htag++);
	if (sb_printf(&b, "%s %s\r\n", c->btag, cmd) == -1)
		oom();
	trace_line("C: ", b.s, b.len);
	c->bcmd = kind;
	c->st = S_BUSY;
	c->due = now_ms() + reply_ms;
	if (imap_raw_write(c->im, b.s, b.len) == -1)
		conn_lost(c, imap_error(c->im));
	sb_free(&b);
}

/*
 * Drop a connection.  Its borrower, if any, gets what is queued and then
 * the end of the stream.  logout: say LOGOUT first (without waiting).
 */
static void
conn_drop(struct conn *c, int logout, const char *why)
{
	if (c->st == S_DEAD)
		return;
	note("connection %u dropped: %s", c->id, why);
	if (c->cl)
		client_close(c->cl);
	c->cl = NULL;
	if (logout && !c->bye) {
		struct sb b = { 0 };

		snprintf(c->btag, sizeof(c->btag), "H%u", next_htag++);
		if (sb_printf(&b, "%s LOGOUT\r\n", c->btag) == -1)
			oom();
		trace_line("C: ", b.s, b.len);
		imap_raw_write(c->im, b.s, b.len);
		sb_free(&b);
	}
	c->st = S_DEAD;
}

static void
conn_lost(struct conn *c, const char *why)
{
	conn_drop(c, 0, why);
}

/* Our answers to a borrower go out between the server's responses. */
static void
flush_local(struct client *cl)
{
	if (cl->c && cl->c->sc.inmsg)
		return;
	if (cl->local.len) {
		client_send(cl, cl->local.s, cl->local.len);
		sb_reset(&cl->local);
	}
}

static void
local_reply(struct client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
local_reply(struct client *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (sb_vprintf(&cl->local, fmt, ap) == -1)
		oom();
	va_end(ap);
	flush_local(cl);
}

/*
 * A borrower that logged out gets its connection taken back once every
 * command it sent is answered: with UNSELECT first if a mailbox is
 * selected (never CLOSE: it expunges), or dropped without UNSELECT.
 */
static void
try_return(struct client *cl)
{
	struct conn *c = cl->c;

	if (c == NULL || cl->logout == NULL || cl->ntags > 0 || c->sc.inmsg)
		return;
	flush_local(cl);
	client_sendf(cl, "* BYE imap-hold: connection returned\r\n"
	    "%s OK LOGOUT completed\r\n", cl->logout);
	client_close(cl);
	if (c->tainted) {
		conn_drop(c, 1, "its borrower changed it beyond repair "
		    "(NOTIFY)");
		return;
	}
	if (c->selected && !imap_has(c->im, "UNSELECT")) {
		conn_drop(c, 1, "a mailbox is selected and the server has no "
		    "UNSELECT");
		return;
	}
	note("connection %u returned by client %u", c->id, cl->id);
	if (c->selected)
		conn_send(c, "UNSELECT", B_UNSELECT);
	else {
		c->st = S_IDLE;
		c->due = now_ms() + keepalive_ms;
	}
}

static struct ctag *
find_tag(struct client *cl, const char *tag)
{
	size_t i;

	for (i = 0; i < cl->ntags; i++)
		if (strcmp(cl->tags[i].tag, tag) == 0)
			return &cl->tags[i];
	return NULL;
}

static void
track_tag(struct client *cl, const char *tag, enum ckind kind)
{
	cl->tags = xreallocarray(cl->tags, cl->ntags + 1, sizeof(*cl->tags));
	cl->tags[cl->ntags].tag = xstrdup(tag);
	cl->tags[cl->ntags].kind = kind;
	cl->ntags++;
}

/*
 * "* ENABLED" for a borrower whose ENABLE asked for some on already: the
 * server's words (line, or NULL when it sent none), then those.
 */
static void
tell_extra(struct client *cl, const char *line, size_t n)
{
	struct sb b = { 0 }, seen = { 0 };
	char *x;
	int k;

	add(&b, "* ENABLED", 9);
	for (k = 2; line && (x = word(line, n, k, 0)) != NULL; k++) {
		add(&b, " ", 1);
		add(&b, x, strlen(x));
		free(x);
		x = word(line, n, k, 1);
		add_word(&seen, x);
		free(x);
	}
	for (k = 0; (x = word(cl->extra.s, cl->extra.len, k, 0)) != NULL;
	    k++) {
		if (!has_word(&seen, x)) {
			add(&b, " ", 1);
			add(&b, x, strlen(x));
		}
		free(x);
	}
	add(&b, "\r\n", 2);
	client_send(cl, b.s, b.len);
	sb_free(&b);
	sb_free(&seen);
	cl->told = 1;
}

/* A tagged response: the borrower's command it completes. */
static void
completed(struct conn *c, struct client *cl, const char *tag,
    const char *status)
{
	struct ctag *t;
	int ok = strcmp(status, "OK") == 0;

	if (cl->litwait && strcmp(cl->litwait, tag) == 0) {
		/* refused instead of "+": the literal will not come */
		free(cl->litwait);
		cl->litwait = NULL;
		cl->sc.lit = 0;
		cl->sc.inmsg = 0;
		cl->sc.drop = 0;
	}
	if ((t = find_tag(cl, tag)) == NULL)
		return;
	switch (t->kind) {
	case K_SELECT:
		/* a failed SELECT leaves none selected; BAD changes nothing */
		if (ok)
			c->selected = 1;
		else if (strcmp(status, "NO") == 0)
			c->selected = 0;
		break;
	case K_UNSELECT:
		if (ok)
			c->selected = 0;
		break;
	case K_IDLE:
		cl->idle = 0;
		break;
	case K_ENABLE:
		free(cl->enable);
		cl->enable = NULL;
		break;
	case K_OTHER:
		break;
	}
	free(t->tag);
	*t = cl->tags[--cl->ntags];
}

/* One line part from the server (to its LF). */
static void
server_part(struct conn *c, const char *s, size_t n)
{
	struct client *cl = c->st == S_LENT ? c->cl : NULL;
	uint64_t len;
	int sync, first = !c->sc.inmsg;

	if (first) {
		char *w0 = word(s, n, 0, 0), *w1 = word(s, n, 1, 1);

		c->sc.drop = cl == NULL;
		if (cl == NULL)
			trace_line("S: ", s, n);
		if (w0 && strcmp(w0, "*") == 0 && w1 &&
		    strcmp(w1, "BYE") == 0) {
			c->bye = 1;
		} else if (w0 && strcmp(w0, "*") == 0 && w1 &&
		    strcmp(w1, "ENABLED") == 0 && cl) {
			int k;
			char *x;

			for (k = 2; (x = word(s, n, k, 1)) != NULL; k++) {
				add_word(&c->enabled, x);
				free(x);
			}
			if (cl->enable && cl->extra.len && !cl->told) {
				tell_extra(cl, s, n);
				c->sc.drop = 1;	/* sent, changed */
			}
		} else if (w0 && strcmp(w0, "+") == 0) {
			if (cl && cl->litwait) {
				free(cl->litwait);
				cl->litwait = NULL;
			}
		} else if (w0 && strcmp(w0, "*") != 0 && w1) {
			if (cl) {
				if (cl->enable && strcmp(cl->enable, w0) == 0 &&
				    cl->extra.len && !cl->told)
					tell_extra(cl, NULL, 0);
				completed(c, cl, w0, w1);
			} else if (c->bcmd != B_NONE &&
			    strcmp(w0, c->btag) == 0) {
				enum bcmd was = c->bcmd;

				c->bcmd = B_NONE;
				if (was == B_LOGOUT)
					c->st = S_DEAD;
				else if (strcmp(w1, "OK") != 0) {
					conn_drop(c, 1, was == B_NOOP ?
					    "NOOP refused" : "UNSELECT refused");
				} else {
					if (was == B_UNSELECT)
						c->selected = 0;
					c->st = S_IDLE;
					c->due = now_ms() + keepalive_ms;
				}
			}
		}
		free(w0);
		free(w1);
	}
	if (!c->sc.drop && cl)
		client_send(cl, s, n);
	if (part_literal(s, n, &len, &sync)) {
		c->sc.lit = len;
		c->sc.inmsg = 1;
	} else {
		c->sc.inmsg = 0;
		if (cl && c->cl == cl) {
			flush_local(cl);
			try_return(cl);
		}
	}
}

/*
 * The next piece of p[n] through a scanner: bytes of a literal (SC_LIT:
 * *lit, *k), a line made whole in sc->line (SC_LINE: the caller resets
 * it), or the start of a line that goes on (SC_MORE); SC_LONG: the line
 * would outgrow LINE_MAX_LEN, nothing is taken.
 */
enum { SC_MORE, SC_LIT, SC_LINE, SC_LONG };

static int
scan_take(struct scan *sc, const char **p, size_t *n, const char **lit,
    size_t *k)
{
	const char *nl;
	int kind;

	if (sc->lit > 0) {
		*k = sc->lit < *n ? (size_t)sc->lit : *n;
		*lit = *p;
		sc->lit -= *k;
		kind = SC_LIT;
	} else {
		nl = memchr(*p, '\n', *n);
		*k = nl ? (size_t)(nl - *p) + 1 : *n;
		if (sc->line.len + *k > LINE_MAX_LEN)
			return SC_LONG;
		add(&sc->line, *p, *k);
		kind = nl ? SC_LINE : SC_MORE;
	}
	*p += *k;
	*n -= *k;
	return kind;
}

/* Bytes from the server, through the scanner. */
static void
server_bytes(struct conn *c, const char *p, size_t n)
{
	struct scan *sc = &c->sc;
	const char *lit;
	size_t k;

	while (n > 0 && c->st != S_DEAD) {
		switch (scan_take(sc, &p, &n, &lit, &k)) {
		case SC_LIT:
			if (!sc->drop && c->st == S_LENT && c->cl)
				client_send(c->cl, lit, k);
			break;
		case SC_LONG:
			conn_drop(c, 1, "a response line longer than 64 MiB");
			return;
		case SC_LINE:
			server_part(c, sc->line.s, sc->line.len);
			sb_reset(&sc->line);
			break;
		}
	}
}

/* A command the broker answers itself. */
static int
intercept(struct client *cl, const char *tag, const char *cmd,
    const char *s, size_t n, int haslit, int sync)
{
	struct conn *c = cl->c;

	if (strcmp(cmd, "LOGIN") == 0 || strcmp(cmd, "AUTHENTICATE") == 0 ||
	    strcmp(cmd, "STARTTLS") == 0 || strcmp(cmd, "COMPRESS") == 0 ||
	    strcmp(cmd, "UNAUTHENTICATE") == 0) {
		local_reply(cl, "%s NO [CLIENTBUG] imap-hold: not on a lent "
		    "connection\r\n", tag);
		/* a literal that does not wait for "+" comes anyway */
		if (haslit && !sync)
			cl->sc.drop = 1;
		else
			cl->sc.lit = 0;
		return 1;
	}
	if (haslit)
		return 0;
	if (strcmp(cmd, "LOGOUT") == 0) {
		cl->logout = xstrdup(tag);
		try_return(cl);
		return 1;
	}
	if (strcmp(cmd, "CAPABILITY") == 0) {
		local_reply(cl, "* CAPABILITY %s\r\n%s OK CAPABILITY completed"
		    "\r\n", caps, tag);
		return 1;
	}
	if (strcmp(cmd, "ENABLE") == 0) {
		struct sb on = { 0 };
		char *x;
		int k, fresh = 0, any = 0;

		for (k = 2; (x = word(s, n, k, 1)) != NULL; k++) {
			any = 1;
			if (has_word(&c->enabled, x)) {
				add(&on, " ", 1);
				add(&on, x, strlen(x));
			} else
				fresh = 1;
			free(x);
		}
		if (!any || fresh) {
			/* forwarded; its * ENABLED tells those on already */
			sb_free(&cl->extra);
			if (on.len) {
				add(&cl->extra, on.s, on.len);
				add(&cl->extra, " ", 1);
			}
			cl->told = 0;
			free(cl->enable);
			cl->enable = xstrdup(tag);
			sb_free(&on);
			return 0;
		}
		local_reply(cl, "* ENABLED%s\r\n%s OK ENABLE completed\r\n",
		    on.s, tag);
		sb_free(&on);
		return 1;
	}
	return 0;
}

/* One line part from the borrower (to its LF). */
static void
client_part(struct client *cl, const char *s, size_t n)
{
	struct conn *c = cl->c;
	uint64_t len = 0;
	int sync = 0, haslit = part_literal(s, n, &len, &sync);

	if (!cl->sc.inmsg) {
		char *tag = word(s, n, 0, 0), *cmd = word(s, n, 1, 1);

		cl->sc.drop = 0;
		if (cl->idle) {
			/* IDLE's end, and nothing else */
			char *w = word(s, n, 0, 1);
			int done = w && strcmp(w, "DONE") == 0 && !haslit;

			free(w);
			free(tag);
			free(cmd);
			if (!done) {
				conn_drop(c, 1, "its borrower sent a command "
				    "during IDLE");
				return;
			}
			cl->idle = 0;	/* its tagged answer is still to come */
			goto forward;
		}
		if (tag && cmd && intercept(cl, tag, cmd, s, n, haslit,
		    sync)) {
			free(tag);
			free(cmd);
			if (cl->sc.drop && haslit) {
				cl->sc.lit = len;
				cl->sc.inmsg = 1;
			}
			return;
		}
		if (tag && cmd) {
			enum ckind k = K_OTHER;

			if (strcmp(cmd, "SELECT") == 0 ||
			    strcmp(cmd, "EXAMINE") == 0) {
				k = K_SELECT;
				c->selected = 1;	/* until we know */
			} else if (strcmp(cmd, "UNSELECT") == 0 ||
			    strcmp(cmd, "CLOSE") == 0)
				k = K_UNSELECT;
			else if (strcmp(cmd, "ENABLE") == 0)
				k = K_ENABLE;
			else if (strcmp(cmd, "IDLE") == 0) {
				k = K_IDLE;
				cl->idle = 1;
			} else if (strcmp(cmd, "NOTIFY") == 0)
				c->tainted = 1;
			track_tag(cl, tag, k);
			if (haslit && sync) {
				free(cl->litwait);
				cl->litwait = xstrdup(tag);
			}
		}
		free(tag);
		free(cmd);
	} else if (haslit && sync && !cl->sc.drop && cl->ntags > 0) {
		/* a later literal of the same command waits for "+" too */
		free(cl->litwait);
		cl->litwait = xstrdup(cl->tags[cl->ntags - 1].tag);
	}
forward:
	if (!cl->sc.drop && imap_raw_write(c->im, s, n) == -1) {
		conn_lost(c, imap_error(c->im));
		return;
	}
	if (haslit) {
		cl->sc.lit = len;
		cl->sc.inmsg = 1;
	} else {
		cl->sc.inmsg = 0;
		cl->sc.drop = 0;
	}
}

/* Bytes from the borrower, through the scanner. */
static void
client_bytes(struct client *cl, const char *p, size_t n)
{
	struct scan *sc = &cl->sc;
	const char *lit;
	size_t k;

	while (n > 0 && cl->c && cl->c->st == S_LENT && !cl->logout) {
		struct conn *c = cl->c;

		switch (scan_take(sc, &p, &n, &lit, &k)) {
		case SC_LIT:
			if (cl->litwait) {
				/* it did not wait: the literal is coming */
				free(cl->litwait);
				cl->litwait = NULL;
			}
			if (!sc->drop && imap_raw_write(c->im, lit, k) == -1) {
				conn_lost(c, imap_error(c->im));
				return;
			}
			break;
		case SC_LONG:
			conn_drop(c, 1, "its borrower sent a line longer than "
			    "64 MiB");
			return;
		case SC_LINE:
			client_part(cl, sc->line.s, sc->line.len);
			sb_reset(&sc->line);
			break;
		}
	}
}

static void
lend(struct conn *c, struct client *cl)
{
	c->st = S_LENT;
	c->cl = cl;
	cl->c = c;
	note("connection %u lent to client %u", c->id, cl->id);
	client_sendf(cl, "* PREAUTH [CAPABILITY %s] imap-hold: lent "
	    "connection\r\n", caps);
}

/* A failed login: the client is told why (RFC 5530's code: whether
 * waiting helps); without one (-l), the first client to come is. */
static void
login_failed(struct client *cl, const char *code, const char *why)
{
	warnx("%s: %s", who, why);
	if (cl != NULL) {
		client_refuse(cl, code, why);
		return;
	}
	free(early_err);
	early_err = xstrdup(why);
	early_code = code;
}

/* A new login; NULL (with the client told why) if it failed. */
static struct conn *
login(struct client *cl)
{
	struct conn *c;
	struct imap *im;
	char *fc;
	int retry;

	if ((im = remote_connect(&rem, trace, &retry)) == NULL) {
		login_failed(cl, retry ? "UNAVAILABLE" :
		    "AUTHENTICATIONFAILED", rem.err ? rem.err :
		    "cannot log in");
		return NULL;
	}
	if (imap_raw_start(im) == -1) {
		login_failed(cl, "UNAVAILABLE", imap_error(im));
		imap_free(im);
		return NULL;
	}
	fc = filter_caps(imap_capabilities(im));
	if (caps == NULL || strcmp(caps, fc) != 0) {
		free(caps);
		caps = fc;
	} else
		free(fc);
	c = xcalloc(1, sizeof(*c));
	c->im = im;
	c->id = next_conn_id++;
	c->st = S_IDLE;
	c->due = now_ms() + keepalive_ms;
	conns = xreallocarray(conns, nconns + 1, sizeof(*conns));
	conns[nconns++] = c;
	note("connection %u logged in", c->id);
	return c;
}

/*
 * Waiting clients, in their order, get a connection: an idle one, else
 * one that is about to be (its UNSELECT or NOOP under way, a round trip
 * away), else a new login while under the limit.
 */
static void
hand_out(void)
{
	size_t i, k, live = 0, soon = 0;

	for (k = 0; k < nconns; k++) {
		if (conns[k]->st != S_DEAD)
			live++;
		if (conns[k]->st == S_BUSY)
			soon++;
	}
	for (i = 0; i < nclients; i++) {
		struct client *cl = clients[i];
		struct conn *c = NULL;

		if (cl->c || cl->closing || cl->dead)
			continue;
		for (k = 0; k < nconns && c == NULL; k++)
			if (conns[k]->st == S_IDLE && !conns[k]->sc.inmsg &&
			    !conns[k]->bye)
				c = conns[k];
		if (c == NULL) {
			if (soon > 0) {
				soon--;
				continue;
			}
			if (live >= (size_t)maxconn)
				return;
			/* the login at the start failed: that is the
			 * answer (a wrong password is not tried twice) */
			if (early_err != NULL) {
				client_refuse(cl, early_code, early_err);
				free(early_err);
				early_err = NULL;
				continue;
			}
			if ((c = login(cl)) == NULL)
				continue;
			live++;
		}
		lend(c, cl);
	}
}

static void
timers(long long now)
{
	size_t i;

	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		if (c->st == S_IDLE && now >= c->due)
			conn_send(c, "NOOP", B_NOOP);
		else if (c->st == S_BUSY && now >= c->due)
			conn_drop(c, 1, c->bcmd == B_NOOP ? "no answer to NOOP "
			    "(socktimeout): the connection is dead" :
			    "no answer to UNSELECT (socktimeout)");
	}
	for (i = 0; i < nclients; i++)
		if (clients[i]->closing && now >= clients[i]->close_by)
			clients[i]->dead = 1;
}

static int
conn_reading(const struct conn *c)
{
	if (c->st == S_DEAD)
		return 0;
	if (c->st != S_LENT || c->cl == NULL)
		return 1;
	return client_pending(c->cl) <= BACKLOG_MAX;
}

static void
conn_io(struct conn *c)
{
	size_t got = 0;

	if (c->st == S_DEAD)
		return;
	if (imap_raw_flush(c->im) == -1) {
		conn_lost(c, imap_error(c->im));
		return;
	}
	c->more = 0;
	while (conn_reading(c)) {
		ssize_t r = imap_raw_read(c->im, rbuf, READ_CHUNK);

		if (r == IMAP_AGAIN)
			return;
		if (r == -1) {
			conn_lost(c, imap_error(c->im));
			return;
		}
		if (r == 0) {
			conn_lost(c, c->bye ? "the server said BYE" :
			    "the server closed the connection");
			return;
		}
		server_bytes(c, rbuf, (size_t)r);
		if ((got += (size_t)r) >= READ_BUDGET)
			break;
	}
	c->more = c->st != S_DEAD;
}

static int
client_reading(const struct client *cl)
{
	return cl->c && cl->c->st == S_LENT && !cl->closing && !cl->dead &&
	    !cl->logout && imap_raw_pending(cl->c->im) <= BACKLOG_MAX;
}

/*
 * Without LOGOUT, what the borrower left the connection in is unknown.
 * After LOGOUT, the answers to its commands are still awaited (and
 * thrown away) before the connection is taken back.
 */
static void
client_gone(struct client *cl, const char *why)
{
	struct conn *c = cl->c;

	if (c && cl->logout) {
		close(cl->fd);
		cl->fd = -1;
		sb_reset(&cl->out);
		cl->off = 0;
		return;	/* try_return() does the rest */
	}
	cl->dead = 1;
	if (c == NULL)
		return;
	c->cl = NULL;
	cl->c = NULL;
	conn_drop(c, 1, why);
}

static void
client_io(struct client *cl)
{
	size_t got = 0;

	if (cl->dead || cl->fd == -1)
		return;
	while (client_pending(cl) > 0) {
		ssize_t r = send(cl->fd, cl->out.s + cl->off,
		    client_pending(cl), MSG_NOSIGNAL);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r == -1) {
			client_gone(cl, "its borrower went away without "
			    "LOGOUT");
			return;
		}
		cl->off += (size_t)r;
	}
	if (client_pending(cl) == 0) {
		sb_reset(&cl->out);
		cl->off = 0;
		if (cl->closing) {
			cl->dead = 1;
			return;
		}
	}
	cl->more = 0;
	while (client_reading(cl)) {
		ssize_t r = read(cl->fd, rbuf, READ_CHUNK);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			client_gone(cl, cl->sc.lit > 0 ? "its borrower went "
			    "away in the middle of a literal" : cl->idle ?
			    "its borrower went away during IDLE" : "its "
			    "borrower went away without LOGOUT");
			return;
		}
		client_bytes(cl, rbuf, (size_t)r);
		if ((got += (size_t)r) >= READ_BUDGET)
			break;
	}
	cl->more = client_reading(cl);
}

static void
reap(void)
{
	size_t i, k;

	for (i = k = 0; i < nconns; i++) {
		if (conns[i]->st == S_DEAD) {
			/* one more try to send the LOGOUT, then close */
			imap_raw_flush(conns[i]->im);
			if (conns[i]->cl) {
				client_close(conns[i]->cl);
				conns[i]->cl = NULL;
			}
			conn_free(conns[i]);
		} else
			conns[k++] = conns[i];
	}
	nconns = k;
	for (i = k = 0; i < nclients; i++) {
		struct client *cl = clients[i];

		if (cl->dead && cl->c) {
			/* its connection is being taken back: keep it */
			cl->c->cl = NULL;
			cl->c = NULL;
		}
		if (cl->dead)
			client_free(cl);
		else
			clients[k++] = cl;
	}
	nclients = k;
}

static void
unlink_socket(void)
{
	struct stat st;

	/* only if it is still ours */
	if (sockpath && lstat(sockpath, &st) == 0 && st.st_dev == sock_dev &&
	    st.st_ino == sock_ino)
		unlink(sockpath);
}

/* Log out every connection (waiting at most QUIT_MS) and exit. */
static void __attribute__((noreturn))
quit(int code)
{
	long long end = now_ms() + QUIT_MS;
	struct pollfd *pfd;
	size_t i;

	unlink_socket();
	if (lfd != -1)
		close(lfd);
	for (i = 0; i < nclients; i++) {
		if (clients[i]->c) {
			clients[i]->c->cl = NULL;
			clients[i]->c = NULL;
		}
		client_free(clients[i]);
	}
	free(clients);
	nclients = 0;
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		if (c->st == S_DEAD)
			continue;
		c->st = S_BUSY;
		c->cl = NULL;
		c->sc.inmsg = 0;
		c->sc.lit = 0;
		sb_reset(&c->sc.line);
		conn_send(c, "LOGOUT", B_LOGOUT);
	}
	pfd = xcalloc(2 * (nconns + 1), sizeof(*pfd));
	for (;;) {
		long long now = now_ms();
		int live = 0;

		for (i = 0; i < nconns; i++) {
			conn_io(conns[i]);
			if (conns[i]->st != S_DEAD) {
				live = 1;
				imap_raw_pollfd(conns[i]->im, 1, &pfd[2 * i]);
			} else {
				pfd[2 * i].fd = pfd[2 * i + 1].fd = -1;
			}
		}
		if (!live || now >= end)
			break;
		if (poll(pfd, 2 * nconns, (int)(end - now)) == -1 &&
		    errno != EINTR)
			break;
	}
	free(pfd);
	for (i = 0; i < nconns; i++)
		conn_free(conns[i]);
	if (close_stdout() == -1 && errno != EPIPE) {
		warn("stdout");
		code = EXIT_FAIL;
	}
	free(conns);
	free(caps);
	free(early_err);
	free(rbuf);
	free(sockpath);
	remote_free(&rem);
	config_free(cfg);
	free(repo);
	free(kopts);
	exit(code);
}

/*
 * Listen on path, mode 0600.  A socket left by a broker that is gone is
 * replaced; one that answers is another broker's, and anything else is
 * not ours to remove.
 */
static int
listen_on(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		errx(EXIT_FAIL, "%s: -s %s: the path is too long for a socket "
		    "(at most %zu bytes)", who, path, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			errx(EXIT_FAIL, "%s: -s %s: exists and is not a socket",
			    who, path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			err(EXIT_FAIL, "socket");
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			errx(EXIT_FAIL, "%s: -s %s: another imap-hold is "
			    "listening there", who, path);
		e = errno;
		close(fd);
		if (e != ECONNREFUSED)
			errx(EXIT_FAIL, "%s: -s %s: %s", who, path,
			    strerror(e));
		if (unlink(path) == -1)
			err(EXIT_FAIL, "%s: -s %s: cannot remove the stale "
			    "socket", who, path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		err(EXIT_FAIL, "socket");
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		umask(old);
		errx(EXIT_FAIL, "%s: -s %s: %s", who, path, strerror(e));
	}
	umask(old);
	if (lstat(path, &st) == -1)
		err(EXIT_FAIL, "%s: -s %s", who, path);
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	sockpath = xstrdup(path);
	if (listen(fd, 64) == -1) {
		e = errno;
		unlink_socket();
		errx(EXIT_FAIL, "%s: -s %s: listen: %s", who, path,
		    strerror(e));
	}
	return fd;
}

static void
accept_all(void)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				warn("%s: accept", who);
			return;
		}
		note("client %u connected", client_new(fd)->id);
	}
}

int
main(int argc, char *argv[])
{
	const char *path = NULL, *account = NULL, *sock = NULL, *es;
	struct sigaction sa;
	struct pollfd *pfd = NULL;
	size_t npfd = 0, i, n, npolled;
	long v, socktimeout;
	char *e, *hs = NULL;
	int ch, nk = 0, watch_stdin = 1, lflag = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "a:c:dhk:ln:r:s:")) != -1) {
		switch (ch) {
		case 'l':
			lflag = 1;
			break;
		case 'a':
			account = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'd':
			trace = stderr;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'n':
			maxconn = (int)strtonum(optarg, 1, 1000, &es);
			if (es != NULL)
				errx(EXIT_FAIL, "-n %s: want a number of "
				    "connections from 1 to 1000 (%s)", optarg,
				    es);
			break;
		case 'r':
			repo = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (account == NULL) == (repo == NULL) ||
	    sock == NULL || *sock == '\0')
		usage();

	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (account) {
		if ((repo = remote_of_account(cfg, account, &e)) == NULL)
			errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	} else
		repo = xstrdup(repo);
	if (remote_init(&rem, cfg, repo, account) == -1)
		errx(EXIT_FAIL, "%s", rem.err);
	who = rem.section;
	/* the broker makes the connections holdsocket borrows */
	if (config_value(cfg, rem.section, "holdsocket", &hs) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	if (hs && *hs)
		errx(EXIT_FAIL, "%s: holdsocket is set (%s): imap-hold makes "
		    "the connections that holdsocket borrows, so it must not "
		    "be given to imap-hold itself", who, hs);
	free(hs);
	if (maxconn == 0) {
		if (config_long(cfg, rem.section, "maxconnections", &v) == -1)
			errx(EXIT_FAIL, "%s", config_errmsg(cfg));
		maxconn = v < 2 ? 2 : v > 1000 ? 1000 : (int)v;
	}
	if (config_long(cfg, rem.section, "keepalive", &v) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	keepalive_ms = (v > 0 ? v : KEEPALIVE_DEF) * 1000LL;
	socktimeout = rem.opts.timeout > 0 ? rem.opts.timeout : REPLY_WAIT;
	reply_ms = socktimeout * 1000LL;
	/* a login never waits longer than that either */
	rem.opts.timeout = (int)socktimeout;
	rbuf = xmalloc(READ_CHUNK);

	if (pipe2(sigfd, O_CLOEXEC | O_NONBLOCK) == -1)
		err(EXIT_FAIL, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		err(EXIT_FAIL, "sigaction");
	/* INT and HUP only where they are not ignored: the driver's lanes
	 * ignore them (a ^C in the terminal reaches the whole process group,
	 * and a sync ends its folder first, through these connections) */
	for (i = 0; i < 2; i++) {
		int sig = i ? SIGHUP : SIGINT;
		struct sigaction old;

		if (sigaction(sig, NULL, &old) == -1)
			err(EXIT_FAIL, "sigaction");
		if (old.sa_handler != SIG_IGN && sigaction(sig, &sa, NULL) == -1)
			err(EXIT_FAIL, "sigaction");
	}

	lfd = listen_on(sock);
	printf("ready %s\n", sock);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("stdout");
		quit(EXIT_FAIL);
	}
	/* -l: the first connection now, while the tool that will want it
	 * starts (it waits for the greeting meanwhile) */
	if (lflag)
		(void)login(NULL);

	for (;;) {
		long long now, next;
		int ms, rv;

		if (got_signal) {
			note("signal %d: logging out", (int)got_signal);
			quit(EXIT_OK);
		}
		now = now_ms();
		timers(now);
		hand_out();
		for (i = 0; i < nconns; i++)
			conn_io(conns[i]);
		for (i = 0; i < nclients; i++)
			client_io(clients[i]);
		reap();
		/* a connection returned may be lent at once */
		hand_out();

		n = 3 + 2 * nconns + nclients;
		if (n > npfd) {
			pfd = xreallocarray(pfd, n, sizeof(*pfd));
			npfd = n;
		}
		memset(pfd, 0, n * sizeof(*pfd));
		npolled = nclients;
		pfd[0].fd = sigfd[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = watch_stdin ? 0 : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = lfd;
		pfd[2].events = POLLIN;
		now = now_ms();
		next = now + 60000;
		ms = -1;
		for (i = 0; i < nconns; i++) {
			struct conn *c = conns[i];
			int rd = conn_reading(c);

			imap_raw_pollfd(c->im, rd, &pfd[3 + 2 * i]);
			if (rd && c->more)
				ms = 0;
			if ((c->st == S_IDLE || c->st == S_BUSY) &&
			    c->due < next)
				next = c->due;
		}
		for (i = 0; i < nclients; i++) {
			struct client *cl = clients[i];
			struct pollfd *p = &pfd[3 + 2 * nconns + i];

			p->fd = cl->fd;
			if (client_reading(cl)) {
				p->events |= POLLIN;
				if (cl->more)
					ms = 0;
			}
			if (client_pending(cl) > 0)
				p->events |= POLLOUT;
			/* a hang-up seen already would wake poll for ever */
			if (cl->hup && p->events == 0)
				p->fd = -1;
			if (cl->closing && cl->close_by < next)
				next = cl->close_by;
		}
		if (ms != 0)
			ms = next > now ? (int)(next - now) : 0;
		rv = poll(pfd, n, ms);
		if (rv == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_FAIL, "poll");
		}
		if (pfd[0].revents) {
			char buf[16];

			while (read(sigfd[0], buf, sizeof(buf)) > 0)
				;
		}
		if (pfd[1].revents & POLLNVAL)
			watch_stdin = 0;
		else if (pfd[1].revents) {
			ssize_t r = read(0, rbuf, READ_CHUNK);

			if (r == 0 || (r == -1 && errno != EINTR &&
			    errno != EAGAIN)) {
				note("end of standard input: logging out");
				quit(EXIT_OK);
			}
		}
		/* a client that hung up: one waiting for a connection is
		 * gone; for a borrower, reading says what it left */
		for (i = 0; i < npolled; i++) {
			struct client *cl = clients[i];

			if (!(pfd[3 + 2 * nconns + i].revents &
			    (POLLHUP | POLLERR)))
				continue;
			cl->hup = 1;
			if (cl->c == NULL && !cl->closing) {
				note("client %u went away while waiting",
				    cl->id);
				cl->dead = 1;
			}
		}
		if (pfd[2].revents)
			accept_all();
	}
}
