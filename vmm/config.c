// SPDX-License-Identifier: MIT
/*
 * The VM configuration: defaults, the JSON file, final validation.
 *
 * jansson parses the file; we then walk the tree with one table of keys per
 * JSON object (struct cfg_key): each row names a key, the JSON types it may
 * have and a handler that stores the value, or a nested table for an object.
 * Adding a key is adding a row (and usually a small handler).
 *
 * jansson keeps no positions of values, so to point an error at the offending
 * key or value we find it again in the text with config_json_locate(), a
 * small scanner that walks the (already validated) JSON text.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONFIG_MAX_FILE_SIZE (1u << 20) /* config files are small; refuse huge ones */
#define CFG_MAX_DEPTH        8          /* deeper than any of our key tables */
#define GUEST_CID_MIN        3ull
#define GUEST_CID_MAX        0xfffffffeull /* 0xffffffff is VMADDR_CID_ANY */

/* One line into err: control characters (from file names or JSON keys) are
 * replaced so that a message can never span lines. */
static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* ---- defaults, copy, free ---- */

void config_defaults(struct vm_config *c)
{
	*c = (struct vm_config){
		.vcpus = CONFIG_DEFAULT_VCPUS,
		.mem_mib = CONFIG_DEFAULT_MEM_MIB,
		.discovery = DISCOVERY_CMDLINE,
		.max_conns = CONFIG_DEFAULT_MAX_CONNS,
	};
}

void config_fwd_free(struct config_fwd *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(list[i].path);
	free(list);
}

int config_fwd_append(struct config_fwd **list, unsigned *n, const struct config_fwd *f)
{
	struct config_fwd *nl = realloc(*list, (*n + 1) * sizeof(**list));

	if (!nl)
		return -1;
	*list = nl;
	nl[*n] = *f;
	if (f->path && !(nl[*n].path = strdup(f->path)))
		return -1;
	(*n)++;
	return 0;
}

/* Deep copy of a list: 0 or -1. */
static int fwd_copy(struct config_fwd **dst, unsigned *ndst,
		    const struct config_fwd *src, unsigned n)
{
	*dst = NULL;
	*ndst = 0;
	for (unsigned i = 0; i < n; i++)
		if (config_fwd_append(dst, ndst, &src[i]))
			return -1;
	return 0;
}

bool config_fwd_same_addr(const struct config_fwd *a, const struct config_fwd *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == CONFIG_FWD_UNIX)
		return a->path && b->path && strcmp(a->path, b->path) == 0;
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

const char *config_fwd_name(const struct config_fwd *f, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (f->kind == CONFIG_FWD_UNIX) {
		snprintf(buf, size, "unix:%s", f->path ? f->path : "");
	} else if (f->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&f->addr;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "tcp:[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const void *)&f->addr;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "tcp:%s:%u", ip, ntohs(a->sin_port));
	}
	return buf;
}

int config_parse_tcp_addr(const char *s, struct config_fwd *f)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *p;
	unsigned long port = 0;
	size_t hlen;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -1;
		hlen = (size_t)(end - s - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hlen);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, s, hlen);
	}
	host[hlen] = '\0';
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port < 1 || port > 65535)
		return -1;
	memset(&f->addr, 0, sizeof(f->addr));
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&f->addr;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		f->addrlen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&f->addr;

		/* Numeric only: nothing may wait for DNS.  "localhost" is
		 * taken to mean the IPv4 loopback, explicitly. */
		if (strcmp(host, "localhost") == 0)
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -1;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		f->addrlen = sizeof(*a);
	}
	f->kind = CONFIG_FWD_TCP;
	return 0;
}

void config_free(struct vm_config *c)
{
	free(c->kernel_path);
	free(c->initrd_path);
	free(c->cmdline);
	free(c->uds_path);
	free(c->vhost_user_socket);
	free(c->vsock_socket_group);
	config_fwd_free(c->fwd_out, c->n_fwd_out);
	config_fwd_free(c->fwd_in, c->n_fwd_in);
	config_defaults(c);
}

static int dup_or_null(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -1 : 0;
}

