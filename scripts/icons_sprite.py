"""Rebuild the icon sprite `contacts/static/contacts/icons.svg` from the icons the templates use.

    cd /tmp && npm pack bootstrap-icons@1.13.2 && tar xzf bootstrap-icons-1.13.2.tgz
    .venv/bin/python scripts/icons_sprite.py /tmp/package

To add an icon: write `{% icon "name" %}` in a template (name as on icons.getbootstrap.com,
a quoted literal), run this with the unpacked bootstrap-icons package (the version in
contacts/static/vendor/README.txt), and commit the sprite. The sprite holds one <symbol> per
icon used and nothing else; the app never needs the network for it.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = (PROJECT_ROOT / "templates", PROJECT_ROOT / "contacts" / "templates")
SPRITE = PROJECT_ROOT / "contacts" / "static" / "contacts" / "icons.svg"
SVG = "http://www.w3.org/2000/svg"
NOTICE = (
    "<!-- Bootstrap Icons, MIT licence: vendor/bootstrap-icons/LICENSE."
    " Built by scripts/icons_sprite.py -->"
)
ICON_TAG = re.compile(r"{%\s*icon\s+(\S+)")
LITERAL_NAME = re.compile(r"""^(["'])([a-z0-9-]+)\1$""")


def icon_names_used() -> list[str]:
    """The icon names every template gives to {% icon %}, sorted; exits on a name that is not a
    quoted literal, which no scan could find."""
    names = set()
    for directory in TEMPLATE_DIRS:
        for path in sorted(directory.rglob("*.html")):
            for argument in ICON_TAG.findall(path.read_text(encoding="utf-8")):
                literal = LITERAL_NAME.match(argument)
                if literal is None:
                    raise SystemExit(f"{path}: {{% icon {argument} %}} needs a quoted name")
                names.add(literal.group(2))
    return sorted(names)


def symbol(package: Path, name: str) -> str:
    """One icon's SVG file as a <symbol id="name">: its viewBox and drawing, nothing else."""
    path = package / "icons" / f"{name}.svg"
    if not path.is_file():
        raise SystemExit(f"No icon named {name!r} in {package} (looked for {path})")
    ElementTree.register_namespace("", SVG)
    root = ElementTree.parse(path).getroot()
    for child in root:
        child.tail = None  # the file's indentation
    drawing = "".join(
        ElementTree.tostring(child, encoding="unicode").replace(f' xmlns="{SVG}"', "")
        for child in root
    )
    return f'<symbol id="{name}" viewBox="{root.get("viewBox")}">{drawing}</symbol>'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path, help="an unpacked bootstrap-icons npm package")
    package = parser.parse_args().package
    names = icon_names_used()
    symbols = "\n".join(symbol(package, name) for name in names)
    SPRITE.write_text(f'<svg xmlns="{SVG}">\n{NOTICE}\n{symbols}\n</svg>\n', encoding="utf-8")
    print(f"{SPRITE.relative_to(PROJECT_ROOT)}: {len(names)} icons", file=sys.stderr)
    print("\n".join(names))


if __name__ == "__main__":
    main()
