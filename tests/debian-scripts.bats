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

@test "setup.sh: the services enabled, e2scrub's off; one that is not in the image is refused, none enabled" {
	command -v systemctl >/dev/null && [ -d /usr/lib/systemd/system ] || skip "no systemctl"
	# e2fsprogs' units, enabled as its package leaves them.
	local e2scrub='printf "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=default.target\n" >/usr/lib/systemd/system/e2scrub_reap.service
		printf "[Service]\nExecStart=/bin/true\n" >/usr/lib/systemd/system/e2scrub_all.service
		printf "[Timer]\nOnCalendar=weekly\n[Install]\nWantedBy=timers.target\n" >/usr/lib/systemd/system/e2scrub_all.timer
		systemctl enable e2scrub_reap.service e2scrub_all.timer 2>/dev/null
		find /etc/systemd/system -name "e2scrub*" | sort | sed "s/^/BEFORE /";'
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh "$(units_but) $e2scrub services_setup
		ls /etc/systemd/system/multi-user.target.wants; find /etc/systemd/system -name 'e2scrub*' | sed 's/^/AFTER /'"
	[ "$status" -eq 0 ]
	[ "$output" = "BEFORE /etc/systemd/system/default.target.wants/e2scrub_reap.service
BEFORE /etc/systemd/system/timers.target.wants/e2scrub_all.timer
regenerate-ssh-host-keys.service
rt-grow-root.service
ssh.service
systemd-networkd.service
systemd-resolved.service
systemd-timesyncd.service" ]
	# Without e2fsprogs' units (an image without them): no error either.
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh "$(units_but) services_setup"
	[ "$status" -eq 0 ]
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

# ---- overlays/debian-pi4: the kernel hook after raspi-firmware's ----

kernel_hook() { # RELEASE PREEMPT_RT(y or n) [DEB_MAINT_PARAMS]
	mkdir -p "$T/fw" "$T/boot"
	printf 'arm_64bit=1\nkernel=vmlinuz-%s\ninitramfs initrd.img-%s\n' "$1" "$1" >"$T/fw/config.txt"
	if [ "$2" = y ]; then
		printf 'CONFIG_PREEMPT=y\nCONFIG_PREEMPT_RT=y\n' >"$T/boot/config-$1"
	else
		printf 'CONFIG_PREEMPT_VOLUNTARY=y\n# CONFIG_PREEMPT_RT is not set\n' >"$T/boot/config-$1"
	fi
	BOOT_DIR=$T/fw KERNEL_DIR=$T/boot DEB_MAINT_PARAMS=${3:-configure} \
		"$TOP/overlays/debian-pi4/etc/kernel/postinst.d/z60-rt-image-kernel" "$1" "/boot/vmlinuz-$1"
}

@test "z60-rt-image-kernel: an RT kernel on the boot partition passes in silence; another is named in a warning" {
	run --separate-stderr kernel_hook 6.12.118+deb13-rt-arm64 y
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
	run --separate-stderr kernel_hook 6.12.118+deb13-arm64 n
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$stderr" = "rt-image: warning: the boot partition now boots vmlinuz-6.12.118+deb13-arm64, which is not a PREEMPT_RT kernel: the next boot is not real-time (rt-check will fail); remove that kernel's package to boot the RT kernel again" ]
	# On removal raspi-firmware rewrites config.txt too; only configure is checked.
	run --separate-stderr kernel_hook 6.12.118+deb13-arm64 n remove
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	shellcheck "$TOP/overlays/debian-pi4/etc/kernel/postinst.d/z60-rt-image-kernel"
}

# ---- setup.sh: apt sources, upgrades, cloud-init ----

@test "setup.sh: the apt sources in deb822 form: suite, -updates, -security, the recipe's components and keyring" {
	# /etc/apt on a tmpfs of the test's own mount namespace.
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh '
		mount -t tmpfs rtik-test-apt /etc/apt
		mkdir -p /etc/apt/sources.list.d; echo "deb http://build-mirror trixie main" >/etc/apt/sources.list
		IMAGE_SUITE=trixie IMAGE_COMPONENTS="main non-free-firmware" APT_MIRROR=http://deb.debian.org/debian \
			APT_SECURITY_MIRROR=http://deb.debian.org/debian-security apt_sources_write >/dev/null
		test ! -e /etc/apt/sources.list && cat /etc/apt/sources.list.d/debian.sources'
	[ "$status" -eq 0 ]
	grep -v '^#' <<<"$output" >"$T/got"
	printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: trixie trixie-updates' \
		'Components: main non-free-firmware' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' '' \
		'Types: deb' 'URIs: http://deb.debian.org/debian-security' 'Suites: trixie-security' \
		'Components: main non-free-firmware' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >"$T/want"
	diff -u "$T/want" "$T/got"
}

@test "setup.sh: FIRSTBOOT and UNATTENDED_UPGRADES that the image cannot honour are refused with one line" {
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh 'FIRSTBOOT=maybe firstboot_setup'
	[ "$status" -eq 1 ]
	[ "$stderr" = "debian-setup: FIRSTBOOT 'maybe' is neither cloud-init nor none" ]
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh 'PATH=/nonexistent FIRSTBOOT=cloud-init firstboot_setup'
	[ "$status" -eq 1 ]
	[ "$stderr" = "debian-setup: FIRSTBOOT=cloud-init needs the package cloud-init" ]
	# cloud-init finds the boot partition by fstab's label: without one, no
	# configuration is written.
	mkdir -p "$T/bin"
	printf '#!/bin/sh\n' >"$T/bin/cloud-init" && chmod +x "$T/bin/cloud-init"
	printf '/dev/mmcblk0p2 / ext4 rw 0 1\n/dev/mmcblk0p1 /boot/firmware vfat rw 0 2\n' >"$T/fstab"
	mkdir "$T/cloud"
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh "
		mount --bind '$T/fstab' /etc/fstab; CLOUD_CFG='$T/cloud/90-rt-image.cfg'
		PATH='$T/bin':\$PATH FIRSTBOOT=cloud-init firstboot_setup"
	[ "$status" -eq 1 ]
	[ "$stderr" = "debian-setup: /etc/fstab mounts no /boot/firmware by LABEL=: cloud-init cannot find the boot partition" ]
	[ -z "$(ls -A "$T/cloud")" ]
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh 'PATH=/nonexistent UNATTENDED_UPGRADES=yes upgrades_setup'
	[ "$status" -eq 1 ]
	[ "$stderr" = "debian-setup: UNATTENDED_UPGRADES=yes needs the package unattended-upgrades" ]
}

@test "bootstrap-hooks: customize records the suite of each installed package's version from apt's lists" {
	require_root
	local l=$T/root/var/lib/apt/lists
	mkdir -p "$T/cache" "$l" "$T/root/var/lib/dpkg"
	printf 'Origin: Debian\nSuite: stable\nCodename: trixie\n' >"$l/deb.debian.org_debian_dists_trixie_InRelease"
	printf 'Origin: Debian\nSuite: stable-security\nCodename: trixie-security\n' >"$l/deb.debian.org_debian-security_dists_trixie-security_InRelease"
	printf 'Origin: Debian\nSuite: stable-updates\nCodename: trixie-updates\n' >"$l/deb.debian.org_debian_dists_trixie-updates_InRelease"
	printf 'Package: libkrb5-3\nArchitecture: arm64\nVersion: 1.21.3-5\n\nPackage: adduser\nArchitecture: all\nVersion: 3.152\n\nPackage: tzdata\nArchitecture: all\nVersion: 2025b-4\n' \
		>"$l/deb.debian.org_debian_dists_trixie_main_binary-arm64_Packages"
	printf 'Package: libkrb5-3\nArchitecture: arm64\nVersion: 1.21.3-5+deb13u2\n' \
		>"$l/deb.debian.org_debian-security_dists_trixie-security_main_binary-arm64_Packages"
	printf 'Package: tzdata\nArchitecture: all\nVersion: 2025b-4\n' \
		>"$l/deb.debian.org_debian_dists_trixie-updates_main_binary-arm64_Packages"
	printf '%s\n' 'Package: adduser' 'Status: install ok installed' 'Architecture: all' 'Version: 3.152' '' \
		'Package: libkrb5-3' 'Status: install ok installed' 'Architecture: arm64' 'Version: 1.21.3-5+deb13u2' '' \
		'Package: removed' 'Status: deinstall ok config-files' 'Architecture: arm64' 'Version: 1' '' \
		'Package: tzdata' 'Status: install ok installed' 'Architecture: all' 'Version: 2025b-4' '' \
		'Package: local' 'Status: install ok installed' 'Architecture: arm64' 'Version: 0.1' >"$T/root/var/lib/dpkg/status"
	run --separate-stderr unshare -m sh -c '
		RTIK_APT_CACHE=$2/cache "$1" setup "$2/root"
		RTIK_PACKAGE_SUITES=$2/suites "$1" customize "$2/root"' sh "$HOOKS" "$T"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$(cat "$T/suites")" = "suite adduser all 3.152 trixie
suite libkrb5-3 arm64 1.21.3-5+deb13u2 trixie-security
suite tzdata all 2025b-4 trixie,trixie-updates" ]
	[ ! -e "$T/suites.new" ]
	# A record that cannot be written: one line, the cache unbound all the same.
	run --separate-stderr unshare -m sh -c '
		RTIK_APT_CACHE=$2/cache "$1" setup "$2/root"
		status=0
		RTIK_PACKAGE_SUITES=$2/no-such-dir/suites "$1" customize "$2/root" || status=$?
		mountpoint -q "$2/root/var/cache/apt/archives" && echo "still bound"
		exit "$status"' sh "$HOOKS" "$T"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${stderr##*$'\n'}" = "bootstrap-hooks: cannot record the packages' suites in $T/no-such-dir/suites" ]
}

# The trixie recipe's variables as make computes them (make -n: nothing built).
recipe_vars() {
	make -s -n -C "$TOP/images/trixie-rt-pi4" BUILD_DIR="$T/never" "$@" \
		--eval 'rtik-print: ; @echo $(strip $(IMAGE_PACKAGES)) / $(DIST_INIT_FORMAT) / $(strip $(IMAGE_EXTRA_SUITES)) / $(IMAGE_SECURITY_SUITE)' rtik-print
}

@test "trixie-rt-pi4: FIRSTBOOT=none leaves cloud-init out and says so to Imager; UNATTENDED_UPGRADES=yes adds its package" {
	run recipe_vars
	[ "$status" -eq 0 ]
	[[ " $output " == *" cloud-init netplan.io / cloudinit / trixie-updates / trixie-security "* ]]
	[[ " $output " != *" unattended-upgrades "* ]]
	run recipe_vars FIRSTBOOT=none UNATTENDED_UPGRADES=yes
	[ "$status" -eq 0 ]
	[[ " $output " != *" cloud-init "* ]] && [[ " $output " != *" netplan.io "* ]]
	[[ " $output " == *" unattended-upgrades / none / "* ]]
	[ ! -e "$T/never" ]
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh 'FIRSTBOOT=none firstboot_setup'
	[ "$status" -eq 0 ]
	[ "$output" = "debian-setup: FIRSTBOOT=none: no settings at flash time" ] || [ "$stderr" = "debian-setup: FIRSTBOOT=none: no settings at flash time" ]
}

@test "setup.sh: UNATTENDED_UPGRADES=yes turns apt's timers and unattended-upgrades on; no (the default) turns them off" {
	command -v systemctl >/dev/null && [ -d /usr/lib/systemd/system ] || skip "no systemctl"
	local timers='for t in apt-daily apt-daily-upgrade; do
			printf "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n" >/usr/lib/systemd/system/$t.timer
			printf "[Service]\nExecStart=/bin/true\n" >/usr/lib/systemd/system/$t.service
		done
		mount -t tmpfs rtik-test-apt /etc/apt; mkdir -p /etc/apt/apt.conf.d
		mkdir -p "$BOOT_DIR.bin"; printf "#!/bin/sh\n" >"$BOOT_DIR.bin/unattended-upgrade"; chmod +x "$BOOT_DIR.bin/unattended-upgrade"; PATH=$BOOT_DIR.bin:$PATH'
	run --separate-stderr boot_ns "$T/firmware" debian/setup.sh "$timers"'
		UNATTENDED_UPGRADES=yes upgrades_setup >/dev/null
		cat /etc/apt/apt.conf.d/20auto-upgrades; ls /etc/systemd/system/timers.target.wants
		UNATTENDED_UPGRADES=no upgrades_setup >/dev/null
		ls /etc/apt/apt.conf.d /etc/systemd/system/timers.target.wants 2>/dev/null || true'
	echo "status $status: $output $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = 'APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
apt-daily-upgrade.timer
apt-daily.timer
/etc/apt/apt.conf.d:' ]
}
