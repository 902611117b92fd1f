/* SPDX-License-Identifier: MIT */
/* Detached OpenPGP signatures, checked with gpgv(1) against one keyring,
 * the way apt checks Release files. */
#pragma once

#include <stddef.h>

/* 0 if sig is a good signature of data by a key in keyring; -EBADMSG if
 * not (bad, or by another key); -ENOENT if gpgv is not installed; other
 * -errno if it could not be checked. */
int gpgv_verify(const char *keyring, const void *data, size_t len, const void *sig, size_t sig_len);
