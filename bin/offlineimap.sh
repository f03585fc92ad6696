#!/bin/sh
# offlineimap - OfflineIMAP's command, composed of the toolkit's tools.
#
# This driver parses OfflineIMAP's command line, reads the configuration
# through offlineimap-config, and runs each account's sync as a pipeline of
# tools under the account lock (offlineimap-lock):
#
#	imap-list -m >remote; maildir-scan -m >local
#	sync-plan remote local >plan; sync-apply plan
#
# It runs the hooks, writes mbnames, loops with autorefresh, and shows what
# happens through one of OfflineIMAP's user interfaces.  It holds no sync
# logic: every decision about a message is the tools'.
#
# Processes: this shell; one UI process (awk) that reads events from a FIFO
# and writes them in the chosen UI's format; one "lane" subshell per
# account synced in parallel (maxsyncaccounts), each running its accounts
# in turn, again and again with autorefresh.  Signals reach this shell,
# which passes them on to the lanes.  Everything temporary lives in one
# private directory, removed at exit.

set -u
VERSION='@VERSION@'
PROG=offlineimap
TAB='	'	# a tab
NL='
'
UIS='quiet, basic, syslog, ttyui, blinkenlights, machineui'

# ---- small helpers ----

warn() {
	printf '%s: %s\n' "$PROG" "$*" >&2
}

die() {
	warn "$*"
	exit 1
}

# A value in single quotes, for eval.
shq() {
	case $1 in
	*\'*) printf "'%s'" "$(printf '%s\n' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf "'%s'" "$1" ;;
	esac
}

# The record quoting of offlineimap-tools(7), for an unusual field.
rq() {
	printf '%s' "$1" | LC_ALL=C awk 'BEGIN { RS = "\001\002\003" }
	{
		s = $0; o = "\""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\") o = o "\\\\"
			else if (c == "\"") o = o "\\\""
			else if (c == "\t") o = o "\\t"
			else if (c == "\n") o = o "\\n"
			else if (c == "\r") o = o "\\r"
			else if (c < " " || c == "\177") o = o sprintf("\\%03o", ord[c])
			else o = o c
		}
		printf "%s\"", o
	}
	BEGIN { for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i }'
}

usage_line() {
	cat <<EOF
usage: offlineimap [-1hoqsV] [--dry-run] [--info] [-a accounts] [-c file]
                   [-d types] [-f folders] [-k [section:]option=value]
                   [-l file] [-P dir] [-u ui] [--delete-folder name]
                   [--migrate-fmd5-using-nametrans] [--mbnames-prune]
EOF
}

usage_error() {
	warn "$*"
	usage_line >&2
	echo "options: --version -h --help -V --dry-run --info -1 -P -a -c -d -l -s -f -k -o -q -u --delete-folder --migrate-fmd5-using-nametrans --mbnames-prune" >&2
	exit 1
}

help() {
	usage_line
	cat <<'EOF'

Synchronises IMAP accounts with local Maildirs, as OfflineIMAP does, with
OfflineIMAP's configuration file and state on disk.

Options:
  --version             show the version number and exit
  -h, --help            show this help message and exit
  -V                    show the version and the libraries in use
  --dry-run             show what a sync would do (the plan); change nothing
  --info                show the accounts, repositories and servers; no sync
  -1                    one account and one connection at a time
  -P DIR                profile: per-step timings of each tool into DIR
  -a account1[,account2[,...]]
                        the accounts to sync, instead of [general] accounts
  -c FILE               the configuration file
  -d type1[,type2[,...]]
                        debug output (types: imap, maildir, thread, all)
  -l FILE               also log to FILE
  -s                    also log to syslog
  -f folder1[,folder2[,...]]
                        only these folders (remote names)
  -k [section:]option=value
                        override a configuration option
  -o                    run only once (ignore autorefresh)
  -q                    quick synchronisations only
  -u INTERFACE          the user interface (quiet, basic, syslog, ttyui,
                        blinkenlights, machineui)
  --delete-folder=FOLDERNAME
                        delete a folder on the remote repository
  --migrate-fmd5-using-nametrans
                        migrate FMD5 hashes from versions prior to 6.3.5
  --mbnames-prune       remove mbnames entries of accounts no longer synced
EOF
}

# Where the tools are: beside this script if they are there, else PATH.
case $0 in
*/*) bindir=${0%/*} ;;
*) bindir=$(command -v -- "$0" 2>/dev/null) && bindir=${bindir%/*} || bindir=. ;;
esac
# tool VAR NAME: VAR is the path of the tool NAME
tool() {
	if [ -x "$bindir/$2" ]; then
		eval "$1=\$bindir/\$2"
	else
		eval "$1=\$2"
	fi
}
tool T_CONFIG offlineimap-config
tool T_LOCK offlineimap-lock
tool T_LIST imap-list
tool T_SCAN maildir-scan
tool T_PLAN sync-plan
tool T_APPLY sync-apply
tool T_FMD5 fmd5-migrate
tool T_RMFOLDER imap-rmfolder
tool T_IDLE imap-idle
tool T_HOLD imap-hold

# mawk reads a pipe in big blocks unless told not to: the UI and the
# forwarders must see each line as it comes.
# (Debian's awk is mawk: known without running it)
AWKI=
_aw=
IFS=:
for _p in $PATH; do
	[ -x "${_p:-.}/awk" ] && { _aw=${_p:-.}/awk; break; }
done
unset IFS
if [ -n "$_aw" ] && { [ "$_aw" -ef /usr/bin/mawk ] || [ "$_aw" -ef /bin/mawk ]; }; then
	AWKI='-W interactive'
else
	case $(awk -W version 2>&1 </dev/null) in
	*mawk*) AWKI='-W interactive' ;;
	esac
fi

# ---- the command line (optparse's rules: clustered short options,
# attached or separate arguments, long options abbreviated as long as
# unambiguous, --opt=value; operands are accepted and ignored) ----

o_accounts= o_config= o_debug= o_log= o_syslog=0 o_folders= o_once=0
o_quick=0 o_ui= o_single=0 o_profile= o_dryrun=0 o_info=0 o_delete=
o_delete_set=0 o_migrate=0 o_prune=0 o_help=0 o_version=0 o_V=0
o_fset=0 o_aset=0
kq=		# the -k overrides, quoted for eval
argv0="$0 $*"

long_opts='help version dry-run info delete-folder migrate-fmd5-using-nametrans mbnames-prune ignore-keyring update-keyring'

set_opt() {	# set_opt LETTER VALUE
	case $1 in
	P) o_profile=$2 ;;
	a) o_accounts=$2 o_aset=1 ;;
	c) o_config=$2 ;;
	d) o_debug=$2 ;;
	l) o_log=$2 ;;
	f) o_folders=$2 o_fset=1 ;;
	k)
		case $2 in
		*=*) ;;
		*) usage_error "-k $2: want [section:]option=value" ;;
		esac
		kq="$kq -k $(shq "$2")" ;;
	u) o_ui=$2 ;;
	esac
}

while [ $# -gt 0 ]; do
	case $1 in
	--)
		shift
		break ;;
	--*)
		name=${1#--} val= hasval=0
		case $name in
		*=*) val=${name#*=} name=${name%%=*} hasval=1 ;;
		esac
		match= n=0 all=
		for o in $long_opts; do
			if [ "$o" = "$name" ]; then
				match=$o n=1
				break
			fi
			case $o in
			"$name"*) match=$o n=$((n + 1)) all="$all${all:+, }--$o" ;;
			esac
		done
		[ $n = 0 ] && usage_error "no such option: --$name"
		[ $n -gt 1 ] && usage_error "ambiguous option: --$name ($all?)"
		if [ "$match" = delete-folder ]; then
			if [ $hasval = 0 ]; then
				[ $# -ge 2 ] || usage_error "--delete-folder option requires 1 argument"
				shift
				val=$1
			fi
			o_delete=$val o_delete_set=1
		else
			[ $hasval = 1 ] && usage_error "--$match option does not take a value"
			case $match in
			help) o_help=1 ;;
			version) o_version=1 ;;
			dry-run) o_dryrun=1 ;;
			info) o_info=1 ;;
			migrate-fmd5-using-nametrans) o_migrate=1 ;;
			mbnames-prune) o_prune=1 ;;
			ignore-keyring | update-keyring) ;;	# no keyring here
			esac
		fi
		;;
	-?*)
		rest=${1#-}
		while [ -n "$rest" ]; do
			c=${rest%"${rest#?}"}
			rest=${rest#?}
			case $c in
			P | a | c | d | l | f | k | u)
				if [ -n "$rest" ]; then
					set_opt "$c" "$rest"
					rest=
				else
					[ $# -ge 2 ] || usage_error "-$c option requires 1 argument"
					shift
					set_opt "$c" "$1"
				fi ;;
			h) o_help=1 ;;
			V) o_V=1 ;;
			1) o_single=1 ;;
			o) o_once=1 ;;
			q) o_quick=1 ;;
			s) o_syslog=1 ;;
			*) usage_error "no such option: -$c" ;;
			esac
		done
		;;
	*) ;;	# operands: ignored, as OfflineIMAP does
	esac
	shift
done

if [ $o_help = 1 ]; then
	help
	exit 0
fi
if [ $o_version = 1 ]; then
	echo "$VERSION"
	exit 0
fi

# -V: the version and the libraries the tools are linked with.
if [ $o_V = 1 ]; then
	line="offlineimap v$VERSION"
	libs=
	for t in "$T_LIST" "$T_PLAN" "$T_APPLY"; do
		b=$(command -v "$t" 2>/dev/null) && libs="$libs$NL$(ldd "$b" 2>/dev/null)"
	done
	for l in libtls:libtls libsqlite3:SQLite libbsd:libbsd; do
		so=${l%%:*} label=${l#*:}
		p=$(printf '%s\n' "$libs" | awk -v so="$so" '$1 ~ "^" so "\\." { print $3; exit }')
		v=
		if [ -n "$p" ]; then
			real=$(readlink -f "$p" 2>/dev/null) || real=$p
			if command -v dpkg-query >/dev/null 2>&1 &&
			    pkg=$(dpkg-query -S "$real" 2>/dev/null | sed -n '1s/: .*//p') &&
			    [ -n "$pkg" ]; then
				v=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null)
			fi
			[ -n "$v" ] || v=${real##*/}
		else
			v=unknown
		fi
		line="$line, $label v$v"
	done
	echo "$line"
	exit 0
fi

# ---- the configuration ----

case $o_config in
"~") o_config=$HOME ;;
"~/"*) o_config=$HOME/${o_config#"~/"} ;;
esac
if [ -z "$o_config" ]; then
	o_config=$("$T_CONFIG" path) || exit 1
fi
if [ ! -e "$o_config" ]; then
	warn "*** Config file '$o_config' does not exist; aborting!"
	exit 1
fi

# The field unquoting of offlineimap-tools(7), for the awk programs below
# that read records.
awk_unq='
function unq(s,   o, i, c, d) {
	if (substr(s, 1, 1) != "\"") return s
	o = ""
	for (i = 2; i < length(s); i++) {
		c = substr(s, i, 1)
		if (c != "\\") { o = o c; continue }
		d = substr(s, ++i, 1)
		if (d == "t") o = o "\t"
		else if (d == "n") o = o "\n"
		else if (d == "r") o = o "\r"
		else if (d ~ /[0-7]/) {
			o = o sprintf("%c", (d * 64) + (substr(s, i + 1, 1) * 8) + substr(s, i + 2, 1))
			i += 2
		} else o = o d
	}
	return o
}
'

# cfg COMMAND ARG...: offlineimap-config on the file, with the overrides.
cfg() {
	eval "set -- $kq \"\$@\""
	"$T_CONFIG" -c "$o_config" "$@"
}

# The file is read once, at the start (cfg_read): every section's options
# as shell variables (offlineimap-config shell); each offlineimap-config
# run costs a process.
# cfg_load PREFIX SECTION: PREFIX_option='value' for every option set in
# the section (interpolated; [DEFAULT]'s included; "-" in a name is "_"),
# earlier values of the prefix forgotten.  Fails with the message in $cerr.
cfg_load() {
	eval "_old=\${${1}__names:-}"
	for _o in $_old; do
		unset "${1}_$_o"
	done
	eval "${1}__names="
	_i=1
	while [ $_i -le "$cfg_n" ]; do
		eval "_s=\$cfg_s$_i"
		[ "$_s" = "$2" ] && break
		_i=$((_i + 1))
	done
	if [ $_i -gt "$cfg_n" ]; then
		cerr="offlineimap-config: no section [$2]"
		return 1
	fi
	eval "cerr=\${cfg_e$_i-}"
	[ -z "$cerr" ] || return 1
	eval "_k=\$cfg_k$_i"
	for _o in $_k; do
		eval "${1}_$_o=\$cfg_${_i}_$_o"
	done
	eval "${1}__names=\$_k ${1}__idx=\$_i"
}

# cfg_get NAME...: typed values (defaults, paths expanded, booleans as
# true/false), one per line: only for options that are set or have a
# default.
cfg_get() {
	if ! cfg get "$@" 2>"$W/cfg.err.${lane:-0}"; then
		cerr=$(cat "$W/cfg.err.${lane:-0}")
		return 1
	fi
}

# val PREFIX OPTION [DEFAULT]: a value cfg_load read.
val() {
	eval "printf '%s' \"\${$1_$2-\${3:-}}\""
}

is_true() {
	case $1 in
	[Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn] | 1) return 0 ;;
	esac
	return 1
}

# The work directory: FIFOs, listings, plans; removed at exit.
W=$(mktemp -d "${TMPDIR:-/tmp}/offlineimap.XXXXXX") || die "cannot create a work directory"
ui_pid=
lane_pids=
cleanup() {
	# lanes still running (an error in this shell): they stop, and let
	# the UI process see the end of its input
	[ -n "$lane_pids" ] && kill -TERM $lane_pids 2>/dev/null
	exec 5>&- 2>/dev/null
	[ -n "$ui_pid" ] && wait "$ui_pid" 2>/dev/null
	rm -rf "$W"
}
trap 'cleanup' EXIT
trap 'exit 1' HUP INT PIPE TERM

# The file, in one run; [general] with the typed values of two options.
if ! cfg shell general.metadata general.pythonfile '*.localfolders' '*.remoteport' '*.ssl' >"$W/cfg.sh" 2>"$W/cfg.err.0"; then
	cat "$W/cfg.err.0" >&2
	exit 1
fi
. "$W/cfg.sh"
if ! cfg_load g general; then
	printf '%s\n' "$cerr" >&2
	exit 1
fi
metadata=$cfg_v1
pythonfile=
[ -n "${g_pythonfile+x}" ] && pythonfile=${cfg_v2-}

# The UI: -u wins over [general] ui; the default is ttyui on a terminal,
# basic otherwise.
ui=$o_ui
if [ -z "$ui" ]; then
	ui=${g_ui:-}
	if [ -z "$ui" ]; then
		if [ -t 0 ] && [ -t 1 ]; then ui=ttyui; else ui=basic; fi
	fi
fi
ui_warn=
case $ui in
*.*)
	ui=${ui##*.}
	ui_warn="Using old interface name, consider using one of $UIS" ;;
esac
case $ui in *[A-Z]*) ui=$(printf '%s' "$ui" | tr 'A-Z' 'a-z') ;; esac
case $ui in
quiet | basic | syslog | ttyui | machineui) ;;
blinkenlights)
	# it draws on the terminal, where ttyui writes
	if [ ! -t 2 ]; then
		ui_warn="${ui_warn:+$ui_warn$NL}The blinkenlights UI needs a terminal on standard error: using ttyui"
		ui=ttyui
	fi ;;
*)
	warn "UI '$ui' does not exist, choose one of: $UIS"
	exit 1 ;;
esac
[ $o_info = 1 ] && ui=ttyui

dryrun=$o_dryrun
is_true "${g_dry_run:-no}" && dryrun=1

# -d: the debug types; all but "thread" make everything sequential.
debug=
dwarn=
if [ -n "$o_debug" ]; then
	d=$(printf '%s' "$o_debug" | tr 'A-Z' 'a-z')
	[ "$d" = all ] && d=imap,maildir,thread
	IFS=,
	for t in $d; do
		t=$(printf '%s' "$t" | tr -d ' ')
		case $t in
		imap | maildir | thread) debug="$debug,$t" ;;
		'') ;;
		*) dwarn="$dwarn${dwarn:+$NL}Invalid debug type: $t" ;;
		esac
	done
	unset IFS
	debug="${debug#,},"
	case ,$debug in
	*,thread,*) ;;
	*) o_single=1 ;;
	esac
fi
debug_on() {
	case ,$debug in *",$1,"*) return 0 ;; esac
	return 1
}

