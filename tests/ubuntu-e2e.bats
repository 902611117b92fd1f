#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# The three Ubuntu recipes (focal-rt-ros2, jammy-rt-humble, noble-rt-jazzy)
# built end to end with make, against local stand-ins of what they
# download:
#   - the vendor image: tests/recipes/ubuntu-standin, a Debian arm64
#     minbase laid out as Ubuntu's raspi images (built once, cached in
#     build/check/ubuntu-standin), given apt sources that name the local
#     archive and served as .img.xz with a signed SHA256SUMS; as built
#     (config.txt boots U-Boot, whose boot.scr loads vmlinuz: Ubuntu 20.04)
#     for focal, with Ubuntu 22.04's config.txt (kernel=vmlinuz) for jammy
#     and noble;
#   - "Ubuntu's archive" and "the ROS repository": apt repositories of stub
#     packages with the real names, signed with a key this file makes;
#   - the RT kernel release zips, the ros2-apt-source package, and for
#     focal's ROS snapshot a keyserver (/pks/lookup) that serves that key.
# Each image is then checked offline (debugfs, mtools). Then the fetching
# stages again with LOCKED=1 from an empty download cache, and a tampered
# RT kernel zip.
#
# Times of each part go to build/check/ubuntu-e2e.times. The stand-in is
# built in RTIK_UBUNTU_STANDIN_BUILD (default build/check/ubuntu-standin).

bats_require_minimum_version 1.5.0
load test_helper
load image_helper

STANDIN=$TOP/tests/recipes/ubuntu-standin
# shellcheck source-path=SCRIPTDIR source=recipes/ubuntu-standin/stubs.sh
. "$STANDIN/stubs.sh"

# The stand-in vendor image, built by make under a lock the first time,
# then a no-op make while its recipe is unchanged. Debian's .debs are kept
# in the tree's cache/.
standin_build_dir() {
	echo "${RTIK_UBUNTU_STANDIN_BUILD:-$TOP/build/check/ubuntu-standin}"
}

standin_image() {
	local dir
	dir=$(standin_build_dir)
	image_build "$STANDIN" "$dir" || return 1
	echo "$dir/ubuntu-standin.img"
}

TIMES=$TOP/build/check/ubuntu-e2e.times

# lap WHAT: the seconds since the last lap, to TIMES.
lap() {
	local now=$SECONDS
	printf '%-58s %4ss\n' "$1" "$((now - ${_lap:-0}))" >>"$TIMES"
	_lap=$now
}

# Ubuntu 26.04's raspi real-time kernel in the stand-in archive (a made-up
# version: the stand-in copies the package names, not their versions).
RESOLUTE_RT_REL=7.0.0-2006-raspi-realtime
RESOLUTE_RT_VERSION=7.0.0-2006.6

# The ROS repositories' suite.
SUITE=trixie
# Ubuntu's archive: each release with its pockets and components, as
# ports.ubuntu.com has them.
UBUNTU_RELEASES=(focal jammy noble resolute)
UBUNTU_POCKETS=("" -updates -backports -security)
UBUNTU_COMPONENTS="main restricted universe multiverse"

# make_repo DIR SUITE [COMPONENT=POOL...]: the apt repository at DIR gets
# dists/SUITE, whose COMPONENT holds the .debs under DIR/POOL; the other
# components of REPO_COMPONENTS (default: main) are empty. A Release and
# its signatures (InRelease, Release.gpg) by the test key.
make_repo() {
	local dir=$1 suite=$2 comps=${REPO_COMPONENTS:-main} c kv pool d=$1/dists/$2
	shift 2
	for c in $comps; do
		mkdir -p "$d/$c/binary-arm64"
		pool=
		for kv in "$@"; do [ "${kv%%=*}" != "$c" ] || pool=${kv#*=}; done
		if [ -n "$pool" ]; then
			(cd "$dir" && apt-ftparchive packages "$pool") >"$d/$c/binary-arm64/Packages"
		else
			: >"$d/$c/binary-arm64/Packages"
		fi
		gzip -9nkf "$d/$c/binary-arm64/Packages"
	done
	apt-ftparchive -o APT::FTPArchive::Release::Origin=rt-image-kit-tests \
		-o APT::FTPArchive::Release::Suite="$suite" -o APT::FTPArchive::Release::Codename="$suite" \
		-o APT::FTPArchive::Release::Architectures=arm64 -o APT::FTPArchive::Release::Components="$comps" \
		release "$d" >"$dir/Release.tmp"
	mv "$dir/Release.tmp" "$d/Release"
	gpg --batch --yes --clearsign -o "$d/InRelease" "$d/Release"
	gpg --batch --yes --detach-sign -o "$d/Release.gpg" "$d/Release"
}

# An RT kernel release zip at WWW/rt/TAG/: the kernel image (its hooks make
# the initramfs and flash it), headers and the debug symbols, in a folder.
rt_zip() {
	local tag=$1 rel=$2 version=$3 d=$F/zip/$1/RPI4.RT.Kernel.deb.packages
	kernel_stub "$d" "$rel" "$version"
	stub_deb "$d" "linux-headers-$rel" "$version" "" "usr/src/linux-headers-$rel/Makefile=headers"
	stub_deb "$d" "linux-image-$rel-dbg" "$version" "" "usr/lib/debug/boot/vmlinux-$rel=dwarf"
	mkdir -p "$WWW/rt/$tag"
	(cd "$F/zip/$tag" && zip -qrX "$WWW/rt/$tag/RPI4.RT.Kernel.deb.packages.zip" RPI4.RT.Kernel.deb.packages)
}

# A deb822 apt source of the local repository NAME, signed by KEYRING.
sources_file() {
	printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
		"$HTTP_URL/files/$1" "$SUITE" "$2"
}

# The apt sources of Ubuntu's image of RELEASE, naming the local archive:
# one-line /etc/apt/sources.list up to 22.04, deb822
# /etc/apt/sources.list.d/ubuntu.sources since 24.04; the release, -updates,
# -backports and -security, all four components.
ubuntu_sources() {
	local r=$1 url=$HTTP_URL/files/ubuntu p
	case $r in
	focal | jammy)
		for p in "${UBUNTU_POCKETS[@]}"; do
			printf 'deb %s %s %s\n' "$url" "$r$p" "$UBUNTU_COMPONENTS"
		done
		;;
	*)
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates %s-backports\nComponents: %s\nSigned-By: %s\n\n' \
			"$url" "$r" "$r" "$r" "$UBUNTU_COMPONENTS" /usr/share/keyrings/ubuntu-archive-keyring.gpg
		printf 'Types: deb\nURIs: %s\nSuites: %s-security\nComponents: %s\nSigned-By: %s\n' \
			"$url" "$r" "$UBUNTU_COMPONENTS" /usr/share/keyrings/ubuntu-archive-keyring.gpg
		;;
	esac
}

# cloud-init's files on Ubuntu's system-boot for RELEASE (user-data:
# ssh_pwauth true up to 22.04, false since 24.04), into DIR.
ubuntu_seed() {
	local r=$1 dir=$2 pwauth=true
	[ "$r" = focal ] || [ "$r" = jammy ] || pwauth=false
	mkdir -p "$dir"
	printf '#cloud-config\n# Stand-in of the user-data of Ubuntu %s'"'"'s raspi image.\nchpasswd:\n  expire: true\n  users:\n  - name: ubuntu\n    password: ubuntu\n    type: text\nssh_pwauth: %s\n' \
		"$r" "$pwauth" >"$dir/user-data"
	printf 'instance-id: %s-standin\n' "$r" >"$dir/meta-data"
	printf 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n      optional: true\n' >"$dir/network-config"
}

