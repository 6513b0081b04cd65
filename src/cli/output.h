/* Output helpers every verb shares: a plain-text table whose columns size themselves to their
 * widest cell, JSON documents written through jansson, and number formats people read. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum table_align {
        TABLE_LEFT,
        TABLE_RIGHT, /* numbers */
        /* Left, and a UUID: when the table is wider than output_table_width(), its cells are cut
         * to the shortest prefix unique in the column (12 characters at least, "MIG-22f0c05f")
         * and an ellipsis. */
        TABLE_UUID,
};

struct table_column {
        const char *header;
        enum table_align align;
};

struct table;

/* A table with these columns (the array must outlive the table). NULL when out of memory. */
struct table *table_new(const struct table_column *columns, size_t column_count);
void table_free(struct table *table);
static inline void table_freep(struct table **table)
{
        table_free(*table);
}
#define _cleanup_table_ __attribute__((cleanup(table_freep)))

/* Appends one cell (printf-style) to the current row; after the last column the next cell starts
 * a new row. Bytes that are not valid UTF-8, and control characters, show as '?'. Running out of
 * memory is remembered and reported once, by table_print, so that building a table needs no check
 * per cell. */
void table_cellf(struct table *table, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes the header and every row, columns two spaces apart, the last column unpadded (no
 * trailing blanks), shortening the TABLE_UUID columns when the table would be wider than
 * output_table_width(). A half-filled last row is an error (-EINVAL). Returns 0, -ENOMEM or -EIO.
 */
int table_print(const struct table *table, FILE *out);

/* --wide: tables keep every cell whole, however wide. */
void output_set_wide(bool wide);

/* How wide a table may be: unlimited after output_set_wide(true); when stdout is a terminal,
 * $COLUMNS (a positive number) or else the terminal's width; otherwise (a pipe, a file) 100,
 * so that what a script or a test reads does not depend on who ran it. */
size_t output_table_width(void);

/* Writes `document` indented by two, keys in insertion order, and a final newline. 0 or -EIO. */
int output_json(const json_t *document, FILE *out);

/* A JSON string of `text`, which need not be valid UTF-8 (a path, a name from the driver): bytes
 * that are not become U+FFFD. JSON null for NULL; NULL when out of memory. */
json_t *json_text(const char *text);

/* "24576 MiB" from bytes (rounded down, as nvidia-smi does); "-" for 0, which means unknown. */
void format_mib(char *buffer, size_t size, unsigned long long bytes);

/* "132", or "-" for 0 (unknown). */
void format_count(char *buffer, size_t size, unsigned count);

/* A JSON integer, or JSON null for 0 (unknown). NULL when out of memory. */
json_t *json_count_or_null(unsigned long long value);
