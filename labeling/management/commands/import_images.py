"""manage.py import_images PROJECT DIR: import an ImageFolder tree into a project."""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from tqdm import tqdm

from labeling.ingest import (
    AUTO_SPLIT,
    IncomingFile,
    IngestReport,
    image_ingest,
    storage_failure_detail,
)
from labeling.management.arguments import project_from_argument, user_from_argument
from labeling.models import LabelClass, Project, Split
from labeling.permissions import can_annotate

# Folder names of the DIR/<split>/<class>/* layout (case-insensitive), with the usual aliases.
SPLIT_FOLDERS = {
    "train": Split.TRAIN,
    "training": Split.TRAIN,
    "validation": Split.VALIDATION,
    "val": Split.VALIDATION,
    "valid": Split.VALIDATION,
    "test": Split.TEST,
    "testing": Split.TEST,
}


@dataclass
class ClassFolder:
    path: Path
    label: LabelClass
    split: str | None  # from a DIR/<split>/<class> layout
    files: list[Path]


@dataclass
class ImageFolderLayout:
    folders: list[ClassFolder] = field(default_factory=list)
    unknown_folders: list[tuple[Path, int]] = field(default_factory=list)  # (folder, files)
    stray_files: list[Path] = field(default_factory=list)  # not inside a class folder


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name == "__MACOSX"


def _visible_children(directory: Path) -> tuple[list[Path], list[Path]]:
    children = sorted(child for child in directory.iterdir() if not _is_hidden(child))
    return [c for c in children if c.is_dir()], [c for c in children if c.is_file()]


def _files_below(directory: Path) -> list[Path]:
    directories, files = _visible_children(directory)
    for subdirectory in directories:
        files += _files_below(subdirectory)
    return files


def image_folder_layout(root: Path, *, project: Project) -> ImageFolderLayout:
    """Find DIR/<class>/* or DIR/<split>/<class>/* (every top folder a split name)."""
    classes = {label.name.lower(): label for label in project.classes.all()}
    layout = ImageFolderLayout()
    top_folders, top_files = _visible_children(root)
    layout.stray_files += top_files
    split_layout = bool(top_folders) and all(
        folder.name.lower() in SPLIT_FOLDERS for folder in top_folders
    )
    if split_layout:
        candidates: list[tuple[Path, Split | None]] = []
        for split_folder in top_folders:
            class_folders, stray = _visible_children(split_folder)
            layout.stray_files += stray
            folder_split = SPLIT_FOLDERS[split_folder.name.lower()]
            candidates += [(folder, folder_split) for folder in class_folders]
    else:
        candidates = [(folder, None) for folder in top_folders]
    for folder, split in candidates:
        files = _files_below(folder)
        label = classes.get(folder.name.lower())
        if label is None:
            layout.unknown_folders.append((folder, len(files)))
        else:
            layout.folders.append(ClassFolder(folder, label, split, files))
    return layout


def _incoming(files: list[Path], root: Path):
    # One file open at a time: ingest reads each file whole before asking for the next.
    for path in files:
        with path.open("rb") as stream:
            yield IncomingFile(name=path.relative_to(root).as_posix(), file=stream)


class _BarStream:
    """tqdm's output through the command's stderr, without OutputWrapper's line endings."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, style_func=str, ending="")  # not in the error colour

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return self._wrapper.isatty()


class Command(BaseCommand):
    help = (
        "Import images from an ImageFolder tree, DIR/<class>/* or DIR/<split>/<class>/*, "
        "into a project, with the same validation and duplicate check as uploads. The folder's "
        "class is recorded as the user's annotation."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or exact name")
        parser.add_argument("directory", type=Path, help="the ImageFolder root")
        parser.add_argument(
            "--user",
            help="username recorded as uploader and annotator (default: the project's first owner)",
        )
        parser.add_argument(
            "--split",
            choices=[AUTO_SPLIT, *Split.values],
            help="put every image in this split, overriding split folders (default: the split "
            "folder, else automatic)",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar, only the summary"
        )

    def handle(self, *args, **options):
        project = project_from_argument(options["project"])
        root: Path = options["directory"]
        if not root.is_dir():
            raise CommandError(f"{root} is not a directory.")
        user = user_from_argument(options["user"], project=project)
        if not can_annotate(user=user, project=project):
            raise CommandError(f"{user} cannot add images to {project.name!r}: not an owner or "
                               "annotator (or staff).")  # fmt: skip

        layout = image_folder_layout(root, project=project)
        if not layout.folders:
            names = ", ".join(label.name for label in project.classes.all())
            raise CommandError(f"No class folders ({names}) found in {root}.")

        total = sum(len(folder.files) for folder in layout.folders)
        report = IngestReport()
        stored_by_class: Counter[str] = Counter()
        with tqdm(
            total=total,
            unit="file",
            desc="Importing",
            file=_BarStream(self.stderr),
            disable=True if options["no_progress"] else None,  # None: only on a terminal
        ) as bar:
            for folder in layout.folders:
                counted = 0

                def advance(done: int) -> None:
                    nonlocal counted
                    bar.update(done - counted)
                    counted = done

                folder_report = image_ingest(
                    project=project,
                    uploaded_by=user,
                    files=_incoming(folder.files, root),
                    split=options["split"] or folder.split or AUTO_SPLIT,
                    label=folder.label,
                    on_progress=advance,
                )
                report.created += folder_report.created
                report.duplicates += folder_report.duplicates
                report.rejected += folder_report.rejected
                stored_by_class[folder.label.name] += len(folder_report.created)
                if folder_report.storage_failure is not None:
                    # Nothing more can be stored: the later folders are not read at all.
                    report.storage_failure = folder_report.storage_failure
                    break

        self._summarise(project, root, layout, report, stored_by_class, options["verbosity"])
        if report.storage_failure is not None:
            attempted = len(report.created) + len(report.duplicates) + len(report.rejected)
            raise CommandError(
                f"{storage_failure_detail(report)} {total - attempted} file(s) in later class "
                "folders were not read. Free space (or fix the storage) and run the same "
                "command again: the images already stored are reported as duplicates."
            )

    def _summarise(self, project, root, layout, report, stored_by_class, verbosity):
        write = self.stdout.write
        splits = Counter(image.split for image in report.created)
        write(f"Imported {root} into {project.name!r} (project {project.pk}):")
        write(
            self.style.SUCCESS(f"  stored      {len(report.created):>6}")
            + "   ("
            + ", ".join(f"{split} {splits[split]}" for split in Split.values)
            + "; "
            + ", ".join(f"{name} {count}" for name, count in sorted(stored_by_class.items()))
            + ")"
        )
        write(f"  duplicates  {len(report.duplicates):>6}")
        rejected_line = f"  rejected    {len(report.rejected):>6}"
        write(self.style.WARNING(rejected_line) if report.rejected else rejected_line)
        for name, reason in report.rejected:
            write(f"    {name}: {reason}")
        if verbosity >= 2:
            for name, original in report.duplicates:
                write(f"    {name}: duplicate of image {original.pk} ({original.original_name})")
        for folder, count in layout.unknown_folders:
            write(
                self.style.WARNING(
                    f"  skipped folder {folder.relative_to(root).as_posix()}/ ({count} files): "
                    "not a class of this project"
                )
            )
        if layout.stray_files:
            write(
                self.style.WARNING(
                    f"  skipped files outside a class folder: {len(layout.stray_files)}"
                )
            )
            if verbosity >= 2:
                for path in layout.stray_files:
                    write(f"    {path.relative_to(root).as_posix()}")
