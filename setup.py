"""Build hook: ship the Avro schemas inside the package.

The schemas live in ``schemas/`` at the repository root (docs/contract.md#evolving-a-schema
edits them there), outside the ``stocksignal`` package, so setuptools' package data cannot
name them. This copies ``schemas/*.avsc`` and ``schemas/history/*.avsc`` to
``stocksignal/contract/avsc/`` in the build, where an installed package looks first
(``stocksignal.contract.schemas.schema_dir``). Everything else is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SCHEMAS = ROOT / "schemas"
TARGET = Path("stocksignal", "contract", "avsc")


class BuildWithSchemas(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout's schemas/ directly
        files = sorted(SCHEMAS.glob("*.avsc"))
        if not files:
            raise SystemExit(
                f"no Avro schemas in {SCHEMAS}: the package would not work without them"
            )
        for source in files + sorted((SCHEMAS / "history").glob("*.avsc")):
            relative = source.relative_to(SCHEMAS)
            destination = Path(self.build_lib) / TARGET / relative
            self.mkpath(str(destination.parent))
            self.copy_file(str(source), str(destination))


setup(cmdclass={"build_py": BuildWithSchemas})
