#include "local/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/archive-write.h"
#include "image/cache.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#define DEFAULT_HOST "unix:///var/run/docker.sock"
#define LOG_TAIL_MAX (64u << 10)

int ml_engine_open(struct ml_engine *e, const char *host, struct ml_error *err)
{
	struct ml_rest_opts o = { .service = "container engine", .decode = ml_rest_decode_docker,
				  .timeout_s = 120, .max_retries = 2 };
	char *base = NULL;
	int rc;

	memset(e, 0, sizeof(*e));
	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DEFAULT_HOST;
	e->host = ml_strdup(host);
	if (!strncmp(host, "unix://", 7) && host[7] == '/') {
		o.unix_socket = host + 7;
		base = ml_strdup("http://localhost" ML_ENGINE_API);
		e->addr = ml_strdup("127.0.0.1");
	} else if (!strncmp(host, "tcp://", 6) && host[6]) {
		const char *h = host + 6, *colon = strrchr(h, ':');

		base = ml_asprintf("http://%s" ML_ENGINE_API, h);
		e->addr = colon ? ml_strndup(h, (size_t)(colon - h)) : ml_strdup(h);
	} else {
		rc = ml_error_set(err, ML_EUSAGE, "container engine '%s' is not unix:///PATH or "
				  "tcp://HOST:PORT (set DOCKER_HOST or deploy.local.engine)", host);
		ml_engine_close(e);
		return rc;
	}
	o.base_url = base;
	rc = ml_rest_new(&e->rest, &o, err);
	free(base);
	if (rc < 0)
		ml_engine_close(e);
	return rc;
}

void ml_engine_close(struct ml_engine *e)
{
	ml_rest_free(e->rest);
	free(e->host);
	free(e->addr);
	memset(e, 0, sizeof(*e));
}

int ml_engine_calls(const struct ml_engine *e, int *mutations)
{
	return ml_rest_calls(e->rest, mutations);
}

int ml_engine_call(struct ml_engine *e, const char *method, const char *path, const ml_json *body,
		   unsigned flags, struct ml_rest_result *res, struct ml_error *err)
{
	int rc = ml_rest_call(e->rest, method, path, body, flags, res, err);

	if (rc == -ML_ENET)
		ml_error_prefix(err, "cannot reach the container engine at %s (is docker or "
				"'podman system service' running? DOCKER_HOST names another)", e->host);
	return rc;
}

/* Answers that must hold JSON of a kind: a protocol error otherwise. */
static int want(const struct ml_rest_result *res, int array, const char *what, struct ml_error *err)
{
	if (res->body && (array ? ml_json_is_array(res->body) : ml_json_is_object(res->body)))
		return 0;
	return ml_error_set(err, ML_EPROTO, "container engine: %s: unexpected answer", what);
}

/* PRE + ID (percent-encoded) + POST: "/containers/" id "/json". */
static char *object_path(const char *pre, const char *id, const char *post)
{
	struct ml_buf b;

	ml_buf_init(&b, 0);
	ml_buf_adds(&b, pre);
	ml_http_urlencode(&b, id);
	ml_buf_adds(&b, post);
	return ml_buf_detach(&b);
}

/* One call on an object's path; with res NULL the answer is dropped, with status
 * non-NULL its status kept. */
static int object_call(struct ml_engine *e, const char *method, const char *pre, const char *id,
		       const char *post, const ml_json *body, unsigned flags,
		       struct ml_rest_result *res, long *status, struct ml_error *err)
{
	struct ml_rest_result own;
	char *path = object_path(pre, id, post);
	int rc = ml_engine_call(e, method, path, body, flags, res ? res : &own, err);

	if (status)
		*status = (res ? res : &own)->status;
	if (!res)
		ml_rest_result_dispose(&own);
	free(path);
	return rc;
}

int ml_engine_list(struct ml_engine *e, const char *const *labels, size_t nlabels, ml_json **out,
		   struct ml_error *err)
{
	ml_json *filters = ml_json_object_new(), *arr = ml_json_array_new();
	struct ml_rest_result res;
	struct ml_buf q;
	size_t i;
	int rc;

	for (i = 0; i < nlabels; i++)
		ml_json_append(arr, ml_json_string_new(labels[i]));
	ml_json_set(filters, "label", arr);
	ml_buf_init(&q, 0);
	ml_json_dump(filters, &q);
	rc = object_call(e, "GET", "/containers/json?all=1&filters=", ml_buf_str(&q), "", NULL, 0,
			 &res, NULL, err);
	if (rc == 0)
		rc = want(&res, 1, "list containers", err);
	if (rc == 0)
		*out = ml_json_ref(res.body);
	ml_rest_result_dispose(&res);
	ml_buf_dispose(&q);
	ml_json_free(filters);
	return rc;
}