if [ -n "$o_profile" ]; then
	o_single=1
	pwarn="Profile mode: Forcing to singlethreaded."
	if [ -e "$o_profile" ]; then
		pwarn="$pwarn${NL}Profile mode: Directory '$o_profile' already exists!"
	else
		mkdir -p "$o_profile" || die "cannot create $o_profile"
	fi
	case $o_profile in /*) ;; *) o_profile=$PWD/$o_profile ;; esac
fi

# ---- the UI process ----
#
# Events, one per line, TAB-separated, fields quoted as records are:
#	COMMAND ACCOUNT ARG...
# The UI process turns them into the chosen UI's lines (OfflineIMAP's
# texts, or MachineUI's urlencoded records), the -l log file and syslog.

ui_program="$awk_unq"'
function enc(s,   o, i, c) {
	o = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c in safe) o = o c
		else if (c == " ") o = o "+"
		else o = o sprintf("%%%02X", ord[c])
	}
	return o
}
function now() { return strftime("%Y-%m-%d %H:%M:%S") }
# One message: level debug, info, warn or error; cmd MachineUI command;
# text for people ("" for none); payload for MachineUI.
function emit(level, cmd, thread, text, payload,   line) {
	if (ui == "machineui") {
		if (lv[level] >= thresh) {
			print sev[level] ":" cmd ":" enc(thread) ":" enc(payload)
			fflush()
		}
	} else if (text != "" && lv[level] >= thresh) {
		if (ui == "syslog") {
			print text | syslog_cmd
			fflush(syslog_cmd)
		} else {
			line = text
			if ((ui == "ttyui" || bl) && thread != "MainThread") {
				if (thread != last_thread) {
					last_thread = thread
					line = thread ":\n " text
				} else
					line = " " text
			}
			if (bl)
				bl_log(line, lv[level] >= 30)
			else {
				print line
				fflush()
			}
		}
	}
	if (text == "") return
	if (logfile != "" && lv[level] >= logthresh) {
		printf "%s %s: %s\n", now(), logname[level], text >> logfile
		fflush(logfile)
	}
	if (also_syslog && ui != "syslog" && lv[level] >= 20) {
		print text | syslog_cmd
		fflush(syslog_cmd)
	}
}
function info(cmd, thread, text, payload) { emit("info", cmd, thread, text, payload) }
function athr(a) { return "Account sync " a }
# With -1, as OfflineIMAP: no folder threads, the main thread renamed.
function fthr(a, r) { return single ? athr(a) : "Folder " r " [acc: " a "]" }
function seq(list,   n, u, i, j, t, o, s, e) {
	n = split(list, u, " ")
	for (i = 2; i <= n; i++) {	# insertion sort, numeric
		t = u[i]
		for (j = i - 1; j >= 1 && u[j] + 0 > t + 0; j--) u[j + 1] = u[j]
		u[j + 1] = t
	}
	o = ""
	for (i = 1; i <= n; i = j + 1) {
		s = u[i]
		for (j = i; j < n && u[j + 1] + 0 == u[j] + 1; j++) ;
		o = o (o == "" ? "" : ",") (j > i ? s ":" u[j] : s)
	}
	return o
}
function ffjoin(list,   n, u, i, o) {
	n = split(list, u, " ")
	o = ""
	for (i = 1; i <= n; i++) { t = u[i]; o = o (i > 1 ? "\f" : "") t }
	return o
}
function count(list,   u) { return split(list, u, " ") }
function deleting(a, uids, type, folder,   t) {
	if (uids == "") return
	t = (dryrun ? "[DRYRUN] " : "") "Deleting " count(uids) " messages (" seq(uids) ") in " type "[" folder "]"
	info("deletingmessages", cur_thr[a], t, ffjoin(seq_sorted(uids)) "\n" type "\t" folder)
}
function seq_sorted(list,   n, u, i, j, t, o) {
	n = split(list, u, " ")
	for (i = 2; i <= n; i++) {
		t = u[i]
		for (j = i - 1; j >= 1 && u[j] + 0 > t + 0; j--) u[j + 1] = u[j]
		u[j + 1] = t
	}
	o = ""
	for (i = 1; i <= n; i++) o = o (i > 1 ? " " : "") u[i]
	return o
}
# Flag changes of a folder, one line per flag, as OfflineIMAP: FROM and
# TO of each UID were noted in fl[a, side, uid].
function flagchanges(a, side, dest,   k, p, uid, from, to, i, c, add, del, fl, n, m, letters) {
	delete add
	delete del
	for (k in flfrom) {
		split(k, p, SUBSEP)
		if (p[1] != a || p[2] != side) continue
		uid = p[3]; from = flfrom[k]; to = flto[k]
		for (i = 1; i <= length(to); i++) {
			c = substr(to, i, 1)
			if (index(from, c) == 0) add[c] = add[c] " " uid
		}
		for (i = 1; i <= length(from); i++) {
			c = substr(from, i, 1)
			if (index(to, c) == 0) del[c] = del[c] " " uid
		}
		delete flfrom[k]
		delete flto[k]
	}
	letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
	for (i = 1; i <= length(letters); i++) {
		c = substr(letters, i, 1)
		if (c in add)
			info("addingflags", cur_thr[a], "Adding flag " c " to " count(add[c]) " messages on " dest, ffjoin(seq_sorted(substr(add[c], 2))) "\n" c "\n" dest)
	}
	for (i = 1; i <= length(letters); i++) {
		c = substr(letters, i, 1)
		if (c in del)
			info("deletingflags", cur_thr[a], "Deleting flag " c " from " count(del[c]) " messages on " dest, ffjoin(seq_sorted(substr(del[c], 2))) "\n" c "\n" dest)
	}
}
# The plan of an account: what each folder will copy, and the flags of
# each flag change (FROM and TO), read once.
function loadplan(a, path,   line, g, folder, n, pend, k, p) {
	for (k in ncopy) { split(k, p, SUBSEP); if (p[1] == a) delete ncopy[k] }
	for (k in pflags) { split(k, p, SUBSEP); if (p[1] == a) delete pflags[k] }
	for (k in ptext) { split(k, p, SUBSEP); if (p[1] == a) delete ptext[k] }
	for (k in reval) { split(k, p, SUBSEP); if (p[1] == a) delete reval[k] }
	if (bl) bl_plan_forget(a)
	folder = ""
	pend = ""
	while ((getline line < path) > 0) {
		n = split(line, g, "\t")
		if (g[1] == "folder") {
			folder = unq(g[4])
			ptext[a, folder] = pend
			pend = ""
			if (bl) bl_pa[a, "folders"]++
			continue
		}
		if (g[1] == "end") { folder = ""; continue }
		if (g[1] == "revalidate") reval[a, unq(g[5])] = g[2] "\t" g[3]
		if (folder == "" && line ~ /^# / && line !~ /^# total/)
			pend = pend line "\n"
		if (folder != "" && line !~ /^#/)
			ptext[a, folder] = ptext[a, folder] line "\n"
		if (folder != "" && (g[1] == "fetch" || g[1] == "upload"))
			ncopy[a, folder, g[1]]++
		if (folder != "" && (g[1] == "flags-local" || g[1] == "flags-remote"))
			pflags[a, folder, g[1], g[2]] = g[3] "\t" g[4]
		if (bl) bl_plan(a, folder, g)
	}
	close(path)
}
function apply(a,   k, kind, uid, detail, r, t, x, n) {
	k = f[3]
	if (k == "folder") {
		r = f[4]
		if (!synced_folders[a]) {
			synced_folders[a] = 1
			info("syncfolders", athr(a), "", rtype[a] "\n" ltype[a])
		}
		cur[a] = r
		curl[a] = f[5]
		cur_thr[a] = fthr(a, r)
		copied[a] = 0
		uploaded[a] = 0
		newuid[a] = 0
		dlocal[a] = ""
		dremote[a] = ""
		info("registerthread", cur_thr[a], "", a)
		info("syncingfolder", cur_thr[a], "Syncing " r ": " rtype[a] " -> " ltype[a], rtype[a] "\n" r "\n" ltype[a] "\n" f[5] "\n")
		if ((a, r) in nlocal) {
			info("loadmessagelist", cur_thr[a], "", ltype[a] "\n" f[5])
			info("messagelistloaded", cur_thr[a], "", ltype[a] "\n" f[5] "\n" nlocal[a, r])
		}
		if ((a, r) in nremote) {
			info("loadmessagelist", cur_thr[a], "", rtype[a] "\n" r)
			info("messagelistloaded", cur_thr[a], "", rtype[a] "\n" r "\n" nremote[a, r])
		}
		info("syncingmessages", cur_thr[a], "", rtype[a] "\n" r "\n" ltype[a] "\n" f[5] "\n")
		if (dryrun && (a, r) in ptext) {	# the plan of the folder
			n = split(ptext[a, r], x, "\n")
			for (k = 1; k < n; k++) info("_display", cur_thr[a], x[k], x[k])
		}
		return
	}
	kind = f[4]; uid = f[5]; detail = f[6]
	if (kind == "revalidate") {	# UID is the folder: renumbered on the server
		split((a, uid) in reval ? reval[a, uid] : "?\t?", x, "\t")
		t = "UID validity problem for folder " uid " (repo " rrepo[a] ") (saved " x[2] "; got " x[1] "): "
		if (k == "would")
			info("", fthr(a, uid), "[DRYRUN] " t "would match the messages by Message-ID and size", "[DRYRUN] " t "would match the messages by Message-ID and size")
		else if (k == "done")
			emit("warn", "validityproblem", fthr(a, uid), t detail, uid "\n" rrepo[a] "\n" x[2] "\n" x[1])
		else {
			emit("error", "", fthr(a, uid), "ERROR: " t detail, "ERROR: " t detail)
			errs[++nerr] = t detail
		}
		return
	}
	if (k == "done" || k == "would") {
		r = cur[a]
		if (kind == "create-local") {
			t = (dryrun ? "[DRYRUN] " : "") "Creating folder " uid "[" lrepo[a] "]"
			info("", athr(a), t, t)
			if (!dryrun) info("_display", athr(a), "Creating new Local Status db for " lrepo[a] ":" uid, "Creating new Local Status db for " lrepo[a] ":" uid)
		} else if (kind == "create-remote") {
			t = (dryrun ? "[DRYRUN] " : "") "Creating folder " uid "[" rrepo[a] "]"
			info("", athr(a), t, t)
		} else if (kind == "fetch") {
			if (k == "would") { wfetch[a]++; return }
			n = ++copied[a]
			info("copyingmessage", cur_thr[a], "Copy message UID " uid " (" n "/" (ncopy[a, r, "fetch"] + 0) ") " rrepo[a] ":" r " -> " lrepo[a] ":" curl[a], uid "\n" rtype[a] "\n" r "\n" ltype[a] "[" curl[a] "]")
		} else if (kind == "upload") {
			if (k == "would") { wupload[a]++; return }
			n = ++uploaded[a]
			if (uid == "none") uid = -(++newuid[a])
			info("copyingmessage", cur_thr[a], "Copy message UID " uid " (" n "/" (ncopy[a, r, "upload"] + 0) ") " lrepo[a] ":" curl[a] " -> " rrepo[a] ":" r, uid "\n" ltype[a] "\n" curl[a] "\n" rtype[a] "[" r "]")
		} else if (kind == "delete-local") {
			dlocal[a] = dlocal[a] (dlocal[a] == "" ? "" : " ") uid
		} else if (kind == "delete-remote") {
			dremote[a] = dremote[a] (dremote[a] == "" ? "" : " ") uid
		} else if (kind == "flags-local" || kind == "flags-remote") {
			if ((a, r, kind, uid) in pflags) {
				split(pflags[a, r, kind, uid], x, "\t")
				flfrom[a, kind, uid] = x[1]
				flto[a, kind, uid] = x[2]
			}
		}
		return
	}
	if (k == "failed") {
		t = "While syncing " cur[a] ": " kind " " uid ": " detail
		emit("error", "", cur_thr[a], "ERROR: " t, "ERROR: " t)
		errs[++nerr] = t
		return
	}
	if (k == "skipped") {
		t = "Skipped " kind " " uid " in " cur[a] ": " detail
		emit("warn", "", cur_thr[a], t, t)
		return
	}
	if (k == "error") {
		t = "While syncing " f[5] ": " f[4]
		emit("error", "", cur_thr[a], "ERROR: " t, "ERROR: " t)
		errs[++nerr] = t
		return
	}
	if (k == "end") {
		r = cur[a]
		if (wfetch[a] > 0)
			info("", cur_thr[a], "[DRYRUN] Copy " wfetch[a] " messages from " r "[" rrepo[a] "] to " lrepo[a], "[DRYRUN] Copy " wfetch[a] " messages from " r "[" rrepo[a] "] to " lrepo[a])
		deleting(a, dlocal[a], ltype[a], curl[a])
		flagchanges(a, "flags-local", curl[a])
		info("syncingmessages", cur_thr[a], "", ltype[a] "\n" curl[a] "\n" rtype[a] "\n" r "\n")
		if (wupload[a] > 0)
			info("", cur_thr[a], "[DRYRUN] Copy " wupload[a] " messages from " curl[a] "[" lrepo[a] "] to " rrepo[a], "[DRYRUN] Copy " wupload[a] " messages from " curl[a] "[" lrepo[a] "] to " rrepo[a])
		deleting(a, dremote[a], rtype[a], r)
		flagchanges(a, "flags-remote", r)
		wfetch[a] = wupload[a] = 0
		if (!single) {
			info("threadExited", "MainThread", "", cur_thr[a])
			info("unregisterthread", "MainThread", "", cur_thr[a])
		}
		cur_thr[a] = athr(a)
	}
}
# ---- blinkenlights: on the terminal, a status area at the top, one
# line per account and per folder of its sync, over the last lines ttyui
# would print.  A draw writes again only the lines that changed: cursor
# address, text, clear to the end of the line.  The bottom line stays
# empty, for the cursor to rest below everything at the end.

# The plan of an account: what each folder (and the account) will do,
# by kind (c copies, f flag changes, d deletions), and the size of each
# message to fetch, by UID and in the order of the fetches (q).
function bl_plan_forget(a,   k, p) {
	for (k in bl_psize) { split(k, p, SUBSEP); if (p[1] == a) delete bl_psize[k] }
	for (k in bl_pq) { split(k, p, SUBSEP); if (p[1] == a) delete bl_pq[k] }
	for (k in bl_pn) { split(k, p, SUBSEP); if (p[1] == a) delete bl_pn[k] }
	for (k in bl_pa) { split(k, p, SUBSEP); if (p[1] == a) delete bl_pa[k] }
}
function bl_plan(a, folder, g) {
	if (folder == "" || !(g[1] in bl_kind)) return
	if (g[1] == "fetch") {
		bl_psize[a, folder, g[2]] = g[4]
		bl_pq[a, folder, ++bl_pn[a, folder, "q"]] = g[4]
	}
	bl_pn[a, folder, bl_kind[g[1]]]++
	bl_pa[a, bl_kind[g[1]]]++
}
function bl_add(a) {
	if (a == "" || a in bl_ai) return
	bl_ai[a] = ++bl_na
	bl_an[bl_na] = a
	bl_st[a] = "waiting"
}
function bl_state(a, s) {
	bl_add(a)
	bl_st[a] = s
	bl_touch(1)
}
# A new sync of the account: its folder lines and counts start afresh.
function bl_reset(a,   k, p) {
	for (k in bl_f) { split(k, p, SUBSEP); if (p[1] == a) delete bl_f[k] }
	for (k in bl_fj) { split(k, p, SUBSEP); if (p[1] == a) delete bl_fj[k] }
	for (k in bl_nd) { split(k, p, SUBSEP); if (p[1] == a) delete bl_nd[k] }
	bl_plan_forget(a)
	bl_nf[a] = bl_cur[a] = bl_bytes[a] = bl_nerr[a] = bl_fdone[a] = 0
	bl_ta0[a] = bl_ta1[a] = 0
}
# The line of folder NAME of account A in this sync.
function bl_folder(a, name,   j) {
	if ((a, name) in bl_fj) return bl_fj[a, name]
	bl_add(a)
	j = bl_fj[a, name] = ++bl_nf[a]
	bl_f[a, j, "name"] = name
	bl_f[a, j, "st"] = "waiting"
	return j
}
# The outcome records of sync-apply, as they come.
function bl_apply(a,   k, j, t, n, r) {
	k = f[3]
	t = systime()
	if (k == "folder") {
		r = f[4]
		j = bl_cur[a] = bl_folder(a, r)
		bl_f[a, j, "st"] = "syncing"
		bl_f[a, j, "t0"] = bl_f[a, j, "t1"] = t
		# a folder with work to do may take long: shown at once
		bl_touch(bl_pn[a, r, "c"] + bl_pn[a, r, "f"] + bl_pn[a, r, "d"] > 0)
		return
	}
	j = bl_cur[a]
	if (j == 0) return
	r = bl_f[a, j, "name"]
	bl_ta1[a] = bl_f[a, j, "t1"] = t
	if ((k == "done" || k == "would") && f[4] in bl_kind) {
		n = bl_kind[f[4]]
		bl_f[a, j, n]++
		bl_nd[a, n]++
		if (f[4] == "fetch" && k == "done") {
			n = bl_psize[a, r, f[5]] + 0
			bl_f[a, j, "b"] += n
			bl_bytes[a] += n
			# the next message is large: no news for a while
			bl_touch(bl_pq[a, r, ++bl_f[a, j, "q"] + 1] >= 524288)
		} else
			bl_touch(0)
	} else if (k == "failed" || k == "error") {
		bl_f[a, j, "x"]++
		bl_nd[a, "x"]++
		bl_touch(1)
	} else if (k == "end") {
		bl_f[a, j, "st"] = "done"
		bl_fdone[a]++
		bl_cur[a] = 0
		bl_touch(0)
	}
}
# Something new to show.  URGENT (the state of an account, a warning, a
# folder or a message that may take long): drawn at once.  Else drawn
# if there were fewer than 10 draws in this second (awk has no finer
# clock), or with the next event: a burst of events costs 10 draws a
# second, and whatever ends it is urgent.
function bl_touch(urgent) {
	bl_dirty = 1
	if (urgent) bl_urgent = 1
}
function bl_tick(   t) {
	if (!bl_dirty || bl_done) return
	t = systime()
	if (t != bl_sec) {
		bl_sec = t
		bl_ndraw = 0
		bl_size()
	}
	if (!bl_urgent && bl_ndraw >= 10) return
	bl_ndraw++
	bl_draw(0)
}
# The terminal resized: everything drawn again on a cleared screen.
function bl_size(   cmd, s, p) {
	if (!bl_stty) return
	cmd = "stty size <&2 2>/dev/null"
	s = ""
	cmd | getline s
	close(cmd)
	if (split(s, p, " ") == 2 && p[1] > 0 && p[2] > 0 && (p[1] != bl_R || p[2] != bl_C)) {
		bl_R = p[1] + 0
		bl_C = p[2] + 0
		bl_fresh = 1
	}
}
function bl_log(s, urgent,   n, i, x) {
	n = split(s, x, "\n")
	for (i = 1; i <= n; i++) bl_logl[++bl_nlog % 512] = x[i]
	bl_touch(urgent)
}
# S on one line of W columns: control characters shown as "?", no
# character of UTF-8 cut in half.
function bl_fit(s, w,   c) {
	gsub(/\t/, " ", s)
	gsub(/[\001-\037\177]/, "?", s)
	if (length(s) <= w) return s
	c = substr(s, w + 1, 1)
	s = substr(s, 1, w)
	if (c >= "\200" && c < "\300") {
		sub(/[\200-\277]*$/, "", s)
		sub(/[\300-\377]$/, "", s)
	}
	return s
}
function bl_mmss(t) {
	if (t < 0) t = 0
	return sprintf("%d:%02d", int(t / 60), t % 60)
}
function bl_rate(b, t) {
	if (b <= 0) return ""
	if (t < 1) t = 1
	b /= t
	if (b >= 1048576) return sprintf(", %.1f MB/s", b / 1048576)
	return sprintf(", %.1f KB/s", b / 1024)
}
# ", WHAT DONE/PLANNED" of a kind of action planned (a dry run: what
# it would do).
function bl_counts(done, planned, what) {
	if (planned == 0) return ""
	if (dryrun) return ", " bl_dry[what] " " planned
	return ", " what " " done "/" planned
}
function bl_aline(a,   s, x) {
	s = bl_st[a]
	if (s == "syncing" && bl_cur[a]) s = s " " bl_f[a, bl_cur[a], "name"]
	else if (s == "done") s = "done in " bl_mmss(bl_t1[a] - bl_t0[a])
	else if (s == "sleeping") s = "sleeping, next sync in " bl_mmss(bl_sleep[a] - systime())
	s = a ": " s
	if ((a, "folders") in bl_pa) s = s ", folders " bl_fdone[a] "/" bl_pa[a, "folders"]
	s = s bl_counts(bl_nd[a, "c"] + 0, bl_pa[a, "c"], "copied") \
	    bl_counts(bl_nd[a, "f"] + 0, bl_pa[a, "f"], "flags") \
	    bl_counts(bl_nd[a, "d"] + 0, bl_pa[a, "d"], "deleted")
	if (bl_nd[a, "x"] > 0) s = s ", " bl_nd[a, "x"] " failed"
	s = s bl_rate(bl_bytes[a], bl_ta1[a] - bl_ta0[a])
	x = bl_nerr[a]
	if (x > 0) s = s ", " x " error" (x > 1 ? "s" : "")
	return s
}
function bl_fline(a, j,   s, r, st) {
	r = bl_f[a, j, "name"]
	st = bl_f[a, j, "st"]
	if (st == "done" && bl_pn[a, r, "c"] + bl_pn[a, r, "f"] + bl_pn[a, r, "d"] == 0 && !bl_f[a, j, "x"])
		st = "nothing to do"
	s = "  " r ": " st \
	    bl_counts(bl_f[a, j, "c"] + 0, bl_pn[a, r, "c"], "copied") \
	    bl_counts(bl_f[a, j, "f"] + 0, bl_pn[a, r, "f"], "flags") \
	    bl_counts(bl_f[a, j, "d"] + 0, bl_pn[a, r, "d"], "deleted")
	if (bl_f[a, j, "x"] > 0) s = s ", " bl_f[a, j, "x"] " failed"
	return s bl_rate(bl_f[a, j, "b"], bl_f[a, j, "t1"] - bl_f[a, j, "t0"])
}
# Which folder lines matter most when not all fit: 1 the folder being
# synced, 2 one where something happened, 3 the others.
function bl_class(a, j,   st) {
	st = bl_f[a, j, "st"]
	if (st == "syncing") return 1
	if (st != "done" && st != "not changed") return 2
	if (bl_f[a, j, "c"] + bl_f[a, j, "f"] + bl_f[a, j, "d"] + bl_f[a, j, "x"] > 0) return 2
	return 3
}
# The screen: the account lines (all that fit), then as many folder
# lines as leave a third of the rest to the log, under their account,
# the latest first when they do not all fit; a rule; the log.  When
# only new log lines came, the log scrolls in its own region (DECSTBM)
# and only they are written.  FINAL: the last line is written last,
# followed by a newline.
function bl_draw(final,   w, avail, nacc, rest, rule, budget, nsel, cls, k, i, j, a, maxf, ns, L, nlog, ltop, r, out, s, last, top) {
	if (bl_R < 2) bl_R = 2
	w = bl_C > 1 ? bl_C - 1 : 1
	avail = bl_R - 1
	nacc = bl_na < avail ? bl_na : avail
	rest = avail - nacc
	rule = rest >= 2
	if (rule) rest--
	budget = rest > 3 ? rest - int(rest / 3) : rest - 1
	if (budget < 0) budget = 0
	delete bl_sel
	nsel = maxf = 0
	for (i = 1; i <= nacc; i++) if (bl_nf[bl_an[i]] > maxf) maxf = bl_nf[bl_an[i]]
	for (cls = 1; cls <= 3 && nsel < budget; cls++)
		for (k = 0; k < maxf && nsel < budget; k++)
			for (i = 1; i <= nacc && nsel < budget; i++) {
				a = bl_an[i]
				j = bl_nf[a] - k
				if (j >= 1 && !((a, j) in bl_sel) && bl_class(a, j) == cls) {
					bl_sel[a, j] = 1
					nsel++
				}
			}
	ns = 0
	for (i = 1; i <= nacc; i++) {
		a = bl_an[i]
		L[++ns] = bl_fit(bl_aline(a), w)
		for (j = 1; j <= bl_nf[a]; j++)
			if ((a, j) in bl_sel) L[++ns] = bl_fit(bl_fline(a, j), w)
	}
	if (rule) {
		if (length(bl_rule) != w) {
			bl_rule = ""
			for (i = 0; i < w; i++) bl_rule = bl_rule "-"
		}
		L[++ns] = bl_rule
	}
	ltop = ns + 1
	nlog = avail - ns
	if (nlog > bl_nlog) nlog = bl_nlog
	if (nlog > 511) nlog = 511
	for (i = bl_nlog - nlog + 1; i <= bl_nlog; i++) L[++ns] = bl_fit(bl_logl[i % 512], w)
	out = ""
	if (bl_fresh) {
		out = "\033[H\033[2J"
		delete bl_prev
		bl_fresh = 0
	} else if (ltop == bl_ltop && nlog == avail - ltop + 1 && bl_lshown == nlog &&
	    (k = bl_nlog - bl_llast) > 0 && k < nlog) {
		out = "\033[" ltop ";" avail "r\033[" avail ";1H"
		for (i = 0; i < k; i++) out = out "\n"
		out = out "\033[r"
		for (r = ltop; r <= avail; r++) bl_prev[r] = r + k <= avail ? bl_prev[r + k] : ""
	}
	bl_ltop = ltop
	bl_lshown = nlog
	bl_llast = bl_nlog
	last = final ? ns : 0
	top = ns > bl_nprev ? ns : bl_nprev
	for (r = 1; r <= top; r++) {
		s = r <= ns ? L[r] : ""
		if (r == last || s == bl_prev[r]) continue
		out = out "\033[" r ";1H" s "\033[K"
		bl_prev[r] = s
	}
	bl_nprev = ns
	if (last) out = out "\033[" last ";1H" L[last] "\033[K\n"
	else if (out != "") out = out "\033[" (ns + 1) ";1H"
	printf "%s", out
	fflush()
	bl_dirty = bl_urgent = 0
}
# Events that change what the status area shows.
function bl_event(c, a,   j) {
	if (c == "apply") bl_apply(a)
	else if (c == "register") bl_state(a, "waiting")
	else if (c == "acct") {
		bl_reset(a)
		bl_t0[a] = systime()
		bl_state(a, "starting")
	} else if (c == "callhook") {
		if (bl_st[a] != "running a hook") bl_state(a, "running a hook")
	} else if (c == "connecting")
		bl_state(a, "connecting, listing")
	else if (c == "plan") {
		bl_ta0[a] = bl_ta1[a] = systime()
		bl_state(a, "syncing")
	} else if (c == "skipping") {
		j = bl_folder(a, f[3])
		bl_f[a, j, "st"] = "not changed"
		bl_touch(0)
	} else if (c == "validity") {
		j = bl_folder(a, f[3])
		bl_f[a, j, "st"] = "UID validity problem"
		bl_touch(1)
	} else if (c == "acctdone") {
		bl_t1[a] = systime()
		bl_state(a, "done")
	} else if (c == "sleeping") {
		bl_sleep[a] = systime() + f[4]
		bl_state(a, f[3] > 0 ? "sleeping" : "done")
	} else if (c == "unregister") {
		if (bl_st[a] == "sleeping") bl_state(a, "done")
		else if (bl_st[a] == "waiting") bl_state(a, "stopped")
	} else if (c == "error" && a != "") {
		bl_nerr[a]++
		bl_touch(1)
	} else if (c == "terminate") {
		if (!bl_done) bl_draw(1)
		bl_done = 1
	}
	bl_tick()
}
BEGIN {
	FS = "\t"
	for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i
	s = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
	for (i = 1; i <= length(s); i++) safe[substr(s, i, 1)] = 1
	lv["debug"] = 10; lv["info"] = 20; lv["warn"] = 30; lv["error"] = 40
	sev["debug"] = "debug"; sev["info"] = "msg"; sev["warn"] = "warn"; sev["error"] = "error"
	logname["debug"] = "DEBUG"; logname["info"] = "INFO"; logname["warn"] = "WARNING"; logname["error"] = "ERROR"
	thresh = ui == "quiet" ? 30 : 20
	logthresh = 20
	if (debug != "") thresh = logthresh = 10
	n = split(debug, d, ",")
	for (i = 1; i <= n; i++) if (d[i] != "") dbg[d[i]] = 1
	dbg[""] = 1
	last_thread = ""
	main_thr = "MainThread"
	bl = ui == "blinkenlights"
	bl_kind["fetch"] = bl_kind["upload"] = "c"
	bl_kind["flags-local"] = bl_kind["flags-remote"] = "f"
	bl_kind["delete-local"] = bl_kind["delete-remote"] = "d"
	bl_dry["copied"] = "to copy"
	bl_dry["flags"] = "flags to change"
	bl_dry["deleted"] = "to delete"
	# the size of the terminal: from stty, else $LINES and $COLUMNS, else 24x80
	bl_stty = rows > 0
	bl_R = rows > 0 ? rows + 0 : ENVIRON["LINES"] > 0 ? ENVIRON["LINES"] + 0 : 24
	bl_C = cols > 0 ? cols + 0 : ENVIRON["COLUMNS"] > 0 ? ENVIRON["COLUMNS"] + 0 : 80
	bl_fresh = 1
	bl_sec = systime()
	nerr = 0
	logfile = ENVIRON["OI_LOGFILE"]
	banner = ENVIRON["OI_BANNER"]
	syslog_cmd = "logger -t \"offlineimap[" pid "]\""
	if (logfile != "") {
		printf "%s INFO: offlineimap %s starting...\n  Platform: %s\n  Args: %s\n", now(), version, ENVIRON["OI_PLATFORM"], ENVIRON["OI_ARGS"] >> logfile
		fflush(logfile)
	}
}
{
	for (i = 1; i <= NF; i++) f[i] = unq($i)
	c = $1; a = f[2]
	if (c == "apply") apply(a)
	else if (c == "banner") {
		if (ui == "machineui") {
			print banner
			fflush()
			info("protocol", "MainThread", "", "7.2.0")
			info("initbanner", "MainThread", "", banner)
		} else
			info("", "MainThread", banner, banner)
	} else if (c == "info") info("", f[3], f[4], f[4])
	else if (c == "display") info("_display", f[3], f[4], f[4])
	else if (c == "warn") emit("warn", "", f[3], f[4], f[4])
	else if (c == "error") {
		emit("error", "", f[3], "ERROR: " f[4], "ERROR: " f[4])
		errs[++nerr] = f[4]
	} else if (c == "debug") {
		if (f[4] in dbg) emit("debug", "", f[3], "[" f[4] "]: " f[5], "[" f[4] "]: " f[5])
	} else if (c == "repos") {
		rrepo[a] = f[3]; rtype[a] = f[4]; lrepo[a] = f[5]; ltype[a] = f[6]
	} else if (c == "register") {
		info("registerthread", f[3], "", a)
		if ("thread" in dbg) emit("debug", "", f[3], "[thread]: Register new thread \047" f[3] "\047 (account \047" a "\047)", "")
	} else if (c == "unregister") {
		main_thr = single ? f[3] : "MainThread"
		if (!single) {
			info("threadExited", "MainThread", "", f[3])
			info("unregisterthread", "MainThread", "", f[3])
			if ("thread" in dbg) emit("debug", "", "MainThread", "[thread]: Unregister thread \047" f[3] "\047", "")
		}
	} else if (c == "acct") {
		start[a] = systime()
		info("acct", athr(a), "*** Processing account " a, a)
	} else if (c == "acctdone") {
		t = systime() - start[a]
		info("acctdone", athr(a), sprintf("*** Finished account \047%s\047 in %d:%02d", a, int(t / 60), t % 60), a)
	} else if (c == "callhook") {
		info("callhook", athr(a), (dryrun ? "[DRYRUN] " : "") f[3], f[3])
	} else if (c == "connecting") {
		info("connecting", athr(a), "Establishing connection" (f[4] != "" ? " to " f[4] ":" f[5] : "") " (" f[3] ")", f[4] "\n" f[5] "\n" f[3])
	} else if (c == "syncfolders") {
		synced_folders[a] = 0
	} else if (c == "plan") loadplan(a, f[3])
	else if (c == "counts") {
		nremote[a, f[3]] = f[4]
		nlocal[a, f[3]] = f[5]
	} else if (c == "skipping") {
		if (!synced_folders[a]) {
			synced_folders[a] = 1
			info("syncfolders", athr(a), "", rtype[a] "\n" ltype[a])
		}
		t = fthr(a, f[3])
		info("registerthread", t, "", a)
		info("syncingfolder", t, "Syncing " f[3] ": " rtype[a] " -> " ltype[a], rtype[a] "\n" f[3] "\n" ltype[a] "\n" f[4] "\n")
		if (f[5] != "") {
			info("loadmessagelist", t, "", ltype[a] "\n" f[4])
			info("messagelistloaded", t, "", ltype[a] "\n" f[4] "\n" f[5])
		}
		info("", t, "Skipping " f[3] " (not changed)", "Skipping " f[3] " (not changed)")
		if (!single) {
			info("threadExited", "MainThread", "", t)
			info("unregisterthread", "MainThread", "", t)
		}
	} else if (c == "validity") {
		t = "UID validity problem for folder " f[3] " (repo " rrepo[a] ") (saved " f[4] "; got " f[5] "); skipping it. Please see FAQ and manual on how to handle this."
		emit("warn", "validityproblem", fthr(a, f[3]), t, f[3] "\n" rrepo[a] "\n" f[4] "\n" f[5])
		uidval = 1
	} else if (c == "sleeping") {
		if (ui == "machineui") info("sleeping", athr(a), "", f[3] "\n" f[4])
		else if (f[3] > 0 && int(f[4] / 60) != int((f[4] - f[3]) / 60)) {
			t = sprintf("Next refresh in %.1f minutes", f[4] / 60.0)
			emit(ui == "ttyui" ? "info" : "debug", "", athr(a), t, t)
		}
	} else if (c == "raw") {
		if (bl)
			bl_log(f[3], 0)
		else {
			print f[3]
			fflush()
		}
	} else if (c == "terminate") {
		if (ui != "machineui") {
			if (nerr > 0) {
				emit("warn", "", "MainThread", "ERROR: Exceptions occurred during the run!", "")
				for (i = 1; i <= nerr; i++) emit("warn", "", "MainThread", "ERROR: " errs[i], "")
			}
			if (f[5] != "") emit("warn", "", "MainThread", f[5] "\n", "")
			if (uidval) emit("warn", "", "MainThread", "At least one folder skipped due to UID validity problem", "")
		}
		info("terminate", main_thr, "", f[3] "\n" f[4] "\n" f[5])
	}
	if (bl) bl_event(c, a)
}
# (the end of the input without a terminate: the driver killed)
END { if (bl && !bl_done && bl_nprev) bl_draw(1) }'

ui_start() {
	# with the FIFOs of the accounts named (their number at most: the
	# rest are made when needed), one process for all
	IFS=,
	set -f
	# shellcheck disable=SC2086
	set -- ${o_accounts:-${g_accounts-}}
	set +f
	unset IFS
	_n=$#
	[ "$_n" -gt 16 ] && _n=16
	set -- "$W/ui"
	_i=1
	while [ $_i -le "$_n" ]; do
		set -- "$@" "$W/a$_i.lock.in" "$W/a$_i.lock.out" "$W/a$_i.apply.fifo" "$W/a$_i.plan.fifo" "$W/a$_i.share.out"
		_i=$((_i + 1))
	done
	mkfifo "$@" || die "cannot create a FIFO in $W"
	# strings reach awk through the environment: -v would read escapes
	case $ui in
	ttyui | blinkenlights) exec 6>&2 ;;
	*) exec 6>&1 ;;
	esac
	# blinkenlights: the size of the terminal, which it checks again
	# once a second while it draws (rows 0: stty could not tell)
	_rows=0 _cols=0
	if [ "$ui" = blinkenlights ]; then
		_sz=$(stty size <&2 2>/dev/null)
		case $_sz in
		[1-9]*\ [1-9]*) _rows=${_sz% *} _cols=${_sz#* } ;;
		esac
	fi
	_plat=
	[ -n "$o_log" ] && _plat=$(uname -s 2>/dev/null | tr 'A-Z' 'a-z')
	# shellcheck disable=SC2086
	OI_LOGFILE=$o_log OI_ARGS=$argv0 OI_BANNER=$banner OI_PLATFORM=$_plat \
	LC_ALL=C awk $AWKI -v ui="$ui" -v dryrun="$dryrun" -v debug="$debug" \
	    -v also_syslog="$o_syslog" -v pid=$$ -v version="$VERSION" -v single="$o_single" \
	    -v rows="$_rows" -v cols="$_cols" \
	    "$ui_program" <"$W/ui" >&6 &
	ui_pid=$!
	exec 6>&-
	exec 5>"$W/ui"
}

# ev COMMAND ACCOUNT ARG...: one event for the UI.
ev() {
	_e=$1
	shift
	for _f; do
		case $_f in
		*[[:cntrl:]]* | \"*) _f=$(rq "$_f") ;;
		esac
		_e=$_e$TAB$_f
	done
	printf '%s\n' "$_e" >&5
}

banner="OfflineIMAP $VERSION (offlineimap-tools)
  Compatible with OfflineIMAP 8: same options, configuration and state on disk"

# ---- Python, for the values that are Python expressions ----

# What a Python expression of the configuration sees: the globals of
# [general] pythonfile (OI_PYTHONFILE) and re, as in OfflineIMAP.
py_globals='
import os, sys
g = {}
pf = os.environ.get("OI_PYTHONFILE")
if pf:
    sys.path.insert(0, os.path.dirname(os.path.abspath(pf)))
    with open(pf) as f:
        exec(compile(f.read(), pf, "exec"), g)
import re
g.setdefault("re", re)
'

# pyeval EXPR: print the value of a Python expression (after [general]
# pythonfile), as the tools evaluate remotepasseval and the like.
pyeval() {
	OI_EXPR=$1 OI_PYTHONFILE=$pythonfile python3 -c "$py_globals"'
import os, sys
v = eval(os.environ["OI_EXPR"], g)
if callable(v):
    v = v()
if isinstance(v, bytes):
    v = v.decode("utf-8")
sys.stdout.write(str(v))'
}

have_python() {
	command -v python3 >/dev/null 2>&1
}

# ---- mbnames (OfflineIMAP's mbnames.py): an intermediate JSON file per
# account under <metadata>/mbnames, and the file made of all of them ----

mb_enabled=0
mb_incremental=0
mb_init() {
	[ $has_mbnames = 1 ] || return 0
	if ! cfg_load mbc mbnames; then
		ev error '' MainThread "$cerr"
		return 1
	fi
	is_true "${mbc_enabled:-no}" || return 0
	mb_enabled=1
	is_true "${mbc_incremental:-no}" && mb_incremental=1
	for o in filename header peritem sep footer; do
		if [ -z "$(val mbc "$o" "")" ] && eval "[ -z \"\${mbc_$o+x}\" ]"; then
			ev error '' MainThread "[mbnames] $o is not set: mbnames is not written"
			mb_enabled=0
			return 1
		fi
	done
	if ! mb_file=$(cfg_get mbnames.filename); then
		ev error '' MainThread "$cerr"
		mb_enabled=0
		return 1
	fi
	mb_peritem=$mbc_peritem
	mb_python=0
	for o in header sep footer; do
		if lit=$(mb_literal "$(val mbc "$o")"); then
			eval "mb_$o=\${lit%x}"
		else
			mb_python=1
		fi
	done
	[ -n "${mbc_folderfilter+x}" ] && mb_python=1
	[ -n "${mbc_sort_keyfunc+x}" ] && mb_python=1
	if [ $mb_python = 1 ] && ! have_python; then
		ev error '' MainThread "[mbnames] holds Python expressions (not only string literals in header, sep and footer, or a folderfilter or sort_keyfunc) and python3 is not installed: write header, sep and footer as string literals, or install python3"
		mb_enabled=0
		return 1
	fi
	return 0
}

# mb_literal TEXT: the value of a Python string literal ("..." or '...'
# with the common escapes), or failure if TEXT is anything else.
mb_literal() {
	printf '%s' "$1" | LC_ALL=C awk 'BEGIN { RS = "\001\002\003" }
	{
		s = $0
		sub(/^[ \t\n]+/, "", s); sub(/[ \t\n]+$/, "", s)
		q = substr(s, 1, 1)
		if ((q != "\"" && q != "\047") || length(s) < 2 || substr(s, length(s), 1) != q) exit 1
		o = ""
		for (i = 2; i < length(s); i++) {
			c = substr(s, i, 1)
			if (c == q) exit 1
			if (c != "\\") { o = o c; continue }
			d = substr(s, ++i, 1)
			if (d == "n") o = o "\n"
			else if (d == "t") o = o "\t"
			else if (d == "r") o = o "\r"
			else if (d == "\\" || d == "\"" || d == "\047") o = o d
			else exit 1
		}
		printf "%sx", o
		ok = 1
	}
	END { exit !ok }'
}

# mb_json ACCOUNT ROOT < folder names: the intermediate file's content,
# as Python's json.dump writes it (ASCII, \uXXXX escapes).
mb_json() {
	OI_ACCT=$1 OI_ROOT=$2 LC_ALL=C awk '
	function js(s,   o, i, c, b, cp, n, hi, lo) {
		o = "\""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1); b = ord[c]
			if (c == "\"") o = o "\\\""
			else if (c == "\\") o = o "\\\\"
			else if (c == "\n") o = o "\\n"
			else if (c == "\r") o = o "\\r"
			else if (c == "\t") o = o "\\t"
			else if (c == "\b") o = o "\\b"
			else if (c == "\f") o = o "\\f"
			else if (b < 32 || b == 127) o = o sprintf("\\u%04x", b)
			else if (b < 128) o = o c
			else {
				if (b >= 240) { cp = b - 240; n = 3 }
				else if (b >= 224) { cp = b - 224; n = 2 }
				else { cp = b - 192; n = 1 }
				while (n-- > 0) cp = cp * 64 + ord[substr(s, ++i, 1)] - 128
				if (cp >= 65536) {
					cp -= 65536
					hi = 55296 + int(cp / 1024); lo = 56320 + cp % 1024
					o = o sprintf("\\u%04x\\u%04x", hi, lo)
				} else
					o = o sprintf("\\u%04x", cp)
			}
		}
		return o "\""
	}
	BEGIN {
		for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i
		n = 0; acct = ENVIRON["OI_ACCT"]; root = ENVIRON["OI_ROOT"]
	}
	{ item[++n] = "{\"accountname\": " js(acct) ", \"foldername\": " js($0) ", \"localfolders\": " js(root) "}" }
	END {
		printf "["
		for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? ", " : ""), item[i]
		printf "]"
	}'
}

# mb_write: the mbnames file from every intermediate file.
mb_write() {
	[ $mb_enabled = 1 ] || return 0
	if [ $dryrun = 1 ]; then
		ev info '' MainThread "mbnames would write $mb_file"
		return 0
	fi
	if [ $mb_python = 1 ]; then
		if ! OI_DIR=$metadata/mbnames OI_OUT=$mb_file OI_PYTHONFILE=$pythonfile \
		    OI_PERITEM=$mb_peritem OI_HEADER=$mbc_header \
		    OI_SEP=$mbc_sep OI_FOOTER=$mbc_footer \
		    OI_SORT=${mbc_sort_keyfunc:-} \
		    python3 -c "$py_globals"'
import json, os, sys
header = eval(os.environ["OI_HEADER"], g)
sep = eval(os.environ["OI_SEP"], g)
footer = eval(os.environ["OI_FOOTER"], g)
key = lambda d: (d["accountname"], d["foldername"])
if os.environ.get("OI_SORT"):
    key = eval(os.environ["OI_SORT"], g, {"re": re})
items = []
d = os.environ["OI_DIR"]
for n in os.listdir(d):
    p = os.path.join(d, n)
    if os.path.isfile(p) and n.endswith(".json"):
        with open(p, encoding="utf-8") as f:
            items.extend(json.load(f))
items.sort(key=key)
items = [os.environ["OI_PERITEM"] % i for i in items]
with open(os.environ["OI_OUT"], "w", encoding="utf-8") as f:
    f.write(header)
    f.write(sep.join(items))
    f.write(footer)' 2>"$W/mb.err.${lane:-0}"; then
			ev error '' MainThread "mbnames file $mb_file not properly written: $(cat "$W/mb.err.${lane:-0}")"
			return 1
		fi
		return 0
	fi
	for j in "$metadata"/mbnames/*.json; do
		[ -f "$j" ] && cat "$j" && echo
	done | OI_PERITEM=$mb_peritem OI_HEADER=$mb_header OI_SEP=$mb_sep \
	    OI_FOOTER=$mb_footer LC_ALL=C awk '
	# The JSON of the intermediate files: lists of objects of strings.
	function utf8(cp) {
		if (cp < 128) return sprintf("%c", cp)
		if (cp < 2048) return sprintf("%c%c", 192 + int(cp / 64), 128 + cp % 64)
		if (cp < 65536) return sprintf("%c%c%c", 224 + int(cp / 4096), 128 + int(cp / 64) % 64, 128 + cp % 64)
		return sprintf("%c%c%c%c", 240 + int(cp / 262144), 128 + int(cp / 4096) % 64, 128 + int(cp / 64) % 64, 128 + cp % 64)
	}
	function hex(s,   i, v) {
		v = 0
		for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
		return v
	}
	BEGIN {
		RS = "\001\002\003"; n = 0
		peritem = ENVIRON["OI_PERITEM"]; header = ENVIRON["OI_HEADER"]
		sep = ENVIRON["OI_SEP"]; footer = ENVIRON["OI_FOOTER"]
	}
	{
		s = $0; i = 1; L = length(s); key = ""; obj = 0
		while (i <= L) {
			c = substr(s, i, 1)
			if (c == "{") { obj = ++n; i++; continue }
			if (c != "\"") { i++; continue }
			o = ""
			for (i++; i <= L; i++) {
				c = substr(s, i, 1)
				if (c == "\"") break
				if (c != "\\") { o = o c; continue }
				d = substr(s, ++i, 1)
				if (d == "u") {
					cp = hex(substr(s, i + 1, 4)); i += 4
					if (cp >= 55296 && cp < 56320 && substr(s, i + 1, 2) == "\\u") {
						cp = 65536 + (cp - 55296) * 1024 + hex(substr(s, i + 3, 4)) - 56320
						i += 6
					}
					o = o utf8(cp)
				} else if (d == "n") o = o "\n"
				else if (d == "t") o = o "\t"
				else if (d == "r") o = o "\r"
				else if (d == "b") o = o "\b"
				else if (d == "f") o = o "\f"
				else o = o d
			}
			i++
			while (substr(s, i, 1) == " ") i++
			if (substr(s, i, 1) == ":") key = o
			else if (obj) val[obj, key] = o
		}
	}
	END {
		for (k = 1; k <= n; k++) idx[k] = k
		for (k = 2; k <= n; k++) {	# sort by (accountname, foldername)
			t = idx[k]
			for (j = k - 1; j >= 1 && later(idx[j], t); j--) idx[j + 1] = idx[j]
			idx[j + 1] = t
		}
		printf "%s", header
		for (k = 1; k <= n; k++) printf "%s%s", (k > 1 ? sep : ""), item(idx[k])
		printf "%s", footer
	}
	function later(x, y) {
		if (val[x, "accountname"] != val[y, "accountname"])
			return val[x, "accountname"] > val[y, "accountname"]
		return val[x, "foldername"] > val[y, "foldername"]
	}
	# Python % formatting with a dict, for %(key)s and %%.
	function item(k,   o, p, i, c, j, name) {
		o = ""; p = peritem
		for (i = 1; i <= length(p); i++) {
			c = substr(p, i, 1)
			if (c != "%") { o = o c; continue }
			if (substr(p, i + 1, 1) == "%") { o = o "%"; i++; continue }
			if (substr(p, i + 1, 1) == "(" && (j = index(substr(p, i + 2), ")s")) > 0) {
				name = substr(p, i + 2, j - 1)
				o = o val[k, name]
				i += j + 2
				continue
			}
			o = o c
		}
		return o
	}' >"$W/mb.out.${lane:-0}" && cat "$W/mb.out.${lane:-0}" >"$mb_file" ||
		{ ev error '' MainThread "mbnames file $mb_file not properly written"; return 1; }
}

# mb_account ACCOUNT ROOT FOLDERS-FILE: the intermediate file of an account.
mb_account() {
	[ $mb_enabled = 1 ] || return 0
	_path=$metadata/mbnames/$1.json
	if [ $dryrun = 1 ]; then
		ev info "$1" "Account sync $1" "mbnames would write $_path"
		return 0
	fi
	_list=$3
	if [ -n "${mbc_folderfilter:-}" ]; then
		if ! OI_FF=$mbc_folderfilter OI_ACCT=$1 OI_PYTHONFILE=$pythonfile python3 -c "$py_globals"'
import os, sys
ff = eval(os.environ["OI_FF"], g, {"re": re})
a = os.environ["OI_ACCT"]
for n in sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\n")[:-1]:
    if ff(a, n):
        sys.stdout.buffer.write(n.encode("utf-8", "surrogateescape") + b"\n")' <"$_list" >"$_list.ff"; then
			ev error "$1" "Account sync $1" "[mbnames] folderfilter failed"
			return 1
		fi
		_list=$_list.ff
	fi
	mkdir -p "$metadata/mbnames" &&
	mb_json "$1" "$2" <"$_list" >"$_path.tmp" && mv "$_path.tmp" "$_path" ||
		{ ev error "$1" "Account sync $1" "intermediate mbnames file $_path not properly written"; return 1; }
	[ $mb_incremental = 1 ] && mb_write
	return 0
}

# mb_folders PLAN: the local names of the plan's folders, in its order:
# those it syncs, and those skipped (-q) or refused, whose local name is
# the remote one through the remote nametrans, the server's delimiter made
# the local sep.
mb_folders() {
	LC_ALL=C awk -F '\t' "$awk_unq"'
	FILENAME == ARGV[1] && $1 == "mailbox" { delim[unq($8)] = $7 }
	FILENAME == ARGV[2] {
		if ($1 == "folder") print "L\t" unq($5)
		else if ($1 == "revalidate") print "L\t" unq($6)
		else if ($1 == "refuse") { n = unq($4); print "R\t" n "\t" delim[n] }
		else if ($0 ~ /^# .*: skipped by -q/) {
			n = substr($0, 3); sub(/: skipped by -q.*/, "", n)
			print "R\t" n "\t" delim[n]
		}
	}' "$d.remote" "$1" >"$d.mb.kinds" || return 1
	grep "^R$TAB" "$d.mb.kinds" | cut -f2 >"$d.mb.remote"
	_lsep=.
	if [ -s "$d.mb.remote" ]; then
		_lsep=${lr_sep:-.}
		if [ -n "${rr_nametrans:-}" ]; then
			if ! have_python; then
				ev warn "$acct" "$thr" "mbnames: the remote nametrans needs python3: folders skipped or refused are left out"
				: >"$d.mb.remote"
			elif ! OI_NT=$rr_nametrans OI_PYTHONFILE=$pythonfile python3 -c "$py_globals"'
