"""The training settings' one definition: defaults, ranges and the messages users see."""

import pytest

from classifier.ml import head
from classifier.ml.hyperparameters import NAMES, RANGES, Hyperparameters


def test_no_overrides_give_the_defaults():
    chosen = Hyperparameters.from_overrides(None)

    assert chosen == Hyperparameters()
    assert chosen.as_dict() == {
        "learning_rate": 1e-3,
        "batch_size": 32,
        "max_epochs": 200,
        "patience": 15,
        "seed": 0,
        "fine_tune_blocks": 0,
        "head": "logistic",
    }
    assert tuple(chosen.as_dict()) == NAMES


def test_overrides_are_converted_to_the_settings_types():
    chosen = Hyperparameters.from_overrides({"learning_rate": "0.01", "batch_size": "8"})

    assert (chosen.learning_rate, chosen.batch_size) == (0.01, 8)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dropout": 0.5}, "Unknown hyperparameter(s): dropout."),
        ({"batch_size": "eight"}, "Invalid hyperparameter: invalid literal for int()"),
        ({"seed": None}, "Invalid hyperparameter: int() argument must be"),
        ({"seed": 2**32}, f"seed must be between 0 and {2**32 - 1}."),
        ({"max_epochs": 0}, "max_epochs must be between 1 and 10000."),
        ({"fine_tune_blocks": 16}, "fine_tune_blocks must be between 0 and 15."),
        ({"learning_rate": 1}, "learning_rate must be in (0, 1)."),
        ({"learning_rate": "nan"}, "learning_rate must be in (0, 1)."),
        ({"head": "forest"}, "head must be one of: logistic, keras."),
    ],
)
def test_settings_a_worker_cannot_honour_are_refused_with_the_reason(overrides, message):
    with pytest.raises(ValueError) as error:
        Hyperparameters.from_overrides(overrides)

    assert str(error.value).startswith(message)


def test_every_range_is_checked_at_both_ends():
    for name, (low, high) in RANGES.items():
        assert getattr(Hyperparameters.from_overrides({name: low}), name) == low
        assert getattr(Hyperparameters.from_overrides({name: high}), name) == high
        for outside in (low - 1, high + 1):
            with pytest.raises(ValueError, match=name):
                Hyperparameters.from_overrides({name: outside})


def test_fine_tuning_is_refused_for_a_backbone_that_cannot_be_fine_tuned():
    with pytest.raises(ValueError, match="Fine-tuning needs the efficientnet_lite0 backbone; "):
        Hyperparameters.from_overrides({"fine_tune_blocks": 2}, backbone="mobilenet_v2")

    allowed = Hyperparameters.from_overrides({"fine_tune_blocks": 2}, backbone="efficientnet_lite0")
    assert allowed.fine_tune_blocks == 2


def test_the_head_trains_with_these_defaults_unless_told_otherwise():
    import inspect

    defaults = inspect.signature(head.train_head).parameters
    for name in ("learning_rate", "batch_size", "max_epochs", "patience", "seed"):
        assert defaults[name].default == getattr(Hyperparameters(), name), name
