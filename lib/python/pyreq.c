#include "python/pyreq.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define PYREQS_MAX (16u << 20)

#define HINT_PIN "`pip freeze` or `pip-compile` writes a complete pinned set"
#define HINT_WHEEL "build a wheel and add its directory to image.python.find_links"
#define HINT_ONE_SET "concatenate the files or compile one pinned set with pip-compile"
#define HINT_HASH "use sha256, e.g. pip-compile --generate-hashes"

/* Where a piece of a logical line (physical lines joined by "\") comes from. */
struct piece {
	size_t off;	/* in the logical line */
	int line;	/* physical line, 1-based */
};

struct token {
	size_t off, len;
};

/* One logical line being parsed. */
struct lline {
	struct ml_buf text;
	struct piece *pieces;
	size_t npieces, apieces;
	struct token *tok;
	size_t ntok, atok;
};

struct ctx {
	const char *path;
	const struct ml_pyenv *env;
	struct ml_pyreqs *out;
	size_t areqs, aextra, afind;
	struct lline *l;
	struct ml_error *err;
};

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r' || c == '\n';
}

static void locate(const struct lline *l, size_t off, int *line, int *col)
{
	size_t i = l->npieces - 1;

	while (i > 0 && l->pieces[i].off > off)
		i--;
	*line = l->pieces[i].line;
	*col = (int)(off - l->pieces[i].off) + 1;
}

/* ml_error_set with "path:line:col: " in front, for offset off of the line. */
static int fail_at(struct ctx *c, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct ctx *c, size_t off, const char *fmt, ...)
{
	struct ml_buf b = ML_BUF_INIT;
	va_list ap;
	int line, col, rc;

	locate(c->l, off, &line, &col);
	ml_buf_printf(&b, "%s:%d:%d: ", c->path, line, col);
	va_start(ap, fmt);
	ml_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rc = ml_error_set(c->err, ML_ECONFIG, "%s", ml_buf_str(&b));
	ml_buf_dispose(&b);
	return rc;
}

static const char *tok_str(const struct ctx *c, size_t i)
{
	return c->l->text.data + c->l->tok[i].off;
}

static void tokenize(struct lline *l)
{
	const char *s = ml_buf_str(&l->text);
	size_t i = 0, start;

	l->ntok = 0;
	for (;;) {
		while (s[i] && is_ws(s[i]))
			i++;
		if (!s[i])
			return;
		start = i;
		while (s[i] && !is_ws(s[i]))
			i++;
		l->tok = ml_grow(l->tok, &l->atok, l->ntok + 1, sizeof(*l->tok));
		l->tok[l->ntok].off = start;
		l->tok[l->ntok].len = i - start;
		l->ntok++;
	}
}

enum opt_kind {
	OPT_INDEX, OPT_EXTRA_INDEX, OPT_FIND_LINKS, OPT_NO_INDEX, OPT_IGNORED, OPT_IGNORED_FLAG,
	OPT_HASH, OPT_INCLUDE, OPT_EDITABLE,
};

static const struct opt {
	const char *shortname, *longname;
	enum opt_kind kind;
	int value;
} opts[] = {
	{ "-i", "--index-url", OPT_INDEX, 1 },
	{ NULL, "--extra-index-url", OPT_EXTRA_INDEX, 1 },
	{ "-f", "--find-links", OPT_FIND_LINKS, 1 },
	{ NULL, "--no-index", OPT_NO_INDEX, 0 },
	{ NULL, "--only-binary", OPT_IGNORED, 1 },
	{ NULL, "--prefer-binary", OPT_IGNORED_FLAG, 0 },
	{ NULL, "--trusted-host", OPT_IGNORED, 1 },
	{ NULL, "--hash", OPT_HASH, 1 },
	{ "-r", "--requirement", OPT_INCLUDE, 1 },
	{ "-c", "--constraint", OPT_INCLUDE, 1 },
	{ "-e", "--editable", OPT_EDITABLE, 1 },
};

/* Finds the option of token i; *value gets its value (from "=", the rest of a
 * short option or the next token, then *i moves past it). */
