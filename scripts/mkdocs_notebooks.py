"""An mkdocs hook: the notebooks in examples/notebooks/ become the site's pages notebooks/*.

The notebooks live beside the other examples, where ``jupyter lab
examples/notebooks`` opens them; the site renders them with mkdocs-jupyter,
which executes each one (they are stored without outputs) and shows its
drawings and plots. mkdocs only sees files under ``docs/``, so this hook
adds the notebooks to the site's files, before mkdocs-jupyter turns ``.ipynb``
files into pages. No copy, no symlink: one source for learners and the site.

Used by mkdocs.yml (``hooks: [scripts/mkdocs_notebooks.py]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@event_priority(100)  # before mkdocs-jupyter's on_files (priority 0) looks for notebooks
def on_files(files: Files, config: Any) -> Files:
    """Add ``examples/notebooks/*.ipynb`` to the site as ``notebooks/*.ipynb``."""
    for path in sorted((EXAMPLES / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{path.name}", src_dir=str(EXAMPLES),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files
