/*
 * unit-imap-parse.c - the IMAP response parser on canned server output:
 * every response shape, read whole, a byte at a time and split at every
 * offset; streamed literals; the errors and their messages; the helpers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap-parse.h"
#include "util.h"
#include "tap.h"

#define S(lit) lit, sizeof(lit) - 1

/* An in-memory source. */
struct src {
	const char	*data;
	size_t		 len, off;
	size_t		 chunk;		/* most bytes per read, 0: any */
	size_t		 split;		/* the first read stops here, 0: no */
	int		 fail;		/* -1 with EIO once the data is out */
};

static ssize_t
src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	size_t k = s->len - s->off;

	if (k == 0 && s->fail) {
		errno = EIO;
		return -1;
	}
	if (k > n)
		k = n;
	if (s->chunk && k > s->chunk)
		k = s->chunk;
	if (s->split && s->off < s->split && k > s->split - s->off)
		k = s->split - s->off;
	memcpy(buf, s->data + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

/* Values and responses as text, for comparing. */
static void
dump_bytes(struct sb *b, const char *s, size_t n)
{
	size_t i;

	sb_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sb_printf(b, "\\x%02x", c);
		else
			sb_addc(b, c);
	}
	sb_addc(b, '"');
}

static void
dump_val(struct sb *b, const struct ival *v)
{
	size_t i;

	switch (v->kind) {
	case IV_ATOM:
		sb_add(b, v->s, v->len);
		break;
	case IV_STRING:
		dump_bytes(b, v->s, v->len);
		break;
	case IV_NIL:
		sb_adds(b, "NIL");
		break;
	case IV_LIST:
		sb_addc(b, '(');
		for (i = 0; i < v->n; i++) {
			if (i)
				sb_addc(b, ' ');
			dump_val(b, &v->items[i]);
		}
		sb_addc(b, ')');
		break;
	case IV_STREAMED:
		sb_printf(b, "<streamed %zu>", v->len);
		break;
	}
}

static const char *status_names[] = { "", "OK", "NO", "BAD", "BYE",
    "PREAUTH" };

static void
dump_resp(struct sb *b, const struct iresp *r)
{
	size_t i;

	switch (r->kind) {
	case IR_CONTINUE:
		sb_adds(b, "+ ");
		dump_bytes(b, r->text, strlen(r->text));
		return;
	case IR_TAGGED:
		sb_adds(b, r->tag);
		break;
	case IR_UNTAGGED:
		sb_addc(b, '*');
		break;
	}
	if (r->has_number)
		sb_printf(b, " %u", r->number);
	sb_printf(b, " %s", r->name);
	if (r->status != IS_NONE) {
		if (strcmp(r->name, status_names[r->status]) != 0)
			sb_adds(b, " NAME-MISMATCH");
		if (r->code) {
			sb_printf(b, " [%s", r->code);
			for (i = 0; i < r->code_args.n; i++) {
				sb_addc(b, ' ');
				dump_val(b, &r->code_args.items[i]);
			}
			sb_addc(b, ']');
		}
		sb_addc(b, ' ');
		dump_bytes(b, r->text, strlen(r->text));
		if (r->args.n)
			sb_adds(b, " ARGS!");
		return;
	}
	if (r->code || r->text == NULL || r->text[0])
		sb_adds(b, " CODE-OR-TEXT!");
	for (i = 0; i < r->args.n; i++) {
		sb_addc(b, ' ');
		dump_val(b, &r->args.items[i]);
	}
}

/* A sink that writes each literal into the dump as {msgno item uid
 * total:"bytes"}, whatever the pieces. */
struct rec {
	struct sb	*out;
	int		 open;
	size_t		 calls;
	uint64_t	 got;
	int		 abort_at;	/* fail on this call, 0: never */
};

static int
rec_sink(void *ctx, uint32_t msgno, const char *item, uint32_t uid,
    uint64_t total, const char *data, size_t n, int final)
{
	struct rec *k = ctx;

	k->calls++;
	if (k->abort_at && k->calls == (size_t)k->abort_at)
		return -1;
	if (!k->open) {
		sb_printf(k->out, "{%u %s %u %llu:", msgno, item, uid,
		    (unsigned long long)total);
		k->open = 1;
		k->got = 0;
	}
	if (data == NULL)
		sb_adds(k->out, "NULL-DATA!");
	sb_add(k->out, data, n);
	k->got += n;
	if (final) {
		if (k->got != total)
			sb_adds(k->out, " SHORT!");
		sb_adds(k->out, "}");
		k->open = 0;
	}
	return 0;
}

/*
 * Parse everything; the responses one per line, then "EOF" or the error.
 * With a sink, literals show up in the dump where they end.
 */
static char *
parse(const char *data, size_t len, size_t chunk, size_t split, int sink)
{
	struct src s = { data, len, 0, chunk, split, 0 };
	struct imap_parser *p = imap_parser_new(src_read, &s);
	struct sb b = { 0 };
	struct rec k = { &b, 0, 0, 0, 0 };
	struct iresp *r;
	int rv;

	if (sink)
		imap_parser_set_sink(p, rec_sink, &k);
	while ((rv = imap_parser_next(p, &r)) == 1) {
		dump_resp(&b, r);
		sb_addc(&b, '\n');
	}
	if (rv == 0)
		sb_adds(&b, "EOF");
	else
		sb_printf(&b, "ERR %s", imap_parser_error(p));
	if (imap_parser_next(p, &r) != rv)
		sb_adds(&b, " NOT-STICKY!");
	imap_parser_free(p);
	return b.s;
}

/* The parse of data read whole, a byte at a time and (if splits) split
 * at every offset must be want. */
