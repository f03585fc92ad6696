#!/bin/sh
# sync-plan over what the real OfflineIMAP left: after its sync there is
# nothing to do; after changes on both sides, exactly those changes.
. "$(dirname "$0")/test-lib.sh"

[ -n "$OFFLINEIMAP3" ] ||
    bail_out 'offlineimap (Debian offlineimap3) is missing: sh share/deps install'
. "$T/lib-dovecot.sh"
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 8 >/dev/null || bail_out fill
dovecot_fill alice "Work/Sub" 4 S >/dev/null || bail_out fill
dc_adm flags add -u alice '\Answered' mailbox INBOX uid 5 >/dev/null

dc_rc oirc </dev/null || bail_out rc

plan() {
	imap-list -c oirc -a A -m >remote &&
	maildir-scan -c oirc -a A -m >local &&
	sync-plan -c oirc -a A remote local >plan
}
# the actions, without comments and folder framing: kind and UID
actions() {
	sed '/^#/d; /^account	/d; /^folder	/d; /^end	/d' plan |
	    cut -f1,2 | sort
}

test_expect_success 'after an OfflineIMAP sync, the plan holds nothing to do' '
	"$OFFLINEIMAP3" -c oirc -u quiet -1 >oi.log 2>&1 || { cat oi.log; exit 1; }
	plan &&
	actions >acts &&
	test ! -s acts &&
	test "$(grep -c "^folder	" plan)" = 2
'

test_expect_success 'changes on both sides are planned, and only they' '
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 1 &&
	dc_adm expunge -u alice mailbox INBOX uid 2 &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	f3=$(ls mail/INBOX/new/*,U=3,* 2>/dev/null || ls mail/INBOX/cur/*,U=3,*) &&
	mv "$f3" "mail/INBOX/cur/$(basename "$f3" | sed "s/:2,.*/:2,S/")" &&
	rm mail/INBOX/*/*,U=4,* &&
	printf "From: c@example.org\nSubject: new here\n\nbody\n" >mail/INBOX/new/123.local.host &&
	plan &&
	actions >acts &&
	printf "delete-local\t2\ndelete-remote\t4\nfetch\t9\nflags-local\t1\nflags-remote\t3\nstatus\t1\nstatus\t3\nupload\tnone\n" >want &&
	test_cmp want acts
'

test_expect_success 'the plan names the files and flags it expects' '
	grep "^flags-local	1		F	new/.*,U=1,FMD5=7e33429f656f1e6e9d79b29c3f82c57e:2,$" plan &&
	grep "^flags-remote	3		S	" plan &&
	grep "^upload	none		new/123.local.host$" plan
'

test_done
