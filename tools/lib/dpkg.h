/* SPDX-License-Identifier: MIT */
/* dpkg's and apt's deb822 files: /var/lib/dpkg/status of an image, and the
 * Packages lists in /var/lib/apt/lists. */
#pragma once

#include <stddef.h>

struct dpkg_pkg {
	const char *name, *version, *arch; /* into the text; "" if absent */
	const char *sha256;                /* Packages lists only; "" if absent */
};

/* The installed packages (Status "install ok installed" or "hold ok
 * installed") of status, the text of dpkg's status file, which is cut up in
 * place and must outlive *pkgs. Sorted by name, then architecture; *pkgs is
 * to be freed (NULL when *n is 0). */
int dpkg_status_parse(char *status, struct dpkg_pkg **pkgs, size_t *n);

/* Every stanza of an apt Packages list that has a name and a SHA256, in
 * the order of the text (cut up in place, as above). */
int dpkg_packages_parse(char *text, struct dpkg_pkg **pkgs, size_t *n);
