/*
 * Lower-case hexadecimal for ids and keys as people see them (command line,
 * JSON, logs). Callers: anything that prints or parses an id.
 */
#ifndef KN_HEX_H
#define KN_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Writes 2*len hex digits and a NUL into out (which holds 2*len+1 bytes). */
void kn_hex_encode(char *out, const uint8_t *in, size_t len);

/*
 * Parses exactly 2*len hex digits (either case) from s[0..slen) into out.
 * KN_EINVAL on any other length or a non-hex character.
 */
KN_MUST_USE int kn_hex_decode(uint8_t *out, size_t len, const char *s, size_t slen);

#endif
