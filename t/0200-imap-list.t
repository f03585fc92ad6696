#!/bin/sh
# imap-list against a private Dovecot: transports, trust, authentication,
# folder and message listings, incremental listings, hostile replies.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 5 || bail_out 'fill'
dovecot_fill alice "Work/Sub" 3 S || bail_out 'fill'
dovecot_fill alice "My Folder" 2 || bail_out 'fill'
dovecot_fill alice "Gäste" 1 || bail_out 'fill'
dovecot_fill alice "Tom & Jerry" 1 || bail_out 'fill'
dovecot_fill alice Big 20000 || bail_out 'fill Big'

dc_rc rc </dev/null || bail_out rc
grep -v "^remotepass" rc >rc.nopass

TLS="-k Repository_R:ssl=yes -k Repository_R:remoteport=$DC_TLS_PORT"
STARTTLS="-k Repository_R:starttls=yes"
CA="-k Repository_R:sslcacertfile=$DC_CA"
export TLS STARTTLS CA

test_expect_success 'plain: the folder list matches doveadm, in modified UTF-7' '
	imap-list -c rc -a A >out &&
	head -n 1 out >hdr && echo "#format imap-folders 1.0" >want &&
	test_cmp want hdr &&
	grep "^folder" out | cut -f8 | sort >names &&
	dc_adm mailbox list -u alice -8 2>/dev/null | sort >dove ||
	dc_adm mailbox list -u alice | sort >dove
	printf "Big\nG&AOQ-ste\nINBOX\nMy Folder\nTom &- Jerry\nWork\nWork/Sub\n" >want &&
	test_cmp want names
'

test_expect_success 'folder status comes with the list' '
	grep "^folder	/		5	6	[0-9]*	[0-9]*	INBOX	INBOX$" out &&
	grep "^folder	/	\\\\Noselect	0	0	0	0	Work	Work$" out
'

test_expect_success 'utf8foldernames decodes the names' '
	imap-list -c rc -a A -k Account_A:utf8foldernames=yes >out &&
	grep "	G&AOQ-ste	Gäste$" out &&
	grep "	Tom &- Jerry	Tom & Jerry$" out
'

test_expect_success 'messages of folders given by name, with flags and size' '
	imap-list -c rc -a A INBOX "Work/Sub" >out &&
	test "$(grep -c "^msg	" out)" = 8 &&
	grep "^end	5	INBOX$" out &&
	grep "^end	3	Work/Sub$" out &&
	test "$(grep -c "^msg	[0-9]*	\\\\Seen	" out)" = 3
'

test_expect_success '-D: the same listing without INTERNALDATE (date 0)' '
	imap-list -c rc -a A INBOX >with &&
	imap-list -D -d -c rc -a A INBOX >without 2>trace &&
	! grep "^msg	[^	]*	[^	]*	[^	]*	0	" with &&
	test "$(grep -c "^msg	[^	]*	[^	]*	[^	]*	0	" without)" = 5 &&
	cut -f1-4,6 with >a && cut -f1-4,6 without >b && test_cmp a b &&
	grep "UID FETCH" trace >fetches &&
	! grep INTERNALDATE fetches
'

test_expect_success 'a UTF-8 folder operand with utf8foldernames' '
	imap-list -c rc -a A -k Account_A:utf8foldernames=yes Gäste >out &&
	grep "^mailbox	[0-9]*	2	[0-9]*	1	full	/	Gäste$" out &&
	grep "^end	1	Gäste$" out
'

test_expect_success 'a 20,000-message folder matches doveadm uid by uid' '
	dc_adm flags add -u alice "\\Flagged" mailbox Big uid 100:199 &&
	dc_adm flags add -u alice "\\Seen" mailbox Big uid 150:5000 &&
	imap-list -c rc -a A Big >big &&
	grep "^msg" big | cut -f2,3 >ours &&
	dc_adm fetch -u alice "uid flags" mailbox Big >dove &&
	perl -ne "if (/^uid: (\\d+)/) { \$u = \$1 } elsif (/^flags: ?(.*)/) { \$f = join q( ), grep { \$_ ne q(\\\\Recent) } split q( ), \$1; print qq(\$u\\t\$f\\n) }" dove >theirs &&
	test "$(wc -l <ours)" = 20000 &&
	test_cmp theirs ours &&
	grep "^end	20000	Big$" big
