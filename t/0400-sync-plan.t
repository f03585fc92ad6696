#!/bin/sh
# sync-plan: the three-way merge on hand-written listings and status
# databases (built with the sqlite3 command line, as OfflineIMAP lays them
# out), one case per OfflineIMAP pass and per harm guard.
. "$(dirname "$0")/test-lib.sh"

command -v sqlite3 >/dev/null || bail_out "sqlite3 is missing (share/deps)"

F=7e33429f656f1e6e9d79b29c3f82c57e	# FMD5 of INBOX
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
customflag_a = \$Label1
[Repository R]
type = IMAP
remotehost = localhost
EOF

# mkstatus FOLDER UID:FLAGS...
mkstatus() {
	mkdir -p "$ST" && f=$ST/$1 && shift && rm -f "$f" &&
	{
		echo "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));"
		echo "INSERT INTO metadata VALUES('db_version', '2');"
		echo "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));"
		for e in "$@"; do
			echo "INSERT INTO status VALUES(${e%%:*}, '${e#*:}', 0, '');"
		done
	} | sqlite3 "$f"
}
# remote MODE EXISTS then "uid flags" lines on stdin: imap-messages for INBOX
remote() {
	printf '#format imap-messages 1.0\nmailbox\t7\t100\t0\t%s\t%s\t.\tINBOX\n' "$2" "$1"
	n=0
	while read -r u fl; do
		case $u in vanished) printf 'vanished\t%s\n' "$fl"; continue;; esac
		printf 'msg\t%s\t%s\t100\t0\t%s\n' "$u" "$fl" "$((u * 10))"
		n=$((n + 1))
	done
	printf 'end\t%s\tINBOX\n' "$n"
}
# local MODE then "uid flags" lines: maildir-messages for INBOX
local_() {
	printf '#format maildir-messages 1.0\nmailbox\t%s\t0\t%s\tINBOX\tINBOX\n' "$F" "$1"
	n=0
	while read -r u fl; do
		if [ "$u" = none ]; then
			printf 'msg\tnone\t%s\t-\t-\tnew/new%s\n' "$fl" "$n"
		else
			printf 'msg\t%s\t%s\t-\t-\tcur/%s,U=%s,FMD5=%s:2,%s\n' "$u" "$fl" "$u" "$u" "$F" "$fl"
		fi
		n=$((n + 1))
	done
	printf 'end\t%s\tINBOX\n' "$n"
}
plan() {
	sync-plan -c rc -a A "$@" remote local >out 2>err
}
# the plan without comments and header lines
body() {
	sed '/^#/d; /^account	/d; /^folder	/d; /^end	/d' out
}

test_expect_success 'every pass of OfflineIMAP, once' '
	mkstatus INBOX 1:S 2:S 3:a 4:S 5: 7:S 9:S &&
	remote full 7 >remote <<-EOF &&
	1 \Seen
	2 \Seen \Flagged
	3 \$Label1
	5
	6
	7 \Seen \Flagged
	8 \Answered
	EOF
	local_ full >local <<-EOF &&
	1 S
	2 RS
	4 S
	7
	8 S
	10 S
	none P
	EOF
	plan &&
	test_file expect <<-EOF &&
	#format sync-plan 1.0
	account	A
	# INBOX: 1 fetch, 2 upload, 2 flags-local, 3 flags-remote, 1 delete-local, 2 delete-remote, 3 status, 1 forget
	folder	7	$F	INBOX	INBOX	$ST/INBOX
	flags-local	2	RS	FRS	cur/2,U=2,FMD5=$F:2,RS
	flags-remote	2	FS	FRS	20
	status	2	S	FRS
	delete-remote	3	a	30
	delete-local	4	S	cur/4,U=4,FMD5=$F:2,S
	delete-remote	5		50
	fetch	6		100
	flags-local	7		F	cur/7,U=7,FMD5=$F:2,
	flags-remote	7	FS	F	70
	status	7	S	F
	flags-remote	8	R	S	80
	status	8	-	S
	forget	9	S
	upload	10	S	cur/10,U=10,FMD5=$F:2,S
	upload	none	P	new/new6
	end	INBOX
	# total: 1 fetch, 2 upload, 2 flags-local, 3 flags-remote, 1 delete-local, 2 delete-remote, 3 status, 1 forget
	EOF
	test_cmp expect out
