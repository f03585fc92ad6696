#!/bin/sh
# offlineimap and mbnames: the intermediate JSON file per account and the
# mailboxes file, compared byte for byte with what the real OfflineIMAP
# writes for the same configuration (another user of the same server,
# with the same folders); incremental, -q, --mbnames-prune, Python
# expressions, and python3 missing.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

REAL=/usr/bin/offlineimap
# accounts A, B (alice, bob: ours) and C, D (carol, dave: OfflineIMAP's)
acct() {	# NAME USER MAIL UTF8
	cat <<EOF
[Account $1]
localrepository = L$1
remoterepository = R$1
utf8foldernames = $4

[Repository L$1]
type = Maildir
localfolders = $TEST_DIR/$3

[Repository R$1]
type = IMAP
remotehost = $DC_HOST
remoteport = $DC_PORT
remoteuser = $2
remotepass = $(dc_password $2)
ssl = no
starttls = no

EOF
}
dovecot_start --user carol:carolpw --user dave:davepw || bail_out 'cannot start dovecot'
for u in alice bob carol dave; do
	for f in INBOX "Gäste" Work/Sub "My Folder"; do
		dovecot_fill $u "$f" 1 >/dev/null || bail_out fill
	done
done

mbsection() {	# FILE [more lines]
	cat <<EOF
[mbnames]
enabled = yes
filename = $TEST_DIR/$1
header = "mailboxes "
peritem = "+%(accountname)s/%(foldername)s"
sep = " "
footer = "\n"
EOF
}

{
	printf '[general]\naccounts = A, B\nmetadata = %s/meta\n\n' "$TEST_DIR"
	acct A alice mail no; acct B bob mailb yes; mbsection mailboxes
} >rc
{
	printf '[general]\naccounts = A, B\nmetadata = %s/oimeta\n\n' "$TEST_DIR"
	acct A carol oimail no; acct B dave oimailb yes; mbsection oimailboxes
} >oirc

# the same text with our paths and OfflineIMAP's
same() {
	sed "s|$TEST_DIR/oimail|$TEST_DIR/mail|g" "$1" >"$1.norm" && test_cmp "$1.norm" "$2"
}

if [ -x "$REAL" ]; then
	test_expect_success 'the files OfflineIMAP writes, byte for byte' '
		"$REAL" -c oirc -u quiet &&
		offlineimap -c rc -u quiet &&
		same oimeta/mbnames/A.json meta/mbnames/A.json &&
		same oimeta/mbnames/B.json meta/mbnames/B.json &&
		same oimailboxes mailboxes &&
		grep -q "G\\\\u00e4ste" meta/mbnames/B.json &&
		grep -q "^mailboxes \"+A/G&AOQ-ste\" \"+A/INBOX\" \"+A/My Folder\" \"+A/Work.Sub\" \"+B/Gäste\"" mailboxes
	'

	test_expect_success 'Python expressions (python3): the same again' '
		for f in rc oirc; do
			sed -i "s/^header = .*/header = \"mail\" + \"boxes \"/; /^\[mbnames\]/a sort_keyfunc = lambda d: (d[\"accountname\"], d[\"foldername\"].lower())\nfolderfilter = lambda a, f: f != \"INBOX\" or a == \"A\"" $f || exit 1
		done &&
		"$REAL" -c oirc -u quiet && offlineimap -c rc -u quiet &&
		same oimeta/mbnames/B.json meta/mbnames/B.json &&
		same oimailboxes mailboxes && ! grep -q "+B/INBOX" mailboxes &&
		grep -q "^mailboxes " mailboxes
	'
fi

{
	printf '[general]\naccounts = A, B\nmetadata = %s/meta2\n\n' "$TEST_DIR"
	acct A alice mail2 no; acct B bob mailb2 yes
	mbsection mb2
	echo "incremental = yes"
} >rc2

test_expect_success 'incremental: the file is written after each account' '
	offlineimap -c rc2 -u quiet -a A &&
	echo "mailboxes \"+A/G&AOQ-ste\" \"+A/INBOX\" \"+A/My Folder\" \"+A/Work.Sub\"" >want &&
	test_cmp want mb2 &&
	offlineimap -c rc2 -u quiet -k mbnames:incremental=no -k "Account_B:postsynchook=cp $TEST_DIR/mb2 $TEST_DIR/mb2.during" -a B &&
	test_cmp want mb2.during && grep -q "+B/INBOX" mb2
'

test_expect_success 'a quick sync keeps the folders it skipped' '
	cp meta2/mbnames/A.json A.before &&
	offlineimap -c rc2 -u basic -a A -q >out &&
	grep -q "^Skipping INBOX (not changed)$" out &&
	test_cmp A.before meta2/mbnames/A.json
'

test_expect_success 'an account gone from [general] accounts stays until --mbnames-prune' '
	printf "[{\"accountname\": \"Old\", \"foldername\": \"INBOX\", \"localfolders\": \"/x\"}]" >meta2/mbnames/Old.json &&
	sed s/Old/Tes/ meta2/mbnames/Old.json >meta2/mbnames/Tes.json &&
	offlineimap -c rc2 -u quiet -a A &&
	grep -q "+Old/INBOX" mb2 && grep -q "+Tes/INBOX" mb2 &&
	offlineimap -c rc2 -u basic --mbnames-prune --dry-run >out &&
	grep -q "^mbnames would remove $TEST_DIR/meta2/mbnames/Old.json$" out &&
	test -e meta2/mbnames/Old.json &&
	offlineimap -c rc2 -u basic --mbnames-prune -k "accounts=A, Test, B" >out &&
	grep -q "^removed $TEST_DIR/meta2/mbnames/Old.json$" out &&
	grep -q "^removed $TEST_DIR/meta2/mbnames/Tes.json$" out &&
	test ! -e meta2/mbnames/Old.json && test ! -e meta2/mbnames/Tes.json &&
	test -e meta2/mbnames/A.json && ! grep -q "+Old/" mb2 && grep -q "+B/INBOX" mb2 &&
	offlineimap -c rc2 -u basic --mbnames-prune >out &&
	grep -q "^no cache file to remove$" out
'

test_expect_success 'mbnames off: --mbnames-prune removes every intermediate file' '
	offlineimap -c rc2 -u quiet --mbnames-prune -k mbnames:enabled=no &&
	test -z "$(ls meta2/mbnames)"
'

test_expect_success 'a mbnames section missing an option: an error, no file' '
	sed "/^peritem/d" rc2 >rc3 && rm -f mb2 &&
	offlineimap -c rc3 -u basic -a A >out 2>&1
	grep -q "^ERROR: \[mbnames\] peritem is not set" out && test ! -e mb2
'

# a PATH without python3
mkdir nopy && cp -s /usr/bin/* /bin/* nopy/ 2>/dev/null
rm -f nopy/python*
NOPY=$OI_BUILD/bin:$TEST_DIR/nopy

test_expect_success 'without python3: string literals need none' '
	rm -f mb2 && PATH=$NOPY offlineimap -c rc2 -u quiet -a A &&
	grep -q "^mailboxes \"+A/G&AOQ-ste\" \"+A/INBOX\"" mb2
'

test_expect_success 'without python3: an expression says what to write instead' '
	sed "s/^header = .*/header = \"mail\" + \"boxes \"/" rc2 >rc4 &&
	PATH=$NOPY offlineimap -c rc4 -u basic -a A >out 2>&1
	s=$?
	grep -q "^ERROR: \[mbnames\] holds Python expressions .* python3 is not installed: write header, sep and footer as string literals" out &&
	test $s = 1
'

test_done
