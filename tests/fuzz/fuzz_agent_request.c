/* Fuzz target for what any user may send the agent's socket: the input is taken as a request
 * (parsed as the agent parses it) and answered by an agent in memory that serves a node shaped
 * like the seed A30, two of its targets answering; the peer is an ordinary user, so start and stop
 * are refused before they touch anything. Every answer must be a versioned JSON object that says
 * ok, or fails with a reason. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/protocol.h"
#include "agent/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

static struct mig_device migs[] = {
    {.gpu_index = 0,
     .gpu_instance_id = 1,
     .compute_instance_id = 0,
     .uuid = "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
     .profile = "1c.2g.12gb"},
    {.gpu_index = 0,
     .device_index = 1,
     .gpu_instance_id = 1,
     .compute_instance_id = 1,
     .uuid = "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9",
     .profile = "1c.2g.12gb"},
    {.gpu_index = 0,
     .device_index = 2,
     .gpu_instance_id = 2,
     .compute_instance_id = 0,
     .uuid = "MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9",
     .profile = "1c.2g.12gb"},
    {.gpu_index = 0,
     .device_index = 3,
     .gpu_instance_id = 2,
     .compute_instance_id = 1,
     .uuid = "MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733",
     .profile = "1c.2g.12gb"},
};

static struct gpu gpus[] = {
    {.index = 0,
     .uuid = "GPU-8f8bff94-112e-9541-43da-cfd453333404",
     .name = "NVIDIA A30",
     .mig_current = MIG_MODE_ENABLED,
     .mig_pending = MIG_MODE_ENABLED,
     .first_mig_device = 0,
     .mig_device_count = 4},
    {.index = 1,
     .uuid = "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38",
     .name = "NVIDIA A30",
     .mig_current = MIG_MODE_DISABLED,
     .mig_pending = MIG_MODE_DISABLED},
};

static struct node node = {
    .driver_version = "545.23.08",
    .gpus = gpus,
    .gpu_count = 2,
    .mig_devices = migs,
    .mig_device_count = 4,
};

static struct agent agent;
static struct agent_target *targets[2];

/* The agent, once: two targets answer (each watched through a pidfd of this process). */
static void setup(void)
{
        if (agent.targets)
                return;
        agent.node_known = true;
        agent.context.node = &node;
        (void)snprintf(agent.context.layout.runtime_dir, sizeof(agent.context.layout.runtime_dir),
                       "/nonexistent");
        for (size_t i = 0; i < 2; i++) {
                targets[i] = agent_target_new(migs[i].uuid);
                check(targets[i] != NULL);
                targets[i]->wanted = true;
                targets[i]->state = SUPERVISION_READY;
                targets[i]->pid = getpid();
                targets[i]->adopted = true;
                targets[i]->adopted_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
                check(targets[i]->adopted_pidfd >= 0);
        }
        agent.targets = targets;
        agent.target_count = agent.target_capacity = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        setup();
        if (size > AGENT_REQUEST_MAX)
                return 0;
        char *text = malloc(size + 1);
        check(text != NULL);
        memcpy(text, data, size);
        text[size] = '\0';
        json_t *request = json_loads(text, 0, NULL);
        free(text);
        if (!json_is_object(request)) {
                json_decref(request);
                return 0;
        }
        struct agent_client client = {.fd = -1, .pid = 0, .uid = 65534};
        json_t *answer = agent_answer_request(&agent, &client, request);
        json_decref(request);
        check(client.phase != CLIENT_WAITING); /* nothing an ordinary user asks is waited for */
        check(json_is_object(answer));
        check(json_integer_value(json_object_get(answer, "version")) == AGENT_PROTOCOL_VERSION);
        const json_t *ok = json_object_get(answer, "ok");
        check(json_is_boolean(ok));
        if (json_is_false(ok)) {
                const char *message =
                    json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
                check(message && message[0]);
                check(json_string_value(json_object_get(answer, "failure")) != NULL);
        }
        /* What the agent said must read back as a client reads it. */
        struct error err = {0};
        if (json_is_false(ok))
                agent_error_from_json(json_object_get(answer, "error"), &err);
        json_decref(answer);
        json_decref(client.waiting);
        free(client.uuids);
        return 0;
}