# IMG's boot partition, a FAT of 256M, made SIZE MiB (the partitions after
# it moved), into NEW: a new partition table and FAT with the same label
# and files, the root partition copied as it is.
boot_resize() {
	local img=$1 new=$2 mib=$3 s1 n1 s2 n2 ns2 files=$F/boot-files
	read -r s1 n1 s2 n2 < <(sfdisk --json "$img" | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"]
print(p[0]["start"], p[0]["size"], p[1]["start"], p[1]["size"])')
	ns2=$((s1 + mib * 2048))
	rm -f "$new"
	truncate -s $(((ns2 + n2) * 512)) "$new"
	printf 'label: dos\nstart=%s, size=%s, type=c, bootable\nstart=%s, size=%s, type=83\n' \
		"$s1" $((mib * 2048)) "$ns2" "$n2" | sfdisk -q "$new"
	mkfs.vfat -F 32 -n SYSTEM-BOOT --offset "$s1" "$new" $((mib * 1024)) >/dev/null
	rm -rf "$files" && mkdir -p "$files"
	MTOOLS_SKIP_CHECK=1 mcopy -s -i "$img@@$((s1 * 512))" "::*" "$files/"
	MTOOLS_SKIP_CHECK=1 mcopy -s -i "$new@@$((s1 * 512))" "$files"/* ::
	dd if="$img" of="$new" bs=512 skip="$s2" seek="$ns2" count="$n2" conv=sparse,notrunc status=none
	rm -rf "$files"
}

# IMG laid out as Ubuntu 25.10 and later (A/B boot): on system-boot, the
# boot assets (vmlinuz, initrd.img, cmdline.txt with panic=10, the device
# trees, overlays/) in current/ with state "good", the config.txt of
# config-ab.txt, nothing of U-Boot's chain; in the root, flash-kernel's
# A/B hook (it writes new/) and piboot-validate.
ab_boot() {
	local img=$1 off d=$F/ab f
	off=$(part_offset "$img" 1)
	rm -rf "$d" && mkdir -p "$d/current"
	export MTOOLS_SKIP_CHECK=1
	mcopy -s -i "$img@@$off" ::vmlinuz ::initrd.img ::cmdline.txt ::bcm2711-rpi-4-b.dtb ::overlays "$d/current/"
	sed -i '1s/$/ panic=10/' "$d/current/cmdline.txt"
	echo good >"$d/current/state"
	for f in vmlinuz initrd.img cmdline.txt bcm2711-rpi-4-b.dtb boot.scr uboot_rpi_3.bin uboot_rpi_4.bin syscfg.txt usercfg.txt; do
		mdel -i "$img@@$off" "::$f"
	done
	mdeltree -i "$img@@$off" ::overlays
	mcopy -s -i "$img@@$off" "$d/current" ::
	mcopy -o -i "$img@@$off" "$STANDIN/config-ab.txt" ::config.txt
	unset MTOOLS_SKIP_CHECK
	printf '%s\n' 'cd /etc/kernel/postinst.d' 'rm zz-flash-kernel' "write $STANDIN/hooks/zz-flash-kernel-ab zz-flash-kernel" \
		'mkdir /etc/flash-kernel' 'cd /etc/flash-kernel' "write $STANDIN/piboot-validate piboot-validate" |
		debugfs -w -f - "$img?offset=$(part_offset "$img" 2)" >/dev/null
	rm -rf "$d"
}

# The vendor images as served, one per release, each copying what its
# release's image has (tests/recipes/ubuntu-standin/README.md): the boot
# partition (256M with U-Boot's chain for focal; 512M, config.txt loading
# vmlinuz, for jammy and noble), the apt sources' form naming the local
# archive, whose key is Ubuntu's archive keyring, cloud-init's files on
# system-boot. focal's in vendor/ with a signed SHA256SUMS (pinned point
# release); jammy's and noble's as cdimage serves a series' current point
# release (releases/SERIES/release/, a signed SHA256SUMS), for the recipes'
# UBUNTU_SERIES.
serve_vendor() {
	local base=$F/base.img big=$F/big.img r img seed=$F/seed pids=() name d sum
	cp --sparse=always "$VENDOR" "$base"
	printf '%s\n' 'cd /usr/share/keyrings' "write $KEYRING ubuntu-archive-keyring.gpg" \
		'cd /etc/apt/trusted.gpg.d' "write $KEYRING ubuntu-keyring-2018-archive.gpg" |
		debugfs -w -f - "$base?offset=$(part_offset "$base" 2)" >/dev/null
	cmp <(root_cat "$base" /usr/share/keyrings/ubuntu-archive-keyring.gpg) "$KEYRING"
	boot_resize "$base" "$big" 512
	mkdir -p "$WWW/vendor"
	for r in "${UBUNTU_RELEASES[@]}"; do
		img=$F/$r.img
		if [ "$r" = focal ]; then mv "$base" "$img"; else cp --sparse=always "$big" "$img"; fi
		ubuntu_sources "$r" >"$F/$r.sources"
		chmod 0644 "$F/$r.sources"
		case $r in
		focal | jammy) printf '%s\n' 'cd /etc/apt' "write $F/$r.sources sources.list" ;;
		*) printf '%s\n' 'cd /etc/apt/sources.list.d' "write $F/$r.sources ubuntu.sources" ;;
		esac | debugfs -w -f - "$img?offset=$(part_offset "$img" 2)" >/dev/null
		ubuntu_seed "$r" "$seed/$r"
		MTOOLS_SKIP_CHECK=1 mcopy -o -i "$img@@$(part_offset "$img" 1)" "$seed/$r"/* ::
		case $r in
		focal) ;;
		resolute) ab_boot "$img" ;;
		*) MTOOLS_SKIP_CHECK=1 mcopy -o -i "$img@@$(part_offset "$img" 1)" "$STANDIN/config-vmlinuz.txt" ::config.txt ;;
		esac
		# Two at a time.
		[ ${#pids[@]} -lt 2 ] || { wait "${pids[0]}" || return 1; pids=("${pids[@]:1}"); }
		{ xz -T1 -1 -c "$img" >"$WWW/vendor/ubuntu-standin-$r.img.xz" && rm -f "$img"; } &
		pids+=($!)
	done
	for r in "${pids[@]}"; do wait "$r" || return 1; done
	rm -f "$big"
	(cd "$WWW/vendor" && sha256sum -b ./*.img.xz | sed 's| \*\./| *|') >"$WWW/vendor/SHA256SUMS"
	gpg --batch --yes --detach-sign -o "$WWW/vendor/SHA256SUMS.gpg" "$WWW/vendor/SHA256SUMS"
	for r in jammy:22.04.5 noble:24.04.3 resolute:26.04.1; do
		d=$WWW/releases/${r#*:}
		d=${d%.*}/release
		name=ubuntu-${r#*:}-preinstalled-server-arm64+raspi.img.xz
		mkdir -p "$d"
		ln "$WWW/vendor/ubuntu-standin-${r%%:*}.img.xz" "$d/$name"
		sum=$(awk -v f="*ubuntu-standin-${r%%:*}.img.xz" '$2 == f { print $1 }' "$WWW/vendor/SHA256SUMS")
		printf '%s *%s\n' "$sum" "$name" >"$d/SHA256SUMS"
		gpg --batch --yes --detach-sign -o "$d/SHA256SUMS.gpg" "$d/SHA256SUMS"
	done
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	F=$BATS_FILE_TMPDIR
	WWW=$F/www
	export F WWW
	mkdir -p "$WWW" "${TIMES%/*}"
	echo "# ubuntu-e2e.bats, $(date -u '+%F %T')" >>"$TIMES"
	_lap=$SECONDS

	VENDOR=$(standin_image)
	export VENDOR
	lap "stand-in vendor image (make; no-op when current)"

	# The key that signs the archives and the image's SHA256SUMS.
	GNUPGHOME=$F/gnupg
	export GNUPGHOME
	mkdir -m 0700 "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key 'rt-image-kit tests <tests@example.invalid>' ed25519 sign never
	KEY_FPR=$(gpg --batch --with-colons --list-keys | awk -F: '$1 == "fpr" { print $10; exit }')
	KEYRING=$F/test-archive-keyring.gpg
	gpg --batch --export "$KEY_FPR" >"$KEYRING"
	chmod 0644 "$KEYRING"
	mkdir -p "$WWW/pks"
	gpg --batch --armor --export "$KEY_FPR" >"$WWW/pks/lookup"
	export KEY_FPR KEYRING
	http_start "$WWW"

	# Ubuntu's archive: the stock kernel, what the recipes purge and what
	# they install beside ROS.
	local p
	stock_kernel_stubs "$WWW/ubuntu/pool"
	vendor_stubs "$WWW/ubuntu/pool"
	for p in rt-tests cpufrequtils libraspberrypi-bin cpuset stress stress-ng; do
		stub_deb "$WWW/ubuntu/pool" "$p" 1.0-0ubuntu1 "" "usr/share/doc/$p/stand-in=$p"
	done
	# Ubuntu's raspi real-time kernel, in noble-updates' universe and
	# resolute's.
	archive_rt_kernel_stubs "$WWW/ubuntu/pool-noble-updates"
	archive_rt_kernel_stubs "$WWW/ubuntu/pool-resolute" "$RESOLUTE_RT_REL" "$RESOLUTE_RT_VERSION"
	local r pk args
	for r in "${UBUNTU_RELEASES[@]}"; do
		for pk in "${UBUNTU_POCKETS[@]}"; do
			args=()
			[ -n "$pk" ] || args+=(main=pool)
			[ "$r$pk" != noble-updates ] || args+=(universe=pool-noble-updates)
			[ "$r$pk" != resolute ] || args+=(universe=pool-resolute)
			REPO_COMPONENTS=$UBUNTU_COMPONENTS make_repo "$WWW/ubuntu" "$r$pk" "${args[@]}"
		done
	done
	# The ROS repository (and the final snapshot of an end-of-life one).
	for p in galactic humble jazzy lyrical; do
		stub_deb "$WWW/ros2/pool" "ros-$p-ros-base" 0.9.3-1 "" "opt/ros/$p/setup.bash=# ROS 2 $p"
	done
	# As ROS publishes it: a suite per Ubuntu release (the snapshot source
	# names the image's); the ros2-apt-source stub's names SUITE.
	for r in "$SUITE" "${UBUNTU_RELEASES[@]}"; do
		make_repo "$WWW/ros2" "$r" main=pool
	done
	# ros2-apt-source: the key and the source of the ROS repository.
	sources_file ros2 /usr/share/keyrings/ros2-archive-keyring.gpg >"$F/ros2.sources"
	stub_deb "$WWW/ros-apt-source" ros2-apt-source 1.3.0 "" \
		"usr/share/keyrings/ros2-archive-keyring.gpg=@$KEYRING" "etc/apt/sources.list.d/ros2.sources=@$F/ros2.sources"
	rt_zip 5.4.195-rt74-raspi-arm64-lttng 5.4.195-rt74-raspi 5.4.195-rt74-1
	rt_zip 5.15.98-rt62-raspi-arm64-lttng 5.15.98-rt62-raspi 5.15.98-rt62-1
	rt_zip 6.8.4-r11 6.8.4-rt11-raspi 6.8.4-rt11-1
	lap "key, archives, RT kernel zips, ros2-apt-source"

	serve_vendor
	lap "vendor images served (a 512M boot partition, debugfs, mcopy, 3 x xz -1)"
}

teardown_file() {
	local r
	[ -n "${F-}" ] || return 0
	for r in focal-rt-ros2 jammy-rt-humble noble-rt-jazzy resolute-rt-lyrical; do
		[ ! -d "$F/build/$r" ] || make -s -C "$TOP/images/$r" BUILD_DIR="$F/build/$r" clean-mounts >/dev/null 2>&1 || true
	done
	block_cleanup "$F"
	# What a failed build of the stand-in left mounted, unless another
	# suite is building it now.
	flock -n "$(standin_build_dir).lock" make -s -C "$STANDIN" BUILD_DIR="$(standin_build_dir)" clean-mounts \
		>/dev/null 2>&1 || true
	http_stop
	[ -z "${GNUPGHOME-}" ] || gpgconf --kill all 2>/dev/null || true
}

setup() {
	require_root
	common_setup
	[ -n "${VENDOR-}" ] && [ -f "$VENDOR" ]
	_lap=$SECONDS
}

teardown() {
	[ -n "${T-}" ] || return 0
	block_cleanup
}

ROS_APT_SOURCE_DEB=ros2-apt-source_1.3.0_arm64.deb

# make RECIPE [VAR=VALUE...]: the recipe against the stand-ins, in
# F/build/RECIPE, with a copy of its sources.lock; the download cache
# MK_CACHE (default F/cache).
mk() {
	local r=$1 vendor=ubuntu-standin-focal.img.xz tag
	shift
	case $r in
	focal-rt-ros2) tag=5.4.195-rt74-raspi-arm64-lttng ;;
	jammy-rt-humble) tag=5.15.98-rt62-raspi-arm64-lttng ;;
	noble-rt-jazzy | resolute-rt-lyrical) tag=6.8.4-r11 ;;
	esac
	[ -f "$F/$r.sources.lock" ] || cp "$TOP/images/$r/sources.lock" "$F/$r.sources.lock"
	# focal pins its point release; jammy and noble take their series'
	# from cdimage's directory for it (the recipes' own IMAGE_PICK and list).
	local image=(IMAGE_URL="$HTTP_URL/files/vendor/$vendor" IMAGE_MIRRORS=
		IMAGE_SHA256SUMS="$HTTP_URL/files/vendor/SHA256SUMS"
		IMAGE_SHA256SUMS_SIG="$HTTP_URL/files/vendor/SHA256SUMS.gpg")
	case $r in
	jammy-rt-humble) image=(IMAGE_URL="$HTTP_URL/files/releases/22.04/release/" IMAGE_MIRRORS="$HTTP_URL/files/old-releases/22.04*/") ;;
	noble-rt-jazzy) image=(IMAGE_URL="$HTTP_URL/files/releases/24.04/release/" IMAGE_MIRRORS="$HTTP_URL/files/old-releases/24.04*/") ;;
	resolute-rt-lyrical) image=(IMAGE_URL="$HTTP_URL/files/releases/26.04/release/" IMAGE_MIRRORS="$HTTP_URL/files/old-releases/26.04*/") ;;
	esac
	make -C "$TOP/images/$r" BUILD_DIR="$F/build/$r" CACHE_DIR="${MK_CACHE:-$F/cache}" IMAGE_SIZE=1G \
		"${image[@]}" IMAGE_KEYRING="$KEYRING" \
		RT_KERNEL_URL="$HTTP_URL/files/rt/$tag/RPI4.RT.Kernel.deb.packages.zip" \
		ROS_APT_SOURCE_URL="$HTTP_URL/files/ros-apt-source/$ROS_APT_SOURCE_DEB" \
		ROS_SNAPSHOT_URL="$HTTP_URL/files/ros2" ROS_SNAPSHOT_KEY="$KEY_FPR" \
		ROS_KEYSERVER="hkp://127.0.0.1:$HTTP_PORT" \
		SOURCES_LOCK="$F/$r.sources.lock" "$@"
}

