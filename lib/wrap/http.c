#include "wrap/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/redact.h"

#ifndef ML_VERSION
#define ML_VERSION "dev"
#endif

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0
#endif

#define MAX_REDIRECTS 10
#define DEFAULT_RETRIES 5
#define DEFAULT_MAX_BODY (16u << 20)
#define RETRY_BASE_MS 200
#define RETRY_CAP_MS 10000
#define RETRY_AFTER_CAP_S 60
#define CONNECT_TIMEOUT_S 30
#define MIN_RATE 1024		/* bytes/s: a transfer slower than this for STALL_S fails */
#define STALL_S 60		/* the window of MIN_RATE (MLDEPLOY_HTTP_STALL_S) */
#define STALL_S_MAX 86400
#define DEADLINE_S 300		/* of a request whose answer is collected in memory */
#define MAX_HEADERS 200
#define MAX_HEADER_LINE (16u << 10)
#define SERVER_TEXT_MAX 300	/* of curl's or a server's text in a message */

#define TLS_HINT "; hint: use SSL_CERT_FILE for a private CA, or list the registry in " \
	"MLDEPLOY_INSECURE_REGISTRIES"
#define CA_HINT "; hint: check SSL_CERT_FILE and SSL_CERT_DIR"

#define CA_BUNDLE_MAX (8u << 20)
#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define PAUSE_SLICE_MS 100	/* how often a pause looks at the interrupt flag */

struct ml_http {
	CURL *curl;
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
	long stall_s;			/* MLDEPLOY_HTTP_STALL_S */
	long retry_base_ms;		/* MLDEPLOY_RETRY_BASE_MS */
	struct curl_slist *connect_to;	/* MLDEPLOY_CONNECT_TO */
	struct ml_buf ca;		/* the system's CAs + MLDEPLOY_CA_BUNDLE, or empty */
};

/* One call of ml_http_do: the request as it is now (after redirects) and what the
 * current exchange has done so far. */
struct xfer {
	struct ml_http *h;
	const struct ml_http_request *req;
	struct ml_http_response *resp;
	struct ml_error *err;
	const char *method;	/* of the current exchange */
	char *url;		/* current URL */
	int auth_ok;		/* url has the origin of req->url */
	int send_body;
	int method_changed;	/* a 303 turned the request into a GET */
	int hops;
	int max_retries;
	size_t headers_alloc;	/* of resp->headers */
	size_t max_body;
	size_t body_pos;	/* of a data body */
	int64_t body_sent;	/* of a streamed body */
	int body_started;	/* body->read was called since the last rewind */
	int sink_dirty;		/* the sink got bytes since the last reset */
	int body_seen;		/* the write callback saw the current response */
	int discard;		/* the current response body is not the caller's */
	int to_sink;		/* the current response body goes to the sink (2xx) */
	long status;		/* from the last status line */
	int abort_rc;		/* why a callback stopped the transfer */
	char abort_msg[256];
};

int ml_http_global_init(struct ml_error *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return ml_error_set(err, ML_EINTERNAL, "cannot initialise libcurl: %s",
				    curl_easy_strerror(rc));
	return 0;
}

void ml_http_global_cleanup(void)
{
	curl_global_cleanup();
}

static int is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Empty, or a port number. */
static int port_valid(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (!n)
		return 1;
	if (n > 5 || !is_digits(s, n))
		return 0;
	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v >= 1 && v <= 65535;
}

