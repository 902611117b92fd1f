# rt-image-kit: the image pipeline. An image's Makefile sets variables, then
#
#     include ../../mk/image.mk                               (in this tree)
#     include /usr/local/share/rt-image-kit/mk/image.mk       (installed)
#
# An image starts from a vendor image (IMAGE_URL) or from nothing
# (IMAGE_LAYOUT and IMAGE_SUITE: a blank disk, then mmdebstrap).
#
# Variables (set before the include):
#   IMAGE_URL, IMAGE_MIRRORS   where the vendor image comes from
#   IMAGE_SHA256 or IMAGE_SHA256SUMS
#                              a pinned hash, or the URL of a SHA256SUMS file
#                              (more URLs: its mirrors, tried in order)
#   IMAGE_PICK                 IMAGE_URL (and each mirror) is a release
#                              directory ending in '/', whose IMAGE_SHA256SUMS
#                              list names the file by this pattern: the
#                              current point release of a series
#                              (img-fetch --pick). The file picked is recorded
#                              in SOURCES_LOCK and built from then on; `make
#                              update-lock` moves to the one listed now
#   IMAGE_SHA256SUMS_SIG, IMAGE_KEYRING
#                              a detached signature of that file and the keys
#                              that may sign it (checked with gpgv); over
#                              plain http, a list needs this or IMAGE_SHA256
#   IMAGE_LAYOUT               instead of IMAGE_URL: the partition table and
#                              partitions of a blank disk, for img-new:
#                              "dos vfat:512M:RASPIFIRM ext4:rest:RASPIROOT"
#   IMAGE_EXTRA_SUITES         more suites of IMAGE_MIRROR to install from (the
#                              newest version wins): trixie-updates
#   IMAGE_SECURITY_MIRROR      a mirror of the security archive, whose
#   IMAGE_SECURITY_SUITE       suite (IMAGE_SUITE-security) is installed from too
#   IMAGE_SUITE IMAGE_ARCH IMAGE_MIRROR IMAGE_COMPONENTS IMAGE_PACKAGES
#   IMAGE_VARIANT              what mmdebstrap installs into it (variant:
#                              minbase by default)
#   NATIVE_TOOLS               yes (default): where the image's programs run
#                              through qemu-user, its scripts run this
#                              host's own cp, sed, xz, dpkg-deb... instead
#                              (mk/native-tools); no: all emulated
#   IMAGE_QEMU_CPU             the board's CPU model for qemu-user
#                              (cortex-a72 for the Pi 4); QEMU_CPU in the
#                              environment wins
#   IMAGE_SIZE                 the final size, e.g. 4G (empty: keep the size);
#                              with IMAGE_LAYOUT the size of the disk
#   IMAGE_PARTITIONS           mounts, root first (default: 2:/ 1:/boot/firmware)
#   OVERLAYS                   directories copied into the image, in order
#   PHASE1_HOST PHASE1_TARGET PHASE2_HOST PHASE2_TARGET
#                              scripts; any may be empty. Target scripts must
#                              be in the recipe directory or in SHARED_DIR.
#   PHASE_DEPS                 more files the phase stages depend on (every
#                              file beside a phase script, and below, is one)
#   SHARED_DIR                 scripts shared by recipes (images/shared)
#   IMAGE_ENV                  names of variables passed to every phase script
#   IMAGE_SECRETS              names of variables passed to every phase script
#                              whose values (a password) must appear in no
#                              manifest, log or file of the build; a change
#                              still reruns the phases (a keyed hash of the
#                              value is tracked, never the value)
#   SOURCES_LOCK, LOCKED       the recipe's lock file of downloads that publish
#                              no checksum (sources.lock beside the Makefile);
#                              LOCKED=1 refuses any download neither pinned
#                              nor locked (img-fetch --locked)
#   OUTPUT                     the finished image ($(BUILD_DIR)/$(IMAGE_NAME).img)
#   BUILD_DIR                  build/$(IMAGE_NAME) at the top of the tree
#   CACHE_DIR                  downloads, shared by all images (cache/ at the top)
#   IMAGE_NAME                 the recipe directory's name
#
#   BOOT_TEST                  yes: `make` boot-tests the image too
#   BOOT_TEST_DURATION         seconds of cyclictest in the boot test (10)
#   BOOT_TEST_ARGS             more img-boot options (--cpus 2, --memory 1G)
#   SHRINK                     yes: `make dist` shrinks the root filesystem
#                              to its content plus SHRINK_HEADROOM (128M)
#   DIST_FORMAT                xz (default), zst, gz or none
#   DIST_DIR                   where `make dist` puts its files (OUTPUT's)
#   DIST_INIT_FORMAT           the Imager entry's init_format (cloudinit,
#                              systemd...): how Imager may customise the image
#   DIST_DEVICES               the Imager entry's devices, comma-separated
#                              (default: pi4-64bit)
#   REPRODUCIBLE               yes (default): the same inputs give the same
#                              image, byte for byte: SOURCE_DATE_EPOCH is
#                              handed to mmdebstrap and the phase scripts, and
#                              finish writes the image anew from its trees
#                              (img-new --like), times clamped; no: the image
#                              is the one the build wrote in (fstrim)
#   SOURCE_DATE_EPOCH          the build's time, in seconds: the one the build
#                              directory started with (its first stage records
#                              it), else the commit time of the recipe's
#                              checkout (git), else the newest mtime of the
#                              recipe's files; a value given that differs
#                              from the recorded one rebuilds from the start
#   IMAGE_SEED                 what an image from nothing's identifiers (disk
#                              id, UUIDs, hash seed) derive from with
#                              SOURCE_DATE_EPOCH (default: IMAGE_NAME)
#   V                          1: every stage's full output on the terminal
#                              too; by default a line per stage, warnings,
#                              and on failure the end of the stage's log
#
# Stages, in order, each with a stamp $(BUILD_DIR)/.stamp_STAGE and a target
# of the same name: fetch extract grow (a vendor image) or create bootstrap
# (from nothing), then attach mount overlay phase1-host phase1-target
# phase2-host phase2-target finish; phase1 and phase2 run both halves. After
# finish, on demand: boot-test (img-boot runs rt-check in QEMU) and dist
# (img-shrink on a copy, img-pack, img-manifest).
# `make` does what is missing or out of date; `make STAGE` reruns STAGE on
# the current image (earlier stages run only if they never did) and stops
# there, leaving the image mounted. Also: shell, clean-mounts, clean,
# distclean. See README.md.