static int find_opt(struct ctx *c, size_t *i, const struct opt **o, char **value)
{
	const char *t = tok_str(c, *i);
	size_t tlen = c->l->tok[*i].len, n, k;
	const char *attached = NULL;

	*value = NULL;
	for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
		n = strlen(opts[k].longname);
		if (tlen >= n && !strncmp(t, opts[k].longname, n) && (tlen == n || t[n] == '=')) {
			attached = tlen > n ? t + n + 1 : NULL;
			break;
		}
		if (opts[k].shortname && tlen >= 2 && !strncmp(t, opts[k].shortname, 2) &&
		    (opts[k].value || tlen == 2)) {
			attached = tlen > 2 ? t + 2 : NULL;
			break;
		}
	}
	if (k == sizeof(opts) / sizeof(opts[0]))
		return fail_at(c, c->l->tok[*i].off, "unknown option '%.*s'", (int)tlen, t);
	*o = &opts[k];
	if (!opts[k].value) {
		if (attached)
			return fail_at(c, c->l->tok[*i].off, "option '%s' takes no value",
				       opts[k].longname);
		return 0;
	}
	if (attached) {
		*value = ml_strndup(attached, (size_t)(t + tlen - attached));
	} else if (*i + 1 < c->l->ntok) {
		(*i)++;
		*value = ml_strndup(tok_str(c, *i), c->l->tok[*i].len);
	}
	if (!*value || !**value) {
		free(*value);
		*value = NULL;
		return fail_at(c, c->l->tok[*i].off, "option '%s' needs a value", opts[k].longname);
	}
	return 0;
}

static int add_hash(struct ctx *c, struct ml_pyreq *r, size_t off, char *value, size_t *alloc)
{
	char *colon = strchr(value, ':');
	size_t i, n;

	if (!colon)
		return fail_at(c, off, "'%s': invalid --hash value '%s' (hint: write "
			       "--hash=sha256:<64 hex digits>)", r->name, value);
	if ((size_t)(colon - value) != 6 || strncmp(value, "sha256", 6))
		return fail_at(c, off, "'%s': hash algorithm '%.*s' is not supported (hint: "
			       HINT_HASH ")", r->name, (int)(colon - value), value);
	n = strlen(colon + 1);
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)colon[1 + i]))
			break;
	if (i != 64 || n != 64)
		return fail_at(c, off, "'%s': invalid sha256 hash '%s' (hint: 64 hex digits)",
			       r->name, colon + 1);
	for (i = 0; i < n; i++)
		colon[1 + i] = (char)tolower((unsigned char)colon[1 + i]);
	r->hashes = ml_grow(r->hashes, alloc, r->nhashes + 1, sizeof(*r->hashes));
	r->hashes[r->nhashes++] = ml_strdup(value);
	return 0;
}

