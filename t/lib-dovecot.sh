# t/lib-dovecot.sh - a private, throwaway Dovecot for one test script.
# Sourced after test-lib.sh:
#
#	. "$(dirname "$0")/test-lib.sh"
#	. "$T/lib-dovecot.sh"
#	dovecot_start || bail_out 'cannot start dovecot'
#	dovecot_fill alice INBOX 10
#	test_expect_success '...' 'oi-something --port "$DC_PORT" ...'
#
# Each instance is a real Dovecot with its own config, base_dir, state_dir,
# log and pid under "$TEST_DIR/NAME" (NAME is "dovecot" unless --name says
# otherwise), listening on 127.0.0.1 only, on random free ports.
#
#   dovecot_start [--name NAME] [--sep /|.] [--user USER:PASS]... [--conf LINE]...
#	Start an instance and make it the current one.  Users alice:alicepw and
#	bob:bobpw always exist; --user adds a user or changes a password.  --sep /
#	(default): Maildir with LAYOUT=fs, '/' hierarchy separator ("Work/Sub" is
#	the directory Work/Sub); --sep .: Maildir++ (".Work.Sub"), '.' separator.
#	--conf appends a line to dovecot.conf (e.g. 'imap_capability = IMAP4rev1').
#	Mail of USER is under "$DC_DIR/mail/USER".  Auth: plain, login, cram-md5,
#	plaintext LOGIN allowed without TLS; STARTTLS is offered on the plain port.
#	Tuned for tests: a failed login gets its NO within 0.5 s and no growing
#	penalty, mail_fsync = never.
#	Exports DC_HOST (127.0.0.1) DC_PORT (plain IMAP) DC_TLS_PORT (implicit
#	TLS) DC_CA (PEM of the throwaway CA that signed the server certificate)
#	DC_CERT DC_KEY DC_CONF DC_PID (master) DC_DIR DC_NAME DC_SEP DC_LOG
#	DC_USERDB DC_INSTANCE DC_BASE (base_dir) DC_MAIL_UID DC_MAIL_GID.
#	Returns non-zero (with the logs on stderr) if the server does not greet
#	within about 10 s.
#   dovecot_stop [NAME]
#	Stop the current (or the named) instance by its own master pid: TERM,
#	then KILL (at once when only the log process is left: the master would
#	just sleep a second; after 5 s otherwise); then any process left of it
#	(command line naming its dir, or title "dovecot-$DC_INSTANCE/...") gets
#	TERM, then KILL.  Non-zero if a process survives.  Takes ~0.2 s.
#   dc_use [NAME]
#	Make instance NAME (default "dovecot") current: sets the DC_* variables.
#   dovecot_mkfolder USER FOLDER...       create mailboxes (UTF-8 names, nested
#	with the instance's separator: "Work/Sub" or "Work.Sub")
#   dovecot_fill USER FOLDER N [FLAGS]     add N distinct small messages, written
#	straight into the Maildir (new/, or cur/ with ":2,FLAGS" - FLAGS made of
#	D F P R S T); creates FOLDER if needed; checks Dovecot sees them.
#	Messages: text/plain, LF line ends, "Subject: ... #I", a Message-ID
#	unique to the fill and I, Dates 10 minutes apart ending now (the file
#	mtime too, so INTERNALDATE matches).  1000 take about half a second.
#   dovecot_count USER FOLDER              print the number of messages
#   dc_adm ARGS...                         doveadm on the current instance
#   dc_talk [--tls] [imap-talk options]    t/imap-talk to the current instance
#	(--tls: the implicit-TLS port, certificate verified against $DC_CA)
#   dc_password USER                       print USER's password
#   dc_rc FILE                             an OfflineIMAP configuration: account
#	A, alice on this instance over plain IMAP (R), a Maildir under
#	$TEST_DIR/mail (L), metadata $TEST_DIR/meta; lines on stdin (if any)
#	are added to [Repository R]
#   dc_procs [NAME]                        pids of the instance's processes
#   dc_port_open PORT                      true if 127.0.0.1:PORT accepts
#   dc_make_ca DIR [CN]                    a fresh CA: DIR/ca.pem, DIR/ca.key
#
# Ports are picked at random in 10000..(start of the ephemeral range - 1),
# or in $DC_PORT_RANGE ("LO-HI"), skipping those /proc/net/tcp* shows in use;
# when another test binds one first ("Address already in use"), other ports
# are tried (20 times).
#
# A watchdog process per instance (detached: `wait` does not see it) stops it
# even if the test script is killed with SIGKILL (no trap runs then), within
# about a second.
#
# Several instances in one test: give each a --name; the last one started is
# current, dc_use switches.  dovecot_start may run inside test_expect_success
# (a subshell): every instance is recorded in "$TEST_DIR/.dc-instances" and
# sourcing this file registers one test_cleanup that stops them all, pass or
# fail; after a start in a subshell, call dc_use in the script itself.
#
# Root (as in CI): login and auth processes use Dovecot's usual privilege
# separation (dovenull, dovecot, chroot); mail processes run as uid/gid
# $DC_MAIL_UID:$DC_MAIL_GID (default 20143, no passwd entry needed) which
# owns the users' directories.  A normal user: every process runs as that
# user (default_internal_user etc.), no chroot.  Either way $TEST_DIR must be
# traversable (test-lib.sh makes it 0755 under /tmp).

