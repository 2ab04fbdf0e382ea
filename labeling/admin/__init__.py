"""The Django admin for the labeling side: staff administer every project here.

Writes go through labeling.services, as everywhere else, so the admin keeps the same rules
(a project keeps an owner, consensus follows every annotation change, a review is final).
Images only come in through ingest (upload page, API, import_images), which validates them,
so the admin cannot add one. Pictures are shown through the permission-checked media views,
never through a public media URL.

Project and Image are registered here once (projects, images), with the classifier's
columns, actions and predictions inline mixed in from classifier.admin.for_labeling and
named in their list_display, actions and inlines (the admin is a page that shows both
apps). The HTML is in templates/admin/labeling/, its style in
static/css/app.css.

Modules: projects (projects, their classes and members), images (images and annotations),
team (invitations and skips), base (what they share).
"""

from labeling.admin import images, projects, team  # noqa: F401  (they register the admins)
