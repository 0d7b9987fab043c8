#include "python/pytags.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "python/pyver.h"

static const struct {
	const char *oci, *variant, *machine;
} archs[] = {
	{ "amd64", NULL, "x86_64" },
	{ "arm64", NULL, "aarch64" },
	{ "386", NULL, "i686" },
	{ "arm", "v7", "armv7l" },
	{ "arm", "v6", "armv6l" },
	{ "arm", NULL, "armv7l" },
	{ "ppc64le", NULL, "ppc64le" },
	{ "s390x", NULL, "s390x" },
	{ "riscv64", NULL, "riscv64" },
};

/* Machines packaging.tags gives manylinux tags to (_have_compatible_abi; armv7l
 * as hard-float, as Debian's armhf images are). */
static const char *const manylinux_archs[] = {
	"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "riscv64", NULL
};

static const char *const known_archs[] = {
	"x86_64", "i686", "aarch64", "armv7l", "armv6l", "ppc64", "ppc64le", "s390x", "riscv64",
	NULL
};

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

const char *ml_pytags_arch(const char *oci_arch, const char *variant)
{
	size_t i;

	if (!oci_arch)
		return NULL;
	if (variant && !*variant)
		variant = NULL;
	for (i = 0; i < sizeof(archs) / sizeof(archs[0]); i++) {
		if (strcmp(archs[i].oci, oci_arch))
			continue;
		if (!archs[i].variant || (variant && !strcmp(archs[i].variant, variant)))
			return archs[i].machine;
	}
	return NULL;
}

struct list {
	char **v;
	size_t n, alloc;
};

