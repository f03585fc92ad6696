#!/bin/sh
# make install / uninstall honour DESTDIR and PREFIX
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'install puts tools and pages under DESTDIR/PREFIX' '
	make -s -C "$OI_TOP" B="$OI_BUILD" DESTDIR="$TEST_DIR/dest" \
	    PREFIX=/opt/oi install >log 2>&1 &&
	for t in fmd5-migrate imap-fetch imap-list maildir-scan offlineimap-config sync-plan sync-apply offlineimap offlineimap-lock imap-rmfolder imap-idle; do
		test -x dest/opt/oi/bin/$t &&
		test -f dest/opt/oi/share/man/man1/$t.1 || { echo "$t missing"; exit 1; }
	done &&
	test -f dest/opt/oi/share/man/man7/offlineimap-tools.7 &&
	! grep -q @VERSION@ dest/opt/oi/share/man/man1/offlineimap-config.1
'

test_expect_success 'the installed tool runs' '
	dest/opt/oi/bin/offlineimap-config options >out &&
	grep -q "^option-def	general" out
'

test_expect_success 'uninstall removes them again' '
	make -s -C "$OI_TOP" B="$OI_BUILD" DESTDIR="$TEST_DIR/dest" \
	    PREFIX=/opt/oi uninstall >log 2>&1 &&
	test -z "$(find dest -type f)"
'

test_done
