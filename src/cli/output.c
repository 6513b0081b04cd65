/* Shared output helpers: self-sizing text tables, JSON through jansson, number formats. */
#define _GNU_SOURCE /* vasprintf */
#include "cli/output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

/* Columns a cell takes: UTF-8 code points (cells are made printable, so valid UTF-8). */
static size_t display_width(const char *text)
{
        size_t width = 0;
        for (const unsigned char *p = (const unsigned char *)text; *p; p++)
                width += (*p & 0xC0) != 0x80;
        return width;
}

#define ELLIPSIS            "\u2026"
#define SHORT_PREFIX_MIN    12 /* "MIG-22f0c05f": the kind and the first group */
#define DEFAULT_TABLE_WIDTH 100

static bool wide_tables;

void output_set_wide(bool wide)
{
        wide_tables = wide;
}

size_t output_table_width(void)
{
        if (wide_tables)
                return SIZE_MAX;
        if (!isatty(STDOUT_FILENO))
                return DEFAULT_TABLE_WIDTH;
        const char *columns = getenv("COLUMNS");
        if (columns && columns[0]) {
                char *end = NULL;
                errno = 0;
                unsigned long value = strtoul(columns, &end, 10);
                if (errno == 0 && *end == '\0' && value > 0 && value < 100000)
                        return value;
        }
        struct winsize size;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
                return size.ws_col;
        return DEFAULT_TABLE_WIDTH;
}

/* The shortest prefix length, SHORT_PREFIX_MIN at least, that tells apart every two different
 * cells of column `c`. */
static size_t unique_prefix_length(const struct table *table, size_t c)
{
        size_t columns = table->column_count, length = SHORT_PREFIX_MIN;
        for (size_t i = c; i < table->cell_count; i += columns)
                for (size_t j = i + columns; j < table->cell_count; j += columns) {
                        const char *a = table->cells[i], *b = table->cells[j];
                        if (strcmp(a, b) == 0)
                                continue;
                        size_t common = 0;
                        while (a[common] && a[common] == b[common])
                                common++;
                        if (common + 1 > length)
                                length = common + 1;
                }
        return length;
}

static void print_cell(FILE *out, const char *text, size_t cut, size_t width,
                       enum table_align align, bool last)
{
        size_t shown = display_width(text);
        bool shortened = cut != SIZE_MAX && strlen(text) > cut + 1;
        if (shortened)
                shown = cut + 1;
        size_t pad = width - shown;
        if (align == TABLE_RIGHT)
                fprintf(out, "%*s", (int)pad, "");
        if (shortened)
                fprintf(out, "%.*s" ELLIPSIS, (int)cut, text);
        else
                fputs(text, out);
        if (align != TABLE_RIGHT && !last)
                fprintf(out, "%*s", (int)pad, "");
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
        size_t *cuts = calloc(columns, sizeof(*cuts));
        if (!widths || !cuts) {
                free(widths);
                free(cuts);
                return -ENOMEM;
        }
        for (size_t c = 0; c < columns; c++) {
                widths[c] = display_width(table->columns[c].header);
                cuts[c] = SIZE_MAX;
        }
        for (size_t i = 0; i < table->cell_count; i++) {
                size_t length = display_width(table->cells[i]);
                if (length > widths[i % columns])
                        widths[i % columns] = length;
        }
        size_t total = 2 * (columns - 1);
        for (size_t c = 0; c < columns; c++)
                total += widths[c];
        /* Too wide: cut the UUID columns to a unique prefix, where that makes them narrower. */
        size_t limit = output_table_width();
        for (size_t c = 0; c < columns && total > limit; c++) {
                if (table->columns[c].align != TABLE_UUID)
                        continue;
                size_t cut = unique_prefix_length(table, c);
                size_t width = display_width(table->columns[c].header);
                if (cut + 1 > width)
                        width = cut + 1;
                if (width >= widths[c])
                        continue;
                for (size_t i = c; i < table->cell_count; i += columns)
                        if (strlen(table->cells[i]) <= cut + 1 &&
                            display_width(table->cells[i]) > width)
                                width = display_width(table->cells[i]);
                total -= widths[c] - width;
                widths[c] = width;
                cuts[c] = cut;
        }

        for (size_t c = 0; c < columns; c++)
                print_cell(out, table->columns[c].header, SIZE_MAX, widths[c],
                           table->columns[c].align, c + 1 == columns);
        for (size_t i = 0; i < table->cell_count; i++) {
                size_t c = i % columns;
                print_cell(out, table->cells[i], cuts[c], widths[c], table->columns[c].align,
                           c + 1 == columns);
        }
        free(widths);
        free(cuts);
        return ferror(out) ? -EIO : 0;
}

int output_json(const json_t *document, FILE *out)
{
        /* 15 significant digits: a double's decimal value without its binary noise (33.3, not
         * 33.299999999999997). */
        if (json_dumpf(document, out,
                       JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) < 0)
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