import os, sys
nt = eval(os.environ["OI_NT"], g)
for n in sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\n")[:-1]:
    sys.stdout.buffer.write(nt(n).encode("utf-8", "surrogateescape") + b"\n")' \
			    <"$d.mb.remote" >"$d.mb.visible"; then
				return 1
			fi
		else
			cp "$d.mb.remote" "$d.mb.visible"
		fi
	fi
	: >>"$d.mb.visible"
	OI_LSEP=$_lsep LC_ALL=C awk -F '\t' '
	FILENAME == ARGV[1] { vis[++nv] = $0; next }
	$1 == "L" { print $2; next }
	$1 == "R" {
		v = vis[++k]; dl = $3; o = ""
		for (i = 1; i <= length(v); i++) {
			c = substr(v, i, 1)
			o = o (c == dl ? ENVIRON["OI_LSEP"] : c)
		}
		print o
	}' "$d.mb.visible" "$d.mb.kinds" | awk '!seen[$0]++'
	rm -f "$d.mb.visible"
}

# ---- running tools ----

tool_pid=
nowsecs() {
	date +%s.%N 2>/dev/null | sed 's/\.N$//; s/\.\([0-9]\{3\}\).*/.\1/'
}

# wait_pid PID: its exit status.  A signal this shell traps ends a wait
# early (and dash's wait may return early once more after the trap ran):
# wait again while the process is there, or not yet reaped.
wait_pid() {
	while :; do
		# (dash says "Terminated" of a child a signal ended)
		wait "$1" 2>/dev/null
		_w=$?
		if [ $_w -gt 128 ] && kill -0 "$1" 2>/dev/null; then
			continue
		fi
		return $_w
	done
}

