#include "python/pyindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "wrap/http.h"
#include "wrap/json.h"
#include "util/log.h"
#include "python/pytags.h"
#include "util/redact.h"
#include "util/tmpfile.h"

#define PAGE_MAX (64u << 20)
#define ACCEPT "Accept: application/vnd.pypi.simple.v1+json, " \
	"application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

struct source {
	char *url;		/* without credentials; NULL for a directory */
	char *dir;		/* a find-links directory */
	char *auth;		/* "Basic ..." for url's origin, or NULL */
	char *display;		/* redacted, for messages */
	int links_page;		/* a find-links URL: one page of links, not an index */
};

struct ml_pyindex {
	struct source *v;
	size_t n;
	struct ml_http *http;
	struct ml_buf *pages;	/* find-links pages, fetched once: pages[i] for v[i] */
	int *page_loaded;
};

static int add_url_source(struct ml_pyindex *ix, const char *url, int links_page,
			  struct ml_error *err)
{
	struct source *s = &ix->v[ix->n];
	char *user = NULL, *pass = NULL, *clean = NULL;

	memset(s, 0, sizeof(*s));
	s->display = ml_redacted_url(url);
	if (ml_http_url_take_userinfo(url, &clean, &user, &pass) < 0) {
		int rc = ml_error_set(err, ML_ECONFIG, "'%s' is not a URL (hint: write the index "
				      "as https://host/simple)", s->display);
		free(s->display);
		return rc;
	}
	/* the simple API's project URLs are relative to a base ending in '/' */
	s->url = (clean[0] && clean[strlen(clean) - 1] == '/') || links_page ? ml_strdup(clean) :
		 ml_asprintf("%s/", clean);
	if (user) {
		struct ml_buf cred = ML_BUF_INIT, b64 = ML_BUF_INIT;

		ml_buf_printf(&cred, "%s:%s", user, pass);
		ml_base64_encode(&b64, cred.data, cred.len);
		s->auth = ml_asprintf("Basic %s", ml_buf_str(&b64));
		explicit_bzero(cred.data, cred.len);
		ml_buf_dispose(&cred);
		ml_buf_dispose(&b64);
		explicit_bzero(pass, strlen(pass));
	}
	s->links_page = links_page;
	free(clean);
	free(user);
	free(pass);
	ix->n++;
	return 0;
}

