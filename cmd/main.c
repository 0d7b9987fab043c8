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
	{ "build", cmd_build, "build the image described by deploy.yaml, without a daemon",
	  "[-o FILE] [--format oci|docker] [--compression gzip|zstd|none] [--level N]\n"
	  "                      [--tag TAG] [--threads N] [--no-cache] [--push]" },
	{ "push", cmd_push, "push the built image to its registry, sending only what it lacks",
	  "[IMAGE-TAR] [--tag TAG]... [--jobs N] [--repository HOST/PATH]" },
	{ "validate", cmd_validate, "check deploy.yaml and print the resolved plan", "" },
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
			fprintf(f, "usage: mldeploy [GLOBAL OPTIONS] %s %s\n\n%s.\nSee mldeploy-%s(1).\n",
				name, commands[i].usage, commands[i].summary, name);
}

static void on_signal(int sig)
{
	ml_tmp_cleanup_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int parse_global(struct global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
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
			if (!strcmp(optarg, "auto"))
				g->color = -1;
			else if (!strcmp(optarg, "always"))
				g->color = 1;
			else if (!strcmp(optarg, "never"))
				g->color = 0;
			else {
				ui_usage_error(NULL, "--color takes auto, always or never, not '%s'", optarg);
				return -1;
			}
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

/* Flags that read naturally after the command ("mldeploy build --json") are
 * global ones; they are applied and taken out of the command's arguments. */
static int lift_global_flags(struct global *g, int argc, char **argv)
{
	int i, n = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--json"))
			g->json = 1;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			g->quiet = 1;
		else if (!strcmp(argv[i], "-v"))
			g->verbose++;
		else if (!strcmp(argv[i], "-vv"))
			g->verbose += 2;
		else if (!strcmp(argv[i], "--no-progress"))
			g->progress = 0;
		else
			argv[n++] = argv[i];
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
	int first, status;

	first = parse_global(&g, argc, argv);
	if (first < 0)
		return EXIT_USAGE;
	if (first >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
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
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, argv[first]))
			break;
	if (i == NCOMMANDS) {
		ui_usage_error(NULL, "unknown command '%s'", argv[first]);
		status = EXIT_USAGE;
	} else {
		int n = lift_global_flags(&g, argc - first, argv + first);

		ui_init(&g);
		optind = 0;	/* glibc: a full reinitialisation, so options after operands are found */
		status = commands[i].run(&g, n, argv + first);
	}
	ml_http_global_cleanup();
	if (finish_output() != EXIT_OK && status == EXIT_OK)
		status = EXIT_FAIL;
	return status;
}
