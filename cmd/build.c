#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "publish.h"
#include "util/log.h"
#include "registry/reference.h"

struct build_args {
	struct ml_build_opts o;
	int push;
};

static int parse_int(const char *opt, const char *s, int min, int max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min || v > max) {
		ui_usage_error("build", "%s takes a number from %d to %d, not '%s'", opt, min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_args(struct build_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "compression", required_argument, NULL, 'z' },
		{ "level", required_argument, NULL, 'l' },
		{ "tag", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "no-cache", no_argument, NULL, 'n' },
		{ "push", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, level_set = 0;

	a->o.codec = &ml_codec_gzip;
	while ((c = getopt_long(argc, argv, "o:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg) {
				ui_usage_error("build", "-o takes a file name, not an empty string");
				return -1;
			}
			a->o.output = optarg;
			break;
		case 't':
			if (!ml_ref_valid_tag(optarg)) {
				ui_usage_error("build", "invalid tag '%s' (letters, digits, '_', '.' and '-', "
					       "at most 128, not starting with '.' or '-')", optarg);
				return -1;
			}
			a->o.tag = optarg;
			break;
		case 'n': a->o.no_cache = 1; break;
		case 'p': a->push = 1; break;
		case 'F':
			if (!strcmp(optarg, "oci"))
				a->o.format = ML_FORMAT_OCI;
			else if (!strcmp(optarg, "docker"))
				a->o.format = ML_FORMAT_DOCKER;
			else {
				ui_usage_error("build", "--format takes oci or docker, not '%s'", optarg);
				return -1;
			}
			break;
		case 'z':
			if (!strcmp(optarg, "gzip"))
				a->o.codec = &ml_codec_gzip;
			else if (!strcmp(optarg, "zstd"))
				a->o.codec = &ml_codec_zstd;
			else if (!strcmp(optarg, "none"))
				a->o.codec = NULL;
			else {
				ui_usage_error("build", "--compression takes gzip, zstd or none, not '%s'",
					       optarg);
				return -1;
			}
			break;
		case 'l':
			if (parse_int("--level", optarg, 1, 19, &a->o.level) < 0)
				return -1;
			level_set = 1;
			break;
		case 'T':
			if (parse_int("--threads", optarg, 1, 64, &a->o.threads) < 0)
				return -1;
			break;
		case 'h':
			cmd_usage("build", stdout);
			exit(EXIT_OK);
		default:
			cmd_usage("build", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		ui_usage_error("build", "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!a->o.codec)
		return 0;
	if (!level_set)
		a->o.level = a->o.codec->default_level;
	if (a->o.level < a->o.codec->min_level || a->o.level > a->o.codec->max_level) {
		ui_usage_error("build", "--level for %s goes from %d to %d", a->o.codec->name,
			       a->o.codec->min_level, a->o.codec->max_level);
		return -1;
	}
	return 0;
}

static ml_json *layer_json(const struct ml_build_layer *l)
{
	ml_json *j = ml_json_object_new();

	ml_json_set_str(j, "name", l->name);
	ml_json_set_str(j, "source", l->source);
	ml_json_set_str(j, "digest", l->blob.digest);
	ml_json_set_str(j, "diff_id", l->diff_id);
	ml_json_set_str(j, "media_type", l->blob.media_type);
	ml_json_set_int(j, "size", l->blob.size);
	if (!l->from_base) {
		ml_json_set_int(j, "uncompressed_size", (int64_t)l->uncompressed_size);
		ml_json_set_int(j, "files", (int64_t)l->nfiles);
	}
	ml_json_set(j, "from_base", ml_json_bool_new(l->from_base));
	ml_json_set(j, "cached", ml_json_bool_new(l->cached));
	return j;
}

static ml_json *result_json(const struct ml_build_opts *o, const struct ml_build_result *r,
			    const struct ml_config *cfg)
{
	ml_json *j = ml_json_object_new(), *layers = ml_json_array_new(), *base = ml_json_object_new();
	size_t i;

	ml_json_set_str(j, "image", r->image_name);
	ml_json_set_str(j, "tag", r->tag);
	ml_json_set_str(j, "digest", r->manifest_digest);
	ml_json_set_str(j, "config_digest", r->config_digest);
	ml_json_set_str(j, "output", r->output);	/* null: --push without -o wrote none */
	ml_json_set_str(j, "format", o->format == ML_FORMAT_DOCKER ? "docker" : "oci");
	ml_json_set(j, "up_to_date", ml_json_bool_new(r->up_to_date));
	ml_json_set_str(base, "name", cfg->image.base);
	if (r->base_resolved)
		ml_json_set_str(base, "resolved", r->base_resolved);
	ml_json_set(j, "base", base);
	ml_json_set_int(j, "mtime", r->mtime);
	ml_json_set_str(j, "mtime_source", r->mtime_source);
	for (i = 0; i < r->nlayers; i++)
		ml_json_append(layers, layer_json(&r->layers[i]));
	ml_json_set(j, "layers", layers);
	if (r->python)
		ml_json_set(j, "python", ml_pydeps_json(r->python));
	return j;
}

static void print_summary(const struct global *g, const struct ml_build_opts *o,
			  const struct ml_build_result *r, const struct ml_config *cfg)
{
	size_t i, nbase = 0;

	for (i = 0; i < r->nlayers; i++)
		nbase += r->layers[i].from_base;
	ui_info(g, "base   %s%s%s%s (%zu layers)", cfg->image.base, r->base_resolved ? " (" : "",
		r->base_resolved ? r->base_resolved : "", r->base_resolved ? ")" : "", nbase);
	if (r->python)
		ui_info(g, "python %s -> %s: %zu packages%s", r->python->target.describe,
			r->python->target.base.site_packages, r->python->npkgs,
			r->python->resolved_cached ? " (resolved before)" : "");
	for (i = 0; i < r->nlayers; i++) {
		const struct ml_build_layer *l = &r->layers[i];

		if (!l->from_base)
			ui_info(g, "layer  %-10s %.19s %10lld bytes  %s  (%s)", l->name, l->blob.digest,
				(long long)l->blob.size, l->cached ? "reused " : "written", l->source);
	}
	ui_info(g, "image  %s %s", r->image_name, r->manifest_digest);
	if (r->output)
		ui_info(g, "%s %s (%s)", r->up_to_date ? "kept  " : "wrote ", r->output,
			o->format == ML_FORMAT_DOCKER ? "docker-archive" : "oci-archive");
}

struct summary {
	const struct global *g;
	const struct ml_build_opts *o;
};

/* The build's summary comes before the push's progress. */
static void built(void *ud, const struct ml_build_result *r)
{
	const struct summary *s = ud;

	if (!s->g->json)
		print_summary(s->g, s->o, r, s->o->cfg);
}

int cmd_build(struct global *g, int argc, char **argv)
{
	struct build_args a = { 0 };
	struct ml_publish_opts po = { 0 };
	struct ml_publish_result res = { 0 };
	struct summary sum = { g, &po.build };
	struct ml_config *cfg = NULL;
	struct ml_error err = { 0 };
	int rc;

	if (parse_args(&a, argc, argv) < 0)
		return EXIT_USAGE;
	rc = cmd_load_config(g, &cfg, &err);
	if (rc == 0) {
		po.build = a.o;
		po.build.cfg = cfg;
		/* pushed from the cache: a file only when -o asks for one */
		po.build.no_output = a.push && !a.o.output;
		po.push = a.push;
		po.built = built;
		po.ud = &sum;
		rc = ml_publish_run(&po, &res, &err);
	}
	if (rc < 0)
		ui_error(g, &err);
	if (res.built && g->json) {
		ml_json *j = result_json(&po.build, &res.build, cfg);

		if (res.pushed)
			ml_json_set(j, "push", cmd_push_json(&res.push));
		ui_json(j);
		ml_json_free(j);
	} else if (res.pushed) {
		cmd_push_summary(g, &res.push);
		printf("%s\n", res.reference);
	} else if (res.built && !a.push) {
		printf("%s\n", res.build.manifest_digest);
	}
	ml_publish_result_dispose(&res);
	ml_config_free(cfg);
	return ui_exit_status(rc);
}
