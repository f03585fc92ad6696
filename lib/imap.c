/* imap.c - IMAP client connections: transport, commands, authentication */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include <md5.h>
#include <sha1.h>
#include <sha2.h>
#include <tls.h>

#include "imap.h"
#include "mutf7.h"
#include "util.h"

struct pending {
	uint32_t	 tag;
	int		 done;
	struct imap_reply reply;
};

struct imap {
	struct imap_opts opts;
	int		 fd;		/* read side, and write side but ... */
	int		 wfd;		/* ... for a tunnel's stdin pipe */
	pid_t		 tunnel_pid;
	struct tls	*tls;
	struct tls_config *tlscfg;
	int		 loopback;
	int		 preauth;
	int		 utf8;		/* UTF8=ACCEPT enabled */
	struct imap_parser *parser;
	struct sb	 out;		/* commands not yet sent */
	struct sb	 trace_line;	/* what the trace shows of them */
	struct sb	 err;
	enum imap_err	 errkind;
	char		*greeting;
	char		*caps;		/* " CAP1 CAP2 " upper-cased */
	char		*caps_raw;
	int		 caps_fresh;	/* a reply carried [CAPABILITY] */
	uint32_t	 next_tag;
	struct pending	*pend;
	size_t		 npend;
	imap_untagged_fn untagged;
	void		*untagged_ctx;
	struct sb	 tracebuf;	/* server bytes not yet traced */
	/* COMPRESS=DEFLATE (RFC 4978): raw deflate both ways */
	int		 compress;
	z_stream	 zin, zout;
	char		*zbuf;		/* compressed bytes read, not inflated */
	size_t		 zcap;
	int		 local;		/* an imap-hold socket (opts.socket) */
	/* byte-level use (imap_raw_*): bytes not yet sent; for TLS, the
	 * piece a tls_write() said to retry, kept where it was; what the
	 * last read and write said to wait for */
	struct sb	 rawout;
	size_t		 rawoff;
	char		*tlsw;
	size_t		 tlswlen;
	short		 rd_want, wr_want;
};

int
imap_fail(struct imap *im, enum imap_err kind, const char *fmt, ...)
{
	va_list ap;
	struct sb b = { 0 };

	va_start(ap, fmt);
	if (sb_vprintf(&b, fmt, ap) == -1) {
		sb_free(&b);
		sb_adds(&b, "out of memory");
	}
	va_end(ap);
	sb_free(&im->err);
	im->err = b;
	if (im->errkind != IMAP_ERR_RETRY || kind == IMAP_ERR_RETRY)
		im->errkind = kind;
	return -1;
}

const char *
imap_error(const struct imap *im)
{
	return im->err.len ? im->err.s : "no error";
}

enum imap_err
imap_errkind(const struct imap *im)
{
	return im->errkind;
}

/* What error messages call the other end. */
static const char *
peer(const struct imap *im)
{
	if (im->opts.socket)
		return im->opts.socket;
	return im->opts.host ? im->opts.host : "tunnel";
}

struct imap *
imap_new(const struct imap_opts *opts)
{
	struct imap *im;

	if ((im = calloc(1, sizeof(*im))) == NULL)
		return NULL;
	im->opts = *opts;
	im->fd = im->wfd = -1;
	im->tunnel_pid = -1;
	im->next_tag = 1;
	return im;
}

static void
disconnect(struct imap *im)
{
	if (im->tls) {
		tls_close(im->tls);
		tls_free(im->tls);
		im->tls = NULL;
	}
	if (im->wfd != -1 && im->wfd != im->fd)
		close(im->wfd);
	im->wfd = -1;
	if (im->fd != -1) {
		close(im->fd);
		im->fd = -1;
	}
	if (im->tunnel_pid > 0) {
		int st, i;

		/* give the tunnel a moment to see EOF, then end it */
		for (i = 0; i < 20; i++) {
			if (waitpid(im->tunnel_pid, &st, WNOHANG) != 0)
				break;
			usleep(10000);
		}
		if (i == 20) {
			kill(im->tunnel_pid, SIGTERM);
			waitpid(im->tunnel_pid, &st, 0);
		}
		im->tunnel_pid = -1;
	}
}

void
imap_free(struct imap *im)
{
	size_t i;

	if (im == NULL)
		return;
	disconnect(im);
	if (im->tlscfg)
		tls_config_free(im->tlscfg);
	imap_parser_free(im->parser);
	sb_free(&im->out);
	sb_free(&im->trace_line);
	sb_free(&im->err);
	sb_free(&im->tracebuf);
	if (im->compress) {
		inflateEnd(&im->zin);
		deflateEnd(&im->zout);
	}
	free(im->zbuf);
	sb_free(&im->rawout);
	free(im->tlsw);
	free(im->greeting);
	free(im->caps);
	free(im->caps_raw);
	for (i = 0; i < im->npend; i++)
		imap_reply_free(&im->pend[i].reply);
	free(im->pend);
	free(im);
}

/* Trace: complete lines only, each prefixed. */
static void
trace_bytes(struct imap *im, const char *p, size_t n)
{
	char *nl;

	if (im->opts.trace == NULL)
		return;
	if (sb_add(&im->tracebuf, p, n) == -1)
		return;
	while ((nl = memchr(im->tracebuf.s, '\n', im->tracebuf.len))
	    != NULL) {
		size_t len = (size_t)(nl - im->tracebuf.s), i;

		fputs("S: ", im->opts.trace);
		for (i = 0; i < len; i++) {
			unsigned char c = (unsigned char)im->tracebuf.s[i];

			if (c == '\r')
				continue;
			if (c < 0x20 || c == 0x7f)
				fprintf(im->opts.trace, "\\x%02x", c);
			else
				putc(c, im->opts.trace);
		}
		putc('\n', im->opts.trace);
		memmove(im->tracebuf.s, nl + 1, im->tracebuf.len - len - 1);
		im->tracebuf.len -= len + 1;
	}
	fflush(im->opts.trace);
}

static int
wait_fd(struct imap *im, short events)
{
	struct pollfd pfd = { .fd = events == POLLOUT ? im->wfd : im->fd,
	    .events = events };
	int ms = im->opts.timeout > 0 ? im->opts.timeout * 1000 : -1, r;

	for (;;) {
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return imap_fail(im, IMAP_ERR_RETRY, "%s: no answer "
			    "for %d seconds (socktimeout)", peer(im),
			    im->opts.timeout);
		if (errno != EINTR)
			return imap_fail(im, IMAP_ERR_RETRY, "poll: %s",
			    strerror(errno));
	}
}

static ssize_t
raw_read(struct imap *im, void *buf, size_t n)
{
	ssize_t r;

	for (;;) {
		if (im->tls) {
			r = tls_read(im->tls, buf, n);
			if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
				if (wait_fd(im, r == TLS_WANT_POLLIN ? POLLIN :
				    POLLOUT) == -1)
					return -1;
				continue;
			}
			if (r == -1) {
				imap_fail(im, IMAP_ERR_RETRY, "%s: TLS read: %s",
				    im->opts.host, tls_error(im->tls));
				return -1;
			}
		} else {
			r = read(im->fd, buf, n);
			if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
				if (errno == EAGAIN && wait_fd(im, POLLIN) == -1)
					return -1;
				continue;
			}
			if (r == -1) {
				imap_fail(im, IMAP_ERR_RETRY, "read: %s",
				    strerror(errno));
				return -1;
			}
		}
		return r;
	}
}

