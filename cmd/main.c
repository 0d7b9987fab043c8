#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util/fsutil.h"
#include "wrap/http.h"
#include "providers.h"
#include "registry/registry.h"
#include "util/tmpfile.h"

#ifndef ML_VERSION
#define ML_VERSION "dev"
#endif

static const struct cmd_entry commands[] = {
	{ "init", cmd_init, "start a project: serving app, deploy.yaml, Makefile and CI workflow",
	  "[--template NAME] [--model FILE] [--provider P]\n"
	  "                      [--ci github|gitlab] [--force] [--list] [DIR]",
	  "  DIR                   where to write it (default: the current directory; it\n"
	  "                        must be empty but for .git and the model)\n"
	  "  -t, --template NAME   sklearn-flask (default), fastapi or pytorch\n"
	  "  -m, --model FILE      copy this model in (its format is checked) instead of the\n"
	  "                        template's example\n"
	  "  -p, --provider P      local (default), gcp, aws or azure: deploy.yaml's deploy:\n"
	  "                        section and the CI workflow\n"
	  "  --ci github|gitlab    .github/workflows/deploy.yml (default) or .gitlab-ci.yml\n"
	  "  --force               write into a directory that is not empty, replacing files\n"
	  "  --list                list the templates\n" },
	{ "build", cmd_build, "build the image described by deploy.yaml, without a daemon",
	  "[-o FILE] [--format oci|docker] [--compression gzip|zstd|none] [--level N]\n"
	  "                      [--tag TAG] [--threads N] [--no-cache] [--push]",
	  "  -o, --output FILE     write the image tarball here (default: build/NAME.tar;\n"
	  "                        with --push and no -o, no tarball is written)\n"
	  "  --format oci|docker   OCI archive (default) or docker-archive (adds manifest.json)\n"
	  "  --compression C       layer compression: gzip (default), zstd or none\n"
	  "  --level N             compression level (gzip 1-12, zstd 1-19)\n"
	  "  -t, --tag TAG         the image's tag (default: git short revision, +\"-dirty\")\n"
	  "  --threads N           compression threads (default: one per core)\n"
	  "  --no-cache            rebuild every layer\n"
	  "  --push                push to image.repository afterwards, from the build cache\n" },
	{ "push", cmd_push, "push the built image to its registry, sending only what it lacks",
	  "[IMAGE-TAR] [--tag TAG]... [--jobs N] [--repository HOST/PATH]",
	  "  IMAGE-TAR             the tarball build wrote (default: build/NAME.tar)\n"
	  "  -t, --tag TAG         push under this tag too (repeatable)\n"
	  "  -j, --jobs N          blobs sent at once (default 3)\n"
	  "  -r, --repository R    push to HOST/PATH instead of image.repository\n" },
	{ "validate", cmd_validate, "check deploy.yaml and print the resolved plan", "", "" },
	{ "deploy", cmd_deploy, "build, push and deploy the image by digest, health-checked",
	  "[--provider P] [--target T] [--dry-run] [--no-traffic] [--traffic N]\n"
	  "                      [--no-wait] [--timeout DUR] [--recreate] [--stop-previous]",
	  DEPLOY_SELECT_HELP
	  "  --dry-run             print the plan (request bodies, secrets masked); change nothing\n"
	  "  --no-traffic          start the new revision but give it no traffic\n"
	  "  --traffic N           percent of traffic for the new revision (where the platform splits)\n"
	  "  --no-wait             return once the platform accepted the change\n"
	  "  --timeout DUR         how long the new revision may take to pass its health\n"
	  "                        check (\"90s\", \"10m\"; default 120s)\n"
	  "  --recreate            delete and create again what the platform cannot change in\n"
	  "                        place (Azure Container Instances: osType, restartPolicy, ...)\n"
	  "  --stop-previous       stop the versions that no longer serve once the new one\n"
	  "                        does (App Engine flexible: they keep billing otherwise)\n" },
	{ "status", cmd_status, "show what serves: revision, digest, URL, health",
	  "[--provider P] [--target T]", DEPLOY_SELECT_HELP },
	{ "rollback", cmd_rollback, "serve the digest that served before the current one again",
	  "[--provider P] [--target T] [--timeout DUR]",
	  DEPLOY_SELECT_HELP
	  "  --timeout DUR         health-check deadline of the revision rolled back to\n" },
	{ "destroy", cmd_destroy, "remove what mldeploy deployed for this service, nothing else",
	  "[--provider P] [--target T] [--yes] [--all]",
	  DEPLOY_SELECT_HELP
	  "  -y, --yes             do not ask (required without a terminal)\n"
	  "  --all                 also what holds the service, when mldeploy created it\n"
	  "                        (Azure: the resource group)\n" },
	{ "render", cmd_render, "write a platform file for users of native tools",
	  "[--provider P] [--target T] [-o OUT] FILE",
	  DEPLOY_SELECT_HELP
	  "  FILE                  the file to render: Dockerfile (any provider), or the\n"
	  "                        provider's own (app.yaml, Dockerrun.aws.json, ...)\n"
	  "  -o, --output OUT      write here instead of standard output\n" },
	{ "run", cmd_run, "run the image on the local engine as a smoke test, then stop it",
	  "[--predict JSON] [--port N] [--timeout DUR]",
	  "  --predict JSON        POST JSON (or @FILE) to /predict, print the answer, stop\n"
	  "                        (without it: print the URL, stream logs until Ctrl-C)\n"
	  "  --port N              host port to publish (default: a free one)\n"
	  "  --timeout DUR         health-check deadline (default 120s)\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: mldeploy [-f FILE] [-C DIR] [-v|-vv] [-q] [--json] [--no-progress]\n"
		   "                [--color=auto|always|never] COMMAND [ARGS]\n\n"
		   "Build container images for ML model APIs without Docker, and deploy them.\n\n"
		   "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nglobal options:\n"
		   "  -f FILE          configuration file (default: deploy.yaml)\n"
		   "  -C DIR           run in DIR (the build context)\n"
		   "  -v, -vv          say more: requests and credential sources; -vv: HTTP headers (redacted)\n"
		   "  -q               print only errors and the result\n"
		   "  --json           print the result as JSON on stdout\n"
		   "  --no-progress    no progress display\n"
		   "  --color=WHEN     auto (default), always or never; NO_COLOR is honoured\n"
		   "  -h, --help       this help; 'mldeploy COMMAND --help' for a command\n"
		   "  --version        print the version\n\n"
		   "exit status: 0 success, 1 failure, 2 usage or configuration error.\n"
		   "See mldeploy(1) and mldeploy.yaml(5).\n");
}

