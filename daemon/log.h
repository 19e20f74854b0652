/*
 * log.h: corobusd's logging, OpenBSD style: log_warn adds strerror(errno),
 * log_warnx does not; fatal/fatalx log and exit (start-up and broken
 * invariants only, never on a client's input).  Levels follow syslog:
 * error, warning, notice, info, debug, trace (debug plus wire lines).
 */
#ifndef COROBUSD_LOG_H
#define COROBUSD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_NOTICE, LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG, LOG_LEVEL_TRACE
};

enum log_target {
	LOG_TARGET_STDERR, LOG_TARGET_JOURNAL, LOG_TARGET_SYSLOG,
	LOG_TARGET_FILE
};

extern enum log_level log_level;

/* Sets where lines go; file is used with LOG_TARGET_FILE.  Returns 0 or
 * -1 (errno set) when the file cannot be opened; the old target stays. */
int	log_init(enum log_target target, enum log_level level,
	    const char *file);
/* Reopens the log file (SIGUSR1, after logrotate). */
int	log_reopen(void);
void	log_close(void);
int	log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_trace_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* The level test comes before the arguments are evaluated (Redis). */
#define log_debug(...) do {						\
	if (log_level >= LOG_LEVEL_DEBUG)				\
		log_debug_(__VA_ARGS__);				\
} while (0)
#define log_trace(...) do {						\
	if (log_level >= LOG_LEVEL_TRACE)				\
		log_trace_(__VA_ARGS__);				\
} while (0)

#endif
