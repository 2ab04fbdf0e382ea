"""The classifier's packages import each other one way only: the worker side
(classifier.worker) uses the services, never the reverse, and the services touch classifier.ml
only for its TensorFlow-free definition of the training settings."""

import ast
from pathlib import Path

import classifier

CLASSIFIER = Path(classifier.__file__).parent


def imports_of(package: str) -> dict[str, set[str]]:
    """{module file: names of the modules it imports}, for every module of the package."""
    found = {}
    for path in sorted((CLASSIFIER / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(CLASSIFIER))] = names
    return found


def test_the_services_never_import_the_worker_side_nor_tensorflow_code():
    offenders = {
        module: sorted(
            name
            for name in names
            if name.startswith(("classifier.worker", "tensorflow", "keras"))
            or (
                name.startswith("classifier.ml")
                and not name.startswith("classifier.ml.hyperparameters")
            )
        )
        for module, names in imports_of("services").items()
    }

    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_worker_side_is_built_on_the_services_and_classifier_ml():
    imported = set().union(*imports_of("worker").values())

    assert any(name.startswith("classifier.services") for name in imported)
    assert any(name.startswith("classifier.ml") for name in imported)
