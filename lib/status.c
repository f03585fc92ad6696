/* status.c - OfflineIMAP's status cache: SQLite, legacy text, validity */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "status.h"
#include "util.h"

struct status {
	sqlite3		*db;
	char		*path;
	int		 readonly;
	int		 memory;	/* a missing file opened read-only */
	int		 isnew;
	sqlite3_stmt	*put, *del, *get;
	struct sb	 err;
};

static int
hot_journal(const char *path)
{
	char *j;
	int rv;

	if (asprintf(&j, "%s-journal", path) == -1)
		return 0;
	rv = access(j, F_OK) == 0 && access(path, W_OK) == 0;
	free(j);
	return rv;
}

/*
 * SQLite keeps a database's rollback journal beside it as NAME-journal,
 * which is also the status file of a folder called "NAME-journal".
 * Opened, SQLite would take that folder's database for a hot journal and
 * delete it (and a commit would write over it).  1 if path-journal is a
 * SQLite database, which no journal is (a journal starts with its own
 * magic number, or zeros); -1 out of memory.
 */
static int
journal_is_database(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char *j, buf[sizeof(magic)];
	int fd, rv = 0;

	if (asprintf(&j, "%s-journal", path) == -1)
		return -1;
	if ((fd = open(j, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) !=
	    -1) {
		rv = read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) &&
		    memcmp(buf, magic, sizeof(buf)) == 0;
		close(fd);
	}
	free(j);
	return rv;
}

/* 1 if the database holds no table at all (a read error says 0: the
 * schema check that follows reports it). */
static int
no_tables(struct status *st)
{
	sqlite3_stmt *q;
	int n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master",
	    -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n == 0;
}

/* one transaction: a crash leaves no half-made schema */
static const char schema[] =
    "BEGIN;\n"
    "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, "
    "value VARCHAR(128));\n"
    "INSERT INTO metadata VALUES('db_version', '2');\n"
    "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), "
    "mtime INTEGER, labels VARCHAR(256));\n"
    "COMMIT;\n";

static int
sfail(struct status *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
sfail(struct status *st, const char *fmt, ...)
{
	va_list ap;

	sb_reset(&st->err);
	sb_printf(&st->err, "%s: ", st->path);
	va_start(ap, fmt);
	sb_vprintf(&st->err, fmt, ap);
	va_end(ap);
	return -1;
}

static int
dbfail(struct status *st, const char *what)
{
	return sfail(st, "%s: %s", what, sqlite3_errmsg(st->db));
}

const char *
status_error(const struct status *st)
{
	return st->err.len ? st->err.s : "no error";
}

char *
status_basename(const char *name)
{
	char *b, *p;

	if (*name == '\0')
		return strdup(".");
	if ((b = strdup(name)) == NULL)
		return NULL;
	for (p = b; *p; p++)
		if (*p == '/')
			*p = '.';
	if (strcmp(b, ".") == 0) {
		free(b);
		return strdup("dot");
	}
	return b;
}

char *
status_path(const char *metadata, const char *account, const char *folder)
{
	char *base = status_basename(folder), *p;

	if (base == NULL)
		return NULL;
	if (asprintf(&p, "%s/Account-%s/LocalStatus-sqlite/%s", metadata,
	    account, base) == -1)
		p = NULL;
	free(base);
	return p;
}

/* mkdir -p, each new directory 0700 as OfflineIMAP makes them */
static int
mkdirs(const char *dir)
{
	char *d = strdup(dir), *p;
	int rv = 0;

	if (d == NULL)
		return -1;
	for (p = d + 1; rv == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(d, 0700) == -1 && errno != EEXIST)
			rv = -1;
		*p = c;
		if (c == '\0')
			break;
	}
	free(d);
	return rv;
}

static char *
dirname_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? strndup(path, (size_t)(s - path)) : strdup(".");
}

/* The legacy LocalStatus/<name> beside LocalStatus-sqlite/<name>. */
static char *
legacy_path(const char *path)
{
	const char *s = strrchr(path, '/'), *d;
	char *p;

	if (s == NULL || s - path < 19)
		return NULL;
	d = s - 19;
	if (strncmp(d, "/LocalStatus-sqlite", 19) != 0)
		return NULL;
	if (asprintf(&p, "%.*s/LocalStatus%s", (int)(d - path), path, s) == -1)
		return NULL;
	return p;
}

/* Statements for writes are made on the first write: a version-1
 * database read as it is has no columns for them. */
static int
prepare_writes(struct status *st)
{
	if (st->put)
		return 0;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO status (id, flags, mtime, "
	    "labels) VALUES (?, ?, 0, '') ON CONFLICT(id) DO UPDATE SET "
	    "flags = excluded.flags", -1, &st->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "DELETE FROM status WHERE id = ?", -1,
	    &st->del, NULL) != SQLITE_OK)
		return dbfail(st, "prepare");
	return 0;
}