RTIK_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(RTIK_MK_DIR)/paths.mk
RTIK_MK_DIR := $(call rtik_path,$(RTIK_MK_DIR))
include $(RTIK_MK_DIR)/deps.mk
include $(RTIK_MK_DIR)/tools.mk
include $(RTIK_MK_DIR)/version.mk

# In this tree the top is beside mk/; for an installed copy, the directory
# of the Makefile that includes it.
RTIK_TOP ?= $(call rtik_path,$(if $(wildcard $(RTIK_MK_DIR)/../tools/img-loop.c),$(RTIK_MK_DIR)/..,.))

IMAGE_NAME ?= $(lastword $(subst /, ,$(CURDIR)))
BUILD_DIR ?= $(RTIK_TOP)/build/$(IMAGE_NAME)
CACHE_DIR ?= $(RTIK_TOP)/cache
OUTPUT ?= $(BUILD_DIR)/$(IMAGE_NAME).img
IMAGE_PARTITIONS ?= 2:/ 1:/boot/firmware
IMAGE_URL ?=
IMAGE_LAYOUT ?=
IMAGE_SUITE ?=
IMAGE_ARCH ?=
IMAGE_MIRROR ?= http://deb.debian.org/debian
IMAGE_EXTRA_SUITES ?=
IMAGE_SECURITY_MIRROR ?=
IMAGE_SECURITY_SUITE ?= $(if $(strip $(IMAGE_SECURITY_MIRROR)),$(IMAGE_SUITE)-security)
IMAGE_COMPONENTS ?= main
IMAGE_PACKAGES ?=
IMAGE_VARIANT ?= minbase
IMAGE_QEMU_CPU ?=
NATIVE_TOOLS ?= yes
QEMU_CPU ?= $(IMAGE_QEMU_CPU)
SHARED_DIR ?= $(RTIK_TOP)/images/shared
PHASE_DEPS ?=
BOOT_TEST ?=
BOOT_TEST_DURATION ?= 10
BOOT_TEST_ARGS ?=
SHRINK ?= no
SHRINK_HEADROOM ?= 128M
DIST_FORMAT ?= xz
DIST_DIR ?= $(dir $(OUTPUT))
DIST_INIT_FORMAT ?=
DIST_DEVICES ?=
IMAGE_MIRRORS ?=
IMAGE_PICK ?=
IMAGE_SHA256 ?=
IMAGE_SHA256SUMS ?=
IMAGE_SHA256SUMS_SIG ?=
IMAGE_KEYRING ?=
IMAGE_SIZE ?=
OVERLAYS ?=
PHASE1_HOST ?=
PHASE1_TARGET ?=
PHASE2_HOST ?=
PHASE2_TARGET ?=
IMAGE_ENV ?=
IMAGE_SECRETS ?=
# Hashes of downloads that publish no checksum, recorded on first use
# (img-fetch --lock); LOCKED=1 refuses to record (CI).
SOURCES_LOCK ?= sources.lock
LOCKED ?=
V ?= 0
REPRODUCIBLE ?= yes
IMAGE_SEED ?=

