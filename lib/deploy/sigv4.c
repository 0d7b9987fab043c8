/* AWS Signature Version 4 (the "Signing AWS API requests" guide): the canonical
 * request, the string to sign, the derived key and the Authorization header. */
#include "deploy/sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "wrap/digest.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

void ml_aws_credentials_dispose(struct ml_aws_credentials *c)
{
	if (!c)
		return;
	free(c->access_key_id);
	ml_free_secret(c->secret_access_key);
	ml_free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

void ml_aws_credentials_copy(struct ml_aws_credentials *dst, const struct ml_aws_credentials *src)
{
	dst->access_key_id = ml_strdup(src->access_key_id);
	dst->secret_access_key = ml_strdup(src->secret_access_key);
	dst->session_token = ml_strdup(src->session_token);
	dst->expiration = src->expiration;
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int ml_sigv4_uri_encode(struct ml_buf *out, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (unreserved(c) || (keep_slash && c == '/'))
			rc = ml_buf_addch(out, (char)c);
		else
			rc = ml_buf_add(out, esc, 3);
	}
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decoding of a query component ('+' stays '+', a stray '%' stays too). */
static char *pct_decode(const char *s, size_t n, size_t *len)
{
	char *d = ml_malloc(n + 1);
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			d[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			d[j++] = s[i];
		}
	}
	d[j] = 0;
	*len = j;
	return d;
}

/* The parts of an absolute URL the signature covers. */
struct url_parts {
	const char *host, *path, *query;
	size_t host_len, path_len, query_len;
};

static int split_url(const char *url, struct url_parts *u, int *https, struct ml_error *err)
{
	const char *p = strstr(url, "://"), *auth, *end, *at, *port;

	memset(u, 0, sizeof(*u));
	if (!p)
		return ml_error_set(err, ML_EINTERNAL, "sigv4: not an absolute URL");
	*https = (size_t)(p - url) == 5 && !strncasecmp(url, "https", 5);
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at)
		auth = at + 1;
	u->host = auth;
	u->host_len = (size_t)(end - auth);
	/* the default port is not part of the Host header curl sends */
	port = memrchr(auth, ':', u->host_len);
	if (port && !memchr(port, ']', (size_t)(end - port)) &&
	    (((size_t)(end - port) == 4 && !strncmp(port, ":443", 4) && *https) ||
	     ((size_t)(end - port) == 3 && !strncmp(port, ":80", 3) && !*https)))
		u->host_len = (size_t)(port - auth);
	u->path = end;
	u->path_len = strcspn(end, "?#");
	if (end[u->path_len] == '?') {
		u->query = end + u->path_len + 1;
		u->query_len = strcspn(u->query, "#");
	}
	return 0;
}

/* RFC 3986 section 5.2.4 with empty segments dropped too, as AWS services want
 * it (S3 excepted): "//a/./b/../c/" is "/a/c/". */
static char *normalize_path(const char *path, size_t n)
{
	const char **seg = ml_malloc((n / 2 + 2) * sizeof(*seg));
	size_t *len = ml_malloc((n / 2 + 2) * sizeof(*len));
	size_t nseg = 0, i = 0, k;
	struct ml_buf out = ML_BUF_INIT;

	while (i < n) {
		size_t j = i;

		while (j < n && path[j] != '/')
			j++;
		if (j - i == 2 && !strncmp(path + i, "..", 2)) {
			if (nseg)
				nseg--;
		} else if (j > i && !(j - i == 1 && path[i] == '.')) {
			seg[nseg] = path + i;
			len[nseg++] = j - i;
		}
		i = j + 1;
	}
	ml_buf_addch(&out, '/');
	for (k = 0; k < nseg; k++) {
		ml_buf_add(&out, seg[k], len[k]);
		if (k + 1 < nseg || path[n - 1] == '/')
			ml_buf_addch(&out, '/');
	}
	free(seg);
	free(len);
	return ml_buf_detach(&out);
}

static int canonical_path(struct ml_buf *out, const struct ml_sigv4_params *p,
			  const struct url_parts *u)
{
	char *norm;
	int rc;

	if (!u->path_len)
		return ml_buf_addch(out, '/');
	if (p->s3)
		return ml_buf_add(out, u->path, u->path_len);
	/* the path on the wire is encoded once already: encoding it again is the rule */
	norm = normalize_path(u->path, u->path_len);
	rc = ml_sigv4_uri_encode(out, norm, strlen(norm), 1);
	free(norm);
	return rc;
}

