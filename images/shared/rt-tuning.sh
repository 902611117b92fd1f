# shellcheck shell=bash
# The real-time tuning that every recipe applies, in one place: sourced by
# target scripts (inside the image, as root) after common.sh. The knobs come
# from the recipe (IMAGE_ENV): PINNED_CPU_FREQUENCY (and _PI4, _PI5), ISOLATED_CPUS,
# ARM_FREQ, OVER_VOLTAGE (the Pi 4's), ARM_FREQ_PI5, OVER_VOLTAGE_DELTA_PI5,
# RT_GROUP, RT_RTPRIO, RT_MEMLOCK, and
# COMPACT_UNEVICTABLE (0 when unset: see compaction_apply).
#
#   rt_knobs_check        one line and exit 1 on a bad value
#   rt_tuning_apply USER  all of it, then /etc/rt-image.conf
#
# Boot settings go where the image's own tools keep them: Debian's
# raspi-firmware regenerates config.txt and cmdline.txt from /etc/default;
# elsewhere (Ubuntu) the files on the boot partition are edited. Every step
# can run again with the same result; a knob set back to empty undoes what
# it did. BOOT_DIR (default /boot/firmware) is for tests.

BOOT_DIR=${BOOT_DIR:-/boot/firmware}
# The Raspberry Pi 4 and the Pi 5 have four cores, 0-3.
NR_CPUS=4
RT_IMAGE_CONF=/etc/rt-image.conf

# ---- knobs ----

# The knobs every recipe shares; fails with one line on a bad value.
rt_knobs_check() {
	local v
	for v in PINNED_CPU_FREQUENCY PINNED_CPU_FREQUENCY_PI4 PINNED_CPU_FREQUENCY_PI5; do
		[[ ${!v:-} =~ ^([0-9]+)?$ ]] || die "$v '${!v}' is not a number of kHz"
	done
	[[ ${ARM_FREQ:-} =~ ^([0-9]+)?$ ]] || die "ARM_FREQ '$ARM_FREQ' is not a number of MHz"
	[[ ${OVER_VOLTAGE:-} =~ ^(-?[0-9]+)?$ ]] || die "OVER_VOLTAGE '$OVER_VOLTAGE' is not a number"
	[[ ${ARM_FREQ_PI5:-} =~ ^([0-9]+)?$ ]] || die "ARM_FREQ_PI5 '$ARM_FREQ_PI5' is not a number of MHz"
	[[ ${OVER_VOLTAGE_DELTA_PI5:-} =~ ^(-?[0-9]+)?$ ]] ||
		die "OVER_VOLTAGE_DELTA_PI5 '$OVER_VOLTAGE_DELTA_PI5' is not a number of microvolts"
	if ! [[ ${RT_RTPRIO:-} =~ ^[0-9]+$ ]] || [ "$RT_RTPRIO" -lt 1 ] || [ "$RT_RTPRIO" -gt 99 ]; then
		die "RT_RTPRIO '${RT_RTPRIO:-}' is not a priority from 1 to 99"
	fi
	[[ ${RT_MEMLOCK:-} =~ ^([0-9]+|unlimited)$ ]] ||
		die "RT_MEMLOCK '${RT_MEMLOCK:-}' is not a number of KiB nor 'unlimited'"
	[[ ${RT_GROUP:-} =~ ^[a-z_][a-z0-9_-]*$ ]] || die "RT_GROUP '${RT_GROUP:-}' is not a group name"
	[[ ${COMPACT_UNEVICTABLE-0} =~ ^[01]?$ ]] ||
		die "COMPACT_UNEVICTABLE '$COMPACT_UNEVICTABLE' is not 0, 1 or empty"
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
		[ "$hi" -lt "$NR_CPUS" ] || die "ISOLATED_CPUS: CPU $hi does not exist (the Pi 4 and the Pi 5 have CPUs 0-$((NR_CPUS - 1)))"
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

# What the Pi's firmware reads, in order, for the model BOOTCFG_MODEL (pi4,
# the default, or pi5) booting normally (not in tryboot mode): config.txt
# and the files it includes, outside any section or under [all] and
# [MODEL]. A model filter replaces the one before, [tryboot] and [none] add
# to it (and match nothing here), [all] resets both; any other filter is
# taken not to match. Prints the settings as KEY=VALUE ("initramfs FILE
# ..." as initramfs=FILE, "include FILE" as include=FILE), the last one of
# a key being the one that counts.
bootcfg_settings() {
	[ -f "$BOOT_DIR/config.txt" ] || die "$BOOT_DIR/config.txt is missing"
	awk -v dir="$BOOT_DIR" -v model="[${BOOTCFG_MODEL:-pi4}]" '
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
					if (line == "[all]")
						model_ok = mode_ok = 1
					else if (line == "[tryboot]" || line == "[none]")
						mode_ok = 0
					else
						model_ok = (line == model)
					continue
				}
				if (!model_ok || !mode_ok)
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
		BEGIN { model_ok = mode_ok = 1; walk(dir "/config.txt", 0) }'
}