/* What the parser reads: the stream, inflated when compressed, traced. */
static ssize_t
conn_read(void *ctx, void *buf, size_t n)
{
	struct imap *im = ctx;
	ssize_t r;
	int zr;

	if (!im->compress) {
		if ((r = raw_read(im, buf, n)) > 0)
			trace_bytes(im, buf, (size_t)r);
		return r;
	}
	for (;;) {
		im->zin.next_out = buf;
		im->zin.avail_out = (uInt)(n > UINT_MAX ? UINT_MAX : n);
		if (im->zin.avail_in > 0) {
			zr = inflate(&im->zin, Z_SYNC_FLUSH);
			if (zr != Z_OK && zr != Z_BUF_ERROR) {
				imap_fail(im, IMAP_ERR_FATAL, "%s: bad compressed "
				    "data: %s", peer(im),
				    im->zin.msg ? im->zin.msg : "?");
				return -1;
			}
			r = (ssize_t)((char *)im->zin.next_out - (char *)buf);
			if (r > 0) {
				trace_bytes(im, buf, (size_t)r);
				return r;
			}
		}
		if ((r = raw_read(im, im->zbuf, im->zcap)) <= 0)
			return r;
		im->zin.next_in = (Bytef *)im->zbuf;
		im->zin.avail_in = (uInt)r;
	}
}

static int
conn_write(struct imap *im, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if (im->tls) {
			r = tls_write(im->tls, p, n);
			if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
				if (wait_fd(im, r == TLS_WANT_POLLIN ? POLLIN :
				    POLLOUT) == -1)
					return -1;
				continue;
			}
			if (r == -1)
				return imap_fail(im, IMAP_ERR_RETRY, "%s: TLS "
				    "write: %s", im->opts.host,
				    tls_error(im->tls));
		} else {
			r = write(im->wfd, p, n);
			if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
				if (errno == EAGAIN && wait_fd(im, POLLOUT) == -1)
					return -1;
				continue;
			}
			if (r == -1)
				return imap_fail(im, IMAP_ERR_RETRY, "write: %s",
				    strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
imap_flush(struct imap *im)
{
	if (im->out.len == 0)
		return 0;
	if (im->fd == -1)
		return imap_fail(im, IMAP_ERR_RETRY, "not connected");
	if (!im->compress) {
		if (conn_write(im, im->out.s, im->out.len) == -1)
			return -1;
		sb_reset(&im->out);
		return 0;
	}
	im->zout.next_in = (Bytef *)im->out.s;
	im->zout.avail_in = (uInt)im->out.len;
	do {
		char chunk[16384];

		im->zout.next_out = (Bytef *)chunk;
		im->zout.avail_out = sizeof(chunk);
		if (deflate(&im->zout, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			return imap_fail(im, IMAP_ERR_FATAL, "deflate failed");
		if (conn_write(im, chunk, sizeof(chunk) - im->zout.avail_out)
		    == -1)
			return -1;
	} while (im->zout.avail_out == 0);
	sb_reset(&im->out);
	return 0;
}

/* Switch to COMPRESS=DEFLATE when the server offers it. */
int
imap_compress(struct imap *im)
{
	int rv;

	if (im->compress || !imap_has(im, "COMPRESS=DEFLATE"))
		return 0;
	if ((rv = imap_simple(im, "COMPRESS DEFLATE")) != 0)
		return rv == 1 ? 0 : -1;	/* refused: carry on without */
	if (imap_parser_buffered(im->parser) != 0)
		return imap_fail(im, IMAP_ERR_FATAL, "%s sent data after "
		    "COMPRESS: refusing it", peer(im));
	im->zcap = 65536;
	if ((im->zbuf = malloc(im->zcap)) == NULL)
		return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
	if (inflateInit2(&im->zin, -15) != Z_OK ||
	    deflateInit2(&im->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return imap_fail(im, IMAP_ERR_FATAL, "zlib initialisation "
		    "failed");
	im->compress = 1;
	return 0;
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    in6->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

static int
connect_tcp(struct imap *im)
{
	struct addrinfo hints, *res, *ai;
	const char *port = im->opts.port ? im->opts.port :
	    im->opts.ssl ? "993" : "143";
	int fd = -1, e, saved = 0;
	char why[256] = "";

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = im->opts.family;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(im->opts.host, port, &hints, &res)) != 0)
		return imap_fail(im, e == EAI_AGAIN ? IMAP_ERR_RETRY :
		    IMAP_ERR_FATAL, "could not resolve name %s: %s",
		    im->opts.host, gai_strerror(e));
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t sl = sizeof(e);
		int r, one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1 || set_nonblock(fd) == -1) {
			saved = errno;
			goto next;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			saved = errno;
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, im->opts.timeout > 0 ?
			    im->opts.timeout * 1000 : -1);
		while (r == -1 && errno == EINTR);
		if (r == 0) {
			saved = ETIMEDOUT;
			goto next;
		}
		if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl)
		    == -1) {
			saved = errno;
			goto next;
		}
		if (e != 0) {
			saved = e;
			goto next;
		}
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		im->loopback = is_loopback(ai->ai_addr);
		im->fd = im->wfd = fd;
		freeaddrinfo(res);
		return 0;
next:
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (saved == ECONNREFUSED)
		snprintf(why, sizeof(why), "connection refused");
	else
		snprintf(why, sizeof(why), "%s", strerror(saved));
	return imap_fail(im, IMAP_ERR_RETRY, "cannot connect to %s port %s: %s",
	    im->opts.host, port, why);
}

/*
 * An imap-hold(1) socket: a connection lent by the broker, logged in
 * already.  Local, so no TLS; a broker that is gone is worth a retry.
 */
static int
connect_socket(struct imap *im)
{
	struct sockaddr_un sun;
	size_t n = strlen(im->opts.socket);
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n >= sizeof(sun.sun_path))
		return imap_fail(im, IMAP_ERR_FATAL, "holdsocket %s: the path "
		    "is too long for a socket (at most %zu bytes)",
		    im->opts.socket, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, im->opts.socket, n + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return imap_fail(im, IMAP_ERR_RETRY, "socket: %s",
		    strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		return imap_fail(im, IMAP_ERR_RETRY, "cannot connect to the "
		    "imap-hold socket %s: %s", im->opts.socket, strerror(e));
	}
	if (set_nonblock(fd) == -1) {
		e = errno;
		close(fd);
		return imap_fail(im, IMAP_ERR_RETRY, "fcntl: %s", strerror(e));
	}
	im->fd = im->wfd = fd;
	im->local = 1;
	return 0;
}

/*
 * The tunnel's stdin and stdout are pipes, not a socket: Dovecot's imap
 * binary, like other programs, treats a socket on stdin as inetd's.
 */
static int
connect_tunnel(struct imap *im)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) == -1)
		return imap_fail(im, IMAP_ERR_RETRY, "pipe: %s",
		    strerror(errno));
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		return imap_fail(im, IMAP_ERR_RETRY, "pipe: %s",
		    strerror(errno));
	}
	if ((pid = fork()) == -1) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return imap_fail(im, IMAP_ERR_RETRY, "fork: %s",
		    strerror(errno));
	}
	if (pid == 0) {
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", im->opts.tunnel, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	im->fd = out[0];
	im->wfd = in[1];
	im->tunnel_pid = pid;
	if (set_nonblock(im->fd) == -1 || set_nonblock(im->wfd) == -1)
		return imap_fail(im, IMAP_ERR_RETRY, "fcntl: %s",
		    strerror(errno));
	return 0;
}

