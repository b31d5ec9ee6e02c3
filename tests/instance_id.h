/* instance_id.h — the instance id a runnerd labels what it creates with
 * (its containers: label runnerd.instance), as service/main.c computes it:
 * FNV-1a 64 of its state directory, 16 hex digits. */
#ifndef RUNNERD_TESTS_INSTANCE_ID_H
#define RUNNERD_TESTS_INSTANCE_ID_H

#include <stdint.h>
#include <stdio.h>

static inline void
rd_instance_id(const char *state_dir, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = state_dir; *p; p++)
		h = (h ^ (unsigned char) *p) * 0x100000001b3ull;
	snprintf(out, 17, "%016llx", (unsigned long long) h);
}

#endif
