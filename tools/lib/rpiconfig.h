/* SPDX-License-Identifier: MIT */
/* The Raspberry Pi firmware's config.txt, as a Pi 4 reads it. */
#pragma once

#include <stdbool.h>

struct rpi_config {
	char kernel[256];    /* kernel=, or the firmware's default kernel8.img */
	bool kernel_set;     /* a kernel= line applies */
	char initrd[256];    /* the initramfs line's file; "" if none */
	char cmdline[256];   /* cmdline=, or the firmware's default cmdline.txt */
	char os_prefix[256]; /* os_prefix=, "" if none: the firmware prepends it to
				the kernel's, the initramfs', cmdline.txt's and the
				device trees' names (Ubuntu's A/B boot: current/) */
};

/* The lines that apply to a Pi 4: outside any [section], under [all] or
 * [pi4], and with tryboot under [tryboot] (the firmware's tryboot mode,
 * which Ubuntu's A/B boot uses to try new/). A filter of a model resets
 * the model filter, [tryboot] and [none] add to it, [all] resets both; any
 * other filter is taken not to match. text is changed (split into lines). */
void rpi_config_parse(char *text, bool tryboot, struct rpi_config *c);
