//! Train gradient-boosted trees on your own table, save the model as XGBoost JSON, predict.
//!
//! ```text
//! cargo run --release --example gbdt -- --train FILE --label COL [--valid FILE]
//!     [--objective reg:squarederror|binary:logistic|multi:softprob] [--num-class K]
//!     [--rounds N] [--max-depth D] [--eta E] [--max-bin B] [--early-stopping N] [--metric M]
//!     [--device cpu|sim|cuda|cuda:N] --model-out model.json [--predict FILE --out preds.csv]
//! ```
//!
//! `--synthetic ROWS` (instead of `--train` / `--label`) trains on a seeded synthetic binary set
//! of 28 features with 5% missing values, 80% train / 20% validation (the benchmark set of
//! `docs/perf.md`, generated in Rust so a machine without Python can run it).
//!
//! Files are Parquet or CSV (by extension). Every column but the label is a feature (numeric or
//! boolean; nulls are missing values). With `--valid` it prints the eval metric per round. The
//! model loads in xgboost (`xgboost.Booster(model_file="model.json")`).
use ember::gbdt::{train, Dataset, Features, Importance, Metric, Objective, Params, PredictOptions};
use ember::prelude::*;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    train: Option<String>,
    label: String,
    synthetic: Option<usize>,
    valid: Option<String>,
    params: Params,
    device: Option<Device>,
    model_out: String,
    predict: Option<(String, String)>,
}

fn parse_args() -> Result<Args> {
    let bad = |m: String| Error::InvalidArgument(m);
    let (mut train, mut label, mut valid, mut model_out, mut predict, mut out) = (None, None, None, None, None, None);
    let mut synthetic = None;
    let (mut objective, mut num_class) = ("binary:logistic".to_string(), None);
    let mut device = None;
    let mut set: Vec<(String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| bad(format!("{a} needs a value")));
        match a.as_str() {
            "--train" => train = Some(value()?),
            "--synthetic" => synthetic = Some(value()?.parse().map_err(|_| bad("--synthetic ROWS".into()))?),
            "--label" => label = Some(value()?),
            "--valid" => valid = Some(value()?),
            "--objective" => objective = value()?,
            "--num-class" => num_class = Some(value()?.parse().map_err(|_| bad("--num-class".into()))?),
            "--device" => device = Some(value()?.parse()?),
            "--model-out" => model_out = Some(value()?),
            "--predict" => predict = Some(value()?),
            "--out" => out = Some(value()?),
            "--rounds" | "--max-depth" | "--eta" | "--max-bin" | "--early-stopping" | "--metric" | "--subsample"
            | "--colsample" | "--lambda" | "--seed" => {
                let v = value()?;
                set.push((a.clone(), v));
            }
            "-h" | "--help" => {
                println!("usage: gbdt --train FILE --label COL [--valid FILE] [--objective O] [--num-class K] [--rounds N] [--max-depth D] [--eta E] [--max-bin B] [--early-stopping N] [--metric M] [--device D] --model-out model.json [--predict FILE --out preds.csv]");
                std::process::exit(0);
            }
            other => return Err(bad(format!("unknown argument {other:?}"))),
        }
    }
    let mut params = Params::new(Objective::parse(&objective, num_class)?);
    params.verbose = true;
    for (k, v) in set {
        let num = |v: &str| v.parse::<f64>().map_err(|_| bad(format!("{k} {v:?} is not a number")));
        match k.as_str() {
            "--rounds" => params.rounds = num(&v)? as usize,
            "--max-depth" => params.max_depth = num(&v)? as usize,
            "--eta" => params.eta = num(&v)?,
            "--max-bin" => params.max_bin = num(&v)? as usize,
            "--early-stopping" => params.early_stopping_rounds = Some(num(&v)? as usize),
            "--metric" => params.eval_metric = Some(Metric::parse(&v)?),
            "--subsample" => params.subsample = num(&v)?,
            "--colsample" => params.colsample_bytree = num(&v)?,
            "--lambda" => params.lambda = num(&v)?,
            "--seed" => params.seed = num(&v)? as u64,
            _ => unreachable!("listed above"),
        }
    }
    let need = |o: Option<String>, what: &str| o.ok_or_else(|| bad(format!("{what} is required (see --help)")));
    let predict = match (predict, out) {
        (Some(p), Some(o)) => Some((p, o)),
        (None, None) => None,
        _ => return Err(bad("--predict and --out go together".into())),
    };
    Ok(Args {
        label: if synthetic.is_some() { label.unwrap_or_default() } else { need(label, "--label")? },
        train: if synthetic.is_some() { train } else { Some(need(train, "--train")?) },
        synthetic,
        valid,
        params,
        device,
        model_out: need(model_out, "--model-out")?,
        predict,
    })
}

fn read(path: &str) -> Result<DataFrame> {
    match ember::io::FileFormat::from_path(path)? {
        ember::io::FileFormat::Csv => read_csv(path, &CsvReadOptions::default()),
        _ => read_parquet(path, &ParquetReadOptions::default()),
    }
}

fn run() -> Result<()> {
    let a = parse_args()?;
    let device = match a.device {
        Some(d) => d,
        None => Device::detect()?.0,
    };
    let t = Instant::now();
    let (train_set, valid) = match (a.synthetic, &a.train) {
        (Some(rows), _) => {
            let n_train = rows * 4 / 5;
            (Dataset::synthetic_binary(n_train, 42), Some(Dataset::synthetic_binary(rows - n_train, 43)))
        }
        (None, Some(path)) => (
            Dataset::from_frame(&read(path)?, &a.label, None)?,
            a.valid.as_deref().map(|v| Dataset::from_frame(&read(v)?, &a.label, None)).transpose()?,
        ),
        (None, None) => unreachable!("parse_args requires one"),
    };
    eprintln!(
        "read {} training rows x {} features in {:.2?}",
        train_set.rows(),
        train_set.features().cols(),
        t.elapsed()
    );
    let t = Instant::now();
    let model = train(&train_set, valid.as_ref(), &a.params, device)?;
    eprintln!("trained {} rounds on {device} in {:.2?}", model.rounds(), t.elapsed());
    if let (Some(b), Some(s)) = (model.best_iteration(), model.best_score()) {
        eprintln!("best iteration {b}: {s:.6}");
    }
    std::fs::write(&a.model_out, model.to_xgboost_json())
        .map_err(|e| Error::Io { path: a.model_out.clone(), source: e })?;
    println!("model: {}", a.model_out);
    let mut gain: Vec<(String, f64)> = model.importance(Importance::Gain).into_iter().collect();
    gain.sort_by(|x, y| y.1.total_cmp(&x.1));
    for (name, g) in gain.iter().take(10) {
        println!("  gain {g:>12.4}  {name}");
    }
    if let Some((input, out)) = a.predict {
        let df = read(&input)?;
        let names: Vec<&str> = model.feature_names().iter().map(String::as_str).collect();
        let x = Features::from_batch(&df.to_record_batch()?, &names)?;
        let t = Instant::now();
        let p = model.predict(&x, PredictOptions::default(), device)?;
        eprintln!("predicted {} rows on {device} in {:.2?}", x.rows(), t.elapsed());
        let mut text = (0..p.ncols()).map(|c| format!("p{c}")).collect::<Vec<_>>().join(",") + "\n";
        for row in p.rows() {
            text += &row.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",");
            text.push('\n');
        }
        std::fs::write(&out, text).map_err(|e| Error::Io { path: out.clone(), source: e })?;
        println!("predictions: {out} ({} rows)", p.nrows());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
