#include "python/pybase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "wrap/tar.h"

/* Bump when detection changes, so cached results are not reused. */
#define PYBASE_FORMAT "mldeploy-pybase-v2"
#define LIBC_SCAN_MAX (16u << 20)
#define APKDB_MAX (16u << 20)

/* Paths seen so far (image paths without the leading '/'), with what they hold. */
struct seen {
	char *path;
	char *data;		/* small extracted facts: a version string, or NULL */
};

struct scan {
	struct seen *v;
	size_t n, alloc;
};

static void seen_drop(struct scan *s, const char *path, int prefix)
{
	size_t i, len = strlen(path), out = 0;

	for (i = 0; i < s->n; i++) {
		const char *p = s->v[i].path;
		int hit = prefix ? (!len || (!strncmp(p, path, len) && (p[len] == '/' || !p[len])))
				 : !strcmp(p, path);

		if (hit) {
			free(s->v[i].path);
			free(s->v[i].data);
			continue;
		}
		s->v[out++] = s->v[i];
	}
	s->n = out;
}

static void seen_add(struct scan *s, const char *path, char *data)
{
	seen_drop(s, path, 0);
	s->v = ml_grow(s->v, &s->alloc, s->n + 1, sizeof(*s->v));
	s->v[s->n].path = ml_strdup(path);
	s->v[s->n].data = data;
	s->n++;
}

static const struct seen *seen_get(const struct scan *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return &s->v[i];
	return NULL;
}

/* "usr/lib/python3.11/os.py" -> 11 for prefix "usr/lib/python3.", suffix "/os.py". */
static int python_minor(const char *path, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix);
	const char *p;
	int minor = 0;

	if (strncmp(path, prefix, pl))
		return -1;
	for (p = path + pl; *p >= '0' && *p <= '9' && minor < 1000; p++)
		minor = minor * 10 + (*p - '0');
	if (p == path + pl || strcmp(p, suffix))
		return -1;
	return minor;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* libc.so.6 of glibc, in the usual places. */
static int is_glibc(const char *path)
{
	static const char *const dirs[] = { "lib/", "lib64/", "usr/lib/", "usr/lib64/" };
	size_t i, l;

	if (strcmp(base_name(path), "libc.so.6"))
		return 0;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		l = strlen(dirs[i]);
		if (!strncmp(path, dirs[i], l) && (!strchr(path + l, '/') ||
						    strchr(path + l, '/') == strrchr(path, '/')))
			return 1;
	}
	return 0;
}

static int is_musl_loader(const char *path)
{
	return !strncmp(path, "lib/ld-musl-", 12) && strstr(path, ".so.1") &&
	       !strchr(path + 4, '/');
}

/* Finds "release version 2.NN" (glibc's banner) in the streamed file. */
static char *scan_glibc_version(struct ml_tar_reader *r, struct ml_error *err)
{
	static const char needle[] = "release version ";
	char buf[65536 + 64];
	size_t keep = 0, total = 0;
	long n;

	while ((n = ml_tar_reader_read(r, buf + keep, sizeof(buf) - keep - 1, err)) > 0) {
		size_t len = keep + (size_t)n, i;

		total += (size_t)n;
		buf[len] = '\0';
		for (i = 0; i + sizeof(needle) - 1 < len; i++) {
			int maj, min;

			if (buf[i] != 'r' || memcmp(buf + i, needle, sizeof(needle) - 1))
				continue;
			if (sscanf(buf + i + sizeof(needle) - 1, "%d.%d", &maj, &min) == 2 &&
			    maj == 2 && min > 0 && min < 1000)
				return ml_asprintf("%d.%d", maj, min);
		}
		keep = len < 32 ? len : 32;
		memmove(buf, buf + len - keep, keep);
		if (total > LIBC_SCAN_MAX)
			break;
	}
	return NULL;
}

