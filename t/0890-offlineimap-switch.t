#!/bin/sh
# Switching: an account synced by the real OfflineIMAP (Debian's
# offlineimap3), then by ours on the same configuration and state: nothing
# downloaded, uploaded or renamed, the status unchanged; changes on both
# sides sync; then OfflineIMAP finds nothing to do.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

REAL=/usr/bin/offlineimap
if [ ! -x "$REAL" ]; then
	echo "1..0 # SKIP OfflineIMAP (Debian offlineimap3) is missing: sh share/deps install"
	exit 0
fi

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 6 >/dev/null || bail_out fill
dovecot_fill alice Work/Sub 3 S >/dev/null || bail_out fill
dovecot_fill alice "My Folder" 2 >/dev/null || bail_out fill
dc_adm flags add -u alice '\Flagged \Answered' mailbox INBOX uid 2 >/dev/null
dc_rc rc </dev/null || bail_out rc

# every file name under mail/, and every status row
state() {
	(cd mail && find . -type f | sort) &&
	for db in meta/Account-A/LocalStatus-sqlite/*; do
		echo "== $db"
		sqlite3 "$db" "SELECT id, flags FROM status ORDER BY id"
	done &&
	for f in meta/Repository-R/FolderValidity/*; do
		echo "== $f: $(cat "$f")"
	done
}

test_expect_success 'OfflineIMAP syncs first' '
	"$REAL" -c rc -u basic -1 >oi.log 2>&1 || { cat oi.log; exit 1; }
	test "$(find mail -type f | wc -l)" = 11
'

test_expect_success 'then ours: nothing to do, nothing renamed, the status the same' '
	state >before &&
	offlineimap -c rc -u basic >out &&
	! grep -q -e "Copy message" -e "^Deleting" -e "^Adding flag" -e "Creating" out &&
	test "$(grep -c "^Syncing " out)" = 3 &&
	state >after && test_cmp before after
'

test_expect_success 'changes on both sides, synced by ours' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	dc_adm flags add -u alice "\\Seen" mailbox INBOX uid 1 &&
	dc_adm expunge -u alice mailbox INBOX uid 3 &&
	f=$(ls mail/Work.Sub/cur/*,U=2,*) && mv "$f" "${f%S}FS" &&
	rm mail/My\ Folder/new/*,U=1,* &&
	printf "From: me\nSubject: written here\nMessage-ID: <here@x>\n\nbody\n" >mail/INBOX/new/1.here.host &&
	offlineimap -c rc -u basic >out &&
	grep -q "^Copy message UID 7 (1/1) R:INBOX -> L:INBOX$" out &&
	grep -q "^Copy message UID -1 (1/1) L:INBOX -> R:INBOX$" out &&
	grep -q "^Deleting 1 messages (3) in Maildir\[INBOX\]$" out &&
	grep -q "^Deleting 1 messages (1) in IMAP\[My Folder\]$" out &&
	grep -q "^Adding flag F to 1 messages on Work/Sub$" out &&
	test "$(dovecot_count alice INBOX)" = 7 && test "$(dovecot_count alice "My Folder")" = 1
'

test_expect_success 'OfflineIMAP again: nothing to do' '
	state >before &&
	"$REAL" -c rc -u basic -1 >oi2.log 2>&1 || { cat oi2.log; exit 1; }
	! grep -q -e "Copy message" -e "Deleting" -e "Adding flag" -e "Creating" oi2.log &&
	state >after && test_cmp before after
'

test_done
