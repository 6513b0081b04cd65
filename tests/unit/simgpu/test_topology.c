/* Tests simgpu's topology loader: every shipped topology loads with the values the facts give,
 * and each kind of broken input is refused with -EINVAL and a FILE:LINE:COLUMN message. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "topology.h"

static char topology_dir[4096];

static struct sim_topology *load_named(const char *name)
{
        char path[4096 + 64], error[1024] = "";
        struct sim_topology *t = NULL;
        snprintf(path, sizeof(path), "%s/%s.json", topology_dir, name);
        int r = sim_topology_load(path, &t, error, sizeof(error));
        if (r < 0)
                fail_msg("%s: %s", path, error);
        return t;
}

static void test_every_topology_loads(void **state)
{
        DIR *d = opendir(topology_dir);
        unsigned loaded = 0;
        struct dirent *e;
        assert_non_null(d);
        while ((e = readdir(d))) {
                size_t len = strlen(e->d_name);
                if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
                        continue;
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)(len - 5), e->d_name);
                sim_topology_free(load_named(name));
                loaded++;
        }
        closedir(d);
        /* the eight the brief names plus lost-gpu */
        assert_true(loaded >= 9);
}

static void test_a30_seed(void **state)
{
        static const char *const mig_uuids[] = {
            "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
            "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9",
            "MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9",
            "MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733",
        };
        static const char *const gpu_uuids[] = {
            "GPU-8f8bff94-112e-9541-43da-cfd453333404",
            "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38",
            "GPU-a90c6e94-391e-0fc3-8fc5-e2ef46ec6d2d",
            "GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47",
        };
        static const char *const bus_ids[] = {"00000000:17:00.0", "00000000:65:00.0",
                                              "00000000:CA:00.0", "00000000:E3:00.0"};
        struct sim_topology *t = load_named("a30-seed");
        assert_true(t->driver_loaded);
        assert_string_equal(t->driver_version, "545.23.08");
        assert_int_equal(t->cuda_driver_version, 12030);
        assert_int_equal(t->gpu_count, 4);
        for (unsigned g = 0; g < 4; g++) {
                const struct sim_gpu *gpu = &t->gpus[g];
                assert_int_equal(gpu->index, g);
                assert_string_equal(gpu->name, "NVIDIA A30");
                assert_string_equal(gpu->uuid, gpu_uuids[g]);
                assert_string_equal(gpu->pci_bus_id, bus_ids[g]);
                assert_int_equal(gpu->memory_mib, 24576);
                assert_int_equal(gpu->sm_count, 56);
                assert_true(gpu->mig_supported);
                assert_int_equal(gpu->mig_current, g == 0);
                assert_int_equal(gpu->mig_pending, g == 0);
                assert_int_equal(gpu->mig_device_count, g == 0 ? 4 : 0);
                assert_int_equal(gpu->max_mig_devices, g == 0 ? 4 : 0);
                assert_true(gpu->persistence_mode);
                assert_int_equal(gpu->compute_mode, 0);
        }
        for (unsigned m = 0; m < 4; m++) {
                const struct sim_mig_device *mig = &t->gpus[0].mig_devices[m];
                assert_int_equal(mig->slot, m);
                assert_int_equal(mig->gpu_instance_id, 1 + m / 2);
                assert_int_equal(mig->compute_instance_id, m % 2);
                assert_string_equal(mig->uuid, mig_uuids[m]);
                assert_string_equal(mig->profile, "1c.2g.12gb");
                assert_int_equal(mig->sm_count, 14);
                assert_int_equal(mig->memory_mib, 11968);
                assert_int_equal(mig->compute_instance_slices, 1);
                assert_int_equal(mig->gpu_instance_slices, 2);
                assert_string_equal(mig->gpu_instance_profile->name, "2g.12gb");
        }
        sim_topology_free(t);
}

