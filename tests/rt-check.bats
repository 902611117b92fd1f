#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# rt-check (overlays/rt-tuning): the knobs file parsed, never sourced; each
# check against a made-up /sys and /proc (RT_CHECK_SYS); cyclictest's
# summary (a stand-in that prints what the real one does) and
# --max-latency; --json read by python3; and inside the trixie image with
# img-nspawn-run, on this host's kernel, which is not PREEMPT_RT. The checks
# in a booted image are in trixie-firstboot.bats (its second boot).

bats_require_minimum_version 1.5.0
load test_helper
load trixie_helper
load report_helper

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
	fake_latency_tools "$T/bin"
	export RT_LATENCY_REPORT=$TOP/overlays/rt-tuning/usr/local/lib/rt-check/rt-latency-report
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
	shellcheck -x "$RT_CHECK"
	run "$RT_CHECK" --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: rt-check [--duration TIME] [--interval USEC] [--priority N] [--load[=LIST]]"* ]]
	run "$RT_CHECK" --version
	[ "$status" -eq 0 ]
	[[ $output == "rt-check "* ]]
	run --separate-stderr "$RT_CHECK" --duration soon
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rt-check: --duration wants seconds or a time such as 30m or 2h, not 'soon'" ]
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
	[[ $(cat "$T/bin/args") == "-m -S -p 80 --policy=fifo -i 200 -D 3 -h 10000 --histfile="* ]]
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

