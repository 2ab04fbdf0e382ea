"""The team's records in the admin: invitations (who was asked in, as what, and what became
of it; open ones can be revoked, as on the project's page) and skips (who set which images
aside). Both are written by the site's pages and the API, never edited here."""

from django.contrib import admin, messages
from django.db.models import QuerySet

from classifier.admin.base import ReadOnlyAdmin
from labeling.invitations import invitation_revoke
from labeling.models import ImageSkip, Invitation


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "project", "role", "state", "invited_by", "created_at",
                    "expires_at", "accepted_by"]  # fmt: skip
    list_filter = ["role", "project", "created_at"]
    list_select_related = ["project", "invited_by", "accepted_by"]
    search_fields = ["email", "project__name", "invited_by__username"]
    exclude = ["token_sha256"]  # a hash, but nothing anyone needs to see
    actions = ["revoke_selected"]

    @admin.action(description="Revoke the selected invitations (open ones)")
    def revoke_selected(self, request, queryset: QuerySet[Invitation]) -> None:
        revoked = 0
        for invitation in queryset:
            if invitation.state == "open":
                invitation_revoke(invitation=invitation)
                revoked += 1
        self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)


@admin.register(ImageSkip)
class ImageSkipAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "image", "skipped_at", "restored_at"]
    list_filter = ["skipped_at"]
    list_select_related = ["user", "image"]
    search_fields = ["user__username", "image__original_name"]