'

test_expect_success 'the same inputs give the same plan' '
	cp out out1 && plan && test_cmp out1 out
'

test_expect_success 'in sync: nothing to do' '
	mkstatus INBOX 1:S 2:FS &&
	printf "1 \\\\Seen\n2 \\\\Flagged \\\\Seen\n" | remote full 2 >remote &&
	printf "1 S\n2 FS\n" | local_ full >local &&
	plan && body >actual && test_cmp /dev/null actual &&
	grep "^# INBOX: nothing to do" out
'

test_expect_success 'sync_deletes = no on both sides: no deletion' '
	mkstatus INBOX 1:S 2:S 3:S &&
	printf "1 \\\\Seen\n2 \\\\Seen\n" | remote full 2 >remote &&
	printf "1 S\n3 S\n" | local_ full >local &&
	plan -k Repository_L:sync_deletes=no -k Repository_R:sync_deletes=no &&
	body >actual && test_cmp /dev/null actual &&
	plan -k Repository_R:sync_deletes=no && body >actual &&
	test_file expect <<-EOF &&
	delete-remote	2	S	20
	EOF
	test_cmp expect actual
'

test_expect_success 'readonly local: nothing planned into it' '
	mkstatus INBOX 1:S 2:S 3:S &&
	printf "1 \\\\Seen \\\\Flagged\n3 \\\\Seen\n4\n" | remote full 3 >remote &&
	printf "1 S\n2 S\n3 RS\nnone S\n" | local_ full >local &&
	plan -k Repository_L:readonly=yes && body >actual &&
	test_file expect <<-EOF &&
	flags-remote	3	S	RS	30
	status	3	S	RS
	upload	none	S	new/new3
	EOF
	test_cmp expect actual
'

test_expect_success 'readonly remote: nothing planned into it' '
	plan -k Repository_R:readonly=yes && body >actual &&
	test_file expect <<-EOF &&
	flags-local	1	S	FS	cur/1,U=1,FMD5=$F:2,S
	status	1	S	FS
	delete-local	2	S	cur/2,U=2,FMD5=$F:2,S
	fetch	4		100
	EOF
	test_cmp expect actual
'

test_expect_success 'keywords both ways; unmapped letters stay local' '
	mkstatus INBOX 1: 2:a 3:P 4: &&
	printf "1 \$Label1\n2\n3\n4 \$Junk\n" | remote full 4 >remote &&
	printf "1\n2 a\n3\n4 Pb\n" | local_ full >local &&
	plan && body >actual &&
	test_file expect <<-EOF &&
	flags-local	1		a	cur/1,U=1,FMD5=$F:2,
	status	1		a
	flags-local	2	a		cur/2,U=2,FMD5=$F:2,a
	status	2	a	
	status	3	P	
	status	4		Pb
	EOF
	test_cmp expect actual
'

test_expect_success 'incremental listing: unlisted is unchanged, vanished is gone' '
	mkstatus INBOX 1:S 2:S 3:S 4:S &&
	printf "2 \\\\Seen \\\\Flagged\nvanished 3\n" | remote changed 3 >remote &&
	printf "1 FS\n2 S\n3 S\n4 S\n9 S\n" | local_ full >local &&
	plan && body >actual &&
	test_file expect <<-EOF &&
	flags-remote	1	S	FS	0
	status	1	S	FS
	flags-local	2	S	FS	cur/2,U=2,FMD5=$F:2,S
	status	2	S	FS
	delete-local	3	S	cur/3,U=3,FMD5=$F:2,S
	EOF
	test_cmp expect actual &&
	grep "^# skip 9: not in the remote listing" out
'

test_expect_code 75 'incremental listing that does not add up with the status: relist, nothing planned' '
	mkstatus INBOX 1:S 2:S &&
	printf "2 \\\\Seen\n" | remote changed 5 >remote &&
	printf "1 S\n2 S\n" | local_ full >local &&
	sync-plan -c rc -a A remote local >out 2>err;
	s=$?
	grep -q "^# INBOX: relist: the status and the changes listed make 2 messages, the server has 5" out &&
	! grep -q "^folder	" out &&
	exit $s
