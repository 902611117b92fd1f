#!/usr/bin/env bash
# phase1-target: inside the image (Ubuntu 20.04 arm64, as root, under
# qemu-user). Installs the RT kernel that phase1-host unpacked into
# $SCRATCH_DIR/rt-kernel, purges the stock kernel and REMOVE_PACKAGES, puts
# the RT kernel where the boot firmware loads it and checks that it is the
# one that will boot, then applies the real-time tuning: CPU frequency, RT
# throttling, the realtime group, isolated CPUs and overclocking.
#
# Every step can run again on the same image (make phase1-target) with the
# same result; ISOLATED_CPUS, ARM_FREQ and OVER_VOLTAGE set back to empty
# undo what they did.
#
# Environment (mk/image.mk): SCRATCH_DIR, and the recipe's knobs (see the
# Makefile). BOOT_DIR (default /boot/firmware) is for tests.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

BOOT_DIR=${BOOT_DIR:-/boot/firmware}
# The Raspberry Pi 4 has four cores, 0-3.
NR_CPUS=4

APT_OPTS=(-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# ---- knobs ----

check_knobs() {
	[[ ${PINNED_CPU_FREQUENCY:-} =~ ^([0-9]+)?$ ]] ||
		die "PINNED_CPU_FREQUENCY '$PINNED_CPU_FREQUENCY' is not a number of kHz"
	[[ ${ARM_FREQ:-} =~ ^([0-9]+)?$ ]] || die "ARM_FREQ '$ARM_FREQ' is not a number of MHz"
	[[ ${OVER_VOLTAGE:-} =~ ^(-?[0-9]+)?$ ]] || die "OVER_VOLTAGE '$OVER_VOLTAGE' is not a number"
	if ! [[ ${RT_RTPRIO:-} =~ ^[0-9]+$ ]] || [ "$RT_RTPRIO" -lt 1 ] || [ "$RT_RTPRIO" -gt 99 ]; then
		die "RT_RTPRIO '${RT_RTPRIO:-}' is not a priority from 1 to 99"
	fi
	[[ ${RT_MEMLOCK:-} =~ ^([0-9]+|unlimited)$ ]] ||
		die "RT_MEMLOCK '${RT_MEMLOCK:-}' is not a number of KiB nor 'unlimited'"
	[[ ${RT_GROUP:-} =~ ^[a-z_][a-z0-9_-]*$ ]] || die "RT_GROUP '${RT_GROUP:-}' is not a group name"
	[[ ${DEFAULT_USER:-} =~ ^[a-z_][a-z0-9_-]*$ ]] || die "DEFAULT_USER '${DEFAULT_USER:-}' is not a user name"
	if [ -n "${ISOLATED_CPUS:-}" ]; then
		cpulist_expand "$ISOLATED_CPUS" >/dev/null
		[ -n "$(cpulist_complement "$ISOLATED_CPUS")" ] ||
			die "ISOLATED_CPUS '$ISOLATED_CPUS' isolates every CPU; leave at least one for the rest of the system"
	fi
}

# "1,3-4" -> "1 3 4"; fails on anything but CPU numbers below NR_CPUS.
cpulist_expand() {
	local list=$1 part lo hi c parts out=()
	[[ $list =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
		die "ISOLATED_CPUS '$list' is not a CPU list such as 2-3 or 1,3"
	IFS=, read -ra parts <<<"$list"
	for part in "${parts[@]}"; do
		lo=${part%-*} hi=${part#*-}
		[ "$lo" -le "$hi" ] || die "ISOLATED_CPUS: '$part' is a backwards range"
		[ "$hi" -lt "$NR_CPUS" ] || die "ISOLATED_CPUS: CPU $hi does not exist (the Pi 4 has CPUs 0-$((NR_CPUS - 1)))"
		for ((c = lo; c <= hi; c++)); do
			out+=("$c")
		done
	done
	echo "${out[*]}"
}

# The CPUs not in the list, comma-separated ("2-3" -> "0,1").
cpulist_complement() {
	local isolated c out=()
	isolated=" $(cpulist_expand "$1") "
	for ((c = 0; c < NR_CPUS; c++)); do
		[[ $isolated == *" $c "* ]] || out+=("$c")
	done
	local IFS=,
	echo "${out[*]}"
}

# ---- packages ----

# The installed packages among the arguments.
installed() {
	local p
	for p in "$@"; do
		if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ]; then
			echo "$p"
		fi
	done
}

# ---- the RT kernel ----

RT_DEBS=()
RT_PKGS=()
RT_IMAGE_PKG=

kernel_install() {
	local dir=$SCRATCH_DIR/rt-kernel deb pkg ver todo=0
	[ -d "$dir" ] || die "$dir is missing: run phase1-host first"
	for deb in "$dir"/*.deb; do
		[ -e "$deb" ] || die "no .deb in $dir: run phase1-host first"
		pkg=$(dpkg-deb -f "$deb" Package)
		ver=$(dpkg-deb -f "$deb" Version)
		case $pkg in
		*-dbg) continue ;;
		linux-image-*)
			[ -z "$RT_IMAGE_PKG" ] || die "two kernel images in $dir: $RT_IMAGE_PKG and $pkg"
			RT_IMAGE_PKG=$pkg
			;;
		esac
		RT_DEBS+=("$deb")
		RT_PKGS+=("$pkg")
		if [ "$(dpkg-query -W -f='${Version} ${Status}' "$pkg" 2>/dev/null)" != "$ver install ok installed" ]; then
			todo=1
		fi
	done
	[ -n "$RT_IMAGE_PKG" ] || die "no linux-image package in $dir"
	if [ "$todo" -eq 0 ]; then
		say "RT kernel packages already installed: ${RT_PKGS[*]}"
		return
	fi
	say "installing ${RT_PKGS[*]}"
	# apt rather than dpkg -i: it brings in what they depend on.
	apt-get install "${APT_OPTS[@]}" "${RT_DEBS[@]}"
}

# The kernel release, read from the files the image package installed (so
# a release whose name does not match its content still works).
kernel_release() {
	local f rel=
	while IFS= read -r f; do
		case $f in
		/boot/vmlinuz-*)
			[ -z "$rel" ] || die "$RT_IMAGE_PKG installs more than one /boot/vmlinuz-*"
			rel=${f#/boot/vmlinuz-}
			;;
		esac
	done < <(dpkg-query -L "$RT_IMAGE_PKG")
	[ -n "$rel" ] || die "$RT_IMAGE_PKG installs no /boot/vmlinuz-*"
	echo "$rel"
}

# Ubuntu's raspi kernels and their meta packages, not the RT ones: the
# stock kernel's release is "X.Y.Z-ABI-raspi" (5.4.0-1069-raspi).
stock_kernel_packages() {
	local p rt
	while IFS= read -r p; do
		for rt in "${RT_PKGS[@]}"; do
			[ "$p" != "$rt" ] || continue 2
		done
		case $p in
		linux-raspi | linux-image-raspi | linux-headers-raspi | linux-tools-raspi | linux-modules-extra-raspi)
			echo "$p"
			;;
		*)
			if [[ $p =~ ^linux-[a-z-]+-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-raspi$ ]] ||
				[[ $p =~ ^linux-raspi-(headers|tools)-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$ ]]; then
				echo "$p"
			fi
			;;
		esac
	done < <(dpkg-query -W -f='${Package} ${Status}\n' 'linux-*' 2>/dev/null |
		awk '$NF == "installed" { print $1 }')
}

# What the Pi's firmware reads, in order, for a Pi 4: config.txt and the
# files it includes, sections [all] and [pi4] only. Prints the settings as
# KEY=VALUE ("initramfs FILE ..." as initramfs=FILE, "include FILE" as
# include=FILE), the last one of a key being the one that counts.
bootcfg_settings() {
	[ -f "$BOOT_DIR/config.txt" ] || die "$BOOT_DIR/config.txt is missing"
	awk -v dir="$BOOT_DIR" '
		function walk(file, depth,    line, key, rest) {
			if (depth > 4)
				return
			while ((getline line < file) > 0) {
				sub(/\r$/, "", line)
				sub(/^[ \t]+/, "", line)
				sub(/[ \t]+$/, "", line)
				if (line == "" || line ~ /^#/)
					continue
				if (line ~ /^\[.*\]$/) {
					active = (line == "[all]" || line == "[pi4]")
					continue
				}
				if (!active)
					continue
				if (line ~ /^(include|initramfs)[ \t]/) {
					key = line; sub(/[ \t].*/, "", key)
					rest = line; sub(/^[a-z]+[ \t]+/, "", rest); sub(/[ \t].*/, "", rest)
					print key "=" rest
					if (key == "include")
						walk(dir "/" rest, depth + 1)
					continue
				}
				if (line ~ /^[A-Za-z0-9_]+=/)
					print line
			}
			close(file)
		}
		BEGIN { active = 1; walk(dir "/config.txt", 0) }'
}