/* Deep copy: 0, or -1 on ENOMEM (dst then holds defaults). */
static int config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	if (dup_or_null(&dst->kernel_path, src->kernel_path) |
	    dup_or_null(&dst->initrd_path, src->initrd_path) |
	    dup_or_null(&dst->cmdline, src->cmdline) |
	    dup_or_null(&dst->uds_path, src->uds_path) |
	    dup_or_null(&dst->vsock_socket_group, src->vsock_socket_group) |
	    fwd_copy(&dst->fwd_out, &dst->n_fwd_out, src->fwd_out, src->n_fwd_out) |
	    fwd_copy(&dst->fwd_in, &dst->n_fwd_in, src->fwd_in, src->n_fwd_in)) {
		config_free(dst);
		return -1;
	}
	return 0;
}

int config_parse_notify(const char *s, enum notify_mode *out)
{
	if (strcmp(s, "ioeventfd") == 0)
		*out = NOTIFY_IOEVENTFD;
	else if (strcmp(s, "mmio") == 0)
		*out = NOTIFY_MMIO;
	else
		return -1;
	return 0;
}

int config_parse_discovery(const char *s, enum discovery *out)
{
	if (strcmp(s, "cmdline") == 0)
		*out = DISCOVERY_CMDLINE;
	else if (strcmp(s, "fdt") == 0)
		*out = DISCOVERY_FDT;
	else
		return -1;
	return 0;
}

