/* Amazon S3 (see s3.h): HEAD, GET and a PUT streamed from a file, after the S3 API
 * reference's addressing rules (virtual-hosted style; path-style for an endpoint
 * override and for bucket names with dots, which a wildcard certificate cannot
 * cover). */
#include "aws/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/awsauth.h"
#include "deploy/sigv4.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "wrap/digest.h"

#define GET_MAX (16u << 20)	/* of an object read into memory */

static const struct ml_aws_service s3_service = {
	.id = "S3",
	.signing_name = "s3",
	.display = "S3",
	.host_prefix = "s3",
	.s3 = 1,
};

/* The signer of one S3 client: the payload hash of the request it signs next
 * (the file's SHA-256 for a streamed PUT), which the shared AWS signer cannot know. */
struct s3_signer {
	struct ml_awsauth *auth;
	const char *region;
	const char *payload_hash;	/* NULL: from the body in memory (none: empty) */
};

static int s3_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		   struct ml_error *err)
{
	struct s3_signer *s = ud;
	struct ml_aws_credentials c = { 0 };
	struct ml_sigv4_params p = { .region = s->region, .service = s3_service.signing_name,
				     .payload_hash = s->payload_hash, .s3 = 1 };
	int rc;

	rc = ml_awsauth_credentials(s->auth, &c, err);
	if (rc == 0)
		rc = ml_sigv4_sign(&p, &c, req, headers, nheaders, err);
	ml_aws_credentials_dispose(&c);
	return rc;
}

/* An S3 client and the object's URL. */
struct s3_call {
	struct ml_aws *aws;		/* counts the call in the run's api_calls */
	struct s3_signer signer;
	struct ml_rest *rest;
	char *url;
};

static void append_key(struct ml_buf *b, const char *key)
{
	const char *p = key, *slash;
	char *seg;

	for (;;) {
		slash = strchr(p, '/');
		seg = ml_strndup(p, slash ? (size_t)(slash - p) : strlen(p));
		ml_http_urlencode(b, seg);
		free(seg);
		if (!slash)
			break;
		ml_buf_addch(b, '/');
		p = slash + 1;
	}
}

/* https://BUCKET.s3.REGION.amazonaws.com/KEY, or ENDPOINT/BUCKET/KEY. */
static char *object_url(const char *endpoint, int path_style, const char *bucket, const char *key)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *host = strstr(endpoint, "://");
	size_t n = strlen(endpoint);

	while (n && endpoint[n - 1] == '/')
		n--;
	if (path_style || !host)
		ml_buf_printf(&b, "%.*s/%s/", (int)n, endpoint, bucket);
	else
		ml_buf_printf(&b, "%.*s%s.%.*s/", (int)(host + 3 - endpoint), endpoint, bucket,
			      (int)(n - (size_t)(host + 3 - endpoint)), host + 3);
	append_key(&b, key);
	return ml_buf_detach(&b);
}