/* "P:musl\nV:1.2.4-r2" in Alpine's installed database. */
static char *scan_apk_musl(struct ml_tar_reader *r, struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *p;
	char *out = NULL;
	int maj, min;

	if (ml_tar_reader_read_all(r, &b, APKDB_MAX, err) < 0) {
		ml_buf_dispose(&b);
		return NULL;
	}
	p = ml_buf_str(&b);
	while ((p = strstr(p, "P:musl\n"))) {
		const char *v = strstr(p, "\nV:");
		const char *end = strstr(p, "\n\n");

		if (v && (!end || v < end) && sscanf(v + 3, "%d.%d", &maj, &min) == 2) {
			out = ml_asprintf("%d.%d", maj, min);
			break;
		}
		p += 7;
	}
	ml_buf_dispose(&b);
	return out;
}

static int interesting(const char *path)
{
	return python_minor(path, "usr/local/lib/python3.", "/os.py") >= 0 ||
	       python_minor(path, "usr/lib/python3.", "/os.py") >= 0 ||
	       !strcmp(path, "usr/lib/python3/dist-packages") || !strcmp(path, "etc/debian_version") ||
	       is_glibc(path) || is_musl_loader(path) || !strcmp(path, "lib/apk/db/installed");
}

/* A whiteout ".wh.NAME" removes NAME; ".wh..wh..opq" empties its directory. */
static int whiteout(struct scan *s, const char *path)
{
	const char *b = base_name(path);
	char *dir;

	if (strncmp(b, ".wh.", 4))
		return 0;
	dir = ml_strndup(path, (size_t)(b - path) - (b > path));
	if (!strcmp(b, ".wh..wh..opq")) {
		seen_drop(s, dir, 1);
	} else {
		char *victim = dir[0] ? ml_asprintf("%s/%s", dir, b + 4) : ml_strdup(b + 4);

		seen_drop(s, victim, 1);
		free(victim);
	}
	free(dir);
	return 1;
}

static int scan_layer(struct scan *s, const char *blob, struct ml_error *err)
{
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	int rc;

	rc = ml_tar_reader_open(&r, blob, err);
	while (rc == 0 && (rc = ml_tar_reader_next(r, &e, err)) == 1) {
		const char *name = e.name;
		char *path, *data = NULL;
		size_t l;

		rc = 0;
		while (name[0] == '.' && name[1] == '/')
			name += 2;
		while (name[0] == '/')
			name++;
		/* "./usr/lib/python3/dist-packages/" -> "usr/lib/python3/dist-packages" */
		path = ml_strdup(name);
		for (l = strlen(path); l > 1 && path[l - 1] == '/'; l--)
			path[l - 1] = '\0';
		if (!whiteout(s, path) && interesting(path)) {
			if (is_glibc(path) && e.type == ML_TAR_FILE)
				data = scan_glibc_version(r, err);
			else if (!strcmp(path, "lib/apk/db/installed") && e.type == ML_TAR_FILE)
				data = scan_apk_musl(r, err);
			seen_add(s, path, data);
		}
		free(path);
	}
	ml_tar_reader_free(r);
	return rc < 0 ? rc : 0;
}

static void choose_python(const struct scan *s, struct ml_pybase *pb)
{
	int best = -1, local = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		int m = python_minor(s->v[i].path, "usr/local/lib/python3.", "/os.py"), l = 1;

		if (m < 0) {
			m = python_minor(s->v[i].path, "usr/lib/python3.", "/os.py");
			l = 0;
		}
		if (m < 0)
			continue;
		/* a Python of its own in /usr/local (python:3.x images) wins over the
		 * distribution's; otherwise the newest */
		if (best < 0 || (l && !local) || (l == local && m > best)) {
			best = m;
			local = l;
		}
	}
	if (best < 0)
		return;
	pb->py_major = 3;
	pb->py_minor = best;
	if (local) {
		pb->interpreter = ml_asprintf("/usr/local/bin/python3.%d", best);
		pb->stdlib = ml_asprintf("/usr/local/lib/python3.%d", best);
		pb->site_packages = ml_asprintf("/usr/local/lib/python3.%d/site-packages", best);
	} else if (seen_get(s, "usr/lib/python3/dist-packages") || seen_get(s, "etc/debian_version")) {
		/* Debian and Ubuntu: /usr/local/lib/python3.X/dist-packages is on sys.path
		 * and is where pip installs, leaving /usr/lib/python3 to the packages */
		pb->interpreter = ml_asprintf("/usr/bin/python3.%d", best);
		pb->stdlib = ml_asprintf("/usr/lib/python3.%d", best);
		pb->site_packages = ml_asprintf("/usr/local/lib/python3.%d/dist-packages", best);
	} else {
		pb->interpreter = ml_asprintf("/usr/bin/python3.%d", best);
		pb->stdlib = ml_asprintf("/usr/lib/python3.%d", best);
		pb->site_packages = ml_asprintf("/usr/lib/python3.%d/site-packages", best);
	}
}

