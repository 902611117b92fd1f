#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# rt-check (overlays/rt-tuning): the knobs file parsed, never sourced; each
# check against a made-up /sys and /proc (RT_CHECK_SYS); cyclictest's
# summary (a stand-in that prints what the real one does) and
# --max-latency; --json read by python3; and inside the trixie image with
# img-nspawn-run, on this host's kernel, which is not PREEMPT_RT. The checks
# in a booted image are in img-boot.bats.

bats_require_minimum_version 1.5.0
load test_helper
load trixie_helper

RT_CHECK=$TOP/overlays/rt-tuning/usr/local/sbin/rt-check

setup() {
	common_setup
	S=$T/sys
	mkdir -p "$S/proc/sys/kernel" "$S/sys/kernel" "$S/sys/devices/system/cpu/cpufreq" "$T/bin"
	echo -1 >"$S/proc/sys/kernel/sched_rt_runtime_us"
	echo 0-3 >"$S/sys/devices/system/cpu/online"
	cat >"$T/rt-image.conf" <<-'EOF'
		# written by the image build
		RT_IMAGE_NAME=trixie-rt-pi4
		RT_IMAGE_KIT_VERSION=0.2.0
		PINNED_CPU_FREQUENCY=1500000
		ISOLATED_CPUS=
		RT_GROUP=realtime
	EOF
	# cyclictest as the real one ends with -q: one line per thread.
	cat >"$T/bin/cyclictest" <<-'EOF'
		#!/bin/sh
		echo "$*" >"${0%/*}/args"
		echo "# /dev/cpu_dma_latency set to 0us"
		echo "T: 0 ( 1234) P:90 I:1000 C:   1000 Min:      3 Act:    5 Avg:    4 Max:      21"
		echo "T: 1 ( 1235) P:90 I:1000 C:   1000 Min:      4 Act:    5 Avg:    6 Max:      35"
	EOF
	chmod +x "$T/bin/cyclictest"
	export RT_CHECK_CONF=$T/rt-image.conf RT_CHECK_SYS=$S
}

teardown() {
	[ -z "${MNT_STATE:-}" ] || img-umount -q --state "$MNT_STATE" >/dev/null 2>&1 || true
	[ -z "${MNT_STATE:-}" ] || img-loop -q --detach --state "$MNT_STATE" >/dev/null 2>&1 || true
	block_cleanup
}

# rt-check's line for check $1 in $output.
line() {
	printf '%s\n' "$output" | grep "^$1: "
}

@test "rt-check is shellcheck-clean, has --help and --version; usage errors exit 2" {
	shellcheck "$RT_CHECK"
	run "$RT_CHECK" --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: rt-check [--duration SEC] [--max-latency USEC] [--only LIST] [--json]"* ]]
	run "$RT_CHECK" --version
	[ "$status" -eq 0 ]
	[[ $output == "rt-check "* ]]
	run --separate-stderr "$RT_CHECK" --duration soon
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rt-check: --duration wants a number of seconds, not 'soon'" ]
	run --separate-stderr "$RT_CHECK" --max-latency
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rt-check: --max-latency needs a value" ]
	run --separate-stderr "$RT_CHECK" extra
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rt-check: unknown argument 'extra'" ]
	grep -qx '/usr/local/sbin/rt-check[[:space:]]*0755[[:space:]]*root:root' "$TOP/overlays/rt-tuning/.overlay-perms"
}

@test "this host's kernel is not PREEMPT_RT: the kernel line fails, named, and so does rt-check" {
	uname -v | grep -qv PREEMPT_RT || skip "this host runs PREEMPT_RT"
	run "$RT_CHECK" --duration 0
	[ "$status" -eq 1 ]
	[[ $(line kernel) == "kernel: FAIL (not PREEMPT_RT: $(uname -r) "* ]]
	[ "$(line image)" = "image: ok (trixie-rt-pi4, rt-image-kit 0.2.0)" ]
	[ "$(line latency)" = "latency: skip (--duration 0)" ]
}

