#include "python/pyver.h"
#include "python/pyver-internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/buf.h"

/* A number as written, leading zeros skipped: n == 0 is zero. Python compares
 * them as unbounded integers, so we never convert them. */
struct num {
	const char *p;
	size_t n;
};

enum { PRE_NONE, PRE_A, PRE_B, PRE_RC };

struct seg {
	const char *p;
	size_t n;
	int numeric;
};

/* A parsed PEP 440 version, pointing into the text it was parsed from. */
struct pv {
	struct num epoch;
	struct num *rel;
	size_t nrel, arel;
	int pre, post, dev, wildcard;
	struct num pren, postn, devn;
	struct seg *local;
	size_t nlocal, alocal;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static struct num mknum(const char *p, size_t n)
{
	struct num r;

	while (n && *p == '0') {
		p++;
		n--;
	}
	r.p = p;
	r.n = n;
	return r;
}

static int num_cmp(struct num a, struct num b)
{
	int c;

	if (a.n != b.n)
		return a.n < b.n ? -1 : 1;
	if (!a.n)
		return 0;
	c = memcmp(a.p, b.p, a.n);
	return (c > 0) - (c < 0);
}

static size_t digits(const char *s, size_t i, size_t len)
{
	while (i < len && is_digit(s[i]))
		i++;
	return i;
}

/* Length of w when s[i..] starts with it (any case), else 0. */
static size_t word_at(const char *s, size_t i, size_t len, const char *w)
{
	size_t n = strlen(w);

	return len - i >= n && !strncasecmp(s + i, w, n) ? n : 0;
}

static void pv_dispose(struct pv *v)
{
	free(v->rel);
	free(v->local);
	memset(v, 0, sizeof(*v));
}

/* The optional "[-_.]?N" after a pre, post or dev label, from *i: the separator
 * is taken even without digits (as the regex of PEP 440 does) unless it starts
 * a ".*" wildcard. */
static struct num label_number(const char *s, size_t *i, size_t len)
{
	size_t k = *i, j;

