#!/usr/bin/env bash
# phase2-host: with ROS_APT_REPO=ros2-apt-source, fetch the ros2-apt-source
# package (the ROS 2 archive key and apt source, as ROS documents it) into
# the download cache, verified by ROS_APT_SOURCE_SHA256, and hand it to
# phase2-target in $SCRATCH_DIR/ros-apt-source. With ROS_APT_REPO=snapshot
# there is nothing to fetch here: phase2-target gets the snapshot key.
#
# Environment (mk/image.mk): CACHE_DIR, SCRATCH_DIR, IMG_FETCH, and the
# recipe's ROS_APT_REPO, ROS_APT_SOURCE_URL, ROS_APT_SOURCE_SHA256.
set -euo pipefail

# SHARED_DIR: the scripts all recipes share (mk/image.mk sets it).
# shellcheck source-path=SCRIPTDIR/../../shared source=common.sh
. "${SHARED_DIR:-$(dirname "$0")/../../shared}/common.sh"

: "${CACHE_DIR:?}" "${SCRATCH_DIR:?}" "${IMG_FETCH:?}"

out=$SCRATCH_DIR/ros-apt-source
rm -rf "$out"

case ${ROS_APT_REPO:-} in
ros2-apt-source) ;;
snapshot)
	say "ROS_APT_REPO=snapshot: nothing to fetch"
	exit 0
	;;
*) die "ROS_APT_REPO '${ROS_APT_REPO:-}' is neither ros2-apt-source nor snapshot" ;;
esac

: "${ROS_APT_SOURCE_URL:?}"
if [ -z "${ROS_APT_SOURCE_SHA256:-}" ]; then
	cat >&2 <<EOF
phase2-host: ROS_APT_SOURCE_SHA256 is not set.
  ros-apt-source publishes no checksum beside its packages, so this recipe
  cannot pin one for you. Get the SHA-256 of
    $ROS_APT_SOURCE_URL
  from a source you trust (GitHub shows a sha256 digest for release assets,
  also in its API: .../releases/tags/TAG, field "digest"), or download it
  once and pin what you got (trust on first use):
    $IMG_FETCH --no-verify -o /tmp/ros2-apt-source.deb '$ROS_APT_SOURCE_URL'
  then rerun with ROS_APT_SOURCE_SHA256=<64 hex digits> on the make command line.
EOF
	exit 1
fi
[[ $ROS_APT_SOURCE_SHA256 =~ ^[0-9a-fA-F]{64}$ ]] ||
	die "ROS_APT_SOURCE_SHA256 '$ROS_APT_SOURCE_SHA256' is not 64 hex digits"

url_path=${ROS_APT_SOURCE_URL%%[?#]*}
deb=$CACHE_DIR/ros-apt-source/${url_path##*/}
mkdir -p "${deb%/*}"
say "fetching $ROS_APT_SOURCE_URL"
flock "$deb.lock" "$IMG_FETCH" -o "$deb" --sha256 "$ROS_APT_SOURCE_SHA256" "$ROS_APT_SOURCE_URL"

pkg=$(dpkg-deb -f "$deb" Package)
case $pkg in
ros2-apt-source | ros2-testing-apt-source) ;;
*) die "${deb##*/} is the package '$pkg', not ros2-apt-source" ;;
esac
mkdir -p "$out"
cp "$deb" "$out/"
say "$pkg $(dpkg-deb -f "$deb" Version) -> $out"
