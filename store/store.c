/* Placeholder until the store lands; replaced by store.c proper. */
#include "store.h"