@test "in the trixie image, with img-nspawn-run on this host's kernel: kernel fails, named; --json parsed; a latency report under load with the image's own tools" {
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
	# The latency report with the image's own cyclictest and stress-ng
	# (under qemu-user, on this host's kernel): nothing to install.
	# cyclictest -m locks qemu-user's memory too: CAP_IPC_LOCK.
	run --separate-stderr img-nspawn-run -q --capability=CAP_IPC_LOCK --root "$T/root" -- \
		/usr/local/sbin/rt-check --only latency --duration 3 --load --report /root/report
	echo "$output $stderr" >&2
	[ "$status" -eq 0 ]
	[[ $output == "latency: ok (max "*" us: min/avg/max us over 3 s under load (cpu); CPU 0 "* ]]
	report_valid "$T/root/root/report"
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["load"]["command"].startswith("stress-ng --cpu 0"), j; assert j["image"]["RT_IMAGE_NAME"] == "trixie-rt-pi4"' "$T/root/root/report/latency.json"
	! pgrep -x stress-ng >/dev/null || return 1
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

# ---- the latency report (--report, --load) ----

# report_check DIR: a valid report (report_valid: the SVG's bars and
# maxima are the JSON's) whose JSON holds the fake cyclictest's histogram,
# the settings, the image and the published figures.
report_check() {
	report_valid "$1" true
	python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
j = json.load(open(os.path.join(d, "latency.json")))
want = {0: {3: 500, 4: 400, 5: 99, 21: 1}, 1: {4: 300, 5: 600, 6: 99, 35: 1}}
for c in j["cpus"]:
    assert dict(c["histogram"]) == want[c["cpu"]], c
    assert c["samples"] == sum(want[c["cpu"]].values()), c
assert [(c["min_us"], c["avg_us"], c["max_us"]) for c in j["cpus"]] == [(3, 4, 21), (4, 6, 35)]
assert j["max_us"] == 35
s = j["settings"]
assert (s["interval_us"], s["priority"], s["memory_locked"], s["histogram_max_us"]) == (200, 80, True, 10000), s
assert j["image"]["RT_IMAGE_NAME"] == "trixie-rt-pi4"
assert j["kernel"] == os.popen("uname -a").read().strip()
assert j["emulated"] is True and "emulated" in j["title"], j["title"]
assert [f["max_us"] for f in j["published"]["figures"]] == [148, 60, 58, 82, 34]
# The SVG's bars are the JSON's histogram: report_valid.
html = open(os.path.join(d, "report.html")).read()
assert "<svg" in html and j["title"] in html.replace("&amp;", "&"), html[:300]
assert "ros-realtime" in html and "this run" in html
PY
}

@test "--report: latency.json from the histogram, the SVG's bars and maximum match it, report.html holds both with the published figures" {
	mkdir -p "$S/proc/device-tree"
	printf 'linux,dummy-virt\0' >"$S/proc/device-tree/model"
	PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 2 --only latency --report "$T/report"
	[ "$status" -eq 0 ]
	[ "$output" = "latency: ok (max 35 us: min/avg/max us over 2 s; CPU 0 3/4/21; CPU 1 4/6/35)" ]
	[[ $stderr == *"rt-check: report: $T/report/report.html"* ]]
	report_check "$T/report"
	[ "$(ls -A "$T/report" | sort | tr '\n' ' ')" = "latency.json latency.svg report.html " ]
	# Drawn: report.html in headless Chromium has the bars and the maxima.
	local blue red
	read -r blue red < <(report_drawn "$T/report" "$T/shot.png")
	[ "$blue" -gt 2000 ] && [ "$red" -gt 100 ] || { echo "blue $blue, red $red" >&2; return 1; }
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["cut_short"] is False and j["load"] is None and j["settings"]["duration_s"] == 2' "$T/report/latency.json"
}

@test "the maximum is the histogram's: a bucket, or cyclictest's own when samples went past the histogram; --max-latency fails on it" {
	CYC_MAX="00099 00099" PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 1 --only latency --max-latency 30
	[ "$status" -eq 1 ]
	[ "$output" = "latency: FAIL (max 35 us > 30 us on CPU 1: min/avg/max us over 1 s; CPU 0 3/4/21; CPU 1 4/6/35)" ]
	CYC_MAX="00021 12345" CYC_OVERFLOWS="00000 00002" PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 1 --only latency
	[ "$output" = "latency: ok (max 12345 us: min/avg/max us over 1 s; CPU 0 3/4/21; CPU 1 4/6/12345)" ]
}

@test "--load: stress-ng beside cyclictest, its command in the report, gone when rt-check ends" {
	PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 2 --only latency --load=cpu,vm,io --interval 500 --priority 70 --report "$T/r"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/bin/stress-args")" = "--cpu 0 --cpu-method all --vm 0 --vm-bytes 50% --iomix 1 --temp-path /var/tmp --timeout 62s --quiet" ]
	[[ $(cat "$T/bin/args") == "-m -S -p 70 --policy=fifo -i 500 -D 2 -h 10000 --histfile="* ]]
	[[ $stderr == *"rt-check: load: stress-ng --cpu 0 "* ]]
	[ "$output" = "latency: ok (max 35 us: min/avg/max us over 2 s under load (cpu,vm,io); CPU 0 3/4/21; CPU 1 4/6/35)" ]
	! kill -0 "$(cat "$T/bin/stress-pid")" 2>/dev/null || return 1
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["load"]["command"].startswith("stress-ng --cpu 0 --cpu-method all --vm 0"), j["load"]
assert j["settings"]["interval_us"] == 500 and j["settings"]["priority"] == 70' "$T/r/latency.json"
	# --load alone: a CPU stressor per core.
	PATH=$T/bin:$PATH run "$RT_CHECK" --duration 1 --only latency --load
	[ "$(cat "$T/bin/stress-args")" = "--cpu 0 --cpu-method all --timeout 61s --quiet" ]
	! kill -0 "$(cat "$T/bin/stress-pid")" 2>/dev/null || return 1
}

