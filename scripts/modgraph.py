#!/usr/bin/env python3
"""The module graph of finlake's `src/`: which top-level module imports which.

Dependencies flow one way (ARCHITECTURE.md): a module may use only the modules listed
before it in STAGES. A new top-level module must be added to STAGES at its place; an
import of a later module (an upward import, hence any cycle) fails the check. Test code
(`tests.rs`, `*_tests.rs`, files under a `tests/` folder, `#[cfg(test)] mod ... { }` blocks)
may also use `testkit`; nothing else may. Inside `analytics/` the files follow
SUBSTAGES["analytics"] the same way.

Imports are read from the text: `crate::<module>` anywhere (use lines, paths in code,
doc links excepted) and `use crate::{a, b::c}` groups.

Usage:
  scripts/modgraph.py            print the graph (module -> modules it uses)
  scripts/modgraph.py --check    exit 1 on an upward import, a cycle or an unplaced module
  scripts/modgraph.py --dot      the graph in Graphviz dot
Options: --src DIR (default: src/ beside this script's repository root).
"""

import argparse
import os
import re
import sys
from collections import defaultdict

# Lowest first. Each module may import only the ones before it.
STAGES = [
    "util",  # shared helpers, imports nothing of the crate
    "data",  # the source data model, synthetic data, dataset formats
    "source",  # the source database
    "ingest",  # change events, decoders, apply semantics, the ChangeSource trait
    "lake",  # Delta tables written exactly once; the lake layout
    "features",  # fraud features
    "pipeline",  # the ingestion loops (binlog, Kafka)
    "verify",  # source vs lake
    "engine",  # DataFusion over the lake (knows no source)
    "analytics",  # views, reflections, rule, refresh (an engine extension)
    "flight",  # Flight SQL over any engine
    "serve",  # finlake serve
    "cli",  # the command line
]
# Compiled for tests (and the `test-support` feature) only; above everything.
TEST_ONLY = "testkit"

# Files inside a module that depend one way too (module -> ordered file stems).
SUBSTAGES = {
    "analytics": ["options", "views", "spec", "refresh", "rule", "extension"],
}

# Not modules of the library.
IGNORED = {"main", "lib"}

CRATE_PATH = re.compile(r"\bcrate::(\w+)")
CRATE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)
SUPER_PATH = re.compile(r"\bsuper::(\w+)")


def is_test_file(rel):
    parts = rel.split(os.sep)
    name = parts[-1]
    return name == "tests.rs" or name.endswith("_tests.rs") or "tests" in parts[:-1]


def code_lines(text):
    """(line number, line, in test code) for each line, comments dropped."""
    out = []
    test_depth = None  # brace depth at which a #[cfg(test)] block ends
    depth = 0
    pending_cfg_test = False
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0] if "//" in raw and not raw.strip().startswith("//") else raw
        stripped = raw.strip()
        if stripped.startswith("//"):
            continue
        if stripped.startswith("#[cfg(test)]"):
            pending_cfg_test = True
            out.append((i, line, True))
            continue
        opens, closes = line.count("{"), line.count("}")
        in_test = test_depth is not None
        if pending_cfg_test and not in_test:
            if opens > closes:
                test_depth = depth
                in_test = True
            # `#[cfg(test)] use ...;` or `mod tests;`: that one item only.
            out.append((i, line, True))
            pending_cfg_test = False
            depth += opens - closes
            continue
        out.append((i, line, in_test))
        depth += opens - closes
        if test_depth is not None and depth <= test_depth:
            test_depth = None
    return out


def imports_of(line):
    names = [m.group(1) for m in CRATE_PATH.finditer(line)]
    for m in CRATE_GROUP.finditer(line):
        inner = m.group(1)
        depth, token = 0, ""
        for ch in inner + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if depth == 0 and ch == ",":
                first = re.match(r"\s*(\w+)", token)
                if first:
                    names.append(first.group(1))
                token = ""
            else:
                token += ch
    return names


