#!/usr/bin/env bash
# debian/setup.sh: inside a Debian image that mk/image.mk bootstrapped (as
# root, under qemu-user on another architecture). The host name, the user,
# SSH, the services of a networked device, and the real-time tuning that
# every recipe shares (rt-tuning.sh). Runs again with the same result.
#
# Environment (IMAGE_ENV): IMAGE_USER, IMAGE_PASSWORD, AUTHORIZED_KEYS_TEXT,
# IMAGE_HOSTNAME, the knobs of rt-tuning.sh; IMAGE_SUITE, IMAGE_COMPONENTS,
# APT_MIRROR and APT_SECURITY_MIRROR (the apt sources the image keeps),
# UNATTENDED_UPGRADES (yes or no), FIRSTBOOT (cloud-init or none).
set -euo pipefail
shopt -s inherit_errexit

PHASE=debian-setup
# shellcheck source-path=SCRIPTDIR/.. source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
# shellcheck source-path=SCRIPTDIR/.. source=rt-tuning.sh
. "$(dirname "${BASH_SOURCE[0]}")/../rt-tuning.sh"

SSHD_SNIPPET=/etc/ssh/sshd_config.d/50-rt-image-kit.conf

check_knobs() {
	rt_knobs_check
	[[ ${IMAGE_USER:-} =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "IMAGE_USER '${IMAGE_USER:-}' is not a user name"
	[[ ${IMAGE_HOSTNAME:-} =~ ^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$ ]] ||
		die "IMAGE_HOSTNAME '${IMAGE_HOSTNAME:-}' is not a host name"
	[[ ${IMAGE_PASSWORD:-} != *:* && ${IMAGE_PASSWORD:-} != *$'\n'* ]] ||
		die "IMAGE_PASSWORD may not hold ':' or a newline"
}

hostname_set() {
	echo "$IMAGE_HOSTNAME" >/etc/hostname
	cat >/etc/hosts <<HOSTS
127.0.0.1	localhost
127.0.1.1	$IMAGE_HOSTNAME
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
HOSTS
	say "host name: $IMAGE_HOSTNAME"
}

# password_set USER PASSWORD: its yescrypt hash in /etc/shadow. chpasswd
# draws a random salt; with SOURCE_DATE_EPOCH the salt derives from the
# image's name, the user and that time, so that the same build gives the
# same /etc/shadow (the hash is crypt(3)'s, through perl-base, which every
# Debian system has). The password goes through the environment only.
password_set() {
	local salt hash
	if [ -n "${SOURCE_DATE_EPOCH:-}" ] && command -v perl >/dev/null; then
		salt=$(printf '%s\n%s\n%s\n' "${IMAGE_NAME:-}" "$1" "$SOURCE_DATE_EPOCH" | sha256sum | cut -c1-16)
		hash=$(RTIK_PW=$2 perl -e 'print crypt($ENV{RTIK_PW}, "\$y\$j9T\$$ARGV[0]\$") // ""' "$salt")
		if [ "${hash#\$y\$j9T\$"$salt"\$}" != "$hash" ]; then
			echo "$1:$hash" | chpasswd -e
			return
		fi
	fi
	echo "$1:$2" | chpasswd
}

# The user, in sudo and RT_GROUP. With keys, SSH takes keys only; a
# password, given or the user's name, must be changed at the first login,
# so that no known password stays valid.
user_setup() {
	local home keys=${AUTHORIZED_KEYS_TEXT:-}
	if ! getent passwd "$IMAGE_USER" >/dev/null; then
		say "creating the user $IMAGE_USER"
		useradd --create-home --shell /bin/bash --user-group "$IMAGE_USER"
	fi
	usermod -aG "sudo,$RT_GROUP" "$IMAGE_USER"
	home=$(getent passwd "$IMAGE_USER" | cut -d: -f6)
	if [ -n "$keys" ]; then
		install -d -m 0700 -o "$IMAGE_USER" -g "$IMAGE_USER" "$home/.ssh"
		printf '%s\n' "$keys" >"$home/.ssh/authorized_keys"
		chown "$IMAGE_USER:$IMAGE_USER" "$home/.ssh/authorized_keys"
		chmod 0600 "$home/.ssh/authorized_keys"
		printf '# rt-image-kit: the image was built with AUTHORIZED_KEYS: keys only.\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' >"$SSHD_SNIPPET"
		chmod 0644 "$SSHD_SNIPPET"
		say "$IMAGE_USER logs in over SSH with $(grep -c . <<<"$keys") key(s) only"
	else
		rm -f "$home/.ssh/authorized_keys" "$SSHD_SNIPPET"
	fi
	if [ -n "${IMAGE_PASSWORD:-}" ] || [ -z "$keys" ]; then
		password_set "$IMAGE_USER" "${IMAGE_PASSWORD:-$IMAGE_USER}"
		# Expired: the first login asks for a new one.
		chage --lastday 0 "$IMAGE_USER"
		say "$IMAGE_USER's password is ${IMAGE_PASSWORD:+IMAGE_PASSWORD}${IMAGE_PASSWORD:-its name}, to be changed at the first login"
	else
		usermod --lock "$IMAGE_USER"
		say "$IMAGE_USER has no password (locked): keys only"
	fi
}

# The apt sources the image keeps, in deb822 form: the suite and its
# -updates from APT_MIRROR, the suite's -security from APT_SECURITY_MIRROR,
# signed by Debian's archive keys. mmdebstrap's one-line sources.list (the
# build's own mirrors) goes.
APT_SOURCES=/etc/apt/sources.list.d/debian.sources
apt_sources_write() {
	[ -n "${APT_MIRROR:-}" ] || return 0
	cat >"$APT_SOURCES.new" <<SOURCES
# Debian's archive: the suite, its updates, and its security updates. See
# sources.list(5); apt update, then apt upgrade, when the device is idle.
Types: deb
URIs: $APT_MIRROR
Suites: $IMAGE_SUITE $IMAGE_SUITE-updates
Components: ${IMAGE_COMPONENTS:-main}
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	if [ -n "${APT_SECURITY_MIRROR:-}" ]; then
		cat >>"$APT_SOURCES.new" <<SOURCES

Types: deb
URIs: $APT_SECURITY_MIRROR
Suites: $IMAGE_SUITE-security
Components: ${IMAGE_COMPONENTS:-main}
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	fi
	chmod 0644 "$APT_SOURCES.new"
	mv "$APT_SOURCES.new" "$APT_SOURCES"
	rm -f /etc/apt/sources.list
	say "apt sources: $IMAGE_SUITE, $IMAGE_SUITE-updates from $APT_MIRROR${APT_SECURITY_MIRROR:+, $IMAGE_SUITE-security from $APT_SECURITY_MIRROR}"
}

# Updates run when someone runs them: no unattended-upgrades, and none of
# apt's daily timers, unless UNATTENDED_UPGRADES=yes.
upgrades_setup() {
	local timers=(apt-daily.timer apt-daily-upgrade.timer)
	if [ "${UNATTENDED_UPGRADES:-no}" = yes ]; then
		command -v unattended-upgrade >/dev/null || die "UNATTENDED_UPGRADES=yes needs the package unattended-upgrades"
		printf 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n' >/etc/apt/apt.conf.d/20auto-upgrades
		systemctl enable "${timers[@]}"
		say "unattended-upgrades installs the security updates by itself (UNATTENDED_UPGRADES=yes)"
	else
		rm -f /etc/apt/apt.conf.d/20auto-upgrades
		systemctl disable "${timers[@]}" 2>/dev/null || true
		say "no unattended upgrades, no apt timers: update when the device is idle"
	fi
}

# FIRSTBOOT=cloud-init: cloud-init reads the NoCloud files (user-data,
# network-config, meta-data) that Raspberry Pi Imager, or a person, put on
# the boot partition, at the first boot; rt-firstboot-done.service turns it
# off once it has run (or had nothing to do), so that later boots spend
# nothing on it. Without the files cloud-init finds no datasource and does
# nothing: the build's own settings stand.
CLOUD_CFG=/etc/cloud/cloud.cfg.d/90-rt-image.cfg
firstboot_setup() {
	local label
	case ${FIRSTBOOT:-none} in
	none)
		rm -f "$CLOUD_CFG"
		say "FIRSTBOOT=none: no settings at flash time"
		return 0
		;;
	cloud-init) ;;
	*) die "FIRSTBOOT '$FIRSTBOOT' is neither cloud-init nor none" ;;
	esac
	command -v cloud-init >/dev/null || die "FIRSTBOOT=cloud-init needs the package cloud-init"
	# The boot partition, by the label fstab mounts it by.
	label=$(awk '$2 == "/boot/firmware" && $1 ~ /^LABEL=/ { sub(/^LABEL=/, "", $1); print $1 }' /etc/fstab)
	[ -n "$label" ] || die "/etc/fstab mounts no /boot/firmware by LABEL=: cloud-init cannot find the boot partition"
	cat >"$CLOUD_CFG" <<CFG
