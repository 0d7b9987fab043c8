/* providers/aws/s3.c and iam.c against moto's server (tests/fakes/motoserver.py),
 * which checks every SigV4 signature and IAM policy: the object S3 keeps has the
 * file's bytes, the instance profile is made as the eb CLI makes it and a rerun
 * completes what is missing, a wrong secret is a clear refusal. boto3 checks what
 * moto holds (through python3, as the e2e rig does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "aws/aws.h"
#include "aws/awsauth.h"
#include "aws/iam.h"
#include "aws/s3.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/digest.h"
#include "wrap/http.h"

#define BUCKET "elasticbeanstalk-us-east-1-123456789012"

static struct ut_tmpdir tmp;
static pid_t moto_pid = -1;
static char secret[128];

/* python3 from PATH: the one with moto (ut_fake_run runs Debian's). */
static int moto_start(void **state)
{
	const char *src = getenv("MLDEPLOY_SRCDIR");
	char script[PATH_MAX], keys[PATH_MAX + 8], line[256], id[128], *url;
	int fds[2], port = 0;
	FILE *f;

	(void)state;
	if (ut_tmpdir_make(&tmp, "mldeploy-test-s3iam") < 0 || pipe(fds) < 0)
		return -1;
	snprintf(script, sizeof(script), "%s/tests/fakes/motoserver.py", src && *src ? src : ".");
	snprintf(keys, sizeof(keys), "%s/keys", tmp.root);
	moto_pid = fork();
	if (moto_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--keys", keys, "--bucket", BUCKET, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%d", &port) != 1 || port <= 0)
		return -1;
	fclose(f);
	f = fopen(keys, "r");
	if (!f || fscanf(f, "%127s %127s", id, secret) != 2)
		return -1;
	fclose(f);
	url = ml_asprintf("http://127.0.0.1:%d", port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	setenv("AWS_ACCESS_KEY_ID", id, 1);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("MLDEPLOY_CONNECT_TO");
	setenv("MLDEPLOY_RETRY_BASE_MS", "10", 1);
	free(url);
	return ml_http_global_init(NULL) == 0 ? 0 : -1;
}

static int moto_stop(void **state)
{
	(void)state;
	ml_http_global_cleanup();
	if (moto_pid > 0) {
		kill(moto_pid, SIGTERM);
		waitpid(moto_pid, NULL, 0);
	}
	ut_tmpdir_remove(&tmp);
	return 0;
}

struct run {
	struct ml_aws a;
	struct ml_aws_conf conf;
};

static void run_init(struct run *r)
{
	struct ml_error err = { 0, "" };

	memset(r, 0, sizeof(*r));
	r->conf.create_repository = 1;
	r->a.conf = &r->conf;
	if (ml_awsauth_new(&r->a.auth, "us-east-1", &err) < 0)
		fail_msg("ml_awsauth_new: %s", err.msg);
	r->a.region = ml_awsauth_region(r->a.auth);
	assert_string_equal(r->a.region, "us-east-1");
}

static void run_dispose(struct run *r)
{
	ml_awsauth_free(r->a.auth);
}

/* 0 when python3 (boto3, as the test's keys) finds cond true of what moto holds. */
static int moto_check(const char *code)
{
	return ut_sh("python3 -c 'import boto3, hashlib, json, os, sys\n"
		     "s3 = boto3.client(\"s3\", region_name=\"us-east-1\", endpoint_url=os.environ[\"AWS_ENDPOINT_URL\"])\n"
		     "iam = boto3.client(\"iam\", region_name=\"us-east-1\", endpoint_url=os.environ[\"AWS_ENDPOINT_URL\"])\n"
		     "%s' >/dev/null", code);
}

static char *write_file(const char *name, size_t size, char digest[ML_DIGEST_LEN])
{
	char *path = ml_asprintf("%s/%s", tmp.root, name), *data = ml_malloc(size);
	size_t i;
	FILE *f;

	for (i = 0; i < size; i++)
		data[i] = (char)(i * 7 + i / 4096);
	ml_sha256_digest(data, size, digest);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, size, f), size);
	fclose(f);
	free(data);
	return path;
}

