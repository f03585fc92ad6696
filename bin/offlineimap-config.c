/*
 * offlineimap-config - query OfflineIMAP's configuration file, as the
 * offlineimap driver and shell scripts need it: the accounts to sync, an
 * option's value with its default, whether a value is a Python expression,
 * and a check of the whole file.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "record.h"
#include "util.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: offlineimap-config [-z] [-a accounts] "
	    "[-c file] [-k [section:]option=value] command [name ...]\n"
	    "commands: accounts, check, get, is-python, list, options, "
	    "path, raw, sections, shell, type\n");
	exit(EXIT_FAIL);
}

static struct config *cfg;
static struct rec_writer out;
static int zflag;

/* "Section name.option": the option follows the last dot. */
static void
split_name(const char *name, char **section, char **key)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name || dot[1] == '\0')
		errx(EXIT_FAIL, "\"%s\": want SECTION.OPTION, such as "
		    "\"Repository Remote.remotehost\"", name);
	*section = xstrdup(name);
	(*section)[dot - name] = '\0';
	*key = xstrdup(dot + 1);
}

static void
put_value(const char *v)
{
	fputs(v, stdout);
	putchar(zflag ? '\0' : '\n');
}

static void
report(const char *msg, int is_error)
{
	fprintf(stderr, "offlineimap-config: %s%s\n", is_error ? "" :
	    "warning: ", msg);
}

static const struct opt_def *
def_of(const char *section, const char *key)
{
	char *type = NULL;
	const struct opt_def *d;

	if (config_scope(section) == SC_REPO &&
	    config_get(cfg, section, "type", &type) == -1)
		errx(EXIT_FAIL, "%s", config_errmsg(cfg));
	d = opt_lookup(config_scope(section), type, key);
	free(type);
	return d;
}

static int
cmd_get(int argc, char **argv, int raw)
{
	int i, rv, status = EXIT_OK;

	if (argc < 1)
		usage();
	for (i = 0; i < argc; i++) {
		char *section, *key, *v = NULL;

		split_name(argv[i], &section, &key);
		if (!config_has_section(cfg, section)) {
			warnx("no section [%s]", section);
			status = EXIT_FAIL;
		} else if ((rv = raw ? config_raw(cfg, section, key, &v) :
		    config_value(cfg, section, key, &v)) == -1) {
			warnx("%s", config_errmsg(cfg));
			status = EXIT_FAIL;
		} else if (rv == 0)
			status = EXIT_FAIL;	/* not set: silent, as git */
		else
			put_value(v);
		free(v);
		free(section);
		free(key);
	}
	return status;
}

static int
cmd_type(int argc, char **argv, int python)
{
	const struct opt_def *d;
	char *section, *key;

	if (argc != 1)
		usage();
	split_name(argv[0], &section, &key);
	d = def_of(section, key);
	free(section);
	free(key);
	if (python)
		return d && d->type == OPT_PYTHON ? EXIT_OK : EXIT_FAIL;
	if (d == NULL) {
		warnx("%s: not an option offlineimap knows", argv[0]);
		return EXIT_FAIL;
	}
	put_value(opt_type_name(d->type));
	return EXIT_OK;
}

static int
list_section(const char *section)
{
	char **keys;
	size_t n, i;
	int status = EXIT_OK;

	if (config_keys(cfg, section, &keys, &n) == -1)
		err(EXIT_FAIL, "config_keys");
	for (i = 0; i < n; i++) {
		const struct opt_def *d = def_of(section, keys[i]);
		char *v;
		int rv = d && d->type == OPT_RAW ?
		    config_raw(cfg, section, keys[i], &v) :
		    config_get(cfg, section, keys[i], &v);

		if (rv != 1) {
			warnx("%s", config_errmsg(cfg));
			status = EXIT_FAIL;
			continue;
		}
		rec_puts(&out, "option");
		rec_puts(&out, section);
		rec_puts(&out, keys[i]);
		rec_puts(&out, v);
		rec_end(&out);
		free(v);
	}
	config_free_list(keys, n);
	return status;
}

