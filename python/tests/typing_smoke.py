"""Checked by `mypy --strict` in CI (not run by pytest): the public API as a user types it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import ember as em
from ember import col, lit


def query(df: em.DataFrame) -> em.DataFrame:
    lf: em.LazyFrame = (
        df.lazy()
        .filter((col("x") > 1) & col("s").str.starts_with("a") & (col("d") >= lit(datetime.date(2020, 1, 1))))
        .with_columns((col("x") * 2).alias("x2"), em.when(col("x") > 2).then(lit("hi")).otherwise(lit("lo")).alias("w"))
        .group_by("s", maintain_order=True)
        .agg(col("x2").sum(), col("m").max().alias("mmax"))
        .sort("s", descending=True)
    )
    plan: str = lf.explain()
    assert plan
    return lf.collect()


def main() -> None:
    df = em.DataFrame({"x": [1, 2, 3], "s": ["a", "ab", None], "d": [datetime.date(2021, 1, 1)] * 3,
                       "m": [Decimal("1.5"), None, Decimal("2")]})
    out = query(df)
    shape: tuple[int, int] = out.shape
    names: list[str] = out.columns
    first: em.Series = out["s"]
    values: list[object] = first.to_list()
    joined = df.join(out, on="s", how="left")
    rows: int = joined.height
    dev: str = df.to_device("cpu").device
    print(shape, names, values, rows, dev, em.default_device())


if __name__ == "__main__":
    main()
