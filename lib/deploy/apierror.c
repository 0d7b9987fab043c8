/* The clouds' error bodies turned into one line ("CODE: message"), for rest.c. */
#include "deploy/rest.h"

#include <string.h>

#include "deploy/rest-internal.h"
#include "util/buf.h"
#include "util/redact.h"
#include "wrap/xml.h"

#define LINE_TEXT_MAX 600	/* of server text taken into one line */
#define JSON_BODY_MAX (1u << 20)	/* larger error bodies are not parsed (JSON or XML) */

void ml_rest_line(char *out, size_t cap, const char *text)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *p;
	size_t n = 0;
	int blank = 1;

	if (!cap)
		return;
	ml_redact_text(&b, text, strlen(text), LINE_TEXT_MAX);
	for (p = ml_buf_str(&b); *p && n + 1 < cap; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (!blank)
				out[n++] = ' ';
			blank = 1;
			continue;
		}
		out[n++] = (char)c;
		blank = 0;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (*p && cap > 4)
		memcpy(out + (n > cap - 4 ? cap - 4 : n), "...", 4);
	ml_buf_dispose(&b);
	ml_sanitize(out);
}

/* An error code as a short identifier: letters, digits and "_.:-" only. */
static void put_code(char *code_out, const char *code)
{
	size_t n = 0;

	if (!code_out)
		return;
	for (; code && *code && n + 1 < ML_REST_CODE_MAX; code++) {
		char c = *code;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == ':' || c == '-')
			code_out[n++] = c;
	}
	code_out[n] = '\0';
}

/* "CODE: message" (either may be missing, not both) as one line. */
static int put_line(char *out, size_t cap, char *code_out, const char *code, const char *message,
		    const char *extra)
{
	struct ml_buf b = ML_BUF_INIT;

	if ((!code || !*code) && (!message || !*message))
		return 0;
	if (code && *code)
		ml_buf_adds(&b, code);
	if (code && *code && message && *message)
		ml_buf_adds(&b, ": ");
	if (message)
		ml_buf_adds(&b, message);
	if (extra && *extra)
		ml_buf_printf(&b, " (%s)", extra);
	ml_rest_line(out, cap, ml_buf_str(&b));
	ml_buf_dispose(&b);
	put_code(code_out, code);
	return 1;
}

static ml_json *parse(const struct ml_http_response *resp)
{
	if (!resp->body.len || resp->body.len > JSON_BODY_MAX)
		return NULL;
	/* no error object: the parser's message may quote the body */
	return ml_json_parse(resp->body.data, resp->body.len, NULL);
}

/* What a JSON error body says: code and message point into the document or into
 * code_buf; extra is a detail put in parentheses after the message. */
struct fields {
	const char *code, *message;
	char code_buf[ML_REST_CODE_MAX];
	struct ml_buf extra;
};

/* Finds the fields of one service's error body in doc (NULL: not JSON). */
typedef void (*find_fn)(const struct ml_http_response *resp, const ml_json *doc,
			struct fields *f);

static int decode_json(const struct ml_http_response *resp, char *out, size_t cap,
		       char *code_out, find_fn find)
{
	ml_json *doc = parse(resp);
	struct fields f = { .extra = ML_BUF_INIT };
	int ok;

	find(resp, doc, &f);
	ok = put_line(out, cap, code_out, f.code, f.message, ml_buf_str(&f.extra));
	ml_buf_dispose(&f.extra);
	ml_json_free(doc);
	return ok;
}

/* OAuth 2.0 token endpoints (Google's and Entra ID's): {"error": "invalid_grant",
 * "error_description": "..."}; 1 when doc is one. */
static int find_oauth(const ml_json *doc, struct fields *f)
{
	const char *e = ml_json_get_str(doc, "error");
	const char *description = ml_json_get_str(doc, "error_description");

	if (!e || (!*e && (!description || !*description)))
		return 0;
	f->code = e;
	f->message = description;
	return 1;
}

/* Google: {"error": {"code": 404, "message": "...", "status": "NOT_FOUND", "details":
 * [{"@type": "...BadRequest", "fieldViolations": [{"field", "description"}]}]}}. */
static void find_google(const struct ml_http_response *resp, const ml_json *doc,
			struct fields *f)
{
	ml_json *e = ml_json_get(doc, "error"), *details, *v;
	size_t i;

	(void)resp;
	if (!ml_json_is_object(e)) {
		find_oauth(doc, f);
		return;
	}
	f->code = ml_json_get_str(e, "status");
	f->message = ml_json_get_str(e, "message");
	details = ml_json_get(e, "details");
	for (i = 0; i < ml_json_size(details) && !f->extra.len; i++) {
		v = ml_json_at(ml_json_get(ml_json_at(details, i), "fieldViolations"), 0);
		if (ml_json_get_str(v, "field") && ml_json_get_str(v, "description"))
			ml_buf_printf(&f->extra, "%s: %s", ml_json_get_str(v, "field"),
				      ml_json_get_str(v, "description"));
	}
}