/* SHA-1/256/384/512 of the peer's DER certificate, hex, into out. */
static int
peer_fingerprints(struct imap *im, char *sha1, char *sha256, char *sha384,
    char *sha512)
{
	const uint8_t *pem;
	const char *b, *e;
	struct sb der = { 0 };
	size_t len;

	if ((pem = tls_peer_cert_chain_pem(im->tls, &len)) == NULL)
		return imap_fail(im, IMAP_ERR_FATAL, "%s: no server "
		    "certificate", im->opts.host);
	b = memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27);
	e = b ? memmem(b, len - (size_t)(b - (const char *)pem),
	    "-----END CERTIFICATE-----", 25) : NULL;
	if (b == NULL || e == NULL || b64_decode(&der, b + 27,
	    (size_t)(e - b - 27)) == -1) {
		sb_free(&der);
		return imap_fail(im, IMAP_ERR_FATAL, "%s: cannot read the "
		    "server certificate", im->opts.host);
	}
	SHA1Data((const uint8_t *)der.s, der.len, sha1);
	SHA256Data((const uint8_t *)der.s, der.len, sha256);
	SHA384Data((const uint8_t *)der.s, der.len, sha384);
	SHA512Data((const uint8_t *)der.s, der.len, sha512);
	sb_free(&der);
	return 0;
}

static int
check_fingerprint(struct imap *im)
{
	char sha1[SHA1_DIGEST_STRING_LENGTH], sha256[SHA256_DIGEST_STRING_LENGTH];
	char sha384[SHA384_DIGEST_STRING_LENGTH];
	char sha512[SHA512_DIGEST_STRING_LENGTH];
	const char *p = im->opts.fingerprints;

	if (peer_fingerprints(im, sha1, sha256, sha384, sha512) == -1)
		return -1;
	while (*p) {
		struct sb want = { 0 };
		size_t n = strcspn(p, ","), i;
		int match;

		for (i = 0; i < n; i++)
			if (isxdigit((unsigned char)p[i]))
				sb_addc(&want, tolower((unsigned char)p[i]));
		match = want.s && (strcmp(want.s, sha1) == 0 ||
		    strcmp(want.s, sha256) == 0 || strcmp(want.s, sha384) == 0 ||
		    strcmp(want.s, sha512) == 0);
		sb_free(&want);
		if (match)
			return 0;
		p += n;
		p += strspn(p, ", ");
	}
	return imap_fail(im, IMAP_ERR_FATAL, "%s: server certificate does not "
	    "match cert_fingerprint: its SHA-256 fingerprint is %s (SHA-1 %s)",
	    im->opts.host, sha256, sha1);
}

static int
start_tls(struct imap *im)
{
	const char *name = im->opts.host;
	uint32_t protocols;
	int r;

	if (im->tlscfg == NULL) {
		if ((im->tlscfg = tls_config_new()) == NULL)
			return imap_fail(im, IMAP_ERR_FATAL, "tls_config_new "
			    "failed");
		if (im->opts.cafile && tls_config_set_ca_file(im->tlscfg,
		    im->opts.cafile) == -1)
			return imap_fail(im, IMAP_ERR_FATAL, "sslcacertfile "
			    "%s: %s", im->opts.cafile,
			    tls_config_error(im->tlscfg));
		if (im->opts.protocols) {
			if (tls_config_parse_protocols(&protocols,
			    im->opts.protocols) == -1)
				return imap_fail(im, IMAP_ERR_FATAL, "bad TLS "
				    "protocols \"%s\"", im->opts.protocols);
			if (tls_config_set_protocols(im->tlscfg, protocols)
			    == -1)
				return imap_fail(im, IMAP_ERR_FATAL, "TLS "
				    "protocols: %s",
				    tls_config_error(im->tlscfg));
		}
		if (im->opts.clientcert && tls_config_set_keypair_file(
		    im->tlscfg, im->opts.clientcert, im->opts.clientkey ?
		    im->opts.clientkey : im->opts.clientcert) == -1)
			return imap_fail(im, IMAP_ERR_FATAL, "client "
			    "certificate: %s", tls_config_error(im->tlscfg));
		/*
		 * A pinned fingerprint without a CA file is the whole trust
		 * decision, as in OfflineIMAP; with a CA file both must hold.
		 */
		if (!im->opts.verify || (im->opts.fingerprints &&
		    im->opts.cafile == NULL)) {
			tls_config_insecure_noverifycert(im->tlscfg);
			tls_config_insecure_noverifyname(im->tlscfg);
			tls_config_insecure_noverifytime(im->tlscfg);
		}
	}
	if ((im->tls = tls_client()) == NULL)
		return imap_fail(im, IMAP_ERR_FATAL, "tls_client failed");
	if (tls_configure(im->tls, im->tlscfg) == -1)
		return imap_fail(im, IMAP_ERR_FATAL, "TLS: %s",
		    tls_error(im->tls));
	if (tls_connect_socket(im->tls, im->fd, name ? name : "") == -1)
		return imap_fail(im, IMAP_ERR_FATAL, "TLS: %s",
		    tls_error(im->tls));
	while ((r = tls_handshake(im->tls)) != 0) {
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
			if (wait_fd(im, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT)
			    == -1)
				return -1;
			continue;
		}
		const char *e = tls_error(im->tls);

		/* a certificate problem is not cured by waiting */
		return imap_fail(im, e && (strstr(e, "certificate") ||
		    strstr(e, "verif") || strstr(e, "name")) ?
		    IMAP_ERR_FATAL : IMAP_ERR_RETRY,
		    "TLS handshake with %s failed: %s", name ? name : "tunnel",
		    e ? e : "unknown error");
	}
	if (im->opts.fingerprints && check_fingerprint(im) == -1)
		return -1;
	return 0;
}

static void
set_caps(struct imap *im, const struct ival *list, size_t from)
{
	struct sb caps = { 0 }, raw = { 0 };
	size_t i, k;

	sb_addc(&caps, ' ');
	for (i = from; i < list->n; i++) {
		const char *s = ival_str(&list->items[i]);

		if (s == NULL)
			continue;
		sb_printf(&raw, "%s%s", raw.len ? " " : "", s);
		for (k = 0; s[k]; k++)
			sb_addc(&caps, toupper((unsigned char)s[k]));
		sb_addc(&caps, ' ');
	}
	free(im->caps);
	free(im->caps_raw);
	im->caps = caps.s;
	im->caps_raw = raw.s ? raw.s : strdup("");
}

int
imap_has(const struct imap *im, const char *cap)
{
	const char *p;
	size_t n = strlen(cap);

	if (im->caps == NULL)
		return 0;
	for (p = im->caps; (p = strcasestr(p, cap)) != NULL; p += n)
		if (p[-1] == ' ' && p[n] == ' ')
			return 1;
	return 0;
}

const char *
imap_capabilities(const struct imap *im)
{
	return im->caps_raw ? im->caps_raw : "";
}

const char *
imap_greeting(const struct imap *im)
{
	return im->greeting ? im->greeting : "";
}

