/* unit-config.c - the configuration reader against configparser's rules */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tap.h"

static struct config *
parse(const char *text, int *rv)
{
	struct config *c = config_new();
	FILE *fp = fmemopen((void *)text, strlen(text), "r");

	*rv = config_read_fp(c, fp, "rc");
	fclose(fp);
	return c;
}

/* The error of parsing text, or "OK". */
static char msg[1024];
static const char *
parse_error(const char *text)
{
	int rv;
	struct config *c = parse(text, &rv);

	snprintf(msg, sizeof(msg), "%s", rv == 0 ? "OK" : config_errmsg(c));
	config_free(c);
	return msg;
}

/* A value through config_value (interpolated, defaulted, typed). */
static const char *
value(struct config *c, const char *sect, const char *key)
{
	char *v = NULL;
	int rv = config_value(c, sect, key, &v);

	if (rv == 1)
		snprintf(msg, sizeof(msg), "%s", v);
	else if (rv == 0)
		snprintf(msg, sizeof(msg), "(unset)");
	else
		snprintf(msg, sizeof(msg), "ERR %s", config_errmsg(c));
	free(v);
	return msg;
}

/* config_pylist's names joined with '|', or "ERR message". */
static const char *
pylist(const char *value)
{
	char **names, *e;
	size_t n, i;

	if (config_pylist(value, &names, &n, &e) == -1) {
		snprintf(msg, sizeof(msg), "ERR %s", e ? e : "(no message)");
		free(e);
		return msg;
	}
	msg[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s%s",
		    i ? "|" : "", names[i]);
	config_free_list(names, n);
	return msg;
}

static int nerr, nwarn;
static char lasterr[1024];
static void
collect(const char *m, int is_error)
{
	if (is_error) {
		nerr++;
		snprintf(lasterr, sizeof(lasterr), "%s", m);
	} else
		nwarn++;
}

static const char rc[] =
    "# a comment\n"
    "; another\n"
    "[DEFAULT]\n"
    "base = /srv/mail\n"
    "\n"
    "[general]\n"
    "accounts = Personal, Work\n"
    "UI: basic\n"
    "pythonfile = $OI_TEST_DIR/helpers.py\n"
    "\n"
    "[Account Personal]\n"
    "localrepository = Local\n"
    "remoterepository = Remote\n"
    "autorefresh = 5 # not a comment\n"
    "\n"
    "[Account Work]\n"
    "localrepository = Local\n"
    "remoterepository = GRemote\n"
    "\n"
    "[Repository Local]\n"
    "type = Maildir\n"
    "localfolders = %(base)s/%(who)s\n"
    "who = me\n"
    "nametrans = lambda f: re.sub(\n"
    "    '^INBOX$', 'inbox',\n"
    "# a comment inside the value\n"
    "\n"
    "    f)\n"
    "\n"
    "[Repository Remote]\n"
    "type = IMAP\n"
    "remotehost = imap.example.org\n"
    "remotepass = p%%ss\n"
    "ssl = Off\n"
    "maxconnections = 1_0\n"
    "\n"
    "[Repository GRemote]\n"
    "type = Gmail\n"
    "remoteuser = u@example.org\n"
    "folderfilter = lambda f: f not in ['[Gmail]/All Mail']\n";

