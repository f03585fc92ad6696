/* mutf7.c - modified UTF-7 (RFC 3501 5.1.3): exact in both directions */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"
#include "util.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(int c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

/* One code point from UTF-8, or -1 for a malformed sequence. */
static long
utf8_next(const unsigned char **sp)
{
	const unsigned char *s = *sp;
	long cp;
	int n, i;

	if (s[0] < 0x80) {
		*sp = s + 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		cp = s[0] & 0x1f;
		n = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		cp = s[0] & 0x0f;
		n = 2;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		cp = s[0] & 0x07;
		n = 3;
	} else
		return -1;
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*sp = s + n + 1;
	return cp;
}

char *
mutf7_encode(const char *utf8)
{
	const unsigned char *s = (const unsigned char *)utf8;
	struct sb b = { 0 };

	while (*s) {
		if (*s >= 0x20 && *s <= 0x7e) {
			if (*s == '&' ? sb_adds(&b, "&-") == -1 :
			    sb_addc(&b, *s) == -1)
				goto fail;
			s++;
			continue;
		}
		/* a run of characters outside printable ASCII */
		uint32_t bits = 0;
		int nbits = 0;

		if (sb_addc(&b, '&') == -1)
			goto fail;
		while (*s && !(*s >= 0x20 && *s <= 0x7e)) {
			long cp = utf8_next(&s);
			uint16_t units[2];
			int nu, i;

			if (cp < 0) {
				errno = EILSEQ;
				goto fail;
			}
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | cp >> 10);
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)cp;
				nu = 1;
			}
			for (i = 0; i < nu; i++) {
				bits = bits << 16 | units[i];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					if (sb_addc(&b, b64[bits >> nbits & 0x3f])
					    == -1)
						goto fail;
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0 && sb_addc(&b, b64[bits << (6 - nbits) & 0x3f])
		    == -1)
			goto fail;
		if (sb_addc(&b, '-') == -1)
			goto fail;
	}
	if (b.s == NULL && sb_grow(&b, 1) == 0)
		b.s[0] = '\0';
	return b.s;
fail:
	sb_free(&b);
	return NULL;
}

char *
mutf7_decode(const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	struct sb b = { 0 };

	while (*s) {
		if (*s < 0x20 || *s > 0x7e)
			goto bad;
		if (*s != '&') {
			if (sb_addc(&b, *s++) == -1)
				goto fail;
			continue;
		}
		s++;
		if (*s == '-') {
			if (sb_addc(&b, '&') == -1)
				goto fail;
			s++;
			continue;
		}
		uint32_t bits = 0;
		int nbits = 0, v, units = 0;
		long high = -1;

		while (*s != '-') {
			if ((v = b64val(*s)) < 0)
				goto bad;	/* also the end of the string */
			s++;
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			long u = (long)(bits >> nbits & 0xffff);

			bits &= (1u << nbits) - 1;
			units++;
			if (high >= 0) {
				if (u < 0xdc00 || u > 0xdfff)
					goto bad;
				u = 0x10000 + ((high - 0xd800) << 10) +
				    (u - 0xdc00);
				high = -1;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff)
				goto bad;
			/* printable ASCII must not be encoded */
			if (u >= 0x20 && u <= 0x7e)
				goto bad;
			if (sb_add_utf8(&b, u) == -1)
				goto fail;
		}
		s++;	/* '-' */
		/* no empty run, no dangling surrogate, at most 5 zero bits */
		if (units == 0 || high >= 0 || nbits >= 6 || bits != 0)
			goto bad;
		/* "&...-&...-" would have been one run */
		if (*s == '&' && s[1] != '-')
			goto bad;
	}
	if (b.s == NULL && sb_grow(&b, 1) == 0)
		b.s[0] = '\0';
	return b.s;
bad:
	errno = EILSEQ;
fail:
	sb_free(&b);
	return NULL;
}
