# lib-sync.sh - whole syncs with the tools, and checks that both sides and
# the status agree, message by message (sourced after lib-dovecot.sh; the
# configuration is ./rc for account A, as dc_rc writes it).

# sync_run [option ...]: one sync (list, scan, plan, apply); the records
# stay in remote, local, plan and applied; options go to imap-list and
# sync-apply (-k ...).  The status of sync-apply is the result.
sync_run() {
	imap-list -c rc -a A -m "$@" >remote || return 1
	maildir-scan -c rc -a A -m >local || return 1
	sync-plan -c rc -a A remote local >plan || return 1
	sync-apply -c rc -a A "$@" plan >applied
}

# sync_quiet: the actions of the last plan (nothing when in sync)
plan_actions() {
	sed '/^#/d; /^account	/d; /^folder	/d; /^end	/d' plan
}

# side DIR: "folder<TAB>uid<TAB>flags<TAB>md5" for every message file under DIR,
# sorted; a file without a UID shows "none".
side() {
	(cd "$1" && find . -type f \( -path '*/cur/*' -o -path '*/new/*' \)) |
	perl -MDigest::MD5 -ne '
		chomp; my $p = $_; (my $d = $p) =~ s{^\./}{};
		my ($folder, $name) = $d =~ m{^(?:(.*)/)?(?:cur|new)/([^/]+)$} or next;
		$folder = "" unless defined $folder;
		my ($uid) = $name =~ /,U=(\d+)/; $uid = "none" unless defined $uid;
		my ($fl) = $name =~ /:2,([A-Za-z]*)$/; $fl = "" unless defined $fl;
		$fl = join "", sort split //, $fl;
		open my $fh, "<", "'"$1"'/$d" or die "$d: $!";
		binmode $fh; my $md5 = Digest::MD5->new->addfile($fh)->hexdigest;
		print "$folder\t$uid\t$fl\t$md5\n";
	' | sort
}

# sides_agree: the server's messages (downloaded afresh into ./snap with
# imap-fetch) and the local ones are the same, by folder, UID, flags and
# body; every status row is a local message with its flags.
sides_agree() {
	rm -rf snap &&
	imap-list -c rc -a A -m "$@" >snap.list &&
	imap-fetch -c rc -a A -k "Repository_L:localfolders=$TEST_DIR/snap" \
	    "$@" <snap.list >snap.out &&
	side snap >side.remote && side mail >side.local &&
	test_cmp side.remote side.local &&
	for db in meta/Account-A/LocalStatus-sqlite/*; do
		f=$(basename "$db")
		sqlite3 -separator ' ' "$db" 'SELECT id, flags FROM status ORDER BY id' |
		    sort >status.rows || return 1
		awk -F '	' -v f="$f" '{ g = $1; gsub("/", ".", g); if (g == f) print $2, $3 }' \
		    side.local | sort >local.rows
		test_cmp local.rows status.rows || return 1
	done
}

# no_duplicates: no body twice in a folder, on either side
no_duplicates() {
	awk -F '	' '{ print $1, $4 }' side.local | sort | uniq -d >dups &&
	test_cmp /dev/null dups
}
