/*
 * imap-list - the remote side of a sync as records: the folders of an IMAP
 * account with their status, and the messages of folders (UID, flags,
 * size, date, modseq), over one login, pipelined; incremental with
 * CONDSTORE/QRESYNC when given the state of an earlier listing.
 */
#include <ctype.h>
#include <err.h>
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
#include "util.h"

struct folder {
	char		*raw;		/* the name on the wire (mUTF-7) */
	char		*name;		/* as the account sees it */
	char		 delim[8];
	char		*attrs;
	int		 noselect;
	uint32_t	 messages, uidnext, uidvalidity;
	uint64_t	 modseq;
	int		 have_status;
	/* state of an earlier listing (-C) */
	int		 have_prev;
	uint32_t	 prev_uidvalidity, prev_uidnext;
	uint64_t	 prev_modseq;
	uint32_t	 prev_exists;
	/* while listing messages */
	uint32_t	 exists;
	int		 nomodseq;
	int		 header_done;
	int		 discard;	/* its FETCH replies mean nothing */
	unsigned long	 count;
	const char	*mode;
};

static struct rec_writer out;
static struct folder *folders;
static size_t nfolders;
static struct folder *cur;		/* the folder being answered for */
static int utf8names;
static struct sb searchset;		/* UIDs of a SEARCH, as a set */
static uint32_t search_last, search_start;
static int want_messages;
static const char *window_since, *window_size;
static uint32_t enable_tag;		/* ENABLE QRESYNC, when sent */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imap-list [-Ddmz] [-a account | -r repository] "
	    "[-c file] [-C state] [-k [section:]option=value]\n"
	    "                 [-L bytes] [-S yyyy-mm-dd] [folder ...]\n");
	exit(EXIT_FAIL);
}

static struct folder *
find_folder(const char *raw)
{
	size_t i;

	for (i = 0; i < nfolders; i++)
		if (strcmp(folders[i].raw, raw) == 0)
			return &folders[i];
	return NULL;
}

/* A folder's names from its wire name. */
static struct folder *
add_folder(const char *raw)
{
	struct folder *f;

	if ((f = find_folder(raw)) != NULL)
		return f;
	folders = xreallocarray(folders, nfolders + 1, sizeof(*folders));
	f = &folders[nfolders++];
	memset(f, 0, sizeof(*f));
	f->raw = xstrdup(raw);
	if (utf8names) {
		if ((f->name = mutf7_decode(raw)) == NULL)
			f->name = xstrdup(raw);	/* not valid mUTF-7: as is */
	} else
		f->name = xstrdup(raw);
	return f;
}

/* "17-Jul-1996 02:44:25 -0700" to Unix time; 0 if malformed. */
static long long
imap_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, H, M, S, tz, m;
	char mon[4];
	long long days;

	if (s == NULL || sscanf(s, "%d-%3s-%d %d:%d:%d %d", &d, mon, &y, &H,
	    &M, &S, &tz) != 7)
		return 0;
	const char *p = strstr(months, mon);

	if (p == NULL || (p - months) % 3 != 0)
		return 0;
	m = (int)(p - months) / 3 + 1;
	/* days from civil (Howard Hinnant's algorithm) */
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	days = era * 146097 + (long long)doe - 719468;
	int sign = tz < 0 ? -1 : 1;

	tz = tz < 0 ? -tz : tz;
	return days * 86400 + H * 3600 + M * 60 + S -
	    sign * ((tz / 100) * 3600 + (tz % 100) * 60);
}

static void
put_header(struct folder *f)
{
	if (f->header_done)
		return;
	f->header_done = 1;
	rec_puts(&out, "mailbox");
	rec_putu(&out, f->uidvalidity);
	rec_putu(&out, f->uidnext);
	rec_putu(&out, f->nomodseq ? 0 : f->modseq);
	rec_putu(&out, f->exists);
	rec_puts(&out, f->mode);
	rec_puts(&out, f->delim);
	rec_puts(&out, f->name);
	rec_end(&out);
}

