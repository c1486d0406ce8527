/*
 * log.c - slabd's log.  Lines go to stderr as "slabd[pid]: level: text",
 * or to syslog (facility daemon).  Debug lines only with -v.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon/log.h"

static enum log_target log_target = LOG_TO_STDERR;
static int log_verbose;

void
log_open(enum log_target target, int verbose)
{
	log_target = target;
	log_verbose = verbose;
	if (target == LOG_TO_SYSLOG)
		openlog("slabd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_close(void)
{
	if (log_target == LOG_TO_SYSLOG)
		closelog();
}

static const char *
prio_name(int prio)
{
	switch (prio) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	if (log_target == LOG_TO_SYSLOG) {
		vsyslog(prio, fmt, ap);
	} else {
		fprintf(stderr, "slabd[%d]: %s: ", (int)getpid(),
			prio_name(prio));
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
