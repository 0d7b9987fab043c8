/* init: a new project (deploy.yaml, the serving app, Makefile, CI workflow) from
 * one of the templates compiled into the binary (lib/scaffold.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "scaffold.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"

struct iargs {
	const char *template, *model, *provider, *ci, *dir;
	int force, list;
};

static void list_templates(void)
{
	const struct ml_template *t = NULL;
	size_t i, n;

	t = ml_templates(&n);
	for (i = 0; i < n; i++)
		printf("%-14s %s\n", t[i].name, t[i].description);
}

static char *known_templates(void)
{
	struct ml_buf b = ML_BUF_INIT;
	const struct ml_template *t;
	size_t i, n;

	t = ml_templates(&n);
	for (i = 0; i < n; i++)
		ml_buf_printf(&b, "%s%s", i ? ", " : "", t[i].name);
	return ml_buf_detach(&b);
}

static int parse(struct iargs *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "model", required_argument, NULL, 'm' },
		{ "provider", required_argument, NULL, 'p' },
		{ "ci", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'F' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "t:m:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': a->template = optarg; break;
		case 'm': a->model = optarg; break;
		case 'p': a->provider = optarg; break;
		case 'c': a->ci = optarg; break;
		case 'F': a->force = 1; break;
		case 'l': a->list = 1; break;
		case 'h': cmd_usage("init", stdout); exit(EXIT_OK);
		default: cmd_usage("init", stderr); return -1;
		}
	}
	if (optind < argc)
		a->dir = argv[optind++];
	if (optind < argc) {
		ui_usage_error("init", "unexpected argument '%s' (init takes one DIR)", argv[optind]);
		return -1;
	}
	if (!*a->dir) {
		ui_usage_error("init", "the directory name is empty");
		return -1;
	}
	return 0;
}

/* The model's own name when it already sits in dir under the name it would get:
 * then it does not make dir "not empty". */
static const char *model_in_dir(const char *model, const char *dir, const char *name)
{
	char *a = model ? realpath(model, NULL) : NULL, *path = ml_path_join(dir, name);
	char *b = realpath(path, NULL);
	int same = a && b && !strcmp(a, b);

	free(a);
	free(b);
	free(path);
	return same ? name : NULL;
}

/* DIR must be empty (but for .git, and the model in place) unless --force. */
static int check_empty(const struct iargs *a, const struct ml_scaffold *s, struct ml_error *err)
{
	char **there = ml_scaffold_dir_entries(a->dir, model_in_dir(a->model, a->dir, s->model_path),
					       err), **replaced;
	struct ml_buf list = ML_BUF_INIT, repl = ML_BUF_INIT;
	size_t i;
	int rc = 0;

	if (!there)
		return err->code ? -err->code : 0;
	if (there[0] && !a->force) {
		for (i = 0; there[i] && i < 8; i++)
			ml_buf_printf(&list, "%s'%s'", i ? ", " : "", there[i]);
		if (there[i])
			ml_buf_adds(&list, ", ...");
		replaced = ml_scaffold_existing(s, a->dir);
		for (i = 0; replaced[i]; i++)
			ml_buf_printf(&repl, "%s'%s'", i ? ", " : "; it would replace ", replaced[i]);
		ml_strlist_free(replaced);
		rc = ml_error_set(err, ML_EREFUSED, "'%s' is not empty (it holds %s%s): init writes a "
				  "new project into an empty directory and never replaces a file (hint: "
				  "mldeploy init NEWDIR, or --force to write into this one)", a->dir,
				  ml_buf_str(&list), ml_buf_str(&repl));
	}
	ml_buf_dispose(&list);
	ml_buf_dispose(&repl);
	ml_strlist_free(there);
	return rc;
}

static void report(const struct global *g, const struct iargs *a, const struct ml_scaffold *s,
		   const struct ml_scaffold_opts *o)
{
	ml_json *doc, *files;
	size_t i;

	if (g->json) {
		doc = ml_json_object_new();
		files = ml_json_array_new();
		ml_json_set_str(doc, "directory", a->dir);
		ml_json_set_str(doc, "name", o->name);
		ml_json_set_str(doc, "template", o->tmpl->name);
		ml_json_set_str(doc, "provider", o->provider);
		ml_json_set_str(doc, "ci", o->ci);
		ml_json_set_str(doc, "model", s->model_path);
		for (i = 0; i < s->n; i++)
			ml_json_append(files, ml_json_string_new(s->files[i].path));
		ml_json_set(doc, "files", files);
		ui_json(doc);
		ml_json_free(doc);
		return;
	}
	for (i = 0; i < s->n; i++)
		ui_info(g, "wrote %s", s->files[i].path);
	ui_info(g, "created '%s' from the %s template in %s (provider %s, CI %s)", o->name,
		o->tmpl->name, a->dir, o->provider, o->ci);
	if (!o->model && !o->tmpl->bundled_model)
		ui_info(g, "no model yet: save your TorchScript model as %s/%s (python3 "
			"export_model.py writes a small one)", a->dir, s->model_path);
	ui_info(g, "next: cd %s && make build run%s", a->dir,
		strcmp(o->provider, "local") ? " (then export the ${...} variables deploy.yaml names, "
		"and make deploy)" : "");
}

int cmd_init(struct global *g, int argc, char **argv)
{
	struct iargs a = { .template = "sklearn-flask", .provider = "local", .ci = "github",
			   .dir = "." };
	struct ml_scaffold_opts o = { 0 };
	struct ml_scaffold s = { 0 };
	struct ml_error err = { 0 };
	char *name = NULL, *known;
	int rc;

	if (parse(&a, argc, argv) < 0)
		return EXIT_USAGE;
	if (a.list) {
		list_templates();
		return EXIT_OK;
	}
	o.tmpl = ml_template_find(a.template);
	if (!o.tmpl) {
		known = known_templates();
		ui_usage_error("init", "unknown template '%s' (known: %s; 'mldeploy init --list' "
			       "describes them)", a.template, known);
		free(known);
		return EXIT_USAGE;
	}
	o.provider = a.provider;
	o.ci = a.ci;
	o.model = a.model;
	o.name = name = ml_scaffold_name(a.dir);
	rc = a.model ? ml_model_check(o.tmpl, a.model, &err) : 0;
	if (rc == 0)
		rc = ml_scaffold_make(&s, &o, &err);
	if (rc == 0)
		rc = check_empty(&a, &s, &err);
	if (rc < 0) {
		/* nothing was written: all of these are the input's fault */
		ui_error(g, &err);
		rc = EXIT_USAGE;
		goto out;
	}
	rc = ml_scaffold_write(&s, a.dir, a.force, &err);
	if (rc < 0) {
		ui_error(g, &err);
		rc = ui_exit_status(rc);
		goto out;
	}
	report(g, &a, &s, &o);
	rc = EXIT_OK;
out:
	ml_scaffold_dispose(&s);
	free(name);
	return rc;
}
