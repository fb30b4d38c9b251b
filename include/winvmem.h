/* winvmem: the Windows virtual-memory API on Linux. Umbrella header. */
#ifndef WINVMEM_H
#define WINVMEM_H
#include "winvmem/vm.h"
#include "winvmem/stats.h"
#include "winvmem/fault.h"
#endif
