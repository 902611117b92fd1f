# shellcheck shell=bash
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# What the suites of mk/image.mk share (`load pipeline_helper`): the
# vendor-like fixture served by a local lighttpd (setup_file), a test's own
# build dir, cache and output under $T named on the make command line (mk),
# a copy of the recipe to edit (recipe_copy), and the checks of a failed
# stage's lines (failure_check). teardown kills what a test left running
# and undoes its mounts and loop devices.

load test_helper

STAGES=(fetch extract grow overlay phase1-host phase1-target phase2-host phase2-target finish)

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	WWW=$BATS_FILE_TMPDIR/www
	mkdir -p "$WWW"
	cp "$(fixture vendor-mbr.img.xz)" "$WWW/"
	SUM=$(sha256sum "$WWW/vendor-mbr.img.xz" | cut -d' ' -f1)
	(cd "$WWW" && sha256sum --binary vendor-mbr.img.xz >SHA256SUMS)
	export WWW SUM
	http_start "$WWW"
}

teardown_file() {
	http_stop
}

setup() {
	require_root
	common_setup
	# Physical path: the tools print and record realpath()s.
	T=$(cd -- "$T" && pwd -P)
	export T
	R=$TOP/tests/recipes/fixture
	OUT=$T/out/fixture.img
	VARS=("IMAGE_URL=$HTTP_URL/files/vendor-mbr.img.xz" "IMAGE_SHA256=$SUM"
		"BUILD_DIR=$T/build" "CACHE_DIR=$T/cache" "OUTPUT=$OUT")
	# Processes (PID) and process groups (-PGID) this test started in the
	# background.
	BG_KILL=()
	# A FUSE daemon this test stopped.
	FUSE_STOPPED=
}

teardown() {
	local k
	# Skipped before common_setup: nothing of ours to clean.
	[ -n "${T-}" ] || return 0
	[ -z "$FUSE_STOPPED" ] || kill -CONT "$FUSE_STOPPED" 2>/dev/null || true
	for k in "${BG_KILL[@]}"; do
		kill -KILL -- "$k" 2>/dev/null || true
	done
	for k in "${BG_KILL[@]}"; do
		wait "${k#-}" 2>/dev/null || true
	done
	orphans_kill
	# A gpg-agent started for a test's own key.
	[ ! -d "$T/gnupg" ] || GNUPGHOME=$T/gnupg gpgconf --kill all 2>/dev/null || true
	[ ! -d "$R" ] || make --no-print-directory -C "$R" "${VARS[@]}" clean-mounts >/dev/null 2>&1 || true
	block_cleanup
}

# make on the recipe with this test's variables.
mk() {
	make --no-print-directory -C "$R" "${VARS[@]}" "$@"
}

# Work on a copy of the recipe, at $T/fixture (so its name stays "fixture").
recipe_copy() {
	cp -a "$TOP/tests/recipes/fixture" "$T/fixture"
	R=$T/fixture
	VARS+=("RTIK_SRC=$TOP")
}

# The stages that $output announced (">>> fixture: STAGE"), on one line.
stages() {
	local name=${1:-fixture}
	printf '%s\n' "${lines[@]}" | sed -n "s/^>>> $name: //p" | paste -sd' '
}

# The mtimes of the stamps of the stages given, in nanoseconds.
stamp_times() {
	local s
	for s in "$@"; do
		stat -c '%.9Y' "$T/build/.stamp_$s"
	done
}

# The stamp_times of the stages before STAGE.
stamps_before() {
	local s
	for s in "${STAGES[@]}"; do
		[ "$s" != "$1" ] || break
		stamp_times "$s"
	done
}

# output_open IMG NAME: attach IMG and mount it read-only at $T/NAME.
output_open() {
	img-loop -q --state "$T/$2.state" "$1" >/dev/null
	img-mount -q --read-only --state "$T/$2.state" --root "$T/$2" --mount 2:/ --mount 1:/boot/firmware >/dev/null
}

output_close() {
	img-umount -q --state "$T/$1.state"
}

# output_check IMG NAME RUNS: IMG holds the overlay and the work of every
# phase script, phase2-target having run RUNS times ("1+": at least once,
# where a signal may have hit between its work and its stamp).
output_check() {
	local v=$T/$2 boot
	output_open "$1" "$2"
	[ "$(cat "$v/etc/rtik-overlay")" = "from the fixture recipe's overlay" ]
	[ "$(cat "$v/etc/arch-marker")" = aarch64 ]
	[ "$(cat "$v/etc/phase1-host-marker")" = "phase1-host rtik-fixture" ]
	[ "$(cat "$v/etc/phase1-target-marker")" = "phase1-target rtik-fixture" ]
	[ "$(cat "$v/etc/phase2-host-marker")" = aarch64 ]
	[ "$(cat "$v/etc/phase2-target-marker")" = "phase2-target rtik-fixture" ]
	if [ "$3" = 1+ ]; then
		[ "$(cat "$v/etc/phase2-target-runs")" -ge 1 ]
	else
		[ "$(cat "$v/etc/phase2-target-runs")" = "$3" ]
	fi
	# FAT through fusefat may show 8.3 names in capitals.
	boot=$(find "$v/boot/firmware" -maxdepth 1 -iname extra.txt)
	[ "$(cat "$boot")" = "# from the fixture recipe's overlay" ]
	! touch "$v/etc/rw-test" 2>/dev/null
	output_close "$2"
}

