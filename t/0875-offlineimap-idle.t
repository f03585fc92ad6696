#!/bin/sh
# offlineimap's idlefolders: in a daemon, imap-idle waits on the folders
# between syncs; new mail in one of them is synced within seconds, with
# OFFLINEIMAPSYNCMODE=idle and only that folder; other folders wait for
# autorefresh; a lost IDLE is reported and starts again after the next
# sync; signals end the wait at once.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 2 >/dev/null || bail_out fill
dovecot_fill alice Work 1 >/dev/null || bail_out fill
echo "idlefolders = ['INBOX']" | dc_rc rc || bail_out rc
# the hook says the sync mode of each sync
sed -i "/^remoterepository = R$/a presynchook = echo \$OFFLINEIMAPSYNCMODE >>$TEST_DIR/modes" rc ||
    bail_out rc


# count FOLDER: the number of messages in a local folder
count() {
	find "mail/$1/new" "mail/$1/cur" -type f | wc -l
}

# idlers: imap-idle processes of this test; wait_idle: until there is one
# and it is in IDLE (its "idle" record)
idlers() {
	pgrep -f "imap-idle -c $TEST_DIR/rc" | wc -l
}
wait_idle() {
	i=0
	while [ "$(idlers)" -lt 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	i=0
	while ! grep -qs "^idle	INBOX$" "$(ls -t "${TMPDIR:-/tmp}"/offlineimap.*/idle.1.1 2>/dev/null | head -n 1)" &&
	    [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	test "$(idlers)" = 1
}

test_expect_success 'setup: idlefolders in the remote repository, a presynchook' '
	grep -q "^idlefolders = \[.INBOX.\]$" rc &&
	grep -q "^presynchook = " rc
'

test_expect_success 'new mail in an IDLE folder is synced within 5 seconds' '
	offlineimap -c "$TEST_DIR/rc" -u basic -k Account_A:autorefresh=10 >out 2>&1 & p=$!
	echo $p >pid &&
	wait_for 1 out "^\*\*\* Finished account" &&
	test "$(count INBOX)" = 2 &&
	wait_idle &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	wait_for 2 out "^\*\*\* Finished account" 50 &&
	test "$(count INBOX)" = 3 &&
	printf "full\nidle\n" >want && test_cmp want modes
'

test_expect_success 'IDLE again after that sync: a second message comes too' '
	wait_idle &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	wait_for 3 out "^\*\*\* Finished account" 50 &&
	test "$(count INBOX)" = 4
'

test_expect_success 'a folder not in idlefolders waits for autorefresh' '
	wait_idle &&
	dovecot_fill alice Work 1 >/dev/null &&
	sleep 3 &&
	test "$(count Work)" = 1 &&
	test "$(grep -c "^\*\*\* Finished account" out)" = 3
'

test_expect_success 'the IDLE syncs were of INBOX only' '
	sed -n "/^\*\*\* Finished account/,\$p" out >after &&
	grep -q "^Syncing INBOX: IMAP -> Maildir$" after &&
	! grep -q "^Syncing Work: IMAP -> Maildir$" after
'

test_expect_success 'USR1 ends the IDLE wait: a full sync now (Work too)' '
	kill -USR1 $(cat pid) &&
	wait_for 4 out "^\*\*\* Finished account" 50 &&
	test "$(count Work)" = 2 &&
	tail -n 1 modes >last && echo full >want && test_cmp want last
'

test_expect_success 'a lost IDLE is reported; the daemon goes on' '
	wait_idle &&
	pkill -KILL -f "imap-idle -c $TEST_DIR/rc" &&
	wait_for 1 out "IDLE stopped: .*IDLE again after the next sync" 50 &&
	kill -0 $(cat pid) &&
	sleep 0.5 &&
	test "$(idlers)" = 0
'

test_expect_success 'after the next sync, IDLE again' '
	kill -USR1 $(cat pid) &&
	wait_for 5 out "^\*\*\* Finished account" 50 &&
	wait_idle &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	wait_for 6 out "^\*\*\* Finished account" 50 &&
	test "$(count INBOX)" = 5
'

test_expect_success 'TERM while in IDLE: out at once, no imap-idle left, logged out' '
	wait_idle &&
	p=$(cat pid) &&
	kill -TERM $p &&
	i=0; while kill -0 $p 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 $p 2>/dev/null &&
	test "$(idlers)" = 0 &&
	sleep 0.3 &&
	grep "imap(alice).*Disconnected" "$DC_DIR/dovecot.log" >disc &&
	test "$(grep -c -v "Logged out" disc)" = 1
'

test_expect_success 'without autorefresh (-o), idlefolders changes nothing' '
	offlineimap -c "$TEST_DIR/rc" -u quiet -o &&
	test "$(idlers)" = 0
'

test_expect_success 'mail that comes between the sync and the IDLE is not left for autorefresh' '
	printf "From: late@example.org\nSubject: late\nMessage-ID: <late@example.org>\n\nlate\n" >late.eml &&
	sed "/^presynchook = /d" rc >rc.late &&
	sed -i "/^remoterepository = R$/a postsynchook = [ -e $TEST_DIR/once ] || { touch $TEST_DIR/once; doveadm -c $DC_CONF save -u alice -m INBOX <$TEST_DIR/late.eml; }" rc.late &&
	before=$(count INBOX) || exit 1
	offlineimap -c "$TEST_DIR/rc.late" -u basic -k Account_A:autorefresh=10 >out.late 2>&1 & p=$!
	wait_for 2 out.late "^\*\*\* Finished account" 60 &&
	test -e once &&
	test "$(count INBOX)" = $((before + 1)) &&
	grep -q "^Copy message UID 6 " out.late;
	s=$?
	kill -TERM $p; wait $p
	exit $s
'

test_done
