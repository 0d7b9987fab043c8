/* Unit tests for lib/config/: deploy.yaml parsing, checking and JSON output, and
 * the providers' deploy.<name> sections read through the section getters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "config/config.h"
#include "config/section.h"
#include "wrap/json.h"
#include "providers.h"
#include "aws/aws.h"
#include "azure/azure.h"
#include "gcp/gcp.h"
#include "local/local.h"

static const char full_yaml[] =
	"# every key there is\n"
	"name: iris\n"
	"image:\n"
	"  repository: us-east1-docker.pkg.dev/my-proj/ml/iris\n"
	"  base: python:3.11-slim@sha256:"
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	"  platform: linux/arm64/v8\n"
	"  workdir: /app\n"
	"  copy:\n"
	"    - { src: requirements-vendor/, dst: /usr/local/lib/python3.11/site-packages/, layer: deps }\n"
	"    - src: model.pkl\n"
	"      dst: /app/model.pkl\n"
	"      layer: model\n"
	"    - { src: app/, dst: /app/ }\n"
	"    - \"static:/srv/static/\"\n"
	"  ignore: [\".git\", \"__pycache__\", \"*.ipynb\", \".env\"]\n"
	"  allow_credentials: [\"tests/fixtures/fake.pem\"]\n"
	"  env:\n"
	"    MODEL_PATH: /app/model.pkl\n"
	"    WORKERS: 4\n"
	"    DEBUG: false\n"
	"    EMPTY:\n"
	"  port: 8080\n"
	"  cmd: [\"gunicorn\", \"--bind\", \":8080\", \"app:app\"]\n"
	"  entrypoint: [\"/usr/bin/tini\", \"--\"]\n"
	"  user: 1000\n"
	"  labels:\n"
	"    org.opencontainers.image.source: https://example.com/iris\n"
	"    team: ml\n"
	"deploy:\n"
	"  gcp:   { project: my-proj, region: us-east1, target: appengine,\n"
	"          allow_unauthenticated: true, cpu: 2, memory: 2Gi,\n"
	"          min_instances: 1, max_instances: 3 }\n"
	"  aws:   { region: us-east-1, application: iris, environment: iris-prod,\n"
	"          instance_type: t3.small }\n"
	"  azure: { subscription: \"00000000-0000-0000-0000-000000000000\", resource_group: ml,\n"
	"           location: eastus, dns_label: iris-demo, cpu: 1, memory_gb: 1.5 }\n"
	"health: { path: /healthz }\n"
	"endpoints:\n"
	"  cloudrun: http://127.0.0.1:8081\n"
	"  artifact_registry: https://127.0.0.1:8443/v1\n";

static const char min_yaml[] = "name: iris\nimage:\n  base: scratch\n";

static const struct ml_gcp_conf *gcp_of(const struct ml_config *cfg)
{
	return ml_config_provider_conf(cfg, "gcp");
}

static const struct ml_aws_conf *aws_of(const struct ml_config *cfg)
{
	return ml_config_provider_conf(cfg, "aws");
}

static const struct ml_azure_conf *azure_of(const struct ml_config *cfg)
{
	return ml_config_provider_conf(cfg, "azure");
}

/* ---- helpers ---- */

static char *write_tmp(const char *data, size_t len)
{
	char tmpl[] = "/tmp/mldeploy-test-config-XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return ml_strdup(tmpl);
}

/* Loads yaml from a temporary file; *path (optional) gets the file name, already
 * removed. */
static int load_yaml(const char *yaml, struct ml_config **cfg, struct ml_error *err, char **path)
{
	char *p = write_tmp(yaml, strlen(yaml));
	int rc;

	*cfg = NULL;
	ml_error_clear(err);
	rc = ml_config_load(cfg, p, NULL, err);
	unlink(p);
	if (path)
		*path = p;
	else
		free(p);
	return rc;
}

static struct ml_config *load_ok(const char *yaml)
{
	struct ml_config *cfg;
	struct ml_error err;
	int rc = load_yaml(yaml, &cfg, &err, NULL);

	if (rc != 0)
		print_error("unexpected error: %s\nfor:\n%s\n", err.msg, yaml);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

static void check_message(const char *msg, const char *path, int line, int column, va_list ap)
{
	char prefix[512];
	const char *want;

	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", path, line, column);
	if (strncmp(msg, prefix, strlen(prefix))) {
		print_error("message '%s'\ndoes not start with '%s'\n", msg, prefix);
		fail();
	}
	while ((want = va_arg(ap, const char *))) {
		if (!strstr(msg, want)) {
			print_error("message '%s'\ndoes not contain '%s'\n", msg, want);
			fail();
		}
	}
}

/* Expects yaml to be refused with ML_ECONFIG at line:column, the message holding
 * every one of the NULL-terminated strings that follow. */
static void expect_error(const char *yaml, int line, int column, ...)
{
	struct ml_config *cfg;
	struct ml_error err;
	char *path;
	va_list ap;
	int rc = load_yaml(yaml, &cfg, &err, &path);

	if (rc != -ML_ECONFIG)
		print_error("expected a config error, got %d ('%s') for:\n%s\n", rc, err.msg, yaml);
	assert_int_equal(rc, -ML_ECONFIG);
	assert_int_equal(err.code, ML_ECONFIG);
	assert_null(cfg);
	va_start(ap, column);
	check_message(err.msg, path, line, column, ap);
	va_end(ap);
	free(path);
}

static char *cat(const char *a, const char *b)
{
	return ml_asprintf("%s%s", a, b);
}

/* min_yaml with more image keys. */
static void expect_image_error(const char *image_lines, int line, int column, ...)
{
	char *yaml = cat(min_yaml, image_lines);
	struct ml_config *cfg;
	struct ml_error err;
	char *path;
	va_list ap;
	int rc = load_yaml(yaml, &cfg, &err, &path);

	if (rc != -ML_ECONFIG)
		print_error("expected a config error, got %d ('%s') for:\n%s\n", rc, err.msg, yaml);
	assert_int_equal(rc, -ML_ECONFIG);
	va_start(ap, column);
	check_message(err.msg, path, line, column, ap);
	va_end(ap);
	free(path);
	free(yaml);
}

static struct ml_config *load_image_ok(const char *image_lines)
{
	char *yaml = cat(min_yaml, image_lines);
	struct ml_config *cfg = load_ok(yaml);

