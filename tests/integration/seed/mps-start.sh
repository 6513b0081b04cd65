#!/bin/bash

set -eux

# GPU_UUIDs=($(nvidia-smi -L | grep -oE "(GPU|MIG)-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*"))
GPU_UUIDs=($(nvidia-smi -L | grep -oE "(MIG)-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*"))

for ((index = 0; index < ${#GPU_UUIDs[@]}; index++)); do
  GPU=${GPU_UUIDs[index]}
  rm -rf /tmp/mps_${GPU}
  rm -rf /tmp/mps_log_${GPU}
  mkdir /tmp/mps_${GPU}
  mkdir /tmp/mps_log_${GPU}
  # Skip setting the GPU compute mode to Exclusive Process (not supported on MIG-enabled GPUs)
  # nvidia-smi -i $index -c EXCLUSIVE_PROCESS
  export CUDA_VISIBLE_DEVICES=${GPU}
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_${GPU}
  export CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log_${GPU}
  nvidia-cuda-mps-control -d
done

ps -ef | grep mps
