/*
 * imap-idle - wait until folders change on the IMAP server: OfflineIMAP's
 * idlefolders, as a tool for the driver to run instead of sleeping.  IDLE
 * watches the selected mailbox only (RFC 2177), so there is one connection
 * per folder, all driven by one process around poll(2).  Each EXAMINEs its
 * folder (read-only: \Recent and flags stay as they are) and IDLEs, ending
 * and starting IDLE again every keepalive; a server without IDLE gets a
 * NOOP every poll interval instead.  The first change is reported, with
 * those that come within a short settling window after it, then every
 * connection ends its IDLE and logs out.
 */
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
#include "mutf7.h"
#include "record.h"
#include "remote.h"
#include "run.h"
#include "util.h"

#define KEEPALIVE_MAX	1740	/* seconds: RFC 2177 asks for under 30 min */
#define POLL_MAX	30	/* seconds between NOOPs without IDLE, at most */
#define REPLY_WAIT	30	/* seconds for an answer without socktimeout */
#define SETTLE_MS	250	/* after a change, for the other folders' */
#define WAKE_MS		30000	/* the longest sleep: a resume is noticed */
#define SIGNAL_MS	1000	/* after a signal, answers are waited for */

enum wstate {
	W_SETUP,	/* logged in, EXAMINE under way */
	W_START,	/* IDLE sent, its "+" awaited */
	W_IDLE,		/* idling */
	W_DONE,		/* DONE sent, IDLE's tagged reply awaited */
	W_WAIT,		/* no IDLE: between two NOOPs */
	W_NOOP,		/* NOOP sent, its reply awaited */
	W_END		/* finished, or lost */
};

struct watch {
	char		*name;		/* as given, and printed */
	char		*raw;		/* on the wire */
	struct imap	*im;
	enum wstate	 st;
	uint32_t	 tag;		/* EXAMINE, IDLE or NOOP under way */
	uint32_t	 exists, recent;
	int		 announced;	/* its idle record is out */
	int		 bye;
	int		 more;		/* readable() stopped with more read */
	int		 have_prev;	/* -C: its EXISTS of then */
	uint32_t	 prev_exists;
	unsigned	 seen;		/* kinds of change reported */
	long long	 due;		/* ms: keepalive, NOOP, or answer due */
};

static struct rec_writer out;
static struct watch *w;
static size_t nw;
static int status = EXIT_OK;
static int outdead;		/* stdout is gone: no more records */
static int finishing;		/* end every IDLE, then log out */
static int changed, timedout;
static long long settle;	/* when to finish after a change; 0: none */
static long long stop_by;	/* after a signal: when to stop waiting */
static long long keepalive_ms, poll_ms, reply_ms;
static volatile sig_atomic_t got_signal, in_setup = 1;
static int sigfd[2] = { -1, -1 };
/* kept for the connections, freed at the end */
static struct config *cfg;
static struct remote rem;
static char *repo, **kopts;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imap-idle [-dz] [-a account | -r repository] "
	    "[-C listing] [-c file]\n"
	    "                 [-k [section:]option=value] [-t seconds] "
	    "[folder ...]\n");
	exit(EXIT_FAIL);
}

static void
on_signal(int sig)
{
	int saved = errno;

	/* before any IDLE there is nothing to end: just go */
	if (in_setup)
		_exit(EXIT_OK);
	got_signal = sig;
	if (write(sigfd[1], "", 1) == -1) {
		/* the pipe is full: a wake-up is pending already */
	}
	errno = saved;
}

/* Records go out at once: a caller acts on them. */
static void
flush_out(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		/* a reader that has seen enough (grep -q) goes quietly */
		if (errno != EPIPE) {
			warn("stdout");
			status = EXIT_FAIL;
		}
		outdead = 1;
		finishing = 1;
	}
}

static void
put(const char *kind, const char *what, const char *name)
{
	if (outdead)
		return;
	rec_puts(&out, kind);
	if (what)
		rec_puts(&out, what);
	if (name)
		rec_puts(&out, name);
	rec_end(&out);
	flush_out();
}

static void
report(struct watch *x, const char *what, unsigned bit)
{
	if (x->seen & bit)
		return;
	x->seen |= bit;
	changed = 1;
	put("changed", what, x->name);
	if (settle == 0)
		settle = now_ms() + SETTLE_MS;
}