	if (k < len && is_sep(s[k]) && !(s[k] == '.' && k + 1 < len && s[k + 1] == '*'))
		k++;
	j = digits(s, k, len);
	*i = j;
	return mknum(s + k, j - k);
}

/* "[-_.]?label" from i for one of labels; the length matched (0 if none). */
static size_t sep_label(const char *s, size_t i, size_t len, const char *const *labels,
			int *which)
{
	size_t k = i, n;
	int l;

	if (k < len && is_sep(s[k]))
		k++;
	for (l = 0; labels[l]; l++) {
		n = word_at(s, k, len, labels[l]);
		if (n) {
			*which = l;
			return k + n - i;
		}
	}
	return 0;
}

static const char *const pre_labels[] = { "preview", "alpha", "beta", "pre", "rc", "a", "b", "c",
					  NULL };
static const int pre_kinds[] = { PRE_RC, PRE_A, PRE_B, PRE_RC, PRE_RC, PRE_A, PRE_B, PRE_RC };
static const char *const post_labels[] = { "post", "rev", "r", NULL };
static const char *const dev_labels[] = { "dev", NULL };

static size_t parse_local(const char *s, size_t i, size_t len, struct pv *v)
{
	size_t j;

	for (;;) {
		j = i;
		while (j < len && isalnum((unsigned char)s[j]))
			j++;
		if (j == i)
			return 0;
		v->local = ml_grow(v->local, &v->alocal, v->nlocal + 1, sizeof(*v->local));
		v->local[v->nlocal].p = s + i;
		v->local[v->nlocal].n = j - i;
		v->local[v->nlocal].numeric = digits(s, i, j) == j;
		v->nlocal++;
		if (j + 1 < len && is_sep(s[j]) && isalnum((unsigned char)s[j + 1]))
			i = j + 1;
		else
			return j;
	}
}

/* Parses s[0..len) as a version (PEP 440 "Appendix B" regular expression, any
 * case, surrounding white space); a trailing ".*" after the release, pre or post
 * part when wildcard is set. 0, or -1 when s is not a version. */
static int pv_parse(const char *s, size_t len, int wildcard, struct pv *v)
{
	size_t i = 0, j, n;
	int which;

	memset(v, 0, sizeof(*v));
	while (i < len && is_ws(s[i]))
		i++;
	if (i < len && (s[i] == 'v' || s[i] == 'V'))
		i++;
	j = digits(s, i, len);
	if (j == i)
		goto bad;
	if (j < len && s[j] == '!') {
		v->epoch = mknum(s + i, j - i);
		i = j + 1;
		j = digits(s, i, len);
		if (j == i)
			goto bad;
	}
	for (;;) {
		v->rel = ml_grow(v->rel, &v->arel, v->nrel + 1, sizeof(*v->rel));
		v->rel[v->nrel++] = mknum(s + i, j - i);
		i = j;
		if (i + 1 < len && s[i] == '.' && is_digit(s[i + 1])) {
			i++;
			j = digits(s, i, len);
		} else {
			break;
		}
	}
	n = sep_label(s, i, len, pre_labels, &which);
	if (n) {
		i += n;
		v->pre = pre_kinds[which];
		v->pren = label_number(s, &i, len);
	}
	if (i + 1 < len && s[i] == '-' && is_digit(s[i + 1])) {
		j = digits(s, i + 1, len);
		v->post = 1;
		v->postn = mknum(s + i + 1, j - i - 1);
		i = j;
	} else if ((n = sep_label(s, i, len, post_labels, &which))) {
		i += n;
		v->post = 1;
		v->postn = label_number(s, &i, len);
	}
	if (wildcard && i + 1 < len && s[i] == '.' && s[i + 1] == '*') {
		v->wildcard = 1;
		i += 2;
	} else {
		if ((n = sep_label(s, i, len, dev_labels, &which))) {
			i += n;
			v->dev = 1;
			v->devn = label_number(s, &i, len);
		}
		if (i < len && s[i] == '+') {
			i = parse_local(s, i + 1, len, v);
			if (!i)
				goto bad;
		}
	}
	while (i < len && is_ws(s[i]))
		i++;
	if (i == len)
		return 0;
bad:
	pv_dispose(v);
	return -1;
}

static int rel_cmp(const struct pv *a, const struct pv *b)
{
	static const struct num zero = { "", 0 };
	size_t i, n = a->nrel > b->nrel ? a->nrel : b->nrel;
	int c;

	for (i = 0; i < n; i++) {
		c = num_cmp(i < a->nrel ? a->rel[i] : zero, i < b->nrel ? b->rel[i] : zero);
		if (c)
			return c;
	}
	return 0;
}

/* epoch and release, trailing zeros ignored: base_version equality */
static int base_cmp(const struct pv *a, const struct pv *b)
{
	int c = num_cmp(a->epoch, b->epoch);

	return c ? c : rel_cmp(a, b);
}

/* packaging's _cmpkey: a dev release without pre or post sorts before pre-releases */
static int pre_rank(const struct pv *v)
{
	if (v->pre)
		return v->pre;
	return !v->post && v->dev ? 0 : PRE_RC + 1;
}

static int seg_cmp(const struct seg *a, const struct seg *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c;

	if (a->numeric != b->numeric)
		return a->numeric ? 1 : -1;
	if (a->numeric)
		return num_cmp(mknum(a->p, a->n), mknum(b->p, b->n));
	c = strncasecmp(a->p, b->p, n);
	if (c)
		return c < 0 ? -1 : 1;
	return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
}

static int local_cmp(const struct pv *a, const struct pv *b)
{
	size_t i;
	int c;

	for (i = 0; i < a->nlocal && i < b->nlocal; i++) {
		c = seg_cmp(&a->local[i], &b->local[i]);
		if (c)
			return c;
	}
	return a->nlocal == b->nlocal ? 0 : a->nlocal < b->nlocal ? -1 : 1;
}

static int pv_cmp(const struct pv *a, const struct pv *b, int with_local)
{
	int c = base_cmp(a, b);

	if (c)
		return c;
	if (pre_rank(a) != pre_rank(b))
		return pre_rank(a) < pre_rank(b) ? -1 : 1;
	if (a->pre && (c = num_cmp(a->pren, b->pren)))
		return c;
	if (a->post != b->post)
		return a->post ? 1 : -1;
	if (a->post && (c = num_cmp(a->postn, b->postn)))
		return c;
	if (a->dev != b->dev)
		return a->dev ? -1 : 1;
	if (a->dev && (c = num_cmp(a->devn, b->devn)))
		return c;
	return with_local ? local_cmp(a, b) : 0;
}

int ml_pyname_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !is_sep(name[i]))
			return 0;
	return 1;
}