/* Empty, a host name or IPv4 address, or an IPv6 address in brackets. */
static int host_valid(const char *s, size_t n)
{
	size_t i;
	char c;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		for (i = 1; i + 1 < n; i++) {
			c = s[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
				return 0;
		}
		return n > 2;
	}
	for (i = 0; i < n; i++) {
		c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* One HOST:PORT:CONNECT-HOST:CONNECT-PORT entry, as curl's --connect-to takes it. */
static int connect_to_valid(const char *s, size_t n)
{
	const char *f[4];
	size_t fl[4], i = 0, start;
	int k;

	for (k = 0; k < 4; k++) {
		start = i;
		if (i < n && s[i] == '[') {
			while (i < n && s[i] != ']')
				i++;
			if (i == n)
				return 0;
			i++;
		} else {
			while (i < n && s[i] != ':')
				i++;
		}
		f[k] = s + start;
		fl[k] = i - start;
		if (k < 3) {
			if (i >= n || s[i] != ':')
				return 0;
			i++;
		}
	}
	return i == n && host_valid(f[0], fl[0]) && port_valid(f[1], fl[1]) &&
	       host_valid(f[2], fl[2]) && port_valid(f[3], fl[3]) && (fl[2] || fl[3]);
}

static int load_connect_to(struct ml_http *h, struct ml_error *err)
{
	const char *v = getenv("MLDEPLOY_CONNECT_TO"), *p, *end;
	struct curl_slist *l;
	char *one;
	size_t n;

	for (p = v; p && *p; p = *end ? end + 1 : end) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(end - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		one = ml_strndup(p, n);
		if (!connect_to_valid(p, n)) {
			ml_sanitize(one);
			ml_error_set(err, ML_EUSAGE, "MLDEPLOY_CONNECT_TO: invalid entry '%.200s' "
				     "(expected HOST:PORT:CONNECT-HOST:CONNECT-PORT, comma-separated, "
				     "e.g. run.googleapis.com:443:127.0.0.1:8443)", one);
			free(one);
			return -ML_EUSAGE;
		}
		l = curl_slist_append(h->connect_to, one);
		free(one);
		if (!l)
			return ml_error_set(err, ML_EINTERNAL, "out of memory reading "
					    "MLDEPLOY_CONNECT_TO");
		h->connect_to = l;
	}
	return 0;
}

/* The CA file curl verifies against when it is not told: SSL_CERT_FILE, else the
 * bundle libcurl was built with. */
static const char *base_ca_file(CURL *c)
{
	const char *f = getenv("SSL_CERT_FILE");
	char *def = NULL;

	if (f && *f)
		return f;
#if LIBCURL_VERSION_NUM >= 0x075400
	if (curl_easy_getinfo(c, CURLINFO_CAINFO, &def) == CURLE_OK && def && *def)
		return def;
#else
	(void)c;
	(void)def;
#endif
	return DEFAULT_CA_FILE;
}

/* MLDEPLOY_CA_BUNDLE: the extra CAs are joined to the system's in memory, so that
 * adding a test or corporate CA never drops the public ones. */
static int load_ca_bundle(struct ml_http *h, struct ml_error *err)
{
	const char *extra = getenv("MLDEPLOY_CA_BUNDLE"), *base;
	struct ml_buf add = ML_BUF_INIT;
	struct ml_error e = { 0, "" };
	int rc;

	if (!extra || !*extra)
		return 0;
	ml_buf_init(&h->ca, CA_BUNDLE_MAX);
	base = base_ca_file(h->curl);
	if (ml_read_file(base, CA_BUNDLE_MAX / 2, &h->ca, &e) < 0) {
		ml_log(ML_LOG_INFO, "MLDEPLOY_CA_BUNDLE: no system CA bundle (%s), trusting only "
		       "its own certificates", e.msg);
		ml_buf_reset(&h->ca);
	}
	ml_buf_init(&add, CA_BUNDLE_MAX / 2);
	rc = ml_read_file(extra, CA_BUNDLE_MAX / 2, &add, &e);
	if (rc == 0 && !strstr(ml_buf_str(&add), "-----BEGIN CERTIFICATE-----"))
		rc = ml_error_set(&e, ML_EUSAGE, "'%s' holds no PEM certificate", extra);
	if (rc == 0 && (ml_buf_addch(&h->ca, '\n') < 0 || ml_buf_add(&h->ca, add.data, add.len) < 0))
		rc = ml_error_set(&e, ML_ETOOBIG, "the CA certificates are larger than 8 MiB");
	ml_buf_dispose(&add);
	if (rc < 0) {
		ml_buf_dispose(&h->ca);
		return ml_error_set(err, ML_EUSAGE, "MLDEPLOY_CA_BUNDLE: %s (hint: a PEM file of "
				    "CA certificates, added to the system's)", e.msg);
	}
	return 0;
}

/* A whole number from min to max in the environment variable name into *out, def
 * when it is unset or empty; anything else is a usage error naming the variable. */
static int env_number(const char *name, long def, long min, long max, const char *unit,
		      long *out, struct ml_error *err)
{
	const char *s = getenv(name);
	char shown[64], *end;
	long v;

	*out = def;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s >= '0' && *s <= '9' && !errno && !*end && v >= min && v <= max) {
		*out = v;
		return 0;
	}
	snprintf(shown, sizeof(shown), "%s", s);
	ml_sanitize(shown);
	return ml_error_set(err, ML_EUSAGE, "%s: '%s' is not a number of %s (expected a whole "
			    "number from %ld to %ld)", name, shown, unit, min, max);
}

static int load_limits(struct ml_http *h, struct ml_error *err)
{
	int rc = env_number("MLDEPLOY_HTTP_STALL_S", STALL_S, 1, STALL_S_MAX, "seconds",
			    &h->stall_s, err);

	if (rc == 0)
		rc = env_number("MLDEPLOY_RETRY_BASE_MS", RETRY_BASE_MS, 0, RETRY_CAP_MS,
				"milliseconds", &h->retry_base_ms, err);
	return rc;
}

int ml_http_new(struct ml_http **out, struct ml_error *err)
{
	struct ml_http *h;
	struct timespec ts;
	int rc;

	h = ml_calloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return ml_error_set(err, ML_EINTERNAL, "cannot create a libcurl handle");
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	h->rng = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
		 ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)h;
	if (!h->rng)
		h->rng = 0x9e3779b97f4a7c15ull;
	rc = load_limits(h, err);
	if (rc == 0)
		rc = load_connect_to(h, err);
	if (rc == 0)
		rc = load_ca_bundle(h, err);
	if (rc < 0) {
		ml_http_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void ml_http_free(struct ml_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->connect_to);
	ml_buf_dispose(&h->ca);
	free(h);
}

void ml_http_response_init(struct ml_http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	ml_buf_init(&resp->body, 0);
}

static void headers_clear(struct ml_http_response *resp)
{
	size_t i;

	for (i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->nheaders = 0;
}

void ml_http_response_dispose(struct ml_http_response *resp)
{
	headers_clear(resp);
	free(resp->headers);
	free(resp->url);
	ml_buf_dispose(&resp->body);
	ml_http_response_init(resp);
}

const char *ml_http_response_header(const struct ml_http_response *resp, const char *name)
{
	size_t i;

	for (i = 0; i < resp->nheaders; i++)
		if (!strcasecmp(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

void ml_http_urlencode(struct ml_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			ml_buf_addch(out, (char)c);
		} else {
			ml_buf_addch(out, '%');
			ml_buf_addch(out, hex[c >> 4]);
			ml_buf_addch(out, hex[c & 15]);
		}
	}
}

/* Fills scheme, host and port of url (lower-cased, default port filled in). */
static int url_origin(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	int rc = -1;
	char *p;

	*scheme = *host = *port = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto done;
	for (p = *host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	rc = 0;
done:
	curl_url_cleanup(u);
	return rc;
}

int ml_http_same_origin(const char *a, const char *b)
{
	char *sa = NULL, *ha = NULL, *pa = NULL, *sb = NULL, *hb = NULL, *pb = NULL;
	int same = 0;

	if (url_origin(a, &sa, &ha, &pa) == 0 && url_origin(b, &sb, &hb, &pb) == 0)
		same = !strcasecmp(sa, sb) && !strcmp(ha, hb) && !strcmp(pa, pb);
	curl_free(sa);
	curl_free(ha);
	curl_free(pa);
	curl_free(sb);
	curl_free(hb);
	curl_free(pb);
	return same;
}

char *ml_http_url_resolve(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *got = NULL, *out = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, ref, CURLU_URLENCODE | CURLU_ALLOW_SPACE) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &got, 0) == CURLUE_OK)
		out = ml_strdup(got);
	curl_free(got);
	curl_url_cleanup(u);
	return out;
}

int ml_http_url_take_userinfo(const char *url, char **clean, char **user, char **password)
{
	CURLU *u = curl_url();
	char *got = NULL, *us = NULL, *pw = NULL;
	int rc = -1;

	*clean = *user = *password = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto done;
	if (curl_url_get(u, CURLUPART_USER, &us, CURLU_URLDECODE) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PASSWORD, &pw, CURLU_URLDECODE) != CURLUE_OK)
			pw = NULL;
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		*user = ml_strdup(us);
		*password = ml_strdup(pw ? pw : "");
	}
	if (curl_url_get(u, CURLUPART_URL, &got, 0) != CURLUE_OK)
		goto done;
	*clean = ml_strdup(got);
	rc = 0;
