#!/usr/bin/env bash
# debian/setup.sh: inside a Debian image that mk/image.mk bootstrapped (as
# root, under qemu-user on another architecture). The host name, the user,
# SSH, the services of a networked device, and the real-time tuning that
# every recipe shares (rt-tuning.sh). Runs again with the same result.
#
# Environment (IMAGE_ENV): IMAGE_USER, IMAGE_PASSWORD, AUTHORIZED_KEYS_TEXT,
# IMAGE_HOSTNAME, and the knobs of rt-tuning.sh.
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
		echo "$IMAGE_USER:${IMAGE_PASSWORD:-$IMAGE_USER}" | chpasswd
		# Expired: the first login asks for a new one.
		chage --lastday 0 "$IMAGE_USER"
		say "$IMAGE_USER's password is ${IMAGE_PASSWORD:+IMAGE_PASSWORD}${IMAGE_PASSWORD:-its name}, to be changed at the first login"
	else
		usermod --lock "$IMAGE_USER"
		say "$IMAGE_USER has no password (locked): keys only"
	fi
}

services_setup() {
	local u units=(systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
		ssh.service regenerate-ssh-host-keys.service rt-grow-root.service)
	for u in "${units[@]}"; do
		systemctl list-unit-files "$u" >/dev/null 2>&1 || die "$u is not in the image: is it in IMAGE_PACKAGES or OVERLAYS?"
	done
	systemctl enable "${units[@]}"
}

main() {
	export LC_ALL=C.UTF-8
	check_knobs
	policy_rc_d_install
	hostname_set
	rt_group_create
	user_setup
	services_setup
	rt_tuning_apply "$IMAGE_USER"
	say "done"
}

# Sourced (by a test) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
