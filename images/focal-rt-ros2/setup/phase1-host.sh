#!/usr/bin/env bash
# phase1-host: fetch the RT kernel release zip into the download cache
# (verified by RT_KERNEL_SHA256) and unpack its .debs, less the debug-symbol
# package, into $SCRATCH_DIR/rt-kernel for phase1-target.
#
# Environment (mk/image.mk): CACHE_DIR, SCRATCH_DIR, IMG_FETCH, and the
# recipe's RT_KERNEL_URL, RT_KERNEL_SHA256. Needs unzip (Debian package
# "unzip") and dpkg-deb (package "dpkg").
set -euo pipefail

# SHARED_DIR: the scripts all recipes share (mk/image.mk sets it).
# shellcheck source-path=SCRIPTDIR/../../shared source=common.sh
. "${SHARED_DIR:-$(dirname "$0")/../../shared}/common.sh"

: "${CACHE_DIR:?}" "${SCRATCH_DIR:?}" "${IMG_FETCH:?}" "${RT_KERNEL_URL:?}"

if [ -z "${RT_KERNEL_SHA256:-}" ]; then
	cat >&2 <<EOF
phase1-host: RT_KERNEL_SHA256 is not set.
  The kernel release publishes no checksum, so this recipe cannot pin one for
  you. Get the SHA-256 of
    $RT_KERNEL_URL
  from a source you trust (GitHub shows a sha256 digest for release assets
  that have one, also in its API: .../releases/tags/TAG, field "digest"), or
  download it once and pin what you got (trust on first use):
    $IMG_FETCH --no-verify -o /tmp/rt-kernel.zip '$RT_KERNEL_URL'
  then rerun with RT_KERNEL_SHA256=<64 hex digits> on the make command line.
EOF
	exit 1
fi
[[ $RT_KERNEL_SHA256 =~ ^[0-9a-fA-F]{64}$ ]] || die "RT_KERNEL_SHA256 '$RT_KERNEL_SHA256' is not 64 hex digits"
command -v unzip >/dev/null || die "unzip is missing: install the Debian package 'unzip'"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: install the Debian package 'dpkg'"

# Every release names its asset RPI4.RT.Kernel.deb.packages.zip, so the
# cache keeps each under the release tag (the URL's directory).
url_path=${RT_KERNEL_URL%%[?#]*}
name=${url_path##*/}
tag=${url_path%/*}
tag=${tag##*/}
zip=$CACHE_DIR/rt-kernel/$tag/$name
mkdir -p "${zip%/*}"
say "fetching $RT_KERNEL_URL"
# The cache is shared by every image: one download at a time per file.
flock "$zip.lock" "$IMG_FETCH" -o "$zip" --sha256 "$RT_KERNEL_SHA256" "$RT_KERNEL_URL"

out=$SCRATCH_DIR/rt-kernel
rm -rf "$out"
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
