# offlineimap toolkit - see README.  Knobs are in config.mk.
include config.mk

# Every build product goes under $(B); the sanitizer build uses its own.
B = build

TOOLS = fmd5-migrate imap-list imap-fetch offlineimap-config maildir-scan sync-plan sync-apply offlineimap-lock imap-rmfolder imap-idle imap-hold
SCRIPTS = offlineimap
MAN1 = $(TOOLS:=.1) $(SCRIPTS:=.1)
MAN7 = offlineimap-tools.7

LIBSRC = lib/config.c lib/fetch.c lib/imap.c lib/imap-parse.c lib/listing.c lib/maildir.c lib/message.c lib/mutf7.c lib/options.c lib/plan.c lib/record.c lib/remote.c lib/run.c lib/status.c lib/util.c
LIBHDR = lib/config.h lib/fetch.h lib/imap.h lib/imap-parse.h lib/listing.h lib/maildir.h lib/message.h lib/mutf7.h lib/plan.h lib/record.h lib/remote.h lib/run.h lib/status.h lib/util.h
UNITS = unit-record unit-config unit-mutf7 unit-imap-parse unit-status unit-maildir unit-plan
HELPERS = status-tool
FUZZERS = fuzz-record fuzz-config fuzz-imap fuzz-maildir fuzz-plan

LIBOBJ = $(LIBSRC:%.c=$(B)/%.o)
LIBA = $(B)/lib/liboi.a
ALLCFLAGS = $(CPPFLAGS) -Ilib $(TLS_CFLAGS) $(SQLITE_CFLAGS) $(BSD_CFLAGS) $(MD_CFLAGS) $(Z_CFLAGS) $(CFLAGS)
ALLLIBS = $(LIBA) $(TLS_LIBS) $(SQLITE_LIBS) $(MD_LIBS) $(Z_LIBS) $(BSD_LIBS)

all: tools
tools: $(TOOLS:%=$(B)/bin/%) $(SCRIPTS:%=$(B)/bin/%)
tests: $(UNITS:%=$(B)/t/%) $(HELPERS:%=$(B)/t/%) $(FUZZERS:%=$(B)/fuzz/%)

$(B)/lib/%.o: lib/%.c $(LIBHDR) config.mk
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(LIBA): $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

$(B)/bin/%: bin/%.c $(LIBA) $(LIBHDR) config.mk
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $< $(ALLLIBS)

$(B)/bin/%: bin/%.sh
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/g' $< >$@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(B)/t/%: t/unit/%.c t/unit/tap.h $(LIBA) $(LIBHDR) config.mk
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -It/unit $(LDFLAGS) -o $@ $< $(ALLLIBS)

# Small programs the tests use (t/helper/), beside the unit tests.
$(B)/t/%: t/helper/%.c $(LIBA) $(LIBHDR) config.mk
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $< $(ALLLIBS)

# Fuzz targets built with a plain main() that replays files: the corpus in
# fuzz/corpus/ runs in every `make check`.  `make fuzz` builds them with
# libFuzzer (clang) for real fuzzing.
$(B)/fuzz/%: fuzz/%.c fuzz/replay.c $(LIBA) $(LIBHDR) config.mk
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $< fuzz/replay.c $(ALLLIBS)

FUZZ_CC = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FB = build-fuzz
fuzz:
	@mkdir -p $(FB)
	@for f in $(FUZZERS); do \
	  echo "$(FUZZ_CC) $$f" && \
	  $(FUZZ_CC) $(CPPFLAGS) -Ilib $(BSD_CFLAGS) $(FUZZ_FLAGS) -o $(FB)/$$f fuzz/$$f.c $(LIBSRC) \
	    $(TLS_LIBS) $(SQLITE_LIBS) $(MD_LIBS) $(Z_LIBS) $(BSD_LIBS) || exit 1; \
	done
	@echo "run: $(FB)/fuzz-imap -max_total_time=60 fuzz/corpus/imap"

# Tests: TAP scripts under prove.  share/deps checks (and, as root, installs)
# what the tests need first.
PROVE = prove
PROVE_FLAGS = -j2
check:
	@sh share/deps check
	@$(MAKE) --no-print-directory all tests
	OI_BUILD=$(CURDIR)/$(B) $(PROVE) $(PROVE_FLAGS) t/

# The same suite with AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
check-san:
	$(MAKE) B=build-san CFLAGS="$(CFLAGS) $(SAN_FLAGS)" LDFLAGS="$(LDFLAGS) -fsanitize=address,undefined" check

# Benchmarks: not timed tests.  See share/bench.
bench: all
	@sh share/deps check
	OI_BUILD=$(CURDIR)/$(B) sh share/bench

lint:
	mandoc -Tlint -Wwarning man1/*.1 man7/*.7
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --std=c11 --inline-suppr -D__GNUC__ -Ilib lib bin t/unit fuzz

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(MANPREFIX)/man7
	for f in $(TOOLS) $(SCRIPTS); do cp -f $(B)/bin/$$f $(DESTDIR)$(PREFIX)/bin/ && \
	  chmod 755 $(DESTDIR)$(PREFIX)/bin/$$f || exit 1; done
	for f in $(MAN1); do sed 's/@VERSION@/$(VERSION)/g' man1/$$f >$(DESTDIR)$(MANPREFIX)/man1/$$f && \
	  chmod 644 $(DESTDIR)$(MANPREFIX)/man1/$$f || exit 1; done
	for f in $(MAN7); do sed 's/@VERSION@/$(VERSION)/g' man7/$$f >$(DESTDIR)$(MANPREFIX)/man7/$$f && \
	  chmod 644 $(DESTDIR)$(MANPREFIX)/man7/$$f || exit 1; done

uninstall:
	for f in $(TOOLS) $(SCRIPTS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$f; done
	for f in $(MAN1); do rm -f $(DESTDIR)$(MANPREFIX)/man1/$$f; done
	for f in $(MAN7); do rm -f $(DESTDIR)$(MANPREFIX)/man7/$$f; done

clean:
	rm -rf build build-san build-fuzz

.PHONY: all tools tests fuzz check check-san bench lint install uninstall clean
.SUFFIXES:

# A demonstration on a throwaway local Dovecot: sample mail synced into a
# Maildir, a --dry-run plan, the sync.  Installs what is missing as root
# (or prints the apt-get command).  See share/demo.
demo:
	@sh share/deps check
	@$(MAKE) --no-print-directory all
	@sh share/demo $(CURDIR)/$(B)

.PHONY: demo