@test "the knobs file is parsed, not sourced: known keys only, quotes removed, nothing run" {
	cat >"$T/rt-image.conf" <<-EOF
		RT_IMAGE_NAME="quoted name"
		RT_IMAGE_KIT_VERSION='9.9'
		RT_GROUP=\$(touch $T/pwned)
		PATH=/nowhere
		  # indented comment
		not a key line
	EOF
	run "$RT_CHECK" --duration 0
	[ ! -e "$T/pwned" ]
	[ "$(line image)" = "image: ok (quoted name, rt-image-kit 9.9)" ]
	# The group name is taken as it is, as a name.
	[[ $(line rt-limits) == "rt-limits: FAIL (no group '\$(touch $T/pwned)')" ]] ||
		[[ $(line rt-limits) == "rt-limits: skip (needs root (runuser))" ]]
	rm "$T/rt-image.conf"
	run "$RT_CHECK" --duration 0
	[ "$(line image)" = "image: skip (no $T/rt-image.conf: checking against the defaults)" ]
}

@test "RT throttling: -1 is ok, 950000 fails" {
	run "$RT_CHECK" --duration 0
	[ "$(line rt-throttling)" = "rt-throttling: ok (sched_rt_runtime_us = -1)" ]
	echo 950000 >"$S/proc/sys/kernel/sched_rt_runtime_us"
	run "$RT_CHECK" --duration 0
	[ "$status" -eq 1 ]
	[ "$(line rt-throttling)" = "rt-throttling: FAIL (sched_rt_runtime_us = 950000, want -1)" ]
}

@test "compaction: skipped when the image says nothing, ok when the value matches, fails otherwise" {
	run "$RT_CHECK" --duration 0
	[ "$(line compaction)" = "compaction: skip (COMPACT_UNEVICTABLE is not set)" ]
	echo COMPACT_UNEVICTABLE=0 >>"$T/rt-image.conf"
	run "$RT_CHECK" --duration 0
	[ "$(line compaction)" = "compaction: skip (no $S/proc/sys/vm/compact_unevictable_allowed: the kernel has no memory compaction)" ]
	mkdir -p "$S/proc/sys/vm"
	echo 0 >"$S/proc/sys/vm/compact_unevictable_allowed"
	run "$RT_CHECK" --duration 0
	[ "$(line compaction)" = "compaction: ok (vm.compact_unevictable_allowed = 0)" ]
	echo 1 >"$S/proc/sys/vm/compact_unevictable_allowed"
	run "$RT_CHECK" --duration 0
	[ "$status" -eq 1 ]
	[ "$(line compaction)" = "compaction: FAIL (vm.compact_unevictable_allowed = 1, want 0)" ]
}

@test "cpufreq: skipped without a driver, ok when pinned, fails on another governor or frequency" {
	run "$RT_CHECK" --duration 0
	[ "$(line cpufreq)" = "cpufreq: skip (no cpufreq policy in /sys/devices/system/cpu/cpufreq: no driver, as in an emulator)" ]
	local p=$S/sys/devices/system/cpu/cpufreq/policy0
	mkdir -p "$p"
	echo performance >"$p/scaling_governor"
	echo 1500000 >"$p/scaling_min_freq"
	echo 1500000 >"$p/scaling_max_freq"
	run "$RT_CHECK" --duration 0
	[ "$(line cpufreq)" = "cpufreq: ok (performance, pinned to 1500000 kHz)" ]
	echo ondemand >"$p/scaling_governor"
	echo 600000 >"$p/scaling_min_freq"
	run "$RT_CHECK" --duration 0
	[ "$(line cpufreq)" = "cpufreq: FAIL (policy0: governor ondemand; policy0: 600000-1500000 kHz, want 1500000;)" ]
}

