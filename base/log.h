/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics on stderr, one line each, prefixed "vmm: ".  Warnings are
 * shown by default; informational lines (device bring-up and the like)
 * with --trace-boot.  Thread safe: each line is one fprintf on unbuffered
 * stderr.
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

enum log_level { LOG_WARN = 0, LOG_INFO = 1 };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