	free(yaml);
	return cfg;
}

/* ---- valid files ---- */

static void test_full(void **state)
{
	struct ml_config *cfg = load_ok(full_yaml);

	(void)state;
	assert_string_equal(cfg->name, "iris");
	assert_int_equal(cfg->name_pos.line, 2);
	assert_int_equal(cfg->name_pos.column, 7);
	assert_ptr_equal(cfg->name_pos.file, cfg->path);
	assert_string_equal(cfg->image.repository, "us-east1-docker.pkg.dev/my-proj/ml/iris");
	assert_int_equal(cfg->image.repository_pos.line, 4);
	assert_string_equal(cfg->image.base, "python:3.11-slim@sha256:"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(cfg->image.base_pos.line, 5);
	assert_int_equal(cfg->image.base_pos.column, 9);
	assert_string_equal(cfg->image.platform, "linux/arm64/v8");
	assert_string_equal(cfg->image.workdir, "/app");

	assert_int_equal(cfg->image.ncopy, 4);
	assert_string_equal(cfg->image.copy[0].src, "requirements-vendor/");
	assert_string_equal(cfg->image.copy[0].dst, "/usr/local/lib/python3.11/site-packages/");
	assert_string_equal(cfg->image.copy[0].layer, "deps");
	assert_int_equal(cfg->image.copy[0].pos.line, 9);
	assert_int_equal(cfg->image.copy[0].pos.column, 7);
	assert_string_equal(cfg->image.copy[1].src, "model.pkl");
	assert_string_equal(cfg->image.copy[1].dst, "/app/model.pkl");
	assert_string_equal(cfg->image.copy[1].layer, "model");
	assert_string_equal(cfg->image.copy[2].src, "app/");
	assert_string_equal(cfg->image.copy[2].dst, "/app/");
	assert_null(cfg->image.copy[2].layer);
	assert_string_equal(cfg->image.copy[3].src, "static");
	assert_string_equal(cfg->image.copy[3].dst, "/srv/static/");
	assert_null(cfg->image.copy[3].layer);
	assert_int_equal(cfg->image.copy[3].pos.line, 14);

	assert_int_equal(cfg->image.ignore.n, 4);
	assert_int_equal(cfg->image.ignore.present, 1);
	assert_string_equal(cfg->image.ignore.v[0], ".git");
	assert_string_equal(cfg->image.ignore.v[3], ".env");
	assert_int_equal(cfg->image.ignore.pos.line, 15);
	assert_int_equal(cfg->image.allow_credentials.n, 1);
	assert_string_equal(cfg->image.allow_credentials.v[0], "tests/fixtures/fake.pem");

	assert_int_equal(cfg->image.nenv, 4);
	assert_string_equal(cfg->image.env[0].key, "MODEL_PATH");
	assert_string_equal(cfg->image.env[0].value, "/app/model.pkl");
	assert_int_equal(cfg->image.env[0].pos.line, 18);
	assert_int_equal(cfg->image.env[0].pos.column, 5);
	assert_string_equal(cfg->image.env[1].key, "WORKERS");
	assert_string_equal(cfg->image.env[1].value, "4");
	assert_string_equal(cfg->image.env[2].value, "false");
	assert_string_equal(cfg->image.env[3].key, "EMPTY");
	assert_string_equal(cfg->image.env[3].value, "");

	assert_int_equal(cfg->image.port, 8080);
	assert_int_equal(cfg->image.cmd.n, 4);
	assert_string_equal(cfg->image.cmd.v[1], "--bind");
	assert_string_equal(cfg->image.cmd.v[2], ":8080");
	assert_int_equal(cfg->image.entrypoint.n, 2);
	assert_string_equal(cfg->image.entrypoint.v[0], "/usr/bin/tini");
	assert_string_equal(cfg->image.user, "1000");
	assert_int_equal(cfg->image.nlabels, 2);
	assert_string_equal(cfg->image.labels[0].key, "org.opencontainers.image.source");
	assert_string_equal(cfg->image.labels[0].value, "https://example.com/iris");

	assert_non_null(gcp_of(cfg));
	assert_string_equal(gcp_of(cfg)->project, "my-proj");
	assert_string_equal(gcp_of(cfg)->region, "us-east1");
	assert_string_equal(gcp_of(cfg)->target, "appengine");
	assert_int_equal(gcp_of(cfg)->allow_unauthenticated, 1);
	assert_string_equal(gcp_of(cfg)->cpu, "2");
	assert_string_equal(gcp_of(cfg)->memory, "2Gi");
	assert_int_equal(gcp_of(cfg)->min_instances, 1);
	assert_int_equal(gcp_of(cfg)->max_instances, 3);
	assert_int_equal(gcp_of(cfg)->pos.line, 30);
	assert_int_equal(gcp_of(cfg)->pos.column, 10);

	assert_non_null(aws_of(cfg));
	assert_string_equal(aws_of(cfg)->region, "us-east-1");
	assert_string_equal(aws_of(cfg)->application, "iris");
	assert_string_equal(aws_of(cfg)->environment, "iris-prod");
	assert_string_equal(aws_of(cfg)->instance_type, "t3.small");

	assert_non_null(azure_of(cfg));
	assert_string_equal(azure_of(cfg)->subscription, "00000000-0000-0000-0000-000000000000");
	assert_string_equal(azure_of(cfg)->resource_group, "ml");
	assert_string_equal(azure_of(cfg)->location, "eastus");
	assert_string_equal(azure_of(cfg)->dns_label, "iris-demo");
	assert_true(azure_of(cfg)->cpu == 1.0);
	assert_true(azure_of(cfg)->memory_gb == 1.5);

	assert_string_equal(cfg->health.path, "/healthz");
	assert_int_equal(cfg->nendpoints, 2);
	assert_string_equal(cfg->endpoints[0].key, "cloudrun");
	assert_string_equal(cfg->endpoints[0].value, "http://127.0.0.1:8081");
	assert_string_equal(cfg->endpoints[1].key, "artifact_registry");
	assert_int_equal(cfg->endpoints[1].pos.line, 40);
	ml_config_free(cfg);
}

static void test_defaults(void **state)
{
	struct ml_config *cfg = load_ok(min_yaml);

	(void)state;
	assert_string_equal(cfg->name, "iris");
	assert_string_equal(cfg->image.base, "scratch");
	assert_null(cfg->image.repository);
	assert_string_equal(cfg->image.platform, "linux/amd64");
	assert_null(cfg->image.workdir);
	assert_int_equal(cfg->image.ncopy, 0);
	assert_int_equal(cfg->image.ignore.n, 0);
	assert_int_equal(cfg->image.ignore.present, 0);
	assert_int_equal(cfg->image.nenv, 0);
	assert_int_equal(cfg->image.port, 0);
	assert_int_equal(cfg->image.cmd.n, 0);
	assert_int_equal(cfg->image.cmd.present, 0);
	assert_int_equal(cfg->image.entrypoint.present, 0);
	assert_null(cfg->image.user);
	assert_int_equal(cfg->image.nlabels, 0);
	assert_null(gcp_of(cfg));
	assert_null(aws_of(cfg));
	assert_null(azure_of(cfg));
	assert_string_equal(cfg->health.path, "/");
	assert_int_equal(cfg->nendpoints, 0);
	ml_config_free(cfg);

	cfg = load_ok("name: iris\nimage: {base: scratch}\ndeploy:\n  gcp: {project: p}\n  aws:\n");
	assert_non_null(gcp_of(cfg));
	assert_string_equal(gcp_of(cfg)->target, "cloudrun");
	assert_int_equal(gcp_of(cfg)->allow_unauthenticated, -1);
	assert_int_equal(gcp_of(cfg)->min_instances, 0);
	assert_int_equal(gcp_of(cfg)->max_instances, -1);
	assert_null(gcp_of(cfg)->cpu);
	assert_null(gcp_of(cfg)->memory);
	assert_null(gcp_of(cfg)->region);
	assert_non_null(aws_of(cfg));
	assert_null(aws_of(cfg)->region);
	assert_null(azure_of(cfg));
	ml_config_free(cfg);
}

static void test_null_values(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_ok("name: iris\nimage:\n  base: scratch\n  workdir:\n  copy:\n  ignore: ~\n"
		      "  env: null\n  labels:\n  cmd:\n  port:\n  user: ''\n"
		      "deploy:\nhealth:\n  path: ~\nendpoints:\n");
	assert_null(cfg->image.workdir);
	assert_int_equal(cfg->image.ncopy, 0);
	assert_int_equal(cfg->image.ignore.present, 0);
	assert_int_equal(cfg->image.cmd.present, 0);
	assert_int_equal(cfg->image.port, 0);
	assert_null(cfg->image.user);
	assert_null(gcp_of(cfg));
	assert_string_equal(cfg->health.path, "/");
	ml_config_free(cfg);

	cfg = load_image_ok("  entrypoint: []\n  cmd: []\n  labels: {a: , b: ~}\n");
	assert_int_equal(cfg->image.entrypoint.present, 1);
	assert_int_equal(cfg->image.entrypoint.n, 0);
	assert_int_equal(cfg->image.cmd.present, 1);
	assert_int_equal(cfg->image.nlabels, 2);
	assert_string_equal(cfg->image.labels[0].value, "");
	assert_string_equal(cfg->image.labels[1].value, "");
	ml_config_free(cfg);
}

static void test_context_dir(void **state)
{
	char tmpl[] = "/tmp/mldeploy-test-dir-XXXXXX", cwd[PATH_MAX], *file, *sub;
	struct ml_config *cfg = NULL;
	struct ml_error err;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	file = ml_asprintf("%s/deploy.yaml", tmpl);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs(min_yaml, f);
	fclose(f);

	assert_int_equal(ml_config_load(&cfg, file, NULL, &err), 0);
	assert_string_equal(cfg->path, file);
	assert_string_equal(cfg->dir, tmpl);
	ml_config_free(cfg);

	assert_int_equal(ml_config_load(&cfg, file, "/some/where", &err), 0);
	assert_string_equal(cfg->dir, "/some/where");
	ml_config_free(cfg);

	assert_int_equal(chdir(tmpl), 0);
	assert_int_equal(ml_config_load(&cfg, "deploy.yaml", NULL, &err), 0);
	assert_string_equal(cfg->path, "deploy.yaml");
	assert_string_equal(cfg->dir, ".");
	ml_config_free(cfg);

	assert_int_equal(ml_config_load(&cfg, "./deploy.yaml", NULL, &err), 0);
	assert_string_equal(cfg->dir, ".");
	ml_config_free(cfg);

	sub = ml_asprintf("%s//deploy.yaml", tmpl);
	assert_int_equal(ml_config_load(&cfg, sub, NULL, &err), 0);
	assert_string_equal(cfg->dir, tmpl);
	ml_config_free(cfg);

	/* errors name the file as given */
	f = fopen("deploy.yaml", "w");
	assert_non_null(f);
	fputs("name: iris\nimage: {base: scratch, prot: 1}\n", f);
	fclose(f);
	cfg = NULL;
	assert_int_equal(ml_config_load(&cfg, "deploy.yaml", NULL, &err), -ML_ECONFIG);
	assert_null(cfg);
	assert_string_equal(err.msg, "deploy.yaml:2:24: unknown key 'prot' in 'image' "
			    "(did you mean 'port'?)");

	assert_int_equal(chdir(cwd), 0);
	unlink(file);
	rmdir(tmpl);
	free(file);
	free(sub);
}

static void test_io_errors(void **state)
{
	struct ml_config *cfg = NULL;
	struct ml_error err;
	char tmpl[] = "/tmp/mldeploy-test-dir-XXXXXX";

	(void)state;
	assert_int_equal(ml_config_load(&cfg, "/nonexistent/deploy.yaml", NULL, &err), -ML_EIO);
	assert_null(cfg);
	assert_int_equal(err.code, ML_EIO);
	assert_non_null(strstr(err.msg, "'/nonexistent/deploy.yaml'"));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(ml_config_load(&cfg, tmpl, NULL, &err), -ML_EIO);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, tmpl));
	assert_non_null(strstr(err.msg, strerror(EISDIR)));
	rmdir(tmpl);

	/* err may be NULL */
	assert_int_equal(ml_config_load(&cfg, "/nonexistent/deploy.yaml", NULL, NULL), -ML_EIO);
}

static void test_json(void **state)
{
	struct ml_config *cfg = load_ok(full_yaml);
	struct ml_buf out = ML_BUF_INIT;
	ml_json *j = ml_config_to_json(cfg), *image, *gcp, *copy;
	int64_t i;

	(void)state;
	assert_true(ml_json_is_object(j));
	assert_string_equal(ml_json_get_str(j, "file"), cfg->path);
	assert_string_equal(ml_json_get_str(j, "context"), "/tmp");
	assert_string_equal(ml_json_get_str(j, "name"), "iris");
	image = ml_json_get(j, "image");
	assert_string_equal(ml_json_get_str(image, "platform"), "linux/arm64/v8");
	assert_int_equal(ml_json_get_int(image, "port", &i), 0);
	assert_int_equal(i, 8080);
	copy = ml_json_get(image, "copy");
	assert_int_equal(ml_json_size(copy), 4);
	assert_string_equal(ml_json_get_str(ml_json_at(copy, 0), "layer"), "deps");
	assert_null(ml_json_get(ml_json_at(copy, 2), "layer"));
	assert_string_equal(ml_json_get_str(ml_json_get(image, "env"), "WORKERS"), "4");
	assert_int_equal(ml_json_size(ml_json_get(image, "cmd")), 4);
	gcp = ml_json_get(ml_json_get(j, "deploy"), "gcp");
	assert_string_equal(ml_json_get_str(gcp, "target"), "appengine");
	assert_int_equal(ml_json_get_int(gcp, "max_instances", &i), 0);
	assert_int_equal(i, 3);
	assert_string_equal(ml_json_get_str(ml_json_get(j, "health"), "path"), "/healthz");
	assert_string_equal(ml_json_get_str(ml_json_get(j, "endpoints"), "cloudrun"),
			    "http://127.0.0.1:8081");
	assert_int_equal(ml_json_dump(j, &out), 0);
	assert_non_null(strstr(ml_buf_str(&out), "\"allow_unauthenticated\":true"));
	assert_non_null(strstr(ml_buf_str(&out), "\"memory_gb\":1.5"));
	ml_buf_dispose(&out);
	ml_json_free(j);
	ml_config_free(cfg);

	cfg = load_ok("name: iris\nimage: {base: scratch}\ndeploy: {gcp: {project: p}}\n");
	j = ml_config_to_json(cfg);
	image = ml_json_get(j, "image");
	assert_string_equal(ml_json_get_str(image, "platform"), "linux/amd64");
	assert_null(ml_json_get(image, "port"));
	assert_null(ml_json_get(image, "cmd"));
	assert_null(ml_json_get(image, "repository"));
	assert_int_equal(ml_json_size(ml_json_get(image, "copy")), 0);
	assert_int_equal(ml_json_size(ml_json_get(image, "ignore")), 0);
	gcp = ml_json_get(ml_json_get(j, "deploy"), "gcp");
	assert_string_equal(ml_json_get_str(gcp, "target"), "cloudrun");
	assert_null(ml_json_get(gcp, "max_instances"));
	assert_int_equal(ml_json_get_int(gcp, "min_instances", &i), 0);
	assert_int_equal(i, 0);
	assert_null(ml_json_get(ml_json_get(j, "deploy"), "aws"));
	assert_string_equal(ml_json_get_str(ml_json_get(j, "health"), "path"), "/");
	assert_int_equal(ml_json_dump(j, &out), 0);
	assert_null(strstr(ml_buf_str(&out), "allow_unauthenticated"));
	ml_buf_dispose(&out);
	ml_json_free(j);
	ml_config_free(cfg);
}

