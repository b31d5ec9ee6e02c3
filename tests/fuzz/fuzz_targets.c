#include "fuzz_targets.h"

const struct fuzz_target fuzz_targets[] = {
	{ "request", fuzz_one_request },
	{ "stream_message", fuzz_one_stream_message },
	{ "config", fuzz_one_config },
	{ "shim_env", fuzz_one_shim_env },
	{ "pool_header", fuzz_one_pool_header },
	{ NULL, NULL },
};
