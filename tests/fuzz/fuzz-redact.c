/* Redaction of server text, URLs, headers and bodies.
 *
 * Every input is passed whole to the entry points, whose output must hold no
 * terminal control characters (and, for URLs, only printable ASCII). When the
 * input's first line is a secret-looking value (8 to 256 of [A-Za-z0-9]), that
 * value is also put into text where mldeploy promises to blank it, between
 * copies of the rest of the input, and must not come out; and the rest of the
 * input drives a generator of JSON, XML and form documents that hold the secret
 * under a secret name (arrays, nested objects, escaped keys, namespace prefixes,
 * attributes, CDATA, comments, percent-encoded names, name/value pairs), which
 * ml_redact_body must blank whatever the declared content type. */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "fuzzutil.h"
#include "util/redact.h"

#define SECRET_MIN 8
#define SECRET_MAX 256
#define BEARER_MIN 12		/* shorter words after "Bearer " are not taken for credentials */

struct input {
	const uint8_t *data;
	size_t size;
};

/* Output must be valid UTF-8 without C0 (but \n and \t when keep_newlines), DEL
 * or C1: nothing a terminal would act on. */
static void check_clean(const struct ml_buf *out, int keep_newlines, const char *what,
			const struct input *in)
{
	const unsigned char *p = (const unsigned char *)ml_buf_str(out);
	size_t i = 0, len;
	unsigned cp;

	while (i < out->len) {
		len = fuzz_utf8_char(p + i, out->len - i, &cp);
		if (!len || (cp < 0x20 && !(keep_newlines && (cp == '\n' || cp == '\t'))) ||
		    (cp >= 0x7f && cp <= 0x9f)) {
			fuzz_print("output", out->data, out->len);
			fuzz_fail(what, in->data, in->size);
		}
		i += len;
	}
}

static void check_url_chars(const struct ml_buf *out, const struct input *in)
{
	size_t i;

	for (i = 0; i < out->len; i++)
		if (out->data[i] <= 0x20 || out->data[i] >= 0x7f) {
			fuzz_print("output", out->data, out->len);
			fuzz_fail("ml_redact_url output holds a byte outside printable ascii",
				  in->data, in->size);
		}
}

static const char *const content_types[] = {
	NULL, "application/json", "text/xml", "application/x-www-form-urlencoded", "text/plain",
};
#define NTYPES (sizeof(content_types) / sizeof(content_types[0]))

static void any_body(struct ml_buf *out, const struct input *in, size_t max)
{
	size_t i;

	for (i = 0; i < NTYPES; i++) {
		ml_buf_reset(out);
		ml_redact_body(out, content_types[i], in->data, in->size, i == 0 ? max : 0);
		check_clean(out, 1, "ml_redact_body output holds control characters or bad utf-8", in);
	}
}

static void any_input(const struct input *in)
{
	struct ml_buf out = ML_BUF_INIT;
	char *s = fuzz_strndup(in->data, in->size), *colon;
	size_t max = in->size ? in->data[0] % 64 + 1 : 0;

	ml_redact_text(&out, (const char *)in->data, in->size, 0);
	check_clean(&out, 1, "ml_redact_text output holds control characters or bad utf-8", in);
	ml_buf_reset(&out);
	ml_redact_text(&out, (const char *)in->data, in->size, max);
	check_clean(&out, 1, "ml_redact_text (with max) output holds control characters", in);
	ml_buf_reset(&out);
	ml_redact_url(&out, s);
	check_url_chars(&out, in);
	ml_buf_reset(&out);
	colon = strchr(s, ':');
	if (colon)
		*colon++ = '\0';
	ml_redact_header(&out, s, colon ? colon : "");
	check_clean(&out, 0, "ml_redact_header output holds control characters or bad utf-8", in);
	any_body(&out, in, max);
	ml_buf_dispose(&out);
	free(s);
}