int
imap_is_preauth(const struct imap *im)
{
	return im->preauth;
}

int
imap_is_secure(const struct imap *im)
{
	return im->tls != NULL || im->tunnel_pid > 0 || im->loopback ||
	    im->local;
}

void
imap_set_untagged(struct imap *im, imap_untagged_fn fn, void *ctx)
{
	im->untagged = fn;
	im->untagged_ctx = ctx;
}

void
imap_set_sink(struct imap *im, imap_sink_fn fn, void *ctx)
{
	imap_parser_set_sink(im->parser, fn, ctx);
}

/* The response code of a status response, rendered "CODE arg arg". */
static char *
render_code(const struct iresp *r)
{
	struct sb b = { 0 };
	size_t i;

	if (r->code == NULL)
		return NULL;
	sb_adds(&b, r->code);
	for (i = 0; i < r->code_args.n; i++) {
		const struct ival *v = &r->code_args.items[i];

		if (v->kind == IV_LIST) {
			size_t k;

			sb_adds(&b, " (");
			for (k = 0; k < v->n; k++)
				if (ival_str(&v->items[k]))
					sb_printf(&b, "%s%s", k ? " " : "",
					    ival_str(&v->items[k]));
			sb_addc(&b, ')');
		} else if (ival_str(v))
			sb_printf(&b, " %s", ival_str(v));
	}
	return b.s;
}

static int
handle_untagged(struct imap *im, const struct iresp *r)
{
	if (r->name && strcmp(r->name, "CAPABILITY") == 0)
		set_caps(im, &r->args, 0);
	else if (r->status != IS_NONE && r->code &&
	    strcmp(r->code, "CAPABILITY") == 0)
		set_caps(im, &r->code_args, 0);
	if (r->status == IS_BYE) {
		/* the tagged reply to LOGOUT follows; anything else ends */
		imap_fail(im, IMAP_ERR_RETRY, "server closed the connection: "
		    "%s", r->text ? r->text : "");
	}
	if (im->untagged && im->untagged(im->untagged_ctx, im, r) == -1)
		return -1;
	return 0;
}

/* Read one response and dispatch it; returns the response for tagged and
 * continuation responses, NULL for untagged ones; -1 on failure. */
static int
read_one(struct imap *im, struct iresp **out)
{
	struct iresp *r;
	int rv;

	*out = NULL;
	if ((rv = imap_parser_next(im->parser, &r)) == -1) {
		/* a read error has said what it was already; a stream that
		 * ends mid-response is a lost connection, anything else a
		 * server that does not speak IMAP as it should */
		if (im->errkind == IMAP_ERR_NONE) {
			const char *pe = imap_parser_error(im->parser);

			imap_fail(im, strstr(pe, "closed") ? IMAP_ERR_RETRY :
			    IMAP_ERR_FATAL, "%s: %s", peer(im), pe);
		}
		return -1;
	}
	if (rv == 0) {
		if (strncmp(imap_error(im), "server closed", 13) == 0)
			return -1;
		return imap_fail(im, IMAP_ERR_RETRY, "%s closed the connection",
		    peer(im));
	}
	if (r->kind == IR_UNTAGGED)
		return handle_untagged(im, r);
	*out = r;
	return 0;
}

static struct pending *
find_pending(struct imap *im, uint32_t tag)
{
	size_t i;

	for (i = 0; i < im->npend; i++)
		if (im->pend[i].tag == tag)
			return &im->pend[i];
	return NULL;
}

static void
drop_pending(struct imap *im, struct pending *p)
{
	size_t i = (size_t)(p - im->pend);

	memmove(p, p + 1, (im->npend - i - 1) * sizeof(*p));
	im->npend--;
}

/* A tagged response: record it against its command. */
static int
complete(struct imap *im, const struct iresp *r)
{
	struct pending *p;
	char *end;
	unsigned long t;

	t = (r->tag[0] == 'a') ? strtoul(r->tag + 1, &end, 10) : 0;
	if (t == 0 || *end != '\0' || (p = find_pending(im, (uint32_t)t))
	    == NULL || p->done)
		return imap_fail(im, IMAP_ERR_FATAL, "reply with unknown tag "
		    "\"%s\"", r->tag);
	p->done = 1;
	p->reply.status = r->status;
	p->reply.code = render_code(r);
	p->reply.text = strdup(r->text ? r->text : "");
	if (r->code && strcmp(r->code, "CAPABILITY") == 0) {
		set_caps(im, &r->code_args, 0);
		im->caps_fresh = 1;
	}
	return 0;
}

int
imap_wait(struct imap *im, uint32_t tag, struct imap_reply *reply)
{
	struct pending *p;
	struct iresp *r;

	memset(reply, 0, sizeof(*reply));
	if (imap_flush(im) == -1)
		return -1;
	while ((p = find_pending(im, tag)) != NULL && !p->done) {
		if (read_one(im, &r) == -1)
			return -1;
		if (r == NULL)
			continue;
		if (r->kind == IR_CONTINUE)
			return imap_fail(im, IMAP_ERR_FATAL, "unexpected "
			    "continuation request");
		if (complete(im, r) == -1)
			return -1;
	}
	if (p == NULL)
		return imap_fail(im, IMAP_ERR_FATAL, "waiting for unknown "
		    "command a%u", tag);
	*reply = p->reply;
	drop_pending(im, p);
	return 0;
}

void
imap_reply_free(struct imap_reply *r)
{
	free(r->code);
	free(r->text);
	r->code = r->text = NULL;
}

/* Wait for a continuation request, completing other commands meanwhile. */
static int
wait_continue(struct imap *im, char **text)
{
	struct iresp *r;

	if (imap_flush(im) == -1)
		return -1;
	for (;;) {
		if (read_one(im, &r) == -1)
			return -1;
		if (r == NULL)
			continue;
		if (r->kind == IR_CONTINUE) {
			if (text)
				*text = strdup(r->text ? r->text : "");
			return 0;
		}
		if (complete(im, r) == -1)
			return -1;
		/* the command that needed the continuation may have failed */
		return 1;
	}
}

static int
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

/* An astring on the wire; a literal needs a continuation unless LITERAL+. */
static int
put_astring(struct imap *im, const char *s, int secret)
{
	size_t n = strlen(s), i;
	int atom = n > 0, quotable = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_atom_char(c))
			atom = 0;
		if (c < 0x20 || c >= 0x7f)
			quotable = 0;
	}
	if (atom && strcasecmp(s, "NIL") == 0)
		atom = 0;
	if (atom || quotable) {
		if (!atom)
			sb_addc(&im->out, '"');
		for (i = 0; i < n; i++) {
			if (!atom && (s[i] == '"' || s[i] == '\\'))
				sb_addc(&im->out, '\\');
			sb_addc(&im->out, s[i]);
		}
		if (!atom)
			sb_addc(&im->out, '"');
		if (secret)
			sb_adds(&im->trace_line, "****");
		else if (atom)
			sb_adds(&im->trace_line, s);
		else
			sb_printf(&im->trace_line, "\"%s\"", s);
		return 0;
	}
	/* literal */
	int plus = imap_has(im, "LITERAL+") || (imap_has(im, "LITERAL-") &&
	    n <= 4096);

	sb_printf(&im->out, "{%zu%s}\r\n", n, plus ? "+" : "");
	sb_printf(&im->trace_line, "{%zu%s}", n, plus ? "+" : "");
	if (!plus) {
		int r;

		if (im->opts.trace)
			fprintf(im->opts.trace, "C: %s\n", im->trace_line.s);
		sb_reset(&im->trace_line);
		if ((r = wait_continue(im, NULL)) != 0)
			return r == 1 ? imap_fail(im, IMAP_ERR_FATAL, "server "
			    "refused a literal") : -1;
	}
	sb_add(&im->out, s, n);
	sb_adds(&im->trace_line, secret ? "****" : "<literal>");
	return 0;
}

