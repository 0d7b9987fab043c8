#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "build.h"
#include "cmd.h"
#include "push.h"
#include "registry/reference.h"

ml_json *cmd_push_json(const struct ml_push_result *r)
{
	ml_json *j = ml_json_object_new(), *blobs = ml_json_array_new();
	size_t i;

	ml_json_set_str(j, "repository", r->repository);
	ml_json_set_str(j, "digest", r->manifest_digest);
	ml_json_set_str(j, "reference", r->reference);
	for (i = 0; i < r->nblobs; i++) {
		const struct ml_push_blob *b = &r->blobs[i];
		ml_json *o = ml_json_object_new();

		ml_json_set_str(o, "digest", b->digest);
		ml_json_set_str(o, "kind", b->kind);
		ml_json_set_int(o, "size", b->size);
		ml_json_set_str(o, "action", ml_push_action_name(b->action));
		if (b->mounted_from)
			ml_json_set_str(o, "mounted_from", b->mounted_from);
		ml_json_set_int(o, "bytes_sent", (int64_t)b->bytes_sent);
		ml_json_set_int(o, "resumes", b->resumes);
		ml_json_set_int(o, "restarts", b->restarts);
		ml_json_append(blobs, o);
	}
	ml_json_set(j, "blobs", blobs);
	return j;
}

void cmd_push_summary(const struct global *g, const struct ml_push_result *r)
{
	uint64_t sent = 0;
	size_t i, n[3] = { 0, 0, 0 };

	for (i = 0; i < r->nblobs; i++) {
		n[r->blobs[i].action]++;
		sent += r->blobs[i].bytes_sent;
	}
	ui_info(g, "pushed %s: %zu blobs uploaded (%llu bytes sent), %zu mounted, %zu already there",
		r->reference, n[ML_PUSH_UPLOADED], (unsigned long long)sent, n[ML_PUSH_MOUNTED],
		n[ML_PUSH_EXISTS]);
}

/* Pushes archive to repository (NULL: cfg's image.repository) under tags, or
 * the archive's own tag when none are given, plus cfg's image.tags. Reports
 * errors itself; with json_out the result is returned instead of printed. */
static int push_archive(const struct global *g, const struct ml_config *cfg, const char *archive,
			char *const *tags, size_t ntags, int jobs, const char *repository,
			ml_json **json_out)
{
	struct ml_push_opts o = { 0 };
	struct ml_push_result res = { 0 };
	struct ml_error err = { 0 };
	char **all = ml_calloc(ntags + (cfg ? cfg->image.tags.n : 0) + 1, sizeof(*all));
	size_t i, n = 0;
	int rc;

	for (i = 0; i < ntags; i++)
		all[n++] = tags[i];
	for (i = 0; cfg && i < cfg->image.tags.n; i++)
		all[n++] = cfg->image.tags.v[i];
	o.archive = archive;
	o.repository = repository ? repository : cfg ? cfg->image.repository : NULL;
	o.tags = all;
	o.ntags = n;
	o.archive_tag = ntags == 0;
	o.jobs = jobs;
	if (access(archive, R_OK) < 0) {
		ml_error_errno(&err, ML_EUSAGE, errno, "cannot read the image archive '%s' (hint: run "
			       "mldeploy build first, or name the archive)", archive);
		rc = -ML_EUSAGE;
	} else if (!o.repository) {
		ml_error_set(&err, ML_ECONFIG, "nowhere to push: set image.repository in %s or give "
			     "--repository", g->file);
		rc = -ML_ECONFIG;
	} else {
		rc = ml_push_run(&o, &res, &err);
	}
	if (rc < 0) {
		ui_error(g, &err);
	} else if (json_out) {
		*json_out = cmd_push_json(&res);
	} else {
		cmd_push_summary(g, &res);
	}
	if (rc == 0 && !json_out)
		printf("%s\n", res.reference);
	ml_push_result_dispose(&res);
	free(all);
	return rc;
}

int cmd_push(struct global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 't' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "repository", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ml_config *cfg = NULL;
	struct ml_error err = { 0 };
	const char *repository = NULL;
	char **tags = ml_calloc((size_t)argc + 1, sizeof(*tags)), *archive = NULL, *end;
	ml_json *j = NULL;
	size_t ntags = 0;
	int c, jobs = 0, rc, status;

	while ((c = getopt_long(argc, argv, "t:j:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!ml_ref_valid_tag(optarg)) {
				ui_usage_error("push", "invalid tag '%s'", optarg);
				status = EXIT_USAGE;
				goto out;
			}
			tags[ntags++] = optarg;
			break;
		case 'j':
			jobs = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || jobs < 1 || jobs > 16) {
				ui_usage_error("push", "--jobs takes a number from 1 to 16");
				status = EXIT_USAGE;
				goto out;
			}
			break;
		case 'r': repository = optarg; break;
		case 'h':
			cmd_usage("push", stdout);
			status = EXIT_OK;
			goto out;
		default:
			cmd_usage("push", stderr);
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (argc - optind > 1) {
		ui_usage_error("push", "unexpected argument '%s'", argv[optind + 1]);
		status = EXIT_USAGE;
		goto out;
	}
	/* without both an archive and a repository, deploy.yaml says what and where */
	rc = optind < argc && repository ? 0 : cmd_load_config(g, &cfg, &err);
	if (rc < 0) {
		ui_error(g, &err);
		status = ui_exit_status(rc);
		goto out;
	}
	archive = optind < argc ? ml_strdup(argv[optind]) : ml_build_default_output(cfg);
	rc = push_archive(g, cfg, archive, tags, ntags, jobs, repository, g->json ? &j : NULL);
	if (j)
		ui_json(j);
	status = ui_exit_status(rc);
out:
	ml_json_free(j);
	ml_config_free(cfg);
	free(archive);
	free(tags);
	return status;
}