/* ---- locating a key path in JSON text ---- */

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
			return -1;
		ch = *s->p;
		if (ch >= '0' && ch <= '9')
			v = v * 16 + (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v = v * 16 + (unsigned)(ch - 'A' + 10);
		else
			return -1;
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
		return -1;
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
 * any length works.  -1 if the string is malformed or unterminated.
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
				return -1;
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
					return -1;
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
		return -1;
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
			return -1;
		if (peek(s, '"')) {
			if (scan_string(s, NULL, NULL))
				return -1;
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

/* At an object: move to the value of member `name`; *at = its key. */
static int find_member(struct scan *s, const char *name, struct config_json_pos *at)
{
	if (!peek(s, '{'))
		return -1;
	next(s);
	for (;;) {
		bool equal;

		skip_ws(s);
		if (!peek(s, '"'))
			return -1; /* '}': not there */
		*at = here(s);
		if (scan_string(s, name, &equal))
			return -1;
		skip_ws(s);
		if (!peek(s, ':'))
			return -1;
		next(s);
		skip_ws(s);
		if (equal)
			return 0;
		if (skip_value(s))
			return -1;
		skip_ws(s);
		if (!peek(s, ','))
			return -1;
		next(s);
	}
}

/* At an array: move to element `index`; *at = its position. */
static int find_element(struct scan *s, size_t index, struct config_json_pos *at)
{
	if (!peek(s, '['))
		return -1;
	next(s);
	for (size_t i = 0;; i++) {
		skip_ws(s);
		if (at_end(s) || peek(s, ']'))
			return -1;
		if (i == index) {
			*at = here(s);
			return 0;
		}
		if (skip_value(s))
			return -1;
		skip_ws(s);
		if (!peek(s, ','))
			return -1;
		next(s);
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
			return -1;
	}
	if (at_end(&s))
		return -1;
	if (key)
		*key = at;
	if (value)
		*value = here(&s);
	return 0;
}

/* ---- walking the parsed config with key tables ---- */

/* JSON types as bits, so a table row can accept several. */
enum {
	T_OBJECT  = 1 << 0,
	T_ARRAY   = 1 << 1,
	T_STRING  = 1 << 2,
	T_INTEGER = 1 << 3,
	T_REAL    = 1 << 4,
	T_BOOL    = 1 << 5,
	T_NULL    = 1 << 6,
};

struct cfg_ctx {
	struct vm_config *c;  /* the copy being filled */
	const char *name;     /* file name, for messages */
	const char *text;     /* the JSON text, for positions */
	size_t len;
	size_t dirlen;        /* name[0..dirlen) is the file's directory; 0: none */
	struct config_json_step path[CFG_MAX_DEPTH]; /* the key being handled */
	size_t depth;
	struct config_fwd fwd; /* the forward entry being read */
	unsigned fwd_has;      /* FWD_HAS_* keys seen in it */
	char *err;
	size_t errlen;
};

struct cfg_key {
	const char *name;
	unsigned types;                          /* T_* the value may have */
	int (*set)(struct cfg_ctx *x, json_t *v); /* store the value; or NULL */
	const struct cfg_key *keys;              /* an object's own table; or NULL */
};

static unsigned type_bit(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:  return T_OBJECT;
	case JSON_ARRAY:   return T_ARRAY;
	case JSON_STRING:  return T_STRING;
	case JSON_INTEGER: return T_INTEGER;
	case JSON_REAL:    return T_REAL;
	case JSON_TRUE:
	case JSON_FALSE:   return T_BOOL;
	case JSON_NULL:    return T_NULL;
	}
	return 0;
}

/* What a table row wants, or what a value is. */
static const char *type_name(unsigned bits)
{
	switch (bits) {
	case T_OBJECT:          return "an object";
	case T_ARRAY:           return "an array";
	case T_STRING:          return "a string";
	case T_STRING | T_NULL: return "a string or null";
	case T_INTEGER:         return "an integer";
	case T_REAL:            return "a number with a fraction or exponent";
	case T_BOOL:            return "true or false";
	case T_NULL:            return "null";
	}
	return "something else";
}

static const char *value_name(const json_t *v)
{
	return json_is_boolean(v) ? (json_is_true(v) ? "true" : "false")
				  : type_name(type_bit(v));
}

/* "machine-config.vcpu_count" for the current path. */
static void path_name(const struct cfg_ctx *x, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < x->depth && used < size; i++) {
		const struct config_json_step *st = &x->path[i];
		int n = st->key ? snprintf(buf + used, size - used, "%s%.64s",
					   i ? "." : "", st->key)
				: snprintf(buf + used, size - used, "[%zu]", st->index);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/*
 * Report an error at the current key (at_key) or its value, as
 * "FILE:LINE:COLUMN: msg".  If the path cannot be found in the text (it
 * always should), the nearest enclosing one that can is used.  Returns -1.
 */
static int __attribute__((format(printf, 3, 4)))
cfg_fail(struct cfg_ctx *x, bool at_key, const char *fmt, ...)
{
	struct config_json_pos key = { 1, 1 }, value = { 1, 1 };
	char msg[512];
	va_list ap;

	for (size_t n = x->depth;; n--) {
		if (config_json_locate(x->text, x->len, x->path, n, &key, &value) == 0)
			break;
		at_key = true;
		if (n == 0)
			break;
	}
	if (!at_key)
		key = value;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(x->err, x->errlen, "%s:%d:%d: %s", x->name, key.line, key.column, msg);
	return -1;
}

/* Error about the current value, prefixed with its key path. */
static int __attribute__((format(printf, 2, 3)))
cfg_bad_value(struct cfg_ctx *x, const char *fmt, ...)
{
	char where[256], msg[384];
	va_list ap;

	path_name(x, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cfg_fail(x, false, "%s: %s", where, msg);
}

static int cfg_int(struct cfg_ctx *x, json_t *v, long long min, long long max,
		   long long *out)
{
	long long n = json_integer_value(v);

	if (n < min || n > max)
		return cfg_bad_value(x, "%lld is out of range %lld..%lld", n, min, max);
	*out = n;
	return 0;
}

/* A path from the file: absolute as is, relative to the file's directory. */
static int cfg_path(struct cfg_ctx *x, json_t *v, char **dst)
{
	const char *s = json_string_value(v);
	char *p;

	if (json_is_null(v)) {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if (*s == '\0')
		return cfg_bad_value(x, "path must not be empty");
	if (s[0] == '/' || x->dirlen == 0)
		p = strdup(s);
	else if (asprintf(&p, "%.*s%s%s", (int)x->dirlen, x->name,
			  x->dirlen == 1 && x->name[0] == '/' ? "" : "/", s) < 0)
		p = NULL;
	if (!p)
		return cfg_bad_value(x, "out of memory");
	free(*dst);
	*dst = p;
	return 0;
}

static int set_kernel(struct cfg_ctx *x, json_t *v)
{
	return cfg_path(x, v, &x->c->kernel_path);
}

static int set_initrd(struct cfg_ctx *x, json_t *v)
{
	return cfg_path(x, v, &x->c->initrd_path);
}

static int set_boot_args(struct cfg_ctx *x, json_t *v)
{
	char *s = strdup(json_string_value(v));

	if (!s)
		return cfg_bad_value(x, "out of memory");
	free(x->c->cmdline);
	x->c->cmdline = s;
	return 0;
}

static int set_vcpu_count(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, 1, CONFIG_MAX_VCPUS, &n))
		return -1;
	x->c->vcpus = (unsigned)n;
	return 0;
}

static int set_mem_size(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB, &n))
		return -1;
	x->c->mem_mib = (uint64_t)n;
	return 0;
}