/* The H100 row of docs/driver-facts-mig-profiles.md, measured on driver 580.159.04. */
static void test_h100_matches_facts(void **state)
{
        static const struct {
                unsigned index, id;
                const char *name;
                unsigned slices, max_instances, memory_mib, sm_count, copy_engines;
                unsigned placement_size; /* the H200's widths (docs/driver-facts-mig-profiles.md) */
        } facts[] = {
            {0, 19, "1g.10gb", 1, 7, 9984, 16, 1, 1},  {1, 14, "2g.20gb", 2, 3, 20096, 32, 2, 2},
            {2, 9, "3g.40gb", 3, 2, 40448, 60, 3, 4},  {3, 5, "4g.40gb", 4, 1, 40448, 64, 4, 4},
            {4, 0, "7g.80gb", 7, 1, 81152, 132, 8, 8}, {7, 20, "1g.10gb+me", 1, 1, 9984, 16, 1, 1},
            {9, 15, "1g.20gb", 1, 4, 20096, 26, 1, 2},
        };
        struct sim_topology *t = load_named("h100");
        assert_string_equal(t->driver_version, "580.159.04");
        assert_int_equal(t->cuda_driver_version, 13000);
        assert_int_equal(t->gpu_count, 1);
        const struct sim_gpu *gpu = &t->gpus[0];
        assert_string_equal(gpu->name, "NVIDIA H100 80GB HBM3");
        assert_string_equal(gpu->pci_bus_id, "00000000:00:06.0");
        assert_int_equal(gpu->memory_mib, 81559);
        assert_int_equal(gpu->sm_count, 132);
        assert_true(gpu->mig_supported);
        assert_int_equal(gpu->mig_current, 0);
        assert_int_equal(gpu->mig_pending, 0);
        assert_int_equal(gpu->max_mig_devices, 0);
        assert_int_equal(gpu->profile_count, sizeof(facts) / sizeof(facts[0]));
        for (size_t i = 0; i < gpu->profile_count; i++) {
                const struct sim_profile *p = &gpu->profiles[i];
                assert_int_equal(p->index, facts[i].index);
                assert_int_equal(p->id, facts[i].id);
                assert_string_equal(p->name, facts[i].name);
                assert_int_equal(p->slices, facts[i].slices);
                assert_int_equal(p->max_instances, facts[i].max_instances);
                assert_int_equal(p->memory_mib, facts[i].memory_mib);
                assert_int_equal(p->sm_count, facts[i].sm_count);
                assert_int_equal(p->copy_engines, facts[i].copy_engines);
                assert_int_equal(p->placement_size, facts[i].placement_size);
        }
        sim_topology_free(t);
}

/* The H200 of docs/driver-facts-mig-profiles.md (driver 580.159.04, MIG off): engine counts,
 * placement widths and counts, the reserved memory. */
static void test_h200_matches_facts(void **state)
{
        static const struct {
                unsigned index, id;
                const char *name;
                unsigned slices, max_instances, memory_mib, sm_count;
                unsigned copy_engines, decoders, jpegs, ofas, placement_size, placements;
        } facts[] = {
            {0, 19, "1g.18gb", 1, 7, 16384, 16, 1, 1, 1, 0, 1, 7},
            {1, 14, "2g.35gb", 2, 3, 33280, 32, 2, 2, 2, 0, 2, 3},
            {2, 9, "3g.71gb", 3, 2, 71424, 60, 3, 3, 3, 0, 4, 2},
            {3, 5, "4g.71gb", 4, 1, 71424, 64, 4, 4, 4, 0, 4, 1},
            {4, 0, "7g.141gb", 7, 1, 143360, 132, 8, 7, 7, 1, 8, 1},
            {7, 20, "1g.18gb+me", 1, 1, 16384, 16, 1, 1, 1, 1, 1, 7},
            {9, 15, "1g.35gb", 1, 4, 33280, 26, 1, 1, 1, 0, 2, 4},
        };
        struct sim_topology *t = load_named("h200");
        assert_int_equal(t->gpu_count, 1);
        const struct sim_gpu *gpu = &t->gpus[0];
        assert_string_equal(gpu->name, "NVIDIA H200");
        assert_int_equal(gpu->memory_mib, 143771);
        assert_int_equal(gpu->reserved_bytes, 644939776);
        assert_int_equal(gpu->mig_current, 0);
        assert_int_equal(gpu->profile_count, sizeof(facts) / sizeof(facts[0]));
        for (size_t i = 0; i < gpu->profile_count; i++) {
                const struct sim_profile *p = &gpu->profiles[i];
                assert_int_equal(p->index, facts[i].index);
                assert_int_equal(p->id, facts[i].id);
                assert_string_equal(p->name, facts[i].name);
                assert_int_equal(p->slices, facts[i].slices);
                assert_int_equal(p->max_instances, facts[i].max_instances);
                assert_int_equal(p->memory_mib, facts[i].memory_mib);
                assert_int_equal(p->sm_count, facts[i].sm_count);
                assert_int_equal(p->copy_engines, facts[i].copy_engines);
                assert_int_equal(p->decoders, facts[i].decoders);
                assert_int_equal(p->encoders, 0);
                assert_int_equal(p->jpegs, facts[i].jpegs);
                assert_int_equal(p->ofas, facts[i].ofas);
                assert_int_equal(p->placement_size, facts[i].placement_size);
                assert_int_equal(p->placements, facts[i].placements);
        }
        sim_topology_free(t);
}