def scan(src):
    """Edges: (from module, to module) -> [(rel path, line, is test code)], and the
    intra-module edges of SUBSTAGES."""
    edges = defaultdict(list)
    sub_edges = defaultdict(list)
    modules = set()
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith(".rs") else top
            if top in IGNORED:
                continue
            modules.add(top)
            test_file = is_test_file(rel)
            text = open(path, encoding="utf-8").read()
            # A `use crate::{...}` group may span lines: join them first.
            for m in CRATE_GROUP.finditer(text):
                line_no = text.count("\n", 0, m.start()) + 1
                for name in imports_of(m.group(0)):
                    if name != top:
                        edges[(top, name)].append((rel, line_no, test_file))
            parts = rel.split(os.sep)
            stem = parts[1][:-3] if len(parts) > 1 and parts[1].endswith(".rs") else (
                parts[1] if len(parts) > 1 else None
            )
            for line_no, line, in_test in code_lines(text):
                test = test_file or in_test
                for name in CRATE_PATH.findall(line):
                    if name != top:
                        edges[(top, name)].append((rel, line_no, test))
                if top in SUBSTAGES and stem and stem != "mod":
                    subs = SUBSTAGES[top]
                    targets = SUPER_PATH.findall(line) if len(parts) == 2 else []
                    targets += re.findall(r"\bcrate::%s::(\w+)" % top, line)
                    for t in targets:
                        if t in subs and t != stem:
                            sub_edges[(top, stem, t)].append((rel, line_no, test))
    return modules, edges, sub_edges


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(modules, edges, sub_edges):
    problems = []
    rank = {m: i for i, m in enumerate(STAGES)}
    for m in sorted(modules - set(STAGES) - {TEST_ONLY}):
        problems.append(f"src/{m}: a top-level module not placed in STAGES of {__file__}")
    for (a, b), sites in sorted(edges.items()):
        if b not in modules:
            continue  # not a module of ours (e.g. a macro path)
        for rel, line, test in sites:
            where = f"src/{rel}:{line}"
            if b == TEST_ONLY:
                if not test and a != TEST_ONLY:
                    problems.append(f"{where}: {a} uses {TEST_ONLY} outside test code")
                continue
            if a == TEST_ONLY:
                continue
            if a in rank and b in rank and rank[b] >= rank[a]:
                problems.append(
                    f"{where}: {a} uses {b}, which is not below it "
                    f"(stages, lowest first: {', '.join(STAGES)})"
                )
    for (top, a, b), sites in sorted(sub_edges.items()):
        order = SUBSTAGES[top]
        if a in order and order.index(b) >= order.index(a):
            for rel, line, test in sites:
                if not test:
                    problems.append(
                        f"src/{rel}:{line}: {top}::{a} uses {top}::{b}, which is not below it "
                        f"(order: {', '.join(order)})"
                    )
    graph = defaultdict(set)
    for (a, b), sites in edges.items():
        if b in modules and any(not t for _, _, t in sites):
            graph[a].add(b)
    for comp in cycles(graph):
        problems.append(f"import cycle between top-level modules: {' <-> '.join(comp)}")
    return problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(
        description="finlake's module graph: print it, or --check that it flows one way.",
        epilog="Stages (lowest first): " + ", ".join(STAGES),
    )
    p.add_argument("--src", default=os.path.join(os.path.dirname(here), "src"))
    p.add_argument("--check", action="store_true", help="fail on an upward import or a cycle")
    p.add_argument("--dot", action="store_true", help="print the graph in Graphviz dot")
    args = p.parse_args()
    if not os.path.isdir(args.src):
        print(f"modgraph: no source directory {args.src}", file=sys.stderr)
        return 2
    modules, edges, sub_edges = scan(args.src)
    graph = defaultdict(set)
    for (a, b), sites in edges.items():
        if b in modules and any(not t for _, _, t in sites):
            graph[a].add(b)
    if args.check:
        problems = check(modules, edges, sub_edges)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print(f"modgraph: {len(problems)} problem(s)", file=sys.stderr)
            return 1
        print(f"modgraph: {len(modules)} modules, dependencies flow one way")
        return 0
    order = [m for m in STAGES if m in modules] + sorted(modules - set(STAGES))
    if args.dot:
        print("digraph finlake {\n  rankdir=BT;")
        for a in order:
            for b in sorted(graph.get(a, ())):
                print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    for a in order:
        print(f"{a} -> {', '.join(sorted(graph.get(a, ()), key=order.index)) or '(nothing)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