char *ml_pyname_normalize(const char *name)
{
	char *r = ml_malloc(strlen(name) + 1), *o = r;

	while (*name) {
		if (is_sep(*name)) {
			while (is_sep(*name))
				name++;
			*o++ = '-';
		} else {
			*o++ = (char)tolower((unsigned char)*name++);
		}
	}
	*o = '\0';
	return r;
}

int ml_pyver_valid(const char *v)
{
	struct pv p;

	if (pv_parse(v, strlen(v), 0, &p) < 0)
		return 0;
	pv_dispose(&p);
	return 1;
}

static void add_num(struct ml_buf *b, struct num n)
{
	if (n.n)
		ml_buf_add(b, n.p, n.n);
	else
		ml_buf_addch(b, '0');
}

char *ml_pyver_normalize(const char *v)
{
	static const char *const pre_names[] = { "", "a", "b", "rc" };
	struct ml_buf b = ML_BUF_INIT;
	struct pv p;
	size_t i, k;

	if (pv_parse(v, strlen(v), 0, &p) < 0)
		return NULL;
	if (p.epoch.n) {
		add_num(&b, p.epoch);
		ml_buf_addch(&b, '!');
	}
	for (i = 0; i < p.nrel; i++) {
		if (i)
			ml_buf_addch(&b, '.');
		add_num(&b, p.rel[i]);
	}
	if (p.pre) {
		ml_buf_adds(&b, pre_names[p.pre]);
		add_num(&b, p.pren);
	}
	if (p.post) {
		ml_buf_adds(&b, ".post");
		add_num(&b, p.postn);
	}
	if (p.dev) {
		ml_buf_adds(&b, ".dev");
		add_num(&b, p.devn);
	}
	for (i = 0; i < p.nlocal; i++) {
		ml_buf_addch(&b, i ? '.' : '+');
		if (p.local[i].numeric)
			add_num(&b, mknum(p.local[i].p, p.local[i].n));
		else
			for (k = 0; k < p.local[i].n; k++)
				ml_buf_addch(&b, (char)tolower((unsigned char)p.local[i].p[k]));
	}
	pv_dispose(&p);
	return ml_buf_detach(&b);
}

int ml_pyver_cmp(const char *a, const char *b)
{
	struct pv pa, pb;
	int va = pv_parse(a, strlen(a), 0, &pa) == 0;
	int vb = pv_parse(b, strlen(b), 0, &pb) == 0;
	int c;

	if (va && vb)
		c = pv_cmp(&pa, &pb, 1);
	else if (va || vb)
		c = va ? -1 : 1;
	else
		c = strcmp(a, b);
	if (va)
		pv_dispose(&pa);
	if (vb)
		pv_dispose(&pb);
	return (c > 0) - (c < 0);
}

/* ---- specifiers ---- */

static const char *const spec_ops[] = { "===", "~=", "==", "!=", "<=", ">=", "<", ">", NULL };

/* One clause of a specifier set. */
struct clause {
	const char *op;
	const char *ver;	/* the version as written, trimmed */
	size_t nver;
	struct pv v;		/* unused for === */
};

const char *ml_pyspec_op(const char *s, size_t len, size_t *n)
{
	int i;

	for (i = 0; spec_ops[i]; i++) {
		*n = strlen(spec_ops[i]);
		if (len >= *n && !memcmp(s, spec_ops[i], *n))
			return spec_ops[i];
	}
	return NULL;
}

/* Parses s[0..len) as one specifier ("op version", white space around). On
 * failure returns -1 and *why says what is wrong. */
static int clause_parse(const char *s, size_t len, struct clause *c, const char **why)
{
	size_t i = 0, n;

	memset(c, 0, sizeof(*c));
	*why = "expected an operator (== != <= >= < > ~= ===)";
	while (len && is_ws(s[len - 1]))
		len--;
	while (i < len && is_ws(s[i]))
		i++;
	c->op = ml_pyspec_op(s + i, len - i, &n);
	if (!c->op)
		return -1;
	i += n;
	while (i < len && is_ws(s[i]))
		i++;
	c->ver = s + i;
	c->nver = len - i;
	*why = "expected a version";
	if (!c->nver)
		return -1;
	if (!strcmp(c->op, "===")) {
		for (; i < len; i++)
			if (is_ws(s[i]))
				return -1;
		return 0;
	}
	if (pv_parse(c->ver, c->nver, !strcmp(c->op, "==") || !strcmp(c->op, "!="), &c->v) < 0)
		return -1;
	*why = NULL;
	if (c->v.nlocal && strcmp(c->op, "==") && strcmp(c->op, "!="))
		*why = "a local version label is only allowed with == and !=";
	else if (!strcmp(c->op, "~=") && c->v.nrel < 2)
		*why = "~= needs a version with at least two release numbers";
	if (*why) {
		pv_dispose(&c->v);
		return -1;
	}
	return 0;
}