/* ---- keys ---- */

/* image.python: keys, defaults, checks, JSON. */
static void test_python(void **state)
{
	struct ml_config *cfg;
	ml_json *j;

	(void)state;
	cfg = load_image_ok("  python:\n    requirements: req/requirements.txt\n"
			    "    index: https://u:p@pypi.example.com/simple\n"
			    "    extra_index: [http://127.0.0.1:9/simple]\n    find_links: [wheels]\n"
			    "    version: \"3.12\"\n    site_packages: /opt/sp\n"
			    "    platform_tags: [manylinux_2_28_x86_64]\n");
	assert_true(cfg->image.python.present);
	assert_string_equal(cfg->image.python.requirements, "req/requirements.txt");
	assert_string_equal(cfg->image.python.index, "https://u:p@pypi.example.com/simple");
	assert_int_equal(cfg->image.python.extra_index.n, 1);
	assert_string_equal(cfg->image.python.find_links.v[0], "wheels");
	assert_string_equal(cfg->image.python.version, "3.12");
	assert_string_equal(cfg->image.python.site_packages, "/opt/sp");
	assert_string_equal(cfg->image.python.platform_tags.v[0], "manylinux_2_28_x86_64");
	j = ml_config_to_json(cfg);
	assert_string_equal(ml_json_get_str(ml_json_get(ml_json_get(j, "image"), "python"), "version"),
			    "3.12");
	/* the login in an index URL is not shown */
	assert_string_equal(ml_json_get_str(ml_json_get(ml_json_get(j, "image"), "python"), "index"),
			    "https://pypi.example.com/simple");
	ml_json_free(j);
	ml_config_free(cfg);
	cfg = load_image_ok("  python: {requirements: r.txt}\n");
	assert_null(cfg->image.python.index);
	assert_null(cfg->image.python.version);
	ml_config_free(cfg);
	cfg = load_image_ok("  env: {}\n");
	assert_false(cfg->image.python.present);
	ml_config_free(cfg);

	expect_image_error("  python:\n", 4, 3, "missing required key 'requirements'",
			   "pip freeze", NULL);
	expect_image_error("  python: {requirements: /etc/r.txt}\n", 4, 26, "relative to the context",
			   NULL);
	expect_image_error("  python: {requirements: ../r.txt}\n", 4, 26, "'..'", NULL);
	expect_image_error("  python: {requirements: r.txt, index: ftp://x}\n", 4, 40,
			   "image.python.index", "https://pypi.org/simple", NULL);
	expect_image_error("  python: {requirements: r.txt, version: 3.1x}\n", 4, 42,
			   "Python version '3.1x'", "\"3.11\"", NULL);
	expect_image_error("  python: {requirements: r.txt, version: \"2.7\"}\n", 4, 42,
			   "Python version", NULL);
	expect_image_error("  python: {requirements: r.txt, site_packages: lib}\n", 4, 48,
			   "absolute path", NULL);
	expect_image_error("  python: {requirements: r.txt, platform_tags: [Linux-X]}\n", 4, 49,
			   "platform tag 'Linux-X'", NULL);
	expect_image_error("  python: {requirements: r.txt, extra: 1}\n", 4, 33, "unknown key 'extra'",
			   NULL);
	expect_image_error("  python: {requirements: r.txt}\n  copy:\n    - {src: a, dst: /a, layer: python}\n",
			   6, 7, "layer name 'python' of 'image.copy[0]'", "choose another name", NULL);
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("name: iris\nimage:\n  base: x\n  platfrom: linux/amd64\n", 4, 3,
		     "unknown key 'platfrom' in 'image' (did you mean 'platform'?)", NULL);
	expect_error("nmae: iris\nimage: {base: x}\n", 1, 1,
		     "unknown key 'nmae' (did you mean 'name'?)", NULL);
	expect_error("name: iris\nimage: {base: x, colour: red}\n", 2, 18,
		     "unknown key 'colour' in 'image' (valid keys: repository, tags, base, platform, "
		     "workdir, copy, ignore, allow_credentials, env, port, cmd, entrypoint, user, "
		     "labels, python)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
		     "    regoin: us-east1\n", 6, 5,
		     "unknown key 'regoin' in 'deploy.gcp' (did you mean 'region'?)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gpc: {project: p}\n", 4, 3,
		     "unknown key 'gpc' in 'deploy' (did you mean 'gcp'?)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  heroku: {}\n", 4, 3,
		     "unknown key 'heroku' in 'deploy' (valid keys: ", "gcp", "aws", "azure", NULL);
	expect_error("name: iris\nimage: {base: x}\nhealth: {pth: /}\n", 3, 10,
		     "unknown key 'pth' in 'health' (did you mean 'path'?)", NULL);
	expect_error("name: iris\nimage:\n  base: x\n  copy:\n    - {src: a, dest: /a}\n", 5, 16,
		     "unknown key 'dest' in 'image.copy[0]' (did you mean 'dst'?)", NULL);
	expect_error("Name: iris\nimage: {base: x}\n", 1, 1, "(did you mean 'name'?)", NULL);
	expect_error("name: iris\nimage: {base: x, allow_credential: [a]}\n", 2, 18,
		     "did you mean 'allow_credentials'?", NULL);
	expect_error("name: iris\nimage: {base: x}\nrevision: 1\n", 3, 1,
		     "unknown key 'revision' (valid keys: name, image, deploy, health, endpoints)",
		     NULL);
	expect_error("name: iris\nimage: {base: x}\nversion: 1\n", 3, 1,
		     "unknown key 'version' (it belongs in 'image.python'", NULL);
	/* a real key at the wrong level */
	expect_error("name: iris\nimage:\n  base: x\nport: 8080\n", 4, 1,
		     "unknown key 'port' (it belongs in 'image' or in 'deploy.local'; check its indentation)", NULL);
	expect_error("name: iris\nimage:\n  base: x\n  deploy: {}\n", 4, 3,
		     "unknown key 'deploy' in 'image' (it belongs at the top level;", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  region: r\n", 4, 3,
		     "unknown key 'region' in 'deploy' (it belongs in 'deploy.gcp' or in "
		     "'deploy.aws'; check its indentation)", NULL);
	expect_error("name: iris\nimage: {base: x}\npath: /healthz\n", 3, 1,
		     "(it belongs in 'health';", NULL);
	expect_error("name: iris\nimage: {base: x, src: a}\n", 2, 18,
		     "(it belongs in an 'image.copy' entry;", NULL);
	expect_error("name: iris\nimage: {base: x}\n[a]: 1\n", 3, 1,
		     "keys must be strings, got a sequence", NULL);
	expect_error("name: iris\nimage: {base: x, env: {{a: 1}: 2}}\n", 2, 24,
		     "keys must be strings in 'image.env', got a mapping", NULL);
}

static void test_duplicates(void **state)
{
	(void)state;
	expect_error("name: iris\nimage: {base: x}\nname: other\n", 3, 1,
		     "duplicate key 'name' (first given at line 1)", NULL);
	expect_error("name: iris\nimage:\n  base: x\n  port: 1\n  env:\n    A: 1\n    B: 2\n"
		     "    A: 3\n    B: 4\n", 8, 5,
		     "duplicate key 'A' in 'image.env' (first given at line 6)", NULL);
	expect_error("name: iris\nimage:\n  base: x\n  copy:\n    - {src: a, dst: /a, src: b}\n",
		     5, 25, "duplicate key 'src' in 'image.copy[0]' (first given at line 5)", NULL);
	expect_error("name: iris\nimage: {base: x, base: y, base: z}\n", 2, 18,
		     "duplicate key 'base' in 'image' (first given at line 2)", NULL);
}

static void test_missing_required(void **state)
{
	(void)state;
	expect_error("image: {base: x}\n", 1, 1,
		     "missing required key 'name' (the service name, e.g. 'name: iris')", NULL);
	expect_error("name: iris\n", 1, 1, "missing required key 'image'", "base", NULL);
	expect_error("name: iris\nimage:\n", 2, 1, "empty value for required key 'image'", NULL);
	expect_error("name: iris\nimage:\n  port: 8080\n", 3, 3,
		     "missing required key 'base' in 'image'", "python:3.11-slim", NULL);
	expect_error("name: iris\nimage: {port: 8080}\n", 2, 8,
		     "missing required key 'base' in 'image'", NULL);
	expect_error("name:\nimage: {base: x}\n", 1, 1,
		     "empty value for required key 'name'", NULL);
	expect_error("name: \"\"\nimage: {base: x}\n", 1, 1,
		     "empty value for required key 'name'", NULL);
	expect_image_error("  copy:\n    - {dst: /app/}\n", 5, 7,
			   "missing required key 'src' in 'image.copy[0]'", NULL);
	expect_image_error("  copy:\n    - {src: a, dst: /a}\n    - src: b\n", 6, 7,
			   "missing required key 'dst' in 'image.copy[1]'", NULL);
}

