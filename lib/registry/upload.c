/* Pushing to a registry: blob existence, cross-repository mounts, resumable
 * uploads and manifests (OCI distribution spec, "Pushing blobs" and "Pushing
 * manifests"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "wrap/digest.h"
#include "util/log.h"
#include "registry/registry-internal.h"

#define MONOLITHIC_MAX (8 << 20)	/* smaller blobs go in one PUT */
#define UPLOAD_ATTEMPTS 8

static char *push_scope(const char *repo)
{
	return ml_asprintf("repository:%s:pull,push", repo);
}

/* A Location header as an absolute URL. */
static char *absolute_location(struct ml_registry *r, const char *loc)
{
	if (!strncmp(loc, "https://", 8) || !strncmp(loc, "http://", 7))
		return ml_strdup(loc);
	return ml_asprintf("%s%s%s", ml_registry_base_url(r), loc[0] == '/' ? "" : "/", loc);
}

int ml_registry_blob_exists(struct ml_registry *r, const char *repo, const char *digest,
			    int64_t size, struct ml_error *err)
{
	struct ml_http_response resp;
	char *scope = push_scope(repo);
	char *path = ml_asprintf("/v2/%s/blobs/%s", repo, digest);
	char *what = ml_asprintf("blob %s in %s", digest, repo);
	struct ml_reg_req q = { .method = "HEAD", .path = path, .what = what, .scope = scope,
				.flags = ML_HTTP_HEAD };
	const char *len;
	int rc;

	ml_http_response_init(&resp);
	rc = ml_reg_do(r, &q, &resp, err);
	if (rc == 0 && resp.status == 200) {
		len = ml_http_response_header(&resp, "Content-Length");
		rc = !len || strtoll(len, NULL, 10) == size;
	} else if (rc == 0 && resp.status == 404) {
		rc = 0;
	} else if (rc == 0) {
		rc = ml_reg_status_error(r, ML_EPROTO, what, &resp, err);
	}
	ml_http_response_dispose(&resp);
	free(scope);
	free(path);
	free(what);
	return rc;
}

int ml_registry_mount_blob(struct ml_registry *r, const char *repo, const char *digest,
			   const char *from, char **location, struct ml_error *err)
{
	struct ml_http_response resp;
	struct ml_buf path = ML_BUF_INIT;
	char *scope = ml_asprintf("repository:%s:pull,push repository:%s:pull", repo, from);
	char *what = ml_asprintf("mount of %s from %s into %s", digest, from, repo);
	struct ml_reg_req q = { .method = "POST", .what = what, .scope = scope, .no_retry = 1 };
	const char *loc;
	int rc;

	ml_buf_printf(&path, "/v2/%s/blobs/uploads/?mount=", repo);
	ml_http_urlencode(&path, digest);
	ml_buf_adds(&path, "&from=");
	ml_http_urlencode(&path, from);
	q.path = path.data;
	*location = NULL;
	ml_http_response_init(&resp);
	rc = ml_reg_do(r, &q, &resp, err);
	loc = ml_http_response_header(&resp, "Location");
	if (rc == 0 && resp.status == 201)
		rc = 1;
	else if (rc == 0 && resp.status == 202 && loc)
		*location = absolute_location(r, loc);
	else if (rc == 0 && resp.status >= 400 && resp.status != 401 && resp.status != 403 &&
		 resp.status != 404)
		rc = ml_reg_status_error(r, ML_EPROTO, what, &resp, err);
	ml_http_response_dispose(&resp);
	ml_buf_dispose(&path);
	free(scope);
	free(what);
	return rc;
}

/* The part of the blob still to send, read from the file as curl asks. */
struct body {
	int fd;
	int64_t start, end, pos;
	const char *digest;
	struct ml_upload_stats *stats;
	uint64_t reported;
};

static long body_read(void *ud, char *buf, size_t size)
{
	struct body *b = ud;
	size_t want = (size_t)(b->end - b->pos) < size ? (size_t)(b->end - b->pos) : size;
	ssize_t n;

	if (!want)
		return 0;
	do
		n = pread(b->fd, buf, want, b->pos);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -ML_EIO;
	b->pos += n;
	b->stats->bytes_sent += (uint64_t)n;
	if ((uint64_t)b->pos - b->reported >= (1u << 20) || b->pos == b->end) {
		ml_progress_update(b->digest, (uint64_t)b->pos);
		b->reported = (uint64_t)b->pos;
	}
	return (long)n;
}

static int body_rewind(void *ud)
{
	struct body *b = ud;

	b->pos = b->start;
	return 0;
}

struct session {
	struct ml_registry *r;
	const char *repo, *digest, *what;
	char *scope;
	char *location;		/* absolute URL of the open upload session */
	int64_t size;
	int fd;
	struct ml_upload_stats *stats;
	long last_status;
	long retry_ms;		/* the registry's Retry-After, -1 if none */
};