static void test_s3_put_get(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_buf got = ML_BUF_INIT;
	char digest[ML_DIGEST_LEN], got_digest[ML_DIGEST_LEN], *check;
	char *path = write_file("bundle.zip", (3u << 20) + 17, digest);
	struct run r;

	(void)state;
	run_init(&r);
	assert_int_equal(ml_s3_exists(&r.a, BUCKET, "iris/bundle.zip", &err), 0);
	assert_int_equal(ml_s3_put_file(&r.a, BUCKET, "iris/bundle.zip", path, "application/zip",
					&err), 0);
	assert_int_equal(ml_s3_exists(&r.a, BUCKET, "iris/bundle.zip", &err), 1);
	ml_buf_init(&got, 64u << 20);
	assert_int_equal(ml_s3_get(&r.a, BUCKET, "iris/bundle.zip", &got, &err), 0);
	ml_sha256_digest(got.data, got.len, got_digest);
	assert_string_equal(got_digest, digest);
	/* what moto holds, read by another client */
	check = ml_asprintf("o = s3.get_object(Bucket=\"%s\", Key=\"iris/bundle.zip\")\n"
			    "sys.exit(hashlib.sha256(o[\"Body\"].read()).hexdigest() != \"%s\" or "
			    "o[\"ContentType\"] != \"application/zip\")", BUCKET, ml_digest_hex(digest));
	assert_int_equal(moto_check(check), 0);
	free(check);
	/* a key S3 wants encoded (moto, like botocore against it, gets '+', '=' and
	 * non-ASCII keys wrong, so a space it is) */
	assert_int_equal(ml_s3_put_file(&r.a, BUCKET, "iris/v 1/bundle.zip", path, NULL, &err), 0);
	assert_int_equal(ml_s3_exists(&r.a, BUCKET, "iris/v 1/bundle.zip", &err), 1);
	assert_int_equal(moto_check("s3.head_object(Bucket=\"" BUCKET "\", "
				    "Key=\"iris/v 1/bundle.zip\")"), 0);
	/* absent: GET is not found, with S3's code */
	assert_int_equal(ml_s3_get(&r.a, BUCKET, "iris/none.zip", &got, &err), -ML_ENOTFOUND);
	assert_non_null(strstr(err.msg, "NoSuchKey"));
	assert_int_equal(ml_s3_put_file(&r.a, BUCKET, "iris/x.zip", "/nonexistent/bundle.zip",
					NULL, &err), -ML_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent/bundle.zip"));
	ml_buf_dispose(&got);
	run_dispose(&r);
	free(path);
}

static void test_s3_wrong_secret(void **state)
{
	struct ml_error err = { 0, "" };
	char digest[ML_DIGEST_LEN], *wrong = ml_asprintf("x%s", secret);
	char *path = write_file("small.zip", 100, digest);
	struct run r;

	(void)state;
	setenv("AWS_SECRET_ACCESS_KEY", wrong, 1);
	run_init(&r);
	assert_int_equal(ml_s3_put_file(&r.a, BUCKET, "iris/small.zip", path, NULL, &err),
			 -ML_EAUTH);
	assert_non_null(strstr(err.msg, "SignatureDoesNotMatch"));
	assert_null(strstr(err.msg, secret));
	run_dispose(&r);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	free(wrong);
	free(path);
}

static void test_iam_profile(void **state)
{
	struct ml_error err = { 0, "" };
	struct run r;

	(void)state;
	run_init(&r);
	assert_int_equal(moto_check(
		"iam.create_instance_profile(InstanceProfileName=\"half\")\n"
		"iam.create_role(RoleName=\"theirs\", AssumeRolePolicyDocument=\"{}\")\n"
		"iam.create_instance_profile(InstanceProfileName=\"taken\")\n"
		"iam.add_role_to_instance_profile(InstanceProfileName=\"taken\", RoleName=\"theirs\")"),
		0);
	assert_int_equal(ml_iam_profile_exists(&r.a, ML_IAM_DEFAULT_PROFILE, &err), 0);
	if (ml_iam_create_profile(&r.a, ML_IAM_DEFAULT_PROFILE, &err) < 0)
		fail_msg("ml_iam_create_profile: %s", err.msg);
	assert_int_equal(ml_iam_profile_exists(&r.a, ML_IAM_DEFAULT_PROFILE, &err), 1);
	assert_int_equal(moto_check(
		"n = \"" ML_IAM_DEFAULT_PROFILE "\"\n"
		"p = iam.get_instance_profile(InstanceProfileName=n)[\"InstanceProfile\"]\n"
		"role = iam.get_role(RoleName=n)[\"Role\"]\n"
		"doc = role[\"AssumeRolePolicyDocument\"]\n"
		"doc = json.loads(doc) if isinstance(doc, str) else doc\n"
		"arns = sorted(a[\"PolicyArn\"] for a in iam.list_attached_role_policies(RoleName=n)[\"AttachedPolicies\"])\n"
		"sys.exit(not ([x[\"RoleName\"] for x in p[\"Roles\"]] == [n] and "
		"doc[\"Statement\"][0][\"Principal\"] == {\"Service\": \"ec2.amazonaws.com\"} and "
		"doc[\"Statement\"][0][\"Action\"] == \"sts:AssumeRole\" and "
		"arns == [\"arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier\", "
		"\"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly\"]))"), 0);
	/* a second run keeps what is there */
	assert_int_equal(ml_iam_create_profile(&r.a, ML_IAM_DEFAULT_PROFILE, &err), 0);
	/* a run that stopped before the role was added: the rerun completes it */
	assert_int_equal(ml_iam_create_profile(&r.a, "half", &err), 0);
	assert_int_equal(moto_check(
		"p = iam.get_instance_profile(InstanceProfileName=\"half\")[\"InstanceProfile\"]\n"
		"sys.exit([x[\"RoleName\"] for x in p[\"Roles\"]] != [\"half\"])"), 0);
	/* a profile that holds another role is not ours to change */
	assert_int_equal(ml_iam_create_profile(&r.a, "taken", &err), -ML_ECONFLICT);
	assert_non_null(strstr(err.msg, "'theirs'"));
	run_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_put_get),
		cmocka_unit_test(test_s3_wrong_secret),
		cmocka_unit_test(test_iam_profile),
	};

	return cmocka_run_group_tests(tests, moto_start, moto_stop);
}