static void test_find_uuid(void **state)
{
        struct sim_topology *t = load_named("a30-seed");
        const struct sim_gpu *gpu = NULL;
        const struct sim_mig_device *mig = NULL;
        assert_int_equal(
            sim_topology_find_uuid(t, "MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9", &gpu, &mig), 0);
        assert_ptr_equal(gpu, &t->gpus[0]);
        assert_ptr_equal(mig, &t->gpus[0].mig_devices[2]);
        assert_int_equal(
            sim_topology_find_uuid(t, "GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47", &gpu, &mig), 0);
        assert_ptr_equal(gpu, &t->gpus[3]);
        assert_null(mig);
        assert_int_equal(
            sim_topology_find_uuid(t, "GPU-00000000-0000-0000-0000-000000000000", NULL, NULL),
            -ENOENT);
        sim_topology_free(t);
}

/* A small valid topology that the broken cases below are made from, line by line. */
#define GPU_HEAD                                                                                   \
        "{\"driver\": {\"loaded\": true, \"version\": \"580.159.04\", \"cuda_version\": 13000},\n" \
        " \"gpus\": [\n"
#define GPU_FIELDS(uuid, bus)                                                                      \
        "  {\"name\": \"NVIDIA H100 80GB HBM3\", \"uuid\": \"" uuid "\",\n"                        \
        "   \"pci_bus_id\": \"" bus "\", \"memory_mib\": 81559, \"sm_count\": 132,\n"              \
        "   \"compute_mode\": \"Default\", \"persistence_mode\": false"
#define UUID_A "GPU-11111111-2222-3333-4444-555555555555"
#define UUID_B "GPU-66666666-7777-8888-9999-aaaaaaaaaaaa"
#define MIG_A  "MIG-11111111-2222-3333-4444-555555555555"
#define PROFILE_1G                                                                                 \
        "{\"index\": 0, \"id\": 19, \"name\": \"1g.10gb\", \"slices\": 1, \"max_instances\": 7, "  \
        "\"memory_mib\": 9984, \"sm_count\": 16, \"copy_engines\": 1}"
#define MIG_DEVICE(slot, gi, uuid, profile)                                                        \
        "{\"slot\": " #slot ", \"gpu_instance_id\": " #gi ", \"compute_instance_id\": 0, "         \
        "\"uuid\": \"" uuid "\", \"profile\": \"" profile "\", \"sm_count\": 16, "                 \
        "\"memory_mib\": 9984}"

struct broken {
        const char *what;
        const char *text;
        const char *message; /* expected: "mem.json:" followed by this */
};