static int is_secret(const uint8_t *p, size_t n)
{
	size_t i;

	if (n < SECRET_MIN || n > SECRET_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9')))
			return 0;
	return 1;
}

/* Text that blanks secret: context, newline, fmt with each '%' replaced by secret,
 * newline, context. */
static void build(struct ml_buf *text, const char *fmt, const char *secret,
		  const char *ctx, size_t ctxlen)
{
	ml_buf_reset(text);
	ml_buf_add(text, ctx, ctxlen);
	ml_buf_addch(text, '\n');
	for (; *fmt; fmt++)
		if (*fmt == '%')
			ml_buf_adds(text, secret);
		else
			ml_buf_addch(text, *fmt);
	ml_buf_addch(text, '\n');
	ml_buf_add(text, ctx, ctxlen);
}

/* The secret comes out of the text with it but not out of the same text without
 * it (which rules out the secret being in the context or the template). */
static void check_text_form(const char *fmt, const char *secret, const char *ctx,
			    size_t ctxlen, const struct input *in)
{
	struct ml_buf text = ML_BUF_INIT, with = ML_BUF_INIT, without = ML_BUF_INIT;
	size_t slen = strlen(secret);

	build(&text, fmt, secret, ctx, ctxlen);
	ml_redact_text(&with, text.data, text.len, 0);
	build(&text, fmt, "", ctx, ctxlen);
	ml_redact_text(&without, text.data, text.len, 0);
	if (fuzz_contains(with.data, with.len, secret, slen) &&
	    !fuzz_contains(without.data, without.len, secret, slen)) {
		fuzz_print("output", with.data, with.len);
		fuzz_fail(fmt, in->data, in->size);
	}
	ml_buf_dispose(&text);
	ml_buf_dispose(&with);
	ml_buf_dispose(&without);
}

/* Fixed URLs and headers around secret, by kind. */
static void redact_fixed(struct ml_buf *out, int kind, const char *secret)
{
	struct ml_buf url = ML_BUF_INIT;

	ml_buf_printf(&url, "https://u:%s@h.example/p?token=%s&a=b&X-Amz-Credential=%s#f",
		      secret, secret, secret);
	switch (kind) {
	case 0:
		ml_redact_url(out, ml_buf_str(&url));
		break;
	case 1:
		ml_redact_header(out, "Authorization", ml_buf_str(&url));
		break;
	case 2:
		ml_redact_header(out, "X-Api-Key", secret);
		break;
	default:
		ml_redact_header(out, "Location", ml_buf_str(&url));
	}
	ml_buf_dispose(&url);
}

static void check_fixed(int kind, const char *secret, const struct input *in)
{
	static const char *const what[] = {
		"ml_redact_url kept a secret", "ml_redact_header(Authorization) kept a secret",
		"ml_redact_header(X-Api-Key) kept a secret", "ml_redact_header(Location) kept a secret",
	};
	struct ml_buf with = ML_BUF_INIT, without = ML_BUF_INIT;
	size_t slen = strlen(secret);

	redact_fixed(&with, kind, secret);
	redact_fixed(&without, kind, "");
	if (fuzz_contains(with.data, with.len, secret, slen) &&
	    !fuzz_contains(without.data, without.len, secret, slen)) {
		fuzz_print("output", with.data, with.len);
		fuzz_fail(what[kind], in->data, in->size);
	}
	ml_buf_dispose(&with);
	ml_buf_dispose(&without);
}

static void secret_input(const char *secret, const char *ctx, size_t ctxlen,
			 const struct input *in)
{
	static const char *const forms[] = {
		"{\"token\":\"%\"}",
		"{\"access_token\": \"%\", \"expires_in\": 300, \"issued_at\": \"2024-01-01\"}",
		"{\"errors\":[{\"detail\":\"{\\\"password\\\":\\\"%\\\"}\"}]}",
		"client_secret=%&grant_type=refresh_token&refresh_token=%",
		"fetching https://user:%@registry.example/v2/x/blobs/sha256:ab"
		"?X-Amz-Signature=%&X-Amz-Date=1 failed",
		NULL,
	};
	int i;

	for (i = 0; forms[i]; i++)
		check_text_form(forms[i], secret, ctx, ctxlen, in);
	if (strlen(secret) >= BEARER_MIN)
		check_text_form("WWW-Authenticate: Basic realm=x\nAuthorization: Bearer %", secret,
				ctx, ctxlen, in);
	for (i = 0; i < 4; i++)
		check_fixed(i, secret, in);
}

/* Generated documents: choices come from the input's bytes after the secret. */
struct gen {
	const uint8_t *p;
	size_t n, i;
	const char *secret;
	int depth;
	int pair;		/* a name/value pair holds the secret (only structural redaction sees it) */
};

static unsigned pick(struct gen *g, unsigned k)
{
	return g->i < g->n ? g->p[g->i++] % k : 0;
}

static const char *const secret_names[] = {
	"token", "password", "secret", "client_secret", "refresh_token", "id_token",
	"subject_token", "access_token", "signature", "X-Amz-Signature", "credential",
	"Credentials", "authorization", "assertion", "client_assertion", "apiKey", "private_key",
	"SessionToken", "SecretAccessKey", "sig", "passwd", "auth", "Password", "secureValue",
};
#define NSECRET_NAMES (sizeof(secret_names) / sizeof(secret_names[0]))

/* A secret name with its letters' case changed at random. */
static void secret_name(struct gen *g, struct ml_buf *out)
{
	const char *s = secret_names[pick(g, NSECRET_NAMES)];

	for (; *s; s++)
		ml_buf_addch(out, (char)(pick(g, 4) == 0 && *s >= 'a' && *s <= 'z' ? *s - 32 : *s));
}

/* Printable filler taken from the input. */
static void filler(struct gen *g, struct ml_buf *out, size_t max)
{
	size_t n = pick(g, (unsigned)max + 1), i;

	for (i = 0; i < n; i++)
		ml_buf_addch(out, (char)(0x20 + pick(g, 0x5f)));
}

static void space(struct gen *g, struct ml_buf *out)
{
	static const char *const sp[] = { "", "", " ", "\n  ", "\t" };

	ml_buf_adds(out, sp[pick(g, 5)]);
}

/* JSON */

static void json_string(struct gen *g, struct ml_buf *out, const char *s, size_t n, int escape)
{
	size_t i;

	ml_buf_addch(out, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20 ||
		    (escape && pick(g, 3) == 0))
			ml_buf_printf(out, "\\u%04x", (unsigned char)s[i]);
		else
			ml_buf_addch(out, s[i]);
	}
	ml_buf_addch(out, '"');
}

