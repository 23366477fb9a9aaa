/*
 * The production environment: the real wall clock and the operating system's
 * RNG. The node shell and the command line create one at start and hand it
 * down; this is the only place in knoten that reads either.
 */
#ifndef KN_ENV_SYSTEM_H
#define KN_ENV_SYSTEM_H

#include "env.h"

/* A process-wide, stateless environment; never fails once kn_crypto_init() succeeded. */
const kn_env *kn_env_system(void);

#endif
