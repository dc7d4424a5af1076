//! Data-parallel GBDT training (`train_distributed`): shards trained by threads that reduce
//! through an in-process collective grow byte-identical models to one process on all rows —
//! every objective, sampled rows and features, weights, missing values, a shard with no rows —
//! and cuts merged from per-shard sketches equal the cuts of all rows.
use ember::gbdt::{train, train_distributed, Collective, Cuts, Dataset, Features, Metric, Objective, Params, Sketch};
use ember::prelude::*;
use std::sync::{Condvar, Mutex, MutexGuard};

/// `n` threads' allreduce: each rank posts its buffer, then every rank combines all of them in
/// rank order (so f64 sums are the same on every rank). A rank that waits more than a minute
/// for the others panics: ranks that disagree on the calls fail the test instead of hanging it.
struct Threads {
    n: usize,
    state: Mutex<Round>,
    turn: Condvar,
    rank_of: Mutex<std::collections::HashMap<std::thread::ThreadId, usize>>,
}

#[derive(Default)]
struct Round {
    posted: Vec<Option<Box<dyn std::any::Any + Send>>>,
    /// Ranks that posted this round; then ranks that have read the result.
    arrived: usize,
    read: usize,
    generation: u64,
}

impl Threads {
    fn new(n: usize) -> Threads {
        let round = Round { posted: (0..n).map(|_| None).collect(), ..Default::default() };
        Threads { n, state: Mutex::new(round), turn: Condvar::new(), rank_of: Mutex::new(Default::default()) }
    }

    fn register(&self, rank: usize) {
        self.rank_of.lock().unwrap().insert(std::thread::current().id(), rank);
    }

    fn wait<'a>(&self, mut g: MutexGuard<'a, Round>, done: impl Fn(&Round) -> bool) -> MutexGuard<'a, Round> {
        while !done(&g) {
            let (next, timeout) = self.turn.wait_timeout(g, std::time::Duration::from_secs(60)).unwrap();
            assert!(!timeout.timed_out() || done(&next), "a rank waited a minute for the others");
            g = next;
        }
        g
    }

    fn reduce<T: Copy + Send + 'static>(&self, values: &mut [T], op: impl Fn(T, T) -> T) {
        let rank = self.rank_of.lock().unwrap()[&std::thread::current().id()];
        let mut g = self.state.lock().unwrap();
        // The previous round is over once every rank has read it.
        g = self.wait(g, |r| r.arrived < self.n);
        let generation = g.generation;
        g.posted[rank] = Some(Box::new(values.to_vec()));
        g.arrived += 1;
        self.turn.notify_all();
        g = self.wait(g, |r| r.arrived == self.n && r.generation == generation);
        let of = |p: &Option<Box<dyn std::any::Any + Send>>| {
            p.as_ref().unwrap().downcast_ref::<Vec<T>>().expect("every rank reduces the same type").clone()
        };
        let mut acc: Vec<T> = of(&g.posted[0]);
        for p in &g.posted[1..] {
            let other: Vec<T> = of(p);
            assert_eq!(other.len(), acc.len(), "ranks reduced buffers of different lengths");
            acc.iter_mut().zip(other).for_each(|(a, b)| *a = op(*a, b));
        }
        values.copy_from_slice(&acc);
        g.read += 1;
        if g.read == self.n {
            g.read = 0;
            g.arrived = 0;
            g.generation += 1;
            g.posted.iter_mut().for_each(|p| *p = None);
            self.turn.notify_all();
        }
    }
}

impl Collective for Threads {
    fn sum_i64(&self, values: &mut [i64]) -> Result<()> {
        self.reduce(values, |a, b| a + b);
        Ok(())
    }
    fn sum_f64(&self, values: &mut [f64]) -> Result<()> {
        self.reduce(values, |a, b| a + b);
        Ok(())
    }
    fn max_f64(&self, values: &mut [f64]) -> Result<()> {
        self.reduce(values, f64::max);
        Ok(())
    }
}

