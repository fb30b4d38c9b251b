/* The Windows names the op language is written against: the real ones under mingw-w64
 * (the differential test's Wine side), winvmem's <winvmem/win32.h> natively. */
#ifndef OPLANG_WIN_H
#define OPLANG_WIN_H
#ifdef _WIN32
#include <windows.h>
#include <psapi.h> /* QueryWorkingSetEx */
/* Windows 10 1803 SDK names that mingw-w64's headers may lack */
#ifndef MEM_RESERVE_PLACEHOLDER
#define MEM_RESERVE_PLACEHOLDER 0x00040000
#endif
#ifndef MEM_REPLACE_PLACEHOLDER
#define MEM_REPLACE_PLACEHOLDER 0x00004000
#endif
#ifndef MEM_PRESERVE_PLACEHOLDER
#define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif
#ifndef MEM_COALESCE_PLACEHOLDERS
#define MEM_COALESCE_PLACEHOLDERS 0x00000001
#endif
#ifndef FILE_MAP_TARGETS_INVALID
#define FILE_MAP_TARGETS_INVALID 0x40000000
#endif
#ifndef FILE_MAP_LARGE_PAGES
#define FILE_MAP_LARGE_PAGES 0x20000000
#endif
#else
#include <winvmem/win32.h>
#endif

#endif
