/*
 * Helpers shared by the cmocka unit tests. Include after <cmocka.h>.
 */
#ifndef KN_TEST_SUPPORT_H
#define KN_TEST_SUPPORT_H

#include "error.h"

/* Asserts a KN_E... result, printing both codes by name when they differ. */
#define assert_rc(expected, actual)                                                                \
    do {                                                                                           \
        int rc_ = (actual);                                                                        \
        if (rc_ != (expected))                                                                     \
            fail_msg("%s: expected %s, got %s (%d)", #actual, kn_errname(expected),                \
                kn_errname(rc_), rc_);                                                             \
    } while (0)

#endif
