"""The labeling side's web pages, by concern:

- projects: home, new project, dashboard, members, export;
- upload: the upload page and its batches;
- labeling_page: the labeling page and its JSON endpoints (images in the API's shape);
- images: the grid, the gallery and the image page;
- media: image files and thumbnails, for members only;
- profile: the signed-in user's page: their API token.

Views stay thin: they check the user's role (labeling.permissions), validate with forms,
write through labeling.services and read through labeling.selectors; the pages that show
predictions (the labeling queue's order, the gallery's filters) import the classifier's
selectors and forms. A project a user does not belong to does not exist for them (404); a
member whose role is too low for a page gets 403.
"""
