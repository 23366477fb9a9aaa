/* Shared helpers for tests. */
#include "test_support.h"