static void choose_libc(const struct scan *s, struct ml_pybase *pb)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct seen *e = &s->v[i];

		if (is_glibc(e->path) && e->data &&
		    sscanf(e->data, "%d.%d", &pb->libc_major, &pb->libc_minor) == 2) {
			pb->libc_found = 1;
			pb->libc = ML_LIBC_GLIBC;
			pb->libc_source = ml_asprintf("/%s", e->path);
			return;
		}
	}
	for (i = 0; i < s->n; i++) {
		const struct seen *e = &s->v[i];

		if (is_musl_loader(e->path)) {
			const struct seen *db = seen_get(s, "lib/apk/db/installed");

			pb->libc_found = 1;
			pb->libc = ML_LIBC_MUSL;
			pb->libc_major = 1;
			pb->libc_minor = 1;	/* the oldest musllinux, when no database says */
			if (db && db->data)
				sscanf(db->data, "%d.%d", &pb->libc_major, &pb->libc_minor);
			pb->libc_source = ml_asprintf("/%s", e->path);
			return;
		}
	}
}

static ml_json *to_record(const struct ml_pybase *pb)
{
	ml_json *o = ml_json_object_new();

	ml_json_set_int(o, "py_major", pb->py_major);
	ml_json_set_int(o, "py_minor", pb->py_minor);
	if (pb->interpreter) {
		ml_json_set_str(o, "interpreter", pb->interpreter);
		ml_json_set_str(o, "stdlib", pb->stdlib);
		ml_json_set_str(o, "site_packages", pb->site_packages);
	}
	if (pb->libc_found) {
		ml_json_set_str(o, "libc", pb->libc == ML_LIBC_MUSL ? "musl" : "glibc");
		ml_json_set_int(o, "libc_major", pb->libc_major);
		ml_json_set_int(o, "libc_minor", pb->libc_minor);
		ml_json_set_str(o, "libc_source", pb->libc_source);
	}
	return o;
}

static int from_record(const ml_json *o, struct ml_pybase *pb)
{
	int64_t a = 0, b = 0;
	const char *libc = ml_json_get_str(o, "libc");

	if (ml_json_get_int(o, "py_major", &a) < 0 || ml_json_get_int(o, "py_minor", &b) < 0)
		return -1;
	pb->py_major = (int)a;
	pb->py_minor = (int)b;
	pb->interpreter = ml_strdup(ml_json_get_str(o, "interpreter"));
	pb->stdlib = ml_strdup(ml_json_get_str(o, "stdlib"));
	pb->site_packages = ml_strdup(ml_json_get_str(o, "site_packages"));
	if (libc) {
		pb->libc_found = 1;
		pb->libc = !strcmp(libc, "musl") ? ML_LIBC_MUSL : ML_LIBC_GLIBC;
		ml_json_get_int(o, "libc_major", &a);
		ml_json_get_int(o, "libc_minor", &b);
		pb->libc_major = (int)a;
		pb->libc_minor = (int)b;
		pb->libc_source = ml_strdup(ml_json_get_str(o, "libc_source"));
	}
	return 0;
}

