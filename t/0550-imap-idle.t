#!/bin/sh
# imap-idle against a private Dovecot: a change in a watched folder ends the
# wait (new mail, flags, expunge), idlefolders from the configuration, the
# keepalive, and through t/imap-proxy a dropped connection, a server that
# stops answering, a BYE and a server without IDLE.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 3 >/dev/null || bail_out fill
dovecot_fill alice Lists/foo 1 >/dev/null || bail_out fill
dovecot_fill alice "Gäste" 1 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc

# idle_bg NAME ARGS...: imap-idle ARGS in the background; records in
# NAME.out, messages in NAME.err, its pid in NAME.ipid, then its exit
# status in NAME.st
idle_bg() {
	ib=$1
	shift
	rm -f "$ib.out" "$ib.err" "$ib.ipid" "$ib.st"
	(imap-idle "$@" >"$ib.out" 2>"$ib.err" & echo $! >"$ib.ipid"
	    wait $!; echo $? >"$ib.st") &
}
# idle_status NAME [TENTHS]: wait for imap-idle NAME to end, print its status
idle_status() {
	wait_line "$1.st" . "${2:-50}" >/dev/null && cat "$1.st"
}
# deliver FOLDER: a new message from another client
deliver() {
	dovecot_fill alice "$1" 1 >/dev/null
}
test_cleanup 'for p in "$TEST_DIR"/*.ipid; do [ -e "${p%.ipid}.st" ] || kill "$(cat "$p")"; done'

# proxy NAME [rules]: t/imap-proxy in front of Dovecot; rc.NAME talks to it
proxy() {
	pn=$1
	shift
	perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/$pn.port" \
	    --pid-file "$TEST_DIR/$pn.ppid" --log "$TEST_DIR/$pn.log" \
	    --upstream "$DC_HOST:$DC_PORT" --max-time 60 "$@" &&
	sed "s/^remoteport = .*/remoteport = $(cat "$TEST_DIR/$pn.port")/" rc >"rc.$pn"
}
# proxy_procs NAME: the listener and its connection processes
proxy_procs() {
	pgrep -f -- "imap-proxy --listen-port-file $TEST_DIR/$1\\.port "
}
test_cleanup 'for p in $(pgrep -f -- "imap-proxy --listen-port-file $TEST_DIR/"); do kill -CONT $p; kill $p; done'

test_expect_success 'new mail in INBOX: idle, then changed, exit 0' '
	idle_bg new -c rc -a A INBOX &&
	wait_line new.out "^idle	INBOX$" &&
	deliver INBOX &&
	test "$(idle_status new)" = 0 &&
	printf "#format imap-idle 1.0\nidle\tINBOX\nchanged\texists\tINBOX\n" >want &&
	test_cmp want new.out && test_cmp /dev/null new.err
'

test_expect_success 'two folders (-r): a change in the second reports only it' '
	idle_bg two -c rc -r R INBOX Lists/foo &&
	wait_line two.out "^idle	INBOX$" && wait_line two.out "^idle	Lists/foo$" &&
	deliver Lists/foo &&
	test "$(idle_status two)" = 0 &&
	grep "^changed" two.out >changes &&
	printf "changed\texists\tLists/foo\n" >want && test_cmp want changes
'

test_expect_success 'a flag set by another client: changed fetch' '
	idle_bg flag -c rc -a A INBOX &&
	wait_line flag.out "^idle	INBOX$" &&
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 1 &&
	test "$(idle_status flag)" = 0 &&
	grep "^changed" flag.out >changes &&
	printf "changed\tfetch\tINBOX\n" >want && test_cmp want changes
'

test_expect_success 'a message expunged by another client: changed expunge' '
	idle_bg gone -c rc -a A INBOX &&
	wait_line gone.out "^idle	INBOX$" &&
	dc_adm expunge -u alice mailbox INBOX uid 1 &&
	test "$(idle_status gone)" = 0 &&
	grep "^changed" gone.out >changes &&
	printf "changed\texpunge\tINBOX\n" >want && test_cmp want changes
'

