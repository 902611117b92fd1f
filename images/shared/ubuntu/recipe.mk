# What the Ubuntu recipes (focal-rt-ros2, jammy-rt-humble, noble-rt-jazzy)
# share: the official preinstalled server image for the Pi, an RT kernel,
# the real-time tuning and ROS 2, through the phase scripts beside this
# file. A recipe sets what differs, then includes this:
#
#   UBUNTU_SERIES     the series, e.g. 24.04: its newest point release (below)
#   UBUNTU_VERSION    a point release instead, e.g. 22.04.5 (make
#                     UBUNTU_VERSION=24.04.2 pins one)
#   UBUNTU_CODENAME   focal, jammy, noble
#   RT_KERNEL_URL     the RT kernel release zip (RT_KERNEL_SOURCE=release)
#   ROS_DISTRO        galactic, humble, jazzy
#   ROS_APT_REPO      ros2-apt-source (supported) or snapshot (end of life)
#
# Every knob below is set with ?=, so a recipe or the make command line
# (NAME=VALUE) wins.

RTIK_UBUNTU_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

# ---- the vendor image ----

UBUNTU_SERIES ?=
UBUNTU_VERSION ?=
ifneq ($(strip $(UBUNTU_VERSION)),)
# One point release: cdimage's own directory for it while it is current,
# then old-releases, which keeps the file's name, so that the checksum
# list's line matches it too.
IMAGE_URL ?= https://cdimage.ubuntu.com/releases/$(UBUNTU_VERSION)/release/ubuntu-$(UBUNTU_VERSION)-preinstalled-server-arm64+raspi.img.xz
IMAGE_MIRRORS ?= https://old-releases.ubuntu.com/releases/$(UBUNTU_VERSION)/ubuntu-$(UBUNTU_VERSION)-preinstalled-server-arm64+raspi.img.xz
# The SHA256SUMS Canonical publishes beside the image, and the same list
# beside the mirror: tried in order, as the image's URLs are.
IMAGE_SHA256SUMS ?= https://cdimage.ubuntu.com/releases/$(UBUNTU_VERSION)/release/SHA256SUMS \
	https://old-releases.ubuntu.com/releases/$(UBUNTU_VERSION)/SHA256SUMS
else
# The series: cdimage's directory for it serves the current point release
# (and only that one) with its signed SHA256SUMS. The build takes the file
# that list names, records its URL and hash in sources.lock, and builds that
# file from then on, also once the series has moved on and the file has gone
# to old-releases (the mirror: '*' is what the pattern's '*' matched, ".2"
# for 24.04.2). When the list names a newer one, the build says so in one
# line; `make update-lock` moves to it.
$(if $(strip $(UBUNTU_SERIES)),,$(error $(notdir $(CURDIR)): set UBUNTU_SERIES (24.04) or UBUNTU_VERSION (24.04.2)))
IMAGE_URL ?= https://cdimage.ubuntu.com/releases/$(UBUNTU_SERIES)/release/
IMAGE_PICK ?= ubuntu-$(UBUNTU_SERIES)*-preinstalled-server-arm64+raspi.img.xz
IMAGE_MIRRORS ?= https://old-releases.ubuntu.com/releases/$(UBUNTU_SERIES)*/
IMAGE_SHA256SUMS ?= $(IMAGE_URL)SHA256SUMS
endif
# One signature per list, checked with gpgv against Canonical's keys as the
# ubuntu-keyring package installs them (the "Ubuntu CD Image Automatic
# Signing Key (2012)" is in its archive keyring).
IMAGE_SHA256SUMS_SIG ?= $(addsuffix .gpg,$(IMAGE_SHA256SUMS))
IMAGE_KEYRING ?= /usr/share/keyrings/ubuntu-archive-keyring.gpg
# Room for ROS 2 and the RT kernel; the root partition is grown to fill it.
IMAGE_SIZE ?= 4G
# Partition 2 is the root filesystem ("writable"), partition 1 the FAT boot
# partition ("system-boot") that the firmware reads.
IMAGE_PARTITIONS ?= 2:/ 1:/boot/firmware

# ---- what goes into it ----

OVERLAYS ?= $(RTIK_UBUNTU_DIR)../../../overlays/rt-tuning $(RTIK_UBUNTU_DIR)../../../overlays/ros2
# Phase 1: the RT kernel and the real-time tuning. Phase 2: ROS 2, then the
# boot partition checked as shipped.
PHASE1_HOST ?= $(RTIK_UBUNTU_DIR)phase1-host.sh
PHASE1_TARGET ?= $(RTIK_UBUNTU_DIR)phase1-target.sh
PHASE2_HOST ?= $(RTIK_UBUNTU_DIR)phase2-host.sh
PHASE2_TARGET ?= $(RTIK_UBUNTU_DIR)phase2-target.sh

# ---- the RT kernel ----

# release: the .debs of RT_KERNEL_URL (a zip of kernel packages);
# archive: RT_ARCHIVE_PACKAGE from the image's apt sources; auto: the
# archive's when apt can see it, else the release.
RT_KERNEL_SOURCE ?= release
RT_ARCHIVE_PACKAGE ?= linux-image-raspi-realtime
# Its SHA-256. Empty: the hash in sources.lock (recorded on the first
# download, then verified), since the releases publish no checksum.
RT_KERNEL_SHA256 ?=

