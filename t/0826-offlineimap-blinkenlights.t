#!/bin/sh
# offlineimap -u blinkenlights: the status area and the log drawn on a
# terminal (a pseudo-terminal made by script(1)), read back through a
# small terminal emulator that knows the sequences the UI may write;
# ttyui, with a warning, when standard error is not a terminal.
. "$(dirname "$0")/test-lib.sh"
. "$T/lib-dovecot.sh"

if ! script -qfec true /dev/null </dev/null >/dev/null 2>&1; then
	echo "1..0 # SKIP script(1) of util-linux cannot make a pseudo-terminal here"
	exit 0
fi

dovecot_start || bail_out 'cannot start dovecot'
dovecot_fill alice INBOX 3 >/dev/null || bail_out fill
dovecot_fill alice Work/Sub 2 S >/dev/null || bail_out fill
dovecot_fill alice Archive 1 >/dev/null || bail_out fill
dc_rc rc </dev/null || bail_out rc
export DC_PORT

# on_tty ROWS COLS ARG...: offlineimap ARG... on a terminal of that size,
# all it writes there in raw, its exit status in status
on_tty() {
	_r=$1 _c=$2
	shift 2
	printf '%s\n' "$*" >cmd
	script -qfec "stty rows $_r cols $_c; offlineimap $*; echo \$? >$TEST_DIR/status" \
	    /dev/null </dev/null >raw 2>&1
}

