#!/bin/sh
# sync-apply where Dovecot alone cannot take it: a server without UIDPLUS
# (OfflineIMAP's X-OfflineIMAP header, found again after a crash), a NO to
# APPEND, a message expunged between plan and apply, and the connection
# dropped in the middle of a FETCH and of an APPEND (t/imap-proxy).
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"
. "$T/lib-sync.sh"

command -v sqlite3 >/dev/null || bail_out "sqlite3 is missing (share/deps)"
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 20 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
mkdir mail || bail_out mkdir
sync_run >/dev/null || bail_out 'initial sync'

# proxy NAME [rules]: a proxy in front of Dovecot; rc.NAME talks to it
proxy() {
	pn=$1
	shift
	perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/$pn.port" \
	    --pid-file "$TEST_DIR/$pn.pid" --log "$TEST_DIR/$pn.log" \
	    --upstream "$DC_HOST:$DC_PORT" --max-time 120 "$@" &&
	sed "s/^remoteport = .*/remoteport = $(cat "$TEST_DIR/$pn.port")/" rc >"rc.$pn"
}
proxy_stop() {
	kill "$(cat "$TEST_DIR/$1.pid")" 2>/dev/null
	return 0
}
# apply_via NAME [env ...]: plan directly, apply through proxy NAME
plan_now() {
	imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
	sync-plan -c rc -a A remote local >plan
}
# uid_of SUBJECT: the server's UID of the message with that subject
uid_of() {
	dc_adm search -u alice mailbox INBOX header Subject "$1" | awk '{ print $2 }'
}
STATUS=meta/Account-A/LocalStatus-sqlite/INBOX
intents() {
	sqlite3 "$STATUS" "SELECT count(*) FROM metadata WHERE key LIKE 'sync-apply upload %'"
}

proxy nouidplus --drop-cap UIDPLUS || bail_out proxy

test_expect_success 'without UIDPLUS: uploaded with X-OfflineIMAP, its UID found by search' '
	printf "From: me@example.org\nSubject: plain1\n\nplain one\n" \
	    >mail/INBOX/new/1700000000.plain1.host &&
	cp mail/INBOX/new/1700000000.plain1.host before &&
	plan_now && sync-apply -c rc.nouidplus -a A plan >out &&
	grep -q "^done	upload	none	" out &&
	grep -q "UID SEARCH HEADER X-OfflineIMAP" nouidplus.log &&
	uid=$(uid_of plain1) && test -n "$uid" &&
	f=$(ls mail/INBOX/new/*,U=$uid,*) && cmp before "$f" &&
	dc_adm fetch -u alice hdr mailbox INBOX uid "$uid" >hdr &&
	grep -q "^X-OfflineIMAP: [0-9]*-[0-9]*" hdr &&
	test "$(intents)" = 0 &&
	plan_now && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'without UIDPLUS, killed right after the APPEND: found by its header, not sent twice' '
	printf "From: me@example.org\nSubject: plain2\n\nplain two\n" \
	    >mail/INBOX/new/1700000000.plain2.host &&
	plan_now &&
	{ OI_TEST_APPLY_STOP=2 sync-apply -c rc.nouidplus -a A plan >out; test $? = 137; } &&
	test "$(intents)" = 1 &&
	test -n "$(uid_of plain2)" && ls mail/INBOX/new/1700000000.plain2.host &&
	plan_now && grep -q "^fetch	$(uid_of plain2)	" plan &&
	sync-apply -c rc.nouidplus -a A plan >out &&
	grep -q "^done	upload	none	$(uid_of plain2) .*found after a crash" out &&
	grep -q "^done	fetch	$(uid_of plain2)	it is an upload of ours" out &&
	test "$(dc_adm search -u alice mailbox INBOX header Subject plain2 | wc -l)" = 1 &&
	test "$(grep -l "Subject: plain2" mail/INBOX/*/* | wc -l)" = 1 &&
	test "$(intents)" = 0 &&
	plan_now && plan_actions >actions && test_cmp /dev/null actions
'

