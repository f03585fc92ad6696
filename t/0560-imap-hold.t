#!/bin/sh
# imap-hold against a private Dovecot, through t/imap-proxy (which counts
# the connections and can cut them): tools borrow a held connection with
# holdsocket, one login serves several tools, LOGOUT, CAPABILITY, ENABLE
# and the login commands are answered by the broker, a selected mailbox
# is UNSELECTed, a borrower that dies or a server that drops costs the
# connection, keepalive NOOPs, the end on a signal or on EOF of stdin.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"
. "$T/lib-sync.sh"

# COMPRESS=DEFLATE offered, to be used under TLS between broker and server
dovecot_start --conf "protocol imap {" \
    --conf "  mail_plugins = \$mail_plugins imap_zlib" --conf "}" ||
	bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 5 >/dev/null || bail_out fill
dovecot_fill alice Work 3 S >/dev/null || bail_out fill
# a big message with 8-bit text and CRLF line ends, for APPEND and FETCH
perl -e 'print "From: b\@example.org\r\nSubject: big \xe9t\xe9\r\n\r\n";
    for (1..20000) { print "line $_ of a big message, \xe9t\xe9\r\n" }' >big.eml ||
	bail_out big.eml
dc_adm save -u alice -m Work <big.eml || bail_out save
{ cat big.eml; printf "one line more\r\n"; } >big2.eml || bail_out big2.eml
dc_rc rc </dev/null || bail_out rc


# proxy NAME: t/imap-proxy in front of Dovecot; rc.NAME talks to it
proxy() {
	perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/$1.port" \
	    --pid-file "$TEST_DIR/$1.ppid" --log "$TEST_DIR/$1.log" \
	    --upstream "$DC_HOST:$DC_PORT" --max-time 90 &&
	sed "s/^remoteport = .*/remoteport = $(cat "$TEST_DIR/$1.port")/" rc >"rc.$1"
}
# conns NAME: connections made through proxy NAME so far
conns() {
	grep -c "^# connection [0-9]* from" "$1.log"
}
test_cleanup 'for p in "$TEST_DIR"/*.ppid; do kill "$(cat "$p")"; done'

# hold NAME ARGS...: imap-hold -s $TEST_DIR/NAME.sock (or $HOLD_SOCK) ARGS
# in the background, its stdin a pipe from a sleep whose pid is in NAME.feed
# (killing it is the end of the input), its pid in NAME.pid, its output
# in NAME.out and NAME.err, its exit status in NAME.st; waits for "ready"
hold() {
	hn=$1
	shift
	rm -f "$hn.out" "$hn.err" "$hn.st" "$hn.pid" "$hn.feed"
	( (sleep 120 & echo $! >"$hn.feed"; wait) | {
	    sh -c 'echo $$ >"$0.pid"; s=$1; shift; exec imap-hold -s "$s" "$@"' \
		"$hn" "${HOLD_SOCK:-$PWD/$hn.sock}" "$@" >"$hn.out" 2>"$hn.err"
	    echo $? >"$hn.st"
	    kill "$(cat "$hn.feed")"; } ) >/dev/null 2>&1 &
	wait_line "$hn.out" "^ready "
}
# hold_status NAME [TENTHS]: wait for broker NAME to end, print its status
hold_status() {
	wait_line "$1.st" . "${2:-50}" >/dev/null && cat "$1.st"
}
test_cleanup 'for p in "$TEST_DIR"/*.pid "$TEST_DIR"/*.feed; do kill "$(cat "$p")"; done'

