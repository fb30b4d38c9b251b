/* The differential test's interpreter: runs an op-language script (tools/oplang) and prints
 * the normalised transcript (every address relative to a named allocation, free-region sizes
 * as '*', faults of the memory probes reported, never fatal).
 *
 * One source, two builds: natively against winvmem, and with x86_64-w64-mingw32-gcc against
 * <windows.h>, run under Wine. Both are the same op-language module (tools/oplang) that
 * `winvmem run --transcript` uses. Usage: interp [FILE] (standard input without FILE). */
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif
#include <stdio.h>

#include "oplang.h"

int main(int argc, char **argv)
{
    FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (!in) {
        perror(argv[1]);
        return 2;
    }
#ifdef _WIN32
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    opl_run_opts_t o = {.style = OPL_TRANSCRIPT, .file = argc > 1 ? argv[1] : "<stdin>"};
    return opl_run(in, stdout, &o);
}
