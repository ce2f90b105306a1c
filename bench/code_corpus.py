#!/usr/bin/env python3
"""bench/code_corpus.py OUT_DIR SOURCE_ROOT - the file lists of bench/run_code.sh.

Training: C headers under /usr/include (*.h, leaving out node/, llvm-*/ and
c++/: node's 49 MB are mostly per-architecture copies of the same OpenSSL
headers, the other two are C++) and the Python standard library
(/usr/lib/python3.11, else the newest /usr/lib/python3.*).
Held out, never trained on:
  c_test, py_test   the files of those trees whose path hashes (MD5) to 0 mod 10
  c_other           C sources of another tree: this repository's *.c and *.h
  py_other          Python of another tree: /usr/lib/python3/dist-packages,
                    the files whose path hashes to 0 mod 8
Writes c_train, py_train, train (both), c_test, py_test, c_other, py_other
(.txt, one path per line) and prints one line per list."""
import glob
import hashlib
import os
import sys


def files(root, ends, exclude=()):
    out = []
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not (d == root and (x in exclude or x.startswith("llvm-"))))
        for f in names:
            p = os.path.join(d, f)
            if f.endswith(ends) and os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 0:
                out.append(p)
    return sorted(out)


def bucket(path, k):
    return int(hashlib.md5(path.encode()).hexdigest(), 16) % k


def main():
    out, src = sys.argv[1], sys.argv[2]
    pyroot = "/usr/lib/python3.11"
    if not os.path.isdir(pyroot):
        cands = sorted(glob.glob("/usr/lib/python3.[0-9]*"), key=lambda p: int(p.rsplit(".", 1)[1]))
        pyroot = cands[-1] if cands else ""
    c = files("/usr/include", (".h",), ("node", "c++"))
    py = files(pyroot, (".py",)) if pyroot else []
    lists = {
        "c_train": [p for p in c if bucket(p, 10)],
        "c_test": [p for p in c if not bucket(p, 10)],
        "py_train": [p for p in py if bucket(p, 10)],
        "py_test": [p for p in py if not bucket(p, 10)],
        "c_other": [p for d in ("core", "cli", "plugins", "tests", "bench", "examples")
                    for p in files(os.path.join(src, d), (".c", ".h"))],
        "py_other": [p for p in files("/usr/lib/python3/dist-packages", (".py",)) if not bucket(p, 8)],
    }
    lists["train"] = lists["c_train"] + lists["py_train"]
    for name, paths in lists.items():
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write("".join(p + "\n" for p in paths))
        print(f"{name} {len(paths)} {sum(os.path.getsize(p) for p in paths)}")


if __name__ == "__main__":
    main()
