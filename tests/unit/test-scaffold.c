/* Unit tests for lib/scaffold.c: the embedded templates, placeholders, model
 * formats, names, and never replacing a file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scaffold.h"
#include "testutil.h"
#include "util/alloc.h"

static const struct ml_scaffold_file *find(const struct ml_scaffold *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->files[i].path, path))
			return &s->files[i];
	return NULL;
}

static void test_every_template_is_embedded(void **state)
{
	static const char *const providers[] = { "local", "gcp", "aws", "azure" };
	static const char *const cis[] = { "github", "gitlab" };
	const struct ml_template *t;
	size_t i, n, p, c, k;

	(void)state;
	t = ml_templates(&n);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		for (p = 0; p < 4; p++) {
			for (c = 0; c < 2; c++) {
				struct ml_scaffold_opts o = { .tmpl = &t[i], .name = "svc",
							      .provider = providers[p], .ci = cis[c] };
				struct ml_scaffold s;
				struct ml_error err = { 0 };
				const struct ml_scaffold_file *f;

				assert_int_equal(ml_scaffold_make(&s, &o, &err), 0);
				assert_non_null(find(&s, "deploy.yaml"));
				assert_non_null(find(&s, "Makefile"));
				assert_non_null(find(&s, "requirements.txt"));
				assert_non_null(find(&s, "app/app.py"));
				assert_non_null(find(&s, ".mldeployignore"));
				assert_non_null(find(&s, c ? ".gitlab-ci.yml" : ".github/workflows/deploy.yml"));
				assert_true(!t[i].bundled_model || find(&s, t[i].model));
				for (k = 0; k < s.n; k++) {
					f = &s.files[k];
					if (memchr(f->data, '\0', f->len))
						continue;
					/* every placeholder filled in */
					assert_lacks(f->data, "@NAME@");
					assert_lacks(f->data, "@MODEL@");
					assert_lacks(f->data, "@DEPLOY@");
					assert_lacks(f->data, "@REPOSITORY@");
					assert_lacks(f->data, "@PROVIDER@");
					assert_lacks(f->data, "@PREDICT@");
				}
				f = find(&s, "deploy.yaml");
				assert_has(f->data, "name: svc\n");
				assert_has(f->data, providers[p]);
				ml_scaffold_dispose(&s);
			}
		}
	}
}

static void test_provider_sections(void **state)
{
	struct ml_scaffold_opts o = { .tmpl = ml_template_find("fastapi"), .name = "iris",
				      .provider = "gcp", .ci = "github" };
	struct ml_scaffold s;
	struct ml_error err = { 0 };
	const struct ml_scaffold_file *f;

	(void)state;
	assert_int_equal(ml_scaffold_make(&s, &o, &err), 0);
	f = find(&s, "deploy.yaml");
	assert_has(f->data, "  repository: ${GOOGLE_CLOUD_REGION:-us-central1}-docker.pkg.dev/"
		   "${GOOGLE_CLOUD_PROJECT}/${GAR_REPOSITORY:-ml}/iris\n  base: python:3.11-slim\n");
	assert_has(f->data, "deploy:\n");
	assert_has(f->data, "  gcp:\n    project: ${GOOGLE_CLOUD_PROJECT}\n");
	assert_has(find(&s, ".github/workflows/deploy.yml")->data, "google-github-actions/auth@");
	assert_has(find(&s, "Makefile")->data, "PROVIDER ?= gcp\n");
	ml_scaffold_dispose(&s);

	o.provider = "aws";
	o.ci = "gitlab";
	assert_int_equal(ml_scaffold_make(&s, &o, &err), 0);
	assert_has(find(&s, "deploy.yaml")->data, "    application: iris\n");
	assert_has(find(&s, ".gitlab-ci.yml")->data, "id_tokens:");
	ml_scaffold_dispose(&s);

	o.provider = "heroku";
	assert_int_equal(ml_scaffold_make(&s, &o, &err), -ML_EUSAGE);
	assert_has(err.msg, "unknown provider 'heroku'");
	o.provider = "azure";
	o.ci = "jenkins";
	assert_int_equal(ml_scaffold_make(&s, &o, &err), -ML_EUSAGE);
	assert_has(err.msg, "unknown CI system 'jenkins' (known: github, gitlab)");
}

