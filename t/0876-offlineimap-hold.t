#!/bin/sh
# holdconnectionopen in a daemon: imap-hold logs in once and lends the
# connections to every sync's imap-list and sync-apply; it logs out when
# the daemon ends (signal, or the driver killed); killed itself, it is
# started again at the next sync.  Counted in Dovecot's log.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 2 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc



logins() { grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log"; }
logouts() { grep -c "Disconnected: Logged out" "$DC_DIR/dovecot.log"; }
mails() { ls mail/INBOX/new mail/INBOX/cur | grep -c ","; }

HOLD="Repository R:holdconnectionopen=yes"

test_expect_success 'without holdconnectionopen each sync logs in' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.02 >out 2>&1 & p=$!
	wait_for 3 out "^\*\*\* Finished account" &&
	kill -USR2 $p; wait $p &&
	test "$(logins)" -ge 3
'

test_expect_success 'with it: three syncs, the logins of one, mail still synced' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.02 -k "$HOLD" >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	wait_for 3 out "^\*\*\* Finished account" &&
	kill -USR2 $p; wait $p; s=$?
	cat out &&
	test $s = 0 && test "$(mails)" = 3 &&
	test "$(logins)" -le 2 &&
	gone_cmd "imap-hold -c rc" &&
	test "$(logouts)" = "$(logins)"
'

test_expect_success 'imap-hold killed: the next sync starts another one' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.02 -k "$HOLD" >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	pkill -KILL -f "imap-hold -c rc" &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	wait_for 3 out "^\*\*\* Finished account" &&
	kill -USR2 $p; wait $p; s=$?
	test $s = 0 && test "$(mails)" = 4 &&
	test "$(logins)" -le 4 &&
	gone_cmd "imap-hold -c rc"
'

test_expect_success 'TERM: the daemon ends and imap-hold logs out' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u basic -k Account_A:autorefresh=10 -k "$HOLD" >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	pgrep -f "imap-hold -c rc" >/dev/null &&
	kill -TERM $p && wait $p &&
	gone_cmd "imap-hold -c rc" &&
	test "$(logouts)" = "$(logins)"
'

test_expect_success 'the driver killed with -9: imap-hold ends too' '
	offlineimap -c rc -u basic -k Account_A:autorefresh=0.02 -k "$HOLD" >out 2>&1 & p=$!
	wait_for 1 out "^\*\*\* Finished account" &&
	pgrep -f "imap-hold -c rc" >/dev/null &&
	kill -KILL $p && wait $p;
	gone_cmd "imap-hold -c rc"
'

test_expect_success 'once (-o): no imap-hold, nothing to keep open' '
	offlineimap -c rc -u basic -d imap -k Account_A:autorefresh=10 -k "$HOLD" >out1 2>&1 & p=$!
	wait_for 1 out1 "^\*\*\* Finished account" &&
	kill -USR2 $p; wait $p &&
	grep -q "holdconnectionopen: imap-hold [0-9]* holds the connections" out1 &&
	offlineimap -c rc -o -u basic -d imap -k "$HOLD" >out 2>&1 &&
	! grep -q -e "holdsocket=" -e "holdconnectionopen: imap-hold" out
'

test_done