# rt-image-kit: settings at flash time. At the first boot cloud-init reads
# user-data, network-config and meta-data (its NoCloud datasource) from the
# boot partition, as Raspberry Pi Imager writes them; without them it finds
# no datasource and does nothing. rt-firstboot-done.service then turns it
# off: /etc/cloud/cloud-init.disabled.
# None: without the files cloud-init runs on empty settings (and changes
# nothing), where it would otherwise fail its units for want of a source.
datasource_list: [ NoCloud, None ]
datasource:
  NoCloud:
    fs_label: $label
# rt-grow-root.service grows the root partition and filesystem.
growpart:
  mode: "off"
resize_rootfs: false
# The image's user ($IMAGE_USER) is made when the image is built. user-data
# may add others: "user:" (Imager's) extends the default user below, who is
# in sudo and $RT_GROUP; "users:" lists more.
users: []
system_info:
  default_user:
    name: debian
    lock_passwd: true
    gecos: Debian
    groups: [adm, audio, cdrom, dialout, dip, floppy, plugdev, sudo, video, $RT_GROUP]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
  network:
    # netplan renders network-config, Wi-Fi included, for systemd-networkd
    # and wpa_supplicant.
    renderers: [ netplan ]
# The host keys: made once, by the first boot (regenerate-ssh-host-keys).
ssh_deletekeys: false
# A first boot configures the device and installs nothing: no "packages:",
# no upgrade from the network (the image is what was built and tested;
# Imager's avahi-daemon is not needed, systemd-resolved answers mDNS).
# Modules for what this image does not have (snap, byobu, GRUB, LXD,
# landscape, configuration managers) are left out: each costs time.
cloud_config_modules:
 - ssh-import-id
 - keyboard
 - locale
 - set-passwords
 - apt-pipelining
 - apt-configure
 - ntp
 - timezone
 - disable-ec2-metadata
 - runcmd