/* ---- types ---- */

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("name: [a, b]\nimage: {base: x}\n", 1, 7,
		     "expected a string for 'name', got a sequence", NULL);
	expect_error("name: {a: b}\nimage: {base: x}\n", 1, 7,
		     "expected a string for 'name', got a mapping", NULL);
	expect_error("name: iris\nimage: python\n", 2, 8,
		     "expected a mapping for 'image', got 'python'", "key: value", NULL);
	expect_error("name: iris\nimage: [base]\n", 2, 8,
		     "expected a mapping for 'image', got a sequence", NULL);
	expect_image_error("  ignore: .git\n", 4, 11,
			   "expected a sequence for 'image.ignore', got '.git'", "[a, b]", NULL);
	expect_image_error("  ignore: [[a]]\n", 4, 12,
			   "expected a string for 'image.ignore[0]', got a sequence", NULL);
	expect_image_error("  ignore: [a, '']\n", 4, 15, "empty pattern in 'image.ignore[1]'", NULL);
	expect_image_error("  ignore: [a, ~]\n", 4, 15, "empty item in 'image.ignore[1]'", NULL);
	expect_image_error("  copy: app/\n", 4, 9,
			   "expected a sequence for 'image.copy', got 'app/'", NULL);
	expect_image_error("  copy: [[a, b]]\n", 4, 10,
			   "expected 'SRC:DST' or a mapping for 'image.copy[0]', got a sequence", NULL);
	expect_image_error("  env: [A=1]\n", 4, 8,
			   "expected a mapping for 'image.env', got a sequence", NULL);
	expect_image_error("  env: {A: [1]}\n", 4, 12,
			   "expected a string for 'image.env.A', got a sequence", NULL);
	expect_image_error("  labels: {a: {b: c}}\n", 4, 15,
			   "expected a string for 'image.labels.a', got a mapping", NULL);
	expect_image_error("  port: [80]\n", 4, 9,
			   "expected an integer for 'image.port', got a sequence", NULL);
	expect_image_error("  port: http\n", 4, 9,
			   "expected an integer for 'image.port', got 'http'", "8080", NULL);
	expect_image_error("  port: 80.5\n", 4, 9,
			   "expected an integer for 'image.port', got '80.5'", NULL);
	expect_image_error("  port: 0x50\n", 4, 9, "got '0x50'", NULL);
	expect_image_error("  cmd: {a: b}\n", 4, 8,
			   "expected a string or a sequence of strings for 'image.cmd', got a mapping",
			   NULL);
	expect_image_error("  user: [1000]\n", 4, 9,
			   "expected a string for 'image.user', got a sequence", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy: [gcp]\n", 3, 9,
		     "expected a mapping for 'deploy', got a sequence", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy: {azure: {cpu: one}}\n", 3, 23,
		     "expected a number for 'deploy.azure.cpu', got 'one'", NULL);
	expect_error("name: iris\nimage: {base: x}\nendpoints: [a]\n", 3, 12,
		     "expected a mapping for 'endpoints', got a sequence", NULL);
}

static void test_numbers(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_image_ok("  port: \"8080\"\n");
	assert_int_equal(cfg->image.port, 8080);
	ml_config_free(cfg);
	cfg = load_image_ok("  port: 65535\n");
	assert_int_equal(cfg->image.port, 65535);
	ml_config_free(cfg);
	cfg = load_image_ok("  port: !!str 1\n");
	assert_int_equal(cfg->image.port, 1);
	ml_config_free(cfg);
	expect_image_error("  port: 0\n", 4, 9,
			   "value 0 for 'image.port' is out of range (1 to 65535)", NULL);
	expect_image_error("  port: 65536\n", 4, 9, "value 65536 for 'image.port' is out of range",
			   NULL);
	expect_image_error("  port: 99999999999999999999999\n", 4, 9,
			   "expected an integer for 'image.port'", NULL);
	expect_image_error("  port: -1\n", 4, 9, "out of range", NULL);

	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  azure: {cpu: 0.5, memory_gb: \"2\"}\n");
	assert_true(azure_of(cfg)->cpu == 0.5);
	assert_true(azure_of(cfg)->memory_gb == 2.0);
	ml_config_free(cfg);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  azure: {cpu: 1e0, memory_gb: .5}\n");
	assert_true(azure_of(cfg)->cpu == 1.0);
	assert_true(azure_of(cfg)->memory_gb == 0.5);
	ml_config_free(cfg);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  azure: {cpu: 0}\n", 4, 16,
		     "value 0 for 'deploy.azure.cpu' must be greater than 0", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  azure: {memory_gb: -1.5}\n", 4, 22,
		     "must be greater than 0", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  azure: {cpu: .inf}\n", 4, 16,
		     "expected a number for 'deploy.azure.cpu', got '.inf'", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  azure: {cpu: 1e}\n", 4, 16,
		     "expected a number", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  azure: {cpu: 1e999}\n", 4, 16,
		     "expected a number", NULL);
}

static void test_booleans(void **state)
{
	static const char *const truths[] = { "true", "True", "TRUE", "\"true\"", NULL };
	static const char *const lies[] = { "false", "False", "FALSE", "'false'", NULL };
	struct ml_config *cfg;
	char *yaml;
	size_t i;

	(void)state;
	for (i = 0; truths[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
				   "    allow_unauthenticated: %s\n", truths[i]);
		cfg = load_ok(yaml);
		assert_int_equal(gcp_of(cfg)->allow_unauthenticated, 1);
		ml_config_free(cfg);
		free(yaml);
	}
	for (i = 0; lies[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
				   "    allow_unauthenticated: %s\n", lies[i]);
		cfg = load_ok(yaml);
		assert_int_equal(gcp_of(cfg)->allow_unauthenticated, 0);
		ml_config_free(cfg);
		free(yaml);
	}
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
		     "    allow_unauthenticated: yes\n", 6, 28,
		     "expected true or false for 'deploy.gcp.allow_unauthenticated', got 'yes'",
		     "write true or false", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
		     "    allow_unauthenticated: Off\n", 6, 28, "got 'Off'", "yaml 1.1", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
		     "    allow_unauthenticated: 1\n", 6, 28,
		     "expected true or false for 'deploy.gcp.allow_unauthenticated', got '1'", NULL);
}

/* ---- values ---- */

static void test_name(void **state)
{
	static const char *const good[] = { "a", "iris", "iris-2", "a1-b2-c3", NULL };
	static const char *const bad[] = {
		"Iris", "2iris", "-iris", "iris-", "iris_2", "iris.app", "ïris",
		"a234567890123456789012345678901234567890123456789012345678901234", NULL,
	};
	struct ml_config *cfg;
	char *yaml;
	size_t i;

	(void)state;
	for (i = 0; good[i]; i++) {
		yaml = ml_asprintf("name: %s\nimage: {base: x}\n", good[i]);
		cfg = load_ok(yaml);
		assert_string_equal(cfg->name, good[i]);
		ml_config_free(cfg);
		free(yaml);
	}
	for (i = 0; bad[i]; i++) {
		char *want = ml_asprintf("invalid value '%s' for 'name'", bad[i]);

		yaml = ml_asprintf("name: %s\nimage: {base: x}\n", bad[i]);
		expect_error(yaml, 1, 7, want, "lower-case letters, digits and '-'", NULL);
		free(yaml);
		free(want);
	}
	/* 63 characters is the limit */
	cfg = load_ok("name: a23456789012345678901234567890123456789012345678901234567890123\n"
		      "image: {base: x}\n");
	ml_config_free(cfg);
}

