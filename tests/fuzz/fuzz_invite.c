/*
 * Fuzz target for invite codes: the text decoder on arbitrary bytes.
 *
 * Beyond "does not crash": whatever decodes re-encodes to a code that
 * decodes to the same invite (the text form is not unique, since case,
 * whitespace and Crockford's confusable letters are tolerated, but the
 * content is), and a failed decode leaves no secret behind in the struct.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_invite a, b;
    kn_invite_problem p;
    int rc = kn_invite_decode(&a, (const char *)data, size, 0, &p);
    if (rc < 0) {
        static const kn_invite zero;
        if (rc != KN_EEXPIRED && memcmp(&a, &zero, sizeof a) != 0)
            abort();
        if (p.bad_char && p.pos >= size)
            abort();
        return 0;
    }
    char text[KN_INVITE_TEXT_MAX];
    size_t len;
    if (kn_invite_encode(&a, text, sizeof text, &len) != 0 || len + 1 > KN_INVITE_TEXT_MAX)
        abort();
    if (kn_invite_decode(&b, text, len, 0, NULL) != 0)
        abort();
    if (memcmp(a.network_key, b.network_key, 32) || memcmp(a.inviter, b.inviter, 32)
        || a.naddrs != b.naddrs || a.secret_len != b.secret_len
        || memcmp(a.secret, b.secret, a.secret_len) || a.expires_ms != b.expires_ms)
        abort();
    for (uint32_t i = 0; i < a.naddrs; i++)
        if (strcmp(a.addrs[i], b.addrs[i]) != 0)
            abort();
    kn_invite_wipe(&a);
    kn_invite_wipe(&b);
    return 0;
}
