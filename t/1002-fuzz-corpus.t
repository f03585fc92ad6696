#!/bin/sh
# Replay the saved fuzz corpus through the fuzz targets (no libFuzzer needed)
. "$(dirname "$0")/test-lib.sh"

for f in fuzz-record fuzz-config fuzz-imap fuzz-maildir fuzz-plan; do
	c=${f#fuzz-}
	test_expect_success "$f: corpus replays without a crash" "
		'$OI_BUILD/fuzz/$f' '$OI_TOP/fuzz/corpus/$c' >out &&
		grep -q 'inputs replayed' out
	"
done
test_done
