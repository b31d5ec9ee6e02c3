#include "core/memory.h"

#include <malloc.h>

/* The most bytes in use seen since the last trim. */
static size_t peak_in_use;

int
memory_configure(void)
{
	/* Setting the threshold also turns glibc's dynamic threshold off. */
	if (mallopt(M_MMAP_THRESHOLD, MEMORY_MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, MEMORY_TRIM_THRESHOLD) != 1 || mallopt(M_ARENA_MAX, MEMORY_ARENAS) != 1)
		return -1;
	return 0;
}

bool
memory_release(void)
{
	struct mallinfo2 mi = mallinfo2();

	if (mi.uordblks > peak_in_use)
		peak_in_use = mi.uordblks;
	if (peak_in_use < mi.uordblks + MEMORY_TRIM_SLACK)
		return false;
	malloc_trim(0);
	peak_in_use = mi.uordblks;
	return true;
}