static void test_names(void **state)
{
	static const char *const cases[][2] = {
		{ "my-project", "my-project" }, { "/tmp/Iris_Classifier v2", "iris-classifier-v2" },
		{ "a/b/c/", "c" }, { "123", "model-api" }, { "__", "model-api" },
		{ "x--y..", "x-y" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = ml_scaffold_name(cases[i][0]);

		assert_string_equal(n, cases[i][1]);
		free(n);
	}
}

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void test_model_formats(void **state)
{
	const struct ml_template *sk = ml_template_find("sklearn-flask"), *pt = ml_template_find("pytorch");
	struct ut_tmpdir t;
	struct ml_error err = { 0 };
	char p[PATH_MAX + 64];

	(void)state;
	assert_int_equal(ut_tmpdir_make(&t, "scaffold"), 0);
	snprintf(p, sizeof(p), "%s/m.pkl", t.root);
	write_bytes(p, "\x80\x04\x95", 3);
	assert_int_equal(ml_model_check(sk, p, &err), 0);
	snprintf(p, sizeof(p), "%s/m.joblib", t.root);
	write_bytes(p, "\x78\x9c\x01", 3);
	assert_int_equal(ml_model_check(sk, p, &err), 0);
	snprintf(p, sizeof(p), "%s/text.pkl", t.root);
	write_bytes(p, "hello", 5);
	assert_int_equal(ml_model_check(sk, p, &err), -ML_EUSAGE);
	assert_has(err.msg, "not a pickle or joblib file");
	snprintf(p, sizeof(p), "%s/m.onnx", t.root);
	write_bytes(p, "\x08\x07", 2);
	assert_int_equal(ml_model_check(sk, p, &err), -ML_EUSAGE);
	assert_has(err.msg, "(.pkl, .pickle or .joblib)");
	snprintf(p, sizeof(p), "%s/absent.pkl", t.root);
	assert_int_equal(ml_model_check(sk, p, &err), -ML_ENOTFOUND);

	/* TorchScript: a zip with data.pkl and code/; torch.save() has no code */
	assert_int_equal(ut_sh("cd %s && mkdir -p ts/code sd && echo x > ts/data.pkl && "
			       "echo x > ts/code/m.py && echo x > sd/data.pkl && "
			       "/usr/bin/python3 -c 'import shutil; shutil.make_archive(\"ts\", \"zip\", \".\", \"ts\"); "
			       "shutil.make_archive(\"sd\", \"zip\", \".\", \"sd\")' && mv ts.zip ts.pt && "
			       "mv sd.zip sd.pt", t.root), 0);
	snprintf(p, sizeof(p), "%s/ts.pt", t.root);
	assert_int_equal(ml_model_check(pt, p, &err), 0);
	assert_int_equal(ml_model_check(sk, p, &err), -ML_EUSAGE);
	assert_has(err.msg, "use --template pytorch");
	snprintf(p, sizeof(p), "%s/sd.pt", t.root);
	assert_int_equal(ml_model_check(pt, p, &err), -ML_EUSAGE);
	assert_has(err.msg, "torch.save() archive");
	snprintf(p, sizeof(p), "%s/m.pkl", t.root);
	assert_int_equal(ml_model_check(pt, p, &err), -ML_EUSAGE);
	assert_has(err.msg, "TorchScript");
	ut_tmpdir_remove(&t);
}

static void test_never_replaces(void **state)
{
	struct ml_scaffold_opts o = { .tmpl = ml_template_find("sklearn-flask"), .name = "svc",
				      .provider = "local", .ci = "github" };
	struct ml_scaffold s;
	struct ml_error err = { 0 };
	struct ut_tmpdir t;
	char p[PATH_MAX + 64], **existing;
	struct stat st;

	(void)state;
	assert_int_equal(ut_tmpdir_make(&t, "scaffold"), 0);
	assert_int_equal(ml_scaffold_make(&s, &o, &err), 0);
	snprintf(p, sizeof(p), "%s/proj", t.root);
	assert_int_equal(ml_scaffold_write(&s, p, 0, &err), 0);
	snprintf(p, sizeof(p), "%s/proj/app/app.py", t.root);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/proj", t.root);
	existing = ml_scaffold_existing(&s, p);
	assert_non_null(existing[0]);
	ml_strlist_free(existing);
	assert_int_equal(ml_scaffold_write(&s, p, 0, &err), -ML_EREFUSED);
	assert_has(err.msg, "'.mldeployignore', 'Makefile'");
	assert_has(err.msg, "--force");
	assert_int_equal(ml_scaffold_write(&s, p, 1, &err), 0);
	ml_scaffold_dispose(&s);
	ut_tmpdir_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_template_is_embedded),
		cmocka_unit_test(test_provider_sections),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_model_formats),
		cmocka_unit_test(test_never_replaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
