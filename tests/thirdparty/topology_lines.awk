# What the NVML client (tests/thirdparty/nvml-client) must print over a simgpu topology, from the
# topology file flattened by tests/integration/list_fields.awk ("path<TAB>value"; profiles and
# MIG devices arrive as one-line objects). Prints one check a line:
#   line<TAB>KEY: VALUE        the client prints exactly this line
#   match<TAB>REGEX            some line of the client's output matches REGEX (extended)
#   count<TAB>REGEX<TAB>N      exactly N lines of the client's output match REGEX
# Only what the file states or NVML derives from it (sizes in bytes, the `MIG ` prefix of
# profile names, placement defaults as docs/simgpu.md gives them); product defaults of fields the
# file leaves out are not checked. A MIG device with processes of its own is refused (exit 1), so
# that a topology this script cannot read fully fails the test instead of passing unchecked.

# The fields of a one-line object {"a": 1, "b": "x"} into `into` (no nested values).
function split_object(text, into,    n, parts, i, pair, key, value) {
        delete into
        sub(/^\{/, "", text)
        sub(/\},?$/, "", text)
        if (text ~ /[\[\{]/) {
                printf "topology_lines.awk: nested value in %s\n", text > "/dev/stderr"
                failed = 1
                exit 1
        }
        n = split(text, parts, /, /)
        for (i = 1; i <= n; i++) {
                pair = parts[i]
                key = pair
                sub(/: .*/, "", key)
                gsub(/"/, "", key)
                value = pair
                sub(/^"[^"]*": /, "", value)
                gsub(/"/, "", value)
                into[key] = value
        }
}

# A key as an extended regular expression that matches only itself.
function literal(key) {
        gsub(/\./, "[.]", key)
        return key
}

function emit(key, value) {
        printf "line\t%s: %s\n", key, value
}

function mode_name(mode) {
        if (mode == "Exclusive_Process")
                return "ExclusiveProcess"
        if (mode == "Exclusive_Thread")
                return "ExclusiveThread"
        return mode
}

BEGIN {
        FS = "\t"
        MIB = 1048576
}

{
        path = $1
        value = $2
        field[path] = value
        if (match(path, /^gpus\.[0-9]+\./)) {
                gpu = substr(path, 6, RLENGTH - 6) + 0
                if (gpu + 1 > gpus)
                        gpus = gpu + 1
        }
        if (path ~ /^gpus\.[0-9]+\.mig\.profiles\.[0-9]+$/)
                profiles[gpu] = profiles[gpu] "\n" value
        else if (path ~ /^gpus\.[0-9]+\.mig\.devices\.[0-9]+$/)
                devices[gpu] = devices[gpu] "\n" value
        else if (path ~ /^gpus\.[0-9]+\.processes\.[0-9]+$/)
                processes[gpu] = processes[gpu] "\n" value
}

END {
        if (failed)
                exit 1
        if (field["driver.loaded"] != "true") {
                emit("init", "DriverNotLoaded")
                printf "count\t.\t1\n"
                exit 0
        }
        emit("init", "ok")
        version = field["driver.version"]
        cuda = field["driver.cuda_version"]
        emit("driver_version", version)
        emit("cuda_driver_version", cuda)
        emit("nvml_version", int(cuda / 1000) "." version)
        emit("device_count", gpus + 0)
        emit("shutdown", "ok")
        for (g = 0; g < gpus; g++) {
                key = "gpu." g
                p = "gpus." g "."
                if (field[p "lost"] == "true") {
                        emit(key, "GpuLost")
                        printf "count\t^%s[.]\t0\n", literal(key)
                        continue
                }
                emit(key ".index", g)
                emit(key ".name", field[p "name"])
                emit(key ".uuid", field[p "uuid"])
                emit(key ".by_uuid", "same")
                emit(key ".pci.bus_id", field[p "pci_bus_id"])
                emit(key ".by_pci_bus_id", "same")
                if (p "pci_device_id" in field)
                        emit(key ".pci.device_id", "0x" toupper(substr(field[p "pci_device_id"], 3)))
                if (p "pci_subsystem_id" in field)
                        emit(key ".pci.subsystem_id", "0x" toupper(substr(field[p "pci_subsystem_id"], 3)))
                if (p "minor" in field)
                        emit(key ".minor_number", field[p "minor"])
                if (p "serial" in field)
                        emit(key ".serial", field[p "serial"])
                if (p "vbios_version" in field)
                        emit(key ".vbios_version", field[p "vbios_version"])
                emit(key ".temperature.gpu", (p "temperature_c" in field) ? field[p "temperature_c"] : 32)
                if (p "power_usage_mw" in field)
                        emit(key ".power.usage", field[p "power_usage_mw"])
                if (p "power_limit_mw" in field) {
                        emit(key ".power.limit", field[p "power_limit_mw"])
                        emit(key ".power.enforced_limit", field[p "power_limit_mw"])
                }
                emit(key ".persistence_mode", field[p "persistence_mode"])

                # memory: the processes' memory is used; v1 counts the reserve as used too
                total = field[p "memory_mib"] * MIB
                reserved = (p "reserved_bytes" in field) ? field[p "reserved_bytes"] : 0
                used = 0
                n = split(substr(processes[g], 2), list, "\n")
                for (i = 1; i <= n; i++) {
                        split_object(list[i], process)
                        used += process["used_memory_mib"] * MIB
                }
                emit(key ".memory.total", sprintf("%.0f", total))
                emit(key ".memory.used", sprintf("%.0f", used + reserved))
                emit(key ".memory.free", sprintf("%.0f", total - used - reserved))
                emit(key ".memory_v2.total", sprintf("%.0f", total))
                emit(key ".memory_v2.reserved", sprintf("%.0f", reserved))
                emit(key ".memory_v2.used", sprintf("%.0f", used))
                emit(key ".compute_processes", n)
                emit(key ".is_mig", 0)
                emit(key ".attributes", "NotSupported")

                if (!(p "mig.current" in field)) {
                        emit(key ".compute_mode", mode_name(field[p "compute_mode"]))
                        emit(key ".mig.mode", "NotSupported")
                        emit(key ".mig.max_devices", "NotSupported")
                        emit(key ".gi_profile.0", "NotSupported")
                        printf "count\t^%s[.]gi[.]\t0\n", literal(key)
                        continue
                }
                on = field[p "mig.current"]
                emit(key ".compute_mode", on == 1 ? "NotSupported" : mode_name(field[p "compute_mode"]))
                emit(key ".mig.mode", "current " on " pending " field[p "mig.pending"])
                slots = on == 1 ? field[p "mig.max_devices"] : 0
                emit(key ".mig.max_devices", slots)

                # the profile table: its rows, NOT_SUPPORTED for the other indexes up to 16, and
                # INVALID_ARGUMENT from 17 on (driver 580)
                delete present
                delete profile_of_name
                n = split(substr(profiles[g], 2), list, "\n")
                for (i = 1; i <= n; i++) {
                        split_object(list[i], profile)
                        index_key = key ".gi_profile." profile["index"]
                        present[profile["index"]] = 1
                        profile_of_name[profile["name"]] = profile["id"]
                        emit(index_key, sprintf("id %s name MIG %s slices %s instances %s sm %s ce %s dec %d enc %d jpeg %d ofa %d memory_mb %s",
                                                profile["id"], profile["name"], profile["slices"],
                                                profile["max_instances"], profile["sm_count"],
                                                profile["copy_engines"], profile["decoders"],
                                                profile["encoders"], profile["jpegs"],
                                                profile["ofas"], profile["memory_mib"]))
                        size = profile["placement_size"]
                        if (size == "")
                                for (size = 1; size < profile["slices"]; size *= 2)
                                        ;
                        count = profile["placements"]
                        if (count == "")
                                for (count = 0; count < profile["max_instances"] && (count + 1) * size <= 8; count++)
                                        ;
                        starts = ""
                        sizes = ""
                        for (j = 0; j < count; j++) {
                                starts = starts (j ? "," : "") j * size
                                sizes = sizes (j ? "," : "") size
                        }
                        emit(index_key ".placements", "{" starts "}:" sizes)
                }
                for (i = 0; i <= 16; i++)
                        if (!(i in present))
                                emit(key ".gi_profile." i, "NotSupported")
                emit(key ".gi_profile.17", "InvalidArg")

                # the MIG devices by slot, each one compute instance of its GPU instance
                delete seen_gi
                gi_count = 0
                n = split(substr(devices[g], 2), list, "\n")
                for (i = 1; i <= n; i++) {
                        split_object(list[i], device)
                        d = key ".mig.device." device["slot"]
                        emit(d ".uuid", device["uuid"])
                        emit(d ".name", field[p "name"] " MIG " device["profile"])
                        emit(d ".index", device["slot"])
                        emit(d ".memory.total", sprintf("%.0f", device["memory_mib"] * MIB))
                        emit(d ".is_mig", 1)
                        emit(d ".gpu_instance_id", device["gpu_instance_id"])
                        emit(d ".compute_instance_id", device["compute_instance_id"])
                        emit(d ".parent", "same")
                        gi = key ".gi." device["gpu_instance_id"]
                        gi_profile = device["profile"]
                        sub(/^[0-9]+c\./, "", gi_profile)
                        if (!(gi in seen_gi)) {
                                seen_gi[gi] = 1
                                gi_count++
                                printf "match\t^%s: profile_id %s placement [0-9]+:[0-9]+ parent same$\n", literal(gi), profile_of_name[gi_profile]
                                emit(gi ".by_id", "same")
                        }
                        printf "match\t^%s: profile_id [0-9]+ placement [0-9]+:[0-9]+ gpu_instance same$\n", literal(gi ".ci." device["compute_instance_id"])
                        emit(gi ".ci." device["compute_instance_id"] ".by_id", "same")
                }
                printf "count\t^%s[.]mig[.]device[.][0-9]+[.]uuid: \t%d\n", literal(key), n
                printf "count\t^%s[.]gi[.][0-9]+: \t%d\n", literal(key), gi_count
                printf "count\t^%s[.]gi[.][0-9]+[.]ci[.][0-9]+: \t%d\n", literal(key), n
                for (s = 0; s < slots; s++)
                        printf "count\t^%s[.]mig[.]device[.]%d(: NotFound|[.]uuid: )\t1\n", literal(key), s
        }
}
