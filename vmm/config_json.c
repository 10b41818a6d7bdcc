// SPDX-License-Identifier: MIT
/* Locating a key path in JSON text.  See config_json.h. */
#include "config_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct scan {
	const char *p, *end;
	int line, column; /* of the character at p */
};

static bool at_end(const struct scan *s)
{
	return s->p >= s->end;
}

static bool peek(const struct scan *s, char ch)
{
	return !at_end(s) && *s->p == ch;
}

/* Consume one byte.  Only the first byte of a UTF-8 sequence advances the
 * column, so columns count characters as jansson's do. */
static void next(struct scan *s)
{
	unsigned char ch = (unsigned char)*s->p++;

	if (ch == '\n') {
		s->line++;
		s->column = 1;
	} else if ((ch & 0xc0) != 0x80) {
		s->column++;
	}
}

static struct config_json_pos here(const struct scan *s)
{
	return (struct config_json_pos){ .line = s->line, .column = s->column };
}

static void skip_ws(struct scan *s)
{
	while (peek(s, ' ') || peek(s, '\t') || peek(s, '\n') || peek(s, '\r'))
		next(s);
}

/* Four hex digits of a \u escape. */
static int scan_hex4(struct scan *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++, next(s)) {
		char ch;

		if (at_end(s))
			return -ENOENT;
		ch = *s->p;
		if (ch >= '0' && ch <= '9')
			v = v * 16 + (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v = v * 16 + (unsigned)(ch - 'A' + 10);
		else
			return -ENOENT;
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* After "\u": one escaped code point, joining a surrogate pair. */
static int scan_unicode(struct scan *s, unsigned *cp)
{
	unsigned lo;
	struct scan save;

	if (scan_hex4(s, cp))
		return -ENOENT;
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	save = *s;
	if (s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
		next(s);
		next(s);
		if (scan_hex4(s, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
			*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
			return 0;
		}
	}
	*s = save; /* a lone high surrogate (jansson rejects those anyway) */
	return 0;
}

/*
 * Consume the string token at s->p (a '"').  With `want`, *equal tells whether
 * the decoded string is exactly `want`; the comparison runs while decoding, so
 * any length works.  -ENOENT if the string is malformed or unterminated.
 */
static int scan_string(struct scan *s, const char *want, bool *equal)
{
	size_t wlen = want ? strlen(want) : 0, n = 0;
	bool same = true;

	next(s);
	while (!at_end(s) && *s->p != '"') {
		char buf[4];
		size_t len = 1;

		if (*s->p != '\\') {
			buf[0] = *s->p;
			next(s);
		} else {
			char esc;
			unsigned cp;

			next(s);
			if (at_end(s))
				return -ENOENT;
			esc = *s->p;
			next(s);
			switch (esc) {
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'n': buf[0] = '\n'; break;
			case 'r': buf[0] = '\r'; break;
			case 't': buf[0] = '\t'; break;
			case 'u':
				if (scan_unicode(s, &cp))
					return -ENOENT;
				len = utf8_encode(cp, buf);
				break;
			default: buf[0] = esc; break; /* \" \\ \/ */
			}
		}
		for (size_t i = 0; i < len; i++, n++)
			if (!want || n >= wlen || want[n] != buf[i])
				same = false;
	}
	if (at_end(s))
		return -ENOENT;
	next(s);
	if (equal)
		*equal = same && n == wlen;
	return 0;
}

/* Consume one value of any kind. */
static int skip_value(struct scan *s)
{
	int depth = 0;

	if (peek(s, '"'))
		return scan_string(s, NULL, NULL);
	if (!peek(s, '{') && !peek(s, '[')) {
		/* number, true, false, null: up to the next delimiter */
		const char *start = s->p;

		while (!at_end(s) && !strchr(",]} \t\r\n", *s->p))
			next(s);
		return s->p > start ? 0 : -1;
	}
	do {
		if (at_end(s))
			return -ENOENT;
		if (peek(s, '"')) {
			if (scan_string(s, NULL, NULL))
				return -ENOENT;
			continue;
		}
		if (peek(s, '{') || peek(s, '['))
			depth++;
		else if (peek(s, '}') || peek(s, ']'))
			depth--;
		next(s);
	} while (depth > 0);
	return 0;
}

/* Past the value at s and the ',' after it: 0, or -ENOENT at the end of
 * the object or array (or in broken text). */
static int skip_item(struct scan *s)
{
	if (skip_value(s))
		return -ENOENT;
	skip_ws(s);
	if (!peek(s, ','))
		return -ENOENT;
	next(s);
	return 0;
}

/* At an object: move to the value of member `name`; *at = its key. */
static int find_member(struct scan *s, const char *name, struct config_json_pos *at)
{
	if (!peek(s, '{'))
		return -ENOENT;
	next(s);
	for (;;) {
		bool equal;

		skip_ws(s);
		if (!peek(s, '"'))
			return -ENOENT; /* '}': not there */
		*at = here(s);
		if (scan_string(s, name, &equal))
			return -ENOENT;
		skip_ws(s);
		if (!peek(s, ':'))
			return -ENOENT;
		next(s);
		skip_ws(s);
		if (equal)
			return 0;
		if (skip_item(s))
			return -ENOENT;
	}
}

/* At an array: move to element `index`; *at = its position. */
static int find_element(struct scan *s, size_t index, struct config_json_pos *at)
{
	if (!peek(s, '['))
		return -ENOENT;
	next(s);
	for (size_t i = 0;; i++) {
		skip_ws(s);
		if (at_end(s) || peek(s, ']'))
			return -ENOENT;
		if (i == index) {
			*at = here(s);
			return 0;
		}
		if (skip_item(s))
			return -ENOENT;
	}
}

int config_json_locate(const char *text, size_t len,
		       const struct config_json_step *path, size_t n,
		       struct config_json_pos *key, struct config_json_pos *value)
{
	struct scan s = { .p = text, .end = text + len, .line = 1, .column = 1 };
	struct config_json_pos at;

	skip_ws(&s);
	at = here(&s);
	for (size_t i = 0; i < n; i++) {
		int rc = path[i].key ? find_member(&s, path[i].key, &at)
				     : find_element(&s, path[i].index, &at);
		if (rc)
			return -ENOENT;
	}
	if (at_end(&s))
		return -ENOENT;
	if (key)
		*key = at;
	if (value)
		*value = here(&s);
	return 0;
}
