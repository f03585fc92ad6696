/* run.c - helper commands with captured output */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "util.h"

#define OUT_MAX	(1024 * 1024)	/* more output than this is an error */

int
run_capture(char *const argv[], char **out, char **err)
{
	struct sb b = { 0 };
	int fds[2], st, nullfd;
	pid_t pid;
	ssize_t n;
	char buf[4096];

	*out = *err = NULL;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		if (asprintf(err, "pipe: %s", strerror(errno)) == -1)
			*err = NULL;
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		if (asprintf(err, "fork: %s", strerror(errno)) == -1)
			*err = NULL;
		return -1;
	}
	if (pid == 0) {
		nullfd = open("/dev/null", O_RDONLY);
		if (nullfd == -1 || dup2(nullfd, 0) == -1 ||
		    dup2(fds[1], 1) == -1)
			_exit(127);
		execvp(argv[0], argv);
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(fds[1]);
	for (;;) {
		n = read(fds[0], buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b.len + (size_t)n > OUT_MAX || sb_add(&b, buf,
		    (size_t)n) == -1) {
			kill(pid, SIGTERM);
			break;
		}
	}
	close(fds[0]);
	explicit_bzero(buf, sizeof(buf));
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && b.len <= OUT_MAX) {
		if (b.s == NULL && sb_add(&b, "", 0) == -1)
			return -1;
		*out = b.s;
		return 0;
	}
	sb_wipe(&b);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		n = asprintf(err, "%s: command not found", argv[0]);
	else if (WIFEXITED(st))
		n = asprintf(err, "%s exited with status %d", argv[0],
		    WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		n = asprintf(err, "%s was killed by signal %d", argv[0],
		    WTERMSIG(st));
	else
		n = asprintf(err, "%s printed too much", argv[0]);
	if (n == -1)
		*err = NULL;
	return -1;
}

int
run_first_line(const char *cmd, char **out, char **err)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	char *all;
	size_t n;

	if (run_capture(argv, &all, err) == -1) {
		char *e = *err;

		if (asprintf(err, "command \"%s\" failed: %s", cmd,
		    e ? e : "?") == -1)
			*err = NULL;
		free(e);
		return -1;
	}
	n = strcspn(all, "\n");
	if (n > 0 && all[n - 1] == '\r')
		n--;
	all[n] = '\0';
	*out = all;
	return 0;
}

static const char pyprog[] =
    "import os, sys\n"
    "g = {}\n"
    "pf = os.environ.get('OI_PYTHONFILE')\n"
    "if pf:\n"
    "    sys.path.insert(0, os.path.dirname(os.path.abspath(pf)))\n"
    "    with open(pf) as f:\n"
    "        exec(compile(f.read(), pf, 'exec'), g)\n"
    "import re\n"
    "g.setdefault('re', re)\n"
    "v = eval(os.environ['OI_EXPR'], g)\n"
    "if isinstance(v, bytes):\n"
    "    v = v.decode('utf-8')\n"
    "sys.stdout.write(str(v))\n";

int
run_python(const char *expr, const char *pythonfile, const char *what,
    const char *native, char **out, char **err)
{
	char *argv[] = { "python3", "-c", (char *)pyprog, NULL };
	int rv;

	*out = *err = NULL;
	if (setenv("OI_EXPR", expr, 1) == -1 || (pythonfile ?
	    setenv("OI_PYTHONFILE", pythonfile, 1) :
	    unsetenv("OI_PYTHONFILE")) == -1) {
		if (asprintf(err, "setenv: %s", strerror(errno)) == -1)
			*err = NULL;
		return -1;
	}
	rv = run_capture(argv, out, err);
	unsetenv("OI_EXPR");
	unsetenv("OI_PYTHONFILE");
	if (rv == -1) {
		char *e = *err;
		int missing = e && strstr(e, "not found") != NULL;

		if (missing)
			rv = asprintf(err, "%s is a Python expression and "
			    "python3 is not installed%s%s%s", what,
			    native ? "; use " : "", native ? native : "",
			    native ? " instead" : "");
		else
			rv = asprintf(err, "%s: the Python expression failed "
			    "(%s)", what, e ? e : "?");
		if (rv == -1)
			*err = NULL;
		free(e);
		return -1;
	}
	return 0;
}

