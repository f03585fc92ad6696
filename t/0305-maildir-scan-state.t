#!/bin/sh
# maildir-scan -C: a folder whose cur/ and new/ did not change since an
# earlier listing is not read again but copied from it (mode "same");
# any file created, removed or renamed, a directory changed within the
# last two seconds, another configuration, or a damaged state makes it
# read as usual.
. "$(dirname "$0")/test-lib.sh"

FMD5_INBOX=7e33429f656f1e6e9d79b29c3f82c57e
mkmd() { for d; do mkdir -p "$d/cur" "$d/new" "$d/tmp" || return 1; done; }

mkmd mail/INBOX mail/Work mail/Old
touch "mail/INBOX/cur/1795694197_0.1.vm,U=1,FMD5=$FMD5_INBOX:2,S" \
    "mail/INBOX/cur/1795694197_1.1.vm,U=2,FMD5=$FMD5_INBOX:2," \
    "mail/INBOX/new/1700000002.12345_1.mutt-host" \
    mail/Work/cur/1700000003_1.2.mblaze:2,FS \
    mail/Old/cur/1700000004_1.2.other:2,
cat >rc <<EOF
[general]
accounts = A
[Account A]
localrepository = L
remoterepository = R
[Repository L]
type = Maildir
localfolders = $TEST_DIR/mail
sep = /
[Repository R]
type = IMAP
remotehost = 127.0.0.1
EOF
# a directory changed in the last two seconds is never trusted
sleep 3

# the listing without its stamp records and its mode, to compare
plain() { grep -v -e '^stamp	' -e '^#' "$1" | sed 's/^\(mailbox	[^	]*	[^	]*	\)[a-z]*	/\1M	/'; }

test_expect_success 'no state yet: every folder read, each with its stamp' '
	maildir-scan -c rc -a A -m >plain.out &&
	maildir-scan -c rc -a A -m -C state >out &&
	head -2 out >head &&
	printf "#format maildir-messages 1.1\n# same: 0 of 3 folders as in the state\n" >want &&
	test_cmp want head &&
	test "$(grep -c "^stamp	" out)" = 3 &&
	test "$(grep -c "^mailbox	.*	full	" out)" = 3 &&
	plain plain.out >want && plain out >got && test_cmp want got
'

test_expect_success 'the same directories: every folder copied from the state' '
	cp out state &&
	maildir-scan -c rc -a A -m -C state >out2 &&
	grep -q "^# same: 3 of 3 folders" out2 &&
	test "$(grep -c "^mailbox	.*	same	" out2)" = 3 &&
	plain out >want && plain out2 >got && test_cmp want got &&
	grep "^stamp	" out >want && grep "^stamp	" out2 >got && test_cmp want got
'

test_expect_success 'a new file, a flag renamed: only those folders read again' '
	touch mail/Work/new/1700000009_1.2.new-one &&
	f=$(ls mail/INBOX/cur/*,U=2,*) && mv "$f" "${f}F" &&
	maildir-scan -c rc -a A -m -C state >out3 &&
	grep -q "^# same: 1 of 3 folders" out3 &&
	grep -q "^mailbox	.*	same	Old	Old$" out3 &&
	grep -q "^mailbox	.*	full	Work	Work$" out3 &&
	grep -q "^msg	none		-	-	new/1700000009_1.2.new-one$" out3 &&
	grep -q "^msg	2	F	-	-	cur/.*,U=2,.*:2,F$" out3 &&
	maildir-scan -c rc -a A -m >plain3 &&
	plain plain3 >want && plain out3 >got && test_cmp want got
'

test_expect_success 'a folder changed in the last two seconds gets no stamp' '
	test "$(grep -c "^stamp	" out3)" = 1 &&
	sed -n "/	Old$/{n;p;}" out3 | grep -q "^stamp	"
'

test_expect_success 'another configuration or option: nothing copied' '
	maildir-scan -c rc -a A -m -C state -k "Repository L:sep=/" >out4 &&
	grep -q "^# same: 0 of 3 folders" out4 &&
	cp rc rc2 && echo "# changed" >>rc2 &&
	maildir-scan -c rc2 -a A -m -C state >out5 &&
	grep -q "^# same: 0 of 3 folders" out5
'

test_expect_success 'a damaged state: the damaged folder is read, the rest used' '
	sleep 3 &&
	maildir-scan -c rc -a A -m -C state >state2 &&
	grep -q "^# same: 1 of 3 folders" state2 &&
	maildir-scan -c rc -a A -m -C state2 >out6 &&
	grep -q "^# same: 3 of 3 folders" out6 &&
	sed "/^end	[0-9]*	INBOX$/d" state2 >state3 &&
	maildir-scan -c rc -a A -m -C state3 >out7 &&
	grep -q "^# same: 2 of 3 folders" out7 &&
	grep -q "^mailbox	.*	full	INBOX	INBOX$" out7 &&
	sed "/^mailbox	.*	Old$/{n;n;d;}" state2 >state4b &&
	maildir-scan -c rc -a A -m -C state4b >out8b &&
	grep -q "^# same: 2 of 3 folders" out8b &&
	sed "s/^end	1	Old$/end	7	Old/" state2 >state4 &&
	maildir-scan -c rc -a A -m -C state4 >out8 &&
	grep -q "^# same: 2 of 3 folders" out8 &&
	head -c 100 state2 >state5 &&
	maildir-scan -c rc -a A -m -C state5 >out9 &&
	grep -q "^# same: 0 of 3 folders" out9 &&
	echo "not a listing" >state6 &&
	maildir-scan -c rc -a A -m -C state6 >out10 &&
	grep -q "^# same: 0 of 3 folders" out10 &&
	plain plain.out >/dev/null
'

test_expect_success 'a folder moved away and another put in its place: read' '
	mv mail/Old mail/Old.away && mkmd mail/Old &&
	touch -d @1700000000 mail/Old/cur mail/Old/new &&
	sleep 3 &&
	maildir-scan -c rc -a A -m -C state2 >out11 &&
	grep -q "^mailbox	.*	full	Old	Old$" out11 &&
	grep -q "^end	0	Old$" out11
'

test_expect_success '-C goes with -a only, and not with -z or a window' '
	for a in "-c rc -a A -m -C state2 -z" "-c rc -a A -m -C state2 -L 10" \
	    "-c rc -a A -m -C state2 -s" "-d mail -m -C state2"; do
		maildir-scan $a >/dev/null 2>err
		test $? = 1 && grep -q "^maildir-scan: -C goes with -a" err || exit 1
	done
'

test_done
