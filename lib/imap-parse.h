/*
 * imap-parse.h - the IMAP response parser (RFC 3501 / RFC 9051 grammar).
 *
 * Reads server responses from a byte source and returns them one at a
 * time as a small tree.  Memory is bounded for everything except message
 * literals (the value of a FETCH item BODY[...], BINARY[...], RFC822,
 * RFC822.TEXT, RFC822.HEADER), which are handed to a sink callback in
 * pieces as they arrive and never held whole.  A malformed response is an
 * error whose message shows the offending bytes escaped; it never crashes:
 *	malformed response: expected ')' after "* 1 FETCH (UID 5" at "x"
 * (the bytes before the error, then those at it or "at end of line").
 */
#ifndef OI_IMAP_PARSE_H
#define OI_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IMAP_LINE_MAX	(64u * 1024 * 1024)	/* one response, literals
						   streamed to the sink apart */
#define IMAP_LIT_MAX	(1u * 1024 * 1024)	/* a literal kept in memory */
#define IMAP_VALUES_MAX	(4u * 1024 * 1024)	/* values in one response:
						   bounds the tree's memory */

enum ival_kind {
	IV_ATOM,	/* also numbers, flags (\Seen), BODY[...]<n> */
	IV_STRING,	/* quoted string or literal, kept in memory */
	IV_NIL,
	IV_LIST,	/* ( ... ) */
	IV_STREAMED	/* message data given to the sink; len is its size
			   (a literal, or a quoted string in one piece) */
};

struct ival {
	enum ival_kind	 kind;
	char		*s;	/* ATOM, STRING: NUL-terminated (may hold NUL) */
	size_t		 len;	/* ATOM, STRING: bytes; STREAMED: literal size */
	struct ival	*items;	/* LIST */
	size_t		 n;
};

enum iresp_kind {
	IR_TAGGED,	/* "a1 OK ..." */
	IR_UNTAGGED,	/* "* ..." */
	IR_CONTINUE	/* "+ ..." */
};

enum istatus {
	IS_NONE,	/* untagged data, not a status response */
	IS_OK,
	IS_NO,
	IS_BAD,
	IS_BYE,
	IS_PREAUTH
};

struct iresp {
	enum iresp_kind	 kind;
	char		*tag;		/* IR_TAGGED */
	enum istatus	 status;
	/* status responses: "[CODE args] text" */
	char		*code;		/* upper-cased, NULL if none */
	struct ival	 code_args;	/* IV_LIST of the code's arguments;
					   bracket-less atoms and lists, or
					   one IV_STRING holding free text
					   that does not parse as values */
	char		*text;		/* the human-readable rest ("" if none);
					   for IR_CONTINUE the line after "+ ";
					   may hold control bytes (not NUL,
					   CR, LF): escape it to print it */
	/* untagged data: "* 12 EXISTS", "* LIST (...) "/" INBOX" */
	int		 has_number;
	uint32_t	 number;	/* the leading number, if any */
	char		*name;		/* upper-cased keyword: EXISTS, FETCH,
					   LIST, CAPABILITY, ...; for status
					   responses OK, NO, ... */
	struct ival	 args;		/* IV_LIST: the values after name
					   ("* 5 FETCH (...)": one list) */
};

/*
 * Called for each piece of a streamed literal (or once for a quoted string
 * in the same place): msgno the FETCH response's message number, item the
 * FETCH item name it belongs to (upper-cased, e.g. "BODY[]"), uid the UID
 * in the same FETCH
 * response if it came before the literal (0 if not yet known), total the
 * literal's announced size; the last call has final = 1 (and may have
 * n = 0).  A return of -1 aborts parsing with an error.
 */
typedef int (*imap_sink_fn)(void *ctx, uint32_t msgno, const char *item,
    uint32_t uid, uint64_t total, const char *data, size_t n, int final);

/* Byte source: like read(2): >0 bytes, 0 end of stream, -1 error. */
typedef ssize_t (*imap_read_fn)(void *ctx, void *buf, size_t n);

struct imap_parser;

struct imap_parser *imap_parser_new(imap_read_fn, void *ctx);
void	 imap_parser_free(struct imap_parser *);
void	 imap_parser_set_reader(struct imap_parser *, imap_read_fn, void *);
void	 imap_parser_set_sink(struct imap_parser *, imap_sink_fn, void *);
/* 1: *out is the next response (valid until the next call);
 * 0: the stream ended cleanly between responses; -1: error. */
int	 imap_parser_next(struct imap_parser *, struct iresp **out);
const char *imap_parser_error(const struct imap_parser *);
/* Bytes read from the source but not yet parsed (must be 0 when a
 * connection switches to TLS after STARTTLS). */
size_t	 imap_parser_buffered(const struct imap_parser *);

/* Helpers on parsed values. */
/* The value after the FETCH item name (case-insensitive) in a list of
 * name/value pairs, or NULL. */
const struct ival *ival_get(const struct ival *list, const char *name);
/* A decimal number (atom) up to 2^32-1 / 2^64-1; -1 if it is not one. */
int	 ival_u32(const struct ival *, uint32_t *);
int	 ival_u64(const struct ival *, uint64_t *);
/* An atom equal to s, case-insensitively. */
int	 ival_is(const struct ival *, const char *s);
/* Astring / nstring text: ATOM or STRING; NULL otherwise (NIL). */
const char *ival_str(const struct ival *);

/* Escape bytes for an error message: printable ASCII as is, the rest
 * \xNN, at most max input bytes then "...".  Returns malloc'd text. */
char	*imap_escape(const char *, size_t, size_t max);

#endif