static void
put_message(const struct ival *items)
{
	const struct ival *v, *flags;
	uint32_t uid, size = 0;
	uint64_t modseq = 0;
	struct sb fl = { 0 };
	size_t i;

	if ((v = ival_get(items, "UID")) == NULL || ival_u32(v, &uid) == -1)
		return;		/* an unsolicited flag update: not ours */
	if ((v = ival_get(items, "RFC822.SIZE")) != NULL)
		ival_u32(v, &size);
	if ((v = ival_get(items, "MODSEQ")) != NULL && v->kind == IV_LIST &&
	    v->n == 1)
		ival_u64(&v->items[0], &modseq);
	if ((flags = ival_get(items, "FLAGS")) != NULL && flags->kind == IV_LIST)
		for (i = 0; i < flags->n; i++)
			if (ival_str(&flags->items[i]) &&
			    !ival_is(&flags->items[i], "\\Recent"))
				sb_printf(&fl, "%s%s", fl.len ? " " : "",
				    ival_str(&flags->items[i]));
	put_header(cur);
	rec_puts(&out, "msg");
	rec_putu(&out, uid);
	rec_puts(&out, fl.s ? fl.s : "");
	rec_putu(&out, size);
	v = ival_get(items, "INTERNALDATE");
	rec_putu(&out, (unsigned long long)imap_date(v ? ival_str(v) : NULL));
	rec_putu(&out, modseq);
	rec_end(&out);
	sb_free(&fl);
	cur->count++;
}

static void
set_status(struct folder *f, const struct ival *list)
{
	size_t i;

	for (i = 0; i + 1 < list->n; i += 2) {
		const struct ival *k = &list->items[i], *v = &list->items[i + 1];

		if (ival_is(k, "MESSAGES"))
			ival_u32(v, &f->messages);
		else if (ival_is(k, "UIDNEXT"))
			ival_u32(v, &f->uidnext);
		else if (ival_is(k, "UIDVALIDITY"))
			ival_u32(v, &f->uidvalidity);
		else if (ival_is(k, "HIGHESTMODSEQ"))
			ival_u64(v, &f->modseq);
	}
	f->have_status = 1;
}

static void
add_range(void)
{
	if (search_start == 0)
		return;
	if (search_last != search_start)
		sb_printf(&searchset, "%s%u:%u", searchset.len ? "," : "",
		    search_start, search_last);
	else
		sb_printf(&searchset, "%s%u", searchset.len ? "," : "",
		    search_start);
}

static int
on_untagged(void *ctx, struct imap *im, const struct iresp *r)
{
	(void)ctx;
	(void)im;
	if (r->status != IS_NONE && r->code && cur) {
		const struct ival *a = r->code_args.n ? &r->code_args.items[0] :
		    NULL;

		if (strcmp(r->code, "UIDVALIDITY") == 0 && a)
			ival_u32(a, &cur->uidvalidity);
		else if (strcmp(r->code, "UIDNEXT") == 0 && a)
			ival_u32(a, &cur->uidnext);
		else if (strcmp(r->code, "HIGHESTMODSEQ") == 0 && a)
			ival_u64(a, &cur->modseq);
		else if (strcmp(r->code, "NOMODSEQ") == 0)
			cur->nomodseq = 1;
		return 0;
	}
	if (r->name == NULL)
		return 0;
	if (strcmp(r->name, "SEARCH") == 0 && cur) {
		size_t i;

		/* ascending from Dovecot, but sort nothing: ranges only join
		 * neighbours, any order gives a correct set */
		for (i = 0; i < r->args.n; i++) {
			uint32_t u;

			if (ival_u32(&r->args.items[i], &u) == -1)
				continue;
			if (search_last && u == search_last + 1) {
				search_last = u;
				continue;
			}
			add_range();
			search_start = search_last = u;
		}
		return 0;
	}
	if (strcmp(r->name, "EXISTS") == 0 && r->has_number && cur)
		cur->exists = r->number;
	else if (strcmp(r->name, "FETCH") == 0 && cur && !cur->discard &&
	    r->args.n == 1 && r->args.items[0].kind == IV_LIST)
		put_message(&r->args.items[0]);
	else if (strcmp(r->name, "VANISHED") == 0 && cur && !cur->discard &&
	    r->args.n >= 1) {
		const struct ival *set = &r->args.items[r->args.n - 1];

		if (set->kind == IV_ATOM && strspn(set->s, "0123456789:,") ==
		    set->len) {
			put_header(cur);
			rec_puts(&out, "vanished");
			rec_puts(&out, set->s);
			rec_end(&out);
		}
	} else if ((strcmp(r->name, "LIST") == 0 ||
	    strcmp(r->name, "LSUB") == 0) && r->args.n >= 3 &&
	    r->args.items[0].kind == IV_LIST) {
		const struct ival *attrs = &r->args.items[0];
		const char *delim = ival_str(&r->args.items[1]);
		const char *raw = ival_str(&r->args.items[2]);
		struct folder *f;
		struct sb a = { 0 };
		size_t i;

		if (raw == NULL)
			return 0;
		f = add_folder(raw);
		snprintf(f->delim, sizeof(f->delim), "%s", delim ? delim : "");
		for (i = 0; i < attrs->n; i++) {
			const char *s = ival_str(&attrs->items[i]);

			if (s == NULL)
				continue;
			sb_printf(&a, "%s%s", a.len ? " " : "", s);
			if (strcasecmp(s, "\\Noselect") == 0 ||
			    strcasecmp(s, "\\NonExistent") == 0)
				f->noselect = 1;
		}
		free(f->attrs);
		f->attrs = a.s ? a.s : xstrdup("");
	} else if (strcmp(r->name, "STATUS") == 0 && r->args.n == 2 &&
	    r->args.items[1].kind == IV_LIST) {
		const char *raw = ival_str(&r->args.items[0]);
		struct folder *f = raw ? find_folder(raw) : NULL;

		if (f)
			set_status(f, &r->args.items[1]);
	}
	return 0;
}