static void test_references(void **state)
{
	static const char *const good_bases[] = {
		"scratch", "python", "python:3.11-slim", "library/python:3", "docker.io/library/python",
		"localhost/app", "localhost:5000/app:v1", "127.0.0.1:5000/a/b/c:latest",
		"[::1]:5000/app", "us-east1-docker.pkg.dev/proj/repo/img:tag_1.2-x",
		"ghcr.io/some-org/some__name.x--y:Tag", "busybox@sha256:"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"oci-layout:base", "oci-layout:./out/layout:3.11", "oci-layout:/abs/dir",
		"docker-archive:base.tar", "docker-archive:/tmp/x:y.tar", NULL,
	};
	static const char *const bad_bases[][2] = {
		{ "Python:3", "invalid repository name 'Python'" },
		{ "python:3.11 slim", "invalid tag '3.11 slim'" },
		{ "python:.x", "invalid tag" },
		{ "python:", "invalid tag" },
		{ "python@sha256:abc", "invalid digest 'sha256:abc'" },
		{ "python@md5:0123456789abcdef0123456789abcdef", "invalid digest" },
		{ "docker://python", "not a url" },
		{ "oci-layout:", "oci-layout: needs a directory" },
		{ "oci-layout::tag", "oci-layout: needs a directory" },
		{ "oci-layout:dir:bad tag", "invalid tag 'bad tag'" },
		{ "docker-archive:", "docker-archive: needs a file" },
		{ "a//b", "invalid base" },
		{ "a/", "invalid base" },
		{ "a_-b", "invalid base" },
		{ "a.", "invalid base" },
		{ "-a.com/b", "invalid base" },
		{ "a.com:port/b", "invalid base" },
		{ "a.com:123456/b", "invalid base" },
		{ NULL, NULL },
	};
	static const char *const good_repos[] = {
		"iris", "us-east1-docker.pkg.dev/my-proj/ml/iris", "localhost:5000/iris",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/iris", "myacr.azurecr.io/ml/iris", NULL,
	};
	static const char *const bad_repos[][2] = {
		{ "iris:latest", "must not carry a tag" },
		{ "iris@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "must not carry a tag or digest" },
		{ "localhost:5000", "must not carry a tag" },
		{ "ML/iris", "lower-case letters" },
		{ "example.com/Iris", "lower-case letters" },
		{ "bad_host.com/iris", "invalid repository" },
		{ NULL, NULL },
	};
	struct ml_config *cfg;
	char *yaml;
	size_t i;

	(void)state;
	for (i = 0; good_bases[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage:\n  base: \"%s\"\n", good_bases[i]);
		cfg = load_ok(yaml);
		assert_string_equal(cfg->image.base, good_bases[i]);
		ml_config_free(cfg);
		free(yaml);
	}
	for (i = 0; bad_bases[i][0]; i++) {
		yaml = ml_asprintf("name: iris\nimage:\n  base: \"%s\"\n", bad_bases[i][0]);
		expect_error(yaml, 3, 9, bad_bases[i][1], "'image.base'", NULL);
		free(yaml);
	}
	for (i = 0; good_repos[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage:\n  base: x\n  repository: %s\n", good_repos[i]);
		cfg = load_ok(yaml);
		assert_string_equal(cfg->image.repository, good_repos[i]);
		ml_config_free(cfg);
		free(yaml);
	}
	for (i = 0; bad_repos[i][0]; i++) {
		yaml = ml_asprintf("name: iris\nimage:\n  base: x\n  repository: %s\n", bad_repos[i][0]);
		expect_error(yaml, 4, 15, "invalid repository", "'image.repository'", bad_repos[i][1],
			     NULL);
		free(yaml);
	}
}

static void test_image_values(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_image_ok("  platform: linux/arm/v7\n  user: \"app:app\"\n  workdir: /\n");
	assert_string_equal(cfg->image.platform, "linux/arm/v7");
	assert_string_equal(cfg->image.user, "app:app");
	assert_string_equal(cfg->image.workdir, "/");
	ml_config_free(cfg);
	expect_image_error("  platform: linux/x86_64\n", 4, 13,
			   "invalid platform 'linux/x86_64' for 'image.platform'", "write 'amd64'",
			   NULL);
	expect_image_error("  platform: linux/aarch64/v8\n", 4, 13, "write 'arm64' for 'aarch64'",
			   NULL);
	expect_image_error("  platform: linux\n", 4, 13, "invalid platform 'linux'", "OS/ARCH", NULL);
	expect_image_error("  platform: Linux/AMD64\n", 4, 13, "invalid platform", NULL);
	expect_image_error("  platform: linux/amd64/v1/x\n", 4, 13, "invalid platform", NULL);
	expect_image_error("  platform: linux//amd64\n", 4, 13, "invalid platform", NULL);
	expect_image_error("  platform: linux/amd64/\n", 4, 13, "invalid platform", NULL);
	expect_image_error("  workdir: app\n", 4, 12,
			   "invalid path 'app' for 'image.workdir'", "absolute", NULL);
	expect_image_error("  user: app user\n", 4, 9, "invalid user 'app user' for 'image.user'",
			   NULL);
	expect_image_error("  env: {1A: x}\n", 4, 9,
			   "invalid variable name '1A' in 'image.env'", NULL);
	expect_image_error("  env: {A-B: x}\n", 4, 9, "invalid variable name 'A-B'", NULL);
	expect_image_error("  labels: {'': x}\n", 4, 12, "invalid label key ''", NULL);
	expect_error("name: iris\nimage: {base: x}\nhealth: {path: healthz}\n", 3, 16,
		     "invalid path 'healthz' for 'health.path'", "'/healthz'", NULL);
}

static void test_copy(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_image_ok("  copy:\n    - app/:/app/\n    - \"model.pkl:/app/model.pkl\"\n"
			    "    - .:/srv\n    - 'ab:c:/c'\n");
	assert_int_equal(cfg->image.ncopy, 4);
	assert_string_equal(cfg->image.copy[0].src, "app/");
	assert_string_equal(cfg->image.copy[0].dst, "/app/");
	assert_null(cfg->image.copy[0].layer);
	assert_string_equal(cfg->image.copy[1].src, "model.pkl");
	assert_string_equal(cfg->image.copy[1].dst, "/app/model.pkl");
	assert_string_equal(cfg->image.copy[2].src, ".");
	assert_string_equal(cfg->image.copy[2].dst, "/srv");
	assert_string_equal(cfg->image.copy[3].src, "ab:c");
	assert_string_equal(cfg->image.copy[3].dst, "/c");
	assert_int_equal(cfg->image.copy[3].pos.line, 8);
	assert_int_equal(cfg->image.copy[3].pos.column, 7);
	ml_config_free(cfg);

	cfg = load_image_ok("  copy:\n    - {src: a, dst: /a, layer: deps}\n"
			    "    - {src: b, dst: /b, layer: deps}\n    - {src: c..d, dst: /c}\n");
	assert_string_equal(cfg->image.copy[1].layer, "deps");
	assert_string_equal(cfg->image.copy[2].src, "c..d");
	ml_config_free(cfg);

	expect_image_error("  copy: [app]\n", 4, 10,
			   "invalid copy entry 'app' for 'image.copy[0]'", "'SRC:DST'", NULL);
	expect_image_error("  copy: [':/app']\n", 4, 10, "invalid copy entry ':/app'", NULL);
	expect_image_error("  copy: ['app:']\n", 4, 10, "invalid copy entry 'app:'", NULL);
	expect_image_error("  copy: ['app:rel']\n", 4, 10,
			   "invalid path 'rel' for 'image.copy[0]'", "absolute", NULL);
	expect_image_error("  copy:\n    - {src: /etc/passwd, dst: /x}\n", 5, 13,
			   "invalid path '/etc/passwd' for 'image.copy[0].src'", "relative", NULL);
	expect_image_error("  copy:\n    - {src: ../secret, dst: /x}\n", 5, 13,
			   "invalid path '../secret' for 'image.copy[0].src'", "'..'", NULL);
	expect_image_error("  copy:\n    - {src: a/../../b, dst: /x}\n", 5, 13, "'..'", NULL);
	expect_image_error("  copy:\n    - {src: a/.., dst: /x}\n", 5, 13, "'..'", NULL);
	expect_image_error("  copy:\n    - {src: 'C:\\x', dst: /x}\n", 5, 13, "relative", NULL);
	expect_image_error("  copy:\n    - {src: 'app\\x', dst: /x}\n", 5, 13,
			   "separate directories with '/'", NULL);
	expect_image_error("  copy:\n    - {src: a, dst: app/}\n", 5, 21,
			   "invalid path 'app/' for 'image.copy[0].dst'", NULL);
	expect_image_error("  copy:\n    - {src: a, dst: /app/../etc}\n", 5, 21,
			   "must not contain '..'", NULL);
	/* "/." would make a file the image's root */
	expect_image_error("  copy:\n    - {src: a, dst: \"/.\"}\n", 5, 21,
			   "invalid path '/.' for 'image.copy[0].dst' (it must not end in '/.'",
			   "'/app/'", NULL);
	expect_image_error("  copy:\n    - {src: a, dst: /srv/.}\n", 5, 21, "must not end in '/.'",
			   NULL);
	expect_image_error("  copy: ['app:/.']\n", 4, 10,
			   "invalid path '/.' for 'image.copy[0]'", NULL);
	cfg = load_image_ok("  copy:\n    - {src: a, dst: /./}\n    - {src: b, dst: /srv/./x}\n");
	assert_string_equal(cfg->image.copy[0].dst, "/./");
	ml_config_free(cfg);
	expect_image_error("  copy:\n    - {src: a, dst: /a, layer: Deps}\n", 5, 32,
			   "invalid layer name 'Deps' for 'image.copy[0].layer'", NULL);
	expect_image_error("  copy:\n    - {src: a, dst: /a, layer: -x}\n", 5, 32,
			   "invalid layer name", NULL);
	expect_image_error("  copy:\n    - ~\n", 5, 7,
			   "expected 'SRC:DST' or a mapping for 'image.copy[0]', got null", NULL);
}

static void test_cmd(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_image_ok("  cmd: gunicorn --bind :$PORT app:app\n  entrypoint: [tini, --]\n");
	assert_int_equal(cfg->image.cmd.n, 3);
	assert_int_equal(cfg->image.cmd.present, 1);
	assert_string_equal(cfg->image.cmd.v[0], "/bin/sh");
	assert_string_equal(cfg->image.cmd.v[1], "-c");
	assert_string_equal(cfg->image.cmd.v[2], "gunicorn --bind :$PORT app:app");
	assert_int_equal(cfg->image.cmd.pos.line, 4);
	assert_int_equal(cfg->image.entrypoint.n, 2);
	ml_config_free(cfg);

	cfg = load_image_ok("  cmd: [python, -c, '', 1, true]\n");
	assert_int_equal(cfg->image.cmd.n, 5);
	assert_string_equal(cfg->image.cmd.v[2], "");
	assert_string_equal(cfg->image.cmd.v[3], "1");
	assert_string_equal(cfg->image.cmd.v[4], "true");
	ml_config_free(cfg);

	expect_image_error("  entrypoint: [a, [b]]\n", 4, 19,
			   "expected a string for 'image.entrypoint[1]', got a sequence", NULL);
	expect_image_error("  cmd:\n    - a\n    -\n", 6, 6, "empty item in 'image.cmd[1]'", NULL);
}

static void test_gcp(void **state)
{
	static const char *const good_memory[] = { "512Mi", "2Gi", "1.5Gi", "512M", "4G", NULL };
	static const char *const bad_memory[] = { "2", "2GB", "Gi", "-1Gi", "0Mi", "1.Gi", NULL };
	static const char *const good_cpu[] = { "1", "0.5", "1000m", "\"2\"", NULL };
	static const char *const bad_cpu[] = { "0", "-1", "1 cpu", "1.5x", "m", NULL };
	struct ml_config *cfg;
	char *yaml;
	size_t i;

	(void)state;
	for (i = 0; good_memory[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, "
				   "memory: %s}\n", good_memory[i]);
		cfg = load_ok(yaml);
		assert_string_equal(gcp_of(cfg)->memory, good_memory[i]);
		ml_config_free(cfg);
		free(yaml);
	}
	for (i = 0; bad_memory[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, "
				   "memory: %s}\n", bad_memory[i]);
		expect_error(yaml, 4, 29, "invalid memory size", "'deploy.gcp.memory'", "2Gi", NULL);
		free(yaml);
	}
	for (i = 0; good_cpu[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, "
				   "cpu: %s}\n", good_cpu[i]);
		cfg = load_ok(yaml);
		ml_config_free(cfg);
		free(yaml);
	}
	for (i = 0; bad_cpu[i]; i++) {
		yaml = ml_asprintf("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, "
				   "cpu: %s}\n", bad_cpu[i]);
		expect_error(yaml, 4, 26, "invalid cpu", "'deploy.gcp.cpu'", NULL);
		free(yaml);
	}
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, target: cloudrn}\n",
		     4, 29, "invalid value 'cloudrn' for 'deploy.gcp.target'",
		     "did you mean 'cloudrun'?", "allowed: cloudrun, appengine", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, target: gke}\n",
		     4, 29, "invalid value 'gke'", "(allowed: cloudrun, appengine)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
		     "    min_instances: 4\n    max_instances: 2\n", 7, 20,
		     "min_instances 4 is greater than max_instances 2 in 'deploy.gcp'", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, min_instances: -1}\n",
		     4, 36, "value -1 for 'deploy.gcp.min_instances' is out of range (0 or more)",
		     NULL);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, min_instances: 2,"
		      " max_instances: 2}\n");
	assert_int_equal(gcp_of(cfg)->min_instances, 2);
	assert_int_equal(gcp_of(cfg)->max_instances, 2);
	ml_config_free(cfg);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p, min_instances: 5}\n");
	assert_int_equal(gcp_of(cfg)->min_instances, 5);
	assert_int_equal(gcp_of(cfg)->max_instances, -1);
	ml_config_free(cfg);
}

/* ---- the providers' sections ---- */

static const char *const *local_names(void)
{
	static const char *const names[] = { "local", NULL };

	return names;
}

static const char *const *local_keys(const char *name)
{
	(void)name;
	return ml_local_config_keys;
}

static int local_parse(const char *name, struct ml_config_section *s, void **conf,
		       struct ml_error *err)
{
	(void)name;
	return ml_local_config_parse(s, conf, err);
}

static void local_free(const char *name, void *conf)
{
	(void)name;
	ml_local_config_free(conf);
}

static ml_json *local_json(const char *name, const void *conf)
{
	(void)name;
	return ml_local_config_json(conf);
}

/* deploy.local alone, whether or not the providers' table lists it yet. */
static const struct ml_config_provider_hooks local_hooks = {
	local_names, local_keys, local_parse, local_free, local_json,
};

