#!/bin/sh
# sync-apply across folders: the next folder's SELECT goes out with the
# last commands of the folder before it, and UID EXPUNGE with the STORE
# of \Deleted; what the early SELECT finds is checked before anything is
# sent to that folder.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"
. "$T/lib-sync.sh"

command -v sqlite3 >/dev/null || bail_out "sqlite3 is missing (share/deps)"
dovecot_start || bail_out 'cannot start dovecot'
for f in Aa Bb Cc Dd Ee; do
	dovecot_fill alice "$f" 10 >/dev/null || bail_out fill
done
dc_rc rc </dev/null || bail_out rc
mkdir mail || bail_out mkdir

# seen_local FOLDER UID: the message read here (moved to cur/, S added)
seen_local() {
	sl_f=$(ls "mail/$1/new" | grep ",U=$2,") &&
	mv "mail/$1/new/$sl_f" "mail/$1/cur/${sl_f}S"
}

# early TRACE [COMMAND [-e]]: the reply to the first COMMAND (default UID
# STORE) comes after a SELECT or EXAMINE and (with -e) a UID EXPUNGE sent
# after that command
early() {
	awk -v cmd="${2:-UID STORE}" -v want="${3:-}" '
		!tag && index($0, "C: a") && index($0, " " cmd " ") {
			tag = $0; sub(/.*C: /, "", tag); sub(/ .*/, "", tag); next }
		tag && /C: a[0-9]+ (SELECT|EXAMINE) / && !sel { sel = NR }
		tag && /C: a[0-9]+ UID EXPUNGE/ && !ex { ex = NR }
		tag && index($0, "S: " tag " ") { reply = NR; exit }
		END { exit !(sel && reply && sel < reply &&
		    (want != "-e" || (ex && ex < reply))) }' "$1"
}

# select_alone TRACE: nothing is sent between a SELECT (or EXAMINE) and
# its reply: the folder's commands wait for its UIDVALIDITY, and those of
# the folder before went out before it
select_alone() {
	awk '
		/C: a[0-9]+ (SELECT|EXAMINE) / {
			t = $0; sub(/.*C: /, "", t); sub(/ .*/, "", t); open = NR; next }
		open && /C: / { print "line " NR ": sent before the reply to " t; bad = 1 }
		open && index($0, "S: " t " ") { open = 0 }
		END { exit bad }' "$1"
}

# nth N: the remote name of the Nth folder in the plans' order
nth() {
	sed -n "$1p" order
}

# plan_now: a plan for the changes made so far, in ./plan
plan_now() {
	imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
	sync-plan -c rc -a A remote local >plan
}

test_expect_success 'initial sync' '
	sync_run && ! grep -q "^failed" applied &&
	test "$(grep -c "^done	fetch	" applied)" = 50 &&
	sides_agree && no_duplicates &&
	awk -F "	" "\$1 == \"folder\" && \$4 != \"INBOX\" { print \$4 }" plan >order &&
	test "$(sort order | tr "\n" " ")" = "Aa Bb Cc Dd Ee "
'

