#!/bin/sh
# offlineimap with an OfflineIMAP configuration of the common kind: a
# password from remotepasseval calling a command (helpers in pythonfile),
# nametrans with re.sub both ways, a folderfilter with "in [...]".  It
# works with python3; without it, the message names what to write instead.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 is missing"
	exit 0
fi
dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 2 >/dev/null || bail_out fill
dovecot_fill alice Work/Sub 2 >/dev/null || bail_out fill
dovecot_fill alice Trash 2 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
dc_password alice >pwfile
cat >helpers.py <<EOF
import subprocess
def get_pass():
    return subprocess.check_output(["cat", "$TEST_DIR/pwfile"]).decode().strip()
EOF
sed -i "/^remotepass = /d; /^\[general\]/a pythonfile = $TEST_DIR/helpers.py" rc
cat >>rc <<'EOF'
remotepasseval = get_pass()
nametrans = lambda f: re.sub('^Work', 'Job', f)
folderfilter = lambda f: f in ['INBOX', 'Work/Sub']
EOF
sed -i "/^localfolders/a nametrans = lambda f: re.sub('^Job', 'Work', f)" rc

# a PATH without python3
mkdir nopy && cp -s /usr/bin/* /bin/* nopy/ 2>/dev/null
rm -f nopy/python*
NOPY=$OI_BUILD/bin:$TEST_DIR/nopy

test_expect_success 'without python3: the option to use instead, nothing synced' '
	PATH=$NOPY offlineimap -c rc -u basic >out 2>&1
	s=$?
	grep -q "^ERROR: imap-list: \[Repository R\] remotepasseval is a Python expression and python3 is not installed; use remote[a-z]* instead$" out &&
	test ! -e mail/INBOX && test $s = 1
'

test_expect_success 'with python3: the password, the names and the filter as OfflineIMAP' '
	offlineimap -c rc -u basic >out &&
	grep -q "^Copy message UID 2 (2/2) R:Work/Sub -> L:Job.Sub$" out &&
	! grep -q Trash out && test ! -e mail/Trash &&
	test "$(ls mail/Job.Sub/new | wc -l)" = 2 && test "$(ls mail/INBOX/new | wc -l)" = 2
'

test_expect_success 'a local folder goes back through the nametrans to the server' '
	mkdir -p mail/Job.New/cur mail/Job.New/new mail/Job.New/tmp &&
	printf "Subject: x\n\nbody\n" >mail/Job.New/new/1.x.host &&
	ff="Repository_R:folderfilter=lambda f: f in [\"INBOX\", \"Work/Sub\", \"Work/New\"]" &&
	offlineimap -c rc -u basic -k "$ff" >out &&
	grep -q "^Creating folder Work/New\[R\]$" out &&
	offlineimap -c rc -u basic -k "$ff" >out &&
	test "$(dovecot_count alice Work/New)" = 1
'

test_done
