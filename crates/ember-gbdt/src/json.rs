//! XGBoost's JSON model format: export that xgboost 2.x and 3.x load, import of their
//! numeric-split `gbtree` models.
//!
//! Written by hand on `serde_json::Value` (no crate models xgboost's schema). The export writes
//! what both versions read: a scalar `base_score` string (`"5E-1"`), `size_leaf_vector` "1",
//! empty category arrays (the format's room for categorical splits, which ember does not
//! train), `iteration_indptr` and `tree_info`. The import accepts `base_score` as `"x"`, `"[x]"`
//! or a per-class vector `"[a,b,c]"` (xgboost 3's multiclass intercepts), and refuses with a clear
//! error what it cannot predict exactly: categorical splits, `dart` / `gblinear`, forests
//! (`num_parallel_tree > 1`), multi-target trees, other objectives.
use crate::model::Model;
use crate::params::Objective;
use crate::tree::Tree;
use ember_core::{Error, Result};
use serde_json::{json, Map, Value};

fn floats(v: &[f32]) -> Value {
    Value::Array(v.iter().map(|x| json!(*x as f64)).collect())
}

fn tree_json(t: &Tree, id: usize, num_features: usize) -> Value {
    let n = t.len();
    json!({
        "base_weights": floats(&t.base_weight),
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": t.default_left.iter().map(|d| *d as u8).collect::<Vec<_>>(),
        "id": id,
        "left_children": t.left,
        "loss_changes": floats(&t.loss_change),
        "parents": t.parent,
        "right_children": t.right,
        "split_conditions": floats(&t.cond),
        "split_indices": t.feature,
        "split_type": vec![0u8; n],
        "sum_hessian": floats(&t.sum_hessian),
        "tree_param": {
            "num_deleted": "0",
            "num_feature": num_features.to_string(),
            "num_nodes": n.to_string(),
            "size_leaf_vector": "1"
        }
    })
}

/// xgboost's float spelling (`5E-1`): the shortest decimal that reads back as the same f32.
fn xgb_float(x: f32) -> String {
    format!("{x:E}")
}

