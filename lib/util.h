/* util.h - small helpers shared by lib/ and the tools */
#ifndef OI_UTIL_H
#define OI_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* Exit statuses of every tool (see offlineimap-tools(7)). */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* some items failed, bad input, usage */
#define EXIT_RETRY	75	/* worth retrying later: EX_TEMPFAIL */

/* A growable byte buffer; always NUL-terminated after a successful call. */
struct sb {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

int	 sb_grow(struct sb *, size_t);
int	 sb_add(struct sb *, const void *, size_t);
/* A code point (at most 0x10ffff) as UTF-8. */
int	 sb_add_utf8(struct sb *, long cp);
int	 sb_adds(struct sb *, const char *);
int	 sb_addc(struct sb *, int);
int	 sb_printf(struct sb *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 sb_vprintf(struct sb *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 sb_reset(struct sb *);
void	 sb_free(struct sb *);
/* Overwrite, then free: for buffers that held a secret. */
void	 sb_wipe(struct sb *);

/* For tools only: allocate or exit with a message. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);

/* Milliseconds of a clock that counts a suspend too, where there is one
 * (keepalives overdue after a resume are then noticed at once). */
long long now_ms(void);

/* Flush and check stdout; returns -1 (errno set) if output was lost. */
int	 close_stdout(void);

/* Base64 (RFC 4648, with padding). */
int	 b64_encode(struct sb *, const void *, size_t);
/* Decode, skipping whitespace; -1 on a malformed input. */
int	 b64_decode(struct sb *, const char *, size_t);
#endif
