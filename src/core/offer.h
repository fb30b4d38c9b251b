/* DiscardVirtualMemory, OfferVirtualMemory and ReclaimVirtualMemory on one locked allocation;
 * [first, first+count) lies inside it. Each returns 0 or a Windows error; Reclaim returns
 * WVM_ERROR_BUSY when it succeeded but some offered contents were discarded. */
#ifndef WVM_OFFER_H
#define WVM_OFFER_H
#include <stdint.h>

#include "core/space.h"

uint32_t wvm__alloc_discard(wvm_alloc *a, uint64_t first, uint64_t count);
uint32_t wvm__alloc_offer(wvm_alloc *a, uint64_t first, uint64_t count);
uint32_t wvm__alloc_reclaim(wvm_alloc *a, uint64_t first, uint64_t count);
#endif