impl Model {
    /// The model as XGBoost JSON (a string xgboost's `Booster.load_model` reads).
    pub fn to_xgboost_json(&self) -> String {
        let k = self.objective.groups();
        let objective = match self.objective {
            Objective::Softprob(c) => {
                json!({"name": "multi:softprob", "softmax_multiclass_param": {"num_class": c.to_string()}})
            }
            o => json!({"name": o.name(), "reg_loss_param": {"scale_pos_weight": "1"}}),
        };
        let base_score = if self.base_score.len() == 1 {
            xgb_float(self.base_score[0])
        } else {
            format!("[{}]", self.base_score.iter().map(|b| xgb_float(*b)).collect::<Vec<_>>().join(","))
        };
        let mut attributes = Map::new();
        if let Some(b) = self.best_iteration {
            attributes.insert("best_iteration".into(), json!(b.to_string()));
        }
        if let Some(s) = self.best_score {
            attributes.insert("best_score".into(), json!(s.to_string()));
        }
        if !self.eval_history.is_empty() {
            // Attributes are strings to xgboost (it keeps them and ignores this one); Rust's
            // shortest round-trip form brings the scores back bit for bit.
            let h: Vec<String> = self.eval_history.iter().map(f64::to_string).collect();
            attributes.insert("ember_eval_history".into(), json!(h.join(",")));
        }
        let rounds = self.rounds();
        let doc = json!({
            "learner": {
                "attributes": attributes,
                "feature_names": self.feature_names,
                "feature_types": vec!["float"; self.num_features],
                "gradient_booster": {
                    "model": {
                        "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": self.trees.len().to_string()},
                        "iteration_indptr": (0..=rounds).map(|r| r * k).collect::<Vec<_>>(),
                        "tree_info": self.tree_group,
                        "trees": self.trees.iter().enumerate().map(|(i, t)| tree_json(t, i, self.num_features)).collect::<Vec<_>>(),
                    },
                    "name": "gbtree"
                },
                "learner_model_param": {
                    "base_score": base_score,
                    "boost_from_average": "1",
                    "num_class": if k > 1 { k.to_string() } else { "0".to_string() },
                    "num_feature": self.num_features.to_string(),
                    "num_target": "1"
                },
                "objective": objective
            },
            "version": [2, 1, 0]
        });
        serde_json::to_string(&doc).expect("a JSON value serialises")
    }

    /// Reads an XGBoost JSON model (2.x or 3.x, `gbtree`, numeric splits).
    pub fn from_xgboost_json(text: &str) -> Result<Model> {
        let doc: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let learner = get(&doc, "learner")?;
        let params = get(learner, "learner_model_param")?;
        let num_features = str_usize(get(params, "num_feature")?, "num_feature")?;
        if num_features > MAX_FEATURES {
            return Err(bad(format!(
                "num_feature {num_features} (ember reads models of at most {MAX_FEATURES} features)"
            )));
        }
        let num_class = str_usize(get(params, "num_class")?, "num_class")?;
        if let Some(t) = params.get("num_target") {
            if str_usize(t, "num_target")? > 1 {
                return Err(Error::Unsupported("multi-target xgboost models".into()));
            }
        }
        let obj_name = get(get(learner, "objective")?, "name")?.as_str().ok_or_else(|| bad("objective name".into()))?;
        let objective = Objective::parse(obj_name, Some(num_class))?;
        let base_score = parse_base_score(get(params, "base_score")?)?;
        if base_score.len() != 1 && base_score.len() != objective.groups() {
            return Err(bad(format!("{} base scores for {} outputs", base_score.len(), objective.groups())));
        }
        let booster = get(learner, "gradient_booster")?;
        let name = get(booster, "name")?.as_str().unwrap_or("");
        if name != "gbtree" {
            return Err(Error::Unsupported(format!("xgboost booster {name:?} (only gbtree)")));
        }
        let model = get(booster, "model")?;
        let gp = get(model, "gbtree_model_param")?;
        if str_usize(get(gp, "num_parallel_tree")?, "num_parallel_tree")? != 1 {
            return Err(Error::Unsupported("xgboost forests (num_parallel_tree > 1)".into()));
        }
        let tree_values = get(model, "trees")?.as_array().ok_or_else(|| bad("trees is not a list".into()))?;
        let info = get(model, "tree_info")?.as_array().ok_or_else(|| bad("tree_info is not a list".into()))?;
        if info.len() != tree_values.len() {
            return Err(bad(format!("{} trees, {} tree_info entries", tree_values.len(), info.len())));
        }
        let k = objective.groups();
        let mut trees = Vec::with_capacity(tree_values.len());
        let mut tree_group = Vec::with_capacity(info.len());
        for (i, (t, g)) in tree_values.iter().zip(info).enumerate() {
            let g = g.as_u64().ok_or_else(|| bad(format!("tree_info[{i}]")))? as usize;
            if g >= k || g != i % k {
                return Err(bad(format!("tree {i} has group {g}; ember needs trees in round-robin group order")));
            }
            let tree = parse_tree(t, num_features).map_err(|e| match e {
                Error::InvalidArgument(m) => bad(format!("tree {i}: {m}")),
                other => other,
            })?;
            trees.push(tree);
            tree_group.push(g);
        }
        if trees.len() % k != 0 {
            return Err(bad(format!("{} trees is not a whole number of rounds of {k}", trees.len())));
        }
        let feature_names = match learner.get("feature_names").and_then(Value::as_array) {
            Some(names) if names.len() == num_features => {
                names.iter().map(|n| n.as_str().unwrap_or_default().to_string()).collect()
            }
            _ => (0..num_features).map(|i| format!("f{i}")).collect(),
        };
        let attrs = learner.get("attributes");
        let best_iteration = attrs
            .and_then(|a| a.get("best_iteration"))
            .and_then(Value::as_str)
            .map(|s| s.parse::<usize>().map_err(|_| bad(format!("best_iteration {s:?}"))))
            .transpose()?;
        let best_score = attrs.and_then(|a| a.get("best_score")).and_then(Value::as_str).and_then(|s| s.parse().ok());
        let eval_history = attrs
            .and_then(|a| a.get("ember_eval_history"))
            .and_then(Value::as_str)
            .map(|s| s.split(',').map(str::parse::<f64>).collect::<std::result::Result<Vec<_>, _>>())
            .transpose()
            .map_err(|e| bad(format!("ember_eval_history: {e}")))?
            .unwrap_or_default();
        Ok(Model {
            objective,
            base_score,
            trees,
            tree_group,
            num_features,
            feature_names,
            best_iteration: best_iteration.filter(|b| b * k < tree_values.len()),
            best_score,
            eval_history,
        })
    }
}

/// The widest model ember imports (names are kept per feature).
const MAX_FEATURES: usize = 1 << 26;

