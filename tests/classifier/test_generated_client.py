"""The schema is one a real client can use: the client `openapi-python-client` generates from
the live /api/schema/ imports, type-checks a labeling flow under `mypy --strict`, and runs it
(token, project, upload, label, retrain, predict, export) on a live server with a real worker
on the tiny backbone.

The generated client goes into the test's temporary folder, never into the repository. The
flow is generated_client_flow.py, beside this file: it reads as a new user's script.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.factories import UserFactory
from tests.support.labeled_images import CLASS_COLORS
from tests.support.pixels import noisy_colour_images

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FLOW = Path(__file__).with_name("generated_client_flow.py")
PACKAGE = "label_platform_client"
# No post-hooks: the generator would run ruff over its output, which costs time and changes
# nothing a client's behaviour depends on.
GENERATOR_CONFIG = f"package_name_override: {PACKAGE}\npost_hooks: []\n"
MYPY_CONFIG = "[mypy]\nstrict = True\nwarn_unreachable = True\n"
IMAGES_PER_SPLIT = {"train": 6, "validation": 3, "test": 3}


def run(command: list[str], *, cwd: Path, timeout: float) -> str:
    """Run `command`; its output, or a failure that shows it."""
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command[:4])}... exited {done.returncode}:\n{output}"
    return output


def client_generate(*, schema_url: str, into: Path) -> None:
    schema = requests.get(schema_url, timeout=30)
    assert schema.status_code == 200, schema.text[:500]
    (into / "schema.json").write_bytes(schema.content)
    (into / "generator.yaml").write_text(GENERATOR_CONFIG)
    output = run(
        [
            sys.executable, "-m", "openapi_python_client", "generate",
            "--path", "schema.json", "--config", "generator.yaml", "--meta", "none",
            "--output-path", PACKAGE, "--fail-on-warning",
        ],
        cwd=into,
        timeout=60,
    )  # fmt: skip
    assert "Warning" not in output, output


def image_folder(root: Path) -> Path:
    """An ImageFolder <split>/<class>/*.png of colours the tiny backbone tells apart."""
    seed = 0
    for split, count in IMAGES_PER_SPLIT.items():
        for class_name, colour in CLASS_COLORS.items():
            folder = root / split / class_name
            folder.mkdir(parents=True)
            seed += 1
            for index, png in enumerate(noisy_colour_images(colour, count, seed=seed)):
                (folder / f"{class_name}-{split}-{index}.png").write_bytes(png)
    return root


def test_the_generated_client_imports_type_checks_and_runs_a_labeling_flow(
    worker, live_server, tmp_path
):
    UserFactory(username="newcomer")  # password "password"
    client_generate(schema_url=f"{live_server.url}/api/schema/?format=json", into=tmp_path)

    # Every generated module imports, not only those the flow uses.
    run(
        [
            sys.executable, "-c",
            "import importlib, pkgutil, label_platform_client as p\n"
            "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.'):\n"
            "    importlib.import_module(m.name)",
        ],
        cwd=tmp_path,
        timeout=60,
    )  # fmt: skip

    (tmp_path / "flow.py").write_text(FLOW.read_text())
    (tmp_path / "mypy.ini").write_text(MYPY_CONFIG)
    run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "flow.py"],
        cwd=tmp_path,
        timeout=120,
    )

    images = image_folder(tmp_path / "images")
    output = run(
        [sys.executable, "flow.py", live_server.url, "newcomer", "password", str(images)],
        cwd=tmp_path,
        timeout=180,
    )
    assert "flow done" in output