# The last value of KEY in the boot configuration (or DEFAULT).
bootcfg_get() {
	local key=$1 default=${2:-} v
	v=$(bootcfg_settings | sed -n "s/^$key=//p" | tail -n 1)
	echo "${v:-$default}"
}

# ---- boot configuration ----

# The kernel parameters of ISOLATED_CPUS, one a line.
isolation_params() {
	[ -n "${ISOLATED_CPUS:-}" ] || return 0
	printf '%s\n' "isolcpus=$ISOLATED_CPUS" "nohz_full=$ISOLATED_CPUS" "rcu_nocbs=$ISOLATED_CPUS" \
		"irqaffinity=$(cpulist_complement "$ISOLATED_CPUS")"
}

# Debian's raspi-firmware writes config.txt and cmdline.txt itself, from
# /etc/default, whenever a kernel or initramfs changes: the settings go
# there, so that they outlive the next kernel update.
RASPI_FIRMWARE_HOOK=/etc/kernel/postinst.d/z50-raspi-firmware
raspi_firmware_debian() { [ -x "$RASPI_FIRMWARE_HOOK" ]; }

# The words of FILE's first line (none if there is no FILE) without our
# parameters, then ours (isolation_params), one a line.
cmdline_words() {
	local tokens=() t
	[ ! -f "$1" ] || read -ra tokens <"$1" || true
	for t in "${tokens[@]}"; do
		case $t in
		isolcpus=* | nohz_full=* | rcu_nocbs=* | irqaffinity=*) ;;
		*) printf '%s\n' "$t" ;;
		esac
	done
	isolation_params
}

# Rewrite the first line of the kernel command line: our parameters out,
# then in again if ISOLATED_CPUS is set.
cmdline_apply() {
	local file out=() rest
	if raspi_firmware_debian; then
		file=/etc/default/raspi-extra-cmdline
		mapfile -t out < <(cmdline_words "$file")
		echo "${out[*]}" >"$file.rtik-new"
		chmod 0644 "$file.rtik-new"
		mv -f "$file.rtik-new" "$file"
		say "$file: ${out[*]:-(nothing)}"
		return
	fi
	# Under os_prefix, as the firmware reads it (Ubuntu's A/B boot: current/).
	file=$BOOT_DIR/$(bootcfg_get os_prefix)$(bootcfg_get cmdline cmdline.txt)
	[ -f "$file" ] || die "$file (the kernel command line) is missing"
	mapfile -t out < <(cmdline_words "$file")
	rest=$(tail -n +2 "$file")
	{
		echo "${out[*]}"
		[ -z "$rest" ] || echo "$rest"
	} >"$file.rtik-new"
	mv -f "$file.rtik-new" "$file"
	say "${file#"$BOOT_DIR"/}: $(head -n 1 "$file")"
}

OC_BEGIN="# BEGIN rt-image-kit: overclock (ARM_FREQ, OVER_VOLTAGE)"
# (The line stays as it was before the Pi 5's knobs, so that a rebuild
# finds the block of an older build.)
OC_END="# END rt-image-kit: overclock"

