"""Rendering: maps (:mod:`linewatch.render.maps`) and other views of the mission's data.

Shell modules; import the submodule you need (``from linewatch.render.maps import
agreement_figure``) so that matplotlib is loaded only when a map is drawn.
"""
