#!/bin/sh
# t/imap-proxy, the fault-injecting proxy, in front of a private Dovecot:
# it forwards byte for byte, and each rule does what it says.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

# proxy_start NAME [imap-proxy options]: a proxy in front of the current
# Dovecot, in the background; its port in NAME.port, pid in NAME.pid, log
# in NAME.log (all in $TEST_DIR).
proxy_start() {
	pxs_name=$1
	shift
	perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/$pxs_name.port" \
		--pid-file "$TEST_DIR/$pxs_name.pid" --log "$TEST_DIR/$pxs_name.log" \
		--upstream "$DC_HOST:$DC_PORT" --max-time 60 "$@"
}

# proxy_pids [NAME]: processes of proxy NAME (default: all of this test);
# their command line names their files in $TEST_DIR.
proxy_pids() {
	pgrep -f -- "imap-proxy --listen-port-file $TEST_DIR/${1:-[^ ]*}\\.port " 2>/dev/null
	return 0
}

# proxy_gone NAME: wait (at most 5 s) until proxy NAME has no process left.
proxy_gone() {
	pxg_i=0
	while [ -n "$(proxy_pids "$1")" ]; do
		pxg_i=$((pxg_i + 1))
		if [ $pxg_i -gt 50 ]; then
			echo "proxy $1 still running:"
			ps -o pid=,args= -p "$(proxy_pids "$1" | tr '\n' , | sed 's/,$//')"
			return 1
		fi
		sleep 0.1
	done
}

# proxy_stop_all: SIGTERM to every process of every proxy of this test
# (found by command line, so never another process), wait until they are
# gone; SIGKILL what is left after 5 s.
proxy_stop_all() {
	pxa_left=$(proxy_pids)
	[ -z "$pxa_left" ] || kill -TERM $pxa_left 2>/dev/null
	proxy_gone '' && return 0
	pxa_left=$(proxy_pids)
	[ -z "$pxa_left" ] || kill -KILL $pxa_left
	return 1
}
# registered after lib-dovecot's, so it runs before Dovecot is stopped
test_cleanup 'proxy_stop_all'

# ptalk NAME [imap-talk options]: t/imap-talk through proxy NAME.
ptalk() {
	ptk_name=$1
	shift
	perl "$T/imap-talk" --timeout 10 "$@" 127.0.0.1 "$(cat "$TEST_DIR/$ptk_name.port")"
}

# raw NAME: like imap-talk through proxy NAME, but prints the server's bytes
# unchanged (CR, NUL and all), and stops waiting for a reply at a line with
# a NUL outside literals (garbage).  A command line ending in {N}, {N+} or
# ~{N...} is followed by exactly N bytes of input, sent as the literal
# (after the server's "+" for {N}; a refusal skips them), then by the next
# input line, the rest of the command.  A line "|TAG ..." is sent without
# waiting for its reply (pipelining).  Exit 0: every command was answered;
# 2: the connection closed first; 3: timeout (10 s).
test_file raw.pl <<'EOF'
	use strict;
	use warnings;
	use IO::Socket::INET;
	$SIG{ALRM} = sub { print STDERR "raw: timeout\n"; exit 3 };
	alarm 10;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ARGV[0],
		Proto => 'tcp') or die "raw: cannot connect: $@\n";
	binmode $s;
	binmode STDIN;
	binmode STDOUT;
	$| = 1;
	my ($buf, $got) = ('', '');
	sub more { my $n = sysread $s, $buf, 65536, length $buf; return $n }
	sub eof_exit { print $got, $buf; print STDERR "raw: connection closed\n"; exit 2 }
	# One whole response, literals included: printed, and returned with
	# a flag: its first line has a NUL.
	sub response {
		$got = '';
		my $first;
		while (1) {
			my $i;
			while (($i = index $buf, "\n") < 0) { more() or eof_exit() }
			my $l = substr $buf, 0, $i + 1, '';
			$first = $l unless defined $first;
			$got .= $l;
			if ($l =~ /\{(\d+)\}\r?\n\z/) {
				my $n = $1;
				while (length $buf < $n) { more() or eof_exit() }
				$got .= substr $buf, 0, $n, '';
				next;
			}
			print $got;
			return ($got, $first =~ /\0/ ? 1 : 0);
		}
	}
	sub done { my ($r, $nul, $tag) = @_; return $nul || $r =~ /^\Q$tag\E (?:OK|NO|BAD)\b/ }
	response();
	CMD: while (defined(my $c = <STDIN>)) {
		$c =~ s/\r?\n\z//;
		if ($c =~ s/^\|//) {
			print $s "$c\r\n";
			next;
		}
		my ($tag) = $c =~ /^(\S+)/;
		next unless defined $tag;
		while (1) {
			print $s "$c\r\n";
			last unless $c =~ /\{(\d+)(\+?)\}\z/;
			my ($n, $plus, $refused) = ($1, $2, 0);
			until ($plus) {
				my ($r, $nul) = response();
				last if $r =~ /^\+/;
				if (done($r, $nul, $tag)) { $refused = 1; last }
			}
			read(STDIN, my $lit, $n) == $n or die "raw: the input ends in a literal\n";
			defined($c = <STDIN>) or die "raw: the input ends after a literal\n";
			$c =~ s/\r?\n\z//;
			next CMD if $refused;
			print $s $lit;
		}
		while (1) { last if done(response(), $tag) }
	}
	exit 0;