static int valid_bucket(const char *bucket)
{
	size_t n = strlen(bucket);

	return n >= 3 && n <= 63 &&
	       strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static int call_init(struct s3_call *c, struct ml_aws *a, const char *bucket, const char *key,
		     struct ml_error *err)
{
	struct ml_rest_opts o = { 0 };
	char *endpoint = NULL;
	int overridden = 0, rc;

	memset(c, 0, sizeof(*c));
	if (!valid_bucket(bucket) || !*key)
		return ml_error_set(err, ML_EINTERNAL, "S3: invalid object 's3://%s/%s'", bucket,
				    key);
	rc = ml_aws_endpoint(a->auth, &s3_service, a->region, &endpoint, &overridden, err);
	if (rc < 0)
		return rc;
	c->aws = a;
	c->url = object_url(endpoint, overridden || strchr(bucket, '.'), bucket, key);
	c->signer.auth = a->auth;
	c->signer.region = a->region;
	o.service = "S3";
	o.base_url = c->url;
	o.decode = ml_rest_decode_aws_query;
	o.sign = s3_sign;
	o.ud = &c->signer;
	rc = ml_rest_new(&c->rest, &o, err);
	if (rc == 0 && a->ctx && a->ctx->interrupted)
		ml_rest_set_interrupt(c->rest, a->ctx->interrupted);
	free(endpoint);
	return rc;
}

static void call_dispose(struct s3_call *c)
{
	if (c->aws)
		ml_aws_rest_done(c->aws, c->rest);
	else
		ml_rest_free(c->rest);
	free(c->url);
}

int ml_s3_exists(struct ml_aws *a, const char *bucket, const char *key, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct s3_call c;
	int rc = call_init(&c, a, bucket, key, err);

	if (rc == 0)
		rc = ml_rest_call_raw(c.rest, "HEAD", c.url, NULL, NULL, 0,
				      ML_REST_RAW | ML_REST_ALLOW_404, &res, err);
	if (rc == 0)
		rc = res.status != 404;
	else if (rc < 0)
		ml_error_prefix(err, "s3://%s/%s", bucket, key);
	ml_rest_result_dispose(&res);
	call_dispose(&c);
	return rc;
}

int ml_s3_get(struct ml_aws *a, const char *bucket, const char *key, struct ml_buf *out,
	      struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct s3_call c;
	int rc = call_init(&c, a, bucket, key, err);

	if (rc == 0)
		rc = ml_rest_call_raw(c.rest, "GET", c.url, NULL, NULL, 0, ML_REST_RAW, &res, err);
	if (rc == 0 && res.resp.body.len > GET_MAX)
		rc = ml_error_set(err, ML_ETOOBIG, "S3: s3://%s/%s is over %u MiB", bucket, key,
				  GET_MAX >> 20);
	if (rc == 0) {
		ml_buf_reset(out);
		if (ml_buf_add(out, res.resp.body.data, res.resp.body.len) < 0)
			rc = ml_error_set(err, ML_ETOOBIG, "S3: s3://%s/%s does not fit (%zu bytes)",
					  bucket, key, res.resp.body.len);
	}
	ml_rest_result_dispose(&res);
	call_dispose(&c);
	return rc;
}

/* The PUT's body: the open file, from its start. */
static long file_read(void *ud, char *buf, size_t size)
{
	ssize_t n;

	do
		n = read(*(int *)ud, buf, size);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -ML_EIO : (long)n;
}

static int file_rewind(void *ud)
{
	return lseek(*(int *)ud, 0, SEEK_SET) < 0 ? -ML_EIO : 0;
}

int ml_s3_put_file(struct ml_aws *a, const char *bucket, const char *key, const char *path,
		   const char *content_type, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_http_body body = { 0 };
	struct s3_call c;
	char digest[ML_DIGEST_LEN];
	uint64_t size = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot open '%s'", path);
	/* a first pass for the signature: S3 checks the body against it */
	rc = ml_sha256_fd(fd, digest, &size, err);
	if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	rc = call_init(&c, a, bucket, key, err);
	if (rc == 0) {
		c.signer.payload_hash = ml_digest_hex(digest);
		body.read = file_read;
		body.rewind = file_rewind;
		body.ud = &fd;
		body.size = (int64_t)size;
		ml_log(ML_LOG_INFO, "uploading %s (%llu bytes) to s3://%s/%s", path,
		       (unsigned long long)size, bucket, key);
		rc = ml_rest_call_stream(c.rest, "PUT", c.url,
					 content_type ? content_type : "application/octet-stream",
					 &body, NULL, ML_REST_RAW, &res, err);
		if (rc < 0)
			ml_error_prefix(err, "upload of '%s' to s3://%s/%s", path, bucket, key);
	}
	ml_rest_result_dispose(&res);
	call_dispose(&c);
	close(fd);
	return rc;
}