test_expect_success 'flags in every folder: the next SELECT is sent before the STORE is answered' '
	for f in Aa Bb Cc Dd Ee; do seen_local $f 2 || return 1; done &&
	plan_now && sync-apply -d -c rc -a A plan >applied 2>trace &&
	! grep -q "^failed" applied &&
	test "$(grep -c "^done	flags-remote	" applied)" = 5 &&
	early trace && select_alone trace &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'deletions: UID EXPUNGE and the next SELECT go with the STORE' '
	for f in Aa Bb Cc Dd Ee; do rm mail/$f/*/*,U=3,* || return 1; done &&
	plan_now && sync-apply -d -c rc -a A plan >applied 2>trace &&
	! grep -q "^failed" applied &&
	test "$(grep -c "^done	delete-remote	3	expunged" applied)" = 5 &&
	early trace "UID STORE" -e && select_alone trace &&
	for f in Aa Bb Cc Dd Ee; do
		test "$(dovecot_count alice $f)" = 9 || return 1
	done &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'new mail in every folder: the next SELECT goes with the FETCH' '
	for f in Aa Bb Cc Dd Ee; do
		dovecot_fill alice $f 3 >/dev/null || return 1
	done &&
	plan_now && sync-apply -d -c rc -a A plan >applied 2>trace &&
	! grep -q "^failed" applied &&
	test "$(grep -c "^done	fetch	" applied)" = 15 &&
	early trace "UID FETCH" && select_alone trace &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'folders with nothing to send in between: the SELECT still goes early' '
	seen_local "$(nth 1)" 4 && seen_local "$(nth 5)" 4 &&
	dc_adm flags add -u alice "\\Flagged" mailbox "$(nth 3)" uid 4 &&
	plan_now &&
	test "$(grep -c "^flags-remote	" plan)" = 2 &&
	test "$(grep -c "^flags-local	" plan)" = 1 &&
	sync-apply -d -c rc -a A plan >applied 2>trace &&
	! grep -q "^failed" applied && early trace && select_alone trace &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'a flag taken away and one added: the SELECT goes with the second STORE' '
	for f in Aa Bb Cc Dd Ee; do
		dc_adm flags add -u alice "\\Flagged" mailbox $f uid 10 || return 1
	done &&
	sync_run && ! grep -q "^failed" applied &&
	for f in Aa Bb Cc Dd Ee; do
		p=$(find mail/$f -name "*,U=10,*") && test -n "$p" &&
		b=$(basename "$p") && mv "$p" "mail/$f/cur/${b%%:2,*}:2,S" || return 1
	done &&
	plan_now && sync-apply -d -c rc -a A plan >applied 2>trace &&
	! grep -q "^failed" applied &&
	test "$(grep -c "^done	flags-remote	10	" applied)" = 5 &&
	early trace "+FLAGS.SILENT" && select_alone trace &&
	test -z "$(dc_adm search -u alice mailbox "$(nth 3)" uid 10 FLAGGED)" &&
	test -n "$(dc_adm search -u alice mailbox "$(nth 3)" uid 10 SEEN)" &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'a bad record in a folder: the whole folders read ahead of it are applied first' '
	seen_local "$(nth 1)" 9 && seen_local "$(nth 2)" 9 &&
	plan_now && b=$(nth 2) &&
	awk -F "	" -v b="$b" "{ print } \$1 == \"end\" && \$2 == b { n = 1 }
	    n && \$1 == \"folder\" { print \"fetch	bogus		\"; n = 0 }" \
	    plan >plan.bad &&
	grep -q "^fetch	bogus" plan.bad &&
	{ sync-apply -c rc -a A plan.bad >applied 2>err; test $? = 1; } &&
	grep -q "bad UID \"bogus\"" err &&
	test "$(grep -c "^done	flags-remote	9	" applied)" = 2 &&
	test -n "$(dc_adm search -u alice mailbox "$b" uid 9 SEEN)" &&
	sync_run && ! grep -q "^failed" applied &&
	sides_agree && no_duplicates
'

test_expect_success 'a folder whose status cannot be opened after its early SELECT: the next ones are fine' '
	for f in Aa Bb Cc Dd Ee; do seen_local $f 5 || return 1; done &&
	plan_now && b=$(nth 2) &&
	st=meta/Account-A/LocalStatus-sqlite &&
	cp "$st/$b" "$st/$b-journal" &&
	{ sync-apply -d -c rc -a A plan >applied 2>trace; test $? = 1; } &&
	early trace && select_alone trace &&
	sed -n "/C: a[0-9]* SELECT $(nth 3)\$/,\$p" trace >trace.after &&
	early trace.after &&
	grep -q "^failed	flags-remote	5	.*journal" applied &&
	test "$(grep -c "^done	flags-remote	5	" applied)" = 4 &&
	test -z "$(dc_adm search -u alice mailbox "$b" uid 5 SEEN)" &&
	rm "$st/$b-journal" &&
	sync_run && ! grep -q "^failed" applied &&
	sides_agree && no_duplicates &&
	sync_run && plan_actions >actions && test_cmp /dev/null actions
'

test_expect_success 'the next folder deleted after the plan: its SELECT fails, the rest is done' '
	for n in 3 4 5; do seen_local "$(nth $n)" 7 || return 1; done &&
	plan_now && b=$(nth 4) &&
	dc_adm mailbox delete -u alice "$b" &&
	{ sync-apply -d -c rc -a A plan >applied 2>trace; test $? = 1; } &&
	early trace && select_alone trace &&
	grep -q "^failed	flags-remote	7	" applied &&
	test "$(grep -c "^done	flags-remote	7	" applied)" = 2
'

test_expect_success 'the next folder renumbered after the plan: nothing is sent to it' '
	for n in 1 2; do seen_local "$(nth $n)" 8 || return 1; done &&
	plan_now && b=$(nth 2) &&
	grep -q "^flags-remote	8	" plan &&
	dc_adm mailbox delete -u alice "$b" &&
	dovecot_fill alice "$b" 10 >/dev/null &&
	{ sync-apply -d -c rc -a A plan >applied 2>trace; test $? = 1; } &&
	early trace && select_alone trace &&
	grep -q "^skipped	flags-remote	8	UIDVALIDITY is" applied &&
	test "$(grep -c "^done	flags-remote	8	" applied)" = 1 &&
	test -z "$(dc_adm search -u alice mailbox "$b" uid 8 SEEN)"
'

test_done