# run OUT ERR TOOL ARG...: the tool in the background (so that signals
# reach this shell at once), its output in OUT and ERR.
run() {
	_out=$1 _err=$2
	shift 2
	[ -n "$o_profile" ] && _t0=$(nowsecs)
	[ -n "$debug" ] && ev debug "$acct" "$thr" '' "running: $*"
	tool_name=${1##*/}
	echo "account $acct: $tool_name" >"$W/state.$lane"
	_fwd=
	case ${1##*/} in
	imap-list | sync-apply | imap-rmfolder)
		if debug_on imap; then
			# the protocol trace, live, as debug messages
			rm -f "$_err.fifo"
			mkfifo "$_err.fifo"
			# shellcheck disable=SC2086
			OI_ACCT=$acct OI_THR=$thr OI_ERR=$_err LC_ALL=C awk $AWKI '
			function q(s) { return s ~ /[\001-\037\177]/ || s ~ /^"/ ? "-" : s }
			/^[CS]: / {
				print "debug\t" q(ENVIRON["OI_ACCT"]) "\t" q(ENVIRON["OI_THR"]) "\timap\t" (/[\001-\037\177]/ || /^"/ ? "(unprintable)" : $0)
				fflush(); next
			}
			{ print > ENVIRON["OI_ERR"] }' <"$_err.fifo" >&5 4>&- &
			_fwd=$!
			_err=$_err.fifo
		fi ;;
	esac
	"$@" >"$_out" 2>"$_err" </dev/null 4>&- 5>&- &
	tool_pid=$!
	wait_pid $tool_pid
	_rc=$?
	tool_pid= tool_name=
	if [ -n "$_fwd" ]; then
		wait $_fwd
		rm -f "$_err"
	fi
	echo "account $acct: between steps" >"$W/state.$lane"
	if [ -n "$o_profile" ]; then
		printf '%s\t%s\t%s\t%s\n' "${1##*/}" "$_t0" "$(nowsecs)" "$_rc" >>"$prof_file"
	fi
	[ -n "$debug" ] && ev debug "$acct" "$thr" '' "${1##*/} exited with $_rc"
	return $_rc
}

# bg_tool OUT ERR TOOL ARG...: the tool started in the background, its
# pid in $bg_pid (the tool's own: a signal must reach it, not a shell).
bg_tool() {
	_out=$1 _err=$2
	shift 2
	"$@" >"$_out" 2>"$_err" </dev/null 4>&- 5>&- &
	bg_pid=$!
}

# tool_errors FILE LEVEL: a tool's messages as warnings or errors.
tool_errors() {
	[ -s "$1" ] || return 0
	while IFS= read -r _l; do
		# a login that sharedlogin's imap-hold could not make: said
		# as the tool says its own
		if [ -n "${share_sock:-}" ]; then
			case $_l in
			*": $share_sock: no connection lent: imap-hold: Repository $a_remote: "*)
				_l="${_l%%": $share_sock: no connection lent: "*}: ${_l#*": $share_sock: no connection lent: imap-hold: Repository $a_remote: "}" ;;
			esac
		fi
		ev "$2" "$acct" "$thr" "$_l"
	done <"$1"
}

# ---- one account ----

# hook NAME COMMAND: run a hook as OfflineIMAP does, output reported.
hook() {
	[ -n "$2" ] || return 0
	[ $abort_now = 1 ] && return 0
	ev callhook "$acct" "Calling hook: $2"
	[ $dryrun = 1 ] && return 0
	echo "account $acct: $1" >"$W/state.$lane"
	OFFLINEIMAPSYNCMODE=$syncmode sh -c "$2" </dev/null >"$d.hook.out" 2>"$d.hook.err" 4>&- 5>&- &
	_hp=$!
	wait_pid $_hp
	_hrc=$?
	# the outputs whole, trailing newlines kept
	_ho=$(cat "$d.hook.out"; echo x)
	_he=$(cat "$d.hook.err"; echo x)
	ev callhook "$acct" "Hook stdout: ${_ho%x}${NL}Hook stderr:${_he%x}$NL"
	ev callhook "$acct" "Hook return code: $_hrc"
}

# lock_take / lock_give: the account lock, held by offlineimap-lock for as
# long as this shell keeps fd 4 (its standard input) open.
lock_take() {
	[ -p "$d.lock.in" ] || mkfifo "$d.lock.in" "$d.lock.out" || return 1
	# its lifetime is that of fd 4 alone: no signal ends it early; a
	# line after it ends says how, so that a line always comes
	(trap '' HUP INT TERM; "$T_LOCK" -f "$1"; _s=$?; echo "exit $_s"; exit $_s) \
	    <"$d.lock.in" >"$d.lock.out" 2>"$d.lock.err" 5>&- &
	lock_pid=$!
	# Both FIFOs opened read-write: such an open does not wait for the
	# other end.  A signal to this shell (a daemon's USR1, say) fails a
	# waiting open, and the redirection with it (which would leave the
	# lock half taken); a read it interrupts is read again on the same
	# descriptor, where nothing is lost.
	exec 4<>"$d.lock.in" 7<>"$d.lock.out"
	_lk=
	until read -r _lk <&7; do :; done
	exec 7<&-
	case $_lk in
	locked*) return 0 ;;
	esac
	exec 4>&-
	wait_pid $lock_pid
	_lrc=$?
	lock_pid=
	[ $_lrc = 75 ] && return 75
	return 1
}

lock_give() {
	[ -n "$lock_pid" ] || return 0
	exec 4>&-
	wait_pid $lock_pid
	lock_pid=
}

# The settings of the account $acct: a_* and the sections in ac_*, lr_*
# (local repository) and rr_* (remote repository).
acct_load() {
	if ! cfg_load ac "Account $acct"; then
		ev error "$acct" "$thr" "$cerr"
		return 1
	fi
	a_local=${ac_localrepository:-} a_remote=${ac_remoterepository:-}
	[ -n "$a_local" ] || { ev error "$acct" "$thr" "Account $acct: no localrepository"; return 1; }
	[ -n "$a_remote" ] || { ev error "$acct" "$thr" "Account $acct: no remoterepository"; return 1; }
	if ! cfg_load lr "Repository $a_local" || ! cfg_load rr "Repository $a_remote"; then
		ev error "$acct" "$thr" "$cerr"
		return 1
	fi
	a_ltype=${lr_type:-} a_rtype=${rr_type:-}
	case $a_ltype in
	Maildir | GmailMaildir) ;;
	*)
		ev error "$acct" "$thr" "Account $acct: local repository $a_local of type '$a_ltype' is not supported (Maildir and GmailMaildir are)"
		return 1 ;;
	esac
	case $a_rtype in
	IMAP | Gmail) ;;
	*)
		ev error "$acct" "$thr" "Account $acct: remote repository $a_remote of type '$a_rtype' is not supported (IMAP and Gmail are)"
		return 1 ;;
	esac
	[ -n "${lr_localfolders+x}" ] || { ev error "$acct" "$thr" "Repository $a_local: no localfolders"; return 1; }
	# the typed values (localfolders expanded, the default port), read
	# with the file; asked again for the message when one is in error
	eval "a_root=\${cfg_t${lr__idx}_localfolders-} a_port=\${cfg_t${rr__idx}_remoteport-} a_ssl=\${cfg_t${rr__idx}_ssl-}"
	if [ -z "$a_root" ] || [ -z "$a_port" ] || [ -z "$a_ssl" ]; then
		if ! _v=$(cfg_get "Repository $a_local.localfolders" "Repository $a_remote.remoteport" "Repository $a_remote.ssl"); then
			ev error "$acct" "$thr" "$cerr"
			return 1
		fi
		a_root=${_v%%"$NL"*}
		_v=${_v#*"$NL"}
		a_port=${_v%%"$NL"*}
		a_ssl=${_v#*"$NL"}
	fi
	a_host=${rr_remotehost:-}
	[ "$a_rtype" = Gmail ] && [ -z "$a_host" ] && a_host=imap.gmail.com
	a_tunnel=${rr_preauthtunnel:-${rr_transporttunnel:-}}
	if [ -n "$a_tunnel" ]; then
		a_host=tunnel a_port=$a_tunnel
	fi
	a_pre=${ac_presynchook:-} a_post=${ac_postsynchook:-}
	a_newmail=${rr_newmail_hook:-}
	a_quick=${ac_quick:-0}
	case $a_quick in
	'' | *[!0-9-]* | ?*-*)
		ev error "$acct" "$thr" "Account $acct: quick = $a_quick is not a number"
		return 1 ;;
	esac
	[ $o_quick = 1 ] && a_quick=-1
	# autorefresh: minutes (a float); a sync loop when it is not 0, each
	# sleep int(minutes * 60) seconds, as OfflineIMAP
	a_refresh=-1
	if [ $o_once = 0 ] && [ -n "${ac_autorefresh:-}" ]; then
		a_refresh=$(awk -v x="$ac_autorefresh" 'BEGIN { if (x + 0 <= 0) print -1; else print int(x * 60) }')
		case $ac_autorefresh in
		-*) ev warn "$acct" "$thr" "autorefresh for $acct is negative, fixing it to 0." ;;
		esac
	fi
	# earlylogin (ours): sync-apply logs in while the listings are made.
	# auto: not when the server is on this machine, where there is no
	# round trip to hide and a second login at the same time takes the
	# CPUs the listing needs (measured: a sync with nothing to do 40 ms
	# slower, one with changes no faster)
	a_early=${rr_earlylogin:-auto}
	case $a_early in
	[Aa][Uu][Tt][Oo])
		case $a_host in
		localhost | 127.* | ::1 | \[::1\]) a_early=0 ;;
		*) a_early=1 ;;
		esac ;;
	[Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn] | 1) a_early=1 ;;
	[Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | [Oo][Ff][Ff] | 0) a_early=0 ;;
	*)
		ev error "$acct" "$thr" "Repository $a_remote: earlylogin = $a_early is not auto, yes or no"
		return 1 ;;
	esac
	# sharedlogin (ours): imap-list and sync-apply share one login
	case ${rr_sharedlogin:-yes} in
	[Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn] | 1) a_share=1 ;;
	[Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | [Oo][Ff][Ff] | 0) a_share=0 ;;
	*)
		ev error "$acct" "$thr" "Repository $a_remote: sharedlogin = $rr_sharedlogin is not yes or no"
		return 1 ;;
	esac
	# idlefolders: IMAP IDLE between syncs, in a daemon (as OfflineIMAP)
	# (a list with a name in it, or an expression: not "[]")
	a_idle=0
	case ${rr_idlefolders:-} in
	*[\'\"A-Za-z_]*) [ "$a_refresh" -ge 0 ] && a_idle=1 ;;
	esac
	return 0
}

