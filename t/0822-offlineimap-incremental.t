#!/bin/sh
# offlineimap's early login (sync-apply -p beside the listings) and its
# incremental listing: the state of the folders whose last
# sync was complete (<metadata>/Account-A/imap-list.state) lets the next
# listing skip the folders that did not change (CONDSTORE) and ask only
# for the changes of the others (QRESYNC); what is not complete is
# listed whole again.  Checked against a private Dovecot, by the
# commands sent and by both sides message by message.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 5 >/dev/null || bail_out fill
dovecot_fill alice Work 3 S >/dev/null || bail_out fill
dovecot_fill alice Other 2 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
export DC_PORT
st=meta/Account-A/imap-list.state
# earlylogin is about a second login: without sharedlogin
NS=Repository_R:sharedlogin=no

# "folder uid flags" of every message file, sorted
files() {
	(cd mail && find . -type f -path '*/[cn][ue][rw]/*') |
	sed -n 's|^\./\([^/]*\)/[a-z]*/.*,U=\([0-9]*\),FMD5=[0-9a-f]*:2,\([A-Z]*\)$|\1 \2 \3|p' | sort
}

# the same of the server's messages (flags S, F, R only)
server() {
	for f in INBOX Work Other; do
		dc_adm -f tab fetch -u alice 'uid flags' mailbox "$f" all |
		    awk -F '\t' -v f="$f" 'NR > 1 {
			s = ""
			if ($2 ~ /Flagged/) s = s "F"
			if ($2 ~ /Answered/) s = s "R"
			if ($2 ~ /Seen/) s = s "S"
			print f, $1, s }'
	done | sort
}

# the commands of the listing of a sync, without their tags and arguments
listing_cmds() {
	offlineimap -c rc -u basic -d imap >out 2>&1 &&
	sed -n 's/.*C: a[0-9]* \([A-Z]*\).*/\1/p' out | sed '/^LOGOUT$/q' >cmds
}

test_expect_success 'a first sync lists everything and saves the state' '
	offlineimap -c rc -u quiet &&
	test -f "$st" &&
	test "$(grep -c "^mailbox	" "$st")" = 3 &&
	files >got && server >want && test_cmp want got
'

test_expect_success 'earlylogin = yes: sync-apply logs in beside the listing, out when idle' '
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet -k "$NS" -k Repository_R:earlylogin=yes &&
	test "$(grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log")" = 2 &&
	test "$(grep -c "Disconnected: Logged out" "$DC_DIR/dovecot.log")" = 2
'

test_expect_success 'earlylogin = auto, server on 127.0.0.1: one login when nothing is to do' '
	grep -q "^remotehost = 127.0.0.1" rc &&
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet &&
	test "$(grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log")" = 1 &&
	: >"$DC_DIR/dovecot.log" &&
	offlineimap -c rc -u quiet -k "$NS" -k Repository_R:earlylogin=no &&
	test "$(grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log")" = 1
'

test_expect_success 'earlylogin = maybe: an error naming the option' '
	offlineimap -c rc -u quiet -k Repository_R:earlylogin=maybe >out 2>&1;
	s=$?
	grep -q "earlylogin = maybe is not auto, yes or no" out &&
	test $s = 1
'

test_expect_success 'a failed listing stops the early sync-apply: nothing left running' '
	offlineimap -c rc -u quiet -k "$NS" -k Repository_R:earlylogin=yes -k Repository_R:remotepass=wrong >out 2>&1;
	s=$?
	sleep 0.2
	! pgrep -f "sync-apply -c rc" &&
	grep -qi "auth" out &&
	test $s = 1
'

test_expect_success 'an untouched account: no folder is opened' '
	listing_cmds &&
	! grep -q -e EXAMINE -e SELECT -e FETCH cmds &&
	grep -q "^LIST$" cmds
'

test_expect_success 'a sync with nothing to do leaves the state file alone' '
	ls -li --time-style=full-iso "$st" >before &&
	offlineimap -c rc -u quiet &&
	ls -li --time-style=full-iso "$st" >after &&
	test_cmp before after
'

test_expect_success 'nothing to apply: no sync-apply, and the UI says what it would' '
	offlineimap -c rc -u basic -d maildir >out 2>&1 &&
	grep -q "nothing to apply: sync-apply not started" out &&
	! grep -q "running: .*sync-apply" out &&
	grep "^Syncing " out >got &&
	test "$(wc -l <got)" = 3 &&
	offlineimap -c rc -u basic -k "$NS" -k Repository_R:earlylogin=yes >out 2>&1 &&
	grep "^Syncing " out >want &&
	test_cmp want got &&
	offlineimap -c rc -u machineui >out 2>&1 &&
	grep -v "time:" out | sed "s/[0-9][0-9]*:[0-9][0-9]/T/g" >got &&
	offlineimap -c rc -u machineui -k "$NS" -k Repository_R:earlylogin=yes >out 2>&1 &&
	grep -v "time:" out | sed "s/[0-9][0-9]*:[0-9][0-9]/T/g" >want &&
	test_cmp want got
