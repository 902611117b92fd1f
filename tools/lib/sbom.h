/* SPDX-License-Identifier: MIT */
/*
 * A software bill of materials of a disk image in CycloneDX 1.6 JSON
 * (https://cyclonedx.org/docs/1.6/json/): the image, the packages it holds,
 * the downloads and package archives they came from, the overlays' files,
 * and how they relate. Written with jansson (jsonout.h): the same facts
 * give the same bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

struct sbom_pkg {
	const char *name, *version, *arch, *source, *source_version;
	const char *suite;    /* the archive's suite it was installed from, or NULL */
	const char *licenses; /* "A\nB": the copyright file's License: names, or NULL */
};

struct sbom_download {
	const char *url, *sha256;
	bool image; /* the vendor image the build started from */
};

struct sbom_archive {
	const char *suite, *url; /* a package archive's suite and its mirror */
};

struct sbom_file {
	const char *path, *sha256, *overlay; /* an overlay's file, where it goes */
};

struct sbom_prop {
	const char *name, *value;
};

struct sbom {
	const char *name, *image_sha256, *date, *tool_version, *kernel;
	uint64_t image_size;
	const char *distro;   /* /etc/os-release ID (debian, ubuntu), or NULL */
	const char *codename; /* its VERSION_CODENAME, or NULL */
	bool no_package_db;   /* no /var/lib/dpkg/status */
	const struct sbom_pkg *pkgs;
	size_t n_pkgs;
	const struct sbom_download *dls;
	size_t n_dls;
	const struct sbom_archive *archives;
	size_t n_archives;
	const struct sbom_file *files;
	size_t n_files;
	const struct sbom_prop *props; /* the recipe's variables and build facts */
	size_t n_props;
};

/* The SBOM of s appended to t. -ENOMEM. */
int sbom_cyclonedx(const struct sbom *s, struct text *t);
