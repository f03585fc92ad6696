#!/bin/sh
# offlineimap end to end against a private Dovecot: the sync of an
# account through the tools, with OfflineIMAP's output in the basic,
# quiet and ttyui UIs, -f, -q, -l, -P, -s, -d imap, and the exit statuses.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 3 >/dev/null || bail_out fill
dovecot_fill alice Work/Sub 2 S >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
export DC_PORT

# the output with the port and the duration made constant
norm() {
	sed "s/127\.0\.0\.1:$DC_PORT/HOST:PORT/; s/in [0-9]*:[0-9][0-9]$/in M:SS/" "$@"
}

# "folder uid flags" of every message file, sorted
files() {
	(cd mail && find . -type f -path '*/[cn][ue][rw]/*') |
	sed -n 's|^\./\([^/]*\)/[a-z]*/.*,U=\([0-9]*\),FMD5=[0-9a-f]*:2,\([A-Z]*\)$|\1 \2 \3|p' | sort
}

# "folder uid flags" of the server's messages
server() {
	for f in INBOX Work/Sub; do
		dc_adm -f tab fetch -u alice 'uid flags' mailbox "$f" all |
		    awk -F '\t' -v f="$f" 'NR > 1 {
			n = split($2, a, " "); s = ""
			for (i = 1; i <= n; i++) {
				if (a[i] == "\\Seen") x["S"] = 1; else if (a[i] == "\\Flagged") x["F"] = 1
				else if (a[i] == "\\Answered") x["R"] = 1
			}
			for (c in x) ; s = (("F" in x) ? "F" : "") (("R" in x) ? "R" : "") (("S" in x) ? "S" : "")
			delete x
			print f, $1, s }'
	done | sort
}

test_expect_success 'a first sync: every message, OfflineIMAP'"'"'s lines (basic UI)' '
	offlineimap -c rc -u basic >out 2>err &&
	test_file want <<-\EOF &&
	OfflineIMAP VERSION (offlineimap-tools)
	  Compatible with OfflineIMAP 8: same options, configuration and state on disk
	*** Processing account A
	Establishing connection to HOST:PORT (R)
	Creating folder INBOX[L]
	Creating new Local Status db for L:INBOX
	Syncing INBOX: IMAP -> Maildir
	Copy message UID 1 (1/3) R:INBOX -> L:INBOX
	Copy message UID 2 (2/3) R:INBOX -> L:INBOX
	Copy message UID 3 (3/3) R:INBOX -> L:INBOX
	Creating folder Work.Sub[L]
	Creating new Local Status db for L:Work.Sub
	Syncing Work/Sub: IMAP -> Maildir
	Copy message UID 1 (1/2) R:Work/Sub -> L:Work.Sub
	Copy message UID 2 (2/2) R:Work/Sub -> L:Work.Sub
	*** Finished account '"'A'"' in M:SS
	EOF
	norm out | sed "1s/^OfflineIMAP [^ ]*/OfflineIMAP VERSION/" >got &&
	test_cmp want got && test_cmp /dev/null err &&
	printf "INBOX 1 \nINBOX 2 \nINBOX 3 \nWork.Sub 1 S\nWork.Sub 2 S\n" >want &&
	files >got && test_cmp want got &&
	test -f meta/Account-A/LocalStatus-sqlite/INBOX &&
	test -f meta/Account-A/LocalStatus-sqlite/Work.Sub &&
	test ! -e meta/A.lock && test "$(stat -c %a meta)" = 700 &&
	test "$(stat -c %a meta/Account-A)" = 700
'

test_expect_success 'again: nothing to do, nothing copied' '
	files >before &&
	offlineimap -c rc -u basic >out &&
	! grep -q -e Copy -e Deleting -e Adding out &&
	grep -q "^Syncing Work/Sub: IMAP -> Maildir$" out &&
	files >after && test_cmp before after
'

test_expect_success 'changes on both sides meet' '
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 1 &&
	dovecot_fill alice INBOX 1 >/dev/null &&
	rm mail/Work.Sub/cur/*,U=1,* &&
	f=$(ls mail/INBOX/new/*,U=3,*) && mv "$f" mail/INBOX/cur/"${f##*/}RS" &&
	offlineimap -c rc -u basic >out &&
	norm out >got &&
	grep -q "^Copy message UID 4 (1/1) R:INBOX -> L:INBOX$" got &&
	grep -q "^Adding flag F to 1 messages on INBOX$" got &&
	grep -q "^Adding flag R to 1 messages on INBOX$" got &&
	grep -q "^Adding flag S to 1 messages on INBOX$" got &&
	grep -q "^Deleting 1 messages (1) in IMAP\[Work/Sub\]$" got &&
	printf "INBOX 1 F\nINBOX 2 \nINBOX 3 RS\nINBOX 4 \nWork.Sub 2 S\n" >want &&
	files >got && test_cmp want got &&
	server >got && printf "INBOX 1 F\nINBOX 2 \nINBOX 3 RS\nINBOX 4 \nWork/Sub 2 S\n" >want &&
	test_cmp want got
