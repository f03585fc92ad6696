#!/bin/sh
# offlineimap-config: the configuration query command
. "$(dirname "$0")/test-lib.sh"

test_file rc <<'EOF_RC'
	[general]
	accounts = Personal, Work
	metadata = ~/state
	ui = basic

	[Account Personal]
	localrepository = Local
	remoterepository = Remote
	autorefresh = 5

	[Account Work]
	localrepository = Local
	remoterepository = Remote

	[Repository Local]
	type = Maildir
	localfolders = ~/Mail
	nametrans = lambda f: f.replace('inbox', 'INBOX')

	[Repository Remote]
	type = IMAP
	remotehost = imap.example.org
	remotepass = s3cr%%t
	ssl = no
	folderfilter = lambda f: f not in ['Trash',
	                                   'Spam']
EOF_RC

test_expect_success 'accounts lists [general] accounts' '
	offlineimap-config -c rc accounts >out &&
	printf "Personal\nWork\n" >want &&
	test_cmp want out
'

test_expect_success '-a selects and checks accounts' '
	offlineimap-config -c rc -a Work accounts >out &&
	echo Work >want &&
	test_cmp want out
'

test_expect_success '-a with an unknown account lists the valid ones' '
	offlineimap-config -c rc -a Nope accounts 2>err
	status=$?
	echo "offlineimap-config: -a: unknown account \"Nope\" (accounts defined: Personal, Work)" >want &&
	test_cmp want err &&
	test $status = 1
'

test_expect_success 'get: values, defaults and types' '
	offlineimap-config -c rc get "Repository Remote.remotehost" \
	    "Repository Remote.remoteport" "Repository Remote.ssl" \
	    "Repository Remote.remotepass" "general.metadata" \
	    "Account Work.quick" "Repository Local.sep" >out &&
	cat >want <<-EOF_W &&
	imap.example.org
	143
	false
	s3cr%t
	$HOME/state
	0
	.
	EOF_W
	test_cmp want out
'

test_expect_success 'raw keeps %% and multi-line values print whole' '
	offlineimap-config -c rc raw "Repository Remote.remotepass" >out &&
	echo "s3cr%%t" >want &&
	test_cmp want out &&
	offlineimap-config -c rc get "Repository Remote.folderfilter" >out &&
	tr "\047" Q <out >outq &&
	printf "lambda f: f not in [QTrashQ,\nQSpamQ]\n" >want &&
	test_cmp want outq
'

test_expect_success 'get of an unset option without default exits 1 silently' '
	offlineimap-config -c rc get "Account Work.autorefresh" >out 2>err
	status=$?
	test ! -s out && test ! -s err && test $status = 1
'

test_expect_success '-k overrides, with _ for a space in the section' '
	offlineimap-config -c rc -k Account_Work:autorefresh=2.5 -k ui=quiet \
	    get "Account Work.autorefresh" general.ui >out &&
	printf "2.5\nquiet\n" >want &&
	test_cmp want out
'

test_expect_success 'is-python and type' '
	offlineimap-config -c rc is-python "Repository Local.nametrans" &&
	! offlineimap-config -c rc is-python "Repository Local.localfolders" &&
	offlineimap-config -c rc type "Repository Remote.ssl" >out &&
	echo bool >want &&
	test_cmp want out
'

test_expect_success 'list prints records, -z ends them with NUL' '
	offlineimap-config -c rc list "Account Personal" >out &&
	printf "#format config 1.0\noption\tAccount Personal\tautorefresh\t5\noption\tAccount Personal\tlocalrepository\tLocal\noption\tAccount Personal\tremoterepository\tRemote\n" >want &&
	test_cmp want out &&
	offlineimap-config -z -c rc list "Repository Remote" | tr "\0" "|" >out &&
	grep -q "|option	Repository Remote	folderfilter	lambda f: f not in \[.Trash.,$" out
'

