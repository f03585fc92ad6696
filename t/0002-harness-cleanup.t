#!/bin/sh
# The harness never leaves a Dovecot behind: dovecot_stop, and the cleanup
# when a test script passes, fails, exits early or is killed.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

# gone PID PORT TLS_PORT DIR INSTANCE: nothing of that instance is left.
# (A zombie is gone: the master is not our child, init reaps it when it can.)
gone() {
	if dc_alive_ "$1"; then
		echo "master $1 still runs:"; ps -o pid,stat,args -p "$1"; return 1
	fi
	# (a process that merely names the directory may pass by: look 1 s long)
	g_i=0
	while g_left=$(pgrep -d, -f -- "$4/|dovecot-$5/"); do
		g_i=$((g_i + 1))
		if [ "$g_i" -ge 10 ]; then
			echo "processes of $4 are left:"; ps -o pid,user,args -p "$g_left"
			return 1
		fi
		sleep 0.1
	done
	for g_port in "$2" "$3"; do
		if dc_port_open "$g_port"; then echo "port $g_port still accepts connections"; return 1; fi
	done
}

# gone_info FILE: the same for an instance described by a child's info file.
gone_info() {
	read -r gi_pid gi_port gi_tls gi_dir gi_inst _ <"$1" || { echo "no info in $1"; return 1; }
	gone "$gi_pid" "$gi_port" "$gi_tls" "$gi_dir" "$gi_inst"
}

dovecot_start || bail_out 'cannot start dovecot'
pid=$DC_PID port=$DC_PORT tls_port=$DC_TLS_PORT dir=$DC_DIR inst=$DC_INSTANCE

test_expect_success 'a running instance has processes and open ports' '
	dc_alive_ "$pid" && test -n "$(pgrep -f -- "$dir/")" &&
	test "$(dc_procs | wc -l)" -gt 2 &&
	dc_port_open "$port" && dc_port_open "$tls_port"
'

test_expect_success 'dovecot_stop leaves no process and no open port' '
	dovecot_stop && gone "$pid" "$port" "$tls_port" "$dir" "$inst" &&
	test ! -e "$dir/pid" &&
	grep "master: Warning: Killed with signal 15" "$DC_LOG" &&
	dovecot_stop
'

test_expect_success 'dovecot_stop kills processes the master left behind' '
	dovecot_start --name orphans &&
	decoy() {
		(perl -e "\$SIG{TERM} = \"IGNORE\" if shift; \$0 = shift;
			open my \$f, \">\", shift or die; print \$f \$\$; close \$f; sleep 30" \
			"$@" </dev/null >/dev/null 2>&1 &)
	} &&
	decoy 1 "dovecot-$DC_INSTANCE/imap" decoy1.pid &&
	decoy 0 "sh $DC_DIR/mail/some-tool" decoy2.pid &&
	i=0 && while [ ! -s decoy1.pid ] || [ ! -s decoy2.pid ]; do
		i=$((i + 1)); test $i -lt 50 || exit 1; sleep 0.1; done &&
	d1=$(cat decoy1.pid) d2=$(cat decoy2.pid) &&
	test "$(dc_procs | grep -c -e "^$d1\$" -e "^$d2\$")" = 2 &&
	dovecot_stop &&
	gone "$DC_PID" "$DC_PORT" "$DC_TLS_PORT" "$DC_DIR" "$DC_INSTANCE" &&
	! dc_alive_ "$d1" && ! dc_alive_ "$d2"
'

test_expect_success 'a start that fails shows why and leaves nothing running' '
	! dovecot_start --name broken --conf "no_such_setting = 1" 2>err &&
	cat err && grep "no_such_setting" err &&
	test -z "$(dc_procs broken)" &&
	dc_use && test "$DC_NAME" = dovecot
'

# Child test scripts use the same libraries, from a t/ of their own; each
# writes "pid port tls_port dir instance base_dir" of its Dovecot to $INFO.
mkdir -p kid/t tmp || bail_out 'cannot create kid/'
for f in test-lib.sh lib-dovecot.sh imap-talk; do
	ln -s "$T/$f" "kid/t/$f" || bail_out "cannot link $f"
done
child_head='#!/bin/sh
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"
info() {
	echo "$DC_PID $DC_PORT $DC_TLS_PORT $DC_DIR $DC_INSTANCE $DC_BASE" >"$INFO.tmp" &&
	mv "$INFO.tmp" "$INFO"
}'
# exits in the middle, without test_done
printf '%s\n' "$child_head" 'dovecot_start || bail_out "no dovecot"' 'info' \
	'test_expect_success "one good test" "dovecot_fill alice INBOX 3"' \
	'exit 3' >kid/t/exit.t