/* Azure Resource Manager: {"error": {"code": "ResourceNotFound", "message": "...",
 * "details": [{"code", "message"}]}}, some resource providers without the "error"
 * wrapper. */
static void find_azure(const struct ml_http_response *resp, const ml_json *doc,
		       struct fields *f)
{
	const ml_json *e = ml_json_get(doc, "error"), *d;
	const char *detail_code;

	(void)resp;
	if (!ml_json_is_object(e)) {
		if (find_oauth(doc, f) || !ml_json_get_str(doc, "code") ||
		    !ml_json_get_str(doc, "message"))
			return;
		e = doc;
	}
	f->code = ml_json_get_str(e, "code");
	if (!f->code)
		return;
	f->message = ml_json_get_str(e, "message");
	d = ml_json_at(ml_json_get(e, "details"), 0);
	detail_code = ml_json_get_str(d, "code");
	if (ml_json_get_str(d, "message"))
		ml_buf_printf(&f->extra, "%s%s%s", detail_code ? detail_code : "",
			      detail_code ? ": " : "", ml_json_get_str(d, "message"));
}

/* AWS JSON 1.0/1.1 protocols: {"__type": "com.amazonaws.ecr#RepositoryNotFoundException",
 * "message": "..."} ("Message" in some services); the type may also come alone in
 * the X-Amzn-ErrorType header, as "Code:http://internal.amazon.com/...". */
static void find_aws_json(const struct ml_http_response *resp, const ml_json *doc,
			  struct fields *f)
{
	const char *type = ml_json_get_str(doc, "__type"), *hash;
	size_t n;

	if (!type)
		type = ml_http_response_header(resp, "X-Amzn-ErrorType");
	if (!type || !*type)
		return;
	hash = strrchr(type, '#');
	if (hash)
		type = hash + 1;
	n = strcspn(type, ":");
	if (n >= sizeof(f->code_buf))
		n = sizeof(f->code_buf) - 1;
	memcpy(f->code_buf, type, n);
	f->code_buf[n] = '\0';
	f->code = f->code_buf;
	f->message = ml_json_get_str(doc, "message");
	if (!f->message)
		f->message = ml_json_get_str(doc, "Message");
}

/* Docker Engine API: {"message": "No such container: iris"}. */
static void find_docker(const struct ml_http_response *resp, const ml_json *doc,
			struct fields *f)
{
	(void)resp;
	f->message = ml_json_get_str(doc, "message");
}

static int decode_google(const struct ml_http_response *resp, char *out, size_t cap,
			 char *code_out)
{
	return decode_json(resp, out, cap, code_out, find_google);
}

static int decode_azure(const struct ml_http_response *resp, char *out, size_t cap,
			char *code_out)
{
	return decode_json(resp, out, cap, code_out, find_azure);
}

static int decode_aws_json(const struct ml_http_response *resp, char *out, size_t cap,
			   char *code_out)
{
	return decode_json(resp, out, cap, code_out, find_aws_json);
}

static int decode_docker(const struct ml_http_response *resp, char *out, size_t cap,
			 char *code_out)
{
	return decode_json(resp, out, cap, code_out, find_docker);
}

/* AWS Query APIs (STS, Elastic Beanstalk): <ErrorResponse><Error><Type>Sender</Type>
 * <Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>;
 * S3 answers <Error> at the root, EC2 <Response><Errors><Error>, moto's signature
 * and IAM policy refusals (for every service) <ErrorResponse><Errors><Error>. */
static int decode_aws_query(const struct ml_http_response *resp, char *out, size_t cap,
			    char *code_out)
{
	static const char *const paths[] = { "ErrorResponse/Error", "Error", "Response/Errors/Error",
					      "ErrorResponse/Errors/Error" };
	const struct ml_xml *e = NULL;
	struct ml_xml *doc = NULL;
	size_t i;
	int ok = 0;

	if (!resp->body.len || resp->body.len > JSON_BODY_MAX ||
	    ml_xml_parse(&doc, resp->body.data, resp->body.len, JSON_BODY_MAX, NULL) < 0)
		return 0;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]) && !e; i++)
		e = ml_xml_find(doc, paths[i]);
	if (e)
		ok = put_line(out, cap, code_out, ml_xml_text(ml_xml_find(e, "Code")),
			      ml_xml_text(ml_xml_find(e, "Message")), NULL);
	ml_xml_free(doc);
	return ok;
}

const ml_rest_decode_fn ml_rest_decode_google = decode_google;
const ml_rest_decode_fn ml_rest_decode_azure = decode_azure;
const ml_rest_decode_fn ml_rest_decode_aws_json = decode_aws_json;
const ml_rest_decode_fn ml_rest_decode_aws_query = decode_aws_query;
const ml_rest_decode_fn ml_rest_decode_docker = decode_docker;
