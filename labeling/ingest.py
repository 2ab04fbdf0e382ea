"""Image ingest: validate uploaded files with Pillow, deduplicate by sha256, store the file
and its thumbnail, choose a split. Used by the upload page, the API and import_images.

INTERFACE (implemented by the ingest work; the shape is the contract for callers):

    @dataclass
    class IncomingFile:
        name: str            # the name the user gave it (zip members: their path in the zip)
        file: BinaryIO       # readable, seekable

    @dataclass
    class IngestReport:
        created: list[Image]
        duplicates: list[tuple[str, Image]]    # (incoming name, the image it duplicates)
        rejected: list[tuple[str, str]]        # (incoming name, why)

    def image_ingest(*, project, uploaded_by, files: Iterable[IncomingFile],
                     split: str = "auto", label: LabelClass | None = None,
                     on_progress: Callable[[int], None] | None = None) -> IngestReport
        # `.zip` files are expanded member by member. A label given here is recorded as the
        # uploader's annotation (so consensus rules apply).
"""
