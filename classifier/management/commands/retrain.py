"""manage.py retrain PROJECT: start (or join) the project's training and wait for it.

Reads the run's row (the same one the Jobs page shows) twice a second and draws its
progress with tqdm; prints the version it produced with its metrics. Exits non-zero when
the run fails or is cancelled, or when --timeout passes first (the run carries on).
"""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier.ml.hyperparameters import NAMES as HYPERPARAMETERS
from classifier.models import JobStatus, ModelVersion, TrainingRun
from classifier.services import training_run_start
from labeling.models import Project


class Command(BaseCommand):
    help = "Retrain a project's classifier (by id or name) and wait for the result."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or name")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Stop waiting after this many seconds"
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue the run and return at once"
        )
        # Overrides of the defaults (classifier.ml.hyperparameters) for this run, one option
        # per hyperparameter; the training service checks the values.
        helps = {
            "fine_tune_blocks": (
                "The slower mode: also train the backbone's top N blocks (efficientnet_lite0)"
            )
        }
        for name in HYPERPARAMETERS:
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                type=float if name == "learning_rate" else int,
                help=helps.get(name),
            )

    def handle(self, *args, project: str, timeout: float, no_wait: bool, **options):
        target = self._project(project)
        hyperparameters = {
            key: options[key] for key in HYPERPARAMETERS if options.get(key) is not None
        }
        try:
            run, created = training_run_start(
                project=target, requested_by=None, hyperparameters=hyperparameters
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"{'Started' if created else 'Joined the already ' + run.status} training run "
            f"{run.pk} of {target.name}."
        )
        if no_wait:
            return
        run = self._wait(run, timeout=timeout)
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Training run {run.pk} {run.status}: {run.error or 'no error'}")
        self._report(ModelVersion.objects.get(training_run=run))

    def _project(self, given: str) -> Project:
        projects = (
            Project.objects.filter(pk=int(given)) if given.isdigit() else Project.objects.none()
        )
        if not projects:
            projects = Project.objects.filter(name=given)
        if len(projects) != 1:
            found = "No project" if not projects else f"{len(projects)} projects"
            raise CommandError(f"{found} with id or name {given!r}.")
        return projects[0]

    def _wait(self, run: TrainingRun, *, timeout: float) -> TrainingRun:
        deadline = time.monotonic() + timeout
        noted = False
        with tqdm(total=100, unit="%", file=self.stdout, dynamic_ncols=True) as bar:
            while True:
                run.refresh_from_db()
                bar.set_description(self._describe(run))
                bar.update(run.progress - bar.n)
                if run.is_finished:
                    return run
                if run.enqueued_at is None and run.dispatch_error and not noted:
                    bar.write(run.dispatch_error)
                    noted = True
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Gave up waiting after {timeout:.0f} s; run {run.pk} is still "
                        f"{run.status} and carries on."
                    )
                time.sleep(0.5)

    @staticmethod
    def _describe(run: TrainingRun) -> str:
        if run.status != JobStatus.RUNNING:
            return run.status
        if run.phase == "training":
            return f"training, epoch {run.epoch}"
        return run.phase or "running"

    def _report(self, version: ModelVersion) -> None:
        metrics = version.metrics
        self.stdout.write(
            f"Version {version.version} ({version.status}) of {version.project.name}: "
            f"test accuracy {metrics['accuracy']:.3f}, validation accuracy "
            f"{metrics['validation_accuracy']:.3f}, best epoch {metrics.get('best_epoch')}."
        )
        self.stdout.write(version.status_reason)
        for name, row in metrics.get("per_class", {}).items():
            self.stdout.write(
                f"  {name:<20} precision {row['precision']:.3f}  recall {row['recall']:.3f}"
                f"  f1 {row['f1']:.3f}  support {row['support']}"
            )
        matrix = metrics.get("confusion_matrix")
        if matrix:
            self.stdout.write(f"  confusion matrix (rows: true class): {matrix}")
