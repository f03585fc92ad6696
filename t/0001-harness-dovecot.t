#!/bin/sh
# The test harness itself: a private Dovecot per test (t/lib-dovecot.sh),
# t/imap-talk, certificates, users, folders and fast message filling.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

# listeners PORT: the local addresses (hex, as in /proc/net/tcp*) listening
# on TCP port PORT, one per line.
listeners() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p {
		sub(/:[0-9A-F]+$/, "", $2); print $2 }'
}

# imap_ok FILE TAG: FILE has "TAG OK".
imap_ok() {
	grep -q "^$2 OK" "$1" || { echo "no '$2 OK' in:"; cat "$1"; return 1; }
}

# tls_login CA NAME-CHECK...: LOGIN/LOGOUT through openssl s_client on the
# TLS port, certificate checked against CA; output in tls.out.  The commands
# are pipelined: -quiet implies -ign_eof, so s_client keeps reading until
# Dovecot closes the connection after LOGOUT.
tls_login() {
	tls_ca=$1
	shift
	printf 'a LOGIN alice alicepw\r\nb LOGOUT\r\n' |
		timeout 10 openssl s_client -connect "$DC_HOST:$DC_TLS_PORT" \
			-CAfile "$tls_ca" -verify_return_error -quiet "$@" >tls.out 2>&1
}

# The start runs inside a test (a subshell): dc_use picks the instance up.
test_expect_success 'dovecot_start starts a private dovecot' '
	dovecot_start --user carol:carolpw --user bob:newbobpw &&
	test -n "$DC_PID" && test -f "$DC_CONF" && test -f "$DC_CA" &&
	test "$DC_DIR" = "$TEST_DIR/dovecot"
'
dc_use || bail_out 'dovecot_start did not leave an instance behind'

test_expect_success 'both ports greet' '
	dc_talk </dev/null >plain.out &&
	grep "^\* OK .*Dovecot" plain.out &&
	grep "STARTTLS" plain.out &&
	dc_talk --tls </dev/null >tls.out &&
	grep "^\* OK .*Dovecot" tls.out
'

test_expect_success 'listens on 127.0.0.1 only' '
	test "$DC_HOST" = 127.0.0.1 &&
	test "$(listeners "$DC_PORT")" = 0100007F &&
	test "$(listeners "$DC_TLS_PORT")" = 0100007F
'

test_expect_success 'runs from its own directory, as the mail uid when root' '
	kill -0 "$DC_PID" &&
	ps -o args= -p "$DC_PID" | grep -F "$DC_DIR/dovecot.conf" &&
	test -n "$(dc_procs)" &&
	test -S "$DC_BASE/auth-userdb" &&
	test "$(stat -c %u "$DC_DIR/mail/alice")" = "$DC_MAIL_UID" &&
	if [ "$(id -u)" = 0 ]; then test "$DC_MAIL_UID" = 20143; fi
'

test_expect_success 'LOGIN over the plain port; a wrong password gets NO' '
	printf "%s\n" "a LOGIN alice alicepw" "b LOGOUT" | dc_talk >ok.out &&
	imap_ok ok.out a && imap_ok ok.out b &&
	printf "%s\n" "a LOGIN alice wrong" "b LOGOUT" | dc_talk >no.out &&
	grep "^a NO " no.out && ! grep "^a OK" no.out
'

test_expect_success '--user adds users and changes passwords' '
	printf "%s\n" "a LOGIN carol carolpw" | dc_talk >ok.out &&
	imap_ok ok.out a &&
	printf "%s\n" "a LOGIN bob newbobpw" | dc_talk >ok.out &&
	imap_ok ok.out a &&
	printf "%s\n" "a LOGIN bob bobpw" | dc_talk >no.out &&
	grep "^a NO " no.out &&
	test "$(dc_password bob)" = newbobpw
'

test_expect_success 'AUTHENTICATE PLAIN through a continuation' '
	printf "%s\n" "a AUTHENTICATE PLAIN" "$(printf "\0alice\0alicepw" | base64)" \
		"b LOGOUT" | dc_talk >auth.out &&
	grep "^+" auth.out && imap_ok auth.out a
'

