#!/usr/bin/env python3
"""Checks that no module imports one above it: every `import` of a Crystalline module in
Sources/<Module>/ must be one of the modules listed for it below, which is the graph drawn in
docs/ARCHITECTURE.md. Exit status 1 and the offending files if not."""
import pathlib
import re
import sys

# Module -> the project modules it may import (system and package modules are not checked).
ALLOWED = {
    "CCPUFeatures": set(),
    "CKernels": set(),
    "CrystallineCompute": {"CCPUFeatures", "CKernels"},
    "CZlib": set(),
    "CrystallineFormats": {"CZlib"},
    "CrystallineLattice": {"CrystallineFormats"},
    "CrystallineTokenizers": {"CrystallineFormats"},
    "CrystallineModel": {"CrystallineCompute", "CrystallineLattice"},
    "CrystallineInterop": {"CrystallineModel", "CrystallineTokenizers", "CrystallineFormats", "CrystallineCompute"},
    "CrystallineInference": {"CrystallineInterop", "CrystallineModel", "CrystallineTokenizers", "CrystallineFormats", "CrystallineCompute"},
    "CrystallineData": {"CrystallineFormats", "CrystallineTokenizers", "CrystallineCompute"},
    "CrystallineTraining": {"CrystallineModel", "CrystallineData", "CrystallineInterop", "CrystallineTokenizers",
                            "CrystallineFormats", "CrystallineCompute", "CrystallineLattice"},
    "CrystallineBenchmarks": {"CrystallineTraining", "CrystallineInference", "CrystallineModel", "CrystallineCompute"},
    "CrystallineServer": {"CrystallineInference", "CrystallineTraining", "CrystallineInterop", "CrystallineData",
                          "CrystallineLattice", "CrystallineModel", "CrystallineTokenizers", "CrystallineFormats"},
    "CrystallineIngest": {"CrystallineFormats"},
    "CSQLite": set(),
    "CrystallineCrawl": {"CrystallineIngest", "CrystallineFormats", "CSQLite"},
    "CrystallineFuzzing": {"CrystallineCrawl", "CrystallineIngest", "CrystallineTraining", "CrystallineData", "CrystallineInterop", "CrystallineModel",
                           "CrystallineTokenizers", "CrystallineFormats"},
    "CMPILoader": set(),
    "CrystallineDistributed": {"CMPILoader", "CrystallineTraining", "CrystallineCompute"},
    "cllm-fuzz": {"CrystallineFuzzing"},
    "cllm": None,  # the front end may use every library module
}
PROJECT = set(ALLOWED) - {"cllm", "cllm-fuzz"}

root = pathlib.Path(__file__).resolve().parent.parent
bad = []
for module_dir in sorted((root / "Sources").iterdir()):
    module = module_dir.name
    if module not in ALLOWED:
        bad.append(f"{module}: not in the layering table of scripts/check_layering.py (add it, and to docs/ARCHITECTURE.md)")
        continue
    allowed = ALLOWED[module]
    for path in module_dir.rglob("*.swift"):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\s*(?:@testable\s+)?import\s+(\w+)", line)
            if m and m.group(1) in PROJECT and allowed is not None and m.group(1) not in allowed:
                bad.append(f"{path.relative_to(root)}: {module} imports {m.group(1)}")
if bad:
    print("layering violations:\n  " + "\n  ".join(bad))
    sys.exit(1)
print(f"layering: {len(ALLOWED)} modules, no module imports one above it")