build() {
	local r=$1 log=$F/$1.log
	shift
	# V=1: the whole output in LOG, which the tests read.
	if ! mk "$r" V=1 "$@" >"$log" 2>&1; then
		echo "make $r failed; the end of $log:" >&2
		tail -n 60 "$log" >&2
		return 1
	fi
	# The command line as the times file shows it: a secret's value left out.
	local a shown=()
	for a in "$@"; do
		case $a in IMAGE_PASSWORD=*) shown+=("IMAGE_PASSWORD=...") ;; *) shown+=("$a") ;; esac
	done
	lap "$r: make ${shown[*]}"
	# Each stage's time when it last ran.
	awk '{ printf "    %-54s %5.1fs\n", $2, $3 }' "$F/build/$r/logs/times" >>"$TIMES" 2>/dev/null || true
}

# The packages installed in IMG, one a line.
installed() {
	root_cat "$1" /var/lib/dpkg/status | awk '
		/^Package: / { p = $2 }
		/^Status: install ok installed$/ { print p }'
}

# What every recipe's image must be: RECIPE IMG REL (the RT kernel's
# release) DISTRO (ROS) [USER (the image's, default ubuntu)].
check_image() {
	local r=$1 img=$2 rel=$3 distro=$4 user=${5:-ubuntu} pkgs p f lists release=${1%%-*} bp='' baks=.bak
	# Ubuntu's A/B boot (26.04): the boot assets in current/, no .bak.
	[ "$release" != resolute ] || bp=current/ baks=
	[ -f "$img" ]
	e2fsck -fn "$img?offset=$(part_offset "$img" 2)" >/dev/null
	boot_fsck "$img" >/dev/null
	pkgs=$(installed "$img")

	# The RT kernel in /boot and on the boot partition, nothing of the
	# stock one.
	grep -qx "linux-image-$rel" <<<"$pkgs"
	# The release zips bring headers; Ubuntu's linux-image-raspi-realtime does not.
	[[ $rel == *-realtime ]] || grep -qx "linux-headers-$rel" <<<"$pkgs"
	! grep -qx "linux-image-$rel-dbg" <<<"$pkgs" || return 1
	! grep -Eq "^linux-(image|modules)-$STOCK_KERNEL_REL\$|^linux-raspi\$|^linux-image-raspi\$" <<<"$pkgs" || return 1
	[ "$(root_cat "$img" "/boot/vmlinuz-$rel")" = "kernel $rel" ]
	[ "$(root_cat "$img" "/boot/initrd.img-$rel")" = "stand-in initramfs for $rel" ]
	[ "$(root_stat "$img" /boot/vmlinuz | grep -o 'Fast link dest: .*')" = "Fast link dest: \"vmlinuz-$rel\"" ]
	! root_ls "$img" /boot | grep -q "$STOCK_KERNEL_REL" || return 1
	for f in "${bp}vmlinuz" ${baks:+vmlinuz.bak}; do
		[ "$(boot_cat "$img" "$f")" = "kernel $rel" ]
	done
	for f in "${bp}initrd.img" ${baks:+initrd.img.bak}; do
		[ "$(boot_cat "$img" "$f")" = "stand-in initramfs for $rel" ]
	done
	# That kernel's device tree and overlays, not the stock kernel's.
	[ "$(boot_cat "$img" "${bp}bcm2711-rpi-4-b.dtb")" = "dtb $rel" ]
	[ "$(boot_cat "$img" "${bp}overlays/vc4-kms-v3d.dtbo")" = "overlay $rel" ]

	# Purged, their files gone.
	for p in $VENDOR_STUBS_LIST; do
		! grep -qx "$p" <<<"$pkgs" || return 1
		! root_ls "$img" /usr/share/doc | grep -qw "$p" || return 1
	done

	# ROS 2 and the rest, from the local repositories, which are the only
	# apt sources.
	for p in "ros-$distro-ros-base" rt-tests cpufrequtils libraspberrypi-bin cpuset stress stress-ng; do
		grep -qx "$p" <<<"$pkgs" || { echo "not installed: $p" >&2; return 1; }
	done
	# The image's own apt sources, in its release's form, as they came
	# (they name every pocket already: the build adds none).
	if [ "$release" = noble ] || [ "$release" = resolute ]; then
		! root_stat "$img" /etc/apt/sources.list | grep -q Inode || return 1
		[ "$(root_cat "$img" /etc/apt/sources.list.d/ubuntu.sources)" = "$(ubuntu_sources "$release")" ]
	else
		[ "$(root_cat "$img" /etc/apt/sources.list)" = "$(ubuntu_sources "$release")" ]
	fi
	! root_names "$img" /etc/apt/sources.list.d | grep -qvx -e ubuntu.sources -e ros2.sources -e ros2-snapshots.sources || return 1

	# The real-time tuning (images/shared/rt-tuning.sh).
	run root_cat "$img" /etc/rt-image.conf
	grep -qx "RT_IMAGE_NAME=$r" <<<"$output"
	grep -Eqx 'RT_IMAGE_KIT_VERSION=[0-9].*' <<<"$output"
	# One pinned frequency for a Pi 4 image; on the images for both, each
	# model's own, chosen at boot.
	if [ "$release" = focal ] || [ "$release" = jammy ]; then
		grep -qx 'PINNED_CPU_FREQUENCY=1500000' <<<"$output"
		root_cat "$img" /etc/default/cpu-frequency | grep -qx PINNED_CPU_FREQUENCY=1500000
	else
		grep -qx 'PINNED_CPU_FREQUENCY=' <<<"$output"
		root_cat "$img" /etc/default/cpu-frequency | grep -qx PINNED_CPU_FREQUENCY=
		root_cat "$img" /etc/default/cpu-frequency | grep -qx PINNED_CPU_FREQUENCY_PI5=2400000
	fi
	grep -qx 'PINNED_CPU_FREQUENCY_PI4=1500000' <<<"$output"
	grep -qx 'PINNED_CPU_FREQUENCY_PI5=2400000' <<<"$output"
	grep -qx "RT_USER=$user" <<<"$output"
	grep -qx 'RT_GROUP=realtime' <<<"$output"
	root_cat "$img" /etc/security/limits.d/99-realtime.conf | grep -Eq '^@realtime[[:space:]]+-[[:space:]]+rtprio[[:space:]]+98$'
	root_cat "$img" /etc/security/limits.d/99-realtime.conf | grep -Eq '^@realtime[[:space:]]+-[[:space:]]+memlock[[:space:]]+unlimited$'
	root_cat "$img" /etc/sysctl.d/60-rt-compaction.conf | grep -qx 'vm.compact_unevictable_allowed = 0'
	# The stand-in has the user ubuntu already; another is made by
	# cloud-init at the first boot, in the group (the snippet says so).
	if [ "$user" = ubuntu ]; then
		root_cat "$img" /etc/group | grep -Eq '^realtime:x:[0-9]+:(.*,)?ubuntu(,.*)?$'
	else
		root_cat "$img" /etc/group | grep -Eq '^realtime:x:[0-9]+:'
	fi
	root_cat "$img" /etc/cloud/cloud.cfg.d/99-realtime-group.cfg | grep -Eqx -- '  *- realtime'
	root_cat "$img" /etc/cloud/cloud.cfg.d/99-realtime-group.cfg | grep -qx "    name: $user"
	if [ "$user" = ubuntu ]; then
		# No login knob: Ubuntu's own login, its user-data as it came.
		[ "$(boot_cat "$img" user-data)" = "$(cat "$F/seed/$release/user-data")" ]
		root_stat "$img" /etc/cloud/cloud.cfg.d/99-realtime-group.cfg | grep -q 'Mode:  0644'
	fi
	root_stat "$img" /etc/systemd/system/multi-user.target.wants/cpu-frequency.service | grep -q 'Type: symlink'
	root_stat "$img" /etc/systemd/system/sysinit.target.wants/rt-throttling.service | grep -q 'Type: symlink'
	root_stat "$img" /etc/systemd/system/ondemand.service | grep -q 'Fast link dest: "/dev/null"'

	# Nothing of the build: apt lists, .debs, qemu, policy-rc.d.
	lists=$(root_names "$img" /var/lib/apt/lists | grep -vx -e partial -e lock || true)
	[ -z "$lists" ] || { echo "apt lists left: $lists" >&2; return 1; }
	! root_ls "$img" /var/cache/apt/archives | grep -q '\.deb' || return 1
	! root_ls "$img" /usr/bin | grep -q qemu- || return 1
	! root_stat "$img" /usr/sbin/policy-rc.d | grep -q Inode || return 1

	# The lock copy has the RT kernel zip's hash (none fetched for the
	# archive's kernel); the committed one is untouched.
	local zip_url sum
	if [ "$release" != resolute ]; then
		zip_url=$(grep -o "$HTTP_URL/files/rt/[^ ]*" "$F/$r.log" | head -n 1)
		sum=$(sha256sum "$WWW${zip_url#"$HTTP_URL"/files}" | cut -d' ' -f1)
		grep -qx "$sum  $zip_url" "$F/$r.sources.lock"
	else
		! grep -q "/files/rt/" "$F/$r.sources.lock" || return 1
	fi
	git -C "$TOP" diff --quiet -- "images/$r/sources.lock"
}