done:
	curl_free(got);
	curl_free(us);
	curl_free(pw);
	curl_url_cleanup(u);
	return rc;
}

/* url, redacted, in buf; returns the string. */
static const char *redacted_url(struct ml_buf *buf, const char *url)
{
	ml_buf_reset(buf);
	ml_redact_url(buf, url);
	return ml_buf_str(buf);
}

static int is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

static int status_retryable(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

static int curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static const char *curl_reason(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return "could not resolve host";
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "could not resolve proxy";
	case CURLE_COULDNT_CONNECT:
		return "could not connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timed out";
	case CURLE_RECV_ERROR:
		return "connection lost while receiving";
	case CURLE_SEND_ERROR:
		return "connection lost while sending";
	case CURLE_PARTIAL_FILE:
		return "connection closed before the end of the response";
	case CURLE_GOT_NOTHING:
		return "empty reply";
	case CURLE_PEER_FAILED_VERIFICATION:
		return "TLS certificate not trusted";
	case CURLE_SSL_CONNECT_ERROR:
		return "TLS handshake failed";
	case CURLE_SSL_CACERT_BADFILE:
		return "cannot read the CA certificates";
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "unsupported protocol";
	case CURLE_URL_MALFORMAT:
		return "malformed URL";
	default:
		return curl_easy_strerror(rc);
	}
}

static int is_tls_error(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM;
}

static const char *tls_hint(CURLcode rc)
{
	if (rc == CURLE_SSL_CACERT_BADFILE)
		return CA_HINT;
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR)
		return TLS_HINT;
	return "";
}

static uint64_t rng_next(struct ml_http *h)
{
	uint64_t x = h->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	h->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Retry-After in milliseconds (seconds or an HTTP-date), -1 when absent or bad. */
static long retry_after_ms(const struct ml_http_response *resp)
{
	const char *v = ml_http_response_header(resp, "Retry-After");
	char *end;
	long s;
	time_t t;

	if (!v || !*v)
		return -1;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		s = strtol(v, &end, 10);
		if (errno || *end)
			return -1;
	} else {
		t = curl_getdate(v, NULL);
		if (t == -1)
			return -1;
		s = t > time(NULL) ? (long)(t - time(NULL)) : 0;
	}
	if (s > RETRY_AFTER_CAP_S)
		s = RETRY_AFTER_CAP_S;
	return s * 1000;
}

/* Full jitter: uniform in [0, min(cap, base * 2^retry)]. */
static long jitter_ms(uint64_t random, int retry, long base)
{
	long max = base;
	int i;

	for (i = 0; i < retry && max < RETRY_CAP_MS; i++)
		max *= 2;
	if (max > RETRY_CAP_MS)
		max = RETRY_CAP_MS;
	return (long)(random % (uint64_t)(max + 1));
}