/// Rows with ~7% missing values, a feature with few values, labels for `obj` on a 1/8 grid
/// (so label sums are exact in any order); weights when asked.
fn data(rows: usize, cols: usize, obj: Objective, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rows {
        let row: Vec<f32> = (0..cols).map(|_| next() * 4.0 - 2.0).collect();
        let score = 1.5 * row[0] - row[1] + 0.8 * row[2] * row[cols - 1] + (next() - 0.5);
        y.push(match obj {
            Objective::SquaredError => (score * 8.0).round() / 8.0,
            Objective::Logistic => (score > 0.0) as u8 as f32,
            Objective::Softprob(k) => ((score + 3.0).clamp(0.0, 5.999) / 6.0 * k as f32).floor(),
        });
        w.push(0.5 + (next() * 4.0).floor() / 4.0);
        for (c, v) in row.into_iter().enumerate() {
            let v = if c == 3 { (v * 2.0).round() / 2.0 } else { v };
            x.push(if next() < 0.07 { f32::NAN } else { v });
        }
    }
    (x, y, w)
}

fn dataset(x: &[f32], y: &[f32], w: Option<&[f32]>, cols: usize) -> Dataset {
    let ds = Dataset::new(Features::from_row_major(x.to_vec(), y.len(), cols).unwrap(), y.to_vec()).unwrap();
    match w {
        Some(w) => ds.with_weights(w.to_vec()).unwrap(),
        None => ds,
    }
}

