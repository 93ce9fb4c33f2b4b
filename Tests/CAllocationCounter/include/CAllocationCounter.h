// CAllocationCounter: counts heap allocations while counting is switched on (tests only).
//
// On Linux with glibc it replaces malloc and its relatives for the whole test process, forwards
// every call to glibc's own allocator (__libc_malloc and friends), and bumps an atomic counter
// while counting is on. Swift's runtime allocates through these functions, so class instances,
// array buffers, closure contexts and UnsafeMutablePointer.allocate are all counted.
#ifndef CALLOCATIONCOUNTER_H
#define CALLOCATIONCOUNTER_H

/// 1 where the interposition is compiled in (Linux, glibc), 0 elsewhere.
int cllm_allocation_counter_available(void);
/// Resets the count and starts counting.
void cllm_allocation_counter_start(void);
/// Stops counting and returns the number of allocations since the last start.
long cllm_allocation_counter_stop(void);

#endif