@test "Ctrl-C: cyclictest stopped, the report of what was measured written and marked cut short, stress-ng gone; a failure stops the load too" {
	local pid
	mkdir -p "$S/proc/device-tree"
	printf 'linux,dummy-virt\0' >"$S/proc/device-tree/model"
	# As from a terminal: SIGINT not ignored (a shell ignores it in the
	# commands it starts in the background).
	CYC_SLEEP=60 PATH=$T/bin:$PATH RT_CHECK_PROGRESS=1 env --default-signal=INT "$RT_CHECK" --duration 1m --only latency \
		--load --report "$T/cut" >"$T/out" 2>"$T/err" &
	pid=$!
	for _ in $(seq 100); do [ -s "$T/bin/args" ] && [ -s "$T/bin/stress-pid" ] && break; sleep 0.1; done
	sleep 2.5
	kill -INT "$pid"
	local st=0
	wait "$pid" || st=$?
	[ "$st" -eq 1 ]
	[[ $(cat "$T/out") == "latency: FAIL (cut short: max 35 us: min/avg/max us over "*" of 60 s under load (cpu); CPU 0 3/4/21; CPU 1 4/6/35; cut short by a signal)" ]]
	# The progress: elapsed, left, the running maximum, once a second here.
	grep -Eq '^rt-check: 00:00:0[1-9] elapsed, 00:00:5[0-9] left, max 35 us$' "$T/err"
	report_check "$T/cut"
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["cut_short"] is True and "cut short" in j["title"]' "$T/cut/latency.json"
	! kill -0 "$(cat "$T/bin/stress-pid")" 2>/dev/null || return 1
	! pgrep -f "$T/bin/cyclictest" >/dev/null || return 1
	# cyclictest failing under load: the load goes with it.
	printf '#!/bin/sh\nsleep 1\necho "unable to change scheduling policy!" >&2\nexit 1\n' >"$T/bin/cyclictest"
	PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 5 --only latency --load
	[ "$status" -eq 1 ]
	[ "$output" = "latency: FAIL (cyclictest failed: unable to change scheduling policy!)" ]
	! kill -0 "$(cat "$T/bin/stress-pid")" 2>/dev/null || return 1
}

@test "latency options: --duration 2h, 30m, 1h30m; every bad value is one line and exit 2" {
	PATH=$T/bin:$PATH run "$RT_CHECK" --duration 1h30m --only latency
	[[ $(cat "$T/bin/args") == *" -D 5400 "* ]]
	PATH=$T/bin:$PATH run "$RT_CHECK" --duration=30m --only latency
	[[ $(cat "$T/bin/args") == *" -D 1800 "* ]]
	PATH=$T/bin:$PATH run "$RT_CHECK" -d 2h --only latency
	[[ $(cat "$T/bin/args") == *" -D 7200 "* ]]
	local bad
	while IFS='|' read -r bad msg; do
		# shellcheck disable=SC2086 # the options' words
		run --separate-stderr "$RT_CHECK" $bad
		[ "$status" -eq 2 ] || { echo "$bad: $status" >&2; return 1; }
		[ "${stderr_lines[0]}" = "rt-check: $msg" ] || { echo "$bad: ${stderr_lines[0]}" >&2; return 1; }
		[ "${#stderr_lines[@]}" -eq 2 ]
	done <<-EOF
		--duration 2d|--duration wants seconds or a time such as 30m or 2h, not '2d'
		--duration h|--duration wants seconds or a time such as 30m or 2h, not 'h'
		--interval 10|--interval wants microseconds from 50 to 1000000, not '10'
		--interval fast|--interval wants microseconds from 50 to 1000000, not 'fast'
		--priority 0|--priority wants a SCHED_FIFO priority from 1 to 99, not '0'
		--priority 100|--priority wants a SCHED_FIFO priority from 1 to 99, not '100'
		--load=gpu|--load wants stressors among cpu, vm and io (comma-separated), not 'gpu'
		--load=cpu,|--load wants stressors among cpu, vm and io (comma-separated), not 'cpu,'
		--report|--report needs a directory
		--report=|--report needs a directory
		--report $BATS_TEST_FILENAME|--report wants a directory: '$BATS_TEST_FILENAME' is a file
		--load --duration 0|--report and --load need a latency test, not --duration 0
		--interval|--interval needs a value
		--priority|--priority needs a value
	EOF
}

# ---- the report of a device, over SSH (make latency-report) ----

