#!/bin/sh
# offlineimap: OfflineIMAP's command line, parsed as optparse does, and
# the usage errors that list what is valid.  No server: the one in the
# configuration refuses connections (port 1), which is exit 75.
. "$(dirname "$0")/test-lib.sh"

cat >rc <<EOF
[general]
accounts = A
metadata = $TEST_DIR/meta

[Account A]
localrepository = L
remoterepository = R

[Account B]
localrepository = L
remoterepository = R

[Repository L]
type = Maildir
localfolders = $TEST_DIR/mail

[Repository R]
type = IMAP
remotehost = 127.0.0.1
remoteport = 1
ssl = no
EOF

test_expect_success '-h and --help: every option, exit 0' '
	offlineimap -h >h1 && offlineimap --help >h2 && test_cmp h1 h2 &&
	for o in --version -V --dry-run --info " -1 " "-P DIR" "-a account1" \
	    "-c FILE" "-d type1" "-l FILE" " -s " "-f folder1" "-k \[section:\]option=value" \
	    " -o " " -q " "-u INTERFACE" --delete-folder=FOLDERNAME \
	    --migrate-fmd5-using-nametrans --mbnames-prune; do
		grep -q -e "$o" h1 || { echo "missing: $o"; exit 1; }
	done
'

test_expect_success '--version: the bare version; abbreviated long options' '
	offlineimap --version >v && grep -qx "[0-9][0-9.]*" v &&
	offlineimap --vers >v2 && test_cmp v v2
'

test_expect_success '-V: the version and the libraries in use' '
	offlineimap -V >out &&
	grep -q "^offlineimap v$(cat v), libtls v[^,]*, SQLite v[^,]*, libbsd v" out
'

test_expect_success 'an unknown option: the error and the valid options' '
	offlineimap -c rc -x 2>err
	s=$?
	grep -q "^offlineimap: no such option: -x$" err &&
	grep -q "^usage: offlineimap" err &&
	grep -q "^options: .*--dry-run.*--mbnames-prune" err && test $s = 1
'

test_expect_success 'an unknown long option' '
	offlineimap --frobnicate 2>err
	s=$?; grep -q "no such option: --frobnicate" err && test $s = 1
'

test_expect_success 'an ambiguous abbreviation names the candidates' '
	offlineimap --d 2>err
	s=$?; grep -q "ambiguous option: --d (--dry-run, --delete-folder?)" err && test $s = 1
'

test_expect_success 'an option without its argument' '
	offlineimap -c rc -a 2>err
	s=$?; grep -q "^offlineimap: -a option requires 1 argument" err && test $s = 1
'

test_expect_success 'a flag given a value' '
	offlineimap --dry-run=yes 2>err
	s=$?; grep -q -- "--dry-run option does not take a value" err && test $s = 1
'

test_expect_success 'a missing configuration file' '
	offlineimap -c nothere 2>err
	s=$?; grep -q "\*\*\* Config file .nothere. does not exist; aborting!" err && test $s = 1
'

test_expect_success 'unknown accounts: each named, and the valid ones listed' '
	offlineimap -c rc -u basic -a C,A,D >out 2>&1
	s=$?
	grep -q "^ERROR: The account .C. does not exist$" out &&
	grep -q "^ERROR: The account .D. does not exist$" out &&
	grep -q "^Valid accounts are: A, B$" out && ! grep -q "Processing" out &&
	test $s = 1
'

test_expect_success 'an unknown UI lists the UIs' '
	offlineimap -c rc -u fancy 2>err
	s=$?
	grep -q "UI .fancy. does not exist, choose one of: quiet, basic, syslog, ttyui, blinkenlights, machineui" err &&
	test $s = 1
'

test_expect_code 75 'an old dotted UI name, in any case: a warning, then that UI' '
	offlineimap -c rc -u Curses.BASIC >out 2>&1
	s=$?
	grep -q "^Using old interface name, consider using one of" out &&
	grep -q "^\*\*\* Processing account A$" out && exit $s
'

test_expect_code 75 '[general] ui is used without -u; -u wins over it' '
	offlineimap -c rc -k general:ui=machineui >out 2>&1
	s=$?
	grep -q "^msg:acct:Account+sync+A:A$" out &&
	offlineimap -c rc -k general:ui=machineui -u basic >out2 2>&1
	grep -q "^\*\*\* Processing account A$" out2 && exit $s
'

test_expect_code 75 'an invalid debug type is a warning; -d forces one at a time' '
	offlineimap -c rc -u basic -d foo,maildir >out 2>&1
	s=$?
	grep -q "^Invalid debug type: foo$" out &&
	grep -q "^Debug mode: Forcing to singlethreaded.$" out && exit $s
'

test_expect_code 75 'clustered flags, attached arguments, operands ignored' '
	offlineimap -1oqc rc -ubasic -aA INBOX >out 2>&1
	s=$?
	grep -q "^\*\*\* Processing account A$" out && ! grep -q "account B" out &&
	exit $s
'

test_expect_code 75 '-k sets any section: Account_A:presynchook; general:metadata' '
	rm -rf meta && offlineimap -c rc -u quiet -k "Account_A:presynchook=echo \$OFFLINEIMAPSYNCMODE >hook.ran" \
	    -k general:metadata=$TEST_DIR/meta2 2>err
	s=$?
	test "$(cat hook.ran)" = full && test -d meta2/Account-A && test ! -e meta &&
	exit $s
'

test_expect_code 75 '-q: a quick sync (the hooks see OFFLINEIMAPSYNCMODE=quick)' '
	offlineimap -c rc -u quiet -q -k "Account_A:presynchook=echo \$OFFLINEIMAPSYNCMODE >hook.ran"
	s=$?; test "$(cat hook.ran)" = quick && exit $s
'

test_expect_code 75 '-c expands ~' '
	offlineimap -c "~/rc" -u basic >out 2>&1
	s=$?; grep -q "Processing account A" out && exit $s
'

test_expect_code 75 'without -c: ~/.offlineimaprc' '
	cp rc .offlineimaprc && offlineimap -u basic >out 2>&1
	s=$?; rm .offlineimaprc; grep -q "Processing account A" out && exit $s
'

test_expect_code 75 'without -c: $XDG_CONFIG_HOME/offlineimap/config first' '
	mkdir -p xdg/offlineimap && sed "s/^accounts = A/accounts = B/" rc >xdg/offlineimap/config &&
	cp rc .offlineimaprc &&
	XDG_CONFIG_HOME=$TEST_DIR/xdg offlineimap -u basic >out 2>&1
	s=$?; rm .offlineimaprc; grep -q "Processing account B" out && exit $s
'

test_expect_success 'the default UI away from a terminal is basic' '
	offlineimap -c rc >out 2>err
	test $? = 75 &&
	grep -q "^\*\*\* Processing account A" out && ! grep -q "Processing" err
'

test_expect_success 'a -k without "="' '
	offlineimap -c rc -k general 2>err
	s=$?; grep -q "want \[section:\]option=value" err && test $s = 1
'

test_done
