/* SPDX-License-Identifier: MIT */
/* The Raspberry Pi firmware's config.txt, as a Pi 4 reads it. */
#pragma once

#include <stdbool.h>

struct rpi_config {
	char kernel[256];  /* kernel=, or the firmware's default kernel8.img */
	bool kernel_set;   /* a kernel= line applies */
	char initrd[256];  /* the initramfs line's file; "" if none */
};

/* The kernel= and initramfs lines that apply to a Pi 4, that is, outside
 * any [section] or under [all] or [pi4]. text is changed (split into
 * lines). */
void rpi_config_parse(char *text, struct rpi_config *c);