'

test_expect_success 'implicit TLS verified with sslcacertfile' '
	imap-list -c rc -a A $TLS $CA >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'implicit TLS against the system CA store is refused' '
	imap-list -c rc -a A $TLS 2>err
	s=$?; cat err; grep -q "TLS handshake with 127.0.0.1 failed" err && test $s = 1
'

test_expect_success 'a different CA is refused, with libtls saying why' '
	dc_make_ca other &&
	imap-list -c rc -a A $TLS -k Repository_R:sslcacertfile=other/ca.pem 2>err
	s=$?; cat err; grep -q "TLS handshake with 127.0.0.1 failed: .*verif" err && test $s = 1
'

fp=$(openssl x509 -noout -fingerprint -sha256 -in "$DC_CERT" | sed "s/.*=//")
export fp
test_expect_success 'a pinned fingerprint alone is trusted (colons allowed)' '
	imap-list -c rc -a A $TLS -k "Repository_R:cert_fingerprint=00ff, $fp" >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'a wrong fingerprint is refused, naming the one seen' '
	imap-list -c rc -a A $TLS -k Repository_R:cert_fingerprint=0123456789abcdef0123456789abcdef01234567 2>err
	s=$?; cat err
	want=$(echo "$fp" | tr -d : | tr A-F a-f)
	grep -q "does not match cert_fingerprint: its SHA-256 fingerprint is $want" err && test $s = 1
'

test_expect_success 'STARTTLS upgrades before credentials are sent' '
	imap-list -d -c rc -a A $STARTTLS $CA >out 2>trace &&
	grep -q "	INBOX$" out &&
	sed -n "/STARTTLS\$/,\$p" trace | grep -q "^C: a[0-9]* AUTHENTICATE" &&
	! sed -n "1,/C: a[0-9]* STARTTLS\$/p" trace | grep -q "^C: .*\(AUTHENTICATE\|LOGIN \)"
'

test_expect_success 'ssl_version picks the TLS version' '
	imap-list -c rc -a A $TLS $CA -k Repository_R:ssl_version=tls1_2 >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'ssl_version = ssl3 is refused before connecting' '
	imap-list -c rc -a A $TLS $CA -k Repository_R:ssl_version=ssl3 2>err
	s=$?; grep -q "ssl_version: \"ssl3\" is not supported" err && test $s = 1
'

test_expect_success 'sslcacertfile = OS-DEFAULT means the system store' '
	imap-list -c rc -a A $TLS -k Repository_R:sslcacertfile=OS-DEFAULT 2>err
	s=$?; grep -q "TLS handshake with 127.0.0.1 failed" err && test $s = 1
'

test_expect_success 'a missing sslcacertfile is named' '
	imap-list -c rc -a A $TLS -k Repository_R:sslcacertfile=/nonexistent/ca.pem 2>err
	s=$?; grep -q "sslcacertfile /nonexistent/ca.pem: No such file" err && test $s = 1
'

test_expect_success 'sslverify = no is an explicit opt-out' '
	imap-list -c rc -a A $TLS -k Repository_R:sslverify=no >out &&
	grep -q "	INBOX$" out
'

# a second server, given a certificate (from its own CA) for another name
dovecot_start --name wrongname || bail_out 'second dovecot'
wdir=$DC_DIR/tls
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=wrong.example -keyout "$wdir/wrong.key" -out "$wdir/wrong.csr" \
    >/dev/null 2>&1 &&
printf "subjectAltName = DNS:wrong.example\n" >"$wdir/wrong.ext" &&
openssl x509 -req -in "$wdir/wrong.csr" -CA "$wdir/ca.pem" -CAkey "$wdir/ca.key" \
    -CAcreateserial -CAserial "$wdir/wrong.srl" -days 2 -extfile "$wdir/wrong.ext" \
    -out "$wdir/wrong.pem" >/dev/null 2>&1 &&
