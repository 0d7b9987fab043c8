#include "scaffold.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "wrap/tar.h"

static const struct ml_template templates[] = {
	{ "sklearn-flask", "a scikit-learn model (joblib or pickle) served by Flask under gunicorn",
	  "model.pkl", ML_MODEL_PICKLE, 1 },
	{ "fastapi", "a scikit-learn model (joblib or pickle) served by FastAPI under uvicorn, "
	  "with a pydantic request schema and /docs", "model.pkl", ML_MODEL_PICKLE, 1 },
	{ "pytorch", "a TorchScript model (torch.jit.save) served by FastAPI under uvicorn, on CPU",
	  "model.pt", ML_MODEL_TORCHSCRIPT, 0 },
};

#define NTEMPLATES (sizeof(templates) / sizeof(templates[0]))

static const char *const providers[] = { "local", "gcp", "aws", "azure", NULL };

/* image.repository per provider: where the registry the provider deploys from is */
static const char *const repositories[] = {
	"  # repository: registry.example.com/ml/@NAME@   # where `mldeploy push` sends the image\n",
	"  repository: ${GOOGLE_CLOUD_REGION:-us-central1}-docker.pkg.dev/${GOOGLE_CLOUD_PROJECT}/"
	"${GAR_REPOSITORY:-ml}/@NAME@\n",
	"  repository: ${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_REGION:-us-east-1}.amazonaws.com/@NAME@\n",
	"  repository: ${AZURE_REGISTRY}.azurecr.io/@NAME@\n",
};

#define PREDICT_EXAMPLE "{\"features\": [[5.1, 3.5, 1.4, 0.2]]}"

const struct ml_template *ml_templates(size_t *n)
{
	*n = NTEMPLATES;
	return templates;
}

const struct ml_template *ml_template_find(const char *name)
{
	size_t i;

	for (i = 0; i < NTEMPLATES; i++)
		if (!strcmp(templates[i].name, name))
			return &templates[i];
	return NULL;
}

