# Outpost build. `make` builds ./outpost; `make check` runs every test;
# `make asan` runs them again under AddressSanitizer + UBSan.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
BUILD   ?= build
PKGS     = netsnmp libcurl libcjson zlib inih libcrypto
HUB_PKGS = libmicrohttpd gnutls sqlite3 libpq libcjson zlib inih libcrypto
OPT     ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef \
           -Wno-unused-parameter
CPPFLAGS_ALL = -std=c11 -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS) $(HUB_PKGS))
CFLAGS_ALL   = $(OPT) $(WARN) $(SAN) -fno-strict-aliasing -fstack-protector-strong \
               -D_FORTIFY_SOURCE=2 $(CFLAGS)
# libcurl is loaded at run time (transport/curl_dl.h), not linked.
LDLIBS_ALL   = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS))) -ldl -lm $(LDLIBS)

# The module list reads like the architecture (docs/architecture.md).
# core/ holds the platform files: exactly one platform's are compiled,
# POSIX (Linux) by default, Windows with PLATFORM=win (make windows).
PLATFORM ?= posix
PLATFORM_SRC_posix = core/platform_posix.c core/loop_epoll.c
PLATFORM_SRC_win   = $(wildcard core/*_win.c) core/loop_wsapoll.c
# snmp/'s scanner and notification receiver: their sockets are Linux's
# batched UDP (sendmmsg, recvmmsg) or Winsock's.
PLATFORM_SRC_posix += snmp/scan_linux.c snmp/trap_linux.c
PLATFORM_SRC_win   += snmp/scan_win.c snmp/trap_win.c
PLATFORM_ALL = $(PLATFORM_SRC_posix) $(PLATFORM_SRC_win)
CORE_SRC   = $(filter-out $(PLATFORM_ALL), $(wildcard core/*.c)) \
             $(filter core/%,$(PLATFORM_SRC_$(PLATFORM)))
CONFIG_SRC = $(wildcard config/*.c)
SNMP_SRC   = $(filter-out $(PLATFORM_ALL), $(wildcard snmp/*.c)) \
             $(filter snmp/%,$(PLATFORM_SRC_$(PLATFORM)))
TRANSPORT_SRC = $(wildcard transport/*.c)
# protocol/: what both sides of the wire share (limits, commands, gzip)
PROTOCOL_SRC = $(wildcard protocol/*.c)
AGENT_SRC  = $(filter-out agent/main.c,$(wildcard agent/*.c))
LIB_SRC    = $(CORE_SRC) $(CONFIG_SRC) $(PROTOCOL_SRC) $(SNMP_SRC) $(TRANSPORT_SRC) \
             $(AGENT_SRC)
LIB_OBJ    = $(LIB_SRC:%.c=$(BUILD)/%.o)
# outpost-hub: hub/ on core/, config/ and protocol/ (no SNMP, no libcurl)
HUB_LIB_SRC = $(filter-out hub/main.c,$(wildcard hub/*.c))
HUB_LIB_OBJ = $(HUB_LIB_SRC:%.c=$(BUILD)/%.o) $(CONSOLE_OBJ)
# The operator console (hub/console/, docs/console.md): esbuild bundles it
# and build.mjs embeds it gzip-compressed as a generated C file. Needs
# node and hub/console/node_modules (`npm ci`, packaging/deps.sh); without
# them outpost-hub is built with an empty console (/ says so).
CONSOLE_DIR  = hub/console
CONSOLE_SRC  = $(wildcard $(CONSOLE_DIR)/src/*) $(CONSOLE_DIR)/build.mjs \
               $(CONSOLE_DIR)/package-lock.json
CONSOLE_C    = $(BUILD)/hub/console_assets.c
CONSOLE_OBJ  = $(BUILD)/hub/console_assets.o
CONSOLE_TOOLS := $(shell command -v node >/dev/null 2>&1 && \
                   test -x $(CONSOLE_DIR)/node_modules/.bin/esbuild && echo yes || echo no)
# Rebuilt when the tools come or go, not only when the sources change.
CONSOLE_MODE = $(BUILD)/hub/console.mode
$(shell mkdir -p $(BUILD)/hub && (echo $(CONSOLE_TOOLS) | cmp -s - $(CONSOLE_MODE) || \
  echo $(CONSOLE_TOOLS) > $(CONSOLE_MODE)))
HUB_OBJ    = $(BUILD)/hub/main.o $(HUB_LIB_OBJ) $(CORE_SRC:%.c=$(BUILD)/%.o) \
             $(CONFIG_SRC:%.c=$(BUILD)/%.o) $(PROTOCOL_SRC:%.c=$(BUILD)/%.o)
HUB_LIBS   = $(shell pkg-config --libs $(HUB_PKGS)) -lm
# outpost-farm: the device simulator the tests and benchmarks talk to
# (tests/farm/README.md). Its own BER and USM on libcrypto and zlib only.
FARM_LIB_SRC = $(filter-out tests/farm/farm.c tests/farm/load.c,$(wildcard tests/farm/*.c))
FARM_LIB_OBJ = $(FARM_LIB_SRC:%.c=$(BUILD)/%.o)
FARM_CPPFLAGS = -std=c11 -D_GNU_SOURCE $(shell pkg-config --cflags libcrypto zlib)
FARM_LIBS  = $(shell pkg-config --libs libcrypto zlib)
FARM_BIN   = $(BUILD)/outpost-farm $(BUILD)/outpost-farm-load
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit integration asan bench deps demo clean install docs \
        uninstall deb man farm swarm bench-fleet screenshots

all: outpost outpost-hub

outpost: $(BUILD)/outpost
	@if [ "$(BUILD)" = build ]; then cp $(BUILD)/outpost ./outpost; fi

outpost-hub: $(BUILD)/outpost-hub
	@if [ "$(BUILD)" = build ]; then cp $(BUILD)/outpost-hub ./outpost-hub; fi

$(BUILD)/outpost-hub: $(HUB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(HUB_LIBS) $(LDLIBS)

$(BUILD)/outpost: $(BUILD)/agent/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

$(CONSOLE_C): $(CONSOLE_SRC) $(CONSOLE_MODE)
ifeq ($(CONSOLE_TOOLS),yes)
	node $(CONSOLE_DIR)/build.mjs $(BUILD)/console $@
else
	@echo "console: node or $(CONSOLE_DIR)/node_modules missing" \
	  "(packaging/deps.sh): outpost-hub is built without its console" >&2
	printf '%s\n' '#include "hub/console.h"' \
	  'const struct hub_console_asset hub_console_assets[] = {' \
	  '	{ NULL, NULL, NULL, 0, 0, NULL, false },' '};' > $@
endif

$(CONSOLE_OBJ): $(CONSOLE_C) hub/console.h
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

farm: $(FARM_BIN)

# outpost-swarm: many agents' real transports in one process, for the hub
# group benchmark (bench/swarm.c). Not part of `make all` nor the .deb.
swarm: $(BUILD)/outpost-swarm

$(BUILD)/outpost-swarm: $(BUILD)/bench/swarm.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/outpost-farm: $(BUILD)/tests/farm/farm.o $(FARM_LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(FARM_LIBS)

$(BUILD)/outpost-farm-load: $(BUILD)/tests/farm/load.o $(FARM_LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(FARM_LIBS)

$(BUILD)/tests/farm/%.o: tests/farm/%.c tests/farm/farm.h
	@mkdir -p $(dir $@)
	$(CC) $(FARM_CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) $(HUB_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) \
	  $(HUB_LIBS) -lcmocka

# The Windows build's stand-in for libinih (packaging/windows/ini/oini.h),
# compared with the libinih Linux links.
OINI_OBJ = $(BUILD)/packaging/windows/ini/oini.o
$(OINI_OBJ): packaging/windows/ini/oini.h
$(BUILD)/tests/test_ini_compat: $(OINI_OBJ)

TEST_ENV = OUTPOST=$(CURDIR)/$(BUILD)/outpost OUTPOST_HUB=$(CURDIR)/$(BUILD)/outpost-hub \
           BUILD=$(BUILD)

# check runs the Linux tests, then, when the cross compiler, Wine and wixl
# are installed (packaging/deps.sh), `make windows` and the tests under
# Wine (packaging/windows/windows.mk); it says so when it skips them.
# asan runs the Linux tests only (WIN_CHECK=no).
check: $(BUILD)/outpost $(BUILD)/outpost-hub $(UNIT_BIN) $(FARM_BIN)
	@t0=$$(date +%s); rc=0; $(TEST_ENV) tests/run || rc=$$?; \
	echo "check: Linux tests in $$(($$(date +%s) - t0))s"; \
	if [ "$(WIN_CHECK)" = yes ]; then \
	  $(MAKE) --no-print-directory windows-check || rc=1; \
	else echo "check: $(WIN_SKIP)"; fi; exit $$rc

integration: $(BUILD)/outpost $(BUILD)/outpost-hub $(FARM_BIN)
	$(TEST_ENV) tests/run integration

unit: $(UNIT_BIN)
	BUILD=$(BUILD) tests/run unit

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" WIN_CHECK=no check

# The benchmarks' peers (onesixtyone, prometheus-snmp-exporter) are
# installed here only, never by deps or demo.
bench: $(BUILD)/outpost $(BUILD)/outpost-hub $(FARM_BIN) $(BUILD)/outpost-swarm
	bash packaging/deps.sh --bench
	$(TEST_ENV) bench/run

# The hub group on PostgreSQL behind HAProxy, with 10,000 swarm agents and
# 100 real ones (bench/fleet_bench.py; about 20 minutes, needs root).
bench-fleet: $(BUILD)/outpost $(BUILD)/outpost-hub $(BUILD)/outpost-swarm
	bash packaging/deps.sh
	$(TEST_ENV) /usr/bin/python3 bench/fleet_bench.py $(FLEET_ARGS)

# The README's first command: the packages it needs, build, then the
# loopback demo; it prints the console's URL and a token (KEEP=1: runs
# until Ctrl-C).
demo:
	bash packaging/deps.sh --demo
	$(MAKE) all
	OUTPOST=$(CURDIR)/$(BUILD)/outpost KEEP=$(KEEP) demo/demo.py

# The console's screenshots in docs/img, taken by its browser tests.
screenshots: $(BUILD)/outpost $(BUILD)/outpost-hub $(FARM_BIN)
	OUTPOST_SCREENSHOTS=docs/img $(TEST_ENV) tests/run integration -k test_console.py

# Debian build and test packages (needs root when some are missing).
deps:
	bash packaging/deps.sh

docs: $(BUILD)/outpost man
	$(BUILD)/outpost config-docs markdown > docs/config.md
	$(BUILD)/outpost config-docs ini > packaging/outpost.ini
	$(BUILD)/outpost config-docs hub-markdown > docs/hub-config.md
	$(BUILD)/outpost config-docs hub-ini > packaging/outpost-hub.ini

# Installation. The units name /usr/bin; install rewrites that to BINDIR.
# Sample configurations go to /etc/outpost only if absent, mode 0600.
# The service users are declared in sysusers.d (`systemd-sysusers` makes
# them); nothing here changes the running system beyond copying files.
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MAN_GEN      = packaging/man/outpost.ini.5 packaging/man/outpost-hub.ini.5
MAN_HAND     = packaging/man/outpost.8 packaging/man/outpost-hub.8
OUTPOST_VERSION = $(shell sed -n 's/^\#define OUTPOST_VERSION "\(.*\)"/\1/p' core/core.h)

# The generated man pages, and the version in the written ones
# (make docs runs this too).
man: $(BUILD)/outpost
	$(BUILD)/outpost config-docs man > packaging/man/outpost.ini.5
	$(BUILD)/outpost config-docs hub-man > packaging/man/outpost-hub.ini.5
	sed -i 's/^\(\.TH .* "Outpost \)[^"]*"/\1$(OUTPOST_VERSION)"/' $(MAN_HAND)

install: $(BUILD)/outpost $(BUILD)/outpost-hub
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/outpost $(BUILD)/outpost-hub $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MAN_HAND) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN_GEN) $(DESTDIR)$(MANDIR)/man5/
	for u in outpost outpost-hub; do \
	  sed 's|/usr/bin/|$(BINDIR)/|g' packaging/$$u.service \
	    > $(DESTDIR)$(UNITDIR)/$$u.service && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.service && \
	  install -m 0644 packaging/$$u.sysusers $(DESTDIR)$(SYSUSERSDIR)/$$u.conf \
	  || exit 1; \
	done
	install -d -m 0755 $(DESTDIR)/etc/outpost
	test -e $(DESTDIR)/etc/outpost/outpost.ini || \
	  install -m 0600 packaging/outpost.ini $(DESTDIR)/etc/outpost/outpost.ini
	test -e $(DESTDIR)/etc/outpost/hub.ini || \
	  install -m 0600 packaging/outpost-hub.ini $(DESTDIR)/etc/outpost/hub.ini
	@echo "Installed. Next (docs/operations.md): systemd-sysusers;" \
	  "chown outpost: /etc/outpost/outpost.ini; systemctl daemon-reload"

# Leaves /etc/outpost and the state directories: they are the user's.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/outpost $(DESTDIR)$(BINDIR)/outpost-hub \
	  $(DESTDIR)$(MANDIR)/man8/outpost.8 $(DESTDIR)$(MANDIR)/man8/outpost-hub.8 \
	  $(DESTDIR)$(MANDIR)/man5/outpost.ini.5 \
	  $(DESTDIR)$(MANDIR)/man5/outpost-hub.ini.5 \
	  $(DESTDIR)$(UNITDIR)/outpost.service $(DESTDIR)$(UNITDIR)/outpost-hub.service \
	  $(DESTDIR)$(SYSUSERSDIR)/outpost.conf $(DESTDIR)$(SYSUSERSDIR)/outpost-hub.conf

# build/deb/outpost_VERSION_ARCH.deb and outpost-hub_VERSION_ARCH.deb
deb: $(BUILD)/outpost $(BUILD)/outpost-hub
	@grep -q '"/assets/' $(CONSOLE_C) || { echo "deb: $(BUILD)/outpost-hub" \
	  "has no console (node/npm missing: packaging/deps.sh)" >&2; exit 1; }
	bash packaging/build-deb.sh --outpost $(BUILD)/outpost \
	  --hub $(BUILD)/outpost-hub --out $(BUILD)/deb

clean:
	rm -rf build build-asan build-win outpost outpost-hub

# make windows, make windows-check: the cross-built agent and its tests
# under Wine (packaging/windows/windows.mk, docs/windows.md).
include packaging/windows/windows.mk
