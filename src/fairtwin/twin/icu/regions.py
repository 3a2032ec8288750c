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

from fairtwin.exceptions import ValidationError

__all__ = ["RegionTable", "italian_regions", "synthetic_regions", "great_circle_km"]

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
    text = resources.files("fairtwin.twin.icu").joinpath("data/regions.csv").read_text("utf-8")
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


def synthetic_regions(n_regions: int, seed: int = 0) -> RegionTable:
    """``n_regions`` made-up regions for scale studies, from a seed.

    Capitals are spread uniformly over Italy's bounding box (lat 37–47°, lon 7–18.5°; a country
    of the same extent, whatever ``n_regions``), populations are log-normal around Italy's
    per-region median, and base ICU beds are 8.6 per 100,000 people (Italy's 2020 ratio) with a
    ±20 % spread. Codes are 1..n, names ``Region 1`` …, abbreviations ``R01`` ….
    """
    if n_regions < 2:
        raise ValidationError(f"a synthetic scenario needs at least 2 regions, got {n_regions}")
    rng = np.random.default_rng([seed, n_regions])
    population = np.round(np.exp(rng.normal(np.log(2.0e6) - np.log(n_regions / 21.0), 0.8,
                                            size=n_regions))).astype(np.int64)
    population = np.maximum(population, 50_000)
    beds = np.round(population * 8.6e-5 * rng.uniform(0.8, 1.2, size=n_regions))
    width = max(2, len(str(n_regions)))
    return RegionTable(
        codes=np.arange(1, n_regions + 1, dtype=np.int64),
        names=tuple(f"Region {i}" for i in range(1, n_regions + 1)),
        abbreviations=tuple(f"R{i:0{width}d}" for i in range(1, n_regions + 1)),
        lat=rng.uniform(37.0, 47.0, size=n_regions),
        lon=rng.uniform(7.0, 18.5, size=n_regions),
        population=population,
        icu_beds=np.maximum(beds, 5).astype(np.int64),
    )
