/* deploy, status, rollback, destroy, render and run: option parsing and printing
 * around lib/deploy.c. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "deploy.h"
#include "image/dockerfile.h"
#include "providers.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/redact.h"
#include "util/tmpfile.h"

enum { OPT_PROVIDER = 1 << 0, OPT_TARGET = 1 << 1, OPT_DRY_RUN = 1 << 2, OPT_TRAFFIC = 1 << 3,
       OPT_WAIT = 1 << 4, OPT_TIMEOUT = 1 << 5, OPT_YES = 1 << 6, OPT_OUTPUT = 1 << 7,
       OPT_PREDICT = 1 << 8, OPT_PORT = 1 << 9, OPT_ALL = 1 << 10, OPT_RECREATE = 1 << 11,
       OPT_STOP_PREVIOUS = 1 << 12 };

struct dargs {
	const char *cmd;
	const char *provider, *target, *output, *predict;
	struct ml_deploy_request req;
	int host_port;
	const char *operand;		/* render's FILE */
};

static volatile int interrupted;

/* The first Ctrl-C asks the operation to stop and clean up (remove what it started);
 * a second one ends the process at once. */
static void on_interrupt(int sig)
{
	if (interrupted) {
		ml_tmp_cleanup_signal();
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	interrupted = 1;
}

static void catch_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* "90", "90s", "10m", "1h" -> seconds. */
static int parse_duration(const char *cmd, const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno || v <= 0)
		goto bad;
	if (!strcmp(end, "m"))
		v *= 60;
	else if (!strcmp(end, "h"))
		v *= 3600;
	else if (*end && strcmp(end, "s"))
		goto bad;
	if (v > 24 * 3600)
		goto bad;
	*out = v;
	return 0;
bad:
	ui_usage_error(cmd, "--timeout takes a duration such as 90s, 10m or 1h (at most 24h), "
		       "not '%s'", s);
	return -1;
}