# A client on the UNIX socket: reads a script on stdin, prints what the
# broker says (CR removed; literals as "<literal N bytes>", or saved to
# files 1, 2, ... in DIR with --lit DIR).  Lines: "TAG COMMAND ..." sent,
# then its tagged answer awaited; "!send LINE" sent without waiting;
# "!wait TAG"; "!sleep SECS"; "!append[+] TAG MAILBOX FILE" an APPEND with
# a synchronising (or LITERAL+) literal; "!die TAG COMMAND" sends and is
# killed with SIGKILL at the first literal of the answer; "!raw TEXT" sends
# TEXT as it is (\r and \n escapes).  Exit 2 on a BYE greeting.
cat >talk <<'EOF'
use strict;
use warnings;
use Socket;
my $litdir;
if (@ARGV && $ARGV[0] eq '--lit') { shift; $litdir = shift }
my $path = shift or die "usage: talk [--lit DIR] SOCKET\n";
socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
connect($s, pack_sockaddr_un($path)) or die "connect $path: $!\n";
binmode $s;
binmode STDOUT;
$| = 1;
select((select($s), $| = 1)[0]);
alarm 20;
my $nlit = 0;
sub response {
	my ($die) = @_;
	my $first;
	for (;;) {
		my $l = <$s>;
		die "talk: connection closed\n" unless defined $l;
		$first //= $l;
		(my $p = $l) =~ s/\r//g;
		print $p;
		return $first unless $l =~ /\{(\d+)\+?\}\r\n\z/;
		kill 'KILL', $$ if $die;
		my ($n, $buf) = ($1, '');
		while (length $buf < $n) {
			my $r = read($s, $buf, $n - length $buf, length $buf);
			die "talk: closed in a literal\n" unless $r;
		}
		$nlit++;
		if ($litdir) {
			open my $f, '>', "$litdir/$nlit" or die "$litdir/$nlit: $!\n";
			binmode $f;
			print $f $buf;
			close $f or die "$litdir/$nlit: $!\n";
		} else {
			print "<literal $n bytes>";
		}
	}
}
sub wait_tag {
	my ($tag, $die) = @_;
	for (;;) { return if response($die) =~ /^\Q$tag\E /; }
}
exit 2 if response() =~ /^\* BYE/;
while (my $cmd = <STDIN>) {
	chomp $cmd;
	next if $cmd eq '';
	if ($cmd =~ /^!sleep (\S+)/) { select(undef, undef, undef, $1) }
	elsif ($cmd =~ /^!send (.*)/) { print $s "$1\r\n" }
	elsif ($cmd =~ /^!wait (\S+)/) { wait_tag($1) }
	elsif ($cmd =~ /^!raw (.*)/) {
		(my $t = $1) =~ s/\\r/\r/g;
		$t =~ s/\\n/\n/g;
		print $s $t;
	} elsif ($cmd =~ /^!append(\+?) (\S+) (\S+) (\S+)/) {
		my ($plus, $tag, $mbox, $file) = ($1, $2, $3, $4);
		open my $f, '<', $file or die "$file: $!\n";
		binmode $f;
		my $d = do { local $/; <$f> };
		print $s "$tag APPEND $mbox {" . length($d) . "$plus}\r\n";
		if (!$plus) {
			my $r = response();
			die "talk: no continuation: $r" unless $r =~ /^\+/;
		}
		print $s $d, "\r\n";
		wait_tag($tag);
	} elsif ($cmd =~ /^!die (\S+) (.*)/) {
		print $s "$1 $2\r\n";
		wait_tag($1, 1);
	} else {
		my ($tag) = $cmd =~ /^(\S+)/;
		print $s "$cmd\r\n";
		wait_tag($tag);
	}
}
EOF

proxy p || bail_out proxy
HS="Repository R:holdsocket=$TEST_DIR/h.sock"
export HS

test_expect_success 'ready SOCKET on stdout, the socket mode 0600, no login yet' '
	hold h -d -c rc.p -a A &&
	echo "ready $TEST_DIR/h.sock" >want && test_cmp want h.out &&
	test "$(stat -c %a h.sock)" = 600 &&
	test "$(conns p)" = 0
'

test_expect_success 'imap-list through the broker lists as it does directly' '
	imap-list -c rc -a A -m >direct &&
	imap-list -c rc -a A -m -k "$HS" >held &&
	test_cmp direct held &&
	test "$(conns p)" = 1
'

