//! Training parameters, with xgboost's names and defaults.
use ember_core::{Error, Result};

/// What the trees learn. Each objective defines the gradient pair, the transform from margin to
/// prediction and the default base score; a new one adds a variant here and a case in
/// `objective.rs` (and in `kernels/gbdt.cu`'s `gbdt_gradients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// `reg:squarederror`: g = pred - y, h = 1.
    SquaredError,
    /// `binary:logistic`: p = sigmoid(margin), g = p - y, h = max(p (1 - p), 1e-16).
    Logistic,
    /// `multi:softprob` with this many classes: one tree per class per round, softmax over
    /// margins, g = p_k - [y = k], h = max(2 p_k (1 - p_k), 1e-16).
    Softprob(usize),
}

impl Objective {
    /// xgboost's name (`"binary:logistic"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Objective::SquaredError => "reg:squarederror",
            Objective::Logistic => "binary:logistic",
            Objective::Softprob(_) => "multi:softprob",
        }
    }

    /// Parses an xgboost name; `multi:softprob` needs `num_class`.
    pub fn parse(name: &str, num_class: Option<usize>) -> Result<Objective> {
        match name {
            "reg:squarederror" | "reg:linear" => Ok(Objective::SquaredError),
            "binary:logistic" => Ok(Objective::Logistic),
            "multi:softprob" => match num_class {
                Some(k) if k >= 2 => Ok(Objective::Softprob(k)),
                _ => Err(Error::InvalidArgument("multi:softprob needs num_class >= 2".into())),
            },
            other => Err(Error::Unsupported(format!(
                "objective {other:?} (supported: reg:squarederror, binary:logistic, multi:softprob)"
            ))),
        }
    }

    /// Outputs (margins) per row: the class count for softprob, else 1.
    pub fn groups(&self) -> usize {
        match self {
            Objective::Softprob(k) => *k,
            _ => 1,
        }
    }

    /// The metric early stopping watches by default (xgboost's).
    pub fn default_metric(&self) -> Metric {
        match self {
            Objective::SquaredError => Metric::Rmse,
            Objective::Logistic => Metric::LogLoss,
            Objective::Softprob(_) => Metric::MLogLoss,
        }
    }
}

/// Evaluation metrics (computed on the host from margins, in f64, in row order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Root mean squared error (weighted).
    Rmse,
    /// Binary log loss (weighted), probabilities clipped to [1e-16, 1 - 1e-16].
    LogLoss,
    /// Area under the ROC curve (weighted, ties averaged); higher is better.
    Auc,
    /// Multiclass log loss (weighted).
    MLogLoss,
}

impl Metric {
    /// xgboost's name.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Rmse => "rmse",
            Metric::LogLoss => "logloss",
            Metric::Auc => "auc",
            Metric::MLogLoss => "mlogloss",
        }
    }

    /// Parses an xgboost name.
    pub fn parse(name: &str) -> Result<Metric> {
        match name {
            "rmse" => Ok(Metric::Rmse),
            "logloss" => Ok(Metric::LogLoss),
            "auc" => Ok(Metric::Auc),
            "mlogloss" => Ok(Metric::MLogLoss),
            other => Err(Error::Unsupported(format!("metric {other:?} (supported: rmse, logloss, auc, mlogloss)"))),
        }
    }

    /// Whether a larger value is better.
    pub fn maximize(&self) -> bool {
        matches!(self, Metric::Auc)
    }
}

