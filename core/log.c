/*
 * Logging to stderr. Under systemd (JOURNAL_STREAM set) each line starts
 * with a "<N>" syslog priority that journald turns into the entry's
 * priority; on a terminal or in a file we print a level word instead.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "outpost";
static enum log_level log_level = LOG_LVL_INFO;
static bool log_journal;     /* stderr is journald's stream */
static bool log_timestamps;  /* daemon style, not on journald */
static void (*log_sink)(enum log_level, const char *);

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_syslog[] = { 3, 4, 6, 7 };

void
log_init(const char *ident, enum log_level level, bool daemon_style)
{
	log_ident = ident;
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	log_timestamps = daemon_style && !log_journal;
}

void
log_set_sink(void (*sink)(enum log_level, const char *))
{
	log_sink = sink;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < countof(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *
log_level_name(enum log_level l)
{
	return (unsigned)l < countof(level_names) ? level_names[l] : "?";
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int off = 0;

	if (level > log_level)
		return;
	if (log_sink != NULL) {
		vsnprintf(line, sizeof(line), fmt, ap);
		log_sink(level, line);
		return;
	}
	if (log_journal) {
		off = snprintf(line, sizeof(line), "<%d>", level_syslog[level]);
	} else if (log_timestamps) {
		time_t sec = (time_t)(wall_ms() / 1000u);
		struct tm tm;
		gmtime_r(&sec, &tm);
		off = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
		off += snprintf(line + off, sizeof(line) - (size_t)off, "%s: %s: ",
		    log_ident, level_names[level]);
	} else {
		off = snprintf(line, sizeof(line), "%s: %s%s", log_ident,
		    level == LOG_LVL_INFO ? "" : level_names[level],
		    level == LOG_LVL_INFO ? "" : ": ");
	}
	vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	/* One write per line keeps lines whole when several writers share fd 2. */
	size_t len = strlen(line);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nowhere left to report it */
	}
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

bool
log_complain(struct complain *c, uint64_t now_ms, enum log_level level,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->gap_ms != 0 && now_ms < c->next_ms) {
		c->suppressed++;
		return false;
	}
	c->gap_ms = c->gap_ms == 0 ? COMPLAIN_FIRST_GAP_MS :
	    (c->gap_ms * 2 > COMPLAIN_MAX_GAP_MS ? COMPLAIN_MAX_GAP_MS :
	    c->gap_ms * 2);
	c->next_ms = now_ms + c->gap_ms;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->suppressed > 0)
		log_msg(level, "%s (%u similar messages suppressed)", msg,
		    c->suppressed);
	else
		log_msg(level, "%s", msg);
	c->suppressed = 0;
	return true;
}

bool
log_release(struct complain *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->gap_ms == 0)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_INFO, "%s", msg);
	c->gap_ms = 0;
	c->next_ms = 0;
	c->suppressed = 0;
	return true;
}