test_expect_success 'a second tool after the first: the same connection, no login' '
	imap-list -c rc -a A -k "$HS" INBOX >held2 &&
	grep -q "^msg	" held2 &&
	test "$(conns p)" = 1 &&
	test "$(grep -c "^S: a[0-9]* OK .*Logged in" p.log)" = 1 &&
	! grep -q "^C: a[0-9]* LOGOUT" p.log &&
	grep -q "connection 1 returned by client 2" h.err
'

test_expect_success 'a tool with holdsocket looks up no password' '
	imap-list -c rc -a A -k "$HS" \
	    -k "Repository R:remotepasscmd=touch $TEST_DIR/asked; echo x" >held3 &&
	grep -q "^folder	" held3 && test ! -e asked &&
	test "$(conns p)" = 1
'

test_expect_success 'LOGOUT is answered by the broker, CAPABILITY too, filtered' '
	printf "x1 CAPABILITY\nx2 LOGOUT\n" | perl talk h.sock >out &&
	head -n 1 out >greeting &&
	grep -q "^\* PREAUTH \[CAPABILITY IMAP4rev1 .*\] imap-hold: lent connection$" greeting &&
	grep -q "^\* CAPABILITY IMAP4rev1 " out &&
	grep -q "^x1 OK CAPABILITY completed$" out &&
	! grep -q "STARTTLS\|AUTH=\|LOGINDISABLED\|SASL-IR\|COMPRESS=" out &&
	grep -q "ENABLE" out &&
	grep -q "^\* BYE imap-hold: connection returned$" out &&
	grep -q "^x2 OK LOGOUT completed$" out &&
	! grep -q "^C: x[12] " p.log &&
	test "$(conns p)" = 1
'

test_expect_success 'LOGIN, AUTHENTICATE, STARTTLS, COMPRESS: NO, and the connection goes on' '
	cat >script <<-\EOF &&
	y1 LOGIN alice alicepw
	y2 AUTHENTICATE PLAIN
	y3 STARTTLS
	y4 COMPRESS DEFLATE
	!send y5 LOGIN {5}
	!wait y5
	!raw y6 LOGIN alice {7+}\r\nalicepw\r\n
	!wait y6
	y7 NOOP
	y8 LOGOUT
	EOF
	perl talk h.sock <script >out &&
	for t in y1 y2 y3 y4 y5 y6; do
		grep -q "^$t NO \[CLIENTBUG\] imap-hold: not on a lent connection$" out ||
		    return 1
	done &&
	grep -q "^y7 OK NOOP" out && grep -q "^y8 OK LOGOUT" out &&
	grep -q "^C: y7 NOOP" p.log && ! grep -q "^C: y[1-68] " p.log &&
	test "$(grep -c "^S: a[0-9]* OK .*Logged in" p.log)" = 1 &&
	! grep -q "alicepw" p.log h.err
'

test_expect_success 'a selected mailbox is UNSELECTed before the next borrower' '
	printf "a1 SELECT INBOX\na2 FETCH 1 (FLAGS)\na3 LOGOUT\n" | perl talk h.sock >out &&
	grep -q "^a1 OK \[READ-WRITE\]" out && grep -q "^a2 OK" out &&
	wait_line h.err "^S: H[0-9]* OK Unselect completed" &&
	grep -q "^C: H[0-9]* UNSELECT$" p.log &&
	! grep -q "^C: [^ ]* CLOSE" p.log &&
	printf "b1 FETCH 1 (FLAGS)\nb2 LOGOUT\n" | perl talk h.sock >out2 &&
	grep -q "^b1 BAD .*" out2 &&
	test "$(conns p)" = 1
'