struct qparam {
	char *kv;	/* "key=value", both encoded */
	size_t klen;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->kv, y->kv, n);

	if (c)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return strcmp(x->kv + x->klen, y->kv + y->klen);
}

static void add_encoded(struct ml_buf *b, const char *s, size_t n)
{
	size_t len;
	char *d = pct_decode(s, n, &len);

	ml_sigv4_uri_encode(b, d, len, 0);
	free(d);
}

/* Each name and value decoded, encoded again (so the result is the same whether
 * the caller encoded them or not), sorted by name, then value. */
static int canonical_query(struct ml_buf *out, const struct url_parts *u)
{
	struct qparam *q;
	size_t n = 1, i = 0, k, nq = 0;
	int rc = 0;

	if (!u->query_len)
		return 0;
	for (k = 0; k < u->query_len; k++)
		n += u->query[k] == '&';
	q = ml_calloc(n, sizeof(*q));
	while (i <= u->query_len) {
		size_t j = i, e;
		struct ml_buf b = ML_BUF_INIT;

		while (j < u->query_len && u->query[j] != '&')
			j++;
		if (j > i) {
			e = i;
			while (e < j && u->query[e] != '=')
				e++;
			add_encoded(&b, u->query + i, e - i);
			q[nq].klen = b.len;
			ml_buf_addch(&b, '=');
			if (e < j)
				add_encoded(&b, u->query + e + 1, j - e - 1);
			q[nq++].kv = ml_buf_detach(&b);
		}
		i = j + 1;
	}
	qsort(q, nq, sizeof(*q), qparam_cmp);
	for (k = 0; k < nq && rc == 0; k++) {
		if (k)
			rc = ml_buf_addch(out, '&');
		if (rc == 0)
			rc = ml_buf_adds(out, q[k].kv);
	}
	for (k = 0; k < nq; k++)
		free(q[k].kv);
	free(q);
	return rc;
}

struct hdr {
	char *name;	/* lower-case */
	char *value;	/* trimmed, inner runs of white space as one space */
	size_t order;
};

struct hdrs {
	struct hdr *v;
	size_t n, alloc;
};

static void hdrs_add(struct hdrs *h, const char *name, size_t nlen, const char *value)
{
	struct ml_buf b = ML_BUF_INIT;
	struct hdr *x;
	size_t i;

	h->v = ml_grow(h->v, &h->alloc, h->n + 1, sizeof(*h->v));
	x = &h->v[h->n];
	x->name = ml_strndup(name, nlen);
	for (i = 0; i < nlen; i++)
		x->name[i] = (char)tolower((unsigned char)x->name[i]);
	while (*value) {
		size_t ws = strspn(value, " \t\r\n"), word;

		value += ws;
		word = strcspn(value, " \t\r\n");
		if (!word)
			break;
		if (b.len)
			ml_buf_addch(&b, ' ');
		ml_buf_add(&b, value, word);
		value += word;
	}
	x->value = b.data ? ml_buf_detach(&b) : ml_strdup("");
	x->order = h->n++;
}

static int hdrs_has(const struct hdrs *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].name, name))
			return 1;
	return 0;
}

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->order < y->order ? -1 : 1);
}

static void hdrs_dispose(struct hdrs *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		ml_free_secret(h->v[i].value);
	}
	free(h->v);
}

/* Headers a proxy or the HTTP library may change are left out, as the SDKs do. */
static int unsigned_header(const char *name)
{
	static const char *const skip[] = { "authorization", "user-agent", "expect",
					     "x-amzn-trace-id", "content-length",
					     "connection", "transfer-encoding", NULL };
	size_t i;

	for (i = 0; skip[i]; i++)
		if (!strcmp(name, skip[i]))
			return 1;
	return 0;
}

/* Everything one signature is made of. */
struct signing {
	char amz_date[17];	/* 20150830T123600Z */
	char date[9];		/* 20150830 */
	char payload[65];
	struct hdrs h;		/* every header, sorted */
	int add_date, add_token, add_sha;
	struct ml_buf creq;
	struct ml_buf signed_names;
};

static void signing_dispose(struct signing *s)
{
	hdrs_dispose(&s->h);
	ml_buf_dispose(&s->creq);
	ml_buf_dispose(&s->signed_names);
}

