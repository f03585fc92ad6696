#!/bin/sh
# C unit tests of lib/status.c (OfflineIMAP's status cache files)
exec "${OI_BUILD:-$(dirname "$0")/../build}/t/unit-status"
