/*
 * status.h - the status cache: what both sides agreed on after the last
 * sync, in OfflineIMAP's own files so that either program can use them:
 * <metadata>/Account-A/LocalStatus-sqlite/<folder>, one SQLite database per
 * folder (tables metadata and status, db_version 2), the legacy plain-text
 * LocalStatus/<folder> (imported when no database exists), and
 * Repository-R/FolderValidity/<folder>.
 */
#ifndef OI_STATUS_H
#define OI_STATUS_H

#include <stdint.h>

#define ST_READONLY	0x01	/* never write: a missing file is empty */
#define ST_CREATE	0x02	/* create the file and its directories */

struct status;

/* A folder's file name as OfflineIMAP forms it: "" is ".", every '/'
 * becomes '.', and a name that is then "." is "dot". */
char	*status_basename(const char *name);
/* <metadata>/Account-<account>/LocalStatus-sqlite/<basename(folder)>,
 * where folder is the remote visible name with its separator as '.'. */
char	*status_path(const char *metadata, const char *account,
	    const char *folder);

/*
 * Open a folder's status.  Without a database but with a legacy
 * LocalStatus file, its rows are imported (into memory with ST_READONLY,
 * into the new database with ST_CREATE).  A file that is not an
 * OfflineIMAP status database is an error naming it, never a fresh start.
 */
int	 status_open(struct status **, const char *path, int flags,
	    char **err);
void	 status_close(struct status *);
const char *status_error(const struct status *);
/* 1 when the status came from nothing (no file, no legacy file). */
int	 status_is_new(const struct status *);
/* Rows in the status. */
long long status_count(struct status *);

/* Extra keys in the metadata table (OfflineIMAP reads only db_version):
 * 1 found (*value malloc'd), 0 not set, -1 error. */
int	 status_get_meta(struct status *, const char *key, char **value);
int	 status_set_meta(struct status *, const char *key, const char *value);
int	 status_del_meta(struct status *, const char *key);
/* Every key starting with prefix, in key order; fn returning -1 stops. */
int	 status_meta_prefix(struct status *, const char *prefix,
	    int (*fn)(void *ctx, const char *key, const char *value), void *ctx);

/* Every row in ascending UID order; fn returning -1 stops with -1. */
typedef int (*status_row_fn)(void *ctx, uint32_t uid, const char *flags,
    long long mtime, const char *labels);
int	 status_foreach(struct status *, status_row_fn, void *ctx);
/* One row: 1 found, 0 absent, -1 error; *flags malloc'd. */
int	 status_get(struct status *, uint32_t uid, char **flags);

/* Writes, batched between begin and commit. */
int	 status_begin(struct status *);
int	 status_commit(struct status *);
int	 status_rollback(struct status *);
int	 status_put(struct status *, uint32_t uid, const char *flags);
int	 status_delete(struct status *, uint32_t uid);

/* Repository-<repo>/FolderValidity/<basename(folder)>: 1 with *v, 0 when
 * missing, -1 with *err. */
int	 validity_read(const char *metadata, const char *repo,
	    const char *folder, uint32_t *v, char **err);
int	 validity_write(const char *metadata, const char *repo,
	    const char *folder, uint32_t v, int dofsync, char **err);

#endif
