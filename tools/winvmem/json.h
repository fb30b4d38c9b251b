/* A small JSON reader for the documents winvmem itself writes (map, stats, run --json), so
 * that `winvmem map --html --from FILE` can draw a saved map. Numbers keep their text:
 * addresses and sizes are 64-bit integers that a double would round. */
#ifndef WVM_CLI_JSON_H
#define WVM_CLI_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cli_json_kind { CJ_NULL, CJ_BOOL, CJ_NUM, CJ_STR, CJ_ARR, CJ_OBJ } cli_json_kind;

typedef struct cli_json {
    cli_json_kind kind;
    bool b;
    char *text;              /* CJ_STR: the string (UTF-8); CJ_NUM: the number as written */
    struct cli_json **items; /* CJ_ARR, CJ_OBJ: the values */
    char **keys;             /* CJ_OBJ: the keys */
    size_t n;
} cli_json;

/* Parses text (NUL-terminated); NULL on an error, described in err ("line 3, column 7: ..."). */
cli_json *cli_json_parse(const char *text, char *err, size_t errcap);
void cli_json_free(cli_json *j);
/* The value of key in an object, or NULL (also when j is not an object). */
const cli_json *cli_json_get(const cli_json *j, const char *key);
/* The string of a CJ_STR, else NULL. */
const char *cli_json_str_of(const cli_json *j);
/* A CJ_NUM that is a non-negative integer, or a CJ_STR "0x..." / decimal: 0, else -1. */
int cli_json_u64(const cli_json *j, uint64_t *out);
#endif