static void json_filler_string(struct gen *g, struct ml_buf *out)
{
	struct ml_buf f = ML_BUF_INIT;

	filler(g, &f, 12);
	json_string(g, out, ml_buf_str(&f), f.len, 0);
	ml_buf_dispose(&f);
}

static void json_value(struct gen *g, struct ml_buf *out, int with_secret);

static void json_secret_value(struct gen *g, struct ml_buf *out)
{
	switch (pick(g, 5)) {
	case 0:
		json_string(g, out, g->secret, strlen(g->secret), 0);
		break;
	case 1:
		ml_buf_addch(out, '[');
		if (pick(g, 2)) {
			json_value(g, out, 0);
			ml_buf_addch(out, ',');
		}
		json_string(g, out, g->secret, strlen(g->secret), 0);
		ml_buf_addch(out, ']');
		break;
	case 2:
		ml_buf_adds(out, "{\"v\":");
		json_secret_value(g, out);
		ml_buf_addch(out, '}');
		break;
	case 3:
		ml_buf_adds(out, "[[");
		json_string(g, out, g->secret, strlen(g->secret), 0);
		ml_buf_adds(out, "]]");
		break;
	default:
		ml_buf_addch(out, '{');
		json_value(g, out, 0);
		ml_buf_adds(out, ":1,\"x\":[");
		json_string(g, out, g->secret, strlen(g->secret), 0);
		ml_buf_adds(out, "]}");
	}
}

