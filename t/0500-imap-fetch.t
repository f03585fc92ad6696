#!/bin/sh
# imap-fetch against a private Dovecot: bodies streamed into the Maildir
# under OfflineIMAP's names, bytes kept, nothing doubled, nothing partial.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 40 >/dev/null || bail_out fill
dovecot_fill alice "Work/Sub" 10 S >/dev/null || bail_out fill
dc_adm flags add -u alice '\Flagged \Answered' mailbox INBOX uid 3 >/dev/null
dc_adm flags add -u alice '\Seen' mailbox INBOX uid 4:6 >/dev/null

# an odd message: CRLF and a lone CR, 8-bit bytes, long lines; and a big one
perl -e 'print "From: a\@example.org\r\nSubject: odd\r\n\r\nline\rwith a lone CR\r\n\xe9t\xe9\r\n", "x" x 5000, "\r\n"' >odd.eml
perl -e 'print "From: b\@example.org\r\nSubject: big\r\n\r\n"; for (1..400000) { print "line $_ of a big message\r\n" }' >big.eml
dovecot_mkfolder alice Odd >/dev/null || bail_out mkfolder
dc_adm save -u alice -m Odd <odd.eml || bail_out save
dc_adm save -u alice -m Odd <big.eml || bail_out save

dc_rc rc </dev/null || bail_out rc

FMD5_INBOX=7e33429f656f1e6e9d79b29c3f82c57e
export FMD5_INBOX

test_expect_success 'a listing piped in: every message stored under OfflineIMAP names' '
	imap-list -c rc -a A -m >list &&
	imap-fetch -c rc -a A <list >out &&
	head -n 1 out >hdr && echo "#format imap-fetch 1.0" >want && test_cmp want hdr &&
	test "$(grep -c "^stored	" out)" = 52 &&
	grep "^end	40	INBOX$" out && grep "^end	10	Work/Sub$" out &&
	grep "^end	2	Odd$" out &&
	ls mail/INBOX/new mail/INBOX/cur | grep -c ",U=[0-9]*,FMD5=$FMD5_INBOX:2," >n &&
	test "$(cat n)" = 40 &&
	ls mail/INBOX/new | grep -q ",U=3,FMD5=$FMD5_INBOX:2,FR$" &&
	ls mail/INBOX/cur | grep -q ",U=4,FMD5=$FMD5_INBOX:2,S$" &&
	test "$(ls mail/Work.Sub/cur | wc -l)" = 10 &&
	test -z "$(ls mail/INBOX/tmp)"
'

test_expect_success 'maildir-scan reads them back with the same UIDs and flags' '
	maildir-scan -c rc -a A INBOX >scan &&
	awk -F"\t" "\$1 == \"msg\" { print \$2, \$3 }" scan >ours &&
	awk -F"\t" "\$1 == \"msg\" { f = \$3; gsub(/[^A-Za-z\\\\ ]/, \"\", f); print \$2, f }" list |
	    head -n 40 >/dev/null &&
	test "$(wc -l <ours)" = 40 && ! grep -q "^none" ours &&
	grep -q "^3 FR$" ours && grep -q "^5 S$" ours && grep -q "^1 $" ours
'

test_expect_success 'bytes kept: CRLF made LF, nothing else changed' '
	f=$(ls mail/Odd/new/*,U=1,*) &&
	perl -pe "s/\r\n/\n/g" odd.eml >want && cmp want "$f" &&
	f=$(ls mail/Odd/new/*,U=2,*) &&
	perl -pe "s/\r\n/\n/g" big.eml >want && cmp want "$f"
'

test_expect_success 'the same listing again stores nothing twice' '
	imap-fetch -c rc -a A <list >again &&
	test "$(grep -c "^present	" again)" = 52 &&
	! grep -q "^stored" again &&
	test "$(find mail -type f | wc -l)" = 52
'

test_expect_success 'UIDs named on the command line, flags asked of the server' '
	rm -rf mail/Work.Sub &&
	imap-fetch -c rc -a A Work/Sub 2:4 9 >out &&
	test "$(grep -c "^stored	[0-9]*	S	cur/" out)" = 4 &&
	grep -q "^end	4	Work/Sub$" out &&
	test "$(ls mail/Work.Sub/cur | wc -l)" = 4
'

test_expect_success 'a folder directory left without cur, new, tmp (a kill) is completed' '
	rm -rf mail/Work.Sub && mkdir mail/Work.Sub &&
	imap-fetch -c rc -a A Work/Sub 2 >out &&
	grep -q "^end	1	Work/Sub$" out &&
	test "$(ls mail/Work.Sub/cur | wc -l)" = 1 && test -d mail/Work.Sub/tmp
'

test_expect_success 'a UID the server does not have is gone, in band' '
	imap-fetch -c rc -a A INBOX 39:45 >out &&
	grep -q "^present	39	" out && grep -q "^present	40	" out &&
	test "$(grep -c "^gone	" out)" = 5 &&
	grep -q "^end	0	INBOX$" out
'

test_expect_success 'a UIDVALIDITY that changed stores nothing' '
	rm -rf mail/Odd &&
	awk -F"\t" -v OFS="\t" "\$1 == \"mailbox\" && \$8 == \"Odd\" { \$2 = 12345 } { print }" list >list.bad &&
	imap-fetch -c rc -a A <list.bad >out
	s=$?
	grep -q "^error	UIDVALIDITY is [0-9]*, not 12345: the UIDs asked for name other messages now	Odd$" out &&
	test -z "$(find mail/Odd -type f 2>/dev/null)" && test $s = 1
'

test_expect_success 'memory stays flat with a big message (streamed to tmp/)' '
	rm -rf mail/Odd &&
	/usr/bin/time -f %M -o rss.small imap-fetch -c rc -a A Odd 1 >out &&
	/usr/bin/time -f %M -o rss.big imap-fetch -c rc -a A Odd 2 >out &&
	grep -q "^stored	2	" out &&
	test "$(stat -c %s mail/Odd/new/*,U=2,*)" -gt 10000000 &&
	test $(($(cat rss.big) - $(cat rss.small))) -lt 4000
'

test_expect_success 'a connection cut in the middle: 75, nothing partial, a rerun completes' '
	rm -rf mail/INBOX &&
	imap-list -c rc -a A INBOX >inbox &&
	perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/p.port" \
	    --pid-file "$TEST_DIR/p.pid" --upstream "127.0.0.1:$DC_PORT" \
	    --max-time 60 --close-after "BODY.PEEK=25" --log "$TEST_DIR/p.log" &&
	imap-fetch -c rc -a A -k Repository_R:remoteport=$(cat p.port) <inbox >out 2>err
	s=$?; cat err; kill "$(cat p.pid)"
	test -z "$(ls mail/INBOX/tmp)" &&
	n=$(ls mail/INBOX/new mail/INBOX/cur | grep -c ",U=") &&
	test "$n" -lt 40 && test "$(grep -c "^stored" out)" = "$n" &&
	! grep -q "^end" out &&
	imap-fetch -c rc -a A <inbox >out2 &&
	test "$(ls mail/INBOX/new mail/INBOX/cur | grep -c ",U=")" = 40 &&
	test "$(grep -c "^present" out2)" = "$n" && test $s = 75
'

test_expect_success 'usage errors exit 1' '
	imap-fetch -c rc -a A INBOX 2>err
	s=$?; grep -q "^usage: imap-fetch" err && test $s = 1
'

test_done