/*
 * A message literal streamed from a reader, at most 256 KiB buffered: the
 * length first, then (after the continuation unless LITERAL+) the bytes.
 */
static int
put_stream(struct imap *im, const struct imap_literal *lit)
{
	uint64_t left = lit->len;
	int plus = imap_has(im, "LITERAL+") || (imap_has(im, "LITERAL-") &&
	    lit->len <= 4096);

	if (sb_printf(&im->out, "{%llu%s}\r\n", (unsigned long long)lit->len,
	    plus ? "+" : "") == -1)
		return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
	sb_printf(&im->trace_line, "{%llu%s}", (unsigned long long)lit->len,
	    plus ? "+" : "");
	if (!plus) {
		int r;

		if (im->opts.trace)
			fprintf(im->opts.trace, "C: %s\n", im->trace_line.s);
		sb_reset(&im->trace_line);
		if ((r = wait_continue(im, NULL)) != 0)
			return r == 1 ? imap_fail(im, IMAP_ERR_FATAL, "server "
			    "refused a literal") : -1;
	}
	while (left > 0) {
		size_t want = left < 65536 ? (size_t)left : 65536;
		long n;

		if (sb_grow(&im->out, want + 1) == -1)
			return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		n = lit->read(lit->ctx, im->out.s + im->out.len, want);
		if (n <= 0)
			/* the command is cut: this connection is done for */
			return imap_fail(im, IMAP_ERR_FATAL, "%s",
			    n == 0 ? "message shorter than announced" :
			    "cannot read the message");
		im->out.len += (size_t)n;
		im->out.s[im->out.len] = '\0';
		left -= (uint64_t)n;
		if (im->out.len >= 262144 && imap_flush(im) == -1)
			return -1;
	}
	sb_printf(&im->trace_line, "<%llu bytes>",
	    (unsigned long long)lit->len);
	return 0;
}

uint32_t
imap_cmd(struct imap *im, const char *fmt, ...)
{
	struct pending *np;
	uint32_t tag = im->next_tag++;
	const char *p;
	va_list ap;
	int bad = 0;

	if ((np = reallocarray(im->pend, im->npend + 1, sizeof(*np))) == NULL) {
		imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		return 0;
	}
	im->pend = np;
	memset(&np[im->npend], 0, sizeof(*np));
	np[im->npend++].tag = tag;

	sb_reset(&im->trace_line);
	sb_printf(&im->out, "a%u ", tag);
	sb_printf(&im->trace_line, "a%u ", tag);
	va_start(ap, fmt);
	for (p = fmt; *p && !bad; p++) {
		char num[32];

		if (*p != '%') {
			sb_addc(&im->out, *p);
			sb_addc(&im->trace_line, *p);
			continue;
		}
		switch (*++p) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			sb_adds(&im->out, s);
			sb_adds(&im->trace_line, s);
			break;
		}
		case 'u':
			snprintf(num, sizeof(num), "%u", va_arg(ap, unsigned));
			sb_adds(&im->out, num);
			sb_adds(&im->trace_line, num);
			break;
		case 'l':
			if (p[1] == 'l' && p[2] == 'u') {
				snprintf(num, sizeof(num), "%llu",
				    va_arg(ap, unsigned long long));
				p += 2;
			} else if (p[1] == 'u') {
				snprintf(num, sizeof(num), "%lu",
				    va_arg(ap, unsigned long));
				p++;
			} else {
				bad = 1;
				break;
			}
			sb_adds(&im->out, num);
			sb_adds(&im->trace_line, num);
			break;
		case 'a':
			if (put_astring(im, va_arg(ap, const char *), 0) == -1)
				bad = 2;
			break;
		case 'p':
			if (put_astring(im, va_arg(ap, const char *), 1) == -1)
				bad = 2;
			break;
		case 'L':
			if (put_stream(im, va_arg(ap,
			    const struct imap_literal *)) == -1)
				bad = 2;
			break;
		case 'm': {
			const char *name = va_arg(ap, const char *);
			char *enc = im->utf8 ? strdup(name) :
			    mutf7_encode(name);

			if (enc == NULL) {
				imap_fail(im, IMAP_ERR_FATAL, "folder name "
				    "\"%s\" is not valid UTF-8", name);
				bad = 2;
				break;
			}
			if (put_astring(im, enc, 0) == -1)
				bad = 2;
			free(enc);
			break;
		}
		case '%':
			sb_addc(&im->out, '%');
			sb_addc(&im->trace_line, '%');
			break;
		default:
			bad = 1;
		}
	}
	va_end(ap);
	if (bad) {
		if (bad == 1)
			imap_fail(im, IMAP_ERR_FATAL, "bad command format "
			    "\"%s\"", fmt);
		im->npend--;
		return 0;
	}
	sb_adds(&im->out, "\r\n");
	if (im->opts.trace) {
		fprintf(im->opts.trace, "C: %s\n", im->trace_line.s);
		fflush(im->opts.trace);
	}
	if (im->out.s == NULL) {
		imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		return 0;
	}
	return tag;
}

int
imap_simple(struct imap *im, const char *command)
{
	struct imap_reply rep;
	uint32_t tag;
	int rv;

	tag = imap_cmd(im, "%s", command);
	if (tag == 0 || imap_wait(im, tag, &rep) == -1)
		return -1;
	rv = rep.status == IS_OK ? 0 : 1;
	if (rv)
		imap_fail(im, IMAP_ERR_FATAL, "%s: %s%s%s%s", command,
		    rep.code ? "[" : "", rep.code ? rep.code : "",
		    rep.code ? "] " : "", rep.text);
	imap_reply_free(&rep);
	return rv;
}

int
imap_refresh_capabilities(struct imap *im)
{
	return imap_simple(im, "CAPABILITY") == 0 ? 0 : -1;
}