/* An object whose members are filler, and, when with_secret, one member holds the
 * secret (under a secret name, or as the value of a secret-named pair). */
static void json_object(struct gen *g, struct ml_buf *out, int with_secret)
{
	struct ml_buf name = ML_BUF_INIT;
	unsigned n = 1 + pick(g, 4), at = pick(g, n), i;

	ml_buf_addch(out, '{');
	for (i = 0; i < n; i++) {
		if (i)
			ml_buf_addch(out, ',');
		space(g, out);
		ml_buf_reset(&name);
		if (with_secret && i == at && g->depth < 4 && pick(g, 4) == 0) {
			/* deeper: "k": {... the secret ...} */
			filler(g, &name, 6);
			json_string(g, out, ml_buf_str(&name), name.len, 0);
			ml_buf_addch(out, ':');
			g->depth++;
			json_value(g, out, 1);
			g->depth--;
		} else if (with_secret && i == at && pick(g, 6) == 0) {
			ml_buf_adds(out, "\"name\":\"DB_PASSWORD\",\"value\":");
			json_string(g, out, g->secret, strlen(g->secret), 0);
			g->pair = 1;
		} else if (with_secret && i == at) {
			secret_name(g, &name);
			json_string(g, out, ml_buf_str(&name), name.len, 1);
			space(g, out);
			ml_buf_addch(out, ':');
			space(g, out);
			json_secret_value(g, out);
		} else {
			ml_buf_addch(out, '"');
			ml_buf_adds(out, "k");
			ml_buf_printf(out, "%u\":", i);
			json_value(g, out, 0);
		}
	}
	space(g, out);
	ml_buf_addch(out, '}');
	ml_buf_dispose(&name);
}

static void json_value(struct gen *g, struct ml_buf *out, int with_secret)
{
	if (with_secret) {
		if (pick(g, 3) == 0) {
			ml_buf_addch(out, '[');
			json_object(g, out, 1);
			ml_buf_addch(out, ']');
		} else {
			json_object(g, out, 1);
		}
		return;
	}
	switch (g->depth < 4 ? pick(g, 4) : 0) {
	case 0:
		json_filler_string(g, out);
		break;
	case 1:
		ml_buf_printf(out, "%u", pick(g, 1000));
		break;
	case 2:
		g->depth++;
		json_object(g, out, 0);
		g->depth--;
		break;
	default:
		ml_buf_addch(out, '[');
		json_filler_string(g, out);
		ml_buf_addch(out, ']');
	}
}

/* XML */

static void xml_text(struct gen *g, struct ml_buf *out, size_t max)
{
	struct ml_buf f = ML_BUF_INIT;
	size_t i;

	filler(g, &f, max);
	for (i = 0; i < f.len; i++) {
		if (f.data[i] == '<')
			ml_buf_adds(out, "&lt;");
		else if (f.data[i] == '&')
			ml_buf_adds(out, "&amp;");
		else if (f.data[i] == '"')
			ml_buf_adds(out, "&quot;");
		else
			ml_buf_addch(out, f.data[i]);
	}
	ml_buf_dispose(&f);
}

static void xml_attrs(struct gen *g, struct ml_buf *out)
{
	unsigned n = pick(g, 3), i;

	for (i = 0; i < n; i++) {
		ml_buf_printf(out, "%sa%u=\"", pick(g, 2) ? " " : "\n ", i);
		xml_text(g, out, 8);
		ml_buf_addch(out, '"');
	}
}

static void xml_prefix(struct gen *g, struct ml_buf *name)
{
	if (pick(g, 3) == 0)
		ml_buf_adds(name, pick(g, 2) ? "ns:" : "sts:");
}

