/* SPDX-License-Identifier: MIT */
#include "rpiconfig.h"

#include <stdio.h>
#include <string.h>

void rpi_config_parse(char *text, struct rpi_config *c)
{
	bool applies = true;

	*c = (struct rpi_config){ .kernel = "kernel8.img" };
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		l += strspn(l, " \t");
		l[strcspn(l, "#\r")] = 0;
		if (l[0] == '[') {
			applies = strncmp(l, "[all]", 5) == 0 || strncmp(l, "[pi4]", 5) == 0;
			continue;
		}
		if (!applies)
			continue;
		if (strncmp(l, "kernel=", 7) == 0) {
			snprintf(c->kernel, sizeof(c->kernel), "%.*s", (int)strcspn(l + 7, " \t"), l + 7);
			c->kernel_set = true;
		} else if (strncmp(l, "initramfs", 9) == 0 && (l[9] == ' ' || l[9] == '\t')) {
			char *v = l + 9 + strspn(l + 9, " \t");
			snprintf(c->initrd, sizeof(c->initrd), "%.*s", (int)strcspn(v, " \t"), v);
		}
	}
}
