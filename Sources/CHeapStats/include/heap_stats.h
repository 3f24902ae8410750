#ifndef CARBONHUB_HEAP_STATS_H
#define CARBONHUB_HEAP_STATS_H
#include <stddef.h>
/** Bytes currently allocated by malloc in this process (glibc mallinfo2().uordblks), or 0
** where unavailable. Used by the conformance checker's leak check. */
size_t carbonhub_heap_bytes_in_use(void);
#endif