int ml_pyindex_new(struct ml_pyindex **out, char *const *indexes, size_t nindexes,
		   char *const *find_links, size_t nfind_links, struct ml_error *err)
{
	struct ml_pyindex *ix = ml_calloc(1, sizeof(*ix));
	size_t i;
	int rc = ml_http_new(&ix->http, err);

	ix->v = ml_calloc(nindexes + nfind_links + 1, sizeof(*ix->v));
	ix->pages = ml_calloc(nindexes + nfind_links + 1, sizeof(*ix->pages));
	ix->page_loaded = ml_calloc(nindexes + nfind_links + 1, sizeof(*ix->page_loaded));
	for (i = 0; i < nindexes && rc == 0; i++)
		rc = add_url_source(ix, indexes[i], 0, err);
	for (i = 0; i < nfind_links && rc == 0; i++) {
		const char *f = find_links[i];

		if (!strncmp(f, "http://", 7) || !strncmp(f, "https://", 8)) {
			rc = add_url_source(ix, f, 1, err);
		} else {
			struct source *s = &ix->v[ix->n++];

			s->dir = ml_strdup(!strncmp(f, "file://", 7) ? f + 7 : f);
			s->display = ml_strdup(s->dir);
		}
	}
	if (rc < 0) {
		ml_pyindex_free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

void ml_pyindex_free(struct ml_pyindex *ix)
{
	size_t i;

	if (!ix)
		return;
	for (i = 0; i < ix->n; i++) {
		free(ix->v[i].url);
		free(ix->v[i].dir);
		if (ix->v[i].auth)
			explicit_bzero(ix->v[i].auth, strlen(ix->v[i].auth));
		free(ix->v[i].auth);
		free(ix->v[i].display);
		ml_buf_dispose(&ix->pages[i]);
	}
	free(ix->v);
	free(ix->pages);
	free(ix->page_loaded);
	ml_http_free(ix->http);
	free(ix);
}

void ml_pyfiles_free(struct ml_pyfile *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(files[i].filename);
		free(files[i].url);
		free(files[i].path);
		free(files[i].sha256);
		free(files[i].requires_python);
	}
	free(files);
}

struct list {
	struct ml_pyfile *v;
	size_t n, alloc;
};

static struct ml_pyfile *list_add(struct list *l, const struct source *s)
{
	struct ml_pyfile *f;

	l->v = ml_grow(l->v, &l->alloc, l->n + 1, sizeof(*l->v));
	f = &l->v[l->n++];
	memset(f, 0, sizeof(*f));
	f->source = s->display;
	return f;
}

static int is_hex64(const char *s, size_t n)
{
	size_t i;

	if (n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The wheel belongs to the project when its file name says so. */
static int wheel_of(const char *filename, const char *normalized)
{
	struct ml_wheelname w;
	int ok;

	if (ml_wheelname_parse(filename, &w, NULL) < 0)
		return 0;
	ok = !strcmp(w.normalized, normalized);
	ml_wheelname_dispose(&w);
	return ok;
}

/* Takes url#sha256=HEX apart. */
static void set_url(struct ml_pyfile *f, const char *abs)
{
	const char *frag = strchr(abs, '#');

	f->url = frag ? ml_strndup(abs, (size_t)(frag - abs)) : ml_strdup(abs);
	if (frag && !strncmp(frag, "#sha256=", 8) && is_hex64(frag + 8, strlen(frag + 8)))
		f->sha256 = ml_strdup(frag + 8);
}

/* ---- PEP 691 JSON ---- */

static int parse_json(const struct source *s, const char *page_url, const char *body, size_t len,
		      const char *normalized, struct list *l, struct ml_error *err)
{
	ml_json *doc = ml_json_parse(body, len, err), *files;
	size_t i;

	if (!doc)
		return ml_error_prefix(err, "%s: the index's JSON page for '%s'", s->display,
				       normalized);
	files = ml_json_get(doc, "files");
	for (i = 0; i < ml_json_size(files); i++) {
		ml_json *e = ml_json_at(files, i), *y;
		const char *name = ml_json_get_str(e, "filename"), *url = ml_json_get_str(e, "url");
		const char *sha = ml_json_get_str(ml_json_get(e, "hashes"), "sha256");
		struct ml_pyfile *f;
		char *abs;

		if (!name || !url || !wheel_of(name, normalized))
			continue;
		abs = ml_http_url_resolve(page_url, url);
		if (!abs)
			continue;
		f = list_add(l, s);
		f->filename = ml_strdup(name);
		set_url(f, abs);
		free(abs);
		if (sha && is_hex64(sha, strlen(sha))) {
			free(f->sha256);
			f->sha256 = ml_strdup(sha);
		}
		f->requires_python = ml_strdup(ml_json_get_str(e, "requires-python"));
		y = ml_json_get(e, "yanked");
		f->yanked = y && (ml_json_str(y) || ml_json_is_true(y));
	}
	ml_json_free(doc);
	return 0;
}

/* ---- PEP 503 HTML ---- */

static void decode_entities(struct ml_buf *out, const char *s, size_t n)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (s[i] != '&') {
			ml_buf_addch(out, s[i]);
			continue;
		}
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
			size_t el = strlen(ents[k].name);

			if (i + 1 + el <= n && !strncmp(s + i + 1, ents[k].name, el)) {
				ml_buf_addch(out, ents[k].c);
				i += el;
				break;
			}
		}
		if (k < sizeof(ents) / sizeof(ents[0]))
			continue;
		if (i + 2 < n && s[i + 1] == '#') {
			int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t j = i + 2 + (size_t)hex;
			unsigned long v = 0;

			while (j < n && j - i < 10 &&
			       ((s[j] >= '0' && s[j] <= '9') ||
				(hex && ((s[j] | 32) >= 'a' && (s[j] | 32) <= 'f')))) {
				v = v * (hex ? 16 : 10) +
				    (unsigned long)(s[j] <= '9' ? s[j] - '0' : (s[j] | 32) - 'a' + 10);
				j++;
			}
			if (j < n && s[j] == ';' && v > 0 && v < 128) {
				ml_buf_addch(out, (char)v);
				i = j;
				continue;
			}
		}
		ml_buf_addch(out, '&');
	}
}

