/* DiscardVirtualMemory, OfferVirtualMemory and ReclaimVirtualMemory as byte-range operations:
 * [start, end) (page aligned) must lie inside one allocation, else ERROR_INVALID_ADDRESS. Each
 * takes the allocation's lock itself and returns 0 or a Windows error; Reclaim returns
 * WVM_ERROR_BUSY when it succeeded but some offered contents were discarded. */
#ifndef WVM_OFFER_H
#define WVM_OFFER_H
#include <stdint.h>

uint32_t wvm__range_discard(uintptr_t start, uintptr_t end);
uint32_t wvm__range_offer(uintptr_t start, uintptr_t end);
uint32_t wvm__range_reclaim(uintptr_t start, uintptr_t end);
#endif
