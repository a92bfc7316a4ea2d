#!/usr/bin/env python3
"""translate.py: CUDA sources -> C++ for the CPU emulator (cuda_emu.h).

  translate.py OUTDIR FILE...   writes each FILE to OUTDIR/FILE, with
    name<<<grid, block[, shmem[, stream]]>>>(args);
        -> emu_launch("name", grid, block[, shmem[, stream]], [&]() { name(args); });
    __shared__ T x[N]...;
        -> static T x[N]...; emu_shared_poison(x, sizeof(x));
  The kernel name may carry template arguments (k<true><<<...>>>). Launch arguments are
  evaluated inside the lambda, once per emulated thread, as the kernel's copies of them.
"""
import os
import re
import sys


def skip_balanced(s, i, open_ch, close_ch):
    """s[i] == open_ch; returns the index just past its matching close_ch (strings skipped)."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'":
            q = c
            i += 1
            while s[i] != q:
                i += 2 if s[i] == "\\" else 1
        elif c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced %s" % open_ch)


def kernel_name_start(s, end):
    """the start of the kernel expression that ends at s[end] (an identifier, maybe k<...>)."""
    i = end
    if s[i - 1] == ">":  # template arguments
        depth = 0
        while True:
            i -= 1
            if s[i] == ">":
                depth += 1
            elif s[i] == "<":
                depth -= 1
                if depth == 0:
                    break
    while i > 0 and (s[i - 1].isalnum() or s[i - 1] in "_:"):
        i -= 1
    return i


def translate_launches(src, path):
    out = []
    pos = 0
    while True:
        j = src.find("<<<", pos)
        if j < 0:
            out.append(src[pos:])
            return "".join(out)
        name_end = j
        while src[name_end - 1].isspace():
            name_end -= 1
        name_start = kernel_name_start(src, name_end)
        name = src[name_start:name_end]
        k = src.find(">>>", j)
        config = src[j + 3:k]
        a = k + 3
        while src[a].isspace():
            a += 1
        if src[a] != "(":
            raise ValueError("%s: a launch of %s without an argument list" % (path, name))
        a_end = skip_balanced(src, a, "(", ")")
        args = src[a:a_end]
        out.append(src[pos:name_start])
        base = re.sub(r"<.*", "", name)
        out.append('emu_launch("%s", %s, [&]() { %s%s; })' % (base, config.strip(), name, args))
        pos = a_end


SHARED = re.compile(r"__shared__\s+([A-Za-z_][\w\s:<>,*]*?)\s+([A-Za-z_]\w*)\s*((?:\[[^\]]*\])*)\s*;")


def translate_shared(src):
    return SHARED.sub(lambda m: "static %s %s%s; emu_shared_poison(%s, sizeof(%s));"
                      % (m.group(1), m.group(2), m.group(3), m.group(2), m.group(2)), src)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: translate.py OUTDIR FILE...")
    outdir = sys.argv[1]
    for path in sys.argv[2:]:
        with open(path) as f:
            src = f.read()
        try:
            text = translate_shared(translate_launches(src, path))
        except (ValueError, IndexError) as e:
            sys.exit("translate.py: %s: %s" % (path, e))
        dst = os.path.join(outdir, path)
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        tmp = dst + ".tmp"
        with open(tmp, "w") as f:
            f.write('#line 1 "%s"\n' % path + text)
        os.replace(tmp, dst)


if __name__ == "__main__":
    main()
