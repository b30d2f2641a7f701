"""The Teams app's two icons, drawn with Pillow: a colour icon (192x192, the mark on a solid background) and an
outline icon (32x32, the mark in white on transparent), the sizes and colours Teams requires."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

COLOR_SIZE, OUTLINE_SIZE = 192, 32
ACCENT = (0xB3, 0x26, 0x1E)
WHITE = (255, 255, 255)
# A shield (the mark of a security tool), in fractions of the icon's side: flat top, straight sides, a point below.
SHIELD = ((0.28, 0.2), (0.72, 0.2), (0.72, 0.52), (0.5, 0.8), (0.28, 0.52))


def _shield(size: int, zoom: float) -> list[tuple[float, float]]:
    """The shield on an icon of `size`, centred, `zoom` times larger: the colour icon keeps a margin round the
    mark, the outline icon (a 32-pixel glyph) fills its square."""
    scale = size * zoom
    offset = (size - scale) / 2
    return [(offset + x * scale, offset + y * scale) for x, y in SHIELD]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def color_icon() -> bytes:
    image = Image.new("RGBA", (COLOR_SIZE, COLOR_SIZE), (*ACCENT, 255))
    ImageDraw.Draw(image).polygon(_shield(COLOR_SIZE, 1.0), fill=(*WHITE, 255))
    return _png(image)


def outline_icon() -> bytes:
    """White on transparent only: no anti-aliasing, so every pixel is either the mark or nothing."""
    image = Image.new("RGBA", (OUTLINE_SIZE, OUTLINE_SIZE), (0, 0, 0, 0))
    ImageDraw.Draw(image).polygon(_shield(OUTLINE_SIZE, 1.35), fill=(*WHITE, 255))
    return _png(image)
