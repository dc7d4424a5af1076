//! Gradient-boosted trees: the same model bits on every device and thread count, predictions
//! on every device, early stopping, weights, sampling, importance and the XGBoost JSON format.
//! (xgboost itself is the oracle in `python/tests/test_gbdt.py`.)
mod common;

use common::gpu_devices;
use ember::gbdt::{train, Dataset, Features, Importance, Metric, Model, Objective, Params, PredictOptions};
use ember::prelude::*;

/// A seeded synthetic set: `rows x cols`, ~7% missing values, one feature with few distinct values
/// (so rows sit exactly on cut points), labels for `obj`.
fn synthetic(rows: usize, cols: usize, obj: Objective, seed: u64) -> Dataset {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let mut x = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let row: Vec<f32> = (0..cols).map(|_| next() * 4.0 - 2.0).collect();
        let score = 1.5 * row[0] - row[1] + 0.8 * row[2] * row[cols - 1] + (next() - 0.5);
        y.push(match obj {
            Objective::SquaredError => score,
            Objective::Logistic => (score > 0.0) as u8 as f32,
            Objective::Softprob(k) => ((score + 3.0).clamp(0.0, 5.999) / 6.0 * k as f32).floor(),
        });
        for (c, v) in row.into_iter().enumerate() {
            let v = if c == 3 { (v * 2.0).round() / 2.0 } else { v };
            x.push(if next() < 0.07 { f32::NAN } else { v });
        }
    }
    Dataset::new(Features::from_row_major(x, rows, cols).unwrap(), y).unwrap()
}