static int
cmd_list(int argc, char **argv)
{
	size_t i;
	int status = EXIT_OK;

	rec_header(&out, "config", 1, 0);
	if (argc == 0) {
		for (i = 0; i < config_nsections(cfg); i++)
			if (list_section(config_section(cfg, i)) != EXIT_OK)
				status = EXIT_FAIL;
		return status;
	}
	for (; argc > 0; argc--, argv++) {
		if (!config_has_section(cfg, *argv)) {
			warnx("no section [%s]", *argv);
			status = EXIT_FAIL;
		} else if (list_section(*argv) != EXIT_OK)
			status = EXIT_FAIL;
	}
	return status;
}

/* A value for sh, in single quotes. */
static void
put_sh(const char *v)
{
	putchar('\'');
	for (; *v; v++)
		if (*v == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*v);
	putchar('\'');
	putchar('\n');
}

/* An option name as a part of a shell variable name. */
static char *
shname(const char *k)
{
	char *s = xstrdup(k), *p;

	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')))
			*p = '_';
	return s;
}

/*
 * The whole file as sh assignments, for the driver's one read of it:
 * cfg_n sections; cfg_sI the name of section I (from 1), cfg_kI its
 * options ("-" in a name is "_"), cfg_I_OPTION their values (as list prints them), cfg_eI the
 * errors of the section; then cfg_vJ the typed value of the Jth name
 * operand (as get prints it; unset when it has none), and for an operand
 * "*.OPTION" cfg_tI_OPTION, its typed value in each section I.
 */
static int
cmd_shell(int argc, char **argv)
{
	size_t i, n, j, ns = config_nsections(cfg);
	char **keys;
	int status = EXIT_OK;

	printf("cfg_n=%zu\n", ns);
	for (i = 0; i < ns; i++) {
		const char *section = config_section(cfg, i);
		struct sb names = { 0 }, errs = { 0 };

		printf("cfg_s%zu=", i + 1);
		put_sh(section);
		if (config_keys(cfg, section, &keys, &n) == -1)
			err(EXIT_FAIL, "config_keys");
		for (j = 0; j < n; j++) {
			const struct opt_def *d = def_of(section, keys[j]);
			char *v;
			int rv = d && d->type == OPT_RAW ?
			    config_raw(cfg, section, keys[j], &v) :
			    config_get(cfg, section, keys[j], &v);

			if (rv != 1) {
				sb_printf(&errs, "%sofflineimap-config: %s",
				    errs.len ? "\n" : "", config_errmsg(cfg));
				continue;
			}
			char *k = shname(keys[j]);

			printf("cfg_%zu_%s=", i + 1, k);
			put_sh(v);
			sb_printf(&names, " %s", k);
			free(k);
			free(v);
		}
		printf("cfg_k%zu=", i + 1);
		put_sh(names.s ? names.s : "");
		if (errs.len) {
			printf("cfg_e%zu=", i + 1);
			put_sh(errs.s);
		}
		sb_free(&names);
		sb_free(&errs);
		config_free_list(keys, n);
	}
	for (j = 0; j < (size_t)argc; j++) {
		char *section, *key, *v = NULL;
		int rv;

		/* "*.option": its typed value in every section that has one
		 * (cfg_tI_option); an error leaves it unset, for the script
		 * to ask again with get and show the message */
		if (strncmp(argv[j], "*.", 2) == 0) {
			char *k = shname(argv[j] + 2);

			for (i = 0; i < ns; i++) {
				if (config_value(cfg, config_section(cfg, i),
				    argv[j] + 2, &v) != 1)
					continue;
				printf("cfg_t%zu_%s=", i + 1, k);
				put_sh(v);
				free(v);
				v = NULL;
			}
			free(k);
			continue;
		}
		split_name(argv[j], &section, &key);
		if (!config_has_section(cfg, section)) {
			warnx("no section [%s]", section);
			status = EXIT_FAIL;
		} else if ((rv = config_value(cfg, section, key, &v)) == -1) {
			warnx("%s", config_errmsg(cfg));
			status = EXIT_FAIL;
		} else if (rv == 1) {
			printf("cfg_v%zu=", j + 1);
			put_sh(v);
		}
		free(v);
		free(section);
		free(key);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_FAIL, "stdout");
	return status;
}

