#!/bin/sh
# offlineimap's other modes: --info, --delete-folder (and imap-rmfolder,
# the tool behind it), --migrate-fmd5-using-nametrans (fmd5-migrate).
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 1 >/dev/null || bail_out fill
dovecot_fill alice Work/Sub 2 >/dev/null || bail_out fill
dovecot_fill alice Trash 3 >/dev/null || bail_out fill
dovecot_fill alice "Old Stuff" 1 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc

test_expect_success '--info: repositories, server, capabilities, folders; no sync' '
	offlineimap -c rc --info >out 2>err &&
	test_cmp /dev/null out &&
	sed 1,2d err | sed "s/$DC_PORT/PORT/" >got &&
	grep -q "^Remote repository .R.: type .IMAP.$" got &&
	grep -q "^Host: 127.0.0.1 Port: PORT SSL: False$" got &&
	grep -q "^Establishing connection to 127.0.0.1:PORT (R)$" got &&
	grep -q "^Server supports ID extension.$" got &&
	grep -q "^Server welcome string: \* OK .*Dovecot" got &&
	grep -q "^Server capabilities: (IMAP4rev1 .*IDLE.*)$" got &&
	sed -n "/^Folderlist:/,/^$/p" got | sed -n 1,6p >folders &&
	printf "Folderlist:\n INBOX\n Old Stuff\n Trash\n Work/Sub\n\n" >want &&
	test_cmp want folders &&
	grep -q "^Local repository .L.: type .Maildir.$" got &&
	test ! -e mail && test ! -e meta/Account-A
'

if command -v python3 >/dev/null 2>&1; then
	test_expect_success '--info: nametrans and folderfilter shown and applied' '
		offlineimap -c rc --info \
		    -k "Repository_R:nametrans=lambda f: f.replace(\"Work\", \"Job\")" \
		    -k "Repository_R:folderfilter=lambda f: f != \"Trash\"" 2>err &&
		grep -q "^folderfilter= lambda f: f != \"Trash\"$" err &&
		grep -q "^nametrans= lambda f: f.replace(\"Work\", \"Job\")$" err &&
		sed -n "/^Folderlist:/,/^$/p" err | sed -n 1,6p >folders &&
		printf "Folderlist:\n INBOX\n Work/Sub -> Job/Sub\n Old Stuff\n Trash (disabled)\n\n" >want &&
		test_cmp want folders
	'
fi

test_expect_success '--info with a server that refuses: says so (exit 0, as OfflineIMAP)' '
	offlineimap -c rc --info -k Repository_R:remotepass=wrong 2>err &&
	grep -q "^Failed to connect. Reason imap-list: " err
'

test_expect_success 'imap-rmfolder -n: what would go; nothing goes' '
	imap-rmfolder -c rc -a A -n Trash "Old Stuff" >out &&
	printf "#format imap-rmfolder 1.0\nwould-delete\t3\tTrash\nwould-delete\t1\tOld Stuff\n" >want &&
	test_cmp want out && test "$(dovecot_count alice Trash)" = 3
'

test_expect_success 'imap-rmfolder: a folder that is not there is an error record' '
	imap-rmfolder -c rc -a A Nothere >out 2>err
	s=$?
	grep -q "^error	STATUS refused: .*	Nothere$" out && grep -q "Nothere" err && test $s = 1
'

test_expect_success '--delete-folder --dry-run: what would go' '
	offlineimap -c rc -u basic --delete-folder Trash --dry-run >out &&
	grep -q "^would try to remove .Trash. on remote of .A. account (3 messages)$" out &&
	test "$(dovecot_count alice Trash)" = 3
'

test_expect_success '--delete-folder: deleted on the server, what it held said' '
	offlineimap -c rc -u basic --delete-folder="Old Stuff" >out &&
	grep -q "^Folder .Old Stuff. deleted (1 messages).$" out &&
	! dc_adm mailbox list -u alice | grep -q "Old Stuff"
'

test_expect_success '--delete-folder of a folder that is not there' '
	offlineimap -c rc -u basic --delete-folder "Old Stuff" >out 2>&1
	s=$?
	grep -q "^ERROR: Folder .Old Stuff.\[R\] could not be deleted." out && test $s = 1
'

test_expect_success '--delete-folder wants exactly one account' '
	sed "s/^accounts = A$/accounts = A, B/; \$a [Account B]\nlocalrepository = L\nremoterepository = R" rc >rc2 &&
	offlineimap -c rc2 -u basic --delete-folder Trash >out 2>&1
	s=$?
	grep -q "^ERROR: you must supply only one account with .-a.$" out &&
	test "$(dovecot_count alice Trash)" = 3 && test $s = 1
'

test_expect_code 75 '--delete-folder, server gone: 75' '
	offlineimap -c rc -u quiet --delete-folder Trash -k Repository_R:remoteport=1 >out 2>&1
'

if command -v python3 >/dev/null 2>&1; then
	md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }
	OLD=$(md5 Work.Sub) NEW=$(md5 Job.Sub)
	export OLD NEW
	sed "/^localfolders/a nametrans = lambda f: re.sub(\"^Work\", \"Job\", f)" rc >rcm

	test_expect_success '--migrate-fmd5-using-nametrans --dry-run: said, nothing renamed' '
		mkdir -p mail/Work.Sub/cur mail/Work.Sub/new mail/Work.Sub/tmp &&
		echo a >"mail/Work.Sub/cur/1_1.1.h,U=1,FMD5=$OLD:2,S" &&
		echo b >"mail/Work.Sub/new/1_2.1.h,U=2,FMD5=$OLD:2," &&
		echo c >"mail/Work.Sub/new/mutt.3" &&
		offlineimap -c rcm -u basic --migrate-fmd5-using-nametrans --dry-run >out &&
		grep -q "^Migrating file .$TEST_DIR/mail/Work.Sub/cur/1_1.1.h,U=1,FMD5=$OLD:2,S. to FMD5 .$NEW.$" out &&
		test "$(grep -c "^Migrating file" out)" = 2 &&
		test -e "mail/Work.Sub/cur/1_1.1.h,U=1,FMD5=$OLD:2,S"
	'

	test_expect_success '--migrate-fmd5-using-nametrans: renamed, UIDs and flags kept' '
		offlineimap -c rcm -u quiet --migrate-fmd5-using-nametrans &&
		test -e "mail/Work.Sub/cur/1_1.1.h,U=1,FMD5=$NEW:2,S" &&
		test -e "mail/Work.Sub/new/1_2.1.h,U=2,FMD5=$NEW:2," &&
		test -e mail/Work.Sub/new/mutt.3 &&
		offlineimap -c rcm -u basic --migrate-fmd5-using-nametrans >out &&
		! grep -q "^Migrating" out
	'

	test_expect_code 1 '--migrate-fmd5-using-nametrans: a conflict is an error' '
		echo d >"mail/Work.Sub/cur/2_1.1.h,U=1,FMD5=$OLD:2,S" &&
		offlineimap -c rcm -u basic --migrate-fmd5-using-nametrans >out 2>&1
		s=$?
		grep -q "Inconsistent FMD5: UID 1 is in cur/2_1.1.h" out && exit $s
	'
fi

test_done
