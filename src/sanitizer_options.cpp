// Default settings of AddressSanitizer, LeakSanitizer and UndefinedBehavior-
// Sanitizer, compiled into the executables of the sanitizer builds only
// (STYLIZE_SANITIZE and STYLIZE_FUZZ; CMakeLists.txt). Built into the binaries
// instead of set in the environment, they hold however a binary is started:
// by CTest, by gtest_discover_tests at build time, by a CLI test that runs the
// stylize executable, or by hand. ASAN_OPTIONS, UBSAN_OPTIONS and
// LSAN_OPTIONS still override them.
//
// LibTorch, OpenCV (with its codecs) and OpenMP come from Debian and are not
// instrumented. With Debian 12's packages the whole suite runs clean with every
// check on: LeakSanitizer finds no leak at exit, and there is no
// alloc-dealloc mismatch, ODR violation or UBSan report, so nothing is turned
// off or suppressed. Should an upgrade change that, add a suppression scoped
// to the library (__lsan_default_suppressions returning "leak:libgomp.so\n",
// or a UBSan suppression naming the module) rather than disabling a check.

#define STYLIZE_SANITIZER_HOOK \
  extern "C" __attribute__((visibility("default"), used, no_sanitize("address", "undefined")))

// detect_stack_use_after_return: also catch a pointer or reference to a local
// used after its function returned (off by default in GCC 12).
// check_initialization_order, strict_init_order: catch a global initialized
// from another translation unit's global that is not initialized yet.
STYLIZE_SANITIZER_HOOK const char* __asan_default_options() {
  return "detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1";
}

// A report says where it happened, and the first one stops the program (the
// build also passes -fno-sanitize-recover=undefined).
STYLIZE_SANITIZER_HOOK const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }
