#!/bin/sh
# offlineimap -u machineui: OfflineIMAP's line protocol, compared line by
# line with the real OfflineIMAP (Debian's offlineimap3, with -1, which
# logs in a fixed order) syncing the same mail for another user of the
# same server; every line parses back.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

REAL=/usr/bin/offlineimap
if [ ! -x "$REAL" ]; then
	echo "1..0 # SKIP OfflineIMAP (Debian offlineimap3) is missing: sh share/deps install"
	exit 0
fi

dovecot_start || bail_out 'cannot start dovecot'
for u in alice bob; do
	dovecot_fill $u INBOX 3 >/dev/null || bail_out fill
	dovecot_fill $u "Work/Sub" 2 S >/dev/null || bail_out fill
done
dc_rc rc </dev/null || bail_out rc
sed "s|$TEST_DIR/mail|$TEST_DIR/oimail|; s|$TEST_DIR/meta|$TEST_DIR/oimeta|;
    s|remoteuser = alice|remoteuser = bob|;
    s|remotepass = .*|remotepass = $(dc_password bob)|" rc >oirc

# Both runs without the banner and the version lines, which differ by
# design (OfflineIMAP's name and its Python libraries).
both() {
	"$REAL" -c oirc -u machineui -1 "$@" >oi.raw 2>&1
	echo $? >oi.status
	offlineimap -c rc -u machineui -1 "$@" >our.raw 2>our.err
	echo $? >our.status
	for f in oi our; do
		grep -v -e "^msg:initbanner:" -e "^msg::MainThread:" -e "^OfflineIMAP " \
		    -e "^  Licensed" -e "^  Compatible" $f.raw >$f.out
	done
	test_cmp oi.status our.status
}

# decode LINES: "SEVERITY COMMAND THREAD PAYLOAD" of each line, decoded
# (application/x-www-form-urlencoded, as Python's urlencode writes it),
# newlines in the payload shown as "|"
decode() {
	perl -ne '
		chomp;
		my @f = split /:/, $_, -1;
		die "not 4 fields: $_\n" unless @f == 4;
		die "bad severity: $_\n" unless $f[0] =~ /^(msg|warn|error|debug)$/;
		die "bad command: $_\n" unless $f[1] =~ /^[A-Za-z_]*$/;
		for (@f[2, 3]) {
			die "not urlencoded: $_\n" if /[^A-Za-z0-9_.~%+-]/;
			tr/+/ /; s/%([0-9A-F]{2})/chr hex $1/ge; s/\n/|/g;
		}
		print join("\t", @f), "\n";' "$@"
}

test_expect_success 'a first sync: the lines OfflineIMAP writes' '
	both &&
	grep -v "Creating" oi.out >oi.rest && grep -v "Creating" our.out >our.rest &&
	test_cmp oi.rest our.rest &&
	grep "Creating" oi.out | sort >oi.mk && grep "Creating" our.out | sort >our.mk &&
	test_cmp oi.mk our.mk && test_cmp /dev/null our.err
'

test_expect_success 'the protocol line and the banner come first' '
	sed -n 3p our.raw >got && echo "msg:protocol:MainThread:7.2.0" >want &&
	test_cmp want got &&
	grep -q "^msg:initbanner:MainThread:OfflineIMAP+[0-9.]*+%28offlineimap-tools%29%0A" our.raw
'

test_expect_success 'changes on both sides: deletions and flags, the same lines' '
	for u in alice bob; do
		dc_adm flags add -u $u "\\Flagged" mailbox INBOX uid 1 &&
		dc_adm flags remove -u $u "\\Seen" mailbox Work/Sub uid 2 &&
		dc_adm expunge -u $u mailbox INBOX uid 2 || exit 1
	done &&
	rm mail/Work.Sub/cur/*,U=1,* oimail/Work.Sub/cur/*,U=1,* &&
	for f in mail/INBOX/new/*,U=3,* oimail/INBOX/new/*,U=3,*; do
		mv "$f" "${f%,}S" || exit 1
	done &&
	both && test_cmp oi.out our.out
'

test_expect_success 'quick mode: the folders skipped, the same lines' '
	both -q && test_cmp oi.out our.out &&
	grep -q "^msg::Account+sync+A:Skipping+INBOX+%28not+changed%29$" our.out
'

test_expect_success 'every line parses back: four fields, urlencoded' '
	sed 1,2d our.raw | decode >lines 2>err && test_cmp /dev/null err &&
	test "$(wc -l <lines)" = "$(sed 1,2d our.raw | wc -l)" &&
	! decode our.raw >/dev/null 2>&1
'

test_expect_success 'copies, decoded: UID, source, destination' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	offlineimap -c rc -u machineui >raw &&
	sed 1,2d raw | decode >lines &&
	printf "msg\tcopyingmessage\tFolder INBOX [acc: A]\t4|IMAP|INBOX|Maildir[INBOX]\n" >want &&
	grep "copyingmessage" lines >got && test_cmp want got &&
	tail -n 1 lines >got && printf "msg\tterminate\tMainThread\t0||\n" >want &&
	test_cmp want got
'

test_expect_success 'threaded: each folder thread registered and exited' '
	grep -c "^msg	registerthread	Folder " lines >n && test "$(cat n)" = 2 &&
	grep -q "^msg	threadExited	MainThread	Folder Work/Sub \[acc: A\]$" lines &&
	grep -q "^msg	threadExited	MainThread	Account sync A$" lines
'

test_expect_success 'errors: severity error, exit 1 (OfflineIMAP'"'"'s machineui said 0)' '
	rm mail/INBOX/new/* mail/INBOX/cur/* 2>/dev/null
	offlineimap -c rc -u machineui >raw 2>&1
	s=$?
	sed 1,2d raw | decode >lines &&
	grep -q "^error		Folder INBOX \[acc: A\]	ERROR: INBOX: the local folder .* is empty" lines &&
	tail -n 1 lines | grep -q "^msg	terminate	MainThread	1||$" && test $s = 1
'

test_done