# fwd_start: sync-apply's records, from its FIFO to the UI (prefixed with
# the account) and to $d.applied.
fwd_start() {
	: >"$d.applied"
	# shellcheck disable=SC2086
	OI_PRE="apply$TAB$qa" LC_ALL=C awk $AWKI -v copy="$d.applied" \
	    'BEGIN { pre = ENVIRON["OI_PRE"] } { print pre "\t" $0; fflush(); print > copy }' \
	    <"$d.apply.fifo" >&5 4>&- &
	fwd_pid=$!
}

# apply_stop: a sync-apply started early whose plan never came (the sync
# ended before): it has read nothing and changed nothing, and goes.
apply_stop() {
	[ -n "$apply_pid" ] || return 0
	kill -KILL "$apply_pid" 2>/dev/null
	wait "$apply_pid" 2>/dev/null
	# its forwarder may still wait for it to open the FIFO
	kill "$fwd_pid" 2>/dev/null
	wait "$fwd_pid" 2>/dev/null
	apply_pid=
}

# list_remote FOLDER...: imap-list into $d.remote ($cflag: incremental);
# fails when the sync cannot go on ($arc set).
list_remote() {
	if [ -n "$list_pid" ]; then
		# started at the beginning of the sync (sync_locked)
		tool_pid=$list_pid tool_name=imap-list
		echo "account $acct: imap-list" >"$W/state.$lane"
		wait_pid $list_pid
		_lrc=$?
		tool_pid= tool_name= list_pid=
	else
		eval "run \"\$d.remote\" \"\$d.err.list\" \"\$T_LIST\" -c \"\$o_config\" $kq $hk $dflag $cflag -a \"\$acct\" -D -m \"\$@\""
		_lrc=$?
	fi
	if [ $_lrc != 0 ]; then
		scan_reap
		tool_errors "$d.err.list" error
		if [ $_lrc = 75 ]; then
			arc=75
			return 1
		fi
		arc=1
		grep -q '^end	' "$d.remote" || return 1
	fi
	[ $abort_now = 1 ] && { scan_reap; return 1; }
	return 0
}

# scan_reap: the local listing started beside the remote one, stopped.
scan_reap() {
	[ -n "$scan_pid" ] || return 0
	kill -TERM "$scan_pid" 2>/dev/null
	wait "$scan_pid" 2>/dev/null
	scan_pid=
}

# state_save: the listing state (imap-list -C) of each folder of the plan
# whose sync is complete: listed whole or as changes (not a window),
# nothing skipped by the plan (# skip) or by sync-apply, nothing failed,
# not refused.  Such a folder's messages are on both sides as the status
# says, so the next listing need name only what changed since.  Other
# folders of the plan lose their state (the next listing is full); folders
# the plan did not look at (-q, -f) keep theirs.  A state older than the
# status only makes a listing longer.
state_save() {
	: >>"$d.applied"
	[ -f "$lstate" ] || : >"$lstate"
	: >"$d.lkeep"
	: >"$d.lall"
	OI_LKEEP=$d.lkeep OI_LALL=$d.lall LC_ALL=C awk -F '\t' '
	FILENAME == ARGV[1] && $1 == "mailbox" { old[$8] = $0 }
	FILENAME == ARGV[2] && $1 == "mailbox" { lst[$8] = $0; mode[$8] = $6 }
	FILENAME == ARGV[2] && $1 == "end" { whole[$3] = 1 }
	FILENAME == ARGV[3] && $1 == "folder" { f = $4; inplan[f] = 1 }
	FILENAME == ARGV[3] && $1 == "end" { f = "" }
	FILENAME == ARGV[3] && /^# skip / && f != "" { bad[f] = 1 }
	FILENAME == ARGV[3] && $1 == "refuse" { inplan[$4] = bad[$4] = 1 }
	FILENAME == ARGV[3] && $1 == "revalidate" { inplan[$5] = bad[$5] = 1 }
	FILENAME == ARGV[4] && $1 == "end" && $4 == 0 && $5 == 0 { done[$2] = 1 }
	FILENAME == ARGV[4] && $1 == "error" { failed[$3] = 1 }
	FILENAME == ARGV[3] && $1 == "folder" { loc[$4] = $5 }
	FILENAME == ARGV[3] && /^# .*: skipped by -q/ {
		s = substr($0, 3); sub(/: skipped by -q.*/, "", s); quick[s] = 1
	}
	END {
		print "#format imap-messages 1.0"
		# a folder listed but not planned keeps its state only when
		# -q skipped it (one the folderfilter left out loses it)
		for (f in lst)
			if (!(f in inplan)) {
				if ((f in old) && (f in quick)) print old[f]
			} else if (done[f] && !failed[f] && whole[f] && !bad[f] && mode[f] != "window")
				print lst[f]
		for (f in old)
			if (!(f in lst) && !(f in inplan)) print old[f]
		# for local_save: which local folders were synced completely
		all = "all"; n = 0
		for (f in inplan) {
			ok = done[f] && !failed[f] && whole[f] && !bad[f] && mode[f] != "window"
			if (!ok) all = "some"
			if (f in loc) {
				print (ok ? "ok" : "no") "\t" loc[f] > ENVIRON["OI_LKEEP"]
				n++
			}
		}
		print all, n > ENVIRON["OI_LALL"]
	}' "$lstate" "$d.remote" "$plan" "$d.applied" >"$lstate.new" 2>/dev/null || {
		rm -f "$lstate" "$lstate.new"
		return
	}
	# a sync of some folders (-f, -q, IDLE) keeps the time of the state,
	# which sync-plan -T compares the status databases with: the others
	# were not looked at since
	if [ $o_fset = 1 ] || [ -n "$qflag" ]; then
		[ -s "$lstate" ] && touch -r "$lstate" "$lstate.new"
	fi
	mv -f "$lstate.new" "$lstate" || rm -f "$lstate" "$lstate.new"
}