int
main(void)
{
	struct config *c;
	char **names, *v;
	size_t n;
	int rv, b;
	long l;

	setenv("OI_TEST_DIR", "/tmp/x", 1);
	setenv("HOME", "/home/tester", 1);
	c = parse(rc, &rv);
	ok(rv == 0, "a typical configuration parses");
	is_int(config_nsections(c), 6, "six sections ([DEFAULT] apart)");
	is_str(value(c, "general", "ui"), "basic", "\"key: value\" and "
	    "upper-case key");
	is_str(value(c, "Account Personal", "autorefresh"), "ERR rc:14: "
	    "[Account Personal] autorefresh: \"5 # not a comment\" is not a "
	    "number", "no inline comments, as configparser");
	is_str(value(c, "Repository Local", "localfolders"), "/srv/mail/me",
	    "%%(name)s from [DEFAULT] and from the section");
	is_str(value(c, "Repository Local", "nametrans"),
	    "lambda f: re.sub(\n'^INBOX$', 'inbox',\n\nf)",
	    "continuation lines, comment skipped, blank line kept");
	is_str(value(c, "Repository Remote", "remotepass"), "p%ss", "%%%% is %%");
	ok(config_raw(c, "Repository Remote", "remotepass", &v) == 1 &&
	    strcmp(v, "p%%ss") == 0, "raw value keeps %%%%");
	free(v);
	is_str(value(c, "general", "pythonfile"), "/tmp/x/helpers.py",
	    "$VAR expanded in a path");
	is_str(value(c, "general", "metadata"), "/home/tester/.offlineimap",
	    "default metadata with ~ expanded");
	is_str(value(c, "general", "maxsyncaccounts"), "1", "int default");
	is_str(value(c, "Repository Remote", "ssl"), "false", "Off is false");
	is_str(value(c, "Repository Remote", "remoteport"), "143",
	    "port 143 without ssl");
	is_str(value(c, "Repository GRemote", "remoteport"), "993",
	    "Gmail port");
	is_str(value(c, "Repository GRemote", "remotehost"), "imap.gmail.com",
	    "Gmail's own default host");
	is_str(value(c, "Repository Remote", "remotehost"), "imap.example.org",
	    "set value");
	is_str(value(c, "Repository Remote", "maxconnections"), "10",
	    "Python int with an underscore");
	is_str(value(c, "Repository Local", "utime_from_header"), "false",
	    "repository default taken from [general]");
	is_str(value(c, "Repository Local", "sep"), ".", "Maildir sep default");
	is_str(value(c, "Repository Remote", "sep"), "(unset)",
	    "no Maildir default for an IMAP repository");
	is_str(value(c, "Repository Remote", "auth_mechanisms"),
	    "GSSAPI, XOAUTH2, CRAM-MD5, PLAIN, LOGIN", "list default");
	is_str(value(c, "Repository Remote", "base"), "/srv/mail",
	    "[DEFAULT] visible in every section");
	is_str(value(c, "Account Personal", "nosuch"), "(unset)", "unset");
	ok(config_bool(c, "Repository Remote", "expunge", &b) == 1 && b == 1,
	    "bool default expunge = yes");
	ok(config_long(c, "Account Personal", "quick", &l) == 1 && l == 0,
	    "quick default 0");

	ok(config_accounts(c, NULL, &names, &n) == 0 && n == 2 &&
	    strcmp(names[0], "Personal") == 0 && strcmp(names[1], "Work") == 0,
	    "[general] accounts, spaces stripped");
	config_free_list(names, n);
	ok(config_accounts(c, " Work", &names, &n) == 0 && n == 1 &&
	    strcmp(names[0], "Work") == 0, "-a selection");
	config_free_list(names, n);
	ok(config_accounts(c, "Work,Nope", &names, &n) == -1, "unknown -a");
	is_str(config_errmsg(c), "-a: unknown account \"Nope\" (accounts "
	    "defined: Personal, Work)", "the error lists valid accounts");

	/* -k overrides */
	ok(config_override(c, "Account_Personal:autorefresh=30") == 0,
	    "-k with underscore for space");
	is_str(value(c, "Account Personal", "autorefresh"), "30", "overridden");
	ok(config_override(c, "ui=quiet") == 0, "-k default section general");
	is_str(value(c, "general", "ui"), "quiet", "general overridden");
	ok(config_override(c, "Repository_Remote:remotepass=a%b") == -1,
	    "-k lone %% refused");
	is_str(config_errmsg(c), "-k: \"Repository_Remote:remotepass=a%b\": "
	    "a % must be followed by % or (name)s", "its message");
	ok(config_override(c, "Account_Nope:quick=1") == -1, "-k missing "
	    "section refused");
	ok(config_override(c, "novalue") == -1, "-k without =");
	nerr = nwarn = 0;
	ok(config_check(c, collect) == 0, "check: the file is fine");
	is_int(nwarn, 1, "check: one warning, the unknown option 'who'");
	config_free(c);

	/* errors, each with file and line */
	is_str(parse_error("x = 1\n"), "rc:1: option outside any section "
	    "(the file must start with a section such as [general])",
	    "option before any section");
	is_str(parse_error("[general]\naccounts\n"), "rc:2: expected "
	    "\"option = value\" or \"[section]\", not \"accounts\"",
	    "line without = or :");
	is_str(parse_error("[general]\n = 1\n"), "rc:2: option name missing "
	    "before '='", "empty option name");
	is_str(parse_error("[a]\n[b]\n[a]\n"), "rc:3: section [a] already "
	    "defined at rc:1", "duplicate section");
	is_str(parse_error("[a]\nx=1\nX = 2\n"), "rc:3: option 'x' already "
	    "set in [a] at line 2", "duplicate option (case-insensitive)");
	is_str(parse_error("[a]\nx=1\n  y\n[b]\n  z = 1\n"), "OK",
	    "indented line continues; indented option after header is new");
	is_str(parse_error("[a] trailing\nx=1\n"), "OK",
	    "text after ] ignored as configparser does");
	is_str(parse_error("[general]\nx = a\0b\n"), "OK",
	    "a C string stops at NUL (the test's own limit)");

	c = parse("[a]\nx = %(y)s\ny = %(x)s\nz = 50%\nw = %(nope)s\n"
	    "q = %(y\n[general]\nfsync = maybe\n", &rv);
	ok(rv == 0, "interpolation errors appear only on use");
	is_str(value(c, "a", "x"), "ERR rc:2: [a] x: %(...)s references nested "
	    "more than 10 deep (a loop?)", "interpolation loop");
	is_str(value(c, "a", "z"), "ERR rc:4: [a] z: '%' must be followed by "
	    "'%' or '(' (write %% for a literal %)", "lone %%");
	is_str(value(c, "a", "w"), "ERR rc:5: [a] w: %(nope)s refers to an "
	    "option not set in [a] or [DEFAULT]", "missing reference");
	is_str(value(c, "a", "q"), "ERR rc:6: [a] q: bad %(name)s reference "
	    "\"%(y\"", "unclosed reference");
	is_str(value(c, "general", "fsync"), "ERR rc:8: [general] fsync: "
	    "\"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)",
	    "bad boolean");
	config_free(c);

	c = parse("[general]\naccounts = A\n[Account A]\nlocalrepository = L\n"
	    "[Repository L]\ntype = maildir\nfrobnicate = 1\n", &rv);
	nerr = nwarn = 0;
	ok(config_check(c, collect) == 2, "check finds two errors");
	is_int(nwarn, 1, "and one unknown option");
	is_str(lasterr, "rc:6: [Repository L] type: unknown repository type "
	    "\"maildir\" (IMAP, Gmail, Maildir or GmailMaildir)",
	    "repository types are case-sensitive");
	config_free(c);

	c = parse("[general]\naccounts = A, B\n[Account A]\n", &rv);
	ok(config_accounts(c, NULL, &names, &n) == -1, "account without "
	    "section");
	is_str(config_errmsg(c), "rc:2: [general] accounts: account \"B\" has "
	    "no [Account B] section (accounts defined: A)", "its message");
	config_free(c);

	ok(config_parse_bool("YES") == 1 && config_parse_bool("0") == 0 &&
	    config_parse_bool("oN") == 1 && config_parse_bool("y") == -1,
	    "booleans as configparser");
	/* config_pylist: idlefolders as a plain list literal */
	is_str(pylist("['INBOX', 'Lists/foo']"), "INBOX|Lists/foo",
	    "pylist: two names");
	is_str(pylist("[]"), "", "pylist: the empty list");
	is_str(pylist("  [ ]  "), "", "pylist: spaces around and inside");
	is_str(pylist("[\"INBOX\",\n  'Sent',\n]"), "INBOX|Sent",
	    "pylist: double quotes, newlines, a trailing comma");
	is_str(pylist("['it\\'s', \"say \\\"hi\\\"\", 'a\\\\b']"),
	    "it's|say \"hi\"|a\\b", "pylist: escaped quotes and backslash");
	is_str(pylist("['\\x47\\u00e4ste', '\\U0001F600', '\\101\\7']"),
	    "G\xc3\xa4ste|\xf0\x9f\x98\x80|A\a",
	    "pylist: \\x, \\u, \\U and octal escapes as UTF-8");
	is_str(pylist("['G\xc3\xa4ste']"), "G\xc3\xa4ste",
	    "pylist: UTF-8 as written");
	is_str(pylist("[u'a', r'b\\d', R\"c\\\"\"]"), "a|b\\d|c\\\"",
	    "pylist: u and raw prefixes (a raw backslash stays)");
	is_str(pylist("['a\\qb', 'x\\\ny']"), "a\\qb|xy",
	    "pylist: an unknown escape stays, backslash-newline goes");
	is_str(pylist("['', 'x']"), "|x", "pylist: an empty name is a name");
	is_str(pylist("['INBOX'] + ['x']"), "ERR not a list of quoted names: "
	    "text after the list at \"+ ['x']\"", "pylist: an expression");
	is_str(pylist("INBOX"), "ERR not a list of quoted names: expected '[' "
	    "at \"INBOX\"", "pylist: not a list");
	is_str(pylist("['a' 'b']"), "ERR not a list of quoted names: expected "
	    "',' or ']' at \"'b']\"", "pylist: adjacent literals");
	is_str(pylist("['a', 'b'"), "ERR not a list of quoted names: expected "
	    "',' or ']' at the end", "pylist: unclosed list");
	is_str(pylist("['a"), "ERR not a list of quoted names: unterminated "
	    "string at the end", "pylist: unterminated string");
	is_str(pylist("['a\n']"), "ERR not a list of quoted names: unterminated "
	    "string at \"?']\"", "pylist: a newline inside a string");
	is_str(pylist("['''a''']"), "ERR not a list of quoted names: a "
	    "triple-quoted string is not a plain literal at \"'''a''']\"",
	    "pylist: triple quotes");
	is_str(pylist("[b'a']"), "ERR not a list of quoted names: expected a "
	    "quoted name at \"b'a']\"", "pylist: bytes");
	is_str(pylist("[x for x in y]"), "ERR not a list of quoted names: "
	    "expected a quoted name at \"x for x in y]\"",
	    "pylist: a comprehension");
	is_str(pylist("['a\\x00']"), "ERR not a list of quoted names: a NUL "
	    "character in a name at \"\\x00']\"", "pylist: NUL refused");
	is_str(pylist("['\\ud800']"), "ERR not a list of quoted names: an "
	    "escape that is not a character at \"\\ud800']\"",
	    "pylist: a surrogate refused");
	is_str(pylist("['\\x4']"), "ERR not a list of quoted names: a "
	    "truncated \\x, \\u or \\U escape at \"\\x4']\"",
	    "pylist: a short \\x");
	is_str(pylist("['\\N{BULLET}']"), "ERR not a list of quoted names: a "
	    "\\N{...} escape is not a plain literal at \"\\N{BULLET}']\"",
	    "pylist: \\N{} left to python3");
	is_str(pylist("['a',,]"), "ERR not a list of quoted names: expected a "
	    "quoted name at \",]\"", "pylist: two commas");
	is_str(pylist("['a'\\"), "ERR not a list of quoted names: expected "
	    "',' or ']' at \"\\\"", "pylist: a stray backslash");
	return done_testing();
}
