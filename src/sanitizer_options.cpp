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

#include <cstdlib>

#define STYLIZE_SANITIZER_HOOK \
  extern "C" __attribute__((visibility("default"), used, no_sanitize("address", "undefined")))

// detect_stack_use_after_return: also catch a pointer or reference to a local
// used after its function returned (off by default in GCC 12).
// check_initialization_order, strict_init_order: catch a global initialized
// from another translation unit's global that is not initialized yet.
STYLIZE_SANITIZER_HOOK const char* __asan_default_options() {
  return "detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1";
}

// oneDNN 2.6 (Debian 12's libdnnl2, under LibTorch's bf16 convolutions), on a
// CPU with AMX, reads one 8-byte entry past the end of a table while it builds
// each forward bf16 convolution (brgconv:avx512_core_amx_bf16): entry 236 of a
// 1888-byte table for a 64-channel 32x32 layer. With glibc's heap the read
// lands in the next chunk and is harmless; AddressSanitizer's allocator can
// put that table at the end of its mapped memory, and the run then dies of
// SIGSEGV inside libdnnl (CI, 2026-12-07, Batch.OutputsNamedByNumberAloneAre-
// WarnedAbout). libdnnl is not instrumented, so a sanitizer build learns
// nothing from running its AMX kernels: it runs oneDNN's AVX512-BF16 kernels
// instead, under which a run with every allocation ending at a guard page
// completes (tests/guard: the GuardPages test, which found it). The Release
// build and its tests keep the AMX kernels. Runs before any convolution
// (oneDNN reads the setting once, at its first use); an ONEDNN_MAX_CPU_ISA set
// in the environment is kept.
__attribute__((constructor)) static void cap_onednn_below_amx() {
  setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16", /*overwrite=*/0);
}

// A report says where it happened, and the first one stops the program (the
// build also passes -fno-sanitize-recover=undefined).
STYLIZE_SANITIZER_HOOK const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }
