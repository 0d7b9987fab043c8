/* IAM (see iam.h), through its Query API 2010-05-08: the instance profile that
 * Elastic Beanstalk's instances run with, made as the eb CLI makes its default. */
#include "aws/iam.h"

#include <stdlib.h>
#include <string.h>

#include "aws/awsauth.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "wrap/xml.h"

#define VERSION "2010-05-08"
#define FORM "application/x-www-form-urlencoded; charset=utf-8"
#define TRUST_POLICY "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\"," \
	"\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"

static const char *const managed_policies[] = {
	"arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",
	"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
};

static int decode_iam(const struct ml_http_response *resp, char *out, size_t cap, char *code_out)
{
	return ml_rest_decode_aws_query(resp, out, cap, code_out);
}

static const struct ml_aws_service iam_service = {
	.id = "IAM",
	.signing_name = "iam",
	.display = "IAM",
	.host_prefix = "iam",
	.global = 1,
	.decode = decode_iam,
};

/* One Query request: Action, Version and name=value pairs. */
struct query {
	const char *action;
	struct ml_buf form;
};

static void q_init(struct query *q, const char *action)
{
	q->action = action;
	ml_buf_init(&q->form, 0);
	ml_buf_printf(&q->form, "Action=%s&Version=" VERSION, action);
}

static void q_add(struct query *q, const char *name, const char *value)
{
	ml_buf_printf(&q->form, "&%s=", name);
	ml_http_urlencode(&q->form, value);
}

/* Sends q (and disposes of it); res->code holds IAM's error code on failure. A
 * refusal by policy names the IAM action. */
static int q_send(struct ml_rest *r, struct query *q, unsigned flags, struct ml_rest_result *res,
		  struct ml_error *err)
{
	int rc = ml_rest_call_raw(r, "POST", "/", FORM, q->form.data, q->form.len,
				  flags | ML_REST_RAW, res, err);

	if (rc < 0 && strstr(res->code, "AccessDenied"))
		rc = ml_error_prefix(err, "the AWS credentials may not call iam:%s (an administrator "
				     "can create the instance profile once, or allow it)", q->action);
	ml_buf_dispose(&q->form);
	return rc;
}

static int client(struct ml_aws *a, struct ml_rest **r, struct ml_error *err)
{
	int rc = ml_aws_client(a->auth, &iam_service, a->region, r, err);

	if (rc == 0 && a->ctx && a->ctx->interrupted)
		ml_rest_set_interrupt(*r, a->ctx->interrupted);
	return rc;
}

/* GetInstanceProfile: 1 with the name of its role in *role (may be NULL: none),
 * 0 when there is no such profile. */
static int get_profile(struct ml_rest *r, const char *name, char **role, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_xml *doc = NULL;
	struct query q;
	const char *found;
	int rc;

	q_init(&q, "GetInstanceProfile");
	q_add(&q, "InstanceProfileName", name);
	rc = q_send(r, &q, ML_REST_READ, &res, err);
	if (rc < 0 && !strcmp(res.code, "NoSuchEntity")) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = ml_xml_parse(&doc, res.resp.body.data, res.resp.body.len, 0, err);
	if (rc < 0) {
		ml_error_prefix(err, "IAM: GetInstanceProfile");
		goto out;
	}
	found = ml_xml_text(ml_xml_find(doc, "GetInstanceProfileResponse/GetInstanceProfileResult/"
					"InstanceProfile/Roles/member/RoleName"));
	if (role)
		*role = found && *found ? ml_strdup(found) : NULL;
	rc = 1;
out:
	ml_xml_free(doc);
	ml_rest_result_dispose(&res);
	return rc;
}

int ml_iam_profile_exists(struct ml_aws *a, const char *name, struct ml_error *err)
{
	struct ml_rest *r = NULL;
	int rc = client(a, &r, err);

	if (rc == 0)
		rc = get_profile(r, name, NULL, err);
	ml_aws_rest_done(a, r);
	return rc;
}

/* A create call whose "already there" answer (code ok_code) is fine. */
static int create_step(struct ml_rest *r, struct query *q, const char *ok_code,
		       struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	int rc = q_send(r, q, 0, &res, err);

	if (rc < 0 && ok_code && !strcmp(res.code, ok_code))
		rc = 0;
	ml_rest_result_dispose(&res);
	return rc;
}

static int create_role(struct ml_rest *r, const char *name, struct ml_error *err)
{
	struct query q;

	q_init(&q, "CreateRole");
	q_add(&q, "RoleName", name);
	q_add(&q, "AssumeRolePolicyDocument", TRUST_POLICY);
	q_add(&q, "Tags.member.1.Key", "managed-by");
	q_add(&q, "Tags.member.1.Value", "mldeploy");
	return create_step(r, &q, "EntityAlreadyExists", err);
}

static int attach_policies(struct ml_rest *r, const char *name, struct ml_error *err)
{
	struct query q;
	size_t i;
	int rc = 0;

	/* attaching a policy the role has already changes nothing */
	for (i = 0; i < sizeof(managed_policies) / sizeof(managed_policies[0]) && rc == 0; i++) {
		q_init(&q, "AttachRolePolicy");
		q_add(&q, "RoleName", name);
		q_add(&q, "PolicyArn", managed_policies[i]);
		rc = create_step(r, &q, NULL, err);
	}
	return rc;
}

/* The profile holds at most one role: LimitExceeded is fine when it is ours. */
static int add_role(struct ml_rest *r, const char *name, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct query q;
	char *role = NULL;
	int rc;

	q_init(&q, "AddRoleToInstanceProfile");
	q_add(&q, "InstanceProfileName", name);
	q_add(&q, "RoleName", name);
	rc = q_send(r, &q, 0, &res, err);
	if (rc < 0 && !strcmp(res.code, "LimitExceeded")) {
		rc = get_profile(r, name, &role, err);
		if (rc >= 0 && (!role || strcmp(role, name)))
			rc = ml_error_set(err, ML_ECONFLICT, "IAM: instance profile '%s' holds role "
					  "'%s', not '%s': give another deploy.aws.instance_profile "
					  "or fix the profile", name, role ? role : "?", name);
		else if (rc > 0)
			rc = 0;
	}
	free(role);
	ml_rest_result_dispose(&res);
	return rc;
}

int ml_iam_create_profile(struct ml_aws *a, const char *name, struct ml_error *err)
{
	struct ml_rest *r = NULL;
	struct query q;
	int rc = client(a, &r, err);

	if (rc == 0)
		rc = create_role(r, name, err);
	if (rc == 0)
		rc = attach_policies(r, name, err);
	if (rc == 0) {
		q_init(&q, "CreateInstanceProfile");
		q_add(&q, "InstanceProfileName", name);
		q_add(&q, "Tags.member.1.Key", "managed-by");
		q_add(&q, "Tags.member.1.Value", "mldeploy");
		rc = create_step(r, &q, "EntityAlreadyExists", err);
	}
	if (rc == 0)
		rc = add_role(r, name, err);
	if (rc == 0)
		ml_log(ML_LOG_INFO, "instance profile %s: role %s with AWSElasticBeanstalkWebTier and "
		       "AmazonEC2ContainerRegistryReadOnly", name, name);
	ml_aws_rest_done(a, r);
	return rc;
}
