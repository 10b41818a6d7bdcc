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
 * key or value we find it again in the text (config_json.h).
 */
#include "config.h"
#include "config_json.h"

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

#include "vsock/dgram.h"
#include "vsock/dgram_udp.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

#define CONFIG_MAX_FILE_SIZE (1u << 20) /* config files are small; refuse huge ones */
#define CFG_MAX_DEPTH        8          /* deeper than any of our key tables */

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
		return -ENOMEM;
	*list = nl;
	nl[*n] = *f;
	if (f->path && !(nl[*n].path = strdup(f->path)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

int config_peer_set(struct config_peer **list, unsigned *n, uint32_t cid, const char *path)
{
	char *dup = strdup(path);
	struct config_peer *nl;

	if (!dup)
		return -ENOMEM;
	for (unsigned i = 0; i < *n; i++)
		if ((*list)[i].cid == cid) {
			free((*list)[i].path);
			(*list)[i].path = dup;
			return 0;
		}
	nl = realloc(*list, (*n + 1) * sizeof(**list));
	if (!nl) {
		free(dup);
		return -ENOMEM;
	}
	*list = nl;
	nl[(*n)++] = (struct config_peer){ .cid = cid, .path = dup };
	return 0;
}

void config_peers_free(struct config_peer *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(list[i].path);
	free(list);
}

static int peers_copy(struct config_peer **dst, unsigned *ndst,
		      const struct config_peer *src, unsigned n)
{
	*dst = NULL;
	*ndst = 0;
	for (unsigned i = 0; i < n; i++)
		if (config_peer_set(dst, ndst, src[i].cid, src[i].path))
			return -ENOMEM;
	return 0;
}

/* Deep copy of a list: 0 or -ENOMEM. */
static int fwd_copy(struct config_fwd **dst, unsigned *ndst,
		    const struct config_fwd *src, unsigned n)
{
	*dst = NULL;
	*ndst = 0;
	for (unsigned i = 0; i < n; i++)
		if (config_fwd_append(dst, ndst, &src[i]))
			return -ENOMEM;
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

bool config_fwd_same_ns(const struct config_fwd *a, const struct config_fwd *b)
{
	return (a->kind == CONFIG_FWD_UDP) == (b->kind == CONFIG_FWD_UDP);
}

bool config_udp_port_reserved(uint32_t port)
{
	return port - VSOCK_DGRAM_UDP_IN_PORT_FIRST < VSOCK_DGRAM_UDP_IN_PORTS;
}

const char *config_fwd_name(const struct config_fwd *f, char *buf, size_t size)
{
	char addr[VSOCK_ADDR_STR_MAX];

	if (f->kind == CONFIG_FWD_UNIX)
		snprintf(buf, size, "unix:%s", f->path ? f->path : "");
	else
		snprintf(buf, size, "%s:%s", f->kind == CONFIG_FWD_UDP ? "udp" : "tcp",
			 vsock_sock_addr_str((const struct sockaddr *)&f->addr, addr, sizeof(addr)));
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
			return -EINVAL;
		hlen = (size_t)(end - s - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
	}
	host[hlen] = '\0';
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port < 1 || port > 65535)
		return -EINVAL;
	memset(&f->addr, 0, sizeof(f->addr));
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&f->addr;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
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
			return -EINVAL;
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
	free(c->metrics_path);
	free(c->console_file);
	free(c->vsock_socket_group);
	config_fwd_free(c->fwd_out, c->n_fwd_out);
	config_fwd_free(c->fwd_in, c->n_fwd_in);
	config_peers_free(c->peers, c->n_peers);
	config_defaults(c);
}

static int dup_or_null(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -1 : 0;
}

/* Deep copy: 0, or -ENOMEM (dst then holds defaults). */
static int config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	if (dup_or_null(&dst->kernel_path, src->kernel_path) |
	    dup_or_null(&dst->initrd_path, src->initrd_path) |
	    dup_or_null(&dst->cmdline, src->cmdline) |
	    dup_or_null(&dst->uds_path, src->uds_path) |
	    dup_or_null(&dst->metrics_path, src->metrics_path) |
	    dup_or_null(&dst->console_file, src->console_file) |
	    dup_or_null(&dst->vsock_socket_group, src->vsock_socket_group) |
	    fwd_copy(&dst->fwd_out, &dst->n_fwd_out, src->fwd_out, src->n_fwd_out) |
	    fwd_copy(&dst->fwd_in, &dst->n_fwd_in, src->fwd_in, src->n_fwd_in) |
	    peers_copy(&dst->peers, &dst->n_peers, src->peers, src->n_peers)) {
		config_free(dst);
		return -ENOMEM;
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
		return -EINVAL;
	return 0;
}

int config_parse_discovery(const char *s, enum discovery *out)
{
	if (strcmp(s, "cmdline") == 0)
		*out = DISCOVERY_CMDLINE;
	else if (strcmp(s, "fdt") == 0)
		*out = DISCOVERY_FDT;
	else
		return -EINVAL;
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
	struct config_peer peer; /* the peers entry being read */
	unsigned peer_has;     /* PEER_HAS_* keys seen in it */
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
 * always should), the nearest enclosing one that can is used.  Returns -EINVAL.
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
	return -EINVAL;
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
		return -EINVAL;
	x->c->vcpus = (unsigned)n;
	return 0;
}

static int set_mem_size(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB, &n))
		return -EINVAL;
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

	if (n < VSOCK_GUEST_CID_MIN || n > VSOCK_GUEST_CID_MAX)
		return cfg_bad_value(x, "%lld is out of range %u..%u" CONFIG_CID_RESERVED,
				     n, VSOCK_GUEST_CID_MIN, VSOCK_GUEST_CID_MAX);
	x->c->guest_cid = (uint32_t)n;
	return 0;
}