static const struct broken broken_inputs[] = {
    {"valid base (control: must load)", GPU_HEAD GPU_FIELDS(UUID_A, "00000000:00:06.0") "}]}",
     NULL},
    {"empty input", "", "mem.json:1:0: '[' or '{' expected near end of file"},
    {"truncated", GPU_HEAD GPU_FIELDS(UUID_A, "00000000:00:06.0"),
     "mem.json:5:55: '}' expected near end of file"},
    {"not an object", "[1, 2]", "mem.json:1:1: expected an object with \"driver\""},
    {"missing gpus", "{\"driver\": {\"loaded\": false}}",
     "mem.json:1:1: missing required field \"gpus\""},
    {"wrong type: memory_mib as a string",
     GPU_HEAD "  {\"name\": \"x\", \"uuid\": \"" UUID_A "\",\n"
              "   \"pci_bus_id\": \"00000000:00:06.0\", \"memory_mib\": \"81559\"}]}",
     "mem.json:4:52: gpus[0].memory_mib: expected a whole number"},
    {"wrong type: loaded as a number", "{\"driver\": {\"loaded\": 1}, \"gpus\": []}",
     "mem.json:1:23: driver.loaded: expected true or false"},
    {"wrong type: gpus as an object", "{\"driver\": {\"loaded\": false}, \"gpus\": {}}",
     "mem.json:1:39: gpus: expected an array"},
    {"missing uuid", GPU_HEAD "  {\"name\": \"x\",\n   \"pci_bus_id\": \"00000000:00:06.0\"}]}",
     "mem.json:3:3: gpus[0]: missing required field \"uuid\""},
    {"missing driver version", "{\"driver\": {\"loaded\": true}, \"gpus\": []}",
     "mem.json:1:12: driver: missing required field \"version\""},
    {"negative memory",
     GPU_HEAD "  {\"name\": \"x\", \"uuid\": \"" UUID_A "\",\n"
              "   \"pci_bus_id\": \"00000000:00:06.0\", \"memory_mib\": -1}]}",
     "mem.json:4:52: gpus[0].memory_mib: -1 is out of range"},
    {"unknown field", GPU_HEAD GPU_FIELDS(UUID_A, "00000000:00:06.0") ", \"memroy\": 1}]}",
     "mem.json:5:68: gpus[0].memroy: unknown field"},
    {"duplicate key (jansson)", "{\"gpus\": [], \"gpus\": []}",
     "mem.json:1:19: duplicate object key near '\"gpus\"'"},
    {"bad GPU uuid", GPU_HEAD GPU_FIELDS("GPU-1234", "00000000:00:06.0") "}]}",
     "mem.json:3:45: gpus[0].uuid: \"GPU-1234\" is not a GPU UUID"},
    {"bad bus id", GPU_HEAD GPU_FIELDS(UUID_A, "0:6.0") "}]}",
     "mem.json:4:18: gpus[0].pci_bus_id: \"0:6.0\" is not a PCI bus id"},
    {"bad compute mode",
     GPU_HEAD "  {\"name\": \"x\", \"uuid\": \"" UUID_A "\",\n"
              "   \"pci_bus_id\": \"00000000:00:06.0\", \"memory_mib\": 1, \"sm_count\": 1,\n"
              "   \"compute_mode\": \"Shared\"}]}",
     "mem.json:5:20: gpus[0].compute_mode: \"Shared\" is not Default"},
    {"duplicate GPU uuid",
     GPU_HEAD GPU_FIELDS(UUID_A, "00000000:00:06.0") "},\n" GPU_FIELDS(UUID_A,
                                                                       "00000000:00:07.0") "}]}",
     "mem.json:6:45: gpus[1].uuid: duplicate UUID " UUID_A " (also used by GPU 0)"},
    {"duplicate bus id",
     GPU_HEAD GPU_FIELDS(UUID_A, "00000000:00:06.0") "},\n" GPU_FIELDS(UUID_B,
                                                                       "00000000:00:06.0") "}]}",
     "mem.json:6:3: gpus[1]: same pci_bus_id as gpus[0]"},
    {"duplicate MIG uuid",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 1, \"pending\": 1, \"max_devices\": 7,\n"
                             "    \"profiles\": [" PROFILE_1G "],\n"
                             "    \"devices\": [" MIG_DEVICE(
                                 0, 7, MIG_A, "1g.10gb") ",\n"
                                                         "     " MIG_DEVICE(1, 8, MIG_A,
                                                                            "1g.10gb") "]}}]}",
     "mem.json:9:74: gpus[0].mig.devices[1].uuid: duplicate UUID " MIG_A},
    {"MIG devices with MIG off",
     GPU_HEAD GPU_FIELDS(UUID_A,
                         "00000000:00:06.0") ",\n"
                                             "   \"mig\": {\"current\": 0, \"pending\": 0,\n"
                                             "    \"profiles\": [" PROFILE_1G "],\n"
                                             "    \"devices\": []}}]}",
     "mem.json:8:16: gpus[0].mig.devices: only allowed while MIG is enabled"},
    {"slot beyond max_devices",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 1, \"pending\": 1, \"max_devices\": 2,\n"
                             "    \"profiles\": [" PROFILE_1G "],\n"
                             "    \"devices\": [" MIG_DEVICE(2, 7, MIG_A, "1g.10gb") "]}}]}",
     "mem.json:8:17: gpus[0].mig.devices[0]: slot 2 is not below mig.max_devices 2"},
    {"MIG profile not in the table",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 1, \"pending\": 1, \"max_devices\": 7,\n"
                             "    \"profiles\": [" PROFILE_1G "],\n"
                             "    \"devices\": [" MIG_DEVICE(0, 7, MIG_A, "1c.2g.20gb") "]}}]}",
     "mem.json:8:140: gpus[0].mig.devices[0].profile: no GPU-instance profile \"2g.20gb\""},
    {"malformed MIG profile",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 1, \"pending\": 1, \"max_devices\": 7,\n"
                             "    \"profiles\": [" PROFILE_1G "],\n"
                             "    \"devices\": [" MIG_DEVICE(0, 7, MIG_A, "big") "]}}]}",
     "mem.json:8:140: gpus[0].mig.devices[0].profile: \"big\" is not a MIG profile"},
    {"MIG mode 2",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 2, \"pending\": 0, \"profiles\": []}}]}",
     "mem.json:6:23: gpus[0].mig.current: 2 is out of range (0 to 1)"},
    {"string too long",
     GPU_HEAD "  {\"name\": \""
              "0123456789012345678901234567890123456789012345678901234567890"
              "123456789012345678901234567890123456789\"}]}",
     "mem.json:3:12: gpus[0].name: longer than 95 characters"},
    {"float where a count belongs",
     GPU_HEAD GPU_FIELDS(UUID_A, "00000000:00:06.0") ", \"minor\": 1.5}]}",
     "mem.json:5:67: gpus[0].minor: expected a whole number"},
    {"profile slices disagree with its name",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 0, \"pending\": 0,\n"
                             "    \"profiles\": [{\"index\": 0, \"id\": 19, \"name\": \"1g.10gb\", "
                             "\"slices\": 2, \"max_instances\": 7, \"memory_mib\": 9984, "
                             "\"sm_count\": 16, "
                             "\"copy_engines\": 1}]}}]}",
     "mem.json:7:49: gpus[0].mig.profiles[0].name: \"1g.10gb\" has 1 slices, \"slices\" says 2"},
    {"placement narrower than the profile",
     GPU_HEAD GPU_FIELDS(UUID_A,
                         "00000000:00:06.0") ",\n"
                                             "   \"mig\": {\"current\": 0, \"pending\": 0,\n"
                                             "    \"profiles\": [{\"index\": 2, \"id\": 9, "
                                             "\"name\": \"3g.40gb\", \"slices\": 3, "
                                             "\"max_instances\": 2, \"memory_mib\": 40448, "
                                             "\"sm_count\": 60, \"copy_engines\": 3, "
                                             "\"placement_size\": 2}]}}]}",
     "mem.json:7:166: gpus[0].mig.profiles[0].placement_size: 2 is below the 3 slices"},
    {"placements that do not fit in 8 slices",
     GPU_HEAD GPU_FIELDS(UUID_A,
                         "00000000:00:06.0") ",\n"
                                             "   \"mig\": {\"current\": 0, \"pending\": 0,\n"
                                             "    \"profiles\": [{\"index\": 1, \"id\": 14, "
                                             "\"name\": \"2g.20gb\", \"slices\": 2, "
                                             "\"max_instances\": 3, \"memory_mib\": 20096, "
                                             "\"sm_count\": 32, \"copy_engines\": 2, "
                                             "\"placements\": 5}]}}]}",
     "mem.json:7:163: gpus[0].mig.profiles[0].placements: 5 placements 2 slices wide do not fit "
     "in 8 slices"},
    {"a profile index driver 580 refuses",
     GPU_HEAD GPU_FIELDS(UUID_A,
                         "00000000:00:06.0") ",\n"
                                             "   \"mig\": {\"current\": 0, \"pending\": 0,\n"
                                             "    \"profiles\": [{\"index\": 17, \"id\": 14, "
                                             "\"name\": \"2g.20gb\", \"slices\": 2, "
                                             "\"max_instances\": 3, \"memory_mib\": 20096, "
                                             "\"sm_count\": 32, \"copy_engines\": 2}]}}]}",
     "mem.json:7:28: gpus[0].mig.profiles[0].index: 17 is out of range (0 to 16)"},
    {"more GPU instances than the profile allows",
     GPU_HEAD GPU_FIELDS(
         UUID_A,
         "00000000:00:06.0") ",\n"
                             "   \"mig\": {\"current\": 1, \"pending\": 1, \"max_devices\": 7,\n"
                             "    \"profiles\": [{\"index\": 4, \"id\": 0, \"name\": \"7g.80gb\", "
                             "\"slices\": 7, \"max_instances\": 1, \"memory_mib\": 81152, "
                             "\"sm_count\": 132, "
                             "\"copy_engines\": 8}],\n"
                             "    \"devices\": [" MIG_DEVICE(
                                 0, 0, MIG_A,
                                 "7g.80gb") ",\n"
                                            "     " MIG_DEVICE(
                                                1, 1, "MIG-66666666-7777-8888-9999-aaaaaaaaaaaa",
                                                "7g.80gb") "]}}]}",
     "mem.json:9:6: gpus[0].mig.devices[1]: GPU instance 1 is instance 2 of profile 7g.80gb, "
     "above its max_instances 1"},
    /* an escaped key is not found again in the raw text: the position is its object's */
    {"escaped newline in a key stays on one line",
     "{\"driver\": {\"loaded\": false, \"bad\\nkey\": 1}, \"gpus\": []}",
     "mem.json:1:12: driver.bad?key: unknown field"},
    {"processes on a MIG-enabled GPU",
     GPU_HEAD GPU_FIELDS(
         UUID_A, "00000000:00:06.0") ",\n"
                                     "   \"processes\": [{\"pid\": 10, \"used_memory_mib\": 1}],\n"
                                     "   \"mig\": {\"current\": 1, \"pending\": 1, "
                                     "\"max_devices\": 7, \"profiles\": []}}]}",
     "mem.json:6:17: gpus[0].processes: with MIG enabled, processes belong"},
};