static void test_local(void **state)
{
	const struct ml_local_conf *l;
	struct ml_config *cfg;
	ml_json *j, *sec;
	int64_t i;

	(void)state;
	ml_config_set_provider_hooks(&local_hooks);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  local:\n");
	l = ml_config_provider_conf(cfg, "local");
	assert_non_null(l);
	assert_null(l->engine);
	assert_int_equal(l->port, 0);
	assert_string_equal(l->bind, "127.0.0.1");
	assert_string_equal(l->restart, "unless-stopped");
	assert_int_equal(l->nenv, 0);
	assert_int_equal(l->pos.line, 4);
	assert_int_equal(l->pos.column, 3);
	assert_int_equal(cfg->ndeploy, 1);
	assert_string_equal(cfg->deploy[0].name, "local");
	j = ml_config_to_json(cfg);
	sec = ml_json_get(ml_json_get(j, "deploy"), "local");
	assert_null(ml_json_get(sec, "engine"));
	assert_null(ml_json_get(sec, "port"));
	assert_string_equal(ml_json_get_str(sec, "bind"), "127.0.0.1");
	assert_string_equal(ml_json_get_str(sec, "restart"), "unless-stopped");
	assert_int_equal(ml_json_size(ml_json_get(sec, "env")), 0);
	ml_json_free(j);
	ml_config_free(cfg);

	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  local:\n"
		      "    engine: unix:///run/podman/podman.sock\n    port: 9000\n"
		      "    bind: \"::1\"\n    restart: on-failure\n    env: {A: 1, B_2: x}\n");
	l = ml_config_provider_conf(cfg, "local");
	assert_string_equal(l->engine, "unix:///run/podman/podman.sock");
	assert_int_equal(l->port, 9000);
	assert_string_equal(l->bind, "::1");
	assert_string_equal(l->restart, "on-failure");
	assert_int_equal(l->nenv, 2);
	assert_string_equal(l->env[1].key, "B_2");
	assert_string_equal(l->env[0].value, "1");
	assert_int_equal(l->env[1].pos.line, 9);
	j = ml_config_to_json(cfg);
	sec = ml_json_get(ml_json_get(j, "deploy"), "local");
	assert_string_equal(ml_json_get_str(sec, "engine"), "unix:///run/podman/podman.sock");
	assert_int_equal(ml_json_get_int(sec, "port", &i), 0);
	assert_int_equal(i, 9000);
	assert_string_equal(ml_json_get_str(ml_json_get(sec, "env"), "B_2"), "x");
	ml_json_free(j);
	ml_config_free(cfg);

	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  local: {engine: 'tcp://127.0.0.1:2375',"
		      " bind: 0.0.0.0, restart: \"no\"}\n");
	l = ml_config_provider_conf(cfg, "local");
	assert_string_equal(l->engine, "tcp://127.0.0.1:2375");
	assert_string_equal(l->restart, "no");
	ml_config_free(cfg);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  local: {engine: 'tcp://[::1]:2375'}\n");
	ml_config_free(cfg);

	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {engine: /var/run/docker.sock}\n",
		     4, 19, "invalid engine '/var/run/docker.sock' for 'deploy.local.engine'",
		     "unix:///PATH or tcp://HOST:PORT", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {engine: 'tcp://host'}\n",
		     4, 19, "invalid engine", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {engine: 'tcp://h:70000'}\n",
		     4, 19, "invalid engine", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {engine: 'unix://'}\n",
		     4, 19, "invalid engine", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {port: 0}\n", 4, 17,
		     "value 0 for 'deploy.local.port' is out of range (1 to 65535)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {bind: localhost}\n", 4, 17,
		     "invalid address 'localhost' for 'deploy.local.bind'", "127.0.0.1", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {restart: unless-stoped}\n",
		     4, 20, "invalid value 'unless-stoped' for 'deploy.local.restart'",
		     "did you mean 'unless-stopped'?", "allowed: no, always, unless-stopped, on-failure",
		     NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {env: {1A: x}}\n", 4, 17,
		     "invalid variable name '1A' in 'deploy.local.env'", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: {prot: 1}\n", 4, 11,
		     "unknown key 'prot' in 'deploy.local' (did you mean 'port'?)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  local: [a]\n", 4, 10,
		     "expected a mapping for 'deploy.local', got a sequence", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  docker: {}\n", 4, 3,
		     "unknown key 'docker' in 'deploy' (valid keys: local)", NULL);
	/* a key at the wrong level is placed with the providers' keys too */
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  engine: unix:///x\n", 4, 3,
		     "unknown key 'engine' in 'deploy' (it belongs in 'deploy.local';", NULL);
	expect_error("name: iris\nimage: {base: x}\nlocal: {}\n", 3, 1,
		     "unknown key 'local' (it belongs in 'deploy';", NULL);
	ml_config_set_provider_hooks(&ml_providers_config_hooks);
}

/* Without hooks (a program that installs none) deploy: may hold no section. */
static void test_no_hooks(void **state)
{
	struct ml_config *cfg;

	(void)state;
	ml_config_set_provider_hooks(NULL);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy: {}\n");
	assert_int_equal(cfg->ndeploy, 0);
	assert_null(ml_config_provider_conf(cfg, "gcp"));
	ml_config_free(cfg);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp: {project: p}\n", 4, 3,
		     "unknown key 'gcp' in 'deploy' (no provider is known here)", NULL);
	ml_config_set_provider_hooks(&ml_providers_config_hooks);
}

/* A provider of the test's own, reading every kind of value with the getters. */
struct tconf {
	char *s, *e;
	int n, b;
	double d;
	struct ml_strv list;
	struct ml_kv *kv;
	size_t nkv;
	int has_s;
	struct ml_pos pos_s, pos_none;
	char path[64];
};

static const char *const tkeys[] = { "s", "e", "n", "b", "d", "list", "kv", "bad", NULL };

static const char *const *t_names(void)
{
	static const char *const names[] = { "t", NULL };

	return names;
}

static const char *const *t_keys(const char *name)
{
	(void)name;
	return tkeys;
}

static void t_free(const char *name, void *conf)
{
	struct tconf *c = conf;

	(void)name;
	free(c->s);
	free(c->e);
	ml_strv_dispose(&c->list);
	ml_kv_free(c->kv, c->nkv);
	free(c);
}

static int t_parse(const char *name, struct ml_config_section *s, void **conf,
		   struct ml_error *err)
{
	static const char *const colours[] = { "red", "green", NULL };
	struct tconf *c = ml_calloc(1, sizeof(*c));
	int rc;

	(void)name;
	(void)err;
	c->n = -1;
	snprintf(c->path, sizeof(c->path), "%s", ml_section_path(s));
	c->has_s = ml_section_has(s, "s");
	c->pos_s = ml_section_pos(s, "s");
	c->pos_none = ml_section_pos(s, "nothing");
	if ((rc = ml_section_keys(s, tkeys)) < 0 ||
	    (rc = ml_section_require(s, "s", "the hint of s")) < 0 ||
	    (rc = ml_section_str(s, "s", ML_SECTION_REQUIRED, &c->s)) < 0 ||
	    (rc = ml_section_enum(s, "e", 0, colours, &c->e)) < 0 ||
	    (rc = ml_section_int(s, "n", ML_SECTION_REQUIRED, 1, 10, &c->n)) < 0 ||
	    (rc = ml_section_bool(s, "b", &c->b)) < 0 ||
	    (rc = ml_section_positive(s, "d", &c->d)) < 0 ||
	    (rc = ml_section_strv(s, "list", &c->list)) < 0 ||
	    (rc = ml_section_kv(s, "kv", 0, &c->kv, &c->nkv)) < 0 ||
	    (rc = ml_section_has(s, "bad") ?
	     ml_section_error(s, "bad", "bad value '%s' in '%s'",
			      ml_section_quote(s, "a\tb"), ml_section_path(s)) : 0) < 0) {
		t_free(name, c);
		return rc;
	}
	*conf = c;
	return 0;
}

static ml_json *t_json(const char *name, const void *conf)
{
	const struct tconf *c = conf;
	ml_json *o = ml_json_object_new();

	(void)name;
	ml_json_set_str(o, "s", c->s);
	return o;
}

static const struct ml_config_provider_hooks t_hooks = { t_names, t_keys, t_parse, t_free, t_json };

static void test_section_getters(void **state)
{
	const struct tconf *c;
	struct ml_config *cfg;
	ml_json *j;

	(void)state;
	ml_config_set_provider_hooks(&t_hooks);
	setenv("MLT_S", "from-env", 1);
	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy:\n  t:\n    s: ${MLT_S}\n    e: green\n"
		      "    n: \"7\"\n    b: true\n    d: 0.5\n    list: one\n    kv: {K: v, L: }\n");
	c = ml_config_provider_conf(cfg, "t");
	assert_non_null(c);
	assert_string_equal(c->path, "deploy.t");
	assert_true(c->has_s);
	assert_int_equal(c->pos_s.line, 5);
	assert_int_equal(c->pos_s.column, 8);
	assert_int_equal(c->pos_none.line, 5);
	assert_int_equal(c->pos_none.column, 5);
	assert_string_equal(c->s, "from-env");
	assert_string_equal(c->e, "green");
	assert_int_equal(c->n, 7);
	assert_int_equal(c->b, 1);
	assert_true(c->d == 0.5);
	assert_int_equal(c->list.n, 1);
	assert_true(c->list.present);
	assert_string_equal(c->list.v[0], "one");
	assert_int_equal(c->nkv, 2);
	assert_string_equal(c->kv[1].value, "");
	j = ml_config_to_json(cfg);
	assert_string_equal(ml_json_get_str(ml_json_get(ml_json_get(j, "deploy"), "t"), "s"),
			    "from-env");
	ml_json_free(j);
	ml_config_free(cfg);

	cfg = load_ok("name: iris\nimage: {base: x}\ndeploy: {t: {s: x, n: 1, list: [a, b]}}\n");
	c = ml_config_provider_conf(cfg, "t");
	assert_int_equal(c->list.n, 2);
	assert_null(c->e);
	ml_config_free(cfg);

	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {n: 1}\n", 4, 6,
		     "missing required key 's' in 'deploy.t' (the hint of s)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: '', n: 1}\n", 4, 7,
		     "empty value for required key 's' in 'deploy.t' (the hint of s)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x}\n", 4, 6,
		     "missing required key 'n' in 'deploy.t' (it is required)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x, n: 11}\n", 4, 16,
		     "value 11 for 'deploy.t.n' is out of range (1 to 10)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x, n: 1, e: blue}\n", 4, 22,
		     "invalid value 'blue' for 'deploy.t.e' (allowed: red, green)", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x, n: 1, list: {a: b}}\n", 4, 25,
		     "expected a string or a sequence of strings for 'deploy.t.list', got a mapping",
		     NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x, n: 1, bad: 1}\n", 4, 24,
		     "bad value 'a?b' in 'deploy.t'", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x, n: 1, region: r}\n", 4, 19,
		     "unknown key 'region' in 'deploy.t' (valid keys: s, e, n, b, d, list, kv, bad)",
		     NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  t: {s: x, s: y}\n", 4, 13,
		     "duplicate key 's' in 'deploy.t'", NULL);
	unsetenv("MLT_S");
	ml_config_set_provider_hooks(&ml_providers_config_hooks);
}

