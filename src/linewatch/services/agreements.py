"""Agreements as the services use them: read from a file once, recorded in the store once.

A :class:`LoadedAgreement` is the parsed agreement with its text and SHA-256, so that every
verdict can name the exact version it was judged against. :func:`load_agreement_file` reads and
parses; :func:`agreement_for` also records the agreement in the store (once per version: the
store keys it by the text's SHA-256), or takes the one the store used last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from linewatch.agreement import Agreement, SiteC, parse_agreement
from linewatch.errors import InputError, NotFound
from linewatch.store import Store

__all__ = ["LoadedAgreement", "agreement_for", "load_agreement_file", "site_resolver"]


@dataclass(frozen=True)
class LoadedAgreement:
    agreement: Agreement
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def record(self, store: Store) -> None:
        """Store the agreement's text (a version already stored is left as it is)."""
        store.put_agreement(self.sha256, self.agreement.id, self.agreement.version, self.name, self.text)


def load_agreement_file(path: str | Path) -> LoadedAgreement:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the agreement: {exc.strerror}") from exc
    return LoadedAgreement(parse_agreement(text, name=str(path)), str(path), text)


def agreement_for(store: Store, path: str | Path | None) -> LoadedAgreement:
    """The agreement named on the command line (recorded in the store), else the one the
    store used last."""
    if path is not None:
        loaded = load_agreement_file(path)
        loaded.record(store)
        return loaded
    latest = store.latest_agreement()
    if latest is None:
        raise NotFound("agreement", "(none stored yet: pass --agreement FILE)")
    name, text = latest
    return LoadedAgreement(parse_agreement(text, name=name), name, text)


def site_resolver(store: Store):
    """Site id -> (lon, lat, radius_m, category) in the agreement the store used last."""
    latest = store.latest_agreement()
    if latest is None:
        return None
    ag = parse_agreement(latest[1], name=latest[0])

    def resolve(site_id: str) -> tuple[float, float, float, str]:
        zone = ag.zones.get(site_id)
        if not isinstance(zone, SiteC):
            raise NotFound("site", site_id)
        c = zone.geometry.centroid
        extra = 0.0 if zone.point is not None else float(
            (ag.frame.project_geometry(zone.geometry).area / 3.141592653589793) ** 0.5)
        return float(c.x), float(c.y), zone.radius_m + extra, zone.category
    return resolve
