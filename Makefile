# matter-pki - Matter device-attestation PKI tool suite.
#   make            build ./matter-pki
#   make deps       install the Debian packages it needs (as root)
#   make test       unit + integration tests (real SoftHSM token, real SQLite)
#   make asan       the same tests under AddressSanitizer + UBSan
#   make demo       the whole pipeline on a local SoftHSM token -> demo-out/
#   make bench      benchmarks (not part of make test)
#   make fuzz       libFuzzer targets (clang)

VERSION := 0.1.0
CC ?= cc
BUILD ?= build
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

PKGS := gcc make pkg-config libssl-dev openssl libp11-dev libp11-kit-dev \
        libengine-pkcs11-openssl softhsm2 opensc libjansson-dev libcunit1-dev \
        libsqlite3-dev sqlite3 libqrencode-dev libpng-dev zbar-tools jq perl time python3-cryptography \
        libevent-dev libcurl4-openssl-dev curl
FUZZ_PKGS := clang libclang-rt-14-dev

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
CPPFLAGS += -D_GNU_SOURCE -DMP_VERSION='"$(VERSION)"' -I. -Icore -Isrc/cli -I/usr/include/p11-kit-1
CFLAGS ?= $(OPT) $(HARDEN)
CFLAGS += $(WARN) -pthread
LDFLAGS += -pie -Wl,-z,relro,-z,now -pthread
LIBS := -lp11 -levent_openssl -levent_pthreads -levent -lcurl -lssl -lcrypto -ljansson -lsqlite3 -lqrencode -lpng -ldl -lm

STAGES := core paa pai chips order dac ledger certdecl factory-data onboarding dcl-export verify revocation trust est serve station
LIB_SRC := $(sort $(foreach d,$(STAGES),$(wildcard $(d)/*.c))) $(filter-out src/main.c,$(wildcard src/*.c src/cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BIN := $(BUILD)/matter-pki

.PHONY: all deps test unit integration asan demo bench fuzz clean check analyze fuzz-deps
all: $(BIN) matter-pki

matter-pki: $(BIN)
	$(Q)ln -sf $(BIN) matter-pki

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmp.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

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

test: deps
	$(Q)$(MAKE) --no-print-directory unit integration

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
asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan OPT="$(ASAN_FLAGS)" HARDEN= \
	  LDFLAGS="-fsanitize=address,undefined -pthread" \
	  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  unit integration

demo: deps $(BIN)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) bash tests/demo.sh

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: bench/%.c $(BUILD)/libmp.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(BUILD)/libmp.a $(LIBS)

bench: deps $(BIN) $(BENCH_BIN)
	$(Q)MATTER_PKI_BIN=$(CURDIR)/$(BIN) MP_BENCH_BIN=$(CURDIR)/$(BUILD)/bench bash bench/run.sh

fuzz: fuzz-deps
	$(Q)bash tests/fuzz/run.sh

analyze:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability -I core -I src/cli -I . $(STAGES) src

clean:
	rm -rf build build-asan build-fuzz matter-pki

-include $(LIB_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BUILD)/src/main.d