/* The clouds' keys are placed, wherever they are misplaced. */
static void test_provider_keys_elsewhere(void **state)
{
	(void)state;
	expect_error("name: iris\nimage: {base: x}\nproject: p\n", 3, 1,
		     "unknown key 'project' (it belongs in 'deploy.gcp'; check its indentation)", NULL);
	expect_error("name: iris\nimage: {base: x, memory_gb: 1}\n", 2, 18,
		     "unknown key 'memory_gb' in 'image' (it belongs in 'deploy.azure';", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  aws: {project: p}\n", 4, 9,
		     "unknown key 'project' in 'deploy.aws' (it belongs in 'deploy.gcp';", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  azure: {port: 1}\n", 4, 11,
		     "unknown key 'port' in 'deploy.azure' (it belongs in 'image' or in 'deploy.local';", NULL);
	expect_error("name: iris\nimage: {base: x}\ngcp: {project: p}\n", 3, 1,
		     "unknown key 'gcp' (it belongs in 'deploy';", NULL);
}

static void test_endpoints(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_ok("name: iris\nimage: {base: x}\nendpoints:\n  ecr: http://localhost:5000\n"
		      "  s3: https://s3.example.com/\n");
	assert_int_equal(cfg->nendpoints, 2);
	assert_string_equal(cfg->endpoints[0].key, "ecr");
	assert_string_equal(cfg->endpoints[1].value, "https://s3.example.com/");
	assert_int_equal(cfg->endpoints[1].pos.line, 5);
	assert_int_equal(cfg->endpoints[1].pos.column, 3);
	ml_config_free(cfg);
	expect_error("name: iris\nimage: {base: x}\nendpoints:\n  ecr: localhost:5000\n", 4, 8,
		     "invalid url 'localhost:5000' for 'endpoints.ecr'", "http://", NULL);
	expect_error("name: iris\nimage: {base: x}\nendpoints:\n  ecr: 'http://'\n", 4, 8,
		     "invalid url", NULL);
	expect_error("name: iris\nimage: {base: x}\nendpoints:\n  ecr:\n", 4, 7,
		     "invalid url '' for 'endpoints.ecr'", NULL);
	expect_error("name: iris\nimage: {base: x}\nendpoints:\n  CloudRun: http://x\n", 4, 3,
		     "invalid endpoint name 'CloudRun' in 'endpoints'", "MLDEPLOY_ENDPOINT_", NULL);
}

/* ---- ${VAR} ---- */

static void test_expansion(void **state)
{
	struct ml_config *cfg;

	(void)state;
	setenv("MLT_REGION", "europe-west1", 1);
	setenv("MLT_PORT", "9090", 1);
	setenv("MLT_EMPTY", "", 1);
	setenv("MLT_TRUE", "true", 1);
	setenv("MLT_TAG", "3.12", 1);
	unsetenv("MLT_UNSET");
	cfg = load_ok("name: iris\n"
		      "image:\n"
		      "  base: python:${MLT_TAG}-slim\n"
		      "  port: ${MLT_PORT}\n"
		      "  workdir: ${MLT_EMPTY}\n"
		      "  user: ${MLT_UNSET:-1000}\n"
		      "  env:\n"
		      "    PRICE: $$5 and $HOME and $\n"
		      "    R: \"${MLT_REGION}/${MLT_EMPTY:-e}/${MLT_UNSET:-${MLT_REGION:-x}}\"\n"
		      "    D: ${MLT_UNSET:-a:b-c}\n"
		      "    N: ${MLT_UNSET:-${MLT_UNSET:-}}\n"
		      "    K: ${MLT_REGION:-${MLT_UNSET}}\n"
		      "  cmd: [\"echo\", \"$${MLT_REGION}\", '${MLT_REGION}']\n"
		      "deploy:\n"
		      "  gcp:\n"
		      "    project: ${MLT_UNSET:-my-proj}\n"
		      "    region: ${MLT_REGION}\n"
		      "    allow_unauthenticated: ${MLT_TRUE}\n"
		      "    max_instances: ${MLT_UNSET:-}\n");
	assert_string_equal(cfg->image.base, "python:3.12-slim");
	assert_int_equal(cfg->image.port, 9090);
	assert_null(cfg->image.workdir);
	assert_string_equal(cfg->image.user, "1000");
	assert_string_equal(cfg->image.env[0].value, "$5 and $HOME and $");
	assert_string_equal(cfg->image.env[1].value, "europe-west1/e/europe-west1");
	assert_string_equal(cfg->image.env[2].value, "a:b-c");
	assert_string_equal(cfg->image.env[3].value, "");
	assert_string_equal(cfg->image.env[4].value, "europe-west1");
	assert_string_equal(cfg->image.cmd.v[1], "${MLT_REGION}");
	assert_string_equal(cfg->image.cmd.v[2], "europe-west1");
	assert_string_equal(gcp_of(cfg)->project, "my-proj");
	assert_string_equal(gcp_of(cfg)->region, "europe-west1");
	assert_int_equal(gcp_of(cfg)->allow_unauthenticated, 1);
	assert_int_equal(gcp_of(cfg)->max_instances, -1);
	ml_config_free(cfg);

	/* keys are not expanded */
	expect_image_error("  env:\n    ${MLT_REGION}: x\n", 5, 5,
			   "invalid variable name '${MLT_REGION}' in 'image.env'", NULL);
	expect_error("name: iris\nimage: {base: x}\ndeploy:\n  gcp:\n    project: p\n"
		     "    region: ${MLT_UNSET}\n", 6, 13,
		     "variable 'MLT_UNSET' used in 'deploy.gcp.region' is not set",
		     "${MLT_UNSET:-default}", NULL);
	expect_error("name: ${MLT_UNSET}\nimage: {base: x}\n", 1, 7,
		     "variable 'MLT_UNSET' used in 'name' is not set", NULL);
	expect_image_error("  env: {A: \"x ${MLT_REGION\"}\n", 4, 12,
			   "unterminated '${' in the value 'x ${MLT_REGION' of 'image.env.A'",
			   "'$$'", NULL);
	expect_image_error("  env: {A: \"${\"}\n", 4, 12, "unterminated '${'", NULL);
	expect_image_error("  env: {A: \"${X:-abc\"}\n", 4, 12, "unterminated '${'", NULL);
	expect_image_error("  env: {A: \"${X:-${Y:-z}\"}\n", 4, 12, "unterminated '${'", NULL);
	expect_image_error("  env: {A: \"${}\"}\n", 4, 12,
			   "invalid variable reference in the value '${}' of 'image.env.A'", NULL);
	expect_image_error("  env: {A: \"${1X}\"}\n", 4, 12, "invalid variable reference", NULL);
	expect_image_error("  env: {A: \"${X-def}\"}\n", 4, 12, "invalid variable reference",
			   "${NAME:-default}", NULL);
	expect_image_error("  env: {A: \"${X:=def}\"}\n", 4, 12, "invalid variable reference",
			   NULL);
	expect_image_error("  port: ${MLT_REGION}\n", 4, 9,
			   "expected an integer for 'image.port', got 'europe-west1'", NULL);
	expect_error("name: \"${MLT_EMPTY}\"\nimage: {base: x}\n", 1, 1,
		     "empty value for required key 'name'", NULL);
	expect_image_error("  env: {A: \"${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-"
			   "${A:-${A:-${A:-${A:-${A:-${A:-${A:-x}}}}}}}}}}}}}}}}}}\"}\n", 4, 12,
			   "nested deeper than", NULL);
	unsetenv("MLT_REGION");
	unsetenv("MLT_PORT");
	unsetenv("MLT_EMPTY");
	unsetenv("MLT_TRUE");
	unsetenv("MLT_TAG");
}

static void test_expansion_limits(void **state)
{
	char *big = ml_malloc(600000), *yaml;
	struct ml_config *cfg;

	(void)state;
	memset(big, 'x', 599999);
	big[599999] = '\0';
	setenv("MLT_BIG", big, 1);
	cfg = load_image_ok("  env: {A: \"${MLT_BIG}\"}\n");
	assert_int_equal(strlen(cfg->image.env[0].value), 599999);
	ml_config_free(cfg);
	expect_image_error("  env: {A: \"${MLT_BIG}${MLT_BIG}\"}\n", 4, 12,
			   "longer than 1048576 bytes after variable expansion", NULL);
	unsetenv("MLT_BIG");

	/* long values are cut in messages */
	memset(big, 'a', 300);
	big[300] = '\0';
	yaml = ml_asprintf("name: %s\nimage: {base: x}\n", big);
	expect_error(yaml, 1, 7, "invalid value 'aaaaaaaaaa", "...' for 'name'", NULL);
	free(yaml);
	free(big);
}

/* ---- YAML itself ---- */

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("name: iris\nimage:\n\tbase: x\n", 3, 1,
		     "found character that cannot start any token", "tab", NULL);
	expect_error("name: iris\nimage: {base: x\n", 3, 1, "did not find expected ',' or '}'",
		     "while parsing a flow mapping at line 2, column 8", NULL);
	expect_error("name: iris\n  image: x\n", 2, 8,
		     "mapping values are not allowed in this context", NULL);
	expect_error("name: iris\nimage:\n  base: x\n port: 1\n", 4, 2, "did not find expected key",
		     NULL);
	expect_error("name: 'iris\n", 2, 1, "found unexpected end of stream",
		     "while scanning a quoted scalar at line 1, column 7", NULL);
	expect_error("name: iris\nimage: {base: x}\nlabels: !!binary aGk=\n", 3, 9,
		     "unsupported tag 'tag:yaml.org,2002:binary'", NULL);
	expect_error("name: !custom iris\nimage: {base: x}\n", 1, 7, "unsupported tag '!custom'",
		     NULL);
	expect_error("name: iris\nimage: {base: x}\nx: !<tag:example.com:t> [1]\n", 3, 4,
		     "unsupported tag", NULL);
}

