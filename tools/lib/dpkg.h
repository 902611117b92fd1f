/* SPDX-License-Identifier: MIT */
/* dpkg's database: /var/lib/dpkg/status of an image. */
#pragma once

#include <stddef.h>

struct dpkg_pkg {
	const char *name, *version, *arch; /* into the status text; "" if absent */
};

/* The installed packages (Status "install ok installed" or "hold ok
 * installed") of status, the text of dpkg's status file, which is cut up in
 * place and must outlive *pkgs. Sorted by name, then architecture; *pkgs is
 * to be freed (NULL when *n is 0). */
int dpkg_status_parse(char *status, struct dpkg_pkg **pkgs, size_t *n);