'

test_expect_success 'maxage window: below the lowest UID unseen, absent not gone' '
	mkstatus INBOX 1:S 2:S 5:S 6:S &&
	printf "5 \\\\Seen\n7\n" | remote window 7 >remote &&
	printf "1 S\n5 S\n6 S\n" | local_ window >local &&
	plan && body >actual &&
	test_file expect <<-EOF &&
	fetch	7		100
	EOF
	test_cmp expect actual
'

test_expect_success 'maxsize: local window, messages left out are not deleted' '
	mkstatus INBOX 1:S 2:S &&
	printf "1 \\\\Seen\n2 \\\\Seen\n3\n" | remote full 3 >remote &&
	printf "1 S\n" | local_ window >local &&
	plan && body >actual &&
	test_file expect <<-EOF &&
	fetch	3		100
	EOF
	test_cmp expect actual
'

test_expect_success 'quick mode skips a folder whose counts and flags match' '
	mkstatus INBOX 1:S 2:S &&
	printf "1 \\\\Seen\n2\n" | remote full 2 >remote &&
	printf "1 S\n2 S\n" | local_ full >local &&
	plan -q && body >actual && test_cmp /dev/null actual &&
	grep "skipped by -q" out &&
	printf "1 S\n2 FS\n" | local_ full >local &&
	plan -q && body >actual &&
	test_file expect <<-EOF &&
	flags-local	2	FS	F	cur/2,U=2,FMD5=$F:2,FS
	flags-remote	2		F	20
	status	2	S	F
	EOF
	test_cmp expect actual
'

test_expect_success 'duplicate local UID: skipped' '
	mkstatus INBOX 1:S &&
	printf "1 \\\\Seen\n" | remote full 1 >remote &&
	printf "1 S\n1 FS\n" | local_ full >local &&
	plan && body >actual && test_cmp /dev/null actual &&
	grep "^# skip 1: held by several" out
'

test_expect_success 'guard: UIDVALIDITY changed: a recovery by Message-ID, nothing else' '
	mkstatus INBOX 1:S &&
	mkdir -p $M/Repository-R/FolderValidity &&
	echo 6 >$M/Repository-R/FolderValidity/INBOX &&
	printf "1 \\\\Seen\n2\n" | remote full 2 >remote &&
	printf "1 S\n3 S\n" | local_ full >local &&
	plan && body >actual &&
	printf "revalidate\t7\t6\t%s\tINBOX\tINBOX\t%s\n" "$F" "$ST/INBOX" >expect &&
	test_cmp expect actual &&
	grep -q "^# INBOX: UIDVALIDITY 7, saved 6" out &&
	grep -q "Message-ID and size" err &&
	rm $M/Repository-R/FolderValidity/INBOX
'

test_expect_success 'UIDVALIDITY changed while both sides are empty: taken as it is' '
	mkstatus INBOX &&
	mkdir -p $M/Repository-R/FolderValidity &&
	echo 6 >$M/Repository-R/FolderValidity/INBOX &&
	printf "1\n" | remote full 1 >remote &&
	: | local_ full >local &&
	plan && body >actual &&
	printf "fetch\t1\t\t100\n" >expect && test_cmp expect actual &&
	rm $M/Repository-R/FolderValidity/INBOX
'

test_expect_success 'guard: empty local folder against a full status' '
	mkstatus INBOX 1:S 2:S &&
	printf "1 \\\\Seen\n2\n" | remote full 2 >remote &&
	: | local_ full >local &&
	plan; rc=$?;
	grep "^refuse	empty-local	the local folder $TEST_DIR/mail/INBOX is empty but the status $ST/INBOX" out &&
	! grep "^delete" out && test $rc = 1
'

test_expect_success 'guard: local folder missing against a full status' '
	printf "#format maildir-messages 1.0\n" >local &&
	plan; rc=$?;
	grep "^refuse	missing-local	the local folder $TEST_DIR/mail/INBOX is missing" out &&
	test $rc = 1
'

