# The real-time knobs every recipe shares, with their defaults; rt-tuning.sh
# (or overlays/rt-tuning) applies them in the image. A recipe includes this
# file; every knob is set with ?=, so a value the recipe sets before the
# include, or one from the make command line (NAME=VALUE), wins.
# RT_TUNING_ENV names them all, for the recipe's IMAGE_ENV.

# kHz; cpu-frequency.service pins every core to this with the performance
# governor. Empty: each model's own, chosen at boot from the device tree
# (PINNED_CPU_FREQUENCY_PI4, _PI5: their default maximum; empty: the
# maximum).
PINNED_CPU_FREQUENCY ?= 1500000
PINNED_CPU_FREQUENCY_PI4 ?= 1500000
PINNED_CPU_FREQUENCY_PI5 ?= 2400000
# CPUs (2-3, 1,3) kept free of load balancing, ticks, RCU callbacks and
# interrupts (isolcpus, nohz_full, rcu_nocbs, irqaffinity). Empty: none.
ISOLATED_CPUS ?=
# Overclock, under config.txt's [pi4]: arm_freq in MHz, over_voltage in
# steps of 0.025 V; and under [pi5] (its default is 2400 MHz): arm_freq in
# MHz, over_voltage_delta in microvolts.
ARM_FREQ ?=
OVER_VOLTAGE ?=
ARM_FREQ_PI5 ?=
OVER_VOLTAGE_DELTA_PI5 ?=
# The group allowed real-time priorities up to RT_RTPRIO and to lock
# RT_MEMLOCK KiB of memory.
RT_GROUP ?= realtime
RT_RTPRIO ?= 98
RT_MEMLOCK ?= unlimited
# vm.compact_unevictable_allowed: 0 keeps memory compaction off locked
# memory (a latency source); empty: the kernel's default.
COMPACT_UNEVICTABLE ?= 0

RT_TUNING_ENV := PINNED_CPU_FREQUENCY PINNED_CPU_FREQUENCY_PI4 PINNED_CPU_FREQUENCY_PI5 ISOLATED_CPUS \
	ARM_FREQ OVER_VOLTAGE ARM_FREQ_PI5 OVER_VOLTAGE_DELTA_PI5 RT_GROUP RT_RTPRIO RT_MEMLOCK COMPACT_UNEVICTABLE