static int parse_number(const char *cmd, const char *opt, const char *s, long min, long max,
			int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max) {
		ui_usage_error(cmd, "%s takes a number from %ld to %ld, not '%s'", opt, min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_args(struct dargs *a, unsigned allowed, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "provider", required_argument, NULL, 'p' },
		{ "target", required_argument, NULL, 'T' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "no-traffic", no_argument, NULL, 'N' },
		{ "traffic", required_argument, NULL, 'R' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "timeout", required_argument, NULL, 't' },
		{ "yes", no_argument, NULL, 'y' },
		{ "output", required_argument, NULL, 'o' },
		{ "predict", required_argument, NULL, 'P' },
		{ "port", required_argument, NULL, 'H' },
		{ "all", no_argument, NULL, 'A' },
		{ "recreate", no_argument, NULL, 'C' },
		{ "stop-previous", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { int c; unsigned bit; } bits[] = {
		{ 'p', OPT_PROVIDER }, { 'T', OPT_TARGET }, { 'n', OPT_DRY_RUN },
		{ 'N', OPT_TRAFFIC }, { 'R', OPT_TRAFFIC }, { 'W', OPT_WAIT }, { 't', OPT_TIMEOUT },
		{ 'y', OPT_YES }, { 'o', OPT_OUTPUT }, { 'P', OPT_PREDICT }, { 'H', OPT_PORT },
		{ 'A', OPT_ALL }, { 'C', OPT_RECREATE }, { 'S', OPT_STOP_PREVIOUS },
	};
	int c, n;
	size_t i;

	a->req.traffic = -1;
	while ((c = getopt_long(argc, argv, "p:yo:h", opts, NULL)) != -1) {
		if (c == 'h') {
			cmd_usage(a->cmd, stdout);
			exit(EXIT_OK);
		}
		for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
			if (bits[i].c == c)
				break;
		if (c == '?' || i == sizeof(bits) / sizeof(bits[0]) || !(allowed & bits[i].bit)) {
			if (c != '?')
				ui_usage_error(a->cmd, "'%s' takes no option '%s'", a->cmd, argv[optind - 1]);
			else
				cmd_usage(a->cmd, stderr);
			return -1;
		}
		switch (c) {
		case 'p': a->provider = optarg; break;
		case 'T': a->target = optarg; break;
		case 'n': a->req.dry_run = 1; break;
		case 'N': a->req.no_traffic = 1; break;
		case 'R':
			if (parse_number(a->cmd, "--traffic", optarg, 0, 100, &n) < 0)
				return -1;
			a->req.traffic = n;
			break;
		case 'W': a->req.no_wait = 1; break;
		case 't':
			if (parse_duration(a->cmd, optarg, &a->req.timeout_s) < 0)
				return -1;
			break;
		case 'y': a->req.assume_yes = 1; break;
		case 'A': a->req.destroy_all = 1; break;
		case 'C': a->req.recreate = 1; break;
		case 'S': a->req.stop_previous = 1; break;
		case 'o': a->output = optarg; break;
		case 'P': a->predict = optarg; break;
		case 'H':
			if (parse_number(a->cmd, "--port", optarg, 1, 65535, &a->host_port) < 0)
				return -1;
			break;
		}
	}
	if (optind < argc && !strcmp(a->cmd, "render"))
		a->operand = argv[optind++];
	if (optind < argc) {
		ui_usage_error(a->cmd, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!strcmp(a->cmd, "render") && !a->operand) {
		ui_usage_error(a->cmd, "render needs the FILE to write (Dockerfile, app.yaml, "
			       "Dockerrun.aws.json, ...)");
		return -1;
	}
	if (a->output && !*a->output) {
		ui_usage_error(a->cmd, "-o needs a file name");
		return -1;
	}
	return 0;
}

static void print_health(const struct global *g, const struct ml_health *h)
{
	char *url;

	if (!h->checked || !h->ok)
		return;		/* a failed check is the error message */
	url = ml_strdup(h->url);
	ml_sanitize(url);
	ui_info(g, "health: GET %s -> %ld in %.0f ms (%d attempt%s)", url, h->status,
		h->latency_ms, h->attempts, h->attempts == 1 ? "" : "s");
	free(url);
}

static void print_result(const struct global *g, const struct dargs *a,
			 const struct ml_deploy_result *r)
{
	if (!strcmp(a->cmd, "deploy") || !strcmp(a->cmd, "rollback")) {
		if (r->candidate_url && a->req.no_traffic)
			ui_info(g, "new revision %s answers at %s, without traffic", r->revision,
				r->candidate_url);
		ui_info(g, "%s %s on %s%s%s: %s", r->changed ? "deployed" : "no change:",
			r->digest ? r->digest : "?", r->provider, r->target ? "/" : "",
			r->target ? r->target : "", r->url ? r->url : "(no URL)");
		if (r->url && !(r->candidate_url && a->req.no_traffic))
			printf("%s\n", r->url);
		if (r->previous_digest)
			ui_info(g, "previously: %s", r->previous_digest);
		ui_info(g, "time: build %.2f s, push %.2f s, platform %.2f s, health %.2f s; %d API call%s",
			r->seconds_build, r->seconds_push, r->seconds_platform, r->seconds_health,
			r->api_calls, r->api_calls == 1 ? "" : "s");
	} else if (!strcmp(a->cmd, "status")) {
		if (r->state && !strcmp(r->state, "absent")) {
			printf("%s: not deployed\n", r->provider);
			return;
		}
		printf("provider: %s%s%s\nstate:    %s\ndigest:   %s\nurl:      %s\n", r->provider,
		       r->target ? "/" : "", r->target ? r->target : "", r->state ? r->state : "?",
		       r->digest ? r->digest : "?", r->url ? r->url : "-");
		if (r->uptime_s >= 0)
			printf("uptime:   %lld s\n", (long long)r->uptime_s);
		if (r->previous_digest)
			printf("previous: %s\n", r->previous_digest);
		if (r->health.checked)
			printf("health:   %s (%ld, %.0f ms)\n", r->health.ok ? "ok" : "failing",
			       r->health.status, r->health.latency_ms);
		return;
	} else if (!strcmp(a->cmd, "destroy")) {
		size_t i, n = r->removed ? ml_json_size(r->removed) : 0;

		for (i = 0; i < n; i++) {
			ml_json *o = ml_json_at(r->removed, i);

			ui_info(g, "removed %s %s", ml_json_get_str(o, "kind"), ml_json_get_str(o, "name"));
		}
		ui_info(g, n ? "destroyed %s on %s" : "nothing of %s to remove on %s", r->service,
			r->provider);
		return;
	}
	print_health(g, &r->health);
}

/* destroy asks on a terminal; without one it needs --yes. */
static int confirm_destroy(const struct dargs *a, const struct ml_config *cfg, const char *provider)
{
	char line[16];

	if (a->req.assume_yes)
		return 0;
	if (!isatty(0)) {
		ui_usage_error("destroy", "destroy removes '%s' from %s and asks first; without a "
			       "terminal to ask on, pass --yes", cfg->name, provider);
		return -1;
	}
	fprintf(stderr, "remove everything mldeploy deployed for '%s' on %s%s? [y/N] ", cfg->name,
		provider, a->req.destroy_all ? ", and what holds it when mldeploy created it (Azure: "
		"the resource group, with everything in it)" : "");
	if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y')) {
		fprintf(stderr, "nothing removed\n");
		return 1;
	}
	return 0;
}

static void on_ready(void *ud, const char *url)
{
	const struct global *g = ud;

	if (!g->json)
		fprintf(stderr, "serving at %s%s\n", url,
			g->quiet ? "" : " (Ctrl-C stops it and removes the container)");
}

static char *read_predict(const char *arg, struct ml_error *err)
{
	struct ml_buf b;

	if (arg[0] != '@')
		return ml_strdup(arg);
	ml_buf_init(&b, 0);
	if (ml_read_file(arg + 1, 16u << 20, &b, err) < 0) {
		ml_buf_dispose(&b);
		return NULL;
	}
	return ml_buf_detach(&b);
}

static int write_render(const struct dargs *a, const struct ml_buf *out, struct ml_error *err)
{
	if (!a->output) {
		fwrite(out->data, 1, out->len, stdout);
		return 0;
	}
	return ml_write_file_atomic(a->output, out->data, out->len, err);
}

static int run(struct global *g, const char *cmd, enum ml_deploy_op op, unsigned allowed,
	       int argc, char **argv)
{
	struct dargs a = { .cmd = cmd };
	struct ml_config *cfg = NULL;
	struct ml_error err = { 0 };
	struct ml_deploy_opts o = { .op = op, .interrupted = &interrupted };
	struct ml_deploy_result res;
	struct ml_run_opts ro = { .log_fd = 2, .ready = on_ready, .ud = g };
	struct ml_plan plan;
	struct ml_buf rendered;
	char *predict = NULL;
	ml_json *doc;
	int rc;

	ml_deploy_result_init(&res);
	ml_plan_init(&plan);
	ml_buf_init(&rendered, 16u << 20);
	if (parse_args(&a, allowed, argc, argv) < 0) {
		rc = -ML_EUSAGE;
		goto usage;
	}
	rc = cmd_load_config(g, &cfg, &err);
	if (rc == 0 && op == ML_OP_RENDER && !strcmp(a.operand, "Dockerfile")) {
		/* the core's own file: the same for every provider */
		rc = ml_dockerfile_make(cfg, &rendered, &err);
		if (rc == 0)
			rc = write_render(&a, &rendered, &err);
		goto out;
	}
	if (rc == 0)
		rc = ml_providers_pick(cfg, op == ML_OP_RUN && !a.provider ? "local" : a.provider,
				       op == ML_OP_RUN ? ML_PROVIDER_RUN : ML_PROVIDER_DEPLOY,
				       &o.provider, &err);
	if (rc == 0 && op == ML_OP_DESTROY && (rc = confirm_destroy(&a, cfg, o.provider->name)) != 0) {
		rc = rc < 0 ? -ML_EUSAGE : 0;
		goto usage;
	}
	if (rc == 0 && a.predict && !(predict = read_predict(a.predict, &err)))
		rc = -err.code;
	if (rc < 0)
		goto out;
	catch_interrupts();
	o.cfg = cfg;
	o.target = a.target;
	o.req = a.req;
	o.verbose = g->verbose;
	o.render_file = a.operand;
	o.render_out = &rendered;
	ro.predict = predict;
	ro.host_port = a.host_port;
	o.run = &ro;
	rc = ml_deploy_run(&o, &res, &plan, &err);
	if (rc == 0 && op == ML_OP_RENDER)
		rc = write_render(&a, &rendered, &err);
out:
	if (rc < 0)
		ui_error(g, &err);
	if (op == ML_OP_RENDER || !cfg) {
		/* nothing more to print */
	} else if (a.req.dry_run) {
		doc = ml_deploy_result_json(&res);
		ml_json_set(doc, "plan", ml_plan_json(&plan));
		ml_json_set(doc, "dry_run", ml_json_bool_new(1));
		if (rc == 0)
			ui_json(g->json ? doc : ml_json_get(doc, "plan"));
		ml_json_free(doc);
	} else if (g->json) {
		doc = ml_deploy_result_json(&res);
		if (rc < 0) {
			ml_json_set_str(doc, "error", err.msg);
			ml_json_set_str(doc, "error_kind", ml_error_name(rc));
		}
		ui_json(doc);
		ml_json_free(doc);
	} else if (op == ML_OP_RUN && predict && rc == 0) {
		ml_json *p = ml_json_get(res.extra, "predict");

		if (ml_json_str(p))
			printf("%s\n", ml_json_str(p));
		else
			ui_json(p);
	} else if (rc == 0) {
		print_result(g, &a, &res);
	} else {
		print_health(g, &res.health);
	}
usage:
	free(predict);
	ml_buf_dispose(&rendered);
	ml_plan_dispose(&plan);
	ml_deploy_result_dispose(&res);
	ml_config_free(cfg);
	if (interrupted && rc == 0 && op != ML_OP_RUN)
		rc = -ML_EINTR;
	return ui_exit_status(rc);
}

int cmd_deploy(struct global *g, int argc, char **argv)
{
	return run(g, "deploy", ML_OP_DEPLOY, OPT_PROVIDER | OPT_TARGET | OPT_DRY_RUN | OPT_TRAFFIC |
		   OPT_WAIT | OPT_TIMEOUT | OPT_RECREATE | OPT_STOP_PREVIOUS, argc, argv);
}

int cmd_status(struct global *g, int argc, char **argv)
{
	return run(g, "status", ML_OP_STATUS, OPT_PROVIDER | OPT_TARGET, argc, argv);
}

int cmd_rollback(struct global *g, int argc, char **argv)
{
	return run(g, "rollback", ML_OP_ROLLBACK, OPT_PROVIDER | OPT_TARGET | OPT_TIMEOUT, argc, argv);
}

int cmd_destroy(struct global *g, int argc, char **argv)
{
	return run(g, "destroy", ML_OP_DESTROY, OPT_PROVIDER | OPT_TARGET | OPT_YES | OPT_ALL, argc,
		   argv);
}

int cmd_render(struct global *g, int argc, char **argv)
{
	return run(g, "render", ML_OP_RENDER, OPT_PROVIDER | OPT_TARGET | OPT_OUTPUT, argc, argv);
}

int cmd_run(struct global *g, int argc, char **argv)
{
	return run(g, "run", ML_OP_RUN, OPT_PREDICT | OPT_PORT | OPT_TIMEOUT, argc, argv);
}
