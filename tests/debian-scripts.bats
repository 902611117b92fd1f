#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154,SC2016 # bats: @test bodies run in subshells; run sets stderr_lines; code for boot_ns is single-quoted
# The scripts that build a Debian image from nothing, without building one:
# the checks of images/shared/debian/seal.sh (what the firmware will boot)
# and setup.sh (the knobs, the units it enables), their functions run in a
# mount namespace whose /boot and systemd unit directories are tmpfs
# (boot_ns); and mmdebstrap's hooks, mk/bootstrap-hooks.

bats_require_minimum_version 1.5.0
load test_helper
load boot_ns_helper

REL=6.12.117+deb13-rt-arm64
HOOKS=$TOP/mk/bootstrap-hooks

setup() {
	common_setup
}

teardown() {
	block_cleanup
}

# ---- seal.sh ----

# The boot partition as raspi-firmware writes it for kernel REL.
firmware_make() {
	local b=$T/firmware
	mkdir -p "$b"
	printf '# Do not modify this file!\narm_64bit=1\n\nenable_uart=1\nupstream_kernel=1\n\nkernel=vmlinuz-%s\ninitramfs initrd.img-%s\n' \
		"$REL" "$REL" >"$b/config.txt"
	printf 'console=ttyS1,115200 root=LABEL=RASPIROOT rw rootwait\n' >"$b/cmdline.txt"
	echo "kernel $REL" >"$b/vmlinuz-$REL"
	echo "initramfs $REL" >"$b/initrd.img-$REL"
	echo dtb >"$b/bcm2711-rpi-4-b.dtb"
	echo firmware >"$b/start4.elf"
}

# seal_ns CODE: CODE with seal.sh's functions, /boot holding kernel REL and
# its initramfs (the same bytes as the boot partition's copies).
seal_ns() {
	boot_ns "$T/firmware" debian/seal.sh '
		echo "kernel '"$REL"'" >/boot/vmlinuz-'"$REL"'
		echo "initramfs '"$REL"'" >/boot/initrd.img-'"$REL"'
		'"$1"
}