void cmd_usage(const char *name, FILE *f)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			fprintf(f, "usage: mldeploy [GLOBAL OPTIONS] %s %s\n\n%s.\n\n"
				   "options:\n%s  -h, --help            this help\n\n"
				   "Global options (-f FILE, -C DIR, -v, -q, --json, ...) may come before or\n"
				   "after the command; see 'mldeploy --help'. See mldeploy-%s(1).\n",
				name, commands[i].usage, commands[i].summary, commands[i].options, name);
}

static void on_signal(int sig)
{
	ml_tmp_cleanup_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int set_color(struct global *g, const char *v)
{
	if (!strcmp(v, "auto"))
		g->color = -1;
	else if (!strcmp(v, "always"))
		g->color = 1;
	else if (!strcmp(v, "never"))
		g->color = 0;
	else {
		ui_usage_error(NULL, "--color takes auto, always or never, not '%s'", v);
		return -1;
	}
	return 0;
}

static int parse_global(struct global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "file", required_argument, NULL, 'f' },
		{ "directory", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "color", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+f:C:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': g->file = optarg; break;
		case 'C': g->dir = optarg; break;
		case 'v': g->verbose++; break;
		case 'q': g->quiet = 1; break;
		case 'j': g->json = 1; break;
		case 'P': g->progress = 0; break;
		case 'c':
			if (set_color(g, optarg) < 0)
				return -1;
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'V': printf("mldeploy %s\n", ML_VERSION); exit(EXIT_OK);
		default:
			ui_usage_error(NULL, "unknown global option");
			return -1;
		}
	}
	return optind;
}

