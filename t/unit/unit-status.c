/* unit-status.c - the status cache in OfflineIMAP's files */
#include <sys/stat.h>

#include <fcntl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "status.h"
#include "tap.h"

static char dir[256];
static struct sb_rows {
	char	 text[4096];
} rows;

static int
collect(void *ctx, uint32_t uid, const char *flags, long long mtime,
    const char *labels)
{
	size_t n = strlen(rows.text);

	(void)ctx;
	snprintf(rows.text + n, sizeof(rows.text) - n, "%u:%s:%lld:%s;", uid,
	    flags, mtime, labels);
	return 0;
}

static const char *
all_rows(struct status *st)
{
	rows.text[0] = '\0';
	if (status_foreach(st, collect, NULL) == -1)
		return status_error(st);
	return rows.text;
}

static void
sql(const char *path, const char *q)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
		printf("# sql failed: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
}

static char schema_text[1024];
static const char *
schema_of(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	schema_text[0] = '\0';
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return "";
	sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = "
	    "'table' ORDER BY name", -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		size_t n = strlen(schema_text);

		snprintf(schema_text + n, sizeof(schema_text) - n, "%s;\n",
		    sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return schema_text;
}

int
main(void)
{
	struct status *st;
	char *p, *err, *v, path[512], meta[300];
	struct stat sb;
	uint32_t uv;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/unit-status.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(meta, sizeof(meta), "%s/meta", dir);

	p = status_basename("");
	is_str(p, ".", "basename of the root folder");
	free(p);
	p = status_basename("Work/Sub");
	is_str(p, "Work.Sub", "'/' becomes '.'");
	free(p);
	p = status_basename(".");
	is_str(p, "dot", "\".\" becomes dot");
	free(p);
	p = status_basename("[Gmail]/Sent Mail");
	is_str(p, "[Gmail].Sent Mail", "no other escaping");
	free(p);
	p = status_path("/m", "Personal", "INBOX");
	is_str(p, "/m/Account-Personal/LocalStatus-sqlite/INBOX", "the path");
	free(p);

	snprintf(path, sizeof(path), "%s/Account-A/LocalStatus-sqlite/INBOX",
	    meta);
	ok(status_open(&st, path, ST_READONLY, &err) == 0, "a missing file "
	    "opens read-only");
	ok(status_is_new(st) && status_count(st) == 0, "as a new, empty status");
	ok(access(path, F_OK) == -1, "and nothing is written");
	status_close(st);

	/* a database file without tables (a writer killed before its first
	 * commit): new, not corrupt, and made whole by a writer */
	{
		char tl[600];

		mkdir(meta, 0700);
		snprintf(tl, sizeof(tl), "%s/Account-A", meta);
		mkdir(tl, 0700);
		strcat(tl, "/LocalStatus-sqlite");
		mkdir(tl, 0700);
		strcat(tl, "/Bare");
		sql(tl, "PRAGMA user_version = 1;");
		ok(stat(tl, &sb) == 0 && sb.st_size > 0, "a database without "
		    "tables");
		ok(status_open(&st, tl, ST_READONLY, &err) == 0 &&
		    status_is_new(st) && status_count(st) == 0,
		    "reads as a new, empty status");
		status_close(st);
		ok(status_open(&st, tl, ST_CREATE, &err) == 0 &&
		    status_begin(st) == 0 && status_put(st, 1, "S") == 0 &&
		    status_commit(st) == 0, "gets its schema from a writer");
		status_close(st);
		ok(status_open(&st, tl, ST_READONLY, &err) == 0 &&
		    status_count(st) == 1, "and is then an OfflineIMAP status");
		status_close(st);
	}

	ok(status_open(&st, path, ST_CREATE, &err) == 0, "created");
	ok(stat(path, &sb) == 0, "the file exists");
	path[strlen(path) - 6] = '\0';
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0700,
	    "its directory is 0700");
	strcat(path, "/INBOX");
	ok(status_begin(st) == 0 && status_put(st, 7, "S") == 0 &&
	    status_put(st, 3, "FRS") == 0 && status_put(st, 12, "") == 0 &&
	    status_put(st, 7, "RS") == 0 && status_delete(st, 12) == 0 &&
	    status_commit(st) == 0, "a batch of writes");
	is_str(all_rows(st), "3:FRS:0:;7:RS:0:;", "rows in UID order");
	ok(status_get(st, 7, &v) == 1 && strcmp(v, "RS") == 0, "one row");
	free(v);
	ok(status_get(st, 8, &v) == 0, "an absent row");
	ok(status_set_meta(st, "uidvalidity", "1795") == 0 &&
	    status_get_meta(st, "uidvalidity", &v) == 1 &&
	    strcmp(v, "1795") == 0, "an extra metadata key");
	free(v);
	ok(status_set_meta(st, "db_version", "3") == -1, "db_version is "
	    "OfflineIMAP's");
	ok(status_put(st, 0, "S") == -1, "UID 0 refused");
	status_close(st);
	is_str(schema_of(path), "CREATE TABLE metadata (key VARCHAR(50) "
	    "PRIMARY KEY, value VARCHAR(128));\nCREATE TABLE status (id INTEGER "
	    "PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels "
	    "VARCHAR(256));\n", "OfflineIMAP's schema, exactly");

	ok(status_open(&st, path, ST_READONLY, &err) == 0 &&
	    !status_is_new(st), "reopened read-only");
	is_str(all_rows(st), "3:FRS:0:;7:RS:0:;", "same rows");
	ok(status_begin(st) == -1, "no writes read-only");
	status_close(st);

	/* version 1 */
	snprintf(path, sizeof(path), "%s/v1", dir);
	sql(path, "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value "
	    "VARCHAR(128)); INSERT INTO metadata VALUES('db_version', '1'); "
	    "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50)); "
	    "INSERT INTO status VALUES(5, 'S'), (2, 'F');");
	ok(status_open(&st, path, ST_READONLY, &err) == 0, "v1 read-only");
	is_str(all_rows(st), "2:F:0:;5:S:0:;", "v1 rows");
	status_close(st);
	ok(status_open(&st, path, 0, &err) == 0, "v1 opened to write");
	ok(status_get_meta(st, "db_version", &v) == 1 && strcmp(v, "2") == 0,
	    "upgraded to db_version 2");
	free(v);
	is_str(all_rows(st), "2:F:0:;5:S:0:;", "rows kept, mtime 0");
	status_close(st);

	/* legacy plain text, imported when no database exists */
	snprintf(path, sizeof(path), "%s/Account-L/LocalStatus", meta);
	mkdir(meta, 0700);
	snprintf(path, sizeof(path), "%s/Account-L", meta);
	mkdir(path, 0700);
	strcat(path, "/LocalStatus");
	mkdir(path, 0700);
	strcat(path, "/Work.Sub");
	fp = fopen(path, "w");
	fputs("OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n"
	    "4|S|0|\n9|FS|0|\n1||0|\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/Account-L/LocalStatus-sqlite/Work.Sub",
	    meta);
	ok(status_open(&st, path, ST_READONLY, &err) == 0, "legacy read-only");
	ok(!status_is_new(st), "not new");
	is_str(all_rows(st), "1::0:;4:S:0:;9:FS:0:;", "legacy rows");
	status_close(st);
	ok(access(path, F_OK) == -1, "nothing written read-only");
	ok(status_open(&st, path, ST_CREATE, &err) == 0, "legacy imported");
	is_str(all_rows(st), "1::0:;4:S:0:;9:FS:0:;", "into the database");
	status_close(st);

	snprintf(path, sizeof(path), "%s/Account-L/LocalStatus/Old", meta);
	fp = fopen(path, "w");
	fputs("OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 1\n"
	    "6:RS\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/Account-L/LocalStatus-sqlite/Old",
	    meta);
	ok(status_open(&st, path, ST_READONLY, &err) == 0, "FORMAT 1");
	is_str(all_rows(st), "6:RS:0:;", "FORMAT 1 rows");
	status_close(st);

	snprintf(path, sizeof(path), "%s/Account-L/LocalStatus/Bad", meta);
	fp = fopen(path, "w");
	fputs("OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n"
	    "x|S|0|\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/Account-L/LocalStatus-sqlite/Bad",
	    meta);
	ok(status_open(&st, path, ST_READONLY, &err) == -1 &&
	    strstr(err, "LocalStatus/Bad:2: malformed line") != NULL,
	    "a bad legacy line is an error with file and line");
	free(err);

	/* never a silent fresh start */
	snprintf(path, sizeof(path), "%s/garbage", dir);
	fp = fopen(path, "w");
	fputs("this is not a database, but it holds something\n", fp);
	fclose(fp);
	ok(status_open(&st, path, 0, &err) == -1, "garbage refused");
	ok(err && strstr(err, path) && strstr(err, "not an OfflineIMAP status "
	    "database"), "the error names the file");
	free(err);
	snprintf(path, sizeof(path), "%s/other", dir);
	sql(path, "CREATE TABLE x (y);");
	ok(status_open(&st, path, 0, &err) == -1 && strstr(err,
	    "not an OfflineIMAP status database"), "another database refused");
	free(err);

	/* the folders "J" and "J-journal": SQLite names J's journal
	 * J-journal, the other folder's status file */
	{
		char j[600], jj[620];
		int fd;

		snprintf(j, sizeof(j), "%s/Account-A/LocalStatus-sqlite/J",
		    meta);
		snprintf(jj, sizeof(jj), "%s-journal", j);
		ok(status_open(&st, jj, ST_CREATE, &err) == 0 &&
		    status_begin(st) == 0 && status_put(st, 7, "S") == 0 &&
		    status_commit(st) == 0, "the status of \"J-journal\"");
		status_close(st);
		ok(status_open(&st, j, ST_READONLY, &err) == -1 && err &&
		    strstr(err, "J-journal is a status database"),
		    "J's status is not opened, even to read");
		free(err);
		ok(status_open(&st, j, ST_CREATE, &err) == -1,
		    "nor to write");
		free(err);
		ok(status_open(&st, jj, ST_READONLY, &err) == 0 &&
		    status_count(st) == 1, "J-journal's status is intact");
		status_close(st);
		/* a journal as SQLite leaves it (zeros, say) is no database */
		unlink(jj);
		fd = open(jj, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ok(fd != -1 && write(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
		    "\0\0\0\0\0\0", 20) == 20, "a zeroed journal");
		if (fd != -1)
			close(fd);
		ok(status_open(&st, j, ST_CREATE, &err) == 0, "does not stop J");
		status_close(st);
	}

	/* FolderValidity */
	ok(validity_read(meta, "Remote", "Work/Sub", &uv, &err) == 0,
	    "no validity yet");
	ok(validity_write(meta, "Remote", "Work/Sub", 1795694196, 1, &err) == 0,
	    "validity written");
	snprintf(path, sizeof(path), "%s/Repository-Remote/FolderValidity/"
	    "Work.Sub", meta);
	fp = fopen(path, "r");
	ok(fp && fgets(schema_text, sizeof(schema_text), fp) &&
	    strcmp(schema_text, "1795694196\n") == 0, "as OfflineIMAP writes it");
	if (fp)
		fclose(fp);
	ok(validity_read(meta, "Remote", "Work/Sub", &uv, &err) == 1 &&
	    uv == 1795694196, "and read back");

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return done_testing();
}
