/*
 * conf.h - slabd's settings: one table of options that both the command
 * line (getopt_long) and the configuration file (slabd.conf(5)) are read
 * through, so that each option is parsed in one place.  Called by main.c
 * at start and again on SIGHUP; runs on the daemon's only thread.
 *
 * (Named conf, not config: "config.h" is autoconf's header, and a
 * daemon/config.h would shadow it for every daemon file.)
 */
#ifndef SLABD_CONF_H
#define SLABD_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "daemon/slabd.h"

/* conf_load() results besides 0 */
#define CONF_HELP	1	/* -h: print conf_usage() and exit 0 */
#define CONF_VERSION	2	/* -V: print the version and exit 0 */
#define CONF_PRINT	3	/* --print-config: cfg is loaded and
				 * checked; conf_print() it and exit 0 */

/*
 * Fill cfg: the defaults, then the command line, then the file named by
 * -c (keys the command line set are skipped, after their value has been
 * checked), then the checks across options.  Paths given relative on the
 * command line are made absolute against the working directory of the
 * first call, so that a reload after detaching (in /) resolves them as
 * the start did; the file's paths must be absolute.  argv is not changed
 * and may be read again by a later call.
 *
 * Returns 0, CONF_HELP, CONF_VERSION or CONF_PRINT, or -1 with a message in err that
 * names the option ("--max-clients: '0' is not a number from 1 to
 * 1000000") or the file, line and key ("/etc/shmslab/slabd.conf:3:
 * max-clients: ..."); the caller frees cfg with conf_free() in every case.
 */
int conf_load(struct slabd_config *cfg, int argc, char **argv, char *err,
	      size_t len);

/*
 * Print cfg as a configuration file, one "key = value" line per key; a
 * key without a value of its own is a comment saying what applies.
 */
void conf_print(const struct slabd_config *cfg, FILE *f);

/* Free what cfg owns (strings and lists); cfg may then be loaded again. */
void conf_free(struct slabd_config *cfg);

/*
 * Compare a freshly loaded configuration with the running one, key by
 * key.  For each key that differs: when the key can change at run time,
 * log "key: old -> new" and move the new value into cur; else log that
 * it needs a restart and leave cur alone.  next keeps what was not
 * moved; the caller frees it with conf_free().  Returns the number of
 * keys applied.
 */
unsigned int conf_apply(struct slabd_config *cur, struct slabd_config *next);

#endif /* SLABD_CONF_H */
