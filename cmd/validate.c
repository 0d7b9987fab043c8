#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cmd.h"
#include "util/alloc.h"
#include "wrap/gitmeta.h"

/* What build would do, without doing it. */
static ml_json *plan_json(const struct ml_config *cfg, struct ml_error *err)
{
	ml_json *plan = ml_json_object_new();
	struct ml_gitmeta git;
	const char *source;
	char *out = ml_build_default_output(cfg);
	int64_t mtime = 0;

	if (ml_gitmeta_read(&git, cfg->dir, err) < 0 ||
	    ml_build_mtime(&git, &mtime, &source, err) < 0) {
		ml_json_free(plan);
		free(out);
		ml_gitmeta_dispose(&git);
		return NULL;
	}
	ml_json_set_str(plan, "output", out);
	ml_json_set_int(plan, "mtime", mtime);
	ml_json_set_str(plan, "mtime_source", source);
	if (git.present) {
		char *tag = ml_asprintf("%s%s", git.short_rev, git.dirty ? "-dirty" : "");

		ml_json_set_str(plan, "tag", tag);
		ml_json_set_str(plan, "revision", git.revision);
		free(tag);
	} else {
		ml_json_set_str(plan, "tag", "latest");
	}
	free(out);
	ml_gitmeta_dispose(&git);
	return plan;
}

int cmd_validate(struct global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ml_config *cfg = NULL;
	struct ml_error err = { 0 };
	ml_json *doc = NULL, *plan;
	struct ml_pytarget_info py = { 0 };
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			cmd_usage("validate", stdout);
			return EXIT_OK;
		}
		cmd_usage("validate", stderr);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		ui_usage_error("validate", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	rc = cmd_load_config(g, &cfg, &err);
	if (rc == 0) {
		doc = ml_json_object_new();
		ml_json_set(doc, "config", ml_config_to_json(cfg));
		plan = plan_json(cfg, &err);
		rc = plan ? 0 : -err.code;
		if (rc == 0 && cfg->image.python.present) {
			rc = ml_build_python_target(cfg, &py, &err);
			if (rc == 0)
				ml_json_set(plan, "python", ml_pytarget_json(&py));
		}
		ml_json_set(doc, "plan", plan);
	}
	if (rc < 0) {
		ui_error(g, &err);
	} else {
		ui_json(doc);
		if (py.base.interpreter)
			ui_info(g, "python: %s; interpreter %s; packages go to %s, scripts to %s",
				py.describe, py.base.interpreter, py.base.site_packages,
				py.base.scripts);
		ui_info(g, "%s: ok", g->file);
	}
	ml_json_free(doc);
	ml_pytarget_info_dispose(&py);
	ml_config_free(cfg);
	return ui_exit_status(rc);
}