# The last value of KEY in the boot configuration (or DEFAULT).
bootcfg_get() {
	local key=$1 default=${2:-} v
	v=$(bootcfg_settings | sed -n "s/^$key=//p" | tail -n 1)
	echo "${v:-$default}"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Copy FILE to DEST through a temporary name: the FAT boot partition never
# holds a half-written kernel.
copy_atomic() {
	cp "$1" "$2.rtik-new"
	mv -f "$2.rtik-new" "$2"
}

kernel_to_firmware() {
	local rel=$1 vmlinuz=/boot/vmlinuz-$1 initrd=/boot/initrd.img-$1
	[ -f "$vmlinuz" ] || die "$vmlinuz is missing"
	if [ ! -f "$initrd" ]; then
		say "no $initrd (the package's hooks made none): making it"
		update-initramfs -c -k "$rel"
	fi
	# The names the stock kernel's packages kept current.
	ln -sfn "vmlinuz-$rel" /boot/vmlinuz
	ln -sfn "initrd.img-$rel" /boot/initrd.img
	rm -f /boot/vmlinuz.old /boot/initrd.img.old
	say "copying $vmlinuz and $initrd to $BOOT_DIR/vmlinuz and $BOOT_DIR/initrd.img"
	copy_atomic "$vmlinuz" "$BOOT_DIR/vmlinuz"
	copy_atomic "$initrd" "$BOOT_DIR/initrd.img"
}

# Fail unless what the firmware will boot is the RT kernel: config.txt
# loads vmlinuz itself, or U-Boot, whose boot script loads vmlinuz and
# initrd.img from the boot partition (Ubuntu 20.04); and both are the RT
# kernel's, byte for byte.
kernel_check_boot() {
	local rel=$1 kernel initramfs
	kernel=$(bootcfg_get kernel kernel8.img)
	case $kernel in
	vmlinuz)
		initramfs=$(bootcfg_get initramfs)
		[ "$initramfs" = initrd.img ] ||
			die "config.txt boots vmlinuz with initramfs '${initramfs:-none}', not initrd.img"
		;;
	uboot*)
		if [ ! -f "$BOOT_DIR/boot.scr" ] || ! grep -aq vmlinuz "$BOOT_DIR/boot.scr"; then
			die "config.txt boots U-Boot ($kernel), but $BOOT_DIR/boot.scr does not load vmlinuz"
		fi
		;;
	*)
		die "config.txt boots '$kernel', not vmlinuz: this recipe cannot tell which kernel will boot"
		;;
	esac
	[ "$(sha256_of "$BOOT_DIR/vmlinuz")" = "$(sha256_of "/boot/vmlinuz-$rel")" ] ||
		die "$BOOT_DIR/vmlinuz is not /boot/vmlinuz-$rel: the RT kernel would not boot"
	[ "$(sha256_of "$BOOT_DIR/initrd.img")" = "$(sha256_of "/boot/initrd.img-$rel")" ] ||
		die "$BOOT_DIR/initrd.img is not /boot/initrd.img-$rel: the RT kernel would not boot"
	say "the firmware boots $kernel -> vmlinuz = /boot/vmlinuz-$rel (RT kernel $rel)"
}

