# rt-image-kit: build, test and install the tools; build the images.
#   make                build the tools into build/bin
#   make IMAGE          build images/IMAGE (e.g. make focal-rt-ros2), as root
#   make clean-mounts   unmount and detach everything of every image build
#   make check          install missing packages (as root), build, build
#                       again with ASan/UBSan into build/check/bin, and run
#                       the bats suites with those
#   make check-fresh    make check as root in a new minimal Debian 12 root
#                       (mmdebstrap), from a clone of the committed tree
#   make install        PREFIX=/usr/local DESTDIR=
#   make clean

include mk/version.mk
VERSION := $(RTIK_VERSION)

# The packages each goal needs, checked (and installed, as root) before
# anything is built: see mk/deps.mk and scripts/deps.
IMAGES := $(notdir $(patsubst %/Makefile,%,$(wildcard images/*/Makefile)))
RTIK_DEPS_SETS := $(if $(filter check,$(MAKECMDGOALS)),test,$(if $(filter-out deps check-fresh,$(or $(MAKECMDGOALS),all)),build) \
	$(if $(filter $(IMAGES) check-fresh,$(MAKECMDGOALS)),run))
include mk/deps.mk

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/rt-image-kit
DESTDIR ?=

# Where the objects go; `make check` builds a sanitizer variant elsewhere.
O ?= build
SANITIZE ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Itools/lib
XCFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -fno-strict-aliasing -pthread
ifneq ($(SANITIZE),)
XCFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

TOOLS := $(patsubst tools/%.c,%,$(wildcard tools/img-*.c))

# Libraries per tool, from pkg-config.
pc = $(shell $(PKG_CONFIG) --libs $(1))
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1))
LIBS_img-fetch := $(call pc,libcurl libcrypto)
LIBS_img-extract := $(call pc,libarchive liblzma)
LIBS_img-grow := $(call pc,fdisk blkid)
LIBS_img-new := $(call pc,fdisk blkid uuid ext2fs com_err)
LIBS_img-pack := $(call pc,liblzma libzstd zlib libcrypto jansson)
LIBS_img-shrink := $(call pc,fdisk blkid mount)
LIBS_img-manifest := $(call pc,blkid libcrypto jansson)
LIBS_img-loop := $(call pc,blkid mount uuid)
LIBS_img-mount := $(call pc,mount blkid)
LIBS_img-umount := $(call pc,mount)
LIBS_img-nspawn-run := $(call pc,mount libcrypto)
LIBS_img-binfmt :=
LIBS_img-boot := $(call pc,blkid)
LIB_CFLAGS := $(call pc_cflags,libcurl libcrypto libarchive liblzma libzstd zlib fdisk blkid mount ext2fs jansson)

LIB_SRC := $(wildcard tools/lib/*.c)
LIB_OBJ := $(LIB_SRC:tools/lib/%.c=$(O)/obj/lib/%.o)
MAN_SRC := $(wildcard man/*.scd)
MANS := $(MAN_SRC:man/%.scd=$(O)/man/%)

all: $(TOOLS:%=$(O)/bin/%) man

$(O)/obj/lib/%.o: tools/lib/%.c $(wildcard tools/lib/*.h) | $(O)/obj/lib
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(XCFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/obj/%.o: tools/%.c $(wildcard tools/lib/*.h) | $(O)/obj/lib
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(XCFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/lib/librtik.a: $(LIB_OBJ) | $(O)/lib
	$(AR) rcs $@ $^

$(O)/bin/%: $(O)/obj/%.o $(O)/lib/librtik.a | $(O)/bin
	$(CC) $(XCFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_$*)

man: $(MANS)
$(O)/man/%: man/%.scd | $(O)/man
	scdoc < $< > $@

$(O)/obj/lib $(O)/lib $(O)/bin $(O)/man:
	mkdir -p $@

deps:
	scripts/deps install all

# The suites run two at a time (GNU parallel), each test in its files'
# order, in this order: first the one that builds the real trixie image
# (minutes), beside which the quick ones run; those that use the image
# last, when it is there. Those that change binfmt_misc's qemu-aarch64
# entry, which every foreign program of the others runs through, run alone
# afterwards.
CHECK_SERIAL := tests/img-binfmt.bats tests/img-nspawn-run.bats
CHECK_IMAGE_FIRST := tests/trixie-rt-pi4.bats
CHECK_IMAGE_USERS := tests/trixie-firstboot.bats tests/img-boot.bats tests/img-manifest.bats tests/rt-check.bats tests/reproducible.bats
CHECK_PARALLEL := $(CHECK_IMAGE_FIRST) \
	$(filter-out $(CHECK_SERIAL) $(CHECK_IMAGE_FIRST) $(CHECK_IMAGE_USERS),$(wildcard tests/*.bats)) \
	$(CHECK_IMAGE_USERS)

check:
	$(MAKE) --no-print-directory -j2 all
	$(MAKE) --no-print-directory -j2 O=build/check SANITIZE=1 all
	@status=0; export RTIK_BIN=$(call rtik_q,$(CURDIR)/build/check/bin) RTIK_APT_CACHE=$(call rtik_q,$(CURDIR)/cache/apt); \
	echo "bats: $(words $(CHECK_PARALLEL)) suites, two at a time"; \
	bats --timing --print-output-on-failure --jobs 2 --no-parallelize-within-files $(CHECK_PARALLEL) || status=$$?; \
	echo "bats: $(words $(CHECK_SERIAL)) suites alone"; \
	bats --timing --print-output-on-failure $(CHECK_SERIAL) || status=$$?; \
	exit $$status

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/mk
	install -m 0755 $(TOOLS:%=$(O)/bin/%) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MANS) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 mk/*.mk $(DESTDIR)$(DATADIR)/mk/
	install -m 0755 mk/rtik-stage mk/bootstrap-hooks mk/native-tools mk/rtik-latency-report $(DESTDIR)$(DATADIR)/mk/
	install -m 0755 scripts/deps $(DESTDIR)$(DATADIR)/mk/rtik-deps

# The whole suite in a new Debian 12 root from mmdebstrap's minbase, as a
# new user's machine or CI would run it. Root; takes long.
check-fresh:
	scripts/check-fresh

# ---- images ----

$(IMAGES): all
	$(MAKE) -C images/$@

# Every image's own clean-mounts, then anything else under build/ (test
# recipes, a build dir that was moved): nothing outside build/ is touched.
# The tools of this tree if built, else installed ones; without either,
# nothing can have been mounted.
RTIK_UMOUNT = $(firstword $(wildcard $(O)/bin/img-umount) $(shell command -v img-umount))
# The same from images/NAME, where the sub-make runs.
RTIK_UMOUNT_FROM_IMAGE = $(if $(filter /%,$(call rtik_path,$(RTIK_UMOUNT))),$(call rtik_path,$(RTIK_UMOUNT)),../../$(RTIK_UMOUNT))
clean-mounts:
	@$(if $(RTIK_UMOUNT),,echo "no img-umount built or installed: nothing to unmount"; exit 0;) \
	for i in $(IMAGES); do $(MAKE) --no-print-directory -C images/$$i clean-mounts IMG_UMOUNT=$(call rtik_q,$(RTIK_UMOUNT_FROM_IMAGE)) || exit; done; \
	$(RTIK_UMOUNT) --all build

# Never rm -rf a tree that may still have an image mounted in it.
clean: clean-mounts
	rm -rf build

# Also the download cache (and the test fixtures' packages).
distclean: clean
	rm -rf cache

.PHONY: all man deps check check-fresh install clean distclean clean-mounts $(IMAGES)
.DELETE_ON_ERROR:
.SECONDARY:
