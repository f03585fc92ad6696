#!/bin/sh
# maildir-scan: folder discovery, file names from every kind of writer,
# duplicates, hostile names, a full disk during delivery, and the oracle:
# Maildirs made by the real OfflineIMAP read with its own UIDs and flags.
. "$(dirname "$0")/test-lib.sh"

FMD5_INBOX=7e33429f656f1e6e9d79b29c3f82c57e
md5() { printf '%s' "$1" | md5sum | cut -c1-32; }
mkmd() { for d; do mkdir -p "$d/cur" "$d/new" "$d/tmp" || return 1; done; }
export FMD5_INBOX

test_expect_success 'sep .: the root, flat folders, a dot folder; not cur/new/tmp' '
	mkmd flat flat/INBOX flat/Work.Sub flat/.Hidden flat/INBOX/cur/x &&
	mkdir flat/notafolder flat/half && mkdir flat/half/cur flat/half/new &&
	mkmd flat/Work.Sub/Deeper &&
	touch flat/.dotfile flat/file &&
	maildir-scan -d flat >out &&
	printf "#format maildir-folders 1.0\nroot\t.\tflat\n" >want &&
	for n in "" .Hidden INBOX Work.Sub; do
		printf "folder\t%s\t%s\t%s\n" "$(md5 "$n")" "$n" "$n" >>want; done &&
	test_cmp want out
'

test_expect_success 'sep /: nested folders, cur/new/tmp never components' '
	mkmd nest/INBOX nest/Work nest/Work/Sub nest/Work/Sub/Deep nest/Work/cur/Trap &&
	mkdir -p nest/Plain/Inner && mkmd nest/Plain/Inner &&
	maildir-scan -d nest -t / >out &&
	grep "^folder	" out | cut -f3 >got &&
	printf "INBOX\nPlain/Inner\nWork\nWork/Sub\nWork/Sub/Deep\n" >want &&
	test_cmp want got &&
	maildir-scan -d nest -t / | grep "	Work/Sub	" | cut -f2 >fmd5 &&
	test "$(cat fmd5)" = "$(md5 Work/Sub)"
'

# a folder with names written by every kind of program
inbox=mail/INBOX
mkmd mail "$inbox" mail/Other
ours="1795694197_0.10663.vm,U=6,FMD5=$FMD5_INBOX:2,RS"
otherf=$(md5 Other)
touch "$inbox/cur/$ours" \
    "$inbox/new/1795694198_0.10663.vm,U=2,FMD5=$FMD5_INBOX:2," \
    "$inbox/cur/1700000000.M1P2.host,U=77:2,S" \
    "$inbox/cur/1700000001.M20P3.host,S=1234,W=1260:2,FS" \
    "$inbox/new/1700000002.12345_1.mutt-host" \
    "$inbox/cur/1700000003_1.2.mblaze:2,PT" \
    "$inbox/cur/1795694199_0.1.vm,U=9,FMD5=$otherf:2,S" \
    "$inbox/cur/1795694200_0.1.vm,U=4,FMD5=$FMD5_INBOX!2,F" \
    "$inbox/cur/.hidden,U=1,FMD5=$FMD5_INBOX:2,S" \
    "$inbox/tmp/1795694201_0.1.vm,U=5,FMD5=$FMD5_INBOX:2,S"
export inbox

test_expect_success 'names from OfflineIMAP, mutt, Dovecot, mblaze, mbsync' '
	maildir-scan -d mail INBOX >out &&
	cat >want <<-EOF &&
	#format maildir-messages 1.0
	mailbox	$FMD5_INBOX	8	full	INBOX	INBOX
	msg	2		-	-	new/1795694198_0.10663.vm,U=2,FMD5=$FMD5_INBOX:2,
	msg	4		-	-	cur/1795694200_0.1.vm,U=4,FMD5=$FMD5_INBOX!2,F
	msg	6	RS	-	-	cur/$ours
	msg	none	S	-	-	cur/1700000000.M1P2.host,U=77:2,S
	msg	none	FS	-	-	cur/1700000001.M20P3.host,S=1234,W=1260:2,FS
	msg	none	PT	-	-	cur/1700000003_1.2.mblaze:2,PT
	msg	none	S	-	-	cur/1795694199_0.1.vm,U=9,FMD5=$otherf:2,S
	msg	none		-	-	new/1700000002.12345_1.mutt-host
	end	8	INBOX
	EOF
	test_cmp want out
'

test_expect_success 'windows mode reads !2, and ignores :2,' '
	maildir-scan -d mail -w INBOX >out &&
	grep "^msg	4	F	" out &&
	grep "^msg	6		-	-	cur/$ours\$" out
'

