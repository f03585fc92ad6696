#!/bin/sh
# fmd5-migrate: old-style FMD5 names (before OfflineIMAP 6.3.5) made
# current, one folder at a time, reviewable, resumable, reversible.
. "$(dirname "$0")/test-lib.sh"

md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }
OLD=$(md5 Job.Sub)
NEW=$(md5 Work.Sub)
export OLD NEW

cat >rc <<EOF_RC
[general]
accounts = A

[Account A]
localrepository = L
remoterepository = R

[Repository L]
type = Maildir
localfolders = $TEST_DIR/mail
nametrans = lambda f: re.sub('^Job', 'Work', f)

[Repository R]
type = IMAP
remotehost = 127.0.0.1
EOF_RC

mkmaildir() {
	rm -rf mail &&
	mkdir -p mail/Job.Sub/cur mail/Job.Sub/new mail/Job.Sub/tmp \
	    mail/INBOX/cur mail/INBOX/new mail/INBOX/tmp &&
	for f in "cur/100_1.1.h,U=1,FMD5=$OLD:2,S" "cur/100_2.1.h,U=2,FMD5=$OLD:2,RS" \
	    "new/100_3.1.h,U=3,FMD5=$OLD:2," new/mutt.123.host "cur/x,U=9:2,S"; do
		echo "message $f" >"mail/Job.Sub/$f" || return 1
	done &&
	echo inbox >"mail/INBOX/cur/200_1.1.h,U=1,FMD5=$(md5 INBOX):2,S"
}
names() {
	(cd mail && find . -type f | sort)
}

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP the local nametrans of these tests needs python3"
	exit 0
fi

test_expect_success '-n prints the renames and changes nothing' '
	mkmaildir && names >before &&
	fmd5-migrate -n -c rc -a A >list &&
	names >after && test_cmp before after &&
	test "$(grep -c "^rename	" list)" = 3 &&
	grep -q "^rename	Job.Sub/cur/100_2.1.h,U=2,FMD5=$OLD:2,RS	Job.Sub/cur/100_2.1.h,U=2,FMD5=$NEW:2,RS$" list &&
	grep -q "^end	3	0	0	Job.Sub$" list &&
	! grep -q "INBOX" list
'

test_expect_success 'one folder migrated: UID and flags kept, foreign files left alone' '
	fmd5-migrate -c rc -a A Job.Sub >done &&
	test "$(grep -c "^rename	" done)" = 3 &&
	test -f "mail/Job.Sub/new/100_3.1.h,U=3,FMD5=$NEW:2," &&
	test -f mail/Job.Sub/new/mutt.123.host && test -f "mail/Job.Sub/cur/x,U=9:2,S" &&
	maildir-scan -c rc -a A Job.Sub >scan &&
	awk -F"\t" "\$1 == \"msg\" { print \$2, \$3 }" scan >got &&
	printf "1 S\n2 RS\n3 \nnone S\nnone \n" >want && test_cmp want got
'

test_expect_success 'running again renames nothing twice' '
	fmd5-migrate -c rc -a A >again &&
	! grep -q "^rename" again &&
	grep -q "^end	0	0	3	Job.Sub$" again
'

test_expect_success 'reversed from its own output, with the fields swapped' '
	awk -F"\t" -v OFS="\t" "\$1 == \"rename\" { t = \$2; \$2 = \$3; \$3 = t } { print }" done >undo &&
	fmd5-migrate -c rc -a A -f undo >undone &&
	test "$(grep -c "^rename	" undone)" = 3 &&
	names >after && test_cmp before after
'

test_expect_success 'stopped half-way (part of a reviewed list), a rerun finishes' '
	grep -v "^rename" list >part && grep "^rename" list | head -n 1 >>part &&
	fmd5-migrate -c rc -a A -f part >p1 &&
	test "$(grep -c "^rename" p1)" = 1 &&
	fmd5-migrate -c rc -a A >p2 &&
	test "$(grep -c "^rename" p2)" = 2 &&
	test "$(ls mail/Job.Sub/cur mail/Job.Sub/new | grep -c "FMD5=$NEW")" = 3 &&
	fmd5-migrate -c rc -a A -f list >p3 &&
	test "$(grep -c "^done	" p3)" = 3
'

test_expect_success 'a UID present in both kinds is a conflict, left alone' '
	mkmaildir &&
	echo other >"mail/Job.Sub/cur/300_1.1.h,U=2,FMD5=$NEW:2,S" &&
	fmd5-migrate -c rc -a A >out 2>err
	s=$?
	grep -q "^conflict	2	cur/100_2.1.h,U=2,FMD5=$OLD:2,RS	cur/300_1.1.h,U=2,FMD5=$NEW:2,S$" out &&
	test -f "mail/Job.Sub/cur/100_2.1.h,U=2,FMD5=$OLD:2,RS" &&
	grep -q "UID 2 is in" err &&
	test "$(grep -c "^rename" out)" = 2 && test $s = 1
'

test_expect_success 'a list naming a path outside localfolders is refused' '
	printf "#format fmd5-migrate 1.0\nrename\t../x\tJob.Sub/cur/y\n" >evil &&
	fmd5-migrate -c rc -a A -f evil 2>err
	s=$?; grep -q "evil:2: a path that would leave localfolders" err && test $s = 1
'

# ---- with the real OfflineIMAP: after migration a sync moves nothing ----
if ! [ -n "$OFFLINEIMAP3" ]; then
	echo "# offlineimap (Debian offlineimap3) is missing: sh share/deps install"
	test_done
fi
. "$T/lib-dovecot.sh"
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice "Work/Sub" 5 S >/dev/null || bail_out fill
dovecot_fill alice INBOX 2 >/dev/null || bail_out fill
dc_rc oirc <<EOF_R || bail_out rc
nametrans = lambda f: re.sub('^Work', 'Job', f)
EOF_R
sed -i "s|^localfolders = .*|localfolders = $TEST_DIR/oimail\\nnametrans = lambda f: re.sub('^Job', 'Work', f)|" oirc

test_expect_success 'old-style names from an OfflineIMAP Maildir, migrated; the next sync moves nothing' '
	"$OFFLINEIMAP3" -c oirc -u basic -1 >oi1.log 2>&1 || { cat oi1.log; exit 1; }
	test "$(ls oimail/Job.Sub/cur | grep -c "FMD5=$NEW")" = 5 &&
	for f in oimail/Job.Sub/cur/*; do
		mv "$f" "$(echo "$f" | sed "s/FMD5=$NEW/FMD5=$OLD/")" || exit 1
	done &&
	fmd5-migrate -c oirc -a A >m &&
	test "$(grep -c "^rename" m)" = 5 &&
	"$OFFLINEIMAP3" -c oirc -u basic -1 >oi2.log 2>&1 || { cat oi2.log; exit 1; }
	! grep -E "Copy message|Deleting" oi2.log &&
	test "$(dovecot_count alice Work/Sub)" = 5 &&
	test "$(ls oimail/Job.Sub/cur | wc -l)" = 5
'

test_done
