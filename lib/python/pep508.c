#include "python/pyver.h"
#include "python/pyver-internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

/* ---- environment markers ---- */

struct mval {
	const char *p;
	size_t n;
	int var;	/* 0 literal, 1 variable, 2 the variable extra */
};

struct mparser {
	const char *s;
	size_t len, pos;
	const struct ml_pyenv *env;	/* NULL: check the syntax only */
	const char *extra;
	const char *why;		/* set on failure, pos is where */
	char *whybuf;
};

static const struct {
	const char *name;
	size_t off;
} marker_vars[] = {
	{ "python_version", offsetof(struct ml_pyenv, python_version) },
	{ "python_full_version", offsetof(struct ml_pyenv, python_full_version) },
	{ "implementation_name", offsetof(struct ml_pyenv, implementation_name) },
	{ "implementation_version", offsetof(struct ml_pyenv, implementation_version) },
	{ "platform_python_implementation",
	  offsetof(struct ml_pyenv, platform_python_implementation) },
	{ "platform.python_implementation",
	  offsetof(struct ml_pyenv, platform_python_implementation) },
	{ "python_implementation", offsetof(struct ml_pyenv, platform_python_implementation) },
	{ "os_name", offsetof(struct ml_pyenv, os_name) },
	{ "os.name", offsetof(struct ml_pyenv, os_name) },
	{ "sys_platform", offsetof(struct ml_pyenv, sys_platform) },
	{ "sys.platform", offsetof(struct ml_pyenv, sys_platform) },
	{ "platform_system", offsetof(struct ml_pyenv, platform_system) },
	{ "platform_machine", offsetof(struct ml_pyenv, platform_machine) },
	{ "platform.machine", offsetof(struct ml_pyenv, platform_machine) },
	{ "platform_release", offsetof(struct ml_pyenv, platform_release) },
	{ "platform_version", offsetof(struct ml_pyenv, platform_version) },
	{ "platform.version", offsetof(struct ml_pyenv, platform_version) },
};

static int ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static void m_ws(struct mparser *m)
{
	while (m->pos < m->len && is_ws(m->s[m->pos]))
		m->pos++;
}

/* Whether the keyword w is at pos (not the start of a longer word). */
static int m_keyword(struct mparser *m, const char *w)
{
	size_t n = strlen(w);

	return m->len - m->pos >= n && !memcmp(m->s + m->pos, w, n) &&
	       (m->pos + n == m->len || !ident_char(m->s[m->pos + n]));
}

static int m_fail(struct mparser *m, const char *why)
{
	if (!m->why)
		m->why = why;
	return -1;
}

static int m_value(struct mparser *m, struct mval *v)
{
	const char *q, *val;
	size_t start = m->pos, i;
	char quote;

	m_ws(m);
	start = m->pos;
	if (m->pos < m->len && (m->s[m->pos] == '"' || m->s[m->pos] == '\'')) {
		quote = m->s[m->pos];
		q = memchr(m->s + m->pos + 1, quote, m->len - m->pos - 1);
		if (!q)
			return m_fail(m, "unterminated string");
		v->p = m->s + m->pos + 1;
		v->n = (size_t)(q - v->p);
		v->var = 0;
		m->pos = (size_t)(q - m->s) + 1;
		return 0;
	}
	while (m->pos < m->len && ident_char(m->s[m->pos]))
		m->pos++;
	if (m->pos == start)
		return m_fail(m, "expected a marker variable or a quoted string");
	v->var = 1;
	if (m->pos - start == 5 && !memcmp(m->s + start, "extra", 5)) {
		v->var = 2;
		val = m->extra;
	} else {
		for (i = 0; i < sizeof(marker_vars) / sizeof(marker_vars[0]); i++)
			if (strlen(marker_vars[i].name) == m->pos - start &&
			    !memcmp(marker_vars[i].name, m->s + start, m->pos - start))
				break;
		if (i == sizeof(marker_vars) / sizeof(marker_vars[0])) {
			m->pos = start;
			free(m->whybuf);
			m->whybuf = ml_asprintf("unknown marker variable '%.*s'",
						(int)(strcspn(m->s + start, " \t\"'()=!<>~") < 200 ?
						      strcspn(m->s + start, " \t\"'()=!<>~") : 200),
						m->s + start);
			return m_fail(m, m->whybuf);
		}
		val = m->env ? *(const char *const *)((const char *)m->env + marker_vars[i].off) :
		      NULL;
	}
	v->p = val ? val : "";
	v->n = strlen(v->p);
	return 0;
}

