"""MkDocs hooks: the benchmark results and CONTRIBUTING.md join the site from where they
live, so each has one copy (and a strict build checks the links into them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["config_file_path"]).parent
    outside = [("benchmarks", path) for path in sorted((root / "benchmarks" / "results").iterdir())]
    outside.append(("", root / "CONTRIBUTING.md"))
    for base, path in outside:
        if path.suffix not in (".md", ".png"):
            continue
        src_dir = root / base if base else root
        files.append(
            File(
                str(path.relative_to(src_dir)),
                src_dir=str(src_dir),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files