DC_HOST=127.0.0.1
DC_DOVECOT=${DC_DOVECOT:-/usr/sbin/dovecot}
[ -x "$DC_DOVECOT" ] || DC_DOVECOT=$(command -v dovecot 2>/dev/null) || DC_DOVECOT=dovecot
dc_uid_=$(id -u)
if [ "$dc_uid_" = 0 ]; then
	DC_MAIL_UID=${DC_MAIL_UID:-20143}
	DC_MAIL_GID=${DC_MAIL_GID:-20143}
else
	DC_MAIL_UID=$dc_uid_
	DC_MAIL_GID=$(id -g)
fi
export DC_HOST DC_MAIL_UID DC_MAIL_GID

test_cleanup 'dc_stop_all'

dc_err_() {
	echo "$*" >&2
}

dc_is_root_() {
	[ "$dc_uid_" = 0 ]
}

# An extended regular expression matching $1 literally.
dc_ere_() {
	printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'
}

# dc_pick_ports_ LO HI: two different random ports in LO..HI that no socket
# uses right now (per /proc/net/tcp*, when there is one).
dc_pick_ports_() {
	dcpp_seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ') || return 1
	# (mawk's srand() takes every seed above 2^31 for the same one)
	dcpp_seed=$((dcpp_seed % 2147483647))
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	awk -v lo="$1" -v hi="$2" -v seed="$dcpp_seed" '
		function hex(s,   i, n) {
			n = 0
			for (i = 1; i <= length(s); i++)
				n = n * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1
			return n
		}
		NR > 1 { n = split($2, a, ":"); used[hex(a[n])] = 1 }
		END {
			srand(seed)
			for (i = 0; i < 1000 && got < 2; i++) {
				p = lo + int(rand() * (hi - lo + 1))
				if (!(p in used)) { used[p] = 1; out = out " " p; got++ }
			}
			if (got < 2) exit 1
			print substr(out, 2)
		}'
}

# dc_alive_ PID: the process exists and is not a zombie (init may take its
# time to reap an orphan).  No fork where there is a /proc.
dc_alive_() {
	if [ -d /proc/self ]; then
		read -r dca_stat <"/proc/$1/stat" 2>/dev/null || return 1
		dca_stat=${dca_stat##*) }
	else
		dca_stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	fi
	case $dca_stat in '' | Z* | X*) return 1 ;; esac
	return 0
}

# dc_procs_ DIR INSTANCE: pids of processes of that instance.  The master's
# command line names its config ("DIR/dovecot.conf"); the other processes
# are titled "dovecot-INSTANCE/service".
dc_procs_() {
	pgrep -f -- "$(dc_ere_ "$1/")|dovecot-$(dc_ere_ "$2")/" 2>/dev/null
	return 0
}

dc_need_() {
	if [ -z "${DC_DIR:-}" ] || [ ! -r "$DC_DIR/env" ]; then
		dc_err_ "$1: no dovecot instance: call dovecot_start (or dc_use) first"
		return 1
	fi
}

# doveadm for the current instance.  While it runs, doveadm reads the parsed
# config from its config socket: a third less CPU than parsing DC_CONF.
dc_adm() {
	if [ -n "${DC_BASE:-}" ] && [ -S "$DC_BASE/config" ]; then
		doveadm -c "$DC_BASE/config" "$@"
	else
		doveadm -c "${DC_CONF:?dc_adm: no dovecot instance}" "$@"
	fi
}

dc_talk() {
	if [ "${1:-}" = --tls ]; then
		shift
		perl "$T/imap-talk" --tls --ca "$DC_CA" "$@" "$DC_HOST" "$DC_TLS_PORT"
	else
		perl "$T/imap-talk" "$@" "$DC_HOST" "$DC_PORT"
	fi
}

dc_port_open() {
	perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or exit 2;
		alarm 5; exit(connect($s, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) ? 0 : 1)' "$1"
}

dc_rc() {
	dc_need_ dc_rc || return 1
	cat >"$1" <<EOF_DCRC || return 1
[general]
accounts = A
metadata = $TEST_DIR/meta

[Account A]
localrepository = L
remoterepository = R

[Repository L]
type = Maildir
localfolders = $TEST_DIR/mail

[Repository R]
type = IMAP
remotehost = $DC_HOST
remoteport = $DC_PORT
remoteuser = alice
remotepass = $(dc_password alice)
ssl = no
starttls = no
EOF_DCRC
	[ -t 0 ] || cat >>"$1"
}

