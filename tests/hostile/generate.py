#!/usr/bin/env python3
"""Writes the large and binary hostile inputs of tests/hostile/ into a directory.

The small cases are committed in tests/hostile/cases/; these are generated because they are
large (a 100 MB manifest, 10,000-deep nesting, 200,000-key mappings) or not text (invalid
UTF-8, UTF-16, random bytes), which do not belong in git. Deterministic: the same bytes on
every run. tests/hostile/expect.json says what rbac-gate must do with each.

Usage: generate.py OUTDIR [--no-huge]   (--no-huge skips the 100 MB manifest)
"""
import codecs
import os
import random
import sys

DEPTH = 10_000
CRB = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: runner-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: ci
"""


def configmap(name, data_lines):
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: ci\ndata:\n" % name
            + "".join(data_lines))


def cases(huge):
    # --- alias bombs ---------------------------------------------------------------------
    # Billion laughs: 10 levels of ten aliases each expand to 10^10 nodes.
    lines = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    for i in range(1, 11):
        lines.append("  a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)))
    yield "alias-bomb.yaml", configmap("lol", lines) + "---\n" + CRB
    # The same in block style, quadratic rather than exponential: 3,000 aliases of a
    # 3,000-item list.
    items = "".join("  - item%d\n" % i for i in range(3000))
    yield "alias-bomb-wide.yaml", ("base: &base\n" + items + "copies:\n"
                                   + "".join("- *base\n" for _ in range(3000)))
    # Anchors nested around one big list: each level's copy would hold the whole list.
    inner = "[" + ",".join(["x"] * 300_000) + "]"
    text = inner
    for i in range(200):
        text = "&n%d [%s]" % (i, text)
    yield "alias-bomb-nested-anchors.yaml", "k: " + text + "\n"
    # Merge keys (`<<`) with aliases of aliases.
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n"]
    for i in range(1, 12):
        refs = ", ".join("k%d: *m%d" % (k, i - 1) for k in range(10))
        lines.append("m%d: &m%d {<<: *m%d, %s}\n" % (i, i, i - 1, refs))
    yield "alias-bomb-merge-keys.yaml", "".join(lines)
    # 100,000 anchors and 100,000 aliases: lookups must not scan every anchor.
    yield "many-aliases.yaml", ("anchors:\n" + "".join("- &a%d x%d\n" % (i, i) for i in range(100_000))
                                + "aliases:\n" + "".join("- *a0\n" for _ in range(100_000)))

    # --- 10,000-deep nesting -----------------------------------------------------------------
    yield "deep-flow-sequence.yaml", "[" * DEPTH + "]" * DEPTH + "\n"
    yield "deep-flow-mapping.yaml", "{a: " * DEPTH + "b" + "}" * DEPTH + "\n"
    yield "deep-block-sequence.yaml", "- " * DEPTH + "x\n"
    # Block mappings nested through explicit keys (`? ? ? x`): 10,000 levels on one line
    # (indenting each level would take 50 MB).
    yield "deep-block-mapping.yaml", "? " * DEPTH + "x\n"
    yield "deep-json.json", '{"a":' * DEPTH + "1" + "}" * DEPTH + "\n"
    yield "deep-list-items.yaml", ("apiVersion: v1\nkind: List\nitems:\n"
                                   + "- " * DEPTH + "x\n")
    yield "deep-array.toml", "concurrent = 1\nx = " + "[" * DEPTH + "]" * DEPTH + "\n"
    yield "deep-inline-table.toml", "concurrent = 1\nx = " + "{a = " * DEPTH + "1" + "}" * DEPTH + "\n"
    yield "deep-configmap-toml.yaml", configmap("gitlab-runner", [
        "  config.toml: |\n", "    concurrent = 1\n", "    [[runners]]\n",
        "    x = " + "[" * DEPTH + "]" * DEPTH + "\n"])

    # --- size ------------------------------------------------------------------------------
    # A mapping with 200,000 keys: duplicate-key checks must not be quadratic.
    yield "wide-mapping.yaml", configmap("wide", ["  key%d: value\n" % i for i in range(200_000)]) + "---\n" + CRB
    # A 10 MB line.
    yield "long-line.yaml", (configmap("long", ["  blob: " + "A" * (10 * 1024 * 1024) + "\n"])
                             + "---\n" + CRB)
    if huge:
        # A 100 MB manifest: a ConfigMap carrying a 100 MB bundle, then the binding to find.
        chunk = "    " + "0123456789abcdef" * 4 + "\n"  # 69 bytes
        body = chunk * (100 * 1024 * 1024 // len(chunk))
        yield "huge-100mb.yaml", configmap("bundle", ["  bundle.pem: |\n", body]) + "---\n" + CRB

    # --- not UTF-8, not text -----------------------------------------------------------------
    rng = random.Random(20261126)
    yield "binary-random.yaml", bytes(rng.getrandbits(8) for _ in range(64 * 1024))
    yield "binary-elf.yaml", b"\x7fELF\x02\x01\x01\x00" + bytes(rng.getrandbits(8) for _ in range(4096))
    yield "latin1.yaml", CRB.replace("runner-admin", "caf\u00e9-admin").encode("latin-1")
    yield "utf16le-bom.yaml", codecs.BOM_UTF16_LE + CRB.encode("utf-16-le")
    yield "utf16be.yaml", CRB.encode("utf-16-be")
    yield "truncated-utf8.yaml", CRB.encode() + "# \u00e9".encode()[:-1]
    yield "gzip.yaml", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(rng.getrandbits(8) for _ in range(2048))
    # Valid UTF-8 that is still binary: NUL and C0/C1 control characters.
    yield "binary-utf8.yaml", "".join(chr(rng.choice([0, 1, 2, 7, 8, 0x0b, 0x0c, 0x1b, 0x7f, 0x85, 0x9b, 0xfeff]))
                                      for _ in range(4096))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    huge = "--no-huge" not in sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for name, data in cases(huge):
        path = os.path.join(out, name)
        data = data.encode() if isinstance(data, str) else data
        # Rewriting 100 MB on every test run is slow: keep an identical file.
        if os.path.exists(path) and os.path.getsize(path) == len(data):
            with open(path, "rb") as f:
                if f.read() == data:
                    continue
        with open(path, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