static long backoff_ms(struct xfer *x)
{
	return jitter_ms(rng_next(x->h), x->resp->retries, x->h->retry_base_ms);
}

long ml_http_retry_delay_ms(const struct ml_http_response *resp, int retry)
{
	static __thread uint64_t state;
	long after = resp ? retry_after_ms(resp) : -1, base;

	if (after >= 0)
		return after;
	if (!state)
		state = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)&state << 16) ^ 0x9e3779b97f4a7c15ull;
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	/* a malformed value was refused by ml_http_new already: the default then */
	env_number("MLDEPLOY_RETRY_BASE_MS", RETRY_BASE_MS, 0, RETRY_CAP_MS, "milliseconds",
		   &base, NULL);
	return jitter_ms(state * 0x2545f4914f6cdd1dull, retry, base);
}

void ml_http_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int ml_http_pause_ms(long ms, const volatile int *interrupt)
{
	struct timespec ts;
	long slice;

	while (ms > 0 && !(interrupt && *interrupt)) {
		slice = ms < PAUSE_SLICE_MS ? ms : PAUSE_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = slice * 1000000L;
		/* a signal cuts the slice short: the flag is looked at again at once */
		if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
			break;
		ms -= slice;
	}
	return interrupt && *interrupt;
}

static void format_size(char *out, size_t n, double bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int i = -1;

	if (bytes < 1024) {
		snprintf(out, n, "%.0f B", bytes);
		return;
	}
	while (bytes >= 1024 && i < 3) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, n, "%.1f %s", bytes, units[i]);
}

/* Whether the request could be sent again from the start now. */
static int can_repeat(const struct xfer *x)
{
	const struct ml_http_body *b = x->req->body;
	const struct ml_http_sink *s = x->req->sink;

	if (x->send_body && b && b->read && x->body_started && !b->rewind)
		return 0;
	if (x->sink_dirty && s && !s->reset)
		return 0;
	return 1;
}

static int will_follow(const struct xfer *x)
{
	return (x->req->flags & ML_HTTP_FOLLOW) && is_redirect(x->status) &&
	       ml_http_response_header(x->resp, "Location");
}

static int will_retry_status(const struct xfer *x)
{
	return (x->req->flags & ML_HTTP_RETRY) && status_retryable(x->status) &&
	       x->resp->retries < x->max_retries && can_repeat(x);
}

static void set_abort(struct xfer *x, int rc, const char *msg)
{
	if (x->abort_rc)
		return;
	x->abort_rc = rc;
	snprintf(x->abort_msg, sizeof(x->abort_msg), "%s", msg);
}

static void trace_line(char dir, const char *line, size_t len)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *colon = memchr(line, ':', len);
	char *name, *value;

	if (colon && colon != line) {
		name = ml_strndup(line, (size_t)(colon - line));
		for (colon++; colon < line + len && (*colon == ' ' || *colon == '\t'); colon++)
			;
		value = ml_strndup(colon, len - (size_t)(colon - line));
		ml_redact_header(&b, name, value);
		free(name);
		free(value);
	} else {
		ml_redact_text(&b, line, len, MAX_HEADER_LINE);
	}
	ml_log(ML_LOG_TRACE, "%c %s", dir, ml_buf_str(&b));
	ml_buf_dispose(&b);
}

/* "GET /path?query HTTP/1.1": the request target is a URL to redact. */
static void trace_request_line(const char *line, size_t len)
{
	struct ml_buf b = ML_BUF_INIT, target = ML_BUF_INIT;
	const char *sp1 = memchr(line, ' ', len), *sp2;

	sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp2) {
		trace_line('>', line, len);
		return;
	}
	ml_buf_add(&target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	ml_redact_text(&b, line, (size_t)(sp1 - line), 0);
	ml_buf_addch(&b, ' ');
	ml_redact_url(&b, ml_buf_str(&target));
	ml_redact_text(&b, sp2, len - (size_t)(sp2 - line), 0);
	ml_log(ML_LOG_TRACE, "> %s", ml_buf_str(&b));
	ml_buf_dispose(&b);
	ml_buf_dispose(&target);
}

/* The length of the name when line ("Name: value") is one of the request's secret
 * headers, else 0. */
static size_t secret_line(const struct xfer *x, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t n = colon ? (size_t)(colon - line) : 0, i;
	const char *h;

	for (i = 0; n && i < x->req->nsecret_headers; i++) {
		h = x->req->secret_headers[i];
		if (!strncasecmp(h, line, n) && h[n] == ':')
			return n;
	}
	return 0;
}

static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
	const struct xfer *x = ud;
	const char *p = data, *end = data + size, *eol;
	size_t name;
	int first = 1;

	(void)c;
	if (type != CURLINFO_HEADER_OUT)
		return 0;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		size = (size_t)(eol - p);
		if (size && p[size - 1] == '\r')
			size--;
		if (first)
			trace_request_line(p, size);
		else if ((name = secret_line(x, p, size)) != 0)
			ml_log(ML_LOG_TRACE, "> %.*s: <redacted>", (int)name, p);
		else if (size)
			trace_line('>', p, size);
		first = 0;
		p = eol + 1;
	}
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
		      (*s)[*n - 1] == '\n'))
		(*n)--;
}

