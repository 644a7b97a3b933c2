"""The maps' palette, drawing order and label halo, shared by every map of the package."""

from __future__ import annotations

import matplotlib.patheffects as path_effects

__all__ = [
    "BORDER", "GRATICULE", "HALO", "LAND", "LINE", "NO_DATA", "PARTY_COLORS", "POLYGON_ZONE_COLORS",
    "SEA", "SITE_COLORS", "TEXT", "Z_BORDER", "Z_BUFFER", "Z_DECOR", "Z_GRID", "Z_LABEL", "Z_LAND",
    "Z_LINE", "Z_PLACE", "Z_POINTS", "Z_POLY", "Z_REF", "Z_SITE",
]

SEA = "#dbe7ef"
LAND = "#f5f3ee"
NO_DATA = "#ebebeb"
BORDER = "#9a9a9a"
GRATICULE = "#c8ccd0"
LINE = "#1b1b1b"
TEXT = "#333333"
#: The two parties' colours: neutral hues with no political connotation, far apart for
#: colour-blind readers (blue / orange of the Okabe-Ito palette).
PARTY_COLORS = ("#0072b2", "#e69f00")
#: Colours for protected-site categories, assigned in order of the sorted category names
#: (Okabe-Ito and Tol's muted palette, skipping the party colours).
SITE_COLORS = ("#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#882255", "#117733", "#999933",
               "#44aa99")
POLYGON_ZONE_COLORS = ("#5a5a8a", "#7a4f2a", "#2f6b5e", "#8a3b5a")

#: Drawing order (matplotlib zorder), from the land at the bottom to the decorations on top.
Z_LAND, Z_GRID, Z_BORDER, Z_BUFFER, Z_POLY, Z_SITE = 1, 2, 3, 4, 5, 6
Z_REF, Z_LINE, Z_PLACE, Z_POINTS, Z_LABEL, Z_DECOR = 7, 8, 9, 10, 11, 12
#: A white halo that keeps text readable over the map.
HALO = [path_effects.withStroke(linewidth=2.5, foreground="white", alpha=0.85)]