# Overclocking goes where the image keeps user changes: Debian's
# /etc/default/raspi-firmware-custom, usercfg.txt when config.txt includes
# it (Ubuntu 20.04 asks for that), else config.txt. The block is ours:
# replaced on every run, removed when both knobs are empty.
overclock_apply() {
	local f settings target=$BOOT_DIR/config.txt files=("$BOOT_DIR/config.txt" "$BOOT_DIR/usercfg.txt")
	if raspi_firmware_debian; then
		target=/etc/default/raspi-firmware-custom
		files=("$target")
	elif settings=$(bootcfg_settings) && grep -qx 'include=usercfg.txt' <<<"$settings"; then
		target=$BOOT_DIR/usercfg.txt
	fi
	for f in "${files[@]}"; do
		[ -f "$f" ] || continue
		awk -v b="$OC_BEGIN" -v e="$OC_END" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' \
			"$f" >"$f.rtik-new"
		mv -f "$f.rtik-new" "$f"
	done
	if [ -z "${ARM_FREQ:-}${OVER_VOLTAGE:-}${ARM_FREQ_PI5:-}${OVER_VOLTAGE_DELTA_PI5:-}" ]; then
		say "no overclock (ARM_FREQ, OVER_VOLTAGE, ARM_FREQ_PI5 and OVER_VOLTAGE_DELTA_PI5 are empty)"
		return
	fi
	# A new file and a rename, never an append: FAT through FUSE refuses
	# appends. Each model its own section (the Pi 5's default is 2400 MHz,
	# and it takes over_voltage_delta in microvolts), [all] after them.
	{
		[ ! -f "$target" ] || cat "$target"
		echo "$OC_BEGIN"
		if [ -n "${ARM_FREQ:-}${OVER_VOLTAGE:-}" ]; then
			echo "[pi4]"
			[ -z "${ARM_FREQ:-}" ] || echo "arm_freq=$ARM_FREQ"
			[ -z "${OVER_VOLTAGE:-}" ] || echo "over_voltage=$OVER_VOLTAGE"
		fi
		if [ -n "${ARM_FREQ_PI5:-}${OVER_VOLTAGE_DELTA_PI5:-}" ]; then
			echo "[pi5]"
			[ -z "${ARM_FREQ_PI5:-}" ] || echo "arm_freq=$ARM_FREQ_PI5"
			[ -z "${OVER_VOLTAGE_DELTA_PI5:-}" ] || echo "over_voltage_delta=$OVER_VOLTAGE_DELTA_PI5"
		fi
		echo "[all]"
		echo "$OC_END"
	} >"$target.rtik-new"
	mv -f "$target.rtik-new" "$target"
	say "$target: Pi 4 arm_freq=${ARM_FREQ:-(default)} over_voltage=${OVER_VOLTAGE:-(default)}; Pi 5 arm_freq=${ARM_FREQ_PI5:-(default)} over_voltage_delta=${OVER_VOLTAGE_DELTA_PI5:-(default)}"
	if [ -n "${ARM_FREQ:-}" ] && [ -n "${PINNED_CPU_FREQUENCY:-}" ] &&
		[ "$PINNED_CPU_FREQUENCY" -ne "$((ARM_FREQ * 1000))" ]; then
		say "note: the cores stay pinned at PINNED_CPU_FREQUENCY=$PINNED_CPU_FREQUENCY kHz, not arm_freq=$ARM_FREQ MHz"
	fi
}

# ---- real-time settings ----

COMPACTION_CONF=/etc/sysctl.d/60-rt-compaction.conf

