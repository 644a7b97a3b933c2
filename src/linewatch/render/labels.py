"""Placing labels on a map without collisions: the boxes already taken, and where to try next."""

from __future__ import annotations

__all__ = ["PLACE_LABEL_SPOTS", "SITE_LABEL_SPOTS", "Box", "LabelBoxes", "Lims"]

#: A box in data units: (x0, y0, x1, y1).
Box = tuple[float, float, float, float]
#: A map's view limits in frame metres: (x0, x1, y0, y1).
Lims = tuple[float, float, float, float]

#: Where a protected site's name may go relative to its marker: (dx pt, dy pt, ha, va), in order.
SITE_LABEL_SPOTS = ((6, 3, "left", "bottom"), (6, -3, "left", "top"),
                    (-6, 3, "right", "bottom"), (-6, -3, "right", "top"))
#: Where a settlement's name may go relative to its dot: (dx pt, dy pt, ha, va), in order.
PLACE_LABEL_SPOTS = ((4, -2, "left", "top"), (4, 2, "left", "bottom"),
                     (-4, -2, "right", "top"), (-4, 2, "right", "bottom"))


class LabelBoxes:
    """Boxes already taken by text or symbols in data units, so that labels do not collide.

    Label sizes are estimated from the font size (DejaVu Sans averages about 0.6 em a
    character), which is close enough to keep labels apart without a draw pass.
    """

    def __init__(self, lims: Lims, axes_width_in: float) -> None:
        self.lims = lims
        self.pt = (lims[1] - lims[0]) / (axes_width_in * 72.0)  # data units per point
        self.boxes: list[Box] = []

    def box(self, x: float, y: float, text: str, fontsize: float, dx_pt: float, dy_pt: float,
            ha: str = "left", va: str = "bottom") -> Box:
        """The box of ``text`` at ``(x, y)`` offset by ``(dx_pt, dy_pt)``, aligned by ha/va."""
        w = (0.6 * fontsize * len(text) + 2) * self.pt
        h = 1.25 * fontsize * self.pt
        x0 = x + dx_pt * self.pt - {"left": 0.0, "center": w / 2.0, "right": w}[ha]
        y0 = y + dy_pt * self.pt - {"bottom": 0.0, "center": h / 2.0, "top": h}[va]
        return (x0, y0, x0 + w, y0 + h)

    def symbol(self, x: float, y: float, size_pt: float) -> Box:
        """The box of a marker ``size_pt`` across, centred on ``(x, y)``."""
        r = size_pt / 2.0 * self.pt
        return (x - r, y - r, x + r, y + r)

    def fits(self, b: Box) -> bool:
        """Whether ``b`` lies inside the view and overlaps no box taken."""
        x0, x1, y0, y1 = self.lims
        if b[0] < x0 or b[2] > x1 or b[1] < y0 or b[3] > y1:
            return False
        return not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]
                       for o in self.boxes)

    def take(self, b: Box) -> None:
        """Mark ``b`` as taken."""
        self.boxes.append(b)
