"""The Models page's accuracy chart shows the validation curve even where it lies exactly on
the training curve (both at 100%, as on an easy project)."""

import pytest

from classifier.models import ModelVersionStatus
from tests.classifier.factories import make_version
from tests.factories import ProjectFactory

pytestmark = pytest.mark.browser

# Counts the pixels of each curve's colour inside the plot area (the legend left out).
COLOUR_COUNTS = """(canvasId) => {
  const chart = Chart.getChart(canvasId);
  const { left, top, right, bottom } = chart.chartArea;
  const ratio = window.devicePixelRatio;
  const context = chart.canvas.getContext("2d");
  const pixels = context.getImageData(left * ratio, top * ratio,
                                      (right - left) * ratio, (bottom - top) * ratio).data;
  let orange = 0, blue = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
    if (r > 200 && g > 90 && g < 170 && b < 80) orange += 1;
    if (b > 200 && r < 160 && g < 200 && b - r > 60) blue += 1;
  }
  return { orange, blue };
}"""


def test_validation_stays_visible_on_top_of_an_identical_training_curve(page_for, owner):
    project = ProjectFactory(name="Easy", created_by=owner)
    version = make_version(project, 1, ModelVersionStatus.ACTIVE, 1.0, 1.0)
    perfect = [0.8, 0.95, 1.0, 1.0, 1.0, 1.0]
    version.metrics["history"]["accuracy"] = perfect
    version.metrics["history"]["val_accuracy"] = perfect
    version.save(update_fields=["metrics"])

    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/models/")
    page.wait_for_function("() => Chart.getChart('accuracy-chart') !== undefined")
    page.wait_for_timeout(500)  # the drawing animation
    counts = page.evaluate(COLOUR_COUNTS, "accuracy-chart")
    assert counts["orange"] > 100, counts  # the validation line, dashed, on top
    assert counts["blue"] > 100, counts  # the training band beside it