static int header_add(struct xfer *x, const char *line, size_t n)
{
	struct ml_http_response *r = x->resp;
	const char *colon = memchr(line, ':', n), *value;
	size_t vlen;

	if (!colon || colon == line)
		return 0;
	if (r->nheaders >= MAX_HEADERS) {
		set_abort(x, -ML_ETOOBIG, "more than 200 response headers");
		return -1;
	}
	value = colon + 1;
	vlen = n - (size_t)(value - line);
	trim(&value, &vlen);
	r->headers = ml_grow(r->headers, &x->headers_alloc, r->nheaders + 1, sizeof(*r->headers));
	r->headers[r->nheaders].name = ml_strndup(line, (size_t)(colon - line));
	r->headers[r->nheaders].value = ml_strndup(value, vlen);
	r->nheaders++;
	return 0;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nitems, len = n;
	const char *line = data, *sp;

	if (n > MAX_HEADER_LINE) {
		set_abort(x, -ML_ETOOBIG, "a response header is longer than 16 KiB");
		return 0;
	}
	trim(&line, &len);
	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		headers_clear(x->resp);
		sp = memchr(line, ' ', len);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		if (ml_log_enabled(ML_LOG_TRACE))
			trace_line('<', line, len);
		return n;
	}
	if (!len)
		return n;
	if (ml_log_enabled(ML_LOG_TRACE))
		trace_line('<', line, len);
	if (header_add(x, line, len) < 0)
		return 0;
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nitems;
	int rc;

	if (!x->body_seen) {
		x->body_seen = 1;
		x->discard = will_follow(x) || will_retry_status(x);
		/* other statuses are collected so that the caller can report them */
		x->to_sink = x->req->sink && x->status >= 200 && x->status < 300;
	}
	if (x->discard || !n)
		return n;
	if (x->to_sink) {
		x->sink_dirty = 1;
		rc = x->req->sink->write(x->req->sink->ud, data, n);
		if (rc < 0) {
			set_abort(x, rc, "aborted by receiver");
			return CURL_WRITEFUNC_ERROR;
		}
	} else if (ml_buf_add(&x->resp->body, data, n) < 0) {
		char cap[32], msg[64];

		format_size(cap, sizeof(cap), (double)x->max_body);
		snprintf(msg, sizeof(msg), "response body larger than %s", cap);
		set_abort(x, -ML_ETOOBIG, msg);
		return CURL_WRITEFUNC_ERROR;
	}
	return n;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	const struct ml_http_body *b = x->req->body;
	size_t want = size * nitems, n;
	long got;

	if (!b)
		return 0;
	if (!b->read) {
		n = b->len - x->body_pos;
		if (n > want)
			n = want;
		if (n)
			memcpy(buf, (const char *)b->data + x->body_pos, n);
		x->body_pos += n;
		return n;
	}
	x->body_started = 1;
	got = b->read(b->ud, buf, want);
	if (got < 0) {
		set_abort(x, (int)got, "cannot read the request body");
		return CURL_READFUNC_ABORT;
	}
	if ((size_t)got > want) {
		set_abort(x, -ML_EINTERNAL, "request body reader returned too much");
		return CURL_READFUNC_ABORT;
	}
	if (got == 0 && b->size >= 0 && x->body_sent < b->size) {
		set_abort(x, -ML_EIO, "request body ended before its size");
		return CURL_READFUNC_ABORT;
	}
	x->body_sent += got;
	return (size_t)got;
}

/* 0, 1 when the body cannot be sent again, or the error of body->rewind. */
static int body_rewind(struct xfer *x)
{
	const struct ml_http_body *b = x->req->body;
	int rc;

	x->body_pos = 0;
	if (b && b->read && x->body_started) {
		if (!b->rewind)
			return 1;
		rc = b->rewind(b->ud);
		if (rc < 0)
			return rc;
	}
	x->body_started = 0;
	x->body_sent = 0;
	return 0;
}

/* curl may need to send the body again (a reused connection closed under it). */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
	struct xfer *x = ud;
	int rc;

	if (offset != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	rc = body_rewind(x);
	return rc == 0 ? CURL_SEEKFUNC_OK : rc == 1 ? CURL_SEEKFUNC_CANTSEEK : CURL_SEEKFUNC_FAIL;
}

static int slist_add(struct curl_slist **list, const char *s)
{
	struct curl_slist *l = curl_slist_append(*list, s);

	if (!l)
		return -1;
	*list = l;
	return 0;
}

/* "Name: value" (or curl's "Name;") with a name that says it carries a credential
 * (Cookie, X-Amz-Security-Token, X-Api-Key ...: the rule of ml_redact_header). */
static int header_line_is_secret(const char *line)
{
	char *name = ml_strndup(line, strcspn(line, ":;"));
	int secret = ml_redact_header_is_secret(name);

	free(name);
	return secret;
}

/* The request's headers for the current URL. On another origin than the request's
 * (after a redirect) nothing that carries a credential goes: not auth, not the
 * secret headers, not an ordinary header named like a credential. Cookies are
 * never sent: curl's cookie engine stays off (no CURLOPT_COOKIEFILE), so a
 * Set-Cookie received is not replayed anywhere. */
