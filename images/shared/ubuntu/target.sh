# shellcheck shell=bash
# What the Ubuntu recipes' target scripts (phase1-target.sh, phase2-target.sh)
# load first: common.sh, rt-tuning.sh, boot.sh, apt's options and a test for
# an installed package.

# SHARED_DIR: the scripts all recipes share (mk/image.mk sets it).
# shellcheck source-path=SCRIPTDIR/.. source=common.sh
. "${SHARED_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/common.sh"
# shellcheck source-path=SCRIPTDIR/.. source=rt-tuning.sh
. "${SHARED_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/rt-tuning.sh"
# shellcheck source-path=SCRIPTDIR source=boot.sh
. "$(dirname "${BASH_SOURCE[0]}")/boot.sh"

# shellcheck disable=SC2034 # for the scripts that source this one
APT_OPTS=(-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Whether the package PKG is installed.
pkg_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}