cp "$wdir/wrong.pem" "$wdir/server.pem" && cp "$wdir/wrong.key" "$wdir/server.key" &&
dc_adm reload || bail_out 'cannot give the second server its certificate'
ca=$DC_CA
wrongport=$DC_TLS_PORT
dc_use dovecot
export ca wrongport

test_expect_success 'a certificate for another host name is refused' '
	imap-list -c rc -a A -k Repository_R:ssl=yes -k Repository_R:remoteport=$wrongport \
	    -k Repository_R:sslcacertfile=$ca 2>err
	s=$?; cat err; grep -q "TLS handshake with 127.0.0.1 failed: .*name" err && test $s = 1
'

test_expect_success 'a wrong password exits 1 and says so' '
	imap-list -c rc -a A -k Repository_R:remotepass=nope 2>err
	s=$?; cat err; grep -q "could not log in to 127.0.0.1 as alice: CRAM-MD5: \[AUTHENTICATIONFAILED\]" err && test $s = 1
'

test_expect_code 75 'a refused connection exits 75' '
	port=$(perl -MIO::Socket::INET -e "print IO::Socket::INET->new(Listen=>1,LocalAddr=>q(127.0.0.1))->sockport") &&
	imap-list -c rc -a A -k Repository_R:remoteport=$port 2>err
	s=$?; cat err; grep -q "connection refused" err && exit $s
'

test_expect_code 75 'socktimeout: a server that never answers exits 75' '
	perl -MIO::Socket::INET -e "
		my \$l = IO::Socket::INET->new(Listen => 1, LocalAddr => q(127.0.0.1)) or die;
		open my \$f, q(>), q(silent.port) or die; print \$f \$l->sockport; close \$f;
		my \$c = \$l->accept; sleep 8;" &
	while [ ! -s silent.port ]; do sleep 0.1; done &&
	imap-list -c rc -a A -k socktimeout=1 -k Repository_R:remoteport=$(cat silent.port) 2>err
	s=$?; cat err; grep -q "no answer for 1 seconds (socktimeout)" err && exit $s
'

for mech in CRAM-MD5 PLAIN LOGIN; do
	test_expect_success "authentication with $mech, password kept out of the trace" "
		imap-list -d -c rc -a A -k Repository_R:auth_mechanisms=$mech >out 2>trace &&
		grep -q '	INBOX\$' out &&
		case $mech in
		LOGIN) grep -q '^C: a1 LOGIN alice \*\*\*\*\$' trace ;;
		*) grep -q '^C: a1 AUTHENTICATE $mech' trace ;;
		esac &&
		! grep -q alicepw trace
	"
done

test_expect_success 'an unknown mechanism is named' '
	imap-list -c rc -a A -k Repository_R:auth_mechanisms=NTLM 2>err
	s=$?; grep -q "unknown authentication mechanism \"NTLM\"" err && test $s = 1
'

test_expect_success 'GSSAPI alone is reported as not asked-for-and-offered' '
	imap-list -c rc -a A -k Repository_R:auth_mechanisms=GSSAPI 2>err
	s=$?; cat err; grep -q "offers none of the authentication mechanisms asked for (GSSAPI)" err && test $s = 1
'

test_expect_success 'password from remotepasscmd' '
	imap-list -c rc.nopass -a A -k "Repository_R:remotepasscmd=echo alicepw; echo junk" >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'password from remotepassfile (first line, stripped)' '
	printf "alicepw  \nsecond line\n" >pwfile &&
	imap-list -c rc.nopass -a A -k "Repository_R:remotepassfile=$TEST_DIR/pwfile" >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'password from ~/.netrc' '
	printf "machine other.example login x password y\nmachine 127.0.0.1 login alice password alicepw\n" >"$HOME/.netrc" &&
	imap-list -c rc.nopass -a A >out &&
	grep -q "	INBOX$" out &&
	rm "$HOME/.netrc"
'

if command -v python3 >/dev/null 2>&1; then
	test_expect_success 'password from remotepasseval with pythonfile' '
		printf "def getpw(u):\n    return {\"alice\": \"alicepw\"}[u]\n" >helpers.py &&
		imap-list -c rc.nopass -a A -k "pythonfile=$TEST_DIR/helpers.py" \
		    -k "Repository_R:remotepasseval=getpw(\"alice\")" >out &&
		grep -q "	INBOX$" out
	'