# ssh, scp and sudo as on a workstation that reaches the device: the
# remote command runs here (rt-check of the overlay, the fake cyclictest
# and stress-ng); SSH_FAIL=1 makes ssh fail as on an unreachable host.
fake_ssh() {
	cat >"$T/bin/ssh" <<-'EOF'
		#!/bin/bash
		[ -z "${SSH_FAIL:-}" ] || { echo "ssh: connect to host gone port 22: Connection timed out" >&2; exit 255; }
		while [ $# -gt 0 ]; do case $1 in -t) shift ;; -o) shift 2 ;; *) break ;; esac; done
		echo "$1" >>"${0%/*}/ssh-hosts"
		shift
		exec bash -c "$*"
	EOF
	cat >"$T/bin/scp" <<-'EOF'
		#!/bin/bash
		while [ $# -gt 0 ]; do case $1 in -q) shift ;; -o) shift 2 ;; *) break ;; esac; done
		args=("$@")
		dest=${args[-1]}
		for a in "${args[@]:0:${#args[@]}-1}"; do cp "${a#*:}" "$dest" || exit 1; done
	EOF
	printf '#!/bin/sh\nexec "$@"\n' >"$T/bin/sudo"
	ln -sf "$RT_CHECK" "$T/bin/rt-check"
	chmod +x "$T/bin/ssh" "$T/bin/scp" "$T/bin/sudo"
}

@test "make latency-report HOST=...: rt-check under load on the device over SSH, its report in the build directory; errors are one line" {
	fake_ssh
	local recipe=$TOP/tests/recipes/fixture b=$T/build
	PATH=$T/bin:$PATH run --separate-stderr make -s -C "$recipe" BUILD_DIR="$b" latency-report HOST=rt@rt-pi4.local LATENCY_DURATION=3
	echo "$output $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(cat "$T/bin/ssh-hosts")" = "rt@rt-pi4.local
rt@rt-pi4.local" ]
	[ "$output" = "latency: ok (max 35 us: min/avg/max us over 3 s under load (cpu); CPU 0 3/4/21; CPU 1 4/6/35)
rtik-latency-report: $b/latency-rt-pi4.local/report.html" ]
	report_valid "$b/latency-rt-pi4.local"
	[[ $(cat "$T/bin/stress-args") == "--cpu 0 --cpu-method all "* ]]
	[ -z "$(ls -d /tmp/rt-latency-report.* 2>/dev/null)" ]
	# Without HOST, an unreachable one, a bad argument: one line each.
	run --separate-stderr make -s -C "$recipe" BUILD_DIR="$b" latency-report
	[ "$status" -ne 0 ]
	[[ $stderr == *"image.mk: say which device: make latency-report HOST=rt@rt-pi4.local.  Stop." ]]
	SSH_FAIL=1 PATH=$T/bin:$PATH run --separate-stderr "$TOP/mk/rtik-latency-report" --out "$T/x" rt@gone
	[ "$status" -eq 255 ]
	[ "${stderr_lines[-1]}" = "rtik-latency-report: ssh to rt@gone failed" ]
	[ ! -e "$T/x" ] && [ ! -e "$T/x.new" ]
	run --separate-stderr "$TOP/mk/rtik-latency-report" --duration 2d rt@pi
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rtik-latency-report: --duration wants seconds or a time such as 30m or 2h, not '2d'" ]
	run --separate-stderr "$TOP/mk/rtik-latency-report" 'rt@pi; reboot'
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "rtik-latency-report: 'rt@pi; reboot' is not [USER@]HOST" ]
	# --load, --out and --ssh-option as given.
	PATH=$T/bin:$PATH run --separate-stderr "$TOP/mk/rtik-latency-report" --duration 1 --load cpu,vm \
		--ssh-option ConnectTimeout=5 --out "$T/y" rt@pi
	[ "$status" -eq 0 ]
	[[ $(cat "$T/bin/stress-args") == "--cpu 0 --cpu-method all --vm 0 "* ]]
	report_valid "$T/y"
	# cyclictest fails on the device: rt-check's status, no report, nothing here.
	printf '#!/bin/sh\necho "unable to change scheduling policy!" >&2\nexit 1\n' >"$T/bin/cyclictest"
	PATH=$T/bin:$PATH run --separate-stderr "$TOP/mk/rtik-latency-report" --duration 1 --out "$T/z" rt@pi
	[ "$status" -eq 1 ]
	[ "${stderr_lines[-1]}" = "rtik-latency-report: no report to bring back from rt@pi:/tmp/rt-latency-report.${stderr_lines[-1]##*rt-latency-report.}" ]
	[[ ${stderr_lines[-1]} == *" (rt-check status 1)" ]]
	[ ! -e "$T/z" ] && [ ! -e "$T/z.new" ]
}

@test "--report: the board's throttling (vcgencmd get_throttled) at start and end; under-voltage during the run spoils the measurement, and the report says so" {
	# 0x0 at the start; at the end under-voltage now (bit 0), throttled
	# since boot (bit 18), soft temperature limit since boot but already
	# before the run (bit 19 at the start too: not this run's).
	printf '#!/bin/sh\nif [ -e "${0%%/*}/vc-once" ]; then echo throttled=0xc0001; else : >"${0%%/*}/vc-once"; echo throttled=0x80000; fi\n' >"$T/bin/vcgencmd"
	chmod +x "$T/bin/vcgencmd"
	mkdir -p "$S/proc/device-tree" "$S/sys/class/thermal/thermal_zone0" "$S/sys/devices/system/cpu/cpufreq/policy0"
	printf 'Raspberry Pi 4 Model B Rev 1.4\0' >"$S/proc/device-tree/model"
	echo 48312 >"$S/sys/class/thermal/thermal_zone0/temp"
	echo 1500000 >"$S/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq"
	PATH=$T/bin:$PATH run --separate-stderr "$RT_CHECK" --duration 1 --only latency --report "$T/r"
	[ "$status" -eq 0 ]
	report_valid "$T/r"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["throttled"] == {"start": "0x80000", "end": "0xc0001", "flags": "under-voltage,throttled", "spoiled": True}, j["throttled"]
assert j["temperature_c"] == {"start": 48.3, "end": 48.3} and j["cpu_frequency_khz"] == {"start": 1500000, "end": 1500000}
assert j["board"] == "Raspberry Pi 4 Model B Rev 1.4", j["board"]
# A Pi, so no note in the title, unless this host is a virtual machine itself.
assert j["title"] == "Scheduling latency of trixie-rt-pi4 on Raspberry Pi 4 Model B Rev 1.4" or j["emulated"], j["title"]
' "$T/r/latency.json"
	grep -q 'class="warn">The board was throttled during the run (under-voltage,throttled): this measurement is spoiled.' "$T/r/report.html"
}

@test "rt-latency-report: --summary of a histogram; what it cannot read is one line and status 1" {
	fake_latency_tools "$T/bin"
	"$T/bin/cyclictest" --histfile="$T/hist" >/dev/null
	run --separate-stderr "$RT_LATENCY_REPORT" --summary "$T/hist"
	[ "$status" -eq 0 ]
	[ "$output" = "0 3 4 21
1 4 6 35" ]
	run --separate-stderr "$RT_LATENCY_REPORT" --summary "$T/none"
	[ "$status" -eq 1 ]
	[ "$stderr" = "rt-latency-report: usage: rt-latency-report --summary HISTOGRAM (readable)" ]
	run --separate-stderr "$RT_LATENCY_REPORT" --histogram "$T/none" --meta "$T/hist" "$T/r"
	[ "$status" -eq 1 ]
	[ "$stderr" = "rt-latency-report: no histogram '$T/none'" ]
	run --separate-stderr "$RT_LATENCY_REPORT" --bogus x "$T/r"
	[ "$status" -eq 1 ]
	[ "$stderr" = "rt-latency-report: unknown argument '--bogus'" ]
	[ ! -e "$T/r" ]
}
