# shellcheck shell=bash
# The real trixie-rt-pi4 image, built once per suite run and shared by the
# tests that inspect it (tests/trixie-rt-pi4.bats) and boot it
# (tests/img-boot.bats): `load trixie_helper`, then
#
#   trixie_image        print the finished image's path; the first call
#                       builds it with make (under a lock), later calls
#                       are a no-op make
#   trixie_build_dir    where it is built (RTIK_TRIXIE_BUILD, default
#                       build/check/trixie-rt-pi4)
#
# and, from image_helper.bash, part_offset, root_cat, root_stat, root_ls,
# boot_cat and boot_ls, which read the image in place: nothing here
# attaches or mounts anything.
# RTIK_TRIXIE_IMAGE names a finished image to use instead of building one.
# Downloads are kept in the tree's cache/ (CACHE_DIR), so a second run of
# the suite takes its .deb files from there.

# shellcheck source-path=SCRIPTDIR source=image_helper.bash disable=SC1091
source "$TOP/tests/image_helper.bash"

trixie_build_dir() {
	echo "${RTIK_TRIXIE_BUILD:-$TOP/build/check/trixie-rt-pi4}"
}

trixie_image() {
	local dir
	if [ -n "${RTIK_TRIXIE_IMAGE:-}" ]; then
		echo "$RTIK_TRIXIE_IMAGE"
		return
	fi
	dir=$(trixie_build_dir)
	image_build "$TOP/images/trixie-rt-pi4" "$dir" || return 1
	echo "$dir/trixie-rt-pi4.img"
}

# For the suites that inspect or boot the image: setup_file builds it (as
# root; else each test skips in trixie_setup) and exports IMG.
trixie_setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	IMG=$(trixie_image)
	export IMG
}

trixie_setup() {
	require_root
	common_setup
	[ -n "${IMG-}" ] && [ -f "$IMG" ]
}
