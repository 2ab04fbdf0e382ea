"""Template filters for drawing label classes in their colours."""

from django import template

register = template.Library()


@register.filter
def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on the #rrggbb background (WCAG luminance)."""
    try:
        red, green, blue = (int(background.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except (ValueError, AttributeError):
        return "#fff"

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    # The luminance where black and white text have equal contrast.
    return "#000" if luminance > 0.179 else "#fff"