/* Checks every case before failing, so one run shows every wrong message. */
static void test_broken_inputs(void **state)
{
        unsigned wrong = 0;
        for (size_t i = 0; i < sizeof(broken_inputs) / sizeof(broken_inputs[0]); i++) {
                const struct broken *b = &broken_inputs[i];
                struct sim_topology *t = NULL;
                char error[1024] = "";
                int r = sim_topology_parse(b->text, strlen(b->text), "mem.json", &t, error,
                                           sizeof(error));
                if (!b->message) {
                        if (r != 0) {
                                print_error("%s: %s\n", b->what, error);
                                wrong++;
                        }
                        sim_topology_free(t);
                        continue;
                }
                if (r != -EINVAL || t || strchr(error, '\n') ||
                    strncmp(error, b->message, strlen(b->message)) != 0) {
                        print_error("%s: returned %d\n  expected: %s...\n  actual:   %s\n", b->what,
                                    r, b->message, error);
                        wrong++;
                }
        }
        assert_int_equal(wrong, 0);
}

/* A text without a terminator: the parser must not read past `len`. */
static void test_parse_reads_only_len_bytes(void **state)
{
        static const char text[] = "{\"driver\": {\"loaded\": false}, \"gpus\": []}garbage";
        struct sim_topology *t = NULL;
        char error[256];
        size_t len = strlen(text) - strlen("garbage");
        char *exact = malloc(len);
        assert_non_null(exact);
        memcpy(exact, text, len);
        assert_int_equal(sim_topology_parse(exact, len, "mem.json", &t, error, sizeof(error)), 0);
        assert_false(t->driver_loaded);
        assert_int_equal(t->gpu_count, 0);
        sim_topology_free(t);
        free(exact);
}

