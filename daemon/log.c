/*
 * log.c: where corobusd's log lines go.
 *
 * stderr in the foreground: ISO-8601 local time with offset, then the
 * line.  journal: stderr lines prefixed "<N>" (sd-daemon(3)) and no time,
 * since journald stamps them; chosen automatically when $JOURNAL_STREAM
 * says stderr is the journal.  syslog: ident corobusd, facility daemon.
 * file: like stderr, reopened on SIGUSR1.  Lines never carry secrets or
 * payloads; callers escape client-supplied names.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum log_level log_level = LOG_LEVEL_INFO;
static enum log_target log_target = LOG_TARGET_STDERR;
static FILE *log_file;
static char *log_path;

static const char *const level_names[] = {
	"error", "warning", "notice", "info", "debug", "trace"
};
static const int level_prio[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG, LOG_DEBUG
};

int
log_level_parse(const char *name, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[level];
}

/* Is stderr the journal?  $JOURNAL_STREAM is "dev:inode" of it. */
static bool
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
log_init(enum log_target target, enum log_level level, const char *file)
{
	if (target == LOG_TARGET_STDERR && stderr_is_journal())
		target = LOG_TARGET_JOURNAL;
	if (target == LOG_TARGET_FILE) {
		FILE *f = fopen(file, "a");
		char *p;

		if (f == NULL)
			return -1;
		if ((p = strdup(file)) == NULL) {
			fclose(f);
			return -1;
		}
		setvbuf(f, NULL, _IOLBF, 0);
		if (log_file != NULL)
			fclose(log_file);
		free(log_path);
		log_file = f;
		log_path = p;
	}
	if (target == LOG_TARGET_SYSLOG && log_target != LOG_TARGET_SYSLOG)
		openlog("corobusd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if (target != LOG_TARGET_SYSLOG && log_target == LOG_TARGET_SYSLOG)
		closelog();
	log_target = target;
	log_level = level;
	return 0;
}

int
log_reopen(void)
{
	FILE *f;

	if (log_target != LOG_TARGET_FILE || log_path == NULL)
		return 0;
	if ((f = fopen(log_path, "a")) == NULL)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	fclose(log_file);
	log_file = f;
	return 0;
}

void
log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	free(log_path);
	log_path = NULL;
	if (log_target == LOG_TARGET_SYSLOG)
		closelog();
	log_target = LOG_TARGET_STDERR;
}

static void log_vwrite(enum log_level, const char *, va_list, int)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap, int errnum)
{
	char msg[2048], stamp[40];
	FILE *out = log_target == LOG_TARGET_FILE ? log_file : stderr;
	struct timespec ts;
	struct tm tm;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum != 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	}
	switch (log_target) {
	case LOG_TARGET_SYSLOG:
		syslog(level_prio[level], "%s", msg);
		return;
	case LOG_TARGET_JOURNAL:
		fprintf(stderr, "<%d>%s\n", level_prio[level], msg);
		return;
	default:
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ld",
		    ts.tv_nsec / 1000000);
		n = strlen(stamp);
		strftime(stamp + n, sizeof(stamp) - n, "%z", &tm);
		fprintf(out, "%s %s: %s\n", stamp, level_names[level], msg);
		fflush(out);
	}
}

#define LOG_FN(name, level, with_errno)					\
void									\
name(const char *fmt, ...)						\
{									\
	int saved = errno;						\
	va_list ap;							\
									\
	if (log_level < (level))					\
		return;							\
	va_start(ap, fmt);						\
	log_vwrite((level), fmt, ap, (with_errno) ? saved : 0);		\
	va_end(ap);							\
	errno = saved;							\
}

LOG_FN(log_error, LOG_LEVEL_ERROR, 0)
LOG_FN(log_warn, LOG_LEVEL_WARNING, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARNING, 0)
LOG_FN(log_notice, LOG_LEVEL_NOTICE, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug_, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_trace_, LOG_LEVEL_TRACE, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
