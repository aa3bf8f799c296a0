#!/usr/bin/env python3
"""Checks the include graph of stylize against its layout (README, "Development").

Every source and header under src/ and include/stylize/ belongs to a wing; a
file may include the headers of its own wing and of the wings below it, never
those above or beside it. No file may include itself through others (no
include loop). Third-party headers are allowed only where the layout keeps
them: LibTorch nowhere in the weights and fetch wings, OpenCV, HDF5, libcurl,
OpenSSL, lcms2 and zlib each in their one or two files.

    python3 tests/check_layering.py [REPO_ROOT]

Prints every violation and exits 1 if there is any (CTest test Layering).
"""
import os
import re
import sys

# Which wings each wing may include (besides itself).
ALLOWED = {
    "base": set(),
    "io": {"base"},
    "weights": {"base"},
    "fetch": {"base"},
    "batch": {"base"},
    "core": {"base", "io", "weights"},
    "cli": {"base", "io", "weights", "fetch", "batch", "core"},
    "build": {"base"},  # src/sanitizer_options.cpp
}

# Third-party headers (by prefix) and the files that may include them.
CONFINED = {
    "opencv2/": {
        "src/io/image_io.cpp",
        "src/io/video_io.cpp",
        "src/io/video_writer.cpp",
        "src/io/flow.cpp",
        "src/io/io_detail.hpp",
        "src/cli/figures.cpp",
    },
    "hdf5": {"src/weights/keras_h5.cpp"},
    "H5": {"src/weights/keras_h5.cpp"},
    "curl/": {"src/fetch/download.cpp"},
    "openssl/": {"src/fetch/digest.cpp"},
    "oneapi/dnnl": {"src/core/onednn.cpp"},
    "lcms2": {"src/io/color_profile.cpp"},  # colour conversion, behind color_profile.hpp
    "zlib": {"src/io/icc_container.cpp"},  # PNG's compressed iCCP chunk
    "CLI/": None,  # the cli wing only (checked below)
    "spdlog/": None,
}
NO_TORCH = {"weights", "fetch", "batch", "base"}
TORCH_PREFIXES = ("torch/", "ATen/", "c10/")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)


def wing_of(path):
    """The wing of a repository-relative path, or None for files outside the layout."""
    parts = path.split("/")
    if parts[0] == "include" and len(parts) >= 3 and parts[1] == "stylize":
        return parts[2] if len(parts) > 3 else "base"
    if parts[0] == "src":
        if len(parts) == 2:
            return "build"
        return parts[1]
    return None


def resolve(root, including, name):
    """The repository-relative path an include names, or None for a third-party header."""
    candidates = [os.path.join(os.path.dirname(including), name), os.path.join("include", name), os.path.join("src", name)]
    for candidate in candidates:
        candidate = os.path.normpath(candidate)
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = []
    for top in ("src", os.path.join("include", "stylize")):
        for directory, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if name.endswith((".cpp", ".hpp", ".h")):
                    files.append(os.path.relpath(os.path.join(directory, name), root))
    problems = []
    graph = {}
    wings_seen = set()
    for path in sorted(files):
        wing = wing_of(path)
        if wing not in ALLOWED:
            problems.append(f"{path}: not in any wing of the layout ({', '.join(sorted(ALLOWED))})")
            continue
        wings_seen.add(wing)
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        graph[path] = []
        for bracket, name in INCLUDE.findall(text):
            target = resolve(root, path, name) if bracket == '"' or name.startswith("stylize/") else None
            if target is not None:
                graph[path].append(target)
                target_wing = wing_of(target)
                if target_wing != wing and target_wing not in ALLOWED[wing]:
                    problems.append(f"{path} ({wing}) includes {target} ({target_wing}): {wing} may include only "
                                    f"{', '.join(sorted(ALLOWED[wing] | {wing}))}")
                continue
            if wing in NO_TORCH and name.startswith(TORCH_PREFIXES):
                problems.append(f"{path} ({wing}) includes LibTorch's <{name}>; the {wing} wing does not depend on it")
            for prefix, allowed in CONFINED.items():
                if not name.startswith(prefix):
                    continue
                if allowed is None and wing != "cli":
                    problems.append(f"{path} includes <{name}>, which only the cli wing uses")
                elif allowed is not None and path not in allowed and not path.startswith("include/"):
                    problems.append(f"{path} includes <{name}>, which only {', '.join(sorted(allowed))} may")
                elif allowed is not None and path.startswith("include/"):
                    problems.append(f"{path} includes <{name}> in a public header; keep it in {', '.join(sorted(allowed))}")

    # Include loops: a depth-first search over the project's own includes.
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for target in graph.get(node, []):
            if state.get(target) == "open":
                loop = stack[stack.index(target):] + [target]
                problems.append("include loop: " + " -> ".join(loop))
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])

    missing = set(ALLOWED) - wings_seen
    if missing:
        problems.append(f"no files found for the wings {', '.join(sorted(missing))}: is {root} the repository?")
    for problem in problems:
        print(problem)
    print(f"check_layering: {len(graph)} files, {sum(len(v) for v in graph.values())} project includes, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