static int
prepare(struct status *st)
{
	if (sqlite3_prepare_v2(st->db, "SELECT flags FROM status WHERE id = ?",
	    -1, &st->get, NULL) != SQLITE_OK)
		return dbfail(st, "prepare");
	return 0;
}

/* Rows of a legacy plain-text status, FORMAT 1 or 2. */
static int
import_legacy(struct status *st, const char *lpath)
{
	FILE *fp = fopen(lpath, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 1;
	int format, rv = -1;

	if (fp == NULL)
		return sfail(st, "%s: %s", lpath, strerror(errno));
	if ((n = getline(&line, &cap, fp)) == -1) {
		sfail(st, "%s: empty legacy status file", lpath);
		goto out;
	}
	if (strncmp(line, "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY "
	    "- FORMAT ", 59) != 0 || (format = atoi(line + 59)) < 1 ||
	    format > 2) {
		sfail(st, "%s:1: not an OfflineIMAP LocalStatus file", lpath);
		goto out;
	}
	if (status_begin(st) == -1)
		goto out;
	while ((n = getline(&line, &cap, fp)) != -1) {
		char *end, *flags, *sep;
		unsigned long uid;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		sep = strchr(line, format == 1 ? ':' : '|');
		errno = 0;
		uid = strtoul(line, &end, 10);
		if (sep == NULL || end != sep || uid == 0 || uid > UINT32_MAX ||
		    errno) {
			status_rollback(st);
			sfail(st, "%s:%lu: malformed line", lpath, lineno);
			goto out;
		}
		flags = sep + 1;
		if (format == 2 && (sep = strchr(flags, '|')) != NULL)
			*sep = '\0';	/* mtime and labels: Gmail only */
		if (status_put(st, (uint32_t)uid, flags) == -1) {
			status_rollback(st);
			goto out;
		}
	}
	if (ferror(fp)) {
		status_rollback(st);
		sfail(st, "%s: %s", lpath, strerror(errno));
		goto out;
	}
	rv = status_commit(st);
out:
	free(line);
	fclose(fp);
	return rv;
}

static int
check_schema(struct status *st)
{
	sqlite3_stmt *s;
	int rc, version = 0;

	rc = sqlite3_prepare_v2(st->db, "SELECT value FROM metadata WHERE key "
	    "= 'db_version'", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sfail(st, "not an OfflineIMAP status database (%s); "
		    "move it away to start this folder afresh",
		    sqlite3_errmsg(st->db));
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbfail(st, "reading db_version");
	if (version == 1) {
		/* OfflineIMAP's own upgrade */
		if (st->readonly)
			return 0;	/* read as it is: mtime/labels absent */
		if (sqlite3_exec(st->db, "BEGIN; ALTER TABLE status ADD mtime "
		    "INTEGER DEFAULT 0; ALTER TABLE status ADD labels "
		    "VARCHAR(256) DEFAULT ''; UPDATE metadata SET value='2' "
		    "WHERE key='db_version'; COMMIT;", NULL, NULL, NULL) !=
		    SQLITE_OK) {
			dbfail(st, "upgrading to db_version 2");
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		return 0;
	}
	if (version != 2)
		return sfail(st, "unknown status db_version %d", version);
	return 0;
}

int
status_open(struct status **out, const char *path, int flags, char **err)
{
	struct status *st;
	struct stat sb;
	char *lpath = NULL;
	int exists, legacy = 0, oflags;

	*out = NULL;
	*err = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		*err = strdup("out of memory");
		return -1;
	}
	st->readonly = (flags & ST_READONLY) != 0;
	switch (journal_is_database(path)) {
	case -1:
		sfail(st, "out of memory");
		goto fail;
	case 1:
		sfail(st, "%s-journal is a status database (of the folder "
		    "named so, it seems), not a journal: SQLite would take it "
		    "for this one's journal and delete it; not opened (rename "
		    "one of the two folders)", path);
		goto fail;
	}
	exists = stat(path, &sb) == 0;
	if (!exists && errno != ENOENT) {
		sfail(st, "%s", strerror(errno));
		goto fail;
	}
	/* an empty file is what a crash right after creation leaves */
	if (exists && sb.st_size == 0 && !st->readonly) {
		if (unlink(path) == -1) {
			sfail(st, "%s", strerror(errno));
			goto fail;
		}
		exists = 0;
	} else if (exists && sb.st_size == 0)
		exists = 0;
	if (!exists) {
		lpath = legacy_path(path);
		legacy = lpath && access(lpath, F_OK) == 0;
		st->isnew = !legacy;
	}
	if (!exists && st->readonly) {
		st->memory = 1;
		if (sqlite3_open(":memory:", &st->db) != SQLITE_OK) {
			sfail(st, "cannot open an in-memory database");
			goto fail;
		}
	} else {
		if (!exists) {
			char *dir = dirname_of(path);

			if (dir == NULL || mkdirs(dir) == -1) {
				sfail(st, "cannot create its directory: %s",
				    strerror(errno));
				free(dir);
				goto fail;
			}
			free(dir);
		}
		oflags = st->readonly ? SQLITE_OPEN_READONLY :
		    SQLITE_OPEN_READWRITE | (flags & ST_CREATE ?
		    SQLITE_OPEN_CREATE : 0);
		/* a writer killed mid-transaction leaves a hot journal that
		 * only a read-write connection may roll back; reading is all
		 * this one does afterwards */
		if (st->readonly && exists && hot_journal(path))
			oflags = SQLITE_OPEN_READWRITE;
		if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
			if (st->db)
				dbfail(st, "open");
			else
				sfail(st, "cannot open");
			goto fail;
		}
	}
	sqlite3_busy_timeout(st->db, 10000);
	/* a database without a single table is what a writer killed
	 * before its first commit leaves (its journal rolled back): no
	 * data of anyone's, so it is new, not corrupt */
	if (exists && !st->memory && no_tables(st)) {
		exists = 0;
		lpath = legacy_path(path);
		legacy = lpath && access(lpath, F_OK) == 0;
		st->isnew = !legacy;
		if (st->readonly) {
			sqlite3_close(st->db);
			st->db = NULL;
			st->memory = 1;
			if (sqlite3_open(":memory:", &st->db) != SQLITE_OK) {
				sfail(st, "cannot open an in-memory database");
				goto fail;
			}
		}
	}
	if (!exists) {
		if (sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
			dbfail(st, "creating the schema");
			goto fail;
		}
	} else if (check_schema(st) == -1)
		goto fail;
	if (prepare(st) == -1)
		goto fail;
	if (legacy && import_legacy(st, lpath) == -1)
		goto fail;
	free(lpath);
	*out = st;
	return 0;
fail:
	*err = strdup(status_error(st));
	free(lpath);
	status_close(st);
	return -1;
}

void
status_close(struct status *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(st->put);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->get);
	if (st->db)
		sqlite3_close(st->db);
	sb_free(&st->err);
	free(st->path);
	free(st);
}

