/*
 * imap-rmfolder - delete folders on the IMAP server of an account, saying
 * first what each held: OfflineIMAP's --delete-folder, as a tool.  One
 * login; the STATUS of every folder is asked for pipelined, then the
 * DELETEs.  Nothing local is touched.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imap.h"
#include "mutf7.h"
#include "record.h"
#include "remote.h"
#include "util.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imap-rmfolder [-dnz] -a account [-c file] "
	    "[-k [section:]option=value] folder ...\n");
	exit(EXIT_FAIL);
}

struct target {
	char		*name;		/* as the account sees it */
	char		*raw;		/* on the wire */
	uint32_t	 messages;
	int		 found;
};

static struct target *tg;
static size_t ntg;
static struct rec_writer out;

static int
on_untagged(void *ctx, struct imap *im, const struct iresp *r)
{
	const struct ival *list;
	const char *raw;
	size_t i, k;

	(void)ctx;
	(void)im;
	if (r->name == NULL || strcmp(r->name, "STATUS") != 0 ||
	    r->args.n != 2 || r->args.items[1].kind != IV_LIST ||
	    (raw = ival_str(&r->args.items[0])) == NULL)
		return 0;
	list = &r->args.items[1];
	for (k = 0; k < ntg; k++) {
		if (strcmp(tg[k].raw, raw) != 0)
			continue;
		for (i = 0; i + 1 < list->n; i += 2)
			if (ival_is(&list->items[i], "MESSAGES"))
				ival_u32(&list->items[i + 1], &tg[k].messages);
	}
	return 0;
}

static void __attribute__((noreturn))
lost(struct imap *im)
{
	fflush(stdout);
	errx(imap_errkind(im) == IMAP_ERR_RETRY ? EXIT_RETRY : EXIT_FAIL,
	    "%s", imap_error(im));
}

static void
put_error(const struct imap_reply *rep, const char *what, const char *name)
{
	struct sb b = { 0 };

	if (sb_printf(&b, "%s refused: %s%s%s%s", what, rep->code ? "[" : "",
	    rep->code ? rep->code : "", rep->code ? "] " : "",
	    rep->text ? rep->text : "") == -1)
		err(EXIT_FAIL, "out of memory");
	rec_puts(&out, "error");
	rec_puts(&out, b.s);
	rec_puts(&out, name);
	rec_end(&out);
	warnx("%s: %s", name, b.s);
	sb_free(&b);
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *path = NULL, *account = NULL, *repo, *e;
	struct remote rem;
	struct config *cfg;
	struct imap *im;
	struct imap_reply rep;
	uint32_t *tags;
	int ch, nk = 0, dflag = 0, nflag = 0, zflag = 0, retry;
	int status = EXIT_OK;
	size_t k;

	while ((ch = getopt(argc, argv, "a:c:dhk:nz")) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'd':
			dflag = 1;
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
	if (account == NULL || argc < 1)
		usage();
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);

	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if ((repo = remote_of_account(cfg, account, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");
	if (remote_init(&rem, cfg, repo, account) == -1)
		errx(EXIT_FAIL, "%s", rem.err);

	ntg = (size_t)argc;
	tg = xcalloc(ntg, sizeof(*tg));
	tags = xcalloc(ntg, sizeof(*tags));
	for (k = 0; k < ntg; k++) {
		tg[k].name = argv[k];
		tg[k].raw = rem.utf8names ? mutf7_encode(argv[k]) :
		    xstrdup(argv[k]);
		if (tg[k].raw == NULL)
			errx(EXIT_FAIL, "\"%s\": not UTF-8", argv[k]);
	}

	if ((im = remote_connect(&rem, dflag ? stderr : NULL, &retry)) == NULL)
		errx(retry ? EXIT_RETRY : EXIT_FAIL, "%s", rem.err);
	imap_set_untagged(im, on_untagged, NULL);

	/* what each folder holds: all asked before the first answer */
	for (k = 0; k < ntg; k++)
		if ((tags[k] = imap_cmd(im, "STATUS %a (MESSAGES)",
		    tg[k].raw)) == 0)
			lost(im);
	for (k = 0; k < ntg; k++) {
		if (imap_wait(im, tags[k], &rep) == -1)
			lost(im);
		if (rep.status == IS_OK)
			tg[k].found = 1;
		else {
			put_error(&rep, "STATUS", tg[k].name);
			status = EXIT_FAIL;
		}
		imap_reply_free(&rep);
	}
	rec_header(&out, "imap-rmfolder", 1, 0);
	if (nflag) {
		for (k = 0; k < ntg; k++) {
			if (!tg[k].found)
				continue;
			rec_puts(&out, "would-delete");
			rec_putu(&out, tg[k].messages);
			rec_puts(&out, tg[k].name);
			rec_end(&out);
		}
		goto done;
	}
	for (k = 0; k < ntg; k++)
		if (tg[k].found && (tags[k] = imap_cmd(im, "DELETE %a",
		    tg[k].raw)) == 0)
			lost(im);
	for (k = 0; k < ntg; k++) {
		if (!tg[k].found)
			continue;
		if (imap_wait(im, tags[k], &rep) == -1)
			lost(im);
		if (rep.status == IS_OK) {
			rec_puts(&out, "deleted");
			rec_putu(&out, tg[k].messages);
			rec_puts(&out, tg[k].name);
			rec_end(&out);
		} else {
			put_error(&rep, "DELETE", tg[k].name);
			status = EXIT_FAIL;
		}
		imap_reply_free(&rep);
	}
done:
	imap_logout(im);
	imap_free(im);
	remote_free(&rem);
	config_free(cfg);
	for (k = 0; k < ntg; k++)
		free(tg[k].raw);
	free(tg);
	free(tags);
	free(repo);
	free(kopts);
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return status;
}