# The screen at the end: the rows (trailing blanks cut, up to the last
# row written), and in screen.state the cursor, the scroll region, the
# characters written past the last column and the scrolls of the whole
# screen.  Any other escape sequence is an error.
cat >emu.pl <<'EOF'
use strict;
use warnings;
my ($rows, $cols, $state) = @ARGV;
binmode STDIN;
local $/;
my $d = <STDIN>;
my @s = map { ' ' x $cols } 1 .. $rows;
my ($r, $c, $top, $bot, $wide, $scrolled) = (0, 0, 0, $rows - 1, 0, 0);
sub blank { ' ' x $cols }
while (length $d) {
	if ($d =~ s/^\e\[(\d+);(\d+)H//) { ($r, $c) = ($1 - 1, $2 - 1) }
	elsif ($d =~ s/^\e\[H//) { ($r, $c) = (0, 0) }
	elsif ($d =~ s/^\e\[2J//) { @s = map { blank() } 1 .. $rows }
	elsif ($d =~ s/^\e\[K//) { substr($s[$r], $c) = ' ' x ($cols - $c) if $c < $cols }
	elsif ($d =~ s/^\e\[(\d+);(\d+)r//) { ($top, $bot, $r, $c) = ($1 - 1, $2 - 1, 0, 0) }
	elsif ($d =~ s/^\e\[r//) { ($top, $bot, $r, $c) = (0, $rows - 1, 0, 0) }
	elsif ($d =~ s/^\r//) { $c = 0 }
	elsif ($d =~ s/^\n//) {
		if ($r == $bot) {
			splice @s, $top, 1;
			splice @s, $bot, 0, blank();
			$scrolled++ if $top == 0 && $bot == $rows - 1;
		} elsif ($r < $rows - 1) { $r++ }
	}
	elsif ($d =~ /^([\e\000-\037\177].{0,8})/s) { die "unknown sequence: ", unpack('H*', $1), "\n" }
	else {
		$d =~ s/^(.)//s;
		if ($c >= $cols) { $wide++ } else { substr($s[$r], $c++, 1) = $1 }
	}
}
s/ +$// for @s;
pop @s while @s && $s[-1] eq '';
print "$_\n" for @s;
open my $fh, '>', $state or die "$state: $!\n";
printf $fh "cursor %d %d\nregion %s\nwide %d\nscrolled %d\n", $r + 1, $c + 1,
    ($top == 0 && $bot == $rows - 1 ? 'whole' : ($top + 1) . '-' . ($bot + 1)), $wide, $scrolled;
EOF

# screen ROWS COLS: the screen of raw, with the port, the durations and
# the rates made constant
screen() {
	perl emu.pl "$1" "$2" screen.state <raw >screen.raw &&
	sed "s/127\.0\.0\.1:$DC_PORT/HOST:PORT/; s/in [0-9]*:[0-9][0-9]/in M:SS/
	    s/[0-9][0-9]*\.[0-9] [KM]B\/s/RATE/g; s/^OfflineIMAP [^ ]* (/OfflineIMAP VERSION (/" screen.raw
}

# "folder uid flags" of every message file, sorted
files() {
	(cd mail && find . -type f -path '*/[cn][ue][rw]/*') |
	sed -n 's|^\./\([^/]*\)/[a-z]*/.*,U=\([0-9]*\),FMD5=[0-9a-f]*:2,\([A-Z]*\)$|\1 \2 \3|p' | sort
}

test_expect_success 'a first sync on a terminal: the final screen' '
	on_tty 40 100 -c rc -u blinkenlights &&
	echo 0 >want && test_cmp want status &&
	screen 40 100 >got &&
	test_file want <<-\EOF &&
	A: done in M:SS, folders 3/3, copied 6/6, RATE
	  Archive: done, copied 1/1, RATE
	  INBOX: done, copied 3/3, RATE
	  Work/Sub: done, copied 2/2, RATE
	---------------------------------------------------------------------------------------------------
	OfflineIMAP VERSION (offlineimap-tools)
	  Compatible with OfflineIMAP 8: same options, configuration and state on disk
	Account sync A:
	 *** Processing account A
	 Establishing connection to HOST:PORT (R)
	 Creating folder Archive[L]
	 Creating new Local Status db for L:Archive
	Folder Archive [acc: A]:
	 Syncing Archive: IMAP -> Maildir
	 Copy message UID 1 (1/1) R:Archive -> L:Archive
	Account sync A:
	 Creating folder INBOX[L]
	 Creating new Local Status db for L:INBOX
	Folder INBOX [acc: A]:
	 Syncing INBOX: IMAP -> Maildir
	 Copy message UID 1 (1/3) R:INBOX -> L:INBOX
	 Copy message UID 2 (2/3) R:INBOX -> L:INBOX
	 Copy message UID 3 (3/3) R:INBOX -> L:INBOX
	Account sync A:
	 Creating folder Work.Sub[L]
	 Creating new Local Status db for L:Work.Sub
	Folder Work/Sub [acc: A]:
	 Syncing Work/Sub: IMAP -> Maildir
	 Copy message UID 1 (1/2) R:Work/Sub -> L:Work.Sub
	 Copy message UID 2 (2/2) R:Work/Sub -> L:Work.Sub
	Account sync A:
	 *** Finished account '"'A'"' in M:SS
	EOF
	test_cmp want got &&
	printf "Archive 1 \nINBOX 1 \nINBOX 2 \nINBOX 3 \nWork.Sub 1 S\nWork.Sub 2 S\n" >want &&
	files >got && test_cmp want got
'

test_expect_success 'drawn in place: cursor addresses, no scrolling of the whole screen' '
	grep -q "$(printf "\033")\[1;1HA: " raw &&
	grep -q "$(printf "\033")\[K" raw &&
	test_file want <<-\EOF &&
	cursor 33 1
	region whole
	wide 0
	scrolled 0
	EOF
	test_cmp want screen.state
'

test_expect_success 'the end: the last line, a newline, nothing after it' '
	test "$(tail -c 2 raw | od -An -tx1 | tr -d " ")" = 0d0a &&
	tail -n 1 raw | grep -q "Finished account .A. in [0-9]*:[0-9][0-9]$(printf "\033")\[K$(printf "\r")$"
'

test_expect_success 'the rates: KB/s from the sizes of the messages fetched' '
	grep "^A: " screen.raw >got &&
	grep -q ", [0-9][0-9]*\.[0-9] KB/s$" got &&
	grep "^  INBOX: " screen.raw >got &&
	grep -q ", [0-9][0-9]*\.[0-9] KB/s$" got
'

test_expect_success 'changes on both sides: flags, deletions, the counts of each' '
	dc_adm flags add -u alice "\\Flagged" mailbox INBOX uid 1 &&
	dovecot_fill alice INBOX 2 >/dev/null &&
	rm mail/Work.Sub/cur/*,U=1,* &&
	on_tty 40 100 -c rc -u blinkenlights &&
	echo 0 >want && test_cmp want status &&
	screen 40 100 >got &&
	sed -n 1,5p got >top &&
	test_file want <<-\EOF &&
	A: done in M:SS, folders 3/3, copied 2/2, flags 1/1, deleted 1/1, RATE
	  Archive: nothing to do
	  INBOX: done, copied 2/2, flags 1/1, RATE
	  Work/Sub: done, deleted 1/1
	---------------------------------------------------------------------------------------------------
	EOF
	test_cmp want top &&
	grep -q "^ Copy message UID 5 (2/2) R:INBOX -> L:INBOX$" got &&
	grep -q "^ Adding flag F to 1 messages on INBOX$" got &&
	grep -q "^ Deleting 1 messages (1) in IMAP\[Work/Sub\]$" got &&
	printf "Archive 1 \nINBOX 1 F\nINBOX 2 \nINBOX 3 \nINBOX 4 \nINBOX 5 \nWork.Sub 2 S\n" >want &&
	files >got && test_cmp want got
'

test_expect_success 'a small terminal: the account, the folders that fit, lines cut' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	on_tty 6 40 -c rc -u blinkenlights &&
	echo 0 >want && test_cmp want status &&
	screen 6 40 >got &&
	test_file want <<-\EOF &&
	A: done in M:SS, folders 3/3, copied 1/
	  INBOX: done, copied 1/1, RATE
	  Work/Sub: nothing to do
	---------------------------------------
	 *** Finished account '"'A'"' in M:SS
	EOF
	test_cmp want got &&
	test_file want <<-\EOF &&
	cursor 6 1
	region whole
	wide 0
	scrolled 0
	EOF
	test_cmp want screen.state &&
	awk "length > 39 { exit 1 }" screen.raw &&
	test "$(files | grep -c "^INBOX")" = 6
'

test_expect_success 'a terminal of 8 rows and 40 columns' '
	dovecot_fill alice Archive 1 >/dev/null &&
	on_tty 8 40 -c rc -u blinkenlights &&
	echo 0 >want && test_cmp want status &&
	screen 8 40 >got &&
	sed -n 1,5p got >top &&
	test_file want <<-\EOF &&
	A: done in M:SS, folders 3/3, copied 1/
	  Archive: done, copied 1/1, RATE
	  INBOX: nothing to do
	  Work/Sub: nothing to do
	---------------------------------------
	EOF
	test_cmp want top &&
	test "$(wc -l <got)" = 7 &&
	grep -q "^cursor 8 1$" screen.state && grep -q "^wide 0$" screen.state &&
	awk "length > 39 { exit 1 }" screen.raw
'

test_expect_success '-l: the log file as with any UI; [general] ui = Curses.Blinkenlights' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	on_tty 40 100 -c rc -k general:ui=Curses.Blinkenlights -l log.txt &&
	echo 0 >want && test_cmp want status &&
	screen 40 100 >got &&
	grep -q "^Using old interface name, consider using one of quiet, basic, syslog, ttyui, blinkenlights, machine$" got &&
	grep -q "^  INBOX: done, copied 1/1, RATE$" got &&
	grep -q "^[0-9-]* [0-9:]* INFO: \*\*\* Processing account A$" log.txt &&
	grep -q "^[0-9-]* [0-9:]* INFO: Copy message UID 7 (1/1) R:INBOX -> L:INBOX$" log.txt &&
	! grep -q "$(printf "\033")" log.txt
'

test_expect_success 'two accounts, one after the other: each with its folders' '
	cat rc >rc2 &&
	sed -n "/^\[Account A\]/,\$p" rc | sed "s/^\[Account A\]/[Account B]/
	    s/^\[Repository L\]/[Repository LB]/; s/^localrepository = L$/localrepository = LB/
	    s|/mail$|/mailb|; /^\[Repository R\]/,\$d" >>rc2 &&
	sed -i "s/^accounts = A$/accounts = A, B/" rc2 &&
	dovecot_fill alice Archive 1 >/dev/null &&
	on_tty 40 100 -c rc2 -u blinkenlights &&
	echo 0 >want && test_cmp want status &&
	screen 40 100 >got &&
	sed -n 1,8p got >top &&
	test_file want <<-\EOF &&
	A: done in M:SS, folders 3/3, copied 1/1, RATE
	  Archive: done, copied 1/1, RATE
	  INBOX: nothing to do
	  Work/Sub: nothing to do
	B: done in M:SS, folders 3/3, copied 11/11, RATE
	  Archive: done, copied 3/3, RATE
	  INBOX: done, copied 7/7, RATE
	  Work/Sub: done, copied 1/1, RATE
	EOF
	test_cmp want top &&
	test "$(find mailb -type f -path "*/[cn][ue][rw]/*" | wc -l)" = 11
'

test_expect_success 'autorefresh: the account sleeps, the time left shown; USR2 ends it' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	rm -f pid status &&
	script -qfec "stty rows 40 cols 100; offlineimap -c rc -a A -u blinkenlights -k Account_A:autorefresh=10 & echo \$! >$TEST_DIR/pid; wait \$!; echo \$? >$TEST_DIR/status" \
	    /dev/null </dev/null >raw 2>&1 & s=$!
	i=0
	while ! grep -q "A: sleeping, next sync in [0-9]*:[0-9][0-9]" raw && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -USR2 "$(cat pid)" && wait $s &&
	echo 0 >want && test_cmp want status &&
	grep -q "A: sleeping, next sync in \(10:00\|9:5[0-9]\)" raw &&
	screen 40 100 >got &&
	grep -q "^A: done in M:SS, folders 3/3, copied 1/1, RATE$" got &&
	grep -q "^Terminating after this sync...$" got
'

test_expect_success 'standard error not a terminal: ttyui, with a warning' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	offlineimap -c rc -a A -u BlinkenLights >out 2>err &&
	test_cmp /dev/null out &&
	sed "s/127\.0\.0\.1:$DC_PORT/HOST:PORT/; s/in [0-9]*:[0-9][0-9]$/in M:SS/" err | sed 1,2d >got &&
	test_file want <<-\EOF &&
	The blinkenlights UI needs a terminal on standard error: using ttyui
	Account sync A:
	 *** Processing account A
	 Establishing connection to HOST:PORT (R)
	Folder Archive [acc: A]:
	 Syncing Archive: IMAP -> Maildir
	Folder INBOX [acc: A]:
	 Syncing INBOX: IMAP -> Maildir
	 Copy message UID 9 (1/1) R:INBOX -> L:INBOX
	Folder Work/Sub [acc: A]:
	 Syncing Work/Sub: IMAP -> Maildir
	Account sync A:
	 *** Finished account '"'A'"' in M:SS
	EOF
	test_cmp want got
'

test_expect_success 'not a terminal, an old name: both warnings' '
	offlineimap -c rc -u Curses.Blinkenlights -o >out 2>err &&
	sed -n 3,4p err >got &&
	test_file want <<-\EOF &&
	Using old interface name, consider using one of quiet, basic, syslog, ttyui, blinkenlights, machineui
	The blinkenlights UI needs a terminal on standard error: using ttyui
	EOF
	test_cmp want got
'

test_expect_success 'a dry run on a terminal: the plan in the log, nothing changed' '
	dovecot_fill alice INBOX 1 >/dev/null &&
	files >before &&
	on_tty 40 100 -c rc -a A -u blinkenlights --dry-run &&
	echo 0 >want && test_cmp want status &&
	screen 40 100 >got &&
	grep -q "^A: done in M:SS, folders 3/3, to copy 1$" got &&
	grep -q "^  INBOX: done, to copy 1$" got &&
	grep -q "^ \[DRYRUN\] Copy 1 messages from INBOX\[R\] to L$" got &&
	files >after && test_cmp before after
'

test_done
