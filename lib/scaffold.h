/* `mldeploy init`: a new project from one of the serving-app templates.
 *
 * The templates (templates/<name>/ and templates/common/ in the source tree) are
 * compiled into the binary: scripts/embed-templates.sh turns them into
 * ml_template_files at build time, so an installed mldeploy needs no data files.
 * Text files may hold placeholders that the scaffold fills in: @NAME@ (the service
 * name), @MODEL@ (the model's file name), @PROVIDER@, @REPOSITORY@ (image.repository's
 * line), @DEPLOY@ (the deploy: section for the provider, templates/common/deploy-<p>.yaml),
 * @PREDICT@ (an example request body). */
#ifndef ML_SCAFFOLD_H
#define ML_SCAFFOLD_H

#include <stddef.h>

#include "util/error.h"

/* One embedded file: path relative to templates/ ("fastapi/app.py"). */
struct ml_template_file {
	const char *path;
	const unsigned char *data;
	size_t len;
	unsigned mode;		/* 0644 or 0755 */
};

extern const struct ml_template_file ml_template_files[];
extern const size_t ml_template_nfiles;

enum ml_model_kind {
	ML_MODEL_PICKLE,	/* joblib.dump / pickle.dump: .pkl, .pickle, .joblib */
	ML_MODEL_TORCHSCRIPT,	/* torch.jit.save: a zip with code/ and constants.pkl */
};

struct ml_template {
	const char *name;
	const char *description;	/* one line, for `init --list` */
	const char *model;		/* the model's file name in the project */
	enum ml_model_kind kind;
	int bundled_model;		/* the template carries a model (used without --model) */
};

/* The templates, in the order `init --list` shows them. */
const struct ml_template *ml_templates(size_t *n);
/* NULL when there is no template of that name. */
const struct ml_template *ml_template_find(const char *name);

/* Whether path holds a model the template can load, by extension and content.
 * -ML_ENOTFOUND when it does not exist (or is not a regular file), -ML_EUSAGE with
 * a message saying what the template expects otherwise. */
int ml_model_check(const struct ml_template *t, const char *path, struct ml_error *err);

/* A DNS-safe service name made from a directory's name (malloc'ed; "model-api" when
 * nothing usable is left). */
char *ml_scaffold_name(const char *dir);

struct ml_scaffold_opts {
	const struct ml_template *tmpl;
	const char *name;		/* service name */
	const char *provider;		/* gcp, aws, azure or local */
	const char *ci;			/* github or gitlab */
	const char *model;		/* a model file to copy in, or NULL */
};

struct ml_scaffold_file {
	char *path;		/* relative to the project directory */
	char *data;		/* contents, or NULL when copied from src */
	size_t len;
	const char *src;	/* the user's model (borrowed from the options) */
	unsigned mode;
};

struct ml_scaffold {
	struct ml_scaffold_file *files;
	size_t n;
	const char *model_path;	/* the model's name in the project (borrowed) */
};

/* The files a project gets, filled in, in a stable order. -ML_EUSAGE for an
 * unknown provider or CI system. */
int ml_scaffold_make(struct ml_scaffold *out, const struct ml_scaffold_opts *o,
		     struct ml_error *err);
void ml_scaffold_dispose(struct ml_scaffold *s);

/* The entries of dir (NULL-terminated, sorted, malloc'ed; NULL when dir does not
 * exist), leaving out ".git" and skip (a name that may already be there). */
char **ml_scaffold_dir_entries(const char *dir, const char *skip, struct ml_error *err);
void ml_strlist_free(char **list);

/* The project's files that dir already has (NULL-terminated, malloc'ed); the
 * user's model already in its place is not one of them. */
char **ml_scaffold_existing(const struct ml_scaffold *s, const char *dir);

/* Writes the project into dir (created when missing). Files already there are
 * replaced only with force; without it the call fails (-ML_EREFUSED) before
 * writing anything, naming them. */
int ml_scaffold_write(const struct ml_scaffold *s, const char *dir, int force,
		      struct ml_error *err);

#endif