test_expect_success 'shell: the whole file as sh assignments, values intact' '
	cat >shrc <<-\EOF &&
	[general]
	accounts = A
	metadata = ~/meta
	[Account A]
	localrepository = L
	remoterepository = R
	[Repository L]
	type = Maildir
	localfolders = /m
	[Repository R]
	type = IMAP
	remotehost = it'"'"'s here
	folderfilter = lambda f: f not in ["x",
	  "y"]
	cert-fingerprint = ab
	remotepass = %(nothere)s
	EOF
	offlineimap-config -c shrc -k "Repository_R:remoteuser=u v" shell general.metadata general.pythonfile "Repository R.remoteport" >out &&
	(
		. ./out &&
		test "$cfg_n" = 4 &&
		test "$cfg_s1" = general &&
		test "$cfg_s4" = "Repository R" &&
		test "$cfg_4_remotehost" = "it'"'"'s here" &&
		test "$cfg_4_folderfilter" = "lambda f: f not in [\"x\",
\"y\"]" &&
		test "$cfg_4_cert_fingerprint" = ab &&
		test "$cfg_4_remoteuser" = "u v" &&
		case "$cfg_k4" in *" cert_fingerprint"*) ;; *) false ;; esac &&
		test -z "${cfg_e3+x}" &&
		case "$cfg_e4" in *nothere*) ;; *) false ;; esac &&
		test "$cfg_v1" = "$HOME/meta" &&
		test -z "${cfg_v2+x}" &&
		test "$cfg_v3" = 993
	)
'

test_expect_success 'shell: *.option gives the typed value in every section' '
	offlineimap-config -c shrc shell "*.localfolders" "*.ssl" "*.remoteport" >out &&
	(
		. ./out &&
		test "$cfg_t3_localfolders" = /m &&
		test -z "${cfg_t4_localfolders+x}" &&
		test "$cfg_t4_ssl" = true &&
		test "$cfg_t4_remoteport" = 993 &&
		test -z "${cfg_t1_remoteport+x}"
	)
'

test_expect_code 1 'shell: a name in a missing section fails' '
	offlineimap-config -c shrc shell "Repository Nope.remotehost" >/dev/null
'

test_expect_success 'the default path: XDG first, then ~/.offlineimaprc' '
	offlineimap-config path >out &&
	echo "$HOME/.offlineimaprc" >want &&
	test_cmp want out &&
	mkdir -p "$HOME/.config/offlineimap" &&
	cp rc "$HOME/.config/offlineimap/config" &&
	offlineimap-config path >out &&
	echo "$HOME/.config/offlineimap/config" >want &&
	test_cmp want out &&
	offlineimap-config accounts >/dev/null
'

test_expect_success 'a missing file is one clear line' '
	offlineimap-config -c nosuch accounts 2>err
	status=$?
	echo "offlineimap-config: config file '\''nosuch'\'' does not exist" >want &&
	test_cmp want err && test $status = 1
'

test_expect_success 'a broken line is reported as file:line: what' '
	printf "[general]\naccounts = A\nthis line is broken\n" >bad &&
	offlineimap-config -c bad accounts 2>err
	status=$?
	echo "offlineimap-config: bad:3: expected \"option = value\" or \"[section]\", not \"this line is broken\"" >want &&
	test_cmp want err && test $status = 1
'

test_expect_success 'check reports every problem with its line' '
	cat >bad <<-\EOF_B &&
	[general]
	accounts = A
	fsync = perhaps
	[Account A]
	localrepository = L
	remoterepository = R
	[Repository L]
	type = Maildir
	localfolders = %(nope)s
	colour = blue
	EOF_B
	offlineimap-config -c bad check 2>err
	status=$?
	cat >want <<-\EOF_W &&
	offlineimap-config: bad:3: [general] fsync: "perhaps" is not a boolean (yes/no, true/false, on/off, 1/0)
	offlineimap-config: bad:6: [Account A] remoterepository: no section [Repository R]
	offlineimap-config: bad:9: [Repository L] localfolders: %(nope)s refers to an option not set in [Repository L] or [DEFAULT]
	offlineimap-config: warning: bad:10: [Repository L] colour: unknown option (ignored)
	EOF_W
	test_cmp want err && test $status = 1
'

test_expect_success 'check passes on a good file' '
	offlineimap-config -c rc check
'

test_expect_success 'usage errors exit 1 with a usage line' '
	offlineimap-config -c rc frobnicate 2>err
	status=$?
	grep -q "^usage: offlineimap-config" err && test $status = 1
'

test_expect_success 'options prints the defaults table' '
	offlineimap-config options >out &&
	grep -q "^option-def	Repository	IMAP Gmail	ssl	bool	yes	" out &&
	grep -q "^option-def	general	\*	metadata	path	~/.offlineimap	" out
'

test_done