static const char *m_op(struct mparser *m)
{
	static const char *const ops[] = { "===", "==", "!=", "<=", ">=", "~=", "<", ">", NULL };
	size_t n;
	int i;

	m_ws(m);
	for (i = 0; ops[i]; i++) {
		n = strlen(ops[i]);
		if (m->len - m->pos >= n && !memcmp(m->s + m->pos, ops[i], n)) {
			m->pos += n;
			return ops[i];
		}
	}
	if (m_keyword(m, "in")) {
		m->pos += 2;
		return "in";
	}
	if (m_keyword(m, "not")) {
		m->pos += 3;
		if (m->pos < m->len && is_ws(m->s[m->pos])) {
			m_ws(m);
			if (m_keyword(m, "in")) {
				m->pos += 2;
				return "not in";
			}
		}
		m_fail(m, "expected 'in' after 'not'");
		return NULL;
	}
	m_fail(m, "expected a marker operator (== != <= >= < > ~= === in, not in)");
	return NULL;
}

static int contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
	size_t i;

	for (i = 0; i + nn <= hn; i++)
		if (!memcmp(hay + i, needle, nn))
			return 1;
	return 0;
}

static int str_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an == bn ? 0 : an < bn ? -1 : 1;
}

/* PEP 508: a version comparison when rhs makes a specifier with op and lhs is a
 * version, else a string comparison; -1 when neither applies (~=). */
static int m_compare(const char *op, const char *l, size_t ln, const char *r, size_t rn)
{
	char *spec, *lhs;
	int rc = -2, c;

	if (!strcmp(op, "in") || !strcmp(op, "not in"))
		return contains(r, rn, l, ln) == (op[0] == 'i');
	lhs = ml_strndup(l, ln);
	spec = ml_asprintf("%s%.*s", op, (int)rn, r);
	if (!memchr(r, ',', rn) && strlen(spec) == strlen(op) + rn && strlen(lhs) == ln &&
	    (!strcmp(op, "===") || ml_pyver_valid(lhs)))
		rc = ml_pyspec_match(spec, lhs, NULL);
	free(spec);
	free(lhs);
	if (rc >= 0)
		return rc;
	c = str_cmp(l, ln, r, rn);
	if (!strcmp(op, "=="))
		return c == 0;
	if (!strcmp(op, "!="))
		return c != 0;
	if (!strcmp(op, "<"))
		return c < 0;
	if (!strcmp(op, "<="))
		return c <= 0;
	if (!strcmp(op, ">"))
		return c > 0;
	if (!strcmp(op, ">="))
		return c >= 0;
	return -1;
}

static int m_or(struct mparser *m);

static int m_expr(struct mparser *m)
{
	struct mval l, r;
	char *ln = NULL, *rn = NULL, *tmp;
	const char *op;
	size_t start;
	int v;

	m_ws(m);
	if (m->pos < m->len && m->s[m->pos] == '(') {
		m->pos++;
		v = m_or(m);
		if (v < 0)
			return v;
		m_ws(m);
		if (m->pos >= m->len || m->s[m->pos] != ')')
			return m_fail(m, "expected ')'");
		m->pos++;
		return v;
	}
	m_ws(m);
	start = m->pos;
	if (m_value(m, &l) < 0 || !(op = m_op(m)) || m_value(m, &r) < 0)
		return -1;
	if (!m->env)
		return 0;
	if (l.var == 2 || r.var == 2) {
		tmp = ml_strndup(l.p, l.n);
		ln = ml_pyname_normalize(tmp);
		free(tmp);
		tmp = ml_strndup(r.p, r.n);
		rn = ml_pyname_normalize(tmp);
		free(tmp);
		v = l.var == 2 && !m->extra ? -3 : r.var == 2 && !m->extra ? -3 :
		    m_compare(op, ln, strlen(ln), rn, strlen(rn));
		if (v == -3)
			v = !strcmp(op, "!=") || !strcmp(op, "not in");
	} else {
		v = m_compare(op, l.p, l.n, r.p, r.n);
	}
	free(ln);
	free(rn);
	if (v < 0) {
		m->pos = start;
		return m_fail(m, "the operator applies to versions only");
	}
	return v;
}

