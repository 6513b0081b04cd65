/* The words and JSON of a target's limits, shared by start, set, status and config check; see
 * limits_output.h. */
#include "cli/limits_output.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"

void limits_cell_threads(unsigned percent, char *buffer, size_t size)
{
        if (percent > 0)
                (void)snprintf(buffer, size, "%u%%", percent);
        else
                (void)snprintf(buffer, size, "-");
}

void limits_cell_pinned(unsigned long long bytes, char *buffer, size_t size)
{
        char sent[32], read[32];
        if (bytes == 0) {
                (void)snprintf(buffer, size, "-");
                return;
        }
        mps_pinned_limit_format(bytes, sent, sizeof(sent));
        unsigned long long rounded = mps_pinned_limit_read_back(bytes);
        if (rounded == bytes) {
                (void)snprintf(buffer, size, "%s", sent);
                return;
        }
        mps_pinned_limit_format(rounded, read, sizeof(read));
        (void)snprintf(buffer, size, "%s (reads %s)", sent, read);
}

void limits_cell_priority(int priority, char *buffer, size_t size)
{
        if (priority >= 0)
                (void)snprintf(buffer, size, "%d", priority);
        else
                (void)snprintf(buffer, size, "-");
}

/* The section of `origin`, found by its scope and the line of the key. */
static const struct config_section *section_of(const struct config *config,
                                               const struct config_origin *origin)
{
        const struct config_section *best = NULL;
        for (size_t s = 0; config && s < config->section_count; s++) {
                const struct config_section *section = &config->sections[s];
                if (section->scope == origin->scope && section->line < origin->line &&
                    (!best || section->line > best->line))
                        best = section;
        }
        return best;
}

void limits_origin_text(const struct config *config, const struct config_origin *origin,
                        char *buffer, size_t size)
{
        const struct config_section *section = section_of(config, origin);
        if (origin->scope == CONFIG_SCOPE_COMMAND_LINE)
                (void)snprintf(buffer, size, "command line");
        else if (!section)
                (void)snprintf(buffer, size, "-");
        else if (section->argument[0])
                (void)snprintf(buffer, size, "%s %s", config_scope_name(section->scope),
                               section->argument);
        else
                (void)snprintf(buffer, size, "%s", config_scope_name(section->scope));
}

/* {"section": ..., "line": N} merged into `value`'s object. */
static json_t *with_origin(const struct config *config, const struct config_origin *origin,
                           json_t *object)
{
        char section[INI_SECTION_MAX + 16];
        limits_origin_text(config, origin, section, sizeof(section));
        if (!object || json_object_set_new(object, "section", json_text(section)) < 0 ||
            json_object_set_new(object, "line",
                                origin->line ? json_integer(origin->line) : json_null()) < 0) {
                json_decref(object);
                return NULL;
        }
        return object;
}

json_t *limits_asked_json(const struct config *config, const struct target_limits *limits)
{
        json_t *threads = json_null(), *pinned = json_null(), *priority = json_null(),
               *server = json_null();
        if (limits->threads > 0)
                threads = with_origin(config, &limits->threads_from,
                                      json_pack("{s:i}", "value", (int)limits->threads));
        if (limits->pinned_bytes > 0) {
                char text[32], reads[32];
                mps_pinned_limit_format(limits->pinned_bytes, text, sizeof(text));
                mps_pinned_limit_format(mps_pinned_limit_read_back(limits->pinned_bytes), reads,
                                        sizeof(reads));
                pinned = with_origin(config, &limits->pinned_from,
                                     json_pack("{s:s, s:I, s:o, s:s}", "value", text, "bytes",
                                               (json_int_t)limits->pinned_bytes, "percent",
                                               limits->pinned_percent
                                                   ? json_integer(limits->pinned_percent)
                                                   : json_null(),
                                               "reads_back", reads));
        }
        if (limits->priority >= 0)
                priority = with_origin(config, &limits->priority_from,
                                       json_pack("{s:i}", "value", limits->priority));
        if (limits->server)
                server = with_origin(config, &limits->server_from,
                                     json_pack("{s:o, s:I}", "user", json_text(limits->server_user),
                                               "uid", (json_int_t)limits->server_uid));
        if (!threads || !pinned || !priority || !server) {
                json_decref(threads);
                json_decref(pinned);
                json_decref(priority);
                json_decref(server);
                return NULL;
        }
        return json_pack("{s:o, s:o, s:o, s:o}", "threads", threads, "pinned_mem", pinned,
                         "priority", priority, "start_server", server);
}

json_t *limits_read_json(const struct mps_defaults_answer *read)
{
        json_t *pinned = read->pinned.set ? json_pack("{s:s, s:I}", "text", read->pinned.text,
                                                      "bytes", (json_int_t)read->pinned.bytes)
                                          : json_null();
        if (!pinned)
                return NULL;
        return json_pack("{s:f, s:o, s:i}", "threads", read->thread_percentage, "pinned_mem",
                         pinned, "priority", read->client_priority);
}

void limits_note_rounding(const unsigned long long *bytes, const char *const *names, size_t count)
{
        size_t rounded = 0, first = 0;
        for (size_t i = 0; i < count; i++)
                if (bytes[i] > 0 && mps_pinned_limit_read_back(bytes[i]) != bytes[i] &&
                    rounded++ == 0)
                        first = i;
        if (rounded == 0)
                return;
        char sent[32], reads[32];
        mps_pinned_limit_format(bytes[first], sent, sizeof(sent));
        mps_pinned_limit_format(mps_pinned_limit_read_back(bytes[first]), reads, sizeof(reads));
        cli_error("note: %zu pinned limit%s %s not a whole number of G; the control program reads "
                  "%s back rounded down (%s: %s reads back as %s), which is how it shows them, "
                  "not a change",
                  rounded, rounded == 1 ? "" : "s", rounded == 1 ? "is" : "are",
                  rounded == 1 ? "it" : "them", names[first], sent, reads);
}
