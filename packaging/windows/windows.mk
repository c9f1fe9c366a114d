# The Windows agent, cross-built here (included at the end of the Makefile).
#
#   make windows        libraries (packaging/windows/deps.sh, cached), then
#                       build-win/outpost.exe and the MSI, then its unit tests
#   make windows-check  the tests under Wine (tests/wine), also run by
#                       `make check` when the toolchain and Wine are here
#                       (WIN_CHECK=no leaves them out)
#
# The hub stays Linux-only. PLATFORM=win selects core/'s Windows files
# instead of the POSIX ones (CORE_SRC in the Makefile); nothing else here
# chooses source files.
WIN_HOST   = x86_64-w64-mingw32
WIN_BUILD  = build-win
WIN_MSI    = $(BUILD)/outpost-$(OUTPOST_VERSION)-x64.msi
# The cross compiler, what packaging/windows/deps.sh builds with, Wine and
# wixl all present: `make check` runs `make windows-check` (WIN_CHECK=yes);
# otherwise it names what is missing (WIN_SKIP).
# (Debian's wine64 is not on PATH: `wine` starts /usr/lib/wine/wine64.)
WIN_NEED    = $(WIN_HOST)-gcc cmake ninja dpkg-source wine wixl
WIN_MISSING := $(foreach t,$(WIN_NEED),$(if $(shell command -v $(t)),,$(t))) \
               $(if $(wildcard /usr/lib/wine/wine64 /usr/bin/wine64),,wine64)
WIN_TOOLS   := $(if $(strip $(WIN_MISSING)),no,yes)
WIN_CHECK   ?= $(WIN_TOOLS)
WIN_SKIP    = Windows build and Wine tests SKIPPED: $(if $(strip $(WIN_MISSING)),$(strip \
              $(WIN_MISSING)) not installed (bash packaging/deps.sh installs them),WIN_CHECK=$(WIN_CHECK))

.PHONY: windows windows-check windows-unit win-all win-tests

# The libraries (cached), then the product: outpost.exe and the MSI, a
# failure there stops everything; then the unit tests with -k, so one that
# does not build under mingw still fails the target but leaves the others
# (and in windows-check the tests under Wine) to run. Each part says how
# long it took (CI's 45 minutes, docs/windows.md). Sets rc in the shell.
define WIN_BUILD_STEPS
t0=$$(date +%s); dir=$$(bash packaging/windows/deps.sh) || exit 1; \
t1=$$(date +%s); echo "windows: libraries ready in $$((t1 - t0))s ($$dir)"; \
$(MAKE) --no-print-directory PLATFORM=win BUILD=$(WIN_BUILD) CC=$(WIN_HOST)-gcc \
  WIN_DEPS="$$dir" win-all || exit 1; \
t2=$$(date +%s); echo "windows: $(WIN_BUILD)/outpost.exe and MSI in $$((t2 - t1))s"; \
if $(MAKE) --no-print-directory -k PLATFORM=win BUILD=$(WIN_BUILD) CC=$(WIN_HOST)-gcc \
  WIN_DEPS="$$dir" win-tests; then \
  echo "windows: unit tests ($(WIN_BUILD)/tests/*.exe) in $$(($$(date +%s) - t2))s"; \
else rc=1; echo "windows: FAILED: unit tests that do not build for Windows (above)"; fi
endef

# '+': the sub-makes share the jobserver ($(MAKE) inside a variable is
# not seen as recursive).
windows:
	+@rc=0; $(WIN_BUILD_STEPS); exit $$rc

# The tests under Wine need the Linux build too: they compare outpost.exe's
# output with build/outpost's, and run it against the Linux hub.
windows-check: $(BUILD)/outpost $(BUILD)/outpost-hub
	+@rc=0; $(WIN_BUILD_STEPS); \
	t0=$$(date +%s); OUTPOST=$(CURDIR)/$(BUILD)/outpost \
	  OUTPOST_HUB=$(CURDIR)/$(BUILD)/outpost-hub \
	  OUTPOST_EXE=$(CURDIR)/$(WIN_BUILD)/outpost.exe WIN_BUILD=$(CURDIR)/$(WIN_BUILD) \
	  BUILD=$(BUILD) tests/run wine || rc=1; \
	echo "windows-check: tests under Wine in $$(($$(date +%s) - t0))s"; exit $$rc

