# shellcheck shell=bash
# For tests of the scripts that run inside an image (images/shared): `load
# boot_ns_helper` after test_helper, then
#
#   boot_ns FIRMWARE SCRIPTS CODE
#
# runs the bash code CODE as root in a mount namespace of its own, where
#   - /boot is an empty tmpfs (the scripts name /boot/vmlinuz-REL and the
#     like; CODE puts there what the test needs),
#   - /etc/systemd, /run/systemd and the unit directories that exist of
#     /usr/lib/systemd/system, /lib/systemd/system and
#     /usr/local/lib/systemd/system are empty tmpfs, and SYSTEMD_OFFLINE=1:
#     systemctl works on the unit files CODE writes there, never on this
#     machine's systemd,
#   - BOOT_DIR is FIRMWARE (the boot partition, a directory of the test's),
#   - SCRIPTS (paths under images/shared, separated by spaces) are sourced
#     first, in a bash with set -euo pipefail.
# Its messages say "in-boot-ns:" unless a script sets PHASE. Nothing
# mounted in it outlives it.

boot_ns() {
	require_root
	# shellcheck disable=SC2016 # expanded by that bash
	unshare -m bash -c '
		set -euo pipefail
		mount --make-rprivate /
		mount -t tmpfs rtik-test-boot /boot
		for d in /etc/systemd /run/systemd /usr/lib/systemd/system /lib/systemd/system \
			/usr/local/lib/systemd/system; do
			if [ -d "$d" ] && ! mountpoint -q "$d"; then
				mount -t tmpfs rtik-test-units "$d"
			fi
		done
		export BOOT_DIR=$1 SYSTEMD_OFFLINE=1
		for s in $3; do
			. "$2/$s"
		done
		eval "$4"' in-boot-ns "$1" "$TOP/images/shared" "$2" "$3"
}
