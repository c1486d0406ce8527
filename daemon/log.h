/*
 * log.h - slabd's log: stderr or syslog, chosen once at start.
 * Called from every daemon file; only the event-loop thread exists.
 */
#ifndef SLABD_LOG_H
#define SLABD_LOG_H

#include <syslog.h>

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };

void log_open(enum log_target target, int verbose);
void log_close(void);
__attribute__((format(printf, 2, 3)))
void log_msg(int prio, const char *fmt, ...);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* SLABD_LOG_H */
