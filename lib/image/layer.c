#include "image/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "wrap/tar.h"
#include "image/compress.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/tmpfile.h"

/* Bump when the bytes a layer is written as change, so old cache records die. */
#define LAYER_FORMAT "mldeploy-layer-v1"
#define RACY_NS 2000000000LL
#define SECRET_SNIFF_MAX (1u << 20)

enum entry_type { E_DIR, E_FILE, E_LINK };

struct entry {
	char *path;		/* in the image: relative, no trailing '/' */
	enum entry_type type;
	unsigned mode;
	uint64_t size;
	char *src;		/* absolute source path, NULL for a directory made for a parent */
	char *target;		/* symlink target */
	struct stat st;
	size_t order;		/* later entries replace earlier ones at the same path */
};

struct collect {
	const struct ml_layer_opts *opts;
	const struct ml_copy *copy;	/* the entry being walked, for messages */
	struct entry *v;
	size_t n, alloc;
	struct ml_error *err;
	int tree;			/* a staged tree: no ignore patterns, no credential check */
};

static void add_entry(struct collect *c, const char *path, enum entry_type type,
		      const char *src, const struct stat *st, const char *target)
{
	struct entry *e;

	c->v = ml_grow(c->v, &c->alloc, c->n + 1, sizeof(*c->v));
	e = &c->v[c->n];
	memset(e, 0, sizeof(*e));
	e->path = ml_strdup(path);
	e->type = type;
	e->src = ml_strdup(src);
	e->target = ml_strdup(target);
	if (st)
		e->st = *st;
	e->mode = type == E_FILE ? ((st->st_mode & 0111) ? 0755 : 0644) :
		  type == E_DIR ? 0755 : 0777;
	e->size = type == E_FILE ? (uint64_t)st->st_size : 0;
	e->order = c->n + 1;
	c->n++;
}

static void entries_free(struct entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].src);
		free(v[i].target);
	}
	free(v);
}

static int copy_error(struct collect *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int copy_error(struct collect *c, int code, const char *fmt, ...)
{
	char msg[ML_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->copy->pos.file)
		return ml_error_set(c->err, code, "%s:%d:%d: %.1900s", c->copy->pos.file,
				    c->copy->pos.line, c->copy->pos.column, msg);
	return ml_error_set(c->err, code, "%s", msg);
}

/* Whether real (a resolved absolute path) lies inside the context directory. */
static int inside_context(const struct ml_layer_opts *o, const char *real)
{
	size_t n = strlen(o->context);

	return strncmp(real, o->context, n) == 0 && (real[n] == '\0' || real[n] == '/' ||
						    strcmp(o->context, "/") == 0);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

int ml_layer_looks_secret(const char *relpath, int fd, uint64_t size)
{
	static const char *const names[] = {
		".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa", "id_dsa",
		"id_ecdsa", "id_ed25519", ".netrc", ".pypirc", ".npmrc", ".git-credentials",
		"*.keystore", "*.jks",
	};
	static const char *const safe[] = { ".env.example", ".env.sample", ".env.template" };
	const char *base = base_name(relpath);
	char buf[SECRET_SNIFF_MAX + 1];
	size_t i;
	ssize_t n;

	for (i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(base, safe[i]) == 0)
			return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fnmatch(names[i], base, 0) == 0)
			return 1;
	if (fnmatch("*.aws/credentials", relpath, 0) == 0 || strcmp(relpath, ".aws/credentials") == 0 ||
	    fnmatch("*.docker/config.json", relpath, 0) == 0 || strcmp(relpath, ".docker/config.json") == 0)
		return 1;
	if (fd < 0 || size > SECRET_SNIFF_MAX || fnmatch("*.json", base, 0) != 0)
		return 0;
	n = pread(fd, buf, (size_t)size, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "\"private_key\"") && strstr(buf, "service_account");
}

static int check_secret(struct collect *c, const char *rel, const char *abs, const struct stat *st)
{
	int fd = -1, secret;

	if (c->opts->allow && ml_ignore_match(c->opts->allow, rel, 0))
		return 0;
	if (fnmatch("*.json", base_name(rel), 0) == 0 && st->st_size <= SECRET_SNIFF_MAX)
		fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	secret = ml_layer_looks_secret(rel, fd, (uint64_t)st->st_size);
	if (fd >= 0)
		close(fd);
	if (secret)
		return copy_error(c, ML_EREFUSED,
				  "'%s' looks like a credential and would be baked into the image "
				  "(hint: add it to .dockerignore, or list it in image.allow_credentials%s)",
				  rel, " if it is meant to ship");
	return 0;
}

/* Lexically resolves a symlink target against the link's directory; 0 if it stays
 * inside the context. */
static int link_stays_inside(const char *rel, const char *target)
{
	char *dir = ml_dirname(rel);
	char *joined = strcmp(dir, ".") == 0 ? ml_strdup(target) : ml_asprintf("%s/%s", dir, target);
	char *save = NULL, *tok;
	int depth = 0, ok = 1;

	for (tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, "..") == 0)
			depth--;
		else if (strcmp(tok, ".") != 0)
			depth++;
		if (depth < 0) {
			ok = 0;
			break;
		}
	}
	free(joined);
	free(dir);
	return ok;
}

