/* GetLargePageMinimum: the kernel's default hugetlb page size (2 MiB on x86-64), 0 when the
 * kernel has no hugetlb support, as Windows returns 0 when the processor has no large pages. */
#include "api/api.h"
#include "prim/linux/hugetlb.h"

WVM_API size_t wvm_GetLargePageMinimum(void)
{
    return wvm__prim_huge_size();
}