static int set_smt(struct cfg_ctx *x, json_t *v)
{
	if (json_is_true(v))
		return cfg_bad_value(x, "must be false: SMT is not supported");
	return 0;
}

static int ignore(struct cfg_ctx *x, json_t *v)
{
	return 0;
}

static int set_vsock(struct cfg_ctx *x, json_t *v)
{
	x->c->has_vsock = true;
	return 0;
}

static int set_guest_cid(struct cfg_ctx *x, json_t *v)
{
	long long n = json_integer_value(v);

	if (n < (long long)GUEST_CID_MIN || n > (long long)GUEST_CID_MAX)
		return cfg_bad_value(x, "%lld is out of range %llu..%llu "
				     "(0, 1, 2 and 4294967295 are reserved)",
				     n, GUEST_CID_MIN, GUEST_CID_MAX);
	x->c->guest_cid = (uint32_t)n;
	return 0;
}

static int set_uds_path(struct cfg_ctx *x, json_t *v)
{
	return cfg_path(x, v, &x->c->uds_path);
}

static int set_discovery(struct cfg_ctx *x, json_t *v)
{
	if (config_parse_discovery(json_string_value(v), &x->c->discovery))
		return cfg_bad_value(x, "\"%.64s\" is not \"cmdline\" or \"fdt\"",
				     json_string_value(v));
	return 0;
}

static int set_notify(struct cfg_ctx *x, json_t *v)
{
	if (config_parse_notify(json_string_value(v), &x->c->notify))
		return cfg_bad_value(x, "\"%.64s\" is not \"ioeventfd\" or \"mmio\"",
				     json_string_value(v));
	return 0;
}

static int set_seccomp(struct cfg_ctx *x, json_t *v)
{
	x->c->no_seccomp = !json_is_true(v);
	return 0;
}

static int set_socket_group(struct cfg_ctx *x, json_t *v)
{
	const char *s = json_string_value(v);
	char *dup;

	if (!*s)
		return cfg_bad_value(x, "must not be empty");
	dup = strdup(s);
	if (!dup)
		return cfg_bad_value(x, "out of memory");
	free(x->c->vsock_socket_group);
	x->c->vsock_socket_group = dup;
	return 0;
}

static int set_max_conns(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, 1, CONFIG_MAX_MAX_CONNS, &n))
		return -1;
	x->c->max_conns = (uint32_t)n;
	return 0;
}

/* ---- vsock.forward_out / vsock.forward_in: arrays of objects ---- */

enum {
	FWD_HAS_PORT = 1 << 0,
	FWD_HAS_TCP  = 1 << 1,
	FWD_HAS_UNIX = 1 << 2,
};

static int set_fwd_port(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, 0, CONFIG_VSOCK_PORT_MAX, &n))
		return -1;
	x->fwd.port = (uint32_t)n;
	x->fwd_has |= FWD_HAS_PORT;
	return 0;
}

static int set_fwd_tcp(struct cfg_ctx *x, json_t *v)
{
	if (config_parse_tcp_addr(json_string_value(v), &x->fwd))
		return cfg_bad_value(x, "\"%.64s\" is not a numeric address and port "
				     "(IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)",
				     json_string_value(v));
	x->fwd_has |= FWD_HAS_TCP;
	return 0;
}