int ml_engine_inspect(struct ml_engine *e, const char *id, ml_json **out, struct ml_error *err)
{
	struct ml_rest_result res;
	int rc = object_call(e, "GET", "/containers/", id, "/json", NULL, 0, &res, NULL, err);

	if (rc == 0)
		rc = want(&res, 0, "inspect container", err);
	if (rc == 0)
		*out = ml_json_ref(res.body);
	ml_rest_result_dispose(&res);
	return rc;
}

int ml_engine_image_exists(struct ml_engine *e, const char *id, struct ml_error *err)
{
	long status;
	int rc = object_call(e, "GET", "/images/", id, "/json", NULL, ML_REST_ALLOW_404, NULL,
			     &status, err);

	if (rc < 0)
		return rc;
	return status != 404;
}

int ml_engine_image_remove(struct ml_engine *e, const char *id, struct ml_error *err)
{
	/* 409: another container still uses it; 404: gone already. Both leave it be. */
	return object_call(e, "DELETE", "/images/", id, "", NULL,
			   ML_REST_ALLOW_404 | ML_REST_ALLOW_409, NULL, NULL, err);
}

/* The image tarball is produced by a thread into a pipe that the request body reads:
 * nothing is written to disk and no layer is held whole in memory. */
struct loader {
	const char *manifest_digest;
	int fd;				/* the pipe's write end */
	struct ml_error err;
	int rc;
};