# scan_summary: from maildir-scan -C's "# same: N of M folders as in the
# state", lfolders=M and lsame=1 when N is M.
scan_summary() {
	_h= _s= lsame=0 lfolders=
	[ -n "$sflag" ] && [ -f "$d.local" ] && { read -r _h; read -r _s; } 2>/dev/null <"$d.local"
	set -f
	# shellcheck disable=SC2086
	set -- $_s
	set +f
	[ "${2:-}" = same: ] || return 0
	lfolders=${5:-}
	[ "${3:-}" = "$lfolders" ] && lsame=1
	return 0
}

# local_save: the Maildir listing state (maildir-scan -C), by the same
# rule: the listing of each folder whose sync was complete.  When all
# were (the usual case), the listing itself; when every folder was as in
# the state and nothing was planned, nothing.  With -f or -q the state
# stays as it was (its folders then are of an earlier sync, which only
# makes it less used: a folder is skipped by sync-plan only when unchanged
# on both sides since the listings of one complete sync).
local_save() {
	{ [ $o_fset = 1 ] || [ -n "$qflag" ]; } && return 0
	# nothing planned, and every folder as in the state: the state is
	# the listing already
	[ $completed = 1 ] && [ "$lsum" = same ] && [ -n "$cflag" ] &&
		[ $lsame = 1 ] && return 0
	_all=
	read -r _all _n 2>/dev/null <"$d.lall"
	# every local folder planned and synced completely: the listing
	# itself (else only those folders' blocks)
	[ "$_all" = all ] && [ "$_n" = "$lfolders" ] || _all=some
	if [ "$_all" = all ]; then
		cp -f "$d.local" "$sstate.new" 2>/dev/null
	else
		[ -f "$sstate" ] || : >"$sstate"
		LC_ALL=C awk -F '\t' '
		BEGIN { print "#format maildir-messages 1.1" }
		FILENAME == ARGV[1] { st[$2] = $1; next }
		/^#/ { next }
		$1 == "mailbox" { keep = FILENAME == ARGV[2] ? !($5 in st) : st[$5] == "ok" }
		$1 == "error" { keep = 0; next }
		keep { print }
		$1 == "end" { keep = 0 }' "$d.lkeep" "$sstate" "$d.local" >"$sstate.new" 2>/dev/null
	fi && mv -f "$sstate.new" "$sstate" || rm -f "$sstate" "$sstate.new"
}

# ---- holdconnectionopen: imap-hold keeps the logins between syncs ----

# hold_check: in a daemon with holdconnectionopen, $hk is the -k option
# that sends the account's imap-list and sync-apply to its imap-hold,
# started (again, if it ended) here; empty otherwise, or when it cannot
# start (the tools then log in themselves).  Its stdin is the lane's
# FIFO, which the lane holds open on fd 8: it ends with the lane.
hold_check() {
	hk=
	[ "$a_refresh" -ge 0 ] && is_true "${rr_holdconnectionopen:-no}" || return 0
	eval "_hp=\${holdpid_$ai:-}"
	_hs=$d.hold.sock
	if [ -n "$_hp" ] && kill -0 "$_hp" 2>/dev/null && [ -S "$_hs" ]; then
		hold_k="Repository $a_remote:holdsocket=$_hs" hk='-k "$hold_k"'
		return 0
	fi
	if [ -n "$_hp" ]; then
		kill -TERM "$_hp" 2>/dev/null
		wait "$_hp" 2>/dev/null
		tool_errors "$d.hold.err" warn
	fi
	if [ ! -p "$W/hold.$lane" ]; then
		mkfifo "$W/hold.$lane" && exec 8<>"$W/hold.$lane" || return 0
	fi
	rm -f "$_hs"
	# (started directly: a shell in between would keep the lane's FIFOs
	# open, the lock's among them)
	eval "set -- \"\$T_HOLD\" -c \"\$o_config\" $kq -a \"\$acct\" -s \"\$_hs\""
	"$@" <"$W/hold.$lane" >"$d.hold.out" 2>"$d.hold.err" 4>&- 5>&- 8>&- 9>&- &
	_hp=$!
	eval "holdpid_$ai=\$_hp"
	hold_pids="$hold_pids $_hp"
	# ready when it listens (it logs in when a tool first connects)
	_n=0
	while [ ! -S "$_hs" ] && [ $_n -lt 100 ] && kill -0 "$_hp" 2>/dev/null; do
		sleep 0.05
		_n=$((_n + 1))
	done
	if [ -S "$_hs" ]; then
		ev debug "$acct" "$thr" imap "holdconnectionopen: imap-hold $_hp holds the connections"
		hold_k="Repository $a_remote:holdsocket=$_hs" hk='-k "$hold_k"'
	else
		ev warn "$acct" "$thr" "holdconnectionopen: imap-hold did not start ($(cat "$d.hold.err" 2>/dev/null)); each sync logs in"
	fi
}

# hold_stop: the lane's imap-hold processes log out and end.
hold_stop() {
	[ -n "$hold_pids" ] || return 0
	kill -TERM $hold_pids 2>/dev/null
	for _hp in $hold_pids; do
		wait "$_hp" 2>/dev/null
	done
	hold_pids=
}

# ---- sharedlogin: one login for the listing and sync-apply ----

# share_spawn: unless holdconnectionopen holds the connections, an
# imap-hold for this sync alone (-n 1), so that sync-apply goes on with
# the connection imap-list logged in with, instead of a login of its own
# (the server's work and round trips that are most of a small sync).
# Started before the lock is taken, to start meanwhile: it does nothing
# until a tool connects.  Its standard input is the lock's FIFO: it ends
# with the lock, and with this shell.  Not with -d or -P (each tool's
# own login is traced); when it cannot start, each tool logs in itself.
share_pid=
share_sock=
share_spawn() {
	share_pid= share_sock=
	[ "$a_share" = 1 ] && [ -z "$debug$o_profile" ] && [ -p "$d.share.out" ] || return 0
	[ "$a_refresh" -ge 0 ] && is_true "${rr_holdconnectionopen:-no}" && return 0
	# (it logs in at once, -l, unless the password may be asked for,
	# not before the lock is ours, or a presynchook runs first: it may
	# be what makes the server reachable, a tunnel say)
	_sl=
	[ -n "${rr_remotepass+x}${rr_remotepassfile+x}${rr_preauthtunnel+x}" ] &&
		[ -z "$a_pre" ] && _sl=-l
	eval "set -- \"\$T_HOLD\" -c \"\$o_config\" $kq -a \"\$acct\" -s \"\$d.share.sock\" -n 1 $_sl"
	"$@" <"$d.lock.in" >"$d.share.out" 2>"$d.share.err" 4>&- 5>&- 8>&- 9>&- &
	share_pid=$!
}

# share_ready: after lock_take, whether or not it took the lock (until
# its "ready" line is read, imap-hold waits to open the FIFO).  A signal
# to this shell (USR1, USR2, TERM of a daemon) can interrupt the open or
# the read: then it is stopped (TERM; it may wait for the FIFO, or be
# logging in) and each tool logs in itself, this once; a warning only
# when it failed by itself.
share_ready() {
	[ -n "$share_pid" ] || return 0
	_r=
	read -r _r _rest <"$d.share.out" 2>/dev/null
	if [ "$_r" = ready ] && [ -n "$lock_pid" ]; then
		share_sock=$d.share.sock
		return 0
	fi
	[ -n "$lock_pid" ] && [ -s "$d.share.err" ] &&
		ev warn "$acct" "$thr" "sharedlogin: imap-hold did not start ($(cat "$d.share.err" 2>/dev/null)); each tool logs in"
	kill -TERM "$share_pid" 2>/dev/null
	share_stop
}

# share_stop: after lock_give, which ended its input: it logs out.
share_stop() {
	[ -n "$share_pid" ] || return 0
	wait_pid "$share_pid"
	share_pid= share_sock=
}

# One sync of an account: sets $arc (0, 1, 2, 75).
sync_account() {
	arc=0
	d=$W/a$ai
	# the account's FIFOs (its files in $W are named $d.*), unless
	# ui_start made them
	[ -p "$d.lock.in" ] || mkfifo "$d.lock.in" "$d.lock.out" "$d.apply.fifo" "$d.plan.fifo" "$d.share.out"
	ev acct "$acct"
	if [ $dryrun = 0 ]; then
		# as OfflineIMAP: the metadata directories 0700, the Maildir root
		if { [ -d "$metadata" ] || mkdir -p -m 700 "$metadata"; } &&
		    { [ -d "$metadata/Account-$acct" ] || mkdir -m 700 "$metadata/Account-$acct"; }; then
			:
		else
			ev error "$acct" "$thr" "cannot create the metadata directory $metadata"
			arc=1
		fi
		if [ $arc = 0 ] && [ ! -d "$a_root" ] && ! mkdir -p -m 700 "$a_root"; then
			ev error "$acct" "$thr" "cannot create the local folders $a_root"
			arc=1
		fi
	fi
	locked=0
	if [ $arc = 0 ] && [ -d "$metadata" ]; then
		share_spawn
		lock_take "$metadata/$acct.lock"
		_lt=$?
		share_ready
		case $_lt in
		0) locked=1 ;;
		75)
			ev error "$acct" "$thr" "Could not lock account $acct. Is another instance using this account?"
			tool_errors "$d.lock.err" debug
			arc=75 ;;
		*)
			ev error "$acct" "$thr" "Could not lock account $acct: $(cat "$d.lock.err")"
			arc=1 ;;
		esac
	fi
	if [ $arc = 0 ]; then
		apply_pid=
		sync_locked
		apply_stop
		# stopped by a signal before the sync was done: try again later
		[ $abort_now = 1 ] && [ $completed = 0 ] && [ $arc = 0 ] && arc=75
	fi
	lock_give
	share_stop
	ev acctdone "$acct"
}