test_expect_success 'sizes and times only when asked' '
	printf "hello\n" >"$inbox/cur/$ours" &&
	touch -d @1700000000 "$inbox/cur/$ours" &&
	maildir-scan -d mail -s INBOX >out &&
	grep "^msg	6	RS	6	1700000000	cur/" out
'

test_expect_success 'maxsize, startdate, maxage and min UID filters give a window' '
	maildir-scan -d mail -L 3 INBOX >out &&
	! grep "^msg	6	" out && grep "^mailbox	.*	window	INBOX" out &&
	maildir-scan -d mail -S 2024-01-01 INBOX >out &&
	grep -c "^msg" out >n && test "$(cat n)" = 4 &&
	maildir-scan -d mail -U 3 INBOX >out &&
	! grep "^msg	2	" out && grep -q "^msg	4	" out && grep -q "^msg	none" out &&
	maildir-scan -d mail -A 36500 INBOX >out &&
	grep "^end	8	INBOX" out
'

test_expect_success 'a UID above the lowest one in the window is kept (OfflineIMAP)' '
	mkmd win &&
	touch "win/cur/1000_0.1.h,U=50,FMD5=$(md5 ""):2,S" \
	    "win/cur/1795694197_0.1.h,U=10,FMD5=$(md5 ""):2,S" \
	    "win/cur/1000_1.1.h,U=5,FMD5=$(md5 ""):2,S" &&
	maildir-scan -d win -S 2020-01-01 "" >out &&
	grep -c "^msg" out >n && test "$(cat n)" = 2 &&
	grep "^msg	50	" out && ! grep "^msg	5	" out
'

test_expect_success 'duplicate UIDs: both files listed, reported in band and on stderr' '
	cp "$inbox/cur/$ours" "$inbox/cur/copy-of-it,U=6,FMD5=$FMD5_INBOX:2,RS" &&
	maildir-scan -d mail INBOX >out 2>err &&
	grep "^duplicate	6	2\$" out &&
	test "$(grep -c "^msg	6	" out)" = 2 &&
	grep "UID 6 is held by 2 files" err &&
	rm "$inbox/cur/copy-of-it,U=6,FMD5=$FMD5_INBOX:2,RS"
'

for bad in ../x ../../etc /etc "a/../../x" "Work/Sub" "a
b" cur; do
	export bad
	test_expect_code 1 "a hostile folder name is refused: $(echo "$bad" | tr '\n' '^')" '
		maildir-scan -d mail "$bad" >out 2>err
		s=$?; cat out err
		grep -q "^error	folder \"" out && grep -q "refused" err && exit $s
	'
done

test_expect_success 'with sep / too' '
	maildir-scan -d nest -t / "Work/../../x" >out 2>err
	s=$?; cat err; grep -q "has a \"..\" component" err && test $s = 1
'

test_expect_success 'an unknown folder is an error record, the rest is listed' '
	maildir-scan -d mail Nope INBOX >out 2>err
	s=$?; grep -q "^error	folder \"Nope\": no such Maildir folder" out &&
	grep -q "^end	8	INBOX" out && test $s = 1
'

# delivery with a full disk: nothing partial in new/ or cur/
test_expect_success 'delivery with ENOSPC (test hook): nothing partial is visible' '
	mkmd full &&
	OI_TEST_MAILDIR_ENOSPC=10000 "$OI_BUILD/t/unit-maildir" fill full >log
	grep "delivered 0" log && grep "No space" log &&
	test -z "$(find full -type f)"
'

