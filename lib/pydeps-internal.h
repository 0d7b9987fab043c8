/* What lib/pydeps.c and lib/pyresolve.c share: one image.python build. */
#ifndef ML_PYDEPS_INTERNAL_H
#define ML_PYDEPS_INTERNAL_H

#include "pydeps.h"
#include "pyindex.h"
#include "pyreq.h"
#include "pyver.h"

struct run {
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
int py_resolve(struct run *r, struct ml_error *err);

void py_strs_add(char ***v, size_t *n, char *s);
void py_pkg_dispose(struct ml_pypkg *p);

#endif