static int set_uds_path(struct cfg_ctx *x, json_t *v)
{
	return cfg_path(x, v, &x->c->uds_path);
}

static int set_metrics_path(struct cfg_ctx *x, json_t *v)
{
	return cfg_path(x, v, &x->c->metrics_path);
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

static int set_timeout(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, 0, (long long)CONFIG_MAX_TIMEOUT_S, &n))
		return -EINVAL;
	x->c->timeout_s = (uint64_t)n;
	return 0;
}

static int set_console_file(struct cfg_ctx *x, json_t *v)
{
	return cfg_path(x, v, &x->c->console_file);
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
		return -ENOMEM;
	free(x->c->vsock_socket_group);
	x->c->vsock_socket_group = dup;
	return 0;
}

static int set_dgram(struct cfg_ctx *x, json_t *v)
{
	x->c->vsock_dgram = json_is_true(v);
	return 0;
}

static int set_max_conns(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, 1, CONFIG_MAX_MAX_CONNS, &n))
		return -EINVAL;
	x->c->max_conns = (uint32_t)n;
	return 0;
}

/* ---- vsock.forward_out / vsock.forward_in: arrays of objects ---- */

enum {
	FWD_HAS_PORT = 1 << 0,
	FWD_HAS_TCP  = 1 << 1,
	FWD_HAS_UNIX = 1 << 2,
	FWD_HAS_UDP  = 1 << 3,
};

static int set_fwd_port(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, 0, CONFIG_VSOCK_PORT_MAX, &n))
		return -EINVAL;
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

static int set_fwd_udp(struct cfg_ctx *x, json_t *v)
{
	if (config_parse_tcp_addr(json_string_value(v), &x->fwd))
		return cfg_bad_value(x, "\"%.64s\" is not a numeric address and port "
				     "(IPV4:PORT, [IPV6]:PORT or localhost:PORT, port 1..65535)",
				     json_string_value(v));
	x->fwd_has |= FWD_HAS_UDP;
	return 0;
}

