#!/bin/bash
# Slurm job array over one whole slide: each task explains its own part of the tissue tiles (tile
# index modulo the task count).
#   sbatch --array=0-7 deploy/slurm-slide.sh /data/slide.svs /scratch/slide-run [MODEL]
# then, once every task has finished (the merge writes the maps, overlays, tiles.csv and the viewer):
#   xai merge /scratch/slide-run/shard-* -o /scratch/slide-run/merged
# A task that dies can simply be resubmitted (sbatch --array=3 ...): it resumes where it stopped.
#SBATCH --job-name=xai-slide
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=xai-slide-%A_%a.log
set -euo pipefail
SLIDE=${1:?usage: slurm-slide.sh SLIDE OUTPUT_DIR [MODEL]}
OUTPUT=${2:?usage: slurm-slide.sh SLIDE OUTPUT_DIR [MODEL]}
MODEL=${3:-models/demo-histo.pt}
XAI=${XAI:-xai}
: "${SLURM_ARRAY_TASK_ID:?run this with sbatch --array}"
COUNT=${SLURM_ARRAY_TASK_COUNT:-$((SLURM_ARRAY_TASK_MAX + 1))}
exec "$XAI" --threads "${SLURM_CPUS_PER_TASK:-1}" slide \
  --model "$MODEL" --method gradcam --top-tiles 5 \
  --shard "${SLURM_ARRAY_TASK_ID}/${COUNT}" \
  -o "$OUTPUT/shard-${SLURM_ARRAY_TASK_ID}" "$SLIDE"
