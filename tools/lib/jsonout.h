/* SPDX-License-Identifier: MIT */
/*
 * JSON written through jansson, byte-stable: keys sorted, two spaces of
 * indentation, a newline at the end, so that the same data gives the same
 * file (the manifest, the SBOM, the Imager entry).
 */
#pragma once

#include <jansson.h>

#include "text.h"

/* root (not consumed) appended to t as text. -ENOMEM. */
int json_text(const json_t *root, struct text *t);

/* A new JSON string of s; bytes that are not UTF-8 become '?'. NULL only
 * when out of memory. */
json_t *json_str(const char *s);

/* jansson's json_decrefp(json_t **) is what _cleanup_ takes. */