static void add_str(char ***v, size_t *n, size_t *alloc, char *s)
{
	*v = ml_grow(*v, alloc, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

/* Options from token i on; r is the requirement of the line, or NULL. */
static int options(struct ctx *c, size_t i, struct ml_pyreq *r)
{
	struct ml_pyreqs *out = c->out;
	const struct opt *o = NULL;
	size_t start, ahash = 0;
	char *value = NULL;
	int rc = 0;

	for (; i < c->l->ntok && rc == 0; i++) {
		start = c->l->tok[i].off;
		rc = find_opt(c, &i, &o, &value);
		if (rc < 0)
			break;
		if (r && o->kind != OPT_HASH)
			rc = fail_at(c, start, "option '%s' must be on a line of its own", o->longname);
		else if (!r && o->kind == OPT_HASH)
			rc = fail_at(c, start, "'--hash' must follow a requirement on its line");
		else if (o->kind == OPT_HASH)
			rc = add_hash(c, r, start, value, &ahash);
		else if (o->kind == OPT_INCLUDE)
			rc = fail_at(c, start, "'%s %s' is refused: mldeploy reads one complete "
				     "pinned set from one file (hint: " HINT_ONE_SET ")",
				     o->shortname, value);
		else if (o->kind == OPT_EDITABLE)
			rc = fail_at(c, start, "'-e %s' is refused: editable installs need the "
				     "source tree (hint: " HINT_WHEEL ")", value);
		if (rc < 0)
			break;
		switch (o->kind) {
		case OPT_INDEX:
			free(out->index_url);
			out->index_url = value;
			value = NULL;
			break;
		case OPT_EXTRA_INDEX:
			add_str(&out->extra_index_urls, &out->nextra_index_urls, &c->aextra, value);
			value = NULL;
			break;
		case OPT_FIND_LINKS:
			add_str(&out->find_links, &out->nfind_links, &c->afind, value);
			value = NULL;
			break;
		case OPT_NO_INDEX:
			out->no_index = 1;
			break;
		default:
			break;
		}
		free(value);
		value = NULL;
	}
	free(value);
	return rc;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !strncasecmp(s + n - k, suffix, k);
}

/* pip reads such a requirement as a URL or a path, not a project name. */
static int is_url_or_path(const char *s, size_t n)
{
	size_t i;

	if (!n || strchr("./~\\", s[0]))
		return 1;
	for (i = 0; i < n && s[i] != ';' && s[i] != '@'; i++)
		if (s[i] == '/' || s[i] == '\\' || (s[i] == ':' && i + 1 < n && s[i + 1] == '/'))
			return 1;
	return ends_with(s, i, ".whl") || ends_with(s, i, ".tar.gz") || ends_with(s, i, ".zip") ||
	       ends_with(s, i, ".tar.bz2") || ends_with(s, i, ".tgz");
}

static void req_dispose(struct ml_pyreq *r)
{
	free(r->name);
	free(r->normalized);
	free(r->version);
	ml_free_strings(r->extras, r->nextras);
	ml_free_strings(r->hashes, r->nhashes);
	free(r->marker);
	memset(r, 0, sizeof(*r));
}

/* The pin of d, or an error for an unpinned or ranged requirement. */
static int check_pin(struct ctx *c, size_t off, const struct ml_pydep *d, struct ml_pyreq *r)
{
	const char *s = d->specifier;
	size_t op = !strncmp(s, "===", 3) ? 3 : !strncmp(s, "==", 2) ? 2 : 0;

	if (!*s)
		return fail_at(c, off, "'%s' is not pinned to one version (hint: write %s==<version>; "
			       HINT_PIN ")", d->name, d->name);
	if (!op || strchr(s, ',') || (op == 2 && strchr(s, '*')))
		return fail_at(c, off, "'%s' is not pinned to one version: '%s' is a range (hint: "
			       "write %s==<version>; " HINT_PIN ")", d->name, s, d->name);
	r->version = ml_strdup(s + op);
	return 0;
}

static int check_twice(struct ctx *c, size_t off, const struct ml_pyreq *r)
{
	size_t i;

	for (i = 0; i < c->out->n; i++) {
		const struct ml_pyreq *p = &c->out->v[i];

		if (strcmp(p->normalized, r->normalized))
			continue;
		/* without an environment both may be kept, for different ones */
		if (!c->env && p->marker && r->marker && strcmp(p->marker, r->marker))
			continue;
		return fail_at(c, off, "'%s' is listed twice, on lines %d and %d (hint: keep one "
			       "line per project)", r->name, p->line, r->line);
	}
	return 0;
}

/* Whether the marker of the requirement at off holds; negative on error. */
static int marker_holds(struct ctx *c, size_t off, const char *marker)
{
	struct ml_error e = { 0, "" };
	const char *semi;
	int rc;

	if (!c->env || !marker)
		return 1;
	rc = ml_pymarker_eval(marker, c->env, NULL, &e);
	if (rc >= 0)
		return rc;
	semi = strchr(c->l->text.data + off, ';');
	off = semi ? (size_t)(semi - c->l->text.data) + 1 : off;
	while (is_ws(c->l->text.data[off]))
		off++;
	return fail_at(c, off, "%s", e.msg);
}

static int requirement(struct ctx *c)
{
	struct ml_error e = { 0, "" };
	struct ml_pyreq r;
	struct ml_pydep d;
	size_t i, off = c->l->tok[0].off, end, errpos;
	char *text;
	int rc, keep;

	memset(&r, 0, sizeof(r));
	for (i = 1; i < c->l->ntok && tok_str(c, i)[0] != '-'; i++)
		;
	end = c->l->tok[i - 1].off + c->l->tok[i - 1].len;
	text = ml_strndup(c->l->text.data + off, end - off);
	if (is_url_or_path(text, end - off)) {
		rc = fail_at(c, off, "'%s' is refused: requirements must name a project on an "
			     "index (hint: " HINT_WHEEL ")", text);
		free(text);
		return rc;
	}
	if (ml_pydep_parse(text, &d, &errpos, &e) < 0) {
		free(text);
		return fail_at(c, off + errpos, "%s", e.msg);
	}
	free(text);
	if (d.url) {
		rc = fail_at(c, off, "'%s @ %s': direct references are refused (hint: " HINT_WHEEL
			     ")", d.name, d.url);
		goto out;
	}
	rc = check_pin(c, off, &d, &r);
	if (rc < 0)
		goto out;
	r.name = d.name;
	r.normalized = d.normalized;
	r.extras = d.extras;
	r.nextras = d.nextras;
	r.marker = d.marker;
	d.name = d.normalized = d.marker = NULL;
	d.extras = NULL;
	d.nextras = 0;
	locate(c->l, off, &r.line, &r.column);
	rc = options(c, i, &r);
	if (rc < 0)
		goto out;
	keep = marker_holds(c, off, r.marker);
	if (keep <= 0) {
		rc = keep;
		goto out;
	}
	rc = check_twice(c, off, &r);
	if (rc < 0)
		goto out;
	c->out->v = ml_grow(c->out->v, &c->areqs, c->out->n + 1, sizeof(*c->out->v));
	c->out->v[c->out->n++] = r;
	memset(&r, 0, sizeof(r));
out:
	req_dispose(&r);
	ml_pydep_dispose(&d);
	return rc;
}

/* pip's COMMENT_RE: "#" at the start or after white space, to the end. */
static void strip_comment(struct ml_buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (b->data[i] == '#' && (i == 0 || is_ws(b->data[i - 1]))) {
			ml_buf_truncate(b, i);
			return;
		}
}

static int has_comment(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || is_ws(s[i - 1])))
			return 1;
	return 0;
}