/* The value of attribute name in the tag text [p, end), decoded; NULL when absent.
 * *present tells an attribute without a value from an absent one. */
static char *attr(const char *p, const char *end, const char *name, int *present)
{
	size_t nl = strlen(name);

	if (present)
		*present = 0;
	while (p < end) {
		const char *a, *v;
		size_t al;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '/'))
			p++;
		a = p;
		while (p < end && !strchr(" \t\r\n=/>", *p))
			p++;
		al = (size_t)(p - a);
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		v = NULL;
		if (p < end && *p == '=') {
			p++;
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
				p++;
			if (p < end && (*p == '"' || *p == '\'')) {
				char qc = *p++;

				v = p;
				while (p < end && *p != qc)
					p++;
			} else {
				v = p;
				while (p < end && !strchr(" \t\r\n>", *p))
					p++;
			}
		}
		if (al == nl && !strncasecmp(a, name, nl)) {
			struct ml_buf b = ML_BUF_INIT;

			if (present)
				*present = 1;
			if (v)
				decode_entities(&b, v, (size_t)(p - v));
			else
				ml_buf_adds(&b, "");
			return ml_buf_detach(&b);
		}
		if (p < end && (*p == '"' || *p == '\''))
			p++;
		if (al == 0 && p < end && !v)
			p++;
	}
	return NULL;
}

static char *trimmed_text(const char *s, size_t n)
{
	struct ml_buf b = ML_BUF_INIT;

	while (n && strchr(" \t\r\n", *s)) {
		s++;
		n--;
	}
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	decode_entities(&b, s, n);
	return ml_buf_detach(&b);
}

static int parse_html(const struct source *s, const char *page_url, const char *body, size_t len,
		      const char *normalized, struct list *l)
{
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *tag = memchr(p, '<', (size_t)(end - p)), *tend, *close;
		char *href, *text, *abs, *base, *rp;
		int yanked;
		struct ml_pyfile *f;

		if (!tag || tag + 2 >= end)
			break;
		p = tag + 1;
		if ((tag[1] != 'a' && tag[1] != 'A') || !strchr(" \t\r\n", tag[2]))
			continue;
		tend = memchr(tag, '>', (size_t)(end - tag));
		if (!tend)
			break;
		close = tend + 1;
		while (close < end && !(close[0] == '<' && close + 1 < end && close[1] == '/'))
			close++;
		href = attr(tag + 2, tend, "href", NULL);
		text = trimmed_text(tend + 1, (size_t)(close - tend - 1));
		p = close;
		if (!href) {
			free(text);
			continue;
		}
		/* the anchor's text is the file name; else the URL's last segment */
		base = ml_strdup(href);
		if ((rp = strpbrk(base, "#?")))
			*rp = '\0';
		rp = strrchr(base, '/');
		if (!text[0]) {
			free(text);
			text = ml_strdup(rp ? rp + 1 : base);
		}
		free(base);
		if (!wheel_of(text, normalized) || !(abs = ml_http_url_resolve(page_url, href))) {
			free(href);
			free(text);
			continue;
		}
		f = list_add(l, s);
		f->filename = text;
		set_url(f, abs);
		free(abs);
		free(href);
		f->requires_python = attr(tag + 2, tend, "data-requires-python", NULL);
		free(attr(tag + 2, tend, "data-yanked", &yanked));
		f->yanked = yanked;
	}
	return 0;
}

/* PEP 691 JSON when the server says so, else PEP 503 HTML. */
static int parse_page(const struct source *s, const char *page_url, const char *content_type,
		      const char *body, size_t len, const char *normalized, struct list *l,
		      struct ml_error *err)
{
	if (content_type && !strncasecmp(content_type, "application/vnd.pypi.simple.v1+json", 35))
		return parse_json(s, page_url, body, len, normalized, l, err);
	return parse_html(s, page_url, body, len, normalized, l);
}

int ml_pyindex_parse_page(const char *page_url, const char *content_type, const char *body,
			  size_t len, const char *normalized, struct ml_pyfile **files, size_t *n,
			  struct ml_error *err)
{
	static char display[] = "page";
	struct source s = { .display = display };
	struct list l = { 0 };
	int rc = parse_page(&s, page_url, content_type, body, len, normalized, &l, err);