/// Trains on `bounds` shards in threads, rank `r` on `devices[r]`; returns every rank's model JSON.
fn sharded(
    (x, y, w): (&[f32], &[f32], Option<&[f32]>),
    cols: usize,
    bounds: &[usize],
    devices: &[Device],
    params: &Params,
) -> Vec<String> {
    let n = bounds.len() - 1;
    let comm = Threads::new(n);
    let full = dataset(x, y, w, cols);
    let cuts = Cuts::compute(full.features(), params.value_bins());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|rank| {
                let (comm, cuts) = (&comm, &cuts);
                let (a, b, device) = (bounds[rank], bounds[rank + 1], devices[rank]);
                s.spawn(move || {
                    comm.register(rank);
                    let local = dataset(&x[a * cols..b * cols], &y[a..b], w.map(|w| &w[a..b]), cols);
                    train_distributed(&local, cuts, params, a as u64, None, comm, device).unwrap().to_xgboost_json()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn shards_grow_the_models_of_one_process_on_all_rows() {
    let cols = 6;
    let rows = 3000;
    let cases: Vec<(Objective, Params, bool)> = vec![
        (Objective::Logistic, Params::new(Objective::Logistic).rounds(8).max_depth(5).max_bin(64), false),
        (Objective::SquaredError, Params::new(Objective::SquaredError).rounds(40).max_depth(4).eta(0.5), true),
        (Objective::Softprob(3), Params::new(Objective::Softprob(3)).rounds(4).max_depth(3).max_bin(32), false),
        (
            Objective::Logistic,
            {
                let mut p = Params::new(Objective::Logistic).rounds(6).max_depth(4);
                p.subsample = 0.7;
                p.colsample_bytree = 0.6;
                p
            },
            true,
        ),
    ];
    for (obj, params, weighted) in cases {
        let (x, y, w) = data(rows, cols, obj, 7);
        let w = weighted.then_some(&w[..]);
        let want = train(&dataset(&x, &y, w, cols), None, &params, Device::Cpu).unwrap().to_xgboost_json();
        // Uneven shards, one of them empty; CPU engines, and the GPU path (Sim) beside them.
        let (cpu, sim) = (Device::Cpu, Device::Sim);
        for (bounds, devices) in [
            (vec![0, 1000, 2200, rows], [cpu; 3]),
            (vec![0, 0, 1777, rows], [cpu; 3]),
            (vec![0, 1000, 2200, rows], [sim, cpu, sim]),
            (vec![0, 0, 1777, rows], [sim, sim, cpu]),
        ] {
            let got = sharded((&x, &y, w), cols, &bounds, &devices, &params);
            for (rank, g) in got.iter().enumerate() {
                assert_eq!(g, &want, "{obj:?} weighted={weighted} shards {bounds:?} {devices:?} rank {rank}");
            }
        }
    }
}

/// Eval rows split over the processes (one of them holding none) give every process the
/// single-process eval history, best iteration and early stop, for each metric.
#[test]
fn a_split_eval_set_scores_and_stops_as_one_process() {
    let cols = 6;
    let cases = [
        (Objective::Logistic, Some(Metric::Auc), true),
        (Objective::Logistic, Some(Metric::LogLoss), false),
        (Objective::SquaredError, None, true),
        (Objective::Softprob(3), None, false),
    ];
    for (obj, metric, weighted) in cases {
        let (x, y, w) = data(2000, cols, obj, 11);
        let (vx, vy, vw) = data(900, cols, obj, 12);
        let w = weighted.then_some(&w[..]);
        let vw = weighted.then_some(&vw[..]);
        let mut params = Params::new(obj).rounds(40).max_depth(4).eta(0.5);
        params.eval_metric = metric;
        params.early_stopping_rounds = Some(3);
        let full = dataset(&x, &y, w, cols);
        let valid = dataset(&vx, &vy, vw, cols);
        let want = train(&full, Some(&valid), &params, Device::Cpu).unwrap();
        assert!(want.eval_history().len() >= 4, "{obj:?}: the case should train a few rounds");
        let cuts = Cuts::compute(full.features(), params.value_bins());
        let (bounds, vbounds) = ([0, 700, 2000], [0, 0, 900]);
        let comm = Threads::new(2);
        let got: Vec<ember::gbdt::Model> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|rank| {
                    let (comm, cuts, params) = (&comm, &cuts, &params);
                    let (x, y, vx, vy) = (&x, &y, &vx, &vy);
                    s.spawn(move || {
                        comm.register(rank);
                        let (a, b) = (bounds[rank], bounds[rank + 1]);
                        let (va, vb) = (vbounds[rank], vbounds[rank + 1]);
                        let local = dataset(&x[a * cols..b * cols], &y[a..b], w.map(|w| &w[a..b]), cols);
                        let eval = dataset(&vx[va * cols..vb * cols], &vy[va..vb], vw.map(|w| &w[va..vb]), cols);
                        train_distributed(&local, cuts, params, a as u64, Some((&eval, va as u64)), comm, Device::Cpu)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (rank, m) in got.iter().enumerate() {
            assert_eq!(m.eval_history(), want.eval_history(), "{obj:?} rank {rank}");
            assert_eq!(m.best_iteration(), want.best_iteration(), "{obj:?} rank {rank}");
            assert_eq!(m.to_xgboost_json(), want.to_xgboost_json(), "{obj:?} rank {rank}");
        }
    }
}

#[test]
fn cuts_from_shard_sketches_equal_the_cuts_of_all_rows() {
    let cols = 6;
    let (x, _, _) = data(5000, cols, Objective::Logistic, 3);
    let all = Features::from_row_major(x.clone(), 5000, cols).unwrap();
    let sketches: Vec<Sketch> = [(0, 2000), (2000, 5000)]
        .iter()
        .map(|&(a, b)| {
            Sketch::of(&Features::from_row_major(x[a * cols..b * cols].to_vec(), b - a, cols).unwrap(), 1 << 16)
        })
        .collect();
    assert_eq!(Cuts::from_sketches(&sketches, 255).unwrap(), Cuts::compute(&all, 255));
}

#[test]
fn cuts_for_other_features_are_an_error() {
    let (x, y, _) = data(100, 6, Objective::Logistic, 1);
    let ds = dataset(&x, &y, None, 6);
    let cuts = Cuts::from_lists(vec![vec![0.0]; 5]);
    let comm = Threads::new(1);
    comm.register(0);
    let err =
        train_distributed(&ds, &cuts, &Params::new(Objective::Logistic), 0, None, &comm, Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(ref m) if m.contains("cuts for 5 features")), "{err}");
}