static const char *
scope_name(unsigned s)
{
	switch (s) {
	case SC_GENERAL: return "general";
	case SC_ACCOUNT: return "Account";
	case SC_REPO: return "Repository";
	case SC_MBNAMES: return "mbnames";
	}
	return "?";
}

static int
cmd_options(void)
{
	const struct opt_def *d;

	rec_header(&out, "options", 1, 0);
	for (d = opt_table; d->key; d++) {
		rec_puts(&out, "option-def");
		rec_puts(&out, scope_name(d->scope));
		rec_puts(&out, d->types ? d->types : "*");
		rec_puts(&out, d->key);
		rec_puts(&out, opt_type_name(d->type));
		rec_puts(&out, d->dflt == DF_GENERAL ? "[general]" :
		    d->dflt == DF_PORT ? "993 with ssl, else 143" :
		    d->def ? d->def : "-");
		rec_puts(&out, d->doc);
		rec_end(&out);
	}
	return EXIT_OK;
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *path = NULL, *dpath = NULL, *select = NULL, *cmd;
	char *e;
	int ch, nk = 0, status = EXIT_OK;

	while ((ch = getopt(argc, argv, "a:c:hk:z")) != -1) {
		switch (ch) {
		case 'a':
			select = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'z':
			zflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = *argv++;
	argc--;
	rec_writer_init(&out, stdout, zflag ? REC_NUL : 0);

	if (strcmp(cmd, "options") == 0) {
		status = cmd_options();
		goto done;
	}
	if (path == NULL && (path = dpath = config_default_path()) == NULL)
		err(EXIT_FAIL, "config_default_path");
	if (strcmp(cmd, "path") == 0) {
		put_value(path);
		goto done;
	}
	if ((cfg = config_load(path, kopts, (size_t)nk, &e)) == NULL)
		errx(EXIT_FAIL, "%s", e ? e : "out of memory");

	if (strcmp(cmd, "accounts") == 0) {
		char **names;
		size_t n, j;

		if (argc)
			usage();
		if (config_accounts(cfg, select, &names, &n) == -1)
			errx(EXIT_FAIL, "%s", config_errmsg(cfg));
		for (j = 0; j < n; j++)
			put_value(names[j]);
		config_free_list(names, n);
	} else if (strcmp(cmd, "check") == 0) {
		if (argc)
			usage();
		if (config_check(cfg, report) > 0)
			status = EXIT_FAIL;
	} else if (strcmp(cmd, "get") == 0)
		status = cmd_get(argc, argv, 0);
	else if (strcmp(cmd, "raw") == 0)
		status = cmd_get(argc, argv, 1);
	else if (strcmp(cmd, "type") == 0)
		status = cmd_type(argc, argv, 0);
	else if (strcmp(cmd, "is-python") == 0)
		status = cmd_type(argc, argv, 1);
	else if (strcmp(cmd, "list") == 0)
		status = cmd_list(argc, argv);
	else if (strcmp(cmd, "shell") == 0)
		status = cmd_shell(argc, argv);
	else if (strcmp(cmd, "sections") == 0) {
		size_t j;

		if (argc)
			usage();
		for (j = 0; j < config_nsections(cfg); j++) {
			rec_puts(&out, config_section(cfg, j));
			rec_end(&out);
		}
	} else {
		warnx("unknown command \"%s\"", cmd);
		usage();
	}
	config_free(cfg);
done:
	free(kopts);
	free(dpath);
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return status;
}