int
imap_connect(struct imap *im)
{
	struct iresp *r;

	if (im->opts.socket) {
		if (connect_socket(im) == -1)
			return -1;
	} else if (im->opts.tunnel) {
		if (connect_tunnel(im) == -1)
			return -1;
	} else if (connect_tcp(im) == -1)
		return -1;
	if (im->opts.ssl && !im->opts.tunnel && !im->opts.socket &&
	    start_tls(im) == -1)
		return -1;
	if ((im->parser = imap_parser_new(conn_read, im)) == NULL)
		return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
	/* the greeting */
	if (imap_parser_next(im->parser, &r) != 1) {
		if (im->err.len == 0)
			imap_fail(im, IMAP_ERR_RETRY, "%s: no greeting: %s",
			    peer(im), imap_parser_error(im->parser));
		return -1;
	}
	if (r->kind != IR_UNTAGGED || (r->status != IS_OK &&
	    r->status != IS_PREAUTH && r->status != IS_BYE))
		return imap_fail(im, IMAP_ERR_FATAL, "%s: not an IMAP greeting",
		    peer(im));
	/* a lent connection is logged in; the broker's BYE says why not,
	 * and whether waiting helps (RFC 5530 codes) */
	if (im->opts.socket && r->status == IS_BYE)
		return imap_fail(im, r->code && (strcmp(r->code,
		    "AUTHENTICATIONFAILED") == 0 || strcmp(r->code,
		    "AUTHORIZATIONFAILED") == 0) ? IMAP_ERR_FATAL :
		    IMAP_ERR_RETRY, "%s: no connection lent: %s", peer(im),
		    r->text ? r->text : "");
	if (im->opts.socket && r->status != IS_PREAUTH)
		return imap_fail(im, IMAP_ERR_FATAL, "%s: not an imap-hold "
		    "socket: its greeting is not PREAUTH (holdsocket names "
		    "the socket of imap-hold -s)", peer(im));
	if (r->status == IS_BYE)
		return imap_fail(im, IMAP_ERR_RETRY, "%s refused the "
		    "connection: %s", im->opts.host ? im->opts.host : "tunnel",
		    r->text ? r->text : "");
	im->preauth = r->status == IS_PREAUTH;
	if ((im->greeting = strdup(r->text ? r->text : "")) == NULL)
		return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
	if (r->code && strcmp(r->code, "CAPABILITY") == 0)
		set_caps(im, &r->code_args, 0);
	if (im->caps == NULL && imap_refresh_capabilities(im) == -1)
		return -1;
	if (!im->opts.ssl && !im->opts.tunnel && im->opts.starttls &&
	    !im->preauth) {
		int rv;

		if (!imap_has(im, "STARTTLS"))
			return imap_fail(im, IMAP_ERR_FATAL, "%s does not "
			    "offer STARTTLS: refusing to go on unencrypted "
			    "(set ssl = yes, or starttls = no to allow a plain "
			    "connection)", im->opts.host);
		if ((rv = imap_simple(im, "STARTTLS")) != 0)
			return rv == 1 ? imap_fail(im, IMAP_ERR_FATAL,
			    "STARTTLS refused by %s: %s", im->opts.host,
			    imap_error(im)) : -1;
		/* bytes after the OK would be an injection */
		if (imap_parser_buffered(im->parser) != 0)
			return imap_fail(im, IMAP_ERR_FATAL, "%s sent data "
			    "after STARTTLS: refusing it", im->opts.host);
		if (start_tls(im) == -1)
			return -1;
		free(im->caps);
		im->caps = NULL;
		if (imap_refresh_capabilities(im) == -1)
			return -1;
	}
	return 0;
}

int
imap_logout(struct imap *im)
{
	/* no need to wait for the reply: a round trip saved */
	if (im->fd != -1 && imap_cmd(im, "LOGOUT") != 0)
		imap_flush(im);
	disconnect(im);
	return 0;
}

int
imap_fd(const struct imap *im)
{
	return im->fd;
}

/*
 * TLS needs no test of its own: the parser reads at least 16 KiB at a
 * time, a whole TLS record, so what libtls decrypted is in the parser.
 */
int
imap_buffered(const struct imap *im)
{
	return (im->parser && imap_parser_buffered(im->parser) > 0) ||
	    (im->compress && im->zin.avail_in > 0);
}

int
imap_read(struct imap *im)
{
	struct iresp *r;

	if (imap_flush(im) == -1 || read_one(im, &r) == -1)
		return -1;
	if (r == NULL)
		return 0;
	if (r->kind == IR_CONTINUE)
		return 1;
	return complete(im, r) == -1 ? -1 : 0;
}

int
imap_done(const struct imap *im, uint32_t tag)
{
	size_t i;

	for (i = 0; i < im->npend; i++)
		if (im->pend[i].tag == tag)
			return im->pend[i].done;
	return 0;
}

int
imap_send_line(struct imap *im, const char *line)
{
	if (sb_adds(&im->out, line) == -1 || sb_adds(&im->out, "\r\n") == -1)
		return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
	if (im->opts.trace) {
		fprintf(im->opts.trace, "C: %s\n", line);
		fflush(im->opts.trace);
	}
	return imap_flush(im);
}

/* Send one line of an authentication exchange (never traced in clear). */
static int
send_auth_line(struct imap *im, const char *line)
{
	if (sb_adds(&im->out, line) == -1 || sb_adds(&im->out, "\r\n") == -1)
		return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
	if (im->opts.trace) {
		fprintf(im->opts.trace, "C: %s\n", *line ? "****" : "");
		fflush(im->opts.trace);
	}
	return imap_flush(im);
}

static void
hmac_md5(const unsigned char *key, size_t klen, const unsigned char *msg,
    size_t mlen, char hex[33])
{
	unsigned char k[64], pad[64], inner[16], outer[16];
	MD5_CTX ctx;
	size_t i;

	memset(k, 0, sizeof(k));
	if (klen > 64) {
		MD5Init(&ctx);
		MD5Update(&ctx, key, klen);
		MD5Final(k, &ctx);
	} else
		memcpy(k, key, klen);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	MD5Init(&ctx);
	MD5Update(&ctx, pad, 64);
	MD5Update(&ctx, msg, mlen);
	MD5Final(inner, &ctx);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	MD5Init(&ctx);
	MD5Update(&ctx, pad, 64);
	MD5Update(&ctx, inner, 16);
	MD5Final(outer, &ctx);
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", outer[i]);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
}

/*
 * One SASL exchange: "AUTHENTICATE MECH [initial]"; answer is called for
 * each server challenge (base64-decoded) and returns the response to send
 * (plain bytes, encoded here).  0: OK; 1: refused (why in *why); -1: lost.
 */
static int
sasl(struct imap *im, const char *mech, const struct sb *initial,
    int (*answer)(void *, const struct sb *, struct sb *), void *actx,
    char **why)
{
	struct imap_reply rep;
	struct sb enc = { 0 };
	uint32_t tag;
	int rv, sent_initial = 0;

	*why = NULL;
	if (initial && imap_has(im, "SASL-IR")) {
		if (b64_encode(&enc, initial->s, initial->len) == -1)
			return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		/* the initial response is a secret: keep it out of the trace */
		tag = imap_cmd(im, "AUTHENTICATE %s %p", mech,
		    enc.len ? enc.s : "=");
		sent_initial = 1;
	} else
		tag = imap_cmd(im, "AUTHENTICATE %s", mech);
	sb_wipe(&enc);
	if (tag == 0)
		return -1;
	for (;;) {
		char *chal = NULL;
		struct sb dec = { 0 }, resp = { 0 };

		if ((rv = wait_continue(im, &chal)) == -1)
			return -1;
		if (rv == 1)
			break;	/* the command completed */
		if (!sent_initial && initial) {
			rv = b64_encode(&resp, initial->s, initial->len);
			sent_initial = 1;
		} else if (b64_decode(&dec, chal, strlen(chal)) == -1 ||
		    answer == NULL || answer(actx, &dec, &resp) == -1) {
			/* cancel the exchange; the server answers BAD/NO */
			rv = send_auth_line(im, "*");
			free(chal);
			sb_free(&dec);
			sb_free(&resp);
			if (rv == -1)
				return -1;
			continue;
		} else {
			struct sb e = { 0 };

			rv = b64_encode(&e, resp.s ? resp.s : "", resp.len);
			sb_wipe(&resp);
			resp = e;
		}
		free(chal);
		sb_free(&dec);
		if (rv == -1)
			return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		rv = send_auth_line(im, resp.s ? resp.s : "");
		sb_wipe(&resp);
		if (rv == -1)
			return -1;
	}
	if (imap_wait(im, tag, &rep) == -1)
		return -1;
	rv = rep.status == IS_OK ? 0 : 1;
	if (rv && asprintf(why, "%s%s%s%s", rep.code ? "[" : "",
	    rep.code ? rep.code : "", rep.code ? "] " : "", rep.text) == -1)
		*why = NULL;
	imap_reply_free(&rep);
	return rv;
}

