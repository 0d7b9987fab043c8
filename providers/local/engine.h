/* The Docker Engine API (as Docker and `podman system service` serve it) over
 * DOCKER_HOST, through lib/'s REST client. Only what the local provider needs. */
#ifndef ML_ENGINE_H
#define ML_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "deploy/rest.h"
#include "util/error.h"
#include "wrap/json.h"

#define ML_ENGINE_API "/v1.41"

struct ml_engine {
	struct ml_rest *rest;
	char *host;		/* DOCKER_HOST as given, for messages */
	char *addr;		/* the host name that published ports answer on */
};

/* host: "unix:///path" or "tcp://host:port" (NULL: $DOCKER_HOST, else the default socket). */
int ml_engine_open(struct ml_engine *e, const char *host, struct ml_error *err);
void ml_engine_close(struct ml_engine *e);

/* Requests made so far (mutations: the ones that could change something). */
int ml_engine_calls(const struct ml_engine *e, int *mutations);

/* One call; path is relative to the API version ("/containers/json"). */
int ml_engine_call(struct ml_engine *e, const char *method, const char *path, const ml_json *body,
		   unsigned flags, struct ml_rest_result *res, struct ml_error *err);

/* Containers carrying every label of labels ("k=v"), as the list API gives them. */
int ml_engine_list(struct ml_engine *e, const char *const *labels, size_t nlabels, ml_json **out,
		   struct ml_error *err);
/* GET /containers/ID/json; -ML_ENOTFOUND when it does not exist. */
int ml_engine_inspect(struct ml_engine *e, const char *id, ml_json **out, struct ml_error *err);
/* 1 when the engine has the image (id "sha256:..."), 0 when not. */
int ml_engine_image_exists(struct ml_engine *e, const char *id, struct ml_error *err);
/* Streams the image manifest_digest from the build cache into POST /images/load. */
int ml_engine_image_load(struct ml_engine *e, const char *manifest_digest, struct ml_error *err);
int ml_engine_image_remove(struct ml_engine *e, const char *id, struct ml_error *err);
/* Creates (POST /containers/create?name=) and starts a container; *id malloc'ed. */
int ml_engine_run(struct ml_engine *e, const char *name, const ml_json *body, char **id,
		  struct ml_error *err);
/* Stops (with a grace period) and removes it with its anonymous volumes. */
int ml_engine_remove(struct ml_engine *e, const char *id, struct ml_error *err);
int ml_engine_stop(struct ml_engine *e, const char *id, struct ml_error *err);
/* Removes it at once, running or not (a container that never served). */
int ml_engine_discard(struct ml_engine *e, const char *id, struct ml_error *err);
int ml_engine_start(struct ml_engine *e, const char *id, struct ml_error *err);
int ml_engine_rename(struct ml_engine *e, const char *id, const char *name, struct ml_error *err);
/* The host port published for container port/tcp, from an inspect document. */
int ml_engine_host_port(const ml_json *inspect, int port);
/* The last lines of the container's log (stdout and stderr), for error messages. */
char *ml_engine_log_tail(struct ml_engine *e, const char *id, int lines);
/* Follows the container's log into fd until it stops or *interrupted. */
int ml_engine_follow_logs(struct ml_engine *e, const char *id, int fd, volatile int *interrupted,
			  struct ml_error *err);

#endif