test_expect_success 'read-only: EXAMINE, and the messages stay \Recent for others' '
	idle_bg ro -d -c rc -a A INBOX &&
	wait_line ro.out "^idle	INBOX$" && deliver INBOX &&
	test "$(idle_status ro)" = 0 &&
	grep -q "^C: a[0-9]* EXAMINE INBOX$" ro.err &&
	! grep -q "^C: a[0-9]* SELECT" ro.err &&
	dc_adm search -u alice mailbox INBOX RECENT >recent && test -s recent
'

test_expect_success '-t 1: timeout, exit 0, every connection logged out' '
	s=$(date +%s) &&
	imap-idle -d -c rc -a A -k Account_A:utf8foldernames=yes -t 1 \
	    INBOX "Gäste" >out 2>trace &&
	test $(($(date +%s) - s)) -le 3 &&
	grep -v "^idle" out >rest &&
	printf "#format imap-idle 1.0\ntimeout\n" >want && test_cmp want rest &&
	grep "^idle" out | sort >got &&
	printf "idle\tGäste\nidle\tINBOX\n" >want && test_cmp want got &&
	grep -q "^C: a[0-9]* EXAMINE G&AOQ-ste$" trace &&
	test "$(grep -c "^C: DONE$" trace)" = 2 &&
	test "$(grep -c "^C: a[0-9]* LOGOUT$" trace)" = 2 &&
	! grep -q "alicepw" trace
'

test_expect_success 'a folder that does not exist: an error record, exit 1' '
	imap-idle -c rc -a A INBOX Nope >out 2>err
	s=$?
	cat out err
	grep -q "^error	EXAMINE refused: .*exist.*	Nope$" out &&
	grep -q "^imap-idle: Nope: EXAMINE refused: .*exist" err &&
	! grep -q "^idle" out && test $s = 1
'

test_expect_code 75 'a server that cannot be reached: exit 75' '
	imap-idle -c rc -a A -k Repository_R:remoteport=1 INBOX >out 2>err
	s=$?; cat err
	grep -q "^imap-idle: cannot connect to 127.0.0.1 port 1: connection refused$" err &&
	grep -q "^error	cannot connect to 127.0.0.1 port 1: connection refused	INBOX$" out &&
	exit $s
'

test_expect_success 'neither -a nor -r: usage' '
	imap-idle -c rc INBOX 2>err
	s=$?; grep -q "^usage: imap-idle" err && test $s = 1
'

test_expect_success '-t wants a number of seconds' '
	imap-idle -c rc -a A -t soon INBOX 2>err
	s=$?; cat err; grep -q "^imap-idle: -t soon: want a number of seconds" err && test $s = 1
'

test_expect_success 'no operands and no idlefolders: a clear error' '
	imap-idle -c rc -a A 2>err
	s=$?; cat err
	grep -q "^imap-idle: no folders to watch: name them, or set idlefolders in \[Repository R\] (it is empty)$" err &&
	{ imap-idle -c rc -a A -k "Repository_R:idlefolders=[ ]" 2>err; test $? = 1; } &&
	grep -q "no folders to watch" err && test $s = 1
'

dc_rc rc.cfg <<'EOF' || bail_out rc.cfg
idlefolders = ['INBOX',
    "Lists/foo",
    ]
EOF

test_expect_success 'idlefolders as a plain list: no operands needed' '
	idle_bg cfg -c rc.cfg -a A &&
	wait_line cfg.out "^idle	INBOX$" && wait_line cfg.out "^idle	Lists/foo$" &&
	deliver Lists/foo &&
	test "$(idle_status cfg)" = 0 &&
	grep -q "^changed	exists	Lists/foo$" cfg.out
'

# a PATH without python3
mkdir nopy || bail_out nopy

test_expect_success 'a plain list needs no python3' '
	PATH=$TEST_DIR/nopy "$OI_BUILD/bin/imap-idle" -c rc.cfg -a A -t 1 >out &&
	test "$(grep -c "^idle	" out)" = 2
'

