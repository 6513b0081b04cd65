/* mpsmig-probe's output on stdout: "key: value" lines for people and scripts that grep, or one
 * JSON object written by hand (strings escaped, invalid UTF-8 replaced) so that the probe needs
 * no library beyond libc and libdl. */
#include "probe.h"

#include <stdio.h>
#include <string.h>

static const char *status_word(const struct probe_report *report)
{
        if (report->failed)
                return "failed";
        return report->alloc_refused ? "alloc_refused" : "ok";
}

void report_print_text(const struct probe_report *report, const struct probe_options *options)
{
        printf("pid: %d\n", report->pid);
        if (report->driver_version >= 0)
                printf("cuda_driver_version: %d\n", report->driver_version);
        if (report->device_count >= 0)
                printf("device_count: %d\n", report->device_count);
        for (size_t i = 0; i < report->probed; i++) {
                const struct probe_device *d = &report->devices[i];

                if (!d->queried)
                        continue;
                printf("device %d:\n", d->ordinal);
                printf("  name: %s\n", d->name);
                printf("  uuid: %s\n", d->uuid);
                printf("  sm_count: %d\n", d->sm_count);
                printf("  total_memory: %llu\n", d->total_memory);
                printf("  kernel: %s\n", d->kernel ? d->kernel : "not run");
                if (d->alloc_tried)
                        printf("  alloc: %s (%llu bytes)\n", d->alloc_result, options->alloc_bytes);
        }
        printf("timings: %s\n", report->timings_simulated ? "simulated" : "real");
        if (report->first_kernel_done > 0)
                printf("startup_seconds: %.6f\n", report->first_kernel_done - report->init_begin);
        if (options->work_kernels && report->work.done)
                printf("work: %u kernels of %ux%u threads waiting %llu cycles\n"
                       "work_seconds: %.6f\n"
                       "work_begin: %.6f\n"
                       "work_end: %.6f\n"
                       "work_late_seconds: %.6f\n",
                       options->work_kernels, PROBE_WORK_BLOCKS, PROBE_WORK_THREADS,
                       options->spin_cycles, report->work.end - report->work.begin,
                       report->work.begin, report->work.end, report->work.late);
        printf("status: %s\n", status_word(report));
}

/* The length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_sequence(const unsigned char *s)
{
        size_t n;
        unsigned min;
        unsigned long cp;

        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1f;
                min = 0x80;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0f;
                min = 0x800;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07;
                min = 0x10000;
        } else {
                return 0;
        }
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

static void json_string(const char *text)
{
        const unsigned char *s = (const unsigned char *)text;

        putchar('"');
        while (*s) {
                size_t n;

                switch (*s) {
                case '"':
                        fputs("\\\"", stdout);
                        break;
                case '\\':
                        fputs("\\\\", stdout);
                        break;
                case '\n':
                        fputs("\\n", stdout);
                        break;
                case '\r':
                        fputs("\\r", stdout);
                        break;
                case '\t':
                        fputs("\\t", stdout);
                        break;
                default:
                        if (*s < 0x20 || *s == 0x7f) {
                                printf("\\u%04x", *s);
                        } else if (*s < 0x80) {
                                putchar(*s);
                        } else if ((n = utf8_sequence(s)) > 0) {
                                fwrite(s, 1, n, stdout);
                                s += n;
                                continue;
                        } else {
                                fputs("\\ufffd", stdout);
                        }
                        break;
                }
                s++;
        }
        putchar('"');
}

/* -1 stands for a value the driver did not give. */
static void json_number_or_null(int value)
{
        if (value >= 0)
                printf("%d", value);
        else
                fputs("null", stdout);
}

void report_print_json(const struct probe_report *report, const struct probe_options *options)
{
        bool first = true;

        printf("{\"pid\":%d,\"cuda_driver_version\":", report->pid);
        json_number_or_null(report->driver_version);
        fputs(",\"device_count\":", stdout);
        json_number_or_null(report->device_count);
        fputs(",\"devices\":[", stdout);
        for (size_t i = 0; i < report->probed; i++) {
                const struct probe_device *d = &report->devices[i];

                if (!d->queried)
                        continue;
                printf("%s{\"index\":%d,\"name\":", first ? "" : ",", d->ordinal);
                first = false;
                json_string(d->name);
                fputs(",\"uuid\":", stdout);
                json_string(d->uuid);
                printf(",\"sm_count\":%d,\"total_memory\":%llu,\"kernel\":", d->sm_count,
                       d->total_memory);
                if (d->kernel)
                        json_string(d->kernel);
                else
                        fputs("null", stdout);
                if (d->alloc_tried) {
                        printf(",\"alloc\":{\"bytes\":%llu,\"result\":", options->alloc_bytes);
                        json_string(d->alloc_result);
                        putchar('}');
                }
                putchar('}');
        }
        printf("],\"timings\":\"%s\",\"startup_seconds\":",
               report->timings_simulated ? "simulated" : "real");
        if (report->first_kernel_done > 0)
                printf("%.6f", report->first_kernel_done - report->init_begin);
        else
                fputs("null", stdout);
        if (options->work_kernels) {
                fputs(",\"work\":", stdout);
                if (report->work.done)
                        printf("{\"kernels\":%u,\"blocks\":%u,\"threads_per_block\":%u,"
                               "\"spin_cycles\":%llu,\"seconds\":%.6f,\"begin\":%.6f,"
                               "\"end\":%.6f,\"late_seconds\":%.6f}",
                               options->work_kernels, PROBE_WORK_BLOCKS, PROBE_WORK_THREADS,
                               options->spin_cycles, report->work.end - report->work.begin,
                               report->work.begin, report->work.end, report->work.late);
                else
                        fputs("null", stdout);
        }
        printf(",\"status\":\"%s\"", status_word(report));
        if (report->error[0]) {
                fputs(",\"error\":", stdout);
                json_string(report->error);
        }
        fputs("}\n", stdout);
}