test_expect_success 'ENABLE QRESYNC twice on one connection: the second answered here' '
	printf "a1 ENABLE QRESYNC\na2 LOGOUT\n" | perl talk h.sock >out1 &&
	grep -q "^\* ENABLED QRESYNC$" out1 &&
	printf "b1 ENABLE QRESYNC\nb2 LOGOUT\n" | perl talk h.sock >out2 &&
	grep -q "^\* ENABLED QRESYNC$" out2 && grep -q "^b1 OK" out2 &&
	test "$(grep -c "^C: [^ ]* ENABLE QRESYNC" p.log)" = 1 &&
	printf "c1 ENABLE CONDSTORE QRESYNC\nc2 LOGOUT\n" | perl talk h.sock >out3 &&
	grep "^\* ENABLED" out3 | tr " " "\n" | sort >enabled &&
	printf "*\nCONDSTORE\nENABLED\nQRESYNC\n" >want && test_cmp want enabled &&
	test "$(conns p)" = 1
'

test_expect_success 'IDLE and DONE pass, and the connection comes back' '
	cat >script <<-\EOF &&
	i1 EXAMINE INBOX
	!send i2 IDLE
	!sleep 0.3
	!send DONE
	!wait i2
	i3 LOGOUT
	EOF
	perl talk h.sock <script >out &&
	grep -q "^+ idling" out && grep -q "^i2 OK Idle completed" out &&
	grep -q "^i3 OK LOGOUT" out &&
	wait_line h.err "^S: H[0-9]* OK Unselect completed" &&
	tail -n 4 h.err | grep -q "returned by client" &&
	! grep -q "during IDLE" h.err &&
	test "$(conns p)" = 1
'

test_expect_success 'APPEND with literals and FETCH of bodies pass intact' '
	cat >script <<-EOF &&
	a0 CREATE Up
	!append a1 Up big.eml
	!append+ a2 Up big2.eml
	a3 EXAMINE Up
	a4 UID FETCH 1:* (BODY.PEEK[])
	a5 LOGOUT
	EOF
	rm -rf lit && mkdir lit &&
	perl talk --lit lit h.sock <script >out &&
	grep -q "^a1 OK \[APPENDUID" out && grep -q "^a2 OK \[APPENDUID" out &&
	test "$(ls lit | wc -l)" = 2 &&
	test "$(sha256sum <lit/1)" = "$(sha256sum <big.eml)" &&
	test "$(sha256sum <lit/2)" = "$(sha256sum <big2.eml)" &&
	test "$(conns p)" = 1
'

test_expect_success 'a sync through the broker: downloads and an upload agree' '
	mkdir -p mail &&
	sync_run -k "$HS" &&
	printf "From: c@example.org\nSubject: local\n\nwritten here\n" \
	    >"mail/INBOX/new/1700000000.local.host" &&
	sync_run -k "$HS" &&
	grep -q "^done	upload	" applied &&
	sides_agree && no_duplicates &&
	test "$(conns p)" = 1
'

test_expect_success 'two borrowers at once: two connections' '
	{ printf "a1 NOOP\n!sleep 1\na2 LOGOUT\n" | perl talk h.sock >slow.out & } && tp=$! &&
	wait_line slow.out "^a1 OK" &&
	imap-list -c rc -a A -k "$HS" >both &&
	wait "$tp" &&
	grep -q "^a2 OK LOGOUT" slow.out &&
	test "$(conns p)" = 2
'

test_expect_success '-n 1: a second borrower waits until the first logs out' '
	hold one -d -c rc -a A -n 1 &&
	{ printf "a1 NOOP\n!sleep 1\na2 LOGOUT\n" | perl talk one.sock >first.out & } && tp=$! &&
	wait_line first.out "^a1 OK" &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/one.sock" >second &&
	grep -q "^a2 OK LOGOUT" first.out &&
	wait "$tp" &&
	grep -q "^folder	" second &&
	test "$(grep -c "logged in$" one.err)" = 1 &&
	kill "$(cat one.feed)" && test "$(hold_status one)" = 0
'

