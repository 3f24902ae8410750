#include "heap_stats.h"
#if defined(__linux__)
#include <malloc.h>
#endif
#if defined(__GLIBC__)
size_t carbonhub_heap_bytes_in_use(void) { return mallinfo2().uordblks; }
#else
size_t carbonhub_heap_bytes_in_use(void) { return 0; }
#endif