'

test_expect_success 'a skip with the server unchanged still drops the folder from the state' '
	f=$(ls mail/Other/*/*,U=1,*) &&
	cp "$f" "${f%/*}/dup.${f##*/}" &&
	offlineimap -c rc -u quiet &&
	! grep -q "	Other$" "$st" &&
	grep -q "	INBOX$" "$st" &&
	rm "${f%/*}/dup.${f##*/}" &&
	offlineimap -c rc -u quiet &&
	grep -q "	Other$" "$st"
'

test_expect_success 'changes on the server: only the changed folder, only its changes' '
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 2 &&
	dc_adm expunge -u alice mailbox INBOX uid 4 &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	listing_cmds &&
	test "$(grep -c "^EXAMINE$" cmds)" = 1 &&
	grep -q "UID FETCH 1:\* .*(CHANGEDSINCE [0-9]* VANISHED)" out &&
	files >got && server >want && test_cmp want got &&
	grep -q "^INBOX 2 F$" got && ! grep -q "^INBOX 4 " got &&
	grep -q "^INBOX 6 $" got
'

test_expect_success 'local changes go up while the server side is not listed' '
	offlineimap -c rc -u quiet &&
	rm mail/Work/cur/*,U=1,* &&
	f=$(ls mail/Other/*/*,U=2,*) && mv "$f" mail/Other/cur/"${f##*/}"S &&
	listing_cmds &&
	! grep -q -e "^EXAMINE$" cmds &&
	files >got && server >want && test_cmp want got &&
	! grep -q "^Work 1 " want && grep -q "^Other 2 S$" want
'

test_expect_success 'a folder with a skip in its plan loses its state' '
	offlineimap -c rc -u quiet &&
	grep -q "	Other$" "$st" &&
	f=$(ls mail/Other/*/*,U=1,*) &&
	cp "$f" "${f%/*}/dup.${f##*/}" &&
	dc_adm flags add -u alice "\\Answered" mailbox Other uid 1 &&
	offlineimap -c rc -u quiet &&
	! grep -q "	Other$" "$st" &&
	grep -q "	INBOX$" "$st" &&
	rm "${f%/*}/dup.${f##*/}" &&
	listing_cmds &&
	grep -q "^EXAMINE$" cmds &&
	grep -q "UID FETCH 1:\* (UID FLAGS RFC822.SIZE MODSEQ)$" out &&
	files >got && server >want && test_cmp want got &&
	grep -q "^Other 1 R$" got
'

test_expect_success 'a lost status database: nothing doubled, nothing lost' '
	offlineimap -c rc -u quiet &&
	files >before &&
	rm -r meta/Account-A/LocalStatus-sqlite &&
	offlineimap -c rc -u quiet &&
	files >after && test_cmp before after &&
	server >want && test_cmp want after &&
	offlineimap -c rc -u quiet &&
	files >again && test_cmp before again
'

test_expect_success 'a folder downloaded again (its Maildir and status removed) comes back whole' '
	offlineimap -c rc -u quiet &&
	grep -q "	Work$" "$st" &&
	n=$(find mail/Work -type f | wc -l) &&
	test "$n" -gt 0 &&
	rm -r mail/Work meta/Account-A/LocalStatus-sqlite/Work &&
	offlineimap -c rc -u basic -d imap >out 2>&1 &&
	test "$(find mail/Work -type f | wc -l)" = "$n" &&
	grep -q "incremental listing does not add up" out &&
	files >got && server >want && test_cmp want got &&
	offlineimap -c rc -u quiet &&
	grep -q "	Work$" "$st"
'

