#!/usr/bin/env python3
"""Driver of scripts/bench.sh (see there). Prints tables; asserts nothing."""
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
WORK = os.path.join(BUILD, "bench")
STYLIZE = os.path.join(BUILD, "stylize")
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "256 512 1024").split()]
ITERATIONS = {256: 16, 512: 6, 1024: 4}


def cpu_description():
    """The CPU's name and its matrix instructions, from /proc/cpuinfo."""
    name, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown CPU":
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    have = [label for flag, label in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"),
                                      ("avx512f", "AVX512"), ("avx2", "AVX2")) if flag in flags]
    return name, have, "amx_bf16" in flags or "avx512_bf16" in flags


CPU_NAME, CPU_FEATURES, FAST_BF16 = cpu_description()
# Without AMX or AVX512-BF16, bf16 convolutions run emulated (40-50x slower than
# fp32, measured on an AVX2 EPYC): stylize's auto precision is fp32 there, and
# so are this benchmark's CPU rows.
CPU_PRECISIONS = ("fp32", "bf16") if FAST_BF16 else ("fp32",)
CPU_REDUCED = "bf16" if FAST_BF16 else "fp32"


def write_png(path, width, height, seed):
    """A deterministic colourful RGB PNG (stdlib only)."""
    import random
    rng = random.Random(seed)
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 7 + y * 3 + rng.randrange(40)) % 256, (x * y // 64 + seed * 40) % 256,
                          (y * 5 + rng.randrange(60)) % 256))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def weights_file():
    for candidate in (os.environ.get("STYLIZE_WEIGHTS", ""), os.path.join(ROOT, "models", "vgg19.safetensors")):
        if candidate and os.path.isfile(candidate):
            return candidate, "real"
    path = os.path.join(WORK, "vgg19_random.safetensors")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_fixtures.py"), "--full-size", path],
                       check=True, stdout=subprocess.DEVNULL)
    return path, "random (fixed seed)"


# A real photo and painting for the time-to-loss runs when the shared images are
# there: coarse-to-fine cannot reproduce the pixel noise of the synthetic images
# at a coarse scale, which would make it look worse than it is on photos.
SHARED = os.path.join(ROOT, "..", "shared", "data", "images")
PHOTOS = (os.path.join(SHARED, "content", "tubingen.jpg"), os.path.join(SHARED, "style", "starry_night.jpg"))


def have_photos():
    return all(os.path.isfile(p) for p in PHOTOS)


def synthetic_images(size):
    """A synthetic content and style of size x size px (made once, in WORK)."""
    content, style = os.path.join(WORK, f"content_{size}.png"), os.path.join(WORK, f"style_{size}.png")
    for path, seed in ((content, 1), (style, 2)):
        if not os.path.exists(path):
            write_png(path, size, size, seed)
    return content, style


def bench_images(size):
    """The shared photo and painting when present, else the synthetic images."""
    return PHOTOS if have_photos() else synthetic_images(size)


def stylize(size, precision, iterations, extra=(), device="cpu", photos=False):
    content, style = bench_images(size) if photos else synthetic_images(size)
    report = os.path.join(WORK, f"report_{os.getpid()}.json")
    command = [STYLIZE, "-c", content, "-s", style, "-o", os.path.join(WORK, "out.png"), "--weights", WEIGHTS,
               "--size", str(size), "-n", str(iterations), "--precision", precision, "--device", device,
               "--report", report, "-q", *extra]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return None
    with open(report) as f:
        return json.load(f)