static int
on_untagged(void *ctx, struct imap *im, const struct iresp *r)
{
	struct watch *x = ctx;

	(void)im;
	if (r->status == IS_BYE) {
		x->bye = 1;
		return 0;
	}
	if (r->status != IS_NONE || r->name == NULL || !r->has_number)
		return 0;
	/* more messages, or more \Recent ones (new mail either way; an
	 * expunge makes both fewer) */
	if (strcmp(r->name, "EXISTS") == 0 || strcmp(r->name, "RECENT") == 0) {
		uint32_t *count = r->name[0] == 'E' ? &x->exists : &x->recent;
		int more = r->number > *count;

		*count = r->number;
		if (more && x->st != W_SETUP)
			report(x, "exists", 1);
	} else if (x->st == W_SETUP)
		return 0;
	else if (strcmp(r->name, "EXPUNGE") == 0) {
		if (x->exists > 0)
			x->exists--;
		report(x, "expunge", 2);
	} else if (strcmp(r->name, "FETCH") == 0)
		report(x, "fetch", 4);
	return 0;
}

/* The connection of x is gone or useless: say so, go on finishing. */
static void
lost(struct watch *x)
{
	int code = imap_errkind(x->im) == IMAP_ERR_RETRY ? EXIT_RETRY :
	    EXIT_FAIL;

	put("error", imap_error(x->im), x->name);
	warnx("%s: %s", x->name, imap_error(x->im));
	if (status == EXIT_OK || code == EXIT_FAIL)
		status = code;
	imap_free(x->im);
	x->im = NULL;
	x->st = W_END;
	finishing = 1;
}

/* No answer in time: a dropped link, or a suspend the server gave up on. */
static void
dead(struct watch *x, const char *cmd)
{
	imap_fail(x->im, IMAP_ERR_RETRY, "no answer to %s within %lld s "
	    "(socktimeout): the connection is dead", cmd, reply_ms / 1000);
	lost(x);
}

static void
announce(struct watch *x)
{
	if (!x->announced) {
		x->announced = 1;
		put("idle", NULL, x->name);
	}
}

static void
send_idle(struct watch *x, long long now)
{
	if ((x->tag = imap_cmd(x->im, "IDLE")) == 0 ||
	    imap_flush(x->im) == -1) {
		lost(x);
		return;
	}
	x->st = W_START;
	x->due = now + reply_ms;
}

/* Timers and finishing: what each connection does next. */
static void
step(struct watch *x, long long now)
{
	switch (x->st) {
	case W_IDLE:
		if (!finishing && now < x->due)
			break;
		/* finishing, or the keepalive: end this IDLE */
		if (imap_send_line(x->im, "DONE") == -1) {
			lost(x);
			break;
		}
		x->st = W_DONE;
		x->due = now + reply_ms;
		break;
	case W_WAIT:
		if (finishing) {
			x->st = W_END;
			break;
		}
		if (now < x->due)
			break;
		if ((x->tag = imap_cmd(x->im, "NOOP")) == 0 ||
		    imap_flush(x->im) == -1) {
			lost(x);
			break;
		}
		x->st = W_NOOP;
		x->due = now + reply_ms;
		break;
	case W_START:
		if (now >= x->due)
			dead(x, "IDLE");
		break;
	case W_DONE:
		if (now >= x->due)
			dead(x, "DONE");
		break;
	case W_NOOP:
		if (now >= x->due)
			dead(x, "NOOP");
		break;
	case W_SETUP:
	case W_END:
		break;
	}
}

/* A tagged reply completed the command under way. */
static void
completed(struct watch *x, long long now)
{
	struct imap_reply rep;

	if (imap_wait(x->im, x->tag, &rep) == -1) {
		lost(x);
		return;
	}
	x->tag = 0;
	switch (x->st) {
	case W_START:
		/* IDLE refused: poll instead */
		x->st = W_WAIT;
		x->due = now + poll_ms;
		announce(x);
		break;
	case W_IDLE:		/* the server ended IDLE by itself */
	case W_DONE:
		if (finishing)
			x->st = W_END;
		else
			send_idle(x, now);
		break;
	case W_NOOP:
		x->st = finishing ? W_END : W_WAIT;
		x->due = now + poll_ms;
		break;
	default:
		break;
	}
	imap_reply_free(&rep);
}