	if (rc < 0) {
		ml_pyfiles_free(l.v, l.n);
		return rc;
	}
	*files = l.v;
	*n = l.n;
	return 0;
}

/* ---- sources ---- */

static int get_page(struct ml_pyindex *ix, const struct source *s, const char *url,
		    struct ml_http_response *resp, struct ml_error *err)
{
	const char *headers[] = { ACCEPT };
	struct ml_http_request req = {
		.url = url,
		.headers = headers,
		.nheaders = 1,
		.auth = s->auth,
		.max_body = PAGE_MAX,
		.flags = ML_HTTP_FOLLOW | ML_HTTP_RETRY | ML_HTTP_NETRC,
		.timeout_s = 300,
	};
	int rc = ml_http_do(ix->http, &req, resp, err);

	if (rc < 0)
		return ml_error_prefix(err, "package index %s unreachable (hint: check the URL and "
				       "the network, or set image.python.index)", s->display);
	if (resp->status == 401 || resp->status == 403)
		return ml_error_set(err, ML_EAUTH, "package index %s refused access (HTTP %ld; hint: "
				    "put user:password@ in the index URL, or a login for its host "
				    "in ~/.netrc)", s->display, resp->status);
	return 0;
}

static int from_url(struct ml_pyindex *ix, size_t si, const char *normalized, struct list *l,
		    struct ml_error *err)
{
	const struct source *s = &ix->v[si];
	struct ml_http_response resp;
	char *url = s->links_page ? ml_strdup(s->url) : ml_asprintf("%s%s/", s->url, normalized);
	const char *ct;
	int rc;

	rc = get_page(ix, s, url, &resp, err);
	if (rc < 0)
		goto out;
	if (resp.status == 404 || resp.status == 410)
		goto out;
	if (resp.status != 200) {
		rc = ml_error_set(err, ML_EPROTO, "package index %s answered HTTP %ld for project "
				  "'%s'", s->display, resp.status, normalized);
		goto out;
	}
	ct = ml_http_response_header(&resp, "Content-Type");
	rc = parse_page(s, resp.url ? resp.url : url, ct, ml_buf_str(&resp.body), resp.body.len,
			normalized, l, err);
out:
	ml_http_response_dispose(&resp);
	free(url);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int from_dir(const struct source *s, const char *normalized, struct list *l,
		    struct ml_error *err)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0, i;

	if (!d)
		return ml_error_errno(err, ML_ECONFIG, errno, "cannot read find-links directory '%s'",
				      s->dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > 4 && !strcmp(de->d_name + len - 4, ".whl") && wheel_of(de->d_name, normalized)) {
			names = ml_grow(names, &alloc, n + 1, sizeof(*names));
			names[n++] = ml_strdup(de->d_name);
		}
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		struct ml_pyfile *f = list_add(l, s);

		f->filename = names[i];
		f->path = ml_path_join(s->dir, names[i]);
	}
	free(names);
	return 0;
}

int ml_pyindex_project(struct ml_pyindex *ix, const char *normalized, struct ml_pyfile **files,
		       size_t *n, struct ml_error *err)
{
	struct list l = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < ix->n && rc == 0; i++)
		rc = ix->v[i].dir ? from_dir(&ix->v[i], normalized, &l, err) :
		     from_url(ix, i, normalized, &l, err);
	if (rc < 0) {
		ml_pyfiles_free(l.v, l.n);
		return rc;
	}
	*files = l.v;
	*n = l.n;
	return 0;
}

/* ---- downloads ---- */

struct sink {
	int fd;
	struct ml_sha256 *h;
	uint64_t done, reported;
	const char *id;
	struct ml_error *err;
};

static int sink_write(void *ud, const void *data, size_t len)
{
	struct sink *s = ud;
	int rc = ml_write_all(s->fd, data, len, s->err);

	ml_sha256_update(s->h, data, len);
	s->done += len;
	if (s->done - s->reported >= (1u << 20)) {
		ml_progress_update(s->id, s->done);
		s->reported = s->done;
	}
	return rc;
}