static int set_fwd_unix(struct cfg_ctx *x, json_t *v)
{
	if (cfg_path(x, v, &x->fwd.path))
		return -EINVAL;
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
	{ "udp",               T_STRING,          set_fwd_udp,    NULL },
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

/* "FILE:LINE:COLUMN: vsock.forward_out[0].udp" for member `key` of the
 * current element, into f->origin (checks after merging name it). */
static void fwd_origin(struct cfg_ctx *x, const char *key, struct config_fwd *f)
{
	struct config_json_step path[CFG_MAX_DEPTH];
	struct config_json_pos pos = { 1, 1 };
	char where[256];
	size_t n = x->depth;

	memcpy(path, x->path, n * sizeof(path[0]));
	if (n < CFG_MAX_DEPTH)
		path[n++] = (struct config_json_step){ .key = key };
	config_json_locate(x->text, x->len, path, n, NULL, &pos);
	path_name(x, where, sizeof(where));
	snprintf(f->origin, sizeof(f->origin), "%.128s:%d:%d: %.100s.%s", x->name, pos.line,
		 pos.column, where, key);
}

/* One element: an object with "port" and exactly one of "tcp"/"udp"/
 * "unix"; checked against the entries before it.  Appended to the list. */
static int fwd_element(struct cfg_ctx *x, json_t *e, bool out,
		       struct config_fwd **list, unsigned *n)
{
	const char *what = out ? "forward_out" : "forward_in";
	const char *key;
	unsigned kinds;
	char name[160];

	if (!json_is_object(e))
		return cfg_bad_value(x, "must be an object, not %s", value_name(e));
	memset(&x->fwd, 0, sizeof(x->fwd));
	x->fwd_has = 0;
	if (walk_object(x, e, fwd_keys))
		return -EINVAL;
	if (!(x->fwd_has & FWD_HAS_PORT))
		return cfg_bad_value(x, "missing \"port\" (the guest's vsock port)");
	kinds = x->fwd_has & (FWD_HAS_TCP | FWD_HAS_UNIX | FWD_HAS_UDP);
	if (kinds != FWD_HAS_TCP && kinds != FWD_HAS_UNIX && kinds != FWD_HAS_UDP)
		return cfg_bad_value(x, "needs exactly one of \"tcp\", \"udp\" and \"unix\"");
	x->fwd.kind = kinds == FWD_HAS_TCP ? CONFIG_FWD_TCP :
		      kinds == FWD_HAS_UDP ? CONFIG_FWD_UDP : CONFIG_FWD_UNIX;
	key = kinds == FWD_HAS_TCP ? "tcp" : kinds == FWD_HAS_UDP ? "udp" : "unix";
	if (out && x->fwd.kind == CONFIG_FWD_UDP && config_udp_port_reserved(x->fwd.port))
		return fwd_fail_at(x, "port", "port %u is a host port of the udp forward_in "
				   "clients (%u..%u), not for a udp forward_out", x->fwd.port,
				   VSOCK_DGRAM_UDP_IN_PORT_FIRST,
				   VSOCK_DGRAM_UDP_IN_PORT_FIRST + VSOCK_DGRAM_UDP_IN_PORTS - 1);
	for (unsigned j = 0; j < *n; j++) {
		/* Datagram ports are a namespace of their own: a udp and a
		 * tcp/unix forward_out may share a port. */
		if (out && (*list)[j].port == x->fwd.port &&
		    config_fwd_same_ns(&(*list)[j], &x->fwd))
			return fwd_fail_at(x, "port", "port %u is already forwarded by vsock.%s[%u]",
					   x->fwd.port, what, j);
		if (!out && config_fwd_same_addr(&(*list)[j], &x->fwd))
			return fwd_fail_at(x, key,
					   "%s is already a listener (vsock.%s[%u])",
					   config_fwd_name(&x->fwd, name, sizeof(name)), what, j);
	}
	fwd_origin(x, key, &x->fwd);
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
			return -EINVAL;
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

/* ---- vsock.peers: an array of {"cid", "uds_path"} ---- */

enum {
	PEER_HAS_CID  = 1 << 0,
	PEER_HAS_PATH = 1 << 1,
};

static int set_peer_cid(struct cfg_ctx *x, json_t *v)
{
	long long n = 0;

	if (cfg_int(x, v, VSOCK_GUEST_CID_MIN, VSOCK_GUEST_CID_MAX, &n))
		return -EINVAL;
	x->peer.cid = (uint32_t)n;
	x->peer_has |= PEER_HAS_CID;
	return 0;
}

static int set_peer_path(struct cfg_ctx *x, json_t *v)
{
	free(x->peer.path);
	x->peer.path = NULL;
	if (cfg_path(x, v, &x->peer.path))
		return -EINVAL;
	if (strlen(x->peer.path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cfg_bad_value(x, "socket path is too long (%zu bytes, at most %zu)",
				     strlen(x->peer.path),
				     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	x->peer_has |= PEER_HAS_PATH;
	return 0;
}

static const struct cfg_key peer_keys[] = {
	{ "cid",               T_INTEGER,         set_peer_cid,   NULL },
	{ "uds_path",          T_STRING,          set_peer_path,  NULL },
	{ NULL, 0, NULL, NULL },
};

static int peer_element(struct cfg_ctx *x, json_t *e)
{
	if (!json_is_object(e))
		return cfg_bad_value(x, "must be an object, not %s", value_name(e));
	x->peer_has = 0;
	if (walk_object(x, e, peer_keys))
		return -EINVAL;
	if (!(x->peer_has & PEER_HAS_CID))
		return cfg_bad_value(x, "missing \"cid\" (the sibling VM's guest CID)");
	if (!(x->peer_has & PEER_HAS_PATH))
		return cfg_bad_value(x, "missing \"uds_path\" (the sibling VMM's vsock socket)");
	for (unsigned j = 0; j < x->c->n_peers; j++)
		if (x->c->peers[j].cid == x->peer.cid)
			return fwd_fail_at(x, "cid", "CID %u is already a peer (vsock.peers[%u])",
					   x->peer.cid, j);
	if (config_peer_set(&x->c->peers, &x->c->n_peers, x->peer.cid, x->peer.path))
		return cfg_bad_value(x, "out of memory");
	return 0;
}

static int set_peers(struct cfg_ctx *x, json_t *v)
{
	size_t i;
	json_t *e;
	int rc;

	/* The file's list replaces any earlier one. */
	config_peers_free(x->c->peers, x->c->n_peers);
	x->c->peers = NULL;
	x->c->n_peers = 0;
	json_array_foreach(v, i, e) {
		size_t depth = x->depth;

		if (x->depth == CFG_MAX_DEPTH)
			return cfg_fail(x, true, "nested too deeply");
		x->path[x->depth++] = (struct config_json_step){ .key = NULL, .index = i };
		rc = peer_element(x, e);
		free(x->peer.path);
		x->peer.path = NULL;
		if (rc)
			return -EINVAL;
		x->depth = depth;
	}
	return 0;
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
	{ "dgram",             T_BOOL,            set_dgram,      NULL },
	{ "peers",             T_ARRAY,           set_peers,      NULL },
	{ NULL, 0, NULL, NULL },
};

static const struct cfg_key x_vmm_keys[] = {
	{ "discovery",         T_STRING,          set_discovery,  NULL },
	{ "notify",            T_STRING,          set_notify,     NULL },
	{ "timeout_s",         T_INTEGER,         set_timeout,    NULL },
	{ "console_file",      T_STRING,          set_console_file, NULL },
	{ "seccomp",           T_BOOL,            set_seccomp,    NULL },
	{ "vsock_socket_group", T_STRING,         set_socket_group, NULL },
	{ NULL, 0, NULL, NULL },
};

/* Firecracker's "metrics" object. */
static const struct cfg_key metrics_keys[] = {
	{ "metrics_path",      T_STRING,          set_metrics_path, NULL },
	{ NULL, 0, NULL, NULL },
};

static const struct cfg_key top_keys[] = {
	{ "boot-source",       T_OBJECT,          NULL,           boot_source_keys },
	{ "machine-config",    T_OBJECT,          NULL,           machine_config_keys },
	{ "vsock",             T_OBJECT,          set_vsock,      vsock_keys },
	{ "metrics",           T_OBJECT,          NULL,           metrics_keys },
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
			return -EINVAL;
		if (k->keys && walk_object(x, v, k->keys))
			return -EINVAL;
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
		return -EINVAL;
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
		return -ENOMEM;
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
		return -EINVAL;
	}
	config_free(c);
	*c = tmp;
	return 0;
}

/* Whole file into a malloc'd buffer: 0, or -EINVAL with a message. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *buf;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
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
	return -EINVAL;
}

int config_load_json(struct vm_config *c, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	if (read_file(path, &buf, &len, err, errlen))
		return -EINVAL;
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
		return -EINVAL;
	}
	if (c->vcpus < 1 || c->vcpus > CONFIG_MAX_VCPUS) {
		set_err(err, errlen, "vCPU count %u is out of range 1..%d",
			c->vcpus, CONFIG_MAX_VCPUS);
		return -EINVAL;
	}
	if (c->mem_mib < CONFIG_MIN_MEM_MIB || c->mem_mib > CONFIG_MAX_MEM_MIB) {
		set_err(err, errlen, "memory size %llu MiB is out of range %d..%d MiB",
			(unsigned long long)c->mem_mib, CONFIG_MIN_MEM_MIB,
			CONFIG_MAX_MEM_MIB);
		return -EINVAL;
	}
	if (host && c->mem_mib << 20 > host) {
		set_err(err, errlen, "memory size %llu MiB is more than the host's "
			"physical RAM (%llu MiB)", (unsigned long long)c->mem_mib,
			(unsigned long long)(host >> 20));
		return -EINVAL;
	}
	if (c->discovery != DISCOVERY_CMDLINE && c->discovery != DISCOVERY_FDT) {
		set_err(err, errlen, "unknown device discovery mode %d", (int)c->discovery);
		return -EINVAL;
	}
	return validate_vsock(c, err, errlen);
}

/* The vsock part of the checks (both subcommands). */
static int validate_vsock(const struct vm_config *c, char *err, size_t errlen)
{
	if (c->has_vsock && c->guest_cid == 0) {
		set_err(err, errlen, "vsock needs a guest CID: use --vsock-cid N or "
			"vsock.guest_cid");
		return -EINVAL;
	}
	if (c->has_vsock && (c->guest_cid < VSOCK_GUEST_CID_MIN ||
			     c->guest_cid > VSOCK_GUEST_CID_MAX)) {
		set_err(err, errlen, "guest CID %u is reserved: use %u..%u",
			c->guest_cid, VSOCK_GUEST_CID_MIN, VSOCK_GUEST_CID_MAX);
		return -EINVAL;
	}
	if (c->uds_path && strlen(c->uds_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		set_err(err, errlen, "vsock socket path is too long (%zu bytes, at most %zu): %s",
			strlen(c->uds_path),
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1, c->uds_path);
		return -EINVAL;
	}
	if (c->vsock_dgram && !c->uds_path) {
		set_err(err, errlen, "vsock datagrams need a socket path: use --vsock-uds PATH "
			"or vsock.uds_path");
		return -EINVAL;
	}
	if (c->vsock_dgram &&
	    strlen(c->uds_path) + strlen(VSOCK_DGRAM_SUFFIX) >=
	    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		set_err(err, errlen, "vsock socket path is too long for datagrams (%zu bytes, "
			"at most %zu with \"%s\"): %s", strlen(c->uds_path),
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1 -
			strlen(VSOCK_DGRAM_SUFFIX), VSOCK_DGRAM_SUFFIX, c->uds_path);
		return -EINVAL;
	}
	if (c->max_conns < 1 || c->max_conns > CONFIG_MAX_MAX_CONNS) {
		set_err(err, errlen, "vsock connection limit %u is out of range 1..%u",
			c->max_conns, CONFIG_MAX_MAX_CONNS);
		return -EINVAL;
	}
	if ((c->n_fwd_out || c->n_fwd_in) && !c->has_vsock) {
		set_err(err, errlen, "vsock forwards need the vsock device: use --vsock-cid N "
			"or the \"vsock\" section");
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_fwd_out + c->n_fwd_in; i++) {
		const struct config_fwd *f = i < c->n_fwd_out ? &c->fwd_out[i]
							      : &c->fwd_in[i - c->n_fwd_out];

		if (f->kind == CONFIG_FWD_UNIX &&
		    strlen(f->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			set_err(err, errlen, "vsock forward socket path is too long "
				"(%zu bytes, at most %zu): %s", strlen(f->path),
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1, f->path);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < c->n_fwd_out + c->n_fwd_in; i++) {
		const struct config_fwd *f = i < c->n_fwd_out ? &c->fwd_out[i]
							      : &c->fwd_in[i - c->n_fwd_out];
		char name[160];

		/* UDP forwards carry datagrams: without F_DGRAM the guest
		 * could never send or take one. */
		if (f->kind == CONFIG_FWD_UDP && !c->vsock_dgram) {
			set_err(err, errlen, "%s%svsock forward %s needs datagrams: set "
				"vsock.dgram to true or add --vsock-dgram", f->origin,
				f->origin[0] ? ": " : "",
				config_fwd_name(f, name, sizeof(name)));
			return -EINVAL;
		}
		if (i < c->n_fwd_out && f->kind == CONFIG_FWD_UDP &&
		    config_udp_port_reserved(f->port)) {
			set_err(err, errlen, "%s%svsock forward %s: port %u is a host port of "
				"the udp forward_in clients", f->origin, f->origin[0] ? ": " : "",
				config_fwd_name(f, name, sizeof(name)), f->port);
			return -EINVAL;
		}
	}
	if (c->n_peers && !c->has_vsock) {
		set_err(err, errlen, "vsock peers need the vsock device: use --vsock-cid N "
			"or the \"vsock\" section");
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_peers; i++) {
		const struct config_peer *p = &c->peers[i];

		if (p->cid < VSOCK_GUEST_CID_MIN || p->cid > VSOCK_GUEST_CID_MAX) {
			set_err(err, errlen, "vsock peer CID %u is reserved: use %u..%u",
				p->cid, VSOCK_GUEST_CID_MIN, VSOCK_GUEST_CID_MAX);
			return -EINVAL;
		}
		if (p->cid == c->guest_cid) {
			set_err(err, errlen, "vsock peer CID %u is this VM's own CID", p->cid);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (c->peers[j].cid == p->cid) {
				set_err(err, errlen, "vsock peer CID %u is given twice", p->cid);
				return -EINVAL;
			}
		if (!*p->path || strlen(p->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			set_err(err, errlen, "vsock peer %u: socket path is %s (%zu bytes, "
				"1..%zu): %s", p->cid, *p->path ? "too long" : "empty",
				strlen(p->path), sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
				p->path);
			return -EINVAL;
		}
		if (c->uds_path && strcmp(p->path, c->uds_path) == 0) {
			set_err(err, errlen, "vsock peer %u: %s is this VM's own uds_path",
				p->cid, p->path);
			return -EINVAL;
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
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (c->fwd_in[j].kind == CONFIG_FWD_UNIX &&
			    sock_paths_clash(f->path, c->fwd_in[j].path, false)) {
				set_err(err, errlen, "vsock forward %s: the same socket "
					"file as vsock forward %s",
					config_fwd_name(f, name, sizeof(name)),
					config_fwd_name(&c->fwd_in[j], name2, sizeof(name2)));
				return -EINVAL;
			}
	}
	return 0;
}

int config_validate_vhost_user(const struct vm_config *c, char *err, size_t errlen)
{
	if (!c->vhost_user_socket || !*c->vhost_user_socket) {
		set_err(err, errlen, "no vhost-user socket given: use --socket PATH");
		return -EINVAL;
	}
	if (strlen(c->vhost_user_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		set_err(err, errlen, "vhost-user socket path is too long (%zu bytes, at most %zu): %s",
			strlen(c->vhost_user_socket),
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1, c->vhost_user_socket);
		return -EINVAL;
	}
	if (!c->has_vsock || c->guest_cid == 0) {
		set_err(err, errlen, "vhost-user serves the vsock device: use --vsock-cid N");
		return -EINVAL;
	}
	return validate_vsock(c, err, errlen);
}
