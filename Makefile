# mldeploy — see README.md. `make V=1` shows full command lines.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
BUILD ?= .obj
BIN ?= mldeploy
SANFLAGS ?=
OPT ?= -O2
PKGS = libcurl yaml-0.1 libgit2 libarchive libcrypto jansson libdeflate libzstd expat
VERSION := $(shell cat VERSION)

CFLAGS ?= $(OPT) -g
ALL_CFLAGS = $(CFLAGS) $(SANFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -D_FILE_OFFSET_BITS=64 \
	-DML_VERSION='"$(VERSION)"' -pthread -Ilib -Iproviders \
	$(shell pkg-config --cflags $(PKGS))
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS) -pthread
LIBS = $(shell pkg-config --libs $(PKGS))
TEST_LIBS = $(shell pkg-config --libs cmocka)

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRC = $(sort $(wildcard lib/*.c lib/*/*.c providers/*.c providers/*/*.c))
CMD_SRC = $(sort $(wildcard cmd/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ = $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%)
MANS = $(wildcard man/*.1 man/*.5 man/*.7)
# `mldeploy init`'s templates, compiled into the binary (scripts/embed-templates.sh)
TEMPLATE_DIRS = common sklearn-flask fastapi pytorch
TEMPLATE_FILES := $(shell cd templates && find -L $(TEMPLATE_DIRS) -type f ! -name '*.pyc' \
	! -path '*/__pycache__/*' 2>/dev/null)
GEN_OBJ = $(BUILD)/gen/templates.o

.PHONY: all check unit e2e install uninstall bench fuzz asan ubsan sanitize coverage clean deps example lint-man

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -include lib/util/compat.h -MMD -MP -c -o $@ $<

$(BUILD)/gen/templates.c: scripts/embed-templates.sh $(addprefix templates/,$(TEMPLATE_FILES))
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)scripts/embed-templates.sh templates $(TEMPLATE_DIRS) >$@.tmp && mv $@.tmp $@

$(GEN_OBJ): $(BUILD)/gen/templates.c lib/scaffold.h
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -include lib/util/compat.h -c -o $@ $<

$(BUILD)/libmldeploy.a: $(LIB_OBJ) $(GEN_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(BUILD)/libmldeploy.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libmldeploy.a $(LIBS)

# tests/unit/testutil.c: helpers every unit test binary is linked with
$(BUILD)/tests/unit/testutil.o: tests/unit/testutil.c tests/unit/testutil.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/tests/unit/testutil.o \
		$(BUILD)/libmldeploy.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/tests/unit/testutil.o \
		$(BUILD)/libmldeploy.a $(ALL_LDFLAGS) $(LIBS) $(TEST_LIBS)

unit: $(UNIT_BIN)
	$(Q)tests/run-unit.sh $(UNIT_BIN)

e2e: $(BIN)
	$(Q)MLDEPLOY=$(CURDIR)/$(BIN) tests/run-e2e.sh

# The sanitizer pass runs the unit tests and the end-to-end suite on an
# AddressSanitizer + UndefinedBehaviorSanitizer build.
sanitize:
	$(Q)$(MAKE) BUILD=.obj-san BIN=mldeploy-san OPT=-O1 \
		SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" unit e2e

check: all lint-man
	$(Q)$(MAKE) unit e2e
	$(Q)$(MAKE) sanitize

asan:
	$(Q)$(MAKE) BUILD=.obj-asan BIN=mldeploy-asan OPT=-O1 \
		SANFLAGS="-fsanitize=address -fno-omit-frame-pointer" all unit

ubsan:
	$(Q)$(MAKE) BUILD=.obj-ubsan BIN=mldeploy-ubsan OPT=-O1 \
		SANFLAGS="-fsanitize=undefined -fno-sanitize-recover=all" all unit

coverage:
	$(Q)$(MAKE) BUILD=.obj-cov BIN=mldeploy-cov OPT=-O0 SANFLAGS=--coverage unit e2e
	$(Q)for d in lib lib/*/; do gcov -o .obj-cov/$$d $$d/*.c; done >/dev/null && echo "coverage: see *.gcov"

bench: $(BIN)
	$(Q)MLDEPLOY=$(CURDIR)/$(BIN) bench/run.sh

fuzz:
	$(Q)$(MAKE) -f tests/fuzz/Makefile

example: $(BIN)
	$(Q)MLDEPLOY=$(CURDIR)/$(BIN) scripts/example.sh

lint-man:
	$(Q)for m in $(MANS); do mandoc -Tlint -Wwarning $$m || exit 1; done

deps:
	scripts/deps.sh

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/mldeploy
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	$(if $(wildcard man/*.7),install -m 0644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7/)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mldeploy
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(wildcard man/*.7)))

clean:
	rm -rf .obj .obj-* mldeploy mldeploy-* *.gcov

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d)