test_expect_success 'a borrower killed in the middle of a FETCH: the connection is dropped' '
	printf "a1 EXAMINE Work\n!die a2 FETCH 1:* (BODY.PEEK[])\n" |
	    perl talk h.sock >die.out 2>&1
	grep -q "^\* 1 FETCH" die.out &&
	wait_line h.err "dropped: its borrower went away without LOGOUT" &&
	sed -n "/dropped: its borrower went away/,\$p" h.err >dropped &&
	grep -q "^C: H[0-9]* LOGOUT$" dropped
'

test_expect_success 'then, with a borrower on the other one, the next tool logs in afresh' '
	imap-list -c rc -a A -m >direct2 &&
	n=$(conns p) &&
	{ printf "a1 NOOP\n!sleep 0.5\na2 LOGOUT\n" | perl talk h.sock >one.out & } && tp=$! &&
	wait_line one.out "^a1 OK" &&
	imap-list -c rc -a A -m -k "$HS" >after &&
	wait "$tp" &&
	grep -q "^a2 OK LOGOUT" one.out &&
	test_cmp direct2 after &&
	test "$(conns p)" = $((n + 1))
'

test_expect_success 'the server drops the connection: the next borrower gets a fresh login' '
	n=$(conns p) &&
	for k in $(pgrep -P "$(cat p.ppid)"); do kill "$k"; done &&
	imap-list -c rc -a A -k "$HS" >after2 &&
	grep -q "^folder	" after2 &&
	test "$(conns p)" -gt "$n"
'

test_expect_success 'SIGTERM: every connection logged out, the socket removed, exit 0' '
	kill -TERM "$(cat h.pid)" &&
	test "$(hold_status h)" = 0 &&
	test ! -e h.sock &&
	grep -q "^C: H[0-9]* LOGOUT$" h.err &&
	grep -q "^S: H[0-9]* OK Logout completed" h.err
'

test_expect_success 'the end of stdin: the same' '
	hold e -d -c rc -a A &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/e.sock" >/dev/null &&
	kill "$(cat e.feed)" &&
	test "$(hold_status e)" = 0 &&
	test ! -e e.sock &&
	grep -q "^C: H[0-9]* LOGOUT$" e.err
'

test_expect_success 'TLS and COMPRESS=DEFLATE between broker and server: bytes intact' '
	hold z -d -c rc -a A -k Repository_R:ssl=yes \
	    -k "Repository_R:remoteport=$DC_TLS_PORT" \
	    -k "Repository_R:sslcacertfile=$DC_CA" \
	    -k Repository_R:usecompression=yes &&
	ZS="Repository R:holdsocket=$TEST_DIR/z.sock" &&
	imap-list -c rc -a A -m >direct3 &&
	imap-list -d -c rc -a A -m -k "$ZS" -k Repository_R:usecompression=yes \
	    >held3z 2>trace &&
	test_cmp direct3 held3z &&
	! grep -q "COMPRESS" trace &&
	grep -q "^C: a[0-9]* COMPRESS DEFLATE$" z.err &&
	cat >script <<-EOF &&
	!append+ z1 Up big2.eml
	z2 EXAMINE Up
	z3 UID FETCH 1:* (BODY.PEEK[])
	z4 LOGOUT
	EOF
	rm -rf litz && mkdir litz &&
	perl talk --lit litz z.sock <script >out &&
	test "$(ls litz | wc -l)" = 3 &&
	test "$(sha256sum <litz/1)" = "$(sha256sum <big.eml)" &&
	test "$(sha256sum <litz/3)" = "$(sha256sum <big2.eml)" &&
	test "$(grep -c "logged in$" z.err)" = 1
'

test_expect_success 'keepalive: a NOOP every second on a held connection, in the -d trace' '
	hold k -d -c rc -a A -k Repository_R:keepalive=1 &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/k.sock" >/dev/null &&
	! grep -q "^C: H[0-9]* NOOP$" k.err &&
	i=0 && while [ "$(grep -c "^S: H[0-9]* OK NOOP completed" k.err)" -lt 2 ] &&
	    [ $i -lt 40 ]; do
		sleep 0.1; i=$((i + 1))
	done &&
	test "$(grep -c "^S: H[0-9]* OK NOOP completed" k.err)" -ge 2 &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/k.sock" >/dev/null &&
	test "$(grep -c "connection [0-9]* logged in$" k.err)" = 1
