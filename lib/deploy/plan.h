/* What the deploy pipeline and the providers exchange: the run's context, the
 * request (an image by digest and the deploy options), the plan (steps with their
 * request bodies, secrets masked), and the result that `--json` prints. */
#ifndef ML_DEPLOY_PLAN_H
#define ML_DEPLOY_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/error.h"
#include "wrap/json.h"

/* Given to a provider's init; borrowed for the run. */
struct ml_deploy_ctx {
	const struct ml_config *cfg;
	const void *conf;		/* the provider's own deploy.<name> object, or NULL */
	const char *target;		/* --target, or NULL: the provider's configured target
					   (deploy.gcp.target), else its default */
	const char *service;		/* cfg->name */
	int verbose;
	volatile int *interrupted;	/* set by cmd/'s signal handler; may be NULL */
};

/* The image to deploy, always by digest, and how. */
struct ml_deploy_request {
	const char *image;		/* "host/repo@sha256:...", or NULL for an engine-local image */
	const char *digest;		/* manifest digest "sha256:..." */
	const char *config_digest;	/* config digest "sha256:..." (the engine's image id) */
	const char *revision;		/* git revision, or NULL */
	int port;			/* image.port, or 8080 */
	const char *health_path;	/* health.path */
	int dry_run;
	int no_traffic;			/* --no-traffic: leave the new revision without traffic */
	int traffic;			/* --traffic N: percent for the new revision, -1: all */
	int no_wait;			/* --no-wait: return once the platform accepted the change */
	long timeout_s;			/* --timeout, 0: the provider's default */
	int assume_yes;			/* destroy --yes */
	int destroy_all;		/* destroy --all: what holds the service too, when
					   mldeploy created it (Azure's resource group) */
	int recreate;			/* deploy --recreate: replace what cannot change in place */
	int stop_previous;		/* deploy --stop-previous: stop the versions that no longer
					   serve (App Engine flexible bills for them) */
};

/* The plan: an ordered list of steps. Each step is {"action", "method", "url",
 * "body" (masked), "mutates"}; noop is set when what is live equals the request. */
struct ml_plan {
	ml_json *steps;			/* array */
	int noop;
	int live;			/* something serves now (a failed release leaves it serving) */
	char *summary;			/* one line: "create container iris", "no change" */
	void *priv;			/* the provider's own data, freed by priv_free */
	void (*priv_free)(void *priv);
};

void ml_plan_init(struct ml_plan *p);
void ml_plan_dispose(struct ml_plan *p);
/* Appends a step; body is stolen (NULL: none) and must already be masked. */
void ml_plan_add(struct ml_plan *p, const char *action, const char *method, const char *url,
		 ml_json *body, int mutates);
ml_json *ml_plan_json(const struct ml_plan *p);

struct ml_health {
	int checked;
	int ok;
	long status;			/* last HTTP status, 0 when none answered */
	double latency_ms;		/* of the passing (or last) answer */
	int attempts;
	char *url;
	char *detail;			/* why it failed, or NULL */
};

/* One result object (`--json`): provider, target, digest, URL, revision, health. */
struct ml_deploy_result {
	char *provider;
	char *service;			/* the service's name (deploy.yaml's name) */
	char *target;
	char *digest;			/* what now serves */
	char *url;
	char *revision;			/* the platform's revision / container name */
	char *candidate_url;		/* GATED providers: where the new revision answers */
	char *previous_digest;		/* what served before, or NULL */
	char *state;			/* "running", "ready", "absent" */
	int changed;			/* 0: the deploy was a no-op */
	int64_t uptime_s;		/* status: -1 when unknown */
	struct ml_health health;
	ml_json *removed;		/* destroy: array of what was removed */
	ml_json *extra;			/* provider details for status, or NULL */
	double seconds_build, seconds_push, seconds_platform, seconds_health;
	int api_calls;			/* requests made to the platform */
};

void ml_deploy_result_init(struct ml_deploy_result *r);
void ml_deploy_result_dispose(struct ml_deploy_result *r);
ml_json *ml_deploy_result_json(const struct ml_deploy_result *r);
/* destroy: appends {"kind", "name"} to r->removed (made when NULL). */
void ml_deploy_result_removed(struct ml_deploy_result *r, const char *kind, const char *name);

/* `mldeploy run`: the provider starts the image, waits for health, then either
 * posts predict to /predict (answer in res->extra "predict") and stops, or streams
 * the container's logs to log_fd until interrupted; nothing is left running. */
struct ml_run_opts {
	const char *predict;		/* JSON body, or NULL */
	int log_fd;			/* where logs go (stderr) */
	int host_port;			/* 0: a free port */
	/* Called once the container answers its health check (cmd/ prints the URL). */
	void (*ready)(void *ud, const char *url);
	void *ud;
};

#endif
