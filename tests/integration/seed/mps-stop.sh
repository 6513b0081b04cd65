#!/bin/bash

set -eux

# GPU_UUIDs=($(nvidia-smi -L | grep -oE "(MIG|GPU)-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*"))
GPU_UUIDs=($(nvidia-smi -L | grep -oE "(MIG)-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*"))

for ((index = 0; index < ${#GPU_UUIDs[@]}; index++)); do
  GPU=${GPU_UUIDs[index]}
  export CUDA_VISIBLE_DEVICES=${GPU}
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_${GPU}
  export CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log_${GPU}
  echo "quit" | nvidia-cuda-mps-control
  rm -rf /tmp/mps_log_${GPU}
  rm -rf /tmp/mps_${GPU}
  # Reset the GPU compute mode to Default (not supported on MIG-enabled GPUs)
  # nvidia-smi -i $index -c DEFAULT
done

ps -ef | grep mps
