#!/bin/sh
# offlineimap --dry-run: the plan of every folder, shown, and nothing
# changed anywhere: the Maildir, the metadata directory and the server are
# hashed before and after.  Then the real sync does what the plan said.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 3 >/dev/null || bail_out fill
dovecot_fill alice Work/Sub 2 S >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
cat >>rc <<EOF || bail_out rc

[mbnames]
enabled = yes
filename = $TEST_DIR/mailboxes
header = "mailboxes "
peritem = "+%(accountname)s/%(foldername)s"
sep = " "
footer = "\n"
EOF
sed -i 's/^\[Account A\]$/[Account A]\npresynchook = touch '"$(echo "$TEST_DIR" | sed 's/[\/&]/\\&/g')"'\/pre.ran/' rc

# state DIR: every file and directory under DIR, with the MD5 of each file
state() {
	if [ -e "$1" ]; then
		(cd "$1" && find . | sort | while IFS= read -r f; do
			if [ -f "$f" ]; then
				printf '%s %s\n' "$(md5sum <"$f" | cut -c1-32)" "$f"
			else
				printf 'dir %s\n' "$f"
			fi
		done)
	else
		echo "no $1"
	fi
}

# the server: folders, and UID, flags and GUID of every message
server() {
	dc_adm mailbox list -u alice | sort &&
	dc_adm -f tab fetch -u alice 'mailbox uid flags guid' all | sort
}

snapshot() {
	{
		state mail; state meta; server
		for f in mailboxes pre.ran; do
			if [ -e "$f" ]; then md5sum "$f"; else echo "no $f"; fi
		done
	} >"$1"
}

test_expect_success 'a dry run before any sync creates nothing' '
	snapshot before &&
	offlineimap -c rc -u basic --dry-run >out 2>err &&
	snapshot after && test_cmp before after &&
	test ! -e mail && test ! -e meta && test ! -e mailboxes && test ! -e pre.ran &&
	test_cmp /dev/null err
'

test_expect_success 'it shows the plan of each folder, and what would be done' '
	grep -q "^\[DRYRUN\] Creating folder INBOX\[L\]$" out &&
	grep -q "^# INBOX: 3 fetch$" out &&
	grep -q "^fetch	3		[0-9]*$" out &&
	grep -q "^\[DRYRUN\] Copy 3 messages from INBOX\[R\] to L$" out &&
	grep -q "^\[DRYRUN\] Copy 2 messages from Work/Sub\[R\] to L$" out &&
	grep -q "^\[DRYRUN\] Calling hook: touch " out &&
	grep -q "^mbnames would write $TEST_DIR/meta/mbnames/A.json$" out &&
	grep -q "^mbnames would write $TEST_DIR/mailboxes$" out
'

test_expect_success 'changes on both sides; a dry run changes nothing' '
	offlineimap -c rc -u quiet && rm pre.ran &&
	dovecot_fill alice INBOX 2 >/dev/null &&
	dovecot_fill alice Archive 2 >/dev/null &&
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 1 &&
	dc_adm expunge -u alice mailbox INBOX uid 2 &&
	rm mail/Work.Sub/cur/*,U=1,* &&
	f=$(ls mail/INBOX/new/*,U=3,*) && mv "$f" "mail/INBOX/cur/${f##*/}S" &&
	mkdir -p mail/Local/cur mail/Local/new mail/Local/tmp &&
	printf "Subject: local\n\nbody\n" >mail/Local/new/1.local.host &&
	printf "Subject: mine\n\nbody\n" >mail/INBOX/new/2.local.host &&
	snapshot before &&
	offlineimap -c rc -u basic --dry-run >out 2>err &&
	snapshot after && test_cmp before after && test ! -e pre.ran &&
	test_cmp /dev/null err
'

test_expect_success 'the plan shown names every change' '
	grep -q "^\[DRYRUN\] Creating folder Archive\[L\]$" out &&
	grep -q "^\[DRYRUN\] Copy 2 messages from Archive\[R\] to L$" out &&
	grep -q "^flags-local	1		F	" out &&
	grep -q "^flags-remote	3		S	" out &&
	grep -q "^delete-local	2		" out &&
	grep -q "^delete-remote	1	S	" out &&
	grep -q "^upload	none		new/2.local.host$" out &&
	grep -q "^\[DRYRUN\] Deleting 1 messages (2) in Maildir\[INBOX\]$" out &&
	grep -q "^\[DRYRUN\] Deleting 1 messages (1) in IMAP\[Work/Sub\]$" out &&
	grep -q "^\[DRYRUN\] Copy 1 messages from INBOX\[L\] to R$" out &&
	grep -q "^\[DRYRUN\] Creating folder Local\[R\]$" out
'

test_expect_success 'the same with -q and -f, and in machineui: still nothing changed' '
	offlineimap -c rc -u machineui --dry-run -q >out2 &&
	offlineimap -c rc -u quiet --dry-run -f INBOX >out3 &&
	snapshot after2 && test_cmp before after2 && test_cmp /dev/null out3
'

test_expect_success '[general] dry-run = yes in the file is a dry run too' '
	offlineimap -c rc -u basic -k dry-run=yes >out4 &&
	grep -q "^\[DRYRUN\] Copy 2 messages from Archive\[R\] to L$" out4 &&
	snapshot after3 && test_cmp before after3
'

test_expect_success 'then the real sync does what the dry run showed' '
	offlineimap -c rc -u basic >real &&
	grep -q "^Copy message UID 1 (1/2) R:Archive -> L:Archive$" real &&
	grep -q "^Copy message UID -1 (1/1) L:INBOX -> R:INBOX$" real &&
	grep -q "^Deleting 1 messages (2) in Maildir\[INBOX\]$" real &&
	grep -q "^Adding flag F to 1 messages on INBOX$" real &&
	grep -q "^Adding flag S to 1 messages on INBOX$" real &&
	grep -q "^Deleting 1 messages (1) in IMAP\[Work/Sub\]$" real &&
	grep -q "^Creating folder Local\[R\]$" real &&
	test "$(dovecot_count alice Archive)" = 2 &&
	test "$(dovecot_count alice Work/Sub)" = 1 &&
	test -e pre.ran &&
	offlineimap -c rc -u basic --dry-run >out5 &&
	grep -q "^# Local: 1 upload" out5 &&
	! grep -q -e "^# INBOX: [0-9]" -e "^# Archive: [0-9]" -e "^# Work/Sub: [0-9]" out5
'

test_done
