#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154,SC2016 # bats: @test bodies run in subshells; run sets stderr_lines; code for in_boot_ns is single-quoted
# The Ubuntu recipes (focal-rt-ros2, jammy-rt-humble, noble-rt-jazzy,
# resolute-rt-lyrical): one set of phase scripts (images/shared/ubuntu)
# under four Makefiles of variables; phase1-host against a local RT kernel
# zip of stub packages, verified through the recipe's sources.lock
# (recorded, then checked, LOCKED=1, a tampered zip); and the boot partition
# checks of boot.sh on Ubuntu 20.04's U-Boot layout and on the A/B layout of
# 25.10 and later, in a mount namespace whose /boot is a tmpfs.

bats_require_minimum_version 1.5.0
load test_helper
load boot_ns_helper

UBUNTU=$TOP/images/shared/ubuntu

# stub_deb DIR NAME VERSION DEPENDS FILE=CONTENT...
# shellcheck source-path=SCRIPTDIR source=recipes/ubuntu-standin/stubs.sh
. "$TOP/tests/recipes/ubuntu-standin/stubs.sh"

setup_file() {
	WWW=$BATS_FILE_TMPDIR/www
	local debs=$BATS_FILE_TMPDIR/debs rel=5.15.98-rt62-raspi
	mkdir -p "$WWW/rel" "$debs/RPI4.RT.Kernel.deb.packages"
	local d=$debs/RPI4.RT.Kernel.deb.packages
	stub_deb "$d" "linux-image-$rel" 5.15.98-rt62-1 "" "boot/vmlinuz-$rel=rt kernel $rel"
	stub_deb "$d" "linux-modules-$rel" 5.15.98-rt62-1 "" "lib/modules/$rel/modules.dep="
	stub_deb "$d" "linux-image-$rel-dbg" 5.15.98-rt62-1 "" "usr/lib/debug/vmlinux=dwarf"
	(cd "$debs" && zip -qr "$WWW/rel/RPI4.RT.Kernel.deb.packages.zip" RPI4.RT.Kernel.deb.packages)
	cp "$WWW/rel/RPI4.RT.Kernel.deb.packages.zip" "$BATS_FILE_TMPDIR/good.zip"
	ZIP_SUM=$(sha256sum "$WWW/rel/RPI4.RT.Kernel.deb.packages.zip" | cut -d' ' -f1)
	export WWW ZIP_SUM
	http_start "$WWW"
}

teardown_file() {
	http_stop
}

setup() {
	common_setup
	export CACHE_DIR=$T/cache SCRATCH_DIR=$T/scratch SOURCES_LOCK=$T/sources.lock
	export IMG_FETCH=img-fetch SHARED_DIR=$TOP/images/shared RT_KERNEL_URL=$HTTP_URL/files/rel/RPI4.RT.Kernel.deb.packages.zip
	unset LOCKED RT_KERNEL_SHA256 RT_KERNEL_SOURCE
}

