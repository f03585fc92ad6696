/* util.c - growable buffers and allocation helpers */
#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

int
sb_grow(struct sb *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (more > SIZE_MAX - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->s, cap)) == NULL)
		return -1;
	b->s = p;
	b->cap = cap;
	return 0;
}

int
sb_add(struct sb *b, const void *p, size_t n)
{
	if (sb_grow(b, n) == -1)
		return -1;
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
sb_adds(struct sb *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

int
sb_addc(struct sb *b, int c)
{
	char ch = (char)c;

	return sb_add(b, &ch, 1);
}

int
sb_vprintf(struct sb *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || sb_grow(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = sb_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
sb_reset(struct sb *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void
sb_free(struct sb *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
sb_wipe(struct sb *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
	sb_free(b);
}

void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL)
		err(EXIT_FAIL, "malloc");
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p;

	if ((p = calloc(n ? n : 1, m ? m : 1)) == NULL)
		err(EXIT_FAIL, "calloc");
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t m)
{
	void *p;

	if (m && n > SIZE_MAX / m) {
		errno = ENOMEM;
		err(EXIT_FAIL, "realloc");
	}
	if ((p = realloc(old, n && m ? n * m : 1)) == NULL)
		err(EXIT_FAIL, "realloc");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		err(EXIT_FAIL, "strdup");
	return p;
}

int
close_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		return -1;
	if (fclose(stdout) == EOF)
		return -1;
	return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
b64_encode(struct sb *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	char q[4];
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		q[0] = b64chars[s[i] >> 2];
		q[1] = b64chars[(s[i] & 3) << 4 | s[i + 1] >> 4];
		q[2] = b64chars[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		q[3] = b64chars[s[i + 2] & 63];
		if (sb_add(b, q, 4) == -1)
			return -1;
	}
	if (i < n) {
		q[0] = b64chars[s[i] >> 2];
		if (i + 1 < n) {
			q[1] = b64chars[(s[i] & 3) << 4 | s[i + 1] >> 4];
			q[2] = b64chars[(s[i + 1] & 15) << 2];
		} else {
			q[1] = b64chars[(s[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		if (sb_add(b, q, 4) == -1)
			return -1;
	}
	if (b->s == NULL)
		return sb_add(b, "", 0);
	return 0;
}

int
b64_decode(struct sb *b, const char *s, size_t n)
{
	unsigned bits = 0;
	int nbits = 0, pad = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *p;
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || c == '\0' || (p = strchr(b64chars, c)) == NULL)
			return -1;
		bits = bits << 6 | (unsigned)(p - b64chars);
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (sb_addc(b, (int)(bits >> nbits & 0xff)) == -1)
				return -1;
		}
	}
	if (pad > 2 || nbits >= 6)
		return -1;
	if (b->s == NULL)
		return sb_add(b, "", 0);
	return 0;
}

int
sb_add_utf8(struct sb *b, long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sb_add(b, u, n);
}

long long
now_ms(void)
{
	struct timespec ts;

#ifdef CLOCK_BOOTTIME
	if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
		return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(EXIT_FAIL, "clock_gettime");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