def steady_seconds(report):
    times = [it["seconds"] for it in report["runs"][0]["iterations"]]
    steady = sorted(times[1:] if len(times) > 1 else times)
    return steady[len(steady) // 2]  # the median, as the reference reports


def reference(size, iterations, threads=0):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "reference_pytorch.py"), "--bench",
                             "--size", str(size), "--iterations", str(iterations), "--weights", WEIGHTS,
                             "--threads", str(threads)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def roofline(size):
    """scripts/roofline.py: the 14 convolutions alone, in this machine's oneDNN."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "roofline.py"), "--size", str(size),
                             "--precisions", ",".join(CPU_PRECISIONS)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def onednn_kernels(precision, size=256):
    """Which oneDNN kernels one stylize iteration runs (ONEDNN_VERBOSE): the ISA
    oneDNN found, and for each kind of primitive the share of its time spent in
    each implementation, e.g. {"convolution bf16": [("brgconv:avx512_core_amx_bf16", 0.62), ...]}."""
    content, style = synthetic_images(size)
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    result = subprocess.run([STYLIZE, "-c", content, "-s", style, "-o", os.path.join(WORK, "kernels.png"), "--weights",
                             WEIGHTS, "--size", str(size), "-n", "2", "--precision", precision, "-q"],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return None, {}
    isa, seconds = None, {}
    for line in result.stdout.splitlines():
        fields = line.split(",")
        if len(fields) < 4 or fields[0] not in ("onednn_verbose", "dnnl_verbose"):
            continue
        if fields[1] == "info" and fields[2] == "cpu" and fields[3].startswith("isa:"):
            isa = ",".join(fields[3:])[len("isa:"):]
        elif fields[1] == "exec" and fields[2] == "cpu" and len(fields) >= 7:
            try:
                milliseconds = float(fields[-1])
            except ValueError:
                continue
            # Convolutions and products by their data type (a bf16 run may also hold float32 ones).
            data = re.search(r"(?:src|data)_([a-z0-9]+):", fields[6]) if fields[3] != "reorder" else None
            by_kind = seconds.setdefault(fields[3] + (f" {data.group(1)}" if data else ""), {})
            by_kind[fields[4]] = by_kind.get(fields[4], 0.0) + milliseconds
    shares = {}
    for kind, by_implementation in seconds.items():
        total = sum(by_implementation.values()) or 1.0
        shares[kind] = sorted(((name, ms / total) for name, ms in by_implementation.items()), key=lambda x: -x[1])
    return isa, shares


def kernels_table():
    """Prints which oneDNN kernels run the convolutions and matrix products, per
    precision; on a CPU with AMX-BF16, whether the bf16 ones are AMX kernels."""
    has_amx = "AMX-BF16" in CPU_FEATURES
    for precision in CPU_PRECISIONS:
        isa, shares = onednn_kernels(precision)
        if not shares:
            print(f"oneDNN kernels, {precision}: none reported (is this LibTorch built with oneDNN?)")
            continue
        if isa:
            print(f"oneDNN kernels, {precision} (oneDNN found: {isa}):")
        else:
            print(f"oneDNN kernels, {precision}:")
        for kind in sorted(shares):
            listed = ", ".join(f"{name} {share:.0%}" for name, share in shares[kind][:3])
            print(f"  {kind:<17} {listed}")
        if has_amx and precision == "bf16":
            convolution = shares.get("convolution bf16", [])
            amx = sum(share for name, share in convolution if "amx" in name)
            print(f"  AMX kernels run {amx:.0%} of the bf16 convolutions' time"
                  + ("" if amx >= 0.9 else " (expected all of it on this CPU: see oneDNN's verbose output)"))
    print()
    sys.stdout.flush()


def has_cuda():
    return stylize(256, "auto", 2, device="cuda") is not None


def speed_table():
    cores = os.cpu_count()
    print(f"weights: {WEIGHTS_KIND}; {cores} cores; each row one process, same machine, same run")
    print(f"cpu: {CPU_NAME} ({', '.join(CPU_FEATURES) or 'no AVX2'})"
          + ("" if FAST_BF16 else "; no bf16 instructions, so no bf16 rows (emulated bf16 runs dozens of times "
                                  "slower than fp32; stylize's auto precision is fp32 here)"))
    print(f"ratios: seconds per iteration of the PyTorch eager reference with {cores} threads (x{cores}t) and with "
          "1 thread, the default of Debian's PyTorch, as a plain script runs it (x1t)\n")
    kernels_table()
    header = f"{'size':>6} {'setting':<26} {'s/it':>8} {'peak MiB':>9} {'x' + str(cores) + 't':>8} {'x1t':>8}"
    print(header)
    print("-" * len(header))
    cuda = has_cuda()
    for size in SIZES:
        n = ITERATIONS.get(size, 3)
        ref = reference(size, n, cores)
        plain = reference(size, min(n, 3), 1)
        rows = []
        if ref:
            rows.append((f"pytorch eager fp32, {cores}t", ref["seconds_per_iteration"], ref["peak_rss_mib"]))
        if plain:
            rows.append(("pytorch eager fp32, 1t", plain["seconds_per_iteration"], plain["peak_rss_mib"]))
        limits = roofline(size)
        fractions = []
        for precision in CPU_PRECISIONS:
            report = stylize(size, precision, n)
            if report:
                seconds = steady_seconds(report)
                rows.append((f"stylize {precision}", seconds, report["peak_memory_mib"]))
                if limits and limits.get(precision):
                    fractions.append((precision, limits[precision]["seconds"], seconds))
        if cuda:
            report = stylize(size, "auto", max(n, 20), device="cuda")
            if report:
                rows.append(("stylize cuda auto", steady_seconds(report), report["peak_memory_mib"]))

        def ratio(base, seconds):
            return f"{base['seconds_per_iteration'] / seconds:7.2f}x" if base else "n/a"

        for name, seconds, peak in rows:
            print(f"{size:>6} {name:<26} {seconds:8.3f} {peak:9.0f} {ratio(ref, seconds):>8} {ratio(plain, seconds):>8}")
        for precision, limit, seconds in fractions:
            # The roofline: the 14 convolutions alone (forward + input gradient), an iteration's floor.
            print(f"{size:>6} {'convolutions alone ' + precision:<26} {limit:8.3f} {'':>9} "
                  f"{'roofline fraction':>17} {limit / seconds:.2f}")
        sys.stdout.flush()


def time_to_loss():
    size, budget = int(os.environ.get("BENCH_TTL_SIZE", "256")), 500
    images = "tubingen.jpg with starry_night.jpg" if have_photos() else "synthetic images"
    # Every setting in fp32, the precision L-BFGS runs in: losses of one network
    # (a bf16 network's losses differ from fp32's by more than the margins compared).
    print(f"\ntime to reach the loss of single-scale Adam after {budget} iterations ({size} px, {images}, "
          "every setting in fp32)")
    base = stylize(size, "fp32", budget, photos=True)
    target = base["runs"][0]["iterations"][-1]["total"]
    settings = [("adam", []), ("lbfgs", ["--optimizer", "lbfgs"]), ("adam, 2 scales", ["--scales", "2"]),
                ("adam, 3 scales", ["--scales", "3"]), ("lbfgs, 2 scales", ["--optimizer", "lbfgs", "--scales", "2"])]
    print(f"target total loss {target:.3e}")
    print(f"{'setting':<18} {'seconds':>8} {'iterations':>11}")
    for name, extra in settings:
        report = base if name == "adam" else stylize(size, "fp32", budget, extra, photos=True)
        if report is None:
            print(f"{name:<18} {'failed':>8}")
            continue
        its = report["runs"][0]["iterations"]
        final_scale = max(it["scale"] for it in its)
        elapsed, reached = 0.0, None
        for count, it in enumerate(its, start=1):
            elapsed += it["seconds"]
            if it["scale"] == final_scale and it["total"] <= target:
                reached = (elapsed, count)
                break
        if reached:
            print(f"{name:<18} {reached[0]:8.1f} {reached[1]:11d}")
        else:
            print(f"{name:<18} {'not reached':>8} (in {elapsed:.1f} s, {len(its)} iterations: "
                  f"{its[-1]['total']:.3e}, {its[-1]['total'] / target:.3f}x the target)")
        sys.stdout.flush()


def fp32_loss(image, size):
    """The total loss of `image` evaluated the same way for every run: in fp32,
    at full size, against the photos' targets (the first iteration's loss of a
    run that starts from the image and barely moves it)."""
    content, style = bench_images(size)
    report = os.path.join(WORK, "evaluate.json")
    subprocess.run([STYLIZE, "-c", content, "-s", style, "--init", image, "-o", os.path.join(WORK, "evaluate.png"),
                    "--weights", WEIGHTS, "--size", str(size), "-n", "1", "--lr", "1e-9", "--precision", "fp32",
                    "--report", report, "-q"], check=True, capture_output=True)
    with open(report) as f:
        return json.load(f)["runs"][0]["iterations"][0]["total"]


def timed_run(size, name, extra):
    """One stylize run of the photos at `size`: its wall time (start-up
    included), its iterations and the fp32 loss of its output (16-bit PNG)."""
    output = os.path.join(WORK, f"fast_{name}.png")
    report = os.path.join(WORK, f"fast_{name}.json")
    content, style = bench_images(size)
    start = time.monotonic()
    result = subprocess.run([STYLIZE, "-c", content, "-s", style, "-o", output, "--bit-depth", "16",
                             "--weights", WEIGHTS, "--size", str(size), "--report", report, "-q", *extra],
                            capture_output=True, text=True)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        return None
    with open(report) as f:
        data = json.load(f)
    return {"seconds": seconds, "iterations": len(data["runs"][0]["iterations"]), "loss": fp32_loss(output, size),
            "output": output}


def fast_bench():
    """Time to a finished image: the tutorial's 1000 single-scale iterations
    against --preset fast and the levers it is made of, each run's output
    evaluated the same way (fp32_loss); and how many of the tutorial's
    iterations come within 1% of its final loss (its --save-every images)."""
    size = int(os.environ.get("BENCH_FAST_SIZE", "512"))
    images = "tubingen.jpg with starry_night.jpg" if have_photos() else "synthetic images"
    print(f"\ntime to a finished image at {size} px ({images}, weights {WEIGHTS_KIND}); every output's loss "
          "evaluated in fp32 at full size")
    reference = timed_run(size, "tutorial", ["-n", "1000", "--save-every", "50"])
    if reference is None:
        print("the tutorial run failed")
        return
    checkpoints = []
    for n in range(50, 1001, 50):
        image = reference["output"].replace(".png", f"_{n:04d}.png")
        if os.path.isfile(image):
            checkpoints.append((n, fp32_loss(image, size)))
    within = next((n for n, loss in checkpoints if loss <= 1.01 * reference["loss"]), None)
    print(f"the tutorial run's loss after n iterations: " +
          ", ".join(f"{n}: {loss:.4g}" for n, loss in checkpoints if n in (50, 100, 200, 300, 400, 500, 700, 1000)))
    print(f"single-scale iterations within 1% of its 1000-iteration loss: {within}")
    # --preset fast and the levers it is made of, one at a time.
    settings = [("preset fast", ["--preset", "fast"]),
                ("fast, tutorial's beta1 0.99", ["--preset", "fast", "--beta1", "0.99"]),
                ("fast, no --nesterov", ["--preset", "fast", "--no-nesterov"]),
                ("fast, no --average", ["--preset", "fast", "--average", "0"]),
                ("fast, tutorial's beta2 0.999", ["--preset", "fast", "--beta2", "0.999"]),
                ("fast, no --pyramid", ["--preset", "fast", "--pyramid", "0"]),
                ("fast, 1 scale x 190", ["--preset", "fast", "--scales", "1", "-n", "190"]),
                ("1 scale x 200", ["-n", "200"]),
                ("fast, 60 + 150", ["--preset", "fast", "-n", "150"]),
                ("fast, 60 + 180", ["--preset", "fast", "-n", "180"])]
    header = f"{'setting':<32} {'seconds':>8} {'share':>6} {'iterations':>10} {'fp32 loss':>10} {'vs tutorial':>11}"
    print(header)
    print("-" * len(header))

    def row(name, run):
        print(f"{name:<32} {run['seconds']:8.1f} {run['seconds'] / reference['seconds']:6.1%} {run['iterations']:10d} "
              f"{run['loss']:10.4g} {run['loss'] / reference['loss']:10.3f}x")
        sys.stdout.flush()

    row("tutorial (1000 iterations)", reference)
    for name, extra in settings:
        run = timed_run(size, name.replace(" ", "_").replace(",", ""), extra)
        if run is None:
            print(f"{name:<32} failed")
            continue
        row(name, run)


def video_bench():
    """stylize video: seconds per frame, and flicker (the mean warped difference
    between consecutive outputs over the reliable pixels, build/flicker) of
    independent frames (--temporal-weight 0) against temporal consistency, with
    the same iterations for every frame of both, on a clip panning over a photo."""
    frames, iterations = int(os.environ.get("BENCH_VIDEO_FRAMES", "6")), int(os.environ.get("BENCH_VIDEO_ITERATIONS", "100"))
    photo = os.path.join(SHARED, "content", "tubingen.jpg")
    style = PHOTOS[1] if os.path.isfile(PHOTOS[1]) else os.path.join(WORK, "style_256.png")
    if not os.path.isfile(style):
        write_png(style, 256, 256, 2)
    print(f"\nstylize video: {frames} frames panning 3,1 px per frame over "
          f"{'tubingen.jpg' if os.path.isfile(photo) else 'a generated texture'}, style {os.path.basename(style)}, "
          f"{iterations} iterations per frame, weights {WEIGHTS_KIND}, precision auto")
    print(f"{'size':>5} {'mode':<12} {'s/frame':>8} {'flicker':>8} {'ratio':>6}")
    for size in [int(s) for s in os.environ.get("BENCH_VIDEO_SIZES", "256 512").split()]:
        clip = os.path.join(WORK, f"clip_{size}")
        os.makedirs(clip, exist_ok=True)
        height = size * 9 // 16
        subprocess.run([os.path.join(BUILD, "make_clip"), *(["--image", photo] if os.path.isfile(photo) else []),
                        "--frames", str(frames), "--width", str(size), "--height", str(height), "--pan", "3,1",
                        "-o", os.path.join(clip, "f_%03d.png")], check=True, stdout=subprocess.DEVNULL)
        flicker = {}
        for mode, weight in (("independent", "0"), ("temporal", None)):
            out = os.path.join(WORK, f"video_{size}_{mode}")
            subprocess.run(["rm", "-rf", out], check=True)
            command = [STYLIZE, "video", "-c", os.path.join(clip, "f_%03d.png"), "-s", style, "-o", out,
                       "--weights", WEIGHTS, "--size", str(size), "-n", str(iterations), "--frame-iterations",
                       str(iterations), "--print-every", "0", *(["--temporal-weight", weight] if weight else [])]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"{size:5d} {mode:<12} failed: {result.stderr.strip().splitlines()[-1:]}")
                continue
            seconds = [float(line.split(" done in ")[1].split(" s")[0]) for line in result.stderr.splitlines()
                       if " done in " in line]
            later = seconds[1:] or seconds
            measured = subprocess.run([os.path.join(BUILD, "flicker"), "--input", os.path.join(clip, "f_%03d.png"),
                                       "--output", out], capture_output=True, text=True, check=True)
            flicker[mode] = float(measured.stdout.strip().splitlines()[-1].split(":")[1].split()[0])
            ratio = flicker["independent"] / flicker[mode] if flicker.get("independent") else 0
            print(f"{size:5d} {mode:<12} {sorted(later)[len(later) // 2]:8.2f} {flicker[mode]:8.4f} {ratio:5.1f}x")
            sys.stdout.flush()


def tiles_bench():
    """--tile: seconds per iteration and peak memory (the process's own peak RSS,
    the report's peak_memory_mib) of print sizes, whole where it fits and in
    tiles of 512 and 1024 px, bf16 (fp32 on a CPU without bf16 instructions), the style at 512 px."""
    iterations = int(os.environ.get("BENCH_TILE_ITERATIONS", "3"))
    if have_photos():
        content, style = PHOTOS
    else:
        content, style = os.path.join(WORK, "content_1024.png"), os.path.join(WORK, "style_512.png")
        for path, size, seed in ((content, 1024, 1), (style, 512, 2)):
            if not os.path.exists(path):
                write_png(path, size, size, seed)
    print(f"\n--tile: {os.path.basename(content)} at the size below, style {os.path.basename(style)} at 512 px, "
          f"weights {WEIGHTS_KIND}, {CPU_REDUCED}, {iterations} iterations (the first not counted)")
    print(f"{'size':>5} {'mode':<10} {'tiles':>5} {'s/iter':>8} {'peak GiB':>9} {'est GiB':>8} {'vs whole':>8}")
    for size in [int(s) for s in os.environ.get("BENCH_TILE_SIZES", "2048 4096").split()]:
        whole = None
        for mode in ("whole", "512", "1024"):
            report = os.path.join(WORK, f"tiles_{size}_{mode}.json")
            command = [STYLIZE, "-c", content, "-s", style, "-o", os.path.join(WORK, f"tiles_{size}_{mode}.png"),
                       "--weights", WEIGHTS, "--size", str(size), "--style-size", "512", "-n", str(iterations),
                       "--precision", CPU_REDUCED, "--device", "cpu", "--report", report, "--print-every", "0",
                       *(["--tile", mode] if mode != "whole" else [])]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or [""])[-1]
                print(f"{size:5d} {mode:<10} exit {result.returncode}: {last[:150]}")
                continue
            with open(report) as f:
                data = json.load(f)
            seconds = steady_seconds(data)
            tiling = next((line for line in result.stderr.splitlines() if " tiles owning " in line), "")
            tiles = tiling.split(" in ")[1].split(" tiles")[0] if tiling else "1"
            # The estimate a tiled run plans for (its log line): it must stay above the peak.
            estimate = tiling.split("estimated peak memory ")[1].split(" GiB")[0] if tiling else "-"
            if mode == "whole":
                whole = seconds
            ratio = f"{seconds / whole:7.2f}x" if whole else "       -"
            print(f"{size:5d} {mode:<10} {tiles:>5} {seconds:8.2f} {data['peak_memory_mib'] / 1024:9.2f} "
                  f"{estimate:>8} {ratio}")
            sys.stdout.flush()


def read_bmp(path):
    """The 24-bit BMPs stylize writes: (1, 3, H, W) float32 in [0, 1]."""
    import numpy as np
    import torch
    data = open(path, "rb").read()
    offset = struct.unpack("<I", data[10:14])[0]
    width, height = struct.unpack("<ii", data[18:26])
    assert struct.unpack("<H", data[28:30])[0] == 24, "24-bit BMP only"
    stride = (width * 3 + 3) // 4 * 4
    rows = [np.frombuffer(data[offset + y * stride:offset + y * stride + width * 3], np.uint8).reshape(width, 3)
            for y in range(abs(height))]
    pixels = np.stack(rows[::-1] if height > 0 else rows)[..., ::-1].astype(np.float32) / 255.0  # bottom-up BGR
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()


def lbfgs_bench():
    """L-BFGS against Adam on one objective, in stylize and in PyTorch: torch.optim.LBFGS
    (strong Wolfe, history 100, unconstrained) and the reference's Adam on
    scripts/reference_pytorch.py's objective, all in fp32 from the same 8-bit images."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import reference_pytorch as R
    size = int(os.environ.get("BENCH_LBFGS_SIZE", "256"))
    n = int(os.environ.get("BENCH_LBFGS_EVALUATIONS", "300"))
    sources = bench_images(size)
    # Each image as stylize sizes it, written by a run that does not move it (one step of 1e-12).
    images = []
    for name, source in zip(("content", "style"), sources):
        path = os.path.join(WORK, f"lbfgs_{name}_{size}.bmp")
        subprocess.run([STYLIZE, "-c", source, "-s", sources[1], "-o", path, "--weights", WEIGHTS, "--size", str(size),
                        "-n", "1", "--lr", "1e-12", "-q"], check=True)
        images.append(path)
    curves = {}
    for optimizer in ("adam", "lbfgs"):
        report = os.path.join(WORK, f"lbfgs_stylize_{optimizer}.json")
        subprocess.run([STYLIZE, "-c", images[0], "-s", images[1], "-o", os.path.join(WORK, "lbfgs_out.png"),
                        "--weights", WEIGHTS, "--size", str(size), "-n", str(n), "--precision", "fp32", "--device",
                        "cpu", "--optimizer", optimizer, "--report", report, "-q"], check=True)
        with open(report) as f:
            curves[f"stylize {optimizer}"] = [it["total"] for it in json.load(f)["runs"][0]["iterations"]]
    torch.set_num_threads(os.cpu_count())
    o = R.DEFAULTS
    net = R.Vgg19Features(WEIGHTS, o["content_layers"] + o["style_layers"])
    content, style = read_bmp(images[0]), read_bmp(images[1])
    adam = []
    R.stylize(net, content, style, n, on_iteration=lambda iteration, values: adam.append(values[0]))
    curves["pytorch adam"] = adam
    losses, _ = R.prepare(net, content, style, o)
    image = content.clone().requires_grad_(True)
    lbfgs = torch.optim.LBFGS([image], lr=1, max_iter=n, max_eval=n, history_size=100,
                              line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-9)
    evaluations = []

    def closure():
        lbfgs.zero_grad()
        total = losses(image)[0]
        total.backward()
        evaluations.append(float(total))
        return total

    lbfgs.step(closure)
    curves["pytorch lbfgs"] = evaluations
    marks = sorted({max(1, n // 30), max(1, n // 3), n})
    print(f"\nL-BFGS and Adam, total loss after n evaluations ({size} px, "
          f"{'tubingen.jpg with starry_night.jpg' if have_photos() else 'synthetic images'}, weights {WEIGHTS_KIND}, fp32)")
    print(f"{'run':<16}" + "".join(f"{'n=' + str(m):>12}" for m in marks))
    for name, curve in curves.items():
        print(f"{name:<16}" + "".join(f"{curve[min(m, len(curve)) - 1]:12.4e}" for m in marks))
    outside = float(((image < 0) | (image > 1)).float().mean())
    print(f"(pytorch lbfgs is unconstrained: {outside:.1%} of its pixels ended outside [0, 1])")


if __name__ == "__main__":
    os.makedirs(WORK, exist_ok=True)
    WEIGHTS, WEIGHTS_KIND = weights_file()
    parts = {"kernels": kernels_table, "video": video_bench, "tiles": tiles_bench, "lbfgs": lbfgs_bench,
             "ttl": time_to_loss, "fast": fast_bench}
    if sys.argv[1:]:
        if sys.argv[1:2] != sys.argv[1:] or sys.argv[1] not in parts:
            sys.exit(f"bench: unknown part {' '.join(sys.argv[1:])!r}; give one of {', '.join(parts)}, or nothing "
                     "for the speed table and time to loss")
        parts[sys.argv[1]]()
        sys.exit(0)
    speed_table()
    if not os.environ.get("BENCH_SKIP_TTL"):
        time_to_loss()