/* marker_or: marker_and ("or" marker_and)*; marker_and: expr ("and" expr)*. */
static int m_chain(struct mparser *m, int is_or)
{
	const char *word = is_or ? "or" : "and";
	int v = is_or ? m_chain(m, 0) : m_expr(m), r;

	while (v >= 0) {
		m_ws(m);
		if (!m_keyword(m, word))
			break;
		m->pos += strlen(word);
		r = is_or ? m_chain(m, 0) : m_expr(m);
		if (r < 0)
			return r;
		v = is_or ? (v || r) : (v && r);
	}
	return v;
}

static int m_or(struct mparser *m)
{
	return m_chain(m, 1);
}

/* Parses (and with env, evaluates) s[0..len). On failure returns -1, *why
 * (malloc'ed) says what was expected and *errpos where. */
static int marker_run(const char *s, size_t len, const struct ml_pyenv *env, const char *extra,
		      size_t *errpos, char **why)
{
	struct mparser m = { s, len, 0, env, extra, NULL, NULL };
	int v = m_or(&m);

	if (v >= 0) {
		m_ws(&m);
		if (m.pos < len) {
			v = -1;
			m.why = "expected 'and', 'or' or the end of the marker";
		}
	}
	if (v < 0) {
		*errpos = m.pos;
		*why = ml_strdup(m.why);
	}
	free(m.whybuf);
	return v;
}

int ml_pymarker_eval(const char *marker, const struct ml_pyenv *env, const char *extra,
		     struct ml_error *err)
{
	static const struct ml_pyenv empty;
	char *why, *norm = extra ? ml_pyname_normalize(extra) : NULL;
	size_t pos;
	int v = marker_run(marker, strlen(marker), env ? env : &empty, norm, &pos, &why);

	free(norm);
	if (v >= 0)
		return v;
	v = ml_error_set(err, ML_ECONFIG, "invalid marker '%s': %s at column %zu", marker, why,
			 pos + 1);
	free(why);
	return v;
}

/* ---- dependency specifiers ---- */

static int name_char(char c)
{
	return isalnum((unsigned char)c) || is_sep(c);
}

struct dparser {
	const char *s;
	size_t pos;
	const char *why;
	char *whybuf;
};

static void d_ws(struct dparser *d)
{
	while (is_ws(d->s[d->pos]))
		d->pos++;
}

static int d_fail(struct dparser *d, const char *why)
{
	d->why = why;
	return -1;
}

static int d_extras(struct dparser *d, struct ml_pydep *out)
{
	size_t start, alloc = 0;
	char *name;

	d->pos++;
	d_ws(d);
	if (d->s[d->pos] == ']') {
		d->pos++;
		return 0;
	}
	for (;;) {
		start = d->pos;
		while (name_char(d->s[d->pos]))
			d->pos++;
		name = ml_strndup(d->s + start, d->pos - start);
		if (!ml_pyname_valid(name)) {
			free(name);
			d->pos = start;
			return d_fail(d, "expected an extra name");
		}
		out->extras = ml_grow(out->extras, &alloc, out->nextras + 1, sizeof(*out->extras));
		out->extras[out->nextras++] = ml_pyname_normalize(name);
		free(name);
		d_ws(d);
		if (d->s[d->pos] == ']') {
			d->pos++;
			return 0;
		}
		if (d->s[d->pos] != ',')
			return d_fail(d, "expected ',' or ']' after an extra name");
		d->pos++;
		d_ws(d);
	}
}