# Paths are absolute where that gives no blank, else relative to the recipe's
# directory, where make runs (mk/paths.mk); mk/rtik-stage gives the stage
# scripts and tools absolute ones. BUILD_DIR names make's own files, and
# SHARED_DIR and the overlays are lists of files to make: none may hold a
# blank. No path may hold a newline (a line of a state file, a log).
override BUILD_DIR := $(call rtik_path,$(BUILD_DIR))
override CACHE_DIR := $(call rtik_path,$(CACHE_DIR))
override OUTPUT := $(call rtik_path,$(OUTPUT))
override OVERLAYS := $(foreach o,$(OVERLAYS),$(call rtik_path,$(o)))
override SHARED_DIR := $(call rtik_path,$(SHARED_DIR))
override DIST_DIR := $(call rtik_path,$(DIST_DIR))
override SOURCES_LOCK := $(call rtik_path,$(SOURCES_LOCK))
RECIPE_DIR := $(CURDIR)
rtik_bad_paths := $(strip $(foreach v,BUILD_DIR SHARED_DIR IMAGE_NAME,$(call rtik_blank,$(v))))
$(if $(rtik_bad_paths),$(error image.mk: $(firstword $(rtik_bad_paths)) holds a blank or a newline, which make cannot take in a file name; choose another))
rtik_bad_paths := $(strip $(foreach v,CACHE_DIR OUTPUT DIST_DIR SOURCES_LOCK OVERLAYS RECIPE_DIR,$(if $(findstring $(rtik_newline),$($(v))),$(v))))
$(if $(rtik_bad_paths),$(error image.mk: $(firstword $(rtik_bad_paths)) holds a newline; refused))
# With IMAGE_PICK the file's name is known once fetch has picked it
# (mk/rtik-stage reads it from BUILD_DIR/.download-name).
DOWNLOAD := $(CACHE_DIR)/$(if $(IMAGE_PICK),$(IMAGE_PICK),$(notdir $(firstword $(subst ?, ,$(IMAGE_URL)))))

WORK := $(BUILD_DIR)/work.img
STATE := $(BUILD_DIR)/loop.state
ROOT := $(BUILD_DIR)/root
SCRATCH := $(BUILD_DIR)/scratch

