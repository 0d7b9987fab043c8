#include "util/parallel.h"

#include <pthread.h>
#include <unistd.h>

#define MAX_THREADS 64

struct pool {
	ml_parallel_fn fn;
	void *ud;
	size_t n, next;
	pthread_mutex_t lock;	/* next, rc, err */
	int rc;
	struct ml_error err;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct ml_error err = { 0, "" };

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&p->lock);
		i = p->next++;
		if (p->rc < 0 || i >= p->n) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pthread_mutex_unlock(&p->lock);
		rc = p->fn(p->ud, i, &err);
		if (rc < 0) {
			pthread_mutex_lock(&p->lock);
			if (p->rc == 0) {
				p->rc = rc;
				p->err = err;
			}
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

int ml_parallel_for(size_t n, int jobs, ml_parallel_fn fn, void *ud, struct ml_error *err)
{
	struct pool p = { .fn = fn, .ud = ud, .n = n };
	pthread_t threads[MAX_THREADS];
	int i, started = 0;

	if (jobs > MAX_THREADS)
		jobs = MAX_THREADS;
	if ((size_t)jobs > n)
		jobs = (int)n;
	pthread_mutex_init(&p.lock, NULL);
	for (i = 1; i < jobs; i++)
		if (pthread_create(&threads[started], NULL, worker, &p) == 0)
			started++;
	worker(&p);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.rc < 0 && err)
		*err = p.err;
	return p.rc;
}

int ml_parallel_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}
