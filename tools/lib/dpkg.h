/* SPDX-License-Identifier: MIT */
/* dpkg's and apt's deb822 files: /var/lib/dpkg/status of an image, and the
 * Packages lists in /var/lib/apt/lists. */
#pragma once

#include <stddef.h>

struct dpkg_pkg {
	const char *name, *version, *arch; /* into the text; "" if absent */
	const char *sha256;                /* Packages lists only; "" if absent */
	/* Source: the source package and its version; the binary's own name
	 * and version where the field says nothing (as dpkg-query's
	 * ${source:Package} and ${source:Version}). */
	const char *source, *source_version;
};

/* The installed packages (Status "install ok installed" or "hold ok
 * installed") of status, the text of dpkg's status file, which is cut up in
 * place and must outlive *pkgs. Sorted by name, then architecture; *pkgs is
 * to be freed (NULL when *n is 0). */
int dpkg_status_parse(char *status, struct dpkg_pkg **pkgs, size_t *n);

/* Every stanza of an apt Packages list that has a name and a SHA256, in
 * the order of the text (cut up in place, as above). */
int dpkg_packages_parse(char *text, struct dpkg_pkg **pkgs, size_t *n);

/* The licenses a machine-readable debian/copyright file names (Format:
 * .../copyright-format/1.0/): the first line of each License: field, each
 * name once, in the order found, joined with newlines into *out (free it).
 * 0 and *out NULL for a file in another format or without License: fields,
 * -ENOMEM. */
int dpkg_copyright_licenses(const char *text, char **out);
