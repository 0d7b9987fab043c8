#include "wrap/gitmeta.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/redact.h"

static int git_fail(struct ml_error *err, const char *what)
{
	const git_error *e = git_error_last();

	return ml_error_set(err, ML_EIO, "git: %s: %s", what, e && e->message ? e->message : "failed");
}

static int count_dirty(const char *path, unsigned int flags, void *payload)
{
	(void)path;
	if (flags & ~(GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED))
		(*(int *)payload)++;
	return 0;
}

/* remote.origin.url straight from the configuration: git_remote_lookup would also
 * apply url.*.insteadOf, through a libgit2 1.5 regex path that leaks. */
static char *remote_url(git_repository *repo)
{
	git_config *cfg = NULL;
	char *shown;
	const char *url = NULL;

	if (git_repository_config_snapshot(&cfg, repo) < 0 ||
	    git_config_get_string(&url, cfg, "remote.origin.url") < 0 || !url) {
		git_config_free(cfg);
		return NULL;
	}
	shown = ml_redacted_url(url);
	git_config_free(cfg);
	return shown;
}

int ml_gitmeta_read(struct ml_gitmeta *g, const char *dir, struct ml_error *err)
{
	git_status_options opts;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_oid oid;
	int rc = 0, dirty = 0;

	memset(g, 0, sizeof(*g));
	git_libgit2_init();
	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	if (git_repository_open_ext(&repo, dir, 0, NULL) < 0)
		goto out;	/* not a repository: no metadata, no error */
	if (git_repository_is_bare(repo) || git_reference_name_to_id(&oid, repo, "HEAD") < 0)
		goto out;	/* no commit yet */
	if (git_commit_lookup(&commit, repo, &oid) < 0) {
		rc = git_fail(err, "cannot read HEAD");
		goto out;
	}
	git_oid_tostr(g->revision, sizeof(g->revision), &oid);
	memcpy(g->short_rev, g->revision, 7);
	g->commit_time = (int64_t)git_commit_time(commit);
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_foreach_ext(repo, &opts, count_dirty, &dirty) < 0) {
		rc = git_fail(err, "cannot read the work tree status");
		goto out;
	}
	g->dirty = dirty > 0;
	g->remote_url = remote_url(repo);
	g->present = 1;
out:
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

void ml_gitmeta_dispose(struct ml_gitmeta *g)
{
	free(g->remote_url);
	memset(g, 0, sizeof(*g));
}