static void test_structure(void **state)
{
	struct ml_config *cfg;
	char *yaml;
	size_t i;

	(void)state;
	expect_error("", 1, 1, "the file is empty", NULL);
	expect_error("# nothing but a comment\n\n", 1, 1, "the file is empty", NULL);
	expect_error("---\n", 1, 1, "the file is empty", NULL);
	expect_error("~\n", 1, 1, "the file is empty", NULL);
	expect_error("iris\n", 1, 1, "expected a mapping at the top level, got 'iris'", NULL);
	expect_error("- name: iris\n", 1, 1, "expected a mapping at the top level, got a sequence",
		     NULL);
	expect_error("name: iris\nimage: {base: x}\n---\nname: other\n", 3, 1,
		     "a second yaml document starts here", NULL);
	expect_error("name: &n iris\nimage: {base: x}\n", 1, 7,
		     "anchors are not supported ('&n')", NULL);
	expect_error("base: &b {base: x}\nname: iris\nimage: *b\n", 1, 7,
		     "anchors are not supported", NULL);
	expect_error("name: iris\nimage: {base: x}\nx: *b\n", 3, 4,
		     "aliases are not supported ('*b')", NULL);
	expect_error("name: iris\nimage: {base: \"a\\0b\"}\n", 2, 15, "NUL character", NULL);
	expect_error("name: iris\nimage: {base: x}\nlabel: \"\xff\"\n", 3, 9,
		     "invalid leading UTF-8 octet (byte 0xff", "utf-8 text", NULL);

	/* a BOM and a document end marker are fine */
	cfg = load_ok("\xef\xbb\xbfname: iris\nimage: {base: x}\n...\n");
	ml_config_free(cfg);
	cfg = load_ok("%YAML 1.2\n---\nname: iris\nimage: {base: x}\n");
	ml_config_free(cfg);

	yaml = ml_malloc(2 * 100 + 64);
	strcpy(yaml, "name: iris\nimage: {base: x}\nx: ");
	for (i = 0; i < 100; i++)
		strcat(yaml, "[");
	expect_error(yaml, 3, 4 + 63, "nesting deeper than 64 levels", NULL);
	free(yaml);
}

/* A core-schema tag must fit its value (YAML 1.2 core schema). */
static void test_tags(void **state)
{
	struct ml_config *cfg;

	(void)state;
	cfg = load_image_ok("  user: !!int 1000\n  port: !!int \"8080\"\n  workdir: !!null ~\n"
			    "  env: {A: !!bool true, B: !!float -1.5e3, C: !!int 0x1F, D: !!str x,"
			    " E: !!null ~}\n  labels: {!!str a: !!float .inf}\n");
	assert_string_equal(cfg->image.user, "1000");
	assert_int_equal(cfg->image.port, 8080);
	assert_null(cfg->image.workdir);
	assert_string_equal(cfg->image.env[0].value, "true");
	assert_string_equal(cfg->image.env[2].value, "0x1F");
	assert_string_equal(cfg->image.env[4].value, "");
	ml_config_free(cfg);
	expect_image_error("  user: !!int abc\n", 4, 9,
			   "value 'abc' does not match its tag ('!!int' needs an integer such as 8080;",
			   "remove the tag", NULL);
	expect_image_error("  env: {A: !!bool yes}\n", 4, 12, "value 'yes' does not match its tag",
			   "'!!bool' needs true or false", NULL);
	expect_image_error("  env: {A: !!float 1.5.2}\n", 4, 12, "'!!float' needs a number", NULL);
	expect_image_error("  env: {A: !!null x}\n", 4, 12, "'!!null' needs null, ~ or nothing", NULL);
	expect_image_error("  env: {A: !!int \"12 \"}\n", 4, 12, "value '12 ' does not match", NULL);
	expect_image_error("  env: {!!int A: 1}\n", 4, 9, "value 'A' does not match its tag", NULL);
	expect_image_error("  port: !!float 1.5\n", 4, 9, "expected an integer for 'image.port'", NULL);
	expect_error("name: !!seq iris\nimage: {base: x}\n", 1, 7,
		     "tag '!!seq' does not fit a scalar (remove the tag)", NULL);
	expect_image_error("  ignore: !!map [a]\n", 4, 11, "tag '!!map' does not fit a sequence",
			   NULL);
	expect_image_error("  env: !!str {A: 1}\n", 4, 8, "tag '!!str' does not fit a mapping", NULL);
	/* with ${VAR}, the value after expansion */
	setenv("MLT_NUM", "9090", 1);
	setenv("MLT_WORD", "nine", 1);
	cfg = load_image_ok("  env: {A: !!int \"${MLT_NUM}\"}\n");
	assert_string_equal(cfg->image.env[0].value, "9090");
	ml_config_free(cfg);
	expect_image_error("  env: {A: !!int \"${MLT_WORD}\"}\n", 4, 12,
			   "value 'nine' of 'image.env.A' does not match its tag", "'!!int'", NULL);
	expect_image_error("  env: {!!int \"${MLT_NUM}\": 1}\n", 4, 9,
			   "value '${MLT_NUM}' does not match its tag", NULL);
	unsetenv("MLT_NUM");
	unsetenv("MLT_WORD");
}

static void test_too_large(void **state)
{
	size_t len = (4u << 20) + 10;
	char *data = ml_malloc(len + 1), *path;
	struct ml_config *cfg = NULL;
	struct ml_error err;

	(void)state;
	memset(data, '#', len);
	data[len] = '\0';
	path = write_tmp(data, len);
	assert_int_equal(ml_config_load(&cfg, path, NULL, &err), -ML_ECONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, ":1:1: the file is larger than 4 MiB"));
	unlink(path);
	free(path);
	free(data);
}

/* ---- robustness ---- */

static void check_any(const char *data, size_t len)
{
	char *path = write_tmp(data, len), prefix[512];
	struct ml_config *cfg = NULL;
	struct ml_error err;
	ml_json *j;
	int rc;

	ml_error_clear(&err);
	rc = ml_config_load(&cfg, path, NULL, &err);
	if (rc == 0) {
		j = ml_config_to_json(cfg);
		assert_non_null(j);
		ml_json_free(j);
		ml_config_free(cfg);
	} else {
		if (rc != -ML_ECONFIG)
			print_error("rc %d '%s'\n", rc, err.msg);
		assert_int_equal(rc, -ML_ECONFIG);
		assert_null(cfg);
		snprintf(prefix, sizeof(prefix), "%s:", path);
		assert_int_equal(strncmp(err.msg, prefix, strlen(prefix)), 0);
		assert_true(err.msg[strlen(prefix)] >= '1' && err.msg[strlen(prefix)] <= '9');
	}
	unlink(path);
	free(path);
}

static void test_malformed(void **state)
{
	static const char *const inputs[] = {
		"{", "}", "[", "]", ":", "-", "?", "!", "&", "*", "%", "@", "`", "|", ">", "'", "\"",
		"{{{{", "[[[[", "- - - -", "? ? ?", ": : :", "a: b: c", "a:\n  - b\n  c: d",
		"name: iris\nimage: {base: x, copy: [{src: a, dst: /a}, [], {}, '', ~, :]}\n",
		"name: iris\nimage:\n  base: x\n  env:\n    ? [a]\n    : b\n",
		"name: iris\nimage:\n  base: x\n  env: {? , : }\n",
		"name: iris\nimage: {base: x}\ndeploy: {gcp: , aws: , azure: }\n",
		"name: iris\nimage: {base: x}\ndeploy: {gcp: {project: p, max_instances: 0}}\n",
		"name: iris\nimage: {base: x}\n? name\n",
		"!!map {name: iris, image: {base: x}}",
		"!!seq [name]",
		"name: iris\nimage: {base: '${'}\n",
		"name: iris\nimage: {base: '$'}\n",
		"name: iris\nimage: {base: '$$$$${'}\n",
		"name: iris\nimage: {base: x}\nhealth: {path: /${}}\n",
		"\xef\xbb\xbf",
		"\xff\xfe",
		"\xfe\xff\x00n",
		"name: iris\r\nimage:\r\n  base: x\r\n",
		"name: iris\rimage:\r  base: x\r",
		"name: iris\n\x85image: {base: x}\n",
		"name: iris\nimage: {base: x}\n\x01\n",
		"name: iris\nimage: {base: x}\n%TAG ! tag:x,2000:\n",
		"%TAG ! tag:x,2000:\n---\nname: !a iris\nimage: {base: x}\n",
		"%YAML 2.0\n---\nname: iris\n",
		"name: iris\nimage: {base: x, port: 1e3}\n",
		"name: iris\nimage: {base: x, port: +80}\n",
		"name: iris\nimage: {base: x, port: 2147483648}\n",
		"name: iris\nimage: {base: x}\ndeploy: {gcp: {project: p, min_instances: 9999999999}}\n",
		"name: iris\nimage: {base: x}\ndeploy: {azure: {cpu: 1e308, memory_gb: 1e-308}}\n",
		"name: iris\nimage: |\n  base: x\n",
		"name: >\n  iris\nimage: {base: x}\n",
		"name: iris\nimage: {base: x, user: 0}\n",
		"name: iris\nimage: {base: x, user: -1}\n",
		"name: iris\nimage: {base: x}\nendpoints: {a: 'https://x', a_b: 'http://y'}\n",
		NULL,
	};
	size_t i;

	(void)state;
	for (i = 0; inputs[i]; i++)
		check_any(inputs[i], strlen(inputs[i]));
	check_any("name: iris\0\nimage: {base: x}\n", 28);
}

/* Deterministic mutations of the full file: flipped, deleted, inserted and
 * duplicated bytes, truncations. */
static void test_mutations(void **state)
{
	static const char alphabet[] = "{}[]:,-?!&*|>'\"#%@` \t\n\\$~.0a\x80\xff";
	size_t len = strlen(full_yaml), n, i, k, at;
	uint32_t seed = 12345;
	char *buf = ml_malloc(len * 2 + 16);

	(void)state;
	setenv("MLT_FUZZ", "x", 1);
	for (i = 0; i < 1500; i++) {
		memcpy(buf, full_yaml, len);
		n = len;
		for (k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			at = (seed >> 8) % n;
			switch ((seed >> 4) % 5) {
			case 0:
				buf[at] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
				break;
			case 1:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			case 2:
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
				n++;
				break;
			case 3:
				n = at + 1;
				break;
			default:
				if (n + 8 < len * 2) {
					memmove(buf + at + 8, buf + at, n - at);
					n += 8;
				}
				break;
			}
		}
		check_any(buf, n);
	}
	unsetenv("MLT_FUZZ");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_context_dir),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_python),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_image_values),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_cmd),
		cmocka_unit_test(test_gcp),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_no_hooks),
		cmocka_unit_test(test_section_getters),
		cmocka_unit_test(test_provider_keys_elsewhere),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_expansion),
		cmocka_unit_test(test_expansion_limits),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_mutations),
	};

	ml_config_set_provider_hooks(&ml_providers_config_hooks);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