fi

test_expect_success 'remotepasseval without python3 names the native option' '
	mkdir nopy && ln -s "$(command -v sh)" nopy/sh &&
	PATH=$TEST_DIR/nopy "$OI_BUILD/bin/imap-list" -c rc.nopass -a A \
	    -k "Repository_R:remotepasseval=\"x\"" 2>err
	s=$?; cat err; grep -q "python3 is not installed; use remotepass instead" err && test $s = 1
'

test_expect_success 'no password and no terminal: a clear message' '
	setsid imap-list -c rc.nopass -a A 2>err </dev/null
	s=$?; cat err; grep -q "no password for alice@127.0.0.1" err && test $s = 1
'

test_expect_success 'a preauthenticated tunnel to the imap binary' '
	cat rc >rc.tunnel &&
	echo "preauthtunnel = /usr/lib/dovecot/imap -c $DC_CONF -u alice" >>rc.tunnel &&
	imap-list -c rc.tunnel -a A >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'a transport tunnel (openssl s_client), then a login' '
	cat rc >rc.tt &&
	echo "transporttunnel = openssl s_client -quiet -verify_quiet -connect 127.0.0.1:$DC_TLS_PORT -CAfile $DC_CA 2>/dev/null" >>rc.tt &&
	imap-list -c rc.tt -a A >out &&
	grep -q "	INBOX$" out
'

test_expect_success 'incremental: an untouched account costs one round trip' '
	imap-list -c rc -a A -m >state &&
	imap-list -d -c rc -a A -C state >out 2>trace &&
	sed -n "/^S: a1 OK/,\$p" trace | grep "^C:" | sed "s/^C: a[0-9]* //; s/ .*//" >cmds &&
	printf "ENABLE\nLIST\nLOGOUT\n" >want &&
	test_cmp want cmds &&
	test "$(grep -c "	unchanged	" out)" = 6 &&
	! grep -q "^msg" out
'

test_expect_success 'incremental: exactly the changed messages and the vanished ones' '
	dc_adm flags add -u alice "\\Answered" mailbox INBOX uid 2 &&
	dc_adm flags add -u alice "\\Seen" mailbox Big uid 7 &&
	dc_adm expunge -u alice mailbox INBOX uid 5 &&
	dovecot_fill alice INBOX 1 &&
	imap-list -c rc -a A -C state >out &&
	grep "^mailbox" out | cut -f6,8 | sort >modes &&
	printf "changed\tBig\nchanged\tINBOX\nunchanged\tG&AOQ-ste\nunchanged\tMy Folder\nunchanged\tTom &- Jerry\nunchanged\tWork/Sub\n" >want &&
	test_cmp want modes &&
	grep "^msg" out | cut -f2,3 | sort >msgs &&
	printf "2\t\\\\Answered\n6\t\n7\t\\\\Seen\n" >want &&
	test_cmp want msgs &&
	grep -q "^vanished	5$" out
'

test_expect_success 'incremental: a renumbered folder is listed whole, the others stay right' '
	imap-list -c rc -a A -m >state2 &&
	dc_adm mailbox delete -u alice "Tom & Jerry" &&
	dc_adm mailbox create -u alice "Tom & Jerry" &&
	dovecot_fill alice "Tom & Jerry" 2 >/dev/null &&
	dc_adm flags add -u alice "\\Flagged" mailbox Work/Sub uid 1 &&
	imap-list -c rc -a A -C state2 >out &&
	imap-list -c rc -a A -m >full &&
	grep "^mailbox.*	full	/	Tom &- Jerry$" out &&
	grep "^mailbox.*	changed	/	Work/Sub$" out &&
	sed -n "/	Tom &- Jerry$/,/^end/p" out >a &&
	sed -n "/	Tom &- Jerry$/,/^end/p" full >b &&
	test_cmp b a &&
	awk -F "\t" "\$1 == \"mailbox\" { n = 0 } \$1 == \"msg\" { n++ } \$1 == \"end\" && n != \$2 { bad = 1 } END { exit bad }" out &&
	test "$(grep -c "^msg" out)" = 3
'