dc_password() {
	dc_need_ dc_password || return 1
	awk -F: -v u="$1" '$1 == u { sub(/^\{PLAIN\}/, "", $2); print $2; f = 1 }
		END { exit !f }' "$DC_USERDB"
}

dc_procs() {
	if [ $# -gt 0 ]; then
		dcp_dir=$TEST_DIR/$1
	else
		dc_need_ dc_procs || return 1
		dcp_dir=$DC_DIR
	fi
	dcp_inst=
	read -r dcp_inst <"$dcp_dir/instance" 2>/dev/null
	dc_procs_ "$dcp_dir" "$dcp_inst"
}

# dc_make_ca DIR [CN]: a throwaway CA (EC P-256): DIR/ca.pem, DIR/ca.key.
dc_make_ca() {
	mkdir -p "$1" || return 1
	if ! openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 30 -subj "/CN=${2:-oi test CA}" \
		-addext 'basicConstraints=critical,CA:TRUE' \
		-addext 'keyUsage=critical,keyCertSign,cRLSign' \
		-keyout "$1/ca.key" -out "$1/ca.pem" >"$1/openssl.log" 2>&1; then
		cat "$1/openssl.log" >&2
		dc_err_ "dc_make_ca: openssl could not create a CA in $1"
		return 1
	fi
	chmod 600 "$1/ca.key"
}

# dc_make_cert_ DIR: server.key/server.pem (EC P-256) for localhost and
# 127.0.0.1, signed by DIR/ca.pem in one openssl run (OpenSSL 3 "req -CA").
# "DNS:127.0.0.1" too: some clients compare the host name only with DNS names.
# (No ssl_dh: with an EC key there is no DHE-RSA to need it.)
dc_make_cert_() {
	if ! openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 30 -subj /CN=localhost -CA "$1/ca.pem" -CAkey "$1/ca.key" \
		-addext 'basicConstraints=critical,CA:FALSE' \
		-addext 'keyUsage=critical,digitalSignature' \
		-addext 'extendedKeyUsage=serverAuth' \
		-addext 'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1' \
		-keyout "$1/server.key" -out "$1/server.pem" >"$1/openssl.log" 2>&1; then
		cat "$1/openssl.log" >&2
		dc_err_ "dovecot_start: openssl could not create the server certificate"
		return 1
	fi
	chmod 600 "$1/server.key"
}

# dc_write_conf_: dovecot.conf from the dcs_* variables of dovecot_start.
dc_write_conf_() {
	# As root: Dovecot's own privilege separation.  Otherwise every process
	# runs as the caller, and no chroot (that needs root).
	if dc_is_root_; then
		dcw_ident='' dcw_chroot=''
	else
		dcw_me=$(id -un) && dcw_grp=$(id -gn) || return 1
		dcw_chroot='  chroot ='
		dcw_ident="default_internal_user = $dcw_me
default_internal_group = $dcw_grp
default_login_user = $dcw_me
service auth-worker {
  user = $dcw_me
}
service ipc {
$dcw_chroot
}
service imap-urlauth-login {
$dcw_chroot
}"
	fi
	if [ "$dcs_sep" = / ]; then
		dcw_loc="maildir:$dcs_dir/mail/%u:LAYOUT=fs:INBOX=$dcs_dir/mail/%u/INBOX"
	else
		dcw_loc="maildir:$dcs_dir/mail/%u"
	fi
	cat >"$dcs_dir/dovecot.conf" <<EOF || return 1
# Private test instance written by t/lib-dovecot.sh.  Loopback only.
instance_name = $dcs_inst
base_dir = $dcs_base
state_dir = $dcs_dir/state
log_path = $dcs_dir/dovecot.log
protocols = imap
listen = $DC_HOST
$dcw_ident
first_valid_uid = 1
mail_fsync = never
auth_verbose = yes
# A failed login is answered at the next 0.5 s tick, not after 2 s.
auth_failure_delay = 0

ssl = yes
ssl_cert = <$dcs_dir/tls/server.pem
ssl_key = <$dcs_dir/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dcs_dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dcs_dir/users
}

mail_location = $dcw_loc
namespace inbox {
  inbox = yes
  separator = $dcs_sep
  prefix =
}
protocol imap {
  mail_max_userip_connections = 100
}
service anvil {
$dcw_chroot
  # no growing delay after failed logins from 127.0.0.1 (auth penalty)
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service imap-login {
$dcw_chroot
  inet_listener imap {
    address = $DC_HOST
    port = $dcs_port
  }
  inet_listener imaps {
    address = $DC_HOST
    port = $dcs_tls_port
    ssl = yes
  }
}
$dcs_extra
EOF
}

dc_start_fail_() {
	dc_err_ "dovecot_start: $1"
	for dcsf_f in "$dcs_dir/startup.log" "$dcs_dir/dovecot.log"; do
		if [ -s "$dcsf_f" ]; then
			dc_err_ "--- $dcsf_f"
			tail -n 30 "$dcsf_f" >&2
		fi
	done
	dc_stop_dir_ "$dcs_dir" </dev/null
	return 1
}

dovecot_start() {
	dcs_name=dovecot dcs_sep=/ dcs_extra=
	dcs_users='alice:alicepw
bob:bobpw'
	while [ $# -gt 0 ]; do
		case $1 in
		--name | --sep | --user | --conf)
			if [ $# -lt 2 ]; then
				dc_err_ "dovecot_start: $1 needs an argument"
				return 1
			fi
			case $1 in
			--name) dcs_name=$2 ;;
			--sep) dcs_sep=$2 ;;
			--user) dcs_users="$dcs_users