static int scan_base(const struct ml_base *base, struct ml_cache *cache, struct ml_pybase *pb,
		     struct ml_error *err)
{
	struct scan s = { 0 };
	char key[ML_DIGEST_LEN];
	char *id = ml_asprintf("%s\n%s", PYBASE_FORMAT, base->manifest_digest);
	ml_json *rec = NULL;
	size_t i;
	int rc = 0;

	ml_sha256_digest(id, strlen(id), key);
	free(id);
	if (base->manifest_digest[0]) {
		rec = ml_cache_record_get(cache, "pybase", ml_digest_hex(key));
		if (rec && from_record(rec, pb) == 0) {
			ml_json_free(rec);
			return 0;
		}
		ml_json_free(rec);
		ml_pybase_dispose(pb);
	}
	for (i = 0; i < base->nlayers && rc == 0; i++) {
		char *blob = ml_cache_blob_path(cache, base->layers[i].digest);

		rc = scan_layer(&s, blob, err);
		if (rc < 0)
			ml_error_prefix(err, "reading base layer %s", base->layers[i].digest);
		free(blob);
	}
	if (rc == 0) {
		choose_python(&s, pb);
		choose_libc(&s, pb);
		if (base->manifest_digest[0]) {
			rec = to_record(pb);
			ml_cache_record_put(cache, "pybase", ml_digest_hex(key), rec, NULL);
			ml_json_free(rec);
		}
	}
	for (i = 0; i < s.n; i++) {
		free(s.v[i].path);
		free(s.v[i].data);
	}
	free(s.v);
	return rc;
}

/* "/usr/local/lib/python3.11/site-packages" -> "/usr/local" */
static char *prefix_of(const char *site_packages)
{
	const char *lib = strstr(site_packages, "/lib/");

	if (lib && lib != site_packages)
		return ml_strndup(site_packages, (size_t)(lib - site_packages));
	return ml_strdup(!strncmp(site_packages, "/usr/local/", 11) ? "/usr/local" : "/usr");
}

int ml_pybase_detect(const struct ml_base *base, struct ml_cache *cache, const char *version,
		     const char *site_packages, struct ml_pybase *out, struct ml_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = scan_base(base, cache, out, err);
	if (rc < 0)
		return rc;
	if (version) {
		int minor = (int)strtol(version + 2, NULL, 10);	/* config checked it: "3.N" */

		if (out->interpreter && out->py_minor != minor)
			ml_log(ML_LOG_WARN, "image.python.version is %s but the base image has "
			       "Python 3.%d (%s); installing for %s", version, out->py_minor,
			       out->interpreter, version);
		if (out->py_minor != minor || !out->interpreter) {
			const char *where = site_packages ? site_packages : out->site_packages;
			char *sp = where ? prefix_of(where) : NULL;

			free(out->interpreter);
			free(out->stdlib);
			free(out->site_packages);
			out->interpreter = ml_asprintf("%s/bin/python3.%d", sp ? sp : "/usr/local", minor);
			out->stdlib = ml_asprintf("%s/lib/python3.%d", sp ? sp : "/usr/local", minor);
			out->site_packages = ml_asprintf("%s/lib/python3.%d/site-packages",
							 sp ? sp : "/usr/local", minor);
			free(sp);
		}
		out->py_major = 3;
		out->py_minor = minor;
	}
	if (site_packages) {
		free(out->site_packages);
		out->site_packages = ml_strdup(site_packages);
	}
	if (!out->interpreter)
		return ml_error_set(err, ML_ECONFIG, "no Python 3 interpreter found in the base image "
				    "'%s' (hint: use a base with Python such as python:3.11-slim, or "
				    "set image.python.version and image.python.site_packages)",
				    base->name);
	out->prefix = prefix_of(out->site_packages);
	out->scripts = ml_asprintf("%s/bin", out->prefix);
	return 0;
}

void ml_pybase_dispose(struct ml_pybase *pb)
{
	free(pb->interpreter);
	free(pb->stdlib);
	free(pb->site_packages);
	free(pb->scripts);
	free(pb->prefix);
	free(pb->libc_source);
	memset(pb, 0, sizeof(*pb));
}