sync_locked() {
	completed=0
	# the account's name as a record field
	qa=$acct
	case $qa in *[[:cntrl:]]* | \"*) qa=$(rq "$qa") ;; esac
	# OfflineIMAP's quick counter (quick = N: N quick syncs after a full one)
	eval "qn=\$qnum_$ai"
	qn_before=$qn
	quick=0
	if [ "$a_quick" -lt 0 ]; then
		quick=1
	elif [ "$a_quick" -gt 0 ]; then
		if [ "$qn" = 0 ] || [ "$qn" -gt "$a_quick" ]; then
			qn=1
		else
			qn=$((qn + 1))
			quick=1
		fi
	fi
	eval "qnum_$ai=\$qn"
	syncmode=full
	[ $quick = 1 ] && syncmode=quick
	# a sync of the folders IDLE saw change: full, the counter untouched
	if [ "$idle_mode" = 1 ]; then
		eval "qnum_$ai=\$qn_before"
		quick=0 syncmode=idle
	fi

	hook presynchook "$a_pre"
	[ $abort_now = 1 ] && return

	ev connecting "$acct" "$a_remote" "$a_host" "$a_port"
	set --
	if [ -n "$o_folders" ]; then
		IFS=,
		set -f
		# shellcheck disable=SC2086
		set -- $o_folders
		set +f
		unset IFS
	fi
	dflag=
	debug_on imap && dflag=-d
	hold_check
	# (expanded by the eval that runs the tool: no quoting to do)
	share_k="Repository $a_remote:holdsocket=$share_sock"
	[ -z "$hk" ] && [ -n "$share_sock" ] && hk='-k "$share_k"'
	# incremental: the state of the folders whose last sync was complete
	# (below) spares the listing of all that did not change since
	# (and of the Maildir: maildir-scan -C copies the listing of a folder
	# whose cur/ and new/ did not change since, and sync-plan skips a
	# folder unchanged on both sides)
	lstate=$metadata/Account-$acct/imap-list.state
	sstate=$metadata/Account-$acct/maildir-scan.state
	cflag= sflag=
	if [ -z "${ac_maxage:-}${ac_maxsize:-}${ac_startdate:-}${lr_startdate:-}" ]; then
		[ -s "$lstate" ] && cflag='-C "$lstate"'
		sflag='-C "$sstate"'
	fi
	# the remote listing first: its login is the longest step
	list_pid=
	if [ -z "$debug$o_profile" ]; then
		eval "bg_tool \"\$d.remote\" \"\$d.err.list\" \"\$T_LIST\" -c \"\$o_config\" $kq $hk $cflag -a \"\$acct\" -D -m \"\$@\""
		list_pid=$bg_pid
	fi
	# sync-apply logs in while the listings are made (-p), and reads the
	# plan from a FIFO; the local listing runs while the server answers
	# (both only read); unless the steps are to be seen one by one (-d, -P).
	# Not with a password that a command or a prompt gives: two at once
	# could ask twice (imap-hold, which has its own, asks once).
	# A connection that imap-hold lends costs no login: always early.
	if [ $dryrun = 0 ] && [ -z "$debug$o_profile" ] && [ -p "$d.plan.fifo" ] &&
	    [ -z "$share_sock" ] && { [ $a_early = 1 ] || [ -n "$hk" ]; } &&
	    [ -n "${rr_remotepass+x}${rr_remotepassfile+x}${rr_preauthtunnel+x}$hk" ]; then
		fwd_start
		eval "bg_tool \"\$d.apply.fifo\" \"\$d.err.apply\" \"\$T_APPLY\" -c \"\$o_config\" $kq $hk -p -a \"\$acct\" \"\$d.plan.fifo\""
		apply_pid=$bg_pid
	fi
	scan_pid=
	if [ -d "$a_root" ] && [ -z "$debug$o_profile" ]; then
		eval "bg_tool \"\$d.local\" \"\$d.err.scan\" \"\$T_SCAN\" -c \"\$o_config\" $kq $sflag -a \"\$acct\" -m"
		scan_pid=$bg_pid
	fi
	list_remote "$@" || return

	if [ -d "$a_root" ]; then
		if [ -n "$scan_pid" ]; then
			wait_pid $scan_pid
			rc=$?
			scan_pid=
		else
			eval "run \"\$d.local\" \"\$d.err.scan\" \"\$T_SCAN\" -c \"\$o_config\" $kq $sflag -a \"\$acct\" -m"
			rc=$?
		fi
		if [ $rc != 0 ]; then
			tool_errors "$d.err.scan" error
			arc=1
			grep -q '^#format' "$d.local" || return
		else
			tool_errors "$d.err.scan" warn
		fi
	else
		# a dry run changes nothing, not even by creating the root
		: >"$d.local"
	fi
	debug_on maildir && ev debug "$acct" "$thr" maildir "$(grep -c '^msg	' "$d.local") local messages in $(grep -c '^mailbox	' "$d.local") folders"
	[ $abort_now = 1 ] && return

	qflag=
	[ $quick = 1 ] && qflag=-q
	fopt=
	[ $o_fset = 1 ] && fopt="-f $(shq "$o_folders")"
	# folders unchanged on both sides since the last complete sync (its
	# listing state), their status not written since: skipped
	[ -n "$cflag" ] && fopt="$fopt -T \"\$lstate\""
	eval "iter=\$((\${iter_$ai:-0} + 1)); iter_$ai=\$iter"
	# the plan of the sync before stays: the UI may still be reading it
	plan=$d.plan.$iter
	[ -f "$d.plan.$((iter - 2))" ] && rm -f "$d.plan.$((iter - 2))"
	eval "run \"\$plan\" \"\$d.err.plan\" \"\$T_PLAN\" -c \"\$o_config\" $kq -a \"\$acct\" $qflag $fopt \"\$d.remote\" \"\$d.local\""
	rc=$?
	# an incremental listing that does not add up with the status (removed
	# or changed since, to download a folder again, say): all listed whole
	if [ $rc = 75 ] && [ -n "$cflag" ]; then
		ev debug "$acct" "$thr" '' "the incremental listing does not add up with the status: listing again, whole"
		[ $dryrun = 0 ] && rm -f "$lstate"
		cflag=
		list_remote "$@" || return
		eval "run \"\$plan\" \"\$d.err.plan\" \"\$T_PLAN\" -c \"\$o_config\" $kq -a \"\$acct\" $qflag $fopt \"\$d.remote\" \"\$d.local\""
		rc=$?
	fi
	prc=$rc
	if [ $rc != 0 ] && ! grep -q '^account	' "$plan"; then
		tool_errors "$d.err.plan" error
		# (a Maildir state it could not read is not used again)
		rm -f "$sstate"
		arc=1
		return
	fi
	# folder counts and quick skips for the UI; refusals
	_lsep=${lr_sep:-.}
	[ -n "${rr_nametrans:-}" ] && _lsep=
	# (and whether anything is to change: if not, the listing state stays);
	# the quiet UI shows no counts, and the local listing can be long
	_lcounts=$d.local
	[ "$ui" = quiet ] && _lcounts=/dev/null
	# A plan whose every folder sync-plan found unchanged on both sides
	# (-T) gives sync-apply nothing to do: it is not started (its start
	# alone costs more than the rest of such a sync), and its records
	# (each folder done, nothing in it) are written here instead, and
	# passed on below as its forwarder would.
	# (one that logged in early is given the plan: it logs out)
	_noapply=$d.applied
	[ $prc = 0 ] && [ -z "$apply_pid" ] || _noapply=
	OI_ACCT=$qa OI_REFUSALS=$d.refusals OI_SUMMARY=$d.summary OI_LSEP=$_lsep OI_NOAPPLY=$_noapply LC_ALL=C awk -F '\t' '
	BEGIN { a = ENVIRON["OI_ACCT"]; lsep = ENVIRON["OI_LSEP"]; na = ENVIRON["OI_NOAPPLY"] }
	END {
		skip = na != "" && !acts && nfolders == nsame
		printf "%s %s %.0f\n", (moved ? "changed" : "same"), (skip ? "noapply" : "apply"), fbytes > ENVIRON["OI_SUMMARY"]
		if (!skip) exit
		print "#format sync-apply 1.0" > na
		for (i = 1; i <= nfolders; i++) {
			print ofolder[i] > na
			print "end\t" oend[i] "\t0\t0\t0" > na
		}
	}
	FILENAME == ARGV[1] && $1 == "mailbox" && $6 != "unchanged" { moved = 1 }
	FILENAME == ARGV[3] && !/^#/ && $1 != "account" && $1 != "folder" && $1 != "end" { moved = acts = 1 }
	FILENAME == ARGV[3] && /^# skip / { moved = 1 }
	FILENAME == ARGV[3] && $1 == "fetch" { fbytes += $4 }
	FILENAME == ARGV[3] && $1 == "folder" { ofolder[++nfolders] = "folder\t" $4 "\t" $5; oend[nfolders] = $4 }
	FILENAME == ARGV[3] && /^# .*: nothing to do \(unchanged on both sides since the last complete sync\)$/ { nsame++ }
	# the local name of a remote one, without a nametrans
	function lname(r,   o, i, c) {
		if (lsep == "" || dl[r] == "") return r
		o = ""
		for (i = 1; i <= length(r); i++) {
			c = substr(r, i, 1)
			o = o (c == dl[r] ? lsep : c)
		}
		return o
	}
	FILENAME == ARGV[1] && $1 == "mailbox" { nr[$8] = $5; dl[$8] = $7 }
	FILENAME == ARGV[2] && $1 == "mailbox" { nl[$5] = $3 }
	FILENAME == ARGV[3] {
		if ($1 == "folder")
			print "counts\t" a "\t" $4 "\t" nr[$4] + 0 "\t" nl[$5] + 0
		else if ($1 == "refuse")
			print $2 "\t" $3 "\t" $4 > ENVIRON["OI_REFUSALS"]
		else if ($0 ~ /^# .*: skipped by -q/) {
			s = substr($0, 3); sub(/: skipped by -q.*/, "", s)
			l = lname(s)
			print "skipping\t" a "\t" s "\t" l "\t" (l in nl ? nl[l] : "")
		}
		fflush()
	}' "$d.remote" "$_lcounts" "$plan" >&5
	: >>"$d.refusals"
	while IFS="$TAB" read -r x y z; do
		case $x in
		uidvalidity)
			sv=$(printf '%s' "$y" | sed -n 's/.*is \([0-9]*\): the server renumbered.*/\1/p')
			cv2=$(printf '%s' "$y" | sed -n 's/^UIDVALIDITY is \([0-9]*\).*/\1/p')
			ev validity "$acct" "$z" "${sv:-?}" "${cv2:-?}"
			ev debug "$acct" "$thr" '' "$z: $y"
			[ $arc = 0 ] && arc=2 ;;
		*)
			ev error "$acct" "Folder $z [acc: $acct]" "$z: $y"
			arc=1 ;;
		esac
	done <"$d.refusals"
	: >"$d.refusals"
	[ $abort_now = 1 ] && return

	ev plan "$acct" "$plan"
	ev syncfolders "$acct"
	nflag=
	[ $dryrun = 1 ] && nflag=-n
	lsum=changed lapply=apply lbytes=0
	read -r lsum lapply lbytes 2>/dev/null <"$d.summary"
	# sharedlogin: a plan that downloads much (an initial sync) is not
	# worth the relay through imap-hold (measured: 190 MB 25% slower);
	# a login of its own costs as much as relaying some 20 MB
	ahk=$hk
	[ -n "$share_sock" ] && [ "${#lbytes}" -gt 7 ] && [ "$lbytes" -gt 20000000 ] && ahk=
	if [ "$lapply" = noapply ]; then
		# nothing to apply (above): its records are written
		[ -n "$debug" ] && ev debug "$acct" "$thr" '' "nothing to apply: sync-apply not started"
		: >"$d.err.apply"
		while IFS= read -r _l; do
			printf 'apply\t%s\t%s\n' "$qa" "$_l"
		done <"$d.applied" >&5
		rc=0
	elif [ -n "$apply_pid" ]; then
		# the plan to the sync-apply that logged in meanwhile
		cat "$plan" >"$d.plan.fifo" 4>&- 5>&- &
		feed_pid=$!
		tool_pid=$apply_pid tool_name=sync-apply
		echo "account $acct: sync-apply" >"$W/state.$lane"
		wait_pid $apply_pid
		rc=$?
		tool_pid= tool_name= apply_pid=
		# (a sync-apply that ended early leaves the writer waiting)
		kill "$feed_pid" 2>/dev/null
		wait "$feed_pid" 2>/dev/null
		echo "account $acct: between steps" >"$W/state.$lane"
	else
		[ -p "$d.apply.fifo" ] || mkfifo "$d.apply.fifo" || { arc=1; return; }
		fwd_start
		eval "run \"\$d.apply.fifo\" \"\$d.err.apply\" \"\$T_APPLY\" -c \"\$o_config\" $kq $ahk $nflag $dflag -a \"\$acct\" \"\$plan\""
		rc=$?
	fi
	[ "$lapply" = noapply ] || wait $fwd_pid
	[ $rc -gt 128 ] && [ $abort_now = 1 ] && rc=75
	case $rc in
	0)
		completed=1
		tool_errors "$d.err.apply" warn ;;
	75)
		tool_errors "$d.err.apply" error
		arc=75 ;;
	*)
		# its failures are in its records, said again on stderr
		grep -q '^failed	\|^error	' "$d.applied" 2>/dev/null ||
			tool_errors "$d.err.apply" error
		{ [ $arc = 0 ] || [ $arc = 2 ]; } && arc=1 ;;
	esac

	# the listing state: not written again when nothing listed or planned
	# changed (a no-op sync)
	scan_summary
	if [ $dryrun = 0 ] && [ -d "$metadata/Account-$acct" ]; then
		if [ $completed = 0 ] || [ "$lsum" != same ] || [ -z "$cflag" ] ||
		    { [ -n "$sflag" ] && [ $lsame = 0 ]; }; then
			state_save
		fi
		[ -n "$sflag" ] && [ -d "$a_root" ] && local_save
	fi

	# mbnames: the folders of the plan in its order, those skipped or
	# refused included (OfflineIMAP adds a folder before syncing it)
	if [ $mb_enabled = 1 ]; then
		mb_folders "$plan" >"$d.mbnow" || { [ $arc != 0 ] || arc=1; }
		# in a daemon, folders of earlier syncs stay (as OfflineIMAP)
		while IFS= read -r x; do
			grep -qxF -- "$x" "$d.mbfolders" 2>/dev/null || printf '%s\n' "$x" >>"$d.mbfolders"
		done <"$d.mbnow"
		if [ -s "$d.mbfolders" ]; then
			mb_account "$acct" "$a_root" "$d.mbfolders" || { [ $arc != 0 ] || arc=1; }
		fi
	fi

	# newmail_hook: unseen messages were fetched into INBOX
	: >>"$d.applied"
	if [ -n "$a_newmail" ] && [ $dryrun = 0 ] && [ $abort_now = 0 ] &&
	    LC_ALL=C awk -F '\t' '
	    FILENAME == ARGV[1] && $1 == "folder" { f = $4 }
	    FILENAME == ARGV[1] && $1 == "fetch" && f == "INBOX" && $3 !~ /S/ { unseen[$2] = 1 }
	    FILENAME == ARGV[2] && $1 == "done" && $2 == "fetch" && ($3 in unseen) { n = 1 }
	    END { exit !n }' "$plan" "$d.applied"; then
		if have_python; then
			ev debug "$acct" "$thr" '' "Calling newmail_hook"
			if ! pyeval "$a_newmail" </dev/null >"$d.newmail.out" 2>"$d.newmail.err" 4>&- 5>&-; then
				ev error "$acct" "$thr" "newmail_hook failed: $(cat "$d.newmail.err")"
			fi
		else
			ev error "$acct" "$thr" "newmail_hook is a Python function and python3 is not installed; use postsynchook instead"
		fi
	fi

	hook postsynchook "$a_post"
}

# ---- lanes: each runs its accounts in turn, again with autorefresh ----

abort_now=0
stop_soon=0
skip_sleep=0
g_err=0
tool_name=
completed=0
sleep_pid=

# SIGTERM (passed on by the main shell for TERM, INT and HUP): the first
# stops sync-apply where it is safe to stop (it writes nothing half) and
# the lane after it; the listing tools, which change nothing, finish.  A
# second one stops whatever runs.
# (SIGKILL: a sleep just forked may still hold this shell's handlers,
# which would swallow a SIGTERM before it runs sleep)
wake() {
	[ -n "$sleep_pid" ] && kill -KILL "$sleep_pid" 2>/dev/null
	# a signal just before the read of the IDLE wait: the read returns
	[ -n "${idlers:-}" ] && echo wake >&9 2>/dev/null
	return 0
}

on_term() {
	wake
	if [ $abort_now = 0 ]; then
		abort_now=1 stop_soon=1
		[ "$tool_name" = sync-apply ] && [ -n "$tool_pid" ] && kill -TERM "$tool_pid" 2>/dev/null
	else
		[ -n "$tool_pid" ] && kill -TERM "$tool_pid" 2>/dev/null
		[ -n "${scan_pid:-}" ] && kill -TERM "$scan_pid" 2>/dev/null
		# a sync-apply still waiting for its plan
		[ -n "${apply_pid:-}" ] && [ "$apply_pid" != "$tool_pid" ] &&
			kill -KILL "$apply_pid" 2>/dev/null
	fi
	return 0
}

# ---- IDLE (idlefolders): imap-idle instead of sleep ----

# idle_start AI SECONDS: imap-idle for the account, in a subshell that
# writes "PHASE AI STATUS" to the lane's FIFO (fd 9) when it ends; a TERM
# to the subshell ends imap-idle, which logs out.
idle_start() {
	if [ ! -p "$W/idle.$lane" ]; then
		mkfifo "$W/idle.$lane" || { eval "idlefail_$1=1"; return 1; }
		exec 9<>"$W/idle.$lane"
	fi
	eval "_ia=\$acct_$1"
	rm -f "$W/idle.$lane.$1"
	(
		exec 5>&-
		trap '' USR1 USR2 INT HUP QUIT
		bg_pid= stop=0
		trap 'stop=1; [ -n "$bg_pid" ] && kill -TERM "$bg_pid" 2>/dev/null' TERM
		# (the last listing: mail that came since is a change)
		_il=
		[ -s "$W/a$1.remote" ] && _il="-C \"\$W/a\$1.remote\""
		eval "bg_tool \"\$W/idle.\$lane.\$1\" \"\$W/idle.\$lane.\$1.err\" \"\$T_IDLE\" -c \"\$o_config\" $kq $_il -a \"\$_ia\" -t \"\$2\""
		# (a TERM before its pid was known)
		[ $stop = 1 ] && kill -TERM "$bg_pid" 2>/dev/null
		wait_pid "$bg_pid"
		echo "$phase $1 $?" >&9
	) &
	eval "idlepid_$1=\$!"
	idlers="$idlers $1"
}

# idle_reap AI: its subshell has said it ended.
idle_reap() {
	eval "_p=\$idlepid_$1"
	wait "$_p" 2>/dev/null
	eval "idlepid_$1="
	_n=
	for _x in $idlers; do
		[ "$_x" = "$1" ] || _n="$_n $_x"
	done
	idlers=$_n
}

# idle_stop: the imap-idle still waiting end (they log out); their lines
# are read from the FIFO, which must not fill up.
idle_stop() {
	[ -n "$idlers" ] || return 0
	for _x in $idlers; do
		eval "_p=\$idlepid_$_x"
		kill -TERM "$_p" 2>/dev/null
	done
	for _x in $idlers; do
		eval "_p=\$idlepid_$_x"
		wait_pid "$_p"
		_s=$?
		eval "idlepid_$_x="
		# its line, unless a signal ended it before it could write
		[ "$_s" -gt 128 ] || until read -r _ <&9; do :; done
	done
	idlers=
}

# idle_done AI STATUS: what imap-idle saw: a sync of the folders that
# changed (OfflineIMAP syncs just those, OFFLINEIMAPSYNCMODE=idle), the
# end of the sleep, or a failure, reported, after which IDLE waits for
# the account's next sync.
idle_done() {
	_f=$W/idle.$lane.$1
	eval "acct=\$acct_$1"
	thr="Account sync $acct"
	# the folders that changed, within -f when it was given
	_fsel=
	[ "$o_fset" = 1 ] && _fsel=$o_folders
	_fo=$(OI_F=$_fsel LC_ALL=C awk -F '\t' '
	    BEGIN { n = split(ENVIRON["OI_F"], a, ","); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	    $1 == "changed" && !s[$3]++ && (n == 0 || $3 in want) {
		if ($3 ~ /^"/ || index($3, ",")) { bad = 1 }
		o = o (o == "" ? "" : ",") $3 }
	    $1 == "changed" { any = 1 }
	    END { if (bad) o = "*"; if (o == "" && any) o = "-"; print o }' "$_f" 2>/dev/null)
	case $_fo in
	'') ;;
	-) return ;;
	*)
		ev debug "$acct" "$thr" '' "IDLE: changed: $_fo"
		idle_sync "$1" "$_fo"
		return ;;
	esac
	grep -q '^timeout' "$_f" 2>/dev/null && return
	# ended by a signal of its own (the terminal's ^C, a service stop):
	# no warning, and no new IDLE before the next sync
	if [ "$2" = 0 ]; then
		eval "idlefail_$1=1"
		return
	fi
	_e=$(grep -v '^#' "$_f.err" 2>/dev/null | tail -n 1)
	[ -n "$_e" ] || _e="imap-idle exited with status $2"
	ev warn "$acct" "$thr" "IDLE stopped: $_e; IDLE again after the next sync"
	eval "idlefail_$1=1"
}

# idle_sync AI FOLDERS: one sync of those folders of the account (remote
# names, comma-separated; "*": all, for names -f cannot carry).
idle_sync() {
	ai=$1
	acct_load || return 0
	_of=$o_folders _os=$o_fset
	if [ "$2" != '*' ]; then
		o_folders=$2 o_fset=1
	fi
	idle_mode=1
	echo "syncing $acct (IDLE)" >"$W/state.$lane"
	sync_account
	echo "$arc" >"$W/rc.$ai"
	idle_mode=0
	o_folders=$_of o_fset=$_os
	echo "sleeping $next $next_acct" >"$W/state.$lane"
}

