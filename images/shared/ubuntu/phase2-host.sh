#!/usr/bin/env bash
# phase2-host: with ROS_APT_REPO=ros2-apt-source, fetch the ros2-apt-source
# package (the ROS 2 archive key and apt source, as ROS documents it) into
# the download cache, verified by ROS_APT_SOURCE_SHA256 when it is set, else
# by the recipe's sources.lock (recorded there the first time), and hand it to
# phase2-target in $SCRATCH_DIR/ros-apt-source. With ROS_APT_REPO=snapshot
# there is nothing to fetch here: phase2-target gets the snapshot key.
#
# Environment (mk/image.mk): CACHE_DIR, SCRATCH_DIR, IMG_FETCH, SOURCES_LOCK,
# LOCKED, and the
# recipe's ROS_APT_REPO, ROS_APT_SOURCE_URL, ROS_APT_SOURCE_SHA256.
set -euo pipefail

# SHARED_DIR: the scripts all recipes share (mk/image.mk sets it).
# shellcheck source-path=SCRIPTDIR/.. source=common.sh
. "${SHARED_DIR:-$(dirname "$0")/..}/common.sh"

: "${CACHE_DIR:?}" "${SCRATCH_DIR:?}"

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
url_path=${ROS_APT_SOURCE_URL%%[?#]*}
deb=$CACHE_DIR/ros-apt-source/${url_path##*/}
fetch_source "$ROS_APT_SOURCE_URL" "$deb" "${ROS_APT_SOURCE_SHA256:-}"

pkg=$(dpkg-deb -f "$deb" Package)
case $pkg in
ros2-apt-source | ros2-testing-apt-source) ;;
*) die "${deb##*/} is the package '$pkg', not ros2-apt-source" ;;
esac
mkdir -p "$out"
cp "$deb" "$out/"
say "$pkg $(dpkg-deb -f "$deb" Version) -> $out"