static int build_headers(struct xfer *x, struct curl_slist **out)
{
	const struct ml_http_request *req = x->req;
	struct curl_slist *list = NULL;
	char *auth;
	size_t i;
	int rc;

	for (i = 0; i < req->nheaders; i++) {
		if (x->method_changed && (!strncasecmp(req->headers[i], "Content-Type:", 13) ||
					  !strncasecmp(req->headers[i], "Content-Length:", 15)))
			continue;
		if (!x->auth_ok && header_line_is_secret(req->headers[i]))
			continue;
		if (slist_add(&list, req->headers[i]) < 0)
			goto oom;
	}
	for (i = 0; x->auth_ok && i < req->nsecret_headers; i++)
		if (slist_add(&list, req->secret_headers[i]) < 0)
			goto oom;
	if (req->auth && x->auth_ok) {
		auth = ml_asprintf("Authorization: %s", req->auth);
		rc = slist_add(&list, auth);
		free(auth);
		if (rc < 0)
			goto oom;
	}
	*out = list;
	return 0;
oom:
	curl_slist_free_all(list);
	return ml_error_set(x->err, ML_EINTERNAL, "out of memory building request headers");
}

static int method_is(const char *method, const char *name)
{
	return !strcmp(method, name);
}

static CURLcode set_method(struct xfer *x)
{
	CURL *c = x->h->curl;
	const struct ml_http_body *b = x->req->body;
	int64_t size;
	CURLcode rc;

	if (method_is(x->method, "HEAD") || (x->req->flags & ML_HTTP_HEAD)) {
		rc = curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		if (!rc && !method_is(x->method, "HEAD"))
			rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
		return rc;
	}
	if (!x->send_body) {
		rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		if (!rc && !method_is(x->method, "GET"))
			rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
		return rc;
	}
	size = !b ? 0 : b->read ? b->size : (int64_t)b->len;
	rc = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				      (curl_off_t)(size < 0 ? -1 : size));
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_READDATA, x);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
	if (!rc && !method_is(x->method, "PUT"))
		rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
	return rc;
}

/* curl calls this often, also while nothing moves. */
static int interrupt_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (!*x->req->interrupt)
		return 0;
	set_abort(x, -ML_EINTR, "interrupted");
	return 1;
}

/* The limit on a whole exchange: the request's own; else, for an answer collected
 * in memory (API calls, manifests, tokens), a generous one that grows with what is
 * sent at the minimum rate. Streamed transfers (blobs, large uploads) have the rate
 * rule alone, streams (ML_HTTP_STREAM) not even that. 0: none. */
static long deadline_s(const struct xfer *x)
{
	const struct ml_http_body *b = x->req->body;
	int64_t size = 0;

	if (x->req->timeout_s > 0)
		return x->req->timeout_s;
	if (x->req->sink || (x->req->flags & ML_HTTP_STREAM))
		return 0;
	if (b && x->send_body)
		size = b->read ? b->size : (int64_t)b->len;
	return size < 0 ? 0 : DEADLINE_S + (long)(size / MIN_RATE);
}

static CURLcode set_options(struct xfer *x, struct curl_slist *headers)
{
	CURL *c = x->h->curl;
	const char *cafile = getenv("SSL_CERT_FILE"), *capath = getenv("SSL_CERT_DIR");
	long verify = (x->req->flags & ML_HTTP_INSECURE) ? 0L : 1L;
	CURLcode rc;

	curl_easy_reset(c);
	x->h->errbuf[0] = '\0';
	rc = curl_easy_setopt(c, CURLOPT_URL, x->url);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->h->errbuf);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (!rc && cafile && *cafile)
		rc = curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	if (!rc && capath && *capath)
		rc = curl_easy_setopt(c, CURLOPT_CAPATH, capath);
	if (!rc && verify && x->h->ca.len) {
		struct curl_blob blob = { x->h->ca.data, x->h->ca.len, CURL_BLOB_NOCOPY };

		rc = curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (!rc && x->h->connect_to)
		rc = curl_easy_setopt(c, CURLOPT_CONNECT_TO, x->h->connect_to);
	if (!rc && x->req->unix_socket)
		rc = curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, x->req->unix_socket);
	if (!rc && x->req->interrupt) {
		rc = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, interrupt_cb);
		if (!rc)
			rc = curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
		if (!rc)
			rc = curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "mldeploy/" ML_VERSION);
	/* ~/.netrc (or $NETRC) holds per-host logins; curl applies them only to the host
	 * they name, and never where an Authorization header is already given */
	if (!rc && (x->req->flags & ML_HTTP_NETRC) && !(x->req->auth && x->auth_ok)) {
		const char *netrc = getenv("NETRC");

		rc = curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
		if (!rc && netrc && *netrc)
			rc = curl_easy_setopt(c, CURLOPT_NETRC_FILE, netrc);
	}
	/* no Accept-Encoding and no decoding: digests are over the bytes as sent */
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	if (!rc && !(x->req->flags & ML_HTTP_STREAM))
		rc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)MIN_RATE);
	if (!rc && !(x->req->flags & ML_HTTP_STREAM))
		rc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, x->h->stall_s);
	if (!rc && deadline_s(x) > 0)
		rc = curl_easy_setopt(c, CURLOPT_TIMEOUT, deadline_s(x));
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	if (!rc)
		rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	if (!rc && ml_log_enabled(ML_LOG_TRACE)) {
		rc = curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
		if (!rc)
			rc = curl_easy_setopt(c, CURLOPT_DEBUGDATA, x);
		if (!rc)
			rc = curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	}
	if (!rc)
		rc = set_method(x);
	return rc;
}

