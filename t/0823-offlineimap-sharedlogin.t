#!/bin/sh
# sharedlogin: imap-list and sync-apply go on with one login per sync,
# through an imap-hold that lives as long as the sync (its input is the
# lock's FIFO).  Counted in Dovecot's log; both sides compared message
# by message.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 4 >/dev/null || bail_out fill
dovecot_fill alice Work 3 S >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc

# the driver's work directories here, to be told from other tests' ones
mkdir tmp || bail_out tmp
TMPDIR=$TEST_DIR/tmp
export TMPDIR

logins() { grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log"; }
logouts() { grep -c "Disconnected: Logged out" "$DC_DIR/dovecot.log"; }
fails() { grep -c "auth failed" "$DC_DIR/dovecot.log"; }

# "folder uid flags" of every message file, and of the server's messages
files() {
	(cd mail && find . -type f -path '*/[cn][ue][rw]/*') |
	sed -n 's|^\./\([^/]*\)/[a-z]*/.*,U=\([0-9]*\),FMD5=[0-9a-f]*:2,\([A-Z]*\)$|\1 \2 \3|p' | sort
}
server() {
	for f in INBOX Work; do
		dc_adm -f tab fetch -u alice 'uid flags' mailbox "$f" all |
		    awk -F '\t' -v f="$f" 'NR > 1 {
			s = ""
			if ($2 ~ /Flagged/) s = s "F"
			if ($2 ~ /Seen/) s = s "S"
			print f, $1, s }'
	done | sort
}
# nothing of the sync left running, its socket gone
nothing_left() {
	! pgrep -f "imap-hold .*$TMPDIR/" >/dev/null &&
	test -z "$(ls "$TMPDIR")"
}

test_expect_success 'a first sync: one login for the listing and the downloads' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet &&
	nothing_left &&
	test "$(logins)" = 1 && test "$(logouts)" = 1 &&
	files >got && server >want && test_cmp want got &&
	test "$(wc -l <got)" = 7
'

test_expect_success 'changes on both sides: one login, both sides agree' '
	: >"$DC_DIR/dovecot.log" &&
	dovecot_fill alice INBOX 2 >/dev/null &&
	dc_adm flags add -u alice "\\Flagged" mailbox Work uid 1 &&
	f=$(ls mail/INBOX/new/*,U=1,* mail/INBOX/cur/*,U=1,* 2>/dev/null | head -n 1) &&
	mv "$f" "mail/INBOX/cur/$(basename "${f%%:2,*}"):2,S" &&
	rm mail/Work/cur/*,U=3,* &&
	offlineimap -c rc -u quiet &&
	nothing_left &&
	test "$(logins)" = 1 && test "$(logouts)" = 1 &&
	files >got && server >want && test_cmp want got &&
	grep -q "^INBOX 1 S$" got && grep -q "^Work 1 FS$" got &&
	! grep -q "^Work 3 " got && test "$(grep -c "^INBOX " got)" = 6
'

test_expect_success 'sharedlogin = no: sync-apply logs in itself' '
	: >"$DC_DIR/dovecot.log" &&
	f=$(ls mail/Work/cur/*,U=2,*) &&
	mv "$f" "${f%%:2,*}:2,FS" &&
	offlineimap -c rc -u quiet -k Repository_R:sharedlogin=no &&
	! pgrep -f "imap-hold .*$TMPDIR/" >/dev/null &&
	test "$(logins)" = 2 &&
	files >got && server >want && test_cmp want got &&
	grep -q "^Work 2 FS$" got
'

test_expect_success 'sharedlogin = maybe: an error naming the option' '
	offlineimap -c rc -u quiet -k Repository_R:sharedlogin=maybe >out 2>&1;
	s=$?
	grep -q "sharedlogin = maybe is not yes or no" out &&
	test $s = 1
'

test_expect_success 'a wrong password: tried once, said as the listing says it, exit 1' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet -k Repository_R:remotepass=wrong >out 2>&1;
	s=$?
	cat out &&
	grep -q "^ERROR: imap-list: could not log in to 127\.0\.0\.1 as alice" out &&
	! grep -q "no connection lent" out &&
	test "$(fails)" = 1 && test "$(logins)" = 0 &&
	nothing_left && test $s = 1
'

test_expect_code 75 'the account locked by another instance: imap-hold goes too, 75' '
	offlineimap-lock -c rc -a A sh -c "echo >held; sleep 4" & p=$!
	while [ ! -e held ]; do sleep 0.05; done
	offlineimap -c rc -u quiet >out 2>&1
	s=$?; kill $p; wait $p; rm -f held
	grep -q "Could not lock account A" out &&
	nothing_left && exit $s
'

test_expect_success 'a plan that downloads over 20 MB: sync-apply logs in itself' '
	: >"$DC_DIR/dovecot.log" &&
	awk "BEGIN {
		printf \"From: a@example.org\\nSubject: big\\nMessage-ID: <big@example.org>\\n\\n\"
		for (i = 0; i < 120000; i++) printf \"%070d\\n\", i }" >big.eml &&
	for i in 1 2 3; do
		sed "s/<big@/<big$i@/" big.eml | dc_adm save -u alice -m Work || exit 1
	done &&
	offlineimap -c rc -u quiet &&
	test "$(logins)" = 2 && nothing_left &&
	files >got && server >want && test_cmp want got &&
	test "$(grep -c "^Work " got)" = 5
'

test_expect_success 'a presynchook runs before the login (it may open the way to the server)' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet \
	    -k "Account_A:presynchook=sleep 0.5; grep -c \"Login: user=<alice>\" $DC_DIR/dovecot.log >$TEST_DIR/at.hook" &&
	test "$(cat at.hook)" = 0 && test "$(logins)" = 1 && nothing_left
'

test_expect_success 'imap-hold cannot start (a socket path too long): a warning, each tool logs in' '
	long=$TEST_DIR/tmp/$(printf "%0100d" 0) &&
	mkdir "$long" &&
	f=$(ls mail/Work/cur/*,U=2,*) &&
	mv "$f" "${f%%:2,*}:2,S" &&
	: >"$DC_DIR/dovecot.log" &&
	TMPDIR=$long offlineimap -c rc -u basic >out 2>&1 &&
	cat out &&
	grep -q "^sharedlogin: imap-hold did not start (.*the path is too long for a socket.*); each tool logs in$" out &&
	test "$(logins)" = 2 && rmdir "$long" &&
	files >got && server >want && test_cmp want got &&
	grep -q "^Work 2 S$" got
'

test_expect_success 'a sync with nothing to do: one login' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet &&
	test "$(logins)" = 1 && test "$(logouts)" = 1 && nothing_left
'

test_done
