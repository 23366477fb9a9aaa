#include "error.h"

const char *kn_strerror(int code)
{
    switch (code) {
#define KN_ERROR_CASE(name, value, msg)                                                            \
    case value:                                                                                    \
        return msg;
        KN_ERRORS(KN_ERROR_CASE)
#undef KN_ERROR_CASE
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *kn_errname(int code)
{
    switch (code) {
#define KN_ERROR_NAME(name, value, msg)                                                            \
    case value:                                                                                    \
        return #name;
        KN_ERRORS(KN_ERROR_NAME)
#undef KN_ERROR_NAME
    case 0:
        return "OK";
    default:
        return "KN_E?";
    }
}
