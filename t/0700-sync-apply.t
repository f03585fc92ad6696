#!/bin/sh
# sync-apply against a private Dovecot: an initial sync of a few thousand
# messages over several folders (odd names included), then every kind of
# change on each side, checked by comparing both sides message by message
# (bodies by hash, flags) and by a next plan that finds nothing to do.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"
. "$T/lib-sync.sh"

command -v sqlite3 >/dev/null || bail_out "sqlite3 is missing (share/deps)"
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 2000 >/dev/null || bail_out fill
dovecot_fill alice "Work/Sub" 400 S >/dev/null || bail_out fill
dovecot_fill alice "Odd &Name" 30 F >/dev/null || bail_out fill
dovecot_fill alice "Ünïcode dir" 20 >/dev/null || bail_out fill
dc_adm flags add -u alice '\Flagged \Answered' mailbox INBOX uid 3:9 >/dev/null
perl -e 'print "From: a\@example.org\r\nSubject: odd\r\n\r\nline\rwith a lone CR\r\n\xe9t\xe9\r\n", "x" x 5000, "\r\n"' >odd.eml
perl -e 'print "From: b\@example.org\r\nSubject: big\r\n\r\n"; for (1..200000) { print "line $_ of a big message\r\n" }' >big.eml
dc_adm save -u alice -m INBOX <odd.eml || bail_out save
dc_adm save -u alice -m INBOX <big.eml || bail_out save
dc_rc rc </dev/null || bail_out rc
mkdir mail || bail_out mkdir