int
status_is_new(const struct status *st)
{
	return st->isnew;
}

long long
status_count(struct status *st)
{
	sqlite3_stmt *s;
	long long n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM status", -1, &s,
	    NULL) != SQLITE_OK)
		return dbfail(st, "count");
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	else
		dbfail(st, "count");
	sqlite3_finalize(s);
	return n;
}

int
status_get_meta(struct status *st, const char *key, char **value)
{
	sqlite3_stmt *s;
	int rc;

	*value = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM metadata WHERE key "
	    "= ?", -1, &s, NULL) != SQLITE_OK)
		return dbfail(st, "metadata");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		*value = strdup(v ? (const char *)v : "");
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return *value ? 1 : sfail(st, "out of memory");
	return rc == SQLITE_DONE ? 0 : dbfail(st, "metadata");
}

int
status_set_meta(struct status *st, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rc;

	if (strcmp(key, "db_version") == 0)
		return sfail(st, "db_version is OfflineIMAP's");
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO metadata "
	    "(key, value) VALUES (?, ?)", -1, &s, NULL) != SQLITE_OK)
		return dbfail(st, "metadata");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "metadata");
}

int
status_del_meta(struct status *st, const char *key)
{
	sqlite3_stmt *s;
	int rc;

	if (strcmp(key, "db_version") == 0)
		return sfail(st, "db_version is OfflineIMAP's");
	if (sqlite3_prepare_v2(st->db, "DELETE FROM metadata WHERE key = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return dbfail(st, "metadata");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "metadata");
}

int
status_meta_prefix(struct status *st, const char *prefix,
    int (*fn)(void *, const char *, const char *), void *ctx)
{
	sqlite3_stmt *s;
	size_t plen = strlen(prefix);
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT key, value FROM metadata "
	    "ORDER BY key", -1, &s, NULL) != SQLITE_OK)
		return dbfail(st, "metadata");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);

		if (k == NULL || strncmp(k, prefix, plen) != 0)
			continue;
		if (fn(ctx, k, v ? v : "") == -1) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "metadata");
}

