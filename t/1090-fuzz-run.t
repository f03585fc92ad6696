#!/bin/sh
# A short, bounded libFuzzer run of every fuzz target (clang), on a copy of
# the saved corpus.  A crash fails the test and leaves its input in the
# kept scratch directory: add it to fuzz/corpus/ when it is fixed.
. "$(dirname "$0")/test-lib.sh"

secs=${OI_FUZZ_SECONDS:-15}
command -v clang >/dev/null 2>&1 || bail_out 'clang is missing: sh share/deps install'

test_expect_success 'the fuzz targets build with libFuzzer' '
	make -s -C "$OI_TOP" FB="$TEST_DIR/fz" fuzz >build.log 2>&1 ||
	{ cat build.log; false; }
'

for f in "$OI_TOP"/fuzz/fuzz-*.c; do
	f=$(basename "$f" .c)
	c=${f#fuzz-}
	test_expect_success "$f runs ${secs}s without a crash" "
		mkdir -p 'corpus-$c' &&
		cp '$OI_TOP/fuzz/corpus/$c'/* 'corpus-$c'/ 2>/dev/null
		'$TEST_DIR/fz/$f' -max_total_time=$secs -max_len=4096 -timeout=10 \
		    -rss_limit_mb=1024 -artifact_prefix='$TEST_DIR/crash-$c-' \
		    'corpus-$c' >'$c.log' 2>&1 ||
		{ tail -n 30 '$c.log'; false; }
	"
done

test_done
