/* HTTP over libcurl. Only http.c includes curl/curl.h.
 * Redirects are followed here (not by curl) so that the credential rule lives in one
 * place: the auth header, the secret headers and any header named like a credential
 * are sent only to the scheme+host+port of the original URL; cookies are never kept. */
#ifndef ML_HTTP_H
#define ML_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

struct ml_http;		/* a client: keeps connections alive; one thread at a time */

enum ml_http_flags {
	ML_HTTP_INSECURE = 1 << 0,	/* do not verify TLS (only for registries the user named insecure) */
	ML_HTTP_FOLLOW = 1 << 1,	/* follow 301/302/303/307/308 (at most 10) */
	ML_HTTP_RETRY = 1 << 2,		/* retry connection errors, 429, 500-504 with backoff + jitter,
					   honouring Retry-After; only when the request can be repeated */
	ML_HTTP_HEAD = 1 << 3,		/* no response body expected (HEAD) */
	ML_HTTP_NETRC = 1 << 4,		/* logins from ~/.netrc ($NETRC) for the hosts it names */
	ML_HTTP_STREAM = 1 << 5,	/* may stay quiet for long (a followed log): no minimum
					   rate, no deadline but timeout_s */
};

/* Streaming request body: return bytes written into buf (0 at the end), or a negative
 * ml error code. rewind is called before a retry or redirect re-sends the body; NULL
 * means the body cannot be re-sent (no retry once it was started). */
struct ml_http_body {
	const void *data;	/* either data/len ... */
	size_t len;
	long (*read)(void *ud, char *buf, size_t size);	/* ... or a reader */
	int (*rewind)(void *ud);
	void *ud;
	int64_t size;		/* with read: total size, or -1 for chunked */
};

/* Streaming response body sink: return 0, or a negative ml error code to abort.
 * reset is called when a retry or redirect starts the body again.
 * Only the body of a final 2xx response reaches the sink; the body of any other final
 * response is collected in response->body (capped) so callers can report it.
 * A body or sink callback that fails may fill the err given to ml_http_do with the code
 * it returns; that message is kept, with "METHOD url: " in front. */
struct ml_http_sink {
	int (*write)(void *ud, const void *data, size_t len);
	int (*reset)(void *ud);
	void *ud;
};

struct ml_http_header {
	char *name;		/* as received */
	char *value;		/* trimmed */
};

struct ml_http_request {
	const char *method;		/* "GET" when NULL */
	const char *url;
	const char *const *headers;	/* "Name: value" strings, may be NULL; those named like a
					   credential (ml_redact_header_is_secret: Cookie,
					   X-Amz-Security-Token, X-Api-Key ...) are withheld, as
					   auth is, on redirects to another origin */
	size_t nheaders;
	const char *auth;		/* full "Authorization: ..." value (without the name), or NULL;
					   never sent to another host after a redirect, never logged */
	const char *const *secret_headers;	/* "Name: value" strings that carry credentials
						   (signatures, session tokens): sent like headers,
						   never logged, withheld on redirects to another
						   origin; may be NULL */
	size_t nsecret_headers;
	const char *unix_socket;	/* connect to this unix socket instead of the URL's host
					   (the Docker engine API); the URL still gives Host and
					   path; NULL: TCP */
	const volatile int *interrupt;	/* non-zero stops the transfer (-ML_EINTR): a signal
					   handler's flag, or NULL */
	const struct ml_http_body *body;	/* NULL: no body */
	const struct ml_http_sink *sink;	/* NULL: body collected in response->body */
	size_t max_body;		/* cap for a collected body; 0 means 16 MiB */
	unsigned flags;			/* enum ml_http_flags */
	int max_retries;		/* 0 means 5 when ML_HTTP_RETRY is set */
	long timeout_s;			/* whole request; 0: 5 min plus 1 s per KiB sent when the
					   answer is collected in memory, none with a sink (the
					   rate rule below still applies) */
};