/* Where the link leads on this machine, as far as it exists, must be inside the
 * context too: "self -> ." then "esc -> self/../../x" climbs out although its
 * text alone does not. */
static int resolves_inside(const struct ml_layer_opts *o, const char *link_abs,
			   const char *target)
{
	char *dir = ml_dirname(link_abs);
	char *path = ml_asprintf("%s/%s", dir, target);
	char *real = NULL, *cut;
	int ok = 1;

	while (!(real = realpath(path, NULL)) && (cut = strrchr(path, '/')) && cut != path)
		*cut = '\0';
	if (real)
		ok = inside_context(o, real);
	free(real);
	free(path);
	free(dir);
	return ok;
}

/* A layer's names are UTF-8 (tar's pax headers): what is not is refused here,
 * with the copy entry's place in deploy.yaml, not when the layer is written. */
static int check_utf8(struct collect *c, const char *rel, const char *img)
{
	char *shown;
	int rc;

	if (ml_tar_name_valid(img))
		return 0;
	shown = ml_tar_name_shown(rel);
	rc = copy_error(c, ML_EREFUSED, "file name '%s' is not utf-8, as an image layer's names "
			"must be (hint: rename it, or leave it out with .dockerignore)", shown);
	free(shown);
	return rc;
}

static int add_symlink(struct collect *c, const char *rel, const char *abs, const char *img,
		       const struct stat *st)
{
	char target[PATH_MAX];
	ssize_t n = readlink(abs, target, sizeof(target) - 1);
	char *shown;
	int rc;

	if (n < 0)
		return ml_error_errno(c->err, ML_EIO, errno, "cannot read symlink '%s'", rel);
	target[n] = '\0';
	if (!ml_tar_name_valid(target)) {
		shown = ml_tar_name_shown(target);
		rc = copy_error(c, ML_EREFUSED, "symlink '%s' points to '%s', which is not utf-8, "
				"as an image layer's names must be (hint: point it to a utf-8 name)",
				rel, shown);
		free(shown);
		return rc;
	}
	if (target[0] == '/' || !link_stays_inside(rel, target) ||
	    !resolves_inside(c->opts, abs, target))
		return copy_error(c, ML_EREFUSED,
				  "symlink '%s' points outside the build context (to '%s'); "
				  "hint: copy the target into the context instead", rel, target);
	add_entry(c, img, E_LINK, abs, st, target);
	return 0;
}

static int walk(struct collect *c, const char *abs, const char *rel, const char *img);