struct cram {
	const char	*user;
	const char	*pass;
};

static int
cram_answer(void *ctx, const struct sb *chal, struct sb *resp)
{
	struct cram *c = ctx;
	char hex[33];

	hmac_md5((const unsigned char *)c->pass, strlen(c->pass),
	    (const unsigned char *)(chal->s ? chal->s : ""), chal->len, hex);
	return sb_printf(resp, "%s %s", c->user, hex);
}

/* XOAUTH2 answers an error challenge with an empty response. */
static int
empty_answer(void *ctx, const struct sb *chal, struct sb *resp)
{
	(void)ctx;
	(void)chal;
	return sb_add(resp, "", 0);
}

static const char *known_mechs[] = { "GSSAPI", "XOAUTH2", "OAUTHBEARER",
    "CRAM-MD5", "PLAIN", "LOGIN", NULL };

/* The password, fetched once, only when a mechanism needs it. */
static int
need_password(struct imap *im, const struct imap_auth *a, char **pw)
{
	char *perr = NULL;

	if (*pw)
		return 0;
	if (a->password == NULL || (*pw = a->password(a->ctx, &perr)) == NULL) {
		imap_fail(im, IMAP_ERR_FATAL, "%s", perr ? perr :
		    "no password");
		free(perr);
		return -1;
	}
	return 0;
}

/* One mechanism: 0 logged in, 1 refused (*why), -1 failure. */
static int
try_mech(struct imap *im, const struct imap_auth *a, const char *m,
    char **pw, char **why)
{
	struct imap_reply rep;
	struct sb ir = { 0 };
	uint32_t tag;
	int rv;

	if (strcmp(m, "XOAUTH2") == 0 || strcmp(m, "OAUTHBEARER") == 0) {
		char *tok, *terr = NULL;

		if ((tok = a->oauth2_token(a->ctx, &terr)) == NULL) {
			*why = terr ? terr : strdup("no access token");
			return 1;
		}
		if (strcmp(m, "XOAUTH2") == 0)
			sb_printf(&ir, "user=%s\001auth=Bearer %s\001\001",
			    a->user, tok);
		else
			sb_printf(&ir, "n,a=%s,\001auth=Bearer %s\001\001",
			    a->user, tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
		rv = sasl(im, m, &ir, empty_answer, NULL, why);
		sb_wipe(&ir);
		return rv;
	}
	if (need_password(im, a, pw) == -1)
		return -1;
	if (strcmp(m, "LOGIN") == 0) {
		tag = imap_cmd(im, "LOGIN %a %p", a->user, *pw);
		if (tag == 0 || imap_wait(im, tag, &rep) == -1)
			return -1;
		rv = rep.status == IS_OK ? 0 : 1;
		if (rv && asprintf(why, "%s%s%s%s", rep.code ? "[" : "",
		    rep.code ? rep.code : "", rep.code ? "] " : "", rep.text)
		    == -1)
			*why = NULL;
		imap_reply_free(&rep);
		return rv;
	}
	if (strcmp(m, "PLAIN") == 0) {
		sb_adds(&ir, a->identity ? a->identity : "");
		sb_addc(&ir, '\0');
		sb_adds(&ir, a->user);
		sb_addc(&ir, '\0');
		sb_adds(&ir, *pw);
		if (ir.s == NULL)
			return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		rv = sasl(im, m, &ir, NULL, NULL, why);
		sb_wipe(&ir);
		return rv;
	}
	struct cram c = { a->user, *pw };

	return sasl(im, m, NULL, cram_answer, &c, why);
}

int
imap_login(struct imap *im, const struct imap_auth *a)
{
	struct sb tried = { 0 }, mech = { 0 };
	const char *p = a->mechanisms ? a->mechanisms : "";
	char *pw = NULL, *why;
	int rv = 1;

	if (im->preauth)
		return 0;
	im->caps_fresh = 0;
	if (a->user == NULL || *a->user == '\0')
		return imap_fail(im, IMAP_ERR_FATAL, "no user name to log in "
		    "to %s with (remoteuser)", im->opts.host);
	while (*p && rv == 1) {
		char cap[40];
		size_t n, i;
		const char *m;

		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		sb_reset(&mech);
		for (i = 0; i < n; i++)
			sb_addc(&mech, toupper((unsigned char)p[i]));
		p += n;
		if ((m = mech.s) == NULL) {
			rv = imap_fail(im, IMAP_ERR_FATAL, "out of memory");
			break;
		}
		for (i = 0; known_mechs[i]; i++)
			if (strcmp(m, known_mechs[i]) == 0)
				break;
		if (known_mechs[i] == NULL) {
			rv = imap_fail(im, IMAP_ERR_FATAL, "unknown "
			    "authentication mechanism \"%s\" in "
			    "auth_mechanisms (known: GSSAPI, XOAUTH2, "
			    "OAUTHBEARER, CRAM-MD5, PLAIN, LOGIN)", m);
			break;
		}
		snprintf(cap, sizeof(cap), "AUTH=%s", m);
		if (strcmp(m, "LOGIN") == 0 ? imap_has(im, "LOGINDISABLED") :
		    !imap_has(im, cap)) {
			if (strcmp(m, "LOGIN") == 0)
				sb_printf(&tried, "; LOGIN: disabled by the "
				    "server");
			continue;
		}
		if (strcmp(m, "GSSAPI") == 0) {
			sb_printf(&tried, "; GSSAPI: not supported by this "
			    "build");
			continue;
		}
		if ((strcmp(m, "LOGIN") == 0 || strcmp(m, "PLAIN") == 0) &&
		    !imap_is_secure(im) && !a->allow_plaintext) {
			sb_printf(&tried, "; %s: refusing to send the password "
			    "unencrypted (use ssl or starttls, or set "
			    "allow_plaintext_auth = yes)", m);
			continue;
		}
		if ((strcmp(m, "XOAUTH2") == 0 || strcmp(m, "OAUTHBEARER") ==
		    0) && a->oauth2_token == NULL)
			continue;
		why = NULL;
		rv = try_mech(im, a, m, &pw, &why);
		if (rv == 1)
			sb_printf(&tried, "; %s: %s", m, why ? why : "refused");
		free(why);
	}
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	sb_free(&mech);
	if (rv == 1) {
		if (tried.len == 0)
			imap_fail(im, IMAP_ERR_FATAL, "%s offers none of the "
			    "authentication mechanisms asked for (%s); it "
			    "offers: %s", im->opts.host ? im->opts.host :
			    "tunnel", a->mechanisms, imap_capabilities(im));
		else
			imap_fail(im, IMAP_ERR_FATAL, "could not log in to %s "
			    "as %s: %s", im->opts.host ? im->opts.host :
			    "tunnel", a->user, tried.s + 2);
		rv = -1;
	} else if (rv == 0 && !im->caps_fresh &&
	    imap_refresh_capabilities(im) == -1)
		rv = -1;
	sb_free(&tried);
	return rv;
}

/*
 * Byte-level use.  Nothing waits: a read or write that would block says
 * so, and imap_raw_pollfd() tells what to poll for, which with TLS may be
 * the other direction.
 */
int
imap_raw_start(struct imap *im)
{
	enum imap_err was = im->errkind;

	/* complete responses the parser read ahead (unsolicited ones after
	 * the login) are read through it, so none is half-consumed */
	while (im->parser && imap_parser_buffered(im->parser) > 0)
		if (imap_read(im) == -1)
			return -1;
	if (imap_flush(im) == -1)
		return -1;
	if (was == IMAP_ERR_NONE && im->errkind != IMAP_ERR_NONE)
		return -1;	/* a BYE among them */
	return 0;
}

static ssize_t
raw_read_once(struct imap *im, void *buf, size_t n)
{
	ssize_t r;

	im->rd_want = 0;
	if (im->tls) {
		r = tls_read(im->tls, buf, n);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
			im->rd_want = r == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
			return IMAP_AGAIN;
		}
		if (r == -1)
			imap_fail(im, IMAP_ERR_RETRY, "%s: TLS read: %s",
			    peer(im), tls_error(im->tls));
		return r;
	}
	for (;;) {
		r = read(im->fd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			im->rd_want = POLLIN;
			return IMAP_AGAIN;
		}
		imap_fail(im, IMAP_ERR_RETRY, "%s: read: %s", peer(im),
		    strerror(errno));
		return -1;
	}
}