static int collect_headers(struct signing *s, const struct ml_sigv4_params *p, const char *token,
			   const struct ml_rest_sign *req, const struct url_parts *u,
			   struct ml_error *err)
{
	char host[512];
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		const char *line = req->headers[i], *colon = strchr(line, ':');

		if (!colon || colon == line)
			return ml_error_set(err, ML_EINTERNAL, "sigv4: malformed request header");
		hdrs_add(&s->h, line, (size_t)(colon - line), colon + 1);
		if (unsigned_header(s->h.v[s->h.n - 1].name)) {
			s->h.n--;
			free(s->h.v[s->h.n].name);
			ml_free_secret(s->h.v[s->h.n].value);
		}
	}
	if (!hdrs_has(&s->h, "host")) {
		if (u->host_len >= sizeof(host))
			return ml_error_set(err, ML_EINTERNAL, "sigv4: host name too long");
		memcpy(host, u->host, u->host_len);
		host[u->host_len] = 0;
		hdrs_add(&s->h, "host", 4, host);
	}
	s->add_date = !hdrs_has(&s->h, "x-amz-date");
	if (s->add_date)
		hdrs_add(&s->h, "x-amz-date", 10, s->amz_date);
	s->add_token = token && !hdrs_has(&s->h, "x-amz-security-token");
	if (s->add_token)
		hdrs_add(&s->h, "x-amz-security-token", 20, token);
	s->add_sha = p->s3 && !hdrs_has(&s->h, "x-amz-content-sha256");
	if (s->add_sha)
		hdrs_add(&s->h, "x-amz-content-sha256", 20, s->payload);
	qsort(s->h.v, s->h.n, sizeof(*s->h.v), hdr_cmp);
	return 0;
}

static int add_canonical_headers(struct signing *s)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < s->h.n && rc == 0; i++) {
		const struct hdr *x = &s->h.v[i];
		int same = i && !strcmp(s->h.v[i - 1].name, x->name);

		/* a header given several times is one name with its values in order */
		if (same) {
			rc = ml_buf_printf(&s->creq, ",%s", x->value);
			continue;
		}
		if (i)
			ml_buf_addch(&s->creq, '\n');
		rc = ml_buf_printf(&s->creq, "%s:%s", x->name, x->value);
		if (rc == 0)
			rc = ml_buf_printf(&s->signed_names, "%s%s", s->signed_names.len ? ";" : "",
					   x->name);
	}
	if (rc == 0)
		rc = ml_buf_adds(&s->creq, "\n");
	return rc;
}

static int signing_build(struct signing *s, const struct ml_sigv4_params *p, const char *token,
			 const struct ml_rest_sign *req, struct ml_error *err)
{
	time_t now = p->now ? (time_t)p->now : time(NULL);
	struct url_parts u;
	struct tm tm;
	const char *m;
	int https, rc;

	memset(s, 0, sizeof(*s));
	ml_buf_init(&s->creq, 1u << 20);
	ml_buf_init(&s->signed_names, 1u << 16);
	if (!p->region || !*p->region || !p->service || !*p->service)
		return ml_error_set(err, ML_EINTERNAL, "sigv4: no region or service");
	if (!gmtime_r(&now, &tm) || !strftime(s->amz_date, sizeof(s->amz_date), "%Y%m%dT%H%M%SZ", &tm))
		return ml_error_set(err, ML_EINTERNAL, "sigv4: cannot format the date");
	memcpy(s->date, s->amz_date, 8);
	if (p->payload_hash) {
		if (strlen(p->payload_hash) >= sizeof(s->payload))
			return ml_error_set(err, ML_EINTERNAL, "sigv4: malformed payload hash");
		memcpy(s->payload, p->payload_hash, strlen(p->payload_hash) + 1);
	} else {
		unsigned char raw[ML_SHA256_LEN];

		ml_sha256_raw(req->body ? req->body : "", req->body ? req->body_len : 0, raw);
		ml_hex_encode(s->payload, raw, sizeof(raw));
	}
	rc = split_url(req->url, &u, &https, err);
	if (rc == 0)
		rc = collect_headers(s, p, token, req, &u, err);
	if (rc < 0)
		return rc;
	for (m = req->method; *m; m++)
		ml_buf_addch(&s->creq, (char)toupper((unsigned char)*m));
	ml_buf_addch(&s->creq, '\n');
	rc = canonical_path(&s->creq, p, &u);
	if (rc == 0)
		rc = ml_buf_addch(&s->creq, '\n');
	if (rc == 0)
		rc = canonical_query(&s->creq, &u);
	if (rc == 0)
		rc = ml_buf_addch(&s->creq, '\n');
	if (rc == 0)
		rc = add_canonical_headers(s);
	if (rc == 0)
		rc = ml_buf_printf(&s->creq, "\n%s\n%s", ml_buf_str(&s->signed_names), s->payload);
	if (rc < 0)
		return ml_error_set(err, ML_ETOOBIG, "sigv4: the request is too large to sign");
	return 0;
}

