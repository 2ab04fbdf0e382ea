"""classifier.ml stays a corner: no Django, no other project code, TensorFlow only on use."""

import ast
import subprocess
import sys
from pathlib import Path

import classifier.ml

PACKAGE_DIR = Path(classifier.ml.__file__).parent


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_no_module_imports_django_or_other_project_code():
    project_packages = {"labeling", "labelplatform", "tests", "classifier"}
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in {"django", "rest_framework", "celery"} or (
                    top in project_packages and not name.startswith("classifier.ml")
                ):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_importing_the_package_does_not_import_tensorflow():
    result = run_python(
        "import sys, classifier.ml\n"
        "from classifier.ml import evaluate, decode_image\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )

    assert result.returncode == 0, result.stderr


def test_using_the_package_loads_no_django():
    result = run_python(
        "import sys, tempfile, numpy as np\n"
        "from classifier.ml import load_backbone, train_head\n"
        "from tests.classifier import tiny_backbone\n"
        "tiny_backbone.register()\n"
        "b = load_backbone('tiny', weights_dir=tempfile.mkdtemp())\n"
        "from PIL import Image; import io\n"
        "buf = io.BytesIO(); Image.new('RGB', (8, 8), 'red').save(buf, 'PNG')\n"
        "x = b.embed([buf.getvalue()] * 4)\n"
        "y = np.array([0, 1, 0, 1])\n"
        "train_head(train_x=x, train_y=y, val_x=x, val_y=y, num_classes=2, max_epochs=2)\n"
        "assert 'tensorflow' in sys.modules\n"
        "project = ('django', 'labeling', 'labelplatform')\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in project)\n"
        "assert not leaked, leaked\n"
    )

    assert result.returncode == 0, result.stderr