# ---- boot configuration ----

# Rewrite the first line of the kernel command line: our parameters out,
# then in again if ISOLATED_CPUS is set.
cmdline_apply() {
	local file tokens=() t out=() rest
	file=$BOOT_DIR/$(bootcfg_get cmdline cmdline.txt)
	[ -f "$file" ] || die "$file (the kernel command line) is missing"
	read -ra tokens <"$file" || true
	for t in "${tokens[@]}"; do
		case $t in
		isolcpus=* | nohz_full=* | rcu_nocbs=* | irqaffinity=*) ;;
		*) out+=("$t") ;;
		esac
	done
	if [ -n "${ISOLATED_CPUS:-}" ]; then
		out+=("isolcpus=$ISOLATED_CPUS" "nohz_full=$ISOLATED_CPUS" "rcu_nocbs=$ISOLATED_CPUS"
			"irqaffinity=$(cpulist_complement "$ISOLATED_CPUS")")
	fi
	rest=$(tail -n +2 "$file")
	{
		echo "${out[*]}"
		[ -z "$rest" ] || echo "$rest"
	} >"$file.rtik-new"
	mv -f "$file.rtik-new" "$file"
	say "${file#"$BOOT_DIR"/}: $(head -n 1 "$file")"
}

OC_BEGIN="# BEGIN rt-image-kit: overclock (ARM_FREQ, OVER_VOLTAGE)"
OC_END="# END rt-image-kit: overclock"

