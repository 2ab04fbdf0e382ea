"""Print pyproject.toml's pinned requirements, one a line, for `pip install -r`.

    python scripts/pinned_requirements.py base      # the web process: no TensorFlow
    python scripts/pinned_requirements.py worker    # only the `[worker]` extra

The Dockerfile installs dependencies from these lists before it copies the code, so a code
change does not reinstall them; pyproject.toml stays the one place versions are pinned.
Standard library only: it runs in a bare python image.
"""

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def pinned_requirements(group: str, pyproject: Path = PYPROJECT) -> list[str]:
    """`base` for the project's dependencies, otherwise the optional extra of that name."""
    project = tomllib.loads(pyproject.read_text())["project"]
    if group == "base":
        return list(project["dependencies"])
    extras = project.get("optional-dependencies", {})
    if group not in extras:
        raise SystemExit(f"no group {group!r} in {pyproject.name}: base, {', '.join(extras)}")
    return list(extras[group])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print("\n".join(pinned_requirements(sys.argv[1])))