@test "board: a Pi 4 or a Pi 5 from the device tree, each pinned to its own frequency unless one is set for all; another machine skipped" {
	local p=$S/sys/devices/system/cpu/cpufreq/policy0
	mkdir -p "$p" "$S/proc/device-tree"
	echo performance >"$p/scaling_governor"
	printf 'PINNED_CPU_FREQUENCY=\nPINNED_CPU_FREQUENCY_PI4=1500000\nPINNED_CPU_FREQUENCY_PI5=2400000\n' >>"$T/rt-image.conf"
	sed -i '/^PINNED_CPU_FREQUENCY=1500000$/d' "$T/rt-image.conf"
	echo 2400000 | tee "$p/scaling_min_freq" >"$p/scaling_max_freq"
	printf 'Raspberry Pi 5 Model B Rev 1.0\0' >"$S/proc/device-tree/model"
	run "$RT_CHECK" --duration 0 --only board,cpufreq
	[ "$output" = "board: ok (Raspberry Pi 5 Model B Rev 1.0 (pi5))
cpufreq: ok (performance, pinned to 2400000 kHz)" ]
	printf 'Raspberry Pi 4 Model B Rev 1.4\0' >"$S/proc/device-tree/model"
	run "$RT_CHECK" --duration 0 --only board,cpufreq
	[ "$(line board)" = "board: ok (Raspberry Pi 4 Model B Rev 1.4 (pi4))" ]
	[ "$(line cpufreq)" = "cpufreq: FAIL (policy0: 2400000-2400000 kHz, want 1500000;)" ]
	echo PINNED_CPU_FREQUENCY=2400000 >>"$T/rt-image.conf"
	run "$RT_CHECK" --duration 0 --only cpufreq
	[ "$output" = "cpufreq: ok (performance, pinned to 2400000 kHz)" ]
	printf 'linux,dummy-virt\0' >"$S/proc/device-tree/model"
	run "$RT_CHECK" --duration 0 --only board
	[ "$output" = "board: skip (not a Raspberry Pi 4 or 5: linux,dummy-virt)" ]
	rm "$S/proc/device-tree/model"
	run "$RT_CHECK" --duration 0 --only board
	[ "$output" = "board: skip (no $S/proc/device-tree/model)" ]
}

@test "boot: Ubuntu's A/B state from the boot partition; no os_prefix skipped; current/ not good fails" {
	local b=$S/boot/firmware
	mkdir -p "$b/current"
	printf '[all]\nkernel=vmlinuz\n' >"$b/config.txt"
	run "$RT_CHECK" --duration 0 --only boot
	[ "$status" -eq 0 ]
	[ "$output" = "boot: skip (no A/B boot: $b/config.txt names no os_prefix)" ]
	printf '[all]\nos_prefix=current/\n[tryboot]\nos_prefix=new/\n[all]\nkernel=vmlinuz\n' >"$b/config.txt"
	echo good >"$b/current/state"
	run "$RT_CHECK" --duration 0 --only boot
	[ "$status" -eq 0 ]
	[ "$output" = "boot: ok (A/B: current/ good, no new/)" ]
	mkdir "$b/new"
	echo unknown >"$b/new/state"
	run "$RT_CHECK" --duration 0 --only boot
	[ "$output" = "boot: ok (A/B: current/ good, new/ unknown (tried at the next boot))" ]
	echo bad >"$b/new/state"
	run "$RT_CHECK" --duration 0 --only boot
	[ "$status" -eq 0 ]
	[ "$output" = "boot: ok (A/B: current/ good, new/ bad (an update that did not boot; current/ booted instead))" ]
	echo trying >"$b/current/state"
	run "$RT_CHECK" --duration 0 --only boot
	[ "$status" -eq 1 ]
	[ "$output" = "boot: FAIL (A/B: current/ trying, new/ bad (an update that did not boot; current/ booted instead): current/state is not good)" ]
}

@test "--only: the named checks alone, in the usual order; an unknown name exits 2 with one line" {
	run "$RT_CHECK" --duration 0 --only rt-throttling,image
	[ "$status" -eq 0 ]
	[ "$output" = "image: ok (trixie-rt-pi4, rt-image-kit 0.2.0)
rt-throttling: ok (sched_rt_runtime_us = -1)" ]
	run --separate-stderr "$RT_CHECK" --only kernel,speed
	[ "$status" -eq 2 ]
	[[ ${stderr_lines[0]} == "rt-check: --only: unknown check 'speed' (one of: image board boot kernel "* ]]
	run --separate-stderr "$RT_CHECK" --only ,
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rt-check: --only wants check names, not ','" ]
	run --separate-stderr "$RT_CHECK" --only
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rt-check: --only needs a value" ]
}

@test "isolated CPUs: skipped when not set; isolated, nohz_full and IRQ affinity checked when set" {
	run "$RT_CHECK" --duration 0
	[ "$(line isolated-cpus)" = "isolated-cpus: skip (ISOLATED_CPUS is not set)" ]
	[ "$(line irq-affinity)" = "irq-affinity: skip (ISOLATED_CPUS is not set)" ]
	sed -i 's/^ISOLATED_CPUS=.*/ISOLATED_CPUS=2-3/' "$T/rt-image.conf"
	echo 2-3 >"$S/sys/devices/system/cpu/isolated"
	echo 2,3 >"$S/sys/devices/system/cpu/nohz_full"
	mkdir -p "$S/proc/irq/11" "$S/proc/irq/30" "$S/proc/irq/31"
	echo 0-3 >"$S/proc/irq/11/effective_affinity_list" # per-CPU: left out
	echo 0-1 >"$S/proc/irq/30/effective_affinity_list"
	echo 0 >"$S/proc/irq/31/smp_affinity_list"
	run "$RT_CHECK" --duration 0
	[ "$(line isolated-cpus)" = "isolated-cpus: ok (2-3)" ]
	[ "$(line nohz-full)" = "nohz-full: ok (2-3)" ]
	[ "$(line irq-affinity)" = "irq-affinity: ok (no IRQ on CPUs 2-3)" ]
	echo 1-2 >"$S/proc/irq/30/effective_affinity_list"
	echo "" >"$S/sys/devices/system/cpu/nohz_full"
	echo 3 >"$S/sys/devices/system/cpu/isolated"
	run "$RT_CHECK" --duration 0
	[ "$status" -eq 1 ]
	[ "$(line isolated-cpus)" = "isolated-cpus: FAIL (isolated: '3', want 2-3)" ]
	[ "$(line nohz-full)" = "nohz-full: FAIL (nohz_full: '', want 2-3)" ]
	[ "$(line irq-affinity)" = "irq-affinity: FAIL (IRQs on isolated CPUs: 30)" ]
}

@test "latency: cyclictest's summary per CPU; --max-latency 1 fails on the latency line; --json" {
	PATH=$T/bin:$PATH run "$RT_CHECK" --duration 3
	[ "$(cat "$T/bin/args")" = "-m -S -p 90 --policy=fifo -i 1000 -D 3 -q" ]
	[ "$(line latency)" = "latency: ok (max 35 us: min/avg/max us over 3 s; CPU 0 3/4/21; CPU 1 4/6/35)" ]
	PATH=$T/bin:$PATH run "$RT_CHECK" --duration 3 --max-latency 30
	[ "$status" -eq 1 ]
	[ "$(line latency)" = "latency: FAIL (max 35 us > 30 us on CPU 1: min/avg/max us over 3 s; CPU 0 3/4/21; CPU 1 4/6/35)" ]
	PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 3 --max-latency 1 --json
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	printf '%s\n' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = {x["name"]: x for x in d["checks"]}
assert d["ok"] is False and d["image"] == "trixie-rt-pi4"
assert c["kernel"]["result"] in ("ok", "fail")
assert c["rt-throttling"]["result"] == "ok"
assert c["cpufreq"]["result"] == "skip"
assert c["latency"]["result"] == "fail" and "CPU 0 CPU 1" in c["latency"]["detail"], c["latency"]
assert d["latency"] == {"duration_s": 3, "max_latency_us": 1, "cpus": [
    {"cpu": 0, "min_us": 3, "avg_us": 4, "max_us": 21},
    {"cpu": 1, "min_us": 4, "avg_us": 6, "max_us": 35}]}, d["latency"]
'
}

@test "latency: a cyclictest that fails is a failure with its message" {
	printf '#!/bin/sh\necho "unable to change scheduling policy!" >&2\nexit 1\n' >"$T/bin/cyclictest"
	PATH=$T/bin:$PATH run "$RT_CHECK" --duration 1
	[ "$status" -eq 1 ]
	[ "$(line latency)" = "latency: FAIL (cyclictest failed: unable to change scheduling policy!)" ]
}

@test "in the trixie image, with img-nspawn-run on this host's kernel: kernel fails, named; --json parsed" {
	require_root
	uname -v | grep -qv PREEMPT_RT || skip "this host runs PREEMPT_RT"
	local img
	img=$(trixie_image)
	# Mounting may replay a journal: never on the shared image.
	cp --sparse=always "$img" "$T/img"
	MNT_STATE=$T/state
	img-loop -q --state "$MNT_STATE" "$T/img" >/dev/null
	img-mount -q --state "$MNT_STATE" --root "$T/root" --mount 2:/ >/dev/null
	unset RT_CHECK_CONF RT_CHECK_SYS
	run --separate-stderr img-nspawn-run -q --root "$T/root" -- /usr/local/sbin/rt-check --duration 0 --json
	echo "$output"
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = {x["name"]: x for x in d["checks"]}
assert d["ok"] is False
assert c["kernel"]["result"] == "fail" and c["kernel"]["detail"].startswith("not PREEMPT_RT"), c["kernel"]
assert c["image"]["result"] == "ok", c["image"]
assert c["units"]["result"] == "skip", c["units"]
'
	run img-nspawn-run -q --root "$T/root" -- /usr/local/sbin/rt-check --duration 0
	[[ $(line kernel) == "kernel: FAIL (not PREEMPT_RT: "* ]]
}

@test "rt-cpu-frequency: PINNED_CPU_FREQUENCY on any model, else the model's own from the device tree, else the maximum; a bad value is one line" {
	local cpu=$TOP/overlays/rt-tuning/usr/local/sbin/rt-cpu-frequency p=$T/cpufreq/policy0
	mkdir -p "$p"
	echo 0-3 >"$p/affected_cpus"
	echo 600000 >"$p/cpuinfo_min_freq"
	echo 2400000 >"$p/cpuinfo_max_freq"
	: >"$p/scaling_governor" && : >"$p/scaling_min_freq" && : >"$p/scaling_max_freq"
	printf 'Raspberry Pi 5 Model B Rev 1.0\0' >"$T/model"
	export CPUFREQ_DIR=$T/cpufreq CPUFREQ_MODEL=$T/model PINNED_CPU_FREQUENCY_PI4=1500000 PINNED_CPU_FREQUENCY_PI5=2400000
	run env PINNED_CPU_FREQUENCY= "$cpu"
	[ "$status" -eq 0 ]
	[ "$output" = "rt-cpu-frequency: policy0 (CPUs 0-3): performance, 2400000-2400000 kHz" ]
	printf 'Raspberry Pi 4 Model B Rev 1.4\0' >"$T/model"
	run env PINNED_CPU_FREQUENCY= "$cpu"
	[ "$output" = "rt-cpu-frequency: policy0 (CPUs 0-3): performance, 1500000-1500000 kHz" ]
	run env PINNED_CPU_FREQUENCY=1200000 "$cpu"
	[ "$output" = "rt-cpu-frequency: policy0 (CPUs 0-3): performance, 1200000-1200000 kHz" ]
	printf 'linux,dummy-virt\0' >"$T/model"
	run env PINNED_CPU_FREQUENCY= "$cpu"
	[ "$output" = "rt-cpu-frequency: policy0 (CPUs 0-3): performance, 600000-2400000 kHz" ]
	printf 'Raspberry Pi 5 Model B Rev 1.0\0' >"$T/model"
	run --separate-stderr env PINNED_CPU_FREQUENCY= PINNED_CPU_FREQUENCY_PI5=fast "$cpu"
	[ "$status" -eq 1 ]
	[ "$stderr" = "rt-cpu-frequency: the pinned frequency 'fast' is not a number of kHz" ]
}