# Memory compaction moves pages, also those of memory a real-time task has
# locked, which then faults on its next access: vm.compact_unevictable_allowed
# = 0 keeps compaction off locked memory (a PREEMPT_RT kernel's own default,
# which a sysctl file elsewhere may change). COMPACT_UNEVICTABLE is the value,
# 0 unless the recipe sets it; empty: the kernel's default, no file.
compaction_apply() {
	local v=${COMPACT_UNEVICTABLE-0}
	if [ -z "$v" ]; then
		rm -f "$COMPACTION_CONF"
		say "vm.compact_unevictable_allowed: the kernel's default (COMPACT_UNEVICTABLE is empty)"
		return
	fi
	mkdir -p "${COMPACTION_CONF%/*}"
	cat >"$COMPACTION_CONF.rtik-new" <<EOF
# rt-image-kit (COMPACT_UNEVICTABLE): whether memory compaction may move the
# pages of locked (mlock'ed) memory, a source of latency for real-time tasks.
vm.compact_unevictable_allowed = $v
EOF
	chmod 0644 "$COMPACTION_CONF.rtik-new"
	mv -f "$COMPACTION_CONF.rtik-new" "$COMPACTION_CONF"
	say "$COMPACTION_CONF: vm.compact_unevictable_allowed = $v"
}

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

cpu_frequency_apply() {
	local f=/etc/default/cpu-frequency
	cat >"$f" <<EOF
# Read by cpu-frequency.service: the frequency (kHz) every core is pinned
# to with the performance governor. Empty: the model's own below (from
# /proc/device-tree/model), and where that is empty, the maximum.
PINNED_CPU_FREQUENCY=${PINNED_CPU_FREQUENCY:-}
PINNED_CPU_FREQUENCY_PI4=${PINNED_CPU_FREQUENCY_PI4:-}
PINNED_CPU_FREQUENCY_PI5=${PINNED_CPU_FREQUENCY_PI5:-}
EOF
	chmod 0644 "$f"
	if [ -n "${PINNED_CPU_FREQUENCY:-}" ]; then
		say "$f: PINNED_CPU_FREQUENCY=$PINNED_CPU_FREQUENCY"
	else
		say "$f: per model: Pi 4 ${PINNED_CPU_FREQUENCY_PI4:-(maximum)}, Pi 5 ${PINNED_CPU_FREQUENCY_PI5:-(maximum)}"
	fi
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

# The group of the real-time limits.
rt_group_create() {
	if ! getent group "$RT_GROUP" >/dev/null; then
		say "creating the group $RT_GROUP"
		groupadd --system "$RT_GROUP"
	fi
}

# What the image was built with, for rt-check and for people.
rt_image_conf_write() {
	local user=${1:-}
	cat >"$RT_IMAGE_CONF.rtik-new" <<EOF
# rt-image-kit: how this image was built. rt-check reads it.
RT_IMAGE_NAME=${IMAGE_NAME:-}
RT_IMAGE_KIT_VERSION=${RTIK_VERSION:-}
PINNED_CPU_FREQUENCY=${PINNED_CPU_FREQUENCY:-}
PINNED_CPU_FREQUENCY_PI4=${PINNED_CPU_FREQUENCY_PI4:-}
PINNED_CPU_FREQUENCY_PI5=${PINNED_CPU_FREQUENCY_PI5:-}
ISOLATED_CPUS=${ISOLATED_CPUS:-}
ARM_FREQ=${ARM_FREQ:-}
OVER_VOLTAGE=${OVER_VOLTAGE:-}
ARM_FREQ_PI5=${ARM_FREQ_PI5:-}
OVER_VOLTAGE_DELTA_PI5=${OVER_VOLTAGE_DELTA_PI5:-}
RT_GROUP=$RT_GROUP
RT_RTPRIO=$RT_RTPRIO
RT_MEMLOCK=$RT_MEMLOCK
RT_USER=$user
COMPACT_UNEVICTABLE=${COMPACT_UNEVICTABLE-0}
EOF
	chmod 0644 "$RT_IMAGE_CONF.rtik-new"
	mv -f "$RT_IMAGE_CONF.rtik-new" "$RT_IMAGE_CONF"
	say "$RT_IMAGE_CONF: written"
}

# All of the tuning; USER (may be empty) is the member of RT_GROUP that
# /etc/rt-image.conf names.
rt_tuning_apply() {
	rt_knobs_check
	rt_group_create
	cmdline_apply
	overclock_apply
	cpu_frequency_apply
	rt_limits_apply
	compaction_apply
	services_enable
	rt_image_conf_write "${1:-}"
}
