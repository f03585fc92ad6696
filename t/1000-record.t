#!/bin/sh
# C unit tests of lib/record.c (round trips of every byte, errors)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-record"