@test "the Ubuntu recipes are Makefiles of variables over the shared phase scripts" {
	local r v
	for r in focal-rt-ros2 jammy-rt-humble noble-rt-jazzy resolute-rt-lyrical; do
		[ ! -e "$TOP/images/$r/setup" ]
		[ -f "$TOP/images/$r/sources.lock" ]
		run env -u SOURCES_LOCK -u RT_KERNEL_URL make -s -C "$TOP/images/$r" -pn BUILD_DIR="$T/$r" OUTPUT="$T/$r.img" all
		[ "$status" -eq 0 ]
		for v in PHASE1_HOST PHASE1_TARGET PHASE2_HOST PHASE2_TARGET; do
			[[ $output == *"$v = \$(RTIK_UBUNTU_DIR)"* ]]
		done
		[[ $output == *"SOURCES_LOCK := $TOP/images/$r/sources.lock"* ]]
	done
	grep -qx 'ROS_APT_REPO ?= snapshot' "$TOP/images/focal-rt-ros2/Makefile"
	grep -qx 'ROS_APT_REPO ?= ros2-apt-source' "$TOP/images/jammy-rt-humble/Makefile"
	grep -qx 'RT_KERNEL_SOURCE ?= auto' "$TOP/images/noble-rt-jazzy/Makefile"
	shellcheck -x "$UBUNTU"/*.sh
}

@test "phase1-host: the zip's hash recorded in sources.lock, the .debs unpacked without the -dbg one" {
	run --separate-stderr "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 0 ]
	[[ $stderr == *"img-fetch: recorded sha256 $ZIP_SUM of $RT_KERNEL_URL in '$SOURCES_LOCK'; commit sources.lock"* ]]
	[ "$(grep -v '^#' "$SOURCES_LOCK")" = "$ZIP_SUM  $RT_KERNEL_URL" ]
	[ "$(cd "$SCRATCH_DIR/rt-kernel" && ls)" = "linux-image-5.15.98-rt62-raspi_5.15.98-rt62-1_arm64.deb
linux-modules-5.15.98-rt62-raspi_5.15.98-rt62-1_arm64.deb" ]
	# Again with LOCKED=1, from an empty cache: verified against the entry.
	rm -rf "$CACHE_DIR"
	run --separate-stderr env LOCKED=1 "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 0 ]
	[[ $stderr == *"sha256 verified"* ]]
}

@test "phase1-host: LOCKED=1 without an entry, and a tampered zip, are refused" {
	run --separate-stderr env LOCKED=1 "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-fetch: $RT_KERNEL_URL has no entry in '$SOURCES_LOCK' and no pinned hash; refused (--locked): build once without LOCKED=1 to record it, and commit the file" ]
	[ ! -e "$SCRATCH_DIR/rt-kernel" ]
	# The lock says the good zip's hash; the server has other bytes (a file
	# of its own: lighttpd may cache a file's size for a second).
	local bad url=$HTTP_URL/files/tampered/RPI4.RT.Kernel.deb.packages.zip
	mkdir -p "$WWW/tampered"
	{ cat "$BATS_FILE_TMPDIR/good.zip"; echo tampered; } >"$WWW/tampered/RPI4.RT.Kernel.deb.packages.zip"
	bad=$(sha256sum "$WWW/tampered/RPI4.RT.Kernel.deb.packages.zip" | cut -d' ' -f1)
	echo "$ZIP_SUM  $url" >"$SOURCES_LOCK"
	run --separate-stderr env RT_KERNEL_URL="$url" "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 1 ]
	[[ $stderr == *"img-fetch: '$CACHE_DIR/rt-kernel/tampered/RPI4.RT.Kernel.deb.packages.zip' does not match its entry in '$SOURCES_LOCK': expected sha256 $ZIP_SUM, got $bad;"* ]]
	[ ! -e "$SCRATCH_DIR/rt-kernel" ]
	[ ! -e "$CACHE_DIR/rt-kernel/tampered/RPI4.RT.Kernel.deb.packages.zip" ]
	# A pinned RT_KERNEL_SHA256 wins over the lock, which stays as it was
	# (unzip reads a zip with bytes appended).
	run --separate-stderr env RT_KERNEL_URL="$url" RT_KERNEL_SHA256="$bad" LOCKED=1 "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 0 ]
	[ "$(cat "$SOURCES_LOCK")" = "$ZIP_SUM  $url" ]
}

@test "phase1-host: RT_KERNEL_SOURCE=archive fetches nothing; an unknown value is one line" {
	run --separate-stderr env RT_KERNEL_SOURCE=archive "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "phase1-host: RT_KERNEL_SOURCE=archive: the kernel comes from the image's apt sources" ]
	[ ! -e "$SOURCES_LOCK" ] && [ ! -e "$CACHE_DIR" ]
	run --separate-stderr env RT_KERNEL_SOURCE=nope "$UBUNTU/phase1-host.sh"
	[ "$status" -eq 1 ]
	[ "$stderr" = "phase1-host: RT_KERNEL_SOURCE 'nope' is none of release, archive, auto" ]
}

# Runs bash code with boot.sh's functions in a mount namespace where /boot
# is a tmpfs holding an installed RT kernel (boot_ns), and BOOT_DIR is
# Ubuntu 20.04's boot partition: config.txt's [pi4] section boots U-Boot,
# whose boot.scr loads vmlinuz and initrd.img; the stock kernel's copies
# there, and flash-kernel's .bak of the one before.
in_boot_ns() {
	require_root
	local b=$T/firmware
	mkdir -p "$b"
	printf '[pi4]\nkernel=uboot_rpi_4.bin\nmax_framebuffers=2\n[all]\narm_64bit=1\ninclude usercfg.txt\n' >"$b/config.txt"
	: >"$b/usercfg.txt"
	# shellcheck disable=SC2016 # U-Boot's variables
	printf 'stub boot.scr: load ${devtype} ${devnum}:1 ${kernel_addr_r} vmlinuz; load initrd.img\n' >"$b/boot.scr"
	echo stock >"$b/vmlinuz" && echo stock-initrd >"$b/initrd.img"
	echo older >"$b/vmlinuz.bak" && echo older-initrd >"$b/initrd.img.bak"
	echo 'console=tty1 root=LABEL=writable rootwait' >"$b/cmdline.txt"
	echo dtb >"$b/bcm2711-rpi-4-b.dtb"
	boot_ns "$b" "common.sh rt-tuning.sh ubuntu/boot.sh" '
		echo "rt kernel" >/boot/vmlinuz-5.15.98-rt62-raspi
		echo "rt initrd" >/boot/initrd.img-5.15.98-rt62-raspi
		'"$1"
}

@test "boot.sh: the RT kernel to the U-Boot layout, flash-kernel's .bak copies replaced, checked" {
	run --separate-stderr in_boot_ns 'kernel_to_firmware 5.15.98-rt62-raspi && kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 0 ]
	[ "$(cat "$T/firmware/vmlinuz")" = "rt kernel" ]
	[ "$(cat "$T/firmware/vmlinuz.bak")" = "rt kernel" ]
	[ "$(cat "$T/firmware/initrd.img.bak")" = "rt initrd" ]
	[ "${lines[-1]}" = "in-boot-ns: pi4: the firmware boots uboot_rpi_4.bin -> vmlinuz = /boot/vmlinuz-5.15.98-rt62-raspi (RT kernel 5.15.98-rt62-raspi), bcm2711-rpi-4-b.dtb" ]
	# A stale .bak is caught by the check.
	run --separate-stderr in_boot_ns 'kernel_to_firmware 5.15.98-rt62-raspi; echo older >"$BOOT_DIR/vmlinuz.bak"; kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: $T/firmware/vmlinuz.bak is not /boot/vmlinuz-5.15.98-rt62-raspi: a stale copy of another kernel" ]
}

@test "boot.sh: an initrd rewritten after phase 1 fails the check; the last step copies it again" {
	run --separate-stderr in_boot_ns '
		kernel_to_firmware 5.15.98-rt62-raspi
		echo "rt initrd, rebuilt by a trigger" >/boot/initrd.img-5.15.98-rt62-raspi
		kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: pi4: $T/firmware/initrd.img is not /boot/initrd.img-5.15.98-rt62-raspi: the RT kernel would not boot" ]
	run --separate-stderr in_boot_ns '
		kernel_to_firmware 5.15.98-rt62-raspi
		echo "rt initrd, rebuilt by a trigger" >/boot/initrd.img-5.15.98-rt62-raspi
		kernel_boot_final'
	[ "$status" -eq 0 ]
	[ "$(cat "$T/firmware/initrd.img")" = "rt initrd, rebuilt by a trigger" ]
	[ "$(cat "$T/firmware/initrd.img.bak")" = "rt initrd, rebuilt by a trigger" ]
	# No RT kernel linked: one line.
	run --separate-stderr in_boot_ns 'kernel_boot_final'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: /boot/vmlinuz is not a link: run phase1-target first" ]
}

@test "boot.sh: config.txt booting something else is refused" {
	run --separate-stderr in_boot_ns 'kernel_to_firmware 5.15.98-rt62-raspi; printf "[all]\nkernel=kernel8.img\n" >"$BOOT_DIR/config.txt"; kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: pi4: config.txt boots 'kernel8.img', not vmlinuz: this recipe cannot tell which kernel will boot" ]
}

# in_ab_ns CODE: as in_boot_ns, with the boot partition of Ubuntu 25.10 and
# later (A/B boot, tests/recipes/ubuntu-standin/config-ab.txt): the stock
# kernel's assets in current/ (good) and old/, the RT kernel's in new/
# (state unknown, device trees of the Pi 4, the Pi 5 and the CM5), as
# flash-kernel writes them.
in_ab_ns() {
	require_root
	local b=$T/firmware rel=5.15.98-rt62-raspi d
	mkdir -p "$b/current/overlays" "$b/old/overlays" "$b/new/overlays"
	cp "$TOP/tests/recipes/ubuntu-standin/config-ab.txt" "$b/config.txt"
	for d in current old; do
		echo stock >"$b/$d/vmlinuz" && echo stock-initrd >"$b/$d/initrd.img"
		echo 'console=tty1 root=LABEL=writable rootwait panic=10' >"$b/$d/cmdline.txt"
		echo stock-dtb >"$b/$d/bcm2711-rpi-4-b.dtb" && echo stock-overlay >"$b/$d/overlays/stock-only.dtbo"
		echo good >"$b/$d/state"
	done
	echo "rt kernel" >"$b/new/vmlinuz" && echo "rt initrd" >"$b/new/initrd.img"
	cp "$b/current/cmdline.txt" "$b/new/cmdline.txt"
	echo "dtb $rel" >"$b/new/bcm2711-rpi-4-b.dtb" && echo "dtb pi5 $rel" >"$b/new/bcm2712-rpi-5-b.dtb"
	echo "dtb cm5 $rel" >"$b/new/bcm2712-rpi-cm5-cm5io.dtb" && echo overlay >"$b/new/overlays/vc4-kms-v3d.dtbo"
	echo unknown >"$b/new/state"
	BOOT_MODELS="pi4 pi5" boot_ns "$b" "common.sh rt-tuning.sh ubuntu/boot.sh" '
		echo "rt kernel" >/boot/vmlinuz-5.15.98-rt62-raspi
		echo "rt initrd" >/boot/initrd.img-5.15.98-rt62-raspi
		'"$1"
}

@test "boot.sh, A/B boot: flash-kernel's new/ promoted to current/ (good), the stock kernel's files, new/ and old/ gone; checked as the Pi 4 and the Pi 5 read config.txt" {
	local b=$T/firmware
	run --separate-stderr in_ab_ns 'kernel_to_firmware 5.15.98-rt62-raspi && kernel_check_boot 5.15.98-rt62-raspi'
	printf '%s\n' "$output" "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(cat "$b/current/vmlinuz")" = "rt kernel" ]
	[ "$(cat "$b/current/bcm2712-rpi-5-b.dtb")" = "dtb pi5 5.15.98-rt62-raspi" ]
	[ "$(cat "$b/current/state")" = good ]
	[ ! -e "$b/current/overlays/stock-only.dtbo" ] && [ -f "$b/current/overlays/vc4-kms-v3d.dtbo" ]
	[ ! -e "$b/new" ] && [ ! -e "$b/old" ]
	[ ! -e "$b/vmlinuz" ] && [ ! -e "$b/vmlinuz.bak" ]
	[ "${lines[-2]}" = "in-boot-ns: pi4: the firmware boots vmlinuz -> current/vmlinuz = /boot/vmlinuz-5.15.98-rt62-raspi (RT kernel 5.15.98-rt62-raspi), current/bcm2711-rpi-4-b.dtb" ]
	[ "${lines[-1]}" = "in-boot-ns: pi5: the firmware boots vmlinuz -> current/vmlinuz = /boot/vmlinuz-5.15.98-rt62-raspi (RT kernel 5.15.98-rt62-raspi), current/bcm2712-rpi-5-b.dtb" ]
	# Again without a flash-kernel run since: current/ stands.
	run --separate-stderr in_ab_ns 'kernel_to_firmware 5.15.98-rt62-raspi && rm -rf "$BOOT_DIR/new" && kernel_to_firmware 5.15.98-rt62-raspi && kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 0 ]
}

@test "boot.sh, A/B boot: another kernel in new/, a pending new/, no Pi 5 device tree, a current/ not good or missing: one line each" {
	run --separate-stderr in_ab_ns 'echo "other kernel" >"$BOOT_DIR/new/vmlinuz"; kernel_to_firmware 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: $T/firmware/new holds no vmlinuz of 5.15.98-rt62-raspi: flash-kernel last wrote another kernel's assets there" ]
	run --separate-stderr in_ab_ns 'kernel_to_firmware 5.15.98-rt62-raspi; mkdir "$BOOT_DIR/new"; echo unknown >"$BOOT_DIR/new/state"; kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: $T/firmware/new is there (state 'unknown'): the first boot would try it" ]
	run --separate-stderr in_ab_ns 'rm "$BOOT_DIR/new/bcm2712-rpi-5-b.dtb"; kernel_to_firmware 5.15.98-rt62-raspi; kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "${stderr_lines[-1]}" = "in-boot-ns: pi5: no current/bcm2712-rpi-5-b.dtb on the boot partition: the RT kernel 5.15.98-rt62-raspi has no device tree for the pi5" ]
	run --separate-stderr in_ab_ns 'kernel_to_firmware 5.15.98-rt62-raspi; echo trying >"$BOOT_DIR/current/state"; kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: $T/firmware/current/state does not say good: the firmware's fallback would not be the RT kernel" ]
	run --separate-stderr in_ab_ns 'kernel_to_firmware 5.15.98-rt62-raspi; BOOT_MODELS=pi6 kernel_check_boot 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: BOOT_MODELS: unknown model 'pi6' (pi4, pi5)" ]
	run --separate-stderr in_ab_ns 'rm -rf "$BOOT_DIR/new" "$BOOT_DIR/current"; kernel_to_firmware 5.15.98-rt62-raspi'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: $T/firmware/current is missing: config.txt's os_prefix names a folder the boot partition does not have" ]
}

@test "phase1-target: APT_POCKETS added beside the release, in the file's own form (deb822 stanza, sources.list line), once; no source of the release is one line" {
	mkdir -p "$T/fw"
	local deb822='Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports/
Suites: noble
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: http://ppa.example/x
Suites: noble
Components: main'
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh '
		mount -t tmpfs rtik-test-apt /etc/apt; mkdir -p /etc/apt/sources.list.d
		printf "%s\n" "'"$deb822"'" >/etc/apt/sources.list.d/ubuntu.sources
		export UBUNTU_CODENAME=noble APT_POCKETS="updates security"
		apt_pockets_ensure; apt_pockets_ensure
		cat /etc/apt/sources.list.d/ubuntu.sources'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "in-boot-ns: apt sources: added noble-updates (/etc/apt/sources.list.d/ubuntu.sources) noble-security (/etc/apt/sources.list.d/ubuntu.sources)" ]
	[ "${lines[1]}" = "in-boot-ns: apt sources: noble-updates noble-security already there" ]
	[ "$(printf '%s\n' "${lines[@]:2}")" = "$(sed '0,/^Suites: noble$/s//Suites: noble noble-updates noble-security/' <<<"$deb822" | grep -v '^$')" ]
	# jammy's one-line sources.list: a line each, after the release's.
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh '
		mount -t tmpfs rtik-test-apt /etc/apt; mkdir -p /etc/apt/sources.list.d
		printf "deb http://ports.ubuntu.com/ubuntu-ports jammy main restricted\ndeb http://ports.ubuntu.com/ubuntu-ports jammy-security main restricted\n" >/etc/apt/sources.list
		UBUNTU_CODENAME=jammy APT_POCKETS="updates security" apt_pockets_ensure >/dev/null
		cat /etc/apt/sources.list'
	[ "$status" -eq 0 ]
	[ "$output" = "deb http://ports.ubuntu.com/ubuntu-ports jammy main restricted
deb http://ports.ubuntu.com/ubuntu-ports jammy-updates main restricted
deb http://ports.ubuntu.com/ubuntu-ports jammy-security main restricted" ]
	# Nothing names the release: one line, nothing written.
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh '
		mount -t tmpfs rtik-test-apt /etc/apt; mkdir -p /etc/apt/sources.list.d
		echo "deb http://x/ubuntu focal main" >/etc/apt/sources.list
		UBUNTU_CODENAME=noble APT_POCKETS=updates apt_pockets_ensure'
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: no apt source names noble: cannot add noble-updates" ]
}

# RECIPE [VAR=VALUE...]: the vendor image's variables as the recipe sets
# them, one a line; nothing is written.
ubuntu_vars() {
	local r=$1 out
	shift
	out=$(make -s -n -C "$TOP/images/$r" BUILD_DIR="$T/never" "$@" --eval 'rtik-print: ; @printf "%s\n" \
		"URL $(IMAGE_URL)" "PICK $(IMAGE_PICK)" "MIRRORS $(strip $(IMAGE_MIRRORS))" "SUMS $(strip $(IMAGE_SHA256SUMS))" \
		"SIG $(strip $(IMAGE_SHA256SUMS_SIG))" "INIT $(DIST_INIT_FORMAT)" "SECRETS $(IMAGE_SECRETS)" "USER $(DEFAULT_USER)" \
		"BOARDS $(BOOT_MODELS) DEVICES $(DIST_DEVICES) PINNED [$(PINNED_CPU_FREQUENCY)] $(RT_KERNEL_SOURCE)"' rtik-print) || return
	sh -c "$out"
}

@test "jammy, noble and resolute follow their series' directory on cdimage; UBUNTU_VERSION pins a point release; neither is one line; the Imager entry says cloudinit and names the boards" {
	local c=https://cdimage.ubuntu.com/releases o=https://old-releases.ubuntu.com/releases
	run ubuntu_vars noble-rt-jazzy
	[ "$status" -eq 0 ]
	[ "$output" = "URL $c/24.04/release/
PICK ubuntu-24.04*-preinstalled-server-arm64+raspi.img.xz
MIRRORS $o/24.04*/
SUMS $c/24.04/release/SHA256SUMS
SIG $c/24.04/release/SHA256SUMS.gpg
INIT cloudinit
SECRETS IMAGE_PASSWORD
USER ubuntu
BOARDS pi4 pi5 DEVICES pi4-64bit,pi5-64bit PINNED [] auto" ]
	# The boards: the zip's kernel is the Pi 4's; resolute's is for both.
	run ubuntu_vars noble-rt-jazzy RT_KERNEL_SOURCE=release
	[ "${lines[8]}" = "BOARDS pi4 DEVICES pi4-64bit PINNED [1500000] release" ]
	run ubuntu_vars jammy-rt-humble
	[ "${lines[8]}" = "BOARDS pi4 DEVICES pi4-64bit PINNED [1500000] release" ]
	run ubuntu_vars resolute-rt-lyrical
	[ "${lines[0]}" = "URL $c/26.04/release/" ]
	[ "${lines[1]}" = "PICK ubuntu-26.04*-preinstalled-server-arm64+raspi.img.xz" ]
	[ "${lines[8]}" = "BOARDS pi4 pi5 DEVICES pi4-64bit,pi5-64bit PINNED [] archive" ]
	run ubuntu_vars jammy-rt-humble IMAGE_USER=robot
	[ "${lines[0]}" = "URL $c/22.04/release/" ]
	[ "${lines[7]}" = "USER robot" ]
	run ubuntu_vars noble-rt-jazzy UBUNTU_VERSION=24.04.2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "URL $c/24.04.2/release/ubuntu-24.04.2-preinstalled-server-arm64+raspi.img.xz" ]
	[ "${lines[1]}" = "PICK " ]
	[ "${lines[2]}" = "MIRRORS $o/24.04.2/ubuntu-24.04.2-preinstalled-server-arm64+raspi.img.xz" ]
	[ "${lines[3]}" = "SUMS $c/24.04.2/release/SHA256SUMS $o/24.04.2/SHA256SUMS" ]
	run ubuntu_vars focal-rt-ros2
	[ "${lines[0]}" = "URL $c/20.04.5/release/ubuntu-20.04.5-preinstalled-server-arm64+raspi.img.xz" ]
	run --separate-stderr ubuntu_vars noble-rt-jazzy UBUNTU_SERIES=
	[ "$status" -eq 2 ]
	[[ $stderr == *"noble-rt-jazzy: set UBUNTU_SERIES (24.04) or UBUNTU_VERSION (24.04.2).  Stop." ]]
	[ ! -e "$T/never" ]
}