/* Read what x's server sent: every response that has arrived. */
static void
readable(struct watch *x)
{
	int rv, n = 0;

	do {
		long long now;

		rv = imap_read(x->im);
		now = now_ms();
		if (rv == -1 || x->bye) {
			lost(x);
			return;
		}
		if (rv == 1) {
			/* "+ Still here" reminders while idling: nothing */
			if (x->st == W_IDLE || x->st == W_DONE)
				continue;
			if (x->st != W_START) {
				imap_fail(x->im, IMAP_ERR_FATAL, "unexpected "
				    "continuation request");
				lost(x);
				return;
			}
			x->st = W_IDLE;
			x->due = now + keepalive_ms;
			announce(x);
		} else if (x->tag && imap_done(x->im, x->tag))
			completed(x, now);
	/* a bounded number at a time: a server that never stops talking
	 * must not keep signals and deadlines waiting (the rest is read on
	 * the next turn of the loop, which sees it buffered) */
	} while (x->st != W_END && imap_buffered(x->im) && ++n < 256);
	x->more = x->st != W_END && n == 256;
}

/*
 * -C: the folders' message counts of an earlier listing (mailbox records
 * of imap-list, or folder records): mail that came between that listing
 * and the EXAMINE is a change too.
 */
static void
read_state(const char *path)
{
	struct rec_reader *r;
	struct rec *rec;
	size_t i;
	int rv;

	if ((r = rec_reader_open(path, 0)) == NULL)
		err(EXIT_FAIL, "%s", path);
	rec_expect(r, "imap-folders", 1);
	rec_expect(r, "imap-messages", 1);
	while ((rv = rec_read(r, &rec)) == 1) {
		unsigned long long ex;
		const char *name;

		if (strcmp(rec->f[0], "mailbox") == 0 && rec->nf >= 8) {
			if (rec_u64(r, rec, 4, &ex) == -1)
				errx(EXIT_FAIL, "%s", rec_error(r));
			name = rec->f[7];
		} else if (strcmp(rec->f[0], "folder") == 0 && rec->nf >= 9) {
			if (rec_u64(r, rec, 3, &ex) == -1)
				errx(EXIT_FAIL, "%s", rec_error(r));
			name = rec->f[8];
		} else
			continue;
		if (ex > UINT32_MAX)
			errx(EXIT_FAIL, "%s:%lu: EXISTS out of range", path,
			    rec_lineno(r));
		for (i = 0; i < nw; i++)
			if (strcmp(w[i].name, name) == 0) {
				w[i].have_prev = 1;
				w[i].prev_exists = (uint32_t)ex;
			}
	}
	if (rv == -1)
		errx(EXIT_FAIL, "%s", rec_error(r));
	rec_reader_free(r);
}

/* Log out every connection still open and exit. */
static void __attribute__((noreturn))
quit(int code)
{
	size_t i;

	for (i = 0; i < nw; i++) {
		if (w[i].im) {
			imap_logout(w[i].im);
			imap_free(w[i].im);
		}
		free(w[i].name);
		free(w[i].raw);
	}
	free(w);
	remote_free(&rem);
	config_free(cfg);
	free(repo);
	free(kopts);
	if (sigfd[0] != -1) {
		close(sigfd[0]);
		close(sigfd[1]);
	}
	if (!outdead && close_stdout() == -1 && errno != EPIPE)
		err(EXIT_FAIL, "stdout");
	exit(code);
}

