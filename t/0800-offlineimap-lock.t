#!/bin/sh
# offlineimap-lock: OfflineIMAP's account lock (an fcntl lock on
# <metadata>/<Account>.lock), held over a command or for as long as
# standard input stays open; it excludes OfflineIMAP's own lockf and is
# excluded by it.
. "$(dirname "$0")/test-lib.sh"

cat >rc <<EOF
[general]
accounts = A
metadata = $TEST_DIR/meta

[Account A]
localrepository = L
remoterepository = R

[Repository L]
type = Maildir
localfolders = $TEST_DIR/mail

[Repository R]
type = IMAP
remotehost = 127.0.0.1
EOF

# pylock FILE SECONDS: OfflineIMAP's own lock (fcntl.lockf, LOCK_NB),
# held SECONDS; prints "locked" or "busy".
pylock() {
	python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "w")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    print("busy"); sys.exit(0)
print("locked"); sys.stdout.flush()
time.sleep(float(sys.argv[2]))' "$1" "$2"
}

test_expect_success 'a command runs under the lock; the file is gone after' '
	offlineimap-lock -f x.lock sh -c "test -f x.lock && echo ran" >out &&
	test "$(cat out)" = ran && test ! -e x.lock
'

test_expect_code 3 'the exit status is the command'"'"'s' '
	offlineimap-lock -f x.lock sh -c "exit 3"
'

test_expect_code 75 'a lock held by another process: 75, who holds it, nothing run' '
	offlineimap-lock -f x.lock sleep 3 & p=$!
	while [ ! -e x.lock ]; do sleep 0.05; done
	offlineimap-lock -f x.lock touch ran 2>err
	s=$?; kill $p; wait $p
	grep -q "x.lock: locked by process [0-9]*: another instance is using this account" err &&
	test ! -e ran && exit $s
'

test_expect_success 'hold mode: "locked", held until standard input ends' '
	mkfifo in &&
	{ offlineimap-lock -f h.lock <in >hold.out & p=$!; } &&
	exec 7>in &&
	while [ ! -s hold.out ]; do sleep 0.05; done &&
	printf "locked\th.lock\n" >want && test_cmp want hold.out &&
	{ offlineimap-lock -f h.lock true; test $? = 75; } &&
	exec 7>&- && wait $p &&
	test ! -e h.lock && offlineimap-lock -f h.lock true
'

if command -v python3 >/dev/null 2>&1; then
	test_expect_success 'OfflineIMAP'"'"'s lockf cannot take a lock we hold' '
		offlineimap-lock -f o.lock sh -c "echo > started.o; sleep 3" & p=$!
		while [ ! -e started.o ]; do sleep 0.05; done
		r=$(pylock o.lock 0); kill $p; wait $p
		test "$r" = busy
	'

	test_expect_code 75 'we cannot take a lock OfflineIMAP holds' '
		pylock p.lock 3 >py & p=$!
		while [ ! -s py ]; do sleep 0.05; done
		offlineimap-lock -f p.lock true 2>err
		s=$?; kill $p; wait $p
		grep -q "p.lock: locked by process [0-9]*: another instance" err && exit $s
	'
fi

test_expect_success '-w waits for the lock instead' '
	offlineimap-lock -f w.lock sh -c "echo > started.w; sleep 1" & p=$!
	while [ ! -e started.w ]; do sleep 0.05; done
	offlineimap-lock -w -f w.lock sh -c "echo second" >out &&
	wait $p && test "$(cat out)" = second
'

test_expect_success '-a: <metadata>/<Account>.lock of the configuration' '
	offlineimap-lock -c rc -a A sh -c "test -f \"$TEST_DIR/meta/A.lock\"" &&
	test -d meta && test ! -e meta/A.lock &&
	test "$(stat -c %a meta)" = 700
'

test_expect_success 'an account the configuration does not have' '
	offlineimap-lock -c rc -a B true 2>err
	s=$?; grep -q "B" err && test $s = 1
'

test_expect_success 'usage: -a or -f, not both' '
	offlineimap-lock -c rc -a A -f x true 2>err
	s=$?; grep -q "^usage: offlineimap-lock" err && test $s = 1
'

test_expect_success 'a lock file left by a killed holder does not block' '
	: >k.lock && offlineimap-lock -f k.lock true && test ! -e k.lock
'

test_expect_success 'SIGTERM: the command gets it, the lock and file go' '
	offlineimap-lock -f t.lock sh -c "trap \"echo got >term; exit 5\" TERM; echo > started.t; sleep 5 & wait" & p=$!
	while [ ! -e started.t ]; do sleep 0.05; done
	kill -TERM $p; wait $p; s=$?
	test $s = 5 && test -f term && test ! -e t.lock
'

test_done
