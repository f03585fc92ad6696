/*
 * listing.h - the two listings sync-plan(1) merges, read a folder at a
 * time: the remote one ("imap-messages" records, imap-list(1) -m) and the
 * local one ("maildir-messages", maildir-scan(1) -m).
 *
 * listing_read() goes through the whole input once, checks every record
 * and keeps only the folders: their mailbox (or error) records, whether
 * the end record came and matched, and where each folder's block starts.
 * listing_load() then reads one folder's messages from there.  Memory is
 * proportional to the number of folders plus one folder's messages.  An
 * input that cannot seek (a pipe) is first copied to an unlinked file in
 * $TMPDIR (else /tmp).
 */
#ifndef OI_LISTING_H
#define OI_LISTING_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "maildir.h"
#include "plan.h"
#include "util.h"

enum listing_side {
	LISTING_REMOTE,		/* imap-messages */
	LISTING_LOCAL		/* maildir-messages */
};

struct listing_folder {
	char		*name;		/* remote: untranslated; local: after
					 * the local nametrans */
	char		*local;		/* local: relative to the root */
	char		*delim;		/* remote: "" when there is none */
	char		*error;		/* why its listing cannot be used */
	char		 fmd5[MD_FMD5_LEN + 1];	/* local */
	uint32_t	 uidvalidity, exists;	/* remote */
	enum plan_mode	 mode;
	int		 same;		/* remote "unchanged", local "same" */
	size_t		 nmsgs;		/* its msg records */
	off_t		 off;		/* where its mailbox record is */
	unsigned long	 lineno;	/* and on which line */
};

/* One folder's messages, as listing_load() leaves them. */
struct listing_msgs {
	struct plan_rmsg	*r;	/* remote: ascending UIDs */
	size_t			 nr, rcap;
	struct plan_range	*v;	/* remote: vanished, sorted, joined */
	size_t			 nv, vcap;
	struct plan_lmsg	*l;	/* local: as listed; ref: into paths */
	size_t			 nl, lcap;
	struct sb		 paths;	/* local paths, each NUL-terminated */
};

struct rec_reader;

struct listing {
	struct listing_folder	*f;	/* in the order of the input */
	size_t			 n;

	/* the reader's own */
	size_t			 cap;
	enum listing_side	 side;
	const struct maildir_kwmap *kw;
	char			*name;
	FILE			*own;	/* opened by listing_open() */
	FILE			*spool;	/* the copy of an unseekable input */
	struct rec_reader	*rr;
	int			 ended;	/* the folder read has its end */
	int			 ascending;	/* its UIDs so far */
	uint32_t		 last;	/* its last UID */
	uint32_t		*uids;	/* its UIDs (remote), to find doubles */
	size_t			 nuids, uidcap;
	struct sb		 flags, err;
};

/*
 * Read the listing in fp (named name in messages; kw maps keywords to
 * letters, remote only, may be NULL): 0, or -1 with listing_error() set.
 * fp stays the caller's.  l must be zeroed; free it with listing_free()
 * in either case.
 */
int	 listing_read(struct listing *l, FILE *fp, const char *name,
	    enum listing_side, const struct maildir_kwmap *kw);
/* The same from a file by name, "-" being standard input. */
int	 listing_open(struct listing *l, const char *path, enum listing_side,
	    const struct maildir_kwmap *kw);
/* Folder i's messages into m (reused from folder to folder): 0, or -1
 * with listing_error() set. */
int	 listing_load(struct listing *l, size_t i, struct listing_msgs *m);
const char *listing_error(const struct listing *);
void	 listing_free(struct listing *);
void	 listing_msgs_free(struct listing_msgs *);

#endif