# Overclocking goes where the image keeps user changes: usercfg.txt when
# config.txt includes it (Ubuntu 20.04 asks for that), else config.txt.
# The block is ours: replaced on every run, removed when both knobs are empty.
overclock_apply() {
	local f settings target=$BOOT_DIR/config.txt
	settings=$(bootcfg_settings)
	if grep -qx 'include=usercfg.txt' <<<"$settings"; then
		target=$BOOT_DIR/usercfg.txt
	fi
	for f in "$BOOT_DIR/config.txt" "$BOOT_DIR/usercfg.txt"; do
		[ -f "$f" ] || continue
		awk -v b="$OC_BEGIN" -v e="$OC_END" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' \
			"$f" >"$f.rtik-new"
		mv -f "$f.rtik-new" "$f"
	done
	if [ -z "${ARM_FREQ:-}" ] && [ -z "${OVER_VOLTAGE:-}" ]; then
		say "no overclock (ARM_FREQ and OVER_VOLTAGE are empty)"
		return
	fi
	{
		echo "$OC_BEGIN"
		echo "[all]"
		[ -z "${ARM_FREQ:-}" ] || echo "arm_freq=$ARM_FREQ"
		[ -z "${OVER_VOLTAGE:-}" ] || echo "over_voltage=$OVER_VOLTAGE"
		echo "$OC_END"
	} >>"$target"
	say "${target#"$BOOT_DIR"/}: arm_freq=${ARM_FREQ:-(default)} over_voltage=${OVER_VOLTAGE:-(default)}"
	if [ -n "${ARM_FREQ:-}" ] && [ -n "${PINNED_CPU_FREQUENCY:-}" ] &&
		[ "$PINNED_CPU_FREQUENCY" -ne "$((ARM_FREQ * 1000))" ]; then
		say "note: the cores stay pinned at PINNED_CPU_FREQUENCY=$PINNED_CPU_FREQUENCY kHz, not arm_freq=$ARM_FREQ MHz"
	fi
}

# ---- real-time settings ----

rt_limits_apply() {
	local f=/etc/security/limits.d/99-realtime.conf
	cat >"$f" <<EOF
# Real-time limits for the members of the $RT_GROUP group: scheduling
# priority up to $RT_RTPRIO (rtprio) and locked memory (memlock, KiB). For login
# sessions (pam_limits); a systemd service sets LimitRTPRIO= and
# LimitMEMLOCK= itself.
@$RT_GROUP	-	rtprio		$RT_RTPRIO
@$RT_GROUP	-	memlock		$RT_MEMLOCK
EOF
	chmod 0644 "$f"
	say "${f}: @$RT_GROUP rtprio $RT_RTPRIO, memlock $RT_MEMLOCK"
}

# The default user does not exist yet: cloud-init creates it at first boot
# with useradd, from system_info.default_user (so /etc/adduser.conf's
# EXTRA_GROUPS would not apply). A cloud.cfg.d snippet hands cloud-init the
# image's own default_user with RT_GROUP added to its groups; cloud-init's
# own code then reads the result back as a check.
CLOUD_SNIPPET=/etc/cloud/cloud.cfg.d/99-realtime-group.cfg

