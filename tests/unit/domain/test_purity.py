"""The core imports only the standard library, and nothing that reads a clock or randomness.

The check walks every module of ``stocksignal.domain`` with ``ast``, so an import hidden in a
function body is caught as well as one at the top.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import stocksignal.domain

DOMAIN_DIR = Path(stocksignal.domain.__file__).parent

# Standard-library modules that would make the core impure: clocks, randomness, I/O.
IMPURE_STDLIB = {
    "time",
    "datetime",
    "random",
    "secrets",
    "os",
    "io",
    "socket",
    "threading",
    "asyncio",
    "subprocess",
    "multiprocessing",
    "pathlib",
    "shutil",
    "tempfile",
    "logging",
    "sqlite3",
    "urllib",
    "http",
    "select",
    "signal",
}


def forbidden_imports(source: str, filename: str) -> list[str]:
    """Imports in ``source`` other than relative, ``stocksignal.domain`` or pure stdlib ones."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the package
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if name == "stocksignal.domain" or name.startswith("stocksignal.domain."):
                continue
            if top == "__future__":
                continue
            if top not in sys.stdlib_module_names or top in IMPURE_STDLIB:
                found.append(f"{filename}:{node.lineno}: import {name}")
    return found


def domain_modules() -> list[Path]:
    return sorted(DOMAIN_DIR.rglob("*.py"))


def test_the_walk_covers_every_module_of_the_domain_package():
    names = {p.relative_to(DOMAIN_DIR).as_posix() for p in domain_modules()}
    assert {"__init__.py", "engine.py", "validation.py", "handlers/warehouse.py"} <= names


def test_domain_imports_only_pure_standard_library_modules():
    problems = []
    for path in domain_modules():
        problems += forbidden_imports(path.read_text(), str(path.relative_to(DOMAIN_DIR)))
    assert problems == []


def test_the_checker_catches_third_party_clock_and_hidden_imports(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import json\n"
        "from . import state\n"
        "import kafka\n"
        "from confluent_kafka import Producer\n"
        "from stocksignal.processor import app\n"
        "def later():\n"
        "    import time\n"
        "    from faust import App\n"
    )

    assert forbidden_imports(bad.read_text(), "bad.py") == [
        "bad.py:3: import kafka",
        "bad.py:4: import confluent_kafka",
        "bad.py:5: import stocksignal.processor",
        "bad.py:7: import time",
        "bad.py:8: import faust",
    ]


def test_importing_the_domain_loads_no_third_party_package():
    import subprocess

    code = (
        "import sys, stocksignal.domain\n"
        "bad = {'faust','aiokafka','confluent_kafka','redis','prometheus_client','fastavro',"
        "'orjson','aiohttp'} & set(sys.modules)\n"
        "print(sorted(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
