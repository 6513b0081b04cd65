#!/bin/bash
# mpsmig_spank.so shows Slurm only its plugin interface: it exports the SPANK entry points and
# the plugin's identity and nothing of mpsmig's code (mpsmig_spank.map), takes from its host only
# Slurm's spank_* and slurm_* functions (besides the C library and jansson), needs no sanitizer
# runtime even in the sanitizer build (Slurm has none), and links no NVIDIA library (NVML is
# loaded at run time).
. "$MPSMIG_SOURCE/tests/lib.sh"

plugin=$MPSMIG_BUILD/mpsmig_spank.so
if [ ! -f "$plugin" ]; then
        echo "skip: $plugin was not built (configured with -DMPSMIG_SPANK=OFF)" >&2
        trap - EXIT
        rm -rf "$T"
        exit 77
fi

exported=$(nm -D --defined-only "$plugin" | awk '{ print $3 }' | sort | tr '\n' ' ')
check_eq "exported: the plugin's identity and its SPANK entry points" \
        "plugin_name plugin_type plugin_version slurm_spank_init slurm_spank_task_exit slurm_spank_task_init_privileged spank_plugin_version " \
        "$exported"

# Undefined symbols without a library version come from the program that loads the plugin.
from_host=$(nm -D --undefined-only "$plugin" | awk '$1 == "U" && $2 !~ /@/ { print $2 }' |
        sort | tr '\n' ' ')
check_eq "taken from the host: Slurm's SPANK and log functions only" \
        "slurm_error slurm_info slurm_verbose spank_context spank_get_item spank_option_getopt spank_option_register spank_setenv spank_strerror " \
        "$from_host"

needed=$(readelf -d "$plugin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
check_contains "links jansson" "libjansson.so" "$needed"
check_not_contains "links no NVIDIA library" "nvidia" "$needed"
check_not_contains "links no CUDA library" "libcuda" "$needed"
check_not_contains "links no Slurm library (the host provides the functions)" "slurm" "$needed"
