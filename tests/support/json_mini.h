/*
 * A tiny JSON reader for test data (the Noise vectors and similar files).
 *
 * It parses a whole document into a tree that the caller frees with
 * json_free(). Numbers are kept as doubles, strings are NUL-terminated UTF-8
 * (\uXXXX escapes decoded, surrogate pairs joined). It is strict enough for
 * well-formed input and bounded in nesting depth; it is not meant for input
 * from the network. Only tests link it.
 */
#ifndef KN_JSON_MINI_H
#define KN_JSON_MINI_H

#include <stdbool.h>
#include <stddef.h>

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;

/* Parses len bytes of text; NULL on any syntax error, trailing garbage or allocation failure. */
json_value *json_parse(const char *text, size_t len);
/* Reads and parses a file; NULL on error. */
json_value *json_parse_file(const char *path);
void json_free(json_value *v);

json_type json_kind(const json_value *v);
/* Object member by key, or NULL (also when v is NULL or not an object). */
const json_value *json_get(const json_value *v, const char *key);
/* Array or object length; 0 for anything else. */
size_t json_len(const json_value *v);
/* Array element (or object member value) i, or NULL. */
const json_value *json_at(const json_value *v, size_t i);
/* String contents, or NULL if v is not a string. Valid until json_free(). */
const char *json_str(const json_value *v);
double json_num(const json_value *v);
bool json_bool(const json_value *v);

#endif