static int add_path(struct collect *c, const char *abs, const char *rel, const char *img,
		    const struct stat *st)
{
	int rc = check_utf8(c, rel, img);

	if (rc < 0)
		return rc;
	if (S_ISDIR(st->st_mode)) {
		add_entry(c, img, E_DIR, abs, st, NULL);
		return walk(c, abs, rel, img);
	}
	if (S_ISLNK(st->st_mode))
		return add_symlink(c, rel, abs, img, st);
	if (!S_ISREG(st->st_mode))
		return copy_error(c, ML_EREFUSED,
				  "'%s' is not a regular file, directory or symlink%s", rel,
				  " (sockets, devices and pipes cannot be copied)");
	if (!c->tree && check_secret(c, rel, abs, st) < 0)
		return -c->err->code;
	add_entry(c, img, E_FILE, abs, st, NULL);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct collect *c, const char *abs, const char *rel, const char *img)
{
	DIR *d = opendir(abs);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0, i;
	int rc = 0;

	if (!d)
		return ml_error_errno(c->err, ML_EIO, errno, "cannot read directory '%s'", rel);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = ml_grow(names, &alloc, n + 1, sizeof(*names));
		names[n++] = ml_strdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n && rc == 0; i++) {
		char *cabs = ml_asprintf("%s/%s", abs, names[i]);
		char *crel = strcmp(rel, ".") == 0 ? ml_strdup(names[i]) :
			     ml_asprintf("%s/%s", rel, names[i]);
		char *cimg = img[0] ? ml_asprintf("%s/%s", img, names[i]) : ml_strdup(names[i]);
		struct stat st;

		if (lstat(cabs, &st) < 0) {
			rc = ml_error_errno(c->err, ML_EIO, errno, "cannot stat '%s'", crel);
		} else if (!c->tree && ml_ignore_match(c->opts->ignore, crel, S_ISDIR(st.st_mode))) {
			if (S_ISDIR(st.st_mode) && ml_ignore_may_reinclude(c->opts->ignore, crel))
				rc = walk(c, cabs, crel, cimg);
		} else {
			rc = add_path(c, cabs, crel, cimg, &st);
		}
		free(cabs);
		free(crel);
		free(cimg);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* "./app//x/" -> "app/x": empty and "." segments dropped ("." for nothing left). */
static char *clean_rel(const char *src)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *p = src;

	while (*p) {
		size_t n = strcspn(p, "/");

		if (n && !(n == 1 && p[0] == '.')) {
			if (b.len)
				ml_buf_addch(&b, '/');
			ml_buf_add(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (!b.len)
		ml_buf_addch(&b, '.');
	return ml_buf_detach(&b);
}

/* An image path without leading, trailing, doubled or "." slashes ("" for "/"). */
static char *clean_img(const char *dst)
{
	char *p = clean_rel(dst);

	if (!strcmp(p, ".")) {
		free(p);
		return ml_strdup("");
	}
	return p;
}

static int collect_copy(struct collect *c, const struct ml_copy *cp)
{
	char *rel = clean_rel(cp->src);
	char *abs, *real = NULL, *img = NULL;
	struct stat st;
	int rc = 0;

	c->copy = cp;
	abs = strcmp(rel, ".") == 0 ? ml_strdup(c->opts->context) :
	      ml_asprintf("%s/%s", c->opts->context, rel);
	real = realpath(abs, NULL);
	if (!real) {
		rc = copy_error(c, ML_ECONFIG, "image.copy src '%s' does not exist in the build "
				"context '%s'", rel, c->opts->context);
		goto out;
	}
	if (!inside_context(c->opts, real)) {
		rc = copy_error(c, ML_EREFUSED, "image.copy src '%s' resolves to '%s', outside the "
				"build context", rel, real);
		goto out;
	}
	if (stat(real, &st) < 0) {
		rc = ml_error_errno(c->err, ML_EIO, errno, "cannot stat '%s'", rel);
		goto out;
	}
	if (strcmp(rel, ".") != 0 && ml_ignore_match(c->opts->ignore, rel, S_ISDIR(st.st_mode))) {
		rc = copy_error(c, ML_ECONFIG, "image.copy src '%s' is excluded by the ignore "
				"patterns%s", rel, " (.dockerignore, .mldeployignore, image.ignore)");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		img = clean_img(cp->dst);
		if (img[0]) {
			/* the target directory exists even when nothing lands in it */
			add_entry(c, img, E_DIR, NULL, NULL, NULL);
			c->v[c->n - 1].order = 0;
		}
		rc = walk(c, real, rel, img);
	} else {
		size_t dl = strlen(cp->dst);
		char *full = cp->dst[dl - 1] == '/' ?
			     ml_asprintf("%s%s", cp->dst, base_name(rel)) : ml_strdup(cp->dst);

		img = clean_img(full);
		free(full);
		rc = add_path(c, real, rel, img, &st);
	}
out:
	free(abs);
	free(real);
	free(img);
	free(rel);
	return rc;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	if (r)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Adds every missing parent directory, sorts, and keeps the last entry per path. */
static int normalize(struct collect *c)
{
	size_t i, n = c->n, out = 0;

	for (i = 0; i < n; i++) {
		char *p = ml_strdup(c->v[i].path);
		char *s;

		while ((s = strrchr(p, '/'))) {
			*s = '\0';
			add_entry(c, p, E_DIR, NULL, NULL, NULL);
			c->v[c->n - 1].order = 0;
		}
		free(p);
	}
	qsort(c->v, c->n, sizeof(*c->v), entry_cmp);
	for (i = 0; i < c->n; i++) {
		if (i + 1 < c->n && strcmp(c->v[i].path, c->v[i + 1].path) == 0) {
			if (c->tree && c->v[i].type == E_FILE && c->v[i + 1].type == E_FILE)
				ml_log(ML_LOG_WARN, "/%s is in two of the staged trees; the one from %s "
				       "is kept", c->v[i].path, c->v[i + 1].src);
			free(c->v[i].path);
			free(c->v[i].src);
			free(c->v[i].target);
			continue;
		}
		c->v[out++] = c->v[i];
	}
	c->n = out;
	for (i = 0; i < c->n; i++) {
		const char *slash = strrchr(c->v[i].path, '/');
		struct entry key, *parent;

		if (!slash)
			continue;
		key.path = ml_strndup(c->v[i].path, (size_t)(slash - c->v[i].path));
		key.order = 0;
		parent = bsearch(&key, c->v, c->n, sizeof(*c->v), path_cmp);
		if (parent && parent->type != E_DIR) {
			int rc = ml_error_set(c->err, ML_ECONFIG, "'/%s' is both a file and a directory "
					      "in the layer (check the dst of image.copy)", key.path);

			free(key.path);
			return rc;
		}
		free(key.path);
	}
	return 0;
}

static int is_racy(const struct entry *e, const struct timespec *now)
{
	long long t = (long long)now->tv_sec * 1000000000LL + now->tv_nsec - RACY_NS;
	long long m = (long long)e->st.st_mtim.tv_sec * 1000000000LL + e->st.st_mtim.tv_nsec;
	long long ct = (long long)e->st.st_ctim.tv_sec * 1000000000LL + e->st.st_ctim.tv_nsec;

	if (!now->tv_sec && !now->tv_nsec)
		return 0;
	return e->type == E_FILE && (m >= t || ct >= t);
}

static void layer_key(const char *name, const struct entry *v, size_t n,
		      const struct ml_layer_opts *o, char key[ML_DIGEST_LEN])
{
	struct ml_sha256 *h = ml_sha256_new();
	struct ml_buf b = ML_BUF_INIT;
	size_t i;

	ml_buf_printf(&b, "%s\n%s\n%s %d\n%lld\n", LAYER_FORMAT, name,
		      o->codec ? o->codec->name : "none", o->level, (long long)o->mtime);
	ml_sha256_update(h, b.data, b.len);
	for (i = 0; i < n; i++) {
		const struct entry *e = &v[i];

		ml_buf_reset(&b);
		ml_buf_printf(&b, "%d %s %o %llu %s %lld.%09ld %lld.%09ld %llu %llu %s\n",
			      e->type, e->path, e->mode, (unsigned long long)e->size,
			      e->src ? e->src : "-", (long long)e->st.st_mtim.tv_sec,
			      e->st.st_mtim.tv_nsec, (long long)e->st.st_ctim.tv_sec,
			      e->st.st_ctim.tv_nsec, (unsigned long long)e->st.st_ino,
			      (unsigned long long)e->st.st_dev, e->target ? e->target : "-");
		ml_sha256_update(h, b.data, b.len + 1);
	}
	ml_sha256_final(h, key);
	ml_sha256_free(h);
	ml_buf_dispose(&b);
}

static int file_matches(const char *path, const char *want)
{
	char got[ML_DIGEST_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc;

	if (fd < 0)
		return 0;
	rc = ml_sha256_fd(fd, got, NULL, NULL);
	close(fd);
	return rc == 0 && strcmp(got, want) == 0;
}

/* A cache record is usable when its blob is present and its racy files still
 * hash to what they held when it was written. */
int ml_layer_lookup(const struct ml_layer_opts *o, const char *keyhex,
		    struct ml_layer_result *res)
{
	ml_json *rec = ml_cache_record_get(o->cache, "layers", keyhex);
	ml_json *verify;
	const char *digest, *diff_id;
	int64_t size, usize, nfiles;
	size_t i;
	int ok = 0;

	if (!rec)
		return 0;
	digest = ml_json_get_str(rec, "digest");
	diff_id = ml_json_get_str(rec, "diff_id");
	if (!ml_digest_valid(digest) || !ml_digest_valid(diff_id) ||
	    ml_json_get_int(rec, "size", &size) < 0 ||
	    ml_json_get_int(rec, "uncompressed_size", &usize) < 0 ||
	    ml_json_get_int(rec, "files", &nfiles) < 0 ||
	    !ml_cache_blob_present(o->cache, digest, size))
		goto out;
	verify = ml_json_get(rec, "verify");
	for (i = 0; i < ml_json_size(verify); i++) {
		ml_json *v = ml_json_at(verify, i);
		const char *p = ml_json_get_str(v, "path"), *d = ml_json_get_str(v, "digest");

		if (!p || !d || !file_matches(p, d))
			goto out;
	}
	snprintf(res->digest, sizeof(res->digest), "%s", digest);
	snprintf(res->diff_id, sizeof(res->diff_id), "%s", diff_id);
	res->size = (uint64_t)size;
	res->uncompressed_size = (uint64_t)usize;
	res->nfiles = (size_t)nfiles;
	res->cached = 1;
	ok = 1;
out:
	ml_json_free(rec);
	return ok;
}

struct writer {
	struct ml_compressor *comp;
	const char *name;
	uint64_t done;
	uint64_t reported;
	struct ml_error *err;
	struct ml_sha256 *file_hash;	/* set while a racy file is written */
};

static int writer_out(void *ud, const void *data, size_t len)
{
	struct writer *w = ud;
	int rc = ml_compressor_write(w->comp, data, len, w->err);

	w->done += len;
	if (w->done - w->reported >= (4u << 20)) {
		ml_progress_update(w->name, w->done);
		w->reported = w->done;
	}
	return rc;
}

static void hash_tap(void *ud, const void *data, size_t len)
{
	ml_sha256_update(ud, data, len);
}

static int write_file_entry(struct ml_tar_writer *tw, struct writer *w, const struct entry *e,
			    const struct ml_layer_opts *o, ml_json *verify, struct ml_error *err)
{
	struct stat st;
	int fd, rc;
	int racy = is_racy(e, &o->now);

	fd = open(e->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot open '%s'", e->src);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size) {
		close(fd);
		return ml_error_set(err, ML_EIO, "'%s' changed while the layer was built", e->src);
	}
	if (racy)
		ml_sha256_reset(w->file_hash);
	rc = ml_tar_add_file(tw, e->path, e->mode, o->mtime, 0, 0, fd, e->size,
			     racy ? hash_tap : NULL, w->file_hash, err);
	close(fd);
	if (rc == 0 && racy) {
		char d[ML_DIGEST_LEN];
		ml_json *v = ml_json_object_new();

		ml_sha256_final(w->file_hash, d);
		ml_json_set_str(v, "path", e->src);
		ml_json_set_str(v, "digest", d);
		ml_json_append(verify, v);
	}
	return rc;
}

static int write_entries(struct ml_tar_writer *tw, struct writer *w, const struct entry *v,
			 size_t n, const struct ml_layer_opts *o, ml_json *verify,
			 struct ml_error *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		const struct entry *e = &v[i];

		if (e->type == E_DIR)
			rc = ml_tar_add_dir(tw, e->path, e->mode, o->mtime, 0, 0, err);
		else if (e->type == E_LINK)
			rc = ml_tar_add_symlink(tw, e->path, e->target, o->mtime, 0, 0, err);
		else
			rc = write_file_entry(tw, w, e, o, verify, err);
	}
	return rc;
}

static int write_layer(const char *name, const struct entry *v, size_t n,
		       const struct ml_layer_opts *o, const char *keyhex,
		       struct ml_layer_result *res, struct ml_error *err)
{
	struct writer w = { .name = name, .err = err };
	struct ml_tar_writer *tw = NULL;
	struct ml_compress_result cr;
	ml_json *verify = ml_json_array_new(), *rec = NULL;
	char *tmp = NULL;
	uint64_t total = 0;
	size_t i;
	int fd = -1, rc;

	for (i = 0; i < n; i++)
		total += v[i].size + 512;
	w.file_hash = ml_sha256_new();
	rc = ml_cache_tmp(o->cache, &tmp, &fd, err);
	if (rc < 0)
		goto out;
	rc = ml_compressor_new(&w.comp, o->codec, o->level, o->threads, fd, err);
	if (rc == 0)
		rc = ml_tar_writer_new(&tw, writer_out, &w, err);
	if (rc < 0)
		goto out;
	ml_progress_start(name, name, total);
	rc = write_entries(tw, &w, v, n, o, verify, err);
	if (rc == 0)
		rc = ml_tar_writer_close(tw, err);
	if (rc == 0)
		rc = ml_compressor_finish(w.comp, &cr, err);
	if (rc == 0 && close(fd) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write layer '%s' to the cache", name);
	fd = -1;
	if (rc < 0)
		goto out;
	rc = ml_cache_blob_commit(o->cache, tmp, cr.digest, err);
	if (rc < 0)
		goto out;
	memcpy(res->digest, cr.digest, sizeof(res->digest));
	memcpy(res->diff_id, cr.diff_id, sizeof(res->diff_id));
	res->size = cr.size;
	res->uncompressed_size = cr.uncompressed_size;
	res->nfiles = n;
	res->cached = 0;
	rec = ml_json_object_new();
	ml_json_set_str(rec, "digest", cr.digest);
	ml_json_set_str(rec, "diff_id", cr.diff_id);
	ml_json_set_int(rec, "size", (int64_t)cr.size);
	ml_json_set_int(rec, "uncompressed_size", (int64_t)cr.uncompressed_size);
	ml_json_set_int(rec, "files", (int64_t)n);
	ml_json_set(rec, "verify", ml_json_ref(verify));
	rc = ml_cache_record_put(o->cache, "layers", keyhex, rec, err);
out:
	if (rc < 0 && tmp)
		ml_tmp_remove(tmp);
	ml_progress_finish(name, rc < 0 ? "failed" : "written");
	if (fd >= 0)
		close(fd);
	ml_tar_writer_free(tw);
	ml_compressor_free(w.comp);
	ml_sha256_free(w.file_hash);
	ml_json_free(verify);
	ml_json_free(rec);
	free(tmp);
	return rc;
}

int ml_layer_build(const char *name, struct ml_copy *const *copies, size_t n,
		   const struct ml_layer_opts *opts, struct ml_layer_result *res,
		   struct ml_error *err)
{
	struct collect c = { .opts = opts, .err = err };
	char key[ML_DIGEST_LEN];
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = collect_copy(&c, copies[i]);
	if (rc == 0)
		rc = normalize(&c);
	if (rc < 0)
		goto out;
	layer_key(name, c.v, c.n, opts, key);
	if (opts->reuse && ml_layer_lookup(opts, ml_digest_hex(key), res)) {
		ml_log(ML_LOG_INFO, "layer %s: unchanged, reusing %s", name, res->digest);
		goto out;
	}
	rc = write_layer(name, c.v, c.n, opts, ml_digest_hex(key), res, err);
out:
	entries_free(c.v, c.n);
	return rc;
}

int ml_layer_build_tree(const char *name, char *const *roots, size_t nroots, const char *keyhex,
			const struct ml_layer_opts *opts, struct ml_layer_result *res,
			struct ml_error *err)
{
	struct ml_layer_opts o = *opts;
	struct collect c = { .opts = &o, .err = err, .tree = 1 };
	size_t i;
	int rc = 0;

	memset(&o.now, 0, sizeof(o.now));
	for (i = 0; i < nroots && rc == 0; i++) {
		o.context = roots[i];
		rc = walk(&c, roots[i], ".", "");
	}
	if (rc == 0)
		rc = normalize(&c);
	if (rc == 0)
		rc = write_layer(name, c.v, c.n, &o, keyhex, res, err);
	entries_free(c.v, c.n);
	return rc;
}
