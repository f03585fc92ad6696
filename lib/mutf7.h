/* mutf7.h - IMAP's modified UTF-7 folder names (RFC 3501 section 5.1.3) */
#ifndef OI_MUTF7_H
#define OI_MUTF7_H

#include <stddef.h>

/* UTF-8 to modified UTF-7; NULL with errno EILSEQ for invalid UTF-8. */
char	*mutf7_encode(const char *utf8);
/* Modified UTF-7 to UTF-8; NULL with errno EILSEQ unless the input is
 * well-formed and in the one canonical form (so that encode(decode(x))
 * gives x back). */
char	*mutf7_decode(const char *mutf7);

#endif