EOF
raw() {
	perl "$TEST_DIR/raw.pl" "$(cat "$TEST_DIR/$1.port")"
}

# Dovecot's tagged replies end in timings like "(0.001 + 0.000 secs)".
untime() {
	perl -pe 's/ \([0-9.]+ \+ [0-9.]+(?: \+ [0-9.]+)? secs\)//'
}

# now_ms: the time in milliseconds.
now_ms() {
	perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000'
}

# wait_for FILE ERE: wait (at most 5 s) until a line of FILE matches.
wait_for() {
	wf_i=0
	until grep -Eq -- "$2" "$1" 2>/dev/null; do
		wf_i=$((wf_i + 1))
		if [ $wf_i -gt 50 ]; then
			echo "no line matching '$2' in $1:"
			cat "$1"
			return 1
		fi
		sleep 0.1
	done
}

# listeners PORT: the local addresses (hex) listening on TCP port PORT.
listeners() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p {
		sub(/:[0-9A-F]+$/, "", $2); print $2 }'
}

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 3 && dovecot_fill alice Twenty 20 &&
	dovecot_mkfolder alice Junk Bin || bail_out 'cannot fill the mailboxes'
login='a LOGIN alice alicepw'
# binary content: NUL, CR LF, high bytes
printf 'Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\nNUL \000 here \377\376\r\nend\r\n' >bin.eml

# Started first, checked last: it must be gone by then.
test_expect_success '--max-time: a proxy that will exit by itself' '
	proxy_start maxtime --max-time 2 &&
	test -s maxtime.pid && test -n "$(proxy_pids maxtime)"
'

test_expect_success 'usage errors: exit status 1 and a message' '
	up="--upstream 127.0.0.1:$DC_PORT" && u="--listen-port-file $TEST_DIR/u.port" &&
	for args in "" "$up" "$u --upstream nohost" "$u $up --no-such-option" \
		"$u $up extra" "$u $up --reply SELECT" "$u $up --reply (=NO" \
		"$u $up --bye-after FETCH"
	do
		perl "$T/imap-proxy" $args >out 2>err
		rc=$?
		if [ $rc != 1 ] || ! grep -q "^imap-proxy: " err || ! grep -q "^usage: " err
		then
			echo "args: $args: exit $rc"; cat err; exit 1
		fi
	done &&
	test ! -e u.port
'

test_expect_success 'starts in the background: port and pid files, 127.0.0.1 only' '
	proxy_start plain &&
	port=$(cat plain.port) && pid=$(cat plain.pid) &&
	case $port in "" | *[!0-9]*) false ;; esac &&
	ps -o args= -p "$pid" | grep -F "imap-proxy --listen-port-file $TEST_DIR/plain.port" &&
	test "$(listeners "$port")" = 0100007F &&
	test ! -e plain.port.tmp* &&
	printf "%s\n" "$login" "b LOGOUT" | ptalk plain >out &&
	grep "^a OK" out && grep "^b OK" out
