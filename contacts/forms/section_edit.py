"""One section of the contact edit form, for a quick edit from the contact's page.

The agent sees and posts one section's fields; every other value is filled in as the form was
opened (from its signed values), so the edit flow, its checks and its conflict handling see a
whole ContactEditForm, as from the full page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contacts.fields import Section, Values
from contacts.forms.contact_edit import ContactEditForm, FormSection
from contacts.models import Contact, CustomAttributeDefinition

# Posted with every section: what the form was opened on.
OPENING_NAMES = frozenset({"base_version", "base_values"})
CUSTOM_ROWS_PREFIX = "custom-"


class SectionEditForm(ContactEditForm):
    """The contact edit form with one section open to the agent."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        contact: Contact,
        section: Section,
        prefill: Values | None = None,
        definitions: list[CustomAttributeDefinition] | None = None,
    ):
        self.section = Section(section)
        if definitions is None:
            definitions = list(CustomAttributeDefinition.objects.all())
        if data is not None:
            data = _other_sections_as_opened(
                data, contact=contact, section=self.section, definitions=definitions
            )
        super().__init__(data, contact=contact, prefill=prefill, definitions=definitions)

    @property
    def open_section(self) -> FormSection:
        return next(s for s in self.sections if s.key == self.section)

    @property
    def section_names(self) -> frozenset[str]:
        return frozenset(bound.name for bound in self.open_section.fields)

    @property
    def other_errors(self) -> list[str]:
        """Errors on fields outside the open section (a value stored before a rule existed):
        fixed on the full form."""
        return [
            f"{self[name].label}: {message}"
            for name, messages in self.errors.items()
            if name in self.fields and name not in self.section_names | OPENING_NAMES
            for message in messages
        ]


def _other_sections_as_opened(
    data: Mapping[str, Any],
    *,
    contact: Contact,
    section: Section,
    definitions: list[CustomAttributeDefinition],
) -> dict[str, Any]:
    """The posted section's values, every other field as the posted form was opened."""
    posted = ContactEditForm(data, contact=contact, definitions=definitions)
    opened = ContactEditForm(contact=contact, prefill=posted.opened_values, definitions=definitions)
    names = {bound.name for s in opened.sections if s.key == section for bound in s.fields}

    def posted_here(name: str) -> bool:
        custom_row = section == Section.CUSTOM and name.startswith(CUSTOM_ROWS_PREFIX)
        return name in names or name in OPENING_NAMES or custom_row

    as_opened = opened.data_as_opened()
    merged = {name: value for name, value in as_opened.items() if not posted_here(name)}
    merged.update({name: data.get(name) for name in data if posted_here(name)})
    return merged
