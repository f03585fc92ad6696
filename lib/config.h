/*
 * config.h - OfflineIMAP's configuration file, read as Python's
 * configparser reads it: [sections], "key = value" or "key: value",
 * indented continuation lines, full-line '#' and ';' comments (no inline
 * comments), case-insensitive keys, [DEFAULT] values visible everywhere,
 * %(name)s interpolation with %% for a literal %, strict duplicate checks.
 *
 * Errors are "file:line: what is wrong" and never abort the process.
 */
#ifndef OI_CONFIG_H
#define OI_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum opt_type {
	OPT_STRING,
	OPT_BOOL,	/* 1/yes/true/on, 0/no/false/off */
	OPT_INT,
	OPT_FLOAT,
	OPT_PATH,	/* ~ and $VAR expanded */
	OPT_TILDE,	/* ~ expanded only */
	OPT_LIST,	/* comma-separated */
	OPT_PYTHON,	/* a Python expression */
	OPT_RAW		/* read without %-interpolation */
};

/* Where an option may appear. */
#define SC_GENERAL	0x01
#define SC_ACCOUNT	0x02
#define SC_REPO		0x04
#define SC_MBNAMES	0x08

/* How a default is found when it is not a plain string. */
enum opt_dflt {
	DF_PLAIN,	/* the string in def (NULL: no default) */
	DF_GENERAL,	/* the [general] option of the same name */
	DF_PORT		/* 993 with ssl, 143 without */
};

struct opt_def {
	unsigned	 scope;
	const char	*types;		/* repository types, NULL for all */
	const char	*key;		/* trailing '*': a prefix */
	enum opt_type	 type;
	enum opt_dflt	 dflt;
	const char	*def;
	const char	*doc;
};

extern const struct opt_def opt_table[];

/* The entry for key in a section of this scope (and repository type). */
const struct opt_def *opt_lookup(unsigned scope, const char *repotype,
	    const char *key);
const char *opt_type_name(enum opt_type);

struct config;

struct config *config_new(void);
void	 config_free(struct config *);
/* The file offlineimap reads without -c (malloc'd): the XDG one if it
 * exists, else ~/.offlineimaprc. */
char	*config_default_path(void);
int	 config_read(struct config *, const char *path);
/* What every tool does: read path (NULL: config_default_path()), then
 * apply the -k overrides in order.  NULL with *err malloc'd. */
struct config *config_load(const char *path, char *const *overrides,
	    size_t n, char **err);
int	 config_read_fp(struct config *, FILE *, const char *name);
/* A -k [section:]option=value override; "_" in section means space. */
int	 config_override(struct config *, const char *arg);
/* The message of the last error. */
const char *config_errmsg(const struct config *);

size_t	 config_nsections(const struct config *);
const char *config_section(const struct config *, size_t);
int	 config_has_section(const struct config *, const char *);
/* Scope of a section name (SC_*), 0 if it is none of ours. */
unsigned config_scope(const char *section);
/* Keys set in a section, its own and [DEFAULT]'s (sorted, no dups). */
int	 config_keys(const struct config *, const char *section,
	    char ***keys, size_t *n);

/*
 * Lookups: 1 with *out malloc'd, 0 when not set (and no default), -1 on
 * error (config_errmsg()).  config_raw gives the text as written;
 * config_get interpolates it; config_value also applies the default from
 * opt_table and the option's type (booleans become "true"/"false", paths
 * are expanded, numbers checked).
 */
int	 config_raw(struct config *, const char *section, const char *key,
	    char **out);
int	 config_get(struct config *, const char *section, const char *key,
	    char **out);
int	 config_value(struct config *, const char *section, const char *key,
	    char **out);
/* Typed lookups with defaults: 1, 0 (unset, *out untouched), -1. */
int	 config_bool(struct config *, const char *, const char *, int *);
int	 config_long(struct config *, const char *, const char *, long *);
/* Where the option was set: file and line (0 for -k overrides). */
int	 config_where(const struct config *, const char *section,
	    const char *key, const char **file, unsigned *line);

/* Parse a boolean as configparser does; -1 if it is none. */
int	 config_parse_bool(const char *);

/*
 * The accounts to work on: the -a list (NULL: [general] accounts), each
 * checked to have an [Account NAME] section.
 */
int	 config_accounts(struct config *, const char *select, char ***names,
	    size_t *n);
void	 config_free_list(char **, size_t);

/*
 * A Python list of plain string literals, as OfflineIMAP's idlefolders
 * is mostly written: ['INBOX', "Lists/foo",].  Quotes ' or ", an optional
 * u or r prefix, Python's backslash escapes (\xhh, \uXXXX and the like
 * give UTF-8), whitespace and newlines between items, a trailing comma.
 * 0 with *names (*n malloc'd strings; free with config_free_list); -1
 * when value is anything else (an expression for python3, or a mistake)
 * with *err malloc'd saying what and where (NULL when out of memory).
 */
int	 config_pylist(const char *value, char ***names, size_t *n,
	    char **err);

/* Check every value of the file: interpolation, types, sections that
 * refer to each other.  Calls report(msg, is_error) for each problem;
 * returns the number of errors. */
int	 config_check(struct config *, void (*report)(const char *, int));

#endif
