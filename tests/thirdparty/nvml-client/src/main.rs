// A third-party NVML client: walks what nvml-wrapper 0.9 offers (its safe API, and its raw
// bindings for the MIG calls the safe API lacks) and prints one `key: value` line per answer,
// the value or the error's name, so that simgpu's answers can be compared with a topology file
// and with the real driver's. Exit status 0 once NVML answered nvmlInit, 1 otherwise.
use std::ffi::{CStr, OsStr};
use std::fmt::Display;
use std::mem;
use std::os::raw::{c_char, c_uint};

use nvml_wrapper::enum_wrappers::device::{
    Clock, ClockId, EccCounter, EncoderType, MemoryError, TemperatureSensor, TemperatureThreshold,
};
use nvml_wrapper::error::{nvml_try, NvmlError};
use nvml_wrapper::{Device, Nvml};
use nvml_wrapper_sys::bindings::*;

const LIBRARY: &str = "libnvidia-ml.so.1";
/// nvml.h's NVML_GPU_INSTANCE_PROFILE_COUNT of CUDA 12 (the crate's header stops at 8): asking
/// one index past the driver's table shows where it stops.
const GI_PROFILE_INDEXES: c_uint = 0x12;
/// NVML_COMPUTE_INSTANCE_PROFILE_1/2/3/4/7/8/6_SLICE.
const CI_PROFILE_INDEXES: c_uint = 7;
/// Error codes whose nvmlErrorString is printed: every code of nvml.h (0-30) and UNKNOWN.
const ERROR_CODES: [c_uint; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 999,
];

/// The name of an error as the crate spells it: `NotSupported`, `InvalidArg`, ... A missing
/// function reads `FailedToLoadSymbol(...)`, which the tests look for.
fn error_name(error: &NvmlError) -> String {
    match error {
        NvmlError::FailedToLoadSymbol(what) => format!("FailedToLoadSymbol({})", what),
        NvmlError::UnexpectedVariant(code) => format!("UnexpectedVariant({})", code),
        NvmlError::InsufficientSize(_) => "InsufficientSize".to_string(),
        other => {
            let text = format!("{:?}", other);
            text.split('(').next().unwrap_or("").to_string()
        }
    }
}

fn show<T: Display>(key: &str, result: Result<T, NvmlError>) {
    match result {
        Ok(value) => println!("{}: {}", key, value),
        Err(error) => println!("{}: {}", key, error_name(&error)),
    }
}

/// A raw call's status as the safe API would report it.
fn status(code: nvmlReturn_t) -> Result<(), NvmlError> {
    nvml_try(code)
}

/// A raw symbol the safe API does not wrap: present, or the same error the safe API gives.
fn symbol<T>(field: &Result<T, libloading::Error>) -> Result<&T, NvmlError> {
    field
        .as_ref()
        .map_err(|e| NvmlError::FailedToLoadSymbol(e.to_string()))
}

