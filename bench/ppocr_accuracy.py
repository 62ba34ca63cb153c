#!/usr/bin/env python3
"""Builds the held-out sets of issue 13 for the PP-OCR models as data folders and measures an adapted model on them.

  bench/ppocr_accuracy.py cls ADAPTED.onnx   accuracy on lines-val: every odd line turned over (label 1), even upright (0)
  bench/ppocr_accuracy.py det ADAPTED.onnx   text-mask IoU at 0.3 with the base on scenes-val (640x640)

Standard library only; images are decoded by `convert FILE.png ppm:-` (ImageMagick, or the machine's stand-in) and
turned-over lines written back as PNG. Environment: WORK (default /tmp/lamda-ppocr-eval) receives the folders, SHARED
(default ../shared from the repo root) holds real/, LAMDA (default: dotnet on the Release build) is the command,
EVAL_ARGS more options of `lamda evaluate` (e.g. "--batch 1").
"""
import os, shutil, struct, subprocess, sys, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(os.environ.get("SHARED", os.path.join(ROOT, "..", "shared")), "real")
WORK = os.environ.get("WORK", "/tmp/lamda-ppocr-eval")
LAMDA = os.environ.get("LAMDA", "dotnet " + os.path.join(ROOT, "src/Lamda.Cli/bin/Release/net10.0/lamda.dll")).split()


def read_ppm(path):
    data = subprocess.run(["convert", path, "ppm:-"], check=True, capture_output=True).stdout
    fields, pos = [], 0
    while len(fields) < 4:  # P6 WIDTH HEIGHT MAX, separated by whitespace
        while data[pos:pos + 1].isspace(): pos += 1
        end = pos
        while not data[end:end + 1].isspace(): end += 1
        fields.append(data[pos:end]); pos = end
    assert fields[0] == b"P6" and fields[3] == b"255", path
    return int(fields[1]), int(fields[2]), data[pos + 1:]


def write_png(path, width, height, rgb):
    rows = b"".join(b"\0" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))
    def chunk(kind, body): return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def turned_over(src, dst):
    width, height, rgb = read_ppm(src)
    pixels = [rgb[i:i + 3] for i in range(0, len(rgb), 3)]
    write_png(dst, width, height, b"".join(reversed(pixels)))  # 180 degrees: the pixel order reversed


def folder(name, images, spec, label=None):
    """A data folder with val/ (and one calibration image, which the layout wants and evaluation ignores)."""
    d = os.path.join(WORK, name)
    if os.path.exists(os.path.join(d, "preprocess.json")): return d
    os.makedirs(os.path.join(d, "calib"), exist_ok=True)
    os.makedirs(os.path.join(d, "val"), exist_ok=True)
    files = sorted(f for f in os.listdir(images) if f.endswith(".png"))
    shutil.copy(os.path.join(images, files[0]), os.path.join(d, "calib", files[0]))
    lines = []
    for i, f in enumerate(files):
        if label is None:
            shutil.copy(os.path.join(images, f), os.path.join(d, "val", f))
            continue
        if label(i): turned_over(os.path.join(images, f), os.path.join(d, "val", f))
        else: shutil.copy(os.path.join(images, f), os.path.join(d, "val", f))
        lines.append(f"{f} {label(i)}\n")
    if lines:
        with open(os.path.join(d, "val", "classes.txt"), "w") as out: out.writelines(lines)
    with open(os.path.join(d, "preprocess.json"), "w") as out: out.write(spec)
    return d


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("cls", "det"):
        sys.exit(__doc__)
    kind, model = sys.argv[1:]
    extra = os.environ.get("EVAL_ARGS", "").split()
    if kind == "cls":
        d = folder("lines-val", os.path.join(REAL, "lines-val"),
                   '{ "size": [48, 192], "resize": "height", "channels": "bgr", "mean": [0.5], "std": [0.5] }\n',
                   label=lambda i: i % 2)
    else:
        d = folder("scenes-val", os.path.join(REAL, "scenes-val"),
                   '{ "size": [640, 640], "channels": "bgr", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225] }\n')
    base = os.path.join(REAL, f"ppocr_{kind}.onnx")
    sys.exit(subprocess.run(LAMDA + ["evaluate", model, "--data", d, "--against", base] + extra).returncode)


if __name__ == "__main__":
    main()
