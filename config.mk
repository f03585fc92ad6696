# offlineimap toolkit: the knobs a packager edits.

VERSION = 0.1.0

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

CC = cc
PKG_CONFIG = pkg-config

# libtls (LibreSSL API; Debian: libtls-dev), SQLite, libbsd
TLS_CFLAGS = $$($(PKG_CONFIG) --cflags libtls 2>/dev/null)
TLS_LIBS = $$($(PKG_CONFIG) --libs libtls 2>/dev/null || echo -ltls)
SQLITE_CFLAGS = $$($(PKG_CONFIG) --cflags sqlite3 2>/dev/null)
SQLITE_LIBS = $$($(PKG_CONFIG) --libs sqlite3 2>/dev/null || echo -lsqlite3)
BSD_CFLAGS = $$($(PKG_CONFIG) --cflags libbsd-overlay 2>/dev/null)
BSD_LIBS = $$($(PKG_CONFIG) --libs libbsd-overlay 2>/dev/null || echo -lbsd)
# libmd (MD5, SHA-1, SHA-2; Debian: libmd-dev, comes with libbsd-dev)
MD_CFLAGS = $$($(PKG_CONFIG) --cflags libmd 2>/dev/null)
MD_LIBS = $$($(PKG_CONFIG) --libs libmd 2>/dev/null || echo -lmd)
# zlib (COMPRESS=DEFLATE; Debian: zlib1g-dev)
Z_CFLAGS = $$($(PKG_CONFIG) --cflags zlib 2>/dev/null)
Z_LIBS = $$($(PKG_CONFIG) --libs zlib 2>/dev/null || echo -lz)

CPPFLAGS = -D_DEFAULT_SOURCE -D_GNU_SOURCE -DVERSION=\"$(VERSION)\"
CFLAGS = -std=c11 -O2 -g -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
LDFLAGS =
