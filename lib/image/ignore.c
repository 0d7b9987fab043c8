/* .dockerignore matching as moby/patternmatcher and its ignorefile reader do it.
 *
 * Each line is trimmed and cleaned like Go's filepath.Clean (twice, once by the
 * reader and once by the matcher, as moby does), checked for syntax like
 * filepath.Match, and matched the way moby's translation to a regular expression
 * behaves: "*" and "?" stop at '/', "**" followed by more pattern matches nothing
 * or anything ending in '/', a final "**" matches anything, and "[...]" follows
 * filepath.Match (only '^' negates; '!' inside a class is a plain character).
 *
 * moby also takes shortcuts that change results; they are kept so one context
 * ships the same files with docker and with us: a pattern without wildcards
 * compares whole paths, "lit**" is a plain string prefix and "**lit" a plain
 * string suffix (so "**b" matches "xb" but "**b*" does not). Two artefacts of
 * its regexp are kept too: an unescaped '^' outside a class is a start anchor in
 * a wildcard pattern, and "**" does not cross a newline. One difference is
 * deliberate: moby hands "\d"-style escapes of letters to Go's regexp engine,
 * we take the letter literally as filepath.Match does. */
#include "image/ignore.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define RUNE_ERROR 0xfffdu

enum pat_kind {
	PAT_EXACT,	/* the path equals the text */
	PAT_PREFIX,	/* "lit**": the path starts with lit */
	PAT_SUFFIX,	/* "**lit": the path ends with lit */
	PAT_TOKENS,	/* anything else: the token list */
};

enum tok_kind {
	TOK_LIT,	/* bytes to compare */
	TOK_ANY,	/* "?": one character but '/' */
	TOK_STAR,	/* "*": any run of characters but '/' */
	TOK_CLASS,	/* "[...]": s/len is the text after '[' up to and with ']' */
	TOK_DIRS,	/* "**" before more pattern: nothing, or anything ending in '/' */
	TOK_REST,	/* "**" at the end: anything */
	TOK_CARET,	/* unescaped '^': only at the start of the path */
};

struct tok {
	enum tok_kind kind;
	const char *s;		/* borrowed from pattern.text */
	size_t len;
};

struct pattern {
	char *text;		/* cleaned, without the leading '!' */
	size_t len;
	int exclusion;		/* a "!" pattern: re-includes */
	enum pat_kind kind;
	struct tok *toks;
	size_t ntok, atok;
};

struct ml_ignore {
	struct pattern *pats;
	size_t n, alloc;
};

/* State of one match of a token list against s. */
struct subject {
	const struct tok *toks;
	size_t ntok;
	const char *s;
	size_t len;
	unsigned char *failed;	/* one bit per (token, offset) known not to match */
};

/* Decodes one character of s (n > 0) like Go's utf8.DecodeRuneInString: an
 * invalid sequence is RUNE_ERROR of length 1. Returns the length. */
static size_t utf8_decode(uint32_t *r, const char *s, size_t n)
{
	static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
	const unsigned char *u = (const unsigned char *)s;
	size_t len, i;
	uint32_t v;

	*r = RUNE_ERROR;
	if (u[0] < 0x80) {
		*r = u[0];
		return 1;
	}
	if (u[0] >= 0xc0 && u[0] < 0xe0)
		len = 2;
	else if (u[0] >= 0xe0 && u[0] < 0xf0)
		len = 3;
	else if (u[0] >= 0xf0 && u[0] < 0xf8)
		len = 4;
	else
		return 1;
	if (len > n)
		return 1;
	v = u[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 1;
		v = v << 6 | (u[i] & 0x3f);
	}
	if (v < min[len - 1] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 1;
	*r = v;
	return len;
}

/* unicode.IsSpace, which strings.TrimSpace uses. */
static int is_go_space(uint32_t r)
{
	switch (r) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return 1;
	}
	return r >= 0x2000 && r <= 0x200a;
}

