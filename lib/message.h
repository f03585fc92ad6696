/*
 * message.h - a Maildir message as it is uploaded: its bytes with every
 * bare LF made CRLF (nothing else changed), optionally preceded by one
 * header line of ours, read piece by piece for an APPEND literal
 * (imap.h's struct imap_literal), never whole in memory.
 */
#ifndef OI_MESSAGE_H
#define OI_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

struct msgsrc {
	int		 fd;
	uint64_t	 size;		/* bytes as sent, header included */
	char		*msgid;		/* the Message-ID value, or NULL */
	long long	 mtime;		/* the file's, seconds */
	/* reading */
	char		*extra;		/* "Name: value\r\n" sent first */
	size_t		 extra_off;
	char		*in;		/* file bytes read, not yet sent */
	size_t		 inlen, inpos;
	int		 prev_cr;	/* the last file byte sent was CR */
	int		 owe_lf;	/* a CR was sent for a bare LF */
	int		 eof;
};

/*
 * Open path and measure it (one pass: the size as sent, the Message-ID
 * from the header block).  header ("X-OfflineIMAP: 123-456", no line
 * end) is sent before the message when not NULL.  -1 with *err.
 */
int	 msgsrc_open(struct msgsrc *, const char *path, const char *header,
	    char **err);
/* For struct imap_literal: the next bytes as sent. */
long	 msgsrc_read(void *ctx, char *buf, size_t n);
void	 msgsrc_close(struct msgsrc *);

/* The Message-ID field of a header block (unfolded, trimmed), malloc'd,
 * or NULL if there is none. */
char	*msg_header_msgid(const char *header, size_t len);

/* crc32 of a file's bytes (for OfflineIMAP's X-OfflineIMAP value). */
int	 msg_crc32(const char *path, uint32_t *crc);

/* "DD-Mon-YYYY HH:MM:SS +HHMM" in local time, OfflineIMAP's INTERNALDATE
 * for APPEND; into buf (at least 32 bytes). */
void	 msg_internaldate(long long t, char *buf, size_t len);
/* The same format back to Unix time; -1 if it cannot be read. */
long long msg_parse_internaldate(const char *);

#endif