int ml_pyspec_clause(const char *s, size_t len, const char **op, const char **ver, size_t *nver,
		     const char **why)
{
	struct clause c;

	if (clause_parse(s, len, &c, why) < 0)
		return -1;
	*op = c.op;
	*ver = c.ver;
	*nver = c.nver;
	pv_dispose(&c.v);
	return 0;
}

/* PEP 440 prefix matching: "==1.4.*" (zero-padded release) */
static int prefix_match(const struct pv *spec, const struct pv *v)
{
	static const struct num zero = { "", 0 };
	size_t i;

	if (num_cmp(spec->epoch, v->epoch))
		return 0;
	if (!spec->pre && !spec->post) {
		for (i = 0; i < spec->nrel; i++)
			if (num_cmp(spec->rel[i], i < v->nrel ? v->rel[i] : zero))
				return 0;
		return 1;
	}
	if (v->nrel > spec->nrel || rel_cmp(spec, v) || spec->pre != v->pre ||
	    (spec->pre && num_cmp(spec->pren, v->pren)))
		return 0;
	return !spec->post || (v->post && !num_cmp(spec->postn, v->postn));
}

static int compatible_match(const struct pv *spec, const struct pv *v)
{
	struct pv prefix = *spec;

	prefix.nrel--;
	prefix.pre = prefix.post = prefix.dev = 0;
	return pv_cmp(v, spec, 0) >= 0 && prefix_match(&prefix, v);
}

static int clause_match(const struct clause *c, const struct pv *v, const char *vs)
{
	const char *op = c->op;
	int cmp;

	if (!strcmp(op, "==="))
		return strlen(vs) == c->nver && !strncasecmp(vs, c->ver, c->nver);
	if (!v)
		return 0;
	if (!strcmp(op, "==") || !strcmp(op, "!=")) {
		if (c->v.wildcard)
			cmp = prefix_match(&c->v, v);
		else
			cmp = !pv_cmp(v, &c->v, c->v.nlocal > 0);
		return op[0] == '=' ? cmp : !cmp;
	}
	if (!strcmp(op, "~="))
		return compatible_match(&c->v, v);
	if (!strcmp(op, "<="))
		return pv_cmp(v, &c->v, 0) <= 0;
	if (!strcmp(op, ">="))
		return pv_cmp(v, &c->v, 0) >= 0;
	if (!strcmp(op, "<"))
		return pv_cmp(v, &c->v, 1) < 0 &&
		       !(!c->v.pre && !c->v.dev && (v->pre || v->dev) && !base_cmp(v, &c->v));
	return pv_cmp(v, &c->v, 1) > 0 && !(!c->v.post && v->post && !base_cmp(v, &c->v)) &&
	       !(v->nlocal && !base_cmp(v, &c->v));
}

int ml_pyspec_match(const char *spec, const char *version, struct ml_error *err)
{
	const char *p = spec, *end, *why;
	struct clause c;
	struct pv v;
	int have_v, match = 1;

	while (isspace((unsigned char)*version))
		version++;
	have_v = pv_parse(version, strlen(version), 0, &v) == 0;
	for (;;) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		while (p < end && is_ws(*p))
			p++;
		if (p < end) {
			if (clause_parse(p, (size_t)(end - p), &c, &why) < 0) {
				if (have_v)
					pv_dispose(&v);
				return ml_error_set(err, ML_ECONFIG, "invalid version specifier '%.*s': %s",
						    (int)(end - p), p, why);
			}
			if (!clause_match(&c, have_v ? &v : NULL, version))
				match = 0;
			pv_dispose(&c.v);
		}
		if (!*end)
			break;
		p = end + 1;
	}
	if (have_v)
		pv_dispose(&v);
	return match;
}