if [ "$(id -u)" = 0 ] && mkdir small && mount -t tmpfs -o size=300k tmpfs small 2>/dev/null; then
	test_cleanup "umount '$TEST_DIR/small'"
	test_expect_success 'delivery onto a full tmpfs: complete files only, tmp/ empty' '
		mkmd small/F &&
		"$OI_BUILD/t/unit-maildir" fill small/F >log
		cat log; grep "No space" log && grep "delivered [1-9]" log &&
		test -z "$(ls small/F/tmp)" &&
		for f in small/F/new/* small/F/cur/*; do
			test "$(wc -c <"$f")" = 65536 || exit 1; done &&
		n=$(ls small/F/new small/F/cur | grep -c ",U=") &&
		grep "delivered $n\$" log
	'
else
	echo "# no tmpfs mount here (needs root): the test hook covers a full disk"
fi

test_expect_success 'nametrans through python3 changes the FMD5 (-a)' '
	cat >rc <<-EOF &&
	[general]
	accounts = A
	[Account A]
	localrepository = L
	remoterepository = R
	[Repository L]
	type = Maildir
	localfolders = $TEST_DIR/mail
	nametrans = lambda f: re.sub("^Other", "Renamed", f)
	[Repository R]
	type = IMAP
	remotehost = 127.0.0.1
	EOF
	maildir-scan -c rc -a A >out &&
	grep "^folder	$(md5 Renamed)	Other	Renamed\$" out &&
	grep "^folder	$FMD5_INBOX	INBOX	INBOX\$" out &&
	maildir-scan -c rc -a A Renamed >out &&
	grep "^end	0	Renamed" out
'

# ---- the oracle: the real OfflineIMAP against a private Dovecot ----
if ! [ -n "$OFFLINEIMAP3" ]; then
	echo "# offlineimap (Debian offlineimap3) is missing: sh share/deps install"
	test_done
fi
. "$T/lib-dovecot.sh"
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 6 >/dev/null || bail_out fill
dovecot_fill alice "Work/Sub" 4 S >/dev/null || bail_out fill
dovecot_fill alice "Work/Flagged" 3 FR >/dev/null || bail_out fill
dc_adm flags add -u alice '\Answered' mailbox INBOX uid 2 >/dev/null
dc_adm flags add -u alice 'Junk $Label1' mailbox INBOX uid 3 >/dev/null

cat >oirc <<EOF_RC
[general]
accounts = A, B
metadata = $TEST_DIR/oimeta

[Account A]
localrepository = L
remoterepository = R

[Account B]
localrepository = LB
remoterepository = RB

[Repository L]
type = Maildir
localfolders = $TEST_DIR/oimail
customflag_a = \$Label1

[Repository LB]
type = Maildir
localfolders = $TEST_DIR/oimailb
nametrans = lambda f: re.sub('^Job', 'Work', f)

[Repository R]
type = IMAP
remotehost = 127.0.0.1
remoteport = $DC_PORT
remoteuser = alice
remotepass = alicepw
ssl = no
starttls = no

[Repository RB]
type = IMAP
remotehost = 127.0.0.1
remoteport = $DC_PORT
remoteuser = alice
remotepass = alicepw
ssl = no
starttls = no
nametrans = lambda f: re.sub('^Work', 'Job', f)
EOF_RC

# For every folder: UID|flags from OfflineIMAP's status database, and the
# same from maildir-scan; no new message left.
oracle() {
	acct=$1
	maildir-scan -c oirc -a "$acct" >folders || return 1
	# the status is named by the local folder (separator made .)
	grep "^folder	" folders | cut -f3,4 >names
	[ -s names ] || { echo "no folders"; return 1; }
	while IFS='	' read -r l n; do
		db=oimeta/Account-$acct/LocalStatus-sqlite/$(echo "$l" | tr / .)
		[ -f "$db" ] || { echo "no status $db"; return 1; }
		sqlite3 "$db" "select id || '|' || flags from status order by id" >want || return 1
		maildir-scan -c oirc -a "$acct" "$n" >scan || return 1
		grep -q "^end	" scan || return 1
		! grep "^msg	none" scan || return 1
		awk -F'\t' '$1 == "msg" { print $2 "|" $3 }' scan >got
		echo "# $acct $n: $(wc -l <got) messages"
		test_cmp want got || return 1
	done <names
}

test_expect_success 'OfflineIMAP makes a Maildir; maildir-scan reads its UIDs and flags' '
	"$OFFLINEIMAP3" -c oirc -u quiet -1 >oi.log 2>&1 || { cat oi.log; exit 1; }
	oracle A &&
	grep -q "^msg	3	a	" scan ||
	{ maildir-scan -c oirc -a A INBOX | grep "^msg	3	a	"; }
'

test_expect_success 'with a local nametrans: the FMD5 verdicts match OfflineIMAP' '
	test -d oimailb/Job.Sub &&
	maildir-scan -c oirc -a B >f &&
	grep "^folder	$(md5 Work.Sub)	Job.Sub	Work.Sub\$" f &&
	oracle B
'

test_expect_success 'foreign files are new for both; after a sync both agree again' '
	d=oimail/INBOX &&
	touch "$d/new/1700000000.12345_1.mutt-host" "$d/cur/1700000000.M1P2.host,U=77:2,S" &&
	cp oimail/Work.Sub/cur/*,U=1,* "$d/cur/" &&
	maildir-scan -c oirc -a A INBOX >before &&
	test "$(grep -c "^msg	none" before)" = 3 &&
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 1 &&
	"$OFFLINEIMAP3" -c oirc -a A -u quiet -1 >oi.log 2>&1 || { cat oi.log; exit 1; }
	oracle A &&
	maildir-scan -c oirc -a A INBOX >after &&
	test "$(grep -c "^msg	" after)" = 9 &&
	grep "^msg	1	F	" after
'

test_done