fn c_text(text: &[c_char]) -> String {
    unsafe { CStr::from_ptr(text.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn system(nvml: &Nvml, raw: &NvmlLib) {
    show("nvml_version", nvml.sys_nvml_version());
    show("driver_version", nvml.sys_driver_version());
    show("cuda_driver_version", nvml.sys_cuda_driver_version());
    show("device_count", nvml.device_count());
    show("unit_count", nvml.unit_count());
    show("excluded_device_count", nvml.excluded_device_count());
    show(
        "device_by_pci_bus_id(ffff:ff:1f.7)",
        nvml.device_by_pci_bus_id("ffff:ff:1f.7").map(|_| "found"),
    );
    show(
        "device_by_uuid(unknown MIG)",
        nvml.device_by_uuid("MIG-00000000-0000-0000-0000-000000000000")
            .map(|_| "found"),
    );
    for code in ERROR_CODES {
        let text = symbol(&raw.nvmlErrorString).map(|function| {
            let pointer = unsafe { function(code) };
            if pointer.is_null() {
                "(null)".to_string()
            } else {
                unsafe { CStr::from_ptr(pointer) }
                    .to_string_lossy()
                    .into_owned()
            }
        });
        show(&format!("error_string.{}", code), text);
    }
}

/// The same device again, through another lookup: `same` when it is the same handle.
fn same_handle(
    found: Result<Device, NvmlError>,
    device: &Device,
) -> Result<&'static str, NvmlError> {
    found.map(|other| {
        if unsafe { other.handle() == device.handle() } {
            "same"
        } else {
            "other"
        }
    })
}

fn identity(nvml: &Nvml, device: &Device, key: &str) {
    show(&format!("{}.index", key), device.index());
    show(&format!("{}.name", key), device.name());
    show(&format!("{}.uuid", key), device.uuid());
    show(&format!("{}.serial", key), device.serial());
    show(
        &format!("{}.board_part_number", key),
        device.board_part_number(),
    );
    show(&format!("{}.vbios_version", key), device.vbios_version());
    show(&format!("{}.minor_number", key), device.minor_number());
    match device.pci_info() {
        Ok(pci) => {
            println!("{}.pci.bus_id: {}", key, pci.bus_id);
            println!("{}.pci.domain: {}", key, pci.domain);
            println!("{}.pci.bus: {}", key, pci.bus);
            println!("{}.pci.device: {}", key, pci.device);
            println!("{}.pci.device_id: 0x{:08X}", key, pci.pci_device_id);
            match pci.pci_sub_system_id {
                Some(id) => println!("{}.pci.subsystem_id: 0x{:08X}", key, id),
                None => println!("{}.pci.subsystem_id: none", key),
            }
            show(
                &format!("{}.by_pci_bus_id", key),
                same_handle(nvml.device_by_pci_bus_id(pci.bus_id.as_str()), device),
            );
        }
        Err(error) => println!("{}.pci: {}", key, error_name(&error)),
    }
    match device.uuid() {
        Ok(uuid) => show(
            &format!("{}.by_uuid", key),
            same_handle(nvml.device_by_uuid(uuid.as_str()), device),
        ),
        Err(error) => println!("{}.by_uuid: {}", key, error_name(&error)),
    }
    show(
        &format!("{}.compute_capability", key),
        device
            .cuda_compute_capability()
            .map(|cc| format!("{}.{}", cc.major, cc.minor)),
    );
}

fn memory(raw: &NvmlLib, device: &Device, key: &str) {
    match device.memory_info() {
        Ok(memory) => {
            println!("{}.memory.total: {}", key, memory.total);
            println!("{}.memory.used: {}", key, memory.used);
            println!("{}.memory.free: {}", key, memory.free);
        }
        Err(error) => println!("{}.memory: {}", key, error_name(&error)),
    }
    let v2 = symbol(&raw.nvmlDeviceGetMemoryInfo_v2).and_then(|function| unsafe {
        let mut memory: nvmlMemory_v2_t = mem::zeroed();
        memory.version = (mem::size_of::<nvmlMemory_v2_t>() as c_uint) | 2 << 24;
        status(function(device.handle(), &mut memory)).map(|_| memory)
    });
    match v2 {
        Ok(memory) => {
            println!("{}.memory_v2.total: {}", key, memory.total);
            println!("{}.memory_v2.reserved: {}", key, memory.reserved);
            println!("{}.memory_v2.used: {}", key, memory.used);
            println!("{}.memory_v2.free: {}", key, memory.free);
        }
        Err(error) => println!("{}.memory_v2: {}", key, error_name(&error)),
    }
    match device.bar1_memory_info() {
        Ok(bar1) => {
            println!("{}.bar1.total: {}", key, bar1.total);
            println!("{}.bar1.used: {}", key, bar1.used);
            println!("{}.bar1.free: {}", key, bar1.free);
        }
        Err(error) => println!("{}.bar1: {}", key, error_name(&error)),
    }
}

fn modes_and_readings(device: &Device, key: &str) {
    show(
        &format!("{}.compute_mode", key),
        device.compute_mode().map(|mode| format!("{:?}", mode)),
    );
    show(
        &format!("{}.persistence_mode", key),
        device.is_in_persistent_mode(),
    );
    show(
        &format!("{}.ecc_mode", key),
        device.is_ecc_enabled().map(|ecc| {
            format!(
                "current {} pending {}",
                ecc.currently_enabled, ecc.pending_enabled
            )
        }),
    );
    show(
        &format!("{}.temperature.gpu", key),
        device.temperature(TemperatureSensor::Gpu),
    );
    show(&format!("{}.power.usage", key), device.power_usage());
    show(
        &format!("{}.power.limit", key),
        device.power_management_limit(),
    );
    show(
        &format!("{}.power.default_limit", key),
        device.power_management_limit_default(),
    );
    show(
        &format!("{}.power.enforced_limit", key),
        device.enforced_power_limit(),
    );
    for (name, clock) in [
        ("graphics", Clock::Graphics),
        ("sm", Clock::SM),
        ("memory", Clock::Memory),
        ("video", Clock::Video),
    ] {
        show(
            &format!("{}.clock.{}", key, name),
            device.clock_info(clock.clone()),
        );
        show(
            &format!("{}.max_clock.{}", key, name),
            device.max_clock_info(clock),
        );
    }
    show(
        &format!("{}.pcie.link_gen", key),
        device.current_pcie_link_gen(),
    );
    show(
        &format!("{}.pcie.max_link_gen", key),
        device.max_pcie_link_gen(),
    );
    show(
        &format!("{}.pcie.link_width", key),
        device.current_pcie_link_width(),
    );
    show(
        &format!("{}.pcie.max_link_width", key),
        device.max_pcie_link_width(),
    );
    let fans = device.num_fans();
    // one fan past the last: a board without fans answers for fan 0
    let last = *fans.as_ref().unwrap_or(&0);
    show(&format!("{}.fans", key), fans);
    for fan in 0..=last {
        show(&format!("{}.fan.{}.speed", key, fan), device.fan_speed(fan));
    }
    show(
        &format!("{}.utilization", key),
        device
            .utilization_rates()
            .map(|u| format!("gpu {} memory {}", u.gpu, u.memory)),
    );
    show(
        &format!("{}.compute_processes", key),
        device.running_compute_processes().map(|p| p.len()),
    );
}

/// One MIG device handle of `parent`, through the safe API where it can read one.
fn mig_device(nvml: &Nvml, raw: &NvmlLib, parent: &Device, handle: nvmlDevice_t, key: &str) {
    let device = unsafe { Device::new(handle, nvml) };
    show(&format!("{}.uuid", key), device.uuid());
    show(&format!("{}.name", key), device.name());
    show(&format!("{}.index", key), device.index());
    match device.memory_info() {
        Ok(memory) => println!("{}.memory.total: {}", key, memory.total),
        Err(error) => println!("{}.memory.total: {}", key, error_name(&error)),
    }
    handle_kind(raw, handle, unsafe { parent.handle() }, key);
}

/// What NVML says a handle is: a MIG device (its ids, its parent, its attributes) or a whole GPU
/// (refused: INVALID_ARGUMENT or NOT_SUPPORTED).
fn handle_kind(raw: &NvmlLib, handle: nvmlDevice_t, parent: nvmlDevice_t, key: &str) {
    let mut is_mig: c_uint = 0;
    show(
        &format!("{}.is_mig", key),
        symbol(&raw.nvmlDeviceIsMigDeviceHandle)
            .and_then(|f| status(unsafe { f(handle, &mut is_mig) }))
            .map(|_| is_mig),
    );
    let mut id: c_uint = 0;
    show(
        &format!("{}.gpu_instance_id", key),
        symbol(&raw.nvmlDeviceGetGpuInstanceId)
            .and_then(|f| status(unsafe { f(handle, &mut id) }))
            .map(|_| id),
    );
    show(
        &format!("{}.compute_instance_id", key),
        symbol(&raw.nvmlDeviceGetComputeInstanceId)
            .and_then(|f| status(unsafe { f(handle, &mut id) }))
            .map(|_| id),
    );
    let mut owner: nvmlDevice_t = std::ptr::null_mut();
    show(
        &format!("{}.parent", key),
        symbol(&raw.nvmlDeviceGetDeviceHandleFromMigDeviceHandle)
            .and_then(|f| status(unsafe { f(handle, &mut owner) }))
            .map(|_| if owner == parent { "same" } else { "other" }),
    );
    let attributes = symbol(&raw.nvmlDeviceGetAttributes_v2).and_then(|f| unsafe {
        let mut a: nvmlDeviceAttributes_t = mem::zeroed();
        status(f(handle, &mut a)).map(|_| a)
    });
    show(
        &format!("{}.attributes", key),
        attributes.map(|a| {
            format!(
                "sm {} ce {} dec {} enc {} jpeg {} ofa {} gi_slices {} ci_slices {} memory_mb {}",
                a.multiprocessorCount,
                a.sharedCopyEngineCount,
                a.sharedDecoderCount,
                a.sharedEncoderCount,
                a.sharedJpegCount,
                a.sharedOfaCount,
                a.gpuInstanceSliceCount,
                a.computeInstanceSliceCount,
                a.memorySizeMB
            )
        }),
    );
}

fn mig(nvml: &Nvml, raw: &NvmlLib, device: &Device, key: &str) {
    let handle = unsafe { device.handle() };
    handle_kind(raw, handle, handle, key);
    let (mut current, mut pending): (c_uint, c_uint) = (0, 0);
    show(
        &format!("{}.mig.mode", key),
        symbol(&raw.nvmlDeviceGetMigMode)
            .and_then(|f| status(unsafe { f(handle, &mut current, &mut pending) }))
            .map(|_| format!("current {} pending {}", current, pending)),
    );
    let mut slots: c_uint = 0;
    let max = symbol(&raw.nvmlDeviceGetMaxMigDeviceCount)
        .and_then(|f| status(unsafe { f(handle, &mut slots) }))
        .map(|_| slots);
    // with MIG off the driver has no slots: slot 0 shows how it refuses
    let last = *max.as_ref().unwrap_or(&0);
    show(&format!("{}.mig.max_devices", key), max);
    for slot in 0..last.max(1) {
        let mut mig_handle: nvmlDevice_t = std::ptr::null_mut();
        let found = symbol(&raw.nvmlDeviceGetMigDeviceHandleByIndex)
            .and_then(|f| status(unsafe { f(handle, slot, &mut mig_handle) }));
        let slot_key = format!("{}.mig.device.{}", key, slot);
        match found {
            Ok(()) => mig_device(nvml, raw, device, mig_handle, &slot_key),
            Err(error) => println!("{}: {}", slot_key, error_name(&error)),
        }
    }
}

fn placements(
    raw: &NvmlLib,
    handle: nvmlDevice_t,
    profile_id: c_uint,
) -> Result<String, NvmlError> {
    let function = symbol(&raw.nvmlDeviceGetGpuInstancePossiblePlacements_v2)?;
    let mut count: c_uint = 0;
    status(unsafe { function(handle, profile_id, std::ptr::null_mut(), &mut count) })?;
    let mut list = vec![nvmlGpuInstancePlacement_t { start: 0, size: 0 }; count as usize];
    status(unsafe { function(handle, profile_id, list.as_mut_ptr(), &mut count) })?;
    list.truncate(count as usize);
    let starts: Vec<String> = list.iter().map(|p| p.start.to_string()).collect();
    let sizes: Vec<String> = list.iter().map(|p| p.size.to_string()).collect();
    Ok(format!("{{{}}}:{}", starts.join(","), sizes.join(",")))
}

/// The GPU-instance profile table, then every GPU instance and its compute instances.
fn instances(raw: &NvmlLib, device: &Device, key: &str) {
    let handle = unsafe { device.handle() };
    let mut profile_ids = Vec::new();
    for index in 0..GI_PROFILE_INDEXES {
        let profile_key = format!("{}.gi_profile.{}", key, index);
        let info = symbol(&raw.nvmlDeviceGetGpuInstanceProfileInfoV).and_then(|f| unsafe {
            let mut info: nvmlGpuInstanceProfileInfo_v2_t = mem::zeroed();
            info.version = (mem::size_of::<nvmlGpuInstanceProfileInfo_v2_t>() as c_uint) | 2 << 24;
            status(f(handle, index, &mut info)).map(|_| info)
        });
        let info = match info {
            Ok(info) => info,
            Err(error) => {
                println!("{}: {}", profile_key, error_name(&error));
                continue;
            }
        };
        println!(
            "{}: id {} name {} slices {} instances {} sm {} ce {} dec {} enc {} jpeg {} ofa {} memory_mb {}",
            profile_key,
            info.id,
            c_text(&info.name),
            info.sliceCount,
            info.instanceCount,
            info.multiprocessorCount,
            info.copyEngineCount,
            info.decoderCount,
            info.encoderCount,
            info.jpegCount,
            info.ofaCount,
            info.memorySizeMB
        );
        show(
            &format!("{}.placements", profile_key),
            placements(raw, handle, info.id),
        );
        profile_ids.push((info.id, info.instanceCount));
    }
    for (profile_id, max) in profile_ids {
        let mut list: Vec<nvmlGpuInstance_t> = vec![std::ptr::null_mut(); max.max(1) as usize];
        let mut count: c_uint = 0;
        let found = symbol(&raw.nvmlDeviceGetGpuInstances)
            .and_then(|f| status(unsafe { f(handle, profile_id, list.as_mut_ptr(), &mut count) }));
        let gis_key = format!("{}.gi_profile_id.{}.instances", key, profile_id);
        match found {
            Ok(()) => println!("{}: {}", gis_key, count),
            Err(error) => {
                println!("{}: {}", gis_key, error_name(&error));
                continue;
            }
        }
        for gi in list.into_iter().take(count as usize) {
            gpu_instance(raw, device, gi, key);
        }
    }
}

fn gpu_instance(raw: &NvmlLib, device: &Device, gi: nvmlGpuInstance_t, key: &str) {
    let info = symbol(&raw.nvmlGpuInstanceGetInfo).and_then(|f| unsafe {
        let mut info: nvmlGpuInstanceInfo_t = mem::zeroed();
        status(f(gi, &mut info)).map(|_| info)
    });
    let info = match info {
        Ok(info) => info,
        Err(error) => {
            println!("{}.gi: {}", key, error_name(&error));
            return;
        }
    };
    let gi_key = format!("{}.gi.{}", key, info.id);
    println!(
        "{}: profile_id {} placement {}:{} parent {}",
        gi_key,
        info.profileId,
        info.placement.start,
        info.placement.size,
        if info.device == unsafe { device.handle() } {
            "same"
        } else {
            "other"
        }
    );
    let mut again: nvmlGpuInstance_t = std::ptr::null_mut();
    show(
        &format!("{}.by_id", gi_key),
        symbol(&raw.nvmlDeviceGetGpuInstanceById)
            .and_then(|f| status(unsafe { f(device.handle(), info.id, &mut again) }))
            .map(|_| if again == gi { "same" } else { "other" }),
    );
    for profile in 0..CI_PROFILE_INDEXES {
        let ci_key = format!("{}.ci_profile.{}", gi_key, profile);
        let ci_info =
            symbol(&raw.nvmlGpuInstanceGetComputeInstanceProfileInfo).and_then(|f| unsafe {
                let mut ci: nvmlComputeInstanceProfileInfo_t = mem::zeroed();
                status(f(gi, profile, 0, &mut ci)).map(|_| ci)
            });
        let ci_info = match ci_info {
            Ok(ci) => ci,
            Err(error) => {
                println!("{}: {}", ci_key, error_name(&error));
                continue;
            }
        };
        println!(
            "{}: id {} slices {} instances {} sm {} ce {} dec {} enc {} jpeg {} ofa {}",
            ci_key,
            ci_info.id,
            ci_info.sliceCount,
            ci_info.instanceCount,
            ci_info.multiprocessorCount,
            ci_info.sharedCopyEngineCount,
            ci_info.sharedDecoderCount,
            ci_info.sharedEncoderCount,
            ci_info.sharedJpegCount,
            ci_info.sharedOfaCount
        );
        let mut list: Vec<nvmlComputeInstance_t> =
            vec![std::ptr::null_mut(); ci_info.instanceCount.max(1) as usize];
        let mut count: c_uint = 0;
        let found = symbol(&raw.nvmlGpuInstanceGetComputeInstances)
            .and_then(|f| status(unsafe { f(gi, profile, list.as_mut_ptr(), &mut count) }));
        if let Err(error) = found {
            println!("{}.instances: {}", ci_key, error_name(&error));
            continue;
        }
        println!("{}.instances: {}", ci_key, count);
        for ci in list.into_iter().take(count as usize) {
            compute_instance(raw, gi, ci, &gi_key);
        }
    }
}

fn compute_instance(raw: &NvmlLib, gi: nvmlGpuInstance_t, ci: nvmlComputeInstance_t, gi_key: &str) {
    let info = symbol(&raw.nvmlComputeInstanceGetInfo_v2).and_then(|f| unsafe {
        let mut info: nvmlComputeInstanceInfo_t = mem::zeroed();
        status(f(ci, &mut info)).map(|_| info)
    });
    let info = match info {
        Ok(info) => info,
        Err(error) => {
            println!("{}.ci: {}", gi_key, error_name(&error));
            return;
        }
    };
    println!(
        "{}.ci.{}: profile_id {} placement {}:{} gpu_instance {}",
        gi_key,
        info.id,
        info.profileId,
        info.placement.start,
        info.placement.size,
        if info.gpuInstance == gi {
            "same"
        } else {
            "other"
        }
    );
    let mut again: nvmlComputeInstance_t = std::ptr::null_mut();
    show(
        &format!("{}.ci.{}.by_id", gi_key, info.id),
        symbol(&raw.nvmlGpuInstanceGetComputeInstanceById)
            .and_then(|f| status(unsafe { f(gi, info.id, &mut again) }))
            .map(|_| if again == ci { "same" } else { "other" }),
    );
}

fn debug<T: std::fmt::Debug>(result: Result<T, NvmlError>) -> Result<String, NvmlError> {
    result.map(|value| format!("{:?}", value))
}

/// With --beyond-simgpu: what else the safe API offers, which simgpu does not model (absent
/// functions read FailedToLoadSymbol there). Read on real hardware for the record.
fn beyond(device: &Device, key: &str) {
    show(&format!("{}.brand", key), debug(device.brand()));
    show(
        &format!("{}.architecture", key),
        debug(device.architecture()),
    );
    show(
        &format!("{}.performance_state", key),
        debug(device.performance_state()),
    );
    show(
        &format!("{}.total_energy_consumption", key),
        device.total_energy_consumption(),
    );
    show(
        &format!("{}.throttle_reasons", key),
        debug(device.current_throttle_reasons()),
    );
    show(
        &format!("{}.multi_gpu_board", key),
        device.is_multi_gpu_board(),
    );
    show(&format!("{}.board_id", key), device.board_id());
    show(
        &format!("{}.memory_bus_width", key),
        device.memory_bus_width(),
    );
    show(&format!("{}.num_cores", key), device.num_cores());
    show(&format!("{}.bus_type", key), debug(device.bus_type()));
    show(
        &format!("{}.pcie_link_max_speed", key),
        debug(device.pcie_link_max_speed()),
    );
    show(
        &format!("{}.pcie_replay_counter", key),
        device.pcie_replay_counter(),
    );
    show(
        &format!("{}.power_source", key),
        debug(device.power_source()),
    );
    show(
        &format!("{}.power_limit_constraints", key),
        debug(device.power_management_limit_constraints()),
    );
    show(&format!("{}.irq_num", key), device.irq_num());
    for (name, clock) in [
        ("graphics", Clock::Graphics),
        ("sm", Clock::SM),
        ("memory", Clock::Memory),
    ] {
        show(
            &format!("{}.customer_boost_clock.{}", key, name),
            device.max_customer_boost_clock(clock.clone()),
        );
        show(
            &format!("{}.applications_clock.{}", key, name),
            device.applications_clock(clock.clone()),
        );
        show(
            &format!("{}.default_applications_clock.{}", key, name),
            device.default_applications_clock(clock.clone()),
        );
        show(
            &format!("{}.clock_current.{}", key, name),
            device.clock(clock, ClockId::Current),
        );
    }
    show(
        &format!("{}.auto_boosted_clocks", key),
        debug(device.auto_boosted_clocks_enabled()),
    );
    show(
        &format!("{}.supported_memory_clocks", key),
        debug(device.supported_memory_clocks()),
    );
    for (name, threshold) in [
        ("shutdown", TemperatureThreshold::Shutdown),
        ("slowdown", TemperatureThreshold::Slowdown),
        ("memory_max", TemperatureThreshold::MemoryMax),
        ("gpu_max", TemperatureThreshold::GpuMax),
    ] {
        show(
            &format!("{}.temperature_threshold.{}", key, name),
            device.temperature_threshold(threshold),
        );
    }
    show(
        &format!("{}.decoder_utilization", key),
        debug(device.decoder_utilization()),
    );
    show(
        &format!("{}.encoder_utilization", key),
        debug(device.encoder_utilization()),
    );
    show(
        &format!("{}.encoder_capacity.h264", key),
        device.encoder_capacity(EncoderType::H264),
    );
    show(
        &format!("{}.display_active", key),
        device.is_display_active(),
    );
    show(
        &format!("{}.display_connected", key),
        device.is_display_connected(),
    );
    show(
        &format!("{}.gpu_operation_mode", key),
        debug(device.gpu_operation_mode()),
    );
    show(
        &format!("{}.inforom_image_version", key),
        device.info_rom_image_version(),
    );
    show(
        &format!("{}.ecc_errors.corrected_volatile", key),
        device.total_ecc_errors(MemoryError::Corrected, EccCounter::Volatile),
    );
    show(
        &format!("{}.ecc_errors.uncorrected_aggregate", key),
        device.total_ecc_errors(MemoryError::Uncorrected, EccCounter::Aggregate),
    );
    show(
        &format!("{}.graphics_processes", key),
        device.running_graphics_processes().map(|p| p.len()),
    );
    show(
        &format!("{}.accounting_enabled", key),
        device.is_accounting_enabled(),
    );
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let beyond_simgpu = match arguments.as_slice() {
        [] => false,
        [flag] if flag == "--beyond-simgpu" => true,
        _ => {
            eprintln!("usage: nvml-client [--beyond-simgpu]");
            std::process::exit(2);
        }
    };
    let nvml = match Nvml::builder().lib_path(OsStr::new(LIBRARY)).init() {
        Ok(nvml) => nvml,
        Err(error) => {
            println!("init: {}", error_name(&error));
            std::process::exit(1);
        }
    };
    println!("init: ok");
    // The safe API keeps its library private; the raw bindings load the same library again
    // (dlopen counts references) for the MIG calls it does not wrap.
    let raw = match unsafe { NvmlLib::new(LIBRARY) } {
        Ok(raw) => raw,
        Err(error) => {
            println!("raw bindings: {}", error);
            std::process::exit(1);
        }
    };
    if !beyond_simgpu {
        system(&nvml, &raw);
    }
    let count = nvml.device_count().unwrap_or(0);
    for index in 0..count {
        let key = format!("gpu.{}", index);
        let device = match nvml.device_by_index(index) {
            Ok(device) => device,
            Err(error) => {
                println!("{}: {}", key, error_name(&error));
                continue;
            }
        };
        if beyond_simgpu {
            beyond(&device, &key);
            continue;
        }
        identity(&nvml, &device, &key);
        memory(&raw, &device, &key);
        modes_and_readings(&device, &key);
        mig(&nvml, &raw, &device, &key);
        instances(&raw, &device, &key);
    }
    show("shutdown", nvml.shutdown().map(|_| "ok"));
}