/* The repository's idlefolders: a plain list, or python3's answer. */
static char **
idlefolders(const char *section, size_t *n)
{
	char *v = NULL, *e = NULL, **names, *expr, *pyfile = NULL, *py;
	char *what;
	int rv;

	*n = 0;
	if ((rv = config_value(cfg, section, "idlefolders", &v)) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	if (rv == 0)
		return NULL;
	if (config_pylist(v, &names, n, &e) == 0) {
		free(v);
		return names;
	}
	if (e == NULL)
		errx(EXIT_FAIL, "out of memory");
	free(e);
	if (config_value(cfg, "general", "pythonfile", &pyfile) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	/* python3 says it again as a plain list: its repr() of strings */
	if (asprintf(&expr, "[_n.decode('utf-8') if isinstance(_n, bytes) "
	    "else str(_n) for _n in (%s\n)]", v) == -1 ||
	    asprintf(&what, "[%s] idlefolders", section) == -1)
		err(EXIT_FAIL, "asprintf");
	if (run_python(expr, pyfile, what, "a list of quoted names such as "
	    "['INBOX']", &py, &e) == -1)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (config_pylist(py, &names, n, &e) == -1)
		errx(EXIT_FAIL, "%s: python3 gave %s (%s)", what, py,
		    e ? e : "out of memory");
	free(py);
	free(what);
	free(expr);
	free(pyfile);
	free(v);
	return names;
}

int
main(int argc, char *argv[])
{
	char *path = NULL, *account = NULL, **names, *e, *state = NULL;
	struct sigaction sa;
	struct pollfd *pfd;
	long long start, deadline = 0;
	long keepalive;
	size_t nnames, i, k;
	int ch, nk = 0, trace = 0, zflag = 0, retry, fromcfg = 0;

	start = now_ms();
	/* a server that hangs up, or a reader that has seen enough, is an
	 * error to notice, not a signal to die of */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "a:C:c:dhk:r:t:z")) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 'C':
			state = optarg;
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
		case 'r':
			repo = optarg;
			break;
		case 't': {
			const char *es;
			long long t = strtonum(optarg, 1, INT_MAX, &es);

			if (es != NULL)
				errx(EXIT_FAIL, "-t %s: want a number of "
				    "seconds (%s)", optarg, es);
			deadline = start + t * 1000;
			break;
		}
		case 'z':
			zflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((account == NULL) == (repo == NULL))
		usage();
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);

	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (account) {
		if ((repo = remote_of_account(cfg, account, &e)) == NULL)
			errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	} else
		repo = xstrdup(repo);
	if (remote_init(&rem, cfg, repo, account) == -1)
		errx(EXIT_FAIL, "%s", rem.err);
	if (config_long(cfg, rem.section, "keepalive", &keepalive) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	if (keepalive <= 0 || keepalive > KEEPALIVE_MAX)
		keepalive = KEEPALIVE_MAX;
	keepalive_ms = keepalive * 1000LL;
	poll_ms = (keepalive < POLL_MAX ? keepalive : POLL_MAX) * 1000LL;
	/* every wait for the rest of a response is bounded: a server that
	 * sends half a line and falls silent is a dead connection */
	if (rem.opts.timeout <= 0)
		rem.opts.timeout = REPLY_WAIT;
	reply_ms = (rem.opts.timeout > 0 ? rem.opts.timeout : REPLY_WAIT) *
	    1000LL;

	/* the folders: operands, else idlefolders */
	if (argc > 0) {
		names = xcalloc((size_t)argc, sizeof(*names));
		for (nnames = 0; nnames < (size_t)argc; nnames++)
			names[nnames] = xstrdup(argv[nnames]);
	} else {
		names = idlefolders(rem.section, &nnames);
		fromcfg = 1;
	}
	if (nnames == 0)
		errx(EXIT_FAIL, "no folders to watch: name them, or set "
		    "idlefolders in [%s]%s", rem.section, fromcfg ?
		    " (it is empty)" : "");
	w = xcalloc(nnames, sizeof(*w));
	for (i = 0; i < nnames; i++) {
		char *raw = rem.utf8names ? mutf7_encode(names[i]) :
		    xstrdup(names[i]);

		if (raw == NULL)
			errx(EXIT_FAIL, "\"%s\": not UTF-8", names[i]);
		for (k = 0; k < nw; k++)
			if (strcmp(w[k].raw, raw) == 0)
				break;
		if (k < nw) {
			free(raw);	/* named twice: watched once */
			continue;
		}
		w[nw].name = xstrdup(names[i]);
		w[nw].raw = raw;
		nw++;
	}
	config_free_list(names, nnames);
	if (state)
		read_state(state);

	if (pipe2(sigfd, O_CLOEXEC | O_NONBLOCK) == -1)
		err(EXIT_FAIL, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		err(EXIT_FAIL, "sigaction");

	rec_header(&out, "imap-idle", 1, 0);
	flush_out();

	/* log in and EXAMINE, every EXAMINE sent before the first answer */
	for (i = 0; i < nw; i++) {
		struct watch *x = &w[i];

		if ((x->im = remote_connect(&rem, trace ? stderr : NULL,
		    &retry)) == NULL) {
			put("error", rem.err, x->name);
			warnx("%s", rem.err);
			quit(retry ? EXIT_RETRY : EXIT_FAIL);
		}
		imap_set_untagged(x->im, on_untagged, x);
		if ((x->tag = imap_cmd(x->im, "EXAMINE %a", x->raw)) == 0 ||
		    imap_flush(x->im) == -1) {
			put("error", imap_error(x->im), x->name);
			warnx("%s", imap_error(x->im));
			quit(imap_errkind(x->im) == IMAP_ERR_RETRY ?
			    EXIT_RETRY : EXIT_FAIL);
		}
	}
	for (i = 0; i < nw; i++) {
		struct watch *x = &w[i];
		struct imap_reply rep;

		if (imap_wait(x->im, x->tag, &rep) == -1) {
			put("error", imap_error(x->im), x->name);
			warnx("%s: %s", x->name, imap_error(x->im));
			quit(imap_errkind(x->im) == IMAP_ERR_RETRY ?
			    EXIT_RETRY : EXIT_FAIL);
		}
		x->tag = 0;
		if (rep.status != IS_OK) {
			struct sb why = { 0 };

			if (sb_printf(&why, "EXAMINE refused: %s%s%s%s",
			    rep.code ? "[" : "", rep.code ? rep.code : "",
			    rep.code ? "] " : "", rep.text ? rep.text : "")
			    == -1)
				err(EXIT_FAIL, "out of memory");
			put("error", why.s, x->name);
			warnx("%s: %s", x->name, why.s);
			sb_free(&why);
			status = EXIT_FAIL;
		}
		imap_reply_free(&rep);
	}
	if (status != EXIT_OK)
		quit(status);
	/* what changed since the earlier listing, before the IDLE */
	for (i = 0; i < nw; i++) {
		struct watch *x = &w[i];

		if (!x->have_prev || x->exists == x->prev_exists)
			continue;
		if (x->exists > x->prev_exists)
			report(x, "exists", 1);
		else
			report(x, "expunge", 2);
	}
	in_setup = 0;
	for (i = 0; i < nw; i++) {
		struct watch *x = &w[i];
		long long now = now_ms();

		if (imap_has(x->im, "IDLE"))
			send_idle(x, now);
		else {
			x->st = W_WAIT;
			x->due = now + poll_ms;
			announce(x);
		}
	}

	pfd = xcalloc(nw + 1, sizeof(*pfd));
	for (;;) {
		long long now = now_ms(), next;
		int ms, rv, was = finishing, active = 0;

		if (got_signal && stop_by == 0)
			stop_by = now + SIGNAL_MS;
		if (!finishing) {
			if (got_signal || (settle && now >= settle))
				finishing = 1;
			else if (deadline && now >= deadline)
				finishing = timedout = 1;
		}
		/* told to go: a server slow to answer DONE is not waited for */
		for (i = 0; stop_by && now >= stop_by && i < nw; i++)
			w[i].st = W_END;
		for (i = 0; i < nw; i++)
			step(&w[i], now);
		/* one lost on the way finishes those stepped before it too */
		if (finishing && !was)
			for (i = 0; i < nw; i++)
				step(&w[i], now);
		next = now + WAKE_MS;
		for (i = 0; i < nw; i++)
			if (w[i].st != W_END) {
				active = 1;
				if (w[i].due < next)
					next = w[i].due;
			}
		if (!active)
			break;
		if (!finishing && settle && settle < next)
			next = settle;
		if (!finishing && deadline && deadline < next)
			next = deadline;
		if (stop_by && stop_by < next)
			next = stop_by;
		pfd[0].fd = sigfd[0];
		pfd[0].events = POLLIN;
		for (i = 0; i < nw; i++) {
			pfd[i + 1].fd = w[i].st == W_END ? -1 : imap_fd(w[i].im);
			pfd[i + 1].events = POLLIN;
		}
		ms = next > now ? (int)(next - now) : 0;
		/* responses left in memory by readable(): no waiting */
		for (i = 0; i < nw; i++)
			if (w[i].more)
				ms = 0;
		rv = poll(pfd, nw + 1, ms);
		if (rv == -1 && errno != EINTR)
			err(EXIT_FAIL, "poll");
		if (rv > 0 && pfd[0].revents) {
			char buf[16];

			while (read(sigfd[0], buf, sizeof(buf)) > 0)
				;
		}
		for (i = 0; rv >= 0 && i < nw; i++)
			if (w[i].st != W_END && ((rv > 0 && pfd[i + 1].revents) ||
			    w[i].more))
				readable(&w[i]);
	}
	free(pfd);
	if (timedout && !changed)
		put("timeout", NULL, NULL);
	quit(status);
}