test_expect_success '-S and -L list a window (server-side SEARCH)' '
	imap-list -c rc -a A -S 2000-01-01 -L 700 INBOX >out &&
	grep "^mailbox" out | cut -f6 >mode && echo window >want && test_cmp want mode &&
	grep -q "^msg" out &&
	awk -F"\t" "\$1 == \"msg\" && \$4 >= 700 { bad = 1 } END { exit bad }" out &&
	imap-list -c rc -a A -S 2999-01-01 INBOX >out &&
	grep -q "^end	0	INBOX$" out
'

test_expect_success 'usecompression: COMPRESS=DEFLATE where the server offers it' '
	dovecot_start --name zlib --conf "protocol imap {" \
	    --conf "  mail_plugins = \$mail_plugins imap_zlib" --conf "}" &&
	dovecot_fill alice INBOX 300 &&
	imap-list -d -c rc -a A -k Repository_R:remoteport=$DC_PORT \
	    -k Repository_R:usecompression=yes INBOX >out 2>trace &&
	grep -q "^C: a[0-9]* COMPRESS DEFLATE$" trace &&
	grep -q "^end	300	INBOX$" out &&
	imap-list -d -c rc -a A -k Repository_R:remoteport=$DC_PORT INBOX >out 2>trace &&
	! grep -q "COMPRESS DEFLATE" trace
'

# hostile and unusual servers, through the fault-injecting proxy
proxy() {
	n=$1; shift
	perl "$T/imap-proxy" --listen-port-file "$TEST_DIR/p$n.port" \
	    --pid-file "$TEST_DIR/p$n.pid" --upstream "127.0.0.1:$DC_PORT" \
	    --max-time 60 --log "$TEST_DIR/p$n.log" "$@"
}
via() {
	echo "-k Repository_R:remoteport=$(cat "$TEST_DIR/p$1.port")"
}
test_cleanup 'for p in "$TEST_DIR"/p*.pid; do kill "$(cat "$p")"; done'

test_expect_success 'without CONDSTORE, QRESYNC and LIST-STATUS: pipelined STATUS' '
	proxy 1 --drop-cap CONDSTORE --drop-cap QRESYNC --drop-cap LIST-STATUS &&
	imap-list -c rc -a A $(via 1) >out &&
	grep "^folder	/	[^	]*	5	7	[0-9]*	0	INBOX	INBOX$" out &&
	test "$(grep -c "^C: a[0-9]* STATUS" p1.log)" = 6 &&
	imap-list -c rc -a A $(via 1) -C state INBOX >out &&
	grep "^mailbox	[0-9]*	7	0	5	full	/	INBOX$" out &&
	grep "^msg	1		[0-9]*	[0-9]*	0$" out
'

test_expect_code 75 'a BYE in the middle of a listing exits 75, without an end record' '
	proxy 2 --bye-after "^UID FETCH=100" &&
	imap-list -c rc -a A $(via 2) Big >out 2>err
	s=$?; cat err
	n=$(grep -c "^msg" out) && test "$n" -gt 0 && test "$n" -le 100 &&
	! grep -q "^end" out &&
	grep -q "server closed the connection" err && exit $s
'

test_expect_success 'a NO to EXAMINE is an error record, and the rest goes on' '
	proxy 3 --reply "^EXAMINE INBOX=NO [NONEXISTENT] no such mailbox" &&
	imap-list -c rc -a A $(via 3) INBOX "My Folder" >out 2>err
	s=$?; cat out
	grep "^error	\[NONEXISTENT\] no such mailbox	INBOX$" out &&
	grep -q "^end	2	My Folder$" out && test $s = 1
'

test_expect_success 'garbage from the server is an error showing the bytes' '
	proxy 4 --garbage "^UID FETCH" &&
	imap-list -c rc -a A $(via 4) INBOX >out 2>err
	s=$?; cat err; grep -q "malformed" err && test $s = 1
'

test_expect_code 75 'a connection cut in the middle of a listing exits 75' '
	proxy 5 --close-after "^UID FETCH=500" &&
	imap-list -c rc -a A $(via 5) Big >out 2>err
	s=$?; cat err; ! grep -q "^end" out && exit $s
'

test_done