/* The detail in parentheses: the OS error when there is one, else curl's text. */
static void curl_detail(struct xfer *x, CURLcode rc, struct ml_buf *out)
{
	long oserr = 0;

	curl_easy_getinfo(x->h->curl, CURLINFO_OS_ERRNO, &oserr);
	if (oserr && !is_tls_error(rc))
		ml_buf_adds(out, strerror((int)oserr));
	else if (x->h->errbuf[0])
		ml_redact_text(out, x->h->errbuf, strlen(x->h->errbuf), SERVER_TEXT_MAX);
	else
		ml_buf_adds(out, curl_easy_strerror(rc));
}

static int transport_error(struct xfer *x, CURLcode rc)
{
	struct ml_buf url = ML_BUF_INIT, detail = ML_BUF_INIT, retries = ML_BUF_INIT;
	int ret;

	curl_detail(x, rc, &detail);
	if (x->resp->retries)
		ml_buf_printf(&retries, " after %d %s", x->resp->retries,
			      x->resp->retries == 1 ? "retry" : "retries");
	ret = ml_error_set(x->err, ML_ENET, "%s %s: %s (%s)%s%s", x->method,
			   redacted_url(&url, x->url), curl_reason(rc), ml_buf_str(&detail),
			   ml_buf_str(&retries), tls_hint(rc));
	ml_buf_dispose(&url);
	ml_buf_dispose(&detail);
	ml_buf_dispose(&retries);
	return ret;
}

/* An error from a callback; keeps a message the body or sink put into err itself. */
static int abort_error(struct xfer *x)
{
	struct ml_buf url = ML_BUF_INIT;
	int ret;

	redacted_url(&url, x->url);
	if (x->err && x->err->code == -x->abort_rc && x->err->msg[0])
		ret = ml_error_prefix(x->err, "%s %s", x->method, ml_buf_str(&url));
	else
		ret = ml_error_set(x->err, -x->abort_rc, "%s %s: %s", x->method,
				   ml_buf_str(&url), x->abort_msg);
	ml_buf_dispose(&url);
	return ret;
}

static void log_exchange(struct xfer *x)
{
	struct ml_buf url = ML_BUF_INIT;
	curl_off_t bytes = 0, us = 0;
	char size[32];

	if (!ml_log_enabled(ML_LOG_INFO))
		return;
	curl_easy_getinfo(x->h->curl, CURLINFO_SIZE_DOWNLOAD_T, &bytes);
	curl_easy_getinfo(x->h->curl, CURLINFO_TOTAL_TIME_T, &us);
	format_size(size, sizeof(size), (double)bytes);
	ml_log(ML_LOG_INFO, "%s %s -> %ld (%s, %.2f s)", x->method, redacted_url(&url, x->url),
	       x->status, size, (double)us / 1e6);
	ml_buf_dispose(&url);
}

/* Gets ready to send the request again: body rewound, sink reset, headers cleared.
 * Returns 0, 1 when the request cannot be repeated, or the error of a callback. */
static int prepare_repeat(struct xfer *x)
{
	const struct ml_http_sink *s = x->req->sink;
	int rc;

	if (!can_repeat(x))
		return 1;
	if (x->send_body && (rc = body_rewind(x)) != 0)
		return rc;
	if (s && s->reset && (rc = s->reset(s->ud)) < 0)
		return rc;
	ml_buf_reset(&x->resp->body);
	x->sink_dirty = 0;
	headers_clear(x->resp);
	x->body_seen = 0;
	x->discard = 0;
	x->to_sink = 0;
	x->status = 0;
	return 0;
}

/* rc from prepare_repeat: 1, or a callback's error (whose message is kept). */
static int repeat_error(struct xfer *x, int rc, const char *what)
{
	struct ml_buf url = ML_BUF_INIT;
	int ret;

	redacted_url(&url, x->url);
	if (rc < 0 && x->err && x->err->code == -rc && x->err->msg[0])
		ret = ml_error_prefix(x->err, "%s %s: %s", x->method, ml_buf_str(&url), what);
	else
		ret = ml_error_set(x->err, rc < 0 ? -rc : ML_EPROTO, "%s %s: %s", x->method,
				   ml_buf_str(&url), what);
	ml_buf_dispose(&url);
	return ret;
}

static int retry_wait(struct xfer *x, const char *reason, long wait_ms)
{
	struct ml_buf url = ML_BUF_INIT;
	int rc;

	if (wait_ms < 0)
		wait_ms = backoff_ms(x);
	ml_log(ML_LOG_INFO, "retrying %s %s after %s (attempt %d/%d, waiting %.1f s)",
	       x->method, redacted_url(&url, x->url), reason, x->resp->retries + 2,
	       x->max_retries + 1, (double)wait_ms / 1000);
	ml_buf_dispose(&url);
	rc = prepare_repeat(x);
	if (rc != 0)
		return repeat_error(x, rc, "cannot send the request again");
	ml_http_sleep_ms(wait_ms);
	x->resp->retries++;
	return 0;
}

