/* What lib/python/pylayer.c and lib/pyresolve.c share: one image.python build. */
#ifndef ML_PYLAYER_INTERNAL_H
#define ML_PYLAYER_INTERNAL_H

#include "python/pylayer.h"
#include "python/pyindex.h"
#include "python/pyreq.h"
#include "python/pyver.h"

struct ml_pylayer_run {
	const struct ml_config *cfg;
	const char *context;
	const struct ml_layer_opts *lo;
	struct ml_pydeps_result *res;
	struct ml_pyenv env;
	char py_version[16];
	char *req_path;			/* on this machine */
	char *req_display;		/* for messages */
	struct ml_pyreqs reqs;
	char **indexes;
	size_t nindexes;
	char **links;
	size_t nlinks;
	struct ml_pyindex *ix;
};


/* Fills r->res->pkgs from r->reqs: the best wheel of each pin, downloaded and
 * checked; then checks the set is complete. */
int ml_pylayer_resolve(struct ml_pylayer_run *r, struct ml_error *err);

void ml_py_strs_add(char ***v, size_t *n, char *s);
void ml_pypkg_dispose(struct ml_pypkg *p);

#endif
