#include <stdio.h>

#include "status_shim.h"

bool
status_record_parse(const char *buf, bool *is_exec, int *value)
{
	char word[8];

	if (sscanf(buf, "%7s %d", word, value) != 2)
		return false;
	if (word[0] == 's' && word[1] == 't')
		*is_exec = false;
	else if (word[0] == 'e' && word[1] == 'x')
		*is_exec = true;
	else
		return false;
	return true;
}
