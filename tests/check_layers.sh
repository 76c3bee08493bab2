#!/usr/bin/env bash
# tests/check_layers.sh — the folders' one-way dependencies (docs/architecture.md), read from
# the #include lines. Fails naming every include of a higher layer.
#
#   runtime   device code: includes only runtime/ and the freestanding <stdint.h>, <stddef.h>
#   lib       the engine: graph, ops, optimizers, initializers, GEMM, file/JSON helpers
#   datasets  CSV, audio, features                  -> lib, runtime (the integer front end)
#   quant     regularizers, schedules, PTQ, pruning  -> lib
#   model     spec, model, model file, its plans     -> quant, lib
#   export    host side of export                    -> model, quant, datasets, lib, runtime
#   train     loop, configs, sweeps, the qreg command -> everything
# Public headers belong to the layer that implements them (qreg/quant.h to quant, ...).
set -u
ROOT=${QR_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || exit 2

# The layer of each public header.
header_layer() {
	case $1 in
	common | graph | optim | init | rng) echo lib ;;
	data | audio) echo datasets ;;
	quant | model | export | train) echo "$1" ;;
	*) echo unknown ;;
	esac
}

# What each layer may include (itself included).
allowed() {
	case $1 in
	runtime) echo "runtime" ;;
	lib) echo "lib" ;;
	datasets) echo "datasets lib runtime" ;;
	quant) echo "quant lib" ;;
	model) echo "model quant lib" ;;
	export) echo "export model quant datasets lib runtime" ;;
	train) echo "train export model quant datasets lib runtime" ;;
	esac
}

# The layer an #include "target" written in folder `dir` refers to.
target_layer() {
	local dir=$1 target=$2
	case $target in
	qreg/*.h) t=${target#qreg/}; header_layer "${t%.h}" ;;
	lib/* | datasets/* | quant/* | model/* | export/* | runtime/* | train/*) echo "${target%%/*}" ;;
	../*) target_layer "$dir" "${target#../}" ;;
	*/*) echo unknown ;;
	*)
		if [[ -f $dir/$target ]]; then
			case $dir in include/qreg) header_layer "${target%.h}" ;; *) echo "$dir" ;; esac
		elif [[ -f runtime/$target ]]; then
			echo runtime
		else
			echo unknown
		fi
		;;
	esac
}

bad=0 checked=0
for dir in runtime lib datasets quant model export train include/qreg; do
	for f in "$dir"/*.c "$dir"/*.h; do
		[[ -f $f ]] || continue
		if [[ $dir == include/qreg ]]; then
			b=${f##*/}
			layer=$(header_layer "${b%.h}")
		else
			layer=$dir
		fi
		ok=" $(allowed "$layer") "
		while IFS=: read -r line inc; do
			checked=$((checked + 1))
			if [[ $inc == \<* ]]; then
				# the device code may use only the freestanding headers it needs
				if [[ $layer == runtime && $inc != "<stdint.h>" && $inc != "<stddef.h>" ]]; then
					echo "$f:$line: runtime/ includes $inc (device code: <stdint.h>, <stddef.h> only)"
					bad=$((bad + 1))
				fi
				continue
			fi
			target=${inc//\"/}
			t=$(target_layer "$dir" "$target")
			if [[ $t == unknown ]]; then
				echo "$f:$line: cannot place #include \"$target\" in a layer"
				bad=$((bad + 1))
			elif [[ $ok != *" $t "* ]]; then
				echo "$f:$line: $layer/ includes $target ($t/, a higher or unrelated layer)"
				bad=$((bad + 1))
			fi
		done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f" |
			sed -n 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1:\2/p')
	done
done
if ((checked == 0)); then
	echo "check_layers: no #include lines found under $ROOT" >&2
	exit 2
fi
if ((bad > 0)); then
	echo "check_layers: $bad include(s) against the layering (docs/architecture.md)"
	exit 1
fi
echo "check_layers: $checked includes follow the layering"
