#!/usr/bin/python3
"""tests/abi_layout.py LIB CURRENT.abi - does libmmgen's own layout table
(mmgen/layout.h: mmg_struct_size, mmg_struct_field_offset, mmg_struct_name_at)
agree with the struct layouts libabigail read from the same library's debug
info (`abidw` output, CURRENT.abi)? Bindings trust that table to check their
mirrors, so a struct or field missing from it, or a wrong offset, fails here.
Standard library only (ctypes)."""
import ctypes
import sys
import xml.etree.ElementTree as ET


def abidw_structs(path):
    """name -> (size in bytes, {member: offset in bytes}) for every complete
    mmg_* struct in the abidw description."""
    structs = {}
    for el in ET.parse(path).getroot().iter("class-decl"):
        name = el.get("name") or ""
        if not name.startswith("mmg_") or el.get("is-declaration-only") == "yes":
            continue
        members = {}
        for dm in el.findall("data-member"):
            members[dm.find("var-decl").get("name")] = int(dm.get("layout-offset-in-bits")) // 8
        if name not in structs or len(members) > len(structs[name][1]):
            structs[name] = (int(el.get("size-in-bits", "0")) // 8, members)
    return structs


def main():
    lib = ctypes.CDLL(sys.argv[1])
    lib.mmg_struct_size.restype = ctypes.c_size_t
    lib.mmg_struct_size.argtypes = [ctypes.c_char_p]
    lib.mmg_struct_field_offset.restype = ctypes.c_int64
    lib.mmg_struct_field_offset.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.mmg_struct_name_at.restype = ctypes.c_char_p
    lib.mmg_struct_name_at.argtypes = [ctypes.c_size_t]
    table = []
    while True:
        name = lib.mmg_struct_name_at(len(table))
        if name is None:
            break
        table.append(name.decode())
    problems = []
    described = abidw_structs(sys.argv[2])
    for name, (size, members) in sorted(described.items()):
        if name not in table:
            problems.append(f"{name} is a public struct but not in core/layout.c's table")
            continue
        got = lib.mmg_struct_size(name.encode())
        if got != size:
            problems.append(f"{name}: mmg_struct_size says {got}, the debug info {size}")
        for member, offset in members.items():
            got = lib.mmg_struct_field_offset(name.encode(), member.encode())
            if got != offset:
                problems.append(f"{name}.{member}: mmg_struct_field_offset says {got}, the debug info {offset}")
    # the table's answers for names that do not exist
    if lib.mmg_struct_size(b"no_such_struct") != 0 or lib.mmg_struct_field_offset(b"mmg_batch", b"nope") != -1:
        problems.append("unknown names must give size 0 and offset -1")
    for p in problems:
        print("LAYOUT: " + p)
    checked = [n for n in table if n in described]
    print(f"layout table: {len(table)} structs, {len(checked)} checked against the debug info "
          f"({sum(len(described[n][1]) for n in checked)} fields)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