test_expect_success 'imap-talk: exit status 1 when nothing listens, 2 on an early close' '
	dc_make_ca other-ca "some other CA" &&
	test_code() { tc_want=$1; shift; "$@"; tc_got=$?; test "$tc_got" = "$tc_want" ||
		{ echo "exit $tc_got, wanted $tc_want: $*"; return 1; }; } &&
	test_code 1 perl "$T/imap-talk" --timeout 3 127.0.0.1 1 </dev/null &&
	printf "%s\n" "a LOGOUT" "b NOOP" | test_code 2 dc_talk &&
	test_code 1 dc_talk --tls --ca other-ca/ca.pem </dev/null
'

test_expect_success 'TLS: the certificate verifies against DC_CA for 127.0.0.1' '
	tls_login "$DC_CA" -verify_ip 127.0.0.1 &&
	grep "^\* OK" tls.out && grep "^a OK" tls.out && grep "^b OK" tls.out
'

test_expect_success 'TLS: ... and for the name localhost' '
	tls_login "$DC_CA" -verify_hostname localhost -servername localhost &&
	grep "^a OK" tls.out
'

test_expect_success 'TLS: LOGIN through imap-talk --tls' '
	printf "%s\n" "a LOGIN alice alicepw" "b LOGOUT" | dc_talk --tls >ok.out &&
	imap_ok ok.out a
'

test_expect_success 'TLS: another CA or another name does not verify' '
	dc_make_ca other-ca "some other CA" &&
	! tls_login other-ca/ca.pem -verify_ip 127.0.0.1 &&
	grep -i "verify" tls.out && ! grep "^\* OK" tls.out &&
	! tls_login "$DC_CA" -verify_hostname wrong.example &&
	! grep "^\* OK" tls.out
'

test_expect_success 'fill INBOX, a nested folder, a space and non-ASCII names' '
	dovecot_fill alice INBOX 5 &&
	dovecot_fill alice Work/Sub 3 S &&
	dovecot_mkfolder alice "My Folder" &&
	dovecot_fill alice "My Folder" 2 &&
	dovecot_fill alice "Gäste" 4 FS &&
	dovecot_mkfolder alice "日本" &&
	test "$(dovecot_count alice INBOX)" = 5 &&
	test "$(dovecot_count alice Work/Sub)" = 3 &&
	test "$(dovecot_count alice "My Folder")" = 2 &&
	test "$(dovecot_count alice "Gäste")" = 4 &&
	test "$(dovecot_count alice "日本")" = 0 &&
	test "$(dovecot_count bob INBOX)" = 0
'

test_expect_success 'on disk: LAYOUT=fs, modified UTF-7 names, flags in cur/' '
	m=$DC_DIR/mail/alice &&
	test "$(ls "$m/INBOX/new" | wc -l)" = 5 &&
	test "$(ls "$m/Work/Sub/cur" | grep -c ":2,S\$")" = 3 &&
	test "$(ls "$m/G&AOQ-ste/cur" | grep -c ":2,FS\$")" = 4 &&
	test -d "$m/&ZeVnLA-/cur" && test -d "$m/My Folder/cur" &&
	test "$(find "$m" ! -user "$DC_MAIL_UID" | wc -l)" = 0
'

test_expect_success 'IMAP sees the same folders and counts' '
	printf "%s\n" "a LOGIN alice alicepw" "b LIST \"\" \"*\"" \
		"c STATUS INBOX (MESSAGES)" "d STATUS Work/Sub (MESSAGES)" \
		"e STATUS \"My Folder\" (MESSAGES)" "f STATUS G&AOQ-ste (MESSAGES)" \
		"g STATUS &ZeVnLA- (MESSAGES)" "h LOGOUT" | dc_talk >list.out &&
	imap_ok list.out b && imap_ok list.out h &&
	grep "^\* LIST .* \"/\" INBOX\$" list.out &&
	grep "^\* LIST .* \"/\" Work/Sub\$" list.out &&
	grep "^\* LIST .* \"/\" \"My Folder\"\$" list.out &&
	grep "^\* LIST .* \"/\" G&AOQ-ste\$" list.out &&
	grep "^\* LIST .* \"/\" &ZeVnLA-\$" list.out &&
	grep "^\* STATUS INBOX (MESSAGES 5)" list.out &&
	grep "^\* STATUS Work/Sub (MESSAGES 3)" list.out &&
	grep "^\* STATUS \"My Folder\" (MESSAGES 2)" list.out &&
	grep "^\* STATUS G&AOQ-ste (MESSAGES 4)" list.out &&
	grep "^\* STATUS &ZeVnLA- (MESSAGES 0)" list.out