static void
put_error(const char *what, const char *name)
{
	rec_puts(&out, "error");
	rec_puts(&out, what);
	rec_puts(&out, name);
	rec_end(&out);
}

/* The reply text of a failed command, with its code. */
static char *
why(const struct imap_reply *rep)
{
	char *s;

	if (asprintf(&s, "%s%s%s%s", rep->code ? "[" : "", rep->code ?
	    rep->code : "", rep->code ? "] " : "", rep->text ? rep->text : "")
	    == -1)
		err(EXIT_FAIL, "asprintf");
	return s;
}

/* Die on a lost connection: 75, the listing is incomplete. */
static void __attribute__((noreturn))
lost(struct imap *im)
{
	fflush(stdout);
	errx(imap_errkind(im) == IMAP_ERR_RETRY ? EXIT_RETRY : EXIT_FAIL,
	    "%s", imap_error(im));
}

static int
list_folders(struct imap *im, const char *reference, int subscribed,
    int print)
{
	struct imap_reply rep;
	uint32_t tag, *stags = NULL;
	int status = EXIT_OK, liststatus;
	size_t i;
	const char *items = imap_has(im, "CONDSTORE") ?
	    "MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ" :
	    "MESSAGES UIDNEXT UIDVALIDITY";

	liststatus = imap_has(im, "LIST-STATUS") && !subscribed;
	if (subscribed)
		tag = imap_cmd(im, "LSUB %a \"*\"", reference);
	else if (liststatus)
		tag = imap_cmd(im, "LIST %a \"*\" RETURN (%sSTATUS (%s))",
		    reference, imap_has(im, "SPECIAL-USE") ? "SPECIAL-USE " :
		    "", items);
	else
		tag = imap_cmd(im, "LIST %a \"*\"", reference);
	if (tag == 0 || imap_wait(im, tag, &rep) == -1)
		lost(im);
	if (rep.status != IS_OK) {
		char *w = why(&rep);

		errx(EXIT_FAIL, "LIST refused: %s", w);
	}
	imap_reply_free(&rep);
	if (!liststatus && print) {
		/* pipelined STATUS, all sent before the first reply is read */
		stags = xcalloc(nfolders, sizeof(*stags));
		for (i = 0; i < nfolders; i++)
			if (!folders[i].noselect)
				stags[i] = imap_cmd(im, "STATUS %a (%s)",
				    folders[i].raw, items);
		for (i = 0; i < nfolders; i++) {
			if (stags[i] == 0)
				continue;
			if (imap_wait(im, stags[i], &rep) == -1)
				lost(im);
			imap_reply_free(&rep);
		}
		free(stags);
	}
	if (!print)
		return status;
	rec_header(&out, "imap-folders", 1, 0);
	for (i = 0; i < nfolders; i++) {
		struct folder *f = &folders[i];

		rec_puts(&out, "folder");
		rec_puts(&out, f->delim);
		rec_puts(&out, f->attrs ? f->attrs : "");
		rec_putu(&out, f->messages);
		rec_putu(&out, f->uidnext);
		rec_putu(&out, f->uidvalidity);
		rec_putu(&out, f->modseq);
		rec_puts(&out, f->raw);
		rec_puts(&out, f->name);
		rec_end(&out);
	}
	return status;
}

