#!/bin/sh
# The status cache against the real OfflineIMAP: we read what it wrote, and
# it accepts what we wrote (a sync over our databases finds nothing to do).
. "$(dirname "$0")/test-lib.sh"

[ -n "$OFFLINEIMAP3" ] ||
    bail_out 'offlineimap (Debian offlineimap3) is missing: sh share/deps install'
command -v sqlite3 >/dev/null 2>&1 ||
    bail_out 'sqlite3 is missing: sh share/deps install'
. "$T/lib-dovecot.sh"
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 8 >/dev/null || bail_out fill
dovecot_fill alice "Work/Sub" 4 S >/dev/null || bail_out fill
dc_adm flags add -u alice '\Answered \Flagged' mailbox INBOX uid 2 >/dev/null
dc_adm flags add -u alice '\Seen' mailbox INBOX uid 5:7 >/dev/null

ST=$OI_BUILD/t/status-tool
export ST

dc_rc oirc </dev/null || bail_out rc

S=meta/Account-A/LocalStatus-sqlite
export S

# what OfflineIMAP did in a sync: copies, deletions, flag changes
changes() {
	grep -E "Copy message|Deleting|Adding flag|Deleting flag|Creating" "$1"
}

test_expect_success 'OfflineIMAP syncs and writes its status databases' '
	"$OFFLINEIMAP3" -c oirc -u basic -1 >oi.log 2>&1 || { cat oi.log; exit 1; }
	test -f $S/INBOX && test -f $S/Work.Sub &&
	find mail -type f | sort >files.before
'

test_expect_success 'we read every row OfflineIMAP wrote' '
	for db in $S/*; do
		"$ST" dump "$db" >ours &&
		sqlite3 "$db" "select id, flags from status order by id" |
		    tr "|" "\t" >theirs &&
		test_cmp theirs ours || exit 1
	done &&
	"$ST" dump $S/INBOX >rows && test "$(wc -l <rows)" = 8 &&
	grep -q "^2	FR$" rows && grep -q "^5	S$" rows
'

test_expect_success 'OfflineIMAP accepts databases we wrote: nothing to do' '
	for db in $S/*; do
		"$ST" dump "$db" >rows && rm "$db" &&
		"$ST" write "$db" <rows || exit 1
	done &&
	test "$(sqlite3 $S/INBOX "select value from metadata where key = \"oi_written_by\"")" = status-tool &&
	"$OFFLINEIMAP3" -c oirc -u basic -1 >oi2.log 2>&1 || { cat oi2.log; exit 1; }
	! changes oi2.log &&
	find mail -type f | sort >files.after &&
	test_cmp files.before files.after &&
	test "$(dovecot_count alice INBOX)" = 8
'

test_expect_success 'a version-1 database: read as it is, upgraded by OfflineIMAP too' '
	"$ST" dump $S/Work.Sub >rows && rm $S/Work.Sub &&
	sqlite3 $S/Work.Sub "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128)); INSERT INTO metadata VALUES(\"db_version\", \"1\"); CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50));" &&
	while IFS="	" read -r u f; do
		sqlite3 $S/Work.Sub "INSERT INTO status VALUES($u, \"$f\")" || exit 1
	done <rows &&
	"$ST" dump $S/Work.Sub >v1 && test_cmp rows v1 &&
	"$OFFLINEIMAP3" -c oirc -u basic -1 >oi3.log 2>&1 || { cat oi3.log; exit 1; }
	! changes oi3.log &&
	test "$(sqlite3 $S/Work.Sub "select value from metadata where key = \"db_version\"")" = 2
'

test_expect_success 'a legacy LocalStatus file is imported (OfflineIMAP would start empty)' '
	"$ST" dump $S/INBOX >rows && rm $S/INBOX &&
	mkdir -p meta/Account-A/LocalStatus &&
	{ echo "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2"
	  sed "s/	/|/; s/\$/|0|/" rows; } >meta/Account-A/LocalStatus/INBOX &&
	"$ST" dump $S/INBOX >legacy && test_cmp rows legacy &&
	test ! -e $S/INBOX &&
	"$ST" open $S/INBOX >imported && test_cmp rows imported &&
	"$OFFLINEIMAP3" -c oirc -u basic -1 >oi4.log 2>&1 || { cat oi4.log; exit 1; }
	! changes oi4.log
'

test_expect_success 'a file that is not a status database is refused by name' '
	printf "not a database at all, but something\n" >$S/Junk &&
	"$ST" open $S/Junk 2>err
	s=$?; cat err
	grep -q "Junk: not an OfflineIMAP status database" err && test $s = 1
'

test_done