cloud_final_modules:
 - write-files-deferred
 - reset_rmc
 - scripts-vendor
 - scripts-per-once
 - scripts-per-boot
 - scripts-per-instance
 - scripts-user
 - ssh-authkey-fingerprints
 - keys-to-console
 - install-hotplug
 - phone-home
 - final-message
 - power-state-change
CFG
	chmod 0644 "$CLOUD_CFG"
	rm -f /etc/cloud/cloud-init.disabled
	systemctl enable rt-firstboot-done.service
	say "cloud-init reads user-data, network-config and meta-data from the partition labelled $label at the first boot"
}

services_setup() {
	local u units=(systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
		ssh.service regenerate-ssh-host-keys.service rt-grow-root.service)
	for u in "${units[@]}"; do
		systemctl list-unit-files "$u" >/dev/null 2>&1 || die "$u is not in the image: is it in IMAGE_PACKAGES or OVERLAYS?"
	done
	systemctl enable "${units[@]}"
	# e2fsprogs' e2scrub checks ext4 on LVM snapshots: the image has no LVM,
	# so the reaper at each boot and the weekly timer would only take CPU
	# (5 to 15 s of each emulated boot). Enabled again with systemctl.
	systemctl disable e2scrub_reap.service e2scrub_all.timer 2>/dev/null || true
}

main() {
	export LC_ALL=C.UTF-8
	check_knobs
	policy_rc_d_install
	hostname_set
	rt_group_create
	user_setup
	services_setup
	apt_sources_write
	upgrades_setup
	firstboot_setup
	rt_tuning_apply "$IMAGE_USER"
	say "done"
}

# Sourced (by a test) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