/* The session now lives at loc (a Location header). */
static void move_session(struct session *s, const char *loc)
{
	free(s->location);
	s->location = absolute_location(s->r, loc);
}

static int new_session(struct session *s, struct ml_error *err)
{
	struct ml_http_response resp;
	char *path = ml_asprintf("/v2/%s/blobs/uploads/", s->repo);
	struct ml_reg_req q = { .method = "POST", .path = path, .what = s->what,
				.scope = s->scope };
	const char *loc;
	int rc;

	ml_http_response_init(&resp);
	rc = ml_reg_do(s->r, &q, &resp, err);
	loc = ml_http_response_header(&resp, "Location");
	if (rc == 0 && (resp.status != 202 || !loc))
		rc = ml_reg_status_error(s->r, ML_EPROTO, s->what, &resp, err);
	if (rc == 0)
		move_session(s, loc);
	ml_http_response_dispose(&resp);
	free(path);
	return rc;
}

/* After the registry refused the content (DIGEST_INVALID): is our copy the blob
 * its name says? A corrupt local copy is not worth sending again. */
static int local_copy_intact(struct session *s, struct ml_error *err)
{
	char got[ML_DIGEST_LEN];
	int ok;

	if (lseek(s->fd, 0, SEEK_SET) < 0 || ml_sha256_fd(s->fd, got, NULL, NULL) < 0)
		return 1;
	ok = !strcmp(got, s->digest);
	if (!ok)
		ml_error_set(err, ML_EDIGEST, "%s: the local copy hashes to %s, not to its name",
			     s->what, got);
	return ok;
}

/* Sends [from, size) with method: PUT ?digest= (closing) or PATCH. */
static int send_range(struct session *s, const char *method, int64_t from, int close,
		      struct ml_error *err)
{
	struct body b = { s->fd, from, s->size, from, s->digest, s->stats, (uint64_t)from };
	struct ml_http_body hb = { 0 };
	struct ml_http_response resp;
	struct ml_reg_req q = { .method = method, .what = s->what, .scope = s->scope,
				.content_type = "Content-Type: application/octet-stream",
				.body = &hb, .no_retry = 1 };
	struct ml_buf url = ML_BUF_INIT;
	char range[96];
	const char *loc;
	int rc;

	ml_buf_adds(&url, s->location);
	if (close) {
		ml_buf_addch(&url, strchr(s->location, '?') ? '&' : '?');
		ml_buf_adds(&url, "digest=");
		ml_http_urlencode(&url, s->digest);
	}
	hb.read = body_read;
	hb.rewind = body_rewind;
	hb.ud = &b;
	hb.size = s->size - from;
	q.url = url.data;
	if (!close && from > 0 && from < s->size) {
		snprintf(range, sizeof(range), "Content-Range: %lld-%lld", (long long)from,
			 (long long)s->size - 1);
		q.content_range = range;
	}
	ml_http_response_init(&resp);
	rc = ml_reg_do(s->r, &q, &resp, err);
	s->last_status = rc == 0 ? resp.status : 0;
	s->retry_ms = rc == 0 ? ml_http_retry_delay_ms(&resp, 0) : -1;
	loc = ml_http_response_header(&resp, "Location");
	if (rc == 0 && resp.status == (close ? 201 : 202)) {
		if (loc)
			move_session(s, loc);
	} else if (rc == 0 && close && resp.status == 400 && !local_copy_intact(s, err)) {
		rc = -ML_EDIGEST;
	} else if (rc == 0 && (resp.status == 416 || (close && resp.status == 400))) {
		/* the session does not hold what its Range said, or what it holds is not
		 * the blob (DIGEST_INVALID): start a new one */
		free(s->location);
		s->location = NULL;
		rc = ml_reg_status_error(s->r, ML_ENET, s->what, &resp, err);
	} else if (rc == 0) {
		rc = ml_reg_status_error(s->r, resp.status >= 500 || resp.status == 429 ?
					 ML_ENET : ML_EPROTO, s->what, &resp, err);
	}
	ml_http_response_dispose(&resp);
	ml_buf_dispose(&url);
	return rc;
}

/* How many bytes the open session holds, from its Range header; -1 when the
 * session is gone. */
