/* SPDX-License-Identifier: MIT */
/*
 * Paths inside an image, resolved as if the image's root were "/": absolute
 * symlinks and ".." never leave it (openat2 with RESOLVE_IN_ROOT). This is
 * what keeps a hostile image from making the host write outside it.
 */
#pragma once

/* openat2(rootfd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
 * Returns an fd or -errno. */
int resolve_open(int rootfd, const char *path, int flags, unsigned mode);

/* Opens directory path inside root (O_PATH), creating what is missing with
 * mode 0755, like mkdir -p. A dangling symlink on the way is followed inside
 * the root and its target created. Returns an fd or -errno (-ENOTDIR if
 * something on the way is not a directory). */
int resolve_mkdir_p(int rootfd, const char *path);
