/*
 * imap.h - an IMAP client connection: transport (TCP, TLS, STARTTLS,
 * tunnels), pipelined commands matched by tag, capabilities, and
 * authentication.  Responses are parsed by imap-parse.c.
 */
#ifndef OI_IMAP_H
#define OI_IMAP_H

#include <sys/types.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>

#include "imap-parse.h"

struct imap_opts {
	const char	*host;		/* server, also the TLS name checked */
	const char	*port;		/* NULL: 993 with ssl, else 143 */
	const char	*tunnel;	/* command carrying the IMAP stream */
	const char	*socket;	/* an imap-hold(1) socket: wins over
					   host and tunnel; no TLS, and the
					   greeting must be PREAUTH */
	int		 preauth;	/* the tunnel is logged in already */
	int		 ssl;		/* implicit TLS */
	int		 starttls;	/* without ssl: STARTTLS, required */
	int		 verify;	/* certificate chain and host name */
	const char	*cafile;	/* NULL: the system's CA store */
	const char	*fingerprints;	/* hex, comma-separated, ':' allowed */
	const char	*protocols;	/* libtls protocol list, NULL default */
	const char	*clientcert;
	const char	*clientkey;
	int		 timeout;	/* seconds without progress, 0: none */
	int		 family;	/* AF_UNSPEC, AF_INET or AF_INET6 */
	FILE		*trace;		/* protocol trace, secrets masked */
};

/* What kind of failure the last error was. */
enum imap_err {
	IMAP_ERR_NONE,
	IMAP_ERR_FATAL,		/* configuration, trust, refused login */
	IMAP_ERR_RETRY		/* network: worth trying again later */
};

struct imap;

/* Called for every untagged response while waiting for a reply. */
typedef int (*imap_untagged_fn)(void *ctx, struct imap *,
    const struct iresp *);

struct imap *imap_new(const struct imap_opts *);
void	 imap_free(struct imap *);
/* Connect, TLS as asked, read the greeting and the capabilities. */
int	 imap_connect(struct imap *);
const char *imap_error(const struct imap *);
enum imap_err imap_errkind(const struct imap *);
/* Set an error (for callers that find a protocol problem). */
int	 imap_fail(struct imap *, enum imap_err, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

int	 imap_has(const struct imap *, const char *capability);
int	 imap_is_preauth(const struct imap *);
int	 imap_is_secure(const struct imap *);	/* TLS, tunnel, loopback,
						   imap-hold socket */
const char *imap_greeting(const struct imap *);
/* Capabilities, space-separated, as the server sent them. */
const char *imap_capabilities(const struct imap *);
int	 imap_refresh_capabilities(struct imap *);

void	 imap_set_untagged(struct imap *, imap_untagged_fn, void *);
void	 imap_set_sink(struct imap *, imap_sink_fn, void *);

/*
 * Queue a command; returns its tag number (0 on error).  Format
 * directives: %s text as is, %u unsigned, %lu unsigned long, %llu
 * unsigned long long, %a an astring (atom, quoted string or literal as
 * needed), %m a mailbox name (UTF-8; sent in modified UTF-7 unless UTF8
 * mode is on), %p a secret astring (masked in the trace), %L a literal
 * streamed from a struct imap_literal (a message).  Commands are
 * buffered: imap_flush() sends them, imap_wait() flushes itself.
 */
uint32_t imap_cmd(struct imap *, const char *fmt, ...);

/* A literal of exactly len bytes, read piece by piece: read() returns
 * the bytes it put in buf (at most n), 0 at the end, -1 on error. */
struct imap_literal {
	uint64_t	 len;
	long		(*read)(void *ctx, char *buf, size_t n);
	void		*ctx;
};
int	 imap_flush(struct imap *);

/* Result of a completed command. */
struct imap_reply {
	enum istatus	 status;	/* IS_OK, IS_NO, IS_BAD */
	char		*code;		/* response code with arguments, or NULL */
	char		*text;
};

/* Read responses until command tag completes; untagged ones go to the
 * handler.  Returns 0 with *reply filled (free with imap_reply_free) or
 * -1 when the connection failed. */
int	 imap_wait(struct imap *, uint32_t tag, struct imap_reply *reply);
void	 imap_reply_free(struct imap_reply *);
/* Run one fixed command and wait: 0 OK, 1 NO/BAD (error set), -1 lost. */
int	 imap_simple(struct imap *, const char *command);

/* Authenticate with the first mechanism of the list (comma-separated,
 * OfflineIMAP's names) that the server offers and that works.  The
 * password callback is only called when a mechanism needs it. */
struct imap_auth {
	const char	*mechanisms;
	const char	*user;
	const char	*identity;	/* SASL PLAIN authorization identity */
	int		 allow_plaintext; /* LOGIN/PLAIN on a plain link */
	char		*(*password)(void *ctx, char **err);
	char		*(*oauth2_token)(void *ctx, char **err);
	void		*ctx;
};
int	 imap_login(struct imap *, const struct imap_auth *);

/*
 * For a caller that waits on several connections with poll(2), as IDLE
 * needs (RFC 2177): imap_fd() is the descriptor to wait on for reading;
 * imap_buffered() says responses (or parts) were read already and wait
 * in memory, so read them before polling again; imap_read() reads one
 * response, waiting for the rest of it as imap_wait() does (untagged
 * ones go to the handler; a tagged one completes its command, which
 * imap_done() then says and imap_wait() returns without reading).
 * imap_read returns 1 for a continuation request ("+ idling"), 0 for
 * any other response, -1 when the connection failed.
 */
int	 imap_fd(const struct imap *);
int	 imap_buffered(const struct imap *);
int	 imap_read(struct imap *);
int	 imap_done(const struct imap *, uint32_t tag);
/* Send a line that is not a command (DONE, ending IDLE); traced. */
int	 imap_send_line(struct imap *, const char *line);

/* COMPRESS=DEFLATE from now on, if the server offers it (RFC 4978). */
int	 imap_compress(struct imap *);

int	 imap_logout(struct imap *);

/*
 * Byte-level use of a logged-in connection, for a broker that relays it
 * (imap-hold): after imap_raw_start() the parser and imap_cmd() are no
 * longer used, nothing is traced, and nothing waits.  Bytes go through
 * TLS and COMPRESS=DEFLATE as the connection has them.
 * imap_raw_read: >0 bytes read, 0 end of stream, -1 error (imap_error),
 * IMAP_AGAIN nothing now (poll first).  imap_raw_write queues the bytes
 * and sends what it can; imap_raw_flush sends more; both 0 or -1.
 * imap_raw_pollfd fills pfd[0] for the read side and pfd[1] for a
 * tunnel's write side (fd -1 when there is none) with what to wait for:
 * reading if the caller wants to read, writing while bytes are queued
 * (with TLS either may need the other direction).
 */
#define IMAP_AGAIN	(-2)
int	 imap_raw_start(struct imap *);
ssize_t	 imap_raw_read(struct imap *, void *, size_t);
int	 imap_raw_write(struct imap *, const void *, size_t);
int	 imap_raw_flush(struct imap *);
size_t	 imap_raw_pending(const struct imap *);
void	 imap_raw_pollfd(const struct imap *, int reading, struct pollfd[2]);

#endif