struct ml_http_response {
	long status;
	char *url;			/* final URL after redirects */
	struct ml_http_header *headers;	/* of the final response */
	size_t nheaders;
	struct ml_buf body;		/* when no sink was given; capped */
	int retries;			/* how many times the request was repeated */
	/* After a transport failure (-ML_ENET), about its last attempt: */
	int sent;			/* some of the request went out: a POST may have been
					   acted on (0 for refused connections, DNS, TLS) */
	int transient;			/* a new attempt may succeed (reset, timeout, refused,
					   empty reply), unlike DNS or TLS verification failures */
};

/* Global init/cleanup of libcurl (call once from main). */
int ml_http_global_init(struct ml_error *err);
void ml_http_global_cleanup(void);

/* A client reads, once, the environment that changes where and how it connects:
 *   MLDEPLOY_CONNECT_TO  comma-separated HOST:PORT:CONNECT-HOST:CONNECT-PORT (curl's
 *                        --connect-to): requests for HOST:PORT go to CONNECT-HOST:
 *                        CONNECT-PORT while TLS still verifies HOST (split-horizon DNS,
 *                        tests against real host names); an empty field means "any"
 *                        (HOST, PORT) or "the same" (CONNECT-*); IPv6 in brackets.
 *   MLDEPLOY_CA_BUNDLE   a PEM file of extra CA certificates, trusted besides the
 *                        system's (SSL_CERT_FILE, else curl's default bundle);
 *                        verification stays on. The two are joined in memory
 *                        (CURLOPT_CAINFO_BLOB).
 *   MLDEPLOY_HTTP_STALL_S  the window of the rate rule: a transfer that moves less
 *                        than 1 KiB/s for this many seconds (1-86400, default 60)
 *                        fails (and is retried as a timeout).
 *   MLDEPLOY_RETRY_BASE_MS the base of the retry backoff (0-10000, default 200).
 * A malformed value or an unreadable bundle is -ML_EUSAGE naming the variable. */
int ml_http_new(struct ml_http **out, struct ml_error *err);
void ml_http_free(struct ml_http *h);

/* Performs the request. A completed exchange returns 0 whatever the status (check
 * resp->status); transport failures return -ML_ENET (-ML_ETOOBIG when the body
 * passes its cap) with the (redacted) URL and curl's reason in err.
 * resp is initialised here; dispose of it after every call, failed or not.
 * Logs at ML_LOG_INFO one line per request ("GET url -> 200") and retries, at
 * ML_LOG_TRACE the redacted request and response headers. */
int ml_http_do(struct ml_http *h, const struct ml_http_request *req,
	       struct ml_http_response *resp, struct ml_error *err);

void ml_http_response_init(struct ml_http_response *resp);
void ml_http_response_dispose(struct ml_http_response *resp);
/* First header of that name (case-insensitive), or NULL. */
const char *ml_http_response_header(const struct ml_http_response *resp, const char *name);

/* For callers that retry by themselves (resumable uploads): how long to wait
 * before retry number retry (0-based), honouring resp's Retry-After when given,
 * with the same backoff and jitter as ML_HTTP_RETRY; and the wait itself. */
long ml_http_retry_delay_ms(const struct ml_http_response *resp, int retry);
void ml_http_sleep_ms(long ms);
/* Sleeps ms, looking at *interrupt (NULL: never raised) every 100 ms and at once
 * after a signal; 1 when it was raised, else 0. */
int ml_http_pause_ms(long ms, const volatile int *interrupt);

/* Percent-encodes s for a query value (RFC 3986 unreserved kept) and appends it. */
void ml_http_urlencode(struct ml_buf *out, const char *s);
/* Splits "scheme://host[:port]/..." and says whether a and b share scheme, host and
 * port (with default ports filled in). */
int ml_http_same_origin(const char *a, const char *b);
/* RFC 3986 reference resolution of ref against base (malloc'ed), NULL when either
 * is not a URL. */
char *ml_http_url_resolve(const char *base, const char *ref);
/* Splits "scheme://user:pass@host/..." into the URL without its userinfo and the
 * (percent-decoded) user and password; user and password are NULL when absent.
 * 0, or -1 when url is not a URL. */
int ml_http_url_take_userinfo(const char *url, char **clean, char **user, char **password);

#endif