VENDOR_STUBS_LIST="${VENDOR_STUBS[*]}"

# --- the stand-in itself -------------------------------------------------------

@test "the stand-in vendor image: Ubuntu's raspi layout, U-Boot chain, the stock kernel flashed, the stubs, the user ubuntu" {
	local pkgs p
	boot_fsck "$VENDOR"
	[ "$(blkid -p -O "$(part_offset "$VENDOR" 1)" -s LABEL -o value "$VENDOR")" = SYSTEM-BOOT ]
	[ "$(blkid -p -O "$(part_offset "$VENDOR" 2)" -s LABEL -o value "$VENDOR")" = writable ]
	boot_cat "$VENDOR" config.txt | grep -qx 'kernel=uboot_rpi_4.bin'
	boot_cat "$VENDOR" boot.scr | grep -q 'vmlinuz'
	boot_cat "$VENDOR" syscfg.txt | grep -qx 'cmdline=cmdline.txt'
	[ "$(boot_cat "$VENDOR" vmlinuz)" = "kernel $STOCK_KERNEL_REL" ]
	[ "$(boot_cat "$VENDOR" initrd.img)" = "stand-in initramfs for $STOCK_KERNEL_REL" ]
	[ "$(boot_cat "$VENDOR" bcm2711-rpi-4-b.dtb)" = "dtb $STOCK_KERNEL_REL" ]
	pkgs=$(installed "$VENDOR")
	grep -qx linux-raspi <<<"$pkgs"
	grep -qx "linux-image-$STOCK_KERNEL_REL" <<<"$pkgs"
	for p in "${VENDOR_STUBS[@]}" gnupg dirmngr systemd apt; do
		grep -qx "$p" <<<"$pkgs" || { echo "not installed: $p" >&2; return 1; }
	done
	root_cat "$VENDOR" /etc/passwd | grep -q '^ubuntu:x:'
	# cloud-init, with Ubuntu's default user and its NoCloud datasource.
	root_stat "$VENDOR" /etc/cloud/cloud.cfg | grep -q Inode
	root_cat "$VENDOR" /etc/cloud/cloud.cfg.d/90-ubuntu-standin.cfg | grep -qx '    fs_label: system-boot'
	root_stat "$VENDOR" /etc/kernel/postinst.d/zz-flash-kernel | grep -q 'Mode:  0755'
	[ -z "$(root_names "$VENDOR" /etc/apt/sources.list.d)" ]
	gpgv --keyring "$KEYRING" "$WWW/vendor/SHA256SUMS.gpg" "$WWW/vendor/SHA256SUMS"
	[ "$(wc -l <"$WWW/vendor/SHA256SUMS")" -eq 4 ]
}

