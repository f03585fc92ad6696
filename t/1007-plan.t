#!/bin/sh
# C unit tests of lib/plan.c (the three-way merge)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-plan"