# The pockets of the release (UBUNTU_CODENAME) that the image's apt sources
# must name, so that the build installs the updates of the day (Ubuntu's
# own real-time kernel is in noble-updates): added where missing, in the
# form the image keeps its sources in, and kept in the image.
APT_POCKETS ?= updates security
# ... and the components they must include (Ubuntu's real-time kernel is in
# universe), added where missing.
APT_COMPONENTS ?= main universe

# ---- ROS 2 ----

ROS_APT_SOURCE_VERSION ?= 1.3.0
ROS_APT_SOURCE_URL ?= https://github.com/ros-infrastructure/ros-apt-source/releases/download/$(ROS_APT_SOURCE_VERSION)/ros2-apt-source_$(ROS_APT_SOURCE_VERSION).$(UBUNTU_CODENAME)_all.deb
# Empty: the hash in sources.lock, as for RT_KERNEL_SHA256.
ROS_APT_SOURCE_SHA256 ?=
# For ROS_APT_REPO=snapshot: the repository, and the full fingerprint of the
# key that signs it, fetched from ROS_KEYSERVER and checked against it.
ROS_SNAPSHOT_URL ?= http://snapshots.ros.org/$(ROS_DISTRO)/final/ubuntu
ROS_SNAPSHOT_KEY ?= 4B63CF8FDE49746E98FA01DDAD19BAB3CBF125EA
ROS_KEYSERVER ?= hkps://keyserver.ubuntu.com

# ---- packages ----

# Purged in phase 1. multipath-tools: its multipathd runs at RT priority 99
# and costs about 150 us of scheduling latency.
REMOVE_PACKAGES ?= snapd fwupd cryptsetup mdadm btrfs-progs xfsprogs unattended-upgrades multipath-tools
# Installed in phase 2 beside ros-base, rt-tests, cpufrequtils and
# libraspberrypi-bin.
EXTRA_PACKAGES ?= cpuset stress stress-ng

# ---- real-time tuning (images/shared/rt-tuning.sh) ----

include $(RTIK_UBUNTU_DIR)../rt-tuning.mk
# ---- the user and the login (images/shared/login.mk) ----

# None of IMAGE_USER, AUTHORIZED_KEYS, IMAGE_PASSWORD, IMAGE_HOSTNAME set:
# Ubuntu's own login, from the user-data on system-boot (the user ubuntu,
# password ubuntu, to be changed at the first login). Any of them set: they
# go into cloud-init's own settings (the cloud.cfg.d snippet of
# phase1-target.sh, root's alone when it holds a password hash), and
# Ubuntu's user-data makes way for one that keeps them; password SSH is on
# only with IMAGE_PASSWORD, which is expired at the first login.
include $(RTIK_UBUNTU_DIR)../login.mk
# The image's user, in RT_GROUP: cloud-init's default user.
DEFAULT_USER ?= $(or $(IMAGE_USER),ubuntu)

# ---- the boards ----

# The models the image must boot on (pi4, pi5): each one's view of
# config.txt, its kernel, initramfs and device tree are checked after
# every phase, and the Raspberry Pi Imager entry lists them.
BOOT_MODELS ?= pi4
DIST_DEVICES ?= $(subst $(rtik_ubuntu_space),$(rtik_ubuntu_comma),$(strip $(BOOT_MODELS:%=%-64bit)))
rtik_ubuntu_comma := ,
rtik_ubuntu_empty :=
rtik_ubuntu_space := $(rtik_ubuntu_empty) $(rtik_ubuntu_empty)
# Ubuntu's A/B boot (25.10 and later): yes adds rt-check's kernel check to
# /etc/flash-kernel/piboot-validate, so that a kernel update that is not
# PREEMPT_RT is rolled back. Off: a failing check keeps the old assets,
# which may lack a security fix.
PIBOOT_VALIDATE_RT ?= no

# `make dist`: the root filesystem shrunk to its content plus headroom (it
# grows back to fill the card at first boot), then .img.xz, .bmap, sums, a
# Raspberry Pi Imager entry and a manifest.
SHRINK ?= yes
# Raspberry Pi Imager's settings dialog writes cloud-init's files on
# system-boot for an entry that says so, as for Ubuntu's own images.
DIST_INIT_FORMAT ?= cloudinit

IMAGE_ENV := UBUNTU_CODENAME APT_POCKETS APT_COMPONENTS RT_KERNEL_SOURCE RT_ARCHIVE_PACKAGE RT_KERNEL_URL RT_KERNEL_SHA256 \
	ROS_DISTRO ROS_APT_REPO ROS_APT_SOURCE_VERSION ROS_APT_SOURCE_URL ROS_APT_SOURCE_SHA256 \
	ROS_SNAPSHOT_URL ROS_SNAPSHOT_KEY ROS_KEYSERVER \
	REMOVE_PACKAGES EXTRA_PACKAGES BOOT_MODELS PIBOOT_VALIDATE_RT $(RT_TUNING_ENV) DEFAULT_USER $(LOGIN_ENV) IMAGE_NAME RTIK_VERSION
# Reaches phase 1 like IMAGE_ENV, but no manifest, log or build file.
IMAGE_SECRETS := $(LOGIN_SECRETS)

include $(RTIK_UBUNTU_DIR)../../../mk/image.mk