test_expect_success 'initial sync: every message on both sides, status written' '
	sync_run &&
	test "$(grep -c "^done	fetch	" applied)" = 2452 &&
	! grep -q "^failed" applied &&
	grep -q "^done	create-local	INBOX" applied &&
	sides_agree && no_duplicates &&
	test "$(wc -l <side.local)" = 2452 &&
	test -z "$(find mail -path "*/tmp/*" -type f)"
'

test_expect_success 'bytes kept: CRLF made LF, nothing else' '
	f=$(grep -l "^Subject: odd" mail/INBOX/new/*) &&
	perl -pe "s/\r\n/\n/g" odd.eml >want && cmp want "$f"
'

test_expect_success 'a second run finds nothing to do' '
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'OfflineIMAP metadata: FolderValidity and status files' '
	test -s meta/Repository-R/FolderValidity/INBOX &&
	test -s "meta/Account-A/LocalStatus-sqlite/Work.Sub" &&
	test "$(sqlite3 meta/Account-A/LocalStatus-sqlite/INBOX \
	    "SELECT value FROM metadata WHERE key = '"'db_version'"'")" = 2
'

test_expect_success 'changes on the server: new, flags, expunged' '
	dovecot_fill alice INBOX 25 >/dev/null &&
	dc_adm flags add -u alice "\\Seen" mailbox INBOX uid 20:29 >/dev/null &&
	dc_adm flags remove -u alice "\\Flagged" mailbox INBOX uid 3 >/dev/null &&
	dc_adm expunge -u alice mailbox "Work/Sub" uid 1:5 &&
	sync_run && ! grep -q "^failed" applied &&
	test "$(grep -c "^done	fetch	" applied)" = 25 &&
	test "$(grep -c "^done	flags-local	" applied)" = 11 &&
	test "$(grep -c "^done	delete-local	" applied)" = 5 &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'changes here: new files, flags, deletions' '
	printf "From: me@example.org\nMessage-ID: <new1@example.org>\nSubject: new1\n\nbody one\n" \
	    >mail/INBOX/new/1700000000.new1.host &&
	printf "From: me@example.org\nSubject: no id\n\nbody two\rwith a lone CR\n" \
	    >mail/INBOX/cur/1700000000.new2.host:2,S &&
	printf "From: me@example.org\nSubject: sub\n\nthree\n" \
	    >mail/Work.Sub/new/1700000000.new3.host &&
	for f in $(ls mail/INBOX/new | grep ",U=1[0-4],"); do
		mv "mail/INBOX/new/$f" "mail/INBOX/cur/${f}RS" || return 1
	done &&
	rm mail/INBOX/*/*,U=15,* mail/INBOX/*/*,U=16,* &&
	sync_run && ! grep -q "^failed" applied &&
	test "$(grep -c "^done	upload	none	" applied)" = 3 &&
	test "$(grep -c "^done	flags-remote	" applied)" = 5 &&
	test "$(grep -c "^done	delete-remote	" applied)" = 2 &&
	sides_agree && no_duplicates &&
	test "$(dovecot_count alice INBOX)" = 2027 &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'an uploaded message keeps its bytes (only LF made CRLF on the wire)' '
	f=$(grep -l "^Subject: no id" mail/INBOX/cur/*) &&
	uid=$(echo "$f" | sed "s/.*,U=\([0-9]*\),.*/\1/") &&
	r=$(grep -l "^Subject: no id" snap/INBOX/cur/*) &&
	cmp "$f" "$r"
'

test_expect_success 'uploads are pipelined: all APPENDs sent before the first reply' '
	for i in 1 2 3 4 5 6; do
		printf "From: me@example.org\nMessage-ID: <pipe$i@example.org>\nSubject: pipe $i\n\nbody $i\n" \
		    >mail/INBOX/new/1700000100.pipe$i.host || return 1
	done
	sync_run -d 2>trace &&
	! grep -q "^failed" applied &&
	test "$(grep -c "^done	upload" applied)" = 6 &&
	grep -n "C: a[0-9]* APPEND" trace | sed -n "6p" >sixth &&
	test -s sixth &&
	first_reply=$(grep -n "S: a[0-9]* OK \[APPENDUID" trace | head -n 1 | cut -d: -f1) &&
	test "$(cut -d: -f1 sixth)" -lt "$first_reply" &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions &&
	sides_agree && no_duplicates
'

test_expect_success 'the same flag changed on both sides: both changes kept' '
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 40 >/dev/null &&
	f=$(ls mail/INBOX/new | grep ",U=40,") &&
	mv "mail/INBOX/new/$f" "mail/INBOX/new/${f}R" &&
	sync_run && ! grep -q "^failed" applied &&
	sides_agree && grep -q "^INBOX	40	FR	" side.local
'

test_expect_success 'a plan applied twice does no harm' '
	dovecot_fill alice INBOX 3 >/dev/null &&
	rm mail/INBOX/*/*,U=41,* &&
	imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
	sync-plan -c rc -a A remote local >plan.twice &&
	sync-apply -c rc -a A plan.twice >first &&
	sync-apply -c rc -a A plan.twice >second &&
	! grep -q "^failed" second &&
	grep "^done	fetch	" second >fetched && ! grep -v "(was there)$" fetched &&
	sides_agree && no_duplicates
'

test_expect_success 'a stale plan: the world moved on, the action is skipped' '
	f=$(ls mail/INBOX/new | grep ",U=42,") &&
	mv "mail/INBOX/new/$f" "mail/INBOX/cur/${f}S" &&
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 43 >/dev/null &&
	sync_run -k general:metadata="$TEST_DIR/meta" >/dev/null &&
	grep -q "^done	flags-remote	42" applied &&
	f=$(ls mail/INBOX/cur | grep ",U=42,") &&
	mv "mail/INBOX/cur/$f" "mail/INBOX/cur/$(echo "$f" | sed "s/:2,.*/:2,/")" &&
	imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
	sync-plan -c rc -a A remote local >plan.stale &&
	grep -q "^flags-remote	42	S		" plan.stale &&
	dc_adm flags add -u alice "\\Answered" mailbox INBOX uid 42 >/dev/null &&
	f=$(ls mail/INBOX/*/ | grep ",U=44,") && rm mail/INBOX/*/"$f" &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	sync-apply -c rc -a A plan.stale >stale &&
	grep -q "^skipped	flags-remote	42	changed on the server" stale &&
	grep -q "^skipped	status	42	" stale &&
	sync_run && ! grep -q "^failed" applied &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'a new local folder is created on the server, then filled' '
	mkdir -p mail/Fresh/cur mail/Fresh/new mail/Fresh/tmp &&
	printf "Subject: fresh\n\nfresh\n" >mail/Fresh/new/1700000001.f1.host &&
	sync_run && grep -q "^done	create-remote	Fresh" applied &&
	sync_run && grep -q "^done	upload	none	" applied &&
	test "$(dovecot_count alice Fresh)" = 1 &&
	sides_agree &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

hash_world() {
	{ (cd mail && find . -type f | sort) && find meta -type f | sort |
	    xargs md5sum && imap-list -c rc -a A -m | grep -v "^#"; } | md5sum
}

test_expect_success '-n changes nothing anywhere and says what it would do' '
	dovecot_fill alice INBOX 2 >/dev/null &&
	rm mail/INBOX/*/*,U=45,* &&
	printf "Subject: dry\n\ndry\n" >mail/INBOX/new/1700000002.dry.host &&
	imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
	sync-plan -c rc -a A remote local >plan &&
	hash_world >before &&
	sync-apply -n -c rc -a A plan >dry &&
	hash_world >after && test_cmp before after &&
	test "$(grep -c "^would	fetch	" dry)" = 2 &&
	grep -q "^would	upload	none	new/1700000002.dry.host" dry &&
	grep -q "^would	delete-remote	45	" dry
'

test_expect_success 'expunge = no: the message stays on the server, marked \Deleted' '
	sync_run -k Repository_R:expunge=no &&
	grep -q "^done	delete-remote	45	marked" applied &&
	dc_adm fetch -u alice flags mailbox INBOX uid 45 | grep -q "Deleted"
'

test_expect_success 'a download a killed run left in tmp/ is discarded; other files stay' '
	F=7e33429f656f1e6e9d79b29c3f82c57e &&
	h=$(hostname | tr / -) &&
	echo partial >"mail/INBOX/tmp/1700000000_0.4000000.$h,U=9999,FMD5=$F:2," &&
	echo mine >"mail/INBOX/tmp/1700000000.foreign.host" &&
	echo other >"mail/INBOX/tmp/1700000000_0.4000000.$h,U=9999,FMD5=0123:2," &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	sync_run && grep -q "^done	fetch	" applied &&
	ls mail/INBOX/tmp >left &&
	printf "%s\n" 1700000000.foreign.host "1700000000_0.4000000.$h,U=9999,FMD5=0123:2," >want &&
	test_cmp want left && rm mail/INBOX/tmp/*
'

# renumber FOLDER: the server gives the folder a new UIDVALIDITY and new
# UIDs (its messages copied to a new folder that takes its name)
renumber() {
	dc_adm mailbox create -u alice "$1.new" &&
	dc_adm copy -u alice "$1.new" mailbox "$1" all &&
	dc_adm mailbox delete -u alice "$1" &&
	dc_adm mailbox rename -u alice "$1.new" "$1"
}

test_expect_success 'a renumbered folder: matched by Message-ID and size, nothing fetched again' '
	dc_adm expunge -u alice mailbox "Odd &Name" uid 1:3 &&
	sync_run && ! grep -q "^failed" applied &&
	renumber "Odd &Name" &&
	sync_run 2>err && grep -q "^revalidate	" plan &&
	grep -q "^done	revalidate	Odd &-Name	27 matched by Message-ID and size, 27 renamed" applied &&
	ls "mail/Odd &-Name/new" | grep -q ",U=1,FMD5=" &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions &&
	sides_agree && no_duplicates
'

test_expect_success 'a renumbered folder with a message the server lost: nothing changed' '
	renumber "Odd &Name" &&
	dc_adm expunge -u alice mailbox "Odd &Name" uid 5 &&
	ls "mail/Odd &-Name/new" >names.before &&
	sync_run
	s=$?
	grep -q "^failed	revalidate	Odd &-Name	1 of 27 local messages" applied &&
	ls "mail/Odd &-Name/new" >names.after && test_cmp names.before names.after &&
	test $s = 1
'

test_expect_success 'a plan for another account is refused' '
	sed "s/^account	A$/account	B/" plan >plan.b &&
	sync-apply -c rc -a A plan.b >out 2>err
	s=$?; grep -q "account \"B\", not \"A\"" err && test $s = 1
'

test_expect_success 'a plan cut short (no end record) is not applied' '
	test "$(grep -c "^end	" plan)" -gt 1 &&
	awk "NR == FNR { if (/^end\t/) n = FNR; next } FNR != n" plan plan >plan.cut &&
	test "$(grep -c "^end	" plan.cut)" = "$(($(grep -c "^end	" plan) - 1))" &&
	sync-apply -c rc -a A plan.cut >out 2>err
	s=$?; grep -q "no end record" err && test $s = 1
'

test_expect_success 'a path outside the folder is refused' '
	printf "#format sync-plan 1.0\naccount\tA\nfolder\t1\t%s\tINBOX\tINBOX\tx\ndelete-local\t1\t\tcur/../../etc\nend\tINBOX\n" \
	    7e33429f656f1e6e9d79b29c3f82c57e >plan.evil &&
	sync-apply -c rc -a A plan.evil >out 2>err
	s=$?; grep -q "not a file in cur/ or new/" err && test $s = 1
'

test_expect_success '-p: a plan that never comes ends with the process that started it' '
	rm -f plan.fifo && mkfifo plan.fifo &&
	sh -c "sync-apply -p -c rc -a A plan.fifo >/dev/null 2>&1 & echo \$! >sa.pid; exec sleep 1" &&
	i=0; while kill -0 "$(cat sa.pid)" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 "$(cat sa.pid)" 2>/dev/null
'

test_done