static int sink_reset(void *ud)
{
	struct sink *s = ud;

	ml_sha256_reset(s->h);
	s->done = s->reported = 0;
	if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
		return -ML_EIO;
	return 0;
}

static const struct source *source_of(const struct ml_pyindex *ix, const struct ml_pyfile *f)
{
	size_t i;

	for (i = 0; i < ix->n; i++)
		if (ix->v[i].display == f->source)
			return &ix->v[i];
	return NULL;
}

static int check_sha(const struct ml_pyfile *f, const char *digest, struct ml_error *err)
{
	if (f->sha256 && strcmp(ml_digest_hex(digest), f->sha256))
		return ml_error_set(err, ML_EDIGEST, "%s from %s does not match the index's hash: "
				    "got %s, expected sha256:%s (hint: the index or a proxy serves a "
				    "different file; nothing was installed)", f->filename, f->source,
				    digest, f->sha256);
	return 0;
}

static int download(struct ml_pyindex *ix, const struct ml_pyfile *f, struct ml_cache *cache,
		    char digest[ML_DIGEST_LEN], int64_t *size, struct ml_error *err)
{
	const struct source *s = source_of(ix, f);
	struct sink sk = { .id = f->filename, .err = err };
	struct ml_http_sink hs = { .write = sink_write, .reset = sink_reset, .ud = &sk };
	struct ml_http_request req = {
		.url = f->url,
		.sink = &hs,
		.flags = ML_HTTP_FOLLOW | ML_HTTP_RETRY | ML_HTTP_NETRC,
	};
	struct ml_http_response resp;
	char *tmp = NULL;
	int rc;

	/* the index's login goes to the index's own origin only */
	if (s && s->auth && s->url && ml_http_same_origin(s->url, f->url))
		req.auth = s->auth;
	rc = ml_cache_tmp(cache, &tmp, &sk.fd, err);
	if (rc < 0)
		return rc;
	sk.h = ml_sha256_new();
	ml_progress_start(f->filename, f->filename, 0);
	rc = ml_http_do(ix->http, &req, &resp, err);
	if (rc == 0 && resp.status != 200)
		rc = ml_error_set(err, resp.status == 401 || resp.status == 403 ? ML_EAUTH : ML_ENET,
				  "downloading %s from %s: HTTP %ld", f->filename, f->source,
				  resp.status);
	ml_http_response_dispose(&resp);
	if (rc == 0) {
		ml_sha256_final(sk.h, digest);
		*size = (int64_t)sk.done;
		rc = check_sha(f, digest, err);
	}
	if (close(sk.fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write %s to the cache", f->filename);
	if (rc == 0)
		rc = ml_cache_blob_commit(cache, tmp, digest, err);
	else
		ml_tmp_remove(tmp);
	ml_progress_update(f->filename, sk.done);
	ml_progress_finish(f->filename, rc < 0 ? "failed" : "downloaded");
	ml_sha256_free(sk.h);
	free(tmp);
	return rc;
}

int ml_pyindex_fetch(struct ml_pyindex *ix, const struct ml_pyfile *f, struct ml_cache *cache,
		     char digest[ML_DIGEST_LEN], int64_t *size, char **path, struct ml_error *err)
{
	uint64_t sz = 0;
	int fd, rc;

	*path = NULL;
	if (f->path) {
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ml_error_errno(err, ML_EIO, errno, "cannot open '%s'", f->path);
		rc = ml_sha256_fd(fd, digest, &sz, err);
		close(fd);
		if (rc < 0)
			return rc;
		*size = (int64_t)sz;
		*path = ml_strdup(f->path);
		return 0;
	}
	if (f->sha256) {
		snprintf(digest, ML_DIGEST_LEN, "sha256:%s", f->sha256);
		if (ml_cache_blob_present(cache, digest, -1)) {
			struct stat st;

			*path = ml_cache_blob_path(cache, digest);
			*size = stat(*path, &st) == 0 ? (int64_t)st.st_size : 0;
			ml_log(ML_LOG_INFO, "%s: in the cache", f->filename);
			return 0;
		}
	}
	rc = download(ix, f, cache, digest, size, err);
	if (rc == 0)
		*path = ml_cache_blob_path(cache, digest);
	return rc;
}
