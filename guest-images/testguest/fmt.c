/* SPDX-License-Identifier: MIT */
#include "fmt.h"

#include <stdbool.h>
#include <stdint.h>

#include "serial.h"
#include "str.h"

struct out {
	char *buf;
	size_t size; /* capacity including the NUL */
	size_t len;  /* bytes the full output needs so far */
};

static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_c(o, c);
}

/* Emit s (n bytes) padded to width: on the left with pad, or on the right
 * with spaces when left-justified. */
static void out_field(struct out *o, const char *s, size_t n, int width,
		      bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	if (!left)
		out_pad(o, pad, fill);
	for (size_t i = 0; i < n; i++)
		out_c(o, s[i]);
	if (left)
		out_pad(o, ' ', fill);
}

static void out_num(struct out *o, uint64_t v, bool neg, unsigned base,
		    bool upper, int width, bool left, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24]; /* 2^64 has 20 decimal digits; plus the sign */
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	if (neg) {
		if (pad == '0') {
			/* "-0042": the sign goes before the zero padding */
			out_c(o, '-');
			width--;
		} else {
			tmp[--i] = '-';
		}
	}
	out_field(o, tmp + i, sizeof(tmp) - i, width, left, pad);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size, .len = 0 };

	for (const char *p = fmt; *p; p++) {
		bool left = false;
		char pad = ' ';
		int width = 0, lng = 0;

		if (*p != '%') {
			out_c(&o, *p);
			continue;
		}
		p++;
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				pad = '0';
			else
				break;
		}
		if (left)
			pad = ' ';
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l' || *p == 'z') {
			lng++;
			p++;
		}

		switch (*p) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

			out_num(&o, mag, v < 0, 10, false, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, unsigned long)
					 : va_arg(ap, unsigned int);

			out_num(&o, v, false, *p == 'u' ? 10 : 16, *p == 'X',
				width, left, pad);
			break;
		}
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (uintptr_t)va_arg(ap, void *), false, 16,
				false, width, left, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (!s)
				s = "(null)";
			out_field(&o, s, strlen(s), width, left, ' ');
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);

			out_field(&o, &c, 1, width, left, ' ');
			break;
		}
		case '%':
			out_c(&o, '%');
			break;
		case '\0':
			p--; /* lone '%' at the end: stop at the NUL */
			break;
		default:
			/* unknown conversion: show it rather than guess */
			out_c(&o, '%');
			out_c(&o, *p);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int kprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	serial_write(buf, strnlen(buf, sizeof(buf)));
	return n;
}