test_expect_success 'a folder unchanged on both sides since a complete sync: no status read' '
	offlineimap -c rc -u quiet &&
	sleep 3 &&
	offlineimap -c rc -u quiet &&
	test -s meta/Account-A/maildir-scan.state &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	test "$(grep -c "nothing to do (unchanged on both sides" out)" = 3
'

test_expect_success 'a listing state dated in the future (a clock set back): nothing skipped' '
	touch -r "$st" st.time &&
	touch -d "+1 hour" "$st" &&
	offlineimap -c rc -u basic --dry-run >out 2>&1;
	touch -r st.time "$st" &&
	! grep -q "nothing to do (unchanged" out &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	grep -q "nothing to do (unchanged" out
'

test_expect_success 'a status changed by another program: the incremental listing is not trusted' '
	sqlite3 meta/Account-A/LocalStatus-sqlite/INBOX "DELETE FROM status WHERE id = (SELECT max(id) FROM status)" &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	grep -q "^# INBOX: " out &&
	! grep -q "INBOX: nothing to do (unchanged" out &&
	offlineimap -c rc -u quiet &&
	files >got && server >want && test_cmp want got &&
	no_dup=$(cut -d" " -f1,2 got | sort | uniq -d) && test -z "$no_dup" &&
	test "$(sqlite3 meta/Account-A/LocalStatus-sqlite/INBOX "SELECT count(*) FROM status")" = "$(grep -c "^INBOX " got)"
'

test_expect_success 'a sync of some folders (-f) does not hide a status changed meanwhile' '
	sleep 3 &&
	offlineimap -c rc -u quiet && sleep 3 && offlineimap -c rc -u quiet &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	grep -q "Work: nothing to do (unchanged" out &&
	sqlite3 meta/Account-A/LocalStatus-sqlite/Work "UPDATE status SET flags = \"\" WHERE id = (SELECT max(id) FROM status)" &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	offlineimap -c rc -u quiet -f INBOX &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	grep -q "^# Work: " out &&
	! grep -q "Work: nothing to do (unchanged" out
'

test_expect_success 'a changed FolderValidity is not skipped: the full plan says so' '
	offlineimap -c rc -u quiet && sleep 3 && offlineimap -c rc -u quiet &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	grep -q "Other: nothing to do (unchanged" out &&
	v=meta/Repository-R/FolderValidity/Other &&
	cp "$v" v.saved && echo 12345 >"$v" &&
	offlineimap -c rc -u basic --dry-run >out 2>&1;
	cp v.saved "$v" &&
	! grep -q "Other: nothing to do (unchanged" out &&
	grep -qi "uidvalidity" out
'

test_expect_success 'a change pending under another configuration is not skipped' '
	sleep 3 &&
	offlineimap -c rc -u quiet &&
	f=$(ls mail/Work/cur/*,U=3,*) && mv "$f" "${f%:2,*}:2,FS" &&
	sleep 3 &&
	offlineimap -c rc -u quiet -k "Repository R:readonly=yes" &&
	offlineimap -c rc -u basic --dry-run >out 2>&1 &&
	grep -q "Work: 1 flags-remote" out &&
	offlineimap -c rc -u quiet &&
	files >got && server >want && test_cmp want got &&
	grep -q "^Work 3 FS$" want
'

test_expect_success 'a dry run saves no state' '
	dc_adm flags add -u alice "\\Seen" mailbox Work uid 2 &&
	cp "$st" st.before &&
	offlineimap -c rc -u quiet --dry-run &&
	test_cmp st.before "$st"
'

test_expect_success 'a new UIDVALIDITY: listed whole, the state replaced' '
	offlineimap -c rc -u quiet &&
	dc_adm mailbox delete -u alice Other &&
	dc_adm mailbox create -u alice Other &&
	dovecot_fill alice Other 1 >/dev/null &&
	rm -rf mail/Other meta/Account-A/LocalStatus-sqlite/Other &&
	offlineimap -c rc -u quiet &&
	files >got && server >want && test_cmp want got &&
	test "$(grep -c "^Other " got)" = 1
'

test_expect_success 'with a password command, no early login (one prompt at a time)' '
	: >"$DC_DIR/dovecot.log" &&
	pw=$(dc_password alice) &&
	sed "/^remotepass =/d" rc >rc.cmd &&
	echo "remotepasscmd = echo $pw" >>rc.cmd &&
	f=$(ls mail/Work/cur/*,U=2,*:2,S) && mv "$f" "$(echo "$f" | sed "s/:2,S$/:2,FS/")" &&
	offlineimap -c rc.cmd -u quiet -k "$NS" &&
	test "$(grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log")" = 2 &&
	files >got && server >want && test_cmp want got &&
	offlineimap -c rc.cmd -u quiet -k "$NS" &&
	test "$(grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log")" = 3
'

test_expect_success 'with a password command and sharedlogin: one login for both tools' '
	: >"$DC_DIR/dovecot.log" &&
	f=$(ls mail/Work/cur/*,U=2,*:2,FS) && mv "$f" "$(echo "$f" | sed "s/:2,FS$/:2,S/")" &&
	offlineimap -c rc.cmd -u quiet &&
	test "$(grep -c "Login: user=<alice>" "$DC_DIR/dovecot.log")" = 1 &&
	files >got && server >want && test_cmp want got
'

test_done
