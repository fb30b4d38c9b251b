/* A recursive-descent JSON reader (RFC 8259), enough for winvmem's own documents. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

typedef struct reader {
    const char *s, *p;
    char *err;
    size_t errcap;
    int depth;
} reader;

static cli_json *fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cli_json *fail(reader *r, const char *fmt, ...)
{
    if (r->err[0])
        return NULL; /* keep the first, innermost error */
    unsigned line = 1, col = 1;
    for (const char *q = r->s; q < r->p; q++, col++)
        if (*q == '\n') {
            line++;
            col = 0;
        }
    int n = snprintf(r->err, r->errcap, "line %u, column %u: ", line, col);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < r->errcap)
        vsnprintf(r->err + n, r->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return NULL;
}

static void skip_ws(reader *r)
{
    r->p += strspn(r->p, " \t\r\n");
}

static cli_json *node(cli_json_kind k)
{
    cli_json *j = calloc(1, sizeof *j);
    if (j)
        j->kind = k;
    return j;
}

static void put_utf8(char *out, size_t *o, unsigned c)
{
    if (c < 0x80) {
        out[(*o)++] = (char)c;
    } else if (c < 0x800) {
        out[(*o)++] = (char)(0xc0 | c >> 6);
        out[(*o)++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out[(*o)++] = (char)(0xe0 | c >> 12);
        out[(*o)++] = (char)(0x80 | (c >> 6 & 0x3f));
        out[(*o)++] = (char)(0x80 | (c & 0x3f));
    } else {
        out[(*o)++] = (char)(0xf0 | c >> 18);
        out[(*o)++] = (char)(0x80 | (c >> 12 & 0x3f));
        out[(*o)++] = (char)(0x80 | (c >> 6 & 0x3f));
        out[(*o)++] = (char)(0x80 | (c & 0x3f));
    }
}

static int hex4(const char *p, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        *out = *out << 4 | d;
    }
    return 0;
}

static char *fail_str(reader *r, char *buf, const char *why)
{
    free(buf);
    fail(r, "%s", why);
    return NULL;
}

/* At the opening quote; returns the decoded string (malloc) or NULL. The decoded string is
 * never longer than its source. */