/* Global options typed after the command ("mldeploy build -f x.yaml --json", as
 * users of docker, kubectl and gcloud type them) are applied and taken out of the
 * command's arguments; everything after "--" is left alone. */
static int global_value(const char *arg, const char *next, const char *lng, char shrt,
			const char **val, int *used)
{
	size_t n = strlen(lng);

	*used = 0;
	if (arg[0] == '-' && arg[1] == shrt && shrt) {
		if (arg[2]) {
			*val = arg + 2;
			return 1;
		}
		*val = next;
		*used = 1;
		return 1;
	}
	if (!strncmp(arg, "--", 2) && !strncmp(arg + 2, lng, n)) {
		if (arg[2 + n] == '=') {
			*val = arg + 3 + n;
			return 1;
		}
		if (!arg[2 + n]) {
			*val = next;
			*used = 1;
			return 1;
		}
	}
	return 0;
}

static int lift_global_flags(struct global *g, int argc, char **argv)
{
	int i, n = 1, used;
	const char *val;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--json"))
			g->json = 1;
		else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			g->quiet = 1;
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			g->verbose++;
		else if (!strcmp(a, "-vv"))
			g->verbose += 2;
		else if (!strcmp(a, "--no-progress"))
			g->progress = 0;
		else if (global_value(a, next, "file", 'f', &val, &used) ||
			 global_value(a, next, "directory", 'C', &val, &used) ||
			 global_value(a, next, "color", 0, &val, &used)) {
			if (!val) {
				ui_usage_error(NULL, "option '%s' needs a value", a);
				return -1;
			}
			if (a[1] == 'f' || !strncmp(a, "--file", 6))
				g->file = val;
			else if (a[1] == 'C' || !strncmp(a, "--directory", 11))
				g->dir = val;
			else if (set_color(g, val) < 0)
				return -1;
			i += used;
		} else {
			argv[n++] = argv[i];
		}
	}
	for (; i < argc; i++)
		argv[n++] = argv[i];
	argv[n] = NULL;
	return n;
}

static const struct ml_registry_hooks registry_hooks = {
	.endpoint = ml_providers_registry_endpoint,
	.credential = ml_providers_registry_credential,
};

static int finish_output(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mldeploy: error: cannot write to standard output: %s\n",
			strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct global g = { .file = "deploy.yaml", .progress = 1, .color = -1 };
	struct ml_error err = { 0 };
	size_t i;
	int first, status, n;

	first = parse_global(&g, argc, argv);
	if (first < 0)
		return EXIT_USAGE;
	if (first >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, argv[first]))
			break;
	if (i == NCOMMANDS) {
		ui_usage_error(NULL, "unknown command '%s'", argv[first]);
		return EXIT_USAGE;
	}
	n = lift_global_flags(&g, argc - first, argv + first);
	if (n < 0)
		return EXIT_USAGE;
	if (g.dir && chdir(g.dir) < 0) {
		ui_usage_error(NULL, "cannot change to directory '%s': %s", g.dir, strerror(errno));
		return EXIT_USAGE;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (ml_http_global_init(&err) < 0) {
		ui_error(&g, &err);
		return EXIT_FAIL;
	}
	ml_registry_set_hooks(&registry_hooks);
	ml_config_set_provider_hooks(&ml_providers_config_hooks);
	ui_init(&g);
	optind = 0;	/* glibc: a full reinitialisation, so options after operands are found */
	status = commands[i].run(&g, n, argv + first);
	ml_http_global_cleanup();
	if (finish_output() != EXIT_OK && status == EXIT_OK)
		status = EXIT_FAIL;
	return status;
}
