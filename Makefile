# Outpost build. `make` builds ./outpost; `make check` runs every test;
# `make asan` runs them again under AddressSanitizer + UBSan.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
BUILD   ?= build
PKGS     = netsnmp libcurl libcjson zlib inih
OPT     ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef \
           -Wno-unused-parameter
CPPFLAGS_ALL = -std=c11 -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS))
CFLAGS_ALL   = $(OPT) $(WARN) $(SAN) -fno-strict-aliasing -fstack-protector-strong \
               -D_FORTIFY_SOURCE=2 $(CFLAGS)
LDLIBS_ALL   = $(shell pkg-config --libs $(PKGS)) -lm $(LDLIBS)

# The module list reads like the architecture (docs/architecture.md).
CORE_SRC   = $(wildcard core/*.c)
CONFIG_SRC = $(wildcard config/*.c)
SNMP_SRC   = $(wildcard snmp/*.c)
AGENT_SRC  = $(filter-out agent/main.c,$(wildcard agent/*.c))
LIB_SRC    = $(CORE_SRC) $(CONFIG_SRC) $(SNMP_SRC) $(AGENT_SRC)
LIB_OBJ    = $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit integration asan bench deps demo clean install docs

all: outpost

outpost: $(BUILD)/outpost
	@if [ "$(BUILD)" = build ]; then cp $(BUILD)/outpost ./outpost; fi

$(BUILD)/outpost: $(BUILD)/agent/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

check: $(BUILD)/outpost $(UNIT_BIN)
	OUTPOST=$(CURDIR)/$(BUILD)/outpost BUILD=$(BUILD) tests/run

integration: $(BUILD)/outpost
	OUTPOST=$(CURDIR)/$(BUILD)/outpost BUILD=$(BUILD) tests/run integration

unit: $(UNIT_BIN)
	BUILD=$(BUILD) tests/run unit

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" check

bench: $(BUILD)/outpost
	OUTPOST=$(CURDIR)/$(BUILD)/outpost bench/run

# The README's first command: packages, build, then the loopback demo.
demo: deps
	$(MAKE) all
	OUTPOST=$(CURDIR)/$(BUILD)/outpost demo/demo.py

# Debian build, test and benchmark packages (needs root).
deps:
	bash packaging/deps.sh

docs: $(BUILD)/outpost
	$(BUILD)/outpost config-docs markdown > docs/config.md
	$(BUILD)/outpost config-docs ini > packaging/outpost.ini
	$(BUILD)/outpost config-docs hub-markdown > docs/hub-config.md
	$(BUILD)/outpost config-docs hub-ini > packaging/outpost-hub.ini

install: $(BUILD)/outpost
	install -D -m 0755 $(BUILD)/outpost $(DESTDIR)$(PREFIX)/bin/outpost

clean:
	rm -rf build build-asan outpost
