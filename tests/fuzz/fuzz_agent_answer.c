/* Fuzz target for what a client reads from the agent's socket: the input, taken as an answer, is
 * read as a status row, a stop result and an error, as the verbs read them; nothing may crash,
 * and what parses must be a state the verbs know and bounded text. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *answer = json_loadb((const char *)data, size, 0, NULL);
        if (!answer)
                return 0;
        struct status_result result = {0};
        struct agent_row row;
        if (agent_status_row_parse(answer, &result, &row) == 0) {
                check(result.state >= DAEMON_RUNNING && result.state <= DAEMON_GPU_LOST);
                check(memchr(row.supervision, '\0', sizeof(row.supervision)) != NULL);
                check(memchr(row.last_exit, '\0', sizeof(row.last_exit)) != NULL);
                size_t clients = 0;
                for (size_t s = 0; s < result.server_count; s++)
                        clients += result.servers[s].client_count;
                check(clients == result.client_count);
        }
        status_results_done(&result, 1);

        struct stop_result stopped = {0};
        const json_t *first = json_array_get(json_object_get(answer, "targets"), 0);
        const char *uuid = json_string_value(json_object_get(first, "uuid"));
        if (uuid && agent_stop_result_parse(answer, uuid, &stopped) == 0)
                check(stopped.outcome >= STOP_STOPPED && stopped.outcome <= STOP_FAILED);

        struct error err = {0};
        agent_error_from_json(json_object_get(answer, "error"), &err);
        check(err.code < 0 && err.message[0] != '\0');
        check(err.hint <= ERROR_HINT_RESTART);
        json_decref(answer);
        return 0;
}
