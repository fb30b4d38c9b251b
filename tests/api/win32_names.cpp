// The C source compiled as C++ (tests/api/CMakeLists.txt: api_win32_names_cxx).
#include "win32_names.c"
