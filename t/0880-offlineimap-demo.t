#!/bin/sh
# make demo (share/demo): a throwaway Dovecot, a first sync, a --dry-run
# plan, the sync, the server stopped.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'the demo runs from start to end' '
	TMPDIR=$TEST_DIR sh "$OI_TOP/share/demo" "$OI_BUILD" >out 2>&1
	s=$?; cat out; test $s = 0
'

test_expect_success 'it syncs, shows a plan, applies it' '
	grep -q "^Copy message UID 12 (12/12) Server:INBOX -> Local:INBOX$" out &&
	grep -q "^mailboxes \"+INBOX\" \"+Lists.announce\" \"+Work.Projects\"$" out &&
	grep -q "^\[DRYRUN\] Copy 2 messages from INBOX\[Server\] to Local$" out &&
	grep -q "^\[DRYRUN\] Deleting 1 messages (1) in IMAP\[Work/Projects\]$" out &&
	grep -q "^flags-remote	8		S	" out &&
	grep -q "^Copy message UID 14 (2/2) Server:INBOX -> Local:INBOX$" out &&
	grep -q "^server: INBOX 14, Work/Projects 4 messages$" out &&
	grep -q "^Hook stdout: postsynchook: full sync done$" out
'

test_expect_success 'the server is stopped; the files stay, the password is not shown' '
	grep -q "^stopped$" out &&
	d=$(sed -n "s/^The configuration, the Maildir and the state are in //p" out) &&
	test -d "$d/Mail/INBOX/cur" && test -f "$d/offlineimaprc" &&
	test -z "$(pgrep -f "$d/demo/dovecot.conf")" &&
	pw=$(sed -n "s/^remotepass = //p" "$d/offlineimaprc") &&
	! grep -q -e "$pw" out
'

test_done
