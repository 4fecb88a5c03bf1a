# matter-pki - Matter device-attestation PKI tool suite.
#   make            build ./matter-pki
#   make deps       install the Debian packages it needs (as root)
#   make test       unit + integration tests (real SoftHSM token, real SQLite)
#   make asan       the same tests under AddressSanitizer + UBSan
#   make demo       the whole pipeline on a local SoftHSM token -> demo-out/
#   make bench      benchmarks (not part of make test); make bench-est: the EST service alone
#   make fuzz       libFuzzer targets (clang)
#   make install    binary, man pages, bash completion (PREFIX=/usr/local, DESTDIR)

# Parallel by default (one job per core); a -j on the command line wins.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

# git describe in a checkout, else the VERSION file (scripts/version.sh).
VERSION := $(shell sh scripts/version.sh)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
CC ?= cc
BUILD ?= build
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

PKGS := gcc make pkg-config libssl-dev openssl libp11-dev libp11-kit-dev \
        libengine-pkcs11-openssl softhsm2 opensc libjansson-dev libcunit1-dev \
        libsqlite3-dev sqlite3 libqrencode-dev libpng-dev zbar-tools jq perl time python3-cryptography libpq-dev postgresql-15 pgbouncer \
        libevent-dev libcurl4-openssl-dev curl
PKGS += man-db
FUZZ_PKGS := clang libclang-rt-14-dev
ANALYZE_PKGS := cppcheck clang clang-tools

# Compiler-specific flags go in WARN_GCC / WARN_CLANG so neither breaks the other.
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
WARN := -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wformat-security \
        -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wvla \
        -Wwrite-strings -fno-common
# -Wno-format-truncation: snprintf truncation of messages is intended (bounded buffers).
WARN_GCC := -Wno-format-truncation
WARN_CLANG :=
WARN += $(if $(CC_IS_CLANG),$(WARN_CLANG),$(WARN_GCC))
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
OPT ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -I. -Icore -Isrc/cli -I/usr/include/p11-kit-1 -I/usr/include/postgresql
CFLAGS ?= $(OPT) $(HARDEN)
CFLAGS += $(WARN) -pthread
LDFLAGS += -pie -Wl,-z,relro,-z,now -pthread
LIBS := -lp11 -levent_openssl -levent_pthreads -levent -lcurl -lssl -lcrypto -ljansson -lsqlite3 -lpq -lqrencode -lpng -ldl -lm

