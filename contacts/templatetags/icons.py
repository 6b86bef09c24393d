"""`{% icon "pencil" %}`: one Bootstrap Icon drawn from the sprite `contacts/icons.svg`.

The sprite holds only the icons the templates name, so a page fetches a few kilobytes instead of
the whole icon font. It is built by `scripts/icons_sprite.py`, which finds the names by reading
the templates: give the name as a quoted literal, and rebuild the sprite when adding one.
"""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()

SPRITE = "contacts/icons.svg"


@register.simple_tag
def icon(name: str, **attributes: str) -> str:
    """A decorative icon, hidden from assistive technology: the text beside it says the rest.
    `class="me-1"` adds classes (margins, sizes) to `bi`, which sizes it like the font did."""
    unknown = set(attributes) - {"class"}
    if unknown:
        raise template.TemplateSyntaxError(f"icon takes only class=, not {sorted(unknown)}")
    classes = " ".join(("bi", attributes.get("class", ""))).strip()
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        classes,
        static(SPRITE),
        name,
    )
