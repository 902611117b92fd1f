#!/usr/bin/env bash
# phase2-target: inside the image. Sets up the ROS apt repository
# (ROS_APT_REPO), installs ros-$ROS_DISTRO-ros-base, rt-tests, cpufrequtils,
# libraspberrypi-bin and EXTRA_PACKAGES, then empties apt's caches and
# lists so that the image carries none. Its last step copies the RT kernel
# to the boot partition again and checks it (boot.sh): the package
# triggers of this phase may have rewritten it.
#
# Environment (mk/image.mk): SCRATCH_DIR, and the recipe's ROS_DISTRO,
# ROS_APT_REPO, ROS_SNAPSHOT_URL, ROS_SNAPSHOT_KEY, ROS_KEYSERVER,
# EXTRA_PACKAGES.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=target.sh
. "$(dirname "${BASH_SOURCE[0]}")/target.sh"
SNAPSHOT_KEYRING=/usr/share/keyrings/ros2-snapshots-archive-keyring.gpg
SNAPSHOT_SOURCES=/etc/apt/sources.list.d/ros2-snapshots.sources

# The way ROS documents it: the ros2-apt-source package installs the key
# (/usr/share/keyrings/ros2-archive-keyring.gpg) and the source
# (/etc/apt/sources.list.d/ros2.sources), and keeps both current through
# its own updates from the ROS repository.
repo_ros2_apt_source() {
	local dir=$SCRATCH_DIR/ros-apt-source debs
	rm -f "$SNAPSHOT_SOURCES" "$SNAPSHOT_KEYRING"
	debs=("$dir"/*.deb)
	[ -e "${debs[0]}" ] || die "no .deb in $dir: run phase2-host first"
	say "installing ${debs[*]##*/}"
	apt-get install "${APT_OPTS[@]}" "${debs[@]}"
}

# The final snapshot of an end-of-life distribution, with the key that
# signs it, fetched by its full fingerprint and checked against it.
repo_snapshot() {
	local gnupghome keys pubs fpr codename
	: "${ROS_SNAPSHOT_URL:?}" "${ROS_SNAPSHOT_KEY:?}" "${ROS_KEYSERVER:?}"
	[[ $ROS_SNAPSHOT_KEY =~ ^[0-9A-Fa-f]{40}$ ]] ||
		die "ROS_SNAPSHOT_KEY '$ROS_SNAPSHOT_KEY' is not a full (40 hex digit) fingerprint"
	if pkg_installed ros2-apt-source; then
		say "purging ros2-apt-source (ROS_APT_REPO=snapshot)"
		apt-get purge "${APT_OPTS[@]}" ros2-apt-source
	fi
	if ! command -v dirmngr >/dev/null || ! command -v gpg >/dev/null; then
		# The lists may have been emptied by an earlier run.
		apt-get update
		apt-get install "${APT_OPTS[@]}" --no-install-recommends gnupg dirmngr
	fi
	gnupghome=$(mktemp -d)
	say "fetching key $ROS_SNAPSHOT_KEY from $ROS_KEYSERVER"
	GNUPGHOME=$gnupghome gpg --batch --keyserver "$ROS_KEYSERVER" --recv-keys "$ROS_SNAPSHOT_KEY"
	GNUPGHOME=$gnupghome gpg --batch --export "$ROS_SNAPSHOT_KEY" >"$SNAPSHOT_KEYRING.new"
	# Whatever the keyserver sent, the keyring must hold that key and no other.
	keys=$(GNUPGHOME=$gnupghome gpg --batch --with-colons --show-keys "$SNAPSHOT_KEYRING.new")
	GNUPGHOME=$gnupghome gpgconf --kill all || true
	rm -rf "$gnupghome"
	pubs=$(grep -c '^pub:' <<<"$keys" || true)
	fpr=$(awk -F: '$1 == "fpr" && !n++ { print $10 }' <<<"$keys")
	if [ "$pubs" -ne 1 ] || [ "${fpr^^}" != "${ROS_SNAPSHOT_KEY^^}" ]; then
		rm -f "$SNAPSHOT_KEYRING.new"
		die "the keyserver sent $pubs key(s), first '${fpr:-none}', not just $ROS_SNAPSHOT_KEY"
	fi
	chmod 0644 "$SNAPSHOT_KEYRING.new"
	mv -f "$SNAPSHOT_KEYRING.new" "$SNAPSHOT_KEYRING"
	# shellcheck source=/dev/null
	codename=$(. /etc/os-release && echo "${UBUNTU_CODENAME:-$VERSION_CODENAME}")
	cat >"$SNAPSHOT_SOURCES" <<EOF
# The final snapshot of ROS 2 $ROS_DISTRO (end of life: no more updates).
Types: deb
URIs: $ROS_SNAPSHOT_URL
Suites: $codename
Components: main
Signed-By: $SNAPSHOT_KEYRING
EOF
	chmod 0644 "$SNAPSHOT_SOURCES"
	say "$SNAPSHOT_SOURCES: $ROS_SNAPSHOT_URL"
}

main() {
	export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
	: "${SCRATCH_DIR:?}" "${ROS_DISTRO:?}"
	[[ $ROS_DISTRO =~ ^[a-z]+$ ]] || die "ROS_DISTRO '$ROS_DISTRO' is not a distribution name"
	policy_rc_d_install

	case ${ROS_APT_REPO:-} in
	ros2-apt-source) repo_ros2_apt_source ;;
	snapshot) repo_snapshot ;;
	*) die "ROS_APT_REPO '${ROS_APT_REPO:-}' is neither ros2-apt-source nor snapshot" ;;
	esac

	say "apt-get update"
	apt-get update
	local base=ros-$ROS_DISTRO-ros-base candidate
	candidate=$(apt-cache policy "$base" | awk '$1 == "Candidate:" { print $2 }')
	if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
		die "no package $base in the configured repositories. ROS 2 $ROS_DISTRO may have reached its end of life and left the main ROS repository; rebuild with ROS_APT_REPO=snapshot to use its final snapshot ($ROS_SNAPSHOT_URL)"
	fi

	local pkgs=("$base" rt-tests cpufrequtils libraspberrypi-bin)
	# shellcheck disable=SC2206 # EXTRA_PACKAGES is a list
	pkgs+=(${EXTRA_PACKAGES:-})
	say "installing ${pkgs[*]}"
	apt-get install "${APT_OPTS[@]}" "${pkgs[@]}"

	say "cleaning apt's caches and lists"
	apt-get clean
	rm -rf /var/lib/apt/lists/*
	# Last: the installs above ran initramfs and flash-kernel triggers,
	# which may have rewritten the boot partition's kernel and initrd.
	kernel_boot_final
	say "done"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
