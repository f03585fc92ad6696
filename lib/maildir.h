/*
 * maildir.h - the local side: Maildir folders, message file names, flags
 * and delivery, exactly as OfflineIMAP reads and writes them (see
 * maildir-scan(1) and ../shared/reference/offlineimap.md 3.3-3.6).
 *
 * Nothing here exits or prints: failures return -1 with a malloc'd
 * message in *err ("what: why"), which the caller frees.  The name
 * generator keeps per-process state (a counter per distinct time) and is
 * not thread-safe.
 */
#ifndef OI_MAILDIR_H
#define OI_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sb;
struct config;

#define MD_FMD5_LEN	32		/* hex digits of an FMD5 */

/* ---- folder names and paths ---- */

/*
 * Is name a safe local folder name for this separator?  0 if so; -1 with
 * *why ("folder \"../x\": ...") if it is absolute, holds a control byte,
 * an empty, "." or ".." component, a "cur", "new" or "tmp" component, or,
 * with a separator other than '/', any '/'.  "" (the root) is valid.
 * With sep '.' the name is one directory: its dots are not checked.
 */
int	 maildir_name_check(const char *name, char sep, char **why);
/* root "/" name, checked first; malloc'd, NULL with *why on refusal. */
char	*maildir_folder_path(const char *root, const char *name, char sep,
	    char **why);
/* Create the folder's directories (0700) and cur, new, tmp. */
int	 maildir_create(const char *root, const char *name, char sep,
	    char **err);

struct maildir_folder {
	char	*name;		/* relative to the root, local separator */
	char	*visible;	/* after nametrans (NULL until set) */
	char	 fmd5[MD_FMD5_LEN + 1];
};

/*
 * The folders under root, OfflineIMAP's way: every directory holding
 * cur, new and tmp, the root itself as "" ; sep '/' descends into
 * subdirectories (not through symbolic links), any other separator looks
 * at the root's immediate subdirectories only; cur, new and tmp are never
 * folder components.  Sorted by name (bytes).  Names that fail
 * maildir_name_check() are returned in *bad (may be NULL) instead.
 */
int	 maildir_folders(const char *root, char sep,
	    struct maildir_folder **out, size_t *n, char ***bad, size_t *nbad,
	    char **err);
void	 maildir_folders_free(struct maildir_folder *, size_t);

/*
 * Apply the local nametrans (a Python expression giving a function; NULL
 * for none) to every folder, then set each FMD5.  Needs python3 when
 * nametrans is set: all names go through one python3 process.
 * OfflineIMAP's rule: a visible name equal to sep becomes "".
 */
int	 maildir_nametrans(struct maildir_folder *, size_t, const char *expr,
	    const char *pythonfile, char sep, char **err);

/* md5 hex of the visible (nametrans'd) folder name: OfflineIMAP's FMD5. */
void	 maildir_fmd5(const char *visible, size_t len,
	    char out[MD_FMD5_LEN + 1]);

/*
 * Every message file of a folder directory, new/ then cur/, dot files
 * skipped, tmp/ never read: fn(ctx, "new" or "cur", the directory's fd,
 * the file name, its length).  fn returning -1 stops the walk with -1 (fn
 * sets its own error); a directory that cannot be read gives -1 and *err.
 */
typedef int (*maildir_file_fn)(void *ctx, const char *sub, int dirfd,
    const char *name, size_t len);
int	 maildir_each_file(const char *folderdir, maildir_file_fn, void *ctx,
	    char **err);

/* The local repository of an account: [Account A] localrepository. */
struct maildir_repo {
	char	*section;	/* "Repository NAME" */
	char	*root;		/* localfolders, expanded */
	char	 sep;
	int	 winsep;	/* the account's maildir-windows-compatible */
	char	*nametrans;	/* Python expression, or NULL */
	char	*pythonfile;
};
int	 maildir_repo_load(struct maildir_repo *, struct config *,
	    const char *account, char **err);
void	 maildir_repo_free(struct maildir_repo *);

/* ---- message file names ---- */

#define MN_NOFMD5	0	/* no ",FMD5=" at all */
#define MN_OTHER	1	/* an FMD5, not this folder's */
#define MN_OURS		2	/* ",FMD5=<this folder's>" occurs */

struct maildir_name {
	uint32_t	 uid;		/* 0: none, the message is new here */
	int		 fmd5;		/* MN_* */
	int		 baduid;	/* ours, but U= is 0 or > 2^32-1 */
	const char	*flags;		/* into the name: the \w* after
					 * ":2," ("!2," in windows mode) */
	size_t		 flagslen;	/* 0 when there is no info part */
	int		 hasinfo;	/* ":2," was found */
	long long	 stamp;		/* first run of digits, -1: none */
};

/*
 * Parse a file name (no directory) by OfflineIMAP's rules: the UID counts
 * only if ",FMD5=<fmd5>" occurs somewhere in the name, and then it is the
 * first ",U=<digits>"; the flags are the word characters after the first
 * ":2," (or "!2," with winsep, and then only that).  Never fails.
 */
void	 maildir_parse_name(const char *name, size_t len, const char *fmd5,
	    int winsep, struct maildir_name *);

/*
 * A new unique name in OfflineIMAP's grammar, appended to out:
 * <time>_<n>.<pid>.<host>,U=<uid>,FMD5=<fmd5>:2,<flags sorted> with every
 * '/' replaced by '-'; n counts names made for the same time in this
 * process, from 0.
 */
