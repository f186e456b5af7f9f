"""The price file (`tools/unit_prices.toml`): unit prices, their date, and the assumptions the bench cannot
measure; and the Lambda memory of each function, from the Chalice config."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
PRICES_PATH = PROJECT_DIR / "tools" / "unit_prices.toml"
CHALICE_CONFIG = PROJECT_DIR / ".chalice" / "config.json"

# The Lambda functions Chalice deploys for app.py: every route runs in `api_handler`.
API_FUNCTION, ANALYZE_FUNCTION, EXPORT_FUNCTION = "api_handler", "analyze", "nightly_export"
FUNCTIONS = (API_FUNCTION, ANALYZE_FUNCTION, EXPORT_FUNCTION)


@dataclass(frozen=True)
class Price:
    """One row of the price table: `usd` buys `per` of `unit`."""

    id: str
    service: str
    item: str
    unit: str
    per: float
    usd: float
    source: str
    note: str = ""

    def cost(self, quantity: float) -> float:
        """USD for `quantity` of the unit."""
        return quantity / self.per * self.usd


@dataclass(frozen=True)
class Assumptions:
    """What the bench cannot measure (see unit_prices.toml for each one's meaning)."""

    items_per_month: int
    days_per_month: float
    stage: str
    retention_months: float
    standard_ia_after_months: float
    average_text_chars: float  # 0: as measured
    analyze_batch_fill: float  # 0: as measured
    lambda_full_vcpu_mb: float
    cold_start_share: Mapping[str, float]
    log_bytes_per_invocation: float
    xray_traced_share: float
    esm_pollers: int
    esm_wait_seconds: float
    call_latency_ms: Mapping[str, float]


@dataclass(frozen=True)
class PriceTable:
    """The price file: prices by id, their date and region, and the assumptions."""

    as_of: date
    region: str
    currency: str
    prices: Mapping[str, Price]
    assumptions: Assumptions
    path: Path | None = None


def load_prices(path: Path = PRICES_PATH) -> PriceTable:
    """Parse the price file (tomllib); a missing field or a duplicate id is an error."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    as_of = data["prices_as_of"]
    if not isinstance(as_of, date):
        raise ValueError(f"{path}: prices_as_of must be a TOML date (YYYY-MM-DD), not {as_of!r}")
    prices: dict[str, Price] = {}
    for row in data["price"]:
        price = Price(**row)
        if price.id in prices:
            raise ValueError(f"{path}: price id {price.id!r} appears twice")
        if price.usd < 0 or price.per <= 0:
            raise ValueError(f"{path}: price {price.id!r} needs usd ≥ 0 and per > 0")
        prices[price.id] = price
    given = data["assumptions"]
    assumptions = Assumptions(**given)
    missing = set(FUNCTIONS) - set(assumptions.cold_start_share)
    if missing:
        raise ValueError(f"{path}: cold_start_share lacks {', '.join(sorted(missing))}")
    return PriceTable(as_of, data["region"], data["currency"], prices, assumptions, path)


def lambda_memory_mb(stage: str, config_path: Path = CHALICE_CONFIG) -> dict[str, int]:
    """Memory (MB) of each function in a Chalice stage: the stage's default, then per-function overrides."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    stage_config = config["stages"][stage]
    default = int(stage_config.get("lambda_memory_size", config.get("lambda_memory_size", 128)))
    functions = stage_config.get("lambda_functions", {})
    return {name: int(functions.get(name, {}).get("lambda_memory_size", default)) for name in FUNCTIONS}
