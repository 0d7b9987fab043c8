/* Elapsed time: the monotonic clock in seconds, for timings and deadlines. */
#ifndef ML_CLOCK_H
#define ML_CLOCK_H

double ml_now_s(void);

#endif
