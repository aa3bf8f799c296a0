// The GuardPages test's proof that its guard works (run_guard_test.sh): reads
// one byte past the end of a 112-byte block ("overrun") or one byte of a freed
// one ("use-after-free"). Under guard_alloc.c both fault; with glibc's heap
// both read memory that is mapped, and the program exits 0.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  // A multiple of 16: the block ends right at the guard page. Volatile, so
  // the compiler neither warns of nor removes the deliberate faults below.
  volatile size_t size = 112;
  char* block = malloc(size);
  if (block == NULL) return 2;
  memset(block, 1, size);
  volatile char* volatile held = block;
  char seen = 0;
  if (strcmp(argv[1], "overrun") == 0) {
    seen = held[size];
  } else if (strcmp(argv[1], "use-after-free") == 0) {
    free(block);
    seen = held[0];
  } else {
    return 2;
  }
  printf("read %d without a fault\n", seen);
  return 0;
}
