/*
 * unit-maildir.c - lib/maildir.c: file names read and made as OfflineIMAP
 * does, FMD5, flags, folder-name safety, delivery.
 *
 * "unit-maildir fill DIR" instead delivers messages into the Maildir
 * folder DIR until the disk is full (t/0300 runs it on a small tmpfs).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "util.h"
#include "tap.h"

#define INBOX5	"7e33429f656f1e6e9d79b29c3f82c57e"

static int
parse(const char *name, const char *fmd5, int win, struct maildir_name *m)
{
	maildir_parse_name(name, strlen(name), fmd5, win, m);
	return 0;
}

static char *
flagstr(const struct maildir_name *m)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%.*s", (int)m->flagslen, m->flags);
	return buf;
}

static int
count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
fill(const char *dir)
{
	struct maildir_opts o = { 1, 0, 0, 0 };
	char buf[4096];
	int n = 0;

	memset(buf, 'x', sizeof(buf));
	for (;;) {
		struct maildir_delivery *d;
		char *e, *name;
		int i, bad = 0;

		if (maildir_deliver_begin(&d, dir, INBOX5, (uint32_t)n + 1,
		    n % 2 ? "S" : "", &o, &e) == -1) {
			printf("begin failed: %s\n", e);
			free(e);
			break;
		}
		for (i = 0; i < 16 && !bad; i++)
			if (maildir_deliver_write(d, buf, sizeof(buf), &e) == -1) {
				printf("write failed: %s\n", e);
				free(e);
				bad = 1;
			}
		if (bad) {
			maildir_deliver_abort(d);
			break;
		}
		if (maildir_deliver_commit(d, &name, &e) == -1) {
			printf("commit failed: %s\n", e);
			free(e);
			break;
		}
		free(name);
		n++;
	}
	printf("delivered %d\n", n);
	return n > 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct maildir_name m;
	struct maildir_kwmap km = { { 0 } };
	struct sb s = { 0 }, u = { 0 };
	char f[MD_FMD5_LEN + 1], *why, tmpl[] = "/tmp/unit-maildir.XXXXXX";

	if (argc == 3 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2]);

	/* FMD5 values verified against OfflineIMAP */
	maildir_fmd5("INBOX", 5, f);
	is_str(f, INBOX5, "FMD5 of INBOX");
	maildir_fmd5("Work.Sub", 8, f);
	ok(strncmp(f, "0dba4f18", 8) == 0, "FMD5 of Work.Sub (sep .)");
	maildir_fmd5("Work/Sub", 8, f);
	ok(strncmp(f, "347b2eb3", 8) == 0, "FMD5 of Work/Sub (sep /)");
	maildir_fmd5("", 0, f);
	is_str(f, "d41d8cd98f00b204e9800998ecf8427e", "FMD5 of the root");

	/* names */
	parse("1795694197_0.10663.vm,U=6,FMD5=" INBOX5 ":2,RS", INBOX5, 0, &m);
	ok(m.uid == 6 && m.fmd5 == MN_OURS, "our name: UID 6");
	is_str(flagstr(&m), "RS", "our name: flags");
	is_int(m.stamp, 1795694197, "our name: timestamp");
	parse("1795694197_0.10663.vm,U=6,FMD5=0dba4f187373845e56c7ccad9b9ce18a:2,S",
	    INBOX5, 0, &m);
	ok(m.uid == 0 && m.fmd5 == MN_OTHER, "another folder's FMD5: new");
	parse("1700000000.M1P2.host,U=77:2,S", INBOX5, 0, &m);
	ok(m.uid == 0 && m.fmd5 == MN_NOFMD5, "mbsync ,U= without FMD5: new");
	is_str(flagstr(&m), "S", "mbsync name: flags");
	parse("1700000000.M20P3.host,S=1234,W=1260:2,FS", INBOX5, 0, &m);
	ok(m.uid == 0 && m.hasinfo, "Dovecot name: new, with info");
	is_str(flagstr(&m), "FS", "Dovecot name: flags");
	parse("12345.abc.host", INBOX5, 0, &m);
	ok(m.uid == 0 && !m.hasinfo && m.flagslen == 0, "no info part");
	parse("1_0.1.h,U=9,FMD5=" INBOX5 "!2,DS", INBOX5, 1, &m);
	ok(m.uid == 9, "windows name: UID");
	is_str(flagstr(&m), "DS", "windows name: flags after !2,");
	parse("1_0.1.h,U=9,FMD5=" INBOX5 ":2,DS", INBOX5, 1, &m);
	ok(m.uid == 9 && m.flagslen == 0, "windows mode ignores :2,");
	parse("1_0.1.h,FMD5=" INBOX5 ",U=x,U=12:2,S", INBOX5, 0, &m);
	ok(m.uid == 12, "first ,U= with digits counts, FMD5 anywhere");
	parse("1_0.1.h,U=5,FMD5=" INBOX5 "junk:2,S", INBOX5, 0, &m);
	ok(m.uid == 5, "FMD5 is a substring match, as in OfflineIMAP");
	parse("1_0.1.h,U=0,FMD5=" INBOX5 ":2,S", INBOX5, 0, &m);
	ok(m.uid == 0 && m.baduid, "U=0 is not a UID");
	parse("1_0.1.h,U=99999999999,FMD5=" INBOX5 ":2,S", INBOX5, 0, &m);
	ok(m.uid == 0 && m.baduid, "U= beyond 32 bits is not a UID");
	parse("1_0.1.h,U=3,FMD5=" INBOX5 ":2,Sa-b:2,T", INBOX5, 0, &m);
	is_str(flagstr(&m), "Sa", "flags are the word characters after the first :2,");
	parse("x,U=3,FMD5=" INBOX5 ":2,", INBOX5, 0, &m);
	ok(m.stamp == 3 && m.uid == 3, "timestamp is the first run of digits");
	parse("", INBOX5, 0, &m);
	ok(m.uid == 0 && m.stamp == -1, "empty name");

	/* generation */
	ok(maildir_name_make(&s, 1000, 7, INBOX5, "SRa", 0) == 0, "make a name");
	{
		char want[512], host[256];

		gethostname(host, sizeof(host));
		host[255] = 0;
		snprintf(want, sizeof(want), "1000_0.%ld.%s,U=7,FMD5=%s:2,RSa",
		    (long)getpid(), host, INBOX5);
		for (char *p = want; *p; p++)
			if (*p == '/')
				*p = '-';
		is_str(s.s, want, "name grammar, flags sorted");
	}
	sb_reset(&s);
	maildir_name_make(&s, 1000, 7, INBOX5, "", 0);
	ok(strncmp(s.s, "1000_1.", 7) == 0, "same time: counter 1");
	sb_reset(&s);
	maildir_name_make(&s, 1001, 7, INBOX5, "", 0);
	ok(strncmp(s.s, "1001_0.", 7) == 0, "new time: counter from 0");
	sb_reset(&s);
	maildir_name_make(&s, 1000, 7, INBOX5, "", 0);
	ok(strncmp(s.s, "1000_2.", 7) == 0, "counter per distinct time");
	parse(s.s, INBOX5, 0, &m);
	ok(m.uid == 7 && m.hasinfo && m.flagslen == 0, "made name parses back");
	sb_reset(&s);
	maildir_name_make(&s, 5, 1, INBOX5, "S", 1);
	ok(strstr(s.s, "!2,S") != NULL, "windows name uses !2,");
	sb_reset(&s);
	maildir_name_setflags(&s, "1_0.1.h,U=3,FMD5=x:2,S", "TSa", 0);
	is_str(s.s, "1_0.1.h,U=3,FMD5=x:2,STa", "set flags replaces the info");
	sb_reset(&s);
	maildir_name_setflags(&s, "12345.abc.host", "S", 0);
	is_str(s.s, "12345.abc.host:2,S", "set flags adds an info part");

	/* flags */
	km.kw[0] = "$Label1";
	km.kw[1] = "Work";
	sb_reset(&s);
	maildir_flags_to_imap("SRFTDabP", &km, &s, &u);
	is_str(s.s, "$Label1 Work \\Answered \\Deleted \\Draft \\Flagged \\Seen",
	    "letters to IMAP, sorted by name");
	is_str(u.s, "P", "unmapped letters kept aside");
	sb_reset(&s);
	sb_reset(&u);
	maildir_flags_from_imap("\\Seen \\Recent \\flagged $Label1 Work Other",
	    &km, &s, &u);
	is_str(s.s, "FSab", "IMAP to letters, keywords too");
	is_str(u.s, "Other", "unknown keywords kept aside");
	{
		char l[] = "TSaSR";

		maildir_flags_norm(l);
		is_str(l, "RSTa", "flags sorted once each");
	}

	/* safety */
	ok(maildir_name_check("", '.', &why) == 0, "root is a folder");
	ok(maildir_name_check("Work.Sub", '.', &why) == 0, "Work.Sub with sep .");
	ok(maildir_name_check("Work/Sub", '/', &why) == 0, "Work/Sub with sep /");
	{
		int r = maildir_name_check("../x", '.', &why);

		ok(r == -1 && why && strstr(why, "\"../x\""),
		    "../x refused (sep .), named: %s", why ? why : "");
		free(why);
		r = maildir_name_check("../x", '/', &why);
		ok(r == -1, "../x refused (sep /): %s", why ? why : "");
		free(why);
	}
	ok(maildir_name_check("a/../../x", '/', &why) == -1, "inner .. refused");
	free(why);
	ok(maildir_name_check("/etc", '/', &why) == -1, "absolute refused");
	free(why);
	ok(maildir_name_check("a//b", '/', &why) == -1, "empty component refused");
	free(why);
	ok(maildir_name_check("a/./b", '/', &why) == -1, ". component refused");
	free(why);
	ok(maildir_name_check("a/", '/', &why) == -1, "trailing / refused");
	free(why);
	ok(maildir_name_check("a\nb", '/', &why) == -1, "control character refused");
	free(why);
	ok(maildir_name_check("Work/Sub", '.', &why) == -1,
	    "embedded / refused with sep .");
	free(why);
	ok(maildir_name_check("a/cur", '/', &why) == -1, "cur component refused");
	free(why);
	ok(maildir_name_check("..", '.', &why) == -1, ".. refused (sep .)");
	free(why);
	ok(maildir_folder_path("/r", "../x", '/', &why) == NULL,
	    "no path for ../x");
	free(why);

	/* dates */
	is_int(maildir_parse_date("Tue, 1 Jul 2003 10:52:37 +0200", 30),
	    1057049557, "Date with zone");
	is_int(maildir_parse_date("1 Jul 2003 08:52:37 GMT", 23), 1057049557,
	    "Date without day name, GMT");
	is_int(maildir_parse_date("garbage", 7), -1, "bad Date");

	/* delivery */
	if (mkdtemp(tmpl) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	ok(maildir_create(tmpl, "INBOX", '.', &why) == 0, "create a folder");
	{
		struct maildir_opts o = { 1, 0, 1, 1 };
		struct maildir_delivery *d;
		char *dir, *name, *e;
		const char msg[] = "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
		    "Subject: x\n\nbody\n";
		struct stat st;

		if (asprintf(&dir, "%s/INBOX", tmpl) == -1)
			return 1;
		ok(maildir_deliver_begin(&d, dir, INBOX5, 42, "SF", &o, &e) == 0,
		    "begin");
		ok(maildir_deliver_write(d, msg, 20, &e) == 0 &&
		    maildir_deliver_write(d, msg + 20, sizeof(msg) - 21, &e) == 0,
		    "write in pieces");
		ok(maildir_deliver_commit(d, &name, &e) == 0, "commit");
		ok(strncmp(name, "cur/1057049557_0.", 17) == 0,
		    "S goes to cur/, name time from Date: %s", name);
		{
			char *p;

			if (asprintf(&p, "%s/%s", dir, name) == -1)
				return 1;
			ok(stat(p, &st) == 0 && st.st_mtime == 1057049557 &&
			    st.st_size == (off_t)sizeof(msg) - 1,
			    "mtime from Date, whole content");
			free(p);
		}
		parse(strchr(name, '/') + 1, INBOX5, 0, &m);
		ok(m.uid == 42, "delivered name carries the UID");
		{
			char *nr;

			int r = maildir_set_flags(dir, name, "R", 0, &nr, &e);

			ok(r == 0 && strncmp(nr, "new/", 4) == 0 &&
			    strstr(nr, ":2,R"), "losing S moves to new/: %s",
			    nr ? nr : "");
			free(nr);
		}
		free(name);
		o.utime_from_header = o.filename_use_mail_timestamp = 0;
		setenv("OI_TEST_MAILDIR_ENOSPC", "10", 1);
		ok(maildir_deliver_begin(&d, dir, INBOX5, 43, "", &o, &e) == 0,
		    "begin (disk to be full)");
		{
			int r = maildir_deliver_write(d, msg, sizeof(msg) - 1,
			    &e);

			ok(r == -1 && e && strstr(e, "No space"),
			    "ENOSPC reported: %s", e ? e : "");
		}
		free(e);
		ok(maildir_deliver_commit(d, &name, &e) == -1, "commit refused");
		free(e);
		unsetenv("OI_TEST_MAILDIR_ENOSPC");
		{
			char *p;

			if (asprintf(&p, "%s/tmp", dir) == -1)
				return 1;
			is_int(count(p), 0, "nothing left in tmp/");
			free(p);
			if (asprintf(&p, "%s/new", dir) == -1)
				return 1;
			is_int(count(p), 1, "new/ holds only the earlier message");
			free(p);
		}
		/* a batch */
		{
			struct maildir_batch *b = maildir_batch_new();
			const char *bn, *be;
			int i, good = 1;

			o.fsync = 1;
			for (i = 0; i < 20; i++) {
				if (maildir_deliver_begin(&d, dir, INBOX5,
				    (uint32_t)100 + i, i % 2 ? "S" : "", &o, &e)
				    == -1 || maildir_deliver_write(d, msg,
				    sizeof(msg) - 1, &e) == -1 ||
				    maildir_batch_add(b, d, &e) == -1)
					good = 0;
			}
			ok(good, "20 messages into a batch");
			ok(maildir_batch_commit(b, &e) == 0, "batch commit");
			is_int(maildir_batch_count(b), 20, "batch count");
			ok(maildir_batch_result(b, 3, &bn, &be) == 0 &&
			    strncmp(bn, "cur/", 4) == 0, "batch item 3 in cur/");
			maildir_batch_free(b);
		}
		{
			char *p;

			if (asprintf(&p, "%s/cur", dir) == -1)
				return 1;
			is_int(count(p), 10, "cur/ holds the batch's seen half");
			free(p);
		}
		free(dir);
	}
	{
		struct maildir_folder *fv;
		size_t n;
		char *e;

		maildir_create(tmpl, "A.B", '.', &why);
		ok(maildir_folders(tmpl, '.', &fv, &n, NULL, NULL, &e) == 0 &&
		    n == 2 && strcmp(fv[0].name, "A.B") == 0 &&
		    strcmp(fv[1].name, "INBOX") == 0, "folders found, sorted");
		ok(maildir_nametrans(fv, n, NULL, NULL, '.', &e) == 0 &&
		    strcmp(fv[1].fmd5, INBOX5) == 0, "FMD5 without nametrans");
		if (system("command -v python3 >/dev/null") == 0) {
			ok(maildir_nametrans(fv, n, "lambda f: 'X' + f", NULL, '.',
			    &e) == 0 && strcmp(fv[1].visible, "XINBOX") == 0,
			    "nametrans through python3");
			maildir_fmd5("XINBOX", 6, f);
			is_str(fv[1].fmd5, f, "FMD5 after nametrans");
		}
		maildir_folders_free(fv, n);
	}
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			ok(0, "cleanup");
	}
	sb_free(&s);
	sb_free(&u);
	return done_testing();
}
