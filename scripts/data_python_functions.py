#!/usr/bin/python3
"""scripts/data_python_functions.py OUT_DIR - Python functions from the
standard library, one per file, for training and judging a small code model
(bench/run_code_functions.sh). Standard library only; run it with
/usr/bin/python3.

Reads every .py file under the newest /usr/lib/python3.* (or --lib), skipping
the test suites (test/, tests/, idle_test/), site-packages and dist-packages,
and parses it with `ast`. Each `def` at module level or directly in a class
body at module level (a method) becomes one document: its source lines from
the `def` line to its end (decorators left out, so every document starts with
"def "), dedented, ended by one newline. Kept when it is at most --max-bytes
(default 1,500) bytes, so it fits a small model's context, and parses again on
its own (`ast.parse`). `async def` is left out for the same reason as
decorators: every document starts the same way, like the generation prompt.

The split is by source module, so held-out functions come from modules the
model never saw: a module is held out when crc32 of its path relative to the
library (e.g. "json/decoder.py") is 0 mod --heldout-every (default 10), about
a tenth of the modules. Deterministic: the same library gives the same files.
--max-train and --max-heldout (default 0: all) keep a spread subset (every
k-th function, in path order) for shorter runs.

Writes, under OUT_DIR:
  train/NNNNN.py      the training functions, in path and line order
  heldout/NNNNN.py    the held-out functions
  sources.tsv         file<TAB>split<TAB>module<TAB>qualified name<TAB>bytes
and prints the counts.
"""
import argparse
import ast
import glob
import os
import sys
import textwrap
import zlib

SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


def newest_lib():
    libs = sorted(glob.glob("/usr/lib/python3.*"), key=lambda p: [int(x) for x in p.rsplit(".", 1)[1:] if x.isdigit()])
    libs = [p for p in libs if os.path.isfile(os.path.join(p, "os.py"))]
    if not libs:
        sys.exit("data_python_functions: no /usr/lib/python3.*/os.py; give --lib")
    return libs[-1]


def modules(lib):
    for root, dirs, files in os.walk(lib):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                yield os.path.relpath(path, lib), path


def functions(source):
    """(qualified name, dedented source) of each module-level def and method."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield node.name + "." + item.name, item


def extract(source, node):
    lines = source.splitlines(keepends=True)
    text = "".join(lines[node.lineno - 1:node.end_lineno])
    return textwrap.dedent(text).rstrip() + "\n"


def spread(items, limit):
    if limit <= 0 or len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--lib", help="the library to read (default: the newest /usr/lib/python3.*)")
    ap.add_argument("--max-bytes", type=int, default=1500)
    ap.add_argument("--heldout-every", type=int, default=10)
    ap.add_argument("--max-train", type=int, default=0, help="at most this many training functions (0 = all)")
    ap.add_argument("--max-heldout", type=int, default=0, help="at most this many held-out functions (0 = all)")
    args = ap.parse_args()
    lib = args.lib or newest_lib()
    found = {"train": [], "heldout": []}
    skipped_long = 0
    for rel, path in modules(lib):
        try:
            with open(path, "rb") as f:
                source = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        split = "heldout" if zlib.crc32(rel.encode()) % args.heldout_every == 0 else "train"
        for qual, node in functions(source):
            text = extract(source, node)
            data = text.encode("utf-8")
            if len(data) > args.max_bytes:
                skipped_long += 1
                continue
            try:
                ast.parse(text)
            except SyntaxError:
                continue
            found[split].append((rel, qual, data))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "sources.tsv"), "w") as tsv:
        for split, limit in (("train", args.max_train), ("heldout", args.max_heldout)):
            items = spread(found[split], limit)
            d = os.path.join(args.out_dir, split)
            os.makedirs(d, exist_ok=True)
            for i, (rel, qual, data) in enumerate(items):
                name = "%05d.py" % i
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
                tsv.write("%s/%s\t%s\t%s\t%s\t%d\n" % (split, name, split, rel, qual, len(data)))
            print("%s: %d functions (of %d), %d bytes, from %d modules" % (
                split, len(items), len(found[split]), sum(len(x[2]) for x in items),
                len({x[0] for x in items})))
    print("library %s; %d functions over %d bytes skipped" % (lib, skipped_long, args.max_bytes))


if __name__ == "__main__":
    main()
