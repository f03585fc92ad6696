/*
 * options.c - every configuration option the tools know, with its scope,
 * type and default: the one place defaults live.  Facts from OfflineIMAP's
 * offlineimap.conf and code (shared/reference/offlineimap.md section 2).
 */
#include <string.h>

#include "config.h"

#define G	SC_GENERAL
#define A	SC_ACCOUNT
#define R	SC_REPO
#define M	SC_MBNAMES
#define IMAPT	"IMAP Gmail"
#define MDIR	"Maildir GmailMaildir"

const struct opt_def opt_table[] = {
	/* [general] */
	{ G, NULL, "accounts", OPT_LIST, DF_PLAIN, NULL, "accounts to sync" },
	{ G, NULL, "metadata", OPT_PATH, DF_PLAIN, "~/.offlineimap",
	    "status and state directory" },
	{ G, NULL, "maxsyncaccounts", OPT_INT, DF_PLAIN, "1",
	    "accounts synced in parallel" },
	{ G, NULL, "ui", OPT_STRING, DF_PLAIN, "ttyui", "user interface" },
	{ G, NULL, "ignore-readonly", OPT_BOOL, DF_PLAIN, "no",
	    "no warnings for read-only folders" },
	{ G, NULL, "pythonfile", OPT_PATH, DF_PLAIN, NULL,
	    "Python helpers for expressions" },
	{ G, NULL, "socktimeout", OPT_INT, DF_PLAIN, "0",
	    "socket timeout in seconds, 0 for none" },
	{ G, NULL, "fsync", OPT_BOOL, DF_PLAIN, "yes",
	    "fsync messages and state" },
	{ G, NULL, "filename_use_mail_timestamp", OPT_BOOL, DF_PLAIN, "no",
	    "default of the repository option" },
	{ G, NULL, "utime_from_header", OPT_BOOL, DF_PLAIN, "no",
	    "default of the repository option" },
	{ G, NULL, "dry-run", OPT_BOOL, DF_PLAIN, "no", "change nothing" },
	{ G, NULL, "ignore-keyring", OPT_BOOL, DF_PLAIN, "no",
	    "do not look passwords up in a keyring" },
	{ G, NULL, "update-keyring", OPT_BOOL, DF_PLAIN, "no",
	    "store passwords in a keyring" },

	/* [mbnames] */
	{ M, NULL, "enabled", OPT_BOOL, DF_PLAIN, "no",
	    "write the mailbox list" },
	{ M, NULL, "filename", OPT_PATH, DF_PLAIN, NULL, "mailbox list file" },
	{ M, NULL, "header", OPT_PYTHON, DF_PLAIN, NULL, "text before" },
	{ M, NULL, "peritem", OPT_RAW, DF_PLAIN, NULL,
	    "%-format of one folder" },
	{ M, NULL, "sep", OPT_PYTHON, DF_PLAIN, NULL, "text between" },
	{ M, NULL, "footer", OPT_PYTHON, DF_PLAIN, NULL, "text after" },
	{ M, NULL, "incremental", OPT_BOOL, DF_PLAIN, "no",
	    "rewrite after each account" },
	{ M, NULL, "folderfilter", OPT_PYTHON, DF_PLAIN, NULL,
	    "f(account, folder) -> bool" },
	{ M, NULL, "sort_keyfunc", OPT_PYTHON, DF_PLAIN,
	    "lambda d: (d['accountname'], d['foldername'])", "sort key" },

	/* [Account X] */
	{ A, NULL, "localrepository", OPT_STRING, DF_PLAIN, NULL,
	    "local repository name" },
	{ A, NULL, "remoterepository", OPT_STRING, DF_PLAIN, NULL,
	    "remote repository name" },
	{ A, NULL, "autorefresh", OPT_FLOAT, DF_PLAIN, NULL,
	    "minutes between syncs (daemon mode)" },
	{ A, NULL, "quick", OPT_INT, DF_PLAIN, "0",
	    "quick syncs between full ones (-1: always)" },
	{ A, NULL, "presynchook", OPT_STRING, DF_PLAIN, NULL,
	    "command run before a sync" },
	{ A, NULL, "postsynchook", OPT_STRING, DF_PLAIN, NULL,
	    "command run after a sync" },
	{ A, NULL, "maxsize", OPT_INT, DF_PLAIN, NULL,
	    "ignore messages bigger than this (bytes)" },
	{ A, NULL, "maxage", OPT_STRING, DF_PLAIN, NULL,
	    "days, or YYYY-mm-dd: ignore older messages" },
	{ A, NULL, "maildir-windows-compatible", OPT_BOOL, DF_PLAIN, "no",
	    "'!' instead of ':' in file names" },
	{ A, NULL, "synclabels", OPT_BOOL, DF_PLAIN, "no", "Gmail labels" },
	{ A, NULL, "labelsheader", OPT_STRING, DF_PLAIN, "X-Keywords",
	    "header holding Gmail labels" },
	{ A, NULL, "ignorelabels", OPT_LIST, DF_PLAIN, "",
	    "labels never synced" },
	{ A, NULL, "filterheaders", OPT_LIST, DF_PLAIN, "",
	    "headers removed before upload" },
	{ A, NULL, "proxy", OPT_STRING, DF_PLAIN, NULL, "TYPE:host:port" },
	{ A, NULL, "authproxy", OPT_STRING, DF_PLAIN, NULL,
	    "proxy for OAuth2 requests" },
	{ A, NULL, "utf8foldernames", OPT_BOOL, DF_PLAIN, "no",
	    "UTF-8 folder names locally" },
	{ A, NULL, "status_backend", OPT_STRING, DF_PLAIN, NULL,
	    "removed in OfflineIMAP 8: any value is an error" },

	/* [Repository X], every type */
	{ R, NULL, "type", OPT_STRING, DF_PLAIN, NULL,
	    "IMAP, Gmail, Maildir or GmailMaildir" },
	{ R, NULL, "readonly", OPT_BOOL, DF_PLAIN, "no",
	    "never change this repository" },
	{ R, NULL, "nametrans", OPT_PYTHON, DF_PLAIN, NULL,
	    "f(name) -> name on the other side" },
	{ R, NULL, "folderfilter", OPT_PYTHON, DF_PLAIN, NULL,
	    "f(name) -> bool" },
	{ R, NULL, "folderincludes", OPT_PYTHON, DF_PLAIN, "[]",
	    "extra folders" },
	{ R, NULL, "foldersort", OPT_PYTHON, DF_PLAIN, NULL,
	    "cmp(x, y) on folder names" },
	{ R, NULL, "dynamic_folderfilter", OPT_BOOL, DF_PLAIN, "no",
	    "evaluate folderfilter every time" },
	{ R, NULL, "createfolders", OPT_BOOL, DF_PLAIN, "yes",
	    "create folders here" },
	{ R, NULL, "sync_deletes", OPT_BOOL, DF_PLAIN, "yes",
	    "propagate deletions made here" },
	{ R, NULL, "startdate", OPT_STRING, DF_PLAIN, NULL,
	    "YYYY-mm-dd: only newer messages" },

	/* Maildir */
	{ R, MDIR, "localfolders", OPT_PATH, DF_PLAIN, NULL, "Maildir root" },
	{ R, MDIR, "sep", OPT_STRING, DF_PLAIN, ".",
	    "folder hierarchy separator" },
	{ R, MDIR, "restoreatime", OPT_BOOL, DF_PLAIN, "no",
	    "restore atimes after a sync" },
	{ R, MDIR, "utime_from_header", OPT_BOOL, DF_GENERAL, NULL,
	    "mtime from the Date header" },
	{ R, MDIR, "filename_use_mail_timestamp", OPT_BOOL, DF_GENERAL, NULL,
	    "file name time from the Date header" },
	{ R, MDIR, "customflag_*", OPT_STRING, DF_PLAIN, NULL,
	    "IMAP keyword for a lower-case flag letter" },

	/* IMAP and Gmail */
	{ R, "Gmail", "remotehost", OPT_STRING, DF_PLAIN, "imap.gmail.com",
	    "server" },
	{ R, IMAPT, "remotehost", OPT_STRING, DF_PLAIN, NULL, "server" },
	{ R, IMAPT, "remotehosteval", OPT_PYTHON, DF_PLAIN, NULL, "server" },
	{ R, "Gmail", "remoteport", OPT_INT, DF_PLAIN, "993", "port" },
	{ R, IMAPT, "remoteport", OPT_INT, DF_PORT, NULL, "port" },
	{ R, IMAPT, "remoteporteval", OPT_PYTHON, DF_PLAIN, NULL, "port" },
	{ R, IMAPT, "remoteuser", OPT_STRING, DF_PLAIN, NULL, "user name" },
	{ R, IMAPT, "remoteusereval", OPT_PYTHON, DF_PLAIN, NULL, "user name" },
	{ R, IMAPT, "remotepass", OPT_STRING, DF_PLAIN, NULL, "password" },
	{ R, IMAPT, "remotepassfile", OPT_TILDE, DF_PLAIN, NULL,
	    "file whose first line is the password" },
	{ R, IMAPT, "remotepasseval", OPT_PYTHON, DF_PLAIN, NULL, "password" },
	{ R, IMAPT, "remotepasscmd", OPT_STRING, DF_PLAIN, NULL,
	    "command whose first output line is the password (ours)" },
	{ R, IMAPT, "remote_identity", OPT_STRING, DF_PLAIN, NULL,
	    "SASL authorization identity" },
	{ R, IMAPT, "auth_mechanisms", OPT_LIST, DF_PLAIN,
	    "GSSAPI, XOAUTH2, CRAM-MD5, PLAIN, LOGIN", "in this order" },
	{ R, IMAPT, "ssl", OPT_BOOL, DF_PLAIN, "yes", "implicit TLS" },
	{ R, IMAPT, "starttls", OPT_BOOL, DF_PLAIN, "yes",
	    "STARTTLS when ssl is off" },
	{ R, IMAPT, "sslcacertfile", OPT_PATH, DF_PLAIN, NULL,
	    "CA bundle, or OS-DEFAULT" },
	{ R, IMAPT, "cert_fingerprint", OPT_LIST, DF_PLAIN, NULL,
	    "accepted certificate fingerprints" },
	{ R, IMAPT, "sslclientcert", OPT_PATH, DF_PLAIN, NULL,
	    "client certificate" },
	{ R, IMAPT, "sslclientkey", OPT_PATH, DF_PLAIN, NULL,
	    "client key" },
	{ R, IMAPT, "sslverify", OPT_BOOL, DF_PLAIN, "yes",
	    "verify the server certificate and name (ours)" },
	{ R, IMAPT, "allow_plaintext_auth", OPT_BOOL, DF_PLAIN, "no",
	    "LOGIN/PLAIN on an unencrypted link to a remote host (ours)" },
	{ R, IMAPT, "ssl_version", OPT_STRING, DF_PLAIN, NULL,
	    "tls1, tls1_1, tls1_2, ssl3, ssl23" },
	{ R, IMAPT, "tls_level", OPT_STRING, DF_PLAIN, "tls_compat",
	    "tls_compat, tls_no_ssl or tls_secure" },
	{ R, IMAPT, "ipv6", OPT_BOOL, DF_PLAIN, NULL,
	    "yes: IPv6 only, no: IPv4 only" },
	{ R, IMAPT, "preauthtunnel", OPT_STRING, DF_PLAIN, NULL,
	    "command speaking IMAP, already logged in" },
	{ R, IMAPT, "transporttunnel", OPT_STRING, DF_PLAIN, NULL,
	    "command carrying the IMAP stream" },
	{ R, IMAPT, "reference", OPT_STRING, DF_PLAIN, "",
	    "LIST reference (folder root)" },
	{ R, IMAPT, "subscribedonly", OPT_BOOL, DF_PLAIN, "no",
	    "LSUB instead of LIST" },
	{ R, IMAPT, "idlefolders", OPT_PYTHON, DF_PLAIN, "[]",
	    "folders to IDLE on" },
	{ R, IMAPT, "maxconnections", OPT_INT, DF_PLAIN, "1",
	    "parallel connections" },
	{ R, IMAPT, "singlethreadperfolder", OPT_BOOL, DF_PLAIN, "no",
	    "copy messages one at a time (yes with idlefolders)" },
	{ R, IMAPT, "holdconnectionopen", OPT_BOOL, DF_PLAIN, "no",
	    "keep connections between syncs (yes with idlefolders)" },
	{ R, IMAPT, "holdsocket", OPT_STRING, DF_PLAIN, NULL,
	    "imap-hold(1) socket lending the connection (ours; set by the driver)" },
	{ R, IMAPT, "earlylogin", OPT_STRING, DF_PLAIN, "auto",
	    "sync-apply logs in beside the listings (ours; auto: not on loopback)" },
	{ R, IMAPT, "sharedlogin", OPT_BOOL, DF_PLAIN, "yes",
	    "imap-list and sync-apply share one login per sync (ours)" },
	{ R, IMAPT, "keepalive", OPT_INT, DF_PLAIN, "0",
	    "seconds between NOOPs (1740 with idlefolders)" },
	{ R, IMAPT, "expunge", OPT_BOOL, DF_PLAIN, "yes",
	    "expunge deleted messages" },
	{ R, IMAPT, "usecompression", OPT_BOOL, DF_PLAIN, "no",
	    "COMPRESS=DEFLATE" },
	{ R, IMAPT, "retrycount", OPT_INT, DF_PLAIN, "2",
	    "retries of a failed fetch" },
	{ R, IMAPT, "copy_ignore_eval", OPT_PYTHON, DF_PLAIN, NULL,
	    "f(folder) -> UIDs not to copy" },
	{ R, IMAPT, "newmail_hook", OPT_PYTHON, DF_PLAIN, NULL,
	    "called when new mail arrived in INBOX" },
	{ R, IMAPT, "decodefoldernames", OPT_BOOL, DF_PLAIN, "no",
	    "deprecated" },
	{ R, IMAPT, "oauth2_client_id", OPT_STRING, DF_PLAIN, NULL, "OAuth2" },
	{ R, IMAPT, "oauth2_client_id_eval", OPT_PYTHON, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_client_secret", OPT_STRING, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_client_secret_eval", OPT_PYTHON, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_refresh_token", OPT_STRING, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_refresh_token_eval", OPT_PYTHON, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_access_token", OPT_STRING, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_access_token_eval", OPT_PYTHON, DF_PLAIN, NULL,
	    "OAuth2" },
	{ R, IMAPT, "oauth2_access_token_cmd", OPT_STRING, DF_PLAIN, NULL,
	    "command printing an OAuth2 access token (ours)" },
	{ R, "Gmail", "oauth2_request_url", OPT_STRING, DF_PLAIN,
	    "https://accounts.google.com/o/oauth2/token", "OAuth2" },
	{ R, IMAPT, "oauth2_request_url", OPT_STRING, DF_PLAIN, NULL,
	    "OAuth2 token endpoint" },
	{ R, IMAPT, "sep", OPT_STRING, DF_PLAIN, NULL,
	    "ignored: the server gives the separator" },
	{ R, "Gmail", "trashfolder", OPT_STRING, DF_PLAIN, "[Gmail]/Trash",
	    "unused" },
	{ R, "Gmail", "spamfolder", OPT_STRING, DF_PLAIN, "[Gmail]/Spam",
	    "unused" },
	{ 0, NULL, NULL, OPT_STRING, DF_PLAIN, NULL, NULL }
};

