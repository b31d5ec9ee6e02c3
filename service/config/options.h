/* options.h — runnerd's command line and environment. */
#ifndef RUNNER_OPTIONS_H
#define RUNNER_OPTIONS_H

#include "runnerd.h"

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_EXIT_USAGE };

/* Fill `cfg` from defaults, $RUNNERD_LISTEN and argv. Prints --help or a
 * usage error itself (this is main's helper, not a library). */
enum options_result options_parse(int argc, char **argv, struct runnerd_config *cfg);

void options_free(struct runnerd_config *cfg);

#endif