static int set_fwd_unix(struct cfg_ctx *x, json_t *v)
{
	if (cfg_path(x, v, &x->fwd.path))
		return -1;
	if (strlen(x->fwd.path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cfg_bad_value(x, "socket path is too long (%zu bytes, at most %zu)",
				     strlen(x->fwd.path),
				     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	x->fwd_has |= FWD_HAS_UNIX;
	return 0;
}

static const struct cfg_key fwd_keys[] = {
	{ "port",              T_INTEGER,         set_fwd_port,   NULL },
	{ "tcp",               T_STRING,          set_fwd_tcp,    NULL },
	{ "unix",              T_STRING,          set_fwd_unix,   NULL },
	{ NULL, 0, NULL, NULL },
};

static int walk_object(struct cfg_ctx *x, json_t *obj, const struct cfg_key *table);

/* Point at member `key` of the current element, report, pop. */
static int __attribute__((format(printf, 3, 4)))
fwd_fail_at(struct cfg_ctx *x, const char *key, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->depth < CFG_MAX_DEPTH)
		x->path[x->depth++] = (struct config_json_step){ .key = key };
	return cfg_bad_value(x, "%s", msg);
}

/* One element: an object with "port" and exactly one of "tcp"/"unix";
 * checked against the entries before it.  Appended to the list. */
static int fwd_element(struct cfg_ctx *x, json_t *e, bool out,
		       struct config_fwd **list, unsigned *n)
{
	const char *what = out ? "forward_out" : "forward_in";
	unsigned kinds;
	char name[160];

	if (!json_is_object(e))
		return cfg_bad_value(x, "must be an object, not %s", value_name(e));
	memset(&x->fwd, 0, sizeof(x->fwd));
	x->fwd_has = 0;
	if (walk_object(x, e, fwd_keys))
		return -1;
	if (!(x->fwd_has & FWD_HAS_PORT))
		return cfg_bad_value(x, "missing \"port\" (the guest's vsock port)");
	kinds = x->fwd_has & (FWD_HAS_TCP | FWD_HAS_UNIX);
	if (kinds != FWD_HAS_TCP && kinds != FWD_HAS_UNIX)
		return cfg_bad_value(x, "needs exactly one of \"tcp\" and \"unix\"");
	x->fwd.kind = kinds == FWD_HAS_TCP ? CONFIG_FWD_TCP : CONFIG_FWD_UNIX;
	for (unsigned j = 0; j < *n; j++) {
		if (out && (*list)[j].port == x->fwd.port)
			return fwd_fail_at(x, "port", "port %u is already forwarded by vsock.%s[%u]",
					   x->fwd.port, what, j);
		if (!out && config_fwd_same_addr(&(*list)[j], &x->fwd))
			return fwd_fail_at(x, kinds == FWD_HAS_TCP ? "tcp" : "unix",
					   "%s is already a listener (vsock.%s[%u])",
					   config_fwd_name(&x->fwd, name, sizeof(name)), what, j);
	}
	if (config_fwd_append(list, n, &x->fwd))
		return cfg_bad_value(x, "out of memory");
	return 0;
}

static int set_forwards(struct cfg_ctx *x, json_t *v, bool out)
{
	struct config_fwd **list = out ? &x->c->fwd_out : &x->c->fwd_in;
	unsigned *n = out ? &x->c->n_fwd_out : &x->c->n_fwd_in;
	size_t i;
	json_t *e;
	int rc = 0;

	/* The file's list replaces any earlier one. */
	config_fwd_free(*list, *n);
	*list = NULL;
	*n = 0;
	json_array_foreach(v, i, e) {
		size_t depth = x->depth;

		if (x->depth == CFG_MAX_DEPTH)
			return cfg_fail(x, true, "nested too deeply");
		x->path[x->depth++] = (struct config_json_step){ .key = NULL, .index = i };
		rc = fwd_element(x, e, out, list, n);
		free(x->fwd.path);
		x->fwd.path = NULL;
		if (rc)
			return -1;
		x->depth = depth;
	}
	return 0;
}

static int set_forward_out(struct cfg_ctx *x, json_t *v)
{
	return set_forwards(x, v, true);
}

static int set_forward_in(struct cfg_ctx *x, json_t *v)
{
	return set_forwards(x, v, false);
}

/* The keys, one table per JSON object (Firecracker's names, plus "x-vmm").
 * Columns: name, accepted JSON types, handler, nested table. */
static const struct cfg_key boot_source_keys[] = {
	{ "kernel_image_path", T_STRING,          set_kernel,     NULL },
	{ "initrd_path",       T_STRING | T_NULL, set_initrd,     NULL },
	{ "boot_args",         T_STRING,          set_boot_args,  NULL },
	{ NULL, 0, NULL, NULL },
};

static const struct cfg_key machine_config_keys[] = {
	{ "vcpu_count",        T_INTEGER,         set_vcpu_count, NULL },
	{ "mem_size_mib",      T_INTEGER,         set_mem_size,   NULL },
	{ "smt",               T_BOOL,            set_smt,        NULL },
	{ "track_dirty_pages", T_BOOL,            ignore,         NULL },
	{ NULL, 0, NULL, NULL },
};

static const struct cfg_key vsock_keys[] = {
	{ "guest_cid",         T_INTEGER,         set_guest_cid,  NULL },
	{ "uds_path",          T_STRING,          set_uds_path,   NULL },
	{ "vsock_id",          T_STRING,          ignore,         NULL },
	{ "max_connections",   T_INTEGER,         set_max_conns,  NULL },
	{ "forward_out",       T_ARRAY,           set_forward_out, NULL },
	{ "forward_in",        T_ARRAY,           set_forward_in, NULL },
	{ NULL, 0, NULL, NULL },
};

static const struct cfg_key x_vmm_keys[] = {
	{ "discovery",         T_STRING,          set_discovery,  NULL },
	{ "notify",            T_STRING,          set_notify,     NULL },
	{ "seccomp",           T_BOOL,            set_seccomp,    NULL },
	{ "vsock_socket_group", T_STRING,         set_socket_group, NULL },
	{ NULL, 0, NULL, NULL },
};

static const struct cfg_key top_keys[] = {
	{ "boot-source",       T_OBJECT,          NULL,           boot_source_keys },
	{ "machine-config",    T_OBJECT,          NULL,           machine_config_keys },
	{ "vsock",             T_OBJECT,          set_vsock,      vsock_keys },
	{ "x-vmm",             T_OBJECT,          NULL,           x_vmm_keys },
	{ NULL, 0, NULL, NULL },
};

static int walk_object(struct cfg_ctx *x, json_t *obj, const struct cfg_key *table)
{
	const char *name;
	json_t *v;

	/* jansson iterates in file order, so the first bad key is reported. */
	json_object_foreach(obj, name, v) {
		const struct cfg_key *k = table;
		char where[256];

		path_name(x, where, sizeof(where));
		if (x->depth == CFG_MAX_DEPTH)
			return cfg_fail(x, true, "%s: nested too deeply", where);
		x->path[x->depth++] = (struct config_json_step){ .key = name };
		while (k->name && strcmp(k->name, name) != 0)
			k++;
		if (!k->name) {
			if (x->depth == 1)
				return cfg_fail(x, true, "unknown key \"%.64s\" at top level", name);
			return cfg_fail(x, true, "unknown key \"%.64s\" in \"%s\"", name, where);
		}
		if (!(type_bit(v) & k->types))
			return cfg_bad_value(x, "must be %s, not %s", type_name(k->types),
					     value_name(v));
		if (k->set && k->set(x, v))
			return -1;
		if (k->keys && walk_object(x, v, k->keys))
			return -1;
		x->depth--;
	}
	return 0;
}

static bool all_space(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", buf[i]) || buf[i] == '\0')
			return false;
	return true;
}

int config_load_json_buf(struct vm_config *c, const char *name, const char *buf,
			 size_t len, char *err, size_t errlen)
{
	struct cfg_ctx x = {
		.name = name, .text = buf, .len = len, .err = err, .errlen = errlen,
	};
	struct vm_config tmp;
	const char *slash = strrchr(name, '/');
	json_error_t je;
	json_t *root;
	int rc;

	root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (je.line < 1)
			set_err(err, errlen, "%s: %s", name, je.text);
		else if (all_space(buf, len))
			set_err(err, errlen, "%s:%d:%d: empty file, expected a JSON object",
				name, je.line, je.column > 0 ? je.column : 1);
		else /* jansson counts a column 0 at the start of a line */
			set_err(err, errlen, "%s:%d:%d: %s", name, je.line,
				je.column > 0 ? je.column : 1, je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		rc = cfg_fail(&x, false, "top level must be an object, not %s",
			      value_name(root));
		json_decref(root);
		return rc;
	}
	if (config_copy(&tmp, c)) {
		json_decref(root);
		set_err(err, errlen, "%s: out of memory", name);
		return -1;
	}
	if (slash) {
		x.dirlen = (size_t)(slash - name);
		while (x.dirlen > 1 && name[x.dirlen - 1] == '/')
			x.dirlen--;
		if (x.dirlen == 0) /* "/vm.json" */
			x.dirlen = 1;
	}
	x.c = &tmp;
	rc = walk_object(&x, root, top_keys);
	json_decref(root);
	if (rc) {
		config_free(&tmp);
		return -1;
	}
	config_free(c);
	*c = tmp;
	return 0;
}

/* Whole file into a malloc'd buffer: 0, or -1 with a message. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *buf;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		set_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(EISDIR));
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				set_err(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE_SIZE) {
			set_err(err, errlen, "%s: too large (more than %u bytes)", path,
				CONFIG_MAX_FILE_SIZE);
			goto fail;
		}
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

int config_load_json(struct vm_config *c, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	if (read_file(path, &buf, &len, err, errlen))
		return -1;
	rc = config_load_json_buf(c, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* ---- final checks ---- */

/* Host RAM in bytes, 0 if unknown. */
static uint64_t host_ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psize <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)psize;
}