/* strings.TrimSpace on s/n: returns the start and sets *len. */
static const char *trim_space(size_t *len, const char *s, size_t n)
{
	size_t i = 0, start = n, end = n, k;
	uint32_t r;

	while (i < n) {
		k = utf8_decode(&r, s + i, n - i);
		if (!is_go_space(r)) {
			if (start == n)
				start = i;
			end = i + k;
		}
		i += k;
	}
	*len = end - start;
	return s + start;
}

/* Go's filepath.Clean on a '/'-separated path; the caller frees the result. */
static char *go_clean(const char *path, size_t n)
{
	char *out = ml_malloc(n + 2);
	size_t r = 0, w = 0, dotdot = 0;
	int rooted = n > 0 && path[0] == '/';

	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && path[r] != '/')
				out[w++] = path[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

/* One class member, as getEsc in Go's filepath.Match reads it: returns its
 * length in p, or 0 with *why set. */
static size_t class_char(uint32_t *r, const char *p, size_t n, int hi, const char **why)
{
	size_t i = 0, k;

	*why = "unterminated character class";
	if (n == 0)
		return 0;
	if (p[0] == '-') {
		*why = "unescaped '-' in character class";
		return 0;
	}
	if (p[0] == ']') {
		*why = hi ? "incomplete range in character class" : "empty character class";
		return 0;
	}
	if (p[0] == '\\')
		i = 1;
	if (i == n)
		return 0;
	k = utf8_decode(r, p + i, n - i);
	if (*r == RUNE_ERROR && k == 1) {
		*why = "invalid utf-8 in character class";
		return 0;
	}
	if (i + k == n)
		return 0;
	return i + k;
}

/* Reads the class at p (just after '[') as filepath.Match does and tells in *hit
 * whether r is in it. Returns its length up to and with ']', or 0 with *why set. */
static size_t class_scan(int *hit, const char *p, size_t n, uint32_t r, const char **why)
{
	int negated = n > 0 && p[0] == '^';
	size_t i = negated, k, nrange = 0;
	uint32_t lo, hi;
	int in = 0;

	while (i == n || p[i] != ']' || nrange == 0) {
		k = class_char(&lo, p + i, n - i, 0, why);
		if (!k)
			return 0;
		i += k;
		hi = lo;
		if (p[i] == '-') {
			k = class_char(&hi, p + i + 1, n - i - 1, 1, why);
			if (!k)
				return 0;
			i += 1 + k;
		}
		/* Go's regexp refuses what filepath.Match accepts as an empty range. */
		if (lo > hi) {
			*why = "character class range out of order";
			return 0;
		}
		in |= lo <= r && r <= hi;
		nrange++;
	}
	*hit = in != negated;
	return i + 1;
}

static void tok_add(struct pattern *pat, enum tok_kind kind, const char *s, size_t len)
{
	struct tok *t;

	pat->toks = ml_grow(pat->toks, &pat->atok, pat->ntok + 1, sizeof(*pat->toks));
	t = &pat->toks[pat->ntok++];
	t->kind = kind;
	t->s = s;
	t->len = len;
}

/* Adds literal bytes, joining them to the previous literal when adjacent. */
static void tok_lit(struct pattern *pat, const char *s, size_t len)
{
	struct tok *last = pat->ntok ? &pat->toks[pat->ntok - 1] : NULL;

	if (last && last->kind == TOK_LIT && last->s + last->len == s)
		last->len += len;
	else
		tok_add(pat, TOK_LIT, s, len);
}

/* "**" at p[i], as moby compiles it: a following '/' is part of it. */
static size_t compile_dstar(struct pattern *pat, const char *p, size_t n, size_t i)
{
	size_t k = p[i + 2] == '/' ? 3 : 2;

	if (i + k < n) {
		pat->kind = PAT_TOKENS;
		tok_add(pat, TOK_DIRS, NULL, 0);
	} else {
		pat->kind = pat->kind == PAT_EXACT ? PAT_PREFIX : PAT_TOKENS;
		tok_add(pat, TOK_REST, NULL, 0);
	}
	if (i == 0)
		pat->kind = PAT_SUFFIX;
	return k;
}

/* One step of moby's translation loop at p[i]; returns the bytes used, or 0
 * with *why set for a malformed pattern. */
static size_t compile_step(struct pattern *pat, const char *p, size_t n, size_t i,
			   const char **why)
{
	uint32_t r;
	size_t k;
	int hit;

	switch (p[i]) {
	case '*':
		if (p[i + 1] == '*')
			return compile_dstar(pat, p, n, i);
		pat->kind = PAT_TOKENS;
		tok_add(pat, TOK_STAR, NULL, 0);
		return 1;
	case '?':
		pat->kind = PAT_TOKENS;
		tok_add(pat, TOK_ANY, NULL, 0);
		return 1;
	case '\\':
		*why = "trailing backslash";
		if (i + 1 == n)
			return 0;
		k = utf8_decode(&r, p + i + 1, n - i - 1);
		pat->kind = PAT_TOKENS;
		tok_lit(pat, p + i + 1, k);
		return 1 + k;
	case '[':
		k = class_scan(&hit, p + i + 1, n - i - 1, 0, why);
		if (!k)
			return 0;
		pat->kind = PAT_TOKENS;
		tok_add(pat, TOK_CLASS, p + i + 1, k);
		return 1 + k;
	case ']':
		pat->kind = PAT_TOKENS;
		tok_lit(pat, p + i, 1);
		return 1;
	case '^':
		tok_add(pat, TOK_CARET, NULL, 0);
		return 1;
	default:
		tok_lit(pat, p + i, 1);
		return 1;
	}
}

/* Returns NULL, or why pat->text is malformed. */
static const char *pattern_compile(struct pattern *pat)
{
	const char *why = NULL;
	size_t i = 0, k;

	pat->kind = PAT_EXACT;
	while (i < pat->len) {
		k = compile_step(pat, pat->text, pat->len, i, &why);
		if (!k)
			return why;
		i += k;
	}
	return NULL;
}

static int match_from(struct subject *m, size_t t, size_t i);

/* One character for "?" or "[...]": returns its length, 0 when it does not match. */
static size_t match_char(const struct tok *tok, const char *s, size_t n)
{
	const char *why;
	uint32_t r;
	size_t k;
	int hit = 0;

	if (n == 0)
		return 0;
	k = utf8_decode(&r, s, n);
	if (tok->kind == TOK_ANY)
		return r == '/' ? 0 : k;
	class_scan(&hit, tok->s, tok->len, r, &why);
	return hit ? k : 0;
}

static int match_star(struct subject *m, size_t t, size_t i)
{
	uint32_t r;

	for (;;) {
		if (match_from(m, t + 1, i))
			return 1;
		if (i == m->len || m->s[i] == '/')
			return 0;
		i += utf8_decode(&r, m->s + i, m->len - i);
	}
}

static int match_dirs(struct subject *m, size_t t, size_t i)
{
	if (match_from(m, t + 1, i))
		return 1;
	for (; i < m->len && m->s[i] != '\n'; i++)
		if (m->s[i] == '/' && match_from(m, t + 1, i + 1))
			return 1;
	return 0;
}

static int match_tok(struct subject *m, size_t t, size_t i)
{
	const struct tok *tok = &m->toks[t];
	size_t k;

	switch (tok->kind) {
	case TOK_LIT:
		return m->len - i >= tok->len && !memcmp(m->s + i, tok->s, tok->len) &&
		       match_from(m, t + 1, i + tok->len);
	case TOK_ANY:
	case TOK_CLASS:
		k = match_char(tok, m->s + i, m->len - i);
		return k && match_from(m, t + 1, i + k);
	case TOK_STAR:
		return match_star(m, t, i);
	case TOK_DIRS:
		return match_dirs(m, t, i);
	case TOK_REST:
		return !memchr(m->s + i, '\n', m->len - i) && match_from(m, t + 1, m->len);
	case TOK_CARET:
		return i == 0 && match_from(m, t + 1, i);
	}
	return 0;
}

/* Whether tokens t.. match s from offset i to the end; failures are remembered
 * so that many stars cannot make this exponential. */
static int match_from(struct subject *m, size_t t, size_t i)
{
	size_t bit;

	if (t == m->ntok)
		return i == m->len;
	bit = t * (m->len + 1) + i;
	if (m->failed[bit / 8] & (1u << (bit % 8)))
		return 0;
	if (match_tok(m, t, i))
		return 1;
	m->failed[bit / 8] |= 1u << (bit % 8);
	return 0;
}

/* "**lit": s ends with lit, or lit is "/x" and s is "x". */
static int suffix_match(const char *lit, size_t n, const char *s, size_t len)
{
	if (len >= n && !memcmp(s + len - n, lit, n))
		return 1;
	return n > 0 && lit[0] == '/' && len == n - 1 && !memcmp(s, lit + 1, len);
}

static int tokens_match(const struct pattern *pat, const char *s, size_t len)
{
	unsigned char small[256];
	struct subject m = { pat->toks, pat->ntok, s, len, small };
	size_t bytes = (pat->ntok * (len + 1) + 7) / 8;
	int ok;

	if (bytes > sizeof(small))
		m.failed = ml_calloc(bytes, 1);
	else
		memset(small, 0, bytes);
	ok = match_from(&m, 0, 0);
	if (m.failed != small)
		free(m.failed);
	return ok;
}

/* moby's Pattern.match on s/len. */
static int pattern_match(const struct pattern *pat, const char *s, size_t len)
{
	switch (pat->kind) {
	case PAT_EXACT:
		return len == pat->len && !memcmp(s, pat->text, len);
	case PAT_PREFIX:
		return len >= pat->len - 2 && !memcmp(s, pat->text, pat->len - 2);
	case PAT_SUFFIX:
		return suffix_match(pat->text + 2, pat->len - 2, s, len);
	case PAT_TOKENS:
		return tokens_match(pat, s, len);
	}
	return 0;
}

/* Whether pat matches path or one of its parent directories. */
static int pattern_hits(const struct pattern *pat, const char *path)
{
	size_t len = strlen(path), i;

	if (pattern_match(pat, path, len))
		return 1;
	for (i = 1; i < len; i++)
		if (path[i] == '/' && pattern_match(pat, path, i))
			return 1;
	return 0;
}

/* What moby's ignorefile.ReadAll makes of one line; NULL when it skips it. */
static char *reader_line(const char *line)
{
	const char *s;
	char *clean, *out;
	size_t n, skip = 0;
	int invert;

	if (line[0] == '#')
		return NULL;
	s = trim_space(&n, line, strlen(line));
	if (n == 0)
		return NULL;
	invert = s[0] == '!';
	if (invert)
		s = trim_space(&n, s + 1, n - 1);
	if (n == 0)
		return ml_strdup("!");
	clean = go_clean(s, n);
	if (clean[0] == '/' && clean[1])
		skip = 1;
	out = ml_asprintf("%s%s", invert ? "!" : "", clean + skip);
	free(clean);
	return out;
}

static void pattern_dispose(struct pattern *pat)
{
	free(pat->text);
	free(pat->toks);
}

/* What moby's NewPatternMatcher makes of a line from the reader: 1 when pat was
 * filled, 0 when the line is empty, or -1 with *why set. */
static int pattern_parse(struct pattern *pat, const char *line, const char **why)
{
	const char *s;
	char *clean;
	size_t n;

	memset(pat, 0, sizeof(*pat));
	s = trim_space(&n, line, strlen(line));
	if (n == 0)
		return 0;
	clean = go_clean(s, n);
	pat->exclusion = clean[0] == '!';
	pat->text = ml_strdup(clean + pat->exclusion);
	pat->len = strlen(pat->text);
	free(clean);
	*why = "nothing after '!'";
	if (pat->exclusion && pat->len == 0)
		return -1;
	*why = pattern_compile(pat);
	return *why ? -1 : 1;
}

struct ml_ignore *ml_ignore_new(void)
{
	return ml_calloc(1, sizeof(struct ml_ignore));
}

void ml_ignore_free(struct ml_ignore *ig)
{
	size_t i;

	if (!ig)
		return;
	for (i = 0; i < ig->n; i++)
		pattern_dispose(&ig->pats[i]);
	free(ig->pats);
	free(ig);
}

int ml_ignore_add(struct ml_ignore *ig, const char *pattern, const char *origin,
		  struct ml_error *err)
{
	struct pattern pat;
	const char *why = NULL;
	char *line = reader_line(pattern);
	int ret = 0;

	if (!line)
		return 0;
	ret = pattern_parse(&pat, line, &why);
	if (ret < 0) {
		ret = ml_error_set(err, ML_ECONFIG, "%s: bad ignore pattern '%s': %s",
				   origin ? origin : "ignore", pattern, why);
		pattern_dispose(&pat);
		goto out;
	}
	if (ret > 0) {
		ig->pats = ml_grow(ig->pats, &ig->alloc, ig->n + 1, sizeof(*ig->pats));
		ig->pats[ig->n++] = pat;
		ret = 0;
	}
out:
	free(line);
	return ret;
}

/* Drops trailing whitespace in place (the newline included). */
static void chomp(char *line, size_t n)
{
	while (n > 0 && (line[n - 1] == ' ' || (line[n - 1] >= '\t' && line[n - 1] <= '\r')))
		line[--n] = '\0';
}

int ml_ignore_add_file(struct ml_ignore *ig, const char *path, struct ml_error *err)
{
	static const char bom[] = "\xef\xbb\xbf";
	char *line = NULL, *origin;
	size_t alloc = 0, lineno = 0;
	ssize_t n;
	FILE *f;
	int ret = 0;

	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : ml_error_errno(err, ML_EIO, errno,
							    "cannot open '%s'", path);
	while ((n = getline(&line, &alloc, f)) >= 0) {
		chomp(line, (size_t)n);
		lineno++;
		origin = ml_asprintf("%s:%zu", path, lineno);
		ret = ml_ignore_add(ig, line + (lineno == 1 && !strncmp(line, bom, 3) ? 3 : 0),
				    origin, err);
		free(origin);
		if (ret < 0)
			goto out;
	}
	if (ferror(f))
		ret = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
out:
	free(line);
	fclose(f);
	return ret;
}

int ml_ignore_match(const struct ml_ignore *ig, const char *relpath, int is_dir)
{
	const struct pattern *pat;
	int excluded = 0;
	size_t i;

	/* Like moby: "foo/" was cleaned to "foo", so kinds do not differ. */
	(void)is_dir;
	for (i = 0; i < ig->n; i++) {
		pat = &ig->pats[i];
		/* An exclusion cannot re-include what is not excluded, and so on. */
		if (pat->exclusion != excluded)
			continue;
		if (pattern_hits(pat, relpath))
			excluded = !pat->exclusion;
	}
	return excluded;
}

/* Whether a "!" pattern could match dir, a path below it or a parent of it (any
 * of which re-includes paths below dir). Only leading literal segments are
 * compared; anything special in a segment answers yes. */
static int may_match_below(const struct pattern *pat, const char *dir)
{
	const char *p = pat->text;
	size_t plen, dlen;

	while (*dir) {
		plen = strcspn(p, "/");
		dlen = strcspn(dir, "/");
		if (strcspn(p, "*?[\\^") < plen)
			return 1;
		if (plen != dlen || memcmp(p, dir, plen))
			return 0;
		if (!p[plen])
			return 1;
		p += plen + 1;
		dir += dlen + (dir[dlen] == '/');
	}
	return 1;
}

int ml_ignore_may_reinclude(const struct ml_ignore *ig, const char *reldir)
{
	size_t i;

	if (!strcmp(reldir, "."))
		reldir = "";
	for (i = 0; i < ig->n; i++)
		if (ig->pats[i].exclusion && may_match_below(&ig->pats[i], reldir))
			return 1;
	return 0;
}
