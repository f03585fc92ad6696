#!/bin/sh
# Crash safety: sync-apply killed (SIGKILL) after every single durable
# step in turn, and after random delays; each time a rerun of the whole
# sync must converge with nothing lost, nothing doubled and the status
# consistent with both sides.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"
. "$T/lib-sync.sh"

command -v sqlite3 >/dev/null || bail_out "sqlite3 is missing (share/deps)"
dovecot_start || bail_out 'cannot start dovecot'
dc_rc rc </dev/null || bail_out rc

# A world with one change of every kind pending on each side.
world() {
	dc_adm expunge -u alice mailbox INBOX all &&
	dc_adm expunge -u alice mailbox Side all 2>/dev/null
	dc_adm mailbox delete -u alice Fresh 2>/dev/null
	dc_adm mailbox delete -u alice Here 2>/dev/null
	rm -rf mail meta snap && mkdir mail &&
	dovecot_fill alice INBOX 12 >/dev/null &&
	dovecot_fill alice Side 4 S >/dev/null &&
	sync_run >/dev/null && ! grep -q "^failed" applied || return 1
	# the server: new messages, a new folder, flags, an expunge
	dovecot_fill alice INBOX 4 >/dev/null &&
	dovecot_fill alice Fresh 2 >/dev/null &&
	dc_adm flags add -u alice '\Seen' mailbox INBOX 1:2 >/dev/null &&
	dc_adm flags add -u alice '\Flagged' mailbox Side 1 >/dev/null &&
	dc_adm expunge -u alice mailbox INBOX 3 || return 1
	# here: new messages (with and without Message-ID), flags, a
	# deletion, a new folder
	printf 'From: me@example.org\nMessage-ID: <up1.%s@example.org>\nSubject: up1\n\none\n' "$1" \
	    >mail/INBOX/new/1700000000.up1.host &&
	printf 'From: me@example.org\nSubject: up2 %s\n\ntwo\n' "$1" \
	    >mail/INBOX/cur/1700000000.up2.host:2,S &&
	set -- $(ls mail/INBOX/new | sed -n '5,7p') &&
	mv "mail/INBOX/new/$1" "mail/INBOX/cur/${1}FS" &&
	mv "mail/INBOX/new/$2" "mail/INBOX/new/${2}R" &&
	rm "mail/INBOX/new/$3" &&
	mkdir -p mail/Here/cur mail/Here/new mail/Here/tmp &&
	printf 'Subject: here\n\nhere\n' >mail/Here/new/1700000000.here.host
}

# The world is built once and saved (the server's files with its indexes,
# the local Maildir and the metadata); each crash starts from a copy.
save_world() {
	tar -C "$DC_DIR" -cpf server.tar mail/alice home/alice &&
	tar -cpf here.tar mail meta
}
restore_world() {
	rm -rf "$DC_DIR/mail/alice" "$DC_DIR/home/alice" mail meta snap &&
	tar -C "$DC_DIR" -xpf server.tar && tar -xpf here.tar
}

# count FOLDER: messages of a folder in the last side.remote
count() {
	awk -F '\t' -v f="$1" '$1 == f' side.remote | wc -l
}

# converge: reruns end in agreement, with the expected messages (a folder
# created on the server is filled by the run after)
converge() {
	for k in 1 2 3 4; do
		sync_run >/dev/null 2>rerun.err || { cat rerun.err; return 1; }
		plan_actions >actions
		[ -s actions ] || break
	done
	test "$k" -gt 1 && test_cmp /dev/null actions &&
	sides_agree && no_duplicates &&
	test "$(count INBOX)" = 16 && test "$(count Side)" = 4 &&
	test "$(count Fresh)" = 2 && test "$(count Here)" = 1 &&
	test -z "$(find mail -path "*/tmp/*" -type f)"
}

test_expect_success 'without a crash: one sync, then nothing to do' '
	world 0 && save_world &&
	sync_run && ! grep -q "^failed" applied && converge
'

test_expect_success 'killed after each step in turn: every rerun converges' '
	n=${CRASH_FROM:-1} && while :; do
		restore_world || return 1
		imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
		sync-plan -c rc -a A remote local >plan || return 1
		OI_TEST_APPLY_STOP=$n sync-apply -c rc -a A plan >applied.$n 2>&1
		s=$?
		[ $s = 0 ] && break
		[ $s = 137 ] || { echo "step $n: exit $s"; cat applied.$n; return 1; }
		converge || { echo "after a kill at step $n"; return 1; }
		n=$((n + 1))
	done &&
	echo "# $((n - 1)) crash points" &&
	test "$n" -gt 20 || test "${CRASH_FROM:-1}" != 1
'

test_expect_success 'killed while creating a folder (no cur, new, tmp yet): the rerun completes it' '
	restore_world &&
	mkdir mail/Fresh &&
	converge
'

test_expect_success 'killed after random delays: every rerun converges' '
	for i in 1 2 3 4 5 6; do
		restore_world || return 1
		imap-list -c rc -a A -m >remote && maildir-scan -c rc -a A -m >local &&
		sync-plan -c rc -a A remote local >plan || return 1
		sync-apply -c rc -a A plan >applied.r$i 2>&1 &
		pid=$!
		perl -e "select undef, undef, undef, rand(0.08)"
		kill -9 $pid 2>/dev/null; wait $pid
		converge || { echo "random kill $i"; return 1; }
	done
'

test_done
