"""The built package works on its own: the wheel carries the Avro schemas.

Builds the sdist and, from it, the wheel (as a release build does), installs the wheel into a
fresh virtualenv outside the checkout and, from a directory with nothing of the repository in
it, runs ``stocksignal produce --dry-run`` on a sample and decodes every golden sample
(tests/golden) with the installed package's schemas. The virtualenv borrows the dependencies
of the test environment through a ``.pth`` line, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"


# setuptools talks on stdout; the file name it returns is the last line.
BUILD = """
import sys
from setuptools import build_meta
print(getattr(build_meta, sys.argv[1])(sys.argv[2]))
"""


def build(hook: str, out: Path, cwd: Path) -> Path:
    return out / run([sys.executable, "-c", BUILD, hook, str(out)], cwd).strip().splitlines()[-1]


DECODE_GOLDEN = """
import json, sys
from pathlib import Path
import stocksignal
from stocksignal.contract import make_codec
from stocksignal.contract.schemas import repo_root, schema_dir
site = Path(sys.argv[2])
assert Path(stocksignal.__file__).is_relative_to(site), stocksignal.__file__
assert schema_dir() == site / "stocksignal" / "contract" / "avsc", schema_dir()
assert repo_root() is None, repo_root()
codec = make_codec("")
count = 0
for frame in sorted(Path(sys.argv[1]).glob("*.bin")):
    name, record = codec.decode(frame.read_bytes())
    expected = json.loads(frame.with_suffix(".json").read_text())
    assert name == frame.name.split(".")[0], (frame.name, name)
    # A sample written with an archived schema is read with today's: its fields as written,
    # the fields added since at the defaults the installed schema gives them.
    fields = json.loads((schema_dir() / f"{name}.avsc").read_text())["fields"]
    defaults = {f["name"]: f["default"] for f in fields if "default" in f}
    assert record == {**{k: defaults[k] for k in record.keys() - expected.keys()}, **expected}, (frame.name, record, expected)
    count += 1
print(count)
"""

SAMPLE = [
    {
        "type": "StockReceived",
        "sku": "MUG-BLUE",
        "location_id": "WH-BER",
        "qty": 10,
        "reference": "PO-7",
    },
    {
        "type": "OrderPlaced",
        "order_id": "W-1",
        "channel_id": "webshop",
        "lines": [{"sku": "MUG-BLUE", "qty": 2}],
        "hold_expires_at": "+15m",
    },
    {"type": "ChannelConfigured", "channel_id": "webshop", "location_ids": ["WH-BER"]},
]


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{argv} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    sdist = build("build_sdist", out, REPO)
    with tarfile.open(sdist) as tar:
        tar.extractall(out / "src", filter="data")
    (tree,) = (out / "src").iterdir()
    assert sorted(p.name for p in (tree / "schemas").glob("*.avsc")) == sorted(
        p.name for p in (REPO / "schemas").glob("*.avsc")
    ), "the sdist lacks schemas"
    return build("build_wheel", out, tree)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(bin directory, site-packages) of a fresh virtualenv with the wheel installed."""
    home = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(home)], home)
    python = home / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], home
        ).strip()
    )
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        home,
    )
    return home / "bin", site


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKSIGNAL_", "PYTHON"))}
    return {**env, "PYTHONNOUSERSITE": "1"}


def test_the_wheel_carries_every_schema(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"stocksignal/contract/avsc/{p.relative_to(REPO / 'schemas')}"
        for p in [
            *(REPO / "schemas").glob("*.avsc"),
            *(REPO / "schemas" / "history").glob("*.avsc"),
        ]
    }
    assert len(expected) >= 29
    assert expected <= names, sorted(expected - names)


def test_the_installed_command_checks_a_sample(venv, tmp_path: Path) -> None:
    bin_dir, _site = venv
    sample = tmp_path / "day.jsonl"
    sample.write_text("\n".join(json.dumps(line) for line in SAMPLE) + "\n")
    out = run(
        [str(bin_dir / "stocksignal"), "produce", "--dry-run", str(sample)], tmp_path, clean_env()
    )
    assert out.startswith(f"checked 3 event(s) from {sample}:"), out
    assert "1 OrderPlaced          -> inventory.orders.v1" in out


def test_the_installed_package_decodes_the_golden_samples(venv, tmp_path: Path) -> None:
    bin_dir, site = venv
    out = run(
        [str(bin_dir / "python"), "-c", DECODE_GOLDEN, str(GOLDEN), str(site)],
        tmp_path,
        clean_env(),
    )
    assert int(out) == len(list(GOLDEN.glob("*.bin"))) >= 19
