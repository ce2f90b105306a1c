#!/usr/bin/python3
"""tests/abi_compare.py BASELINE.abi CURRENT.abi - is CURRENT a compatible
extension of BASELINE? Both are libabigail XML (`abidw`, see
scripts/abi_baseline.sh). Standard library only.

mmgen's rules for a minor release (ABI.md, "Stability"):
  - every exported function of the baseline is still exported, under the
    same version node, with the same return and parameter types;
  - every public struct (mmg_*) keeps each member at its offset with its type;
    new members only after the baseline's last one (callers say how much
    they know with struct_size), and the struct may grow;
  - every enumerator of a public enum (status codes, modalities...) keeps its
    value; new enumerators are allowed.
New functions, structs and enumerators are compatible additions. Prints each
violation and exits 1 when there is one; prints the additions otherwise.
"""
import sys
import xml.etree.ElementTree as ET


class Corpus:
    def __init__(self, path):
        root = ET.parse(path).getroot()
        self.types = {}
        for el in root.iter():
            if el.get("id") is not None and el.tag != "elf-symbol":
                self.types[el.get("id")] = el
        self.symbols = {}
        for sym in root.iter("elf-symbol"):
            if sym.get("type") == "func-type" and sym.get("is-defined") == "yes":
                self.symbols[sym.get("name")] = sym.get("version")
        self.functions = {}
        for fn in root.iter("function-decl"):
            name = fn.get("name")
            if name in self.symbols and name not in self.functions:
                params = [self.type_name(p.get("type-id")) for p in fn.findall("parameter")]
                ret = self.type_name(fn.find("return").get("type-id")) if fn.find("return") is not None else "?"
                self.functions[name] = (ret, params)
        self.structs, self.enums = {}, {}
        for el in self.types.values():
            name = el.get("name") or ""
            if el.tag == "class-decl" and name.startswith("mmg_") and el.get("is-declaration-only") != "yes":
                members = {}
                for dm in el.findall("data-member"):
                    var = dm.find("var-decl")
                    members[var.get("name")] = (int(dm.get("layout-offset-in-bits")), self.type_name(var.get("type-id")))
                prev = self.structs.get(name)
                if prev is None or len(members) > len(prev[1]):
                    self.structs[name] = (int(el.get("size-in-bits", "0")), members)
            elif el.tag == "enum-decl" and name.startswith("mmg_"):
                self.enums[name] = {e.get("name"): int(e.get("value")) for e in el.findall("enumerator")}

    def type_name(self, tid, depth=0):
        el = self.types.get(tid)
        if el is None or depth > 32:
            return "?" if tid != "type-id-void" else "void"
        tag = el.tag
        if tag == "pointer-type-def":
            return self.type_name(el.get("type-id"), depth + 1) + "*"
        if tag == "qualified-type-def":
            q = " ".join(k for k in ("const", "volatile", "restrict") if el.get(k) == "yes")
            return q + " " + self.type_name(el.get("type-id"), depth + 1)
        if tag == "array-type-def":
            return self.type_name(el.get("type-id"), depth + 1) + "[%s]" % el.get("size-in-bits", "")
        if tag == "function-type":
            params = ",".join(self.type_name(p.get("type-id"), depth + 1) for p in el.findall("parameter"))
            ret = el.find("return")
            return "fn(%s)->%s" % (params, self.type_name(ret.get("type-id"), depth + 1) if ret is not None else "?")
        return el.get("name") or tag


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: abi_compare.py BASELINE.abi CURRENT.abi")
    base, cur = Corpus(sys.argv[1]), Corpus(sys.argv[2])
    bad, added = [], []
    for name, version in sorted(base.symbols.items()):
        if name not in cur.symbols:
            bad.append("function %s (%s) was removed" % (name, version))
        elif cur.symbols[name] != version:
            bad.append("function %s moved from version node %s to %s" % (name, version, cur.symbols[name]))
        elif name in base.functions and cur.functions.get(name) != base.functions[name]:
            bad.append("function %s changed its signature: %s -> %s" % (name, base.functions[name], cur.functions.get(name)))
    added += ["function %s (%s)" % (n, v) for n, v in sorted(cur.symbols.items()) if n not in base.symbols]
    for name, (size, members) in sorted(base.structs.items()):
        if name not in cur.structs:
            bad.append("struct %s is gone" % name)
            continue
        csize, cmembers = cur.structs[name]
        last = max((off for off, _ in members.values()), default=-1)
        for m, (off, ty) in members.items():
            if m not in cmembers:
                bad.append("struct %s lost member %s (offset %d bits)" % (name, m, off))
            elif cmembers[m] != (off, ty):
                bad.append("struct %s member %s changed: offset %d, %s -> offset %d, %s"
                           % (name, m, off, ty, cmembers[m][0], cmembers[m][1]))
        for m, (off, ty) in cmembers.items():
            if m not in members:
                if off <= last:
                    bad.append("struct %s gained member %s at offset %d bits, inside the baseline's layout "
                               "(members may only be appended)" % (name, m, off))
                else:
                    added.append("struct %s member %s (offset %d bits)" % (name, m, off))
        if csize < size:
            bad.append("struct %s shrank from %d to %d bits" % (name, size, csize))
    added += ["struct %s" % n for n in sorted(cur.structs) if n not in base.structs]
    for name, values in sorted(base.enums.items()):
        cvalues = cur.enums.get(name)
        if cvalues is None:
            bad.append("enum %s is gone" % name)
            continue
        for e, v in values.items():
            if cvalues.get(e) != v:
                bad.append("enum %s: %s was %d, is now %s" % (name, e, v, cvalues.get(e)))
        added += ["enumerator %s::%s = %d" % (name, e, v) for e, v in cvalues.items() if e not in values]
    for line in added:
        print("added: " + line)
    for line in bad:
        print("INCOMPATIBLE: " + line)
    print("%d public functions, %d structs, %d enums in the baseline; %d additions, %d incompatible changes"
          % (len(base.symbols), len(base.structs), len(base.enums), len(added), len(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