static int
type_matches(const char *types, const char *type)
{
	size_t n;

	if (types == NULL)
		return 1;
	if (type == NULL)
		return 0;
	n = strlen(type);
	while (*types) {
		size_t w = strcspn(types, " ");

		if (w == n && strncmp(types, type, n) == 0)
			return 1;
		types += w;
		types += strspn(types, " ");
	}
	return 0;
}

static int
key_matches(const char *pattern, const char *key)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, key, n - 1) == 0 && key[n - 1] != '\0';
	return strcmp(pattern, key) == 0;
}

/*
 * An entry made for exactly this repository type (Gmail's remotehost) wins
 * over a shared one (IMAP's and Gmail's); without a known type, shared
 * entries only.
 */
const struct opt_def *
opt_lookup(unsigned scope, const char *repotype, const char *key)
{
	const struct opt_def *o;

	if (scope == SC_REPO && repotype != NULL)
		for (o = opt_table; o->key; o++)
			if ((o->scope & scope) && o->types &&
			    strcmp(o->types, repotype) == 0 &&
			    key_matches(o->key, key))
				return o;
	for (o = opt_table; o->key; o++) {
		if (!(o->scope & scope) || !key_matches(o->key, key))
			continue;
		if (scope == SC_REPO && repotype && !type_matches(o->types,
		    repotype))
			continue;
		if (scope == SC_REPO && repotype == NULL && o->types &&
		    strchr(o->types, ' ') == NULL)
			continue;
		return o;
	}
	return NULL;
}

const char *
opt_type_name(enum opt_type t)
{
	switch (t) {
	case OPT_STRING: return "string";
	case OPT_BOOL: return "bool";
	case OPT_INT: return "int";
	case OPT_FLOAT: return "float";
	case OPT_PATH: return "path";
	case OPT_TILDE: return "path";
	case OPT_LIST: return "list";
	case OPT_PYTHON: return "python";
	case OPT_RAW: return "raw";
	}
	return "string";
}