static void xml_secret_content(struct gen *g, struct ml_buf *out)
{
	space(g, out);
	switch (pick(g, 5)) {
	case 0:
		ml_buf_printf(out, "<![CDATA[%s]]>", g->secret);
		break;
	case 1:
		ml_buf_printf(out, "<Value>%s</Value>", g->secret);
		break;
	case 2:
		ml_buf_adds(out, "<!-- c -->");
		ml_buf_adds(out, g->secret);
		break;
	case 3:
		xml_text(g, out, 4);
		ml_buf_adds(out, "<![CDATA[</x>]]>");
		ml_buf_adds(out, g->secret);
		break;
	default:
		ml_buf_adds(out, g->secret);
	}
	space(g, out);
}

static void xml_secret(struct gen *g, struct ml_buf *out)
{
	struct ml_buf name = ML_BUF_INIT;
	char q;

	switch (pick(g, 6)) {
	case 0:
		/* in an attribute */
		q = pick(g, 2) ? '"' : '\'';
		ml_buf_adds(out, "<Item");
		xml_attrs(g, out);
		ml_buf_addch(out, ' ');
		xml_prefix(g, &name);
		secret_name(g, &name);
		ml_buf_printf(out, "%s=%c%s%c/>", ml_buf_str(&name), q, g->secret, q);
		break;
	case 1:
		ml_buf_printf(out, "<member><OptionName>DB_PASSWORD</OptionName><Value>%s</Value></member>",
			      g->secret);
		break;
	default:
		xml_prefix(g, &name);
		secret_name(g, &name);
		ml_buf_printf(out, "<%s", ml_buf_str(&name));
		xml_attrs(g, out);
		ml_buf_addch(out, '>');
		xml_secret_content(g, out);
		ml_buf_printf(out, "</%s%s>", ml_buf_str(&name), pick(g, 3) ? "" : " ");
	}
	ml_buf_dispose(&name);
}

static void xml_element(struct gen *g, struct ml_buf *out, int with_secret)
{
	unsigned n = 1 + pick(g, 4), at = pick(g, n), i, tag = pick(g, 100);

	ml_buf_printf(out, "<e%u", tag);
	xml_attrs(g, out);
	ml_buf_addch(out, '>');
	for (i = 0; i < n; i++) {
		space(g, out);
		if (with_secret && i == at) {
			if (g->depth < 4 && pick(g, 3) == 0) {
				g->depth++;
				xml_element(g, out, 1);
				g->depth--;
			} else {
				xml_secret(g, out);
			}
		} else if (pick(g, 4) == 0) {
			ml_buf_adds(out, "<!-- ");
			xml_text(g, out, 8);
			ml_buf_adds(out, " -->");
		} else if (g->depth < 4 && pick(g, 3) == 0) {
			g->depth++;
			xml_element(g, out, 0);
			g->depth--;
		} else {
			xml_text(g, out, 12);
		}
	}
	ml_buf_printf(out, "</e%u>", tag);
}

/* Forms */

static void form_name(struct gen *g, struct ml_buf *out)
{
	struct ml_buf name = ML_BUF_INIT;
	size_t i;

	secret_name(g, &name);
	for (i = 0; i < name.len; i++)
		if (pick(g, 4) == 0)
			ml_buf_printf(out, "%%%02X", (unsigned char)name.data[i]);
		else
			ml_buf_addch(out, name.data[i]);
	ml_buf_dispose(&name);
}