/// Hyper-parameters. Defaults are xgboost's (`max_depth` 6, `eta` 0.3, `lambda` 1, 256 bins).
///
/// ```
/// use ember_gbdt::{Objective, Params};
/// let p = Params::new(Objective::Logistic).max_depth(4).eta(0.1).rounds(50);
/// assert_eq!(p.max_depth, 4);
/// ```
#[derive(Debug, Clone)]
pub struct Params {
    /// What to learn.
    pub objective: Objective,
    /// Boosting rounds (trees per group).
    pub rounds: usize,
    /// Depth of each tree (depth-wise growth); at most [`Params::MAX_DEPTH`].
    pub max_depth: usize,
    /// Learning rate (shrinkage of each leaf).
    pub eta: f64,
    /// L2 regularisation on leaf weights.
    pub lambda: f64,
    /// L1 regularisation on leaf weights.
    pub alpha: f64,
    /// Minimum loss reduction to make a split (`min_split_loss`).
    pub gamma: f64,
    /// Minimum hessian sum in each child.
    pub min_child_weight: f64,
    /// Bins per feature, 2..=256. Code 255 of the u8 bin matrix marks a missing value, so a
    /// feature gets at most 255 value bins (`max_bin` 256 behaves as 255).
    pub max_bin: usize,
    /// Fraction of rows sampled per tree (seeded, the same on every device).
    pub subsample: f64,
    /// Fraction of features sampled per tree (seeded).
    pub colsample_bytree: f64,
    /// Intercept in prediction space; `None` takes the label mean (xgboost 3's default) for
    /// regression and logistic, 0.5 for softprob (a constant margin, which softmax ignores).
    pub base_score: Option<f64>,
    /// Seed of subsampling.
    pub seed: u64,
    /// Stop when the eval metric has not improved for this many rounds (needs an eval set).
    pub early_stopping_rounds: Option<usize>,
    /// The metric for evaluation and early stopping; `None` is the objective's default.
    pub eval_metric: Option<Metric>,
    /// Print the eval metric each round (to stderr).
    pub verbose: bool,
}

impl Params {
    /// The deepest tree supported (node ids are heap positions below 2^17).
    pub const MAX_DEPTH: usize = 16;

    /// xgboost's defaults for `objective`.
    pub fn new(objective: Objective) -> Params {
        Params {
            objective,
            rounds: 100,
            max_depth: 6,
            eta: 0.3,
            lambda: 1.0,
            alpha: 0.0,
            gamma: 0.0,
            min_child_weight: 1.0,
            max_bin: 256,
            subsample: 1.0,
            colsample_bytree: 1.0,
            base_score: None,
            seed: 0,
            early_stopping_rounds: None,
            eval_metric: None,
            verbose: false,
        }
    }

    /// Sets `rounds`.
    pub fn rounds(mut self, n: usize) -> Self {
        self.rounds = n;
        self
    }
    /// Sets `max_depth`.
    pub fn max_depth(mut self, d: usize) -> Self {
        self.max_depth = d;
        self
    }
    /// Sets `eta`.
    pub fn eta(mut self, eta: f64) -> Self {
        self.eta = eta;
        self
    }
    /// Sets `max_bin`.
    pub fn max_bin(mut self, b: usize) -> Self {
        self.max_bin = b;
        self
    }

    /// Value bins per feature after reserving the missing code.
    pub fn value_bins(&self) -> usize {
        self.max_bin.min(255)
    }

    /// Rejects values no tree can be trained with, naming the parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidArgument(what));
        if self.max_depth > Self::MAX_DEPTH {
            return bad(format!("max_depth {} (at most {})", self.max_depth, Self::MAX_DEPTH));
        }
        if !(2..=256).contains(&self.max_bin) {
            return bad(format!("max_bin {} (2..=256)", self.max_bin));
        }
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            return bad(format!("eta {} (must be > 0)", self.eta));
        }
        for (name, v) in [("lambda", self.lambda), ("alpha", self.alpha), ("gamma", self.gamma)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(format!("{name} {v} (must be >= 0)"));
            }
        }
        if self.min_child_weight.is_nan() || self.min_child_weight < 0.0 {
            return bad(format!("min_child_weight {} (must be >= 0)", self.min_child_weight));
        }
        for (name, v) in [("subsample", self.subsample), ("colsample_bytree", self.colsample_bytree)] {
            if !(v > 0.0 && v <= 1.0) {
                return bad(format!("{name} {v} (must be in (0, 1])"));
            }
        }
        if let Some(b) = self.base_score {
            let ok = match self.objective {
                Objective::Logistic => b > 0.0 && b < 1.0,
                _ => b.is_finite(),
            };
            if !ok {
                return bad(format!("base_score {b} for {}", self.objective.name()));
            }
        }
        Ok(())
    }
}