fn small_params(obj: Objective) -> Params {
    Params::new(obj).rounds(6).max_depth(4).max_bin(32)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn model_bits_do_not_depend_on_threads_or_device() {
    for obj in [Objective::SquaredError, Objective::Logistic, Objective::Softprob(3)] {
        let ds = synthetic(1500, 5, obj, 7);
        let mut p = small_params(obj);
        p.subsample = 0.8;
        p.colsample_bytree = 0.6;
        p.seed = 11;
        let ds = ds.clone().with_weights((0..1500).map(|i| 0.5 + (i % 3) as f32).collect()).unwrap();
        let one = in_pool(1, || train(&ds, None, &p, Device::Cpu).unwrap()).to_xgboost_json();
        let two = in_pool(2, || train(&ds, None, &p, Device::Cpu).unwrap()).to_xgboost_json();
        assert_eq!(one, two, "{obj:?}: 1 vs 2 threads");
        for d in gpu_devices() {
            let gpu = train(&ds, None, &p, d).unwrap().to_xgboost_json();
            assert_eq!(one, gpu, "{obj:?}: cpu vs {d}");
        }
    }
}

/// Past the CPU engine's sizes: 16K-row partition and leaf-add pieces (a node spans several),
/// 4096-row blocks of vectorised logistic gradients (AVX-512 or AVX2 where present), the root's
/// straight-through histogram in parallel parts. The GPU path (Sim in CI) shares none of that
/// code, so equal model bits check it.
#[test]
fn model_bits_agree_past_the_cpu_engines_piece_sizes() {
    // Depth 2: the last splits' nodes hold ~20K rows each (leaf adds in several pieces).
    for (obj, depth) in [(Objective::Logistic, 6), (Objective::Logistic, 2), (Objective::SquaredError, 6)] {
        let ds = synthetic(40_000, 6, obj, 31);
        let p = Params::new(obj).rounds(3).max_depth(depth).max_bin(256);
        let one = in_pool(1, || train(&ds, None, &p, Device::Cpu).unwrap()).to_xgboost_json();
        let two = in_pool(2, || train(&ds, None, &p, Device::Cpu).unwrap()).to_xgboost_json();
        assert_eq!(one, two, "{obj:?}, depth {depth}: 1 vs 2 threads");
        for d in gpu_devices() {
            let gpu = train(&ds, None, &p, d).unwrap().to_xgboost_json();
            assert_eq!(one, gpu, "{obj:?}, depth {depth}: cpu vs {d}");
        }
    }
}

#[test]
fn predictions_are_the_same_bits_on_every_device() {
    for obj in [Objective::Logistic, Objective::Softprob(4)] {
        let ds = synthetic(1200, 6, obj, 3);
        let model = train(&ds, None, &small_params(obj), Device::Cpu).unwrap();
        let test = synthetic(777, 6, obj, 99);
        let opts = PredictOptions { margin: true, ..Default::default() };
        let cpu = model.predict(test.features(), opts, Device::Cpu).unwrap();
        for d in gpu_devices() {
            let gpu = model.predict(test.features(), opts, d).unwrap();
            let same = cpu.iter().zip(gpu.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{obj:?}: margins differ on {d}");
        }
        // Probabilities: rows sum to one for softprob.
        let p = model.predict(test.features(), PredictOptions::default(), Device::Cpu).unwrap();
        if let Objective::Softprob(_) = obj {
            for row in p.rows() {
                assert!((row.sum() - 1.0).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn training_reduces_the_loss_and_learns_the_signal() {
    let ds = synthetic(4000, 6, Objective::Logistic, 5);
    let valid = synthetic(2000, 6, Objective::Logistic, 6);
    let mut p = Params::new(Objective::Logistic).rounds(30).max_depth(4);
    p.eval_metric = Some(Metric::Auc);
    let model = train(&ds, Some(&valid), &p, Device::Cpu).unwrap();
    let h = model.eval_history();
    assert_eq!(h.len(), 30);
    assert!(h[29] > 0.85 && h[29] > h[0], "auc {h:?}");
    // The features the label depends on carry the most gain.
    let gain = model.importance(Importance::TotalGain);
    let top = gain.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert!(top == "f0" || top == "f1", "{gain:?}");
    let weight = model.importance(Importance::Weight);
    let splits: f64 = weight.values().sum();
    let internal: usize = model.trees().iter().map(|t| (0..t.len()).filter(|n| !t.is_leaf(*n)).count()).sum();
    assert_eq!(splits as usize, internal);
}

#[test]
fn early_stopping_keeps_the_best_round_and_predicts_with_it() {
    let ds = synthetic(600, 4, Objective::SquaredError, 1);
    let valid = synthetic(300, 4, Objective::SquaredError, 2);
    let mut p = Params::new(Objective::SquaredError).rounds(200).max_depth(6).eta(0.8);
    p.min_child_weight = 0.0;
    p.early_stopping_rounds = Some(5);
    let model = train(&ds, Some(&valid), &p, Device::Cpu).unwrap();
    let best = model.best_iteration().expect("early stopping ran");
    let h = model.eval_history();
    assert!(model.rounds() < 200, "overfits quickly at eta 0.8, so it stops");
    assert_eq!(model.rounds(), best + 6, "stops 5 rounds after the best");
    let min = h.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(h[best], min);
    assert_eq!(model.best_score(), Some(min));
    let x = valid.features();
    let default = model.predict(x, PredictOptions::default(), Device::Cpu).unwrap();
    let upto =
        model.predict(x, PredictOptions { rounds: Some((0, best + 1)), ..Default::default() }, Device::Cpu).unwrap();
    let all = model
        .predict(x, PredictOptions { rounds: Some((0, model.rounds())), ..Default::default() }, Device::Cpu)
        .unwrap();
    assert_eq!(default, upto);
    assert_ne!(default, all);
    // Survives the JSON round trip.
    let again = Model::from_xgboost_json(&model.to_xgboost_json()).unwrap();
    assert_eq!(again.best_iteration(), Some(best));
    assert_eq!(again.eval_history(), h, "bit for bit");
}

#[test]
fn weights_act_like_repeated_rows() {
    // Weight 2 on a row = the row twice, when the cuts are the same (distinct values < max_bin).
    let x: Vec<f32> = (0..40).map(|i| (i % 10) as f32).collect();
    let y: Vec<f32> = (0..40).map(|i| ((i * 7) % 5) as f32).collect();
    let w: Vec<f32> = (0..40).map(|i| if i < 20 { 2.0 } else { 1.0 }).collect();
    let weighted =
        Dataset::new(Features::from_row_major(x.clone(), 40, 1).unwrap(), y.clone()).unwrap().with_weights(w).unwrap();
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.extend_from_slice(&x[..20]);
    y2.extend_from_slice(&y[..20]);
    let repeated = Dataset::new(Features::from_row_major(x2, 60, 1).unwrap(), y2).unwrap();
    let mut p = Params::new(Objective::SquaredError).rounds(3).max_depth(3);
    p.min_child_weight = 0.0;
    let a = train(&weighted, None, &p, Device::Cpu).unwrap();
    let b = train(&repeated, None, &p, Device::Cpu).unwrap();
    let probe = Features::from_row_major((0..10).map(|v| v as f32).collect(), 10, 1).unwrap();
    let pa = a.predict(&probe, PredictOptions::default(), Device::Cpu).unwrap();
    let pb = b.predict(&probe, PredictOptions::default(), Device::Cpu).unwrap();
    for (u, v) in pa.iter().zip(pb.iter()) {
        assert!((u - v).abs() < 1e-5, "{pa} vs {pb}");
    }
}

#[test]
fn missing_values_follow_the_learned_default_direction() {
    // Missing rows have the labels of the high values: the split sends missing right.
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..300 {
        let (v, label) = match i % 3 {
            0 => (1.0, 0.0),
            1 => (5.0, 10.0),
            _ => (f32::NAN, 10.0),
        };
        x.push(v);
        y.push(label);
    }
    let ds = Dataset::new(Features::from_row_major(x, 300, 1).unwrap(), y).unwrap();
    let model =
        train(&ds, None, &Params::new(Objective::SquaredError).rounds(1).max_depth(1).eta(1.0), Device::Cpu).unwrap();
    let t = &model.trees()[0];
    assert!(!t.is_leaf(0));
    assert_eq!(t.cond[0], 5.0, "x < 5 goes left");
    assert!(!t.default_left[0], "missing goes with the high values");
    let probe = Features::from_row_major(vec![f32::NAN, 1.0, 5.0], 3, 1).unwrap();
    let p = model.predict(&probe, PredictOptions::default(), Device::Cpu).unwrap();
    assert!((p[[0, 0]] - 10.0).abs() < 0.1 && (p[[1, 0]] - 0.0).abs() < 0.1 && (p[[2, 0]] - 10.0).abs() < 0.1, "{p}");
}

#[test]
fn leaf_only_trees_and_constant_labels() {
    let ds = Dataset::new(Features::from_row_major(vec![1.0, 2.0, 3.0, 4.0], 4, 1).unwrap(), vec![2.0; 4]).unwrap();
    let model = train(&ds, None, &Params::new(Objective::SquaredError).rounds(2), Device::Cpu).unwrap();
    assert!(model.trees().iter().all(|t| t.len() == 1), "nothing to split");
    assert_eq!(model.base_score(), &[2.0]);
    let again = Model::from_xgboost_json(&model.to_xgboost_json()).unwrap();
    assert_eq!(again, Model::from_xgboost_json(&again.to_xgboost_json()).unwrap());
    let p = again.predict(ds.features(), PredictOptions::default(), Device::Sim).unwrap();
    assert!(p.iter().all(|v| *v == 2.0));
}

#[test]
fn json_round_trip_keeps_every_node() {
    let ds = synthetic(800, 5, Objective::Softprob(3), 4);
    let model = train(&ds, None, &small_params(Objective::Softprob(3)), Device::Cpu).unwrap();
    let json = model.to_xgboost_json();
    let again = Model::from_xgboost_json(&json).unwrap();
    assert_eq!(again.trees(), model.trees());
    assert_eq!(again.to_xgboost_json(), json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let lp = &v["learner"]["learner_model_param"];
    assert_eq!(lp["base_score"], "5E-1", "a scalar string both xgboost 2 and 3 read");
    assert_eq!(lp["num_class"], "3");
    assert_eq!(v["learner"]["gradient_booster"]["model"]["tree_info"][1], 1);
}

fn xgb_model(base_score: &str, tree: &str) -> String {
    format!(
        r#"{{"learner":{{"attributes":{{}},"feature_names":[],"feature_types":[],
        "gradient_booster":{{"model":{{"gbtree_model_param":{{"num_parallel_tree":"1","num_trees":"1"}},
        "iteration_indptr":[0,1],"tree_info":[0],"trees":[{tree}]}},"name":"gbtree"}},
        "learner_model_param":{{"base_score":"{base_score}","boost_from_average":"1","num_class":"0","num_feature":"2","num_target":"1"}},
        "objective":{{"name":"binary:logistic","reg_loss_param":{{"scale_pos_weight":"1"}}}}}},"version":[3,0,0]}}"#
    )
}

const STUMP: &str = r#"{"base_weights":[0,-0.5,0.5],"categories":[],"categories_nodes":[],"categories_segments":[],
    "categories_sizes":[],"default_left":[true,false,false],"id":0,"left_children":[1,-1,-1],"loss_changes":[3,0,0],
    "parents":[2147483647,0,0],"right_children":[2,-1,-1],"split_conditions":[0.25,-0.5,0.5],"split_indices":[1,0,0],
    "split_type":[0,0,0],"sum_hessian":[10,5,5],"tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":"3","size_leaf_vector":"1"}}"#;

#[test]
fn imports_xgboost_2_and_3_base_scores_and_default_left() {
    for base in ["5E-1", "[5E-1]"] {
        let m = Model::from_xgboost_json(&xgb_model(base, STUMP)).unwrap();
        assert_eq!(m.base_score(), &[0.5]);
        assert_eq!(m.base_margin(0), 0.0);
        let x = Features::from_row_major(vec![0.0, f32::NAN, 0.0, 0.1, 0.0, 0.25], 3, 2).unwrap();
        let p = m.predict(&x, PredictOptions { margin: true, ..Default::default() }, Device::Cpu).unwrap();
        assert_eq!(p.column(0).to_vec(), vec![-0.5, -0.5, 0.5], "missing goes left; 0.25 is not < 0.25");
    }
}

#[test]
fn refuses_what_it_cannot_predict_exactly() {
    let cat = STUMP.replace(r#""split_type":[0,0,0]"#, r#""split_type":[1,0,0]"#);
    let e = Model::from_xgboost_json(&xgb_model("5E-1", &cat)).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)) && e.to_string().contains("categorical"), "{e}");
    let big = STUMP.replace(r#""split_indices":[1,0,0]"#, r#""split_indices":[4294967296,0,0]"#);
    let e = Model::from_xgboost_json(&xgb_model("5E-1", &big)).unwrap_err();
    assert!(e.to_string().contains("split index"), "{e}");
    let out_of_range = STUMP.replace(r#""split_indices":[1,0,0]"#, r#""split_indices":[7,0,0]"#);
    let e = Model::from_xgboost_json(&xgb_model("5E-1", &out_of_range)).unwrap_err();
    assert!(e.to_string().contains("feature 7 of 2"), "{e}");
    let cycle = STUMP.replace(r#""left_children":[1,-1,-1]"#, r#""left_children":[0,-1,-1]"#);
    assert!(Model::from_xgboost_json(&xgb_model("5E-1", &cycle)).is_err());
    let dart = xgb_model("5E-1", STUMP).replace(r#""name":"gbtree""#, r#""name":"dart""#);
    assert!(matches!(Model::from_xgboost_json(&dart), Err(Error::Unsupported(_))));
    assert!(Model::from_xgboost_json("{").is_err());
    assert!(Model::from_xgboost_json("{}").unwrap_err().to_string().contains("learner"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = Features::from_row_major(vec![1.0, 2.0], 2, 1).unwrap();
    assert!(matches!(Dataset::new(x.clone(), vec![1.0]), Err(Error::LengthMismatch { .. })));
    assert!(Dataset::new(x.clone(), vec![1.0, f32::NAN]).unwrap_err().to_string().contains("row 1"));
    let ds = Dataset::new(x.clone(), vec![0.0, 3.0]).unwrap();
    let e = train(&ds, None, &Params::new(Objective::Softprob(3)), Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("not a class"), "{e}");
    let e = train(&ds, None, &Params::new(Objective::Logistic).max_depth(40), Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("max_depth"), "{e}");
    let mut p = Params::new(Objective::SquaredError);
    p.early_stopping_rounds = Some(3);
    assert!(train(&ds, None, &p, Device::Cpu).unwrap_err().to_string().contains("eval set"));
    let model = train(&ds, None, &Params::new(Objective::SquaredError).rounds(1), Device::Cpu).unwrap();
    let wide = Features::from_row_major(vec![1.0, 2.0], 1, 2).unwrap();
    assert!(model.predict(&wide, PredictOptions::default(), Device::Cpu).unwrap_err().to_string().contains("features"));
}

#[test]
fn trains_from_a_frame_with_nulls() {
    use arrow::array::{Float64Array, Int32Array, RecordBatch};
    use std::sync::Arc;
    let n = 400;
    let a = Float64Array::from_iter((0..n).map(|i| if i % 17 == 0 { None } else { Some((i % 40) as f64) }));
    let b = Int32Array::from_iter_values((0..n).map(|i| i * 7 % 13));
    let y = Float64Array::from_iter_values((0..n).map(|i| if (i % 40) >= 20 { 1.0 } else { 0.0 }));
    let batch = RecordBatch::try_from_iter([("a", Arc::new(a) as _), ("b", Arc::new(b) as _), ("y", Arc::new(y) as _)])
        .unwrap();
    let df = DataFrame::from_record_batch(&batch).unwrap();
    for d in [Device::Cpu, Device::Sim] {
        let ds = Dataset::from_frame(&df.to(d).unwrap(), "y", None).unwrap();
        assert_eq!(ds.features().names(), &["a".to_string(), "b".to_string()]);
        // Row-major, nulls as NaN, integers cast.
        for (r, row) in ds.features().values().chunks(2).enumerate() {
            let a = if r % 17 == 0 { f32::NAN } else { (r % 40) as f32 };
            assert_eq!((row[0].to_bits(), row[1]), (a.to_bits(), (r * 7 % 13) as f32), "row {r}");
        }
        let model = train(&ds, None, &Params::new(Objective::Logistic).rounds(5), d).unwrap();
        let p = model.predict(ds.features(), PredictOptions::default(), d).unwrap();
        assert!(p[[1, 0]] < 0.3 && p[[25, 0]] > 0.7, "{}", p.slice(ndarray::s![..30, ..]));
    }
    let e = Dataset::from_frame(&df, "nope", None).unwrap_err();
    assert!(matches!(e, Error::ColumnNotFound { .. }), "{e}");
}

#[test]
fn gpu_tree_is_grown_on_the_device_with_one_read_back() {
    use ember::gbdt::train_in;
    use ember::gpu::{ExecContext, Gpu};
    let ds = synthetic(3000, 6, Objective::Logistic, 12);
    let depth = 6;
    let p = Params::new(Objective::Logistic).rounds(2).max_depth(depth).max_bin(16);
    let ctx = ExecContext::new(Gpu::sim().unwrap());
    let model = train_in(&ds, None, &p, Device::Sim, Some(&ctx)).unwrap();
    let t = ctx.trace();
    eprintln!("two depth-{depth} trees on Sim: {t}");
    // Per tree: gradients + quantise + (histogram + evaluate + partition) per level above the
    // last + the last level's evaluate + leaves; one read-back (the finished tree's nodes).
    // Logistic's gradient bounds are known, so its maxima are not read back.
    for tree in model.trees() {
        assert!(tree.len() > 2 * depth, "the tree grew to depth {depth}: {} nodes", tree.len());
    }
    let depth = depth as u64;
    assert_eq!(t.launches, 2 * (3 * depth + 4), "{t}");
    assert_eq!(t.syncs, 2, "{t}");
    let hist = t.kernels.iter().filter(|k| k.kernel.ends_with("gbdt_histogram")).count() as u64;
    assert_eq!(hist, 2 * depth, "root + one per level below it but the last");
}

/// The device's split search (`gbdt_evaluate`) against the host's (`Evaluator::best`) where they
/// could part: regularisation (alpha, lambda, gamma, min_child_weight), 256 bins (every thread's
/// bins and the missing slot), a duplicated feature (equal gains: the lower feature wins), a
/// constant feature (nothing to split), trees deeper than one histogram block's nodes, and more
/// rows than one histogram tile.
#[test]
fn device_split_search_matches_the_host_under_every_parameter() {
    let base = synthetic(9000, 5, Objective::Logistic, 21);
    let (rows, cols) = (base.rows(), 7);
    let src = base.to_ndarray();
    let mut x = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        x.extend(src.row(r).iter().copied());
        x.push(src[[r, 0]]); // a copy of feature 0
        x.push(1.0); // constant
    }
    let ds = Dataset::new(Features::from_row_major(x, rows, cols).unwrap(), base.labels().to_vec()).unwrap();
    let cases = [
        Params { alpha: 2.0, lambda: 0.5, ..Params::new(Objective::Logistic) },
        Params { gamma: 0.4, min_child_weight: 3.0, ..Params::new(Objective::Logistic) },
        Params { lambda: 0.0, min_child_weight: 0.0, ..Params::new(Objective::Logistic) },
    ];
    for (i, p) in cases.into_iter().enumerate() {
        let p = p.rounds(4).max_depth(7).max_bin(256).eta(0.5);
        let cpu = train(&ds, None, &p, Device::Cpu).unwrap();
        assert!(cpu.trees().iter().any(|t| t.len() > 40), "case {i}: deep trees");
        let used: std::collections::BTreeSet<u32> =
            cpu.trees().iter().flat_map(|t| (0..t.len()).filter(|n| !t.is_leaf(*n)).map(|n| t.feature[n])).collect();
        assert!(used.contains(&0) && !used.contains(&5), "case {i}: ties go to the lower feature: {used:?}");
        assert!(!used.contains(&6), "case {i}: the constant feature never splits");
        for d in gpu_devices() {
            let gpu = train(&ds, None, &p, d).unwrap();
            assert_eq!(cpu.to_xgboost_json(), gpu.to_xgboost_json(), "case {i}: cpu vs {d}");
        }
    }
}

/// Models trained by xgboost 2.1.4 (`tests/data/xgboost2/*.model.json`, with the inputs and the
/// margins xgboost predicted for them) predict the same margin bits in ember. xgboost 3.x's
/// models are checked live in `python/tests/test_gbdt.py`.
#[test]
fn xgboost_2_models_predict_the_same_margin_bits() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xgboost2");
    for kind in ["reg", "bin", "multi"] {
        let model = Model::from_xgboost_json(&std::fs::read_to_string(dir.join(format!("{kind}.model.json"))).unwrap())
            .unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{kind}.expected.json"))).unwrap()).unwrap();
        assert!(expected["xgboost"].as_str().unwrap().starts_with("2."));
        let rows = expected["x"].as_array().unwrap();
        let x: Vec<f32> = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().map_or(f32::NAN, |f| f as f32)))
            .collect();
        let x = Features::from_row_major(x, rows.len(), model.num_features()).unwrap();
        let want: Vec<f32> =
            expected["margins"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        for d in [Device::Cpu, Device::Sim] {
            let got = model.predict(&x, PredictOptions { margin: true, ..Default::default() }, d).unwrap();
            let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same && got.len() == want.len(), "{kind} on {d}");
        }
    }
}

#[test]
fn logistic_labels_must_be_probabilities() {
    let x = Features::from_row_major(vec![1.0, 2.0], 2, 1).unwrap();
    let ds = Dataset::new(x, vec![0.0, 2.0]).unwrap();
    let e = train(&ds, None, &Params::new(Objective::Logistic), Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("labels in [0, 1]"), "{e}");
}

/// Mutated model files (numbers changed, arrays cut, keys dropped) load or fail with an error,
/// never a panic; a mutated model that loads predicts without panicking.
#[test]
fn mutated_model_files_never_panic() {
    let ds = synthetic(400, 4, Objective::Softprob(3), 8);
    let text = train(&ds, None, &small_params(Objective::Softprob(3)), Device::Cpu).unwrap().to_xgboost_json();
    let x = synthetic(50, 4, Objective::Softprob(3), 9);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let bytes = text.as_bytes();
    let digits: Vec<usize> = (0..bytes.len()).filter(|i| bytes[*i].is_ascii_digit()).collect();
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..400 {
        let mut m = bytes.to_vec();
        for _ in 0..1 + rand(3) {
            match rand(4) {
                0 => {
                    let i = digits[rand(digits.len())];
                    m[i] = b"0123456789"[rand(10)];
                }
                1 => {
                    let i = digits[rand(digits.len())];
                    m.splice(i..i, b"-".iter().copied());
                }
                2 => {
                    let i = digits[rand(digits.len())];
                    m.splice(i..i, b"99999999999".iter().copied());
                }
                _ => {
                    // Drop one array element: "a,b" -> "a".
                    let commas: Vec<usize> = (0..m.len()).filter(|i| m[*i] == b',').collect();
                    let c = commas[rand(commas.len())];
                    let end = (c + 1..m.len()).find(|i| m[*i] == b',' || m[*i] == b']').unwrap_or(c + 1);
                    if m[end] == b']' {
                        m.drain(c..end);
                    }
                }
            }
        }
        let Ok(s) = String::from_utf8(m) else { continue };
        match Model::from_xgboost_json(&s) {
            Ok(model) => {
                loaded += 1;
                let _ = model.predict(x.features(), PredictOptions::default(), Device::Cpu);
                let _ = model.importance(Importance::Gain);
                let _ = model.to_xgboost_json();
            }
            Err(_) => refused += 1,
        }
    }
    eprintln!("mutated models: {loaded} loaded, {refused} refused");
    assert!(loaded > 30 && refused > 30, "loaded {loaded}, refused {refused}");
}

// One test per device (so the prepared GPU run's compute-sanitizer passes pick up the GBDT
// kernels: they run the tests named `cuda`).
test_device!(trains_and_predicts_the_cpu_model_bits, |d: Device| {
    for obj in [Objective::Logistic, Objective::Softprob(3)] {
        let ds = synthetic(2000, 5, obj, 13);
        let p = small_params(obj);
        let cpu = train(&ds, None, &p, Device::Cpu).unwrap();
        let dev = train(&ds, None, &p, d).unwrap();
        assert_eq!(cpu.to_xgboost_json(), dev.to_xgboost_json(), "{obj:?} on {d}");
        let opts = PredictOptions { margin: true, ..Default::default() };
        let a = cpu.predict(ds.features(), opts, Device::Cpu).unwrap();
        let b = dev.predict(ds.features(), opts, d).unwrap();
        assert!(a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits()), "{obj:?} on {d}");
    }
});
