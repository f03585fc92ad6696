# t/test-lib.sh - sourced by every t/NNNN-*.t script.
#
# Each script runs on its own (prove runs several at once): it gets a fresh
# scratch directory, HOME points there, LC_ALL=C, TZ=UTC, and the tools under
# test come first in PATH.  Output is TAP.
#
#   test_expect_success 'what' 'commands'     commands must exit 0
#   test_expect_code N 'what' 'commands'      commands must exit N
#   test_cmp expected actual                  diff -u, the failure shows the diff
#   test_cleanup 'command'                    run when the script ends, pass or fail
#                                             (one line; each runs on its own)
#   test_done                                 prints the plan, exits 0 or 1
#
# The scratch directory is removed when every test passed and kept (its path
# is printed) when one failed; OI_KEEP=1 always keeps it.

set -u

OI_TOP=$(cd "$(dirname "$0")/.." && pwd) || exit 1
OI_BUILD=${OI_BUILD:-$OI_TOP/build}
T=$OI_TOP/t
export OI_TOP OI_BUILD
if [ ! -d "$OI_BUILD/bin" ]; then
	echo "Bail out! $OI_BUILD/bin is missing: run 'make' first"
	exit 1
fi
# The real OfflineIMAP (Debian's offlineimap3), the oracle of some tests,
# found before our own offlineimap is first in PATH.
OFFLINEIMAP3=
for p in $(echo "$PATH" | tr : " ") /usr/bin; do
	p=$p/offlineimap
	if [ -f "$p" ] && head -n 1 "$p" | grep -q python; then
		OFFLINEIMAP3=$p
		break
	fi
done
PATH=$OI_BUILD/bin:$PATH
LC_ALL=C
TZ=UTC
export PATH LC_ALL TZ
unset LANG LANGUAGE XDG_CONFIG_HOME OFFLINEIMAPRC 2>/dev/null || :

# Under /tmp, not inside the work tree: as root the private Dovecot's mail
# processes run as another user and must be able to reach their files.
TEST_NAME=$(basename "$0" .t)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oi-$TEST_NAME.XXXXXX") || {
	echo "Bail out! cannot create a scratch directory"; exit 1; }
chmod 755 "$TEST_DIR"
HOME=$TEST_DIR
export HOME TEST_DIR
cd "$TEST_DIR" || exit 1

test_count=0
test_failed=0
test_cleanup_cmds=

test_cleanup() {
	test_cleanup_cmds="$1
$test_cleanup_cmds"
}

test_run_cleanup_() {
	trap - EXIT HUP INT TERM
	# each command on its own: one that fails cannot skip the others
	if [ -n "$test_cleanup_cmds" ]; then
		printf '%s\n' "$test_cleanup_cmds" | while IFS= read -r c; do
			[ -n "$c" ] && (eval "$c") >/dev/null 2>&1
		done
		test_cleanup_cmds=
	fi
	cd / || :
	if [ "$test_failed" = 0 ] && [ "${OI_KEEP:-0}" = 0 ]; then
		rm -rf "$TEST_DIR"
	else
		echo "# scratch directory kept: $TEST_DIR"
	fi
}
trap 'test_failed=1; test_run_cleanup_' EXIT
trap 'test_failed=1; test_run_cleanup_; exit 1' HUP INT PIPE TERM

test_ok_() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1"
}

test_fail_() {
	test_count=$((test_count + 1))
	test_failed=1
	echo "not ok $test_count - $1"
	sed 's/^/#	/' "$TEST_DIR/.test-out"
}

# Commands run in a subshell, in the scratch directory, with output kept in
# a file that is shown only on failure.  Only for a body whose checks
# cannot end with the status expected: a failed grep or test exits 1, so
# "tool; s=$?; grep ... && exit $s" passes on a failed grep when 1 is
# expected.  Write such a test as test_expect_success with
# "{ tool; test $? = 1; } && grep ..." instead.
test_expect_code() {
	want=$1 desc=$2 script=$3
	(cd "$TEST_DIR" && eval "$script") >"$TEST_DIR/.test-out" 2>&1 </dev/null
	got=$?
	if [ "$got" = "$want" ]; then
		test_ok_ "$desc"
	else
		echo "exit status $got, expected $want; commands:" >>"$TEST_DIR/.test-out"
		printf '%s\n' "$script" >>"$TEST_DIR/.test-out"
		test_fail_ "$desc"
	fi
}

test_expect_success() {
	test_expect_code 0 "$1" "$2"
}

# wait_for N FILE REGEX [TENTHS]: until FILE has N lines that match the
# basic REGEX (TENTHS of a second at most, 200 unless told); else says
# what FILE holds and fails.
wait_for() {
	wf_i=0
	while [ "$(cat "$2" 2>/dev/null | grep -c -e "$3")" -lt "$1" ]; do
		wf_i=$((wf_i + 1))
		if [ "$wf_i" -gt "${4:-200}" ]; then
			echo "timeout waiting for $1 x '$3' in $2:"
			cat "$2" 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
}

# wait_line FILE REGEX [TENTHS]: wait_for one line (5 s unless told).
wait_line() {
	wait_for 1 "$1" "$2" "${3:-50}"
}

# gone_pid PID: the process ended within 5 s.  gone_cmd PATTERN: no
# process's command line matches PATTERN within 15 s.
gone_pid() {
	gp_i=0
	while kill -0 "$1" 2>/dev/null; do
		gp_i=$((gp_i + 1))
		[ "$gp_i" -gt 50 ] && { echo "$1 still runs"; return 1; }
		sleep 0.1
	done
}
gone_cmd() {
	gc_i=0
	while pgrep -f -- "$1" >/dev/null; do
		gc_i=$((gc_i + 1))
		[ "$gc_i" -gt 150 ] && { echo "$1 still runs"; return 1; }
		sleep 0.1
	done
}

test_cmp() {
	diff -u "$1" "$2"
}

# A fresh file from a here-document, without the leading tabs.
test_file() {
	sed 's/^	//' >"$1"
}

test_done() {
	echo "1..$test_count"
	if [ "$test_failed" = 0 ]; then
		test_run_cleanup_
		exit 0
	fi
	test_run_cleanup_
	exit 1
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}
