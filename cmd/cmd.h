/* The command line: global options, the command table, terminal output. */
#ifndef ML_CMD_H
#define ML_CMD_H

#include <stdio.h>

#include "config/config.h"
#include "util/error.h"
#include "wrap/json.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct global {
	const char *file;	/* -f, default deploy.yaml */
	const char *dir;	/* -C */
	int verbose;		/* -v count */
	int quiet;
	int json;
	int progress;		/* draw progress (TTY, not --no-progress, not -q) */
	int color;
};

struct cmd_entry {
	const char *name;
	int (*run)(struct global *g, int argc, char **argv);
	const char *summary;
	const char *usage;	/* options after the command name */
	const char *options;	/* one line of description per option */
};

/* The --provider/--target lines every deploy command's help shares. */
#define DEPLOY_SELECT_HELP \
	"  -p, --provider P      the provider (deploy.yaml's only one when omitted): local, gcp, ...\n" \
	"  --target T            the provider's target (cloudrun, appengine, ...; default: its first)\n"

/* Output. Errors go to stderr as "mldeploy: error: <msg>" with the message sanitized. */
void ui_init(struct global *g);
void ui_error(const struct global *g, const struct ml_error *err);
void ui_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_info(const struct global *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a JSON document on stdout, indented, with a newline. */
int ui_json(const ml_json *doc);
/* Exit status for an ml error code. */
int ui_exit_status(int rc);

/* Prints a command's usage line. */
void cmd_usage(const char *name, FILE *f);

/* Loads deploy.yaml as the global options say. */
int cmd_load_config(const struct global *g, struct ml_config **cfg, struct ml_error *err);

/* A push's result: the object `push --json` prints, and the summary line. */
struct ml_push_result;
ml_json *cmd_push_json(const struct ml_push_result *r);
void cmd_push_summary(const struct global *g, const struct ml_push_result *r);

int cmd_build(struct global *g, int argc, char **argv);
int cmd_push(struct global *g, int argc, char **argv);
int cmd_validate(struct global *g, int argc, char **argv);
int cmd_deploy(struct global *g, int argc, char **argv);
int cmd_status(struct global *g, int argc, char **argv);
int cmd_rollback(struct global *g, int argc, char **argv);
int cmd_destroy(struct global *g, int argc, char **argv);
int cmd_render(struct global *g, int argc, char **argv);
int cmd_run(struct global *g, int argc, char **argv);
int cmd_init(struct global *g, int argc, char **argv);

#endif