@test "the stand-ins as served, one per release: boot partition size, boot chain, apt sources' form, cloud-init's ssh_pwauth" {
	local r img size chain pwauth
	local bp
	for r in focal:256:uboot_rpi_4.bin:true jammy:512:vmlinuz:true noble:512:vmlinuz:false resolute:512:vmlinuz:false; do
		IFS=: read -r r size chain pwauth <<<"$r"
		bp=
		[ "$r" != resolute ] || bp=current/
		img=$T/$r.img
		xz -dc "$WWW/vendor/ubuntu-standin-$r.img.xz" >"$img"
		[ "$(sfdisk --json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["size"] * 512 >> 20)')" = "$size" ]
		boot_fsck "$img" >/dev/null
		[ "$(blkid -p -O "$(part_offset "$img" 1)" -s LABEL -o value "$img")" = SYSTEM-BOOT ]
		e2fsck -fn "$img?offset=$(part_offset "$img" 2)" >/dev/null
		boot_cat "$img" config.txt | grep -qx "kernel=$chain"
		[ "$(boot_cat "$img" "${bp}vmlinuz")" = "kernel $STOCK_KERNEL_REL" ]
		boot_cat "$img" user-data | grep -qx "ssh_pwauth: $pwauth"
		if [ "$r" = resolute ]; then
			# A/B: the assets in current/ (good), config.txt's os_prefix,
			# panic=10, nothing at the top; flash-kernel's hook writes new/.
			boot_cat "$img" config.txt | grep -qx 'os_prefix=current/'
			[ "$(boot_cat "$img" current/state)" = good ]
			boot_cat "$img" current/cmdline.txt | grep -q ' panic=10$'
			[ "$(boot_cat "$img" current/bcm2711-rpi-4-b.dtb)" = "dtb $STOCK_KERNEL_REL" ]
			! boot_ls "$img" | grep -Eqix '(vmlinuz|initrd\.img|cmdline\.txt|boot\.scr)' || return 1
			root_cat "$img" /etc/kernel/postinst.d/zz-flash-kernel | grep -q 'fw/new/state'
			root_stat "$img" /etc/flash-kernel/piboot-validate | grep -q 'Mode:  0755'
			installed "$img" | grep -qx sudo-rs
		fi
		[ "$(boot_cat "$img" meta-data)" = "instance-id: $r-standin" ]
		if [ "$r" = noble ] || [ "$r" = resolute ]; then
			[ "$(root_cat "$img" /etc/apt/sources.list.d/ubuntu.sources)" = "$(ubuntu_sources "$r")" ]
			! root_stat "$img" /etc/apt/sources.list | grep -q Inode || return 1
		else
			[ "$(root_cat "$img" /etc/apt/sources.list)" = "$(ubuntu_sources "$r")" ]
			[ -z "$(root_names "$img" /etc/apt/sources.list.d)" ]
		fi
		cmp <(root_cat "$img" /usr/share/keyrings/ubuntu-archive-keyring.gpg) "$KEYRING"
		rm -f "$img"
	done
	# Ubuntu's real-time kernel: in noble-updates' universe, nowhere else.
	grep -q '^Package: linux-image-raspi-realtime$' "$WWW/ubuntu/dists/noble-updates/universe/binary-arm64/Packages"
	! grep -rqs 'linux-image-raspi-realtime' "$WWW/ubuntu/dists/noble/" "$WWW/ubuntu/dists/jammy-updates/" || return 1
}

# --- the three recipes, end to end ---------------------------------------------

@test "focal-rt-ros2 builds against the stand-ins: U-Boot's boot.scr, the ROS snapshot with its key from a keyserver, ARM_FREQ" {
	build focal-rt-ros2 ARM_FREQ=1800
	http_log_wait '"GET /pks/lookup\?op=get&[^"]*search=0x'"$KEY_FPR"'[^"]*" 200'
}

