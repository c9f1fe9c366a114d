# The Windows agent, cross-built here (included at the end of the Makefile).
#
#   make windows        libraries (packaging/windows/deps.sh, cached), then
#                       build-win/outpost.exe, its unit tests and the MSI
#   make windows-check  the tests under Wine (tests/wine), also run by
#                       `make check` when the toolchain and Wine are here
#
# The hub stays Linux-only. PLATFORM=win selects core/'s Windows files
# instead of the POSIX ones (CORE_SRC in the Makefile); nothing else here
# chooses source files.
WIN_HOST   = x86_64-w64-mingw32
WIN_BUILD  = build-win
WIN_MSI    = $(WIN_BUILD)/outpost-$(OUTPOST_VERSION)-x64.msi
# Wine and the cross compiler both present: `make check` runs tests/wine.
WIN_TOOLS := $(if $(and $(shell command -v $(WIN_HOST)-gcc),$(shell command -v wine), \
               $(shell command -v wixl)),yes)

.PHONY: windows windows-check windows-unit win-all win-unit

# Each part says how long it took (CI's 45 minutes, docs/windows.md).
windows:
	@t0=$$(date +%s); dir=$$(bash packaging/windows/deps.sh) || exit 1; \
	t1=$$(date +%s); echo "windows: libraries ready in $$((t1 - t0))s ($$dir)"; \
	$(MAKE) --no-print-directory PLATFORM=win BUILD=$(WIN_BUILD) \
	  CC=$(WIN_HOST)-gcc WIN_DEPS="$$dir" win-all || exit 1; \
	echo "windows: $(WIN_BUILD)/outpost.exe, unit tests and MSI in $$(($$(date +%s) - t1))s"

# Unit tests under Wine need the Linux build too: the integration tests
# compare outpost.exe's output with build/outpost's, against the Linux hub.
windows-check: windows $(BUILD)/outpost $(BUILD)/outpost-hub
	@t0=$$(date +%s); OUTPOST=$(CURDIR)/$(BUILD)/outpost \
	  OUTPOST_HUB=$(CURDIR)/$(BUILD)/outpost-hub \
	  OUTPOST_EXE=$(CURDIR)/$(WIN_BUILD)/outpost.exe WIN_BUILD=$(CURDIR)/$(WIN_BUILD) \
	  BUILD=$(BUILD) tests/run wine; rc=$$?; \
	echo "windows-check: tests under Wine in $$(($$(date +%s) - t0))s"; exit $$rc

# The unit tests alone under Wine (windows-check runs them with the rest):
# fails if one binary is missing, does not exit 0 or reports a failure.
# Needs only the test binaries, not outpost.exe or the MSI.
windows-unit:
	@dir=$$(bash packaging/windows/deps.sh) || exit 1; \
	$(MAKE) --no-print-directory PLATFORM=win BUILD=$(WIN_BUILD) \
	  CC=$(WIN_HOST)-gcc WIN_DEPS="$$dir" win-unit || exit 1; \
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
WIN_UNIT_LINUX_ONLY = tests/unit/test_hub_% tests/unit/test_engine_v3.c
WIN_UNIT_SRC = $(filter-out $(WIN_UNIT_LINUX_ONLY),$(UNIT_SRC))
WIN_UNIT_BIN = $(WIN_UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%.exe)

win-all: $(BUILD)/outpost.exe $(WIN_UNIT_BIN) $(WIN_MSI)
win-unit: $(WIN_UNIT_BIN)

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
