#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "cmd.h"
#include "util/log.h"
#include "util/redact.h"

#define MAX_ITEMS 256

struct item {
	char *id;
	char *label;
	uint64_t total;
	uint64_t done;
	double start;
	double drawn;
};

static struct {
	const struct global *g;
	struct item items[MAX_ITEMS];
	int drawing;		/* a progress line is on screen */
} ui;

static void clear_line(void)
{
	if (ui.drawing) {
		fputs("\r\033[K", stderr);
		ui.drawing = 0;
	}
}

static void log_handler(int level, const char *msg, void *ud)
{
	char *copy = ml_strdup(msg);

	(void)ud;
	ml_sanitize(copy);
	clear_line();
	if (level == ML_LOG_WARN)
		fprintf(stderr, "mldeploy: warning: %s\n", copy);
	else
		fprintf(stderr, "%s%s\n", level == ML_LOG_TRACE ? "  " : "", copy);
	free(copy);
}

static struct item *find_item(const char *id, int create)
{
	int i, free_slot = -1;

	for (i = 0; i < MAX_ITEMS; i++) {
		if (ui.items[i].id && !strcmp(ui.items[i].id, id))
			return &ui.items[i];
		if (!ui.items[i].id && free_slot < 0)
			free_slot = i;
	}
	if (!create || free_slot < 0)
		return NULL;
	ui.items[free_slot].id = ml_strdup(id);
	return &ui.items[free_slot];
}

static void human_size(char *out, size_t n, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* Labels that are digests are shortened to "sha256:0123456789ab". */
static const char *short_label(const char *label, char *buf, size_t n)
{
	if (!strncmp(label, "sha256:", 7) && strlen(label) > 19) {
		snprintf(buf, n, "%.19s", label);
		return buf;
	}
	return label;
}

static void progress_start(void *ud, const char *id, const char *label, uint64_t total)
{
	struct item *it = find_item(id, 1);

	(void)ud;
	if (!it)
		return;
	free(it->label);
	it->label = ml_strdup(label);
	it->total = total;
	it->done = 0;
	it->start = ml_now_s();
	it->drawn = 0;
}

static void progress_update(void *ud, const char *id, uint64_t done)
{
	struct item *it = find_item(id, 0);
	char a[32], b[32], r[32], lb[32];
	double t = ml_now_s(), rate;

	(void)ud;
	if (!it)
		return;
	it->done = done;
	if (!ui.g->progress || t - it->drawn < 0.1)
		return;
	it->drawn = t;
	rate = t > it->start ? (double)done / (t - it->start) : 0;
	human_size(a, sizeof(a), (double)done);
	human_size(b, sizeof(b), (double)it->total);
	human_size(r, sizeof(r), rate);
	fprintf(stderr, "\r\033[K  %-24s %10s / %-10s %10s/s", short_label(it->label, lb, sizeof(lb)),
		a, b, r);
	ui.drawing = 1;
}

static void progress_finish(void *ud, const char *id, const char *status)
{
	struct item *it = find_item(id, 0);
	char a[32], r[32], lb[32];
	double secs;

	(void)ud;
	if (ui.g->quiet)
		goto out;
	clear_line();
	if (!it) {
		if (ui.g->verbose)
			fprintf(stderr, "  %-24s %s\n", short_label(id, lb, sizeof(lb)), status);
		return;
	}
	secs = ml_now_s() - it->start;
	human_size(a, sizeof(a), (double)(it->done > it->total ? it->done : it->total));
	if (!it->done && strcmp(status, "failed")) {
		/* nothing moved: "exists", "mounted", "cached" */
		fprintf(stderr, "  %-24s %-8s %10s\n", short_label(it->label, lb, sizeof(lb)), status, a);
		goto out;
	}
	human_size(r, sizeof(r), secs > 0 ?
		   (double)(it->done > it->total ? it->done : it->total) / secs : 0);
	fprintf(stderr, "  %-24s %-8s %10s in %.2f s (%s/s)\n", short_label(it->label, lb, sizeof(lb)),
		status, a, secs, r);
out:
	if (it) {
		free(it->id);
		free(it->label);
		memset(it, 0, sizeof(*it));
	}
}

static const struct ml_progress_ops progress_ops = {
	progress_start, progress_update, progress_finish,
};

static int ci_env(void)
{
	const char *ci = getenv("CI");

	return ci && (!strcasecmp(ci, "true") || !strcmp(ci, "1"));
}

void ui_init(struct global *g)
{
	const char *no_color = getenv("NO_COLOR");

	ui.g = g;
	if (g->color < 0)
		g->color = isatty(2) && !(no_color && no_color[0]);
	/* progress redraws one line: only on a terminal, and never in CI (CI=true is what
	 * GitHub Actions, GitLab CI and most others set), whose logs keep every redraw */
	if (g->progress)
		g->progress = isatty(2) && !g->quiet && !ci_env();
	ml_log_set_handler(log_handler, NULL, g->quiet ? -1 : g->verbose);
	ml_progress_set_handler(&progress_ops, NULL);
}

void ui_error(const struct global *g, const struct ml_error *err)
{
	char *msg = ml_strdup(err->msg[0] ? err->msg : "failed");

	ml_sanitize(msg);
	clear_line();
	fprintf(stderr, "%smldeploy: error:%s %s\n", g && g->color > 0 ? "\033[1;31m" : "",
		g && g->color > 0 ? "\033[0m" : "", msg);
	free(msg);
}

void ui_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mldeploy: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nhint: see 'mldeploy %s%s--help'\n", cmd ? cmd : "", cmd ? " " : "");
}

void ui_info(const struct global *g, const char *fmt, ...)
{
	va_list ap;

	if (g->quiet)
		return;
	clear_line();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ui_json(const ml_json *doc)
{
	struct ml_buf b = ML_BUF_INIT;
	int rc = ml_json_dump_pretty(doc, &b);

	if (rc == 0)
		printf("%s\n", ml_buf_str(&b));
	ml_buf_dispose(&b);
	return rc;
}

int ui_exit_status(int rc)
{
	if (rc >= 0)
		return EXIT_OK;
	switch (-rc) {
	case ML_EUSAGE:
	case ML_ECONFIG:
	case ML_EREFUSED:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}
