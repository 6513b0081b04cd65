/* Fuzz target for the control.log / server.log reader: any text is scanned, cut where a stamp
 * would start, and what it reports must hold together. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/mps_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        struct mps_log_summary summary;
        mps_log_scan(text, size, NULL, &summary);
        check(summary.error_count <= summary.lines && summary.lines <= size);
        check(summary.pinned_count <= MPS_LOG_PINNED_MAX);
        check(memchr(summary.first_error, '\0', sizeof(summary.first_error)) != NULL);
        check(memchr(summary.last_error, '\0', sizeof(summary.last_error)) != NULL);
        check((summary.error_count == 0) == (summary.first_error[0] == '\0'));
        for (size_t i = 0; i < summary.pinned_count; i++) {
                check(summary.pinned[i].key[0] != '\0' && summary.pinned[i].value[0] != '\0');
                check(!strchr(summary.pinned[i].key, ' '));
        }
        struct mps_log_summary since;
        mps_log_scan(text, size, "2026-11-25 05:53:01.000", &since);
        check(since.lines <= summary.lines);

        struct mps_log_line line;
        if (mps_log_parse_line(text, size, &line) == 0) {
                check(line.pid >= 0 && line.text >= text &&
                      line.text + line.text_size == text + size);
                check(strlen(line.stamp) == MPS_LOG_STAMP_LEN && line.source[0] != '\0');
        }
        (void)mps_log_text_is_error(text, size);
        return 0;
}