$2" ;;
			--conf) dcs_extra="$dcs_extra
$2" ;;
			esac
			shift 2 ;;
		*)
			dc_err_ "dovecot_start: unknown argument '$1'" \
				"(usage: dovecot_start [--name NAME] [--sep /|.] [--user USER:PASS]... [--conf LINE]...)"
			return 1 ;;
		esac
	done
	case $dcs_name in
	'' | *[!A-Za-z0-9_-]*)
		dc_err_ "dovecot_start: bad instance name '$dcs_name' (letters, digits, _ and - only)"
		return 1 ;;
	esac
	case $dcs_sep in
	/ | .) ;;
	*) dc_err_ "dovecot_start: --sep must be / or ., not '$dcs_sep'"; return 1 ;;
	esac
	# Users: the later NAME:PASS wins, the order of first appearance is kept.
	dcs_bad=$(printf '%s\n' "$dcs_users" |
		awk '!/^[A-Za-z0-9._-]+:[^:]*$/ { print; exit }')
	if [ -n "$dcs_bad" ]; then
		dc_err_ "dovecot_start: bad --user '$dcs_bad' (want NAME:PASS, no ':' in PASS)"
		return 1
	fi

	if [ -z "${TEST_DIR:-}" ] || [ ! -d "$TEST_DIR" ]; then
		dc_err_ "dovecot_start: TEST_DIR is not set: source t/test-lib.sh first"
		return 1
	fi
	for dcs_prog in "$DC_DOVECOT" doveadm openssl perl pgrep; do
		if ! command -v "$dcs_prog" >/dev/null 2>&1; then
			dc_err_ "dovecot_start: $dcs_prog not found (Debian: apt-get install dovecot-imapd openssl perl procps)"
			return 1
		fi
	done
	dcs_dir=$TEST_DIR/$dcs_name
	case $dcs_dir in
	*[!A-Za-z0-9_./-]*)
		dc_err_ "dovecot_start: $dcs_dir: only letters, digits and _ . - / are safe in a dovecot.conf path"
		return 1 ;;
	esac
	if [ -e "$dcs_dir" ]; then
		dc_err_ "dovecot_start: $dcs_dir exists: instance '$dcs_name' was started before (use --name)"
		return 1
	fi

	if ! mkdir "$dcs_dir" || ! mkdir "$dcs_dir/state" "$dcs_dir/tls" \
		"$dcs_dir/mail" "$dcs_dir/home"; then
		dc_err_ "dovecot_start: cannot create $dcs_dir"
		return 1
	fi
	# From here on the cleanup knows this instance, whatever happens.
	echo "$dcs_dir" >>"$TEST_DIR/.dc-instances" || return 1
	chmod 755 "$dcs_dir" "$dcs_dir/mail" "$dcs_dir/home" || return 1
	# Unique per instance: the process titles are "dovecot-$dcs_inst/...".
	dcs_inst=oitest-${TEST_DIR##*/}-$dcs_name
	echo "$dcs_inst" >"$dcs_dir/instance" || return 1
	# Unix sockets live in base_dir, their paths must stay below ~108 bytes.
	dcs_base=$dcs_dir/run
	if [ ${#dcs_base} -gt 70 ]; then
		dcs_base=$(mktemp -d "/tmp/oidc.XXXXXX") && chmod 755 "$dcs_base" || return 1
		ln -s "$dcs_base" "$dcs_dir/run" || return 1
	fi
	echo "$dcs_base" >"$dcs_dir/base_dir" || return 1

	printf '%s\n' "$dcs_users" | awk -F: -v uid="$DC_MAIL_UID" -v gid="$DC_MAIL_GID" \
		-v home="$dcs_dir/home" '
		!($1 in pw) { order[++n] = $1 }
		{ pw[$1] = $2 }
		END { for (i = 1; i <= n; i++)
			printf "%s:{PLAIN}%s:%s:%s::%s/%s::\n", order[i], pw[order[i]],
				uid, gid, home, order[i] }' >"$dcs_dir/users" || return 1
	# shellcheck disable=SC2013  # user names are checked: no blanks
	for dcs_u in $(cut -d: -f1 "$dcs_dir/users"); do
		mkdir "$dcs_dir/mail/$dcs_u" "$dcs_dir/home/$dcs_u" || return 1
		if dc_is_root_; then
			chown "$DC_MAIL_UID:$DC_MAIL_GID" "$dcs_dir/mail/$dcs_u" \
				"$dcs_dir/home/$dcs_u" || return 1
		fi
	done
	chmod 640 "$dcs_dir/users" || return 1
	if dc_is_root_; then
		# read by the auth process, which runs as the dovecot user
		chgrp "$(id -gn dovecot 2>/dev/null || echo dovecot)" "$dcs_dir/users" 2>/dev/null ||
			chmod 644 "$dcs_dir/users" || return 1
	fi

	dc_make_ca "$dcs_dir/tls" "$(printf '%.64s' "oi test CA $dcs_name")" || return 1
	dc_make_cert_ "$dcs_dir/tls" || return 1

	# Random ports below the ephemeral range (so no outgoing connection holds
	# them); another test may take the same one first: then try others.
	dcs_lo=10000 dcs_hi=32767
	if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
		read -r dcs_eph _ </proc/sys/net/ipv4/ip_local_port_range
		[ "$dcs_eph" -gt 12000 ] && [ "$dcs_eph" -le 32768 ] && dcs_hi=$((dcs_eph - 1))
	fi
	if [ -n "${DC_PORT_RANGE:-}" ]; then
		dcs_lo=${DC_PORT_RANGE%%-*} dcs_hi=${DC_PORT_RANGE#*-}
		case $dcs_lo,$dcs_hi in
		*[!0-9,]* | ,* | *,) dcs_lo=0 ;;
		esac
		if [ "$dcs_lo" -lt 1024 ] || [ "$dcs_hi" -gt 65535 ] || [ "$dcs_hi" -le "$dcs_lo" ]; then
			dc_err_ "dovecot_start: bad DC_PORT_RANGE '$DC_PORT_RANGE' (want LO-HI within 1024-65535)"
			return 1
		fi
	fi
	dcs_try=0
	while :; do
		dcs_try=$((dcs_try + 1))
		if ! dcs_ports=$(dc_pick_ports_ "$dcs_lo" "$dcs_hi"); then
			dc_err_ "dovecot_start: no two free ports in $dcs_lo-$dcs_hi"
			return 1
		fi
		dcs_port=${dcs_ports% *} dcs_tls_port=${dcs_ports#* }
		dc_write_conf_ || { dc_err_ "dovecot_start: cannot write $dcs_dir/dovecot.conf"; return 1; }
		# The master keeps the stderr it gets for good: give it a file.
		if "$DC_DOVECOT" -c "$dcs_dir/dovecot.conf" </dev/null >"$dcs_dir/startup.log" 2>&1; then
			break
		fi
		if grep -q 'Address already in use' "$dcs_dir/startup.log" && [ "$dcs_try" -lt 20 ]; then
			continue
		fi
		dc_start_fail_ "dovecot did not start (ports $dcs_port, $dcs_tls_port; try $dcs_try)"
		return 1
	done

	# Wait (10 s at most) for the pid file and the greeting on the plain port.
	dcs_pid='' dcs_ok=''
	dcs_end=$(($(date +%s) + 10))
	while [ "$(date +%s)" -le "$dcs_end" ]; do
		[ -n "$dcs_pid" ] || read -r dcs_pid <"$dcs_base/master.pid" 2>/dev/null || dcs_pid=
		if [ -n "$dcs_pid" ]; then
			echo "$dcs_pid" >"$dcs_dir/pid"
			if ! dc_alive_ "$dcs_pid"; then
				dc_start_fail_ "dovecot (pid $dcs_pid) died during startup"
				return 1
			fi
			if perl "$T/imap-talk" --timeout 2 "$DC_HOST" "$dcs_port" </dev/null 2>/dev/null |
				grep -q '^\* OK'; then
				dcs_ok=1
				break
			fi
		fi
		sleep 0.1
	done
	if [ -z "$dcs_ok" ]; then
		dc_start_fail_ "no IMAP greeting on $DC_HOST:$dcs_port within 10 s"
		return 1
	fi
	if ! perl "$T/imap-talk" --timeout 5 --tls --ca "$dcs_dir/tls/ca.pem" \
		"$DC_HOST" "$dcs_tls_port" </dev/null 2>"$dcs_dir/tls-check.log" |
		grep -q '^\* OK'; then
		cat "$dcs_dir/tls-check.log" >&2
		dc_start_fail_ "no verified TLS greeting on $DC_HOST:$dcs_tls_port"
		return 1
	fi

	{
		for dcs_v in "DC_NAME=$dcs_name" "DC_DIR=$dcs_dir" "DC_SEP=$dcs_sep" \
			"DC_HOST=$DC_HOST" "DC_PORT=$dcs_port" "DC_TLS_PORT=$dcs_tls_port" \
			"DC_CA=$dcs_dir/tls/ca.pem" "DC_CERT=$dcs_dir/tls/server.pem" \
			"DC_KEY=$dcs_dir/tls/server.key" "DC_CONF=$dcs_dir/dovecot.conf" \
			"DC_PID=$dcs_pid" "DC_LOG=$dcs_dir/dovecot.log" \
			"DC_USERDB=$dcs_dir/users" "DC_INSTANCE=$dcs_inst" "DC_BASE=$dcs_base"; do
			# values are safe in single quotes: the paths were checked
			echo "${dcs_v%%=*}='${dcs_v#*=}'"
		done
		echo 'export DC_NAME DC_DIR DC_SEP DC_HOST DC_PORT DC_TLS_PORT DC_CA DC_CERT DC_KEY DC_CONF DC_PID DC_LOG DC_USERDB DC_INSTANCE DC_BASE'
	} >"$dcs_dir/env" || return 1
	# The cleanup needs the script to end by itself (exit, or a signal it can
	# trap); a watchdog also stops the instance if the script is killed.  It
	# is detached (not a job of this shell): a `wait` in a test must not
	# wait for it, nor may it hold the test's output open.
	(dc_watch_ "$dcs_dir" "$dcs_pid" </dev/null >/dev/null 2>&1 &)
	dc_use "$dcs_name"
}

# dc_watch_ DIR MASTER (in the background): once the test script ($$, also in
# subshells) is gone while MASTER still runs, stop the instance.  One sleep a
# second; ends when either is gone.
dc_watch_() {
	while dc_alive_ "$$"; do
		dc_alive_ "$2" || return 0
		sleep 1
	done
	dc_alive_ "$2" || return 0
	dc_stop_dir_ "$1"
}

dc_use() {
	dcu_env=$TEST_DIR/${1:-dovecot}/env
	if [ ! -r "$dcu_env" ]; then
		dc_err_ "dc_use: no started instance '${1:-dovecot}' ($dcu_env missing)"
		return 1
	fi
	# shellcheck disable=SC1090  # written by dovecot_start
	. "$dcu_env"
}

# dc_master_ DIR: print the pid of the instance's master if it runs.  Only a
# process whose command line names DIR/dovecot.conf counts: a pid is never
# signalled once it may have been reused.  (No helper process gets DIR in
# its arguments - no cat, no grep: it would look like a leftover.)
dc_master_() {
	dcma_base=
	read -r dcma_pid <"$1/pid" 2>/dev/null ||
		{ read -r dcma_base <"$1/base_dir" && read -r dcma_pid <"$dcma_base/master.pid"; } 2>/dev/null ||
		return 0
	case $dcma_pid in '' | *[!0-9]*) return 0 ;; esac
	dcma_args=$(ps -o args= -p "$dcma_pid" 2>/dev/null) || return 0
	case $dcma_args in
	*"$1/dovecot.conf"*) dc_alive_ "$dcma_pid" && echo "$dcma_pid" ;;
	esac
	return 0
}

# dc_term_ DIR: ask the instance's master to shut down (SIGTERM).
dc_term_() {
	dct_pid=$(dc_master_ "$1")
	[ -z "$dct_pid" ] || kill -TERM "$dct_pid" 2>/dev/null
	return 0
}

# dc_stop_dir_ DIR [termed]: stop the instance living in DIR (its master got
# SIGTERM already if "termed") and make sure no process of it is left.
dc_stop_dir_() {
	dcx_dir=$1
	read -r dcx_inst <"$dcx_dir/instance" 2>/dev/null || return 0  # never started
	read -r dcx_base <"$dcx_dir/base_dir" 2>/dev/null || dcx_base=
	dcx_pid=$(dc_master_ "$dcx_dir")
	if [ -n "$dcx_pid" ]; then
		[ "${2:-}" = termed ] || kill -TERM "$dcx_pid" 2>/dev/null
		dcx_i=0
		while dc_alive_ "$dcx_pid" && [ $dcx_i -lt 50 ]; do
			# The master ends its shutdown by signalling its log process
			# and sleeping a fixed second: once no other child is left,
			# it has nothing else to do and SIGKILL saves that second.
			dcx_kids=$(pgrep -d, -f -- "dovecot-$(dc_ere_ "$dcx_inst")/")
			if [ -z "$dcx_kids" ] ||
				! ps -o args= -p "$dcx_kids" | grep -qv '/log[[:space:]]*$'; then
				kill -KILL "$dcx_pid" 2>/dev/null
				break
			fi
			sleep 0.1
			dcx_i=$((dcx_i + 1))
		done
		if dc_alive_ "$dcx_pid"; then
			dc_err_ "dovecot_stop: master $dcx_pid ignored SIGTERM for 5 s, sending SIGKILL"
			kill -KILL "$dcx_pid" 2>/dev/null
		fi
	fi
	# The children exit with the master (they watch a pipe from it); any
	# process still there 0.3 s later gets TERM, after 0.6 s KILL.
	dcx_i=0
	# shellcheck disable=SC2086  # $dcx_left is a list of pids
	while :; do
		dcx_left=$(dc_procs_ "$dcx_dir" "$dcx_inst")
		[ -n "$dcx_left" ] || break
		dcx_i=$((dcx_i + 1))
		case $dcx_i in
		3) kill -TERM $dcx_left 2>/dev/null ;;
		6) kill -KILL $dcx_left 2>/dev/null ;;
		15) break ;;
		esac
		sleep 0.1
	done
	if [ -n "$dcx_left" ]; then
		dc_err_ "dovecot_stop: processes of $dcx_dir are left:"
		ps -o pid=,user=,args= -p "$(echo "$dcx_left" | tr '\n ' ,,)" >&2
		return 1
	fi
	rm -f "$dcx_dir/pid"
	case $dcx_base in
	/tmp/oidc.*) rm -rf "$dcx_base" "$dcx_dir/run" ;;
	esac
	return 0
}

