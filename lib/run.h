/* run.h - running helper commands: shell commands, Python expressions */
#ifndef OI_RUN_H
#define OI_RUN_H

/*
 * Run argv with stdin from /dev/null and capture its standard output
 * (stderr goes to ours).  0 with *out malloc'd (NUL-terminated) when it
 * exited 0; -1 with *err malloc'd otherwise.
 */
int	 run_capture(char *const argv[], char **out, char **err);
/* /bin/sh -c cmd, the first line of its output (without the newline). */
int	 run_first_line(const char *cmd, char **out, char **err);
/*
 * Evaluate a Python expression with python3, after running pythonfile
 * (may be NULL) in the same namespace, as OfflineIMAP does for *eval
 * options; the value's str() is returned.  what names the option for
 * messages; native names the option to use when python3 is missing.
 */
int	 run_python(const char *expr, const char *pythonfile, const char *what,
	    const char *native, char **out, char **err);
/*
 * Apply a Python function (the expression expr evaluates to it, after
 * pythonfile as above) to n names in one python3 process: *out gets n
 * malloc'd results (free with run_free_list).  Names are bytes: they
 * reach the function as str decoded from UTF-8 with surrogateescape, and
 * its results come back the same way.
 */
int	 run_python_map(const char *expr, const char *pythonfile,
	    const char *what, char *const names[], size_t n, char ***out,
	    char **err);
void	 run_free_list(char **, size_t);

#endif