static void test_missing_file(void **state)
{
        struct sim_topology *t = NULL;
        char error[256];
        assert_int_equal(sim_topology_load("/nonexistent/x.json", &t, error, sizeof(error)),
                         -ENOENT);
        assert_null(t);
        assert_string_equal(error, "/nonexistent/x.json: No such file or directory");
}

static void test_load_env(void **state)
{
        struct sim_topology *t = NULL;
        char error[256], path[4096 + 32];
        unsetenv(SIM_TOPOLOGY_ENV);
        assert_int_equal(sim_topology_load_env(&t, error, sizeof(error)), -ENOENT);
        assert_non_null(strstr(error, "SIMGPU_TOPOLOGY is not set"));
        snprintf(path, sizeof(path), "%s/no-gpu.json", topology_dir);
        setenv(SIM_TOPOLOGY_ENV, path, 1);
        assert_int_equal(sim_topology_load_env(&t, error, sizeof(error)), 0);
        assert_string_equal(t->path, path);
        assert_true(t->driver_loaded);
        assert_int_equal(t->gpu_count, 0);
        sim_topology_free(t);
        unsetenv(SIM_TOPOLOGY_ENV);
}

int main(void)
{
        const char *source = getenv("MPSMIG_SOURCE");
        snprintf(topology_dir, sizeof(topology_dir), "%s/simgpu/topologies",
                 source ? source : "..");
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_topology_loads),
            cmocka_unit_test(test_a30_seed),
            cmocka_unit_test(test_h100_matches_facts),
            cmocka_unit_test(test_h200_matches_facts),
            cmocka_unit_test(test_find_uuid),
            cmocka_unit_test(test_broken_inputs),
            cmocka_unit_test(test_parse_reads_only_len_bytes),
            cmocka_unit_test(test_missing_file),
            cmocka_unit_test(test_load_env),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
