# shellcheck shell=bash
# Sourced (bash) by deploy/run-tests.sh before a sanitizer suite:
#
#   . tests/sanitizers/env.sh REPORT_DIR
#
# Every finding is fatal and leaves a report in REPORT_DIR: AddressSanitizer
# and ThreadSanitizer stop the process at the first error, UndefinedBehavior-
# Sanitizer too (the build also has -fno-sanitize-recover=all), LeakSanitizer
# fails the exit status at exit. Reports go to REPORT_DIR/<tool>.<pid>
# rather than to stderr, so that a finding in a process whose exit status
# no test looks at (a runnerd a test SIGKILLs, a runnerctl in a script)
# still fails the suite: run-tests.sh fails when REPORT_DIR holds a report,
# and prints it. Leak suppressions: lsan.supp (nng's own leaks only).
# CK_TIMEOUT_MULTIPLIER gives check's per-test timeouts room for slower
# binaries.

# Absolute: the processes reporting run in other directories.
sanitizer_reports=$(mkdir -p "${1:?usage: . env.sh REPORT_DIR}" && cd "$1" && pwd)
sanitizer_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:exitcode=86:log_exe_name=1:log_path=$sanitizer_reports/asan"
export LSAN_OPTIONS="suppressions=$sanitizer_dir/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_exe_name=1:log_path=$sanitizer_reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:exitcode=88:second_deadlock_stack=1:log_exe_name=1:log_path=$sanitizer_reports/tsan"
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