static int d_specifier(struct dparser *d, struct ml_pydep *out)
{
	struct ml_buf spec = ML_BUF_INIT;
	int paren = d->s[d->pos] == '(';
	const char *why, *op, *ver;
	size_t start, n, nver;

	if (paren) {
		d->pos++;
		d_ws(d);
	}
	while (strchr("<>=!~", d->s[d->pos]) && d->s[d->pos]) {
		start = d->pos;
		if (!ml_pyspec_op(d->s + d->pos, strlen(d->s + d->pos), &n))
			break;
		d->pos += n;
		d_ws(d);
		while (d->s[d->pos] && !is_ws(d->s[d->pos]) && !strchr(",;)", d->s[d->pos]))
			d->pos++;
		if (ml_pyspec_clause(d->s + start, d->pos - start, &op, &ver, &nver, &why) < 0) {
			ml_buf_dispose(&spec);
			free(d->whybuf);
			d->whybuf = ml_asprintf("invalid version specifier '%.*s': %s",
						(int)(d->pos - start), d->s + start, why);
			d->pos = start;
			return d_fail(d, d->whybuf);
		}
		if (spec.len)
			ml_buf_addch(&spec, ',');
		ml_buf_printf(&spec, "%s%.*s", op, (int)nver, ver);
		d_ws(d);
		if (d->s[d->pos] != ',')
			break;
		d->pos++;
		d_ws(d);
		if (!strchr("<>=!~", d->s[d->pos]) || !d->s[d->pos]) {
			ml_buf_dispose(&spec);
			return d_fail(d, "expected a version specifier after ','");
		}
	}
	out->specifier = spec.len ? ml_buf_detach(&spec) : ml_strdup("");
	ml_buf_dispose(&spec);
	if (paren) {
		if (d->s[d->pos] != ')')
			return d_fail(d, "expected a version specifier or ')'");
		d->pos++;
	}
	return 0;
}

static int d_marker(struct dparser *d, struct ml_pydep *out)
{
	size_t start, end, pos;
	char *why;

	d->pos++;
	d_ws(d);
	start = d->pos;
	end = start + strlen(d->s + start);
	while (end > start && is_ws(d->s[end - 1]))
		end--;
	if (end == start)
		return d_fail(d, "expected a marker after ';'");
	if (marker_run(d->s + start, end - start, NULL, NULL, &pos, &why) < 0) {
		d->pos = start + pos;
		free(d->whybuf);
		d->whybuf = why;
		return d_fail(d, why);
	}
	out->marker = ml_strndup(d->s + start, end - start);
	d->pos = end;
	return 0;
}

static int d_url(struct dparser *d, struct ml_pydep *out)
{
	size_t start;

	d->pos++;
	d_ws(d);
	start = d->pos;
	while (d->s[d->pos] && !is_ws(d->s[d->pos]))
		d->pos++;
	if (d->pos == start)
		return d_fail(d, "expected a URL after '@'");
	out->url = ml_strndup(d->s + start, d->pos - start);
	out->specifier = ml_strdup("");
	if (!d->s[d->pos])
		return 0;
	d_ws(d);
	if (d->s[d->pos] && d->s[d->pos] != ';')
		return d_fail(d, "expected ';' or the end after the URL");
	return 0;
}

static int d_parse(struct dparser *d, struct ml_pydep *out)
{
	size_t start;

	d_ws(d);
	start = d->pos;
	while (name_char(d->s[d->pos]))
		d->pos++;
	out->name = ml_strndup(d->s + start, d->pos - start);
	if (!ml_pyname_valid(out->name)) {
		d->pos = start;
		return d_fail(d, "expected a project name");
	}
	out->normalized = ml_pyname_normalize(out->name);
	d_ws(d);
	if (d->s[d->pos] == '[' && d_extras(d, out) < 0)
		return -1;
	d_ws(d);
	if (d->s[d->pos] == '@') {
		if (d_url(d, out) < 0)
			return -1;
	} else if (d_specifier(d, out) < 0) {
		return -1;
	}
	d_ws(d);
	if (d->s[d->pos] == ';')
		return d_marker(d, out);
	if (d->s[d->pos])
		return d_fail(d, out->url || out->specifier[0] ? "expected ';' or the end" :
			      "expected '[', a version specifier, '@', ';' or the end");
	return 0;
}

int ml_pydep_parse(const char *s, struct ml_pydep *out, size_t *errpos, struct ml_error *err)
{
	struct dparser d = { s, 0, NULL, NULL };
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (d_parse(&d, out) < 0) {
		rc = ml_error_set(err, ML_ECONFIG, "invalid requirement '%s': %s", s, d.why);
		if (errpos)
			*errpos = d.pos;
		ml_pydep_dispose(out);
	}
	free(d.whybuf);
	return rc;
}

void ml_pydep_dispose(struct ml_pydep *d)
{
	size_t i;

	free(d->name);
	free(d->normalized);
	for (i = 0; i < d->nextras; i++)
		free(d->extras[i]);
	free(d->extras);
	free(d->specifier);
	free(d->url);
	free(d->marker);
	memset(d, 0, sizeof(*d));
}
