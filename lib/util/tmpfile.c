#include "util/tmpfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define MAX_TMP 128

/* Slots are written under the lock and read without it by the signal handler;
 * a pointer store is atomic on every platform we build for. */
static char *volatile tmp_paths[MAX_TMP];
static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;

int ml_tmp_create(const char *template, char **path, int *fd, struct ml_error *err)
{
	char *p = ml_strdup(template);
	int i, f;

	f = mkstemp(p);
	if (f < 0) {
		ml_error_errno(err, ML_EIO, errno, "cannot create temporary file '%s'", template);
		free(p);
		return -ML_EIO;
	}
	pthread_mutex_lock(&tmp_lock);
	for (i = 0; i < MAX_TMP; i++) {
		if (!tmp_paths[i]) {
			tmp_paths[i] = p;
			break;
		}
	}
	pthread_mutex_unlock(&tmp_lock);
	*path = ml_strdup(p);
	*fd = f;
	if (i == MAX_TMP)
		free(p);
	return 0;
}

void ml_tmp_forget(const char *path)
{
	int i;

	pthread_mutex_lock(&tmp_lock);
	for (i = 0; i < MAX_TMP; i++) {
		char *p = tmp_paths[i];

		if (p && strcmp(p, path) == 0) {
			tmp_paths[i] = NULL;
			free(p);
			break;
		}
	}
	pthread_mutex_unlock(&tmp_lock);
}

void ml_tmp_remove(const char *path)
{
	if (!path)
		return;
	unlink(path);
	ml_tmp_forget(path);
}

void ml_tmp_cleanup_signal(void)
{
	int i;

	for (i = 0; i < MAX_TMP; i++) {
		char *p = tmp_paths[i];

		if (p)
			unlink(p);
	}
}