# a failing test (the start inside a test), then test_done
printf '%s\n' "$child_head" \
	'test_expect_success "start" "dovecot_start --name in-test"' \
	'dc_use in-test && info' \
	'test_expect_success "fails" "test \"\$(dovecot_count alice INBOX)\" = 42"' \
	'test_done' >kid/t/fail.t
# killed by SIGTERM while it runs
printf '%s\n' "$child_head" 'dovecot_start || bail_out "no dovecot"' 'info' \
	'i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done' >kid/t/killed.t
# killed by SIGKILL: no trap runs, the watchdog has to stop its dovecot
printf '%s\n' "$child_head" 'dovecot_start || bail_out "no dovecot"' 'info' \
	'i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done' >kid/t/sigkill.t
# passes; its scratch directory path is long enough to move base_dir to /tmp
printf '%s\n' "$child_head" 'dovecot_start --name "$LONG" || bail_out "no dovecot"' 'info' \
	'test_expect_success "fill" "dovecot_fill alice INBOX 3 && test \"\$(dovecot_count alice INBOX)\" = 3"' \
	'test_done' >kid/t/pass.t

# kid NAME [VAR=VALUE...]: run child NAME, its output in NAME.out, its exit
# status in NAME.rc; its scratch directory goes under tmp/.
kid() {
	kid_name=$1
	shift
	env INFO="$TEST_DIR/$kid_name.info" TMPDIR="$TEST_DIR/tmp" "$@" \
		sh "kid/t/$kid_name.t" >"$kid_name.out" 2>&1
	echo $? >"$kid_name.rc"
}

# All at once (also a check that parallel starts do not clash).  The two to
# be killed run straight in the background, so that $! is their shell.
test_expect_success 'child scripts run: exit early, fail, get killed (TERM, KILL), pass' '
	kid exit &
	kid fail &
	kid pass LONG=a-name-that-makes-the-base-dir-too-long-for-sockets &
	INFO=$TEST_DIR/killed.info TMPDIR=$TEST_DIR/tmp sh kid/t/killed.t >killed.out 2>&1 &
	killed=$!
	INFO=$TEST_DIR/sigkill.info TMPDIR=$TEST_DIR/tmp sh kid/t/sigkill.t >sigkill.out 2>&1 &
	sigkill=$!
	i=0 && while [ ! -s killed.info ] || [ ! -s sigkill.info ]; do
		i=$((i + 1)); test $i -lt 150 || { kill $killed $sigkill; exit 1; }; sleep 0.1; done &&
	kill -TERM $killed && { wait $killed; echo $? >killed.rc; } &&
	kill -KILL $sigkill && { wait $sigkill; echo $? >sigkill.rc; } &&
	wait &&
	for c in exit fail pass killed sigkill; do echo "== $c: rc $(cat $c.rc)"; cat $c.out; done &&
	test "$(cat exit.rc)" = 3 && test "$(cat fail.rc)" = 1 &&
	test "$(cat pass.rc)" = 0 && test "$(cat killed.rc)" = 1 &&
	test "$(cat sigkill.rc)" = 137 &&
	grep "^ok 1 - one good test" exit.out &&
	grep "^not ok 2 - fails" fail.out && grep "^1\.\.2" fail.out &&
	grep "^ok 1 - fill" pass.out
'

test_expect_success 'the early exit still stopped its dovecot' '
	gone_info exit.info
'

test_expect_success 'the failing script stopped its dovecot (started inside a test)' '
	gone_info fail.info
'

test_expect_success 'the killed script stopped its dovecot' '
	gone_info killed.info
'

test_expect_success 'the watchdog stopped the dovecot of the SIGKILLed script' '
	i=0 && until gone_info sigkill.info >gone.out; do
		i=$((i + 1)); test $i -lt 40 || { cat gone.out; exit 1; }; sleep 0.1; done &&
	read -r x x x d x x <sigkill.info && rm -rf "${d%/*}"
'

test_expect_success 'the passing script stopped its dovecot' '
	gone_info pass.info
'

test_expect_success 'failed scripts keep their scratch directory, for the logs' '
	for c in exit fail killed; do
		read -r x x x d x x <$c.info &&
		test -s "$d/dovecot.log" &&
		grep "^# scratch directory kept: ${d%/*}\$" $c.out || exit 1
	done
'

test_expect_success 'a passing script leaves nothing behind' '
	read -r x x x d x base <pass.info &&
	case $base in /tmp/oidc.*) ;; *) echo "base_dir $base not moved"; exit 1 ;; esac &&
	test ! -e "$base" && test ! -e "${d%/*}" &&
	test -z "$(ls tmp | grep pass)"
'

test_done