static int pipe_write(void *ud, const void *buf, size_t len)
{
	struct loader *l = ud;
	const char *p = buf;

	while (len) {
		ssize_t n = write(l->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ml_error_errno(&l->err, ML_EIO, errno, "streaming the image to the engine");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *produce(void *arg)
{
	struct loader *l = arg;
	struct ml_cache *cache = NULL;

	l->rc = ml_cache_open(&cache, &l->err);
	if (l->rc == 0)
		l->rc = ml_archive_write_stream(cache, l->manifest_digest, ML_FORMAT_DOCKER, pipe_write,
						l, &l->err);
	ml_cache_free(cache);
	close(l->fd);
	return NULL;
}

static long pipe_read(void *ud, char *buf, size_t size)
{
	int fd = *(int *)ud;
	ssize_t n;

	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -ML_EIO : (long)n;
}

/* The load answer is a stream of JSON messages, one a line; a failure has "error". */
static int load_failed(const struct ml_http_response *resp, struct ml_error *err)
{
	const char *p = resp->body.data, *end = p + resp->body.len;
	int rc = 0;

	while (p && p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct ml_error perr = { 0 };
		ml_json *o = ml_json_parse(p, n, &perr);
		const char *msg = ml_json_get_str(o, "error");

		if (msg)
			rc = ml_error_set(err, ML_EPROTO, "container engine refused the image: %.300s", msg);
		ml_json_free(o);
		p += n + 1;
	}
	return rc;
}

int ml_engine_image_load(struct ml_engine *e, const char *manifest_digest, struct ml_error *err)
{
	struct loader l = { .manifest_digest = manifest_digest };
	struct ml_http_body body = { .read = pipe_read, .size = -1 };
	struct ml_rest_result res;
	pthread_t t;
	int fds[2], rc;

	if (pipe(fds) < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot create a pipe");
	l.fd = fds[1];
	body.ud = &fds[0];
	if (pthread_create(&t, NULL, produce, &l) != 0) {
		close(fds[0]);
		close(fds[1]);
		return ml_error_set(err, ML_EINTERNAL, "cannot start a thread");
	}
	rc = ml_rest_call_stream(e->rest, "POST", "/images/load?quiet=1", "application/x-tar", &body,
				 NULL, ML_REST_RAW | ML_REST_STREAM, &res, err);
	close(fds[0]);		/* a producer still writing gets EPIPE and stops */
	pthread_join(t, NULL);
	if (l.rc < 0) {
		*err = l.err;
		rc = l.rc;
	} else if (rc == 0) {
		rc = load_failed(&res.resp, err);
	}
	ml_rest_result_dispose(&res);
	return rc;
}

static int container_post(struct ml_engine *e, const char *id, const char *action, unsigned flags,
			  struct ml_error *err)
{
	return object_call(e, "POST", "/containers/", id, action, NULL, flags | ML_REST_IDEMPOTENT,
			   NULL, NULL, err);
}

int ml_engine_rename(struct ml_engine *e, const char *id, const char *name, struct ml_error *err)
{
	char *action = object_path("/rename?name=", name, "");
	int rc = container_post(e, id, action, 0, err);

	free(action);
	return rc;
}

int ml_engine_start(struct ml_engine *e, const char *id, struct ml_error *err)
{
	return container_post(e, id, "/start", ML_REST_ALLOW_304, err);
}

int ml_engine_stop(struct ml_engine *e, const char *id, struct ml_error *err)
{
	return container_post(e, id, "/stop?t=10", ML_REST_ALLOW_304 | ML_REST_ALLOW_404, err);
}

int ml_engine_run(struct ml_engine *e, const char *name, const ml_json *body, char **id,
		  struct ml_error *err)
{
	struct ml_rest_result res;
	const char *cid;
	int rc;

	rc = object_call(e, "POST", "/containers/create?name=", name, "", body, 0, &res, NULL, err);
	if (rc == 0 && !(cid = ml_json_get_str(res.body, "Id")))
		rc = ml_error_set(err, ML_EPROTO, "container engine: create answered without an Id");
	if (rc == 0)
		*id = ml_strdup(cid);
	ml_rest_result_dispose(&res);
	if (rc == -ML_EPROTO && strstr(err->msg, "already in use"))
		err->code = ML_ECONFLICT;
	if (rc < 0)
		return rc == -ML_EPROTO ? -err->code : rc;
	rc = ml_engine_start(e, *id, err);
	if (rc < 0) {
		struct ml_error ignored = { 0 };

		ml_engine_remove(e, *id, &ignored);
		free(*id);
		*id = NULL;
	}
	return rc;
}

int ml_engine_discard(struct ml_engine *e, const char *id, struct ml_error *err)
{
	return object_call(e, "DELETE", "/containers/", id, "?v=1&force=1", NULL, ML_REST_ALLOW_404,
			   NULL, NULL, err);
}

int ml_engine_remove(struct ml_engine *e, const char *id, struct ml_error *err)
{
	int rc = ml_engine_stop(e, id, err);

	if (rc < 0)
		return rc;
	return ml_engine_discard(e, id, err);
}

int ml_engine_host_port(const ml_json *inspect, int port)
{
	const ml_json *ports = ml_json_get(ml_json_get(inspect, "NetworkSettings"), "Ports");
	char key[32];
	const ml_json *b;
	const char *hp;
	long v;

	snprintf(key, sizeof(key), "%d/tcp", port);
	b = ml_json_get(ports, key);
	if (!b || !ml_json_is_array(b) || !ml_json_size(b))
		return 0;
	hp = ml_json_get_str(ml_json_at(b, 0), "HostPort");
	if (!hp)
		return 0;
	v = strtol(hp, NULL, 10);
	return v > 0 && v < 65536 ? (int)v : 0;
}

/* The log stream of a container without a TTY is multiplexed: frames of an 8-byte
 * header (stream, 0, 0, 0, big-endian length) and the payload. */
struct demux {
	unsigned char hdr[8];
	size_t have;			/* header bytes held */
	uint32_t left;			/* payload bytes still to come */
	int fd;				/* -1: into buf */
	struct ml_buf *buf;
	volatile int *interrupted;
};

static int demux_write(void *ud, const void *data, size_t len)
{
	struct demux *d = ud;
	const unsigned char *p = data;

	if (d->interrupted && *d->interrupted)
		return -ML_EINTR;
	while (len) {
		size_t n;

		if (!d->left) {
			n = 8 - d->have < len ? 8 - d->have : len;
			memcpy(d->hdr + d->have, p, n);
			d->have += n;
			p += n;
			len -= n;
			if (d->have == 8) {
				d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
					  (uint32_t)d->hdr[6] << 8 | d->hdr[7];
				d->have = 0;
			}
			continue;
		}
		n = d->left < len ? d->left : len;
		if (d->fd >= 0) {
			if (write(d->fd, p, n) < 0 && errno != EINTR)
				return -ML_EIO;
		} else if (d->buf->len + n <= LOG_TAIL_MAX) {
			ml_buf_add(d->buf, p, n);
		}
		p += n;
		len -= n;
		d->left -= (uint32_t)n;
	}
	return 0;
}

static int logs(struct ml_engine *e, const char *id, const char *query, struct demux *d,
		unsigned flags, struct ml_error *err)
{
	struct ml_http_sink sink = { .write = demux_write, .ud = d };
	struct ml_rest_result res;
	char *post = ml_asprintf("/logs?stdout=1&stderr=1&%s", query);
	char *path = object_path("/containers/", id, post);
	int rc = ml_rest_call_stream(e->rest, "GET", path, NULL, NULL, &sink, flags | ML_REST_RAW,
				     &res, err);

	ml_rest_result_dispose(&res);
	free(path);
	free(post);
	return rc;
}

char *ml_engine_log_tail(struct ml_engine *e, const char *id, int lines)
{
	struct ml_buf b;
	struct demux d = { .fd = -1, .buf = &b };
	struct ml_error err = { 0 };
	char q[32];

	ml_buf_init(&b, LOG_TAIL_MAX + 1);
	snprintf(q, sizeof(q), "tail=%d", lines);
	if (logs(e, id, q, &d, 0, &err) < 0 || !b.len) {
		ml_buf_dispose(&b);
		return NULL;
	}
	return ml_buf_detach(&b);
}

int ml_engine_follow_logs(struct ml_engine *e, const char *id, int fd, volatile int *interrupted,
			  struct ml_error *err)
{
	struct demux d = { .fd = fd, .interrupted = interrupted };
	int rc;

	ml_rest_set_interrupt(e->rest, interrupted);
	rc = logs(e, id, "follow=1&tail=all", &d, ML_REST_STREAM, err);
	ml_rest_set_interrupt(e->rest, NULL);
	return rc;
}