'

test_expect_success '-f: only the folders named (remote names)' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	dovecot_fill alice Work/Sub 1 >/dev/null &&
	offlineimap -c rc -u basic -f Work/Sub >out &&
	grep -q "^Syncing Work/Sub: IMAP -> Maildir$" out &&
	! grep -q "INBOX" out &&
	test "$(files | grep -c "^Work.Sub")" = 2 && test "$(files | grep -c "^INBOX")" = 4
'

test_expect_success 'quiet: nothing at all when all goes well' '
	offlineimap -c rc -u quiet >out 2>err &&
	test_cmp /dev/null out && test_cmp /dev/null err &&
	test "$(files | grep -c "^INBOX")" = 5
'

test_expect_success '-q: unchanged folders are skipped, as OfflineIMAP says' '
	offlineimap -c rc -u basic -q >out &&
	grep -q "^Skipping INBOX (not changed)$" out &&
	grep -q "^Skipping Work/Sub (not changed)$" out &&
	dovecot_fill alice Work/Sub 1 >/dev/null &&
	offlineimap -c rc -u basic -q >out &&
	grep -q "^Skipping INBOX (not changed)$" out &&
	grep -q "^Copy message UID 4 (1/1) R:Work/Sub -> L:Work.Sub$" out
'

test_expect_success 'ttyui: on standard error, a thread'"'"'s name before its lines' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	offlineimap -c rc -u ttyui >out 2>err &&
	test_cmp /dev/null out &&
	norm err | sed 1,2d >got &&
	test_file want <<-\EOF &&
	Account sync A:
	 *** Processing account A
	 Establishing connection to HOST:PORT (R)
	Folder INBOX [acc: A]:
	 Syncing INBOX: IMAP -> Maildir
	 Copy message UID 6 (1/1) R:INBOX -> L:INBOX
	Folder Work/Sub [acc: A]:
	 Syncing Work/Sub: IMAP -> Maildir
	Account sync A:
	 *** Finished account '"'A'"' in M:SS
	EOF
	test_cmp want got
'

test_expect_success '-1 in ttyui: one thread, as OfflineIMAP'"'"'s -1 shows it' '
	offlineimap -c rc -u ttyui -1 2>err &&
	norm err | sed 1,2d >got &&
	test_file want <<-\EOF &&
	Account sync A:
	 *** Processing account A
	 Establishing connection to HOST:PORT (R)
	 Syncing INBOX: IMAP -> Maildir
	 Syncing Work/Sub: IMAP -> Maildir
	 *** Finished account '"'A'"' in M:SS
	EOF
	test_cmp want got
'

test_expect_success '-l: a log file with time stamps and levels, whatever the UI' '
	offlineimap -c rc -u quiet -l log.txt >out &&
	test_cmp /dev/null out &&
	grep -q "^[0-9-]* [0-9:]* INFO: offlineimap .* starting...$" log.txt &&
	grep -q "^  Args: .*-l log.txt" log.txt &&
	grep -q "^[0-9-]* [0-9:]* INFO: \*\*\* Processing account A$" log.txt &&
	grep -q "^[0-9-]* [0-9:]* INFO: Syncing INBOX: IMAP -> Maildir$" log.txt
'

