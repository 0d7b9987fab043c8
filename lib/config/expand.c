/* ${VAR} and ${VAR:-default} in values, from the environment; "$$" is a '$'. */
#include "config/config-internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define EXPAND_MAX_DEPTH 16		/* ${A:-${B:-...}} */
#define VALUE_MAX (1u << 20)		/* one value after expansion */

struct expander {
	struct walker *w;
	const struct ynode *n;
	const char *p;
	struct ml_buf out;
};

static int expand_emit(struct expander *x, const char *s, size_t len, int skip)
{
	if (skip || ml_buf_add(&x->out, s, len) == 0)
		return 0;
	return ml_cfg_werr(x->w, x->n, "the value of '%s' is longer than %u bytes after variable "
			   "expansion", ml_cfg_qpath(x->w), VALUE_MAX);
}

static int expand_unterminated(struct expander *x)
{
	return ml_cfg_werr(x->w, x->n, "unterminated '${' in the value '%s' of '%s' (close it with "
			   "'}', or write '$$' for a literal '$')", ml_cfg_quote(x->w, x->n->text),
			   ml_cfg_qpath(x->w));
}

static int expand_invalid(struct expander *x)
{
	return ml_cfg_werr(x->w, x->n, "invalid variable reference in the value '%s' of '%s' "
			   "(write ${NAME} or ${NAME:-default}, NAME made of letters, digits and "
			   "'_'; '$$' is a literal '$')", ml_cfg_quote(x->w, x->n->text),
			   ml_cfg_qpath(x->w));
}

static int expand_text(struct expander *x, int depth, int skip, int in_default);

/* x->p is at "${". */
static int expand_ref(struct expander *x, int depth, int skip)
{
	const char *name = x->p + 2, *val;
	char *var;
	int rc;

	x->p = name;
	while (is_name_char(*x->p))
		x->p++;
	if (!*x->p)
		return expand_unterminated(x);
	if (x->p == name || !is_name_start(*name) || (*x->p != '}' && strncmp(x->p, ":-", 2)))
		return expand_invalid(x);
	var = ml_strndup(name, (size_t)(x->p - name));
	val = getenv(var);
	if (*x->p == '}') {
		x->p++;
		if (val)
			rc = expand_emit(x, val, strlen(val), skip);
		else
			rc = skip ? 0 : ml_cfg_werr(x->w, x->n, "variable '%s' used in '%s' is "
						    "not set (export it, or write "
						    "'${%s:-default}')", ml_cfg_quote(x->w, var),
						    ml_cfg_qpath(x->w), ml_cfg_quote(x->w, var));
	} else {
		x->p += 2;
		rc = val && *val ? expand_emit(x, val, strlen(val), skip) : 0;
		if (rc == 0)
			rc = expand_text(x, depth + 1, skip || (val && *val), 1);
		if (rc == 0)
			x->p++;		/* the '}' closing the default */
	}
	free(var);
	return rc;
}

/* Copies text to x->out up to the end, or up to the '}' closing a default. */
static int expand_text(struct expander *x, int depth, int skip, int in_default)
{
	const char *run;
	int rc;

	if (depth > EXPAND_MAX_DEPTH)
		return ml_cfg_werr(x->w, x->n, "variable defaults nested deeper than %d levels in "
				   "'%s'", EXPAND_MAX_DEPTH, ml_cfg_qpath(x->w));
	for (;;) {
		run = x->p;
		while (*x->p && *x->p != '$' && !(in_default && *x->p == '}'))
			x->p++;
		rc = expand_emit(x, run, (size_t)(x->p - run), skip);
		if (rc < 0)
			return rc;
		if (!*x->p)
			return in_default ? expand_unterminated(x) : 0;
		if (*x->p == '}')
			return 0;
		if (x->p[1] == '{') {
			rc = expand_ref(x, depth, skip);
		} else {
			rc = expand_emit(x, "$", 1, skip);
			x->p += x->p[1] == '$' ? 2 : 1;
		}
		if (rc < 0)
			return rc;
	}
}

/* The text of scalar n after ${} expansion. */
int ml_cfg_scalar_text(struct walker *w, const struct ynode *n, enum want want, char **out)
{
	struct expander x = { .w = w, .n = n, .p = n->text };
	int rc;

	if (n->type != YN_SCALAR)
		return ml_cfg_type_err(w, n, want);
	ml_buf_init(&x.out, VALUE_MAX);
	rc = expand_text(&x, 0, 0, 0);
	if (rc < 0) {
		ml_buf_dispose(&x.out);
		return rc;
	}
	if (!ml_cfg_tag_fits(n->tag, ml_buf_str(&x.out))) {
		rc = ml_cfg_werr(w, n, "value '%s' of '%s' does not match its tag (%s; remove the "
				 "tag or change the value)", ml_cfg_quote(w, ml_buf_str(&x.out)),
				 ml_cfg_qpath(w), ml_cfg_tag_needs(n->tag));
		ml_buf_dispose(&x.out);
		return rc;
	}
	*out = ml_buf_detach(&x.out);
	return 0;
}