static const char pymapprog[] =
    "import os, sys\n"
    "g = {}\n"
    "pf = os.environ.get('OI_PYTHONFILE')\n"
    "if pf:\n"
    "    sys.path.insert(0, os.path.dirname(os.path.abspath(pf)))\n"
    "    with open(pf) as f:\n"
    "        exec(compile(f.read(), pf, 'exec'), g)\n"
    "import re\n"
    "g.setdefault('re', re)\n"
    "fn = eval(os.environ['OI_EXPR'], g)\n"
    "data = sys.stdin.buffer.read()\n"
    "out = sys.stdout.buffer\n"
    "for n in data.split(b'\\0')[:-1]:\n"
    "    v = fn(n.decode('utf-8', 'surrogateescape'))\n"
    "    if isinstance(v, bytes):\n"
    "        v = v.decode('utf-8', 'surrogateescape')\n"
    "    v = str(v).encode('utf-8', 'surrogateescape')\n"
    "    if b'\\0' in v:\n"
    "        sys.exit('a result holds a NUL byte')\n"
    "    out.write(v + b'\\0')\n";

void
run_free_list(char **l, size_t n)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

int
run_python_map(const char *expr, const char *pythonfile, const char *what,
    char *const names[], size_t n, char ***out, char **err)
{
	char *argv[] = { "python3", "-c", (char *)pymapprog, NULL };
	char tmpl[] = "/tmp/oi-map.XXXXXX";
	struct sb b = { 0 }, in = { 0 };
	int fds[2], st, fd = -1, rv = -1;
	size_t i, k;
	pid_t pid;
	ssize_t r;
	char buf[4096], *p;

	*out = NULL;
	*err = NULL;
	/* the names go through an unlinked file: no pipe to deadlock on */
	for (i = 0; i < n; i++)
		if (sb_adds(&in, names[i]) == -1 || sb_addc(&in, '\0') == -1)
			goto syserr;
	if ((fd = mkstemp(tmpl)) == -1)
		goto syserr;
	unlink(tmpl);
	for (k = 0; k < in.len; k += (size_t)r)
		if ((r = write(fd, in.s + k, in.len - k)) <= 0)
			goto syserr;
	if (lseek(fd, 0, SEEK_SET) == -1)
		goto syserr;
	if (setenv("OI_EXPR", expr, 1) == -1 || (pythonfile ?
	    setenv("OI_PYTHONFILE", pythonfile, 1) :
	    unsetenv("OI_PYTHONFILE")) == -1)
		goto syserr;
	if (pipe2(fds, O_CLOEXEC) == -1)
		goto syserr;
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		goto syserr;
	}
	if (pid == 0) {
		if (dup2(fd, 0) == -1 || dup2(fds[1], 1) == -1)
			_exit(127);
		execvp(argv[0], argv);
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(fds[1]);
	close(fd);
	fd = -1;
	for (;;) {
		r = read(fds[0], buf, sizeof(buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (sb_add(&b, buf, (size_t)r) == -1) {
			kill(pid, SIGTERM);
			break;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
			r = asprintf(err, "%s is a Python expression and python3 "
			    "is not installed", what);
		else
			r = asprintf(err, "%s: the Python function failed", what);
		if (r == -1)
			*err = NULL;
		goto done;
	}
	if ((*out = calloc(n ? n : 1, sizeof(**out))) == NULL)
		goto syserr;
	for (i = 0, p = b.s; i < n; i++) {
		size_t len;

		if (p == NULL || p >= b.s + b.len ||
		    (len = strnlen(p, (size_t)(b.s + b.len - p))) ==
		    (size_t)(b.s + b.len - p)) {
			run_free_list(*out, i);
			*out = NULL;
			if (asprintf(err, "%s: python3 gave %zu results for %zu "
			    "names", what, i, n) == -1)
				*err = NULL;
			goto done;
		}
		if (((*out)[i] = strdup(p)) == NULL) {
			run_free_list(*out, i);
			*out = NULL;
			goto syserr;
		}
		p += len + 1;
	}
	rv = 0;
	goto done;
syserr:
	if (asprintf(err, "%s: %s", what, strerror(errno)) == -1)
		*err = NULL;
done:
	unsetenv("OI_EXPR");
	unsetenv("OI_PYTHONFILE");
	if (fd != -1)
		close(fd);
	sb_free(&b);
	sb_free(&in);
	return rv;
}
