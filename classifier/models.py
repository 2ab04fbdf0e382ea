"""Training runs, model versions and predictions (the "Classifier workers" issue)."""