static const struct ml_template_file *embedded(const char *path)
{
	size_t i;

	for (i = 0; i < ml_template_nfiles; i++)
		if (!strcmp(ml_template_files[i].path, path))
			return &ml_template_files[i];
	return NULL;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* A TorchScript archive holds <root>/data.pkl and its code (<root>/code/ or
 * <root>/constants.pkl); torch.save() writes data.pkl without them. */
static int torchscript_check(const struct ml_template *t, const char *path, struct ml_error *err)
{
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	int rc, data = 0, code = 0;

	rc = ml_zip_reader_open(&r, path, err);
	while (rc == 0 && (rc = ml_tar_reader_next(r, &e, err)) > 0) {
		const char *slash = strchr(e.name, '/');

		if (!slash)
			continue;
		if (!strcmp(slash, "/data.pkl"))
			data = 1;
		if (!strcmp(slash, "/constants.pkl") || !strncmp(slash, "/code/", 6))
			code = 1;
		rc = 0;
	}
	ml_tar_reader_free(r);
	if (rc < 0)
		return ml_error_set(err, ML_EUSAGE, "'%s' is not a zip archive, so not a TorchScript "
				    "model: the %s template loads a model saved with "
				    "torch.jit.save(torch.jit.script(model), 'model.pt')", path, t->name);
	if (!data || !code)
		return ml_error_set(err, ML_EUSAGE, "'%s' is %s, not a TorchScript model: the %s "
				    "template loads a model saved with torch.jit.save(torch.jit.script"
				    "(model), 'model.pt')", path, data ? "a torch.save() archive (weights "
				    "without code)" : "a zip archive without TorchScript code", t->name);
	return 0;
}

/* Pickles of protocol 2 or later, and joblib's compressed files (zlib, gzip,
 * bz2, xz, lzma). */
static int looks_like_pickle(const unsigned char *b, size_t n)
{
	if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
		return 1;
	if (n >= 2 && b[0] == 0x78 && (b[1] == 0x01 || b[1] == 0x5e || b[1] == 0x9c || b[1] == 0xda))
		return 1;
	if ((n >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (n >= 3 && !memcmp(b, "BZh", 3)) ||
	    (n >= 6 && !memcmp(b, "\xfd" "7zXZ\0", 6)) || (n >= 3 && !memcmp(b, "\x5d\0\0", 3)) ||
	    (n >= 2 && !memcmp(b, "ZF", 2)))
		return 1;
	return 0;
}

static int pickle_check(const struct ml_template *t, const char *path, struct ml_error *err)
{
	static const char expects[] = "a scikit-learn model saved with joblib.dump or pickle.dump "
				      "(.pkl, .pickle or .joblib)";
	unsigned char head[8];
	ssize_t n;
	int fd;

	if (!has_suffix(path, ".pkl") && !has_suffix(path, ".pickle") && !has_suffix(path, ".joblib"))
		return ml_error_set(err, ML_EUSAGE, "'%s': the %s template loads %s%s", path, t->name,
				    expects, has_suffix(path, ".pt") || has_suffix(path, ".pth") ?
				    "; for a TorchScript model use --template pytorch" : "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	if (!looks_like_pickle(head, (size_t)n))
		return ml_error_set(err, ML_EUSAGE, "'%s' is %s, not a pickle or joblib file: the %s "
				    "template loads %s", path, n >= 4 && !memcmp(head, "PK\3\4", 4) ?
				    "a zip archive (TorchScript? then use --template pytorch)" :
				    n == 0 ? "empty" : "something else", t->name, expects);
	return 0;
}

int ml_model_check(const struct ml_template *t, const char *path, struct ml_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ml_error_errno(err, ML_ENOTFOUND, errno, "model file '%s'", path);
	if (!S_ISREG(st.st_mode))
		return ml_error_set(err, ML_ENOTFOUND, "model file '%s' is not a regular file", path);
	if (t->kind == ML_MODEL_TORCHSCRIPT) {
		if (!has_suffix(path, ".pt") && !has_suffix(path, ".pth"))
			return ml_error_set(err, ML_EUSAGE, "'%s': the %s template loads a TorchScript "
					    "model saved with torch.jit.save (.pt or .pth)", path, t->name);
		return torchscript_check(t, path, err);
	}
	return pickle_check(t, path, err);
}

char *ml_scaffold_name(const char *dir)
{
	struct ml_buf b = ML_BUF_INIT;
	char *real = realpath(dir, NULL), *path = ml_strdup(real ? real : dir);
	const char *base, *p;
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	p = strrchr(path, '/');
	base = p ? p + 1 : path;
	for (p = base; *p && b.len < 63; p++) {
		char c = (char)tolower((unsigned char)*p);

		if (isalnum((unsigned char)c))
			ml_buf_addch(&b, c);
		else if (b.len && b.data[b.len - 1] != '-')
			ml_buf_addch(&b, '-');
	}
	while (b.len && b.data[b.len - 1] == '-')
		b.len--;
	free(real);
	free(path);
	if (!b.len || !isalpha((unsigned char)b.data[0])) {
		ml_buf_dispose(&b);
		return ml_strdup("model-api");
	}
	b.data[b.len] = '\0';
	return ml_buf_detach(&b);
}

struct subst {
	const char *key;	/* "@NAME@" */
	const char *value;
};

/* Replaces each known @KEY@; anything else is copied as it is. */
static char *substitute(const char *s, size_t len, const struct subst *v, size_t nv, size_t *outlen)
{
	struct ml_buf b = ML_BUF_INIT;
	size_t i, j;

	for (i = 0; i < len; i++) {
		for (j = 0; s[i] == '@' && j < nv; j++) {
			size_t kl = strlen(v[j].key);

			if (kl <= len - i && !memcmp(s + i, v[j].key, kl))
				break;
		}
		if (s[i] == '@' && j < nv) {
			ml_buf_adds(&b, v[j].value);
			i += strlen(v[j].key) - 1;
		} else {
			ml_buf_addch(&b, s[i]);
		}
	}
	*outlen = b.len;
	return ml_buf_detach(&b);
}

static void add_file(struct ml_scaffold *s, size_t *alloc, const char *path, char *data,
		     size_t len, unsigned mode)
{
	struct ml_scaffold_file *f;

	s->files = ml_grow(s->files, alloc, s->n + 1, sizeof(*s->files));
	f = &s->files[s->n++];
	memset(f, 0, sizeof(*f));
	f->path = ml_strdup(path);
	f->data = data;
	f->len = len;
	f->mode = mode;
}

static int provider_index(const char *p)
{
	int i;

	for (i = 0; providers[i]; i++)
		if (!strcmp(providers[i], p))
			return i;
	return -1;
}

/* The model's name in the project: the given file's own name when it is a plain
 * one, else the template's. */
static const char *model_name(const struct ml_scaffold_opts *o)
{
	const char *base;

	if (!o->model)
		return o->tmpl->model;
	base = strrchr(o->model, '/');
	base = base ? base + 1 : o->model;
	if (!*base || base[0] == '.' || strspn(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
					       "OPQRSTUVWXYZ0123456789._-") != strlen(base))
		return o->tmpl->model;
	return base;
}

static void add_template_file(struct ml_scaffold *s, size_t *alloc, const char *out,
			      const struct ml_template_file *f, const struct subst *v, size_t nv)
{
	size_t len;
	char *data;

	if (memchr(f->data, '\0', f->len)) {	/* binary (a model): as it is */
		data = ml_malloc(f->len + 1);
		memcpy(data, f->data, f->len);
		data[f->len] = '\0';
		add_file(s, alloc, out, data, f->len, f->mode);
		return;
	}
	data = substitute((const char *)f->data, f->len, v, nv, &len);
	add_file(s, alloc, out, data, len, f->mode);
}

static int sort_by_path(const void *a, const void *b)
{
	return strcmp(((const struct ml_scaffold_file *)a)->path,
		      ((const struct ml_scaffold_file *)b)->path);
}

int ml_scaffold_make(struct ml_scaffold *s, const struct ml_scaffold_opts *o, struct ml_error *err)
{
	const struct ml_template_file *chunk, *ci;
	struct subst v[7];
	size_t i, alloc = 0, plen = strlen(o->tmpl->name), deploy_len;
	char *path, *deploy, *repository;
	int p = provider_index(o->provider);

	memset(s, 0, sizeof(*s));
	if (p < 0)
		return ml_error_set(err, ML_EUSAGE, "unknown provider '%s' (known: local, gcp, aws, "
				    "azure)", o->provider);
	if (strcmp(o->ci, "github") && strcmp(o->ci, "gitlab"))
		return ml_error_set(err, ML_EUSAGE, "unknown CI system '%s' (known: github, gitlab)",
				    o->ci);
	path = ml_asprintf("common/deploy-%s.yaml", o->provider);
	chunk = embedded(path);
	free(path);
	path = ml_asprintf("common/%s-%s.yml", o->ci, o->provider);
	ci = embedded(path);
	free(path);
	if (!chunk || !ci)
		return ml_error_set(err, ML_EINTERNAL, "the embedded templates lack the files for "
				    "provider '%s' and CI '%s'", o->provider, o->ci);
	s->model_path = model_name(o);
	v[0] = (struct subst){ "@NAME@", o->name };
	v[1] = (struct subst){ "@MODEL@", s->model_path };
	v[2] = (struct subst){ "@PROVIDER@", o->provider };
	v[3] = (struct subst){ "@PREDICT@", PREDICT_EXAMPLE };
	v[4] = (struct subst){ "@TEMPLATE@", o->tmpl->name };
	deploy = substitute((const char *)chunk->data, chunk->len, v, 5, &deploy_len);
	if (deploy_len && deploy[deploy_len - 1] == '\n')
		deploy[deploy_len - 1] = '\0';		/* the template's line has its own */
	repository = substitute(repositories[p], strlen(repositories[p]), v, 5, &deploy_len);
	v[5] = (struct subst){ "@DEPLOY@", deploy };
	v[6] = (struct subst){ "@REPOSITORY@", repository };
	for (i = 0; i < ml_template_nfiles; i++) {
		const struct ml_template_file *f = &ml_template_files[i];
		const char *rel = f->path + plen + 1;

		if (strncmp(f->path, o->tmpl->name, plen) || f->path[plen] != '/')
			continue;
		if (o->model && o->tmpl->bundled_model && !strcmp(rel, o->tmpl->model))
			continue;	/* the user's model replaces the bundled one */
		add_template_file(s, &alloc, !strcmp(rel, o->tmpl->model) ? s->model_path : rel, f,
				  v, 7);
	}
	add_template_file(s, &alloc, "Makefile", embedded("common/Makefile"), v, 7);
	add_template_file(s, &alloc, ".mldeployignore", embedded("common/.mldeployignore"), v, 7);
	add_template_file(s, &alloc, !strcmp(o->ci, "github") ? ".github/workflows/deploy.yml" :
			  ".gitlab-ci.yml", ci, v, 7);
	if (o->model) {
		add_file(s, &alloc, s->model_path, NULL, 0, 0644);
		s->files[s->n - 1].src = o->model;
	}
	free(deploy);
	free(repository);
	qsort(s->files, s->n, sizeof(*s->files), sort_by_path);
	return 0;
}

void ml_scaffold_dispose(struct ml_scaffold *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	memset(s, 0, sizeof(*s));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **ml_scaffold_dir_entries(const char *dir, const char *skip, struct ml_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **list;
	size_t n = 0, alloc = 0;

	if (!d) {
		if (errno != ENOENT)
			ml_error_errno(err, ML_EUSAGE, errno, "cannot read the directory '%s'", dir);
		return NULL;
	}
	list = ml_grow(NULL, &alloc, 1, sizeof(*list));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, ".git") ||
		    (skip && !strcmp(e->d_name, skip)))
			continue;
		list = ml_grow(list, &alloc, n + 2, sizeof(*list));
		list[n++] = ml_strdup(e->d_name);
	}
	closedir(d);
	list[n] = NULL;
	qsort(list, n, sizeof(*list), by_name);
	return list;
}

void ml_strlist_free(char **list)
{
	size_t i;

	for (i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

/* Copies a (possibly large) model file in, through a temporary name. */
static int copy_file(const char *src, const char *dst, struct ml_error *err)
{
	char buf[1 << 16], *tmp = ml_asprintf("%s.tmp-init", dst);
	int in, out, rc = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		free(tmp);
		return ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", src);
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write '%s'", tmp);
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", src);
		else
			rc = ml_write_all(out, buf, (size_t)n, err);
	}
	close(in);
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write '%s'", tmp);
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot rename '%s' to '%s'", tmp, dst);
	if (rc < 0 && out >= 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int write_one(const struct ml_scaffold_file *f, const char *dir, struct ml_error *err)
{
	char *path = ml_path_join(dir, f->path), *parent = ml_dirname(path);
	int rc = ml_mkdirs(parent, err);

	if (rc == 0 && f->src) {
		char *a = realpath(f->src, NULL), *b = realpath(path, NULL);

		/* the model already where it belongs: nothing to copy */
		if (!(a && b && !strcmp(a, b)))
			rc = copy_file(f->src, path, err);
		free(a);
		free(b);
	} else if (rc == 0) {
		rc = ml_write_file_atomic(path, f->data, f->len, err);
		if (rc == 0 && chmod(path, f->mode) < 0)
			rc = ml_error_errno(err, ML_EIO, errno, "cannot chmod '%s'", path);
	}
	free(parent);
	free(path);
	return rc;
}

char **ml_scaffold_existing(const struct ml_scaffold *s, const char *dir)
{
	char **list = NULL;
	size_t i, n = 0, alloc = 0;
	struct stat st;

	list = ml_grow(list, &alloc, 1, sizeof(*list));
	for (i = 0; i < s->n; i++) {
		char *path = ml_path_join(dir, s->files[i].path), *a, *b;

		if (lstat(path, &st) == 0) {
			a = s->files[i].src ? realpath(s->files[i].src, NULL) : NULL;
			b = realpath(path, NULL);
			/* the user's model, already in place, is not replaced by itself */
			if (!(a && b && !strcmp(a, b))) {
				list = ml_grow(list, &alloc, n + 2, sizeof(*list));
				list[n++] = ml_strdup(s->files[i].path);
			}
			free(a);
			free(b);
		}
		free(path);
	}
	list[n] = NULL;
	return list;
}

int ml_scaffold_write(const struct ml_scaffold *s, const char *dir, int force, struct ml_error *err)
{
	struct ml_buf there = ML_BUF_INIT;
	char **existing = force ? NULL : ml_scaffold_existing(s, dir);
	size_t i;
	int rc = 0;

	for (i = 0; existing && existing[i]; i++)
		ml_buf_printf(&there, "%s'%s'", i ? ", " : "", existing[i]);
	if (i)
		rc = ml_error_set(err, ML_EREFUSED, "'%s' already has %s: init never replaces a file "
				  "(hint: --force replaces %s)", dir, ml_buf_str(&there),
				  i == 1 ? "it" : "them");
	for (i = 0; i < s->n && rc == 0; i++)
		rc = write_one(&s->files[i], dir, err);
	ml_strlist_free(existing);
	ml_buf_dispose(&there);
	return rc;
}
