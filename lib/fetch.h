/*
 * fetch.h - download messages of one remote folder by UID into its local
 * Maildir folder: pipelined UID FETCH of UID sets, each body streamed from
 * the socket into tmp/ (CRLF made LF, nothing else changed), made durable
 * a batch at a time (one syncfs), then renamed into place under
 * OfflineIMAP's file names.  Used by imap-fetch(1) and sync-apply(1).
 */
#ifndef OI_FETCH_H
#define OI_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct imap;
struct maildir_opts;
struct maildir_kwmap;

enum fetch_state {
	FS_WANT,	/* not done (yet) */
	FS_STORED,	/* downloaded; path set */
	FS_PRESENT,	/* the folder held the UID already; path set */
	FS_GONE,	/* the server did not send it: expunged meanwhile */
	FS_FAILED	/* why set */
};

struct fetch_item {
	uint32_t	 uid;
	char		*flags;		/* Maildir letters; NULL: the server's */
	enum fetch_state state;
	char		*path;		/* "cur/..." or "new/...", malloc'd */
	char		*why;		/* malloc'd */
	void		*user;		/* the caller's */
};

struct fetch_job {
	struct imap			*im;
	const char			*mailbox; /* as sent; NULL: selected */
	uint32_t			 uidvalidity; /* expected, 0: any */
	const char			*dir;	/* the local folder */
	const char			*fmd5;
	const struct maildir_opts	*mopts;
	const struct maildir_kwmap	*kw;
	struct fetch_item		*items;	/* see fetch_sort() */
	size_t				 n;
	/* each item once it is final, stored ones once durable */
	void	(*report)(void *ctx, struct fetch_item *);
	/* after the reports of each durable batch */
	void	(*batch_done)(void *ctx);
	/* every command is queued, no reply read yet: a caller may queue
	 * its next command (NULL: none) */
	void	(*sent)(void *ctx);
	void	*ctx;
	char	*err;		/* the folder could not be fetched from */
};

/* Sort items by UID and drop repeated UIDs (freeing their strings). */
void	 fetch_sort(struct fetch_item *, size_t *n);

/*
 * Fetch every FS_WANT item.  The untagged handler and the literal sink of
 * the connection are taken for the duration and reset to none after.
 * 0: done, each item's state set; 1: the folder was refused (EXAMINE
 * failed, UIDVALIDITY differs, the folder cannot be read), err says why
 * and nothing was stored; -1: the connection failed (imap_error()), the
 * messages that arrived whole were kept and reported.
 */
int	 fetch_run(struct fetch_job *);
void	 fetch_items_free(struct fetch_item *, size_t);

/* IMAP flags (space separated) to sorted Maildir letters, malloc'd;
 * keywords without a letter are left out (they stay on the server). */
char	*fetch_letters(const struct maildir_kwmap *, const char *imapflags);

#endif