# The unit tests alone under Wine (windows-check runs them with the rest):
# fails if one binary is missing, does not exit 0 or reports a failure.
# Needs only the test binaries, not outpost.exe or the MSI.
windows-unit:
	+@dir=$$(bash packaging/windows/deps.sh) || exit 1; \
	$(MAKE) --no-print-directory PLATFORM=win BUILD=$(WIN_BUILD) \
	  CC=$(WIN_HOST)-gcc WIN_DEPS="$$dir" win-tests || exit 1; \
	WIN_BUILD=$(CURDIR)/$(WIN_BUILD) BUILD=$(BUILD) tests/run wine -k test_unit_binary_passes_under_wine

ifeq ($(PLATFORM),win)
include $(WIN_DEPS)/env.mk

# The same warnings (WARN, CFLAGS_ALL); the C library's printf is
# mingw's C99 one so that numbers print as on Linux (byte-equal output);
# _POSIX_C_SOURCE brings mingw's gmtime_r and friends.
CPPFLAGS_ALL = -std=c11 -D_GNU_SOURCE -I. $(WIN_CPPFLAGS) \
               -D_WIN32_WINNT=0x0601 -D__USE_MINGW_ANSI_STDIO=1 -D_POSIX_C_SOURCE=200809L
LDLIBS_ALL   = $(WIN_LDFLAGS) $(WIN_LIBS) $(LDLIBS)
# Unit tests of the agent's modules; the hub's are Linux-only, and so is
# test_engine_v3, which runs real snmpd daemons (fork, exec, SIGSTOP; the
# v3 engine on Windows is checked against snmpd by tests/wine/test_wine_cli.py).
# test_ini_compat compares Outpost's INI parser with Debian's libinih, which
# is the parser itself on Windows when deps.sh builds it from ours.
WIN_UNIT_LINUX_ONLY = tests/unit/test_hub_% tests/unit/test_engine_v3.c \
                      tests/unit/test_ini_compat.c
WIN_UNIT_SRC = $(filter-out $(WIN_UNIT_LINUX_ONLY),$(UNIT_SRC))
WIN_UNIT_BIN = $(WIN_UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%.exe)

win-all: $(BUILD)/outpost.exe $(WIN_MSI)
win-tests: $(WIN_UNIT_BIN)

$(BUILD)/outpost.exe: $(BUILD)/agent/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
	cp $(WIN_DLLS) $(BUILD)/

# cmocka_mingw.h: cmocka.h's format checks against mingw's C99 printf.
$(BUILD)/tests/%.exe: tests/unit/%.c $(LIB_OBJ) tests/unit/cmocka_mingw.h tests/unit/unit_util.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -include tests/unit/cmocka_mingw.h $(CFLAGS_ALL) $(LDFLAGS) \
	  -o $@ $(filter-out %.h,$^) $(LDLIBS_ALL) $(WIN_CMOCKA)
	cp -f $(WIN_DLLS) $(dir $@)

# The sample configuration, with Windows paths and line ends.
$(BUILD)/outpost.ini: packaging/outpost.ini packaging/windows/sample-ini.sed
	sed -f packaging/windows/sample-ini.sed $< | sed 's/$$/\r/' > $@

# wixl reads Source paths relative to the current directory only.
$(WIN_MSI): packaging/windows/outpost.wxs packaging/windows/msi-acl.sh \
            $(BUILD)/outpost.exe $(BUILD)/outpost.ini
	wixl -a x64 -D Version=$(OUTPOST_VERSION) -D BuildDir=$(BUILD) -o $@.tmp $<
	bash packaging/windows/msi-acl.sh $@.tmp
	mv $@.tmp $@
endif