fn bad(m: String) -> Error {
    Error::InvalidArgument(format!("xgboost model: {m}"))
}

fn get<'a>(v: &'a Value, key: &str) -> Result<&'a Value> {
    v.get(key).ok_or_else(|| bad(format!("missing {key:?}")))
}

fn str_usize(v: &Value, what: &str) -> Result<usize> {
    match v {
        Value::String(s) => s.parse().map_err(|_| bad(format!("{what} {s:?}"))),
        Value::Number(n) => n.as_u64().map(|n| n as usize).ok_or_else(|| bad(format!("{what} {n}"))),
        _ => Err(bad(format!("{what} is not a number"))),
    }
}

/// `"5E-1"`, `"[5E-1]"` or `"[a,b,c]"`.
fn parse_base_score(v: &Value) -> Result<Vec<f32>> {
    let s = v.as_str().ok_or_else(|| bad("base_score is not a string".into()))?.trim();
    let inner = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(s);
    inner.split(',').map(|x| x.trim().parse::<f32>().map_err(|_| bad(format!("base_score {s:?}")))).collect()
}

fn nums<'a>(t: &'a Value, key: &str) -> Result<&'a Vec<Value>> {
    get(t, key)?.as_array().ok_or_else(|| Error::InvalidArgument(format!("{key} is not a list")))
}

fn f32s(t: &Value, key: &str) -> Result<Vec<f32>> {
    nums(t, key)?
        .iter()
        .map(|x| {
            x.as_f64().map(|f| f as f32).ok_or_else(|| Error::InvalidArgument(format!("{key}: {x} is not a number")))
        })
        .collect()
}

fn i64s(t: &Value, key: &str) -> Result<Vec<i64>> {
    nums(t, key)?
        .iter()
        .map(|x| match x {
            Value::Bool(b) => Some(*b as i64),
            _ => x.as_i64(),
        })
        .map(|x| x.ok_or_else(|| Error::InvalidArgument(format!("{key}: not an integer"))))
        .collect()
}

fn parse_tree(t: &Value, num_features: usize) -> Result<Tree> {
    let split_type = i64s(t, "split_type").unwrap_or_default();
    let has_categories = t.get("categories_nodes").and_then(Value::as_array).is_some_and(|c| !c.is_empty());
    if has_categories || split_type.iter().any(|s| *s != 0) {
        return Err(Error::Unsupported(
            "categorical splits in an xgboost model (ember reads numeric splits only)".into(),
        ));
    }
    if let Some(size) = t.get("tree_param").and_then(|p| p.get("size_leaf_vector")) {
        if str_usize(size, "size_leaf_vector")? > 1 {
            return Err(Error::Unsupported("vector leaves (multi-target trees)".into()));
        }
    }
    let to_i32 = |v: Vec<i64>, what: &str| -> Result<Vec<i32>> {
        v.into_iter()
            .map(|x| i32::try_from(x).map_err(|_| Error::InvalidArgument(format!("{what} {x} out of range"))))
            .collect()
    };
    let left = to_i32(i64s(t, "left_children")?, "left child")?;
    let n = left.len();
    let feature = i64s(t, "split_indices")?
        .into_iter()
        .map(|x| u32::try_from(x).map_err(|_| Error::InvalidArgument(format!("split index {x} out of range"))))
        .collect::<Result<Vec<u32>>>()?;
    let opt = |key: &str| -> Result<Vec<f32>> {
        if t.get(key).is_some() {
            f32s(t, key)
        } else {
            Ok(vec![0.0; n])
        }
    };
    let parent = match t.get("parents") {
        Some(_) => i64s(t, "parents")?.into_iter().map(|p| p.clamp(i32::MIN as i64, i32::MAX as i64) as i32).collect(),
        None => vec![i32::MAX; n],
    };
    let mut tree = Tree {
        left,
        right: to_i32(i64s(t, "right_children")?, "right child")?,
        parent,
        feature,
        cond: f32s(t, "split_conditions")?,
        default_left: i64s(t, "default_left")?.into_iter().map(|d| d != 0).collect(),
        loss_change: opt("loss_changes")?,
        sum_hessian: opt("sum_hessian")?,
        base_weight: opt("base_weights")?,
    };
    for i in 0..n {
        if tree.left.get(i).is_some_and(|l| *l < 0) && tree.feature.get(i).is_some() {
            tree.feature[i] = 0; // a leaf's split index means nothing
        }
    }
    tree.validate(num_features).map_err(Error::InvalidArgument)?;
    Ok(tree)
}
