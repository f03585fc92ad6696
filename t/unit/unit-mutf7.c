/* unit-mutf7.c - modified UTF-7 against RFC 3501's examples and round trips */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"
#include "tap.h"

static void
both(const char *utf8, const char *m7, const char *desc)
{
	char *e = mutf7_encode(utf8), *d = mutf7_decode(m7);

	is_str(e, m7, "encode %s", desc);
	is_str(d, utf8, "decode %s", desc);
	free(e);
	free(d);
}

static void
bad(const char *m7, const char *desc)
{
	char *d;

	errno = 0;
	d = mutf7_decode(m7);
	ok(d == NULL && errno == EILSEQ, "refuse %s", desc);
	free(d);
}

int
main(void)
{
	char *e;

	both("INBOX", "INBOX", "plain ASCII");
	both("", "", "empty");
	both("Tom & Jerry", "Tom &- Jerry", "ampersand");
	both("&&", "&-&-", "two ampersands");
	both("Gäste", "G&AOQ-ste", "Latin-1 letter");
	both("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "RFC 3501 example");
	both("Entwürfe", "Entw&APw-rfe", "Dovecot's German drafts");
	both("😀", "&2D3eAA-", "astral plane (surrogate pair)");
	both("a\tb", "a&AAk-b", "control character");
	both("日本&語", "&ZeVnLA-&-&ip4-", "ampersand between runs");
	both("Ü", "&ANw-", "single UTF-16 unit");
	both("ÜÜ", "&ANwA3A-", "two units");
	both("ÜÜÜ", "&ANwA3ADc-", "three units");

	bad("&", "lone &");
	bad("&AOQ", "unterminated run");
	bad("&-x&", "trailing &");
	bad("&AGE-", "encoded printable ASCII (a)");
	bad("&2D0-", "lone high surrogate");
	bad("&3gA-", "lone low surrogate");
	bad("&AOR-", "non-zero padding bits");
	bad("&AOQ-&AOQ-", "two adjacent runs");
	bad("&A/Q-", "'/' is not modified base64");
	bad("G\xc3\xa4ste", "raw 8-bit bytes");
	bad("a\tb", "raw control character");

	errno = 0;
	e = mutf7_encode("G\xe4ste");
	ok(e == NULL && errno == EILSEQ, "encode refuses invalid UTF-8");
	free(e);
	e = mutf7_encode("\xed\xa0\x80");
	ok(e == NULL, "encode refuses an encoded surrogate");
	free(e);
	e = mutf7_encode("\xc0\x80");
	ok(e == NULL, "encode refuses an overlong NUL");
	free(e);

	/* round trip of every BMP code point outside printable ASCII */
	{
		int badrt = 0;
		long cp;

		for (cp = 1; cp < 0x10000 && badrt < 5; cp++) {
			char u[8], *m, *d;

			if ((cp >= 0x20 && cp <= 0x7e) ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				continue;
			if (cp < 0x80) {
				u[0] = (char)cp; u[1] = 0;
			} else if (cp < 0x800) {
				u[0] = (char)(0xc0 | cp >> 6);
				u[1] = (char)(0x80 | (cp & 0x3f)); u[2] = 0;
			} else {
				u[0] = (char)(0xe0 | cp >> 12);
				u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
				u[2] = (char)(0x80 | (cp & 0x3f)); u[3] = 0;
			}
			m = mutf7_encode(u);
			d = m ? mutf7_decode(m) : NULL;
			if (d == NULL || strcmp(d, u) != 0) {
				badrt++;
				printf("# U+%04lX does not round-trip\n", cp);
			}
			free(m);
			free(d);
		}
		ok(badrt == 0, "every BMP code point round-trips");
	}
	return done_testing();
}