static int logical_line(struct ctx *c)
{
	strip_comment(&c->l->text);
	tokenize(c->l);
	if (!c->l->ntok)
		return 0;
	if (tok_str(c, 0)[0] == '-')
		return options(c, 0, NULL);
	return requirement(c);
}

int ml_pyreqs_parse(const char *path, const char *text, size_t len, const struct ml_pyenv *env,
		    struct ml_pyreqs *out, struct ml_error *err)
{
	struct lline l;
	struct ctx c = { path, env, out, 0, 0, 0, &l, err };
	size_t pos = 0, end, n;
	int line = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	out->path = ml_strdup(path);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < len && rc == 0) {
		line++;
		end = pos;
		while (end < len && text[end] != '\n')
			end++;
		n = end - pos;
		if (memchr(text + pos, '\0', n)) {
			rc = ml_error_set(err, ML_ECONFIG, "%s:%d: NUL byte in the file", path, line);
			break;
		}
		if (n && text[pos + n - 1] == '\r')
			n--;
		l.pieces = ml_grow(l.pieces, &l.apieces, l.npieces + 1, sizeof(*l.pieces));
		l.pieces[l.npieces].off = l.text.len;
		l.pieces[l.npieces++].line = line;
		if (n && text[pos + n - 1] == '\\' && !has_comment(text + pos, n)) {
			ml_buf_add(&l.text, text + pos, n - 1);
		} else {
			ml_buf_add(&l.text, text + pos, n);
			rc = logical_line(&c);
			ml_buf_reset(&l.text);
			l.npieces = 0;
		}
		pos = end + 1;
	}
	if (rc == 0 && l.npieces)
		rc = logical_line(&c);
	ml_buf_dispose(&l.text);
	free(l.pieces);
	free(l.tok);
	if (rc < 0)
		ml_pyreqs_dispose(out);
	return rc;
}

int ml_pyreqs_load(const char *path, const struct ml_pyenv *env, struct ml_pyreqs *out,
		   struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ml_read_file(path, PYREQS_MAX, &b, err);
	if (rc == 0)
		rc = ml_pyreqs_parse(path, ml_buf_str(&b), b.len, env, out, err);
	ml_buf_dispose(&b);
	return rc;
}

void ml_pyreqs_dispose(struct ml_pyreqs *r)
{
	size_t i;

	free(r->path);
	for (i = 0; i < r->n; i++)
		req_dispose(&r->v[i]);
	free(r->v);
	free(r->index_url);
	for (i = 0; i < r->nextra_index_urls; i++)
		free(r->extra_index_urls[i]);
	free(r->extra_index_urls);
	for (i = 0; i < r->nfind_links; i++)
		free(r->find_links[i]);
	free(r->find_links);
	memset(r, 0, sizeof(*r));
}