@test "focal-rt-ros2, offline: the RT kernel loaded by boot.scr, the snapshot source and its key, overclock in usercfg.txt" {
	local img=$F/build/focal-rt-ros2/focal-rt-ros2.img keys
	[ -f "$img" ] || skip "not built"
	check_image focal-rt-ros2 "$img" 5.4.195-rt74-raspi galactic
	boot_cat "$img" config.txt | grep -qx 'kernel=uboot_rpi_4.bin'
	boot_cat "$img" boot.scr | grep -q ' vmlinuz$'
	# The snapshot: its source and the key fetched by fingerprint; no
	# ros2-apt-source.
	! installed "$img" | grep -qx ros2-apt-source || return 1
	root_cat "$img" /etc/apt/sources.list.d/ros2-snapshots.sources | grep -qx "URIs: $HTTP_URL/files/ros2"
	root_cat "$img" /etc/apt/sources.list.d/ros2-snapshots.sources | grep -qx "Signed-By: /usr/share/keyrings/ros2-snapshots-archive-keyring.gpg"
	keys=$(root_cat "$img" /usr/share/keyrings/ros2-snapshots-archive-keyring.gpg | gpg --batch --with-colons --show-keys)
	[ "$(awk -F: '$1 == "fpr" { print $10; exit }' <<<"$keys")" = "$KEY_FPR" ]
	# ARM_FREQ where Ubuntu 20.04 keeps the user's settings; no isolation.
	[ "$(boot_cat "$img" usercfg.txt | tr -d '\r' | sed -n '/^# BEGIN rt-image-kit: overclock/,/^# END/p' | sed -n '2,4p')" = "[pi4]
arm_freq=1800
[all]" ]
	! boot_cat "$img" config.txt | grep -q arm_freq || return 1
	! boot_cat "$img" cmdline.txt | grep -q isolcpus || return 1
	boot_cat "$img" cmdline.txt | grep -q 'root=LABEL=writable'
}

@test "focal-rt-ros2 is reproducible: built from nothing, then again by make verify-reproducible, the same image and dist, byte for byte; its SBOM valid" {
	local dir=$F/build/focal-repro
	run mk focal-rt-ros2 BUILD_DIR="$dir" ARM_FREQ=1800 DIST_FORMAT=zst dist verify-reproducible
	echo "$output" | tail -n 40
	[ "$status" -eq 0 ]
	grep -q '^focal-rt-ros2: reproducible: 8 files identical, byte for byte (focal-rt-ros2.img, focal-rt-ros2.img.zst ' <<<"$output"
	lap "focal-rt-ros2: make dist verify-reproducible (two builds)"
	run node "$TOP/tests/cdx-validate.js" "$dir/focal-rt-ros2.cdx.json"
	[ "$status" -eq 0 ]
	# Its downloads: the vendor image and the RT kernel zip, with their
	# hashes; the packages the vendor image brought depend on it. (The
	# stand-in's os-release is Debian's: the purls say deb/debian here.)
	python3 - "$dir/focal-rt-ros2.cdx.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
dls = sorted(c["name"] for c in b["components"] if c["bom-ref"].startswith("download:"))
assert dls == ["RPI4.RT.Kernel.deb.packages.zip", "ubuntu-standin-focal.img.xz"], dls
deps = {x["ref"]: x["dependsOn"] for x in b["dependencies"]}
pkgs = [c["bom-ref"] for c in b["components"] if c["type"] == "library"]
assert pkgs and any(deps.get(p, [""])[0].endswith("ubuntu-standin-focal.img.xz") for p in pkgs), deps
PY
}

@test "jammy-rt-humble builds against the stand-ins: kernel=vmlinuz, ros2-apt-source, ISOLATED_CPUS=2-3" {
	build jammy-rt-humble ISOLATED_CPUS=2-3
}

@test "jammy-rt-humble, offline: the RT kernel named in config.txt, ROS from ros2-apt-source, the CPUs isolated" {
	local img=$F/build/jammy-rt-humble/jammy-rt-humble.img
	[ -f "$img" ] || skip "not built"
	check_image jammy-rt-humble "$img" 5.15.98-rt62-raspi humble
	boot_cat "$img" config.txt | grep -qx 'kernel=vmlinuz'
	boot_cat "$img" config.txt | grep -qx 'initramfs initrd.img followkernel'
	installed "$img" | grep -qx ros2-apt-source
	cmp <(root_cat "$img" /usr/share/keyrings/ros2-archive-keyring.gpg) "$KEYRING"
	root_cat "$img" /etc/apt/sources.list.d/ros2.sources | grep -qx "URIs: $HTTP_URL/files/ros2"
	[ "$(boot_cat "$img" cmdline.txt | head -n 1 | tr ' ' '\n' | grep -E '^(isolcpus|nohz_full|rcu_nocbs|irqaffinity)=' | tr '\n' ' ')" = \
		"isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0,1 " ]
	root_cat "$img" /etc/rt-image.conf | grep -qx 'ISOLATED_CPUS=2-3'
	grep -qx "[0-9a-f]\{64\}  $HTTP_URL/files/ros-apt-source/$ROS_APT_SOURCE_DEB" "$F/jammy-rt-humble.sources.lock"
}

@test "jammy-rt-humble again with ISOLATED_CPUS back to empty: the phases rerun on the same image, the isolation undone, the rest as before" {
	local img=$F/build/jammy-rt-humble/jammy-rt-humble.img
	[ -f "$img" ] || skip "not built"
	build jammy-rt-humble
	[ "$(sed -n 's/^>>> [^:]*: //p' "$F/jammy-rt-humble.log" | tr '\n' ' ')" = \
		"phase1-host phase1-target phase2-host phase2-target finish " ]
	grep -qx 'phase1-target: RT kernel packages already installed: .*' "$F/jammy-rt-humble.log"
	grep -qx 'phase1-target: nothing to purge: no stock kernel, none of: .*' "$F/jammy-rt-humble.log"
	check_image jammy-rt-humble "$img" 5.15.98-rt62-raspi humble
	! boot_cat "$img" cmdline.txt | grep -Eq 'isolcpus|nohz_full|rcu_nocbs|irqaffinity' || return 1
	root_cat "$img" /etc/rt-image.conf | grep -qx 'ISOLATED_CPUS='
	boot_cat "$img" config.txt | grep -qx 'kernel=vmlinuz'
}

NOBLE_PASSWORD='s3cret pass, not in any log'

@test "noble-rt-jazzy builds against the stand-ins: the series' current point release, locked; RT_KERNEL_SOURCE=auto takes Ubuntu's raspi-realtime from noble-updates; the login knobs" {
	ssh-keygen -q -t ed25519 -N '' -C robot@workstation -f "$F/robot.key"
	build noble-rt-jazzy IMAGE_USER=robot AUTHORIZED_KEYS="$F/robot.key.pub" IMAGE_PASSWORD="$NOBLE_PASSWORD" \
		IMAGE_HOSTNAME=rt-noble
	grep -qx "phase1-target: robot: 1 SSH key(s); password IMAGE_PASSWORD, expired at the first login; password SSH on; host name rt-noble" "$F/noble-rt-jazzy.log"
	grep -qF "RT_KERNEL_SOURCE=auto: linux-image-raspi-realtime $ARCHIVE_RT_VERSION (noble-updates/universe) from the image's apt sources: Ubuntu's real-time kernel it is" "$F/noble-rt-jazzy.log"
	# UBUNTU_SERIES=24.04: the file cdimage's list names, recorded.
	grep -qx "[0-9a-f]\{64\}  $HTTP_URL/files/releases/24.04/release/ubuntu-24.04.3-preinstalled-server-arm64+raspi.img.xz" \
		"$F/noble-rt-jazzy.sources.lock"
	[ "$(cat "$F/build/noble-rt-jazzy/.download-name")" = ubuntu-24.04.3-preinstalled-server-arm64+raspi.img.xz ]
}

@test "noble-rt-jazzy, offline: Ubuntu's RT kernel as flash-kernel put it on system-boot, ROS from ros2-apt-source" {
	local img=$F/build/noble-rt-jazzy/noble-rt-jazzy.img
	[ -f "$img" ] || skip "not built"
	check_image noble-rt-jazzy "$img" "$ARCHIVE_RT_REL" jazzy robot
	installed "$img" | grep -qx linux-image-raspi-realtime
	# The login knobs, in cloud-init's settings, root's alone: the user,
	# its key, an expired SHA-512 password, password SSH on, the host name;
	# Ubuntu's user-data (ssh_pwauth: false, ubuntu's password) made way.
	local snip=/etc/cloud/cloud.cfg.d/99-realtime-group.cfg
	root_stat "$img" "$snip" | grep -q 'Mode:  0600'
	root_cat "$img" "$snip" >"$T/snippet"
	grep -qx -- "    - $(cat "$F/robot.key.pub")" "$T/snippet"
	grep -Eqx 'password: \$6\$.{8,}\$.{86}' "$T/snippet"
	grep -qx 'ssh_pwauth: true' "$T/snippet"
	grep -qx '  expire: true' "$T/snippet"
	grep -qx 'hostname: rt-noble' "$T/snippet"
	grep -qx '    lock_passwd: false' "$T/snippet"
	boot_cat "$img" user-data >"$T/user-data"
	# Nothing but the build's choice: no password for ubuntu.
	[ "$(head -n 1 "$T/user-data")" = "#cloud-config" ]
	[ "$(grep -v '^#' "$T/user-data")" = "ssh_pwauth: true" ]
	# The password itself: in no log, no file of the build, not in the image.
	! grep -rqF -- "$NOBLE_PASSWORD" "$F/noble-rt-jazzy.log" "$F/build/noble-rt-jazzy" "$TIMES" || return 1
	! grep -aqF -- "$NOBLE_PASSWORD" "$img" || return 1
	boot_cat "$img" config.txt | grep -qx 'kernel=vmlinuz'
	installed "$img" | grep -qx ros2-apt-source
	! boot_cat "$img" cmdline.txt | grep -q isolcpus || return 1
}

@test "Raspberry Pi Imager's files on a copy of noble-rt-jazzy: on the partition cloud-init reads (NoCloud, by its label), valid to its schema (that make dist's Imager entry says cloudinit: ubuntu-recipes.bats)" {
	local img=$F/build/noble-rt-jazzy/noble-rt-jazzy.img
	[ -f "$img" ] || skip "not built"
	cp --sparse=always "$img" "$T/card.img"
	mkdir -p "$T/imager"
	ssh-keygen -q -t ed25519 -N '' -f "$T/key"
	imager_files "$T/imager" "$(cat "$T/key.pub")"
	boot_put "$T/card.img" "$T/imager/user-data" "$T/imager/network-config" "$T/imager/meta-data"
	img-loop -q --state "$T/s" "$T/card.img" >/dev/null
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware >/dev/null
	# shellcheck disable=SC2016 # Python, run in the image
	run --separate-stderr img-nspawn-run -q --root "$T/root" sh -c '
		python3 -c "from cloudinit import util
cfg = util.read_conf_with_confd(\"/etc/cloud/cloud.cfg\")
print(\"SOURCES\", \" \".join(cfg[\"datasource_list\"]))
print(\"LABEL\", cfg[\"datasource\"][\"NoCloud\"][\"fs_label\"])"
		cloud-init schema --config-file /boot/firmware/user-data 2>&1 | tail -n 1'
	img-umount -q --state "$T/s"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "SOURCES NoCloud None" ]
	# NoCloud looks for the label in either case; the FAT has it in capitals.
	[ "${lines[1]}" = "LABEL system-boot" ]
	[ "$(blkid -p -O "$(part_offset "$T/card.img" 1)" -s LABEL -o value "$T/card.img" | tr 'A-Z' 'a-z')" = system-boot ]
	[[ ${lines[2]} == "Valid schema"* ]]
	diff <(boot_cat "$T/card.img" user-data) "$T/imager/user-data"
}

# fw_read IMG MODEL: what the firmware of MODEL (pi4, pi5) reads in IMG's
# config.txt when it boots normally: "OS_PREFIX KERNEL INITRAMFS CMDLINE"
# ([all] and [MODEL] apply, [tryboot] and other models' sections do not).
fw_read() {
	boot_cat "$1" config.txt | tr -d '\r' | awk -v m="[$2]" '
		/^\[/ { if ($0 == "[all]") { mo = mm = 1 } else if ($0 == "[tryboot]" || $0 == "[none]") mm = 0; else mo = ($0 == m); next }
		!mo || !mm { next }
		sub(/^os_prefix=/, "") { p = $0 }
		sub(/^kernel=/, "") { k = $0 }
		sub(/^cmdline=/, "") { c = $0 }
		$1 == "initramfs" { i = $2 }
		BEGIN { mo = mm = 1; k = "kernel8.img"; c = "cmdline.txt" }
		END { print p, k, i, c }'
}

@test "resolute-rt-lyrical builds against the stand-ins: 26.04's current point release, Ubuntu's RT kernel from the archive, the A/B boot, PIBOOT_VALIDATE_RT=yes" {
	build resolute-rt-lyrical PIBOOT_VALIDATE_RT=yes ARM_FREQ_PI5=2600 IMAGE_USER=pilot IMAGE_HOSTNAME=rt-resolute
	local log=$F/resolute-rt-lyrical.log
	grep -qx "[0-9a-f]\{64\}  $HTTP_URL/files/releases/26.04/release/ubuntu-26.04.1-preinstalled-server-arm64+raspi.img.xz" \
		"$F/resolute-rt-lyrical.sources.lock"
	grep -qx "phase1-host: RT_KERNEL_SOURCE=archive: the kernel comes from the image's apt sources" "$log"
	grep -qx "phase1-target: installing linux-image-raspi-realtime (Ubuntu's real-time kernel) from the archive" "$log"
	grep -q "^phase1-target: promoting .*/new (the RT kernel $RESOLUTE_RT_REL, as flash-kernel wrote it) to .*/current, as piboot-try-validate would\$" "$log"
	for m in pi4:bcm2711-rpi-4-b.dtb pi5:bcm2712-rpi-5-b.dtb; do
		grep -qx "phase2-target: ${m%%:*}: the firmware boots vmlinuz -> current/vmlinuz = /boot/vmlinuz-$RESOLUTE_RT_REL (RT kernel $RESOLUTE_RT_REL), current/${m#*:}" "$log"
	done
	grep -qx "phase1-target: /etc/flash-kernel/piboot-validate: rt-check's kernel check added (PIBOOT_VALIDATE_RT=yes)" "$log"
}

@test "resolute-rt-lyrical, offline: the RT kernel in current/ as the Pi 4's and the Pi 5's firmware read config.txt, nothing pending, Lyrical, sudo-rs kept, the validate check" {
	local img=$F/build/resolute-rt-lyrical/resolute-rt-lyrical.img rel=$RESOLUTE_RT_REL m prefix kernel initrd cmdline
	[ -f "$img" ] || skip "not built"
	check_image resolute-rt-lyrical "$img" "$rel" lyrical pilot
	installed "$img" | grep -qx linux-image-raspi-realtime
	installed "$img" | grep -qx sudo-rs
	for m in pi4:"dtb $rel":bcm2711-rpi-4-b.dtb pi5:"dtb pi5 $rel":bcm2712-rpi-5-b.dtb; do
		read -r prefix kernel initrd cmdline < <(fw_read "$img" "${m%%:*}")
		[ "$prefix" = current/ ]
		[ "$(boot_cat "$img" "$prefix$kernel")" = "kernel $rel" ]
		[ "$(boot_cat "$img" "$prefix$initrd")" = "stand-in initramfs for $rel" ]
		boot_cat "$img" "$prefix$cmdline" | grep -q 'root=LABEL=writable .*panic=10'
		[ "$(boot_cat "$img" "$prefix${m##*:}")" = "$(cut -d: -f2 <<<"$m")" ]
	done
	# The CM5's device tree too; the stock kernel's nowhere; current/ good,
	# no new/ to try at the first boot, no old/.
	[ "$(boot_cat "$img" current/bcm2712-rpi-cm5-cm5io.dtb)" = "dtb cm5 $rel" ]
	[ "$(boot_cat "$img" current/state)" = good ]
	! boot_ls "$img" | grep -Eqx 'new|old|vmlinuz|initrd\.img' || return 1
	! MTOOLS_SKIP_CHECK=1 mtype -i "$img@@$(part_offset "$img" 1)" ::current/* 2>/dev/null | grep -aq "$STOCK_KERNEL_REL" || return 1
	# The Pi 5's overclock in its own section, nothing for the Pi 4's.
	[ "$(boot_cat "$img" config.txt | tr -d '\r' | sed -n '/^# BEGIN rt-image-kit: overclock/,/^# END rt-image-kit: overclock/p')" = \
		"# BEGIN rt-image-kit: overclock (ARM_FREQ, OVER_VOLTAGE)
[pi5]
arm_freq=2600
[all]
# END rt-image-kit: overclock" ]
	root_cat "$img" /etc/rt-image.conf | grep -qx 'ARM_FREQ_PI5=2600'
	# The login: the user and the host name in cloud-init's settings.
	root_cat "$img" /etc/cloud/cloud.cfg.d/99-realtime-group.cfg | grep -qx 'hostname: rt-resolute'
	# The validate check.
	root_cat "$img" /etc/flash-kernel/piboot-validate | grep -qx '/usr/local/sbin/rt-check --duration 0 --only kernel >&2 || exit 1'
	root_cat "$img" /etc/rt-image.conf | grep -qx 'RT_IMAGE_NAME=resolute-rt-lyrical'
}

# --- the lock file, again ------------------------------------------------------

@test "LOCKED=1: the fetching stages of jammy-rt-humble again, from an empty download cache, verified against the lock" {
	[ -f "$F/build/jammy-rt-humble/.stamp_phase2-host" ] || skip "not built"
	local lock=$F/jammy-rt-humble.sources.lock before
	before=$(sha256sum <"$lock")
	MK_CACHE=$F/cache-locked run --separate-stderr mk jammy-rt-humble LOCKED=1 V=1 \
		fetch phase1-host phase2-host
	mk jammy-rt-humble clean-mounts >/dev/null
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$lock")" = "$before" ]
	[[ $output == *"sha256 verified"* ]]
	[ -f "$F/cache-locked/rt-kernel/5.15.98-rt62-raspi-arm64-lttng/RPI4.RT.Kernel.deb.packages.zip" ]
	[ -f "$F/cache-locked/ros-apt-source/$ROS_APT_SOURCE_DEB" ]
	# Without the lock's entries, LOCKED=1 refuses.
	grep '^#' "$lock" >"$T/empty.lock"
	MK_CACHE=$F/cache-locked2 run --separate-stderr mk jammy-rt-humble LOCKED=1 \
		SOURCES_LOCK="$T/empty.lock" phase1-host
	mk jammy-rt-humble clean-mounts >/dev/null
	[ "$status" -ne 0 ]
	[[ $stderr == *"has no entry in '$T/empty.lock' and no pinned hash; refused (--locked)"* ]]
	lap "jammy-rt-humble: LOCKED=1 fetch phase1-host phase2-host"
}

@test "without V=1, a download's hash recorded in the lock file still reaches the terminal" {
	[ -f "$F/build/jammy-rt-humble/.stamp_phase2-host" ] || skip "not built"
	local url=$HTTP_URL/files/rt/5.15.98-rt62-raspi-arm64-lttng/RPI4.RT.Kernel.deb.packages.zip sum
	sum=$(sha256sum "$WWW/rt/5.15.98-rt62-raspi-arm64-lttng/RPI4.RT.Kernel.deb.packages.zip" | cut -d' ' -f1)
	grep '^#' "$F/jammy-rt-humble.sources.lock" >"$T/new.lock"
	run --separate-stderr mk jammy-rt-humble --no-print-directory SOURCES_LOCK="$T/new.lock" phase1-host
	mk jammy-rt-humble clean-mounts >/dev/null
	printf '%s\n' "$output" "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = ">>> jammy-rt-humble: phase1-host
img-fetch: recorded sha256 $sum of $url in '$T/new.lock'; commit new.lock" ]
	[ -z "$stderr" ]
	grep -qx "$sum  $url" "$T/new.lock"
}

@test "a tampered RT kernel zip: refused with one line, nonzero, the build directory not advanced" {
	local b=$F/build/noble-rt-jazzy url good bad before
	[ -f "$b/.stamp_phase1-host" ] || skip "not built"
	url=$HTTP_URL/files/rt/tampered/RPI4.RT.Kernel.deb.packages.zip
	mkdir -p "$WWW/rt/tampered"
	{ cat "$WWW/rt/6.8.4-r11/RPI4.RT.Kernel.deb.packages.zip"; echo tampered; } >"$WWW/rt/tampered/RPI4.RT.Kernel.deb.packages.zip"
	good=$(sha256sum "$WWW/rt/6.8.4-r11/RPI4.RT.Kernel.deb.packages.zip" | cut -d' ' -f1)
	bad=$(sha256sum "$WWW/rt/tampered/RPI4.RT.Kernel.deb.packages.zip" | cut -d' ' -f1)
	# The lock says the good zip's hash for that URL.
	echo "$good  $url" >>"$F/noble-rt-jazzy.sources.lock"
	before=$(cd "$b" && stat -c '%n %Y' .stamp_phase1-target .stamp_phase2-host .stamp_phase2-target)
	run --separate-stderr mk noble-rt-jazzy RT_KERNEL_URL="$url"
	mk noble-rt-jazzy clean-mounts >"$T/clean.out" 2>&1 || { cat "$T/clean.out"; false; }
	[ "$status" -ne 0 ]
	# The terminal shows a line per stage, then the end of the failed
	# stage's log on stderr, whose one img-fetch line says why.
	[ "$(sed -n 's/^>>> noble-rt-jazzy: //p' <<<"$output" | tr '\n' ' ')" = "phase1-host " ]
	[[ $(grep '^img-fetch: ' <<<"$stderr") == "img-fetch: '$F/cache/rt-kernel/tampered/RPI4.RT.Kernel.deb.packages.zip' does not match its entry in '$F/noble-rt-jazzy.sources.lock': expected sha256 $good, got $bad;"* ]]
	[ "$(grep -c '^img-fetch: ' <<<"$stderr")" -eq 1 ]
	[[ ${stderr_lines[-2]} == *"noble-rt-jazzy: phase1-host failed; log: $b/logs/"* ]]
	# The same line ends the stage's log.
	[[ $(tail -n 1 "$b"/logs/*-phase1-host.log) == "img-fetch: '$F/cache/rt-kernel/tampered/"*"expected sha256 $good, got $bad;"* ]]
	[ ! -e "$F/cache/rt-kernel/tampered/RPI4.RT.Kernel.deb.packages.zip" ]
	[ ! -e "$b/scratch/rt-kernel" ]
	[ "$(cd "$b" && stat -c '%n %Y' .stamp_phase1-target .stamp_phase2-host .stamp_phase2-target)" = "$before" ]
	[ ! -e "$b/.stamp_finish" ] && [ ! -e "$b/noble-rt-jazzy.img" ]
}

@test "nothing of the builds is left attached or mounted" {
	local r
	for r in focal-rt-ros2 jammy-rt-humble noble-rt-jazzy resolute-rt-lyrical; do
		[ ! -d "$F/build/$r" ] || mk "$r" clean-mounts >/dev/null
	done
	assert_nothing_left "$F"
	assert_nothing_left "$(standin_build_dir)"
}
