/*
 * remote.h - an IMAP repository of the configuration, connected and
 * logged in: every option of OfflineIMAP's [Repository X] that concerns
 * the connection, and the password and user sources in OfflineIMAP's
 * order.
 */
#ifndef OI_REMOTE_H
#define OI_REMOTE_H

#include <stdio.h>

#include "config.h"
#include "imap.h"

struct remote {
	struct config	*cfg;
	char		*section;	/* "Repository NAME" */
	char		*type;		/* IMAP or Gmail */
	struct imap_opts opts;
	struct imap_auth auth;
	int		 utf8names;	/* the account's utf8foldernames */
	char		*reference;
	int		 subscribedonly;
	int		 compress;	/* usecompression */
	char		*holdsock;	/* holdsocket: an imap-hold(1) socket
					   lends the connection, logged in */
	/* strings the options point into */
	char		*host, *port, *tunnel, *cafile, *fps, *protocols;
	char		*cert, *key, *mechs, *user, *identity;
	char		*err;
	char		*pwcache;	/* the password, once looked up */
};

/* The remote repository of an account ("Account X"), or NULL. */
char	*remote_of_account(struct config *, const char *account, char **err);
/* Read the repository's options; -1 with r->err set. */
int	 remote_init(struct remote *, struct config *, const char *repo,
	    const char *account);
/* Connect and log in; NULL with r->err set and *retry telling whether
 * the failure is worth retrying later (exit 75).  With holdsocket the
 * connection is borrowed from imap-hold instead: no password is looked
 * up, and no COMPRESS is tried. */
struct imap *remote_connect(struct remote *, FILE *trace, int *retry);
void	 remote_free(struct remote *);

/* netrc lookup for host: login and password (either may be NULL). */
int	 netrc_lookup(const char *path, const char *host, char **login,
	    char **password);

#endif