'

test_expect_success 'messages are distinct, flags are as filled' '
	printf "%s\n" "a LOGIN alice alicepw" "b SELECT INBOX" \
		"c FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])" \
		"d SELECT Work/Sub" "e FETCH 1:* (FLAGS)" "f LOGOUT" | dc_talk >fetch.out &&
	imap_ok fetch.out c && imap_ok fetch.out e &&
	test "$(grep -i "^Message-ID: <" fetch.out | sort -u | wc -l)" = 5 &&
	test "$(grep -c "^\* [0-9]* FETCH (FLAGS (\\\\Recent) BODY" fetch.out)" = 5 &&
	test "$(grep -c "^\* [0-9]* FETCH (FLAGS (\\\\Seen \\\\Recent))" fetch.out)" = 3
'

test_expect_success 'Date header and INTERNALDATE agree' '
	printf "%s\n" "a LOGIN alice alicepw" "b EXAMINE Work/Sub" \
		"c FETCH 1:* (INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE)])" "d LOGOUT" |
		dc_talk >date.out &&
	imap_ok date.out c &&
	awk "
		/INTERNALDATE/ { sub(/.*INTERNALDATE \"/, \"\"); sub(/\".*/, \"\"); gsub(/-/, \" \");
			sub(/^[ 0]/, \"\"); idate = \$0 }
		/^Date: / { sub(/^Date: [A-Z][a-z][a-z], /, \"\"); sub(/^0/, \"\");
			n++; if (\$0 != idate) { print \"Date \" \$0 \" != INTERNALDATE \" idate; bad = 1 } }
		END { exit bad || n != 3 }" date.out
'

test_expect_success 'a fill of 1000 messages' '
	dovecot_fill alice Big 1000 &&
	test "$(dovecot_count alice Big)" = 1000 &&
	dovecot_fill alice Big 10 S &&
	test "$(dovecot_count alice Big)" = 1010
'

test_expect_success 'a second instance (--sep .) runs at the same time' '
	first_port=$DC_PORT first_pid=$DC_PID &&
	dovecot_start --name dot --sep . &&
	test "$DC_DIR" = "$TEST_DIR/dot" && test "$DC_SEP" = . &&
	test "$DC_PORT" != "$first_port" && test "$DC_PID" != "$first_pid" &&
	kill -0 "$first_pid" && kill -0 "$DC_PID"
'
dc_use dot || bail_out 'no second instance'

test_expect_success 'Maildir++ instance: 1000 messages, nested folders with "."' '
	dovecot_fill alice INBOX 1000 &&
	dovecot_fill alice Work.Sub 3 S &&
	dovecot_fill alice "Gäste" 2 &&
	test "$(dovecot_count alice INBOX)" = 1000 &&
	test "$(dovecot_count alice Work.Sub)" = 3 &&
	m=$DC_DIR/mail/alice &&
	test "$(ls "$m/new" | wc -l)" = 1000 &&
	test "$(ls "$m/.Work.Sub/cur" | wc -l)" = 3 &&
	test -d "$m/.G&AOQ-ste/cur" &&
	printf "%s\n" "a LOGIN alice alicepw" "b LIST \"\" \"*\"" \
		"c STATUS INBOX (MESSAGES)" "d STATUS Work.Sub (MESSAGES)" "e LOGOUT" |
		dc_talk >list.out &&
	grep "^\* LIST .* \"\\.\" Work\\.Sub\$" list.out &&
	grep "^\* LIST .* \"\\.\" G&AOQ-ste\$" list.out &&
	grep "^\* STATUS INBOX (MESSAGES 1000)" list.out &&
	grep "^\* STATUS Work\\.Sub (MESSAGES 3)" list.out
'

test_expect_success 'both instances answer, their mail is separate' '
	(dc_use dovecot && test "$(dovecot_count alice INBOX)" = 5 &&
	 printf "a LOGIN alice alicepw\n" | dc_talk | grep "^a OK") &&
	test "$(dovecot_count alice INBOX)" = 1000
'

test_done
