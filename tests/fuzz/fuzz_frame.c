/*
 * Fuzz target for the frame layer: the frame reader, message reassembly and
 * the session's handshake-phase input, all fed bytes an attacker controls.
 *
 * Input layout: byte 0 picks the chunk sizes the bytes arrive in (as a socket
 * would cut them); the rest is the stream. The stream goes (1) through the
 * reader with each frame body taken as a transport plaintext for the
 * assembler, (2) through the reader again with each frame body encrypted by a
 * fixed transport cipher and decrypted by its peer before reassembly, so the
 * assembler also sees what a real peer could send, and (3) into a responder
 * session as if from the network. Nothing may crash, and every message that
 * comes out must respect the configured bound.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "frame.h"
#include "identity.h"
#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_MESSAGE = 200000 };

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Feeds the stream to a reader in chunks; each frame body goes to the assembler. */
static void run_reader(
    const uint8_t *in, size_t len, uint8_t chunking, kn_noise_cipher *enc, kn_noise_cipher *dec)
{
    kn_frame_reader *r = NULL;
    kn_msg_assembler *a = NULL;
    uint8_t *plain = malloc(KN_FRAME_MAX + KN_NOISE_TAG);
    if (!plain || kn_frame_reader_new(&r, 0) < 0 || kn_msg_assembler_new(&a, MAX_MESSAGE) < 0)
        goto out;
    size_t step = 1 + chunking * 37u;
    while (len > 0) {
        size_t n = step < len ? step : len;
        const uint8_t *p = in;
        size_t left = n;
        in += n;
        len -= n;
        while (left > 0) {
            const uint8_t *f, *msg;
            size_t used, flen, mlen;
            int rc = kn_frame_reader_next(r, p, left, &used, &f, &flen);
            check(used <= left);
            p += used;
            left -= used;
            if (rc < 0)
                goto out;
            if (rc == 0)
                break;
            check(flen >= 1 && flen <= KN_FRAME_MAX);
            const uint8_t *body = f;
            size_t blen = flen;
            if (enc) {
                /* What a peer holding the keys could make of these bytes. */
                if (flen > KN_NOISE_MAX_PLAINTEXT)
                    blen = KN_NOISE_MAX_PLAINTEXT;
                if (kn_noise_cipher_encrypt(enc, NULL, 0, f, blen, plain) < 0)
                    goto out;
                if (kn_noise_cipher_decrypt(dec, NULL, 0, plain, blen + KN_NOISE_TAG, plain) < 0)
                    abort(); /* a correct peer's frame must decrypt */
                body = plain;
            }
            rc = kn_msg_assembler_push(a, body, blen, &msg, &mlen);
            if (rc < 0)
                goto out;
            if (rc == 1)
                check(mlen <= MAX_MESSAGE);
        }
    }
out:
    kn_frame_reader_free(r);
    kn_msg_assembler_free(a);
    free(plain);
}

static void run_session(const uint8_t *in, size_t len, uint8_t chunking)
{
    uint8_t seed[32], id_pk[32], id_sk[64], x_priv[32], x_pub[32], eph[32], netkey[32];
    kn_identity_statement st;
    kn_session *s = NULL;
    memset(seed, 1, sizeof seed);
    memset(x_priv, 2, sizeof x_priv);
    memset(eph, 3, sizeof eph);
    memset(netkey, 4, sizeof netkey);
    kn_sign_keypair_from_seed(id_pk, id_sk, seed);
    kn_x25519_base(x_pub, x_priv);
    kn_identity_sign(&st, id_pk, id_sk, x_pub, 2000000000000ull);
    if (kn_session_new(&s, KN_NOISE_RESPONDER, netkey, x_priv, &st, eph, 1700000000000ull) < 0)
        return;
    size_t step = 1 + chunking * 53u;
    while (len > 0) {
        size_t n = step < len ? step : len;
        if (kn_session_feed(s, in, n, 1700000000000ull) < 0) {
            check(kn_session_state(s) == KN_SESSION_FAILED);
            const uint8_t *out;
            size_t olen;
            kn_session_pending_output(s, &out, &olen);
            check(olen == 0);
            break;
        }
        in += n;
        len -= n;
    }
    kn_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (kn_crypto_init() < 0) /* cheap after the first call */
        abort();
    if (size < 1)
        return 0;
    uint8_t chunking = data[0];
    data++;
    size--;

    run_reader(data, size, chunking, NULL, NULL);

    uint8_t key[KN_NOISE_KEY];
    memset(key, 0x5c, sizeof key);
    kn_noise_cipher *enc = NULL, *dec = NULL;
    if (kn_noise_cipher_new(&enc, key, 0) == 0 && kn_noise_cipher_new(&dec, key, 0) == 0)
        run_reader(data, size, chunking, enc, dec);
    kn_noise_cipher_free(enc);
    kn_noise_cipher_free(dec);

    run_session(data, size, chunking);
    return 0;
}
