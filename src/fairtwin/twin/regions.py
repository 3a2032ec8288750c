"""Facts about the 21 Italian regions and autonomous provinces.

Capital coordinates, ISTAT population and the approximate number of intensive-care beds before
the pandemic (public Ministry of Health figures as reported in early 2020) are shipped as
``twin/data/regions.csv``. Codes follow the Civil Protection data (Bolzano 21, Trento 22).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

__all__ = ["RegionTable", "italian_regions", "great_circle_km"]

EARTH_RADIUS_KM = 6371.0088


def great_circle_km(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Great-circle (haversine) distances between all pairs of points.

    Parameters
    ----------
    lat, lon : ndarray of shape (n,)
        Coordinates in degrees.

    Returns
    -------
    ndarray of shape (n, n)
        Distances in kilometres, zero on the diagonal.
    """
    phi = np.radians(lat)[:, None]
    lam = np.radians(lon)[:, None]
    dphi = phi - phi.T
    dlam = lam - lam.T
    a = np.sin(dphi / 2) ** 2 + np.cos(phi) * np.cos(phi.T) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True, eq=False)
class RegionTable:
    """Static facts of the regions of a twin, in a fixed order.

    Attributes
    ----------
    codes : ndarray of shape (n_regions,)
        Civil Protection region codes.
    names, abbreviations : tuple of str
    lat, lon : ndarray of shape (n_regions,)
        Coordinates of the regional capital, degrees.
    population : ndarray of shape (n_regions,)
    icu_beds : ndarray of shape (n_regions,)
        Approximate intensive-care beds before the pandemic (the base capacity).
    """

    codes: NDArray[np.int64]
    names: tuple[str, ...]
    abbreviations: tuple[str, ...]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    population: NDArray[np.int64]
    icu_beds: NDArray[np.int64]

    @property
    def n_regions(self) -> int:
        return len(self.names)

    @property
    def distance_km(self) -> NDArray[np.float64]:
        """Great-circle distances between the capitals, shape (n_regions, n_regions)."""
        return great_circle_km(self.lat, self.lon)

    def index_of_code(self, code: int) -> int:
        """Position of a Civil Protection code; ``KeyError`` when unknown."""
        hits = np.flatnonzero(self.codes == code)
        if hits.size == 0:
            raise KeyError(code)
        return int(hits[0])


@cache
def italian_regions() -> RegionTable:
    """The 21 Italian regions and autonomous provinces, in Civil Protection code order."""
    text = resources.files("fairtwin.twin").joinpath("data/regions.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    rows.sort(key=lambda r: int(r["codice_regione"]))
    return RegionTable(
        codes=np.array([int(r["codice_regione"]) for r in rows]),
        names=tuple(r["denominazione_regione"] for r in rows),
        abbreviations=tuple(r["sigla"] for r in rows),
        lat=np.array([float(r["lat"]) for r in rows]),
        lon=np.array([float(r["lon"]) for r in rows]),
        population=np.array([int(r["population"]) for r in rows]),
        icu_beds=np.array([int(r["icu_beds_2020_approx"]) for r in rows]),
    )