ssize_t
imap_raw_read(struct imap *im, void *buf, size_t n)
{
	ssize_t r;
	int zr;

	if (im->fd == -1) {
		imap_fail(im, IMAP_ERR_RETRY, "not connected");
		return -1;
	}
	if (!im->compress)
		return raw_read_once(im, buf, n);
	for (;;) {
		/* inflate even without input: output may be pending */
		im->zin.next_out = buf;
		im->zin.avail_out = (uInt)(n > UINT_MAX ? UINT_MAX : n);
		zr = inflate(&im->zin, Z_SYNC_FLUSH);
		if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END) {
			imap_fail(im, IMAP_ERR_FATAL, "%s: bad compressed "
			    "data: %s", peer(im), im->zin.msg ? im->zin.msg :
			    "?");
			return -1;
		}
		r = (ssize_t)((char *)im->zin.next_out - (char *)buf);
		if (r > 0)
			return r;
		if ((r = raw_read_once(im, im->zbuf, im->zcap)) <= 0)
			return r;
		im->zin.next_in = (Bytef *)im->zbuf;
		im->zin.avail_in = (uInt)r;
	}
}

int
imap_raw_write(struct imap *im, const void *p, size_t n)
{
	if (im->fd == -1)
		return imap_fail(im, IMAP_ERR_RETRY, "not connected");
	/* what was sent goes: the buffer does not grow without end */
	if (im->rawoff >= 65536 && im->rawoff * 2 >= im->rawout.len) {
		memmove(im->rawout.s, im->rawout.s + im->rawoff,
		    im->rawout.len - im->rawoff);
		im->rawout.len -= im->rawoff;
		im->rawoff = 0;
	}
	if (!im->compress) {
		if (sb_add(&im->rawout, p, n) == -1)
			return imap_fail(im, IMAP_ERR_FATAL, "out of memory");
		return imap_raw_flush(im);
	}
	while (n > 0) {
		size_t piece = n > 1048576 ? 1048576 : n;

		im->zout.next_in = (Bytef *)(uintptr_t)p;
		im->zout.avail_in = (uInt)piece;
		do {
			if (sb_grow(&im->rawout, 16384) == -1)
				return imap_fail(im, IMAP_ERR_FATAL, "out of "
				    "memory");
			im->zout.next_out = (Bytef *)im->rawout.s +
			    im->rawout.len;
			im->zout.avail_out = 16384;
			if (deflate(&im->zout, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
				return imap_fail(im, IMAP_ERR_FATAL, "deflate "
				    "failed");
			im->rawout.len += 16384 - im->zout.avail_out;
			im->rawout.s[im->rawout.len] = '\0';
		} while (im->zout.avail_out == 0);
		p = (const char *)p + piece;
		n -= piece;
	}
	return imap_raw_flush(im);
}

int
imap_raw_flush(struct imap *im)
{
	ssize_t r;

	im->wr_want = 0;
	if (im->fd == -1)
		return imap_fail(im, IMAP_ERR_RETRY, "not connected");
	for (;;) {
		size_t left = im->rawout.len - im->rawoff;

		if (im->tls) {
			/* a write to retry is retried with the same bytes
			 * at the same place, whatever the buffer does */
			if (im->tlswlen == 0) {
				if (left == 0)
					break;
				if (im->tlsw == NULL &&
				    (im->tlsw = malloc(16384)) == NULL)
					return imap_fail(im, IMAP_ERR_FATAL,
					    "out of memory");
				im->tlswlen = left < 16384 ? left : 16384;
				memcpy(im->tlsw, im->rawout.s + im->rawoff,
				    im->tlswlen);
				im->rawoff += im->tlswlen;
			}
			r = tls_write(im->tls, im->tlsw, im->tlswlen);
			if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
				im->wr_want = r == TLS_WANT_POLLIN ? POLLIN :
				    POLLOUT;
				return 0;
			}
			if (r == -1)
				return imap_fail(im, IMAP_ERR_RETRY, "%s: TLS "
				    "write: %s", peer(im), tls_error(im->tls));
			memmove(im->tlsw, im->tlsw + r, im->tlswlen -
			    (size_t)r);
			im->tlswlen -= (size_t)r;
			continue;
		}
		if (left == 0)
			break;
		r = write(im->wfd, im->rawout.s + im->rawoff, left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			im->wr_want = POLLOUT;
			return 0;
		}
		if (r == -1)
			return imap_fail(im, IMAP_ERR_RETRY, "%s: write: %s",
			    peer(im), strerror(errno));
		im->rawoff += (size_t)r;
	}
	sb_reset(&im->rawout);
	im->rawoff = 0;
	return 0;
}

size_t
imap_raw_pending(const struct imap *im)
{
	return im->rawout.len - im->rawoff + im->tlswlen;
}

void
imap_raw_pollfd(const struct imap *im, int reading, struct pollfd pfd[2])
{
	short rd = 0, wr = 0;

	/* a read waits for what its last try said, or for data */
	if (reading)
		rd = im->rd_want ? im->rd_want : POLLIN;
	if (imap_raw_pending(im) > 0)
		wr = im->wr_want ? im->wr_want : POLLOUT;
	pfd[0].fd = im->fd;
	pfd[0].events = rd;
	pfd[0].revents = 0;
	pfd[1].fd = -1;
	pfd[1].events = 0;
	pfd[1].revents = 0;
	if (im->tls || im->wfd == im->fd)
		pfd[0].events |= wr;
	else if (wr) {
		pfd[1].fd = im->wfd;
		pfd[1].events = POLLOUT;
	}
}