static int follow(struct xfer *x)
{
	const char *location = ml_http_response_header(x->resp, "Location");
	struct ml_buf loc = ML_BUF_INIT;
	CURLU *u = curl_url();
	char *next = NULL;
	int rc = 0;

	if (++x->hops > MAX_REDIRECTS) {
		rc = repeat_error(x, 1, "more than 10 redirects");
		goto done;
	}
	if (!u || curl_url_set(u, CURLUPART_URL, x->url, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, location,
			 CURLU_URLENCODE | CURLU_ALLOW_SPACE) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &next, 0) != CURLUE_OK) {
		ml_buf_adds(&loc, "bad redirect location '");
		ml_redact_url(&loc, location);
		ml_buf_addch(&loc, '\'');
		rc = repeat_error(x, 1, ml_buf_str(&loc));
		goto done;
	}
	if (x->status == 303 && !method_is(x->method, "HEAD")) {
		x->method_changed = x->send_body || !method_is(x->method, "GET");
		x->method = "GET";
		x->send_body = 0;
	}
	rc = prepare_repeat(x);
	if (rc != 0) {
		rc = repeat_error(x, rc, "cannot send the request body again to follow a redirect");
		goto done;
	}
	free(x->url);
	x->url = ml_strdup(next);
	x->auth_ok = ml_http_same_origin(x->req->url, x->url);
done:
	curl_free(next);
	curl_url_cleanup(u);
	ml_buf_dispose(&loc);
	return rc;
}

/* One request/response exchange; returns 0 with x->status, or a curl error as a
 * positive CURLcode, or a negative ml code. */
static int exchange(struct xfer *x)
{
	struct curl_slist *headers = NULL;
	CURLcode rc;
	long status = 0;
	int ret;

	ret = build_headers(x, &headers);
	if (ret < 0)
		return ret;
	x->abort_rc = 0;
	rc = set_options(x, headers);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(x->h->curl);
	curl_easy_setopt(x->h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (x->abort_rc)
		return abort_error(x);
	if (rc != CURLE_OK) {
		long sent = 0;

		curl_easy_getinfo(x->h->curl, CURLINFO_REQUEST_SIZE, &sent);
		x->resp->sent = sent > 0;
		x->resp->transient = curl_retryable(rc);
		return (int)rc;
	}
	curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &status);
	x->status = status;
	log_exchange(x);
	return 0;
}

static int xfer_init(struct xfer *x, struct ml_http *h, const struct ml_http_request *req,
		     struct ml_http_response *resp, struct ml_error *err)
{
	memset(x, 0, sizeof(*x));
	x->h = h;
	x->req = req;
	x->resp = resp;
	x->err = err;
	x->method = req->method ? req->method : (req->flags & ML_HTTP_HEAD) ? "HEAD" : "GET";
	x->url = ml_strdup(req->url);
	x->auth_ok = 1;
	x->send_body = req->body || method_is(x->method, "POST") || method_is(x->method, "PUT") ||
		       method_is(x->method, "PATCH");
	if (method_is(x->method, "HEAD") || (req->flags & ML_HTTP_HEAD))
		x->send_body = 0;
	x->max_retries = !(req->flags & ML_HTTP_RETRY) ? 0 :
			 req->max_retries > 0 ? req->max_retries : DEFAULT_RETRIES;
	x->max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	ml_buf_init(&resp->body, x->max_body);
	if (req->body && req->body->read && req->body->size < -1)
		return ml_error_set(err, ML_EINTERNAL, "%s: request body size %lld", x->method,
				    (long long)req->body->size);
	return 0;
}

int ml_http_do(struct ml_http *h, const struct ml_http_request *req,
	       struct ml_http_response *resp, struct ml_error *err)
{
	struct xfer x;
	char reason[64];
	int rc;

	ml_http_response_init(resp);
	ml_error_clear(err);
	if (!req->url)
		return ml_error_set(err, ML_EINTERNAL, "http request without a URL");
	rc = xfer_init(&x, h, req, resp, err);
	while (rc == 0) {
		rc = exchange(&x);
		if (rc < 0)
			break;
		if (rc > 0) {
			if (!curl_retryable((CURLcode)rc) || x.resp->retries >= x.max_retries ||
			    !can_repeat(&x)) {
				rc = transport_error(&x, (CURLcode)rc);
				break;
			}
			rc = retry_wait(&x, curl_reason((CURLcode)rc), -1);
			continue;
		}
		if (will_follow(&x)) {
			rc = follow(&x);
			continue;
		}
		if (will_retry_status(&x)) {
			snprintf(reason, sizeof(reason), "HTTP %ld", x.status);
			rc = retry_wait(&x, reason, retry_after_ms(resp));
			continue;
		}
		break;
	}
	if (rc == 0) {
		resp->status = x.status;
		resp->url = x.url;
		x.url = NULL;
	}
	free(x.url);
	return rc;
}