/* Earlier state: folder records of an earlier listing (-C). */
static void
read_state(const char *path)
{
	struct rec_reader *r;
	struct rec *rec;
	int rv;

	if ((r = rec_reader_open(path, 0)) == NULL)
		err(EXIT_FAIL, "%s", path);
	rec_expect(r, "imap-folders", 1);
	rec_expect(r, "imap-messages", 1);
	while ((rv = rec_read(r, &rec)) == 1) {
		unsigned long long uv, un, ms, ex;
		struct folder *f;

		if (strcmp(rec->f[0], "folder") == 0 && rec->nf >= 9) {
			if (rec_u64(r, rec, 5, &uv) == -1 ||
			    rec_u64(r, rec, 4, &un) == -1 ||
			    rec_u64(r, rec, 6, &ms) == -1 ||
			    rec_u64(r, rec, 3, &ex) == -1 ||
			    rec_cstr(r, rec, 7) == -1)
				errx(EXIT_FAIL, "%s", rec_error(r));
			f = add_folder(rec->f[7]);
		} else if (strcmp(rec->f[0], "mailbox") == 0 && rec->nf >= 8) {
			if (rec_u64(r, rec, 1, &uv) == -1 ||
			    rec_u64(r, rec, 2, &un) == -1 ||
			    rec_u64(r, rec, 3, &ms) == -1 ||
			    rec_u64(r, rec, 4, &ex) == -1 ||
			    rec_cstr(r, rec, 7) == -1)
				errx(EXIT_FAIL, "%s", rec_error(r));
			char *raw = utf8names ? mutf7_encode(rec->f[7]) :
			    xstrdup(rec->f[7]);

			if (raw == NULL)
				errx(EXIT_FAIL, "%s:%lu: folder name is not "
				    "UTF-8", path, rec_lineno(r));
			f = add_folder(raw);
			free(raw);
		} else
			continue;
		if (uv > UINT32_MAX || un > UINT32_MAX || ex > UINT32_MAX)
			errx(EXIT_FAIL, "%s:%lu: UIDVALIDITY or UIDNEXT out of "
			    "range", path, rec_lineno(r));
		f->have_prev = 1;
		f->prev_uidvalidity = (uint32_t)uv;
		f->prev_uidnext = (uint32_t)un;
		f->prev_modseq = ms;
		f->prev_exists = (uint32_t)ex;
	}
	if (rv == -1)
		errx(EXIT_FAIL, "%s", rec_error(r));
	rec_reader_free(r);
}

static int no_dates;		/* -D: INTERNALDATE not asked for */

static const char *
fetch_items(struct imap *im)
{
	if (no_dates)
		return imap_has(im, "CONDSTORE") ?
		    "(UID FLAGS RFC822.SIZE MODSEQ)" : "(UID FLAGS RFC822.SIZE)";
	return imap_has(im, "CONDSTORE") ?
	    "(UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)" :
	    "(UID FLAGS RFC822.SIZE INTERNALDATE)";
}

/* "2024-01-31" to IMAP's "31-Jan-2024". */
static char *
imap_day(const char *iso)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int y, m, d;
	char *s, c;

	if (sscanf(iso, "%4d-%2d-%2d%c", &y, &m, &d, &c) != 3 || m < 1 ||
	    m > 12 || d < 1 || d > 31 || y < 1900)
		errx(EXIT_FAIL, "-S %s: want a date as YYYY-MM-DD", iso);
	if (asprintf(&s, "%d-%s-%d", d, mon[m - 1], y) == -1)
		err(EXIT_FAIL, "asprintf");
	return s;
}

