#!/bin/sh
# C unit tests of lib/imap-parse.c (response shapes, literals, errors)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-imap-parse"