static void form_filler(struct gen *g, struct ml_buf *out)
{
	struct ml_buf f = ML_BUF_INIT;
	size_t i;

	filler(g, &f, 10);
	for (i = 0; i < f.len; i++) {
		unsigned char c = (unsigned char)f.data[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			ml_buf_addch(out, (char)c);
		else
			ml_buf_printf(out, "%%%02X", c);
	}
	ml_buf_dispose(&f);
}

static void form_doc(struct gen *g, struct ml_buf *out)
{
	unsigned n = 1 + pick(g, 4), at = pick(g, n), i;

	for (i = 0; i < n; i++) {
		if (i)
			ml_buf_addch(out, '&');
		if (i == at && pick(g, 4) == 0) {
			ml_buf_printf(out, "Env.member.%u.OptionName=DB_PASSWORD&Env.member.%u.Value=%s",
				      i, i, g->secret);
			g->pair = 1;
		} else if (i == at) {
			form_name(g, out);
			ml_buf_printf(out, "=%s", g->secret);
		} else {
			ml_buf_printf(out, "f%u=", i);
			form_filler(g, out);
		}
	}
}

enum doc_kind { DOC_JSON, DOC_XML, DOC_FORM };

/* The document of kind for g's choices, with secret (or "" in its place). */
static void make_doc(struct ml_buf *out, enum doc_kind kind, const struct input *in,
		     size_t skip, const char *secret, int *pair)
{
	struct gen g = { in->data + skip, in->size - skip, 0, secret, 0, 0 };

	ml_buf_reset(out);
	if (kind == DOC_JSON) {
		json_value(&g, out, 1);
	} else if (kind == DOC_XML) {
		if (pick(&g, 2))
			ml_buf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
		xml_element(&g, out, 1);
	} else {
		form_doc(&g, out);
	}
	*pair = g.pair;
}

static void check_doc(enum doc_kind kind, const char *ct, int textual, const char *secret,
		      const struct input *in, size_t skip)
{
	struct ml_buf doc = ML_BUF_INIT, with = ML_BUF_INIT, without = ML_BUF_INIT;
	size_t slen = strlen(secret);
	int pair;

	make_doc(&doc, kind, in, skip, secret, &pair);
	if (textual && pair)
		goto out;
	if (textual)
		ml_redact_text(&with, doc.data, doc.len, 0);
	else
		ml_redact_body(&with, ct, doc.data, doc.len, 0);
	if (!fuzz_contains(with.data, with.len, secret, slen))
		goto out;
	make_doc(&doc, kind, in, skip, "", &pair);
	if (textual)
		ml_redact_text(&without, doc.data, doc.len, 0);
	else
		ml_redact_body(&without, ct, doc.data, doc.len, 0);
	if (!fuzz_contains(without.data, without.len, secret, slen)) {
		make_doc(&doc, kind, in, skip, secret, &pair);
		fuzz_print("document", doc.data, doc.len);
		fuzz_print("output", with.data, with.len);
		fuzz_fail(textual ? "ml_redact_text kept a secret of a generated document" :
			  "ml_redact_body kept a secret of a generated document", in->data, in->size);
	}
out:
	ml_buf_dispose(&doc);
	ml_buf_dispose(&with);
	ml_buf_dispose(&without);
}

static void generated_documents(const char *secret, const struct input *in, size_t skip)
{
	check_doc(DOC_JSON, "application/json", 0, secret, in, skip);
	check_doc(DOC_JSON, NULL, 0, secret, in, skip);
	check_doc(DOC_JSON, "text/xml", 0, secret, in, skip);
	check_doc(DOC_JSON, NULL, 1, secret, in, skip);
	check_doc(DOC_XML, "text/xml", 0, secret, in, skip);
	check_doc(DOC_XML, "application/json", 0, secret, in, skip);
	check_doc(DOC_XML, NULL, 1, secret, in, skip);
	check_doc(DOC_FORM, "application/x-www-form-urlencoded", 0, secret, in, skip);
	check_doc(DOC_FORM, NULL, 1, secret, in, skip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct input in = { data, size };
	const uint8_t *nl = memchr(data, '\n', size);
	size_t slen = nl ? (size_t)(nl - data) : size;
	char *secret;

	any_input(&in);
	if (!is_secret(data, slen))
		return 0;
	secret = fuzz_strndup(data, slen);
	secret_input(secret, nl ? (const char *)nl + 1 : "", nl ? size - slen - 1 : 0, &in);
	generated_documents(secret, &in, nl ? slen + 1 : size);
	free(secret);
	return 0;
}