test_expect_success 'an expression without python3 says what to write instead' '
	PATH=$TEST_DIR/nopy "$OI_BUILD/bin/imap-idle" -c rc -a A \
	    -k "Repository_R:idlefolders=[\"INBOX\"] + [\"x\"]" 2>err
	s=$?; cat err
	grep -q "^imap-idle: \[Repository R\] idlefolders is a Python expression and python3 is not installed; use a list of quoted names such as \[.INBOX.\] instead$" err &&
	test $s = 1
'

if command -v python3 >/dev/null 2>&1; then
	test_expect_success 'idlefolders as an expression: python3 evaluates it' '
		printf "def lists():\n    return [\"Lists/foo\", \"G\\\\u00e4ste\"]\n" >helpers.py &&
		imap-idle -c rc -a A -t 1 -k "pythonfile=$TEST_DIR/helpers.py" \
		    -k Account_A:utf8foldernames=yes \
		    -k "Repository_R:idlefolders=[\"INBOX\"] + lists()" >out &&
		grep "^idle" out | sort >got &&
		printf "idle\tGäste\nidle\tINBOX\nidle\tLists/foo\n" >want &&
		test_cmp want got
	'

	test_expect_code 1 'an expression that fails: the error names the option' '
		imap-idle -c rc -a A -k "Repository_R:idlefolders=nosuch()" 2>err
		s=$?; cat err
		grep -q "^imap-idle: \[Repository R\] idlefolders: the Python expression failed" err &&
		exit $s
	'
fi

