/* SPDX-License-Identifier: MIT */
/*
 * Where a value stands in JSON text, for config.c's error messages
 * ("vm.json:4:5: ...").  jansson reports positions of syntax errors only, so
 * the loader finds the offending key or value again with a small scanner
 * over the (already parsed, hence valid) text.
 *
 * A path is a list of steps from the top-level value: an object key, or an
 * array index when key is NULL.  Lines and columns count like jansson's:
 * both 1-based, a column counts UTF-8 characters, only '\n' ends a line.
 */
#ifndef VMM_CONFIG_JSON_H
#define VMM_CONFIG_JSON_H

#include <stddef.h>

struct config_json_step {
	const char *key;  /* object member name, or NULL for an array index */
	size_t index;     /* array element index when key == NULL */
};

struct config_json_pos {
	int line;
	int column;
};

/* Find `path` (n steps) in the JSON text.  On success returns 0 and fills
 * `key` with the position of the key's opening quote (for an array element or
 * the top level: of the value) and `value` with the first character of the
 * value; either may be NULL.  Returns -ENOENT if the path is not in the text. */
int config_json_locate(const char *text, size_t len,
		       const struct config_json_step *path, size_t n,
		       struct config_json_pos *key, struct config_json_pos *value);

#endif