# The build's time, which every stage writes into the image (mmdebstrap's
# and the phases' maintainer scripts, mkinitramfs, finish): the one this
# build directory started with, recorded by its first stage, so that a
# commit does not make a resumed build a mix of two times; for a new build
# directory the recipe's commit (a checkout of a tag rebuilds the same
# image), else its newest file. A value given on the command line or in the
# environment wins; one that differs from the recorded one rebuilds from the
# first stage (tracked below).
ifeq ($(REPRODUCIBLE)$(origin SOURCE_DATE_EPOCH),yesundefined)
SOURCE_DATE_EPOCH := $(strip $(file <$(BUILD_DIR)/.source-date-epoch))
endif
ifeq ($(REPRODUCIBLE)$(SOURCE_DATE_EPOCH),yes)
SOURCE_DATE_EPOCH := $(shell git -C $(call rtik_q,$(RECIPE_DIR)) log -1 --format=%ct 2>/dev/null || \
	find $(call rtik_q,$(RECIPE_DIR)) -type f -printf '%T@\n' | sort -n | tail -n 1 | cut -d. -f1)
endif
ifeq ($(REPRODUCIBLE),yes)
export SOURCE_DATE_EPOCH
endif
# The first stage depends on it: another value starts the build again.
rtik_sde_var := $(if $(filter yes,$(REPRODUCIBLE)),SOURCE_DATE_EPOCH)
rtik_bad_sde := $(if $(SOURCE_DATE_EPOCH),$(shell printf '%s' $(call rtik_q,$(SOURCE_DATE_EPOCH)) | grep -qx '[0-9]\{1,10\}' || echo bad))
$(if $(rtik_bad_sde),$(error image.mk: SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' is not a number of seconds))

export IMAGE_NAME IMAGE_URL IMAGE_MIRRORS IMAGE_PICK IMAGE_SHA256 IMAGE_SHA256SUMS IMAGE_SHA256SUMS_SIG IMAGE_KEYRING IMAGE_SIZE \
	IMAGE_LAYOUT IMAGE_SUITE IMAGE_ARCH IMAGE_MIRROR IMAGE_COMPONENTS IMAGE_PACKAGES IMAGE_VARIANT \
	IMAGE_EXTRA_SUITES IMAGE_SECURITY_MIRROR IMAGE_SECURITY_SUITE \
	IMAGE_PARTITIONS OVERLAYS PHASE1_HOST PHASE1_TARGET PHASE2_HOST PHASE2_TARGET \
	IMAGE_ENV OUTPUT BUILD_DIR CACHE_DIR RECIPE_DIR SHARED_DIR DOWNLOAD WORK STATE ROOT SCRATCH \
	IMG_FETCH IMG_EXTRACT IMG_GROW IMG_LOOP IMG_MOUNT IMG_UMOUNT IMG_OVERLAY IMG_NSPAWN_RUN \
	IMG_NEW IMG_BINFMT IMG_BOOT IMG_PACK IMG_SHRINK IMG_MANIFEST RTIK_VERSION \
	BOOT_TEST_DURATION BOOT_TEST_ARGS SHRINK SHRINK_HEADROOM DIST_FORMAT DIST_DIR DIST_INIT_FORMAT DIST_DEVICES \
	SOURCES_LOCK LOCKED V NATIVE_TOOLS REPRODUCIBLE IMAGE_SEED
ifneq ($(strip $(QEMU_CPU)),)
export QEMU_CPU
endif
ifneq ($(strip $(IMAGE_ENV) $(IMAGE_SECRETS)),)
export $(IMAGE_ENV) $(IMAGE_SECRETS)
endif
export IMAGE_SECRETS
# The command that continues a build: this one, with its command line's
# variables, the secrets' values left out.
rtik_hide_secrets = $(foreach w,$(1),$(if $(filter $(addsuffix =%,$(IMAGE_SECRETS)),$(w)),$(firstword $(subst =, ,$(w)))=...,$(w)))
export RTIK_CONTINUE = make -C $(call rtik_q,$(RECIPE_DIR)) $(call rtik_hide_secrets,$(MAKEOVERRIDES))

STAGE := $(call rtik_q,$(RTIK_MK_DIR)/rtik-stage)
S := $(BUILD_DIR)/.stamp_
RTIK_VARS := $(BUILD_DIR)/.vars_
# Where an image starts: a vendor image, or a blank disk and mmdebstrap.
ifneq ($(strip $(IMAGE_LAYOUT)),)
RTIK_START := create bootstrap
else
RTIK_START := fetch extract grow
endif
# After finish, on demand: boot-test (img-boot and rt-check) and dist (the
# files people flash).
RTIK_STAGES := $(RTIK_START) attach mount overlay phase1-host phase1-target \
	phase2-host phase2-target finish boot-test dist

# Each stage's number, for its log's name (NN-STAGE.log).
rtik_count :=
$(foreach s,$(RTIK_STAGES),$(eval rtik_count += x)$(eval rtik_num_$(s) := $(shell printf %02d $(words $(rtik_count)))))

# The stage before each one that has a stamp of history (attach and mount
# are live state): what `make STAGE` builds first if it never ran.
rtik_prev_extract := fetch
rtik_prev_grow := extract
rtik_prev_bootstrap := create
rtik_prev_attach := $(lastword $(RTIK_START))
rtik_prev_mount := $(lastword $(RTIK_START))
rtik_prev_overlay := $(lastword $(RTIK_START))
rtik_prev_phase1-host := overlay
rtik_prev_phase1-target := phase1-host
rtik_prev_phase2-host := phase1-target
rtik_prev_phase2-target := phase2-host
rtik_prev_finish := phase2-target
rtik_prev_boot-test := finish
rtik_prev_dist := finish

# ---- what each stage depends on ----

# $(RTIK_VARS)STAGE holds the values of the variables that matter to STAGE. It is
# rewritten, and so becomes newer than the stamp, only when one changes:
# each is written to $(RTIK_VARS)STAGE.new, and rtik_track_commit (one shell for all)
# renames the ones that differ and drops the others. Comparing in make
# itself ($(file <)) was seen to misread a file now and then under load.
# With make -n or -q nothing is written: a changed value makes its stage
# out of date through rtik-force instead.
rtik_dump = $(foreach v,$(1),$(v)=$($(v)))
rtik_differ = $(subst x$(1),,x$(2))$(subst x$(2),,x$(1))
rtik_track = $(if $(RTIK_DRY),$(if $(call rtik_differ,$(file <$(RTIK_VARS)$(1)),$(call rtik_dump,$(2))),\
	$(eval $(RTIK_VARS)$(1): rtik-force)),$(file >$(RTIK_VARS)$(1).new,$(call rtik_dump,$(2))))
rtik_track_commit = $(if $(RTIK_DRY),,$(shell cd $(call rtik_q,$(BUILD_DIR)) && chmod 0700 . && $(rtik_secrets_commit) \
	for f in .vars_*.new; do \
	[ -e "$$f" ] || continue; if cmp -s "$$f" "$${f%.new}"; then rm -f "$$f"; else mv -f "$$f" "$${f%.new}"; fi; done))

# The secrets (IMAGE_SECRETS) are tracked by a keyed hash: .secrets holds
# NAME=SHA256(key, NAME=VALUE) with a random key of the build directory's
# (.secret-key, 0600), so that a changed secret reruns the phases while no
# file holds the value or a hash of it that could be tried against a list of
# passwords. make writes the values to .secrets.in (the build directory is
# for root alone) and this shell, in the same breath, hashes and removes it;
# printf is a builtin, so no value is on a command line.
define rtik_nl


endef
rtik_secrets_write = $(if $(RTIK_DRY),,$(if $(strip $(IMAGE_SECRETS)),$(file >$(BUILD_DIR)/.secrets.in,$(foreach v,$(IMAGE_SECRETS),$(v)=$($(v))$(rtik_nl)))))
rtik_secrets_commit = if [ -f .secrets.in ]; then umask 077; \
	[ -s .secret-key ] || head -c 32 /dev/urandom >.secret-key; \
	while IFS= read -r l; do [ -n "$$l" ] || continue; \
	printf '%s=%s\n' "$${l%%=*}" "$$({ cat .secret-key; printf '%s' "$$l"; } | sha256sum | cut -c1-64)"; \
	done <.secrets.in >.secrets.new; rm -f .secrets.in; \
	if cmp -s .secrets.new .secrets; then rm -f .secrets.new; else mv -f .secrets.new .secrets; fi; \
	else rm -f .secrets; fi;

# make -n and make -q write nothing: no build directory, no .vars_* file.
RTIK_DRY := $(if $(findstring n,$(filter-out --%,$(firstword -$(MAKEFLAGS))))$(findstring q,$(filter-out --%,$(firstword -$(MAKEFLAGS)))),y)
# The make that owns the build directory (mk/rtik-stage lock).
export RTIK_MAKE_PID := $(shell echo $$PPID)

ifeq ($(filter clean clean-mounts distclean,$(MAKECMDGOALS))$(RTIK_DRY),)
# One make at a time in a build directory: a second stops here, before it
# writes anything.
rtik_lock_error := $(shell BUILD_DIR=$(call rtik_q,$(BUILD_DIR)) RTIK_MAKE_PID=$(RTIK_MAKE_PID) $(STAGE) lock 2>&1)
$(if $(rtik_lock_error),$(error $(rtik_lock_error)))
endif

ifeq ($(filter clean clean-mounts distclean,$(MAKECMDGOALS)),)
$(if $(RTIK_DRY)$(wildcard $(BUILD_DIR)/.),,$(shell mkdir -p -m 0700 $(call rtik_q,$(BUILD_DIR))))
# IMAGE_PICK: the lock's entries under the release directory, in
# BUILD_DIR/.pick-locked (rewritten only when they change, by fetch too):
# a pull or make update-lock that changes them runs fetch again.
ifneq ($(and $(strip $(IMAGE_PICK)),$(if $(RTIK_DRY),,y)),)
rtik_pick_error := $(shell BUILD_DIR=$(call rtik_q,$(BUILD_DIR)) IMAGE_URL=$(call rtik_q,$(IMAGE_URL)) \
	SOURCES_LOCK=$(call rtik_q,$(SOURCES_LOCK)) $(STAGE) pick-locked 2>&1)
$(if $(rtik_pick_error),$(error $(rtik_pick_error)))
endif
ifneq ($(strip $(IMAGE_LAYOUT)),)
$(call rtik_track,create,IMAGE_LAYOUT IMAGE_SIZE IMAGE_SEED $(rtik_sde_var))
$(call rtik_track,bootstrap,IMAGE_SUITE IMAGE_ARCH IMAGE_MIRROR IMAGE_COMPONENTS IMAGE_PACKAGES \
	IMAGE_VARIANT IMAGE_PARTITIONS IMAGE_EXTRA_SUITES IMAGE_SECURITY_MIRROR IMAGE_SECURITY_SUITE)
else
$(call rtik_track,fetch,IMAGE_URL IMAGE_MIRRORS IMAGE_PICK IMAGE_SHA256 IMAGE_SHA256SUMS IMAGE_SHA256SUMS_SIG IMAGE_KEYRING CACHE_DIR)
$(call rtik_track,extract,DOWNLOAD $(rtik_sde_var))
$(call rtik_track,grow,IMAGE_SIZE)
endif
$(call rtik_track,overlay,OVERLAYS IMAGE_PARTITIONS)
# A secret's value is tracked by its keyed hash in .secrets, never here.
rtik_env_public := $(filter-out $(IMAGE_SECRETS),$(IMAGE_ENV))
$(call rtik_track,phase1-host,PHASE1_HOST IMAGE_ENV IMAGE_SECRETS $(rtik_env_public))
$(call rtik_track,phase1-target,PHASE1_TARGET IMAGE_ENV IMAGE_SECRETS $(rtik_env_public))
$(call rtik_track,phase2-host,PHASE2_HOST IMAGE_ENV IMAGE_SECRETS $(rtik_env_public))
$(call rtik_track,phase2-target,PHASE2_TARGET IMAGE_ENV IMAGE_SECRETS $(rtik_env_public))
$(rtik_secrets_write)
$(call rtik_track,finish,OUTPUT REPRODUCIBLE)
$(call rtik_track,boot-test,BOOT_TEST_DURATION BOOT_TEST_ARGS)
$(call rtik_track,dist,SHRINK SHRINK_HEADROOM DIST_FORMAT DIST_DIR DIST_INIT_FORMAT DIST_DEVICES)
$(rtik_track_commit)
endif

# Every file and directory of the overlays (a directory's mtime tells of a
# file removed from it).
# Found as DIR/. and below, so that no name is a target of ours: a recipe's
# overlay directory may be called "overlay", like the stage.
RTIK_OVERLAY_FILES := $(if $(OVERLAYS),$(shell find $(addsuffix /.,$(OVERLAYS)) 2>/dev/null))

# A phase script's stage depends on the script, on every file beside it and
# below (the files it sources) but the other stages' scripts, on the
# libraries at the top of SHARED_DIR (common.sh, rt-tuning.sh), and on
# PHASE_DEPS.
RTIK_PHASE_SCRIPTS := $(foreach f,$(PHASE1_HOST) $(PHASE1_TARGET) $(PHASE2_HOST) $(PHASE2_TARGET),$(call rtik_path,$(f)))
rtik_script_deps = $(if $(1),$(call rtik_path,$(1)) $(filter-out $(RTIK_PHASE_SCRIPTS),$(foreach f,\
	$(shell find $(call rtik_q,$(dir $(1))) -type f 2>/dev/null),$(call rtik_path,$(f)))) \
	$(wildcard $(SHARED_DIR)/*.sh) $(PHASE_DEPS))

$(S)fetch: $(RTIK_VARS)fetch $(if $(strip $(IMAGE_PICK)),$(BUILD_DIR)/.pick-locked)
$(BUILD_DIR)/.pick-locked:
	@:
# After fetch, what was downloaded counts, not where from: the download's
# hash (rewritten by fetch only when it changes).
$(S)extract: $(BUILD_DIR)/.download-sha256 $(RTIK_VARS)extract
$(BUILD_DIR)/.download-sha256: | $(S)fetch
	@:
$(S)grow: $(S)extract $(RTIK_VARS)grow
$(S)create: $(RTIK_VARS)create
$(S)bootstrap: $(S)create $(RTIK_VARS)bootstrap
$(S)overlay: $(S)$(lastword $(RTIK_START)) $(RTIK_VARS)overlay $(RTIK_OVERLAY_FILES)
RTIK_SECRETS_DEP := $(if $(strip $(IMAGE_SECRETS)),$(BUILD_DIR)/.secrets)
$(S)phase1-host: $(S)overlay $(RTIK_VARS)phase1-host $(call rtik_script_deps,$(PHASE1_HOST)) $(RTIK_SECRETS_DEP)
$(S)phase1-target: $(S)phase1-host $(RTIK_VARS)phase1-target $(call rtik_script_deps,$(PHASE1_TARGET)) $(RTIK_SECRETS_DEP)
$(S)phase2-host: $(S)phase1-target $(RTIK_VARS)phase2-host $(call rtik_script_deps,$(PHASE2_HOST)) $(RTIK_SECRETS_DEP)
$(S)phase2-target: $(S)phase2-host $(RTIK_VARS)phase2-target $(call rtik_script_deps,$(PHASE2_TARGET)) $(RTIK_SECRETS_DEP)
$(BUILD_DIR)/.secrets:
	@:
$(S)finish: $(S)phase2-target $(RTIK_VARS)finish
$(S)boot-test: $(S)finish $(RTIK_VARS)boot-test
$(S)dist: $(S)finish $(RTIK_VARS)dist

# A script that does not exist stops the build before any stage runs.
ifeq ($(filter clean clean-mounts distclean,$(MAKECMDGOALS)),)
$(foreach v,PHASE1_HOST PHASE1_TARGET PHASE2_HOST PHASE2_TARGET,$(if $($(v)),$(if $(wildcard $($(v))),,\
	$(error image.mk: $(IMAGE_NAME): $(v) script '$($(v))' does not exist))))
endif

# A stamp is touched as the last step of its stage, so a failed stage leaves
# none. Attach and mount are live state, kept by the stages that need them.
$(foreach s,$(filter-out attach mount,$(RTIK_STAGES)),$(S)$(s)):
	@$(STAGE) $(rtik_num_$(patsubst $(S)%,%,$@)) $(patsubst $(S)%,%,$@)
	@touch $(call rtik_q,$@)

$(RTIK_VARS)%:
	@:

rtik-force:

# ---- targets for people ----

all: $(S)finish $(if $(filter yes,$(BOOT_TEST)),$(S)boot-test)
.DEFAULT_GOAL := all

# `make STAGE`: run STAGE now on the current image. The stage before it is
# built only if it never ran.
define rtik_stage_target
$(1):
	@$(if $(rtik_prev_$(1)),test -e $(call rtik_q,$(S)$(rtik_prev_$(1))) || $$(MAKE) --no-print-directory $(call rtik_q,$(S)$(rtik_prev_$(1))))
	@rm -f $(call rtik_q,$(S)$(1))
	@$(STAGE) $(rtik_num_$(1)) $(1)
	@$(if $(filter attach mount,$(1)),:,touch $(call rtik_q,$(S)$(1)))
endef
$(foreach s,$(RTIK_STAGES),$(eval $(call rtik_stage_target,$(s))))

# `make verify-reproducible`: the recipe built again from nothing into
# BUILD_DIR/verify, through dist, and compared with this build, byte for
# byte; diffoscope shows what differs.
verify-reproducible: $(S)dist
	@$(STAGE) verify

phase1: phase1-host
	@$(MAKE) --no-print-directory phase1-target
phase2: phase2-host
	@$(MAKE) --no-print-directory phase2-target

# `make update-lock` (IMAGE_PICK): the file that the release directory's
# list names now replaces the lock's entry, and is downloaded; the next
# build starts from it.
update-lock:
	$(if $(IMAGE_PICK),,$(error image.mk: $(IMAGE_NAME) sets no IMAGE_PICK: its download follows no release directory))
	@rm -f $(call rtik_q,$(S)fetch)
	@RTIK_UPDATE_LOCK=1 $(STAGE) $(rtik_num_fetch) fetch
	@touch $(call rtik_q,$(S)fetch)

# `make latency-report HOST=[USER@]DEVICE`: rt-check's latency test under
# load on a device booted from the image (LATENCY_DURATION, default 2h, as
# the published figures; LATENCY_LOAD, default cpu), its report brought
# back into BUILD_DIR/latency-DEVICE.
LATENCY_DURATION ?= 2h
LATENCY_LOAD ?= cpu
latency-report:
	$(if $(HOST),,$(error image.mk: say which device: make latency-report HOST=rt@rt-pi4.local))
	$(call rtik_q,$(RTIK_MK_DIR)/rtik-latency-report) --duration $(call rtik_q,$(LATENCY_DURATION)) \
		--load $(call rtik_q,$(LATENCY_LOAD)) --out $(call rtik_q,$(BUILD_DIR)/latency-$(lastword $(subst @, ,$(HOST)))) \
		$(call rtik_q,$(HOST))

# An interactive shell in the image, mounted as needed.
shell:
	@test -e $(call rtik_q,$(S)$(lastword $(RTIK_START))) || $(MAKE) --no-print-directory $(call rtik_q,$(S)$(lastword $(RTIK_START)))
	@$(STAGE) live mount
	$(call rtik_q,$(IMG_NSPAWN_RUN)) --root $(call rtik_q,$(ROOT)) --shell

clean-mounts:
	$(call rtik_q,$(IMG_UMOUNT)) --all $(call rtik_q,$(BUILD_DIR))
	@rm -f $(call rtik_q,$(S)attach) $(call rtik_q,$(S)mount)

clean: clean-mounts
	rm -rf $(call rtik_q,$(BUILD_DIR))

distclean: clean
	rm -rf $(call rtik_q,$(CACHE_DIR))

.PHONY: all $(RTIK_STAGES) phase1 phase2 update-lock verify-reproducible latency-report shell clean-mounts clean distclean rtik-force
