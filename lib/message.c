/* message.c - a Maildir message as uploaded (see message.h) */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "message.h"
#include "util.h"

#define INBUF	65536
#define MAXHDR	(1024 * 1024)	/* header bytes looked at for Message-ID */

static int
fail(char **err, const char *path, const char *what)
{
	if (asprintf(err, "%s: %s%s%s", path, what, errno ? ": " : "",
	    errno ? strerror(errno) : "") == -1)
		*err = NULL;
	return -1;
}

char *
msg_header_msgid(const char *h, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t end = i, vs, ve;

		while (end < n && h[end] != '\n')
			end++;
		if (end - i > 11 && strncasecmp(h + i, "Message-ID:", 11) == 0) {
			/* the value, continuation lines included */
			struct sb v = { 0 };
			size_t j = i + 11;

			for (;;) {
				for (; j < end; j++)
					if (h[j] != '\r' && sb_addc(&v, h[j]) == -1) {
						sb_free(&v);
						return NULL;
					}
				if (end + 1 < n && (h[end + 1] == ' ' ||
				    h[end + 1] == '\t')) {
					j = end + 1;
					for (end = j; end < n && h[end] != '\n'; end++)
						;
					continue;
				}
				break;
			}
			if (v.s == NULL)
				return NULL;
			for (vs = 0; v.s[vs] == ' ' || v.s[vs] == '\t'; vs++)
				;
			for (ve = v.len; ve > vs && isspace((unsigned char)v.s[ve - 1]);
			    ve--)
				;
			memmove(v.s, v.s + vs, ve - vs);
			v.s[ve - vs] = '\0';
			if (v.s[0] == '\0') {
				sb_free(&v);
				return NULL;
			}
			return v.s;
		}
		i = end + 1;
	}
	return NULL;
}

int
msgsrc_open(struct msgsrc *m, const char *path, const char *header,
    char **err)
{
	struct sb hdr = { 0 };
	struct stat st;
	char *buf;
	int prev = -1, inhdr = 1, linestart = 1;
	ssize_t n;

	memset(m, 0, sizeof(*m));
	*err = NULL;
	errno = 0;
	if ((m->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(err, path, "cannot open");
	if (fstat(m->fd, &st) == -1) {
		fail(err, path, "stat");
		goto bad;
	}
	m->mtime = (long long)st.st_mtime;
	if ((buf = malloc(INBUF)) == NULL) {
		fail(err, path, "out of memory");
		goto bad;
	}
	while ((n = read(m->fd, buf, INBUF)) > 0) {
		ssize_t i;

		for (i = 0; i < n; i++) {
			char c = buf[i];

			m->size++;
			if (c == '\n' && prev != '\r')
				m->size++;	/* a CR goes before it */
			if (inhdr) {
				if (c == '\n' && linestart)
					inhdr = 0;	/* the blank line */
				else if (hdr.len < MAXHDR &&
				    sb_addc(&hdr, c) == -1) {
					free(buf);
					sb_free(&hdr);
					fail(err, path, "out of memory");
					goto bad;
				}
				if (c == '\n')
					linestart = 1;
				else if (c != '\r')
					linestart = 0;
			}
			prev = (unsigned char)c;
		}
	}
	free(buf);
	if (n == -1) {
		sb_free(&hdr);
		fail(err, path, "read");
		goto bad;
	}
	if (hdr.len)
		m->msgid = msg_header_msgid(hdr.s, hdr.len);
	sb_free(&hdr);
	if (header) {
		if (asprintf(&m->extra, "%s\r\n", header) == -1) {
			m->extra = NULL;
			fail(err, path, "out of memory");
			goto bad;
		}
		m->size += strlen(m->extra);
	}
	if (lseek(m->fd, 0, SEEK_SET) == -1 ||
	    (m->in = malloc(INBUF)) == NULL) {
		fail(err, path, "seek");
		goto bad;
	}
	return 0;
bad:
	msgsrc_close(m);
	return -1;
}

long
msgsrc_read(void *ctx, char *buf, size_t n)
{
	struct msgsrc *m = ctx;
	size_t w = 0;

	while (w < n) {
		if (m->extra && m->extra[m->extra_off]) {
			buf[w++] = m->extra[m->extra_off++];
			continue;
		}
		if (m->owe_lf) {
			buf[w++] = '\n';
			m->owe_lf = 0;
			m->prev_cr = 0;
			continue;
		}
		if (m->inpos == m->inlen) {
			ssize_t r;

			if (m->eof)
				break;
			if ((r = read(m->fd, m->in, INBUF)) == -1)
				return -1;
			if (r == 0) {
				m->eof = 1;
				break;
			}
			m->inlen = (size_t)r;
			m->inpos = 0;
		}
		if (m->in[m->inpos] == '\n' && !m->prev_cr) {
			buf[w++] = '\r';
			m->owe_lf = 1;
			m->inpos++;
			continue;
		}
		m->prev_cr = m->in[m->inpos] == '\r';
		buf[w++] = m->in[m->inpos++];
	}
	return (long)w;
}

void
msgsrc_close(struct msgsrc *m)
{
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	free(m->msgid);
	free(m->extra);
	free(m->in);
	m->msgid = m->extra = m->in = NULL;
}

int
msg_crc32(const char *path, uint32_t *crc)
{
	unsigned char buf[65536];
	uLong c = crc32(0L, Z_NULL, 0);
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		c = crc32(c, buf, (uInt)n);
	close(fd);
	if (n == -1)
		return -1;
	*crc = (uint32_t)c;
	return 0;
}

static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void
msg_internaldate(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	long off;

	if (localtime_r(&tt, &tm) == NULL) {
		snprintf(buf, len, "01-Jan-1970 00:00:00 +0000");
		return;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(buf, len, "%02d-%s-%04d %02d:%02d:%02d %c%02ld%02ld",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60,
	    labs(off) % 60);
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

long long
msg_parse_internaldate(const char *s)
{
	int d, y, hh, mm, ss, zone, n = 0;
	char mon[4], sign;
	unsigned m;

	while (*s == ' ')
		s++;
	if (sscanf(s, "%d-%3s-%d %d:%d:%d %c%4d%n", &d, mon, &y, &hh, &mm,
	    &ss, &sign, &zone, &n) != 8 || n == 0 ||
	    (sign != '+' && sign != '-'))
		return -1;
	for (m = 0; m < 12 && strcasecmp(mon, months[m]) != 0; m++)
		;
	if (m == 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
	    hh < 0 || mm < 0 || ss < 0 || zone < 0 || zone > 2359)
		return -1;
	return days_from_civil(y, m + 1, (unsigned)d) * 86400LL +
	    hh * 3600 + mm * 60 + ss -
	    (sign == '-' ? -1 : 1) * ((zone / 100) * 3600 + (zone % 100) * 60);
}