STAGES := core paa pai chips order dac ledger station audit certdecl factory-data onboarding dcl-export verify revocation trust est serve
LIB_SRC := $(sort $(foreach d,$(STAGES),$(wildcard $(d)/*.c))) $(filter-out src/main.c,$(wildcard src/*.c src/cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BIN := $(BUILD)/matter-pki

.PHONY: all deps test unit integration asan demo demo-stations bench bench-est bench-stations fuzz clean check analyze cppcheck scan fuzz-deps analyze-deps install docs dist FORCE
all: $(BIN) matter-pki

matter-pki: $(BIN)
	$(Q)ln -sf $(BIN) matter-pki

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(SCAN_H) $(CFLAGS) -MMD -MP -c $< -o $@

# make scan only: the analyzer learns that mp_err() returns its rc (.ci/analyzer.h).
SCAN_H = $(if $(SCAN),-include .ci/analyzer.h)
$(BUILD)/core/err.o: SCAN_H =

$(BUILD)/libmp.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

# The stamp is rewritten only when the version changes, so main.o is rebuilt then.
$(BUILD)/version: FORCE
	@mkdir -p $(dir $@)
	$(Q)echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(BUILD)/src/main.o: $(BUILD)/version
$(BUILD)/src/main.o: CPPFLAGS += -DMP_VERSION='"$(VERSION)"'

$(BIN): $(BUILD)/src/main.o $(BUILD)/libmp.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Unit tests: every tests/unit/*.c defines register_<name>(void); the runner's
# table is generated from them so a new test file needs no other edit.
$(BUILD)/tests/unit/suites.h: $(UNIT_SRC)
	@mkdir -p $(dir $@)
	$(Q)grep -ho '^void register_[a-z0-9_]*(void)' $(filter-out tests/unit/runner.c,$(UNIT_SRC)) | \
	  sed 's/^void \(register_[a-z0-9_]*\)(void)/X(\1)/' > $@.tmp && mv $@.tmp $@

$(UNIT_OBJ): $(BUILD)/tests/unit/suites.h
$(BUILD)/tests/unit/%.o: CPPFLAGS += -I$(BUILD)/tests/unit -Itests/unit

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libmp.a
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcunit

deps:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "missing packages:$$missing"; \
	  echo "run: sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; fi; \
	echo "installing:$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null

fuzz-deps:
	@$(MAKE) --no-print-directory deps PKGS="$(FUZZ_PKGS)"

# Build everything in parallel first, then run the suites one after the other.
test: deps matter-pki
	$(Q)$(MAKE) --no-print-directory $(BUILD)/unit-tests $(TEST_TOOLS)
	$(Q)$(MAKE) --no-print-directory -j1 unit integration

check: test

unit: $(BUILD)/unit-tests
	$(Q)MP_VECTORS=$(CURDIR)/../shared/vectors/chip MP_FIXTURES=$(CURDIR)/tests/fixtures $(BUILD)/unit-tests

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -ldl

TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

integration: $(BIN) $(TEST_TOOLS)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) MP_TOOLS=$(CURDIR)/$(BUILD)/tools \
	  MP_VECTORS=$(CURDIR)/../shared/vectors/chip bash tests/integration/run.sh

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan OPT="$(ASAN_FLAGS)" HARDEN= \
	  LDFLAGS="-fsanitize=address,undefined -pthread"
asan: deps
	$(Q)$(ASAN_MAKE) build-asan/matter-pki build-asan/unit-tests \
	  $(patsubst $(BUILD)/%,build-asan/%,$(TEST_TOOLS))
	$(Q)$(ASAN_MAKE) -j1 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  unit integration

demo: deps matter-pki
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) bash tests/demo.sh

# four stations (processes) finishing one order on a PostgreSQL ledger
demo-stations: deps $(BIN)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) bash tests/demo_stations.sh

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: bench/%.c $(BUILD)/libmp.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(BUILD)/libmp.a $(LIBS)

bench: deps $(BIN) $(BENCH_BIN)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) MP_BENCH_BIN=$(CURDIR)/$(BUILD)/bench bash bench/run.sh
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) MP_BENCH_BIN=$(CURDIR)/$(BUILD)/bench bash bench/est_run.sh

# the EST service alone (part of bench): SQLite and PostgreSQL, 1-64 stations, new TLS connections
bench-est: deps $(BIN) $(BENCH_BIN)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) MP_BENCH_BIN=$(CURDIR)/$(BUILD)/bench bash bench/est_run.sh

# 1, 2 and 4 stations on a PostgreSQL ledger against one SQLite station (not part of bench)
bench-stations: deps $(BIN)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) bash bench/stations.sh

fuzz: fuzz-deps
	$(Q)bash tests/fuzz/run.sh

# Man pages and bash completion, generated from the option tables
# (matter-pki help --dump-options, scripts/gen-docs.sh).
docs: $(BUILD)/docs/stamp
$(BUILD)/docs/stamp: $(BIN) scripts/gen-docs.sh
	$(Q)bash scripts/gen-docs.sh $(BIN) $(BUILD)/docs $(VERSION) && touch $@

install: $(BIN) $(BUILD)/docs/stamp
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/matter-pki
	install -m 0644 $(BUILD)/docs/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/docs/completion/matter-pki $(DESTDIR)$(BASHCOMPDIR)/matter-pki

# A source tarball whose VERSION file holds the full version.
dist:
	$(Q)rm -rf $(BUILD)/dist && mkdir -p $(BUILD)/dist
	$(Q)git archive --prefix=matter-pki-$(VERSION)/ HEAD | tar -x -C $(BUILD)/dist
	$(Q)echo '$(VERSION)' > $(BUILD)/dist/matter-pki-$(VERSION)/VERSION
	$(Q)tar -C $(BUILD)/dist -czf matter-pki-$(VERSION).tar.gz matter-pki-$(VERSION)
	@echo matter-pki-$(VERSION).tar.gz

# Static analysis: cppcheck, then clang's scan-build over a full build.
# Remaining findings are suppressed in .ci/cppcheck.supp, each with its reason.
analyze: cppcheck scan
analyze-deps:
	@$(MAKE) --no-print-directory deps PKGS="$(ANALYZE_PKGS)"
cppcheck: analyze-deps
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability --include=.ci/cppcheck.h \
	  --suppressions-list=.ci/cppcheck.supp -I core -I src/cli -I . $(STAGES) src
scan: analyze-deps
	$(Q)bash .ci/scan.sh

clean:
	rm -rf build build-asan build-fuzz build-clang build-scan matter-pki

-include $(LIB_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BUILD)/src/main.d