@test "phase1-target: APT_COMPONENTS added to the archive's release and pockets (deb822 and one-line, options and all), not to another repository" {
	mkdir -p "$T/fw"
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh '
		mount -t tmpfs rtik-test-apt /etc/apt; mkdir -p /etc/apt/sources.list.d
		printf "Types: deb\nURIs: http://ports.ubuntu.com/ubuntu-ports/\nSuites: noble noble-updates\nComponents: main restricted\n\nTypes: deb\nURIs: http://ports.ubuntu.com/ubuntu-ports/\nSuites: noble-security\nComponents: main\n\nTypes: deb\nURIs: http://ppa.example/x\nSuites: noble\nComponents: main\n" >/etc/apt/sources.list.d/ubuntu.sources
		export UBUNTU_CODENAME=noble APT_POCKETS="updates security" APT_COMPONENTS="main universe"
		apt_pockets_ensure >/dev/null; apt_components_ensure; apt_components_ensure
		cat /etc/apt/sources.list.d/ubuntu.sources'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "in-boot-ns: apt sources: the components main universe in /etc/apt/sources.list.d/ubuntu.sources" ]
	[ "$(printf '%s\n' "${lines[@]:1}")" = "Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports/
Suites: noble noble-updates
Components: main restricted universe
Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports/
Suites: noble-security
Components: main universe
Types: deb
URIs: http://ppa.example/x
Suites: noble
Components: main" ]
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh '
		mount -t tmpfs rtik-test-apt /etc/apt; mkdir -p /etc/apt/sources.list.d
		printf "deb [arch=arm64 signed-by=/k.gpg] http://ports.ubuntu.com/ubuntu-ports jammy main\ndeb http://ppa.example/x jammy main\n" >/etc/apt/sources.list
		export UBUNTU_CODENAME=jammy APT_POCKETS=updates APT_COMPONENTS="main universe"
		apt_pockets_ensure >/dev/null; apt_components_ensure >/dev/null
		cat /etc/apt/sources.list'
	[ "$status" -eq 0 ]
	[ "$output" = "deb [arch=arm64 signed-by=/k.gpg] http://ports.ubuntu.com/ubuntu-ports jammy main universe
deb [arch=arm64 signed-by=/k.gpg] http://ports.ubuntu.com/ubuntu-ports jammy-updates main universe
deb http://ppa.example/x jammy main" ]
}

@test "phase1-target: login knobs on an image without cloud-init are one line, before any group or user is touched" {
	mkdir -p "$T/fw"
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh "
		CLOUD_CFG='$T/no-cloud.cfg' RT_GROUP=rtik-test-never DEFAULT_USER=robot IMAGE_USER=robot default_user_join"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "in-boot-ns: IMAGE_USER, AUTHORIZED_KEYS, IMAGE_PASSWORD and IMAGE_HOSTNAME are applied by cloud-init, which this image does not have" ]
	! getent group rtik-test-never >/dev/null || return 1
}

@test "phase1-target: PIBOOT_VALIDATE_RT adds rt-check's kernel check to piboot-validate once, no takes it out; a bad value, or yes without A/B boot, is one line" {
	local pv=$T/piboot-validate
	mkdir -p "$T/fw"
	printf '#!/bin/sh\nset -e\ntrue\n' >"$pv"
	chmod 0755 "$pv"
	cp "$pv" "$T/orig"
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh "
		PIBOOT_VALIDATE='$pv' PIBOOT_VALIDATE_RT=yes piboot_validate_apply
		PIBOOT_VALIDATE='$pv' PIBOOT_VALIDATE_RT=yes piboot_validate_apply"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "in-boot-ns: $pv: rt-check's kernel check added (PIBOOT_VALIDATE_RT=yes)" ]
	[ "$(grep -c '^/usr/local/sbin/rt-check --duration 0 --only kernel >&2 || exit 1$' "$pv")" -eq 1 ]
	[ "$(stat -c %a "$pv")" = 755 ]
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh "PIBOOT_VALIDATE='$pv' PIBOOT_VALIDATE_RT=no piboot_validate_apply"
	[ "$status" -eq 0 ]
	cmp "$pv" "$T/orig"
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh "PIBOOT_VALIDATE='$pv' PIBOOT_VALIDATE_RT=maybe piboot_validate_apply"
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: PIBOOT_VALIDATE_RT 'maybe' is neither yes nor no" ]
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh "PIBOOT_VALIDATE='$T/none' PIBOOT_VALIDATE_RT=yes piboot_validate_apply"
	[ "$status" -eq 1 ]
	[ "$stderr" = "in-boot-ns: PIBOOT_VALIDATE_RT=yes, but this image has no $T/none (Ubuntu's A/B boot, 25.10 and later)" ]
	run --separate-stderr boot_ns "$T/fw" ubuntu/phase1-target.sh "PIBOOT_VALIDATE='$T/none' PIBOOT_VALIDATE_RT=no piboot_validate_apply"
	[ "$status" -eq 0 ]
	[ ! -e "$T/none" ]
}