test_expect_success '-P: the timings of each tool, one file per account' '
	offlineimap -c rc -u quiet -P prof &&
	f=$(ls prof/*_A.prof) &&
	cut -f1,4 "$f" >got &&
	printf "imap-list\t0\nmaildir-scan\t0\nsync-plan\t0\nsync-apply\t0\n" >want &&
	test_cmp want got &&
	awk -F "\t" "\$3 < \$2 { exit 1 }" "$f"
'

test_expect_success '-s: every message to syslog as well, tagged offlineimap[PID]' '
	mkdir -p fake &&
	printf "#!/bin/sh\necho \"\$*\" >>$TEST_DIR/syslog.args\ncat >>$TEST_DIR/syslog.msgs\n" >fake/logger &&
	chmod +x fake/logger &&
	PATH=$TEST_DIR/fake:$PATH offlineimap -c rc -u quiet -s &&
	grep -q "^-t offlineimap\[[0-9]*\]$" syslog.args &&
	grep -q "^\*\*\* Processing account A$" syslog.msgs &&
	PATH=$TEST_DIR/fake:$PATH offlineimap -c rc -u syslog >out &&
	test_cmp /dev/null out && test "$(grep -c "Processing account A" syslog.msgs)" = 2
'

test_expect_success '-d imap: the protocol, the password never' '
	offlineimap -c rc -u basic -d imap >out 2>&1 &&
	grep -q "^\[imap\]: C: a[0-9]* LIST " out &&
	grep -q "^\[imap\]: S: \* OK" out &&
	! grep -q "$(dc_password alice)" out
'

test_expect_success 'a refused folder: the reason as an ERROR, the others synced, exit 1' '
	rm mail/INBOX/new/* mail/INBOX/cur/* &&
	dovecot_fill alice Work/Sub 1 >/dev/null &&
	offlineimap -c rc -u basic >out 2>&1
	s=$?
	grep -q "^ERROR: INBOX: the local folder .* is empty but the status .* holds 6 messages" out &&
	grep -q "^Copy message UID 5 (1/1) R:Work/Sub -> L:Work.Sub$" out &&
	grep -q "^ERROR: Exceptions occurred during the run!$" out &&
	test "$(dovecot_count alice INBOX)" = 6 && test $s = 1
'

test_expect_success 'the server renumbered a folder: matched by Message-ID, a warning' '
	rm -rf mail/INBOX meta/Account-A/LocalStatus-sqlite/INBOX &&
	offlineimap -c rc -u quiet &&
	n=$(ls mail/Work.Sub/cur mail/Work.Sub/new | grep -c ",U=") &&
	mkdir saved && cp "$DC_DIR"/mail/alice/Work/Sub/cur/* saved/ &&
	cp "$DC_DIR"/mail/alice/Work/Sub/new/* saved/ 2>/dev/null
	dc_adm mailbox delete -u alice Work/Sub && dovecot_mkfolder alice Work/Sub &&
	for f in saved/*; do dc_adm save -u alice -m Work/Sub <"$f" || exit 1; done &&
	offlineimap -c rc -u basic >out 2>&1 &&
	grep -q "^UID validity problem for folder Work/Sub (repo R) (saved [0-9]*; got [0-9]*): $n matched by Message-ID and size" out &&
	! grep -q "^ERROR" out &&
	test "$(ls mail/Work.Sub/cur mail/Work.Sub/new | grep -c ",U=")" = "$n" &&
	offlineimap -c rc -u basic >out2 && ! grep -q -e "Copy message" -e "^Deleting [0-9]" -e "UID validity" out2
'

test_expect_success 'renumbered with other messages: nothing changed, an ERROR, exit 1' '
	dc_adm mailbox delete -u alice Work/Sub && dovecot_fill alice Work/Sub 1 >/dev/null &&
	ls mail/Work.Sub/cur mail/Work.Sub/new >before &&
	offlineimap -c rc -u basic >out 2>&1
	s=$?
	grep -q "^ERROR: UID validity problem for folder Work/Sub (repo R) (saved [0-9]*; got [0-9]*): .*no twin" out &&
	test "$(grep -c "no twin" out)" = 2 &&
	ls mail/Work.Sub/cur mail/Work.Sub/new >after && test_cmp before after && test $s = 1
'

test_expect_success 'renumbered, the local folder gone: OfflineIMAP'"'"'s warning, exit 2' '
	rm -rf mail/Work.Sub &&
	offlineimap -c rc -u basic >out 2>&1
	s=$?
	grep -q "^UID validity problem for folder Work/Sub (repo R) (saved [0-9]*; got [0-9]*); skipping it" out &&
	grep -q "^At least one folder skipped due to UID validity problem$" out &&
	! grep -q "^ERROR" out && test ! -e mail/Work.Sub && test $s = 2
'

test_expect_success 'a wrong password: the server'"'"'s refusal, exit 1' '
	offlineimap -c rc -u quiet -k Repository_R:remotepass=wrong >out 2>&1
	s=$?
	grep -q "^ERROR: imap-list: .*" out && test $s = 1
'

test_expect_code 75 'a server that is not there: exit 75, try again later' '
	offlineimap -c rc -u quiet -k Repository_R:remoteport=1 >out 2>&1
	s=$?
	grep -q "^ERROR: imap-list: cannot connect" out && exit $s
'

test_done
