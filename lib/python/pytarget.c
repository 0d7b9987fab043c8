/* The interpreter image.python installs for: the base image's Python, its machine
 * and C library, and the wheel tags they accept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "python/pylayer.h"
#include "python/pytags.h"

static char *full_version(const struct ml_base *base, int major, int minor)
{
	ml_json *env = ml_json_get(ml_json_get(base->config, "config"), "Env");
	char want[32];
	size_t i, wl;

	wl = (size_t)snprintf(want, sizeof(want), "PYTHON_VERSION=%d.%d.", major, minor);
	for (i = 0; i < ml_json_size(env); i++) {
		const char *e = ml_json_str(ml_json_at(env, i));

		if (e && !strncmp(e, want, wl) && e[wl] >= '0' && e[wl] <= '9')
			return ml_strdup(e + strlen("PYTHON_VERSION="));
	}
	return ml_asprintf("%d.%d.0", major, minor);
}

/* The platform-specific tags re-made for the platforms the user named: every
 * interpreter-abi pair in its order, times those platforms, then the -any tags. */
static void retarget(char ***tags, size_t *n, const struct ml_strv *platforms)
{
	char **out = NULL, **pairs = NULL;
	size_t nout = 0, aout = 0, npairs = 0, apairs = 0, i, k;

	for (i = 0; i < *n; i++) {
		const char *t = (*tags)[i], *dash = strrchr(t, '-');
		char *pair;

		if (!dash || !strcmp(dash, "-any"))
			continue;
		pair = ml_strndup(t, (size_t)(dash - t));
		for (k = 0; k < npairs && strcmp(pairs[k], pair); k++)
			;
		if (k < npairs) {
			free(pair);
			continue;
		}
		pairs = ml_grow(pairs, &apairs, npairs + 1, sizeof(*pairs));
		pairs[npairs++] = pair;
	}
	for (i = 0; i < npairs; i++)
		for (k = 0; k < platforms->n; k++) {
			out = ml_grow(out, &aout, nout + 1, sizeof(*out));
			out[nout++] = ml_asprintf("%s-%s", pairs[i], platforms->v[k]);
		}
	for (i = 0; i < *n; i++) {
		const char *dash = strrchr((*tags)[i], '-');

		if (dash && !strcmp(dash, "-any")) {
			out = ml_grow(out, &aout, nout + 1, sizeof(*out));
			out[nout++] = ml_strdup((*tags)[i]);
		}
	}
	ml_pytags_free(pairs, npairs);
	ml_pytags_free(*tags, *n);
	*tags = out;
	*n = nout;
}

int ml_pydeps_target(const struct ml_config *cfg, const struct ml_base *base,
		     struct ml_cache *cache, struct ml_pytarget_info *t, struct ml_error *err)
{
	char os[32] = "linux", arch[32] = "amd64", variant[32] = "";
	struct ml_pytarget pt = { 0 };
	const char *machine;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = ml_pybase_detect(base, cache, cfg->image.python.version,
			      cfg->image.python.site_packages, &t->base, err);
	if (rc < 0)
		return rc;
	sscanf(cfg->image.platform ? cfg->image.platform : "linux/amd64", "%31[^/]/%31[^/]/%31s",
	       os, arch, variant);
	machine = ml_pytags_arch(arch, variant[0] ? variant : NULL);
	if (!machine)
		return ml_error_set(err, ML_ECONFIG, "no Python wheels exist for the platform '%s' "
				    "(hint: use linux/amd64 or linux/arm64)", cfg->image.platform);
	t->arch = ml_strdup(machine);
	pt.py_major = t->base.py_major;
	pt.py_minor = t->base.py_minor;
	pt.arch = t->arch;
	pt.libc = t->base.libc_found ? t->base.libc : ML_LIBC_GLIBC;
	pt.libc_major = t->base.libc_found ? t->base.libc_major : 2;
	pt.libc_minor = t->base.libc_found ? t->base.libc_minor : 17;
	rc = ml_pytags_for(&pt, &t->tags, &t->ntags, err);
	if (rc < 0)
		return rc;
	if (cfg->image.python.platform_tags.n) {
		retarget(&t->tags, &t->ntags, &cfg->image.python.platform_tags);
	} else if (!t->base.libc_found) {
		struct ml_strv none = { 0 };

		retarget(&t->tags, &t->ntags, &none);
	}
	t->python_full_version = full_version(base, t->base.py_major, t->base.py_minor);
	if (cfg->image.python.platform_tags.n)
		t->describe = ml_asprintf("CPython %d.%d, %s, platform tags %s%s", pt.py_major,
					  pt.py_minor, t->arch, cfg->image.python.platform_tags.v[0],
					  cfg->image.python.platform_tags.n > 1 ? ", ..." : "");
	else if (t->base.libc_found)
		t->describe = ml_asprintf("CPython %d.%d, %s %d.%d, %s", pt.py_major, pt.py_minor,
					  pt.libc == ML_LIBC_MUSL ? "musl" : "glibc", pt.libc_major,
					  pt.libc_minor, t->arch);
	else
		t->describe = ml_asprintf("CPython %d.%d, %s, no C library found (pure-Python wheels "
					  "only)", pt.py_major, pt.py_minor, t->arch);
	return 0;
}

void ml_pytarget_info_dispose(struct ml_pytarget_info *t)
{
	ml_pybase_dispose(&t->base);
	free(t->arch);
	ml_pytags_free(t->tags, t->ntags);
	free(t->python_full_version);
	free(t->describe);
	memset(t, 0, sizeof(*t));
}

ml_json *ml_pytarget_json(const struct ml_pytarget_info *t)
{
	const struct ml_pybase *b = &t->base;
	ml_json *o = ml_json_object_new();
	char v[16];

	snprintf(v, sizeof(v), "%d.%d", b->py_major, b->py_minor);
	ml_json_set_str(o, "version", v);
	ml_json_set_str(o, "full_version", t->python_full_version);
	ml_json_set_str(o, "interpreter", b->interpreter);
	ml_json_set_str(o, "site_packages", b->site_packages);
	ml_json_set_str(o, "scripts", b->scripts);
	ml_json_set_str(o, "machine", t->arch);
	if (b->libc_found) {
		char lv[16];

		snprintf(lv, sizeof(lv), "%d.%d", b->libc_major, b->libc_minor);
		ml_json_set_str(o, "libc", b->libc == ML_LIBC_MUSL ? "musl" : "glibc");
		ml_json_set_str(o, "libc_version", lv);
		ml_json_set_str(o, "libc_found_in", b->libc_source);
	}
	ml_json_set_str(o, "target", t->describe);
	ml_json_set_int(o, "tags", (int64_t)t->ntags);
	if (t->ntags)
		ml_json_set_str(o, "best_tag", t->tags[0]);
	return o;
}
