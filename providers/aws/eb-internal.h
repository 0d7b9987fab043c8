/* Elastic Beanstalk's Query API for eb.c (internal to providers/aws): the
 * requests, sent as signed form POSTs and answered in XML, and the reads a deploy
 * makes. */
#ifndef ML_AWS_EB_INTERNAL_H
#define ML_AWS_EB_INTERNAL_H

#include "aws/awsauth.h"
#include "aws/eb.h"
#include "wrap/xml.h"

#define EB_API "2010-12-01"
#define TAG_MANAGED "managed-by"
#define STACK_PREFIX "64bit Amazon Linux 2023 "
#define STACK_SUFFIX " running Docker"

/* One run's client, application and environment. */
struct ml_eb {
	struct ml_rest *api;
	char *base;		/* the endpoint, for plan steps */
	char *app, *env;	/* application and environment names */
};

/* A request's parameters, percent-encoded for the wire and as JSON for a plan
 * step (Action and Version first). */
struct ml_eb_query {
	const char *action;
	struct ml_buf form;
	ml_json *shown;
};

void ml_eb_query_init(struct ml_eb_query *q, const char *action);
void ml_eb_query_add(struct ml_eb_query *q, const char *key, const char *value);
/* The key is formatted: ml_eb_query_addf(q, v, "OptionSettings.member.%zu.Value", i). */
void ml_eb_query_addf(struct ml_eb_query *q, const char *value, const char *keyfmt, ...)
	__attribute__((format(printf, 3, 4)));
void ml_eb_query_dispose(struct ml_eb_query *q);

/* Sends q as a form POST (change 0: a read, retried like a GET) and parses the
 * answer into *doc (freed by the caller); *result, unless result is NULL, gets
 * its <ACTION>Result. A failure's message starts with the action. */
int ml_eb_call(struct ml_eb *e, struct ml_eb_query *q, int change, struct ml_xml **doc,
	       const struct ml_xml **result, struct ml_error *err);
/* ml_eb_call for an answer that is not needed. */
int ml_eb_do(struct ml_eb *e, struct ml_eb_query *q, int change, struct ml_error *err);
/* The text at path below node, or NULL. */
const char *ml_eb_text(const struct ml_xml *node, const char *path);
/* The first <member> of the list element list below parent, or NULL. */
const struct ml_xml *ml_eb_first_member(const struct ml_xml *parent, const char *list);

/* The environment (strings NULL when absent). */
struct ml_eb_env {
	int exists;
	char *status, *health, *label, *cname, *arn, *stack;
};

/* e's environment; exists 0 when there is none (or only a terminated one, unless
 * include_deleted). */
int ml_eb_describe_env(struct ml_eb *e, int include_deleted, struct ml_eb_env *v,
		       struct ml_error *err);
void ml_eb_env_dispose(struct ml_eb_env *v);
/* 1 when the resource arn carries managed-by: mldeploy, 0 when not (or no arn). */
int ml_eb_managed(struct ml_eb *e, const char *arn, struct ml_error *err);
/* 1 when e's application exists (*arn, when arn is not NULL, gets its ARN), 0 when not. */
int ml_eb_describe_app(struct ml_eb *e, char **arn, struct ml_error *err);

/* An application version. */
struct ml_eb_version {
	int exists;
	char *status, *description;
};

/* The versions of e's application labelled a and b (b and vb may be NULL). */
int ml_eb_describe_versions(struct ml_eb *e, const char *a, const char *b,
			    struct ml_eb_version *va, struct ml_eb_version *vb,
			    struct ml_error *err);
void ml_eb_version_dispose(struct ml_eb_version *v);

/* 1 when name is a "64bit Amazon Linux 2023 vX running Docker" stack newer than
 * than (any such stack when than is NULL). */
int ml_eb_stack_newer(const char *name, const char *than);
/* The newest of those ListAvailableSolutionStacks lists (*out malloc'ed); none:
 * -ML_ENOTFOUND naming the region. */
int ml_eb_solution_stack(struct ml_aws *a, struct ml_eb *e, char **out, struct ml_error *err);

/* The value of key in a version's description "mldeploy digest=D previous=L"
 * (malloc'ed), or NULL. */
char *ml_eb_desc_field(const char *desc, const char *key);

#endif
