#include <string.h>

#include "backend.h"
#include "control_plane.h"

extern const struct backend_ops backend_exec;
extern const struct backend_ops backend_firejail;
extern const struct backend_ops backend_docker;

static const struct backend_ops *const backends[] = {
	&backend_exec,
	&backend_firejail,
	&backend_docker,
};

const struct backend_ops *const *
backend_all(size_t *count)
{
	*count = sizeof(backends) / sizeof(backends[0]);
	return backends;
}

const struct backend_ops *
backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

void
backend_init_all(const struct backend_config *cfg)
{
	control_plane_configure(cfg);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i]->init != NULL)
			backends[i]->init(cfg);
}
