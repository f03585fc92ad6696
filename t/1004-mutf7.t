#!/bin/sh
# C unit tests of lib/mutf7.c (modified UTF-7 folder names)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-mutf7"