static int
list_messages(struct imap *im, struct folder **sel, size_t nsel)
{
	const char *items = fetch_items(im);
	int status = EXIT_OK, qresync = imap_has(im, "QRESYNC");
	uint32_t *etag, *ftag;
	struct imap_reply rep;
	size_t i, k, win = 64;

	/* VANISHED in UID FETCH needs QRESYNC enabled: main() sent ENABLE
	 * ahead of the LIST, so that it costs no round trip of its own */
	if (enable_tag) {
		if (imap_wait(im, enable_tag, &rep) == -1)
			lost(im);
		if (rep.status != IS_OK)
			qresync = 0;
		imap_reply_free(&rep);
	} else
		qresync = 0;
	rec_header(&out, "imap-messages", 1, 0);
	etag = xcalloc(nsel, sizeof(*etag));
	ftag = xcalloc(nsel, sizeof(*ftag));
	for (i = 0; i < nsel; i += win) {
		size_t end = i + win < nsel ? i + win : nsel;

		/* send a window of folders, then read the replies in order */
		for (k = i; k < end; k++) {
			struct folder *f = sel[k];

			f->mode = "full";
			if (f->have_prev && f->have_status &&
			    f->uidvalidity == f->prev_uidvalidity &&
			    f->uidnext == f->prev_uidnext && f->modseq != 0 &&
			    f->modseq == f->prev_modseq &&
			    f->messages == f->prev_exists && !window_since &&
			    !window_size) {
				f->mode = "unchanged";
				continue;
			}
			etag[k] = imap_cmd(im, "EXAMINE %a", f->raw);
			if (window_since || window_size)
				continue;	/* SEARCH first, then FETCH */
			/* changes since, where the folder is the same one: the
			 * UIDVALIDITY of the LIST's STATUS is the saved one */
			if (f->have_prev && qresync && f->prev_modseq &&
			    f->have_status &&
			    f->uidvalidity == f->prev_uidvalidity) {
				f->mode = "changed";
				ftag[k] = imap_cmd(im, "UID FETCH 1:* %s "
				    "(CHANGEDSINCE %llu VANISHED)", items,
				    (unsigned long long)f->prev_modseq);
			} else
				ftag[k] = imap_cmd(im, "UID FETCH 1:* %s",
				    items);
		}
		for (k = i; k < end; k++) {
			struct folder *f = sel[k];

			cur = f;
			if (strcmp(f->mode, "unchanged") == 0) {
				f->exists = f->messages;
				put_header(f);
				goto endrec;
			}
			if (imap_wait(im, etag[k], &rep) == -1)
				lost(im);
			if (rep.status != IS_OK) {
				char *w = why(&rep);

				put_error(w, f->name);
				free(w);
				imap_reply_free(&rep);
				status = EXIT_FAIL;
				if (ftag[k]) {
					if (imap_wait(im, ftag[k], &rep) == -1)
						lost(im);
					imap_reply_free(&rep);
				}
				continue;
			}
			imap_reply_free(&rep);
			/*
			 * The UIDVALIDITY changed between the LIST and the
			 * EXAMINE: the changes since mean nothing, and a FETCH
			 * sent now would be answered after the next folders'
			 * commands.  The folder is an error, to list again.
			 */
			if (strcmp(f->mode, "changed") == 0 &&
			    f->uidvalidity != f->prev_uidvalidity) {
				f->discard = 1;
				if (imap_wait(im, ftag[k], &rep) == -1)
					lost(im);
				imap_reply_free(&rep);
				put_error("the UIDVALIDITY changed during the "
				    "listing: list again", f->name);
				status = EXIT_FAIL;
				continue;
			}
			if (window_since || window_size) {
				char *day = window_since ?
				    imap_day(window_since) : NULL;
				uint32_t stag;

				f->mode = "window";
				sb_reset(&searchset);
				search_start = search_last = 0;
				stag = imap_cmd(im, "UID SEARCH%s%s%s%s",
				    day ? " SINCE " : "", day ? day : "",
				    window_size ? " SMALLER " : "",
				    window_size ? window_size : "");
				free(day);
				if (stag == 0 || imap_wait(im, stag, &rep) == -1)
					lost(im);
				if (rep.status != IS_OK) {
					char *w = why(&rep);

					put_error(w, f->name);
					free(w);
					imap_reply_free(&rep);
					status = EXIT_FAIL;
					continue;
				}
				imap_reply_free(&rep);
				add_range();
				if (searchset.len == 0) {
					put_header(f);
					goto endrec;
				}
				ftag[k] = imap_cmd(im, "UID FETCH %s %s",
				    searchset.s, items);
			}
			if (imap_wait(im, ftag[k], &rep) == -1)
				lost(im);
			if (rep.status != IS_OK) {
				char *w = why(&rep);

				put_error(w, f->name);
				free(w);
				status = EXIT_FAIL;
				imap_reply_free(&rep);
				continue;
			}
			imap_reply_free(&rep);
			put_header(f);
endrec:
			rec_puts(&out, "end");
			rec_putu(&out, f->count);
			rec_puts(&out, f->name);
			rec_end(&out);
			cur = NULL;
		}
	}
	free(etag);
	free(ftag);
	return status;
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *path = NULL, *account = NULL;
	char *repo = NULL, *state = NULL, *e;
	struct config *cfg;
	struct remote rem;
	struct imap *im;
	int ch, nk = 0, i, trace = 0, retry, status;
	int zflag = 0;

	/* a server that hangs up is an error to report, not a signal */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "a:C:c:Ddhk:L:mr:S:z")) != -1) {
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
		case 'D':
			no_dates = 1;
			break;
		case 'd':
			trace = 1;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'L':
			window_size = optarg;
			break;
		case 'm':
			want_messages = 1;
			break;
		case 'r':
			repo = optarg;
			break;
		case 'S':
			window_since = optarg;
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
	if ((account == NULL) == (repo == NULL))
		usage();
	if (argc > 0 || state)
		want_messages = 1;
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
	utf8names = rem.utf8names;
	if (window_size) {
		char *end;

		strtoul(window_size, &end, 10);
		if (*window_size == '\0' || *end != '\0')
			errx(EXIT_FAIL, "-L %s: want a size in bytes",
			    window_size);
	}
	if (window_since)
		free(imap_day(window_since));
	if (state)
		read_state(state);

	if ((im = remote_connect(&rem, trace ? stderr : NULL, &retry)) == NULL)
		errx(retry ? EXIT_RETRY : EXIT_FAIL, "%s", rem.err);
	imap_set_untagged(im, on_untagged, NULL);
	if (state && imap_has(im, "QRESYNC") &&
	    (enable_tag = imap_cmd(im, "ENABLE QRESYNC")) == 0)
		lost(im);

	if (!want_messages)
		status = list_folders(im, rem.reference ? rem.reference : "",
		    rem.subscribedonly, 1);
	else {
		struct folder **sel;
		size_t nsel = 0, k;

		/* one LIST (with status where offered) names and checks them */
		status = list_folders(im, rem.reference ? rem.reference : "",
		    rem.subscribedonly, 0);
		sel = xcalloc(argc > 0 ? (size_t)argc : nfolders + 1,
		    sizeof(*sel));
		if (argc > 0) {
			for (i = 0; i < argc; i++) {
				char *raw = utf8names ? mutf7_encode(argv[i]) :
				    xstrdup(argv[i]);

				if (raw == NULL)
					errx(EXIT_FAIL, "\"%s\": not UTF-8",
					    argv[i]);
				sel[nsel] = add_folder(raw);
				free(raw);
				/* the name as the user gave it */
				free(sel[nsel]->name);
				sel[nsel]->name = xstrdup(argv[i]);
				nsel++;
			}
		} else
			for (k = 0; k < nfolders; k++)
				if (!folders[k].noselect)
					sel[nsel++] = &folders[k];
		if (list_messages(im, sel, nsel) != EXIT_OK)
			status = EXIT_FAIL;
		free(sel);
	}
	imap_logout(im);
	imap_free(im);
	remote_free(&rem);
	config_free(cfg);
	free(repo);
	free(kopts);
	for (size_t k = 0; k < nfolders; k++) {
		free(folders[k].raw);
		free(folders[k].name);
		free(folders[k].attrs);
	}
	free(folders);
	sb_free(&searchset);
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return status;
}
