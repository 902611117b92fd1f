/* SPDX-License-Identifier: MIT */
#include "rpiconfig.h"

#include <stdio.h>
#include <string.h>

/* value of "key=value" into out, up to the first blank. */
static bool setting(const char *l, const char *key, char out[static 256])
{
	size_t n = strlen(key);

	if (strncmp(l, key, n) != 0 || l[n] != '=')
		return false;
	snprintf(out, 256, "%.*s", (int)strcspn(l + n + 1, " \t"), l + n + 1);
	return true;
}

void rpi_config_parse(char *text, bool tryboot, struct rpi_config *c)
{
	bool model = true, mode = true;

	*c = (struct rpi_config){ .kernel = "kernel8.img", .cmdline = "cmdline.txt" };
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		l += strspn(l, " \t");
		l[strcspn(l, "#\r")] = 0;
		for (size_t n = strlen(l); n && (l[n - 1] == ' ' || l[n - 1] == '\t');)
			l[--n] = 0;
		if (l[0] == '[') {
			if (strcmp(l, "[all]") == 0)
				model = mode = true;
			else if (strcmp(l, "[tryboot]") == 0)
				mode = tryboot;
			else if (strcmp(l, "[none]") == 0)
				mode = false;
			else
				model = strcmp(l, "[pi4]") == 0;
			continue;
		}
		if (!model || !mode)
			continue;
		if (setting(l, "kernel", c->kernel))
			c->kernel_set = true;
		else if (setting(l, "cmdline", c->cmdline) || setting(l, "os_prefix", c->os_prefix))
			continue;
		else if (strncmp(l, "initramfs", 9) == 0 && (l[9] == ' ' || l[9] == '\t')) {
			char *v = l + 9 + strspn(l + 9, " \t");
			snprintf(c->initrd, sizeof(c->initrd), "%.*s", (int)strcspn(v, " \t"), v);
		}
	}
}