static char *string(reader *r)
{
    static const char esc[] = "\"\\/bfnrt", rep[] = "\"\\/\b\f\n\r\t";
    const char *start = ++r->p;
    size_t len = 0;
    while (start[len] && start[len] != '"')
        len += start[len] == '\\' && start[len + 1] ? 2 : 1;
    char *out = malloc(len + 8);
    size_t o = 0;
    if (!out)
        return fail_str(r, NULL, "out of memory");
    for (;;) {
        unsigned char c = (unsigned char)*r->p;
        if (!c)
            return fail_str(r, out, "a string without its closing quote");
        if (c < 0x20)
            return fail_str(r, out, "a control character inside a string");
        r->p++;
        if (c == '"')
            break;
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        const char *e = *r->p ? strchr(esc, *r->p) : NULL;
        if (e) {
            out[o++] = rep[e - esc];
            r->p++;
            continue;
        }
        unsigned u, lo;
        if (*r->p != 'u' || hex4(r->p + 1, &u))
            return fail_str(r, out, "a bad escape in a string");
        r->p += 5;
        if (u >= 0xd800 && u < 0xdc00 && r->p[0] == '\\' && r->p[1] == 'u' &&
            !hex4(r->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            r->p += 6;
        }
        put_utf8(out, &o, u);
    }
    out[o] = 0;
    return out;
}

static cli_json *value(reader *r);

static int push(cli_json *j, cli_json *v, char *key)
{
    if ((j->n & (j->n - 1)) == 0) { /* n is 0 or a power of two: the array is full */
        size_t cap = j->n ? j->n * 2 : 1;
        cli_json **items = realloc(j->items, cap * sizeof *items);
        if (!items)
            return -1;
        j->items = items;
        if (j->kind == CJ_OBJ) {
            char **keys = realloc(j->keys, cap * sizeof *keys);
            if (!keys)
                return -1;
            j->keys = keys;
        }
    }
    if (j->kind == CJ_OBJ)
        j->keys[j->n] = key;
    j->items[j->n++] = v;
    return 0;
}

static cli_json *container(reader *r, cli_json_kind k)
{
    char close = k == CJ_ARR ? ']' : '}';
    cli_json *j = node(k);
    if (!j)
        return fail(r, "out of memory");
    r->p++;
    skip_ws(r);
    if (*r->p == close) {
        r->p++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(r);
        if (k == CJ_OBJ) {
            if (*r->p != '"') {
                cli_json_free(j);
                return fail(r, "expected a key (a string)");
            }
            if (!(key = string(r))) {
                cli_json_free(j);
                return NULL;
            }
            skip_ws(r);
            if (*r->p != ':') {
                free(key);
                cli_json_free(j);
                return fail(r, "expected ':' after a key");
            }
            r->p++;
        }
        cli_json *v = value(r);
        if (!v || push(j, v, key)) {
            free(key);
            cli_json_free(v);
            cli_json_free(j);
            return v ? fail(r, "out of memory") : NULL;
        }
        skip_ws(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == close) {
            r->p++;
            return j;
        }
        cli_json_free(j);
        return fail(r, "expected ',' or '%c'", close);
    }
}

static cli_json *number(reader *r)
{
    const char *start = r->p;
    if (*r->p == '-')
        r->p++;
    size_t digits = strspn(r->p, "0123456789");
    if (!digits)
        return fail(r, "expected a value");
    r->p += digits;
    if (*r->p == '.') {
        r->p++;
        r->p += strspn(r->p, "0123456789");
    }
    if (*r->p == 'e' || *r->p == 'E') {
        r->p++;
        if (*r->p == '+' || *r->p == '-')
            r->p++;
        r->p += strspn(r->p, "0123456789");
    }
    cli_json *j = node(CJ_NUM);
    if (j && !(j->text = strndup(start, (size_t)(r->p - start)))) {
        free(j);
        j = NULL;
    }
    return j ? j : fail(r, "out of memory");
}

static cli_json *value(reader *r)
{
    if (++r->depth > 64)
        return fail(r, "nested more than 64 deep");
    skip_ws(r);
    cli_json *j = NULL;
    static const struct {
        const char *word;
        cli_json_kind k;
        bool b;
    } words[] = {{"null", CJ_NULL, 0}, {"true", CJ_BOOL, 1}, {"false", CJ_BOOL, 0}};
    if (*r->p == '{' || *r->p == '[') {
        j = container(r, *r->p == '{' ? CJ_OBJ : CJ_ARR);
    } else if (*r->p == '"') {
        char *s = string(r);
        if (s && !(j = node(CJ_STR)))
            free(s);
        else if (s)
            j->text = s;
    } else {
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (!strncmp(r->p, words[i].word, strlen(words[i].word))) {
                r->p += strlen(words[i].word);
                if ((j = node(words[i].k)))
                    j->b = words[i].b;
                r->depth--;
                return j;
            }
        j = number(r);
    }
    r->depth--;
    return j;
}

cli_json *cli_json_parse(const char *text, char *err, size_t errcap)
{
    reader r = {text, text, err, errcap, 0};
    err[0] = 0;
    cli_json *j = value(&r);
    if (!j)
        return err[0] ? NULL : fail(&r, "out of memory");
    skip_ws(&r);
    if (*r.p) {
        cli_json_free(j);
        return fail(&r, "text after the end of the document");
    }
    return j;
}

void cli_json_free(cli_json *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        cli_json_free(j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->text);
    free(j);
}

const cli_json *cli_json_get(const cli_json *j, const char *key)
{
    if (!j || j->kind != CJ_OBJ)
        return NULL;
    for (size_t i = 0; i < j->n; i++)
        if (!strcmp(j->keys[i], key))
            return j->items[i];
    return NULL;
}

const char *cli_json_str_of(const cli_json *j)
{
    return j && j->kind == CJ_STR ? j->text : NULL;
}

int cli_json_u64(const cli_json *j, uint64_t *out)
{
    if (!j || (j->kind != CJ_NUM && j->kind != CJ_STR) || !j->text[0] || j->text[0] == '-')
        return -1;
    char *end;
    errno = 0;
    *out = strtoull(j->text, &end, j->kind == CJ_STR ? 0 : 10);
    return errno || *end ? -1 : 0;
}