static void add(struct list *l, char *s)
{
	l->v = ml_grow(l->v, &l->alloc, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = s;
}

/* packaging.tags._linux_platforms: manylinux (PEP 600, with the legacy aliases
 * right after their equivalent), musllinux (PEP 656), then linux_<arch>. */
static void platforms(const struct ml_pytarget *t, struct list *p)
{
	int minor, oldest;

	if (t->libc == ML_LIBC_GLIBC && in_list(t->arch, manylinux_archs)) {
		oldest = !strcmp(t->arch, "x86_64") || !strcmp(t->arch, "i686") ? 5 : 17;
		for (minor = t->libc_minor; minor >= oldest; minor--) {
			add(p, ml_asprintf("manylinux_2_%d_%s", minor, t->arch));
			if (minor == 17)
				add(p, ml_asprintf("manylinux2014_%s", t->arch));
			else if (minor == 12)
				add(p, ml_asprintf("manylinux2010_%s", t->arch));
			else if (minor == 5)
				add(p, ml_asprintf("manylinux1_%s", t->arch));
		}
	} else if (t->libc == ML_LIBC_MUSL) {
		for (minor = t->libc_minor; minor >= 0; minor--)
			add(p, ml_asprintf("musllinux_1_%d_%s", minor, t->arch));
	}
	add(p, ml_asprintf("linux_%s", t->arch));
}

static void each_platform(struct list *tags, const char *interp, const char *abi,
			  const struct list *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		add(tags, ml_asprintf("%s-%s-%s", interp, abi, p->v[i]));
}

int ml_pytags_for(const struct ml_pytarget *t, char ***tags, size_t *n, struct ml_error *err)
{
	struct list p = { NULL, 0, 0 }, l = { NULL, 0, 0 }, r = { NULL, 0, 0 };
	char cp[32], py[32];
	size_t i;
	int abi3 = t->py_major > 3 || (t->py_major == 3 && t->py_minor >= 2), minor;

	if (!t->arch || !in_list(t->arch, known_archs))
		return ml_error_set(err, ML_ECONFIG, "unknown machine '%s' for Python wheels",
				    t->arch ? t->arch : "");
	if (t->py_major < 3 || t->py_minor < 0 || t->py_minor > 99)
		return ml_error_set(err, ML_ECONFIG, "unsupported Python version %d.%d",
				    t->py_major, t->py_minor);
	if ((t->libc == ML_LIBC_GLIBC && t->libc_major != 2) ||
	    (t->libc == ML_LIBC_MUSL && t->libc_major != 1) || t->libc_minor < 0 ||
	    t->libc_minor > 999)
		return ml_error_set(err, ML_ECONFIG, "unsupported %s version %d.%d",
				    t->libc == ML_LIBC_MUSL ? "musl" : "glibc", t->libc_major,
				    t->libc_minor);
	platforms(t, &p);
	snprintf(cp, sizeof(cp), "cp%d%d", t->py_major, t->py_minor);
	each_platform(&l, cp, cp, &p);
	if (abi3)
		each_platform(&l, cp, "abi3", &p);
	each_platform(&l, cp, "none", &p);
	if (abi3)
		for (minor = t->py_minor - 1; minor >= 2; minor--) {
			snprintf(py, sizeof(py), "cp%d%d", t->py_major, minor);
			each_platform(&l, py, "abi3", &p);
		}
	/* packaging.tags.compatible_tags, over _py_interpreter_range */
	add(&r, ml_asprintf("py%d%d", t->py_major, t->py_minor));
	add(&r, ml_asprintf("py%d", t->py_major));
	for (minor = t->py_minor - 1; minor >= 0; minor--)
		add(&r, ml_asprintf("py%d%d", t->py_major, minor));
	for (i = 0; i < r.n; i++)
		each_platform(&l, r.v[i], "none", &p);
	add(&l, ml_asprintf("%s-none-any", cp));
	for (i = 0; i < r.n; i++)
		add(&l, ml_asprintf("%s-none-any", r.v[i]));
	ml_pytags_free(r.v, r.n);
	ml_pytags_free(p.v, p.n);
	*tags = l.v;
	*n = l.n;
	return 0;
}

void ml_pytags_free(char **tags, size_t n)
{
	ml_free_strings(tags, n);
}

/* Splits s (in place) at '.' into l; 0, or -1 when a part is empty or holds
 * something else than letters, digits and '_'. */
static int split_set(char *s, struct list *l)
{
	char *p;

	for (;;) {
		for (p = s; *p && *p != '.'; p++) {
			if (!isalnum((unsigned char)*p) && *p != '_')
				return -1;
			*p = (char)tolower((unsigned char)*p);
		}
		if (p == s)
			return -1;
		l->v = ml_grow(l->v, &l->alloc, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = s;
		if (!*p)
			return 0;
		*p = '\0';
		s = p + 1;
	}
}

static int expand_tags(struct ml_wheelname *w, char *py, char *abi, char *plat)
{
	struct list a = { NULL, 0, 0 }, b = { NULL, 0, 0 }, c = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	size_t i, j, k;
	int rc = -1;

	if (split_set(py, &a) < 0 || split_set(abi, &b) < 0 || split_set(plat, &c) < 0)
		goto done;
	for (i = 0; i < a.n; i++)
		for (j = 0; j < b.n; j++)
			for (k = 0; k < c.n; k++)
				add(&out, ml_asprintf("%s-%s-%s", a.v[i], b.v[j], c.v[k]));
	w->tags = out.v;
	w->ntags = out.n;
	rc = 0;
done:
	free(a.v);
	free(b.v);
	free(c.v);
	return rc;
}

static int valid_dist_name(const char *s)
{
	if (!*s || strstr(s, "__"))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
			return 0;
	return 1;
}

int ml_wheelname_parse(const char *filename, struct ml_wheelname *out, struct ml_error *err)
{
	size_t n = strlen(filename), nparts = 0;
	char *copy = NULL, *parts[6], *p;
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	if (n < 4 || strcmp(filename + n - 4, ".whl")) {
		why = "it does not end in .whl";
		goto done;
	}
	copy = ml_strndup(filename, n - 4);
	parts[nparts++] = copy;
	for (p = copy; *p; p++)
		if (*p == '-') {
			if (nparts == 6) {
				nparts++;
				break;
			}
			*p = '\0';
			parts[nparts++] = p + 1;
		}
	why = "expected {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl";
	if (nparts != 5 && nparts != 6)
		goto done;
	why = "invalid project name";
	if (!valid_dist_name(parts[0]))
		goto done;
	why = "invalid version";
	if (!ml_pyver_valid(parts[1]) || strpbrk(parts[1], " \t\n\r\f\v"))
		goto done;
	why = "a build tag starts with a digit";
	if (nparts == 6 && !isdigit((unsigned char)parts[2][0]))
		goto done;
	why = "invalid compatibility tags";
	if (expand_tags(out, parts[nparts - 3], parts[nparts - 2], parts[nparts - 1]) < 0)
		goto done;
	why = NULL;
	out->name = ml_strdup(parts[0]);
	out->normalized = ml_pyname_normalize(parts[0]);
	out->version = ml_strdup(parts[1]);
	out->build = nparts == 6 ? ml_strdup(parts[2]) : NULL;
done:
	free(copy);
	if (!why)
		return 0;
	ml_wheelname_dispose(out);
	return ml_error_set(err, ML_EPROTO, "invalid wheel file name '%s': %s", filename, why);
}

void ml_wheelname_dispose(struct ml_wheelname *w)
{
	free(w->name);
	free(w->normalized);
	free(w->version);
	free(w->build);
	ml_pytags_free(w->tags, w->ntags);
	memset(w, 0, sizeof(*w));
}

long ml_pytags_rank(char *const *tags, size_t n, const struct ml_wheelname *w)
{
	long best = -1;
	size_t i, j;

	for (i = 0; i < w->ntags; i++)
		for (j = 0; j < n && (best < 0 || j < (size_t)best); j++)
			if (!strcmp(tags[j], w->tags[i])) {
				best = (long)j;
				break;
			}
	return best;
}