# The PID of the fusefat daemon serving DIR, if there is one.
fusefat_of() {
	local p argv
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = fusefat ] || continue
		mapfile -d '' argv 2>/dev/null <"$p/cmdline" || continue
		[ "${#argv[@]}" -gt 0 ] || continue
		[ "${argv[-1]}" != "$1" ] || { echo "${p#/proc/}"; return 0; }
	done
}

# bg_build DIR NAME: a build of a copy of the recipe at DIR, in the
# background in a process group of its own, as image NAME in $T/build-NAME,
# whose phase1-target sleeps a minute; returns when that sleep has begun
# and sets BG_PID.
bg_build() {
	local dir=$1 name=$2 log=$T/build-$2/logs/08-phase1-target.log n
	cp -a "$TOP/tests/recipes/fixture" "$dir"
	sed -i 's/^uname -m/echo "phase1-target: sleeping"\nsleep 60\n&/' "$dir/setup/20-phase1-target.sh"
	grep -qx 'sleep 60' "$dir/setup/20-phase1-target.sh"
	setsid make --no-print-directory -C "$dir" RTIK_SRC="$TOP" IMAGE_URL="$HTTP_URL/files/vendor-mbr.img.xz" \
		IMAGE_SHA256="$SUM" BUILD_DIR="$T/build-$name" CACHE_DIR="$T/cache" OUTPUT="$T/out/$name.img" \
		>"$T/$name.out" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	BG_KILL+=("-$BG_PID")
	for ((n = 0; n < 600; n++)); do
		grep -qsx "phase1-target: sleeping" "$log" && return 0
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "bg_build: $name did not reach its sleep:" >&2
	cat "$T/$name.out" >&2
	return 1
}

mounted() {
	awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# Processes of a container whose root is one of our images: those whose
# mount namespace has a loop device backed by a file under $T mounted at
# "/". (Another mount namespace may hold copies of our mounts, at their host
# paths: those are not matched.) Killed, so that a test that finds one
# leaves nothing behind; the kernel then lets go of the loop devices they
# kept.
orphans_kill() {
	local loops p n found=
	loops=$(losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$T" 'index($2, d "/") == 1 { print $1 }' | paste -sd' ')
	[ -n "$loops" ] || return 0
	for p in /proc/[0-9]*; do
		awk -v loops=" $loops " '$5 == "/" {
			for (k = 7; k <= NF; k++)
				if ($k == "-") { src = $(k + 2); break }
			sub(/p[0-9]+$/, "", src)
			if (index(loops, " " src " ")) { f = 1; exit }
		} END { exit !f }' "$p/mountinfo" 2>/dev/null || continue
		kill -KILL "${p#/proc/}" 2>/dev/null || true
		found=1
	done
	[ -n "$found" ] || return 0
	for ((n = 0; n < 100; n++)); do
		[ -n "$(losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$T" 'index($2, d "/") == 1')" ] || return 0
		sleep 0.05
	done
}

# STRING as an extended regular expression that matches it literally.
re_quote() {
	printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'
}

# The line a failed stage ends with, on stderr, as a regular expression;
# the continue command may have arguments after the recipe directory (the
# test "the continue command ..." checks them).
failed_line_re() {
	printf '^%s fixture: %s failed; log: %s; fix it, then run %s( [^%s]*)?%s to continue$' \
		"$(re_quote '***')" "$(re_quote "$1")" "$(re_quote "$2")" "$(re_quote "'make -C $R")" "'" "'"
}

# A failed stage on the terminal (no V=1): stdout has only the stages'
# ">>>" lines; stderr has the end of the stage's log, whose last line is
# REASON, then the line naming LOG and the command that continues the build,
# then make's own.
failure_check() {
	local stage=$1 log=$2 reason=$3 l
	for l in "${lines[@]}"; do
		[[ $l == ">>> fixture: "* ]]
	done
	[ "${stderr_lines[0]}" = "--- the end of $log:" ]
	[ "${stderr_lines[-3]}" = "$reason" ]
	[ "$(tail -n 1 "$log")" = "$reason" ]
	[[ ${stderr_lines[-2]} =~ $(failed_line_re "$stage" "$log") ]]
	[[ ${stderr_lines[-1]} =~ ^make:\ \*\*\*\ \[.*\]\ Error\ [0-9]+$ ]]
}
