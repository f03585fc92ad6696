#!/bin/sh
# C unit tests of lib/config.c (configparser's rules, defaults, errors)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-config"
