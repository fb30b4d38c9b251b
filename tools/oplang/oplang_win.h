/* The Windows names the op language is written against: the real ones under mingw-w64
 * (the differential test's Wine side), winvmem's <winvmem/win32.h> natively. */
#ifndef OPLANG_WIN_H
#define OPLANG_WIN_H
#ifdef _WIN32
#include <windows.h>
#include <psapi.h> /* QueryWorkingSetEx */
#else
#include <winvmem/win32.h>
#endif

#endif
