/* fdlist — print the open file descriptors of this process, one per line,
 * ascending, leaving out the directory fd used to list them. Run through
 * runnerd to check that a child inherits only 0, 1 and 2. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

int
main(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[4096], n = 0, self;

	if (d == NULL) {
		perror("opendir /proc/self/fd");
		return 2;
	}
	self = dirfd(d);
	while ((e = readdir(d)) != NULL && n < 4096) {
		if (e->d_name[0] == '.')
			continue;
		if (atoi(e->d_name) != self)
			fds[n++] = atoi(e->d_name);
	}
	closedir(d);
	qsort(fds, (size_t) n, sizeof(fds[0]), cmp_int);
	for (int i = 0; i < n; i++)
		printf("%d\n", fds[i]);
	return 0;
}
