#!/usr/bin/env bats
# The packages: scripts/deps and mk/deps.mk check and install them before
# anything runs, and every program that the tools, mk/, the recipes' host
# scripts, the tests and the benchmarks run comes from a package that
# scripts/deps names, so that a missing one fails here and not on a new
# user's machine.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
}

teardown() {
	if [ -n "${NOBODY_DIR-}" ]; then rm -rf -- "$NOBODY_DIR"; fi
}

# A directory that anybody can read, with a dpkg-query that reports what
# the real one does, less the packages named, and a copy of the tree (the
# checkout may be where nobody else can read, such as /root).
nobody_dir() {
	NOBODY_DIR=$(mktemp -d /tmp/rtik-deps-test.XXXXXX)
	chmod 0755 "$NOBODY_DIR"
	mkdir "$NOBODY_DIR/bin"
	local real hide
	real=$(command -v dpkg-query) || skip "no dpkg-query"
	hide=$(printf '%s\n' "$@" | sed 's/^/^/; s/$/ /' | paste -sd'|')
	hide=${hide:-^$}
	cat >"$NOBODY_DIR/bin/dpkg-query" <<SH
#!/bin/sh
"$real" "\$@" | grep -Ev '$hide'
SH
	chmod 0755 "$NOBODY_DIR/bin/dpkg-query"
	mkdir "$NOBODY_DIR/tree"
	tar -C "$TOP" --exclude=./.git --exclude=./build --exclude=./cache -cf - . | tar -C "$NOBODY_DIR/tree" -xf -
}

# Run as an unprivileged user (nobody when the tests run as root).
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
	else
		"$@"
	fi
}

@test "scripts/deps: list prints a set, each name once; an unknown set is a usage error" {
	run "$TOP/scripts/deps" list build
	[ "$status" -eq 0 ]
	[[ $output == *scdoc* ]]
	[[ $output != *mmdebstrap* ]]
	run "$TOP/scripts/deps" list build run
	[[ $output == *scdoc* && $output == *mmdebstrap* && $output != *bats* ]]
	run "$TOP/scripts/deps" list all
	[ "$(printf '%s\n' "$output" | sort | uniq -d)" = "" ]
	[[ $output == *lighttpd-mod-openssl* ]]
	run --separate-stderr "$TOP/scripts/deps" list nonsense
	[ "$status" -eq 2 ]
	[ "$stderr" = "deps: unknown set 'nonsense' (build, run, test, all)" ]
}

@test "scripts/deps install, not root: one line naming what is missing and the command" {
	nobody_dir scdoc mtools
	PATH=$NOBODY_DIR/bin:$PATH run --separate-stderr as_user "$NOBODY_DIR/tree/scripts/deps" install build run
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "deps: missing packages: scdoc mtools; install them with: sudo apt-get install --no-install-recommends scdoc mtools" ]
	PATH=$NOBODY_DIR/bin:$PATH run as_user "$NOBODY_DIR/tree/scripts/deps" missing run
	[ "$status" -eq 0 ]
	[ "$output" = mtools ]
}

@test "an installed image.mk checks its run-time packages with rtik-deps beside it" {
	nobody_dir mtools
	make -C "$TOP" --no-print-directory -s O="$T/build" install DESTDIR="$NOBODY_DIR/root" PREFIX=/usr >/dev/null
	local mk=$NOBODY_DIR/root/usr/share/rt-image-kit/mk
	[ -x "$mk/rtik-deps" ]
	[ "$("$mk/rtik-deps" list all)" = "$("$TOP/scripts/deps" list all)" ]
	mkdir "$NOBODY_DIR/mine"
	cat >"$NOBODY_DIR/mine/Makefile" <<MK
IMAGE_URL := http://127.0.0.1:1/none.img
IMAGE_SHA256 := 0000000000000000000000000000000000000000000000000000000000000000
include $mk/image.mk
MK
	PATH=$NOBODY_DIR/bin:$PATH run --separate-stderr as_user env -u RTIK_DEPS_CHECKED make -s -C "$NOBODY_DIR/mine"
	[ "$status" -ne 0 ]
	[[ $stderr == "$mk/deps.mk:"*": *** rtik-deps: missing packages: mtools; install them with: sudo apt-get install --no-install-recommends mtools.  Stop." ]]
	# Nothing was made.
	[ ! -e "$NOBODY_DIR/mine/build" ]
}

