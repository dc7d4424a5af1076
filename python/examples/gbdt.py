"""Train gradient-boosted trees on a CSV or Parquet file of your own, from Python.

    python python/examples/gbdt.py train.parquet --label y [--valid valid.parquet]
        [--objective binary:logistic] [--rounds 200] [--eta 0.1] [--max-depth 6]
        [--early-stopping 20] [--device cpu|sim|cuda] [--model-out model.json]

Every column but the label is a feature (numeric or boolean; nulls are missing values). Prints
the eval metric per round when --valid is given, the training time and the most important
features; the model is XGBoost JSON (``xgboost.Booster(model_file=...)`` reads it).
"""

from __future__ import annotations

import argparse
import time

import ember as em


def read(path: str, device: str | None) -> em.DataFrame:
    return em.read_csv(path, device=device) if path.endswith(".csv") else em.read_parquet(path, device=device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", help="a .csv or .parquet file")
    ap.add_argument("--label", required=True)
    ap.add_argument("--valid", help="an evaluation file with the same columns")
    ap.add_argument("--objective", default="binary:logistic")
    ap.add_argument("--num-class", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--eta", type=float, default=0.3)
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--early-stopping", type=int, default=None)
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:N or sim (default: the best present)")
    ap.add_argument("--model-out", default="model.json")
    args = ap.parse_args()

    train = read(args.train, args.device)
    valid = read(args.valid, args.device) if args.valid else None
    start = time.perf_counter()
    model = em.gbdt.train(
        train,
        args.label,
        objective=args.objective,
        num_class=args.num_class,
        valid=valid,
        device=args.device,
        rounds=args.rounds,
        eta=args.eta,
        max_depth=args.max_depth,
        early_stopping_rounds=args.early_stopping,
        verbose=valid is not None,
    )
    print(f"trained {model.num_boosted_rounds()} rounds in {time.perf_counter() - start:.2f}s: {model}")
    if model.best_iteration is not None:
        print(f"best iteration {model.best_iteration}: {model.best_score:.6f}")
    gain = model.get_score("gain")
    for name in sorted(gain, key=lambda f: -gain[f])[:10]:
        print(f"  gain {gain[name]:>12.4f}  {name}")
    model.save_model(args.model_out)
    print(f"model: {args.model_out}")


if __name__ == "__main__":
    main()
