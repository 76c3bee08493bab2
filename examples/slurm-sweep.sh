#!/bin/bash
# A qreg sweep as a Slurm job array: task I of N runs shard I/N of the sweep's points
# (docs/cluster.md). Submit from the directory the sweep's paths are relative to:
#
#   sbatch --array=1-8 examples/slurm-sweep.sh examples/sweep-bts.json sweep-bts-results
#   # when all tasks are done (or at any time, for what is done so far):
#   qreg report sweep-bts-results
#
# Every task reads the same sweep file and writes DIR/results-I-of-N.csv/.jsonl and
# DIR/runs/<id>/ on the shared file system. Submitting the same array again resumes: runs
# already in any results*.jsonl are skipped, interrupted runs continue from their checkpoint.
#
#SBATCH --job-name=qreg-sweep
#SBATCH --cpus-per-task=4
#SBATCH --mem-per-cpu=1G
#SBATCH --time=01:00:00
#SBATCH --output=qreg-sweep-%A_%a.out
# Two minutes before the time limit, SIGINT to this script's process, which `exec` below
# makes qreg sweep itself: it passes the signal on, the runs stop at a batch boundary with a
# checkpoint, and the next submission continues them.
#SBATCH --signal=B:INT@120
set -euo pipefail

sweep=${1:?usage: sbatch --array=1-N slurm-sweep.sh SWEEP.json [OUTPUT_DIR]}
out=${2:-}
: "${SLURM_ARRAY_TASK_ID:?run this script as a job array: sbatch --array=1-N}"
# SLURM_ARRAY_TASK_COUNT is set by Slurm 18.08 and later
count=${SLURM_ARRAY_TASK_COUNT:-$((SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1))}
index=$((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1))

# data written by the datasets/ scripts, on the shared file system
export QREG_DATA=${QREG_DATA:-$HOME/.local/share/qreg/data}

args=(sweep "$sweep" --shard "$index/$count" -j "${SLURM_CPUS_PER_TASK:-1}")
[[ -n $out ]] && args+=(--out "$out")
echo "qreg ${args[*]} on $(hostname)"
exec qreg "${args[@]}"
