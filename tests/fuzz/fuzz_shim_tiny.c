/* backends/shim_env.c again, with 16-byte chunks: every input of
 * fuzz_shim_env then crosses chunk boundaries (and can reach the chunk
 * limit) at any offset, which the real 64 KiB chunks would need inputs a
 * thousand times larger for. The code is the same; only the constant and
 * the names differ. */
#define SHIM_ENV_CHUNK 16u
#define shim_env_encode tiny_shim_env_encode
#define shim_env_decode tiny_shim_env_decode
#define shim_cmd_free tiny_shim_cmd_free
#include "shim_env.c"