'

proxy s || bail_out proxy
test_expect_success 'no answer to NOOP within socktimeout: the connection is dropped' '
	hold s -d -c rc.s -a A -k Repository_R:keepalive=1 -k general:socktimeout=1 &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/s.sock" >/dev/null &&
	kill -STOP $(pgrep -P "$(cat s.ppid)") &&
	wait_line s.err "dropped: no answer to NOOP" 40;
	st=$?
	kill -CONT $(pgrep -P "$(cat s.ppid)")
	test $st = 0
'

test_expect_success 'a wrong password: the borrower gets the reason and fails, the broker stays' '
	hold w -c rc -a A -k Repository_R:remotepass=wrong || exit 9
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/w.sock" >out 2>err
	s=$?; cat err
	grep -q "^imap-list: $TEST_DIR/w.sock: no connection lent: imap-hold: Repository R: could not log in to 127.0.0.1 as alice: " err &&
	grep -q "^imap-hold: Repository R: could not log in to 127.0.0.1 as alice" w.err &&
	test ! -e w.st && test -S w.sock && test $s = 1
'

test_expect_success '-l: the login at once, before any borrower; lent to the first' '
	proxy pl &&
	hold l -d -c rc.pl -a A -n 1 -l &&
	wait_line l.err "connection 1 logged in" &&
	test "$(conns pl)" = 1 &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/l.sock" >out &&
	grep -q "^folder	" out &&
	test "$(conns pl)" = 1 &&
	grep -q "connection 1 lent to client 1" l.err &&
	kill "$(cat l.feed)" && test "$(hold_status l)" = 0
'

test_expect_success '-l with a wrong password: the first borrower gets that failure, the next tries again' '
	proxy pw &&
	hold lw -c rc.pw -a A -n 1 -l -k Repository_R:remotepass=wrong || exit 9
	wait_line lw.err "could not log in" &&
	test "$(conns pw)" = 1 &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/lw.sock" >out 2>err
	s=$?; cat err
	grep -q "no connection lent: imap-hold: Repository R: could not log in to 127.0.0.1 as alice: " err &&
	test "$(conns pw)" = 1 && test $s = 1 &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/lw.sock" >out 2>err
	s=$?
	test "$(conns pw)" = 2 && test $s = 1 &&
	kill "$(cat lw.feed)" && test "$(hold_status lw)" = 0
'

test_expect_code 75 'a socket with no broker: exit 75, and a clear message' '
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/none.sock" 2>err
	s=$?; cat err
	grep -q "^imap-list: cannot connect to the imap-hold socket $TEST_DIR/none.sock: No such file or directory$" err &&
	exit $s
'

test_expect_success 'a live socket is not taken over; a stale one is replaced' '
	! imap-hold -c rc -a A -s "$TEST_DIR/w.sock" </dev/null >out 2>err21 &&
	grep -q "^imap-hold: Repository R: -s $TEST_DIR/w.sock: another imap-hold is listening there$" err21 &&
	kill -KILL "$(cat w.pid)" && hold_status w >/dev/null && test -S w.sock &&
	HOLD_SOCK=$TEST_DIR/w.sock hold w2 -c rc -a A &&
	imap-list -c rc -a A -k "Repository R:holdsocket=$TEST_DIR/w.sock" >out &&
	grep -q "^folder	" out
'

test_expect_success 'holdsocket given to imap-hold itself: refused' '
	imap-hold -c rc -a A -k "$HS" -s "$TEST_DIR/x.sock" </dev/null 2>err
	s=$?; cat err
	grep -q "^imap-hold: Repository R: holdsocket is set" err && test $s = 1
'

test_expect_success 'no -s: usage' '
	imap-hold -c rc -a A </dev/null 2>err
	s=$?; grep -q "^usage: imap-hold" err && test $s = 1
'

test_done
