/* libFuzzer entry: clang -fsanitize=fuzzer,address (see tests/fuzz/CMakeLists.txt). */
#include "decode_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_request_bytes(data, size);
	return 0;
}