dovecot_stop() {
	if [ $# -gt 0 ]; then
		dcst_dir=$TEST_DIR/$1
		if [ ! -d "$dcst_dir" ]; then
			dc_err_ "dovecot_stop: no instance '$1'"
			return 1
		fi
	else
		dc_need_ dovecot_stop || return 1
		dcst_dir=$DC_DIR
	fi
	dc_stop_dir_ "$dcst_dir"
}

# Registered by test_cleanup: stops every instance this test started.
dc_stop_all() {
	[ -f "$TEST_DIR/.dc-instances" ] || return 0
	# All masters shut down at the same time.
	while IFS= read -r dcsa_dir; do
		dc_term_ "$dcsa_dir" </dev/null
	done <"$TEST_DIR/.dc-instances"
	dcsa_rc=0
	while IFS= read -r dcsa_dir; do
		dc_stop_dir_ "$dcsa_dir" termed </dev/null || dcsa_rc=1
	done <"$TEST_DIR/.dc-instances"
	return $dcsa_rc
}

dovecot_mkfolder() {
	if [ $# -lt 2 ]; then
		dc_err_ "usage: dovecot_mkfolder USER FOLDER..."
		return 1
	fi
	dc_need_ dovecot_mkfolder || return 1
	dcm_user=$1
	shift
	if ! dc_adm mailbox create -u "$dcm_user" "$@"; then
		dc_err_ "dovecot_mkfolder: cannot create $* for $dcm_user"
		return 1
	fi
}

dovecot_count() {
	if [ $# -ne 2 ]; then
		dc_err_ "usage: dovecot_count USER FOLDER"
		return 1
	fi
	dc_need_ dovecot_count || return 1
	# tab format: a header line, then "NAME<TAB>N"
	if ! dcc_out=$(dc_adm -f tab mailbox status -u "$1" messages "$2"); then
		dc_err_ "dovecot_count: no status for '$2' of $1"
		return 1
	fi
	printf '%s\n' "$dcc_out" | awk -F '\t' 'NR == 2 && $NF ~ /^[0-9]+$/ { print $NF; f = 1 }
		END { exit !f }'
}

dovecot_fill() {
	if [ $# -lt 3 ] || [ $# -gt 4 ]; then
		dc_err_ "usage: dovecot_fill USER FOLDER N [FLAGS]"
		return 1
	fi
	dc_need_ dovecot_fill || return 1
	dcf_user=$1 dcf_folder=$2 dcf_n=$3 dcf_flags=${4:-}
	case $dcf_n in
	'' | *[!0-9]*) dc_err_ "dovecot_fill: N must be a number, not '$dcf_n'"; return 1 ;;
	esac
	case $dcf_flags in
	*[!DFPRST]*)
		dc_err_ "dovecot_fill: FLAGS are Maildir flag letters (D F P R S T), not '$dcf_flags'"
		return 1 ;;
	esac
	# Three doveadm runs in all (some 50 ms each): path, count before (or
	# create), count after.
	if ! dcf_path=$(dc_adm mailbox path -u "$dcf_user" "$dcf_folder") ||
		[ -z "$dcf_path" ]; then
		dc_err_ "dovecot_fill: doveadm mailbox path failed for '$dcf_folder' of $dcf_user"
		return 1
	fi
	if [ -d "$dcf_path/cur" ]; then
		dcf_before=$(dovecot_count "$dcf_user" "$dcf_folder") || return 1
	elif ! dcf_before=$(dovecot_count "$dcf_user" "$dcf_folder" 2>/dev/null); then
		# (a status creates INBOX's Maildir; any other folder is created)
		dovecot_mkfolder "$dcf_user" "$dcf_folder" || return 1
		dcf_before=0
	fi
	if [ ! -d "$dcf_path/cur" ] || [ ! -d "$dcf_path/new" ] || [ ! -d "$dcf_path/tmp" ]; then
		dc_err_ "dovecot_fill: no Maildir at $dcf_path for '$dcf_folder' of $dcf_user"
		return 1
	fi
	perl - "$dcf_path" "$dcf_n" "$dcf_flags" "$DC_MAIL_UID" "$DC_MAIL_GID" \
		"$dcf_user" "$dcf_folder" <<'EOF' || { dc_err_ "dovecot_fill: writing into $dcf_path failed"; return 1; }
use strict;
use warnings;
my ($dir, $n, $flags, $uid, $gid, $user, $folder) = @ARGV;
my $chown = $> == 0;
$flags = join '', sort { $a cmp $b } keys %{{ map { $_ => 1 } split //, $flags }};
open my $rnd, '<', '/dev/urandom' or die "/dev/urandom: $!\n";
read($rnd, my $bytes, 6) == 6 or die "/dev/urandom: short read\n";
close $rnd;
my $tok = unpack 'H*', $bytes;       # tells this fill from any other
my $now = time;
my @first = qw(Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory
	Niaj Olivia Peggy Rupert Sybil Trent Victor Walter Zoe);
my @last = qw(Smith Jones Miller Brown Davis Wilson Taylor Martin Garcia
	Mueller Kowalski Dubois Rossi Schmidt Novak Berg Larsen);
my @subject = ('Quarterly report', 'Meeting notes', 'Budget review',
	'Server migration plan', 'Lunch on Friday?', 'Invoice', 'Patch review',
	'Weekly status update', 'Question about the API', 'Holiday schedule',
	'Release notes', 'Backup report', 'Re: deployment window');
my @words = qw(the of and to in is that for it with on be this are from or
	have an which one you not but all were when we there can has more if will
	about so some into them could time these two may then first any new after
	project meeting report server mailbox patch review deadline invoice
	customer schedule draft proposal agenda migration backup network storage
	please thanks attached document update version branch deployment budget
	release kernel quarterly notes lunch plan week status question);
my @wday = qw(Sun Mon Tue Wed Thu Fri Sat);
my @mon = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
sub date {                           # RFC 5322, UTC (no POSIX: it is slow to load)
	my @t = gmtime shift;
	sprintf '%s, %02d %s %d %02d:%02d:%02d +0000', $wday[$t[6]], $t[3], $mon[$t[4]],
		$t[5] + 1900, $t[2], $t[1], $t[0];
}
my $seed = 1;
sub word { $seed = ($seed * 1103515245 + 12345) % 2147483648; $words[$seed % @words] }
for my $i (1 .. $n) {
	$seed = $i * 7919 + length $folder;
	my ($f, $l) = ($first[($i * 7) % @first], $last[($i * 13) % @last]);
	my $t = $now - ($n - $i + 1) * 600;
	my $body = '';
	for (1 .. 3 + $i % 5) {
		$body .= join(' ', map { word() } 1 .. 8 + $seed % 5) . "\n";
	}
	my $msg = "From: $f $l <" . lc("$f.$l") . "\@example.org>\n"
		. "To: $user <$user\@example.com>\n"
		. "Subject: " . $subject[$i % @subject] . " #$i\n"
		. "Date: " . date($t) . "\n"
		. "Message-ID: <$tok.$i\@fill.example.org>\n"
		. "MIME-Version: 1.0\n"
		. "Content-Type: text/plain; charset=utf-8\n"
		. "Content-Transfer-Encoding: 8bit\n"
		. "\n"
		. "Hello $user,\n\n$body\nMessage $i of $n for $folder.\n-- \n$f\n";
	my $name = "$now.M${i}P$$" . "R$tok.dcfill";
	my $tmp = "$dir/tmp/$name";
	open my $fh, '>', $tmp or die "$tmp: $!\n";
	print $fh $msg or die "$tmp: $!\n";
	close $fh or die "$tmp: $!\n";
	utime $t, $t, $tmp or die "utime $tmp: $!\n";
	if ($chown) { chown $uid, $gid, $tmp or die "chown $tmp: $!\n" }
	my $final = $flags ne '' ? "$dir/cur/$name:2,$flags" : "$dir/new/$name";
	rename $tmp, $final or die "rename $tmp: $!\n";
}
EOF
	dcf_want=$((dcf_before + dcf_n))
	dcf_after=$(dovecot_count "$dcf_user" "$dcf_folder") || return 1
	if [ "$dcf_after" != "$dcf_want" ]; then
		# should not happen: Dovecot rescans a Maildir whose new/ or cur/ changed
		dc_adm force-resync -u "$dcf_user" "$dcf_folder" || return 1
		dcf_after=$(dovecot_count "$dcf_user" "$dcf_folder") || return 1
		if [ "$dcf_after" != "$dcf_want" ]; then
			dc_err_ "dovecot_fill: Dovecot sees $dcf_after messages in '$dcf_folder' of $dcf_user, expected $dcf_want"
			return 1
		fi
	fi
}