lane() {
	lane=$1
	shift
	lane_accts=$*
	abort_now=0 stop_soon=0 skip_sleep=0
	# each trap ends a sleep at once, even one about to start waiting
	trap 'skip_sleep=1; wake' USR1
	trap 'stop_soon=1; wake' USR2
	trap 'on_term' TERM
	trap '' INT HUP QUIT
	echo idle >"$W/state.$lane"
	iter=0
	lock_pid=
	hold_pids=
	for ai in $lane_accts; do
		eval "acct=\$acct_$ai"
		eval "due_$ai=0 fails_$ai=3 live_$ai=1 qnum_$ai=0 rc_$ai=0 loaded_$ai=0 idle_$ai=0 idlefail_$ai=0 idlepid_$ai="
	done
	phase=0 idlers= idle_mode=0
	nowt=
	while :; do
		# (the first pass: every account is due, no clock needed)
		[ -z "$nowt" ] && nowt=0 || nowt=$(date +%s)
		next=
		any=0
		for ai in $lane_accts; do
			eval "live=\$live_$ai due=\$due_$ai acct=\$acct_$ai"
			[ "$live" = 1 ] || continue
			thr="Account sync $acct"
			if [ "$due" -le "$nowt" ] && [ $abort_now = 0 ]; then
				eval "loaded=\$loaded_$ai"
				if [ "$loaded" = 0 ]; then
					ev register "$acct" "$thr"
					if ! acct_load; then
						eval "live_$ai=0 rc_$ai=1"
						echo 1 >"$W/rc.$ai"
						ev unregister "$acct" "$thr"
						continue
					fi
					eval "loaded_$ai=1 refresh_$ai=\$a_refresh idle_$ai=\$a_idle"
					ev repos "$acct" "$a_remote" "$a_rtype" "$a_local" "$a_ltype"
					[ -n "$o_profile" ] && prof_file=$o_profile/$(date +%Y%m%d%H%M%S)_$acct.prof
				else
					acct_load || { eval "live_$ai=0"; echo 1 >"$W/rc.$ai"; continue; }
				fi
				echo "syncing $acct" >"$W/state.$lane"
				sync_account
				echo "$arc" >"$W/rc.$ai"
				# IDLE that failed is tried again after a sync
				eval "idlefail_$ai=0"
				eval "fails=\$fails_$ai refresh=\$refresh_$ai"
				case $arc in
				1 | 75) fails=$((fails - 1)) ;;
				*) [ "$refresh" -ge 0 ] && fails=3 ;;
				esac
				eval "fails_$ai=$fails"
				if [ "$refresh" -lt 0 ] || [ $fails -le 0 ] || [ $stop_soon = 1 ]; then
					eval "live_$ai=0"
					ev unregister "$acct" "$thr"
					continue
				fi
				due=$(($(date +%s) + refresh))
				eval "due_$ai=$due"
			fi
			[ $abort_now = 1 ] || [ $stop_soon = 1 ] && { eval "live_$ai=0"; ev unregister "$acct" "$thr"; continue; }
			any=1
			if [ -z "$next" ] || [ "$due" -lt "$next" ]; then
				next=$due next_acct=$acct
			fi
		done
		[ $any = 1 ] || break
		# sleep until the next account is due, in slices of 10 s
		echo "sleeping $next $next_acct" >"$W/state.$lane"
		phase=$((phase + 1))
		while :; do
			# a signal that came during the sync counts too
			if [ $skip_sleep = 1 ] || [ $abort_now = 1 ] || [ $stop_soon = 1 ]; then
				break
			fi
			# the main shell killed (SIGKILL): no one to sync for
			kill -0 $$ 2>/dev/null || { idle_stop; exit 1; }
			left=$((next - $(date +%s)))
			[ $left -gt 0 ] || break
			# IDLE for the accounts with idlefolders: the first change
			# (or the end of the sleep) ends the wait
			for ai in $lane_accts; do
				eval "_i=\${idle_$ai:-0} _f=\${idlefail_$ai:-0} _l=\$live_$ai _p=\${idlepid_$ai:-}"
				[ "$_i" = 1 ] && [ "$_f" = 0 ] && [ "$_l" = 1 ] && [ -z "$_p" ] &&
					idle_start "$ai" "$left"
			done
			if [ -n "$idlers" ]; then
				ev sleeping "$next_acct" "$left" "$left"
				# (a signal ends the read)
				read -r _ph _ai _rc <&9 || continue
				[ "$_ph" = "$phase" ] || continue
				idle_reap "$_ai"
				idle_done "$_ai" "$_rc"
				continue
			fi
			slice=10
			[ $left -lt 10 ] && slice=$left
			ev sleeping "$next_acct" "$slice" "$left"
			sleep "$slice" 4>&- 5>&- &
			sleep_pid=$!
			if [ $skip_sleep = 1 ] || [ $abort_now = 1 ] || [ $stop_soon = 1 ]; then
				wake
				sleep_pid=
				break
			fi
			wait $sleep_pid
			wake
			sleep_pid=
		done
		idle_stop
		ev sleeping "$next_acct" 0 0
		if [ $skip_sleep = 1 ]; then
			skip_sleep=0
			# a sync now, for every account, and a full one
			for ai in $lane_accts; do
				eval "due_$ai=0 qnum_$ai=0"
			done
		fi
	done
	hold_stop
	echo finished >"$W/state.$lane"
}

# ---- the modes ----

# The accounts to work on (-a, else [general] accounts), checked.
sections_read() {
	all=
	has_mbnames=0
	_i=1
	while [ $_i -le "$cfg_n" ]; do
		eval "x=\$cfg_s$_i"
		case $x in
		"Account "*) all="$all${all:+$NL}${x#Account }" ;;
		mbnames) has_mbnames=1 ;;
		esac
		_i=$((_i + 1))
	done
}

accounts_init() {
	nacct=0
	if [ -n "$o_accounts" ]; then
		list=$o_accounts
	elif [ -n "${g_accounts+x}" ]; then
		list=$g_accounts
	else
		ev error '' MainThread "[general] accounts is not set"
		finish 1
	fi
	bad=0
	IFS=,
	set -f
	for x in $list; do
		x=${x#"${x%%[! ]*}"}	# lstrip, as OfflineIMAP
		[ -n "$x" ] || continue
		if case "$NL$all$NL" in *"$NL$x$NL"*) true ;; *) false ;; esac; then
			nacct=$((nacct + 1))
			eval "acct_$nacct=\$x"
		else
			ev error '' MainThread "The account '$x' does not exist"
			bad=1
		fi
	done
	set +f
	unset IFS
	if [ $bad = 1 ]; then
		finish 1 '' "Valid accounts are: $(printf '%s\n' "$all" | awk 'NF { o = o (o == "" ? "" : ", ") $0 } END { print o }')"
	fi
	if [ $nacct = 0 ]; then
		finish 1 '' "No accounts are defined!"
	fi
	return 0
}

# finish STATUS [TITLE MESSAGE]: the end of the run, through the UI.
finish() {
	ev terminate '' "$1" "${2:-}" "${3:-}"
	exec 5>&-
	wait "$ui_pid" 2>/dev/null
	ui_pid=
	exit "$1"
}

mode_sync() {
	mb_init || g_err=1
	if [ $dryrun = 0 ]; then
		{ [ -d "$metadata" ] || mkdir -p -m 700 "$metadata"; } &&
		    { [ -d "$metadata/mbnames" ] || mkdir -p "$metadata/mbnames"; } ||
		    { ev error '' MainThread "cannot create the metadata directory $metadata"; finish 1; }
	fi
	lanes=1
	if [ $o_single = 0 ]; then
		lanes=${g_maxsyncaccounts:-1}
		case $lanes in '' | *[!0-9]*) lanes=1 ;; esac
		[ "$lanes" -ge 1 ] || lanes=1
	fi
	[ "$lanes" -gt "$nacct" ] && lanes=$nacct
	lane_pids=
	nterm=0
	trap 'pass USR1' USR1
	trap 'ev warn "" MainThread "Terminating after this sync..."; pass USR2' USR2 ABRT
	trap 'nterm=$((nterm + 1)); if [ $nterm = 1 ]; then ev warn "" MainThread "Preparing to shutdown after sync (this may take some time), press CTRL-C again to shutdown immediately"; else ev warn "" MainThread "Signaled twice. Aborting!"; fi; pass TERM' TERM INT HUP
	trap 'dump_state' QUIT
	l=1
	while [ $l -le "$lanes" ]; do
		members=
		i=$l
		while [ $i -le "$nacct" ]; do
			members="$members $i"
			i=$((i + lanes))
		done
		lane "$l" $members </dev/null &
		lane_pids="$lane_pids $!"
		l=$((l + 1))
	done
	# a signal that came before the lanes were there
	[ $nterm -gt 0 ] && pass TERM
	for lp in $lane_pids; do
		wait_pid "$lp"
	done
	lane_pids=
	trap '' USR1 USR2 ABRT QUIT
	trap 'exit 1' TERM INT HUP
	[ $nterm -ge 2 ] && { mb_write; finish 1; }
	mb_write || g_err=1
	st=$g_err
	i=1
	while [ $i -le "$nacct" ]; do
		r=1
		[ -f "$W/rc.$i" ] && read -r r <"$W/rc.$i"
		case $r in
		1) st=1 ;;
		75) [ $st = 1 ] || st=75 ;;
		2) [ $st = 0 ] && st=2 ;;
		esac
		i=$((i + 1))
	done
	finish $st
}

pass() {
	# shellcheck disable=SC2086
	kill -"$1" $lane_pids 2>/dev/null
}

dump_state() {
	l=1
	while [ $l -le "$lanes" ]; do
		s=$(cat "$W/state.$l" 2>/dev/null)
		case $s in
		"sleeping "*)
			s=${s#sleeping }
			s="sleeping, the next sync (account ${s#* }) in $((${s%% *} - $(date +%s))) s" ;;
		esac
		i=$l
		names=
		while [ $i -le "$nacct" ]; do
			eval "names=\"\$names\${names:+, }\$acct_$i\""
			i=$((i + lanes))
		done
		printf '%s: lane %s (%s): %s\n' "$PROG" "$l" "$names" "${s:-starting}" >&2
		l=$((l + 1))
	done
}

# --info: the accounts, their repositories, a connection to each server.
mode_info() {
	ev info '' MainThread "  offlineimap-tools: $VERSION"
	i=1
	while [ $i -le "$nacct" ]; do
		eval "acct=\$acct_$i"
		thr=MainThread
		acct_load || { i=$((i + 1)); continue; }
		ev display '' MainThread "Remote repository '$a_remote': type '$a_rtype'"
		case $a_ssl in true) ssl=True ;; *) ssl=False ;; esac
		ev display '' MainThread "Host: $a_host Port: $a_port SSL: $ssl"
		ev display '' MainThread "Establishing connection to $a_host:$a_port ($a_remote)"
		d=$W/a$i
		if eval "\"\$T_LIST\" -c \"\$o_config\" $kq -d -a \"\$acct\"" >"$d.folders" 2>"$d.trace" </dev/null; then
			caps=$(sed -n 's/^S: [^ ]* OK \[CAPABILITY \([^]]*\)\].*/\1/p; s/^S: \* CAPABILITY //p' "$d.trace" | tail -n 1)
			welcome=$(sed -n '1s/^S: //p' "$d.trace")
			case " $caps " in *" ID "*) ev display '' MainThread "Server supports ID extension." ;; esac
			ev display '' MainThread "Server welcome string: $welcome"
			ev display '' MainThread "Server capabilities: ($caps)$NL"
		else
			ev display '' MainThread "Failed to connect. Reason $(grep -v '^[SC]: ' "$d.trace" | tail -n 1)"
			: >"$d.folders"
		fi
		for o in folderfilter folderincludes nametrans; do
			eval "[ -n \"\${rr_$o+x}\" ]" && ev display '' MainThread "$o= $(val rr "$o")$NL"
		done
		names=$(awk -F '\t' '$1 == "folder" && $3 !~ /\\Noselect/ { print $9 }' "$d.folders")
		info_folders rr "$names"
		ev display '' MainThread "Local repository '$a_local': type '$a_ltype'"
		for o in folderfilter folderincludes nametrans; do
			eval "[ -n \"\${lr_$o+x}\" ]" && ev display '' MainThread "$o= $(val lr "$o")$NL"
		done
		names=
		if [ -d "$a_root" ]; then
			names=$(eval "\"\$T_SCAN\" -c \"\$o_config\" $kq -a \"\$acct\"" 2>/dev/null </dev/null |
			    awk -F '\t' '$1 == "folder" { print $3 }')
		fi
		info_folders lr "$names"
		i=$((i + 1))
	done
	finish 0
}

# info_folders PREFIX NAMES: (PREFIX: rr or lr, the repository's options) "Folderlist:" with each name, its translation
# and "(disabled)" as OfflineIMAP shows them (Python options need python3).
info_folders() {
	_nt=$(val "$1" nametrans) _ff=$(val "$1" folderfilter)
	if [ -n "$2" ] && { [ -n "$_nt" ] || [ -n "$_ff" ]; } && have_python; then
		_list=$(printf '%s\n' "$2" | OI_NT=$_nt OI_FF=$_ff OI_PYTHONFILE=$pythonfile python3 -c "$py_globals"'
import os, sys
nt = eval(os.environ["OI_NT"], g) if os.environ["OI_NT"] else (lambda n: n)
ff = eval(os.environ["OI_FF"], g) if os.environ["OI_FF"] else (lambda n: True)
out = []
for n in sys.stdin.read().split("\n")[:-1]:
    v = nt(n)
    s = "" if ff(n) else " (disabled)"
    out.append((v.lower(), (" " + n if v == n else " %s -> %s" % (n, v)) + s))
for k, line in sorted(out):
    print(line)')
	else
		_list=$(printf '%s\n' "$2" | sed '/^$/d; s/^/ /' | sort -f)
	fi
	ev display '' MainThread "Folderlist:$NL$_list$NL"
}

# --migrate-fmd5-using-nametrans: fmd5-migrate on every account.
mode_migrate() {
	st=0
	nflag=
	[ $dryrun = 1 ] && nflag=-n
	i=1
	while [ $i -le "$nacct" ]; do
		eval "acct=\$acct_$i"
		thr="Account sync $acct"
		d=$W/a$i
		eval "\"\$T_FMD5\" -c \"\$o_config\" $kq $nflag -a \"\$acct\"" >"$d.fmd5" 2>"$d.fmd5.err" </dev/null
		rc=$?
		acct_load || { st=1; i=$((i + 1)); continue; }
		root=$a_root
		while IFS="$TAB" read -r k x y z; do
			case $k in
			rename) ev info "$acct" "$thr" "Migrating file '$root/$x' to FMD5 '$(printf '%s' "$y" | sed -n 's/.*FMD5=\([0-9a-f]*\).*/\1/p')'" ;;
			conflict) ev warn "$acct" "$thr" "Inconsistent FMD5: UID $x is in $y and in $z; both left alone" ;;
			error) ev error "$acct" "$thr" "$y: $x" ;;
			esac
		done <"$d.fmd5"
		[ $rc = 0 ] || { tool_errors "$d.fmd5.err" error; st=1; }
		i=$((i + 1))
	done
	finish $st
}

# --mbnames-prune: drop the intermediate files of accounts no longer in
# [general] accounts (whole names, not OfflineIMAP's substring test), then
# write the mbnames file; with mbnames off, drop them all.
mode_prune() {
	mb_init || :
	list=${g_accounts:-}
	removed=0
	for j in "$metadata"/mbnames/*.json; do
		[ -f "$j" ] || continue
		n=${j##*/}
		n=${n%.json}
		if [ $mb_enabled = 1 ]; then
			keep=0
			IFS=,
			for x in $list; do
				x=${x#"${x%%[! ]*}"}
				[ "$x" = "$n" ] && keep=1
			done
			unset IFS
			[ $keep = 1 ] && continue
		fi
		removed=1
		if [ $dryrun = 1 ]; then
			ev info '' MainThread "mbnames would remove $j"
		else
			rm -f "$j" && ev info '' MainThread "removed $j"
		fi
	done
	if [ $mb_enabled = 1 ]; then
		[ $removed = 1 ] || ev info '' MainThread "no cache file to remove"
		mb_write
	fi
	finish 0
}

# --delete-folder NAME: one account; says what the folder held.
mode_delete() {
	if [ "$nacct" != 1 ]; then
		ev error '' MainThread "you must supply only one account with '-a'"
		finish 1
	fi
	acct=$acct_1
	thr=MainThread
	acct_load || finish 1
	d=$W/a1
	if [ $dryrun = 1 ]; then
		eval "\"\$T_RMFOLDER\" -c \"\$o_config\" $kq -n -a \"\$acct\" \"\$o_delete\"" >"$d.rm" 2>"$d.rm.err" </dev/null
		rc=$?
		n=$(awk -F '\t' '$1 == "would-delete" { print $2 }' "$d.rm")
		[ $rc = 0 ] && ev info "$acct" "$thr" "would try to remove '$o_delete' on remote of '$acct' account ($n messages)"
	else
		eval "\"\$T_RMFOLDER\" -c \"\$o_config\" $kq -a \"\$acct\" \"\$o_delete\"" >"$d.rm" 2>"$d.rm.err" </dev/null
		rc=$?
		n=$(awk -F '\t' '$1 == "deleted" { print $2 }' "$d.rm")
		[ $rc = 0 ] && ev info "$acct" "$thr" "Folder '$o_delete' deleted ($n messages)."
	fi
	if [ $rc != 0 ]; then
		why=$(awk -F '\t' '$1 == "error" { print $2 }' "$d.rm")
		[ -n "$why" ] || why=$(tail -n 1 "$d.rm.err")
		ev error "$acct" "$thr" "Folder '$o_delete'[${ac_remoterepository:-}] could not be deleted. $why"
		finish "$rc"
	fi
	finish 0
}

# ---- main ----

ui_start
ev banner ''
[ -n "$ui_warn" ] && ev warn '' MainThread "$ui_warn"
[ -n "$dwarn" ] && printf '%s\n' "$dwarn" | while IFS= read -r l; do ev warn '' MainThread "$l"; done
[ -n "${pwarn:-}" ] && printf '%s\n' "$pwarn" | while IFS= read -r l; do ev warn '' MainThread "$l"; done
if [ -n "$debug" ] && [ $o_single = 1 ]; then
	case ,$debug in *,thread,*) ;; *) ev display '' MainThread "Debug mode: Forcing to singlethreaded." ;; esac
fi
sections_read
# --mbnames-prune is the one mode that does not check the accounts
[ $o_info = 0 ] && [ $o_migrate = 0 ] && [ $o_prune = 1 ] && mode_prune
accounts_init
if [ $o_info = 1 ]; then
	mode_info
elif [ $o_migrate = 1 ]; then
	mode_migrate
elif [ $o_prune = 1 ]; then
	mode_prune
elif [ $o_delete_set = 1 ]; then
	mode_delete
else
	mode_sync
fi
