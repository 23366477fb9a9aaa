/*
 * The one error table of knoten.
 *
 * Every function that can fail returns int: 0 (or a non-negative count) on
 * success, or a negative KN_E... code from this table. LMDB, libuv and errno
 * values are mapped onto it at the module edge, so callers never see a foreign
 * code. kn_strerror() turns a code into a sentence a person can act on.
 */
#ifndef KN_ERROR_H
#define KN_ERROR_H

#define KN_MUST_USE __attribute__((warn_unused_result))

/* X(name, value, message) */
#define KN_ERRORS(X)                                                                               \
    X(KN_EINVAL, -1, "invalid argument")                                                           \
    X(KN_ENOMEM, -2, "out of memory")                                                              \
    X(KN_EIO, -3, "input/output error")                                                            \
    X(KN_ENOTFOUND, -4, "not found")                                                               \
    X(KN_EEXIST, -5, "already exists")                                                             \
    X(KN_ETOOBIG, -6, "too large")                                                                 \
    X(KN_ETRUNC, -7, "input ends early (truncated)")                                               \
    X(KN_ETRAILING, -8, "unexpected bytes after the end of the encoding")                          \
    X(KN_ENONCANON, -9, "non-canonical encoding (a shorter header exists)")                        \
    X(KN_ETYPE, -10, "wrong msgpack type")                                                         \
    X(KN_EARITY, -11, "wrong number of array elements")                                            \
    X(KN_EFLOAT, -12, "floats are not allowed")                                                    \
    X(KN_EEXT, -13, "msgpack ext types are not allowed")                                           \
    X(KN_ENIL, -14, "nil is not allowed here")                                                     \
    X(KN_EMAPORDER, -15, "map keys are not unique and sorted bytewise")                            \
    X(KN_EKEYLEN, -16, "key, id or signature has the wrong length")                                \
    X(KN_EDEPTH, -17, "nesting too deep")                                                          \
    X(KN_EVERSION, -18, "unsupported format version")                                              \
    X(KN_EUTF8, -19, "string is not valid UTF-8")                                                  \
    X(KN_ESIG, -20, "signature does not verify")                                                   \
    X(KN_ESCHEMA, -21, "object does not match the schema of its type")                             \
    X(KN_EOBJTYPE, -22, "unknown object type")                                                     \
    X(KN_EFUTURE, -23, "created more than 10 minutes in the future")                               \
    X(KN_EPENDING, -24, "dependencies missing; held as pending")                                   \
    X(KN_EUNAUTH, -25, "author is not authorised")                                                 \
    X(KN_ERETRACTED, -26, "object was retracted")                                                  \
    X(KN_ESTORE, -27, "storage error")                                                             \
    X(KN_EMAPFULL, -28, "storage map is full")                                                     \
    X(KN_ECORRUPT, -29, "stored data is corrupt")                                                  \
    X(KN_ESCHEMAVER, -30, "store was written by a newer knoten")                                   \
    X(KN_ECRYPTO, -31, "decryption or authentication failed")                                      \
    X(KN_EHANDSHAKE, -32, "handshake failed")                                                      \
    X(KN_ELOWORDER, -33, "low-order public key rejected")                                          \
    X(KN_ENONCE, -34, "nonce space exhausted")                                                     \
    X(KN_ESTATE, -35, "operation not allowed in this state")                                       \
    X(KN_EPROTO, -36, "protocol violation by peer")                                                \
    X(KN_ELIMIT, -37, "limit exceeded")                                                            \
    X(KN_ECLOSED, -38, "connection closed")                                                        \
    X(KN_ETIMEOUT, -39, "timed out")                                                               \
    X(KN_ENET, -40, "network error")                                                               \
    X(KN_EPERM, -41, "permission denied")                                                          \
    X(KN_ECONFIG, -42, "bad configuration")                                                        \
    X(KN_EUSAGE, -43, "bad command-line usage")                                                    \
    X(KN_EIDENTITY, -44, "peer identity statement does not match")                                 \
    X(KN_EEXPIRED, -45, "expired")                                                                 \
    X(KN_EBUSY, -46, "resource busy")                                                              \
    X(KN_EAGAIN, -47, "try again later")                                                           \
    X(KN_EHASH, -48, "data does not match its hash")                                               \
    X(KN_EQUOTA, -49, "storage quota exceeded")                                                    \
    X(KN_ENOSPC, -50, "no space left on the disk")

enum kn_error {
#define KN_ERROR_ENUM(name, value, msg) name = value,
    KN_ERRORS(KN_ERROR_ENUM)
#undef KN_ERROR_ENUM
};

/* A static sentence for any code; "unknown error" for codes not in the table. */
const char *kn_strerror(int code);

/* The symbolic name ("KN_ESIG") of a code, for logs and tests. */
const char *kn_errname(int code);

#endif