/* Where a socket path lives: its directory's identity and its last
 * component.  Different spellings of one file ("/x/v.sock", "/x/../x/v.sock",
 * "v.sock" run from /x, a symlinked directory) give equal names.  False if
 * the directory cannot be looked up (the caller then compares the text;
 * binding there fails anyway). */
struct sock_name {
	dev_t dev;
	ino_t ino;
	const char *base;
};

static bool sock_name(const char *path, struct sock_name *n)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	if (!slash) {
		strcpy(dir, ".");
		n->base = path;
	} else {
		size_t len = slash == path ? 1 : (size_t)(slash - path);

		if (len >= sizeof(dir))
			return false;
		memcpy(dir, path, len);
		dir[len] = '\0';
		n->base = slash + 1;
	}
	if (stat(dir, &st) < 0)
		return false;
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	return true;
}

/* Does socket path a name the file b names (or, with `suffixes`, one of
 * b's "<b>_*" files: _seqpacket, _<port>)? */
static bool sock_paths_clash(const char *a, const char *b, bool suffixes)
{
	struct sock_name na, nb;
	size_t bl;

	if (sock_name(a, &na) && sock_name(b, &nb)) {
		if (na.dev != nb.dev || na.ino != nb.ino)
			return false;
	} else {
		na.base = a; /* fall back to the text */
		nb.base = b;
	}
	bl = strlen(nb.base);
	return strcmp(na.base, nb.base) == 0 ||
	       (suffixes && strncmp(na.base, nb.base, bl) == 0 && na.base[bl] == '_');
}