test_expect_success 'keepalive: DONE and IDLE again, and a change still arrives' '
	idle_bg ka -d -c rc -a A -k Repository_R:keepalive=1 INBOX &&
	wait_line ka.out "^idle	INBOX$" &&
	i=0 && while [ "$(sed -n "/^C: a[0-9]* IDLE$/,\$p" ka.err | grep -c "^S: + ")" -lt 2 ] &&
	    [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done &&
	deliver INBOX &&
	test "$(idle_status ka)" = 0 &&
	grep -q "^changed	exists	INBOX$" ka.out &&
	test "$(grep -c "^idle" ka.out)" = 1 &&
	test "$(grep -c "^C: a[0-9]* IDLE$" ka.err)" -ge 2 &&
	test "$(grep -c "^C: DONE$" ka.err)" -ge 2 &&
	test "$(grep -c "^S: a[0-9]* OK Idle completed" ka.err)" -ge 2 &&
	sed -n "/^S: a[0-9]* OK Idle completed/,\$p" ka.err | grep -q "^C: a[0-9]* IDLE$"
'

test_expect_success 'SIGTERM: DONE, LOGOUT, exit 0 at once' '
	idle_bg term -d -c rc -a A INBOX Lists/foo &&
	wait_line term.out "^idle	INBOX$" && wait_line term.out "^idle	Lists/foo$" &&
	kill -TERM "$(cat term.ipid)" &&
	test "$(idle_status term 10)" = 0 &&
	test "$(grep -c "^C: DONE$" term.err)" = 2 &&
	test "$(grep -c "^C: a[0-9]* LOGOUT$" term.err)" = 2 &&
	! grep -q "^changed\|^timeout" term.out
'

test_expect_success 'a reader that stops reading: a quiet end' '
	{ imap-idle -c rc -a A -t 1 INBOX 2>err; echo $? >st; } | grep -q "^idle" &&
	test "$(cat st)" = 0 && test_cmp /dev/null err
'

proxy drop || bail_out proxy
test_expect_success 'a dropped connection: an error record, exit 75' '
	idle_bg drop -c rc.drop -a A INBOX Lists/foo &&
	wait_line drop.out "^idle	INBOX$" && wait_line drop.out "^idle	Lists/foo$" &&
	kill "$(cat drop.ppid)" &&
	test "$(idle_status drop)" = 75 &&
	grep -q "^error	127.0.0.1 closed the connection	\(INBOX\|Lists/foo\)$" drop.out &&
	grep -q "^imap-idle: \(INBOX\|Lists/foo\): 127.0.0.1 closed the connection$" drop.err &&
	! grep -q "^changed" drop.out
'

proxy stall || bail_out proxy
test_expect_success 'no answer to DONE within socktimeout (a suspend): exit 75' '
	idle_bg stall -c rc.stall -a A -k general:socktimeout=1 \
	    -k Repository_R:keepalive=1 INBOX &&
	wait_line stall.out "^idle	INBOX$" &&
	kill -STOP $(proxy_procs stall) &&
	st=$(idle_status stall 40)
	kill -CONT $(proxy_procs stall); kill "$(cat stall.ppid)"
	test "$st" = 75 &&
	grep -q "^error	no answer to DONE within 1 s (socktimeout): the connection is dead	INBOX$" stall.out &&
	grep -q "^imap-idle: INBOX: no answer to DONE" stall.err
'

proxy stall2 || bail_out proxy
test_expect_success 'SIGTERM while the server does not answer: exit 0 within a second' '
	idle_bg stall2 -c rc.stall2 -a A INBOX &&
	wait_line stall2.out "^idle	INBOX$" &&
	kill -STOP $(proxy_procs stall2) &&
	kill -TERM "$(cat stall2.ipid)" &&
	st=$(idle_status stall2 15)
	kill -CONT $(proxy_procs stall2); kill "$(cat stall2.ppid)"
	test "$st" = 0
'

proxy bye --bye-after "^IDLE=0" || bail_out proxy
test_expect_success 'a BYE: exit 75 with the server words' '
	idle_bg bye -c rc.bye -a A INBOX &&
	test "$(idle_status bye)" = 75 &&
	grep -q "^error	server closed the connection: proxy says goodbye	INBOX$" bye.out
'

proxy noidle --drop-cap IDLE || bail_out proxy
test_expect_success 'a server without IDLE: NOOP polling still reports a change' '
	idle_bg noidle -d -c rc.noidle -a A -k Repository_R:keepalive=1 INBOX &&
	wait_line noidle.out "^idle	INBOX$" &&
	wait_line noidle.err "^C: a[0-9]* NOOP$" 30 &&
	deliver INBOX &&
	test "$(idle_status noidle)" = 0 &&
	grep -q "^changed	exists	INBOX$" noidle.out &&
	! grep -q "^C: a[0-9]* IDLE" noidle.err
'

test_expect_success 'reminders while idling ("+ Still here") are not errors' '
	perl "$T/imap-fake-idle" "$TEST_DIR/fake.port" stillhere &
	echo $! >fake.pid
	i=0; while [ ! -s fake.port ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	sed "s/^remoteport = .*/remoteport = $(cat fake.port)/" rc >rc.fake &&
	imap-idle -c rc.fake -a A -t 3 INBOX >out 2>err;
	s=$?
	kill "$(cat fake.pid)" 2>/dev/null
	test $s = 0 &&
	grep -q "^idle	INBOX$" out &&
	grep -q "^timeout$" out &&
	! grep -q "^error" out
'

test_expect_success '-C: the counts of an earlier listing, unchanged: no change' '
	imap-list -c rc -a A -m INBOX >listing &&
	imap-idle -c rc -a A -C listing -t 1 INBOX >out &&
	grep -q "^timeout$" out && ! grep -q "^changed" out
'

test_expect_success '-C: mail that came after the listing is a change at once' '
	deliver INBOX &&
	start=$(date +%s) &&
	imap-idle -c rc -a A -C listing -t 20 INBOX >out &&
	test $(($(date +%s) - start)) -lt 5 &&
	grep -q "^changed	exists	INBOX$" out
'

test_expect_success 'a server that never stops talking: the change is reported, the end comes' '
	rm -f fake.port
	perl "$T/imap-fake-idle" "$TEST_DIR/fake.port" flood &
	echo $! >fake.pid
	i=0; while [ ! -s fake.port ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	sed "s/^remoteport = .*/remoteport = $(cat fake.port)/" rc >rc.fake &&
	timeout -s KILL 15 imap-idle -c rc.fake -a A INBOX >out 2>err;
	s=$?
	kill "$(cat fake.pid)" 2>/dev/null
	test $s = 0 &&
	grep -q "^changed	fetch	INBOX$" out
'

test_done