# the server copies with the header differ from ours: they go
test_expect_success 'they are deleted on both sides' '
	rm $(grep -l "^Subject: plain[12]" mail/INBOX/*/*) &&
	sync_run && test "$(grep -c "^done	delete-remote	" applied)" = 2 &&
	sides_agree
'

test_expect_success 'with UIDPLUS, killed right after the APPEND: found by size, date and Message-ID' '
	printf "From: me@example.org\nMessage-ID: <p3@example.org>\nSubject: plain3\n\nthree\n" \
	    >mail/INBOX/new/1700000000.plain3.host &&
	plan_now &&
	{ OI_TEST_APPLY_STOP=2 sync-apply -c rc -a A plan >out; test $? = 137; } &&
	sync_run && grep -q "found after a crash" applied &&
	test "$(dc_adm search -u alice mailbox INBOX header Subject plain3 | wc -l)" = 1 &&
	sides_agree && no_duplicates
'

test_expect_success 'without UIDPLUS: no folder-wide EXPUNGE while others have \Deleted mail' '
	dc_adm flags add -u alice "\\Deleted" mailbox INBOX uid 1 >/dev/null &&
	rm mail/INBOX/*/*,U=2,* &&
	plan_now && grep -q "^delete-remote	2	" plan &&
	{ sync-apply -c rc.nouidplus -a A plan >out; test $? = 1; } &&
	grep -q "^failed	delete-remote	2	.*1 other messages are marked" out &&
	test -n "$(uid_of "$(dc_adm fetch -u alice hdr.subject mailbox INBOX uid 1 | sed -n "s/^hdr.subject: //p")")" &&
	dc_adm flags remove -u alice "\\Deleted" mailbox INBOX uid 1 >/dev/null &&
	plan_now && sync-apply -c rc.nouidplus -a A plan >out &&
	grep -q "^done	delete-remote	2	expunged" out &&
	test "$(dc_adm search -u alice mailbox INBOX uid 2 | wc -l)" = 0 &&
	test "$(dc_adm search -u alice mailbox INBOX uid 1 | wc -l)" = 1
'
proxy_stop nouidplus

proxy quota --reply '^APPEND=NO [OVERQUOTA] Quota exceeded (mailbox for user is full)' ||
    bail_out proxy

test_expect_success 'a NO to APPEND: reported with the server words, nothing recorded' '
	printf "From: me@example.org\nSubject: big4\n\nfour\n" \
	    >mail/INBOX/new/1700000000.big4.host &&
	plan_now && sync-apply -c rc.quota -a A plan >out
	s=$?
	grep -q "^failed	upload	none	\[OVERQUOTA\] Quota exceeded" out &&
	ls mail/INBOX/new/1700000000.big4.host && test "$(intents)" = 0 &&
	sync_run && grep -q "^done	upload	none	" applied && test $s = 1
'
proxy_stop quota

test_expect_success 'a message expunged between plan and apply is skipped' '
	dovecot_fill alice INBOX 3 >/dev/null &&
	plan_now && u=$(awk -F "\t" "\$1 == \"fetch\" { print \$2; exit }" plan) &&
	dc_adm expunge -u alice mailbox INBOX uid "$u" &&
	sync-apply -c rc -a A plan >out &&
	grep -q "^skipped	fetch	$u	no longer on the server" out &&
	test "$(grep -c "^done	fetch	" out)" = 2 &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions &&
	sides_agree
'

test_expect_success 'TERM: the folder being applied is finished, the rest is not, exit 75' '
	mkdir -p mail/Later/cur mail/Later/new mail/Later/tmp &&
	dovecot_fill alice Later 2 >/dev/null && dovecot_fill alice INBOX 2 >/dev/null &&
	plan_now && grep -q "^folder	.*	INBOX	" plan && grep -q "^folder	.*	Later	" plan &&
	awk "/^folder	.*	Later	/ { exit } { print }" plan >first &&
	sed -n "/^folder	.*	Later	/,\$p" plan >rest &&
	rm -f fifo && mkfifo fifo || return 1
	{ sync-apply -c rc -a A fifo >out 2>err; echo $? >rc.term; } &
	job=$!

	exec 7>fifo && cat first >&7 &&
	i=0 && while ! grep -q "^end	INBOX" out && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done &&
	pkill -TERM -f "sync-apply -c rc -a A fifo" &&
	sleep 0.2 && cat rest >&7; exec 7>&-; wait $job
	test "$(cat rc.term)" = 75 && grep -q "stopped by a signal" err &&
	! grep -q "^folder	Later" out &&
	sync_run && grep -q "^done	fetch	" applied && sides_agree
'

proxy cutfetch --close-after 'BODY.PEEK=15' || bail_out proxy

test_expect_success 'the connection cut in a FETCH: 75, what arrived is kept, a rerun completes' '
	dovecot_fill alice INBOX 40 >/dev/null &&
	plan_now &&
	{ sync-apply -c rc.cutfetch -a A plan >out 2>err; test $? = 75; } &&
	n=$(grep -c "^done	fetch	" out) && test "$n" -gt 0 && test "$n" -lt 40 &&
	test -z "$(find mail -path "*/tmp/*" -type f)" &&
	sync_run && test "$(grep -c "^done	fetch	" applied)" = $((40 - n)) &&
	sides_agree && no_duplicates
'
proxy_stop cutfetch

proxy cutappend --close-after '^APPEND=0' || bail_out proxy

test_expect_success 'the connection cut in an APPEND: 75, a rerun uploads it exactly once' '
	perl -e "print \"From: me\@example.org\nSubject: cut5\n\n\", \"x\" x 200, \"\n\" for 1; print \"line \$_\n\" for 1..20000" \
	    >mail/INBOX/new/1700000000.cut5.host &&
	plan_now &&
	{ sync-apply -c rc.cutappend -a A plan >out 2>err; test $? = 75; } &&
	sync_run && sync_run && plan_actions >actions && test_cmp /dev/null actions &&
	test "$(dc_adm search -u alice mailbox INBOX header Subject cut5 | wc -l)" = 1 &&
	sides_agree && no_duplicates
'
proxy_stop cutappend

test_done
