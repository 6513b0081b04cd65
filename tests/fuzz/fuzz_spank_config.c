/* Fuzz target for the Slurm plugin's settings: the input, cut at newlines into up to eight words,
 * is parsed as plugstack.conf arguments; its first three lines are also checked as the values of
 * --mps-instance, --mps-threads and --mps-pinned-mem and turned into a task's run_request. What is
 * accepted must hold together, what is refused must say why. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spank/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 8

static void check(bool ok)
{
        if (!ok)
                abort();
}

static void check_refusal(int r, const struct error *err)
{
        check(r == -EINVAL);
        check(err->message[0] != '\0' && memchr(err->message, '\0', sizeof(err->message)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        char *words[MAX_WORDS];
        int count = 0;
        for (char *line = text; count < MAX_WORDS;) {
                words[count++] = line;
                char *end = strchr(line, '\n');
                if (!end)
                        break;
                *end = '\0';
                line = end + 1;
        }

        struct spank_config config = {.layout_kind = LAYOUT_DEFAULT};
        struct error err = {0};
        int r = mpsmig_spank_config_parse(count, words, &config, &err);
        if (r == 0) {
                check(config.layout_kind == LAYOUT_DEFAULT || config.layout_kind == LAYOUT_SEED);
                check(!config.runtime_dir || config.runtime_dir[0] == '/');
        } else {
                check_refusal(r, &err);
                config = (struct spank_config){.layout_kind = LAYOUT_DEFAULT};
        }

        static const char *const names[] = {"mps-instance", "mps-threads", "mps-pinned-mem"};
        for (int i = 0; i < 3 && i < count; i++) {
                struct error option_err = {0};
                r = mpsmig_spank_option_check(names[i], words[i], &option_err);
                if (r < 0)
                        check_refusal(r, &option_err);
        }
        struct spank_job_options options = {
            .instance = count > 0 ? words[0] : NULL,
            .threads = count > 1 ? words[1] : NULL,
            .pinned_mem = count > 2 ? words[2] : NULL,
        };
        struct run_request request;
        struct error request_err = {0};
        r = mpsmig_spank_request(&config, &options, 4242, &request, &request_err);
        if (r == 0) {
                check(request.on == options.instance || strcmp(request.on, "auto") == 0);
                check(request.limits.thread_percentage <= 100);
                check(request.limits.pinned_bytes % (1024 * 1024) == 0);
                check(request.record_pid == 4242);
        } else {
                check_refusal(r, &request_err);
        }
        free(text);
        return 0;
}