static int validate_vsock(const struct vm_config *c, char *err, size_t errlen);

int config_validate(const struct vm_config *c, char *err, size_t errlen)
{
	uint64_t host = host_ram_bytes();

	if (!c->kernel_path || !*c->kernel_path) {
		set_err(err, errlen, "no kernel given: use --kernel PATH or "
			"boot-source.kernel_image_path");
		return -1;
	}
	if (c->vcpus < 1 || c->vcpus > CONFIG_MAX_VCPUS) {
		set_err(err, errlen, "vCPU count %u is out of range 1..%d",
			c->vcpus, CONFIG_MAX_VCPUS);
		return -1;
	}
	if (c->mem_mib < CONFIG_MIN_MEM_MIB || c->mem_mib > CONFIG_MAX_MEM_MIB) {
		set_err(err, errlen, "memory size %llu MiB is out of range %d..%d MiB",
			(unsigned long long)c->mem_mib, CONFIG_MIN_MEM_MIB,
			CONFIG_MAX_MEM_MIB);
		return -1;
	}
	if (host && c->mem_mib << 20 > host) {
		set_err(err, errlen, "memory size %llu MiB is more than the host's "
			"physical RAM (%llu MiB)", (unsigned long long)c->mem_mib,
			(unsigned long long)(host >> 20));
		return -1;
	}
	if (c->discovery != DISCOVERY_CMDLINE && c->discovery != DISCOVERY_FDT) {
		set_err(err, errlen, "unknown device discovery mode %d", (int)c->discovery);
		return -1;
	}
	return validate_vsock(c, err, errlen);
}

