#!/bin/sh
# sync-plan reads its listings a folder at a time: the same plan from
# files, pipes and redirections, folders in any order, every listing check
# still made per folder, and the temporary copy of a pipe.
. "$(dirname "$0")/test-lib.sh"

command -v sqlite3 >/dev/null || bail_out "sqlite3 is missing (share/deps)"

M=$TEST_DIR/meta
ST=$M/Account-A/LocalStatus-sqlite

cat >rc <<EOF
[general]
accounts = A
metadata = $M
[Account A]
localrepository = L
remoterepository = R
[Repository L]
type = Maildir
localfolders = $TEST_DIR/mail
[Repository R]
type = IMAP
remotehost = localhost
EOF

fmd5() {
	printf %s "$1" | md5sum | cut -c1-32
}
# mkstatus FOLDER N: UIDs 1..N with S
mkstatus() {
	mkdir -p "$ST" &&
	{
		echo "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));"
		echo "INSERT INTO metadata VALUES('db_version', '2');"
		echo "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));"
		seq 1 "$2" | sed "s/.*/INSERT INTO status VALUES(&, 'S', 0, '');/"
	} | sqlite3 "$ST/$1"
}
# remote NAME:N...: UIDs 1..N, the last one new and flagged
remote() {
	echo '#format imap-messages 1.0'
	for f; do
		printf 'mailbox\t7\t100\t0\t%s\tfull\t.\t%s\n' "${f#*:}" "${f%:*}"
		seq 1 "${f#*:}" | awk -v n="${f#*:}" '{
			printf "msg\t%d\t%s\t100\t0\t%d\n", $1,
			    $1 == n ? "\\Flagged" : "\\Seen", $1 * 10 }'
		printf 'end\t%s\t%s\n' "${f#*:}" "${f%:*}"
	done
}
# local NAME:N...: UIDs 2..N-1 (1 deleted here), one new message
local_() {
	echo '#format maildir-messages 1.0'
	for f; do
		n=${f#*:} name=${f%:*}
		printf 'mailbox\t%s\t0\tfull\t%s\t%s\n' "$(fmd5 "$name")" "$name" "$name"
		seq 2 $((n - 1)) | awk -v name="$name" '{
			printf "msg\t%d\t%s\t-\t-\tcur/%s-%d:2,%s\n", $1,
			    $1 % 7 ? "S" : "RS", name, $1, $1 % 7 ? "S" : "RS" }'
		printf 'msg\tnone\t\t-\t-\tnew/%s.new\n' "$name"
		printf 'end\t%s\t%s\n' "$((n - 1))" "$name"
	done
}
plan() {
	sync-plan -c rc -a A "$@" >out 2>err
}

test_expect_success 'setup: three folders, listed in different orders' '
	mkstatus Alpha 40 && mkstatus Beta 9 && mkstatus Gamma 3000 &&
	remote Gamma:3001 Alpha:41 Beta:10 >remote &&
	local_ Beta:10 Gamma:3001 Alpha:41 >local &&
	plan remote local && cp out expect &&
	grep -c "^folder	" expect >n && echo 3 | test_cmp - n &&
	test $(wc -c <remote) -gt 65536 && test $(wc -c <local) -gt 65536 &&
	grep "^# total: 3 fetch, 3 upload, 434 flags-remote, 3 delete-remote, 434 status$" expect
'

test_expect_success 'the same plan from pipes and redirections' '
	mkdir tmp &&
	cat remote | TMPDIR=$TEST_DIR/tmp plan - local && test_cmp expect out &&
	cat local | TMPDIR=$TEST_DIR/tmp plan remote - && test_cmp expect out &&
	plan - local <remote && test_cmp expect out &&
	plan remote - <local && test_cmp expect out &&
	ls -A tmp >left && test_cmp /dev/null left
'

test_expect_success 'the same plan whatever the order of the records of a folder' '
	awk "/^msg/ { m[n++] = \$0; next }
	    /^end/ { while (n) print m[--n] } { print }" remote >reversed &&
	grep -A2 "^mailbox" reversed | grep "^msg	41	" &&
	plan reversed local && test_cmp expect out
'

test_expect_success 'each folder is checked on its own: end, count, error, doubles' '
	remote Alpha:41 Beta:10 | sed "/^end	10	Beta/d" >r1 &&
	remote Gamma:3001 | sed "s/^end	3001/end	3000/" >>r1 &&
	{ plan r1 local; test $? = 1; } &&
	grep "^refuse	incomplete	the listing has no end record: incomplete	Beta$" out &&
	grep "^refuse	incomplete	the listing.s end record does not match it (r1:[0-9]*)	Gamma$" out &&
	grep "^folder	7	[0-9a-f]*	Alpha	" out &&
	! grep "^folder	7	[0-9a-f]*	Beta	" out &&
	sed "s/^end	41	Alpha/msg	3		100	0	30\nend	42	Alpha/" remote >r2 &&
	{ plan r2 local; test $? = 1; } &&
	grep "^refuse	incomplete	a UID is listed twice	Alpha$" out &&
	grep -c "^refuse" out >n && echo 1 | test_cmp - n &&
	{ sed -n 1p local; printf "error\tcannot read\tAlpha\n"; local_ Beta:10 | sed 1d; } >l1 &&
	local_ Gamma:3001 | sed 1d >>l1 &&
	{ cat l1 | plan remote -; test $? = 1; } &&
	grep "^refuse	incomplete	no local listing of $TEST_DIR/mail/Alpha, and the local listing has errors: the folder is not planned	Alpha$" out &&
	grep "^folder	7	[0-9a-f]*	Gamma	" out
'

test_expect_success 'a bad record in the last folder: nothing is planned' '
	{ cat remote; printf "mailbox\t7\t1\t0\t1\tfull\t.\tZeta\nmsg\tx\t\t1\t0\t0\n"; } >r4 &&
	{ plan r4 local; test $? = 1; } &&
	test_cmp /dev/null out &&
	grep "^sync-plan: r4:[0-9]*: field 2 of msg record is not a number$" err
'

test_expect_success 'a pipe and no temporary directory: a clear error' '
	{ cat remote | TMPDIR=$TEST_DIR/nonexistent plan - local; test $? = 1; } &&
	test_cmp /dev/null out &&
	grep "^sync-plan: stdin: cannot make a temporary file in $TEST_DIR/nonexistent" err
'

test_expect_success 'the temporary copy cannot be written: a clear error' '
	mkdir -p tmp &&
	{ (trap "" XFSZ; ulimit -f 8; cat remote | TMPDIR=$TEST_DIR/tmp plan - local); test $? = 1; } &&
	grep "^sync-plan: stdin: cannot copy it to a temporary file in $TEST_DIR/tmp: File too large$" err &&
	test_cmp /dev/null out && ls -A tmp >left && test_cmp /dev/null left
'

test_done