test_expect_success 'a missing local folder with no status is created and fetched' '
	rm -f $ST/INBOX &&
	plan && grep -v "^#" out >actual &&
	test_file expect <<-EOF &&
	account	A
	create-local	INBOX	INBOX
	folder	7	$F	INBOX	INBOX	$ST/INBOX
	fetch	1	S	100
	fetch	2		100
	end	INBOX
	EOF
	test_cmp expect actual
'

test_expect_success 'guard: mass deletion needs -D' '
	set -- $(seq 1 30) && s= && for u; do s="$s $u:S"; done &&
	mkstatus INBOX $s &&
	seq 1 30 | sed "s/$/ \\\\Seen/" | remote full 30 >remote &&
	seq 1 12 | sed "s/$/ S/" | local_ full >local &&
	plan; rc=$?;
	grep "^refuse	mass-deletion	the plan deletes 18 of the 30 messages on the server" out &&
	! grep "^delete" out &&
	plan -D && test $(grep -c "^delete-remote" out) = 18 &&
	plan -P 70 && plan -N 30 &&
	test $rc = 1
'

test_expect_success 'guard: a listing without its end record' '
	mkstatus INBOX 1:S &&
	printf "1 \\\\Seen\n" | remote full 1 | sed /^end/d >remote &&
	printf "1 S\n" | local_ full >local &&
	plan; rc=$?;
	grep "^refuse	incomplete	the listing has no end record" out && test $rc = 1
'

test_expect_success 'guard: an error record' '
	printf "#format imap-messages 1.0\nerror\tNO [NONEXISTENT] gone\tINBOX\n" >remote &&
	plan; rc=$?;
	grep "^refuse	incomplete	the remote listing failed: NO" out && test $rc = 1
'

# folder structure: remote Work/Sub (delimiter /), local sep .; nametrans
test_expect_success 'folder creation both ways, with nametrans' '
	rm -f $ST/* &&
	printf "#format imap-messages 1.0\nmailbox\t9\t1\t0\t0\tfull\t/\tWork/Sub\nend\t0\tWork/Sub\n" >remote &&
	printf "#format maildir-messages 1.0\nmailbox\t%s\t0\tfull\tLocal.Only\tLocal.Only\nend\t0\tLocal.Only\n" $F >local &&
	plan -k "Repository_R:nametrans=lambda f: f.replace(\"Work\", \"Job\")" \
	    -k "Repository_L:nametrans=lambda f: f.replace(\"Job\", \"Work\")" &&
	grep -v "^#" out >actual &&
	test_file expect <<-EOF &&
	account	A
	create-local	Work/Sub	Job.Sub
	folder	9	0dba4f187373845e56c7ccad9b9ce18a	Work/Sub	Job.Sub	$ST/Job.Sub
	end	Work/Sub
	create-remote	Local.Only	Local/Only
	EOF
	test_cmp expect actual
'

test_expect_success 'INFINITE FOLDER CREATION is refused' '
	plan -k "Repository_R:nametrans=lambda f: \"X\" + f"; rc=$?;
	grep "^refuse	infinite-folder-creation	INFINITE FOLDER CREATION DETECTED! Folder .Local.Only. (repository .L.) would be created as folder .Local/Only. (repository .R.). The latter becomes .XLocal.Only. in return" out &&
	! grep "^create-remote" out && test $rc = 1
'

test_expect_success 'folderfilter and -f' '
	plan -k "Repository_R:folderfilter=lambda f: f != \"Work/Sub\"" &&
	! grep "^folder" out &&
	plan -f Work/Sub && grep "^folder	9" out && ! grep create-remote out
'

test_expect_success 'a folder name that would end a comment: quoted there, no record injected' '
	name="\"X\\ndelete-remote\\t1\\t\\t0\\nend\\tX\""
	printf "#format imap-messages 1.0\nmailbox\t5\t1\t0\t0\tfull\t/\t%s\nend\t0\t%s\n" "$name" "$name" >inj.r &&
	printf "#format maildir-messages 1.1\n" >inj.l &&
	sync-plan -c rc -a A inj.r inj.l >inj.plan &&
	cat inj.plan &&
	grep -q "^# \"X\\\\ndelete-remote" inj.plan &&
	! grep -q "^delete-remote" inj.plan &&
	! grep -v -e "^#" -e "^account	" -e "^create-local	" -e "^folder	" -e "^end	" inj.plan | grep -q .
'

test_done
