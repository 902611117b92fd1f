#!/usr/bin/env bash
# phase1-host: fetch the RT kernel release zip into the download cache and
# unpack its .debs, less the debug-symbol package, into
# $SCRATCH_DIR/rt-kernel for phase1-target. The zip is verified by
# RT_KERNEL_SHA256 when it is set, else by the recipe's sources.lock (its
# hash recorded there on the first download). With RT_KERNEL_SOURCE=archive
# the kernel comes from the image's apt sources and nothing is fetched.
#
# Environment (mk/image.mk): CACHE_DIR, SCRATCH_DIR, IMG_FETCH,
# SOURCES_LOCK, LOCKED, and the recipe's RT_KERNEL_SOURCE, RT_KERNEL_URL,
# RT_KERNEL_SHA256. Needs unzip and dpkg-deb (Debian packages "unzip",
# "dpkg").
set -euo pipefail

# SHARED_DIR: the scripts all recipes share (mk/image.mk sets it).
# shellcheck source-path=SCRIPTDIR/.. source=common.sh
. "${SHARED_DIR:-$(dirname "$0")/..}/common.sh"

: "${CACHE_DIR:?}" "${SCRATCH_DIR:?}"

out=$SCRATCH_DIR/rt-kernel
rm -rf "$out"
case ${RT_KERNEL_SOURCE:-release} in
archive)
	say "RT_KERNEL_SOURCE=archive: the kernel comes from the image's apt sources"
	exit 0
	;;
release | auto) ;;
*) die "RT_KERNEL_SOURCE '$RT_KERNEL_SOURCE' is none of release, archive, auto" ;;
esac
: "${RT_KERNEL_URL:?}"
command -v unzip >/dev/null || die "unzip is missing: install the Debian package 'unzip'"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: install the Debian package 'dpkg'"

# Every release names its asset RPI4.RT.Kernel.deb.packages.zip, so the
# cache keeps each under the release tag (the URL's directory).
url_path=${RT_KERNEL_URL%%[?#]*}
name=${url_path##*/}
tag=${url_path%/*}
tag=${tag##*/}
zip=$CACHE_DIR/rt-kernel/$tag/$name
fetch_source "$RT_KERNEL_URL" "$zip" "${RT_KERNEL_SHA256:-}"

mkdir -p "$out"
say "unpacking the .debs of ${zip##*/} into $out"
unzip -l "$zip"
# -j: the debs may sit in a folder inside the zip. The debug-symbol package
# (linux-image-*-dbg, gigabytes of DWARF) is left out.
unzip -q -j -o "$zip" '*.deb' -x '*-dbg_*.deb' -d "$out" ||
	die "cannot unpack the .debs of $zip (unzip status $?)"

images=0
for deb in "$out"/*.deb; do
	[ -e "$deb" ] || die "${zip##*/} holds no .deb"
	pkg=$(dpkg-deb -f "$deb" Package)
	arch=$(dpkg-deb -f "$deb" Architecture)
	case $pkg in
	*-dbg)
		say "leaving out $pkg (debug symbols)"
		rm -f "$deb"
		continue
		;;
	linux-image-*) images=$((images + 1)) ;;
	esac
	[ "$arch" = arm64 ] || [ "$arch" = all ] || die "$deb is for $arch, not arm64"
	say "$pkg $(dpkg-deb -f "$deb" Version) ($arch)"
done
[ "$images" -eq 1 ] || die "${zip##*/} holds $images linux-image packages; want exactly one"
say "done"
