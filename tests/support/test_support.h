#ifndef KN_TEST_SUPPORT_H
#define KN_TEST_SUPPORT_H
#endif