/* The vsock part of the checks (both subcommands). */
static int validate_vsock(const struct vm_config *c, char *err, size_t errlen)
{
	if (c->has_vsock && c->guest_cid == 0) {
		set_err(err, errlen, "vsock needs a guest CID: use --vsock-cid N or "
			"vsock.guest_cid");
		return -1;
	}
	if (c->has_vsock && (c->guest_cid < GUEST_CID_MIN || c->guest_cid > GUEST_CID_MAX)) {
		set_err(err, errlen, "guest CID %u is reserved: use %llu..%llu",
			c->guest_cid, GUEST_CID_MIN, GUEST_CID_MAX);
		return -1;
	}
	if (c->uds_path && strlen(c->uds_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		set_err(err, errlen, "vsock socket path is too long (%zu bytes, at most %zu): %s",
			strlen(c->uds_path),
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1, c->uds_path);
		return -1;
	}
	if (c->max_conns < 1 || c->max_conns > CONFIG_MAX_MAX_CONNS) {
		set_err(err, errlen, "vsock connection limit %u is out of range 1..%u",
			c->max_conns, CONFIG_MAX_MAX_CONNS);
		return -1;
	}
	if ((c->n_fwd_out || c->n_fwd_in) && !c->has_vsock) {
		set_err(err, errlen, "vsock forwards need the vsock device: use --vsock-cid N "
			"or the \"vsock\" section");
		return -1;
	}
	for (unsigned i = 0; i < c->n_fwd_out + c->n_fwd_in; i++) {
		const struct config_fwd *f = i < c->n_fwd_out ? &c->fwd_out[i]
							      : &c->fwd_in[i - c->n_fwd_out];

		if (f->kind == CONFIG_FWD_UNIX &&
		    strlen(f->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			set_err(err, errlen, "vsock forward socket path is too long "
				"(%zu bytes, at most %zu): %s", strlen(f->path),
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1, f->path);
			return -1;
		}
	}
	for (unsigned i = 0; i < c->n_fwd_in; i++) {
		const struct config_fwd *f = &c->fwd_in[i];
		char name[160], name2[160];

		if (f->kind != CONFIG_FWD_UNIX)
			continue;
		if (c->uds_path && sock_paths_clash(f->path, c->uds_path, true)) {
			set_err(err, errlen, "vsock forward %s: clashes with the vsock "
				"uds_path %s (and its %s_* sockets)",
				config_fwd_name(f, name, sizeof(name)),
				c->uds_path, c->uds_path);
			return -1;
		}
		for (unsigned j = 0; j < i; j++)
			if (c->fwd_in[j].kind == CONFIG_FWD_UNIX &&
			    sock_paths_clash(f->path, c->fwd_in[j].path, false)) {
				set_err(err, errlen, "vsock forward %s: the same socket "
					"file as vsock forward %s",
					config_fwd_name(f, name, sizeof(name)),
					config_fwd_name(&c->fwd_in[j], name2, sizeof(name2)));
				return -1;
			}
	}
	return 0;
}

int config_validate_vhost_user(const struct vm_config *c, char *err, size_t errlen)
{
	if (!c->vhost_user_socket || !*c->vhost_user_socket) {
		set_err(err, errlen, "no vhost-user socket given: use --socket PATH");
		return -1;
	}
	if (strlen(c->vhost_user_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		set_err(err, errlen, "vhost-user socket path is too long (%zu bytes, at most %zu): %s",
			strlen(c->vhost_user_socket),
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1, c->vhost_user_socket);
		return -1;
	}
	if (!c->has_vsock || c->guest_cid == 0) {
		set_err(err, errlen, "vhost-user serves the vsock device: use --vsock-cid N");
		return -1;
	}
	return validate_vsock(c, err, errlen);
}
