#!/bin/sh
# C unit tests of lib/maildir.c (names, FMD5, flags, safety, delivery)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-maildir"
