# The libFuzzer build (-DRUNNERD_FUZZ=ON, clang): included from the top-level
# CMakeLists.txt before any target exists.
#
# Coverage must reach into the decoder, so protobuf-c's runtime is compiled
# here from its source, at the version Debian 12 ships (1.4.1, which Debian
# builds without patches), with the same instrumentation as runnerd's own
# libraries; Debian's libprotobuf-c.so is not linked. The tarball is
# Debian's .orig, checked against its SHA-256, kept under the build
# directory so a rebuild does not fetch it again. An offline machine can
# pass -DRUNNERD_PROTOBUF_C_TARBALL=/path/to/protobuf-c_1.4.1.orig.tar.gz.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "RUNNERD_FUZZ needs clang (CC=clang); this is ${CMAKE_C_COMPILER_ID}")
endif()

# Everything the fuzzers reach: coverage for libFuzzer, ASan, UBSan made
# fatal so that a finding stops the run with its input.
set(RUNNERD_FUZZ_CFLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -g)
set(RUNNERD_FUZZ_LDFLAGS -fsanitize=address,undefined)

set(PROTOBUF_C_VERSION 1.4.1)
set(PROTOBUF_C_SHA256 4cc4facd508172f3e0a4d3a8736225d472418aee35b4ad053384b137b220339f)
set(PROTOBUF_C_URL
    http://deb.debian.org/debian/pool/main/p/protobuf-c/protobuf-c_${PROTOBUF_C_VERSION}.orig.tar.gz)
set(PROTOBUF_C_CACHE ${CMAKE_BINARY_DIR}/_deps/protobuf-c_${PROTOBUF_C_VERSION}.orig.tar.gz)
set(RUNNERD_PROTOBUF_C_TARBALL "" CACHE FILEPATH
    "protobuf-c ${PROTOBUF_C_VERSION} .orig.tar.gz to use instead of downloading it")

if(RUNNERD_PROTOBUF_C_TARBALL)
  file(SHA256 ${RUNNERD_PROTOBUF_C_TARBALL} _sum)
  if(NOT _sum STREQUAL PROTOBUF_C_SHA256)
    message(FATAL_ERROR "${RUNNERD_PROTOBUF_C_TARBALL}: SHA-256 ${_sum}, expected ${PROTOBUF_C_SHA256}")
  endif()
  set(_tarball ${RUNNERD_PROTOBUF_C_TARBALL})
else()
  # Skipped when the cached file already has the expected hash.
  file(DOWNLOAD ${PROTOBUF_C_URL} ${PROTOBUF_C_CACHE}
       EXPECTED_HASH SHA256=${PROTOBUF_C_SHA256} STATUS _dl)
  list(GET _dl 0 _dl_code)
  if(NOT _dl_code EQUAL 0)
    list(GET _dl 1 _dl_msg)
    file(REMOVE ${PROTOBUF_C_CACHE})
    message(FATAL_ERROR "fetching ${PROTOBUF_C_URL}: ${_dl_msg}")
  endif()
  set(_tarball ${PROTOBUF_C_CACHE})
endif()

set(PROTOBUF_C_SRC ${CMAKE_BINARY_DIR}/_deps/protobuf-c-${PROTOBUF_C_VERSION})
if(NOT EXISTS ${PROTOBUF_C_SRC}/protobuf-c/protobuf-c.c)
  file(ARCHIVE_EXTRACT INPUT ${_tarball} DESTINATION ${CMAKE_BINARY_DIR}/_deps
       PATTERNS protobuf-c-${PROTOBUF_C_VERSION}/protobuf-c/protobuf-c.c
                protobuf-c-${PROTOBUF_C_VERSION}/protobuf-c/protobuf-c.h)
endif()

# The runtime alone: protobuf-c.c is the whole of it (the rest of the
# tarball is the protoc-c compiler, which the build keeps taking from Debian).
add_library(runnerd_fuzz_protobufc STATIC ${PROTOBUF_C_SRC}/protobuf-c/protobuf-c.c)
target_include_directories(runnerd_fuzz_protobufc PUBLIC ${PROTOBUF_C_SRC})
# UBSan reports in protobuf-c are recoverable: printed once per source
# location, and the run goes on. protobuf-c 1.4.1 has undefined behaviour
# that is harmless in practice and would otherwise stop every run at once
# (NULL + 0 for a message without fields, a uint8_t shifted into int's sign
# bit for a 5-byte tag); run-fuzz.sh lists them as protobuf-c's, not as
# findings, since the build uses the source exactly as Debian ships it.
# ASan, and every check in runnerd's own code, still stop the run.
target_compile_options(runnerd_fuzz_protobufc PRIVATE ${RUNNERD_FUZZ_CFLAGS} -w
                       -fsanitize-recover=undefined)
target_link_options(runnerd_fuzz_protobufc INTERFACE ${RUNNERD_FUZZ_LDFLAGS})
