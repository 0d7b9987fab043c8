/* JSON over jansson. Only json.c includes jansson.h; everything else sees ml_json.
 * Reference counting as in jansson: functions named *_new and ml_json_parse return
 * a new reference; ml_json_set/append steal the value; getters borrow. */
#ifndef ML_JSON_H
#define ML_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

typedef struct ml_json ml_json;

ml_json *ml_json_parse(const char *data, size_t len, struct ml_error *err);
/* For documents that may hold secrets (the Docker config, a credential helper's or
 * token service's answer): the error gives line, column and the kind of fault,
 * never the text near it. */
ml_json *ml_json_parse_secret(const char *data, size_t len, struct ml_error *err);
ml_json *ml_json_object_new(void);
ml_json *ml_json_array_new(void);
ml_json *ml_json_string_new(const char *s);
ml_json *ml_json_int_new(int64_t v);
ml_json *ml_json_real_new(double v);
ml_json *ml_json_bool_new(int v);
ml_json *ml_json_null_new(void);
ml_json *ml_json_ref(ml_json *v);
ml_json *ml_json_deep_copy(const ml_json *v);
void ml_json_free(ml_json *v);		/* drops one reference; NULL is fine */

int ml_json_is_object(const ml_json *v);
int ml_json_is_array(const ml_json *v);
int ml_json_is_string(const ml_json *v);
int ml_json_is_true(const ml_json *v);

/* Object members; set steals val (NULL val removes key). */
ml_json *ml_json_get(const ml_json *obj, const char *key);
const char *ml_json_get_str(const ml_json *obj, const char *key);	/* NULL unless a string */
int ml_json_get_int(const ml_json *obj, const char *key, int64_t *out); /* 0 or -1 */
void ml_json_set(ml_json *obj, const char *key, ml_json *val);
void ml_json_set_str(ml_json *obj, const char *key, const char *s);
void ml_json_set_int(ml_json *obj, const char *key, int64_t v);
/* Returns obj[key] as an object, creating it (replacing a non-object) when missing;
 * NULL when obj is not an object. */
ml_json *ml_json_get_or_add_object(ml_json *obj, const char *key);

/* Iteration over an object: `for (it = ml_json_iter(o); it; it = ml_json_iter_next(o, it))`. */
void *ml_json_iter(ml_json *obj);
void *ml_json_iter_next(ml_json *obj, void *it);
const char *ml_json_iter_key(void *it);
ml_json *ml_json_iter_value(void *it);

size_t ml_json_size(const ml_json *v);	/* array length or number of members */
ml_json *ml_json_at(const ml_json *arr, size_t i);
void ml_json_append(ml_json *arr, ml_json *val);
/* Replaces element i (stealing val); nothing happens when i is out of range. */
void ml_json_array_set(ml_json *arr, size_t i, ml_json *val);

const char *ml_json_str(const ml_json *v);	/* NULL unless a string */
int ml_json_int(const ml_json *v, int64_t *out);
/* An integer or a real as a double; 0, or -1 when v is not a number. */
int ml_json_number(const ml_json *v, double *out);

/* Compact, keys sorted: the canonical form of every document mldeploy writes. */
int ml_json_dump(const ml_json *v, struct ml_buf *out);
/* Indented, for humans. */
int ml_json_dump_pretty(const ml_json *v, struct ml_buf *out);

#endif