static void string_to_sign(const struct signing *s, const struct ml_sigv4_params *p,
			   struct ml_buf *out)
{
	unsigned char raw[ML_SHA256_LEN];
	char hex[2 * ML_SHA256_LEN + 1];

	ml_sha256_raw(s->creq.data, s->creq.len, raw);
	ml_hex_encode(hex, raw, sizeof(raw));
	ml_buf_printf(out, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", s->amz_date, s->date,
		      p->region, p->service, hex);
}

int ml_sigv4_canonical_request(const struct ml_sigv4_params *p, const struct ml_rest_sign *req,
			       struct ml_buf *out, struct ml_error *err)
{
	struct signing s;
	int rc = signing_build(&s, p, NULL, req, err);

	ml_buf_reset(out);
	if (rc == 0 && ml_buf_add(out, s.creq.data, s.creq.len) < 0)
		rc = ml_error_set(err, ML_ETOOBIG, "sigv4: the canonical request is too large");
	signing_dispose(&s);
	return rc;
}

int ml_sigv4_string_to_sign(const struct ml_sigv4_params *p, const struct ml_rest_sign *req,
			    struct ml_buf *out, struct ml_error *err)
{
	struct signing s;
	int rc = signing_build(&s, p, NULL, req, err);

	ml_buf_reset(out);
	if (rc == 0)
		string_to_sign(&s, p, out);
	signing_dispose(&s);
	return rc;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static void signature(const struct ml_aws_credentials *c, const struct ml_sigv4_params *p,
		      const struct signing *s, const struct ml_buf *sts, char hex[65])
{
	unsigned char k[ML_SHA256_LEN], sig[ML_SHA256_LEN];
	char *first = ml_asprintf("AWS4%s", c->secret_access_key);

	ml_hmac_sha256(first, strlen(first), s->date, strlen(s->date), k);
	ml_free_secret(first);
	ml_hmac_sha256(k, sizeof(k), p->region, strlen(p->region), k);
	ml_hmac_sha256(k, sizeof(k), p->service, strlen(p->service), k);
	ml_hmac_sha256(k, sizeof(k), "aws4_request", 12, k);
	ml_hmac_sha256(k, sizeof(k), sts->data, sts->len, sig);
	ml_hex_encode(hex, sig, sizeof(sig));
	ml_wipe(k, sizeof(k));
	ml_wipe(sig, sizeof(sig));
}

int ml_sigv4_sign(const struct ml_sigv4_params *p, const struct ml_aws_credentials *c,
		  const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		  struct ml_error *err)
{
	struct ml_buf sts = ML_BUF_INIT;
	struct signing s;
	char hex[65], **h;
	size_t n = 0;
	int rc;

	*headers = NULL;
	*nheaders = 0;
	if (!c || !c->access_key_id || !*c->access_key_id || !c->secret_access_key)
		return ml_error_set(err, ML_EAUTH, "sigv4: no AWS credentials to sign with");
	rc = signing_build(&s, p, c->session_token && *c->session_token ? c->session_token : NULL,
			   req, err);
	if (rc < 0)
		goto out;
	string_to_sign(&s, p, &sts);
	signature(c, p, &s, &sts, hex);
	h = ml_calloc(4, sizeof(*h));
	h[n++] = ml_asprintf("Authorization: " ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, "
			     "SignedHeaders=%s, Signature=%s", c->access_key_id, s.date, p->region,
			     p->service, ml_buf_str(&s.signed_names), hex);
	ml_wipe(hex, sizeof(hex));
	if (s.add_date)
		h[n++] = ml_asprintf("X-Amz-Date: %s", s.amz_date);
	if (s.add_token)
		h[n++] = ml_asprintf("X-Amz-Security-Token: %s", c->session_token);
	if (s.add_sha)
		h[n++] = ml_asprintf("x-amz-content-sha256: %s", s.payload);
	*headers = h;
	*nheaders = n;
out:
	ml_buf_dispose(&sts);
	signing_dispose(&s);
	return rc;
}