int
status_foreach(struct status *st, status_row_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int rc, v2;

	/* a version-1 database opened read-only has no mtime/labels */
	v2 = sqlite3_prepare_v2(st->db, "SELECT id, flags, mtime, labels FROM "
	    "status ORDER BY id", -1, &s, NULL) == SQLITE_OK;
	if (!v2 && sqlite3_prepare_v2(st->db, "SELECT id, flags FROM status "
	    "ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return dbfail(st, "reading the status");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(s, 0);
		const unsigned char *f = sqlite3_column_text(s, 1);
		const unsigned char *l = v2 ? sqlite3_column_text(s, 3) : NULL;

		if (id <= 0 || id > UINT32_MAX)
			continue;	/* OfflineIMAP never stores those */
		if (fn(ctx, (uint32_t)id, f ? (const char *)f : "",
		    v2 ? sqlite3_column_int64(s, 2) : 0,
		    l ? (const char *)l : "") == -1) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "reading the status");
}

int
status_get(struct status *st, uint32_t uid, char **flags)
{
	int rc;

	*flags = NULL;
	sqlite3_reset(st->get);
	sqlite3_bind_int64(st->get, 1, uid);
	rc = sqlite3_step(st->get);
	if (rc == SQLITE_ROW) {
		const unsigned char *f = sqlite3_column_text(st->get, 0);

		*flags = strdup(f ? (const char *)f : "");
		sqlite3_reset(st->get);
		return *flags ? 1 : sfail(st, "out of memory");
	}
	sqlite3_reset(st->get);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "reading the status");
}

int
status_begin(struct status *st)
{
	if (st->readonly && !st->memory)
		return sfail(st, "opened read-only");
	return sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : dbfail(st, "BEGIN");
}

int
status_commit(struct status *st)
{
	return sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : dbfail(st, "COMMIT");
}

int
status_rollback(struct status *st)
{
	return sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : dbfail(st, "ROLLBACK");
}

int
status_put(struct status *st, uint32_t uid, const char *flags)
{
	int rc;

	if (uid == 0)
		return sfail(st, "UID 0 cannot be stored");
	if (prepare_writes(st) == -1)
		return -1;
	sqlite3_reset(st->put);
	sqlite3_bind_int64(st->put, 1, uid);
	sqlite3_bind_text(st->put, 2, flags, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->put);
	sqlite3_reset(st->put);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "writing the status");
}

int
status_delete(struct status *st, uint32_t uid)
{
	int rc;

	if (prepare_writes(st) == -1)
		return -1;
	sqlite3_reset(st->del);
	sqlite3_bind_int64(st->del, 1, uid);
	rc = sqlite3_step(st->del);
	sqlite3_reset(st->del);
	return rc == SQLITE_DONE ? 0 : dbfail(st, "writing the status");
}

static char *
validity_path(const char *metadata, const char *repo, const char *folder)
{
	char *base = status_basename(folder), *p;

	if (base == NULL)
		return NULL;
	if (asprintf(&p, "%s/Repository-%s/FolderValidity/%s", metadata, repo,
	    base) == -1)
		p = NULL;
	free(base);
	return p;
}

int
validity_read(const char *metadata, const char *repo, const char *folder,
    uint32_t *v, char **err)
{
	char *path = validity_path(metadata, repo, folder), buf[32], *end;
	unsigned long n;
	ssize_t len;
	int fd;

	*err = NULL;
	if (path == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	if ((fd = open(path, O_RDONLY)) == -1) {
		if (errno == ENOENT) {
			free(path);
			return 0;
		}
		if (asprintf(err, "%s: %s", path, strerror(errno)) == -1)
			*err = NULL;
		free(path);
		return -1;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		len = 0;
	buf[len] = '\0';
	errno = 0;
	n = strtoul(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || errno ||
	    n > UINT32_MAX) {
		if (asprintf(err, "%s: not a UIDVALIDITY", path) == -1)
			*err = NULL;
		free(path);
		return -1;
	}
	free(path);
	*v = (uint32_t)n;
	return 1;
}

int
validity_write(const char *metadata, const char *repo, const char *folder,
    uint32_t v, int dofsync, char **err)
{
	char *path = validity_path(metadata, repo, folder), *tmp = NULL;
	char *dir = NULL;
	int fd = -1, rv = -1;
	char num[16];
	int n = snprintf(num, sizeof(num), "%" PRIu32 "\n", v);

	*err = NULL;
	if (path == NULL || asprintf(&tmp, "%s.tmp", path) == -1) {
		*err = strdup("out of memory");
		free(path);
		return -1;
	}
	if ((dir = dirname_of(path)) == NULL || mkdirs(dir) == -1)
		goto syserr;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666))
	    == -1 || write(fd, num, (size_t)n) != n ||
	    (dofsync && fsync(fd) == -1))
		goto syserr;
	if (close(fd) == -1) {
		fd = -1;
		goto syserr;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto syserr;
	rv = 0;
	goto out;
syserr:
	if (asprintf(err, "%s: %s", path, strerror(errno)) == -1)
		*err = NULL;
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(dir);
	free(tmp);
	free(path);
	return rv;
}
