/*
 * offlineimap-lock - hold OfflineIMAP's account lock, <metadata>/<A>.lock,
 * the way OfflineIMAP takes it: an fcntl(2) write lock on the whole file
 * (Python's fcntl.lockf), so that neither this toolkit nor a running
 * OfflineIMAP syncs the account at the same time.  A shell cannot hold
 * such a lock across a pipeline (flock(1) takes another kind), hence this
 * tool: it runs a command under the lock, or holds the lock for as long as
 * its standard input stays open.  The file is removed when the lock is
 * given back, as OfflineIMAP does.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: offlineimap-lock [-w] -a account [-c file] "
	    "[-k [section:]option=value] [command [arg ...]]\n"
	    "       offlineimap-lock [-w] -f file [command [arg ...]]\n");
	exit(EXIT_FAIL);
}

static const char *lockpath;
static int lockfd = -1;
static volatile sig_atomic_t got_signal;
static volatile pid_t child;

/*
 * Take the lock.  The file may be removed by the holder between our open
 * and our lock: then we hold a lock on a file nobody else will open, so
 * check that the path still names what we locked, and start again if not.
 * Returns 0, or the pid of the holder (-1 if unknown) when it is taken.
 */
static pid_t
take(int wait)
{
	struct flock fl;
	struct stat a, b;

	for (;;) {
		lockfd = open(lockpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (lockfd == -1)
			err(EXIT_FAIL, "%s", lockpath);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		while (fcntl(lockfd, wait ? F_SETLKW : F_SETLK, &fl) == -1) {
			if (errno == EINTR && !got_signal)
				continue;
			if (errno == EINTR)
				exit(EXIT_RETRY);
			if (errno != EACCES && errno != EAGAIN)
				err(EXIT_FAIL, "%s: fcntl", lockpath);
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(lockfd, F_GETLK, &fl) == -1 ||
			    fl.l_type == F_UNLCK)
				fl.l_pid = -1;
			close(lockfd);
			lockfd = -1;
			return fl.l_pid > 0 ? fl.l_pid : -1;
		}
		if (fstat(lockfd, &a) == -1)
			err(EXIT_FAIL, "%s: fstat", lockpath);
		if (stat(lockpath, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return 0;
		close(lockfd);
		lockfd = -1;
	}
}

/* Remove the file while the lock is still ours, then let it go. */
static void
give_back(void)
{
	if (lockfd == -1)
		return;
	if (unlink(lockpath) == -1 && errno != ENOENT)
		warn("%s", lockpath);
	close(lockfd);
	lockfd = -1;
}

static void
on_signal(int sig)
{
	got_signal = sig;
	if (child > 0)
		kill(child, sig);
}

/* Signals ignored by whoever started us stay ignored: a caller that wants
 * the lock to live exactly as long as our standard input says so. */
static void
catch_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

/* Hold the lock until standard input reaches its end (or a signal). */
static int
hold(void)
{
	char buf[512];
	ssize_t n;

	printf("locked\t%s\n", lockpath);
	if (fflush(stdout) == EOF) {
		give_back();
		err(EXIT_FAIL, "stdout");
	}
	while (!got_signal) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno != EINTR))
			break;
	}
	give_back();
	return EXIT_OK;
}

/* Run the command while holding the lock; its exit status is ours. */
static int
run(char **argv)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == -1) {
		give_back();
		err(EXIT_FAIL, "fork");
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		warn("%s", argv[0]);
		_exit(errno == ENOENT ? 127 : 126);
	}
	child = pid;
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			give_back();
			err(EXIT_FAIL, "waitpid");
		}
	child = 0;
	give_back();
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int
main(int argc, char *argv[])
{
	char **kopts = NULL, *cpath = NULL, *account = NULL, *e, *meta = NULL;
	struct config *cfg;
	int ch, nk = 0, wflag = 0, status;
	pid_t holder;

	while ((ch = getopt(argc, argv, "+a:c:f:hk:w")) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 'c':
			cpath = optarg;
			break;
		case 'f':
			lockpath = optarg;
			break;
		case 'k':
			kopts = xreallocarray(kopts, (size_t)nk + 1,
			    sizeof(*kopts));
			kopts[nk++] = optarg;
			break;
		case 'w':
			wflag = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((account == NULL) == (lockpath == NULL))
		usage();
	if (account != NULL) {
		char **names;
		size_t n;
		int rv;

		if ((cfg = config_load(cpath, kopts, (size_t)nk, &e)) == NULL)
			errx(EXIT_FAIL, "%s", e ? e : "out of memory");
		if (config_accounts(cfg, account, &names, &n) == -1)
			errx(EXIT_FAIL, "%s", config_errmsg(cfg));
		if (n != 1)
			errx(EXIT_FAIL, "-a takes one account");
		config_free_list(names, n);
		if ((rv = config_value(cfg, "general", "metadata", &meta)) != 1)
			errx(EXIT_FAIL, "[general] metadata: %s", rv == -1 ?
			    config_errmsg(cfg) : "not set");
		if (mkdir(meta, 0700) == -1 && errno != EEXIST)
			err(EXIT_FAIL, "%s", meta);
		if (asprintf(&e, "%s/%s.lock", meta, account) == -1)
			err(EXIT_FAIL, "asprintf");
		lockpath = e;
		config_free(cfg);
	}
	free(kopts);

	catch_signals();
	if ((holder = take(wflag)) != 0) {
		if (holder > 0)
			errx(EXIT_RETRY, "%s: locked by process %ld: another "
			    "instance is using this account", lockpath,
			    (long)holder);
		errx(EXIT_RETRY, "%s: locked: another instance is using this "
		    "account", lockpath);
	}
	status = argc > 0 ? run(argv) : hold();
	if (close_stdout() == -1)
		err(EXIT_FAIL, "stdout");
	return status;
}
