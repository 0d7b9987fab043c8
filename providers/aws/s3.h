/* Amazon S3: what Elastic Beanstalk's source bundles need. Virtual-hosted style
 * (BUCKET.s3.REGION.amazonaws.com), path-style with an endpoint override. */
#ifndef ML_AWS_S3_H
#define ML_AWS_S3_H

#include <stdint.h>

#include "aws/aws.h"

/* 1 when BUCKET/KEY exists (HEAD), 0 when not, negative on error. */
int ml_s3_exists(struct ml_aws *a, const char *bucket, const char *key, struct ml_error *err);

/* PUT the file at path as BUCKET/KEY, streamed from disk (never whole in memory),
 * signed with the file's SHA-256 as x-amz-content-sha256; content_type may be NULL. */
int ml_s3_put_file(struct ml_aws *a, const char *bucket, const char *key, const char *path,
		   const char *content_type, struct ml_error *err);

/* GET BUCKET/KEY into out (small objects only: a source bundle for rollback). */
int ml_s3_get(struct ml_aws *a, const char *bucket, const char *key, struct ml_buf *out,
	      struct ml_error *err);

#endif
