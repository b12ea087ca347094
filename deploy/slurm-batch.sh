#!/bin/bash
# Slurm job array: each task explains its own deterministic shard of the inputs.
#   sbatch --array=0-15 deploy/slurm-batch.sh /data/patches /scratch/xai-run
# then, once every task has finished:
#   xai merge /scratch/xai-run/shard-* -o /scratch/xai-run/merged
# A task that dies can simply be resubmitted (sbatch --array=7 ...): it resumes where it stopped.
#SBATCH --job-name=xai-batch
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=xai-batch-%A_%a.log
set -euo pipefail
INPUT=${1:?usage: slurm-batch.sh INPUT_DIR OUTPUT_DIR [MODEL]}
OUTPUT=${2:?usage: slurm-batch.sh INPUT_DIR OUTPUT_DIR [MODEL]}
MODEL=${3:-models/demo-histo.pt}
XAI=${XAI:-xai}
: "${SLURM_ARRAY_TASK_ID:?run this with sbatch --array}"
COUNT=${SLURM_ARRAY_TASK_COUNT:-$((SLURM_ARRAY_TASK_MAX + 1))}
exec "$XAI" --threads "${SLURM_CPUS_PER_TASK:-1}" batch \
  --model "$MODEL" --method gradcam,lime \
  --shard "${SLURM_ARRAY_TASK_ID}/${COUNT}" \
  -o "$OUTPUT/shard-${SLURM_ARRAY_TASK_ID}" "$INPUT"