static void
check(const char *data, size_t len, int sink, int splits, const char *want,
    const char *what)
{
	char *got;
	size_t k;
	int bad = 0;

	got = parse(data, len, 0, 0, sink);
	is_str(got, want, "%s", what);
	free(got);
	got = parse(data, len, 1, 0, sink);
	if (strcmp(got, want) != 0) {
		printf("# 1-byte reads: %s\n", got);
		bad++;
	}
	free(got);
	for (k = 1; splits && k < len; k++) {
		got = parse(data, len, 0, k, sink);
		if (strcmp(got, want) != 0 && bad++ < 3)
			printf("# split at %zu: %s\n", k, got);
		free(got);
	}
	ok(bad == 0, "%s: the same read %s", what, splits ? "a byte at a time "
	    "and split at every offset" : "a byte at a time");
}

#define CHECK(in, want, what) check(S(in), 0, 1, want "\nEOF", what)
#define ERR(in, want, what) check(S(in), 0, 1, "ERR " want, what)

static void
shapes(void)
{
	/* greetings and status responses with codes */
	CHECK("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
	    "IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n",
	    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
	    "IDLE LITERAL+ AUTH=PLAIN] \"Dovecot ready.\"", "greeting");
	CHECK("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as joe\r\n",
	    "* PREAUTH [CAPABILITY IMAP4rev1] \"Logged in as joe\"",
	    "PREAUTH");
	CHECK("* OK [UIDNEXT 5] Predicted next UID\r\n"
	    "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
	    "* OK [UIDNEXT 5] \"Predicted next UID\"\n"
	    "* OK [UIDVALIDITY 3857529045] \"UIDs valid\"", "UIDNEXT");
	CHECK("* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Limited\r\n",
	    "* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] \"Limited\"",
	    "PERMANENTFLAGS");
	CHECK("a2 OK [APPENDUID 38505 3955] APPEND completed\r\n",
	    "a2 OK [APPENDUID 38505 3955] \"APPEND completed\"", "APPENDUID");
	CHECK("a3 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
	    "a3 OK [COPYUID 38505 304,319:320 3956:3958] \"Done\"", "COPYUID");
	CHECK("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
	    "* OK [HIGHESTMODSEQ 715194045007] \"Highest\"", "HIGHESTMODSEQ");
	CHECK("* OK [NOMODSEQ] Sorry, no modseqs\r\n",
	    "* OK [NOMODSEQ] \"Sorry, no modseqs\"", "NOMODSEQ");
	CHECK("* OK [CLOSED] Previous mailbox closed.\r\n",
	    "* OK [CLOSED] \"Previous mailbox closed.\"", "CLOSED");
	CHECK("a4 NO [ALREADYEXISTS] Mailbox already exists\r\n",
	    "a4 NO [ALREADYEXISTS] \"Mailbox already exists\"",
	    "ALREADYEXISTS");
	CHECK("* OK [ALERT] System shutdown in 10 minutes\r\n",
	    "* OK [ALERT] \"System shutdown in 10 minutes\"", "ALERT");
	CHECK("* NO [X-WEIRD some \"free] text] and more\r\n",
	    "* NO [X-WEIRD \"some \\\"free\"] \"text] and more\"",
	    "code with free text");
	CHECK("a7 NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset\r\n",
	    "a7 NO [BADCHARSET (UTF-8 US-ASCII)] \"Unknown charset\"",
	    "code with a list");
	CHECK("a8 ok [read-write] Select completed.\r\n",
	    "a8 OK [READ-WRITE] \"Select completed.\"",
	    "status and code upper-cased");
	CHECK("* BYE Logging out\r\na5 BAD Error in IMAP command\r\na6 OK\r\n"
	    "a9 NO [TRYCREATE]\r\n",
	    "* BYE \"Logging out\"\na5 BAD \"Error in IMAP command\"\n"
	    "a6 OK \"\"\na9 NO [TRYCREATE] \"\"", "BYE, BAD, no text");
	CHECK("* OK [CAPABILITY IMAP4rev1 ] x\r\n",
	    "* OK [CAPABILITY IMAP4rev1] \"x\"", "space before ']'");

	/* untagged data */
	CHECK("* 23 EXISTS\r\n* 0 RECENT\r\n* 3 EXPUNGE\r\n* 4 exists\r\n",
	    "* 23 EXISTS\n* 0 RECENT\n* 3 EXPUNGE\n* 4 EXISTS", "numbers");
	CHECK("* 4294967295 EXISTS\r\n", "* 4294967295 EXISTS",
	    "largest message number");
	CHECK("* 5 FETCH (UID 9 FLAGS (\\Seen $Label) RFC822.SIZE 1234 "
	    "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (12345))\r\n",
	    "* 5 FETCH (UID 9 FLAGS (\\Seen $Label) RFC822.SIZE 1234 "
	    "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (12345))",
	    "FETCH listing");
	CHECK("* 6 FETCH (FLAGS ())\r\n", "* 6 FETCH (FLAGS ())",
	    "empty list");
	CHECK("* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n",
	    "* CAPABILITY IMAP4rev1 IDLE UIDPLUS", "CAPABILITY");
	CHECK("* LIST (\\HasNoChildren) \"/\" \"My Folder\"\r\n"
	    "* LIST (\\Noselect \\HasChildren) \"/\" [Gmail]/Spam\r\n"
	    "* LSUB () \"/\" foo]bar\r\n"
	    "* LIST () NIL INBOX\r\n",
	    "* LIST (\\HasNoChildren) \"/\" \"My Folder\"\n"
	    "* LIST (\\Noselect \\HasChildren) \"/\" [Gmail]/Spam\n"
	    "* LSUB () \"/\" foo]bar\n"
	    "* LIST () NIL INBOX", "LIST");
	CHECK("* LIST () \".\" {5}\r\nG&AOQ\r\n* LIST () \"/\" {3}\r\na\0b\r\n",
	    "* LIST () \".\" \"G&AOQ\"\n* LIST () \"/\" \"a\\x00b\"",
	    "LIST with a literal name");
	CHECK("* LIST (\\Marked) \"/\" {4}\r\nWork ((\"CHILDINFO\" "
	    "(\"SUBSCRIBED\")))\r\n",
	    "* LIST (\\Marked) \"/\" \"Work\" ((\"CHILDINFO\" "
	    "(\"SUBSCRIBED\")))", "literal then more values");
	CHECK("* LIST () \"/\" \"a \\\"b\\\" \\\\c\"\r\n",
	    "* LIST () \"/\" \"a \\\"b\\\" \\\\c\"", "quoted escapes");
	CHECK("* LIST () \"/\" \"Gäste\"\r\n", "* LIST () \"/\" "
	    "\"G\\xc3\\xa4ste\"", "UTF-8 in a quoted string");
	CHECK("* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1 "
	    "HIGHESTMODSEQ 5)\r\n",
	    "* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1 "
	    "HIGHESTMODSEQ 5)", "STATUS");
	CHECK("* ESEARCH (TAG \"a1\") UID ALL 1:3,5\r\n",
	    "* ESEARCH (TAG \"a1\") UID ALL 1:3,5", "ESEARCH");
	CHECK("* SEARCH 1 2 3\r\n* SEARCH\r\n* SEARCH \r\n",
	    "* SEARCH 1 2 3\n* SEARCH\n* SEARCH", "SEARCH");
	CHECK("* VANISHED (EARLIER) 300:310,405\r\n",
	    "* VANISHED (EARLIER) 300:310,405", "VANISHED");
	CHECK("* ENABLED CONDSTORE QRESYNC\r\n",
	    "* ENABLED CONDSTORE QRESYNC", "ENABLED");
	CHECK("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
	    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", "FLAGS");
	CHECK("* ID (\"name\" \"Dovecot\")\r\n* ID NIL\r\n",
	    "* ID (\"name\" \"Dovecot\")\n* ID NIL", "ID");
	CHECK("* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))\r\n",
	    "* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))",
	    "NAMESPACE");
	CHECK("+ Ready for literal data\r\n+\r\n+ dGVzdA==\r\n",
	    "+ \"Ready for literal data\"\n+ \"\"\n+ \"dGVzdA==\"",
	    "continuation");

	/* FETCH item names with sections are one atom */
	CHECK("* 1 FETCH (UID 7 BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]<0> "
	    "NIL BODY[1.2.MIME] NIL)\r\n",
	    "* 1 FETCH (UID 7 BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]<0> "
	    "NIL BODY[1.2.MIME] NIL)", "section atoms");
	CHECK("* 1 FETCH (BODY[HEADER.FIELDS (\"X-A]\")] NIL)\r\n",
	    "* 1 FETCH (BODY[HEADER.FIELDS (\"X-A]\")] NIL)",
	    "']' quoted inside a section");
	CHECK("* 2 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 3028 92))\r\n",
	    "* 2 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 3028 92))", "BODYSTRUCTURE");
	CHECK("* 3 FETCH (ENVELOPE (\"Mon, 7 Feb 1994\" {5}\r\nhe\"lo NIL "
	    "NIL) UID 4)\r\n",
	    "* 3 FETCH (ENVELOPE (\"Mon, 7 Feb 1994\" \"he\\\"lo\" NIL NIL) "
	    "UID 4)", "literal in ENVELOPE stays in memory");
	CHECK("* 1 FETCH (BODY[] {5}\r\nhello UID 9)\r\n"
	    "* 2 FETCH (body[text] ~{3}\r\nabc)\r\n"
	    "* 3 FETCH (RFC822 {1}\r\nx RFC822.HEADER {1}\r\ny RFC822.TEXT "
	    "{0}\r\n BINARY[1] ~{2}\r\n\0\1)\r\n"
	    "* 4 FETCH (BODY[] \"abc\")\r\n",
	    "* 1 FETCH (BODY[] <streamed 5> UID 9)\n"
	    "* 2 FETCH (body[text] <streamed 3>)\n"
	    "* 3 FETCH (RFC822 <streamed 1> RFC822.HEADER <streamed 1> "
	    "RFC822.TEXT <streamed 0> BINARY[1] <streamed 2>)\n"
	    "* 4 FETCH (BODY[] <streamed 3>)", "message data without a sink");
	CHECK("* 1 FETCH (\"BODY[]\" {1}\r\nx)\r\n",
	    "* 1 FETCH (\"BODY[]\" \"x\")", "a quoted item name is no item");
	CHECK("* 1 FOO (BODY[] {3}\r\nabc)\r\n* LIST () \"/\" ~{2}\r\nab\r\n",
	    "* 1 FOO (BODY[] \"abc\")\n* LIST () \"/\" \"ab\"",
	    "literals outside FETCH stay in memory");
	CHECK("* 2 EXISTS\n* OK [UNSEEN 2] done\n",
	    "* 2 EXISTS\n* OK [UNSEEN 2] \"done\"", "bare LF line ends");
	CHECK("\r\n\r\n* 1 EXISTS\r\n\n", "* 1 EXISTS", "empty lines skipped");
	check(S(""), 0, 1, "EOF", "empty stream");
	CHECK("* OK \t tab\r\n", "* OK \"\\x09 tab\"", "TAB in text");
	CHECK("* LIST () \"/\" ~foo\r\n", "* LIST () \"/\" ~foo",
	    "an atom starting with '~'");
	CHECK("* 1 FETCH (BODY[HEADER.FIELDS (\"a\\\"]b\")] NIL)\r\n",
	    "* 1 FETCH (BODY[HEADER.FIELDS (\"a\\\"]b\")] NIL)",
	    "escaped quote inside a section");
	CHECK("* OK [X (a)b] t\r\n* OK [Y \"a\"b] t\r\n",
	    "* OK [X \"(a)b\"] \"t\"\n* OK [Y \"\\\"a\\\"b\"] \"t\"",
	    "code arguments that are not values");
	CHECK("* OK [X {3}] t\r\n* OK [BADURL ] t\r\n",
	    "* OK [X \"{3}\"] \"t\"\n* OK [BADURL] \"t\"",
	    "no literal in a code");
	ERR("* 5\r\n", "malformed response: expected ' ' after \"* 5\" at end "
	    "of line", "a number alone");
}

static void
nesting(void)
{
	char in[512], want[512];
	size_t i, n;
	char *got;

	n = (size_t)snprintf(in, sizeof(in), "* X ");
	for (i = 0; i < 100; i++)
		in[n++] = '(';
	for (i = 0; i < 100; i++)
		in[n++] = ')';
	memcpy(in + n, "\r\n", 3);
	memcpy(want, in, n);
	memcpy(want + n, "\nEOF", 5);
	got = parse(in, n + 2, 0, 0, 0);
	is_str(got, want, "lists nested 100 deep");
	free(got);

	n = (size_t)snprintf(in, sizeof(in), "* X ");
	for (i = 0; i < 101; i++)
		in[n++] = '(';
	for (i = 0; i < 101; i++)
		in[n++] = ')';
	memcpy(in + n, "\r\n", 3);
	got = parse(in, n + 2, 0, 0, 0);
	is_str(got, "ERR malformed response: lists nested more than 100 deep "
	    "after \"...((((((((((((((((((((((((((((((((((((((((\" at "
	    "\"()))))))))))))))))))...\"", "lists nested 101 deep");
	free(got);
}

static void
errors(void)
{
	ERR("* FLAGS (\\Seen \\Answered\r\n",
	    "malformed response: expected ')' after \"* FLAGS (\\Seen "
	    "\\Answered\" at end of line", "unbalanced list");
	ERR("* FLAGS (\\Seen))\r\n",
	    "malformed response: expected ' ' or end of line after \"* FLAGS "
	    "(\\Seen)\" at \")\"", "one ')' too many");
	ERR("* LIST () \"/\" \"abc\"def\r\n",
	    "malformed response: expected ' ' or end of line after \"* LIST "
	    "() \"/\" \"abc\"\" at \"def\"", "garbage after a quoted string");
	ERR("* STATUS x (MESSAGES \"3\"x)\r\n",
	    "malformed response: expected ' ' or ')' after \"* STATUS x "
	    "(MESSAGES \"3\"\" at \"x)\"", "garbage after a quoted string in "
	    "a list");
	ERR("* LIST () \"/\" \"a\0b\"\r\n",
	    "malformed response: NUL byte in a quoted string after \"* LIST "
	    "() \"/\" \"a\" at \"\\x00b\"\"", "NUL in a quoted string");
	ERR("* LIST () \"/\" \"abc\r\n",
	    "malformed response: unterminated quoted string after \"* LIST () "
	    "\"/\" \"abc\" at end of line", "unterminated quoted string");
	ERR("* LIST () \"/\" \"a\\qb\"\r\n",
	    "malformed response: bad escape in a quoted string after \"* LIST "
	    "() \"/\" \"a\" at \"\\qb\"\"", "bad escape");
	ERR("* CAPABILITY IMAP4\1rev1\r\n",
	    "malformed response: control byte in an atom after \"* CAPABILITY "
	    "IMAP4\" at \"\\x01rev1\"", "control byte in an atom");
	ERR("* SEARCH 1\r2\r\n",
	    "malformed response: control byte in an atom after \"* SEARCH 1\" "
	    "at \"\\x0d2\"", "bare CR");
	ERR("* 1 FETCH (BODY[HEADER\r\n",
	    "malformed response: expected ']' after \"* 1 FETCH (BODY[HEADER\" "
	    "at end of line", "unterminated section");
	ERR("*\r\n", "malformed response: expected ' ' after \"*\" at end of "
	    "line", "lone '*'");
	ERR("* \r\n", "malformed response: expected a keyword after \"* \" at "
	    "end of line", "no keyword");
	ERR("* FLAGS(\\Seen)\r\n", "malformed response: expected ' ' after "
	    "\"* FLAGS\" at \"(\\Seen)\"", "keyword without a space");
	ERR("* 4294967296 EXISTS\r\n", "malformed response: expected a message "
	    "number after \"* \" at \"4294967296 EXISTS\"",
	    "message number out of range");
	ERR("a1 FOO bar\r\n", "malformed response: expected OK, NO, BAD, BYE "
	    "or PREAUTH after \"a1 \" at \"FOO bar\"", "tagged non-status");
	ERR("(a1 OK\r\n", "malformed response: expected a tag, '*' or '+' at "
	    "\"(a1 OK\"", "no tag");
	ERR("a1\r\n", "malformed response: expected ' ' after \"a1\" at end "
	    "of line", "tag alone");
	ERR("* OK [ALERT foo\r\n", "malformed response: unterminated response "
	    "code after \"* OK [ALERT foo\" at end of line",
	    "unterminated response code");
	ERR("* OK []\r\n", "malformed response: expected a response code "
	    "after \"* OK [\" at \"]\"", "empty response code");
	ERR("a1 OK x\0y\r\n", "malformed response: NUL byte in text after "
	    "\"a1 OK x\" at \"\\x00y\"", "NUL in text");
	ERR("* LIST () \"/\" {3+}\r\nabc\r\n", "malformed response: "
	    "non-synchronizing literal in a response after \"* LIST () \"/\" "
	    "{3\" at \"+}\"", "non-synchronizing literal");
	ERR("* LIST () \"/\" {3} x\r\nabc\r\n", "malformed response: expected "
	    "end of line after a literal size after \"* LIST () \"/\" {3}\" at "
	    "\" x\"", "text after a literal size");
	ERR("* LIST () \"/\" {}\r\n", "malformed response: expected a literal "
	    "size after \"* LIST () \"/\" {\" at \"}\"", "no literal size");
	ERR("* 1 FETCH (BODY[] {99999999999999999999}\r\n", "malformed "
	    "response: literal size out of range after \"* 1 FETCH (BODY[] {\" "
	    "at \"99999999999999999999...\"", "literal size beyond 64 bits");
	ERR("* LIST () \"/\" {4294967296}\r\n", "literal of 4294967296 bytes "
	    "is too large", "literal too large for memory");
	ERR("* LIST () \"/\" {1048577}\r\n", "literal of 1048577 bytes is too "
	    "large", "literal just over the limit");
	ERR("* 1 FETCH (UID 1", "connection closed in the middle of a "
	    "response", "end of stream in a line");
	check(S("* OK\r\n* 1 FETCH (BODY[] {10}\r\nabc"), 0, 1, "* OK \"\"\n"
	    "ERR connection closed in the middle of a response",
	    "end of stream in a streamed literal");
	ERR("* 1 FETCH (BODY[] {18446744073709551615}\r\nabc", "connection "
	    "closed in the middle of a response", "largest literal, short");
	ERR("* LIST () \"/\" {10}\r\nabc", "connection closed in the middle of "
	    "a response", "end of stream in a literal");
	ERR("* LIST () \"/\" {3}\r\nabc", "connection closed in the middle of "
	    "a response", "end of stream after a literal");
	ERR("* 1 FETCH (BODY[] {3}\r\nabc", "connection closed in the middle "
	    "of a response", "end of stream after a streamed literal");

	ERR("* LIST () \"/\" \"a\rb\"\r\n", "malformed response: CR in a "
	    "quoted string after \"* LIST () \"/\" \"a\" at \"\\x0db\"\"",
	    "CR in a quoted string");
	ERR("a1 OK x\ry\r\n", "malformed response: CR in text after \"a1 OK "
	    "x\" at \"\\x0dy\"", "CR in text");
	ERR("* 1 FETCH (BODY[HEADER\1] NIL)\r\n", "malformed response: "
	    "control byte in an atom after \"* 1 FETCH (BODY[HEADER\" at "
	    "\"\\x01] NIL)\"", "control byte in a section");
	ERR("* X ( a)\r\n", "malformed response: expected a value after "
	    "\"* X (\" at \" a)\"", "space after '('");
	ERR("* OK [ALERT\r\n", "malformed response: unterminated response "
	    "code after \"* OK [ALERT\" at end of line", "code name alone");
	ERR("* OK [ALERT(x)] y\r\n", "malformed response: expected ' ' or ']' "
	    "after \"* OK [ALERT\" at \"(x)] y\"", "code name and '('");
	ERR("* OK [X \"a\0\"] y\r\n", "malformed response: control byte in a "
	    "response code after \"* OK [X \" at \"\"a\\x00\"] y\"",
	    "NUL in a code");
	ERR("a1 OK(x)\r\n", "malformed response: expected ' ' after \"a1 OK\" "
	    "at \"(x)\"", "status without a space");
	ERR("* LIST () \"/\" {3x}\r\n", "malformed response: expected '}' "
	    "after \"* LIST () \"/\" {3\" at \"x}\"", "bad literal size");

	/* a long context is cut at the front */
	ERR("* SEARCH 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 (\r\n",
	    "malformed response: expected ')' after \"...7 8 9 10 11 12 13 14 "
	    "15 16 17 18 19 20 (\" at end of line", "context cut");
}

/* The responses before an error are returned; the error sticks. */
static void
error_after_good(void)
{
	char *got = parse(S("* 1 EXISTS\r\n* 2 EXISTS\r\n* X (\r\n"), 0, 0, 0);

	is_str(got, "* 1 EXISTS\n* 2 EXISTS\nERR malformed response: expected "
	    "')' after \"* X (\" at end of line", "good responses, then the "
	    "error");
	free(got);
}

static void
read_error(void)
{
	struct src s = { S("* 1 EXISTS\r\n* 2 EX"), 0, 0, 0, 1 };
	struct imap_parser *p = imap_parser_new(src_read, &s);
	struct iresp *r;

	ok(imap_parser_next(p, &r) == 1 && r->number == 1, "before a read "
	    "error");
	ok(imap_parser_next(p, &r) == -1 && r == NULL, "read error");
	is_str(imap_parser_error(p), "read error: Input/output error",
	    "read error message");
	imap_parser_free(p);
}

/* Message data through the sink */
static void
streaming(void)
{
	static const char in[] = "* 12 FETCH (UID 34 BODY[] {11}\r\nhello "
	    "world FLAGS (\\Seen))\r\n"
	    "* 13 FETCH (BODY[HEADER] {4}\r\nab\r\n BODY[TEXT] {0}\r\n UID 35)"
	    "\r\n"
	    "* 14 FETCH (UID 36 body[] \"q\\\"s\" RFC822 NIL)\r\n"
	    "* 15 FETCH (UID 37 BINARY[1] ~{2}\r\n\0\1)\r\n"
	    "a1 OK done\r\n";
	static const char want[] =
	    "{12 BODY[] 34 11:hello world}"
	    "* 12 FETCH (UID 34 BODY[] <streamed 11> FLAGS (\\Seen))\n"
	    "{13 BODY[HEADER] 0 4:ab\r\n}{13 BODY[TEXT] 0 0:}"
	    "* 13 FETCH (BODY[HEADER] <streamed 4> BODY[TEXT] <streamed 0> "
	    "UID 35)\n"
	    "{14 BODY[] 36 3:q\"s}"
	    "* 14 FETCH (UID 36 body[] <streamed 3> RFC822 NIL)\n"
	    "{15 BINARY[1] 37 2:\0\1}"
	    "* 15 FETCH (UID 37 BINARY[1] <streamed 2>)\n"
	    "a1 OK \"done\"\nEOF";
	struct src s = { S(in), 0, 0, 0, 0 };
	struct imap_parser *p;
	struct sb b = { 0 };
	struct rec k = { &b, 0, 0, 0, 2 };
	struct iresp *r;

	/* the dump holds NUL bytes: compare with memcmp */
	{
		struct src s2 = { S(in), 0, 0, 0, 0 };
		size_t cut, bad = 0;

		for (cut = 0; cut < sizeof(in) - 1; cut++) {
			struct sb d = { 0 };
			struct rec k2 = { &d, 0, 0, 0, 0 };
			struct imap_parser *q;
			int rv;

			s2.off = 0;
			s2.split = cut;
			s2.chunk = 0;
			q = imap_parser_new(src_read, &s2);
			imap_parser_set_sink(q, rec_sink, &k2);
			while ((rv = imap_parser_next(q, &r)) == 1) {
				dump_resp(&d, r);
				sb_addc(&d, '\n');
			}
			sb_adds(&d, rv == 0 ? "EOF" : "ERR");
			if (d.len != sizeof(want) - 1 ||
			    memcmp(d.s, want, d.len) != 0) {
				if (bad++ == 0)
					printf("# split at %zu: %s\n", cut,
					    d.s);
			}
			imap_parser_free(q);
			sb_free(&d);
		}
		ok(bad == 0, "literals reach the sink whole and in order, "
		    "split at every offset");
	}

	/* one byte at a time */
	{
		struct src s3 = { S(in), 0, 1, 0, 0 };
		struct sb d = { 0 };
		struct rec k3 = { &d, 0, 0, 0, 0 };
		struct imap_parser *q = imap_parser_new(src_read, &s3);
		int rv;

		imap_parser_set_sink(q, rec_sink, &k3);
		while ((rv = imap_parser_next(q, &r)) == 1) {
			dump_resp(&d, r);
			sb_addc(&d, '\n');
		}
		sb_adds(&d, rv == 0 ? "EOF" : "ERR");
		ok(d.len == sizeof(want) - 1 && memcmp(d.s, want, d.len) == 0,
		    "literals reach the sink whole, a byte at a time");
		is_int(k3.calls, 19, "... one call per byte and one for the "
		    "empty literal");
		imap_parser_free(q);
		sb_free(&d);
	}

	/* the values next to the streamed ones */
	p = imap_parser_new(src_read, &s);
	ok(imap_parser_next(p, &r) == 1, "FETCH with a literal");
	{
		const struct ival *l = r->args.n == 1 ? &r->args.items[0] :
		    NULL, *v;
		uint32_t u = 0;

		ok(l && l->kind == IV_LIST && l->n == 6, "one list of 3 pairs");
		v = ival_get(l, "body[]");
		ok(v && v->kind == IV_STREAMED && v->len == 11 && v->s == NULL,
		    "BODY[] is streamed, 11 bytes");
		ok(ival_u32(ival_get(l, "UID"), &u) == 0 && u == 34, "UID 34");
		v = ival_get(l, "FLAGS");
		ok(v && v->kind == IV_LIST && v->n == 1 &&
		    ival_is(&v->items[0], "\\seen"), "FLAGS (\\Seen)");
	}
	imap_parser_free(p);

	/* a sink that fails on a quoted string */
	{
		struct src s4 = { S("* 1 FETCH (RFC822 \"x\")\r\n"), 0, 0, 0, 0 };
		struct rec k4 = { &b, 0, 0, 0, 1 };

		p = imap_parser_new(src_read, &s4);
		imap_parser_set_sink(p, rec_sink, &k4);
		ok(imap_parser_next(p, &r) == -1 && strcmp(imap_parser_error(p),
		    "the message sink failed") == 0, "the sink's failure on a "
		    "quoted string");
		imap_parser_free(p);
	}
	p = imap_parser_new(NULL, NULL);
	ok(imap_parser_next(p, &r) == -1 && imap_parser_error(p) &&
	    strcmp(imap_parser_error(p), "read error: no source") == 0,
	    "no source");
	imap_parser_free(p);

	/* a sink that fails */
	s.off = 0;
	p = imap_parser_new(src_read, &s);
	imap_parser_set_sink(p, rec_sink, &k);
	ok(imap_parser_next(p, &r) == 1, "first literal taken");
	ok(imap_parser_next(p, &r) == -1, "the sink's failure stops parsing");
	is_str(imap_parser_error(p), "the message sink failed",
	    "sink failure message");
	imap_parser_free(p);
	sb_free(&b);
}

/* Many streamed literals in one response cost no more than one each. */
static void
many_literals(void)
{
	struct sb in = { 0 }, d = { 0 };
	struct rec k = { &d, 0, 0, 0, 0 };
	struct imap_parser *p;
	struct iresp *r;
	int i, good;

	sb_adds(&in, "* 1 FETCH (UID 1");
	for (i = 0; i < 100000; i++)
		sb_printf(&in, " BODY[%d] {1}\r\n%c", i, 'a' + i % 26);
	sb_adds(&in, ")\r\n");
	{
		struct src s = { in.s, in.len, 0, 0, 0, 0 };

		p = imap_parser_new(src_read, &s);
		imap_parser_set_sink(p, rec_sink, &k);
		good = imap_parser_next(p, &r) == 1 && r->args.n == 1 &&
		    r->args.items[0].n == 200002 &&
		    r->args.items[0].items[200001].kind == IV_STREAMED;
		imap_parser_free(p);
	}
	ok(good && k.calls == 100000 && strncmp(d.s, "{1 BODY[0] 1 1:a}"
	    "{1 BODY[1] 1 1:b}", 34) == 0, "100,000 streamed literals in one "
	    "response");
	sb_free(&in);
	sb_free(&d);

	/* the context of an error after one shows what is left */
	check(S("* 1 FETCH (UID 5 BODY[] {3}\r\nabc x\r\n"), 0, 1, "ERR "
	    "malformed response: expected ')' after \"* 1 FETCH (UID 5 BODY[] "
	    "{3}\\x0d\\x0a x\" at end of line", "error after a streamed "
	    "literal");
	check(S("* 1 FETCH (UID 5 FLAGS (\\Seen \\Answered \\Flagged) BODY[] "
	    "{3}\r\nabc)x\r\n"), 0, 1, "ERR malformed response: expected ' ' "
	    "or end of line after \"...(\\Seen \\Answered \\Flagged) BODY[] "
	    "{3}\\x0d\\x0a)\" at \"x\"", "error after a streamed literal, "
	    "long line");
}

/* A big message: generated, never held whole. */
struct gen {
	const char	*head, *tail;
	size_t		 hlen, tlen;
	uint64_t	 size, off;	/* off over head + body + tail */
	int		 body;		/* the body's byte, -1: a pattern */
};

static unsigned char
gen_byte(uint64_t i)
{
	return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static ssize_t
gen_read(void *ctx, void *buf, size_t n)
{
	struct gen *g = ctx;
	unsigned char *d = buf;
	size_t k = 0;

	while (k < n) {
		uint64_t o = g->off;

		if (o < g->hlen)
			d[k] = (unsigned char)g->head[o];
		else if (o - g->hlen < g->size)
			d[k] = g->body >= 0 ? (unsigned char)g->body :
			    gen_byte(o - g->hlen);
		else if (o - g->hlen - g->size < g->tlen)
			d[k] = (unsigned char)g->tail[o - g->hlen - g->size];
		else
			break;
		k++;
		g->off++;
	}
	return (ssize_t)k;
}

struct bigsink {
	uint64_t	 got;
	size_t		 calls, maxpiece;
	int		 bad, finals;
	uint32_t	 uid;
};

static int
big_sink(void *ctx, uint32_t msgno, const char *item, uint32_t uid,
    uint64_t total, const char *data, size_t n, int final)
{
	struct bigsink *k = ctx;
	size_t i;

	(void)msgno;
	(void)total;
	if (strcmp(item, "BODY[]") != 0)
		k->bad++;
	k->uid = uid;
	for (i = 0; i < n; i++)
		if ((unsigned char)data[i] != gen_byte(k->got + i))
			k->bad++;
	k->got += n;
	k->calls++;
	if (n > k->maxpiece)
		k->maxpiece = n;
	k->finals += final;
	return 0;
}

static void
big_literal(void)
{
	char head[64];
	static const char tail[] = " FLAGS (\\Seen))\r\na1 OK done\r\n";
	uint64_t size = 10 * 1024 * 1024;
	struct gen g;
	struct bigsink k = { 0, 0, 0, 0, 0, 0 };
	struct imap_parser *p;
	struct iresp *r;
	const struct ival *v;

	snprintf(head, sizeof(head), "* 1 FETCH (UID 77 BODY[] {%llu}\r\n",
	    (unsigned long long)size);
	g.head = head;
	g.hlen = strlen(head);
	g.tail = tail;
	g.tlen = sizeof(tail) - 1;
	g.size = size;
	g.off = 0;
	g.body = -1;
	p = imap_parser_new(gen_read, &g);
	imap_parser_set_sink(p, big_sink, &k);
	ok(imap_parser_next(p, &r) == 1, "10 MB BODY[] parsed");
	v = r ? ival_get(&r->args.items[0], "BODY[]") : NULL;
	ok(v && v->kind == IV_STREAMED && v->len == size, "... streamed");
	ok(k.got == size && k.bad == 0 && k.finals == 1 && k.uid == 77,
	    "... every byte reached the sink in order, UID 77");
	ok(k.calls >= 40 && k.maxpiece <= 256 * 1024, "... in %zu pieces of "
	    "at most %zu bytes", k.calls, k.maxpiece);
	ok(imap_parser_next(p, &r) == 1 && r->kind == IR_TAGGED,
	    "tagged reply after it");
	ok(imap_parser_next(p, &r) == 0, "then the end");
	imap_parser_free(p);

	/* the same without a sink: discarded */
	g.off = 0;
	p = imap_parser_new(gen_read, &g);
	ok(imap_parser_next(p, &r) == 1 && imap_parser_next(p, &r) == 1 &&
	    imap_parser_next(p, &r) == 0, "10 MB BODY[] discarded without a "
	    "sink");
	imap_parser_free(p);
}

/* A response longer than IMAP_LINE_MAX, generated. */
static void
limits(void)
{
	struct gen g = { "* SEARCH ", "", 9, 0, 0, 0, 'x' };
	struct imap_parser *p;
	struct iresp *r;
	char *in;
	size_t i, n;

	g.size = (uint64_t)IMAP_LINE_MAX + 10;	/* no LF in it */
	p = imap_parser_new(gen_read, &g);
	ok(imap_parser_next(p, &r) == -1, "response over IMAP_LINE_MAX");
	is_str(imap_parser_error(p), "response longer than 67108864 bytes",
	    "... its message");
	imap_parser_free(p);

	/* values: a list of one more than allowed */
	n = (size_t)IMAP_VALUES_MAX + 1;
	in = malloc(9 + 2 * n + 16);
	memcpy(in, "* SEARCH ", 9);
	for (i = 0; i < n; i++)
		memcpy(in + 9 + 2 * i, "1 ", 2);
	memcpy(in + 9 + 2 * n - 1, "\r\n", 2);
	{
		struct src s = { in, 9 + 2 * n + 1, 0, 0, 0, 0 };

		p = imap_parser_new(src_read, &s);
		ok(imap_parser_next(p, &r) == -1, "more than IMAP_VALUES_MAX "
		    "values");
		is_str(imap_parser_error(p), "response with more than 4194304 "
		    "values", "... its message");
		imap_parser_free(p);
		/* one value less, then a small response */
		s.off = 0;
		memcpy(in + s.len - 4, "\r\n* 1 EXISTS\r\n", 14);
		s.len += 10;
		p = imap_parser_new(src_read, &s);
		ok(imap_parser_next(p, &r) == 1 && r->args.n == n - 1,
		    "IMAP_VALUES_MAX values");
		ok(imap_parser_next(p, &r) == 1 && r->number == 1 &&
		    imap_parser_next(p, &r) == 0, "a small response after it");
		imap_parser_free(p);
	}
	free(in);
}

/* Bytes left in the buffer; switching the source. */
static void
buffered(void)
{
	struct src s = { S("a1 OK Begin TLS now\r\n"), 0, 0, 0, 0 };
	struct src s2 = { S("* 1 EXISTS\r\n* 2 EXISTS\r\n"), 0, 0, 0, 0 };
	struct imap_parser *p = imap_parser_new(src_read, &s);
	struct iresp *r;

	ok(imap_parser_next(p, &r) == 1 && imap_parser_buffered(p) == 0,
	    "nothing buffered after the STARTTLS reply");
	imap_parser_set_reader(p, src_read, &s2);
	ok(imap_parser_next(p, &r) == 1 && r->number == 1 &&
	    imap_parser_buffered(p) == 12, "new source; second response "
	    "buffered");
	ok(imap_parser_next(p, &r) == 1 && r->number == 2 &&
	    imap_parser_next(p, &r) == 0 && imap_parser_next(p, &r) == 0,
	    "end of stream, twice");
	imap_parser_free(p);
}

static void
helpers(void)
{
	static const char in[] = "* 1 FETCH (UID 4294967295 MODSEQ "
	    "(18446744073709551615) X 4294967296 Y 18446744073709551616 "
	    "Z 12a E \"\" S \"5\" N NIL L (a) W 000000000000000000001)\r\n";
	struct src s = { S(in), 0, 0, 0, 0 };
	struct imap_parser *p = imap_parser_new(src_read, &s);
	struct iresp *r;
	const struct ival *l, *v;
	uint32_t u;
	uint64_t w;
	char *e;

	ok(imap_parser_next(p, &r) == 1, "helpers: parsed");
	l = &r->args.items[0];
	ok(ival_u32(ival_get(l, "uid"), &u) == 0 && u == 4294967295u,
	    "ival_u32 2^32-1");
	ok(ival_u32(ival_get(l, "X"), &u) == -1, "ival_u32 2^32 refused");
	ok(ival_u64(ival_get(l, "X"), &w) == 0 && w == 4294967296ull,
	    "ival_u64 2^32");
	v = ival_get(l, "MODSEQ");
	ok(v && v->kind == IV_LIST && ival_u64(&v->items[0], &w) == 0 &&
	    w == UINT64_MAX, "ival_u64 2^64-1");
	ok(ival_u64(ival_get(l, "Y"), &w) == -1, "ival_u64 2^64 refused");
	ok(ival_u64(ival_get(l, "Z"), &w) == -1, "ival_u64 12a refused");
	ok(ival_u64(ival_get(l, "W"), &w) == -1, "ival_u64 of 21 digits "
	    "refused");
	ok(ival_u32(ival_get(l, "S"), &u) == -1 && ival_u64(ival_get(l, "S"),
	    &w) == -1, "ival_u32, ival_u64 of a string refused");
	ok(ival_u32(ival_get(l, "missing"), &u) == -1 &&
	    ival_get(l, "missing") == NULL, "ival_get of a missing name");
	ok(ival_get(ival_get(l, "UID"), "x") == NULL, "ival_get on an atom");
	ok(ival_get(l, "4294967295") == NULL, "ival_get looks at names only");
	is_str(ival_str(ival_get(l, "E")), "", "ival_str of \"\"");
	is_str(ival_str(ival_get(l, "Z")), "12a", "ival_str of an atom");
	ok(ival_str(ival_get(l, "N")) == NULL, "ival_str of NIL");
	ok(ival_str(ival_get(l, "L")) == NULL, "ival_str of a list");
	ok(ival_is(ival_get(l, "L")->items, "A") && !ival_is(ival_get(l, "Z"),
	    "12") && !ival_is(ival_get(l, "S"), "5") && !ival_is(NULL, "x"),
	    "ival_is");
	imap_parser_free(p);

	e = imap_escape(S("a\001b\"\\\377"), 10);
	is_str(e, "a\\x01b\"\\\\xff", "imap_escape");
	free(e);
	e = imap_escape(S("abcdef"), 3);
	is_str(e, "abc...", "imap_escape cut");
	free(e);
	e = imap_escape(S("abc"), 3);
	is_str(e, "abc", "imap_escape, exactly max");
	free(e);
	e = imap_escape(NULL, 0, 10);
	is_str(e, "", "imap_escape of nothing");
	free(e);
}

/* Not a timed test: prints how long 100,000 FETCH responses take. */
static void
speed(void)
{
	struct sb in = { 0 };
	struct imap_parser *p;
	struct iresp *r;
	struct timespec t0, t1;
	uint32_t i, u = 0, n = 0;

	for (i = 1; i <= 100000; i++)
		sb_printf(&in, "* %u FETCH (UID %u FLAGS (\\Seen) RFC822.SIZE "
		    "1234 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ "
		    "(12345))\r\n", i, i);
	{
		struct src s = { in.s, in.len, 0, 0, 0, 0 };

		p = imap_parser_new(src_read, &s);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (imap_parser_next(p, &r) == 1) {
			n++;
			if (ival_u32(ival_get(&r->args.items[0], "UID"), &u)
			    == -1)
				break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		imap_parser_free(p);
	}
	ok(n == 100000 && u == 100000, "100,000 FETCH responses");
	printf("# %zu bytes parsed in %.1f ms\n", in.len,
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	sb_free(&in);
}

int
main(void)
{
	shapes();
	nesting();
	errors();
	error_after_good();
	read_error();
	streaming();
	many_literals();
	big_literal();
	limits();
	buffered();
	helpers();
	speed();
	return done_testing();
}
