#!/bin/sh
# offlineimap as a daemon: autorefresh, quick = N between full syncs, and
# the signals: USR1 syncs now, USR2 and ABRT stop after the sync, TERM
# (INT, HUP) stops a running sync safely (the next run completes with
# nothing lost or doubled), QUIT says where each account is.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 2 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc



# A shell ignores SIGINT and SIGQUIT in the commands it starts in the
# background (and nohup, SIGHUP in all it starts); a daemon started
# otherwise gets them.
undeaf() {
	exec perl -e '$SIG{INT} = $SIG{QUIT} = $SIG{HUP} = "DEFAULT"; exec @ARGV or die "$ARGV[0]: $!"' "$@"
}

test_expect_success 'autorefresh: sync, sleep, sync again; new mail arrives' '
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.02 >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	wait_for 2 out "^\*\*\* Finished account" &&
	i=0; while [ "$(ls mail/INBOX/new | wc -l)" != 3 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -USR2 $p; wait $p; s=$?
	test $s = 0 && test "$(ls mail/INBOX/new | wc -l)" = 3 &&
	grep -q "^Terminating after this sync...$" out
'

test_expect_success 'USR1: a sync now, not in ten minutes' '
	offlineimap -c rc -u basic -k Account_A:autorefresh=10 >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	kill -USR1 $p &&
	wait_for 2 out "^\*\*\* Finished account" &&
	test "$(ls mail/INBOX/new | wc -l)" = 4 &&
	kill -USR2 $p && gone_pid $p && wait $p
'

test_expect_success 'ABRT: stop after this sync, like USR2' '
	offlineimap -c rc -u basic -k Account_A:autorefresh=10 >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	kill -ABRT $p && gone_pid $p && wait $p &&
	grep -q "^Terminating after this sync...$" out
'

for sig in TERM INT HUP; do
	test_expect_success "$sig while sleeping: out at once, status 0" '
		undeaf offlineimap -c rc -u basic -k Account_A:autorefresh=10 >out 2>&1 & p=$!
		wait_for 1 out "^\*\*\* Finished account" &&
		kill -'$sig' $p && gone_pid $p && wait $p &&
		grep -q "^Preparing to shutdown after sync" out &&
		test "$(grep -c "Processing account" out)" = 1
	'
done

test_expect_success 'QUIT: where each account is, on standard error; it goes on' '
	undeaf offlineimap -c rc -u basic -k Account_A:autorefresh=10 >out 2>err & p=$!
	wait_for 1 out "^\*\*\* Finished account" && sleep 0.5 && kill -QUIT $p &&
	wait_for 1 err "^offlineimap: lane 1 (A): " &&
	grep -q "^offlineimap: lane 1 (A): sleeping, the next sync (account A) in [0-9]* s$" err &&
	kill -0 $p && kill -TERM $p && gone_pid $p && wait $p
'

test_expect_success 'quick = 2: a full sync, two quick ones, a full one; USR1 makes it full' '
	offlineimap -c rc -u quiet -k Account_A:autorefresh=0.02 -k Account_A:quick=2 \
	    -k "Account_A:presynchook=echo \$OFFLINEIMAPSYNCMODE >>$TEST_DIR/modes" & p=$!
	wait_for 5 modes . &&
	kill -USR2 $p && gone_pid $p && wait $p &&
	head -n 5 modes >got &&
	printf "full\nquick\nquick\nfull\nquick\n" >want && test_cmp want got
'

test_expect_code 75 'a server down three times in a row: the daemon gives up, 75' '
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.01 \
	    -k Repository_R:remoteport=1 >out 2>&1
	s=$?
	test "$(grep -c "^\*\*\* Processing account A" out)" = 3 && exit $s
'

test_expect_success 'USR1 after USR1 while it syncs: no sync fails, USR2 ends it' '
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.01 >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	i=0
	while [ $i -lt 120 ]; do kill -USR1 $p; sleep 0.02; i=$((i + 1)); done
	kill -USR2 $p && gone_pid $p && wait $p &&
	! grep -q -e ERROR -e WARNING -e "did not start" out &&
	test "$(grep -c "^\*\*\* Finished account" out)" -ge 3 &&
	! pgrep -f "imap-hold -c rc" && ! pgrep -f "offlineimap-lock -f $TEST_DIR"
'

test_expect_success '-o: once, whatever autorefresh says' '
	offlineimap -c rc -u basic -o -k Account_A:autorefresh=10 >out &&
	test "$(grep -c "Processing account" out)" = 1
'

# a sync that takes a while: six folders, the server's lines slowed down
# by a proxy; sync-apply does one folder after the other
for i in 1 2 3 4 5 6; do
	dovecot_fill alice "Big$i" 10 >/dev/null || bail_out fill
done
perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/p.port" --pid-file "$TEST_DIR/p.pid" \
    --upstream "127.0.0.1:$DC_PORT" --max-time 60 --delay-ms 8 || bail_out proxy
test_cleanup 'kill $(cat "$TEST_DIR/p.pid")'

count() {
	find mail -path "*/Big*/new/*" -type f | wc -l
}

test_expect_success 'TERM in the middle of a sync: out at once, 75; the next run completes' '
	offlineimap -c rc -u basic -k Repository_R:remoteport=$(cat p.port) >out 2>&1 & p=$!
	i=0
	while [ "$(count)" -lt 10 ] && [ $i -lt 300 ]; do
		sleep 0.05; i=$((i + 1))
	done
	kill -TERM $p && gone_pid $p; wait $p; s=$?
	n=$(count)
	echo "stopped with $n of 60, status $s"
	test $s = 75 && test "$n" -lt 60 && test "$n" -ge 10 &&
	{ grep -q "^Preparing to shutdown after sync" out || { cat out; false; }; } &&
	test ! -e meta/A.lock &&
	{ offlineimap -c rc -u quiet || { echo "the next run failed: $?"; false; }; } &&
	test "$(count)" = 60 &&
	test "$(cat mail/Big*/new/* | grep "^Message-ID:" | sort -u | wc -l)" = 60 &&
	for i in 1 2 3 4 5 6; do
		test "$(sqlite3 meta/Account-A/LocalStatus-sqlite/Big$i "SELECT count(*) FROM status")" = 10 || exit 1
	done
'

test_done