default_user_join() {
	if ! getent group "$RT_GROUP" >/dev/null; then
		say "creating the group $RT_GROUP"
		groupadd --system "$RT_GROUP"
	fi
	if getent passwd "$DEFAULT_USER" >/dev/null; then
		say "adding $DEFAULT_USER to $RT_GROUP"
		usermod -aG "$RT_GROUP" "$DEFAULT_USER"
	fi
	if [ ! -f /etc/cloud/cloud.cfg ]; then
		getent passwd "$DEFAULT_USER" >/dev/null ||
			die "$DEFAULT_USER does not exist and there is no cloud-init to create it: cannot make it join $RT_GROUP"
		return
	fi
	rm -f "$CLOUD_SNIPPET"
	python3 - "$RT_GROUP" "$DEFAULT_USER" "$CLOUD_SNIPPET" <<'EOF'
import sys
import yaml
from cloudinit import util

group, user, snippet = sys.argv[1:4]
cfg = util.read_conf_with_confd("/etc/cloud/cloud.cfg")
du = dict(cfg.get("system_info", {}).get("default_user") or {})
if du.get("name") != user:
    sys.exit("phase1-target: cloud-init's default user is %r, not DEFAULT_USER %r"
             % (du.get("name"), user))
groups = du.get("groups") or []
if isinstance(groups, str):
    groups = [g.strip() for g in groups.split(",") if g.strip()]
if group not in groups:
    groups = list(groups) + [group]
du["groups"] = groups
with open(snippet, "w") as f:
    f.write("# The default user joins the %s group (real-time limits).\n"
            "# Written by rt-image-kit from the image's own default_user.\n" % group)
    yaml.safe_dump({"system_info": {"default_user": du}}, f, default_flow_style=False)

cfg = util.read_conf_with_confd("/etc/cloud/cloud.cfg")
got = cfg["system_info"]["default_user"]
if got.get("name") != user or group not in got.get("groups", []):
    sys.exit("phase1-target: cloud-init does not read %s as expected: %r" % (snippet, got))
print("phase1-target: cloud-init will create %s in: %s" % (user, ", ".join(got["groups"])))
EOF
	chmod 0644 "$CLOUD_SNIPPET"
}

cpu_frequency_apply() {
	local f=/etc/default/cpu-frequency
	cat >"$f" <<EOF
# Read by cpu-frequency.service: the frequency (kHz) every core is pinned
# to with the performance governor. Empty: the maximum.
PINNED_CPU_FREQUENCY=${PINNED_CPU_FREQUENCY:-}
EOF
	chmod 0644 "$f"
	say "$f: PINNED_CPU_FREQUENCY=${PINNED_CPU_FREQUENCY:-(maximum)}"
	# Ubuntu's ondemand service switches to the ondemand governor a minute
	# after boot; masked, it cannot be started by anything.
	if [ "$(readlink /etc/systemd/system/ondemand.service 2>/dev/null)" = /dev/null ]; then
		say "ondemand.service is masked"
		return
	fi
	if [ -e /lib/systemd/system/ondemand.service ] || [ -e /etc/init.d/ondemand ]; then
		systemctl disable ondemand.service
	fi
	systemctl mask ondemand.service
}

services_enable() {
	local u
	for u in cpu-frequency.service rt-throttling.service; do
		[ -f "/etc/systemd/system/$u" ] || die "/etc/systemd/system/$u is missing: is overlays/rt-tuning in OVERLAYS?"
	done
	systemctl enable cpu-frequency.service rt-throttling.service
}

main() {
	export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
	: "${SCRATCH_DIR:?}"
	check_knobs
	policy_rc_d_install

	say "apt-get update"
	apt-get update

	kernel_install
	local rel stock remove
	rel=$(kernel_release)
	say "RT kernel release (from $RT_IMAGE_PKG): $rel"

	mapfile -t stock < <(stock_kernel_packages)
	# shellcheck disable=SC2086 # REMOVE_PACKAGES is a list
	mapfile -t remove < <(installed ${REMOVE_PACKAGES:-})
	if [ "${#stock[@]}" -gt 0 ] || [ "${#remove[@]}" -gt 0 ]; then
		say "purging ${stock[*]} ${remove[*]}"
		apt-get purge --autoremove "${APT_OPTS[@]}" "${stock[@]}" "${remove[@]}"
	else
		say "nothing to purge: no stock kernel, none of: ${REMOVE_PACKAGES:-}"
	fi
	[ -z "$(stock_kernel_packages)" ] || die "stock kernel packages left: $(stock_kernel_packages | tr '\n' ' ')"

	kernel_to_firmware "$rel"
	kernel_check_boot "$rel"

	cmdline_apply
	overclock_apply
	cpu_frequency_apply
	rt_limits_apply
	default_user_join
	services_enable
	say "done"
}

# Sourced (by a test) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
