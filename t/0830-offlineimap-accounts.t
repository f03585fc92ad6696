#!/bin/sh
# offlineimap: the account loop.  Two accounts synced in parallel
# (maxsyncaccounts), the account lock against a second instance and
# against OfflineIMAP itself, and the hooks with what they receive.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 2 >/dev/null || bail_out fill
dovecot_fill bob INBOX 3 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
cat >>rc <<EOF || bail_out rc

[Account B]
localrepository = LB
remoterepository = RB

[Repository LB]
type = Maildir
localfolders = $TEST_DIR/mailb

[Repository RB]
type = IMAP
remotehost = $DC_HOST
remoteport = $DC_PORT
remoteuser = bob
remotepass = $(dc_password bob)
ssl = no
starttls = no
EOF
sed -i 's/^accounts = A$/accounts = A, B/' rc

# A hook that meets the other account's: it says it is there, and waits
# (at most $2 tenths of a second) for the other one.
cat >meet <<'EOF'
#!/bin/sh
touch "$1.here"
i=0
while [ ! -e "$2.here" ] && [ $i -lt "$3" ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$2.here" ] && touch "$1.met"
exit 0
EOF
chmod +x meet

test_expect_success 'maxsyncaccounts = 2: both accounts at the same time' '
	offlineimap -c rc -u basic -k maxsyncaccounts=2 \
	    -k "Account_A:presynchook=$TEST_DIR/meet A B 100" \
	    -k "Account_B:presynchook=$TEST_DIR/meet B A 100" >out &&
	test -e A.met && test -e B.met &&
	test "$(ls mail/INBOX/new | wc -l)" = 2 && test "$(ls mailb/INBOX/new | wc -l)" = 3 &&
	test "$(grep -c "^\*\*\* Finished account" out)" = 2
'

test_expect_success 'each account'"'"'s lines come whole, in its order' '
	for a in A B; do
		r=R; [ $a = B ] && r=RB
		grep -e "^\*\*\* Processing account $a$" -e "($r)$" \
		    -e "^\*\*\* Finished account .$a. in [0-9]*:[0-9]*$" out |
		    sed "s/ in .*//; s/:[0-9]* (/ (/" >$a.lines &&
		printf "*** Processing account %s\nEstablishing connection to 127.0.0.1 (%s)\n*** Finished account '"'%s'"'\n" $a $r $a >want &&
		test_cmp want $a.lines || exit 1
	done
'

test_expect_success 'maxsyncaccounts = 1 (the default): one after the other' '
	rm -f A.* B.* &&
	offlineimap -c rc -u quiet \
	    -k "Account_A:presynchook=$TEST_DIR/meet A B 5" \
	    -k "Account_B:presynchook=$TEST_DIR/meet B A 5" &&
	test ! -e A.met && test -e B.met
'

test_expect_success '-1 wins over maxsyncaccounts' '
	rm -f A.* B.* &&
	offlineimap -c rc -u quiet -1 -k maxsyncaccounts=2 \
	    -k "Account_A:presynchook=$TEST_DIR/meet A B 5" \
	    -k "Account_B:presynchook=$TEST_DIR/meet B A 5" &&
	test ! -e A.met && test -e B.met
'

test_expect_code 75 'a held lock: "Could not lock account", the other account synced, 75' '
	dovecot_fill alice INBOX 1 >/dev/null && dovecot_fill bob INBOX 1 >/dev/null &&
	offlineimap-lock -c rc -a A sh -c "echo >held; sleep 4" & p=$!
	while [ ! -e held ]; do sleep 0.05; done
	offlineimap -c rc -u basic >out 2>&1
	s=$?; kill $p; wait $p
	grep -q "^ERROR: Could not lock account A. Is another instance using this account?$" out &&
	test "$(ls mail/INBOX/new | wc -l)" = 2 && test "$(ls mailb/INBOX/new | wc -l)" = 4 &&
	test ! -e meta/A.lock && exit $s
'

test_expect_success 'a second instance on the same account says so and exits 75' '
	mkfifo go &&
	offlineimap -c rc -u quiet -a A -k "Account_A:presynchook=read x <$TEST_DIR/go" & p=$!
	while [ ! -e meta/A.lock ]; do sleep 0.05; done
	offlineimap -c rc -u basic -a A >out 2>&1
	s=$?
	echo >go; wait $p && test "$(ls mail/INBOX/new | wc -l)" = 3 &&
	grep -q "Could not lock account A" out && test ! -e meta/A.lock && test $s = 75
'

if [ -x /usr/bin/offlineimap ]; then
	sed "s|^metadata = .*|metadata = $TEST_DIR/meta|" rc >oirc
	test_expect_code 75 'OfflineIMAP holding the account: we do not sync it' '
		/usr/bin/offlineimap -c oirc -u quiet -a A \
		    -k "Account_A:presynchook=sleep 3" >oi.out 2>&1 & p=$!
		while [ ! -e meta/A.lock ]; do sleep 0.05; done
		offlineimap -c rc -u basic -a A >out 2>&1
		s=$?; wait $p
		grep -q "Could not lock account A" out && exit $s
	'

	test_expect_success 'we holding the account: OfflineIMAP does not sync it' '
		offlineimap -c rc -u quiet -a A -k "Account_A:presynchook=read x <$TEST_DIR/go" & p=$!
		while [ ! -e meta/A.lock ]; do sleep 0.05; done
		/usr/bin/offlineimap -c oirc -u basic -a A >oi.out 2>&1
		echo >go; wait $p &&
		grep -q "Could not lock account A. Is another instance using this account?" oi.out
	'
fi

test_expect_success 'hooks: OfflineIMAP'"'"'s environment and nothing more' '
	env | sort >env.want &&
	echo OFFLINEIMAPSYNCMODE=full >>env.want && sort -o env.want env.want &&
	offlineimap -c rc -u basic -a A \
	    -k "Account_A:presynchook=env | sort >$TEST_DIR/env.pre; exec ls -l /proc/self/fd >$TEST_DIR/fd.pre" \
	    -k "Account_A:postsynchook=env | sort >$TEST_DIR/env.post" >out &&
	test_cmp env.want env.pre && test_cmp env.want env.post &&
	grep -q " 0 -> /dev/null$" fd.pre &&
	! grep -e " [4-9] -> " -e "lock" -e "/ui$" fd.pre
'

test_expect_success 'hooks: run before and after the sync, their output reported' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	offlineimap -c rc -u basic -a A \
	    -k "Account_A:presynchook=ls $TEST_DIR/mail/INBOX/new | wc -l; echo warn >&2; exit 3" \
	    -k "Account_A:postsynchook=ls $TEST_DIR/mail/INBOX/new | wc -l" >out &&
	test_file want <<-\EOF &&
	Calling hook: ls TD/mail/INBOX/new | wc -l; echo warn >&2; exit 3
	Hook stdout: 3

	Hook stderr:warn


	Hook return code: 3
	Calling hook: ls TD/mail/INBOX/new | wc -l
	Hook stdout: 4

	Hook stderr:

	Hook return code: 0
	EOF
	sed -n "/^Calling hook/,/^Hook return/p" out | sed "s|$TEST_DIR|TD|" >got &&
	test_cmp want got
'

test_expect_success 'a quick sync tells the hooks OFFLINEIMAPSYNCMODE=quick' '
	offlineimap -c rc -u quiet -a A -q \
	    -k "Account_A:presynchook=echo \$OFFLINEIMAPSYNCMODE >$TEST_DIR/mode" &&
	test "$(cat mode)" = quick
'

if command -v python3 >/dev/null 2>&1; then
	test_expect_success 'newmail_hook: called when unseen mail came into INBOX' '
		dovecot_fill alice INBOX 1 >/dev/null &&
		offlineimap -c rc -u quiet -a A \
		    -k "Repository_R:newmail_hook=lambda: open(\"$TEST_DIR/newmail\", \"a\").write(\"new\\n\")" &&
		test "$(cat newmail)" = new
	'

	test_expect_success 'newmail_hook: not for mail already seen' '
		dovecot_fill alice INBOX 1 S >/dev/null &&
		offlineimap -c rc -u quiet -a A \
		    -k "Repository_R:newmail_hook=lambda: open(\"$TEST_DIR/newmail\", \"a\").write(\"new\\n\")" &&
		test "$(cat newmail)" = new
	'
fi

test_expect_success 'a dry run calls no hook and says so' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	offlineimap -c rc -u basic -a A --dry-run -k "Account_A:presynchook=touch $TEST_DIR/ran" >out &&
	test ! -e ran && grep -q "^\[DRYRUN\] Calling hook: touch" out
'

test_done
