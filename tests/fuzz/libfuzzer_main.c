/* libFuzzer entry of one target, chosen at build time with
 * -DFUZZ_TARGET=<name> (tests/fuzz/CMakeLists.txt): fuzz_<name> runs
 * fuzz_one_<name> on every input. */
#include "fuzz_support.h"
#include "fuzz_targets.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Loaded before the first input, so it is not counted against it. */
	fuzz_builtin_profiles();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CAT(fuzz_one_, FUZZ_TARGET)(data, size);
	return 0;
}
