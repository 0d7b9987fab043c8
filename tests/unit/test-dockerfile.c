/* Unit tests for lib/image/dockerfile.c: instructions, quoting, Docker's
 * ENTRYPOINT/CMD rules, local bases, pip settings, layers as build groups them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/dockerfile.h"
#include "testutil.h"
#include "util/alloc.h"

static struct ml_config *load(const char *yaml)
{
	char path[] = "/tmp/test-dockerfile-XXXXXX";
	struct ml_config *cfg = NULL;
	struct ml_error err = { 0 };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	if (ml_config_load(&cfg, path, NULL, &err) != 0)
		fail_msg("config: %s", err.msg);
	unlink(path);
	return cfg;
}

/* The Dockerfile of yaml without its comment lines. */
static char *render(const char *yaml, const char *base_ref, int want_rc, struct ml_error *err)
{
	struct ml_config *cfg = load(yaml);
	struct ml_buf out = ML_BUF_INIT, kept = ML_BUF_INIT;
	const char *p, *nl;

	assert_int_equal(ml_dockerfile_render(cfg, base_ref, &out, err), want_rc);
	for (p = ml_buf_str(&out); *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		if (*p != '#' && nl != p)
			ml_buf_add(&kept, p, (size_t)(nl - p + 1));
	}
	ml_buf_dispose(&out);
	ml_config_free(cfg);
	return ml_buf_detach(&kept);
}

static void test_full(void **state)
{
	struct ml_error err = { 0 };
	char *d;

	(void)state;
	d = render("name: svc\n"
		   "image:\n"
		   "  base: python:3.11-slim\n"
		   "  python: { requirements: req/requirements.txt, find_links: [wheels],\n"
		   "            index: https://pypi.example/simple, extra_index: [https://x/simple] }\n"
		   "  workdir: /app\n"
		   "  copy:\n"
		   "    - { src: model.pkl, dst: /app/model.pkl, layer: model }\n"
		   "    - { src: app/, dst: /app/ }\n"
		   "    - { src: vocab.txt, dst: /app/vocab.txt, layer: model }\n"
		   "  env: { A: 'say \"$HOME\" \\ ok', B: '1' }\n"
		   "  labels: { org.example.team: ml }\n"
		   "  port: 8080\n"
		   "  user: '65534'\n"
		   "  cmd: [gunicorn, 'app:app']\n",
		   "docker.io/library/python@sha256:0123", 0, &err);
	assert_string_equal(d,
		"FROM docker.io/library/python@sha256:0123\n"
		"ARG PIP_INDEX_URL=https://pypi.example/simple\n"
		"ARG PIP_EXTRA_INDEX_URL=\"https://x/simple\"\n"
		"ARG PIP_BREAK_SYSTEM_PACKAGES=1\n"
		"ARG PIP_ROOT_USER_ACTION=ignore\n"
		"RUN --mount=type=bind,target=/mnt/mldeploy-context \\\n"
		"    python3 -m pip install --no-cache-dir --no-deps --disable-pip-version-check \\\n"
		"        --find-links /mnt/mldeploy-context/wheels \\\n"
		"        -r /mnt/mldeploy-context/req/requirements.txt\n"
		/* the layer "model" first, with both of its entries, as build groups them */
		"COPY [\"model.pkl\",\"/app/model.pkl\"]\n"
		"COPY [\"vocab.txt\",\"/app/vocab.txt\"]\n"
		"COPY [\"app/\",\"/app/\"]\n"
		"ENV A=\"say \\\"\\$HOME\\\" \\\\ ok\"\n"
		"ENV B=\"1\"\n"
		"WORKDIR /app\n"
		"USER 65534\n"
		"EXPOSE 8080\n"
		"LABEL \"org.example.team\"=\"ml\"\n"
		"CMD [\"gunicorn\",\"app:app\"]\n");
	free(d);
}

static void test_entrypoint_rules(void **state)
{
	struct ml_error err = { 0 };
	char *d;

	(void)state;
	/* entrypoint alone: the base's CMD is cleared by ENTRYPOINT itself */
	d = render("name: s\nimage:\n  base: scratch\n  entrypoint: [/bin/app]\n", NULL, 0, &err);
	assert_string_equal(d, "FROM scratch\nENTRYPOINT [\"/bin/app\"]\n");
	free(d);
	d = render("name: s\nimage:\n  base: scratch\n  entrypoint: [/bin/app]\n  cmd: [--x]\n", NULL,
		   0, &err);
	assert_string_equal(d, "FROM scratch\nENTRYPOINT [\"/bin/app\"]\nCMD [\"--x\"]\n");
	free(d);
	d = render("name: s\nimage:\n  base: scratch\n  cmd: []\n", NULL, 0, &err);
	assert_string_equal(d, "FROM scratch\nCMD []\n");
	free(d);
}

static void test_local_bases_and_secrets(void **state)
{
	struct ml_error err = { 0 };
	char *d;

	(void)state;
	d = render("name: s\nimage:\n  base: oci-layout:base:v1\n", NULL, 0, &err);
	assert_string_equal(d, "FROM oci:base:v1\n");
	free(d);
	d = render("name: s\nimage:\n  base: docker-archive:b.tar\n", NULL, 0, &err);
	assert_string_equal(d, "FROM docker-archive:b.tar\n");
	free(d);
	/* an index with a login is never written out */
	d = render("name: s\nimage:\n  base: scratch\n  python: { requirements: r.txt, "
		   "index: 'https://u:s3cret@pypi.example/simple' }\n", NULL, 0, &err);
	assert_lacks(d, "s3cret");
	assert_has(d, "ARG PIP_INDEX_URL\t# the index needs a login");
	free(d);
	d = render("name: s\nimage:\n  base: scratch\n  env: { A: \"x\\ny\" }\n", NULL, -ML_ECONFIG,
		   &err);
	assert_has(err.msg, "image.env 'A' holds a line break");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_entrypoint_rules),
		cmocka_unit_test(test_local_bases_and_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
