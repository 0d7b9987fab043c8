/* Independent work items spread over threads. */
#ifndef ML_PARALLEL_H
#define ML_PARALLEL_H

#include <stddef.h>

#include "util/error.h"

/* Calls fn(ud, i, err) for every i in [0, n) on up to jobs threads (at least one;
 * capped at 64 and at n). Once an item fails, no new item starts; the first failure
 * is returned with its message in err. fn must be thread-safe for distinct i. */
typedef int (*ml_parallel_fn)(void *ud, size_t i, struct ml_error *err);
int ml_parallel_for(size_t n, int jobs, ml_parallel_fn fn, void *ud, struct ml_error *err);

/* The number of processors online (at least 1). */
int ml_parallel_cpus(void);

#endif
