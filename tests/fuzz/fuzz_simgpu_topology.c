/* Fuzzes simgpu's topology parser from memory: any bytes must give a topology or -EINVAL with a
 * one-line message, never a crash, a leak or a read past the input. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct sim_topology *topology = NULL;
        char error[512];
        int r = sim_topology_parse((const char *)data, size, "fuzz.json", &topology, error,
                                   sizeof(error));
        if (r == 0) {
                /* walk what was built so the sanitizers check every pointer */
                for (size_t g = 0; g < topology->gpu_count; g++) {
                        const struct sim_gpu *gpu = &topology->gpus[g];
                        const struct sim_gpu *found;
                        if (sim_topology_find_uuid(topology, gpu->uuid, &found, NULL) != 0 ||
                            found != gpu)
                                abort();
                        for (size_t m = 0; m < gpu->mig_device_count; m++) {
                                const struct sim_mig_device *mig = &gpu->mig_devices[m];
                                const struct sim_profile *p = mig->gpu_instance_profile;
                                if (mig->slot >= gpu->max_mig_devices || p < gpu->profiles ||
                                    p >= gpu->profiles + gpu->profile_count ||
                                    mig->gpu_instance_slices != p->slices)
                                        abort();
                        }
                }
                sim_topology_free(topology);
        } else if (r != -EINVAL && r != -ENOMEM) {
                abort();
        } else if (strchr(error, '\n')) {
                abort();
        }
        return 0;
}