int	 maildir_name_make(struct sb *out, time_t t, uint32_t uid,
	    const char *fmd5, const char *flags, int winsep);

/* The name with its info part replaced by <sep>2,<flags sorted>. */
int	 maildir_name_setflags(struct sb *out, const char *name,
	    const char *flags, int winsep);

/* ---- flags ---- */

/* Sort (ASCII) and drop duplicate letters, in place. */
void	 maildir_flags_norm(char *letters);

/* customflag_a .. customflag_z: letter <-> IMAP keyword. */
struct maildir_kwmap {
	char	*kw[26];
};
int	 maildir_kwmap_load(struct maildir_kwmap *, struct config *,
	    const char *reposection, char **err);
void	 maildir_kwmap_free(struct maildir_kwmap *);

/*
 * Maildir letters to IMAP flags (space separated, sorted by name):
 * S \Seen, R \Answered, F \Flagged, T \Deleted, D \Draft, mapped
 * lower-case letters to their keywords.  Letters without a mapping go to
 * unmapped (may be NULL), never lost silently.
 */
int	 maildir_flags_to_imap(const char *letters, const struct maildir_kwmap *,
	    struct sb *imap, struct sb *unmapped);
/* IMAP flags (space separated) to sorted letters; \Recent is ignored,
 * other flags without a letter go to unmapped (space separated). */
int	 maildir_flags_from_imap(const char *imap, const struct maildir_kwmap *,
	    struct sb *letters, struct sb *unmapped);

/* ---- delivery ---- */

struct maildir_opts {
	int	 fsync;		/* [general] fsync, default on */
	int	 winsep;	/* maildir-windows-compatible */
	int	 utime_from_header;
	int	 filename_use_mail_timestamp;
};

/*
 * Deliver one message: begin() creates tmp/<unique name> (O_EXCL), the
 * caller streams the bytes with write(), commit() makes it durable (fsync
 * when opts->fsync), applies the Date header's time if asked, and renames
 * it into cur/ when flags hold S, else new/, never over an existing file,
 * then fsyncs that directory.  *name (malloc'd) is then "cur/..." or
 * "new/...".  Any failure, and abort(), unlinks the tmp file: nothing
 * partial is ever visible in new/ or cur/.  The delivery is freed by
 * commit() and abort() whatever happens.
 *
 * Test hook: OI_TEST_MAILDIR_ENOSPC=N makes write() fail with ENOSPC once
 * a delivery holds N bytes (read by nothing but this hook).
 */
struct maildir_delivery;

int	 maildir_deliver_begin(struct maildir_delivery **, const char *folderdir,
	    const char *fmd5, uint32_t uid, const char *flags,
	    const struct maildir_opts *, char **err);
int	 maildir_deliver_write(struct maildir_delivery *, const void *, size_t,
	    char **err);
int	 maildir_deliver_commit(struct maildir_delivery *, char **name,
	    char **err);
void	 maildir_deliver_abort(struct maildir_delivery *);

/*
 * Batch delivery: many messages written to tmp/, made durable at once
 * (one syncfs() of the file system), then all renamed, then the
 * directories fsynced once.  As safe as commit() per message, far
 * cheaper.  batch_add() takes a finished delivery (write() done) instead
 * of commit(); batch_commit() reports each item through result(): 0 with
 * its name, or -1 with its error.
 */
struct maildir_batch;

struct maildir_batch *maildir_batch_new(void);
int	 maildir_batch_add(struct maildir_batch *, struct maildir_delivery *,
	    char **err);
/* 0 if every item made it; -1 if one or more failed (see result()). */
int	 maildir_batch_commit(struct maildir_batch *, char **err);
size_t	 maildir_batch_count(const struct maildir_batch *);
int	 maildir_batch_result(const struct maildir_batch *, size_t,
	    const char **name, const char **err);
void	 maildir_batch_free(struct maildir_batch *);

/*
 * Change a message's flags: rename folderdir/rel to the name with the new
 * info part, in cur/ when flags hold S, else new/ (OfflineIMAP's rule),
 * never over an existing file.  *newrel is malloc'd.
 */
int	 maildir_set_flags(const char *folderdir, const char *rel,
	    const char *flags, int winsep, char **newrel, char **err);

/*
 * Give a message a new UID: rename folderdir/rel to a new name of
 * OfflineIMAP's grammar with ,U=uid,FMD5=fmd5 and flags, in the same
 * subdirectory, never over an existing file; the directory is fsynced
 * when dofsync.  *newrel is malloc'd.
 */
int	 maildir_set_uid(const char *folderdir, const char *rel, uint32_t uid,
	    const char *fmd5, const char *flags, int winsep, int dofsync,
	    char **newrel, char **err);

/*
 * Remove what killed deliveries left in folderdir/tmp/: files of this
 * folder (its FMD5 and a UID in the name) written by a process of this
 * host that no longer runs, or older than 36 hours.  Nothing else is
 * touched.  *removed says how many went.
 */
int	 maildir_clean_tmp(const char *folderdir, const char *fmd5, int winsep,
	    size_t *removed, char **err);

/* RFC 5322 Date value to Unix time, as Python's parsedate_tz and
 * mktime_tz do; -1 if it cannot be read. */
long long maildir_parse_date(const char *, size_t);

#endif