# A listing of the boot partition with every file's hash.
firmware_sums() {
	(cd "$T/firmware" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

@test "seal.sh: sourced it only defines functions; a boot partition that boots the newest kernel passes" {
	firmware_make
	run --separate-stderr seal_ns 'boot_check "$(kernels | tail -n 1)"'
	[ "$status" -eq 0 ]
	[ "$output" = "debian-seal: the firmware boots vmlinuz-$REL with initrd.img-$REL; console=ttyS1,115200 root=LABEL=RASPIROOT rw rootwait" ]
	[ -z "$stderr" ]
	shellcheck -x "$TOP"/images/shared/debian/*.sh
}

# seal.sh's boot_check on the boot partition as it stands: refused with
# exactly the line MESSAGE on stderr.
boot_check_refuses() {
	run --separate-stderr seal_ns "boot_check $REL"
	[ "$status" -eq 1 ]
	[ "$stderr" = "$1" ]
}

@test "seal.sh: config.txt booting another kernel, or none, is refused" {
	firmware_make
	sed -i "s/^kernel=.*/kernel=vmlinuz-6.12.1+deb13-rt-arm64/" "$T/firmware/config.txt"
	boot_check_refuses "debian-seal: config.txt boots 'vmlinuz-6.12.1+deb13-rt-arm64', not vmlinuz-$REL"
	sed -i '/^kernel=/d' "$T/firmware/config.txt"
	boot_check_refuses "debian-seal: config.txt boots 'nothing', not vmlinuz-$REL"
	rm "$T/firmware/config.txt"
	boot_check_refuses "debian-seal: $T/firmware/config.txt is missing"
}

@test "seal.sh: a wrong or missing initramfs line is refused" {
	firmware_make
	sed -i "s/^initramfs .*/initramfs initrd.img-6.12.1+deb13-rt-arm64 followkernel/" "$T/firmware/config.txt"
	boot_check_refuses "debian-seal: config.txt loads the initramfs 'initrd.img-6.12.1+deb13-rt-arm64', not initrd.img-$REL"
	sed -i '/^initramfs /d' "$T/firmware/config.txt"
	boot_check_refuses "debian-seal: config.txt loads the initramfs 'none', not initrd.img-$REL"
}

@test "seal.sh: a kernel or initramfs on the boot partition that is not /boot's, or is missing, is refused" {
	firmware_make
	echo "an older build" >"$T/firmware/vmlinuz-$REL"
	boot_check_refuses "debian-seal: $T/firmware/vmlinuz-$REL is not /boot/vmlinuz-$REL"
	firmware_make
	rm "$T/firmware/initrd.img-$REL"
	boot_check_refuses "debian-seal: $T/firmware/initrd.img-$REL is not /boot/initrd.img-$REL"
}

@test "seal.sh: no Pi 4 device tree, or a command line without root=LABEL=, is refused" {
	firmware_make
	rm "$T/firmware/bcm2711-rpi-4-b.dtb"
	boot_check_refuses "debian-seal: $T/firmware/bcm2711-rpi-4-b.dtb (the Pi 4's device tree) is missing"
	firmware_make
	echo 'console=ttyS1,115200 root=/dev/mmcblk0p2 rw rootwait' >"$T/firmware/cmdline.txt"
	boot_check_refuses "debian-seal: cmdline.txt does not find the root by label: console=ttyS1,115200 root=/dev/mmcblk0p2 rw rootwait"
	rm "$T/firmware/cmdline.txt"
	boot_check_refuses "debian-seal: $T/firmware/cmdline.txt (the kernel's command line) is missing"
}

@test "seal.sh: no kernel in /boot stops it before it touches anything" {
	firmware_make
	local before
	before=$(firmware_sums)
	# main itself, with an empty /boot (and no SSH host keys removed: it
	# stops first).
	run --separate-stderr boot_ns "$T/firmware" debian/seal.sh 'main; echo "main returned"'
	[ "$status" -eq 1 ]
	[ "$stderr" = "debian-seal: no kernel in /boot: is a linux-image package in IMAGE_PACKAGES?" ]
	[ -z "$output" ]
	[ "$(firmware_sums)" = "$before" ]
	[ ! -e /run/rtik-boot-fat ]
	assert_nothing_left
}

# ---- setup.sh ----

# check_knobs of setup.sh with the recipe's real-time knobs and NAME=VALUE
# pairs; nothing else runs.
setup_knobs() {
	env RT_GROUP=realtime RT_RTPRIO=98 RT_MEMLOCK=unlimited \
		IMAGE_USER=rt IMAGE_HOSTNAME=rt-pi4 IMAGE_PASSWORD= "$@" \
		bash -c '. "$1" && check_knobs' setup-knobs "$TOP/images/shared/debian/setup.sh"
}

@test "setup.sh: sourced it only defines functions; good knobs pass" {
	run --separate-stderr setup_knobs
	[ "$status" -eq 0 ]
	[ -z "$output" ] && [ -z "$stderr" ]
	run --separate-stderr setup_knobs IMAGE_USER=ros_2-user IMAGE_HOSTNAME=Pi4-lab-07 IMAGE_PASSWORD='s3cret pass!'
	[ "$status" -eq 0 ]
	[ -z "$output" ] && [ -z "$stderr" ]
}

@test "setup.sh: IMAGE_USER that is not a user name is refused" {
	local u
	for u in '' Rt 1rt 'r t' 'rt:x' abcdefghijklmnopqrstuvwxyz0123456; do
		run --separate-stderr setup_knobs IMAGE_USER="$u"
		[ "$status" -eq 1 ]
		[ "$stderr" = "debian-setup: IMAGE_USER '$u' is not a user name" ]
		[ -z "$output" ]
	done
}

@test "setup.sh: IMAGE_HOSTNAME that is not a host name is refused" {
	local h long
	long=$(printf 'a%.0s' {1..64})
	for h in '' rt_pi4 -pi4 pi4- rt.pi4 "$long"; do
		run --separate-stderr setup_knobs IMAGE_HOSTNAME="$h"
		[ "$status" -eq 1 ]
		[ "$stderr" = "debian-setup: IMAGE_HOSTNAME '$h' is not a host name" ]
	done
}

@test "setup.sh: IMAGE_PASSWORD with ':' or a newline is refused" {
	local p
	for p in 'a:b' $'line\nbreak'; do
		run --separate-stderr setup_knobs IMAGE_PASSWORD="$p"
		[ "$status" -eq 1 ]
		[ "$stderr" = "debian-setup: IMAGE_PASSWORD may not hold ':' or a newline" ]
	done
}

# The unit files of the services setup.sh enables, but those named.
units_but() {
	local u out=
	for u in systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
		ssh.service regenerate-ssh-host-keys.service rt-grow-root.service; do
		[[ " $* " == *" $u "* ]] && continue
		out+="printf '[Unit]\nDescription=$u\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n' >/usr/lib/systemd/system/$u; "
	done
	echo "$out"
}

@test "setup.sh: the services enabled; one that is not in the image is refused, none enabled" {
	command -v systemctl >/dev/null && [ -d /usr/lib/systemd/system ] || skip "no systemctl"
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh "$(units_but) services_setup; ls /etc/systemd/system/multi-user.target.wants"
	[ "$status" -eq 0 ]
	[ "$output" = "regenerate-ssh-host-keys.service
rt-grow-root.service
ssh.service
systemd-networkd.service
systemd-resolved.service
systemd-timesyncd.service" ]
	# No openssh-server: stops before enabling anything.
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh "$(units_but ssh.service)"'
		status=0
		(services_setup) || status=$?
		find /etc/systemd -mindepth 1
		exit "$status"'
	[ "$status" -eq 1 ]
	[ "$stderr" = "debian-setup: ssh.service is not in the image: is it in IMAGE_PACKAGES or OVERLAYS?" ]
	[ -z "$output" ]
}

# ---- mk/bootstrap-hooks ----

@test "bootstrap-hooks: setup binds the .deb cache in the root, customize takes it away" {
	require_root
	mkdir -p "$T/cache" "$T/root"
	run --separate-stderr unshare -m sh -c '
		RTIK_APT_CACHE=$2/cache "$1" setup "$2/root"
		echo deb >"$2/root/var/cache/apt/archives/a.deb"
		"$1" customize "$2/root"
		ls "$2/root/var/cache/apt/archives"' sh "$HOOKS" "$T"
	[ "$status" -eq 0 ]
	[ -z "$output" ] && [ -z "$stderr" ]
	[ "$(cat "$T/cache/a.deb")" = deb ]
}

@test "bootstrap-hooks: an unknown hook, or no root, is a usage error" {
	mkdir -p "$T/root"
	run --separate-stderr "$HOOKS" essential "$T/root"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bootstrap-hooks: unknown hook 'essential' (setup or customize)" ]
	[ -z "$(ls -A "$T/root")" ]
	run --separate-stderr "$HOOKS" setup
	[ "$status" -eq 2 ]
	[ "$stderr" = "usage: bootstrap-hooks setup|customize ROOT" ]
	run --separate-stderr "$HOOKS"
	[ "$status" -eq 2 ]
	[ "$stderr" = "usage: bootstrap-hooks setup|customize ROOT" ]
}

@test "bootstrap-hooks: setup without a cache, and customize with nothing bound, fail with one line" {
	mkdir -p "$T/root"
	run --separate-stderr env -u RTIK_APT_CACHE "$HOOKS" setup "$T/root"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bootstrap-hooks: RTIK_APT_CACHE (the directory of .deb files to share) is not set" ]
	run --separate-stderr env RTIK_APT_CACHE="$T/none" "$HOOKS" setup "$T/root"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bootstrap-hooks: RTIK_APT_CACHE '$T/none' is not a directory" ]
	[ -z "$(ls -A "$T/root")" ]
	run --separate-stderr "$HOOKS" customize "$T/root"
	[ "$status" -eq 1 ]
	[ "$stderr" = "bootstrap-hooks: $T/root/var/cache/apt/archives is not mounted: the setup hook did not run" ]
	assert_nothing_left
}
