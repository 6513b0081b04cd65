/* Shared output helpers: self-sizing text tables, JSON through jansson, number formats. */
#define _GNU_SOURCE /* vasprintf */
#include "cli/output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

struct table {
        const struct table_column *columns;
        size_t column_count;
        char **cells; /* row-major, cell_count of them */
        size_t cell_count;
        size_t capacity;
        bool failed; /* a cell could not be stored: the table is incomplete */
};

struct table *table_new(const struct table_column *columns, size_t column_count)
{
        struct table *table = calloc(1, sizeof(*table));
        if (!table)
                return NULL;
        table->columns = columns;
        table->column_count = column_count;
        return table;
}

void table_free(struct table *table)
{
        if (!table)
                return;
        for (size_t i = 0; i < table->cell_count; i++)
                free(table->cells[i]);
        free(table->cells);
        free(table);
}

void table_cellf(struct table *table, const char *format, ...)
{
        if (table->failed)
                return;
        if (table->cell_count == table->capacity) {
                size_t bigger = table->capacity ? table->capacity * 2 : 64;
                char **grown = reallocarray(table->cells, bigger, sizeof(*grown));
                if (!grown) {
                        table->failed = true;
                        return;
                }
                table->cells = grown;
                table->capacity = bigger;
        }
        char *cell = NULL;
        va_list ap;
        va_start(ap, format);
        int n = vasprintf(&cell, format, ap);
        va_end(ap);
        if (n < 0) {
                table->failed = true;
                return;
        }
        text_make_printable(cell);
        table->cells[table->cell_count++] = cell;
}

static void print_cell(FILE *out, const char *text, size_t width, enum table_align align, bool last)
{
        size_t pad = width - strlen(text);
        if (align == TABLE_RIGHT)
                fprintf(out, "%*s%s", (int)pad, "", text);
        else if (last)
                fputs(text, out);
        else
                fprintf(out, "%s%*s", text, (int)pad, "");
        fputs(last ? "\n" : "  ", out);
}

int table_print(const struct table *table, FILE *out)
{
        if (table->failed)
                return -ENOMEM;
        size_t columns = table->column_count;
        if (columns == 0 || table->cell_count % columns != 0)
                return -EINVAL;

        size_t *widths = calloc(columns, sizeof(*widths));
        if (!widths)
                return -ENOMEM;
        for (size_t c = 0; c < columns; c++)
                widths[c] = strlen(table->columns[c].header);
        for (size_t i = 0; i < table->cell_count; i++) {
                size_t length = strlen(table->cells[i]);
                if (length > widths[i % columns])
                        widths[i % columns] = length;
        }

        for (size_t c = 0; c < columns; c++)
                print_cell(out, table->columns[c].header, widths[c], table->columns[c].align,
                           c + 1 == columns);
        for (size_t i = 0; i < table->cell_count; i++) {
                size_t c = i % columns;
                print_cell(out, table->cells[i], widths[c], table->columns[c].align,
                           c + 1 == columns);
        }
        free(widths);
        return ferror(out) ? -EIO : 0;
}

int output_json(const json_t *document, FILE *out)
{
        if (json_dumpf(document, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
                return -EIO;
        if (fputc('\n', out) == EOF)
                return -EIO;
        return 0;
}

void format_mib(char *buffer, size_t size, unsigned long long bytes)
{
        if (bytes == 0)
                (void)snprintf(buffer, size, "-");
        else
                (void)snprintf(buffer, size, "%llu MiB", bytes / (1024ULL * 1024ULL));
}

void format_count(char *buffer, size_t size, unsigned count)
{
        if (count == 0)
                (void)snprintf(buffer, size, "-");
        else
                (void)snprintf(buffer, size, "%u", count);
}

json_t *json_count_or_null(unsigned long long value)
{
        return value == 0 ? json_null() : json_integer((json_int_t)value);
}

json_t *json_text(const char *text)
{
        if (!text)
                return json_null();
        json_t *value = json_string(text);
        if (value || text_is_utf8(text))
                return value;
        char *copy = text_utf8_copy(text);
        if (!copy)
                return NULL;
        value = json_string(copy);
        free(copy);
        return value;
}