@test "an image recipe in the tree and the top-level Makefile check build and run packages first" {
	nobody_dir scdoc fusefat
	local tree=$NOBODY_DIR/tree
	PATH=$NOBODY_DIR/bin:$PATH run --separate-stderr as_user env -u RTIK_DEPS_CHECKED \
		make -s -C "$tree/tests/recipes/fixture" -n
	[ "$status" -ne 0 ]
	[[ $stderr == "$tree/mk/deps.mk:"*": *** deps: missing packages: scdoc fusefat; install them with: sudo apt-get install --no-install-recommends scdoc fusefat.  Stop." ]]
	PATH=$NOBODY_DIR/bin:$PATH run --separate-stderr as_user env -u RTIK_DEPS_CHECKED make -s -C "$tree" -n all
	[ "$status" -ne 0 ]
	[[ $stderr == *"*** deps: missing packages: scdoc; install them with: sudo apt-get install --no-install-recommends scdoc.  Stop." ]]
	# Nothing was built.
	[ ! -e "$tree/build" ]
	# Cleaning needs nothing.
	PATH=$NOBODY_DIR/bin:$PATH run as_user env -u RTIK_DEPS_CHECKED make -s -C "$tree/tests/recipes/fixture" -n clean
	[ "$status" -eq 0 ]
}

# A copy of scripts/deps and tests/npm's manifest, with a dpkg-query that
# reports every package installed (or, given names, all but those) and an
# npm that logs its calls (and fails when $T/npm-fails exists).
npm_tree() {
	mkdir -p "$T/tree/scripts" "$T/tree/tests/npm" "$T/bin"
	cp "$TOP/scripts/deps" "$T/tree/scripts/"
	cp "$TOP/tests/npm/package.json" "$TOP/tests/npm/package-lock.json" "$T/tree/tests/npm/"
	"$TOP/scripts/deps" list all | grep -vxF -f <(printf '%s\n' "$@" _) | sed 's/$/ installed /' >"$T/status"
	cat >"$T/bin/dpkg-query" <<SH
#!/bin/sh
cat "$T/status"
SH
	cat >"$T/bin/npm" <<SH
#!/bin/sh
echo "\$PWD \$*" >>"$T/npm.log"
[ ! -e "$T/npm-fails" ] || exit 1
mkdir -p node_modules/@tktco
SH
	chmod 0755 "$T/bin/dpkg-query" "$T/bin/npm"
}