static int64_t session_offset(struct session *s, struct ml_error *err)
{
	struct ml_http_response resp;
	struct ml_reg_req q = { .method = "GET", .url = s->location, .what = s->what,
				.scope = s->scope };
	const char *range, *loc;
	int64_t got = -1;

	ml_http_response_init(&resp);
	if (ml_reg_do(s->r, &q, &resp, err) == 0 && resp.status == 204) {
		range = ml_http_response_header(&resp, "Range");
		loc = ml_http_response_header(&resp, "Location");
		got = 0;
		/* "0-0" is what registry 2.8 says for an empty session too: take it as
		 * empty; if a byte was there, the PATCH gets 416 and starts over */
		if (range && strchr(range, '-') && strcmp(range, "0-0"))
			got = strtoll(strchr(range, '-') + 1, NULL, 10) + 1;
		if (loc)
			move_session(s, loc);
	}
	ml_http_response_dispose(&resp);
	return got;
}

static int attempt_upload(struct session *s, int64_t from, struct ml_error *err)
{
	int rc;

	if (s->size <= MONOLITHIC_MAX && from == 0)
		return send_range(s, "PUT", 0, 1, err);
	if (from < s->size) {
		rc = send_range(s, "PATCH", from, 0, err);
		if (rc < 0)
			return rc;
	}
	return send_range(s, "PUT", s->size, 1, err);
}

/* After a failure: done already, resume from the registry's Range, or restart. */
static int recover(struct session *s, int64_t *from, struct ml_error *err)
{
	struct ml_error tmp = { 0, "" };
	int64_t got;

	if (ml_registry_blob_exists(s->r, s->repo, s->digest, s->size, &tmp) == 1)
		return 1;
	got = s->location ? session_offset(s, &tmp) : -1;
	if (got >= 0 && got <= s->size) {
		*from = got;
		s->stats->resumes++;
		ml_log(ML_LOG_INFO, "%s: resuming at byte %lld of %lld", s->what, (long long)got,
		       (long long)s->size);
		return 0;
	}
	*from = 0;
	s->stats->restarts++;
	ml_log(ML_LOG_INFO, "%s: upload session lost, starting again", s->what);
	return new_session(s, err);
}

int ml_registry_upload_blob(struct ml_registry *r, const char *repo, const char *digest,
			    int64_t size, int fd, const char *location,
			    struct ml_upload_stats *stats, struct ml_error *err)
{
	struct session s = { r, repo, digest, NULL, NULL, NULL, size, fd, stats, 0, -1 };
	char *what = ml_asprintf("upload of %s to %s", digest, repo);
	int64_t from = 0;
	int attempt, rc;

	s.what = what;
	s.scope = push_scope(repo);
	s.location = ml_strdup(location);
	rc = s.location ? 0 : new_session(&s, err);
	for (attempt = 0; ; attempt++) {
		long wait;

		if (rc == 0)
			rc = attempt_upload(&s, from, err);
		if (rc != -ML_ENET || attempt + 1 >= UPLOAD_ATTEMPTS)
			break;
		wait = s.retry_ms >= 0 ? s.retry_ms : ml_http_retry_delay_ms(NULL, attempt);
		ml_log(ML_LOG_INFO, "%s failed (%s); retrying in %.1f s (attempt %d/%d)", what,
		       err->msg, (double)wait / 1000, attempt + 2, UPLOAD_ATTEMPTS);
		ml_http_sleep_ms(wait);
		rc = recover(&s, &from, err);
		if (rc == 1) {
			rc = 0;
			break;
		}
	}
	if (rc < 0 && rc == -ML_ENET)
		ml_error_prefix(err, "giving up after %d attempts", attempt + 1);
	free(s.location);
	free(s.scope);
	free(what);
	return rc;
}

int ml_registry_put_manifest(struct ml_registry *r, const char *repo, const char *tag,
			     const char *media_type, const void *data, size_t len,
			     const char *digest, struct ml_error *err)
{
	struct ml_http_body body = { data, len, NULL, NULL, NULL, (int64_t)len };
	struct ml_http_response resp;
	char *scope = push_scope(repo);
	char *path = ml_asprintf("/v2/%s/manifests/%s", repo, tag);
	char *what = ml_asprintf("manifest %s:%s", repo, tag);
	char *ct = ml_asprintf("Content-Type: %s", media_type);
	struct ml_reg_req q = { .method = "PUT", .path = path, .what = what, .scope = scope,
				.content_type = ct, .body = &body };
	const char *got;
	int rc;

	ml_http_response_init(&resp);
	rc = ml_reg_do(r, &q, &resp, err);
	got = ml_http_response_header(&resp, "Docker-Content-Digest");
	if (rc == 0 && resp.status != 201 && resp.status != 200)
		rc = ml_reg_status_error(r, ML_EPROTO, what, &resp, err);
	else if (rc == 0 && got && strcmp(got, digest))
		rc = ml_error_set(err, ML_EDIGEST, "%s: the registry stored it as %s, not %s", what,
				  got, digest);
	ml_http_response_dispose(&resp);
	free(scope);
	free(path);
	free(what);
	free(ct);
	return rc;
}