'

msg=$(printf 'Subject: 8-bit caf\303\251 \377\376 end')
msglen=$(printf '%s' "$msg" | wc -c)

test_expect_success 'APPEND with a synchronizing literal goes through' '
	printf "%s\n" "$login" "b APPEND INBOX {$msglen}" "$msg" "c LOGOUT" |
		ptalk plain >out &&
	grep "^+ " out && grep "^b OK" out &&
	test "$(dovecot_count alice INBOX)" = 4
'

test_expect_success 'APPEND of a literal8 {N+} with NUL bytes goes through' '
	{ printf "%s\n" "$login" "b APPEND Bin ~{$(wc -c <bin.eml)+}" &&
	  cat bin.eml && printf "\nc LOGOUT\n"; } | raw plain >out &&
	grep "^b OK" out && test "$(dovecot_count alice Bin)" = 1
'

test_expect_success 'server bytes are forwarded exactly (literals, literal8, CR, NUL)' '
	cmds="$login
b EXAMINE INBOX
c FETCH 1:* (BODY.PEEK[] BINARY.PEEK[1])
d EXAMINE Bin
e FETCH 1 (BINARY.PEEK[] BODY.PEEK[TEXT])
f LOGOUT" &&
	printf "%s\n" "$cmds" | raw plain >via.raw &&
	printf "%s\n" "$cmds" | perl raw.pl "$DC_PORT" >direct.raw &&
	untime <via.raw >via && untime <direct.raw >direct &&
	cmp direct via &&
	test "$(grep -c "BODY\\[\\] {" via)" = 4 &&
	grep -q "$(printf "\\377\\376 end")" via &&
	grep -q "BINARY\\[\\] ~{$(wc -c <bin.eml)}" via &&
	perl -0777 -ne "/BINARY\\[\\] ~\\{(\\d+)\\}\\r\\n/ or exit 1;
		print substr(\$_, \$+[0], \$1)" via >bin.got &&
	cmp bin.eml bin.got
'

test_expect_success '--drop-cap UIDPLUS CONDSTORE IDLE LITERAL+: gone, and refused' '
	proxy_start drop --drop-cap UIDPLUS --drop-cap condstore --drop-cap IDLE \
		--drop-cap LITERAL+ &&
	cmds="$login
b CAPABILITY
c SELECT INBOX
d APPEND INBOX {$msglen}
$msg
e UID COPY 1 INBOX
f UID EXPUNGE 1
g SELECT INBOX (CONDSTORE)
h FETCH 1 (MODSEQ)
i ENABLE QRESYNC
k SELECT INBOX
l LOGOUT" &&
	printf "%s\n" "$cmds" | dc_talk >direct &&
	grep "^a OK \\[CAPABILITY .*UIDPLUS" direct && grep "^d OK \\[APPENDUID " direct &&
	grep "^e OK \\[COPYUID " direct && grep "HIGHESTMODSEQ" direct &&
	grep "^\\* OK \\[CLOSED\\]" direct &&
	printf "%s\n" "$cmds" | ptalk drop >out &&
	! grep -v "imap-proxy --drop-cap" out |
		grep -E "UIDPLUS|CONDSTORE|QRESYNC|APPENDUID|COPYUID|MODSEQ|CLOSED" &&
	grep "^a OK \\[CAPABILITY IMAP4rev1 .* MOVE .*\\] Logged in" out &&
	grep "^\\* CAPABILITY IMAP4rev1 " out && ! grep -E "CAPABILITY.* (IDLE|LITERAL\\+)( |\\]|\$)" out &&
	grep "^d OK Append completed" out && grep "^e OK Copy completed" out &&
	grep "^f BAD .*imap-proxy --drop-cap UIDPLUS" out &&
	grep "^g BAD .*imap-proxy --drop-cap CONDSTORE" out &&
	grep "^h BAD .*imap-proxy --drop-cap CONDSTORE" out &&
	grep "^i BAD .*imap-proxy --drop-cap QRESYNC" out &&
	grep "^k OK \\[READ-WRITE\\]" out && grep "^l OK" out &&
	test "$(dovecot_count alice INBOX)" = 8 &&
	printf "%s\n" "$login" "b IDLE" "c LOGOUT" | ptalk drop >out &&
	grep "^b BAD .*imap-proxy --drop-cap IDLE" out && grep "^c OK" out
'

test_expect_success '--drop-cap LITERAL+: a {N+} literal gets BAD, is not stored' '
	printf "%s\n" "$login" "b APPEND INBOX {5+}" "hello" "c NOOP" "d LOGOUT" |
		raw drop >out &&
	grep "^b BAD .*imap-proxy --drop-cap LITERAL+" out && grep "^c OK" out &&
	test "$(dovecot_count alice INBOX)" = 8 &&
	grep "^C: <literal 5 bytes>" drop.log
'

test_expect_success '--reply: SELECT Junk gets NO without reaching Dovecot' '
	proxy_start reply --reply "SELECT \"?Junk=NO [NONEXISTENT] no such mailbox" &&
	printf "%s\n" "$login" "b SELECT Junk" "c select \"junk\"" "d SELECT INBOX" \
		"e LOGOUT" | ptalk reply >out &&
	grep -x "b NO \\[NONEXISTENT\\] no such mailbox" out &&
	grep -x "c NO \\[NONEXISTENT\\] no such mailbox" out &&
	grep "^d OK \\[READ-WRITE\\]" out && grep "^e OK" out &&
	test "$(grep -c "^\\* OK \\[UIDVALIDITY" out)" = 1 &&
	grep -x "C: b SELECT Junk" reply.log && grep "^# --reply .* for b\$" reply.log
'

test_expect_success '--bye-after: BYE after 5 of the 20 messages of a FETCH' '
	proxy_start bye --bye-after "^FETCH=5" &&
	printf "%s\n" "$login" "b EXAMINE Twenty" "c FETCH 1:20 (FLAGS BODY.PEEK[])" \
		"d LOGOUT" | ptalk bye >out
	test $? = 2 &&
	test "$(grep -c "^\\* [0-9]* FETCH " out)" = 5 &&
	grep "^Message 5 of 20 for Twenty" out && ! grep "^Message 6 " out &&
	test "$(tail -n 1 out)" = "* BYE proxy says goodbye" &&
	! grep "^c " out && grep "^b OK" out
'

test_expect_success '--bye-after: responses count for the oldest command (pipelining)' '
	printf "%s\n" "$login" "|b EXAMINE Twenty" "c FETCH 1:20 (FLAGS)" | raw bye >out
	test $? = 2 &&
	grep "^b OK" out &&
	test "$(grep -c "^\\* [0-9]* FETCH " out)" = 5 &&
	test "$(tail -n 1 out)" = "$(printf "* BYE proxy says goodbye\r")"
'

test_expect_success '--close-after: the connection just ends after 3 messages' '
	proxy_start close --close-after "FETCH 1:20=3" &&
	printf "%s\n" "$login" "b EXAMINE Twenty" "c FETCH 1:20 (BODY.PEEK[])" \
		"d LOGOUT" | ptalk close >out
	test $? = 2 &&
	test "$(grep -c "^\\* [0-9]* FETCH " out)" = 3 &&
	test "$(tail -n 1 out)" = ")" && ! grep "BYE" out && ! grep "^c " out
'

test_expect_success '--garbage: binary junk instead of the reply, connection stays' '
	proxy_start garbage --garbage "^NOOP" &&
	printf "%s\n" "$login" "b NOOP" "c CAPABILITY" "d LOGOUT" | raw garbage >out &&
	perl -0777 -ne "exit !(/\\0/ && /\\xff/ && /^c OK/m && !/^b /m && /^d OK/m)" out
'

test_expect_success '--short-literal: the connection closes in the middle of a literal' '
	proxy_start short --short-literal "BODY" &&
	printf "%s\n" "$login" "b EXAMINE Twenty" "c FETCH 2 (FLAGS)" \
		"d FETCH 3 BODY.PEEK[]" "e LOGOUT" | raw short >out
	test $? = 2 &&
	grep "^c OK" out &&
	perl -0777 -ne "/^\\* 3 FETCH \\(BODY\\[\\] \\{(\\d+)\\}\\r\\n(.*)\\z/ms or exit 1;
		print \"\$1 \", length(\$2), \"\\n\"; exit !(length(\$2) == int(\$1 / 2))" out &&
	printf "%s\n" "$login" "b EXAMINE Twenty" "c FETCH 3 BODY.PEEK[]" |
		ptalk short >out2
	test $? = 2 && grep "^\\* 3 FETCH (BODY\\[\\] {" out2 &&
	test "$(grep -c "^S: <literal [0-9]* bytes, only [0-9]* sent>" short.log)" = 2
'

test_expect_success '--log: every line, the password masked, literals as a size' '
	proxy_start log &&
	printf "%s\n" "$login" "b APPEND INBOX {$msglen}" "$msg" "c LOGOUT" |
		ptalk log >out &&
	grep "^c OK" out &&
	printf "%s\n" "a AUTHENTICATE PLAIN" "$(printf "\\0alice\\0alicepw" | base64)" \
		"b LOGOUT" | ptalk log >out2 &&
	grep "^a OK" out2 &&
	! grep -e alicepw -e "$(printf "\\0alice\\0alicepw" | base64)" log.log &&
	grep "^C: " log.log >c &&
	test_file c.want <<-EOF &&
	C: a LOGIN alice ****
	C: b APPEND INBOX {$msglen}
	C: <literal $msglen bytes>
	C: 
	C: c LOGOUT
	C: a AUTHENTICATE PLAIN
	C: ****
	C: b LOGOUT
	EOF
	test_cmp c.want c &&
	grep "^S: \\* OK \\[CAPABILITY " log.log &&
	grep "^S: + " log.log &&
	grep "^S: b OK \\[APPENDUID " log.log &&
	test "$(grep -c "^S: [a-z] OK " log.log)" = 5 &&
	test "$(grep -c "^# connection [0-9]* from 127.0.0.1:" log.log)" = 2
'

test_expect_success '--delay-ms: every line is late' '
	proxy_start slow --delay-ms 100 &&
	t0=$(now_ms) &&
	echo "a LOGOUT" | ptalk slow >out &&
	t1=$(now_ms) &&
	echo "$((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 300 && grep "^a OK" out
'

test_expect_success 'connections are served at the same time' '
	mkfifo hold &&
	{ ptalk plain <hold >held.out & } &&
	held=$! &&
	exec 3>hold &&
	echo "$login" >&3 &&
	wait_for held.out "^a OK" &&
	printf "%s\n" "$login" "b LOGOUT" | ptalk plain >out &&
	grep "^b OK" out &&
	kill -0 $held &&
	echo "z LOGOUT" >&3 && exec 3>&- &&
	wait $held && grep "^z OK" held.out
'

test_expect_success 'SIGTERM ends the proxy and its open connections' '
	proxy_start term &&
	mkfifo hold2 &&
	{ raw term <hold2 >held.out 2>held.err & } &&
	held=$! &&
	exec 3>hold2 &&
	wait_for term.log "^S: \\* OK" &&
	test "$(proxy_pids term | wc -l)" = 2 &&
	kill -TERM "$(cat term.pid)" &&
	proxy_gone term &&
	test ! -e term.pid && grep "^# exiting: SIGTERM" term.log &&
	echo "z NOOP" >&3 && exec 3>&- &&
	{ wait $held; test $? = 2; } && grep "connection closed" held.err
'

test_expect_success '--max-time: that proxy has exited by itself' '
	proxy_gone maxtime &&
	test ! -e maxtime.pid && grep "^# exiting: max-time 2 s reached" maxtime.log
'

test_expect_success 'after a stop, no proxy process is left' '
	proxy_stop_all &&
	test -z "$(proxy_pids)"
'

test_done