@test "scripts/deps: a package that an installed package provides is not missing" {
	npm_tree npm nodejs
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" missing test
	[ "$status" -eq 0 ]
	[ "$output" = "nodejs
npm" ]
	# nodejs from another source provides npm (with a version, or not).
	echo "nodejs installed nodejs-doc, npm (= 10.9.2), nodejs-legacy" >>"$T/status"
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" missing test
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	# What a package that is not installed provides does not count.
	sed -i '$d' "$T/status"
	echo "nodejs config-files npm" >>"$T/status"
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" missing test
	[ "$output" = "nodejs
npm" ]
}

@test "scripts/deps install test: the npm packages from tests/npm's lock file, once; a failing npm ci is one line" {
	npm_tree
	PATH=$T/bin:$PATH run --separate-stderr "$T/tree/scripts/deps" install test
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = ">>> installing the npm packages of $T/tree/tests/npm/package-lock.json" ]
	[ "$(cat "$T/npm.log")" = "$T/tree/tests/npm ci --no-audit --no-fund --ignore-scripts --loglevel=error" ]
	cmp "$T/tree/tests/npm/package-lock.json" "$T/tree/tests/npm/node_modules/.rtik-installed-lock"
	# Installed: nothing to do; the build and run sets never run npm.
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" install test
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	rm -rf "$T/tree/tests/npm/node_modules"
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" install build run
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$(wc -l <"$T/npm.log")" -eq 1 ]
	# A failing npm ci: one line, status 1, nothing recorded as installed.
	touch "$T/npm-fails"
	PATH=$T/bin:$PATH run --separate-stderr "$T/tree/scripts/deps" install all
	[ "$status" -eq 1 ]
	[ "$stderr" = "deps: npm ci in $T/tree/tests/npm failed" ]
	[ ! -e "$T/tree/tests/npm/node_modules/.rtik-installed-lock" ]
	# The lock file changed: installed again.
	rm "$T/npm-fails"
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" install test
	[ "$status" -eq 0 ]
	echo >>"$T/tree/tests/npm/package-lock.json"
	PATH=$T/bin:$PATH run "$T/tree/scripts/deps" install test
	[ "$output" = ">>> installing the npm packages of $T/tree/tests/npm/package-lock.json" ]
	[ "$(wc -l <"$T/npm.log")" -eq 4 ]
}

@test "check-fresh refuses to run without root, before it makes anything" {
	nobody_dir
	run --separate-stderr as_user "$NOBODY_DIR/tree/scripts/check-fresh"
	[ "$status" -eq 1 ]
	[ "$stderr" = "check-fresh: must run as root (it makes a Debian root and mounts in it)" ]
	[ ! -e "$NOBODY_DIR/tree/build" ]
}

# ---- the programs that the shipped code runs on the host ----

# Every program that tools/, mk/, the Makefiles, scripts/, the recipes' host
# scripts (*-host.sh and what they source), tests/ and bench/ run, but those
# of essential packages (always installed). Target scripts, which run in
# the image with the image's own packages, are not in it.
programs=(
	apt-ftparchive apt-get awk bats bmaptool bzip2 cc chromium cpio curl debugfs diffoscope dpkg-deb dumpe2fs e2fsck fsck.fat
	fsck.vfat fuse2fs fusefat getcap git gpg gpgconf gpgv gzip lighttpd losetup lz4 make mcopy mdel mdeltree mdir minfo mke2fs mmd
	mkfs.ext4 mkfs.vfat mmdebstrap mount mtype node openssl parallel partx patchelf pgrep pkg-config ps python3
	qemu-system-aarch64 resize2fs rsync scdoc scp setcap setfacl sfdisk shellcheck ssh ssh-keygen sysctl systemctl
	systemd-nspawn umount unzip xmllint xz zip zstd
)
# Words in those sources that happen to be the names of programs on some
# machine, but are not run on the host (update-ca-certificates: check-fresh
# runs the new root's own; journalctl and systemd-analyze: the booted
# image's, in a command img-boot runs there; qemu-aarch64 and qemu-riscv64:
# binfmt_misc entries' names, programs of QEMU 9 and later's qemu-user).
not_programs=(
	adduser apt apt-cache as column chpasswd debconf dirmngr e2scrub fakeroot fdisk file free gcc init kill less man mtools opt passwd pc
	journalctl policy-rc.d poweroff qemu-aarch64 qemu-riscv64 qemu-system-arm reboot size strings strip systemd systemd-analyze systemd-run
	open red time top update-ca-certificates uptime view w write
)

# The sources, one path a line, relative to TOP; not scripts/deps (package
# names) nor this file (the lists).
sources_shell() {
	cd "$TOP" && ls -d Makefile .ci/run scripts/* mk/* bench/* tests/*.bats tests/*.bash \
		tests/fixtures/mkfixture images/*/Makefile images/*/setup/*-host.sh images/shared/common.sh \
		images/shared/*.mk images/shared/ubuntu/*.mk images/shared/ubuntu/*-host.sh \
		tests/recipes/*/Makefile tests/recipes/*/setup/*-host.sh tests/recipes/*/*-host.sh \
		tests/recipes/*/stubs.sh 2>/dev/null |
		grep -vx -e scripts/deps -e tests/deps.bats
}
sources_c() {
	cd "$TOP" && ls -d tools/*.c tools/lib/*.c
}

# "FILE WORD" for every word of the shell and make sources (comments left
# out) and every string literal of the C sources that could name a program.
source_words() {
	local f
	while read -r f; do
		sed -E 's/(^|[[:space:]])#.*//' "$TOP/$f" | grep -oE '[A-Za-z0-9_][A-Za-z0-9_.+-]*' | sed "s|^|$f |"
	done < <(sources_shell)
	while read -r f; do
		sed -E 's|(^\|[[:space:]])//.*||' "$TOP/$f" | grep -oE '"[A-Za-z0-9_][A-Za-z0-9_.+-]*"' | tr -d '"' | sed "s|^|$f |"
	done < <(sources_c)
}

# "NAME PACKAGE" for each NAME given that is a program here: the package of
# the file that PATH finds, or (a file no package owns, such as a pyenv
# shim) of /usr/bin/NAME, /bin/NAME, /usr/sbin/NAME, /sbin/NAME, each as
# it is and resolved (usrmerge: dpkg may know only one of the two).
# "NAME -" for a program that no package provides.
program_packages() {
	local n c paths=() owners
	declare -A cand=()
	for n; do
		c=$(type -P "$n") || continue
		cand[$n]="$c $(realpath "$c") /usr/bin/$n /bin/$n /usr/sbin/$n /sbin/$n"
		for c in ${cand[$n]}; do
			[ -e "$c" ] && paths+=("$c" "$(realpath "$c")")
		done
	done
	[ ${#paths[@]} -gt 0 ] || return 0
	# "pkg[, pkg]: path", one dpkg for all of them.
	owners=$(dpkg -S "${paths[@]}" 2>/dev/null | grep -v '^diversion by ' || true)
	for n in "${!cand[@]}"; do
		local pkg=-
		for c in ${cand[$n]}; do
			[ -e "$c" ] || continue
			pkg=$(printf '%s\n' "$owners" | awk -v a="$c" -v b="$(realpath "$c")" '
				{ i = index($0, ": "); p = substr($0, i + 2) }
				p == a || p == b { s = substr($0, 1, i - 1); sub(/,.*/, "", s); sub(/:.*/, "", s); print s; exit }')
			[ -z "$pkg" ] || break
			pkg=-
		done
		echo "$n $pkg"
	done
}

# Packages every Debian system has: essential and required.
base_package() {
	local e
	e=$(dpkg-query -W -f='${Essential} ${Priority}' "$1" 2>/dev/null) || return 1
	[[ $e == yes* || $e == *" required" ]]
}

@test "every program the code runs comes from a package that scripts/deps installs" {
	command -v dpkg >/dev/null || skip "not a Debian system"
	local listed deps n pkg bad=
	listed=" $("$TOP/scripts/deps" list all | tr '\n' ' ') "
	# What the listed packages depend on directly comes with them
	# (gcc-12 with gcc, pkgconf with pkg-config).
	deps=" $(dpkg-query -W -f='${Depends}, ${Pre-Depends}\n' $listed 2>/dev/null |
		tr ',|' '\n\n' | sed 's/^ *//; s/[ :(].*//' | sort -u | tr '\n' ' ') "
	for n in "${programs[@]}"; do
		type -P "$n" >/dev/null || { echo "$n: not installed, and no package that scripts/deps names provides it"; bad=1; }
	done
	while read -r n pkg; do
		if [ "$pkg" = - ]; then
			echo "$n: $(type -P "$n") belongs to no package"
			bad=1
		elif [[ $listed != *" $pkg "* && $deps != *" $pkg "* ]] && ! base_package "$pkg"; then
			echo "$n: from package $pkg, which scripts/deps does not name"
			bad=1
		fi
	done < <(program_packages "${programs[@]}")
	[ -z "$bad" ]
}

@test "every program named in the sources is in the list of programs run, or of words that are not" {
	command -v dpkg >/dev/null || skip "not a Debian system"
	local known words n pkg f bad=
	known=" ${programs[*]} ${not_programs[*]} "
	words=$(source_words | sort -u -k2,2)
	# Names of our own tools are not looked up.
	mapfile -t cand < <(printf '%s\n' "$words" | awk '{ print $2 }' | grep -v '^img-' |
		while read -r n; do [[ $known == *" $n "* ]] || echo "$n"; done)
	while read -r n pkg; do
		[ "$pkg" != - ] || continue
		[ "$(dpkg-query -W -f='${Essential}' "$pkg" 2>/dev/null)" != yes ] || continue
		f=$(printf '%s\n' "$words" | awk -v n="$n" '$2 == n { print $1; exit }')
		echo "$f: '$n' ($pkg): add it to programs (and its package to scripts/deps) or to not_programs in tests/deps.bats"
		bad=1
	done < <(program_packages "${cand[@]}")
	[ -z "$bad" ]
}

@test "every program in the list is still named in the sources" {
	local words n bad=
	words=" $(source_words | awk '{ print $2 }' | sort -u | tr '\n' ' ') "
	for n in "${programs[@]}"; do
		[[ $words == *" $n "* ]] || { echo "$n: in programs but in no source: remove it"; bad=1; }
	done
	[ -z "$bad" ]
}
