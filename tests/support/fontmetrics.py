"""Advance widths read from a TrueType font file (the ``head``, ``hhea``, ``hmtx`` and ``cmap``
tables), to measure chart labels as a browser lays them out, without a font library."""

from __future__ import annotations

import struct
from pathlib import Path

DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


class FontMetrics:
    """The advance width of each character of a TrueType font (BMP, cmap format 4)."""

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        (count,) = struct.unpack_from(">H", data, 4)
        tables = {}
        for index in range(count):
            tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * index)
            tables[tag.decode("latin-1")] = (offset, length)
        (self.units_per_em,) = struct.unpack_from(">H", data, tables["head"][0] + 18)
        (metrics,) = struct.unpack_from(">H", data, tables["hhea"][0] + 34)
        hmtx = tables["hmtx"][0]
        self._advances = [struct.unpack_from(">H", data, hmtx + 4 * i)[0] for i in range(metrics)]
        self._glyphs = self._cmap(data, tables["cmap"][0])

    @staticmethod
    def _cmap(data: bytes, cmap: int) -> dict[int, int]:
        (count,) = struct.unpack_from(">H", data, cmap + 2)
        for index in range(count):
            platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * index)
            table = cmap + offset
            if (platform, encoding) == (3, 1) and struct.unpack_from(">H", data, table)[0] == 4:
                return _format4(data, table)
        raise ValueError("no Unicode BMP cmap (format 4)")

    def advance(self, char: str) -> float:
        """Return the advance width of *char* in em."""
        glyph = self._glyphs.get(ord(char), 0)
        width = self._advances[min(glyph, len(self._advances) - 1)]
        return width / self.units_per_em

    def width(self, text: str, font_px: float) -> float:
        """Return the width of *text* in pixels at *font_px* (no kerning)."""
        return sum(self.advance(char) for char in text) * font_px


def _format4(data: bytes, table: int) -> dict[int, int]:
    (segments_x2,) = struct.unpack_from(">H", data, table + 6)
    segments = segments_x2 // 2
    ends_at = table + 14
    starts_at = ends_at + segments_x2 + 2
    deltas_at = starts_at + segments_x2
    offsets_at = deltas_at + segments_x2
    glyphs: dict[int, int] = {}
    for segment in range(segments):
        (end,) = struct.unpack_from(">H", data, ends_at + 2 * segment)
        (start,) = struct.unpack_from(">H", data, starts_at + 2 * segment)
        (delta,) = struct.unpack_from(">h", data, deltas_at + 2 * segment)
        range_offset_at = offsets_at + 2 * segment
        (range_offset,) = struct.unpack_from(">H", data, range_offset_at)
        for code in range(start, min(end, 0xFFFE) + 1):
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = range_offset_at + range_offset + 2 * (code - start)
                (glyph,) = struct.unpack_from(">H", data, at)
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            glyphs[code] = glyph
    return glyphs
