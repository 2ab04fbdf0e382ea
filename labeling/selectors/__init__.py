"""Reads on the labeling side; callers write `from labeling import selectors` or import
the names from here.

- projects: projects_visible_to, projects_with_counts_visible_to, project_members,
  project_member_contributions, label_class_by_name, label_class_usage, project_image_count,
  project_split_progress, project_counts, project_count_table, project_stats
- activity: project_recent_activity (the dashboard's recent labeling and uploads)
- images: images_needing_label_by (the labeling queue), images_to_label_by (less the
  user's skips), images_skipped_by, image_skips_open, images_visible_to,
  images_filtered, images_with_annotation_count, images_with_annotations, ImagePaginator,
  project_conflicts, image_annotations
- quality: project_agreement, project_annotator_figures (agreement and annotator quality)
"""

from labeling.selectors.activity import project_recent_activity
from labeling.selectors.images import (
    ImagePaginator,
    gold_images_unlabeled_by,
    image_annotations,
    image_skips_open,
    images_filtered,
    images_needing_label_by,
    images_skipped_by,
    images_to_label_by,
    images_visible_to,
    images_with_annotation_count,
    images_with_annotations,
    project_conflicts,
    queue_with_gold,
)
from labeling.selectors.projects import (
    label_class_by_name,
    label_class_usage,
    project_count_table,
    project_counts,
    project_image_count,
    project_member_contributions,
    project_members,
    project_split_progress,
    project_stats,
    projects_visible_to,
    projects_with_counts_visible_to,
)
from labeling.selectors.quality import project_agreement, project_annotator_figures

__all__ = [
    "ImagePaginator",
    "gold_images_unlabeled_by",
    "image_annotations",
    "image_skips_open",
    "images_filtered",
    "images_needing_label_by",
    "images_skipped_by",
    "images_to_label_by",
    "images_visible_to",
    "images_with_annotation_count",
    "images_with_annotations",
    "label_class_by_name",
    "label_class_usage",
    "project_agreement",
    "project_annotator_figures",
    "project_conflicts",
    "project_count_table",
    "project_counts",
    "project_image_count",
    "project_member_contributions",
    "project_members",
    "project_recent_activity",
    "project_split_progress",
    "project_stats",
    "projects_visible_to",
    "projects_with_counts_visible_to",
    "queue_with_gold",
]
