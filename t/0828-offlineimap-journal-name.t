#!/bin/sh
# A folder "J" beside a folder "J-journal": SQLite keeps J's rollback
# journal in the file that is J-journal's status database.  J is refused
# with an error that says why; J-journal's status is never touched.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 1 >/dev/null || bail_out fill
dovecot_fill alice J-journal 2 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
st=meta/Account-A/LocalStatus-sqlite

test_expect_success 'J-journal syncs alone' '
	offlineimap -c rc -u quiet &&
	test "$(ls mail/J-journal/new mail/J-journal/cur | grep -c ,U=)" = 2 &&
	test -s "$st/J-journal"
'

test_expect_success 'then J appears: refused with the reason, J-journal kept' '
	dovecot_fill alice J 1 >/dev/null &&
	cp "$st/J-journal" before &&
	{ offlineimap -c rc -u basic >out 2>&1; test $? = 1; } &&
	grep -q "J-journal is a status database" out &&
	cmp before "$st/J-journal" &&
	test ! -e "$st/J"
'

test_expect_success 'every sync: J refused, J-journal synced, nothing doubled' '
	dovecot_fill alice J-journal 1 >/dev/null &&
	{ offlineimap -c rc -u quiet >out 2>&1; test $? = 1; } &&
	grep -q "J-journal is a status database" out &&
	test "$(ls mail/J-journal/new mail/J-journal/cur | grep -c ,U=)" = 3 &&
	{ offlineimap -c rc -u quiet >out 2>&1; test $? = 1; } &&
	test "$(ls mail/J-journal/new mail/J-journal/cur | grep -c ,U=)" = 3 &&
	test "$(dc_adm search -u alice mailbox J-journal all | wc -l)" = 3
'

test_done
